//! RNS-CKKS over the golden arithmetic of ola-arith, on a pluggable
//! [`Backend`] (CPU now, the accelerator later).
//!
//! Layers, one way (as Lattigo's `ring` → `core/rlwe` → `schemes/ckks`):
//! [`params`] and [`backend`] at the bottom; [`ring`] (RNS polynomials,
//! base conversion, rescale, automorphisms, sampling) uses only the
//! backend for arithmetic; [`keys`] and [`encryptor`] are the
//! scheme-agnostic RLWE layer; [`encoder`] and [`evaluator`] are CKKS.
//!
//! [`serialize`] gives every object a checked binary form.
//!
//! [`polynomial`] evaluates Chebyshev-basis polynomials by baby-step
//! giant-step on top of the evaluator only (it never touches the ring).
//!
//! [`simd`] picks the instruction set of the CPU backend's kernels at run
//! time (AVX-512, AVX2 or baseline; every choice gives the same bits).
//!
//! The device implementation of [`backend::Backend`] (accelerator jobs
//! through the firmware protocol) is `ola-offload`, with the CPU/device
//! bit-identity suite. Performance at N = 2^16: docs/BENCHMARKS.md.
// `unsafe` only in the expansion of `ola_arith::multiversion!` (through
// `simd`), which calls `#[target_feature]` kernels after a run-time
// feature check.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod backend;
pub mod ciphertext;
pub mod encoder;
pub mod encryptor;
pub mod error;
pub mod evaluator;
pub mod keys;
pub mod ntt;
pub mod params;
pub mod polynomial;
pub mod ring;
pub mod serialize;
pub mod simd;

pub use backend::{Backend, CpuBackend};
pub use ciphertext::{Ciphertext, Plaintext};
pub use encoder::{C64, Encoder};
pub use encryptor::{Decryptor, Encryptor};
pub use error::{Error, Result};
pub use evaluator::Evaluator;
pub use keys::{
    EvaluationKeys, GaloisKey, KeyGenerator, PublicKey, RelinKey, SecretKey, SwitchingKey,
};
pub use params::{Params, ParamsLiteral, presets};
pub use polynomial::{ChebyshevPoly, PolynomialEvaluator};
pub use ring::{Ring, RnsPoly};
pub use simd::Isa;

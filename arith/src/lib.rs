//! Golden-model arithmetic for the ola-fpga accelerator.
//!
//! Everything the accelerator computes is defined here first, in plain Rust,
//! in exactly the order and representation the hardware uses:
//!
//! * [`prime`]: NTT-friendly primes `q ≡ 1 (mod 2N)` of a given bit size and
//!   a deterministic Miller–Rabin test.
//! * [`modulus`]: a word-sized prime modulus with its Barrett constant and the
//!   Barrett reduction the hardware implements stage by stage.
//! * [`ntt`]: negacyclic NTT / INTT plans (canonical roots, bit-reversed
//!   twiddle tables), the fast in-place transforms, and the constant-geometry
//!   data flow the accelerator's engine follows stage by stage.
//! * [`roots`]: canonical roots and twiddle-table entries one at a time,
//!   without `alloc` (for firmware that loads twiddles from the primes).
//! * [`vector`]: the vector unit's pointwise operations.
//! * [`fast_ntt`]: the same transform as [`NttPlan`], bit for bit, with lazy
//!   vectorised butterflies ([`fast_ntt::LazyNtt`]), for software that runs
//!   NTTs at speed (the CPU CKKS backend, the simulator's fast path).
//! * [`simd`]: the instruction set such kernels are compiled for, chosen at
//!   run time ([`simd::Isa`], [`multiversion!`]).
//! * [`reference`]: slow, obviously-correct oracles used by tests here and in
//!   the crates above (schoolbook negacyclic product, naive DFT).
//!
//! The crate is `no_std`; the table-building parts need `alloc`, and
//! run-time CPU feature detection needs `std`.
//! It depends on no other crate of the workspace: hdl, sim, firmware and host
//! all test against it, never the other way round.
#![no_std]
// `unsafe` only in the expansion of `multiversion!`, which calls
// `#[target_feature]` kernels after a feature check.
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

#[cfg(feature = "alloc")]
pub mod fast_ntt;
pub mod modulus;
#[cfg(feature = "alloc")]
pub mod ntt;
pub mod prime;
#[cfg(feature = "alloc")]
pub mod reference;
pub mod roots;
pub mod simd;
pub mod vector;

pub use modulus::{Modulus, ModulusError};
#[cfg(feature = "alloc")]
pub use ntt::{NttError, NttPlan};
pub use roots::TwiddleGen;

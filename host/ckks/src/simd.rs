//! Run-time choice of the instruction set for the CPU backend's kernels:
//! [`ola_arith::simd`], re-exported. Kernels are written once as scalar
//! loops and compiled per instruction set by `ola_arith::multiversion!`;
//! every choice gives the same bits (the tests compare them).

pub use ola_arith::simd::Isa;

pub(crate) use ola_arith::multiversion;

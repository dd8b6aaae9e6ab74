//! The CPU backend's fast negacyclic NTT: [`ola_arith::fast_ntt`]'s
//! [`LazyNtt`] (Harvey's lazy butterflies, two stages per pass, Shoup
//! twiddles, vectorised per [`crate::simd::Isa`]), bit-identical to
//! [`ola_arith::NttPlan`] — tested in ola-arith at every instruction set.

pub use ola_arith::fast_ntt::LazyNtt;

pub(crate) use ola_arith::fast_ntt::mul_shoup_lazy;

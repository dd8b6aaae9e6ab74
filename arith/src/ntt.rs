//! Negacyclic number-theoretic transforms, defined the way the accelerator
//! computes them.
//!
//! **Definition.** For `N` a power of two and `q ≡ 1 (mod 2N)`, the forward
//! transform of `a ∈ Z_q[X]/(X^N + 1)` is the vector of evaluations
//! `â[k] = a(ψ^(2·rev(k) + 1))`, in bit-reversed order (`rev` reverses
//! `log2 N` bits), where `ψ` is the canonical primitive `2N`-th root of unity
//! of [`canonical_root`]. This is the output order of the in-place
//! Cooley–Tukey algorithm; pointwise products in this domain are negacyclic
//! products of polynomials. The inverse transform includes the `N^-1` factor.
//!
//! **Twiddles.** `ψ_rev[k] = ψ^rev(k)` and, for the inverse,
//! `ψ⁻¹_half_rev[k] = ψ^(-rev(k)) / 2`. Because the canonical roots of
//! different sizes are powers of one another, the table of size `N` is the
//! first `N` entries of the table of any larger size: the device stores one
//! table per modulus for its largest `N` and serves every smaller `N` from it.
//!
//! **Two data flows, one result.** [`NttPlan::fwd`] / [`NttPlan::inv`] are
//! the fast in-place algorithms (Cooley–Tukey forward; Gentleman–Sande
//! inverse whose every stage halves, so that `log2 N` halvings give `N^-1`
//! with no extra pass). [`NttPlan::fwd_stage_cg`] / [`NttPlan::inv_stage_cg`]
//! are one stage of the *constant-geometry* flow the hardware engine runs:
//! butterfly `b` of every stage reads words `b` and `b + N/2` and writes
//! words `2b` and `2b + 1` (the inverse the other way round), with twiddle
//! [`twiddle_index`]`(s, b)`. Data stay in natural order between the ends,
//! which the tests prove equal to the in-place flow stage by stage.

use alloc::vec::Vec;

use crate::modulus::Modulus;
pub use crate::roots::{bit_reverse, canonical_root};

/// Smallest supported transform size.
pub const MIN_LOG_N: u32 = 1;
/// Largest supported transform size (2^20).
pub const MAX_LOG_N: u32 = 20;

/// Why a plan cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NttError {
    /// `N` is not a power of two in `2^MIN_LOG_N ..= 2^MAX_LOG_N`.
    BadSize {
        /// The rejected size.
        n: usize,
    },
    /// `q` is not `1 mod 2N`, so no primitive `2N`-th root exists.
    NotNttFriendly {
        /// The modulus.
        q: u32,
        /// The transform size.
        n: usize,
    },
}

impl core::fmt::Display for NttError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NttError::BadSize { n } => write!(
                f,
                "NTT size {n} is not a power of two between 2^{MIN_LOG_N} and 2^{MAX_LOG_N}"
            ),
            NttError::NotNttFriendly { q, n } => {
                write!(f, "modulus {q} is not 1 mod 2N = {}", 2 * n)
            }
        }
    }
}

impl core::error::Error for NttError {}

/// Index into the bit-reversed twiddle table used by butterfly `b` of
/// stage `s` (stage 0 first for the forward transform): `2^s + (b mod 2^s)`.
#[inline]
pub fn twiddle_index(stage: u32, butterfly: usize) -> usize {
    (1 << stage) | (butterfly & ((1 << stage) - 1))
}

/// Forward (Cooley–Tukey) butterfly: `(u + w·v, u − w·v)`.
#[inline]
pub fn ct_butterfly(m: &Modulus, u: u32, v: u32, w: u32) -> (u32, u32) {
    let wv = m.mul(v, w);
    (m.add(u, wv), m.sub(u, wv))
}

/// Inverse (Gentleman–Sande) butterfly with the halving folded in:
/// `((u + v)/2, (u − v)·w_half)` where `w_half = w / 2`.
#[inline]
pub fn gs_half_butterfly(m: &Modulus, u: u32, v: u32, w_half: u32) -> (u32, u32) {
    (m.half(m.add(u, v)), m.mul(m.sub(u, v), w_half))
}

/// Precomputed tables for negacyclic transforms of one size and modulus.
#[derive(Clone, Debug)]
pub struct NttPlan {
    log_n: u32,
    modulus: Modulus,
    psi: u32,
    psi_rev: Vec<u32>,
    psi_rev_shoup: Vec<u32>,
    psi_inv_half_rev: Vec<u32>,
    psi_inv_half_rev_shoup: Vec<u32>,
}

impl NttPlan {
    /// Builds the tables for size `n` modulo `modulus`.
    pub fn new(n: usize, modulus: Modulus) -> Result<Self, NttError> {
        if !n.is_power_of_two() || !(MIN_LOG_N..=MAX_LOG_N).contains(&n.trailing_zeros()) {
            return Err(NttError::BadSize { n });
        }
        let log_n = n.trailing_zeros();
        let q = modulus.value();
        let psi =
            canonical_root(&modulus, 2 * n as u64).ok_or(NttError::NotNttFriendly { q, n })?;
        let psi_inv = modulus.inv(psi).expect("a root of unity is invertible");
        let powers = |base: u32| {
            let mut natural = Vec::with_capacity(n);
            let mut x = 1u32;
            for _ in 0..n {
                natural.push(x);
                x = modulus.mul(x, base);
            }
            (0..n)
                .map(|k| natural[bit_reverse(k, log_n)])
                .collect::<Vec<u32>>()
        };
        let psi_rev = powers(psi);
        let psi_inv_half_rev: Vec<u32> = powers(psi_inv).iter().map(|&w| modulus.half(w)).collect();
        let shoup = |table: &[u32]| table.iter().map(|&w| modulus.shoup(w)).collect();
        Ok(NttPlan {
            log_n,
            modulus,
            psi,
            psi_rev_shoup: shoup(&psi_rev),
            psi_inv_half_rev_shoup: shoup(&psi_inv_half_rev),
            psi_rev,
            psi_inv_half_rev,
        })
    }

    /// Transform size `N`.
    #[inline]
    pub fn n(&self) -> usize {
        1 << self.log_n
    }

    /// `log2 N`: the number of butterfly stages.
    #[inline]
    pub fn log_n(&self) -> u32 {
        self.log_n
    }

    /// The modulus.
    #[inline]
    pub fn modulus(&self) -> &Modulus {
        &self.modulus
    }

    /// The primitive `2N`-th root `ψ` the transform evaluates at.
    #[inline]
    pub fn psi(&self) -> u32 {
        self.psi
    }

    /// Forward twiddles `ψ^rev(k)`, the table the device loads per modulus.
    #[inline]
    pub fn psi_rev(&self) -> &[u32] {
        &self.psi_rev
    }

    /// Inverse twiddles `ψ^(-rev(k)) / 2`, the device's second table.
    #[inline]
    pub fn psi_inv_half_rev(&self) -> &[u32] {
        &self.psi_inv_half_rev
    }

    /// In-place forward transform (Cooley–Tukey, natural in, bit-reversed out).
    pub fn fwd(&self, a: &mut [u32]) {
        assert_eq!(a.len(), self.n(), "NTT input length must equal N");
        if self.lazy_ok() {
            return self.fwd_lazy(a);
        }
        let m = &self.modulus;
        for_each_ct_group(a, |k, lo, hi| {
            let (w, w_shoup) = (self.psi_rev[k], self.psi_rev_shoup[k]);
            for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                let u = *x;
                let v = m.mul_shoup(*y, w, w_shoup);
                *x = m.add(u, v);
                *y = m.sub(u, v);
            }
        });
    }

    /// In-place inverse transform including `N^-1` (Gentleman–Sande with a
    /// halving in every stage; bit-reversed in, natural out).
    pub fn inv(&self, a: &mut [u32]) {
        assert_eq!(a.len(), self.n(), "INTT input length must equal N");
        if self.lazy_ok() {
            return self.inv_lazy(a);
        }
        let m = &self.modulus;
        for_each_gs_group(a, |k, lo, hi| {
            let (w, w_shoup) = (self.psi_inv_half_rev[k], self.psi_inv_half_rev_shoup[k]);
            for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                let (u, v) = (*x, *y);
                *x = m.half(m.add(u, v));
                *y = m.mul_shoup(m.sub(u, v), w, w_shoup);
            }
        });
    }

    /// Lazy (Harvey) butterflies keep values below `4q` between stages,
    /// which needs `4q < 2^32`: every device prime (≤ 30 bits) qualifies.
    fn lazy_ok(&self) -> bool {
        self.modulus.value() < 1 << 30
    }

    /// `x · w mod q` up to one extra `q`: in `[0, 2q)` for any `x < 2^32`.
    #[inline(always)]
    fn mul_shoup_lazy(q: u32, x: u32, w: u32, w_shoup: u32) -> u32 {
        let quotient = ((x as u64 * w_shoup as u64) >> 32) as u32;
        x.wrapping_mul(w).wrapping_sub(quotient.wrapping_mul(q))
    }

    /// [`NttPlan::fwd`] with values in `[0, 4q)` between stages; the same
    /// result after the final reduction.
    fn fwd_lazy(&self, a: &mut [u32]) {
        let q = self.modulus.value();
        let two_q = 2 * q;
        for_each_ct_group(a, |k, lo, hi| {
            let (w, w_shoup) = (self.psi_rev[k], self.psi_rev_shoup[k]);
            for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                let u = (*x).min(x.wrapping_sub(two_q));
                let v = Self::mul_shoup_lazy(q, *y, w, w_shoup);
                *x = u + v;
                *y = u + two_q - v;
            }
        });
        for x in a.iter_mut() {
            let r = (*x).min(x.wrapping_sub(two_q));
            *x = r.min(r.wrapping_sub(q));
        }
    }

    /// [`NttPlan::inv`] with values in `[0, 2q)` between stages; the same
    /// result after the final reduction.
    fn inv_lazy(&self, a: &mut [u32]) {
        let q = self.modulus.value();
        let two_q = 2 * q;
        for_each_gs_group(a, |k, lo, hi| {
            let (w, w_shoup) = (self.psi_inv_half_rev[k], self.psi_inv_half_rev_shoup[k]);
            for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                let (u, v) = (*x, *y);
                let sum = u + v;
                let sum = sum.min(sum.wrapping_sub(two_q));
                // Halving: add q when odd (q is odd); stays below 1.5q.
                *x = (sum + (q & (sum & 1).wrapping_neg())) >> 1;
                *y = Self::mul_shoup_lazy(q, u + two_q - v, w, w_shoup);
            }
        });
        for x in a.iter_mut() {
            *x = (*x).min(x.wrapping_sub(q));
        }
    }

    /// One forward stage `s` of the hardware's constant-geometry flow:
    /// butterfly `b` reads `src[b]`, `src[b + N/2]` and writes
    /// `dst[2b]`, `dst[2b + 1]`. Stages run `s = 0, 1, …, log2 N − 1`.
    pub fn fwd_stage_cg(&self, stage: u32, src: &[u32], dst: &mut [u32]) {
        let half = self.n() / 2;
        assert!(stage < self.log_n && src.len() == self.n() && dst.len() == self.n());
        for b in 0..half {
            let w = self.psi_rev[twiddle_index(stage, b)];
            let (x, y) = ct_butterfly(&self.modulus, src[b], src[b + half], w);
            dst[2 * b] = x;
            dst[2 * b + 1] = y;
        }
    }

    /// One inverse stage `s` of the constant-geometry flow: butterfly `b`
    /// reads `src[2b]`, `src[2b + 1]` and writes `dst[b]`, `dst[b + N/2]`.
    /// Stages run `s = log2 N − 1, …, 1, 0`.
    pub fn inv_stage_cg(&self, stage: u32, src: &[u32], dst: &mut [u32]) {
        let half = self.n() / 2;
        assert!(stage < self.log_n && src.len() == self.n() && dst.len() == self.n());
        for b in 0..half {
            let w = self.psi_inv_half_rev[twiddle_index(stage, b)];
            let (x, y) = gs_half_butterfly(&self.modulus, src[2 * b], src[2 * b + 1], w);
            dst[b] = x;
            dst[b + half] = y;
        }
    }

    /// The whole forward transform through the constant-geometry flow.
    pub fn fwd_cg(&self, a: &[u32]) -> Vec<u32> {
        let mut cur = a.to_vec();
        let mut next = alloc::vec![0; self.n()];
        for s in 0..self.log_n {
            self.fwd_stage_cg(s, &cur, &mut next);
            core::mem::swap(&mut cur, &mut next);
        }
        cur
    }

    /// The whole inverse transform through the constant-geometry flow.
    pub fn inv_cg(&self, a: &[u32]) -> Vec<u32> {
        let mut cur = a.to_vec();
        let mut next = alloc::vec![0; self.n()];
        for s in (0..self.log_n).rev() {
            self.inv_stage_cg(s, &cur, &mut next);
            core::mem::swap(&mut cur, &mut next);
        }
        cur
    }
}

/// Walks the butterfly groups of a Cooley–Tukey transform, stage by stage
/// from the widest: `f(k, lo, hi)` gets group `i` of a stage with `groups`
/// groups as its two halves and `k = groups + i`, the index of its twiddle
/// in the bit-reversed tables.
fn for_each_ct_group(a: &mut [u32], mut f: impl FnMut(usize, &mut [u32], &mut [u32])) {
    let n = a.len();
    let (mut t, mut groups) = (n, 1);
    while groups < n {
        t >>= 1;
        for (i, block) in a.chunks_exact_mut(2 * t).enumerate() {
            let (lo, hi) = block.split_at_mut(t);
            f(groups + i, lo, hi);
        }
        groups <<= 1;
    }
}

/// The Gentleman–Sande order of [`for_each_ct_group`]: stages from the
/// narrowest (`groups = N/2`) to the widest.
fn for_each_gs_group(a: &mut [u32], mut f: impl FnMut(usize, &mut [u32], &mut [u32])) {
    let n = a.len();
    let (mut t, mut groups) = (1, n >> 1);
    while groups >= 1 {
        for (i, block) in a.chunks_exact_mut(2 * t).enumerate() {
            let (lo, hi) = block.split_at_mut(t);
            f(groups + i, lo, hi);
        }
        t <<= 1;
        groups >>= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prime::ntt_primes;
    use crate::reference::{naive_negacyclic_ntt, negacyclic_schoolbook};
    use alloc::vec;
    use proptest::prelude::*;

    fn plan(log_n: u32, bits: u32, which: usize) -> NttPlan {
        let q = ntt_primes(bits, log_n).nth(which).unwrap();
        NttPlan::new(1 << log_n, Modulus::new(q).unwrap()).unwrap()
    }

    fn random_poly(n: usize, q: u32, seed: u64) -> Vec<u32> {
        // SplitMix64: deterministic, good enough for test vectors.
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                ((z ^ (z >> 31)) % q as u64) as u32
            })
            .collect()
    }

    #[test]
    fn rejects_bad_plans() {
        let m = Modulus::new(ntt_primes(30, 10).next().unwrap()).unwrap();
        assert_eq!(
            NttPlan::new(12, m).unwrap_err(),
            NttError::BadSize { n: 12 }
        );
        assert_eq!(NttPlan::new(1, m).unwrap_err(), NttError::BadSize { n: 1 });
        let small = Modulus::new(ntt_primes(30, 4).find(|q| q % 64 != 1).unwrap()).unwrap();
        assert!(matches!(
            NttPlan::new(1 << 10, small),
            Err(NttError::NotNttFriendly { .. })
        ));
    }

    #[test]
    fn root_is_primitive_and_tables_nest() {
        let q = ntt_primes(30, 16).next().unwrap();
        let m = Modulus::new(q).unwrap();
        let big = NttPlan::new(1 << 12, m).unwrap();
        for log_n in 1..=12 {
            let p = NttPlan::new(1 << log_n, m).unwrap();
            let n = p.n() as u64;
            assert_eq!(m.pow(p.psi(), n), q as u32 - 1, "ψ^N = -1");
            assert_eq!(p.psi_rev(), &big.psi_rev()[..p.n()]);
            assert_eq!(p.psi_inv_half_rev(), &big.psi_inv_half_rev()[..p.n()]);
        }
    }

    #[test]
    fn twiddle_generator_equals_plan_tables() {
        // The no-alloc generator the firmware loads twiddles with must give
        // the plan's tables entry for entry, for every size and word size.
        for (log_n, bits) in [(1, 17), (4, 18), (8, 18), (12, 30), (13, 31), (12, 20)] {
            for which in 0..2 {
                let p = plan(log_n, bits, which);
                let g = crate::TwiddleGen::new(*p.modulus(), p.n()).unwrap();
                assert_eq!(g.psi(), p.psi());
                assert_eq!(g.n(), p.n());
                for k in 0..p.n() {
                    assert_eq!(g.forward(k), p.psi_rev()[k], "fwd log_n {log_n} k {k}");
                    assert_eq!(
                        g.inverse_half(k),
                        p.psi_inv_half_rev()[k],
                        "inv log_n {log_n} k {k}"
                    );
                }
            }
        }
        let m = Modulus::new(ntt_primes(30, 10).next().unwrap()).unwrap();
        assert!(crate::TwiddleGen::new(m, 12).is_none());
        assert!(crate::TwiddleGen::new(m, 1).is_none());
        let small = Modulus::new(ntt_primes(30, 4).find(|q| q % 64 != 1).unwrap()).unwrap();
        assert!(crate::TwiddleGen::new(small, 1 << 10).is_none());
    }

    #[test]
    fn forward_matches_naive_evaluation() {
        for (log_n, bits) in [(1, 17), (4, 17), (6, 30), (8, 31), (10, 24)] {
            let p = plan(log_n, bits, 1);
            let a = random_poly(p.n(), p.modulus().value(), log_n as u64);
            let mut fast = a.clone();
            p.fwd(&mut fast);
            assert_eq!(
                fast,
                naive_negacyclic_ntt(p.modulus(), p.psi(), &a),
                "log_n {log_n}"
            );
        }
    }

    #[test]
    fn constant_geometry_equals_in_place_for_every_size() {
        for log_n in 1..=13 {
            for bits in [18, 30] {
                let p = plan(log_n, bits, 0);
                let a = random_poly(p.n(), p.modulus().value(), 99 + log_n as u64);
                let mut fast = a.clone();
                p.fwd(&mut fast);
                let cg = p.fwd_cg(&a);
                assert_eq!(cg, fast, "forward, log_n {log_n}, bits {bits}");
                let mut back = fast.clone();
                p.inv(&mut back);
                assert_eq!(back, a, "inverse, log_n {log_n}");
                assert_eq!(p.inv_cg(&fast), a, "cg inverse, log_n {log_n}");
            }
        }
    }

    #[test]
    fn round_trip_at_2_16_with_several_primes() {
        for which in 0..3 {
            let p = plan(16, 30, which);
            let a = random_poly(p.n(), p.modulus().value(), which as u64);
            let mut x = a.clone();
            p.fwd(&mut x);
            p.inv(&mut x);
            assert_eq!(x, a);
        }
    }

    #[test]
    fn product_at_1024_matches_schoolbook() {
        let p = plan(10, 30, 2);
        let m = *p.modulus();
        let a = random_poly(p.n(), m.value(), 1);
        let b = random_poly(p.n(), m.value(), 2);
        let (mut fa, mut fb) = (a.clone(), b.clone());
        p.fwd(&mut fa);
        p.fwd(&mut fb);
        let mut prod = vec![0; p.n()];
        crate::vector::mul(&m, &fa, &fb, &mut prod);
        p.inv(&mut prod);
        assert_eq!(prod, negacyclic_schoolbook(&m, &a, &b));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn intt_inverts_ntt(log_n in 4u32..=16, bits in prop::sample::select(vec![17u32, 20, 24, 28, 30, 31]),
                            which in 0usize..3, seed: u64) {
            let p = plan(log_n, bits.max(log_n + 8), which);
            let a = random_poly(p.n(), p.modulus().value(), seed);
            let mut x = a.clone();
            p.fwd(&mut x);
            p.inv(&mut x);
            prop_assert_eq!(x, a);
        }

        #[test]
        fn ntt_product_is_negacyclic_product(log_n in 4u32..=8, bits in prop::sample::select(vec![17u32, 24, 30, 31]),
                                             which in 0usize..3, seed: u64) {
            let p = plan(log_n, bits, which);
            let m = *p.modulus();
            let a = random_poly(p.n(), m.value(), seed);
            let b = random_poly(p.n(), m.value(), seed ^ 0x5555);
            let (mut fa, mut fb) = (a.clone(), b.clone());
            p.fwd(&mut fa);
            p.fwd(&mut fb);
            let mut prod = vec![0; p.n()];
            crate::vector::mul(&m, &fa, &fb, &mut prod);
            p.inv(&mut prod);
            prop_assert_eq!(prod, negacyclic_schoolbook(&m, &a, &b));
        }

        #[test]
        fn constant_geometry_stages_track_in_place_stages(log_n in 2u32..=10, seed: u64) {
            // After forward stage s, the constant-geometry buffer holds the
            // in-place buffer rotated: physical x = logical rotr(x, s + 1).
            let p = plan(log_n, 30, 0);
            let n = p.n();
            let a = random_poly(n, p.modulus().value(), seed);
            let mut cg = a.clone();
            let mut next = vec![0; n];
            for s in 0..log_n {
                p.fwd_stage_cg(s, &cg, &mut next);
                core::mem::swap(&mut cg, &mut next);
                let mut in_place = a.clone();
                partial_fwd(&p, &mut in_place, s + 1);
                let rot = (s + 1) % log_n;
                for (x, &value) in cg.iter().enumerate() {
                    let logical = if rot == 0 { x } else { ((x >> rot) | (x << (log_n - rot))) & (n - 1) };
                    prop_assert_eq!(value, in_place[logical], "stage {} x {}", s, x);
                }
            }
        }
    }

    /// The first `stages` stages of the in-place forward transform.
    fn partial_fwd(p: &NttPlan, a: &mut [u32], stages: u32) {
        let m = p.modulus();
        let mut t = p.n();
        for s in 0..stages {
            let groups = 1 << s;
            t >>= 1;
            for i in 0..groups {
                let w = p.psi_rev()[groups + i];
                for j in 2 * i * t..2 * i * t + t {
                    let (x, y) = ct_butterfly(m, a[j], a[j + t], w);
                    a[j] = x;
                    a[j + t] = y;
                }
            }
        }
    }
}

//! The CPU backend's fast negacyclic NTT: the transform of
//! [`ola_arith::NttPlan`] (same roots, same bit-reversed output order,
//! read from the plan's own twiddle tables), computed with Harvey's lazy
//! butterflies. Primes below 2^30 let residues float in `[0, 4q)` inside a
//! `u32`, so the butterflies skip most conditional subtractions; outputs are
//! fully reduced at the end, hence bit-identical to the plan's `fwd` / `inv`
//! (the tests compare them word for word).

use ola_arith::{Modulus, NttPlan};

/// Twiddle tables of one prime and size.
#[derive(Clone, Debug)]
pub struct LazyNtt {
    q: u32,
    log_n: u32,
    /// `ψ^rev(k)` and Shoup companions.
    fwd_w: Vec<u32>,
    fwd_ws: Vec<u32>,
    /// `ψ^-rev(k)` and Shoup companions.
    inv_w: Vec<u32>,
    inv_ws: Vec<u32>,
    /// `N^-1` and its companion.
    n_inv: u32,
    n_inv_s: u32,
}

/// `x · w mod q` up to one extra `q`: result in `[0, 2q)` for any `x < 2^32`.
#[inline(always)]
fn mul_shoup_lazy(x: u32, w: u32, ws: u32, q: u32) -> u32 {
    let quot = ((x as u64 * ws as u64) >> 32) as u32;
    x.wrapping_mul(w).wrapping_sub(quot.wrapping_mul(q))
}

impl LazyNtt {
    /// Tables from `plan` (whose modulus must be below 2^30).
    pub fn new(plan: &NttPlan) -> Self {
        let m: &Modulus = plan.modulus();
        let q = m.value();
        assert!(q < 1 << 30, "lazy NTT needs q < 2^30 so that 4q fits a u32");
        let fwd_w = plan.psi_rev().to_vec();
        // The plan stores ψ^-rev(k) / 2 for its halving inverse.
        let inv_w: Vec<u32> = plan
            .psi_inv_half_rev()
            .iter()
            .map(|&w| m.add(w, w))
            .collect();
        let n_inv = m.inv(plan.n() as u32 % q).expect("N invertible");
        LazyNtt {
            q,
            log_n: plan.log_n(),
            fwd_ws: fwd_w.iter().map(|&w| m.shoup(w)).collect(),
            inv_ws: inv_w.iter().map(|&w| m.shoup(w)).collect(),
            fwd_w,
            inv_w,
            n_inv,
            n_inv_s: m.shoup(n_inv),
        }
    }

    /// Forward transform (natural in, bit-reversed out), reduced inputs.
    pub fn fwd(&self, a: &mut [u32]) {
        let n = 1usize << self.log_n;
        assert_eq!(a.len(), n);
        let q = self.q;
        let two_q = 2 * q;
        let mut t = n;
        let mut groups = 1;
        while groups < n {
            t >>= 1;
            for i in 0..groups {
                let w = self.fwd_w[groups + i];
                let ws = self.fwd_ws[groups + i];
                let (lo, hi) = a[2 * i * t..2 * i * t + 2 * t].split_at_mut(t);
                for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                    // Invariant: x, y < 4q.
                    let u = if *x >= two_q { *x - two_q } else { *x };
                    let v = mul_shoup_lazy(*y, w, ws, q);
                    *x = u + v;
                    *y = u + two_q - v;
                }
            }
            groups <<= 1;
        }
        for x in a.iter_mut() {
            let mut r = *x;
            if r >= two_q {
                r -= two_q;
            }
            if r >= q {
                r -= q;
            }
            *x = r;
        }
    }

    /// Inverse transform including `N^-1` (bit-reversed in, natural out).
    pub fn inv(&self, a: &mut [u32]) {
        let n = 1usize << self.log_n;
        assert_eq!(a.len(), n);
        let q = self.q;
        let two_q = 2 * q;
        let mut t = 1;
        let mut groups = n >> 1;
        while groups >= 1 {
            for i in 0..groups {
                let w = self.inv_w[groups + i];
                let ws = self.inv_ws[groups + i];
                let (lo, hi) = a[2 * i * t..2 * i * t + 2 * t].split_at_mut(t);
                for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                    // Invariant: x, y < 2q.
                    let (u, v) = (*x, *y);
                    let s = u + v;
                    *x = if s >= two_q { s - two_q } else { s };
                    *y = mul_shoup_lazy(u + two_q - v, w, ws, q);
                }
            }
            t <<= 1;
            groups >>= 1;
        }
        for x in a.iter_mut() {
            let r = mul_shoup_lazy(*x, self.n_inv, self.n_inv_s, q);
            *x = if r >= q { r - q } else { r };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ola_arith::prime::ntt_primes;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn lazy_ntt_is_bit_identical_to_the_golden_plan() {
        let mut rng = ChaCha20Rng::seed_from_u64(21);
        for bits in [20u32, 25, 29, 30] {
            for log_n in [1u32, 2, 5, 10, 12] {
                let q = ntt_primes(bits, log_n).next().unwrap();
                let plan = NttPlan::new(1 << log_n, Modulus::new(q).unwrap()).unwrap();
                let lazy = LazyNtt::new(&plan);
                for trial in 0..3 {
                    let mut a: Vec<u32> = (0..1 << log_n)
                        .map(|_| rng.random_range(0..q as u32))
                        .collect();
                    if trial == 0 {
                        a.fill(q as u32 - 1); // extreme values
                    }
                    let (mut golden, mut fast) = (a.clone(), a.clone());
                    plan.fwd(&mut golden);
                    lazy.fwd(&mut fast);
                    assert_eq!(fast, golden, "fwd q {q} N 2^{log_n}");
                    plan.inv(&mut golden);
                    lazy.inv(&mut fast);
                    assert_eq!(fast, golden, "inv q {q} N 2^{log_n}");
                    assert_eq!(fast, a);
                }
            }
        }
    }
}

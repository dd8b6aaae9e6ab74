//! The one place ring arithmetic happens: a [`Backend`] runs NTTs and
//! limb-wise operations, and everything above it (RNS polynomials, key
//! switching, rescale, the evaluator) is written in terms of these calls, so
//! that a device backend can replace [`CpuBackend`] without touching the
//! scheme.
//!
//! **Limbs and moduli.** A limb is `N` residues modulo one prime. A backend
//! is built for one parameter set and knows its primes as one list, `Q`
//! first then `P` ([`crate::Params::all_moduli`]); every call names its
//! prime by index `m` into that list (the device keeps one twiddle table
//! per prime, loaded once).
//!
//! **Contract.** Inputs are reduced (`< q_m`) unless a method says
//! otherwise; outputs are always reduced, so every backend gives
//! bit-identical results. Operands never alias (Rust forbids it); the
//! `_assign` forms update their first argument in place.

use ola_arith::{Modulus, NttPlan};

use crate::ntt::LazyNtt;

/// Limb-wise operations of RNS-CKKS.
pub trait Backend: Send + Sync {
    /// Ring degree `N`: the length of every limb.
    fn n(&self) -> usize;
    /// The primes, `Q` then `P`.
    fn moduli(&self) -> &[Modulus];

    /// In-place forward negacyclic NTT modulo prime `m` (ola-arith's
    /// definition: natural in, bit-reversed out).
    fn ntt_fwd(&self, m: usize, a: &mut [u32]);
    /// In-place inverse NTT modulo prime `m`, including `N^-1`.
    fn ntt_inv(&self, m: usize, a: &mut [u32]);

    /// `out = a + b`.
    fn add(&self, m: usize, a: &[u32], b: &[u32], out: &mut [u32]);
    /// `a += b`.
    fn add_assign(&self, m: usize, a: &mut [u32], b: &[u32]);
    /// `out = a - b`.
    fn sub(&self, m: usize, a: &[u32], b: &[u32], out: &mut [u32]);
    /// `a -= b`.
    fn sub_assign(&self, m: usize, a: &mut [u32], b: &[u32]);
    /// `a = -a`.
    fn neg_assign(&self, m: usize, a: &mut [u32]);
    /// `out = a · b` (pointwise).
    fn mul(&self, m: usize, a: &[u32], b: &[u32], out: &mut [u32]);
    /// `a = a · b` (pointwise).
    fn mul_assign(&self, m: usize, a: &mut [u32], b: &[u32]);
    /// `acc += a · b` (pointwise multiply-accumulate).
    fn mac(&self, m: usize, a: &[u32], b: &[u32], acc: &mut [u32]);
    /// `a = a · c` for a reduced constant `c`.
    fn mul_const_assign(&self, m: usize, a: &mut [u32], c: u32);
    /// `acc += a · c` for a reduced constant `c`.
    fn mac_const(&self, m: usize, a: &[u32], c: u32, acc: &mut [u32]);
    /// `a = a + c` for a reduced constant `c` (every coefficient).
    fn add_const_assign(&self, m: usize, a: &mut [u32], c: u32);
    /// `a = (a - b) · c` for a reduced constant `c`: the last step of
    /// rescale and of the division by `P`.
    fn sub_mul_const_assign(&self, m: usize, a: &mut [u32], b: &[u32], c: u32);
    /// `out = a mod q_m` where `a` holds residues of another prime (any
    /// word below `2^30`).
    fn reduce(&self, m: usize, a: &[u32], out: &mut [u32]);
    /// `out = Σ_k inputs[k] · consts[k] mod q_m`, with the inputs any words
    /// below `2^30` (residues of other primes) and reduced constants: the
    /// inner product of fast base conversion.
    fn lincomb(&self, m: usize, inputs: &[&[u32]], consts: &[u32], out: &mut [u32]);
    /// `acc += a · b` without reduction (products of reduced inputs are
    /// below `2^60`, so up to [`LAZY_MAC_TERMS`] terms may be accumulated
    /// before [`Backend::reduce_lazy`]).
    fn mac_lazy(&self, a: &[u32], b: &[u32], acc: &mut [u64]);
    /// `out = acc mod q_m` (and `acc` may be reused after `fill(0)`).
    fn reduce_lazy(&self, m: usize, acc: &[u64], out: &mut [u32]);
    /// `acc = acc mod q_m` in place, to continue accumulating.
    fn fold_lazy(&self, m: usize, acc: &mut [u64]);
    /// `out[k] = round(Σ_i inputs[i][k] · weights[i] / 2^64)` for inputs
    /// below `2^30` and weights below `2^46`: the overflow count of a fast
    /// base conversion (`weights[i] ≈ 2^64 / s_i`), which makes the
    /// conversion exact and centred. Integer arithmetic, so every backend
    /// agrees bit for bit.
    fn round_fixed(&self, inputs: &[&[u32]], weights: &[u64], out: &mut [u32]);
    /// `out[k] = a[perm[k]]`: the slot permutation of a Galois automorphism
    /// in the NTT domain (independent of the prime).
    fn permute(&self, a: &[u32], perm: &[u32], out: &mut [u32]);
}

/// Terms of [`Backend::mac_lazy`] a `u64` accumulator holds safely:
/// `15 · 2^60 + (q - 1) < 2^64`.
pub const LAZY_MAC_TERMS: usize = 15;

/// `x mod q` for any `u64` by Barrett with `ratio = floor(2^64 / q)`: the
/// quotient estimate is short by at most one, so one subtraction fixes it.
#[inline(always)]
fn reduce_u64(x: u64, q: u64, ratio: u64) -> u32 {
    let est = ((x as u128 * ratio as u128) >> 64) as u64;
    let r = x - est * q;
    (if r >= q { r - q } else { r }) as u32
}

/// The CPU backend: ola-arith's Barrett / Shoup arithmetic and its NTT
/// definition, transformed by [`LazyNtt`] (tested bit-identical to
/// [`NttPlan`]).
#[derive(Clone, Debug)]
pub struct CpuBackend {
    n: usize,
    moduli: Vec<Modulus>,
    plans: Vec<LazyNtt>,
    /// `floor(2^64 / q)` per prime, for [`reduce_u64`].
    ratios: Vec<u64>,
}

impl CpuBackend {
    /// Plans the NTT of size `n` for every prime.
    ///
    /// # Panics
    /// If a prime does not support size `n` or exceeds 30 bits (parameters
    /// built by [`crate::Params`] never do).
    pub fn new(n: usize, moduli: &[Modulus]) -> Self {
        let plans = moduli
            .iter()
            .map(|&m| LazyNtt::new(&NttPlan::new(n, m).expect("NTT-friendly prime")))
            .collect();
        CpuBackend {
            n,
            moduli: moduli.to_vec(),
            plans,
            ratios: moduli.iter().map(|m| u64::MAX / m.value() as u64).collect(),
        }
    }

    #[inline]
    fn q(&self, m: usize) -> &Modulus {
        &self.moduli[m]
    }
}

/// Length check shared by all operations: cheap, and a wrong length is a
/// bug in the caller that must not pass silently.
#[inline]
fn same_len(n: usize, lens: &[usize]) {
    assert!(
        lens.iter().all(|&l| l == n),
        "limb length must equal N = {n}"
    );
}

/// Inputs below 2^30 and constants below 2^30 make products below 2^60, so
/// sixteen of them fit a `u64` accumulator; reduce every 15 to be safe.
const LINCOMB_BATCH: usize = 15;
/// Coefficients processed together in [`CpuBackend::lincomb`] so that the
/// accumulators stay in cache.
const LINCOMB_CHUNK: usize = 256;

impl Backend for CpuBackend {
    fn n(&self) -> usize {
        self.n
    }

    fn moduli(&self) -> &[Modulus] {
        &self.moduli
    }

    fn ntt_fwd(&self, m: usize, a: &mut [u32]) {
        self.plans[m].fwd(a);
    }

    fn ntt_inv(&self, m: usize, a: &mut [u32]) {
        self.plans[m].inv(a);
    }

    fn add(&self, m: usize, a: &[u32], b: &[u32], out: &mut [u32]) {
        same_len(self.n, &[a.len(), b.len(), out.len()]);
        ola_arith::vector::add(self.q(m), a, b, out);
    }

    fn add_assign(&self, m: usize, a: &mut [u32], b: &[u32]) {
        same_len(self.n, &[a.len(), b.len()]);
        let q = self.q(m);
        for (x, &y) in a.iter_mut().zip(b) {
            *x = q.add(*x, y);
        }
    }

    fn sub(&self, m: usize, a: &[u32], b: &[u32], out: &mut [u32]) {
        same_len(self.n, &[a.len(), b.len(), out.len()]);
        ola_arith::vector::sub(self.q(m), a, b, out);
    }

    fn sub_assign(&self, m: usize, a: &mut [u32], b: &[u32]) {
        same_len(self.n, &[a.len(), b.len()]);
        let q = self.q(m);
        for (x, &y) in a.iter_mut().zip(b) {
            *x = q.sub(*x, y);
        }
    }

    fn neg_assign(&self, m: usize, a: &mut [u32]) {
        same_len(self.n, &[a.len()]);
        let q = self.q(m);
        for x in a.iter_mut() {
            *x = q.neg(*x);
        }
    }

    fn mul(&self, m: usize, a: &[u32], b: &[u32], out: &mut [u32]) {
        same_len(self.n, &[a.len(), b.len(), out.len()]);
        ola_arith::vector::mul(self.q(m), a, b, out);
    }

    fn mul_assign(&self, m: usize, a: &mut [u32], b: &[u32]) {
        same_len(self.n, &[a.len(), b.len()]);
        let q = self.q(m);
        for (x, &y) in a.iter_mut().zip(b) {
            *x = q.mul(*x, y);
        }
    }

    fn mac(&self, m: usize, a: &[u32], b: &[u32], acc: &mut [u32]) {
        same_len(self.n, &[a.len(), b.len(), acc.len()]);
        ola_arith::vector::mac(self.q(m), a, b, acc);
    }

    fn mul_const_assign(&self, m: usize, a: &mut [u32], c: u32) {
        same_len(self.n, &[a.len()]);
        let q = self.q(m);
        let c_shoup = q.shoup(c);
        for x in a.iter_mut() {
            *x = q.mul_shoup(*x, c, c_shoup);
        }
    }

    fn mac_const(&self, m: usize, a: &[u32], c: u32, acc: &mut [u32]) {
        same_len(self.n, &[a.len(), acc.len()]);
        let q = self.q(m);
        let c_shoup = q.shoup(c);
        for (o, &x) in acc.iter_mut().zip(a) {
            *o = q.add(*o, q.mul_shoup(x, c, c_shoup));
        }
    }

    fn add_const_assign(&self, m: usize, a: &mut [u32], c: u32) {
        same_len(self.n, &[a.len()]);
        let q = self.q(m);
        for x in a.iter_mut() {
            *x = q.add(*x, c);
        }
    }

    fn sub_mul_const_assign(&self, m: usize, a: &mut [u32], b: &[u32], c: u32) {
        same_len(self.n, &[a.len(), b.len()]);
        let q = self.q(m);
        let c_shoup = q.shoup(c);
        for (x, &y) in a.iter_mut().zip(b) {
            // q.sub(x, y) < q < 2^31, within mul_shoup's input range.
            *x = q.mul_shoup(q.sub(*x, y), c, c_shoup);
        }
    }

    fn reduce(&self, m: usize, a: &[u32], out: &mut [u32]) {
        same_len(self.n, &[a.len(), out.len()]);
        let qv = self.q(m).value();
        for (o, &x) in out.iter_mut().zip(a) {
            *o = x % qv;
        }
    }

    fn lincomb(&self, m: usize, inputs: &[&[u32]], consts: &[u32], out: &mut [u32]) {
        assert_eq!(inputs.len(), consts.len(), "one constant per input");
        same_len(self.n, &[out.len()]);
        for input in inputs {
            same_len(self.n, &[input.len()]);
        }
        let (qv, ratio) = (self.q(m).value() as u64, self.ratios[m]);
        let mut acc = [0u64; LINCOMB_CHUNK];
        for start in (0..self.n).step_by(LINCOMB_CHUNK) {
            let len = LINCOMB_CHUNK.min(self.n - start);
            let acc = &mut acc[..len];
            acc.fill(0);
            for (batch_in, batch_c) in inputs
                .chunks(LINCOMB_BATCH)
                .zip(consts.chunks(LINCOMB_BATCH))
            {
                for (input, &c) in batch_in.iter().zip(batch_c) {
                    let c = c as u64;
                    for (a, &x) in acc.iter_mut().zip(&input[start..start + len]) {
                        *a += x as u64 * c;
                    }
                }
                // Keep the accumulator below q so the next batch cannot
                // overflow.
                for a in acc.iter_mut() {
                    *a = reduce_u64(*a, qv, ratio) as u64;
                }
            }
            for (o, &a) in out[start..start + len].iter_mut().zip(acc.iter()) {
                *o = a as u32;
            }
        }
    }

    fn mac_lazy(&self, a: &[u32], b: &[u32], acc: &mut [u64]) {
        same_len(self.n, &[a.len(), b.len(), acc.len()]);
        for ((o, &x), &y) in acc.iter_mut().zip(a).zip(b) {
            *o += x as u64 * y as u64;
        }
    }

    fn reduce_lazy(&self, m: usize, acc: &[u64], out: &mut [u32]) {
        same_len(self.n, &[acc.len(), out.len()]);
        let (q, ratio) = (self.q(m).value() as u64, self.ratios[m]);
        for (o, &x) in out.iter_mut().zip(acc) {
            *o = reduce_u64(x, q, ratio);
        }
    }

    fn fold_lazy(&self, m: usize, acc: &mut [u64]) {
        same_len(self.n, &[acc.len()]);
        let (q, ratio) = (self.q(m).value() as u64, self.ratios[m]);
        for x in acc.iter_mut() {
            *x = reduce_u64(*x, q, ratio) as u64;
        }
    }

    fn round_fixed(&self, inputs: &[&[u32]], weights: &[u64], out: &mut [u32]) {
        assert_eq!(inputs.len(), weights.len(), "one weight per input");
        same_len(self.n, &[out.len()]);
        for input in inputs {
            same_len(self.n, &[input.len()]);
        }
        for (k, o) in out.iter_mut().enumerate() {
            let sum: u128 = inputs
                .iter()
                .zip(weights)
                .map(|(x, &w)| x[k] as u128 * w as u128)
                .sum();
            *o = ((sum + (1 << 63)) >> 64) as u32;
        }
    }

    fn permute(&self, a: &[u32], perm: &[u32], out: &mut [u32]) {
        same_len(self.n, &[a.len(), perm.len(), out.len()]);
        for (o, &p) in out.iter_mut().zip(perm) {
            *o = a[p as usize];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ola_arith::prime::ntt_primes;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    fn setup() -> (CpuBackend, ChaCha20Rng) {
        let moduli: Vec<Modulus> = ntt_primes(30, 10)
            .take(3)
            .map(|q| Modulus::new(q).unwrap())
            .collect();
        (
            CpuBackend::new(1 << 10, &moduli),
            ChaCha20Rng::seed_from_u64(1),
        )
    }

    fn random_limb(rng: &mut ChaCha20Rng, q: u32, n: usize) -> Vec<u32> {
        (0..n).map(|_| rng.random_range(0..q)).collect()
    }

    #[test]
    fn limbwise_ops_match_u128() {
        let (be, mut rng) = setup();
        let n = be.n();
        for m in 0..be.moduli().len() {
            let q = be.moduli()[m].value();
            let q128 = q as u128;
            let a = random_limb(&mut rng, q, n);
            let b = random_limb(&mut rng, q, n);
            let c = rng.random_range(0..q);
            let mut out = vec![0; n];
            be.add(m, &a, &b, &mut out);
            assert!((0..n).all(|i| out[i] as u128 == (a[i] as u128 + b[i] as u128) % q128));
            be.sub(m, &a, &b, &mut out);
            assert!((0..n).all(|i| out[i] as u128 == (a[i] as u128 + q128 - b[i] as u128) % q128));
            be.mul(m, &a, &b, &mut out);
            assert!((0..n).all(|i| out[i] as u128 == a[i] as u128 * b[i] as u128 % q128));
            let mut x = a.clone();
            be.sub_mul_const_assign(m, &mut x, &b, c);
            assert!(
                (0..n).all(|i| x[i] as u128
                    == (a[i] as u128 + q128 - b[i] as u128) % q128 * c as u128 % q128)
            );
            let mut x = a.clone();
            be.mul_const_assign(m, &mut x, c);
            assert!((0..n).all(|i| x[i] as u128 == a[i] as u128 * c as u128 % q128));
            let mut acc = b.clone();
            be.mac_const(m, &a, c, &mut acc);
            assert!(
                (0..n).all(|i| acc[i] as u128 == (b[i] as u128 + a[i] as u128 * c as u128) % q128)
            );
            let mut x = a.clone();
            be.neg_assign(m, &mut x);
            be.add_assign(m, &mut x, &a);
            assert!(x.iter().all(|&v| v == 0));
        }
    }

    #[test]
    fn lincomb_matches_u128_for_many_inputs() {
        let (be, mut rng) = setup();
        let n = be.n();
        // 40 inputs: more than two accumulator batches.
        let inputs: Vec<Vec<u32>> = (0..40).map(|_| random_limb(&mut rng, 1 << 30, n)).collect();
        let refs: Vec<&[u32]> = inputs.iter().map(|v| v.as_slice()).collect();
        for m in 0..3 {
            let q = be.moduli()[m].value();
            let consts: Vec<u32> = (0..40).map(|_| rng.random_range(0..q)).collect();
            let mut out = vec![0; n];
            be.lincomb(m, &refs, &consts, &mut out);
            for i in 0..n {
                let expect = inputs
                    .iter()
                    .zip(&consts)
                    .map(|(v, &c)| v[i] as u128 * c as u128)
                    .sum::<u128>()
                    % q as u128;
                assert_eq!(out[i] as u128, expect);
            }
            let mut red = vec![0; n];
            be.reduce(m, &inputs[0], &mut red);
            assert!((0..n).all(|i| red[i] == inputs[0][i] % q));
        }
    }

    #[test]
    fn lazy_mac_matches_u128() {
        let (be, mut rng) = setup();
        let n = be.n();
        let q = be.moduli()[2].value();
        let terms: Vec<(Vec<u32>, Vec<u32>)> = (0..40)
            .map(|_| (random_limb(&mut rng, q, n), random_limb(&mut rng, q, n)))
            .collect();
        let mut acc = vec![0u64; n];
        for (k, (a, b)) in terms.iter().enumerate() {
            if k > 0 && k % LAZY_MAC_TERMS == 0 {
                be.fold_lazy(2, &mut acc);
            }
            be.mac_lazy(a, b, &mut acc);
        }
        let mut out = vec![0; n];
        be.reduce_lazy(2, &acc, &mut out);
        for i in 0..n {
            let want = terms
                .iter()
                .map(|(a, b)| a[i] as u128 * b[i] as u128)
                .sum::<u128>()
                % q as u128;
            assert_eq!(out[i] as u128, want);
        }
        // Barrett on extreme words.
        let qq = q as u64;
        for x in [
            0,
            1,
            qq - 1,
            qq,
            u64::MAX,
            u64::MAX - 1,
            (qq - 1) * (qq - 1) * 15,
        ] {
            assert_eq!(reduce_u64(x, qq, u64::MAX / qq) as u64, x % qq);
        }
    }

    #[test]
    fn ntt_round_trip_and_product() {
        let (be, mut rng) = setup();
        let n = be.n();
        let q = be.moduli()[1].value();
        let a = random_limb(&mut rng, q, n);
        let mut x = a.clone();
        be.ntt_fwd(1, &mut x);
        be.ntt_inv(1, &mut x);
        assert_eq!(x, a);
        // X · X^(N-1) = X^N = -1 in the negacyclic ring.
        let mut u = vec![0; n];
        let mut v = vec![0; n];
        u[1] = 1;
        v[n - 1] = 1;
        be.ntt_fwd(1, &mut u);
        be.ntt_fwd(1, &mut v);
        be.mul_assign(1, &mut u, &v);
        be.ntt_inv(1, &mut u);
        assert_eq!(u[0], q - 1);
        assert!(u[1..].iter().all(|&c| c == 0));
    }
}

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

use crate::ntt::{LazyNtt, mul_shoup_lazy};
use crate::simd::Isa;

/// Limb-wise operations of RNS-CKKS.
pub trait Backend: Send + Sync {
    /// Ring degree `N`: the length of every limb.
    fn n(&self) -> usize;
    /// The primes, `Q` then `P`.
    fn moduli(&self) -> &[Modulus];
    /// Whether the unreduced `u64` accumulations ([`Backend::mac_lazy`],
    /// [`Backend::mac_lazy2`], [`Backend::reduce_lazy`],
    /// [`Backend::fold_lazy`]) run natively. A backend without them (the
    /// device: its jobs are modular) answers `false`, and callers use the
    /// reduced [`Backend::mac`] / [`Backend::mac2`] instead (the same
    /// result: the arithmetic is exact either way).
    fn lazy_accumulation(&self) -> bool {
        true
    }

    /// In-place forward negacyclic NTT modulo prime `m` (ola-arith's
    /// definition: natural in, bit-reversed out).
    fn ntt_fwd(&self, m: usize, a: &mut [u32]);
    /// In-place inverse NTT modulo prime `m`, including `N^-1`.
    fn ntt_inv(&self, m: usize, a: &mut [u32]);
    /// [`Backend::ntt_inv`] then `a = a · c` for a reduced constant `c`
    /// (the first step of a base conversion). The CPU backend folds `c`
    /// into the transform's `N^-1`; the result is the same words.
    fn ntt_inv_mul_const(&self, m: usize, a: &mut [u32], c: u32) {
        self.ntt_inv(m, a);
        self.mul_const_assign(m, a, c);
    }

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
    /// [`Backend::lincomb`] for several targets over the same inputs:
    /// `out` holds `ms.len()` limbs one after the other, limb `k` the
    /// combination with constants `consts[k]` modulo prime `ms[k]`. (The
    /// CPU backend walks the inputs once, a cache-sized slice at a time,
    /// for all targets; a device may simply loop.)
    fn lincomb_multi(&self, ms: &[usize], inputs: &[&[u32]], consts: &[&[u32]], out: &mut [u32]) {
        let n = self.n();
        assert!(ms.len() == consts.len() && out.len() == ms.len() * n);
        for ((&m, c), o) in ms.iter().zip(consts).zip(out.chunks_exact_mut(n)) {
            self.lincomb(m, inputs, c, o);
        }
    }
    /// `acc += a · b` without reduction (products of reduced inputs are
    /// below `2^60`, so up to [`LAZY_MAC_TERMS`] terms may be accumulated
    /// before [`Backend::reduce_lazy`]).
    fn mac_lazy(&self, a: &[u32], b: &[u32], acc: &mut [u64]);
    /// `acc0 += a · b0` and `acc1 += a · b1`, reduced (the key-switching
    /// inner product multiplies each extended limb by both halves of a
    /// key; one pass reads `a` once).
    fn mac2(
        &self,
        m: usize,
        a: &[u32],
        b0: &[u32],
        b1: &[u32],
        acc0: &mut [u32],
        acc1: &mut [u32],
    ) {
        self.mac(m, a, b0, acc0);
        self.mac(m, a, b1, acc1);
    }
    /// `out0 = a · b0` and `out1 = a · b1` (the first digit of the same
    /// inner product).
    fn mul2(
        &self,
        m: usize,
        a: &[u32],
        b0: &[u32],
        b1: &[u32],
        out0: &mut [u32],
        out1: &mut [u32],
    ) {
        self.mul(m, a, b0, out0);
        self.mul(m, a, b1, out1);
    }
    /// `acc0 += a · b0` and `acc1 += a · b1`, lazily (see
    /// [`Backend::mac_lazy`]).
    fn mac_lazy2(&self, a: &[u32], b0: &[u32], b1: &[u32], acc0: &mut [u64], acc1: &mut [u64]) {
        self.mac_lazy(a, b0, acc0);
        self.mac_lazy(a, b1, acc1);
    }
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
/// (The scalar reference the vector kernels' [`Red::reduce64`] is tested
/// against.)
#[cfg(test)]
#[inline(always)]
fn reduce_u64(x: u64, q: u64, ratio: u64) -> u32 {
    let est = ((x as u128 * ratio as u128) >> 64) as u64;
    let r = x - est * q;
    (if r >= q { r - q } else { r }) as u32
}

/// Reduction constants of one prime `q < 2^30`, all in 32-bit words so
/// that the kernels vectorise (no 64×64-bit products).
#[derive(Clone, Copy, Debug)]
struct Red {
    q: u32,
    /// `2^32 mod q` and its Shoup companion.
    r32: u32,
    r32s: u32,
    /// `floor(2^32 / q)`: the Shoup companion of 1.
    one_s: u32,
}

impl Red {
    fn new(q: u32) -> Self {
        let r32 = ((1u64 << 32) % q as u64) as u32;
        Red {
            q,
            r32,
            r32s: 0,
            one_s: ((1u64 << 32) / q as u64) as u32,
        }
        .with_shoup()
    }

    fn with_shoup(mut self) -> Self {
        self.r32s = (((self.r32 as u64) << 32) / self.q as u64) as u32;
        self
    }

    /// `x mod q` for `x < 4q`.
    #[inline(always)]
    fn fold4(self, x: u32) -> u32 {
        let two_q = 2 * self.q;
        let x = if x >= two_q { x - two_q } else { x };
        if x >= self.q { x - self.q } else { x }
    }

    /// `x mod q` for any `u32`.
    #[inline(always)]
    fn reduce32(self, x: u32) -> u32 {
        self.fold4(mul_shoup_lazy(x, 1, self.one_s, self.q))
    }

    /// `x mod q` for any `u64`: `x = hi·2^32 + lo` and
    /// `hi·(2^32 mod q) + lo`, each term by Shoup to `[0, 2q)`.
    #[inline(always)]
    fn reduce64(self, x: u64) -> u32 {
        let hi = mul_shoup_lazy((x >> 32) as u32, self.r32, self.r32s, self.q);
        let lo = mul_shoup_lazy(x as u32, 1, self.one_s, self.q);
        self.fold4(hi + lo)
    }

    #[inline(always)]
    fn add(self, a: u32, b: u32) -> u32 {
        let s = a + b;
        if s >= self.q { s - self.q } else { s }
    }

    #[inline(always)]
    fn sub(self, a: u32, b: u32) -> u32 {
        let s = a + self.q - b;
        if s >= self.q { s - self.q } else { s }
    }

    /// `x · y mod q`.
    #[inline(always)]
    fn mul(self, x: u32, y: u32) -> u32 {
        self.reduce64(x as u64 * y as u64)
    }

    /// `acc + x · y mod q`.
    #[inline(always)]
    fn mac(self, acc: u32, x: u32, y: u32) -> u32 {
        self.reduce64(acc as u64 + x as u64 * y as u64)
    }

    /// `x · c mod q` for any `x < 2^32`, `c < q` with `cs` its companion.
    #[inline(always)]
    fn mul_shoup(self, x: u32, c: u32, cs: u32) -> u32 {
        let r = mul_shoup_lazy(x, c, cs, self.q);
        if r >= self.q { r - self.q } else { r }
    }

    fn shoup(self, c: u32) -> u32 {
        (((c as u64) << 32) / self.q as u64) as u32
    }
}

// Element-wise walkers the kernels are written with: plain zipped loops
// that LLVM vectorises once inlined into a kernel.

/// `a[k] = f(a[k])`.
#[inline(always)]
fn update<T: Copy>(a: &mut [T], f: impl Fn(T) -> T) {
    for x in a.iter_mut() {
        *x = f(*x);
    }
}

/// `a[k] = f(a[k], b[k])`.
#[inline(always)]
fn zip_update<T: Copy, U: Copy>(a: &mut [T], b: &[U], f: impl Fn(T, U) -> T) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = f(*x, y);
    }
}

/// `acc[k] = f(acc[k], a[k], b[k])`.
#[inline(always)]
fn zip2_update<T: Copy>(acc: &mut [T], a: &[u32], b: &[u32], f: impl Fn(T, u32, u32) -> T) {
    for ((o, &x), &y) in acc.iter_mut().zip(a).zip(b) {
        *o = f(*o, x, y);
    }
}

/// `acc0[k] = f(acc0[k], a[k], b0[k])` and `acc1[k] = f(acc1[k], a[k],
/// b1[k])` in one pass over `a`.
#[inline(always)]
fn pair_update<T: Copy>(
    acc0: &mut [T],
    acc1: &mut [T],
    a: &[u32],
    b0: &[u32],
    b1: &[u32],
    f: impl Fn(T, u32, u32) -> T,
) {
    for ((((o0, o1), &x), &y0), &y1) in acc0.iter_mut().zip(acc1.iter_mut()).zip(a).zip(b0).zip(b1)
    {
        *o0 = f(*o0, x, y0);
        *o1 = f(*o1, x, y1);
    }
}

// The kernels too long for one line.

#[inline(always)]
fn lincomb_k(r: Red, inputs: &[&[u32]], consts: &[u32], out: &mut [u32]) {
    let n = out.len();
    let mut acc = [0u64; LINCOMB_CHUNK];
    for start in (0..n).step_by(LINCOMB_CHUNK) {
        let len = LINCOMB_CHUNK.min(n - start);
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
                *a = r.reduce64(*a) as u64;
            }
        }
        for (o, &a) in out[start..start + len].iter_mut().zip(acc.iter()) {
            *o = a as u32;
        }
    }
}

/// Coefficients a [`lincomb_multi_k`] block holds in registers: one
/// AVX-512 register of `u32`, two of `u64` accumulators per target.
const LC_LANES: usize = 16;
/// Targets a [`lincomb_multi_k`] pass computes together: each input block
/// is loaded and widened once for all of them, and `4 × 2` accumulator
/// registers plus the inputs fit the 32 of AVX-512.
const LC_GROUP: usize = 4;

/// All targets of [`Backend::lincomb_multi`], one cache-sized slice of
/// coefficients at a time, so the inputs are read from memory once; within
/// it, [`LC_LANES`] coefficients of [`LC_GROUP`] targets accumulate in
/// registers over all inputs (a matrix-vector product with one reduction
/// per batch of [`LINCOMB_BATCH`] inputs) and are stored as whole vectors.
#[inline(always)]
fn lincomb_multi_k(reds: &[Red], inputs: &[&[u32]], consts: &[&[u32]], out: &mut [u32]) {
    let n = inputs.first().map_or(0, |x| x.len());
    if !n.is_multiple_of(LC_LANES) {
        for ((&r, cs), o) in reds.iter().zip(consts).zip(out.chunks_exact_mut(n)) {
            lincomb_k(r, inputs, cs, o);
        }
        return;
    }
    // Constants input-major per group, `cw[g][i][t]` (kept as `u32` so
    // that the products are 32×32-bit ones, `vpmuludq`).
    let groups = reds.len().div_ceil(LC_GROUP);
    let mut cw = vec![[0u32; LC_GROUP]; groups * inputs.len()];
    for (t, cs) in consts.iter().enumerate() {
        let (g, k) = (t / LC_GROUP, t % LC_GROUP);
        for (i, &c) in cs.iter().enumerate() {
            cw[g * inputs.len() + i][k] = c;
        }
    }
    for start in (0..n).step_by(LINCOMB_CHUNK) {
        let len = LINCOMB_CHUNK.min(n - start);
        for (g, (rs, outs)) in reds
            .chunks(LC_GROUP)
            .zip(out.chunks_mut(LC_GROUP * n))
            .enumerate()
        {
            let cw = &cw[g * inputs.len()..(g + 1) * inputs.len()];
            match rs.len() {
                4 => lincomb_group::<4>(rs, inputs, cw, outs, start, len),
                3 => lincomb_group::<3>(rs, inputs, cw, outs, start, len),
                2 => lincomb_group::<2>(rs, inputs, cw, outs, start, len),
                _ => lincomb_group::<1>(rs, inputs, cw, outs, start, len),
            }
        }
    }
}

/// `T` targets of [`lincomb_multi_k`] over coefficients `start..start +
/// len`: `outs` holds their `T` limbs, `cw[i][t]` the constant of input `i`
/// for target `t`.
#[inline(always)]
fn lincomb_group<const T: usize>(
    reds: &[Red],
    inputs: &[&[u32]],
    cw: &[[u32; LC_GROUP]],
    outs: &mut [u32],
    start: usize,
    len: usize,
) {
    let n = outs.len() / T;
    for blk in (start..start + len).step_by(LC_LANES) {
        let mut acc = [[0u64; LC_LANES]; T];
        for (batch_in, batch_c) in inputs.chunks(LINCOMB_BATCH).zip(cw.chunks(LINCOMB_BATCH)) {
            for (x, c) in batch_in.iter().zip(batch_c) {
                let x: &[u32; LC_LANES] = x[blk..blk + LC_LANES].try_into().expect("lanes");
                for t in 0..T {
                    for l in 0..LC_LANES {
                        acc[t][l] += x[l] as u64 * c[t] as u64;
                    }
                }
            }
            // Keep every accumulator below q so the next batch cannot
            // overflow (and the last one leaves the result reduced).
            for t in 0..T {
                for a in acc[t].iter_mut() {
                    *a = reds[t].reduce64(*a) as u64;
                }
            }
        }
        for (t, a) in acc.iter().enumerate() {
            let o: &mut [u32; LC_LANES] = (&mut outs[t * n + blk..t * n + blk + LC_LANES])
                .try_into()
                .expect("lanes");
            for l in 0..LC_LANES {
                o[l] = a[l] as u32;
            }
        }
    }
}

/// `round(Σ x_i·w_i / 2^64)` with `w_i = a_i·2^23 + b_i` (`a_i, b_i <
/// 2^23`): two sums of 32×32-bit products (vector friendly, each term below
/// `2^53`, so up to `2^11` inputs), combined once per coefficient in 128
/// bits. Exact, so equal to the direct `u128` sum.
#[inline(always)]
fn round_fixed_k(inputs: &[&[u32]], weights: &[u64], out: &mut [u32]) {
    let n = out.len();
    let mut sa = [0u64; LINCOMB_CHUNK];
    let mut sb = [0u64; LINCOMB_CHUNK];
    for start in (0..n).step_by(LINCOMB_CHUNK) {
        let len = LINCOMB_CHUNK.min(n - start);
        let (sa, sb) = (&mut sa[..len], &mut sb[..len]);
        sa.fill(0);
        sb.fill(0);
        for (input, &w) in inputs.iter().zip(weights) {
            let (a, b) = (w >> 23, w & ((1 << 23) - 1));
            let input = &input[start..start + len];
            for (s, &x) in sa.iter_mut().zip(input) {
                *s += x as u64 * a;
            }
            for (s, &x) in sb.iter_mut().zip(input) {
                *s += x as u64 * b;
            }
        }
        for ((o, &a), &b) in out[start..start + len]
            .iter_mut()
            .zip(sa.iter())
            .zip(sb.iter())
        {
            let total = ((a as u128) << 23) + b as u128;
            *o = ((total + (1 << 63)) >> 64) as u32;
        }
    }
}

// The limb loops, one line each over the walkers below, compiled per
// instruction set.
crate::simd::multiversion! {
    fn add_d(r: Red, a: &[u32], b: &[u32], out: &mut [u32]) { zip2_update(out, a, b, |_, x, y| r.add(x, y)) }
    fn add_assign_d(r: Red, a: &mut [u32], b: &[u32]) { zip_update(a, b, |x, y| r.add(x, y)) }
    fn sub_d(r: Red, a: &[u32], b: &[u32], out: &mut [u32]) { zip2_update(out, a, b, |_, x, y| r.sub(x, y)) }
    fn sub_assign_d(r: Red, a: &mut [u32], b: &[u32]) { zip_update(a, b, |x, y| r.sub(x, y)) }
    fn neg_assign_d(r: Red, a: &mut [u32]) { update(a, |x| r.sub(0, x)) }
    fn mul_d(r: Red, a: &[u32], b: &[u32], out: &mut [u32]) { zip2_update(out, a, b, |_, x, y| r.mul(x, y)) }
    fn mul_assign_d(r: Red, a: &mut [u32], b: &[u32]) { zip_update(a, b, |x, y| r.mul(x, y)) }
    fn mac_d(r: Red, a: &[u32], b: &[u32], acc: &mut [u32]) { zip2_update(acc, a, b, |o, x, y| r.mac(o, x, y)) }
    fn mac2_d(r: Red, a: &[u32], b0: &[u32], b1: &[u32], acc0: &mut [u32], acc1: &mut [u32]) {
        pair_update(acc0, acc1, a, b0, b1, |o, x, y| r.mac(o, x, y))
    }
    fn mul2_d(r: Red, a: &[u32], b0: &[u32], b1: &[u32], out0: &mut [u32], out1: &mut [u32]) {
        pair_update(out0, out1, a, b0, b1, |_, x, y| r.mul(x, y))
    }
    fn mul_const_assign_d(r: Red, a: &mut [u32], c: u32, cs: u32) { update(a, |x| r.mul_shoup(x, c, cs)) }
    fn mac_const_d(r: Red, a: &[u32], c: u32, cs: u32, acc: &mut [u32]) {
        zip_update(acc, a, |o, x| r.add(o, r.mul_shoup(x, c, cs)))
    }
    fn add_const_assign_d(r: Red, a: &mut [u32], c: u32) { update(a, |x| r.add(x, c)) }
    fn sub_mul_const_assign_d(r: Red, a: &mut [u32], b: &[u32], c: u32, cs: u32) {
        zip_update(a, b, |x, y| r.mul_shoup(r.sub(x, y), c, cs))
    }
    fn reduce_d(r: Red, a: &[u32], out: &mut [u32]) { zip_update(out, a, |_, x| r.reduce32(x)) }
    fn lincomb_d(r: Red, inputs: &[&[u32]], consts: &[u32], out: &mut [u32]) => lincomb_k;
    fn lincomb_multi_d(reds: &[Red], inputs: &[&[u32]], consts: &[&[u32]], out: &mut [u32]) => lincomb_multi_k;
    fn mac_lazy_d(a: &[u32], b: &[u32], acc: &mut [u64]) { zip2_update(acc, a, b, |o, x, y| o + x as u64 * y as u64) }
    fn mac_lazy2_d(a: &[u32], b0: &[u32], b1: &[u32], acc0: &mut [u64], acc1: &mut [u64]) {
        pair_update(acc0, acc1, a, b0, b1, |o, x, y| o + x as u64 * y as u64)
    }
    fn reduce_lazy_d(r: Red, acc: &[u64], out: &mut [u32]) { zip_update(out, acc, |_, x| r.reduce64(x)) }
    fn fold_lazy_d(r: Red, acc: &mut [u64]) { update(acc, |x| r.reduce64(x) as u64) }
    fn round_fixed_d(inputs: &[&[u32]], weights: &[u64], out: &mut [u32]) => round_fixed_k;
}

/// The CPU backend: exact arithmetic modulo ola-arith's primes with its
/// NTT definition, transformed by [`LazyNtt`] (tested bit-identical to
/// [`NttPlan`]). Kernels run with the widest vector extension the CPU has
/// ([`Isa::detect`]); every choice gives the same bits.
#[derive(Clone, Debug)]
pub struct CpuBackend {
    n: usize,
    moduli: Vec<Modulus>,
    plans: Vec<LazyNtt>,
    red: Vec<Red>,
    isa: Isa,
}

impl CpuBackend {
    /// Plans the NTT of size `n` for every prime, with the kernels of the
    /// widest vector extension of this CPU.
    ///
    /// # Panics
    /// If a prime does not support size `n` or exceeds 30 bits (parameters
    /// built by [`crate::Params`] never do).
    pub fn new(n: usize, moduli: &[Modulus]) -> Self {
        Self::with_isa(n, moduli, Isa::detect())
    }

    /// Like [`CpuBackend::new`] with the kernels of `isa` (for instance
    /// [`Isa::SCALAR`], the reference the vector code is tested against).
    pub fn with_isa(n: usize, moduli: &[Modulus], isa: Isa) -> Self {
        let plans = moduli
            .iter()
            .map(|&m| LazyNtt::new(&NttPlan::new(n, m).expect("NTT-friendly prime")))
            .collect();
        CpuBackend {
            n,
            moduli: moduli.to_vec(),
            plans,
            red: moduli.iter().map(|m| Red::new(m.value())).collect(),
            isa,
        }
    }

    /// The instruction set the kernels run with.
    pub fn isa(&self) -> Isa {
        self.isa
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
const LINCOMB_CHUNK: usize = 128;

impl Backend for CpuBackend {
    fn n(&self) -> usize {
        self.n
    }

    fn moduli(&self) -> &[Modulus] {
        &self.moduli
    }

    fn ntt_fwd(&self, m: usize, a: &mut [u32]) {
        self.plans[m].fwd(self.isa, a);
    }

    fn ntt_inv(&self, m: usize, a: &mut [u32]) {
        self.plans[m].inv(self.isa, a);
    }

    fn ntt_inv_mul_const(&self, m: usize, a: &mut [u32], c: u32) {
        self.plans[m].inv_scaled(self.isa, a, c);
    }

    fn add(&self, m: usize, a: &[u32], b: &[u32], out: &mut [u32]) {
        same_len(self.n, &[a.len(), b.len(), out.len()]);
        add_d(self.isa, self.red[m], a, b, out);
    }

    fn add_assign(&self, m: usize, a: &mut [u32], b: &[u32]) {
        same_len(self.n, &[a.len(), b.len()]);
        add_assign_d(self.isa, self.red[m], a, b);
    }

    fn sub(&self, m: usize, a: &[u32], b: &[u32], out: &mut [u32]) {
        same_len(self.n, &[a.len(), b.len(), out.len()]);
        sub_d(self.isa, self.red[m], a, b, out);
    }

    fn sub_assign(&self, m: usize, a: &mut [u32], b: &[u32]) {
        same_len(self.n, &[a.len(), b.len()]);
        sub_assign_d(self.isa, self.red[m], a, b);
    }

    fn neg_assign(&self, m: usize, a: &mut [u32]) {
        same_len(self.n, &[a.len()]);
        neg_assign_d(self.isa, self.red[m], a);
    }

    fn mul(&self, m: usize, a: &[u32], b: &[u32], out: &mut [u32]) {
        same_len(self.n, &[a.len(), b.len(), out.len()]);
        mul_d(self.isa, self.red[m], a, b, out);
    }

    fn mul_assign(&self, m: usize, a: &mut [u32], b: &[u32]) {
        same_len(self.n, &[a.len(), b.len()]);
        mul_assign_d(self.isa, self.red[m], a, b);
    }

    fn mac(&self, m: usize, a: &[u32], b: &[u32], acc: &mut [u32]) {
        same_len(self.n, &[a.len(), b.len(), acc.len()]);
        mac_d(self.isa, self.red[m], a, b, acc);
    }

    fn mac2(
        &self,
        m: usize,
        a: &[u32],
        b0: &[u32],
        b1: &[u32],
        acc0: &mut [u32],
        acc1: &mut [u32],
    ) {
        same_len(
            self.n,
            &[a.len(), b0.len(), b1.len(), acc0.len(), acc1.len()],
        );
        mac2_d(self.isa, self.red[m], a, b0, b1, acc0, acc1);
    }

    fn mul2(
        &self,
        m: usize,
        a: &[u32],
        b0: &[u32],
        b1: &[u32],
        out0: &mut [u32],
        out1: &mut [u32],
    ) {
        same_len(
            self.n,
            &[a.len(), b0.len(), b1.len(), out0.len(), out1.len()],
        );
        mul2_d(self.isa, self.red[m], a, b0, b1, out0, out1);
    }

    fn mul_const_assign(&self, m: usize, a: &mut [u32], c: u32) {
        same_len(self.n, &[a.len()]);
        let r = self.red[m];
        mul_const_assign_d(self.isa, r, a, c, r.shoup(c));
    }

    fn mac_const(&self, m: usize, a: &[u32], c: u32, acc: &mut [u32]) {
        same_len(self.n, &[a.len(), acc.len()]);
        let r = self.red[m];
        mac_const_d(self.isa, r, a, c, r.shoup(c), acc);
    }

    fn add_const_assign(&self, m: usize, a: &mut [u32], c: u32) {
        same_len(self.n, &[a.len()]);
        add_const_assign_d(self.isa, self.red[m], a, c);
    }

    fn sub_mul_const_assign(&self, m: usize, a: &mut [u32], b: &[u32], c: u32) {
        same_len(self.n, &[a.len(), b.len()]);
        let r = self.red[m];
        sub_mul_const_assign_d(self.isa, r, a, b, c, r.shoup(c));
    }

    fn reduce(&self, m: usize, a: &[u32], out: &mut [u32]) {
        same_len(self.n, &[a.len(), out.len()]);
        reduce_d(self.isa, self.red[m], a, out);
    }

    fn lincomb(&self, m: usize, inputs: &[&[u32]], consts: &[u32], out: &mut [u32]) {
        assert_eq!(inputs.len(), consts.len(), "one constant per input");
        same_len(self.n, &[out.len()]);
        for input in inputs {
            same_len(self.n, &[input.len()]);
        }
        lincomb_d(self.isa, self.red[m], inputs, consts, out);
    }

    fn lincomb_multi(&self, ms: &[usize], inputs: &[&[u32]], consts: &[&[u32]], out: &mut [u32]) {
        assert_eq!(ms.len(), consts.len(), "one constant list per target");
        assert_eq!(out.len(), ms.len() * self.n, "one output limb per target");
        for input in inputs {
            same_len(self.n, &[input.len()]);
        }
        for c in consts {
            assert_eq!(c.len(), inputs.len(), "one constant per input");
        }
        if inputs.is_empty() {
            out.fill(0);
            return;
        }
        let reds: Vec<Red> = ms.iter().map(|&m| self.red[m]).collect();
        lincomb_multi_d(self.isa, &reds, inputs, consts, out);
    }

    fn mac_lazy(&self, a: &[u32], b: &[u32], acc: &mut [u64]) {
        same_len(self.n, &[a.len(), b.len(), acc.len()]);
        mac_lazy_d(self.isa, a, b, acc);
    }

    fn mac_lazy2(&self, a: &[u32], b0: &[u32], b1: &[u32], acc0: &mut [u64], acc1: &mut [u64]) {
        same_len(
            self.n,
            &[a.len(), b0.len(), b1.len(), acc0.len(), acc1.len()],
        );
        mac_lazy2_d(self.isa, a, b0, b1, acc0, acc1);
    }

    fn reduce_lazy(&self, m: usize, acc: &[u64], out: &mut [u32]) {
        same_len(self.n, &[acc.len(), out.len()]);
        reduce_lazy_d(self.isa, self.red[m], acc, out);
    }

    fn fold_lazy(&self, m: usize, acc: &mut [u64]) {
        same_len(self.n, &[acc.len()]);
        fold_lazy_d(self.isa, self.red[m], acc);
    }

    fn round_fixed(&self, inputs: &[&[u32]], weights: &[u64], out: &mut [u32]) {
        assert_eq!(inputs.len(), weights.len(), "one weight per input");
        assert!(
            inputs.len() <= 1 << 11 && weights.iter().all(|&w| w < 1 << 46),
            "round_fixed takes at most 2^11 inputs and weights below 2^46"
        );
        same_len(self.n, &[out.len()]);
        for input in inputs {
            same_len(self.n, &[input.len()]);
        }
        round_fixed_d(self.isa, inputs, weights, out);
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
    fn every_instruction_set_matches_u128() {
        // The vector kernels and the scalar reference, on the batched
        // operations of key switching (more inputs than one batch).
        let (detected, mut rng) = setup();
        let n = detected.n();
        let moduli = detected.moduli().to_vec();
        for isa in Isa::all_supported() {
            let be = CpuBackend::with_isa(n, &moduli, isa);
            let inputs: Vec<Vec<u32>> =
                (0..18).map(|_| random_limb(&mut rng, 1 << 30, n)).collect();
            let refs: Vec<&[u32]> = inputs.iter().map(|v| v.as_slice()).collect();
            let ms = [0usize, 1, 2];
            let consts: Vec<Vec<u32>> = ms
                .iter()
                .map(|&m| {
                    (0..18)
                        .map(|_| rng.random_range(0..moduli[m].value()))
                        .collect()
                })
                .collect();
            let crefs: Vec<&[u32]> = consts.iter().map(|c| c.as_slice()).collect();
            let mut out = vec![0u32; 3 * n];
            be.lincomb_multi(&ms, &refs, &crefs, &mut out);
            for (t, &m) in ms.iter().enumerate() {
                let q = moduli[m].value() as u128;
                for i in 0..n {
                    let want = (0..18)
                        .map(|k| inputs[k][i] as u128 * consts[t][k] as u128)
                        .sum::<u128>()
                        % q;
                    assert_eq!(out[t * n + i] as u128, want, "{:?} target {t}", be.isa());
                }
            }
            let weights: Vec<u64> = (0..18).map(|_| rng.random_range(0..1u64 << 46)).collect();
            be.round_fixed(&refs, &weights, &mut out[..n]);
            for i in 0..n {
                let sum: u128 = (0..18)
                    .map(|k| inputs[k][i] as u128 * weights[k] as u128)
                    .sum();
                assert_eq!(out[i] as u128, (sum + (1 << 63)) >> 64, "{:?}", be.isa());
            }
            let q = moduli[1].value();
            let (a, b0, b1) = (
                random_limb(&mut rng, q, n),
                random_limb(&mut rng, q, n),
                random_limb(&mut rng, q, n),
            );
            let (mut o0, mut o1) = (vec![0; n], vec![0; n]);
            be.mul2(1, &a, &b0, &b1, &mut o0, &mut o1);
            be.mac2(1, &a, &b0, &b1, &mut o0, &mut o1);
            let q = q as u128;
            for i in 0..n {
                assert_eq!(o0[i] as u128, 2 * (a[i] as u128 * b0[i] as u128 % q) % q);
                assert_eq!(o1[i] as u128, 2 * (a[i] as u128 * b1[i] as u128 % q) % q);
            }
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
        // The scaled inverse equals the inverse then the constant product.
        let c = rng.random_range(0..q);
        let mut y = a.clone();
        be.ntt_fwd(1, &mut y);
        be.ntt_inv_mul_const(1, &mut y, c);
        let mut want = a.clone();
        be.mul_const_assign(1, &mut want, c);
        assert_eq!(y, want);
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

//! A fast negacyclic NTT: the transform of [`NttPlan`] (same roots, same
//! bit-reversed output order, read from the plan's own twiddle tables),
//! computed with Harvey's lazy butterflies, two stages fused per pass where
//! the blocks are large, and Shoup twiddles, vectorised per instruction set
//! (see [`crate::simd`]). Primes below 2^30 let residues float in `[0, 4q)`
//! inside a `u32`, so the butterflies skip most conditional subtractions;
//! outputs are fully reduced at the end, hence bit-identical to the plan's
//! `fwd` / `inv` for reduced inputs (the tests compare them word for word
//! at every instruction set). Used by ola-ckks's CPU backend and by
//! ola-sim's fast path.

use alloc::vec::Vec;

use crate::simd::Isa;
use crate::{Modulus, NttPlan};

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

/// `x · w mod q` up to one extra `q`: result in `[0, 2q)` for any `x < 2^32`,
/// given `w < q < 2^31` and its Shoup companion `ws = ⌊w · 2^32 / q⌋`
/// ([`Modulus::shoup`]).
#[inline(always)]
pub fn mul_shoup_lazy(x: u32, w: u32, ws: u32, q: u32) -> u32 {
    let quot = ((x as u64 * ws as u64) >> 32) as u32;
    x.wrapping_mul(w).wrapping_sub(quot.wrapping_mul(q))
}

/// Forward (Cooley–Tukey) butterfly on lazy residues: `x, y < 4q` in,
/// `x, y < 4q` out.
#[inline(always)]
fn ct(x: &mut u32, y: &mut u32, w: u32, ws: u32, q: u32) {
    let two_q = 2 * q;
    let u = if *x >= two_q { *x - two_q } else { *x };
    let v = mul_shoup_lazy(*y, w, ws, q);
    *x = u + v;
    *y = u + two_q - v;
}

/// Inverse (Gentleman–Sande) butterfly: `x, y < 2q` in and out.
#[inline(always)]
fn gs(x: &mut u32, y: &mut u32, w: u32, ws: u32, q: u32) {
    let two_q = 2 * q;
    let (u, v) = (*x, *y);
    let s = u + v;
    *x = if s >= two_q { s - two_q } else { s };
    *y = mul_shoup_lazy(u + two_q - v, w, ws, q);
}

/// Lanes processed together: fixed-size arrays the compiler turns into
/// vector registers (one AVX-512 register, two AVX2 ones).
const W: usize = 16;

/// One stage of butterflies `bf` over `a`, whose blocks are `2t` words with
/// one twiddle per block (`w[i]`, `ws[i]` for block `i`). Blocks of at
/// least `2·W` words run along their halves `W` lanes at a time; smaller
/// ones are packed, `W / t` blocks per vector, by constant shuffles.
#[inline(always)]
fn stage(
    a: &mut [u32],
    t: usize,
    w: &[u32],
    ws: &[u32],
    q: u32,
    bf: impl Fn(&mut u32, &mut u32, u32, u32, u32) + Copy,
) {
    if a.len() < 2 * W {
        // Rings too small to pack: plain butterflies.
        for ((block, &w), &ws) in a.chunks_exact_mut(2 * t).zip(w).zip(ws) {
            let (lo, hi) = block.split_at_mut(t);
            for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                bf(x, y, w, ws, q);
            }
        }
        return;
    }
    match t {
        1 => stage_packed::<1>(a, w, ws, q, bf),
        2 => stage_packed::<2>(a, w, ws, q, bf),
        4 => stage_packed::<4>(a, w, ws, q, bf),
        8 => stage_packed::<8>(a, w, ws, q, bf),
        _ => {
            for ((block, &w), &ws) in a.chunks_exact_mut(2 * t).zip(w).zip(ws) {
                let (lo, hi) = block.split_at_mut(t);
                for (x, y) in lo
                    .as_chunks_mut::<W>()
                    .0
                    .iter_mut()
                    .zip(hi.as_chunks_mut::<W>().0.iter_mut())
                {
                    let (mut xv, mut yv) = (*x, *y);
                    for k in 0..W {
                        bf(&mut xv[k], &mut yv[k], w, ws, q);
                    }
                    *x = xv;
                    *y = yv;
                }
            }
        }
    }
}

#[inline(always)]
fn stage_packed<const T: usize>(
    a: &mut [u32],
    w: &[u32],
    ws: &[u32],
    q: u32,
    bf: impl Fn(&mut u32, &mut u32, u32, u32, u32) + Copy,
) {
    let per = W / T;
    for (s, sb) in a.as_chunks_mut::<{ 2 * W }>().0.iter_mut().enumerate() {
        let (w, ws) = (&w[s * per..(s + 1) * per], &ws[s * per..(s + 1) * per]);
        let mut x = [0u32; W];
        let mut y = [0u32; W];
        let mut wv = [0u32; W];
        let mut wsv = [0u32; W];
        for b in 0..per {
            for j in 0..T {
                x[b * T + j] = sb[b * 2 * T + j];
                y[b * T + j] = sb[b * 2 * T + T + j];
                wv[b * T + j] = w[b];
                wsv[b * T + j] = ws[b];
            }
        }
        for k in 0..W {
            bf(&mut x[k], &mut y[k], wv[k], wsv[k], q);
        }
        for b in 0..per {
            for j in 0..T {
                sb[b * 2 * T + j] = x[b * T + j];
                sb[b * 2 * T + T + j] = y[b * T + j];
            }
        }
    }
}

/// Calls `f` on matching `W`-word chunks of the four quarters of `block`
/// (two fused radix-2 stages pair word `k` of every quarter), each chunk
/// copied into locals so the butterflies work in registers.
#[inline(always)]
fn for_each_quarter_chunk(
    block: &mut [u32],
    mut f: impl FnMut(&mut [u32; W], &mut [u32; W], &mut [u32; W], &mut [u32; W]),
) {
    let quarter = block.len() / 4;
    let (lo, hi) = block.split_at_mut(2 * quarter);
    let (a0, b0) = lo.split_at_mut(quarter);
    let (c0, d0) = hi.split_at_mut(quarter);
    for (((xa, xb), xc), xd) in a0
        .as_chunks_mut::<W>()
        .0
        .iter_mut()
        .zip(b0.as_chunks_mut::<W>().0.iter_mut())
        .zip(c0.as_chunks_mut::<W>().0.iter_mut())
        .zip(d0.as_chunks_mut::<W>().0.iter_mut())
    {
        let (mut ra, mut rb, mut rc, mut rd) = (*xa, *xb, *xc, *xd);
        f(&mut ra, &mut rb, &mut rc, &mut rd);
        (*xa, *xb, *xc, *xd) = (ra, rb, rc, rd);
    }
}

/// The forward transform: stages of [`ct`] butterflies, then the final
/// reduction from `[0, 4q)`.
#[inline(always)]
fn fwd_kernel(p: &LazyNtt, a: &mut [u32]) {
    let n = a.len();
    let q = p.q;
    let mut t = n;
    let mut groups = 1;
    while groups < n {
        t >>= 1;
        if t >= 2 * W && n >= 4 * W {
            // Stages t and t/2 in one pass over the data.
            let (w1, w1s) = (&p.fwd_w[groups..2 * groups], &p.fwd_ws[groups..2 * groups]);
            let (w2, w2s) = (
                &p.fwd_w[2 * groups..4 * groups],
                &p.fwd_ws[2 * groups..4 * groups],
            );
            for (g, block) in a.chunks_exact_mut(2 * t).enumerate() {
                let (v1, v1s) = (w1[g], w1s[g]);
                let (v2, v2s, v3, v3s) = (w2[2 * g], w2s[2 * g], w2[2 * g + 1], w2s[2 * g + 1]);
                for_each_quarter_chunk(block, move |ra, rb, rc, rd| {
                    for k in 0..W {
                        ct(&mut ra[k], &mut rc[k], v1, v1s, q);
                        ct(&mut rb[k], &mut rd[k], v1, v1s, q);
                        ct(&mut ra[k], &mut rb[k], v2, v2s, q);
                        ct(&mut rc[k], &mut rd[k], v3, v3s, q);
                    }
                });
            }
            t >>= 1;
            groups <<= 2;
            continue;
        }
        let (w, ws) = (&p.fwd_w[groups..2 * groups], &p.fwd_ws[groups..2 * groups]);
        if t == 1 {
            // The last stage (always a single one: pairs need t ≥ 2W)
            // also reduces its outputs, saving a pass over the data.
            stage(a, t, w, ws, q, ct_reduced);
        } else {
            stage(a, t, w, ws, q, ct);
        }
        groups <<= 1;
    }
}

/// `x mod q` for `x < 4q`.
#[inline(always)]
fn fold4(x: u32, q: u32) -> u32 {
    let two_q = 2 * q;
    let r = if x >= two_q { x - two_q } else { x };
    if r >= q { r - q } else { r }
}

/// [`ct`] with both outputs reduced to `[0, q)`: the last forward stage.
#[inline(always)]
fn ct_reduced(x: &mut u32, y: &mut u32, w: u32, ws: u32, q: u32) {
    ct(x, y, w, ws, q);
    *x = fold4(*x, q);
    *y = fold4(*y, q);
}

/// The last inverse butterfly with the final factor folded in: `x` times
/// `f` and `y` times `w·f`, both reduced (`x, y < 2q` in).
#[inline(always)]
fn gs_scaled(x: &mut u32, y: &mut u32, (f, fs): (u32, u32), (wf, wfs): (u32, u32), q: u32) {
    let (u, v) = (*x, *y);
    let s = mul_shoup_lazy(u + v, f, fs, q);
    let d = mul_shoup_lazy(u + 2 * q - v, wf, wfs, q);
    *x = if s >= q { s - q } else { s };
    *y = if d >= q { d - q } else { d };
}

/// `a · b mod q` and its Shoup companion, for per-call constants.
fn mul_with_shoup(a: u32, b: u32, q: u32) -> (u32, u32) {
    let c = (a as u64 * b as u64 % q as u64) as u32;
    (c, (((c as u64) << 32) / q as u64) as u32)
}

/// The inverse transform: stages of [`gs`] butterflies, then the factor
/// `f` (`N^-1`, or `N^-1·c` for [`LazyNtt::inv_scaled`]) with its Shoup
/// companion — folded into the last pass when that pass fuses two stages.
#[inline(always)]
fn inv_kernel(p: &LazyNtt, a: &mut [u32], f: u32, fs: u32) {
    let n = a.len();
    let q = p.q;
    let mut t = 1;
    let mut groups = n >> 1;
    let mut scaled = false;
    while groups >= 1 {
        if t >= W && groups >= 2 && n >= 4 * W {
            // Stages t and 2t in one pass over the data.
            let (u, us) = (&p.inv_w[groups..2 * groups], &p.inv_ws[groups..2 * groups]);
            let half = groups / 2;
            let (v, vs) = (&p.inv_w[half..2 * half], &p.inv_ws[half..2 * half]);
            if groups == 2 {
                // The last pass (one block): the second stage multiplies
                // by f too.
                let (u0, u0s, u1, u1s) = (u[0], us[0], u[1], us[1]);
                let vf = mul_with_shoup(v[0], f, q);
                for_each_quarter_chunk(a, move |ra, rb, rc, rd| {
                    for k in 0..W {
                        gs(&mut ra[k], &mut rb[k], u0, u0s, q);
                        gs(&mut rc[k], &mut rd[k], u1, u1s, q);
                        gs_scaled(&mut ra[k], &mut rc[k], (f, fs), vf, q);
                        gs_scaled(&mut rb[k], &mut rd[k], (f, fs), vf, q);
                    }
                });
                scaled = true;
                break;
            }
            for (h, block) in a.chunks_exact_mut(4 * t).enumerate() {
                let (u0, u0s, u1, u1s) = (u[2 * h], us[2 * h], u[2 * h + 1], us[2 * h + 1]);
                let (v0, v0s) = (v[h], vs[h]);
                for_each_quarter_chunk(block, move |ra, rb, rc, rd| {
                    for k in 0..W {
                        gs(&mut ra[k], &mut rb[k], u0, u0s, q);
                        gs(&mut rc[k], &mut rd[k], u1, u1s, q);
                        gs(&mut ra[k], &mut rc[k], v0, v0s, q);
                        gs(&mut rb[k], &mut rd[k], v0, v0s, q);
                    }
                });
            }
            t <<= 2;
            groups >>= 2;
            continue;
        }
        let (w, ws) = (&p.inv_w[groups..2 * groups], &p.inv_ws[groups..2 * groups]);
        stage(a, t, w, ws, q, gs);
        t <<= 1;
        groups >>= 1;
    }
    if !scaled {
        for x in a.iter_mut() {
            let r = mul_shoup_lazy(*x, f, fs, q);
            *x = if r >= q { r - q } else { r };
        }
    }
}

crate::multiversion! {
    fn fwd_dispatch(p: &LazyNtt, a: &mut [u32]) => fwd_kernel;
    fn inv_dispatch(p: &LazyNtt, a: &mut [u32], f: u32, fs: u32) => inv_kernel;
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

    /// Forward transform (natural in, bit-reversed out), reduced inputs,
    /// with the kernels of `isa`.
    pub fn fwd(&self, isa: Isa, a: &mut [u32]) {
        assert_eq!(a.len(), 1 << self.log_n);
        fwd_dispatch(isa, self, a);
    }

    /// Inverse transform including `N^-1` (bit-reversed in, natural out).
    pub fn inv(&self, isa: Isa, a: &mut [u32]) {
        assert_eq!(a.len(), 1 << self.log_n);
        inv_dispatch(isa, self, a, self.n_inv, self.n_inv_s);
    }

    /// The inverse transform times a reduced constant `c < q`: the same
    /// words as [`LazyNtt::inv`] followed by a modular multiplication by
    /// `c`, with `c` folded into the final `N^-1` (no extra pass).
    pub fn inv_scaled(&self, isa: Isa, a: &mut [u32], c: u32) {
        assert_eq!(a.len(), 1 << self.log_n);
        assert!(c < self.q, "constant must be reduced");
        let (f, fs) = mul_with_shoup(self.n_inv, c, self.q);
        inv_dispatch(isa, self, a, f, fs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prime::ntt_primes;

    #[test]
    fn lazy_ntt_is_bit_identical_to_the_golden_plan() {
        // SplitMix64: reproducible inputs without a dependency.
        let mut state = 21u64;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        for bits in [20u32, 25, 29, 30] {
            // 7 and 11 end on a single inverse stage, 10 and 12 on a fused
            // pair (the factor folded in).
            for log_n in [1u32, 2, 3, 4, 5, 7, 10, 11, 12] {
                let q = ntt_primes(bits, log_n).next().unwrap();
                let plan = NttPlan::new(1 << log_n, Modulus::new(q).unwrap()).unwrap();
                let lazy = LazyNtt::new(&plan);
                for trial in 0..3 {
                    let mut a: Vec<u32> = (0..1 << log_n).map(|_| (next() % q) as u32).collect();
                    if trial == 0 {
                        a.fill(q as u32 - 1); // extreme values
                    }
                    let mut golden = a.clone();
                    plan.fwd(&mut golden);
                    for isa in Isa::all_supported() {
                        let mut fast = a.clone();
                        lazy.fwd(isa, &mut fast);
                        assert_eq!(fast, golden, "fwd q {q} N 2^{log_n} {isa:?}");
                    }
                    let spectrum = golden.clone();
                    plan.inv(&mut golden);
                    for isa in Isa::all_supported() {
                        let mut fast = spectrum.clone();
                        lazy.inv(isa, &mut fast);
                        assert_eq!(fast, golden, "inv q {q} N 2^{log_n} {isa:?}");
                        assert_eq!(fast, a);
                        // Scaled inverse: the inverse times c, word for word.
                        let c = (next() % q) as u32;
                        let mut scaled = spectrum.clone();
                        lazy.inv_scaled(isa, &mut scaled, c);
                        let m = Modulus::new(q).unwrap();
                        let want: Vec<u32> = a.iter().map(|&x| m.mul(x, c)).collect();
                        assert_eq!(scaled, want, "inv_scaled q {q} N 2^{log_n} {isa:?}");
                    }
                }
            }
        }
    }
}

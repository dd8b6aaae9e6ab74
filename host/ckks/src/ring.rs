//! RNS polynomials of `Z[X]/(X^N + 1)` and the ring operations of the
//! scheme: limb-wise arithmetic, fast base conversion, rescale (divide and
//! round by the last prime), the division by `P` of key switching, Galois
//! automorphisms and sampling. Every arithmetic step is a [`Backend`] call.

use std::sync::Arc;

use ola_arith::Modulus;
use rand::Rng;

use crate::backend::Backend;
use crate::params::{ERROR_BOUND, Params, SIGMA};

/// A polynomial in RNS form: limbs for the primes `q_0 … q_{k-1}` of `Q`
/// and, during key switching, `p_0 … p_{j-1}` of `P`. Limb-major storage
/// (the buffer is recycled through a per-thread pool when dropped).
#[derive(Debug, PartialEq, Eq)]
pub struct RnsPoly {
    n: usize,
    q_limbs: usize,
    p_limbs: usize,
    /// Index of `p_0` in the backend's prime list (= number of `Q` primes).
    p_offset: usize,
    ntt: bool,
    data: Vec<u32>,
}

impl RnsPoly {
    /// The zero polynomial with `q_limbs` + `p_limbs` limbs.
    pub fn zero(params: &Params, q_limbs: usize, p_limbs: usize, ntt: bool) -> Self {
        Self::with_buffer(params, q_limbs, p_limbs, ntt, take_zeroed)
    }

    /// A polynomial of this shape whose residues are unspecified (left
    /// from a recycled buffer): for outputs every limb of which is written
    /// before it is read.
    fn uninit(params: &Params, q_limbs: usize, p_limbs: usize, ntt: bool) -> Self {
        Self::with_buffer(params, q_limbs, p_limbs, ntt, take_buffer)
    }

    /// A polynomial of this shape on a pooled buffer from `take`.
    fn with_buffer(
        params: &Params,
        q_limbs: usize,
        p_limbs: usize,
        ntt: bool,
        take: fn(usize) -> Vec<u32>,
    ) -> Self {
        assert!(q_limbs <= params.q().len() && p_limbs <= params.p().len());
        let n = params.n();
        RnsPoly {
            n,
            q_limbs,
            p_limbs,
            p_offset: params.q().len(),
            ntt,
            data: take((q_limbs + p_limbs) * n),
        }
    }

    /// Ring degree.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of `Q` limbs.
    pub fn q_limbs(&self) -> usize {
        self.q_limbs
    }

    /// Number of `P` limbs.
    pub fn p_limbs(&self) -> usize {
        self.p_limbs
    }

    /// Total number of limbs.
    pub fn limbs(&self) -> usize {
        self.q_limbs + self.p_limbs
    }

    /// Whether the limbs hold NTT evaluations (else coefficients).
    pub fn is_ntt(&self) -> bool {
        self.ntt
    }

    /// Backend prime index of limb `i`.
    #[inline]
    pub fn modulus_index(&self, i: usize) -> usize {
        if i < self.q_limbs {
            i
        } else {
            self.p_offset + (i - self.q_limbs)
        }
    }

    /// Limb `i`.
    #[inline]
    pub fn limb(&self, i: usize) -> &[u32] {
        &self.data[i * self.n..(i + 1) * self.n]
    }

    /// Limb `i`, mutable.
    #[inline]
    pub fn limb_mut(&mut self, i: usize) -> &mut [u32] {
        &mut self.data[i * self.n..(i + 1) * self.n]
    }

    /// Keeps the first `q_limbs` `Q` limbs and drops the `P` limbs (the
    /// value modulo the smaller modulus: exact, no arithmetic).
    pub fn truncate_q(&mut self, q_limbs: usize) {
        assert!(q_limbs <= self.q_limbs);
        if self.p_limbs > 0 {
            self.p_limbs = 0;
        }
        self.q_limbs = q_limbs;
        self.data.truncate(q_limbs * self.n);
    }

    /// Copy keeping the first `q_limbs` `Q` limbs and every `P` limb.
    pub fn restrict_q(&self, q_limbs: usize) -> RnsPoly {
        assert!(q_limbs <= self.q_limbs);
        let n = self.n;
        let mut data = take_buffer((q_limbs + self.p_limbs) * n);
        data[..q_limbs * n].copy_from_slice(&self.data[..q_limbs * n]);
        data[q_limbs * n..].copy_from_slice(&self.data[self.q_limbs * n..]);
        RnsPoly {
            q_limbs,
            data,
            ..*self
        }
    }

    /// Raw limb-major residues (for tests and serialisation).
    pub fn data(&self) -> &[u32] {
        &self.data
    }

    fn same_shape(&self, other: &RnsPoly) {
        assert!(
            self.q_limbs == other.q_limbs
                && self.p_limbs == other.p_limbs
                && self.ntt == other.ntt
                && self.n == other.n,
            "RNS polynomials of different shapes or domains"
        );
    }
}

impl Clone for RnsPoly {
    fn clone(&self) -> Self {
        let mut data = take_buffer(self.data.len());
        data.copy_from_slice(&self.data);
        RnsPoly { data, ..*self }
    }
}

impl Drop for RnsPoly {
    fn drop(&mut self) {
        give_buffer(std::mem::take(&mut self.data));
    }
}

/// Buffers the pool keeps at most, and their total size in words (256 MiB:
/// about twenty ciphertext polynomials at N = 2^16).
const POOL_BUFFERS: usize = 32;
const POOL_WORDS: usize = 64 << 20;

thread_local! {
    /// Freed polynomial buffers of this thread. A product at N = 2^16
    /// allocates and drops tens of megabytes; fresh allocations of that
    /// size come from the kernel page by page (faults and zeroing cost
    /// about a tenth of the time), recycled ones are already mapped.
    static POOL: std::cell::RefCell<Vec<Vec<u32>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A buffer of `len` words with unspecified contents: the smallest pooled
/// one that holds `len` words, else a new one.
pub(crate) fn take_buffer(len: usize) -> Vec<u32> {
    let found = POOL.with(|p| {
        let mut p = p.borrow_mut();
        let best = p
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= len)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        best.map(|i| p.swap_remove(i))
    });
    match found {
        Some(mut v) => {
            // Only words beyond the old length are written.
            if v.len() >= len {
                v.truncate(len);
            } else {
                v.resize(len, 0);
            }
            v
        }
        None => vec![0; len],
    }
}

/// A buffer of `len` zeros.
fn take_zeroed(len: usize) -> Vec<u32> {
    let mut v = take_buffer(len);
    v.fill(0);
    v
}

/// Returns a buffer to the pool (dropped if the pool is full; then the
/// smallest buffers go first).
pub(crate) fn give_buffer(v: Vec<u32>) {
    if v.capacity() == 0 {
        return;
    }
    // `try_with`: a polynomial dropped while the thread exits frees its
    // memory normally.
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        p.push(v);
        let words = |p: &Vec<Vec<u32>>| p.iter().map(|v| v.capacity()).sum::<usize>();
        while p.len() > POOL_BUFFERS || words(&p) > POOL_WORDS {
            let smallest = (0..p.len())
                .min_by_key(|&i| p[i].capacity())
                .expect("non-empty");
            p.swap_remove(smallest);
        }
    });
}

thread_local! {
    /// Scratch words reused by the key-switching and rescale steps of this
    /// thread (tens of megabytes at N = 2^16: allocating and zeroing them
    /// per product costs several percent).
    static SCRATCH: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on a scratch buffer of `len` words (contents unspecified).
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [u32]) -> R) -> R {
    // Taken out of the cell while in use, so a nested call (none today)
    // would allocate its own instead of aliasing.
    let mut buf = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    if buf.len() < len {
        buf.resize(len, 0);
    }
    let out = f(&mut buf[..len]);
    SCRATCH.with(|s| *s.borrow_mut() = buf);
    out
}

/// Constants of an exact, centred base conversion from a set of source
/// primes `s_i` with product `S`: with `y_i = [x·ŝ_i^-1]_(s_i)` and
/// `ŝ_i = S / s_i`, `Σ_i y_i·ŝ_i = x + v·S` where `v = Σ_i y_i / s_i` up to
/// its fraction. Subtracting `round(Σ_i y_i / s_i)·S` leaves the centred
/// representative of `x` in `(-S/2, S/2]`. The fast (uncorrected)
/// conversion would leave a bias of up to `#sources · S` whose mean,
/// spread over every coefficient, concentrates in a few slots and costs
/// several bits of precision; the rounding is computed in fixed point so
/// that every backend agrees.
#[derive(Clone, Debug)]
struct BaseConv {
    /// Backend indices of the source primes.
    sources: Vec<usize>,
    hat_inv: Vec<u32>,
    /// `round(2^64 / s_i)`.
    weights: Vec<u64>,
    /// `consts[t] = [ŝ_0, …, ŝ_(k-1), -S] mod (prime t)` for every backend
    /// prime `t`: the constants of the lincomb over `y_0 … y_(k-1), v`.
    consts: Vec<Vec<u32>>,
}

impl BaseConv {
    fn new(moduli: &[Modulus], sources: Vec<usize>) -> Self {
        let hat_mod_of = |t: &Modulus, i: usize| {
            sources
                .iter()
                .enumerate()
                .filter(|&(k, _)| k != i)
                .fold(1u32, |acc, (_, &s)| {
                    t.mul(acc, t.reduce(moduli[s].value() as u64))
                })
        };
        let hat_inv = sources
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let q = &moduli[s];
                q.inv(hat_mod_of(q, i)).expect("distinct primes")
            })
            .collect();
        let weights = sources
            .iter()
            .map(|&s| ((1u128 << 64) as f64 / moduli[s].value() as f64).round() as u64)
            .collect();
        let consts = moduli
            .iter()
            .map(|t| {
                let prod = sources.iter().fold(1u32, |acc, &s| {
                    t.mul(acc, t.reduce(moduli[s].value() as u64))
                });
                (0..sources.len())
                    .map(|i| hat_mod_of(t, i))
                    .chain([t.neg(prod)])
                    .collect()
            })
            .collect();
        BaseConv {
            sources,
            hat_inv,
            weights,
            consts,
        }
    }
}

/// The ring of a parameter set bound to a backend, with the precomputed
/// constants of rescale, key-switching decomposition and division by `P`.
pub struct Ring {
    params: Params,
    backend: Arc<dyn Backend>,
    /// `inv_q[l][i] = q_l^-1 mod q_i` for `i < l`.
    inv_q: Vec<Vec<u32>>,
    /// `P^-1 mod q_i`.
    p_inv: Vec<u32>,
    /// Conversion from all of `P` (the division by `P`).
    from_p: BaseConv,
    /// `digit_conv[j][len - 1]`: conversion from the first `len` primes of
    /// digit `j` (the last digit of a lower level may be partial).
    digit_conv: Vec<Vec<BaseConv>>,
    /// `[P]_(q_i)`.
    p_mod_q: Vec<u32>,
    /// With `r` primes per level and `D_l = q_l ⋯ q_(l+r-1)` the divisor
    /// of the rescale that leaves `l` limbs: `down_conv[l]`, conversion
    /// from `{q_l … q_(l+r-1)} ∪ P`, and `down_inv[l][i] = (D_l · P)^-1 mod
    /// q_i` (fused division by `P` and rescale of a `Q_(l+r) ∪ P`
    /// polynomial).
    down_conv: Vec<BaseConv>,
    down_inv: Vec<Vec<u32>>,
    /// For `r ≥ 2`: `rescale_conv[l]`, conversion from `{q_l … q_(l+r-1)}`,
    /// and `rescale_inv[l][i] = D_l^-1 mod q_i` (exact, centred division
    /// by `D_l`). Empty for `r = 1`, whose rescale needs no conversion.
    rescale_conv: Vec<BaseConv>,
    rescale_inv: Vec<Vec<u32>>,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Ring {
    /// Binds `params` to `backend` (which must have been built for
    /// `params.all_moduli()`).
    pub fn new(params: Params, backend: Arc<dyn Backend>) -> Self {
        let moduli = params.all_moduli();
        assert_eq!(
            backend.moduli(),
            &moduli[..],
            "backend built for other primes"
        );
        assert_eq!(backend.n(), params.n(), "backend built for another N");
        let q = params.q();
        let inv_q: Vec<Vec<u32>> = (0..q.len())
            .map(|l| {
                (0..l)
                    .map(|i| q[i].inv(q[i].reduce(q[l].value() as u64)).unwrap())
                    .collect()
            })
            .collect();
        let p_inv: Vec<u32> = q
            .iter()
            .map(|qi| {
                let p_mod = params
                    .p()
                    .iter()
                    .fold(1, |acc, p| qi.mul(acc, qi.reduce(p.value() as u64)));
                qi.inv(p_mod).unwrap()
            })
            .collect();
        let from_p = BaseConv::new(&moduli, (q.len()..moduli.len()).collect());
        let alpha = params.digit_size();
        let digit_conv = (0..q.len().div_ceil(alpha))
            .map(|j| {
                let start = j * alpha;
                let end = (start + alpha).min(q.len());
                (start + 1..=end)
                    .map(|e| BaseConv::new(&moduli, (start..e).collect()))
                    .collect()
            })
            .collect();
        let p_mod_q: Vec<u32> = q
            .iter()
            .map(|qi| {
                params
                    .p()
                    .iter()
                    .fold(1, |acc, p| qi.mul(acc, qi.reduce(p.value() as u64)))
            })
            .collect();
        let r = params.level_primes();
        // D_l^-1 mod q_i for i < l.
        let d_inv = |l: usize| -> Vec<u32> {
            (0..l)
                .map(|i| (l..l + r).fold(1, |acc, j| q[i].mul(acc, inv_q[j][i])))
                .collect()
        };
        let last = q.len().saturating_sub(r);
        let down_conv = (0..=last)
            .map(|l| {
                let sources = (l..l + r).chain(q.len()..moduli.len()).collect();
                BaseConv::new(&moduli, sources)
            })
            .collect();
        let down_inv = (0..=last)
            .map(|l| {
                d_inv(l)
                    .into_iter()
                    .enumerate()
                    .map(|(i, d)| q[i].mul(p_inv[i], d))
                    .collect()
            })
            .collect();
        let (rescale_conv, rescale_inv) = if r == 1 {
            (Vec::new(), Vec::new())
        } else {
            (
                (0..=last)
                    .map(|l| BaseConv::new(&moduli, (l..l + r).collect()))
                    .collect(),
                (0..=last).map(d_inv).collect(),
            )
        };
        Ring {
            params,
            backend,
            inv_q,
            p_inv,
            from_p,
            digit_conv,
            p_mod_q,
            down_conv,
            down_inv,
            rescale_conv,
            rescale_inv,
        }
    }

    /// The CPU ring of `params`.
    pub fn cpu(params: Params) -> Self {
        let backend = crate::backend::CpuBackend::new(params.n(), &params.all_moduli());
        Ring::new(params, Arc::new(backend))
    }

    /// The parameter set.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// `[P]_(q_i)` for every prime `q_i` of `Q`.
    pub(crate) fn p_mod_q(&self) -> &[u32] {
        &self.p_mod_q
    }

    /// The backend every operation runs on.
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// Zero polynomial (shortcut for [`RnsPoly::zero`]).
    pub fn zero(&self, q_limbs: usize, p_limbs: usize, ntt: bool) -> RnsPoly {
        RnsPoly::zero(&self.params, q_limbs, p_limbs, ntt)
    }

    /// A polynomial of this shape with unspecified residues, for outputs
    /// written in full before they are read.
    pub(crate) fn uninit(&self, q_limbs: usize, p_limbs: usize, ntt: bool) -> RnsPoly {
        RnsPoly::uninit(&self.params, q_limbs, p_limbs, ntt)
    }

    /// Coefficient form → NTT form, in place.
    pub fn ntt_fwd(&self, a: &mut RnsPoly) {
        assert!(!a.ntt, "already in NTT form");
        for i in 0..a.limbs() {
            let m = a.modulus_index(i);
            self.backend.ntt_fwd(m, a.limb_mut(i));
        }
        a.ntt = true;
    }

    /// NTT form → coefficient form, in place.
    pub fn ntt_inv(&self, a: &mut RnsPoly) {
        assert!(a.ntt, "not in NTT form");
        for i in 0..a.limbs() {
            let m = a.modulus_index(i);
            self.backend.ntt_inv(m, a.limb_mut(i));
        }
        a.ntt = false;
    }

    /// `a += b`.
    pub fn add_assign(&self, a: &mut RnsPoly, b: &RnsPoly) {
        a.same_shape(b);
        for i in 0..a.limbs() {
            let m = a.modulus_index(i);
            self.backend.add_assign(m, a.limb_mut(i), b.limb(i));
        }
    }

    /// `a -= b`.
    pub fn sub_assign(&self, a: &mut RnsPoly, b: &RnsPoly) {
        a.same_shape(b);
        for i in 0..a.limbs() {
            let m = a.modulus_index(i);
            self.backend.sub_assign(m, a.limb_mut(i), b.limb(i));
        }
    }

    /// `a = -a`.
    pub fn neg_assign(&self, a: &mut RnsPoly) {
        for i in 0..a.limbs() {
            let m = a.modulus_index(i);
            self.backend.neg_assign(m, a.limb_mut(i));
        }
    }

    /// `out = a · b` (NTT form).
    pub fn mul(&self, a: &RnsPoly, b: &RnsPoly, out: &mut RnsPoly) {
        a.same_shape(b);
        a.same_shape(out);
        assert!(a.ntt, "products need the NTT form");
        for i in 0..a.limbs() {
            let m = a.modulus_index(i);
            self.backend.mul(m, a.limb(i), b.limb(i), out.limb_mut(i));
        }
    }

    /// `a · b`, allocating.
    pub fn mul_new(&self, a: &RnsPoly, b: &RnsPoly) -> RnsPoly {
        let mut out = a.clone();
        self.mul_assign(&mut out, b);
        out
    }

    /// `a = a · b` (NTT form).
    pub fn mul_assign(&self, a: &mut RnsPoly, b: &RnsPoly) {
        a.same_shape(b);
        assert!(a.ntt, "products need the NTT form");
        for i in 0..a.limbs() {
            let m = a.modulus_index(i);
            self.backend.mul_assign(m, a.limb_mut(i), b.limb(i));
        }
    }

    /// `acc += a · b` (NTT form).
    pub fn mac(&self, a: &RnsPoly, b: &RnsPoly, acc: &mut RnsPoly) {
        a.same_shape(b);
        a.same_shape(acc);
        assert!(a.ntt, "products need the NTT form");
        for i in 0..a.limbs() {
            let m = a.modulus_index(i);
            self.backend.mac(m, a.limb(i), b.limb(i), acc.limb_mut(i));
        }
    }

    /// `a = a · c` for an integer constant `c` (any sign, any domain).
    pub fn mul_int_assign(&self, a: &mut RnsPoly, c: i128) {
        for i in 0..a.limbs() {
            let m = a.modulus_index(i);
            let q = self.backend.moduli()[m].value() as i128;
            let c_mod = c.rem_euclid(q) as u32;
            self.backend.mul_const_assign(m, a.limb_mut(i), c_mod);
        }
    }

    /// `a = a · v` for an integral `f64` `v` of any size (exact residues
    /// by [`f64_int_mod`]).
    pub fn mul_f64_int_assign(&self, a: &mut RnsPoly, v: f64) {
        for i in 0..a.limbs() {
            let m = a.modulus_index(i);
            let c = f64_int_mod(v, self.backend.moduli()[m].value());
            self.backend.mul_const_assign(m, a.limb_mut(i), c);
        }
    }

    /// `acc += x · v` for an integral `f64` `v` of any size, over `acc`'s
    /// limbs (`x` may have more `Q` limbs: dropping them is exact).
    pub fn mac_f64_int(&self, acc: &mut RnsPoly, x: &RnsPoly, v: f64) {
        assert!(
            acc.ntt == x.ntt && acc.p_limbs == 0 && x.p_limbs == 0 && x.q_limbs >= acc.q_limbs,
            "mac_f64_int takes Q polynomials in one domain, x at acc's level or above"
        );
        for i in 0..acc.q_limbs {
            let c = f64_int_mod(v, self.backend.moduli()[i].value());
            self.backend.mac_const(i, x.limb(i), c, acc.limb_mut(i));
        }
    }

    /// The polynomial with the given signed integer coefficients (any size
    /// below `2^127`), in coefficient form, with `q_limbs` `Q` limbs.
    pub fn from_coeffs(&self, coeffs: &[i128], q_limbs: usize) -> RnsPoly {
        assert_eq!(coeffs.len(), self.params.n());
        let mut out = self.zero(q_limbs, 0, false);
        for i in 0..q_limbs {
            let q = self.params.q()[i].value() as i128;
            for (o, &c) in out.limb_mut(i).iter_mut().zip(coeffs) {
                *o = c.rem_euclid(q) as u32;
            }
        }
        out
    }

    /// Rescale: divides an NTT-form polynomial by the product `D` of its
    /// last `r` `Q` primes (`r` = [`Params::level_primes`]), rounding to
    /// nearest, and drops those limbs.
    ///
    /// For `r = 1` (`D = q_l`): with `r' = [x + ⌊q_l/2⌋]_{q_l}`,
    /// `x - r' + ⌊q_l/2⌋` is a multiple of `q_l` and its quotient is
    /// `round(x / q_l)`; each remaining limb gets
    /// `(x_i - (r' - ⌊q_l/2⌋)) · q_l^-1`. For `r = 2` the centred residue
    /// `[x]_D` comes from an exact base conversion, and each remaining limb
    /// gets `(x_i - [x]_D) · D^-1`.
    pub fn rescale(&self, a: &mut RnsPoly) {
        assert!(
            a.ntt && a.p_limbs == 0,
            "rescale takes NTT-form Q polynomials"
        );
        let r = self.params.level_primes();
        assert!(a.q_limbs > r, "rescale needs more limbs than a level has");
        let l = a.q_limbs - r;
        if r > 1 {
            let sources: Vec<usize> = (l..l + r).collect();
            self.subtract_converted(a, &sources, &self.rescale_conv[l], l, &self.rescale_inv[l]);
            a.truncate_q(l);
            return;
        }
        let be = &*self.backend;
        let q_l = self.params.q()[l].value();
        let half = q_l / 2;
        let mut last = a.limb(l).to_vec();
        be.ntt_inv(l, &mut last);
        be.add_const_assign(l, &mut last, half);
        let mut t = vec![0u32; a.n];
        for i in 0..l {
            let qi = &self.params.q()[i];
            be.reduce(i, &last, &mut t);
            be.add_const_assign(i, &mut t, qi.neg(qi.reduce(half as u64)));
            be.ntt_fwd(i, &mut t);
            be.sub_mul_const_assign(i, a.limb_mut(i), &t, self.inv_q[l][i]);
        }
        a.truncate_q(l);
    }

    /// The exact base conversion shared by [`Ring::mod_down`] and
    /// [`Ring::mod_down_rescale`]: converts the residues in limbs `sources`
    /// (moduli `conv.sources`, in order) to each of the first `targets` Q
    /// limbs and subtracts it times `factors[i]` from limb `i`.
    fn subtract_converted(
        &self,
        a: &mut RnsPoly,
        sources: &[usize],
        conv: &BaseConv,
        targets: usize,
        factors: &[u32],
    ) {
        let be = &*self.backend;
        let n = a.n;
        // Source residues y_k = [x]_{m_k} · m̂_k^-1 in coefficient form,
        // then the overflow count v, in one recycled buffer.
        let k = sources.len();
        let mut ys = take_buffer((k + 1) * n);
        let (y_part, v) = ys.split_at_mut(k * n);
        for ((j, &limb), y) in sources.iter().enumerate().zip(y_part.chunks_exact_mut(n)) {
            let m = conv.sources[j];
            y.copy_from_slice(a.limb(limb));
            be.ntt_inv_mul_const(m, y, conv.hat_inv[j]);
        }
        {
            let refs: Vec<&[u32]> = y_part.chunks_exact(n).collect();
            be.round_fixed(&refs, &conv.weights, v);
        }
        let refs: Vec<&[u32]> = ys.chunks_exact(n).collect();
        // Every target at once: the sources are read from memory once.
        let ms: Vec<usize> = (0..targets).collect();
        let consts: Vec<&[u32]> = ms.iter().map(|&i| conv.consts[i].as_slice()).collect();
        with_scratch(targets * n, |t| {
            be.lincomb_multi(&ms, &refs, &consts, t);
            for (i, (&factor, t)) in factors.iter().zip(t.chunks_exact_mut(n)).enumerate() {
                be.ntt_fwd(i, t);
                be.sub_mul_const_assign(i, a.limb_mut(i), t, factor);
            }
        });
        drop(refs);
        give_buffer(ys);
    }

    /// Division by `P`, rounded: NTT-form `x` over `Q_ℓ ∪ P` →
    /// `(x - [x]_P) / P` over `Q_ℓ` with `[x]_P` the centred residue.
    pub fn mod_down(&self, a: &mut RnsPoly) {
        assert!(
            a.ntt && a.p_limbs == self.params.p().len(),
            "mod_down takes NTT-form QP polynomials"
        );
        let q_limbs = a.q_limbs;
        let sources: Vec<usize> = (q_limbs..q_limbs + a.p_limbs).collect();
        self.subtract_converted(a, &sources, &self.from_p, q_limbs, &self.p_inv);
        a.truncate_q(q_limbs);
    }

    /// `acc += a · P` on the `Q` limbs of a `Q_ℓ ∪ P` polynomial, where `a`
    /// is a `Q_ℓ` polynomial: lifts `a` to `P·a` modulo `QP` (its `P` limbs
    /// are zero) and adds it, the step before a fused division.
    pub fn add_times_p(&self, acc: &mut RnsPoly, a: &RnsPoly) {
        assert!(acc.ntt == a.ntt && a.p_limbs == 0 && acc.q_limbs == a.q_limbs);
        for i in 0..a.q_limbs {
            self.backend
                .mac_const(i, a.limb(i), self.p_mod_q[i], acc.limb_mut(i));
        }
    }

    /// Division by `P · D`, rounded, of an NTT-form `Q_(l+r) ∪ P`
    /// polynomial, `D` the product of its last `r` `Q` primes: the division
    /// by `P` of key switching fused with the rescale that follows a
    /// product, in one exact base conversion from those primes and `P`.
    /// Saves the `ℓ + r` NTTs per polynomial of doing them one after the
    /// other.
    pub fn mod_down_rescale(&self, a: &mut RnsPoly) {
        let r = self.params.level_primes();
        assert!(
            a.ntt && a.p_limbs == self.params.p().len() && a.q_limbs > r,
            "mod_down_rescale takes NTT-form QP polynomials with more Q limbs than a level has"
        );
        let l = a.q_limbs - r;
        let conv = &self.down_conv[l];
        let sources: Vec<usize> = (l..l + r).chain(a.q_limbs..a.q_limbs + a.p_limbs).collect();
        self.subtract_converted(a, &sources, conv, l, &self.down_inv[l]);
        a.truncate_q(l);
    }

    /// Key-switching decomposition and inner product: for `d` (NTT form,
    /// `Q` limbs only) and digit keys `(b_j, a_j)` over the whole `Q ∪ P`,
    /// returns `(Σ_j d̃_j · b_j, Σ_j d̃_j · a_j)` over `Q_ℓ ∪ P` in NTT form,
    /// where `d̃_j` is digit `j` of `d` (its residues modulo the digit's
    /// primes) extended, centred, to `Q_ℓ ∪ P` by exact base conversion.
    ///
    /// Each digit is extended to all limbs in one pass over its sources
    /// (working memory: one `Q_ℓ ∪ P` polynomial besides the sources).
    pub fn decompose_mac(&self, d: &RnsPoly, keys: &[(RnsPoly, RnsPoly)]) -> (RnsPoly, RnsPoly) {
        assert!(d.ntt && d.p_limbs == 0);
        let be = &*self.backend;
        let n = d.n;
        let q_limbs = d.q_limbs;
        let p_limbs = self.params.p().len();
        let alpha = self.params.digit_size();
        let digits = q_limbs.div_ceil(alpha);
        assert!(digits <= keys.len(), "not enough key digits");
        for (kb, ka) in keys {
            assert!(kb.q_limbs == self.params.q().len() && ka.p_limbs == p_limbs);
        }
        // Sources of every digit: y_i = [d]_(q_i) · q̂_i^-1 (coefficient
        // form), then the digit's overflow count v_j; in recycled buffers.
        let mut ys = take_buffer(q_limbs * n);
        ys.copy_from_slice(&d.data[..q_limbs * n]);
        let mut vs = take_buffer(digits * n);
        let convs: Vec<&BaseConv> = (0..digits)
            .map(|j| {
                let len = (q_limbs - j * alpha).min(alpha);
                &self.digit_conv[j][len - 1]
            })
            .collect();
        for ((j, conv), v) in convs.iter().enumerate().zip(vs.chunks_exact_mut(n)) {
            let own = &mut ys[j * alpha * n..(j * alpha + conv.sources.len()) * n];
            for (k, y) in own.chunks_exact_mut(n).enumerate() {
                let i = j * alpha + k;
                be.ntt_inv_mul_const(i, y, conv.hat_inv[k]);
            }
            let refs: Vec<&[u32]> = own.chunks_exact(n).collect();
            be.round_fixed(&refs, &conv.weights, v);
        }
        let refs: Vec<Vec<&[u32]>> = convs
            .iter()
            .enumerate()
            .map(|(j, conv)| {
                ys[j * alpha * n..(j * alpha + conv.sources.len()) * n]
                    .chunks_exact(n)
                    .chain(std::iter::once(&vs[j * n..(j + 1) * n]))
                    .collect()
            })
            .collect();
        // Digit by digit: extend the digit to every other limb at once (one
        // pass over its sources), then multiply each limb with the key and
        // accumulate.
        let total = q_limbs + p_limbs;
        // The first digit writes every limb (`mul2`).
        let mut out0 = RnsPoly::uninit(&self.params, q_limbs, p_limbs, true);
        let mut out1 = RnsPoly::uninit(&self.params, q_limbs, p_limbs, true);
        with_scratch(total * n, |ext| {
            for (j, conv) in convs.iter().enumerate() {
                let own = j * alpha..j * alpha + conv.sources.len();
                let targets: Vec<usize> = (0..total).filter(|l| !own.contains(l)).collect();
                let ms: Vec<usize> = targets.iter().map(|&l| out0.modulus_index(l)).collect();
                let consts: Vec<&[u32]> = ms.iter().map(|&m| conv.consts[m].as_slice()).collect();
                let ext = &mut ext[..targets.len() * n];
                be.lincomb_multi(&ms, &refs[j], &consts, ext);
                let mut extended = ext.chunks_exact_mut(n);
                let (kb, ka) = &keys[j];
                for limb in 0..total {
                    let m = out0.modulus_index(limb);
                    let src: &[u32] = if own.contains(&limb) {
                        d.limb(limb)
                    } else {
                        let t = extended.next().expect("one extended limb per target");
                        be.ntt_fwd(m, t);
                        t
                    };
                    // Keys carry every Q and P prime, so the key limb of
                    // backend prime `m` is limb `m`.
                    let (o0, o1) = (out0.limb_mut(limb), out1.limb_mut(limb));
                    if j == 0 {
                        be.mul2(m, src, kb.limb(m), ka.limb(m), o0, o1);
                    } else {
                        be.mac2(m, src, kb.limb(m), ka.limb(m), o0, o1);
                    }
                }
            }
        });
        drop(refs);
        give_buffer(ys);
        give_buffer(vs);
        (out0, out1)
    }

    /// Permutation of NTT slots realising `X ↦ X^g` (`g` odd): slot `k`
    /// holds `a(ψ^(2·rev(k)+1))`, and `σ_g(a)` there equals `a` at
    /// `ψ^(g·(2·rev(k)+1))`, which is slot `rev(((g·(2·rev(k)+1) mod 2N) - 1) / 2)`.
    pub fn automorphism_permutation(&self, g: usize) -> Vec<u32> {
        let n = self.params.n();
        let log_n = self.params.log_n();
        assert!(g % 2 == 1, "Galois elements are odd");
        let rev = |x: usize| ola_arith::ntt::bit_reverse(x, log_n);
        (0..n)
            .map(|k| {
                let e = (g * (2 * rev(k) + 1)) % (2 * n);
                rev((e - 1) / 2) as u32
            })
            .collect()
    }

    /// `σ_g(a)` for NTT-form `a`, given the permutation of `g`.
    pub fn automorphism(&self, a: &RnsPoly, perm: &[u32]) -> RnsPoly {
        assert!(a.ntt);
        let mut out = a.clone();
        for i in 0..a.limbs() {
            self.backend.permute(a.limb(i), perm, out.limb_mut(i));
        }
        out
    }

    /// Uniform polynomial over the first `q_limbs` `Q` primes and
    /// `p_limbs` `P` primes, sampled directly in NTT form (the NTT of a
    /// uniform polynomial is uniform).
    pub fn sample_uniform<R: Rng>(&self, rng: &mut R, q_limbs: usize, p_limbs: usize) -> RnsPoly {
        let mut out = self.zero(q_limbs, p_limbs, true);
        for i in 0..out.limbs() {
            let q = self.backend.moduli()[out.modulus_index(i)].value();
            for x in out.limb_mut(i) {
                *x = rng.random_range(0..q);
            }
        }
        out
    }

    /// Small signed coefficients → NTT-form RNS polynomial.
    pub fn small_to_ntt(&self, coeffs: &[i64], q_limbs: usize, p_limbs: usize) -> RnsPoly {
        let mut out = self.zero(q_limbs, p_limbs, false);
        for i in 0..out.limbs() {
            let q = self.backend.moduli()[out.modulus_index(i)].value() as i64;
            for (o, &c) in out.limb_mut(i).iter_mut().zip(coeffs) {
                *o = c.rem_euclid(q) as u32;
            }
        }
        self.ntt_fwd(&mut out);
        out
    }
}

/// `v mod q` for a finite integral `f64` `v` of any size, exactly: `v` is
/// its 53-bit mantissa times a power of two.
///
/// # Panics
/// If `v` is not finite and integral (callers round first).
pub fn f64_int_mod(v: f64, q: u32) -> u32 {
    assert!(v.is_finite() && v.fract() == 0.0, "{v} is not an integer");
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        return 0; // ±0 (subnormals are not integral)
    }
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    let e = exp - 1075; // |v| = mantissa · 2^e
    let q64 = q as u64;
    let r = if e >= 0 {
        let mut pow = 1u64;
        let mut base = 2 % q64;
        let mut k = e as u32;
        while k > 0 {
            if k & 1 == 1 {
                pow = pow * base % q64;
            }
            base = base * base % q64;
            k >>= 1;
        }
        (mantissa % q64) * pow % q64
    } else {
        // Integral, so the low -e bits of the mantissa are zero.
        (mantissa >> (-e) as u32) % q64
    };
    let r = if v < 0.0 { (q64 - r) % q64 } else { r };
    r as u32
}

/// Ternary coefficients, uniform in `{-1, 0, 1}`.
pub fn sample_ternary<R: Rng>(rng: &mut R, n: usize) -> Vec<i64> {
    (0..n).map(|_| rng.random_range(-1i64..=1)).collect()
}

/// Rounded Gaussian coefficients of standard deviation σ = 3.2 truncated at
/// 6σ (Box–Muller on the CSPRNG's uniform doubles; a draw beyond the bound
/// is redrawn).
pub fn sample_gaussian<R: Rng>(rng: &mut R, n: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        // u1 in (0, 1] so that ln(u1) is finite.
        let u1 = 1.0 - rng.random::<f64>();
        let u2 = rng.random::<f64>();
        let r = SIGMA * (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        for z in [r * theta.cos(), r * theta.sin()] {
            if z.abs() <= ERROR_BOUND && out.len() < n {
                out.push(z.round() as i64);
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::params::ParamsLiteral;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// N = 2^10, 30-bit primes: 2 base + 5 levels, 2 special primes.
    pub(crate) fn small_params(special: usize) -> Params {
        Params::new_insecure_for_tests(ParamsLiteral {
            log_n: 10,
            base_bits: 30,
            base_limbs: 2,
            limb_bits: 30,
            levels: 5,
            level_primes: 1,
            special_bits: 30,
            special_primes: special,
            digit_size: special,
            log_scale: 30,
        })
        .unwrap()
    }

    /// CRT reconstruction of coefficient `c` of a coefficient-form Q poly,
    /// centred, as f64 relative to nothing (for small values: exact i128).
    pub(crate) fn crt_centered(ring: &Ring, a: &RnsPoly, c: usize) -> i128 {
        // Garner on at most 3 limbs is enough for the values tests use
        // (< 2^90); they check `a` has at most 3 limbs.
        assert!(!a.ntt && a.p_limbs == 0 && a.q_limbs <= 3);
        let q: Vec<i128> = ring.params.q()[..a.q_limbs]
            .iter()
            .map(|m| m.value() as i128)
            .collect();
        let mut x: i128 = a.limb(0)[c] as i128;
        let mut modulus: i128 = q[0];
        for (i, &qi) in q.iter().enumerate().skip(1) {
            // Find x' = x + modulus·t ≡ a_i (mod q_i).
            let inv = ring.params.q()[i].inv((modulus % qi) as u32).unwrap() as i128;
            let t = ((a.limb(i)[c] as i128 - x).rem_euclid(qi) * inv).rem_euclid(qi);
            x += modulus * t;
            modulus *= qi;
        }
        if x > modulus / 2 { x - modulus } else { x }
    }

    #[test]
    fn rescale_divides_and_rounds() {
        let params = small_params(2);
        let ring = Ring::cpu(params);
        let n = ring.params.n();
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let q2 = ring.params.q()[2].value() as i128;
        // x = y · q2 + r with |r| < q2/2: rescale returns y exactly.
        let y: Vec<i128> = (0..n)
            .map(|_| rng.random_range(-(1i128 << 50)..(1 << 50)))
            .collect();
        let r: Vec<i128> = (0..n)
            .map(|_| rng.random_range(-(q2 / 2 - 1)..q2 / 2))
            .collect();
        let x: Vec<i128> = y.iter().zip(&r).map(|(y, r)| y * q2 + r).collect();
        let mut a = ring.from_coeffs(&x, 3);
        ring.ntt_fwd(&mut a);
        ring.rescale(&mut a);
        ring.ntt_inv(&mut a);
        for (c, &yc) in y.iter().enumerate() {
            assert_eq!(crt_centered(&ring, &a, c), yc, "coefficient {c}");
        }
    }

    #[test]
    fn mod_down_divides_by_p() {
        let params = small_params(2);
        let ring = Ring::cpu(params);
        let n = ring.params.n();
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let p: i128 = ring.params.p().iter().map(|m| m.value() as i128).product();
        // x = y · P + r: mod_down gives y up to the conversion error.
        let y: Vec<i128> = (0..n)
            .map(|_| rng.random_range(-(1i128 << 50)..(1 << 50)))
            .collect();
        let r: Vec<i128> = (0..n).map(|_| rng.random_range(0..p)).collect();
        let x: Vec<i128> = y.iter().zip(&r).map(|(y, r)| y * p + r).collect();
        let mut a = ring.zero(3, 2, false);
        let moduli = ring.params.all_moduli();
        for i in 0..5 {
            let m = a.modulus_index(i);
            let q = moduli[m].value() as i128;
            for (o, &c) in a.limb_mut(i).iter_mut().zip(&x) {
                *o = c.rem_euclid(q) as u32;
            }
        }
        ring.ntt_fwd(&mut a);
        ring.mod_down(&mut a);
        ring.ntt_inv(&mut a);
        for (c, &yc) in y.iter().enumerate() {
            let got = crt_centered(&ring, &a, c);
            assert!((got - yc).abs() <= 1, "coefficient {c}: {got} vs {yc}");
        }
    }

    #[test]
    fn fused_mod_down_rescale_divides_by_p_q_last() {
        let ring = Ring::cpu(small_params(2));
        let n = ring.params.n();
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let pq: i128 = ring
            .params
            .p()
            .iter()
            .map(|m| m.value() as i128)
            .product::<i128>()
            * ring.params.q()[2].value() as i128;
        let y: Vec<i128> = (0..n)
            .map(|_| rng.random_range(-(1i128 << 30)..(1 << 30)))
            .collect();
        let r: Vec<i128> = (0..n).map(|_| rng.random_range(0..pq)).collect();
        let x: Vec<i128> = y.iter().zip(&r).map(|(y, r)| y * pq + r).collect();
        let mut a = ring.zero(3, 2, false);
        let moduli = ring.params.all_moduli();
        for i in 0..5 {
            let q = moduli[a.modulus_index(i)].value() as i128;
            for (o, &c) in a.limb_mut(i).iter_mut().zip(&x) {
                *o = c.rem_euclid(q) as u32;
            }
        }
        ring.ntt_fwd(&mut a);
        ring.mod_down_rescale(&mut a);
        ring.ntt_inv(&mut a);
        assert_eq!((a.q_limbs(), a.p_limbs()), (2, 0));
        for (c, (&yc, &rc)) in y.iter().zip(&r).enumerate() {
            // Exactly round(x / (P q_2)).
            let want = yc + i128::from(2 * rc > pq);
            assert_eq!(crt_centered(&ring, &a, c), want, "coefficient {c}");
        }
    }

    /// N = 2^10 with double-prime scaling: 3 base primes + 2 levels of two
    /// primes, 2 special primes.
    fn double_params() -> Params {
        Params::new_insecure_for_tests(ParamsLiteral {
            log_n: 10,
            base_bits: 30,
            base_limbs: 3,
            limb_bits: 30,
            levels: 2,
            level_primes: 2,
            special_bits: 30,
            special_primes: 2,
            digit_size: 2,
            log_scale: 59,
        })
        .unwrap()
    }

    /// The residues of `x` over the ring's first `q_limbs` Q and `p_limbs`
    /// P primes, in NTT form.
    fn rns_of(ring: &Ring, x: &[i128], q_limbs: usize, p_limbs: usize) -> RnsPoly {
        let mut a = ring.zero(q_limbs, p_limbs, false);
        let moduli = ring.params.all_moduli();
        for i in 0..q_limbs + p_limbs {
            let q = moduli[a.modulus_index(i)].value() as i128;
            for (o, &c) in a.limb_mut(i).iter_mut().zip(x) {
                *o = c.rem_euclid(q) as u32;
            }
        }
        ring.ntt_fwd(&mut a);
        a
    }

    #[test]
    fn double_prime_rescale_divides_by_both_primes_and_rounds() {
        let ring = Ring::cpu(double_params());
        let n = ring.params.n();
        let mut rng = ChaCha20Rng::seed_from_u64(10);
        // The top level's two primes: limbs 5 and 6 of 7.
        let d = ring.params.q()[5].value() as i128 * ring.params.q()[6].value() as i128;
        assert_eq!(ring.params.rescale_factor(2), d as f64);
        let y: Vec<i128> = (0..n)
            .map(|_| rng.random_range(-(1i128 << 40)..(1 << 40)))
            .collect();
        let r: Vec<i128> = (0..n)
            .map(|_| rng.random_range(-(d / 2 - 1)..d / 2))
            .collect();
        let x: Vec<i128> = y.iter().zip(&r).map(|(y, r)| y * d + r).collect();
        let mut a = rns_of(&ring, &x, 7, 0);
        ring.rescale(&mut a);
        assert_eq!(a.q_limbs(), 5);
        ring.ntt_inv(&mut a);
        a.truncate_q(3);
        for (c, &yc) in y.iter().zip(&r).map(|(y, _)| y).enumerate() {
            assert_eq!(crt_centered(&ring, &a, c), yc, "coefficient {c}");
        }
    }

    #[test]
    fn double_prime_fused_mod_down_rescale_divides_by_p_and_both_primes() {
        let ring = Ring::cpu(double_params());
        let n = ring.params.n();
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let pd: i128 = ring
            .params
            .p()
            .iter()
            .chain(&ring.params.q()[5..7])
            .map(|m| m.value() as i128)
            .product();
        let y: Vec<i128> = (0..n).map(|_| rng.random_range(-16..16)).collect();
        let r: Vec<i128> = (0..n).map(|_| rng.random_range(0..pd)).collect();
        let x: Vec<i128> = y.iter().zip(&r).map(|(y, r)| y * pd + r).collect();
        let mut a = rns_of(&ring, &x, 7, 2);
        ring.mod_down_rescale(&mut a);
        ring.ntt_inv(&mut a);
        assert_eq!((a.q_limbs(), a.p_limbs()), (5, 0));
        a.truncate_q(3);
        for (c, (&yc, &rc)) in y.iter().zip(&r).enumerate() {
            // Exactly round(x / (P q_5 q_6)).
            let want = yc + i128::from(2 * rc > pd);
            assert_eq!(crt_centered(&ring, &a, c), want, "coefficient {c}");
        }
    }

    #[test]
    fn key_switching_and_rescale_are_bit_identical_across_instruction_sets() {
        let params = double_params();
        let results: Vec<Vec<RnsPoly>> = crate::simd::Isa::all_supported()
            .into_iter()
            .map(|isa| {
                let be =
                    crate::backend::CpuBackend::with_isa(params.n(), &params.all_moduli(), isa);
                let ring = Ring::new(params.clone(), Arc::new(be));
                // Same seed, so the same inputs for every instruction set.
                let mut rng = ChaCha20Rng::seed_from_u64(12);
                let d = ring.sample_uniform(&mut rng, 7, 0);
                let keys: Vec<(RnsPoly, RnsPoly)> = (0..params.digits_at(params.max_level()))
                    .map(|_| {
                        (
                            ring.sample_uniform(&mut rng, 7, 2),
                            ring.sample_uniform(&mut rng, 7, 2),
                        )
                    })
                    .collect();
                let (mut k0, mut k1) = ring.decompose_mac(&d, &keys);
                ring.mod_down_rescale(&mut k0);
                ring.mod_down_rescale(&mut k1);
                let mut r = d.clone();
                ring.rescale(&mut r);
                vec![k0, k1, r]
            })
            .collect();
        for other in &results[1..] {
            assert_eq!(other, &results[0]);
        }
    }

    #[test]
    fn f64_integers_reduce_exactly() {
        let q = ola_arith::prime::ntt_primes(30, 10).next().unwrap() as u32;
        let q128 = q as i128;
        for v in [
            0i128,
            1,
            -1,
            (1 << 53) - 1,
            -(1 << 60),
            3 << 70,
            -(5i128 << 100),
            (1i128 << 120) + (1i128 << 90),
        ] {
            assert_eq!(f64_int_mod(v as f64, q) as i128, v.rem_euclid(q128), "{v}");
        }
        // Beyond i128: 2^200 mod q by repeated squaring.
        let mut want = 1i128;
        for _ in 0..200 {
            want = want * 2 % q128;
        }
        assert_eq!(f64_int_mod(2f64.powi(200), q) as i128, want);
    }

    #[test]
    fn automorphism_matches_coefficient_map() {
        let ring = Ring::cpu(small_params(1));
        let n = ring.params.n();
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let coeffs: Vec<i64> = (0..n).map(|_| rng.random_range(-100..100)).collect();
        for g in [5usize, 25, 2 * n - 1] {
            // σ_g(Σ a_i X^i) = Σ a_i X^(g·i mod 2N) with X^N = -1.
            let mut expect = vec![0i64; n];
            for (i, &c) in coeffs.iter().enumerate() {
                let e = (g * i) % (2 * n);
                if e < n {
                    expect[e] += c;
                } else {
                    expect[e - n] -= c;
                }
            }
            let a = ring.small_to_ntt(&coeffs, 2, 0);
            let perm = ring.automorphism_permutation(g);
            let mut b = ring.automorphism(&a, &perm);
            ring.ntt_inv(&mut b);
            let want = ring.small_to_ntt(&expect, 2, 0);
            let mut want = want;
            ring.ntt_inv(&mut want);
            assert_eq!(b, want, "g = {g}");
        }
    }

    #[test]
    fn samplers_have_the_right_shape() {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let e = sample_gaussian(&mut rng, 1 << 16);
        let var = e.iter().map(|&x| (x * x) as f64).sum::<f64>() / e.len() as f64;
        // Rounding adds 1/12 to the variance 3.2^2 = 10.24.
        assert!((var - 10.32).abs() < 0.3, "variance {var}");
        assert!(e.iter().all(|&x| x.abs() <= 19));
        let s = sample_ternary(&mut rng, 1 << 16);
        for v in [-1, 0, 1] {
            let frac = s.iter().filter(|&&x| x == v).count() as f64 / s.len() as f64;
            assert!((frac - 1.0 / 3.0).abs() < 0.01);
        }
    }
}

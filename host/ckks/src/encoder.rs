//! Encoding through the canonical embedding.
//!
//! A real polynomial `m(X)` of degree `< N` is identified with its values
//! at the primitive `2N`-th roots `ζ^(5^j)`, `j < N/2` (`ζ = e^(iπ/N)`);
//! the remaining roots are their conjugates. Since `5^j ≡ 1 (mod 4)`,
//! `(ζ^(5^j))^(N/2) = i`, so `m(ζ^(5^j)) = w(ζ^(5^j))` with
//! `w_k = m_k + i·m_(k+N/2)`: the slots are a size-`N/2` complex
//! polynomial evaluated at `N/2` points, which the *special FFT* (HEAAN /
//! Lattigo) computes in `O(N log N)`. Decoding is that FFT; encoding its
//! inverse, followed by scaling and rounding to integers.
//!
//! Because the slot order follows the powers of 5, the automorphism
//! `X ↦ X^(5^k)` rotates the slots left by `k` and `X ↦ X^(2N-1)`
//! conjugates them.

use std::ops::{Add, Mul, Sub};

use crate::ciphertext::{Plaintext, check_id};
use crate::error::{Error, Result};
use crate::ring::{Ring, RnsPoly};

/// A complex number of `f64`s (all the encoder needs).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct C64 {
    /// Real part.
    pub re: f64,
    /// Imaginary part.
    pub im: f64,
}

impl C64 {
    /// `re + i·im`.
    pub const fn new(re: f64, im: f64) -> Self {
        C64 { re, im }
    }

    /// `e^(iθ)`.
    pub fn cis(theta: f64) -> Self {
        C64::new(theta.cos(), theta.sin())
    }

    /// Complex conjugate.
    pub fn conj(self) -> Self {
        C64::new(self.re, -self.im)
    }

    /// Modulus `|z|`.
    pub fn abs(self) -> f64 {
        self.re.hypot(self.im)
    }

    /// `z · c` for real `c`.
    pub fn scale(self, c: f64) -> Self {
        C64::new(self.re * c, self.im * c)
    }
}

impl Add for C64 {
    type Output = C64;
    fn add(self, o: C64) -> C64 {
        C64::new(self.re + o.re, self.im + o.im)
    }
}

impl Sub for C64 {
    type Output = C64;
    fn sub(self, o: C64) -> C64 {
        C64::new(self.re - o.re, self.im - o.im)
    }
}

impl Mul for C64 {
    type Output = C64;
    fn mul(self, o: C64) -> C64 {
        C64::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
}

/// Largest `|coefficient|` an encoding may produce: the integer conversion
/// goes through `i128`.
const MAX_COEFF: f64 = 1.0e36;

/// Canonical-embedding encoder for one ring degree.
#[derive(Clone, Debug)]
pub struct Encoder {
    slots: usize,
    log_slots: u32,
    /// `5^j mod 2N`.
    rot_group: Vec<usize>,
    /// `e^(2πik / 2N)` for `k ≤ 2N`.
    ksi: Vec<C64>,
}

impl Encoder {
    /// Tables for the ring of `ring`.
    pub fn new(ring: &Ring) -> Self {
        let n = ring.params().n();
        let m = 2 * n;
        let slots = n / 2;
        let mut rot_group = Vec::with_capacity(slots);
        let mut g = 1usize;
        for _ in 0..slots {
            rot_group.push(g);
            g = g * 5 % m;
        }
        let ksi = (0..=m)
            .map(|k| C64::cis(std::f64::consts::TAU * k as f64 / m as f64))
            .collect();
        Encoder {
            slots,
            log_slots: slots.trailing_zeros(),
            rot_group,
            ksi,
        }
    }

    /// Number of slots, `N / 2`.
    pub fn slots(&self) -> usize {
        self.slots
    }

    fn bit_reverse(&self, v: &mut [C64]) {
        for i in 0..v.len() {
            let j = ola_arith::ntt::bit_reverse(i, self.log_slots);
            if i < j {
                v.swap(i, j);
            }
        }
    }

    /// Slots from `w` (`w_k = m_k + i·m_(k+N/2)`), in place.
    pub fn fft_special(&self, vals: &mut [C64]) {
        let n = self.slots;
        assert_eq!(vals.len(), n);
        let m = 4 * n;
        self.bit_reverse(vals);
        let mut len = 2;
        while len <= n {
            let lenh = len / 2;
            let lenq = 4 * len;
            for i in (0..n).step_by(len) {
                for j in 0..lenh {
                    let idx = (self.rot_group[j] % lenq) * (m / lenq);
                    let u = vals[i + j];
                    let v = vals[i + j + lenh] * self.ksi[idx];
                    vals[i + j] = u + v;
                    vals[i + j + lenh] = u - v;
                }
            }
            len *= 2;
        }
    }

    /// Inverse of [`Encoder::fft_special`], in place.
    pub fn fft_special_inv(&self, vals: &mut [C64]) {
        let n = self.slots;
        assert_eq!(vals.len(), n);
        let m = 4 * n;
        let mut len = n;
        while len >= 2 {
            let lenh = len / 2;
            let lenq = 4 * len;
            for i in (0..n).step_by(len) {
                for j in 0..lenh {
                    let idx = (lenq - self.rot_group[j] % lenq) * (m / lenq);
                    let u = vals[i + j] + vals[i + j + lenh];
                    let v = (vals[i + j] - vals[i + j + lenh]) * self.ksi[idx];
                    vals[i + j] = u;
                    vals[i + j + lenh] = v;
                }
            }
            len /= 2;
        }
        self.bit_reverse(vals);
        let inv = 1.0 / n as f64;
        for v in vals.iter_mut() {
            *v = v.scale(inv);
        }
    }

    /// Encodes up to `N/2` complex values at `level` and `scale` (values
    /// past the input are zero). Fails on non-finite input or coefficients
    /// too large to represent.
    pub fn encode(
        &self,
        ring: &Ring,
        values: &[C64],
        level: usize,
        scale: f64,
    ) -> Result<Plaintext> {
        let params = ring.params();
        if level > params.max_level() {
            return Err(Error::BadLevel {
                level,
                max: params.max_level(),
            });
        }
        if values.len() > self.slots {
            return Err(Error::Encoding(format!(
                "{} values for {} slots",
                values.len(),
                self.slots
            )));
        }
        if !(scale.is_finite() && scale >= 1.0) {
            return Err(Error::Encoding(format!(
                "scale {scale} is not a finite number ≥ 1"
            )));
        }
        let mut w = vec![C64::default(); self.slots];
        w[..values.len()].copy_from_slice(values);
        if w.iter().any(|z| !z.re.is_finite() || !z.im.is_finite()) {
            return Err(Error::Encoding("non-finite value".into()));
        }
        self.fft_special_inv(&mut w);
        let n = params.n();
        let mut coeffs = vec![0i128; n];
        for (k, z) in w.iter().enumerate() {
            for (slot, x) in [(k, z.re), (k + self.slots, z.im)] {
                let v = (x * scale).round();
                if v.abs() > MAX_COEFF {
                    return Err(Error::Encoding(format!(
                        "coefficient 2^{:.1} too large (value × scale overflows)",
                        v.abs().log2()
                    )));
                }
                coeffs[slot] = v as i128;
            }
        }
        let mut poly = ring.from_coeffs(&coeffs, params.limbs_at(level));
        ring.ntt_fwd(&mut poly);
        Ok(Plaintext {
            poly,
            scale,
            level,
            params_id: params.id(),
        })
    }

    /// Encodes real values (imaginary parts zero).
    pub fn encode_real(
        &self,
        ring: &Ring,
        values: &[f64],
        level: usize,
        scale: f64,
    ) -> Result<Plaintext> {
        let z: Vec<C64> = values.iter().map(|&x| C64::new(x, 0.0)).collect();
        self.encode(ring, &z, level, scale)
    }

    /// Decodes all `N/2` slots.
    pub fn decode(&self, ring: &Ring, pt: &Plaintext) -> Result<Vec<C64>> {
        check_id(ring.params().id(), pt.params_id)?;
        let mut poly = pt.poly.clone();
        if poly.is_ntt() {
            ring.ntt_inv(&mut poly);
        }
        let coeffs = centered_coeffs_f64(ring, &poly);
        let inv_scale = 1.0 / pt.scale;
        let mut w: Vec<C64> = (0..self.slots)
            .map(|k| C64::new(coeffs[k] * inv_scale, coeffs[k + self.slots] * inv_scale))
            .collect();
        self.fft_special(&mut w);
        Ok(w)
    }
}

/// The centred integer value of every coefficient of a coefficient-form
/// `Q` polynomial, as `f64`, by Garner's mixed-radix conversion with
/// balanced digits: `x = Σ a_i · q_0⋯q_(i-1)`, `|a_i| ≤ q_i / 2`, summed
/// from the top so that small values come out exact.
pub(crate) fn centered_coeffs_f64(ring: &Ring, poly: &RnsPoly) -> Vec<f64> {
    assert!(!poly.is_ntt() && poly.p_limbs() == 0);
    let q = &ring.params().q()[..poly.q_limbs()];
    let l = q.len();
    // prefix_inv[i] = (q_0⋯q_(i-1))^-1 mod q_i;
    // radix_mod[i][k] = q_0⋯q_(k-1) mod q_i for k < i.
    let mut prefix_inv = vec![0u32; l];
    let mut radix_mod = vec![vec![0u32; l]; l];
    for i in 0..l {
        let qi = &q[i];
        let mut prod = 1u32;
        for k in 0..i {
            radix_mod[i][k] = prod;
            prod = qi.mul(prod, qi.reduce(q[k].value() as u64));
        }
        prefix_inv[i] = qi.inv(prod).unwrap_or(1);
    }
    let mut radix_f = vec![1.0f64; l];
    for i in 1..l {
        radix_f[i] = radix_f[i - 1] * q[i - 1].value() as f64;
    }
    let n = poly.n();
    let mut out = vec![0.0; n];
    let mut digits = vec![0i64; l];
    for (c, o) in out.iter_mut().enumerate() {
        for i in 0..l {
            let qi = &q[i];
            let qv = qi.value() as i64;
            // x_(<i) mod q_i from the digits found so far.
            let mut acc = 0u32;
            for k in 0..i {
                let d = digits[k].rem_euclid(qv) as u32;
                acc = qi.add(acc, qi.mul(d, radix_mod[i][k]));
            }
            let a = qi.mul(qi.sub(poly.limb(i)[c], acc), prefix_inv[i]) as i64;
            digits[i] = if a > qv / 2 { a - qv } else { a };
        }
        // Zero digits are skipped: above about 34 limbs the radix
        // overflows f64, and 0 · inf would be NaN for a small value.
        *o = (0..l)
            .rev()
            .filter(|&i| digits[i] != 0)
            .map(|i| digits[i] as f64 * radix_f[i])
            .sum();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::tests::small_params;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    /// `Σ_k w_k ζ^(5^j · k)` directly.
    fn naive_slots(enc: &Encoder, w: &[C64]) -> Vec<C64> {
        let m = 4 * enc.slots;
        (0..enc.slots)
            .map(|j| {
                w.iter().enumerate().fold(C64::default(), |acc, (k, &wk)| {
                    acc + wk * enc.ksi[(enc.rot_group[j] * k) % m]
                })
            })
            .collect()
    }

    /// Largest slot-wise distance between two vectors.
    fn max_error(a: &[C64], b: &[C64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (*x - *y).abs())
            .fold(0.0, f64::max)
    }

    fn random_values(rng: &mut ChaCha20Rng, n: usize) -> Vec<C64> {
        (0..n)
            .map(|_| C64::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
            .collect()
    }

    #[test]
    fn special_fft_matches_naive_evaluation() {
        let ring = Ring::cpu(small_params(1));
        let enc = Encoder::new(&ring);
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let w = random_values(&mut rng, enc.slots());
        let mut fast = w.clone();
        enc.fft_special(&mut fast);
        let slow = naive_slots(&enc, &w);
        let err = max_error(&fast, &slow);
        assert!(
            err < 1e-10,
            "special FFT differs from the definition by {err}"
        );
        enc.fft_special_inv(&mut fast);
        let err = max_error(&fast, &w);
        assert!(err < 1e-12, "inverse FFT round trip error {err}");
    }

    #[test]
    fn slots_are_evaluations_of_the_integer_polynomial() {
        // X ↦ slot j is ζ^(5^j): encode a monomial by hand and decode.
        let ring = Ring::cpu(small_params(1));
        let enc = Encoder::new(&ring);
        let n = ring.params().n();
        let mut coeffs = vec![0i128; n];
        coeffs[1] = 1 << 20;
        let mut poly = ring.from_coeffs(&coeffs, 2);
        ring.ntt_fwd(&mut poly);
        let pt = Plaintext {
            poly,
            scale: (1 << 20) as f64,
            level: 0,
            params_id: ring.params().id(),
        };
        let z = enc.decode(&ring, &pt).unwrap();
        for (j, zj) in z.iter().enumerate() {
            let want = enc.ksi[enc.rot_group[j]];
            assert!((*zj - want).abs() < 1e-12, "slot {j}");
        }
    }

    #[test]
    fn encode_decode_round_trip_precision() {
        let ring = Ring::cpu(small_params(1));
        let enc = Encoder::new(&ring);
        let mut rng = ChaCha20Rng::seed_from_u64(12);
        let z = random_values(&mut rng, enc.slots());
        for level in [0, ring.params().max_level()] {
            let pt = enc.encode(&ring, &z, level, (30f64).exp2()).unwrap();
            let back = enc.decode(&ring, &pt).unwrap();
            let err = max_error(&z, &back);
            // Rounding N coefficients to integers at scale 2^30 costs about
            // sqrt(N)/2^30 per slot: ~25 bits, well past the 20 asked.
            assert!(
                err < (-24f64).exp2(),
                "level {level}: error 2^{:.1}",
                err.log2()
            );
        }
        // Values of scale 2^55 (two limbs of headroom) decode too: the CRT
        // reconstruction is not limited to one limb.
        let pt = enc.encode(&ring, &z, 3, (55f64).exp2()).unwrap();
        let back = enc.decode(&ring, &pt).unwrap();
        let err = max_error(&z, &back);
        assert!(err < (-40f64).exp2(), "error 2^{:.1}", err.log2());
    }

    #[test]
    fn decode_works_above_the_f64_range_of_the_modulus() {
        // 42 limbs: Q ≈ 2^1260 is beyond f64, the values are not.
        let params = crate::Params::new_insecure_for_tests(crate::ParamsLiteral {
            log_n: 10,
            base_bits: 30,
            base_limbs: 2,
            limb_bits: 30,
            levels: 40,
            level_primes: 1,
            special_bits: 30,
            special_primes: 1,
            digit_size: 1,
            log_scale: 30,
        })
        .unwrap();
        let ring = Ring::cpu(params);
        let enc = Encoder::new(&ring);
        let mut rng = ChaCha20Rng::seed_from_u64(13);
        let z = random_values(&mut rng, enc.slots());
        let pt = enc.encode(&ring, &z, 40, (30f64).exp2()).unwrap();
        let err = max_error(&z, &enc.decode(&ring, &pt).unwrap());
        assert!(err < (-24f64).exp2(), "error 2^{:.1}", err.log2());
    }

    #[test]
    fn encode_refuses_bad_input() {
        let ring = Ring::cpu(small_params(1));
        let enc = Encoder::new(&ring);
        let too_many = vec![C64::default(); enc.slots() + 1];
        assert!(matches!(
            enc.encode(&ring, &too_many, 0, 1e9),
            Err(Error::Encoding(_))
        ));
        assert!(matches!(
            enc.encode_real(&ring, &[f64::NAN], 0, 1e9),
            Err(Error::Encoding(_))
        ));
        assert!(matches!(
            enc.encode_real(&ring, &[1.0], 99, 1e9),
            Err(Error::BadLevel { .. })
        ));
        assert!(matches!(
            enc.encode_real(&ring, &[1e30], 0, 1e9),
            Err(Error::Encoding(_))
        ));
    }
}

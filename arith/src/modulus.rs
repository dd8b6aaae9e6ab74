//! A word-sized prime modulus and the Barrett reduction the hardware uses.
//!
//! The accelerator stores residues in `b`-bit words, where `b` is the bit
//! length of the modulus (`2^(b-1) < q < 2^b`). Its modular multiplier is a
//! three-product Barrett pipeline (HAC 14.42 with base 2, `k = b`):
//!
//! ```text
//! z  = x * y                      (2b bits, x, y < q)
//! z1 = z >> (b - 1)               (b + 1 bits)
//! t  = (z1 * m) >> (b + 1)        (b bits),   m = floor(2^(2b) / q)
//! r  = (z - t * q) mod 2^(b + 2)  (only the low b + 2 bits are needed: r < 3q)
//! r  = r - q while r >= q         (at most two subtractions)
//! ```
//!
//! [`Modulus::barrett_stages`] exposes these intermediates so the RTL can be
//! checked stage by stage, not only at its output.

use crate::prime::{is_prime, pow_mod_u64};

/// Largest modulus bit size the golden model supports: the CPU NTT's `u32`
/// Shoup multiplication needs `q < 2^31`. (The hardware word is narrower:
/// its Barrett remainder `r < 3q` needs `b + 2 ≤ 32` bits.)
pub const MAX_MODULUS_BITS: u32 = 31;
/// Smallest modulus bit size: below this no NTT of useful size exists.
pub const MIN_MODULUS_BITS: u32 = 4;

/// Why a number cannot be used as a modulus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModulusError {
    /// The value has fewer than [`MIN_MODULUS_BITS`] or more than
    /// [`MAX_MODULUS_BITS`] bits.
    BitSize {
        /// The rejected value.
        q: u64,
    },
    /// The value is not prime.
    NotPrime {
        /// The rejected value.
        q: u64,
    },
}

impl core::fmt::Display for ModulusError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ModulusError::BitSize { q } => write!(
                f,
                "modulus {q} must have between {MIN_MODULUS_BITS} and {MAX_MODULUS_BITS} bits"
            ),
            ModulusError::NotPrime { q } => write!(f, "modulus {q} is not prime"),
        }
    }
}

impl core::error::Error for ModulusError {}

/// The intermediate values of one Barrett multiplication, named as in the
/// module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrettStages {
    /// Full product `x * y`.
    pub z: u64,
    /// `z >> (b - 1)`.
    pub z1: u64,
    /// Quotient estimate `(z1 * m) >> (b + 1)`.
    pub t: u64,
    /// `(z - t * q) mod 2^(b + 2)`, in `[0, 3q)`.
    pub r: u64,
    /// The reduced result, in `[0, q)`.
    pub result: u32,
}

/// A prime modulus below 2^31 with its precomputed Barrett constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Modulus {
    q: u32,
    bits: u32,
    barrett_m: u64,
}

impl Modulus {
    /// Validates `q` (prime, 4..=31 bits) and precomputes its constants.
    pub fn new(q: u64) -> Result<Self, ModulusError> {
        let bits = 64 - q.leading_zeros();
        if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits) {
            return Err(ModulusError::BitSize { q });
        }
        if !is_prime(q) {
            return Err(ModulusError::NotPrime { q });
        }
        let barrett_m = ((1u128 << (2 * bits)) / q as u128) as u64;
        Ok(Modulus {
            q: q as u32,
            bits,
            barrett_m,
        })
    }

    /// The modulus `q`.
    #[inline]
    pub fn value(&self) -> u32 {
        self.q
    }

    /// Bit length `b` of `q`: the word width residues are stored in.
    #[inline]
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Barrett constant `m = floor(2^(2b) / q)`, which has `b + 1` bits.
    #[inline]
    pub fn barrett_m(&self) -> u64 {
        self.barrett_m
    }

    /// `x mod q` for any `u64`.
    #[inline]
    pub fn reduce(&self, x: u64) -> u32 {
        (x % self.q as u64) as u32
    }

    /// `(x + y) mod q` for reduced inputs.
    #[inline]
    pub fn add(&self, x: u32, y: u32) -> u32 {
        debug_assert!(x < self.q && y < self.q);
        let s = x + y; // < 2^32 because q < 2^31
        // Branch-free: below q, s − q wraps above s. (Branches on random
        // residues mispredict half the time, which dominated the NTT.)
        s.min(s.wrapping_sub(self.q))
    }

    /// `(x - y) mod q` for reduced inputs.
    #[inline]
    pub fn sub(&self, x: u32, y: u32) -> u32 {
        debug_assert!(x < self.q && y < self.q);
        let d = x.wrapping_sub(y);
        d.min(d.wrapping_add(self.q))
    }

    /// `-x mod q`.
    #[inline]
    pub fn neg(&self, x: u32) -> u32 {
        if x == 0 { 0 } else { self.q - x }
    }

    /// `x / 2 mod q` for a reduced input: the inverse butterfly's scaling,
    /// a shift and an add in hardware (q is odd).
    #[inline]
    pub fn half(&self, x: u32) -> u32 {
        debug_assert!(x < self.q);
        // Add q when x is odd (q is odd, so the sum is even); x + q < 2^32.
        (x + (self.q & (x & 1).wrapping_neg())) >> 1
    }

    /// `x * y mod q` by the hardware's Barrett pipeline.
    #[inline]
    pub fn mul(&self, x: u32, y: u32) -> u32 {
        self.barrett_stages(x, y).result
    }

    /// Every intermediate of the Barrett multiplication `x * y mod q`.
    #[inline]
    pub fn barrett_stages(&self, x: u32, y: u32) -> BarrettStages {
        debug_assert!(x < self.q && y < self.q);
        let b = self.bits;
        let q = self.q as u64;
        let z = x as u64 * y as u64;
        let z1 = z >> (b - 1);
        let t = ((z1 as u128 * self.barrett_m as u128) >> (b + 1)) as u64;
        let mask = (1u64 << (b + 2)) - 1;
        let r = z.wrapping_sub(t.wrapping_mul(q)) & mask;
        debug_assert!(r < 3 * q, "Barrett bound violated");
        let mut result = r;
        if result >= q {
            result -= q;
        }
        if result >= q {
            result -= q;
        }
        BarrettStages {
            z,
            z1,
            t,
            r,
            result: result as u32,
        }
    }

    /// `base^exp mod q`.
    pub fn pow(&self, base: u32, exp: u64) -> u32 {
        pow_mod_u64(base as u64, exp, self.q as u64) as u32
    }

    /// Multiplicative inverse of a non-zero residue (Fermat).
    pub fn inv(&self, x: u32) -> Option<u32> {
        let x = x % self.q;
        if x == 0 {
            None
        } else {
            Some(self.pow(x, self.q as u64 - 2))
        }
    }

    /// Shoup companion of a constant `w`: `floor(w * 2^32 / q)`. With it,
    /// [`Modulus::mul_shoup`] multiplies by `w` with one high and two low
    /// word products, which is what the CPU NTT uses.
    #[inline]
    pub fn shoup(&self, w: u32) -> u32 {
        debug_assert!(w < self.q);
        (((w as u64) << 32) / self.q as u64) as u32
    }

    /// `x * w mod q` given `w_shoup = self.shoup(w)`; any `x < 2^32`.
    #[inline]
    pub fn mul_shoup(&self, x: u32, w: u32, w_shoup: u32) -> u32 {
        let quotient = ((x as u64 * w_shoup as u64) >> 32) as u32;
        let r = x
            .wrapping_mul(w)
            .wrapping_sub(quotient.wrapping_mul(self.q));
        // r < 2q < 2^32 holds for q < 2^31.
        r.min(r.wrapping_sub(self.q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prime::ntt_primes;
    use proptest::prelude::*;

    fn some_moduli() -> [u64; 8] {
        let mut out = [0; 8];
        let sizes = [4u32, 12, 17, 18, 24, 29, 30, 31];
        for (slot, bits) in out.iter_mut().zip(sizes) {
            *slot = ntt_primes(bits, 1.min(bits - 3)).next().unwrap();
        }
        out
    }

    #[test]
    fn rejects_bad_moduli() {
        assert_eq!(Modulus::new(7), Err(ModulusError::BitSize { q: 7 }));
        assert_eq!(
            Modulus::new(1 << 31 | 1),
            Err(ModulusError::BitSize { q: 1 << 31 | 1 })
        );
        assert_eq!(Modulus::new(15), Err(ModulusError::NotPrime { q: 15 }));
        assert_eq!(
            Modulus::new(1_073_741_823),
            Err(ModulusError::NotPrime { q: 1_073_741_823 })
        );
    }

    #[test]
    fn barrett_extremes_match_bigint() {
        for q in some_moduli() {
            let m = Modulus::new(q).unwrap();
            let qq = q as u32;
            for x in [0, 1, 2, qq / 2, qq - 2, qq - 1] {
                for y in [0, 1, 2, qq / 2, qq - 2, qq - 1] {
                    let expect = (x as u128 * y as u128 % q as u128) as u32;
                    assert_eq!(m.mul(x, y), expect, "q {q} x {x} y {y}");
                }
            }
            assert!(m.barrett_m() >> m.bits() == 1, "m has b + 1 bits");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn barrett_matches_bigint(idx in 0usize..8, x: u32, y: u32) {
            let q = some_moduli()[idx];
            let m = Modulus::new(q).unwrap();
            let (x, y) = (x % m.value(), y % m.value());
            let s = m.barrett_stages(x, y);
            prop_assert_eq!(s.result as u128, x as u128 * y as u128 % q as u128);
            prop_assert!(s.r < 3 * q);
            prop_assert!(s.t < (1 << m.bits()));
        }

        #[test]
        fn shoup_matches_bigint(idx in 0usize..8, x: u32, w: u32) {
            let q = some_moduli()[idx];
            let m = Modulus::new(q).unwrap();
            let w = w % m.value();
            let expect = (x as u128 * w as u128 % q as u128) as u32;
            prop_assert_eq!(m.mul_shoup(x, w, m.shoup(w)), expect);
        }

        #[test]
        fn add_sub_half_inv(idx in 0usize..8, x: u32, y: u32) {
            let q = some_moduli()[idx];
            let m = Modulus::new(q).unwrap();
            let (x, y) = (x % m.value(), y % m.value());
            prop_assert_eq!(m.add(x, y) as u64, (x as u64 + y as u64) % q);
            prop_assert_eq!(m.sub(m.add(x, y), y), x);
            prop_assert_eq!(m.add(m.half(x), m.half(x)), x);
            prop_assert_eq!(m.add(x, m.neg(x)), 0);
            if x != 0 {
                prop_assert_eq!(m.mul(x, m.inv(x).unwrap()), 1);
            }
        }
    }
}

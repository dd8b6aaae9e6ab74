//! CKKS parameters: a plain [`ParamsLiteral`] validated into [`Params`]
//! (Lattigo's two-stage `ParametersLiteral` → `Parameters`).
//!
//! **Modulus chain.** Every prime is an NTT-friendly prime of ola-arith
//! ([`ola_arith::prime::ntt_primes`]) of at most 30 bits, the accelerator's
//! word. `Q = q_0 ⋯ q_{B-1} · q_B ⋯ q_{B+L-1}`: the first `B = base_limbs`
//! primes stay to the end and give the headroom above the scale a
//! decrypted message needs (with 30-bit words one prime is not enough
//! headroom over a 2^30 scale, so the default sets use two or three); the
//! next `r·L` primes (`L = levels`, `r = level_primes`) are divided away `r`
//! at a time, one group per rescale. A ciphertext at level `ℓ` has
//! `B + r·ℓ` limbs.
//!
//! **Double-prime scaling.** With one 30-bit prime per level the scale is
//! about 2^30, and the rounding noise of encryption and rescale (a few
//! hundred units per coefficient, times `sqrt(N)` in the slots) leaves only
//! about 13 bits at N = 2^16. With `r = 2` each level divides by a product
//! of two 30-bit primes, so the scale is about 2^59 while every limb stays a
//! device word: the precision is that of a 60-bit-prime chain (as in the
//! double-prime rescaling of GPU / FPGA CKKS works), at twice the limbs. `P = p_0 ⋯ p_{α-1}` are the special primes of
//! hybrid key switching; `α` is also the digit size, so a ciphertext of
//! `B + ℓ` limbs is decomposed into `ceil((B + ℓ) / α)` digits.
//!
//! **Security.** `log2(QP)` must not exceed the 128-bit bound of the
//! homomorphic-encryption standard (ternary secret, σ = 3.2) for `N`;
//! otherwise [`Params::new`] refuses the set with [`Error::Insecure`].

use ola_arith::Modulus;
use ola_arith::prime::{is_prime, ntt_primes};

use crate::error::{Error, Result};

/// Largest prime size: the accelerator's residues are 30-bit words.
pub const MAX_LIMB_BITS: u32 = 30;
/// Smallest prime size accepted (below this the NTT primes run out and
/// the scale carries no useful precision).
pub const MIN_LIMB_BITS: u32 = 20;
/// Standard deviation of the error distribution.
pub const SIGMA: f64 = 3.2;
/// Errors are rounded Gaussians truncated at `6 σ` (as Lattigo does).
pub const ERROR_BOUND: f64 = 6.0 * SIGMA;

/// Largest `log2(QP)` for 128-bit classical security with a ternary secret
/// and σ = 3.2, by `log2 N` (HE standard tables as used by OpenFHE; see
/// `shared/docs/method.md`, "Security"). `None`: no bound tabulated, and
/// no parameter set is accepted at that `N`.
pub fn max_log_qp_128(log_n: u32) -> Option<u32> {
    match log_n {
        12 => Some(109),
        13 => Some(218),
        14 => Some(438),
        15 => Some(881),
        16 => Some(1747),
        _ => None,
    }
}

/// Unvalidated description of a parameter set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParamsLiteral {
    /// `log2 N`, the ring degree.
    pub log_n: u32,
    /// Bit size of the `base_limbs` primes kept to the end.
    pub base_bits: u32,
    /// Number of primes at level 0 (`B`, at least 1).
    pub base_limbs: usize,
    /// Bit size of the rescaling primes; the default scale should be close
    /// to `2^limb_bits` so that rescaling keeps the scale.
    pub limb_bits: u32,
    /// Number of levels (`L`): the multiplicative depth.
    pub levels: usize,
    /// Rescaling primes per level (`r`, 1 or 2): a rescale divides by the
    /// product of `r` primes, so the scale is about `2^(r·limb_bits)`.
    pub level_primes: usize,
    /// Bit size of the special primes.
    pub special_bits: u32,
    /// Number of special primes (`P` is their product).
    pub special_primes: usize,
    /// Digit size `α` of the hybrid key switching: ciphertext primes per
    /// digit, at most `special_primes`. Key-switching noise scales as
    /// `Q_digit / P`: with equal-size primes, one special prime more than
    /// the digit size makes it negligible.
    pub digit_size: usize,
    /// `log2` of the default encoding scale.
    pub log_scale: u32,
}

/// A validated parameter set: the primes are chosen and the set passed the
/// 128-bit security check.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    literal: ParamsLiteral,
    q: Vec<Modulus>,
    p: Vec<Modulus>,
    log_qp: f64,
    id: u64,
}

impl Params {
    /// Validates `literal`, picks its primes and checks 128-bit security.
    pub fn new(literal: ParamsLiteral) -> Result<Self> {
        let params = Self::build(literal)?;
        let max = max_log_qp_128(literal.log_n);
        match max {
            Some(max) if params.log_qp <= max as f64 => Ok(params),
            _ => Err(Error::Insecure {
                log_n: literal.log_n,
                log_qp: params.log_qp,
                max_log_qp: max,
            }),
        }
    }

    /// Like [`Params::new`] without the security check: only for the
    /// crate's own tests, which need small rings (N = 2^10, 2^11) or many
    /// levels at N = 2^12 to stay fast.
    #[cfg(test)]
    pub(crate) fn new_insecure_for_tests(literal: ParamsLiteral) -> Result<Self> {
        Self::build(literal)
    }

    fn build(literal: ParamsLiteral) -> Result<Self> {
        let ParamsLiteral {
            log_n,
            base_bits,
            base_limbs,
            limb_bits,
            levels,
            level_primes,
            special_bits,
            special_primes,
            digit_size,
            log_scale,
        } = literal;
        let bad = |why: String| Err(Error::InvalidParams(why));
        if !(3..=17).contains(&log_n) {
            return bad(format!("log_n = {log_n} is outside 3..=17"));
        }
        for (name, bits) in [
            ("base_bits", base_bits),
            ("limb_bits", limb_bits),
            ("special_bits", special_bits),
        ] {
            if !(MIN_LIMB_BITS..=MAX_LIMB_BITS).contains(&bits) {
                return bad(format!(
                    "{name} = {bits} is outside {MIN_LIMB_BITS}..={MAX_LIMB_BITS} (device words are 30 bits)"
                ));
            }
        }
        if !(1..=2).contains(&level_primes) {
            return bad(format!(
                "level_primes = {level_primes} must be 1 or 2 (primes divided away per rescale)"
            ));
        }
        if level_primes == 2 && log_scale != 2 * limb_bits - 1 {
            return bad(format!(
                "log_scale = {log_scale} must be {} with two {limb_bits}-bit primes per level: \
                 the middle of their products' range, so that pairs close to the scale exist",
                2 * limb_bits - 1
            ));
        }
        if base_limbs == 0 {
            return bad("base_limbs must be at least 1".into());
        }
        if special_primes == 0 {
            return bad("special_primes must be at least 1 (hybrid key switching)".into());
        }
        if digit_size == 0 || digit_size > special_primes {
            return bad(format!(
                "digit_size = {digit_size} must be in 1..=special_primes = {special_primes} (P must cover a digit)"
            ));
        }
        let log_q0 = base_limbs as u32 * base_bits;
        if log_scale == 0 || log_scale + 2 > log_q0 {
            return bad(format!(
                "log_scale = {log_scale} must be in 1..={} to leave headroom below the base modulus of about 2^{log_q0}",
                log_q0.saturating_sub(2)
            ));
        }
        // Primes are drawn largest first, each prime at most once even when
        // two groups share a bit size.
        fn take(
            used: &mut Vec<u64>,
            bits: u32,
            log_n: u32,
            count: usize,
            what: &str,
        ) -> Result<Vec<u64>> {
            let picked: Vec<u64> = ntt_primes(bits, log_n)
                .filter(|q| !used.contains(q))
                .take(count)
                .collect();
            if picked.len() < count {
                return Err(Error::InvalidParams(format!(
                    "only {} NTT primes of {bits} bits for N = 2^{log_n}, {count} {what} primes asked",
                    picked.len()
                )));
            }
            used.extend_from_slice(&picked);
            Ok(picked)
        }
        let mut used: Vec<u64> = Vec::new();
        let mut q = take(&mut used, base_bits, log_n, base_limbs, "base")?;
        if level_primes == 1 {
            q.extend(take(&mut used, limb_bits, log_n, levels, "rescaling")?);
        } else {
            q.extend(level_pairs(&mut used, limb_bits, log_n, levels, log_scale)?);
        }
        let p = take(&mut used, special_bits, log_n, special_primes, "special")?;
        let modulus = |v: u64| Modulus::new(v).expect("ntt_primes yields valid primes");
        let q: Vec<Modulus> = q.into_iter().map(modulus).collect();
        let p: Vec<Modulus> = p.into_iter().map(modulus).collect();
        let log_qp = q.iter().chain(&p).map(|m| (m.value() as f64).log2()).sum();
        // FNV-1a over everything that defines the ring and the scale, so
        // objects of different sets are told apart.
        let mut id: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |x: u64| {
            for byte in x.to_le_bytes() {
                id ^= byte as u64;
                id = id.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        eat(log_n as u64);
        eat(base_limbs as u64);
        // Only double-prime sets hash `r`, so that single-prime sets keep
        // the identifiers (and frozen blobs) they had before `r` existed.
        if level_primes != 1 {
            eat(level_primes as u64);
        }
        eat(log_scale as u64);
        for m in q.iter().chain(&p) {
            eat(m.value() as u64);
        }
        eat(p.len() as u64);
        eat(digit_size as u64);
        Ok(Params {
            literal,
            q,
            p,
            log_qp,
            id,
        })
    }

    /// The literal this set was built from.
    pub fn literal(&self) -> &ParamsLiteral {
        &self.literal
    }

    /// `log2 N`.
    pub fn log_n(&self) -> u32 {
        self.literal.log_n
    }

    /// Ring degree `N`.
    pub fn n(&self) -> usize {
        1 << self.literal.log_n
    }

    /// Number of complex slots, `N / 2`.
    pub fn slots(&self) -> usize {
        self.n() / 2
    }

    /// The ciphertext primes `q_0 … q_{B+rL-1}`.
    pub fn q(&self) -> &[Modulus] {
        &self.q
    }

    /// The special primes `p_0 … p_{α-1}`.
    pub fn p(&self) -> &[Modulus] {
        &self.p
    }

    /// Number of primes kept at level 0.
    pub fn base_limbs(&self) -> usize {
        self.literal.base_limbs
    }

    /// Highest level `L` (fresh ciphertexts).
    pub fn max_level(&self) -> usize {
        self.literal.levels
    }

    /// Number of `Q` limbs of a ciphertext at `level`: `B + r·level`.
    pub fn limbs_at(&self, level: usize) -> usize {
        self.literal.base_limbs + self.literal.level_primes * level
    }

    /// Rescaling primes per level (`r`).
    pub fn level_primes(&self) -> usize {
        self.literal.level_primes
    }

    /// The divisor of a rescale from `level` (≥ 1) to `level - 1`: the
    /// product of that level's `r` primes, as a float (what the scale is
    /// divided by).
    pub fn rescale_factor(&self, level: usize) -> f64 {
        assert!(
            level >= 1 && level <= self.max_level(),
            "no rescale from level {level}"
        );
        self.q[self.limbs_at(level - 1)..self.limbs_at(level)]
            .iter()
            .map(|m| m.value() as f64)
            .product()
    }

    /// Digit size `α` of the key switching.
    pub fn digit_size(&self) -> usize {
        self.literal.digit_size
    }

    /// Number of key-switching digits at `level`: `ceil((B + rℓ) / α)`.
    pub fn digits_at(&self, level: usize) -> usize {
        self.limbs_at(level).div_ceil(self.digit_size())
    }

    /// Default scale `2^log_scale`.
    pub fn default_scale(&self) -> f64 {
        (self.literal.log_scale as f64).exp2()
    }

    /// `log2(QP)`, the figure the security check bounds.
    pub fn log_qp(&self) -> f64 {
        self.log_qp
    }

    /// Identifier (hash of the ring, the primes and the scale) stored in
    /// every key, plaintext and ciphertext to detect mixing of sets.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// `Q` and `P` primes in one list, `Q` first: the indexing used by
    /// [`crate::backend::Backend`].
    pub fn all_moduli(&self) -> Vec<Modulus> {
        self.q.iter().chain(&self.p).copied().collect()
    }
}

/// The `levels` prime pairs of double-prime scaling, level 1 first.
///
/// The scale after a product and rescale at level `ℓ` is `s² / D_ℓ`, so a
/// divisor `D_ℓ` a relative `ε` away from the scale moves the next scale by
/// `ε`, and squaring doubles any offset level after level: with 30-bit NTT
/// primes at N = 2^16 (spaced about 2^21 apart) fixed pairs would drift by
/// hundreds of bits over 19 levels. So the pairs are chosen from the top
/// level down, each the pair whose product is closest to `s_ℓ² / 2^log_scale`
/// for the scale `s_ℓ` a squaring chain from a fresh `2^log_scale`
/// ciphertext has at that level: the next scale lands back on
/// `2^log_scale` up to the pair's rounding, which does not accumulate.
fn level_pairs(
    used: &mut Vec<u64>,
    bits: u32,
    log_n: u32,
    levels: usize,
    log_scale: u32,
) -> Result<Vec<u64>> {
    // Candidates on both sides of 2^(log_scale / 2), so that pairs with
    // products just above and just below the scale exist (and enough of
    // them for products within about 2^-16 of any target).
    const PER_SIDE: usize = 512;
    let step = 2u64 << log_n;
    let (lo, hi) = (1u64 << (bits - 1), 1u64 << bits);
    let centre = (((log_scale as f64) / 2.0).exp2() as u64 / step) * step + 1;
    let fresh = |q: &u64| *q >= lo && *q < hi && is_prime(*q) && !used.contains(q);
    let mut cands: Vec<u64> = (0..)
        .map(|k| centre + k * step)
        .take_while(|&q| q < hi)
        .filter(fresh)
        .take(PER_SIDE)
        .collect();
    cands.extend(
        (1..)
            .map_while(|k| centre.checked_sub(k * step))
            .take_while(|&q| q >= lo)
            .filter(fresh)
            .take(PER_SIDE),
    );
    // Ascending, for the binary search below.
    cands.sort_unstable();
    if cands.len() < 2 * levels {
        return Err(Error::InvalidParams(format!(
            "only {} NTT primes of {bits} bits for N = 2^{log_n}, {} rescaling primes asked",
            cands.len(),
            2 * levels
        )));
    }
    let log_target_scale = log_scale as f64;
    let mut log_s = log_target_scale;
    let mut top_down = Vec::with_capacity(2 * levels);
    for _ in 0..levels {
        let want = 2.0 * log_s - log_target_scale;
        let mut best: Option<(f64, usize, usize)> = None;
        for (i, &a) in cands.iter().enumerate() {
            let b = (want - (a as f64).log2()).exp2();
            let k = cands.partition_point(|&c| (c as f64) < b);
            for j in [k.wrapping_sub(1), k] {
                if j < cands.len() && j != i {
                    let err = ((a as f64).log2() + (cands[j] as f64).log2() - want).abs();
                    if best.is_none_or(|(e, _, _)| err < e) {
                        best = Some((err, i, j));
                    }
                }
            }
        }
        let (_, i, j) = best.expect("at least two candidates");
        let (a, b) = (cands[i], cands[j]);
        log_s = 2.0 * log_s - (a as f64).log2() - (b as f64).log2();
        cands.retain(|&c| c != a && c != b);
        used.extend_from_slice(&[a, b]);
        top_down.push([a.max(b), a.min(b)]);
    }
    Ok(top_down.into_iter().rev().flatten().collect())
}

/// Named, 128-bit secure parameter sets. All primes are NTT-friendly
/// (`≡ 1 mod 2N`) and at most 30 bits, the accelerator's word.
pub mod presets {
    use super::ParamsLiteral;

    /// N = 2^12, log2(QP) < 109 (bound 109): depth 2, for quick checks.
    /// - base: one 29-bit prime, 4 bits of headroom over the 2^25 scale
    ///   (messages up to about ±8 decrypt correctly);
    /// - two 25-bit rescaling primes, close to the 2^25 scale;
    /// - one 30-bit special prime, larger than the largest digit (one
    ///   prime of at most 29 bits), so key switching adds little noise.
    pub const PN12_QP109: ParamsLiteral = ParamsLiteral {
        log_n: 12,
        base_bits: 29,
        base_limbs: 1,
        limb_bits: 25,
        levels: 2,
        level_primes: 1,
        special_bits: 30,
        special_primes: 1,
        digit_size: 1,
        log_scale: 25,
    };

    /// N = 2^13, log2(QP) < 210 (bound 218): depth 4.
    /// - base: two 30-bit primes (60 bits), 30 bits of headroom over 2^30;
    /// - four 30-bit rescaling primes, each ≈ the 2^30 scale;
    /// - one 30-bit special prime (digits are single primes).
    pub const PN13_QP218: ParamsLiteral = ParamsLiteral {
        log_n: 13,
        base_bits: 30,
        base_limbs: 2,
        limb_bits: 30,
        levels: 4,
        level_primes: 1,
        special_bits: 30,
        special_primes: 1,
        digit_size: 1,
        log_scale: 30,
    };

    /// N = 2^14, log2(QP) < 420 (bound 438): depth 9.
    /// - base: two 30-bit primes (60 bits of headroom room over 2^30);
    /// - nine 30-bit rescaling primes;
    /// - three 30-bit special primes: digits of three primes, so at most
    ///   four digits, and `P` as large as each digit.
    pub const PN14_QP438: ParamsLiteral = ParamsLiteral {
        log_n: 14,
        base_bits: 30,
        base_limbs: 2,
        limb_bits: 30,
        levels: 9,
        level_primes: 1,
        special_bits: 30,
        special_primes: 3,
        digit_size: 3,
        log_scale: 30,
    };

    /// N = 2^15, log2(QP) ≈ 861 (bound 881): depth 9, double-prime scale.
    /// - base: three 30-bit primes (90 bits), 31 bits of headroom over the
    ///   2^59 scale;
    /// - nine levels of two 30-bit rescaling primes (each pair ≈ 2^59, the
    ///   scale);
    /// - eight 30-bit special primes with digits of seven: at most 3
    ///   digits, and `P` a prime larger than a digit.
    pub const PN15_QP881: ParamsLiteral = ParamsLiteral {
        log_n: 15,
        base_bits: 30,
        base_limbs: 3,
        limb_bits: 30,
        levels: 9,
        level_primes: 2,
        special_bits: 30,
        special_primes: 8,
        digit_size: 7,
        log_scale: 59,
    };

    /// N = 2^16, log2(QP) ≈ 1661 (bound 1747): depth 19 — the depth of the
    /// peers' 20-limb set (Lattigo / OpenFHE: 60 + 19 × 50 bits, scale
    /// 2^50) — with a 2^59 scale from two 30-bit primes per level, so at
    /// least their precision; a degree-1023 Chebyshev evaluation (depth 10)
    /// leaves 9 levels for the layers around it.
    /// - base: three 30-bit primes (90 bits, 31 bits of headroom over 2^59);
    /// - nineteen levels of two 30-bit rescaling primes (38 primes);
    /// - fifteen 30-bit special primes with digits of fourteen: 3 digits
    ///   at the top level (41 limbs), and `P` a prime larger than a digit,
    ///   which keeps the key-switching noise (rotations) out of sight. The
    ///   security budget left by the 1211-bit `Q` is spent on `P`: the
    ///   fewer the digits, the fewer NTTs and multiply-accumulates per key
    ///   switch.
    pub const PN16_QP1747: ParamsLiteral = ParamsLiteral {
        log_n: 16,
        base_bits: 30,
        base_limbs: 3,
        limb_bits: 30,
        levels: 19,
        level_primes: 2,
        special_bits: 30,
        special_primes: 15,
        digit_size: 14,
        log_scale: 59,
    };

    /// Every preset, smallest first.
    pub const ALL: [ParamsLiteral; 5] =
        [PN12_QP109, PN13_QP218, PN14_QP438, PN15_QP881, PN16_QP1747];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_secure_and_word_sized() {
        for lit in presets::ALL {
            let params = Params::new(lit).unwrap();
            let bound = max_log_qp_128(lit.log_n).unwrap() as f64;
            assert!(params.log_qp() <= bound);
            let two_n = 2 * params.n() as u32;
            let mut all: Vec<u32> = params.all_moduli().iter().map(|m| m.value()).collect();
            for &q in &all {
                assert!(q < 1 << 30, "prime {q} exceeds 30 bits");
                assert_eq!(q % two_n, 1, "prime {q} is not NTT-friendly");
            }
            all.sort_unstable();
            all.dedup();
            assert_eq!(
                all.len(),
                params.q().len() + params.p().len(),
                "primes distinct"
            );
        }
    }

    #[test]
    fn refuses_sets_above_the_security_bound() {
        // One more rescaling prime pushes PN12 over 109 bits.
        let lit = ParamsLiteral {
            levels: 3,
            level_primes: 1,
            ..presets::PN12_QP109
        };
        let err = Params::new(lit).unwrap_err();
        match &err {
            Error::Insecure {
                log_n: 12,
                log_qp,
                max_log_qp: Some(109),
            } => assert!(*log_qp > 109.0),
            other => panic!("wrong error {other:?}"),
        }
        assert!(err.to_string().contains("insecure"));
        // 59 primes of 30 bits at N = 2^16: > 1747 bits.
        let lit = ParamsLiteral {
            levels: 46,
            level_primes: 1,
            ..presets::PN16_QP1747
        };
        assert!(matches!(
            Params::new(lit),
            Err(Error::Insecure { log_n: 16, .. })
        ));
        // A small ring has no tabulated bound and is always refused.
        let lit = ParamsLiteral {
            log_n: 11,
            ..presets::PN12_QP109
        };
        assert!(matches!(
            Params::new(lit),
            Err(Error::Insecure {
                max_log_qp: None,
                ..
            })
        ));
    }

    #[test]
    fn refuses_malformed_literals() {
        let base = presets::PN14_QP438;
        for lit in [
            ParamsLiteral {
                limb_bits: 31,
                ..base
            },
            ParamsLiteral {
                special_bits: 40,
                ..base
            },
            ParamsLiteral {
                base_limbs: 0,
                ..base
            },
            ParamsLiteral {
                special_primes: 0,
                ..base
            },
            ParamsLiteral {
                digit_size: 4,
                ..base
            },
            ParamsLiteral {
                digit_size: 0,
                ..base
            },
            ParamsLiteral {
                log_scale: 59,
                ..base
            },
            ParamsLiteral { log_n: 20, ..base },
            ParamsLiteral {
                level_primes: 0,
                ..base
            },
            ParamsLiteral {
                level_primes: 3,
                ..base
            },
            // Two primes per level need the scale in the middle of their
            // products' range.
            ParamsLiteral {
                log_scale: 58,
                ..presets::PN16_QP1747
            },
        ] {
            assert!(
                matches!(Params::new(lit), Err(Error::InvalidParams(_))),
                "{lit:?}"
            );
        }
    }

    #[test]
    fn double_prime_pairs_keep_the_scale_of_a_squaring_chain() {
        for lit in [presets::PN15_QP881, presets::PN16_QP1747] {
            let params = Params::new(lit).unwrap();
            println!("N = 2^{}: log2(QP) = {:.1}", lit.log_n, params.log_qp());
            assert_eq!(params.level_primes(), 2);
            assert_eq!(params.q().len(), lit.base_limbs + 2 * lit.levels);
            // Square from a fresh top-level scale down to level 0.
            let mut log_s = lit.log_scale as f64;
            for level in (1..=params.max_level()).rev() {
                log_s = 2.0 * log_s - params.rescale_factor(level).log2();
                assert!(
                    (log_s - lit.log_scale as f64).abs() < 1e-3,
                    "N = 2^{}: scale 2^{log_s} at level {}",
                    lit.log_n,
                    level - 1
                );
            }
        }
    }

    #[test]
    fn ids_tell_sets_apart() {
        let a = Params::new(presets::PN13_QP218).unwrap();
        let b = Params::new(presets::PN14_QP438).unwrap();
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id(), Params::new(presets::PN13_QP218).unwrap().id());
        assert_eq!(b.digits_at(b.max_level()), 4);
        assert_eq!(b.limbs_at(0), 2);
    }
}

//! Keys and key generation (scheme-agnostic RLWE layer, as Lattigo's
//! `core/rlwe`): ternary secret, public key, and hybrid key-switching keys
//! (relinearisation and Galois keys).
//!
//! **Hybrid key switching.** A switching key from `s'` to `s` has one pair
//! per digit `j` of `α` consecutive `Q` primes, over `Q ∪ P`:
//! `b_j = -a_j·s + e_j + P·s'·[i ∈ digit j]` (the last term added only on
//! the digit's own limbs; it is `P·(Q/Q_j)·[(Q/Q_j)^-1]_(Q_j)·s'` reduced
//! per prime). For `d` at any level, `Σ_j d̃_j·(b_j, a_j)` with `d̃_j` the
//! digit extended to `Q_ℓ ∪ P` decrypts to `P·d·s' + Σ_j d̃_j·e_j`, and
//! dividing by `P` leaves `d·s'` plus an error of about `α`-prime digits
//! times `σ·N / P`, small because `P` is as large as one digit.
//!
//! **Randomness.** Everything is drawn from ChaCha20 seeded by the
//! operating system; [`KeyGenerator::from_seed`] exists for reproducible
//! tests only and must not be used for real keys.

use std::collections::HashMap;
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::error::Result;
use crate::ring::{Ring, RnsPoly, sample_gaussian, sample_ternary};

/// The secret `s`, ternary, held in NTT form over all of `Q ∪ P`.
#[derive(Clone, Debug)]
pub struct SecretKey {
    pub(crate) s: RnsPoly,
    pub(crate) params_id: u64,
}

/// The public key `(b, a) = (-a·s + e, a)` over all of `Q ∪ P` (the
/// encryptor works modulo `QP` and divides by `P`, which shrinks the
/// encryption noise to rounding noise).
#[derive(Clone, Debug)]
pub struct PublicKey {
    pub(crate) b: RnsPoly,
    pub(crate) a: RnsPoly,
    pub(crate) params_id: u64,
}

/// A hybrid key-switching key: one `(b_j, a_j)` per digit, over `Q ∪ P`.
#[derive(Clone, Debug)]
pub struct SwitchingKey {
    pub(crate) digits: Vec<(RnsPoly, RnsPoly)>,
    pub(crate) params_id: u64,
}

impl SwitchingKey {
    /// Number of digits (`ceil(#Q / α)`).
    pub fn digits(&self) -> usize {
        self.digits.len()
    }

    /// Identifier of the parameter set.
    pub fn params_id(&self) -> u64 {
        self.params_id
    }
}

/// Relinearisation key: switches `s²` to `s`.
#[derive(Clone, Debug)]
pub struct RelinKey(pub SwitchingKey);

/// Galois key for `X ↦ X^g`: switches `σ_g(s)` to `s`.
#[derive(Clone, Debug)]
pub struct GaloisKey {
    /// The Galois element `g` (odd, below `2N`).
    pub galois_element: usize,
    /// The switching key.
    pub key: SwitchingKey,
}

/// The keys an evaluator may use (Lattigo's `EvaluationKeySet`).
#[derive(Clone, Debug, Default)]
pub struct EvaluationKeys {
    /// Relinearisation key, needed by ciphertext products.
    pub relin: Option<RelinKey>,
    /// Galois keys by Galois element, needed by rotations / conjugation.
    pub galois: HashMap<usize, GaloisKey>,
}

/// Galois element of a left rotation by `k` slots: `5^k mod 2N`
/// (negative `k` rotates right).
pub fn galois_element_for_rotation(n: usize, k: i64) -> usize {
    let slots = (n / 2) as i64;
    let k = k.rem_euclid(slots) as u64;
    let m = 2 * n as u64;
    let mut g = 1u64;
    let mut base = 5u64;
    let mut e = k;
    while e > 0 {
        if e & 1 == 1 {
            g = g * base % m;
        }
        base = base * base % m;
        e >>= 1;
    }
    g as usize
}

/// Galois element of complex conjugation of the slots: `2N - 1`.
pub fn galois_element_conjugate(n: usize) -> usize {
    2 * n - 1
}

/// Generates keys from a CSPRNG.
pub struct KeyGenerator {
    ring: Arc<Ring>,
    rng: ChaCha20Rng,
}

impl KeyGenerator {
    /// Key generator seeded from the operating system's randomness.
    pub fn new(ring: Arc<Ring>) -> Self {
        KeyGenerator {
            ring,
            rng: ChaCha20Rng::from_os_rng(),
        }
    }

    /// Deterministic key generator: **for reproducible tests only**; keys
    /// from a known seed are known keys.
    pub fn from_seed(ring: Arc<Ring>, seed: [u8; 32]) -> Self {
        KeyGenerator {
            ring,
            rng: ChaCha20Rng::from_seed(seed),
        }
    }

    /// A fresh ternary secret.
    pub fn gen_secret_key(&mut self) -> SecretKey {
        let params = self.ring.params();
        let coeffs = sample_ternary(&mut self.rng, params.n());
        let s = self
            .ring
            .small_to_ntt(&coeffs, params.q().len(), params.p().len());
        SecretKey {
            s,
            params_id: params.id(),
        }
    }

    /// `(b, a) = (-a·s + e, a)` over `Q ∪ P`, `a` uniform, `e` Gaussian.
    pub fn gen_public_key(&mut self, sk: &SecretKey) -> Result<PublicKey> {
        let ring = &*self.ring;
        let params = ring.params();
        crate::ciphertext::check_id(params.id(), sk.params_id)?;
        let (q_limbs, p_limbs) = (params.q().len(), params.p().len());
        let a = ring.sample_uniform(&mut self.rng, q_limbs, p_limbs);
        let e = sample_gaussian(&mut self.rng, params.n());
        let mut b = ring.small_to_ntt(&e, q_limbs, p_limbs);
        let as_ = ring.mul_new(&a, &sk.s);
        ring.sub_assign(&mut b, &as_);
        Ok(PublicKey {
            b,
            a,
            params_id: params.id(),
        })
    }

    /// Switching key from `s_from` (NTT form over `Q ∪ P`) to `sk`.
    fn gen_switching_key(&mut self, s_from: &RnsPoly, sk: &SecretKey) -> SwitchingKey {
        let ring = &*self.ring;
        let params = ring.params();
        let be = ring.backend();
        let (q_limbs, p_limbs) = (params.q().len(), params.p().len());
        let alpha = params.digit_size();
        let p_mod_q = ring.p_mod_q();
        let digits = (0..q_limbs.div_ceil(alpha))
            .map(|j| {
                let a = ring.sample_uniform(&mut self.rng, q_limbs, p_limbs);
                let e = sample_gaussian(&mut self.rng, params.n());
                let mut b = ring.small_to_ntt(&e, q_limbs, p_limbs);
                let as_ = ring.mul_new(&a, &sk.s);
                ring.sub_assign(&mut b, &as_);
                let mut t = vec![0u32; params.n()];
                let digit = j * alpha..((j + 1) * alpha).min(q_limbs);
                for (i, &p_mod) in digit.clone().zip(&p_mod_q[digit]) {
                    t.copy_from_slice(s_from.limb(i));
                    be.mul_const_assign(i, &mut t, p_mod);
                    be.add_assign(i, b.limb_mut(i), &t);
                }
                (b, a)
            })
            .collect();
        SwitchingKey {
            digits,
            params_id: params.id(),
        }
    }

    /// Relinearisation key (`s² → s`).
    pub fn gen_relin_key(&mut self, sk: &SecretKey) -> Result<RelinKey> {
        crate::ciphertext::check_id(self.ring.params().id(), sk.params_id)?;
        let s2 = self.ring.mul_new(&sk.s, &sk.s);
        Ok(RelinKey(self.gen_switching_key(&s2, sk)))
    }

    /// Galois key for the element `g` (`σ_g(s) → s`).
    pub fn gen_galois_key(&mut self, sk: &SecretKey, galois_element: usize) -> Result<GaloisKey> {
        crate::ciphertext::check_id(self.ring.params().id(), sk.params_id)?;
        let perm = self.ring.automorphism_permutation(galois_element);
        let s_g = self.ring.automorphism(&sk.s, &perm);
        Ok(GaloisKey {
            galois_element,
            key: self.gen_switching_key(&s_g, sk),
        })
    }

    /// A relinearisation key plus Galois keys for the given left rotations
    /// (and conjugation if asked).
    pub fn gen_evaluation_keys(
        &mut self,
        sk: &SecretKey,
        rotations: &[i64],
        conjugate: bool,
    ) -> Result<EvaluationKeys> {
        let n = self.ring.params().n();
        let mut keys = EvaluationKeys {
            relin: Some(self.gen_relin_key(sk)?),
            galois: HashMap::new(),
        };
        let mut elements: Vec<usize> = rotations
            .iter()
            .map(|&k| galois_element_for_rotation(n, k))
            .collect();
        if conjugate {
            elements.push(galois_element_conjugate(n));
        }
        for g in elements {
            if let std::collections::hash_map::Entry::Vacant(slot) = keys.galois.entry(g) {
                slot.insert(self.gen_galois_key(sk, g)?);
            }
        }
        Ok(keys)
    }
}

//! Encryption and decryption (scheme-agnostic RLWE).

use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::ciphertext::{Ciphertext, Plaintext, check_id};
use crate::error::Result;
use crate::keys::{PublicKey, SecretKey};
use crate::ring::{Ring, sample_gaussian, sample_ternary};

/// Public-key encryptor: `(⌊(b·u + e_0) / P⌉ + m, ⌊(a·u + e_1) / P⌉)` with
/// a ternary `u` and Gaussian `e_0`, `e_1` over `Q_ℓ ∪ P`, all from
/// ChaCha20 seeded by the OS. Working modulo `QP` and dividing by `P`
/// (as Lattigo does) leaves rounding noise instead of `e·u` noise: about
/// four bits more precision at N = 2^10, more at larger `N`.
pub struct Encryptor {
    ring: Arc<Ring>,
    pk: PublicKey,
    rng: ChaCha20Rng,
}

impl Encryptor {
    /// Encryptor under `pk`, seeded from the operating system.
    pub fn new(ring: Arc<Ring>, pk: PublicKey) -> Result<Self> {
        check_id(ring.params().id(), pk.params_id)?;
        Ok(Encryptor {
            ring,
            pk,
            rng: ChaCha20Rng::from_os_rng(),
        })
    }

    /// Deterministic encryptor: **for reproducible tests only**.
    pub fn from_seed(ring: Arc<Ring>, pk: PublicKey, seed: [u8; 32]) -> Result<Self> {
        check_id(ring.params().id(), pk.params_id)?;
        Ok(Encryptor {
            ring,
            pk,
            rng: ChaCha20Rng::from_seed(seed),
        })
    }

    /// Encrypts `pt` at its level and scale.
    pub fn encrypt(&mut self, pt: &Plaintext) -> Result<Ciphertext> {
        let ring = &*self.ring;
        let params = ring.params();
        check_id(params.id(), pt.params_id)?;
        let n = params.n();
        let limbs = pt.poly.q_limbs();
        let p_limbs = params.p().len();
        let u = ring.small_to_ntt(&sample_ternary(&mut self.rng, n), limbs, p_limbs);
        let mut c0 = ring.small_to_ntt(&sample_gaussian(&mut self.rng, n), limbs, p_limbs);
        let mut c1 = ring.small_to_ntt(&sample_gaussian(&mut self.rng, n), limbs, p_limbs);
        ring.mac(&self.pk.b.restrict_q(limbs), &u, &mut c0);
        ring.mac(&self.pk.a.restrict_q(limbs), &u, &mut c1);
        ring.mod_down(&mut c0);
        ring.mod_down(&mut c1);
        ring.add_assign(&mut c0, &pt.poly);
        Ok(Ciphertext {
            c: vec![c0, c1],
            scale: pt.scale,
            level: pt.level,
            params_id: params.id(),
        })
    }
}

/// Decryptor: `m = c_0 + c_1·s (+ c_2·s²)`.
pub struct Decryptor {
    ring: Arc<Ring>,
    sk: SecretKey,
}

impl Decryptor {
    /// Decryptor with secret `sk`.
    pub fn new(ring: Arc<Ring>, sk: SecretKey) -> Result<Self> {
        check_id(ring.params().id(), sk.params_id)?;
        Ok(Decryptor { ring, sk })
    }

    /// Secret-key encryption `(-a·s + e + m, a)`: less noise than the
    /// public-key path, handy in tests. Seeded from the operating system.
    pub fn encrypt_sk(&self, pt: &Plaintext) -> Result<Ciphertext> {
        let mut rng = ChaCha20Rng::from_os_rng();
        self.encrypt_sk_with(pt, &mut rng)
    }

    fn encrypt_sk_with(&self, pt: &Plaintext, rng: &mut ChaCha20Rng) -> Result<Ciphertext> {
        let ring = &*self.ring;
        let params = ring.params();
        check_id(params.id(), pt.params_id)?;
        let limbs = pt.poly.q_limbs();
        let a = ring.sample_uniform(rng, limbs, 0);
        let mut c0 = ring.small_to_ntt(&sample_gaussian(rng, params.n()), limbs, 0);
        let mut s = self.sk.s.clone();
        s.truncate_q(limbs);
        let as_ = ring.mul_new(&a, &s);
        ring.sub_assign(&mut c0, &as_);
        ring.add_assign(&mut c0, &pt.poly);
        Ok(Ciphertext {
            c: vec![c0, a],
            scale: pt.scale,
            level: pt.level,
            params_id: params.id(),
        })
    }

    /// Decrypts a ciphertext of any degree.
    pub fn decrypt(&self, ct: &Ciphertext) -> Result<Plaintext> {
        let ring = &*self.ring;
        check_id(ring.params().id(), ct.params_id)?;
        let limbs = ct.c[0].q_limbs();
        let mut s = self.sk.s.clone();
        s.truncate_q(limbs);
        // Horner: ((c_k·s + c_(k-1))·s + …) + c_0.
        let mut acc = ct.c[ct.c.len() - 1].clone();
        for c in ct.c[..ct.c.len() - 1].iter().rev() {
            ring.mul_assign(&mut acc, &s);
            ring.add_assign(&mut acc, c);
        }
        Ok(Plaintext {
            poly: acc,
            scale: ct.scale,
            level: ct.level,
            params_id: ct.params_id,
        })
    }
}

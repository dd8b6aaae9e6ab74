//! Plaintexts and ciphertexts: NTT-form RNS polynomials with their level,
//! scale and the identifier of their parameter set.

use crate::error::{Error, Result};
use crate::ring::RnsPoly;

/// An encoded message: `m(X)` with `m(ζ^(5^j)) ≈ scale · z_j`.
#[derive(Clone, Debug, PartialEq)]
pub struct Plaintext {
    pub(crate) poly: RnsPoly,
    pub(crate) scale: f64,
    pub(crate) level: usize,
    pub(crate) params_id: u64,
}

impl Plaintext {
    /// Level (the plaintext has `base_limbs + level` limbs).
    pub fn level(&self) -> usize {
        self.level
    }

    /// Scale the message was multiplied by.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The NTT-form polynomial.
    pub fn poly(&self) -> &RnsPoly {
        &self.poly
    }

    /// Identifier of the parameter set.
    pub fn params_id(&self) -> u64 {
        self.params_id
    }
}

/// An RLWE ciphertext `(c_0, c_1[, c_2])` with
/// `c_0 + c_1·s [+ c_2·s²] ≈ m` modulo `Q_level`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ciphertext {
    pub(crate) c: Vec<RnsPoly>,
    pub(crate) scale: f64,
    pub(crate) level: usize,
    pub(crate) params_id: u64,
}

impl Ciphertext {
    /// Level (each polynomial has `base_limbs + level` limbs).
    pub fn level(&self) -> usize {
        self.level
    }

    /// Scale of the encrypted message.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Sets the scale bookkeeping without touching the data (for callers
    /// that know the exact scale better, e.g. after rounding choices).
    pub fn set_scale(&mut self, scale: f64) {
        self.scale = scale;
    }

    /// Degree: 1 for a normal ciphertext, 2 after a product before
    /// relinearisation.
    pub fn degree(&self) -> usize {
        self.c.len() - 1
    }

    /// The polynomials `c_0, c_1, …` (NTT form).
    pub fn polys(&self) -> &[RnsPoly] {
        &self.c
    }

    /// Identifier of the parameter set.
    pub fn params_id(&self) -> u64 {
        self.params_id
    }
}

/// Fails unless `found == expected`.
pub(crate) fn check_id(expected: u64, found: u64) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(Error::ParamsMismatch { expected, found })
    }
}

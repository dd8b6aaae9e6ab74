//! The one error type of the crate.

use std::fmt;

/// Why a CKKS operation or a parameter set was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// The parameter literal is malformed (sizes out of range, not enough
    /// primes of the asked size, ...).
    InvalidParams(String),
    /// The parameter set is below 128-bit security: `log2(QP)` exceeds the
    /// bound of the homomorphic-encryption standard for this ring degree.
    Insecure {
        /// `log2 N`.
        log_n: u32,
        /// `log2(QP)` of the refused set.
        log_qp: f64,
        /// The largest `log2(QP)` allowed at this `N` (`None`: no bound is
        /// tabulated for this `N`, so no set is accepted).
        max_log_qp: Option<u32>,
    },
    /// Two operands (keys, ciphertexts, plaintexts) come from different
    /// parameter sets.
    ParamsMismatch {
        /// Identifier of the evaluator's / first operand's parameters.
        expected: u64,
        /// Identifier of the offending operand's parameters.
        found: u64,
    },
    /// An operation needs more levels than the operand has left.
    LevelExhausted {
        /// The operation.
        op: &'static str,
        /// The operand's level.
        level: usize,
        /// The level the operation needs at least.
        needed: usize,
    },
    /// A level outside `0..=max_level` was asked for.
    BadLevel {
        /// The asked level.
        level: usize,
        /// The current or maximal level.
        max: usize,
    },
    /// Operands that must share a scale do not.
    ScaleMismatch {
        /// First operand's scale.
        a: f64,
        /// Second operand's scale.
        b: f64,
    },
    /// A ciphertext has the wrong number of polynomials for the operation
    /// (e.g. a degree-2 ciphertext that was not relinearised).
    BadDegree {
        /// The degree found.
        degree: usize,
        /// The degree the operation accepts.
        expected: usize,
    },
    /// No Galois key for this Galois element was generated.
    MissingGaloisKey {
        /// The Galois element `5^k mod 2N` (or `2N - 1` for conjugation).
        galois_element: usize,
    },
    /// A serialised object is malformed or was altered.
    Corrupt(String),
    /// An encoder input does not fit (too many slots, value too large for
    /// the modulus, non-finite value).
    Encoding(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidParams(why) => write!(f, "invalid CKKS parameters: {why}"),
            Error::Insecure {
                log_n,
                log_qp,
                max_log_qp: Some(max),
            } => write!(
                f,
                "insecure CKKS parameters: log2(QP) = {log_qp:.1} exceeds the 128-bit bound {max} for N = 2^{log_n}"
            ),
            Error::Insecure {
                log_n,
                log_qp,
                max_log_qp: None,
            } => write!(
                f,
                "insecure CKKS parameters: no 128-bit bound is tabulated for N = 2^{log_n} (log2(QP) = {log_qp:.1}); use N = 2^12 .. 2^16"
            ),
            Error::ParamsMismatch { expected, found } => write!(
                f,
                "operands come from different parameter sets (id {expected:#018x} vs {found:#018x})"
            ),
            Error::LevelExhausted { op, level, needed } => write!(
                f,
                "{op} needs level {needed} or more, the operand is at level {level}: levels exhausted"
            ),
            Error::BadLevel { level, max } => {
                write!(f, "level {level} is outside 0..={max}")
            }
            Error::ScaleMismatch { a, b } => write!(
                f,
                "operand scales differ: 2^{:.6} vs 2^{:.6}",
                a.log2(),
                b.log2()
            ),
            Error::BadDegree { degree, expected } => write!(
                f,
                "ciphertext of degree {degree} where degree {expected} is needed (relinearise first?)"
            ),
            Error::MissingGaloisKey { galois_element } => {
                write!(f, "no Galois key for Galois element {galois_element}")
            }
            Error::Encoding(why) => write!(f, "cannot encode: {why}"),
            Error::Corrupt(why) => write!(f, "corrupted or foreign blob: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

//! The one error type of the crate.

use std::fmt;

/// Everything that can go wrong in `ola-approx`.
///
/// Bad input is refused with a variant that names the offending value, so a
/// caller fitting 100 layers can tell which layer's data was wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum ApproxError {
    /// A distribution was built from no samples (or only zero weights).
    NoSamples,
    /// A sample was NaN or infinite.
    NonFiniteSample {
        /// Position in the input slice.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A weight was negative, NaN or infinite.
    InvalidWeight {
        /// Position in the input slice.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// Samples and weights (or centres and counts) had different lengths.
    LengthMismatch {
        /// Number of samples / centres.
        samples: usize,
        /// Number of weights.
        weights: usize,
    },
    /// The input bound `B` was not a finite positive number.
    InvalidBound(f64),
    /// A requested degree was above the supported maximum.
    DegreeOutOfRange {
        /// The requested degree.
        degree: usize,
        /// The largest supported (or fitted) degree.
        max: usize,
    },
    /// A degree-`degree` least-squares fit needs at least `degree + 1`
    /// distinct support points with positive weight; only `distinct` exist.
    TooFewSupportPoints {
        /// Distinct support points with positive weight.
        distinct: usize,
        /// The requested degree.
        degree: usize,
    },
    /// A numeric parameter was outside its domain.
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// What the parameter must satisfy.
        expected: &'static str,
    },
    /// Two interpolation nodes (e.g. k-means centroids) share an abscissa,
    /// so no polynomial passes through all of them.
    DuplicateNode {
        /// The shared abscissa.
        x: f64,
    },
    /// A computation produced non-finite numbers (for instance the
    /// Chebyshev coefficients of a raw high-degree fit to a narrow
    /// distribution overflow).
    IllConditioned {
        /// What overflowed.
        what: &'static str,
        /// The degree at which it happened.
        degree: usize,
    },
    /// The Remez exchange did not converge or lost alternation.
    RemezFailed {
        /// Degree being computed.
        degree: usize,
        /// Why.
        reason: &'static str,
    },
    /// No composition in the search space reaches the requested precision.
    NoCompositeFound {
        /// The precision exponent alpha.
        alpha: u32,
    },
}

impl fmt::Display for ApproxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSamples => write!(f, "no samples: the input distribution is empty"),
            Self::NonFiniteSample { index, value } => {
                write!(f, "sample {index} is not finite ({value})")
            }
            Self::InvalidWeight { index, value } => write!(
                f,
                "weight {index} is {value}; weights must be finite and non-negative"
            ),
            Self::LengthMismatch { samples, weights } => write!(
                f,
                "{samples} samples but {weights} weights; the lengths must match"
            ),
            Self::InvalidBound(b) => {
                write!(
                    f,
                    "input bound B = {b} is invalid; it must be finite and > 0"
                )
            }
            Self::DegreeOutOfRange { degree, max } => {
                write!(f, "degree {degree} is out of range (at most {max})")
            }
            Self::TooFewSupportPoints { distinct, degree } => write!(
                f,
                "degree {degree} needs at least {} distinct sample values, only {distinct} \
                 exist (add samples, lower the degree, or mix in the Chebyshev measure)",
                degree + 1
            ),
            Self::InvalidParameter {
                name,
                value,
                expected,
            } => write!(
                f,
                "parameter {name} = {value} is invalid: expected {expected}"
            ),
            Self::DuplicateNode { x } => write!(
                f,
                "two interpolation nodes share the abscissa x = {x}; no polynomial \
                 passes through both"
            ),
            Self::IllConditioned { what, degree } => write!(
                f,
                "{what} at degree {degree} are not finite: the problem is too \
                 ill-conditioned in f64 (use the robust Chebyshev mixture)"
            ),
            Self::RemezFailed { degree, reason } => {
                write!(f, "Remez exchange for degree {degree} failed: {reason}")
            }
            Self::NoCompositeFound { alpha } => write!(
                f,
                "no composite polynomial in the search space reaches precision 2^-{alpha}"
            ),
        }
    }
}

impl std::error::Error for ApproxError {}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, ApproxError>;

impl ApproxError {
    /// [`ApproxError::InvalidParameter`] when `invalid`, else `Ok`: the
    /// one-line parameter check at the top of every public entry point.
    pub(crate) fn reject_if(
        invalid: bool,
        name: &'static str,
        value: f64,
        expected: &'static str,
    ) -> Result<()> {
        if invalid {
            Err(ApproxError::InvalidParameter {
                name,
                value,
                expected,
            })
        } else {
            Ok(())
        }
    }
}

/// Refuses a bound that is not finite and positive.
pub(crate) fn check_bound(bound: f64) -> Result<()> {
    if bound.is_finite() && bound > 0.0 {
        Ok(())
    } else {
        Err(ApproxError::InvalidBound(bound))
    }
}

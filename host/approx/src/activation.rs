//! The activations to approximate, and the [`Target`] trait that lets every
//! fitting routine take either an [`Activation`] or any closure.

/// A real function to approximate.
///
/// Implemented for [`Activation`] and for every `Fn(f64) -> f64`, so tests
/// and callers can fit arbitrary functions (e.g. `|x: f64| x.exp()`) with
/// the same routines the network's activations use.
pub trait Target {
    /// The function's value at `x`.
    fn eval(&self, x: f64) -> f64;
}

impl<F: Fn(f64) -> f64> Target for F {
    fn eval(&self, x: f64) -> f64 {
        self(x)
    }
}

/// The activations of the networks the project runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// Exact GELU, `x * Phi(x) = x/2 * (1 + erf(x / sqrt 2))` (not the tanh
    /// approximation, so the fit targets what the trained network computes).
    Gelu,
    /// SiLU / Swish with beta = 1: `x * sigmoid(x)`.
    Silu,
    /// Logistic sigmoid `1 / (1 + e^-x)`.
    Sigmoid,
}

impl Activation {
    /// Every activation, for tests and sweeps.
    pub const ALL: [Activation; 4] = [
        Activation::Relu,
        Activation::Gelu,
        Activation::Silu,
        Activation::Sigmoid,
    ];

    /// The activation's value at `x` (overflow-free for all finite `x`).
    pub fn eval(self, x: f64) -> f64 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::Gelu => 0.5 * x * (1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2)),
            Activation::Silu => x * sigmoid(x),
            Activation::Sigmoid => sigmoid(x),
        }
    }
}

impl Target for Activation {
    fn eval(&self, x: f64) -> f64 {
        Activation::eval(*self, x)
    }
}

/// Logistic sigmoid written so that `exp` never overflows.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(Activation::Relu.eval(-2.0), 0.0);
        assert_eq!(Activation::Relu.eval(3.5), 3.5);
        assert_eq!(Activation::Sigmoid.eval(0.0), 0.5);
        assert!((Activation::Sigmoid.eval(-800.0)).abs() < 1e-300);
        assert_eq!(Activation::Sigmoid.eval(800.0), 1.0);
        // GELU(1) = Phi(1) = 0.841344746068543 (normal CDF table value).
        assert!((Activation::Gelu.eval(1.0) - 0.841_344_746_068_543).abs() < 1e-14);
        // SiLU(2) = 2 / (1 + e^-2).
        assert!((Activation::Silu.eval(2.0) - 2.0 / (1.0 + (-2f64).exp())).abs() < 1e-15);
        assert_eq!(Activation::Silu.eval(-1000.0), -0.0);
    }
}

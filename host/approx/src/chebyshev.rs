//! Polynomials in the Chebyshev basis on a symmetric interval `[-B, B]`.

use crate::error::{ApproxError, Result, check_bound};

/// Largest degree the crate fits or evaluates (the top of the paper's
/// degree set).
pub const MAX_DEGREE: usize = 1023;

/// `p(x) = sum_k coeffs[k] * T_k(x / bound)`.
///
/// The Chebyshev basis keeps degree-1023 polynomials well conditioned on
/// `[-B, B]` (the monomial basis is hopeless beyond degree ~20), and it is
/// the basis the CKKS baby-step giant-step evaluator consumes.
#[derive(Debug, Clone, PartialEq)]
pub struct ChebyshevPoly {
    bound: f64,
    coeffs: Vec<f64>,
}

impl ChebyshevPoly {
    /// Builds `sum_k coeffs[k] T_k(x / bound)`.
    ///
    /// Refuses a non-positive or non-finite bound, an empty or non-finite
    /// coefficient vector, and degrees above [`MAX_DEGREE`].
    pub fn new(bound: f64, coeffs: Vec<f64>) -> Result<Self> {
        check_bound(bound)?;
        ApproxError::reject_if(
            coeffs.is_empty(),
            "coeffs.len()",
            0.0,
            "at least one coefficient",
        )?;
        if coeffs.len() > MAX_DEGREE + 1 {
            return Err(ApproxError::DegreeOutOfRange {
                degree: coeffs.len() - 1,
                max: MAX_DEGREE,
            });
        }
        if coeffs.iter().any(|c| !c.is_finite()) {
            return Err(ApproxError::IllConditioned {
                what: "Chebyshev coefficients",
                degree: coeffs.len() - 1,
            });
        }
        Ok(Self { bound, coeffs })
    }

    /// The input bound `B`: the polynomial's variable is `x / B`.
    pub fn bound(&self) -> f64 {
        self.bound
    }

    /// Chebyshev coefficients, lowest degree first.
    pub fn coeffs(&self) -> &[f64] {
        &self.coeffs
    }

    /// Nominal degree (`coeffs.len() - 1`; trailing zeros are kept so that
    /// the degree is the one that was asked for).
    pub fn degree(&self) -> usize {
        self.coeffs.len() - 1
    }

    /// `p(x)`, by Clenshaw's recurrence on `t = x / B` (backward-stable for
    /// `|t| <= 1`; also valid, though growing, outside).
    pub fn eval(&self, x: f64) -> f64 {
        clenshaw(&self.coeffs, x / self.bound)
    }

    /// `p` at the normalised point `t = x / B`.
    pub fn eval_normalized(&self, t: f64) -> f64 {
        clenshaw(&self.coeffs, t)
    }

    /// The degree-`degree` Chebyshev interpolant of `f` on `[-B, B]` (at the
    /// `degree + 1` Chebyshev points of the first kind).
    ///
    /// Used for the distribution-free comparison in method.md and for the
    /// convergence tests; for analytic `f` its coefficients converge
    /// geometrically to those of the Chebyshev series.
    pub fn interpolate(f: impl Fn(f64) -> f64, bound: f64, degree: usize) -> Result<Self> {
        check_bound(bound)?;
        if degree > MAX_DEGREE {
            return Err(ApproxError::DegreeOutOfRange {
                degree,
                max: MAX_DEGREE,
            });
        }
        let n = degree + 1;
        let values: Vec<f64> = chebyshev_nodes(n).iter().map(|&t| f(t * bound)).collect();
        Self::new(bound, coeffs_from_node_values(&values))
    }

    /// `max |p(x)|` sampled on a grid of `points` Chebyshev-spaced points of
    /// `[-B, B]`: a cheap diagnostic of how wild a fit is on the interval.
    pub fn max_abs_on_interval(&self, points: usize) -> f64 {
        let points = points.max(2);
        (0..points)
            .map(|j| {
                let t = (std::f64::consts::PI * j as f64 / (points - 1) as f64).cos();
                self.eval_normalized(t).abs()
            })
            .fold(0.0, f64::max)
    }
}

/// Clenshaw's recurrence for `sum_k c[k] T_k(t)`.
pub fn clenshaw(c: &[f64], t: f64) -> f64 {
    let n = c.len();
    if n == 0 {
        return 0.0;
    }
    if n == 1 {
        return c[0];
    }
    let two_t = 2.0 * t;
    let (mut b1, mut b2) = (0.0f64, 0.0f64);
    for &ck in c[1..].iter().rev() {
        let b0 = ck + two_t * b1 - b2;
        b2 = b1;
        b1 = b0;
    }
    c[0] + t * b1 - b2
}

/// `acc[k] += w · T_k(t)` for every `k < acc.len()` (by the three-term
/// recurrence): a weighted sample's contribution to each basis term.
pub fn add_scaled_basis(w: f64, t: f64, acc: &mut [f64]) {
    let (mut tkm1, mut tk) = (1.0, t);
    if let Some(a0) = acc.first_mut() {
        *a0 += w;
    }
    if let Some(a1) = acc.get_mut(1) {
        *a1 += w * t;
    }
    for ak in acc.iter_mut().skip(2) {
        let tkp1 = 2.0 * t * tk - tkm1;
        *ak += w * tkp1;
        tkm1 = tk;
        tk = tkp1;
    }
}

/// The `n` Chebyshev points of the first kind, `cos(pi (j + 1/2) / n)`.
pub fn chebyshev_nodes(n: usize) -> Vec<f64> {
    (0..n)
        .map(|j| (std::f64::consts::PI * (j as f64 + 0.5) / n as f64).cos())
        .collect()
}

/// Coefficients of the degree-`(n-1)` polynomial taking `values[j]` at the
/// `n` first-kind Chebyshev points (a DCT-II, O(n^2) by the stable
/// three-term recurrence on `|t| <= 1`; n <= 1024 here, so this is cheap).
pub(crate) fn coeffs_from_node_values(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    let nodes = chebyshev_nodes(n);
    let mut c = vec![0.0; n];
    for (&t, &v) in nodes.iter().zip(values) {
        add_scaled_basis(v, t, &mut c);
    }
    let scale = 2.0 / n as f64;
    for ck in &mut c {
        *ck *= scale;
    }
    c[0] *= 0.5;
    c
}

#[cfg(test)]
/// Monomial coefficients `a` with `sum a_j t^j = sum c_k T_k(t)` (for the
/// low degrees of the power-of-two search only: the conversion is
/// exponentially ill-conditioned in the degree).
pub(crate) fn chebyshev_to_monomial(c: &[f64]) -> Vec<f64> {
    let n = c.len();
    let mut a = vec![0.0; n];
    // Monomial coefficients of T_{k-1} and T_k.
    let mut tkm1 = vec![0.0; n];
    let mut tk = vec![0.0; n];
    tkm1[0] = 1.0;
    if n > 1 {
        tk[1] = 1.0;
    }
    for (k, &ck) in c.iter().enumerate() {
        let cur = if k == 0 { &tkm1 } else { &tk };
        for (aj, &tj) in a.iter_mut().zip(cur) {
            *aj += ck * tj;
        }
        if k >= 1 && k + 1 < n {
            let mut next = vec![0.0; n];
            for j in 0..n - 1 {
                next[j + 1] += 2.0 * tk[j];
            }
            for j in 0..n {
                next[j] -= tkm1[j];
            }
            tkm1 = std::mem::replace(&mut tk, next);
        }
    }
    a
}

/// Chebyshev coefficients of `sum a_j t^j` (inverse of
/// [`chebyshev_to_monomial`]; exact up to rounding for low degrees).
pub(crate) fn monomial_to_chebyshev(a: &[f64]) -> Vec<f64> {
    let n = a.len();
    // Horner in the Chebyshev basis: p <- p * t + a_j.
    let mut p = vec![0.0; n];
    for &aj in a.iter().rev() {
        p = mul_by_t(&p);
        p[0] += aj;
    }
    p.truncate(n);
    p
}

/// Chebyshev coefficients of `t * p(t)`: `t T_0 = T_1`,
/// `t T_k = (T_{k-1} + T_{k+1}) / 2`. The output is one longer.
pub(crate) fn mul_by_t(p: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; p.len() + 1];
    for (k, &pk) in p.iter().enumerate() {
        if k == 0 {
            out[1] += pk;
        } else {
            out[k - 1] += 0.5 * pk;
            out[k + 1] += 0.5 * pk;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clenshaw_matches_cosine_definition() {
        // T_k(cos th) = cos(k th): an independent definition.
        let c: Vec<f64> = (0..40).map(|k| 1.0 / (1.0 + k as f64)).collect();
        for &th in &[0.1, 0.7, 1.3, 2.9] {
            let direct: f64 = c
                .iter()
                .enumerate()
                .map(|(k, ck)| ck * (k as f64 * th).cos())
                .sum();
            assert!((clenshaw(&c, f64::cos(th)) - direct).abs() < 1e-13);
        }
    }

    #[test]
    fn monomial_round_trip() {
        let a = [0.5, -1.0, 0.25, 2.0, 0.0, -0.125];
        let c = monomial_to_chebyshev(&a);
        let back = chebyshev_to_monomial(&c);
        for (x, y) in a.iter().zip(&back) {
            assert!((x - y).abs() < 1e-14, "{a:?} vs {back:?}");
        }
        for &t in &[-0.9, -0.2, 0.3, 1.7] {
            let m: f64 = a.iter().rev().fold(0.0, |s, &aj| s * t + aj);
            assert!((clenshaw(&c, t) - m).abs() < 1e-13);
        }
    }

    #[test]
    fn interpolation_is_exact_for_polynomials() {
        let p = |x: f64| 3.0 * x * x * x - x + 0.5;
        let q = ChebyshevPoly::interpolate(p, 2.0, 5).unwrap();
        for &x in &[-2.0, -0.3, 1.1, 2.0] {
            assert!((q.eval(x) - p(x)).abs() < 1e-12);
        }
        // T_3 coefficient: 3 (2t)^3 = 24 t^3 = 6 T_3 + 18 T_1.
        assert!((q.coeffs()[3] - 6.0).abs() < 1e-12);
        assert!(q.coeffs()[4].abs() < 1e-12 && q.coeffs()[5].abs() < 1e-12);
    }

    #[test]
    fn bad_construction_is_refused() {
        assert_eq!(
            ChebyshevPoly::new(0.0, vec![1.0]),
            Err(ApproxError::InvalidBound(0.0))
        );
        assert!(ChebyshevPoly::new(1.0, vec![]).is_err());
        assert!(matches!(
            ChebyshevPoly::new(1.0, vec![0.0; MAX_DEGREE + 2]),
            Err(ApproxError::DegreeOutOfRange { .. })
        ));
        assert!(ChebyshevPoly::interpolate(f64::exp, -1.0, 3).is_err());
        assert!(ChebyshevPoly::interpolate(f64::exp, 1.0, 1024).is_err());
    }
}

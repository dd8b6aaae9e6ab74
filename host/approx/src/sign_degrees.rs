//! The component-degree search of Lee et al. for the composite minimax
//! sign, under the convention their public code uses, and the ReLU gap
//! rule that reproduces the published triples.
//!
//! # The convention (where it comes from)
//!
//! The degree search of the papers (Lee, Lee, Lee, Kim, No, IEEE TDSC 2021,
//! "ComputeMinDep" / "ComputeMinMultDegs"; public code
//! `eslee3209/MinimaxComp_degrees`, `optimized_degrees.cpp`, `func.cpp`,
//! `run_compare.cpp`, README) works as follows, and this module does the
//! same with its own Remez exchange:
//!
//! * the sign approximation must satisfy `|p(x) - sgn(x)| <= 2^(1 - alpha)`
//!   (not `2^-alpha`) for `eps <= |x| <= 1`;
//! * `eps = max_factor * 2^-alpha`, with `max_factor = 1` for a comparison
//!   and `max_factor > 1` for max / ReLU (README: "epsilon is equal to
//!   max_factor * 2^-alpha by default"). The ResNet code of Lee et al.
//!   (ICML 2022) that evaluates ReLU with alpha = 13 and degrees
//!   {15, 15, 27} carries `max_factor = 16`;
//! * a stage is the odd minimax approximation of `sgn` on
//!   `[1 - tau, 1 + tau]` (equivalently on `[eps', 1]`,
//!   `eps' = (1 - tau) / (1 + tau)`, which is what [`odd_sign_minimax`]
//!   computes); its error `delta` is the next stage's `tau`; the input
//!   `[eps, 1]` is `tau_0 = (1 - eps) / (1 + eps)`;
//! * dynamic programming over (non-scalar multiplications `m`, depth `n`):
//!   `h(m, n)` is the largest `tau` that `m` products and depth `n` can
//!   bring to error `2^(1 - alpha)`; `h = 2^(1 - alpha)` when `m <= 1` or
//!   `n <= 1`, otherwise the largest over odd degrees `d = 3, 5, ...,
//!   max_degree` (the scan stops at the first `d` over budget) of the
//!   inverse minimax error of `d` at `h(m - mult(d), n - depth(d))`, the
//!   innermost stage first. The minimum depth is the smallest `n` with
//!   `h(70, n) >= tau_0`, and the degrees are those at the smallest `m`
//!   with `h(m, n) >= tau_0` at that depth;
//! * costs: `depth(d) = ceil(log2(d + 1))` and `mult(d)` the products of
//!   their odd baby-step giant-step evaluation ([`lee_products`]).
//!
//! The per-alpha `max_factor` of the published ReLU triples is not stated
//! in the code we could read (only alpha = 13 -> 16). The rule
//! implemented by [`relu_sign_degrees`] is the natural one for ReLU: the
//! largest integer `max_factor` for which the resulting approximate ReLU
//! `x (1 + p(x)) / 2` is within `2^-alpha` of `ReLU` on all of `[-1, 1]`
//! (the sign error `2^(1 - alpha)` gives `|x| 2^-alpha` above `eps`; below
//! `eps` the error is `|x| (1 - p(|x|)) / 2`, which is what bounds `eps`).
//! It gives `max_factor` 13, 15, 16, 17 for alpha 10, 12, 13, 14 (16 as in
//! the ICML code) and the degrees {7, 7, 13}, {7, 15, 27}, {15, 15, 27},
//! {15, 27, 29}: all four published triples.
//!
//! The inverse minimax error is interpolated (monotone cubic) from a table
//! of Remez runs, as the original code interpolates its `E<d>.txt` tables;
//! the chosen composite is then rebuilt stage by stage and its error
//! measured densely.

use crate::error::{ApproxError, Result};
use crate::minimax::{CompositeSign, odd_sign_minimax};

/// Largest component degree of [`lee_products`].
pub const LEE_MAX_DEGREE: usize = 63;

/// Non-scalar products of Lee et al.'s odd baby-step giant-step evaluation
/// of an odd polynomial of degree `degree` (the table of their TDSC paper
/// and `func.cpp`, odd degrees 1..=63); `None` for even or larger degrees.
pub fn lee_products(degree: usize) -> Option<usize> {
    const M: [usize; 32] = [
        0, 2, 3, 5, 5, 6, 7, 8, 8, 8, 9, 9, 10, 10, 11, 12, 11, 11, 11, 11, 12, 12, 13, 13, 14, 14,
        14, 14, 15, 15, 16, 17,
    ];
    (degree % 2 == 1 && degree <= LEE_MAX_DEGREE).then(|| M[(degree - 1) / 2])
}

/// Multiplicative depth of a degree-`degree` component: `ceil(log2(d + 1))`.
pub fn lee_depth(degree: usize) -> usize {
    (usize::BITS - degree.leading_zeros()) as usize
}

/// `log2(x / (1 - x))`: behaves like `log2 x` near 0 and `-log2(1 - x)`
/// near 1 (the two halves of the original code's "exp" scale, without
/// its kink at 1/2).
fn logit2(x: f64) -> f64 {
    x.log2() - (1.0 - x).log2()
}

fn unlogit2(s: f64) -> f64 {
    1.0 / (1.0 + (-s).exp2())
}

/// `eps' = (1 - tau) / (1 + tau)` for `tau = unlogit2(s)`, without
/// cancellation: `1 / (2^(s + 1) + 1)`.
fn gap_of_logit(s: f64) -> f64 {
    1.0 / ((s + 1.0).exp2() + 1.0)
}

/// One degree's inverse error curve: `y = logit2(tau)` as a function of
/// `x = logit2(delta)`, with monotone cubic (Fritsch-Carlson) slopes.
#[derive(Debug, Clone)]
struct InverseCurve {
    x: Vec<f64>,
    y: Vec<f64>,
    slope: Vec<f64>,
}

impl InverseCurve {
    fn new(x: Vec<f64>, y: Vec<f64>) -> Self {
        let n = x.len();
        let sec: Vec<f64> = (0..n - 1)
            .map(|i| (y[i + 1] - y[i]) / (x[i + 1] - x[i]))
            .collect();
        let mut slope = vec![0.0; n];
        slope[0] = sec[0];
        slope[n - 1] = sec[n - 2];
        for i in 1..n - 1 {
            slope[i] = if sec[i - 1] * sec[i] <= 0.0 {
                0.0
            } else {
                // Weighted harmonic mean (Fritsch-Butland), monotone.
                let (h0, h1) = (x[i] - x[i - 1], x[i + 1] - x[i]);
                let (w1, w2) = (2.0 * h1 + h0, h1 + 2.0 * h0);
                (w1 + w2) / (w1 / sec[i - 1] + w2 / sec[i])
            };
        }
        Self { x, y, slope }
    }

    fn eval(&self, x: f64) -> f64 {
        let n = self.x.len();
        if x <= self.x[0] {
            return self.y[0];
        }
        if x >= self.x[n - 1] {
            return self.y[n - 1];
        }
        let i = self.x.partition_point(|&v| v <= x) - 1;
        let h = self.x[i + 1] - self.x[i];
        let t = (x - self.x[i]) / h;
        let (t2, t3) = (t * t, t * t * t);
        (2.0 * t3 - 3.0 * t2 + 1.0) * self.y[i]
            + (t3 - 2.0 * t2 + t) * h * self.slope[i]
            + (-2.0 * t3 + 3.0 * t2) * self.y[i + 1]
            + (t3 - t2) * h * self.slope[i + 1]
    }
}

/// Inverse minimax errors of odd sign approximations, tabulated from
/// Remez runs for every odd degree `3..=max_degree`.
#[derive(Debug, Clone)]
pub struct InverseErrorTable {
    max_degree: usize,
    curves: Vec<Option<InverseCurve>>,
}

/// Grid of `logit2(tau)`: from 18 (gap `eps'` ~ 2^-19) down until the error
/// drops below [`MIN_TABULATED_ERROR`], in steps of 1/4.
const GRID_TOP: f64 = 18.0;
const GRID_STEP: f64 = 0.25;
/// Errors below this are not tabulated (f64 Remez noise is ~1e-14).
const MIN_TABULATED_ERROR: f64 = 1e-9;

impl InverseErrorTable {
    /// Tabulates the odd degrees `3..=max_degree` (`max_degree` odd, at
    /// most 31: the f64 exchange is unreliable for degree 63 at tiny
    /// errors; the published triples use degrees <= 29).
    pub fn new(max_degree: usize) -> Result<Self> {
        ApproxError::reject_if(
            max_degree.is_multiple_of(2) || !(3..=31).contains(&max_degree),
            "max_degree",
            max_degree as f64,
            "an odd degree in 3..=31",
        )?;
        let mut curves = vec![None; max_degree + 1];
        for d in (3..=max_degree).step_by(2) {
            let (mut xs, mut ys) = (Vec::new(), Vec::new());
            let mut s = GRID_TOP;
            loop {
                let r = odd_sign_minimax(d, gap_of_logit(s))?;
                if r.error < MIN_TABULATED_ERROR {
                    break;
                }
                let e = logit2(r.error);
                // Keep strictly monotone data (the error decreases with s).
                if xs.last().is_none_or(|&last| e < last) {
                    xs.push(e);
                    ys.push(s);
                }
                s -= GRID_STEP;
            }
            xs.reverse();
            ys.reverse();
            if xs.len() < 4 {
                return Err(ApproxError::RemezFailed {
                    degree: d,
                    reason: "too few points for the inverse error table",
                });
            }
            curves[d] = Some(InverseCurve::new(xs, ys));
        }
        Ok(Self { max_degree, curves })
    }

    /// Largest tabulated degree.
    pub fn max_degree(&self) -> usize {
        self.max_degree
    }

    /// Inverse minimax error: the largest `tau` such that the odd
    /// degree-`degree` minimax approximation of `sgn` on `[1 - tau, 1 + tau]`
    /// has error `<= delta` (clamped to the tabulated range).
    ///
    /// # Panics
    /// If `degree` is not an odd degree in `3..=max_degree`.
    pub fn inverse_error(&self, degree: usize, delta: f64) -> f64 {
        let c = self.curves[degree]
            .as_ref()
            .expect("odd degree in 3..=max_degree");
        unlogit2(c.eval(logit2(delta)))
    }

    /// The same as a gap: the smallest `eps'` such that the minimax
    /// approximation on `[eps', 1]` has error `<= delta`.
    pub fn min_gap(&self, degree: usize, delta: f64) -> f64 {
        let c = self.curves[degree]
            .as_ref()
            .expect("odd degree in 3..=max_degree");
        gap_of_logit(c.eval(logit2(delta)))
    }
}

/// Result of [`optimal_sign_degrees`].
#[derive(Debug, Clone, PartialEq)]
pub struct OptimalSignDegrees {
    /// Component degrees, innermost first.
    pub degrees: Vec<usize>,
    /// Multiplicative depth of the sign (add 1 for ReLU / max).
    pub depth: usize,
    /// Non-scalar products ([`lee_products`]) of the sign.
    pub products: usize,
    /// The gap `eps` searched for.
    pub eps: f64,
    /// The smallest gap the chosen degrees reach at error `2^(1 - alpha)`
    /// according to the table (`<= eps`).
    pub predicted_gap: f64,
}

/// Multiplication and depth budgets of the search (as in the original
/// code's `m_max = 70`, depth up to 30 here).
const M_MAX: usize = 70;
const N_MAX: usize = 30;

/// Lee et al.'s ComputeMinDep then ComputeMinMultDegs: the component
/// degrees of least depth, and among those of least [`lee_products`], for
/// error `2^(1 - alpha)` on `eps <= |x| <= 1` (degrees `3..=max_degree`
/// of `table`). See the module docs for the recursion.
pub fn optimal_sign_degrees(
    table: &InverseErrorTable,
    alpha: u32,
    eps: f64,
) -> Result<OptimalSignDegrees> {
    ApproxError::reject_if(
        !(2..=24).contains(&alpha),
        "alpha",
        alpha as f64,
        "2 <= alpha <= 24",
    )?;
    ApproxError::reject_if(!(eps > 0.0 && eps < 1.0), "eps", eps, "0 < eps < 1")?;
    let base = 2f64.powi(1 - alpha as i32);
    let target = (1.0 - eps) / (1.0 + eps);
    // h[m][n] (as tau) and the innermost degree chosen there.
    let mut h = vec![[0.0f64; N_MAX + 1]; M_MAX + 1];
    let mut first = vec![[0usize; N_MAX + 1]; M_MAX + 1];
    for m in 0..=M_MAX {
        for n in 0..=N_MAX {
            if m <= 1 || n <= 1 {
                h[m][n] = base;
                continue;
            }
            let (mut best, mut best_d) = (0.0, 0);
            for d in (3..=table.max_degree()).step_by(2) {
                let (pm, pd) = (lee_products(d).expect("odd <= 63"), lee_depth(d));
                if pm > m || pd > n {
                    break;
                }
                let tau = table.inverse_error(d, h[m - pm][n - pd]);
                if tau > best {
                    best = tau;
                    best_d = d;
                }
            }
            h[m][n] = best;
            first[m][n] = best_d;
        }
    }
    let no = || ApproxError::NoCompositeFound { alpha };
    let depth = (0..=N_MAX)
        .find(|&n| h[M_MAX][n] >= target)
        .ok_or_else(no)?;
    let products = (0..=M_MAX)
        .find(|&m| h[m][depth] >= target)
        .ok_or_else(no)?;
    let (mut m, mut n, mut degrees) = (products, depth, Vec::new());
    while m > 1 && n > 1 {
        let d = first[m][n];
        degrees.push(d);
        m -= lee_products(d).expect("odd <= 63");
        n -= lee_depth(d);
    }
    let tau = h[products][depth];
    Ok(OptimalSignDegrees {
        depth: degrees.iter().map(|&d| lee_depth(d)).sum(),
        products: degrees.iter().map(|&d| lee_products(d).expect("odd")).sum(),
        degrees,
        eps,
        predicted_gap: (1.0 - tau) / (1.0 + tau),
    })
}

/// Dense `max |p(x) - sgn(x)|` over `eps <= |x| <= 1` (both signs; a
/// geometric and a uniform grid, the largest local maxima refined).
pub fn sign_error_dense(sign: &CompositeSign, eps: f64) -> f64 {
    dense_max(eps, 1.0, |x| {
        (sign.eval(x) - 1.0).abs().max((sign.eval(-x) + 1.0).abs())
    })
}

/// Dense `max |x (1 + p(x)) / 2 - max(x, 0)|` over `[-1, 1]` (the ReLU of
/// inputs already divided by the bound `B`).
pub fn relu_error_dense(sign: &CompositeSign) -> f64 {
    dense_max(1e-9, 1.0, |x| {
        let pos = (0.5 * x * (1.0 + sign.eval(x)) - x).abs();
        let neg = (-0.5 * x * (1.0 + sign.eval(-x))).abs();
        pos.max(neg)
    })
}

fn dense_max(lo: f64, hi: f64, f: impl Fn(f64) -> f64) -> f64 {
    let n = 20_000;
    let mut xs: Vec<f64> = (0..=n)
        .flat_map(|i| {
            let t = i as f64 / n as f64;
            [lo + (hi - lo) * t, lo * (hi / lo).powf(t)]
        })
        .collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let v: Vec<f64> = xs.iter().map(|&x| f(x)).collect();
    let mut best = v.iter().fold(0.0f64, |a, &b| a.max(b));
    // Refine the 8 largest interior local maxima by golden section.
    let mut peaks: Vec<usize> = (1..xs.len() - 1)
        .filter(|&i| v[i] >= v[i - 1] && v[i] >= v[i + 1])
        .collect();
    peaks.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
    for &i in peaks.iter().take(8) {
        let (mut a, mut b) = (xs[i - 1], xs[i + 1]);
        let g = (5f64.sqrt() - 1.0) / 2.0;
        for _ in 0..80 {
            let c = b - g * (b - a);
            let d = a + g * (b - a);
            if f(c) > f(d) {
                b = d;
            } else {
                a = c;
            }
        }
        best = best.max(f(0.5 * (a + b)));
    }
    best
}

/// The degrees chosen for a ReLU of precision `2^-alpha` by
/// [`relu_sign_degrees`], with the achieved errors.
#[derive(Debug, Clone)]
pub struct ReluSignDegrees {
    /// `eps = max_factor * 2^-alpha`.
    pub max_factor: u32,
    /// The search's result at that gap.
    pub search: OptimalSignDegrees,
    /// The composite rebuilt stage by stage for `eps`.
    pub sign: CompositeSign,
    /// Dense `max |p(x) - sgn(x)|` over `eps <= |x| <= 1` (`<= 2^(1 - alpha)`).
    pub sign_error: f64,
    /// Dense `max |x (1 + p(x)) / 2 - ReLU(x)|` over `[-1, 1]` (`<= 2^-alpha`).
    pub relu_error: f64,
}

/// The largest integer `max_factor <= max_factor_limit` for which the
/// degrees of [`optimal_sign_degrees`] at `eps = max_factor * 2^-alpha`,
/// rebuilt stage by stage, give an approximate ReLU within `2^-alpha` of
/// `ReLU` on `[-1, 1]` and a sign within `2^(1 - alpha)` on the gap
/// interval (dense measurements). See the module docs.
pub fn relu_sign_degrees(
    table: &InverseErrorTable,
    alpha: u32,
    max_factor_limit: u32,
) -> Result<ReluSignDegrees> {
    let relu_target = 2f64.powi(-(alpha as i32));
    for max_factor in (1..=max_factor_limit).rev() {
        let eps = max_factor as f64 * relu_target;
        if eps >= 0.5 {
            continue;
        }
        let Ok(search) = optimal_sign_degrees(table, alpha, eps) else {
            continue;
        };
        let Ok(sign) = CompositeSign::new(&search.degrees, eps) else {
            continue;
        };
        let relu_error = relu_error_dense(&sign);
        if relu_error > relu_target {
            continue;
        }
        let sign_error = sign_error_dense(&sign, eps);
        if sign_error > 2.0 * relu_target {
            continue;
        }
        return Ok(ReluSignDegrees {
            max_factor,
            search,
            sign,
            sign_error,
            relu_error,
        });
    }
    Err(ApproxError::NoCompositeFound { alpha })
}

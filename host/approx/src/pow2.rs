//! Faster CryptoNets' activations: low-degree polynomials whose monomial
//! coefficients are `0` or `+-2^k`, chosen to minimise the mean squared
//! error under the layer's input distribution.
//!
//! # Search
//!
//! The error is the quadratic form `E[f^2] - 2 a.b + a^T G a` in the
//! coefficients `a` of `u^j`, `u = x / B` (`G`, `b`: moments of the binned
//! distribution, so each candidate costs O(d^2), not O(n)). Starting from
//! the unconstrained least-squares coefficients `c_j`, each coefficient's
//! local candidates are `0` and `+-2^k` for the five `k` around
//! `log2 |c_j|`. When the product of the candidate counts is at most
//! [`PowerOfTwoOptions::exhaustive_limit`] they are searched exhaustively;
//! then (or otherwise) coordinate descent over the full range
//! `{0, +-2^k : min_exp <= k <= max_exp}` polishes until no single
//! coefficient change helps. The result is a local optimum of the discrete
//! problem, exhaustive within the local neighbourhood when small.

use crate::activation::Target;
use crate::chebyshev::{ChebyshevPoly, monomial_to_chebyshev};
use crate::distribution::InputDistribution;
use crate::error::{ApproxError, Result, check_bound};
use crate::linalg::solve;
use crate::wls::DEFAULT_BINS;

/// Largest degree the power-of-two search accepts (the monomial moments
/// become too ill-conditioned beyond).
pub const POW2_MAX_DEGREE: usize = 8;

/// Search space of [`fit_power_of_two`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerOfTwoOptions {
    /// Smallest exponent `k` of a non-zero coefficient `+-2^k`.
    pub min_exp: i32,
    /// Largest exponent `k`.
    pub max_exp: i32,
    /// Exhaustive local search when the neighbourhood has at most this
    /// many combinations.
    pub exhaustive_limit: usize,
}

impl Default for PowerOfTwoOptions {
    fn default() -> Self {
        Self {
            min_exp: -30,
            max_exp: 8,
            exhaustive_limit: 200_000,
        }
    }
}

/// A polynomial `sum_j coeffs[j] x^j` with every coefficient `0` or `+-2^k`.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerOfTwoFit {
    /// Monomial coefficients in the raw input `x` (lowest first).
    pub coeffs: Vec<f64>,
    /// `Some((sign, k))` for `sign * 2^k`, `None` for zero.
    pub exponents: Vec<Option<(i8, i32)>>,
    /// Mean squared error under the (binned) distribution.
    pub mse: f64,
    /// Error of the unconstrained least-squares fit of the same degree, for
    /// comparison.
    pub wls_mse: f64,
    /// Whether the local neighbourhood was searched exhaustively.
    pub exhaustive: bool,
}

impl PowerOfTwoFit {
    /// `p(x)` by Horner.
    pub fn eval(&self, x: f64) -> f64 {
        self.coeffs.iter().rev().fold(0.0, |s, &c| s * x + c)
    }

    /// The same polynomial in the Chebyshev basis on `[-bound, bound]`.
    pub fn to_chebyshev(&self, bound: f64) -> Result<ChebyshevPoly> {
        check_bound(bound)?;
        let mut b = 1.0;
        let scaled: Vec<f64> = self
            .coeffs
            .iter()
            .map(|c| {
                let v = c * b;
                b *= bound;
                v
            })
            .collect();
        ChebyshevPoly::new(bound, monomial_to_chebyshev(&scaled))
    }
}

/// The best degree-`degree` polynomial (degree <= 8) with coefficients `0`
/// or `+-2^k` under the input distribution (see the module docs for the
/// search). `bound` only normalises the moments (use the layer's bound).
pub fn fit_power_of_two(
    dist: &InputDistribution,
    f: &impl Target,
    bound: f64,
    degree: usize,
    options: &PowerOfTwoOptions,
) -> Result<PowerOfTwoFit> {
    check_bound(bound)?;
    if degree > POW2_MAX_DEGREE {
        return Err(ApproxError::DegreeOutOfRange {
            degree,
            max: POW2_MAX_DEGREE,
        });
    }
    ApproxError::reject_if(
        options.min_exp > options.max_exp,
        "min_exp",
        options.min_exp as f64,
        "min_exp <= max_exp",
    )?;
    let pts = if dist.len() > DEFAULT_BINS {
        dist.binned(bound, DEFAULT_BINS)?
    } else {
        dist.clone()
    };
    if pts.distinct_support() <= degree {
        return Err(ApproxError::TooFewSupportPoints {
            distinct: pts.distinct_support(),
            degree,
        });
    }
    let m = degree + 1;
    // Moments in u = x / B.
    let mut g = vec![0.0; m * m];
    let mut b = vec![0.0; m];
    let mut f2 = 0.0;
    let mut pw = vec![0.0; 2 * m - 1];
    for (&x, &w) in pts.xs().iter().zip(pts.weights()) {
        let u = x / bound;
        let fx = f.eval(x);
        let mut p = 1.0;
        for v in pw.iter_mut() {
            *v = p;
            p *= u;
        }
        for j in 0..m {
            b[j] += w * fx * pw[j];
            for k in 0..m {
                g[j * m + k] += w * pw[j + k];
            }
        }
        f2 += w * fx * fx;
    }
    let q = Quadratic { g, b, f2, m };
    let wls = solve(q.g.clone(), q.b.clone()).ok_or(ApproxError::IllConditioned {
        what: "monomial moment matrix",
        degree,
    })?;
    let wls_mse = q.eval(&wls).max(0.0);
    // Coefficient in u of +-2^k x^j: +-2^k B^j.
    let bpow: Vec<f64> = (0..m).map(|j| bound.powi(j as i32)).collect();
    let cand_u = |j: usize, s: i8, k: i32| f64::from(s) * 2f64.powi(k) * bpow[j];
    let full: Vec<Option<(i8, i32)>> = std::iter::once(None)
        .chain((options.min_exp..=options.max_exp).flat_map(|k| [Some((1, k)), Some((-1, k))]))
        .collect();
    let local: Vec<Vec<Option<(i8, i32)>>> = (0..m)
        .map(|j| {
            let cx = wls[j] / bpow[j];
            let mut v = vec![None];
            if cx != 0.0 {
                let k0 = cx.abs().log2().round() as i32;
                for k in k0 - 2..=k0 + 2 {
                    if (options.min_exp..=options.max_exp).contains(&k) {
                        v.push(Some((1, k)));
                        v.push(Some((-1, k)));
                    }
                }
            }
            v
        })
        .collect();
    let to_u = |e: &[Option<(i8, i32)>]| -> Vec<f64> {
        e.iter()
            .enumerate()
            .map(|(j, c)| c.map_or(0.0, |(s, k)| cand_u(j, s, k)))
            .collect()
    };
    let combos = local
        .iter()
        .try_fold(1usize, |acc, v| acc.checked_mul(v.len()))
        .unwrap_or(usize::MAX);
    let exhaustive = combos <= options.exhaustive_limit;
    let mut best: Vec<Option<(i8, i32)>>;
    if exhaustive {
        let mut idx = vec![0usize; m];
        let mut cur: Vec<Option<(i8, i32)>> = local.iter().map(|v| v[0]).collect();
        best = cur.clone();
        let mut best_e = q.eval(&to_u(&cur));
        'outer: loop {
            let e = q.eval(&to_u(&cur));
            if e < best_e {
                best_e = e;
                best.clone_from(&cur);
            }
            for j in 0..m {
                idx[j] += 1;
                if idx[j] < local[j].len() {
                    cur[j] = local[j][idx[j]];
                    continue 'outer;
                }
                idx[j] = 0;
                cur[j] = local[j][0];
            }
            break;
        }
    } else {
        // Start from the nearest power of two of each coefficient.
        let start: Vec<Option<(i8, i32)>> = (0..m)
            .map(|j| {
                let cx = wls[j] / bpow[j];
                if cx == 0.0 {
                    return None;
                }
                let k = (cx.abs().log2().round() as i32).clamp(options.min_exp, options.max_exp);
                Some((if cx > 0.0 { 1 } else { -1 }, k))
            })
            .collect();
        best = start;
    }
    // Coordinate descent over the full range.
    let mut best_e = q.eval(&to_u(&best));
    loop {
        let mut improved = false;
        for j in 0..m {
            for &c in &full {
                let mut trial = best.clone();
                trial[j] = c;
                let e = q.eval(&to_u(&trial));
                // Strict improvement beyond rounding (the form can be
                // slightly negative for an exact fit).
                if best_e - e > 1e-14 * q.f2.abs() + f64::MIN_POSITIVE {
                    best_e = e;
                    best = trial;
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
    let coeffs: Vec<f64> = best
        .iter()
        .map(|c| c.map_or(0.0, |(s, k)| f64::from(s) * 2f64.powi(k)))
        .collect();
    let mut fit = PowerOfTwoFit {
        coeffs,
        exponents: best,
        mse: 0.0,
        wls_mse,
        exhaustive,
    };
    // Report the error by direct evaluation, not through the moments.
    fit.mse = pts
        .xs()
        .iter()
        .zip(pts.weights())
        .map(|(&x, &w)| w * (f.eval(x) - fit.eval(x)).powi(2))
        .sum();
    Ok(fit)
}

struct Quadratic {
    g: Vec<f64>,
    b: Vec<f64>,
    f2: f64,
    m: usize,
}

impl Quadratic {
    fn eval(&self, a: &[f64]) -> f64 {
        let mut s = self.f2;
        for j in 0..self.m {
            s -= 2.0 * a[j] * self.b[j];
            for k in 0..self.m {
                s += a[j] * self.g[j * self.m + k] * a[k];
            }
        }
        s
    }
}

//! The composite minimax baseline: odd minimax approximations of `sgn`
//! (Remez exchange), composed as in Lee et al. ("Minimax approximation of
//! sign function by composite polynomial"), and `ReLU(x) = x (1 + sgn(x/B)) / 2`.
//!
//! # Composition
//!
//! Stage 1 is the odd degree-`d_1` minimax approximation of `sgn` on
//! `[-1, -eps] U [eps, 1]` with `eps = 2^-alpha`; it maps `[eps, 1]` onto
//! `[1 - delta_1, 1 + delta_1]`. Stage `i + 1` is the minimax approximation
//! on `[eps_{i+1}, 1]`, `eps_{i+1} = (1 - delta_i) / (1 + delta_i)`, applied
//! to `y / (1 + delta_i)` (folded into the stage's [`ChebyshevPoly`] bound).
//! Because each stage's image is exactly the next stage's domain, the
//! composite's error on `[eps, 1]` is exactly the last stage's `delta`.

use crate::chebyshev::ChebyshevPoly;
use crate::error::{ApproxError, Result, check_bound};
use crate::linalg::solve;

/// One odd minimax approximation of `sgn` on `[eps, 1]` (and by oddness on
/// `[-1, -eps]`).
#[derive(Debug, Clone)]
pub struct RemezResult {
    /// The polynomial on `[-1, 1]` (only odd Chebyshev coefficients non-zero).
    pub poly: ChebyshevPoly,
    /// `max |p(x) - 1|` over `[eps, 1]` (the minimax error).
    pub error: f64,
    /// The final reference: `(d + 1) / 2 + 1` points of `[eps, 1]` where the
    /// error alternates in sign with magnitude `error` (within the
    /// convergence tolerance).
    pub reference: Vec<f64>,
    /// Exchange iterations used.
    pub iterations: usize,
}

/// Odd minimax polynomial of odd `degree` approximating `sgn` on
/// `[-1, -eps] U [eps, 1]`, by the Remez exchange in f64 with the odd
/// Chebyshev basis `T_1, T_3, ..., T_degree`.
///
/// The error is located on a dense grid (Chebyshev-clustered and geometric
/// near `eps`) and each extremum refined by golden-section search; the
/// exchange stops when the levelled error and the true maximum agree to
/// 1e-10 relative.
pub fn odd_sign_minimax(degree: usize, eps: f64) -> Result<RemezResult> {
    ApproxError::reject_if(
        degree.is_multiple_of(2) || degree > 255,
        "degree",
        degree as f64,
        "an odd degree <= 255",
    )?;
    ApproxError::reject_if(!(eps > 0.0 && eps < 1.0), "eps", eps, "0 < eps < 1")?;
    let m = degree.div_ceil(2);
    let grid = error_grid(eps, 40 * (m + 1) + 400);
    // Initial reference: Chebyshev extrema of [eps, 1].
    let mut reference: Vec<f64> = (0..=m)
        .map(|i| {
            let c = (std::f64::consts::PI * i as f64 / m as f64).cos();
            eps + (1.0 - eps) * (1.0 - c) / 2.0
        })
        .collect();
    for iteration in 1..=60 {
        let coeffs = solve_reference(&reference, m).ok_or(ApproxError::RemezFailed {
            degree,
            reason: "singular reference system",
        })?;
        let e = |x: f64| odd_eval(&coeffs, x) - 1.0;
        let extrema = local_extrema(&e, &grid);
        let max_err = extrema.iter().fold(0.0f64, |a, &(_, v)| a.max(v.abs()));
        let new_ref = select_alternating(extrema, m + 1);
        let min_ref = new_ref
            .iter()
            .fold(f64::INFINITY, |a, &(_, v)| a.min(v.abs()));
        if new_ref.len() < m + 1 {
            return Err(ApproxError::RemezFailed {
                degree,
                reason: "lost alternation",
            });
        }
        reference = new_ref.iter().map(|&(x, _)| x).collect();
        // Converged when the reference errors level out (1e-10 relative),
        // or when the gap is at the f64 noise floor of `p - 1`.
        if max_err - min_ref <= 1e-10 * max_err + 1e-14 {
            let poly = to_chebyshev(&coeffs, m)?;
            return Ok(RemezResult {
                poly,
                error: max_err,
                reference,
                iterations: iteration,
            });
        }
    }
    Err(ApproxError::RemezFailed {
        degree,
        reason: "no convergence in 60 exchanges",
    })
}

/// Solves `sum_j c_j T_{2j-1}(x_i) + (-1)^i E = 1` on the `m + 1`
/// reference points; returns `c_1..c_m` followed by `E`.
fn solve_reference(x: &[f64], m: usize) -> Option<Vec<f64>> {
    let n = m + 1;
    let mut a = vec![0.0; n * n];
    for (i, &xi) in x.iter().enumerate() {
        let row = &mut a[i * n..(i + 1) * n];
        odd_basis(xi, &mut row[..m]);
        row[m] = if i % 2 == 0 { 1.0 } else { -1.0 };
    }
    solve(a, vec![1.0; n])
}

/// `T_1(x), T_3(x), ..., T_{2m-1}(x)` into `out`.
fn odd_basis(x: f64, out: &mut [f64]) {
    let (mut tkm1, mut tk) = (1.0, x);
    let mut k = 1;
    for o in out.iter_mut() {
        *o = tk;
        // Advance two steps: T_{k+1}, T_{k+2}.
        for _ in 0..2 {
            let next = 2.0 * x * tk - tkm1;
            tkm1 = tk;
            tk = next;
        }
        k += 2;
    }
    let _ = k;
}

fn odd_eval(c: &[f64], x: f64) -> f64 {
    // c = [c_1..c_m, E]; evaluate the polynomial part by Clenshaw.
    let m = c.len() - 1;
    let mut full = vec![0.0; 2 * m];
    for (j, &cj) in c[..m].iter().enumerate() {
        full[2 * j + 1] = cj;
    }
    crate::chebyshev::clenshaw(&full, x)
}

fn to_chebyshev(c: &[f64], m: usize) -> Result<ChebyshevPoly> {
    let mut full = vec![0.0; 2 * m];
    for (j, &cj) in c[..m].iter().enumerate() {
        full[2 * j + 1] = cj;
    }
    ChebyshevPoly::new(1.0, full)
}

/// Grid on `[eps, 1]`: Chebyshev-clustered points plus a geometric run
/// from `eps`, sorted, endpoints included.
fn error_grid(eps: f64, n: usize) -> Vec<f64> {
    let mut g: Vec<f64> = (0..=n)
        .map(|i| {
            let c = (std::f64::consts::PI * i as f64 / n as f64).cos();
            eps + (1.0 - eps) * (1.0 - c) / 2.0
        })
        .collect();
    let geo = n / 4;
    let ratio = (1.0 / eps).powf(1.0 / geo as f64);
    g.extend((0..=geo).map(|i| (eps * ratio.powi(i as i32)).min(1.0)));
    g.sort_by(f64::total_cmp);
    g.dedup();
    g
}

/// Local extrema of `e` on `grid` (endpoints included), each interior one
/// refined by golden-section search; returned in increasing `x`.
fn local_extrema(e: &impl Fn(f64) -> f64, grid: &[f64]) -> Vec<(f64, f64)> {
    let v: Vec<f64> = grid.iter().map(|&x| e(x)).collect();
    let n = grid.len();
    let mut out = Vec::new();
    for i in 0..n {
        let s = v[i].signum();
        let left = if i > 0 {
            s * v[i - 1]
        } else {
            f64::NEG_INFINITY
        };
        let right = if i + 1 < n {
            s * v[i + 1]
        } else {
            f64::NEG_INFINITY
        };
        let here = s * v[i];
        if here >= left && here >= right && here > 0.0 {
            if i == 0 || i + 1 == n {
                out.push((grid[i], v[i]));
            } else {
                let (x, val) = golden_max(|x| s * e(x), grid[i - 1], grid[i + 1]);
                out.push((x, s * val));
            }
        }
    }
    out
}

fn golden_max(f: impl Fn(f64) -> f64, mut a: f64, mut b: f64) -> (f64, f64) {
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..60 {
        if (b - a) <= 1e-15 * b.abs().max(1e-300) {
            break;
        }
        if fc > fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    if fc > fd { (c, fc) } else { (d, fd) }
}

/// From extrema in increasing `x`: merge runs of equal sign (keeping the
/// largest), then drop the smallest until `want` remain (an end point on
/// its own, an interior one together with merging its neighbours).
fn select_alternating(ext: Vec<(f64, f64)>, want: usize) -> Vec<(f64, f64)> {
    let mut alt: Vec<(f64, f64)> = Vec::with_capacity(ext.len());
    for p in ext {
        match alt.last_mut() {
            Some(last) if last.1.signum() == p.1.signum() => {
                if p.1.abs() > last.1.abs() {
                    *last = p;
                }
            }
            _ => alt.push(p),
        }
    }
    while alt.len() > want {
        let k = (0..alt.len())
            .min_by(|&i, &j| alt[i].1.abs().total_cmp(&alt[j].1.abs()))
            .expect("non-empty");
        if k == 0 || k == alt.len() - 1 || alt.len() - want == 1 {
            // Removing one interior point would break alternation; prefer
            // dropping the smaller end point in that case.
            if k == 0 || k == alt.len() - 1 {
                alt.remove(k);
            } else if alt[0].1.abs() < alt[alt.len() - 1].1.abs() {
                alt.remove(0);
            } else {
                alt.pop();
            }
        } else {
            alt.remove(k);
            // Neighbours k-1 and k now share a sign: keep the larger.
            if alt[k - 1].1.abs() >= alt[k].1.abs() {
                alt.remove(k);
            } else {
                alt.remove(k - 1);
            }
        }
    }
    alt
}

/// Ciphertext-ciphertext products of baby-step giant-step evaluation of a
/// degree-`degree` Chebyshev polynomial: `min_l 2^l + 2^(m-l) + m - l - 3`
/// with `m = bitlen(degree)` (method.md; 7 for 15, 11 for 27).
pub fn bsgs_products(degree: usize) -> usize {
    if degree <= 1 {
        return 0;
    }
    let m = (usize::BITS - degree.leading_zeros()) as i64;
    (1..m)
        .map(|l| (1i64 << l) + (1i64 << (m - l)) + m - l - 3)
        .min()
        .map_or(1, |v| v.max(1) as usize)
}

/// Multiplicative depth of a degree-`degree` polynomial on `[-1, 1]`:
/// `ceil(log2(degree + 1))`.
fn depth(degree: usize) -> usize {
    (usize::BITS - degree.leading_zeros()) as usize
}

/// Ciphertext cost of a composite: products (baby-step giant-step per
/// component, plus 1 for `x * sgn` in ReLU) and multiplicative depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompositeCost {
    /// Ciphertext-ciphertext products.
    pub products: usize,
    /// Multiplicative depth.
    pub depth: usize,
}

/// `sgn(x)` on `[-1, -eps] U [eps, 1]` as a composition of odd minimax
/// polynomials.
#[derive(Debug, Clone)]
pub struct CompositeSign {
    eps: f64,
    stages: Vec<ChebyshevPoly>,
    stage_errors: Vec<f64>,
}

impl CompositeSign {
    /// Builds the composition with the given component degrees (each odd)
    /// for inputs with `|x| >= eps`.
    pub fn new(degrees: &[usize], eps: f64) -> Result<Self> {
        ApproxError::reject_if(
            degrees.is_empty(),
            "degrees.len()",
            0.0,
            "at least one component",
        )?;
        let mut stages = Vec::with_capacity(degrees.len());
        let mut stage_errors = Vec::with_capacity(degrees.len());
        let mut lo = eps;
        let mut in_scale = 1.0;
        for (i, &d) in degrees.iter().enumerate() {
            let r = odd_sign_minimax(d, lo)?;
            stages.push(ChebyshevPoly::new(in_scale, r.poly.coeffs().to_vec())?);
            stage_errors.push(r.error);
            let last = i + 1 == degrees.len();
            if !last && (r.error >= 1.0 || r.error < 1e-13) {
                return Err(ApproxError::RemezFailed {
                    degree: d,
                    reason: "stage error is >= 1 (next interval empty) or at the f64 \
                             noise floor (later stages pointless): use fewer or lower-degree stages",
                });
            }
            lo = (1.0 - r.error) / (1.0 + r.error);
            in_scale = 1.0 + r.error;
        }
        Ok(Self {
            eps,
            stages,
            stage_errors,
        })
    }

    /// The published component degrees for precision `alpha`, built for
    /// the gap `eps = 2^-alpha` (where they only reach error ~0.44; see
    /// [`CompositeSign::published_relu`] for the gap they were chosen for).
    pub fn published(alpha: u32) -> Result<Self> {
        let degrees = published_sign_degrees(alpha).ok_or(ApproxError::InvalidParameter {
            name: "alpha",
            value: alpha as f64,
            expected: "one of 10, 12, 13, 14 (published degrees)",
        })?;
        Self::new(degrees, 2f64.powi(-(alpha as i32)))
    }

    /// The published component degrees for precision `alpha` built, as in
    /// Lee et al.'s code, for the gap `eps = max_factor * 2^-alpha`
    /// ([`published_relu_max_factor`]: 13, 15, 16, 17 for alpha 10, 12,
    /// 13, 14), where the sign error is `<= 2^(1 - alpha)` on
    /// `eps <= |x| <= 1` and `x (1 + p(x)) / 2` is within `2^-alpha` of
    /// `ReLU` on `[-1, 1]` (see [`crate::relu_sign_degrees`]).
    pub fn published_relu(alpha: u32) -> Result<Self> {
        let (degrees, max_factor) = published_sign_degrees(alpha)
            .zip(published_relu_max_factor(alpha))
            .ok_or(ApproxError::InvalidParameter {
                name: "alpha",
                value: alpha as f64,
                expected: "one of 10, 12, 13, 14 (published degrees)",
            })?;
        Self::new(degrees, max_factor as f64 * 2f64.powi(-(alpha as i32)))
    }

    /// `sgn(x)` approximated (valid for `|x| <= 1`).
    pub fn eval(&self, x: f64) -> f64 {
        self.stages.iter().fold(x, |y, p| p.eval(y))
    }

    /// The components, innermost first (each a [`ChebyshevPoly`] whose
    /// bound folds in the previous stage's normalisation).
    pub fn stages(&self) -> &[ChebyshevPoly] {
        &self.stages
    }

    /// Component degrees, innermost first.
    pub fn degrees(&self) -> Vec<usize> {
        self.stages.iter().map(ChebyshevPoly::degree).collect()
    }

    /// Minimax error of each stage on its own interval.
    pub fn stage_errors(&self) -> &[f64] {
        &self.stage_errors
    }

    /// `max |p(x) - sgn(x)|` over `eps <= |x| <= 1` (exact by
    /// construction: the last stage's minimax error).
    pub fn error(&self) -> f64 {
        *self.stage_errors.last().expect("at least one stage")
    }

    /// The `eps` the composition was built for.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// Products and depth of evaluating `sgn` alone.
    pub fn cost(&self) -> CompositeCost {
        let d = self.degrees();
        CompositeCost {
            products: d.iter().map(|&d| bsgs_products(d)).sum(),
            depth: d.iter().map(|&d| depth(d)).sum(),
        }
    }
}

/// Component degrees from method.md (Lee et al.) for `alpha` in
/// {10, 12, 13, 14}.
pub fn published_sign_degrees(alpha: u32) -> Option<&'static [usize]> {
    match alpha {
        10 => Some(&[7, 7, 13]),
        12 => Some(&[7, 15, 27]),
        13 => Some(&[15, 15, 27]),
        14 => Some(&[15, 27, 29]),
        _ => None,
    }
}

/// The ReLU gap factor of the published degrees: `eps = max_factor *
/// 2^-alpha` (alpha 13 -> 16 as in Lee et al.'s ResNet code; the others
/// are what [`crate::relu_sign_degrees`] finds and the tests check).
pub fn published_relu_max_factor(alpha: u32) -> Option<u32> {
    match alpha {
        10 => Some(13),
        12 => Some(15),
        13 => Some(16),
        14 => Some(17),
        _ => None,
    }
}

/// Searches compositions of at most `max_stages` odd components of degree
/// `<= max_degree` whose error on `[eps, 1]` is `<= 2^-alpha`, minimising
/// (ciphertext products, depth, sum of degrees) lexicographically
/// (branch and bound; each candidate stage is one Remez run).
///
/// Returns the degrees and the achieved error. Note that with
/// `eps = 2^-alpha` no composition of total degree below ~`2^alpha alpha`
/// can succeed (the best uniform approximation of `sgn` with gap `eps`
/// by degree `n` decays like `exp(-n eps)`), see the crate README. For the
/// published degrees use [`crate::optimal_sign_degrees`] (Lee et al.'s
/// convention and cost model).
pub fn search_sign_degrees(
    alpha: u32,
    eps: f64,
    max_stages: usize,
    max_degree: usize,
) -> Result<(Vec<usize>, f64)> {
    let target = 2f64.powi(-(alpha as i32));
    let degrees: Vec<usize> = (3..=max_degree).step_by(2).collect();
    let mut best: Option<(Key, Vec<usize>, f64)> = None;
    let mut path = Vec::new();
    search(
        eps,
        target,
        &degrees,
        max_stages,
        (0, 0, 0),
        &mut path,
        &mut best,
    );
    best.map(|(_, d, e)| (d, e))
        .ok_or(ApproxError::NoCompositeFound { alpha })
}

/// The smallest gap `eps` (to ~0.1 % relative) for which the composition
/// with `degrees` reaches error `<= 2^-alpha` on `[eps, 1]`, by bisection
/// on `log eps` (the error is monotone in `eps`).
pub fn sign_gap_for_precision(degrees: &[usize], alpha: u32) -> Result<f64> {
    let target = 2f64.powi(-(alpha as i32));
    let reaches = |eps: f64| match CompositeSign::new(degrees, eps) {
        Ok(s) => s.error() <= target,
        // A stage already at the f64 noise floor: certainly precise enough.
        Err(ApproxError::RemezFailed { .. }) => true,
        Err(_) => false,
    };
    let (mut lo, mut hi) = (1e-9f64, 0.5f64);
    if !reaches(hi) {
        return Err(ApproxError::NoCompositeFound { alpha });
    }
    while hi / lo > 1.001 {
        let mid = (lo * hi).sqrt();
        if reaches(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

type Key = (usize, usize, usize);

fn search(
    lo: f64,
    target: f64,
    degrees: &[usize],
    stages_left: usize,
    cost: Key,
    path: &mut Vec<usize>,
    best: &mut Option<(Key, Vec<usize>, f64)>,
) {
    if stages_left == 0 {
        return;
    }
    for &d in degrees {
        let c = (cost.0 + bsgs_products(d), cost.1 + depth(d), cost.2 + d);
        if best.as_ref().is_some_and(|b| c >= b.0) {
            continue;
        }
        // A failed Remez (interval at the f64 resolution) prunes the branch.
        let Ok(r) = odd_sign_minimax(d, lo) else {
            continue;
        };
        path.push(d);
        if r.error <= target {
            *best = Some((c, path.clone(), r.error));
        } else if r.error < 1.0 {
            search(
                (1.0 - r.error) / (1.0 + r.error),
                target,
                degrees,
                stages_left - 1,
                c,
                path,
                best,
            );
        }
        path.pop();
    }
}

/// `ReLU(x) = x (1 + sgn(x / B)) / 2` with a composite `sgn`: the
/// baseline applied uniformly to every layer.
#[derive(Debug, Clone)]
pub struct CompositeRelu {
    bound: f64,
    sign: CompositeSign,
}

impl CompositeRelu {
    /// Composite ReLU with the published degrees for `alpha` and input
    /// bound `bound`.
    pub fn new(alpha: u32, bound: f64) -> Result<Self> {
        check_bound(bound)?;
        Ok(Self {
            bound,
            sign: CompositeSign::published(alpha)?,
        })
    }

    /// Composite ReLU from any composite sign.
    pub fn from_sign(sign: CompositeSign, bound: f64) -> Result<Self> {
        check_bound(bound)?;
        Ok(Self { bound, sign })
    }

    /// The approximated `ReLU(x)` (valid for `|x| <= B`).
    pub fn eval(&self, x: f64) -> f64 {
        0.5 * x * (1.0 + self.sign.eval(x / self.bound))
    }

    /// The input bound `B`.
    pub fn bound(&self) -> f64 {
        self.bound
    }

    /// The composite sign inside.
    pub fn sign(&self) -> &CompositeSign {
        &self.sign
    }

    /// Worst-case `|error|` for `eps B <= |x| <= B`: `|x| * error(sgn) / 2`,
    /// at most `B * error(sgn) / 2`.
    pub fn error_bound(&self) -> f64 {
        0.5 * self.bound * self.sign.error()
    }

    /// Products and depth including the final `x * sgn` product
    /// (method.md: 7 + 7 + 11 + 1 products, depth 14 for alpha = 13).
    pub fn cost(&self) -> CompositeCost {
        let c = self.sign.cost();
        CompositeCost {
            products: c.products + 1,
            depth: c.depth + 1,
        }
    }
}

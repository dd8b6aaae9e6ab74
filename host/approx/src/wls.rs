//! Distribution-aware weighted least squares for every degree at once
//! (OLA step 2), by the discrete Stieltjes procedure.
//!
//! # Method
//!
//! With `t = x / B` and the discrete measure `sum_i w_i delta(t - t_i)`,
//! the orthonormal polynomials obey the three-term recurrence
//! `b_{l+1} h_{l+1}(t) = (t - a_l) h_l(t) - b_l h_{l-1}(t)`.
//! The Stieltjes procedure builds `a_l, b_l` from the values `h_l(t_i)`
//! (never from moments, never from a Vandermonde matrix), so each degree
//! costs O(n) and all degrees `0..=D` cost O(n D). The best degree-d fit is
//! `q_d = sum_{l <= d} c_l h_l` with `c_l = <f, h_l>`; its error is taken
//! from the residual vector `r = f - q_d` itself (`c_l = <r, h_l>`, then
//! `r -= c_l h_l`), like modified Gram-Schmidt, so `E(d)` never suffers the
//! cancellation of `E[f^2] - sum c_l^2`.
//!
//! Chebyshev coefficients of `q_d` follow from the same recurrence applied
//! to coefficient vectors (`t T_k = (T_{k-1} + T_{k+1}) / 2`), O(d^2) per
//! requested degree, on demand ([`WlsFit::poly`]).
//!
//! # Speed
//!
//! 10^6 samples are first binned ([`WlsOptions::bins`], default 2^15 bins
//! on `[-B, B]`, centroid and total weight per bin; samples beyond the
//! bound kept exactly). The errors reported are then those of the binned
//! measure; the test `binning_changes_errors_negligibly` bounds the change.

use crate::activation::Target;
use crate::chebyshev::{ChebyshevPoly, MAX_DEGREE, chebyshev_nodes, mul_by_t};
use crate::distribution::{InputDistribution, bin_points, count_distinct};
use crate::error::{ApproxError, Result, check_bound};

/// Default number of bins on `[-B, B]` used before the Stieltjes sweep.
pub const DEFAULT_BINS: usize = 1 << 15;

/// How to turn a layer's distribution into the fitting measure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WlsOptions {
    /// OLA's scale parameter `r`: fit to the samples multiplied by `r`
    /// (`1.0` = the raw distribution). The reported in-distribution error
    /// [`WlsFit::mse`] is still measured on the unscaled samples.
    pub scale: f64,
    /// Fraction of the fitting mass put on the Chebyshev (arcsine) measure
    /// of `[-bound_factor * B, bound_factor * B]`, in `[0, 1)`. Spreads a
    /// little weight over the whole interval so a high-degree fit cannot
    /// swing where calibration samples are rare (method.md: 1 % with bound
    /// x 1.2 keeps ResNet-20 at ~91 % up to degree 63).
    pub chebyshev_mix: f64,
    /// Factor applied to the caller's bound `B`; the returned polynomials
    /// live on `[-bound_factor * B, bound_factor * B]`.
    pub bound_factor: f64,
    /// Number of equal bins on `[-B', B']` used to compress the samples
    /// before fitting (`None`: fit every sample exactly, O(n D)).
    pub bins: Option<usize>,
}

impl Default for WlsOptions {
    fn default() -> Self {
        Self::raw()
    }
}

impl WlsOptions {
    /// Fit the raw empirical distribution (binned with [`DEFAULT_BINS`]).
    pub fn raw() -> Self {
        Self {
            scale: 1.0,
            chebyshev_mix: 0.0,
            bound_factor: 1.0,
            bins: Some(DEFAULT_BINS),
        }
    }

    /// The robust fit measured in method.md: 1 % of the mass on the
    /// Chebyshev measure, bound x 1.2.
    pub fn robust() -> Self {
        Self {
            chebyshev_mix: 0.01,
            bound_factor: 1.2,
            ..Self::raw()
        }
    }

    /// OLA's scaled variant with parameter `r`.
    pub fn scaled(r: f64) -> Self {
        Self {
            scale: r,
            ..Self::raw()
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |name, value, expected| {
            Err(ApproxError::InvalidParameter {
                name,
                value,
                expected,
            })
        };
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return bad("scale", self.scale, "a finite r > 0");
        }
        if !(0.0..1.0).contains(&self.chebyshev_mix) {
            return bad("chebyshev_mix", self.chebyshev_mix, "a fraction in [0, 1)");
        }
        if !(self.bound_factor.is_finite() && self.bound_factor > 0.0) {
            return bad("bound_factor", self.bound_factor, "a finite factor > 0");
        }
        if let Some(b) = self.bins
            && b < 2
        {
            return bad("bins", b as f64, "at least 2 bins");
        }
        Ok(())
    }
}

/// All least-squares fits of degrees `0..=max_degree` for one layer.
///
/// Holds the recurrence (`a_l`, `b_l`, `c_l`), so any degree's Chebyshev
/// coefficients can be produced later in O(d^2) without touching the
/// samples again.
#[derive(Debug, Clone)]
pub struct WlsFit {
    bound: f64,
    h0: f64,
    alpha: Vec<f64>,
    /// `beta[l]` = `b_{l+1}`.
    beta: Vec<f64>,
    proj: Vec<f64>,
    mse: Vec<f64>,
    fit_mse: Vec<f64>,
    points: usize,
}

impl WlsFit {
    /// The bound of the returned polynomials (`bound_factor * B`).
    pub fn bound(&self) -> f64 {
        self.bound
    }

    /// Largest fitted degree.
    pub fn max_degree(&self) -> usize {
        self.mse.len() - 1
    }

    /// `E(d)`: mean squared error of the degree-d fit on the layer's input
    /// distribution (unscaled, without the Chebyshev mixture): the number
    /// the optimizer multiplies by the layer sensitivity. `None` above
    /// [`Self::max_degree`].
    pub fn mse(&self, degree: usize) -> Option<f64> {
        self.mse.get(degree).copied()
    }

    /// `E(d)` for `d = 0..=max_degree`.
    pub fn mse_all(&self) -> &[f64] {
        &self.mse
    }

    /// The minimised objective itself: mean squared error on the fitting
    /// measure (scaled and/or mixed). Equal to [`Self::mse_all`] for
    /// [`WlsOptions::raw`]. Non-increasing in the degree.
    pub fn fit_mse_all(&self) -> &[f64] {
        &self.fit_mse
    }

    /// Number of weighted points the sweep ran over (after binning, plus
    /// mixture nodes): what the O(n D) cost is in.
    pub fn points(&self) -> usize {
        self.points
    }

    /// The fitted degree-`degree` polynomial in the Chebyshev basis.
    ///
    /// Fails with [`ApproxError::IllConditioned`] when the coefficients
    /// overflow, which happens for raw (unmixed) high-degree fits to a
    /// distribution that covers only a small part of `[-B, B]`: such a
    /// polynomial really is astronomically large on the rest of the
    /// interval. Use [`WlsOptions::robust`] then.
    pub fn poly(&self, degree: usize) -> Result<ChebyshevPoly> {
        Ok(self.polys(&[degree])?.pop().expect("one degree asked"))
    }

    /// The fitted polynomials for several degrees, in the order asked,
    /// sharing one O(max^2) recurrence.
    pub fn polys(&self, degrees: &[usize]) -> Result<Vec<ChebyshevPoly>> {
        let Some(&top) = degrees.iter().max() else {
            return Ok(Vec::new());
        };
        if top > self.max_degree() {
            return Err(ApproxError::DegreeOutOfRange {
                degree: top,
                max: self.max_degree(),
            });
        }
        let mut snapshots: Vec<Option<Vec<f64>>> = vec![None; top + 1];
        let mut h_prev: Vec<f64> = Vec::new();
        let mut h = vec![self.h0];
        let mut q = vec![self.proj[0] * self.h0];
        #[allow(clippy::needless_range_loop)] // l indexes three recurrence tables
        for l in 0..=top {
            if l > 0 {
                // h_l = ((t - a_{l-1}) h_{l-1} - b_{l-1} h_{l-2}) / b_l.
                let mut u = mul_by_t(&h);
                for (uk, hk) in u.iter_mut().zip(&h) {
                    *uk -= self.alpha[l - 1] * hk;
                }
                if l >= 2 {
                    let b = self.beta[l - 2];
                    for (uk, pk) in u.iter_mut().zip(&h_prev) {
                        *uk -= b * pk;
                    }
                }
                let inv = 1.0 / self.beta[l - 1];
                u.iter_mut().for_each(|x| *x *= inv);
                h_prev = std::mem::replace(&mut h, u);
                q.push(0.0);
                let c = self.proj[l];
                for (qk, hk) in q.iter_mut().zip(&h) {
                    *qk += c * hk;
                }
            }
            if degrees.contains(&l) {
                if q.iter().any(|c| !c.is_finite()) {
                    return Err(ApproxError::IllConditioned {
                        what: "Chebyshev coefficients of the least-squares fit",
                        degree: l,
                    });
                }
                snapshots[l] = Some(q.clone());
            }
        }
        degrees
            .iter()
            .map(|&d| ChebyshevPoly::new(self.bound, snapshots[d].clone().expect("snapshot")))
            .collect()
    }
}

/// Fits every degree `0..=max_degree` to `f` under the raw distribution
/// ([`WlsOptions::raw`]).
pub fn fit_wls_all_degrees(
    dist: &InputDistribution,
    f: &impl Target,
    bound: f64,
    max_degree: usize,
) -> Result<WlsFit> {
    fit_wls_all_degrees_with(dist, f, bound, max_degree, &WlsOptions::raw())
}

/// Fits every degree `0..=max_degree` to `f` under the measure `options`
/// derive from `dist` (scaled by `r`, mixed with the Chebyshev measure,
/// bound widened), in one O(n * max_degree) sweep.
pub fn fit_wls_all_degrees_with(
    dist: &InputDistribution,
    f: &impl Target,
    bound: f64,
    max_degree: usize,
    options: &WlsOptions,
) -> Result<WlsFit> {
    check_bound(bound)?;
    options.validate()?;
    let eff = effective_bound(bound, max_degree, options)?;
    let pts = build_points(dist, eff, max_degree, options);
    check_support(&pts.t, &pts.wf, max_degree)?;
    let r: Vec<f64> = pts.t.iter().map(|&t| f.eval(t * eff)).collect();
    if r.iter().any(|v| !v.is_finite()) {
        return Err(ApproxError::IllConditioned {
            what: "function values",
            degree: 0,
        });
    }
    stieltjes(&pts, r, eff, max_degree)
}

/// Fits every degree `0..=max_degree` to paired data `(xs[k], ys[k])`
/// (equal weights) instead of a function of `x`: least squares of `ys` on
/// polynomials in `xs`.
///
/// This is what sequential calibration needs: `xs` are the inputs a layer
/// sees when the layers before it are already approximated, `ys` the
/// outputs the exact network has at the same positions, so the fit also
/// absorbs what it can of the upstream error. `f` is the activation; it is
/// only the target on the Chebyshev-mixture nodes (`options.chebyshev_mix`),
/// which keep the fit bounded on the whole interval. Binning (as for
/// [`fit_wls_all_degrees_with`]) replaces each bin by its centroid and mean
/// `y`; the within-bin variance of `y`, which no polynomial can remove, is
/// added back to [`WlsFit::mse`] so it is the mean squared error on the
/// pairs. `options.scale` must be 1 (a scaled measure has no paired
/// targets).
pub fn fit_wls_pairs_all_degrees_with(
    xs: &[f64],
    ys: &[f64],
    f: &impl Target,
    bound: f64,
    max_degree: usize,
    options: &WlsOptions,
) -> Result<WlsFit> {
    check_bound(bound)?;
    options.validate()?;
    if options.scale != 1.0 {
        return Err(ApproxError::InvalidParameter {
            name: "scale",
            value: options.scale,
            expected: "1 for paired data",
        });
    }
    if xs.len() != ys.len() {
        return Err(ApproxError::LengthMismatch {
            samples: xs.len(),
            weights: ys.len(),
        });
    }
    // Validates xs (non-empty, finite).
    InputDistribution::from_samples(xs)?;
    if let Some((index, &value)) = ys.iter().enumerate().find(|(_, y)| !y.is_finite()) {
        return Err(ApproxError::NonFiniteSample { index, value });
    }
    let eff = effective_bound(bound, max_degree, options)?;
    let w0 = 1.0 / xs.len() as f64;
    let (mut t, mut wd, mut r, within) = match options.bins {
        Some(b) if xs.len() > b => bin_pairs(xs, ys, eff, b),
        _ => (
            xs.iter().map(|x| x / eff).collect(),
            vec![w0; xs.len()],
            ys.to_vec(),
            0.0,
        ),
    };
    let keep = 1.0 - options.chebyshev_mix;
    let mut wf: Vec<f64> = wd.iter().map(|w| w * keep).collect();
    if options.chebyshev_mix > 0.0 {
        let m = 2 * (max_degree + 1) + 64;
        let w = options.chebyshev_mix / m as f64;
        for node in chebyshev_nodes(m) {
            t.push(node);
            wf.push(w);
            wd.push(0.0);
            r.push(f.eval(node * eff));
        }
    }
    check_support(&t, &wf, max_degree)?;
    if r.iter().any(|v| !v.is_finite()) {
        return Err(ApproxError::IllConditioned {
            what: "function values",
            degree: 0,
        });
    }
    let pts = Points { t, wf, we: wd };
    let mut fit = stieltjes(&pts, r, eff, max_degree)?;
    fit.mse.iter_mut().for_each(|e| *e += within);
    fit.fit_mse.iter_mut().for_each(|e| *e += keep * within);
    Ok(fit)
}

/// Pairs binned on `[-bound, bound]` (normalised centroids, weights summing
/// to 1, mean `y` per bin; pairs outside kept exactly) and the weighted
/// within-bin variance of `y`.
fn bin_pairs(
    xs: &[f64],
    ys: &[f64],
    bound: f64,
    bins: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>, f64) {
    let w0 = 1.0 / xs.len() as f64;
    let mut n = vec![0u32; bins];
    let mut sx = vec![0.0f64; bins];
    let mut sy = vec![0.0f64; bins];
    let mut syy = vec![0.0f64; bins];
    let (mut t, mut w, mut r) = (Vec::new(), Vec::new(), Vec::new());
    let scale = bins as f64 / (2.0 * bound);
    for (&x, &y) in xs.iter().zip(ys) {
        if x.abs() <= bound {
            let k = (((x + bound) * scale) as usize).min(bins - 1);
            n[k] += 1;
            sx[k] += x;
            sy[k] += y;
            syy[k] += y * y;
        } else {
            t.push(x / bound);
            w.push(w0);
            r.push(y);
        }
    }
    let mut within = 0.0;
    let (mut bt, mut bw, mut br) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..bins {
        if n[k] > 0 {
            let c = n[k] as f64;
            let my = sy[k] / c;
            bt.push((sx[k] / c / bound).clamp(-1.0, 1.0));
            bw.push(c * w0);
            br.push(my);
            within += w0 * (syy[k] - c * my * my).max(0.0);
        }
    }
    bt.extend(t);
    bw.extend(w);
    br.extend(r);
    (bt, bw, br, within)
}

/// The fitting measure: `t` (normalised), fitting weights `wf` (sum 1) and
/// evaluation weights `we` (sum 1, the unscaled unmixed data).
struct Points {
    t: Vec<f64>,
    wf: Vec<f64>,
    we: Vec<f64>,
}

fn build_points(dist: &InputDistribution, eff: f64, max_degree: usize, o: &WlsOptions) -> Points {
    let compress = |xs: Vec<f64>, ws: &[f64]| -> (Vec<f64>, Vec<f64>) {
        match o.bins {
            Some(b) if xs.len() > b => bin_points(&xs, ws, 1.0, b),
            _ => (xs, ws.to_vec()),
        }
    };
    let data_t: Vec<f64> = dist.xs().iter().map(|x| x / eff).collect();
    let keep = 1.0 - o.chebyshev_mix;
    let mut p = Points {
        t: Vec::new(),
        wf: Vec::new(),
        we: Vec::new(),
    };
    if o.scale == 1.0 {
        let (t, w) = compress(data_t, dist.weights());
        p.wf.extend(w.iter().map(|w| w * keep));
        p.we.extend(w);
        p.t.extend(t);
    } else {
        let scaled: Vec<f64> = data_t.iter().map(|t| t * o.scale).collect();
        let (ts, ws) = compress(scaled, dist.weights());
        p.wf.extend(ws.iter().map(|w| w * keep));
        p.we.extend(std::iter::repeat_n(0.0, ts.len()));
        p.t.extend(ts);
        // Evaluation-only points: zero fitting weight, but the recurrence
        // still evaluates the residual there.
        let (t, w) = compress(data_t, dist.weights());
        p.wf.extend(std::iter::repeat_n(0.0, t.len()));
        p.we.extend(w);
        p.t.extend(t);
    }
    if o.chebyshev_mix > 0.0 {
        // Gauss-Chebyshev nodes: the discrete measure integrates
        // polynomials of degree < 2m exactly against the arcsine density.
        let m = 2 * (max_degree + 1) + 64;
        let w = o.chebyshev_mix / m as f64;
        let nodes = chebyshev_nodes(m);
        p.wf.extend(std::iter::repeat_n(w, m));
        p.we.extend(std::iter::repeat_n(0.0, m));
        p.t.extend(nodes);
    }
    p
}

/// The discrete Stieltjes sweep (two fused passes per degree).
fn stieltjes(p: &Points, mut r: Vec<f64>, bound: f64, max_degree: usize) -> Result<WlsFit> {
    let n = p.t.len();
    let wsum: f64 = p.wf.iter().sum();
    let wesum: f64 = p.we.iter().sum();
    let h0 = 1.0 / wsum.sqrt();
    let mut h = vec![h0; n];
    let mut h_prev = vec![0.0; n];
    let mut alpha = Vec::with_capacity(max_degree + 1);
    let mut beta = Vec::with_capacity(max_degree + 1);
    let mut proj = Vec::with_capacity(max_degree + 1);
    let mut mse = Vec::with_capacity(max_degree + 1);
    let mut fit_mse = Vec::with_capacity(max_degree + 1);
    let mut b_prev = 0.0;
    let mut inv_b = 1.0;
    for l in 0..=max_degree {
        // Pass 1: normalise h_l (scaled by 1/b_l), project, and a_l.
        let (mut c, mut a) = (0.0, 0.0);
        for i in 0..n {
            let hi = h[i] * inv_b;
            h[i] = hi;
            let wh = p.wf[i] * hi;
            c += wh * r[i];
            a += wh * hi * p.t[i];
        }
        // Pass 2: residual update and errors; next unnormalised h.
        let (mut ef, mut ee, mut nrm, mut scale) = (0.0, 0.0, 0.0, 0.0);
        let last = l == max_degree;
        for i in 0..n {
            let hi = h[i];
            let ri = r[i] - c * hi;
            r[i] = ri;
            let r2 = ri * ri;
            ef += p.wf[i] * r2;
            ee += p.we[i] * r2;
            if !last {
                let th = (p.t[i] - a) * hi;
                let bp = b_prev * h_prev[i];
                let u = th - bp;
                h_prev[i] = u;
                nrm += p.wf[i] * u * u;
                scale += p.wf[i] * (th * th + bp * bp);
            }
        }
        proj.push(c);
        alpha.push(a);
        fit_mse.push(ef / wsum);
        let e = ee / wesum;
        if !e.is_finite() {
            return Err(ApproxError::IllConditioned {
                what: "in-distribution errors (scaled fit evaluated far outside its support)",
                degree: l,
            });
        }
        mse.push(e);
        if !last {
            if nrm <= 1e-26 * scale || !nrm.is_finite() {
                return Err(ApproxError::TooFewSupportPoints {
                    distinct: l + 1,
                    degree: max_degree,
                });
            }
            let b = nrm.sqrt();
            beta.push(b);
            b_prev = b;
            inv_b = 1.0 / b;
            std::mem::swap(&mut h, &mut h_prev);
        }
    }
    Ok(WlsFit {
        bound,
        h0,
        alpha,
        beta,
        proj,
        mse,
        fit_mse,
        points: n,
    })
}

/// Refuses a fit of degree `max_degree` with no more distinct weighted
/// abscissae `t` (weight `wf > 0`) than that degree.
fn check_support(t: &[f64], wf: &[f64], max_degree: usize) -> Result<()> {
    let distinct = count_distinct(
        t.iter()
            .zip(wf)
            .filter(|(_, w)| **w > 0.0)
            .map(|(t, _)| *t)
            .collect(),
    );
    if distinct <= max_degree {
        return Err(ApproxError::TooFewSupportPoints {
            distinct,
            degree: max_degree,
        });
    }
    Ok(())
}

/// Refuses a degree above [`MAX_DEGREE`]; returns the bound the fit
/// samples on (`bound · bound_factor`), refused unless finite and positive.
fn effective_bound(bound: f64, max_degree: usize, options: &WlsOptions) -> Result<f64> {
    if max_degree > MAX_DEGREE {
        return Err(ApproxError::DegreeOutOfRange {
            degree: max_degree,
            max: MAX_DEGREE,
        });
    }
    let eff = bound * options.bound_factor;
    check_bound(eff)?;
    Ok(eff)
}

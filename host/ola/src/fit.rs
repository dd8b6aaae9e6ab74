//! OLA steps 2–3 per layer: the candidate polynomials of every family and
//! degree, with their errors `E_i(d)` on the layer's input distribution.

use ola_approx::{
    Activation, ChebyshevPoly, InputDistribution, POW2_MAX_DEGREE, PowerOfTwoOptions, WlsOptions,
    fit_power_of_two, fit_wls_all_degrees_with, fit_wls_pairs_all_degrees_with,
    kmeans_interpolation,
};

use crate::costs::CostTable;
use crate::error::{Context, Result};
use crate::plan::PlanLayer;

/// An approximation family the optimizer may choose per layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Family {
    /// Distribution-weighted least squares (OLA), kept robust in the tails
    /// by a small share of mass on the Chebyshev measure of `[-B, B]`.
    Wls,
    /// OLA's scaled variant: the distribution widened by `r` before the fit.
    Scaled,
    /// Interpolation through k-means centroids of `(x, ReLU(x))`.
    Kmeans,
    /// Power-of-two coefficients (degree ≤ 8).
    Pow2,
    /// The parity split `ReLU(x) = x/2 + |x|/2`: `x/2` plus an even
    /// polynomial of degree `2k` fitted in `s = T_2(x/B)` (degree `k` in
    /// `s`), since `T_j(T_2(u)) = T_2j(u)`. One squaring doubles the
    /// degree, so it is priced as degree `k` plus one product and one
    /// level ([`candidate_cycles`]).
    Parity,
}

impl Family {
    /// Name used in tables and the plan file.
    pub fn name(self) -> &'static str {
        match self {
            Family::Wls => "wls",
            Family::Scaled => "scaled",
            Family::Kmeans => "kmeans",
            Family::Pow2 => "pow2",
            Family::Parity => "parity",
        }
    }

    /// The family a plan file's `family` field names ([`Family::name`],
    /// any case), if any.
    pub fn from_name(name: &str) -> Option<Family> {
        [
            Family::Wls,
            Family::Scaled,
            Family::Kmeans,
            Family::Pow2,
            Family::Parity,
        ]
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

/// How the fits are made.
#[derive(Clone, Copy, Debug)]
pub struct FitOptions {
    /// `B_i = bound_factor · max |x|` over the calibration inputs.
    pub bound_factor: f64,
    /// Share of the fitting mass on the Chebyshev measure (robustness).
    pub chebyshev_mix: f64,
    /// `r` of the scaled family.
    pub scale: f64,
    /// Largest k-means degree (k-means cost grows with the degree).
    pub kmeans_max_degree: usize,
    /// Samples k-means runs on.
    pub kmeans_samples: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            bound_factor: 1.2,
            chebyshev_mix: 0.001,
            scale: 1.15,
            kmeans_max_degree: 31,
            kmeans_samples: 20_000,
        }
    }
}

/// One candidate polynomial of one layer.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Family.
    pub family: Family,
    /// Degree.
    pub degree: usize,
    /// `E_i(d)`: mean squared error against ReLU on the calibration inputs.
    pub mse: f64,
    /// The polynomial on `[-B_i, B_i]`.
    pub poly: ChebyshevPoly,
}

impl Candidate {
    /// This candidate as layer `index` of a plan file (Chebyshev basis on
    /// `[-B_i, B_i]`, its family named).
    pub fn plan_layer(&self, index: usize, cycles: Option<u64>) -> PlanLayer {
        PlanLayer {
            index,
            degree: self.degree,
            bound: self.poly.bound(),
            basis: "chebyshev".into(),
            coeffs: self.poly.coeffs().to_vec(),
            family: Some(self.family.name().into()),
            cycles,
        }
    }
}

/// The candidates of one layer.
#[derive(Clone, Debug)]
pub struct LayerFit {
    /// `B_i`.
    pub bound: f64,
    /// Every candidate (family, degree).
    pub candidates: Vec<Candidate>,
}

impl LayerFit {
    /// The candidate of `family` and `degree`, if made.
    pub fn get(&self, family: Family, degree: usize) -> Option<&Candidate> {
        self.candidates
            .iter()
            .find(|c| c.family == family && c.degree == degree)
    }
}

/// Weighted mean squared error of `p` against ReLU on `dist`.
pub fn mse_on(dist: &InputDistribution, p: &ChebyshevPoly) -> f64 {
    dist.xs()
        .iter()
        .zip(dist.weights())
        .map(|(&x, &w)| w * (p.eval(x) - x.max(0.0)).powi(2))
        .sum()
}

/// Fits every family in `families` at every degree of `degrees` to one
/// layer's samples.
pub fn fit_layer(
    layer: usize,
    samples: &[f64],
    max_abs: f64,
    degrees: &[usize],
    families: &[Family],
    o: &FitOptions,
) -> Result<LayerFit> {
    fit_layer_to(layer, samples, None, max_abs, degrees, families, o)
}

/// [`fit_layer`] with paired targets: when `targets` is given, the WLS
/// family is fitted to the pairs `(samples[k], targets[k])` (sequential
/// calibration: inputs under the approximated upstream layers, outputs of
/// the exact network) and its `E_i(d)` is the mean squared error on those
/// pairs; the other families still fit ReLU of the samples.
pub fn fit_layer_to(
    layer: usize,
    samples: &[f64],
    targets: Option<&[f64]>,
    max_abs: f64,
    degrees: &[usize],
    families: &[Family],
    o: &FitOptions,
) -> Result<LayerFit> {
    let ctx = || format!("fitting ReLU {layer}");
    let dist = InputDistribution::from_samples(samples).context(ctx)?;
    let bound = (max_abs * o.bound_factor).max(1e-6);
    let top = degrees.iter().copied().max().unwrap_or(1);
    let mut candidates = Vec::new();
    let relu = Activation::Relu;
    for &fam in families {
        match fam {
            Family::Wls | Family::Scaled => {
                let opts = WlsOptions {
                    scale: if fam == Family::Scaled { o.scale } else { 1.0 },
                    chebyshev_mix: o.chebyshev_mix,
                    bound_factor: 1.0,
                    ..WlsOptions::raw()
                };
                let fit = match targets {
                    Some(ys) if fam == Family::Wls => {
                        fit_wls_pairs_all_degrees_with(samples, ys, &relu, bound, top, &opts)
                    }
                    _ => fit_wls_all_degrees_with(&dist, &relu, bound, top, &opts),
                }
                .context(ctx)?;
                let polys = fit.polys(degrees).context(ctx)?;
                for (&d, p) in degrees.iter().zip(polys) {
                    candidates.push(Candidate {
                        family: fam,
                        degree: d,
                        mse: fit.mse(d).unwrap_or(f64::INFINITY),
                        poly: p,
                    });
                }
            }
            Family::Kmeans => {
                let stride = samples.len().div_ceil(o.kmeans_samples.max(1)).max(1);
                let sub: Vec<f64> = samples.iter().step_by(stride).copied().collect();
                let sdist = InputDistribution::from_samples(&sub).context(ctx)?;
                for &d in degrees.iter().filter(|&&d| d <= o.kmeans_max_degree) {
                    // Too few distinct clusters or coinciding centroids: skip
                    // the degree, the other families still cover it.
                    if let Ok(k) = kmeans_interpolation(&sdist, &relu, bound, d, layer as u64 + 1) {
                        let mse = mse_on(&dist, &k.poly);
                        if mse.is_finite() {
                            candidates.push(Candidate {
                                family: fam,
                                degree: d,
                                mse,
                                poly: k.poly,
                            });
                        }
                    }
                }
            }
            Family::Parity => {
                // s = B·T_2(x/B); the even part is fitted to y − x/2.
                let (ss, rs): (Vec<f64>, Vec<f64>) = samples
                    .iter()
                    .enumerate()
                    .map(|(k, &x)| {
                        let u = x / bound;
                        let y = targets.map_or(x.max(0.0), |t| t[k]);
                        (bound * (2.0 * u * u - 1.0), y - 0.5 * x)
                    })
                    .unzip();
                // |x|/2 as a function of s (the Chebyshev-mixture targets).
                let half_abs = |s: f64| 0.5 * bound * ((s / bound + 1.0) / 2.0).max(0.0).sqrt();
                let opts = WlsOptions {
                    chebyshev_mix: o.chebyshev_mix,
                    bound_factor: 1.0,
                    ..WlsOptions::raw()
                };
                let fit = fit_wls_pairs_all_degrees_with(&ss, &rs, &half_abs, bound, top, &opts)
                    .context(ctx)?;
                let ks: Vec<usize> = degrees.iter().copied().filter(|&k| k >= 1).collect();
                let polys = fit.polys(&ks).context(ctx)?;
                for (&k, q) in ks.iter().zip(polys) {
                    candidates.push(Candidate {
                        family: fam,
                        degree: 2 * k,
                        mse: fit.mse(k).unwrap_or(f64::INFINITY),
                        poly: parity_poly(bound, q.coeffs(), k)?,
                    });
                }
            }
            Family::Pow2 => {
                for &d in degrees.iter().filter(|&&d| d <= POW2_MAX_DEGREE) {
                    if let Ok(f) =
                        fit_power_of_two(&dist, &relu, bound, d, &PowerOfTwoOptions::default())
                        && let Ok(p) = f.to_chebyshev(bound)
                    {
                        let p = ChebyshevPoly::new(bound, pad(p.coeffs(), d))?;
                        candidates.push(Candidate {
                            family: fam,
                            degree: d,
                            mse: f.mse,
                            poly: p,
                        });
                    }
                }
            }
        }
    }
    Ok(LayerFit { bound, candidates })
}

/// The degree-`2k` Chebyshev series on `[-B, B]` of `x/2 + q(B·T_2(x/B))`,
/// where `q = Σ_j c_j T_j(s/B)` has degree `k`: `T_j ∘ T_2 = T_2j` puts
/// `c_j` at `2j`, and `x/2 = (B/2)·T_1(x/B)`.
pub fn parity_poly(bound: f64, q: &[f64], k: usize) -> Result<ChebyshevPoly> {
    let mut c = vec![0.0; 2 * k + 1];
    for (j, &v) in q.iter().enumerate().take(k + 1) {
        c[2 * j] = v;
    }
    c[1] += 0.5 * bound;
    Ok(ChebyshevPoly::new(bound, c)?)
}

/// Cycles of one candidate on one ciphertext, bootstrapping share
/// included, from any valid cost table (`None`: the table cannot price it).
///
/// Every family but [`Family::Parity`] costs its degree's entry. A parity
/// polynomial of degree `2k` is evaluated as `T_2(u) = 2u·u − 1` (one
/// product, one level; the integer constants need no rescale), then the
/// degree-`k` polynomial on it (entry `k`), plus `(B/2)·u` (a constant
/// term): entry `k` + one product + one level. The product is priced as
/// entry 2's `total_cycles` (its one product and its three constant
/// terms: a slight over-estimate), the level as the table's
/// `bootstrap_cycles_per_level`.
pub fn candidate_cycles(costs: &CostTable, family: Family, degree: usize) -> Option<f64> {
    match family {
        Family::Parity => {
            if degree < 2 || !degree.is_multiple_of(2) {
                return None;
            }
            let k = costs.entry(degree / 2)?;
            let square = costs.entry(2)?;
            Some(costs.cycles(k) + square.total_cycles as f64 + costs.bootstrap_cycles_per_level)
        }
        _ => costs.entry(degree).map(|e| costs.cycles(e)),
    }
}

/// Levels a candidate consumes, by the same rule as [`candidate_cycles`]
/// (parity: entry `k`'s levels plus one); 0 when the table cannot price it.
pub fn candidate_levels(costs: &CostTable, family: Family, degree: usize) -> u32 {
    match family {
        Family::Parity => costs.entry(degree / 2).map_or(0, |e| e.levels + 1),
        _ => costs.entry(degree).map_or(0, |e| e.levels),
    }
}

/// Coefficients padded with zeros to degree `d` (a power-of-two fit may
/// have a zero leading coefficient; the plan keeps the nominal degree).
fn pad(c: &[f64], d: usize) -> Vec<f64> {
    let mut v = c.to_vec();
    v.resize(d + 1, 0.0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plan file's family names read back to the family that wrote
    /// them; anything else is no family.
    #[test]
    fn family_names_round_trip() {
        for f in [
            Family::Wls,
            Family::Scaled,
            Family::Kmeans,
            Family::Pow2,
            Family::Parity,
        ] {
            assert_eq!(Family::from_name(f.name()), Some(f));
            assert_eq!(Family::from_name(&f.name().to_uppercase()), Some(f));
        }
        assert_eq!(Family::from_name("spline"), None);
    }
    use crate::costs::CostModel;
    use crate::plan::{Plan, eval_schema};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A ReLU-input-like distribution: a skewed mixture with a long tail.
    fn samples() -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        (0..60_000)
            .map(|_| {
                let g: f64 = (0..4).map(|_| rng.random::<f64>() - 0.5).sum::<f64>();
                if rng.random::<f64>() < 0.7 {
                    -0.8 + 1.5 * g
                } else {
                    1.0 + 4.0 * g
                }
            })
            .collect()
    }

    fn max_abs(xs: &[f64]) -> f64 {
        xs.iter().fold(0.0f64, |m, x| m.max(x.abs()))
    }

    fn mse_relu(xs: &[f64], p: &ChebyshevPoly) -> f64 {
        xs.iter()
            .map(|&x| (p.eval(x) - x.max(0.0)).powi(2))
            .sum::<f64>()
            / xs.len() as f64
    }

    #[test]
    fn parity_fits_are_exactly_even_plus_half_x() {
        let xs = samples();
        let ks = [1, 2, 3, 7, 15];
        let f = fit_layer(
            0,
            &xs,
            max_abs(&xs),
            &ks,
            &[Family::Parity],
            &FitOptions::default(),
        )
        .unwrap();
        assert_eq!(f.candidates.len(), ks.len());
        for (c, &k) in f.candidates.iter().zip(&ks) {
            let b = c.poly.bound();
            assert_eq!(c.degree, 2 * k);
            assert_eq!(c.poly.coeffs().len(), 2 * k + 1);
            assert_eq!(c.poly.coeffs()[1], 0.5 * b, "T_1 carries x/2 exactly");
            for (j, &v) in c.poly.coeffs().iter().enumerate() {
                if j % 2 == 1 && j > 1 {
                    assert_eq!(v, 0.0, "k {k}: odd coefficient {j}");
                }
            }
            // p(x) − x/2 is even, at any x (inside the bound and beyond).
            for &x in &[0.3, 1.7, 4.0, 0.9 * b, 1.3 * b] {
                let (a, m) = (c.poly.eval(x) - 0.5 * x, c.poly.eval(-x) + 0.5 * x);
                assert!(
                    (a - m).abs() <= 1e-9 * (1.0 + a.abs()),
                    "k {k} x {x}: {a} vs {m}"
                );
            }
            // The reported E_i(d) is the error of the returned polynomial.
            let e = mse_relu(&xs, &c.poly);
            assert!(
                (c.mse - e).abs() <= 0.02 * e + 1e-12,
                "k {k}: {} vs {e}",
                c.mse
            );
        }
    }

    /// Where the squaring makes a parity polynomial cheaper than the dense
    /// one of its degree (the modelled table at degrees 14 and 30: the
    /// plain fit of the same cost has degree 10 and 18), its error on a
    /// ReLU input distribution is no worse than that plain fit's. (At 2, 4
    /// and 6 the same cost buys the dense degree `2k` itself, of which the
    /// parity polynomial is a special case: no gain there.)
    #[test]
    fn parity_error_no_worse_than_plain_fit_of_the_same_cost() {
        let xs = samples();
        let t = CostTable::modelled(&CostModel::default(), 64).unwrap();
        let degrees = t.candidate_degrees(1, 64);
        let fo = FitOptions::default();
        let m = max_abs(&xs);
        let par = fit_layer(0, &xs, m, &[7, 15], &[Family::Parity], &fo).unwrap();
        let plain = fit_layer(0, &xs, m, &degrees, &[Family::Wls], &fo).unwrap();
        for c in &par.candidates {
            let cost = candidate_cycles(&t, Family::Parity, c.degree).unwrap();
            let same = plain
                .candidates
                .iter()
                .filter(|p| candidate_cycles(&t, Family::Wls, p.degree).unwrap() <= cost)
                .max_by_key(|p| p.degree)
                .unwrap();
            assert!(same.degree < c.degree, "{} vs {}", same.degree, c.degree);
            let (ep, ew) = (mse_relu(&xs, &c.poly), mse_relu(&xs, &same.poly));
            assert!(
                ep <= ew * 1.01,
                "parity {} ({cost:.4e}): {ep:.3e} vs plain {} ({:.4e}): {ew:.3e}",
                c.degree,
                same.degree,
                candidate_cycles(&t, Family::Wls, same.degree).unwrap()
            );
        }
    }

    /// A parity layer written to the plan file and read back is the same
    /// function, and the same as `x/2 + q(B·T_2(x/B))` with `q` evaluated
    /// on its own.
    #[test]
    fn parity_plan_layer_round_trips_to_the_same_function() {
        let b = 6.0;
        let q = [0.7, 1.1, -0.25, 0.05];
        let p = parity_poly(b, &q, 3).unwrap();
        let plan = Plan {
            model: "m".into(),
            activation: "relu".into(),
            total_cycles: 1,
            budget_cycles: 2,
            layers: vec![PlanLayer {
                index: 0,
                degree: p.degree(),
                bound: b,
                basis: "chebyshev".into(),
                coeffs: p.coeffs().to_vec(),
                family: Some(Family::Parity.name().into()),
                cycles: Some(1),
            }],
            cost_source: None,
        };
        let back: Plan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
        back.validate().unwrap();
        let l = &back.layers[0];
        let qp = ChebyshevPoly::new(b, q.to_vec()).unwrap();
        for i in 0..=40 {
            let x = -1.5 * b + 3.0 * b * i as f64 / 40.0;
            let direct = 0.5 * x + qp.eval(b * (2.0 * (x / b).powi(2) - 1.0));
            let v = eval_schema(&l.coeffs, l.bound, x);
            assert!(
                (v - direct).abs() <= 1e-9 * (1.0 + direct.abs()),
                "x {x}: {v} vs {direct}"
            );
            assert!((v - p.eval(x)).abs() <= 1e-12 * (1.0 + v.abs()));
        }
    }

    /// The parity price: entry k, one product, one level — and that level
    /// count is what ola-ckks's planner needs for the same polynomial
    /// evaluated directly (the squaring route costs no extra level).
    #[test]
    fn parity_pricing_matches_the_squaring_route() {
        use ola_ckks::polynomial::{ChebyshevPoly as P, depth};
        let t = CostTable::modelled(&CostModel::default(), 64).unwrap();
        for k in 1..=32usize {
            let c = candidate_cycles(&t, Family::Parity, 2 * k).unwrap();
            let e = t.entry(k).unwrap();
            let want = t.cycles(e)
                + t.entry(2).unwrap().total_cycles as f64
                + t.bootstrap_cycles_per_level;
            assert_eq!(c, want);
            let mut even = vec![0.0; 2 * k + 1];
            for j in (0..=2 * k).step_by(2) {
                even[j] = 1.0 + j as f64;
            }
            even[1] = 0.5;
            assert_eq!(
                e.levels as usize + 1,
                depth(&P::new(even)),
                "degree {}",
                2 * k
            );
        }
        // Odd degrees and a table without degree 2 cannot price it.
        assert!(candidate_cycles(&t, Family::Parity, 7).is_none());
        let mut no2 = t.clone();
        no2.entries.retain(|e| e.degree != 2);
        assert!(candidate_cycles(&no2, Family::Parity, 6).is_none());
        assert_eq!(
            candidate_cycles(&t, Family::Wls, 6),
            Some(t.cycles(t.entry(6).unwrap()))
        );
    }
}

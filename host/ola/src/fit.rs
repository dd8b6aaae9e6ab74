//! OLA steps 2–3 per layer: the candidate polynomials of every family and
//! degree, with their errors `E_i(d)` on the layer's input distribution.

use ola_approx::{
    Activation, ChebyshevPoly, InputDistribution, POW2_MAX_DEGREE, PowerOfTwoOptions, WlsOptions,
    fit_power_of_two, fit_wls_all_degrees_with, fit_wls_pairs_all_degrees_with,
    kmeans_interpolation,
};

use crate::error::{Context, Result};

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
}

impl Family {
    /// Name used in tables and the plan file.
    pub fn name(self) -> &'static str {
        match self {
            Family::Wls => "wls",
            Family::Scaled => "scaled",
            Family::Kmeans => "kmeans",
            Family::Pow2 => "pow2",
        }
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

/// Coefficients padded with zeros to degree `d` (a power-of-two fit may
/// have a zero leading coefficient; the plan keeps the nominal degree).
fn pad(c: &[f64], d: usize) -> Vec<f64> {
    let mut v = c.to_vec();
    v.resize(d + 1, 0.0);
    v
}

//! The empirical input distribution of one activation layer.

use crate::activation::Target;
use crate::chebyshev::ChebyshevPoly;
use crate::error::{ApproxError, Result, check_bound};

/// Weighted points `(x_i, w_i)` with `sum w_i = 1`: the inputs that reach
/// one activation layer on the calibration set, or a histogram of them.
///
/// Construction validates once (non-empty, finite samples, finite
/// non-negative weights with a positive total), so every fitting routine
/// can trust its input. Zero weights (empty histogram bins) are dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct InputDistribution {
    xs: Vec<f64>,
    ws: Vec<f64>,
}

impl InputDistribution {
    /// Equal-weight samples.
    pub fn from_samples(xs: &[f64]) -> Result<Self> {
        if xs.is_empty() {
            return Err(ApproxError::NoSamples);
        }
        check_samples(xs)?;
        let w = 1.0 / xs.len() as f64;
        Ok(Self {
            xs: xs.to_vec(),
            ws: vec![w; xs.len()],
        })
    }

    /// Samples with non-negative weights (normalised to sum 1).
    pub fn from_weighted_samples(xs: &[f64], ws: &[f64]) -> Result<Self> {
        if xs.len() != ws.len() {
            return Err(ApproxError::LengthMismatch {
                samples: xs.len(),
                weights: ws.len(),
            });
        }
        if xs.is_empty() {
            return Err(ApproxError::NoSamples);
        }
        check_samples(xs)?;
        if let Some((index, &value)) = ws
            .iter()
            .enumerate()
            .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
        {
            return Err(ApproxError::InvalidWeight { index, value });
        }
        let total: f64 = ws.iter().sum();
        if !(total > 0.0 && total.is_finite()) {
            return Err(ApproxError::NoSamples);
        }
        let (xs, ws): (Vec<f64>, Vec<f64>) = xs
            .iter()
            .zip(ws)
            .filter(|(_, w)| **w > 0.0)
            .map(|(&x, &w)| (x, w / total))
            .unzip();
        Ok(Self { xs, ws })
    }

    /// A histogram: bin `centres` with their `counts` (any non-negative
    /// weights). The same as [`Self::from_weighted_samples`]; the name says
    /// what the caller has.
    pub fn from_histogram(centres: &[f64], counts: &[f64]) -> Result<Self> {
        Self::from_weighted_samples(centres, counts)
    }

    /// Number of weighted points (after dropping zero weights).
    pub fn len(&self) -> usize {
        self.xs.len()
    }

    /// Always `false`: construction refuses empty input. Present for API
    /// hygiene next to [`Self::len`].
    pub fn is_empty(&self) -> bool {
        self.xs.is_empty()
    }

    /// The points.
    pub fn xs(&self) -> &[f64] {
        &self.xs
    }

    /// The weights (sum 1).
    pub fn weights(&self) -> &[f64] {
        &self.ws
    }

    /// Largest `|x|`: the natural per-layer bound `B` of method.md.
    pub fn max_abs(&self) -> f64 {
        self.xs.iter().fold(0.0, |m, x| m.max(x.abs()))
    }

    /// Number of distinct sample values (a degree-d least-squares fit needs
    /// at least d + 1).
    pub fn distinct_support(&self) -> usize {
        count_distinct(self.xs.clone())
    }

    /// The OLA scaled distribution: every sample multiplied by `r`
    /// (density `phi(x / r) / r`), widening it for `r > 1`.
    pub fn scaled(&self, r: f64) -> Result<Self> {
        ApproxError::reject_if(!(r.is_finite() && r > 0.0), "r", r, "a finite factor > 0")?;
        let xs: Vec<f64> = self.xs.iter().map(|x| x * r).collect();
        check_samples(&xs)?;
        Ok(Self {
            xs,
            ws: self.ws.clone(),
        })
    }

    /// Compresses the samples into `bins` equal bins on `[-bound, bound]`,
    /// each replaced by its weighted centroid with the bin's total weight.
    /// Samples outside `[-bound, bound]` are kept exactly (never clipped).
    ///
    /// This is what makes fitting 1024 degrees from 10^6 samples fast; the
    /// moments of order 0 and 1 of each bin are exact, so for a bin of width
    /// `h` the inner product of two functions changes by `O(h^2)` times
    /// their second derivatives.
    pub fn binned(&self, bound: f64, bins: usize) -> Result<Self> {
        check_bound(bound)?;
        ApproxError::reject_if(bins < 2, "bins", bins as f64, "at least 2 bins")?;
        let (xs, ws) = bin_points(&self.xs, &self.ws, bound, bins);
        Ok(Self { xs, ws })
    }

    /// `E[(f(x) - p(x))^2]` under this distribution, by direct evaluation
    /// (O(n * degree)): the independent check of the fitted errors.
    pub fn mean_squared_error(&self, f: &impl Target, p: &ChebyshevPoly) -> f64 {
        self.xs
            .iter()
            .zip(&self.ws)
            .map(|(&x, &w)| {
                let e = f.eval(x) - p.eval(x);
                w * e * e
            })
            .sum()
    }
}

fn check_samples(xs: &[f64]) -> Result<()> {
    match xs.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        Some((index, &value)) => Err(ApproxError::NonFiniteSample { index, value }),
        None => Ok(()),
    }
}

pub(crate) fn count_distinct(mut v: Vec<f64>) -> usize {
    v.sort_unstable_by(f64::total_cmp);
    v.dedup();
    v.len()
}

/// Bin centroids and weights on `[-bound, bound]` plus the exact points
/// outside, in increasing order of bin (outside points last). Empty bins
/// are dropped.
pub(crate) fn bin_points(xs: &[f64], ws: &[f64], bound: f64, bins: usize) -> (Vec<f64>, Vec<f64>) {
    let mut sw = vec![0.0f64; bins];
    let mut swx = vec![0.0f64; bins];
    let mut out_x = Vec::new();
    let mut out_w = Vec::new();
    let scale = bins as f64 / (2.0 * bound);
    for (&x, &w) in xs.iter().zip(ws) {
        if x.abs() <= bound {
            let k = (((x + bound) * scale) as usize).min(bins - 1);
            sw[k] += w;
            swx[k] += w * x;
        } else {
            out_x.push(x);
            out_w.push(w);
        }
    }
    let mut bx = Vec::with_capacity(bins + out_x.len());
    let mut bw = Vec::with_capacity(bins + out_x.len());
    for (s, sx) in sw.iter().zip(&swx) {
        if *s > 0.0 {
            bx.push((sx / s).clamp(-bound, bound));
            bw.push(*s);
        }
    }
    bx.extend(out_x);
    bw.extend(out_w);
    (bx, bw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_refused() {
        assert_eq!(
            InputDistribution::from_samples(&[]),
            Err(ApproxError::NoSamples)
        );
        assert!(matches!(
            InputDistribution::from_samples(&[1.0, f64::NAN]),
            Err(ApproxError::NonFiniteSample { index: 1, .. })
        ));
        assert!(matches!(
            InputDistribution::from_samples(&[f64::INFINITY]),
            Err(ApproxError::NonFiniteSample { index: 0, .. })
        ));
        assert!(matches!(
            InputDistribution::from_weighted_samples(&[1.0, 2.0], &[1.0, -1.0]),
            Err(ApproxError::InvalidWeight { index: 1, .. })
        ));
        assert!(matches!(
            InputDistribution::from_weighted_samples(&[1.0], &[f64::NAN]),
            Err(ApproxError::InvalidWeight { index: 0, .. })
        ));
        assert_eq!(
            InputDistribution::from_weighted_samples(&[1.0, 2.0], &[0.0, 0.0]),
            Err(ApproxError::NoSamples)
        );
        assert!(matches!(
            InputDistribution::from_histogram(&[1.0, 2.0], &[1.0]),
            Err(ApproxError::LengthMismatch { .. })
        ));
        let d = InputDistribution::from_samples(&[1.0, 2.0]).unwrap();
        assert!(d.scaled(0.0).is_err() && d.scaled(f64::NAN).is_err());
        assert_eq!(d.binned(-1.0, 16), Err(ApproxError::InvalidBound(-1.0)));
        assert!(d.binned(1.0, 1).is_err());
        // The messages say what is wrong.
        let msg = ApproxError::InvalidBound(0.0).to_string();
        assert!(msg.contains("B = 0"), "{msg}");
    }

    #[test]
    fn binning_keeps_mass_mean_and_outliers() {
        let xs: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin() * 1.5).collect();
        let d = InputDistribution::from_samples(&xs).unwrap();
        let b = d.binned(1.0, 64).unwrap();
        let total: f64 = b.weights().iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        let mean = |d: &InputDistribution| -> f64 {
            d.xs().iter().zip(d.weights()).map(|(x, w)| x * w).sum()
        };
        assert!((mean(&d) - mean(&b)).abs() < 1e-12);
        let outside = xs.iter().filter(|x| x.abs() > 1.0).count();
        assert_eq!(b.xs().iter().filter(|x| x.abs() > 1.0).count(), outside);
        assert!(b.len() <= 64 + outside);
    }

    #[test]
    fn zero_weights_are_dropped_and_weights_normalised() {
        let d = InputDistribution::from_histogram(&[-1.0, 0.0, 1.0], &[2.0, 0.0, 6.0]).unwrap();
        assert_eq!(d.xs(), &[-1.0, 1.0]);
        assert_eq!(d.weights(), &[0.25, 0.75]);
        assert_eq!(d.distinct_support(), 2);
        assert_eq!(d.max_abs(), 1.0);
    }
}

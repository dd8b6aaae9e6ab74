//! Sequential calibration: every layer's polynomial is fitted to the inputs
//! it really sees — those produced with every ReLU before it already
//! replaced by its polynomial — and to the outputs the *exact* network has
//! at the same positions.
//!
//! Fitting each layer to its exact-network inputs (OLA's step 2) ignores
//! that low-degree polynomials shift and widen the distributions
//! downstream, so errors compound through the residual stream. Walking the
//! network once, layer by layer, over a whole calibration batch removes
//! both effects a layer can remove: the fit follows the shifted inputs,
//! and the paired targets let it absorb the part of the upstream error that
//! is a function of its input (e.g. a systematic offset). The same pass
//! measures `E_i(d)` for every candidate degree under the approximated
//! upstream, which the dynamic program can use in a second round.

use candle_core::Tensor;
use ola_approx::ChebyshevPoly;

use crate::accuracy::map_values;
use crate::analysis::argmax;
use crate::cifar::{Dataset, Normalization};
use crate::error::{Context, Error, Result};
use crate::fit::{Candidate, Family, FitOptions, LayerFit, fit_layer_to};
use crate::model::ResNet;

/// Pairs whose input lies beyond `TAIL_CAP · B_i` are left out of a fit:
/// such values are blow-ups of upstream polynomials, not a distribution to
/// follow. Those between `B_i` and the cap stay in, so a fit is penalised
/// for growing just beyond its interval.
pub const TAIL_CAP: f64 = 2.0;

/// A calibration batch with the exact network's ReLU outputs at fixed
/// positions of every layer.
#[derive(Debug)]
pub struct SeqCalib {
    x: Tensor,
    labels: Vec<u8>,
    positions: Vec<Vec<usize>>,
    targets: Vec<Vec<f64>>,
    exact_top1: f64,
}

impl SeqCalib {
    /// The first `images` images of `data` (at most all), with about
    /// `samples` positions per layer (a fixed stride over the batch's
    /// elements) and the exact network's ReLU outputs there.
    pub fn new(
        model: &ResNet,
        data: &Dataset,
        norm: &Normalization,
        images: usize,
        samples: usize,
    ) -> Result<Self> {
        let images = images.min(data.len());
        if images == 0 {
            return Err(Error::new("sequential calibration: no images"));
        }
        let (x, _) = data.batch(0, images, norm)?;
        let positions: Vec<Vec<usize>> = model
            .act_shapes()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let n = s.elements() * images;
                let stride = n.div_ceil(samples.max(1)).max(1);
                (i % stride..n).step_by(stride).collect()
            })
            .collect();
        let mut targets = vec![Vec::new(); positions.len()];
        let logits = model.forward(&x, &mut |i, t| {
            let r = t.relu()?;
            let v = r.flatten_all()?.to_vec1::<f32>()?;
            targets[i] = positions[i].iter().map(|&p| v[p] as f64).collect();
            Ok(r)
        })?;
        let labels = data.labels[..images].to_vec();
        let exact_top1 = top1(&logits, &labels)?;
        Ok(SeqCalib {
            x,
            labels,
            positions,
            targets,
            exact_top1,
        })
    }

    /// Top-1 of the exact network on the batch.
    pub fn exact_top1(&self) -> f64 {
        self.exact_top1
    }

    /// Images in the batch.
    pub fn images(&self) -> usize {
        self.labels.len()
    }

    /// Top-1 on the batch with every ReLU replaced by `polys`.
    pub fn top1_with(&self, model: &ResNet, polys: &[ChebyshevPoly]) -> Result<f64> {
        if polys.len() != model.relu_count() {
            return Err(Error::new(format!(
                "{} polynomials for {} ReLUs",
                polys.len(),
                model.relu_count()
            )));
        }
        let logits = model.forward(&self.x, &mut |i, t| map_values(t, &|x| polys[i].eval(x)))?;
        top1(&logits, &self.labels)
    }
}

/// What one sequential pass produced.
#[derive(Clone, Debug)]
pub struct SeqPass {
    /// Per layer, every candidate asked for, fitted under the approximated
    /// upstream (`E_i(d)` on the pairs).
    pub fits: Vec<LayerFit>,
    /// Per layer, the polynomial of the plan's (family, degree), which the
    /// pass applied before moving on.
    pub chosen: Vec<Candidate>,
    /// Top-1 of the approximated network on the batch (in-sample).
    pub top1: f64,
}

/// One pass over the network (see the module doc). `plan[i]` is layer
/// `i`'s (family, degree): the polynomial applied on the way down.
/// `degrees` × `families` are the extra candidates measured per layer
/// (empty: only the plan's). `max_abs[i]` gives `B_i` as in
/// [`crate::fit::fit_layer`]. With `exact_targets` false the targets are
/// ReLU of the approximated inputs (fit to the shifted distribution only).
#[allow(clippy::too_many_arguments)]
pub fn sequential_pass(
    model: &ResNet,
    calib: &SeqCalib,
    plan: &[(Family, usize)],
    degrees: &[usize],
    families: &[Family],
    max_abs: &[f64],
    fit: &FitOptions,
    exact_targets: bool,
) -> Result<SeqPass> {
    let n = model.relu_count();
    if plan.len() != n || max_abs.len() != n || calib.positions.len() != n {
        return Err(Error::new(format!(
            "sequential calibration: {} plan entries, {} bounds, {} calibrated layers for {n} ReLUs",
            plan.len(),
            max_abs.len(),
            calib.positions.len()
        )));
    }
    let mut fits = Vec::with_capacity(n);
    let mut chosen = Vec::with_capacity(n);
    let logits = model.forward(&calib.x, &mut |i, t| {
        let (fam, deg) = plan[i];
        let v = t.flatten_all()?.to_vec1::<f32>()?;
        let cap = TAIL_CAP * max_abs[i] * fit.bound_factor;
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for (&p, &y) in calib.positions[i].iter().zip(&calib.targets[i]) {
            let x = v[p] as f64;
            if x.is_finite() && x.abs() <= cap {
                xs.push(x);
                ys.push(if exact_targets { y } else { x.max(0.0) });
            }
        }
        let mut ds: Vec<usize> = degrees.iter().copied().chain([deg]).collect();
        ds.sort_unstable();
        ds.dedup();
        let mut fams: Vec<Family> = families.to_vec();
        if !fams.contains(&fam) {
            fams.push(fam);
        }
        let f = fit_layer_to(i, &xs, Some(&ys), max_abs[i], &ds, &fams, fit)
            .context(|| "sequential calibration".to_string())?;
        let c = f.get(fam, deg).cloned().ok_or_else(|| {
            Error::new(format!(
                "sequential calibration: no {} fit of degree {deg} for ReLU {i}",
                fam.name()
            ))
        })?;
        let out = map_values(t, &|x| c.poly.eval(x))?;
        chosen.push(c);
        fits.push(f);
        Ok(out)
    })?;
    Ok(SeqPass {
        fits,
        chosen,
        top1: top1(&logits, &calib.labels)?,
    })
}

fn top1(logits: &Tensor, labels: &[u8]) -> Result<f64> {
    let pred = argmax(logits)?;
    let correct = pred
        .iter()
        .zip(labels)
        .filter(|(p, l)| **p == **l as u32)
        .count();
    Ok(correct as f64 / labels.len().max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use crate::model::values_f64;

    fn relu_outputs(model: &ResNet, x: &Tensor, polys: Option<&[Candidate]>) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        model
            .forward(x, &mut |i, t| {
                let r = match polys {
                    Some(p) => map_values(t, &|x| p[i].poly.eval(x))?,
                    None => t.relu()?,
                };
                out.push(r.flatten_all()?.to_vec1::<f32>()?);
                Ok(r)
            })
            .unwrap();
        out
    }

    /// With exact targets, the sequentially fitted polynomials track the
    /// exact network's activations better than fits of ReLU to the exact
    /// inputs (layer by layer, then applied together), and the reported
    /// `E_i(d)` is the measured error on the calibration pairs.
    #[test]
    fn sequential_fits_track_the_exact_network_better() {
        let model = demo::init_resnet(1, 6, 21).unwrap();
        let data = demo::synthetic(24, 9);
        let norm = demo::DEMO_NORM;
        let n = model.relu_count();
        let calib = SeqCalib::new(&model, &data, &norm, 24, 20_000).unwrap();
        let (x, _) = data.batch(0, 24, &norm).unwrap();
        let exact = relu_outputs(&model, &x, None);
        let mut max_abs = Vec::new();
        model
            .forward(&x, &mut |_, t| {
                max_abs.push(t.abs()?.max_all()?.to_vec0::<f32>()? as f64);
                Ok(t.relu()?)
            })
            .unwrap();
        let fo = FitOptions::default();
        let plan = vec![(Family::Wls, 3); n];
        // Independent fits: ReLU of the exact inputs.
        let mut indep = Vec::new();
        model
            .forward(&x, &mut |i, t| {
                let v = values_f64(t)?;
                let f = crate::fit::fit_layer(i, &v, max_abs[i], &[3], &[Family::Wls], &fo)?;
                indep.push(f.candidates[0].clone());
                Ok(t.relu()?)
            })
            .unwrap();
        let seq = sequential_pass(&model, &calib, &plan, &[], &[], &max_abs, &fo, true).unwrap();
        assert_eq!(seq.chosen.len(), n);
        let err = |outs: &[Vec<f32>], i: usize| -> f64 {
            outs[i]
                .iter()
                .zip(&exact[i])
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                / outs[i].len() as f64
        };
        let with_indep = relu_outputs(&model, &x, Some(&indep));
        let with_seq = relu_outputs(&model, &x, Some(&seq.chosen));
        let last = n - 1;
        assert!(
            err(&with_seq, last) < err(&with_indep, last),
            "last ReLU: sequential {} vs independent {}",
            err(&with_seq, last),
            err(&with_indep, last)
        );
        // Layer 0 sees exact inputs either way: the reported E_0 is the
        // measured error there (subsampled positions, binned: 10 %).
        let e0 = err(&with_seq, 0);
        assert!(
            (seq.chosen[0].mse - e0).abs() <= 0.1 * e0,
            "E_0 {} vs measured {e0}",
            seq.chosen[0].mse
        );
        // A wrong-sized plan is an error, not a panic.
        assert!(
            sequential_pass(&model, &calib, &plan[1..], &[], &[], &max_abs, &fo, true).is_err()
        );
    }
}

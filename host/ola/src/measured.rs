//! Measured per-layer loss increases: the dynamic program's error term
//! taken from the network itself instead of OLA's `A_i · E_i(d)`.
//!
//! `A_i · E_i(d)` is a first-order, independent-noise estimate. At low
//! degrees it misjudges layers whose error is neither small nor noise-like:
//! on ResNet-20 at 0.20 of the baseline it gave the last ReLU (before the
//! average pool, small `A_i`) degree 3 and the stem degree 30. Here every
//! candidate is priced by what it does: layer `i`'s cached input is run
//! through the candidate and then through the rest of the network, and
//! `ΔL_i(c)` is the increase of the capped per-image KL against the exact
//! network's outputs ([`crate::tune::check_loss`]'s criterion). With the
//! layers before `i` replaced by a plan's polynomials (`upstream`), the
//! increases telescope: summed over the layers with each layer's planned
//! candidate they equal the whole plan's loss on the batch. With the
//! plan's polynomials after `i` as well ([`Context::Plan`]), `ΔL_i(c)` is
//! the exact change of the plan's loss when only layer `i` moves to `c`:
//! the marginals a local search around the plan needs.

use candle_core::Tensor;
use indicatif::ProgressBar;
use ola_approx::ChebyshevPoly;

use crate::accuracy::map_values;
use crate::error::{Error, Result};
use crate::fit::LayerFit;
use crate::model::ResNet;
use crate::tune::{capped_kl, log_softmax};

/// What surrounds the substituted layer in [`layer_losses`].
#[derive(Clone, Copy, Debug)]
pub enum Context<'a> {
    /// Exact ReLUs everywhere else.
    Exact,
    /// The plan's polynomials before the layer, exact ReLUs after it.
    Upstream(&'a [ChebyshevPoly]),
    /// The plan's polynomials everywhere else.
    Plan(&'a [ChebyshevPoly]),
}

/// `ΔL_i(c)` for every layer `i` and every candidate `c` of `fits[i]` (in
/// its order), on the images `x`: the capped KL of the network with `c` at
/// layer `i` and `ctx` elsewhere, minus the same with layer `i` an exact
/// ReLU ([`Context::Exact`], [`Context::Upstream`]) or the plan's own
/// polynomial ([`Context::Plan`]). One forward pass walks the network;
/// each candidate then replays only the layers after its own from the
/// cached input.
pub fn layer_losses(
    model: &ResNet,
    x: &Tensor,
    ctx: Context<'_>,
    fits: &[LayerFit],
    progress: &ProgressBar,
) -> Result<Vec<Vec<f64>>> {
    let layers = model.relu_count();
    let (upstream, downstream) = match ctx {
        Context::Exact => (None, false),
        Context::Upstream(p) => (Some(p), false),
        Context::Plan(p) => (Some(p), true),
    };
    if fits.len() != layers || upstream.is_some_and(|u| u.len() != layers) {
        return Err(Error::new(format!(
            "measured losses: {} fits / {} upstream polynomials for {layers} ReLUs",
            fits.len(),
            upstream.map_or(0, |u| u.len())
        )));
    }
    progress.set_length(fits.iter().map(|f| f.candidates.len() as u64 + 1).sum());
    let target = log_softmax(&model.logits(x)?)?;
    let mut out: Vec<Vec<f64>> = vec![Vec::new(); layers];
    // Output of the last even ReLU: the input of the block being walked.
    let mut block_in: Option<Tensor> = None;
    model.forward(x, &mut |i, t| {
        let bin = if i % 2 == 1 { block_in.as_ref() } else { None };
        let rest = |sub: &dyn Fn(&Tensor) -> Result<Tensor>| -> Result<f64> {
            let z = model.forward_from(i, t, bin, &mut |j, u| match upstream {
                _ if j == i => sub(u),
                Some(p) if downstream => map_values(u, &|v| p[j].eval(v)),
                _ => Ok(u.relu()?),
            })?;
            capped_kl(&target, &z)
        };
        let base = match upstream {
            Some(p) if downstream => rest(&|u| map_values(u, &|v| p[i].eval(v)))?,
            _ => rest(&|u| Ok(u.relu()?))?,
        };
        progress.inc(1);
        for c in &fits[i].candidates {
            out[i].push(rest(&|u| map_values(u, &|v| c.poly.eval(v)))? - base);
            progress.inc(1);
        }
        let y = match upstream {
            Some(p) => map_values(t, &|v| p[i].eval(v))?,
            None => t.relu()?,
        };
        if i % 2 == 0 {
            block_in = Some(y.clone());
        }
        Ok(y)
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use crate::fit::{Family, FitOptions, fit_layer};

    /// Every `ΔL_i(c)` equals a full forward pass with only layer `i`
    /// replaced (upstream exact), and, with a plan upstream, the planned
    /// candidates' increases sum to the whole plan's loss (telescoping).
    #[test]
    fn measured_losses_are_substitutions_and_telescope() {
        let model = demo::init_resnet(1, 4, 7).unwrap();
        let data = demo::synthetic(24, 3);
        let norm = demo::DEMO_NORM;
        let (x, _) = data.batch(0, 24, &norm).unwrap();
        // Fits on the exact inputs of every layer, degrees 2 and 5.
        let mut samples = vec![Vec::new(); model.relu_count()];
        model
            .forward(&x, &mut |i, t| {
                samples[i] = crate::model::values_f64(t)?;
                Ok(t.relu()?)
            })
            .unwrap();
        let fits: Vec<LayerFit> = samples
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let m = s.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                fit_layer(i, s, m, &[2, 5], &[Family::Wls], &FitOptions::default()).unwrap()
            })
            .collect();
        let pb = ProgressBar::hidden();
        let iso = layer_losses(&model, &x, Context::Exact, &fits, &pb).unwrap();
        let target = log_softmax(&model.logits(&x).unwrap()).unwrap();
        for (i, f) in fits.iter().enumerate() {
            assert_eq!(iso[i].len(), f.candidates.len());
            for (j, c) in f.candidates.iter().enumerate() {
                let z = model
                    .forward(&x, &mut |k, t| {
                        if k == i {
                            map_values(t, &|v| c.poly.eval(v))
                        } else {
                            Ok(t.relu()?)
                        }
                    })
                    .unwrap();
                let full = capped_kl(&target, &z).unwrap();
                assert!(
                    (iso[i][j] - full).abs() <= 1e-5 + 1e-4 * full,
                    "layer {i} cand {j}: {} vs {full}",
                    iso[i][j]
                );
            }
        }
        // The cheap degree hurts more than the dear one somewhere.
        assert!(iso.iter().any(|l| l[0] > l[1]));
        // Plan: degree 2 everywhere; its per-layer increases sum to its loss.
        let plan: Vec<ChebyshevPoly> = fits.iter().map(|f| f.candidates[0].poly.clone()).collect();
        let ctx = layer_losses(&model, &x, Context::Upstream(&plan), &fits, &pb).unwrap();
        let sum: f64 = ctx.iter().map(|l| l[0]).sum();
        let z = model
            .forward(&x, &mut |k, t| map_values(t, &|v| plan[k].eval(v)))
            .unwrap();
        let whole = capped_kl(&target, &z).unwrap();
        assert!(whole > 0.0);
        assert!(
            (sum - whole).abs() <= 1e-4 + 1e-3 * whole,
            "{sum} vs {whole}"
        );
        // Around the plan: moving layer i alone to degree 5 changes the
        // plan's loss by exactly the marginal; staying put changes nothing.
        let marg = layer_losses(&model, &x, Context::Plan(&plan), &fits, &pb).unwrap();
        for i in 0..model.relu_count() {
            assert!(marg[i][0].abs() < 1e-6, "layer {i}: {}", marg[i][0]);
            let z = model
                .forward(&x, &mut |k, t| {
                    let p = if k == i {
                        &fits[i].candidates[1].poly
                    } else {
                        &plan[k]
                    };
                    map_values(t, &|v| p.eval(v))
                })
                .unwrap();
            let moved = capped_kl(&target, &z).unwrap() - whole;
            assert!(
                (marg[i][1] - moved).abs() <= 1e-5 + 1e-3 * moved.abs(),
                "layer {i}: {} vs {moved}",
                marg[i][1]
            );
        }
        assert!(
            marg.iter().any(|l| l[1] < 0.0),
            "a dearer degree lowers the plan's loss"
        );
    }

    /// Starting the pass at any ReLU from its cached input gives the logits
    /// of the whole pass.
    #[test]
    fn forward_from_replays_the_rest() {
        let model = demo::init_resnet(2, 4, 11).unwrap();
        let data = demo::synthetic(5, 1);
        let (x, _) = data.batch(0, 5, &demo::DEMO_NORM).unwrap();
        let full = model
            .logits(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        model
            .forward(&x, &mut |_, t| {
                inputs.push(t.clone());
                let r = t.relu()?;
                outputs.push(r.clone());
                Ok(r)
            })
            .unwrap();
        for s in 0..model.relu_count() {
            let bin = (s % 2 == 1).then(|| &outputs[s - 1]);
            let z = model
                .forward_from(s, &inputs[s], bin, &mut |_, u| Ok(u.relu()?))
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            for (a, b) in z.iter().zip(&full) {
                assert!((a - b).abs() < 1e-5, "start {s}: {a} vs {b}");
            }
        }
        assert!(
            model
                .forward_from(1, &inputs[1], None, &mut |_, u| Ok(u.relu()?))
                .is_err()
        );
        assert!(
            model
                .forward_from(99, &inputs[0], None, &mut |_, u| Ok(u.relu()?))
                .is_err()
        );
    }
}

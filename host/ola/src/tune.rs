//! End-to-end coefficient tuning: the plan's polynomials, with their
//! degrees (hence their cost) fixed, are adjusted together so that the
//! approximated network's outputs match the exact network's on
//! calibration images.
//!
//! Every fit before this one minimises a per-layer error; at low degrees
//! what matters is how the errors of all layers combine at the logits,
//! which no per-layer objective sees. The network's weights are not
//! touched (post-training approximation): only the `Σ (d_i + 1)`
//! Chebyshev coefficients move, by Adam on the distillation loss
//! `KL(softmax(z_exact) ‖ softmax(z))` over mini-batches of calibration
//! images, starting from the sequential fits. Coefficients are updated as
//! `c_k / B_i` so that one learning rate suits every layer's scale, and
//! coefficients the family fixes (odd ones of a parity polynomial, above
//! `T_1`) stay as they are.

use candle_core::{DType, Tensor, Var};
use indicatif::ProgressBar;
use ola_approx::ChebyshevPoly;

use crate::cifar::{Dataset, Normalization};
use crate::error::{Error, Result};
use crate::fit::{Candidate, Family};
use crate::model::ResNet;

/// How the tuning runs.
#[derive(Clone, Copy, Debug)]
pub struct TuneOptions {
    /// Adam steps (0: no tuning).
    pub steps: usize,
    /// Images per step.
    pub batch: usize,
    /// Calibration images the batches cycle through (the first ones).
    pub images: usize,
    /// Adam's learning rate on `c_k / B_i`.
    pub lr: f64,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions {
            steps: 0,
            batch: 64,
            images: 4000,
            lr: 2e-3,
        }
    }
}

/// What tuning did.
#[derive(Clone, Debug)]
pub struct Tuned {
    /// The tuned candidates (same family and degree; `mse` re-measured is
    /// not available here, so it keeps the fit's value).
    pub chosen: Vec<Candidate>,
    /// Mean distillation loss of the first and of the last tenth of the steps.
    pub loss: (f64, f64),
    /// [`distillation_loss`] on the check images before and after; when
    /// tuning did not lower it, `chosen` is the input unchanged.
    pub check: (f64, f64),
}

/// Images of the before/after check (the first ones of the tuning set).
pub const CHECK_IMAGES: usize = 256;

/// `Σ_k c_k T_k(x / B)` on a tensor, differentiable in `c` (`[d + 1]`).
fn cheb_eval(x: &Tensor, c: &Tensor, bound: f64) -> Result<Tensor> {
    let d = c.dims1()? - 1;
    let u = (x / bound)?;
    let coef = |k: usize| -> Result<Tensor> { Ok(c.narrow(0, k, 1)?) };
    let mut acc = coef(0)?.broadcast_as(x.dims())?.contiguous()?;
    if d == 0 {
        return Ok(acc);
    }
    acc = (acc + u.broadcast_mul(&coef(1)?)?)?;
    let (mut t0, mut t1) = (Tensor::ones_like(&u)?, u.clone());
    for k in 2..=d {
        let t2 = ((&u * &t1)? * 2.0 - &t0)?;
        acc = (acc + t2.broadcast_mul(&coef(k)?)?)?;
        t0 = t1;
        t1 = t2;
    }
    Ok(acc)
}

/// Mean `KL(softmax(z_exact) ‖ softmax(z))` of the network with every
/// ReLU replaced by `polys` (evaluated in `f64`, as [`crate::accuracy`]
/// does) against the exact network, on the first `images` images of `data`.
pub fn distillation_loss(
    model: &ResNet,
    data: &Dataset,
    norm: &Normalization,
    images: usize,
    polys: &[ChebyshevPoly],
) -> Result<f64> {
    let (x, _) = data.batch(0, images.min(data.len()), norm)?;
    let target = log_softmax(&model.logits(&x)?)?;
    let lp = log_softmax(&model.forward(&x, &mut |i, t| {
        crate::accuracy::map_values(t, &|v| polys[i].eval(v))
    })?)?;
    let kl = (target.exp()? * (&target - &lp)?)?.sum_all()?;
    Ok(kl.to_vec0::<f32>()? as f64 / x.dims()[0].max(1) as f64)
}

fn log_softmax(z: &Tensor) -> Result<Tensor> {
    Ok(z.broadcast_sub(&z.log_sum_exp(1)?.unsqueeze(1)?)?)
}

/// Tunes `chosen` (one candidate per ReLU) as described in the module doc.
pub fn tune(
    model: &ResNet,
    calib: &Dataset,
    norm: &Normalization,
    chosen: &[Candidate],
    o: &TuneOptions,
    progress: &ProgressBar,
) -> Result<Tuned> {
    if chosen.len() != model.relu_count() {
        return Err(Error::new(format!(
            "tuning: {} polynomials for {} ReLUs",
            chosen.len(),
            model.relu_count()
        )));
    }
    let images = o.images.min(calib.len());
    if o.steps == 0 || images == 0 {
        return Ok(Tuned {
            chosen: chosen.to_vec(),
            loss: (f64::NAN, f64::NAN),
            check: (f64::NAN, f64::NAN),
        });
    }
    if !(o.lr.is_finite() && o.lr > 0.0) || o.batch == 0 {
        return Err(Error::new(
            "tuning: the learning rate must be > 0 and the batch at least 1",
        ));
    }
    let batch = o.batch.min(images);
    let bounds: Vec<f64> = chosen.iter().map(|c| c.poly.bound()).collect();
    let vars: Vec<Var> = chosen
        .iter()
        .map(|c| {
            let w: Vec<f32> = c
                .poly
                .coeffs()
                .iter()
                .map(|&v| (v / c.poly.bound()) as f32)
                .collect();
            let n = w.len();
            Var::from_tensor(&Tensor::from_vec(w, n, &candle_core::Device::Cpu)?)
        })
        .collect::<std::result::Result<_, _>>()?;
    // Per-coefficient step size (0 where a coefficient is fixed).
    let rates: Vec<Tensor> = chosen
        .iter()
        .map(|c| {
            let m: Vec<f32> = (0..c.poly.coeffs().len())
                .map(|k| {
                    // Step size lr/(k + 1): a ReLU fit's T_k coefficients
                    // shrink with k, and Adam's steps are about lr each.
                    let fixed = c.family == Family::Parity && k % 2 == 1 && k > 1;
                    if fixed {
                        0.0
                    } else {
                        (o.lr / (k + 1) as f64) as f32
                    }
                })
                .collect();
            let n = m.len();
            Ok(Tensor::from_vec(m, n, &candle_core::Device::Cpu)?)
        })
        .collect::<Result<_>>()?;
    // 0/1: whether a coefficient may move.
    let masks: Vec<Tensor> = rates
        .iter()
        .map(|r| Ok(r.ne(0f32)?.to_dtype(DType::F32)?))
        .collect::<Result<_>>()?;
    let mut m1: Vec<Tensor> = vars
        .iter()
        .map(|v| v.as_tensor().zeros_like())
        .collect::<std::result::Result<_, _>>()?;
    let mut m2 = m1.clone();
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let mut losses = Vec::with_capacity(o.steps);
    let (mut skipped, mut adam_t) = (0usize, 0i32);
    progress.set_length(o.steps as u64);
    let mut start = 0;
    for _ in 0..o.steps {
        if start + batch > images {
            start = 0;
        }
        let (x, _) = calib.batch(start, batch, norm)?;
        start += batch;
        let target = log_softmax(&model.logits(&x)?)?.detach();
        let logits = model.forward(&x, &mut |i, t| {
            let c = vars[i].as_tensor() * bounds[i];
            cheb_eval(t, &c?, bounds[i])
        })?;
        let lp = log_softmax(&logits)?;
        // KL(p_exact ‖ p) summed over classes, mean over images.
        let kl = (target.exp()? * (&target - &lp)?)?.sum_all()? / batch as f64;
        let kl = kl?;
        let lv = kl.to_vec0::<f32>()? as f64;
        progress.inc(1);
        // A batch whose inputs drive a polynomial far beyond its bound
        // gives no usable gradient: skip it rather than poison Adam.
        if !lv.is_finite() {
            skipped += 1;
            continue;
        }
        let grads = kl.backward()?;
        let gs: Vec<Option<Tensor>> = vars
            .iter()
            .zip(&masks)
            .map(|(v, m)| grads.get(v.as_tensor()).map(|g| g * m).transpose())
            .collect::<std::result::Result<_, _>>()?;
        let mut finite = true;
        for g in gs.iter().flatten() {
            finite &= g.sqr()?.sum_all()?.to_vec0::<f32>()?.is_finite();
        }
        if !finite {
            skipped += 1;
            continue;
        }
        losses.push(lv);
        adam_t += 1;
        let t = adam_t;
        for (k, v) in vars.iter().enumerate() {
            let Some(g) = &gs[k] else {
                continue;
            };
            m1[k] = ((&m1[k] * b1)? + (g * (1.0 - b1))?)?;
            m2[k] = ((&m2[k] * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let mh = (&m1[k] / (1.0 - b1.powi(t)))?;
            let vh = (&m2[k] / (1.0 - b2.powi(t)))?;
            let upd = ((mh / (vh.sqrt()? + eps)?)? * &rates[k])?;
            v.set(&(v.as_tensor() - upd)?)?;
        }
    }
    if losses.is_empty() {
        return Err(Error::new(format!(
            "tuning: all {skipped} steps gave a non-finite loss or gradient"
        )));
    }
    let tenth = (losses.len() / 10).max(1);
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let loss = (
        mean(&losses[..tenth]),
        mean(&losses[losses.len() - tenth..]),
    );
    let tuned = chosen
        .iter()
        .zip(&vars)
        .map(|(c, v)| {
            let w = v.as_tensor().to_dtype(DType::F64)?.to_vec1::<f64>()?;
            let b = c.poly.bound();
            let coeffs: Vec<f64> = w.iter().map(|&x| x * b).collect();
            Ok(Candidate {
                poly: ChebyshevPoly::new(b, coeffs)?,
                ..c.clone()
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let check_n = CHECK_IMAGES.min(images);
    let polys = |c: &[Candidate]| c.iter().map(|c| c.poly.clone()).collect::<Vec<_>>();
    let before = distillation_loss(model, calib, norm, check_n, &polys(chosen))?;
    let after = distillation_loss(model, calib, norm, check_n, &polys(&tuned))?;
    let keep = after.is_finite() && after < before;
    Ok(Tuned {
        chosen: if keep { tuned } else { chosen.to_vec() },
        loss,
        check: (before, after),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use crate::fit::{FitOptions, fit_layer};
    use crate::model::values_f64;

    /// Tuning lowers the distillation loss of the plan on the images it
    /// saw, keeps every degree, bound and family, and keeps a parity
    /// polynomial's structure (odd coefficients above `T_1` zero).
    #[test]
    fn tuning_lowers_the_distillation_loss_and_keeps_the_plan_shape() {
        let model = demo::init_resnet(1, 6, 21).unwrap();
        let data = demo::synthetic(48, 5);
        let norm = demo::DEMO_NORM;
        let (x, _) = data.batch(0, 48, &norm).unwrap();
        let mut chosen = Vec::new();
        model
            .forward(&x, &mut |i, t| {
                let v = values_f64(t)?;
                let m = v.iter().fold(0.0f64, |a, b| a.max(b.abs()));
                let fam = if i % 2 == 0 {
                    Family::Wls
                } else {
                    Family::Parity
                };
                let f = fit_layer(i, &v, m, &[2], &[fam], &FitOptions::default())?;
                chosen.push(f.candidates[0].clone());
                Ok(t.relu()?)
            })
            .unwrap();
        let polys = |c: &[Candidate]| c.iter().map(|c| c.poly.clone()).collect::<Vec<_>>();
        let before = distillation_loss(&model, &data, &norm, 48, &polys(&chosen)).unwrap();
        let o = TuneOptions {
            steps: 30,
            batch: 16,
            images: 48,
            lr: 3e-3,
        };
        let t = tune(&model, &data, &norm, &chosen, &o, &ProgressBar::hidden()).unwrap();
        let after = distillation_loss(&model, &data, &norm, 48, &polys(&t.chosen)).unwrap();
        assert!(after < 0.8 * before, "loss {before} -> {after}");
        for (a, b) in chosen.iter().zip(&t.chosen) {
            assert_eq!((a.family, a.degree), (b.family, b.degree));
            assert_eq!(a.poly.bound(), b.poly.bound());
            assert_eq!(a.poly.coeffs().len(), b.poly.coeffs().len());
            if b.family == Family::Parity {
                for (j, &v) in b.poly.coeffs().iter().enumerate() {
                    if j % 2 == 1 && j > 1 {
                        assert_eq!(v, 0.0);
                    }
                }
            }
        }
        // Zero steps change nothing; a wrong-sized plan is an error.
        let same = tune(
            &model,
            &data,
            &norm,
            &chosen,
            &TuneOptions { steps: 0, ..o },
            &ProgressBar::hidden(),
        )
        .unwrap();
        assert_eq!(polys(&same.chosen), polys(&chosen));
        assert!(
            tune(
                &model,
                &data,
                &norm,
                &chosen[1..],
                &o,
                &ProgressBar::hidden()
            )
            .is_err()
        );
    }
}

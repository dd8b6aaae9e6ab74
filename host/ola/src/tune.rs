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
use ola_approx::{ChebyshevPoly, add_scaled_basis, clenshaw};

use crate::cifar::{Dataset, Normalization};
use crate::error::{Error, Result};
use crate::fit::{Candidate, Family};
use crate::model::ResNet;
use crate::plan::Plan;

/// How the tuning runs.
#[derive(Clone, Copy, Debug)]
pub struct TuneOptions {
    /// Adam steps (0: no tuning).
    pub steps: usize,
    /// Images per step.
    pub batch: usize,
    /// Calibration images the batches cycle through (the first ones).
    pub images: usize,
    /// Adam's peak learning rate on `c_k / B_i` (step size `lr/(k + 1)`
    /// on `T_k`'s coefficient).
    pub lr: f64,
    /// Steps between two measurements of the held-back loss.
    pub check_every: usize,
    /// Adaptive gradient clipping (0: off): a step's gradient norm is
    /// capped at `clip ×` the mean norm of the steps before it.
    pub clip: f64,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions {
            steps: 0,
            batch: 64,
            images: 4000,
            lr: 2e-3,
            check_every: 25,
            clip: 0.0,
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
    /// [`check_loss`] on the held-back check images before tuning
    /// and of the returned coefficients (the best measured); when tuning
    /// never lowered it, `chosen` is the input unchanged.
    pub check: (f64, f64),
    /// Steps whose gradient was scaled down by the clipping.
    pub clipped: usize,
    /// Every held-back measurement: (steps done, [`check_loss`]).
    pub history: Vec<(usize, f64)>,
}

/// Images held back for the check (the last ones of the tuning set).
pub const CHECK_IMAGES: usize = 256;

/// `Σ_k c_k T_k(x / B)` on a tensor, differentiable in `x` and in `c`
/// (`[d + 1]`): one custom op (Clenshaw forward; `∂/∂x` through the
/// derivative series, `∂/∂c_k = Σ_j g_j T_k(u_j)`) instead of `3d` tensor
/// ops whose intermediates backward would keep — a degree-60 layer of 64
/// images would hold ~0.7 GB of them.
fn cheb_eval(x: &Tensor, c: &Tensor, bound: f64) -> Result<Tensor> {
    Ok(x.contiguous()?
        .apply_op2(&c.contiguous()?, ChebOp { bound })?)
}

/// The op behind [`cheb_eval`].
struct ChebOp {
    bound: f64,
}

/// Contiguous f32 data of a CPU storage.
fn f32_data<'a>(
    s: &'a candle_core::CpuStorage,
    l: &candle_core::Layout,
) -> candle_core::Result<&'a [f32]> {
    let (a, b) = l
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg("chebyshev op: non-contiguous input".into()))?;
    Ok(&s.as_slice::<f32>()?[a..b])
}

/// Chebyshev coefficients of `d/du Σ_k c_k T_k(u)`.
fn derivative(c: &[f64]) -> Vec<f64> {
    let n = c.len();
    if n < 2 {
        return vec![0.0];
    }
    let mut d = vec![0.0; n + 1];
    for k in (1..n).rev() {
        d[k - 1] = d[k + 1] + 2.0 * k as f64 * c[k];
    }
    d[0] /= 2.0;
    d.truncate(n - 1);
    d
}

/// Runs `f` over `n` elements in up to four chunks on scoped threads.
fn par_chunks<T: Send>(n: usize, f: impl Fn(std::ops::Range<usize>) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(4);
    let chunk = n.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|a| {
                let f = &f;
                s.spawn(move || f(a..(a + chunk).min(n)))
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("chebyshev worker"))
            .collect()
    })
}

impl candle_core::CustomOp2 for ChebOp {
    fn name(&self) -> &'static str {
        "chebyshev-series"
    }

    fn cpu_fwd(
        &self,
        s1: &candle_core::CpuStorage,
        l1: &candle_core::Layout,
        s2: &candle_core::CpuStorage,
        l2: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let x = f32_data(s1, l1)?;
        let c: Vec<f64> = f32_data(s2, l2)?.iter().map(|&v| v as f64).collect();
        let inv = 1.0 / self.bound;
        let parts = par_chunks(x.len(), |r| {
            x[r].iter()
                .map(|&v| clenshaw(&c, v as f64 * inv) as f32)
                .collect::<Vec<f32>>()
        });
        Ok((
            candle_core::CpuStorage::F32(parts.concat()),
            l1.shape().clone(),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        c: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let xv = x.flatten_all()?.to_vec1::<f32>()?;
        let gv = grad.flatten_all()?.to_vec1::<f32>()?;
        let cv: Vec<f64> = c.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let dc = derivative(&cv);
        let inv = 1.0 / self.bound;
        let n = cv.len();
        let parts = par_chunks(xv.len(), |r| {
            let mut gx = Vec::with_capacity(r.len());
            let mut gc = vec![0.0f64; n];
            for j in r {
                let (u, g) = (xv[j] as f64 * inv, gv[j] as f64);
                gx.push((g * clenshaw(&dc, u) * inv) as f32);
                add_scaled_basis(g, u, &mut gc);
            }
            (gx, gc)
        });
        let mut gc = vec![0.0f64; n];
        let mut gx = Vec::with_capacity(xv.len());
        for (px, pc) in parts {
            gx.extend(px);
            for (a, b) in gc.iter_mut().zip(pc) {
                *a += b;
            }
        }
        let gc: Vec<f32> = gc.into_iter().map(|v| v as f32).collect();
        Ok((
            Some(Tensor::from_vec(gx, x.dims(), x.device())?),
            Some(Tensor::from_vec(gc, n, c.device())?),
        ))
    }
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

/// Per-image KL above which an image counts as lost in [`check_loss`].
pub const KL_CAP: f64 = 1.0;

/// The held-back criterion: the mean over `data`'s images of
/// `min(KL_k, KL_CAP)`. A few images whose inputs drive a polynomial far
/// beyond its bound have KLs in the tens and would otherwise decide alone
/// (on ResNet-32 the plain mean never improved while the training loss
/// fell sevenfold); capped, an image weighs no more than a flipped
/// prediction.
pub fn check_loss(
    model: &ResNet,
    data: &Dataset,
    norm: &Normalization,
    polys: &[ChebyshevPoly],
) -> Result<f64> {
    let (x, _) = data.batch(0, data.len(), norm)?;
    let target = log_softmax(&model.logits(&x)?)?;
    let logits = model.forward(&x, &mut |i, t| {
        crate::accuracy::map_values(t, &|v| polys[i].eval(v))
    })?;
    capped_kl(&target, &logits)
}

/// Mean over images of `min(KL(p_exact ‖ softmax(logits)), KL_CAP)`, with
/// `target` the exact log-probabilities.
pub fn capped_kl(target: &Tensor, logits: &Tensor) -> Result<f64> {
    let lp = log_softmax(logits)?;
    let kl = (target.exp()? * (target - &lp)?)?
        .sum(1)?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?;
    let capped: f64 = kl
        .iter()
        .map(|&k| if k.is_finite() { k.min(KL_CAP) } else { KL_CAP })
        .sum();
    Ok(capped / kl.len().max(1) as f64)
}

/// Row-wise log-softmax of a batch of logits.
pub(crate) fn log_softmax(z: &Tensor) -> Result<Tensor> {
    Ok(z.broadcast_sub(&z.log_sum_exp(1)?.unsqueeze(1)?)?)
}

/// Tunes `chosen` (one candidate per ReLU) as described in the module doc.
///
/// The first `o.images − CHECK_IMAGES` images train (all of them when
/// there are fewer than `2 · CHECK_IMAGES`); the last `CHECK_IMAGES` are
/// held back. The learning rate warms up over the first 5 % of the steps
/// and then follows a cosine to zero; every `check_every` steps and at the
/// end the held-back loss is measured and the best coefficients so far
/// (starting with the untuned ones) are what is returned.
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
            clipped: 0,
            history: Vec::new(),
        });
    }
    if !(o.lr.is_finite() && o.lr > 0.0) || o.batch == 0 {
        return Err(Error::new(
            "tuning: the learning rate must be > 0 and the batch at least 1",
        ));
    }
    if !(o.clip.is_finite() && (o.clip == 0.0 || o.clip >= 1.0)) {
        return Err(Error::new(format!(
            "tuning: the clipping factor must be 0 (off) or at least 1, not {}",
            o.clip
        )));
    }
    let (train_n, check) = if images >= 2 * CHECK_IMAGES {
        (
            images - CHECK_IMAGES,
            calib.slice(images - CHECK_IMAGES, CHECK_IMAGES),
        )
    } else {
        (images, calib.slice(0, images))
    };
    let batch = o.batch.min(train_n);
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
                    if fixed { 0.0 } else { 1.0 / (k + 1) as f32 }
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
    let mut clipper = Clipper::new(o.clip);
    progress.set_length(o.steps as u64);
    let snapshot = || -> Result<Vec<Candidate>> {
        chosen
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
            .collect()
    };
    let polys = |c: &[Candidate]| c.iter().map(|c| c.poly.clone()).collect::<Vec<_>>();
    let check_loss = |c: &[Candidate]| check_loss(model, &check, norm, &polys(c));
    let before = check_loss(chosen)?;
    let mut best = (before, chosen.to_vec());
    let mut history = vec![(0, before)];
    // The exact network's log-probabilities per batch, computed once.
    let batches = train_n.div_ceil(batch);
    let mut targets: Vec<Option<Tensor>> = vec![None; batches];
    let warmup = (o.steps / 20).max(1);
    let check_every = o.check_every.max(1);
    for step in 0..o.steps {
        let bi = step % batches;
        let start = bi * batch;
        let (x, _) = calib.batch(start, batch.min(train_n - start), norm)?;
        let n_img = x.dims()[0];
        let target = match &targets[bi] {
            Some(t) => t.clone(),
            None => {
                let t = log_softmax(&model.logits(&x)?)?.detach();
                targets[bi] = Some(t.clone());
                t
            }
        };
        let logits = model.forward(&x, &mut |i, t| {
            let c = vars[i].as_tensor() * bounds[i];
            cheb_eval(t, &c?, bounds[i])
        })?;
        let lp = log_softmax(&logits)?;
        // KL(p_exact ‖ p) summed over classes, mean over images.
        let kl = ((target.exp()? * (&target - &lp)?)?.sum_all()? / n_img as f64)?;
        let lv = kl.to_vec0::<f32>()? as f64;
        progress.inc(1);
        // A batch whose inputs drive a polynomial far beyond its bound
        // gives no usable gradient: skip it rather than poison Adam.
        if lv.is_finite() {
            let grads = kl.backward()?;
            let gs: Vec<Option<Tensor>> = vars
                .iter()
                .zip(&masks)
                .map(|(v, m)| grads.get(v.as_tensor()).map(|g| g * m).transpose())
                .collect::<std::result::Result<_, _>>()?;
            let mut sq = 0.0f64;
            for g in gs.iter().flatten() {
                sq += g.sqr()?.sum_all()?.to_vec0::<f32>()? as f64;
            }
            if sq.is_finite() {
                let scale = clipper.scale(sq.sqrt());
                let gs: Vec<Option<Tensor>> = if scale < 1.0 {
                    gs.iter()
                        .map(|g| g.as_ref().map(|g| g * scale).transpose())
                        .collect::<std::result::Result<_, _>>()?
                } else {
                    gs
                };
                losses.push(lv);
                adam_t += 1;
                let t = adam_t;
                let lr = o.lr
                    * if step < warmup {
                        (step + 1) as f64 / warmup as f64
                    } else {
                        let p = (step - warmup) as f64 / (o.steps - warmup).max(1) as f64;
                        0.5 * (1.0 + (std::f64::consts::PI * p).cos())
                    };
                for (k, v) in vars.iter().enumerate() {
                    let Some(g) = &gs[k] else {
                        continue;
                    };
                    m1[k] = ((&m1[k] * b1)? + (g * (1.0 - b1))?)?;
                    m2[k] = ((&m2[k] * b2)? + (g.sqr()? * (1.0 - b2))?)?;
                    let mh = (&m1[k] / (1.0 - b1.powi(t)))?;
                    let vh = (&m2[k] / (1.0 - b2.powi(t)))?;
                    let upd = (((mh / (vh.sqrt()? + eps)?)? * &rates[k])? * lr)?;
                    v.set(&(v.as_tensor() - upd)?)?;
                }
            } else {
                skipped += 1;
            }
        } else {
            skipped += 1;
        }
        if (step + 1) % check_every == 0 || step + 1 == o.steps {
            let snap = snapshot()?;
            let l = check_loss(&snap)?;
            history.push((step + 1, l));
            if l.is_finite() && l < best.0 {
                best = (l, snap);
            }
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
    Ok(Tuned {
        chosen: best.1,
        loss,
        check: (before, best.0),
        clipped: clipper.clipped,
        history,
    })
}

/// Adaptive gradient-norm clipping: a norm above `factor ×` the mean of
/// the norms seen before is scaled down to that limit (the limit, not the
/// raw norm, enters the mean). A batch whose images leave their bounds can
/// have a gradient orders of magnitude above the others; unclipped, one
/// such step moves every coefficient by Adam's full step in its direction
/// and inflates the second moment for hundreds of steps.
struct Clipper {
    factor: f64,
    sum: f64,
    n: usize,
    clipped: usize,
}

impl Clipper {
    /// Steps measured before clipping starts (the first norms set the scale).
    const WARM: usize = 5;

    fn new(factor: f64) -> Self {
        Clipper {
            factor,
            sum: 0.0,
            n: 0,
            clipped: 0,
        }
    }

    /// The factor (≤ 1) to multiply a gradient of norm `norm` by.
    fn scale(&mut self, norm: f64) -> f64 {
        if self.factor == 0.0 {
            return 1.0;
        }
        let limit = if self.n >= Self::WARM {
            self.factor * self.sum / self.n as f64
        } else {
            f64::INFINITY
        };
        let (kept, scale) = if norm > limit {
            self.clipped += 1;
            (limit, limit / norm)
        } else {
            (norm, 1.0)
        };
        self.sum += kept;
        self.n += 1;
        scale
    }
}

/// The candidates a plan file describes (family from its `family` field,
/// WLS when absent; `mse` unknown, NaN), checked against `model`.
pub fn plan_candidates(model: &ResNet, plan: &Plan) -> Result<Vec<Candidate>> {
    if plan.layers.len() != model.relu_count() {
        return Err(Error::new(format!(
            "the plan has {} layers but the model has {} ReLUs",
            plan.layers.len(),
            model.relu_count()
        )));
    }
    plan.layers
        .iter()
        .map(|l| {
            let family = match &l.family {
                None => Family::Wls,
                Some(n) => Family::from_name(n).ok_or_else(|| {
                    Error::new(format!("plan layer {}: unknown family {n:?}", l.index))
                })?,
            };
            Ok(Candidate {
                family,
                degree: l.degree,
                mse: f64::NAN,
                poly: ChebyshevPoly::new(l.bound, l.coeffs.clone())?,
            })
        })
        .collect()
}

/// Tunes an existing plan's coefficients ([`tune`]): the same plan with
/// the returned coefficients (degrees, bounds, families and cycles kept).
pub fn tune_plan(
    model: &ResNet,
    calib: &Dataset,
    norm: &Normalization,
    plan: &Plan,
    o: &TuneOptions,
    progress: &ProgressBar,
) -> Result<(Plan, Tuned)> {
    plan.validate()?;
    let cands = plan_candidates(model, plan)?;
    let t = tune(model, calib, norm, &cands, o, progress)?;
    let mut out = plan.clone();
    for (l, c) in out.layers.iter_mut().zip(&t.chosen) {
        l.coeffs = c.poly.coeffs().to_vec();
    }
    Ok((out, t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use crate::fit::{FitOptions, fit_layer};
    use crate::model::values_f64;

    /// The Chebyshev op's value equals `ChebyshevPoly::eval`, and its
    /// gradients in `x` and in `c` equal those of the same series built
    /// from elementary tensor ops (three-term recurrence).
    #[test]
    fn chebyshev_op_matches_the_series_and_its_gradients() {
        let dev = candle_core::Device::Cpu;
        let bound = 2.5;
        let coeffs = [0.3f32, -0.7, 0.45, 0.1, -0.05, 0.02, 0.013];
        let xs: Vec<f32> = (0..303).map(|i| -3.0 + 0.02 * i as f32).collect();
        let x = Var::from_tensor(&Tensor::from_vec(xs.clone(), (3, 101), &dev).unwrap()).unwrap();
        let c = Var::from_tensor(&Tensor::from_vec(coeffs.to_vec(), 7, &dev).unwrap()).unwrap();
        let w: Vec<f32> = (0..303).map(|i| ((i * 37) % 11) as f32 - 5.0).collect();
        let w = Tensor::from_vec(w, (3, 101), &dev).unwrap();
        let y = cheb_eval(x.as_tensor(), c.as_tensor(), bound).unwrap();
        let p = ChebyshevPoly::new(bound, coeffs.iter().map(|&v| v as f64).collect()).unwrap();
        for (v, &xi) in y
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .zip(&xs)
        {
            assert!((*v as f64 - p.eval(xi as f64)).abs() < 1e-5);
        }
        // Reference: T_k by the recurrence on tensors, autodiff by candle.
        let u = (x.as_tensor() / bound).unwrap();
        let mut acc = c
            .as_tensor()
            .narrow(0, 0, 1)
            .unwrap()
            .broadcast_as(u.dims())
            .unwrap();
        let (mut t0, mut t1) = (Tensor::ones_like(&u).unwrap(), u.clone());
        for k in 1..coeffs.len() {
            if k > 1 {
                let t2 = ((&u * &t1).unwrap() * 2.0 - &t0).unwrap();
                t0 = t1;
                t1 = t2;
            }
            let ck = c.as_tensor().narrow(0, k, 1).unwrap();
            acc = (acc + t1.broadcast_mul(&ck).unwrap()).unwrap();
        }
        let loss = |t: &Tensor| (t * &w).unwrap().sum_all().unwrap();
        let g_op = loss(&y).backward().unwrap();
        let g_ref = loss(&acc).backward().unwrap();
        let grad = |g: &candle_core::backprop::GradStore, v: &Var| {
            let t = g.get(v.as_tensor()).unwrap();
            t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        };
        for v in [&x, &c] {
            let (a, b) = (grad(&g_op, v), grad(&g_ref, v));
            let scale = b.iter().fold(1f32, |m, v| m.max(v.abs()));
            for (p, q) in a.iter().zip(&b) {
                assert!((p - q).abs() <= 1e-4 * scale, "{p} vs {q}");
            }
        }
    }

    /// A small network, its data and a degree-2 plan (WLS and parity
    /// layers alternating) fitted to the exact inputs.
    fn small_plan() -> (ResNet, Dataset, Normalization, Vec<Candidate>) {
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
        (model, data, norm, chosen)
    }

    /// Tuning lowers the distillation loss of the plan on the images it
    /// saw, keeps every degree, bound and family, and keeps a parity
    /// polynomial's structure (odd coefficients above `T_1` zero).
    #[test]
    fn tuning_lowers_the_distillation_loss_and_keeps_the_plan_shape() {
        let (model, data, norm, chosen) = small_plan();
        let polys = |c: &[Candidate]| c.iter().map(|c| c.poly.clone()).collect::<Vec<_>>();
        let before = distillation_loss(&model, &data, &norm, 48, &polys(&chosen)).unwrap();
        let o = TuneOptions {
            steps: 30,
            batch: 16,
            images: 48,
            lr: 3e-3,
            check_every: 5,
            clip: 0.0,
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

    /// The clipping caps a norm far above the running mean at
    /// `factor ×` that mean, leaves ordinary steps alone, and is a no-op
    /// when off.
    #[test]
    fn clipping_caps_outlier_gradients() {
        let mut off = Clipper::new(0.0);
        assert!([1.0, 1e6, 1e9].iter().all(|&n| off.scale(n) == 1.0));
        assert_eq!(off.clipped, 0);
        let mut c = Clipper::new(2.0);
        // The first WARM norms set the scale, however large.
        for n in [1.0, 1.5, 0.5, 1.0, 1.0] {
            assert_eq!(c.scale(n), 1.0);
        }
        assert_eq!(c.scale(1.9), 1.0);
        // Mean of the six norms so far: 6.9 / 6 = 1.15; limit 2.3.
        let s = c.scale(230.0);
        assert!((s - 0.01).abs() < 1e-12, "{s}");
        assert_eq!(c.clipped, 1);
        // The limit, not 230, entered the mean: (6.9 + 2.3) / 7 × 2.
        let s = c.scale(100.0);
        assert!((s * 100.0 - 2.0 * 9.2 / 7.0).abs() < 1e-9, "{s}");
        assert_eq!(c.clipped, 2);
    }

    /// `tune_plan` tunes a plan file's coefficients with clipping on: the
    /// loss falls, degrees, bounds, families and cycles are kept; a plan
    /// for another network or of an unknown family is refused.
    #[test]
    fn tuning_a_plan_file_keeps_its_shape() {
        let (model, data, norm, chosen) = small_plan();
        let plan = Plan {
            model: "small".into(),
            activation: "relu".into(),
            total_cycles: 10,
            budget_cycles: 12,
            layers: chosen
                .iter()
                .enumerate()
                .map(|(i, c)| c.plan_layer(i, Some(1)))
                .collect(),
            cost_source: None,
        };
        let o = TuneOptions {
            steps: 30,
            batch: 16,
            images: 48,
            lr: 3e-3,
            check_every: 5,
            clip: 3.0,
        };
        let (tuned, t) =
            tune_plan(&model, &data, &norm, &plan, &o, &ProgressBar::hidden()).unwrap();
        let before = distillation_loss(&model, &data, &norm, 48, &plan.polys().unwrap()).unwrap();
        let after = distillation_loss(&model, &data, &norm, 48, &tuned.polys().unwrap()).unwrap();
        assert!(after < 0.8 * before, "loss {before} -> {after}");
        assert!(t.check.1 <= t.check.0);
        // 30 steps checked every 5: the start and six measurements, the
        // best of which is what was returned.
        assert_eq!(t.history.len(), 7);
        assert_eq!(t.history[0], (0, t.check.0));
        let best = t.history.iter().map(|h| h.1).fold(f64::INFINITY, f64::min);
        assert_eq!(best, t.check.1);
        assert_eq!(
            (tuned.total_cycles, tuned.budget_cycles),
            (plan.total_cycles, plan.budget_cycles)
        );
        for (a, b) in plan.layers.iter().zip(&tuned.layers) {
            assert_eq!(
                (a.degree, a.bound, &a.family),
                (b.degree, b.bound, &b.family)
            );
        }
        assert_ne!(plan.layers, tuned.layers);
        let mut short = plan.clone();
        short.layers.pop();
        let e = tune_plan(&model, &data, &norm, &short, &o, &ProgressBar::hidden()).unwrap_err();
        assert!(e.0.contains("ReLUs"), "{}", e.0);
        let mut odd = plan.clone();
        odd.layers[0].family = Some("spline".into());
        let e = tune_plan(&model, &data, &norm, &odd, &o, &ProgressBar::hidden()).unwrap_err();
        assert!(e.0.contains("unknown family"), "{}", e.0);
        let bad = TuneOptions { clip: 0.5, ..o };
        assert!(tune_plan(&model, &data, &norm, &plan, &bad, &ProgressBar::hidden()).is_err());
    }
}

//! OLA steps 1 and 4: the inputs that reach every ReLU on the calibration
//! set (streamed: running extrema and a fixed-stride subsample, never the
//! full tensors) and the layer sensitivities
//! `A_i = (1/N) Σ_k Σ_j (∂L_k / ∂a_ij)^2` from a summed cross-entropy.

use candle_core::{DType, Tensor, Var};
use indicatif::ProgressBar;

use ola_approx::ChebyshevPoly;

use crate::accuracy::map_values;
use crate::cifar::{Dataset, Normalization};
use crate::error::{Error, Result};
use crate::model::ResNet;

/// What the analysis looks at.
#[derive(Clone, Copy, Debug)]
pub struct AnalysisOptions {
    /// Calibration images used for the input distributions (at most the set).
    pub images: usize,
    /// Of those, the first `grad_images` also give the sensitivities.
    pub grad_images: usize,
    /// Images per forward pass.
    pub batch: usize,
    /// Subsample size kept per layer (fixed stride over the stream).
    pub max_samples: usize,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            images: 4000,
            grad_images: 500,
            batch: 100,
            max_samples: 200_000,
        }
    }
}

/// What the calibration set says about one ReLU.
#[derive(Clone, Debug)]
pub struct LayerStats {
    /// Every `stride`-th input value (in stream order).
    pub samples: Vec<f64>,
    /// Largest `|x|` over all inputs.
    pub max_abs: f64,
    /// Smallest and largest input.
    pub min: f64,
    /// Largest input.
    pub max: f64,
    /// Number of inputs seen.
    pub count: u64,
    /// Sensitivity `A_i`.
    pub sensitivity: f64,
    /// Gradient histogram of the gradient images, `grad_images ×
    /// grad_bins.len()` row-major: entry `(k, b)` is `Σ_j ∂L_k/∂a_j` over
    /// the elements `j` of image `k` whose input falls in bin
    /// `grad_bins[b]` (see [`correlated_error`]).
    pub grad_hist: Vec<f32>,
    /// The bins (of [`HIST_BINS`]) some gradient image has inputs in.
    pub grad_bins: Vec<usize>,
}

/// Bins of [`LayerStats::grad_hist`] on `[-HIST_RANGE, HIST_RANGE]`
/// (inputs beyond go to the end bins).
pub const HIST_BINS: usize = 4096;
/// Half-width of the gradient histogram's range.
pub const HIST_RANGE: f64 = 64.0;

/// Centre of gradient-histogram bin `b`.
pub fn hist_centre(b: usize) -> f64 {
    -HIST_RANGE + (b as f64 + 0.5) * (2.0 * HIST_RANGE / HIST_BINS as f64)
}

fn hist_bin(x: f64) -> usize {
    let b = ((x + HIST_RANGE) * (HIST_BINS as f64 / (2.0 * HIST_RANGE))).floor();
    b.clamp(0.0, (HIST_BINS - 1) as f64) as usize
}

/// The first-order loss change of replacing this layer's ReLU by `p`,
/// per image, squared and averaged over the gradient images:
/// `V = (1/K) Σ_k (Σ_j ∂L_k/∂a_kj · (p(x_kj) − ReLU(x_kj)))^2`, from the
/// gradient histogram. Unlike `A_i · E_i = (1/K) Σ_k Σ_j (∂L_k/∂a_kj)^2 ·
/// E[e^2]`, which treats the errors of a layer's elements as independent
/// noise, it keeps their correlation: a polynomial's error is a function
/// of the input, so it is systematic (an offset near 0, for instance),
/// and before an average pool it does not average out. `None` when no
/// gradient images were analysed.
pub fn correlated_error(stats: &LayerStats, p: impl Fn(f64) -> f64) -> Option<f64> {
    let used = &stats.grad_bins;
    if used.is_empty() {
        return None;
    }
    let k = stats.grad_hist.len() / used.len();
    let err: Vec<f64> = used
        .iter()
        .map(|&b| {
            let x = hist_centre(b);
            p(x) - x.max(0.0)
        })
        .collect();
    let total: f64 = stats
        .grad_hist
        .chunks(used.len())
        .map(|row| {
            let d: f64 = row.iter().zip(&err).map(|(&g, e)| g as f64 * e).sum();
            d * d
        })
        .sum();
    Some(total / k as f64)
}

/// Streams the calibration set through the network (see the module doc).
pub fn analyse(
    model: &ResNet,
    data: &Dataset,
    norm: &Normalization,
    opts: &AnalysisOptions,
    progress: &ProgressBar,
) -> Result<Vec<LayerStats>> {
    analyse_with(model, data, norm, opts, None, progress)
}

/// [`analyse`] with every ReLU replaced by `polys` (when given) while
/// recording, so each layer's inputs are those it sees under the
/// approximated upstream layers (no sensitivities then).
pub fn analyse_with(
    model: &ResNet,
    data: &Dataset,
    norm: &Normalization,
    opts: &AnalysisOptions,
    polys: Option<&[ChebyshevPoly]>,
    progress: &ProgressBar,
) -> Result<Vec<LayerStats>> {
    let opts = &AnalysisOptions {
        grad_images: if polys.is_some() { 0 } else { opts.grad_images },
        ..*opts
    };
    let images = opts.images.min(data.len());
    let grad_images = opts.grad_images.min(images);
    if images == 0 {
        return Err(Error::new("calibration set is empty"));
    }
    let shapes = model.act_shapes();
    let n = shapes.len();
    let strides: Vec<usize> = shapes
        .iter()
        .map(|s| {
            (s.elements() * images)
                .div_ceil(opts.max_samples.max(1))
                .max(1)
        })
        .collect();
    let mut stats: Vec<LayerStats> = (0..n)
        .map(|_| LayerStats {
            samples: Vec::new(),
            max_abs: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            count: 0,
            sensitivity: 0.0,
            grad_hist: vec![0.0; grad_images * HIST_BINS],
            grad_bins: Vec::new(),
        })
        .collect();
    let mut grad_sq = vec![0f64; n];
    progress.set_length(images as u64);
    let batch = opts.batch.max(1);
    let mut start = 0;
    while start < images {
        let len = batch.min(images - start);
        // A batch either lies wholly inside the gradient images or not.
        let len = if start < grad_images {
            len.min(grad_images - start)
        } else {
            len
        };
        let (x, y) = data.batch(start, len, norm)?;
        let with_grad = start < grad_images;
        let mut zs: Vec<Var> = Vec::new();
        let mut inputs: Vec<Vec<f32>> = Vec::new();
        let mut record = |i: usize, t: &Tensor| -> Result<Tensor> {
            let v = t.flatten_all()?.to_vec1::<f32>()?;
            let s = &mut stats[i];
            let stride = strides[i];
            let offset = (stride - (s.count % stride as u64) as usize) % stride;
            for (k, &f) in v.iter().enumerate() {
                let f = f as f64;
                s.min = s.min.min(f);
                s.max = s.max.max(f);
                if k >= offset && (k - offset).is_multiple_of(stride) {
                    s.samples.push(f);
                }
            }
            s.count += v.len() as u64;
            let r = match polys {
                Some(p) => map_values(t, &|x| p[i].eval(x))?,
                None => t.relu()?,
            };
            if with_grad {
                inputs.push(v);
                let z = Var::zeros(t.dims(), DType::F32, t.device())?;
                let out = (r + z.as_tensor())?;
                zs.push(z);
                Ok(out)
            } else {
                Ok(r)
            }
        };
        let logits = model.forward(&x, &mut record)?;
        if with_grad {
            let loss = summed_cross_entropy(&logits, &y)?;
            let grads = loss.backward()?;
            for (i, z) in zs.iter().enumerate() {
                let g = grads
                    .get(z.as_tensor())
                    .ok_or_else(|| Error::new(format!("no gradient reached ReLU {i}")))?;
                let gv = g.flatten_all()?.to_vec1::<f32>()?;
                grad_sq[i] += gv.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>();
                let per = shapes[i].elements();
                let hist = &mut stats[i].grad_hist;
                for (e, (&x, &g)) in inputs[i].iter().zip(&gv).enumerate() {
                    hist[(start + e / per) * HIST_BINS + hist_bin(x as f64)] += g;
                }
            }
        }
        start += len;
        progress.set_position(start as u64);
    }
    for (s, g) in stats.iter_mut().zip(&grad_sq) {
        // Keep only the bins some image uses (most of the range is empty).
        s.grad_bins = (0..HIST_BINS)
            .filter(|&b| (0..grad_images).any(|k| s.grad_hist[k * HIST_BINS + b] != 0.0))
            .collect();
        s.grad_hist = (0..grad_images)
            .flat_map(|k| s.grad_bins.iter().map(move |&b| (k, b)))
            .map(|(k, b)| s.grad_hist[k * HIST_BINS + b])
            .collect();
        s.max_abs = s.min.abs().max(s.max.abs());
        s.sensitivity = if grad_images > 0 {
            g / grad_images as f64
        } else {
            1.0
        };
        if polys.is_some() {
            // Approximated upstream layers can blow up: keep what is finite.
            s.samples.retain(|x| x.is_finite());
        } else if !s.max_abs.is_finite() {
            return Err(Error::new("non-finite activation in the calibration pass"));
        }
    }
    Ok(stats)
}

/// `Σ_k (logsumexp(z_k) - z_k[y_k])`: summed, so every image's gradient
/// has its own scale (a mean would divide them all by the batch).
pub fn summed_cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let lse = logits.log_sum_exp(1)?;
    let picked = logits.gather(&labels.unsqueeze(1)?, 1)?.squeeze(1)?;
    Ok((lse - picked)?.sum_all()?)
}

/// Top-1 predictions of logits `(n, classes)`.
pub fn argmax(logits: &Tensor) -> Result<Vec<u32>> {
    Ok(logits.argmax(1)?.to_vec1::<u32>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;

    /// Per ReLU in forward order: its inputs and the gradient of the summed
    /// loss with respect to its outputs (through zero variables added after
    /// it), both flattened — the reference the analysis is checked against.
    fn relu_inputs_and_gradients(
        model: &ResNet,
        x: &Tensor,
        y: &Tensor,
    ) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
        let mut zs = Vec::new();
        let mut ins = Vec::new();
        let logits = model
            .forward(x, &mut |_, t| {
                ins.push(t.flatten_all()?.to_vec1::<f32>()?);
                let z = Var::zeros(t.dims(), DType::F32, t.device())?;
                let out = (t.relu()? + z.as_tensor())?;
                zs.push(z);
                Ok(out)
            })
            .unwrap();
        let grads = summed_cross_entropy(&logits, y)
            .unwrap()
            .backward()
            .unwrap();
        let grads = zs
            .iter()
            .map(|z| {
                let g = grads.get(z.as_tensor()).unwrap().flatten_all().unwrap();
                g.to_vec1::<f32>().unwrap()
            })
            .collect();
        (ins, grads)
    }

    /// `A_i` from the zero-variable gradients equals the finite-difference
    /// derivative of the summed loss with respect to single ReLU outputs.
    #[test]
    fn sensitivity_gradients_match_finite_differences() {
        let model = demo::init_resnet(1, 4, 11).unwrap();
        let data = demo::synthetic(3, 5);
        let norm = demo::DEMO_NORM;
        let (x, y) = data.batch(0, 3, &norm).unwrap();
        let (_, grads) = relu_inputs_and_gradients(&model, &x, &y);
        let loss_with = |layer: usize, elem: usize, eps: f32| -> f64 {
            let logits = model
                .forward(&x, &mut |i, t| {
                    let r = t.relu()?;
                    if i != layer {
                        return Ok(r);
                    }
                    let mut d = vec![0f32; t.elem_count()];
                    d[elem] = eps;
                    Ok((r + Tensor::from_vec(d, t.dims(), t.device())?)?)
                })
                .unwrap();
            summed_cross_entropy(&logits, &y)
                .unwrap()
                .to_vec0::<f32>()
                .unwrap() as f64
        };
        for layer in [0, 3, 6] {
            let g = &grads[layer];
            // The element with the largest gradient, and one more.
            let big = (0..g.len())
                .max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs()))
                .unwrap();
            for elem in [big, g.len() / 3] {
                let eps = 1e-2;
                let fd = (loss_with(layer, elem, eps) - loss_with(layer, elem, -eps))
                    / (2.0 * eps as f64);
                let tol = 2e-3 + 0.05 * fd.abs();
                assert!(
                    (fd - g[elem] as f64).abs() < tol,
                    "layer {layer} elem {elem}: fd {fd} vs grad {}",
                    g[elem]
                );
            }
            assert!(g[big].abs() > 0.0, "gradient reaches layer {layer}");
        }
    }

    #[test]
    fn analysis_streams_bounds_and_samples() {
        let model = demo::init_resnet(1, 4, 12).unwrap();
        let data = demo::synthetic(10, 6);
        let opts = AnalysisOptions {
            images: 10,
            grad_images: 4,
            batch: 3,
            max_samples: 1000,
        };
        let st = analyse(
            &model,
            &data,
            &demo::DEMO_NORM,
            &opts,
            &ProgressBar::hidden(),
        )
        .unwrap();
        assert_eq!(st.len(), 7);
        for (s, shape) in st.iter().zip(model.act_shapes()) {
            assert_eq!(s.count, (10 * shape.elements()) as u64);
            assert!(
                s.samples.len() <= 1000 + 10 && s.samples.len() >= 900,
                "{}",
                s.samples.len()
            );
            let m = s.samples.iter().fold(0f64, |a, x| a.max(x.abs()));
            assert!(
                m <= s.max_abs,
                "the subsample lies within the exact extrema"
            );
            assert!(s.sensitivity > 0.0);
        }
    }

    /// The histogram estimate of the correlated loss change equals the
    /// direct sum over elements, `(1/K) Σ_k (Σ_j g_kj e(x_kj))^2`, with the
    /// gradients taken independently; it is zero for the exact ReLU, and it
    /// sees a systematic error that the independent proxy underrates.
    #[test]
    fn correlated_error_matches_the_direct_sum() {
        let model = demo::init_resnet(1, 4, 13).unwrap();
        let data = demo::synthetic(6, 8);
        let norm = demo::DEMO_NORM;
        let opts = AnalysisOptions {
            images: 6,
            grad_images: 6,
            batch: 4,
            max_samples: 1000,
        };
        let st = analyse(&model, &data, &norm, &opts, &ProgressBar::hidden()).unwrap();
        // Direct: one batch, gradients through zero variables.
        let (x, y) = data.batch(0, 6, &norm).unwrap();
        let (ins, grads) = relu_inputs_and_gradients(&model, &x, &y);
        let e = |x: f64| 0.05 * x + 0.02;
        for (i, shape) in model.act_shapes().iter().enumerate() {
            let g = &grads[i];
            let per = shape.elements();
            let direct: f64 = (0..6)
                .map(|k| {
                    let d: f64 = (k * per..(k + 1) * per)
                        .map(|j| g[j] as f64 * e(ins[i][j] as f64))
                        .sum();
                    d * d
                })
                .sum::<f64>()
                / 6.0;
            let got = correlated_error(&st[i], |x| x.max(0.0) + e(x)).unwrap();
            assert!(
                (got - direct).abs() <= 0.05 * direct + 1e-12,
                "layer {i}: histogram {got} vs direct {direct}"
            );
            assert_eq!(correlated_error(&st[i], |x| x.max(0.0)), Some(0.0));
        }
        // No gradient images: no estimate.
        let none = analyse(
            &model,
            &data,
            &norm,
            &AnalysisOptions {
                grad_images: 0,
                ..opts
            },
            &ProgressBar::hidden(),
        )
        .unwrap();
        assert_eq!(correlated_error(&none[0], |x| x), None);
    }
}

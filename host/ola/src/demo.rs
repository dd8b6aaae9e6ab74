//! The built-in default: a synthetic 10-class image set and a small
//! CIFAR-style ResNet-8 trained on it deterministically, so `ola` with no
//! arguments shows the whole flow with nothing downloaded.
//!
//! Class `k` is a grating at angle `k·18°` with a random phase and
//! frequency, a class-dependent colour tint and pixel noise; the network
//! (width 8, one block per stage, BatchNorm-free, i.e. already "folded")
//! is trained by SGD with momentum from a fixed ChaCha seed.

use candle_core::{DType, Device, Tensor, Var};
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::analysis::{argmax, summed_cross_entropy};
use crate::cifar::{Dataset, Normalization, PIXELS};
use crate::error::Result;
use crate::model::{Block, Conv, ResNet, block_shapes, option_a_kernel};

/// Normalisation of the synthetic images.
pub const DEMO_NORM: Normalization = Normalization {
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
};

/// `n` synthetic images from `seed` (see the module doc).
pub fn synthetic(n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * PIXELS);
    for _ in 0..n {
        let k = rng.random_range(0..10u8);
        let angle = k as f64 * std::f64::consts::PI / 10.0 + rng.random_range(-0.06..0.06);
        let freq = rng.random_range(0.25..0.55);
        let phase = rng.random_range(0.0..std::f64::consts::TAU);
        let contrast = rng.random_range(0.15..0.35);
        let tint = [(k % 3) as f64, ((k + 1) % 3) as f64, ((k / 3) % 3) as f64];
        let (ca, sa) = (angle.cos(), angle.sin());
        labels.push(k);
        for t in tint {
            let base = 0.4 + 0.04 * t + rng.random_range(-0.08..0.08);
            for y in 0..32 {
                for x in 0..32 {
                    let u = ca * x as f64 + sa * y as f64;
                    let v =
                        base + contrast * (freq * u + phase).sin() + rng.random_range(-0.12..0.12);
                    pixels.push((v.clamp(0.0, 1.0) * 255.0).round() as u8);
                }
            }
        }
    }
    Dataset { labels, pixels }
}

fn init(rng: &mut ChaCha8Rng, shape: &[usize], std: f64) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    // Box–Muller from the seeded generator (candle's own RNG is not seeded).
    let v: Vec<f32> = (0..n)
        .map(|_| {
            let (a, b): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random_range(0.0..1.0));
            (std * (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()) as f32
        })
        .collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

/// An untrained ResNet-(6n+2) of stem width `w` with He initialisation
/// (the second convolution of each block scaled down so the residual
/// stream starts near the identity).
pub fn init_resnet(n: usize, w: usize, seed: u64) -> Result<ResNet> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut conv = |out: usize, inp: usize, stride: usize, gain: f64| -> Result<Conv> {
        let std = gain * (2.0 / (inp * 9) as f64).sqrt();
        Ok(Conv {
            w: init(&mut rng, &[out, inp, 3, 3], std)?,
            b: Tensor::zeros((1, out, 1, 1), DType::F32, &Device::Cpu)?,
            stride,
        })
    };
    let stem = conv(w, 3, 1, 1.0)?;
    // In forward order, so the generator's draws stay in the same order.
    let mut blocks = Vec::new();
    for b in block_shapes(w, n) {
        blocks.push(Block {
            conv1: conv(b.planes, b.inp, b.stride, 1.0)?,
            conv2: conv(b.planes, b.planes, 1, 0.2)?,
            shortcut: b
                .has_shortcut()
                .then(|| option_a_kernel(b.inp, b.planes))
                .transpose()?,
        });
    }
    let mut rng2 = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    Ok(ResNet {
        stem,
        blocks,
        fc_w: init(&mut rng2, &[10, 4 * w], (1.0 / (4 * w) as f64).sqrt())?,
        fc_b: Tensor::zeros(10, DType::F32, &Device::Cpu)?,
        blocks_per_stage: n,
        width: w,
        normalization: Some(DEMO_NORM),
    })
}

/// Trains a copy of `model` by SGD with momentum (summed loss / batch),
/// in a fixed order: deterministic. Returns the trained network and the
/// last batch's loss (the parameters become fresh variables, so `model`
/// itself is left as it was).
pub fn train(
    model: &ResNet,
    data: &Dataset,
    epochs: usize,
    batch: usize,
    lr: f64,
    pb: &ProgressBar,
) -> Result<(ResNet, f64)> {
    let params: Vec<Var> = model
        .params()
        .iter()
        .map(Var::from_tensor)
        .collect::<candle_core::Result<_>>()?;
    // The model's tensors must be the variables themselves.
    let model = rebind(model, &params)?;
    let mut vel: Vec<Tensor> = params
        .iter()
        .map(|p| p.as_tensor().zeros_like())
        .collect::<candle_core::Result<_>>()?;
    let steps = epochs * data.len().div_ceil(batch);
    pb.set_length(steps as u64);
    let mut last_loss = f64::NAN;
    let mut step = 0;
    for _ in 0..epochs {
        let mut start = 0;
        while start < data.len() {
            let len = batch.min(data.len() - start);
            let (x, y) = data.batch(start, len, &DEMO_NORM)?;
            let logits = model.logits(&x)?;
            let loss = (summed_cross_entropy(&logits, &y)? / len as f64)?;
            last_loss = loss.to_vec0::<f32>()? as f64;
            let grads = loss.backward()?;
            // Cosine learning-rate decay over the run.
            let lr_t = lr * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / steps as f64).cos());
            for (p, v) in params.iter().zip(vel.iter_mut()) {
                if let Some(g) = grads.get(p.as_tensor()) {
                    *v = ((&*v * 0.9)? + g)?;
                    p.set(&(p.as_tensor() - (&*v * lr_t)?)?)?;
                }
            }
            start += len;
            step += 1;
            pb.set_position(step as u64);
        }
    }
    Ok((model, last_loss))
}

/// The same network with its parameters replaced by `params` (in
/// [`ResNet::params`] order).
fn rebind(m: &ResNet, params: &[Var]) -> Result<ResNet> {
    let mut it = params.iter().map(|v| v.as_tensor().clone());
    let mut next = || it.next().expect("params() order");
    let stem = Conv {
        w: next(),
        b: next(),
        stride: 1,
    };
    let blocks = m
        .blocks
        .iter()
        .map(|b| Block {
            conv1: Conv {
                w: next(),
                b: next(),
                stride: b.conv1.stride,
            },
            conv2: Conv {
                w: next(),
                b: next(),
                stride: 1,
            },
            shortcut: b.shortcut.clone(),
        })
        .collect();
    Ok(ResNet {
        stem,
        blocks,
        fc_w: next(),
        fc_b: next(),
        ..m.clone()
    })
}

/// Accuracy of exact ReLUs (fraction), batch 200.
pub fn exact_accuracy(model: &ResNet, data: &Dataset, norm: &Normalization) -> Result<f64> {
    let mut correct = 0;
    let mut start = 0;
    while start < data.len() {
        let len = 200.min(data.len() - start);
        let (x, _) = data.batch(start, len, norm)?;
        let p = argmax(&model.logits(&x)?)?;
        correct += p
            .iter()
            .zip(&data.labels[start..start + len])
            .filter(|(a, b)| **a == **b as u32)
            .count();
        start += len;
    }
    Ok(correct as f64 / data.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_loss(model: &ResNet, data: &Dataset) -> f64 {
        let (x, y) = data.batch(0, data.len(), &DEMO_NORM).unwrap();
        let logits = model.logits(&x).unwrap();
        summed_cross_entropy(&logits, &y)
            .unwrap()
            .to_vec0::<f32>()
            .unwrap() as f64
    }

    // The trained network is the one returned: training must leave the
    // input alone and hand back parameters that fit the data better.
    #[test]
    fn training_returns_the_trained_network() {
        let data = synthetic(200, 11);
        let untrained = init_resnet(1, 4, 3).unwrap();
        let before: Vec<Vec<f32>> = untrained
            .params()
            .iter()
            .map(|t| t.flatten_all().unwrap().to_vec1().unwrap())
            .collect();
        let (trained, _) = train(&untrained, &data, 2, 50, 0.05, &ProgressBar::hidden()).unwrap();
        let after: Vec<Vec<f32>> = untrained
            .params()
            .iter()
            .map(|t| t.flatten_all().unwrap().to_vec1().unwrap())
            .collect();
        assert_eq!(before, after, "the input network is not modified");
        let (l0, l1) = (batch_loss(&untrained, &data), batch_loss(&trained, &data));
        // (The untrained copy would give exactly the same loss.)
        assert!(l1 < 0.99 * l0, "training lowers the loss: {l0} → {l1}");
    }
}

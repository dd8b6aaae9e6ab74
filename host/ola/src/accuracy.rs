//! Plaintext simulation: top-1 accuracy with every ReLU replaced by its
//! polynomial, evaluated exactly on the raw input (no clamping to
//! `[-B, B]`: CKKS cannot clamp, so inputs beyond the bound meet the
//! polynomial's growth there, as they would under encryption).

use candle_core::Tensor;
use indicatif::ProgressBar;
use ola_approx::{ChebyshevPoly, CompositeRelu};

use crate::analysis::argmax;
use crate::cifar::{Dataset, Normalization};
use crate::error::{Error, Result};
use crate::model::ResNet;

/// What replaces the ReLUs.
#[derive(Clone, Copy, Debug)]
pub enum Activations<'a> {
    /// The original network.
    Exact,
    /// One polynomial per ReLU, forward order.
    Polys(&'a [ChebyshevPoly]),
    /// The same composite minimax ReLU everywhere (the baseline).
    Composite(&'a CompositeRelu),
}

/// `f` applied to every element of `x` (f32 in, f64 evaluation), on all cores.
pub fn map_values(x: &Tensor, f: &(dyn Fn(f64) -> f64 + Sync)) -> Result<Tensor> {
    let v = x.flatten_all()?.to_vec1::<f32>()?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    let chunk = v.len().div_ceil(threads).max(1);
    let mut out = vec![0f32; v.len()];
    std::thread::scope(|s| {
        for (src, dst) in v.chunks(chunk).zip(out.chunks_mut(chunk)) {
            s.spawn(move || {
                for (d, &x) in dst.iter_mut().zip(src) {
                    *d = f(x as f64) as f32;
                }
            });
        }
    });
    Ok(Tensor::from_vec(out, x.dims(), x.device())?)
}

/// Number of elements of `t` with `|x| ≥ bound`.
pub fn count_outside(t: &Tensor, bound: f64) -> Result<u64> {
    Ok(t.abs()?
        .ge(bound)?
        .to_dtype(candle_core::DType::F32)?
        .sum_all()?
        .to_vec0::<f32>()? as u64)
}

/// Top-1 accuracy (fraction) of the network with `acts` on `data`, and
/// the number of inputs that fell outside their layer's bound.
pub fn accuracy(
    model: &ResNet,
    data: &Dataset,
    norm: &Normalization,
    acts: Activations<'_>,
    batch: usize,
    progress: &ProgressBar,
) -> Result<Accuracy> {
    if let Activations::Polys(p) = acts
        && p.len() != model.relu_count()
    {
        return Err(Error::new(format!(
            "plan has {} layers but the model has {} ReLUs",
            p.len(),
            model.relu_count()
        )));
    }
    if data.is_empty() {
        return Err(Error::new("evaluation set is empty"));
    }
    progress.set_length(data.len() as u64);
    let mut correct = 0usize;
    let mut outside = 0u64;
    let mut start = 0;
    while start < data.len() {
        let len = batch.max(1).min(data.len() - start);
        let (x, _) = data.batch(start, len, norm)?;
        let mut act = |i: usize, t: &Tensor| -> Result<Tensor> {
            match acts {
                Activations::Exact => Ok(t.relu()?),
                Activations::Polys(p) => {
                    let p = &p[i];
                    outside += count_outside(t, p.bound())?;
                    map_values(t, &|x| p.eval(x))
                }
                Activations::Composite(c) => {
                    outside += count_outside(t, c.bound())?;
                    map_values(t, &|x| c.eval(x))
                }
            }
        };
        let logits = model.forward(&x, &mut act)?;
        let pred = argmax(&logits)?;
        correct += pred
            .iter()
            .zip(&data.labels[start..start + len])
            .filter(|(p, l)| **p == **l as u32)
            .count();
        start += len;
        progress.set_position(start as u64);
    }
    Ok(Accuracy {
        top1: correct as f64 / data.len() as f64,
        images: data.len(),
        outside,
    })
}

/// Result of [`accuracy`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Accuracy {
    /// Top-1 accuracy in `[0, 1]`.
    pub top1: f64,
    /// Images evaluated.
    pub images: usize,
    /// Activation inputs with `|x| ≥ B` (where the polynomial is unreliable).
    pub outside: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_outside_counts_both_tails_and_the_bound_itself() {
        let t = Tensor::new(
            &[-3.0f32, -2.0, -1.0, 0.0, 1.5, 2.0, 9.0],
            &candle_core::Device::Cpu,
        )
        .unwrap();
        assert_eq!(count_outside(&t, 2.0).unwrap(), 4);
        assert_eq!(count_outside(&t, 10.0).unwrap(), 0);
        assert_eq!(count_outside(&t, 0.5).unwrap(), 6);
    }
}

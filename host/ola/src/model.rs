//! CIFAR ResNets (He et al.'s 6n + 2 family with option-A shortcuts, as in
//! `shared/models`): loading from safetensors with every name and shape
//! checked, BatchNorm folded into the convolutions at load, and a forward
//! pass that hands every ReLU to the caller.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::cifar::Normalization;
use crate::error::{Error, Result};

/// BatchNorm epsilon of the PyTorch models.
pub const BN_EPS: f64 = 1e-5;

/// A convolution with its folded BatchNorm (`y = conv(x, w) + b`).
#[derive(Clone, Debug)]
pub struct Conv {
    /// `(out, in, k, k)` weights.
    pub w: Tensor,
    /// `(1, out, 1, 1)` bias.
    pub b: Tensor,
    /// Stride (1 or 2).
    pub stride: usize,
}

impl Conv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let k = self.w.dim(2)?;
        Ok(conv2d(x, &self.w, k / 2, self.stride)?.broadcast_add(&self.b)?)
    }
}

/// `x.conv2d(w, padding, stride)`. When `x` is differentiated but the
/// weights are fixed (sensitivities, coefficient tuning), a custom op
/// whose backward computes only `∂/∂x`, as a convolution of the (dilated)
/// output gradient with the flipped, transposed kernel: candle's own
/// backward also computes the kernel's gradient and runs a naive
/// transposed convolution, most of a tuning step's time.
pub fn conv2d(x: &Tensor, w: &Tensor, padding: usize, stride: usize) -> Result<Tensor> {
    let k = w.dim(2)?;
    if x.track_op() && !w.track_op() && stride <= 2 && padding < k {
        return Ok(x.contiguous()?.apply_op1(FixedConv {
            w: w.clone(),
            padding,
            stride,
        })?);
    }
    Ok(x.conv2d(w, padding, stride, 1, 1)?)
}

/// The op behind [`conv2d`]'s fixed-weight path.
struct FixedConv {
    w: Tensor,
    padding: usize,
    stride: usize,
}

impl candle_core::CustomOp1 for FixedConv {
    fn name(&self) -> &'static str {
        "conv2d-fixed-weights"
    }

    fn cpu_fwd(
        &self,
        s: &candle_core::CpuStorage,
        l: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let (a, b) = l
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("conv2d: non-contiguous input".into()))?;
        let x = Tensor::from_slice(&s.as_slice::<f32>()?[a..b], l.shape(), &Device::Cpu)?;
        let y = x.conv2d(&self.w, self.padding, self.stride, 1, 1)?;
        let shape = y.shape().clone();
        Ok((
            candle_core::CpuStorage::F32(y.flatten_all()?.to_vec1::<f32>()?),
            shape,
        ))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let k = self.w.dim(2)?;
        // Zeros between the gradient's rows and columns undo the stride.
        let g = if self.stride == 2 {
            let (n, c, h, w) = grad.dims4()?;
            let z = grad.zeros_like()?;
            let g = Tensor::stack(&[grad, &z], 4)?.reshape((n, c, h, 2 * w))?;
            let z = g.zeros_like()?;
            Tensor::stack(&[&g, &z], 3)?.reshape((n, c, 2 * h, 2 * w))?
        } else {
            grad.clone()
        };
        let wt = self
            .w
            .transpose(0, 1)?
            .contiguous()?
            .flip(&[2, 3])?
            .contiguous()?;
        let gx = g.conv2d(&wt, k - 1 - self.padding, 1, 1, 1)?;
        if gx.dims() != arg.dims() {
            return Err(candle_core::Error::Msg(format!(
                "conv2d backward: gradient {:?} for an input {:?} (odd sizes are not supported)",
                gx.dims(),
                arg.dims()
            )));
        }
        Ok(Some(gx))
    }
}

/// One basic block: `relu(conv2(relu(conv1(x))) + shortcut(x))`.
#[derive(Clone, Debug)]
pub struct Block {
    /// First 3 × 3 convolution (+ bn1).
    pub conv1: Conv,
    /// Second 3 × 3 convolution (+ bn2).
    pub conv2: Conv,
    /// Option-A shortcut as a fixed 1 × 1 stride-2 convolution that picks
    /// `x[:, :, ::2, ::2]` into the middle channels (zero padding of
    /// `planes / 4` on each side); `None` for the identity.
    pub shortcut: Option<Tensor>,
}

/// Shape of one ReLU's input for one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActShape {
    /// Channels.
    pub channels: usize,
    /// Height = width.
    pub side: usize,
}

impl ActShape {
    /// Elements per image.
    pub fn elements(&self) -> usize {
        self.channels * self.side * self.side
    }
}

/// A CIFAR ResNet with BatchNorm folded.
#[derive(Clone, Debug)]
pub struct ResNet {
    /// Stem convolution (+ bn1).
    pub stem: Conv,
    /// Blocks in forward order (stage by stage).
    pub blocks: Vec<Block>,
    /// Classifier `(classes, 4w)`.
    pub fc_w: Tensor,
    /// Classifier bias `(classes,)`.
    pub fc_b: Tensor,
    /// Blocks per stage (`n` of depth `6n + 2`).
    pub blocks_per_stage: usize,
    /// Channels of the first stage.
    pub width: usize,
    /// Input normalisation stored in the file's metadata, if any.
    pub normalization: Option<Normalization>,
}

/// The tensors a CIFAR ResNet of `n` blocks per stage, stem width `w` and
/// `classes` outputs must contain, with their shapes (BatchNorm unfolded:
/// weight, bias, running_mean, running_var).
pub fn expected_tensors(n: usize, w: usize, classes: usize) -> Vec<(String, Vec<usize>)> {
    let mut v = Vec::new();
    let mut conv_bn = |prefix: &str, conv: &str, bn: &str, out: usize, inp: usize| {
        v.push((format!("{prefix}{conv}.weight"), vec![out, inp, 3, 3]));
        for p in ["weight", "bias", "running_mean", "running_var"] {
            v.push((format!("{prefix}{bn}.{p}"), vec![out]));
        }
    };
    conv_bn("", "conv1", "bn1", w, 3);
    let mut inp = w;
    for s in 0..3 {
        let planes = w << s;
        for j in 0..n {
            let prefix = format!("layer{}.{j}.", s + 1);
            conv_bn(&prefix, "conv1", "bn1", planes, inp);
            conv_bn(&prefix, "conv2", "bn2", planes, planes);
            inp = planes;
        }
    }
    v.push(("linear.weight".into(), vec![classes, 4 * w]));
    v.push(("linear.bias".into(), vec![classes]));
    v
}

/// Reads the safetensors JSON header's `__metadata__` map.
fn metadata(bytes: &[u8], name: &str) -> Result<HashMap<String, String>> {
    let bad = || {
        Error::new(format!(
            "{name}: not a safetensors file (bad or truncated header)"
        ))
    };
    let len = u64::from_le_bytes(bytes.get(..8).ok_or_else(bad)?.try_into().expect("8 bytes"));
    let end = 8usize
        .checked_add(usize::try_from(len).map_err(|_| bad())?)
        .ok_or_else(bad)?;
    let header: serde_json::Value =
        serde_json::from_slice(bytes.get(8..end).ok_or_else(bad)?).map_err(|_| bad())?;
    let mut out = HashMap::new();
    if let Some(m) = header.get("__metadata__").and_then(|m| m.as_object()) {
        for (k, v) in m {
            if let Some(s) = v.as_str() {
                out.insert(k.clone(), s.to_string());
            }
        }
    }
    Ok(out)
}

fn host_vec(t: &Tensor) -> Result<Vec<f64>> {
    Ok(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?)
}

impl ResNet {
    /// Depth `6n + 2`.
    pub fn depth(&self) -> usize {
        6 * self.blocks_per_stage + 2
    }

    /// Number of ReLUs: the stem's and two per block.
    pub fn relu_count(&self) -> usize {
        1 + 2 * self.blocks.len()
    }

    /// Classes of the classifier.
    pub fn classes(&self) -> usize {
        self.fc_b.dims()[0]
    }

    /// Input shape of every ReLU, in forward order.
    pub fn act_shapes(&self) -> Vec<ActShape> {
        let mut v = vec![ActShape {
            channels: self.width,
            side: 32,
        }];
        for s in 0..3 {
            for _ in 0..self.blocks_per_stage {
                let a = ActShape {
                    channels: self.width << s,
                    side: 32 >> s,
                };
                v.push(a);
                v.push(a);
            }
        }
        v
    }

    /// Human-readable ReLU names in forward order (`stem`, `layer1.0.relu1`, ...).
    pub fn relu_names(&self) -> Vec<String> {
        let mut v = vec!["stem".to_string()];
        for s in 0..3 {
            for j in 0..self.blocks_per_stage {
                v.push(format!("layer{}.{j}.relu1", s + 1));
                v.push(format!("layer{}.{j}.relu2", s + 1));
            }
        }
        v
    }

    /// Loads a safetensors file (see [`Self::from_safetensors`]).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::new(format!("cannot read model {}: {e}", path.display())))?;
        Self::from_safetensors(&bytes, &path.display().to_string())
    }

    /// Builds the network from a safetensors image: infers `n` (blocks per
    /// stage), the width and the classes, checks that exactly the tensors
    /// of [`expected_tensors`] are present (PyTorch's `num_batches_tracked`
    /// is ignored) with their shapes, and folds BatchNorm.
    pub fn from_safetensors(bytes: &[u8], name: &str) -> Result<Self> {
        let meta = metadata(bytes, name)?;
        let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
            .map_err(|e| Error::new(format!("{name}: cannot read safetensors: {e}")))?;
        let shape_of = |k: &str| -> Result<Vec<usize>> {
            tensors.get(k).map(|t| t.dims().to_vec()).ok_or_else(|| {
                Error::new(format!(
                    "{name}: missing tensor {k:?}: not a CIFAR ResNet state dict \
                     (expected conv1, bn1, layerX.Y.convZ/bnZ, linear)"
                ))
            })
        };
        let stem = shape_of("conv1.weight")?;
        if stem.len() != 4 || stem[1] != 3 || stem[2] != 3 || stem[3] != 3 {
            return Err(Error::new(format!(
                "{name}: conv1.weight has shape {stem:?}, expected [w, 3, 3, 3]"
            )));
        }
        let w = stem[0];
        let fc = shape_of("linear.weight")?;
        if fc.len() != 2 {
            return Err(Error::new(format!(
                "{name}: linear.weight has shape {fc:?}, expected [classes, {}]",
                4 * w
            )));
        }
        let classes = fc[0];
        let n = (0..)
            .take_while(|j| tensors.contains_key(&format!("layer1.{j}.conv1.weight")))
            .count();
        if n == 0 {
            return Err(Error::new(format!(
                "{name}: missing tensor \"layer1.0.conv1.weight\""
            )));
        }
        let expected = expected_tensors(n, w, classes);
        for (k, shape) in &expected {
            let got = shape_of(k)?;
            if &got != shape {
                return Err(Error::new(format!(
                    "{name}: tensor {k:?} has shape {got:?}, expected {shape:?} \
                     (ResNet-{} of width {w})",
                    6 * n + 2
                )));
            }
        }
        let known: std::collections::HashSet<&str> =
            expected.iter().map(|(k, _)| k.as_str()).collect();
        let mut extra: Vec<&String> = tensors
            .keys()
            .filter(|k| !known.contains(k.as_str()) && !k.ends_with("num_batches_tracked"))
            .collect();
        extra.sort();
        if let Some(k) = extra.first() {
            return Err(Error::new(format!(
                "{name}: unexpected tensor {k:?} for a ResNet-{} (option-A CIFAR ResNet with \
                 {n} blocks per stage): another architecture?",
                6 * n + 2
            )));
        }
        let get = |k: &str| host_vec(&tensors[k]);
        let fold = |conv: &str, bn: &str, stride: usize| -> Result<Conv> {
            let wt = &tensors[&format!("{conv}.weight")];
            let dims = wt.dims().to_vec();
            let (g, beta, mean, var) = (
                get(&format!("{bn}.weight"))?,
                get(&format!("{bn}.bias"))?,
                get(&format!("{bn}.running_mean"))?,
                get(&format!("{bn}.running_var"))?,
            );
            if var.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(Error::new(format!(
                    "{name}: {bn}.running_var has a negative or non-finite entry"
                )));
            }
            let per = dims[1] * dims[2] * dims[3];
            let mut wv = host_vec(wt)?;
            let mut bv = vec![0f32; dims[0]];
            for o in 0..dims[0] {
                let s = g[o] / (var[o] + BN_EPS).sqrt();
                wv[o * per..(o + 1) * per].iter_mut().for_each(|x| *x *= s);
                bv[o] = (beta[o] - mean[o] * s) as f32;
            }
            let wf: Vec<f32> = wv.iter().map(|&x| x as f32).collect();
            if wf.iter().chain(&bv).any(|x| !x.is_finite()) {
                return Err(Error::new(format!(
                    "{name}: {conv}/{bn} contain non-finite values"
                )));
            }
            Ok(Conv {
                w: Tensor::from_vec(wf, dims.as_slice(), &Device::Cpu)?,
                b: Tensor::from_vec(bv, (1, dims[0], 1, 1), &Device::Cpu)?,
                stride,
            })
        };
        let stem = fold("conv1", "bn1", 1)?;
        let blocks = block_shapes(w, n)
            .map(|b| {
                let p = format!("layer{}.{}", b.stage + 1, b.index);
                Ok(Block {
                    conv1: fold(&format!("{p}.conv1"), &format!("{p}.bn1"), b.stride)?,
                    conv2: fold(&format!("{p}.conv2"), &format!("{p}.bn2"), 1)?,
                    shortcut: b
                        .has_shortcut()
                        .then(|| option_a_kernel(b.inp, b.planes))
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let fc_w = tensors["linear.weight"].to_dtype(DType::F32)?;
        let fc_b = tensors["linear.bias"].to_dtype(DType::F32)?;
        let normalization = match (meta.get("normalize_mean"), meta.get("normalize_std")) {
            (Some(m), Some(s)) => Some(
                Normalization::parse(m, s)
                    .map_err(|e| Error::new(format!("{name}: metadata: {e}")))?,
            ),
            _ => None,
        };
        Ok(ResNet {
            stem,
            blocks,
            fc_w,
            fc_b,
            blocks_per_stage: n,
            width: w,
            normalization,
        })
    }

    /// The forward pass. `act(i, x)` is called for ReLU `i` (forward order)
    /// with its input and returns its output, so callers can record,
    /// replace or differentiate every activation.
    pub fn forward(
        &self,
        x: &Tensor,
        act: &mut dyn FnMut(usize, &Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let mut i = 0;
        let mut next = |x: &Tensor, act: &mut dyn FnMut(usize, &Tensor) -> Result<Tensor>| {
            let y = act(i, x);
            i += 1;
            y
        };
        let mut h = next(&self.stem.forward(x)?, act)?;
        for b in &self.blocks {
            let a = next(&b.conv1.forward(&h)?, act)?;
            let c = b.conv2.forward(&a)?;
            let sc = match &b.shortcut {
                Some(k) => conv2d(&h, k, 0, 2)?,
                None => h,
            };
            h = next(&(c + sc)?, act)?;
        }
        let pooled = h.mean((2, 3))?;
        Ok(pooled.matmul(&self.fc_w.t()?)?.broadcast_add(&self.fc_b)?)
    }

    /// The rest of the forward pass from ReLU `start`'s input `input`:
    /// `act` is called for ReLUs `start..` as in [`ResNet::forward`]. A
    /// block's first ReLU (odd `start`) also needs the block's input
    /// `block_in` for the shortcut (the output of ReLU `start − 1`); other
    /// starts ignore it. Lets a caller that cached a layer's input replay
    /// only the layers after it.
    pub fn forward_from(
        &self,
        start: usize,
        input: &Tensor,
        block_in: Option<&Tensor>,
        act: &mut dyn FnMut(usize, &Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        if start >= self.relu_count() {
            return Err(Error::new(format!(
                "forward_from: ReLU {start} of {}",
                self.relu_count()
            )));
        }
        let (mut h, first_block) = if start % 2 == 1 {
            // Block (start − 1)/2's first ReLU: finish that block.
            let b = &self.blocks[(start - 1) / 2];
            let h_in = block_in.ok_or_else(|| {
                Error::new(format!(
                    "forward_from: ReLU {start} needs its block's input"
                ))
            })?;
            let a = act(start, input)?;
            let c = b.conv2.forward(&a)?;
            let sc = match &b.shortcut {
                Some(k) => conv2d(h_in, k, 0, 2)?,
                None => h_in.clone(),
            };
            (act(start + 1, &(c + sc)?)?, (start - 1) / 2 + 1)
        } else {
            (act(start, input)?, start / 2)
        };
        for (bi, b) in self.blocks.iter().enumerate().skip(first_block) {
            let a = act(2 * bi + 1, &b.conv1.forward(&h)?)?;
            let c = b.conv2.forward(&a)?;
            let sc = match &b.shortcut {
                Some(k) => conv2d(&h, k, 0, 2)?,
                None => h,
            };
            h = act(2 * bi + 2, &(c + sc)?)?;
        }
        let pooled = h.mean((2, 3))?;
        Ok(pooled.matmul(&self.fc_w.t()?)?.broadcast_add(&self.fc_b)?)
    }

    /// Logits with exact ReLUs.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        self.forward(x, &mut |_, x| Ok(x.relu()?))
    }

    /// Every trainable tensor (for the built-in network's training).
    pub fn params(&self) -> Vec<Tensor> {
        let mut v = vec![self.stem.w.clone(), self.stem.b.clone()];
        for b in &self.blocks {
            for c in [&b.conv1, &b.conv2] {
                v.push(c.w.clone());
                v.push(c.b.clone());
            }
        }
        v.push(self.fc_w.clone());
        v.push(self.fc_b.clone());
        v
    }

    /// The network as a PyTorch-style state dict with identity BatchNorms
    /// (weight 1, bias = folded bias, mean 0, var `1 - eps`), so that
    /// [`Self::from_safetensors`] reloads it exactly.
    pub fn state_dict(&self) -> Result<Vec<(String, Tensor)>> {
        let mut v = Vec::new();
        let mut conv_bn = |conv: String, bn: String, c: &Conv| -> Result<()> {
            let out = c.w.dim(0)?;
            v.push((format!("{conv}.weight"), c.w.clone()));
            v.push((
                format!("{bn}.weight"),
                Tensor::ones(out, DType::F32, &Device::Cpu)?,
            ));
            v.push((format!("{bn}.bias"), c.b.flatten_all()?));
            v.push((
                format!("{bn}.running_mean"),
                Tensor::zeros(out, DType::F32, &Device::Cpu)?,
            ));
            v.push((
                format!("{bn}.running_var"),
                Tensor::full((1.0 - BN_EPS) as f32, out, &Device::Cpu)?,
            ));
            Ok(())
        };
        conv_bn("conv1".into(), "bn1".into(), &self.stem)?;
        for (k, b) in self.blocks.iter().enumerate() {
            let p = format!(
                "layer{}.{}",
                k / self.blocks_per_stage + 1,
                k % self.blocks_per_stage
            );
            conv_bn(format!("{p}.conv1"), format!("{p}.bn1"), &b.conv1)?;
            conv_bn(format!("{p}.conv2"), format!("{p}.bn2"), &b.conv2)?;
        }
        v.push(("linear.weight".into(), self.fc_w.clone()));
        v.push(("linear.bias".into(), self.fc_b.clone()));
        Ok(v)
    }

    /// Writes [`Self::state_dict`] as safetensors with the normalisation
    /// in the metadata.
    pub fn save(&self, path: &Path) -> Result<()> {
        let sd = self.state_dict()?;
        let mut meta = HashMap::new();
        if let Some(n) = &self.normalization {
            let j = |a: &[f32; 3]| {
                a.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            meta.insert("normalize_mean".to_string(), j(&n.mean));
            meta.insert("normalize_std".to_string(), j(&n.std));
        }
        let views: Vec<(String, Tensor)> = sd;
        write_safetensors(&views, meta, path)
    }
}

/// Where one residual block sits in a CIFAR ResNet-(6n+2) of stem width
/// `w`: stage `stage` (0..3) has `w << stage` planes, and its first block
/// halves the resolution from stage 1 on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockShape {
    /// Stage (0, 1, 2).
    pub stage: usize,
    /// Block within the stage.
    pub index: usize,
    /// Input channels.
    pub inp: usize,
    /// Output channels.
    pub planes: usize,
    /// Stride of the block's first convolution.
    pub stride: usize,
}

impl BlockShape {
    /// Whether the block needs a shortcut convolution (option A).
    pub fn has_shortcut(&self) -> bool {
        self.stride != 1 || self.inp != self.planes
    }
}

/// The blocks of a ResNet-(6n+2) of stem width `w`, in forward order.
pub(crate) fn block_shapes(w: usize, n: usize) -> impl Iterator<Item = BlockShape> {
    (0..3).flat_map(move |stage| {
        (0..n).map(move |index| BlockShape {
            stage,
            index,
            inp: if index == 0 && stage > 0 {
                w << (stage - 1)
            } else {
                w << stage
            },
            planes: w << stage,
            stride: if stage > 0 && index == 0 { 2 } else { 1 },
        })
    })
}

/// The option-A shortcut kernel `(planes, inp, 1, 1)`.
pub(crate) fn option_a_kernel(inp: usize, planes: usize) -> Result<Tensor> {
    let pad = (planes - inp) / 2;
    let mut k = vec![0f32; planes * inp];
    for c in 0..inp {
        k[(c + pad) * inp + c] = 1.0;
    }
    Ok(Tensor::from_vec(k, (planes, inp, 1, 1), &Device::Cpu)?)
}

/// A tensor's values, flattened, as `f64` (ReLU inputs for the fits).
pub fn values_f64(t: &Tensor) -> Result<Vec<f64>> {
    let v = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
    Ok(v.into_iter().map(f64::from).collect())
}

/// Writes F32 tensors with string metadata as a safetensors file.
pub fn write_safetensors(
    tensors: &[(String, Tensor)],
    meta: HashMap<String, String>,
    path: &Path,
) -> Result<()> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::to_value(meta)?);
    let mut data = Vec::new();
    for (k, t) in tensors {
        let v = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        let start = data.len();
        for x in v {
            data.extend_from_slice(&x.to_le_bytes());
        }
        header.insert(
            k.clone(),
            serde_json::json!({"dtype": "F32", "shape": t.dims(), "data_offsets": [start, data.len()]}),
        );
    }
    let mut h = serde_json::to_vec(&serde_json::Value::Object(header))?;
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    std::fs::write(path, out)
        .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    /// The fixed-weight convolution equals candle's in value and in the
    /// input's gradient, for the ResNets' three shapes (3 × 3 stride 1 and
    /// 2, the 1 × 1 stride-2 shortcut).
    #[test]
    fn fixed_weight_conv_matches_candle_value_and_input_gradient() {
        let dev = Device::Cpu;
        let val = |n: usize, seed: usize| -> Vec<f32> {
            (0..n)
                .map(|i| (((i * 7919 + seed * 104729) % 2003) as f32 / 1001.5) - 1.0)
                .collect()
        };
        for (k, pad, stride) in [(3, 1, 1), (3, 1, 2), (1, 0, 2)] {
            let (n, ci, co, side) = (2, 3, 4, 8);
            let x = Var::from_tensor(
                &Tensor::from_vec(val(n * ci * side * side, 1), (n, ci, side, side), &dev).unwrap(),
            )
            .unwrap();
            let w = Tensor::from_vec(val(co * ci * k * k, 2), (co, ci, k, k), &dev).unwrap();
            let ours = conv2d(x.as_tensor(), &w, pad, stride).unwrap();
            let theirs = x.as_tensor().conv2d(&w, pad, stride, 1, 1).unwrap();
            assert_eq!(ours.dims(), theirs.dims());
            let r = Tensor::from_vec(val(ours.elem_count(), 3), ours.dims(), &dev).unwrap();
            let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for (a, b) in flat(&ours).iter().zip(flat(&theirs)) {
                assert!((a - b).abs() < 1e-4, "value {a} vs {b}");
            }
            let ga = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let gb = (theirs * &r)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let (ga, gb) = (
                flat(ga.get(x.as_tensor()).unwrap()),
                flat(gb.get(x.as_tensor()).unwrap()),
            );
            assert!(ga.iter().any(|v| v.abs() > 0.1));
            for (a, b) in ga.iter().zip(&gb) {
                assert!(
                    (a - b).abs() < 1e-4,
                    "k {k} stride {stride}: grad {a} vs {b}"
                );
            }
        }
    }
}

//! The forward pass: every node recorded into one encoder, intermediates recycled by the plan.

use super::{Graph, Op, TensorId};
use crate::gpu::Recorder;
use crate::ops::{self, Conv2d};
use crate::{DType, Error, Gpu, Result, Tensor};

/// What a forward pass keeps beyond its output.
#[derive(Clone, Debug, Default)]
pub struct Keep {
    /// Tensors to keep for reading back (feature-map stacks to look at, embeddings).
    pub taps: Vec<TensorId>,
    /// Keep what a backward pass from the output down to this tensor needs (and the tensor).
    pub backward_to: Option<TensorId>,
    /// Also keep what weight gradients need (a full backward, for training).
    pub weight_grads: bool,
    /// Training mode: batch norm normalises with the statistics of the batch and updates its
    /// running statistics in place (momentum [`BN_MOMENTUM`], as PyTorch's default), and the
    /// backward pass differentiates through those batch statistics; the gradient of the graph
    /// input itself is not computed (training does not need it). Needs `weight_grads`.
    pub training: bool,
}

/// Momentum of the running batch-norm statistics in training mode (PyTorch's default):
/// `running = (1 - m) * running + m * batch`.
pub const BN_MOMENTUM: f32 = 0.1;

impl Keep {
    /// Keep these taps.
    pub fn taps(taps: &[TensorId]) -> Keep {
        Keep { taps: taps.to_vec(), ..Default::default() }
    }
    /// Prepare a backward pass to `target` (input gradients only).
    pub fn backward_to(target: TensorId) -> Keep {
        Keep { backward_to: Some(target), ..Default::default() }
    }
    /// A training step: batch statistics in batch norm, and everything a full backward pass
    /// (weight gradients) down to `target` needs.
    pub fn training(target: TensorId) -> Keep {
        Keep { backward_to: Some(target), weight_grads: true, training: true, ..Default::default() }
    }
}

/// The result of a forward pass: the output and every kept tensor.
pub struct Activations {
    pub(crate) batch: usize,
    pub(crate) values: Vec<Option<Tensor>>,
    pub(crate) argmax: Vec<Option<Tensor>>,
    /// Per batch-norm node in training mode: the batch mean and `1 / sqrt(var + eps)`.
    pub(crate) batch_stats: Vec<Option<(Tensor, Tensor)>>,
    pub(crate) keep: Keep,
    pub(crate) output: TensorId,
}

impl Activations {
    /// Batch size of the pass.
    pub fn batch(&self) -> usize {
        self.batch
    }
    /// The graph's output (logits for a classifier).
    pub fn output(&self) -> &Tensor {
        self.values[self.output.0].as_ref().expect("the output is always kept")
    }
    /// A kept tensor, or `None` if the pass did not keep it.
    pub fn get(&self, id: TensorId) -> Option<&Tensor> {
        self.values.get(id.0).and_then(|v| v.as_ref())
    }
    /// What this pass was asked to keep.
    pub fn keep(&self) -> &Keep {
        &self.keep
    }
    /// A kept tensor, or an error naming it.
    pub fn require(&self, graph: &Graph, id: TensorId) -> Result<&Tensor> {
        self.get(id).ok_or_else(|| {
            Error::arg(
                "forward",
                format!("tensor `{}` was not kept by this forward pass; add it to Keep", graph.name(id)),
            )
        })
    }

    /// Reads a kept tensor back; with `channels`, only those channels (axis 1) of every image,
    /// as `[N, channels.len(), ...]` in that order, copying nothing else off the device.
    pub fn read(&self, gpu: &Gpu, graph: &Graph, id: TensorId, channels: Option<&[usize]>) -> Result<Vec<f32>> {
        let t = self.require(graph, id)?;
        let Some(chs) = channels else { return t.to_f32(gpu) };
        let dims = t.dims();
        if dims.len() < 2 {
            return Err(Error::arg("read", format!("`{}` {:?} has no channel axis", graph.name(id), dims)));
        }
        let (n, c) = (dims[0], dims[1]);
        if let Some(&bad) = chs.iter().find(|&&ch| ch >= c) {
            return Err(Error::arg("read", format!("channel {bad} out of range: `{}` has {c}", graph.name(id))));
        }
        let plane: usize = dims[2..].iter().product();
        let ranges: Vec<(u64, u64)> = (0..n)
            .flat_map(|b| chs.iter().map(move |&ch| (((b * c + ch) * plane * 4) as u64, (plane * 4) as u64)))
            .collect();
        let bytes = gpu.read_ranges(t.buffer(), &ranges)?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }
}

impl Graph {
    /// Records a forward pass of `x` (`[N, ...input shape]`) into `rec`, keeping what `keep` asks
    /// for. Intermediates are recycled into later outputs after their last reader.
    pub fn forward(&self, rec: &mut Recorder, x: &Tensor, keep: &Keep) -> Result<Activations> {
        let want = self.item_shape(self.input);
        if x.dims().len() != want.len() + 1 || &x.dims()[1..] != want {
            return Err(Error::shape(
                "forward",
                format!("input `{}` must be [N, {want:?}...], got {:?}", self.name(self.input), x.dims()),
            ));
        }
        for t in keep.taps.iter().chain(keep.backward_to.iter()) {
            if t.0 >= self.tensors.len() {
                return Err(Error::arg("forward", format!("unknown tensor id {}", t.0)));
            }
        }
        if keep.training && !(keep.weight_grads && keep.backward_to.is_some()) {
            return Err(Error::arg("forward", "training mode needs Keep::weight_grads and Keep::backward_to"));
        }
        if keep.training && self.storage != DType::F32 {
            return Err(Error::arg("forward", "training needs f32 storage; call set_storage(gpu, DType::F32)"));
        }
        let plan = self.plan(keep);
        let batch = x.dims()[0];
        let mut live: Vec<Option<Tensor>> = vec![None; self.tensors.len()];
        let mut argmax: Vec<Option<Tensor>> = vec![None; self.nodes.len()];
        let mut batch_stats: Vec<Option<(Tensor, Tensor)>> = vec![None; self.nodes.len()];
        live[self.input.0] = Some(x.clone());

        for (i, node) in self.nodes.iter().enumerate().skip(1) {
            rec.set_scope(&node.name);
            if !plan.skipped[i] {
                let fused = plan.fused[i];
                // Operands in the dtype the node runs in (f16 storage converts at the edges
                // of the ops that have no f16 kernel); the converted copies die with the node.
                let want = self.node_storage(i);
                let operands: Vec<TensorId> =
                    node.inputs.iter().copied().chain(fused.and_then(|f| f.residual)).collect();
                let converted: Vec<Option<Tensor>> = operands
                    .iter()
                    .map(|t| {
                        let v = live[t.0].as_ref().expect("plan keeps inputs alive until their last reader");
                        match want {
                            Some(dtype) if v.dtype() != dtype => ops::cast(rec, v, dtype).map(Some),
                            _ => Ok(None),
                        }
                    })
                    .collect::<Result<_>>()
                    .map_err(|e| e.in_node(&node.name))?;
                let operand = |k: usize| converted[k].as_ref().or(live[operands[k].0].as_ref()).expect("alive");
                let inputs: Vec<&Tensor> = (0..node.inputs.len()).map(operand).collect();
                let residual = fused.and_then(|f| f.residual).map(|_| operand(node.inputs.len()));
                let (y, idx) = match &node.op {
                    Op::BatchNorm { scale, bias, mean, var, eps } if keep.training => {
                        let (y, m, s) =
                            ops::batch_norm_train(rec, inputs[0], scale, bias, mean, var, BN_MOMENTUM, *eps)
                                .map_err(|e| e.in_node(&node.name))?;
                        batch_stats[i] = Some((m, s));
                        (y, None)
                    }
                    _ => self
                        .run_node(rec, i, &inputs, fused.and_then(|f| f.activation), residual)
                        .map_err(|e| e.in_node(&node.name))?,
                };
                // Safe to hand back: a converted copy is read by this node alone, and no op that
                // converts returns a view of its input (reshapes run in any dtype, `want` None).
                drop(inputs);
                for t in converted.into_iter().flatten() {
                    rec.recycle(t);
                }
                let out = fused.map_or(node.output, |f| f.output);
                live[out.0] = Some(y);
                if plan.keep_argmax[i] {
                    argmax[i] = idx;
                }
            }
            for t in &plan.release_after[i] {
                if let Some(buf) = live[t.0].take() {
                    rec.recycle(buf);
                }
            }
        }
        // What the pass hands back is f32, whatever the storage inside it.
        let values = (0..self.tensors.len())
            .map(|t| match live[t].take() {
                Some(v) if plan.kept[plan.root[t].0] => ops::cast(rec, &v, DType::F32).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<_>>()?;
        Ok(Activations { batch, values, argmax, batch_stats, keep: keep.clone(), output: self.output })
    }

    /// Runs only the part of the graph downstream of `from`, with `value` (any batch) standing
    /// in for that tensor, and returns the output. Every node on the way must depend on `from`
    /// alone (as the head of a classifier after its last feature map does); otherwise an error.
    pub fn forward_from(&self, rec: &mut Recorder, from: TensorId, value: &Tensor) -> Result<Tensor> {
        let want = self.item_shape(from);
        if value.dims().len() != want.len() + 1 || &value.dims()[1..] != want {
            return Err(Error::shape(
                "forward_from",
                format!("`{}` is [N, {want:?}...], got {:?}", self.name(from), value.dims()),
            ));
        }
        let reach = self.descendants(from);
        if !reach[self.output.0] {
            return Err(Error::arg("forward_from", format!("the output does not depend on `{}`", self.name(from))));
        }
        let mut live: Vec<Option<Tensor>> = vec![None; self.tensors.len()];
        live[from.0] = Some(value.clone());
        for (i, node) in self.nodes.iter().enumerate().skip(self.tensors[from.0].producer + 1) {
            if !reach[node.output.0] {
                continue;
            }
            let mut inputs = Vec::with_capacity(node.inputs.len());
            for t in &node.inputs {
                match live[t.0].as_ref() {
                    Some(v) if reach[t.0] => inputs.push(v),
                    _ => {
                        return Err(Error::arg(
                            "forward_from",
                            format!(
                                "node `{}` also reads `{}`, which does not depend on `{}`",
                                node.name,
                                self.name(*t),
                                self.name(from)
                            ),
                        ))
                    }
                }
            }
            let (y, _) = self.run_node(rec, i, &inputs, None, None).map_err(|e| e.in_node(&node.name))?;
            live[node.output.0] = Some(y);
        }
        Ok(live[self.output.0].take().expect("the output depends on `from`"))
    }

    /// Records node `i` on its inputs; returns the output and, for max pooling, the argmax.
    /// A conv node also adds `residual` and applies `activation` when the plan fused them.
    pub(crate) fn run_node(
        &self,
        rec: &mut Recorder,
        i: usize,
        x: &[&Tensor],
        activation: Option<ops::Activation>,
        residual: Option<&Tensor>,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let y = match &self.nodes[i].op {
            Op::Input => unreachable!("the input node is never run"),
            Op::Conv2d { weight, bias, cfg } => {
                let cfg = Conv2d { activation: activation.unwrap_or(cfg.activation), ..*cfg };
                // In f16 storage the input is f16 and so are the weights it meets: an f16
                // copy made once per state of the weights.
                let half;
                let weight = if x[0].dtype() == DType::F16 && weight.dtype() == DType::F32 {
                    let dims: Vec<u8> = weight.dims().iter().flat_map(|d| (*d as u64).to_le_bytes()).collect();
                    half = rec.derived(weight, "cast_f16", &dims, |rec| ops::cast(rec, weight, DType::F16))?;
                    &half
                } else {
                    weight
                };
                match residual {
                    Some(r) => ops::conv2d_residual(rec, x[0], weight, bias.as_ref(), r, &cfg, None)?,
                    None => ops::conv2d(rec, x[0], weight, bias.as_ref(), &cfg)?,
                }
            }
            Op::BatchNorm { scale, bias, mean, var, eps } => ops::batch_norm(rec, x[0], scale, bias, mean, var, *eps)?,
            Op::Activation(a) => ops::activation(rec, x[0], *a)?,
            Op::MaxPool2d(cfg) => {
                let (y, idx) = ops::max_pool2d(rec, x[0], cfg)?;
                return Ok((y, Some(idx)));
            }
            Op::AvgPool2d(cfg) => ops::avg_pool2d(rec, x[0], cfg)?,
            Op::GlobalAvgPool2d => ops::global_avg_pool2d(rec, x[0])?,
            Op::GlobalMaxPool2d => ops::global_max_pool2d(rec, x[0])?,
            Op::Linear { weight, bias } => ops::linear(rec, x[0], weight, bias.as_ref())?,
            Op::Binary(op) => ops::binary(rec, x[0], x[1], *op)?,
            Op::Concat { axis } => ops::concat(rec, x, *axis)?,
            Op::Flatten => x[0].flatten(1)?,
            Op::Reshape { shape } => x[0].reshape(super::with_batch(x[0].dims()[0], shape))?,
            Op::BinaryConst { op, value, value_first } => {
                if *value_first {
                    ops::binary(rec, value, x[0], *op)?
                } else {
                    ops::binary(rec, x[0], value, *op)?
                }
            }
            Op::Softmax { axis } => ops::softmax(rec, x[0], *axis)?,
            Op::LogSoftmax { axis } => ops::log_softmax(rec, x[0], *axis)?,
            Op::Lrn(cfg) => ops::lrn(rec, x[0], cfg)?,
            Op::Pad { pads, mode } => ops::pad(rec, x[0], pads, *mode)?,
            Op::ResizeBilinear { size, mode } => ops::resize_bilinear(rec, x[0], *size, *mode)?,
            Op::Transpose { perm } => ops::transpose(rec, x[0], perm)?,
            Op::ChannelShuffle { groups } => ops::channel_shuffle(rec, x[0], *groups)?,
            Op::Slice { axis, start, end, step } => ops::slice(rec, x[0], *axis, *start, *end, *step)?,
            Op::ConvTranspose2d { weight, bias, cfg } => ops::conv_transpose2d(rec, x[0], weight, bias.as_ref(), cfg)?,
            Op::PRelu { slope } => ops::prelu(rec, x[0], slope)?,
            Op::LayerNorm { axis, scale, bias, eps } => ops::layer_norm(rec, x[0], *axis, scale, bias.as_ref(), *eps)?,
            Op::Reduce { axes, keepdims, op } => ops::reduce(rec, x[0], axes, *keepdims, *op)?,
            Op::ResizeNearest { size, coords, mode } => ops::resize_nearest(rec, x[0], *size, *coords, *mode)?,
        };
        Ok((y, None))
    }

    /// The embedding of a kept tensor: global average pooling of a 4-D feature map to `[N, C]`
    /// (a 2-D tensor is already one and is returned as is).
    pub fn embedding(&self, rec: &mut Recorder, acts: &Activations, id: TensorId) -> Result<Tensor> {
        let t = acts.require(self, id)?;
        match t.dims().len() {
            2 => Ok(t.clone()),
            4 => {
                let p = ops::global_avg_pool2d(rec, t)?;
                p.reshape([t.dims()[0], t.dims()[1]])
            }
            _ => Err(Error::shape(
                "embedding",
                format!("`{}` {:?} is neither [N, C, H, W] nor [N, C]", self.name(id), t.dims()),
            )),
        }
    }
}

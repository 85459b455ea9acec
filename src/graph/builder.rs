//! [`GraphBuilder`]: builds a [`Graph`] node by node, inferring every shape as it goes.

use std::collections::HashMap;

use super::{with_batch, Graph, Node, Op, TensorId, TensorInfo};
use crate::ops::{self, Activation, BinaryOp, Conv2d, Pool2d};
use crate::{Error, Result, Tensor};

/// Builds a graph. Every method adds one node, checks its inputs' shapes and returns the id of
/// its output tensor; a mismatch is an error naming the node and the shapes.
///
/// ```no_run
/// # use featuremap::{graph::GraphBuilder, ops::{Conv2d, Pool2d, Activation}, Gpu, Tensor};
/// # fn main() -> featuremap::Result<()> {
/// # let gpu = Gpu::new()?;
/// # let (w, fc) = (Tensor::zeros(&gpu, [8, 3, 3, 3])?, Tensor::zeros(&gpu, [10, 8])?);
/// let mut b = GraphBuilder::new("image", [3, 32, 32]);
/// let x = b.input();
/// let c = b.conv2d("conv1", x, w, None, Conv2d::same(1, 1))?;
/// let r = b.activation("relu1", c, Activation::Relu)?;
/// let p = b.global_avg_pool2d("pool", r)?;
/// let f = b.flatten("flat", p)?;
/// let y = b.linear("fc", f, fc, None)?;
/// let graph = b.build(y)?;
/// # Ok(()) }
/// ```
pub struct GraphBuilder {
    nodes: Vec<Node>,
    tensors: Vec<TensorInfo>,
    by_name: HashMap<String, TensorId>,
}

impl GraphBuilder {
    /// Starts a graph whose input is named `name` with shape `item_shape` (without the batch;
    /// `[C, H, W]` for images).
    pub fn new(name: &str, item_shape: impl Into<Vec<usize>>) -> GraphBuilder {
        let mut b = GraphBuilder { nodes: Vec::new(), tensors: Vec::new(), by_name: HashMap::new() };
        let id = TensorId(0);
        b.tensors.push(TensorInfo { name: name.to_string(), item_shape: item_shape.into(), producer: 0 });
        b.by_name.insert(name.to_string(), id);
        b.nodes.push(Node { name: name.to_string(), op: Op::Input, inputs: vec![], output: id });
        b
    }

    /// The input tensor.
    pub fn input(&self) -> TensorId {
        TensorId(0)
    }

    /// A tensor's shape without the batch.
    pub fn item_shape(&self, id: TensorId) -> &[usize] {
        &self.tensors[id.0].item_shape
    }

    /// Looks up a tensor added so far by name.
    pub fn tensor(&self, name: &str) -> Option<TensorId> {
        self.by_name.get(name).copied()
    }

    /// Adds a node running `op` on `inputs`; all other methods go through here.
    pub fn push(&mut self, name: &str, op: Op, inputs: &[TensorId]) -> Result<TensorId> {
        if self.by_name.contains_key(name) {
            return Err(Error::arg("graph", format!("a tensor named `{name}` already exists")));
        }
        if let Some(bad) = inputs.iter().find(|t| t.0 >= self.tensors.len()) {
            return Err(Error::arg("graph", format!("node `{name}`: unknown input tensor id {}", bad.0)));
        }
        let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| with_batch(1, &self.tensors[t.0].item_shape)).collect();
        let out = infer_shape(&op, &shapes).map_err(|e| e.in_node(name))?;
        if out.first() != Some(&1) {
            return Err(Error::shape(
                op.kind(),
                format!("the batch must stay the leading axis, got {out:?} for batch 1"),
            )
            .in_node(name));
        }
        let id = TensorId(self.tensors.len());
        self.tensors.push(TensorInfo {
            name: name.to_string(),
            item_shape: out[1..].to_vec(),
            producer: self.nodes.len(),
        });
        self.by_name.insert(name.to_string(), id);
        self.nodes.push(Node { name: name.to_string(), op, inputs: inputs.to_vec(), output: id });
        Ok(id)
    }

    /// Convolution.
    pub fn conv2d(
        &mut self,
        name: &str,
        x: TensorId,
        weight: Tensor,
        bias: Option<Tensor>,
        cfg: Conv2d,
    ) -> Result<TensorId> {
        self.push(name, Op::Conv2d { weight, bias, cfg }, &[x])
    }
    /// Inference batch norm.
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm(
        &mut self,
        name: &str,
        x: TensorId,
        scale: Tensor,
        bias: Tensor,
        mean: Tensor,
        var: Tensor,
        eps: f32,
    ) -> Result<TensorId> {
        self.push(name, Op::BatchNorm { scale, bias, mean, var, eps }, &[x])
    }
    /// Elementwise activation.
    pub fn activation(&mut self, name: &str, x: TensorId, act: Activation) -> Result<TensorId> {
        self.push(name, Op::Activation(act), &[x])
    }
    /// ReLU.
    pub fn relu(&mut self, name: &str, x: TensorId) -> Result<TensorId> {
        self.activation(name, x, Activation::Relu)
    }
    /// Max pooling.
    pub fn max_pool2d(&mut self, name: &str, x: TensorId, cfg: Pool2d) -> Result<TensorId> {
        self.push(name, Op::MaxPool2d(cfg), &[x])
    }
    /// Average pooling.
    pub fn avg_pool2d(&mut self, name: &str, x: TensorId, cfg: Pool2d) -> Result<TensorId> {
        self.push(name, Op::AvgPool2d(cfg), &[x])
    }
    /// Global average pooling.
    pub fn global_avg_pool2d(&mut self, name: &str, x: TensorId) -> Result<TensorId> {
        self.push(name, Op::GlobalAvgPool2d, &[x])
    }
    /// Global max pooling.
    pub fn global_max_pool2d(&mut self, name: &str, x: TensorId) -> Result<TensorId> {
        self.push(name, Op::GlobalMaxPool2d, &[x])
    }
    /// Fully connected layer.
    pub fn linear(&mut self, name: &str, x: TensorId, weight: Tensor, bias: Option<Tensor>) -> Result<TensorId> {
        self.push(name, Op::Linear { weight, bias }, &[x])
    }
    /// Elementwise `a + b` (a residual join).
    pub fn add(&mut self, name: &str, a: TensorId, b: TensorId) -> Result<TensorId> {
        self.push(name, Op::Binary(BinaryOp::Add), &[a, b])
    }
    /// Elementwise binary op.
    pub fn binary(&mut self, name: &str, a: TensorId, b: TensorId, op: BinaryOp) -> Result<TensorId> {
        self.push(name, Op::Binary(op), &[a, b])
    }
    /// Concatenation along `axis` (1 = channels).
    pub fn concat(&mut self, name: &str, xs: &[TensorId], axis: usize) -> Result<TensorId> {
        self.push(name, Op::Concat { axis }, xs)
    }
    /// Flatten to `[N, features]`.
    pub fn flatten(&mut self, name: &str, x: TensorId) -> Result<TensorId> {
        self.push(name, Op::Flatten, &[x])
    }
    /// Softmax along `axis` (1 = classes).
    pub fn softmax(&mut self, name: &str, x: TensorId, axis: usize) -> Result<TensorId> {
        self.push(name, Op::Softmax { axis }, &[x])
    }

    /// Makes `name` another name of an existing tensor (ONNX `Identity` and `Dropout`).
    pub fn alias(&mut self, name: &str, id: TensorId) -> Result<()> {
        if self.by_name.contains_key(name) {
            return Err(Error::arg("graph", format!("a tensor named `{name}` already exists")));
        }
        self.by_name.insert(name.to_string(), id);
        Ok(())
    }

    /// Finishes the graph with `output` as its result.
    pub fn build(self, output: TensorId) -> Result<Graph> {
        if output.0 >= self.tensors.len() {
            return Err(Error::arg("graph", format!("unknown output tensor id {}", output.0)));
        }
        let mut consumers = vec![Vec::new(); self.tensors.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for t in &n.inputs {
                consumers[t.0].push(i);
            }
        }
        Ok(Graph {
            nodes: self.nodes,
            tensors: self.tensors,
            by_name: self.by_name,
            input: TensorId(0),
            output,
            consumers,
            storage: crate::DType::F32,
        })
    }
}

fn one<'a>(op: &Op, shapes: &'a [Vec<usize>], n: usize) -> Result<&'a [Vec<usize>]> {
    if shapes.len() != n {
        return Err(Error::arg(op.kind(), format!("takes {n} input(s), got {}", shapes.len())));
    }
    Ok(shapes)
}

fn vector_len(op: &'static str, what: &str, t: &Tensor, want: usize) -> Result<()> {
    if t.numel() != want {
        return Err(Error::shape(op, format!("{what} has {} values, the input has {want} channels", t.numel())));
    }
    Ok(())
}

/// Output shape (with a batch of 1) of `op` on inputs of `shapes` (each with a batch of 1).
pub(crate) fn infer_shape(op: &Op, shapes: &[Vec<usize>]) -> Result<Vec<usize>> {
    let k = op.kind();
    match op {
        Op::Input => Err(Error::arg("graph", "only the builder creates the input")),
        Op::Conv2d { weight, bias, cfg } => {
            let s = one(op, shapes, 1)?;
            let out = cfg.output_shape(&s[0], weight.dims())?;
            if let Some(b) = bias {
                if b.numel() != out[1] {
                    return Err(Error::shape(
                        k,
                        format!("bias has {} values for {} output channels", b.numel(), out[1]),
                    ));
                }
            }
            Ok(out.to_vec())
        }
        Op::BatchNorm { scale, bias, mean, var, .. } => {
            let s = one(op, shapes, 1)?;
            let c = *s[0].get(1).ok_or_else(|| Error::shape(k, "input needs a channel axis"))?;
            for (what, t) in [("scale", scale), ("bias", bias), ("mean", mean), ("var", var)] {
                vector_len(k, what, t, c)?;
            }
            Ok(s[0].clone())
        }
        Op::Activation(_) | Op::Lrn(_) => Ok(one(op, shapes, 1)?[0].clone()),
        Op::MaxPool2d(cfg) | Op::AvgPool2d(cfg) => {
            let s = one(op, shapes, 1)?;
            let [n, c, h, w] = nchw(k, &s[0])?;
            let [oh, ow] = cfg.output_hw([h, w])?;
            Ok(vec![n, c, oh, ow])
        }
        Op::GlobalAvgPool2d | Op::GlobalMaxPool2d => {
            let s = one(op, shapes, 1)?;
            let [n, c, _, _] = nchw(k, &s[0])?;
            Ok(vec![n, c, 1, 1])
        }
        Op::Linear { weight, bias } => {
            let s = one(op, shapes, 1)?;
            let (&[n, fin], &[out, win]) = (&s[0][..], weight.dims()) else {
                return Err(Error::shape(
                    k,
                    format!("input {:?} must be [N, in] and weight {:?} [out, in]", s[0], weight.dims()),
                ));
            };
            if fin != win {
                return Err(Error::shape(
                    k,
                    format!("input has {fin} features, weight {:?} expects {win}", weight.dims()),
                ));
            }
            if let Some(b) = bias {
                if b.numel() != out {
                    return Err(Error::shape(k, format!("bias has {} values for {out} outputs", b.numel())));
                }
            }
            Ok(vec![n, out])
        }
        Op::Binary(_) => {
            let s = one(op, shapes, 2)?;
            ops::broadcast_shape(&s[0], &s[1])
        }
        Op::Concat { axis } => {
            if shapes.is_empty() || *axis == 0 {
                return Err(Error::arg(k, "needs at least one input and an axis of 1 or more"));
            }
            let dims: Vec<&[usize]> = shapes.iter().map(|s| s.as_slice()).collect();
            ops::concat_shape(&dims, *axis)
        }
        Op::Flatten => {
            let s = one(op, shapes, 1)?;
            Ok(vec![s[0][0], s[0][1..].iter().product()])
        }
        Op::Reshape { shape } => {
            let s = one(op, shapes, 1)?;
            let have: usize = s[0][1..].iter().product();
            if shape.iter().product::<usize>() != have {
                return Err(Error::shape(k, format!("cannot view {:?} as [N, {shape:?}...]", &s[0][1..])));
            }
            Ok(super::with_batch(1, shape))
        }
        Op::BinaryConst { value, value_first, .. } => {
            let s = one(op, shapes, 1)?;
            let out = if *value_first {
                ops::broadcast_shape(value.dims(), &s[0])?
            } else {
                ops::broadcast_shape(&s[0], value.dims())?
            };
            if out.len() != s[0].len() || out[0] != 1 {
                return Err(Error::shape(
                    k,
                    format!("constant {:?} must broadcast into the tensor {:?}, not widen it", value.dims(), s[0]),
                ));
            }
            Ok(out)
        }
        Op::Softmax { axis } | Op::LogSoftmax { axis } => {
            let s = one(op, shapes, 1)?;
            if *axis == 0 || *axis >= s[0].len() {
                return Err(Error::arg(k, format!("axis {axis} out of range 1..{} for {:?}", s[0].len(), s[0])));
            }
            Ok(s[0].clone())
        }
        Op::Pad { pads, mode } => {
            let s = one(op, shapes, 1)?;
            let r = s[0].len();
            if pads.len() == 2 * r && (pads[0] != 0 || pads[r] != 0) {
                return Err(Error::arg(k, "the batch axis cannot be padded"));
            }
            ops::pad_shape(&s[0], pads, *mode)
        }
        Op::ResizeBilinear { size, .. } => Ok(ops::resize_shape(&one(op, shapes, 1)?[0], *size)?.to_vec()),
        Op::Transpose { perm } => {
            if perm.first() != Some(&0) {
                return Err(Error::arg(k, "the batch axis must stay first (perm[0] == 0)"));
            }
            ops::transpose_shape(&one(op, shapes, 1)?[0], perm)
        }
        Op::Slice { axis, start, end, step } => {
            let s = one(op, shapes, 1)?;
            if *axis == 0 {
                return Err(Error::arg(k, "slicing the batch axis is not supported"));
            }
            ops::slice_shape(&s[0], *axis, *start, *end, *step)
        }
        Op::ConvTranspose2d { weight, bias, cfg } => {
            let s = one(op, shapes, 1)?;
            let out = cfg.output_shape(&s[0], weight.dims())?;
            if let Some(b) = bias {
                if b.numel() != out[1] {
                    return Err(Error::shape(
                        k,
                        format!("bias has {} values for {} output channels", b.numel(), out[1]),
                    ));
                }
            }
            Ok(out.to_vec())
        }
        Op::PRelu { slope } => {
            let s = one(op, shapes, 1)?;
            let out = ops::broadcast_shape(&s[0], slope.dims())?;
            if out != s[0] {
                return Err(Error::shape(k, format!("slope {:?} must broadcast into {:?}", slope.dims(), s[0])));
            }
            Ok(out)
        }
        Op::LayerNorm { axis, scale, .. } => {
            let s = one(op, shapes, 1)?;
            if *axis == 0 || *axis >= s[0].len() {
                return Err(Error::arg(k, format!("axis {axis} out of range 1..{} for {:?}", s[0].len(), s[0])));
            }
            let n: usize = s[0][*axis..].iter().product();
            if scale.numel() != n {
                return Err(Error::shape(k, format!("scale has {} values for {n} normalised ones", scale.numel())));
            }
            Ok(s[0].clone())
        }
        Op::Reduce { axes, keepdims, .. } => {
            let s = one(op, shapes, 1)?;
            if axes.is_empty() || axes.contains(&0) {
                return Err(Error::arg(k, "reducing over the batch axis (or every axis) is not supported"));
            }
            ops::reduce_shape(&s[0], axes, *keepdims)
        }
        Op::ResizeNearest { size, .. } => Ok(ops::resize_shape(&one(op, shapes, 1)?[0], *size)?.to_vec()),
        Op::ChannelShuffle { groups } => {
            let s = one(op, shapes, 1)?;
            let [_, c, _, _] = nchw(k, &s[0])?;
            if *groups == 0 || c % groups != 0 {
                return Err(Error::shape(k, format!("{c} channels do not split into {groups} groups")));
            }
            Ok(s[0].clone())
        }
    }
}

fn nchw(op: &'static str, s: &[usize]) -> Result<[usize; 4]> {
    match *s {
        [n, c, h, w] => Ok([n, c, h, w]),
        _ => Err(Error::shape(op, format!("expected a 4-D NCHW input, got {s:?}"))),
    }
}

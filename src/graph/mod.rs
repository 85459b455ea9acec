//! The host graph: nodes over named tensors, built from Rust with shape inference at build time,
//! run forward with one encoder and a memory plan, and backward from chosen output scores.
//!
//! Every graph tensor has the batch as its leading dimension; shapes are stored without it
//! ("item shapes"), so the batch size is a run-time choice.

mod backward;
mod builder;
mod forward;
mod plan;
mod storage;
mod weights;
pub mod zoo;

pub use backward::{Gradients, ReluGrad};
pub use builder::GraphBuilder;
pub use forward::{Activations, Keep, BN_MOMENTUM};
pub use plan::MemoryReport;

use std::collections::HashMap;

use crate::ops::{
    Activation, BinaryOp, Conv2d, ConvTranspose2d, CoordMode, Lrn, NearestCoords, NearestMode, PadMode, Pool2d,
    ReduceOp,
};
use crate::{Error, Result, Tensor};

/// Index of a tensor in a [`Graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(pub(crate) usize);

impl TensorId {
    /// The index.
    pub fn index(self) -> usize {
        self.0
    }
}

/// What a node computes. Parameters live on the GPU as tensors.
#[derive(Clone, Debug)]
pub enum Op {
    /// The graph input (no computation).
    Input,
    /// 2-D convolution; weights `[C_out, C_in/groups, KH, KW]`, bias `[C_out]`.
    Conv2d {
        /// Weights.
        weight: Tensor,
        /// Optional bias.
        bias: Option<Tensor>,
        /// Hyper-parameters (its `activation` is applied inside the conv).
        cfg: Conv2d,
    },
    /// Inference batch norm over channel axis 1.
    BatchNorm {
        /// Per-channel scale (gamma).
        scale: Tensor,
        /// Per-channel shift (beta).
        bias: Tensor,
        /// Running mean.
        mean: Tensor,
        /// Running variance.
        var: Tensor,
        /// Epsilon added to the variance.
        eps: f32,
    },
    /// An elementwise activation.
    Activation(Activation),
    /// Max pooling (keeps argmax for the backward pass).
    MaxPool2d(Pool2d),
    /// Average pooling.
    AvgPool2d(Pool2d),
    /// Global average pooling to `[N, C, 1, 1]`.
    GlobalAvgPool2d,
    /// Global max pooling to `[N, C, 1, 1]`.
    GlobalMaxPool2d,
    /// Fully connected layer: `x [N, in]`, weight `[out, in]`, bias `[out]`.
    Linear {
        /// Weights.
        weight: Tensor,
        /// Optional bias.
        bias: Option<Tensor>,
    },
    /// Elementwise binary op of two graph tensors with broadcasting.
    Binary(BinaryOp),
    /// Concatenation along `axis` (counted with the batch, so channels are axis 1).
    Concat {
        /// The axis (at least 1).
        axis: usize,
    },
    /// `[N, ...]` to `[N, product]` (no copy).
    Flatten,
    /// `[N, ...]` to `[N, shape...]` with the same element count (no copy).
    Reshape {
        /// The new shape without the batch.
        shape: Vec<usize>,
    },
    /// Elementwise binary op of a graph tensor and a constant, with broadcasting.
    BinaryConst {
        /// The operation.
        op: BinaryOp,
        /// The constant (shaped for NumPy broadcasting against `[N, ...]`).
        value: Tensor,
        /// Whether the constant is the left operand (`value - x` rather than `x - value`).
        value_first: bool,
    },
    /// Softmax along `axis` (counted with the batch).
    Softmax {
        /// The axis (at least 1).
        axis: usize,
    },
    /// Log-softmax along `axis` (counted with the batch).
    LogSoftmax {
        /// The axis (at least 1).
        axis: usize,
    },
    /// Local response normalisation across channels.
    Lrn(Lrn),
    /// Padding; `pads` in ONNX order over all axes including the batch (whose pads must be 0).
    Pad {
        /// Begin pads for every axis, then end pads.
        pads: Vec<usize>,
        /// Constant, reflect or edge.
        mode: PadMode,
    },
    /// Bilinear resize of NCHW maps to `size`.
    ResizeBilinear {
        /// Output `[H, W]`.
        size: [usize; 2],
        /// Coordinate mapping.
        mode: CoordMode,
    },
    /// Permutation of axes; `perm[0]` must be 0 (the batch stays first).
    Transpose {
        /// The permutation, over all axes including the batch.
        perm: Vec<usize>,
    },
    /// Elements `start, start + step, ... < end` along `axis` (counted with the batch, at least 1).
    Slice {
        /// The axis.
        axis: usize,
        /// First index.
        start: usize,
        /// End (exclusive).
        end: usize,
        /// Step (positive).
        step: usize,
    },
    /// Transposed 2-D convolution; weights `[C_in, C_out/groups, KH, KW]`.
    ConvTranspose2d {
        /// Weights.
        weight: Tensor,
        /// Optional bias `[C_out]`.
        bias: Option<Tensor>,
        /// Hyper-parameters.
        cfg: ConvTranspose2d,
    },
    /// `x` where `x >= 0`, else `slope * x` (slope broadcast against `[N, ...]`).
    PRelu {
        /// The slope.
        slope: Tensor,
    },
    /// Layer normalisation over the axes from `axis` on (counted with the batch).
    LayerNorm {
        /// First normalised axis (at least 1).
        axis: usize,
        /// Scale, shaped like the normalised axes.
        scale: Tensor,
        /// Optional shift.
        bias: Option<Tensor>,
        /// Epsilon added to the variance.
        eps: f32,
    },
    /// Mean, sum or max over axes (counted with the batch; never the batch itself).
    Reduce {
        /// The axes.
        axes: Vec<usize>,
        /// Keep reduced axes as size 1.
        keepdims: bool,
        /// Which reduction.
        op: ReduceOp,
    },
    /// Nearest-neighbour resize of NCHW maps to `size`.
    ResizeNearest {
        /// Output `[H, W]`.
        size: [usize; 2],
        /// Coordinate mapping.
        coords: NearestCoords,
        /// Rounding.
        mode: NearestMode,
    },
    /// ShuffleNet's channel shuffle.
    ChannelShuffle {
        /// Number of groups.
        groups: usize,
    },
}

impl Op {
    /// Short op name for tables and errors (`conv2d`, `max_pool2d`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Conv2d { .. } => "conv2d",
            Op::BatchNorm { .. } => "batch_norm",
            Op::Activation(a) => a.name(),
            Op::MaxPool2d(_) => "max_pool2d",
            Op::AvgPool2d(_) => "avg_pool2d",
            Op::GlobalAvgPool2d => "global_avg_pool2d",
            Op::GlobalMaxPool2d => "global_max_pool2d",
            Op::Linear { .. } => "linear",
            Op::Binary(b) => b.name(),
            Op::Concat { .. } => "concat",
            Op::Flatten => "flatten",
            Op::Reshape { .. } => "reshape",
            Op::BinaryConst { op, .. } => op.name(),
            Op::Softmax { .. } => "softmax",
            Op::LogSoftmax { .. } => "log_softmax",
            Op::Lrn(_) => "lrn",
            Op::Pad { .. } => "pad",
            Op::ResizeBilinear { .. } => "resize_bilinear",
            Op::Transpose { .. } => "transpose",
            Op::ChannelShuffle { .. } => "channel_shuffle",
            Op::Slice { .. } => "slice",
            Op::ConvTranspose2d { .. } => "conv_transpose2d",
            Op::PRelu { .. } => "prelu",
            Op::LayerNorm { .. } => "layer_norm",
            Op::Reduce { .. } => "reduce",
            Op::ResizeNearest { .. } => "resize_nearest",
        }
    }

    /// Number of learned parameters.
    pub fn parameters(&self) -> usize {
        match self {
            Op::Conv2d { weight, bias, .. } | Op::Linear { weight, bias } => {
                weight.numel() + bias.as_ref().map_or(0, |b| b.numel())
            }
            Op::BatchNorm { scale, bias, .. } => scale.numel() + bias.numel(),
            Op::ConvTranspose2d { weight, bias, .. } => weight.numel() + bias.as_ref().map_or(0, |b| b.numel()),
            Op::PRelu { slope } => slope.numel(),
            Op::LayerNorm { scale, bias, .. } => scale.numel() + bias.as_ref().map_or(0, |b| b.numel()),
            _ => 0,
        }
    }
}

/// One node: an op, the tensors it reads, the tensor it writes (named like the node).
#[derive(Clone, Debug)]
pub struct Node {
    /// Node name, also the name of its output tensor.
    pub name: String,
    /// What it computes.
    pub op: Op,
    /// Input tensors.
    pub inputs: Vec<TensorId>,
    /// Output tensor.
    pub output: TensorId,
}

/// A graph tensor: a name and its shape without the batch dimension.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    /// The name (the producing node's name, or the input's).
    pub name: String,
    /// Shape without the batch dimension.
    pub item_shape: Vec<usize>,
    /// The node that writes it.
    pub producer: usize,
}

/// A built graph: nodes in topological order over named tensors.
#[derive(Clone, Debug)]
pub struct Graph {
    pub(crate) nodes: Vec<Node>,
    pub(crate) tensors: Vec<TensorInfo>,
    pub(crate) by_name: HashMap<String, TensorId>,
    pub(crate) input: TensorId,
    pub(crate) output: TensorId,
    /// For each tensor, the nodes that read it (in order).
    pub(crate) consumers: Vec<Vec<usize>>,
    /// Storage of the feature maps inside a forward pass ([`Graph::set_storage`]).
    pub(crate) storage: crate::DType,
}

impl Graph {
    /// The input tensor.
    pub fn input(&self) -> TensorId {
        self.input
    }
    /// The output tensor (logits for a classifier).
    pub fn output(&self) -> TensorId {
        self.output
    }
    /// The nodes, in execution order (node 0 is the input).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }
    /// Information on a tensor.
    pub fn info(&self, id: TensorId) -> &TensorInfo {
        &self.tensors[id.0]
    }
    /// A tensor's name.
    pub fn name(&self, id: TensorId) -> &str {
        &self.tensors[id.0].name
    }
    /// A tensor's shape without the batch dimension.
    pub fn item_shape(&self, id: TensorId) -> &[usize] {
        &self.tensors[id.0].item_shape
    }
    /// A tensor's full shape for a batch of `n`.
    pub fn shape(&self, id: TensorId, n: usize) -> Vec<usize> {
        with_batch(n, self.item_shape(id))
    }
    /// Number of tensors.
    pub fn tensor_count(&self) -> usize {
        self.tensors.len()
    }
    /// All tensor ids, in creation order.
    pub fn tensor_ids(&self) -> impl DoubleEndedIterator<Item = TensorId> {
        (0..self.tensors.len()).map(TensorId)
    }

    /// Looks a tensor up by name; the error lists a few names that do exist.
    pub fn tensor(&self, name: &str) -> Result<TensorId> {
        self.by_name.get(name).copied().ok_or_else(|| {
            let mut names: Vec<&str> = self.tensors.iter().map(|t| t.name.as_str()).collect();
            let total = names.len();
            names.truncate(12);
            Error::NotFound {
                what: "tensor",
                name: name.to_string(),
                hint: format!(
                    " (the graph has {total}: {}{})",
                    names.join(", "),
                    if total > 12 { ", ..." } else { "" }
                ),
            }
        })
    }

    /// The last 4-D feature map that feeds a global pooling (or, failing that, the last 4-D
    /// tensor): the default layer of Grad-CAM.
    pub fn default_cam_layer(&self) -> Option<TensorId> {
        let pooled = self.nodes.iter().rev().find_map(|n| match n.op {
            Op::GlobalAvgPool2d | Op::GlobalMaxPool2d => Some(n.inputs[0]),
            _ => None,
        });
        pooled.or_else(|| self.tensor_ids().rev().find(|&t| self.item_shape(t).len() == 3))
    }

    /// Number of learned parameters.
    pub fn parameters(&self) -> usize {
        self.nodes.iter().map(|n| n.op.parameters()).sum()
    }
}

/// `[n] + item`.
pub(crate) fn with_batch(n: usize, item: &[usize]) -> Vec<usize> {
    let mut v = Vec::with_capacity(item.len() + 1);
    v.push(n);
    v.extend_from_slice(item);
    v
}

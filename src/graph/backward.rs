//! The backward pass: from a seed gradient on the output down to a target tensor.
//!
//! Partial mode (what CAM needs) computes input gradients only, through the nodes between the
//! target and the output, and allocates nothing for weight gradients. Full mode also computes
//! every weight and bias gradient (training); its target is usually the graph input.

use super::{forward::Activations, Graph, Op, TensorId};
use crate::gpu::Recorder;
use crate::ops::{self, Activation, BinaryOp, Conv2d, Gemm};
use crate::{Error, Result, Tensor};

/// How ReLU nodes pass gradients back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReluGrad {
    /// The true derivative.
    #[default]
    Standard,
    /// Guided backpropagation: only positive gradients through positive inputs.
    Guided,
}

/// Gradients computed by [`Graph::backward`].
pub struct Gradients {
    grads: Vec<Option<Tensor>>,
    /// Per parameterised node (full mode): node name, gradient of the weights (or batch-norm
    /// scale), gradient of the bias (or batch-norm shift).
    pub params: Vec<(String, Tensor, Option<Tensor>)>,
}

impl Gradients {
    /// The gradient of the loss with respect to the target, or a tap of the forward pass that
    /// the backward pass reached.
    pub fn get(&self, id: TensorId) -> Option<&Tensor> {
        self.grads.get(id.0).and_then(|g| g.as_ref())
    }
}

impl Graph {
    /// Records the backward pass of `acts` (a forward pass run with
    /// `Keep { backward_to: Some(target), weight_grads, .. }`) from `seed`, the gradient of the
    /// loss with respect to the graph output (for a class score: one-hot rows of the logits'
    /// shape), down to `target`.
    pub fn backward(
        &self,
        rec: &mut Recorder,
        acts: &Activations,
        seed: &Tensor,
        target: TensorId,
        relu: ReluGrad,
    ) -> Result<Gradients> {
        if acts.keep.backward_to != Some(target) {
            return Err(Error::arg(
                "backward",
                format!(
                    "the forward pass was not prepared for a backward pass to `{}` (Keep::backward_to)",
                    self.name(target)
                ),
            ));
        }
        let weight_grads = acts.keep.weight_grads;
        if seed.dims() != acts.output().dims() {
            return Err(Error::shape(
                "backward",
                format!("seed {:?} must match the output {:?}", seed.dims(), acts.output().dims()),
            ));
        }
        let n = acts.batch;
        let reach = self.descendants(target);
        let on_path = self.backward_nodes(target);
        // Gradients worth computing: of tensors the target reaches, except the image itself in
        // training (which only needs the parameters' gradients).
        let wants = |t: TensorId| reach[t.0] && !(acts.keep.training && t == self.input);
        let mut grads: Vec<Option<Tensor>> = vec![None; self.tensors.len()];
        grads[self.output.0] = Some(seed.clone());
        let mut params = Vec::new();

        for i in (1..self.nodes.len()).rev() {
            if !on_path[i] {
                continue;
            }
            let node = &self.nodes[i];
            let Some(dy) = grads[node.output.0].clone() else { continue };
            let ctx = |e: Error| e.in_node(&node.name);
            let saved = |t: TensorId| acts.require(self, t).map_err(ctx);
            let x_shape = self.shape(node.inputs[0], n);
            let mut dx: Vec<Option<Tensor>> = vec![None; node.inputs.len()];
            match &node.op {
                Op::Input => {}
                Op::Conv2d { weight, bias, cfg } => {
                    if cfg.activation != Activation::None {
                        return Err(ctx(Error::arg(
                            "backward",
                            "a conv2d built with a fused activation has no backward; add the activation as its own node",
                        )));
                    }
                    let cfg = Conv2d { activation: Activation::None, ..*cfg };
                    if weight_grads {
                        let x = saved(node.inputs[0])?;
                        let dw = ops::conv2d_backward_weight(rec, &dy, x, weight.dims(), &cfg).map_err(ctx)?;
                        let db = match bias {
                            Some(_) => Some(ops::conv2d_backward_bias(rec, &dy).map_err(ctx)?),
                            None => None,
                        };
                        params.push((node.name.clone(), dw, db));
                    }
                    if wants(node.inputs[0]) {
                        dx[0] = Some(ops::conv2d_backward_input(rec, &dy, weight, &x_shape, &cfg).map_err(ctx)?);
                    }
                }
                Op::BatchNorm { scale, .. } if acts.keep.training => {
                    let x = saved(node.inputs[0])?;
                    let (m, s) = acts.batch_stats[i]
                        .as_ref()
                        .ok_or_else(|| ctx(Error::arg("backward", "batch statistics were not kept")))?;
                    let (d, ds, db) = ops::batch_norm_train_backward(rec, &dy, x, scale, m, s).map_err(ctx)?;
                    params.push((node.name.clone(), ds, Some(db)));
                    dx[0] = Some(d);
                }
                Op::BatchNorm { scale, mean, var, eps, .. } => {
                    if weight_grads {
                        let x = saved(node.inputs[0])?;
                        let (ds, db) = ops::batch_norm_backward_params(rec, &dy, x, mean, var, *eps).map_err(ctx)?;
                        params.push((node.name.clone(), ds, Some(db)));
                    }
                    dx[0] = Some(ops::batch_norm_backward(rec, &dy, scale, var, *eps).map_err(ctx)?);
                }
                Op::Activation(a) => {
                    let x = saved(node.inputs[0])?;
                    dx[0] = Some(if relu == ReluGrad::Guided && *a == Activation::Relu {
                        ops::guided_relu_backward(rec, &dy, x).map_err(ctx)?
                    } else {
                        ops::activation_backward(rec, &dy, x, *a).map_err(ctx)?
                    });
                }
                Op::MaxPool2d(cfg) => {
                    let idx = acts.argmax[i]
                        .as_ref()
                        .ok_or_else(|| ctx(Error::arg("backward", "max-pool indices were not kept")))?;
                    dx[0] = Some(ops::max_pool2d_backward(rec, &dy, idx, &x_shape, cfg).map_err(ctx)?);
                }
                Op::AvgPool2d(cfg) => dx[0] = Some(ops::avg_pool2d_backward(rec, &dy, &x_shape, cfg).map_err(ctx)?),
                Op::GlobalAvgPool2d => dx[0] = Some(ops::global_avg_pool2d_backward(rec, &dy, &x_shape).map_err(ctx)?),
                Op::GlobalMaxPool2d => {
                    let x = saved(node.inputs[0])?;
                    dx[0] = Some(ops::global_max_pool2d_backward(rec, &dy, x).map_err(ctx)?);
                }
                Op::Linear { weight, bias } => {
                    if weight_grads {
                        let x = saved(node.inputs[0])?;
                        let (d, wg) = ops::linear_backward(rec, &dy, x, weight, true).map_err(ctx)?;
                        let (dw, db) = wg.expect("weight grads were asked for");
                        params.push((node.name.clone(), dw, bias.as_ref().map(|_| db)));
                        dx[0] = Some(d);
                    } else {
                        // dx = dy @ W: [N, out] x [out, in].
                        dx[0] = Some(ops::gemm(rec, &dy, weight, None, &Gemm::default()).map_err(ctx)?);
                    }
                }
                Op::Binary(op) => {
                    let (sa, sb) = (self.shape(node.inputs[0], n), self.shape(node.inputs[1], n));
                    match op {
                        BinaryOp::Add | BinaryOp::Sub => {
                            dx[0] = Some(reduce_to(rec, &dy, &sa).map_err(ctx)?);
                            let db = reduce_to(rec, &dy, &sb).map_err(ctx)?;
                            dx[1] = Some(if *op == BinaryOp::Sub {
                                let minus = Tensor::from_f32(rec.gpu(), [1], &[-1.0])?;
                                ops::mul(rec, &db, &minus).map_err(ctx)?
                            } else {
                                db
                            });
                        }
                        BinaryOp::Mul | BinaryOp::Div => {
                            let (a, b) = (saved(node.inputs[0])?, saved(node.inputs[1])?);
                            let (da, db) = ops::binary_backward(rec, &dy, a, b, *op).map_err(ctx)?;
                            dx = vec![Some(da), Some(db)];
                        }
                    }
                }
                Op::Concat { axis } => {
                    let sizes: Vec<usize> = node.inputs.iter().map(|t| self.shape(*t, n)[*axis]).collect();
                    let parts = ops::split(rec, &dy, *axis, &sizes).map_err(ctx)?;
                    dx = parts.into_iter().map(Some).collect();
                }
                Op::Flatten | Op::Reshape { .. } => dx[0] = Some(dy.reshape(x_shape.clone()).map_err(ctx)?),
                Op::BinaryConst { op, value, value_first } => {
                    let d = match (op, value_first) {
                        (BinaryOp::Add, _) | (BinaryOp::Sub, false) => reduce_to(rec, &dy, &x_shape).map_err(ctx)?,
                        (BinaryOp::Sub, true) => {
                            let minus = Tensor::from_f32(rec.gpu(), [1], &[-1.0])?;
                            let neg = ops::mul(rec, &dy, &minus).map_err(ctx)?;
                            reduce_to(rec, &neg, &x_shape).map_err(ctx)?
                        }
                        (BinaryOp::Mul, _) => {
                            let g = ops::mul(rec, &dy, value).map_err(ctx)?;
                            reduce_to(rec, &g, &x_shape).map_err(ctx)?
                        }
                        (BinaryOp::Div, false) => {
                            let g = ops::div(rec, &dy, value).map_err(ctx)?;
                            reduce_to(rec, &g, &x_shape).map_err(ctx)?
                        }
                        (BinaryOp::Div, true) => {
                            // d(c / x) = -c / x^2 dy: the binary backward's b-gradient.
                            let x = saved(node.inputs[0])?;
                            let (_, db) = ops::binary_backward(rec, &dy, value, x, BinaryOp::Div).map_err(ctx)?;
                            db
                        }
                    };
                    dx[0] = Some(d);
                }
                Op::Softmax { axis } => {
                    let y = saved(node.output)?;
                    dx[0] = Some(ops::softmax_backward(rec, &dy, y, *axis).map_err(ctx)?);
                }
                Op::LogSoftmax { axis } => {
                    let y = saved(node.output)?;
                    dx[0] = Some(ops::log_softmax_backward(rec, &dy, y, *axis).map_err(ctx)?);
                }
                Op::Transpose { perm } => {
                    let mut inv = vec![0; perm.len()];
                    for (i, &p) in perm.iter().enumerate() {
                        inv[p] = i;
                    }
                    dx[0] = Some(ops::transpose(rec, &dy, &inv).map_err(ctx)?);
                }
                Op::ChannelShuffle { groups } => {
                    // Shuffling with C/g groups undoes a shuffle with g groups.
                    let c = x_shape[1];
                    dx[0] = Some(ops::channel_shuffle(rec, &dy, c / groups).map_err(ctx)?);
                }
                Op::Lrn(_)
                | Op::Pad { .. }
                | Op::ResizeBilinear { .. }
                | Op::Slice { .. }
                | Op::ConvTranspose2d { .. }
                | Op::PRelu { .. }
                | Op::LayerNorm { .. }
                | Op::Reduce { .. }
                | Op::ResizeNearest { .. } => {
                    return Err(ctx(Error::arg("backward", format!("{} has no backward kernel yet", node.op.kind()))));
                }
            }
            for (t, g) in node.inputs.iter().zip(dx) {
                let Some(g) = g else { continue };
                if !wants(*t) {
                    continue;
                }
                grads[t.0] = Some(match grads[t.0].take() {
                    Some(prev) => ops::add(rec, &prev, &g).map_err(ctx)?,
                    None => g,
                });
            }
        }
        // Keep the target's gradient and those of the pass's taps that the backward reached
        // (so several CAM layers need one backward pass).
        let mut out = vec![None; self.tensors.len()];
        out[target.0] = grads[target.0].take();
        for t in &acts.keep.taps {
            out[t.0] = grads[t.0].take().or_else(|| out[t.0].take());
        }
        Ok(Gradients { grads: out, params })
    }
}

/// Sums `dy` down to `shape` (the inverse of broadcasting); no copy when nothing broadcast.
fn reduce_to(rec: &mut Recorder, dy: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if dy.dims() == shape {
        Ok(dy.clone())
    } else {
        ops::reduce_sum_to_shape(rec, dy, shape)
    }
}

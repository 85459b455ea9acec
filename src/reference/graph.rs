use super::*;
use crate::graph::{Graph, Op, TensorId};
use crate::ops::Gemm;
use crate::{Gpu, Result, Tensor};

fn host(gpu: &Gpu, t: &Tensor) -> Result<Array> {
    Ok(Array::from_f32(t.dims().to_vec(), &t.to_f32(gpu)?))
}

fn host_vec(gpu: &Gpu, t: &Tensor) -> Result<Vec<f64>> {
    Ok(t.to_f32(gpu)?.iter().map(|&v| v as f64).collect())
}

/// Evaluates a whole graph in f64 on the CPU, node by node with the reference ops (weights are
/// read back from the GPU). `overrides` replace the values of given tensors (their producers
/// are not run), which lets a test perturb an intermediate tensor for finite differences.
/// Returns the value of every tensor.
pub fn graph_forward(graph: &Graph, gpu: &Gpu, x: &Array, overrides: &[(TensorId, Array)]) -> Result<Vec<Array>> {
    let mut v: Vec<Option<Array>> = vec![None; graph.tensor_count()];
    v[graph.input().index()] = Some(x.clone());
    for (t, a) in overrides {
        v[t.index()] = Some(a.clone());
    }
    for node in graph.nodes().iter().skip(1) {
        if v[node.output.index()].is_some() {
            continue; // overridden
        }
        let ins: Vec<&Array> = node.inputs.iter().map(|t| v[t.index()].as_ref().expect("topological order")).collect();
        let y = match &node.op {
            Op::Input => unreachable!(),
            Op::Conv2d { weight, bias, cfg } => {
                let b = bias.as_ref().map(|b| host(gpu, b)).transpose()?;
                conv2d(ins[0], &host(gpu, weight)?, b.as_ref(), cfg)
            }
            Op::BatchNorm { scale, bias, mean, var, eps } => batch_norm(
                ins[0],
                &host_vec(gpu, scale)?,
                &host_vec(gpu, bias)?,
                &host_vec(gpu, mean)?,
                &host_vec(gpu, var)?,
                *eps as f64,
            ),
            Op::Activation(a) => activation(ins[0], *a),
            Op::MaxPool2d(cfg) => max_pool2d(ins[0], cfg).0,
            Op::AvgPool2d(cfg) => avg_pool2d(ins[0], cfg),
            Op::GlobalAvgPool2d => global_avg_pool2d(ins[0]),
            Op::GlobalMaxPool2d => global_max_pool2d(ins[0]),
            Op::Linear { weight, bias } => {
                let b = bias.as_ref().map(|b| host(gpu, b)).transpose()?;
                gemm(ins[0], &host(gpu, weight)?, b.as_ref(), &Gemm { trans_b: true, ..Default::default() })
            }
            Op::Binary(op) => binary(ins[0], ins[1], *op),
            Op::Concat { axis } => concat(&ins, *axis),
            Op::Flatten => {
                let n = ins[0].shape[0];
                Array::new([n, ins[0].numel() / n.max(1)], ins[0].data.clone())
            }
            Op::Reshape { shape } => {
                let n = ins[0].shape[0];
                Array::new([&[n][..], &shape[..]].concat(), ins[0].data.clone())
            }
            Op::BinaryConst { op, value, value_first } => {
                let c = host(gpu, value)?;
                if *value_first {
                    binary(&c, ins[0], *op)
                } else {
                    binary(ins[0], &c, *op)
                }
            }
            Op::Softmax { axis } => softmax(ins[0], *axis),
            Op::LogSoftmax { axis } => log_softmax(ins[0], *axis),
            Op::Lrn(cfg) => lrn(ins[0], cfg),
            Op::Pad { pads, mode } => pad(ins[0], pads, *mode),
            Op::ResizeBilinear { size, mode } => resize_bilinear(ins[0], *size, *mode),
            Op::Transpose { perm } => transpose(ins[0], perm),
            Op::ChannelShuffle { groups } => channel_shuffle(ins[0], *groups),
            Op::Slice { axis, start, end, step } => slice(ins[0], *axis, *start, *end, *step),
            Op::ConvTranspose2d { weight, bias, cfg } => {
                let b = bias.as_ref().map(|b| host(gpu, b)).transpose()?;
                conv_transpose2d(ins[0], &host(gpu, weight)?, b.as_ref(), cfg)
            }
            Op::PRelu { slope } => prelu(ins[0], &host(gpu, slope)?),
            Op::LayerNorm { axis, scale, bias, eps } => {
                let b = bias.as_ref().map(|b| host(gpu, b)).transpose()?;
                layer_norm(ins[0], *axis, &host(gpu, scale)?, b.as_ref(), *eps as f64)
            }
            Op::Reduce { axes, keepdims, op } => reduce(ins[0], axes, *keepdims, *op),
            Op::ResizeNearest { size, coords, mode } => resize_nearest(ins[0], *size, *coords, *mode),
        };
        v[node.output.index()] = Some(y);
    }
    Ok(v.into_iter().map(|a| a.expect("every tensor evaluated")).collect())
}

/// Central finite differences of `loss = sum(seed * output)` with respect to the tensor
/// `target`, evaluated in f64 through [`graph_forward`], at the flat indices `at`.
pub fn graph_grad_fd(
    graph: &Graph,
    gpu: &Gpu,
    x: &Array,
    seed: &Array,
    target: TensorId,
    at: &[usize],
    step: f64,
) -> Result<Vec<f64>> {
    let base = graph_forward(graph, gpu, x, &[])?;
    let t0 = base[target.index()].clone();
    let loss =
        |vals: &[Array]| -> f64 { vals[graph.output().index()].data.iter().zip(&seed.data).map(|(a, b)| a * b).sum() };
    let mut out = Vec::with_capacity(at.len());
    for &i in at {
        let mut plus = t0.clone();
        plus.data[i] += step;
        let mut minus = t0.clone();
        minus.data[i] -= step;
        let lp = loss(&graph_forward(graph, gpu, x, &[(target, plus)])?);
        let lm = loss(&graph_forward(graph, gpu, x, &[(target, minus)])?);
        out.push((lp - lm) / (2.0 * step));
    }
    Ok(out)
}

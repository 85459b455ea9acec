//! How each method turns activations (and gradients) into heatmaps, on the GPU.

use super::{CamOptions, Explanation, Method, Target};
use crate::gpu::Recorder;
use crate::graph::{Activations, Graph, Keep, Op, ReluGrad, TensorId};
use crate::ops::{self, ChannelWeighting, CoordMode, ElementwiseCam, Gemm};
use crate::{Error, Gpu, Result, Tensor};

/// Explains the scores of `opts.targets` for the batch `x` with `opts.method`.
pub fn explain(gpu: &Gpu, graph: &Graph, x: &Tensor, opts: &CamOptions) -> Result<Explanation> {
    if opts.layers.is_empty() {
        return Err(Error::arg("cam", "at least one target layer is needed"));
    }
    let [n, _, h, w] = x.shape().nchw("cam")?;
    for &l in &opts.layers {
        if graph.item_shape(l).len() != 3 {
            return Err(Error::shape(
                "cam",
                format!("layer `{}` {:?} is not a [C, H, W] feature map", graph.name(l), graph.item_shape(l)),
            ));
        }
    }
    let classes = graph.item_shape(graph.output());
    let &[k] = classes else {
        return Err(Error::shape(
            "cam",
            format!("the output `{}` must be [N, classes], is {classes:?}", graph.name(graph.output())),
        ));
    };
    let (explicit, top1) = seed_rows(&opts.targets, n, k)?;

    // Forward (and backward) in one submit.
    let mut rec = Recorder::new(gpu);
    let earliest = *opts.layers.iter().min_by_key(|l| graph.info(**l).producer).expect("non-empty");
    let keep = Keep {
        taps: opts.layers.clone(),
        backward_to: opts.method.uses_gradients().then_some(earliest),
        weight_grads: false,
        training: false,
    };
    let acts = graph.forward(&mut rec, x, &keep)?;
    let logits = acts.output().clone();
    let (seed, chosen) = ops::cam_target_seed(&mut rec, &logits, &explicit, &top1)?;
    let grads = if opts.method.uses_gradients() {
        Some(graph.backward(&mut rec, &acts, &seed, earliest, ReluGrad::Standard)?)
    } else {
        None
    };

    let mut per_layer = Vec::with_capacity(opts.layers.len());
    for &layer in &opts.layers {
        let a = acts.require(graph, layer)?.clone();
        let g = match &grads {
            Some(gr) => Some(gr.get(layer).cloned().ok_or_else(|| {
                Error::arg("cam", format!("no gradient reached layer `{}` from the output", graph.name(layer)))
            })?),
            None => None,
        };
        let raw = match opts.method {
            Method::GradCam | Method::GradCamPlusPlus | Method::XGradCam => {
                let weighting = match opts.method {
                    Method::GradCam => ChannelWeighting::GradCam,
                    Method::GradCamPlusPlus => ChannelWeighting::GradCamPlusPlus,
                    _ => ChannelWeighting::XGradCam,
                };
                let wts = ops::cam_channel_weights(&mut rec, &a, g.as_ref().unwrap(), weighting)?;
                ops::cam_weighted_sum(&mut rec, &a, &wts)?
            }
            Method::HiResCam => ops::cam_elementwise_sum(&mut rec, &a, g.as_ref().unwrap(), ElementwiseCam::HiResCam)?,
            Method::LayerCam => ops::cam_elementwise_sum(&mut rec, &a, g.as_ref().unwrap(), ElementwiseCam::LayerCam)?,
            Method::EigenCam => ops::cam_first_principal_projection(&mut rec, &a, opts.power_iterations)?,
            Method::EigenGradCam => {
                let ga = ops::mul(&mut rec, g.as_ref().unwrap(), &a)?;
                ops::cam_first_principal_projection(&mut rec, &ga, opts.power_iterations)?
            }
            Method::Cam => {
                let fc = linear_head(graph, layer)?;
                // One weight per channel: the seed's weighted sum of the linear layer's rows.
                let wts = ops::gemm(&mut rec, &seed, fc, None, &Gemm::default())?;
                ops::cam_weighted_sum(&mut rec, &a, &wts)?
            }
            Method::ScoreCam => {
                // Masked forward passes are submitted batch by batch to bound memory.
                let pending = std::mem::replace(&mut rec, Recorder::new(gpu));
                pending.submit();
                let wts = score_cam_weights(gpu, graph, x, &a, &seed, opts.score_batch)?;
                ops::cam_weighted_sum(&mut rec, &a, &wts)?
            }
            Method::AblationCam => {
                let pending = std::mem::replace(&mut rec, Recorder::new(gpu));
                pending.submit();
                let wts = ablation_cam_weights(gpu, graph, layer, &a, &logits, &seed, opts.ablation_batch)?;
                ops::cam_weighted_sum(&mut rec, &a, &wts)?
            }
        };
        // The package: ReLU, min-max per image, cv2.resize to the input size.
        let scaled = ops::cam_normalize(&mut rec, &raw, true)?;
        per_layer.push(ops::resize_bilinear(&mut rec, &scaled, [h, w], CoordMode::HalfPixel)?);
    }
    let refs: Vec<&Tensor> = per_layer.iter().collect();
    let mean = ops::cam_mean_layers(&mut rec, &refs)?;
    let heatmap = ops::cam_normalize(&mut rec, &mean, false)?;
    rec.submit();
    drop(acts);
    Ok(Explanation { heatmap, logits, classes: chosen })
}

/// Explicit seed rows and top-1 flags for `targets` over a batch of `n` with `k` classes.
fn seed_rows(targets: &[Target], n: usize, k: usize) -> Result<(Vec<f32>, Vec<bool>)> {
    let per_image: Vec<&Target> = match targets.len() {
        0 => vec![&Target::Top1; n],
        1 => vec![&targets[0]; n],
        m if m == n => targets.iter().collect(),
        m => {
            return Err(Error::arg("cam", format!("{m} targets for a batch of {n}: give none, one, or one per image")))
        }
    };
    let mut rows = vec![0.0f32; n * k];
    let mut top1 = vec![false; n];
    for (i, t) in per_image.into_iter().enumerate() {
        match t {
            Target::Top1 => top1[i] = true,
            Target::Class(c) => {
                check_class(*c, k)?;
                rows[i * k + c] = 1.0;
            }
            Target::Weighted(pairs) => {
                for &(c, wt) in pairs {
                    check_class(c, k)?;
                    rows[i * k + c] += wt;
                }
            }
        }
    }
    Ok((rows, top1))
}

fn check_class(c: usize, k: usize) -> Result<()> {
    if c >= k {
        return Err(Error::arg("cam", format!("class {c} out of range: the model has {k} classes")));
    }
    Ok(())
}

/// The linear layer's weights `[classes, C]` when `layer` feeds global average pooling,
/// flatten and a linear layer (plain CAM's requirement).
fn linear_head(graph: &Graph, layer: TensorId) -> Result<&Tensor> {
    let err = || {
        Error::arg(
            "cam",
            format!(
                "plain CAM needs `{}` to feed global average pooling, flatten and a linear layer",
                graph.name(layer)
            ),
        )
    };
    let next = |t: TensorId| -> Option<&crate::graph::Node> {
        let mut it = graph.nodes().iter().filter(|n| n.inputs.contains(&t));
        let first = it.next()?;
        it.next().is_none().then_some(first)
    };
    let gap = next(layer).filter(|n| matches!(n.op, Op::GlobalAvgPool2d)).ok_or_else(err)?;
    let flat = next(gap.output).filter(|n| matches!(n.op, Op::Flatten)).ok_or_else(err)?;
    let fc = next(flat.output).ok_or_else(err)?;
    match &fc.op {
        Op::Linear { weight, .. } if fc.output == graph.output() => Ok(weight),
        _ => Err(err()),
    }
}

/// Score-CAM weights `[N, C]`: softmax over channels of the target scores of the input masked
/// by each channel (upsampled with aligned corners, min-max scaled with epsilon 1e-8).
fn score_cam_weights(gpu: &Gpu, graph: &Graph, x: &Tensor, a: &Tensor, seed: &Tensor, batch: usize) -> Result<Tensor> {
    let [n, c, ah, aw] = a.shape().nchw("scorecam")?;
    let [_, ch, h, w] = x.shape().nchw("scorecam")?;
    let batch = batch.max(1);
    let mut per_image = Vec::with_capacity(n);
    for img in 0..n {
        let mut sizes = vec![batch; c / batch];
        if c % batch != 0 {
            sizes.push(c % batch);
        }
        // The activations of this image as [C, 1, h, w], cut into batches of channels; each batch
        // is upsampled only when its masked inputs are made, so memory stays bounded.
        let (chunks, x_n, seed_n) = gpu.run(|rec| {
            let a_n = ops::split(rec, a, 0, &vec![1; n])?.swap_remove(img).reshape([c, 1, ah, aw])?;
            let chunks = if sizes.len() == 1 { vec![a_n] } else { ops::split(rec, &a_n, 0, &sizes)? };
            let x_n = ops::split(rec, x, 0, &vec![1; n])?.swap_remove(img);
            let seed_n = ops::split(rec, seed, 0, &vec![1; n])?.swap_remove(img);
            Ok((chunks, x_n, seed_n))
        })?;
        let mut scores = Vec::with_capacity(chunks.len());
        for chunk in &chunks {
            scores.push(gpu.run(|rec| {
                let up = ops::resize_bilinear(rec, chunk, [h, w], CoordMode::AlignCorners)?;
                let m = ops::plane_normalize(rec, &up, h * w, 1e-8)?;
                let masked = ops::mul(rec, &x_n, &m)?; // [b, ch, H, W]
                debug_assert_eq!(masked.dims()[1], ch);
                let out = graph.forward(rec, &masked, &Keep::default())?;
                ops::gemm(rec, out.output(), &seed_n, None, &Gemm { trans_b: true, ..Default::default() })
            })?);
        }
        per_image.push(gpu.run(|rec| {
            let refs: Vec<&Tensor> = scores.iter().collect();
            let s = ops::concat(rec, &refs, 0)?.reshape([1, c])?;
            ops::softmax(rec, &s, 1)
        })?);
    }
    gpu.run(|rec| {
        let refs: Vec<&Tensor> = per_image.iter().collect();
        ops::concat(rec, &refs, 0)
    })
}

/// Ablation-CAM weights `[N, C]`: `(score - ablated score) / score`, each channel of `layer`
/// ablated in turn and the rest of the network re-run from there.
fn ablation_cam_weights(
    gpu: &Gpu,
    graph: &Graph,
    layer: TensorId,
    a: &Tensor,
    logits: &Tensor,
    seed: &Tensor,
    batch: usize,
) -> Result<Tensor> {
    let [n, c, _, _] = a.shape().nchw("ablationcam")?;
    let batch = batch.max(1);
    let dot = Gemm { trans_b: true, ..Default::default() };
    let mut per_image = Vec::with_capacity(n);
    for img in 0..n {
        let (a_n, seed_n, orig) = gpu.run(|rec| {
            let ones = vec![1; n];
            let a_n = ops::split(rec, a, 0, &ones)?.swap_remove(img);
            let seed_n = ops::split(rec, seed, 0, &ones)?.swap_remove(img);
            let logit_n = ops::split(rec, logits, 0, &ones)?.swap_remove(img);
            let orig = ops::gemm(rec, &logit_n, &seed_n, None, &dot)?; // [1, 1]
            Ok((a_n, seed_n, orig))
        })?;
        let mut scores = Vec::new();
        for first in (0..c).step_by(batch) {
            let copies = batch.min(c - first);
            scores.push(gpu.run(|rec| {
                let ablated = ops::ablate_channels(rec, &a_n, first, copies, batch)?;
                let out = graph.forward_from(rec, layer, &ablated)?;
                ops::gemm(rec, &out, &seed_n, None, &dot)
            })?);
        }
        per_image.push(gpu.run(|rec| {
            let refs: Vec<&Tensor> = scores.iter().collect();
            let s = ops::concat(rec, &refs, 0)?.reshape([1, c])?;
            let drop = ops::sub(rec, &orig, &s)?;
            ops::div(rec, &drop, &orig)
        })?);
    }
    gpu.run(|rec| {
        let refs: Vec<&Tensor> = per_image.iter().collect();
        ops::concat(rec, &refs, 0)
    })
}

/// Guided backpropagation: the gradient of the target scores with respect to the input
/// `[N, C, H, W]`, with every ReLU passing only positive gradients through positive inputs.
pub fn guided_backprop(gpu: &Gpu, graph: &Graph, x: &Tensor, targets: &[Target]) -> Result<Tensor> {
    let n = x.dims().first().copied().unwrap_or(0);
    let &[k] = graph.item_shape(graph.output()) else {
        return Err(Error::shape("guided_backprop", "the output must be [N, classes]"));
    };
    let (explicit, top1) = seed_rows(targets, n, k)?;
    gpu.run(|rec| {
        let input = graph.input();
        let acts: Activations = graph.forward(rec, x, &Keep::backward_to(input))?;
        let (seed, _) = ops::cam_target_seed(rec, acts.output(), &explicit, &top1)?;
        let grads = graph.backward(rec, &acts, &seed, input, ReluGrad::Guided)?;
        Ok(grads.get(input).expect("the input's gradient").clone())
    })
}

/// Guided Grad-CAM: guided backpropagation times the heatmap of `opts` (broadcast over the
/// input's channels), `[N, C, H, W]`.
pub fn guided_gradcam(gpu: &Gpu, graph: &Graph, x: &Tensor, opts: &CamOptions) -> Result<Tensor> {
    let cam = explain(gpu, graph, x, opts)?;
    let gb = guided_backprop(gpu, graph, x, &opts.targets)?;
    gpu.run(|rec| ops::mul(rec, &gb, &cam.heatmap))
}

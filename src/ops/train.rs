//! Training kernels: batch normalisation in training mode (batch statistics, running-statistics
//! update, backward), mean softmax cross-entropy with its gradient and accuracy count, and the
//! in-place optimizer steps SGD (momentum, coupled weight decay) and AdamW.
//!
//! Every reduction is split so that no shader invocation loops more than a few thousand times
//! (Mesa llvmpipe silently stops an invocation after 65535 loop iterations in total): long
//! channels and long batches are reduced by several dispatches recorded in order, the first
//! storing and later ones adding.

use bytemuck::{Pod, Zeroable};

use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// Most loop iterations one invocation of a reduction runs per dispatch (per stage); the
/// positions of a channel (or the rows of a batch) are split into slices of at most
/// `workgroup size * LOOP_CHUNK`, one dispatch each.
const LOOP_CHUNK: usize = 4096;

/// Mirrors `Params` in `shaders/batch_norm_train.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct BatchNormTrainParams {
    len: u32,
    c: u32,
    inner: u32,
    count: u32,
    begin: u32,
    end: u32,
    stage: u32,
    accumulate: u32,
    finalize: u32,
    momentum: f32,
    eps: f32,
    _pad: u32,
}

impl BatchNormTrainParams {
    /// The sizes of `[N, C, inner]` values (`count = N * inner` per channel); the slice fields
    /// start at 0, `len` at `C`.
    fn new(
        op: &'static str,
        c: usize,
        inner: usize,
        count: usize,
        momentum: f32,
        eps: f32,
    ) -> Result<BatchNormTrainParams> {
        Ok(BatchNormTrainParams {
            len: to_u32(op, "C", c)?,
            c: to_u32(op, "C", c)?,
            inner: to_u32(op, "H*W", inner)?,
            count: to_u32(op, "N*H*W", count)?,
            begin: 0,
            end: 0,
            stage: 0,
            accumulate: 0,
            finalize: 0,
            momentum,
            eps,
            _pad: 0,
        })
    }
}

/// Mirrors `Params` in `shaders/cross_entropy.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct CrossEntropyParams {
    n: u32,
    k: u32,
    begin: u32,
    end: u32,
    accumulate: u32,
    _pad: [u32; 3],
}

/// Mirrors `Params` in `shaders/optimizer.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct OptimizerParams {
    len: u32,
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    beta2: f32,
    eps: f32,
    step_size: f32,
    bc2_sqrt: f32,
    one_minus_b1: f32,
    one_minus_b2: f32,
    decay: f32,
    _pad: u32,
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::BATCH_NORM_TRAIN.name, std::mem::size_of::<BatchNormTrainParams>()));
    v.push((shaders::CROSS_ENTROPY.name, std::mem::size_of::<CrossEntropyParams>()));
    v.push((shaders::OPTIMIZER.name, std::mem::size_of::<OptimizerParams>()));
}

/// Slices `[begin, end)` of `0..len` of at most `chunk` each, in order; one empty slice when
/// `len` is 0.
fn slices(len: usize, chunk: usize) -> impl Iterator<Item = (usize, usize)> {
    let count = len.div_ceil(chunk).max(1);
    (0..count).map(move |i| (i * chunk, ((i + 1) * chunk).min(len)))
}

/// Errors unless every tensor of `ts` has its own buffer (a buffer written in place must not
/// also be bound as another operand of the same dispatch).
fn distinct(op: &'static str, ts: &[(&str, &Tensor)]) -> Result<()> {
    for (i, (a, ta)) in ts.iter().enumerate() {
        for (b, tb) in &ts[i + 1..] {
            if ta.buffer() == tb.buffer() {
                return Err(Error::arg(op, format!("{a} and {b} must be different tensors")));
            }
        }
    }
    Ok(())
}

/// Checks `x` `[N, C, ...]` f32 and each of `per_channel` f32 with `C` values; returns
/// `(N, C, inner)` with at least two values per channel (a batch variance needs them).
fn check_train(
    op: &'static str,
    what: &str,
    x: &Tensor,
    per_channel: &[(&str, &Tensor)],
) -> Result<(usize, usize, usize)> {
    x.expect_dtype(op, DType::F32)?;
    let dims = x.dims();
    if dims.len() < 2 {
        return Err(Error::shape(op, format!("{what} {} must have at least 2 dimensions [N, C, ...]", x.shape())));
    }
    let (n, c, inner) = (dims[0], dims[1], dims[2..].iter().product::<usize>());
    for (name, t) in per_channel {
        t.expect_dtype(op, DType::F32)?;
        if t.numel() != c {
            return Err(Error::shape(
                op,
                format!("{name} {} must hold C = {c} values for {what} {}", t.shape(), x.shape()),
            ));
        }
    }
    if c > 0 && n * inner < 2 {
        return Err(Error::shape(
            op,
            format!("{what} {} has {} value per channel; training batch norm needs more than 1", x.shape(), n * inner),
        ));
    }
    to_u32(op, "element count", x.numel())?;
    Ok((n, c, inner))
}

/// Values of a plane one invocation of the per-plane elementwise entries walks at most
/// (PLANE_SLICE in shaders/batch_norm_train.wgsl; llvmpipe stops loops after 65535 iterations).
const PLANE_SLICE: usize = 16384;

/// The entry, the `len` and the workgroup size of one of batch norm's elementwise passes over
/// `t` (`[N, C, inner]`), whose entry points are `[per_element, per_plane]`: on CPU adapters
/// the per-plane one, one invocation per slice of an (n, c) plane (a training step of the demo
/// model spent about a tenth of its GPU time in the per-element forms' divisions and parameter
/// loads), else one invocation per element.
fn elementwise_entry(
    rec: &Recorder,
    op: &'static str,
    [per_element, per_plane]: [&'static str; 2],
    t: &Tensor,
) -> Result<(&'static str, u32, u32)> {
    if rec.gpu().is_cpu() {
        let planes = t.dims()[0] * t.dims()[1];
        let slices = planes * (t.numel() / planes.max(1)).div_ceil(PLANE_SLICE);
        return Ok((per_plane, to_u32(op, "plane slices", slices)?, 8));
    }
    Ok((per_element, to_u32(op, "element count", t.numel())?, WG_1D))
}

/// Workgroup size of a per-channel reduction over `count` values: a power of two, 32..=256.
fn reduction_wg(count: usize) -> u32 {
    count.next_power_of_two().clamp(32, 256) as u32
}

/// Training-mode batch norm over axis 1 of `x` `[N, C, ...]` (NCHW, or `[N, C]`): the batch
/// mean and biased variance of every channel (a workgroup reduction per channel), then
/// `y = (x - mean) / sqrt(var + eps) * scale + bias`. Also updates `running_mean` and
/// `running_var` in place on the GPU as PyTorch does:
/// `running = (1 - momentum) * running + momentum * batch_stat`, with the unbiased variance
/// (`* count / (count - 1)`) for `running_var`. `scale`, `bias` and the running statistics hold
/// `C` values each (any shape). Returns `(y, saved_mean, saved_invstd)`, the last two `[C]`
/// (`saved_invstd = 1 / sqrt(var + eps)`), for [`batch_norm_train_backward`]. Every channel
/// needs at least two values (`N * H * W > 1`).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_train(
    rec: &mut Recorder,
    x: &Tensor,
    scale: &Tensor,
    bias: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    momentum: f32,
    eps: f32,
) -> Result<(Tensor, Tensor, Tensor)> {
    let op = "batch_norm_train";
    let (n, c, inner) = check_train(
        op,
        "input",
        x,
        &[("scale", scale), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)],
    )?;
    if !eps.is_finite() || eps < 0.0 {
        return Err(Error::arg(op, format!("eps = {eps} must be finite and not negative")));
    }
    if !momentum.is_finite() {
        return Err(Error::arg(op, format!("momentum = {momentum} must be finite")));
    }
    distinct(op, &[("x", x), ("running_mean", running_mean), ("running_var", running_var)])?;
    let count = n * inner;
    let y = rec.alloc(x.shape().clone(), DType::F32)?;
    let saved_mean = rec.alloc([c], DType::F32)?;
    let saved_invstd = rec.alloc([c], DType::F32)?;
    if c == 0 || x.numel() == 0 {
        return Ok((y, saved_mean, saved_invstd));
    }
    let acc = rec.alloc([2 * c], DType::F32)?;
    let wg = reduction_wg(count);
    let base = BatchNormTrainParams::new(op, c, inner, count, momentum, eps)?;
    let parts: Vec<_> = slices(count, wg as usize * LOOP_CHUNK).collect();
    for stage in 0..2u32 {
        for (i, &(begin, end)) in parts.iter().enumerate() {
            let params = BatchNormTrainParams {
                begin: begin as u32,
                end: end as u32,
                stage,
                accumulate: (i > 0) as u32,
                finalize: (stage == 1 && i + 1 == parts.len()) as u32,
                ..base
            };
            rec.dispatch(
                &shaders::BATCH_NORM_TRAIN,
                "batch_norm_train_stats",
                &[("WG", wg as f64)],
                &params,
                &[x, &saved_mean, &saved_invstd, running_mean, running_var, &acc],
                grid_1d(c as u64, 1),
            )?;
        }
    }
    let (entry, len, wg) = elementwise_entry(rec, op, ["batch_norm_train_apply", "batch_norm_train_apply_planes"], x)?;
    rec.dispatch(
        &shaders::BATCH_NORM_TRAIN,
        entry,
        &[("WG", wg as f64)],
        &BatchNormTrainParams { len, ..base },
        &[x, &saved_mean, &saved_invstd, scale, bias, &y],
        grid_1d(len as u64, wg),
    )?;
    Ok((y, saved_mean, saved_invstd))
}

/// The backward of [`batch_norm_train`] (PyTorch's formula for training mode, the batch
/// statistics depending on `x`): for output gradient `dy` and input `x` (both `[N, C, ...]`),
/// `scale` and the `saved_mean` / `saved_invstd` it returned (`C` values each), returns
/// `(dx, dscale, dbias)` with `xhat = (x - mean) * invstd`, `dbias = sum dy`,
/// `dscale = sum dy * xhat` (sums over every position of a channel, `M` of them) and
/// `dx = scale * invstd / M * (M * dy - dbias - xhat * dscale)`.
pub fn batch_norm_train_backward(
    rec: &mut Recorder,
    dy: &Tensor,
    x: &Tensor,
    scale: &Tensor,
    saved_mean: &Tensor,
    saved_invstd: &Tensor,
) -> Result<(Tensor, Tensor, Tensor)> {
    let op = "batch_norm_train_backward";
    let (n, c, inner) = check_train(
        op,
        "gradient",
        dy,
        &[("scale", scale), ("saved_mean", saved_mean), ("saved_invstd", saved_invstd)],
    )?;
    x.expect_dtype(op, DType::F32)?;
    if x.dims() != dy.dims() {
        return Err(Error::shape(
            op,
            format!("input {} and gradient {} must have the same shape", x.shape(), dy.shape()),
        ));
    }
    // saved_mean, saved_invstd and dy are bound read_write (shared bindings of the shader).
    distinct(op, &[("dy", dy), ("x", x), ("saved_mean", saved_mean), ("saved_invstd", saved_invstd)])?;
    distinct(op, &[("dy", dy), ("scale", scale), ("saved_mean", saved_mean), ("saved_invstd", saved_invstd)])?;
    let count = n * inner;
    let dx = rec.alloc(dy.shape().clone(), DType::F32)?;
    let dscale = rec.alloc([c], DType::F32)?;
    let dbias = rec.alloc([c], DType::F32)?;
    if c == 0 || dy.numel() == 0 {
        return Ok((dx, dscale, dbias));
    }
    let wg = reduction_wg(count);
    let base = BatchNormTrainParams::new(op, c, inner, count, 0.0, 0.0)?;
    for (i, (begin, end)) in slices(count, wg as usize * LOOP_CHUNK).enumerate() {
        let params = BatchNormTrainParams { begin: begin as u32, end: end as u32, accumulate: (i > 0) as u32, ..base };
        rec.dispatch(
            &shaders::BATCH_NORM_TRAIN,
            "batch_norm_train_backward_reduce",
            &[("WG", wg as f64)],
            &params,
            &[x, saved_mean, saved_invstd, dy, &dscale, &dbias],
            grid_1d(c as u64, 1),
        )?;
    }
    let (entry, len, wg) =
        elementwise_entry(rec, op, ["batch_norm_train_backward_dx", "batch_norm_train_backward_dx_planes"], dy)?;
    rec.dispatch(
        &shaders::BATCH_NORM_TRAIN,
        entry,
        &[("WG", wg as f64)],
        &BatchNormTrainParams { len, ..base },
        &[x, saved_mean, saved_invstd, dy, &dscale, &dbias, scale, &dx],
        grid_1d(len as u64, wg),
    )?;
    Ok((dx, dscale, dbias))
}

/// Mean softmax cross-entropy of `logits` `[N, K]` (f32) against integer `labels` (a U32 tensor
/// `[N]`, values in `0..K`): returns `(loss [1], dlogits [N, K], correct [1])` with
/// `loss = mean over rows of (logsumexp(row) - row[label])`,
/// `dlogits = (softmax - onehot(label)) / N`, and `correct` the number of rows whose argmax (the
/// first index of the maximum) equals the label, as f32. One workgroup per row; a label outside
/// `0..K` (only visible on the GPU) makes the loss NaN.
pub fn softmax_cross_entropy(rec: &mut Recorder, logits: &Tensor, labels: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    let op = "softmax_cross_entropy";
    logits.expect_dtype(op, DType::F32)?;
    labels.expect_dtype(op, DType::U32)?;
    let &[n, k] = logits.dims() else {
        return Err(Error::shape(op, format!("logits {} must be 2-D [N, K]", logits.shape())));
    };
    if labels.dims() != [n] {
        return Err(Error::shape(
            op,
            format!("labels {} must be [N] = [{n}] for logits {}", labels.shape(), logits.shape()),
        ));
    }
    if n == 0 || k == 0 {
        return Err(Error::shape(op, format!("logits {} must have at least one row and one class", logits.shape())));
    }
    let wg = k.next_power_of_two().clamp(32, 256);
    if k > wg * LOOP_CHUNK {
        return Err(Error::arg(op, format!("K = {k} classes exceeds the supported {}", wg * LOOP_CHUNK)));
    }
    let rows_count = n.checked_mul(2).ok_or_else(|| Error::arg(op, "batch too large"))?;
    let base = CrossEntropyParams {
        n: to_u32(op, "N", n)?,
        k: to_u32(op, "K", k)?,
        begin: 0,
        end: 0,
        accumulate: 0,
        _pad: [0; 3],
    };
    to_u32(op, "element count", logits.numel())?;
    to_u32(op, "2 N", rows_count)?;
    let dlogits = rec.alloc(logits.shape().clone(), DType::F32)?;
    let rows = rec.alloc([rows_count], DType::F32)?;
    let loss = rec.alloc([1], DType::F32)?;
    let correct = rec.alloc([1], DType::F32)?;
    rec.dispatch(
        &shaders::CROSS_ENTROPY,
        "softmax_cross_entropy_rows",
        &[("WG", wg as f64)],
        &base,
        &[&rows, &dlogits, logits, labels],
        grid_1d(n as u64, 1),
    )?;
    for (i, (begin, end)) in slices(n, 256 * LOOP_CHUNK).enumerate() {
        let params = CrossEntropyParams { begin: begin as u32, end: end as u32, accumulate: (i > 0) as u32, ..base };
        rec.dispatch(
            &shaders::CROSS_ENTROPY,
            "softmax_cross_entropy_sum",
            &[("WG", 256.0)],
            &params,
            &[&rows, &loss, &correct],
            [1, 1, 1],
        )?;
    }
    Ok((loss, dlogits, correct))
}

/// The shortest decimal that rounds to `x`, as f64: the value the caller most likely wrote.
fn decimal(x: f32) -> f64 {
    format!("{x}").parse().unwrap_or(x as f64)
}

/// Checks the operands of an optimizer step: all f32, `grad` and each state tensor of `w`'s
/// shape, all different tensors. Returns the element count.
fn check_step(op: &'static str, w: &Tensor, grad: &Tensor, state: &[(&str, &Tensor)]) -> Result<u32> {
    let mut all = vec![("w", w), ("grad", grad)];
    all.extend_from_slice(state);
    for (name, t) in &all {
        t.expect_dtype(op, DType::F32)?;
        if t.dims() != w.dims() {
            return Err(Error::shape(op, format!("{name} {} must have the shape of w {}", t.shape(), w.shape())));
        }
    }
    distinct(op, &all)?;
    to_u32(op, "element count", w.numel())
}

/// In-place SGD with momentum and coupled (PyTorch-style) weight decay, for every value of `w`:
/// `g = grad + weight_decay * w; velocity = momentum * velocity + g; w -= lr * velocity`.
/// `grad` and `velocity` have `w`'s shape; `w` and `velocity` are written in place (start
/// `velocity` at zero: PyTorch's first step, `velocity = g`, is then the same).
pub fn sgd_step(
    rec: &mut Recorder,
    w: &Tensor,
    grad: &Tensor,
    velocity: &Tensor,
    lr: f32,
    momentum: f32,
    weight_decay: f32,
) -> Result<()> {
    let op = "sgd_step";
    let len = check_step(op, w, grad, &[("velocity", velocity)])?;
    for (name, v) in [("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)] {
        if !v.is_finite() {
            return Err(Error::arg(op, format!("{name} = {v} must be finite")));
        }
    }
    let params = OptimizerParams {
        len,
        lr,
        momentum,
        weight_decay,
        beta2: 0.0,
        eps: 0.0,
        step_size: 0.0,
        bc2_sqrt: 0.0,
        one_minus_b1: 0.0,
        one_minus_b2: 0.0,
        decay: 0.0,
        _pad: 0,
    };
    if len > 0 {
        rec.dispatch(
            &shaders::OPTIMIZER,
            op,
            &[("WG", WG_1D as f64)],
            &params,
            &[w, grad, velocity],
            grid_1d(len as u64, WG_1D),
        )?;
    }
    Ok(())
}

/// In-place AdamW step `t` (1 for the first step; used for the bias corrections), PyTorch's
/// `torch.optim.AdamW` with decoupled weight decay: `w *= 1 - lr * weight_decay;
/// m = beta1 * m + (1 - beta1) * grad; v = beta2 * v + (1 - beta2) * grad^2;
/// w -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)`. `grad`, `m` and `v` have
/// `w`'s shape; `w`, `m` and `v` are written in place (start `m` and `v` at zero). The scalar
/// factors (`1 - beta`, the bias corrections, `1 - lr * weight_decay`) are computed on the host
/// in f64 from the shortest decimal of each f32 argument, as PyTorch computes them from Python
/// floats.
#[allow(clippy::too_many_arguments)]
pub fn adamw_step(
    rec: &mut Recorder,
    w: &Tensor,
    grad: &Tensor,
    m: &Tensor,
    v: &Tensor,
    t: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
) -> Result<()> {
    let op = "adamw_step";
    let len = check_step(op, w, grad, &[("m", m), ("v", v)])?;
    if t == 0 {
        return Err(Error::arg(op, "step t must be at least 1"));
    }
    for (name, x) in [("lr", lr), ("eps", eps), ("weight_decay", weight_decay)] {
        if !x.is_finite() {
            return Err(Error::arg(op, format!("{name} = {x} must be finite")));
        }
    }
    for (name, b) in [("beta1", beta1), ("beta2", beta2)] {
        if !(0.0..1.0).contains(&b) {
            return Err(Error::arg(op, format!("{name} = {b} must be in [0, 1)")));
        }
    }
    // The host scalars are computed in f64 from the decimal each f32 stands for, as PyTorch
    // computes them from Python floats: 1 - 0.999f32 differs from 1 - 0.999 by 1.3e-5 relative.
    let (lr_d, b1, b2, wd) = (decimal(lr), decimal(beta1), decimal(beta2), decimal(weight_decay));
    let ti = t.min(i32::MAX as u32) as i32;
    let bc1 = 1.0 - b1.powi(ti);
    let bc2 = 1.0 - b2.powi(ti);
    let params = OptimizerParams {
        len,
        lr,
        momentum: beta1,
        weight_decay,
        beta2,
        eps,
        step_size: (lr_d / bc1) as f32,
        bc2_sqrt: bc2.sqrt() as f32,
        one_minus_b1: (1.0 - b1) as f32,
        one_minus_b2: (1.0 - b2) as f32,
        decay: (1.0 - lr_d * wd) as f32,
        _pad: 0,
    };
    if len > 0 {
        rec.dispatch(
            &shaders::OPTIMIZER,
            op,
            &[("WG", WG_1D as f64)],
            &params,
            &[w, grad, m, v],
            grid_1d(len as u64, WG_1D),
        )?;
    }
    Ok(())
}

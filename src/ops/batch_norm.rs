//! Batch normalisation in its inference form, standalone or folded into the preceding
//! convolution's weights.

use bytemuck::{Pod, Zeroable};

use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// Mirrors `Params` in `shaders/batch_norm.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct BatchNormParams {
    len: u32,
    c: u32,
    inner: u32,
    eps: f32,
}

/// Mirrors `Params` in `shaders/batch_norm_backward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct BatchNormBackwardParams {
    len: u32,
    c: u32,
    inner: u32,
    n: u32,
    eps: f32,
    _pad: [u32; 3],
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::BATCH_NORM.name, std::mem::size_of::<BatchNormParams>()));
    v.push((shaders::BATCH_NORM_BACKWARD.name, std::mem::size_of::<BatchNormBackwardParams>()));
}

/// Inference batch normalisation with running statistics:
/// `y = (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c]` for every value of channel
/// `c` of `x` `[N, C, ...]` (NCHW, or `[N, C]` after a flatten). `scale`, `bias`, `mean` and
/// `var` hold `C` values each (any shape).
pub fn batch_norm(
    rec: &mut Recorder,
    x: &Tensor,
    scale: &Tensor,
    bias: &Tensor,
    mean: &Tensor,
    var: &Tensor,
    eps: f32,
) -> Result<Tensor> {
    let op = "batch_norm";
    let (store, shader) = super::storage_of(rec, op, &shaders::BATCH_NORM, &[x])?;
    let dims = x.dims();
    if dims.len() < 2 {
        return Err(Error::shape(op, format!("input {} must have at least 2 dimensions [N, C, ...]", x.shape())));
    }
    let c = dims[1];
    for (name, t) in [("scale", scale), ("bias", bias), ("mean", mean), ("var", var)] {
        t.expect_dtype(op, DType::F32)?;
        if t.numel() != c {
            return Err(Error::shape(
                op,
                format!("{name} {} must hold C = {c} values for input {}", t.shape(), x.shape()),
            ));
        }
    }
    if !eps.is_finite() || eps < 0.0 {
        return Err(Error::arg(op, format!("eps = {eps} must be finite and not negative")));
    }
    let inner: usize = dims[2..].iter().product();
    let len = to_u32(op, "element count", x.numel())?;
    let y = rec.alloc(x.shape().clone(), store)?;
    let params = BatchNormParams { len, c: to_u32(op, "C", c)?, inner: to_u32(op, "H*W", inner)?, eps };
    if len > 0 {
        rec.dispatch(
            &shader,
            "batch_norm",
            &[("WG", WG_1D as f64)],
            &params,
            &[x, scale, bias, mean, var, &y],
            grid_1d(len as u64, WG_1D),
        )?;
    }
    Ok(y)
}

/// Checks the operands of a batch-norm backward: `dy` `[N, C, ...]` f32, each of `per_channel`
/// f32 with `C` values, `eps` finite and not negative. Returns `(N, C, inner)`.
fn check_backward(
    op: &'static str,
    dy: &Tensor,
    per_channel: &[(&str, &Tensor)],
    eps: f32,
) -> Result<(usize, usize, usize)> {
    dy.expect_dtype(op, DType::F32)?;
    let dims = dy.dims();
    if dims.len() < 2 {
        return Err(Error::shape(op, format!("gradient {} must have at least 2 dimensions [N, C, ...]", dy.shape())));
    }
    let c = dims[1];
    for (name, t) in per_channel {
        t.expect_dtype(op, DType::F32)?;
        if t.numel() != c {
            return Err(Error::shape(
                op,
                format!("{name} {} must hold C = {c} values for gradient {}", t.shape(), dy.shape()),
            ));
        }
    }
    if !eps.is_finite() || eps < 0.0 {
        return Err(Error::arg(op, format!("eps = {eps} must be finite and not negative")));
    }
    to_u32(op, "element count", dy.numel())?;
    Ok((dims[0], c, dims[2..].iter().product()))
}

/// The input gradient of inference [`batch_norm`]: `dx = dy * scale[c] / sqrt(var[c] + eps)`
/// for every value of channel `c` of `dy` `[N, C, ...]` (the running statistics are constants
/// in inference). `scale` and `var` hold `C` values each (any shape).
pub fn batch_norm_backward(rec: &mut Recorder, dy: &Tensor, scale: &Tensor, var: &Tensor, eps: f32) -> Result<Tensor> {
    let op = "batch_norm_backward";
    let (n, c, inner) = check_backward(op, dy, &[("scale", scale), ("var", var)], eps)?;
    let dx = rec.alloc(dy.shape().clone(), DType::F32)?;
    let len = to_u32(op, "element count", dy.numel())?;
    let params = BatchNormBackwardParams {
        len,
        c: to_u32(op, "C", c)?,
        inner: to_u32(op, "inner size", inner)?,
        n: to_u32(op, "N", n)?,
        eps,
        _pad: [0; 3],
    };
    if len > 0 {
        rec.dispatch(
            &shaders::BATCH_NORM_BACKWARD,
            op,
            &[("WG", WG_1D as f64)],
            &params,
            &[dy, scale, var, &dx],
            grid_1d(len as u64, WG_1D),
        )?;
    }
    Ok(dx)
}

/// The parameter gradients of inference [`batch_norm`] for input `x` and output gradient `dy`
/// (both `[N, C, ...]`): `(dscale, dbias)`, each `[C]`, with
/// `dscale[c] = sum dy * (x - mean[c]) / sqrt(var[c] + eps)` and `dbias[c] = sum dy`, the sums
/// over every position of channel `c` (all axes but the channel axis). `mean` and `var` hold
/// `C` values each. One workgroup per channel reduces in workgroup memory.
pub fn batch_norm_backward_params(
    rec: &mut Recorder,
    dy: &Tensor,
    x: &Tensor,
    mean: &Tensor,
    var: &Tensor,
    eps: f32,
) -> Result<(Tensor, Tensor)> {
    let op = "batch_norm_backward_params";
    let (n, c, inner) = check_backward(op, dy, &[("mean", mean), ("var", var)], eps)?;
    x.expect_dtype(op, DType::F32)?;
    if x.dims() != dy.dims() {
        return Err(Error::shape(
            op,
            format!("input {} and gradient {} must have the same shape", x.shape(), dy.shape()),
        ));
    }
    let dscale = rec.alloc([c], DType::F32)?;
    let dbias = rec.alloc([c], DType::F32)?;
    let params = BatchNormBackwardParams {
        len: to_u32(op, "C", c)?,
        c: to_u32(op, "C", c)?,
        inner: to_u32(op, "inner size", inner)?,
        n: to_u32(op, "N", n)?,
        eps,
        _pad: [0; 3],
    };
    // Small channels get small workgroups so that few invocations idle (a power of two, 32..=256).
    let wg = (n * inner).next_power_of_two().clamp(32, 256);
    if c > 0 {
        rec.dispatch(
            &shaders::BATCH_NORM_BACKWARD,
            op,
            &[("WG", wg as f64)],
            &params,
            &[dy, x, var, &dscale, &dbias, mean],
            grid_1d(c as u64, 1),
        )?;
    }
    Ok((dscale, dbias))
}

/// Host-side fold of an inference batch norm into the preceding convolution: returns weights
/// `[C_out, C_in/groups, KH, KW]` and bias `[C_out]` such that the convolution with them equals
/// `batch_norm(conv(x, weights, bias), scale, shift, mean, var, eps)`. Computed in f64:
/// `a = scale / sqrt(var + eps)`, `w' = w * a`, `b' = (b - mean) * a + shift` (`b` = 0 when
/// the convolution has no bias).
#[allow(clippy::too_many_arguments)]
pub fn fold_batch_norm(
    weights: &[f32],
    w_shape: [usize; 4],
    bias: Option<&[f32]>,
    scale: &[f32],
    shift: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f32,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let op = "fold_batch_norm";
    let cout = w_shape[0];
    let per_out: usize = w_shape[1..].iter().product();
    let count = w_shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if count != Some(weights.len()) {
        return Err(Error::shape(op, format!("{} weights given for shape {w_shape:?}", weights.len())));
    }
    let mut vectors = vec![("scale", scale), ("shift", shift), ("mean", mean), ("var", var)];
    if let Some(b) = bias {
        vectors.push(("bias", b));
    }
    for (name, v) in vectors {
        if v.len() != cout {
            return Err(Error::shape(
                op,
                format!("{name} has {} values, weights {w_shape:?} need C_out = {cout}", v.len()),
            ));
        }
    }
    let mut a = Vec::with_capacity(cout);
    for c in 0..cout {
        let d = var[c] as f64 + eps as f64;
        if !(d > 0.0 && d.is_finite()) {
            return Err(Error::arg(op, format!("var[{c}] + eps = {d} must be positive and finite")));
        }
        a.push(scale[c] as f64 / d.sqrt());
    }
    let w: Vec<f32> = weights.iter().enumerate().map(|(i, &w)| (w as f64 * a[i / per_out.max(1)]) as f32).collect();
    let b = (0..cout)
        .map(|c| ((bias.map_or(0.0, |b| b[c] as f64) - mean[c] as f64) * a[c] + shift[c] as f64) as f32)
        .collect();
    Ok((w, b))
}

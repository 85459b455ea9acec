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

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::BATCH_NORM.name, std::mem::size_of::<BatchNormParams>()));
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
    x.expect_dtype(op, DType::F32)?;
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
    let y = Tensor::empty(rec.gpu(), x.shape().clone(), DType::F32)?;
    let params = BatchNormParams { len, c: to_u32(op, "C", c)?, inner: to_u32(op, "H*W", inner)?, eps };
    if len > 0 {
        rec.dispatch(
            &shaders::BATCH_NORM,
            "batch_norm",
            &[("WG", WG_1D as f64)],
            &params,
            &[x, scale, bias, mean, var, &y],
            grid_1d(len as u64, WG_1D),
        )?;
    }
    Ok(y)
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
            return Err(Error::shape(op, format!("{name} has {} values, weights {w_shape:?} need C_out = {cout}", v.len())));
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

//! Layer normalisation (`layer_norm`), as ONNX `LayerNormalization` and PyTorch's
//! `F.layer_norm`: each row of the trailing axes is normalised by its own mean and variance.

use bytemuck::{Pod, Zeroable};

use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// Mirrors `Params` in `shaders/layer_norm.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct LayerNormParams {
    rows: u32,
    len: u32,
    has_bias: u32,
    eps: f32,
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::LAYER_NORM.name, std::mem::size_of::<LayerNormParams>()));
}

/// `dims` without its leading ones.
fn strip_leading_ones(dims: &[usize]) -> &[usize] {
    let k = dims.iter().take_while(|&&d| d == 1).count();
    &dims[k..]
}

/// ONNX `LayerNormalization`: normalises `x` over the axes from `axis` to the last (each such
/// row by its own mean and biased variance, plus `eps`), then multiplies by `scale` and adds
/// `bias` (when given). `scale` and `bias` have the shape of the normalised axes `x.dims()[axis..]`
/// (leading ones may be added or dropped). Output: the shape of `x`.
///
/// Errors when `axis` is not below the rank of `x`, `scale` or `bias` do not match the
/// normalised axes, or `eps` is negative or not finite.
pub fn layer_norm(
    rec: &mut Recorder,
    x: &Tensor,
    axis: usize,
    scale: &Tensor,
    bias: Option<&Tensor>,
    eps: f32,
) -> Result<Tensor> {
    let op = "layer_norm";
    x.expect_dtype(op, DType::F32)?;
    scale.expect_dtype(op, DType::F32)?;
    let dims = x.dims();
    if axis >= dims.len() {
        return Err(Error::arg(op, format!("axis {axis} out of range for {} (rank {})", x.shape(), dims.len())));
    }
    if !(eps >= 0.0 && eps.is_finite()) {
        return Err(Error::arg(op, format!("epsilon {eps} must be finite and non-negative")));
    }
    let normalised = &dims[axis..];
    for (what, t) in [("scale", Some(scale)), ("bias", bias)] {
        let Some(t) = t else { continue };
        t.expect_dtype(op, DType::F32)?;
        if strip_leading_ones(t.dims()) != strip_leading_ones(normalised) {
            return Err(Error::shape(
                op,
                format!(
                    "{what} {} must have the shape {normalised:?} of the normalised axes {axis}.. of {}",
                    t.shape(),
                    x.shape()
                ),
            ));
        }
    }
    let len: usize = normalised.iter().product();
    let rows: usize = dims[..axis].iter().product();
    let y = rec.alloc(x.shape().clone(), DType::F32)?;
    to_u32(op, "element count", x.numel())?;
    if x.numel() == 0 {
        return Ok(y);
    }
    let params = LayerNormParams {
        rows: to_u32(op, "rows", rows)?,
        len: to_u32(op, "row length", len)?,
        has_bias: bias.is_some() as u32,
        eps,
    };
    // Invocations per row: about four values each, a power of two, at most a workgroup.
    let tpr = (len.div_ceil(4).next_power_of_two() as u32).min(WG_1D);
    // Unbound bindings are not allowed; a missing bias binds the scale (never read).
    let bias_buf = bias.unwrap_or(scale);
    rec.dispatch(
        &shaders::LAYER_NORM,
        "layer_norm",
        &[("WG", WG_1D as f64), ("TPR", tpr as f64)],
        &params,
        &[x, scale, bias_buf, &y],
        grid_1d(rows as u64, WG_1D / tpr),
    )?;
    Ok(y)
}

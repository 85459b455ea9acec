//! `softmax` and `log_softmax` along any axis of a tensor of any rank, numerically stable
//! (the maximum of each row is subtracted before `exp`).
//!
//! The tensor is viewed as `[outer, len, inner]` around the axis. Each row of `len` values is
//! reduced by a power-of-two number of cooperating invocations chosen from `len`: one
//! invocation per row for short axes (a handful of channels), up to a whole workgroup per row
//! with a tree reduction in workgroup memory for long ones (1000 classes).

use bytemuck::{Pod, Zeroable};

use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// Mirrors `Params` in `shaders/softmax.wgsl` and in `shaders/softmax_backward.wgsl` (the same
/// block).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SoftmaxParams {
    rows: u32,
    len: u32,
    inner: u32,
    _pad: u32,
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::SOFTMAX.name, std::mem::size_of::<SoftmaxParams>()));
    v.push((shaders::SOFTMAX_BACKWARD.name, std::mem::size_of::<SoftmaxParams>()));
}

/// Invocations per row: about four values each, a power of two, at most a workgroup.
fn threads_per_row(len: usize) -> u32 {
    (len.div_ceil(4).next_power_of_two() as u32).min(WG_1D)
}

fn run(rec: &mut Recorder, x: &Tensor, axis: usize, entry: &'static str) -> Result<Tensor> {
    x.expect_dtype(entry, DType::F32)?;
    let dims = x.dims();
    if axis >= dims.len() {
        return Err(Error::arg(entry, format!("axis {axis} out of range for {} (rank {})", x.shape(), dims.len())));
    }
    let len = dims[axis];
    let inner: usize = dims[axis + 1..].iter().product();
    let outer: usize = dims[..axis].iter().product();
    let y = rec.alloc(x.shape().clone(), DType::F32)?;
    to_u32(entry, "element count", x.numel())?;
    if x.numel() == 0 {
        return Ok(y);
    }
    let rows = outer * inner;
    let params = SoftmaxParams {
        rows: to_u32(entry, "rows", rows)?,
        len: to_u32(entry, "axis length", len)?,
        inner: to_u32(entry, "inner size", inner)?,
        _pad: 0,
    };
    let tpr = threads_per_row(len);
    rec.dispatch(
        &shaders::SOFTMAX,
        entry,
        &[("WG", WG_1D as f64), ("TPR", tpr as f64)],
        &params,
        &[x, &y],
        grid_1d(rows as u64, WG_1D / tpr),
    )?;
    Ok(y)
}

/// `exp(x) / sum(exp(x))` along `axis` (any rank; computed as `exp(x - max) / sum(exp(x - max))`).
/// Output has the shape of `x`.
pub fn softmax(rec: &mut Recorder, x: &Tensor, axis: usize) -> Result<Tensor> {
    run(rec, x, axis, "softmax")
}

/// `x - log(sum(exp(x)))` along `axis` (any rank; computed as `x - max - log(sum(exp(x - max)))`).
/// Output has the shape of `x`.
pub fn log_softmax(rec: &mut Recorder, x: &Tensor, axis: usize) -> Result<Tensor> {
    run(rec, x, axis, "log_softmax")
}

fn run_backward(rec: &mut Recorder, dy: &Tensor, y: &Tensor, axis: usize, entry: &'static str) -> Result<Tensor> {
    dy.expect_dtype(entry, DType::F32)?;
    y.expect_dtype(entry, DType::F32)?;
    if dy.dims() != y.dims() {
        return Err(Error::shape(
            entry,
            format!("gradient {} and output {} must have the same shape", dy.shape(), y.shape()),
        ));
    }
    let dims = y.dims();
    if axis >= dims.len() {
        return Err(Error::arg(entry, format!("axis {axis} out of range for {} (rank {})", y.shape(), dims.len())));
    }
    let len = dims[axis];
    let inner: usize = dims[axis + 1..].iter().product();
    let outer: usize = dims[..axis].iter().product();
    let dx = rec.alloc(y.shape().clone(), DType::F32)?;
    to_u32(entry, "element count", y.numel())?;
    if y.numel() == 0 {
        return Ok(dx);
    }
    let rows = outer * inner;
    let params = SoftmaxParams {
        rows: to_u32(entry, "rows", rows)?,
        len: to_u32(entry, "axis length", len)?,
        inner: to_u32(entry, "inner size", inner)?,
        _pad: 0,
    };
    let tpr = threads_per_row(len);
    rec.dispatch(
        &shaders::SOFTMAX_BACKWARD,
        entry,
        &[("WG", WG_1D as f64), ("TPR", tpr as f64)],
        &params,
        &[dy, y, &dx],
        grid_1d(rows as u64, WG_1D / tpr),
    )?;
    Ok(dx)
}

/// The gradient of [`softmax`] along `axis`, from its *output* `y` and the output gradient
/// `dy` (same shape): `dx = y * (dy - sum(dy * y))`, the sum along the axis.
pub fn softmax_backward(rec: &mut Recorder, dy: &Tensor, y: &Tensor, axis: usize) -> Result<Tensor> {
    run_backward(rec, dy, y, axis, "softmax_backward")
}

/// The gradient of [`log_softmax`] along `axis`, from its *output* `y` and the output
/// gradient `dy` (same shape): `dx = dy - exp(y) * sum(dy)`, the sum along the axis.
pub fn log_softmax_backward(rec: &mut Recorder, dy: &Tensor, y: &Tensor, axis: usize) -> Result<Tensor> {
    run_backward(rec, dy, y, axis, "log_softmax_backward")
}

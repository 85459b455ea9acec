//! ONNX `Slice` along one axis with a positive step (`slice`): a strided copy.

use bytemuck::{Pod, Zeroable};

use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// Mirrors `Params` in `shaders/slice.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SliceParams {
    len: u32,
    inner: u32,
    out_len: u32,
    dim: u32,
    start: u32,
    step: u32,
    _pad: [u32; 2],
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::SLICE.name, std::mem::size_of::<SliceParams>()));
}

/// The output shape of [`slice()`]: `dims` with `dims[axis]` replaced by the number of elements
/// `start, start + step, ...` below `end` (0 when `end <= start`). Errors when `axis` is out of
/// range, `step` is 0, or `start` or `end` exceeds `dims[axis]`.
pub fn slice_shape(dims: &[usize], axis: usize, start: usize, end: usize, step: usize) -> Result<Vec<usize>> {
    let op = "slice";
    if axis >= dims.len() {
        return Err(Error::arg(op, format!("axis {axis} out of range for {dims:?} (rank {})", dims.len())));
    }
    if step == 0 {
        return Err(Error::arg(op, "step must be positive"));
    }
    let dim = dims[axis];
    if start > dim || end > dim {
        return Err(Error::arg(
            op,
            format!("start {start} and end {end} must be clamped to [0, {dim}], the size of axis {axis} of {dims:?}"),
        ));
    }
    let mut out = dims.to_vec();
    out[axis] = end.saturating_sub(start).div_ceil(step);
    Ok(out)
}

/// ONNX `Slice` along one axis with a positive step: the elements `start, start + step, ...`
/// below `end` along `axis` of `x` (any rank), other axes whole. `start` and `end` must
/// already be clamped to `[0, dims[axis]]` (negative indices resolved by the caller); `end <=
/// start` gives an empty axis. Errors on an axis out of range, a zero step, or bounds past
/// the axis.
pub fn slice(rec: &mut Recorder, x: &Tensor, axis: usize, start: usize, end: usize, step: usize) -> Result<Tensor> {
    let op = "slice";
    x.expect_dtype(op, DType::F32)?;
    let out = slice_shape(x.dims(), axis, start, end, step)?;
    to_u32(op, "input element count", x.numel())?;
    let y = rec.alloc(out.clone(), DType::F32)?;
    let len = to_u32(op, "output element count", y.numel())?;
    if len == 0 {
        return Ok(y);
    }
    let params = SliceParams {
        len,
        inner: to_u32(op, "inner size", x.dims()[axis + 1..].iter().product())?,
        out_len: out[axis] as u32,
        dim: to_u32(op, "axis size", x.dims()[axis])?,
        start: start as u32,
        step: to_u32(op, "step", step)?,
        _pad: [0; 2],
    };
    rec.dispatch(&shaders::SLICE, "slice", &[("WG", WG_1D as f64)], &params, &[x, &y], grid_1d(len as u64, WG_1D))?;
    Ok(y)
}

//! Concatenation of tensors along one axis (`concat`, ONNX `Concat`, `torch.cat`).

use bytemuck::{Pod, Zeroable};

use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// Mirrors `Params` in `shaders/concat.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ConcatParams {
    len: u32,
    axis_in: u32,
    axis_out: u32,
    inner: u32,
    offset: u32,
    _pad: [u32; 3],
}

/// Mirrors `Params` in `shaders/concat_backward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SplitParams {
    len: u32,
    axis_in: u32,
    axis_out: u32,
    inner: u32,
    offset: u32,
    _pad: [u32; 3],
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::CONCAT.name, std::mem::size_of::<ConcatParams>()));
    v.push((shaders::CONCAT_BACKWARD.name, std::mem::size_of::<SplitParams>()));
}

/// The output shape of concatenating tensors of shapes `dims` along `axis`, or an error when
/// there are none, the axis is out of range, or the other dimensions differ.
pub fn concat_shape(dims: &[&[usize]], axis: usize) -> Result<Vec<usize>> {
    let op = "concat";
    let Some(&first) = dims.first() else {
        return Err(Error::arg(op, "needs at least one input"));
    };
    if axis >= first.len() {
        return Err(Error::arg(op, format!("axis {axis} out of range for rank {}", first.len())));
    }
    let mut out = first.to_vec();
    out[axis] = 0;
    for (i, d) in dims.iter().enumerate() {
        let same_elsewhere =
            d.len() == first.len() && d.iter().zip(first).enumerate().all(|(k, (a, b))| k == axis || a == b);
        if !same_elsewhere {
            return Err(Error::shape(
                op,
                format!("input {i} has shape {d:?}, input 0 {first:?}; all dimensions but axis {axis} must be equal"),
            ));
        }
        out[axis] += d[axis];
    }
    Ok(out)
}

/// Concatenates `inputs` (all of one rank, equal in every dimension but `axis`) along `axis`,
/// into a new tensor. One dispatch per non-empty input.
pub fn concat(rec: &mut Recorder, inputs: &[&Tensor], axis: usize) -> Result<Tensor> {
    let op = "concat";
    for t in inputs {
        t.expect_dtype(op, DType::F32)?;
    }
    let dims: Vec<&[usize]> = inputs.iter().map(|t| t.dims()).collect();
    let out = concat_shape(&dims, axis)?;
    to_u32(op, "output element count", out.iter().product())?;
    let inner: usize = out[axis + 1..].iter().product();
    let y = rec.alloc(out.clone(), DType::F32)?;
    let mut offset = 0;
    for t in inputs {
        let axis_in = t.dims()[axis];
        if t.numel() > 0 {
            let len = to_u32(op, "element count", t.numel())?;
            let params = ConcatParams {
                len,
                axis_in: to_u32(op, "axis size", axis_in)?,
                axis_out: to_u32(op, "axis size", out[axis])?,
                inner: to_u32(op, "inner size", inner)?,
                offset: to_u32(op, "axis offset", offset)?,
                _pad: [0; 3],
            };
            rec.dispatch(
                &shaders::CONCAT,
                "concat",
                &[("WG", WG_1D as f64)],
                &params,
                &[t, &y],
                grid_1d(len as u64, WG_1D),
            )?;
        }
        offset += axis_in;
    }
    Ok(y)
}

/// Splits `x` along `axis` into consecutive pieces of `sizes[i]` positions each (ONNX
/// `Split`, `torch.split`): the backward of [`concat()`], which hands each input the slice of
/// the output gradient it produced. The sizes must add up to `x`'s size along `axis`; a size
/// may be 0 (an empty piece). One dispatch per non-empty piece.
pub fn split(rec: &mut Recorder, x: &Tensor, axis: usize, sizes: &[usize]) -> Result<Vec<Tensor>> {
    let op = "split";
    x.expect_dtype(op, DType::F32)?;
    let dims = x.dims();
    if axis >= dims.len() {
        return Err(Error::arg(op, format!("axis {axis} out of range for {} (rank {})", x.shape(), dims.len())));
    }
    if sizes.is_empty() {
        return Err(Error::arg(op, "needs at least one piece"));
    }
    let total = sizes.iter().try_fold(0usize, |a, &s| a.checked_add(s));
    if total != Some(dims[axis]) {
        return Err(Error::shape(
            op,
            format!("piece sizes {sizes:?} must add up to {} (axis {axis} of {})", dims[axis], x.shape()),
        ));
    }
    to_u32(op, "element count", x.numel())?;
    let inner: usize = dims[axis + 1..].iter().product();
    let mut pieces = Vec::with_capacity(sizes.len());
    let mut offset = 0;
    for &size in sizes {
        let mut shape = dims.to_vec();
        shape[axis] = size;
        let y = rec.alloc(shape, DType::F32)?;
        if y.numel() > 0 {
            let len = to_u32(op, "element count", y.numel())?;
            let params = SplitParams {
                len,
                axis_in: to_u32(op, "axis size", dims[axis])?,
                axis_out: to_u32(op, "axis size", size)?,
                inner: to_u32(op, "inner size", inner)?,
                offset: to_u32(op, "axis offset", offset)?,
                _pad: [0; 3],
            };
            rec.dispatch(
                &shaders::CONCAT_BACKWARD,
                op,
                &[("WG", WG_1D as f64)],
                &params,
                &[x, &y],
                grid_1d(len as u64, WG_1D),
            )?;
        }
        offset += size;
        pieces.push(y);
    }
    Ok(pieces)
}

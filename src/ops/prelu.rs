//! Parametric ReLU (`prelu`, ONNX `PRelu`, PyTorch `nn.PReLU`): `x` where `x >= 0`, else
//! `slope * x`, with a learned slope broadcast to the input.

use bytemuck::{Pod, Zeroable};

use super::transpose::{pack6, MAX_RANK};
use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// Mirrors `Params` in `shaders/prelu.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PreluParams {
    len: u32,
    _pad: [u32; 3],
    shape: [[u32; 4]; 2],
    slope_stride: [[u32; 4]; 2],
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::PRELU.name, std::mem::size_of::<PreluParams>()));
}

/// PReLU: `y = x` where `x >= 0`, else `slope * x`, elementwise. `slope` must broadcast to the
/// shape of `x` in one direction (ONNX's unidirectional broadcasting: right-aligned, each of
/// its dimensions equal to `x`'s or 1, rank at most `x`'s), e.g. `[C, 1, 1]` for a per-channel
/// slope on NCHW or `[1]` for a single one. PyTorch's `nn.PReLU` weight `[C]` is `[C, 1, 1]`
/// here. `x` has rank at most 6. Output: the shape of `x`.
pub fn prelu(rec: &mut Recorder, x: &Tensor, slope: &Tensor) -> Result<Tensor> {
    let op = "prelu";
    x.expect_dtype(op, DType::F32)?;
    slope.expect_dtype(op, DType::F32)?;
    let (xd, sd) = (x.dims(), slope.dims());
    if xd.len() > MAX_RANK {
        return Err(Error::shape(op, format!("input {} has rank {} > {MAX_RANK}", x.shape(), xd.len())));
    }
    let fits = sd.len() <= xd.len() && sd.iter().rev().zip(xd.iter().rev()).all(|(&s, &d)| s == d || s == 1);
    if !fits {
        return Err(Error::shape(
            op,
            format!(
                "slope {} does not broadcast to input {} (right-aligned, each dimension equal or 1)",
                slope.shape(),
                x.shape()
            ),
        ));
    }
    let y = rec.alloc(x.shape().clone(), DType::F32)?;
    let len = to_u32(op, "element count", x.numel())?;
    if len == 0 {
        return Ok(y);
    }
    // Strides of slope, right-aligned to x's dimensions, 0 where it broadcasts.
    let mut strides = vec![0u32; xd.len()];
    let mut step = 1u32;
    for (k, &s) in sd.iter().enumerate().rev() {
        let d = xd.len() - sd.len() + k;
        strides[d] = if s == 1 { 0 } else { step };
        step *= s as u32; // at most x's element count
    }
    let shape: Vec<u32> = xd.iter().map(|&d| d as u32).collect();
    let params = PreluParams { len, _pad: [0; 3], shape: pack6(&shape, 1), slope_stride: pack6(&strides, 0) };
    rec.dispatch(
        &shaders::PRELU,
        "prelu",
        &[("WG", WG_1D as f64)],
        &params,
        &[x, slope, &y],
        grid_1d(len as u64, WG_1D),
    )?;
    Ok(y)
}

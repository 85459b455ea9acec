//! Padding of every axis (`pad`, ONNX `Pad`, `torch.nn.functional.pad`): constant, reflect
//! and edge modes.

use bytemuck::{Pod, Zeroable};

use super::transpose::{pack6, MAX_RANK};
use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// What fills the padding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PadMode {
    /// A constant value (ONNX `constant`, `torch` `constant`; 0 is zero padding).
    Constant(f32),
    /// The mirror image without repeating the border element (numpy `reflect`, ONNX `reflect`,
    /// `torch.nn.ReflectionPad2d`): `[a b c d]` padded by 2 on the left is `[c b a b c d]`.
    /// Each pad must be smaller than its dimension.
    Reflect,
    /// The border element repeated (numpy and ONNX `edge`, `torch.nn.ReplicationPad2d`).
    Edge,
}

impl PadMode {
    /// The kernel's mode code and fill value (see `shaders/pad.wgsl`).
    fn code(self) -> (u32, f32) {
        match self {
            PadMode::Constant(v) => (0, v),
            PadMode::Reflect => (1, 0.0),
            PadMode::Edge => (2, 0.0),
        }
    }
}

/// Mirrors `Params` in `shaders/pad.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PadParams {
    in_dims: [[u32; 4]; 2],
    out_dims: [[u32; 4]; 2],
    begin: [[u32; 4]; 2],
    len: u32,
    mode: u32,
    value: f32,
    _pad: u32,
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::PAD.name, std::mem::size_of::<PadParams>()));
}

/// The output shape of padding `dims` by `pads` (ONNX order: all begins, then all ends) in
/// `mode`, or an error when `pads` has the wrong length, the rank exceeds 6, a reflect pad is
/// not smaller than its dimension, or an empty dimension would need edge or reflect values.
pub fn pad_shape(dims: &[usize], pads: &[usize], mode: PadMode) -> Result<Vec<usize>> {
    let op = "pad";
    let rank = dims.len();
    if rank > MAX_RANK {
        return Err(Error::shape(op, format!("rank {rank} exceeds the maximum of {MAX_RANK}")));
    }
    if pads.len() != 2 * rank {
        return Err(Error::arg(
            op,
            format!("pads {pads:?} must have 2 * rank = {} values (begins, then ends) for {dims:?}", 2 * rank),
        ));
    }
    let mut out = Vec::with_capacity(rank);
    for (d, &n) in dims.iter().enumerate() {
        let (b, e) = (pads[d], pads[d + rank]);
        match mode {
            PadMode::Reflect if (b > 0 || e > 0) && (b >= n || e >= n) => {
                return Err(Error::arg(
                    op,
                    format!("reflect pads ({b}, {e}) of dimension {d} must be smaller than its size {n}"),
                ));
            }
            PadMode::Edge if (b > 0 || e > 0) && n == 0 => {
                return Err(Error::arg(op, format!("edge padding of dimension {d}, which is empty")));
            }
            _ => {}
        }
        let Some(size) = n.checked_add(b).and_then(|s| s.checked_add(e)) else {
            return Err(Error::arg(op, format!("padded size of dimension {d} overflows")));
        };
        out.push(size);
    }
    Ok(out)
}

/// Pads `x` (rank at most 6) by `pads` = `[x1_begin, x2_begin, ..., x1_end, x2_end, ...]`
/// (the ONNX order, `2 * rank` values) in `mode`, into a new tensor.
pub fn pad(rec: &mut Recorder, x: &Tensor, pads: &[usize], mode: PadMode) -> Result<Tensor> {
    let op = "pad";
    x.expect_dtype(op, DType::F32)?;
    let out = pad_shape(x.dims(), pads, mode)?;
    let count = out.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
    let len = to_u32(op, "output element count", count.unwrap_or(usize::MAX))?;
    let rank = out.len();
    if out.iter().any(|&d| d > i32::MAX as usize) {
        return Err(Error::arg(op, format!("padded shape {out:?} has a dimension beyond the kernel's 31-bit indices")));
    }
    let u = |v: &[usize]| -> Result<Vec<u32>> { v.iter().map(|&d| to_u32(op, "size", d)).collect() };
    let (code, value) = mode.code();
    let params = PadParams {
        in_dims: pack6(&u(x.dims())?, 1),
        out_dims: pack6(&u(&out)?, 1),
        begin: pack6(&u(&pads[..rank])?, 0),
        len,
        mode: code,
        value,
        _pad: 0,
    };
    let y = rec.alloc(out, DType::F32)?;
    rec.dispatch(&shaders::PAD, "pad", &[("WG", WG_1D as f64)], &params, &[x, &y], grid_1d(len as u64, WG_1D))?;
    Ok(y)
}

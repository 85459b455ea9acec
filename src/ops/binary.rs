//! Elementwise binary arithmetic (`add`, `sub`, `mul`, `div`) with NumPy broadcasting, for
//! operands of rank up to 6.

use bytemuck::{Pod, Zeroable};

use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// Highest rank the binary kernel takes (of either operand and of the output).
pub const BINARY_MAX_RANK: usize = 6;

/// An elementwise binary operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b` (IEEE division: a zero denominator gives an infinity or NaN).
    Div,
}

impl BinaryOp {
    /// The kernel code (see `shaders/binary.wgsl`).
    fn code(self) -> u32 {
        match self {
            BinaryOp::Add => 0,
            BinaryOp::Sub => 1,
            BinaryOp::Mul => 2,
            BinaryOp::Div => 3,
        }
    }

    /// The op's name (`add`, `sub`, `mul`, `div`), used in errors and labels.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
        }
    }

    /// Applies the op to two host values.
    pub fn apply<T: std::ops::Add<Output = T> + std::ops::Sub<Output = T> + std::ops::Mul<Output = T> + std::ops::Div<Output = T>>(
        self,
        a: T,
        b: T,
    ) -> T {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
        }
    }
}

fn broadcast_shape_for(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for (d, o) in out.iter_mut().enumerate() {
        // Right-aligned: missing leading dimensions count as 1.
        let da = if d + a.len() >= rank { a[d + a.len() - rank] } else { 1 };
        let db = if d + b.len() >= rank { b[d + b.len() - rank] } else { 1 };
        *o = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::shape(
                op,
                format!("{a:?} and {b:?} do not broadcast: dimension {d} of the result is {da} in one and {db} in the other"),
            ));
        };
    }
    Ok(out)
}

/// The NumPy broadcast of two shapes: right-aligned, each dimension equal or 1 in one of them.
/// Errors when a dimension differs and neither is 1.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    broadcast_shape_for("broadcast", a, b)
}

/// Element strides that read an operand of shape `s` (padded on the left to rank 6) broadcast
/// to the output, with 0 on every dimension where the operand has size 1.
fn broadcast_strides(s: &[usize]) -> [usize; BINARY_MAX_RANK] {
    let mut padded = [1; BINARY_MAX_RANK];
    padded[BINARY_MAX_RANK - s.len()..].copy_from_slice(s);
    let mut strides = [0; BINARY_MAX_RANK];
    let mut step = 1;
    for d in (0..BINARY_MAX_RANK).rev() {
        strides[d] = if padded[d] == 1 { 0 } else { step };
        step *= padded[d];
    }
    strides
}

/// Mirrors `Params` in `shaders/binary.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct BinaryParams {
    len: u32,
    op: u32,
    _pad: [u32; 2],
    shape: [[u32; 4]; 2],
    a_stride: [[u32; 4]; 2],
    b_stride: [[u32; 4]; 2],
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::BINARY.name, std::mem::size_of::<BinaryParams>()));
}

/// Packs six values into the two `vec4<u32>` of the uniform.
fn pack(op: &'static str, what: &str, v: &[usize; BINARY_MAX_RANK]) -> Result<[[u32; 4]; 2]> {
    let mut out = [[0; 4]; 2];
    for (d, &x) in v.iter().enumerate() {
        out[d / 4][d % 4] = to_u32(op, what, x)?;
    }
    Ok(out)
}

/// `a OP b` elementwise with NumPy broadcasting. Both operands and the result may have rank
/// up to 6. Output: [`broadcast_shape`] of the two shapes.
pub fn binary(rec: &mut Recorder, a: &Tensor, b: &Tensor, op: BinaryOp) -> Result<Tensor> {
    let name = op.name();
    a.expect_dtype(name, DType::F32)?;
    b.expect_dtype(name, DType::F32)?;
    for t in [a, b] {
        if t.shape().rank() > BINARY_MAX_RANK {
            return Err(Error::shape(name, format!("operand {} has rank {} > {BINARY_MAX_RANK}", t.shape(), t.shape().rank())));
        }
    }
    let out = broadcast_shape_for(name, a.dims(), b.dims())?;
    let y = Tensor::empty(rec.gpu(), out.clone(), DType::F32)?;
    let len = to_u32(name, "element count", y.numel())?;
    if len == 0 {
        return Ok(y);
    }
    to_u32(name, "element count", a.numel())?;
    to_u32(name, "element count", b.numel())?;
    let mut out6 = [1; BINARY_MAX_RANK];
    out6[BINARY_MAX_RANK - out.len()..].copy_from_slice(&out);
    let params = BinaryParams {
        len,
        op: op.code(),
        _pad: [0; 2],
        shape: pack(name, "dimension", &out6)?,
        a_stride: pack(name, "stride", &broadcast_strides(a.dims()))?,
        b_stride: pack(name, "stride", &broadcast_strides(b.dims()))?,
    };
    rec.dispatch(
        &shaders::BINARY,
        "binary",
        &[("WG", WG_1D as f64)],
        &params,
        &[a, b, &y],
        grid_1d(len as u64, WG_1D),
    )?;
    Ok(y)
}

/// `a + b` with broadcasting; see [`binary`].
pub fn add(rec: &mut Recorder, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(rec, a, b, BinaryOp::Add)
}

/// `a - b` with broadcasting; see [`binary`].
pub fn sub(rec: &mut Recorder, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(rec, a, b, BinaryOp::Sub)
}

/// `a * b` with broadcasting; see [`binary`].
pub fn mul(rec: &mut Recorder, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(rec, a, b, BinaryOp::Mul)
}

/// `a / b` with broadcasting; see [`binary`].
pub fn div(rec: &mut Recorder, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(rec, a, b, BinaryOp::Div)
}

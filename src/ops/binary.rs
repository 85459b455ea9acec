//! Elementwise binary arithmetic (`add`, `sub`, `mul`, `div`) with NumPy broadcasting, for
//! operands of rank up to 6.

use bytemuck::{Pod, Zeroable};

use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::Shape;
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
    pub fn apply<
        T: std::ops::Add<Output = T> + std::ops::Sub<Output = T> + std::ops::Mul<Output = T> + std::ops::Div<Output = T>,
    >(
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

/// Mirrors `Params` in `shaders/binary_backward.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct BinaryBackwardParams {
    rows: u32,
    red_len: u32,
    term: u32,
    keep: u32,
    scale: f32,
    _pad: [u32; 3],
    shape: [[u32; 4]; 2],
    a_stride: [[u32; 4]; 2],
    b_stride: [[u32; 4]; 2],
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::BINARY.name, std::mem::size_of::<BinaryParams>()));
    v.push((shaders::BINARY_BACKWARD.name, std::mem::size_of::<BinaryBackwardParams>()));
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
/// up to 6. Output: [`broadcast_shape`] of the two shapes. Both operands are f32 or both f16
/// (storage; the result has their dtype).
pub fn binary(rec: &mut Recorder, a: &Tensor, b: &Tensor, op: BinaryOp) -> Result<Tensor> {
    let name = op.name();
    let (store, shader) = super::storage_of(rec, name, &shaders::BINARY, &[a, b])?;
    for t in [a, b] {
        if t.shape().rank() > BINARY_MAX_RANK {
            return Err(Error::shape(
                name,
                format!("operand {} has rank {} > {BINARY_MAX_RANK}", t.shape(), t.shape().rank()),
            ));
        }
    }
    let out = broadcast_shape_for(name, a.dims(), b.dims())?;
    let y = rec.alloc(out.clone(), store)?;
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
    rec.dispatch(&shader, "binary", &[("WG", WG_1D as f64)], &params, &[a, b, &y], grid_1d(len as u64, WG_1D))?;
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

/// Terms of `shaders/binary_backward.wgsl`: what is summed into each element of the target.
mod term {
    pub const DY: u32 = 0;
    pub const NEG_DY: u32 = 1;
    pub const DY_TIMES_B: u32 = 2;
    pub const DY_TIMES_A: u32 = 3;
    pub const DY_OVER_B: u32 = 4;
    pub const NEG_DY_A_OVER_B2: u32 = 5;
}

/// Records one reduction of `shaders/binary_backward.wgsl`: the target of shape `target`
/// (which broadcasts to `dy`'s shape) receives `scale *` the sum of the term over the
/// dimensions it broadcasts along. `a` and `b` are read through their broadcast strides
/// against `dy`'s shape when the term needs them.
#[allow(clippy::too_many_arguments)]
fn reduce_to(
    rec: &mut Recorder,
    op: &'static str,
    entry: &'static str,
    dy: &Tensor,
    target: &[usize],
    operands: (&Tensor, &Tensor),
    term: u32,
    scale: f32,
) -> Result<Tensor> {
    let full = dy.dims();
    if full.len() > BINARY_MAX_RANK {
        return Err(Error::shape(op, format!("{} has rank {} > {BINARY_MAX_RANK}", dy.shape(), full.len())));
    }
    let fits =
        target.len() <= full.len() && target.iter().rev().zip(full.iter().rev()).all(|(&t, &f)| t == f || t == 1);
    if !fits {
        return Err(Error::shape(
            op,
            format!("shape {target:?} does not broadcast to {} (right-aligned, each dimension equal or 1)", dy.shape()),
        ));
    }
    to_u32(op, "element count", dy.numel())?;
    let mut full6 = [1; BINARY_MAX_RANK];
    full6[BINARY_MAX_RANK - full.len()..].copy_from_slice(full);
    let mut target6 = [1; BINARY_MAX_RANK];
    target6[BINARY_MAX_RANK - target.len()..].copy_from_slice(target);
    let mut keep = 0u32;
    let mut red_len = 1usize;
    for d in 0..BINARY_MAX_RANK {
        if target6[d] == full6[d] {
            keep |= 1 << d;
        } else {
            red_len *= full6[d];
        }
    }
    let out = rec.alloc(Shape::from(target), DType::F32)?;
    let rows = out.numel();
    if rows == 0 {
        return Ok(out);
    }
    let params = BinaryBackwardParams {
        rows: to_u32(op, "element count", rows)?,
        red_len: to_u32(op, "reduction length", red_len)?,
        term,
        keep,
        scale,
        _pad: [0; 3],
        shape: pack(op, "dimension", &full6)?,
        a_stride: pack(op, "stride", &broadcast_strides(operands.0.dims()))?,
        b_stride: pack(op, "stride", &broadcast_strides(operands.1.dims()))?,
    };
    // Invocations per element: about four values each, a power of two, at most a workgroup.
    let tpr = (red_len.div_ceil(4).next_power_of_two() as u32).min(WG_1D);
    rec.dispatch(
        &shaders::BINARY_BACKWARD,
        entry,
        &[("WG", WG_1D as f64), ("TPR", tpr as f64)],
        &params,
        &[dy, operands.0, operands.1, &out],
        grid_1d(rows as u64, WG_1D / tpr),
    )?;
    Ok(out)
}

/// Sums `x` over the dimensions that NumPy broadcasting from `shape` to `x`'s shape would
/// have expanded: the inverse of broadcasting, and the gradient of broadcasting an operand of
/// shape `shape` up to `x`'s shape. `shape` must broadcast to `x`'s shape (right-aligned, each
/// dimension equal to `x`'s or 1, rank at most `x`'s); the result has shape `shape` exactly.
/// `x` has rank at most 6.
///
/// Each output value is reduced by up to a workgroup of cooperating invocations with a tree
/// reduction in workgroup memory, so a long reduction (a `[1, C, 1, 1]` bias over a large
/// feature map) is spread over many invocations.
pub fn reduce_sum_to_shape(rec: &mut Recorder, x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let op = "reduce_sum_to_shape";
    x.expect_dtype(op, DType::F32)?;
    reduce_to(rec, op, op, x, shape, (x, x), term::DY, 1.0)
}

/// The gradients of [`binary`] `y = a OP b` with broadcasting: `(da, db)` shaped like `a` and
/// `b`, from the output gradient `dy` (shaped like the broadcast of `a` and `b`). Each is the
/// elementwise partial derivative times `dy`, summed over the dimensions that operand was
/// broadcast along ([`reduce_sum_to_shape`], fused into one kernel per operand):
/// add `(dy, dy)`, sub `(dy, -dy)`, mul `(dy b, dy a)`, div `(dy / b, -dy a / b^2)`.
pub fn binary_backward(
    rec: &mut Recorder,
    dy: &Tensor,
    a: &Tensor,
    b: &Tensor,
    op: BinaryOp,
) -> Result<(Tensor, Tensor)> {
    let name = "binary_backward";
    for t in [dy, a, b] {
        t.expect_dtype(name, DType::F32)?;
        if t.shape().rank() > BINARY_MAX_RANK {
            return Err(Error::shape(
                name,
                format!("operand {} has rank {} > {BINARY_MAX_RANK}", t.shape(), t.shape().rank()),
            ));
        }
    }
    let out = broadcast_shape_for(name, a.dims(), b.dims())?;
    if dy.dims() != out {
        return Err(Error::shape(
            name,
            format!("gradient {} must have the shape {out:?} of {} {} {}", dy.shape(), a.shape(), op.name(), b.shape()),
        ));
    }
    to_u32(name, "element count", a.numel())?;
    to_u32(name, "element count", b.numel())?;
    let (ta, tb) = match op {
        BinaryOp::Add => (term::DY, term::DY),
        BinaryOp::Sub => (term::DY, term::NEG_DY),
        BinaryOp::Mul => (term::DY_TIMES_B, term::DY_TIMES_A),
        BinaryOp::Div => (term::DY_OVER_B, term::NEG_DY_A_OVER_B2),
    };
    let da = reduce_to(rec, name, name, dy, a.dims(), (a, b), ta, 1.0)?;
    let db = reduce_to(rec, name, name, dy, b.dims(), (a, b), tb, 1.0)?;
    Ok((da, db))
}

/// [`reduce_sum_to_shape`] scaled by `scale`, for gemm's `dC = beta * reduce(dY)`.
pub(crate) fn reduce_sum_to_shape_scaled(
    rec: &mut Recorder,
    op: &'static str,
    x: &Tensor,
    shape: &[usize],
    scale: f32,
) -> Result<Tensor> {
    x.expect_dtype(op, DType::F32)?;
    reduce_to(rec, op, "reduce_sum_to_shape", x, shape, (x, x), term::DY, scale)
}

//! Reductions over a set of axes (`reduce`): ONNX `ReduceSum`, `ReduceMean` and `ReduceMax`,
//! for tensors of rank up to 6.

use bytemuck::{Pod, Zeroable};

use super::transpose::{pack6, MAX_RANK};
use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// What [`reduce`] computes over the reduced axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// The arithmetic mean (ONNX `ReduceMean`).
    Mean,
    /// The sum (ONNX `ReduceSum`).
    Sum,
    /// The maximum (ONNX `ReduceMax`).
    Max,
}

impl ReduceOp {
    /// The kernel code (see `shaders/reduce.wgsl`).
    fn code(self) -> u32 {
        match self {
            ReduceOp::Sum => 0,
            ReduceOp::Mean => 1,
            ReduceOp::Max => 2,
        }
    }

    /// The op's name (`reduce_mean`, `reduce_sum`, `reduce_max`), used in errors and labels.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Mean => "reduce_mean",
            ReduceOp::Sum => "reduce_sum",
            ReduceOp::Max => "reduce_max",
        }
    }
}

/// Mirrors `Params` in `shaders/reduce.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ReduceParams {
    rows: u32,
    red_len: u32,
    op: u32,
    _pad: u32,
    keep_dims: [[u32; 4]; 2],
    keep_stride: [[u32; 4]; 2],
    red_dims: [[u32; 4]; 2],
    red_stride: [[u32; 4]; 2],
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::REDUCE.name, std::mem::size_of::<ReduceParams>()));
}

/// The output shape of reducing `dims` over `axes`: each reduced axis becomes 1 with
/// `keepdims`, or is removed without. An empty `axes` reduces every axis (ONNX's default).
/// Errors when an axis is out of range or repeated, or the rank exceeds 6.
pub fn reduce_shape(dims: &[usize], axes: &[usize], keepdims: bool) -> Result<Vec<usize>> {
    let op = "reduce";
    if dims.len() > MAX_RANK {
        return Err(Error::shape(op, format!("rank {} of {dims:?} exceeds the maximum of {MAX_RANK}", dims.len())));
    }
    let reduced = reduced_mask(dims, axes)?;
    Ok(dims
        .iter()
        .zip(&reduced)
        .filter_map(|(&d, &r)| match (r, keepdims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect())
}

/// Which axes of `dims` are reduced, checking `axes`.
fn reduced_mask(dims: &[usize], axes: &[usize]) -> Result<Vec<bool>> {
    let mut reduced = vec![axes.is_empty(); dims.len()];
    for &a in axes {
        if a >= dims.len() {
            return Err(Error::arg("reduce", format!("axis {a} out of range for {dims:?} (rank {})", dims.len())));
        }
        if std::mem::replace(&mut reduced[a], true) {
            return Err(Error::arg("reduce", format!("axis {a} appears twice in {axes:?}")));
        }
    }
    Ok(reduced)
}

/// Reduces `x` (rank at most 6) over `axes` with `op`: the mean, sum or maximum of the values
/// that share the indices of the other axes. With `keepdims` each reduced axis stays with size
/// 1, else it is removed ([`reduce_shape`]). An empty `axes` reduces every axis (ONNX's
/// default; ONNX's `noop_with_empty_axes` is the caller's to handle). Reducing over an empty
/// axis gives 0 for the sum and is an error for the mean and the maximum. Errors on repeated
/// or out-of-range axes.
pub fn reduce(rec: &mut Recorder, x: &Tensor, axes: &[usize], keepdims: bool, op: ReduceOp) -> Result<Tensor> {
    let name = op.name();
    x.expect_dtype(name, DType::F32)?;
    let dims = x.dims();
    let out = reduce_shape(dims, axes, keepdims).map_err(|e| match e {
        Error::Shape { detail, .. } => Error::shape(name, detail),
        Error::InvalidArgument { detail, .. } => Error::arg(name, detail),
        e => e,
    })?;
    let reduced = reduced_mask(dims, axes)?;
    to_u32(name, "element count", x.numel())?;
    let rows: usize = dims.iter().zip(&reduced).filter(|(_, &r)| !r).map(|(&d, _)| d).product();
    let red_len: usize = dims.iter().zip(&reduced).filter(|(_, &r)| r).map(|(&d, _)| d).product();
    if red_len == 0 && rows > 0 && op != ReduceOp::Sum {
        return Err(Error::shape(
            name,
            format!("{} over axes {axes:?} of {} reduces empty sets", op.name(), x.shape()),
        ));
    }
    let y = rec.alloc(out, DType::F32)?;
    if rows == 0 {
        return Ok(y);
    }
    // Kept and reduced dimensions with their input strides, each list in row-major order.
    let mut stride = 1usize;
    let mut strides = vec![0u32; dims.len()];
    for d in (0..dims.len()).rev() {
        strides[d] = stride as u32; // at most the element count, which fits
        stride *= dims[d];
    }
    let pick = |want: bool| -> (Vec<u32>, Vec<u32>) {
        (0..dims.len()).filter(|&d| reduced[d] == want).map(|d| (dims[d] as u32, strides[d])).unzip()
    };
    let (keep_dims, keep_stride) = pick(false);
    let (red_dims, red_stride) = pick(true);
    let params = ReduceParams {
        rows: rows as u32,
        red_len: red_len as u32,
        op: op.code(),
        _pad: 0,
        keep_dims: pack6(&keep_dims, 1),
        keep_stride: pack6(&keep_stride, 0),
        red_dims: pack6(&red_dims, 1),
        red_stride: pack6(&red_stride, 0),
    };
    // Invocations per output: about four values each, a power of two, at most a workgroup.
    let tpr = (red_len.div_ceil(4).next_power_of_two() as u32).min(WG_1D);
    rec.dispatch(
        &shaders::REDUCE,
        "reduce",
        &[("WG", WG_1D as f64), ("TPR", tpr as f64)],
        &params,
        &[x, &y],
        grid_1d(rows as u64, WG_1D / tpr),
    )?;
    Ok(y)
}

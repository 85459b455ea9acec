//! Axis permutation (`transpose`, ONNX `Transpose`, `torch.permute`) and ShuffleNet's
//! `channel_shuffle`, which is a transpose of a reshaped view.

use bytemuck::{Pod, Zeroable};

use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// The highest rank that `transpose` and `pad` take.
pub(crate) const MAX_RANK: usize = 6;

/// Packs up to six values into the two `vec4<u32>` of a WGSL `array<vec4<u32>, 2>`,
/// right-aligned (a shape of rank r fills lanes 6 - r .. 6), with `fill` in the lanes before.
pub(super) fn pack6(values: &[u32], fill: u32) -> [[u32; 4]; 2] {
    let mut flat = [fill; 8];
    flat[MAX_RANK - values.len()..MAX_RANK].copy_from_slice(values);
    [[flat[0], flat[1], flat[2], flat[3]], [flat[4], flat[5], flat[6], flat[7]]]
}

/// Mirrors `Params` in `shaders/transpose.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct TransposeParams {
    out_dims: [[u32; 4]; 2],
    in_strides: [[u32; 4]; 2],
    len: u32,
    _pad: [u32; 3],
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::TRANSPOSE.name, std::mem::size_of::<TransposeParams>()));
}

/// The output shape of permuting `dims` by `perm` (`out[i] = dims[perm[i]]`), or an error when
/// `perm` is not a permutation of `0..rank` or the rank exceeds 6.
pub fn transpose_shape(dims: &[usize], perm: &[usize]) -> Result<Vec<usize>> {
    let op = "transpose";
    if dims.len() > MAX_RANK {
        return Err(Error::shape(op, format!("rank {} exceeds the maximum of {MAX_RANK}", dims.len())));
    }
    let mut seen = [false; MAX_RANK];
    let is_perm =
        perm.len() == dims.len() && perm.iter().all(|&p| p < dims.len() && !std::mem::replace(&mut seen[p], true));
    if !is_perm {
        return Err(Error::arg(op, format!("{perm:?} is not a permutation of the {} axes of {dims:?}", dims.len())));
    }
    Ok(perm.iter().map(|&p| dims[p]).collect())
}

/// Permutes the axes of `x` (rank at most 6): `out.dims[i] = x.dims[perm[i]]`.
pub fn transpose(rec: &mut Recorder, x: &Tensor, perm: &[usize]) -> Result<Tensor> {
    let op = "transpose";
    x.expect_dtype(op, DType::F32)?;
    let out = transpose_shape(x.dims(), perm)?;
    let len = to_u32(op, "element count", x.numel())?;
    let rank = x.dims().len();
    let mut strides = vec![1u32; rank];
    for d in (0..rank.saturating_sub(1)).rev() {
        // Cannot overflow: the product of all dims fits in u32.
        strides[d] = strides[d + 1] * x.dims()[d + 1] as u32;
    }
    let out_u32: Vec<u32> = out.iter().map(|&d| d as u32).collect();
    let in_strides: Vec<u32> = perm.iter().map(|&p| strides[p]).collect();
    let params = TransposeParams { out_dims: pack6(&out_u32, 1), in_strides: pack6(&in_strides, 0), len, _pad: [0; 3] };
    let y = rec.alloc(out, DType::F32)?;
    rec.dispatch(
        &shaders::TRANSPOSE,
        "transpose",
        &[("WG", WG_1D as f64)],
        &params,
        &[x, &y],
        grid_1d(len as u64, WG_1D),
    )?;
    Ok(y)
}

/// ShuffleNet's channel shuffle of an NCHW tensor, as `torch.nn.ChannelShuffle`: the channels,
/// viewed as `[groups, C / groups]`, are transposed to `[C / groups, groups]`, so output channel
/// `j * groups + g` is input channel `g * (C / groups) + j`. `C` must divide by `groups`.
pub fn channel_shuffle(rec: &mut Recorder, x: &Tensor, groups: usize) -> Result<Tensor> {
    let op = "channel_shuffle";
    let [n, c, h, w] = x.shape().nchw(op)?;
    if groups == 0 || c % groups != 0 {
        return Err(Error::arg(op, format!("groups {groups} must be positive and divide the {c} channels")));
    }
    let view = x.reshape([n, groups, c / groups, h, w])?;
    transpose(rec, &view, &[0, 2, 1, 3, 4])?.reshape([n, c, h, w])
}

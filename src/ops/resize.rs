//! Bilinear resizing of NCHW feature maps (`resize_bilinear`), as PyTorch's
//! `F.interpolate(mode='bilinear')` without antialiasing: the upsampling of Grad-CAM heatmaps.
//! Nearest-neighbour resizing (`resize_nearest`), as ONNX `Resize` with `mode='nearest'` and
//! PyTorch's `mode='nearest'` / `'nearest-exact'`.

use bytemuck::{Pod, Zeroable};

use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// How output pixel coordinates map to input coordinates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CoordMode {
    /// Pixel centres align: `src = (dst + 0.5) * in / out - 0.5`, clamped below at 0.
    /// PyTorch `align_corners=False`, ONNX `half_pixel`, OpenCV `INTER_LINEAR`.
    #[default]
    HalfPixel,
    /// Corner pixels align: `src = dst * (in - 1) / (out - 1)` (0 when `out == 1`).
    /// PyTorch `align_corners=True`.
    AlignCorners,
}

impl CoordMode {
    /// The scale from output to input index along an axis of `input` to `output` pixels.
    pub fn scale(self, input: usize, output: usize) -> f64 {
        match self {
            CoordMode::HalfPixel => input as f64 / output as f64,
            CoordMode::AlignCorners if output > 1 => (input as f64 - 1.0) / (output as f64 - 1.0),
            CoordMode::AlignCorners => 0.0,
        }
    }
}

/// Mirrors `Params` in `shaders/resize.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ResizeParams {
    len: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    mode: u32,
    scale_h: f32,
    scale_w: f32,
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::RESIZE.name, std::mem::size_of::<ResizeParams>()));
    v.push((shaders::RESIZE_NEAREST.name, std::mem::size_of::<ResizeNearestParams>()));
}

/// The output shape of resizing `dims` (NCHW) to `out_hw`, or an error when `dims` is not 4-D,
/// an output size is zero, or the input has no pixels to interpolate from.
pub fn resize_shape(dims: &[usize], out_hw: [usize; 2]) -> Result<[usize; 4]> {
    let op = "resize_bilinear";
    let &[n, c, h, w] = dims else {
        return Err(Error::shape(op, format!("expected a 4-D NCHW tensor, got {dims:?}")));
    };
    if out_hw.contains(&0) {
        return Err(Error::arg(op, format!("output size {out_hw:?} must be positive")));
    }
    if h == 0 || w == 0 {
        return Err(Error::shape(op, format!("input {dims:?} has no pixels to interpolate")));
    }
    Ok([n, c, out_hw[0], out_hw[1]])
}

/// Resizes `x` `[N, C, H, W]` to `[N, C, out_hw[0], out_hw[1]]` by bilinear interpolation with
/// coordinate mapping `mode`, exactly as PyTorch's `F.interpolate(x, size=out_hw,
/// mode='bilinear', align_corners=...)` (no antialiasing, also when downsampling).
pub fn resize_bilinear(rec: &mut Recorder, x: &Tensor, out_hw: [usize; 2], mode: CoordMode) -> Result<Tensor> {
    let op = "resize_bilinear";
    x.expect_dtype(op, DType::F32)?;
    let [n, c, oh, ow] = resize_shape(x.dims(), out_hw)?;
    let [_, _, h, w] = x.shape().nchw(op)?;
    let count = [c, oh, ow].iter().try_fold(n, |a, &b| a.checked_mul(b));
    let len = to_u32(op, "output element count", count.unwrap_or(usize::MAX))?;
    let params = ResizeParams {
        len,
        h: to_u32(op, "H", h)?,
        w: to_u32(op, "W", w)?,
        oh: to_u32(op, "H_out", oh)?,
        ow: to_u32(op, "W_out", ow)?,
        mode: match mode {
            CoordMode::HalfPixel => 0,
            CoordMode::AlignCorners => 1,
        },
        scale_h: mode.scale(h, oh) as f32,
        scale_w: mode.scale(w, ow) as f32,
    };
    let y = rec.alloc([n, c, oh, ow], DType::F32)?;
    rec.dispatch(&shaders::RESIZE, "resize", &[("WG", WG_1D as f64)], &params, &[x, &y], grid_1d(len as u64, WG_1D))?;
    Ok(y)
}

/// How a fractional source coordinate picks its nearest input pixel in [`resize_nearest`]
/// (ONNX `Resize`'s `nearest_mode`). The chosen index is then clamped to `[0, in - 1]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NearestMode {
    /// `floor(src)`: PyTorch's `mode='nearest'` (with [`NearestCoords::Asymmetric`]).
    Floor,
    /// The nearest integer, halves rounded down (ONNX's default).
    RoundPreferFloor,
    /// The nearest integer, halves rounded up: PyTorch's `mode='nearest-exact'` (with
    /// [`NearestCoords::HalfPixel`]).
    RoundPreferCeil,
    /// `ceil(src)`.
    Ceil,
}

/// How an output pixel index `dst` maps to a source coordinate in [`resize_nearest`] (ONNX
/// `Resize`'s `coordinate_transformation_mode`). `in` and `out` are the input and output sizes
/// along the axis; the scale `in / out` (or `(in - 1) / (out - 1)`) is rounded to f32 and the
/// product with `dst` is taken in f32, as PyTorch does, so that ties and exact integers land
/// where PyTorch puts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NearestCoords {
    /// `src = dst * in / out`: PyTorch's `F.interpolate(mode='nearest')` and ONNX
    /// `asymmetric` with [`NearestMode::Floor`].
    Asymmetric,
    /// `src = (dst + 0.5) * in / out - 0.5` (ONNX `half_pixel`); with
    /// [`NearestMode::RoundPreferCeil`] this is PyTorch's `mode='nearest-exact'`.
    HalfPixel,
    /// `src = dst * (in - 1) / (out - 1)`, 0 when `out == 1` (ONNX `align_corners`).
    AlignCorners,
}

impl NearestCoords {
    /// The f32 scale from output index to source coordinate along an axis of `input` to
    /// `output` pixels.
    pub fn scale(self, input: usize, output: usize) -> f32 {
        match self {
            NearestCoords::Asymmetric | NearestCoords::HalfPixel => input as f32 / output as f32,
            NearestCoords::AlignCorners if output > 1 => (input as f32 - 1.0) / (output as f32 - 1.0),
            NearestCoords::AlignCorners => 0.0,
        }
    }
}

/// Largest input or output size along H or W that [`resize_nearest`] takes: indices and their
/// products with the scale stay exact in f32 below it.
pub const RESIZE_NEAREST_MAX_SIZE: usize = 1 << 22;

/// Mirrors `Params` in `shaders/resize_nearest.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ResizeNearestParams {
    len: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    coords: u32,
    mode: u32,
    _pad: u32,
    scale_h: f32,
    scale_w: f32,
    _pad2: [u32; 2],
}

/// Resizes `x` `[N, C, H, W]` to `[N, C, out_hw[0], out_hw[1]]` by copying, for every output
/// pixel, the input pixel nearest to its source coordinate (`coords`), rounded by `mode` and
/// clamped into the input. `Asymmetric` + `Floor` is PyTorch's `F.interpolate(mode='nearest')`;
/// `HalfPixel` + `RoundPreferCeil` is `mode='nearest-exact'`; ONNX `Resize` with
/// `mode='nearest'` is any pair.
///
/// Errors when `x` is not 4-D f32, an output size is zero, the input has no pixels, or a size
/// exceeds [`RESIZE_NEAREST_MAX_SIZE`].
pub fn resize_nearest(
    rec: &mut Recorder,
    x: &Tensor,
    out_hw: [usize; 2],
    coords: NearestCoords,
    mode: NearestMode,
) -> Result<Tensor> {
    let op = "resize_nearest";
    x.expect_dtype(op, DType::F32)?;
    let [n, c, oh, ow] = resize_shape(x.dims(), out_hw).map_err(|e| match e {
        Error::Shape { detail, .. } => Error::shape(op, detail),
        Error::InvalidArgument { detail, .. } => Error::arg(op, detail),
        e => e,
    })?;
    let [_, _, h, w] = x.shape().nchw(op)?;
    if [h, w, oh, ow].iter().any(|&s| s > RESIZE_NEAREST_MAX_SIZE) {
        return Err(Error::arg(
            op,
            format!("sizes {:?} -> {out_hw:?} exceed the maximum of {RESIZE_NEAREST_MAX_SIZE} per axis", [h, w]),
        ));
    }
    let count = [c, oh, ow].iter().try_fold(n, |a, &b| a.checked_mul(b));
    let len = to_u32(op, "output element count", count.unwrap_or(usize::MAX))?;
    to_u32(op, "input element count", x.numel())?;
    let params = ResizeNearestParams {
        len,
        h: h as u32,
        w: w as u32,
        oh: oh as u32,
        ow: ow as u32,
        coords: match coords {
            NearestCoords::Asymmetric => 0,
            NearestCoords::HalfPixel => 1,
            NearestCoords::AlignCorners => 2,
        },
        mode: match mode {
            NearestMode::Floor => 0,
            NearestMode::RoundPreferFloor => 1,
            NearestMode::RoundPreferCeil => 2,
            NearestMode::Ceil => 3,
        },
        _pad: 0,
        scale_h: coords.scale(h, oh),
        scale_w: coords.scale(w, ow),
        _pad2: [0; 2],
    };
    let y = rec.alloc([n, c, oh, ow], DType::F32)?;
    rec.dispatch(
        &shaders::RESIZE_NEAREST,
        "resize_nearest",
        &[("WG", WG_1D as f64)],
        &params,
        &[x, &y],
        grid_1d(len as u64, WG_1D),
    )?;
    Ok(y)
}

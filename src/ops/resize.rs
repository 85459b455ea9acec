//! Bilinear resizing of NCHW feature maps (`resize_bilinear`), as PyTorch's
//! `F.interpolate(mode='bilinear')` without antialiasing: the upsampling of Grad-CAM heatmaps.

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
    rec.dispatch(
        &shaders::RESIZE,
        "resize",
        &[("WG", WG_1D as f64)],
        &params,
        &[x, &y],
        grid_1d(len as u64, WG_1D),
    )?;
    Ok(y)
}

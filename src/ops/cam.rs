//! The math of the CAM family on activations `A` and gradients `G` of one layer (`[N, C, H, W]`,
//! f32), following the `grad-cam` package (pytorch-grad-cam) formula by formula, epsilons and
//! order of operations included:
//!
//! - [`cam_channel_weights`]: the per-channel weights of Grad-CAM, Grad-CAM++ and XGrad-CAM
//!   (`shaders/cam_weights.wgsl`);
//! - [`cam_weighted_sum`], [`cam_elementwise_sum`], [`cam_mean_layers`]: the channel sums of
//!   `get_cam_image` (Grad-CAM family, CAM, Score-CAM, Ablation-CAM; HiResCAM, LayerCAM) and the
//!   multi-layer mean (`shaders/cam_combine.wgsl`);
//! - [`cam_normalize`]: `scale_cam_image` without the resize (`shaders/cam_normalize.wgsl`);
//! - [`cam_first_principal_projection`]: `get_2d_projection` of Eigen-CAM and Eigen-Grad-CAM,
//!   by power iteration (`shaders/cam_projection.wgsl`).
//!
//! Colormaps and overlays are in [`crate::vis::colorize`].

use bytemuck::{Pod, Zeroable};

use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// How [`cam_channel_weights`] weighs each channel of the activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelWeighting {
    /// Grad-CAM: the spatial mean of the gradients, `np.mean(grads, axis=(2, 3))`.
    GradCam,
    /// Grad-CAM++ (Eq. 19 of arXiv:1710.11063 as the package writes it):
    /// `aij = g^2 / (2 g^2 + sum(A) g^3 + 1e-6)`, zero where `g == 0`;
    /// weight = `sum(max(g, 0) * aij)` over the spatial positions.
    GradCamPlusPlus,
    /// XGrad-CAM: `sum(g * A / (sum(A) + 1e-7))` over the spatial positions.
    XGradCam,
}

impl ChannelWeighting {
    /// The kernel's method code (see `shaders/cam_weights.wgsl`).
    fn code(self) -> u32 {
        match self {
            ChannelWeighting::GradCam => 0,
            ChannelWeighting::GradCamPlusPlus => 1,
            ChannelWeighting::XGradCam => 2,
        }
    }
}

/// Which element-wise product [`cam_elementwise_sum`] sums over the channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementwiseCam {
    /// HiResCAM: `sum_c G * A`.
    HiResCam,
    /// LayerCAM: `sum_c max(G, 0) * A`.
    LayerCam,
}

/// The tolerance of [`cam_first_principal_projection`]'s power iteration: it stops once no
/// component of the unit vector moves by more than this times its largest component (or once
/// it has stalled at f32's rounding floor; see there).
pub const PROJECTION_TOLERANCE: f32 = 1e-7;

/// Mirrors `Params` in `shaders/cam_weights.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct CamWeightsParams {
    planes: u32,
    hw: u32,
    method: u32,
    _pad: u32,
}

/// Mirrors `Params` in `shaders/cam_combine.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct CamCombineParams {
    total: u32,
    c: u32,
    hw: u32,
    kind: u32,
    first: u32,
    divisor: u32,
    _pad: [u32; 2],
}

/// Mirrors `Params` in `shaders/cam_normalize.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct CamNormalizeParams {
    planes: u32,
    len: u32,
    relu: u32,
    _pad: u32,
}

/// Mirrors `Params` in `shaders/cam_projection.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct CamProjectionParams {
    n: u32,
    c: u32,
    hw: u32,
    iters: u32,
    tol: f32,
    _pad: [u32; 3],
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::CAM_WEIGHTS.name, std::mem::size_of::<CamWeightsParams>()));
    v.push((shaders::CAM_COMBINE.name, std::mem::size_of::<CamCombineParams>()));
    v.push((shaders::CAM_NORMALIZE.name, std::mem::size_of::<CamNormalizeParams>()));
    v.push((shaders::CAM_PROJECTION.name, std::mem::size_of::<CamProjectionParams>()));
    crate::vis::colorize_uniform_layouts(v);
}

/// Workgroup size of the kernels where one workgroup reduces one plane of `len` values: a
/// power of two in 32..=256, small for small planes so that few invocations idle.
fn reduce_wg(len: usize) -> u32 {
    len.next_power_of_two().clamp(32, WG_1D as usize) as u32
}

/// Checks that `a` and `g` are f32 `[N, C, H, W]` tensors of one shape with non-empty planes.
fn check_pair(op: &'static str, a: &Tensor, g: &Tensor) -> Result<[usize; 4]> {
    a.expect_dtype(op, DType::F32)?;
    g.expect_dtype(op, DType::F32)?;
    let dims = a.shape().nchw(op)?;
    if g.dims() != a.dims() {
        return Err(Error::shape(
            op,
            format!("activations {} and gradients {} must have one shape", a.shape(), g.shape()),
        ));
    }
    check_planes(op, a, dims)?;
    Ok(dims)
}

/// Checks that a `[N, C, H, W]` tensor has non-empty maps and indexes within 32 bits.
fn check_planes(op: &'static str, t: &Tensor, [_, c, h, w]: [usize; 4]) -> Result<()> {
    if c == 0 || h == 0 || w == 0 {
        return Err(Error::shape(op, format!("{} has no channels or an empty feature map", t.shape())));
    }
    to_u32(op, "element count", t.numel())?;
    Ok(())
}

/// Per-image, per-channel weights `[N, C]` from activations `a` and gradients `g`
/// (`[N, C, H, W]` f32, one shape), exactly as the package's `get_cam_weights` of `method`.
/// One workgroup reduces each `H x W` plane (two reductions for the methods that need `sum(A)`);
/// on CPU adapters one invocation each, for planes of at most 4096 values (a tree reduction's
/// barriers cost llvmpipe more than the sums, as in the global pools).
pub fn cam_channel_weights(rec: &mut Recorder, a: &Tensor, g: &Tensor, method: ChannelWeighting) -> Result<Tensor> {
    let op = "cam_channel_weights";
    let [n, c, h, w] = check_pair(op, a, g)?;
    let planes = n * c;
    let hw = h * w;
    let out = rec.alloc([n, c], DType::F32)?;
    if planes == 0 {
        return Ok(out);
    }
    let params = CamWeightsParams {
        planes: to_u32(op, "N*C", planes)?,
        hw: to_u32(op, "H*W", hw)?,
        method: method.code(),
        _pad: 0,
    };
    if rec.gpu().is_cpu() && hw <= super::pool::SERIAL_PLANE_MAX {
        let grid = grid_1d(planes as u64, 8);
        rec.dispatch(
            &shaders::CAM_WEIGHTS,
            "cam_channel_weights_serial",
            &[("WG", 8.0)],
            &params,
            &[a, g, &out],
            grid,
        )?;
        return Ok(out);
    }
    rec.dispatch(
        &shaders::CAM_WEIGHTS,
        op,
        &[("WG", reduce_wg(hw) as f64)],
        &params,
        &[a, g, &out],
        grid_1d(planes as u64, 1),
    )?;
    Ok(out)
}

/// `cam[n, 0, h, w] = sum_c weights[n, c] * a[n, c, h, w]` for `a` `[N, C, H, W]` and `weights`
/// `[N, C]`: the channel sum of `get_cam_image` (Grad-CAM family, and plain CAM with the fc row
/// of each image's target class, Score-CAM, Ablation-CAM). No ReLU. Output `[N, 1, H, W]`.
pub fn cam_weighted_sum(rec: &mut Recorder, a: &Tensor, weights: &Tensor) -> Result<Tensor> {
    let op = "cam_weighted_sum";
    a.expect_dtype(op, DType::F32)?;
    weights.expect_dtype(op, DType::F32)?;
    let [n, c, h, w] = a.shape().nchw(op)?;
    check_planes(op, a, [n, c, h, w])?;
    if weights.dims() != [n, c] {
        return Err(Error::shape(
            op,
            format!("weights {} must be [N, C] = [{n}, {c}] for activations {}", weights.shape(), a.shape()),
        ));
    }
    combine(rec, op, [a, weights], [n, c, h, w], 0)
}

/// Records one `cam_combine.wgsl` channel sum (`entry` = `op`) of `inputs` into a new
/// `[N, 1, H, W]` tensor.
fn combine(
    rec: &mut Recorder,
    op: &'static str,
    inputs: [&Tensor; 2],
    [n, c, h, w]: [usize; 4],
    kind: u32,
) -> Result<Tensor> {
    let out = rec.alloc([n, 1, h, w], DType::F32)?;
    let total = n * h * w;
    let params = CamCombineParams {
        total: to_u32(op, "N*H*W", total)?,
        c: to_u32(op, "C", c)?,
        hw: to_u32(op, "H*W", h * w)?,
        kind,
        first: 0,
        divisor: 0,
        _pad: [0; 2],
    };
    rec.dispatch(
        &shaders::CAM_COMBINE,
        op,
        &[("WG", WG_1D as f64)],
        &params,
        &[inputs[0], inputs[1], &out],
        grid_1d(total as u64, WG_1D),
    )?;
    Ok(out)
}

/// The element-wise channel sums of HiResCAM (`sum_c G * A`) and LayerCAM
/// (`sum_c max(G, 0) * A`) for `a` and `g` `[N, C, H, W]`. No ReLU. Output `[N, 1, H, W]`.
pub fn cam_elementwise_sum(rec: &mut Recorder, a: &Tensor, g: &Tensor, kind: ElementwiseCam) -> Result<Tensor> {
    let op = "cam_elementwise_sum";
    let dims = check_pair(op, a, g)?;
    let code = match kind {
        ElementwiseCam::HiResCam => 0,
        ElementwiseCam::LayerCam => 1,
    };
    combine(rec, op, [a, g], dims, code)
}

/// The package's `scale_cam_image` without the resize, per leading index `n` of `cam`
/// (`[N, ...]`, usually `[N, 1, H, W]`): `x = x - min(x)`; `x = x / (1e-7 + max(x))`, in f32.
/// With `relu`, `max(x, 0)` first (the package applies `np.maximum(cam, 0)` before scaling).
/// A constant map becomes all zeros. Output has the shape of `cam`.
pub fn cam_normalize(rec: &mut Recorder, cam: &Tensor, relu: bool) -> Result<Tensor> {
    let op = "cam_normalize";
    cam.expect_dtype(op, DType::F32)?;
    let dims = cam.dims();
    if dims.is_empty() {
        return Err(Error::shape(op, "expected a tensor [N, ...] with a leading image dimension, got a scalar"));
    }
    let planes = dims[0];
    let len: usize = dims[1..].iter().product();
    if len == 0 {
        return Err(Error::shape(op, format!("{} has empty images: min and max are undefined", cam.shape())));
    }
    to_u32(op, "element count", cam.numel())?;
    let out = rec.alloc(cam.shape().clone(), DType::F32)?;
    if planes == 0 {
        return Ok(out);
    }
    let params = CamNormalizeParams {
        planes: to_u32(op, "N", planes)?,
        len: to_u32(op, "image size", len)?,
        relu: relu as u32,
        _pad: 0,
    };
    rec.dispatch(
        &shaders::CAM_NORMALIZE,
        op,
        &[("WG", reduce_wg(len) as f64)],
        &params,
        &[cam, &out],
        grid_1d(planes as u64, 1),
    )?;
    Ok(out)
}

/// ReLU, then the mean over the layers, of `cams` (at least one; f32, all of one shape, usually
/// `[N, 1, H, W]`): the package's `aggregate_multi_layers` before its final scaling,
/// `np.mean(np.maximum(cams, 0), axis=1)` (summed in layer order, then divided by L).
/// One dispatch per layer.
pub fn cam_mean_layers(rec: &mut Recorder, cams: &[&Tensor]) -> Result<Tensor> {
    let op = "cam_mean_layers";
    let Some(first) = cams.first() else {
        return Err(Error::arg(op, "at least one layer's CAM is needed"));
    };
    for (i, c) in cams.iter().enumerate() {
        c.expect_dtype(op, DType::F32)?;
        if c.shape() != first.shape() {
            return Err(Error::shape(op, format!("layer {i} has shape {}, layer 0 has {}", c.shape(), first.shape())));
        }
    }
    let total = first.numel();
    let layers = to_u32(op, "layer count", cams.len())?;
    let mut acc: Option<Tensor> = None;
    for (i, c) in cams.iter().enumerate() {
        let out = rec.alloc(first.shape().clone(), DType::F32)?;
        let params = CamCombineParams {
            total: to_u32(op, "element count", total)?,
            c: 1,
            hw: 1,
            kind: 0,
            first: (i == 0) as u32,
            divisor: if i + 1 == cams.len() { layers } else { 0 },
            _pad: [0; 2],
        };
        // The first layer has no running sum: its own CAM is bound in its place, unread.
        let prev = acc.as_ref().unwrap_or(c);
        rec.dispatch(
            &shaders::CAM_COMBINE,
            op,
            &[("WG", WG_1D as f64)],
            &params,
            &[c, prev, &out],
            grid_1d(total as u64, WG_1D),
        )?;
        if let Some(old) = acc.replace(out) {
            rec.recycle(old);
        }
    }
    Ok(acc.expect("at least one layer"))
}

/// The package's `get_2d_projection` per image `n` of `a` (`[N, C, H, W]` f32), with a fixed
/// sign. NaNs count as 0; `X` is `a[n]` as `H*W` rows of `C` values, centred by subtracting the
/// column (channel) means; the result is `X @ v1`, `v1` the first right singular vector of `X`,
/// found by power iteration on `X^T X` (applied as `X^T (X v)`, never formed) from a fixed
/// pseudo-random start, for at most `iters` iterations, stopping early once no component of
/// `v` moves by more than [`PROJECTION_TOLERANCE`] (1e-7) times its largest one. With many
/// channels f32 rounding alone moves `v` by about that much each iteration, so it also stops
/// once the movement has stalled: no new minimum for 16 iterations, with that minimum at most
/// 1e-5 of the largest component. Output `[N, 1, H, W]`.
///
/// Sign rule: the SVD's sign is arbitrary (LAPACK may return either), so the projection is
/// negated when `|min| > |max|`, making its largest-magnitude value positive: the package's own
/// `get_2d_projection_with_sign_correction` (Eq. 13 of Seg-Eigen-CAM). Its result therefore
/// equals that function's, and `get_2d_projection`'s up to sign. On an exact tie the sign of
/// the power iteration's converged vector is kept.
///
/// Convergence is geometric in `(s2 / s1)^2`, the squared ratio of the two largest singular
/// values; real activations usually have a clear first component and converge in tens of
/// iterations; 500 is a safe `iters` for layers whose two leading components are close.
/// One workgroup per image runs the whole iteration in one dispatch (scratch in a storage
/// buffer of `3C + H*W` floats per image).
pub fn cam_first_principal_projection(rec: &mut Recorder, a: &Tensor, iters: usize) -> Result<Tensor> {
    let op = "cam_first_principal_projection";
    a.expect_dtype(op, DType::F32)?;
    let [n, c, h, w] = a.shape().nchw(op)?;
    check_planes(op, a, [n, c, h, w])?;
    if iters == 0 {
        return Err(Error::arg(op, "iters must be at least 1"));
    }
    let hw = h * w;
    let per_image = 3 * c + hw;
    let scratch_len = n.checked_mul(per_image).ok_or_else(|| Error::arg(op, "scratch size overflows"))?;
    to_u32(op, "scratch size", scratch_len)?;
    let out = rec.alloc([n, 1, h, w], DType::F32)?;
    if n == 0 {
        return Ok(out);
    }
    let scratch = rec.alloc([scratch_len], DType::F32)?;
    let params = CamProjectionParams {
        n: to_u32(op, "N", n)?,
        c: to_u32(op, "C", c)?,
        hw: to_u32(op, "H*W", hw)?,
        iters: to_u32(op, "iters", iters)?,
        tol: PROJECTION_TOLERANCE,
        _pad: [0; 3],
    };
    let wg = reduce_wg(c.max(hw));
    rec.dispatch(
        &shaders::CAM_PROJECTION,
        op,
        &[("WG", wg as f64)],
        &params,
        &[a, &scratch, &out],
        grid_1d(n as u64, 1),
    )?;
    rec.recycle(scratch);
    Ok(out)
}

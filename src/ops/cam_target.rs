//! Target selection and input/activation perturbation for the CAM methods
//! (`shaders/cam_target.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// Mirrors `Params` in `shaders/cam_target.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable, Default)]
struct CamTargetParams {
    rows: u32,
    cols: u32,
    plane: u32,
    first: u32,
    eps: f32,
    batch: u32,
    _pad0: u32,
    _pad1: u32,
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::CAM_TARGET.name, std::mem::size_of::<CamTargetParams>()));
}

/// Gradient seeds for a batch of targets, chosen on the GPU: for each row `n` of `logits`
/// `[N, K]`, where `top1[n]` a one-hot row at the first maximum, else row `n` of `explicit`
/// (`[N, K]`, e.g. a class one-hot or a weighted sum of classes). Returns the seeds `[N, K]` and
/// the classes chosen (`[N]` as f32: the top-1 index, or -1 for explicit rows).
pub fn cam_target_seed(
    rec: &mut Recorder,
    logits: &Tensor,
    explicit: &[f32],
    top1: &[bool],
) -> Result<(Tensor, Tensor)> {
    let op = "cam_target_seed";
    let (n, k) = match *logits.dims() {
        [n, k] => (n, k),
        _ => return Err(Error::shape(op, format!("logits must be [N, classes], got {:?}", logits.dims()))),
    };
    if explicit.len() != n * k || top1.len() != n {
        return Err(Error::shape(
            op,
            format!("{} seed values and {} flags for logits [{n}, {k}]", explicit.len(), top1.len()),
        ));
    }
    let mut aux = explicit.to_vec();
    aux.extend(top1.iter().map(|&t| if t { 1.0 } else { 0.0 }));
    let aux = Tensor::from_f32(rec.gpu(), [aux.len()], &aux)?;
    let out = rec.alloc([n * k + n], DType::F32)?;
    let params =
        CamTargetParams { rows: to_u32(op, "rows", n)?, cols: to_u32(op, "classes", k)?, ..Default::default() };
    rec.dispatch(&shaders::CAM_TARGET, op, &[("WG", 64.0)], &params, &[logits, &aux, &out], grid_1d(n as u64, 64))?;
    // Split the packed result: seeds, then classes.
    let parts = super::split(rec, &out, 0, &[n * k, n])?;
    Ok((parts[0].reshape([n, k])?, parts[1].clone()))
}

/// Min-max scales every plane of `x` `[..., plane]` on its own: `(x - min) / (max - min + eps)`.
/// `planes` is the number of leading planes (`x.numel() / plane`).
pub fn plane_normalize(rec: &mut Recorder, x: &Tensor, plane: usize, eps: f32) -> Result<Tensor> {
    let op = "plane_normalize";
    if plane == 0 || !x.numel().is_multiple_of(plane) {
        return Err(Error::shape(op, format!("{} values do not split into planes of {plane}", x.numel())));
    }
    let planes = x.numel() / plane;
    let y = rec.alloc(x.shape().clone(), DType::F32)?;
    let params = CamTargetParams { plane: to_u32(op, "plane", plane)?, eps, ..Default::default() };
    rec.dispatch(
        &shaders::CAM_TARGET,
        op,
        &[("WG", WG_1D as f64)],
        &params,
        &[x, x, &y],
        [to_u32(op, "planes", planes)?, 1, 1],
    )?;
    Ok(y)
}

/// `copies` copies of one image's activations `a` `[1, C, H, W]`, copy `i` with channel
/// `first + i` ablated as the `grad-cam` package's AblationLayer does it (zeroed when the
/// activations' minimum is 0, else set far below it), for a package batch of `batch` copies.
pub fn ablate_channels(rec: &mut Recorder, a: &Tensor, first: usize, copies: usize, batch: usize) -> Result<Tensor> {
    let op = "ablate_channels";
    let [one, c, h, w] = a.shape().nchw(op)?;
    if one != 1 || first + copies > c || batch == 0 {
        return Err(Error::arg(
            op,
            format!("channels {first}..{} of {c}, batch {batch}, for activations {:?}", first + copies, a.dims()),
        ));
    }
    let plane = h * w;
    let min = rec.alloc([1], DType::F32)?;
    let p_min = CamTargetParams { plane: to_u32(op, "size", c * plane)?, ..Default::default() };
    rec.dispatch(&shaders::CAM_TARGET, "min_value", &[("WG", WG_1D as f64)], &p_min, &[a, a, &min], [1, 1, 1])?;
    let y = rec.alloc([copies, c, h, w], DType::F32)?;
    let params = CamTargetParams {
        rows: to_u32(op, "copies", copies)?,
        cols: to_u32(op, "channels", c)?,
        plane: to_u32(op, "plane", plane)?,
        first: to_u32(op, "first", first)?,
        batch: to_u32(op, "batch", batch)?,
        ..Default::default()
    };
    rec.dispatch(
        &shaders::CAM_TARGET,
        op,
        &[("WG", WG_1D as f64)],
        &params,
        &[a, &min, &y],
        grid_1d((copies * c * plane) as u64, WG_1D),
    )?;
    Ok(y)
}

//! `cast`: converts a tensor between f32 and f16 storage (`shaders/cast.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// Mirrors `Params` in `shaders/cast.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct CastParams {
    len: u32,
    _pad: [u32; 3],
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::CAST.name, std::mem::size_of::<CastParams>()));
}

/// `x` converted to `dtype` (f32 or f16; f32 to f16 rounds to nearest), into a new tensor; `x`
/// itself (shared) when it already has that dtype. Needs the adapter's `SHADER_F16`.
pub fn cast(rec: &mut Recorder, x: &Tensor, dtype: DType) -> Result<Tensor> {
    let op = "cast";
    if x.dtype() == dtype {
        return Ok(x.clone());
    }
    let entry = match (x.dtype(), dtype) {
        (DType::F32, DType::F16) => "cast_to_store",
        (DType::F16, DType::F32) => "cast_to_f32",
        (from, to) => return Err(Error::arg(op, format!("no cast from {from:?} to {to:?}"))),
    };
    super::require_shader_f16(rec.gpu(), op)?;
    let y = rec.alloc(x.shape().clone(), dtype)?;
    let len = to_u32(op, "element count", x.numel())?;
    let params = CastParams { len, _pad: [0; 3] };
    let shader = shaders::CAST.with_storage(DType::F16)?;
    rec.dispatch(&shader, entry, &[("WG", WG_1D as f64)], &params, &[x, &y], grid_1d(len as u64, WG_1D))?;
    Ok(y)
}

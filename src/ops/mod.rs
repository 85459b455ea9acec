//! Operations: one file per op family. Each holds the user-facing parameters, the output-shape
//! rule, the `#[repr(C)]` uniform block that mirrors the WGSL `Params` struct, and the function
//! that records the dispatch into a [`Recorder`](crate::gpu::Recorder).
//!
//! Every op allocates its output from the buffer pool and never writes into its inputs.

mod activation;
mod batch_norm;
mod binary;
mod cam;
mod cam_target;
mod cast;
mod concat;
mod conv2d;
mod gemm;
mod layer_norm;
mod lrn;
mod pad;
mod pool;
mod prelu;
mod reduce;
mod resize;
mod slice;
mod softmax;
mod train;
mod transpose;

pub use activation::*;
pub use batch_norm::*;
pub use binary::*;
pub use cam::*;
pub use cam_target::*;
pub use cast::*;
pub use concat::*;
pub use conv2d::*;
pub use gemm::*;
pub use layer_norm::*;
pub use lrn::*;
pub use pad::*;
pub use pool::*;
pub use prelu::*;
pub use reduce::*;
pub use resize::*;
pub use slice::*;
pub use softmax::*;
pub use train::*;
pub use transpose::*;

/// Default workgroup size of one-dimensional (elementwise) kernels.
pub(crate) const WG_1D: u32 = 256;

/// (shader name, byte size of the Rust mirror of its `Params` struct), for every uniform block
/// declared in Rust. A test checks each against the WGSL layout computed by naga.
#[doc(hidden)]
pub fn uniform_layouts() -> Vec<(&'static str, usize)> {
    let mut v = Vec::new();
    activation::uniform_layouts(&mut v);
    batch_norm::uniform_layouts(&mut v);
    binary::uniform_layouts(&mut v);
    cam::uniform_layouts(&mut v);
    cam_target::uniform_layouts(&mut v);
    cast::uniform_layouts(&mut v);
    concat::uniform_layouts(&mut v);
    conv2d::uniform_layouts(&mut v);
    gemm::uniform_layouts(&mut v);
    layer_norm::uniform_layouts(&mut v);
    lrn::uniform_layouts(&mut v);
    pad::uniform_layouts(&mut v);
    pool::uniform_layouts(&mut v);
    prelu::uniform_layouts(&mut v);
    reduce::uniform_layouts(&mut v);
    resize::uniform_layouts(&mut v);
    slice::uniform_layouts(&mut v);
    softmax::uniform_layouts(&mut v);
    train::uniform_layouts(&mut v);
    transpose::uniform_layouts(&mut v);
    v.extend(crate::bench::uniform_layouts());
    v
}

/// Converts a size to the `u32` the kernels index with, or an error naming `op`.
pub(crate) fn to_u32(op: &'static str, what: &str, v: usize) -> crate::Result<u32> {
    u32::try_from(v).map_err(|_| crate::Error::arg(op, format!("{what} = {v} does not fit in 32 bits")))
}

/// An error naming `op` unless `gpu` has `SHADER_F16`, which every f16 kernel needs.
pub(crate) fn require_shader_f16(gpu: &crate::Gpu, op: &'static str) -> crate::Result<()> {
    if gpu.features().contains(wgpu::Features::SHADER_F16) {
        return Ok(());
    }
    Err(crate::Error::arg(op, format!("f16 storage needs SHADER_F16, which `{}` does not have", gpu.adapter().name)))
}

/// The storage dtype shared by a kernel's tensor operands: f32, or f16 where the device has
/// `SHADER_F16`.
pub(crate) fn storage_dtype(
    rec: &crate::gpu::Recorder,
    op: &'static str,
    tensors: &[&crate::Tensor],
) -> crate::Result<crate::DType> {
    let dtype = tensors[0].dtype();
    for t in tensors {
        if t.dtype() != dtype {
            return Err(crate::Error::DType { op, expected: dtype, found: t.dtype() });
        }
    }
    if dtype == crate::DType::F16 {
        require_shader_f16(rec.gpu(), op)?;
    }
    Ok(dtype)
}

/// [`storage_dtype`] and the variant of `shader` that stores it.
pub(crate) fn storage_of(
    rec: &crate::gpu::Recorder,
    op: &'static str,
    shader: &crate::shaders::Shader,
    tensors: &[&crate::Tensor],
) -> crate::Result<(crate::DType, crate::shaders::Shader)> {
    let dtype = storage_dtype(rec, op, tensors)?;
    let shader = shader.with_storage(dtype).map_err(|_| crate::Error::DType {
        op,
        expected: crate::DType::F32,
        found: dtype,
    })?;
    Ok((dtype, shader))
}

//! Local response normalisation across channels (AlexNet, GoogLeNet).

use bytemuck::{Pod, Zeroable};

use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// Cross-channel LRN parameters (PyTorch `nn.LocalResponseNorm`, ONNX `LRN`):
/// `b_c = a_c / (k + alpha / size * sum_{c'} a_{c'}^2)^beta`, the sum over the channels
/// `c - floor((size - 1) / 2) ..= c + ceil((size - 1) / 2)` that exist.
///
/// For odd `size` the window is centred, as in both PyTorch and ONNX. For even `size` this is
/// ONNX's window (one more channel after `c` than before it); PyTorch's functional form puts the
/// extra channel before `c` instead.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lrn {
    /// Number of channels in the window (at least 1).
    pub size: usize,
    /// Scale of the mean of squares.
    pub alpha: f32,
    /// Exponent.
    pub beta: f32,
    /// Additive constant.
    pub k: f32,
}

impl Default for Lrn {
    /// PyTorch's defaults: size 5, alpha 1e-4, beta 0.75, k 1.
    fn default() -> Self {
        Lrn { size: 5, alpha: 1e-4, beta: 0.75, k: 1.0 }
    }
}

impl Lrn {
    /// Channels of the window `(before, after)` channel `c`.
    pub fn window(&self) -> (usize, usize) {
        ((self.size.saturating_sub(1)) / 2, self.size / 2)
    }
}

/// Mirrors `Params` in `shaders/lrn.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct LrnParams {
    len: u32,
    c: u32,
    inner: u32,
    size: u32,
    before: u32,
    after: u32,
    alpha: f32,
    beta: f32,
    k: f32,
    _pad: [u32; 3],
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::LRN.name, std::mem::size_of::<LrnParams>()));
}

/// Local response normalisation of `x` `[N, C, ...]` (NCHW or more spatial dimensions) across
/// its channels, into a new tensor of the same shape.
pub fn lrn(rec: &mut Recorder, x: &Tensor, cfg: &Lrn) -> Result<Tensor> {
    let op = "lrn";
    x.expect_dtype(op, DType::F32)?;
    let dims = x.dims();
    if dims.len() < 3 {
        return Err(Error::shape(op, format!("input {} must have at least 3 dimensions [N, C, H, ...]", x.shape())));
    }
    if cfg.size == 0 {
        return Err(Error::arg(op, "size must be at least 1"));
    }
    if !(cfg.alpha.is_finite() && cfg.beta.is_finite() && cfg.k.is_finite()) {
        return Err(Error::arg(op, format!("alpha, beta and k must be finite, got {cfg:?}")));
    }
    let c = dims[1];
    let inner: usize = dims[2..].iter().product();
    let (before, after) = cfg.window();
    let len = to_u32(op, "element count", x.numel())?;
    let y = rec.alloc(x.shape().clone(), DType::F32)?;
    // The window is clipped to the C channels, so wider bounds change nothing.
    let params = LrnParams {
        len,
        c: to_u32(op, "C", c)?,
        inner: to_u32(op, "H*W", inner)?,
        size: to_u32(op, "size", cfg.size)?,
        before: to_u32(op, "window", before.min(c))?,
        after: to_u32(op, "window", after.min(c))?,
        alpha: cfg.alpha,
        beta: cfg.beta,
        k: cfg.k,
        _pad: [0; 3],
    };
    if len > 0 {
        rec.dispatch(&shaders::LRN, "lrn", &[("WG", WG_1D as f64)], &params, &[x, &y], grid_1d(len as u64, WG_1D))?;
    }
    Ok(y)
}

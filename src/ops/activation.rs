//! Elementwise activations, standalone or fused into the epilogue of conv2d and gemm.

use bytemuck::{Pod, Zeroable};

use super::WG_1D;
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// An activation function. Also used as the fused epilogue of [`conv2d`](super::conv2d) and
/// [`gemm`](super::gemm).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Activation {
    /// Identity.
    #[default]
    None,
    /// `max(x, 0)`.
    Relu,
    /// `x` if `x >= 0`, else `slope * x`.
    LeakyRelu(f32),
    /// `clamp(x, min, max)`; `Clip(0, 6)` is ReLU6.
    Clip(f32, f32),
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `x * sigmoid(x)` (also called swish).
    Silu,
    /// `clamp(alpha * x + beta, 0, 1)`; PyTorch's hardsigmoid is alpha 1/6, beta 1/2.
    HardSigmoid(f32, f32),
    /// `x * relu6(x + 3) / 6`.
    HardSwish,
    /// Exact GELU, `0.5 x (1 + erf(x / sqrt 2))`.
    Gelu,
    /// GELU with the tanh approximation.
    GeluTanh,
    /// `tanh(x)`.
    Tanh,
    /// The error function `erf(x)` (ONNX `Erf`), on its own rather than inside GELU.
    Erf,
}

impl Activation {
    /// ReLU6, `clamp(x, 0, 6)`.
    pub const RELU6: Activation = Activation::Clip(0.0, 6.0);
    /// PyTorch's and ONNX's default hard sigmoid (alpha 1/6, beta 1/2; ONNX's default alpha 0.2
    /// must be passed explicitly).
    pub const HARD_SIGMOID: Activation = Activation::HardSigmoid(1.0 / 6.0, 0.5);

    /// The kernel code and its two parameters (see `shaders/lib/activation.wgsl`).
    pub(crate) fn code(self) -> (u32, f32, f32) {
        match self {
            Activation::None => (0, 0.0, 0.0),
            Activation::Relu => (1, 0.0, 0.0),
            Activation::LeakyRelu(s) => (2, s, 0.0),
            Activation::Clip(lo, hi) => (3, lo, hi),
            Activation::Sigmoid => (4, 0.0, 0.0),
            Activation::Silu => (5, 0.0, 0.0),
            Activation::HardSigmoid(a, b) => (6, a, b),
            Activation::HardSwish => (7, 0.0, 0.0),
            Activation::Gelu => (8, 0.0, 0.0),
            Activation::GeluTanh => (9, 0.0, 0.0),
            Activation::Tanh => (10, 0.0, 0.0),
            Activation::Erf => (11, 0.0, 0.0),
        }
    }

    /// The short name used in labels and reports (`relu`, `leaky_relu`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Activation::None => "none",
            Activation::Relu => "relu",
            Activation::LeakyRelu(_) => "leaky_relu",
            Activation::Clip(_, _) => "clip",
            Activation::Sigmoid => "sigmoid",
            Activation::Silu => "silu",
            Activation::HardSigmoid(_, _) => "hard_sigmoid",
            Activation::HardSwish => "hard_swish",
            Activation::Gelu => "gelu",
            Activation::GeluTanh => "gelu_tanh",
            Activation::Tanh => "tanh",
            Activation::Erf => "erf",
        }
    }
}

/// Mirrors `Params` in `shaders/activation.wgsl` and in `shaders/activation_backward.wgsl`
/// (the same block).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ActivationParams {
    len: u32,
    code: u32,
    a: f32,
    b: f32,
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::ACTIVATION.name, std::mem::size_of::<ActivationParams>()));
    v.push((shaders::ACTIVATION_BACKWARD.name, std::mem::size_of::<ActivationParams>()));
}

/// The pipeline constant that fixes a kernel's activation to `code` (`ACT` in
/// shaders/lib/activation.wgsl), passed with every dispatch of a kernel that applies one: each
/// such kernel is compiled once per activation it runs. On llvmpipe a switch over a run-time
/// code costs every case's arithmetic per value (both sides of a branch run under lane masks);
/// MobileNetV2's 16->96 expand took 6.8 ms with it and 3.0 ms without (benches/RESULTS.md).
pub(crate) fn act_override(code: u32) -> (&'static str, f64) {
    ("ACT", code as f64)
}

/// Applies `act` elementwise to `x` (any shape, f32 or f16 storage), into a new tensor of
/// `x`'s dtype.
pub fn activation(rec: &mut Recorder, x: &Tensor, act: Activation) -> Result<Tensor> {
    let (store, shader) = super::storage_of(rec, "activation", &shaders::ACTIVATION, &[x])?;
    let y = rec.alloc(x.shape().clone(), store)?;
    let (code, a, b) = act.code();
    let len = super::to_u32("activation", "element count", x.numel())?;
    let params = ActivationParams { len, code, a, b };
    let overrides = [("WG", WG_1D as f64), act_override(code)];
    rec.dispatch(&shader, "activation", &overrides, &params, &[x, &y], grid_1d(len as u64, WG_1D))?;
    Ok(y)
}

/// Records one elementwise backward kernel of `shaders/activation_backward.wgsl`:
/// `dx = g(dy, x)` with `dy` and `x` of one shape.
fn elementwise_backward(
    rec: &mut Recorder,
    entry: &'static str,
    dy: &Tensor,
    x: &Tensor,
    act: Activation,
) -> Result<Tensor> {
    dy.expect_dtype(entry, DType::F32)?;
    x.expect_dtype(entry, DType::F32)?;
    if dy.dims() != x.dims() {
        return Err(Error::shape(
            entry,
            format!("gradient {} and input {} must have the same shape", dy.shape(), x.shape()),
        ));
    }
    let dx = rec.alloc(x.shape().clone(), DType::F32)?;
    let (code, a, b) = act.code();
    let len = super::to_u32(entry, "element count", x.numel())?;
    let params = ActivationParams { len, code, a, b };
    rec.dispatch(
        &shaders::ACTIVATION_BACKWARD,
        entry,
        &[("WG", WG_1D as f64), act_override(code)],
        &params,
        &[dy, x, &dx],
        grid_1d(len as u64, WG_1D),
    )?;
    Ok(dx)
}

/// The gradient of [`activation`]: `dx = dy * f'(x)` elementwise, where `x` is the
/// activation's *input* and `dy` the gradient of its output (same shape as `x`).
///
/// At the kinks the derivative is PyTorch's: `relu'(0) = 0`; leaky ReLU passes `dy` where
/// `x > 0` and `slope * dy` elsewhere (0 included); `Clip` (ReLU6, hardtanh) passes `dy`
/// strictly inside `(min, max)` only; `HardSigmoid(a, b)` has slope `a` strictly between its
/// kinks `-b / a` and `(1 - b) / a`, compared in `x` as PyTorch does (`-3 < x < 3` for its
/// defaults, where `0 < a x + b < 1`); hard swish is 0 below -3, 1 above
/// 3 and `(2x + 3) / 6` on `[-3, 3]`. GELU's derivative is that of the exact or the tanh form;
/// erf's is `2 / sqrt(pi) * exp(-x^2)`.
pub fn activation_backward(rec: &mut Recorder, dy: &Tensor, x: &Tensor, act: Activation) -> Result<Tensor> {
    elementwise_backward(rec, "activation_backward", dy, x, act)
}

/// Guided backpropagation through a ReLU (Springenberg et al.): `dx = dy` where both the
/// ReLU's input `x > 0` and `dy > 0`, else 0. `dy` and `x` have the same shape.
pub fn guided_relu_backward(rec: &mut Recorder, dy: &Tensor, x: &Tensor) -> Result<Tensor> {
    elementwise_backward(rec, "guided_relu_backward", dy, x, Activation::Relu)
}

//! Pooling: windowed max (with argmax indices) and average pooling, and global average and max
//! pooling over whole feature maps. Semantics follow PyTorch (`max_pool2d`, `avg_pool2d`,
//! `adaptive_*_pool2d` to 1x1), with ONNX's asymmetric `pads` allowed.

use bytemuck::{Pod, Zeroable};

use super::{to_u32, WG_1D};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// Pooling window hyper-parameters, shared by [`max_pool2d`] and [`avg_pool2d`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pool2d {
    /// Window size `[KH, KW]`.
    pub kernel: [usize; 2],
    /// Stride `[vertical, horizontal]`.
    pub stride: [usize; 2],
    /// Implicit padding `[top, left, bottom, right]` (the ONNX `pads` order); each side at most
    /// half the kernel size in its dimension, as PyTorch requires. Max pooling pads with -inf,
    /// average pooling with zeros (see [`Pool2d::count_include_pad`]).
    pub padding: [usize; 4],
    /// Dilation `[vertical, horizontal]`; max pooling only, average pooling requires `[1, 1]`.
    pub dilation: [usize; 2],
    /// Round the output size up instead of down (PyTorch's `ceil_mode`): a last, partial window
    /// is kept as long as it starts inside the input or the top/left padding.
    pub ceil_mode: bool,
    /// Average pooling only: divide by the window size clipped to the padded input instead of by
    /// the number of input values under the window.
    pub count_include_pad: bool,
}

impl Pool2d {
    /// A square `kernel` x `kernel` window moved by `stride` in both directions, no padding,
    /// no dilation, floor mode, `count_include_pad` off.
    pub fn new(kernel: usize, stride: usize) -> Pool2d {
        Pool2d {
            kernel: [kernel; 2],
            stride: [stride; 2],
            padding: [0; 4],
            dilation: [1, 1],
            ceil_mode: false,
            count_include_pad: false,
        }
    }

    /// Output `[H_out, W_out]` for input `[H, W]` (PyTorch's rule), or an error when the
    /// configuration is invalid or the window does not fit.
    pub fn output_hw(&self, hw: [usize; 2]) -> Result<[usize; 2]> {
        self.output_hw_for("pool2d", hw)
    }

    /// [`Pool2d::output_hw`] with errors naming `op`.
    fn output_hw_for(&self, op: &'static str, hw: [usize; 2]) -> Result<[usize; 2]> {
        if self.kernel.contains(&0) || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err(Error::arg(
                op,
                format!(
                    "kernel {:?}, stride {:?} and dilation {:?} must be positive",
                    self.kernel, self.stride, self.dilation
                ),
            ));
        }
        let too_large = || Error::arg(op, format!("sizes overflow: input {hw:?}, {self:?}"));
        let mut out = [0; 2];
        for d in 0..2 {
            let (k, s, dil) = (self.kernel[d], self.stride[d], self.dilation[d]);
            let (pb, pe) = (self.padding[d], self.padding[d + 2]);
            if hw[d] == 0 {
                return Err(Error::shape(op, format!("input size {hw:?} must be positive")));
            }
            if pb > k / 2 || pe > k / 2 {
                return Err(Error::arg(
                    op,
                    format!(
                        "padding {:?} must be at most half the kernel size {:?} on every side",
                        self.padding, self.kernel
                    ),
                ));
            }
            let span = dil.checked_mul(k - 1).and_then(|v| v.checked_add(1)).ok_or_else(too_large)?;
            let padded = hw[d].checked_add(pb).and_then(|v| v.checked_add(pe)).ok_or_else(too_large)?;
            let num = if self.ceil_mode { padded.checked_add(s - 1).ok_or_else(too_large)? } else { padded };
            if num < span {
                return Err(Error::shape(
                    op,
                    format!("window span {span} larger than padded input {padded} in dimension {d}"),
                ));
            }
            let mut o = (num - span) / s + 1;
            // PyTorch: the last window must start inside the input or the leading padding.
            if self.ceil_mode && (o - 1) * s >= hw[d] + pb {
                o -= 1;
            }
            out[d] = o;
        }
        Ok(out)
    }

    /// Checks that the window arithmetic of the kernels (32-bit signed) cannot overflow.
    fn check_i32(&self, op: &'static str, hw: [usize; 2]) -> Result<()> {
        for d in 0..2 {
            let padded = hw[d] + self.padding[d] + self.padding[d + 2];
            let span = self.dilation[d] * (self.kernel[d] - 1) + 1;
            let fits = padded
                .checked_add(self.stride[d])
                .and_then(|v| v.checked_add(span))
                .and_then(|v| v.checked_mul(2))
                .is_some_and(|v| v <= i32::MAX as usize);
            if !fits {
                return Err(Error::arg(op, format!("input {hw:?} with {self:?} is too large for the 32-bit kernel")));
            }
        }
        Ok(())
    }
}

/// Mirrors `Params` in `shaders/lib/max_pool_params.wgsl` (max_pool2d, max_pool2d_rows).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MaxPool2dParams {
    len: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    stride_h: u32,
    stride_w: u32,
    pad_top: u32,
    pad_left: u32,
    dil_h: u32,
    dil_w: u32,
    _pad: [u32; 3],
}

/// Mirrors `Params` in `shaders/avg_pool2d.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct AvgPool2dParams {
    len: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    stride_h: u32,
    stride_w: u32,
    pad_top: u32,
    pad_left: u32,
    pad_bottom: u32,
    pad_right: u32,
    count_include_pad: u32,
    _pad: [u32; 2],
}

/// Mirrors `Params` in `shaders/global_pool2d.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct GlobalPool2dParams {
    planes: u32,
    hw: u32,
    _pad: [u32; 2],
}

/// Mirrors `Params` in `shaders/pool_backward.wgsl` (shared by its four entries).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable, Default)]
struct PoolBackwardParams {
    len: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    stride_h: u32,
    stride_w: u32,
    pad_top: u32,
    pad_left: u32,
    pad_bottom: u32,
    pad_right: u32,
    dil_h: u32,
    dil_w: u32,
    count_include_pad: u32,
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::POOL_BACKWARD.name, std::mem::size_of::<PoolBackwardParams>()));
    v.push((shaders::MAX_POOL2D.name, std::mem::size_of::<MaxPool2dParams>()));
    v.push((shaders::MAX_POOL2D_ROWS.name, std::mem::size_of::<MaxPool2dParams>()));
    v.push((shaders::AVG_POOL2D.name, std::mem::size_of::<AvgPool2dParams>()));
    v.push((shaders::GLOBAL_POOL2D.name, std::mem::size_of::<GlobalPool2dParams>()));
}

/// Shapes of a windowed pool: input `[N, C, H, W]` and output `[N, C, H_out, W_out]`.
fn pool_shapes(op: &'static str, x: &Tensor, cfg: &Pool2d) -> Result<([usize; 4], [usize; 4])> {
    let [n, c, h, w] = x.shape().nchw(op)?;
    let [oh, ow] = cfg.output_hw_for(op, [h, w])?;
    cfg.check_i32(op, [h, w])?;
    to_u32(op, "input element count", x.numel())?;
    Ok(([n, c, h, w], [n, c, oh, ow]))
}

/// Max pooling of `x` `[N, C, H, W]`. Returns the output `[N, C, H_out, W_out]` and, in a
/// [`DType::U32`] tensor of the same shape, where each maximum came from: `iy * W + ix` within
/// its input plane (PyTorch's `return_indices`). Ties go to the first maximum in row-major
/// window order; padding counts as -inf.
/// `x` is f32 or f16 (storage); the output has its dtype.
pub fn max_pool2d(rec: &mut Recorder, x: &Tensor, cfg: &Pool2d) -> Result<(Tensor, Tensor)> {
    let op = "max_pool2d";
    let (store, shader) = super::storage_of(rec, op, &shaders::MAX_POOL2D, &[x])?;
    let ([n, c, h, w], out) = pool_shapes(op, x, cfg)?;
    let [_, _, oh, ow] = out;
    let y = rec.alloc(out, store)?;
    let idx = rec.alloc(out, DType::U32)?;
    let u = |what, v| to_u32(op, what, v);
    let len = u("output element count", n * c * oh * ow)?;
    let params = MaxPool2dParams {
        len,
        h: u("H", h)?,
        w: u("W", w)?,
        oh: u("H_out", oh)?,
        ow: u("W_out", ow)?,
        kh: u("kernel", cfg.kernel[0])?,
        kw: u("kernel", cfg.kernel[1])?,
        stride_h: u("stride", cfg.stride[0])?,
        stride_w: u("stride", cfg.stride[1])?,
        pad_top: u("padding", cfg.padding[0])?,
        pad_left: u("padding", cfg.padding[1])?,
        dil_h: u("dilation", cfg.dilation[0])?,
        dil_w: u("dilation", cfg.dilation[1])?,
        _pad: [0; 3],
    };
    if len == 0 {
        return Ok((y, idx));
    }
    if rec.gpu().is_cpu() && max_pool2d_rows_applies(cfg, [w, ow]) {
        let blocks = (n * c * oh * ow.div_ceil(8)) as u64;
        let rows = shaders::MAX_POOL2D_ROWS.with_storage(store)?;
        rec.dispatch(&rows, "max_pool2d_rows", &[("WG", 64.0)], &params, &[x, &y, &idx], grid_1d(blocks, 64))?;
    } else {
        let grid = grid_1d(len as u64, WG_1D);
        rec.dispatch(&shader, "max_pool2d", &[("WG", WG_1D as f64)], &params, &[x, &y, &idx], grid)?;
    }
    Ok((y, idx))
}

/// Whether max_pool2d_rows computes a max pool with `cfg` over rows `w` wide into rows `ow`
/// wide: 3x3 windows at stride 2 and dilation 1 with one column of padding on the left (any
/// elsewhere), both widths multiples of 4 (rows of whole vec4s). Taken on CPU adapters only,
/// where it makes 8 outputs per invocation from vec4 loads (ResNet-18's pool, 64 x 112 x 112
/// on lavapipe, see benches/RESULTS.md); elsewhere one output per invocation stays.
fn max_pool2d_rows_applies(cfg: &Pool2d, [w, ow]: [usize; 2]) -> bool {
    cfg.kernel == [3, 3]
        && cfg.stride == [2, 2]
        && cfg.dilation == [1, 1]
        && cfg.padding[1] == 1
        && w.is_multiple_of(4)
        && ow.is_multiple_of(4)
}

/// Average pooling of `x` `[N, C, H, W]` into `[N, C, H_out, W_out]`. Padding contributes
/// zeros; the divisor is the number of input values under the window, or with
/// [`Pool2d::count_include_pad`] the window size clipped to the padded input (PyTorch).
/// Dilation must be `[1, 1]`. `x` is f32 or f16 (storage); the output has its dtype.
pub fn avg_pool2d(rec: &mut Recorder, x: &Tensor, cfg: &Pool2d) -> Result<Tensor> {
    let op = "avg_pool2d";
    let (store, shader) = super::storage_of(rec, op, &shaders::AVG_POOL2D, &[x])?;
    if cfg.dilation != [1, 1] {
        return Err(Error::arg(op, format!("dilation {:?} is not supported; it must be [1, 1]", cfg.dilation)));
    }
    let ([n, c, h, w], out) = pool_shapes(op, x, cfg)?;
    let [_, _, oh, ow] = out;
    let y = rec.alloc(out, store)?;
    let u = |what, v| to_u32(op, what, v);
    let len = u("output element count", n * c * oh * ow)?;
    let params = AvgPool2dParams {
        len,
        h: u("H", h)?,
        w: u("W", w)?,
        oh: u("H_out", oh)?,
        ow: u("W_out", ow)?,
        kh: u("kernel", cfg.kernel[0])?,
        kw: u("kernel", cfg.kernel[1])?,
        stride_h: u("stride", cfg.stride[0])?,
        stride_w: u("stride", cfg.stride[1])?,
        pad_top: u("padding", cfg.padding[0])?,
        pad_left: u("padding", cfg.padding[1])?,
        pad_bottom: u("padding", cfg.padding[2])?,
        pad_right: u("padding", cfg.padding[3])?,
        count_include_pad: cfg.count_include_pad as u32,
        _pad: [0; 2],
    };
    if len > 0 {
        rec.dispatch(&shader, "avg_pool2d", &[("WG", WG_1D as f64)], &params, &[x, &y], grid_1d(len as u64, WG_1D))?;
    }
    Ok(y)
}

/// Planes of at most this many values are pooled by one invocation each on CPU adapters (the
/// `_serial` entries of `shaders/global_pool2d.wgsl`): a workgroup's tree reduction costs
/// llvmpipe a barrier per level (MobileNetV2's 1280 planes of 7x7: 2.1 ms that way, 0.1 ms
/// serially; benches/RESULTS.md). Larger planes keep the workgroups, which split them, and
/// every loop stays well under llvmpipe's limit on loop iterations.
pub(super) const SERIAL_PLANE_MAX: usize = 4096;

/// Records one global pool (`entry` in `shaders/global_pool2d.wgsl`): one workgroup per plane,
/// or on CPU adapters one invocation per plane of at most [`SERIAL_PLANE_MAX`] values (the
/// `serial` entry).
fn global_pool2d(rec: &mut Recorder, x: &Tensor, [entry, serial]: [&'static str; 2]) -> Result<Tensor> {
    let (store, shader) = super::storage_of(rec, entry, &shaders::GLOBAL_POOL2D, &[x])?;
    let [n, c, h, w] = x.shape().nchw(entry)?;
    if h == 0 || w == 0 {
        return Err(Error::shape(entry, format!("input {} has an empty feature map", x.shape())));
    }
    to_u32(entry, "input element count", x.numel())?;
    let planes = n * c;
    let hw = h * w;
    let y = rec.alloc([n, c, 1, 1], store)?;
    let params =
        GlobalPool2dParams { planes: to_u32(entry, "N*C", planes)?, hw: to_u32(entry, "H*W", hw)?, _pad: [0; 2] };
    if planes > 0 && rec.gpu().is_cpu() && hw <= SERIAL_PLANE_MAX {
        rec.dispatch(&shader, serial, &[("WG", 8.0)], &params, &[x, &y], grid_1d(planes as u64, 8))?;
        return Ok(y);
    }
    // Small planes get small workgroups so that few invocations idle (a power of two, 32..=256).
    let wg = hw.next_power_of_two().clamp(32, 256);
    if planes > 0 {
        rec.dispatch(&shader, entry, &[("WG", wg as f64)], &params, &[x, &y], grid_1d(planes as u64, 1))?;
    }
    Ok(y)
}

/// Global average pooling: the mean of each `H x W` feature map of `x` `[N, C, H, W]`, as
/// `[N, C, 1, 1]`; flattened, the embedding vector of each image.
pub fn global_avg_pool2d(rec: &mut Recorder, x: &Tensor) -> Result<Tensor> {
    global_pool2d(rec, x, ["global_avg_pool2d", "global_avg_pool2d_serial"])
}

/// Global max pooling: the maximum of each `H x W` feature map of `x` `[N, C, H, W]`, as
/// `[N, C, 1, 1]`.
pub fn global_max_pool2d(rec: &mut Recorder, x: &Tensor) -> Result<Tensor> {
    global_pool2d(rec, x, ["global_max_pool2d", "global_max_pool2d_serial"])
}

/// The input `[N, C, H, W]` of a pooling backward, checked: four dimensions, none empty, and
/// few enough elements for the 32-bit kernels.
fn backward_x_shape(op: &'static str, x_shape: &[usize]) -> Result<[usize; 4]> {
    let &[n, c, h, w] = x_shape else {
        return Err(Error::shape(op, format!("input shape {x_shape:?} must be 4-D [N, C, H, W]")));
    };
    if h == 0 || w == 0 {
        return Err(Error::shape(op, format!("input shape {x_shape:?} has an empty feature map")));
    }
    let numel = [n, c, h, w].iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    match numel {
        Some(v) => to_u32(op, "input element count", v)?,
        None => return Err(Error::shape(op, format!("input shape {x_shape:?} overflows"))),
    };
    Ok([n, c, h, w])
}

/// Checks `dy` against the output `[N, C, H_out, W_out]` of a windowed pool of `x_shape` and
/// fills the window fields of the backward parameters.
fn window_backward_params(
    op: &'static str,
    dy: &Tensor,
    x_shape: &[usize],
    cfg: &Pool2d,
) -> Result<PoolBackwardParams> {
    dy.expect_dtype(op, DType::F32)?;
    let [n, c, h, w] = backward_x_shape(op, x_shape)?;
    let [oh, ow] = cfg.output_hw_for(op, [h, w])?;
    cfg.check_i32(op, [h, w])?;
    if dy.dims() != [n, c, oh, ow] {
        return Err(Error::shape(
            op,
            format!(
                "gradient {} must be the pool's output shape [{n}, {c}, {oh}, {ow}] for input {x_shape:?}",
                dy.shape()
            ),
        ));
    }
    let u = |what, v| to_u32(op, what, v);
    Ok(PoolBackwardParams {
        len: u("input element count", n * c * h * w)?,
        h: u("H", h)?,
        w: u("W", w)?,
        oh: u("H_out", oh)?,
        ow: u("W_out", ow)?,
        kh: u("kernel", cfg.kernel[0])?,
        kw: u("kernel", cfg.kernel[1])?,
        stride_h: u("stride", cfg.stride[0])?,
        stride_w: u("stride", cfg.stride[1])?,
        pad_top: u("padding", cfg.padding[0])?,
        pad_left: u("padding", cfg.padding[1])?,
        pad_bottom: u("padding", cfg.padding[2])?,
        pad_right: u("padding", cfg.padding[3])?,
        dil_h: u("dilation", cfg.dilation[0])?,
        dil_w: u("dilation", cfg.dilation[1])?,
        count_include_pad: cfg.count_include_pad as u32,
    })
}

/// The gradient of [`max_pool2d`]: `dy` `[N, C, H_out, W_out]` flows back to the input each
/// output's `argmax` (the [`DType::U32`] indices returned by [`max_pool2d`]) names, giving `dx`
/// of `x_shape` `[N, C, H, W]`; where windows overlap, an input collects the gradients of every
/// output it was the maximum of (PyTorch). An index that does not name an input under its own
/// window contributes nothing.
///
/// A gather: one invocation per input element visits the outputs whose windows cover it, so
/// there are no atomics and no zero-fill pass.
pub fn max_pool2d_backward(
    rec: &mut Recorder,
    dy: &Tensor,
    argmax: &Tensor,
    x_shape: &[usize],
    cfg: &Pool2d,
) -> Result<Tensor> {
    let op = "max_pool2d_backward";
    let params = window_backward_params(op, dy, x_shape, cfg)?;
    argmax.expect_dtype(op, DType::U32)?;
    if argmax.dims() != dy.dims() {
        return Err(Error::shape(
            op,
            format!("argmax {} must have the gradient's shape {}", argmax.shape(), dy.shape()),
        ));
    }
    let dx = rec.alloc(x_shape, DType::F32)?;
    if params.len > 0 {
        // CPU adapters at dilation 1: one invocation per input row, without the per-tap
        // divisions (the demo model's training step spent a fifth of its GPU time in them).
        let (entry, params) = if rec.gpu().is_cpu() && cfg.dilation == [1, 1] {
            ("max_pool2d_backward_rows", PoolBackwardParams { len: params.len / params.w, ..params })
        } else {
            (op, params)
        };
        rec.dispatch(
            &shaders::POOL_BACKWARD,
            entry,
            &[("WG", WG_1D as f64)],
            &params,
            &[dy, &dx, argmax],
            grid_1d(params.len as u64, WG_1D),
        )?;
    }
    Ok(dx)
}

/// The gradient of [`avg_pool2d`]: every input under a window receives `dy / divisor` of that
/// window (the divisor as in the forward pass, with or without
/// [`Pool2d::count_include_pad`]), summed over the windows that cover it. `dy` is the pool's
/// output `[N, C, H_out, W_out]`; `dx` has `x_shape` `[N, C, H, W]`. Dilation must be `[1, 1]`.
///
/// A gather: one invocation per input element, no atomics.
pub fn avg_pool2d_backward(rec: &mut Recorder, dy: &Tensor, x_shape: &[usize], cfg: &Pool2d) -> Result<Tensor> {
    let op = "avg_pool2d_backward";
    if cfg.dilation != [1, 1] {
        return Err(Error::arg(op, format!("dilation {:?} is not supported; it must be [1, 1]", cfg.dilation)));
    }
    let params = window_backward_params(op, dy, x_shape, cfg)?;
    let dx = rec.alloc(x_shape, DType::F32)?;
    if params.len > 0 {
        rec.dispatch(
            &shaders::POOL_BACKWARD,
            op,
            &[("WG", WG_1D as f64)],
            &params,
            &[dy, &dx],
            grid_1d(params.len as u64, WG_1D),
        )?;
    }
    Ok(dx)
}

/// Checks the `[N, C, 1, 1]` gradient of a global pool of `x_shape`.
fn global_backward_params(op: &'static str, dy: &Tensor, x_shape: &[usize]) -> Result<PoolBackwardParams> {
    dy.expect_dtype(op, DType::F32)?;
    let [n, c, h, w] = backward_x_shape(op, x_shape)?;
    if dy.dims() != [n, c, 1, 1] {
        return Err(Error::shape(
            op,
            format!("gradient {} must be [{n}, {c}, 1, 1] for input {x_shape:?}", dy.shape()),
        ));
    }
    Ok(PoolBackwardParams {
        len: to_u32(op, "input element count", n * c * h * w)?,
        h: to_u32(op, "H", h)?,
        w: to_u32(op, "W", w)?,
        ..Default::default()
    })
}

/// The gradient of [`global_avg_pool2d`]: `dy` `[N, C, 1, 1]` spread evenly over each plane,
/// `dx[n, c, y, x] = dy[n, c] / (H W)`, shaped `x_shape` `[N, C, H, W]`.
pub fn global_avg_pool2d_backward(rec: &mut Recorder, dy: &Tensor, x_shape: &[usize]) -> Result<Tensor> {
    let op = "global_avg_pool2d_backward";
    let params = global_backward_params(op, dy, x_shape)?;
    let dx = rec.alloc(x_shape, DType::F32)?;
    if params.len > 0 {
        rec.dispatch(
            &shaders::POOL_BACKWARD,
            op,
            &[("WG", WG_1D as f64)],
            &params,
            &[dy, &dx],
            grid_1d(params.len as u64, WG_1D),
        )?;
    }
    Ok(dx)
}

/// The gradient of [`global_max_pool2d`] for its input `x` `[N, C, H, W]`: all of `dy[n, c]`
/// goes to the first maximum of each plane in row-major order (PyTorch's
/// `adaptive_max_pool2d`), 0 elsewhere. `dy` is `[N, C, 1, 1]`.
///
/// One workgroup per plane finds the maximum and its first index by tree reductions.
pub fn global_max_pool2d_backward(rec: &mut Recorder, dy: &Tensor, x: &Tensor) -> Result<Tensor> {
    let op = "global_max_pool2d_backward";
    x.expect_dtype(op, DType::F32)?;
    let mut params = global_backward_params(op, dy, x.dims())?;
    let [n, c, h, w] = x.shape().nchw(op)?;
    let planes = n * c;
    params.len = to_u32(op, "N*C", planes)?;
    let dx = rec.alloc(x.shape().clone(), DType::F32)?;
    // As in the forward pass: a power of two, 32..=256, by plane size.
    let wg = (h * w).next_power_of_two().clamp(32, 256);
    if planes > 0 {
        rec.dispatch(
            &shaders::POOL_BACKWARD,
            op,
            &[("WG", wg as f64)],
            &params,
            &[dy, &dx, x],
            grid_1d(planes as u64, 1),
        )?;
    }
    Ok(dx)
}

//! 2-D convolution (`conv2d`), with groups, dilation, asymmetric padding, optional bias and a
//! fused activation epilogue.

use bytemuck::{Pod, Zeroable};

use super::{to_u32, Activation};
use crate::gpu::Recorder;
use crate::{shaders, DType, Error, Result, Tensor};

/// Convolution hyper-parameters. Weights are `[C_out, C_in / groups, KH, KW]`, bias `[C_out]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv2d {
    /// Stride `[vertical, horizontal]`.
    pub stride: [usize; 2],
    /// Zero padding `[top, left, bottom, right]` (the ONNX `pads` order).
    pub padding: [usize; 4],
    /// Dilation `[vertical, horizontal]`.
    pub dilation: [usize; 2],
    /// Number of groups; `C_in` and `C_out` must both divide by it. `groups == C_in` with
    /// `C_out` a multiple of it is a depthwise convolution.
    pub groups: usize,
    /// Activation applied to the output in the same kernel.
    pub activation: Activation,
}

impl Default for Conv2d {
    fn default() -> Self {
        Conv2d { stride: [1, 1], padding: [0; 4], dilation: [1, 1], groups: 1, activation: Activation::None }
    }
}

impl Conv2d {
    /// Symmetric padding `pad` on all four sides, stride `stride`.
    pub fn same(pad: usize, stride: usize) -> Conv2d {
        Conv2d { stride: [stride; 2], padding: [pad; 4], ..Default::default() }
    }

    /// Output `[H_out, W_out]` for input `[H, W]` and kernel `[KH, KW]`, or an error when the
    /// window does not fit.
    pub fn output_hw(&self, hw: [usize; 2], k: [usize; 2]) -> Result<[usize; 2]> {
        let mut out = [0; 2];
        for d in 0..2 {
            let padded = hw[d] + self.padding[d] + self.padding[d + 2];
            let span = self.dilation[d] * (k[d] - 1) + 1;
            if padded < span {
                return Err(Error::shape(
                    "conv2d",
                    format!("kernel span {span} larger than padded input {padded} in dimension {d}"),
                ));
            }
            out[d] = (padded - span) / self.stride[d] + 1;
        }
        Ok(out)
    }

    /// The output shape for input `x` and weights `w`, checking that they agree.
    pub fn output_shape(&self, x: &[usize], w: &[usize]) -> Result<[usize; 4]> {
        let op = "conv2d";
        let (&[n, cin, h, wd], &[cout, cin_g, kh, kw]) = (x, w) else {
            return Err(Error::shape(op, format!("input {x:?} and weights {w:?} must both be 4-D")));
        };
        if self.groups == 0 || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err(Error::arg(op, "groups, stride and dilation must be positive"));
        }
        if kh == 0 || kw == 0 {
            return Err(Error::arg(op, "kernel size must be positive"));
        }
        if cin % self.groups != 0 || cout % self.groups != 0 {
            return Err(Error::shape(
                op,
                format!("C_in {cin} and C_out {cout} must be multiples of groups {}", self.groups),
            ));
        }
        if cin / self.groups != cin_g {
            return Err(Error::shape(
                op,
                format!("weights {w:?} need C_in / groups = {cin_g}, input {x:?} with {} groups gives {}", self.groups, cin / self.groups),
            ));
        }
        let [oh, ow] = self.output_hw([h, wd], [kh, kw])?;
        Ok([n, cout, oh, ow])
    }
}

/// Mirrors `Params` in `shaders/conv2d.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Conv2dParams {
    n: u32,
    cin: u32,
    h: u32,
    w: u32,
    cout: u32,
    oh: u32,
    ow: u32,
    groups: u32,
    kh: u32,
    kw: u32,
    stride_h: u32,
    stride_w: u32,
    pad_top: u32,
    pad_left: u32,
    dil_h: u32,
    dil_w: u32,
    cin_g: u32,
    cout_g: u32,
    k_len: u32,
    p_len: u32,
    has_bias: u32,
    act: u32,
    act_a: f32,
    act_b: f32,
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::CONV2D.name, std::mem::size_of::<Conv2dParams>()));
}

/// Tile shape `(BM, BN)` for a layer: BM output channels by BN output pixels per workgroup.
/// Narrow layers (depthwise, few channels per group) get short, wide tiles so that fewer
/// invocations compute padding rows. Every choice stays within WebGPU's default 16 KiB of
/// workgroup memory: (BM + BN) * BK * 4 bytes.
fn tile_for(cout_g: usize) -> (u32, u32) {
    if cout_g >= 64 {
        (64, 64)
    } else if cout_g >= 16 {
        (16, 128)
    } else {
        (4, 128)
    }
}

/// Convolves `x` `[N, C_in, H, W]` with `w` `[C_out, C_in/groups, KH, KW]` plus optional
/// `bias` `[C_out]`, then applies `cfg.activation`. Output `[N, C_out, H_out, W_out]`.
pub fn conv2d(rec: &mut Recorder, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, cfg: &Conv2d) -> Result<Tensor> {
    let op = "conv2d";
    x.expect_dtype(op, DType::F32)?;
    w.expect_dtype(op, DType::F32)?;
    let [n, cout, oh, ow] = cfg.output_shape(x.dims(), w.dims())?;
    let [_, cin, h, wd] = x.shape().nchw(op)?;
    let [_, cin_g, kh, kw] = w.shape().nchw(op)?;
    if let Some(b) = bias {
        b.expect_dtype(op, DType::F32)?;
        if b.numel() != cout {
            return Err(Error::shape(op, format!("bias {} must have C_out = {cout} values", b.shape())));
        }
    }
    let y = Tensor::empty(rec.gpu(), [n, cout, oh, ow], DType::F32)?;
    let cout_g = cout / cfg.groups;
    let (act, act_a, act_b) = cfg.activation.code();
    let u = |what, v| to_u32(op, what, v);
    let params = Conv2dParams {
        n: u("batch", n)?,
        cin: u("C_in", cin)?,
        h: u("H", h)?,
        w: u("W", wd)?,
        cout: u("C_out", cout)?,
        oh: u("H_out", oh)?,
        ow: u("W_out", ow)?,
        groups: u("groups", cfg.groups)?,
        kh: u("KH", kh)?,
        kw: u("KW", kw)?,
        stride_h: u("stride", cfg.stride[0])?,
        stride_w: u("stride", cfg.stride[1])?,
        pad_top: u("padding", cfg.padding[0])?,
        pad_left: u("padding", cfg.padding[1])?,
        dil_h: u("dilation", cfg.dilation[0])?,
        dil_w: u("dilation", cfg.dilation[1])?,
        cin_g: u("C_in/groups", cin_g)?,
        cout_g: u("C_out/groups", cout_g)?,
        k_len: u("C_in/groups*KH*KW", cin_g * kh * kw)?,
        p_len: u("N*H_out*W_out", n * oh * ow)?,
        has_bias: bias.is_some() as u32,
        act,
        act_a,
        act_b,
    };
    let (bm, bn) = tile_for(cout_g);
    // Unbound bindings are not allowed; a missing bias binds the weights (never read).
    let bias_buf = bias.unwrap_or(w);
    let groups = [
        (n * oh * ow).div_ceil(bn as usize),
        cout_g.div_ceil(bm as usize),
        cfg.groups,
    ];
    let groups = [u("workgroups", groups[0])?, u("workgroups", groups[1])?, u("workgroups", groups[2])?];
    rec.dispatch(
        &shaders::CONV2D,
        "conv2d",
        &[("BM", bm as f64), ("BN", bn as f64)],
        &params,
        &[x, w, bias_buf, &y],
        groups,
    )?;
    Ok(y)
}

/// FLOPs of one conv2d (2 per multiply-add), for benchmarks and `inspect`.
pub fn conv2d_flops(out: [usize; 4], w: [usize; 4]) -> u64 {
    let [n, cout, oh, ow] = out;
    let [_, cin_g, kh, kw] = w;
    2 * (n * cout * oh * ow * cin_g * kh * kw) as u64
}

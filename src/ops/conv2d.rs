//! 2-D convolution (`conv2d`), with groups, dilation, asymmetric padding, optional bias and a
//! fused activation epilogue.

use bytemuck::{Pod, Zeroable};

use super::gemm::{reduction_chunks, REDUCTION_CHUNK};
use super::{act_override, to_u32, Activation};
use crate::gpu::{grid_1d, Recorder};
use crate::shaders::Shader;
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
                format!(
                    "weights {w:?} need C_in / groups = {cin_g}, input {x:?} with {} groups gives {}",
                    self.groups,
                    cin / self.groups
                ),
            ));
        }
        let [oh, ow] = self.output_hw([h, wd], [kh, kw])?;
        Ok([n, cout, oh, ow])
    }
}

/// The leading fields of the `Params` block of every conv kernel (conv2d, conv2d_direct and
/// the gradient kernels): the convolution's shapes and hyper-parameters, as u32.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ConvGeometry {
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
}

impl ConvGeometry {
    /// The geometry of a convolution of input `[n, cin, h, w]` with weights
    /// `[cout, cin_g, kh, kw]` to output `[_, _, oh, ow]`, or an error naming `op` when a value
    /// does not fit in 32 bits.
    fn new(op: &'static str, x: [usize; 4], w: [usize; 4], y: [usize; 4], cfg: &Conv2d) -> Result<ConvGeometry> {
        let ([n, cin, h, wd], [cout, cin_g, kh, kw], [_, _, oh, ow]) = (x, w, y);
        let u = |what, v| to_u32(op, what, v);
        Ok(ConvGeometry {
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
            cout_g: u("C_out/groups", cout / cfg.groups)?,
        })
    }
}

/// Mirrors `Params` in `shaders/conv2d.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Conv2dParams {
    geo: ConvGeometry,
    k_len: u32,
    p_len: u32,
    has_bias: u32,
    act: u32,
    act_a: f32,
    act_b: f32,
    k_begin: u32,
    k_end: u32,
    accumulate: u32,
    epilogue: u32,
    has_residual: u32,
    _pad: [u32; 3],
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::CONV2D.name, std::mem::size_of::<Conv2dParams>()));
    v.push((shaders::CONV2D_DIRECT.name, std::mem::size_of::<DirectParams>()));
    v.push((shaders::CONV2D_DEPTHWISE.name, std::mem::size_of::<DirectParams>()));
    v.push((shaders::CONV2D_PACKED.name, std::mem::size_of::<DirectParams>()));
    v.push((shaders::CONV2D_PACKED_ROWS.name, std::mem::size_of::<DirectParams>()));
    v.push((shaders::CONV2D_PACKED_ROWS_SG4.name, std::mem::size_of::<DirectParams>()));
    v.push((shaders::CONV2D_PACKED_1X1.name, std::mem::size_of::<DirectParams>()));
    v.push((shaders::CONV2D_DEPTHWISE_3X3.name, std::mem::size_of::<DirectParams>()));
    v.push((shaders::CONV2D_DEPTHWISE_3X3_SCALAR.name, std::mem::size_of::<DirectParams>()));
    v.push((shaders::CONV2D_PACK.name, std::mem::size_of::<PackParams>()));
    v.push((shaders::CONV2D_PLANES.name, std::mem::size_of::<PlanesParams>()));
    v.push((shaders::CONV2D_BACKWARD_WEIGHT_DIRECT.name, std::mem::size_of::<WeightRowsParams>()));
    v.push((shaders::CONV2D_BACKWARD_WEIGHT_PACKED.name, std::mem::size_of::<WeightRowsParams>()));
    v.push((shaders::CONV2D_BACKWARD_WEIGHT_DEPTHWISE.name, std::mem::size_of::<WeightRowsParams>()));
    v.push((shaders::CONV2D_BACKWARD_INPUT.name, std::mem::size_of::<Conv2dBackwardParams>()));
    v.push((shaders::CONV2D_BACKWARD_WEIGHT.name, std::mem::size_of::<Conv2dBackwardParams>()));
}

/// Tile shape `(BM, BN)` of the tiled input-gradient kernel (`conv2d_backward_input.wgsl`;
/// the forward's shapes are [`TileShape`]s): BM output channels by BN output pixels per
/// workgroup, as [`TileShape::default_for`] picks them. Every choice stays within WebGPU's
/// default 16 KiB of workgroup memory: (BM + BN) * BK * 4 bytes.
fn tile_for(cout_g: usize) -> (u32, u32) {
    let t = TileShape::default_for(cout_g);
    (t.bm, t.bn)
}

/// The two implementations of a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvKernel {
    /// Tiles of inputs and weights staged in workgroup memory (`shaders/conv2d.wgsl`): what
    /// GPUs run fastest.
    Tiled,
    /// Register blocks read straight from the buffers (`shaders/conv2d_direct.wgsl`): what
    /// CPU adapters such as lavapipe run fastest, where every load is a per-lane gather and
    /// workgroup memory only adds loads and barriers.
    Direct,
    /// Depthwise convolutions only (one input channel per group; forwards, the input
    /// gradients of depthwise convs without a channel multiplier, and weight gradients of
    /// kernels of at most 9 taps): 8 pixels of one channel per invocation, straight from the
    /// buffers (`shaders/conv2d_depthwise.wgsl`), and one output channel's taps per invocation
    /// for weight gradients (`shaders/conv2d_backward_weight_depthwise.wgsl`).
    Depthwise,
    /// The direct kernel's register blocks over operands first packed into vec4s of 4
    /// channels, the input's padding written out (`shaders/conv2d_packed.wgsl`): on lavapipe
    /// a vec4 load costs 1.5-2.5 scalar ones, and this makes 4x the FMAs per load.
    Packed,
}

impl ConvKernel {
    /// Every kernel.
    pub const ALL: [ConvKernel; 4] = [ConvKernel::Tiled, ConvKernel::Direct, ConvKernel::Depthwise, ConvKernel::Packed];

    /// The kernels that compute a forward convolution with `cin_g` input channels per group
    /// (the packed kernel's channel quads would be three quarters zeros for one channel).
    pub fn forward_kernels(cin_g: usize) -> Vec<ConvKernel> {
        ConvKernel::ALL
            .into_iter()
            .filter(|&k| match k {
                ConvKernel::Depthwise => cin_g == 1,
                ConvKernel::Packed => cin_g > 1,
                _ => true,
            })
            .collect()
    }

    /// The name in `FEATUREMAP_CONV` and in the autotune cache.
    pub fn name(self) -> &'static str {
        match self {
            ConvKernel::Tiled => "tiled",
            ConvKernel::Direct => "direct",
            ConvKernel::Depthwise => "depthwise",
            ConvKernel::Packed => "packed",
        }
    }

    fn from_name(name: &str) -> Option<ConvKernel> {
        ConvKernel::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The built-in choice among `candidates` for a convolution with `cin_g` input and `cout_g`
/// output channels per group and `taps` kernel taps (KH * KW), where `gemm` says whether the
/// packed kernel would take its GEMM form (`packed_gemm_applies` in this module): on CPU adapters the
/// depthwise kernel where it applies; else, unless the groups have fewer than 8 output
/// channels (most of a 16-channel block would compute clamped rows), the packed one over at
/// least 4 channels for kernels of more than one tap (1.2-2.8x the direct kernel on the 3x3
/// layers of ResNet-18 and VGG-16), in its GEMM form over 1x1 kernels of at least 4 channels
/// (1.7-3x on ResNet-50's and MobileNetV2's 1x1 layers) and over the 3-channel stems
/// (1.3-1.7x), and the direct one otherwise; tiled elsewhere.
pub fn default_kernel(
    rec: &Recorder,
    candidates: &[ConvKernel],
    [cin_g, cout_g]: [usize; 2],
    taps: usize,
    gemm: bool,
) -> ConvKernel {
    let cpu = rec.gpu().is_cpu();
    let packs = if gemm { taps > 1 || cin_g >= 4 } else { cin_g >= 4 && taps > 1 };
    if cpu && cin_g == 1 && candidates.contains(&ConvKernel::Depthwise) {
        ConvKernel::Depthwise
    } else if cpu && cout_g >= 8 && packs && candidates.contains(&ConvKernel::Packed) {
        ConvKernel::Packed
    } else if cpu && cout_g >= 8 && candidates.contains(&ConvKernel::Direct) {
        ConvKernel::Direct
    } else {
        ConvKernel::Tiled
    }
}

/// The built-in choice among `candidates` for a conv's weight gradient with `cin_g` input and
/// `cout_g` output channels per group: on CPU adapters the depthwise kernel for one input
/// channel per group where it applies (25-28x the tiled and 15-17x the direct kernel on
/// MobileNetV2's depthwise layers, whose blocks of output channels hold one here); else, for
/// groups of at least 8 output channels, the packed kernel over at least 3 input channels
/// (1.1-2.1x the direct kernel on the 3x3 and 1x1 layers of ResNet-18/50 and VGG-16 and on 3x3
/// stems, about as fast on ResNet's 7x7 stem and MobileNetV2's narrowest 1x1 layers,
/// benches/RESULTS.md; one channel would fill a quarter of its vec4 columns) and the direct
/// one otherwise; tiled elsewhere.
pub fn default_weight_grad_kernel(
    rec: &Recorder,
    candidates: &[ConvKernel],
    [cin_g, cout_g]: [usize; 2],
) -> ConvKernel {
    let cpu = rec.gpu().is_cpu();
    if cpu && cin_g == 1 && candidates.contains(&ConvKernel::Depthwise) {
        ConvKernel::Depthwise
    } else if cpu && cout_g >= 8 && cin_g >= 3 && candidates.contains(&ConvKernel::Packed) {
        ConvKernel::Packed
    } else if cpu && cout_g >= 8 && candidates.contains(&ConvKernel::Direct) {
        ConvKernel::Direct
    } else {
        ConvKernel::Tiled
    }
}

/// Part of every autotune key: bump it when a conv kernel changes enough that choices cached
/// by an earlier build should be timed again.
const KERNEL_REVISION: u32 = 16;

/// Passes of fewer FLOPs take [`default_kernel`] without timing: tuning them would cost more
/// than it could save (and the many small shapes of a test run would each be timed).
const AUTOTUNE_MIN_FLOPS: u64 = 16_000_000;

/// The kernel for one pass (`conv2d`, `conv2d_backward_input`, `conv2d_backward_weight`) of a
/// convolution of input `x_shape` with weights `w_shape`, among `candidates` (the kernels that
/// compute that pass): `FEATUREMAP_CONV` (`tiled`, `direct`, `depthwise` or `packed`) if set
/// and a candidate; else, for passes of at least [`AUTOTUNE_MIN_FLOPS`], the choice of
/// [`Gpu::autotune`](crate::Gpu::autotune) for this shape (every candidate timed once on
/// scratch tensors of `shapes`, run by `run`); else the caller's `default` ([`default_kernel`]
/// or [`default_weight_grad_kernel`]).
#[allow(clippy::too_many_arguments)]
fn choose_kernel(
    pass: &str,
    candidates: &[ConvKernel],
    default: ConvKernel,
    rec: &Recorder,
    [x_shape, w_shape]: [&[usize]; 2],
    cfg: &Conv2d,
    storage: DType,
    shapes: &[&[usize]],
    run: impl Fn(&mut Recorder, &[Tensor], ConvKernel) -> Result<()>,
) -> Result<ConvKernel> {
    if let Some(k) = std::env::var("FEATUREMAP_CONV").ok().and_then(|v| ConvKernel::from_name(&v)) {
        if candidates.contains(&k) {
            return Ok(k);
        }
    }
    let names = || candidates.iter().map(|k| k.name()).collect();
    let choice = autotune_conv(rec, pass, names, [x_shape, w_shape], cfg, storage, shapes, |r, t, name| {
        run(r, t, ConvKernel::from_name(name).expect("a candidate's own name"))
    })?;
    Ok(choice.and_then(ConvKernel::from_name).unwrap_or(default))
}

/// Autotune's choice among the candidates `names` lists for `pass` of a convolution of `x`
/// with `w` (the key: pass, storage, kernel revision, shapes and hyper-parameters), each timed
/// by `run` on scratch tensors of `shapes`; `None` for passes under [`AUTOTUNE_MIN_FLOPS`]
/// (which list nothing: this runs on every conv of every pass) or with tuning off, where the
/// caller's default applies.
#[allow(clippy::too_many_arguments)]
fn autotune_conv(
    rec: &Recorder,
    pass: &str,
    names: impl FnOnce() -> Vec<&'static str>,
    [x, w]: [&[usize]; 2],
    cfg: &Conv2d,
    storage: DType,
    shapes: &[&[usize]],
    run: impl Fn(&mut Recorder, &[Tensor], &'static str) -> Result<()>,
) -> Result<Option<&'static str>> {
    if conv2d_flops(cfg.output_shape(x, w)?, [w[0], w[1], w[2], w[3]]) < AUTOTUNE_MIN_FLOPS {
        return Ok(None);
    }
    let gpu = rec.gpu().clone();
    // f32 keys carry no storage tag, so choices cached before f16 existed stay valid.
    let tag = if storage == DType::F16 { " f16" } else { "" };
    let key = format!(
        "{pass}{tag} r{KERNEL_REVISION} x{x:?} w{w:?} stride{:?} pad{:?} dil{:?} groups {}",
        cfg.stride, cfg.padding, cfg.dilation, cfg.groups
    );
    let mut scratch: Option<Vec<Tensor>> = None;
    gpu.autotune(&key, &names(), |name| time_on_scratch(&gpu, &mut scratch, shapes, storage, |r, t| run(r, t, name)))
}

/// Milliseconds of one recording of `run` over zero-filled scratch tensors of `shapes` in
/// `storage` (made on first use into `scratch`, then reused), submitted alone: what autotune
/// compares (GPU time from timestamps on GPU adapters that have them, else wall time to the
/// end of the work).
fn time_on_scratch(
    gpu: &crate::Gpu,
    scratch: &mut Option<Vec<Tensor>>,
    shapes: &[&[usize]],
    storage: DType,
    run: impl FnOnce(&mut Recorder, &[Tensor]) -> Result<()>,
) -> Result<f64> {
    if scratch.is_none() {
        let zeros = |s: &[usize]| {
            let v = vec![0.0; s.iter().product()];
            match storage {
                DType::F16 => Tensor::from_f32_as_f16(gpu, s.to_vec(), &v),
                _ => Tensor::from_f32(gpu, s.to_vec(), &v),
            }
        };
        *scratch = Some(shapes.iter().map(|s| zeros(s)).collect::<Result<_>>()?);
    }
    let tensors = scratch.as_deref().expect("made above");
    // On a GPU a conv of a few MFLOP runs in microseconds, less than a submit and a wait take,
    // so wall time would mostly time those: GPU timestamps around each dispatch where the
    // adapter has them. CPU adapters keep wall time (what their choices were tuned with).
    if !gpu.is_cpu() && gpu.features().contains(crate::gpu::TIMESTAMP_QUERY) {
        let mut r = Recorder::with_timestamps(gpu, 256)?;
        run(&mut r, tensors)?;
        return Ok(r.submit_timed()?.iter().map(|(_, ms)| ms).sum());
    }
    let t0 = std::time::Instant::now();
    let mut r = Recorder::new(gpu);
    run(&mut r, tensors)?;
    r.submit();
    gpu.synchronize()?;
    Ok(t0.elapsed().as_secs_f64() * 1e3)
}

/// Mirrors `Params` in `shaders/lib/conv_direct_params.wgsl` (conv2d_direct, conv2d_depthwise).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct DirectParams {
    geo: ConvGeometry,
    c_begin: u32,
    c_end: u32,
    has_bias: u32,
    act: u32,
    act_a: f32,
    act_b: f32,
    accumulate: u32,
    epilogue: u32,
    p_len: u32,
    has_residual: u32,
    /// `w_base, w_group, w_out, w_in, w_ky, w_kx`: how the kernel reads its weights (see
    /// [`weight_strides`] and [`flipped_weight_strides`]).
    w_strides: [i32; 6],
    /// Where the output plane's pixels go: see `out_offset` in conv2d_direct.wgsl.
    out_h: u32,
    out_w: u32,
    out_sy: u32,
    out_sx: u32,
    out_ry: u32,
    out_rx: u32,
}

/// Output pixels (TN) and channels (TM) of one invocation of conv2d_direct, and its workgroup.
const DIRECT_TN: usize = 16;
const DIRECT_TM: usize = 16;
const DIRECT_WG: usize = 64;

/// Records `entry` of `shader` (conv2d_direct, conv2d_pointwise or conv2d_packed, whose
/// invocations each compute a block of `[TM, TN]` output channels by pixels) for `p` (geometry,
/// epilogue and weight strides filled in) on `[x, w, bias, y, residual]`, split over the
/// reduction channels (`p.geo.cin_g`: channels, or channel quads for the packed kernel) by
/// [`direct_slices`].
fn dispatch_blocks(
    rec: &mut Recorder,
    shader: &Shader,
    entry: &'static str,
    [tm, tn]: [usize; 2],
    p: DirectParams,
    tensors: [&Tensor; 5],
) -> Result<()> {
    // One invocation per (pixel block, channel block).
    let blocks = (p.p_len as usize).div_ceil(tn) * (p.geo.cout_g as usize).div_ceil(tm);
    dispatch_invocations(rec, shader, entry, blocks, p, tensors)
}

/// The kernels that make few FMAs per value they store (a 1x1 conv over few input channels, a
/// depthwise conv's 9 per value), for which [`direct_overrides`] fixes the epilogue's flags.
const STORE_BOUND: [&str; 4] = [
    shaders::CONV2D_PACKED_1X1.name,
    shaders::CONV2D_DEPTHWISE.name,
    shaders::CONV2D_DEPTHWISE_3X3.name,
    shaders::CONV2D_DEPTHWISE_3X3_SCALAR.name,
];

/// The pipeline constants of a dispatch of a direct-family kernel (`shader`, whose Params is
/// `p`, in workgroups of `wg`): WG and the activation and, for the [`STORE_BOUND`] kernels,
/// whether it adds the residual and accumulates into y (RESIDUAL and ACCUMULATE in
/// shaders/lib/conv_direct_params.wgsl). On llvmpipe a flag left to run time costs each store
/// the masked-off loops of the loads it guards; fixing it costs a pipeline per combination a
/// model uses, which the other kernels, with hundreds of FMAs per store, would not repay.
fn direct_overrides(shader: &Shader, wg: u32, p: &DirectParams) -> Vec<(&'static str, f64)> {
    let mut o = vec![("WG", wg as f64), act_override(p.act)];
    if STORE_BOUND.contains(&shader.name) {
        o.extend([("RESIDUAL", p.has_residual as f64), ("ACCUMULATE", p.accumulate as f64)]);
    }
    o
}

/// Dispatches `blocks` invocations of a direct-family kernel, one dispatch per split-K slice;
/// small layers get small workgroups so that both cores get work.
fn dispatch_invocations(
    rec: &mut Recorder,
    shader: &Shader,
    entry: &'static str,
    blocks: usize,
    mut p: DirectParams,
    tensors: [&Tensor; 5],
) -> Result<()> {
    let op = "conv2d";
    let wg = direct_workgroup(rec, blocks);
    let [gx, gy, _] = grid_1d(blocks as u64, wg);
    let groups = [gx, gy, to_u32(op, "groups", p.geo.groups as usize)?];
    let len = p.geo.cin_g as usize;
    for (c0, c1) in direct_slices(len, (p.geo.kh * p.geo.kw) as usize) {
        p.c_begin = c0 as u32;
        p.c_end = c1 as u32;
        p.accumulate = (c0 > 0) as u32;
        p.epilogue = (c1 == len) as u32;
        rec.dispatch(shader, entry, &direct_overrides(shader, wg, &p), &p, &tensors, groups)?;
    }
    Ok(())
}

/// [`dispatch_blocks`] for conv2d_direct: `pointwise` (a 1x1 kernel with no padding on any
/// side) takes the `conv2d_pointwise` entry point, a plain GEMM without tap loops or bounds
/// checks.
fn dispatch_direct(
    rec: &mut Recorder,
    shader: &Shader,
    pointwise: bool,
    p: DirectParams,
    tensors: [&Tensor; 5],
) -> Result<()> {
    let entry = if pointwise { "conv2d_pointwise" } else { "conv2d_direct" };
    dispatch_blocks(rec, shader, entry, [DIRECT_TM, DIRECT_TN], p, tensors)
}

/// How the direct and packed kernels read weights stored `[groups][rows][chans][KH][KW]`
/// (a conv's own weights, or their packed copy in vec4s): `[base, group, row, chan, ky, kx]`
/// strides for conv2d_pack's `Packing` and the kernels' `w_strides`.
fn weight_strides(rows: usize, chans: usize, [kh, kw]: [usize; 2]) -> [i32; 6] {
    let khw = kh * kw;
    [0, (rows * chans * khw) as i32, (chans * khw) as i32, khw as i32, kw as i32, 1]
}

/// How an input gradient reads the weights `[C_out][C_in/groups][KH][KW]` of a conv with
/// `cout_g` and `cin_g` channels per group: transposed (dy's channels are the reduction, x's
/// the rows) and flipped, taking the taps `k0, k0 + s, ...` (`taps` of them) of each dimension
/// with stride `s` (the taps of one phase; all taps at stride 1).
fn flipped_weight_strides(
    [cout_g, cin_g]: [usize; 2],
    [kh, kw]: [usize; 2],
    stride: [usize; 2],
    k0: [usize; 2],
    taps: [usize; 2],
) -> [i32; 6] {
    let khw = kh * kw;
    let last = |d: usize| k0[d] + stride[d] * taps[d].saturating_sub(1);
    [
        (last(0) * kw + last(1)) as i32,
        (cout_g * cin_g * khw) as i32,
        khw as i32,
        (cin_g * khw) as i32,
        -((stride[0] * kw) as i32),
        -(stride[1] as i32),
    ]
}

/// The geometry of a conv's input gradient as a conv of dy: dy's channels and plane in, x's
/// out, stride 1, no padding (callers that read dy padded or by phases set theirs).
fn input_grad_geometry(g: ConvGeometry) -> ConvGeometry {
    ConvGeometry {
        cin: g.cout,
        h: g.oh,
        w: g.ow,
        cout: g.cin,
        oh: g.h,
        ow: g.w,
        stride_h: 1,
        stride_w: 1,
        pad_top: 0,
        pad_left: 0,
        cin_g: g.cout_g,
        cout_g: g.cin_g,
        ..g
    }
}

/// Parameters of the direct-family kernels for geometry `geo` with `p_len` output pixels
/// written densely (`oh x ow` planes), no bias, residual or activation, zero weight strides:
/// callers fill in the rest.
fn dense_params(geo: ConvGeometry, p_len: u32) -> DirectParams {
    DirectParams { geo, p_len, out_h: geo.oh, out_w: geo.ow, out_sy: 1, out_sx: 1, ..Zeroable::zeroed() }
}

/// Convolves `x` `[N, C_in, H, W]` with `w` `[C_out, C_in/groups, KH, KW]` plus optional
/// `bias` `[C_out]`, then applies `cfg.activation`. Output `[N, C_out, H_out, W_out]`.
///
/// `x` and `w` are both f32 or both f16 ([`DType::F16`] storage, where the device has
/// `SHADER_F16`: values are widened on load and summed in f32); the output has their dtype;
/// `bias` is f32.
pub fn conv2d(rec: &mut Recorder, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, cfg: &Conv2d) -> Result<Tensor> {
    conv2d_epilogue(rec, x, w, bias, None, cfg, None, None)
}

/// [`conv2d`] with the kernel chosen by the caller (tests run each that applies).
pub fn conv2d_with(
    rec: &mut Recorder,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    cfg: &Conv2d,
    kernel: ConvKernel,
) -> Result<Tensor> {
    conv2d_epilogue(rec, x, w, bias, None, cfg, Some(kernel), None)
}

/// [`conv2d`] with a residual added before the activation, in the same kernel:
/// `activation(conv(x, w) + bias + residual)`, as a ResNet block's `relu(conv(x) + skip)`.
/// `residual` has the output's shape and dtype. `kernel` forces a kernel (tests run each);
/// `None` chooses as [`conv2d`] does.
pub fn conv2d_residual(
    rec: &mut Recorder,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    residual: &Tensor,
    cfg: &Conv2d,
    kernel: Option<ConvKernel>,
) -> Result<Tensor> {
    conv2d_epilogue(rec, x, w, bias, Some(residual), cfg, kernel, None)
}

/// Every forward conv: `kernel` (and, for the tiled kernel, `tile`) forced, or chosen when
/// `None`.
#[allow(clippy::too_many_arguments)]
fn conv2d_epilogue(
    rec: &mut Recorder,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    residual: Option<&Tensor>,
    cfg: &Conv2d,
    kernel: Option<ConvKernel>,
    tile: Option<TileShape>,
) -> Result<Tensor> {
    let op = "conv2d";
    let [n, cout, oh, ow] = cfg.output_shape(x.dims(), w.dims())?;
    let store = super::storage_dtype(rec, op, &[x, w])?;
    let [_, cin, h, wd] = x.shape().nchw(op)?;
    let [_, cin_g, kh, kw] = w.shape().nchw(op)?;
    if let Some(b) = bias {
        b.expect_dtype(op, DType::F32)?;
        if b.numel() != cout {
            return Err(Error::shape(op, format!("bias {} must have C_out = {cout} values", b.shape())));
        }
    }
    if let Some(r) = residual {
        r.expect_dtype(op, store)?;
        if r.dims() != [n, cout, oh, ow] {
            return Err(Error::shape(
                op,
                format!("residual {} must have the output shape {:?}", r.shape(), [n, cout, oh, ow]),
            ));
        }
    }
    // Whether the packed kernel would take its GEMM form (conv2d_packed_1x1) here.
    let gemm_form = packed_gemm_applies(rec, [n, cin, oh, ow], cfg, [cout / cfg.groups, cin_g, kh, kw], store);
    let kernel = match kernel {
        Some(k) => k,
        None => {
            let candidates: Vec<_> = ConvKernel::forward_kernels(cin_g)
                .into_iter()
                .filter(|&k| {
                    k != ConvKernel::Packed
                        || packed_fits(rec, x.dims(), cfg.groups, cfg.padding, [cout / cfg.groups, cin_g, kh * kw])
                })
                .collect();
            let default = default_kernel(rec, &candidates, [cin_g, cout / cfg.groups], kh * kw, gemm_form);
            choose_kernel(
                "conv2d",
                &candidates,
                default,
                rec,
                [x.dims(), w.dims()],
                cfg,
                store,
                &[x.dims(), w.dims()],
                |r, t, k| conv2d_with(r, &t[0], &t[1], None, cfg, k).map(|_| ()),
            )?
        }
    };
    if kernel == ConvKernel::Depthwise && cin_g != 1 {
        return Err(Error::arg(op, format!("the depthwise kernel needs one input channel per group, not {cin_g}")));
    }
    let gemm = kernel == ConvKernel::Packed && gemm_form;
    // Split-K stores partial sums in y between slices: with f16 storage they would be rounded
    // to f16 each time, so a split f16 conv writes f32 and converts once at the end.
    let slices = match kernel {
        ConvKernel::Direct => direct_slices(cin_g, kh * kw).count(),
        ConvKernel::Tiled => reduction_chunks(cin_g * kh * kw).count(),
        ConvKernel::Depthwise => 1,
        ConvKernel::Packed if gemm => direct_slices(cin_g * kh * kw, 1).count(),
        ConvKernel::Packed => direct_slices(quads(cin_g), kh * kw).count(),
    };
    let wide = store == DType::F16 && slices > 1;
    let family = match kernel {
        ConvKernel::Tiled => shaders::CONV2D,
        ConvKernel::Direct => shaders::CONV2D_DIRECT,
        ConvKernel::Depthwise => shaders::CONV2D_DEPTHWISE,
        ConvKernel::Packed => shaders::CONV2D_PACKED,
    };
    let shader = family.with_storage(store)?;
    let shader = if wide { shader.with_f32_output()? } else { shader };
    let y = rec.alloc([n, cout, oh, ow], if wide { DType::F32 } else { store })?;
    let cout_g = cout / cfg.groups;
    let (act, act_a, act_b) = cfg.activation.code();
    let u = |what, v| to_u32(op, what, v);
    let geo = ConvGeometry::new(op, [n, cin, h, wd], [cout, cin_g, kh, kw], [n, cout, oh, ow], cfg)?;
    let mut params = Conv2dParams {
        geo,
        k_len: u("C_in/groups*KH*KW", cin_g * kh * kw)?,
        p_len: u("N*H_out*W_out", n * oh * ow)?,
        has_bias: bias.is_some() as u32,
        act,
        act_a,
        act_b,
        k_begin: 0,
        k_end: 0,
        accumulate: 0,
        epilogue: 0,
        has_residual: residual.is_some() as u32,
        _pad: [0; 3],
    };
    // Unbound bindings are not allowed; a missing bias binds the weights, a missing residual
    // the input (never read).
    let (bias_buf, res_buf) = (bias.unwrap_or(w), residual.unwrap_or(x));
    // The epilogue of the direct-family kernels.
    let base = DirectParams {
        has_bias: params.has_bias,
        act,
        act_a,
        act_b,
        has_residual: params.has_residual,
        ..dense_params(geo, params.p_len)
    };
    if kernel == ConvKernel::Direct {
        let p = DirectParams { w_strides: weight_strides(cout_g, cin_g, [kh, kw]), ..base };
        let pointwise = kh == 1 && kw == 1 && cfg.padding == [0; 4];
        dispatch_direct(rec, &shader, pointwise, p, [x, w, bias_buf, &y, res_buf])?;
        return narrow(rec, y, store);
    }
    if gemm {
        let strides = weight_strides(cout_g, cin_g, [kh, kw]);
        let shader = shaders::CONV2D_PACKED_1X1.with_storage(store)?;
        let shader = if wide { shader.with_f32_output()? } else { shader };
        let packing = Packing { rows: cout_g, chans: cin_g, strides, taps: [kh, kw], taps_outer: false };
        let win = Window::of(cfg, [kh, kw]);
        dispatch_packed_1x1(rec, &shader, base, packing, [h, wd], win, [x, w, bias_buf, &y, res_buf])?;
        return narrow(rec, y, store);
    }
    if kernel == ConvKernel::Packed {
        let xp = pack_input(rec, x, cfg.groups, cfg.padding)?;
        let strides = weight_strides(cout_g, cin_g, [kh, kw]);
        let packing = Packing { rows: cout_g, chans: cin_g, strides, taps: [kh, kw], taps_outer: false };
        let wp = pack_weights(rec, w, cfg.groups, packing)?;
        let p = packed_params(base, [h, wd], cfg.padding);
        dispatch_packed(rec, &shader, p, [&xp, &wp, bias_buf, &y, res_buf])?;
        rec.recycle(xp);
        return narrow(rec, y, store);
    }
    if kernel == ConvKernel::Depthwise {
        let p =
            DirectParams { p_len: u("N*C_out", n * cout)?, w_strides: weight_strides(cout_g, cin_g, [kh, kw]), ..base };
        dispatch_depthwise(rec, &shader, p, [x, w, bias_buf, &y, res_buf])?;
        return Ok(y);
    }
    let t = match tile {
        Some(t) => {
            t.check(rec.gpu())?;
            t
        }
        None => choose_tile(rec, x.dims(), w.dims(), cfg, store, |r, t, tile| {
            conv2d_tiled(r, &t[0], &t[1], None, cfg, tile).map(|_| ())
        })?,
    };
    let (bm, bn) = (t.bm as usize, t.bn as usize);
    let groups = [(n * oh * ow).div_ceil(bn), cout_g.div_ceil(bm), cfg.groups];
    let groups = [u("workgroups", groups[0])?, u("workgroups", groups[1])?, u("workgroups", groups[2])?];
    // Split-K over C_in/groups*KH*KW (see REDUCTION_CHUNK): the last slice adds the bias and
    // the residual and applies the activation.
    let k_len = params.k_len as usize;
    for (begin, end) in reduction_chunks(k_len) {
        params.k_begin = begin as u32;
        params.k_end = end as u32;
        params.accumulate = (begin > 0) as u32;
        params.epilogue = (end == k_len) as u32;
        let overrides = [t.overrides().as_slice(), &[act_override(params.act)]].concat();
        rec.dispatch(&shader, "conv2d", &overrides, &params, &[x, w, bias_buf, &y, res_buf], groups)?;
    }
    narrow(rec, y, store)
}

/// A tile and register-block shape of the tiled kernel (`shaders/conv2d.wgsl`): each
/// workgroup computes `bm` output channels by `bn` output pixels, each invocation `tm` x `tn`
/// of them, so a workgroup has `(bn / tn) * (bm / tm)` invocations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileShape {
    /// Name, as autotune records it: `BMxBN/TMxTN`.
    pub name: &'static str,
    /// Output channels per workgroup.
    pub bm: u32,
    /// Output pixels per workgroup.
    pub bn: u32,
    /// Output channels per invocation.
    pub tm: u32,
    /// Output pixels per invocation.
    pub tn: u32,
}

impl TileShape {
    /// The shapes the tiled kernel is compiled for; on GPU adapters autotune times each that
    /// fits the device for every conv shape it meets (and [`TileShape::default_for`] is the
    /// choice without timing). 8 x 8 register blocks make 4 FMAs per workgroup-memory load
    /// where 4 x 4 make 2; the narrow shapes waste fewer rows on few channels per group.
    pub const ALL: [TileShape; 7] = [
        TileShape { name: "64x64/4x4", bm: 64, bn: 64, tm: 4, tn: 4 },
        TileShape { name: "128x128/8x8", bm: 128, bn: 128, tm: 8, tn: 8 },
        TileShape { name: "128x64/8x4", bm: 128, bn: 64, tm: 8, tn: 4 },
        TileShape { name: "64x128/4x8", bm: 64, bn: 128, tm: 4, tn: 8 },
        TileShape { name: "32x64/4x4", bm: 32, bn: 64, tm: 4, tn: 4 },
        TileShape { name: "16x128/4x4", bm: 16, bn: 128, tm: 4, tn: 4 },
        TileShape { name: "4x128/1x4", bm: 4, bn: 128, tm: 1, tn: 4 },
    ];

    /// The shape used without timing, by output channels per group: narrow layers (depthwise,
    /// few channels per group) get short, wide tiles so that fewer invocations compute padding
    /// rows.
    pub fn default_for(cout_g: usize) -> TileShape {
        let name = match cout_g {
            64.. => "64x64/4x4",
            16.. => "16x128/4x4",
            _ => "4x128/1x4",
        };
        Self::from_name(name).expect("a listed shape")
    }

    /// The listed shape of this name.
    pub fn from_name(name: &str) -> Option<TileShape> {
        Self::ALL.into_iter().find(|t| t.name == name)
    }

    /// Invocations per workgroup.
    pub fn threads(self) -> u32 {
        (self.bn / self.tn) * (self.bm / self.tm)
    }

    /// Bytes of workgroup memory: two stages of a BM x BK and a BK x BN tile of f32.
    pub fn workgroup_bytes(self) -> u32 {
        2 * (self.bm + self.bn) * TILE_BK * 4
    }

    /// Whether the kernel can run with this shape on `gpu`: what the shader assumes of it
    /// (register blocks of at most 8 x 8 that divide the tile; invocations a multiple of BN
    /// that divides BK * BN, so each invocation gathers for one column of the input tile; at
    /// most 8 values of each tile fetched per invocation) and the device's workgroup limits.
    pub fn check(self, gpu: &crate::Gpu) -> Result<()> {
        if [self.bm, self.bn, self.tm, self.tn].contains(&0) {
            return Err(Error::arg("conv2d", format!("tile shape {} has a zero side", self.name)));
        }
        let t = self.threads();
        let shader_ok = self.tm <= 8
            && self.tn <= 8
            && self.bm.is_multiple_of(self.tm)
            && self.bn.is_multiple_of(self.tn)
            && t.is_multiple_of(self.bn)
            && (TILE_BK * self.bn).is_multiple_of(t)
            && TILE_BK * self.bn / t <= 8
            && (self.bm * TILE_BK).div_ceil(t) <= 8;
        if !shader_ok {
            return Err(Error::arg("conv2d", format!("tile shape {} does not suit the tiled kernel", self.name)));
        }
        let l = gpu.limits();
        if t > l.max_compute_invocations_per_workgroup
            || self.bn / self.tn > l.max_compute_workgroup_size_x
            || self.bm / self.tm > l.max_compute_workgroup_size_y
            || self.workgroup_bytes() > l.max_compute_workgroup_storage_size
        {
            return Err(Error::arg(
                "conv2d",
                format!(
                    "tile shape {} needs {t} invocations and {} bytes of workgroup memory, beyond this device's limits",
                    self.name,
                    self.workgroup_bytes()
                ),
            ));
        }
        Ok(())
    }

    fn overrides(self) -> [(&'static str, f64); 4] {
        [("BM", self.bm as f64), ("BN", self.bn as f64), ("TM", self.tm as f64), ("TN", self.tn as f64)]
    }
}

/// BK in shaders/conv2d.wgsl: the slice of the reduction staged per step.
const TILE_BK: u32 = 8;

/// The tile shape of the tiled kernel for a conv of `x` with `w` (see [`choose_kernel`]):
/// [`TileShape::default_for`] on CPU adapters (where the tiled kernel only runs what the others
/// do not) and for passes under [`AUTOTUNE_MIN_FLOPS`]; else autotune's choice among the
/// shapes that fit the device, timed by `run`.
fn choose_tile(
    rec: &Recorder,
    x: &[usize],
    w: &[usize],
    cfg: &Conv2d,
    storage: DType,
    run: impl Fn(&mut Recorder, &[Tensor], TileShape) -> Result<()>,
) -> Result<TileShape> {
    let default = TileShape::default_for(w[0] / cfg.groups);
    if rec.gpu().is_cpu() {
        return Ok(default);
    }
    let names = || TileShape::ALL.into_iter().filter(|t| t.check(rec.gpu()).is_ok()).map(|t| t.name).collect();
    let choice = autotune_conv(rec, "conv2d tile", names, [x, w], cfg, storage, &[x, w], |r, t, name| {
        run(r, t, TileShape::from_name(name).expect("a listed shape"))
    })?;
    Ok(choice.and_then(TileShape::from_name).unwrap_or(default))
}

/// [`conv2d`] on the tiled kernel with a given tile shape (tests and benchmarks run each).
pub fn conv2d_tiled(
    rec: &mut Recorder,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    cfg: &Conv2d,
    tile: TileShape,
) -> Result<Tensor> {
    conv2d_epilogue(rec, x, w, bias, None, cfg, Some(ConvKernel::Tiled), Some(tile))
}

/// Records conv2d_depthwise over the planes of `p` (`p_len` = N * C_out of its geometry) with
/// `tensors` bound as x, weights, bias, y, residual: one invocation per 8 pixels of a plane (TN
/// in the shader); for 3-wide taps at column stride and dilation 1, per 8 pixels of a row,
/// which share their input values; for one phase of a strided input gradient (`p.out_sy` or
/// `p.out_sx` above 1), the entry that stores strided; for 3x3 taps at stride 1 or 2 with one
/// column of padding on the left, [`dispatch_depthwise_3x3`].
fn dispatch_depthwise(rec: &mut Recorder, shader: &Shader, p: DirectParams, tensors: [&Tensor; 5]) -> Result<()> {
    let g = p.geo;
    let planes = p.p_len as u64;
    let phase = p.out_sy > 1 || p.out_sx > 1;
    if !phase && depthwise_3x3_applies(&g) {
        let entry = if g.stride_w == 2 { "conv2d_depthwise_3x3_s2" } else { "conv2d_depthwise_3x3" };
        return dispatch_depthwise_3x3(rec, entry, p, tensors);
    }
    let rows3 = g.kw == 3 && g.stride_w == 1 && g.dil_w == 1 && !phase;
    let (entry, blocks) = if phase {
        ("conv2d_depthwise_phase", planes * (g.oh * g.ow).div_ceil(8) as u64)
    } else if rows3 {
        ("conv2d_depthwise_rows3", planes * g.oh as u64 * g.ow.div_ceil(8) as u64)
    } else {
        ("conv2d_depthwise", planes * (g.oh * g.ow).div_ceil(8) as u64)
    };
    let wg = direct_workgroup(rec, blocks as usize);
    rec.dispatch(shader, entry, &direct_overrides(shader, wg, &p), &p, &tensors, grid_1d(blocks, wg))
}

/// Whether conv2d_depthwise_3x3 computes a depthwise conv of geometry `g` (a forward, or one
/// phase of an input gradient at stride 1): 3x3 taps at dilation 1 and stride 1 or 2 (the same
/// in both directions) with one column of padding on the left (any other padding).
fn depthwise_3x3_applies(g: &ConvGeometry) -> bool {
    [g.kh, g.kw, g.dil_h, g.dil_w, g.pad_left] == [3, 3, 1, 1, 1]
        && g.stride_h == g.stride_w
        && (g.stride_h == 1 || g.stride_h == 2)
}

/// Output rows per invocation of conv2d_depthwise_3x3 (R there; DEPTHWISE_ROWS in
/// shaders/gen/conv2d_direct.py), each 8 pixels wide.
const DEPTHWISE_ROWS: usize = 8;

/// Records `entry` of conv2d_depthwise_3x3 (the forward at stride 1 or 2, or the stride-2
/// input gradient `conv2d_depthwise_3x3_s2_dx`) for `p` (as [`dispatch_depthwise`]) on `[x, w,
/// bias, y, residual]`: conv2d_depthwise_3x3, which reads and writes whole vec4s, where the
/// rows of x and of the output are whole vec4s, else its scalar form (one column at a time:
/// padded copies of x and a cropped output would cost two dispatches more, on lavapipe as much
/// as the conv on 14x14 planes).
fn dispatch_depthwise_3x3(
    rec: &mut Recorder,
    entry: &'static str,
    p: DirectParams,
    [x, w, bias, y, res]: [&Tensor; 5],
) -> Result<()> {
    let g = p.geo;
    let blocks = p.p_len as u64 * g.oh.div_ceil(DEPTHWISE_ROWS as u32) as u64 * g.ow.div_ceil(8) as u64;
    let wg = direct_workgroup(rec, blocks as usize);
    let whole_vec4s = g.w.is_multiple_of(4) && g.ow.is_multiple_of(4);
    let shader = if whole_vec4s { shaders::CONV2D_DEPTHWISE_3X3 } else { shaders::CONV2D_DEPTHWISE_3X3_SCALAR };
    let overrides = direct_overrides(&shader, wg, &p);
    rec.dispatch(&shader.with_storage(x.dtype())?, entry, &overrides, &p, &[x, w, bias, y, res], grid_1d(blocks, wg))?;
    Ok(())
}

/// `y` in the storage dtype: an f32 result of a split f16 conv is converted (and its buffer
/// handed back to the recording).
fn narrow(rec: &mut Recorder, y: Tensor, store: DType) -> Result<Tensor> {
    if y.dtype() == store {
        return Ok(y);
    }
    let out = super::cast(rec, &y, store)?;
    rec.recycle(y);
    Ok(out)
}

/// Output channels (TM) and pixels (TN) of one invocation of conv2d_packed: PACKED_TM /
/// PACKED_TN in shaders/gen/conv2d_direct.py.
const PACKED_TM: usize = 16;
const PACKED_TN: usize = 16;

/// The subgroup size the subgroup forms of the packed kernels (conv2d_packed_rows,
/// conv2d_packed_1x1_sg, conv2d_backward_weight_packed's `_sg` entries) are written for: their
/// lanes share loads through `subgroupBroadcast` from fixed lanes. Lavapipe's at 256 bits.
const SUBGROUP_LANES: u32 = 8;

/// Whether a packed kernel takes its subgroup form for `rows` output rows (channels) per
/// group: where the device has subgroups of [`SUBGROUP_LANES`], for more rows than the plain
/// forms' 16-row blocks hold (their 32-row blocks lose below: MobileNetV2's 16->96 1x1 input
/// gradient, 16 rows, 1.7 ms plain against 2.0; its stem's input gradient, 3 rows, 9.5 against
/// 10.8 ms in rows, on lavapipe).
fn subgroup_forms(gpu: &crate::Gpu, rows: usize) -> bool {
    rows > PACKED_TM && gpu.subgroup_size() == Some(SUBGROUP_LANES)
}

/// The conv2d_packed_rows module for this device's subgroups, with their lanes: the one for
/// subgroups of [`SUBGROUP_LANES`], or conv2d_packed_rows_sg4 for subgroups of 4 (llvmpipe at
/// 128 bits, as on CPUs with 128-bit vectors, where it made ResNet-18's forward 1.4-1.7x faster
/// than conv2d_packed; benches/RESULTS.md), for more rows than the plain forms' blocks hold.
fn rows_module(gpu: &crate::Gpu, rows: usize) -> Option<(&'static Shader, u32)> {
    match gpu.subgroup_size() {
        _ if rows <= PACKED_TM => None,
        Some(SUBGROUP_LANES) => Some((&shaders::CONV2D_PACKED_ROWS, SUBGROUP_LANES)),
        Some(4) => Some((&shaders::CONV2D_PACKED_ROWS_SG4, 4)),
        _ => None,
    }
}

/// Output channels of one invocation of conv2d_packed_rows (ROWS_TM in
/// shaders/gen/conv2d_direct.py); its columns of one output row are its entry's
/// ([`ROWS_ENTRIES`]).
const ROWS_TM: usize = 32;

/// Output channels (TM) and pixels (TN) of one invocation of conv2d_packed_1x1_sg (a weight
/// quad per lane): SG_TM / SG_TN in shaders/gen/conv2d_direct.py.
const POINTWISE_SG_TM: usize = 32;
const POINTWISE_SG_TN: usize = 8;

/// One entry point of conv2d_packed_rows (ROWS_ENTRIES in the generator).
struct RowsEntry {
    /// The entry point.
    name: &'static str,
    /// Kernel height: 0 for any (a loop over the kernel rows), else the rows written out.
    kh: u32,
    /// Kernel width.
    kw: u32,
    /// Column stride.
    stride_w: u32,
    /// Output columns per lane.
    cols: u32,
}

/// A [`RowsEntry`] row of the table.
const fn rows_entry(name: &'static str, kh: u32, kw: u32, stride_w: u32, cols: u32) -> RowsEntry {
    RowsEntry { name, kh, kw, stride_w, cols }
}

/// conv2d_packed_rows' entry points (name, kernel height, width, column stride, columns per
/// lane; the generator's ROWS_ENTRIES in the same order). Of those that fit a conv, the one
/// that computes the fewest columns per output row is taken (blocks of 7 for rows 7, 14 or 28
/// wide, where blocks of 8 compute 8, 16 or 32), the first of equals, so the entries with their
/// kernel rows written out come before the loops over them.
const ROWS_ENTRIES: [RowsEntry; 17] = [
    rows_entry("conv2d_packed_rows_3x3", 3, 3, 1, 8),
    rows_entry("conv2d_packed_rows_3x3_s2", 3, 3, 2, 8),
    rows_entry("conv2d_packed_rows_2x2", 2, 2, 1, 8),
    rows_entry("conv2d_packed_rows_2x1", 2, 1, 1, 8),
    rows_entry("conv2d_packed_rows_1x2", 1, 2, 1, 8),
    rows_entry("conv2d_packed_rows_1x1", 1, 1, 1, 8),
    rows_entry("conv2d_packed_rows_3x3_c7", 3, 3, 1, 7),
    rows_entry("conv2d_packed_rows_3x3_s2_c7", 3, 3, 2, 7),
    rows_entry("conv2d_packed_rows_2x2_c7", 2, 2, 1, 7),
    rows_entry("conv2d_packed_rows_2x1_c7", 2, 1, 1, 7),
    rows_entry("conv2d_packed_rows_1x2_c7", 1, 2, 1, 7),
    rows_entry("conv2d_packed_rows_1x1_c7", 1, 1, 1, 7),
    rows_entry("conv2d_packed_rows", 0, 3, 1, 8),
    rows_entry("conv2d_packed_rows_s2", 0, 3, 2, 8),
    rows_entry("conv2d_packed_rows_7x7_s2", 0, 7, 2, 8),
    rows_entry("conv2d_packed_rows_2", 0, 2, 1, 8),
    rows_entry("conv2d_packed_rows_1", 0, 1, 1, 8),
];

/// Dispatches the packed kernel over operands packed by pack_input / pack_weights (`p` from
/// packed_params; `shader` a storage variant of conv2d_packed): conv2d_packed_rows where
/// [`packed_rows_entry`] has an entry for the geometry, else conv2d_packed.
fn dispatch_packed(rec: &mut Recorder, shader: &Shader, p: DirectParams, tensors: [&Tensor; 5]) -> Result<()> {
    let g = p.geo;
    let geometry = [g.kh, g.kw, g.stride_w, g.dil_w, g.ow].map(|v| v as usize);
    let Some((&RowsEntry { name: entry, cols, .. }, module, subgroup)) =
        packed_rows_entry(rec.gpu(), geometry, g.cout_g as usize)
    else {
        return dispatch_blocks(rec, shader, "conv2d_packed", [PACKED_TM, PACKED_TN], p, tensors);
    };
    let rows = module.in_variant_of(shader)?;
    // One lane per block of `cols` columns of an output row, whole subgroups of them per
    // ROWS_TM output channels.
    let pixel_blocks = (g.n * g.oh) as usize * (g.ow as usize).div_ceil(cols as usize);
    let lanes = pixel_blocks.next_multiple_of(subgroup as usize);
    dispatch_invocations(rec, &rows, entry, lanes * (g.cout_g as usize).div_ceil(ROWS_TM), p, tensors)
}

/// The conv2d_packed_rows entry that computes a packed conv whose kernel height and width,
/// column stride, column dilation and output width are `[kh, kw, stride_w, dil_w, ow]`, with
/// `rows` output channels per group, if any: kernels as wide (and, for the entries with their
/// rows written out, as high) and at the column stride of one of ROWS_ENTRIES (its lanes read
/// each row's inputs once for all the taps), dilation 1 along the rows, where
/// [`rows_module`] has a module; of those, the one that computes the fewest columns, with the
/// module and its subgroup size.
fn packed_rows_entry(
    gpu: &crate::Gpu,
    [kh, kw, stride_w, dil_w, ow]: [usize; 5],
    rows: usize,
) -> Option<(&'static RowsEntry, &'static Shader, u32)> {
    let (module, lanes) = rows_module(gpu, rows).filter(|_| dil_w == 1)?;
    let fits =
        |e: &&RowsEntry| (e.kh == 0 || e.kh as usize == kh) && (e.kw as usize, e.stride_w as usize) == (kw, stride_w);
    // min_by_key keeps the first of equals.
    let entry = ROWS_ENTRIES.iter().filter(fits).min_by_key(|e| ow.next_multiple_of(e.cols as usize))?;
    Some((entry, module, lanes))
}

/// How conv2d_pack reads a weight tensor as `rows` output rows over `chans` reduction
/// channels per group: `[base, group, row, chan, ky, kx]` strides in elements (signed, so
/// that a conv's input gradient reads its weights transposed and flipped).
struct Packing {
    rows: usize,
    chans: usize,
    strides: [i32; 6],
    /// The KH x KW taps read through the strides: the weights' own, or a phase's share of them
    /// (a strided conv's input gradient).
    taps: [usize; 2],
    /// The taps before the quads (`[groups][rows][KH][KW][quads]`, conv2d_packed_1x1's
    /// transposed weights) instead of after them.
    taps_outer: bool,
}

/// Mirrors `Params` in `shaders/conv2d_pack.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PackParams {
    count: u32,
    quads: u32,
    chans: u32,
    groups: u32,
    h: u32,
    w: u32,
    hp: u32,
    wp: u32,
    pad_top: u32,
    pad_left: u32,
    rows: u32,
    rows_padded: u32,
    strides: [i32; 6],
    taps_outer: u32,
    _pad: u32,
}

/// Channel quads of `chans` channels: the vec4s of 4 channels the packed kernel reads.
fn quads(chans: usize) -> usize {
    chans.div_ceil(4)
}

/// `rows` padded to whole blocks of the packed kernel (PACKED_TM).
fn packed_rows(rows: usize) -> usize {
    rows.div_ceil(PACKED_TM) * PACKED_TM
}

/// `x` `[N, groups * chans, H, W]` as conv2d_packed reads it: f32 vec4s over quads of channels,
/// `[N][groups][quads][H + top + bottom][W + left + right]`, the padding zeros.
fn pack_input(rec: &mut Recorder, x: &Tensor, groups: usize, padding: [usize; 4]) -> Result<Tensor> {
    let [_, _, h, w] = x.shape().nchw("conv2d")?;
    let plane = [h + padding[0] + padding[2], w + padding[1] + padding[3]];
    pack_input_plane(rec, x, groups, [padding[0] as i64, padding[1] as i64], plane)
}

/// [`pack_input`] into `[hp, wp]` planes whose pixel (y, x) is x's (y - top, x - left): a
/// negative `top` or `left` starts the plane inside x (one phase of a strided conv's input
/// gradient reads dy from an offset), and the plane may end before x's does or past it (zeros).
fn pack_input_plane(
    rec: &mut Recorder,
    x: &Tensor,
    groups: usize,
    [top, left]: [i64; 2],
    [hp, wp]: [usize; 2],
) -> Result<Tensor> {
    let op = "conv2d";
    let [n, c, h, w] = x.shape().nchw(op)?;
    let chans = c / groups;
    let rows = n * groups * quads(chans) * hp;
    let u = |what, v| to_u32(op, what, v);
    let p = PackParams {
        count: u("packed input rows", rows)?,
        quads: quads(chans) as u32,
        chans: chans as u32,
        groups: groups as u32,
        h: h as u32,
        w: w as u32,
        hp: u("padded H", hp)?,
        wp: u("padded W", wp)?,
        // Two's complement where negative: the shader reads them back as i32.
        pad_top: top as i32 as u32,
        pad_left: left as i32 as u32,
        ..Zeroable::zeroed()
    };
    let out = rec.alloc([rows * wp * 4], DType::F32)?;
    let shader = shaders::CONV2D_PACK.with_storage(x.dtype())?;
    // Rows of whole vec4s that the padded rows hold whole read 4 pixels per load.
    let whole_vec4s = top >= 0 && left >= 0 && wp >= left as usize + w && w.is_multiple_of(4);
    let entry = if whole_vec4s { "pack_input_vec4" } else { "pack_input" };
    rec.dispatch(&shader, entry, &[("WG", 64.0)], &p, &[x, &out], grid_1d(rows as u64, 64))?;
    Ok(out)
}

/// `w` read through `k` (its KH x KW taps) as conv2d_packed reads weights: f32 vec4s over quads of
/// the reduction channels, `[groups][packed_rows(rows)][quads][KH][KW]`, zeros past the real
/// rows and channels.
///
/// Packed once per state of `w`: later passes reuse the copy until `w` is written (an optimizer
/// step, loaded parameters; see [`Recorder::derived`]). The copy is shared, never recycled.
fn pack_weights(rec: &mut Recorder, w: &Tensor, groups: usize, k: Packing) -> Result<Tensor> {
    let op = "conv2d";
    let [kh, kw] = k.taps;
    let count = groups * packed_rows(k.rows) * quads(k.chans);
    let p = PackParams {
        count: to_u32(op, "packed weight rows", count)?,
        quads: quads(k.chans) as u32,
        chans: k.chans as u32,
        groups: groups as u32,
        h: kh as u32,
        w: kw as u32,
        rows: k.rows as u32,
        rows_padded: packed_rows(k.rows) as u32,
        strides: k.strides,
        taps_outer: k.taps_outer as u32,
        ..Zeroable::zeroed()
    };
    let shader = shaders::CONV2D_PACK.with_storage(w.dtype())?;
    // The packing reads w through p alone (its dims and strides), in w's dtype.
    let mut key = bytemuck::bytes_of(&p).to_vec();
    key.push(w.dtype() as u8);
    rec.derived(w, "pack_weights", &key, |rec| {
        let out = rec.alloc([count * kh * kw * 4], DType::F32)?;
        rec.dispatch(&shader, "pack_weights", &[("WG", 64.0)], &p, &[w, &out], grid_1d(count as u64, 64))?;
        Ok(out)
    })
}

/// Whether the packed kernel takes its 1x1 form (`shaders/conv2d_packed_1x1.wgsl`) for a conv
/// or its input gradient with a `k` kernel and `cfg`'s padding: a 1x1 kernel without padding,
/// a plain GEMM over the channel planes (at a stride, over the pixels it reads, copied out;
/// the input gradient spread back over them).
fn packed_1x1_applies(cfg: &Conv2d, k: [usize; 2]) -> bool {
    k == [1, 1] && cfg.padding == [0; 4]
}

/// The window conv2d_planes reads x through: for tap `k` (of `taps`) of output pixel `u`, x's
/// pixel `u * stride + k * dil - pad` in each dimension (rows, then columns); with `up` above
/// 1 (and a 1x1 window), x's pixel `u / up` where `up` divides `u`, else 0.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Window {
    taps: [usize; 2],
    stride: [usize; 2],
    /// Top and left padding.
    pad: [usize; 2],
    dil: [usize; 2],
    up: [usize; 2],
}

impl Window {
    /// Each pixel as it is.
    const PLAIN: Window = Window { taps: [1, 1], stride: [1, 1], pad: [0, 0], dil: [1, 1], up: [1, 1] };

    /// The window of a conv with `taps` and `cfg`'s stride, padding and dilation.
    fn of(cfg: &Conv2d, taps: [usize; 2]) -> Window {
        Window { taps, stride: cfg.stride, pad: [cfg.padding[0], cfg.padding[1]], dil: cfg.dilation, up: [1, 1] }
    }

    /// Each pixel spread out to every `up`-th row and column, zeros between.
    fn spread(up: [usize; 2]) -> Window {
        Window { up, ..Window::PLAIN }
    }

    fn tap_count(&self) -> usize {
        self.taps[0] * self.taps[1]
    }
}

/// The most bytes of im2col planes the packed kernel's GEMM form lays out for one conv; larger
/// ones take the packed kernel's tap loop.
const IM2COL_MAX_BYTES: usize = 256 << 20;

/// Whether the packed kernel takes its GEMM form (conv2d_packed_1x1 over im2col planes) for a
/// forward conv of `cfg` with `[cout_g, cin_g, kh, kw]` weights per group, where `[n, cin,
/// oh, ow]` are its images, input channels and output pixels: a 1x1 kernel without padding
/// ([`packed_1x1_applies`]) always; other windows over fewer than 4 channels per group (the
/// 3-channel stems, where the tap loop's channel quads are a quarter empty: 1.3-1.7x faster
/// on lavapipe, where the tap loop is faster over more channels) if their im2col planes (one
/// per input channel and tap) take at most [`IM2COL_MAX_BYTES`] and fit a binding.
fn packed_gemm_applies(
    rec: &Recorder,
    [n, cin, oh, ow]: [usize; 4],
    cfg: &Conv2d,
    [cout_g, cin_g, kh, kw]: [usize; 4],
    store: DType,
) -> bool {
    if packed_1x1_applies(cfg, [kh, kw]) {
        return true;
    }
    // 7x7 stems: conv2d_packed_rows' 7x7 entry over one channel quad (a quarter of it zeros)
    // beat the GEMM over 147 im2col planes (ResNet-18's stem 10.6-11.0 ms against 13.0-13.1 on
    // lavapipe) at subgroups of 8, not at 4 (conv2d_packed_rows_sg4: 17.3-30.4 ms against
    // 12.1-20.1 at 128 bits, twelve rounds); over 27 planes for 3x3 stems the GEMM is faster.
    let rows_stem = kw == 7
        && packed_rows_entry(rec.gpu(), [kh, kw, cfg.stride[1], cfg.dilation[1], ow], cout_g)
            .is_some_and(|(_, _, lanes)| lanes == SUBGROUP_LANES);
    if cin_g >= 4 || rows_stem {
        return false;
    }
    let bytes = n * cin * kh * kw * (oh * ow).next_multiple_of(4) * store.size();
    let limits = rec.gpu().limits();
    bytes <= IM2COL_MAX_BYTES && (bytes as u64) <= limits.max_storage_buffer_binding_size.min(limits.max_buffer_size)
}

/// Records conv2d_planes: the `[h, w]` planes of `x` (any rank: its elements are planes of
/// h * w) read through `win` (`out` output pixels per plane and tap) into `y` as planes of
/// `plane_out` elements (zeros after the copied pixels), one per plane of x and tap.
fn copy_planes(
    rec: &mut Recorder,
    x: &Tensor,
    [h, w]: [usize; 2],
    win: Window,
    out: [usize; 2],
    plane_out: usize,
    y: &Tensor,
) -> Result<()> {
    let op = "conv2d";
    let p = PlanesParams {
        rows: to_u32(op, "planes * taps * rows", x.numel() / (h * w) * win.tap_count() * out[0])?,
        h: h as u32,
        w: w as u32,
        oh: out[0] as u32,
        ow: out[1] as u32,
        stride_h: win.stride[0] as u32,
        stride_w: win.stride[1] as u32,
        plane_out: to_u32(op, "plane", plane_out)?,
        kh: win.taps[0] as u32,
        kw: win.taps[1] as u32,
        pad_top: win.pad[0] as u32,
        pad_left: win.pad[1] as u32,
        dil_h: win.dil[0] as u32,
        dil_w: win.dil[1] as u32,
        up_h: win.up[0] as u32,
        up_w: win.up[1] as u32,
    };
    let shader = shaders::CONV2D_PLANES.with_storage(x.dtype())?;
    // Rows copied as they are (padded or cropped) take the entry without copy_planes's
    // per-element divisions; output rows of whole vec4s, the entries that store vec4s.
    let plain_rows = win == Window::PLAIN && h == 1 && out[0] == 1;
    let vec4_rows = out[1].is_multiple_of(4) && plane_out == out[0] * out[1];
    let entry = match (plain_rows, plane_out.is_multiple_of(4), vec4_rows) {
        (true, true, _) => "copy_rows_vec4",
        (true, false, _) => "copy_rows",
        (false, _, true) => "copy_planes_vec4",
        (false, _, false) => "copy_planes",
    };
    rec.dispatch(&shader, entry, &[("WG", 64.0)], &p, &[x, y], grid_1d(p.rows as u64, 64))
}

/// `t`'s planes (or rows) of `len` elements copied to planes of `padded`, zeros after.
fn pad_planes(rec: &mut Recorder, t: &Tensor, len: usize, padded: usize) -> Result<Tensor> {
    let out = rec.alloc([t.numel() / len * padded], t.dtype())?;
    pad_planes_into(rec, t, len, padded, &out)?;
    Ok(out)
}

/// [`pad_planes`] into `y`, which holds `t.numel() / len * padded` elements.
fn pad_planes_into(rec: &mut Recorder, t: &Tensor, len: usize, padded: usize, y: &Tensor) -> Result<()> {
    copy_planes(rec, t, [1, len], Window::PLAIN, [1, len], padded, y)
}

/// The first `len` elements of each of `t`'s planes of `padded`, into `y` (the inverse of
/// [`pad_planes`]).
fn crop_planes(rec: &mut Recorder, t: &Tensor, padded: usize, len: usize, y: &Tensor) -> Result<()> {
    copy_planes(rec, t, [1, padded], Window::PLAIN, [1, len], len, y)
}

/// Mirrors `Params` in `shaders/conv2d_planes.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PlanesParams {
    rows: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    stride_h: u32,
    stride_w: u32,
    plane_out: u32,
    kh: u32,
    kw: u32,
    pad_top: u32,
    pad_left: u32,
    dil_h: u32,
    dil_w: u32,
    up_h: u32,
    up_w: u32,
}

/// Records conv2d_packed_1x1 (`shader`, a storage variant of it) for `base` (a conv's
/// geometry and epilogue; a residual only with `base.has_residual`) on `[x, w, bias, y,
/// residual]`, x's planes `x_hw` read through `win`, where `k` reads `w` as `rows` output
/// channels by `chans` reduction channels over the window's taps. The kernel is a GEMM over
/// planes of whole vec4s whose reduction runs over (channel, tap): x is read as it is only for
/// a 1x1 window at stride 1 on planes of whole vec4s, else as its im2col planes, one per
/// channel and tap (conv2d_planes; then the residual is copied to padded planes, and the
/// output written padded and cropped into `y`). The weights are packed transposed (a vec4
/// holds 4 output channels of one reduction channel and tap), once per state of `w`.
#[allow(clippy::too_many_arguments)]
fn dispatch_packed_1x1(
    rec: &mut Recorder,
    shader: &Shader,
    base: DirectParams,
    k: Packing,
    x_hw: [usize; 2],
    win: Window,
    [x, w, bias, y, res]: [&Tensor; 5],
) -> Result<()> {
    let [base_at, group, row, chan, ky, kx] = k.strides;
    let (rows, chans) = (k.rows, k.chans);
    let strides = [base_at, group, chan, row, ky, kx];
    let transposed = Packing { rows: chans, chans: rows, strides, taps: k.taps, taps_outer: true };
    let wp = pack_weights(rec, w, base.geo.groups as usize, transposed)?;
    let taps = win.tap_count();
    let geo = base.geo;
    let out = [geo.oh as usize, geo.ow as usize];
    let (n, plane) = (geo.n as usize, out[0] * out[1]);
    let padded = plane.next_multiple_of(4);
    // x as it is only where its planes are the output's (a plain window over an unpadded
    // input: padding on the bottom or right only leaves the window plain but the planes larger).
    let same_planes = win == Window::PLAIN && x_hw == out;
    let xk = if !same_planes || padded != plane {
        let xk = rec.alloc([n, geo.cin as usize * taps, padded], x.dtype())?;
        if same_planes {
            pad_planes_into(rec, x, plane, padded, &xk)?;
        } else {
            copy_planes(rec, x, x_hw, win, out, padded, &xk)?;
        }
        Some(xk)
    } else {
        None
    };
    let (resk, yk) = if padded != plane {
        let resk = if base.has_residual != 0 { Some(pad_planes(rec, res, plane, padded)?) } else { None };
        (resk, Some(rec.alloc([n, geo.cout as usize, padded], y.dtype())?))
    } else {
        (None, None)
    };
    // Pixel blocks never straddle two images: p_len counts each image's pixels rounded up to
    // whole blocks.
    let sg = subgroup_forms(rec.gpu(), geo.cout_g as usize);
    let tn = if sg { POINTWISE_SG_TN } else { PACKED_TN };
    let per_image = (padded / 4).div_ceil(tn / 4) * tn;
    let (w_group, w_in) = (packed_rows(chans) * taps * quads(rows), quads(rows));
    let u = |what, v| to_u32("conv2d", what, v);
    let p = DirectParams {
        // The GEMM's view: (channel, tap) pairs are its reduction channels, 1x1 taps.
        geo: ConvGeometry {
            cin: u("C_in*KH*KW", geo.cin as usize * taps)?,
            cin_g: u("C_in/groups*KH*KW", geo.cin_g as usize * taps)?,
            kh: 1,
            kw: 1,
            ..geo
        },
        p_len: u("N*H_out*W_out", n * per_image)?,
        w_strides: [0, u("packed weights", w_group)? as i32, 0, w_in as i32, 0, 0],
        ..base
    };
    let tensors = [xk.as_ref().unwrap_or(x), &wp, bias, yk.as_ref().unwrap_or(y), resk.as_ref().unwrap_or(res)];
    if sg {
        // One lane per pixel block, whole subgroups of them per POINTWISE_SG_TM output channels.
        let lanes = (p.p_len as usize / tn).next_multiple_of(SUBGROUP_LANES as usize);
        let invocations = lanes * (geo.cout_g as usize).div_ceil(POINTWISE_SG_TM);
        dispatch_invocations(rec, shader, "conv2d_packed_1x1_sg", invocations, p, tensors)?;
    } else {
        dispatch_blocks(rec, shader, "conv2d_packed_1x1", [PACKED_TM, PACKED_TN], p, tensors)?;
    }
    if let Some(yk) = &yk {
        crop_planes(rec, yk, padded, plane, y)?;
    }
    for t in [xk, resk, yk].into_iter().flatten() {
        rec.recycle(t);
    }
    Ok(())
}

/// Whether both packed operands of a conv over `x` `[N, groups * chans, H, W]` padded by
/// `padding`, with `[rows, chans, taps]` weights per group, fit in one buffer binding of this
/// device (channels rounded up to quads, padding written out and f16 widened make them larger
/// than the tensors they come from). Where they do not, the other kernels run the conv.
fn packed_fits(
    rec: &Recorder,
    x: &[usize],
    groups: usize,
    padding: [usize; 4],
    [rows, chans, taps]: [usize; 3],
) -> bool {
    let limits = rec.gpu().limits();
    let limit = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size) as u128;
    let &[n, _, h, w] = x else { return false };
    let quads = quads(chans) as u128;
    let plane = (h + padding[0] + padding[2]) as u128 * (w + padding[1] + padding[3]) as u128;
    let input = n as u128 * groups as u128 * quads * plane;
    let weights = groups as u128 * packed_rows(rows) as u128 * quads * taps as u128;
    input * 16 <= limit && weights * 16 <= limit
}

/// conv2d_packed's parameters from `base` (the conv's geometry over an unpadded input plane
/// `hw` and its epilogue): the plane padded by `padding` (packed by [`pack_input`]), the
/// channels counted in quads and the weight strides of [`pack_weights`]'s layout, in vec4s.
fn packed_params(base: DirectParams, hw: [usize; 2], padding: [usize; 4]) -> DirectParams {
    let geo = base.geo;
    let quads = quads(geo.cin_g as usize);
    let k = [geo.kh as usize, geo.kw as usize];
    DirectParams {
        geo: ConvGeometry {
            h: (hw[0] + padding[0] + padding[2]) as u32,
            w: (hw[1] + padding[1] + padding[3]) as u32,
            pad_top: 0,
            pad_left: 0,
            cin_g: quads as u32,
            ..geo
        },
        w_strides: weight_strides(packed_rows(geo.cout_g as usize), quads, k),
        ..base
    }
}

/// The workgroup size of the direct-family kernels (direct, packed, depthwise) for `blocks`
/// invocations. On CPU adapters always 8: small layers need small workgroups so that every
/// core gets work, large ones ran as fast with 8 as with 64 (kernel bench, lavapipe, 2026-12-07),
/// and one size means one pipeline per kernel, each compiled once per process (conv2d_packed_1x1
/// takes 1.1 s there). Elsewhere small layers get 8, the rest DIRECT_WG.
fn direct_workgroup(rec: &Recorder, blocks: usize) -> u32 {
    if rec.gpu().is_cpu() || blocks < DIRECT_WG * 16 {
        8
    } else {
        DIRECT_WG as u32
    }
}

/// The split-K slices `[c0, c1)` of `len` reduction channels (or channel quads) of the
/// direct-family kernels for a kernel of `khw` taps, one dispatch each: each invocation loops
/// about REDUCTION_CHUNK * (1 + 1/KW + 1/KH/KW) times at most (llvmpipe stops an invocation at
/// 65,535 loop iterations). At least one slice, also for `len` 0.
fn direct_slices(len: usize, khw: usize) -> impl Iterator<Item = (usize, usize)> {
    let per_slice = (REDUCTION_CHUNK / khw.max(1)).max(1);
    (0..len.div_ceil(per_slice).max(1)).map(move |i| (i * per_slice, ((i + 1) * per_slice).min(len)))
}

/// FLOPs of one conv2d (2 per multiply-add), for benchmarks and `inspect`.
pub fn conv2d_flops(out: [usize; 4], w: [usize; 4]) -> u64 {
    let [n, cout, oh, ow] = out;
    let [_, cin_g, kh, kw] = w;
    2 * (n * cout * oh * ow * cin_g * kh * kw) as u64
}

/// Mirrors `Params` in `shaders/conv2d_backward_input.wgsl` and
/// `shaders/conv2d_backward_weight.wgsl` (the same struct in both). `k_len` and `n_len` are the
/// GEMM's reduction length and column count, which differ per kernel; `k_begin`, `k_end` and
/// `accumulate` are set per split-K dispatch by [`dispatch_split`].
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Conv2dBackwardParams {
    geo: ConvGeometry,
    k_len: u32,
    n_len: u32,
    k_begin: u32,
    k_end: u32,
    accumulate: u32,
    /// Pixels per parallel chunk (conv2d_backward_weight only).
    chunk_len: u32,
}

/// Checks the shapes of a conv2d gradient (input `x`, weights `w`, output gradient `dy`) and
/// fills the parameter block, with `k_len` and `n_len` zero (the caller sets them). Also
/// returns the output shape.
fn backward_params(
    op: &'static str,
    x: &[usize],
    w: &[usize],
    dy: &Tensor,
    cfg: &Conv2d,
) -> Result<(Conv2dBackwardParams, [usize; 4])> {
    dy.expect_dtype(op, DType::F32)?;
    if cfg.activation != Activation::None {
        return Err(Error::arg(
            op,
            format!(
                "the gradient kernels take the gradient before the activation; got activation {}, \
                 apply its backward first and pass Activation::None",
                cfg.activation.name()
            ),
        ));
    }
    let y = cfg.output_shape(x, w).map_err(|e| match e {
        Error::Shape { detail, .. } => Error::shape(op, detail),
        Error::InvalidArgument { detail, .. } => Error::arg(op, detail),
        e => e,
    })?;
    if dy.dims() != y {
        return Err(Error::shape(
            op,
            format!(
                "output gradient {} must have the conv2d output shape {y:?} of input {x:?} and weights {w:?}",
                dy.shape()
            ),
        ));
    }
    let (&[n, cin, h, wd], &[cout, cin_g, kh, kw]) = (x, w) else {
        return Err(Error::shape(op, format!("input {x:?} and weights {w:?} must both be 4-D")));
    };
    let u = |what, v| to_u32(op, what, v);
    for (what, len) in [("input element count", x.iter().product()), ("output element count", y.iter().product())] {
        u(what, len)?;
    }
    let params = Conv2dBackwardParams {
        geo: ConvGeometry::new(op, [n, cin, h, wd], [cout, cin_g, kh, kw], y, cfg)?,
        k_len: 0,
        n_len: 0,
        k_begin: 0,
        k_end: 0,
        accumulate: 0,
        chunk_len: 0,
    };
    // The kernels index padded coordinates (iy + pad_top, oy * stride + ky * dilation) as i32.
    for (d, len) in [h, wd].into_iter().enumerate() {
        if (len + cfg.padding[d] + cfg.padding[d + 2]) as u64 > i32::MAX as u64 {
            return Err(Error::arg(op, format!("padded input size in dimension {d} does not fit in 31 bits")));
        }
    }
    Ok((params, y))
}

/// Tile shape `(BM, BN)` of the weight gradient: BM output channels by BN weight columns
/// (`C_in/groups * KH * KW`) per workgroup. Within 16 KiB of workgroup memory like
/// [`tile_for`]; narrow columns (depthwise, 1x1 on few channels) get narrow tiles.
fn weight_tile_for(cout_g: usize, cols: usize) -> (u32, u32) {
    let (bm, bn_max) = if cout_g >= 64 {
        (64, 64)
    } else if cout_g >= 16 {
        (16, 128)
    } else {
        (4, 128)
    };
    (bm, cols.next_power_of_two().clamp(16, bn_max) as u32)
}

/// Records `entry` of `shader` (conv2d_backward_input or conv2d_backward_weight, which have no
/// epilogue) once per slice of the reduction `params.k_len`, split-K (see
/// [`REDUCTION_CHUNK`](super::gemm::REDUCTION_CHUNK)): the first dispatch stores its partial
/// sums, later ones add theirs to the output. One slice is the unsplit kernel.
fn dispatch_split(
    rec: &mut Recorder,
    shader: &Shader,
    entry: &'static str,
    (bm, bn): (u32, u32),
    mut params: Conv2dBackwardParams,
    tensors: &[&Tensor],
    groups: [u32; 3],
) -> Result<()> {
    for (begin, end) in reduction_chunks(params.k_len as usize) {
        params.k_begin = begin as u32;
        params.k_end = end as u32;
        params.accumulate = (begin > 0) as u32;
        rec.dispatch(shader, entry, &[("BM", bm as f64), ("BN", bn as f64)], &params, tensors, groups)?;
    }
    Ok(())
}

/// Workgroup counts as `u32`, or an error naming `op`.
fn workgroups(op: &'static str, g: [usize; 3]) -> Result<[u32; 3]> {
    Ok([to_u32(op, "workgroups", g[0])?, to_u32(op, "workgroups", g[1])?, to_u32(op, "workgroups", g[2])?])
}

/// Whether conv2d_direct computes this convolution's input gradient: dilation 1, any stride
/// and padding (see [`input_grad_phases`]).
fn direct_input_grad_applies(cfg: &Conv2d) -> bool {
    cfg.dilation == [1, 1]
}

/// The kernels that compute the input gradient of a conv with `cfg` and weights of shape `w`
/// (`[C_out, C_in/groups, KH, KW]`): the tiled one always; the direct one at dilation 1 (any
/// stride, by phases); the packed one at dilation 1 with strides no larger than the kernel (by
/// phases) or for unpadded 1x1 kernels at any stride, with more than one output channel per
/// group; the depthwise one with one input and one output channel per group, at stride 1 or
/// dilation 1.
pub fn input_grad_kernels(cfg: &Conv2d, w: [usize; 4]) -> Vec<ConvKernel> {
    let ([cout, cin_g, kh, kw], groups) = (w, cfg.groups.max(1));
    let mut kernels = vec![ConvKernel::Tiled];
    if direct_input_grad_applies(cfg) {
        kernels.push(ConvKernel::Direct);
    }
    if packed_input_grad_applies(cfg, [kh, kw], cout / groups) {
        kernels.push(ConvKernel::Packed);
    }
    if depthwise_input_grad_applies(cfg, [cin_g, cout / groups]) {
        kernels.push(ConvKernel::Depthwise);
    }
    kernels
}

/// The kernels that compute the weight gradient of a conv with weights of shape `w`
/// (`[C_out, C_in/groups, KH, KW]`): the tiled, direct and packed ones at any stride,
/// dilation, padding and grouping; the depthwise one with one input channel per group and at
/// most 9 taps.
pub fn weight_grad_kernels(w: [usize; 4]) -> Vec<ConvKernel> {
    let mut kernels = vec![ConvKernel::Tiled, ConvKernel::Direct, ConvKernel::Packed];
    if depthwise_weight_grad_applies(&w) {
        kernels.push(ConvKernel::Depthwise);
    }
    kernels
}

/// Whether [`ConvKernel::Depthwise`] computes the weight gradient of a conv with weights of
/// shape `w`: one input channel per group (any multiplier) and at most 9 taps (its named
/// registers, shaders/conv2d_backward_weight_depthwise.wgsl).
fn depthwise_weight_grad_applies(w: &[usize]) -> bool {
    matches!(*w, [_, 1, kh, kw] if kh * kw <= 9)
}

/// Whether [`ConvKernel::Depthwise`] computes the input gradient of a conv with `cfg` and
/// `[cin_g, cout_g]` channels per group: one of each (a depthwise conv without a channel
/// multiplier, whose gradient is again one), at stride 1 (any dilation and padding) or at
/// dilation 1 (any stride, by phases).
fn depthwise_input_grad_applies(cfg: &Conv2d, [cin_g, cout_g]: [usize; 2]) -> bool {
    cin_g == 1 && cout_g == 1 && (cfg.stride == [1, 1] || cfg.dilation == [1, 1])
}

/// Whether [`ConvKernel::Packed`] computes the input gradient of a conv with `cfg` and a
/// `k` kernel: dilation 1 and a stride no larger than the kernel (one stride-1 conv of dy with
/// the flipped weights per phase, [`input_grad_phases`], every phase reached by some tap), or
/// an unpadded 1x1 kernel at any stride (a GEMM of dy, spread out over dx); and more than one
/// output channel per group (the packed channel quads are dy's channels).
fn packed_input_grad_applies(cfg: &Conv2d, k: [usize; 2], cout_g: usize) -> bool {
    if packed_1x1_applies(cfg, k) {
        return cout_g > 1;
    }
    cfg.dilation == [1, 1] && cfg.stride[0] <= k[0] && cfg.stride[1] <= k[1] && cout_g > 1
}

/// The direct-family parameters of one phase of the input gradient of a conv of geometry `g`
/// (dy's channels in, x's out; `p_len` left to the caller, whose kernel counts it in its own
/// unit): pixels (u, v) of the phase go to dx rows ry + s * u and columns rx + s * v, each
/// reading dy rows u - pad .. u - pad + J - 1 against the taps ky = ky0 + s * (J - 1 - t).
fn phase_params(
    op: &'static str,
    g: ConvGeometry,
    cfg: &Conv2d,
    [(ry, ky0, jy, pad_y, uh), (rx, kx0, jx, pad_x, vw)]: [PhaseDim; 2],
    k: [usize; 2],
) -> Result<DirectParams> {
    let u = |what, v| to_u32(op, what, v);
    Ok(DirectParams {
        geo: ConvGeometry {
            oh: u("H", uh)?,
            ow: u("W", vw)?,
            // A phase no tap reaches runs no tap loop at all and stores zeros.
            kh: if jx == 0 { 0 } else { jy as u32 },
            kw: if jy == 0 { 0 } else { jx as u32 },
            // A negative padding (an offset into dy) travels as its two's complement; the
            // kernels read it back as i32.
            pad_top: pad_y as u32,
            pad_left: pad_x as u32,
            ..input_grad_geometry(g)
        },
        w_strides: flipped_weight_strides([g.cout_g as usize, g.cin_g as usize], k, cfg.stride, [ky0, kx0], [jy, jx]),
        out_h: g.h,
        out_w: g.w,
        out_sy: cfg.stride[0] as u32,
        out_sx: cfg.stride[1] as u32,
        out_ry: ry as u32,
        out_rx: rx as u32,
        ..Zeroable::zeroed()
    })
}

/// Whether conv2d_depthwise_3x3_s2_dx computes the input gradient of a depthwise conv (one
/// input and one output channel per group) with `cfg` and a `k` kernel: 3x3 at stride 2 and
/// dilation 1 with one row and one column of padding on the top and left (any on the bottom
/// and right), MobileNet's strided depthwise layers. It makes only the products that exist,
/// where the spread path ([`spread_depthwise_params`]) multiplies three zeros for each: 96 s2
/// @112 5.4-5.5 -> 1.7-1.9 ms, 144 s2 @56 2.2 -> 0.7 ms (benches/RESULTS.md).
fn depthwise_3x3_s2_dx_applies(cfg: &Conv2d, k: [usize; 2]) -> bool {
    k == [3, 3] && cfg.stride == [2, 2] && cfg.dilation == [1, 1] && cfg.padding[0] == 1 && cfg.padding[1] == 1
}

/// The parameters of a strided depthwise conv's input gradient as one stride-1 conv (no
/// phases) over dy spread out to every stride-th pixel of a `((H_out - 1) * stride + 1)`-sized
/// plane, where that conv runs on conv2d_depthwise_3x3 (3x3 taps at dilation 1, one column of
/// padding on the left, at most 2 rows on top); `None` elsewhere, and at stride 1. `g` is the
/// conv's geometry, `hw` its input plane. The spread costs a copy of the plane; with the 3x3
/// kernel over it MobileNetV2's 144-channel s2 layer's input gradient took 3.8-3.9 ms where
/// four phases of the generic depthwise kernel took 6.0-6.1 (benches/RESULTS.md).
fn spread_depthwise_params(
    op: &'static str,
    g: ConvGeometry,
    cfg: &Conv2d,
    hw: [usize; 2],
    k: [usize; 2],
) -> Result<Option<DirectParams>> {
    if cfg.stride == [1, 1] || k != [3, 3] || cfg.dilation != [1, 1] || cfg.padding[0] > 2 || g.oh == 0 || g.ow == 0 {
        return Ok(None);
    }
    let s1 = Conv2d { stride: [1, 1], ..*cfg };
    // Rows of whole vec4s, so that conv2d_depthwise_3x3 reads the spread plane as it is (the
    // zero columns past the last dy value are padding on the right).
    let oh = (g.oh - 1) * cfg.stride[0] as u32 + 1;
    let ow = ((g.ow - 1) * cfg.stride[1] as u32 + 1).next_multiple_of(4);
    let spread = ConvGeometry { oh, ow, ..g };
    let phase = input_grad_phases(&s1, hw, k)[0];
    let p = phase_params(op, spread, &s1, phase, k)?;
    Ok(depthwise_3x3_applies(&p.geo).then_some(p))
}

/// One dimension of one phase of a strided conv's input gradient: `(r, k0, taps, pad, len)`.
/// The input pixels `r, r + s, r + 2s, ...` (`len` of them) get contributions only from the
/// taps `k0, k0 + s, ...` (`taps` of them), and over the phase's own pixels that is a
/// stride-1 convolution of dy with those taps flipped, padded by `pad` (negative: an offset).
type PhaseDim = (usize, usize, usize, i64, usize);

/// The stride x stride phases of the input gradient of a conv with dilation 1 along its
/// strided dimensions: each a stride-1 convolution of dy writing every stride-th input pixel,
/// so no work goes to the zeros a strided gradient would otherwise insert between dy's values.
/// Phases that no tap reaches have `taps` 0 (the kernel then writes zeros there). A dimension
/// of stride 1 is one phase of all taps, at any dilation: dy padded by `d * (k - 1) - pad`.
fn input_grad_phases(cfg: &Conv2d, hw: [usize; 2], k: [usize; 2]) -> Vec<[PhaseDim; 2]> {
    let dim = |d: usize| -> Vec<PhaseDim> {
        let (s, pad, k, len) = (cfg.stride[d], cfg.padding[d], k[d], hw[d]);
        if s == 1 {
            return vec![(0, 0, k, (cfg.dilation[d] * (k - 1)) as i64 - pad as i64, len)];
        }
        (0..s.min(len))
            .map(|r| {
                // Taps with (r + pad - tap) divisible by s; dy row = u + (r + pad - k0) / s - j.
                let k0 = (r + pad) % s;
                let taps = if k0 < k { (k - k0).div_ceil(s) } else { 0 };
                let shift = ((r + pad - k0) / s) as i64;
                (r, k0, taps, taps as i64 - 1 - shift, (len - r).div_ceil(s))
            })
            .collect()
    };
    let (rows, cols) = (dim(0), dim(1));
    rows.iter().flat_map(|&a| cols.iter().map(move |&b| [a, b])).collect()
}

/// The one packed copy of dy that the phases of a strided input gradient read (the packed
/// kernels take each phase's window origin in `pad_top` / `pad_left`): packing dy once per
/// phase cost a dispatch and a pass over dy each, four at stride 2.
struct SharedPlane {
    /// Where dy starts in the plane, as [`pack_input_plane`] takes it (negative: the plane
    /// starts inside dy).
    top_left: [i64; 2],
    /// The plane's rows and columns.
    hw: [usize; 2],
    /// Per phase (in order), the plane's row and column that its pixel (0, 0)'s window starts
    /// at; [0, 0] for phases that read nothing (no tap reaches them).
    corners: Vec<[usize; 2]>,
}

impl SharedPlane {
    /// The plane that holds every window of every phase that reads dy: a phase padded by `pad`
    /// reads rows `-pad .. len + taps - 1 - pad` of dy; the plane spans them all.
    fn of(phases: &[[PhaseDim; 2]]) -> SharedPlane {
        // A phase reads dy when some tap reaches it: taps (the third field) in both directions.
        let reads = |[a, b]: &[PhaseDim; 2]| a.2 > 0 && b.2 > 0;
        let reading: Vec<_> = phases.iter().filter(|ph| reads(ph)).collect();
        let pad = |ph: &[PhaseDim; 2], d: usize| ph[d].3;
        let top_left = [0, 1].map(|d| reading.iter().map(|ph| pad(ph, d)).max().unwrap_or(0));
        let hw = [0, 1].map(|d| {
            let end = |ph: &[PhaseDim; 2]| {
                let (_, _, taps, pad, len) = ph[d];
                top_left[d] - pad + (len + taps - 1) as i64
            };
            reading.iter().map(|ph| end(ph)).max().unwrap_or(1).max(1) as usize
        });
        let corner = |ph: &[PhaseDim; 2]| [0, 1].map(|d| (top_left[d] - pad(ph, d)) as usize);
        let corners = phases.iter().map(|ph| if reads(ph) { corner(ph) } else { [0, 0] }).collect();
        SharedPlane { top_left, hw, corners }
    }
}

/// Gradient of conv2d with respect to its input: given `dy` `[N, C_out, H_out, W_out]` (the
/// gradient of the loss with respect to the convolution's output, before any activation), the
/// weights `w` `[C_out, C_in/groups, KH, KW]` and the input shape `x_shape` `[N, C_in, H, W]`,
/// returns `dx` of shape `x_shape`. Input pixels that no output window reaches (stride larger
/// than the kernel's span, padding cut off at the bottom or right) get 0.
///
/// `cfg.activation` must be `Activation::None` (the graph applies the activation's backward
/// separately); otherwise an Error. `dy` must have the shape `cfg.output_shape(x_shape,
/// w.dims())`; any other shape is an Error.
pub fn conv2d_backward_input(
    rec: &mut Recorder,
    dy: &Tensor,
    w: &Tensor,
    x_shape: &[usize],
    cfg: &Conv2d,
) -> Result<Tensor> {
    backward_params("conv2d_backward_input", x_shape, w.dims(), dy, cfg)?;
    let w4 @ [cout, cin_g, kh, kw] = w.shape().nchw("conv2d_backward_input")?;
    let (k, cout_g) = ([kh, kw], cout / cfg.groups);
    // The packed kernel packs dy once, into a plane every phase reads: it must fit.
    let plane = SharedPlane::of(&input_grad_phases(cfg, [x_shape[2], x_shape[3]], k)).hw;
    let dy_packed = [dy.dims()[0], dy.dims()[1], plane[0], plane[1]];
    let packs_fit = packed_fits(rec, &dy_packed, cfg.groups, [0; 4], [w.dims()[1], cout_g, k[0] * k[1]]);
    let candidates: Vec<ConvKernel> =
        input_grad_kernels(cfg, w4).into_iter().filter(|&c| c != ConvKernel::Packed || packs_fit).collect();
    if let [only] = candidates[..] {
        return conv2d_backward_input_with(rec, dy, w, x_shape, cfg, only);
    }
    // dy's channels in, x's out.
    let default = default_kernel(rec, &candidates, [cout_g, cin_g], kh * kw, packed_1x1_applies(cfg, k));
    let kernel = choose_kernel(
        "conv2d_backward_input",
        &candidates,
        default,
        rec,
        [x_shape, w.dims()],
        cfg,
        DType::F32,
        &[dy.dims(), w.dims()],
        |r, t, k| conv2d_backward_input_with(r, &t[0], &t[1], x_shape, cfg, k).map(|_| ()),
    )?;
    conv2d_backward_input_with(rec, dy, w, x_shape, cfg, kernel)
}

/// [`conv2d_backward_input`] with the kernel chosen by the caller; [`ConvKernel::Direct`]
/// applies to dilation 1 (any stride, by phases), [`ConvKernel::Packed`] and
/// [`ConvKernel::Depthwise`] where [`input_grad_kernels`] lists them (an Error elsewhere), the
/// tiled kernel runs everything.
pub fn conv2d_backward_input_with(
    rec: &mut Recorder,
    dy: &Tensor,
    w: &Tensor,
    x_shape: &[usize],
    cfg: &Conv2d,
    kernel: ConvKernel,
) -> Result<Tensor> {
    let op = "conv2d_backward_input";
    w.expect_dtype(op, DType::F32)?;
    let (mut params, _) = backward_params(op, x_shape, w.dims(), dy, cfg)?;
    let [n, _, h, wd] = [x_shape[0], x_shape[1], x_shape[2], x_shape[3]];
    let cin_g = params.geo.cin_g as usize;
    let khw = w.dims()[2] * w.dims()[3];
    params.k_len = to_u32(op, "C_out/groups*KH*KW", params.geo.cout_g as usize * khw)?;
    params.n_len = to_u32(op, "N*H*W", n * h * wd)?;
    let [kh, kw] = [w.dims()[2], w.dims()[3]];
    if kernel == ConvKernel::Packed {
        let g = params.geo;
        let cout_g = g.cout_g as usize;
        if !packed_input_grad_applies(cfg, [kh, kw], cout_g) {
            return Err(Error::arg(
                op,
                "the packed kernel computes input gradients at dilation 1 and strides no larger than the kernel, or of unpadded 1x1 convs, with more than one output channel per group",
            ));
        }
        let base = dense_params(input_grad_geometry(g), params.n_len);
        if packed_1x1_applies(cfg, [kh, kw]) {
            // The weights transposed (dy's channels are the reduction).
            let strides = flipped_weight_strides([cout_g, cin_g], [kh, kw], [1, 1], [0, 0], [kh, kw]);
            let packing = Packing { rows: cin_g, chans: cout_g, strides, taps: [kh, kw], taps_outer: false };
            // dx at the pixels the conv read (every stride-th one): a GEMM of dy's planes with
            // the transposed weights; spread out over dx with zeros between where strided.
            let dy_hw = [g.oh as usize, g.ow as usize];
            let dx = rec.alloc(x_shape.to_vec(), DType::F32)?;
            let sub = if cfg.stride == [1, 1] {
                None
            } else {
                Some(rec.alloc([n, g.cin as usize, dy_hw[0], dy_hw[1]], DType::F32)?)
            };
            let geo = ConvGeometry { oh: g.oh, ow: g.ow, ..base.geo };
            let base = dense_params(geo, params.n_len);
            let out = sub.as_ref().unwrap_or(&dx);
            let tensors = [dy, w, w, out, dy];
            dispatch_packed_1x1(rec, &shaders::CONV2D_PACKED_1X1, base, packing, dy_hw, Window::PLAIN, tensors)?;
            if let Some(sub) = sub {
                copy_planes(rec, &sub, dy_hw, Window::spread(cfg.stride), [h, wd], h * wd, &dx)?;
                rec.recycle(sub);
            }
            return Ok(dx);
        }
        // One stride-1 conv of dy with the flipped, transposed weights per phase (one phase at
        // stride 1), all over one packed copy of dy, each phase's windows from its own corner.
        let dx = rec.alloc(x_shape.to_vec(), DType::F32)?;
        let phases = input_grad_phases(cfg, [h, wd], [kh, kw]);
        let shared = SharedPlane::of(&phases);
        let dyp = pack_input_plane(rec, dy, cfg.groups, shared.top_left, shared.hw)?;
        for (phase, corner) in phases.into_iter().zip(shared.corners) {
            let [(_, ky0, jy, _, uh), (_, kx0, jx, _, vw)] = phase;
            let strides = flipped_weight_strides([cout_g, cin_g], [kh, kw], cfg.stride, [ky0, kx0], [jy, jx]);
            let packing = Packing { rows: cin_g, chans: cout_g, strides, taps: [jy, jx], taps_outer: false };
            let wp = pack_weights(rec, w, cfg.groups, packing)?;
            let base =
                DirectParams { p_len: to_u32(op, "N*H*W", n * uh * vw)?, ..phase_params(op, g, cfg, phase, [kh, kw])? };
            let mut p = packed_params(base, shared.hw, [0; 4]);
            [p.geo.pad_top, p.geo.pad_left] = corner.map(|c| c as u32);
            let tensors = [&dyp, &wp, &wp, &dx, dy];
            dispatch_packed(rec, &shaders::CONV2D_PACKED, p, tensors)?;
        }
        rec.recycle(dyp);
        return Ok(dx);
    }
    if kernel == ConvKernel::Depthwise {
        let g = params.geo;
        if !depthwise_input_grad_applies(cfg, [cin_g, g.cout_g as usize]) {
            return Err(Error::arg(
                op,
                "the depthwise kernel computes input gradients of convs with one input and one output channel per group, at stride 1 or dilation 1",
            ));
        }
        let planes = to_u32(op, "N*C_in", n * g.cin as usize)?;
        let dx = rec.alloc(x_shape.to_vec(), DType::F32)?;
        if depthwise_3x3_s2_dx_applies(cfg, [kh, kw]) {
            // dx straight from dy: conv2d_depthwise_3x3_s2_dx reads dy as its input planes
            // and the forward's weights.
            let geo = ConvGeometry { kh: 3, kw: 3, ..input_grad_geometry(g) };
            let p = DirectParams { w_strides: weight_strides(1, 1, [3, 3]), ..dense_params(geo, planes) };
            dispatch_depthwise_3x3(rec, "conv2d_depthwise_3x3_s2_dx", p, [dy, w, w, &dx, dy])?;
            return Ok(dx);
        }
        if let Some(p) = spread_depthwise_params(op, g, cfg, [h, wd], [kh, kw])? {
            // dy spread over the pixels a stride-1 conv would have produced, zeros between, then
            // one stride-1 conv by conv2d_depthwise_3x3.
            let spread_hw = [p.geo.h as usize, p.geo.w as usize];
            let spread = rec.alloc([n, g.cout as usize, spread_hw[0], spread_hw[1]], DType::F32)?;
            let dy_hw = [g.oh as usize, g.ow as usize];
            copy_planes(rec, dy, dy_hw, Window::spread(cfg.stride), spread_hw, spread_hw[0] * spread_hw[1], &spread)?;
            let p = DirectParams { p_len: planes, ..p };
            dispatch_depthwise(rec, &shaders::CONV2D_DEPTHWISE, p, [&spread, w, w, &dx, &spread])?;
            rec.recycle(spread);
            return Ok(dx);
        }
        // One depthwise conv of dy with the flipped taps per phase (one phase at stride 1). No
        // bias, residual or activation: the weights and dy stand in for their bindings.
        for phase in input_grad_phases(cfg, [h, wd], [kh, kw]) {
            let p = DirectParams { p_len: planes, ..phase_params(op, g, cfg, phase, [kh, kw])? };
            dispatch_depthwise(rec, &shaders::CONV2D_DEPTHWISE, p, [dy, w, w, &dx, dy])?;
        }
        return Ok(dx);
    }
    let dx = rec.alloc(x_shape.to_vec(), DType::F32)?;
    if kernel == ConvKernel::Direct && direct_input_grad_applies(cfg) {
        let g = params.geo;
        for phase in input_grad_phases(cfg, [h, wd], [kh, kw]) {
            let [(_, _, jy, pad_y, uh), (_, _, jx, pad_x, vw)] = phase;
            let p =
                DirectParams { p_len: to_u32(op, "N*H*W", n * uh * vw)?, ..phase_params(op, g, cfg, phase, [kh, kw])? };
            // A 1x1 phase that reads dy without offset or overhang is a plain GEMM.
            let pointwise =
                jy == 1 && jx == 1 && pad_y == 0 && pad_x == 0 && uh <= g.oh as usize && vw <= g.ow as usize;
            dispatch_direct(rec, &shaders::CONV2D_DIRECT, pointwise, p, [dy, w, w, &dx, dy])?;
        }
        return Ok(dx);
    }
    let (bm, bn) = tile_for(cin_g);
    let groups = workgroups(op, [(n * h * wd).div_ceil(bn as usize), cin_g.div_ceil(bm as usize), cfg.groups])?;
    dispatch_split(
        rec,
        &shaders::CONV2D_BACKWARD_INPUT,
        "conv2d_backward_input",
        (bm, bn),
        params,
        &[dy, w, &dx],
        groups,
    )?;
    Ok(dx)
}

/// Gradient of conv2d with respect to its weights: given `dy` `[N, C_out, H_out, W_out]` (the
/// gradient before any activation) and the forward input `x` `[N, C_in, H, W]`, returns `dw`
/// of shape `w_shape` `[C_out, C_in/groups, KH, KW]`, summed over the batch.
///
/// `cfg.activation` must be `Activation::None`, and `dy` must have the shape
/// `cfg.output_shape(x.dims(), w_shape)`; otherwise an Error.
pub fn conv2d_backward_weight(
    rec: &mut Recorder,
    dy: &Tensor,
    x: &Tensor,
    w_shape: &[usize],
    cfg: &Conv2d,
) -> Result<Tensor> {
    backward_params("conv2d_backward_weight", x.dims(), w_shape, dy, cfg)?;
    let channels = [w_shape[1], w_shape[0] / cfg.groups];
    let taps = w_shape[2] * w_shape[3];
    // The packed kernel packs x and dy (rows 0: no packed weights).
    let packs_fit = packed_fits(rec, x.dims(), cfg.groups, cfg.padding, [0, channels[0], taps])
        && packed_fits(rec, dy.dims(), cfg.groups, [0; 4], [0, channels[1], 1]);
    let w4 = [w_shape[0], w_shape[1], w_shape[2], w_shape[3]];
    let candidates: Vec<_> =
        weight_grad_kernels(w4).into_iter().filter(|&k| k != ConvKernel::Packed || packs_fit).collect();
    let kernel = choose_kernel(
        "conv2d_backward_weight",
        &candidates,
        default_weight_grad_kernel(rec, &candidates, channels),
        rec,
        [x.dims(), w_shape],
        cfg,
        DType::F32,
        &[dy.dims(), x.dims()],
        |r, t, k| conv2d_backward_weight_with(r, &t[0], &t[1], w_shape, cfg, k).map(|_| ()),
    )?;
    conv2d_backward_weight_with(rec, dy, x, w_shape, cfg, kernel)
}

/// [`conv2d_backward_weight`] with the kernel chosen by the caller (tests run each of
/// [`weight_grad_kernels`]); [`ConvKernel::Depthwise`] where that lists it, an Error elsewhere.
pub fn conv2d_backward_weight_with(
    rec: &mut Recorder,
    dy: &Tensor,
    x: &Tensor,
    w_shape: &[usize],
    cfg: &Conv2d,
    kernel: ConvKernel,
) -> Result<Tensor> {
    let op = "conv2d_backward_weight";
    x.expect_dtype(op, DType::F32)?;
    let (mut params, [n, _, oh, ow]) = backward_params(op, x.dims(), w_shape, dy, cfg)?;
    if kernel == ConvKernel::Depthwise && !depthwise_weight_grad_applies(w_shape) {
        return Err(Error::arg(
            op,
            "the depthwise kernel computes weight gradients of convs with one input channel per group and at most 9 taps",
        ));
    }
    let cout_g = params.geo.cout_g as usize;
    let cols = w_shape[1] * w_shape[2] * w_shape[3];
    params.k_len = to_u32(op, "N*H_out*W_out", n * oh * ow)?;
    params.n_len = to_u32(op, "C_in/groups*KH*KW", cols)?;
    let dw = rec.alloc(w_shape.to_vec(), DType::F32)?;
    match kernel {
        ConvKernel::Direct => {
            weight_grad_direct(rec, &params.geo, [n, oh, ow], cols, [dy, x, &dw])?;
            return Ok(dw);
        }
        ConvKernel::Packed => {
            weight_grad_packed(rec, &params.geo, [n, oh, ow], cfg, [dy, x, &dw])?;
            return Ok(dw);
        }
        ConvKernel::Depthwise => {
            let p = weight_rows_params(&params.geo, [n, oh, ow], cols)?;
            let kernel = (&shaders::CONV2D_BACKWARD_WEIGHT_DEPTHWISE, "conv2d_backward_weight_depthwise");
            // One output channel per invocation, all groups in x; z runs over the chunks alone.
            let blocks = [(params.geo.cout as usize).div_ceil(WEIGHT_DIRECT_WG), 1];
            weight_grad_rows(rec, kernel, p, blocks, 1, [dy, x, &dw])?;
            return Ok(dw);
        }
        ConvKernel::Tiled => {}
    }
    let (bm, bn) = weight_tile_for(cout_g, cols);
    let tiles = [cols.div_ceil(bn as usize), cout_g.div_ceil(bm as usize)];
    let overrides = [("BM", bm as f64), ("BN", bn as f64)];
    // Parallel split-K over the output pixels: chunks of REDUCTION_CHUNK run side by side (a
    // thin gradient such as a stem's 16 x 27 is one workgroup per chunk; run one after another,
    // they kept a single core busy), each into its own slice of a scratch buffer, summed by a
    // second pass. Rounds bound the scratch buffer when there are many chunks.
    let pixels = params.k_len as usize;
    let chunks = pixels.div_ceil(REDUCTION_CHUNK).max(1);
    params.chunk_len = REDUCTION_CHUNK as u32;
    if chunks == 1 {
        let groups = workgroups(op, [tiles[0], tiles[1], cfg.groups])?;
        params.k_begin = 0;
        params.k_end = pixels as u32;
        rec.dispatch(
            &shaders::CONV2D_BACKWARD_WEIGHT,
            "conv2d_backward_weight",
            &overrides,
            &params,
            &[dy, x, &dw],
            groups,
        )?;
        return Ok(dw);
    }
    split_k_rounds(rec, chunks, cfg.groups, &dw, |rec, first, count, partials| {
        params.k_begin = (first * REDUCTION_CHUNK) as u32;
        params.k_end = ((first + count) * REDUCTION_CHUNK).min(pixels) as u32;
        params.accumulate = 0;
        let groups = workgroups(op, [tiles[0], tiles[1], cfg.groups * count])?;
        rec.dispatch(
            &shaders::CONV2D_BACKWARD_WEIGHT,
            "conv2d_backward_weight",
            &overrides,
            &params,
            &[dy, x, partials],
            groups,
        )
    })?;
    Ok(dw)
}

/// Runs `chunks` reduction chunks of a weight gradient `dw` in parallel, in rounds: `record`
/// records chunks `first..first + count` into their slices of `partials` (`[count, dw.numel()]`
/// or larger), then reduce_chunks adds the slices into `dw` (the first round stores). Rounds
/// keep the scratch buffer within 64 MiB and the workgroup count z (`chunks * groups`) within
/// the adapter's limit.
fn split_k_rounds(
    rec: &mut Recorder,
    chunks: usize,
    groups: usize,
    dw: &Tensor,
    mut record: impl FnMut(&mut Recorder, usize, usize, &Tensor) -> Result<()>,
) -> Result<()> {
    const SCRATCH_VALUES: usize = 16 << 20;
    let out_len = dw.numel();
    let limit_z = rec.gpu().limits().max_compute_workgroups_per_dimension as usize;
    let per_round = chunks.min((SCRATCH_VALUES / out_len.max(1)).max(1)).min((limit_z / groups.max(1)).max(1));
    let partials = rec.alloc([per_round, out_len], DType::F32)?;
    let mut first = 0;
    while first < chunks {
        let count = per_round.min(chunks - first);
        record(rec, first, count, &partials)?;
        let reduce = Conv2dBackwardParams {
            k_begin: count as u32,
            k_end: to_u32("conv2d_backward_weight", "weight count", out_len)?,
            accumulate: (first > 0) as u32,
            ..Zeroable::zeroed()
        };
        rec.dispatch(
            &shaders::CONV2D_BACKWARD_WEIGHT,
            "reduce_chunks",
            &[("WG", 256.0)],
            &reduce,
            &[&partials, dw],
            grid_1d(out_len as u64, 256),
        )?;
        first += count;
    }
    rec.recycle(partials);
    Ok(())
}

/// Mirrors `Params` in `shaders/lib/conv_weight_params.wgsl` (the row-chunked weight-gradient
/// kernels: direct, packed, depthwise).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct WeightRowsParams {
    geo: ConvGeometry,
    cols: u32,
    rows: u32,
    row_begin: u32,
    row_end: u32,
    rows_per_chunk: u32,
    _pad0: u32,
}

/// Output channels (TM) and weight columns (TN) of one invocation of
/// conv2d_backward_weight_direct, and its workgroup size.
const WEIGHT_DIRECT_TM: usize = 16;
const WEIGHT_DIRECT_TN: usize = 16;
const WEIGHT_DIRECT_WG: usize = 8;

/// Output channels of one invocation of conv2d_backward_weight_packed (WEIGHT_PACKED_TM in
/// shaders/gen/conv2d_direct.py).
const WEIGHT_PACKED_TM: usize = 16;
/// Output channels of one invocation of its subgroup entries: a quad per lane of a subgroup
/// of SUBGROUP_LANES (SG_TM in the generator).
const WEIGHT_PACKED_SG_TM: usize = 32;

/// The entry point of conv2d_backward_weight_packed for `cols` vec4 columns (4 input channels
/// at one tap each), its subgroup form or not (`sg`), and its columns per invocation
/// (WEIGHT_PACKED_ENTRIES in shaders/gen/conv2d_direct.py): 4, or 2 where fewer than 64
/// columns would leave SIMD lanes idle (ResNet-50's 64->256 1x1 has 16 columns: 4 invocations
/// of 4 fill half a workgroup of 8; 1.4-1.7x faster with 2, measured).
fn weight_packed_entry(cols: usize, sg: bool) -> (&'static str, usize) {
    match (cols < 64, sg) {
        (true, false) => ("conv2d_backward_weight_packed_narrow", 2),
        (false, false) => ("conv2d_backward_weight_packed", 4),
        (true, true) => ("conv2d_backward_weight_packed_sg_narrow", 2),
        (false, true) => ("conv2d_backward_weight_packed_sg", 4),
    }
}

/// The weight gradient with conv2d_backward_weight_direct on `[dy, x, dw]`.
fn weight_grad_direct(
    rec: &mut Recorder,
    geo: &ConvGeometry,
    [n, oh, ow]: [usize; 3],
    cols: usize,
    [dy, x, dw]: [&Tensor; 3],
) -> Result<()> {
    let p = weight_rows_params(geo, [n, oh, ow], cols)?;
    let kernel = (&shaders::CONV2D_BACKWARD_WEIGHT_DIRECT, "conv2d_backward_weight_direct");
    let blocks = [cols.div_ceil(WEIGHT_DIRECT_WG * WEIGHT_DIRECT_TN), (geo.cout_g as usize).div_ceil(WEIGHT_DIRECT_TM)];
    weight_grad_rows(rec, kernel, p, blocks, geo.groups as usize, [dy, x, dw])
}

/// The weight gradient with conv2d_backward_weight_packed on `[dy, x, dw]`: x packed into
/// vec4s of 4 channels with `cfg`'s padding written out (columns of 4 channels at one tap), dy
/// into vec4s of 4 output channels.
fn weight_grad_packed(
    rec: &mut Recorder,
    geo: &ConvGeometry,
    [n, oh, ow]: [usize; 3],
    cfg: &Conv2d,
    [dy, x, dw]: [&Tensor; 3],
) -> Result<()> {
    let xp = pack_input(rec, x, cfg.groups, cfg.padding)?;
    let dyp = pack_input(rec, dy, cfg.groups, [0; 4])?;
    // The packed plane: x's, padding written out.
    let packed = ConvGeometry {
        h: geo.h + (cfg.padding[0] + cfg.padding[2]) as u32,
        w: geo.w + (cfg.padding[1] + cfg.padding[3]) as u32,
        pad_top: 0,
        pad_left: 0,
        ..*geo
    };
    let cols = quads(geo.cin_g as usize) * (geo.kh * geo.kw) as usize;
    let p = weight_rows_params(&packed, [n, oh, ow], cols)?;
    let sg = subgroup_forms(rec.gpu(), geo.cout_g as usize);
    let (entry, nv) = weight_packed_entry(cols, sg);
    let tm = if sg { WEIGHT_PACKED_SG_TM } else { WEIGHT_PACKED_TM };
    let kernel = (&shaders::CONV2D_BACKWARD_WEIGHT_PACKED, entry);
    let blocks = [cols.div_ceil(WEIGHT_DIRECT_WG * nv), (geo.cout_g as usize).div_ceil(tm)];
    weight_grad_rows(rec, kernel, p, blocks, geo.groups as usize, [&dyp, &xp, dw])?;
    rec.recycle(xp);
    rec.recycle(dyp);
    Ok(())
}

/// The parameters of a row-chunked weight-gradient kernel with `cols` columns per output
/// channel, its N * H_out output rows in chunks of about REDUCTION_CHUNK pixels.
fn weight_rows_params(geo: &ConvGeometry, [n, oh, ow]: [usize; 3], cols: usize) -> Result<WeightRowsParams> {
    let op = "conv2d_backward_weight";
    let rows_per_chunk = (REDUCTION_CHUNK / ow.max(1)).max(1);
    Ok(WeightRowsParams {
        geo: *geo,
        cols: to_u32(op, "weight columns", cols)?,
        rows: to_u32(op, "N*H_out", n * oh)?,
        row_begin: 0,
        row_end: 0,
        rows_per_chunk: to_u32(op, "rows per chunk", rows_per_chunk)?,
        _pad0: 0,
    })
}

/// Records a row-chunked weight-gradient `kernel` (shader and entry point, workgroups over
/// `blocks` in x and y and `groups` per chunk in z) on `[dy, x, dw]`: the chunks of `p`'s rows
/// run side by side, each into its own slice of a scratch buffer, summed by reduce_chunks (in
/// rounds that bound the scratch buffer). One chunk writes dw directly.
fn weight_grad_rows(
    rec: &mut Recorder,
    (shader, entry): (&Shader, &'static str),
    mut p: WeightRowsParams,
    blocks: [usize; 2],
    groups: usize,
    [dy, x, dw]: [&Tensor; 3],
) -> Result<()> {
    let op = "conv2d_backward_weight";
    let (rows, rows_per_chunk) = (p.rows as usize, p.rows_per_chunk as usize);
    let chunks = rows.div_ceil(rows_per_chunk).max(1);
    let groups_of = |chunks: usize| workgroups(op, [blocks[0], blocks[1], groups * chunks]);
    let overrides = [("WG", WEIGHT_DIRECT_WG as f64)];
    if chunks == 1 {
        p.row_end = p.rows;
        return rec.dispatch(shader, entry, &overrides, &p, &[dy, x, dw], groups_of(1)?);
    }
    split_k_rounds(rec, chunks, groups, dw, |rec, first, count, partials| {
        p.row_begin = (first * rows_per_chunk) as u32;
        p.row_end = ((first + count) * rows_per_chunk).min(rows) as u32;
        rec.dispatch(shader, entry, &overrides, &p, &[dy, x, partials], groups_of(count)?)
    })
}

/// Gradient of conv2d with respect to its bias: the sum of `dy` `[N, C_out, H_out, W_out]`
/// (the gradient before any activation) over the batch and the output pixels, as `[C_out]`.
pub fn conv2d_backward_bias(rec: &mut Recorder, dy: &Tensor) -> Result<Tensor> {
    let op = "conv2d_backward_bias";
    dy.expect_dtype(op, DType::F32)?;
    let [n, cout, oh, ow] = dy.shape().nchw(op)?;
    let u = |what, v| to_u32(op, what, v);
    u("output gradient element count", dy.numel())?;
    let geo = ConvGeometry {
        n: u("batch", n)?,
        cout: u("C_out", cout)?,
        oh: u("H_out", oh)?,
        ow: u("W_out", ow)?,
        ..Zeroable::zeroed()
    };
    let params = Conv2dBackwardParams { geo, ..Zeroable::zeroed() };
    let db = rec.alloc([cout], DType::F32)?;
    // Small reductions get small workgroups so that few invocations idle (a power of two, 32..=256).
    let wg = (n * oh * ow).next_power_of_two().clamp(32, 256);
    rec.dispatch(
        &shaders::CONV2D_BACKWARD_WEIGHT,
        "conv2d_backward_bias",
        &[("WG", wg as f64)],
        &params,
        &[dy, &db],
        grid_1d(cout as u64, 1),
    )?;
    Ok(db)
}

/// Transposed-convolution hyper-parameters (ONNX `ConvTranspose`, PyTorch `conv_transpose2d`).
/// Weights are `[C_in, C_out / groups, KH, KW]`, bias `[C_out]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose2d {
    /// Stride `[vertical, horizontal]`: the spacing of the input pixels in the output.
    pub stride: [usize; 2],
    /// Padding `[top, left, bottom, right]` (the ONNX `pads` order), cropped from the full
    /// output.
    pub padding: [usize; 4],
    /// Extra rows and columns `[bottom, right]` added to the output size (ONNX
    /// `output_padding`); they receive contributions where kernel taps reach them.
    pub output_padding: [usize; 2],
    /// Dilation `[vertical, horizontal]` of the kernel.
    pub dilation: [usize; 2],
    /// Number of groups; `C_in` must divide by it, and `C_out = groups * weights.dims[1]`.
    pub groups: usize,
}

impl Default for ConvTranspose2d {
    fn default() -> Self {
        ConvTranspose2d { stride: [1, 1], padding: [0; 4], output_padding: [0, 0], dilation: [1, 1], groups: 1 }
    }
}

impl ConvTranspose2d {
    /// The output shape `[N, C_out, H_out, W_out]` for input `x` `[N, C_in, H, W]` and weights
    /// `w` `[C_in, C_out / groups, KH, KW]`, with `H_out = (H - 1) * stride - pad_top -
    /// pad_bottom + dilation * (KH - 1) + output_padding + 1` (likewise W). Errors when the
    /// shapes disagree, a size or parameter is zero, or the output would be empty.
    pub fn output_shape(&self, x: &[usize], w: &[usize]) -> Result<[usize; 4]> {
        let op = "conv_transpose2d";
        let (&[n, cin, h, wd], &[wcin, cout_g, kh, kw]) = (x, w) else {
            return Err(Error::shape(op, format!("input {x:?} and weights {w:?} must both be 4-D")));
        };
        if self.groups == 0 || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err(Error::arg(op, "groups, stride and dilation must be positive"));
        }
        if kh == 0 || kw == 0 || cout_g == 0 {
            return Err(Error::arg(
                op,
                format!("weights {w:?} must have a positive kernel size and output channel count"),
            ));
        }
        if h == 0 || wd == 0 {
            return Err(Error::shape(op, format!("input {x:?} has no pixels")));
        }
        if wcin != cin || cin % self.groups != 0 {
            return Err(Error::shape(
                op,
                format!(
                    "weights {w:?} need C_in = {wcin} input channels (a multiple of groups {}), input {x:?} has {cin}",
                    self.groups
                ),
            ));
        }
        let mut out = [0; 2];
        for (d, (len, k)) in [(h, kh), (wd, kw)].into_iter().enumerate() {
            // All terms are checked to fit in i64 before the arithmetic.
            let terms = [
                len,
                self.stride[d],
                self.dilation[d],
                k,
                self.output_padding[d],
                self.padding[d],
                self.padding[d + 2],
            ];
            if terms.iter().any(|&t| t > i32::MAX as usize) {
                return Err(Error::arg(op, format!("sizes {terms:?} in dimension {d} do not fit in 31 bits")));
            }
            let full = (len as i64 - 1) * self.stride[d] as i64
                + self.dilation[d] as i64 * (k as i64 - 1)
                + self.output_padding[d] as i64
                + 1;
            let o = full - self.padding[d] as i64 - self.padding[d + 2] as i64;
            if o <= 0 {
                return Err(Error::shape(
                    op,
                    format!("padding {:?} crops the whole output ({full} pixels) in dimension {d}", self.padding),
                ));
            }
            out[d] = o as usize;
        }
        let cout = cout_g
            .checked_mul(self.groups)
            .ok_or_else(|| Error::arg(op, format!("C_out = {cout_g} * groups {} overflows", self.groups)))?;
        Ok([n, cout, out[0], out[1]])
    }
}

/// Transposed convolution (ONNX `ConvTranspose`, PyTorch `conv_transpose2d`): every input
/// pixel scatters its values, times the kernel, into the output at `stride` spacing. `x` is
/// `[N, C_in, H, W]`, `w` `[C_in, C_out / groups, KH, KW]`, `bias` (optional) `[C_out]`;
/// the output is [`ConvTranspose2d::output_shape`].
///
/// This is the gradient of a convolution with respect to its input, so it runs the
/// `conv2d_backward_input` kernel (the output here is that convolution's input), then adds
/// the bias. Errors on shapes that disagree, zero sizes or parameters, or padding that crops
/// the whole output.
pub fn conv_transpose2d(
    rec: &mut Recorder,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    cfg: &ConvTranspose2d,
) -> Result<Tensor> {
    let op = "conv_transpose2d";
    x.expect_dtype(op, DType::F32)?;
    w.expect_dtype(op, DType::F32)?;
    let [n, cout, oh, ow] = cfg.output_shape(x.dims(), w.dims())?;
    let [_, cin, h, wd] = x.shape().nchw(op)?;
    let [_, cout_g, kh, kw] = w.shape().nchw(op)?;
    if let Some(b) = bias {
        b.expect_dtype(op, DType::F32)?;
        if b.numel() != cout || b.shape().rank() != 1 {
            return Err(Error::shape(op, format!("bias {} must be [C_out] = [{cout}]", b.shape())));
        }
    }
    let u = |what, v| to_u32(op, what, v);
    let count = |d: [usize; 4]| d.iter().try_fold(1usize, |a, &b| a.checked_mul(b)).unwrap_or(usize::MAX);
    u("input element count", count([n, cin, h, wd]))?;
    let out_len = u("output element count", count([n, cout, oh, ow]))?;
    // The kernel indexes padded output coordinates (oy + pad_top, y * stride + k * dilation)
    // as i32.
    for d in 0..2 {
        let span = [oh, ow][d] + cfg.padding[d] + cfg.dilation[d] * ([kh, kw][d] - 1) + [h, wd][d] * cfg.stride[d];
        if span as u64 > i32::MAX as u64 {
            return Err(Error::arg(op, format!("padded output size in dimension {d} does not fit in 31 bits")));
        }
    }
    let y = rec.alloc([n, cout, oh, ow], DType::F32)?;
    if out_len == 0 {
        return Ok(y);
    }
    // The convolution whose input gradient this is: its input is y ([N, C_out, H_out, W_out]),
    // its output x ([N, C_in, H, W]), its weights w ([C_in, C_out / groups, KH, KW]).
    let forward = Conv2d {
        stride: cfg.stride,
        padding: cfg.padding,
        dilation: cfg.dilation,
        groups: cfg.groups,
        activation: Activation::None,
    };
    let params = Conv2dBackwardParams {
        geo: ConvGeometry::new(op, [n, cout, oh, ow], [cin, cout_g, kh, kw], [n, cin, h, wd], &forward)?,
        k_len: u("C_in/groups*KH*KW", (cin / cfg.groups) * kh * kw)?,
        n_len: u("N*H_out*W_out", n * oh * ow)?,
        k_begin: 0,
        k_end: 0,
        accumulate: 0,
        chunk_len: 0,
    };
    let (bm, bn) = tile_for(cout_g);
    let groups = workgroups(op, [(n * oh * ow).div_ceil(bn as usize), cout_g.div_ceil(bm as usize), cfg.groups])?;
    dispatch_split(
        rec,
        &shaders::CONV2D_BACKWARD_INPUT,
        "conv2d_backward_input",
        (bm, bn),
        params,
        &[x, w, &y],
        groups,
    )?;
    match bias {
        Some(b) => super::add(rec, &y, &b.reshape([1, cout, 1, 1])?),
        None => Ok(y),
    }
}

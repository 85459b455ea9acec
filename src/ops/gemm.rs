//! General matrix multiplication (`gemm`, ONNX Gemm semantics) with optional transposes,
//! scaling, a broadcast addend and a fused activation epilogue; and `linear`, PyTorch's
//! `nn.Linear` on top of it.

use bytemuck::{Pod, Zeroable};

use super::{to_u32, Activation};
use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Error, Result, Tensor};

/// Gemm parameters: `Y = activation(alpha * op(A) @ op(B) + beta * C)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gemm {
    /// `A` is stored `[K, M]` and used transposed.
    pub trans_a: bool,
    /// `B` is stored `[N, K]` and used transposed (the layout of `nn.Linear` weights).
    pub trans_b: bool,
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of `C` (ignored when there is no `C`).
    pub beta: f32,
    /// Activation applied to the output in the same kernel.
    pub activation: Activation,
}

impl Default for Gemm {
    fn default() -> Self {
        Gemm { trans_a: false, trans_b: false, alpha: 1.0, beta: 1.0, activation: Activation::None }
    }
}

impl Gemm {
    /// `(M, K, N)` for `A` and `B` of these shapes, checking that both are 2-D and that their
    /// inner dimensions agree.
    pub fn mkn(&self, a: &[usize], b: &[usize]) -> Result<(usize, usize, usize)> {
        let op = "gemm";
        let (&[a0, a1], &[b0, b1]) = (a, b) else {
            return Err(Error::shape(op, format!("A {a:?} and B {b:?} must both be 2-D")));
        };
        let (m, k) = if self.trans_a { (a1, a0) } else { (a0, a1) };
        let (kb, n) = if self.trans_b { (b1, b0) } else { (b0, b1) };
        if k != kb {
            return Err(Error::shape(
                op,
                format!(
                    "inner dimensions differ: op(A) of A {a:?} (trans_a {}) has K = {k}, op(B) of B {b:?} (trans_b {}) has K = {kb}",
                    self.trans_a, self.trans_b
                ),
            ));
        }
        Ok((m, k, n))
    }
}

/// Strides `(row, column)` that read `C` of shape `c` broadcast to `[m, n]` (0 on a broadcast
/// dimension), or an error when `c` is not unidirectionally broadcastable to `[m, n]`.
pub(crate) fn c_strides(c: &[usize], m: usize, n: usize) -> Result<(usize, usize)> {
    let (cm, cn) = match *c {
        [] => (1, 1),
        [cn] => (1, cn),
        [cm, cn] => (cm, cn),
        _ => return Err(Error::shape("gemm", format!("C {c:?} has rank > 2; output is [{m}, {n}]"))),
    };
    if (cm != 1 && cm != m) || (cn != 1 && cn != n) {
        return Err(Error::shape("gemm", format!("C {c:?} does not broadcast to the output [{m}, {n}]")));
    }
    let sn = if cn == 1 { 0 } else { 1 };
    let sm = if cm == 1 { 0 } else { cn };
    Ok((sm, sn))
}

/// Mirrors `Params` in `shaders/gemm.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct GemmParams {
    m: u32,
    n: u32,
    k: u32,
    trans_a: u32,
    trans_b: u32,
    has_c: u32,
    c_sm: u32,
    c_sn: u32,
    alpha: f32,
    beta: f32,
    act: u32,
    act_a: f32,
    act_b: f32,
    k_begin: u32,
    k_end: u32,
    accumulate: u32,
    epilogue: u32,
    _pad: [u32; 3],
}

/// Longest slice of the reduction that one dispatch of a tiled implicit-GEMM kernel ([`gemm`],
/// `conv2d`, `conv2d_backward_input`, `conv2d_backward_weight`) runs. A longer reduction is
/// split into slices of at most this length ([`reduction_chunks`]), one dispatch each,
/// recorded in order into the same encoder: the first stores its partial sums, each later one
/// adds its own to what is in the output (dispatches of one encoder run in order, so this is
/// race-free), and only the last applies the epilogue (scaling, `C`, bias, activation). A
/// reduction of at most this length is one dispatch, exactly the unsplit kernel.
///
/// Why: Mesa llvmpipe / lavapipe (22.3 on the CI machines) ends every loop of a shader
/// invocation once all of its loops together have run 65535 iterations
/// (`LP_MAX_TGSI_LOOP_ITERATIONS`, "shared between every loop in a shader", a guard against
/// hangs), and the kernel then silently stores a truncated sum (relative error up to ~1). One
/// BK = 16 step of these kernels costs about `1 + 16 + (BM + BN) * 16 / invocations` loop
/// iterations (the step itself, the loop over its 16 values of k, the two staging loops) plus
/// two or three: about 37 for the 128-invocation tiles, 85 for the 32-invocation `(4, 128)`
/// tile, 100 for conv2d_backward_weight's 4-invocation `(4, 16)` tile. Measured without
/// splitting (conv2d_backward_weight, one dispatch over the whole reduction): the `(4, 16)` tile
/// was exact up to 650 steps and wrong from 660, `(4, 64)` (16 invocations) exact up to 740 and
/// wrong from 750, `(4, 128)` (32 invocations) exact up to 760 and wrong from 780; gemm with
/// 128-invocation tiles was exact at 1568 steps (K = 25088) and wrong at 1875 (K = 30000).
/// 2048 is 128 steps, at most about 12 800 loop iterations with the narrowest tile: a margin of
/// five. Other drivers have no such limit; there the extra dispatches cost one read-modify-write
/// of the output per 2048 of the reduction.
pub(crate) const REDUCTION_CHUNK: usize = 2048;

/// The slices `[begin, end)` of a reduction of length `k` for the split-K dispatches, each at
/// most [`REDUCTION_CHUNK`] long, in order; one empty slice when `k` is 0 (the kernel still has
/// to write the output: zeros, or the epilogue of zero).
pub(crate) fn reduction_chunks(k: usize) -> impl Iterator<Item = (usize, usize)> {
    let count = k.div_ceil(REDUCTION_CHUNK).max(1);
    (0..count).map(move |i| (i * REDUCTION_CHUNK, ((i + 1) * REDUCTION_CHUNK).min(k)))
}

pub(super) fn uniform_layouts(v: &mut Vec<(&'static str, usize)>) {
    v.push((shaders::GEMM.name, std::mem::size_of::<GemmParams>()));
    v.push((shaders::LINEAR_ROWS.name, std::mem::size_of::<LinearRowsParams>()));
}

/// Mirrors `Params` in `shaders/linear_rows.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct LinearRowsParams {
    rows: u32,
    outs: u32,
    in4: u32,
    has_bias: u32,
}

/// The longest input (in features) linear_rows reduces in one loop: a quarter of it in vec4
/// steps stays far under llvmpipe's 65535 loop iterations per invocation ([`REDUCTION_CHUNK`]).
const LINEAR_ROWS_MAX_IN: usize = 4 * 16384;

/// Tile shape `(BM, BN)` for an `m x n` output. Thin outputs (few rows, as in a classifier
/// head with a small batch, or few columns) get long, narrow tiles so that fewer invocations
/// compute padding. Every choice stays within 16 KiB of workgroup memory.
///
/// The loop-iteration limit of llvmpipe that once made narrow tiles fail on long reductions is
/// handled where it belongs, by splitting the reduction ([`REDUCTION_CHUNK`]), so narrow tiles
/// are safe at any K (tests/kernels/gemm.rs, `long_reduction`).
fn tile_for(m: usize, n: usize) -> (u32, u32) {
    if m < 16 {
        (4, 128)
    } else if n < 16 {
        (128, 4)
    } else if m < 64 {
        (16, 128)
    } else if n < 64 {
        (128, 16)
    } else {
        (64, 64)
    }
}

/// Computes `activation(alpha * op(a) @ op(b) + beta * c)`.
///
/// `a` is `[M, K]` (`[K, M]` with `trans_a`), `b` is `[K, N]` (`[N, K]` with `trans_b`), and
/// `c`, when given, is unidirectionally broadcastable to `[M, N]`: `[]`, `[1]`, `[N]`, `[1, N]`,
/// `[M, 1]` or `[M, N]`. Output `[M, N]`.
pub fn gemm(rec: &mut Recorder, a: &Tensor, b: &Tensor, c: Option<&Tensor>, cfg: &Gemm) -> Result<Tensor> {
    let op = "gemm";
    a.expect_dtype(op, DType::F32)?;
    b.expect_dtype(op, DType::F32)?;
    let (m, k, n) = cfg.mkn(a.dims(), b.dims())?;
    let (c_sm, c_sn) = match c {
        Some(c) => {
            c.expect_dtype(op, DType::F32)?;
            c_strides(c.dims(), m, n)?
        }
        None => (0, 0),
    };
    let y = rec.alloc([m, n], DType::F32)?;
    let u = |what, v| to_u32(op, what, v);
    u("M*N", m * n)?;
    u("M*K", m * k)?;
    u("K*N", k * n)?;
    let (act, act_a, act_b) = cfg.activation.code();
    let mut params = GemmParams {
        m: u("M", m)?,
        n: u("N", n)?,
        k: u("K", k)?,
        trans_a: cfg.trans_a as u32,
        trans_b: cfg.trans_b as u32,
        has_c: c.is_some() as u32,
        c_sm: u("C stride", c_sm)?,
        c_sn: u("C stride", c_sn)?,
        alpha: cfg.alpha,
        beta: cfg.beta,
        act,
        act_a,
        act_b,
        k_begin: 0,
        k_end: 0,
        accumulate: 0,
        epilogue: 0,
        _pad: [0; 3],
    };
    let (bm, bn) = tile_for(m, n);
    // Unbound bindings are not allowed; a missing C binds A (never read).
    let c_buf = c.unwrap_or(a);
    let groups = [u("workgroups", n.div_ceil(bn as usize))?, u("workgroups", m.div_ceil(bm as usize))?, 1];
    // Split-K (see REDUCTION_CHUNK): the last slice applies alpha, C and the activation.
    for (begin, end) in reduction_chunks(k) {
        params.k_begin = begin as u32;
        params.k_end = end as u32;
        params.accumulate = (begin > 0) as u32;
        params.epilogue = (end == k) as u32;
        rec.dispatch(
            &shaders::GEMM,
            "gemm",
            &[("BM", bm as f64), ("BN", bn as f64), super::act_override(params.act)],
            &params,
            &[a, b, c_buf, &y],
            groups,
        )?;
    }
    Ok(y)
}

/// PyTorch's `nn.Linear`: `x` `[B, in]`, `weight` `[out, in]`, optional `bias` `[out]`
/// gives `x @ weight^T + bias`, `[B, out]`. A gemm with `trans_b`; on CPU adapters, when the
/// batch fills less than one of the GEMM's 64-row tiles, `shaders/linear_rows.wgsl` where `in`
/// is a multiple of 4 (a row per invocation, no padding: the classifiers of ResNet-18/50 and
/// MobileNetV2 at batch 1 4-5x faster on lavapipe than the 1x1 conv below;
/// benches/RESULTS.md), else a 1x1 convolution of `[B, in, 1, 1]` (the same memory), whose
/// pointwise kernel gathers far fewer values per FMA than the GEMM there (MobileNetV2's
/// classifier at batch 1: 3.5x faster).
pub fn linear(rec: &mut Recorder, x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let op = "linear";
    let (&[_, cin], &[cout, win]) = (x.dims(), weight.dims()) else {
        return Err(Error::shape(
            op,
            format!("input {} must be [B, in] and weight {} [out, in]", x.shape(), weight.shape()),
        ));
    };
    if cin != win {
        return Err(Error::shape(
            op,
            format!("input {} has {cin} features, weight {} takes {win}", x.shape(), weight.shape()),
        ));
    }
    if let Some(b) = bias {
        if b.dims() != [cout] {
            return Err(Error::shape(op, format!("bias {} must be [{cout}]", b.shape())));
        }
    }
    let b = x.dims()[0];
    let f32s = x.dtype() == DType::F32 && weight.dtype() == DType::F32;
    if rec.gpu().is_cpu() && b < 64 && f32s && cin % 4 == 0 && cin <= LINEAR_ROWS_MAX_IN && cout > 0 {
        if let Some(bias) = bias {
            bias.expect_dtype(op, DType::F32)?;
        }
        let y = rec.alloc([b, cout], DType::F32)?;
        let p = LinearRowsParams {
            rows: b as u32,
            outs: to_u32(op, "out", cout)?,
            in4: (cin / 4) as u32,
            has_bias: bias.is_some() as u32,
        };
        let invocations = b * cout.div_ceil(4);
        if invocations > 0 {
            // A missing bias binds the weights (never read).
            let tensors = [x, weight, bias.unwrap_or(weight), &y];
            rec.dispatch(
                &shaders::LINEAR_ROWS,
                "linear_rows",
                &[("WG", 8.0)],
                &p,
                &tensors,
                grid_1d(invocations as u64, 8),
            )?;
        }
        return Ok(y);
    }
    if rec.gpu().is_cpu() && b < 64 {
        let (x4, w4) = (x.reshape([b, cin, 1, 1])?, weight.reshape([cout, cin, 1, 1])?);
        let y = super::conv2d_with(rec, &x4, &w4, bias, &super::Conv2d::default(), super::ConvKernel::Direct)?;
        return y.reshape([b, cout]);
    }
    gemm(rec, x, weight, bias, &Gemm { trans_b: true, ..Default::default() })
}

/// The gradients of [`gemm`] `Y = alpha * op(A) @ op(B) + beta * C` from the output gradient
/// `dy` `[M, N]`: `(dA, dB, dC)` shaped like `a`, `b` and `C` (`c_shape`, when the forward pass
/// had a `C`). With `G = alpha * dy`:
/// `d op(A) = G @ op(B)^T` and `d op(B) = op(A)^T @ G`, stored transposed back where `trans_a`
/// (`trans_b`) is set; `dC = beta * dy` summed over the dimensions `C` was broadcast along.
/// Each product is one call of the tiled [`gemm`] kernel with the right transpose flags (no
/// copies); `dC` is a [`reduce_sum_to_shape`](super::reduce_sum_to_shape).
///
/// `cfg.activation` must be [`Activation::None`]: the gradient through a fused activation needs
/// the pre-activation output, so apply [`activation_backward`](super::activation_backward) to
/// `dy` first and pass a config without it.
pub fn gemm_backward(
    rec: &mut Recorder,
    dy: &Tensor,
    a: &Tensor,
    b: &Tensor,
    c_shape: Option<&[usize]>,
    cfg: &Gemm,
) -> Result<(Tensor, Tensor, Option<Tensor>)> {
    let op = "gemm_backward";
    if cfg.activation != Activation::None {
        return Err(Error::arg(
            op,
            format!(
                "fused activation {} is not supported; run activation_backward on the gradient and pass activation None",
                cfg.activation.name()
            ),
        ));
    }
    dy.expect_dtype(op, DType::F32)?;
    a.expect_dtype(op, DType::F32)?;
    b.expect_dtype(op, DType::F32)?;
    let (m, _k, n) = cfg.mkn(a.dims(), b.dims())?;
    if dy.dims() != [m, n] {
        return Err(Error::shape(op, format!("gradient {} must be the output shape [{m}, {n}]", dy.shape())));
    }
    if let Some(c) = c_shape {
        c_strides(c, m, n)?;
    }
    let scaled =
        |trans_a, trans_b| Gemm { trans_a, trans_b, alpha: cfg.alpha, beta: 0.0, activation: Activation::None };
    // dA: [M, K] = G @ op(B)^T, or stored [K, M] = op(B) @ G^T.
    let da = if cfg.trans_a {
        gemm(rec, b, dy, None, &scaled(cfg.trans_b, true))?
    } else {
        gemm(rec, dy, b, None, &scaled(false, !cfg.trans_b))?
    };
    // dB: [K, N] = op(A)^T @ G, or stored [N, K] = G^T @ op(A).
    let db = if cfg.trans_b {
        gemm(rec, dy, a, None, &scaled(true, cfg.trans_a))?
    } else {
        gemm(rec, a, dy, None, &scaled(!cfg.trans_a, false))?
    };
    let dc = match c_shape {
        Some(c) => Some(super::binary::reduce_sum_to_shape_scaled(rec, op, dy, c, cfg.beta)?),
        None => None,
    };
    Ok((da, db, dc))
}

/// The gradients of [`linear`] (`y = x @ weight^T + bias`) from the output gradient `dy`
/// `[B, out]`: `dx = dy @ weight` `[B, in]`, and when `weight_grads` is set also
/// `(dweight, dbias)` with `dweight = dy^T @ x` `[out, in]` and `dbias` `[out]` the sum of `dy`
/// over the batch. Grad-CAM needs only `dx`; training-style checks need all three.
pub fn linear_backward(
    rec: &mut Recorder,
    dy: &Tensor,
    x: &Tensor,
    weight: &Tensor,
    weight_grads: bool,
) -> Result<(Tensor, Option<(Tensor, Tensor)>)> {
    let op = "linear_backward";
    let (&[bx, cin], &[cout, win]) = (x.dims(), weight.dims()) else {
        return Err(Error::shape(
            op,
            format!("input {} must be [B, in] and weight {} [out, in]", x.shape(), weight.shape()),
        ));
    };
    if cin != win {
        return Err(Error::shape(
            op,
            format!("input {} has {cin} features, weight {} takes {win}", x.shape(), weight.shape()),
        ));
    }
    if dy.dims() != [bx, cout] {
        return Err(Error::shape(op, format!("gradient {} must be the output shape [{bx}, {cout}]", dy.shape())));
    }
    dy.expect_dtype(op, DType::F32)?;
    x.expect_dtype(op, DType::F32)?;
    weight.expect_dtype(op, DType::F32)?;
    let dx = gemm(rec, dy, weight, None, &Gemm::default())?;
    let grads = if weight_grads {
        let dw = gemm(rec, dy, x, None, &Gemm { trans_a: true, ..Default::default() })?;
        let db = super::binary::reduce_sum_to_shape_scaled(rec, op, dy, &[cout], 1.0)?;
        Some((dw, db))
    } else {
        None
    };
    Ok((dx, grads))
}

/// FLOPs of one gemm (2 per multiply-add), for benchmarks and `inspect`.
pub fn gemm_flops(m: usize, k: usize, n: usize) -> u64 {
    2 * (m * k * n) as u64
}

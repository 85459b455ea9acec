// The `Params` block of conv2d_direct and conv2d_depthwise (DirectParams in src/ops/conv2d.rs):
// the convolution's geometry, the split-K slice, the epilogue, the weight strides (so one kernel
// also computes input gradients) and where output pixels go (a strided output for one phase of
// a strided input gradient).
struct Params {
    n: u32, cin: u32, h: u32, w: u32,
    cout: u32, oh: u32, ow: u32, groups: u32,
    kh: u32, kw: u32, stride_h: u32, stride_w: u32,
    pad_top: u32, pad_left: u32, dil_h: u32, dil_w: u32,
    cin_g: u32, cout_g: u32, c_begin: u32, c_end: u32,
    has_bias: u32, act: u32, act_a: f32, act_b: f32,
    accumulate: u32, epilogue: u32, p_len: u32, has_residual: u32,
    w_base: i32, w_group: i32, w_out: i32, w_in: i32,
    w_ky: i32, w_kx: i32, out_h: u32, out_w: u32,
    out_sy: u32, out_sx: u32, out_ry: u32, out_rx: u32,
}

// RESIDUAL and ACCUMULATE fix `has_residual` and `accumulate` when the pipeline is made (0 or
// 1; the host passes both for its store-bound kernels, the 1x1 GEMM and depthwise ones:
// `direct_overrides` in src/ops/conv2d.rs); FLAG_FROM_PARAMS leaves them to the block at run
// time. Why: as for ACT (shaders/lib/activation.wgsl), llvmpipe runs code under an `if` with
// the lanes masked off rather than skipping it, so the per-lane loops of the y and res loads
// that a store may take ran at every store; with both fixed, MobileNetV2's 16->96 1x1 took
// a fifth less time (benches/RESULTS.md). Other kernels keep one pipeline for both cases.
const FLAG_FROM_PARAMS: u32 = 255u;
override RESIDUAL: u32 = FLAG_FROM_PARAMS;
override ACCUMULATE: u32 = FLAG_FROM_PARAMS;

// Whether the epilogue adds the residual `res`.
fn adds_residual() -> bool {
    return select(p.has_residual, RESIDUAL, RESIDUAL != FLAG_FROM_PARAMS) != 0u;
}

// Whether a store adds to what y holds (a split-K slice after the first).
fn accumulates() -> bool {
    return select(p.accumulate, ACCUMULATE, ACCUMULATE != FLAG_FROM_PARAMS) != 0u;
}

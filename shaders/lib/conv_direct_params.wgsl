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

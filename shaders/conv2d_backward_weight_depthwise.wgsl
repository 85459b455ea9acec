// conv2d_backward_weight_depthwise: the weight gradient of a conv with one input channel per
// group (depthwise, any channel multiplier) and at most 9 taps, for CPU adapters:
//   dw[oc, 0, ky, kx] = sum over batch items b and output pixels (oy, ox) of
//                       dy[b, oc, oy, ox] * x[b, g, oy * stride + ky * dil - pad, ...]
// with g = oc / (C_out / groups) the one input channel of output channel oc. One invocation
// per output channel (the lanes of a workgroup are 8 channels) keeps its taps' sums in 9
// named registers (llvmpipe keeps arrays indexed in loops in memory), so per output pixel one
// dy load and one x load per tap feed one FMA each. The kernels for dense convs block 16
// output channels by 16 columns per invocation: here one of each would be real.
//
// Split-K in parallel, as conv2d_backward_weight_direct (same Params): the N * H_out output
// rows in chunks of `rows_per_chunk`; chunk c runs in workgroups z = c and writes slice c of
// `dw` (C_out * KH * KW values), which the host sums with reduce_chunks when there is more
// than one.

// `Params` is shaders/lib/conv_weight_params.wgsl.

override WG: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;

// x at tap t of the window whose corner is (iy, ix) in the plane at `base`; 0 in the padding
// and for taps past the kernel's (t is a constant at every call, so that test is uniform).
fn tap(t: u32, base: u32, iy: i32, ix: i32) -> f32 {
    if (t >= p.kh * p.kw) {
        return 0.0;
    }
    let yy = iy + i32((t / p.kw) * p.dil_h);
    let xx = ix + i32((t % p.kw) * p.dil_w);
    if (yy < 0 || yy >= i32(p.h) || xx < 0 || xx >= i32(p.w)) {
        return 0.0;
    }
    return x[base + u32(yy) * p.w + u32(xx)];
}

// Stores tap t's sum of output channel oc into slice `out0`.
fn store(out0: u32, oc: u32, t: u32, v: f32) {
    if (t < p.kh * p.kw) {
        dw[out0 + oc * p.kh * p.kw + t] = v;
    }
}

// Workgroups: x over blocks of WG output channels, z over chunks.
@compute @workgroup_size(WG)
fn conv2d_backward_weight_depthwise(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let oc = gid.x;
    if (oc >= p.cout) {
        return;
    }
    let g = oc / p.cout_g;
    let chunk = wid.z;
    let row_begin = p.row_begin + chunk * p.rows_per_chunk;
    let row_end = min(row_begin + p.rows_per_chunk, p.row_end);
    var a0 = 0.0;
    var a1 = 0.0;
    var a2 = 0.0;
    var a3 = 0.0;
    var a4 = 0.0;
    var a5 = 0.0;
    var a6 = 0.0;
    var a7 = 0.0;
    var a8 = 0.0;
    for (var r = row_begin; r < row_end; r++) {
        let b = r / p.oh;
        let oy = r % p.oh;
        let xb = (b * p.cin + g) * p.h * p.w;
        let db = ((b * p.cout + oc) * p.oh + oy) * p.ow;
        let iy = i32(oy * p.stride_h) - i32(p.pad_top);
        for (var ox = 0u; ox < p.ow; ox++) {
            let ix = i32(ox * p.stride_w) - i32(p.pad_left);
            let d = dy[db + ox];
            a0 = fma(d, tap(0u, xb, iy, ix), a0);
            a1 = fma(d, tap(1u, xb, iy, ix), a1);
            a2 = fma(d, tap(2u, xb, iy, ix), a2);
            a3 = fma(d, tap(3u, xb, iy, ix), a3);
            a4 = fma(d, tap(4u, xb, iy, ix), a4);
            a5 = fma(d, tap(5u, xb, iy, ix), a5);
            a6 = fma(d, tap(6u, xb, iy, ix), a6);
            a7 = fma(d, tap(7u, xb, iy, ix), a7);
            a8 = fma(d, tap(8u, xb, iy, ix), a8);
        }
    }
    let out0 = chunk * p.cout * p.kh * p.kw;
    store(out0, oc, 0u, a0);
    store(out0, oc, 1u, a1);
    store(out0, oc, 2u, a2);
    store(out0, oc, 3u, a3);
    store(out0, oc, 4u, a4);
    store(out0, oc, 5u, a5);
    store(out0, oc, 6u, a6);
    store(out0, oc, 7u, a7);
    store(out0, oc, 8u, a8);
}

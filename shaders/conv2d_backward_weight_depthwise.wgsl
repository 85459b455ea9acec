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

// Tap t's offset (ky * dil_h, kx * dil_w) in the window, and whether the kernel has tap t. Taken
// once per invocation: the division by kw is a loop over the SIMD lanes on llvmpipe, and the
// compiler cannot hoist it out of the pixel loop (kw might be 0 for all it knows).
fn tap_offset(t: u32) -> vec3<i32> {
    return vec3<i32>(i32((t / p.kw) * p.dil_h), i32((t % p.kw) * p.dil_w), i32(t < p.kh * p.kw));
}

// x at the tap at offset `o` (from tap_offset) of the window whose corner is (iy, ix) in the
// plane at `base`; 0 in the padding and for taps past the kernel's.
fn tap(o: vec3<i32>, base: u32, iy: i32, ix: i32) -> f32 {
    let yy = iy + o.x;
    let xx = ix + o.y;
    let inside = o.z != 0 && yy >= 0 && yy < i32(p.h) && xx >= 0 && xx < i32(p.w);
    let v = x[base + u32(clamp(yy, 0, i32(p.h) - 1)) * p.w + u32(clamp(xx, 0, i32(p.w) - 1))];
    return select(0.0, v, inside);
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
    let o0 = tap_offset(0u);
    let o1 = tap_offset(1u);
    let o2 = tap_offset(2u);
    let o3 = tap_offset(3u);
    let o4 = tap_offset(4u);
    let o5 = tap_offset(5u);
    let o6 = tap_offset(6u);
    let o7 = tap_offset(7u);
    let o8 = tap_offset(8u);
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
            a0 = fma(d, tap(o0, xb, iy, ix), a0);
            a1 = fma(d, tap(o1, xb, iy, ix), a1);
            a2 = fma(d, tap(o2, xb, iy, ix), a2);
            a3 = fma(d, tap(o3, xb, iy, ix), a3);
            a4 = fma(d, tap(o4, xb, iy, ix), a4);
            a5 = fma(d, tap(o5, xb, iy, ix), a5);
            a6 = fma(d, tap(o6, xb, iy, ix), a6);
            a7 = fma(d, tap(o7, xb, iy, ix), a7);
            a8 = fma(d, tap(o8, xb, iy, ix), a8);
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

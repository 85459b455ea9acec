// conv2d_depthwise: a depthwise convolution (one input channel per group, C_in/groups == 1,
// any channel multiplier C_out/groups) without workgroup memory, for CPU adapters (see
// conv2d_direct.wgsl for why loads are what counts there).
//
// Each invocation computes 8 consecutive output pixels of one output plane (batch item b,
// output channel oc, reading input channel oc / (C_out/groups)): per tap 8 gathered input
// values and one weight feed 8 FMAs. conv2d_direct's 16 x 16 block would spend 15 of every 16
// rows on clamped channels here, and the tiled kernel most of its tile.
//
// Same `Params` block as conv2d_direct (shaders/lib/conv_direct_params.wgsl; the split-K
// fields are unused): `p_len` is the number of output planes N * C_out. The
// epilogue adds the bias and the residual `res` (with `has_residual`) and applies the
// activation. The weights are read through the strides, tap (ky, kx) of output channel oc at
// w_base + (oc / cout_g) * w_group + (oc % cout_g) * w_out + ky * w_ky + kx * w_kx, so that
// with flipped strides the same kernel computes the input gradient of a depthwise conv (a
// depthwise conv of dy with the flipped taps; at larger strides one per phase, written to a
// strided output as conv2d_direct does; src/ops/conv2d.rs).
//
// Storage: x, the weights and res are arrays of `Store`, y of `Out`: f32 here, f16 in the f16
// variant (Shader::with_storage). Sums are f32; bias stays f32.

alias Store = f32;
alias Out = Store;

const TN: u32 = 8u; // pixels per invocation: 8 in src/ops/conv2d.rs too
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<Store>;
@group(0) @binding(2) var<storage, read> wt: array<Store>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<Out>;
@group(0) @binding(5) var<storage, read> res: array<Store>;

// Where the taps of output channel `oc` start (tap (0, 0)), through the weight strides.
fn first_tap(oc: u32) -> i32 {
    return p.w_base + i32(oc / p.cout_g) * p.w_group + i32(oc % p.cout_g) * p.w_out;
}

// Window corners of pixels q0 .. q0 + 3 of a plane (past the plane's end: the last pixel;
// never stored).
fn corners(q0: u32) -> array<vec4<i32>, 2> {
    let last = p.oh * p.ow - 1u;
    let q = min(vec4<u32>(q0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last));
    let iy = vec4<i32>((q / p.ow) * p.stride_h) - vec4<i32>(i32(p.pad_top));
    let ix = vec4<i32>((q % p.ow) * p.stride_w) - vec4<i32>(i32(p.pad_left));
    return array<vec4<i32>, 2>(iy, ix);
}

// Adds the bias and the residual, applies the activation and stores 4 pixels from `at`
// (`left` of them inside the plane).
fn store4(at: u32, left: u32, bv: f32, v: vec4<f32>) {
    for (var j = 0u; j < min(left, 4u); j++) {
        store1(at + j, v[j] + bv);
    }
}

// store4 for one phase of a strided input gradient: pixel (u, v) of this dispatch's oh x ow
// plane goes to row out_ry + out_sy * u, column out_rx + out_sx * v of an out_h x out_w plane.
fn store4_phase(plane: u32, q: u32, left: u32, bv: f32, v: vec4<f32>) {
    for (var j = 0u; j < min(left, 4u); j++) {
        let qj = q + j;
        store1((plane * p.out_h + p.out_ry + p.out_sy * (qj / p.ow)) * p.out_w + p.out_rx + p.out_sx * (qj % p.ow), v[j] + bv);
    }
}

// Adds the residual to `r`, applies the activation and stores it at `at`.
fn store1(at: u32, r: f32) {
    var s = r;
    if (adds_residual()) {
        s += f32(res[at]);
    }
    y[at] = Out(activate(s, p.act, p.act_a, p.act_b));
}

// One invocation per 8 pixels of an output plane, numbered flat with the pixel blocks fastest
// over workgroups x (folded into y past 65535). With `phase` (a constant at each entry, so
// each compiles its own store) the pixels go where store4_phase puts them.
fn depthwise(lid: vec3<u32>, wid: vec3<u32>, nwg: vec3<u32>, phase: bool) {
    let ohw = p.oh * p.ow;
    let blocks = (ohw + TN - 1u) / TN;
    let blk = (wid.x + wid.y * nwg.x) * WG + lid.x;
    let plane = blk / blocks;
    if (plane >= p.p_len) {
        return;
    }
    let q0 = (blk % blocks) * TN;
    let b = plane / p.cout;
    let oc = plane % p.cout;
    let base = (b * p.cin + oc / p.cout_g) * p.h * p.w;
    let c0 = corners(q0);
    let c1 = corners(q0 + 4u);
    let w0 = first_tap(oc);
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    for (var ky = 0u; ky < p.kh; ky++) {
        let dy = i32(ky * p.dil_h);
        for (var kx = 0u; kx < p.kw; kx++) {
            let dx = i32(kx * p.dil_w);
            let a = vec4<f32>(f32(wt[u32(w0 + i32(ky) * p.w_ky + i32(kx) * p.w_kx)]));
            acc0 = fma(a, gather4(vec4<u32>(base), c0[0], c0[1], dy, dx), acc0);
            acc1 = fma(a, gather4(vec4<u32>(base), c1[0], c1[1], dy, dx), acc1);
        }
    }
    var bv = 0.0;
    if (p.has_bias != 0u) {
        bv = bias[oc];
    }
    if (phase) {
        store4_phase(plane, q0, ohw - q0, bv, acc0);
        if (q0 + 4u < ohw) {
            store4_phase(plane, q0 + 4u, ohw - q0 - 4u, bv, acc1);
        }
        return;
    }
    let at = plane * ohw + q0;
    store4(at, ohw - q0, bv, acc0);
    if (q0 + 4u < ohw) {
        store4(at + 4u, ohw - q0 - 4u, bv, acc1);
    }
}

@compute @workgroup_size(WG)
fn conv2d_depthwise(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    depthwise(lid, wid, nwg, false);
}

// One phase of a strided input gradient: conv2d_depthwise with its pixels stored strided.
@compute @workgroup_size(WG)
fn conv2d_depthwise_phase(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    depthwise(lid, wid, nwg, true);
}

// The common case of 3-wide taps at column stride 1 and dilation 1 (MobileNet's stride-1
// depthwise layers): each invocation computes 8 consecutive pixels of one output row, loading
// the 10 input values under them (as 12) once per kernel row instead of 8 per tap (36 gathers
// for 72 FMAs on a 3x3 kernel, not 72). Any row stride, row dilation and kernel height.
@compute @workgroup_size(WG)
fn conv2d_depthwise_rows3(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let row_blocks = (p.ow + TN - 1u) / TN;
    let blk = (wid.x + wid.y * nwg.x) * WG + lid.x;
    let row = blk / row_blocks; // over N * C_out * H_out
    if (row >= p.p_len * p.oh) {
        return;
    }
    let plane = row / p.oh;
    let oy = row % p.oh;
    let ox0 = (blk % row_blocks) * TN;
    let b = plane / p.cout;
    let oc = plane % p.cout;
    let base = (b * p.cin + oc / p.cout_g) * p.h * p.w;
    let ix0 = i32(ox0) - i32(p.pad_left);
    let w0 = first_tap(oc);
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    for (var ky = 0u; ky < p.kh; ky++) {
        let iy = i32(oy * p.stride_h + ky * p.dil_h) - i32(p.pad_top);
        if (iy < 0 || iy >= i32(p.h)) {
            continue;
        }
        let r = base + u32(iy) * p.w;
        // Input columns ix0 .. ix0 + 9, 0 outside the row.
        let a = load4(r, ix0);
        let c = load4(r, ix0 + 4);
        let e = load4(r, ix0 + 8);
        let wr = w0 + i32(ky) * p.w_ky;
        let k0 = vec4<f32>(f32(wt[u32(wr)]));
        let k1 = vec4<f32>(f32(wt[u32(wr + p.w_kx)]));
        let k2 = vec4<f32>(f32(wt[u32(wr + 2 * p.w_kx)]));
        acc0 = fma(k0, a, acc0);
        acc0 = fma(k1, vec4<f32>(a.yzw, c.x), acc0);
        acc0 = fma(k2, vec4<f32>(a.zw, c.xy), acc0);
        acc1 = fma(k0, c, acc1);
        acc1 = fma(k1, vec4<f32>(c.yzw, e.x), acc1);
        acc1 = fma(k2, vec4<f32>(c.zw, e.xy), acc1);
    }
    var bv = 0.0;
    if (p.has_bias != 0u) {
        bv = bias[oc];
    }
    let at = (plane * p.oh + oy) * p.ow + ox0;
    store4(at, p.ow - ox0, bv, acc0);
    if (ox0 + 4u < p.ow) {
        store4(at + 4u, p.ow - ox0 - 4u, bv, acc1);
    }
}

// Input columns ix .. ix + 3 of the row starting at `r`, 0 outside the row.
fn load4(r: u32, ix: i32) -> vec4<f32> {
    let xs = vec4<i32>(ix) + vec4<i32>(0, 1, 2, 3);
    let ok = (xs >= vec4<i32>(0)) & (xs < vec4<i32>(i32(p.w)));
    let at = vec4<u32>(r) + vec4<u32>(clamp(xs, vec4<i32>(0), vec4<i32>(i32(p.w) - 1)));
    let v = vec4<f32>(f32(x[at.x]), f32(x[at.y]), f32(x[at.z]), f32(x[at.w]));
    return select(vec4<f32>(0.0), v, ok);
}

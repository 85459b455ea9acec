// max_pool2d_rows: max_pool2d's form for 3x3 windows at stride 2 and dilation 1 with one
// column of padding on the left (ResNet's pool after the stem), on planes whose rows are whole
// vec4s (W and W_out multiples of 4), for CPU adapters (Mesa's llvmpipe / lavapipe).
//
// max_pool2d.wgsl makes one output per invocation from 9 scalar loads in a loop with bounds
// checks; on llvmpipe every such load is a loop over the SIMD lanes. Here one invocation
// makes 8 consecutive outputs of a row: each of its 3 input rows is read once as 5 vec4s
// (columns 2 ox0 - 4 .. 2 ox0 + 15) and the taps' even and odd columns taken apart, 15 vec4
// loads for 8 outputs where max_pool2d makes 72 scalar ones.
//
// Same results as max_pool2d, ties included: the taps are visited in row-major window order,
// a later tap wins only if strictly greater, taps outside the input count as -inf, and the
// index starts at the first tap inside the input. Same `Params`; idx is iy * W + ix within
// the input plane. Tensors are stored as `Store` (f32, or f16 in the f16 variant).

alias Store = f32;

// `Params` is shaders/lib/max_pool_params.wgsl.

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<Store>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<Store>>;
@group(0) @binding(3) var<storage, read_write> idx: array<vec4<u32>>;

// Vec4 `q` of the input row starting at vec4 `row`, clamped to the row (`wq` vec4s long);
// columns outside it are masked by the caller.
fn load(row: u32, q: i32, wq: u32) -> vec4<f32> {
    return vec4<f32>(x[row + u32(clamp(q, 0, i32(wq) - 1))]);
}

// The running maximum and its index over 4 output columns.
struct Best {
    v: vec4<f32>,
    at: vec4<u32>,
}

// Takes tap values `v` at input columns `cols` of input row `iy` (inside: iy is in the plane)
// where they are inside the input and strictly greater than the maximum so far.
fn take(b: Best, v: vec4<f32>, iy: i32, cols: vec4<i32>, inside: bool) -> Best {
    let ok = vec4<bool>(inside) & (cols >= vec4<i32>(0)) & (cols < vec4<i32>(i32(p.w)));
    let gt = ok & (v > b.v);
    return Best(select(b.v, v, gt), select(b.at, vec4<u32>(vec4<i32>(iy * i32(p.w)) + cols), gt));
}

// One invocation per 8 outputs of a row, numbered flat with the column blocks fastest, then
// the rows, then the planes (folded into y past 65535 workgroups).
@compute @workgroup_size(WG)
fn max_pool2d_rows(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let col_blocks = (p.ow + 7u) / 8u;
    let blk = (wid.x + wid.y * nwg.x) * WG + lid.x;
    let plane = blk / (col_blocks * p.oh);
    if (plane * p.oh * p.ow >= p.len) {
        return;
    }
    let oy = (blk / col_blocks) % p.oh;
    let q = (blk % col_blocks) * 2u; // output vec4 of column ox0 = 8 * (blk % col_blocks)
    let q0 = i32(q * 2u); // input vec4 of column 2 ox0
    let wq = p.w / 4u;

    // Tap kx of output column ox0 + j is input column 2 ox0 + 2j - 1 + kx.
    let c0 = i32(q * 8u) - 1; // 2 ox0 - 1
    let lo = vec4<i32>(c0) + vec4<i32>(0, 2, 4, 6);
    let hi = lo + vec4<i32>(8);
    // The first tap inside the input (the index a window of -inf keeps).
    let iy0 = i32(oy * 2u) - i32(p.pad_top);
    let first_row = u32(max(iy0, 0)) * p.w;
    let neg_inf = vec4<f32>(bitcast<f32>(0xff800000u));
    var b_lo = Best(neg_inf, vec4<u32>(first_row) + vec4<u32>(max(lo, vec4<i32>(0))));
    var b_hi = Best(neg_inf, vec4<u32>(first_row) + vec4<u32>(max(hi, vec4<i32>(0))));
    for (var ky = 0; ky < 3; ky++) {
        let iy = iy0 + ky;
        let inside = iy >= 0 && iy < i32(p.h);
        let row = (plane * p.h + u32(clamp(iy, 0, i32(p.h) - 1))) * wq;
        // Columns 2 ox0 - 4 .. 2 ox0 + 15.
        let l = load(row, q0 - 1, wq);
        let a = load(row, q0, wq);
        let b = load(row, q0 + 1, wq);
        let c = load(row, q0 + 2, wq);
        let d = load(row, q0 + 3, wq);
        b_lo = take(b_lo, vec4<f32>(l.w, a.y, a.w, b.y), iy, lo, inside);
        b_hi = take(b_hi, vec4<f32>(b.w, c.y, c.w, d.y), iy, hi, inside);
        b_lo = take(b_lo, vec4<f32>(a.x, a.z, b.x, b.z), iy, lo + vec4<i32>(1), inside);
        b_hi = take(b_hi, vec4<f32>(c.x, c.z, d.x, d.z), iy, hi + vec4<i32>(1), inside);
        b_lo = take(b_lo, vec4<f32>(a.y, a.w, b.y, b.w), iy, lo + vec4<i32>(2), inside);
        b_hi = take(b_hi, vec4<f32>(c.y, c.w, d.y, d.w), iy, hi + vec4<i32>(2), inside);
    }
    let owq = p.ow / 4u;
    let at = (plane * p.oh + oy) * owq + q;
    y[at] = vec4<Store>(b_lo.v);
    idx[at] = b_lo.at;
    if (q + 1u < owq) {
        y[at + 1u] = vec4<Store>(b_hi.v);
        idx[at + 1u] = b_hi.at;
    }
}

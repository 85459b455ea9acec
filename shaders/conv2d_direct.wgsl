// conv2d_direct: 2-D convolution as a register-blocked GEMM without workgroup memory, for
// adapters that run invocations as the SIMD lanes of a CPU (Mesa's llvmpipe / lavapipe).
//
// There, every load from a per-invocation address inside a loop is a gather (one scalar load
// per lane), staging tiles in workgroup memory costs a store and a load more per value plus
// the barriers, and arithmetic is cheap: speed is set by FMAs per load (`featuremap bench
// --ceiling` measures it). Each invocation here computes a TM x TN block (TM output channels
// by TN output pixels) straight from the buffers: per reduction step TM weight loads and TN
// input loads feed TM * TN FMAs. All index arithmetic in the loop is additions; the pixel
// coordinates are decoded once per invocation. The block is written out as named scalars and
// vec4s rather than arrays indexed in loops: llvmpipe keeps such arrays in memory and turns
// every access into a per-lane gather or scatter, which made an 8 x 8 block no faster than a
// 4 x 4 one.
//
// The weights are addressed through strides, so the same kernel computes conv2d's input
// gradient for stride 1 (a convolution of dy with the flipped, transposed weights):
// w(g, r, c, ky, kx) = w_base + g * w_group + r * w_out + c * w_in + ky * w_ky + kx * w_kx for
// output channel r and input channel c of group g (i32: the flipped strides are negative).
//
// Split-K: a dispatch reduces input channels [c_begin, c_end); `accumulate` adds to y, and
// `epilogue` (the last slice) adds the bias and applies the activation.

struct Params {
    n: u32, cin: u32, h: u32, w: u32,
    cout: u32, oh: u32, ow: u32, groups: u32,
    kh: u32, kw: u32, stride_h: u32, stride_w: u32,
    pad_top: u32, pad_left: u32, dil_h: u32, dil_w: u32,
    cin_g: u32, cout_g: u32, c_begin: u32, c_end: u32,
    has_bias: u32, act: u32, act_a: f32, act_b: f32,
    accumulate: u32, epilogue: u32, p_len: u32, _pad0: u32,
    w_base: i32, w_group: i32, w_out: i32, w_in: i32,
    w_ky: i32, w_kx: i32, _pad1: u32, _pad2: u32,
}

const TM: u32 = 32u;
const TN: u32 = 8u;
override WG: u32 = 64u;
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// The input value under tap offset (dy, dx) for 4 pixels (x offsets, window corners), 0 where
// the tap falls in the padding.
fn gather4(off: vec4<u32>, iy0: vec4<i32>, ix0: vec4<i32>, xc: u32, dy: i32, dx: i32) -> vec4<f32> {
    let iy = iy0 + vec4<i32>(dy);
    let ix = ix0 + vec4<i32>(dx);
    let ok = (iy >= vec4<i32>(0)) & (iy < vec4<i32>(i32(p.h))) & (ix >= vec4<i32>(0)) & (ix < vec4<i32>(i32(p.w)));
    let hi = vec4<i32>(i32(p.h) - 1, i32(p.h) - 1, i32(p.h) - 1, i32(p.h) - 1);
    let wi = vec4<i32>(i32(p.w) - 1, i32(p.w) - 1, i32(p.w) - 1, i32(p.w) - 1);
    let at = off + vec4<u32>(xc) + vec4<u32>(clamp(iy, vec4<i32>(0), hi)) * p.w + vec4<u32>(clamp(ix, vec4<i32>(0), wi));
    let v = vec4<f32>(x[at.x], x[at.y], x[at.z], x[at.w]);
    return select(vec4<f32>(0.0), v, ok);
}

// One pixel's x offset and window corner; pixels past the end repeat the last one (their
// results are never stored).
fn pixel(pix0: u32, j: u32, g: u32) -> vec3<i32> {
    let ohw = p.oh * p.ow;
    let pix = min(pix0 + j, p.p_len - 1u);
    let b = pix / ohw;
    let q = pix % ohw;
    let off = (b * p.cin + g * p.cin_g) * p.h * p.w;
    return vec3<i32>(i32(off), i32((q / p.ow) * p.stride_h) - i32(p.pad_top), i32((q % p.ow) * p.stride_w) - i32(p.pad_left));
}

// Adds the bias, applies the activation and stores 4 pixels of output channel `co`.
fn store4(co: u32, g: u32, pix: u32, v: vec4<f32>) {
    if (co >= p.cout_g) {
        return;
    }
    let ohw = p.oh * p.ow;
    let oc = g * p.cout_g + co;
    var bv = 0.0;
    if (p.has_bias != 0u && p.epilogue != 0u) {
        bv = bias[oc];
    }
    for (var j = 0u; j < 4u; j++) {
        let q = pix + j;
        if (q >= p.p_len) {
            return;
        }
        let idx = ((q / ohw) * p.cout + oc) * ohw + q % ohw;
        var r = v[j];
        if (p.accumulate != 0u) {
            r = y[idx] + r;
        }
        if (p.epilogue != 0u) {
            r = activate(r + bv, p.act, p.act_a, p.act_b);
        }
        y[idx] = r;
    }
}

// Workgroups: x over blocks of WG * TN output pixels, y over blocks of TM output channels,
// z over groups.
@compute @workgroup_size(WG)
fn conv2d_direct(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let g = wid.z;
    let co0 = wid.y * TM;
    let pix0 = (wid.x * WG + lid.x) * TN;
    let q0_0 = pixel(pix0, 0u, g);
    let q0_1 = pixel(pix0, 1u, g);
    let q0_2 = pixel(pix0, 2u, g);
    let q0_3 = pixel(pix0, 3u, g);
    let off0 = vec4<u32>(u32(q0_0.x), u32(q0_1.x), u32(q0_2.x), u32(q0_3.x));
    let iy0 = vec4<i32>(q0_0.y, q0_1.y, q0_2.y, q0_3.y);
    let ix0 = vec4<i32>(q0_0.z, q0_1.z, q0_2.z, q0_3.z);
    let q1_0 = pixel(pix0, 4u, g);
    let q1_1 = pixel(pix0, 5u, g);
    let q1_2 = pixel(pix0, 6u, g);
    let q1_3 = pixel(pix0, 7u, g);
    let off1 = vec4<u32>(u32(q1_0.x), u32(q1_1.x), u32(q1_2.x), u32(q1_3.x));
    let iy1 = vec4<i32>(q1_0.y, q1_1.y, q1_2.y, q1_3.y);
    let ix1 = vec4<i32>(q1_0.z, q1_1.z, q1_2.z, q1_3.z);
    // Weight offsets of the TM output channels (rows past C_out/groups repeat the last one).
    let wg0 = p.w_base + i32(g) * p.w_group;
    let wo0 = wg0 + i32(min(co0 + 0u, p.cout_g - 1u)) * p.w_out;
    let wo1 = wg0 + i32(min(co0 + 1u, p.cout_g - 1u)) * p.w_out;
    let wo2 = wg0 + i32(min(co0 + 2u, p.cout_g - 1u)) * p.w_out;
    let wo3 = wg0 + i32(min(co0 + 3u, p.cout_g - 1u)) * p.w_out;
    let wo4 = wg0 + i32(min(co0 + 4u, p.cout_g - 1u)) * p.w_out;
    let wo5 = wg0 + i32(min(co0 + 5u, p.cout_g - 1u)) * p.w_out;
    let wo6 = wg0 + i32(min(co0 + 6u, p.cout_g - 1u)) * p.w_out;
    let wo7 = wg0 + i32(min(co0 + 7u, p.cout_g - 1u)) * p.w_out;
    let wo8 = wg0 + i32(min(co0 + 8u, p.cout_g - 1u)) * p.w_out;
    let wo9 = wg0 + i32(min(co0 + 9u, p.cout_g - 1u)) * p.w_out;
    let wo10 = wg0 + i32(min(co0 + 10u, p.cout_g - 1u)) * p.w_out;
    let wo11 = wg0 + i32(min(co0 + 11u, p.cout_g - 1u)) * p.w_out;
    let wo12 = wg0 + i32(min(co0 + 12u, p.cout_g - 1u)) * p.w_out;
    let wo13 = wg0 + i32(min(co0 + 13u, p.cout_g - 1u)) * p.w_out;
    let wo14 = wg0 + i32(min(co0 + 14u, p.cout_g - 1u)) * p.w_out;
    let wo15 = wg0 + i32(min(co0 + 15u, p.cout_g - 1u)) * p.w_out;
    let wo16 = wg0 + i32(min(co0 + 16u, p.cout_g - 1u)) * p.w_out;
    let wo17 = wg0 + i32(min(co0 + 17u, p.cout_g - 1u)) * p.w_out;
    let wo18 = wg0 + i32(min(co0 + 18u, p.cout_g - 1u)) * p.w_out;
    let wo19 = wg0 + i32(min(co0 + 19u, p.cout_g - 1u)) * p.w_out;
    let wo20 = wg0 + i32(min(co0 + 20u, p.cout_g - 1u)) * p.w_out;
    let wo21 = wg0 + i32(min(co0 + 21u, p.cout_g - 1u)) * p.w_out;
    let wo22 = wg0 + i32(min(co0 + 22u, p.cout_g - 1u)) * p.w_out;
    let wo23 = wg0 + i32(min(co0 + 23u, p.cout_g - 1u)) * p.w_out;
    let wo24 = wg0 + i32(min(co0 + 24u, p.cout_g - 1u)) * p.w_out;
    let wo25 = wg0 + i32(min(co0 + 25u, p.cout_g - 1u)) * p.w_out;
    let wo26 = wg0 + i32(min(co0 + 26u, p.cout_g - 1u)) * p.w_out;
    let wo27 = wg0 + i32(min(co0 + 27u, p.cout_g - 1u)) * p.w_out;
    let wo28 = wg0 + i32(min(co0 + 28u, p.cout_g - 1u)) * p.w_out;
    let wo29 = wg0 + i32(min(co0 + 29u, p.cout_g - 1u)) * p.w_out;
    let wo30 = wg0 + i32(min(co0 + 30u, p.cout_g - 1u)) * p.w_out;
    let wo31 = wg0 + i32(min(co0 + 31u, p.cout_g - 1u)) * p.w_out;
    var acc0_0 = vec4<f32>(0.0);
    var acc0_1 = vec4<f32>(0.0);
    var acc1_0 = vec4<f32>(0.0);
    var acc1_1 = vec4<f32>(0.0);
    var acc2_0 = vec4<f32>(0.0);
    var acc2_1 = vec4<f32>(0.0);
    var acc3_0 = vec4<f32>(0.0);
    var acc3_1 = vec4<f32>(0.0);
    var acc4_0 = vec4<f32>(0.0);
    var acc4_1 = vec4<f32>(0.0);
    var acc5_0 = vec4<f32>(0.0);
    var acc5_1 = vec4<f32>(0.0);
    var acc6_0 = vec4<f32>(0.0);
    var acc6_1 = vec4<f32>(0.0);
    var acc7_0 = vec4<f32>(0.0);
    var acc7_1 = vec4<f32>(0.0);
    var acc8_0 = vec4<f32>(0.0);
    var acc8_1 = vec4<f32>(0.0);
    var acc9_0 = vec4<f32>(0.0);
    var acc9_1 = vec4<f32>(0.0);
    var acc10_0 = vec4<f32>(0.0);
    var acc10_1 = vec4<f32>(0.0);
    var acc11_0 = vec4<f32>(0.0);
    var acc11_1 = vec4<f32>(0.0);
    var acc12_0 = vec4<f32>(0.0);
    var acc12_1 = vec4<f32>(0.0);
    var acc13_0 = vec4<f32>(0.0);
    var acc13_1 = vec4<f32>(0.0);
    var acc14_0 = vec4<f32>(0.0);
    var acc14_1 = vec4<f32>(0.0);
    var acc15_0 = vec4<f32>(0.0);
    var acc15_1 = vec4<f32>(0.0);
    var acc16_0 = vec4<f32>(0.0);
    var acc16_1 = vec4<f32>(0.0);
    var acc17_0 = vec4<f32>(0.0);
    var acc17_1 = vec4<f32>(0.0);
    var acc18_0 = vec4<f32>(0.0);
    var acc18_1 = vec4<f32>(0.0);
    var acc19_0 = vec4<f32>(0.0);
    var acc19_1 = vec4<f32>(0.0);
    var acc20_0 = vec4<f32>(0.0);
    var acc20_1 = vec4<f32>(0.0);
    var acc21_0 = vec4<f32>(0.0);
    var acc21_1 = vec4<f32>(0.0);
    var acc22_0 = vec4<f32>(0.0);
    var acc22_1 = vec4<f32>(0.0);
    var acc23_0 = vec4<f32>(0.0);
    var acc23_1 = vec4<f32>(0.0);
    var acc24_0 = vec4<f32>(0.0);
    var acc24_1 = vec4<f32>(0.0);
    var acc25_0 = vec4<f32>(0.0);
    var acc25_1 = vec4<f32>(0.0);
    var acc26_0 = vec4<f32>(0.0);
    var acc26_1 = vec4<f32>(0.0);
    var acc27_0 = vec4<f32>(0.0);
    var acc27_1 = vec4<f32>(0.0);
    var acc28_0 = vec4<f32>(0.0);
    var acc28_1 = vec4<f32>(0.0);
    var acc29_0 = vec4<f32>(0.0);
    var acc29_1 = vec4<f32>(0.0);
    var acc30_0 = vec4<f32>(0.0);
    var acc30_1 = vec4<f32>(0.0);
    var acc31_0 = vec4<f32>(0.0);
    var acc31_1 = vec4<f32>(0.0);

    let hw = p.h * p.w;
    for (var c = p.c_begin; c < p.c_end; c++) {
        let xc = c * hw;
        let wc = i32(c) * p.w_in;
        for (var ky = 0u; ky < p.kh; ky++) {
            let dy = i32(ky * p.dil_h);
            let wy = wc + i32(ky) * p.w_ky;
            for (var kx = 0u; kx < p.kw; kx++) {
                let dx = i32(kx * p.dil_w);
                let wk = wy + i32(kx) * p.w_kx;
                let b0 = gather4(off0, iy0, ix0, xc, dy, dx);
                let b1 = gather4(off1, iy1, ix1, xc, dy, dx);
                let a0 = vec4<f32>(wt[u32(wo0 + wk)]);
                acc0_0 = fma(a0, b0, acc0_0);
                acc0_1 = fma(a0, b1, acc0_1);
                let a1 = vec4<f32>(wt[u32(wo1 + wk)]);
                acc1_0 = fma(a1, b0, acc1_0);
                acc1_1 = fma(a1, b1, acc1_1);
                let a2 = vec4<f32>(wt[u32(wo2 + wk)]);
                acc2_0 = fma(a2, b0, acc2_0);
                acc2_1 = fma(a2, b1, acc2_1);
                let a3 = vec4<f32>(wt[u32(wo3 + wk)]);
                acc3_0 = fma(a3, b0, acc3_0);
                acc3_1 = fma(a3, b1, acc3_1);
                let a4 = vec4<f32>(wt[u32(wo4 + wk)]);
                acc4_0 = fma(a4, b0, acc4_0);
                acc4_1 = fma(a4, b1, acc4_1);
                let a5 = vec4<f32>(wt[u32(wo5 + wk)]);
                acc5_0 = fma(a5, b0, acc5_0);
                acc5_1 = fma(a5, b1, acc5_1);
                let a6 = vec4<f32>(wt[u32(wo6 + wk)]);
                acc6_0 = fma(a6, b0, acc6_0);
                acc6_1 = fma(a6, b1, acc6_1);
                let a7 = vec4<f32>(wt[u32(wo7 + wk)]);
                acc7_0 = fma(a7, b0, acc7_0);
                acc7_1 = fma(a7, b1, acc7_1);
                let a8 = vec4<f32>(wt[u32(wo8 + wk)]);
                acc8_0 = fma(a8, b0, acc8_0);
                acc8_1 = fma(a8, b1, acc8_1);
                let a9 = vec4<f32>(wt[u32(wo9 + wk)]);
                acc9_0 = fma(a9, b0, acc9_0);
                acc9_1 = fma(a9, b1, acc9_1);
                let a10 = vec4<f32>(wt[u32(wo10 + wk)]);
                acc10_0 = fma(a10, b0, acc10_0);
                acc10_1 = fma(a10, b1, acc10_1);
                let a11 = vec4<f32>(wt[u32(wo11 + wk)]);
                acc11_0 = fma(a11, b0, acc11_0);
                acc11_1 = fma(a11, b1, acc11_1);
                let a12 = vec4<f32>(wt[u32(wo12 + wk)]);
                acc12_0 = fma(a12, b0, acc12_0);
                acc12_1 = fma(a12, b1, acc12_1);
                let a13 = vec4<f32>(wt[u32(wo13 + wk)]);
                acc13_0 = fma(a13, b0, acc13_0);
                acc13_1 = fma(a13, b1, acc13_1);
                let a14 = vec4<f32>(wt[u32(wo14 + wk)]);
                acc14_0 = fma(a14, b0, acc14_0);
                acc14_1 = fma(a14, b1, acc14_1);
                let a15 = vec4<f32>(wt[u32(wo15 + wk)]);
                acc15_0 = fma(a15, b0, acc15_0);
                acc15_1 = fma(a15, b1, acc15_1);
                let a16 = vec4<f32>(wt[u32(wo16 + wk)]);
                acc16_0 = fma(a16, b0, acc16_0);
                acc16_1 = fma(a16, b1, acc16_1);
                let a17 = vec4<f32>(wt[u32(wo17 + wk)]);
                acc17_0 = fma(a17, b0, acc17_0);
                acc17_1 = fma(a17, b1, acc17_1);
                let a18 = vec4<f32>(wt[u32(wo18 + wk)]);
                acc18_0 = fma(a18, b0, acc18_0);
                acc18_1 = fma(a18, b1, acc18_1);
                let a19 = vec4<f32>(wt[u32(wo19 + wk)]);
                acc19_0 = fma(a19, b0, acc19_0);
                acc19_1 = fma(a19, b1, acc19_1);
                let a20 = vec4<f32>(wt[u32(wo20 + wk)]);
                acc20_0 = fma(a20, b0, acc20_0);
                acc20_1 = fma(a20, b1, acc20_1);
                let a21 = vec4<f32>(wt[u32(wo21 + wk)]);
                acc21_0 = fma(a21, b0, acc21_0);
                acc21_1 = fma(a21, b1, acc21_1);
                let a22 = vec4<f32>(wt[u32(wo22 + wk)]);
                acc22_0 = fma(a22, b0, acc22_0);
                acc22_1 = fma(a22, b1, acc22_1);
                let a23 = vec4<f32>(wt[u32(wo23 + wk)]);
                acc23_0 = fma(a23, b0, acc23_0);
                acc23_1 = fma(a23, b1, acc23_1);
                let a24 = vec4<f32>(wt[u32(wo24 + wk)]);
                acc24_0 = fma(a24, b0, acc24_0);
                acc24_1 = fma(a24, b1, acc24_1);
                let a25 = vec4<f32>(wt[u32(wo25 + wk)]);
                acc25_0 = fma(a25, b0, acc25_0);
                acc25_1 = fma(a25, b1, acc25_1);
                let a26 = vec4<f32>(wt[u32(wo26 + wk)]);
                acc26_0 = fma(a26, b0, acc26_0);
                acc26_1 = fma(a26, b1, acc26_1);
                let a27 = vec4<f32>(wt[u32(wo27 + wk)]);
                acc27_0 = fma(a27, b0, acc27_0);
                acc27_1 = fma(a27, b1, acc27_1);
                let a28 = vec4<f32>(wt[u32(wo28 + wk)]);
                acc28_0 = fma(a28, b0, acc28_0);
                acc28_1 = fma(a28, b1, acc28_1);
                let a29 = vec4<f32>(wt[u32(wo29 + wk)]);
                acc29_0 = fma(a29, b0, acc29_0);
                acc29_1 = fma(a29, b1, acc29_1);
                let a30 = vec4<f32>(wt[u32(wo30 + wk)]);
                acc30_0 = fma(a30, b0, acc30_0);
                acc30_1 = fma(a30, b1, acc30_1);
                let a31 = vec4<f32>(wt[u32(wo31 + wk)]);
                acc31_0 = fma(a31, b0, acc31_0);
                acc31_1 = fma(a31, b1, acc31_1);
            }
        }
    }

    store4(co0 + 0u, g, pix0 + 0u, acc0_0);
    store4(co0 + 0u, g, pix0 + 4u, acc0_1);
    store4(co0 + 1u, g, pix0 + 0u, acc1_0);
    store4(co0 + 1u, g, pix0 + 4u, acc1_1);
    store4(co0 + 2u, g, pix0 + 0u, acc2_0);
    store4(co0 + 2u, g, pix0 + 4u, acc2_1);
    store4(co0 + 3u, g, pix0 + 0u, acc3_0);
    store4(co0 + 3u, g, pix0 + 4u, acc3_1);
    store4(co0 + 4u, g, pix0 + 0u, acc4_0);
    store4(co0 + 4u, g, pix0 + 4u, acc4_1);
    store4(co0 + 5u, g, pix0 + 0u, acc5_0);
    store4(co0 + 5u, g, pix0 + 4u, acc5_1);
    store4(co0 + 6u, g, pix0 + 0u, acc6_0);
    store4(co0 + 6u, g, pix0 + 4u, acc6_1);
    store4(co0 + 7u, g, pix0 + 0u, acc7_0);
    store4(co0 + 7u, g, pix0 + 4u, acc7_1);
    store4(co0 + 8u, g, pix0 + 0u, acc8_0);
    store4(co0 + 8u, g, pix0 + 4u, acc8_1);
    store4(co0 + 9u, g, pix0 + 0u, acc9_0);
    store4(co0 + 9u, g, pix0 + 4u, acc9_1);
    store4(co0 + 10u, g, pix0 + 0u, acc10_0);
    store4(co0 + 10u, g, pix0 + 4u, acc10_1);
    store4(co0 + 11u, g, pix0 + 0u, acc11_0);
    store4(co0 + 11u, g, pix0 + 4u, acc11_1);
    store4(co0 + 12u, g, pix0 + 0u, acc12_0);
    store4(co0 + 12u, g, pix0 + 4u, acc12_1);
    store4(co0 + 13u, g, pix0 + 0u, acc13_0);
    store4(co0 + 13u, g, pix0 + 4u, acc13_1);
    store4(co0 + 14u, g, pix0 + 0u, acc14_0);
    store4(co0 + 14u, g, pix0 + 4u, acc14_1);
    store4(co0 + 15u, g, pix0 + 0u, acc15_0);
    store4(co0 + 15u, g, pix0 + 4u, acc15_1);
    store4(co0 + 16u, g, pix0 + 0u, acc16_0);
    store4(co0 + 16u, g, pix0 + 4u, acc16_1);
    store4(co0 + 17u, g, pix0 + 0u, acc17_0);
    store4(co0 + 17u, g, pix0 + 4u, acc17_1);
    store4(co0 + 18u, g, pix0 + 0u, acc18_0);
    store4(co0 + 18u, g, pix0 + 4u, acc18_1);
    store4(co0 + 19u, g, pix0 + 0u, acc19_0);
    store4(co0 + 19u, g, pix0 + 4u, acc19_1);
    store4(co0 + 20u, g, pix0 + 0u, acc20_0);
    store4(co0 + 20u, g, pix0 + 4u, acc20_1);
    store4(co0 + 21u, g, pix0 + 0u, acc21_0);
    store4(co0 + 21u, g, pix0 + 4u, acc21_1);
    store4(co0 + 22u, g, pix0 + 0u, acc22_0);
    store4(co0 + 22u, g, pix0 + 4u, acc22_1);
    store4(co0 + 23u, g, pix0 + 0u, acc23_0);
    store4(co0 + 23u, g, pix0 + 4u, acc23_1);
    store4(co0 + 24u, g, pix0 + 0u, acc24_0);
    store4(co0 + 24u, g, pix0 + 4u, acc24_1);
    store4(co0 + 25u, g, pix0 + 0u, acc25_0);
    store4(co0 + 25u, g, pix0 + 4u, acc25_1);
    store4(co0 + 26u, g, pix0 + 0u, acc26_0);
    store4(co0 + 26u, g, pix0 + 4u, acc26_1);
    store4(co0 + 27u, g, pix0 + 0u, acc27_0);
    store4(co0 + 27u, g, pix0 + 4u, acc27_1);
    store4(co0 + 28u, g, pix0 + 0u, acc28_0);
    store4(co0 + 28u, g, pix0 + 4u, acc28_1);
    store4(co0 + 29u, g, pix0 + 0u, acc29_0);
    store4(co0 + 29u, g, pix0 + 4u, acc29_1);
    store4(co0 + 30u, g, pix0 + 0u, acc30_0);
    store4(co0 + 30u, g, pix0 + 4u, acc30_1);
    store4(co0 + 31u, g, pix0 + 0u, acc31_0);
    store4(co0 + 31u, g, pix0 + 4u, acc31_1);
}

// conv2d: 2-D convolution as an implicit GEMM, one group per workgroup z.
//
// For group g:  y[co, p] = sum_k w[co, k] * patch[k, p]
//   co: output channel within the group (GEMM rows, M = cout_g)
//   p:  output pixel over the batch, p = (n * OH + oy) * OW + ox (GEMM columns, N = batch*OH*OW)
//   k:  (ci, ky, kx) within the group's input channels (reduction, K = cin_g*KH*KW)
// Each workgroup computes a BM x BN tile of y. Per step of BK it stages a BM x BK slice of the
// weights and a BK x BN slice of the (virtual, never materialised) im2col matrix in workgroup
// memory, so every input value fetched from global memory is used BM times and every weight BN
// times; the stages are double-buffered (see a_tile). Each invocation accumulates a TM x TN
// register block. Bias and the activation are applied in the epilogue (fused, no extra pass).
//
// Split-K: one dispatch reduces only the slice [k_begin, k_end) of k (the host bounds its
// length, see REDUCTION_CHUNK in src/ops/gemm.rs). With `accumulate` set the partial sums are
// added to what an earlier dispatch left in y; with `epilogue` set the bias and the activation
// are applied, else the raw partial sums are stored. A single dispatch over all of k
// (k_begin 0, k_end k_len, accumulate 0, epilogue 1) is the plain kernel.
//
// Residual: with `has_residual` the epilogue also adds `res` (same shape as y) before the
// activation, so a ResNet block's `relu(conv(x) + skip)` is one kernel.
//
// Storage: x, the weights and res are arrays of `Store`, y of `Out`: f32 here; the f16 variant
// (Shader::with_storage) declares Store as f16, and so Out, unless the f32-output variant
// (Shader::with_f32_output) keeps Out f32 for split-K partial sums. Sums are f32 either way;
// bias stays f32.

alias Store = f32;
alias Out = Store;

struct Params {
    n: u32, cin: u32, h: u32, w: u32,
    cout: u32, oh: u32, ow: u32, groups: u32,
    kh: u32, kw: u32, stride_h: u32, stride_w: u32,
    pad_top: u32, pad_left: u32, dil_h: u32, dil_w: u32,
    cin_g: u32, cout_g: u32, k_len: u32, p_len: u32,
    has_bias: u32, act: u32, act_a: f32, act_b: f32,
    k_begin: u32, k_end: u32, accumulate: u32, epilogue: u32,
    has_residual: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

// Tile and register-block shape, set per layer shape at pipeline creation (TileShape in
// src/ops/conv2d.rs lists the shapes and checks what this kernel assumes of them: TM, TN <= 8;
// the (BN/TN) * (BM/TM) invocations a multiple of BN, at most 256, and dividing BK * BN).
// The workgroup is (BN/TN, BM/TM).
override BM: u32 = 64u;
override BN: u32 = 64u;
override TM: u32 = 4u;
override TN: u32 = 4u;
const BK: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<Store>;
@group(0) @binding(2) var<storage, read> wt: array<Store>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<Out>;
@group(0) @binding(5) var<storage, read> res: array<Store>;

// Two stages, k-major so the inner loop reads TM (TN) consecutive values: while the FMAs read
// one stage, the next slice of k is fetched into registers and stored into the other, so
// each step of BK needs one barrier and the global loads overlap the arithmetic.
var<workgroup> a_tile: array<f32, 2u * BM * BK>;
var<workgroup> b_tile: array<f32, 2u * BK * BN>;

// What one invocation fetches per step: weights (A) and input patches (B), at most 8 each.
struct Fetched {
    a: array<f32, 8>,
    b: array<f32, 8>,
}

// The output pixel an invocation gathers input patches for (its column of the B tile, the
// same at every step): where its image starts and the top-left input position of its window.
struct Column {
    valid: bool,
    x_base: u32,
    iy0: i32,
    ix0: i32,
}

fn threads() -> u32 {
    return (BN / TN) * (BM / TM);
}

// Fetches the slice of k starting at k0 from global memory.
fn fetch(tid: u32, k0: u32, m0: u32, w_base: u32, col: Column) -> Fetched {
    var f: Fetched;
    // Weights: consecutive invocations read consecutive k of one output channel.
    for (var r = 0u; r * threads() < BM * BK; r++) {
        let i = tid + r * threads();
        let co = m0 + i / BK;
        let k = k0 + i % BK;
        var v = 0.0;
        if (i < BM * BK && co < p.cout_g && k < p.k_end) {
            v = f32(wt[w_base + co * p.k_len + k]);
        }
        f.a[r] = v;
    }
    // Input patches: consecutive invocations read consecutive output pixels; row kk of the
    // tile is (ci, ky, kx) of k = k0 + kk.
    let khw = p.kh * p.kw;
    for (var r = 0u; r < BK * BN / threads(); r++) {
        let k = k0 + tid / BN + r * (threads() / BN);
        var v = 0.0;
        if (col.valid && k < p.k_end) {
            let ci = k / khw;
            let tap = k % khw;
            let iy = col.iy0 + i32((tap / p.kw) * p.dil_h);
            let ix = col.ix0 + i32((tap % p.kw) * p.dil_w);
            if (iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
                v = f32(x[col.x_base + (ci * p.h + u32(iy)) * p.w + u32(ix)]);
            }
        }
        f.b[r] = v;
    }
    return f;
}

// Stores what `fetch` read into stage `s` of the tiles.
fn stage(tid: u32, s: u32, f: Fetched) {
    for (var r = 0u; r * threads() < BM * BK; r++) {
        let i = tid + r * threads();
        if (i < BM * BK) {
            a_tile[s * BM * BK + (i % BK) * BM + i / BK] = f.a[r];
        }
    }
    for (var r = 0u; r < BK * BN / threads(); r++) {
        let kk = tid / BN + r * (threads() / BN);
        b_tile[s * BK * BN + kk * BN + tid % BN] = f.b[r];
    }
}

@compute @workgroup_size(BN / TN, BM / TM)
fn conv2d(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let g = wid.z;
    let m0 = wid.y * BM;
    let n0 = wid.x * BN;
    let tid = lid.y * (BN / TN) + lid.x;
    let ohw = p.oh * p.ow;
    let w_base = g * p.cout_g * p.k_len;

    // This invocation's column of the B tile, decoded once.
    var col: Column;
    let pix = n0 + tid % BN;
    col.valid = pix < p.p_len;
    if (col.valid) {
        let b = pix / ohw;
        let q = pix % ohw;
        col.x_base = (b * p.cin + g * p.cin_g) * p.h * p.w;
        col.iy0 = i32((q / p.ow) * p.stride_h) - i32(p.pad_top);
        col.ix0 = i32((q % p.ow) * p.stride_w) - i32(p.pad_left);
    }

    var acc: array<f32, 64>; // TM * TN of them
    for (var i = 0u; i < TM * TN; i++) {
        acc[i] = 0.0;
    }

    stage(tid, 0u, fetch(tid, p.k_begin, m0, w_base, col));
    workgroupBarrier();
    var s = 0u;
    for (var k0 = p.k_begin; k0 < p.k_end; k0 += BK) {
        let more = k0 + BK < p.k_end;
        var next: Fetched;
        if (more) {
            next = fetch(tid, k0 + BK, m0, w_base, col);
        }
        let a0 = s * BM * BK + lid.y * TM;
        let b0 = s * BK * BN + lid.x * TN;
        for (var kk = 0u; kk < BK; kk++) {
            var a: array<f32, 8>;
            var bv: array<f32, 8>;
            for (var i = 0u; i < TM; i++) {
                a[i] = a_tile[a0 + kk * BM + i];
            }
            for (var j = 0u; j < TN; j++) {
                bv[j] = b_tile[b0 + kk * BN + j];
            }
            for (var i = 0u; i < TM; i++) {
                for (var j = 0u; j < TN; j++) {
                    acc[i * TN + j] = fma(a[i], bv[j], acc[i * TN + j]);
                }
            }
        }
        // The other stage was last read before the previous barrier: safe to fill now.
        if (more) {
            stage(tid, 1u - s, next);
        }
        workgroupBarrier();
        s = 1u - s;
    }

    for (var i = 0u; i < TM; i++) {
        let co = m0 + lid.y * TM + i;
        if (co >= p.cout_g) {
            continue;
        }
        let oc = g * p.cout_g + co;
        var bv = 0.0;
        if (p.has_bias != 0u) {
            bv = bias[oc];
        }
        for (var j = 0u; j < TN; j++) {
            let pix = n0 + lid.x * TN + j;
            if (pix >= p.p_len) {
                continue;
            }
            let b = pix / ohw;
            let q = pix % ohw;
            let idx = (b * p.cout + oc) * ohw + q;
            var v = acc[i * TN + j];
            if (p.accumulate != 0u) {
                v = f32(y[idx]) + v;
            }
            if (p.epilogue != 0u) {
                // The order of the unfused ops (conv with bias, then add), so that fusing
                // changes no bit of an f32 result (in f16 storage the unfused conv output
                // would be rounded to f16 before the add; fused, it is not).
                v += bv;
                if (p.has_residual != 0u) {
                    v += f32(res[idx]);
                }
                v = activate(v, p.act, p.act_a, p.act_b);
            }
            y[idx] = Out(v);
        }
    }
}

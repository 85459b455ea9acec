// conv2d_backward_weight: gradient of conv2d with respect to its weights, as an implicit GEMM,
// one group per workgroup z; and conv2d_backward_bias, the gradient with respect to the bias.
//
// For group g:  dw[co, k] = sum_p dy[co, p] * patch[k, p]
//   co: output channel within the group (GEMM rows, M = cout_g)
//   k:  (ci, ky, kx) within the group's input channels (GEMM columns, N = cin_g*KH*KW)
//   p:  output pixel over the batch, p = (n * OH + oy) * OW + ox (reduction, K = batch*OH*OW)
// patch[k, p] is the forward's (virtual, never materialised) im2col matrix: the input value
// under tap (ky, kx) of output pixel p, 0 in the padding. Per step of BK output pixels, a
// BM x BK slice of dy and a BK x BN slice of the patches are staged in workgroup memory, and
// each invocation accumulates a TM x TN register block of dw.
//
// Split-K, in parallel: one dispatch covers the output pixels [k_begin, k_end) in chunks of
// `chunk_len` (at most REDUCTION_CHUNK in src/ops/gemm.rs, which keeps every invocation's loop
// short), chunk c in workgroups z = c * groups + g, and writes its partial sums to slice c of
// `dw` (slices of C_out * N values). With one chunk, dw is the gradient itself and
// `accumulate` adds to what is there; with several, the host bound a scratch buffer and
// reduce_chunks sums the slices into the gradient. There is no epilogue.
// conv2d_backward_bias shares Params and ignores these fields.
//
// reduce_chunks: total[i] = (accumulate ? total[i] : 0) + sum over c < k_begin of
// partials[c * k_end + i], for i < k_end (k_begin: chunks, k_end: values per chunk).
//
// db[c] = sum over n, oy, ox of dy[n, c, oy, ox]: one workgroup per channel, each invocation
// sums a strided slice, then a tree reduction in workgroup memory.

struct Params {
    n: u32, cin: u32, h: u32, w: u32,
    cout: u32, oh: u32, ow: u32, groups: u32,
    kh: u32, kw: u32, stride_h: u32, stride_w: u32,
    pad_top: u32, pad_left: u32, dil_h: u32, dil_w: u32,
    cin_g: u32, cout_g: u32, k_len: u32, n_len: u32,
    k_begin: u32, k_end: u32, accumulate: u32, chunk_len: u32,
}

// Tile shape of conv2d_backward_weight, set per layer shape at pipeline creation. The
// workgroup is (BN/TN, BM/TM).
override BM: u32 = 64u;
override BN: u32 = 64u;
const BK: u32 = 16u;
const TM: u32 = 4u;
const TN: u32 = 4u;
// Workgroup size of conv2d_backward_bias; must be a power of two.
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
// conv2d_backward_weight
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
// conv2d_backward_bias
@group(0) @binding(2) var<storage, read_write> db: array<f32>;
// reduce_chunks
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> total: array<f32>;

// Stored reduction-major so the inner loop reads TM (TN) consecutive values.
var<workgroup> a_tile: array<f32, BM * BK>;
var<workgroup> b_tile: array<f32, BK * BN>;
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(BN / TN, BM / TM)
fn conv2d_backward_weight(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let g = wid.z % p.groups;
    let chunk = wid.z / p.groups;
    let k_begin = p.k_begin + chunk * p.chunk_len;
    let k_end = min(k_begin + p.chunk_len, p.k_end);
    let out0 = chunk * p.cout * p.n_len;
    let m0 = wid.y * BM;
    let n0 = wid.x * BN;
    let threads = (BN / TN) * (BM / TM);
    let tid = lid.y * (BN / TN) + lid.x;
    let khw = p.kh * p.kw;
    let ohw = p.oh * p.ow;
    let co0 = g * p.cout_g;
    let ci0 = g * p.cin_g;

    var acc: array<f32, 16>; // TM * TN
    for (var i = 0u; i < TM * TN; i++) {
        acc[i] = 0.0;
    }

    for (var k0 = k_begin; k0 < k_end; k0 += BK) {
        // Output gradients: consecutive invocations read consecutive output pixels of one channel.
        for (var i = tid; i < BM * BK; i += threads) {
            let mm = i / BK;
            let kk = i % BK;
            let co = m0 + mm;
            let pix = k0 + kk;
            var v = 0.0;
            if (co < p.cout_g && pix < k_end) {
                let b = pix / ohw;
                let q = pix % ohw;
                v = dy[(b * p.cout + co0 + co) * ohw + q];
            }
            a_tile[kk * BM + mm] = v;
        }
        // Input patches: consecutive invocations read the same tap of consecutive output pixels.
        for (var i = tid; i < BK * BN; i += threads) {
            let nn = i / BK;
            let kk = i % BK;
            let col = n0 + nn;
            let pix = k0 + kk;
            var v = 0.0;
            if (col < p.n_len && pix < k_end) {
                let ci = col / khw;
                let r = col % khw;
                let ky = r / p.kw;
                let kx = r % p.kw;
                let b = pix / ohw;
                let q = pix % ohw;
                let oy = q / p.ow;
                let ox = q % p.ow;
                let iy = i32(oy * p.stride_h + ky * p.dil_h) - i32(p.pad_top);
                let ix = i32(ox * p.stride_w + kx * p.dil_w) - i32(p.pad_left);
                if (iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
                    v = x[((b * p.cin + ci0 + ci) * p.h + u32(iy)) * p.w + u32(ix)];
                }
            }
            b_tile[kk * BN + nn] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            var a: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < TM; i++) {
                a[i] = a_tile[kk * BM + lid.y * TM + i];
            }
            for (var j = 0u; j < TN; j++) {
                bv[j] = b_tile[kk * BN + lid.x * TN + j];
            }
            for (var i = 0u; i < TM; i++) {
                for (var j = 0u; j < TN; j++) {
                    acc[i * TN + j] = fma(a[i], bv[j], acc[i * TN + j]);
                }
            }
        }
        workgroupBarrier();
    }

    // Weights are [C_out, C_in/groups, KH, KW]: row co0 + co holds the N = cin_g*KH*KW columns.
    for (var i = 0u; i < TM; i++) {
        let co = m0 + lid.y * TM + i;
        if (co >= p.cout_g) {
            continue;
        }
        for (var j = 0u; j < TN; j++) {
            let col = n0 + lid.x * TN + j;
            if (col >= p.n_len) {
                continue;
            }
            let idx = out0 + (co0 + co) * p.n_len + col;
            var v = acc[i * TN + j];
            if (p.accumulate != 0u) {
                v = dw[idx] + v;
            }
            dw[idx] = v;
        }
    }
}

// Channels are folded over workgroups x and y like the 1-D grid of the elementwise kernels.
@compute @workgroup_size(WG)
fn conv2d_backward_bias(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let c = wid.x + wid.y * nwg.x;
    let valid = c < p.cout;
    let ohw = p.oh * p.ow;
    var s = 0.0;
    if (valid) {
        let total = p.n * ohw;
        for (var i = lid.x; i < total; i += WG) {
            let b = i / ohw;
            let q = i % ohw;
            s += dy[(b * p.cout + c) * ohw + q];
        }
    }
    red[lid.x] = s;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (lid.x < step) {
            red[lid.x] = red[lid.x] + red[lid.x + step];
        }
        workgroupBarrier();
    }
    if (valid && lid.x == 0u) {
        db[c] = red[0];
    }
}

@compute @workgroup_size(WG)
fn reduce_chunks(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.k_end) {
        return;
    }
    var s = 0.0;
    if (p.accumulate != 0u) {
        s = total[i];
    }
    for (var c = 0u; c < p.k_begin; c++) {
        s += partials[c * p.k_end + i];
    }
    total[i] = s;
}

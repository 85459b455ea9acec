// conv2d_backward_input: gradient of conv2d with respect to its input, as an implicit GEMM
// over the flipped weights, one group per workgroup z.
//
// For group g:  dx[ci, q] = sum_k wt[k, ci] * dcol[k, q]
//   ci: input channel within the group (GEMM rows, M = cin_g)
//   q:  input pixel over the batch, q = (n * H + iy) * W + ix (GEMM columns, N = batch*H*W)
//   k:  (co, ky, kx) within the group's output channels (reduction, K = cout_g*KH*KW)
// The virtual matrix dcol[k, q] is the output gradient that tap (ky, kx) of output channel co
// carries back to input pixel (iy, ix): dy[n, co, oy, ox] with
//   oy = (iy + pad_top - ky * dil_h) / stride_h,  ox = (ix + pad_left - kx * dil_w) / stride_w
// when both divisions are exact and land inside the output, else 0. It is never materialised.
// The tiling is the forward's: per step of BK, a BM x BK slice of the weights and a BK x BN
// slice of dcol are staged in workgroup memory, and each invocation accumulates a TM x TN
// register block. Every input pixel is written (with 0 where no output reaches it).
//
// Split-K: one dispatch reduces only the slice [k_begin, k_end) of k (the host bounds its
// length, see REDUCTION_CHUNK in src/ops/gemm.rs). The first dispatch stores its partial sums,
// later ones (`accumulate` set) add theirs to what is in dx. There is no epilogue.

struct Params {
    n: u32, cin: u32, h: u32, w: u32,
    cout: u32, oh: u32, ow: u32, groups: u32,
    kh: u32, kw: u32, stride_h: u32, stride_w: u32,
    pad_top: u32, pad_left: u32, dil_h: u32, dil_w: u32,
    cin_g: u32, cout_g: u32, k_len: u32, n_len: u32,
    k_begin: u32, k_end: u32, accumulate: u32, _pad0: u32,
}

// Tile shape, set per layer shape at pipeline creation. The workgroup is (BN/TN, BM/TM).
override BM: u32 = 64u;
override BN: u32 = 64u;
const BK: u32 = 16u;
const TM: u32 = 4u;
const TN: u32 = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// Stored k-major so the inner loop reads TM (TN) consecutive values.
var<workgroup> a_tile: array<f32, BM * BK>;
var<workgroup> b_tile: array<f32, BK * BN>;

@compute @workgroup_size(BN / TN, BM / TM)
fn conv2d_backward_input(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let g = wid.z;
    let m0 = wid.y * BM;
    let n0 = wid.x * BN;
    let threads = (BN / TN) * (BM / TM);
    let tid = lid.y * (BN / TN) + lid.x;
    let khw = p.kh * p.kw;
    let hw = p.h * p.w;
    let co0 = g * p.cout_g;
    let ci0 = g * p.cin_g;

    var acc: array<f32, 16>; // TM * TN
    for (var i = 0u; i < TM * TN; i++) {
        acc[i] = 0.0;
    }

    for (var k0 = p.k_begin; k0 < p.k_end; k0 += BK) {
        // Weights, transposed: A[ci, (co, r)] = wt[co0 + co, ci, r]. Consecutive invocations
        // read consecutive taps of one (co, ci) kernel.
        for (var i = tid; i < BM * BK; i += threads) {
            let mm = i / BK;
            let kk = i % BK;
            let ci = m0 + mm;
            let k = k0 + kk;
            var v = 0.0;
            if (ci < p.cin_g && k < p.k_end) {
                let co = k / khw;
                let r = k % khw;
                v = wt[((co0 + co) * p.cin_g + ci) * khw + r];
            }
            a_tile[kk * BM + mm] = v;
        }
        // Output gradients gathered per input pixel: consecutive invocations take consecutive
        // input pixels.
        for (var i = tid; i < BK * BN; i += threads) {
            let kk = i / BN;
            let nn = i % BN;
            let k = k0 + kk;
            let pix = n0 + nn;
            var v = 0.0;
            if (k < p.k_end && pix < p.n_len) {
                let co = k / khw;
                let r = k % khw;
                let ky = r / p.kw;
                let kx = r % p.kw;
                let b = pix / hw;
                let q = pix % hw;
                let iy = q / p.w;
                let ix = q % p.w;
                let ty = i32(iy + p.pad_top) - i32(ky * p.dil_h);
                let tx = i32(ix + p.pad_left) - i32(kx * p.dil_w);
                if (ty >= 0 && tx >= 0) {
                    let oy = u32(ty) / p.stride_h;
                    let ox = u32(tx) / p.stride_w;
                    if (oy * p.stride_h == u32(ty) && ox * p.stride_w == u32(tx) && oy < p.oh && ox < p.ow) {
                        v = dy[((b * p.cout + co0 + co) * p.oh + oy) * p.ow + ox];
                    }
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

    for (var i = 0u; i < TM; i++) {
        let ci = m0 + lid.y * TM + i;
        if (ci >= p.cin_g) {
            continue;
        }
        for (var j = 0u; j < TN; j++) {
            let pix = n0 + lid.x * TN + j;
            if (pix >= p.n_len) {
                continue;
            }
            let b = pix / hw;
            let q = pix % hw;
            let idx = (b * p.cin + ci0 + ci) * hw + q;
            var v = acc[i * TN + j];
            if (p.accumulate != 0u) {
                v = dx[idx] + v;
            }
            dx[idx] = v;
        }
    }
}

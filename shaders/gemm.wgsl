// gemm: Y = act(alpha * op(A) @ op(B) + beta * C), ONNX Gemm semantics.
//
//   op(A) is [M, K]: A stored [M, K], or [K, M] when trans_a.
//   op(B) is [K, N]: B stored [K, N], or [N, K] when trans_b.
//   C (optional) is broadcast to [M, N] through strides: C(m, n) = c[m * c_sm + n * c_sn], with
//   a stride of 0 on a broadcast dimension.
// Each workgroup computes a BM x BN tile of Y. Per step of BK it stages a BM x BK slice of op(A)
// and a BK x BN slice of op(B) in workgroup memory (loaded so that consecutive invocations read
// consecutive addresses whatever the transposition), so every value fetched from global memory
// is used BN (BM) times. Each invocation accumulates a TM x TN register block. Scaling, C and
// the activation are applied in the epilogue (fused, no extra pass).
//
// Split-K: one dispatch reduces only the slice [k_begin, k_end) of K (the host bounds its
// length, see REDUCTION_CHUNK in src/ops/gemm.rs). With `accumulate` set the partial sums are
// added to what an earlier dispatch left in y; with `epilogue` set the scaling, C and the
// activation are applied, else the raw partial sums are stored. A single dispatch over all of
// K (k_begin 0, k_end K, accumulate 0, epilogue 1) is the plain kernel.

struct Params {
    m: u32, n: u32, k: u32, trans_a: u32,
    trans_b: u32, has_c: u32, c_sm: u32, c_sn: u32,
    alpha: f32, beta: f32, act: u32, act_a: f32,
    act_b: f32, k_begin: u32, k_end: u32, accumulate: u32,
    epilogue: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

// Tile shape, set per problem shape at pipeline creation. The workgroup is (BN/TN, BM/TM).
override BM: u32 = 64u;
override BN: u32 = 64u;
const BK: u32 = 16u;
const TM: u32 = 4u;
const TN: u32 = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// Stored k-major so the inner loop reads TM (TN) consecutive values.
var<workgroup> a_tile: array<f32, BM * BK>;
var<workgroup> b_tile: array<f32, BK * BN>;

@compute @workgroup_size(BN / TN, BM / TM)
fn gemm(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let m0 = wid.y * BM;
    let n0 = wid.x * BN;
    let threads = (BN / TN) * (BM / TM);
    let tid = lid.y * (BN / TN) + lid.x;

    var acc: array<f32, 16>; // TM * TN
    for (var i = 0u; i < TM * TN; i++) {
        acc[i] = 0.0;
    }

    for (var k0 = p.k_begin; k0 < p.k_end; k0 += BK) {
        // op(A) slice: A stored [M, K] is read along k, A stored [K, M] along m.
        for (var i = tid; i < BM * BK; i += threads) {
            var mm: u32;
            var kk: u32;
            if (p.trans_a == 0u) {
                mm = i / BK;
                kk = i % BK;
            } else {
                mm = i % BM;
                kk = i / BM;
            }
            let row = m0 + mm;
            let kx = k0 + kk;
            var v = 0.0;
            if (row < p.m && kx < p.k_end) {
                if (p.trans_a == 0u) {
                    v = a[row * p.k + kx];
                } else {
                    v = a[kx * p.m + row];
                }
            }
            a_tile[kk * BM + mm] = v;
        }
        // op(B) slice: B stored [K, N] is read along n, B stored [N, K] along k.
        for (var i = tid; i < BK * BN; i += threads) {
            var nn: u32;
            var kk: u32;
            if (p.trans_b == 0u) {
                kk = i / BN;
                nn = i % BN;
            } else {
                nn = i / BK;
                kk = i % BK;
            }
            let col = n0 + nn;
            let kx = k0 + kk;
            var v = 0.0;
            if (col < p.n && kx < p.k_end) {
                if (p.trans_b == 0u) {
                    v = b[kx * p.n + col];
                } else {
                    v = b[col * p.k + kx];
                }
            }
            b_tile[kk * BN + nn] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < TM; i++) {
                av[i] = a_tile[kk * BM + lid.y * TM + i];
            }
            for (var j = 0u; j < TN; j++) {
                bv[j] = b_tile[kk * BN + lid.x * TN + j];
            }
            for (var i = 0u; i < TM; i++) {
                for (var j = 0u; j < TN; j++) {
                    acc[i * TN + j] = fma(av[i], bv[j], acc[i * TN + j]);
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < TM; i++) {
        let row = m0 + lid.y * TM + i;
        if (row >= p.m) {
            continue;
        }
        for (var j = 0u; j < TN; j++) {
            let col = n0 + lid.x * TN + j;
            if (col >= p.n) {
                continue;
            }
            let idx = row * p.n + col;
            var v = acc[i * TN + j];
            if (p.accumulate != 0u) {
                v = y[idx] + v;
            }
            if (p.epilogue != 0u) {
                v = p.alpha * v;
                if (p.has_c != 0u) {
                    v = fma(p.beta, c[row * p.c_sm + col * p.c_sn], v);
                }
                v = activate(v, p.act, p.act_a, p.act_b);
            }
            y[idx] = v;
        }
    }
}

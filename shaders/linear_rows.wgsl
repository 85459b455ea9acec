// linear_rows: PyTorch's nn.Linear for a few rows on CPU adapters,
//   y[r, o] = x[r, :] . w[o, :] + bias[o]   (x [rows, in], w [out, in], in a multiple of 4),
// read as vec4s along `in`. One invocation per row and 4 outputs (the lanes of a workgroup run
// over outputs): per 4 input features one vec4 of x and 4 of the weights feed 16 FMAs in 4
// independent chains. The GEMM kernels' blocks (64 rows of a batch, or the 1x1 conv's 16
// pixels) are mostly padding for a classifier head at batch 1; here every FMA is real and each
// weight is read once per row: the head is bound by reading its weights.
// The host keeps in / 4 under llvmpipe's limit on loop iterations.

struct Params {
    rows: u32,
    outs: u32,
    in4: u32,
    has_bias: u32,
}

override WG: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// Stores output o of row r (outputs past the last are computed from its weights, not stored).
fn store(r: u32, o: u32, v: vec4<f32>) {
    if (o < p.outs) {
        var s = v.x + v.y + v.z + v.w;
        if (p.has_bias != 0u) {
            s += bias[o];
        }
        y[r * p.outs + o] = s;
    }
}

// Invocations numbered flat (folded into y past 65535 workgroups) over rows x quads of outputs.
@compute @workgroup_size(WG)
fn linear_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    let quads = (p.outs + 3u) / 4u;
    if (i >= p.rows * quads) {
        return;
    }
    let r = i / quads;
    let o = (i % quads) * 4u;
    let xr = r * p.in4;
    let w0 = min(o, p.outs - 1u) * p.in4;
    let w1 = min(o + 1u, p.outs - 1u) * p.in4;
    let w2 = min(o + 2u, p.outs - 1u) * p.in4;
    let w3 = min(o + 3u, p.outs - 1u) * p.in4;
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    for (var t = 0u; t < p.in4; t++) {
        let xv = x[xr + t];
        a0 = fma(xv, w[w0 + t], a0);
        a1 = fma(xv, w[w1 + t], a1);
        a2 = fma(xv, w[w2 + t], a2);
        a3 = fma(xv, w[w3 + t], a3);
    }
    store(r, o, a0);
    store(r, o + 1u, a1);
    store(r, o + 2u, a2);
    store(r, o + 3u, a3);
}

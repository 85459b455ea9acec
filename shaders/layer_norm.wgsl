// layer_norm: ONNX LayerNormalization. x is viewed as [rows, len], a row being the `len`
// contiguous values of the normalised axes:
//   y = (x - mean) / sqrt(var + eps) * scale + bias
// with the row's mean and biased variance (two passes: the mean, then the mean squared
// deviation from it, so no cancellation). scale and bias have `len` values, shared by every
// row.
//
// Each row is reduced by TPR cooperating invocations (a power of two, set per shape at
// pipeline creation): one workgroup per row (TPR = WG) for long rows, several rows per
// workgroup for short ones. Each invocation strides over its row, then the TPR partial sums
// are combined by a tree reduction in workgroup memory.

struct Params {
    rows: u32,
    len: u32,
    has_bias: u32,
    eps: f32,
}

override WG: u32 = 256u;
override TPR: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>; // scale again when has_bias == 0
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<f32, WG>;

// Sums the TPR values of the invocations sharing a row and returns the sum to all of them.
// Called in uniform control flow by every invocation.
fn sum_row(tid: u32, lane: u32, v: f32) -> f32 {
    red[tid] = v;
    workgroupBarrier();
    for (var s = TPR / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            red[tid] += red[tid + s];
        }
        workgroupBarrier();
    }
    let r = red[tid - lane];
    workgroupBarrier(); // everyone has read before `red` is reused
    return r;
}

@compute @workgroup_size(WG)
fn layer_norm(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + tid / TPR;
    let lane = tid % TPR;
    // Invocations past the last row still take part in the barriers, with an empty loop.
    var len = 0u;
    if (row < p.rows) {
        len = p.len;
    }
    let base = row * p.len;

    var s = 0.0;
    for (var j = lane; j < len; j += TPR) {
        s += x[base + j];
    }
    let mean = sum_row(tid, lane, s) / f32(p.len);

    var q = 0.0;
    for (var j = lane; j < len; j += TPR) {
        let d = x[base + j] - mean;
        q += d * d;
    }
    let inv = 1.0 / sqrt(sum_row(tid, lane, q) / f32(p.len) + p.eps);

    for (var j = lane; j < len; j += TPR) {
        var v = (x[base + j] - mean) * inv * scale[j];
        if (p.has_bias != 0u) {
            v += bias[j];
        }
        y[base + j] = v;
    }
}

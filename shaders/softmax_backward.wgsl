// Gradients of softmax / log_softmax along one axis, the tensor viewed as [outer, len, inner]
// (rows as in softmax.wgsl: the `len` values at (o * len + j) * inner + i for one (o, i)).
//   softmax_backward:     y = softmax(x):     dx = y * (dy - sum_j dy_j y_j)
//   log_softmax_backward: y = log_softmax(x): dx = dy - exp(y) * sum_j dy_j
// Each row is reduced by TPR cooperating invocations (a power of two set per shape at pipeline
// creation, WG / TPR rows per workgroup): each strides over its row, then a tree reduction in
// workgroup memory combines the TPR partial sums.

struct Params {
    rows: u32,
    len: u32,
    inner: u32,
    _pad: u32,
}

override WG: u32 = 256u;
override TPR: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

var<workgroup> red: array<f32, WG>;

// Sums the TPR values of the invocations sharing a row and returns the sum to all of them.
// Called in uniform control flow by every invocation.
fn row_sum(tid: u32, lane: u32, v: f32) -> f32 {
    red[tid] = v;
    workgroupBarrier();
    for (var s = TPR / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            red[tid] = red[tid] + red[tid + s];
        }
        workgroupBarrier();
    }
    return red[tid - lane];
}

fn backward_rows(tid: u32, group: u32, log_out: bool) {
    let row = group * (WG / TPR) + tid / TPR;
    let lane = tid % TPR;
    // Invocations past the last row still take part in the barriers, with an empty loop.
    var len = 0u;
    if (row < p.rows) {
        len = p.len;
    }
    let base = (row / p.inner) * p.len * p.inner + row % p.inner;
    let step = p.inner;

    var s = 0.0;
    if (log_out) {
        for (var j = lane; j < len; j += TPR) {
            s += dy[base + j * step];
        }
    } else {
        for (var j = lane; j < len; j += TPR) {
            s += dy[base + j * step] * y[base + j * step];
        }
    }
    s = row_sum(tid, lane, s);

    if (log_out) {
        for (var j = lane; j < len; j += TPR) {
            let k = base + j * step;
            dx[k] = dy[k] - exp(y[k]) * s;
        }
    } else {
        for (var j = lane; j < len; j += TPR) {
            let k = base + j * step;
            dx[k] = y[k] * (dy[k] - s);
        }
    }
}

@compute @workgroup_size(WG)
fn softmax_backward(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    backward_rows(tid, wid.x + wid.y * nwg.x, false);
}

@compute @workgroup_size(WG)
fn log_softmax_backward(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    backward_rows(tid, wid.x + wid.y * nwg.x, true);
}

// softmax / log_softmax along one axis, the tensor viewed as [outer, len, inner].
//
// A row is the `len` values x[(o * len + j) * inner + i] for one (o, i); rows = outer * inner.
// Each row is reduced by TPR cooperating invocations (a power of two, set per shape at
// pipeline creation): TPR = 1 is one invocation per row for short axes (consecutive
// invocations then read consecutive addresses when inner > 1), TPR = WG is one workgroup per
// row for long axes such as 1000 classes. A workgroup holds WG / TPR rows. Each invocation
// strides over its row, then the TPR partial results are combined by a tree reduction in
// workgroup memory. Numerically stable: the row maximum is subtracted before exp, so no
// intermediate overflows.
//   softmax:     y = exp(x - max) / sum(exp(x - max))
//   log_softmax: y = x - max - log(sum(exp(x - max)))

struct Params {
    rows: u32,
    len: u32,
    inner: u32,
    _pad: u32,
}

override WG: u32 = 256u;
override TPR: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<f32, WG>;

const LOWEST: f32 = -3.40282347e38;

// Combines the TPR values of the invocations sharing a row (max when `take_max`, else sum) and
// returns the result to all of them. Called in uniform control flow by every invocation.
fn reduce_row(tid: u32, lane: u32, v: f32, take_max: bool) -> f32 {
    red[tid] = v;
    workgroupBarrier();
    for (var s = TPR / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            let o = red[tid + s];
            red[tid] = select(red[tid] + o, max(red[tid], o), take_max);
        }
        workgroupBarrier();
    }
    let r = red[tid - lane];
    workgroupBarrier(); // everyone has read before `red` is reused
    return r;
}

fn softmax_rows(tid: u32, group: u32, log_out: bool) {
    let row = group * (WG / TPR) + tid / TPR;
    let lane = tid % TPR;
    // Invocations past the last row still take part in the barriers, with an empty loop.
    var len = 0u;
    if (row < p.rows) {
        len = p.len;
    }
    let base = (row / p.inner) * p.len * p.inner + row % p.inner;
    let step = p.inner;

    var m = LOWEST;
    for (var j = lane; j < len; j += TPR) {
        m = max(m, x[base + j * step]);
    }
    m = reduce_row(tid, lane, m, true);

    var s = 0.0;
    for (var j = lane; j < len; j += TPR) {
        s += exp(x[base + j * step] - m);
    }
    s = reduce_row(tid, lane, s, false);

    if (log_out) {
        let shift = m + log(s);
        for (var j = lane; j < len; j += TPR) {
            y[base + j * step] = x[base + j * step] - shift;
        }
    } else {
        for (var j = lane; j < len; j += TPR) {
            y[base + j * step] = exp(x[base + j * step] - m) / s;
        }
    }
}

@compute @workgroup_size(WG)
fn softmax(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    softmax_rows(tid, wid.x + wid.y * nwg.x, false);
}

@compute @workgroup_size(WG)
fn log_softmax(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    softmax_rows(tid, wid.x + wid.y * nwg.x, true);
}

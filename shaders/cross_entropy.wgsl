// Mean softmax cross-entropy of logits [N, K] against integer labels [N].
//
//   softmax_cross_entropy_rows: one workgroup per row (folded over workgroups x and y). The WG
//       invocations stride over the row for its maximum (and the first index holding it: the
//       argmax), then for sum(exp(l - max)); a tree reduction combines each. Writes
//       dlogits = (softmax - onehot(label)) / N, rows[r] = log(sum exp(l - max)) + max - l[label]
//       and rows[N + r] = 1 where the argmax equals the label, else 0. A label >= K gives a NaN
//       loss for its row.
//   softmax_cross_entropy_sum: one workgroup sums rows [begin, end) of both halves of `rows`:
//       loss = sum / N and correct = count. A long batch is split over several dispatches,
//       recorded in order; the first stores, later ones add (llvmpipe stops an invocation after
//       65535 loop iterations in total).

struct Params {
    n: u32,
    k: u32,
    begin: u32,
    end: u32,
    accumulate: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
// Bindings by entry:
//   rows: 1 rows [2N], 2 dlogits [N, K], 3 logits [N, K], 4 labels [N]
//   sum:  1 rows [2N], 2 loss [1], 3 correct [1]
@group(0) @binding(1) var<storage, read_write> rows: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read> labels: array<u32>;

var<workgroup> red_v: array<f32, WG>;
var<workgroup> red_i: array<u32, WG>;

const LOWEST: f32 = -3.40282347e38;
const NONE: u32 = 0xffffffffu;

@compute @workgroup_size(WG)
fn softmax_cross_entropy_rows(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let r = wid.x + wid.y * nwg.x;
    let valid = r < p.n;
    var len = 0u;
    var base = 0u;
    if (valid) {
        len = p.k;
        base = r * p.k;
    }
    // Maximum and its first index.
    var mv = LOWEST;
    var mi = NONE;
    for (var j = lid.x; j < len; j += WG) {
        let v = b3[base + j];
        if (v > mv || mi == NONE) {
            mv = v;
            mi = j;
        }
    }
    red_v[lid.x] = mv;
    red_i[lid.x] = mi;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (lid.x < step) {
            let ov = red_v[lid.x + step];
            let oi = red_i[lid.x + step];
            let cv = red_v[lid.x];
            let ci = red_i[lid.x];
            if (oi != NONE && (ci == NONE || ov > cv || (ov == cv && oi < ci))) {
                red_v[lid.x] = ov;
                red_i[lid.x] = oi;
            }
        }
        workgroupBarrier();
    }
    let m = red_v[0];
    let arg = red_i[0];
    workgroupBarrier();
    var s = 0.0;
    for (var j = lid.x; j < len; j += WG) {
        s += exp(b3[base + j] - m);
    }
    red_v[lid.x] = s;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (lid.x < step) {
            red_v[lid.x] = red_v[lid.x] + red_v[lid.x + step];
        }
        workgroupBarrier();
    }
    let total = red_v[0];
    var label = 0u;
    if (valid) {
        label = labels[r];
    }
    let inv_n = 1.0 / f32(p.n);
    for (var j = lid.x; j < len; j += WG) {
        var g = exp(b3[base + j] - m) / total;
        if (j == label) {
            g -= 1.0;
        }
        b2[base + j] = g * inv_n;
    }
    if (valid && lid.x == 0u) {
        if (label < p.k) {
            rows[r] = log(total) + m - b3[base + label];
        } else {
            rows[r] = bitcast<f32>(0x7fc00000u);
        }
        rows[p.n + r] = select(0.0, 1.0, arg == label);
    }
}

@compute @workgroup_size(WG)
fn softmax_cross_entropy_sum(@builtin(local_invocation_id) lid: vec3<u32>) {
    var s = 0.0;
    var c = 0.0;
    for (var r = p.begin + lid.x; r < p.end; r += WG) {
        s += rows[r];
        c += rows[p.n + r];
    }
    red_v[lid.x] = s;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (lid.x < step) {
            red_v[lid.x] = red_v[lid.x] + red_v[lid.x + step];
        }
        workgroupBarrier();
    }
    let loss = red_v[0] / f32(p.n);
    workgroupBarrier();
    red_v[lid.x] = c;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (lid.x < step) {
            red_v[lid.x] = red_v[lid.x] + red_v[lid.x + step];
        }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        var l = loss;
        var cc = red_v[0];
        if (p.accumulate != 0u) {
            l += b2[0];
            cc += b3[0];
        }
        b2[0] = l;
        b3[0] = cc;
    }
}

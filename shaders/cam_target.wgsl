// cam_target: the pieces of the CAM methods that pick and perturb, so that a whole explanation
// runs without reading anything back until the heatmap.
//
// cam_target_seed: the gradient seed d(score)/d(logits) per image: where top1[n] != 0, a one-hot
//   row at the first maximum of logits[n] (and classes[n] = that index); else the given row.
// plane_normalize: per plane of `plane` values, (x - min) / (max - min + eps) (Score-CAM masks).
// min_value: the minimum of a whole tensor into out[0] (Ablation-CAM's choice of value).
// ablate_channels: out[i] = a (one image, C channels) with channel first + i replaced by the
//   ablation value: 0 where min(a) == 0, else min(a) - 1e7 * (i % batch + 1), which is what the
//   package's AblationLayer produces when it lowers one channel after another in a batch.

struct Params {
    rows: u32,
    cols: u32,
    plane: u32,
    first: u32,
    eps: f32,
    batch: u32,
    _pad0: u32,
    _pad1: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> aux: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

var<workgroup> red_min: array<f32, WG>;
var<workgroup> red_max: array<f32, WG>;

// src = logits [rows, cols], aux = explicit seeds [rows, cols] followed by top1 flags [rows];
// dst = seeds [rows, cols] followed by the chosen class per row (as f32).
@compute @workgroup_size(WG)
fn cam_target_seed(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.x;
    if (n >= p.rows) {
        return;
    }
    let row = n * p.cols;
    if (aux[p.rows * p.cols + n] != 0.0) {
        var best = 0u;
        for (var k = 1u; k < p.cols; k++) {
            if (src[row + k] > src[row + best]) {
                best = k;
            }
        }
        for (var k = 0u; k < p.cols; k++) {
            dst[row + k] = select(0.0, 1.0, k == best);
        }
        dst[p.rows * p.cols + n] = f32(best);
    } else {
        for (var k = 0u; k < p.cols; k++) {
            dst[row + k] = aux[row + k];
        }
        dst[p.rows * p.cols + n] = -1.0;
    }
}

// One workgroup per plane: a min/max tree reduction, then the scaled write.
@compute @workgroup_size(WG)
fn plane_normalize(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    _ = aux[0]; // every entry binds the same three buffers (the host binds them in order)
    let base = wid.x * p.plane;
    var lo = bitcast<f32>(0x7f800000u);
    var hi = bitcast<f32>(0xff800000u);
    for (var i = lid.x; i < p.plane; i += WG) {
        let v = src[base + i];
        lo = min(lo, v);
        hi = max(hi, v);
    }
    red_min[lid.x] = lo;
    red_max[lid.x] = hi;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid.x < s) {
            red_min[lid.x] = min(red_min[lid.x], red_min[lid.x + s]);
            red_max[lid.x] = max(red_max[lid.x], red_max[lid.x + s]);
        }
        workgroupBarrier();
    }
    let mn = red_min[0];
    let scale = red_max[0] - mn + p.eps;
    for (var i = lid.x; i < p.plane; i += WG) {
        dst[base + i] = (src[base + i] - mn) / scale;
    }
}

@compute @workgroup_size(WG)
fn min_value(@builtin(local_invocation_id) lid: vec3<u32>) {
    _ = aux[0]; // every entry binds the same three buffers (the host binds them in order)
    var lo = bitcast<f32>(0x7f800000u);
    for (var i = lid.x; i < p.plane; i += WG) {
        lo = min(lo, src[i]);
    }
    red_min[lid.x] = lo;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid.x < s) {
            red_min[lid.x] = min(red_min[lid.x], red_min[lid.x + s]);
        }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        dst[0] = red_min[0];
    }
}

// src = one image's activations [cols channels * plane]; aux[0] = its minimum;
// dst = [rows copies, cols, plane].
@compute @workgroup_size(WG)
fn ablate_channels(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    let per = p.cols * p.plane;
    if (i >= p.rows * per) {
        return;
    }
    let copy = i / per;
    let j = i % per;
    let c = j / p.plane;
    var v = src[j];
    if (c == p.first + copy) {
        let m = aux[0];
        v = select(m - 1e7 * f32(copy % p.batch + 1u), 0.0, m == 0.0);
    }
    dst[i] = v;
}

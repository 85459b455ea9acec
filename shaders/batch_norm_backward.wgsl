// Gradients of inference batch normalisation, y = (x - mean[c]) / sqrt(var[c] + eps) * scale[c]
// + bias[c], over an [N, C, ...] tensor with `inner` elements per (n, c).
//
//   batch_norm_backward:        dx = dy * scale[c] / sqrt(var[c] + eps); one invocation per
//                               element.
//   batch_norm_backward_params: dscale[c] = sum dy * (x - mean[c]) / sqrt(var[c] + eps) and
//                               dbias[c] = sum dy, over all n and inner positions of channel c.
//                               One workgroup per channel: each invocation sums a strided slice
//                               (consecutive invocations read consecutive values), then a tree
//                               reduction in workgroup memory combines the WG partial sums.

struct Params {
    len: u32,   // elements (batch_norm_backward) or channels (batch_norm_backward_params)
    c: u32,
    inner: u32,
    n: u32,
    eps: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// Workgroup size; a power of two for batch_norm_backward_params.
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
// Bindings shared by the two entries: 1 dy, 2 scale (dx) or x (params), 3 var, 4 dx or dscale;
// 5 dbias and 6 mean for batch_norm_backward_params only.
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> scale_or_x: array<f32>;
@group(0) @binding(3) var<storage, read> variance: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx_or_dscale: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(6) var<storage, read> mean: array<f32>;

var<workgroup> red_s: array<f32, WG>;
var<workgroup> red_b: array<f32, WG>;

@compute @workgroup_size(WG)
fn batch_norm_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let ch = (i / p.inner) % p.c;
    dx_or_dscale[i] = dy[i] * scale_or_x[ch] / sqrt(variance[ch] + p.eps);
}

// One workgroup per channel (folded over workgroups x and y); p.len is the channel count.
@compute @workgroup_size(WG)
fn batch_norm_backward_params(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let ch = wid.x + wid.y * nwg.x;
    let valid = ch < p.len;
    var count = 0u;
    var m = 0.0;
    var inv_std = 0.0;
    if (valid) {
        count = p.n * p.inner;
        m = mean[ch];
        inv_std = 1.0 / sqrt(variance[ch] + p.eps);
    }
    // Sum dy * (x - mean) first and scale once by 1 / sqrt(var + eps).
    var s = 0.0;
    var b = 0.0;
    for (var k = lid.x; k < count; k += WG) {
        let i = ((k / p.inner) * p.c + ch) * p.inner + k % p.inner;
        let g = dy[i];
        s += g * (scale_or_x[i] - m);
        b += g;
    }
    red_s[lid.x] = s;
    red_b[lid.x] = b;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (lid.x < step) {
            red_s[lid.x] = red_s[lid.x] + red_s[lid.x + step];
            red_b[lid.x] = red_b[lid.x] + red_b[lid.x + step];
        }
        workgroupBarrier();
    }
    if (valid && lid.x == 0u) {
        dx_or_dscale[ch] = red_s[0] * inv_std;
        dbias[ch] = red_b[0];
    }
}

// cam_channel_weights: per-image, per-channel CAM weights w[n, c] from activations A and
// gradients G [N, C, H, W], as the grad-cam package's get_cam_weights:
//   method 0, Grad-CAM:   w = mean(G)                                   (grad_cam.py)
//   method 1, Grad-CAM++: S = sum(A);
//                         aij = G^2 / (2 G^2 + S G^3 + 1e-6), 0 where G == 0;
//                         w = sum(max(G, 0) * aij)                      (grad_cam_plusplus.py)
//   method 2, XGrad-CAM:  S = sum(A); w = sum(G * A / (S + 1e-7))        (xgrad_cam.py)
// with sums and means over the H x W positions of one (n, c) plane.
//
// One workgroup per (n, c) plane; planes are folded over workgroups x and y like the 1-D grid
// of the elementwise kernels. Each invocation accumulates a strided slice of the plane
// (consecutive invocations read consecutive values), then the workgroup combines the WG
// partial sums with a tree reduction in workgroup memory. Methods 1 and 2 reduce twice: S
// first, then the weights. `cam_channel_weights_serial` is for CPU adapters, whose
// invocations are SIMD lanes and whose barriers are costly: one invocation per plane, plain
// loops over it (planes the host keeps under llvmpipe's loop limit).

struct Params {
    planes: u32,
    hw: u32,
    method: u32,
    _pad: u32,
}

// Workgroup size; must be a power of two.
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> weights: array<f32>;

var<workgroup> red: array<f32, WG>;

// Sum of the WG values `v` of the workgroup, returned to every invocation. Called in uniform
// control flow.
fn workgroup_sum(tid: u32, v: f32) -> f32 {
    red[tid] = v;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (tid < step) {
            red[tid] = red[tid] + red[tid + step];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier(); // everyone has read before `red` is reused
    return r;
}

// The sums over the values first, first + step, ... (below len) of the plane at `base`: of
// the gradients, of the activations, and of method 1's or 2's terms given the plane's sum(A).
// An invocation of a workgroup sums its strided slice (first = its index, step = WG); a serial
// invocation the whole plane (0, 1).
fn sum_g(base: u32, first: u32, step: u32, len: u32) -> f32 {
    var s = 0.0;
    for (var k = first; k < len; k += step) {
        s += g[base + k];
    }
    return s;
}

fn sum_a(base: u32, first: u32, step: u32, len: u32) -> f32 {
    var s = 0.0;
    for (var k = first; k < len; k += step) {
        s += a[base + k];
    }
    return s;
}

fn sum_terms(base: u32, first: u32, step: u32, len: u32, total_a: f32) -> f32 {
    var s = 0.0;
    if (p.method == 1u) {
        for (var k = first; k < len; k += step) {
            let grad = g[base + k];
            let g2 = grad * grad;
            let g3 = g2 * grad;
            let aij = g2 / (2.0 * g2 + total_a * g3 + 0.000001);
            s += max(grad, 0.0) * select(0.0, aij, grad != 0.0);
        }
    } else {
        let denom = total_a + 1e-7;
        for (var k = first; k < len; k += step) {
            s += g[base + k] * a[base + k] / denom;
        }
    }
    return s;
}

@compute @workgroup_size(WG)
fn cam_channel_weights(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let plane = wid.x + wid.y * nwg.x;
    // Workgroups past the last plane still take part in the barriers, with empty loops.
    var len = 0u;
    if (plane < p.planes) {
        len = p.hw;
    }
    let base = plane * p.hw;
    if (p.method == 0u) {
        let s = workgroup_sum(tid, sum_g(base, tid, WG, len));
        if (len > 0u && tid == 0u) {
            weights[plane] = s / f32(p.hw);
        }
        return;
    }
    let total_a = workgroup_sum(tid, sum_a(base, tid, WG, len));
    let s = workgroup_sum(tid, sum_terms(base, tid, WG, len, total_a));
    if (len > 0u && tid == 0u) {
        weights[plane] = s;
    }
}

@compute @workgroup_size(WG)
fn cam_channel_weights_serial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let plane = gid.x + gid.y * nwg.x * WG;
    if (plane >= p.planes) {
        return;
    }
    let base = plane * p.hw;
    if (p.method == 0u) {
        weights[plane] = sum_g(base, 0u, 1u, p.hw) / f32(p.hw);
        return;
    }
    weights[plane] = sum_terms(base, 0u, 1u, p.hw, sum_a(base, 0u, 1u, p.hw));
}

// global_avg_pool2d / global_max_pool2d: y[n, c] = mean (max) of x[n, c, :, :].
//
// One workgroup per (n, c) plane; the planes are folded over workgroups x and y like the 1-D
// grid of the elementwise kernels. Each invocation reduces a strided slice of the plane
// (consecutive invocations read consecutive values), then the workgroup combines the WG partial
// results with a tree reduction in workgroup memory. The `_serial` entries are for CPU
// adapters, whose invocations are SIMD lanes and whose barriers are costly: one invocation per
// plane, a plain loop over it (planes the host keeps under llvmpipe's loop limit). Tensors are
// stored as `Store` (f32, or f16 in the f16 variant); sums are f32.

alias Store = f32;

struct Params {
    planes: u32,
    hw: u32,
    _pad0: u32,
    _pad1: u32,
}

// Workgroup size; must be a power of two.
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<Store>;
@group(0) @binding(2) var<storage, read_write> y: array<Store>;

var<workgroup> red: array<f32, WG>;

// The sum and the max of the values first, first + step, ... (below len) of the plane at
// `base`: an invocation of a workgroup takes its strided slice (first = its index, step = WG),
// a serial invocation the whole plane (0, 1).
fn plane_sum(base: u32, first: u32, step: u32, len: u32) -> f32 {
    var s = 0.0;
    for (var k = first; k < len; k += step) {
        s += f32(x[base + k]);
    }
    return s;
}

fn plane_max(base: u32, first: u32, step: u32, len: u32) -> f32 {
    var m = bitcast<f32>(0xff800000u); // -inf
    for (var k = first; k < len; k += step) {
        m = max(m, f32(x[base + k]));
    }
    return m;
}

@compute @workgroup_size(WG)
fn global_avg_pool2d(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let plane = wid.x + wid.y * nwg.x;
    let valid = plane < p.planes;
    // Workgroups past the last plane take part in the barriers with an empty loop.
    red[lid.x] = plane_sum(plane * p.hw, lid.x, WG, select(0u, p.hw, valid));
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (lid.x < step) {
            red[lid.x] = red[lid.x] + red[lid.x + step];
        }
        workgroupBarrier();
    }
    if (valid && lid.x == 0u) {
        y[plane] = Store(red[0] / f32(p.hw));
    }
}

@compute @workgroup_size(WG)
fn global_max_pool2d(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let plane = wid.x + wid.y * nwg.x;
    let valid = plane < p.planes;
    red[lid.x] = plane_max(plane * p.hw, lid.x, WG, select(0u, p.hw, valid));
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (lid.x < step) {
            red[lid.x] = max(red[lid.x], red[lid.x + step]);
        }
        workgroupBarrier();
    }
    if (valid && lid.x == 0u) {
        y[plane] = Store(red[0]);
    }
}

@compute @workgroup_size(WG)
fn global_avg_pool2d_serial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let plane = gid.x + gid.y * nwg.x * WG;
    if (plane < p.planes) {
        y[plane] = Store(plane_sum(plane * p.hw, 0u, 1u, p.hw) / f32(p.hw));
    }
}

@compute @workgroup_size(WG)
fn global_max_pool2d_serial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let plane = gid.x + gid.y * nwg.x * WG;
    if (plane < p.planes) {
        y[plane] = Store(plane_max(plane * p.hw, 0u, 1u, p.hw));
    }
}

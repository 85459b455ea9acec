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

@compute @workgroup_size(WG)
fn global_avg_pool2d(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let plane = wid.x + wid.y * nwg.x;
    let valid = plane < p.planes;
    var s = 0.0;
    if (valid) {
        let base = plane * p.hw;
        for (var k = lid.x; k < p.hw; k += WG) {
            s += f32(x[base + k]);
        }
    }
    red[lid.x] = s;
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
    var m = bitcast<f32>(0xff800000u); // -inf
    if (valid) {
        let base = plane * p.hw;
        for (var k = lid.x; k < p.hw; k += WG) {
            m = max(m, f32(x[base + k]));
        }
    }
    red[lid.x] = m;
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
    if (plane >= p.planes) {
        return;
    }
    let base = plane * p.hw;
    var s = 0.0;
    for (var k = 0u; k < p.hw; k++) {
        s += f32(x[base + k]);
    }
    y[plane] = Store(s / f32(p.hw));
}

@compute @workgroup_size(WG)
fn global_max_pool2d_serial(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let plane = gid.x + gid.y * nwg.x * WG;
    if (plane >= p.planes) {
        return;
    }
    let base = plane * p.hw;
    var m = bitcast<f32>(0xff800000u); // -inf
    for (var k = 0u; k < p.hw; k++) {
        m = max(m, f32(x[base + k]));
    }
    y[plane] = Store(m);
}

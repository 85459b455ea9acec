// global_avg_pool2d / global_max_pool2d: y[n, c] = mean (max) of x[n, c, :, :].
//
// One workgroup per (n, c) plane; the planes are folded over workgroups x and y like the 1-D
// grid of the elementwise kernels. Each invocation reduces a strided slice of the plane
// (consecutive invocations read consecutive values), then the workgroup combines the WG partial
// results with a tree reduction in workgroup memory.

struct Params {
    planes: u32,
    hw: u32,
    _pad0: u32,
    _pad1: u32,
}

// Workgroup size; must be a power of two.
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

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
            s += x[base + k];
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
        y[plane] = red[0] / f32(p.hw);
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
            m = max(m, x[base + k]);
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
        y[plane] = red[0];
    }
}

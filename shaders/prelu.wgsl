// prelu: y = x if x >= 0 else slope * x, elementwise over x, with `slope` broadcast to x's
// shape (unidirectional NumPy broadcasting, as ONNX PRelu: usually [C, 1, 1] or [1] against
// NCHW). As in binary.wgsl, the shape is padded on the left to rank 6 and the uniform holds
// x's dimensions and the element strides of slope per dimension (0 where it broadcasts).
// One invocation per element.

struct Params {
    len: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    shape: array<vec4<u32>, 2>,        // dimensions 0..5 of x (slots 6, 7 unused)
    slope_stride: array<vec4<u32>, 2>, // element strides of slope per dimension of x
}

const RANK: u32 = 6u;

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> slope: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn prelu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    var rem = i;
    var is = 0u;
    for (var d = RANK; d > 0u; d--) {
        let dd = d - 1u;
        let n = p.shape[dd / 4u][dd % 4u];
        is += (rem % n) * p.slope_stride[dd / 4u][dd % 4u];
        rem = rem / n;
    }
    let v = x[i];
    y[i] = select(slope[is] * v, v, v >= 0.0);
}

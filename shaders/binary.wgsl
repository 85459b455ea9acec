// binary: y = a OP b elementwise with NumPy broadcasting, OP one of add, sub, mul, div.
//
// Shapes are padded on the left to rank 6. The output shape and one stride per operand and
// dimension (0 on a dimension the operand broadcasts along) come in the uniform, so one kernel
// covers every case: same shape, scalar, channel vector, both sides broadcasting. Each
// invocation computes one output element from its linear index. Tensors are stored as `Store`
// (f32, or f16 in the f16 variant); the arithmetic is f32.

alias Store = f32;

struct Params {
    len: u32,
    op: u32,            // 0 add, 1 sub, 2 mul, 3 div
    _pad0: u32,
    _pad1: u32,
    shape: array<vec4<u32>, 2>,     // output dimensions 0..5 (slots 6, 7 unused)
    a_stride: array<vec4<u32>, 2>,  // element strides of a per output dimension
    b_stride: array<vec4<u32>, 2>,  // element strides of b per output dimension
}

const RANK: u32 = 6u;

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<Store>;
@group(0) @binding(2) var<storage, read> b: array<Store>;
@group(0) @binding(3) var<storage, read_write> y: array<Store>;

@compute @workgroup_size(WG)
fn binary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    var rem = i;
    var ia = 0u;
    var ib = 0u;
    for (var d = RANK; d > 0u; d--) {
        let dd = d - 1u;
        let n = p.shape[dd / 4u][dd % 4u];
        let coord = rem % n;
        rem = rem / n;
        ia += coord * p.a_stride[dd / 4u][dd % 4u];
        ib += coord * p.b_stride[dd / 4u][dd % 4u];
    }
    let x = f32(a[ia]);
    let z = f32(b[ib]);
    var v: f32;
    switch p.op {
        case 1u: { v = x - z; }
        case 2u: { v = x * z; }
        case 3u: { v = x / z; }
        default: { v = x + z; }
    }
    y[i] = Store(v);
}

// transpose: y = permute(x, perm) for rank <= 6. The host pads the shape to rank 6 with leading
// ones and passes, for every output dimension d, its size out_dims[d] and the stride in x of
// the input dimension it comes from, in_strides[d] = strides(x)[perm[d]]. Each invocation
// writes one output element, so writes are contiguous.

struct Params {
    out_dims: array<vec4<u32>, 2>,   // output dims d = 0..6 at [d / 4][d % 4]; unused lanes 1
    in_strides: array<vec4<u32>, 2>, // input stride of output dim d; unused lanes 0
    len: u32,                        // elements
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn transpose(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    var rem = i;
    var src = 0u;
    for (var d = 5; d >= 0; d--) {
        let n = p.out_dims[d / 4][d % 4];
        src += (rem % n) * p.in_strides[d / 4][d % 4];
        rem /= n;
    }
    y[i] = x[src];
}

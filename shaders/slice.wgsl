// slice: ONNX Slice along one axis with a positive step. The tensor is viewed as
// [outer, dim, inner] around the axis; output element (o, j, k) of [outer, out_len, inner]
// copies input element (o, start + j * step, k). One invocation per output element, so
// writes are contiguous.

struct Params {
    len: u32,      // output elements
    inner: u32,    // product of the dimensions after the axis
    out_len: u32,  // output size along the axis
    dim: u32,      // input size along the axis
    start: u32,
    step: u32,
    _pad0: u32,
    _pad1: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn slice(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let k = i % p.inner;
    let j = (i / p.inner) % p.out_len;
    let o = i / (p.inner * p.out_len);
    y[i] = x[(o * p.dim + p.start + j * p.step) * p.inner + k];
}

// split, the backward of concat: copies one slice of the input along an axis into its own
// tensor. The op dispatches this kernel once per piece. Shapes are folded to
// [outer, axis, inner]: the input is [outer, axis_in, inner], the piece [outer, axis_out,
// inner], and the piece takes the input's axis positions offset .. offset + axis_out.

struct Params {
    len: u32,      // outer * axis_out * inner: elements of this piece
    axis_in: u32,  // the input's size along the axis
    axis_out: u32, // this piece's size along the axis
    inner: u32,    // product of the dimensions after the axis
    offset: u32,   // where this piece starts along the input's axis
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn split(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let k = i % p.inner;
    let t = i / p.inner;
    let a = t % p.axis_out;
    let o = t / p.axis_out;
    y[i] = x[(o * p.axis_in + p.offset + a) * p.inner + k];
}

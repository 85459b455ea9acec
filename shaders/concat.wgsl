// concat: copies one input into its slice of the output along the concatenation axis.
// The op dispatches this kernel once per input. Shapes are folded to [outer, axis, inner]:
// the input is [outer, axis_in, inner], the output [outer, axis_out, inner], and this input
// lands at axis positions offset .. offset + axis_in.

struct Params {
    len: u32,      // outer * axis_in * inner: elements of this input
    axis_in: u32,  // this input's size along the axis
    axis_out: u32, // the output's size along the axis
    inner: u32,    // product of the dimensions after the axis
    offset: u32,   // where this input starts along the output's axis
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn concat(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let k = i % p.inner;
    let t = i / p.inner;
    let a = t % p.axis_in;
    let o = t / p.axis_in;
    y[(o * p.axis_out + p.offset + a) * p.inner + k] = x[i];
}

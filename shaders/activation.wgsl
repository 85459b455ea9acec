// activation: y = f(x) elementwise, f chosen by `code`, or by the pipeline constant ACT where
// the host fixes it (it always does; see lib/activation.wgsl). Tensors are
// stored as `Store` (f32, or f16 in the f16 variant); f is computed in f32.

alias Store = f32;

struct Params {
    len: u32,
    code: u32,
    a: f32,
    b: f32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<Store>;
@group(0) @binding(2) var<storage, read_write> y: array<Store>;

@compute @workgroup_size(WG)
fn activation(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    y[i] = Store(activate(f32(x[i]), p.code, p.a, p.b));
}

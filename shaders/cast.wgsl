// cast: converts between f32 and the storage type `Store` elementwise. Only the f16 variant
// (Shader::with_storage) is used: by the graph's f16 storage at the edges of a pass and of ops
// without an f16 kernel, for the f16 copies of conv weights, and by a split-K f16 conv, whose
// f32 sums are rounded once at the end.

alias Store = f32;

struct Params {
    len: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src_f32: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst_store: array<Store>;

@compute @workgroup_size(WG)
fn cast_to_store(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i < p.len) {
        dst_store[i] = Store(src_f32[i]);
    }
}

// The other direction binds the same slots with the types swapped (WGSL allows two variables
// on one binding when no entry point uses both).
@group(0) @binding(1) var<storage, read> src_store: array<Store>;
@group(0) @binding(2) var<storage, read_write> dst_f32: array<f32>;

@compute @workgroup_size(WG)
fn cast_to_f32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i < p.len) {
        dst_f32[i] = f32(src_store[i]);
    }
}

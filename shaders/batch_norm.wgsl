// batch_norm (inference): y = (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c] for every
// element of channel c of an [N, C, ...] tensor, `inner` elements per (n, c). One invocation per
// element. x and y are stored as `Store` (f32, or f16 in the f16 variant); the statistics are
// f32, and so is the arithmetic.

alias Store = f32;

struct Params {
    len: u32,
    c: u32,
    inner: u32,
    eps: f32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<Store>;
@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> mean: array<f32>;
@group(0) @binding(5) var<storage, read> variance: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<Store>;

@compute @workgroup_size(WG)
fn batch_norm(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let ch = (i / p.inner) % p.c;
    y[i] = Store((f32(x[i]) - mean[ch]) / sqrt(variance[ch] + p.eps) * scale[ch] + bias[ch]);
}

// conv2d_subsample: every stride-th row and column of x [planes][h][w], copied out to
// y [planes][oh][ow] (y(i, u, v) = x(i, u * stride_h, v * stride_w)): the pixels a strided 1x1
// convolution reads, which conv2d_packed_1x1 then reads as whole vec4s. One invocation per
// output row (decoded once, then a loop over its columns), numbered flat (folded into y past
// 65535 workgroups). Storage-generic: f32 here, f16 in the f16 variant.

alias Store = f32;

struct Params {
    rows: u32, // planes * oh
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    stride_h: u32,
    stride_w: u32,
    _pad: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<Store>;
@group(0) @binding(2) var<storage, read_write> y: array<Store>;

@compute @workgroup_size(WG)
fn subsample(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.rows) {
        return;
    }
    let plane = i / p.oh;
    let u = i % p.oh;
    let src = (plane * p.h + u * p.stride_h) * p.w;
    let dst = i * p.ow;
    for (var v = 0u; v < p.ow; v++) {
        y[dst + v] = x[src + v * p.stride_w];
    }
}

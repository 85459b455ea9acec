// conv2d_planes: copies planes into the layout conv2d_packed_1x1 reads and writes, where every
// plane is whole vec4s. y(i, u * ow + v) = x(i, u * stride_h, v * stride_w) for the rows u <
// oh and columns v < ow of plane i, x's planes being h x w and y's `plane_out` elements long,
// zeros after the first oh * ow. With that, one pass
// - copies out every stride-th pixel of x, the pixels a strided 1x1 convolution reads;
// - pads planes to a multiple of 4 elements (plane_out rounded up) for the kernel's operands;
// - crops the kernel's padded output planes back (h = 1, w and ow the padded and real size).
// One invocation per output row (decoded once, then a loop over its columns), numbered flat
// (folded into y past 65535 workgroups). Storage-generic: f32 here, f16 in the f16 variant.

alias Store = f32;

struct Params {
    rows: u32, // planes * oh
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    stride_h: u32,
    stride_w: u32,
    plane_out: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<Store>;
@group(0) @binding(2) var<storage, read_write> y: array<Store>;

@compute @workgroup_size(WG)
fn copy_planes(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.rows) {
        return;
    }
    let plane = i / p.oh;
    let u = i % p.oh;
    let src = (plane * p.h + u * p.stride_h) * p.w;
    let dst = plane * p.plane_out + u * p.ow;
    for (var v = 0u; v < p.ow; v++) {
        y[dst + v] = x[src + v * p.stride_w];
    }
    if (u + 1u == p.oh) {
        for (var t = p.oh * p.ow; t < p.plane_out; t++) {
            y[plane * p.plane_out + t] = Store(0.0);
        }
    }
}

// conv2d_planes: copies planes into the layout conv2d_packed_1x1 reads and writes, where every
// plane is whole vec4s: the im2col of a convolution. For tap (ky, kx) of a kh x kw window,
// y(i * kh * kw + ky * kw + kx, u * ow + v) = x(i, u * stride_h + ky * dil_h - pad_top,
// v * stride_w + kx * dil_w - pad_left), 0 outside x's h x w planes, for the rows u < oh and
// columns v < ow, y's planes being `plane_out` elements long, zeros after the first oh * ow.
// With that, one pass
// - lays out a convolution's input as the operand of a plain GEMM (one plane per input
//   channel and tap, the reduction conv2d_packed_1x1 runs over);
// - copies out every stride-th pixel of x (a 1x1 window), the pixels a strided 1x1
//   convolution reads;
// - pads planes to a multiple of 4 elements (plane_out rounded up) for the kernel's operands;
// - crops the kernel's padded output planes back (h = 1, w and ow the padded and real size);
// - spreads planes out (up_h, up_w above 1, a 1x1 window): y(i, u, v) = x(i, u / up_h,
//   v / up_w) where up_h divides u and up_w divides v, else 0 (the input gradient of a
//   strided 1x1 conv, computed at the pixels the conv read).
// One invocation per output row (decoded once, then a loop over its columns), numbered flat
// (folded into y past 65535 workgroups). Storage-generic: f32 here, f16 in the f16 variant.
//
// copy_rows is the plain case on its own (a 1x1 window at stride 1, no spreading: padding rows
// or planes with zeros, cropping them back): `rows` rows of `w` elements into rows of
// `plane_out`, the first min(w, ow) elements copied and zeros after. copy_planes's per-element
// division (v / up_w) is a loop over the SIMD lanes on llvmpipe, and both sides of its
// branches run there, so the plain copies that every conv on planes of other than whole vec4s
// makes twice (x in, y out) take this entry.

alias Store = f32;

struct Params {
    rows: u32, // planes * kh * kw * oh
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    stride_h: u32,
    stride_w: u32,
    plane_out: u32,
    kh: u32,
    kw: u32,
    pad_top: u32,
    pad_left: u32,
    dil_h: u32,
    dil_w: u32,
    up_h: u32,
    up_w: u32,
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
    let out_plane = i / p.oh; // plane * kh * kw + tap
    let u = i % p.oh;
    let tap = out_plane % (p.kh * p.kw);
    let plane = out_plane / (p.kh * p.kw);
    // Spread out, row u reads row u / up_h (none between); without, u / 1.
    let ur = u / p.up_h;
    let iy = select(-1, i32(ur * p.stride_h + (tap / p.kw) * p.dil_h) - i32(p.pad_top), ur * p.up_h == u);
    let x0 = i32((tap % p.kw) * p.dil_w) - i32(p.pad_left);
    let dst = out_plane * p.plane_out + u * p.ow;
    if (iy < 0 || iy >= i32(p.h)) {
        for (var v = 0u; v < p.ow; v++) {
            y[dst + v] = Store(0.0);
        }
    } else {
        let src = (plane * p.h + u32(iy)) * p.w;
        // Column v reads x's column ix = x0 + (v / up_w) * stride_w where up_w divides v: ix
        // and the phase v % up_w are stepped along, not divided out per element (a division
        // is a loop over the SIMD lanes on llvmpipe).
        var ix = x0;
        var phase = 0u;
        for (var v = 0u; v < p.ow; v++) {
            let inside = ix >= 0 && ix < i32(p.w) && phase == 0u;
            y[dst + v] = select(Store(0.0), x[src + u32(clamp(ix, 0, i32(p.w) - 1))], inside);
            phase += 1u;
            let next = phase == p.up_w;
            phase = select(phase, 0u, next);
            ix += select(0, i32(p.stride_w), next);
        }
    }
    if (u + 1u == p.oh) {
        for (var t = p.oh * p.ow; t < p.plane_out; t++) {
            y[out_plane * p.plane_out + t] = Store(0.0);
        }
    }
}

@compute @workgroup_size(WG)
fn copy_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.rows) {
        return;
    }
    let src = i * p.w;
    let dst = i * p.plane_out;
    let len = min(p.w, p.ow);
    for (var v = 0u; v < p.plane_out; v++) {
        y[dst + v] = select(Store(0.0), x[src + min(v, p.w - 1u)], v < len);
    }
}

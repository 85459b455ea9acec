// avg_pool2d: y[n, c, oy, ox] = mean of x over the window of output (oy, ox). One invocation
// per output.
//
// Follows PyTorch: the window [hs, hs + KH) is first clipped to the padded extent
// [-pad_top, H + pad_bottom) (its size is the divisor when count_include_pad is set), then to
// the input [0, H) (the number of taps summed, the divisor otherwise). Likewise for width.
// Tensors are stored as `Store` (f32, or f16 in the f16 variant); sums are f32.

alias Store = f32;

struct Params {
    len: u32, h: u32, w: u32, oh: u32,
    ow: u32, kh: u32, kw: u32, stride_h: u32,
    stride_w: u32, pad_top: u32, pad_left: u32, pad_bottom: u32,
    pad_right: u32, count_include_pad: u32, _pad0: u32, _pad1: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<Store>;
@group(0) @binding(2) var<storage, read_write> y: array<Store>;

@compute @workgroup_size(WG)
fn avg_pool2d(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let ox = i % p.ow;
    let t = i / p.ow;
    let oy = t % p.oh;
    let plane = t / p.oh;
    let base = plane * p.h * p.w;

    let hs = i32(oy * p.stride_h) - i32(p.pad_top);
    let ws = i32(ox * p.stride_w) - i32(p.pad_left);
    let he = min(hs + i32(p.kh), i32(p.h + p.pad_bottom));
    let we = min(ws + i32(p.kw), i32(p.w + p.pad_right));
    let padded_count = (he - hs) * (we - ws);
    let h0 = max(hs, 0);
    let w0 = max(ws, 0);
    let h1 = min(he, i32(p.h));
    let w1 = min(we, i32(p.w));

    var s = 0.0;
    for (var iy = h0; iy < h1; iy++) {
        let row = base + u32(iy) * p.w;
        for (var ix = w0; ix < w1; ix++) {
            s += f32(x[row + u32(ix)]);
        }
    }
    var out = 0.0;
    if (h0 < h1 && w0 < w1) {
        var count = (h1 - h0) * (w1 - w0);
        if (p.count_include_pad != 0u) {
            count = padded_count;
        }
        out = s / f32(count);
    }
    y[i] = Store(out);
}

// Gradients of the pooling kernels, as gathers: one invocation per input element sums the
// output gradients of the windows that cover it, so no two invocations write the same value
// and no float atomics are needed.
//
//   max_pool2d_backward:  dx[i] = sum of dy[o] over the outputs o whose (dilated) window holds
//                         input i and whose argmax names i (iy * W + ix within the plane).
//   avg_pool2d_backward:  dx[i] = sum of dy[o] / divisor(o) over the windows holding i, the
//                         divisor as in avg_pool2d (count_include_pad or not).
//   global_avg_pool2d_backward: dx[n, c, y, x] = dy[n, c] / (H W).
//   global_max_pool2d_backward: dy[n, c] goes to the first maximum of each plane (row-major),
//                         0 elsewhere; one workgroup per plane finds it with two tree
//                         reductions (the maximum, then the smallest index holding it).

struct Params {
    len: u32, h: u32, w: u32, oh: u32,
    ow: u32, kh: u32, kw: u32, stride_h: u32,
    stride_w: u32, pad_top: u32, pad_left: u32, pad_bottom: u32,
    pad_right: u32, dil_h: u32, dil_w: u32, count_include_pad: u32,
}

// Workgroup size; a power of two for global_max_pool2d_backward.
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
// Used by the two max entries only (the average entries bind just dy and dx): the argmax of
// max_pool2d, or the input x of global_max_pool2d (f32 read through its bits).
@group(0) @binding(3) var<storage, read> aux: array<u32>;

var<workgroup> red_v: array<f32, WG>;
var<workgroup> red_i: array<u32, WG>;

@compute @workgroup_size(WG)
fn max_pool2d_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let ix = i % p.w;
    let t = i / p.w;
    let iy = t % p.h;
    let plane = t / p.h;
    let here = iy * p.w + ix;
    let obase = plane * p.oh * p.ow;

    var s = 0.0;
    // Output row oy covers iy through tap ky when oy * stride - pad + ky * dil = iy.
    for (var ky = 0u; ky < p.kh; ky++) {
        let ty = i32(iy + p.pad_top) - i32(ky * p.dil_h);
        if (ty < 0) {
            break;
        }
        if (u32(ty) % p.stride_h != 0u) {
            continue;
        }
        let oy = u32(ty) / p.stride_h;
        if (oy >= p.oh) {
            continue;
        }
        for (var kx = 0u; kx < p.kw; kx++) {
            let tx = i32(ix + p.pad_left) - i32(kx * p.dil_w);
            if (tx < 0) {
                break;
            }
            if (u32(tx) % p.stride_w != 0u) {
                continue;
            }
            let ox = u32(tx) / p.stride_w;
            if (ox >= p.ow) {
                continue;
            }
            let o = obase + oy * p.ow + ox;
            if (aux[o] == here) {
                s += dy[o];
            }
        }
    }
    dx[i] = s;
}

// max_pool2d_backward_rows: max_pool2d_backward at dilation 1 for CPU adapters, one invocation
// per input row (p.len counts rows here: planes * h). The windows holding input column ix
// are those of output columns ox with ox * stride - pad <= ix <= ox * stride - pad + kw - 1:
// at most ceil(kw / stride) of them, ending at floor((ix + pad) / stride), which steps along
// the row by additions. The per-element entry above divides per tap (each division a loop
// over the SIMD lanes on llvmpipe, and both sides of its branches run there): a training
// step of the demo model spent a fifth of its GPU time in it.
@compute @workgroup_size(WG)
fn max_pool2d_backward_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * WG;
    if (r >= p.len) {
        return;
    }
    let iy = r % p.h;
    let plane = r / p.h;
    let obase = plane * p.oh * p.ow;
    let ty = iy + p.pad_top;
    let oy_last = ty / p.stride_h; // the last output row whose window can hold iy
    let rows = (p.kh + p.stride_h - 1u) / p.stride_h;
    let cols = (p.kw + p.stride_w - 1u) / p.stride_w;
    var ox_last = p.pad_left / p.stride_w; // floor((ix + pad_left) / stride_w), stepped along
    var phase = p.pad_left % p.stride_w;
    let dst = r * p.w;
    for (var ix = 0u; ix < p.w; ix++) {
        let here = iy * p.w + ix;
        let tx = ix + p.pad_left;
        var s = 0.0;
        for (var a = 0u; a < rows; a++) {
            let oy = i32(oy_last) - i32(a);
            let oy_ok = oy >= 0 && u32(oy) < p.oh && u32(oy) * p.stride_h + p.kh > ty;
            for (var b = 0u; b < cols; b++) {
                let ox = i32(ox_last) - i32(b);
                let ok = oy_ok && ox >= 0 && u32(ox) < p.ow && u32(ox) * p.stride_w + p.kw > tx;
                let o = obase + u32(clamp(oy, 0, i32(p.oh) - 1)) * p.ow + u32(clamp(ox, 0, i32(p.ow) - 1));
                s += select(0.0, dy[o], ok && aux[o] == here);
            }
        }
        dx[dst + ix] = s;
        phase += 1u;
        let next = phase == p.stride_w;
        phase = select(phase, 0u, next);
        ox_last += select(0u, 1u, next);
    }
}

@compute @workgroup_size(WG)
fn avg_pool2d_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let ix = i32(i % p.w);
    let t = i / p.w;
    let iy = i32(t % p.h);
    let plane = t / p.h;
    let obase = plane * p.oh * p.ow;
    let sh = i32(p.stride_h);
    let sw = i32(p.stride_w);
    let pt = i32(p.pad_top);
    let pl = i32(p.pad_left);

    // Windows [oy * sh - pt, oy * sh - pt + kh) holding iy: oy * sh in [iy + pt - kh + 1, iy + pt].
    let ly = iy + pt - i32(p.kh) + 1;
    let lx = ix + pl - i32(p.kw) + 1;
    let oy0 = select((ly + sh - 1) / sh, 0, ly <= 0);
    let ox0 = select((lx + sw - 1) / sw, 0, lx <= 0);
    let oy1 = min((iy + pt) / sh, i32(p.oh) - 1);
    let ox1 = min((ix + pl) / sw, i32(p.ow) - 1);

    var s = 0.0;
    for (var oy = oy0; oy <= oy1; oy++) {
        let hs = oy * sh - pt;
        let he = min(hs + i32(p.kh), i32(p.h + p.pad_bottom));
        let ch = select(min(he, i32(p.h)) - max(hs, 0), he - hs, p.count_include_pad != 0u);
        for (var ox = ox0; ox <= ox1; ox++) {
            let ws = ox * sw - pl;
            let we = min(ws + i32(p.kw), i32(p.w + p.pad_right));
            let cw = select(min(we, i32(p.w)) - max(ws, 0), we - ws, p.count_include_pad != 0u);
            s += dy[obase + u32(oy) * p.ow + u32(ox)] / f32(ch * cw);
        }
    }
    dx[i] = s;
}

@compute @workgroup_size(WG)
fn global_avg_pool2d_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let hw = p.h * p.w;
    dx[i] = dy[i / hw] / f32(hw);
}

// One workgroup per plane (planes folded over workgroups x and y); p.len is the plane count.
@compute @workgroup_size(WG)
fn global_max_pool2d_backward(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let plane = wid.x + wid.y * nwg.x;
    let valid = plane < p.len;
    let hw = p.h * p.w;
    let base = plane * hw;
    var n = 0u;
    if (valid) {
        n = hw;
    }

    // The maximum of the plane.
    var m = bitcast<f32>(0xff800000u); // -inf
    for (var k = lid.x; k < n; k += WG) {
        m = max(m, bitcast<f32>(aux[base + k]));
    }
    red_v[lid.x] = m;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (lid.x < step) {
            red_v[lid.x] = max(red_v[lid.x], red_v[lid.x + step]);
        }
        workgroupBarrier();
    }
    m = red_v[0];

    // The first index that holds it.
    var first = 0xffffffffu;
    for (var k = lid.x; k < n; k += WG) {
        if (bitcast<f32>(aux[base + k]) == m) {
            first = min(first, k);
        }
    }
    red_i[lid.x] = first;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (lid.x < step) {
            red_i[lid.x] = min(red_i[lid.x], red_i[lid.x + step]);
        }
        workgroupBarrier();
    }
    first = red_i[0];

    var g = 0.0;
    if (valid) {
        g = dy[plane];
    }
    for (var k = lid.x; k < n; k += WG) {
        dx[base + k] = select(0.0, g, k == first);
    }
}

// max_pool2d: y[n, c, oy, ox] = max of x over the (dilated) window of output (oy, ox), where
// the window's taps outside the input count as -inf; idx holds where the maximum came from, as
// iy * W + ix within the input plane (PyTorch's return_indices). One invocation per output.
//
// Follows PyTorch's CPU kernel: the scan starts at the first tap inside the input in each
// dimension, a later tap wins only if strictly greater (ties keep the first in row-major window
// order), and a window entirely in padding gives -inf with the index of that first tap.
// Tensors are stored as `Store` (f32, or f16 in the f16 variant).

alias Store = f32;

// `Params` is shaders/lib/max_pool_params.wgsl.

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<Store>;
@group(0) @binding(2) var<storage, read_write> y: array<Store>;
@group(0) @binding(3) var<storage, read_write> idx: array<u32>;

// The first tap start + j * dil (j >= 0) that is not negative.
fn first_tap(start: i32, dil: i32) -> i32 {
    if (start >= 0) {
        return start;
    }
    return start + ((-start + dil - 1) / dil) * dil;
}

@compute @workgroup_size(WG)
fn max_pool2d(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let ox = i % p.ow;
    let t = i / p.ow;
    let oy = t % p.oh;
    let plane = t / p.oh;
    let base = plane * p.h * p.w;

    let dh = i32(p.dil_h);
    let dw = i32(p.dil_w);
    let hs = i32(oy * p.stride_h) - i32(p.pad_top);
    let ws = i32(ox * p.stride_w) - i32(p.pad_left);
    let he = min(hs + i32((p.kh - 1u) * p.dil_h + 1u), i32(p.h));
    let we = min(ws + i32((p.kw - 1u) * p.dil_w + 1u), i32(p.w));
    let h0 = first_tap(hs, dh);
    let w0 = first_tap(ws, dw);

    var best = bitcast<f32>(0xff800000u); // -inf
    var arg = u32(h0) * p.w + u32(w0);
    for (var iy = h0; iy < he; iy += dh) {
        let row = u32(iy) * p.w;
        for (var ix = w0; ix < we; ix += dw) {
            let k = row + u32(ix);
            let v = f32(x[base + k]);
            if (v > best) {
                best = v;
                arg = k;
            }
        }
    }
    y[i] = Store(best);
    idx[i] = arg;
}

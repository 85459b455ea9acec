// resize: bilinear interpolation of NCHW maps to [OH, OW], as PyTorch's
// F.interpolate(mode='bilinear', antialias=False). The source coordinate of output index d is
// half-pixel (mode 0): max((d + 0.5) * scale - 0.5, 0), or align-corners (mode 1): d * scale;
// the host computes scale (in/out, or (in-1)/(out-1), or 0). The lower neighbour is
// floor(src) (at most in-1), the upper one the next index clamped to in-1.

struct Params {
    len: u32,      // N * C * OH * OW
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    mode: u32,     // 0 half-pixel, 1 align-corners
    scale_h: f32,
    scale_w: f32,
}

const MODE_HALF_PIXEL: u32 = 0u;

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// The two source taps of one output index along one axis.
struct Taps {
    i0: u32,   // lower neighbour
    i1: u32,   // upper neighbour (i0 + 1, clamped to n - 1)
    l: f32,    // weight of the upper neighbour
}

// The taps of output index `d` along an axis of input size `n`.
fn source(d: u32, scale: f32, n: u32) -> Taps {
    var s: f32;
    if (p.mode == MODE_HALF_PIXEL) {
        s = max((f32(d) + 0.5) * scale - 0.5, 0.0);
    } else {
        s = f32(d) * scale;
    }
    let i0 = min(u32(floor(s)), n - 1u);
    let i1 = min(i0 + 1u, n - 1u);
    return Taps(i0, i1, s - f32(i0));
}

@compute @workgroup_size(WG)
fn resize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let ox = i % p.ow;
    let oy = (i / p.ow) % p.oh;
    let plane = i / (p.ow * p.oh);
    let sy = source(oy, p.scale_h, p.h);
    let sx = source(ox, p.scale_w, p.w);
    let base = plane * p.h * p.w;
    let r0 = base + sy.i0 * p.w;
    let r1 = base + sy.i1 * p.w;
    let top = (1.0 - sx.l) * x[r0 + sx.i0] + sx.l * x[r0 + sx.i1];
    let bottom = (1.0 - sx.l) * x[r1 + sx.i0] + sx.l * x[r1 + sx.i1];
    y[i] = (1.0 - sy.l) * top + sy.l * bottom;
}

// resize_nearest: nearest-neighbour resize of NCHW maps to [OH, OW], as ONNX Resize with
// mode='nearest' (and PyTorch's F.interpolate modes 'nearest' and 'nearest-exact').
//
// Source coordinate of output index d along an axis (scale computed by the host in f32):
//   asymmetric (0):    s = d * scale                     (scale = in / out)
//   half_pixel (1):    s = t - 0.5, t = (d + 0.5) * scale (scale = in / out)
//   align_corners (2): s = d * scale                     (scale = (in - 1) / (out - 1), or 0)
// Each product is one f32 multiplication, rounded once, as in PyTorch. The half-pixel case
// never computes t - 0.5: a driver could fuse it with the multiplication into an fma and round
// differently. Its rounding is decided on t instead, where f = floor(t), r = t - f (both exact)
// and s = f + r - 0.5:
//   floor(s) = f if r >= 0.5 else f - 1         ceil(s) = f + 1 if r > 0.5 else f
//   round, halves down = f - 1 if r == 0 else f  round, halves up = f
// The index is then clamped to [0, in - 1]. One invocation per output element.

struct Params {
    len: u32,       // N * C * OH * OW
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    coords: u32,    // 0 asymmetric, 1 half_pixel, 2 align_corners
    mode: u32,      // 0 floor, 1 round_prefer_floor, 2 round_prefer_ceil, 3 ceil
    _pad0: u32,
    scale_h: f32,
    scale_w: f32,
    _pad1: u32,
    _pad2: u32,
}

const COORDS_HALF_PIXEL: u32 = 1u;

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// The input index for output index `d` along an axis of input size `n`.
fn source(d: u32, scale: f32, n: u32) -> u32 {
    var i: i32;
    if (p.coords == COORDS_HALF_PIXEL) {
        let t = (f32(d) + 0.5) * scale;
        let f = floor(t);
        let r = t - f;
        let fi = i32(f);
        switch p.mode { // the mode codes of Params
            case 0u: { i = select(fi - 1, fi, r >= 0.5); }
            case 1u: { i = select(fi, fi - 1, r == 0.0); }
            case 2u: { i = fi; }
            default: { i = select(fi, fi + 1, r > 0.5); }
        }
    } else {
        let s = f32(d) * scale;
        let f = floor(s);
        let r = s - f;
        let fi = i32(f);
        switch p.mode {
            case 0u: { i = fi; }
            case 1u: { i = select(fi, fi + 1, r > 0.5); }
            case 2u: { i = select(fi, fi + 1, r >= 0.5); }
            default: { i = select(fi, fi + 1, r > 0.0); }
        }
    }
    return u32(clamp(i, 0, i32(n) - 1));
}

@compute @workgroup_size(WG)
fn resize_nearest(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let ox = i % p.ow;
    let oy = (i / p.ow) % p.oh;
    let plane = i / (p.ow * p.oh);
    let sy = source(oy, p.scale_h, p.h);
    let sx = source(ox, p.scale_w, p.w);
    y[i] = x[(plane * p.h + sy) * p.w + sx];
}

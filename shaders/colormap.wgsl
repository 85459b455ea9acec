// colorize: a CAM [N, 1, H, W] in [0, 1] turned into RGBA8 pixels (packed in a u32, R in the
// low byte, A = 255), optionally over an RGB image [N, 3, H, W] in [0, 1] (three planes).
//
// The colormap index is the grad-cam package's np.uint8(255 * mask): the f32 product,
// truncated toward zero (clamped to 0..255). `lut` holds 513 words: lut[k] is the colormap's
// RGB for index k (packed like the output), lut[256 + v] the bits of the f32 v / 255, rounded
// once on the host (np.float32(heatmap) / 255 exactly, whatever this device's division does),
// and lut[512] = 0 (see keep()).
//   mode 0, heatmap:  the colormap entry.
//   mode 1, blend:    v = heat_w * heat + image_w * img; round(255 * v) (floor(255 v + 0.5)).
//   mode 2, show_cam_on_image(use_rgb=True): v = heat_w * heat + image_w * img, with
//                     heat_w = 1 - image_weight; v = v / max(v) over the image's H x W x 3
//                     values; np.uint8(255 * v) (truncation).
// Every product is kept as its own rounded f32 (`keep`), as NumPy computes it, never fused
// into a multiply-add with the following sum.
//
// Entry colorize_peak (mode 2 only) writes max(v) of each image into `peak`: one workgroup per
// image with a tree reduction. Entry colorize writes one pixel per invocation.

struct Params {
    n: u32,
    hw: u32,
    mode: u32,
    _pad0: u32,
    heat_w: f32,
    image_w: f32,
    _pad1: u32,
    _pad2: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cam: array<f32>;
@group(0) @binding(2) var<storage, read> image: array<f32>;
@group(0) @binding(3) var<storage, read> lut: array<u32>;
@group(0) @binding(4) var<storage, read_write> peak: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<u32>;

var<workgroup> red: array<f32, WG>;

// Returns x. The select on a word the compiler cannot know (lut[512], always 0; read from a
// storage buffer because uniforms may be inlined as constants, as lavapipe does) stops a
// product from being contracted with a following addition into a fused multiply-add, which
// would round differently from NumPy.
fn keep(x: f32) -> f32 {
    return select(x, 0.0, lut[512] != 0u);
}

// np.uint8(255 * m), clamped to the colormap's range.
fn lut_index(m: f32) -> u32 {
    return u32(clamp(keep(255.0 * m), 0.0, 255.0));
}

// Channel ch (0 R, 1 G, 2 B) of colormap entry k as float32(byte) / 255.
fn heat(k: u32, ch: u32) -> f32 {
    let byte = (lut[k] >> (8u * ch)) & 0xffu;
    return bitcast<f32>(lut[256u + byte]);
}

// heat_w * heat + image_w * img for channel ch of pixel pix of image n.
fn mixed(n: u32, pix: u32, k: u32, ch: u32) -> f32 {
    let i = image[(n * 3u + ch) * p.hw + pix];
    return keep(p.heat_w * heat(k, ch)) + keep(p.image_w * i);
}

@compute @workgroup_size(WG)
fn colorize_peak(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let n = wid.x + wid.y * nwg.x;
    var len = 0u;
    if (n < p.n) {
        len = p.hw;
    }
    var m = -3.40282347e38;
    for (var pix = tid; pix < len; pix += WG) {
        let k = lut_index(cam[n * p.hw + pix]);
        for (var ch = 0u; ch < 3u; ch++) {
            m = max(m, mixed(n, pix, k, ch));
        }
    }
    red[tid] = m;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (tid < step) {
            red[tid] = max(red[tid], red[tid + step]);
        }
        workgroupBarrier();
    }
    if (len > 0u && tid == 0u) {
        peak[n] = red[0];
    }
}

@compute @workgroup_size(WG)
fn colorize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.n * p.hw) {
        return;
    }
    let n = i / p.hw;
    let pix = i % p.hw;
    let k = lut_index(cam[i]);
    var rgb = lut[k] & 0xffffffu;
    if (p.mode == 1u) {
        rgb = 0u;
        for (var ch = 0u; ch < 3u; ch++) {
            let v = mixed(n, pix, k, ch);
            let q = u32(clamp(floor(keep(255.0 * v) + 0.5), 0.0, 255.0));
            rgb |= q << (8u * ch);
        }
    } else if (p.mode == 2u) {
        rgb = 0u;
        let pk = peak[n];
        for (var ch = 0u; ch < 3u; ch++) {
            let v = mixed(n, pix, k, ch) / pk;
            let q = u32(clamp(keep(255.0 * v), 0.0, 255.0));
            rgb |= q << (8u * ch);
        }
    }
    out[i] = rgb | 0xff000000u;
}

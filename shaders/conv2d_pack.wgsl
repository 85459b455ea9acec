// conv2d_pack: the operands of conv2d_packed (see there for why), as f32 vec4s over quads of
// the reduction channels, padded with zeros.
//
// pack_input: x [N][groups * chans][h][w] -> [N][groups][quads][hp][wp] vec4s, pixel (y, x)
// of the padded plane holding channels 4q..4q+3 of input pixel (y - pad_top, x - pad_left), 0
// outside the input or past `chans` (quads = ceil(chans / 4)).
// pack_weights: -> [groups][rows_padded][quads][kh][kw] vec4s, element k of the vec4 at
// (g, r, q, ky, kx) being wt[base + g * s_group + r * s_row + (4q + k) * s_chan + ky * s_ky +
// kx * s_kx], 0 for rows r >= rows or channels past `chans`. The signed strides read a conv's
// weights as they are (forward) or transposed and flipped (its input gradient). With
// `taps_outer` the taps come before the quads, [groups][rows_padded][kh][kw][quads]: the
// layout conv2d_packed_1x1 reads weights packed transposed in, its reduction running over
// (row, tap) (im2col planes, conv2d_planes.wgsl) and the quads over output channels.
//
// pack_input_vec4: pack_input for rows of whole vec4s held whole by the padded rows (below).
//
// One invocation per padded row of a channel quad (pack_input) or per (group, row, quad) with
// all its taps (pack_weights), so the index decoding is once per row, not per vec4; numbered
// flat (folded into y past 65535 workgroups), `count` of them.

alias Store = f32;

struct Params {
    count: u32, quads: u32, chans: u32, groups: u32,
    h: u32, w: u32, hp: u32, wp: u32,
    pad_top: u32, pad_left: u32, rows: u32, rows_padded: u32,
    base: i32, s_group: i32, s_row: i32, s_chan: i32,
    s_ky: i32, s_kx: i32, taps_outer: u32, _pad1: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<Store>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// Channels c..c+3 of a quad, read at `at + k * step` (i32 for the signed weight strides; a
// buffer of at most 2 GiB keeps indices in range); 0 for channels past `chans`.
fn quad(at: i32, step: i32, c: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var k = 0u; k < 4u; k++) {
        if (c + k < p.chans) {
            v[k] = f32(src[u32(at + i32(k) * step)]);
        }
    }
    return v;
}

// Packed row `i` of the input: its channel quad q, plane (b * groups + g) and the row iy of x
// it holds (outside x for the padding's rows).
struct PackedRow {
    q: u32,
    plane: u32,
    iy: i32,
}

fn packed_row(i: u32) -> PackedRow {
    let t = i / p.hp;
    return PackedRow(t % p.quads, t / p.quads, i32(i % p.hp) - i32(p.pad_top));
}

@compute @workgroup_size(WG)
fn pack_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // One padded row (plane, quad q, row py) per invocation.
    let i = flat(gid, nwg);
    if (i >= p.count) {
        return;
    }
    let r = packed_row(i);
    let q = r.q;
    let plane = r.plane;
    let iy = r.iy;
    let hw = p.h * p.w;
    let row = i32((plane * p.chans + 4u * q) * hw) + iy * i32(p.w) - i32(p.pad_left);
    let inside_y = iy >= 0 && iy < i32(p.h);
    for (var px = 0u; px < p.wp; px++) {
        let ix = i32(px) - i32(p.pad_left);
        var v = vec4<f32>(0.0);
        if (inside_y && ix >= 0 && ix < i32(p.w)) {
            v = quad(row + i32(px), i32(hw), 4u * q);
        }
        dst[i * p.wp + px] = v;
    }
}

// x read as vec4s over pixels, by pack_input_vec4 only.
@group(0) @binding(1) var<storage, read> src4: array<vec4<Store>>;

// pack_input for rows of whole vec4s that the padded row holds whole (w a multiple of 4,
// pad_top and pad_left >= 0, wp >= pad_left + w: a conv's padded x, dy in a weight gradient or
// a stride-1 input gradient, x of a 1x1 conv): per 4 pixels one vec4 load from each of the
// quad's 4 channel planes, transposed, instead of 16 scalar loads (on llvmpipe every load is a
// loop over the SIMD lanes). Channels past `chans` read the last one's plane and are zeroed, as
// in quad; rows above or below x read its first or last row and are zeroed (a select, not a
// branch: llvmpipe would run both sides).
@compute @workgroup_size(WG)
fn pack_input_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // One padded row (plane, quad q, row py) per invocation.
    let i = flat(gid, nwg);
    if (i >= p.count) {
        return;
    }
    let r = packed_row(i);
    let q = r.q;
    let plane = r.plane;
    let iy = r.iy;
    let inside_y = iy >= 0 && iy < i32(p.h);
    let wq = p.w / 4u;
    let hwq = p.h * wq;
    let last = min(p.chans - 4u * q, 4u) - 1u;
    let r0 = (plane * p.chans + 4u * q) * hwq + u32(clamp(iy, 0, i32(p.h) - 1)) * wq;
    let r1 = r0 + min(1u, last) * hwq;
    let r2 = r0 + min(2u, last) * hwq;
    let r3 = r0 + min(3u, last) * hwq;
    let z = vec4<f32>(0.0);
    let row = i * p.wp;
    for (var px = 0u; px < p.pad_left; px++) {
        dst[row + px] = z;
    }
    for (var k = 0u; k < wq; k++) {
        let a = select(z, vec4<f32>(src4[r0 + k]), inside_y);
        let b = select(z, vec4<f32>(src4[r1 + k]), inside_y && last >= 1u);
        let c = select(z, vec4<f32>(src4[r2 + k]), inside_y && last >= 2u);
        let d = select(z, vec4<f32>(src4[r3 + k]), inside_y && last >= 3u);
        let o = row + p.pad_left + 4u * k;
        dst[o] = vec4<f32>(a.x, b.x, c.x, d.x);
        dst[o + 1u] = vec4<f32>(a.y, b.y, c.y, d.y);
        dst[o + 2u] = vec4<f32>(a.z, b.z, c.z, d.z);
        dst[o + 3u] = vec4<f32>(a.w, b.w, c.w, d.w);
    }
    for (var px = p.pad_left + p.w; px < p.wp; px++) {
        dst[row + px] = z;
    }
}

@compute @workgroup_size(WG)
fn pack_weights(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // One (group g, row r, quad q) per invocation, all its KH x KW taps (here h and w).
    let i = flat(gid, nwg);
    if (i >= p.count) {
        return;
    }
    let q = i % p.quads;
    let t = i / p.quads;
    let r = t % p.rows_padded;
    let g = t / p.rows_padded;
    let at = p.base + i32(g) * p.s_group + i32(r) * p.s_row + i32(4u * q) * p.s_chan;
    for (var ky = 0u; ky < p.h; ky++) {
        for (var kx = 0u; kx < p.w; kx++) {
            var v = vec4<f32>(0.0);
            if (r < p.rows) {
                v = quad(at + i32(ky) * p.s_ky + i32(kx) * p.s_kx, p.s_chan, 4u * q);
            }
            if (p.taps_outer != 0u) {
                dst[((t * p.h + ky) * p.w + kx) * p.quads + q] = v;
            } else {
                dst[(i * p.h + ky) * p.w + kx] = v;
            }
        }
    }
}

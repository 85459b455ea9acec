// Training-mode batch normalisation over axis 1 of an [N, C, ...] tensor, `inner` elements per
// (n, c), `count` = N * inner values per channel.
//
//   batch_norm_train_stats:  one workgroup per channel. Stage 0 sums x over the positions
//                            [begin, end) of the channel into acc[c]; stage 1 sums
//                            (x - mean)^2 into acc[C + c] with mean = acc[c] / count. A long
//                            channel is split over several dispatches (begin, end), recorded in
//                            order; the first of a stage stores, later ones add. The last
//                            dispatch of stage 1 (finalize = 1) writes saved_mean, saved_invstd
//                            and updates the running statistics in place (PyTorch: running =
//                            (1 - momentum) * running + momentum * stat, unbiased variance).
//   batch_norm_train_apply:  y = (x - mean[c]) * invstd[c] * scale[c] + bias[c]; one invocation
//                            per element.
//   batch_norm_train_backward_reduce: dbias[c] = sum dy, dscale[c] = sum dy * xhat over the
//                            positions [begin, end) of channel c (split like the stats).
//   batch_norm_train_backward_dx: dx = scale * invstd / count * (count * dy - dbias - xhat * dscale).
//
// Splitting keeps every invocation's loop short: Mesa llvmpipe stops an invocation after 65535
// loop iterations in total.

struct Params {
    len: u32,        // elements (elementwise entries) or channels (reductions)
    c: u32,
    inner: u32,
    count: u32,      // N * inner
    begin: u32,      // first position of this dispatch's slice of each channel
    end: u32,        // one past its last
    stage: u32,      // stats: 0 sum, 1 centered squares
    accumulate: u32, // add to what is stored (not the first slice)
    finalize: u32,   // last slice of stage 1: write the statistics
    momentum: f32,
    eps: f32,
    _pad: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
// Bindings by entry:
//   stats:           1 x, 2 saved_mean, 3 saved_invstd, 4 running_mean, 5 running_var, 6 acc
//   apply:           1 x, 2 saved_mean, 3 saved_invstd, 4 scale, 5 bias, 6 y
//   backward_reduce: 1 x, 2 saved_mean, 3 saved_invstd, 4 dy, 5 dscale, 6 dbias
//   backward_dx:     1 x, 2 saved_mean, 3 saved_invstd, 4 dy, 5 dscale, 6 dbias, 7 scale, 8 dx
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> saved_mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> saved_invstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;
@group(0) @binding(5) var<storage, read_write> b5: array<f32>;
@group(0) @binding(6) var<storage, read_write> b6: array<f32>;
@group(0) @binding(7) var<storage, read> scale7: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;

var<workgroup> red_a: array<f32, WG>;
var<workgroup> red_b: array<f32, WG>;

// Value k = n * inner + j of channel ch's values as (n, j), and the index of (n, j) in x.
// The reductions step (n, j) along their loops (k += WG) by `stride_nj`'s additions instead of
// dividing k per element: each division is a loop over the SIMD lanes on llvmpipe.
fn split_k(k: u32) -> vec2<u32> {
    return vec2<u32>(k / p.inner, k % p.inner);
}

fn index_of(nj: vec2<u32>, ch: u32) -> u32 {
    return (nj.x * p.c + ch) * p.inner + nj.y;
}

// (n, j) of k + WG, given (n, j) of k and `d` = split_k(WG).
fn stride_nj(nj: vec2<u32>, d: vec2<u32>) -> vec2<u32> {
    let j = nj.y + d.y;
    let wrap = j >= p.inner;
    return vec2<u32>(nj.x + d.x + select(0u, 1u, wrap), select(j, j - p.inner, wrap));
}

// The forward's output for input v of a channel (mean, 1 / std, scale, shift), and the input
// gradient for output gradient g at input v, `a` = scale * invstd / count, `n` = count: the
// formulas the per-element and the per-plane entries share.
fn normalized(v: f32, mean: f32, istd: f32, scale: f32, shift: f32) -> f32 {
    return (v - mean) * istd * scale + shift;
}

fn input_grad(g: f32, v: f32, mean: f32, istd: f32, a: f32, n: f32, dbias: f32, dscale: f32) -> f32 {
    let xhat = (v - mean) * istd;
    return a * (n * g - dbias - xhat * dscale);
}

fn reduce_two(lid: u32) {
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (lid < step) {
            red_a[lid] = red_a[lid] + red_a[lid + step];
            red_b[lid] = red_b[lid] + red_b[lid + step];
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(WG)
fn batch_norm_train_stats(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let ch = wid.x + wid.y * nwg.x;
    let valid = ch < p.len;
    var begin = 0u;
    var end = 0u;
    var m = 0.0;
    if (valid) {
        begin = p.begin;
        end = p.end;
        if (p.stage == 1u) {
            m = b6[ch] / f32(p.count);
        }
    }
    var s = 0.0;
    let d = split_k(WG);
    var nj = split_k(begin + lid.x);
    for (var k = begin + lid.x; k < end; k += WG) {
        let v = x[index_of(nj, ch)];
        nj = stride_nj(nj, d);
        if (p.stage == 0u) {
            s += v;
        } else {
            s += (v - m) * (v - m);
        }
    }
    red_a[lid.x] = s;
    red_b[lid.x] = 0.0;
    reduce_two(lid.x);
    if (valid && lid.x == 0u) {
        let slot = ch + p.stage * p.c;
        var total = red_a[0];
        if (p.accumulate != 0u) {
            total += b6[slot];
        }
        b6[slot] = total;
        if (p.finalize != 0u) {
            let n = f32(p.count);
            let var_b = total / n;
            saved_mean[ch] = m;
            saved_invstd[ch] = 1.0 / sqrt(var_b + p.eps);
            let var_u = total / (n - 1.0);
            b4[ch] = (1.0 - p.momentum) * b4[ch] + p.momentum * m;
            b5[ch] = (1.0 - p.momentum) * b5[ch] + p.momentum * var_u;
        }
    }
}

@compute @workgroup_size(WG)
fn batch_norm_train_apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let ch = (i / p.inner) % p.c;
    b6[i] = normalized(x[i], saved_mean[ch], saved_invstd[ch], b4[ch], b5[ch]);
}

// The elementwise entries on CPU adapters: one invocation per slice of at most PLANE_SLICE
// values of an (n, c) plane (p.len counts slices: planes * ceil(inner / PLANE_SLICE); llvmpipe
// stops loops after 65535 iterations), the channel's parameters read once and the slice
// walked without the per-element division by `inner` and by `c` (each a loop over the SIMD
// lanes on llvmpipe) and the four parameter loads. The same expressions, so the same values.
const PLANE_SLICE: u32 = 16384u; // PLANE_SLICE in src/ops/train.rs

// Plane, first and one-past-last offset of slice `i`.
fn plane_slice(i: u32) -> vec3<u32> {
    let slices = (p.inner + PLANE_SLICE - 1u) / PLANE_SLICE;
    let plane = i / slices;
    let first = plane * p.inner + (i % slices) * PLANE_SLICE;
    return vec3<u32>(plane, first, min(first + PLANE_SLICE, (plane + 1u) * p.inner));
}

@compute @workgroup_size(WG)
fn batch_norm_train_apply_planes(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let s = plane_slice(i);
    let ch = s.x % p.c;
    let mean = saved_mean[ch];
    let istd = saved_invstd[ch];
    let scale = b4[ch];
    let shift = b5[ch];
    for (var k = s.y; k < s.z; k++) {
        b6[k] = normalized(x[k], mean, istd, scale, shift);
    }
}

@compute @workgroup_size(WG)
fn batch_norm_train_backward_reduce(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let ch = wid.x + wid.y * nwg.x;
    let valid = ch < p.len;
    var begin = 0u;
    var end = 0u;
    var m = 0.0;
    var istd = 0.0;
    if (valid) {
        begin = p.begin;
        end = p.end;
        m = saved_mean[ch];
        istd = saved_invstd[ch];
    }
    var s = 0.0;
    var b = 0.0;
    let d = split_k(WG);
    var nj = split_k(begin + lid.x);
    for (var k = begin + lid.x; k < end; k += WG) {
        let i = index_of(nj, ch);
        nj = stride_nj(nj, d);
        let g = b4[i];
        s += g * (x[i] - m);
        b += g;
    }
    red_a[lid.x] = s;
    red_b[lid.x] = b;
    reduce_two(lid.x);
    if (valid && lid.x == 0u) {
        var ds = red_a[0] * istd;
        var db = red_b[0];
        if (p.accumulate != 0u) {
            ds += b5[ch];
            db += b6[ch];
        }
        b5[ch] = ds;
        b6[ch] = db;
    }
}

@compute @workgroup_size(WG)
fn batch_norm_train_backward_dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let ch = (i / p.inner) % p.c;
    let istd = saved_invstd[ch];
    let n = f32(p.count);
    dx[i] = input_grad(b4[i], x[i], saved_mean[ch], istd, scale7[ch] * istd / n, n, b6[ch], b5[ch]);
}

// batch_norm_train_backward_dx per plane on CPU adapters (see batch_norm_train_apply_planes).
@compute @workgroup_size(WG)
fn batch_norm_train_backward_dx_planes(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let s = plane_slice(i);
    let ch = s.x % p.c;
    let mean = saved_mean[ch];
    let istd = saved_invstd[ch];
    let n = f32(p.count);
    let a = scale7[ch] * istd / n;
    let dbias = b6[ch];
    let dscale = b5[ch];
    for (var k = s.y; k < s.z; k++) {
        dx[k] = input_grad(b4[k], x[k], mean, istd, a, n, dbias, dscale);
    }
}

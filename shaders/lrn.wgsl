// lrn: cross-channel local response normalisation of an [N, C, ...] tensor, `inner` elements per
// (n, c):
//   y[n, c, s] = x[n, c, s] / (k + alpha / size * sum_{c' in window(c)} x[n, c', s]^2)^beta
// with window(c) = c - before ..= c + after, clipped to [0, C). One invocation per element.

struct Params {
    len: u32,
    c: u32,
    inner: u32,
    size: u32,
    before: u32,
    after: u32,
    alpha: f32,
    beta: f32,
    k: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn lrn(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let s = i % p.inner;
    let t = i / p.inner;
    let ch = t % p.c;
    let n = t / p.c;
    var lo = 0u;
    if (ch > p.before) {
        lo = ch - p.before;
    }
    let hi = min(ch + p.after, p.c - 1u);
    var sum = 0.0;
    for (var cc = lo; cc <= hi; cc++) {
        let v = x[(n * p.c + cc) * p.inner + s];
        sum = fma(v, v, sum);
    }
    y[i] = x[i] / pow(p.k + p.alpha * (sum / f32(p.size)), p.beta);
}

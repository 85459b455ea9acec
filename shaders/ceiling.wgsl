// ceiling: microkernels that measure what the adapter can do at best, the bar every other
// kernel is reported against (`featuremap bench --ceiling`).
//
// fma_peak: every invocation runs 8 independent vec4 FMA chains (32 lanes of FMA in flight,
// enough to hide FMA latency on CPUs and GPUs alike), `iters` times, and writes one value so
// the compiler cannot drop the work. FLOPs = invocations * iters * 8 chains * 4 lanes * 2.
// copy: y = x over vec4<f32>; bytes moved = 2 * size.
// fma_loads: fma_peak with LOADS scalar loads per iteration from per-invocation addresses (a
// gather, as every convolution or GEMM operand load is) feeding the 32 FMAs of the iteration:
// how fast arithmetic runs when each load feeds 32 / LOADS FMAs. `len` must be a power of two
// no larger than the length of `src_scalar`, whose values are read (binding 3; binding 1 only
// seeds, as in fma_peak). With VEC4 = 1 the loads are vec4s from `src` instead (all 4
// components summed; `len` then counts src's vec4s): what a kernel gains by loading 4 values
// at a time (conv2d_packed does). VEC4 is an override, so each variant compiles without the
// other's branch.
// fma_stores: fma_peak with STORES vec4 stores per iteration to per-invocation addresses (as
// every kernel's output stores are), consecutive invocations writing consecutive vec4s of
// `dst` (the best case for caches): how fast arithmetic runs when each vec4 stored costs
// 32 / STORES FMAs. `len` must be a power of two no larger than dst's length in vec4s.

struct Params {
    iters: u32,
    len: u32,
    _pad0: u32,
    _pad1: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn fma_peak(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    // Seeded from `src` (zeros) so both entry points share one binding layout.
    let s = src[0].x + f32(i & 255u) * 1e-3;
    // Multiplier just below 1 and a small addend keep every chain finite for any iteration count.
    let m = vec4<f32>(0.999999);
    let c = vec4<f32>(1e-6);
    var a0 = vec4<f32>(s, s + 1.0, s + 2.0, s + 3.0);
    var a1 = a0 + 0.1;
    var a2 = a0 + 0.2;
    var a3 = a0 + 0.3;
    var a4 = a0 + 0.4;
    var a5 = a0 + 0.5;
    var a6 = a0 + 0.6;
    var a7 = a0 + 0.7;
    for (var k = 0u; k < p.iters; k++) {
        a0 = fma(a0, m, c);
        a1 = fma(a1, m, c);
        a2 = fma(a2, m, c);
        a3 = fma(a3, m, c);
        a4 = fma(a4, m, c);
        a5 = fma(a5, m, c);
        a6 = fma(a6, m, c);
        a7 = fma(a7, m, c);
    }
    if (i < p.len) {
        dst[i] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    }
}

@compute @workgroup_size(WG)
fn copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i < p.len) {
        dst[i] = src[i];
    }
}

override LOADS: u32 = 1u;
override VEC4: u32 = 0u;

@group(0) @binding(3) var<storage, read> src_scalar: array<f32>;

@compute @workgroup_size(WG)
fn fma_loads(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    let mask = p.len - 1u;
    let s = src[0].x + f32(i & 255u) * 1e-3;
    let m = vec4<f32>(0.999999);
    var a0 = vec4<f32>(s, s + 1.0, s + 2.0, s + 3.0);
    var a1 = a0 + 0.1;
    var a2 = a0 + 0.2;
    var a3 = a0 + 0.3;
    var a4 = a0 + 0.4;
    var a5 = a0 + 0.5;
    var a6 = a0 + 0.6;
    var a7 = a0 + 0.7;
    var at = i * 7u;
    for (var k = 0u; k < p.iters; k++) {
        var v = 0.0;
        for (var l = 0u; l < LOADS; l++) {
            if (VEC4 != 0u) {
                let q = src[at & mask];
                v += q.x + q.y + q.z + q.w;
            } else {
                v += src_scalar[at & mask];
            }
            at += 33u;
        }
        let c = vec4<f32>(v * 1e-6);
        a0 = fma(a0, m, c);
        a1 = fma(a1, m, c);
        a2 = fma(a2, m, c);
        a3 = fma(a3, m, c);
        a4 = fma(a4, m, c);
        a5 = fma(a5, m, c);
        a6 = fma(a6, m, c);
        a7 = fma(a7, m, c);
    }
    if (i < arrayLength(&dst)) {
        dst[i] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    }
}

override STORES: u32 = 1u;

@compute @workgroup_size(WG)
fn fma_stores(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    let invocations = nwg.x * nwg.y * WG;
    let mask = p.len - 1u;
    let s = src[0].x + f32(i & 255u) * 1e-3;
    let m = vec4<f32>(0.999999);
    let c = vec4<f32>(1e-6);
    var a0 = vec4<f32>(s, s + 1.0, s + 2.0, s + 3.0);
    var a1 = a0 + 0.1;
    var a2 = a0 + 0.2;
    var a3 = a0 + 0.3;
    var a4 = a0 + 0.4;
    var a5 = a0 + 0.5;
    var a6 = a0 + 0.6;
    var a7 = a0 + 0.7;
    var at = i;
    for (var k = 0u; k < p.iters; k++) {
        a0 = fma(a0, m, c);
        a1 = fma(a1, m, c);
        a2 = fma(a2, m, c);
        a3 = fma(a3, m, c);
        a4 = fma(a4, m, c);
        a5 = fma(a5, m, c);
        a6 = fma(a6, m, c);
        a7 = fma(a7, m, c);
        for (var l = 0u; l < STORES; l++) {
            dst[at & mask] = a0;
            at += invocations;
        }
    }
    if (i < arrayLength(&dst)) {
        dst[i] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    }
}

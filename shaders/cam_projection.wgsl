// cam_first_principal_projection: the grad-cam package's get_2d_projection per image, by power
// iteration, with a fixed sign.
//
// For image n, X is A[n] seen as H*W rows of C values (X[q, c] = A[n, c, q], NaN read as 0),
// centred by the column means m[c]. v1, the first right singular vector of X, is the dominant
// eigenvector of X^T X; power iteration applies X^T X as two matrix-vector products, never
// forming it:
//   u = (X - m) v            (H*W values)
//   w = (X - m)^T u          (C values)
//   v = w / ||w||            (w is first divided by max|w| so that ||w||^2 cannot overflow)
// from a fixed pseudo-random start vector, until no component of v moves by more than
// tol * max|v|, or v has stalled at f32's rounding floor (the movement has not reached a new
// minimum for STALL_ITERS iterations and that minimum is at most STALL_TOL * max|v|: with many
// channels, rounding alone moves v by about 1e-7 relative each iteration), or `iters`
// iterations have run. The result is (X - m) v, negated when
// |min| > |max| (the package's get_2d_projection_with_sign_correction), so that the
// largest-magnitude value is positive.
//
// One workgroup per image runs everything in one dispatch. Its vectors live in a storage
// scratch buffer, 3C + H*W floats per image: [m (C) | v (C) | w (C) | u (H*W)]; storage
// barriers order the phases. The loop's exit condition is broadcast with
// workgroupUniformLoad, so every barrier stays in uniform control flow.

struct Params {
    n: u32,
    c: u32,
    hw: u32,
    iters: u32,
    tol: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// Workgroup size; must be a power of two.
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<f32, WG>;
var<workgroup> done_flag: u32;

const HUGE: f32 = 3.40282347e38;
const STALL_ITERS: u32 = 16u;
const STALL_TOL: f32 = 1e-5;

// A[n, c, q] with NaN read as 0 (the package's activation_batch[np.isnan(...)] = 0), tested
// on the bits so that no fast-math assumption can drop the test.
fn act(i: u32) -> f32 {
    let v = a[i];
    if ((bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u) {
        return 0.0;
    }
    return v;
}

// Component c of the start vector: a hashed (PCG) sign and magnitude in [1, 2), never zero,
// so that the start is not orthogonal to v1 except by accident of measure zero.
fn start(c: u32) -> f32 {
    var h = c * 747796405u + 2891336453u;
    h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
    h = (h >> 22u) ^ h;
    let mag = 1.0 + f32(h >> 9u) / 8388608.0;
    return select(-mag, mag, (h & 1u) == 1u);
}

// Max of the WG values `v` of the workgroup, returned to every invocation (uniform control flow).
fn workgroup_max(tid: u32, v: f32) -> f32 {
    red[tid] = v;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (tid < step) {
            red[tid] = max(red[tid], red[tid + step]);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

// Sum of the WG values `v` of the workgroup, returned to every invocation (uniform control flow).
fn workgroup_sum(tid: u32, v: f32) -> f32 {
    red[tid] = v;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (tid < step) {
            red[tid] = red[tid] + red[tid + step];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(WG)
fn cam_first_principal_projection(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let img = wid.x + wid.y * nwg.x;
    if (img >= p.n) {
        return;
    }
    let C = p.c;
    let HW = p.hw;
    let abase = img * C * HW;
    let sm = img * (3u * C + HW); // column means
    let sv = sm + C;              // v
    let sw = sv + C;              // w
    let su = sw + C;              // u

    // Column means and the start vector.
    for (var c = tid; c < C; c += WG) {
        var s = 0.0;
        for (var q = 0u; q < HW; q++) {
            s += act(abase + c * HW + q);
        }
        scratch[sm + c] = s / f32(HW);
        scratch[sv + c] = start(c);
    }
    storageBarrier();

    // Invocation 0's record of the smallest movement so far, for the stall test.
    var best = HUGE;
    var since_best = 0u;
    for (var it = 0u; it < p.iters; it++) {
        // u = (X - m) v
        for (var q = tid; q < HW; q += WG) {
            var s = 0.0;
            for (var c = 0u; c < C; c++) {
                s += (act(abase + c * HW + q) - scratch[sm + c]) * scratch[sv + c];
            }
            scratch[su + q] = s;
        }
        storageBarrier();
        // w = (X - m)^T u
        var wmax = 0.0;
        for (var c = tid; c < C; c += WG) {
            let mean = scratch[sm + c];
            var s = 0.0;
            for (var q = 0u; q < HW; q++) {
                s += (act(abase + c * HW + q) - mean) * scratch[su + q];
            }
            scratch[sw + c] = s;
            wmax = max(wmax, abs(s));
        }
        wmax = workgroup_max(tid, wmax);
        // Each invocation reads back only the w[c] it wrote, so no barrier is needed here.
        var inv = 0.0;
        if (wmax > 0.0) {
            inv = 1.0 / wmax;
        }
        var ss = 0.0;
        for (var c = tid; c < C; c += WG) {
            let t = scratch[sw + c] * inv;
            ss += t * t;
        }
        let nrm = sqrt(workgroup_sum(tid, ss));
        // v_new = (w / max|w|) / ||w / max|w|||; track how far v moved.
        var moved = 0.0;
        var largest = 0.0;
        for (var c = tid; c < C; c += WG) {
            if (wmax > 0.0) {
                let vn = (scratch[sw + c] * inv) / nrm;
                moved = max(moved, abs(vn - scratch[sv + c]));
                largest = max(largest, abs(vn));
                scratch[sv + c] = vn;
            }
        }
        moved = workgroup_max(tid, moved);
        largest = workgroup_max(tid, largest);
        if (tid == 0u) {
            if (moved < best) {
                best = moved;
                since_best = 0u;
            } else {
                since_best += 1u;
            }
            let converged = moved <= p.tol * largest;
            let stalled = since_best >= STALL_ITERS && best <= STALL_TOL * largest;
            // w == 0: X v = 0 and the projection is zero whatever v is; stop.
            done_flag = select(0u, 1u, wmax == 0.0 || converged || stalled);
        }
        storageBarrier();
        if (workgroupUniformLoad(&done_flag) != 0u) {
            break;
        }
    }

    // projection = (X - m) v, then the sign rule.
    var lo = HUGE;
    var hi = -HUGE;
    for (var q = tid; q < HW; q += WG) {
        var s = 0.0;
        for (var c = 0u; c < C; c++) {
            s += (act(abase + c * HW + q) - scratch[sm + c]) * scratch[sv + c];
        }
        scratch[su + q] = s;
        lo = min(lo, s);
        hi = max(hi, s);
    }
    lo = -workgroup_max(tid, -lo);
    hi = workgroup_max(tid, hi);
    var sign = 1.0;
    if (abs(lo) > abs(hi)) {
        sign = -1.0;
    }
    for (var q = tid; q < HW; q += WG) {
        y[img * HW + q] = sign * scratch[su + q];
    }
}

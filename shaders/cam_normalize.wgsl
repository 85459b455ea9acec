// cam_normalize: the grad-cam package's scale_cam_image without the resize, per image (leading
// index) of `len` values:
//   x = max(x, 0)            (when relu != 0: the package's np.maximum(cam, 0))
//   x = x - min(x)
//   x = x / (1e-7 + max(x))  (max(x - min) is max - min: rounding is monotonic)
// A constant image becomes all zeros.
//
// One workgroup per image, folded over workgroups x and y. Each invocation scans a strided
// slice for its minimum and maximum, the workgroup combines them with a tree reduction in
// workgroup memory, then every invocation writes its slice.

struct Params {
    planes: u32,
    len: u32,
    relu: u32,
    _pad: u32,
}

// Workgroup size; must be a power of two.
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

var<workgroup> red_min: array<f32, WG>;
var<workgroup> red_max: array<f32, WG>;
var<workgroup> range: f32;

const HUGE: f32 = 3.40282347e38;

fn load(i: u32) -> f32 {
    let v = x[i];
    if (p.relu != 0u) {
        return max(v, 0.0);
    }
    return v;
}

@compute @workgroup_size(WG)
fn cam_normalize(
    @builtin(local_invocation_index) tid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let plane = wid.x + wid.y * nwg.x;
    var len = 0u;
    if (plane < p.planes) {
        len = p.len;
    }
    let base = plane * p.len;

    var lo = HUGE;
    var hi = -HUGE;
    for (var k = tid; k < len; k += WG) {
        let v = load(base + k);
        lo = min(lo, v);
        hi = max(hi, v);
    }
    red_min[tid] = lo;
    red_max[tid] = hi;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step = step / 2u) {
        if (tid < step) {
            red_min[tid] = min(red_min[tid], red_min[tid + step]);
            red_max[tid] = max(red_max[tid], red_max[tid + step]);
        }
        workgroupBarrier();
    }
    let mn = red_min[0];
    // max - min goes through workgroup memory so that it is rounded on its own, as NumPy
    // rounds it: compilers may otherwise reassociate 1e-7 + (max - min) into
    // (1e-7 + max) - min (lavapipe does), which is 0 for a constant map of 3.0 (1e-7 is below
    // half an ULP of 3), turning NumPy's zeros into 0 / 0 = NaN.
    if (tid == 0u) {
        range = red_max[0] - mn;
    }
    workgroupBarrier();
    let denom = 1e-7 + range;
    for (var k = tid; k < len; k += WG) {
        y[base + k] = (load(base + k) - mn) / denom;
    }
}

// reduce: ReduceSum / ReduceMean / ReduceMax over a set of axes of a tensor of rank <= 6.
//
// The host splits the axes (padded on the left to rank 6) into kept and reduced ones. Output
// element r (one per combination of kept indices, in row-major order) reduces the red_len
// input elements at base(r) + offset(j), j over the reduced indices in row-major order:
//   base(r)   = sum over kept dims d of   coord_d(r) * keep_stride[d]
//   offset(j) = sum over reduced dims d of coord_d(j) * red_stride[d]
// (unused dimension slots have size 1 and stride 0). Each output is reduced by TPR
// cooperating invocations (a power of two, set per shape at pipeline creation): each strides
// over the reduction, then the TPR partial results are combined by a tree reduction in
// workgroup memory. Mean divides the sum by red_len; max starts from the lowest finite f32.

struct Params {
    rows: u32,                        // output elements
    red_len: u32,                     // input elements per output
    op: u32,                          // 0 sum, 1 mean, 2 max
    _pad0: u32,
    keep_dims: array<vec4<u32>, 2>,   // sizes of the kept dimensions (1 in other slots)
    keep_stride: array<vec4<u32>, 2>, // input strides of the kept dimensions (0 elsewhere)
    red_dims: array<vec4<u32>, 2>,    // sizes of the reduced dimensions (1 in other slots)
    red_stride: array<vec4<u32>, 2>,  // input strides of the reduced dimensions (0 elsewhere)
}

const RANK: u32 = 6u;
const OP_MEAN: u32 = 1u;
const OP_MAX: u32 = 2u;
const LOWEST: f32 = -3.40282347e38;

override WG: u32 = 256u;
override TPR: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn reduce(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + tid / TPR;
    let lane = tid % TPR;
    let take_max = p.op == OP_MAX;
    // Invocations past the last row still take part in the barriers, with an empty loop.
    var len = 0u;
    if (row < p.rows) {
        len = p.red_len;
    }
    var base = 0u;
    var rem = row;
    for (var d = RANK; d > 0u; d--) {
        let dd = d - 1u;
        let n = p.keep_dims[dd / 4u][dd % 4u];
        base += (rem % n) * p.keep_stride[dd / 4u][dd % 4u];
        rem = rem / n;
    }

    var acc = select(0.0, LOWEST, take_max);
    for (var j = lane; j < len; j += TPR) {
        var off = 0u;
        var r = j;
        for (var d = RANK; d > 0u; d--) {
            let dd = d - 1u;
            let n = p.red_dims[dd / 4u][dd % 4u];
            off += (r % n) * p.red_stride[dd / 4u][dd % 4u];
            r = r / n;
        }
        let v = x[base + off];
        acc = select(acc + v, max(acc, v), take_max);
    }

    red[tid] = acc;
    workgroupBarrier();
    for (var s = TPR / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            let o = red[tid + s];
            red[tid] = select(red[tid] + o, max(red[tid], o), take_max);
        }
        workgroupBarrier();
    }
    if (lane == 0u && row < p.rows) {
        var v = red[tid];
        if (p.op == OP_MEAN) {
            v = v / f32(p.red_len);
        }
        y[row] = v;
    }
}

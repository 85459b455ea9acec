// binary_backward: the gradient of one operand of a broadcasting binary op; and
// reduce_sum_to_shape, the same reduction of the term dy alone.
//
// The full (output) shape is padded on the left to rank 6. The target has the full shape with
// size 1 on the dimensions it was broadcast along: bit d of `keep` is set on the dimensions it
// keeps. Each target element (a "row") is the sum, over the red_len positions of the broadcast
// dimensions, of scale * term, where the term is one of
//   0: dy                1: -dy               2: dy * b           3: dy * a
//   4: dy / b            5: -dy * a / (b * b)
// with a and b read through their broadcast strides (0 on a dimension they broadcast along).
// The sum is taken by TPR cooperating invocations per row (a power of two set per shape at
// pipeline creation, WG / TPR rows per workgroup): each strides over the row, then a tree
// reduction in workgroup memory combines the TPR partial sums. Consecutive invocations of a
// row read consecutive positions of the innermost broadcast dimension.

struct Params {
    rows: u32,     // elements of the target
    red_len: u32,  // elements summed into each
    term: u32,
    keep: u32,     // bit d: dimension d of the full shape is kept (not summed)
    scale: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    shape: array<vec4<u32>, 2>,     // full dimensions 0..5 (slots 6, 7 unused)
    a_stride: array<vec4<u32>, 2>,  // element strides of a per full dimension
    b_stride: array<vec4<u32>, 2>,  // element strides of b per full dimension
}

const RANK: u32 = 6u;

override WG: u32 = 256u;
override TPR: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> res: array<f32>;

var<workgroup> red: array<f32, WG>;

// The term at position r of the broadcast dimensions of target element `row`.
fn term_at(row: u32, r: u32) -> f32 {
    var ro = row;
    var rr = r;
    var idy = 0u;
    var ia = 0u;
    var ib = 0u;
    var step = 1u;
    for (var d = RANK; d > 0u; d--) {
        let dd = d - 1u;
        let n = p.shape[dd / 4u][dd % 4u];
        var coord: u32;
        if ((p.keep & (1u << dd)) != 0u) {
            coord = ro % n;
            ro = ro / n;
        } else {
            coord = rr % n;
            rr = rr / n;
        }
        idy += coord * step;
        step *= n;
        ia += coord * p.a_stride[dd / 4u][dd % 4u];
        ib += coord * p.b_stride[dd / 4u][dd % 4u];
    }
    let g = dy[idy];
    switch p.term {
        case 1u: { return -g; }
        case 2u: { return g * b[ib]; }
        case 3u: { return g * a[ia]; }
        case 4u: { return g / b[ib]; }
        case 5u: {
            let bv = b[ib];
            return -g * a[ia] / (bv * bv);
        }
        default: { return g; }
    }
}

fn reduce_rows(tid: u32, group: u32) {
    let row = group * (WG / TPR) + tid / TPR;
    let lane = tid % TPR;
    // Invocations past the last row still take part in the barriers, with an empty loop.
    var len = 0u;
    if (row < p.rows) {
        len = p.red_len;
    }
    var s = 0.0;
    for (var r = lane; r < len; r += TPR) {
        s += term_at(row, r);
    }
    red[tid] = s;
    workgroupBarrier();
    for (var st = TPR / 2u; st > 0u; st >>= 1u) {
        if (lane < st) {
            red[tid] = red[tid] + red[tid + st];
        }
        workgroupBarrier();
    }
    if (lane == 0u && row < p.rows) {
        res[row] = p.scale * red[tid];
    }
}

@compute @workgroup_size(WG)
fn binary_backward(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    reduce_rows(tid, wid.x + wid.y * nwg.x);
}

// The same kernel with term 0 (a and b bound to dy, never read): sums dy over the dimensions
// the target shape broadcasts along.
@compute @workgroup_size(WG)
fn reduce_sum_to_shape(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    reduce_rows(tid, wid.x + wid.y * nwg.x);
}

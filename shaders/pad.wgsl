// pad: y = x padded by `begin` elements before and (out - in - begin) after each dimension,
// for rank <= 6 (the host pads the shape with leading ones). Modes: 0 constant (`value`
// outside x), 1 reflect (mirror without repeating the edge; the host checks pad < dim so one
// reflection suffices), 2 edge (replicate the border element).

struct Params {
    in_dims: array<vec4<u32>, 2>,  // input dims d = 0..6 at [d / 4][d % 4]
    out_dims: array<vec4<u32>, 2>, // output dims
    begin: array<vec4<u32>, 2>,    // padding before each dim
    len: u32,                      // output elements
    mode: u32,
    value: f32,                    // constant mode's fill value
    _pad0: u32,
}

const MODE_CONSTANT: u32 = 0u;
const MODE_REFLECT: u32 = 1u;
const MODE_EDGE: u32 = 2u;

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn pad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    var rem = i;
    var src = 0u;
    var stride = 1u;
    for (var d = 5; d >= 0; d--) {
        let n_out = p.out_dims[d / 4][d % 4];
        let n_in = i32(p.in_dims[d / 4][d % 4]);
        var c = i32(rem % n_out) - i32(p.begin[d / 4][d % 4]);
        rem /= n_out;
        if (c < 0 || c >= n_in) {
            if (p.mode == MODE_CONSTANT) {
                y[i] = p.value;
                return;
            } else if (p.mode == MODE_REFLECT) {
                c = select(2 * (n_in - 1) - c, -c, c < 0);
            } else {
                c = clamp(c, 0, n_in - 1);
            }
        }
        src += u32(c) * stride;
        stride *= u32(n_in);
    }
    y[i] = x[src];
}

// Channel sums of the CAM family, one invocation per output value y[n, 0, h, w] (linear index
// over N*H*W, folded over workgroups x and y):
//   cam_weighted_sum:    y = sum_c w[n, c] * A[n, c, h, w]            (x = A, z = w [N, C])
//   cam_elementwise_sum: y = sum_c G * A (kind 0, HiResCAM) or
//                        y = sum_c max(G, 0) * A (kind 1, LayerCAM)  (x = A, z = G)
//   cam_mean_layers:     one step of the layer mean: y = z + max(x, 0) (y = max(x, 0) for the
//                        first layer, z then unread), divided by `divisor` after the last
//                        layer (x = this layer's CAM, z = the running sum)
// Channels are summed in order, one product at a time, as NumPy's sum over axis 1 does.

struct Params {
    total: u32,    // N * H * W (cam_mean_layers: element count)
    c: u32,        // channels
    hw: u32,       // H * W
    kind: u32,     // cam_elementwise_sum: 0 HiResCAM, 1 LayerCAM
    first: u32,    // cam_mean_layers: 1 for the first layer
    divisor: u32,  // cam_mean_layers: the layer count after the last layer, else 0
    _pad0: u32,
    _pad1: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn cam_weighted_sum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.total) {
        return;
    }
    let n = i / p.hw;
    let pix = i % p.hw;
    var acc = 0.0;
    for (var ch = 0u; ch < p.c; ch++) {
        acc += z[n * p.c + ch] * x[(n * p.c + ch) * p.hw + pix];
    }
    y[i] = acc;
}

@compute @workgroup_size(WG)
fn cam_elementwise_sum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.total) {
        return;
    }
    let n = i / p.hw;
    let pix = i % p.hw;
    var acc = 0.0;
    for (var ch = 0u; ch < p.c; ch++) {
        let k = (n * p.c + ch) * p.hw + pix;
        var grad = z[k];
        if (p.kind == 1u) {
            grad = max(grad, 0.0);
        }
        acc += grad * x[k];
    }
    y[i] = acc;
}

@compute @workgroup_size(WG)
fn cam_mean_layers(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.total) {
        return;
    }
    var v = max(x[i], 0.0);
    if (p.first == 0u) {
        v = z[i] + v;
    }
    if (p.divisor != 0u) {
        v = v / f32(p.divisor);
    }
    y[i] = v;
}

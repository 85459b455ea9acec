// In-place optimizer steps, one invocation per parameter value.
//
//   sgd_step:   g = grad + wd * w; v = mu * v + g; w -= lr * v   (PyTorch SGD, coupled decay,
//               no dampening, no Nesterov)
//   adamw_step: w *= 1 - lr * wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
//               w -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), with bc1 = 1 - b1^t and
//               bc2 = 1 - b2^t computed on the host (PyTorch torch.optim.AdamW)

struct Params {
    len: u32,
    lr: f32,
    momentum: f32,  // SGD momentum or AdamW beta1
    weight_decay: f32,
    beta2: f32,
    eps: f32,
    step_size: f32,  // lr / bc1
    bc2_sqrt: f32,   // sqrt(bc2)
    one_minus_b1: f32,  // 1 - beta1, 1 - beta2 and 1 - lr * wd, computed in f64 on the host
    one_minus_b2: f32,  // (PyTorch computes these scalars in double precision)
    decay: f32,
    _pad: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
// Bindings: sgd 1 w, 2 grad, 3 velocity; adamw 1 w, 2 grad, 3 m, 4 v.
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;

@compute @workgroup_size(WG)
fn sgd_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let wi = w[i];
    let g = grad[i] + p.weight_decay * wi;
    let v = p.momentum * b3[i] + g;
    b3[i] = v;
    w[i] = wi - p.lr * v;
}

@compute @workgroup_size(WG)
fn adamw_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let g = grad[i];
    let wi = w[i] * p.decay;
    let m = p.momentum * b3[i] + p.one_minus_b1 * g;
    let v = p.beta2 * b4[i] + p.one_minus_b2 * g * g;
    b3[i] = m;
    b4[i] = v;
    w[i] = wi - p.step_size * m / (sqrt(v) / p.bc2_sqrt + p.eps);
}

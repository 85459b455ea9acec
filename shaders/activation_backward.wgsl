// activation_backward: dx = dy * f'(x) elementwise, x the activation's input and f chosen by
// `code`, or by the pipeline constant ACT where the host fixes it (see lib/activation.wgsl,
// prepended). At the kinks the derivative is PyTorch's choice:
// relu'(0) = 0, leaky_relu'(0) = slope, clip/relu6 pass the gradient strictly inside (min, max)
// only, hard_sigmoid has slope a strictly between its kinks (where 0 < a x + b < 1),
// hard_swish is (2x + 3) / 6 on [-3, 3]. erf's derivative is 2 / sqrt(pi) exp(-x^2).
// guided_relu_backward: guided backpropagation, dx = dy where x > 0 and dy > 0, else 0.
// One invocation per element.

struct Params {
    len: u32,
    code: u32,
    a: f32,
    b: f32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// 1 / cosh(x)^2 = 1 - tanh(x)^2 without the cancellation near |tanh| = 1 (cosh overflows to
// inf for large |x|, giving the right limit 0).
fn sech2(x: f32) -> f32 {
    let c = cosh(x);
    return 1.0 / (c * c);
}

fn activate_grad(x: f32, code: u32, a: f32, b: f32) -> f32 {
    switch act_code(code) {
        case 1u: { return select(0.0, 1.0, x > 0.0); }
        case 2u: { return select(a, 1.0, x > 0.0); }
        case 3u: { return select(0.0, 1.0, x > a && x < b); }
        // sigmoid(x) (1 - sigmoid(x)) = sigmoid(x) sigmoid(-x): no cancellation for large x.
        case 4u: { return sigmoid_f(x) * sigmoid_f(-x); }
        case 5u: { return sigmoid_f(x) * (1.0 + x * sigmoid_f(-x)); }
        case 6u: {
            // Strictly between the kinks x = -b / a and x = (1 - b) / a, compared in x (as
            // PyTorch compares x with -3 and 3): for a = 1/6, b = 1/2 both round to +-3 in f32,
            // where testing 0 < a x + b < 1 instead would flip one ulp inside the kinks.
            let k0 = -b / a;
            let k1 = (1.0 - b) / a;
            return select(0.0, a, x > min(k0, k1) && x < max(k0, k1));
        }
        case 7u: {
            if (x < -3.0) {
                return 0.0;
            }
            if (x > 3.0) {
                return 1.0;
            }
            return (2.0 * x + 3.0) / 6.0;
        }
        case 8u: {
            // Phi(x) + x phi(x).
            let cdf = 0.5 * (1.0 + erf_approx(x * 0.70710678118654752));
            let pdf = exp(-0.5 * x * x) * 0.39894228040143268;
            return cdf + x * pdf;
        }
        case 9u: {
            // d/dx 0.5 x (1 + tanh(u)), u = k (x + 0.044715 x^3) (PyTorch's formula).
            let k = 0.79788456080286536;
            let u = k * (x + 0.044715 * x * x * x);
            let du = k * (1.0 + 3.0 * 0.044715 * x * x);
            // Past |u| = 20, tanh(u) is +-1 and sech^2(u) 0 in f32: clamp so that no driver's
            // tanh overflows, and drop the second term (x * du could overflow to inf * 0).
            let tail = select(0.5 * x * sech2(u) * du, 0.0, abs(u) > 20.0);
            return 0.5 * (1.0 + tanh(clamp(u, -20.0, 20.0))) + tail;
        }
        case 10u: { return sech2(x); }
        // d/dx erf(x) = 2 / sqrt(pi) exp(-x^2) (underflows to 0 for large |x|).
        case 11u: { return 1.12837916709551257 * exp(-x * x); }
        default: { return 1.0; }
    }
}

@compute @workgroup_size(WG)
fn activation_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    dx[i] = dy[i] * activate_grad(x[i], p.code, p.a, p.b);
}

@compute @workgroup_size(WG)
fn guided_relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.len) {
        return;
    }
    let g = dy[i];
    dx[i] = select(0.0, g, x[i] > 0.0 && g > 0.0);
}

// Shared activation functions, prepended to every kernel family that applies an activation
// (the standalone `activation` kernel, its gradient `activation_backward`, and the fused
// epilogues of conv2d and gemm).
// Codes match `featuremap::ops::Activation::code`.

const ACT_NONE: u32 = 0u;
const ACT_RELU: u32 = 1u;
const ACT_LEAKY_RELU: u32 = 2u;   // a = negative slope
const ACT_CLIP: u32 = 3u;         // a = min, b = max (relu6 is clip(0, 6))
const ACT_SIGMOID: u32 = 4u;
const ACT_SILU: u32 = 5u;
const ACT_HARD_SIGMOID: u32 = 6u; // clamp(a * x + b, 0, 1)
const ACT_HARD_SWISH: u32 = 7u;   // x * relu6(x + 3) / 6
const ACT_GELU: u32 = 8u;         // exact: 0.5 x (1 + erf(x / sqrt 2))
const ACT_GELU_TANH: u32 = 9u;    // tanh approximation
const ACT_TANH: u32 = 10u;
const ACT_ERF: u32 = 11u;         // erf(x) on its own (ONNX Erf)

// ACT fixes the activation when the pipeline is made: the host sets it to the code its
// parameters carry (`ops::act_override`), and `activate` / `activate_grad` then ignore their
// `code` argument; ACT_FROM_PARAMS leaves the choice to that argument at run time. Why: llvmpipe
// (Mesa's lavapipe) runs both sides of every branch under lane masks, so a switch over a
// run-time code evaluates every case (exp, erf, tanh) for each value, which made a conv's
// epilogue cost as much as a short reduction; over a constant the compiler keeps one case.
const ACT_FROM_PARAMS: u32 = 255u;
override ACT: u32 = ACT_FROM_PARAMS;

// The activation code in force: ACT where the pipeline fixes it, else `code`.
fn act_code(code: u32) -> u32 {
    return select(code, ACT, ACT != ACT_FROM_PARAMS);
}

// erf with absolute error below 1.2e-7 (Numerical Recipes' erfc Chebyshev fit), enough for f32.
fn erf_approx(x: f32) -> f32 {
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
        t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
        t * (-0.82215223 + t * 0.17087277)))))))));
    return select(r - 1.0, 1.0 - r, x >= 0.0);
}

// erf for the standalone activation: the Taylor series near 0, where erf_approx's 1 - r
// cancels (its absolute error would be a large relative error on small values), else
// erf_approx. The series to x^13 is within 1e-9 relative for |x| < 0.5.
fn erf_f(x: f32) -> f32 {
    if (abs(x) < 0.5) {
        let x2 = x * x;
        // 2/sqrt(pi) * (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320 + x^13/9360)
        let s = 1.0 + x2 * (-1.0 / 3.0 + x2 * (1.0 / 10.0 + x2 * (-1.0 / 42.0 + x2 * (1.0 / 216.0 +
            x2 * (-1.0 / 1320.0 + x2 * (1.0 / 9360.0))))));
        return 1.12837916709551257 * x * s;
    }
    return erf_approx(x);
}

fn sigmoid_f(x: f32) -> f32 {
    // Split by sign so exp never overflows.
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

fn activate(x: f32, code: u32, a: f32, b: f32) -> f32 {
    switch act_code(code) {
        case 1u: { return max(x, 0.0); }
        case 2u: { return select(a * x, x, x >= 0.0); }
        case 3u: { return clamp(x, a, b); }
        case 4u: { return sigmoid_f(x); }
        case 5u: { return x * sigmoid_f(x); }
        case 6u: { return clamp(a * x + b, 0.0, 1.0); }
        case 7u: { return x * clamp(x + 3.0, 0.0, 6.0) / 6.0; }
        case 8u: { return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752)); }
        case 9u: { return 0.5 * x * (1.0 + tanh(0.79788456080286536 * (x + 0.044715 * x * x * x))); }
        case 10u: { return tanh(x); }
        case 11u: { return erf_f(x); }
        default: { return x; }
    }
}

use super::Array;
use crate::ops::Activation;

/// One activation value in f64.
pub fn activate(x: f64, act: Activation) -> f64 {
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    match act {
        Activation::None => x,
        Activation::Relu => x.max(0.0),
        Activation::LeakyRelu(s) => {
            if x >= 0.0 {
                x
            } else {
                s as f64 * x
            }
        }
        Activation::Clip(lo, hi) => x.clamp(lo as f64, hi as f64),
        Activation::Sigmoid => sigmoid(x),
        Activation::Silu => x * sigmoid(x),
        Activation::HardSigmoid(a, b) => (a as f64 * x + b as f64).clamp(0.0, 1.0),
        Activation::HardSwish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
        Activation::Gelu => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
        Activation::GeluTanh => {
            let k = (2.0 / std::f64::consts::PI).sqrt();
            0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
        }
        Activation::Tanh => x.tanh(),
        Activation::Erf => libm::erf(x),
    }
}

/// Applies `act` elementwise.
pub fn activation(x: &Array, act: Activation) -> Array {
    Array::new(x.shape.clone(), x.data.iter().map(|&v| activate(v, act)).collect())
}

/// The derivative `f'(x)` of one activation in f64, with PyTorch's choice at the kinks:
/// `relu'(0) = 0`, leaky ReLU `slope` at `x <= 0`, clip 1 strictly inside `(min, max)` only,
/// hard sigmoid `a` strictly between its kinks `-b / a` and `(1 - b) / a` (where
/// `0 < a x + b < 1`; `-3 < x < 3` for PyTorch's defaults), hard swish `(2x + 3) / 6` on
/// `[-3, 3]`; erf `2 / sqrt(pi) * exp(-x^2)`.
pub fn activate_grad(x: f64, act: Activation) -> f64 {
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    let step = |inside: bool, v: f64| if inside { v } else { 0.0 };
    match act {
        Activation::None => 1.0,
        Activation::Relu => step(x > 0.0, 1.0),
        Activation::LeakyRelu(s) => {
            if x > 0.0 {
                1.0
            } else {
                s as f64
            }
        }
        Activation::Clip(lo, hi) => step(x > lo as f64 && x < hi as f64, 1.0),
        Activation::Sigmoid => sigmoid(x) * (1.0 - sigmoid(x)),
        Activation::Silu => sigmoid(x) * (1.0 + x * (1.0 - sigmoid(x))),
        Activation::HardSigmoid(a, b) => {
            // Between the kinks, compared in x as PyTorch does (-3 < x < 3 for its defaults).
            let (a, b) = (a as f64, b as f64);
            let (k0, k1) = (-b / a, (1.0 - b) / a);
            step(x > k0.min(k1) && x < k0.max(k1), a)
        }
        Activation::HardSwish => {
            if x < -3.0 {
                0.0
            } else if x > 3.0 {
                1.0
            } else {
                (2.0 * x + 3.0) / 6.0
            }
        }
        Activation::Gelu => {
            let cdf = 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2));
            let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
            cdf + x * pdf
        }
        Activation::GeluTanh => {
            let k = (2.0 / std::f64::consts::PI).sqrt();
            let t = (k * (x + 0.044715 * x * x * x)).tanh();
            let du = k * (1.0 + 3.0 * 0.044715 * x * x);
            0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du
        }
        Activation::Tanh => 1.0 - x.tanh() * x.tanh(),
        Activation::Erf => 2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp(),
    }
}

/// Activation gradient by definition: `dx = dy * f'(x)` elementwise, `x` the activation's input.
pub fn activation_backward(dy: &Array, x: &Array, act: Activation) -> Array {
    assert_eq!(dy.shape, x.shape, "reference activation_backward: shapes");
    Array::new(x.shape.clone(), dy.data.iter().zip(&x.data).map(|(&g, &v)| g * activate_grad(v, act)).collect())
}

/// Guided backpropagation through a ReLU: `dx = dy` where `x > 0` and `dy > 0`, else 0.
pub fn guided_relu_backward(dy: &Array, x: &Array) -> Array {
    assert_eq!(dy.shape, x.shape, "reference guided_relu_backward: shapes");
    Array::new(
        x.shape.clone(),
        dy.data.iter().zip(&x.data).map(|(&g, &v)| if v > 0.0 && g > 0.0 { g } else { 0.0 }).collect(),
    )
}

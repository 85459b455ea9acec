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
    }
}

/// Applies `act` elementwise.
pub fn activation(x: &Array, act: Activation) -> Array {
    Array::new(x.shape.clone(), x.data.iter().map(|&v| activate(v, act)).collect())
}

//! Activation gradients: every kernel against its f64 reference, and every reference against
//! central finite differences of the forward reference. Also holds the finite-difference
//! helpers the other backward tests share.

use featuremap::ops::{self, Activation};
use featuremap::reference::{self, Array};
use featuremap::{DType, Gpu, Tensor};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::common::{check, random_vec, rng, TOL};
use crate::gpu_or_skip;

/// Step of the central finite differences.
pub const FD_STEP: f64 = 1e-6;
/// Largest relative L2 error of a reference gradient against finite differences.
pub const FD_TOL: f64 = 1e-6;

/// The gradient of `L(x) = sum(dy * f(x))` by central finite differences of step
/// [`FD_STEP`], one input at a time. The difference of the two losses is taken term by term
/// (`sum(dy * (f(x + h) - f(x - h)))`), so outputs the step does not touch cancel exactly.
pub fn fd_grad(x: &Array, dy: &Array, f: impl Fn(&Array) -> Array) -> Array {
    let mut g = Array::zeros(x.shape.clone());
    let mut xp = x.clone();
    for i in 0..x.numel() {
        xp.data[i] = x.data[i] + FD_STEP;
        let yp = f(&xp);
        xp.data[i] = x.data[i] - FD_STEP;
        let ym = f(&xp);
        xp.data[i] = x.data[i];
        assert_eq!(yp.shape, dy.shape, "fd_grad: f's output and dy differ in shape");
        let diff: f64 = dy.data.iter().zip(yp.data.iter().zip(&ym.data)).map(|(&d, (&p, &m))| d * (p - m)).sum();
        g.data[i] = diff / (2.0 * FD_STEP);
    }
    g
}

/// Relative L2 error `||got - want|| / ||want||` of two f64 arrays (absolute when `want` is 0).
pub fn rel_l2_f64(got: &Array, want: &Array) -> f64 {
    assert_eq!(got.shape, want.shape, "rel_l2_f64: shapes");
    let num: f64 = got.data.iter().zip(&want.data).map(|(g, w)| (g - w) * (g - w)).sum();
    let den: f64 = want.data.iter().map(|w| w * w).sum();
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

/// Checks a reference gradient against its finite-difference estimate; prints one `FD-ERROR`
/// line per check.
pub fn check_fd(kernel: &str, case: &str, reference: &Array, fd: &Array) {
    let err = rel_l2_f64(reference, fd);
    println!("FD-ERROR {kernel} {err:.3e} {case}");
    assert!(
        err < FD_TOL,
        "{kernel} {case}: reference vs finite differences: relative L2 error {err:.3e} >= {FD_TOL:.0e}"
    );
}

/// An array of `values` (f32, so host and GPU see the same numbers) and the same tensor.
pub fn pair(gpu: &Gpu, shape: &[usize], values: &[f32]) -> (Array, Tensor) {
    (Array::from_f32(shape.to_vec(), values), Tensor::from_f32(gpu, shape.to_vec(), values).unwrap())
}

/// `n` distinct values, evenly spaced over [-1, 1) in a random order: no ties, and far enough
/// apart (2 / n) that a finite-difference step never reorders them.
pub fn distinct_vec(r: &mut StdRng, n: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..n).map(|i| (2.0 * i as f64 / n as f64 - 1.0) as f32).collect();
    v.shuffle(r);
    v
}

/// Values uniform in [-scale, scale) (f32), enough for an array of `shape`.
pub fn random_array(r: &mut StdRng, shape: &[usize], scale: f32) -> Vec<f32> {
    random_vec(r, shape.iter().product()).into_iter().map(|v| v * scale).collect()
}

const ALL: [Activation; 13] = [
    Activation::None,
    Activation::Relu,
    Activation::LeakyRelu(0.1),
    Activation::RELU6,
    Activation::Clip(-0.25, 0.5),
    Activation::Sigmoid,
    Activation::Silu,
    Activation::HARD_SIGMOID,
    Activation::HardSigmoid(0.2, 0.5),
    Activation::HardSwish,
    Activation::Gelu,
    Activation::GeluTanh,
    Activation::Tanh,
];

/// Where the activation's derivative jumps.
fn kinks(act: Activation) -> Vec<f64> {
    match act {
        Activation::Relu | Activation::LeakyRelu(_) => vec![0.0],
        Activation::Clip(lo, hi) => vec![lo as f64, hi as f64],
        Activation::HardSigmoid(a, b) => vec![-b as f64 / a as f64, (1.0 - b as f64) / a as f64],
        Activation::HardSwish => vec![-3.0, 3.0],
        _ => vec![],
    }
}

/// Runs `activation_backward` on `x` (values) with a random `dy` and checks it against the
/// reference.
fn kernel_case(gpu: &Gpu, r: &mut StdRng, shape: &[usize], x: &[f32], act: Activation, case: &str) {
    let (xa, xt) = pair(gpu, shape, x);
    let (dya, dyt) = pair(gpu, shape, &random_array(r, shape, 1.0));
    let dx = gpu.run(|rec| ops::activation_backward(rec, &dyt, &xt, act)).unwrap();
    let want = reference::activation_backward(&dya, &xa, act);
    check(gpu, &format!("{}_backward", act.name()), &format!("{case} {shape:?} {act:?}"), &dx, &want, TOL);
}

#[test]
fn every_activation_backward_matches_reference() {
    let gpu = gpu_or_skip!();
    let mut r = rng(1001);
    for (i, shape) in [vec![1, 1, 1, 1], vec![2, 3, 5, 7], vec![3, 17, 9, 4]].iter().enumerate() {
        // Scaled up so that the interesting ranges (hard_swish at +-3, relu6 at 6) are hit.
        let x = random_array(&mut r, shape, 8.0);
        for act in ALL {
            kernel_case(gpu, &mut r, shape, &x, act, &format!("#{i}"));
        }
    }
}

#[test]
fn random_shapes_and_scales() {
    let gpu = gpu_or_skip!();
    for seed in 0..10u64 {
        let mut r = rng(1100 + seed);
        let rank = r.random_range(1..=4);
        let shape: Vec<usize> = (0..rank).map(|_| r.random_range(1..=9)).collect();
        let scale = [1.0, 4.0, 10.0][seed as usize % 3];
        let x = random_array(&mut r, &shape, scale);
        for act in ALL {
            kernel_case(gpu, &mut r, &shape, &x, act, &format!("random seed {seed} scale {scale}"));
        }
    }
}

#[test]
fn values_at_the_kinks_follow_pytorch() {
    let gpu = gpu_or_skip!();
    let mut r = rng(1200);
    // Exactly on every kink (f32-exact), just beside them, and far out (saturation, overflow).
    let x: Vec<f32> = vec![
        0.0, -0.0, 1e-7, -1e-7, -3.0, 3.0, 6.0, -0.25, 0.5, 2.5, -2.5, -2.9999998, 2.9999998, 5.9999995, 6.0000005,
        20.0, -20.0, 100.0, -100.0, 1e20, -1e20, 1e-30, 2.4999998, -2.4999998, 2.5000002, -2.5000002, 3.0000002,
        -3.0000002,
    ];
    let shape = [x.len()];
    for act in ALL {
        kernel_case(gpu, &mut r, &shape, &x, act, "kinks");
    }
    // The conventions themselves, spelled out.
    let g = |act, v: f64| reference::activate_grad(v, act);
    assert_eq!(g(Activation::Relu, 0.0), 0.0);
    assert_eq!(g(Activation::LeakyRelu(0.1), 0.0), 0.1f32 as f64);
    assert_eq!(g(Activation::RELU6, 0.0), 0.0);
    assert_eq!(g(Activation::RELU6, 6.0), 0.0);
    assert_eq!(g(Activation::RELU6, 3.0), 1.0);
    assert_eq!(g(Activation::HARD_SIGMOID, 3.0), 0.0);
    assert_eq!(g(Activation::HARD_SIGMOID, -3.0), 0.0);
    assert_eq!(g(Activation::HARD_SIGMOID, 0.0), (1.0f32 / 6.0) as f64);
    // One ulp inside the kink still has PyTorch's slope (-3 < x < 3 is compared in x).
    assert_eq!(g(Activation::HARD_SIGMOID, 2.9999998f32 as f64), (1.0f32 / 6.0) as f64);
    assert_eq!(g(Activation::HARD_SIGMOID, -2.9999998f32 as f64), (1.0f32 / 6.0) as f64);
    assert_eq!(g(Activation::HardSwish, -3.0), -0.5);
    assert_eq!(g(Activation::HardSwish, 3.0), 1.5);
    assert_eq!(g(Activation::HardSwish, -3.5), 0.0);
    assert_eq!(g(Activation::HardSwish, 3.5), 1.0);
}

#[test]
fn references_match_finite_differences() {
    let mut r = rng(1300);
    let shape = [2, 3, 4, 5];
    for act in ALL {
        // Random inputs in [-8, 8), none within 1e-3 of a kink.
        let k = kinks(act);
        let x: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|_| loop {
                let v = r.random_range(-8.0f32..8.0);
                if k.iter().all(|&c| (v as f64 - c).abs() > 1e-3) {
                    break v;
                }
            })
            .collect();
        let xa = Array::from_f32(shape.to_vec(), &x);
        let dya = Array::from_f32(shape.to_vec(), &random_vec(&mut r, xa.numel()));
        let got = reference::activation_backward(&dya, &xa, act);
        let fd = fd_grad(&xa, &dya, |x| reference::activation(x, act));
        check_fd(&format!("{}_backward", act.name()), &format!("{shape:?} {act:?}"), &got, &fd);
    }
}

#[test]
fn guided_relu_backward_matches_reference() {
    let gpu = gpu_or_skip!();
    for (seed, shape) in [vec![1, 1, 1, 1], vec![2, 3, 5, 7], vec![3, 17, 9, 4], vec![1000]].into_iter().enumerate() {
        let mut r = rng(1400 + seed as u64);
        let mut x = random_array(&mut r, &shape, 2.0);
        let mut dy = random_array(&mut r, &shape, 1.0);
        // Exact zeros in both, so the strict comparisons are exercised.
        for i in (0..x.len()).step_by(5) {
            x[i] = 0.0;
        }
        for i in (0..dy.len()).step_by(7) {
            dy[i] = 0.0;
        }
        let (xa, xt) = pair(gpu, &shape, &x);
        let (dya, dyt) = pair(gpu, &shape, &dy);
        let dx = gpu.run(|rec| ops::guided_relu_backward(rec, &dyt, &xt)).unwrap();
        let want = reference::guided_relu_backward(&dya, &xa);
        check(gpu, "guided_relu_backward", &format!("{shape:?}"), &dx, &want, TOL);
        // Guided backpropagation is the ReLU gradient with the negative gradients removed.
        let relu = reference::activation_backward(&dya, &xa, Activation::Relu);
        let masked: Vec<f64> = relu.data.iter().map(|&v| v.max(0.0)).collect();
        assert_eq!(want.data, masked, "guided relu is relu's gradient clipped at 0");
    }
}

#[test]
fn bad_inputs_are_errors() {
    let gpu = gpu_or_skip!();
    let x = Tensor::from_f32(gpu, [2, 3], &[0.0; 6]).unwrap();
    let dy = Tensor::from_f32(gpu, [3, 2], &[0.0; 6]).unwrap();
    let idx = Tensor::from_u32(gpu, [2, 3], &[0; 6]).unwrap();
    assert!(gpu.run(|rec| ops::activation_backward(rec, &dy, &x, Activation::Relu)).is_err(), "shape mismatch");
    assert!(gpu.run(|rec| ops::guided_relu_backward(rec, &dy, &x)).is_err(), "shape mismatch");
    assert!(gpu.run(|rec| ops::activation_backward(rec, &idx, &x, Activation::Relu)).is_err(), "u32 gradient");
    assert!(gpu.run(|rec| ops::guided_relu_backward(rec, &x, &idx)).is_err(), "u32 input");
    // Empty tensors are fine and dispatch nothing.
    let e = Tensor::from_f32(gpu, [0, 3], &[]).unwrap();
    let dx = gpu.run(|rec| ops::activation_backward(rec, &e, &e, Activation::Gelu)).unwrap();
    assert_eq!(dx.dims(), &[0, 3]);
    assert_eq!(dx.dtype(), DType::F32);
}

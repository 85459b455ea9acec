use featuremap::ops::{self, Activation};
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::Rng;

use crate::common::{check, random_vec, rng, TOL};
use crate::gpu_or_skip;

/// Random values in [-scale, scale) of `shape`, as an array and a tensor.
fn scaled(seed: u64, shape: &[usize], scale: f32) -> (Array, Tensor) {
    let gpu = crate::common::gpu().expect("checked by the caller");
    let mut r = rng(seed);
    let v: Vec<f32> = random_vec(&mut r, shape.iter().product()).into_iter().map(|x| x * scale).collect();
    (Array::from_f32(shape.to_vec(), &v), Tensor::from_f32(gpu, shape.to_vec(), &v).unwrap())
}

#[test]
fn forward_matches_reference_across_scales() {
    let gpu = gpu_or_skip!();
    // Small values exercise the series branch, large ones the saturation at +-1.
    for (i, scale) in [1e-3f32, 0.1, 0.5, 1.0, 3.0, 8.0].into_iter().enumerate() {
        for (j, shape) in [vec![1], vec![2, 3, 5, 7], vec![3, 17, 9, 4]].iter().enumerate() {
            let (xa, xt) = scaled(1100 + 10 * i as u64 + j as u64, shape, scale);
            let y = gpu.run(|rec| ops::activation(rec, &xt, Activation::Erf)).unwrap();
            check(
                gpu,
                "erf",
                &format!("{shape:?} scale={scale}"),
                &y,
                &reference::activation(&xa, Activation::Erf),
                TOL,
            );
        }
    }
}

#[test]
fn known_values() {
    let gpu = gpu_or_skip!();
    let x = [0.0f32, 0.5, -0.5, 1.0, -2.0, 0.25, 10.0, -10.0, 1e-6];
    let want = [
        0.0,
        0.5204998778130465,
        -0.5204998778130465,
        0.8427007929497149,
        -0.9953222650189527,
        0.2763263901682369,
        1.0,
        -1.0,
        1.1283791670955126e-6,
    ];
    let xt = Tensor::from_f32(gpu, [x.len()], &x).unwrap();
    let y = gpu.run(|rec| ops::activation(rec, &xt, Activation::Erf)).unwrap();
    check(gpu, "erf", "known values", &y, &Array::new(vec![x.len()], want.to_vec()), TOL);
    let got = y.to_f32(gpu).unwrap();
    assert_eq!(got[0], 0.0, "erf(0)");
    for (g, w) in got.iter().zip(want) {
        assert!((*g as f64 - w).abs() <= 2e-7 + 1e-6 * w.abs(), "erf: {got:?} vs {want:?}");
    }
    assert_eq!(Activation::Erf.name(), "erf");
}

#[test]
fn random_shapes() {
    let gpu = gpu_or_skip!();
    let mut r = rng(1150);
    for i in 0..8 {
        let shape: Vec<usize> = (0..r.random_range(1..=4)).map(|_| r.random_range(1..9)).collect();
        let scale = [0.3f32, 2.0, 5.0][r.random_range(0..3)];
        let (xa, xt) = scaled(1160 + i, &shape, scale);
        let y = gpu.run(|rec| ops::activation(rec, &xt, Activation::Erf)).unwrap();
        check(
            gpu,
            "erf",
            &format!("random {shape:?} scale={scale}"),
            &y,
            &reference::activation(&xa, Activation::Erf),
            TOL,
        );
    }
}

#[test]
fn backward_matches_reference() {
    let gpu = gpu_or_skip!();
    for (i, scale) in [0.1f32, 1.0, 4.0].into_iter().enumerate() {
        let shape = [2, 3, 5, 7];
        let (xa, xt) = scaled(1180 + i as u64, &shape, scale);
        let (dya, dyt) = scaled(1190 + i as u64, &shape, 1.0);
        let dx = gpu.run(|rec| ops::activation_backward(rec, &dyt, &xt, Activation::Erf)).unwrap();
        let want = reference::activation_backward(&dya, &xa, Activation::Erf);
        check(gpu, "erf_backward", &format!("{shape:?} scale={scale}"), &dx, &want, TOL);
    }
}

#[test]
fn reference_derivative_matches_finite_differences() {
    for x in [-3.0, -1.2, -0.3, 0.0, 0.4, 1.0, 2.5] {
        let h = 1e-6;
        let fd =
            (reference::activate(x + h, Activation::Erf) - reference::activate(x - h, Activation::Erf)) / (2.0 * h);
        let g = reference::activate_grad(x, Activation::Erf);
        assert!((fd - g).abs() < 1e-8, "erf'({x}): {g} vs finite difference {fd}");
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let idx = Tensor::from_u32(gpu, [3], &[1, 2, 3]).unwrap();
    assert!(gpu.run(|rec| ops::activation(rec, &idx, Activation::Erf)).is_err());
    let (a, b) = (Tensor::zeros(gpu, [2, 3]).unwrap(), Tensor::zeros(gpu, [3, 2]).unwrap());
    assert!(gpu.run(|rec| ops::activation_backward(rec, &a, &b, Activation::Erf)).is_err());
}

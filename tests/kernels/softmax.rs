use featuremap::ops;
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::Rng;

use crate::common::{check, random_vec, rng, TOL};
use crate::gpu_or_skip;

/// Runs softmax and log_softmax along `axis` on random values in [-scale, scale) and checks
/// both against the reference.
fn case(seed: u64, shape: &[usize], axis: usize, scale: f32, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let v: Vec<f32> = random_vec(&mut r, shape.iter().product()).into_iter().map(|x| x * scale).collect();
    let xa = Array::from_f32(shape.to_vec(), &v);
    let xt = Tensor::from_f32(gpu, shape.to_vec(), &v).unwrap();
    let (y, ly) = gpu.run(|rec| Ok((ops::softmax(rec, &xt, axis)?, ops::log_softmax(rec, &xt, axis)?))).unwrap();
    let case = format!("{name} {shape:?} axis={axis} scale={scale}");
    check(gpu, "softmax", &case, &y, &reference::softmax(&xa, axis), TOL);
    check(gpu, "log_softmax", &case, &ly, &reference::log_softmax(&xa, axis), TOL);
}

#[test]
fn each_axis_of_4d() {
    for axis in 0..4 {
        case(500 + axis as u64, &[2, 3, 4, 5], axis, 3.0, "4-D");
        case(505 + axis as u64, &[3, 17, 9, 6], axis, 3.0, "4-D odd");
    }
}

#[test]
fn classifier_row_of_1000() {
    case(510, &[2, 1000], 1, 5.0, "logits");
    case(511, &[1000, 3], 0, 5.0, "logits axis 0");
    case(512, &[1, 1000, 1, 1], 1, 5.0, "logits NCHW");
}

#[test]
fn large_inputs_do_not_overflow() {
    // exp(90) overflows f32; only the max subtraction keeps these finite.
    case(520, &[2, 1000], 1, 90.0, "large");
    case(521, &[3, 7, 5], 1, 90.0, "large short axis");
    case(522, &[4, 300], 1, 90.0, "large mid axis");
}

#[test]
fn axis_lengths_across_thread_counts() {
    for (i, len) in [1usize, 2, 5, 9, 33, 130, 257, 1025].into_iter().enumerate() {
        case(530 + i as u64, &[3, len, 2], 1, 4.0, "length");
    }
}

#[test]
fn random_shapes() {
    // Property-style: seeded random shapes of rank 1..5 and a random axis.
    let mut r = rng(540);
    for i in 0..15 {
        let rank = r.random_range(1..=5);
        let mut shape: Vec<usize> = (0..rank).map(|_| r.random_range(1..7)).collect();
        let axis = r.random_range(0..rank);
        if r.random_bool(0.3) {
            shape[axis] = r.random_range(7..400);
        }
        case(550 + i, &shape, axis, r.random_range(1.0..30.0), "random");
    }
}

#[test]
fn bad_axis_is_an_error_not_a_panic() {
    let gpu = gpu_or_skip!();
    let x = Tensor::zeros(gpu, [2, 3]).unwrap();
    let err = gpu.run(|rec| ops::softmax(rec, &x, 2)).unwrap_err();
    assert!(err.to_string().contains("softmax"), "{err}");
    assert!(gpu.run(|rec| ops::log_softmax(rec, &x, 5)).is_err());
    let s = Tensor::zeros(gpu, Vec::<usize>::new()).unwrap();
    assert!(gpu.run(|rec| ops::softmax(rec, &s, 0)).is_err());
}

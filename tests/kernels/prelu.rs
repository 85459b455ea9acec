use featuremap::ops;
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::Rng;

use crate::common::{check, random_pair, rng, TOL};
use crate::gpu_or_skip;

/// PReLU of a random `x` with a random `slope` of shape `s`, checked against the reference.
fn case(seed: u64, x: &[usize], s: &[usize], name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, x);
    let (sa, st) = random_pair(gpu, &mut r, s);
    let y = gpu.run(|rec| ops::prelu(rec, &xt, &st)).unwrap();
    check(gpu, "prelu", &format!("{name} x={x:?} slope={s:?}"), &y, &reference::prelu(&xa, &sa), TOL);
}

#[test]
fn per_channel_and_single_slopes() {
    case(1600, &[2, 5, 7, 6], &[5, 1, 1], "per channel");
    case(1601, &[2, 5, 7, 6], &[1], "single");
    case(1602, &[2, 5, 7, 6], &[], "scalar");
    case(1603, &[2, 5, 7, 6], &[1, 5, 1, 1], "per channel 4-D");
    case(1604, &[3, 17, 4, 3], &[17, 1, 1], "17 channels");
}

#[test]
fn other_broadcasts() {
    case(1610, &[2, 5, 7, 6], &[7, 6], "per pixel");
    case(1611, &[2, 5, 7, 6], &[2, 5, 7, 6], "full");
    case(1612, &[2, 5, 7, 6], &[5, 1, 6], "channel and column");
    case(1613, &[4, 9], &[9], "2-D per feature");
    case(1614, &[2, 1, 3, 2, 2, 3], &[3, 1, 1, 3], "6-D");
    case(1615, &[1, 1, 1, 1], &[1], "1x1");
}

#[test]
fn known_values() {
    let gpu = gpu_or_skip!();
    let x = Tensor::from_f32(gpu, [1, 2, 1, 2], &[-1.0, 2.0, -3.0, 0.0]).unwrap();
    let s = Tensor::from_f32(gpu, [2, 1, 1], &[0.5, 0.25]).unwrap();
    let y = gpu.run(|rec| ops::prelu(rec, &x, &s)).unwrap();
    check(gpu, "prelu", "known values", &y, &Array::new(vec![1, 2, 1, 2], vec![-0.5, 2.0, -0.75, 0.0]), TOL);
}

#[test]
fn random_shapes() {
    let mut r = rng(1620);
    for i in 0..14 {
        let rank = r.random_range(1..=5);
        let x: Vec<usize> = (0..rank).map(|_| r.random_range(1..7)).collect();
        // A suffix of x's dimensions, each kept or set to 1.
        let k = r.random_range(0..=rank);
        let s: Vec<usize> = x[rank - k..].iter().map(|&d| if r.random_bool(0.5) { d } else { 1 }).collect();
        case(1630 + i, &x, &s, "random");
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let x = Tensor::zeros(gpu, [2, 5, 3, 3]).unwrap();
    let err = gpu.run(|rec| ops::prelu(rec, &x, &Tensor::zeros(gpu, [5]).unwrap())).unwrap_err();
    assert!(err.to_string().contains("prelu"), "{err}");
    assert!(gpu.run(|rec| ops::prelu(rec, &x, &Tensor::zeros(gpu, [4, 1, 1]).unwrap())).is_err());
    assert!(gpu.run(|rec| ops::prelu(rec, &x, &Tensor::zeros(gpu, [1, 2, 5, 3, 3]).unwrap())).is_err());
    let x7 = Tensor::zeros(gpu, [1, 1, 1, 1, 1, 1, 2]).unwrap();
    assert!(gpu.run(|rec| ops::prelu(rec, &x7, &Tensor::zeros(gpu, [1]).unwrap())).is_err());
    let idx = Tensor::from_u32(gpu, [1], &[1]).unwrap();
    assert!(gpu.run(|rec| ops::prelu(rec, &x, &idx)).is_err());
}

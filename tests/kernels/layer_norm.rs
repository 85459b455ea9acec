use featuremap::ops;
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::Rng;

use crate::common::{check, random_pair, random_vec, rng, TOL};
use crate::gpu_or_skip;

/// Layer-normalises a random `x` (values shifted by `offset`, so the mean matters) over the
/// axes from `axis`, with or without bias, and checks the reference.
fn case(seed: u64, x: &[usize], axis: usize, bias: bool, offset: f32, eps: f32, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let v: Vec<f32> = random_vec(&mut r, x.iter().product()).into_iter().map(|v| v + offset).collect();
    let (xa, xt) = (Array::from_f32(x.to_vec(), &v), Tensor::from_f32(gpu, x.to_vec(), &v).unwrap());
    let norm = &x[axis..];
    let (sa, st) = random_pair(gpu, &mut r, norm);
    let (ba, bt) = random_pair(gpu, &mut r, norm);
    let y = gpu.run(|rec| ops::layer_norm(rec, &xt, axis, &st, bias.then_some(&bt), eps)).unwrap();
    let want = reference::layer_norm(&xa, axis, &sa, bias.then_some(&ba), eps as f64);
    check(
        gpu,
        "layer_norm",
        &format!("{name} x={x:?} axis={axis} bias={bias} offset={offset} eps={eps}"),
        &y,
        &want,
        TOL,
    );
}

#[test]
fn transformer_rows_and_feature_maps() {
    case(1500, &[2, 7, 64], 2, true, 0.0, 1e-5, "tokens");
    case(1501, &[3, 5, 768], 2, true, 0.5, 1e-5, "wide tokens");
    case(1502, &[2, 6, 5, 7], 1, true, 0.0, 1e-5, "CHW");
    case(1503, &[2, 6, 5, 7], 3, false, 2.0, 1e-6, "last axis no bias");
    case(1504, &[2, 6, 5, 7], 0, true, 0.0, 1e-3, "whole tensor");
}

#[test]
fn row_lengths_across_thread_counts() {
    for (i, len) in [1usize, 2, 3, 5, 17, 33, 130, 257, 1025, 4099].into_iter().enumerate() {
        case(1510 + i as u64, &[3, len], 1, true, 0.25, 1e-5, "length");
    }
}

#[test]
fn constant_rows_give_the_bias() {
    // Zero variance: (x - mean) = 0 exactly, so the output is the bias.
    let gpu = gpu_or_skip!();
    let x = Tensor::from_f32(gpu, [2, 3], &[4.0; 6]).unwrap();
    let s = Tensor::from_f32(gpu, [3], &[1.0, 2.0, 3.0]).unwrap();
    let b = Tensor::from_f32(gpu, [3], &[0.5, -0.5, 0.25]).unwrap();
    let y = gpu.run(|rec| ops::layer_norm(rec, &x, 1, &s, Some(&b), 1e-5)).unwrap();
    check(gpu, "layer_norm", "constant rows", &y, &Array::new(vec![2, 3], vec![0.5, -0.5, 0.25, 0.5, -0.5, 0.25]), TOL);
}

#[test]
fn scale_and_bias_with_leading_ones() {
    let gpu = gpu_or_skip!();
    let mut r = rng(1530);
    let (xa, xt) = random_pair(gpu, &mut r, &[2, 4, 6]);
    let (sa, st) = random_pair(gpu, &mut r, &[1, 4, 6]);
    let (ba, bt) = random_pair(gpu, &mut r, &[1, 1, 4, 6]);
    let y = gpu.run(|rec| ops::layer_norm(rec, &xt, 1, &st, Some(&bt), 1e-5)).unwrap();
    check(gpu, "layer_norm", "leading ones", &y, &reference::layer_norm(&xa, 1, &sa, Some(&ba), 1e-5), TOL);
}

#[test]
fn random_shapes() {
    let mut r = rng(1540);
    for i in 0..14 {
        let rank = r.random_range(1..=4);
        let x: Vec<usize> = (0..rank).map(|_| r.random_range(1..9)).collect();
        let axis = r.random_range(0..rank);
        case(1550 + i, &x, axis, r.random_bool(0.5), r.random_range(-2.0..2.0), 1e-5, "random");
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let x = Tensor::zeros(gpu, [2, 3, 4]).unwrap();
    let s4 = Tensor::zeros(gpu, [4]).unwrap();
    let s34 = Tensor::zeros(gpu, [3, 4]).unwrap();
    let err = gpu.run(|rec| ops::layer_norm(rec, &x, 3, &s4, None, 1e-5)).unwrap_err();
    assert!(err.to_string().contains("layer_norm"), "{err}");
    assert!(gpu.run(|rec| ops::layer_norm(rec, &x, 1, &s4, None, 1e-5)).is_err());
    assert!(gpu.run(|rec| ops::layer_norm(rec, &x, 2, &s34, None, 1e-5)).is_err());
    assert!(gpu.run(|rec| ops::layer_norm(rec, &x, 1, &s34, Some(&s4), 1e-5)).is_err());
    assert!(gpu.run(|rec| ops::layer_norm(rec, &x, 2, &s4, None, -1.0)).is_err());
    assert!(gpu.run(|rec| ops::layer_norm(rec, &x, 2, &s4, None, f32::NAN)).is_err());
    let idx = Tensor::from_u32(gpu, [4], &[1, 2, 3, 4]).unwrap();
    assert!(gpu.run(|rec| ops::layer_norm(rec, &x, 2, &idx, None, 1e-5)).is_err());
    assert!(gpu.run(|rec| ops::layer_norm(rec, &x, 2, &s4, Some(&idx), 1e-5)).is_err());
}

use featuremap::ops;
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::Rng;

use crate::common::{check, random_pair, rng, TOL};
use crate::gpu_or_skip;

/// Slices a random `x` and checks the reference.
fn case(seed: u64, x: &[usize], axis: usize, start: usize, end: usize, step: usize, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, x);
    let y = gpu.run(|rec| ops::slice(rec, &xt, axis, start, end, step)).unwrap();
    let want = reference::slice(&xa, axis, start, end, step);
    check(gpu, "slice", &format!("{name} x={x:?} axis={axis} {start}..{end} step {step}"), &y, &want, TOL);
}

#[test]
fn each_axis_with_steps() {
    let x = [2, 5, 7, 6];
    for axis in 0..4 {
        let d = x[axis];
        for (i, (start, end, step)) in
            [(0, d, 1), (1, d, 2), (0, d - 1, 3), (d - 1, d, 1), (1, d, 5)].into_iter().enumerate()
        {
            case(1400 + 10 * axis as u64 + i as u64, &x, axis, start, end, step, "4-D");
        }
    }
}

#[test]
fn ranks_1_to_6() {
    case(1450, &[11], 0, 2, 9, 3, "1-D");
    case(1451, &[4, 9], 1, 0, 9, 4, "2-D");
    case(1452, &[3, 2, 4, 2, 3, 5], 4, 1, 3, 1, "6-D");
    case(1453, &[3, 2, 4, 2, 3, 5], 0, 1, 3, 1, "6-D outer");
    case(1454, &[1, 1, 1, 1], 2, 0, 1, 1, "1x1");
    case(1455, &[2, 3, 4], 2, 0, 4, 10, "step past the end");
}

#[test]
fn empty_results() {
    let gpu = gpu_or_skip!();
    let x = Tensor::zeros(gpu, [2, 3, 4]).unwrap();
    for (start, end) in [(2, 2), (3, 1), (3, 3)] {
        let y = gpu.run(|rec| ops::slice(rec, &x, 1, start, end, 1)).unwrap();
        assert_eq!(y.dims(), &[2, 0, 4], "{start}..{end}");
    }
    assert_eq!(ops::slice_shape(&[5], 0, 1, 5, 2).unwrap(), vec![2]);
    assert_eq!(ops::slice_shape(&[5], 0, 0, 5, 2).unwrap(), vec![3]);
}

#[test]
fn random_shapes() {
    let mut r = rng(1460);
    for i in 0..16 {
        let rank = r.random_range(1..=5);
        let x: Vec<usize> = (0..rank).map(|_| r.random_range(1..8)).collect();
        let axis = r.random_range(0..rank);
        let start = r.random_range(0..x[axis]);
        let end = r.random_range(start + 1..=x[axis]);
        case(1470 + i, &x, axis, start, end, r.random_range(1..4), "random");
    }
}

#[test]
fn known_values() {
    let gpu = gpu_or_skip!();
    let x = Tensor::from_f32(gpu, [2, 5], &[0., 1., 2., 3., 4., 5., 6., 7., 8., 9.]).unwrap();
    let y = gpu.run(|rec| ops::slice(rec, &x, 1, 1, 5, 2)).unwrap();
    check(gpu, "slice", "known values", &y, &Array::new(vec![2, 2], vec![1., 3., 6., 8.]), TOL);
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let x = Tensor::zeros(gpu, [2, 3, 4]).unwrap();
    let err = gpu.run(|rec| ops::slice(rec, &x, 3, 0, 1, 1)).unwrap_err();
    assert!(err.to_string().contains("slice"), "{err}");
    assert!(gpu.run(|rec| ops::slice(rec, &x, 1, 0, 3, 0)).is_err());
    assert!(gpu.run(|rec| ops::slice(rec, &x, 1, 4, 3, 1)).is_err());
    assert!(gpu.run(|rec| ops::slice(rec, &x, 1, 0, 4, 1)).is_err());
    assert!(gpu.run(|rec| ops::slice(rec, &x, 1, 0, usize::MAX, 1)).is_err());
    let idx = Tensor::from_u32(gpu, [3], &[1, 2, 3]).unwrap();
    assert!(gpu.run(|rec| ops::slice(rec, &idx, 0, 0, 2, 1)).is_err());
}

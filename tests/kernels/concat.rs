use featuremap::ops;
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::Rng;

use crate::common::{check, random_pair, rng, TOL};
use crate::gpu_or_skip;

/// Concatenates random tensors of the given shapes along `axis` and checks the reference.
fn case(seed: u64, shapes: &[Vec<usize>], axis: usize, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let pairs: Vec<(Array, Tensor)> = shapes.iter().map(|s| random_pair(gpu, &mut r, s)).collect();
    let arrays: Vec<&Array> = pairs.iter().map(|p| &p.0).collect();
    let tensors: Vec<&Tensor> = pairs.iter().map(|p| &p.1).collect();
    let y = gpu.run(|rec| ops::concat(rec, &tensors, axis)).unwrap();
    let want = reference::concat(&arrays, axis);
    check(gpu, "concat", &format!("{name} shapes={shapes:?} axis={axis}"), &y, &want, TOL);
}

#[test]
fn every_axis_with_one_two_and_three_inputs() {
    let base = [2usize, 3, 4, 5];
    let mut seed = 200;
    for axis in 0..4 {
        for count in 1..=3 {
            // Sizes along the axis differ between inputs; channel counts cover 1, 3, 5, 17.
            let shapes: Vec<Vec<usize>> = (0..count)
                .map(|i| {
                    let mut s = base.to_vec();
                    s[axis] = [1, 3, 5, 17][(i + axis) % 4];
                    s
                })
                .collect();
            case(seed, &shapes, axis, "axis");
            seed += 1;
        }
    }
}

#[test]
fn channel_counts_1_3_5_17() {
    let shapes: Vec<Vec<usize>> = [1, 3, 5, 17].iter().map(|&c| vec![2, c, 3, 4]).collect();
    case(220, &shapes, 1, "channels");
}

#[test]
fn rank_1_2_and_6() {
    case(230, &[vec![7], vec![1], vec![9]], 0, "rank1");
    case(231, &[vec![3, 5], vec![3, 2]], 1, "rank2");
    case(232, &[vec![2, 1, 3, 2, 2, 3], vec![2, 1, 3, 4, 2, 3]], 3, "rank6");
    case(233, &[vec![2, 1, 3, 2, 2, 3], vec![2, 1, 3, 2, 2, 1]], 5, "rank6 last");
}

#[test]
fn empty_input_among_others() {
    case(240, &[vec![1, 2, 3, 3], vec![1, 0, 3, 3], vec![1, 4, 3, 3]], 1, "empty");
}

#[test]
fn random_shapes() {
    let mut r = rng(250);
    for i in 0..12 {
        let rank = r.random_range(1..=5);
        let base: Vec<usize> = (0..rank).map(|_| r.random_range(1..6)).collect();
        let axis = r.random_range(0..rank);
        let count = r.random_range(1..5);
        let shapes: Vec<Vec<usize>> = (0..count)
            .map(|_| {
                let mut s = base.clone();
                s[axis] = r.random_range(1..7);
                s
            })
            .collect();
        case(260 + i, &shapes, axis, "random");
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let a = Tensor::zeros(gpu, [1, 2, 3, 3]).unwrap();
    let b = Tensor::zeros(gpu, [1, 2, 4, 3]).unwrap();
    let c = Tensor::zeros(gpu, [2, 3, 3]).unwrap();
    let err = gpu.run(|rec| ops::concat(rec, &[&a, &b], 1)).unwrap_err();
    assert!(err.to_string().contains("concat"), "{err}");
    assert!(gpu.run(|rec| ops::concat(rec, &[&a, &b], 2)).is_ok());
    assert!(gpu.run(|rec| ops::concat(rec, &[&a, &a], 4)).is_err());
    assert!(gpu.run(|rec| ops::concat(rec, &[&a, &c], 0)).is_err());
    assert!(gpu.run(|rec| ops::concat(rec, &[], 0)).is_err());
}

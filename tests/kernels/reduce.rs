use featuremap::ops::{self, ReduceOp};
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::Rng;

use crate::common::{check, random_pair, rng, TOL};
use crate::gpu_or_skip;

const OPS: [ReduceOp; 3] = [ReduceOp::Mean, ReduceOp::Sum, ReduceOp::Max];

/// Reduces a random `x` over `axes` with every op, keepdims and not, against the reference.
fn case(seed: u64, x: &[usize], axes: &[usize], name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, x);
    for op in OPS {
        for keep in [true, false] {
            let y = gpu.run(|rec| ops::reduce(rec, &xt, axes, keep, op)).unwrap();
            let want = reference::reduce(&xa, axes, keep, op);
            check(gpu, op.name(), &format!("{name} x={x:?} axes={axes:?} keepdims={keep}"), &y, &want, TOL);
        }
    }
}

#[test]
fn spatial_channel_and_batch_axes() {
    case(1700, &[2, 5, 7, 6], &[2, 3], "spatial (global pool)");
    case(1701, &[2, 5, 7, 6], &[1], "channels");
    case(1702, &[2, 5, 7, 6], &[0], "batch");
    case(1703, &[2, 5, 7, 6], &[3, 1], "unsorted non-adjacent");
    case(1704, &[2, 5, 7, 6], &[0, 1, 2, 3], "all");
    case(1705, &[2, 5, 7, 6], &[], "empty axes = all");
}

#[test]
fn long_reductions_and_ranks() {
    case(1710, &[3, 1000], &[1], "1000");
    case(1711, &[2, 64, 33, 31], &[2, 3], "large map");
    case(1712, &[2, 3, 2, 4, 3, 5], &[1, 3, 5], "6-D");
    case(1713, &[7], &[0], "1-D");
    case(1714, &[1, 1, 1, 1], &[2], "1x1");
    case(1715, &[4, 1, 3], &[1], "size-1 axis");
}

#[test]
fn shapes() {
    assert_eq!(ops::reduce_shape(&[2, 3, 4, 5], &[2, 3], true).unwrap(), vec![2, 3, 1, 1]);
    assert_eq!(ops::reduce_shape(&[2, 3, 4, 5], &[1], false).unwrap(), vec![2, 4, 5]);
    assert_eq!(ops::reduce_shape(&[2, 3], &[], false).unwrap(), Vec::<usize>::new());
}

#[test]
fn known_values() {
    let gpu = gpu_or_skip!();
    let x = Tensor::from_f32(gpu, [2, 3], &[1., -2., 3., 4., 5., -6.]).unwrap();
    for (op, want) in [(ReduceOp::Sum, [2.0, 3.0]), (ReduceOp::Mean, [2.0 / 3.0, 1.0]), (ReduceOp::Max, [3.0, 5.0])] {
        let y = gpu.run(|rec| ops::reduce(rec, &x, &[1], false, op)).unwrap();
        check(gpu, op.name(), "known values", &y, &Array::new(vec![2], want.to_vec()), TOL);
    }
    // The maximum of all-negative values.
    let x = Tensor::from_f32(gpu, [1, 3], &[-7., -3., -5.]).unwrap();
    let y = gpu.run(|rec| ops::reduce(rec, &x, &[1], true, ReduceOp::Max)).unwrap();
    check(gpu, "reduce_max", "negative", &y, &Array::new(vec![1, 1], vec![-3.0]), TOL);
}

#[test]
fn empty_reductions() {
    let gpu = gpu_or_skip!();
    let x = Tensor::zeros(gpu, [2, 0, 3]).unwrap();
    let y = gpu.run(|rec| ops::reduce(rec, &x, &[1], false, ReduceOp::Sum)).unwrap();
    check(gpu, "reduce_sum", "empty axis", &y, &Array::zeros(vec![2, 3]), TOL);
    assert!(gpu.run(|rec| ops::reduce(rec, &x, &[1], false, ReduceOp::Mean)).is_err());
    assert!(gpu.run(|rec| ops::reduce(rec, &x, &[1], false, ReduceOp::Max)).is_err());
    let y = gpu.run(|rec| ops::reduce(rec, &x, &[2], true, ReduceOp::Max)).unwrap();
    assert_eq!(y.dims(), &[2, 0, 1]);
}

#[test]
fn random_shapes() {
    let mut r = rng(1720);
    for i in 0..12 {
        let rank = r.random_range(1..=5);
        let x: Vec<usize> = (0..rank).map(|_| r.random_range(1..8)).collect();
        let axes: Vec<usize> = (0..rank).filter(|_| r.random_bool(0.5)).collect();
        case(1730 + i, &x, &axes, "random");
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let x = Tensor::zeros(gpu, [2, 3, 4]).unwrap();
    let err = gpu.run(|rec| ops::reduce(rec, &x, &[3], true, ReduceOp::Mean)).unwrap_err();
    assert!(err.to_string().contains("reduce_mean"), "{err}");
    assert!(gpu.run(|rec| ops::reduce(rec, &x, &[1, 1], true, ReduceOp::Sum)).is_err());
    let x7 = Tensor::zeros(gpu, [1, 1, 1, 1, 1, 1, 2]).unwrap();
    assert!(gpu.run(|rec| ops::reduce(rec, &x7, &[6], true, ReduceOp::Max)).is_err());
    let idx = Tensor::from_u32(gpu, [3], &[1, 2, 3]).unwrap();
    assert!(gpu.run(|rec| ops::reduce(rec, &idx, &[0], true, ReduceOp::Sum)).is_err());
}

use featuremap::ops::{self, PadMode};
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::Rng;

use crate::common::{check, random_pair, rng, TOL};
use crate::gpu_or_skip;

/// Pads a random tensor of `shape` by `pads` in `mode` and checks the reference.
fn case(seed: u64, shape: &[usize], pads: &[usize], mode: PadMode, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, shape);
    let y = gpu.run(|rec| ops::pad(rec, &xt, pads, mode)).unwrap();
    let want = reference::pad(&xa, pads, mode);
    check(gpu, "pad", &format!("{name} shape={shape:?} pads={pads:?} {mode:?}"), &y, &want, TOL);
}

const MODES: [PadMode; 4] = [PadMode::Constant(0.0), PadMode::Constant(-2.5), PadMode::Reflect, PadMode::Edge];

#[test]
fn asymmetric_spatial_pads_all_modes() {
    for (i, mode) in MODES.into_iter().enumerate() {
        case(400 + i as u64, &[2, 3, 5, 6], &[0, 0, 2, 0, 0, 0, 1, 3], mode, "spatial");
        case(410 + i as u64, &[1, 2, 4, 4], &[0, 0, 0, 3, 0, 0, 3, 1], mode, "spatial 2");
    }
}

#[test]
fn pads_on_batch_and_channel_axes() {
    for (i, mode) in MODES.into_iter().enumerate() {
        case(420 + i as u64, &[2, 3, 4, 3], &[1, 2, 0, 1, 1, 0, 2, 0], mode, "N and C");
    }
}

#[test]
fn zero_pads_copy() {
    for (i, mode) in MODES.into_iter().enumerate() {
        case(430 + i as u64, &[2, 3, 4, 5], &[0; 8], mode, "zero");
    }
}

#[test]
fn known_values() {
    let gpu = gpu_or_skip!();
    let x = Tensor::from_f32(gpu, [4], &[1.0, 2.0, 3.0, 4.0]).unwrap();
    for (mode, want) in [
        (PadMode::Constant(9.0), vec![9.0, 9.0, 1.0, 2.0, 3.0, 4.0, 9.0]),
        (PadMode::Reflect, vec![3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0]),
        (PadMode::Edge, vec![1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 4.0]),
    ] {
        let y = gpu.run(|rec| ops::pad(rec, &x, &[2, 1], mode)).unwrap();
        assert_eq!(y.to_f32(gpu).unwrap(), want, "{mode:?}");
        let r = reference::pad(&Array::from_f32(vec![4], &[1.0, 2.0, 3.0, 4.0]), &[2, 1], mode);
        assert_eq!(r.data, want.iter().map(|&v| v as f64).collect::<Vec<_>>(), "reference {mode:?}");
    }
}

#[test]
fn other_ranks() {
    case(440, &[3, 2, 2, 1, 2, 3], &[1, 0, 1, 0, 1, 2, 0, 1, 0, 0, 0, 1], PadMode::Edge, "rank6");
    case(441, &[5, 4], &[4, 1, 3, 3], PadMode::Reflect, "rank2");
    case(442, &[1, 0, 3], &[0, 2, 1, 0, 1, 0], PadMode::Constant(1.5), "empty input");
}

#[test]
fn random_shapes() {
    let mut r = rng(450);
    for i in 0..14 {
        let rank = r.random_range(1..=5);
        let shape: Vec<usize> = (0..rank).map(|_| r.random_range(1..6)).collect();
        let mode = MODES[r.random_range(0..4)];
        let pads: Vec<usize> = (0..2 * rank)
            .map(|k| {
                let limit = if mode == PadMode::Reflect { shape[k % rank] } else { 4 };
                r.random_range(0..limit)
            })
            .collect();
        case(460 + i, &shape, &pads, mode, "random");
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let x = Tensor::zeros(gpu, [1, 2, 3, 3]).unwrap();
    let err = gpu.run(|rec| ops::pad(rec, &x, &[0, 0, 3, 0, 0, 0, 0, 0], PadMode::Reflect)).unwrap_err();
    assert!(err.to_string().contains("pad"), "{err}");
    assert!(gpu.run(|rec| ops::pad(rec, &x, &[0, 0, 0, 0, 0, 0, 0, 3], PadMode::Reflect)).is_err());
    assert!(gpu.run(|rec| ops::pad(rec, &x, &[0, 0, 2, 0, 0, 0, 0, 2], PadMode::Reflect)).is_ok());
    assert!(gpu.run(|rec| ops::pad(rec, &x, &[1, 1, 1, 1], PadMode::Edge)).is_err());
    assert!(gpu.run(|rec| ops::pad(rec, &x, &[], PadMode::Constant(0.0))).is_err());
    let e = Tensor::zeros(gpu, [1, 0, 3]).unwrap();
    assert!(gpu.run(|rec| ops::pad(rec, &e, &[0, 1, 0, 0, 0, 0], PadMode::Edge)).is_err());
    let x7 = Tensor::zeros(gpu, [1, 1, 1, 1, 1, 1, 2]).unwrap();
    assert!(gpu.run(|rec| ops::pad(rec, &x7, &[0; 14], PadMode::Edge)).is_err());
}

use featuremap::ops::{self, NearestCoords, NearestMode};
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::Rng;

use crate::common::{check, random_pair, rng, TOL};
use crate::gpu_or_skip;

const COORDS: [NearestCoords; 3] = [NearestCoords::Asymmetric, NearestCoords::HalfPixel, NearestCoords::AlignCorners];
const MODES: [NearestMode; 4] =
    [NearestMode::Floor, NearestMode::RoundPreferFloor, NearestMode::RoundPreferCeil, NearestMode::Ceil];

/// Resizes a random `x` to `out_hw` and checks the reference.
fn case(seed: u64, x: [usize; 4], out_hw: [usize; 2], coords: NearestCoords, mode: NearestMode, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, &x);
    let y = gpu.run(|rec| ops::resize_nearest(rec, &xt, out_hw, coords, mode)).unwrap();
    let want = reference::resize_nearest(&xa, out_hw, coords, mode);
    check(gpu, "resize_nearest", &format!("{name} x={x:?} out={out_hw:?} {coords:?} {mode:?}"), &y, &want, TOL);
}

#[test]
fn every_mode_up_and_down() {
    let mut s = 1200;
    for coords in COORDS {
        for mode in MODES {
            case(s, [1, 2, 5, 7], [10, 14], coords, mode, "up x2");
            case(s + 1, [2, 1, 5, 7], [13, 9], coords, mode, "up non-integer");
            case(s + 2, [1, 2, 16, 12], [8, 4], coords, mode, "down integer");
            case(s + 3, [1, 3, 13, 11], [5, 7], coords, mode, "down non-integer");
            case(s + 4, [1, 1, 6, 5], [6, 5], coords, mode, "same size");
            s += 5;
        }
    }
}

#[test]
fn to_and_from_1x1() {
    let mut s = 1300;
    for coords in COORDS {
        for mode in MODES {
            case(s, [2, 3, 6, 5], [1, 1], coords, mode, "to 1x1");
            case(s + 1, [1, 2, 1, 1], [4, 7], coords, mode, "from 1x1");
            case(s + 2, [1, 2, 1, 6], [3, 1], coords, mode, "1-wide");
            s += 3;
        }
    }
}

/// Indices by hand, from the ONNX definitions.
#[test]
fn known_indices() {
    let gpu = gpu_or_skip!();
    // One row of 4 pixels valued 0..3, resized along W.
    let x = Tensor::from_f32(gpu, [1, 1, 1, 4], &[0.0, 1.0, 2.0, 3.0]).unwrap();
    let cases: [(usize, NearestCoords, NearestMode, &[f64]); 8] = [
        // asymmetric 4 -> 8: src = d / 2; floor.
        (8, NearestCoords::Asymmetric, NearestMode::Floor, &[0., 0., 1., 1., 2., 2., 3., 3.]),
        // asymmetric 4 -> 8, ceil: 0, 0.5 -> 1, 1, 1.5 -> 2, ... clamped to 3.
        (8, NearestCoords::Asymmetric, NearestMode::Ceil, &[0., 1., 1., 2., 2., 3., 3., 3.]),
        // half-pixel 4 -> 2: src = (d + 0.5) * 2 - 0.5 = 0.5, 2.5 (ties).
        (2, NearestCoords::HalfPixel, NearestMode::RoundPreferFloor, &[0., 2.]),
        (2, NearestCoords::HalfPixel, NearestMode::RoundPreferCeil, &[1., 3.]),
        (2, NearestCoords::HalfPixel, NearestMode::Floor, &[0., 2.]),
        (2, NearestCoords::HalfPixel, NearestMode::Ceil, &[1., 3.]),
        // half-pixel 4 -> 8: src = d / 2 - 0.25 = -0.25, 0.25, 0.75, ...; rounded.
        (8, NearestCoords::HalfPixel, NearestMode::RoundPreferFloor, &[0., 0., 1., 1., 2., 2., 3., 3.]),
        // align-corners 4 -> 3: src = d * 1.5 = 0, 1.5, 3.
        (3, NearestCoords::AlignCorners, NearestMode::RoundPreferFloor, &[0., 1., 3.]),
    ];
    for (ow, coords, mode, want) in cases {
        let y = gpu.run(|rec| ops::resize_nearest(rec, &x, [1, ow], coords, mode)).unwrap();
        let want = Array::new(vec![1, 1, 1, ow], want.to_vec());
        check(gpu, "resize_nearest", &format!("known {coords:?} {mode:?} 4->{ow}"), &y, &want, TOL);
        let r = reference::resize_nearest(&Array::new(vec![1, 1, 1, 4], vec![0., 1., 2., 3.]), [1, ow], coords, mode);
        assert_eq!(r.data, want.data, "reference {coords:?} {mode:?} 4->{ow}");
    }
}

/// Sizes where PyTorch's f32 index (floor(d * fl(in / out))) differs from the exact rational
/// floor(d * in / out): 2 -> 82 puts output 41 on input 0 (41 * fl(2/82) < 1).
#[test]
fn f32_scale_like_pytorch() {
    assert_eq!(reference::nearest_index(41, 2, 82, NearestCoords::Asymmetric, NearestMode::Floor), 0);
    case(1350, [1, 1, 2, 2], [82, 94], NearestCoords::Asymmetric, NearestMode::Floor, "pytorch f32 index");
    case(1351, [1, 1, 3, 3], [123, 41], NearestCoords::HalfPixel, NearestMode::RoundPreferCeil, "nearest-exact f32");
}

#[test]
fn random_shapes() {
    let mut r = rng(1360);
    for i in 0..16 {
        let x = [r.random_range(1..3), r.random_range(1..4), r.random_range(1..12), r.random_range(1..12)];
        let out = [r.random_range(1..25), r.random_range(1..25)];
        case(1370 + i, x, out, COORDS[r.random_range(0..3)], MODES[r.random_range(0..4)], "random");
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let (c, m) = (NearestCoords::Asymmetric, NearestMode::Floor);
    let x = Tensor::zeros(gpu, [1, 2, 3, 3]).unwrap();
    let err = gpu.run(|rec| ops::resize_nearest(rec, &x, [0, 4], c, m)).unwrap_err();
    assert!(err.to_string().contains("resize_nearest"), "{err}");
    assert!(gpu.run(|rec| ops::resize_nearest(rec, &x, [4, 0], c, m)).is_err());
    let x3 = Tensor::zeros(gpu, [2, 3, 3]).unwrap();
    assert!(gpu.run(|rec| ops::resize_nearest(rec, &x3, [4, 4], c, m)).is_err());
    let empty = Tensor::zeros(gpu, [1, 2, 0, 3]).unwrap();
    assert!(gpu.run(|rec| ops::resize_nearest(rec, &empty, [4, 4], c, m)).is_err());
    assert!(gpu.run(|rec| ops::resize_nearest(rec, &x, [usize::MAX, usize::MAX], c, m)).is_err());
    assert!(gpu.run(|rec| ops::resize_nearest(rec, &x, [1 << 23, 1], c, m)).is_err());
    let idx = Tensor::from_u32(gpu, [1, 1, 1, 1], &[0]).unwrap();
    assert!(gpu.run(|rec| ops::resize_nearest(rec, &idx, [2, 2], c, m)).is_err());
}

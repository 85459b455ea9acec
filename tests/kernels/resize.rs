use featuremap::ops::{self, CoordMode};
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::Rng;

use crate::common::{check, random_pair, rng, TOL};
use crate::gpu_or_skip;

const MODES: [CoordMode; 2] = [CoordMode::HalfPixel, CoordMode::AlignCorners];

/// Resizes a random `x` to `out_hw` in `mode` and checks the reference.
fn case(seed: u64, x: [usize; 4], out_hw: [usize; 2], mode: CoordMode, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, &x);
    let y = gpu.run(|rec| ops::resize_bilinear(rec, &xt, out_hw, mode)).unwrap();
    let want = reference::resize_bilinear(&xa, out_hw, mode);
    check(gpu, "resize", &format!("{name} x={x:?} out={out_hw:?} {mode:?}"), &y, &want, TOL);
}

#[test]
fn up_and_down_non_square_non_integer() {
    for (i, mode) in MODES.into_iter().enumerate() {
        let s = 500 + 10 * i as u64;
        case(s, [1, 2, 5, 7], [10, 14], mode, "up x2");
        case(s + 1, [2, 3, 5, 7], [13, 9], mode, "up non-integer");
        case(s + 2, [1, 2, 16, 12], [8, 4], mode, "down integer");
        case(s + 3, [1, 3, 13, 11], [5, 7], mode, "down non-integer");
        case(s + 4, [1, 2, 6, 9], [11, 4], mode, "up H down W");
        case(s + 5, [1, 1, 5, 5], [5, 5], mode, "same size");
    }
}

#[test]
fn to_and_from_1x1() {
    for (i, mode) in MODES.into_iter().enumerate() {
        let s = 530 + 10 * i as u64;
        case(s, [2, 3, 6, 5], [1, 1], mode, "to 1x1");
        case(s + 1, [2, 3, 1, 1], [4, 7], mode, "from 1x1");
        case(s + 2, [1, 2, 1, 6], [3, 1], mode, "1-wide");
    }
}

#[test]
fn gradcam_upsample_7x7_to_224x224() {
    for (i, mode) in MODES.into_iter().enumerate() {
        case(550 + i as u64, [1, 2, 7, 7], [224, 224], mode, "grad-cam");
    }
}

#[test]
fn known_values_match_pytorch() {
    // torch.nn.functional.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=(3, 4),
    // mode='bilinear', align_corners=...) by hand:
    // half-pixel, H scale 2/3: src rows 0, 0.5, 1.1667 -> clamped 1; W scale 0.5: src cols
    // 0 (clamped), 0.25, 0.75, 1 (upper index clamped).
    let gpu = gpu_or_skip!();
    let data = [0.0f32, 1.0, 2.0, 3.0];
    let half = [0.0, 0.25, 0.75, 1.0, 1.0, 1.25, 1.75, 2.0, 2.0, 2.25, 2.75, 3.0];
    // align-corners: rows 0, 0.5, 1; cols 0, 1/3, 2/3, 1.
    let t = 1.0 / 3.0;
    let corners = [0.0, t, 2.0 * t, 1.0, 1.0, 1.0 + t, 1.0 + 2.0 * t, 2.0, 2.0, 2.0 + t, 2.0 + 2.0 * t, 3.0];
    for (mode, want) in [(CoordMode::HalfPixel, half), (CoordMode::AlignCorners, corners)] {
        let x = Tensor::from_f32(gpu, [1, 1, 2, 2], &data).unwrap();
        let y = gpu.run(|rec| ops::resize_bilinear(rec, &x, [3, 4], mode)).unwrap();
        let want = Array::new(vec![1, 1, 3, 4], want.to_vec());
        check(gpu, "resize", &format!("known values {mode:?}"), &y, &want, TOL);
        let r = reference::resize_bilinear(&Array::from_f32(vec![1, 1, 2, 2], &data), [3, 4], mode);
        let err = r.data.iter().zip(&want.data).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(err < 1e-12, "reference {mode:?}: {:?}", r.data);
    }
}

#[test]
fn random_shapes() {
    let mut r = rng(560);
    for i in 0..14 {
        let x = [r.random_range(1..3), r.random_range(1..4), r.random_range(1..12), r.random_range(1..12)];
        let out = [r.random_range(1..20), r.random_range(1..20)];
        case(570 + i, x, out, MODES[r.random_range(0..2)], "random");
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let x = Tensor::zeros(gpu, [1, 2, 3, 3]).unwrap();
    let err = gpu.run(|rec| ops::resize_bilinear(rec, &x, [0, 4], CoordMode::HalfPixel)).unwrap_err();
    assert!(err.to_string().contains("resize"), "{err}");
    assert!(gpu.run(|rec| ops::resize_bilinear(rec, &x, [4, 0], CoordMode::AlignCorners)).is_err());
    let x3 = Tensor::zeros(gpu, [2, 3, 3]).unwrap();
    assert!(gpu.run(|rec| ops::resize_bilinear(rec, &x3, [4, 4], CoordMode::HalfPixel)).is_err());
    let empty = Tensor::zeros(gpu, [1, 2, 0, 3]).unwrap();
    assert!(gpu.run(|rec| ops::resize_bilinear(rec, &empty, [4, 4], CoordMode::HalfPixel)).is_err());
    assert!(gpu.run(|rec| ops::resize_bilinear(rec, &x, [usize::MAX, usize::MAX], CoordMode::HalfPixel)).is_err());
}

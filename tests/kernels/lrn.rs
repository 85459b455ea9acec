use featuremap::ops::{self, Lrn};
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::Rng;

use crate::common::{check, random_pair, rng, TOL};
use crate::gpu_or_skip;

/// LRN of random data against the reference.
fn case(seed: u64, x: &[usize], cfg: Lrn, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, x);
    let y = gpu.run(|rec| ops::lrn(rec, &xt, &cfg)).unwrap();
    let want = reference::lrn(&xa, &cfg);
    check(gpu, "lrn", &format!("{name} x={x:?} {cfg:?}"), &y, &want, TOL);
}

/// Strong enough that every channel of the window changes the result visibly.
fn strong(size: usize) -> Lrn {
    Lrn { size, alpha: 2.0, beta: 0.75, k: 1.0 }
}

#[test]
fn window_matches_the_definition() {
    // One pixel, channels 1, 2, 3, size 2, alpha / size = 1, beta 1, k 1: the window of c is
    // c ..= c + 1, so b = [1 / (1 + 1 + 4), 2 / (1 + 4 + 9), 3 / (1 + 9)].
    let gpu = gpu_or_skip!();
    let cfg = Lrn { size: 2, alpha: 2.0, beta: 1.0, k: 1.0 };
    let x = Tensor::from_f32(gpu, [1, 3, 1, 1], &[1.0, 2.0, 3.0]).unwrap();
    let y = gpu.run(|rec| ops::lrn(rec, &x, &cfg)).unwrap();
    let want = Array::new(vec![1, 3, 1, 1], vec![1.0 / 6.0, 2.0 / 14.0, 3.0 / 10.0]);
    assert_eq!(reference::lrn(&Array::from_f32([1, 3, 1, 1], &[1.0, 2.0, 3.0]), &cfg), want);
    check(gpu, "lrn", "hand-computed size 2", &y, &want, TOL);
    // Size 3 (odd, centred): c - 1 ..= c + 1, alpha / size = 1.
    let cfg = Lrn { size: 3, alpha: 3.0, beta: 1.0, k: 1.0 };
    let y = gpu.run(|rec| ops::lrn(rec, &x, &cfg)).unwrap();
    let want = Array::new(vec![1, 3, 1, 1], vec![1.0 / 6.0, 2.0 / 15.0, 3.0 / 14.0]);
    check(gpu, "lrn", "hand-computed size 3", &y, &want, TOL);
}

#[test]
fn sizes_1_2_5_even_and_odd() {
    for (i, size) in [1usize, 2, 3, 4, 5, 6].into_iter().enumerate() {
        case(10 + i as u64, &[2, 7, 5, 6], strong(size), "size");
    }
}

#[test]
fn pytorch_defaults() {
    assert_eq!(Lrn::default(), Lrn { size: 5, alpha: 1e-4, beta: 0.75, k: 1.0 });
    case(20, &[1, 8, 6, 6], Lrn::default(), "default");
    // AlexNet's: size 5, alpha 1e-4, beta 0.75, k 2, on larger activations.
    let gpu = gpu_or_skip!();
    let mut r = rng(21);
    let v: Vec<f32> = (0..2 * 6 * 5 * 5).map(|_| r.random_range(-30.0f32..30.0)).collect();
    let xt = Tensor::from_f32(gpu, [2, 6, 5, 5], &v).unwrap();
    let cfg = Lrn { k: 2.0, ..Lrn::default() };
    let y = gpu.run(|rec| ops::lrn(rec, &xt, &cfg)).unwrap();
    check(gpu, "lrn", "alexnet", &y, &reference::lrn(&Array::from_f32([2, 6, 5, 5], &v), &cfg), TOL);
}

#[test]
fn window_wider_than_channels_and_1x1_planes() {
    case(30, &[3, 1, 4, 5], strong(5), "C=1");
    case(31, &[3, 3, 1, 1], strong(7), "size>C");
    case(32, &[2, 5, 1, 1], strong(4), "1x1");
    case(33, &[1, 17, 3, 2], strong(5), "C=17");
}

#[test]
fn three_and_five_dimensions() {
    case(40, &[2, 5, 7], strong(3), "3-D");
    case(41, &[1, 4, 2, 3, 3], strong(2), "5-D");
}

#[test]
fn random_shapes() {
    let mut r = rng(50);
    for i in 0..15 {
        let x = [r.random_range(1..4), r.random_range(1..20), r.random_range(1..9), r.random_range(1..9)];
        let cfg = Lrn {
            size: r.random_range(1..8),
            alpha: r.random_range(1e-4f32..3.0),
            beta: r.random_range(0.5f32..1.0),
            k: r.random_range(0.5f32..2.5),
        };
        case(100 + i, &x, cfg, "random");
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let x = Tensor::zeros(gpu, [1, 3, 4, 4]).unwrap();
    let e = gpu.run(|rec| ops::lrn(rec, &x, &Lrn { size: 0, ..Lrn::default() })).unwrap_err();
    assert!(e.to_string().contains("lrn"), "{e}");
    assert!(gpu.run(|rec| ops::lrn(rec, &x, &Lrn { alpha: f32::NAN, ..Lrn::default() })).is_err());
    assert!(gpu.run(|rec| ops::lrn(rec, &x, &Lrn { beta: f32::INFINITY, ..Lrn::default() })).is_err());
    let x2 = Tensor::zeros(gpu, [3, 4]).unwrap();
    assert!(gpu.run(|rec| ops::lrn(rec, &x2, &Lrn::default())).is_err());
    let u = Tensor::from_u32(gpu, [1, 1, 1, 1], &[1]).unwrap();
    assert!(gpu.run(|rec| ops::lrn(rec, &u, &Lrn::default())).is_err());
}

use featuremap::ops::{self, Pool2d};
use featuremap::reference::{self, Array};
use featuremap::{DType, Gpu, Tensor};
use rand::Rng;

use crate::common::{check, random_pair, rng, TOL};
use crate::gpu_or_skip;

/// Max pooling of random data against the reference: values and argmax indices exactly.
fn max_case(seed: u64, x: [usize; 4], cfg: Pool2d, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, &x);
    max_check(&xa, &xt, cfg, name);
}

fn max_check(xa: &Array, xt: &Tensor, cfg: Pool2d, name: &str) {
    max_compare(xa, xt, cfg, name, true);
}

/// [`max_check`] without the relative error, which inputs with infinities do not have.
fn max_exact(xa: &Array, xt: &Tensor, cfg: Pool2d, name: &str) {
    max_compare(xa, xt, cfg, name, false);
}

fn max_compare(xa: &Array, xt: &Tensor, cfg: Pool2d, name: &str, finite: bool) {
    let gpu = gpu_or_skip!();
    let (y, idx) = gpu.run(|rec| ops::max_pool2d(rec, xt, &cfg)).unwrap();
    let (want, want_idx) = reference::max_pool2d(xa, &cfg);
    let case = format!("{name} x={:?} {cfg:?}", xa.shape);
    if finite {
        check(gpu, "max_pool2d", &case, &y, &want, TOL);
    }
    assert_eq!(idx.dtype(), DType::U32, "{case}");
    assert_eq!(idx.dims(), y.dims(), "{case}");
    assert_eq!(idx.to_u32(gpu).unwrap(), want_idx, "max_pool2d {case}: argmax indices");
    // Pooling selects values: the maxima must be exact, not just close.
    assert_eq!(y.to_f32(gpu).unwrap(), want.data.iter().map(|&v| v as f32).collect::<Vec<_>>(), "{case}");
}

/// Average pooling of random data against the reference.
fn avg_case(seed: u64, x: [usize; 4], cfg: Pool2d, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, &x);
    let y = gpu.run(|rec| ops::avg_pool2d(rec, &xt, &cfg)).unwrap();
    let want = reference::avg_pool2d(&xa, &cfg);
    check(gpu, "avg_pool2d", &format!("{name} x={x:?} {cfg:?}"), &y, &want, TOL);
}

/// Both global pools of random data against the reference.
fn global_case(seed: u64, x: [usize; 4], name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, &x);
    let (avg, max) = gpu.run(|rec| Ok((ops::global_avg_pool2d(rec, &xt)?, ops::global_max_pool2d(rec, &xt)?))).unwrap();
    check(gpu, "global_avg_pool2d", &format!("{name} x={x:?}"), &avg, &reference::global_avg_pool2d(&xa), TOL);
    check(gpu, "global_max_pool2d", &format!("{name} x={x:?}"), &max, &reference::global_max_pool2d(&xa), TOL);
}

fn cfg(kernel: [usize; 2], stride: [usize; 2], padding: [usize; 4]) -> Pool2d {
    Pool2d { kernel, stride, padding, ..Pool2d::new(1, 1) }
}

#[test]
fn output_size_follows_pytorch() {
    // floor: (6 - 3) / 2 + 1 = 2; ceil: 3.
    assert_eq!(Pool2d::new(3, 2).output_hw([6, 6]).unwrap(), [2, 2]);
    assert_eq!(Pool2d { ceil_mode: true, ..Pool2d::new(3, 2) }.output_hw([6, 6]).unwrap(), [3, 3]);
    // ceil would give 4, but the 4th window would start at 6 - 1 = 5 >= H: dropped (PyTorch).
    let c = Pool2d { padding: [1; 4], ceil_mode: true, ..Pool2d::new(2, 2) };
    assert_eq!(c.output_hw([5, 5]).unwrap(), [3, 3]);
    // ResNet's stem pool: 112 -> 56.
    assert_eq!(Pool2d { padding: [1; 4], ..Pool2d::new(3, 2) }.output_hw([112, 112]).unwrap(), [56, 56]);
    // Dilation 2: span 5.
    assert_eq!(Pool2d { dilation: [2, 2], ..Pool2d::new(3, 1) }.output_hw([9, 7]).unwrap(), [5, 3]);
    // Asymmetric padding, non-square.
    assert_eq!(cfg([3, 2], [2, 1], [1, 0, 0, 1]).output_hw([8, 5]).unwrap(), [4, 5]);
}

#[test]
fn plane_1x1() {
    max_case(1, [2, 3, 1, 1], Pool2d::new(1, 1), "1x1 plane");
    avg_case(2, [2, 3, 1, 1], Pool2d::new(1, 1), "1x1 plane");
    avg_case(
        3,
        [1, 5, 1, 1],
        Pool2d { padding: [1; 4], count_include_pad: true, ..Pool2d::new(3, 1) },
        "1x1 plane padded",
    );
    max_case(4, [1, 5, 1, 1], Pool2d { padding: [1; 4], ..Pool2d::new(3, 2) }, "1x1 plane padded");
    global_case(5, [3, 5, 1, 1], "1x1 plane");
}

#[test]
fn kernel_equals_input() {
    max_case(6, [2, 5, 7, 9], cfg([7, 9], [1, 1], [0; 4]), "k=input");
    avg_case(7, [2, 5, 7, 9], cfg([7, 9], [7, 9], [0; 4]), "k=input");
}

#[test]
fn stride_larger_than_kernel() {
    max_case(8, [1, 3, 11, 13], cfg([2, 2], [3, 4], [0; 4]), "stride>kernel");
    avg_case(9, [1, 3, 11, 13], cfg([2, 3], [3, 5], [0; 4]), "stride>kernel");
}

#[test]
fn padding_on_one_side_only() {
    for (i, pad) in [[1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 1, 0], [1, 1, 0, 0]].into_iter().enumerate() {
        let s = 10 + 3 * i as u64;
        max_case(s, [2, 3, 9, 8], cfg([3, 3], [2, 1], pad), "one-sided padding");
        for cip in [false, true] {
            let c = Pool2d {
                count_include_pad: cip,
                ..cfg([3, 2], [2, 2], [pad[0], pad[1].min(1), pad[2], pad[3].min(1)])
            };
            avg_case(s + 1 + cip as u64, [2, 3, 9, 8], c, "one-sided padding");
        }
    }
}

#[test]
fn dilation_2_and_3() {
    max_case(30, [1, 3, 15, 14], Pool2d { dilation: [2, 2], padding: [1; 4], ..Pool2d::new(3, 1) }, "dil2");
    max_case(31, [2, 5, 16, 13], Pool2d { dilation: [3, 2], stride: [2, 1], ..Pool2d::new(3, 1) }, "dil3x2");
    max_case(
        32,
        [1, 4, 17, 17],
        Pool2d { dilation: [3, 3], padding: [2; 4], ceil_mode: true, ..Pool2d::new(5, 3) },
        "dil3 ceil",
    );
}

#[test]
fn ceil_mode_on_and_off() {
    for (i, ceil) in [false, true].into_iter().enumerate() {
        let s = 40 + 10 * i as u64;
        max_case(s, [1, 3, 10, 11], Pool2d { ceil_mode: ceil, ..Pool2d::new(3, 2) }, "ceil");
        max_case(s + 1, [1, 3, 10, 11], Pool2d { ceil_mode: ceil, padding: [1; 4], ..Pool2d::new(2, 2) }, "ceil pad");
        for cip in [false, true] {
            let c = Pool2d { ceil_mode: ceil, count_include_pad: cip, padding: [1; 4], ..Pool2d::new(3, 2) };
            avg_case(s + 2 + cip as u64, [2, 3, 10, 11], c, "ceil pad");
            // The last window sticks out past the padded input: the divisor clips it.
            let c = Pool2d { ceil_mode: ceil, count_include_pad: cip, padding: [1, 0, 1, 0], ..Pool2d::new(3, 2) };
            avg_case(s + 4 + cip as u64, [1, 2, 8, 8], c, "ceil asym");
        }
    }
}

#[test]
fn batch_3_and_odd_channel_counts() {
    for (i, c) in [1usize, 3, 5, 17].into_iter().enumerate() {
        let s = 60 + 4 * i as u64;
        max_case(s, [3, c, 7, 9], Pool2d { padding: [1; 4], ..Pool2d::new(3, 2) }, "channels");
        avg_case(
            s + 1,
            [3, c, 7, 9],
            Pool2d { padding: [1; 4], count_include_pad: true, ..Pool2d::new(3, 2) },
            "channels",
        );
        global_case(s + 2, [3, c, 5, 7], "channels");
    }
}

#[test]
fn global_pool_large_planes() {
    global_case(80, [2, 3, 56, 56], "56x56");
    global_case(81, [1, 2, 67, 45], "67x45");
    // Past SERIAL_PLANE_MAX (src/ops/pool.rs): workgroups per plane on CPU adapters too.
    global_case(83, [2, 3, 70, 65], "70x65");
}

#[test]
fn global_pool_many_planes_folded_grid() {
    // More planes than one grid dimension holds (65535): the planes fold into workgroups y.
    global_case(82, [2, 33000, 1, 2], "66000 planes");
}

#[test]
fn argmax_ties_pick_the_first_maximum() {
    let gpu = gpu_or_skip!();
    let (xa, xt) = few_values(gpu, 90, [2, 3, 9, 10]);
    max_check(&xa, &xt, Pool2d { padding: [1; 4], ..Pool2d::new(3, 2) }, "ties");
    max_check(&xa, &xt, Pool2d { dilation: [2, 2], ..Pool2d::new(2, 1) }, "ties dil");
    // A constant plane: every index is the window's first in-input tap.
    let c = vec![1.0f32; 16];
    let xt = Tensor::from_f32(gpu, [1, 1, 4, 4], &c).unwrap();
    let (_, idx) = gpu.run(|rec| ops::max_pool2d(rec, &xt, &Pool2d { padding: [1; 4], ..Pool2d::new(2, 2) })).unwrap();
    assert_eq!(idx.to_u32(gpu).unwrap(), vec![0, 1, 3, 4, 5, 7, 12, 13, 15]);
}

/// The rows form for 3x3 windows at stride 2 with one column of padding on the left, on rows
/// of whole vec4s (max_pool2d_rows, 8 outputs per invocation; CPU adapters): odd heights (the
/// last window's bottom row outside the input), 12 outputs per row (a second column block
/// half used), no padding on the top or right, a single vec4 of outputs, ties.
#[test]
fn max_pool_rows_form() {
    max_case(400, [2, 3, 9, 16], cfg([3, 3], [2, 2], [1; 4]), "rows, odd height");
    max_case(401, [1, 5, 14, 24], cfg([3, 3], [2, 2], [1; 4]), "rows, 12 outputs per row");
    max_case(402, [1, 2, 9, 16], cfg([3, 3], [2, 2], [0, 1, 0, 1]), "rows, no top padding");
    max_case(403, [1, 2, 10, 8], cfg([3, 3], [2, 2], [1, 1, 0, 0]), "rows, 4 outputs per row");
    let gpu = gpu_or_skip!();
    let (xa, xt) = few_values(gpu, 404, [2, 3, 11, 16]);
    max_check(&xa, &xt, cfg([3, 3], [2, 2], [1; 4]), "rows, ties");
    // A plane of -inf: no tap is greater, every index stays the window's first in-input tap.
    let v = vec![f32::NEG_INFINITY; 9 * 16];
    let xa = Array::from_f32(vec![1, 1, 9, 16], &v);
    let xt = Tensor::from_f32(gpu, [1, 1, 9, 16], &v).unwrap();
    max_exact(&xa, &xt, cfg([3, 3], [2, 2], [1; 4]), "rows, -inf");
}

/// Random values from {0, 1, 2}: most pooling windows hold several maxima.
fn few_values(gpu: &Gpu, seed: u64, shape: [usize; 4]) -> (Array, Tensor) {
    let mut r = rng(seed);
    let v: Vec<f32> = (0..shape.iter().product()).map(|_| r.random_range(0..3) as f32).collect();
    (Array::from_f32(shape.to_vec(), &v), Tensor::from_f32(gpu, shape, &v).unwrap())
}

#[test]
fn window_entirely_in_padding_is_minus_infinity() {
    // H = W = 2, kernel 2, dilation 3, padding 1: the one window's taps are -1 and 2, both out.
    // PyTorch gives -inf and the index of the first tap at or past 0 (2 * W + 2 = 6).
    let gpu = gpu_or_skip!();
    let x = Tensor::from_f32(gpu, [1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap();
    let c = Pool2d { dilation: [3, 3], padding: [1; 4], ..Pool2d::new(2, 1) };
    let (y, idx) = gpu.run(|rec| ops::max_pool2d(rec, &x, &c)).unwrap();
    assert_eq!(y.to_f32(gpu).unwrap(), vec![f32::NEG_INFINITY]);
    assert_eq!(idx.to_u32(gpu).unwrap(), vec![6]);
    let (want, want_idx) = reference::max_pool2d(&Array::from_f32([1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]), &c);
    assert_eq!((want.data, want_idx), (vec![f64::NEG_INFINITY], vec![6]));
}

/// A random valid pooling configuration for an input of at most ~14 x 14.
fn random_cfg(r: &mut impl Rng, dilate: bool) -> ([usize; 2], Pool2d) {
    let kernel = [r.random_range(1..5), r.random_range(1..5)];
    let dilation = if dilate { [r.random_range(1..4), r.random_range(1..4)] } else { [1, 1] };
    let mut padding = [0; 4];
    for (i, p) in padding.iter_mut().enumerate() {
        *p = r.random_range(0..=kernel[i % 2] / 2);
    }
    let stride = [r.random_range(1..4), r.random_range(1..4)];
    let hw =
        [r.random_range(dilation[0] * (kernel[0] - 1) + 1..15), r.random_range(dilation[1] * (kernel[1] - 1) + 1..15)];
    let c = Pool2d {
        kernel,
        stride,
        padding,
        dilation,
        ceil_mode: r.random_bool(0.5),
        count_include_pad: r.random_bool(0.5),
    };
    (hw, c)
}

#[test]
fn random_shapes() {
    // Property-style: seeded random configurations, each checked against the reference.
    let gpu = gpu_or_skip!();
    let mut r = rng(100);
    let mut done = 0;
    while done < 15 {
        let (hw, c) = random_cfg(&mut r, true);
        let x = [r.random_range(1..4), r.random_range(1..6), hw[0], hw[1]];
        let (xa, xt) = random_pair(gpu, &mut r, &x);
        // Dilated windows over padding can miss the input entirely (-inf); covered above.
        if reference::max_pool2d(&xa, &c).0.data.iter().any(|v| v.is_infinite()) {
            continue;
        }
        max_check(&xa, &xt, c, "random");
        done += 1;
    }
    for i in 0..15 {
        let (hw, c) = random_cfg(&mut r, false);
        avg_case(200 + i, [r.random_range(1..4), r.random_range(1..6), hw[0], hw[1]], c, "random");
    }
    for i in 0..15 {
        let x = [r.random_range(1..4), r.random_range(1..6), r.random_range(1..40), r.random_range(1..40)];
        global_case(300 + i, x, "random");
    }
}

#[test]
fn bad_configs_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let x = Tensor::zeros(gpu, [1, 2, 8, 8]).unwrap();
    let bad = [
        Pool2d::new(0, 1),
        Pool2d::new(2, 0),
        Pool2d { dilation: [0, 1], ..Pool2d::new(2, 1) },
        Pool2d { padding: [2, 0, 0, 0], ..Pool2d::new(3, 1) }, // more than half the kernel
        Pool2d { padding: [0, 0, 0, 1], ..Pool2d::new(1, 1) },
        Pool2d::new(9, 1), // window larger than the input
        Pool2d { dilation: [4, 4], ..Pool2d::new(3, 1) },
    ];
    for c in bad {
        let e = gpu.run(|rec| ops::max_pool2d(rec, &x, &c)).unwrap_err();
        assert!(e.to_string().contains("max_pool2d"), "{e}");
        let e = gpu.run(|rec| ops::avg_pool2d(rec, &x, &c)).unwrap_err();
        assert!(e.to_string().contains("avg_pool2d"), "{e}");
        assert!(c.output_hw([8, 8]).is_err());
    }
    // Average pooling has no dilation.
    let dil = Pool2d { dilation: [2, 2], ..Pool2d::new(2, 1) };
    assert!(gpu.run(|rec| ops::max_pool2d(rec, &x, &dil)).is_ok());
    assert!(gpu.run(|rec| ops::avg_pool2d(rec, &x, &dil)).is_err());
    // Wrong rank and dtype.
    let x3 = Tensor::zeros(gpu, [2, 8, 8]).unwrap();
    assert!(gpu.run(|rec| ops::max_pool2d(rec, &x3, &Pool2d::new(2, 2))).is_err());
    assert!(gpu.run(|rec| ops::avg_pool2d(rec, &x3, &Pool2d::new(2, 2))).is_err());
    assert!(gpu.run(|rec| ops::global_avg_pool2d(rec, &x3)).is_err());
    assert!(gpu.run(|rec| ops::global_max_pool2d(rec, &x3)).is_err());
    let xu = Tensor::from_u32(gpu, [1, 1, 2, 2], &[1, 2, 3, 4]).unwrap();
    assert!(gpu.run(|rec| ops::max_pool2d(rec, &xu, &Pool2d::new(2, 2))).is_err());
    assert!(gpu.run(|rec| ops::global_avg_pool2d(rec, &xu)).is_err());
    // Empty feature maps.
    let x0 = Tensor::zeros(gpu, [1, 2, 0, 4]).unwrap();
    assert!(gpu.run(|rec| ops::global_avg_pool2d(rec, &x0)).is_err());
    assert!(gpu.run(|rec| ops::max_pool2d(rec, &x0, &Pool2d::new(1, 1))).is_err());
}

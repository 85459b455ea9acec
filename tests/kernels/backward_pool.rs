//! Pooling gradients: every kernel against its f64 reference, and every reference against
//! central finite differences of the forward reference.

use featuremap::ops::{self, Pool2d};
use featuremap::reference::{self, Array};
use featuremap::{Gpu, Tensor};
use rand::rngs::StdRng;
use rand::Rng;

use crate::backward_activation::{check_fd, distinct_vec, fd_grad, pair, random_array};
use crate::common::{check, rng, TOL};
use crate::gpu_or_skip;

/// Max-pool backward on distinct random values: the forward kernel's argmax (checked against
/// the reference's) feeds the backward kernel, compared with the reference gradient.
fn max_case(gpu: &Gpu, seed: u64, x: [usize; 4], cfg: Pool2d, name: &str) {
    let mut r = rng(seed);
    let (xa, xt) = pair(gpu, &x, &distinct_vec(&mut r, x.iter().product()));
    let (want_y, want_idx) = reference::max_pool2d(&xa, &cfg);
    let (dya, dyt) = pair(gpu, &want_y.shape, &random_array(&mut r, &want_y.shape, 1.0));
    let dx = gpu
        .run(|rec| {
            let (_, idx) = ops::max_pool2d(rec, &xt, &cfg)?;
            ops::max_pool2d_backward(rec, &dyt, &idx, &x, &cfg)
        })
        .unwrap();
    let want = reference::max_pool2d_backward(&dya, &want_idx, &x, &cfg);
    check(gpu, "max_pool2d_backward", &format!("{name} x={x:?} {cfg:?}"), &dx, &want, TOL);
}

/// Avg-pool backward on a random gradient against the reference.
fn avg_case(gpu: &Gpu, seed: u64, x: [usize; 4], cfg: Pool2d, name: &str) {
    let mut r = rng(seed);
    let [h, w] = cfg.output_hw([x[2], x[3]]).unwrap();
    let dy_shape = [x[0], x[1], h, w];
    let (dya, dyt) = pair(gpu, &dy_shape, &random_array(&mut r, &dy_shape, 1.0));
    let dx = gpu.run(|rec| ops::avg_pool2d_backward(rec, &dyt, &x, &cfg)).unwrap();
    let want = reference::avg_pool2d_backward(&dya, &x, &cfg);
    check(gpu, "avg_pool2d_backward", &format!("{name} x={x:?} {cfg:?}"), &dx, &want, TOL);
}

/// Both global pool backwards against the reference (`x` random, values distinct when
/// `distinct`, else drawn from a few levels so that the maximum repeats).
fn global_case(gpu: &Gpu, seed: u64, x: [usize; 4], distinct: bool, name: &str) {
    let mut r = rng(seed);
    let n: usize = x.iter().product();
    let values = if distinct { distinct_vec(&mut r, n) } else { (0..n).map(|_| r.random_range(0..4) as f32).collect() };
    let (xa, xt) = pair(gpu, &x, &values);
    let dy_shape = [x[0], x[1], 1, 1];
    let (dya, dyt) = pair(gpu, &dy_shape, &random_array(&mut r, &dy_shape, 1.0));
    let (avg, max) = gpu
        .run(|rec| {
            Ok((ops::global_avg_pool2d_backward(rec, &dyt, &x)?, ops::global_max_pool2d_backward(rec, &dyt, &xt)?))
        })
        .unwrap();
    let case = format!("{name} x={x:?}");
    check(gpu, "global_avg_pool2d_backward", &case, &avg, &reference::global_avg_pool2d_backward(&dya, &x), TOL);
    let want = reference::global_max_pool2d_backward(&dya, &xa);
    check(gpu, "global_max_pool2d_backward", &case, &max, &want, TOL);
    // Selection, not arithmetic: exactly dy at one place per plane.
    assert_eq!(max.to_f32(gpu).unwrap(), want.data.iter().map(|&v| v as f32).collect::<Vec<_>>(), "{case}");
}

fn cfg(kernel: [usize; 2], stride: [usize; 2], padding: [usize; 4]) -> Pool2d {
    Pool2d { kernel, stride, padding, ..Pool2d::new(1, 1) }
}

/// A random valid window configuration and input (small, for lavapipe), dilation only when
/// `dilate`.
fn random_config(r: &mut StdRng, dilate: bool) -> ([usize; 4], Pool2d) {
    loop {
        let kernel = [r.random_range(1..=4), r.random_range(1..=4)];
        let dilation = if dilate { [r.random_range(1..=3), r.random_range(1..=3)] } else { [1, 1] };
        let c = Pool2d {
            kernel,
            stride: [r.random_range(1..=3), r.random_range(1..=3)],
            padding: [
                r.random_range(0..=kernel[0] / 2),
                r.random_range(0..=kernel[1] / 2),
                r.random_range(0..=kernel[0] / 2),
                r.random_range(0..=kernel[1] / 2),
            ],
            dilation,
            ceil_mode: r.random_bool(0.5),
            count_include_pad: r.random_bool(0.5),
        };
        let x = [r.random_range(1..=2), r.random_range(1..=5), r.random_range(1..=12), r.random_range(1..=12)];
        if c.output_hw([x[2], x[3]]).is_ok() {
            return (x, c);
        }
    }
}

#[test]
fn max_pool_backward_edge_cases() {
    let gpu = gpu_or_skip!();
    let pad1 = Pool2d { padding: [1; 4], ..Pool2d::new(3, 2) };
    // Overlapping windows (ResNet's stem pool): inputs on the window borders collect from two.
    max_case(gpu, 2001, [2, 3, 9, 9], pad1, "k3 s2 p1");
    max_case(gpu, 2002, [1, 5, 8, 7], pad1, "k3 s2 p1 even");
    max_case(gpu, 2003, [1, 3, 10, 11], Pool2d { ceil_mode: true, ..Pool2d::new(3, 2) }, "ceil");
    max_case(gpu, 2004, [1, 3, 10, 11], Pool2d { ceil_mode: true, padding: [1; 4], ..Pool2d::new(2, 2) }, "ceil pad");
    max_case(gpu, 2005, [1, 3, 15, 14], Pool2d { dilation: [2, 2], padding: [1; 4], ..Pool2d::new(3, 1) }, "dil2");
    max_case(gpu, 2006, [2, 2, 16, 13], Pool2d { dilation: [3, 2], stride: [2, 1], ..Pool2d::new(3, 1) }, "dil3x2");
    let c = Pool2d { dilation: [3, 3], padding: [2; 4], ceil_mode: true, ..Pool2d::new(5, 3) };
    max_case(gpu, 2007, [1, 2, 17, 17], c, "dil3 ceil");
    max_case(gpu, 2008, [2, 3, 1, 1], Pool2d::new(1, 1), "1x1 plane");
    max_case(gpu, 2009, [1, 5, 1, 1], pad1, "1x1 plane padded");
    max_case(gpu, 2010, [1, 3, 11, 13], cfg([2, 2], [3, 4], [0; 4]), "stride>kernel");
    max_case(gpu, 2011, [2, 3, 9, 8], cfg([3, 3], [2, 1], [1, 0, 0, 1]), "one-sided padding");
    max_case(gpu, 2012, [2, 5, 7, 9], cfg([7, 9], [1, 1], [0; 4]), "k=input");
    max_case(gpu, 2013, [3, 17, 7, 9], pad1, "17 channels");
}

#[test]
fn max_pool_backward_random_configs() {
    let gpu = gpu_or_skip!();
    for seed in 0..10 {
        let mut r = rng(2100 + seed);
        let (x, c) = random_config(&mut r, true);
        max_case(gpu, 2150 + seed, x, c, &format!("random #{seed}"));
    }
}

#[test]
fn max_pool_backward_ignores_indices_outside_the_window() {
    // An index that names no tap of its own window (garbage, or out of the plane) adds nothing
    // and reads nothing out of bounds.
    let gpu = gpu_or_skip!();
    let x = [1, 2, 5, 5];
    let c = Pool2d { padding: [1; 4], ..Pool2d::new(3, 2) };
    let [oh, ow] = c.output_hw([5, 5]).unwrap();
    let n = 2 * oh * ow;
    let idx: Vec<u32> = (0..n as u32).map(|i| [0, 6, 24, 25, u32::MAX, 12][i as usize % 6]).collect();
    let mut r = rng(2200);
    let (dya, dyt) = pair(gpu, &[1, 2, oh, ow], &random_array(&mut r, &[1, 2, oh, ow], 1.0));
    let it = Tensor::from_u32(gpu, [1, 2, oh, ow], &idx).unwrap();
    let dx = gpu.run(|rec| ops::max_pool2d_backward(rec, &dyt, &it, &x, &c)).unwrap();
    check(gpu, "max_pool2d_backward", "garbage indices", &dx, &reference::max_pool2d_backward(&dya, &idx, &x, &c), TOL);
}

#[test]
fn avg_pool_backward_edge_cases() {
    let gpu = gpu_or_skip!();
    let mut seed = 2300;
    for ceil in [false, true] {
        for cip in [false, true] {
            let c = Pool2d { ceil_mode: ceil, count_include_pad: cip, padding: [1; 4], ..Pool2d::new(3, 2) };
            avg_case(gpu, seed, [2, 3, 10, 11], c, "k3 s2 p1");
            // The last window sticks out past the padded input: the divisor clips it.
            let c = Pool2d { ceil_mode: ceil, count_include_pad: cip, padding: [1, 0, 1, 0], ..Pool2d::new(3, 2) };
            avg_case(gpu, seed + 1, [1, 2, 8, 8], c, "asymmetric");
            let c = Pool2d { ceil_mode: ceil, count_include_pad: cip, ..cfg([3, 2], [2, 2], [1, 1, 0, 0]) };
            avg_case(gpu, seed + 2, [2, 3, 9, 8], c, "one-sided padding");
            seed += 3;
        }
    }
    avg_case(gpu, 2320, [2, 3, 1, 1], Pool2d::new(1, 1), "1x1 plane");
    let c = Pool2d { padding: [1; 4], count_include_pad: true, ..Pool2d::new(3, 1) };
    avg_case(gpu, 2321, [1, 5, 1, 1], c, "1x1 plane padded");
    avg_case(gpu, 2322, [1, 3, 11, 13], cfg([2, 3], [3, 5], [0; 4]), "stride>kernel");
    avg_case(gpu, 2323, [2, 5, 7, 9], cfg([7, 9], [7, 9], [0; 4]), "k=input");
    avg_case(gpu, 2324, [3, 17, 7, 9], Pool2d { padding: [1; 4], ..Pool2d::new(3, 2) }, "17 channels");
}

#[test]
fn avg_pool_backward_random_configs() {
    let gpu = gpu_or_skip!();
    for seed in 0..10 {
        let mut r = rng(2400 + seed);
        let (x, c) = random_config(&mut r, false);
        avg_case(gpu, 2450 + seed, x, c, &format!("random #{seed}"));
    }
}

#[test]
fn global_pool_backward_odd_planes() {
    let gpu = gpu_or_skip!();
    global_case(gpu, 2500, [2, 3, 7, 5], true, "7x5");
    global_case(gpu, 2501, [1, 5, 1, 1], true, "1x1");
    global_case(gpu, 2502, [3, 17, 9, 11], true, "9x11");
    global_case(gpu, 2503, [1, 2, 67, 45], true, "67x45 (strided loops)");
    global_case(gpu, 2504, [2, 3, 13, 13], false, "ties: first maximum");
    global_case(gpu, 2505, [1, 2, 31, 29], false, "ties, large plane");
    for seed in 0..10u64 {
        let mut r = rng(2550 + seed);
        let x = [r.random_range(1..=3), r.random_range(1..=6), r.random_range(1..=20), r.random_range(1..=20)];
        global_case(gpu, 2560 + seed, x, seed % 2 == 0, &format!("random #{seed}"));
    }
}

#[test]
fn global_max_backward_all_equal_plane() {
    // Every value the maximum: all the gradient goes to position 0 of each plane.
    let gpu = gpu_or_skip!();
    let x = Tensor::from_f32(gpu, [1, 2, 3, 3], &[f32::NEG_INFINITY; 18]).unwrap();
    let dy = Tensor::from_f32(gpu, [1, 2, 1, 1], &[2.0, -3.0]).unwrap();
    let dx = gpu.run(|rec| ops::global_max_pool2d_backward(rec, &dy, &x)).unwrap().to_f32(gpu).unwrap();
    let mut want = vec![0.0; 18];
    want[0] = 2.0;
    want[9] = -3.0;
    assert_eq!(dx, want);
}

#[test]
fn references_match_finite_differences() {
    let mut r = rng(2600);
    let fd_max = |r: &mut StdRng, x: [usize; 4], c: Pool2d, name: &str| {
        let xa = Array::from_f32(x.to_vec(), &distinct_vec(r, x.iter().product()));
        let (y, idx) = reference::max_pool2d(&xa, &c);
        let dy = Array::from_f32(y.shape.clone(), &random_array(r, &y.shape, 1.0));
        let fd = fd_grad(&xa, &dy, |x| reference::max_pool2d(x, &c).0);
        check_fd(
            "max_pool2d_backward",
            &format!("{name} {c:?}"),
            &reference::max_pool2d_backward(&dy, &idx, &x, &c),
            &fd,
        );
    };
    fd_max(&mut r, [2, 2, 9, 9], Pool2d { padding: [1; 4], ..Pool2d::new(3, 2) }, "k3 s2 p1");
    fd_max(&mut r, [1, 2, 10, 11], Pool2d { ceil_mode: true, padding: [1; 4], ..Pool2d::new(3, 2) }, "ceil");
    fd_max(&mut r, [1, 2, 11, 10], Pool2d { dilation: [2, 3], padding: [1; 4], ..Pool2d::new(3, 1) }, "dilation");

    let fd_avg = |r: &mut StdRng, x: [usize; 4], c: Pool2d, name: &str| {
        let xa = Array::from_f32(x.to_vec(), &random_array(r, &x, 1.0));
        let y = reference::avg_pool2d(&xa, &c);
        let dy = Array::from_f32(y.shape.clone(), &random_array(r, &y.shape, 1.0));
        let fd = fd_grad(&xa, &dy, |x| reference::avg_pool2d(x, &c));
        check_fd("avg_pool2d_backward", &format!("{name} {c:?}"), &reference::avg_pool2d_backward(&dy, &x, &c), &fd);
    };
    for ceil in [false, true] {
        for cip in [false, true] {
            let c = Pool2d { ceil_mode: ceil, count_include_pad: cip, padding: [1; 4], ..Pool2d::new(3, 2) };
            fd_avg(&mut r, [1, 2, 10, 11], c, "k3 s2 p1");
            let c = Pool2d { ceil_mode: ceil, count_include_pad: cip, padding: [1, 0, 1, 0], ..Pool2d::new(3, 2) };
            fd_avg(&mut r, [1, 2, 8, 8], c, "asymmetric");
        }
    }

    for x in [[2, 3, 7, 5], [1, 2, 1, 1], [1, 2, 9, 11]] {
        let xa = Array::from_f32(x.to_vec(), &distinct_vec(&mut r, x.iter().product()));
        let dy = Array::from_f32(vec![x[0], x[1], 1, 1], &random_array(&mut r, &[x[0] * x[1]], 1.0));
        let fd = fd_grad(&xa, &dy, reference::global_avg_pool2d);
        check_fd("global_avg_pool2d_backward", &format!("{x:?}"), &reference::global_avg_pool2d_backward(&dy, &x), &fd);
        let fd = fd_grad(&xa, &dy, reference::global_max_pool2d);
        check_fd(
            "global_max_pool2d_backward",
            &format!("{x:?}"),
            &reference::global_max_pool2d_backward(&dy, &xa),
            &fd,
        );
    }
}

#[test]
fn bad_inputs_are_errors() {
    let gpu = gpu_or_skip!();
    let c = Pool2d { padding: [1; 4], ..Pool2d::new(3, 2) };
    let x = [1, 2, 9, 9];
    let dy = Tensor::from_f32(gpu, [1, 2, 5, 5], &[0.0; 50]).unwrap();
    let idx = Tensor::from_u32(gpu, [1, 2, 5, 5], &[0; 50]).unwrap();
    let bad_dy = Tensor::from_f32(gpu, [1, 2, 4, 5], &[0.0; 40]).unwrap();
    let bad_idx = Tensor::from_u32(gpu, [1, 2, 5, 4], &[0; 40]).unwrap();
    let xt = Tensor::from_f32(gpu, x, &[0.0; 162]).unwrap();
    let err = |f: &dyn Fn(&mut featuremap::gpu::Recorder) -> featuremap::Result<Tensor>| gpu.run(|rec| f(rec)).is_err();
    assert!(!err(&|rec| ops::max_pool2d_backward(rec, &dy, &idx, &x, &c)), "valid call");
    assert!(err(&|rec| ops::max_pool2d_backward(rec, &bad_dy, &idx, &x, &c)), "dy shape");
    assert!(err(&|rec| ops::max_pool2d_backward(rec, &dy, &bad_idx, &x, &c)), "argmax shape");
    assert!(err(&|rec| ops::max_pool2d_backward(rec, &dy, &dy, &x, &c)), "argmax dtype");
    assert!(err(&|rec| ops::max_pool2d_backward(rec, &idx, &idx, &x, &c)), "dy dtype");
    assert!(err(&|rec| ops::max_pool2d_backward(rec, &dy, &idx, &[2, 9, 9], &c)), "3-D x");
    assert!(err(&|rec| ops::max_pool2d_backward(rec, &dy, &idx, &[1, 2, 0, 9], &c)), "empty plane");
    assert!(err(&|rec| ops::max_pool2d_backward(rec, &dy, &idx, &x, &Pool2d::new(0, 1))), "kernel 0");
    assert!(err(&|rec| ops::max_pool2d_backward(rec, &dy, &idx, &[usize::MAX, 2, 9, 9], &c)), "overflow");
    assert!(!err(&|rec| ops::avg_pool2d_backward(rec, &dy, &x, &c)), "valid call");
    assert!(err(&|rec| ops::avg_pool2d_backward(rec, &bad_dy, &x, &c)), "dy shape");
    assert!(err(&|rec| ops::avg_pool2d_backward(rec, &dy, &x, &Pool2d { dilation: [2, 2], ..c })), "dilation");
    assert!(err(&|rec| ops::avg_pool2d_backward(rec, &dy, &x, &Pool2d { padding: [2; 4], ..c })), "padding > k/2");
    let g = Tensor::from_f32(gpu, [1, 2, 1, 1], &[0.0; 2]).unwrap();
    assert!(!err(&|rec| ops::global_avg_pool2d_backward(rec, &g, &x)), "valid call");
    assert!(err(&|rec| ops::global_avg_pool2d_backward(rec, &dy, &x)), "global dy shape");
    assert!(err(&|rec| ops::global_avg_pool2d_backward(rec, &g, &[1, 3, 9, 9])), "global channels");
    assert!(!err(&|rec| ops::global_max_pool2d_backward(rec, &g, &xt)), "valid call");
    assert!(err(&|rec| ops::global_max_pool2d_backward(rec, &dy, &xt)), "global dy shape");
    assert!(err(&|rec| ops::global_max_pool2d_backward(rec, &g, &idx)), "global x dtype");
}

use featuremap::ops::{self, Conv2d};
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::rngs::StdRng;
use rand::Rng;

use crate::common::{check, random_pair, random_vec, rng, TOL};
use crate::gpu_or_skip;

/// Per-channel parameters: scale, bias, mean in [-1, 1), variance in [0.1, 2).
fn params(r: &mut StdRng, c: usize) -> [Vec<f32>; 4] {
    let var = (0..c).map(|_| r.random_range(0.1f32..2.0)).collect();
    [random_vec(r, c), random_vec(r, c), random_vec(r, c), var]
}

fn wide(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// batch_norm of random data against the reference.
fn case(seed: u64, x: &[usize], eps: f32, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, x);
    let [s, b, m, v] = params(&mut r, x[1]);
    // Inputs live until after the submit: a tensor dropped while recording returns its buffer
    // to the pool, where another upload could overwrite it before the kernel runs.
    let [st, bt, mt, vt] = [&s, &b, &m, &v].map(|d| Tensor::from_f32(gpu, [d.len()], d).unwrap());
    let y = gpu.run(|rec| ops::batch_norm(rec, &xt, &st, &bt, &mt, &vt, eps)).unwrap();
    let want = reference::batch_norm(&xa, &wide(&s), &wide(&b), &wide(&m), &wide(&v), eps as f64);
    check(gpu, "batch_norm", &format!("{name} x={x:?} eps={eps}"), &y, &want, TOL);
}

#[test]
fn plane_1x1_and_single_channel() {
    case(1, &[1, 1, 1, 1], 1e-5, "1x1");
    case(2, &[3, 5, 1, 1], 1e-5, "1x1 planes");
    case(3, &[2, 1, 6, 7], 1e-3, "one channel");
}

#[test]
fn batch_3_and_odd_channel_counts() {
    for (i, c) in [1usize, 3, 5, 17].into_iter().enumerate() {
        case(10 + i as u64, &[3, c, 7, 9], 1e-5, "channels");
    }
}

#[test]
fn rank_2_and_5() {
    // After a flatten ([N, C]) and with two spatial dimensions folded differently.
    case(20, &[4, 6], 1e-5, "[N, C]");
    case(21, &[2, 3, 4, 3, 5], 1e-5, "5-D");
}

#[test]
fn random_shapes() {
    let mut r = rng(30);
    for i in 0..15 {
        let x = [r.random_range(1..4), r.random_range(1..20), r.random_range(1..13), r.random_range(1..13)];
        let eps = [1e-5, 1e-3, 0.1, 0.0][r.random_range(0..4)];
        case(100 + i, &x, eps, "random");
    }
}

/// Convolution with folded weights equals batch_norm after the convolution.
fn fold_case(seed: u64, x: [usize; 4], cout: usize, k: usize, conv: Conv2d, with_bias: bool) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, &x);
    let w_shape = [cout, x[1] / conv.groups, k, k];
    let w = random_vec(&mut r, w_shape.iter().product());
    let bias = random_vec(&mut r, cout);
    let bias = with_bias.then_some(&bias[..]);
    let [s, b, m, v] = params(&mut r, cout);
    let eps = 1e-5;
    let (fw, fb) = ops::fold_batch_norm(&w, w_shape, bias, &s, &b, &m, &v, eps).unwrap();
    assert_eq!((fw.len(), fb.len()), (w.len(), cout));

    let wt = Tensor::from_f32(gpu, w_shape, &w).unwrap();
    let bt = bias.map(|b| Tensor::from_f32(gpu, [cout], b).unwrap());
    let fwt = Tensor::from_f32(gpu, w_shape, &fw).unwrap();
    let fbt = Tensor::from_f32(gpu, [cout], &fb).unwrap();
    let [st, sht, mt, vt] = [&s, &b, &m, &v].map(|d| Tensor::from_f32(gpu, [d.len()], d).unwrap());
    // The intermediate conv output is returned so that it lives until after the submit.
    let (folded, _conv_out, unfolded) = gpu
        .run(|rec| {
            let folded = ops::conv2d(rec, &xt, &fwt, Some(&fbt), &conv)?;
            let y = ops::conv2d(rec, &xt, &wt, bt.as_ref(), &conv)?;
            let unfolded = ops::batch_norm(rec, &y, &st, &sht, &mt, &vt, eps)?;
            Ok((folded, y, unfolded))
        })
        .unwrap();
    let wa = Array::from_f32(w_shape.to_vec(), &w);
    let ba = bias.map(|b| Array::from_f32(vec![cout], b));
    let conv_ref = reference::conv2d(&xa, &wa, ba.as_ref(), &conv);
    let want = reference::batch_norm(&conv_ref, &wide(&s), &wide(&b), &wide(&m), &wide(&v), eps as f64);
    let name = format!("x={x:?} cout={cout} k={k} bias={with_bias} {conv:?}");
    check(gpu, "batch_norm_folded", &name, &folded, &want, TOL);
    check(gpu, "batch_norm", &format!("after conv {name}"), &unfolded, &want, TOL);
}

#[test]
fn fold_into_conv_equals_batch_norm_after_conv() {
    fold_case(40, [2, 4, 9, 8], 6, 3, Conv2d::same(1, 1), true);
    fold_case(41, [1, 3, 7, 7], 5, 3, Conv2d::same(1, 2), false);
    fold_case(42, [2, 6, 6, 5], 4, 3, Conv2d { groups: 2, ..Conv2d::same(1, 1) }, true);
    fold_case(43, [1, 5, 6, 6], 5, 3, Conv2d { groups: 5, ..Conv2d::same(1, 1) }, false);
    fold_case(44, [3, 7, 5, 5], 9, 1, Conv2d::default(), true);
}

#[test]
fn fold_bad_inputs_are_errors() {
    let w = vec![0.5f32; 2 * 3 * 3 * 3];
    let one = vec![1.0f32; 2];
    let shape = [2, 3, 3, 3];
    assert!(ops::fold_batch_norm(&w, shape, None, &one, &one, &one, &one, 1e-5).is_ok());
    assert!(ops::fold_batch_norm(&w, [2, 3, 3, 2], None, &one, &one, &one, &one, 1e-5).is_err());
    assert!(ops::fold_batch_norm(&w, shape, Some(&[1.0]), &one, &one, &one, &one, 1e-5).is_err());
    assert!(ops::fold_batch_norm(&w, shape, None, &[1.0], &one, &one, &one, 1e-5).is_err());
    assert!(ops::fold_batch_norm(&w, shape, None, &one, &one, &one, &[1.0, 1.0, 1.0], 1e-5).is_err());
    assert!(ops::fold_batch_norm(&w, shape, None, &one, &one, &one, &[0.0, -1.0], 1e-5).is_err());
    assert!(ops::fold_batch_norm(&w, [usize::MAX, 2, 2, 2], None, &one, &one, &one, &one, 1e-5).is_err());
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let x = Tensor::zeros(gpu, [1, 3, 4, 4]).unwrap();
    let c3 = Tensor::zeros(gpu, [3]).unwrap();
    let c2 = Tensor::zeros(gpu, [2]).unwrap();
    assert!(gpu.run(|rec| ops::batch_norm(rec, &x, &c3, &c3, &c3, &c3, 1e-5)).is_ok());
    let e = gpu.run(|rec| ops::batch_norm(rec, &x, &c3, &c3, &c2, &c3, 1e-5)).unwrap_err();
    assert!(e.to_string().contains("batch_norm") && e.to_string().contains("mean"), "{e}");
    assert!(gpu.run(|rec| ops::batch_norm(rec, &x, &c2, &c3, &c3, &c3, 1e-5)).is_err());
    assert!(gpu.run(|rec| ops::batch_norm(rec, &x, &c3, &c3, &c3, &c3, -1.0)).is_err());
    assert!(gpu.run(|rec| ops::batch_norm(rec, &x, &c3, &c3, &c3, &c3, f32::NAN)).is_err());
    let x1 = Tensor::zeros(gpu, [3]).unwrap();
    assert!(gpu.run(|rec| ops::batch_norm(rec, &x1, &c3, &c3, &c3, &c3, 1e-5)).is_err());
    let u = Tensor::from_u32(gpu, [3], &[1, 2, 3]).unwrap();
    assert!(gpu.run(|rec| ops::batch_norm(rec, &x, &c3, &u, &c3, &c3, 1e-5)).is_err());
}

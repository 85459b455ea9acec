//! Gradients of batch norm, softmax / log_softmax, broadcasting binary ops, gemm / linear and
//! concat (split): every kernel against its f64 reference, and every reference against central
//! finite differences of the forward reference.

use featuremap::ops::{self, Activation, BinaryOp, Gemm};
use featuremap::reference::{self, Array};
use featuremap::{Gpu, Recorder, Result, Tensor};
use rand::rngs::StdRng;
use rand::Rng;

use crate::backward_activation::{check_fd, fd_grad, pair, random_array};
use crate::common::{check, rng, TOL};
use crate::gpu_or_skip;

/// Whether recording `f` fails with an error (it must never panic).
fn fails<T>(gpu: &Gpu, f: impl FnOnce(&mut Recorder) -> Result<T>) -> bool {
    gpu.run(f).is_err()
}

// ---------------------------------------------------------------------------------------------
// batch norm

/// Per-channel statistics: scale and mean random, var in [0.1, 2).
fn bn_stats(r: &mut StdRng, c: usize) -> [Vec<f32>; 4] {
    let var = (0..c).map(|_| r.random_range(0.1f32..2.0)).collect();
    [random_array(r, &[c], 1.5), random_array(r, &[c], 1.0), random_array(r, &[c], 1.0), var]
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn bn_case(gpu: &Gpu, seed: u64, shape: &[usize], eps: f32, name: &str) {
    let mut r = rng(seed);
    let c = shape[1];
    let [scale, _bias, mean, var] = bn_stats(&mut r, c);
    let (xa, xt) = pair(gpu, shape, &random_array(&mut r, shape, 2.0));
    let (dya, dyt) = pair(gpu, shape, &random_array(&mut r, shape, 1.0));
    let up = |v: &[f32]| Tensor::from_f32(gpu, [v.len()], v).unwrap();
    let (st, mt, vt) = (up(&scale), up(&mean), up(&var));
    let (dx, (ds, db)) = gpu
        .run(|rec| {
            Ok((
                ops::batch_norm_backward(rec, &dyt, &st, &vt, eps)?,
                ops::batch_norm_backward_params(rec, &dyt, &xt, &mt, &vt, eps)?,
            ))
        })
        .unwrap();
    let case = format!("{name} {shape:?} eps={eps}");
    let want = reference::batch_norm_backward(&dya, &f64s(&scale), &f64s(&var), eps as f64);
    check(gpu, "batch_norm_backward", &case, &dx, &want, TOL);
    let (wds, wdb) = reference::batch_norm_backward_params(&dya, &xa, &f64s(&mean), &f64s(&var), eps as f64);
    check(gpu, "batch_norm_backward_params.dscale", &case, &ds, &wds, TOL);
    check(gpu, "batch_norm_backward_params.dbias", &case, &db, &wdb, TOL);
}

#[test]
fn batch_norm_backward_matches_reference() {
    let gpu = gpu_or_skip!();
    bn_case(gpu, 3001, &[1, 1, 1, 1], 1e-5, "1x1");
    bn_case(gpu, 3002, &[2, 3, 5, 7], 1e-5, "odd");
    bn_case(gpu, 3003, &[3, 17, 4, 4], 1e-3, "17 channels");
    bn_case(gpu, 3004, &[4, 10], 1e-5, "2-D");
    bn_case(gpu, 3005, &[2, 5, 33, 33], 1e-5, "long channels (strided loops)");
    bn_case(gpu, 3006, &[2, 3, 4, 5, 2], 0.0, "5-D, eps 0");
    for seed in 0..10u64 {
        let mut r = rng(3050 + seed);
        let rank = r.random_range(2..=4);
        let shape: Vec<usize> = (0..rank).map(|_| r.random_range(1..=9)).collect();
        bn_case(gpu, 3060 + seed, &shape, 1e-5, &format!("random #{seed}"));
    }
}

#[test]
fn batch_norm_references_match_finite_differences() {
    let mut r = rng(3100);
    for shape in [vec![2, 3, 4, 5], vec![3, 4]] {
        let c = shape[1];
        let [scale, bias, mean, var] = bn_stats(&mut r, c).map(|v| f64s(&v));
        let eps = 1e-5;
        let x = Array::from_f32(shape.clone(), &random_array(&mut r, &shape, 2.0));
        let dy = Array::from_f32(shape.clone(), &random_array(&mut r, &shape, 1.0));
        let fd = fd_grad(&x, &dy, |x| reference::batch_norm(x, &scale, &bias, &mean, &var, eps));
        check_fd(
            "batch_norm_backward",
            &format!("{shape:?}"),
            &reference::batch_norm_backward(&dy, &scale, &var, eps),
            &fd,
        );
        let (ds, db) = reference::batch_norm_backward_params(&dy, &x, &mean, &var, eps);
        let s0 = Array::new(vec![c], scale.clone());
        let fd = fd_grad(&s0, &dy, |s| reference::batch_norm(&x, &s.data, &bias, &mean, &var, eps));
        check_fd("batch_norm_backward_params.dscale", &format!("{shape:?}"), &ds, &fd);
        let b0 = Array::new(vec![c], bias.clone());
        let fd = fd_grad(&b0, &dy, |b| reference::batch_norm(&x, &scale, &b.data, &mean, &var, eps));
        check_fd("batch_norm_backward_params.dbias", &format!("{shape:?}"), &db, &fd);
    }
}

#[test]
fn batch_norm_bad_inputs_are_errors() {
    let gpu = gpu_or_skip!();
    let t = |s: &[usize]| Tensor::from_f32(gpu, s.to_vec(), &vec![1.0; s.iter().product()]).unwrap();
    let (dy, x, c3, c4) = (t(&[2, 3, 4]), t(&[2, 3, 4]), t(&[3]), t(&[4]));
    let u = Tensor::from_u32(gpu, [3], &[0; 3]).unwrap();
    assert!(!fails(gpu, |rec| ops::batch_norm_backward(rec, &dy, &c3, &c3, 1e-5)), "valid call");
    assert!(fails(gpu, |rec| ops::batch_norm_backward(rec, &dy, &c4, &c3, 1e-5)), "scale length");
    assert!(fails(gpu, |rec| ops::batch_norm_backward(rec, &dy, &c3, &u, 1e-5)), "var dtype");
    assert!(fails(gpu, |rec| ops::batch_norm_backward(rec, &t(&[6]), &c3, &c3, 1e-5)), "1-D gradient");
    assert!(fails(gpu, |rec| ops::batch_norm_backward(rec, &dy, &c3, &c3, -1.0)), "negative eps");
    assert!(fails(gpu, |rec| ops::batch_norm_backward(rec, &dy, &c3, &c3, f32::NAN)), "NaN eps");
    assert!(!fails(gpu, |rec| ops::batch_norm_backward_params(rec, &dy, &x, &c3, &c3, 1e-5)), "valid call");
    assert!(fails(gpu, |rec| ops::batch_norm_backward_params(rec, &dy, &t(&[2, 3, 5]), &c3, &c3, 1e-5)), "x shape");
    assert!(fails(gpu, |rec| ops::batch_norm_backward_params(rec, &dy, &x, &c4, &c3, 1e-5)), "mean length");
}

// ---------------------------------------------------------------------------------------------
// softmax / log_softmax

fn softmax_case(gpu: &Gpu, seed: u64, shape: &[usize], axis: usize, log: bool, name: &str) {
    let mut r = rng(seed);
    let x = Array::from_f32(shape.to_vec(), &random_array(&mut r, shape, 4.0));
    let y = if log { reference::log_softmax(&x, axis) } else { reference::softmax(&x, axis) };
    let yv: Vec<f32> = y.data.iter().map(|&v| v as f32).collect();
    let (ya, yt) = pair(gpu, shape, &yv);
    let (dya, dyt) = pair(gpu, shape, &random_array(&mut r, shape, 1.0));
    let (kernel, dx, want) = if log {
        let dx = gpu.run(|rec| ops::log_softmax_backward(rec, &dyt, &yt, axis)).unwrap();
        ("log_softmax_backward", dx, reference::log_softmax_backward(&dya, &ya, axis))
    } else {
        let dx = gpu.run(|rec| ops::softmax_backward(rec, &dyt, &yt, axis)).unwrap();
        ("softmax_backward", dx, reference::softmax_backward(&dya, &ya, axis))
    };
    check(gpu, kernel, &format!("{name} {shape:?} axis {axis}"), &dx, &want, TOL);
}

#[test]
fn softmax_backward_every_axis_and_long_rows() {
    let gpu = gpu_or_skip!();
    for log in [false, true] {
        let s = 3200 + 100 * log as u64;
        for axis in 0..4 {
            softmax_case(gpu, s + axis as u64, &[2, 3, 4, 5], axis, log, "4-D");
            softmax_case(gpu, s + 10 + axis as u64, &[3, 17, 5, 2], axis, log, "4-D odd");
        }
        softmax_case(gpu, s + 20, &[2, 1000], 1, log, "1000 classes");
        softmax_case(gpu, s + 21, &[1000, 2], 0, log, "1000 along axis 0");
        softmax_case(gpu, s + 22, &[1, 1], 1, log, "1x1");
        softmax_case(gpu, s + 23, &[7], 0, log, "1-D");
        for seed in 0..10u64 {
            let mut r = rng(s + 50 + seed);
            let rank = r.random_range(1..=4);
            let shape: Vec<usize> = (0..rank).map(|_| r.random_range(1..=12)).collect();
            let axis = r.random_range(0..rank);
            softmax_case(gpu, s + 60 + seed, &shape, axis, log, &format!("random #{seed}"));
        }
    }
}

#[test]
fn softmax_references_match_finite_differences() {
    let mut r = rng(3400);
    let cases: [(&[usize], usize); 5] =
        [(&[2, 3, 4, 5], 0), (&[2, 3, 4, 5], 1), (&[2, 3, 4, 5], 2), (&[2, 3, 4, 5], 3), (&[2, 1000], 1)];
    for (shape, axis) in cases {
        let x = Array::from_f32(shape.to_vec(), &random_array(&mut r, shape, 4.0));
        let dy = Array::from_f32(shape.to_vec(), &random_array(&mut r, shape, 1.0));
        let got = reference::softmax_backward(&dy, &reference::softmax(&x, axis), axis);
        let fd = fd_grad(&x, &dy, |x| reference::softmax(x, axis));
        check_fd("softmax_backward", &format!("{shape:?} axis {axis}"), &got, &fd);
        let got = reference::log_softmax_backward(&dy, &reference::log_softmax(&x, axis), axis);
        let fd = fd_grad(&x, &dy, |x| reference::log_softmax(x, axis));
        check_fd("log_softmax_backward", &format!("{shape:?} axis {axis}"), &got, &fd);
    }
}

#[test]
fn softmax_bad_inputs_are_errors() {
    let gpu = gpu_or_skip!();
    let a = Tensor::from_f32(gpu, [2, 3], &[0.0; 6]).unwrap();
    let b = Tensor::from_f32(gpu, [3, 2], &[0.0; 6]).unwrap();
    let u = Tensor::from_u32(gpu, [2, 3], &[0; 6]).unwrap();
    assert!(fails(gpu, |rec| ops::softmax_backward(rec, &a, &b, 1)), "shape mismatch");
    assert!(fails(gpu, |rec| ops::softmax_backward(rec, &a, &a, 2)), "axis out of range");
    assert!(fails(gpu, |rec| ops::log_softmax_backward(rec, &a, &a, 5)), "axis out of range");
    assert!(fails(gpu, |rec| ops::log_softmax_backward(rec, &u, &a, 0)), "dtype");
}

// ---------------------------------------------------------------------------------------------
// binary ops and reduce_sum_to_shape

const OPS: [BinaryOp; 4] = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div];

/// Values for the right operand: magnitude in [0.5, 1.5), so that division is well conditioned.
fn denominators(r: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u: f32 = r.random_range(-1.0..1.0);
            u.signum() * (0.5 + u.abs())
        })
        .collect()
}

fn binary_case(gpu: &Gpu, seed: u64, a: &[usize], b: &[usize], op: BinaryOp, name: &str) {
    let mut r = rng(seed);
    let (aa, at) = pair(gpu, a, &random_array(&mut r, a, 1.0));
    let (ba, bt) = pair(gpu, b, &denominators(&mut r, b.iter().product()));
    let out = ops::broadcast_shape(a, b).unwrap();
    let (dya, dyt) = pair(gpu, &out, &random_array(&mut r, &out, 1.0));
    let (da, db) = gpu.run(|rec| ops::binary_backward(rec, &dyt, &at, &bt, op)).unwrap();
    let (wa, wb) = reference::binary_backward(&dya, &aa, &ba, op);
    let case = format!("{name} {} {a:?} {b:?}", op.name());
    check(gpu, "binary_backward.da", &case, &da, &wa, TOL);
    check(gpu, "binary_backward.db", &case, &db, &wb, TOL);
}

/// Every broadcast pattern the brief asks for, both ways round where they differ.
const PATTERNS: [(&[usize], &[usize], &str); 9] = [
    (&[2, 3, 5, 7], &[2, 3, 5, 7], "same shape"),
    (&[2, 3, 5, 7], &[1, 3, 1, 1], "channel vector"),
    (&[1, 3, 1, 1], &[2, 3, 5, 7], "channel vector (left)"),
    (&[3, 1, 5], &[1, 4, 1], "both broadcast"),
    (&[2, 3, 4], &[], "scalar"),
    (&[], &[2, 3, 4], "scalar (left)"),
    (&[2, 3, 4], &[1], "rank-1 one"),
    (&[5, 4], &[3, 1, 4], "rank differs"),
    (&[2, 64, 9, 9], &[1, 64, 1, 1], "long reduction"),
];

#[test]
fn binary_backward_every_pattern_and_op() {
    let gpu = gpu_or_skip!();
    for (i, (a, b, name)) in PATTERNS.into_iter().enumerate() {
        for (j, op) in OPS.into_iter().enumerate() {
            binary_case(gpu, 3500 + 4 * i as u64 + j as u64, a, b, op, name);
        }
    }
}

#[test]
fn binary_backward_random_shapes() {
    let gpu = gpu_or_skip!();
    for seed in 0..10u64 {
        let mut r = rng(3600 + seed);
        let rank = r.random_range(1..=6);
        let out: Vec<usize> = (0..rank).map(|_| r.random_range(1..=5)).collect();
        // Each operand keeps a random subset of the dimensions and may drop leading ones.
        let operand = |r: &mut StdRng| -> Vec<usize> {
            let drop = r.random_range(0..=rank);
            out[drop..].iter().map(|&d| if r.random_bool(0.5) { d } else { 1 }).collect()
        };
        let (a, b) = (operand(&mut r), operand(&mut r));
        let op = OPS[seed as usize % 4];
        binary_case(gpu, 3650 + seed, &a, &b, op, &format!("random #{seed}"));
    }
}

#[test]
fn reduce_sum_to_shape_matches_reference() {
    let gpu = gpu_or_skip!();
    let cases: [(&[usize], &[usize]); 10] = [
        (&[2, 64, 9, 9], &[1, 64, 1, 1]),
        (&[2, 64, 9, 9], &[64, 1, 1]),
        (&[2, 3, 4], &[]),
        (&[2, 3, 4], &[1]),
        (&[2, 3, 4], &[3, 1]),
        (&[2, 3, 4], &[2, 3, 4]),
        (&[3, 4, 5], &[3, 1, 5]),
        (&[2, 3, 2, 3, 2, 3], &[2, 1, 2, 1, 2, 1]),
        (&[5000], &[1]),
        (&[7, 300], &[7, 1]),
    ];
    for (i, (x, s)) in cases.into_iter().enumerate() {
        let mut r = rng(3700 + i as u64);
        let (xa, xt) = pair(gpu, x, &random_array(&mut r, x, 1.0));
        let y = gpu.run(|rec| ops::reduce_sum_to_shape(rec, &xt, s)).unwrap();
        check(gpu, "reduce_sum_to_shape", &format!("{x:?} -> {s:?}"), &y, &reference::reduce_sum_to_shape(&xa, s), TOL);
    }
}

#[test]
fn binary_references_match_finite_differences() {
    let mut r = rng(3800);
    let small: [(&[usize], &[usize]); 5] = [
        (&[2, 3, 2, 3], &[1, 3, 1, 1]),
        (&[1, 3, 1, 1], &[2, 3, 2, 3]),
        (&[3, 1, 5], &[1, 4, 1]),
        (&[2, 3, 4], &[]),
        (&[2, 3], &[2, 3]),
    ];
    for (ash, bsh) in small {
        for op in OPS {
            let a = Array::from_f32(ash.to_vec(), &random_array(&mut r, ash, 1.0));
            let b = Array::from_f32(bsh.to_vec(), &denominators(&mut r, bsh.iter().product()));
            let out = ops::broadcast_shape(ash, bsh).unwrap();
            let dy = Array::from_f32(out.clone(), &random_array(&mut r, &out, 1.0));
            let (da, db) = reference::binary_backward(&dy, &a, &b, op);
            let case = format!("{} {ash:?} {bsh:?}", op.name());
            check_fd("binary_backward.da", &case, &da, &fd_grad(&a, &dy, |a| reference::binary(a, &b, op)));
            check_fd("binary_backward.db", &case, &db, &fd_grad(&b, &dy, |b| reference::binary(&a, b, op)));
        }
    }
}

#[test]
fn binary_bad_inputs_are_errors() {
    let gpu = gpu_or_skip!();
    let t = |s: &[usize]| Tensor::from_f32(gpu, s.to_vec(), &vec![1.0; s.iter().product()]).unwrap();
    let x = t(&[2, 3, 4]);
    assert!(fails(gpu, |rec| ops::reduce_sum_to_shape(rec, &x, &[3])), "3 does not broadcast to 4");
    assert!(fails(gpu, |rec| ops::reduce_sum_to_shape(rec, &x, &[2, 1, 4, 1])), "higher rank");
    assert!(fails(gpu, |rec| ops::reduce_sum_to_shape(rec, &x, &[4, 3, 4])), "4 vs 2");
    assert!(fails(gpu, |rec| ops::reduce_sum_to_shape(rec, &t(&[1; 7]), &[1])), "rank 7");
    let u = Tensor::from_u32(gpu, [2, 3, 4], &[0; 24]).unwrap();
    assert!(fails(gpu, |rec| ops::reduce_sum_to_shape(rec, &u, &[1])), "dtype");
    let (a, b) = (t(&[2, 3, 1]), t(&[1, 4]));
    assert!(!fails(gpu, |rec| ops::binary_backward(rec, &x, &a, &b, BinaryOp::Mul)), "valid call");
    assert!(fails(gpu, |rec| ops::binary_backward(rec, &t(&[2, 3, 5]), &a, &b, BinaryOp::Mul)), "dy shape");
    assert!(fails(gpu, |rec| ops::binary_backward(rec, &x, &a, &t(&[2, 4]), BinaryOp::Add)), "no broadcast");
    assert!(fails(gpu, |rec| ops::binary_backward(rec, &u, &a, &b, BinaryOp::Div)), "dtype");
}

// ---------------------------------------------------------------------------------------------
// gemm and linear

fn gemm_case(gpu: &Gpu, seed: u64, (m, k, n): (usize, usize, usize), c: Option<&[usize]>, cfg: Gemm, name: &str) {
    let mut r = rng(seed);
    let a_shape = if cfg.trans_a { [k, m] } else { [m, k] };
    let b_shape = if cfg.trans_b { [n, k] } else { [k, n] };
    let (aa, at) = pair(gpu, &a_shape, &random_array(&mut r, &a_shape, 1.0));
    let (ba, bt) = pair(gpu, &b_shape, &random_array(&mut r, &b_shape, 1.0));
    let (dya, dyt) = pair(gpu, &[m, n], &random_array(&mut r, &[m, n], 1.0));
    let (da, db, dc) = gpu.run(|rec| ops::gemm_backward(rec, &dyt, &at, &bt, c, &cfg)).unwrap();
    let (wa, wb, wc) = reference::gemm_backward(&dya, &aa, &ba, c, &cfg);
    let case = format!("{name} m={m} k={k} n={n} c={c:?} {cfg:?}");
    check(gpu, "gemm_backward.da", &case, &da, &wa, TOL);
    check(gpu, "gemm_backward.db", &case, &db, &wb, TOL);
    assert_eq!(dc.is_some(), c.is_some(), "{case}: dC present exactly when C is");
    if let (Some(dc), Some(wc)) = (dc, wc) {
        check(gpu, "gemm_backward.dc", &case, &dc, &wc, TOL);
    }
}

const TRANSPOSES: [(bool, bool); 4] = [(false, false), (true, false), (false, true), (true, true)];

#[test]
fn gemm_backward_transposes_and_c_shapes() {
    let gpu = gpu_or_skip!();
    let (m, k, n) = (19, 13, 23);
    let shapes: [&[usize]; 6] = [&[], &[1], &[n], &[1, n], &[m, 1], &[m, n]];
    for (i, (ta, tb)) in TRANSPOSES.into_iter().enumerate() {
        let cfg = Gemm { trans_a: ta, trans_b: tb, alpha: 0.75, beta: -1.5, ..Default::default() };
        for (j, c) in shapes.into_iter().enumerate() {
            gemm_case(gpu, 3900 + 10 * i as u64 + j as u64, (m, k, n), Some(c), cfg, "transposes x C");
        }
        gemm_case(gpu, 3906 + 10 * i as u64, (70, 21, 67), None, cfg, "big tile, no C");
        gemm_case(gpu, 3907 + 10 * i as u64, (3, 40, 9), Some(&[9]), cfg, "thin");
    }
}

#[test]
fn gemm_backward_random_configs() {
    let gpu = gpu_or_skip!();
    for seed in 0..10u64 {
        let mut r = rng(3950 + seed);
        let mkn = (r.random_range(1..=40), r.random_range(1..=40), r.random_range(1..=40));
        let (ta, tb) = TRANSPOSES[seed as usize % 4];
        let cfg = Gemm {
            trans_a: ta,
            trans_b: tb,
            alpha: r.random_range(-2.0..2.0),
            beta: r.random_range(-2.0..2.0),
            ..Default::default()
        };
        let shapes: [&[usize]; 3] = [&[mkn.2], &[mkn.0, 1], &[mkn.0, mkn.2]];
        let c = if r.random_bool(0.25) { None } else { Some(shapes[r.random_range(0..3)]) };
        gemm_case(gpu, 3970 + seed, mkn, c, cfg, &format!("random #{seed}"));
    }
}

#[test]
fn linear_backward_batch_3() {
    let gpu = gpu_or_skip!();
    for (seed, (b, cin, cout)) in [(3, 20, 10), (3, 7, 1000), (1, 64, 5)].into_iter().enumerate() {
        let mut r = rng(4000 + seed as u64);
        let (xa, xt) = pair(gpu, &[b, cin], &random_array(&mut r, &[b, cin], 1.0));
        let (wa, wt) = pair(gpu, &[cout, cin], &random_array(&mut r, &[cout, cin], 1.0));
        let (dya, dyt) = pair(gpu, &[b, cout], &random_array(&mut r, &[b, cout], 1.0));
        let (dx, grads) = gpu.run(|rec| ops::linear_backward(rec, &dyt, &xt, &wt, true)).unwrap();
        let (wdx, wgrads) = reference::linear_backward(&dya, &xa, &wa, true);
        let case = format!("B={b} in={cin} out={cout}");
        check(gpu, "linear_backward.dx", &case, &dx, &wdx, TOL);
        let ((dw, db), (wdw, wdb)) = (grads.unwrap(), wgrads.unwrap());
        check(gpu, "linear_backward.dweight", &case, &dw, &wdw, TOL);
        check(gpu, "linear_backward.dbias", &case, &db, &wdb, TOL);
        let (dx2, none) = gpu.run(|rec| ops::linear_backward(rec, &dyt, &xt, &wt, false)).unwrap();
        assert!(none.is_none(), "no weight gradients unless asked");
        check(gpu, "linear_backward.dx", &format!("{case} input only"), &dx2, &wdx, TOL);
    }
}

#[test]
fn gemm_references_match_finite_differences() {
    let mut r = rng(4100);
    let (m, k, n) = (4, 5, 3);
    let shapes: [Option<&[usize]>; 7] =
        [None, Some(&[]), Some(&[1]), Some(&[n]), Some(&[1, n]), Some(&[m, 1]), Some(&[m, n])];
    for (ta, tb) in TRANSPOSES {
        for c in shapes {
            let cfg = Gemm { trans_a: ta, trans_b: tb, alpha: 0.75, beta: -1.5, ..Default::default() };
            let a_shape = if ta { [k, m] } else { [m, k] };
            let b_shape = if tb { [n, k] } else { [k, n] };
            let a = Array::from_f32(a_shape.to_vec(), &random_array(&mut r, &a_shape, 1.0));
            let b = Array::from_f32(b_shape.to_vec(), &random_array(&mut r, &b_shape, 1.0));
            let ca = c.map(|c| Array::from_f32(c.to_vec(), &random_array(&mut r, c, 1.0)));
            let dy = Array::from_f32(vec![m, n], &random_array(&mut r, &[m, n], 1.0));
            let (da, db, dc) = reference::gemm_backward(&dy, &a, &b, c, &cfg);
            let case = format!("c={c:?} {cfg:?}");
            check_fd("gemm_backward.da", &case, &da, &fd_grad(&a, &dy, |a| reference::gemm(a, &b, ca.as_ref(), &cfg)));
            check_fd("gemm_backward.db", &case, &db, &fd_grad(&b, &dy, |b| reference::gemm(&a, b, ca.as_ref(), &cfg)));
            if let (Some(ca), Some(dc)) = (&ca, &dc) {
                check_fd("gemm_backward.dc", &case, dc, &fd_grad(ca, &dy, |c| reference::gemm(&a, &b, Some(c), &cfg)));
            }
        }
    }
    // linear: y = x W^T + bias.
    let (bsz, cin, cout) = (3, 6, 4);
    let x = Array::from_f32(vec![bsz, cin], &random_array(&mut r, &[bsz, cin], 1.0));
    let w = Array::from_f32(vec![cout, cin], &random_array(&mut r, &[cout, cin], 1.0));
    let bias = Array::from_f32(vec![cout], &random_array(&mut r, &[cout], 1.0));
    let dy = Array::from_f32(vec![bsz, cout], &random_array(&mut r, &[bsz, cout], 1.0));
    let lin = Gemm { trans_b: true, ..Default::default() };
    let (dx, grads) = reference::linear_backward(&dy, &x, &w, true);
    let (dw, db) = grads.unwrap();
    check_fd("linear_backward.dx", "batch 3", &dx, &fd_grad(&x, &dy, |x| reference::gemm(x, &w, Some(&bias), &lin)));
    check_fd(
        "linear_backward.dweight",
        "batch 3",
        &dw,
        &fd_grad(&w, &dy, |w| reference::gemm(&x, w, Some(&bias), &lin)),
    );
    check_fd("linear_backward.dbias", "batch 3", &db, &fd_grad(&bias, &dy, |b| reference::gemm(&x, &w, Some(b), &lin)));
}

#[test]
fn gemm_bad_inputs_are_errors() {
    let gpu = gpu_or_skip!();
    let t = |s: &[usize]| Tensor::from_f32(gpu, s.to_vec(), &vec![1.0; s.iter().product()]).unwrap();
    let (a, b, dy) = (t(&[4, 5]), t(&[5, 3]), t(&[4, 3]));
    let ok = Gemm::default();
    assert!(!fails(gpu, |rec| ops::gemm_backward(rec, &dy, &a, &b, Some(&[3]), &ok)), "valid call");
    let relu = Gemm { activation: Activation::Relu, ..ok };
    assert!(fails(gpu, |rec| ops::gemm_backward(rec, &dy, &a, &b, None, &relu)), "fused activation");
    assert!(fails(gpu, |rec| ops::gemm_backward(rec, &t(&[3, 4]), &a, &b, None, &ok)), "dy shape");
    assert!(fails(gpu, |rec| ops::gemm_backward(rec, &dy, &a, &t(&[4, 3]), None, &ok)), "inner dimension");
    assert!(fails(gpu, |rec| ops::gemm_backward(rec, &dy, &a, &b, Some(&[4]), &ok)), "C [4] vs [4, 3]");
    assert!(fails(gpu, |rec| ops::gemm_backward(rec, &dy, &a, &b, Some(&[1, 4, 3]), &ok)), "C rank 3");
    let (x, w, g) = (t(&[3, 5]), t(&[4, 5]), t(&[3, 4]));
    assert!(!fails(gpu, |rec| ops::linear_backward(rec, &g, &x, &w, true)), "valid call");
    assert!(fails(gpu, |rec| ops::linear_backward(rec, &t(&[3, 5]), &x, &w, true)), "dy shape");
    assert!(fails(gpu, |rec| ops::linear_backward(rec, &g, &t(&[3, 6]), &w, false)), "in features");
    assert!(fails(gpu, |rec| ops::linear_backward(rec, &g, &t(&[3, 5, 1]), &w, false)), "3-D input");
}

// ---------------------------------------------------------------------------------------------
// split (concat backward)

fn split_case(gpu: &Gpu, seed: u64, shape: &[usize], axis: usize, sizes: &[usize]) {
    let mut r = rng(seed);
    let (xa, xt) = pair(gpu, shape, &random_array(&mut r, shape, 1.0));
    let pieces = gpu.run(|rec| ops::split(rec, &xt, axis, sizes)).unwrap();
    let want = reference::split(&xa, axis, sizes);
    assert_eq!(pieces.len(), sizes.len());
    for (i, (p, w)) in pieces.iter().zip(&want).enumerate() {
        if p.numel() == 0 {
            assert_eq!(p.dims(), &w.shape[..], "empty piece {i}");
            continue;
        }
        check(gpu, "split", &format!("{shape:?} axis {axis} sizes {sizes:?} piece {i}"), p, w, TOL);
        // A copy: bit-exact.
        assert_eq!(p.to_f32(gpu).unwrap(), w.data.iter().map(|&v| v as f32).collect::<Vec<_>>());
    }
    // Splitting then concatenating gives the input back.
    let refs: Vec<&Tensor> = pieces.iter().filter(|p| p.numel() > 0).collect();
    let back = gpu.run(|rec| ops::concat(rec, &refs, axis)).unwrap();
    check(gpu, "split", "concat(split(x)) = x", &back, &xa, TOL);
}

#[test]
fn split_into_1_3_5_and_17_channels() {
    let gpu = gpu_or_skip!();
    split_case(gpu, 4200, &[2, 26, 3, 4], 1, &[1, 3, 5, 17]);
    split_case(gpu, 4201, &[2, 26, 3, 4], 1, &[17, 5, 3, 1]);
    split_case(gpu, 4202, &[2, 26, 3, 4], 1, &[26]);
    split_case(gpu, 4203, &[2, 8, 3, 4], 1, &[0, 3, 0, 5]);
    split_case(gpu, 4204, &[5, 3, 2], 0, &[1, 3, 1]);
    split_case(gpu, 4205, &[2, 3, 9], 2, &[1, 3, 5]);
    for seed in 0..10u64 {
        let mut r = rng(4250 + seed);
        let rank = r.random_range(1..=4);
        let shape: Vec<usize> = (0..rank).map(|_| r.random_range(1..=7)).collect();
        let axis = r.random_range(0..rank);
        let mut sizes = Vec::new();
        let mut left = shape[axis];
        while left > 0 {
            let s = r.random_range(1..=left);
            sizes.push(s);
            left -= s;
        }
        split_case(gpu, 4260 + seed, &shape, axis, &sizes);
    }
}

#[test]
fn split_reference_matches_finite_differences_of_concat() {
    // split(dy) is the gradient of L = sum(dy * concat(pieces)) with respect to each piece.
    let mut r = rng(4300);
    let sizes = [1, 3, 5, 17];
    let shapes: Vec<Vec<usize>> = sizes.iter().map(|&c| vec![2, c, 2, 3]).collect();
    let pieces: Vec<Array> = shapes.iter().map(|s| Array::from_f32(s.clone(), &random_array(&mut r, s, 1.0))).collect();
    let dy = Array::from_f32(vec![2, 26, 2, 3], &random_array(&mut r, &[2, 26, 2, 3], 1.0));
    let got = reference::split(&dy, 1, &sizes);
    for i in 0..sizes.len() {
        let fd = fd_grad(&pieces[i], &dy, |p| {
            let mut all: Vec<&Array> = pieces.iter().collect();
            all[i] = p;
            reference::concat(&all, 1)
        });
        check_fd("split", &format!("piece {i} of {sizes:?}"), &got[i], &fd);
    }
}

#[test]
fn split_bad_inputs_are_errors() {
    let gpu = gpu_or_skip!();
    let x = Tensor::from_f32(gpu, [2, 6], &[0.0; 12]).unwrap();
    assert!(fails(gpu, |rec| ops::split(rec, &x, 1, &[2, 3])), "sizes do not add up");
    assert!(fails(gpu, |rec| ops::split(rec, &x, 1, &[4, 4])), "sizes too large");
    assert!(fails(gpu, |rec| ops::split(rec, &x, 2, &[6])), "axis out of range");
    assert!(fails(gpu, |rec| ops::split(rec, &x, 1, &[])), "no pieces");
    assert!(fails(gpu, |rec| ops::split(rec, &x, 1, &[usize::MAX, 7])), "overflowing sizes");
    let u = Tensor::from_u32(gpu, [2, 6], &[0; 12]).unwrap();
    assert!(fails(gpu, |rec| ops::split(rec, &u, 1, &[6])), "dtype");
}

#[test]
fn empty_reductions_give_zero_gradients() {
    // Summing over an empty dimension gives zeros (a buffer is never bound with 0 bytes).
    let gpu = gpu_or_skip!();
    let e = Tensor::from_f32(gpu, [0, 3], &[]).unwrap();
    let b = Tensor::from_f32(gpu, [3], &[1.0, 2.0, 3.0]).unwrap();
    let s = gpu.run(|rec| ops::reduce_sum_to_shape(rec, &e, &[1, 3])).unwrap();
    assert_eq!(s.to_f32(gpu).unwrap(), vec![0.0; 3]);
    let (da, db) = gpu.run(|rec| ops::binary_backward(rec, &e, &e, &b, BinaryOp::Mul)).unwrap();
    assert_eq!(da.dims(), &[0, 3]);
    assert_eq!(db.to_f32(gpu).unwrap(), vec![0.0; 3]);
    let x = Tensor::from_f32(gpu, [0, 3, 2, 2], &[]).unwrap();
    let (ds, dbias) = gpu.run(|rec| ops::batch_norm_backward_params(rec, &x, &x, &b, &b, 1e-5)).unwrap();
    assert_eq!(ds.to_f32(gpu).unwrap(), vec![0.0; 3]);
    assert_eq!(dbias.to_f32(gpu).unwrap(), vec![0.0; 3]);
    let y = Tensor::from_f32(gpu, [2, 0], &[]).unwrap();
    let dx = gpu.run(|rec| ops::softmax_backward(rec, &y, &y, 1)).unwrap();
    assert_eq!(dx.dims(), &[2, 0]);
}

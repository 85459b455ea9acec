use featuremap::ops::{self, BinaryOp};
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::Rng;

use crate::common::{check, random_pair, rng, TOL};
use crate::gpu_or_skip;

const OPS: [BinaryOp; 4] = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div];

/// Runs `a OP b` on random data of the given shapes and checks it against the reference.
/// The right operand stays in [0.5, 1.5) in magnitude so that division is well conditioned.
fn case(seed: u64, a: &[usize], b: &[usize], op: BinaryOp, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (aa, at) = random_pair(gpu, &mut r, a);
    let bv: Vec<f32> = (0..b.iter().product())
        .map(|_| {
            let u: f32 = r.random_range(-1.0..1.0);
            u.signum() * (0.5 + u.abs())
        })
        .collect();
    let ba = Array::from_f32(b.to_vec(), &bv);
    let bt = Tensor::from_f32(gpu, b.to_vec(), &bv).unwrap();
    let y = gpu.run(|rec| ops::binary(rec, &at, &bt, op)).unwrap();
    let want = reference::binary(&aa, &ba, op);
    check(gpu, "binary", &format!("{name} {} {a:?} {b:?}", op.name()), &y, &want, TOL);
}

fn all_ops(seed: u64, a: &[usize], b: &[usize], name: &str) {
    for (i, op) in OPS.into_iter().enumerate() {
        case(seed * 4 + i as u64, a, b, op, name);
    }
}

#[test]
fn same_shape() {
    all_ops(400, &[2, 3, 5, 7], &[2, 3, 5, 7], "same shape");
    all_ops(401, &[1000], &[1000], "same shape rank 1");
}

#[test]
fn scalar_operand() {
    all_ops(402, &[2, 3, 4, 5], &[], "scalar right");
    all_ops(403, &[], &[2, 3, 4, 5], "scalar left");
    all_ops(404, &[2, 3, 4, 5], &[1], "one-element right");
    all_ops(405, &[], &[], "scalar both");
}

#[test]
fn channel_vector_against_nchw() {
    all_ops(406, &[2, 5, 6, 7], &[1, 5, 1, 1], "channel vector");
    all_ops(407, &[1, 17, 3, 3], &[17, 1, 1], "channel vector rank 3");
}

#[test]
fn both_sides_broadcast() {
    all_ops(408, &[3, 1, 5], &[1, 4, 1], "both sides");
    all_ops(409, &[2, 1, 4, 1, 3, 1], &[1, 5, 1, 2, 1, 3], "both sides rank 6");
}

#[test]
fn rank_1_against_rank_4() {
    all_ops(410, &[7], &[2, 3, 4, 7], "rank 1 left");
    all_ops(411, &[2, 3, 4, 7], &[7], "rank 1 right");
    all_ops(412, &[2, 3, 4, 7], &[4, 1], "rank 2 column");
}

#[test]
fn broadcast_shape_rule() {
    assert_eq!(ops::broadcast_shape(&[3, 1, 5], &[1, 4, 1]).unwrap(), vec![3, 4, 5]);
    assert_eq!(ops::broadcast_shape(&[7], &[2, 3, 4, 7]).unwrap(), vec![2, 3, 4, 7]);
    assert_eq!(ops::broadcast_shape(&[], &[2, 3]).unwrap(), vec![2, 3]);
    assert_eq!(ops::broadcast_shape(&[0, 1], &[1, 3]).unwrap(), vec![0, 3]);
    assert!(ops::broadcast_shape(&[3, 4], &[5]).is_err());
    assert!(ops::broadcast_shape(&[2, 3], &[3, 3]).is_err());
}

#[test]
fn random_shapes() {
    // Property-style: a random output shape, each operand a random suffix of it with random
    // dimensions set to 1.
    let mut r = rng(420);
    for i in 0..15 {
        let rank = r.random_range(1..=6);
        let out: Vec<usize> = (0..rank).map(|_| r.random_range(1..6)).collect();
        let operand = |r: &mut rand::rngs::StdRng| -> Vec<usize> {
            let drop = r.random_range(0..=rank);
            out[drop..].iter().map(|&d| if r.random_bool(0.3) { 1 } else { d }).collect()
        };
        let a = operand(&mut r);
        let b = operand(&mut r);
        let op = OPS[r.random_range(0..4)];
        case(430 + i, &a, &b, op, "random");
    }
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let z = |s: &[usize]| Tensor::zeros(gpu, s.to_vec()).unwrap();
    let (a, b) = (z(&[3, 4]), z(&[5]));
    let err = gpu.run(|rec| ops::add(rec, &a, &b)).unwrap_err();
    assert!(err.to_string().contains("add"), "{err}");
    assert!(gpu.run(|rec| ops::sub(rec, &z(&[2, 3]), &z(&[3, 3]))).is_err());
    assert!(gpu.run(|rec| ops::mul(rec, &z(&[1, 1, 1, 1, 1, 1, 2]), &z(&[2]))).is_err(), "rank 7");
    assert!(gpu.run(|rec| ops::div(rec, &z(&[2]), &z(&[1, 1, 1, 1, 1, 1, 1]))).is_err(), "rank 7");
    let y = gpu.run(|rec| ops::add(rec, &z(&[0, 3]), &z(&[3]))).unwrap();
    assert_eq!(y.dims(), &[0, 3]);
}

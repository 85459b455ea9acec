use featuremap::ops::{self, Activation, Gemm};
use featuremap::reference;
use rand::Rng;

use crate::common::{check, random_pair, rng, TOL};
use crate::gpu_or_skip;

/// Runs gemm on random `op(A)` `[m, k]`, `op(B)` `[k, n]` and optional `C` of shape `c`, and
/// checks it against the reference.
fn case(seed: u64, m: usize, k: usize, n: usize, c: Option<&[usize]>, cfg: Gemm, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let a_shape = if cfg.trans_a { [k, m] } else { [m, k] };
    let b_shape = if cfg.trans_b { [n, k] } else { [k, n] };
    let (aa, at) = random_pair(gpu, &mut r, &a_shape);
    let (ba, bt) = random_pair(gpu, &mut r, &b_shape);
    let cpair = c.map(|c| random_pair(gpu, &mut r, c));
    let y = gpu.run(|rec| ops::gemm(rec, &at, &bt, cpair.as_ref().map(|p| &p.1), &cfg)).unwrap();
    let want = reference::gemm(&aa, &ba, cpair.as_ref().map(|p| &p.0), &cfg);
    check(gpu, "gemm", &format!("{name} m={m} k={k} n={n} c={c:?} {cfg:?}"), &y, &want, TOL);
}

#[test]
fn all_four_transpose_combinations() {
    for (i, (ta, tb)) in [(false, false), (true, false), (false, true), (true, true)].into_iter().enumerate() {
        let cfg = Gemm { trans_a: ta, trans_b: tb, ..Default::default() };
        case(200 + i as u64, 17, 33, 65, Some(&[17, 65]), cfg, "transposes");
        case(210 + i as u64, 70, 21, 67, None, cfg, "transposes big tile");
        case(220 + i as u64, 5, 40, 9, Some(&[9]), cfg, "transposes thin");
    }
}

#[test]
fn alpha_and_beta() {
    let cfg = Gemm { alpha: 0.5, beta: -2.0, ..Default::default() };
    case(230, 17, 33, 65, Some(&[17, 65]), cfg, "alpha/beta");
    let cfg = Gemm { alpha: -1.5, beta: 0.25, trans_a: true, ..Default::default() };
    case(231, 33, 17, 20, Some(&[33, 1]), cfg, "alpha/beta trans_a");
    let cfg = Gemm { alpha: 3.0, beta: 0.0, ..Default::default() };
    case(232, 9, 8, 7, Some(&[9, 7]), cfg, "beta 0");
    let cfg = Gemm { alpha: 2.0, beta: 5.0, ..Default::default() };
    case(233, 9, 8, 7, None, cfg, "beta without C");
}

#[test]
fn every_c_broadcast_shape() {
    let (m, k, n) = (19, 13, 23);
    let shapes: [&[usize]; 6] = [&[], &[1], &[n], &[1, n], &[m, 1], &[m, n]];
    for (i, c) in shapes.into_iter().enumerate() {
        case(240 + i as u64, m, k, n, Some(c), Gemm { beta: 0.75, ..Default::default() }, "C broadcast");
    }
    case(246, m, k, n, None, Gemm::default(), "no C");
}

#[test]
fn dimensions_of_one() {
    case(250, 1, 1, 1, Some(&[1, 1]), Gemm::default(), "1x1x1");
    case(251, 1, 33, 17, Some(&[17]), Gemm::default(), "M=1");
    case(252, 17, 33, 1, Some(&[17, 1]), Gemm::default(), "N=1");
    case(253, 17, 1, 33, Some(&[1, 33]), Gemm::default(), "K=1");
    case(254, 1, 65, 1, Some(&[]), Gemm { trans_a: true, trans_b: true, ..Default::default() }, "M=N=1 transposed");
    case(255, 130, 1, 1, None, Gemm::default(), "column");
}

#[test]
fn sizes_not_multiples_of_the_tile() {
    for (i, (m, k, n)) in
        [(17, 33, 65), (65, 17, 33), (33, 65, 17), (67, 129, 66), (15, 7, 130), (130, 3, 15)].into_iter().enumerate()
    {
        case(260 + i as u64, m, k, n, Some(&[n]), Gemm::default(), "odd sizes");
    }
}

#[test]
fn fused_activations() {
    for (i, act) in
        [Activation::Relu, Activation::RELU6, Activation::Silu, Activation::Gelu, Activation::LeakyRelu(0.1)]
            .into_iter()
            .enumerate()
    {
        case(270 + i as u64, 18, 20, 35, Some(&[35]), Gemm { activation: act, ..Default::default() }, act.name());
    }
}

#[test]
fn linear_batch_3_to_1000_classes() {
    let gpu = gpu_or_skip!();
    let mut r = rng(280);
    let (xa, xt) = random_pair(gpu, &mut r, &[3, 96]);
    let (wa, wt) = random_pair(gpu, &mut r, &[1000, 96]);
    let (ba, bt) = random_pair(gpu, &mut r, &[1000]);
    let cfg = Gemm { trans_b: true, ..Default::default() };
    let y = gpu.run(|rec| ops::linear(rec, &xt, &wt, Some(&bt))).unwrap();
    check(gpu, "gemm", "linear 3x96 -> 1000", &y, &reference::gemm(&xa, &wa, Some(&ba), &cfg), TOL);
    let y = gpu.run(|rec| ops::linear(rec, &xt, &wt, None)).unwrap();
    check(gpu, "gemm", "linear 3x96 -> 1000 no bias", &y, &reference::gemm(&xa, &wa, None, &cfg), TOL);
    // On CPU adapters: linear_rows (in a multiple of 4; 10 outputs, the last quad partial) and
    // the 1x1 conv (in = 99).
    for (seed, rows, cin, cout) in [(281, 1, 1280, 10), (282, 2, 99, 7)] {
        let (xa, xt) = random_pair(gpu, &mut r, &[rows, cin]);
        let (wa, wt) = random_pair(gpu, &mut r, &[cout, cin]);
        let (ba, bt) = random_pair(gpu, &mut rng(seed), &[cout]);
        let y = gpu.run(|rec| ops::linear(rec, &xt, &wt, Some(&bt))).unwrap();
        let desc = format!("linear {rows}x{cin} -> {cout}");
        check(gpu, "gemm", &desc, &y, &reference::gemm(&xa, &wa, Some(&ba), &cfg), TOL);
    }
}

#[test]
fn random_shapes() {
    // Property-style: seeded random configurations, each checked against the reference.
    let mut r = rng(290);
    for i in 0..15 {
        let (m, k, n) = (r.random_range(1..80), r.random_range(1..100), r.random_range(1..80));
        let c: Option<Vec<usize>> = match r.random_range(0..7) {
            0 => None,
            1 => Some(vec![]),
            2 => Some(vec![1]),
            3 => Some(vec![n]),
            4 => Some(vec![1, n]),
            5 => Some(vec![m, 1]),
            _ => Some(vec![m, n]),
        };
        let cfg = Gemm {
            trans_a: r.random_bool(0.5),
            trans_b: r.random_bool(0.5),
            alpha: r.random_range(-2.0..2.0),
            beta: r.random_range(-2.0..2.0),
            activation: if r.random_bool(0.3) { Activation::Relu } else { Activation::None },
        };
        case(300 + i, m, k, n, c.as_deref(), cfg, "random");
    }
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let z = |s: &[usize]| featuremap::Tensor::zeros(gpu, s.to_vec()).unwrap();
    let (a, b) = (z(&[4, 5]), z(&[6, 7]));
    let err = gpu.run(|rec| ops::gemm(rec, &a, &b, None, &Gemm::default())).unwrap_err();
    assert!(err.to_string().contains("gemm"), "{err}");
    let b = z(&[5, 7]);
    // trans_a makes K = 4, which no longer matches.
    assert!(gpu.run(|rec| ops::gemm(rec, &a, &b, None, &Gemm { trans_a: true, ..Default::default() })).is_err());
    assert!(gpu.run(|rec| ops::gemm(rec, &a, &b, None, &Gemm { trans_b: true, ..Default::default() })).is_err());
    assert!(gpu.run(|rec| ops::gemm(rec, &z(&[4, 5, 1]), &b, None, &Gemm::default())).is_err());
    assert!(gpu.run(|rec| ops::gemm(rec, &z(&[20]), &b, None, &Gemm::default())).is_err());
    for c in [&[4][..], &[7, 4], &[5, 7], &[2, 7], &[1, 4, 7], &[4, 2]] {
        let ct = z(c);
        assert!(gpu.run(|rec| ops::gemm(rec, &a, &b, Some(&ct), &Gemm::default())).is_err(), "C {c:?}");
    }
    let (x, w) = (z(&[3, 8]), z(&[10, 9]));
    assert!(gpu.run(|rec| ops::linear(rec, &x, &w, None)).is_err());
    let w = z(&[10, 8]);
    assert!(gpu.run(|rec| ops::linear(rec, &x, &w, Some(&z(&[9])))).is_err());
    assert!(gpu.run(|rec| ops::linear(rec, &z(&[8]), &w, None)).is_err());
    assert!(gpu.run(|rec| ops::linear(rec, &x, &w, Some(&z(&[10])))).is_ok());
}

#[test]
fn long_reduction() {
    // Split-K: one dispatch reduces at most 2048 of K (src/ops/gemm.rs, REDUCTION_CHUNK). Before
    // the split, lavapipe truncated reductions of more than about 1870 steps of 16 (K = 30000
    // gave a relative error of ~1). The epilogue (alpha, C, activation) must be applied once,
    // after the last slice.
    let gpu = gpu_or_skip!();
    let mut r = rng(320);
    let (xa, xt) = random_pair(gpu, &mut r, &[2, 30000]);
    let (wa, wt) = random_pair(gpu, &mut r, &[64, 30000]);
    let (ba, bt) = random_pair(gpu, &mut r, &[64]);
    let y = gpu.run(|rec| ops::linear(rec, &xt, &wt, Some(&bt))).unwrap();
    let cfg = Gemm { trans_b: true, ..Default::default() };
    check(gpu, "gemm", "linear 2x30000 -> 64", &y, &reference::gemm(&xa, &wa, Some(&ba), &cfg), TOL);

    let epilogue = |trans_a, trans_b, activation| Gemm { trans_a, trans_b, alpha: 0.5, beta: -2.0, activation };
    case(321, 2, 30000, 8, Some(&[8]), epilogue(true, false, Activation::LeakyRelu(0.1)), "long K transposed A");
    case(322, 2, 30000, 8, Some(&[2, 8]), epilogue(true, true, Activation::Relu), "long K both transposed");
    case(323, 64, 30000, 8, Some(&[64, 1]), epilogue(false, false, Activation::None), "long K tall tile");
    // Slice boundaries that are not multiples of the kernel's step of 16.
    case(324, 3, 2 * 2048 + 5, 5, Some(&[5]), epilogue(false, true, Activation::Silu), "K = 2 slices + 5");
    case(325, 3, 2048, 70, Some(&[70]), epilogue(false, false, Activation::Relu), "K = one slice exactly");
    case(326, 3, 2049, 70, Some(&[70]), epilogue(false, false, Activation::Relu), "K = one slice + 1");
}

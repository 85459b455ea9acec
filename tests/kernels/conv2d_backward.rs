//! The conv2d gradient kernels (input, weight, bias) against the f64 reference, and the
//! reference gradients against central finite differences of the reference forward.

use featuremap::ops::{self, Activation, Conv2d, ConvKernel};
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::Rng;

use crate::common::{check, random_pair, random_vec, rng, TOL};
use crate::gpu_or_skip;

/// Runs the three gradient kernels on random `x`, `w` and `dy` of the given shapes and checks
/// each against its reference.
fn case(seed: u64, x: [usize; 4], cout: usize, k: [usize; 2], cfg: Conv2d, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let w_shape = [cout, x[1] / cfg.groups, k[0], k[1]];
    let y_shape = cfg.output_shape(&x, &w_shape).unwrap();
    let (xa, xt) = random_pair(gpu, &mut r, &x);
    let (wa, wt) = random_pair(gpu, &mut r, &w_shape);
    let (dya, dyt) = random_pair(gpu, &mut r, &y_shape);
    let db = gpu.run(|rec| ops::conv2d_backward_bias(rec, &dyt)).unwrap();
    let desc = format!("{name} x={x:?} cout={cout} k={k:?} {cfg:?}");
    let want_dx = reference::conv2d_backward_input(&dya, &wa, &x, &cfg);
    // Every kernel that applies on every case, whichever the adapter would pick (Direct falls
    // back to the tiled kernel where it does not apply).
    let mut kernels = vec![ConvKernel::Tiled, ConvKernel::Direct];
    for extra in [ConvKernel::Packed, ConvKernel::Depthwise] {
        if ops::input_grad_kernels(&cfg, w_shape).contains(&extra) {
            kernels.push(extra);
        }
    }
    for kernel in kernels {
        let dx = gpu.run(|rec| ops::conv2d_backward_input_with(rec, &dyt, &wt, &x, &cfg, kernel)).unwrap();
        check(gpu, "conv2d_backward_input", &format!("{desc} {kernel:?}"), &dx, &want_dx, TOL);
    }
    let want_dw = reference::conv2d_backward_weight(&dya, &xa, &w_shape, &cfg);
    for kernel in ops::weight_grad_kernels(w_shape) {
        let dw = gpu.run(|rec| ops::conv2d_backward_weight_with(rec, &dyt, &xt, &w_shape, &cfg, kernel)).unwrap();
        check(gpu, "conv2d_backward_weight", &format!("{desc} {kernel:?}"), &dw, &want_dw, TOL);
    }
    check(gpu, "conv2d_backward_bias", &desc, &db, &reference::conv2d_backward_bias(&dya), TOL);
}

#[test]
fn pointwise_1x1() {
    case(210, [2, 17, 5, 7], 33, [1, 1], Conv2d::default(), "1x1");
    case(211, [1, 5, 9, 6], 3, [1, 1], Conv2d { stride: [2, 2], ..Default::default() }, "1x1 s2");
    // The packed kernel's 1x1 form (dy's planes read as they are, or padded to whole vec4s as
    // in the first case): partial blocks, groups.
    case(224, [2, 17, 6, 6], 33, [1, 1], Conv2d::default(), "1x1 36-pixel planes");
    case(225, [1, 12, 4, 8], 20, [1, 1], Conv2d { groups: 2, ..Default::default() }, "1x1 groups 2");
    // Strided: a GEMM over dy's planes spread out over dx, zeros between and past the last
    // pixel read (even sizes), two strides, groups, 4 x 3 dy planes padded to whole vec4s.
    let s = |stride, groups| Conv2d { stride, groups, ..Default::default() };
    case(226, [2, 8, 8, 10], 12, [1, 1], s([2, 2], 1), "1x1 s2 even sizes");
    case(227, [1, 6, 7, 9], 10, [1, 1], s([2, 3], 2), "1x1 s2x3 groups 2");
}

/// Input gradients through the packed kernel's rows form (conv2d_packed_rows over dy with the
/// flipped weights; more than 16 input channels per group, its output rows): rows of 13
/// columns, 40 input channels (a channel block cut short), groups, a 5x3 kernel; at stride 2
/// by phase.
#[test]
fn packed_rows_input_gradients() {
    case(320, [2, 40, 5, 13], 12, [3, 3], Conv2d::same(1, 1), "rows 13 wide 40 in");
    case(328, [1, 40, 5, 16], 12, [3, 3], Conv2d::same(1, 1), "rows 16 wide (blocks of 8)");
    case(321, [1, 48, 6, 9], 8, [3, 3], Conv2d { groups: 2, ..Conv2d::same(1, 1) }, "rows groups 2");
    case(322, [1, 20, 7, 11], 9, [5, 3], Conv2d { padding: [2, 1, 2, 1], ..Default::default() }, "rows 5x3");
    // Stride 2: per phase a stride-1 conv of 2x2, 2x1, 1x2 or 1x1 taps (the rows form's entries
    // with those rows written out), odd and even sizes, phases 7, 6 and 17 columns wide (blocks
    // of 7) and 8 wide (blocks of 8).
    case(326, [2, 40, 9, 13], 12, [3, 3], Conv2d::same(1, 2), "rows phases 3x3 s2");
    case(329, [1, 40, 6, 16], 12, [3, 3], Conv2d::same(1, 2), "rows phases 8 wide");
    case(
        327,
        [1, 20, 6, 34],
        36,
        [3, 3],
        Conv2d { stride: [2, 2], padding: [0, 0, 1, 1], ..Default::default() },
        "rows phases s2 pad bottom/right",
    );
}

/// The packed weight gradient's subgroup entries (more than 16 output channels per group,
/// subgroups of 8): 4 columns per invocation (at least 64 columns: 8 quads x 9 taps) with a
/// block of output channels cut short (40 = 32 + 8), the same over two groups (36 per group),
/// and 2 columns per invocation (a 1x1 over 3 quads, 20 output channels).
#[test]
fn packed_weight_gradient_subgroup_form() {
    case(323, [2, 32, 6, 7], 40, [3, 3], Conv2d::same(1, 1), "sg 72 columns 40 out");
    case(324, [1, 64, 5, 5], 72, [3, 3], Conv2d { groups: 2, ..Conv2d::same(1, 1) }, "sg groups 2");
    case(325, [1, 12, 5, 9], 20, [1, 1], Conv2d::default(), "sg narrow 1x1");
}

#[test]
fn stride_larger_than_kernel() {
    // Input pixels between the windows get no gradient at all.
    case(212, [1, 3, 11, 13], 5, [2, 2], Conv2d { stride: [3, 4], ..Default::default() }, "stride>kernel");
    case(
        213,
        [2, 4, 10, 9],
        3,
        [1, 2],
        Conv2d { stride: [4, 3], padding: [1, 0, 0, 2], ..Default::default() },
        "stride>kernel pad",
    );
}

#[test]
fn stride_2_and_3() {
    case(214, [2, 5, 9, 10], 6, [3, 3], Conv2d::same(1, 2), "s2 p1");
    case(215, [1, 4, 11, 8], 7, [3, 2], Conv2d { stride: [3, 3], ..Default::default() }, "s3");
    case(
        216,
        [1, 3, 13, 12],
        4,
        [5, 4],
        Conv2d { stride: [3, 2], padding: [2, 1, 0, 2], ..Default::default() },
        "s3x2",
    );
}

#[test]
fn padding_on_one_side_only() {
    case(217, [1, 5, 9, 8], 4, [3, 3], Conv2d { padding: [2, 0, 0, 1], ..Default::default() }, "pad top/right");
    case(218, [1, 5, 9, 8], 4, [3, 2], Conv2d { padding: [0, 3, 1, 0], ..Default::default() }, "pad left/bottom");
}

#[test]
fn dilation_2_and_3() {
    case(219, [1, 3, 15, 14], 6, [3, 3], Conv2d { dilation: [2, 2], padding: [2; 4], ..Default::default() }, "dil2");
    case(220, [2, 5, 16, 13], 7, [3, 2], Conv2d { dilation: [3, 2], stride: [2, 1], ..Default::default() }, "dil3x2");
    case(
        221,
        [1, 4, 13, 15],
        5,
        [2, 3],
        Conv2d { dilation: [3, 3], stride: [2, 3], padding: [1, 2, 3, 0], ..Default::default() },
        "dil3 s2x3",
    );
}

#[test]
fn groups_2_and_depthwise() {
    case(222, [2, 6, 9, 9], 10, [3, 3], Conv2d { groups: 2, padding: [1; 4], ..Default::default() }, "groups2");
    case(223, [1, 17, 10, 11], 17, [3, 3], Conv2d { groups: 17, padding: [1; 4], ..Default::default() }, "depthwise");
    case(
        224,
        [2, 8, 12, 12],
        16,
        [5, 5],
        Conv2d { groups: 8, stride: [2, 2], padding: [2; 4], ..Default::default() },
        "depthwise x2 s2",
    );
    case(
        225,
        [1, 34, 7, 9],
        68,
        [1, 3],
        Conv2d { groups: 2, padding: [0, 1, 0, 1], ..Default::default() },
        "groups2 wide",
    );
}

#[test]
fn batch_3_and_odd_channel_counts() {
    for (i, cin) in [1usize, 3, 5, 17].into_iter().enumerate() {
        let cout = [1, 3, 5, 17][(i + 1) % 4];
        case(230 + i as u64, [3, cin, 7, 9], cout, [3, 3], Conv2d::same(1, 1), "odd channels");
        case(234 + i as u64, [3, cout, 9, 7], cin, [3, 3], Conv2d::same(1, 2), "odd channels s2");
    }
}

#[test]
fn resnet_3x3_64_channels_14x14() {
    case(240, [2, 64, 14, 14], 64, [3, 3], Conv2d::same(1, 1), "resnet 3x3");
    case(241, [1, 64, 14, 14], 128, [3, 3], Conv2d::same(1, 2), "resnet 3x3 s2");
    // The packed weight gradient's wide entry point (72 vec4 columns) with groups, padding on
    // some sides only and two split-K chunks (46 rows of 45 pixels).
    let cfg = Conv2d { groups: 2, padding: [1, 0, 1, 1], ..Default::default() };
    case(242, [1, 64, 46, 46], 32, [3, 3], cfg, "wide packed weight gradient, groups, split-K");
}

#[test]
fn random_shapes() {
    // Property-style: seeded random configurations, each checked against the reference.
    let mut r = rng(250);
    for i in 0..15 {
        let groups = [1, 1, 1, 2, 3][r.random_range(0..5)];
        let cin = groups * r.random_range(1..7);
        let cout = groups * r.random_range(1..9);
        let k = [r.random_range(1..5), r.random_range(1..5)];
        let dilation = [r.random_range(1..4), r.random_range(1..4)];
        let padding = [r.random_range(0..3), r.random_range(0..3), r.random_range(0..3), r.random_range(0..3)];
        let stride = [r.random_range(1..4), r.random_range(1..4)];
        let hw = [r.random_range(dilation[0] * (k[0] - 1) + 1..18), r.random_range(dilation[1] * (k[1] - 1) + 1..18)];
        let cfg = Conv2d { stride, padding, dilation, groups, activation: Activation::None };
        case(300 + i, [r.random_range(1..4), cin, hw[0], hw[1]], cout, k, cfg, "random");
    }
}

/// `n` random values in [-1, 1) as an f64 array.
fn random_array(r: &mut rand::rngs::StdRng, shape: &[usize]) -> Array {
    Array::from_f32(shape.to_vec(), &random_vec(r, shape.iter().product()))
}

/// Relative L2 distance between two f64 vectors.
fn rel_l2_f64(got: &[f64], want: &[f64]) -> f64 {
    let num: f64 = got.iter().zip(want).map(|(g, w)| (g - w) * (g - w)).sum();
    let den: f64 = want.iter().map(|w| w * w).sum();
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

/// Checks the reference gradients of L = sum(dy * conv2d(x, w, b)) with respect to x, w and b
/// against central finite differences (step 1e-6) at `samples` random entries of each (all
/// entries where there are fewer).
fn finite_differences(seed: u64, x_shape: [usize; 4], cout: usize, k: [usize; 2], cfg: Conv2d, samples: usize) {
    const STEP: f64 = 1e-6;
    const FD_TOL: f64 = 1e-6;
    let mut r = rng(seed);
    let w_shape = [cout, x_shape[1] / cfg.groups, k[0], k[1]];
    let y_shape = cfg.output_shape(&x_shape, &w_shape).unwrap();
    let x = random_array(&mut r, &x_shape);
    let w = random_array(&mut r, &w_shape);
    let b = random_array(&mut r, &[cout]);
    let dy = random_array(&mut r, &y_shape);
    let loss = |x: &Array, w: &Array, b: &Array| -> f64 {
        let y = reference::conv2d(x, w, Some(b), &cfg);
        y.data.iter().zip(&dy.data).map(|(a, d)| a * d).sum()
    };
    let grads = [
        ("dx", reference::conv2d_backward_input(&dy, &w, &x_shape, &cfg)),
        ("dw", reference::conv2d_backward_weight(&dy, &x, &w_shape, &cfg)),
        ("db", reference::conv2d_backward_bias(&dy)),
    ];
    for (which, (name, grad)) in grads.iter().enumerate() {
        let len = grad.numel();
        let idx: Vec<usize> =
            if len <= samples { (0..len).collect() } else { (0..samples).map(|_| r.random_range(0..len)).collect() };
        let mut fd = Vec::with_capacity(idx.len());
        let mut an = Vec::with_capacity(idx.len());
        for &i in &idx {
            let (mut xp, mut wp, mut bp) = (x.clone(), w.clone(), b.clone());
            let (mut xm, mut wm, mut bm) = (x.clone(), w.clone(), b.clone());
            let (p, m) = match which {
                0 => (&mut xp.data[i], &mut xm.data[i]),
                1 => (&mut wp.data[i], &mut wm.data[i]),
                _ => (&mut bp.data[i], &mut bm.data[i]),
            };
            *p += STEP;
            *m -= STEP;
            fd.push((loss(&xp, &wp, &bp) - loss(&xm, &wm, &bm)) / (2.0 * STEP));
            an.push(grad.data[i]);
        }
        let err = rel_l2_f64(&an, &fd);
        let max_abs = an.iter().zip(&fd).map(|(a, f)| (a - f).abs()).fold(0.0, f64::max);
        println!(
            "FD-ERROR conv2d_backward {name} rel {err:.3e} max-abs {max_abs:.3e} over {} entries x={x_shape:?} cout={cout} k={k:?} {cfg:?}",
            idx.len()
        );
        assert!(
            err < FD_TOL,
            "{name}: reference gradient vs finite differences: relative L2 {err:.3e} >= {FD_TOL:.0e}"
        );
    }
}

#[test]
fn references_match_finite_differences() {
    finite_differences(400, [2, 3, 6, 7], 4, [3, 3], Conv2d::same(1, 1), usize::MAX);
    finite_differences(
        401,
        [1, 4, 9, 8],
        6,
        [3, 2],
        Conv2d { stride: [2, 3], padding: [2, 0, 1, 1], groups: 2, ..Default::default() },
        usize::MAX,
    );
    finite_differences(
        402,
        [2, 2, 11, 10],
        3,
        [2, 3],
        Conv2d { dilation: [3, 2], stride: [1, 2], padding: [0, 1, 2, 0], ..Default::default() },
        usize::MAX,
    );
    finite_differences(
        403,
        [1, 5, 8, 9],
        10,
        [3, 3],
        Conv2d { groups: 5, stride: [2, 2], padding: [1; 4], ..Default::default() },
        usize::MAX,
    );
    finite_differences(404, [1, 3, 11, 13], 5, [2, 2], Conv2d { stride: [3, 4], ..Default::default() }, usize::MAX);
    finite_differences(405, [3, 17, 7, 5], 5, [3, 3], Conv2d::same(1, 2), 200);
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let cfg = Conv2d::same(1, 1);
    let x = Tensor::zeros(gpu, [1, 4, 8, 8]).unwrap();
    let w = Tensor::zeros(gpu, [6, 4, 3, 3]).unwrap();
    let dy = Tensor::zeros(gpu, [1, 6, 8, 8]).unwrap();
    let xs = [1, 4, 8, 8];
    let ws = [6, 4, 3, 3];
    // The valid calls succeed, so the failures below are the shapes' fault.
    gpu.run(|rec| ops::conv2d_backward_input(rec, &dy, &w, &xs, &cfg)).unwrap();
    gpu.run(|rec| ops::conv2d_backward_weight(rec, &dy, &x, &ws, &cfg)).unwrap();
    gpu.run(|rec| ops::conv2d_backward_bias(rec, &dy)).unwrap();

    let bad_dy = Tensor::zeros(gpu, [1, 6, 7, 8]).unwrap();
    let e = gpu.run(|rec| ops::conv2d_backward_input(rec, &bad_dy, &w, &xs, &cfg)).unwrap_err();
    assert!(e.to_string().contains("conv2d_backward_input"), "{e}");
    let e = gpu.run(|rec| ops::conv2d_backward_weight(rec, &bad_dy, &x, &ws, &cfg)).unwrap_err();
    assert!(e.to_string().contains("conv2d_backward_weight"), "{e}");
    let dy5 = Tensor::zeros(gpu, [1, 5, 8, 8]).unwrap();
    assert!(gpu.run(|rec| ops::conv2d_backward_input(rec, &dy5, &w, &xs, &cfg)).is_err());
    assert!(gpu.run(|rec| ops::conv2d_backward_weight(rec, &dy5, &x, &ws, &cfg)).is_err());

    // Input and weights that disagree on C_in / groups, non-4-D shapes, too-large kernels.
    assert!(gpu.run(|rec| ops::conv2d_backward_input(rec, &dy, &w, &[1, 3, 8, 8], &cfg)).is_err());
    assert!(gpu.run(|rec| ops::conv2d_backward_input(rec, &dy, &w, &[4, 8, 8], &cfg)).is_err());
    assert!(gpu.run(|rec| ops::conv2d_backward_weight(rec, &dy, &x, &[6, 3, 3, 3], &cfg)).is_err());
    assert!(gpu.run(|rec| ops::conv2d_backward_weight(rec, &dy, &x, &[6, 4, 3], &cfg)).is_err());
    assert!(gpu.run(|rec| ops::conv2d_backward_weight(rec, &dy, &x, &[6, 4, 11, 11], &cfg)).is_err());
    let w3 = Tensor::zeros(gpu, [6, 4, 3]).unwrap();
    assert!(gpu.run(|rec| ops::conv2d_backward_input(rec, &dy, &w3, &xs, &cfg)).is_err());
    let grouped = Conv2d { groups: 4, ..cfg };
    assert!(gpu.run(|rec| ops::conv2d_backward_input(rec, &dy, &w, &xs, &grouped)).is_err());
    let zero_stride = Conv2d { stride: [0, 1], ..cfg };
    assert!(gpu.run(|rec| ops::conv2d_backward_weight(rec, &dy, &x, &ws, &zero_stride)).is_err());

    // Kernels asked for passes they do not compute are refused, not run.
    let e =
        gpu.run(|rec| ops::conv2d_backward_weight_with(rec, &dy, &x, &ws, &cfg, ConvKernel::Depthwise)).unwrap_err();
    assert!(e.to_string().contains("weight gradients of convs with one input channel per group"), "{e}");
    // Stride 4 over a 3x3 kernel: input rows no tap reaches, which the packed kernel's phases
    // do not write.
    let s4 = Conv2d { stride: [4, 4], ..cfg };
    let dy_s4 = Tensor::zeros(gpu, [1, 6, 2, 2]).unwrap();
    gpu.run(|rec| ops::conv2d_backward_input_with(rec, &dy_s4, &w, &xs, &s4, ConvKernel::Direct)).unwrap();
    let e = gpu.run(|rec| ops::conv2d_backward_input_with(rec, &dy_s4, &w, &xs, &s4, ConvKernel::Packed)).unwrap_err();
    assert!(e.to_string().contains("strides no larger than the kernel"), "{e}");

    // A fused activation is refused: its backward belongs to the graph.
    let relu = Conv2d { activation: Activation::Relu, ..cfg };
    let e = gpu.run(|rec| ops::conv2d_backward_input(rec, &dy, &w, &xs, &relu)).unwrap_err();
    assert!(e.to_string().contains("conv2d_backward_input"), "{e}");
    assert!(gpu.run(|rec| ops::conv2d_backward_weight(rec, &dy, &x, &ws, &relu)).is_err());

    // Wrong dtypes and ranks.
    let dy_u32 = Tensor::from_u32(gpu, [1, 6, 8, 8], &vec![0; 384]).unwrap();
    assert!(gpu.run(|rec| ops::conv2d_backward_input(rec, &dy_u32, &w, &xs, &cfg)).is_err());
    assert!(gpu.run(|rec| ops::conv2d_backward_bias(rec, &dy_u32)).is_err());
    let flat = Tensor::zeros(gpu, [6, 64]).unwrap();
    let e = gpu.run(|rec| ops::conv2d_backward_bias(rec, &flat)).unwrap_err();
    assert!(e.to_string().contains("conv2d_backward_bias"), "{e}");
}

#[test]
fn empty_batch_gives_zero_weight_and_bias_gradients() {
    let gpu = gpu_or_skip!();
    let cfg = Conv2d::same(1, 1);
    let x = Tensor::zeros(gpu, [0, 3, 5, 5]).unwrap();
    let w = Tensor::from_f32(gpu, [4, 3, 3, 3], &[1.0; 108]).unwrap();
    let dy = Tensor::zeros(gpu, [0, 4, 5, 5]).unwrap();
    let (dx, dw, db) = gpu
        .run(|rec| {
            let dx = ops::conv2d_backward_input(rec, &dy, &w, &[0, 3, 5, 5], &cfg)?;
            let dw = ops::conv2d_backward_weight(rec, &dy, &x, &[4, 3, 3, 3], &cfg)?;
            let db = ops::conv2d_backward_bias(rec, &dy)?;
            Ok((dx, dw, db))
        })
        .unwrap();
    assert_eq!(dx.dims(), &[0, 3, 5, 5]);
    check(gpu, "conv2d_backward_weight", "empty batch", &dw, &Array::zeros(vec![4, 3, 3, 3]), TOL);
    // Every input-gradient kernel on an empty batch (the packed one packs nothing).
    for kernel in [ConvKernel::Tiled, ConvKernel::Direct, ConvKernel::Packed] {
        let dx = gpu.run(|rec| ops::conv2d_backward_input_with(rec, &dy, &w, &[0, 3, 5, 5], &cfg, kernel)).unwrap();
        assert_eq!(dx.dims(), &[0, 3, 5, 5], "{kernel:?}");
    }
    check(gpu, "conv2d_backward_bias", "empty batch", &db, &Array::zeros(vec![4]), TOL);
}

#[test]
fn long_reductions() {
    // Split-K: one dispatch reduces at most 2048 (src/ops/gemm.rs, REDUCTION_CHUNK). Before the
    // split, lavapipe truncated long reductions (relative error ~1); the weight gradient failed
    // from a reduction of N*OH*OW = 16384 on.
    // Input gradient: K = C_out*KH*KW = 2304 * 9 = 20736.
    case(260, [1, 4, 3, 3], 2304, [3, 3], Conv2d::same(1, 1), "long K input 2304 out channels");
    case(261, [1, 6, 5, 5], 1200, [3, 3], Conv2d { groups: 2, ..Conv2d::same(1, 2) }, "long K input groups 2 s2");
    // Weight gradient: K = N*OH*OW = 4 * 160 * 160 = 102400 (16-invocation tile), and 51200 with
    // one input channel (the narrowest tile, 4 invocations).
    case(262, [4, 4, 160, 160], 4, [3, 3], Conv2d::same(1, 1), "long K weight batch 4 160x160");
    case(263, [2, 1, 160, 160], 4, [3, 3], Conv2d::same(1, 1), "long K weight 1 channel");
}

/// The direct kernel computes strided input gradients by phases (one stride-1 convolution per
/// residue of the input row and column modulo the stride): the shapes where that bookkeeping
/// can go wrong.
#[test]
fn strided_input_gradients_by_phase() {
    case(230, [1, 3, 30, 30], 8, [7, 7], Conv2d::same(3, 2), "stem 7x7 s2");
    case(231, [2, 6, 9, 9], 5, [1, 1], Conv2d { stride: [2, 2], ..Default::default() }, "1x1 s2: phases with no tap");
    case(
        232,
        [1, 4, 7, 6],
        3,
        [3, 3],
        Conv2d { stride: [2, 2], padding: [4, 3, 4, 3], ..Default::default() },
        "pad > kernel",
    );
    case(
        233,
        [1, 2, 2, 3],
        3,
        [3, 3],
        Conv2d { stride: [3, 3], padding: [1; 4], ..Default::default() },
        "input smaller than stride",
    );
}

/// The depthwise kernel's input gradient (stride 1, one channel in and out per group) on both
/// of its entries: 3-wide taps at column dilation 1 (the row entry) and the others; dilation,
/// one-sided padding, padding beyond the kernel's reach (dy read from an offset), batch 2.
#[test]
fn depthwise_input_gradients() {
    let dw = |groups, padding, dilation| Conv2d { groups, padding, dilation, ..Default::default() };
    case(290, [2, 5, 9, 10], 5, [3, 3], dw(5, [1; 4], [1, 1]), "dw 3x3 rows");
    case(291, [1, 6, 11, 9], 6, [3, 3], dw(6, [2, 0, 1, 2], [2, 2]), "dw 3x3 dilation 2 one-sided");
    case(292, [1, 4, 8, 13], 4, [5, 5], dw(4, [2, 2, 2, 2], [1, 1]), "dw 5x5");
    case(293, [2, 3, 7, 7], 3, [1, 3], dw(3, [0, 3, 0, 3], [1, 1]), "dw 1x3 padding 3 > reach 2");
    case(294, [1, 9, 12, 5], 9, [3, 1], dw(9, [1, 0, 1, 0], [3, 1]), "dw 3x1 dilation 3");
    // The 3x3 form (dy padded by 1 on the left): rows of whole vec4s, and padding 0 elsewhere.
    case(289, [1, 7, 6, 16], 7, [3, 3], dw(7, [1; 4], [1, 1]), "dw 3x3 16 wide");
    case(288, [2, 3, 9, 7], 3, [3, 3], dw(3, [1, 1, 0, 1], [1, 1]), "dw 3x3 one-sided");
    // Strided, by phases: MobileNet's 3x3 s2, EfficientNet's 5x5 s2 (phases of 3 and 2 taps),
    // stride 3 over odd sizes with one-sided padding, phases no tap reaches (stride above the
    // kernel), a stride in one direction only with padding beyond the kernel's reach.
    let strided = |groups, stride, padding| Conv2d { groups, stride, padding, ..Default::default() };
    case(295, [2, 4, 11, 10], 4, [3, 3], strided(4, [2, 2], [1; 4]), "dw 3x3 s2");
    case(296, [1, 3, 13, 12], 3, [5, 5], strided(3, [2, 2], [2; 4]), "dw 5x5 s2");
    case(297, [1, 5, 10, 7], 5, [3, 2], strided(5, [3, 2], [0, 1, 2, 0]), "dw 3x2 s3x2 one-sided");
    case(298, [1, 3, 11, 13], 3, [2, 2], strided(3, [3, 4], [0; 4]), "dw 2x2 s3x4: taps miss phases");
    case(299, [2, 2, 9, 8], 2, [3, 3], strided(2, [2, 1], [3, 1, 3, 1]), "dw 3x3 s2x1 padding 3");
    // 3x3 with one column of padding on the left and at most 2 rows on top: dy spread out and
    // one stride-1 conv (conv2d_depthwise_3x3); no top padding, stride 3 over odd sizes,
    // stride 2 in one direction only, 20 columns (whole vec4s of the 3x3 kernel's rows).
    case(286, [1, 3, 10, 9], 3, [3, 3], strided(3, [2, 2], [0, 1, 2, 1]), "dw 3x3 s2 no top padding");
    case(285, [2, 2, 13, 11], 2, [3, 3], strided(2, [3, 3], [2, 1, 0, 1]), "dw 3x3 s3 one-sided");
    case(284, [1, 5, 9, 20], 5, [3, 3], strided(5, [1, 2], [1; 4]), "dw 3x3 s1x2 20 wide");
    // 3x3 s2 with one row and column of padding on the top and left (295 above, odd sizes):
    // dx from dy directly (conv2d_depthwise_3x3_s2_dx); dy rows of whole vec4s and dx rows of 16,
    // MobileNet's 14 -> 7 (the scalar form: rows of 7 and 14), no padding on the bottom or
    // right, and a partial column block.
    case(283, [1, 6, 16, 16], 6, [3, 3], strided(6, [2, 2], [1; 4]), "dw 3x3 s2 16 wide");
    case(282, [2, 3, 14, 14], 3, [3, 3], strided(3, [2, 2], [1; 4]), "dw 3x3 s2 14 -> 7");
    case(281, [1, 4, 12, 20], 4, [3, 3], strided(4, [2, 2], [1, 1, 0, 0]), "dw 3x3 s2 top-left padding only");
    case(280, [1, 2, 5, 43], 2, [3, 3], strided(2, [2, 2], [1, 1, 2, 1]), "dw 3x3 s2 43 wide");
}

#[test]
fn the_depthwise_kernel_refuses_gradients_it_does_not_compute() {
    let gpu = gpu_or_skip!();
    for (x, cout, cfg) in [
        ([1, 4, 9, 9], 4, Conv2d { groups: 4, stride: [2, 2], dilation: [2, 2], ..Default::default() }),
        ([1, 4, 8, 8], 8, Conv2d { groups: 4, padding: [1; 4], ..Default::default() }),
    ] {
        let w_shape = [cout, 1, 3, 3];
        assert!(!ops::input_grad_kernels(&cfg, w_shape).contains(&ConvKernel::Depthwise));
        let w = Tensor::zeros(gpu, w_shape.to_vec()).unwrap();
        let dy = Tensor::zeros(gpu, cfg.output_shape(&x, &w_shape).unwrap().to_vec()).unwrap();
        let err =
            gpu.run(|rec| ops::conv2d_backward_input_with(rec, &dy, &w, &x, &cfg, ConvKernel::Depthwise)).unwrap_err();
        assert!(err.to_string().contains("depthwise"), "{err}");
    }
}

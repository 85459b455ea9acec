use featuremap::ops::{self, Activation, Conv2d, ConvKernel};
use featuremap::reference;
use rand::Rng;

use crate::common::{check, random_pair, rng, TOL};
use crate::gpu_or_skip;

/// Runs conv2d on random data of the given shapes and checks it against the reference.
fn case(seed: u64, x: [usize; 4], cout: usize, k: [usize; 2], cfg: Conv2d, bias: bool, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, &x);
    let (wa, wt) = random_pair(gpu, &mut r, &[cout, x[1] / cfg.groups, k[0], k[1]]);
    let (ba, bt) = random_pair(gpu, &mut r, &[cout]);
    let (ba, bt) = if bias { (Some(&ba), Some(&bt)) } else { (None, None) };
    let want = reference::conv2d(&xa, &wa, ba, &cfg);
    // Every kernel that applies on every case, whichever the adapter would pick.
    for kernel in ConvKernel::forward_kernels(x[1] / cfg.groups) {
        let y = gpu.run(|rec| ops::conv2d_with(rec, &xt, &wt, bt, &cfg, kernel)).unwrap();
        check(gpu, "conv2d", &format!("{name} {kernel:?} x={x:?} cout={cout} k={k:?} {cfg:?}"), &y, &want, TOL);
    }
}

#[test]
fn pointwise_1x1() {
    case(10, [2, 17, 5, 7], 33, [1, 1], Conv2d::default(), true, "1x1");
}

/// Inputs whose rows are whole vec4s, which the packed kernels' input packing reads 4 pixels at
/// a time (pack_input_vec4): batch 2, the second channel quad partial; unpadded, and padded
/// unevenly (rows of zeros above and below, columns of zeros on both sides).
#[test]
fn rows_of_whole_vec4s() {
    case(103, [2, 6, 8, 12], 20, [3, 3], Conv2d::default(), true, "3x3 unpadded 12 wide");
    let padded = Conv2d { padding: [2, 1, 1, 3], ..Default::default() };
    case(104, [2, 6, 8, 12], 20, [3, 3], padded, true, "3x3 padded 12 wide");
}

#[test]
fn stride_larger_than_kernel() {
    case(11, [1, 3, 11, 13], 5, [2, 2], Conv2d { stride: [3, 4], ..Default::default() }, true, "stride>kernel");
}

#[test]
fn padding_on_one_side_only() {
    case(12, [1, 5, 9, 8], 4, [3, 3], Conv2d { padding: [2, 0, 0, 1], ..Default::default() }, true, "pad top/right");
    case(13, [1, 5, 9, 8], 4, [3, 2], Conv2d { padding: [0, 3, 1, 0], ..Default::default() }, false, "pad left/bottom");
}

#[test]
fn dilation_2_and_3() {
    case(
        14,
        [1, 3, 15, 14],
        6,
        [3, 3],
        Conv2d { dilation: [2, 2], padding: [2; 4], ..Default::default() },
        true,
        "dil2",
    );
    case(
        15,
        [2, 5, 16, 13],
        7,
        [3, 2],
        Conv2d { dilation: [3, 2], stride: [2, 1], ..Default::default() },
        true,
        "dil3x2",
    );
}

#[test]
fn groups_2_and_depthwise() {
    case(16, [2, 6, 9, 9], 10, [3, 3], Conv2d { groups: 2, padding: [1; 4], ..Default::default() }, true, "groups2");
    case(
        17,
        [1, 17, 10, 11],
        17,
        [3, 3],
        Conv2d { groups: 17, padding: [1; 4], ..Default::default() },
        true,
        "depthwise",
    );
    case(
        18,
        [2, 8, 12, 12],
        16,
        [5, 5],
        Conv2d { groups: 8, stride: [2, 2], padding: [2; 4], ..Default::default() },
        false,
        "depthwise x2 s2",
    );
    // The depthwise kernel's row entry (3-wide taps, column stride 1): rows not a multiple of
    // 8 wide, a row stride, a 5-tall kernel, a channel multiplier, asymmetric padding.
    case(
        19,
        [2, 6, 11, 21],
        12,
        [5, 3],
        Conv2d { groups: 6, stride: [2, 1], padding: [2, 1, 1, 0], ..Default::default() },
        true,
        "depthwise rows s2x1 k5x3",
    );
}

/// The depthwise kernel's 3x3 form (stride and dilation 1, one column of padding on the left;
/// R = 8 rows by 8 columns per invocation): row and column blocks cut short, rows of whole
/// vec4s (read as vec4s) and others (the scalar form, conv2d_depthwise_3x3_scalar), a channel
/// multiplier, padding on the other sides from 0 to 2, an activation.
#[test]
fn depthwise_3x3_form() {
    let dw = |groups, padding| Conv2d { groups, padding, activation: Activation::RELU6, ..Default::default() };
    case(24, [2, 6, 9, 12], 6, [3, 3], dw(6, [1; 4]), true, "dw 3x3 12 wide");
    case(25, [1, 4, 7, 7], 8, [3, 3], dw(4, [1; 4]), true, "dw 3x3 x2 7 wide");
    case(26, [1, 3, 6, 8], 3, [3, 3], dw(3, [0, 1, 2, 0]), false, "dw 3x3 pad 0/1/2/0");
    case(27, [2, 5, 13, 18], 5, [3, 3], dw(5, [2, 1, 0, 2]), true, "dw 3x3 pad 2/1/0/2");
}

/// The depthwise 3x3 form at stride 2 (`conv2d_depthwise_3x3_s2`: 2R + 1 input rows of 5 vec4s
/// per block, even and odd columns taken apart): output rows of whole vec4s, odd input and
/// output rows in the scalar form, a channel multiplier, a partial second column block,
/// padding on the other sides from 0 to 2, an activation.
#[test]
fn depthwise_3x3_stride_2_form() {
    let dw = |groups, padding| Conv2d {
        groups,
        padding,
        stride: [2, 2],
        activation: Activation::RELU6,
        ..Default::default()
    };
    case(90, [2, 6, 12, 16], 6, [3, 3], dw(6, [1; 4]), true, "dw 3x3 s2 16 wide");
    case(91, [1, 4, 13, 14], 8, [3, 3], dw(4, [1; 4]), true, "dw 3x3 s2 x2 14 wide");
    case(92, [1, 3, 9, 20], 3, [3, 3], dw(3, [0, 1, 2, 0]), false, "dw 3x3 s2 pad 0/1/2/0");
    case(93, [2, 5, 11, 35], 5, [3, 3], dw(5, [2, 1, 0, 2]), true, "dw 3x3 s2 pad 2/1/0/2");
    // 11 output rows: a whole block of R = 8 and a partial one.
    case(102, [1, 3, 21, 16], 3, [3, 3], dw(3, [1; 4]), true, "dw 3x3 s2 two row blocks");
    // Strides that differ between the directions take the generic kernel.
    let s21 = Conv2d { stride: [2, 1], ..dw(4, [1; 4]) };
    case(96, [1, 4, 9, 12], 4, [3, 3], s21, true, "dw 3x3 s2x1");
    let s12 = Conv2d { stride: [1, 2], ..dw(4, [1; 4]) };
    case(97, [1, 4, 9, 12], 4, [3, 3], s12, true, "dw 3x3 s1x2");
}

#[test]
fn batch_3_and_odd_channel_counts() {
    for (i, cin) in [1usize, 3, 5, 17].into_iter().enumerate() {
        case(
            20 + i as u64,
            [3, cin, 7, 9],
            [1, 3, 5, 17][(i + 1) % 4],
            [3, 3],
            Conv2d::same(1, 1),
            true,
            "odd channels",
        );
    }
}

#[test]
fn fused_activations() {
    for (i, act) in
        [Activation::Relu, Activation::RELU6, Activation::Silu, Activation::HardSwish, Activation::LeakyRelu(0.2)]
            .into_iter()
            .enumerate()
    {
        case(
            30 + i as u64,
            [1, 4, 6, 5],
            70,
            [3, 3],
            Conv2d { activation: act, ..Conv2d::same(1, 1) },
            true,
            act.name(),
        );
    }
}

#[test]
fn stem_224x224() {
    // ResNet's first layer: 3 -> 64 channels, 7x7, stride 2, padding 3.
    case(40, [1, 3, 224, 224], 64, [7, 7], Conv2d::same(3, 2), false, "stem");
}

#[test]
fn random_shapes() {
    // Property-style: seeded random configurations, each checked against the reference.
    let mut r = rng(50);
    for i in 0..24 {
        let groups = [1, 1, 1, 2, 3][r.random_range(0..5)];
        let cin = groups * r.random_range(1..7);
        let cout = groups * r.random_range(1..9);
        let k = [r.random_range(1..5), r.random_range(1..5)];
        let dilation = [r.random_range(1..3), r.random_range(1..3)];
        let padding = [r.random_range(0..3), r.random_range(0..3), r.random_range(0..3), r.random_range(0..3)];
        let stride = [r.random_range(1..4), r.random_range(1..4)];
        let hw = [r.random_range(dilation[0] * (k[0] - 1) + 1..16), r.random_range(dilation[1] * (k[1] - 1) + 1..16)];
        let cfg = Conv2d { stride, padding, dilation, groups, activation: Activation::None };
        case(100 + i, [r.random_range(1..4), cin, hw[0], hw[1]], cout, k, cfg, r.random_bool(0.5), "random");
    }
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let x = featuremap::Tensor::zeros(gpu, [1, 4, 8, 8]).unwrap();
    let w = featuremap::Tensor::zeros(gpu, [8, 3, 3, 3]).unwrap();
    let err = gpu.run(|rec| ops::conv2d(rec, &x, &w, None, &Conv2d::default())).unwrap_err();
    assert!(err.to_string().contains("conv2d"), "{err}");
    let w = featuremap::Tensor::zeros(gpu, [8, 4, 9, 9]).unwrap();
    assert!(gpu.run(|rec| ops::conv2d(rec, &x, &w, None, &Conv2d::default())).is_err());
}

#[test]
fn long_reduction() {
    // Split-K: one dispatch reduces at most 2048 of C_in/groups*KH*KW (src/ops/gemm.rs,
    // REDUCTION_CHUNK); before the split, lavapipe truncated reductions this long (relative
    // error ~1). Bias and activation must be applied once, after the last slice.
    let relu = Conv2d { activation: Activation::Relu, ..Conv2d::same(1, 1) };
    // K = 2304 * 9 = 20736, 11 slices, 4-row tiles of 32 invocations.
    case(60, [1, 2304, 3, 3], 8, [3, 3], relu, true, "long K 2304 channels 3x3");
    // 64-row tiles, a stride, no activation.
    case(61, [1, 2304, 4, 4], 70, [3, 3], Conv2d::same(1, 2), true, "long K 70 out s2");
    // Two groups of K = 512 * 9 = 4608 (3 slices, the last partial), LeakyReLU.
    let grouped = Conv2d { groups: 2, activation: Activation::LeakyRelu(0.2), ..Conv2d::same(1, 1) };
    case(62, [2, 1024, 3, 4], 20, [3, 3], grouped, true, "long K groups 2");
    // 1x1 (the direct kernel's pointwise entry): 4100 channels, 3 slices of at most 2048.
    let relu = Conv2d { activation: Activation::Relu, ..Default::default() };
    case(63, [2, 4100, 2, 3], 9, [1, 1], relu, true, "long K 1x1");
}

/// The packed kernel's 1x1 form (1x1 without padding, planes read as vec4s): blocks of pixels
/// and of channels cut short (36-pixel planes, 33 output channels), channels left over after
/// the quads, two images, groups, split-K; strided and odd planes, which it reads from a copy
/// (`pointwise_1x1` above has 35-pixel planes: padded to 36 and cropped back); with more than
/// 16 output channels per group and subgroups of 8 (lavapipe) its subgroup form.
#[test]
fn packed_1x1_form() {
    case(64, [2, 17, 6, 6], 33, [1, 1], Conv2d::default(), true, "1x1 36-pixel planes");
    case(65, [1, 12, 4, 8], 20, [1, 1], Conv2d { groups: 2, ..Default::default() }, true, "1x1 groups 2");
    // Slices of 2048, 2048 and 6 channels: the last one a quad and two channels.
    let relu = Conv2d { activation: Activation::Relu, ..Default::default() };
    case(66, [1, 4102, 2, 2], 9, [1, 1], relu, true, "1x1 long K");
    // Strided: every stride-th pixel copied out (two strides; 4 x 3 output planes).
    case(67, [2, 10, 7, 9], 24, [1, 1], Conv2d { stride: [2, 3], ..Default::default() }, true, "1x1 s2x3");
    // Strided with planes of 3 x 5 pixels: copied out and padded to 16 in one pass.
    case(68, [1, 9, 5, 9], 17, [1, 1], Conv2d { stride: [2, 2], ..Default::default() }, true, "1x1 s2 15 pixels");
    // The subgroup form (more than 16 output channels per group, subgroups of 8): 3 images of
    // 4 blocks of 8 pixels (the last one of each image cut short), 12 lanes of 16 busy, 40
    // output channels (a block of 32 and one of 8), a residual-free ReLU6.
    let relu6 = Conv2d { activation: Activation::RELU6, ..Default::default() };
    case(69, [3, 8, 5, 5], 40, [1, 1], relu6, true, "1x1 subgroup form 25-pixel planes");
    // The subgroup form split-K on 9-pixel planes (padded to 12, cropped back after the last
    // slice).
    case(105, [1, 4102, 3, 3], 40, [1, 1], relu, true, "1x1 subgroup form long K 9-pixel planes");
}

/// The packed kernel's GEMM form over im2col planes (fewer than 4 input channels per group):
/// a 7x7 stem at stride 2 with its padding (the rows form's 7x7 entry where the device has
/// subgroups of 8, as on lavapipe), dilation with padding on one side, groups of 3
/// channels, a 3x3 stride-2 stem on planes cut short (5 x 4 output pixels), 2 channels, 1x1
/// windows with padding on the bottom or right only.
#[test]
fn packed_gemm_form() {
    let relu = |cfg: Conv2d| Conv2d { activation: Activation::Relu, ..cfg };
    case(28, [2, 3, 17, 15], 16, [7, 7], relu(Conv2d::same(3, 2)), true, "stem 7x7 s2");
    let dil = Conv2d { dilation: [2, 3], padding: [2, 0, 1, 3], ..Default::default() };
    case(29, [1, 2, 11, 12], 9, [3, 3], dil, false, "3x3 dilation 2x3 one-sided padding");
    case(30, [1, 6, 9, 8], 20, [3, 3], Conv2d { groups: 2, ..Conv2d::same(1, 1) }, true, "3x3 groups of 3");
    case(31, [1, 3, 9, 7], 32, [3, 3], Conv2d::same(1, 2), true, "stem 3x3 s2 20 pixels");
    // 1x1 over 3 channels with padding on the bottom or right only: a plain window whose
    // output planes are larger than x's (30 pixels, padded to 32; 16, whole vec4s).
    let bottom = Conv2d { padding: [0, 0, 1, 0], ..Default::default() };
    case(94, [1, 3, 5, 5], 8, [1, 1], bottom, true, "1x1 bottom padding 30 pixels");
    let right = Conv2d { padding: [0, 0, 0, 1], ..Default::default() };
    case(95, [2, 3, 4, 3], 8, [1, 1], right, true, "1x1 right padding 16 pixels");
}

/// The packed kernel's rows form (conv2d_packed_rows: kernels 3 taps wide at stride 1 or 2, 7
/// wide at stride 2 and 2 or 1 wide at stride 1 along the rows, dilation 1 there; lanes of 8
/// columns of an output row, subgroups of 8 lanes sharing 32 output channels; taken for more
/// than 16 output channels per group): rows cut short (13 and 6 columns), lanes past the last
/// block (20 blocks: 24 lanes), channel blocks cut short (40 and 21 output channels), other
/// kernel heights, a row stride and a row dilation, groups, a ReLU6 epilogue, the stride-2,
/// 2-wide and 1-wide entries. The long-reduction and residual cases above take it too
/// (split-K, residual).
#[test]
fn packed_rows_form() {
    // Rows of 13 columns take the blocks of 7 (14 columns computed, where blocks of 8 compute
    // 16), rows of 16 the blocks of 8.
    case(80, [2, 8, 5, 13], 40, [3, 3], Conv2d::same(1, 1), true, "rows 13 wide 40 out");
    case(100, [1, 6, 5, 16], 36, [3, 3], Conv2d::same(1, 1), true, "rows 16 wide");
    let pad = Conv2d { padding: [2, 1, 2, 1], ..Default::default() };
    case(81, [1, 4, 3, 6], 21, [5, 3], pad, false, "rows 5x3 6 wide");
    let s21 = Conv2d { stride: [2, 1], ..Conv2d::same(1, 1) };
    case(82, [1, 6, 9, 10], 33, [3, 3], s21, true, "rows stride 2x1");
    let d21 = Conv2d { dilation: [2, 1], padding: [2, 1, 2, 1], ..Default::default() };
    case(83, [1, 5, 9, 9], 23, [3, 3], d21, true, "rows dilation 2x1");
    let g2 = Conv2d { groups: 2, activation: Activation::RELU6, ..Conv2d::same(1, 1) };
    case(84, [2, 16, 6, 9], 64, [3, 3], g2, true, "rows groups 2 relu6");
    case(85, [1, 4, 4, 3], 19, [1, 3], Conv2d { padding: [0, 1, 0, 1], ..Default::default() }, true, "rows 1x3 3 wide");
    // Its stride-2 entries: 3x3 (rows written out; 7 and 9 output columns in blocks of 7, 8 in
    // blocks of 8, padding on one side), 5x3 (the loop over kernel rows) and 7x7.
    let s2_5x3 = Conv2d { stride: [2, 2], padding: [2, 1, 2, 1], ..Default::default() };
    case(99, [1, 5, 11, 13], 20, [5, 3], s2_5x3, true, "rows 5x3 s2");
    case(101, [1, 5, 7, 16], 20, [3, 3], Conv2d::same(1, 2), true, "rows 3x3 s2 8 out");
    case(86, [2, 6, 9, 13], 36, [3, 3], Conv2d::same(1, 2), true, "rows 3x3 s2 13 wide");
    let s2_one_side = Conv2d { stride: [2, 2], padding: [0, 0, 1, 1], ..Default::default() };
    case(87, [1, 5, 8, 18], 25, [3, 3], s2_one_side, false, "rows 3x3 s2 pad bottom/right");
    let relu = Conv2d { activation: Activation::Relu, ..Conv2d::same(3, 2) };
    case(88, [1, 5, 21, 19], 33, [7, 7], relu, true, "rows 7x7 s2");
    // Its 2- and 1-wide entries at stride 1.
    case(89, [2, 5, 7, 9], 34, [3, 2], Conv2d { padding: [1, 1, 1, 0], ..Default::default() }, true, "rows 3x2");
    case(98, [1, 6, 5, 11], 35, [3, 1], Conv2d { padding: [1, 0, 1, 0], ..Default::default() }, false, "rows 3x1");
}

/// Lavapipe at 256 bits (CI's adapter) has subgroups of 8: the size conv2d_packed_rows is
/// written for, so the cases above run it there rather than falling back to conv2d_packed. At
/// 128 bits (`make test` runs these tests a second time so) it has subgroups of 4, and the
/// same cases take conv2d_packed_rows_sg4, generated for them.
#[test]
fn lavapipe_runs_the_packed_rows_form() {
    let gpu = gpu_or_skip!();
    let name = &gpu.adapter().name;
    if name.contains("llvmpipe") && name.contains("256 bits") {
        assert_eq!(gpu.subgroup_size(), Some(8), "{name}");
    }
    if name.contains("llvmpipe") && std::env::var("LP_NATIVE_VECTOR_WIDTH").is_ok_and(|v| v == "128") {
        assert!(name.contains("128 bits"), "{name}");
        assert_eq!(gpu.subgroup_size(), Some(4), "{name}");
    }
}

/// conv2d with a residual added in the epilogue, on both kernels: `act(conv(x) + b + r)`.
fn residual_case(seed: u64, x: [usize; 4], cout: usize, k: [usize; 2], cfg: Conv2d, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, &x);
    let (wa, wt) = random_pair(gpu, &mut r, &[cout, x[1] / cfg.groups, k[0], k[1]]);
    let (ba, bt) = random_pair(gpu, &mut r, &[cout]);
    let plain = Conv2d { activation: Activation::None, ..cfg };
    let conv = reference::conv2d(&xa, &wa, Some(&ba), &plain);
    let (ra, rt) = random_pair(gpu, &mut r, &conv.shape);
    let want = reference::activation(&reference::binary(&conv, &ra, ops::BinaryOp::Add), cfg.activation);
    for kernel in ConvKernel::forward_kernels(x[1] / cfg.groups) {
        let y = gpu.run(|rec| ops::conv2d_residual(rec, &xt, &wt, Some(&bt), &rt, &cfg, Some(kernel))).unwrap();
        check(gpu, "conv2d_residual", &format!("{name} {kernel:?} x={x:?} cout={cout} {cfg:?}"), &y, &want, TOL);
    }
}

#[test]
fn residual_added_before_the_activation() {
    let relu = Conv2d { activation: Activation::Relu, ..Conv2d::same(1, 1) };
    residual_case(70, [2, 5, 7, 9], 19, [3, 3], relu, "3x3 relu");
    residual_case(71, [1, 6, 8, 8], 6, [1, 1], Conv2d { stride: [2, 2], ..Default::default() }, "1x1 s2 no act");
    let leaky = Conv2d { activation: Activation::LeakyRelu(0.1), ..Default::default() };
    residual_case(74, [2, 6, 4, 6], 18, [1, 1], leaky, "1x1 (packed 1x1 form)");
    // The packed 1x1 form on 25-pixel planes: the residual copied to padded planes.
    residual_case(75, [2, 6, 5, 5], 18, [1, 1], leaky, "1x1 25 pixels");
    // Split-K (K = 2304 * 9, 11 slices): the residual is added once, after the last slice.
    residual_case(72, [1, 2304, 3, 3], 8, [3, 3], relu, "long K");
    // Depthwise (all three kernels) with a channel multiplier, dilation, asymmetric padding.
    let dw = Conv2d {
        groups: 12,
        dilation: [2, 1],
        padding: [2, 1, 1, 0],
        activation: Activation::RELU6,
        ..Default::default()
    };
    residual_case(73, [2, 12, 9, 10], 24, [3, 3], dw, "depthwise x2 dilated");
    // The depthwise 3x3 form on 10-wide rows: the scalar form reads the residual's rows.
    let dw3 = Conv2d { groups: 5, padding: [1; 4], activation: Activation::Relu, ..Default::default() };
    residual_case(76, [2, 5, 6, 10], 5, [3, 3], dw3, "depthwise 3x3 10 wide");
    // The same at stride 2 (5 x 6 outputs).
    let dw3s2 = Conv2d { stride: [2, 2], ..dw3 };
    residual_case(77, [2, 5, 10, 12], 5, [3, 3], dw3s2, "depthwise 3x3 s2 12 wide");
}

#[test]
fn a_residual_of_another_shape_is_an_error() {
    let gpu = gpu_or_skip!();
    let x = featuremap::Tensor::zeros(gpu, [1, 4, 8, 8]).unwrap();
    let w = featuremap::Tensor::zeros(gpu, [8, 4, 3, 3]).unwrap();
    let r = featuremap::Tensor::zeros(gpu, [1, 8, 8, 8]).unwrap();
    let err = gpu.run(|rec| ops::conv2d_residual(rec, &x, &w, None, &r, &Conv2d::default(), None)).unwrap_err();
    assert!(err.to_string().contains("residual"), "{err}");
}

/// Every tile shape of the tiled kernel against the reference: odd sizes and channel counts
/// (partial tiles in both directions), groups, stride with dilation and one-sided padding, 1x1,
/// a split reduction (slices of 2048, 2048 and 593, so the double-buffered K loop starts
/// mid-way and its last step is partial), batch 2, bias and an activation.
#[test]
fn every_tile_shape() {
    let gpu = gpu_or_skip!();
    let leaky = Conv2d { activation: Activation::LeakyRelu(0.1), ..Conv2d::same(1, 1) };
    let strided = Conv2d { stride: [2, 1], padding: [0, 2, 1, 0], dilation: [2, 1], ..Default::default() };
    let grouped = Conv2d { groups: 3, ..Conv2d::same(1, 1) };
    type Case = ([usize; 4], usize, [usize; 2], Conv2d, &'static str);
    let cases: [Case; 5] = [
        ([2, 17, 9, 7], 33, [3, 3], leaky, "odd sizes"),
        ([1, 6, 11, 10], 150, [3, 2], strided, "stride, dilation, one-sided padding"),
        ([2, 9, 5, 6], 21, [3, 3], grouped, "groups 3"),
        ([1, 13, 4, 5], 129, [1, 1], Conv2d::default(), "1x1"),
        ([1, 521, 3, 3], 70, [3, 3], Conv2d::same(1, 1), "K 4689 in 3 slices"),
    ];
    let mut r = rng(70);
    for (x, cout, k, cfg, name) in cases {
        let (xa, xt) = random_pair(gpu, &mut r, &x);
        let (wa, wt) = random_pair(gpu, &mut r, &[cout, x[1] / cfg.groups, k[0], k[1]]);
        let (ba, bt) = random_pair(gpu, &mut r, &[cout]);
        let want = reference::conv2d(&xa, &wa, Some(&ba), &cfg);
        for tile in ops::TileShape::ALL {
            if tile.check(gpu).is_err() {
                eprintln!("tile {} does not fit this device: not run", tile.name);
                continue;
            }
            let y = gpu.run(|rec| ops::conv2d_tiled(rec, &xt, &wt, Some(&bt), &cfg, tile)).unwrap();
            check(gpu, "conv2d tiled", &format!("{name} tile {} x={x:?} cout={cout}", tile.name), &y, &want, TOL);
        }
    }
}

#[test]
fn a_tile_shape_the_kernel_cannot_run_is_an_error() {
    let gpu = gpu_or_skip!();
    let x = featuremap::Tensor::zeros(gpu, [1, 4, 5, 5]).unwrap();
    let w = featuremap::Tensor::zeros(gpu, [8, 4, 3, 3]).unwrap();
    // 32 x 2 invocations of 4 x 4 blocks over 8 x 128: the input tile's 128 columns outnumber
    // the 64 invocations that gather them.
    let bad = ops::TileShape { name: "8x128/4x4", bm: 8, bn: 128, tm: 4, tn: 4 };
    let err = gpu.run(|rec| ops::conv2d_tiled(rec, &x, &w, None, &Conv2d::same(1, 1), bad)).unwrap_err();
    assert!(err.to_string().contains("8x128/4x4"), "{err}");
    let too_big = ops::TileShape { name: "64x64/16x4", bm: 64, bn: 64, tm: 16, tn: 4 };
    assert!(gpu.run(|rec| ops::conv2d_tiled(rec, &x, &w, None, &Conv2d::same(1, 1), too_big)).is_err());
}

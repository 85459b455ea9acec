use featuremap::ops::{self, ConvTranspose2d};
use featuremap::reference::{self, Array};
use featuremap::Tensor;
use rand::Rng;

use crate::common::{check, random_pair, rng, TOL};
use crate::gpu_or_skip;

/// One transposed convolution on random data: input `[n, cin, h, w]`, `cout` output channels,
/// kernel `k`, checked against the reference.
#[allow(clippy::too_many_arguments)]
fn case(seed: u64, x: [usize; 4], cout: usize, k: [usize; 2], cfg: ConvTranspose2d, bias: bool, name: &str) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (xa, xt) = random_pair(gpu, &mut r, &x);
    let (wa, wt) = random_pair(gpu, &mut r, &[x[1], cout / cfg.groups, k[0], k[1]]);
    let (ba, bt) = random_pair(gpu, &mut r, &[cout]);
    let y = gpu.run(|rec| ops::conv_transpose2d(rec, &xt, &wt, bias.then_some(&bt), &cfg)).unwrap();
    let want = reference::conv_transpose2d(&xa, &wa, bias.then_some(&ba), &cfg);
    check(gpu, "conv_transpose2d", &format!("{name} x={x:?} cout={cout} k={k:?} {cfg:?} bias={bias}"), &y, &want, TOL);
}

fn cfg(stride: usize, pad: [usize; 4], out_pad: [usize; 2], dil: usize, groups: usize) -> ConvTranspose2d {
    ConvTranspose2d { stride: [stride; 2], padding: pad, output_padding: out_pad, dilation: [dil; 2], groups }
}

#[test]
fn upsampling_decoder_layers() {
    case(1800, [2, 5, 6, 7], 4, [4, 4], cfg(2, [1; 4], [0, 0], 1, 1), true, "stride 2 k4 p1 (x2)");
    case(1801, [1, 3, 5, 5], 6, [3, 3], cfg(2, [1; 4], [1, 1], 1, 1), true, "stride 2 k3 p1 op1");
    case(1802, [1, 4, 4, 3], 3, [2, 2], cfg(2, [0; 4], [0, 0], 1, 1), false, "stride 2 k2 (pixel scatter)");
    case(1803, [2, 3, 5, 6], 5, [3, 3], cfg(1, [1; 4], [0, 0], 1, 1), true, "stride 1 same");
}

#[test]
fn groups_dilation_output_padding() {
    case(1810, [2, 4, 5, 6], 6, [3, 3], cfg(2, [1; 4], [1, 1], 2, 2), true, "stride 2 op 1 groups 2 dil 2");
    case(1811, [1, 6, 4, 5], 6, [3, 3], cfg(1, [1; 4], [0, 0], 1, 6), true, "depthwise");
    case(1812, [1, 3, 4, 4], 5, [3, 2], cfg(3, [2, 0, 1, 1], [2, 1], 1, 1), true, "asym pad stride 3 op 2");
    case(1813, [1, 2, 3, 4], 4, [2, 3], cfg(1, [0; 4], [1, 0], 2, 1), false, "op >= stride (op < dil)");
    case(1814, [2, 17, 3, 3], 9, [1, 1], cfg(1, [0; 4], [0, 0], 1, 1), true, "1x1 odd channels");
    case(1815, [1, 8, 3, 3], 4, [3, 3], cfg(2, [0; 4], [0, 0], 1, 4), true, "groups 4");
}

#[test]
fn rectangular_strides_and_dilations() {
    let c =
        ConvTranspose2d { stride: [2, 3], padding: [1, 0, 0, 2], output_padding: [1, 2], dilation: [1, 2], groups: 1 };
    case(1820, [1, 3, 4, 5], 4, [3, 2], c, true, "rect");
    let c = ConvTranspose2d { stride: [1, 2], padding: [0; 4], output_padding: [0, 1], dilation: [3, 1], groups: 1 };
    case(1821, [2, 2, 5, 3], 3, [2, 3], c, true, "rect 2");
}

#[test]
fn known_values() {
    // 1 channel, x = [[1, 2]], w = [[1, 10]], stride 2: y = [1, 10, 2, 20] plus bias 0.5.
    let gpu = gpu_or_skip!();
    let x = Tensor::from_f32(gpu, [1, 1, 1, 2], &[1.0, 2.0]).unwrap();
    let w = Tensor::from_f32(gpu, [1, 1, 1, 2], &[1.0, 10.0]).unwrap();
    let b = Tensor::from_f32(gpu, [1], &[0.5]).unwrap();
    let c = cfg(2, [0; 4], [0, 0], 1, 1);
    let y = gpu.run(|rec| ops::conv_transpose2d(rec, &x, &w, Some(&b), &c)).unwrap();
    check(gpu, "conv_transpose2d", "known values", &y, &Array::new(vec![1, 1, 1, 4], vec![1.5, 10.5, 2.5, 20.5]), TOL);
    assert_eq!(c.output_shape(&[1, 1, 7, 7], &[1, 3, 4, 4]).unwrap(), [1, 3, 16, 16]);
    assert_eq!(cfg(2, [1; 4], [1, 1], 1, 1).output_shape(&[1, 1, 7, 7], &[1, 3, 3, 3]).unwrap(), [1, 3, 14, 14]);
}

#[test]
fn random_shapes() {
    let mut r = rng(1830);
    for i in 0..14 {
        let groups = [1, 1, 2, 3][r.random_range(0..4)];
        let cin = groups * r.random_range(1..4);
        let cout = groups * r.random_range(1..4);
        let k = [r.random_range(1..4), r.random_range(1..4)];
        let stride = [r.random_range(1..4), r.random_range(1..4)];
        let dilation = [r.random_range(1..3), r.random_range(1..3)];
        let padding =
            [r.random_range(0..k[0]), r.random_range(0..k[1]), r.random_range(0..k[0]), r.random_range(0..k[1])];
        let output_padding =
            [r.random_range(0..stride[0].max(dilation[0])), r.random_range(0..stride[1].max(dilation[1]))];
        let c = ConvTranspose2d { stride, padding, output_padding, dilation, groups };
        let x = [r.random_range(1..3), cin, r.random_range(1..7), r.random_range(1..7)];
        if c.output_shape(&x, &[cin, cout / groups, k[0], k[1]]).is_err() {
            continue; // padding cropped everything
        }
        case(1840 + i, x, cout, k, c, r.random_bool(0.5), "random");
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let gpu = gpu_or_skip!();
    let x = Tensor::zeros(gpu, [1, 4, 3, 3]).unwrap();
    let w = Tensor::zeros(gpu, [4, 2, 3, 3]).unwrap();
    let ok = cfg(2, [1; 4], [0, 0], 1, 1);
    let run = |x: &Tensor, w: &Tensor, b: Option<&Tensor>, c: ConvTranspose2d| {
        gpu.run(|rec| ops::conv_transpose2d(rec, x, w, b, &c))
    };
    assert!(run(&x, &w, None, ok).is_ok());
    let err = run(&x, &Tensor::zeros(gpu, [3, 2, 3, 3]).unwrap(), None, ok).unwrap_err();
    assert!(err.to_string().contains("conv_transpose2d"), "{err}");
    assert!(run(&x, &w, None, cfg(2, [1; 4], [0, 0], 1, 3)).is_err()); // 4 channels, 3 groups
    assert!(run(&x, &w, None, cfg(0, [1; 4], [0, 0], 1, 1)).is_err());
    assert!(run(&x, &w, None, cfg(1, [1; 4], [0, 0], 0, 1)).is_err());
    assert!(run(&x, &w, None, cfg(1, [1; 4], [0, 0], 1, 0)).is_err());
    assert!(run(&x, &w, None, cfg(1, [3, 0, 3, 0], [0, 0], 1, 1)).is_err()); // crops all 5 rows
    assert!(run(&x, &w, None, cfg(1, [usize::MAX, 0, 0, 0], [0, 0], 1, 1)).is_err());
    assert!(run(&x, &w, Some(&Tensor::zeros(gpu, [3]).unwrap()), ok).is_err());
    assert!(run(&x, &w, Some(&Tensor::zeros(gpu, [1, 2]).unwrap()), ok).is_err());
    assert!(run(&Tensor::zeros(gpu, [4, 3, 3]).unwrap(), &w, None, ok).is_err());
    assert!(run(&x, &Tensor::zeros(gpu, [4, 2, 0, 3]).unwrap(), None, ok).is_err());
    assert!(run(&Tensor::zeros(gpu, [1, 4, 0, 3]).unwrap(), &w, None, ok).is_err());
    let idx = Tensor::from_u32(gpu, [4, 2, 3, 3], &[0; 72]).unwrap();
    assert!(run(&x, &idx, None, ok).is_err());
}

#[test]
fn long_reduction() {
    // The conv2d_backward_input kernel reduces over C_in/groups*KH*KW = 2304 * 9 = 20736 here,
    // split into slices of at most 2048 (src/ops/gemm.rs, REDUCTION_CHUNK); before the split,
    // lavapipe truncated it (relative error ~1). The bias is added after the last slice.
    case(1860, [1, 2304, 2, 2], 3, [3, 3], cfg(2, [1; 4], [1, 1], 1, 1), true, "long K 2304 channels");
    case(1861, [1, 2400, 2, 3], 4, [3, 3], cfg(1, [0; 4], [0, 0], 1, 2), true, "long K groups 2");
}

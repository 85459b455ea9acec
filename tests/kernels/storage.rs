//! f16 storage: every kernel with an f16 variant against the f64 reference, on inputs rounded
//! to f16 on the host so that the reference sees exactly the values the kernel reads.
//!
//! The bound: the kernels widen to f32, sum in f32 and round only the result to f16, whose
//! relative error is at most 2^-11 = 4.9e-4 per element; f32 sums add ~1e-6. So the relative
//! L2 error of a result must stay under [`F16_TOL`], the same bound for every kernel.

use featuremap::ops::{self, Activation, BinaryOp, Conv2d, ConvKernel, Pool2d};
use featuremap::reference::{self, Array};
use featuremap::{DType, Gpu, Tensor};
use rand::rngs::StdRng;

use crate::common::{check, f16_gpu, random_pair, random_vec, rng};

const F16_TOL: f64 = 5e-4;

/// Random values rounded to f16: the reference's copy and an f16 tensor of the same values.
fn half_pair(gpu: &Gpu, r: &mut StdRng, shape: &[usize]) -> (Array, Tensor) {
    let v: Vec<f32> = random_vec(r, shape.iter().product()).iter().map(|&x| half::f16::from_f32(x).to_f32()).collect();
    (Array::from_f32(shape.to_vec(), &v), Tensor::from_f32_as_f16(gpu, shape.to_vec(), &v).unwrap())
}

fn conv_case(seed: u64, x: [usize; 4], cout: usize, k: [usize; 2], cfg: Conv2d, residual: bool, name: &str) {
    let Some(gpu) = f16_gpu() else { return };
    let mut r = rng(seed);
    let (xa, xt) = half_pair(gpu, &mut r, &x);
    let (wa, wt) = half_pair(gpu, &mut r, &[cout, x[1] / cfg.groups, k[0], k[1]]);
    let (ba, bt) = random_pair(gpu, &mut r, &[cout]); // bias stays f32
    let plain = Conv2d { activation: Activation::None, ..cfg };
    let mut want = reference::conv2d(&xa, &wa, Some(&ba), &plain);
    let res = residual.then(|| half_pair(gpu, &mut r, &want.shape));
    if let Some((ra, _)) = &res {
        want = reference::binary(&want, ra, BinaryOp::Add);
    }
    let want = reference::activation(&want, cfg.activation);
    for kernel in ConvKernel::forward_kernels(x[1] / cfg.groups) {
        let y = gpu
            .run(|rec| match &res {
                Some((_, rt)) => ops::conv2d_residual(rec, &xt, &wt, Some(&bt), rt, &cfg, Some(kernel)),
                None => ops::conv2d_with(rec, &xt, &wt, Some(&bt), &cfg, kernel),
            })
            .unwrap();
        assert_eq!(y.dtype(), DType::F16);
        check(gpu, "conv2d_f16", &format!("{name} {kernel:?} x={x:?} cout={cout} {cfg:?}"), &y, &want, F16_TOL);
    }
}

#[test]
fn conv2d_in_f16_storage() {
    let relu = Conv2d { activation: Activation::Relu, ..Conv2d::same(1, 1) };
    conv_case(200, [2, 5, 9, 7], 19, [3, 3], relu, false, "3x3 relu");
    conv_case(201, [1, 6, 8, 8], 10, [1, 1], Conv2d { stride: [2, 2], ..Default::default() }, false, "1x1 s2");
    conv_case(202, [1, 8, 9, 9], 8, [3, 3], Conv2d { groups: 8, ..Conv2d::same(1, 1) }, false, "depthwise");
    conv_case(203, [1, 3, 33, 31], 16, [7, 7], Conv2d::same(3, 2), false, "stem 7x7 s2");
    conv_case(204, [2, 6, 7, 7], 12, [3, 3], relu, true, "residual");
    // Split-K: partial sums kept in the f16 output between slices would lose precision; the
    // bound holds only if they stay exact enough (K = 2304 * 9).
    conv_case(205, [1, 2304, 3, 3], 8, [3, 3], relu, true, "long K residual");
    // The packed kernel's 1x1 form reads f16 vec4s of x and the residual, and writes f16 vec4s
    // (f32 ones between the slices of a long reduction).
    let plain = Conv2d { activation: Activation::Relu, ..Default::default() };
    conv_case(206, [2, 6, 4, 6], 10, [1, 1], plain, true, "1x1 residual");
    conv_case(207, [1, 4100, 2, 2], 9, [1, 1], plain, true, "1x1 long K residual");
    // Padded planes (9 pixels): the f16 residual copied, the f32 partial sums cropped.
    conv_case(208, [1, 4100, 3, 3], 9, [1, 1], plain, true, "1x1 long K residual 9 pixels");
    // The depthwise 3x3 form reads and writes f16 vec4s on rows of 8 (case 202's 9 wide rows,
    // and 10 wide ones with a residual, take its scalar form).
    let dw = Conv2d { groups: 6, activation: Activation::RELU6, ..Conv2d::same(1, 1) };
    conv_case(209, [2, 6, 5, 8], 6, [3, 3], dw, true, "depthwise 3x3 residual");
    conv_case(214, [2, 6, 5, 10], 6, [3, 3], dw, true, "depthwise 3x3 scalar residual");
    // Its stride-2 entry: 16-wide rows as vec4s, 4 x 8 outputs; and 13-wide rows to 7 x 7
    // outputs in the scalar form.
    let dw2 = Conv2d { stride: [2, 2], ..dw };
    conv_case(212, [2, 6, 8, 16], 6, [3, 3], dw2, true, "depthwise 3x3 s2 residual");
    conv_case(213, [1, 6, 13, 13], 12, [3, 3], dw2, false, "depthwise 3x3 s2 x2 13 wide");
    // The packed kernel's GEMM form over f16 im2col planes (a 3-channel stem).
    conv_case(211, [1, 3, 13, 11], 16, [3, 3], Conv2d::same(1, 2), true, "stem 3x3 s2 residual");
    // Inputs of whole-vec4 rows, unpadded and padded, packed from f16 vec4s (pack_input_vec4),
    // their second channel quad partial.
    conv_case(215, [1, 6, 8, 12], 12, [3, 3], Conv2d::default(), false, "3x3 unpadded 12 wide");
    conv_case(216, [1, 6, 8, 12], 12, [3, 3], Conv2d::same(1, 1), true, "3x3 padded 12 wide");
    // The 1x1 subgroup form on 25-pixel planes: f16 planes padded and cropped back.
    conv_case(217, [1, 8, 5, 5], 40, [1, 1], Conv2d::default(), true, "1x1 subgroup form 25-pixel planes");
}

#[test]
fn elementwise_and_pooling_in_f16_storage() {
    let Some(gpu) = f16_gpu() else { return };
    let mut r = rng(210);
    let (xa, xt) = half_pair(gpu, &mut r, &[2, 6, 9, 11]);
    let (ba, bt) = half_pair(gpu, &mut r, &[1, 6, 1, 1]);
    let run = |f: &dyn Fn(&mut featuremap::gpu::Recorder) -> featuremap::Result<Tensor>| {
        let y = gpu.run(f).unwrap();
        assert_eq!(y.dtype(), DType::F16);
        y
    };
    for act in [Activation::Relu, Activation::Silu, Activation::HardSwish] {
        let y = run(&|rec| ops::activation(rec, &xt, act));
        check(gpu, "activation_f16", act.name(), &y, &reference::activation(&xa, act), F16_TOL);
    }
    for op in [BinaryOp::Add, BinaryOp::Mul] {
        let y = run(&|rec| ops::binary(rec, &xt, &bt, op));
        check(gpu, "binary_f16", &format!("{op:?} broadcast"), &y, &reference::binary(&xa, &ba, op), F16_TOL);
    }
    let cfg = Pool2d { padding: [1; 4], ..Pool2d::new(3, 2) };
    // Pooling selects values: exact in f16 too.
    let max_pool_exact = |a: &Array, t: &Tensor| {
        let (y, idx) = gpu.run(|rec| ops::max_pool2d(rec, t, &cfg)).unwrap();
        let (want, want_idx) = reference::max_pool2d(a, &cfg);
        assert_eq!(y.to_f32(gpu).unwrap(), want.data.iter().map(|&v| v as f32).collect::<Vec<_>>());
        assert_eq!(idx.to_u32(gpu).unwrap(), want_idx);
    };
    max_pool_exact(&xa, &xt);
    // The rows form (max_pool2d_rows) reads and writes f16 vec4s: rows of 16 into rows of 8.
    let (rows_a, rows_t) = half_pair(gpu, &mut rng(215), &[1, 3, 9, 16]);
    max_pool_exact(&rows_a, &rows_t);
    let y = run(&|rec| ops::avg_pool2d(rec, &xt, &cfg));
    check(gpu, "avg_pool2d_f16", "3x3 s2", &y, &reference::avg_pool2d(&xa, &cfg), F16_TOL);
    let y = run(&|rec| ops::global_avg_pool2d(rec, &xt));
    check(gpu, "global_avg_pool2d_f16", "", &y, &reference::global_avg_pool2d(&xa), F16_TOL);
    let y = run(&|rec| ops::global_max_pool2d(rec, &xt));
    check(gpu, "global_max_pool2d_f16", "", &y, &reference::global_max_pool2d(&xa), F16_TOL);
    let stats: Vec<Vec<f32>> = (0..4).map(|i| (0..6).map(|c| 0.5 + 0.1 * (c + i) as f32).collect()).collect();
    let t = |v: &[f32]| Tensor::from_f32(gpu, [6], v).unwrap();
    let y = run(&|rec| ops::batch_norm(rec, &xt, &t(&stats[0]), &t(&stats[1]), &t(&stats[2]), &t(&stats[3]), 1e-5));
    let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    let want = reference::batch_norm(&xa, &f(&stats[0]), &f(&stats[1]), &f(&stats[2]), &f(&stats[3]), 1e-5);
    check(gpu, "batch_norm_f16", "", &y, &want, F16_TOL);
}

#[test]
fn cast_rounds_to_nearest_and_widens_exactly() {
    let Some(gpu) = f16_gpu() else { return };
    let v: Vec<f32> = random_vec(&mut rng(220), 1001).iter().map(|x| x * 300.0).collect();
    let x = Tensor::from_f32(gpu, [1001], &v).unwrap();
    let h = gpu.run(|rec| ops::cast(rec, &x, DType::F16)).unwrap();
    assert_eq!(h.dtype(), DType::F16);
    let back = gpu.run(|rec| ops::cast(rec, &h, DType::F32)).unwrap();
    assert_eq!(back.dtype(), DType::F32);
    let want: Vec<f32> = v.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect();
    assert_eq!(back.to_f32(gpu).unwrap(), want);
    assert!(gpu.run(|rec| ops::cast(rec, &x, DType::U32)).is_err());
}

#[test]
fn mixed_storage_is_an_error() {
    let Some(gpu) = f16_gpu() else { return };
    let x = Tensor::zeros(gpu, [1, 4, 8, 8]).unwrap();
    let w = Tensor::from_f32_as_f16(gpu, [8, 4, 3, 3], &[0.0; 288]).unwrap();
    let err = gpu.run(|rec| ops::conv2d(rec, &x, &w, None, &Conv2d::default())).unwrap_err();
    assert!(err.to_string().contains("conv2d"), "{err}");
    let err = gpu.run(|rec| {
        ops::gemm(rec, &w.reshape([8, 36]).unwrap(), &w.reshape([36, 8]).unwrap(), None, &Default::default())
    });
    assert!(err.is_err(), "gemm has no f16 kernel");
}

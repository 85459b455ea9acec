//! The CAM kernels (channel weights, channel sums, layer mean, normalisation, first principal
//! projection, colormaps and overlays) against the references of `featuremap::reference`, which
//! follow the grad-cam package's NumPy code line by line.

use featuremap::ops::{self, ChannelWeighting, ElementwiseCam};
use featuremap::reference::{self, Array};
use featuremap::vis::{self, Colormap, Overlay};
use featuremap::{Gpu, Tensor};
use rand::rngs::StdRng;
use rand::Rng;

use crate::common::{check, random_vec, rng, TOL};
use crate::gpu_or_skip;

const METHODS: [ChannelWeighting; 3] =
    [ChannelWeighting::GradCam, ChannelWeighting::GradCamPlusPlus, ChannelWeighting::XGradCam];

/// Shapes of the tests: odd channel counts, 1x1 maps, non-square maps, batch > 1.
/// The last has planes of more than 4096 values, which CPU adapters too reduce by workgroups.
const SHAPES: [[usize; 4]; 7] =
    [[2, 17, 7, 7], [1, 64, 14, 14], [3, 5, 1, 1], [2, 3, 5, 9], [1, 1, 1, 1], [1, 7, 13, 3], [1, 2, 70, 65]];

/// Uploads `v` as both a reference array and a GPU tensor.
fn pair(gpu: &Gpu, shape: &[usize], v: &[f32]) -> (Array, Tensor) {
    (Array::from_f32(shape.to_vec(), v), Tensor::from_f32(gpu, shape.to_vec(), v).unwrap())
}

/// Activations as after a ReLU (non-negative, about a third exactly zero) and gradients in
/// [-1, 1) with about a tenth exactly zero (GradCAM++ treats `g == 0` apart).
fn acts_and_grads(r: &mut StdRng, n: usize) -> (Vec<f32>, Vec<f32>) {
    let a = random_vec(r, n).into_iter().map(|x| (x * 1.5).max(0.0)).collect();
    let g = random_vec(r, n).into_iter().map(|x| if x.abs() < 0.1 { 0.0 } else { x }).collect();
    (a, g)
}

#[test]
fn channel_weights_match_the_package() {
    let gpu = gpu_or_skip!();
    for (i, shape) in SHAPES.iter().enumerate() {
        let mut r = rng(700 + i as u64);
        let (a, g) = acts_and_grads(&mut r, shape.iter().product());
        let ((aa, at), (ga, gt)) = (pair(gpu, shape, &a), pair(gpu, shape, &g));
        for method in METHODS {
            let w = gpu.run(|rec| ops::cam_channel_weights(rec, &at, &gt, method)).unwrap();
            let want = reference::cam_channel_weights(&aa, &ga, method);
            check(gpu, "cam_channel_weights", &format!("{method:?} {shape:?}"), &w, &want, TOL);
        }
    }
}

#[test]
fn grad_cam_weights_with_signed_activations() {
    // Grad-CAM does not look at A; XGrad-CAM divides by sum(A), kept away from 0 here.
    let gpu = gpu_or_skip!();
    let shape = [2, 9, 6, 5];
    let mut r = rng(720);
    let a: Vec<f32> = random_vec(&mut r, 540).into_iter().map(|x| x + 0.5).collect();
    let g = random_vec(&mut r, 540);
    let ((aa, at), (ga, gt)) = (pair(gpu, &shape, &a), pair(gpu, &shape, &g));
    for method in [ChannelWeighting::GradCam, ChannelWeighting::XGradCam] {
        let w = gpu.run(|rec| ops::cam_channel_weights(rec, &at, &gt, method)).unwrap();
        check(
            gpu,
            "cam_channel_weights",
            &format!("{method:?} signed A"),
            &w,
            &reference::cam_channel_weights(&aa, &ga, method),
            TOL,
        );
    }
}

#[test]
fn weighted_and_elementwise_sums() {
    let gpu = gpu_or_skip!();
    for (i, &[n, c, h, w]) in SHAPES.iter().enumerate() {
        let shape = [n, c, h, w];
        let mut r = rng(730 + i as u64);
        let (aa, at) = pair(gpu, &shape, &random_vec(&mut r, n * c * h * w));
        let (ga, gt) = pair(gpu, &shape, &random_vec(&mut r, n * c * h * w));
        let (wa, wt) = pair(gpu, &[n, c], &random_vec(&mut r, n * c));
        let y = gpu.run(|rec| ops::cam_weighted_sum(rec, &at, &wt)).unwrap();
        check(gpu, "cam_weighted_sum", &format!("{shape:?}"), &y, &reference::cam_weighted_sum(&aa, &wa), TOL);
        for kind in [ElementwiseCam::HiResCam, ElementwiseCam::LayerCam] {
            let y = gpu.run(|rec| ops::cam_elementwise_sum(rec, &at, &gt, kind)).unwrap();
            let want = reference::cam_elementwise_sum(&aa, &ga, kind);
            check(gpu, "cam_elementwise_sum", &format!("{kind:?} {shape:?}"), &y, &want, TOL);
        }
    }
}

#[test]
fn normalize_random_constant_and_negative_maps() {
    let gpu = gpu_or_skip!();
    let mut r = rng(740);
    let mut cases: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    for shape in [vec![2, 1, 7, 7], vec![3, 1, 5, 9], vec![1, 1, 14, 14], vec![2, 1, 1, 1], vec![2, 3, 5], vec![4, 300]]
    {
        let v = random_vec(&mut r, shape.iter().product());
        cases.push(("random".into(), shape, v));
    }
    cases.push(("constant".into(), vec![2, 1, 3, 4], vec![0.25; 24]));
    cases.push(("constant zero".into(), vec![1, 1, 5, 3], vec![0.0; 15]));
    let neg: Vec<f32> = random_vec(&mut r, 2 * 35).into_iter().map(|x| -x.abs() - 0.01).collect();
    cases.push(("all negative".into(), vec![2, 1, 5, 7], neg));
    // One image constant, the next random: per-image, not per-batch.
    let mut mixed = vec![3.0f32; 12];
    mixed.extend(random_vec(&mut r, 12));
    cases.push(("constant then random".into(), vec![2, 1, 3, 4], mixed));
    for (name, shape, v) in &cases {
        let (xa, xt) = pair(gpu, shape, v);
        for relu in [false, true] {
            let y = gpu.run(|rec| ops::cam_normalize(rec, &xt, relu)).unwrap();
            let want = reference::cam_normalize(&xa, relu);
            check(gpu, "cam_normalize", &format!("{name} {shape:?} relu={relu}"), &y, &want, TOL);
            if name.starts_with("constant") || (name == "all negative" && relu) {
                // x - min is exactly 0 there, and 0 / (1e-7 + 0) is 0.
                let got = y.to_f32(gpu).unwrap();
                let zeros = if name == "constant then random" { &got[..12] } else { &got[..] };
                assert!(zeros.iter().all(|&v| v == 0.0), "{name} relu={relu}: {got:?}");
            }
        }
    }
}

#[test]
fn mean_of_layers() {
    let gpu = gpu_or_skip!();
    let mut r = rng(750);
    for layers in [1usize, 2, 3, 5] {
        let shape = [2, 1, 7, 9];
        let arrays: Vec<(Array, Tensor)> = (0..layers).map(|_| pair(gpu, &shape, &random_vec(&mut r, 126))).collect();
        let tensors: Vec<&Tensor> = arrays.iter().map(|(_, t)| t).collect();
        let y = gpu.run(|rec| ops::cam_mean_layers(rec, &tensors)).unwrap();
        let refs: Vec<&Array> = arrays.iter().map(|(a, _)| a).collect();
        check(
            gpu,
            "cam_mean_layers",
            &format!("{layers} layers {shape:?}"),
            &y,
            &reference::cam_mean_layers(&refs),
            TOL,
        );
    }
}

/// Input of the projection test, generated once with NumPy 2.4 (seed 20240611):
/// `s` = standard normal (35 values, the spatial pattern), `d` = a unit standard-normal
/// direction (6 values), `off` = uniform(0, 2) per channel, and
/// `A = 4 * outer(d, s) + 0.2 * standard_normal((6, 35)) + off[:, None]` as float32, viewed as
/// `[1, 6, 5, 7]`. Its centred singular values are 20.6, 1.20, 1.15, ...: one dominant component
/// whose spatial map is `s` (centred), up to sign. Only inputs here; every expected output is
/// computed by the reference.
// Printed with 9 significant digits, which round-trip f32 exactly.
#[allow(clippy::excessive_precision)]
const PLANTED_S: [f32; 35] = [
    -2.11189121e-01,
    -5.17733455e-01,
    1.49595842e-01,
    -1.78989685e+00,
    2.84452260e-01,
    -3.21695596e-01,
    -7.26050317e-01,
    9.85372737e-02,
    -1.95147383e+00,
    -1.58412889e-01,
    -7.31284857e-01,
    4.09695357e-01,
    4.42441732e-01,
    -9.27862704e-01,
    -9.33167934e-01,
    -1.47003722e+00,
    -7.87689269e-01,
    3.19414377e-01,
    8.57270360e-01,
    2.28799716e-01,
    3.47992517e-02,
    -8.67447138e-01,
    1.95770219e-01,
    -8.15689504e-01,
    2.39628881e-01,
    -2.02593327e-01,
    8.56018126e-01,
    2.02470347e-01,
    1.36882532e+00,
    -4.08214450e-01,
    7.55945086e-01,
    2.25160718e-01,
    1.69655585e+00,
    -1.96205401e+00,
    8.74258280e-01,
];
#[allow(clippy::excessive_precision)]
const PLANTED_A: [f32; 210] = [
    1.42158973e+00,
    1.84240007e+00,
    1.04195786e+00,
    3.95232534e+00,
    5.89144528e-01,
    1.51290536e+00,
    2.47117400e+00,
    7.00004816e-01,
    4.56496668e+00,
    1.09336197e+00,
    2.03578711e+00,
    2.54086494e-01,
    3.26372266e-01,
    2.34015322e+00,
    2.55256557e+00,
    3.56798768e+00,
    2.39824629e+00,
    6.92825496e-01,
    -2.42493868e-01,
    7.38779306e-01,
    1.18567634e+00,
    2.72929287e+00,
    5.06696880e-01,
    2.89015150e+00,
    6.43963635e-01,
    1.28656292e+00,
    -2.77183533e-01,
    6.19390011e-01,
    -1.14613414e+00,
    1.51806188e+00,
    -8.15141201e-02,
    4.25642908e-01,
    -1.75520968e+00,
    4.36504078e+00,
    -5.28610110e-01,
    1.06460762e+00,
    1.36245465e+00,
    3.57603043e-01,
    3.39712572e+00,
    7.03116179e-01,
    9.94327724e-01,
    2.00995278e+00,
    8.02177191e-01,
    3.32790613e+00,
    9.95680630e-01,
    1.89130068e+00,
    -4.65042591e-02,
    3.04131448e-01,
    2.24649334e+00,
    2.41827488e+00,
    2.93332291e+00,
    2.05730772e+00,
    6.28713131e-01,
    -4.71308351e-01,
    2.97351003e-01,
    3.87902081e-01,
    2.04079008e+00,
    1.91740990e-01,
    2.12815237e+00,
    4.11160439e-01,
    1.18376756e+00,
    -4.77551937e-01,
    6.83156490e-01,
    -1.34332025e+00,
    1.32907236e+00,
    -8.52811337e-02,
    1.50998473e-01,
    -1.68772018e+00,
    3.76228142e+00,
    -7.49192119e-01,
    4.97547507e-01,
    3.96885157e-01,
    8.62607419e-01,
    6.47902131e-01,
    5.59300959e-01,
    3.58362466e-01,
    4.40481365e-01,
    8.13324392e-01,
    6.52826846e-01,
    5.55699766e-01,
    8.11778665e-01,
    4.37326729e-01,
    9.40174699e-01,
    5.85768759e-01,
    5.56965292e-01,
    6.22961700e-01,
    6.62592590e-01,
    7.61495829e-01,
    4.65043962e-01,
    4.59228218e-01,
    6.37598872e-01,
    7.25353062e-01,
    8.00495028e-01,
    5.60630083e-01,
    8.17104816e-01,
    4.33249801e-01,
    8.82005095e-01,
    4.06424642e-01,
    5.71911693e-01,
    6.82576418e-01,
    8.10543954e-01,
    9.16178524e-01,
    5.88986754e-01,
    1.07017255e+00,
    4.40386444e-01,
    2.15197921e+00,
    2.81046009e+00,
    1.29329753e+00,
    5.86828423e+00,
    6.19940460e-01,
    2.62123299e+00,
    3.59478021e+00,
    1.41950130e+00,
    6.32474804e+00,
    2.07218909e+00,
    3.48457599e+00,
    7.71083653e-01,
    4.88583207e-01,
    3.56683850e+00,
    3.85983849e+00,
    5.24838686e+00,
    3.69550133e+00,
    7.01987207e-01,
    -8.13369513e-01,
    1.20961046e+00,
    1.54476500e+00,
    3.51824951e+00,
    9.29867744e-01,
    3.79133916e+00,
    6.82411849e-01,
    2.25852990e+00,
    -5.94001055e-01,
    1.01533389e+00,
    -1.71560216e+00,
    2.49745464e+00,
    -3.35631490e-01,
    1.31568825e+00,
    -2.88237715e+00,
    6.85614729e+00,
    -9.81691599e-01,
    1.52069068e+00,
    2.48210621e+00,
    8.41544449e-01,
    4.76952553e+00,
    8.63700807e-01,
    2.10342026e+00,
    2.81442499e+00,
    9.67438579e-01,
    5.28034210e+00,
    1.61774242e+00,
    2.96267009e+00,
    5.34557641e-01,
    2.32241273e-01,
    3.09289432e+00,
    2.81806374e+00,
    4.32260942e+00,
    2.92847157e+00,
    6.39972985e-01,
    -7.03088880e-01,
    7.38732219e-01,
    1.33896863e+00,
    2.96090031e+00,
    9.06259120e-01,
    3.12381196e+00,
    9.21667457e-01,
    1.35512805e+00,
    -3.58152390e-01,
    6.81734681e-01,
    -1.89681196e+00,
    2.31600332e+00,
    -5.29481769e-01,
    7.60650992e-01,
    -1.85413575e+00,
    5.31634378e+00,
    -4.80184197e-01,
    1.38243937e+00,
    1.87736154e+00,
    1.24255931e+00,
    3.05364132e+00,
    1.22030723e+00,
    1.79888785e+00,
    1.69282675e+00,
    1.12739444e+00,
    3.05735779e+00,
    1.58934808e+00,
    1.87310684e+00,
    8.96832883e-01,
    1.00420761e+00,
    2.18847036e+00,
    2.56075764e+00,
    2.54323292e+00,
    2.15294576e+00,
    7.70652175e-01,
    6.40237153e-01,
    1.12527156e+00,
    1.09518921e+00,
    1.91849077e+00,
    1.08826351e+00,
    1.91264045e+00,
    8.00826490e-01,
    1.48803163e+00,
    6.41586244e-01,
    1.15046012e+00,
    3.92430723e-01,
    1.69170952e+00,
    7.65494406e-01,
    1.18540370e+00,
    -2.30247974e-02,
    2.82238531e+00,
    5.88603973e-01,
];

/// Pearson correlation of two equally long slices.
fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    let syy: f64 = y.iter().map(|b| (b - my) * (b - my)).sum();
    sxy / (sxx * syy).sqrt()
}

#[test]
fn projection_of_a_planted_component() {
    let gpu = gpu_or_skip!();
    let shape = [1, 6, 5, 7];
    let (aa, at) = pair(gpu, &shape, &PLANTED_A);
    let y = gpu.run(|rec| ops::cam_first_principal_projection(rec, &at, 200)).unwrap();
    let want = reference::cam_first_principal_projection(&aa);
    check(gpu, "cam_first_principal_projection", "planted [1, 6, 5, 7]", &y, &want, TOL);
    // Up to sign, the projection is the planted spatial map (plus the small noise).
    let got: Vec<f64> = y.to_f32(gpu).unwrap().iter().map(|&v| v as f64).collect();
    let s: Vec<f64> = PLANTED_S.iter().map(|&v| v as f64).collect();
    let corr = correlation(&got, &s);
    assert!(corr.abs() > 0.99, "correlation with the planted map {corr}");
    // The sign rule: the largest-magnitude value is positive.
    let (mn, mx) = got.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(mx.abs() >= mn.abs(), "sign rule: min {mn}, max {mx}");
}

/// Random activations with a planted rank-one component of relative strength `strength`
/// (0 for none), a per-channel offset, and the projection against the reference.
fn projection_case(seed: u64, shape: [usize; 4], strength: f32, iters: usize) {
    let gpu = gpu_or_skip!();
    let [n, c, h, w] = shape;
    let mut r = rng(seed);
    let mut v = random_vec(&mut r, n * c * h * w);
    for b in 0..n {
        let s = random_vec(&mut r, h * w);
        let d = random_vec(&mut r, c);
        for ch in 0..c {
            let off = r.random_range(0.0f32..2.0);
            for q in 0..h * w {
                v[(b * c + ch) * h * w + q] += strength * d[ch] * s[q] + off;
            }
        }
    }
    let (aa, at) = pair(gpu, &shape, &v);
    let y = gpu.run(|rec| ops::cam_first_principal_projection(rec, &at, iters)).unwrap();
    let want = reference::cam_first_principal_projection(&aa);
    check(
        gpu,
        "cam_first_principal_projection",
        &format!("{shape:?} strength={strength} iters={iters}"),
        &y,
        &want,
        TOL,
    );
}

#[test]
fn projection_shapes() {
    projection_case(760, [2, 17, 7, 7], 3.0, 300);
    projection_case(761, [1, 64, 14, 14], 3.0, 300);
    projection_case(762, [2, 9, 3, 11], 3.0, 300);
    projection_case(763, [1, 300, 2, 3], 3.0, 300); // C > 256 and H*W < C
                                                    // Many channels: f32 rounding moves v by ~1e-7 each iteration, so the stall test stops it.
    projection_case(766, [1, 2048, 7, 7], 3.0, 500);
    projection_case(767, [2, 600, 3, 5], 3.0, 500);
    // H*W = 1: the centred matrix is zero, and so is the projection.
    projection_case(764, [3, 5, 1, 1], 3.0, 300);
    // C = 1: the projection is the centred map itself (positive where it is largest).
    projection_case(765, [2, 1, 4, 5], 0.0, 300);
}

#[test]
fn projection_without_a_planted_component() {
    // Plain noise: the two leading singular values are close, so convergence takes longer.
    projection_case(770, [2, 5, 6, 7], 0.0, 2000);
    projection_case(771, [1, 17, 7, 7], 0.0, 2000);
}

#[test]
fn projection_reads_nan_as_zero() {
    let gpu = gpu_or_skip!();
    let shape = [1, 4, 3, 5];
    let mut r = rng(780);
    let mut v: Vec<f32> =
        random_vec(&mut r, 60).iter().enumerate().map(|(i, x)| x + (i / 15) as f32 * (i % 15) as f32 * 0.3).collect();
    v[7] = f32::NAN;
    v[40] = f32::NAN;
    let (aa, at) = pair(gpu, &shape, &v);
    let y = gpu.run(|rec| ops::cam_first_principal_projection(rec, &at, 500)).unwrap();
    check(
        gpu,
        "cam_first_principal_projection",
        "NaN inputs",
        &y,
        &reference::cam_first_principal_projection(&aa),
        TOL,
    );
}

/// CAM values in [0, 1] with the edges and the package's typical maximum (`1 / (1 + 1e-7)`,
/// which truncates to index 254) mixed in.
fn cam_values(r: &mut StdRng, n: usize) -> Vec<f32> {
    let mut v: Vec<f32> = random_vec(r, n).into_iter().map(|x| (x + 1.0) / 2.0).collect();
    let special = [0.0, 1.0, 1.0 / (1.0 + 1e-7f32), 0.5, 1.0 / 255.0, 254.0 / 255.0, 2.0 / 255.0];
    for (i, s) in special.iter().enumerate() {
        if i * 5 < n {
            v[i * 5] = *s;
        }
    }
    v
}

/// Runs colorize and compares every pixel with the reference; returns how many channels were
/// off (they must be 0: see the comment in `colorize_matches_the_package_exactly`).
fn colorize_case(seed: u64, [n, h, w]: [usize; 3], colormap: Colormap, overlay: Overlay) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let (ca, ct) = pair(gpu, &[n, 1, h, w], &cam_values(&mut r, n * h * w));
    let img: Vec<f32> = random_vec(&mut r, n * 3 * h * w).into_iter().map(|x| (x + 1.0) / 2.0).collect();
    let (ia, it) = pair(gpu, &[n, 3, h, w], &img);
    let out = gpu.run(|rec| vis::colorize(rec, &ct, Some(&it), colormap, overlay)).unwrap();
    assert_eq!(out.dims(), &[n, h, w]);
    let got = out.to_u32(gpu).unwrap();
    let want = reference::colorize(&ca, Some(&ia), colormap, overlay);
    let mut off = 0;
    let mut worst = 0;
    for (g, w) in got.iter().zip(&want) {
        for (gb, wb) in g.to_le_bytes().iter().zip(w.to_le_bytes()) {
            let d = (*gb as i32 - wb as i32).abs();
            off += (d != 0) as usize;
            worst = worst.max(d);
        }
    }
    println!("KERNEL-ERROR colorize {worst} LSB ({off} channels off) {colormap:?} {overlay:?} [{n}, {h}, {w}]");
    assert_eq!(off, 0, "colorize {colormap:?} {overlay:?}: {off} channels differ, by up to {worst}");
    // And the same pixels as images.
    let imgs = vis::read_rgba(gpu, &out).unwrap();
    assert_eq!(imgs.len(), n);
    for (b, im) in imgs.iter().enumerate() {
        assert_eq!((im.width() as usize, im.height() as usize), (w, h));
        let px = im.get_pixel(w as u32 - 1, 0).0;
        assert_eq!(u32::from_le_bytes(px), want[b * h * w + w - 1]);
        assert_eq!(px[3], 255);
    }
}

#[test]
fn colorize_matches_the_package_exactly() {
    // Compared exactly: the kernel repeats NumPy's float32 operations one by one (products kept
    // apart from the sums, the 1/255 table rounded on the host), and the truncations then land
    // on the same integers. A device whose f32 division is not correctly rounded (WGSL allows
    // 2.5 ULP) could differ by one level in ShowCamOnImage's `cam / max(cam)`; lavapipe divides
    // exactly.
    let maps = [Colormap::Jet, Colormap::Turbo, Colormap::Viridis, Colormap::Inferno];
    for (i, cm) in maps.into_iter().enumerate() {
        let s = 800 + 10 * i as u64;
        colorize_case(s, [2, 7, 9], cm, Overlay::Heatmap);
        colorize_case(s + 1, [1, 13, 5], cm, Overlay::Blend { alpha: 0.4 });
        colorize_case(s + 2, [3, 7, 9], cm, Overlay::ShowCamOnImage { image_weight: 0.5 });
    }
    colorize_case(850, [2, 17, 19], Colormap::Jet, Overlay::ShowCamOnImage { image_weight: 0.3 });
    colorize_case(851, [1, 1, 1], Colormap::Jet, Overlay::ShowCamOnImage { image_weight: 0.0 });
    colorize_case(852, [1, 3, 2], Colormap::Jet, Overlay::ShowCamOnImage { image_weight: 1.0 });
    colorize_case(853, [1, 40, 30], Colormap::Jet, Overlay::ShowCamOnImage { image_weight: 0.5 });
    colorize_case(854, [1, 4, 4], Colormap::Viridis, Overlay::Blend { alpha: 1.0 });
    colorize_case(855, [1, 4, 4], Colormap::Viridis, Overlay::Blend { alpha: 0.0 });
}

#[test]
fn heatmap_needs_no_image_and_chains_after_normalize() {
    // The package's pipeline on one layer: relu, scale to [0, 1], colormap over the image.
    let gpu = gpu_or_skip!();
    let mut r = rng(860);
    let (raw_a, raw_t) = pair(gpu, &[2, 1, 6, 8], &random_vec(&mut r, 96));
    let img: Vec<f32> = random_vec(&mut r, 2 * 3 * 48).into_iter().map(|x| (x + 1.0) / 2.0).collect();
    let (ia, it) = pair(gpu, &[2, 3, 6, 8], &img);
    let (heat, shown, norm) = gpu
        .run(|rec| {
            let norm = ops::cam_normalize(rec, &raw_t, true)?;
            let heat = vis::colorize(rec, &norm, None, Colormap::Jet, Overlay::Heatmap)?;
            let shown =
                vis::colorize(rec, &norm, Some(&it), Colormap::Jet, Overlay::ShowCamOnImage { image_weight: 0.5 })?;
            Ok((heat, shown, norm))
        })
        .unwrap();
    // Colorize what the GPU normalised (the f32 values), so the chain is compared exactly.
    let norm_a = Array::from_f32(vec![2, 1, 6, 8], &norm.to_f32(gpu).unwrap());
    assert_eq!(heat.to_u32(gpu).unwrap(), reference::colorize(&norm_a, None, Colormap::Jet, Overlay::Heatmap));
    let want = reference::colorize(&norm_a, Some(&ia), Colormap::Jet, Overlay::ShowCamOnImage { image_weight: 0.5 });
    assert_eq!(shown.to_u32(gpu).unwrap(), want);
    check(gpu, "cam_normalize", "chain", &norm, &reference::cam_normalize(&raw_a, true), TOL);
}

#[test]
fn bad_shapes_and_arguments_are_errors() {
    let gpu = gpu_or_skip!();
    let t = |shape: &[usize]| Tensor::zeros(gpu, shape.to_vec()).unwrap();
    let (a, g) = (t(&[2, 3, 4, 5]), t(&[2, 3, 4, 6]));
    let err = gpu.run(|rec| ops::cam_channel_weights(rec, &a, &g, ChannelWeighting::GradCam)).unwrap_err();
    assert!(err.to_string().contains("cam_channel_weights"), "{err}");
    assert!(gpu
        .run(|rec| ops::cam_channel_weights(rec, &t(&[3, 4, 5]), &t(&[3, 4, 5]), ChannelWeighting::XGradCam))
        .is_err());
    assert!(gpu
        .run(|rec| ops::cam_channel_weights(rec, &t(&[1, 3, 0, 5]), &t(&[1, 3, 0, 5]), ChannelWeighting::GradCam))
        .is_err());
    assert!(gpu.run(|rec| ops::cam_weighted_sum(rec, &a, &t(&[2, 4]))).is_err());
    assert!(gpu.run(|rec| ops::cam_weighted_sum(rec, &a, &t(&[2, 3, 1, 1]))).is_err());
    assert!(gpu.run(|rec| ops::cam_elementwise_sum(rec, &a, &g, ElementwiseCam::HiResCam)).is_err());
    assert!(gpu.run(|rec| ops::cam_normalize(rec, &t(&[]), false)).is_err());
    assert!(gpu.run(|rec| ops::cam_normalize(rec, &t(&[2, 0, 3]), false)).is_err());
    assert!(gpu.run(|rec| ops::cam_mean_layers(rec, &[])).is_err());
    assert!(gpu.run(|rec| ops::cam_mean_layers(rec, &[&t(&[1, 1, 4, 4]), &t(&[1, 1, 4, 5])])).is_err());
    assert!(gpu.run(|rec| ops::cam_first_principal_projection(rec, &a, 0)).is_err());
    assert!(gpu.run(|rec| ops::cam_first_principal_projection(rec, &t(&[6, 7]), 10)).is_err());
    let u = Tensor::from_u32(gpu, [2, 3, 4, 5], &[0; 120]).unwrap();
    assert!(gpu.run(|rec| ops::cam_weighted_sum(rec, &u, &t(&[2, 3]))).is_err());
    let cam = t(&[2, 1, 4, 5]);
    let img = t(&[2, 3, 4, 5]);
    assert!(gpu.run(|rec| vis::colorize(rec, &t(&[2, 2, 4, 5]), None, Colormap::Jet, Overlay::Heatmap)).is_err());
    assert!(gpu.run(|rec| vis::colorize(rec, &cam, None, Colormap::Jet, Overlay::Blend { alpha: 0.5 })).is_err());
    assert!(gpu
        .run(|rec| vis::colorize(rec, &cam, Some(&t(&[2, 3, 5, 4])), Colormap::Jet, Overlay::Blend { alpha: 0.5 }))
        .is_err());
    assert!(gpu.run(|rec| vis::colorize(rec, &cam, Some(&img), Colormap::Jet, Overlay::Blend { alpha: 1.5 })).is_err());
    let e = gpu
        .run(|rec| vis::colorize(rec, &cam, Some(&img), Colormap::Jet, Overlay::ShowCamOnImage { image_weight: -0.1 }))
        .unwrap_err();
    assert!(e.to_string().contains("image_weight"), "{e}");
    assert!(vis::read_rgba(gpu, &cam).is_err());
    assert!(vis::read_rgba(gpu, &u).is_err());
}

#[test]
fn jet_lut_matches_cv2_at_stated_entries() {
    // Printed by src/vis/make_colormaps.py: RGB of cv2.applyColorMap(np.arange(256), JET)
    // (OpenCV 5.0.0), at the ends and around the breakpoints of the piecewise-linear map.
    let stated: [(usize, [u8; 3]); 14] = [
        (0, [0, 0, 128]),
        (1, [0, 0, 132]),
        (31, [0, 0, 252]),
        (32, [0, 0, 255]),
        (95, [0, 252, 255]),
        (96, [2, 255, 254]),
        (127, [126, 255, 130]),
        (128, [130, 255, 126]),
        (159, [254, 255, 1]),
        (160, [255, 252, 0]),
        (223, [255, 0, 0]),
        (224, [252, 0, 0]),
        (254, [132, 0, 0]),
        (255, [128, 0, 0]),
    ];
    let lut = Colormap::Jet.lut();
    for (i, rgb) in stated {
        assert_eq!(lut[i], rgb, "JET[{i}]");
    }
    // matplotlib's tables start and end where matplotlib's do.
    assert_eq!(Colormap::Viridis.lut()[0], [68, 1, 84]);
    assert_eq!(Colormap::Viridis.lut()[255], [253, 231, 36]);
    assert_eq!(Colormap::Inferno.lut()[255], [252, 254, 164]);
    assert_eq!(Colormap::Turbo.lut()[128], [164, 252, 59]);
    assert_eq!(Colormap::from_name("Turbo").unwrap(), Colormap::Turbo);
    assert!(Colormap::from_name("rainbow").is_err());
}

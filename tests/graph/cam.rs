//! Every CAM method against the `grad-cam` package (pytorch-grad-cam 1.5.7) on the network,
//! weights, images and targets of tests/fixtures/make_cam_fixtures.py: the normalised heatmaps
//! may differ by at most 5e-3 anywhere and 5e-4 on average.

use featuremap::cam::{self, CamOptions, Method, Target};
use featuremap::{Gpu, Tensor};

use crate::common::rel_l2;
use crate::gpu_or_skip;
use crate::models::{from_cam_fixture, load_cam_fixture};

const MAX_ABS: f64 = 5e-3;
const MEAN_ABS: f64 = 5e-4;

fn input(gpu: &Gpu) -> Tensor {
    let (shape, v) = load_cam_fixture("input");
    Tensor::from_f32(gpu, shape, &v).unwrap()
}

fn diff(got: &[f32], want: &[f32]) -> (f64, f64) {
    assert_eq!(got.len(), want.len());
    let d: Vec<f64> = got.iter().zip(want).map(|(a, b)| (*a as f64 - *b as f64).abs()).collect();
    (d.iter().cloned().fold(0.0, f64::max), d.iter().sum::<f64>() / d.len() as f64)
}

/// Image 0 explains class 3, image 1 its top-1 class (as the fixtures do).
fn targets() -> Vec<Target> {
    vec![Target::Class(3), Target::Top1]
}

fn run(gpu: &Gpu, method: Method, layers: &[&str], targets: Vec<Target>) -> Vec<f32> {
    let g = from_cam_fixture(gpu);
    let mut opts = CamOptions::new(method, g.tensor(layers[0]).unwrap());
    opts.layers = layers.iter().map(|l| g.tensor(l).unwrap()).collect();
    opts.targets = targets;
    let out = cam::explain(gpu, &g, &input(gpu), &opts).unwrap();
    assert_eq!(out.heatmap.dims(), &[2, 1, 32, 32]);
    let classes = out.classes.to_f32(gpu).unwrap();
    if opts.targets == self::targets() {
        assert_eq!(classes[1], 4.0, "top-1 class of image 1 (the fixture's manifest says 4)");
    }
    out.heatmap.to_f32(gpu).unwrap()
}

fn compare(method: &str, fixture: &str, got: &[f32]) -> (f64, f64) {
    let (_, want) = load_cam_fixture(fixture);
    let (max, mean) = diff(got, &want);
    println!("CAM-PARITY {method:<14} max {max:.2e} mean {mean:.2e} ({fixture})");
    (max, mean)
}

fn assert_parity(method: &str, fixture: &str, got: &[f32]) {
    let (max, mean) = compare(method, fixture, got);
    assert!(max <= MAX_ABS && mean <= MEAN_ABS, "{method}: max {max:.2e} mean {mean:.2e} against the package");
}

macro_rules! parity_test {
    ($name:ident, $method:expr, $fixture:literal) => {
        #[test]
        fn $name() {
            let gpu = gpu_or_skip!();
            let got = run(gpu, $method, &["features"], targets());
            assert_parity($method.name(), $fixture, &got);
        }
    };
}

parity_test!(gradcam, Method::GradCam, "cam.gradcam.features");
parity_test!(hirescam, Method::HiResCam, "cam.hirescam.features");
parity_test!(gradcam_plus_plus, Method::GradCamPlusPlus, "cam.gradcam++.features");
parity_test!(xgradcam, Method::XGradCam, "cam.xgradcam.features");
parity_test!(layercam, Method::LayerCam, "cam.layercam.features");
parity_test!(scorecam, Method::ScoreCam, "cam.scorecam.features");
parity_test!(ablationcam, Method::AblationCam, "cam.ablationcam.features");

/// The principal component's sign is the SVD's arbitrary choice, made per image: the fixtures
/// hold the package's maps and the maps for the opposite sign, and each of our images must
/// match one of them.
fn eigen(method: Method, fixture: &str) {
    let gpu = gpu_or_skip!();
    let got = run(gpu, method, &["features"], targets());
    let (_, pkg) = load_cam_fixture(fixture);
    let (_, flipped) = load_cam_fixture(&format!("{fixture}.flipped"));
    let plane = 32 * 32;
    for img in 0..2 {
        let r = img * plane..(img + 1) * plane;
        let (m1, a1) = diff(&got[r.clone()], &pkg[r.clone()]);
        let (m2, a2) = diff(&got[r.clone()], &flipped[r]);
        let (which, m, a) = if m1 <= m2 { ("package's sign", m1, a1) } else { ("opposite sign", m2, a2) };
        println!("CAM-PARITY {:<14} image {img}: max {m:.2e} mean {a:.2e} ({which})", method.name());
        assert!(
            m <= MAX_ABS && a <= MEAN_ABS,
            "{} image {img}: neither sign matches (max {m1:.2e} / {m2:.2e})",
            method.name()
        );
    }
}

#[test]
fn eigencam() {
    eigen(Method::EigenCam, "cam.eigencam.features");
}

#[test]
fn eigengradcam() {
    eigen(Method::EigenGradCam, "cam.eigengradcam.features");
}

#[test]
fn plain_cam_equals_gradcam_after_normalisation() {
    // Before a global average pool and a linear layer, Grad-CAM's weights are the linear
    // layer's rows divided by H*W, so the normalised maps are plain CAM's.
    let gpu = gpu_or_skip!();
    let got = run(gpu, Method::Cam, &["features"], targets());
    assert_parity("cam", "cam.gradcam.features", &got);
}

#[test]
fn several_layers_are_averaged() {
    let gpu = gpu_or_skip!();
    let got = run(gpu, Method::GradCam, &["block.relu", "features"], targets());
    assert_parity("gradcam 2 layers", "cam.gradcam.block_relu+features", &got);
}

#[test]
fn weighted_sum_target() {
    let gpu = gpu_or_skip!();
    let got = run(gpu, Method::GradCam, &["features"], vec![Target::Weighted(vec![(2, 0.7), (5, 0.3)])]);
    assert_parity("gradcam weighted", "cam.gradcam.weighted", &got);
}

#[test]
fn guided_backprop_and_guided_gradcam() {
    let gpu = gpu_or_skip!();
    let g = from_cam_fixture(gpu);
    let x = input(gpu);
    let gb = cam::guided_backprop(gpu, &g, &x, &targets()).unwrap();
    assert_eq!(gb.dims(), &[2, 3, 32, 32]);
    let gb = gb.to_f32(gpu).unwrap();
    // The package returns image 0 only, as H x W x C.
    let (_, want) = load_cam_fixture("guided_backprop.image0");
    let mut ours_hwc = vec![0.0f32; 32 * 32 * 3];
    for c in 0..3 {
        for i in 0..32 * 32 {
            ours_hwc[i * 3 + c] = gb[c * 1024 + i];
        }
    }
    let want64: Vec<f64> = want.iter().map(|&v| v as f64).collect();
    let err = rel_l2(&ours_hwc, &want64);
    println!("CAM-PARITY guided_backprop rel_l2 {err:.2e}");
    assert!(err < 1e-4, "guided backprop: relative L2 {err:.2e} against the package");

    // Guided Grad-CAM = guided backprop x the Grad-CAM map (the package's recipe).
    let mut opts = CamOptions::new(Method::GradCam, g.tensor("features").unwrap());
    opts.targets = targets();
    let ggc = cam::guided_gradcam(gpu, &g, &x, &opts).unwrap().to_f32(gpu).unwrap();
    let (_, pkg_cam) = load_cam_fixture("cam.gradcam.features");
    let expect: Vec<f64> =
        (0..3 * 1024).map(|j| want[(j % 1024) * 3 + j / 1024] as f64 * pkg_cam[j % 1024] as f64).collect();
    let err = rel_l2(&ggc[..3 * 1024], &expect);
    println!("CAM-PARITY guided_gradcam rel_l2 {err:.2e}");
    assert!(err < 1e-3, "guided Grad-CAM: relative L2 {err:.2e}");
}

#[test]
fn bad_requests_are_errors() {
    let gpu = gpu_or_skip!();
    let g = from_cam_fixture(gpu);
    let x = input(gpu);
    let mut opts = CamOptions::new(Method::GradCam, g.tensor("features").unwrap());
    opts.targets = vec![Target::Class(10)];
    assert!(cam::explain(gpu, &g, &x, &opts).is_err(), "class out of range");
    opts.targets = vec![Target::Top1; 3];
    assert!(cam::explain(gpu, &g, &x, &opts).is_err(), "3 targets for 2 images");
    opts.targets = vec![];
    opts.layers = vec![g.tensor("fc").unwrap()];
    assert!(cam::explain(gpu, &g, &x, &opts).is_err(), "not a feature map");
    assert!(Method::from_name("gradcam++").is_ok() && Method::from_name("nope").is_err());
}

#[test]
fn show_cam_on_image_overlay_matches_the_package() {
    // The package's mask and image, so only the overlay itself is compared. Colours may differ
    // by one level where float32 rounding lands on either side of uint8 truncation.
    let gpu = gpu_or_skip!();
    let (_, mask) = load_cam_fixture("cam.gradcam.features");
    let (_, x) = load_cam_fixture("input");
    let img: Vec<f32> = x[..3 * 1024].iter().map(|v| (v + 1.0) / 2.0).collect();
    let cam_t = Tensor::from_f32(gpu, [1, 1, 32, 32], &mask[..1024]).unwrap();
    let img_t = Tensor::from_f32(gpu, [1, 3, 32, 32], &img).unwrap();
    let rgba = gpu
        .run(|rec| {
            featuremap::vis::colorize(
                rec,
                &cam_t,
                Some(&img_t),
                featuremap::vis::Colormap::Jet,
                featuremap::vis::Overlay::ShowCamOnImage { image_weight: 0.5 },
            )
        })
        .unwrap();
    let ours = &featuremap::vis::read_rgba(gpu, &rgba).unwrap()[0];
    let (shape, want) = load_cam_fixture("overlay.show_cam_on_image.image0");
    assert_eq!(shape, vec![32, 32, 3]);
    let (mut worst, mut differing) = (0i32, 0usize);
    for (i, px) in ours.pixels().enumerate() {
        assert_eq!(px.0[3], 255);
        for c in 0..3 {
            let d = (px.0[c] as i32 - want[i * 3 + c] as i32).abs();
            worst = worst.max(d);
            differing += (d > 0) as usize;
        }
    }
    println!(
        "CAM-PARITY show_cam_on_image: largest difference {worst} level(s), {differing} of {} values differ",
        32 * 32 * 3
    );
    assert!(worst <= 1, "overlay differs by {worst} levels from the package's");
}

//! The forward pass's epilogue fusion (conv -> add -> activation in one kernel) and f16
//! storage, against unfused f32 passes of the same graph and the f64 reference.

use featuremap::cam::{self, CamOptions, Method, Target};
use featuremap::graph::{Graph, GraphBuilder, Keep};
use featuremap::ops::Conv2d;
use featuremap::reference::{self, Array};
use featuremap::{DType, Gpu, Tensor};

use crate::common::{check, f16_gpu, random_vec, rel_l2, rng, TOL};
use crate::gpu_or_skip;
use crate::models::{from_cam_fixture, load_cam_fixture, small_resnet, weights};

/// A residual network with folded batch norm (conv with bias straight into the add), as the
/// ONNX importer leaves ResNets: one block whose shortcut is the identity and one whose
/// shortcut is a strided 1x1 conv produced before the main path's last conv.
fn folded_resnet(gpu: &Gpu, seed: u64) -> Graph {
    let r = &mut rng(seed);
    let mut b = GraphBuilder::new("input", [3, 12, 12]);
    let x = b.input();
    let mut conv = |b: &mut GraphBuilder, name: &str, x, cin, cout, k, cfg| {
        let w = weights(gpu, r, &[cout, cin, k, k], 0.4);
        let bias = weights(gpu, r, &[cout], 0.1);
        b.conv2d(name, x, w, Some(bias), cfg).unwrap()
    };
    let s = conv(&mut b, "stem", x, 3, 8, 3, Conv2d::same(1, 1));
    let s = b.relu("stem.relu", s).unwrap();
    let c1 = conv(&mut b, "b1.conv1", s, 8, 8, 3, Conv2d::same(1, 1));
    let c1 = b.relu("b1.relu1", c1).unwrap();
    let c2 = conv(&mut b, "b1.conv2", c1, 8, 8, 3, Conv2d::same(1, 1));
    let a = b.add("b1.add", c2, s).unwrap();
    let a = b.relu("b1.relu", a).unwrap();
    let short = conv(&mut b, "b2.down", a, 8, 16, 1, Conv2d { stride: [2, 2], ..Default::default() });
    let m = conv(&mut b, "b2.conv1", a, 8, 16, 3, Conv2d::same(1, 2));
    let m = b.relu("b2.relu1", m).unwrap();
    let m = conv(&mut b, "b2.conv2", m, 16, 16, 3, Conv2d::same(1, 1));
    let a = b.add("b2.add", short, m).unwrap();
    let feat = b.relu("features", a).unwrap();
    let gap = b.global_avg_pool2d("gap", feat).unwrap();
    let flat = b.flatten("flatten", gap).unwrap();
    let fc = weights(gpu, r, &[5, 16], 0.5);
    let logits = b.linear("fc", flat, fc, None).unwrap();
    b.build(logits).unwrap()
}

fn input(gpu: &Gpu, shape: [usize; 4], seed: u64) -> (Array, Tensor) {
    let v = random_vec(&mut rng(seed), shape.iter().product());
    (Array::from_f32(shape, &v), Tensor::from_f32(gpu, shape, &v).unwrap())
}

#[test]
fn residual_adds_and_activations_fuse_without_changing_a_bit() {
    let gpu = gpu_or_skip!();
    let g = folded_resnet(gpu, 300);
    let (xa, xt) = input(gpu, [2, 3, 12, 12], 301);
    let all: Vec<_> = g.tensor_ids().collect();
    let run = |keep: &Keep| {
        let mut rec = featuremap::Recorder::new(gpu);
        let acts = g.forward(&mut rec, &xt, keep).unwrap();
        let dispatches = rec.dispatches();
        rec.submit();
        (acts.output().to_f32(gpu).unwrap(), dispatches)
    };
    // A first pass packs the weights of the packed kernel (where the adapter picks it) once;
    // the two passes counted below both reuse them, so they differ by the fusions alone.
    run(&Keep::default());
    let (fused, fused_dispatches) = run(&Keep::default());
    // Every value kept: nothing fuses. Absorbed: stem.relu, b1.relu1, b1.add + b1.relu,
    // b2.relu1, b2.add + features.
    let (plain, plain_dispatches) = run(&Keep::taps(&all));
    assert_eq!(plain_dispatches - fused_dispatches, 7, "{plain_dispatches} unfused, {fused_dispatches} fused");
    assert_eq!(fused, plain, "the fused epilogue sums in the unfused order");
    let want = reference::graph_forward(&g, gpu, &xa, &[]).unwrap();
    let got = Tensor::from_f32(gpu, [2, 5], &fused).unwrap();
    check(gpu, "graph_forward", "fused residual network", &got, &want[g.output().index()], TOL);
    // A pass prepared for a backward pass to b1's output keeps what that needs (the inputs
    // of b2's ReLUs), so less fuses there; the output is still the same to the bit.
    let keep = Keep::backward_to(g.tensor("b1.relu").unwrap());
    let (partial, _) = run(&keep);
    assert_eq!(partial, plain);
}

/// f16 storage next to f32 on the same graph: the output of a forward pass and what it keeps.
fn f16_against_f32(g: &Graph, x: &Tensor, taps: &[featuremap::graph::TensorId]) -> Vec<f64> {
    let gpu = crate::common::gpu().unwrap();
    let mut half = g.clone();
    half.set_storage(gpu, DType::F16).unwrap();
    assert_eq!(half.storage(), DType::F16);
    let keep = Keep::taps(taps);
    let a32 = gpu.run(|rec| g.forward(rec, x, &keep)).unwrap();
    let a16 = gpu.run(|rec| half.forward(rec, x, &keep)).unwrap();
    let mut errs = Vec::new();
    for &t in taps.iter().chain([&g.output()]) {
        let (v16, v32) = (a16.get(t).unwrap(), a32.get(t).unwrap());
        assert_eq!(v16.dtype(), DType::F32, "what a pass hands back is f32");
        let want: Vec<f64> = v32.to_f32(gpu).unwrap().iter().map(|&v| v as f64).collect();
        errs.push(rel_l2(&v16.to_f32(gpu).unwrap(), &want));
    }
    errs
}

fn sci(v: &[f64]) -> String {
    v.iter().map(|e| format!("{e:.2e}")).collect::<Vec<_>>().join(", ")
}

/// A heuristic bound for a few layers in f16 storage: each stored value carries at most 2^-11
/// relative rounding, weights too, and the ~10 roundings on the way to the output add up to
/// about 10 * 4.9e-4 if no layer amplifies them; the measured errors are 10x below.
const F16_NETWORK_TOL: f64 = 5e-3;

#[test]
fn f16_storage_tracks_the_f32_pass() {
    let Some(gpu) = f16_gpu() else { return };
    let g = folded_resnet(gpu, 310);
    let (_, x) = input(gpu, [2, 3, 12, 12], 311);
    let errs = f16_against_f32(&g, &x, &[g.tensor("b1.relu").unwrap(), g.tensor("features").unwrap()]);
    println!("F16-ERROR folded resnet (b1.relu, features, logits): {}", sci(&errs));
    assert!(errs.iter().all(|&e| e < F16_NETWORK_TOL), "{errs:?}");
    // Unfolded batch norm, max pooling and a concat (no f16 kernel: converted at its edges).
    let g = small_resnet(gpu, &mut rng(312), 16, 10);
    let (_, x) = input(gpu, [2, 3, 16, 16], 313);
    let errs = f16_against_f32(&g, &x, &[g.tensor("features").unwrap()]);
    println!("F16-ERROR small resnet (features, logits): {}", sci(&errs));
    assert!(errs.iter().all(|&e| e < F16_NETWORK_TOL), "{errs:?}");

    // Loading weights updates the f16 copies.
    let mut half = small_resnet(gpu, &mut rng(314), 16, 10);
    half.set_storage(gpu, DType::F16).unwrap();
    let path = std::env::temp_dir().join(format!("featuremap-f16-{}.safetensors", std::process::id()));
    g.save_safetensors(gpu, &path).unwrap();
    half.load_safetensors(gpu, &path).unwrap();
    std::fs::remove_file(&path).ok();
    let out = |g: &Graph| gpu.run(|rec| g.forward(rec, &x, &Keep::default())).unwrap().output().to_f32(gpu).unwrap();
    let want: Vec<f64> = out(&g).iter().map(|&v| v as f64).collect();
    assert!(rel_l2(&out(&half), &want) < F16_NETWORK_TOL);
    // Training needs f32.
    let keep = Keep::training(half.input());
    assert!(gpu.run(|rec| half.forward(rec, &x, &keep)).is_err());
}

#[test]
fn grad_cam_with_f16_storage_matches_the_package() {
    let Some(gpu) = f16_gpu() else { return };
    let mut g = from_cam_fixture(gpu);
    g.set_storage(gpu, DType::F16).unwrap();
    let (shape, v) = load_cam_fixture("input");
    let x = Tensor::from_f32(gpu, shape, &v).unwrap();
    let mut opts = CamOptions::new(Method::GradCam, g.tensor("features").unwrap());
    opts.targets = vec![Target::Class(3), Target::Top1];
    let out = cam::explain(gpu, &g, &x, &opts).unwrap();
    let got = out.heatmap.to_f32(gpu).unwrap();
    let (_, want) = load_cam_fixture("cam.gradcam.features");
    let d: Vec<f64> = got.iter().zip(&want).map(|(a, b)| (*a as f64 - *b as f64).abs()).collect();
    let (max, mean) = (d.iter().cloned().fold(0.0, f64::max), d.iter().sum::<f64>() / d.len() as f64);
    println!("F16-CAM gradcam against pytorch-grad-cam: max {max:.2e} mean {mean:.2e}");
    // The bounds of the f32 pass's parity test (tests/graph/cam.rs) hold in f16 storage too.
    assert!(max < 5e-3 && mean < 5e-4, "max {max:.2e} mean {mean:.2e}");
}

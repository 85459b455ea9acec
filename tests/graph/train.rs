//! Whole training steps (training-mode forward, cross-entropy, full backward, optimizer) against
//! PyTorch, and the learning-rate schedule.

use featuremap::graph::{Graph, GraphBuilder};
use featuremap::ops::{Conv2d, Pool2d};
use featuremap::train::{Optimizer, Schedule, Trainer};
use featuremap::{Gpu, Tensor};
use serde_json::Value;

use crate::common::gpu;

/// `tests/fixtures/train/steps.json` (tests/fixtures/make_train_step_fixtures.py).
fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/train/steps.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture present")).unwrap()
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

/// The fixture's network, with its initial parameters: conv (no bias), batch norm, ReLU, max
/// pool, conv, batch norm, ReLU, global average pool, linear.
fn net(gpu: &Gpu, init: &Value) -> Graph {
    let t = |name: &str, shape: &[usize]| Tensor::from_f32(gpu, shape.to_vec(), &f32s(&init[name])).unwrap();
    let mut b = GraphBuilder::new("x", [3, 8, 8]);
    let mut h = b.input();
    for (i, (cin, cout)) in [(3usize, 4usize), (4, 6)].into_iter().enumerate() {
        let (c, bn) = (format!("c{}", i + 1), format!("b{}", i + 1));
        if i > 0 {
            h = b.max_pool2d("pool", h, Pool2d::new(2, 2)).unwrap();
        }
        h = b.conv2d(&c, h, t(&format!("{c}.weight"), &[cout, cin, 3, 3]), None, Conv2d::same(1, 1)).unwrap();
        h = b
            .batch_norm(
                &bn,
                h,
                t(&format!("{bn}.weight"), &[cout]),
                t(&format!("{bn}.bias"), &[cout]),
                t(&format!("{bn}.running_mean"), &[cout]),
                t(&format!("{bn}.running_var"), &[cout]),
                1e-5,
            )
            .unwrap();
        h = b.relu(&format!("relu{}", i + 1), h).unwrap();
    }
    let g = b.global_avg_pool2d("gap", h).unwrap();
    let f = b.flatten("flat", g).unwrap();
    let y = b.linear("fc", f, t("fc.weight", &[3, 6]), Some(t("fc.bias", &[3]))).unwrap();
    b.build(y).unwrap()
}

fn rel_l2(got: &[f32], want: &[f32]) -> f64 {
    let num: f64 = got.iter().zip(want).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
    let den: f64 = want.iter().map(|b| (*b as f64).powi(2)).sum();
    (num / den.max(1e-30)).sqrt()
}

#[test]
fn training_steps_match_pytorch() {
    let Some(gpu) = gpu() else { return };
    let fx = fixture();
    for case in fx["cases"].as_array().unwrap() {
        let kind = case["optimizer"].as_str().unwrap();
        let lr = case["lr"].as_f64().unwrap() as f32;
        let wd = case["weight_decay"].as_f64().unwrap() as f32;
        let graph = net(gpu, &case["init"]);
        let optimizer = match kind {
            "adamw" => Optimizer::adamw(wd),
            _ => Optimizer::Sgd { momentum: 0.9, weight_decay: wd },
        };
        let mut trainer = Trainer::new(gpu, &graph, optimizer).unwrap();
        for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let x = Tensor::from_f32(gpu, [4, 3, 8, 8], &f32s(&step["x"])).unwrap();
            let labels: Vec<u32> =
                step["labels"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
            let y = Tensor::from_u32(gpu, [4], &labels).unwrap();
            let stats = trainer.step(gpu, &graph, &x, &y, lr).unwrap();
            let want = step["loss"].as_f64().unwrap() as f32;
            let err = ((stats.loss - want) / want).abs();
            println!("{kind} step {i}: loss {} vs torch {want} (rel {err:.1e})", stats.loss);
            assert!(err < 1e-5, "{kind} step {i}: loss {} vs {want}", stats.loss);
            assert_eq!(stats.correct as u64, step["correct"].as_u64().unwrap(), "{kind} step {i}: correct");
        }
        assert_eq!(trainer.steps(), 3);
        let mut worst = 0.0f64;
        for (name, t) in graph.named_parameters() {
            let got = t.to_f32(gpu).unwrap();
            let err = rel_l2(&got, &f32s(&case["final"][&name]));
            println!("{kind} {name}: rel L2 {err:.1e} after 3 steps");
            worst = worst.max(err);
        }
        // Every parameter and running statistic after three steps, against PyTorch.
        assert!(worst < 1e-4, "{kind}: worst parameter rel L2 {worst:.2e}");
    }
}

#[test]
fn training_mode_needs_weight_grads() {
    let Some(gpu) = gpu() else { return };
    let graph = net(gpu, &fixture()["cases"][0]["init"]);
    let x = Tensor::zeros(gpu, [2, 3, 8, 8]).unwrap();
    let keep = featuremap::graph::Keep { training: true, ..Default::default() };
    let err = gpu.run(|rec| graph.forward(rec, &x, &keep).map(|_| ())).unwrap_err().to_string();
    assert!(err.contains("weight_grads"), "{err}");
}

#[test]
fn cosine_schedule_warms_up_then_decays_to_zero() {
    let s = Schedule::cosine(0.1, 10, 110);
    assert!((s.lr(0) - 0.01).abs() < 1e-7);
    assert!((s.lr(9) - 0.1).abs() < 1e-7);
    assert!((s.lr(10) - 0.1).abs() < 1e-7);
    assert!((s.lr(60) - 0.05).abs() < 1e-6, "{}", s.lr(60));
    assert!(s.lr(110).abs() < 1e-7 && s.lr(500).abs() < 1e-7);
    let mut prev = f32::INFINITY;
    for step in 10..=110 {
        assert!(s.lr(step) <= prev);
        prev = s.lr(step);
    }
    assert_eq!(Schedule::Constant(0.3).lr(1234), 0.3);
}

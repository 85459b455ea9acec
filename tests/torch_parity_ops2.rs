//! Parity with PyTorch for the ops the ONNX importer needs beyond tests/torch_parity.rs: every
//! case in tests/fixtures/torch_ops2/manifest.json (made by
//! tests/fixtures/make_onnx_op_fixtures.py, which records the torch version) is replayed
//! through the engine's op and compared with PyTorch's float32 output: relative L2 error below
//! 1e-5.

use std::path::PathBuf;

use featuremap::ops::{self, Activation, ConvTranspose2d, NearestCoords, NearestMode, ReduceOp};
use featuremap::{Gpu, Recorder, Tensor};
use serde_json::Value;

const TOL: f64 = 1e-5;

mod support;
use support::{f, npy, pair, quad, rel_l2, u, usizes, Npy};

fn fixtures() -> PathBuf {
    support::root().join("tests/fixtures/torch_ops2")
}

fn load(case: &str, key: &str) -> Npy {
    npy(&fixtures().join(format!("{case}.{key}.npy")))
}

fn upload(gpu: &Gpu, a: &Npy) -> Tensor {
    Tensor::from_f32(gpu, a.shape.clone(), &a.f32).unwrap()
}

/// Runs one case; returns the output tensor.
fn run_case(gpu: &Gpu, rec: &mut Recorder, name: &str, op: &str, a: &Value) -> Tensor {
    let input = |k: &str| upload(gpu, &load(name, k));
    let has = |k: &str| fixtures().join(format!("{name}.{k}.npy")).exists();
    let y = match op {
        "conv_transpose2d" => {
            let cfg = ConvTranspose2d {
                stride: pair(&a["stride"]),
                padding: quad(&a["padding"]),
                output_padding: pair(&a["output_padding"]),
                dilation: pair(&a["dilation"]),
                groups: u(&a["groups"]),
            };
            let b = has("b").then(|| input("b"));
            ops::conv_transpose2d(rec, &input("x"), &input("w"), b.as_ref(), &cfg)
        }
        "resize_nearest" => {
            let coords = match a["coords"].as_str().unwrap() {
                "asymmetric" => NearestCoords::Asymmetric,
                "half_pixel" => NearestCoords::HalfPixel,
                "align_corners" => NearestCoords::AlignCorners,
                m => panic!("unknown coordinate mode {m}"),
            };
            let mode = match a["mode"].as_str().unwrap() {
                "floor" => NearestMode::Floor,
                "round_prefer_floor" => NearestMode::RoundPreferFloor,
                "round_prefer_ceil" => NearestMode::RoundPreferCeil,
                "ceil" => NearestMode::Ceil,
                m => panic!("unknown nearest mode {m}"),
            };
            ops::resize_nearest(rec, &input("x"), pair(&a["size"]), coords, mode)
        }
        "layer_norm" => {
            let b = has("bias").then(|| input("bias"));
            ops::layer_norm(rec, &input("x"), u(&a["axis"]), &input("scale"), b.as_ref(), f(&a["eps"]))
        }
        "prelu" => ops::prelu(rec, &input("x"), &input("slope")),
        "reduce" => {
            let rop = match a["op"].as_str().unwrap() {
                "mean" => ReduceOp::Mean,
                "sum" => ReduceOp::Sum,
                "max" => ReduceOp::Max,
                o => panic!("unknown reduction {o}"),
            };
            ops::reduce(rec, &input("x"), &usizes(&a["axes"]), a["keepdims"].as_bool().unwrap(), rop)
        }
        "slice" => ops::slice(rec, &input("x"), u(&a["axis"]), u(&a["start"]), u(&a["end"]), u(&a["step"])),
        "erf" => ops::activation(rec, &input("x"), Activation::Erf),
        other => panic!("{name}: no runner for op {other}"),
    };
    y.unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_fixture_matches_pytorch() {
    let Some(gpu) = support::gpu() else { return };
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("manifest.json")).unwrap()).unwrap();
    println!("fixtures made with torch {}", manifest["torch"]);
    let cases = manifest["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "manifest lists {} cases", cases.len());
    let mut worst: Vec<(String, f64)> = Vec::new();
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let op = c["op"].as_str().unwrap();
        let mut rec = Recorder::new(&gpu);
        let t = run_case(&gpu, &mut rec, name, op, &c["attrs"]);
        rec.submit();
        let want = load(name, "y");
        assert_eq!(t.dims(), &want.shape[..], "{name}: output shape");
        let got = t.to_f32(&gpu).unwrap();
        let err = rel_l2(&got, &want.f32);
        println!("PARITY {op} {name}.y rel_l2 {err:.3e}");
        assert!(err < TOL, "{name}.y: relative L2 error {err:.3e} against PyTorch >= {TOL:.0e}");
        worst.push((name.to_string(), err));
    }
    worst.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!("largest: {:?}", &worst[..3.min(worst.len())]);
}

//! Parity with PyTorch: every case in tests/fixtures/torch/manifest.json (made by
//! tests/fixtures/make_fixtures.py, which records the torch version) is replayed through the
//! engine's op and compared with PyTorch's float32 output: relative L2 error below 1e-5 for
//! forward ops, below 1e-4 for gradients against torch.autograd.

use std::path::PathBuf;

use featuremap::ops::{self, Activation, BinaryOp, Conv2d, CoordMode, Gemm, Lrn, PadMode, Pool2d};
use featuremap::{Gpu, Recorder, Tensor};
use serde_json::Value;

const TOL: f64 = 1e-5;
/// Gradients against torch.autograd.
const BACKWARD_TOL: f64 = 1e-4;

mod support;
use support::{f, npy, pair, quad, rel_l2, usizes, Npy};

fn fixtures() -> PathBuf {
    support::root().join("tests/fixtures/torch")
}

fn load(case: &str, key: &str) -> Npy {
    npy(&fixtures().join(format!("{case}.{key}.npy")))
}

fn upload(gpu: &Gpu, a: &Npy) -> Tensor {
    Tensor::from_f32(gpu, a.shape.clone(), &a.f32).unwrap()
}

fn activation(name: &str) -> Activation {
    match name {
        "none" => Activation::None,
        "relu" => Activation::Relu,
        "leaky_relu" => Activation::LeakyRelu(0.1),
        "relu6" => Activation::RELU6,
        "sigmoid" => Activation::Sigmoid,
        "silu" => Activation::Silu,
        "hard_sigmoid" => Activation::HARD_SIGMOID,
        "hard_swish" => Activation::HardSwish,
        "gelu" => Activation::Gelu,
        "gelu_tanh" => Activation::GeluTanh,
        "tanh" => Activation::Tanh,
        other => panic!("unknown activation {other}"),
    }
}

fn pool_cfg(a: &Value) -> Pool2d {
    Pool2d {
        kernel: pair(&a["kernel"]),
        stride: pair(&a["stride"]),
        padding: quad(&a["padding"]),
        dilation: pair(&a["dilation"]),
        ceil_mode: a["ceil_mode"].as_bool().unwrap(),
        count_include_pad: a["count_include_pad"].as_bool().unwrap(),
    }
}

/// Runs one case; returns (output key, tensor) pairs to compare, and checks argmax exactly.
fn run_case(gpu: &Gpu, rec: &mut Recorder, name: &str, op: &str, a: &Value) -> Vec<(String, Tensor)> {
    let input = |k: &str| upload(gpu, &load(name, k));
    let y = match op {
        "conv2d" => {
            let cfg = Conv2d {
                stride: pair(&a["stride"]),
                padding: quad(&a["padding"]),
                dilation: pair(&a["dilation"]),
                groups: a["groups"].as_u64().unwrap() as usize,
                activation: activation(a["activation"].as_str().unwrap()),
            };
            let has_bias = fixtures().join(format!("{name}.b.npy")).exists();
            let b = has_bias.then(|| input("b"));
            ops::conv2d(rec, &input("x"), &input("w"), b.as_ref(), &cfg)
        }
        "max_pool2d" => {
            let (y, idx) = ops::max_pool2d(rec, &input("x"), &pool_cfg(a)).unwrap();
            let want = load(name, "argmax");
            let got = pollster_idx(gpu, rec, &idx);
            assert_eq!(got, want.u32, "{name}: argmax indices differ from PyTorch's");
            Ok(y)
        }
        "avg_pool2d" => ops::avg_pool2d(rec, &input("x"), &pool_cfg(a)),
        "global_avg_pool2d" => ops::global_avg_pool2d(rec, &input("x")),
        "global_max_pool2d" => ops::global_max_pool2d(rec, &input("x")),
        "activation" => ops::activation(rec, &input("x"), activation(a["activation"].as_str().unwrap())),
        "batch_norm" => ops::batch_norm(
            rec,
            &input("x"),
            &input("scale"),
            &input("bias"),
            &input("mean"),
            &input("var"),
            f(&a["eps"]),
        ),
        "lrn" => ops::lrn(
            rec,
            &input("x"),
            &Lrn {
                size: a["size"].as_u64().unwrap() as usize,
                alpha: f(&a["alpha"]),
                beta: f(&a["beta"]),
                k: f(&a["k"]),
            },
        ),
        "linear" => ops::linear(rec, &input("x"), &input("w"), Some(&input("b"))),
        "gemm" => ops::gemm(
            rec,
            &input("a"),
            &input("b"),
            Some(&input("c")),
            &Gemm {
                trans_a: a["trans_a"].as_bool().unwrap(),
                trans_b: a["trans_b"].as_bool().unwrap(),
                alpha: f(&a["alpha"]),
                beta: f(&a["beta"]),
                activation: Activation::None,
            },
        ),
        "binary" => {
            let bop = match a["op"].as_str().unwrap() {
                "add" => BinaryOp::Add,
                "sub" => BinaryOp::Sub,
                "mul" => BinaryOp::Mul,
                "div" => BinaryOp::Div,
                o => panic!("unknown binary op {o}"),
            };
            ops::binary(rec, &input("a"), &input("b"), bop)
        }
        "concat" => {
            let xs = [input("x0"), input("x1"), input("x2")];
            ops::concat(rec, &[&xs[0], &xs[1], &xs[2]], a["axis"].as_u64().unwrap() as usize)
        }
        "transpose" => ops::transpose(rec, &input("x"), &usizes(&a["perm"])),
        "channel_shuffle" => ops::channel_shuffle(rec, &input("x"), a["groups"].as_u64().unwrap() as usize),
        "softmax" => ops::softmax(rec, &input("x"), a["axis"].as_u64().unwrap() as usize),
        "log_softmax" => ops::log_softmax(rec, &input("x"), a["axis"].as_u64().unwrap() as usize),
        "pad" => {
            let mode = match a["mode"].as_str().unwrap() {
                "constant" => PadMode::Constant(f(&a["value"])),
                "reflect" => PadMode::Reflect,
                "edge" => PadMode::Edge,
                m => panic!("unknown pad mode {m}"),
            };
            ops::pad(rec, &input("x"), &usizes(&a["pads"]), mode)
        }
        "resize_bilinear" => {
            let mode = match a["mode"].as_str().unwrap() {
                "half_pixel" => CoordMode::HalfPixel,
                "align_corners" => CoordMode::AlignCorners,
                m => panic!("unknown coordinate mode {m}"),
            };
            ops::resize_bilinear(rec, &input("x"), pair(&a["size"]), mode)
        }
        other if other.ends_with("_backward") => return run_backward(gpu, rec, name, op, a),
        other => panic!("{name}: no runner for op {other}"),
    };
    vec![("y".to_string(), y.unwrap_or_else(|e| panic!("{name}: {e}")))]
}

fn conv_cfg(a: &Value) -> Conv2d {
    Conv2d {
        stride: pair(&a["stride"]),
        padding: quad(&a["padding"]),
        dilation: pair(&a["dilation"]),
        groups: a["groups"].as_u64().unwrap() as usize,
        activation: Activation::None,
    }
}

/// Backward cases: gradients keyed like the fixture's outputs (`dx`, `dw`, ...).
fn run_backward(gpu: &Gpu, rec: &mut Recorder, name: &str, op: &str, a: &Value) -> Vec<(String, Tensor)> {
    let input = |k: &str| upload(gpu, &load(name, k));
    let has = |k: &str| fixtures().join(format!("{name}.{k}.npy")).exists();
    let dy = input("dy");
    let e = |r: featuremap::Result<Tensor>| r.unwrap_or_else(|e| panic!("{name}: {e}"));
    let out = |k: &str, t: Tensor| (k.to_string(), t);
    match op {
        "conv2d_backward" => {
            let (x, w) = (input("x"), input("w"));
            let cfg = conv_cfg(a);
            let mut v = vec![
                out("dx", e(ops::conv2d_backward_input(rec, &dy, &w, x.dims(), &cfg))),
                out("dw", e(ops::conv2d_backward_weight(rec, &dy, &x, w.dims(), &cfg))),
            ];
            if has("b") {
                v.push(out("db", e(ops::conv2d_backward_bias(rec, &dy))));
            }
            v
        }
        "max_pool2d_backward" => {
            let x = input("x");
            let (_, idx) = ops::max_pool2d(rec, &x, &pool_cfg(a)).unwrap();
            vec![out("dx", e(ops::max_pool2d_backward(rec, &dy, &idx, x.dims(), &pool_cfg(a))))]
        }
        "avg_pool2d_backward" => {
            vec![out("dx", e(ops::avg_pool2d_backward(rec, &dy, load(name, "x").shape.as_slice(), &pool_cfg(a))))]
        }
        "global_avg_pool2d_backward" => {
            vec![out("dx", e(ops::global_avg_pool2d_backward(rec, &dy, load(name, "x").shape.as_slice())))]
        }
        "global_max_pool2d_backward" => vec![out("dx", e(ops::global_max_pool2d_backward(rec, &dy, &input("x"))))],
        "activation_backward" => {
            vec![out(
                "dx",
                e(ops::activation_backward(rec, &dy, &input("x"), activation(a["activation"].as_str().unwrap()))),
            )]
        }
        "batch_norm_backward" => {
            let eps = f(&a["eps"]);
            let (x, scale, mean, var) = (input("x"), input("scale"), input("mean"), input("var"));
            let (ds, db) = ops::batch_norm_backward_params(rec, &dy, &x, &mean, &var, eps).unwrap();
            vec![
                out("dx", e(ops::batch_norm_backward(rec, &dy, &scale, &var, eps))),
                out("dscale", ds),
                out("dbias", db),
            ]
        }
        "softmax_backward" | "log_softmax_backward" => {
            let x = input("x");
            let axis = a["axis"].as_u64().unwrap() as usize;
            if op == "softmax_backward" {
                let y = e(ops::softmax(rec, &x, axis));
                vec![out("dx", e(ops::softmax_backward(rec, &dy, &y, axis)))]
            } else {
                let y = e(ops::log_softmax(rec, &x, axis));
                vec![out("dx", e(ops::log_softmax_backward(rec, &dy, &y, axis)))]
            }
        }
        "linear_backward" => {
            let (dx, wg) = ops::linear_backward(rec, &dy, &input("x"), &input("w"), true).unwrap();
            let (dw, db) = wg.unwrap();
            vec![out("dx", dx), out("dw", dw), out("db", db)]
        }
        "gemm_backward" => {
            let c = load(name, "c");
            let cfg = Gemm {
                trans_a: a["trans_a"].as_bool().unwrap(),
                trans_b: a["trans_b"].as_bool().unwrap(),
                alpha: f(&a["alpha"]),
                beta: f(&a["beta"]),
                activation: Activation::None,
            };
            let (da, db, dc) = ops::gemm_backward(rec, &dy, &input("a"), &input("b"), Some(&c.shape), &cfg).unwrap();
            vec![out("da", da), out("db", db), out("dc", dc.unwrap())]
        }
        "binary_backward" => {
            let bop = match a["op"].as_str().unwrap() {
                "add" => BinaryOp::Add,
                "sub" => BinaryOp::Sub,
                "mul" => BinaryOp::Mul,
                _ => BinaryOp::Div,
            };
            let (da, db) = ops::binary_backward(rec, &dy, &input("a"), &input("b"), bop).unwrap();
            vec![out("da", da), out("db", db)]
        }
        "concat_backward" => {
            let sizes: Vec<usize> = ["x0", "x1", "x2"].iter().map(|k| load(name, k).shape[1]).collect();
            let parts = ops::split(rec, &dy, a["axis"].as_u64().unwrap() as usize, &sizes).unwrap();
            parts.into_iter().enumerate().map(|(i, t)| out(&format!("dx{i}"), t)).collect()
        }
        other => panic!("{name}: no runner for op {other}"),
    }
}

/// Reads an index tensor back; the recorder's work so far is submitted first.
fn pollster_idx(gpu: &Gpu, rec: &mut Recorder, idx: &Tensor) -> Vec<u32> {
    let pending = std::mem::replace(rec, Recorder::new(gpu));
    pending.submit();
    idx.to_u32(gpu).unwrap()
}

#[test]
fn every_fixture_matches_pytorch() {
    let Some(gpu) = support::gpu() else { return };
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("manifest.json")).unwrap()).unwrap();
    println!("fixtures made with torch {}", manifest["torch"]);
    let cases = manifest["cases"].as_array().unwrap();
    assert!(cases.len() >= 80, "manifest lists {} cases", cases.len());
    let mut worst: Vec<(String, f64)> = Vec::new();
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let op = c["op"].as_str().unwrap();
        let mut rec = Recorder::new(&gpu);
        let outs = run_case(&gpu, &mut rec, name, op, &c["attrs"]);
        rec.submit();
        for (key, t) in outs {
            let want = load(name, &key);
            assert_eq!(t.dims(), &want.shape[..], "{name}: output shape");
            let got = t.to_f32(&gpu).unwrap();
            let err = rel_l2(&got, &want.f32);
            let tol = if op.ends_with("_backward") { BACKWARD_TOL } else { TOL };
            println!("PARITY {op} {name}.{key} rel_l2 {err:.3e}");
            assert!(err < tol, "{name}.{key}: relative L2 error {err:.3e} against PyTorch >= {tol:.0e}");
            worst.push((name.to_string(), err));
        }
    }
    worst.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!("largest: {:?}", &worst[..3.min(worst.len())]);
}

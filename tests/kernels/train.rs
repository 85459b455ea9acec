//! Training kernels against their f64 references: training batch norm (output, saved
//! statistics, running-statistics update, backward), softmax cross-entropy, SGD and AdamW; the
//! reference backward passes against central finite differences of the reference forwards.

use featuremap::reference::{self, Array};
use featuremap::{ops, Tensor};
use rand::Rng;

use crate::common::{check, random_pair, random_vec, rng, TOL};
use crate::gpu_or_skip;

fn wide(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// The shortest decimal of an f32, as f64 (what adamw_step computes its scalars from).
fn decimal(x: f32) -> f64 {
    format!("{x}").parse().unwrap()
}

fn arr(v: &[f64]) -> Array {
    Array::new(vec![v.len()], v.to_vec())
}

/// Relative L2 error of two f64 vectors.
fn rel64(got: &[f64], want: &[f64]) -> f64 {
    let num: f64 = got.iter().zip(want).map(|(g, w)| (g - w) * (g - w)).sum();
    let den: f64 = want.iter().map(|w| w * w).sum();
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

/// Central differences of `f` at `x`, step `h`.
fn numeric_grad(x: &[f64], h: f64, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let mut xs = x.to_vec();
    (0..x.len())
        .map(|i| {
            let x0 = xs[i];
            xs[i] = x0 + h;
            let fp = f(&xs);
            xs[i] = x0 - h;
            let fm = f(&xs);
            xs[i] = x0;
            (fp - fm) / (2.0 * h)
        })
        .collect()
}

/// batch_norm_train forward and the running-statistics update against the reference.
fn bn_case(seed: u64, shape: &[usize], momentum: f32, eps: f32) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let c = shape[1];
    let (xa, xt) = random_pair(gpu, &mut r, shape);
    let s = random_vec(&mut r, c);
    let b = random_vec(&mut r, c);
    let rm = random_vec(&mut r, c);
    let rv: Vec<f32> = (0..c).map(|_| r.random_range(0.1f32..2.0)).collect();
    let [st, bt, rmt, rvt] = [&s, &b, &rm, &rv].map(|d| Tensor::from_f32(gpu, [d.len()], d).unwrap());
    let (y, mean, invstd) =
        gpu.run(|rec| ops::batch_norm_train(rec, &xt, &st, &bt, &rmt, &rvt, momentum, eps)).unwrap();
    let want =
        reference::batch_norm_train(&xa, &wide(&s), &wide(&b), &wide(&rm), &wide(&rv), momentum as f64, eps as f64);
    let case = format!("x={shape:?} momentum={momentum} eps={eps}");
    check(gpu, "batch_norm_train", &case, &y, &want.y, TOL);
    check(gpu, "batch_norm_train.saved_mean", &case, &mean, &arr(&want.mean), TOL);
    check(gpu, "batch_norm_train.saved_invstd", &case, &invstd, &arr(&want.invstd), TOL);
    check(gpu, "batch_norm_train.running_mean", &case, &rmt, &arr(&want.running_mean), TOL);
    check(gpu, "batch_norm_train.running_var", &case, &rvt, &arr(&want.running_var), TOL);
}

#[test]
fn batch_norm_train_forward_shapes() {
    bn_case(1, &[2, 3, 4, 5], 0.1, 1e-5);
    bn_case(2, &[8, 5], 0.1, 1e-5);
    bn_case(3, &[1, 7, 3, 3], 0.3, 1e-3);
    bn_case(4, &[3, 2, 2, 3, 4], 1.0, 1e-5);
    bn_case(5, &[2, 1, 1, 1], 0.0, 1e-5);
    bn_case(6, &[5, 17, 9, 7], 0.1, 1e-5);
}

#[test]
fn batch_norm_train_random_shapes() {
    let mut r = rng(40);
    for i in 0..6 {
        let shape = [r.random_range(1..5), r.random_range(1..12), r.random_range(1..10), r.random_range(2..10)];
        bn_case(200 + i, &shape, [0.1, 0.5, 0.01][i as usize % 3], 1e-5);
    }
}

/// A channel longer than one dispatch's slice (256 invocations * 4096 iterations): the
/// reduction is split across dispatches.
#[test]
fn batch_norm_train_long_channel_split() {
    bn_case(7, &[2, 1, 1024, 600], 0.1, 1e-5);
}

/// Numerical check of the running-statistics update with hand-computed values.
#[test]
fn batch_norm_train_running_stats_numeric() {
    let gpu = gpu_or_skip!();
    // Channel 0 holds 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3); channel 1 holds 2 x 4.
    let x = [1.0f32, 2.0, 2.0, 2.0, 3.0, 4.0, 2.0, 2.0];
    let xt = Tensor::from_f32(gpu, [2, 2, 2, 1], &x).unwrap();
    let ones = Tensor::from_f32(gpu, [2], &[1.0, 1.0]).unwrap();
    let zeros = Tensor::from_f32(gpu, [2], &[0.0, 0.0]).unwrap();
    let rm = Tensor::from_f32(gpu, [2], &[1.0, -1.0]).unwrap();
    let rv = Tensor::from_f32(gpu, [2], &[1.0, 2.0]).unwrap();
    gpu.run(|rec| ops::batch_norm_train(rec, &xt, &ones, &zeros, &rm, &rv, 0.1, 1e-5)).unwrap();
    let rm = rm.to_f32(gpu).unwrap();
    let rv = rv.to_f32(gpu).unwrap();
    let want_m = [0.9 * 1.0 + 0.1 * 2.5, -0.9 + 0.1 * 2.0];
    let want_v = [0.9 * 1.0 + 0.1 * 5.0 / 3.0, 0.9 * 2.0];
    for i in 0..2 {
        assert!((rm[i] as f64 - want_m[i]).abs() < 1e-6, "running_mean[{i}] = {} want {}", rm[i], want_m[i]);
        assert!((rv[i] as f64 - want_v[i]).abs() < 1e-6, "running_var[{i}] = {} want {}", rv[i], want_v[i]);
    }
}

fn bn_backward_case(seed: u64, shape: &[usize]) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let c = shape[1];
    let (xa, xt) = random_pair(gpu, &mut r, shape);
    let (dya, dyt) = random_pair(gpu, &mut r, shape);
    let s = random_vec(&mut r, c);
    let b = random_vec(&mut r, c);
    let zeros = vec![0.0f32; c];
    let ones = vec![1.0f32; c];
    let [st, bt, rmt, rvt] = [&s, &b, &zeros, &ones].map(|d| Tensor::from_f32(gpu, [d.len()], d).unwrap());
    let eps = 1e-5f32;
    let (dx, ds, db) = gpu
        .run(|rec| {
            let (_y, mean, invstd) = ops::batch_norm_train(rec, &xt, &st, &bt, &rmt, &rvt, 0.1, eps)?;
            ops::batch_norm_train_backward(rec, &dyt, &xt, &st, &mean, &invstd)
        })
        .unwrap();
    let fwd = reference::batch_norm_train(&xa, &wide(&s), &wide(&b), &wide(&zeros), &wide(&ones), 0.1, eps as f64);
    let (wdx, wds, wdb) = reference::batch_norm_train_backward(&dya, &xa, &wide(&s), &fwd.mean, &fwd.invstd);
    let case = format!("x={shape:?}");
    check(gpu, "batch_norm_train_backward.dx", &case, &dx, &wdx, TOL);
    check(gpu, "batch_norm_train_backward.dscale", &case, &ds, &wds, TOL);
    check(gpu, "batch_norm_train_backward.dbias", &case, &db, &wdb, TOL);
}

#[test]
fn batch_norm_train_backward_vs_reference() {
    bn_backward_case(50, &[2, 3, 4, 5]);
    bn_backward_case(51, &[6, 4]);
    bn_backward_case(52, &[1, 5, 3, 7]);
    bn_backward_case(53, &[4, 9, 6, 6]);
    // Planes of 40000 values: three slices each on CPU adapters (PLANE_SLICE), the last partial.
    bn_backward_case(54, &[2, 2, 200, 200]);
}

/// The reference backward against central differences of `L = sum(dy * y)` of the reference
/// forward, with respect to x, scale and bias.
#[test]
fn batch_norm_train_backward_finite_differences() {
    let mut r = rng(60);
    for shape in [vec![2usize, 3, 2, 3], vec![5, 2], vec![1, 2, 3, 3]] {
        let c = shape[1];
        let n: usize = shape.iter().product();
        let x = wide(&random_vec(&mut r, n));
        let dy = Array::new(shape.clone(), wide(&random_vec(&mut r, n)));
        let s = wide(&random_vec(&mut r, c));
        let b = wide(&random_vec(&mut r, c));
        let zc = vec![0.0; c];
        let eps = 1e-5;
        let loss = |x: &[f64], s: &[f64], b: &[f64]| {
            let f = reference::batch_norm_train(&Array::new(shape.clone(), x.to_vec()), s, b, &zc, &zc, 0.1, eps);
            f.y.data.iter().zip(&dy.data).map(|(y, g)| y * g).sum::<f64>()
        };
        let xa = Array::new(shape.clone(), x.clone());
        let f = reference::batch_norm_train(&xa, &s, &b, &zc, &zc, 0.1, eps);
        let (dx, ds, db) = reference::batch_norm_train_backward(&dy, &xa, &s, &f.mean, &f.invstd);
        let h = 1e-5;
        let ndx = numeric_grad(&x, h, |x| loss(x, &s, &b));
        let nds = numeric_grad(&s, h, |s| loss(&x, s, &b));
        let ndb = numeric_grad(&b, h, |b| loss(&x, &s, b));
        for (name, got, want) in [("dx", &dx.data, &ndx), ("dscale", &ds.data, &nds), ("dbias", &db.data, &ndb)] {
            let err = rel64(got, want);
            println!("KERNEL-ERROR batch_norm_train_backward.fd.{name} {err:.3e} x={shape:?}");
            assert!(err < 1e-6, "batch_norm_train_backward {name} x={shape:?}: finite-difference error {err:.3e}");
        }
    }
}

fn ce_case(seed: u64, n: usize, k: usize, scale: f32) {
    let gpu = gpu_or_skip!();
    let mut r = rng(seed);
    let logits: Vec<f32> = random_vec(&mut r, n * k).iter().map(|v| v * scale).collect();
    let labels: Vec<u32> = (0..n).map(|_| r.random_range(0..k as u32)).collect();
    let lt = Tensor::from_f32(gpu, [n, k], &logits).unwrap();
    let lab = Tensor::from_u32(gpu, [n], &labels).unwrap();
    let (loss, dl, correct) = gpu.run(|rec| ops::softmax_cross_entropy(rec, &lt, &lab)).unwrap();
    let la = Array::from_f32(vec![n, k], &logits);
    let lu: Vec<usize> = labels.iter().map(|&l| l as usize).collect();
    let (wl, wd, wc) = reference::softmax_cross_entropy(&la, &lu);
    let case = format!("N={n} K={k} scale={scale}");
    check(gpu, "softmax_cross_entropy.loss", &case, &loss, &arr(&[wl]), TOL);
    check(gpu, "softmax_cross_entropy.dlogits", &case, &dl, &wd, TOL);
    let got_c = correct.to_f32(gpu).unwrap();
    assert_eq!(got_c, vec![wc as f32], "softmax_cross_entropy correct {case}");
}

#[test]
fn softmax_cross_entropy_shapes() {
    ce_case(70, 1, 1, 1.0);
    ce_case(71, 4, 10, 3.0);
    ce_case(72, 33, 7, 10.0);
    ce_case(73, 3, 1000, 5.0);
    ce_case(74, 64, 10, 50.0);
    ce_case(75, 2, 257, 1.0);
}

/// A batch longer than one dispatch's slice of the final sum (256 * 4096 rows).
#[test]
fn softmax_cross_entropy_long_batch_split() {
    ce_case(76, 1_100_000, 2, 2.0);
}

/// Argmax ties resolve to the first index (PyTorch), and `correct` counts rows.
#[test]
fn softmax_cross_entropy_correct_count() {
    let gpu = gpu_or_skip!();
    let logits = [1.0f32, 3.0, 3.0, 0.0, 5.0, 2.0, -1.0, -1.0, -1.0, 2.0, 1.0, 0.0];
    let labels = [1u32, 0, 0, 2];
    let lt = Tensor::from_f32(gpu, [4, 3], &logits).unwrap();
    let lab = Tensor::from_u32(gpu, [4], &labels).unwrap();
    let (_, _, correct) = gpu.run(|rec| ops::softmax_cross_entropy(rec, &lt, &lab)).unwrap();
    // Rows: argmax 1 (tie 1/2) == 1; argmax 1 != 0; argmax 0 (all equal) == 0; argmax 0 != 2.
    assert_eq!(correct.to_f32(gpu).unwrap(), vec![2.0]);
}

/// The reference gradient against central differences of the reference loss.
#[test]
fn softmax_cross_entropy_finite_differences() {
    let mut r = rng(80);
    for (n, k) in [(1usize, 3usize), (4, 5), (3, 11)] {
        let x: Vec<f64> = wide(&random_vec(&mut r, n * k)).iter().map(|v| v * 4.0).collect();
        let labels: Vec<usize> = (0..n).map(|_| r.random_range(0..k)).collect();
        let (_, d, _) = reference::softmax_cross_entropy(&Array::new(vec![n, k], x.clone()), &labels);
        let nd = numeric_grad(&x, 1e-5, |x| {
            reference::softmax_cross_entropy(&Array::new(vec![n, k], x.to_vec()), &labels).0
        });
        let err = rel64(&d.data, &nd);
        println!("KERNEL-ERROR softmax_cross_entropy.fd {err:.3e} N={n} K={k}");
        assert!(err < 1e-6, "softmax_cross_entropy N={n} K={k}: finite-difference error {err:.3e}");
    }
}

#[test]
fn sgd_steps_vs_reference() {
    let gpu = gpu_or_skip!();
    let mut r = rng(90);
    for (shape, lr, mu, wd) in
        [(vec![3usize, 4, 3, 3], 0.1f32, 0.9f32, 1e-4f32), (vec![1000], 0.05, 0.0, 0.0), (vec![1], 0.5, 0.5, 0.1)]
    {
        let n: usize = shape.iter().product();
        let w0 = random_vec(&mut r, n);
        let wt = Tensor::from_f32(gpu, shape.clone(), &w0).unwrap();
        let vt = Tensor::zeros(gpu, shape.clone()).unwrap();
        let (mut w, mut v) = (wide(&w0), vec![0.0; n]);
        for step in 0..3 {
            let g = random_vec(&mut r, n);
            let gt = Tensor::from_f32(gpu, shape.clone(), &g).unwrap();
            gpu.run(|rec| ops::sgd_step(rec, &wt, &gt, &vt, lr, mu, wd)).unwrap();
            (w, v) = reference::sgd_step(&w, &wide(&g), &v, lr as f64, mu as f64, wd as f64);
            let case = format!("shape={shape:?} lr={lr} mu={mu} wd={wd} step={step}");
            check(gpu, "sgd_step.w", &case, &wt, &Array::new(shape.clone(), w.clone()), TOL);
            check(gpu, "sgd_step.velocity", &case, &vt, &Array::new(shape.clone(), v.clone()), TOL);
        }
    }
}

#[test]
fn adamw_steps_vs_reference() {
    let gpu = gpu_or_skip!();
    let mut r = rng(100);
    for (shape, lr, wd) in [(vec![4usize, 3, 3, 3], 1e-3f32, 1e-2f32), (vec![777], 1e-2, 0.0), (vec![2, 5], 0.1, 0.5)] {
        let n: usize = shape.iter().product();
        // The GPU derives its f64 scalars from the shortest decimal of each f32, so the
        // reference gets the decimals themselves.
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
        let w0 = random_vec(&mut r, n);
        let wt = Tensor::from_f32(gpu, shape.clone(), &w0).unwrap();
        let mt = Tensor::zeros(gpu, shape.clone()).unwrap();
        let vt = Tensor::zeros(gpu, shape.clone()).unwrap();
        let (mut w, mut m, mut v) = (wide(&w0), vec![0.0; n], vec![0.0; n]);
        for t in 1..=3u32 {
            let g = random_vec(&mut r, n);
            let gt = Tensor::from_f32(gpu, shape.clone(), &g).unwrap();
            gpu.run(|rec| ops::adamw_step(rec, &wt, &gt, &mt, &vt, t, lr, b1 as f32, b2 as f32, eps as f32, wd))
                .unwrap();
            (w, m, v) = reference::adamw_step(&w, &wide(&g), &m, &v, t, decimal(lr), b1, b2, eps, decimal(wd));
            let case = format!("shape={shape:?} lr={lr} wd={wd} t={t}");
            check(gpu, "adamw_step.w", &case, &wt, &Array::new(shape.clone(), w.clone()), TOL);
            check(gpu, "adamw_step.m", &case, &mt, &Array::new(shape.clone(), m.clone()), TOL);
            check(gpu, "adamw_step.v", &case, &vt, &Array::new(shape.clone(), v.clone()), TOL);
        }
    }
}

#[test]
fn bad_shapes_are_errors() {
    let gpu = gpu_or_skip!();
    let t = |shape: &[usize]| Tensor::zeros(gpu, shape.to_vec()).unwrap();
    let x = t(&[2, 3, 4, 4]);
    let (c3, c2) = (t(&[3]), t(&[2]));
    let (rm, rv) = (t(&[3]), t(&[3]));
    let mut rec = featuremap::gpu::Recorder::new(gpu);
    assert!(ops::batch_norm_train(&mut rec, &x, &c2, &c3, &rm, &rv, 0.1, 1e-5).is_err());
    assert!(ops::batch_norm_train(&mut rec, &t(&[5]), &c3, &c3, &rm, &rv, 0.1, 1e-5).is_err());
    assert!(ops::batch_norm_train(&mut rec, &t(&[1, 3, 1, 1]), &c3, &c3, &rm, &rv, 0.1, 1e-5).is_err());
    assert!(ops::batch_norm_train(&mut rec, &x, &c3, &c3, &rm, &rm, 0.1, 1e-5).is_err());
    assert!(ops::batch_norm_train(&mut rec, &x, &c3, &c3, &rm, &rv, 0.1, -1.0).is_err());
    assert!(ops::batch_norm_train_backward(&mut rec, &x, &t(&[2, 3, 4, 5]), &c3, &rm, &rv).is_err());
    assert!(ops::batch_norm_train_backward(&mut rec, &x, &t(&[2, 3, 4, 4]), &c2, &rm, &rv).is_err());
    let logits = t(&[4, 10]);
    let labels = Tensor::from_u32(gpu, [4], &[0, 1, 2, 3]).unwrap();
    assert!(ops::softmax_cross_entropy(&mut rec, &logits, &t(&[4])).is_err());
    assert!(ops::softmax_cross_entropy(&mut rec, &t(&[4, 10, 1]), &labels).is_err());
    assert!(ops::softmax_cross_entropy(&mut rec, &t(&[5, 10]), &labels).is_err());
    assert!(ops::softmax_cross_entropy(&mut rec, &t(&[0, 10]), &Tensor::from_u32(gpu, [0], &[]).unwrap()).is_err());
    let (w, g, v) = (t(&[10]), t(&[10]), t(&[10]));
    assert!(ops::sgd_step(&mut rec, &w, &t(&[11]), &v, 0.1, 0.9, 0.0).is_err());
    assert!(ops::sgd_step(&mut rec, &w, &g, &w, 0.1, 0.9, 0.0).is_err());
    let (m, v2) = (t(&[10]), t(&[10]));
    assert!(ops::adamw_step(&mut rec, &w, &g, &m, &v2, 0, 1e-3, 0.9, 0.999, 1e-8, 0.0).is_err());
    assert!(ops::adamw_step(&mut rec, &w, &g, &m, &t(&[2, 5]), 1, 1e-3, 0.9, 0.999, 1e-8, 0.0).is_err());
    assert!(ops::adamw_step(&mut rec, &w, &g, &m, &m, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0).is_err());
    assert!(ops::adamw_step(&mut rec, &w, &g, &m, &v2, 1, 1e-3, 1.0, 0.999, 1e-8, 0.0).is_err());
    rec.submit();
}

/// The PyTorch fixture `tests/fixtures/train/train.json` (tests/fixtures/make_train_fixtures.py).
fn torch_fixture() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/train/train.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read train.json")).expect("parse train.json")
}

fn f32s(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number") as f32).collect()
}

fn num(v: &serde_json::Value) -> f32 {
    v.as_f64().expect("number") as f32
}

/// Training batch norm (forward, running statistics, backward) against PyTorch.
#[test]
fn torch_parity_batch_norm_train() {
    let gpu = gpu_or_skip!();
    let fx = torch_fixture();
    let b = &fx["batch_norm"];
    let shape: Vec<usize> = b["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    let c = shape[1];
    let tensor = |key: &str, shape: &[usize]| Tensor::from_f32(gpu, shape.to_vec(), &f32s(&b[key])).unwrap();
    let (x, dy) = (tensor("x", &shape), tensor("dy", &shape));
    let [s, bias, rm, rv] = ["scale", "bias", "running_mean", "running_var"].map(|k| tensor(k, &[c]));
    let (y, dx, ds, db) = gpu
        .run(|rec| {
            let (y, mean, invstd) =
                ops::batch_norm_train(rec, &x, &s, &bias, &rm, &rv, num(&b["momentum"]), num(&b["eps"]))?;
            let (dx, ds, db) = ops::batch_norm_train_backward(rec, &dy, &x, &s, &mean, &invstd)?;
            Ok((y, dx, ds, db))
        })
        .unwrap();
    for (name, t, key, shape) in [
        ("y", &y, "y", shape.clone()),
        ("running_mean", &rm, "new_running_mean", vec![c]),
        ("running_var", &rv, "new_running_var", vec![c]),
        ("dx", &dx, "dx", shape.clone()),
        ("dscale", &ds, "dscale", vec![c]),
        ("dbias", &db, "dbias", vec![c]),
    ] {
        let want = Array::from_f32(shape, &f32s(&b[key]));
        check(gpu, &format!("torch.batch_norm_train.{name}"), "fixture", t, &want, TOL);
    }
}

/// Softmax cross-entropy against PyTorch's F.cross_entropy.
#[test]
fn torch_parity_softmax_cross_entropy() {
    let gpu = gpu_or_skip!();
    let fx = torch_fixture();
    let c = &fx["cross_entropy"];
    let (n, k) = (c["n"].as_u64().unwrap() as usize, c["k"].as_u64().unwrap() as usize);
    let labels: Vec<u32> = c["labels"].as_array().unwrap().iter().map(|l| l.as_u64().unwrap() as u32).collect();
    let lt = Tensor::from_f32(gpu, [n, k], &f32s(&c["logits"])).unwrap();
    let lab = Tensor::from_u32(gpu, [n], &labels).unwrap();
    let (loss, dl, correct) = gpu.run(|rec| ops::softmax_cross_entropy(rec, &lt, &lab)).unwrap();
    check(
        gpu,
        "torch.softmax_cross_entropy.loss",
        "fixture",
        &loss,
        &Array::new(vec![1], vec![c["loss"].as_f64().unwrap()]),
        TOL,
    );
    check(
        gpu,
        "torch.softmax_cross_entropy.dlogits",
        "fixture",
        &dl,
        &Array::from_f32(vec![n, k], &f32s(&c["dlogits"])),
        TOL,
    );
    assert_eq!(correct.to_f32(gpu).unwrap(), vec![c["correct"].as_f64().unwrap() as f32]);
}

/// Three steps of SGD and of AdamW against torch.optim.
#[test]
fn torch_parity_optimizers() {
    let gpu = gpu_or_skip!();
    let fx = torch_fixture();
    let s = &fx["sgd"];
    let w0 = f32s(&s["w0"]);
    let n = w0.len();
    let w = Tensor::from_f32(gpu, [n], &w0).unwrap();
    let v = Tensor::zeros(gpu, [n]).unwrap();
    for g in s["grads"].as_array().unwrap() {
        let g = Tensor::from_f32(gpu, [n], &f32s(g)).unwrap();
        gpu.run(|rec| ops::sgd_step(rec, &w, &g, &v, num(&s["lr"]), num(&s["momentum"]), num(&s["weight_decay"])))
            .unwrap();
    }
    check(gpu, "torch.sgd_step.w", "fixture", &w, &Array::from_f32(vec![n], &f32s(&s["w"])), TOL);
    check(gpu, "torch.sgd_step.velocity", "fixture", &v, &Array::from_f32(vec![n], &f32s(&s["velocity"])), TOL);

    let a = &fx["adamw"];
    let w0 = f32s(&a["w0"]);
    let n = w0.len();
    let w = Tensor::from_f32(gpu, [n], &w0).unwrap();
    let m = Tensor::zeros(gpu, [n]).unwrap();
    let v = Tensor::zeros(gpu, [n]).unwrap();
    for (t, g) in a["grads"].as_array().unwrap().iter().enumerate() {
        let g = Tensor::from_f32(gpu, [n], &f32s(g)).unwrap();
        gpu.run(|rec| {
            ops::adamw_step(
                rec,
                &w,
                &g,
                &m,
                &v,
                t as u32 + 1,
                num(&a["lr"]),
                num(&a["beta1"]),
                num(&a["beta2"]),
                num(&a["eps"]),
                num(&a["weight_decay"]),
            )
        })
        .unwrap();
    }
    check(gpu, "torch.adamw_step.w", "fixture", &w, &Array::from_f32(vec![n], &f32s(&a["w"])), TOL);
    check(gpu, "torch.adamw_step.m", "fixture", &m, &Array::from_f32(vec![n], &f32s(&a["m"])), TOL);
    check(gpu, "torch.adamw_step.v", "fixture", &v, &Array::from_f32(vec![n], &f32s(&a["v"])), TOL);
}

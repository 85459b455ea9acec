//! The caches of the GPU handle. Values derived from tensors (the packed kernel's packed
//! weights) are reused while the weights are unchanged, derived again after every kind of
//! write, and never taken from a recording that was not submitted; bind groups are reused by
//! repeated passes without changing what they compute. Each test makes its own `Gpu`, so that
//! the caches' counters see that test's work only.

use std::collections::BTreeMap;
use std::path::Path;

use featuremap::graph::GraphBuilder;
use featuremap::ops::{self, Conv2d, ConvKernel};
use featuremap::reference::{self, Array};
use featuremap::{Gpu, Tensor};

use rand::rngs::StdRng;

use crate::common::{check, random_pair, random_vec, rng, TOL};

/// A GPU of this test's own (after the shared one has said whether tests run at all), the
/// test's seeded generator, and a random input `X` and weights `W` (host and device copies).
#[allow(clippy::type_complexity)]
fn setup(seed: u64) -> Option<(Gpu, StdRng, (Array, Tensor), (Array, Tensor))> {
    let _ = crate::common::gpu()?;
    let gpu = Gpu::new().expect("a second device on the adapter the shared one found");
    let mut r = rng(seed);
    let x = random_pair(&gpu, &mut r, &X);
    let w = random_pair(&gpu, &mut r, &W);
    Some((gpu, r, x, w))
}

const X: [usize; 4] = [2, 8, 6, 5];
const W: [usize; 4] = [16, 8, 3, 3];

fn cfg() -> Conv2d {
    Conv2d::same(1, 1)
}

/// Runs the packed kernel on `x` and `w` and checks it against the reference of `wa`.
fn packed(gpu: &Gpu, x: (&Array, &Tensor), w: (&Array, &Tensor), case: &str) {
    let y = gpu.run(|rec| ops::conv2d_with(rec, x.1, w.1, None, &cfg(), ConvKernel::Packed)).unwrap();
    check(gpu, "conv2d packed", case, &y, &reference::conv2d(x.0, w.0, None, &cfg()), TOL);
}

#[test]
fn packed_weights_are_reused_until_the_weights_are_written() {
    let Some((gpu, mut r, (xa, xt), (wa, wt))) = setup(901) else { return };

    packed(&gpu, (&xa, &xt), (&wa, &wt), "first pass");
    let s = gpu.derived_stats();
    assert_eq!((s.hits, s.misses, s.entries), (0, 1, 1), "the first pass packs: {s:?}");
    // 16 rows, 2 quads of channels, 9 taps, vec4s of f32.
    assert_eq!(s.bytes, 16 * 2 * 9 * 16, "{s:?}");

    packed(&gpu, (&xa, &xt), (&wa, &wt), "second pass");
    let s = gpu.derived_stats();
    assert_eq!((s.hits, s.misses), (1, 1), "the second pass reuses the packed weights: {s:?}");

    // Written from the host, as an app may: the old packing must not be used.
    let new = random_vec(&mut r, W.iter().product());
    gpu.queue().write_buffer(wt.buffer(), 0, bytemuck::cast_slice(&new));
    wt.mark_written();
    let wa2 = Array::from_f32(W.to_vec(), &new);
    packed(&gpu, (&xa, &xt), (&wa2, &wt), "after a host write");
    let s = gpu.derived_stats();
    assert_eq!((s.hits, s.misses, s.entries), (1, 2, 1), "packed again, the stale entry let go: {s:?}");

    // A reshaped clone shares the buffer, and so the state: the same shape reuses the packing,
    // another shape (a 9 x 1 kernel over the same values) is packed on its own.
    let same = wt.reshape(W.to_vec()).unwrap();
    packed(&gpu, (&xa, &xt), (&wa2, &same), "through a reshape");
    assert_eq!(gpu.derived_stats().hits, 2);
    let tall = [16, 8, 9, 1];
    let tall_cfg = Conv2d { padding: [4, 0, 4, 0], ..Default::default() };
    let y = gpu
        .run(|rec| ops::conv2d_with(rec, &xt, &wt.reshape(tall.to_vec())?, None, &tall_cfg, ConvKernel::Packed))
        .unwrap();
    let want = reference::conv2d(&xa, &Array::from_f32(tall.to_vec(), &new), None, &tall_cfg);
    check(&gpu, "conv2d packed", "a 9x1 reshape of the weights", &y, &want, TOL);
    let s = gpu.derived_stats();
    assert_eq!((s.hits, s.misses, s.entries), (2, 3, 2), "the 9x1 view packs on its own: {s:?}");

    gpu.clear_derived();
    assert_eq!(gpu.derived_stats().entries, 0);
    packed(&gpu, (&xa, &xt), (&wa2, &wt), "after clear_derived");
    assert_eq!(gpu.derived_stats().misses, 4);
}

#[test]
fn a_kernel_that_writes_the_weights_invalidates_their_packing() {
    let Some((gpu, mut r, (xa, xt), (wa, wt))) = setup(902) else { return };
    let (ga, gt) = random_pair(&gpu, &mut r, &W);
    let velocity = Tensor::zeros(&gpu, W.to_vec()).unwrap();
    let lr = 0.5f32;
    // SGD without momentum or decay: w - lr * grad.
    let stepped: Vec<f32> = wa.data.iter().zip(&ga.data).map(|(&w, &g)| (w as f32) - lr * g as f32).collect();
    let wb = Array::from_f32(W.to_vec(), &stepped);

    // In one recording: a conv, an optimizer step on its weights, the conv again. The step is
    // recorded after the first conv's packing; the second conv must pack the new weights.
    let (y1, y2) = gpu
        .run(|rec| {
            let y1 = ops::conv2d_with(rec, &xt, &wt, None, &cfg(), ConvKernel::Packed)?;
            ops::sgd_step(rec, &wt, &gt, &velocity, lr, 0.0, 0.0)?;
            let y2 = ops::conv2d_with(rec, &xt, &wt, None, &cfg(), ConvKernel::Packed)?;
            Ok((y1, y2))
        })
        .unwrap();
    check(&gpu, "conv2d packed", "before the step", &y1, &reference::conv2d(&xa, &wa, None, &cfg()), TOL);
    check(&gpu, "conv2d packed", "after the step", &y2, &reference::conv2d(&xa, &wb, None, &cfg()), TOL);
    let s = gpu.derived_stats();
    assert_eq!((s.hits, s.misses), (0, 2), "{s:?}");

    // Two convs over unchanged weights in one recording pack once.
    gpu.run(|rec| {
        ops::conv2d_with(rec, &xt, &wt, None, &cfg(), ConvKernel::Packed)?;
        ops::conv2d_with(rec, &xt, &wt, None, &cfg(), ConvKernel::Packed)
    })
    .unwrap();
    let s = gpu.derived_stats();
    assert_eq!((s.hits, s.misses), (2, 2), "the entry of the first recording serves both: {s:?}");
}

#[test]
fn a_recording_dropped_unsubmitted_leaves_no_packing_behind() {
    let Some((gpu, _, (xa, xt), (wa, wt))) = setup(903) else { return };
    // `run` drops its recording when the closure fails: the packing never ran.
    let failed: featuremap::Result<()> = gpu.run(|rec| {
        ops::conv2d_with(rec, &xt, &wt, None, &cfg(), ConvKernel::Packed)?;
        Err(featuremap::Error::arg("test", "abandon this recording"))
    });
    assert!(failed.is_err());
    assert_eq!(gpu.derived_stats().entries, 0);
    packed(&gpu, (&xa, &xt), (&wa, &wt), "after an abandoned recording");
    let s = gpu.derived_stats();
    assert_eq!((s.hits, s.misses), (0, 2), "{s:?}");
}

#[test]
fn graph_forward_after_load_parameters_uses_the_new_weights() {
    let Some((gpu, mut r, (xa, xt), (wa, wt))) = setup(904) else { return };
    let mut b = GraphBuilder::new("x", X[1..].to_vec());
    let x = b.input();
    let y = b.conv2d("conv", x, wt, None, cfg()).unwrap();
    let graph = b.build(y).unwrap();
    let forward = |case: &str, w: &Array| {
        let acts = gpu.run(|rec| graph.forward(rec, &xt, &Default::default())).unwrap();
        check(&gpu, "graph conv", case, acts.output(), &reference::conv2d(&xa, w, None, &cfg()), TOL);
    };
    // Whichever kernel this adapter picks for the conv, loaded weights are what it uses. CPU
    // adapters pick the packed kernel for it: there the packing is reused, then made again.
    let packs = gpu.adapter().device_type == "Cpu";
    forward("first pass", &wa);
    forward("second pass", &wa);
    if packs {
        let s = gpu.derived_stats();
        assert_eq!((s.hits, s.misses), (1, 1), "{s:?}");
    }
    let new = random_vec(&mut r, W.iter().product());
    let file = BTreeMap::from([("conv.weight".to_string(), (W.to_vec(), new.clone()))]);
    graph.load_parameters(&gpu, &file, Path::new("test")).unwrap();
    forward("after load_parameters", &Array::from_f32(W.to_vec(), &new));
    if packs {
        let s = gpu.derived_stats();
        assert_eq!((s.hits, s.misses), (1, 2), "{s:?}");
    }
}

#[test]
fn a_write_recorded_by_another_open_recording_is_never_cached_around() {
    let Some((gpu, mut r, (xa, xt), (wa, wt))) = setup(907) else { return };
    let (ga, gt) = random_pair(&gpu, &mut r, &W);
    let velocity = Tensor::zeros(&gpu, W.to_vec()).unwrap();
    let stepped: Vec<f32> = wa.data.iter().zip(&ga.data).map(|(&w, &g)| w as f32 - g as f32).collect();
    let wb = Array::from_f32(W.to_vec(), &stepped);
    // Recording A steps the weights but is submitted last; recording B, opened meanwhile,
    // runs first and so convolves the old weights. Its packing must not outlive it.
    let mut a = featuremap::Recorder::new(&gpu);
    ops::sgd_step(&mut a, &wt, &gt, &velocity, 1.0, 0.0, 0.0).unwrap();
    let mut b = featuremap::Recorder::new(&gpu);
    let y_old = ops::conv2d_with(&mut b, &xt, &wt, None, &cfg(), ConvKernel::Packed).unwrap();
    b.submit();
    a.submit();
    check(&gpu, "conv2d packed", "before the step runs", &y_old, &reference::conv2d(&xa, &wa, None, &cfg()), TOL);
    packed(&gpu, (&xa, &xt), (&wb, &wt), "after the step ran");
    let s = gpu.derived_stats();
    assert_eq!((s.hits, s.misses), (0, 2), "nothing served across the pending step: {s:?}");
    packed(&gpu, (&xa, &xt), (&wb, &wt), "once settled");
    assert_eq!(gpu.derived_stats().hits, 1, "cached again once no write is pending");
}

#[test]
fn repeated_passes_reuse_their_bind_groups_and_compute_the_same() {
    let Some((gpu, mut r, (_, xt), (_, wt))) = setup(905) else { return };
    let (_, fc) = random_pair(&gpu, &mut r, &[10, 16]);
    let mut b = GraphBuilder::new("x", X[1..].to_vec());
    let x = b.input();
    let c = b.conv2d("conv", x, wt, None, cfg()).unwrap();
    let a = b.activation("relu", c, ops::Activation::Relu).unwrap();
    let p = b.max_pool2d("pool", a, ops::Pool2d::new(2, 2)).unwrap();
    let g = b.global_avg_pool2d("gap", p).unwrap();
    let f = b.flatten("flat", g).unwrap();
    let y = b.linear("fc", f, fc, None).unwrap();
    let graph = b.build(y).unwrap();
    let pass = || {
        let before = gpu.bind_stats();
        let out = gpu.run(|rec| graph.forward(rec, &xt, &Default::default())).unwrap().output().to_f32(&gpu).unwrap();
        let after = gpu.bind_stats();
        (out, after.hits - before.hits, after.misses - before.misses)
    };
    let (first, _, built) = pass();
    assert!(built > 0);
    // The pool hands out its oldest free buffer first, so every later pass binds the same
    // buffers in the same places: nothing is built again (the first pass also packed weights).
    for i in 2..=4 {
        let (out, hits, misses) = pass();
        assert_eq!(out, first, "pass {i} computed something else");
        assert!(hits > 0 && misses == 0, "pass {i} built {misses} bind groups again, reused {hits}");
    }
}

#[test]
fn f16_weight_copies_follow_loaded_and_stepped_weights() {
    let Some(_) = crate::common::f16_gpu() else { return };
    let Some((gpu, mut r, (_, xt), (_, wt))) = setup(906) else { return };
    let graph_of = |w: Tensor| {
        let mut b = GraphBuilder::new("x", X[1..].to_vec());
        let x = b.input();
        let y = b.conv2d("conv", x, w, None, cfg()).unwrap();
        let mut g = b.build(y).unwrap();
        g.set_storage(&gpu, featuremap::DType::F16).unwrap();
        g
    };
    let forward = |g: &featuremap::graph::Graph| {
        gpu.run(|rec| g.forward(rec, &xt, &Default::default())).unwrap().output().to_f32(&gpu).unwrap()
    };
    // The same f16 pass of a graph built fresh on the new weights: the bits to match.
    let fresh = |values: &[f32]| forward(&graph_of(Tensor::from_f32(&gpu, W.to_vec(), values).unwrap()));
    let graph = graph_of(wt.clone());
    let first = forward(&graph);
    assert_eq!(first, fresh(&wt.to_f32(&gpu).unwrap()));
    assert_eq!(forward(&graph), first, "a second pass over the same f16 copy");

    let new = random_vec(&mut r, W.iter().product());
    let file = BTreeMap::from([("conv.weight".to_string(), (W.to_vec(), new.clone()))]);
    graph.load_parameters(&gpu, &file, Path::new("test")).unwrap();
    assert_eq!(forward(&graph), fresh(&new), "after load_parameters");

    // An optimizer step on the f32 weights, with no call to set_storage after it.
    let grad = Tensor::from_f32(&gpu, W.to_vec(), &random_vec(&mut r, W.iter().product())).unwrap();
    let velocity = Tensor::zeros(&gpu, W.to_vec()).unwrap();
    gpu.run(|rec| ops::sgd_step(rec, &wt, &grad, &velocity, 0.5, 0.0, 0.0)).unwrap();
    assert_eq!(forward(&graph), fresh(&wt.to_f32(&gpu).unwrap()), "after an optimizer step");
}

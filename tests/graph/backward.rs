use featuremap::graph::{Graph, Keep, Op, ReluGrad, TensorId};
use featuremap::reference::{self, Array};
use featuremap::{Gpu, Tensor};
use rand::Rng;

use crate::common::{random_vec, rel_l2, rng};
use crate::gpu_or_skip;
use crate::models::small_resnet;

/// Gradients against central differences of the f64 reference: relative L2 below this.
const FD_TOL: f64 = 1e-4;

fn setup(gpu: &Gpu, seed: u64, n: usize) -> (Graph, Array, Tensor, Array, Tensor) {
    let g = small_resnet(gpu, &mut rng(seed), 16, 10);
    let v = random_vec(&mut rng(seed + 1), n * 3 * 16 * 16);
    let s = random_vec(&mut rng(seed + 2), n * 10);
    (
        g,
        Array::from_f32([n, 3, 16, 16], &v),
        Tensor::from_f32(gpu, [n, 3, 16, 16], &v).unwrap(),
        Array::from_f32([n, 10], &s),
        Tensor::from_f32(gpu, [n, 10], &s).unwrap(),
    )
}

fn sample(len: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut r = rng(seed);
    (0..k).map(|_| r.random_range(0..len)).collect()
}

#[test]
fn input_gradients_match_finite_differences_at_every_depth() {
    let gpu = gpu_or_skip!();
    let (g, xa, xt, sa, st) = setup(gpu, 50, 2);
    for (k, name) in ["features", "block.relu", "stem.pool", "input"].into_iter().enumerate() {
        let target = g.tensor(name).unwrap();
        let grads = gpu
            .run(|rec| {
                let acts = g.forward(rec, &xt, &Keep::backward_to(target))?;
                g.backward(rec, &acts, &st, target, ReluGrad::Standard)
            })
            .unwrap();
        let got = grads.get(target).unwrap().to_f32(gpu).unwrap();
        let at = sample(got.len(), 24, 60 + k as u64);
        let fd = reference::graph_grad_fd(&g, gpu, &xa, &sa, target, &at, 1e-6).unwrap();
        let picked: Vec<f32> = at.iter().map(|&i| got[i]).collect();
        let err = rel_l2(&picked, &fd);
        println!("KERNEL-ERROR graph_backward {err:.3e} to {name}");
        assert!(err < FD_TOL, "gradient to {name}: relative L2 {err:.3e} against finite differences");
    }
}

/// Central difference of the loss with respect to one weight entry, perturbing it on the GPU.
fn weight_fd(gpu: &Gpu, g: &Graph, xa: &Array, sa: &Array, w: &Tensor, i: usize, h: f32) -> f64 {
    let orig = w.to_f32(gpu).unwrap();
    let loss = |delta: f32| {
        let mut v = orig.clone();
        v[i] += delta;
        gpu.queue().write_buffer(w.buffer(), 0, bytemuck::cast_slice(&v));
        w.mark_written(); // as Tensor::buffer asks of direct writes
        let vals = reference::graph_forward(g, gpu, xa, &[]).unwrap();
        vals[g.output().index()].data.iter().zip(&sa.data).map(|(a, b)| a * b).sum::<f64>()
    };
    // f32 weights: divide by the difference of the stored values, not by 2h. The step is small
    // so that no ReLU or max-pool decision flips between the two evaluations.
    let (vp, vm) = (orig[i] + h, orig[i] - h);
    let d = (vp as f64) - (vm as f64);
    let fd = (loss(h) - loss(-h)) / d;
    gpu.queue().write_buffer(w.buffer(), 0, bytemuck::cast_slice(&orig));
    w.mark_written();
    fd
}

#[test]
fn weight_gradients_match_finite_differences() {
    let gpu = gpu_or_skip!();
    let (g, xa, xt, sa, st) = setup(gpu, 70, 2);
    let input = g.input();
    let grads = gpu
        .run(|rec| {
            let keep = Keep { backward_to: Some(input), weight_grads: true, ..Default::default() };
            let acts = g.forward(rec, &xt, &keep)?;
            g.backward(rec, &acts, &st, input, ReluGrad::Standard)
        })
        .unwrap();
    let names: Vec<&str> = grads.params.iter().map(|p| p.0.as_str()).collect();
    for want in ["stem.conv", "stem.bn", "block.2.conv", "down.3x3.conv", "fc"] {
        assert!(names.contains(&want), "no gradient for {want}: {names:?}");
    }
    for (node_name, which) in
        [("stem.conv", 0), ("down.1x1.conv", 0), ("fc", 0), ("fc", 1), ("block.1.bn", 0), ("block.1.bn", 1)]
    {
        let node = g.nodes().iter().find(|n| n.name == node_name).unwrap();
        let param = match (&node.op, which) {
            (Op::Conv2d { weight, .. }, 0) | (Op::Linear { weight, .. }, 0) => weight.clone(),
            (Op::Linear { bias: Some(b), .. }, 1) => b.clone(),
            (Op::BatchNorm { scale, .. }, 0) => scale.clone(),
            (Op::BatchNorm { bias, .. }, 1) => bias.clone(),
            _ => unreachable!(),
        };
        let (_, dw, db) = grads.params.iter().find(|p| p.0 == node_name).unwrap();
        let got = if which == 0 { dw } else { db.as_ref().unwrap() }.to_f32(gpu).unwrap();
        let at = sample(got.len(), 8, 80);
        let fd: Vec<f64> = at.iter().map(|&i| weight_fd(gpu, &g, &xa, &sa, &param, i, 1e-5)).collect();
        let picked: Vec<f32> = at.iter().map(|&i| got[i]).collect();
        let err = rel_l2(&picked, &fd);
        println!("KERNEL-ERROR graph_weight_grad {err:.3e} {node_name}[{which}]");
        assert!(err < FD_TOL, "{node_name} parameter {which}: relative L2 {err:.3e} against finite differences");
    }
}

#[test]
fn backward_needs_a_prepared_forward() {
    let gpu = gpu_or_skip!();
    let (g, _, xt, _, st) = setup(gpu, 90, 1);
    let target: TensorId = g.tensor("features").unwrap();
    let err = gpu
        .run(|rec| {
            let acts = g.forward(rec, &xt, &Keep::default())?;
            g.backward(rec, &acts, &st, target, ReluGrad::Standard)
        })
        .err()
        .unwrap();
    assert!(err.to_string().contains("backward_to"), "{err}");
}

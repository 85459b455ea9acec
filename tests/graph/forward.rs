use featuremap::graph::Keep;
use featuremap::reference::{self, Array};
use featuremap::Tensor;

use crate::common::{check, random_vec, rng, TOL};
use crate::gpu_or_skip;
use crate::models::small_resnet;

fn input(gpu: &featuremap::Gpu, n: usize, size: usize, seed: u64) -> (Array, Tensor) {
    let v = random_vec(&mut rng(seed), n * 3 * size * size);
    (Array::from_f32([n, 3, size, size], &v), Tensor::from_f32(gpu, [n, 3, size, size], &v).unwrap())
}

#[test]
fn forward_matches_the_reference_at_every_tap_for_batch_1_and_3() {
    let gpu = gpu_or_skip!();
    let g = small_resnet(gpu, &mut rng(10), 16, 10);
    for n in [1, 3] {
        let (xa, xt) = input(gpu, n, 16, 11 + n as u64);
        let all: Vec<_> = g.tensor_ids().collect();
        let acts = gpu.run(|rec| g.forward(rec, &xt, &Keep::taps(&all))).unwrap();
        let want = reference::graph_forward(&g, gpu, &xa, &[]).unwrap();
        for t in g.tensor_ids() {
            check(
                gpu,
                "graph_forward",
                &format!("batch {n} tap {}", g.name(t)),
                acts.get(t).unwrap(),
                &want[t.index()],
                TOL,
            );
        }
        check(gpu, "graph_forward", &format!("batch {n} output"), acts.output(), &want[g.output().index()], TOL);
    }
}

#[test]
fn the_memory_plan_recycles_without_changing_results() {
    let gpu = gpu_or_skip!();
    let g = small_resnet(gpu, &mut rng(20), 24, 10);
    let (_, xt) = input(gpu, 2, 24, 21);
    let all: Vec<_> = g.tensor_ids().collect();
    let lean = gpu.run(|rec| g.forward(rec, &xt, &Keep::default())).unwrap();
    let full = gpu.run(|rec| g.forward(rec, &xt, &Keep::taps(&all))).unwrap();
    assert_eq!(lean.output().to_f32(gpu).unwrap(), full.output().to_f32(gpu).unwrap());
    // Only the input and output survive a plain pass.
    assert!(lean.get(g.tensor("block.relu").unwrap()).is_none());

    let report = g.memory_report(2, &Keep::default());
    let keep_all = g.memory_report(2, &Keep::taps(&all));
    println!("memory plan: {report:?}; keeping every tap: {keep_all:?}");
    assert!(report.peak_bytes < report.total_bytes, "{report:?}");
    assert!(report.peak_bytes < keep_all.peak_bytes);
    assert_eq!(keep_all.peak_bytes, keep_all.total_bytes - fused_savings(&g, 2));
}

/// With every tap kept, nothing fuses or recycles except max-pool indices, which are freed at once.
fn fused_savings(g: &featuremap::graph::Graph, n: usize) -> u64 {
    g.nodes()
        .iter()
        .filter(|node| matches!(node.op, featuremap::graph::Op::MaxPool2d(_)))
        .map(|node| (g.shape(node.output, n).iter().product::<usize>() * 4) as u64)
        .sum()
}

#[test]
fn taps_read_back_chosen_channels_and_embeddings() {
    let gpu = gpu_or_skip!();
    let g = small_resnet(gpu, &mut rng(30), 16, 10);
    let (xa, xt) = input(gpu, 2, 16, 31);
    let feat = g.tensor("features").unwrap();
    let acts = gpu.run(|rec| g.forward(rec, &xt, &Keep::taps(&[feat]))).unwrap();
    let want = reference::graph_forward(&g, gpu, &xa, &[]).unwrap();
    let w = &want[feat.index()];
    let [n, c, h, wd] = w.nchw();
    let chans = [5usize, 0, 15];
    let got = acts.read(gpu, &g, feat, Some(&chans)).unwrap();
    let mut expect = Vec::new();
    for b in 0..n {
        for &ch in &chans {
            expect.extend_from_slice(&w.data[(b * c + ch) * h * wd..(b * c + ch + 1) * h * wd]);
        }
    }
    assert!(crate::common::rel_l2(&got, &expect) < TOL);
    assert!(acts.read(gpu, &g, feat, Some(&[16])).is_err());
    assert!(acts.read(gpu, &g, g.tensor("stem.relu").unwrap(), None).is_err(), "not kept");

    let emb = gpu.run(|rec| g.embedding(rec, &acts, feat)).unwrap();
    check(gpu, "embedding", "gap of features", &emb, &Array::new([n, c], reference::global_avg_pool2d(w).data), TOL);
}

#[test]
fn wrong_input_shape_is_an_error() {
    let gpu = gpu_or_skip!();
    let g = small_resnet(gpu, &mut rng(40), 16, 10);
    let x = Tensor::zeros(gpu, [1, 3, 15, 16]).unwrap();
    let err = gpu.run(|rec| g.forward(rec, &x, &Keep::default())).err().unwrap();
    assert!(err.to_string().contains("input"), "{err}");
}

#[test]
fn weights_round_trip_through_safetensors() {
    let gpu = gpu_or_skip!();
    let g = small_resnet(gpu, &mut rng(60), 16, 10);
    let other = small_resnet(gpu, &mut rng(61), 16, 10); // same names and shapes, other values
    let (_, xt) = input(gpu, 1, 16, 62);
    let path = std::env::temp_dir().join(format!("featuremap-weights-{}.safetensors", std::process::id()));
    g.save_safetensors(gpu, &path).unwrap();
    let want =
        gpu.run(|rec| g.forward(rec, &xt, &Keep::default()).map(|a| a.output().clone())).unwrap().to_f32(gpu).unwrap();
    let before = gpu
        .run(|rec| other.forward(rec, &xt, &Keep::default()).map(|a| a.output().clone()))
        .unwrap()
        .to_f32(gpu)
        .unwrap();
    assert_ne!(want, before);
    let n = other.load_safetensors(gpu, &path).unwrap();
    assert_eq!(n, g.named_parameters().len());
    assert!(g.named_parameters().iter().any(|(name, _)| name == "stem.bn.running_var"));
    let after = gpu
        .run(|rec| other.forward(rec, &xt, &Keep::default()).map(|a| a.output().clone()))
        .unwrap()
        .to_f32(gpu)
        .unwrap();
    assert_eq!(want, after, "loaded weights reproduce the saved network exactly");
    // A file for another network is refused, naming the problem.
    let small = {
        let mut b = featuremap::graph::GraphBuilder::new("input", [3, 4, 4]);
        let x = b.input();
        let c = b
            .conv2d(
                "stem.conv",
                x,
                Tensor::zeros(gpu, [8, 3, 3, 3]).unwrap(),
                None,
                featuremap::ops::Conv2d::same(1, 1),
            )
            .unwrap();
        b.build(c).unwrap()
    };
    let err = small.load_safetensors(gpu, &path).unwrap_err().to_string();
    assert!(err.contains("matches no parameter"), "{err}");
    std::fs::remove_file(&path).ok();
}

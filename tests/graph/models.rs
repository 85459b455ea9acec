//! Small random-weight CNNs for graph and CAM tests, built with the graph builder.

use featuremap::graph::{Graph, GraphBuilder, TensorId};
use featuremap::ops::{Conv2d, Pool2d};
use featuremap::{Gpu, Tensor};
use rand::rngs::StdRng;
use rand::Rng;

use crate::common::random_vec;

/// Uploads `n` weights uniform in [-scale, scale).
pub fn weights(gpu: &Gpu, rng: &mut StdRng, shape: &[usize], scale: f32) -> Tensor {
    let v: Vec<f32> = random_vec(rng, shape.iter().product()).iter().map(|x| x * scale).collect();
    Tensor::from_f32(gpu, shape.to_vec(), &v).unwrap()
}

/// conv (no bias) -> batch norm; the ReLU is a separate node so backward passes can run.
#[allow(clippy::too_many_arguments)]
pub fn conv_bn(
    b: &mut GraphBuilder,
    gpu: &Gpu,
    rng: &mut StdRng,
    name: &str,
    x: TensorId,
    cout: usize,
    k: usize,
    cfg: Conv2d,
) -> TensorId {
    let cin = b.item_shape(x)[0];
    let fan_in = (cin * k * k) as f32;
    let w = weights(gpu, rng, &[cout, cin / cfg.groups, k, k], (3.0 / fan_in).sqrt());
    let c = b.conv2d(&format!("{name}.conv"), x, w, None, cfg).unwrap();
    let var: Vec<f32> = (0..cout).map(|_| rng.random_range(0.5f32..1.5)).collect();
    let scale: Vec<f32> = (0..cout).map(|_| rng.random_range(0.5f32..1.5)).collect();
    b.batch_norm(
        &format!("{name}.bn"),
        c,
        Tensor::from_f32(gpu, [cout], &scale).unwrap(),
        weights(gpu, rng, &[cout], 0.1),
        weights(gpu, rng, &[cout], 0.1),
        Tensor::from_f32(gpu, [cout], &var).unwrap(),
        1e-5,
    )
    .unwrap()
}

/// A small ResNet-like classifier on `[3, size, size]` images: stem conv-bn-relu and max pool,
/// a residual basic block, a strided concat branch (1x1 and 3x3 convs), global average pool
/// and a linear layer to `classes` logits. Returns the graph and the name of its last
/// feature map (the CAM layer).
pub fn small_resnet(gpu: &Gpu, rng: &mut StdRng, size: usize, classes: usize) -> Graph {
    let mut b = GraphBuilder::new("input", [3, size, size]);
    let x = b.input();
    let s = conv_bn(&mut b, gpu, rng, "stem", x, 8, 3, Conv2d::same(1, 1));
    let s = b.relu("stem.relu", s).unwrap();
    let p = b.max_pool2d("stem.pool", s, Pool2d { padding: [1; 4], ..Pool2d::new(3, 2) }).unwrap();
    let c1 = conv_bn(&mut b, gpu, rng, "block.1", p, 8, 3, Conv2d::same(1, 1));
    let r1 = b.relu("block.1.relu", c1).unwrap();
    let c2 = conv_bn(&mut b, gpu, rng, "block.2", r1, 8, 3, Conv2d::same(1, 1));
    let sum = b.add("block.add", c2, p).unwrap();
    let r2 = b.relu("block.relu", sum).unwrap();
    let b1 = conv_bn(&mut b, gpu, rng, "down.1x1", r2, 8, 1, Conv2d { stride: [2, 2], ..Default::default() });
    let b2 = conv_bn(&mut b, gpu, rng, "down.3x3", r2, 8, 3, Conv2d::same(1, 2));
    let cat = b.concat("down.cat", &[b1, b2], 1).unwrap();
    let feat = b.relu("features", cat).unwrap();
    let gap = b.global_avg_pool2d("gap", feat).unwrap();
    let flat = b.flatten("flatten", gap).unwrap();
    let fc = weights(gpu, rng, &[classes, 16], 0.5);
    let fc_b = weights(gpu, rng, &[classes], 0.1);
    let logits = b.linear("fc", flat, fc, Some(fc_b)).unwrap();
    b.build(logits).unwrap()
}

/// Reads `tests/fixtures/cam/NAME.npy` as (shape, f32 values).
pub fn load_cam_fixture(name: &str) -> (Vec<usize>, Vec<f32>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cam").join(format!("{name}.npy"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    (shape, npy.into_vec::<f32>().unwrap())
}

/// The network of tests/fixtures/make_cam_fixtures.py, built from its saved weights.
pub fn from_cam_fixture(gpu: &Gpu) -> Graph {
    let t = |name: &str| {
        let (shape, v) = load_cam_fixture(&format!("w.{name}"));
        Tensor::from_f32(gpu, shape, &v).unwrap()
    };
    let mut b = GraphBuilder::new("input", [3, 32, 32]);
    let conv_bn = |b: &mut GraphBuilder, name: &str, torch: &str, x: TensorId, cfg: Conv2d| {
        let c = b.conv2d(&format!("{name}.conv"), x, t(&format!("{torch}_conv.weight")), None, cfg).unwrap();
        let bn = |k: &str| t(&format!("{torch}_bn.{k}"));
        b.batch_norm(&format!("{name}.bn"), c, bn("weight"), bn("bias"), bn("running_mean"), bn("running_var"), 1e-5)
            .unwrap()
    };
    let x = b.input();
    let s = conv_bn(&mut b, "stem", "stem", x, Conv2d::same(1, 1));
    let s = b.relu("stem.relu", s).unwrap();
    let p = b.max_pool2d("stem.pool", s, Pool2d { padding: [1; 4], ..Pool2d::new(3, 2) }).unwrap();
    let c1 = conv_bn(&mut b, "block.1", "b1", p, Conv2d::same(1, 1));
    let r1 = b.relu("block.1.relu", c1).unwrap();
    let c2 = conv_bn(&mut b, "block.2", "b2", r1, Conv2d::same(1, 1));
    let sum = b.add("block.add", c2, p).unwrap();
    let r2 = b.relu("block.relu", sum).unwrap();
    let d1 = conv_bn(&mut b, "down.1x1", "d1", r2, Conv2d { stride: [2, 2], ..Default::default() });
    let d3 = conv_bn(&mut b, "down.3x3", "d3", r2, Conv2d::same(1, 2));
    let cat = b.concat("down.cat", &[d1, d3], 1).unwrap();
    let feat = b.relu("features", cat).unwrap();
    let gap = b.global_avg_pool2d("gap", feat).unwrap();
    let flat = b.flatten("flatten", gap).unwrap();
    let logits = b.linear("fc", flat, t("fc.weight"), Some(t("fc.bias"))).unwrap();
    b.build(logits).unwrap()
}

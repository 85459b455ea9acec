//! Reference network shapes with seeded random weights, for benchmarks and tests: the numbers
//! are meaningless, the shapes and costs are real.

use super::{Graph, GraphBuilder, TensorId};
use crate::ops::{Conv2d, Pool2d};
use crate::rng::Rng;
use crate::{Gpu, Result, Tensor};

fn uniform(gpu: &Gpu, rng: &mut Rng, shape: &[usize], scale: f32) -> Result<Tensor> {
    let v: Vec<f32> = (0..shape.iter().product::<usize>()).map(|_| rng.signed() * scale).collect();
    Tensor::from_f32(gpu, shape.to_vec(), &v)
}

/// conv (with bias: batch norm folded in) followed by a ReLU node unless `relu` is false.
#[allow(clippy::too_many_arguments)]
fn conv(
    b: &mut GraphBuilder,
    gpu: &Gpu,
    rng: &mut Rng,
    name: &str,
    x: TensorId,
    cout: usize,
    k: usize,
    stride: usize,
    relu: bool,
) -> Result<TensorId> {
    let cin = b.item_shape(x)[0];
    // He-style scale keeps activations of a deep random stack in a sane range.
    let scale = (3.0 / (cin * k * k) as f32).sqrt();
    let w = uniform(gpu, rng, &[cout, cin, k, k], scale)?;
    let bias = uniform(gpu, rng, &[cout], 0.01)?;
    let c = b.conv2d(name, x, w, Some(bias), Conv2d::same(k / 2, stride))?;
    if relu {
        b.relu(&format!("{name}.relu"), c)
    } else {
        Ok(c)
    }
}

/// ResNet-18 (torchvision's layout, batch norm folded into the convolutions) on
/// `[3, size, size]` images with `classes` outputs and seeded random weights. Node names follow
/// torchvision (`conv1`, `layer1.0.conv1`, ..., `layer4` for the last block's output, `fc`).
pub fn resnet18(gpu: &Gpu, size: usize, classes: usize, seed: u64) -> Result<Graph> {
    let mut rng = Rng::new(seed);
    let mut b = GraphBuilder::new("input", [3, size, size]);
    let x = b.input();
    let mut h = conv(&mut b, gpu, &mut rng, "conv1", x, 64, 7, 2, true)?;
    h = b.max_pool2d("maxpool", h, Pool2d { padding: [1; 4], ..Pool2d::new(3, 2) })?;
    for (stage, &width) in [64usize, 128, 256, 512].iter().enumerate() {
        for block in 0..2 {
            let p = format!("layer{}.{block}", stage + 1);
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            let a = conv(&mut b, gpu, &mut rng, &format!("{p}.conv1"), h, width, 3, stride, true)?;
            let c = conv(&mut b, gpu, &mut rng, &format!("{p}.conv2"), a, width, 3, 1, false)?;
            let skip = if stride != 1 || b.item_shape(h)[0] != width {
                conv(&mut b, gpu, &mut rng, &format!("{p}.downsample"), h, width, 1, stride, false)?
            } else {
                h
            };
            let sum = b.add(&format!("{p}.add"), c, skip)?;
            let name = if block == 1 { format!("layer{}", stage + 1) } else { format!("{p}.out") };
            h = b.relu(&name, sum)?;
        }
    }
    let gap = b.global_avg_pool2d("avgpool", h)?;
    let flat = b.flatten("flatten", gap)?;
    let fc_w = uniform(gpu, &mut rng, &[classes, 512], (3.0f32 / 512.0).sqrt())?;
    let fc_b = uniform(gpu, &mut rng, &[classes], 0.01)?;
    let y = b.linear("fc", flat, fc_w, Some(fc_b))?;
    b.build(y)
}

use featuremap::ops::{self, Activation};
use featuremap::reference;

use crate::common::{check, random_pair, rng, TOL};
use crate::gpu_or_skip;

const ALL: [Activation; 12] = [
    Activation::None,
    Activation::Relu,
    Activation::LeakyRelu(0.1),
    Activation::RELU6,
    Activation::Clip(-0.25, 0.5),
    Activation::Sigmoid,
    Activation::Silu,
    Activation::HARD_SIGMOID,
    Activation::HardSwish,
    Activation::Gelu,
    Activation::GeluTanh,
    Activation::Tanh,
];

#[test]
fn every_activation_matches_reference() {
    let gpu = gpu_or_skip!();
    let mut r = rng(1);
    for (i, shape) in [vec![1, 1, 1, 1], vec![2, 3, 5, 7], vec![3, 17, 9, 4]].iter().enumerate() {
        let (xa, _) = random_pair(gpu, &mut r, shape);
        // Scale up so the interesting ranges (hard_swish's kinks at +-3, clip at 6) are hit.
        let xa = reference::Array::new(xa.shape.clone(), xa.data.iter().map(|v| v * 8.0).collect());
        let xt =
            featuremap::Tensor::from_f32(gpu, shape.clone(), &xa.data.iter().map(|&v| v as f32).collect::<Vec<_>>())
                .unwrap();
        for act in ALL {
            let y = gpu.run(|rec| ops::activation(rec, &xt, act)).unwrap();
            check(gpu, act.name(), &format!("{shape:?} #{i}"), &y, &reference::activation(&xa, act), TOL);
        }
    }
}

#[test]
fn large_tensor_uses_a_2d_grid() {
    // More than 65535 workgroups of 256: the kernel must fold the grid into y.
    let gpu = gpu_or_skip!();
    let mut r = rng(2);
    let (xa, xt) = random_pair(gpu, &mut r, &[1, 1, 1, 65536 * 256 + 3]);
    let y = gpu.run(|rec| ops::activation(rec, &xt, Activation::Relu)).unwrap();
    check(gpu, "relu", "2-D grid", &y, &reference::activation(&xa, Activation::Relu), TOL);
}

//! The embedded demo model: a small CNN that this engine trained, on its own kernels, to name
//! the eight shapes of [`crate::data`] scenes. It ships inside the library (safetensors,
//! `include_bytes!`), so the tool can show feature maps and Grad-CAM with no model file.
//!
//! The network ([`architecture`]): four stages of 3x3 convolution, batch norm and ReLU with
//! [`WIDTHS`] channels (`stage1` .. `stage4`, 64x64 down to 8x8, a 2x2 max pool between
//! stages), global average pooling and a linear layer to the eight [`CLASSES`]. Its input is a
//! 64x64 RGB image normalised with [`MEAN`] and [`STD`]; [`preprocess`] prepares any picture.
//!
//! ```no_run
//! # fn main() -> featuremap::Result<()> {
//! let gpu = featuremap::Gpu::new()?;
//! let model = featuremap::demo::load(&gpu)?;
//! let scene = featuremap::data::SceneGenerator::new(64, featuremap::data::Split::Test)?.scene(0);
//! let x = featuremap::demo::input_tensor(&gpu, &scene.image)?;
//! let logits = gpu.run(|rec| Ok(model.forward(rec, &x, &Default::default())?.output().clone()))?;
//! # Ok(()) }
//! ```
//!
//! [`train`] reproduces the weights from scratch (`featuremap train-demo --out FILE`).

mod quality;
mod training;

pub use quality::{measure, Quality};
pub use training::{train, Progress, TrainConfig, TrainReport};

use std::path::Path;

use crate::graph::{Graph, GraphBuilder};
use crate::io::{parse_safetensors, Preprocess};
use crate::ops::{Conv2d, Pool2d};
use crate::rng::Rng;
use crate::{Error, Gpu, Result, Tensor};

pub use crate::data::CLASSES;

/// Side of the (square) input image in pixels.
pub const IMAGE_SIZE: usize = 64;
/// Channels of the four stages.
pub const WIDTHS: [usize; 4] = [16, 32, 64, 128];
/// Names of the stage outputs (after the ReLU), from 64x64 to 8x8.
pub const STAGES: [&str; 4] = ["stage1", "stage2", "stage3", "stage4"];
/// The layer Grad-CAM explains by default: the last stage, which the global pool reads.
pub const CAM_LAYER: &str = "stage4";
/// Per-channel mean subtracted from `[0, 1]` RGB values.
pub const MEAN: [f32; 3] = [0.5, 0.5, 0.5];
/// Per-channel standard deviation the centred values are divided by.
pub const STD: [f32; 3] = [0.25, 0.25, 0.25];
/// Batch-norm epsilon.
const EPS: f32 = 1e-5;

/// The trained weights, as committed (`src/demo/weights.safetensors`).
pub static WEIGHTS: &[u8] = include_bytes!("weights.safetensors");

/// How any image becomes the model's input: shorter side resized to 64 (Pillow's antialiased
/// bilinear filter), centre crop 64x64, normalised with [`MEAN`] and [`STD`].
pub fn preprocess() -> Preprocess {
    Preprocess { resize_shorter: Some(IMAGE_SIZE as u32), crop: Some([IMAGE_SIZE as u32; 2]), mean: MEAN, std: STD }
}

/// A batch `[N, 3, 64, 64]` on the GPU from `N` images in [0, 1] one after another (each
/// `[3, 64, 64]`, as a [`crate::data::Scene`] holds it), normalised with [`preprocess`].
pub fn input_tensor(gpu: &Gpu, images: &[f32]) -> Result<Tensor> {
    let per = 3 * IMAGE_SIZE * IMAGE_SIZE;
    if !images.len().is_multiple_of(per) {
        return Err(Error::shape("demo", format!("{} values are not whole 3x64x64 images", images.len())));
    }
    let mut values = images.to_vec();
    let pre = preprocess();
    values.chunks_mut(per).for_each(|img| pre.normalize(img));
    Tensor::from_f32(gpu, [images.len() / per, 3, IMAGE_SIZE, IMAGE_SIZE], &values)
}

/// The demo network with freshly initialised weights (seeded): convolutions uniform in
/// `±sqrt(6 / fan_in)` (He), batch norm at scale 1, shift 0, running mean 0 and variance 1, the
/// linear layer uniform in `±1 / sqrt(fan_in)` (PyTorch's default). Convolutions have no bias
/// (the batch norm after each has one).
pub fn architecture(gpu: &Gpu, seed: u64) -> Result<Graph> {
    let mut rng = Rng::new(seed);
    let mut uniform = |shape: &[usize], bound: f32| -> Result<Tensor> {
        let v: Vec<f32> = (0..shape.iter().product::<usize>()).map(|_| rng.signed() * bound).collect();
        Tensor::from_f32(gpu, shape.to_vec(), &v)
    };
    let mut b = GraphBuilder::new("input", [3, IMAGE_SIZE, IMAGE_SIZE]);
    let mut h = b.input();
    let mut cin = 3;
    for (s, (&width, name)) in WIDTHS.iter().zip(STAGES).enumerate() {
        if s > 0 {
            h = b.max_pool2d(&format!("pool{s}"), h, Pool2d::new(2, 2))?;
        }
        let w = uniform(&[width, cin, 3, 3], (6.0 / (cin * 9) as f32).sqrt())?;
        let c = b.conv2d(&format!("{name}.conv"), h, w, None, Conv2d::same(1, 1))?;
        let ones = Tensor::from_f32(gpu, [width], &vec![1.0; width])?;
        let bn = b.batch_norm(
            &format!("{name}.bn"),
            c,
            ones.clone(),
            Tensor::zeros(gpu, [width])?,
            Tensor::zeros(gpu, [width])?,
            Tensor::from_f32(gpu, [width], &vec![1.0; width])?,
            EPS,
        )?;
        h = b.relu(name, bn)?;
        cin = width;
    }
    let gap = b.global_avg_pool2d("pool", h)?;
    let flat = b.flatten("flatten", gap)?;
    let bound = 1.0 / (cin as f32).sqrt();
    let w = uniform(&[CLASSES.len(), cin], bound)?;
    let bias = uniform(&[CLASSES.len()], bound)?;
    let y = b.linear("fc", flat, w, Some(bias))?;
    b.build(y)
}

/// The demo network with the embedded trained weights.
pub fn load(gpu: &Gpu) -> Result<Graph> {
    let graph = architecture(gpu, 0)?;
    let origin = Path::new("the embedded demo model");
    graph.load_parameters(gpu, &parse_safetensors(WEIGHTS, origin)?, origin)?;
    Ok(graph)
}

//! # featuremap
//!
//! A GPU compute engine for seeing what a convolutional network sees: feature maps layer by
//! layer and Grad-CAM heatmaps, with every numeric kernel a WGSL compute shader dispatched
//! through `wgpu`. It runs on any adapter wgpu reaches (Vulkan, Metal, DX12, GL) and on Mesa's
//! software Vulkan driver (lavapipe) where there is no GPU.
//!
//! ```no_run
//! use featuremap::{ops, Gpu, Tensor};
//! # fn main() -> featuremap::Result<()> {
//! let gpu = Gpu::new()?;
//! let x = Tensor::from_f32(&gpu, [1, 3, 8, 8], &vec![0.5; 3 * 64])?;
//! let w = Tensor::from_f32(&gpu, [4, 3, 3, 3], &vec![0.1; 4 * 27])?;
//! let y = gpu.run(|rec| {
//!     ops::conv2d(rec, &x, &w, None, &ops::Conv2d { padding: [1; 4], ..Default::default() })
//! })?;
//! assert_eq!(y.dims(), &[1, 4, 8, 8]);
//! let maps: Vec<f32> = y.to_f32(&gpu)?; // 4 feature maps of 8 x 8
//! # Ok(()) }
//! ```
//!
//! Layout: [`gpu`](mod@gpu) (device, pipelines, buffer pool, recording, readback),
//! [`tensor`](mod@tensor), [`shaders`](mod@shaders) (the WGSL registry), [`ops`](mod@ops) (one
//! file per op family), [`reference`](mod@reference) (the f64 CPU oracle of every op),
//! [`graph`](mod@graph) (builder, memory plan, forward and backward passes), [`cam`](mod@cam)
//! (the CAM methods), [`import`](mod@import) (ONNX), [`io`](mod@io) (images, .npy,
//! safetensors), [`vis`](mod@vis) (colormaps, overlays, grids), [`data`](mod@data) (seeded
//! labelled scenes for the demo model), [`train`](mod@train) (training steps, optimizers,
//! schedules), [`demo`](mod@demo) (the embedded model this engine trained), [`bench`](mod@bench)
//! (timing and ceiling microbenchmarks).

#![warn(missing_docs)]

pub mod bench;
pub mod cam;
pub mod data;
pub mod demo;
mod error;
pub mod gpu;
pub mod graph;
pub mod import;
pub mod io;
pub mod ops;
pub mod reference;
mod rng;
pub mod shaders;
pub mod tensor;
pub mod train;
pub mod vis;

pub use error::{Error, Result};
pub use gpu::{Gpu, GpuOptions, Recorder};
pub use tensor::{DType, Shape, Tensor};

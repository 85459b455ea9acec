//! An app that already owns a wgpu device hands it to the engine with `Gpu::from_device`,
//! then computes a small stack of feature maps: conv 3x3 (ReLU fused), 2x2 max pool, a strided
//! conv, global average pooling into an embedding.
//!
//! Run: `cargo run --release --example embed_device`

use featuremap::ops::{self, Activation, Conv2d, Pool2d};
use featuremap::{Gpu, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The app's own device, created however the app likes.
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))?;
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))?;
    let gpu = Gpu::from_device(device, queue);
    println!("engine on the app's device: {}", gpu.adapter().name);

    // A 1x3x32x32 input with a bright square, and seeded pseudo-random weights.
    let mut x = vec![0.1f32; 3 * 32 * 32];
    for c in 0..3 {
        for y in 8..20 {
            for xx in 10..22 {
                x[c * 1024 + y * 32 + xx] = 0.9;
            }
        }
    }
    let weights = |n: usize, seed: u32| -> Vec<f32> {
        (0..n)
            .map(|i| ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) as f32 / 16777216.0 - 0.5)
            .collect()
    };
    let x = Tensor::from_f32(&gpu, [1, 3, 32, 32], &x)?;
    let w1 = Tensor::from_f32(&gpu, [16, 3, 3, 3], &weights(16 * 27, 1))?;
    let w2 = Tensor::from_f32(&gpu, [32, 16, 3, 3], &weights(32 * 16 * 9, 2))?;

    // One encoder, one submit for the whole pass.
    let (f1, f2, f3, emb) = gpu.run(|rec| {
        let f1 = ops::conv2d(rec, &x, &w1, None, &Conv2d { activation: Activation::Relu, ..Conv2d::same(1, 1) })?;
        let (f2, _argmax) = ops::max_pool2d(rec, &f1, &Pool2d::new(2, 2))?;
        let f3 = ops::conv2d(rec, &f2, &w2, None, &Conv2d { activation: Activation::Relu, ..Conv2d::same(1, 2) })?;
        let emb = ops::global_avg_pool2d(rec, &f3)?;
        Ok((f1, f2, f3, emb))
    })?;
    for (name, t) in [("conv1", &f1), ("pool1", &f2), ("conv2 (stride 2)", &f3), ("embedding", &emb)] {
        println!("{name:<18} {:?}", t.dims());
    }
    let e = emb.to_f32(&gpu)?;
    println!("embedding[..8] = {:?}", &e[..8]);
    Ok(())
}

//! Kernel benchmarks: conv2d forward, input gradient and weight gradient, each with both kernels
//! (tiled and direct), over the 3x3 shapes of ResNet-18 at batch 1 and the demo model's
//! training shapes at batch 32, reported as GFLOP/s and as a fraction of this adapter's FMA
//! ceiling measured in the same run; plus the ceiling at 32, 16, 8, 4 and 1 FMAs per gathered
//! load, which bounds what a convolution's loads allow.
//!
//! Run: `cargo bench --bench kernels` (set FEATUREMAP_ADAPTER to pick an adapter). Criterion
//! then also times the forward kernels on the ResNet-18 shapes.

use std::time::Duration;

use criterion::{criterion_group, Criterion, Throughput};
use featuremap::ops::{self, Conv2d, ConvKernel};
use featuremap::{bench, Gpu, Tensor};

/// `(name, [N, C_in, H, W], C_out)` of 3x3, stride-1, padding-1 convolutions.
const SHAPES: [(&str, [usize; 4], usize); 8] = [
    ("resnet18 64x56x56", [1, 64, 56, 56], 64),
    ("resnet18 128x28x28", [1, 128, 28, 28], 128),
    ("resnet18 256x14x14", [1, 256, 14, 14], 256),
    ("resnet18 512x7x7", [1, 512, 7, 7], 512),
    ("demo stage1 3->16 @64, batch 32", [32, 3, 64, 64], 16),
    ("demo stage2 16->32 @32, batch 32", [32, 16, 32, 32], 32),
    ("demo stage3 32->64 @16, batch 32", [32, 32, 16, 16], 64),
    ("demo stage4 64->128 @8, batch 32", [32, 64, 8, 8], 128),
];

fn median_ms(gpu: &Gpu, mut record: impl FnMut(&mut featuremap::Recorder) -> featuremap::Result<()>) -> f64 {
    bench::time_gpu(gpu, 1, 5, &mut record).unwrap().median()
}

fn table(gpu: &Gpu) {
    let ceiling = bench::measure_ceiling(gpu, 5).unwrap();
    println!(
        "adapter {}: FMA ceiling {:.1} GFLOP/s, copy {:.1} GB/s",
        ceiling.adapter, ceiling.fma_gflops, ceiling.copy_gbps
    );
    for (fmas, gflops) in &ceiling.fma_per_load {
        println!(
            "  {fmas:>2} FMAs per gathered load: {gflops:6.1} GFLOP/s ({:.0}% of the ceiling)",
            100.0 * gflops / ceiling.fma_gflops
        );
    }
    let cfg = Conv2d::same(1, 1);
    println!("| layer | pass | tiled | direct |");
    println!("|---|---|---|---|");
    for (name, x_shape, cout) in SHAPES {
        let w_shape = [cout, x_shape[1], 3, 3];
        let y_shape = cfg.output_shape(&x_shape, &w_shape).unwrap();
        let x = Tensor::zeros(gpu, x_shape.to_vec()).unwrap();
        let w = Tensor::zeros(gpu, w_shape.to_vec()).unwrap();
        let dy = Tensor::zeros(gpu, y_shape.to_vec()).unwrap();
        let flops = ops::conv2d_flops(y_shape, w_shape) as f64;
        let cell = |ms: f64| {
            let gflops = flops / (ms * 1e-3) / 1e9;
            format!("{ms:.1} ms, {gflops:.2} GFLOP/s ({:.1}%)", 100.0 * gflops / ceiling.fma_gflops)
        };
        for pass in ["forward", "input gradient", "weight gradient"] {
            let mut cells = Vec::new();
            for kernel in [ConvKernel::Tiled, ConvKernel::Direct] {
                let ms = median_ms(gpu, |rec| {
                    match pass {
                        "forward" => ops::conv2d_with(rec, &x, &w, None, &cfg, kernel),
                        "input gradient" => ops::conv2d_backward_input_with(rec, &dy, &w, &x_shape, &cfg, kernel),
                        _ => ops::conv2d_backward_weight_with(rec, &dy, &x, &w_shape, &cfg, kernel),
                    }
                    .map(|_| ())
                });
                cells.push(cell(ms));
            }
            println!("| {name} | {pass} | {} | {} |", cells[0], cells[1]);
        }
    }
}

fn conv_shapes(c: &mut Criterion) {
    let gpu = Gpu::new().expect("a GPU adapter (or lavapipe) is needed for benchmarks");
    table(&gpu);
    let mut group = c.benchmark_group("conv2d_3x3_resnet18");
    group.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    for (name, x_shape, cout) in &SHAPES[..4] {
        let x = Tensor::zeros(&gpu, x_shape.to_vec()).unwrap();
        let w = Tensor::zeros(&gpu, [*cout, x_shape[1], 3, 3]).unwrap();
        let cfg = Conv2d::same(1, 1);
        let flops = ops::conv2d_flops(cfg.output_shape(x.dims(), w.dims()).unwrap(), [*cout, x_shape[1], 3, 3]);
        group.throughput(Throughput::Elements(flops));
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let t =
                    bench::time_gpu(&gpu, 0, iters as usize, |rec| ops::conv2d(rec, &x, &w, None, &cfg).map(|_| ()))
                        .unwrap();
                Duration::from_secs_f64(t.runs_ms.iter().sum::<f64>() * 1e-3)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, conv_shapes);

fn main() {
    // `cargo test --all-targets` builds and runs this file too; only `cargo bench` (which passes
    // --bench) measures, so that no timing is taken in a test run.
    if !std::env::args().any(|a| a == "--bench") {
        println!("kernels bench: run with `cargo bench --bench kernels`; nothing measured in test mode");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

//! Kernel benchmarks: conv2d forward over the 3x3 shapes of ResNet-18 at batch 1, reported as
//! GFLOP/s and as a fraction of this adapter's FMA ceiling measured in the same run.
//!
//! Run: `cargo bench --bench kernels` (set FEATUREMAP_ADAPTER to pick an adapter).

use std::time::Duration;

use criterion::{criterion_group, Criterion, Throughput};
use featuremap::ops::{self, Conv2d};
use featuremap::{bench, Gpu, Tensor};

fn conv_shapes(c: &mut Criterion) {
    let gpu = Gpu::new().expect("a GPU adapter (or lavapipe) is needed for benchmarks");
    let ceiling = bench::measure_ceiling(&gpu, 5).unwrap();
    println!(
        "adapter {}: FMA ceiling {:.1} GFLOP/s, copy {:.1} GB/s",
        ceiling.adapter, ceiling.fma_gflops, ceiling.copy_gbps
    );
    let mut group = c.benchmark_group("conv2d_3x3_resnet18");
    group.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    for (ch, hw) in [(64usize, 56usize), (128, 28), (256, 14), (512, 7)] {
        let x = Tensor::zeros(&gpu, [1, ch, hw, hw]).unwrap();
        let w = Tensor::zeros(&gpu, [ch, ch, 3, 3]).unwrap();
        let cfg = Conv2d::same(1, 1);
        let flops = ops::conv2d_flops([1, ch, hw, hw], [ch, ch, 3, 3]);
        group.throughput(Throughput::Elements(flops));
        let t = bench::time_gpu(&gpu, 1, 5, |rec| ops::conv2d(rec, &x, &w, None, &cfg).map(|_| ())).unwrap();
        let gflops = flops as f64 / (t.median() * 1e-3) / 1e9;
        println!(
            "conv2d 3x3 {ch}x{hw}x{hw}: median {:.2} ms, {gflops:.2} GFLOP/s, {:.1}% of the FMA ceiling",
            t.median(),
            100.0 * gflops / ceiling.fma_gflops
        );
        group.bench_function(format!("{ch}x{hw}x{hw}"), |b| {
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

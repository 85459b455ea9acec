//! Kernel benchmarks: conv2d forward, input gradient and weight gradient, each with every kernel
//! that computes it (tiled, direct, packed, and depthwise for depthwise forwards), over the conv
//! shapes of ResNet-18, ResNet-50, VGG-16 and MobileNetV2 at
//! batch 1 (3x3, 1x1, strided, the 3-channel stems, depthwise) and the demo model's training
//! shapes at batch 32, reported as GFLOP/s and as a fraction of this adapter's FMA ceiling
//! measured in the same run; plus the ceiling at 32, 16, 8, 4 and 1 FMAs per gathered scalar
//! or vec4 load, or per scattered vec4 store, which bound what a convolution's loads and
//! stores allow.
//!
//! Run: `cargo bench --bench kernels` (set FEATUREMAP_ADAPTER to pick an adapter).
//! FEATUREMAP_BENCH_LAYERS (comma-separated words) keeps only the layers whose name contains
//! one of them, FEATUREMAP_BENCH_PASSES (`forward,input,weight`) picks the passes,
//! FEATUREMAP_BENCH_KERNELS (`tiled,direct,depthwise,packed`) the kernels, FEATUREMAP_BENCH_TILES
//! (`all`, or names such as `128x128/8x8`) adds a forward column per tile shape of the tiled
//! kernel, FEATUREMAP_BENCH_EPILOGUE=1 gives the forwards a bias and a ReLU (as a model's convs
//! with batch norm folded in have; none by default), FEATUREMAP_BENCH_BATCH=N runs the batch-1
//! layers at batch N (a weight gradient's reduction grows with it), FEATUREMAP_BENCH_RUNS the
//! timed runs per cell (5), FEATUREMAP_BENCH_SPLIT=1 adds a line per cell with its GPU time
//! (timestamps) split by kernel, and FEATUREMAP_BENCH_COLD=1 takes that split with the caches
//! flushed before each run (in a model, a large layer finds its operands evicted by the layers
//! before it; the cells time them warm):
//! `FEATUREMAP_BENCH_LAYERS=mobilenetv2,resnet50 cargo bench --bench kernels`.
//! Criterion then also times the forward kernels on the ResNet-18 3x3 shapes.

use std::time::Duration;

use criterion::{criterion_group, Criterion, Throughput};
use featuremap::ops::{self, Conv2d, ConvKernel};
use featuremap::{bench, Gpu, Tensor};

/// One convolution: name, input `[N, C_in, H, W]`, `C_out`, kernel size, hyper-parameters.
type Layer = (&'static str, [usize; 4], usize, usize, Conv2d);

/// A square `k`x`k` conv with stride `s`, padding `k / 2`, `g` groups.
const fn conv(k: usize, s: usize, g: usize) -> Conv2d {
    Conv2d {
        stride: [s, s],
        padding: [k / 2; 4],
        dilation: [1, 1],
        groups: g,
        activation: featuremap::ops::Activation::None,
    }
}

const LAYERS: [Layer; 36] = [
    ("resnet18 stem 3->64 7x7 s2 @224", [1, 3, 224, 224], 64, 7, conv(7, 2, 1)),
    ("resnet18 64x56x56", [1, 64, 56, 56], 64, 3, conv(3, 1, 1)),
    ("resnet18 128x28x28", [1, 128, 28, 28], 128, 3, conv(3, 1, 1)),
    ("resnet18 256x14x14", [1, 256, 14, 14], 256, 3, conv(3, 1, 1)),
    ("resnet18 512x7x7", [1, 512, 7, 7], 512, 3, conv(3, 1, 1)),
    ("resnet18 64->128 3x3 s2 @56", [1, 64, 56, 56], 128, 3, conv(3, 2, 1)),
    ("resnet18 downsample 64->128 1x1 s2 @56", [1, 64, 56, 56], 128, 1, conv(1, 2, 1)),
    ("resnet50 1x1 64->256 @56", [1, 64, 56, 56], 256, 1, conv(1, 1, 1)),
    ("resnet50 1x1 256->64 @56", [1, 256, 56, 56], 64, 1, conv(1, 1, 1)),
    ("resnet50 1x1 512->128 @28", [1, 512, 28, 28], 128, 1, conv(1, 1, 1)),
    ("resnet50 1x1 1024->256 @14", [1, 1024, 14, 14], 256, 1, conv(1, 1, 1)),
    ("resnet50 1x1 256->1024 @14", [1, 256, 14, 14], 1024, 1, conv(1, 1, 1)),
    ("resnet50 1x1 2048->512 @7", [1, 2048, 7, 7], 512, 1, conv(1, 1, 1)),
    ("resnet50 downsample 256->512 1x1 s2 @56", [1, 256, 56, 56], 512, 1, conv(1, 2, 1)),
    ("resnet50 downsample 512->1024 1x1 s2 @28", [1, 512, 28, 28], 1024, 1, conv(1, 2, 1)),
    ("vgg16 3->64 @224", [1, 3, 224, 224], 64, 3, conv(3, 1, 1)),
    ("vgg16 64->64 @224", [1, 64, 224, 224], 64, 3, conv(3, 1, 1)),
    ("vgg16 128->128 @112", [1, 128, 112, 112], 128, 3, conv(3, 1, 1)),
    ("vgg16 256->256 @56", [1, 256, 56, 56], 256, 3, conv(3, 1, 1)),
    ("vgg16 512->512 @28", [1, 512, 28, 28], 512, 3, conv(3, 1, 1)),
    ("vgg16 512->512 @14", [1, 512, 14, 14], 512, 3, conv(3, 1, 1)),
    ("mobilenetv2 stem 3->32 3x3 s2 @224", [1, 3, 224, 224], 32, 3, conv(3, 2, 1)),
    ("mobilenetv2 depthwise 32 @112", [1, 32, 112, 112], 32, 3, conv(3, 1, 32)),
    ("mobilenetv2 depthwise 144 s2 @56", [1, 144, 56, 56], 144, 3, conv(3, 2, 144)),
    ("mobilenetv2 depthwise 192 @28", [1, 192, 28, 28], 192, 3, conv(3, 1, 192)),
    ("mobilenetv2 depthwise 576 @14", [1, 576, 14, 14], 576, 3, conv(3, 1, 576)),
    ("mobilenetv2 depthwise 960 @7", [1, 960, 7, 7], 960, 3, conv(3, 1, 960)),
    ("mobilenetv2 depthwise 96 s2 @112", [1, 96, 112, 112], 96, 3, conv(3, 2, 96)),
    ("mobilenetv2 1x1 expand 16->96 @112", [1, 16, 112, 112], 96, 1, conv(1, 1, 1)),
    ("mobilenetv2 1x1 expand 24->144 @56", [1, 24, 56, 56], 144, 1, conv(1, 1, 1)),
    ("mobilenetv2 1x1 project 192->32 @28", [1, 192, 28, 28], 32, 1, conv(1, 1, 1)),
    ("mobilenetv2 1x1 960->160 @7", [1, 960, 7, 7], 160, 1, conv(1, 1, 1)),
    ("demo stage1 3->16 @64, batch 32", [32, 3, 64, 64], 16, 3, conv(3, 1, 1)),
    ("demo stage2 16->32 @32, batch 32", [32, 16, 32, 32], 32, 3, conv(3, 1, 1)),
    ("demo stage3 32->64 @16, batch 32", [32, 32, 16, 16], 64, 3, conv(3, 1, 1)),
    ("demo stage4 64->128 @8, batch 32", [32, 64, 8, 8], 128, 3, conv(3, 1, 1)),
];

/// The layer-name filters of FEATUREMAP_BENCH_LAYERS (none: every layer).
fn filters() -> Vec<String> {
    let v = std::env::var("FEATUREMAP_BENCH_LAYERS").unwrap_or_default();
    v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

/// Timed runs per cell: FEATUREMAP_BENCH_RUNS, 5 by default (more keep one kernel running long
/// enough for benches/profile_jit.sh to sample it).
fn runs() -> usize {
    std::env::var("FEATUREMAP_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5)
}

fn median_ms(gpu: &Gpu, mut record: impl FnMut(&mut featuremap::Recorder) -> featuremap::Result<()>) -> f64 {
    bench::time_gpu(gpu, 1, runs(), &mut record).unwrap().median()
}

/// How one run of `record` splits over the kernels it dispatches: per entry point, the median
/// over `runs()` runs of its GPU time (timestamps, summed over its dispatches in a run); and
/// the median of the runs' totals, the pass's GPU time without the submit and the wait that
/// the wall-clock cell also holds.
///
/// With `flush`, each run first copies one of its buffers into the other (a command, not a
/// dispatch, so outside the timestamps): with buffers twice the last-level cache, that evicts
/// the operands the previous run left there.
fn split_by_entry(
    gpu: &Gpu,
    flush: Option<&(wgpu::Buffer, wgpu::Buffer)>,
    mut record: impl FnMut(&mut featuremap::Recorder) -> featuremap::Result<()>,
) -> (String, f64) {
    let mut per_entry: Vec<(String, Vec<f64>)> = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..runs() {
        let mut rec = featuremap::Recorder::with_timestamps(gpu, 2048).unwrap();
        rec.scope_by_entry();
        if let Some((from, to)) = flush {
            rec.encoder().copy_buffer_to_buffer(from, 0, to, 0, from.size());
        }
        record(&mut rec).unwrap();
        let scopes = rec.submit_timed().unwrap();
        totals.push(scopes.iter().map(|(_, ms)| ms).sum::<f64>());
        for (entry, ms) in scopes {
            match per_entry.iter_mut().find(|(e, _)| *e == entry) {
                Some((_, v)) => v.push(ms),
                None => per_entry.push((entry, vec![ms])),
            }
        }
    }
    let median = |runs_ms: Vec<f64>| bench::Timings { runs_ms }.median();
    let entries = per_entry.into_iter().map(|(e, v)| format!("{e} {:.2} ms", median(v))).collect::<Vec<_>>();
    (entries.join(", "), median(totals))
}

/// A 64 MiB buffer, twice the last-level cache of the 2-core VMs this bench was tuned on
/// (32 MiB L3), for [`split_by_entry`]'s flush.
fn flush_buffer(gpu: &Gpu) -> wgpu::Buffer {
    gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some("kernel bench cache flush"),
        size: 64 << 20,
        usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
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
    for (fmas, gflops) in &ceiling.fma_per_vec4_load {
        println!(
            "  {fmas:>2} FMAs per gathered vec4 load: {gflops:6.1} GFLOP/s ({:.0}% of the ceiling)",
            100.0 * gflops / ceiling.fma_gflops
        );
    }
    for (fmas, gflops) in &ceiling.fma_per_vec4_store {
        println!(
            "  {fmas:>2} FMAs per scattered vec4 store: {gflops:6.1} GFLOP/s ({:.0}% of the ceiling)",
            100.0 * gflops / ceiling.fma_gflops
        );
    }
    let filters = filters();
    let passes = std::env::var("FEATUREMAP_BENCH_PASSES").unwrap_or_else(|_| "forward,input,weight".into());
    let kernels: Vec<ConvKernel> = ConvKernel::ALL.into_iter().filter(|k| kernel_wanted(k.name())).collect();
    let tiles = tiles_wanted();
    let heads: Vec<String> =
        kernels.iter().map(|k| k.name().to_string()).chain(tiles.iter().map(|t| format!("tiled {}", t.name))).collect();
    println!("| layer | pass | {} |", heads.join(" | "));
    println!("|---|---|{}", "---|".repeat(heads.len()));
    let epilogue = std::env::var("FEATUREMAP_BENCH_EPILOGUE").is_ok_and(|v| v == "1");
    let cold = std::env::var("FEATUREMAP_BENCH_COLD").is_ok_and(|v| v == "1");
    let split = cold || std::env::var("FEATUREMAP_BENCH_SPLIT").is_ok_and(|v| v == "1");
    let flush = cold.then(|| [(); 2].map(|_| flush_buffer(gpu))).map(|[a, b]| (a, b));
    let batch: usize = std::env::var("FEATUREMAP_BENCH_BATCH").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    for (name, mut x_shape, cout, k, cfg) in LAYERS {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        if x_shape[0] == 1 {
            x_shape[0] = batch;
        }
        let name = if x_shape[0] == 1 { name.to_string() } else { format!("{name}, batch {}", x_shape[0]) };
        let name = name.as_str();
        let bias = epilogue.then(|| Tensor::zeros(gpu, [cout]).unwrap());
        let forward_cfg = if epilogue { Conv2d { activation: ops::Activation::Relu, ..cfg } } else { cfg };
        let w_shape = [cout, x_shape[1] / cfg.groups, k, k];
        let y_shape = cfg.output_shape(&x_shape, &w_shape).unwrap();
        let x = Tensor::zeros(gpu, x_shape.to_vec()).unwrap();
        let w = Tensor::zeros(gpu, w_shape.to_vec()).unwrap();
        let dy = Tensor::zeros(gpu, y_shape.to_vec()).unwrap();
        let flops = ops::conv2d_flops(y_shape, w_shape) as f64;
        let cell = |ms: f64| {
            let gflops = flops / (ms * 1e-3) / 1e9;
            format!("{ms:.1} ms, {gflops:.2} GFLOP/s ({:.1}%)", 100.0 * gflops / ceiling.fma_gflops)
        };
        for pass in ["forward", "input", "weight"] {
            if !passes.split(',').any(|p| p.trim() == pass) {
                continue;
            }
            let mut cells = Vec::new();
            let mut splits = Vec::new();
            for &kernel in &kernels {
                let applies = match pass {
                    "forward" => ConvKernel::forward_kernels(w_shape[1]).contains(&kernel),
                    "input" => ops::input_grad_kernels(&cfg, w_shape).contains(&kernel),
                    _ => ops::weight_grad_kernels(w_shape).contains(&kernel),
                };
                if !applies {
                    cells.push("-".to_string());
                    continue;
                }
                let mut run = |rec: &mut featuremap::Recorder| {
                    match pass {
                        "forward" => ops::conv2d_with(rec, &x, &w, bias.as_ref(), &forward_cfg, kernel),
                        "input" => ops::conv2d_backward_input_with(rec, &dy, &w, &x_shape, &cfg, kernel),
                        _ => ops::conv2d_backward_weight_with(rec, &dy, &x, &w_shape, &cfg, kernel),
                    }
                    .map(|_| ())
                };
                let ms = median_ms(gpu, &mut run);
                cells.push(cell(ms));
                if split {
                    let (entries, gpu_ms) = split_by_entry(gpu, flush.as_ref(), run);
                    let time = if cold { "GPU time, caches flushed," } else { "GPU time" };
                    splits.push(format!("{name} {pass} ({}): {time} {}; {entries}", kernel.name(), cell(gpu_ms)));
                }
            }
            for &tile in &tiles {
                if pass != "forward" {
                    cells.push("-".to_string());
                    continue;
                }
                cells.push(cell(median_ms(gpu, |rec| {
                    ops::conv2d_tiled(rec, &x, &w, bias.as_ref(), &forward_cfg, tile).map(|_| ())
                })));
            }
            let pass = match pass {
                "forward" => "forward",
                "input" => "input gradient",
                _ => "weight gradient",
            };
            println!("| {name} | {pass} | {} |", cells.join(" | "));
            for line in splits {
                println!("  split: {line}");
            }
        }
    }
}

/// The tiled kernel's tile shapes named in FEATUREMAP_BENCH_TILES (comma-separated names such
/// as `128x128/8x8`, or `all`; none when unset) that fit the device: forward columns of their own.
fn tiles_wanted() -> Vec<ops::TileShape> {
    let v = std::env::var("FEATUREMAP_BENCH_TILES").unwrap_or_default();
    let names: Vec<&str> = v.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    ops::TileShape::ALL.into_iter().filter(|t| names.iter().any(|n| *n == "all" || *n == t.name)).collect()
}

/// Whether FEATUREMAP_BENCH_KERNELS (comma-separated names; all when unset) keeps `name`.
fn kernel_wanted(name: &str) -> bool {
    match std::env::var("FEATUREMAP_BENCH_KERNELS") {
        Ok(v) => v.split(',').any(|k| k.trim() == name),
        Err(_) => true,
    }
}

fn conv_shapes(c: &mut Criterion) {
    let gpu = Gpu::new().expect("a GPU adapter (or lavapipe) is needed for benchmarks");
    table(&gpu);
    let mut group = c.benchmark_group("conv2d_3x3_resnet18");
    group.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    let filters = filters();
    for (name, x_shape, cout, _, _) in &LAYERS[1..5] {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
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

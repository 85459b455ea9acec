//! Per-method CAM latency on a ResNet-18-shaped graph (random weights, batch norm folded) at
//! 224 x 224, batch 1 and 8, end to end to a heatmap in host memory; plus the peak buffer bytes
//! of forward plus partial backward (the memory plan's figure and the buffer pool's measured one).
//!
//! Run: `cargo bench --bench cam` (FEATUREMAP_ADAPTER picks the adapter; FEATUREMAP_BENCH_BATCHES
//! overrides the batch sizes, e.g. `1`; FEATUREMAP_FULL_SCORECAM=1 runs Score-CAM in full
//! instead of extrapolating it from one batch of masked inputs).

use std::time::Instant;

use featuremap::cam::{self, CamOptions, Method};
use featuremap::graph::{zoo, Keep};
use featuremap::{bench, Gpu, Tensor};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Median wall time in ms of `f` (which must end with the result read back), after a warm-up.
fn time(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("cam bench: run with `cargo bench --bench cam`; nothing measured in test mode");
        return;
    }
    let gpu = Gpu::new().expect("a GPU adapter (or lavapipe) is needed for benchmarks");
    let adapter = gpu.adapter().clone();
    let ceiling = bench::measure_ceiling(&gpu, 3).unwrap();
    let g = zoo::resnet18(&gpu, 224, 1000, 7).unwrap();
    let layer = g.tensor("layer4").unwrap();
    let batches: Vec<usize> = std::env::var("FEATUREMAP_BENCH_BATCHES")
        .ok()
        .map(|s| s.split(',').map(|b| b.trim().parse().unwrap()).collect())
        .unwrap_or(vec![1, 8]);
    let full_scorecam = std::env::var("FEATUREMAP_FULL_SCORECAM").is_ok_and(|v| v == "1");
    println!(
        "# CAM latency, ResNet-18 shape at 224x224, adapter {} ({}, {} {}), FMA ceiling {:.1} GFLOP/s",
        adapter.name, adapter.backend, adapter.driver, adapter.driver_info, ceiling.fma_gflops
    );
    let mut rows = Vec::new();
    for &n in &batches {
        let x = Tensor::from_f32(&gpu, [n, 3, 224, 224], &vec![0.25; n * 3 * 224 * 224]).unwrap();
        let runs = if n == 1 { 3 } else { 2 };
        let fwd = time(runs, || {
            let out = gpu.run(|rec| g.forward(rec, &x, &Keep::default()).map(|a| a.output().clone())).unwrap();
            out.to_f32(&gpu).unwrap();
        });
        println!("batch {n}: forward {fwd:.0} ms");
        rows.push((n, "forward".to_string(), fwd, false));

        // Peak bytes of forward + partial backward to layer4.
        let plan = g.memory_report(n, &Keep::backward_to(layer));
        gpu.synchronize().unwrap();
        gpu.trim();
        gpu.pool().reset_peak();
        let base = gpu.pool().stats().live_bytes;
        let opts = CamOptions::new(Method::GradCam, layer);
        cam::explain(&gpu, &g, &x, &opts).unwrap().heatmap.to_f32(&gpu).unwrap();
        let measured = gpu.pool().stats().peak_live_bytes - base;
        println!(
            "batch {n}: forward + partial backward peak: plan {:.1} MB (all activations {:.1} MB), buffer pool {:.1} MB",
            plan.peak_bytes as f64 / 1e6,
            plan.total_bytes as f64 / 1e6,
            measured as f64 / 1e6
        );

        for method in Method::ALL {
            let mut opts = CamOptions::new(method, layer);
            opts.targets = vec![];
            if method == Method::ScoreCam && !full_scorecam {
                // One batch of 16 masked inputs per image, scaled to the 512 channels of layer4.
                let masked = Tensor::from_f32(&gpu, [16, 3, 224, 224], &vec![0.1; 16 * 3 * 224 * 224]).unwrap();
                let one = time(1, || {
                    let out =
                        gpu.run(|rec| g.forward(rec, &masked, &Keep::default()).map(|a| a.output().clone())).unwrap();
                    out.to_f32(&gpu).unwrap();
                });
                let est = fwd + n as f64 * 512.0 / 16.0 * one;
                println!("batch {n}: {:<13} ~{est:.0} ms (extrapolated: forward + {n} x 32 batches of 16 masked inputs at {one:.0} ms)", method.name());
                rows.push((n, method.name().to_string(), est, true));
                continue;
            }
            let ms = time(if method == Method::ScoreCam { 0 } else { runs }, || {
                cam::explain(&gpu, &g, &x, &opts).unwrap().heatmap.to_f32(&gpu).unwrap();
            });
            println!("batch {n}: {:<13} {ms:.0} ms ({:.2}x forward)", method.name(), ms / fwd);
            rows.push((n, method.name().to_string(), ms, false));
        }
        let ms = time(runs, || {
            cam::guided_backprop(&gpu, &g, &x, &[]).unwrap().to_f32(&gpu).unwrap();
        });
        println!("batch {n}: {:<13} {ms:.0} ms ({:.2}x forward)", "guided_bp", ms / fwd);
        rows.push((n, "guided_backprop".to_string(), ms, false));
    }
    let json: Vec<_> = rows
        .iter()
        .map(|(n, m, ms, est)| serde_json::json!({"batch": n, "method": m, "ms_median": ms, "extrapolated": est}))
        .collect();
    println!("{}", serde_json::json!({"adapter": adapter.name, "results": json}));
}

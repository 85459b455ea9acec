//! `featuremap bench`: the adapter's ceilings, or a model's forward (and CAM) latency.

use std::path::PathBuf;
use std::time::Instant;

use featuremap::cam::{self, CamOptions, Method};
use featuremap::graph::Keep;
use featuremap::{bench, Error, Gpu, Result, Tensor};

#[derive(clap::Args)]
pub struct Args {
    /// The model to time: an .onnx file, or `demo` for the embedded shapes model; omit with --ceiling.
    model: Option<PathBuf>,
    /// Measure the adapter's FMA throughput and copy bandwidth with microkernels.
    #[arg(long)]
    ceiling: bool,
    /// Batch size of the model runs.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Timed runs (the median is reported).
    #[arg(long, alias = "runs", default_value_t = 7)]
    iters: usize,
    /// Also time Grad-CAM on this layer (forward, partial backward, heatmap in host memory);
    /// `demo` has stage1 .. stage4.
    #[arg(long)]
    cam: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let med = if n % 2 == 1 { s[n / 2] } else { 0.5 * (s[n / 2 - 1] + s[n / 2]) };
    (med, s[0], s[n - 1])
}

pub fn run(gpu: &Gpu, args: &Args) -> Result<()> {
    if args.iters == 0 || args.batch == 0 {
        return Err(Error::arg("bench", "--iters and --batch must be at least 1"));
    }
    if args.ceiling {
        return ceiling(gpu, args);
    }
    let Some(model) = &args.model else {
        return Err(Error::arg("bench", "give a MODEL to time, or --ceiling"));
    };
    let m = crate::model::load(gpu, model)?;
    let [c, h, w] = m.input_chw()?;
    let n = args.batch;
    let x = Tensor::from_f32(gpu, [n, c, h, w], &vec![0.1; n * c * h * w])?;
    let time = |f: &mut dyn FnMut() -> Result<()>| -> Result<Vec<f64>> {
        f()?; // warm-up: pipelines compile
        (0..args.iters)
            .map(|_| {
                let t = Instant::now();
                f()?;
                Ok(t.elapsed().as_secs_f64() * 1e3)
            })
            .collect()
    };
    let fwd = time(&mut || {
        let out = gpu.run(|rec| m.graph().forward(rec, &x, &Keep::default()).map(|a| a.output().clone()))?;
        gpu.synchronize()?;
        drop(out);
        Ok(())
    })?;
    let (fm, fmin, fmax) = stats(&fwd);
    let cam_ms = match &args.cam {
        Some(layer) => {
            let opts = CamOptions::new(Method::GradCam, m.onnx.tensor(layer)?);
            let t = time(&mut || cam::explain(gpu, m.graph(), &x, &opts)?.heatmap.to_f32(gpu).map(|_| ()))?;
            Some(stats(&t).0)
        }
        None => None,
    };
    // Per-layer GPU time of one more forward pass, from timestamps around every dispatch.
    let layers = if gpu.features().contains(featuremap::gpu::TIMESTAMP_QUERY) {
        let mut rec = featuremap::Recorder::with_timestamps(gpu, 2048)?;
        m.graph().forward(&mut rec, &x, &Keep::default())?;
        let g = m.graph();
        let rows: Vec<(String, &'static str, f64)> = rec
            .submit_timed()?
            .into_iter()
            .map(|(name, ms)| {
                let op = g.nodes().iter().find(|node| node.name == name).map_or("-", |node| node.op.kind());
                (name, op, ms)
            })
            .collect();
        Some(rows)
    } else {
        None
    };
    let a = gpu.adapter();
    if args.json {
        let mut obj = serde_json::json!({
            "adapter": a.name, "backend": a.backend, "driver": format!("{} {}", a.driver, a.driver_info),
            "model": model.display().to_string(), "batch": n, "iters": args.iters,
            "forward_ms_median": fm, "forward_ms_min": fmin, "forward_ms_max": fmax,
            "images_per_second": n as f64 / (fm * 1e-3),
        });
        if let Some(cm) = cam_ms {
            obj["cam_ms_median"] = serde_json::json!(cm);
        }
        obj["layer_gpu_ms"] = match &layers {
            Some(rows) => {
                rows.iter().map(|(name, op, ms)| serde_json::json!({"name": name, "op": op, "ms": ms})).collect()
            }
            None => serde_json::Value::Null,
        };
        println!("{obj}");
    } else {
        println!("adapter {} ({}), {} batch {n}", a.name, a.backend, model.display());
        println!(
            "forward  median {fm:.1} ms (min {fmin:.1}, max {fmax:.1}) over {} runs; {:.1} images/s",
            args.iters,
            n as f64 / (fm * 1e-3)
        );
        if let Some(cm) = cam_ms {
            println!("gradcam  median {cm:.1} ms (forward + partial backward + heatmap read back)");
        }
        match &layers {
            Some(rows) => {
                let total: f64 = rows.iter().map(|r| r.2).sum();
                let mut top = rows.clone();
                top.sort_by(|a, b| b.2.total_cmp(&a.2));
                println!("GPU time per layer (timestamps, one forward): {total:.1} ms in all; the largest:");
                for (name, op, ms) in top.iter().take(10) {
                    println!("  {ms:8.2} ms  {:5.1}%  {op:<18} {name}", 100.0 * ms / total.max(1e-9));
                }
            }
            None => println!("(no per-layer times: the adapter has no TIMESTAMP_QUERY)"),
        }
    }
    Ok(())
}

fn ceiling(gpu: &Gpu, args: &Args) -> Result<()> {
    let c = bench::measure_ceiling(gpu, args.iters)?;
    if args.json {
        let obj = serde_json::json!({
            "adapter": c.adapter,
            "backend": gpu.adapter().backend,
            "fma_gflops": c.fma_gflops,
            "copy_gbps": c.copy_gbps,
            "runs": args.iters,
            "fma_ms": {"median": c.fma.median(), "min": c.fma.min(), "max": c.fma.max(), "flops_per_run": c.fma_flops},
            "copy_ms": {"median": c.copy.median(), "min": c.copy.min(), "max": c.copy.max(), "bytes_per_run": c.copy_bytes},
            "fma_per_gathered_load": c.fma_per_load.iter().map(|(f, g)| serde_json::json!({"fmas_per_load": f, "gflops": g})).collect::<Vec<_>>(),
        });
        println!("{obj}");
    } else {
        println!("adapter  {} ({})", c.adapter, gpu.adapter().backend);
        println!(
            "fma      {:8.1} GFLOP/s   (median of {} runs of {:.2} GFLOP, {:.1} ms; min {:.1} ms, max {:.1} ms)",
            c.fma_gflops,
            args.iters,
            c.fma_flops / 1e9,
            c.fma.median(),
            c.fma.min(),
            c.fma.max()
        );
        println!(
            "copy     {:8.1} GB/s      (median of {} runs of {:.0} MB moved, {:.1} ms; min {:.1} ms, max {:.1} ms)",
            c.copy_gbps,
            args.iters,
            c.copy_bytes / 1e6,
            c.copy.median(),
            c.copy.min(),
            c.copy.max()
        );
        // What a kernel's loads allow: every operand load of a convolution reads a
        // per-invocation address (a gather on CPU adapters).
        for (fmas, g) in &c.fma_per_load {
            println!("fma with a gathered load per {fmas:>2} FMAs  {g:8.1} GFLOP/s");
        }
    }
    Ok(())
}

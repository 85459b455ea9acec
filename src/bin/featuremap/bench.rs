//! `featuremap bench`: the adapter's ceilings, or a model's forward (and CAM) latency.

use std::path::PathBuf;
use std::time::Instant;

use featuremap::cam::{self, CamOptions, Method};
use featuremap::graph::Graph;
use featuremap::graph::Keep;
use featuremap::{bench, DType, Error, Gpu, Result, Tensor};

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
    // Each forward run also notes how long recording took on the CPU, the part of a pass no
    // GPU speeds up, and how many of its bind groups and derived weights (packed, f16 copies)
    // were reused from the run before (the last run's counts are reported).
    let mut record_ms = Vec::new();
    let mut reuse = Reuse::default();
    let fwd = time(&mut || {
        let before = Reuse::now(gpu);
        let t = Instant::now();
        let mut rec = featuremap::Recorder::new(gpu);
        let out = m.graph().forward(&mut rec, &x, &Keep::default())?.output().clone();
        record_ms.push(t.elapsed().as_secs_f64() * 1e3);
        rec.submit();
        reuse = Reuse::now(gpu).since(before);
        gpu.synchronize()?;
        drop(out);
        Ok(())
    })?;
    let (fm, fmin, fmax) = stats(&fwd);
    // The model's FLOPs per forward (as `inspect` counts them) over the median time.
    let gflop =
        n as f64 * (0..m.graph().nodes().len()).map(|i| crate::inspect::flops(m.graph(), i)).sum::<u64>() as f64 / 1e9;
    let gflops = gflop / (fm * 1e-3);
    let record_ms = stats(&record_ms[1..]).0; // without the warm-up run, which compiles pipelines
    let f16 = match m.graph().storage() {
        DType::F16 => Some(f16_error(gpu, m.graph(), [n, c, h, w])?),
        _ => None,
    };
    let cam_ms = match &args.cam {
        Some(layer) => {
            let opts = CamOptions::new(Method::GradCam, m.onnx.tensor(layer)?);
            let t = time(&mut || cam::explain(gpu, m.graph(), &x, &opts)?.heatmap.to_f32(gpu).map(|_| ()))?;
            Some(stats(&t).0)
        }
        None => None,
    };
    // Per-layer GPU time of one more forward pass, from timestamps around every dispatch; and
    // of one more, split by kernel (entry point) instead of by layer.
    let layers = if gpu.features().contains(featuremap::gpu::TIMESTAMP_QUERY) {
        let g = m.graph();
        let timed = |by_entry: bool| -> Result<Vec<(String, f64)>> {
            let mut rec = featuremap::Recorder::with_timestamps(gpu, 2048)?;
            if by_entry {
                rec.scope_by_entry();
            }
            g.forward(&mut rec, &x, &Keep::default())?;
            rec.submit_timed()
        };
        let rows: Vec<(String, &'static str, f64)> = timed(false)?
            .into_iter()
            .map(|(name, ms)| {
                let op = g.nodes().iter().find(|node| node.name == name).map_or("-", |node| node.op.kind());
                (name, op, ms)
            })
            .collect();
        Some((rows, timed(true)?))
    } else {
        None
    };
    let a = gpu.adapter();
    if args.json {
        let mut obj = serde_json::json!({
            "adapter": a.name, "backend": a.backend, "driver": format!("{} {}", a.driver, a.driver_info),
            "model": model.display().to_string(), "batch": n, "iters": args.iters,
            "forward_ms_median": fm, "forward_ms_min": fmin, "forward_ms_max": fmax,
            "images_per_second": n as f64 / (fm * 1e-3), "record_ms_median": record_ms,
            "forward_gflop": gflop, "forward_gflops_per_second": gflops,
            "bind_groups_reused": reuse.bind_hits, "bind_groups_built": reuse.bind_misses,
            "derived_weights_reused": reuse.derived_hits, "derived_weights_made": reuse.derived_misses,
        });
        if let Some(cm) = cam_ms {
            obj["cam_ms_median"] = serde_json::json!(cm);
        }
        obj["storage"] = serde_json::json!(if f16.is_some() { "f16" } else { "f32" });
        if let Some(e) = &f16 {
            obj["f16_vs_f32"] = serde_json::json!({
                "rel_l2": e.rel_l2, "max_abs": e.max_abs, "max_abs_f32_output": e.scale,
                "top1_agree": e.top1_agree, "images": n, "non_finite": e.non_finite,
            });
        }
        (obj["layer_gpu_ms"], obj["kernel_gpu_ms"]) = match &layers {
            Some((rows, kernels)) => (
                rows.iter().map(|(name, op, ms)| serde_json::json!({"name": name, "op": op, "ms": ms})).collect(),
                kernels.iter().map(|(entry, ms)| serde_json::json!({"kernel": entry, "ms": ms})).collect(),
            ),
            None => (serde_json::Value::Null, serde_json::Value::Null),
        };
        println!("{obj}");
    } else {
        let storage = if f16.is_some() { "f16 storage" } else { "f32" };
        println!("adapter {} ({}), {} batch {n}, {storage}", a.name, a.backend, model.display());
        println!(
            "forward  median {fm:.1} ms (min {fmin:.1}, max {fmax:.1}) over {} runs; {:.1} images/s, {gflop:.2} GFLOP at {gflops:.1} GFLOP/s",
            args.iters,
            n as f64 / (fm * 1e-3)
        );
        println!(
            "recording on the CPU: median {record_ms:.2} ms of each forward; last forward: {} of {} bind groups reused, {} of {} derived weights (packed, f16)",
            reuse.bind_hits,
            reuse.bind_hits + reuse.bind_misses,
            reuse.derived_hits,
            reuse.derived_hits + reuse.derived_misses
        );
        if let Some(cm) = cam_ms {
            println!("gradcam  median {cm:.1} ms (forward + partial backward + heatmap read back)");
        }
        if let Some(e) = &f16 {
            println!(
                "f16 vs f32 output: relative L2 {:.2e}, max abs {:.2e} (f32 output up to {:.2e}), same top-1 for {}/{n}",
                e.rel_l2, e.max_abs, e.scale, e.top1_agree
            );
            if e.non_finite > 0 {
                println!("f16: {} output values are not finite (a feature map beyond f16's 65504)", e.non_finite);
            }
        }
        match &layers {
            Some((rows, kernels)) => {
                let total: f64 = rows.iter().map(|r| r.2).sum();
                let mut top = rows.clone();
                top.sort_by(|a, b| b.2.total_cmp(&a.2));
                println!("GPU time per layer (timestamps, one forward): {total:.1} ms in all; the largest:");
                for (name, op, ms) in top.iter().take(10) {
                    println!("  {ms:8.2} ms  {:5.1}%  {op:<18} {name}", 100.0 * ms / total.max(1e-9));
                }
                let total: f64 = kernels.iter().map(|r| r.1).sum();
                let mut top = kernels.clone();
                top.sort_by(|a, b| b.1.total_cmp(&a.1));
                println!("GPU time per kernel (one more forward): {total:.1} ms in all; the largest:");
                for (entry, ms) in top.iter().take(10) {
                    println!("  {ms:8.2} ms  {:5.1}%  {entry}", 100.0 * ms / total.max(1e-9));
                }
            }
            None => println!("(no per-layer times: the adapter has no TIMESTAMP_QUERY)"),
        }
    }
    Ok(())
}

/// How far an f16-storage forward pass lands from the f32 pass of the same graph.
struct F16Error {
    rel_l2: f64,
    max_abs: f64,
    /// The largest magnitude in the f32 output, to read `max_abs` against.
    scale: f64,
    /// Images whose top-1 class (the argmax over the image's whole output) is the same in both.
    top1_agree: usize,
    /// Output values that are not finite in the f16 pass (beyond f16's range on the way).
    non_finite: usize,
}

/// Runs `g` (f16 storage) and an f32 copy of it on one deterministic input of `shape` (values
/// spread over [-1, 1), a stand-in for a normalised image) and compares their outputs.
fn f16_error(gpu: &Gpu, g: &Graph, shape: [usize; 4]) -> Result<F16Error> {
    let len: usize = shape.iter().product();
    let v: Vec<f32> = (0..len).map(|i| (i as f32 * 0.618_034).fract() * 2.0 - 1.0).collect();
    let x = Tensor::from_f32(gpu, shape, &v)?;
    let mut g32 = g.clone();
    g32.set_storage(gpu, DType::F32)?;
    let out = |g: &Graph| gpu.run(|rec| g.forward(rec, &x, &Keep::default()).map(|a| a.output().clone()))?.to_f32(gpu);
    let (half, full) = (out(g)?, out(&g32)?);
    let (mut num, mut den, mut max_abs, mut scale) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let non_finite = half.iter().filter(|v| !v.is_finite()).count();
    for (&a, &b) in half.iter().zip(&full) {
        let d = (a - b) as f64;
        num += d * d;
        den += (b as f64) * (b as f64);
        max_abs = max_abs.max(d.abs());
        scale = scale.max((b as f64).abs());
    }
    let per_image = full.len() / shape[0];
    let argmax = |row: &[f32]| (0..row.len()).max_by(|&i, &j| row[i].total_cmp(&row[j]));
    let top1_agree = half.chunks(per_image).zip(full.chunks(per_image)).filter(|(a, b)| argmax(a) == argmax(b)).count();
    let rel_l2 = if non_finite > 0 { f64::INFINITY } else { (num / den.max(f64::MIN_POSITIVE)).sqrt() };
    Ok(F16Error { rel_l2, max_abs, scale, top1_agree, non_finite })
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
            "fma_per_gathered_vec4_load": c.fma_per_vec4_load.iter().map(|(f, g)| serde_json::json!({"fmas_per_load": f, "gflops": g})).collect::<Vec<_>>(),
            "fma_per_scattered_vec4_store": c.fma_per_vec4_store.iter().map(|(f, g)| serde_json::json!({"fmas_per_store": f, "gflops": g})).collect::<Vec<_>>(),
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
        for (fmas, g) in &c.fma_per_vec4_load {
            println!("fma with a gathered vec4 load per {fmas:>2} FMAs  {g:8.1} GFLOP/s");
        }
        // And its output stores (one per 4 values written).
        for (fmas, g) in &c.fma_per_vec4_store {
            println!("fma with a scattered vec4 store per {fmas:>2} FMAs  {g:8.1} GFLOP/s");
        }
    }
    Ok(())
}

/// Bind groups and derived weights (packed, f16 copies) reused or made over a span of work.
#[derive(Clone, Copy, Default)]
struct Reuse {
    bind_hits: u64,
    bind_misses: u64,
    derived_hits: u64,
    derived_misses: u64,
}

impl Reuse {
    /// The device's counters now.
    fn now(gpu: &Gpu) -> Reuse {
        let (b, d) = (gpu.bind_stats(), gpu.derived_stats());
        Reuse { bind_hits: b.hits, bind_misses: b.misses, derived_hits: d.hits, derived_misses: d.misses }
    }

    /// What was counted since `before`.
    fn since(self, before: Reuse) -> Reuse {
        Reuse {
            bind_hits: self.bind_hits - before.bind_hits,
            bind_misses: self.bind_misses - before.bind_misses,
            derived_hits: self.derived_hits - before.derived_hits,
            derived_misses: self.derived_misses - before.derived_misses,
        }
    }
}

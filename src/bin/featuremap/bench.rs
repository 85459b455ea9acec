//! `featuremap bench`

use featuremap::{Error, Gpu, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Measure the adapter's FMA throughput and copy bandwidth with microkernels.
    #[arg(long)]
    ceiling: bool,
    /// Timed runs per measurement (the median is reported).
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Print one JSON object with the keys adapter, fma_gflops and copy_gbps.
    #[arg(long)]
    json: bool,
}

pub fn run(gpu: &Gpu, args: &Args) -> Result<()> {
    if !args.ceiling {
        return Err(Error::arg("bench", "nothing to measure: pass --ceiling (model benchmarks come with the ONNX importer)"));
    }
    if args.runs == 0 {
        return Err(Error::arg("bench", "--runs must be at least 1"));
    }
    let c = featuremap::bench::measure_ceiling(gpu, args.runs)?;
    if args.json {
        let obj = serde_json::json!({
            "adapter": c.adapter,
            "backend": gpu.adapter().backend,
            "fma_gflops": c.fma_gflops,
            "copy_gbps": c.copy_gbps,
            "runs": args.runs,
            "fma_ms": {"median": c.fma.median(), "min": c.fma.min(), "max": c.fma.max(), "flops_per_run": c.fma_flops},
            "copy_ms": {"median": c.copy.median(), "min": c.copy.min(), "max": c.copy.max(), "bytes_per_run": c.copy_bytes},
        });
        println!("{obj}");
    } else {
        println!("adapter  {} ({})", c.adapter, gpu.adapter().backend);
        println!(
            "fma      {:8.1} GFLOP/s   (median of {} runs of {:.2} GFLOP, {:.1} ms; min {:.1} ms, max {:.1} ms)",
            c.fma_gflops, args.runs, c.fma_flops / 1e9, c.fma.median(), c.fma.min(), c.fma.max()
        );
        println!(
            "copy     {:8.1} GB/s      (median of {} runs of {:.0} MB moved, {:.1} ms; min {:.1} ms, max {:.1} ms)",
            c.copy_gbps, args.runs, c.copy_bytes / 1e6, c.copy.median(), c.copy.min(), c.copy.max()
        );
    }
    Ok(())
}

//! `featuremap`: the command-line tool, a thin layer over the library.

mod bench;
mod demo;
mod info;

use clap::{Parser, Subcommand};

/// See what a convolutional network sees: feature maps and Grad-CAM heatmaps on any GPU.
#[derive(Parser)]
#[command(name = "featuremap", version, about, long_about = None)]
struct Cli {
    /// Use the first adapter whose name contains this text (also FEATUREMAP_ADAPTER).
    #[arg(long, global = true)]
    adapter: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the adapter (name, backend, driver), its limits and the optional features enabled.
    #[command(after_help = "Example:\n  featuremap info\n  featuremap info --json")]
    Info(info::Args),
    /// Measure this adapter's ceilings: FMA throughput (GFLOP/s) and copy bandwidth (GB/s).
    #[command(after_help = "Example:\n  featuremap bench --ceiling\n  featuremap bench --ceiling --json")]
    Bench(bench::Args),
    /// Run a small convolution on a generated image and write its feature maps as PNG.
    #[command(after_help = "Example:\n  featuremap demo --out out/demo")]
    Demo(demo::Args),
}

fn main() {
    let cli = Cli::parse();
    let gpu = || featuremap::Gpu::with_options(featuremap::GpuOptions { adapter_name: cli.adapter.clone() });
    let result = match &cli.command {
        Command::Info(a) => gpu().and_then(|g| info::run(&g, a)),
        Command::Bench(a) => gpu().and_then(|g| bench::run(&g, a)),
        Command::Demo(a) => gpu().and_then(|g| demo::run(&g, a)),
    };
    if let Err(e) = result {
        eprintln!("featuremap: error: {e}");
        std::process::exit(1);
    }
}

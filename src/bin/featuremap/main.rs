//! `featuremap`: the command-line tool, a thin layer over the library.

mod bench;
mod cam;
mod demo;
mod embed;
mod features;
mod html;
mod info;
mod inspect;
mod model;
mod run;
mod train_demo;

use clap::{Parser, Subcommand};

/// See what a convolutional network sees: feature maps and Grad-CAM heatmaps on any GPU.
#[derive(Parser)]
#[command(name = "featuremap", version, about, long_about = None)]
struct Cli {
    /// Use the first adapter whose name contains this text (also FEATUREMAP_ADAPTER).
    #[arg(long, global = true)]
    adapter: Option<String>,
    /// Store feature maps and conv weights in f16 inside forward passes (sums stay f32; needs
    /// the adapter's SHADER_F16). `bench` also reports the error against f32.
    #[arg(long, global = true)]
    f16: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the adapter (name, backend, driver), its limits and the optional features enabled.
    #[command(after_help = "Example:\n  featuremap info\n  featuremap info --json")]
    Info(info::Args),
    /// Headless timing: the adapter's ceilings (--ceiling), or a model's forward and CAM latency.
    #[command(
        after_help = "Examples:\n  featuremap bench --ceiling --json\n  featuremap bench resnet18.onnx --batch 8 --iters 5 --cam /layer4/layer4.1/relu_1/Relu_output_0 --json"
    )]
    Bench(bench::Args),
    /// One row per node: name, op, output shape, parameters, FLOPs, receptive field, stride.
    #[command(after_help = "Example:\n  featuremap inspect mobilenet_v2.onnx")]
    Inspect(inspect::Args),
    /// A forward pass: top-K classes, and the first output as .npy.
    #[command(
        after_help = "Example:\n  featuremap run resnet18.onnx --input cat.jpg --top 5 --labels imagenet.txt --output logits.npy"
    )]
    Run(run::Args),
    /// CAM heatmaps (.npy) and overlays (PNG, HTML) for one image, many, or a folder.
    #[command(
        after_help = "Examples:\n  featuremap cam resnet18.onnx cat.jpg --method gradcam++ --npy cam.npy --png cam.png\n  featuremap cam resnet18.onnx photos/ --out cams/ --html report.html"
    )]
    Cam(cam::Args),
    /// Every channel of one feature-map stack as a labelled grid PNG.
    #[command(
        after_help = "Example:\n  featuremap features resnet18.onnx cat.jpg --layer /layer1/layer1.1/relu_1/Relu_output_0 --png grid.png"
    )]
    Features(features::Args),
    /// Globally pooled embeddings of a layer for many inputs, as .npy.
    #[command(
        after_help = "Example:\n  featuremap embed resnet18.onnx photos/ --layer /layer4/layer4.1/relu_1/Relu_output_0 --npy emb.npy"
    )]
    Embed(embed::Args),
    /// The embedded shapes model explained: Grad-CAM overlays, stage feature maps, one HTML page.
    #[command(
        after_help = "Examples:\n  featuremap demo --out out/demo\n  featuremap demo --image my_star.jpg --out out/mine"
    )]
    Demo(demo::Args),
    /// Train the embedded demo model from scratch on generated scenes and save its weights.
    #[command(name = "train-demo", after_help = "Example:\n  featuremap train-demo --out demo.safetensors")]
    TrainDemo(train_demo::Args),
}

fn main() {
    let cli = Cli::parse();
    model::use_f16(cli.f16);
    let gpu = || featuremap::Gpu::with_options(featuremap::GpuOptions { adapter_name: cli.adapter.clone() });
    let result = match &cli.command {
        Command::Info(a) => gpu().and_then(|g| info::run(&g, a)),
        Command::Bench(a) => gpu().and_then(|g| bench::run(&g, a)),
        Command::Demo(a) => gpu().and_then(|g| demo::run(&g, a)),
        Command::Inspect(a) => gpu().and_then(|g| inspect::run(&g, a)),
        Command::Run(a) => gpu().and_then(|g| run::run(&g, a)),
        Command::Cam(a) => gpu().and_then(|g| cam::run(&g, a)),
        Command::Features(a) => gpu().and_then(|g| features::run(&g, a)),
        Command::Embed(a) => gpu().and_then(|g| embed::run(&g, a)),
        Command::TrainDemo(a) => gpu().and_then(|g| train_demo::run(&g, a)),
    };
    if let Err(e) = result {
        eprintln!("featuremap: error: {e}");
        std::process::exit(1);
    }
}

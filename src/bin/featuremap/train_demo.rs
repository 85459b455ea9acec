//! `featuremap train-demo`: trains the demo model from scratch and saves its weights.

use std::path::PathBuf;

use featuremap::demo::{self, TrainConfig};
use featuremap::{Gpu, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the weights (.safetensors).
    #[arg(long)]
    out: PathBuf,
    /// Training scenes.
    #[arg(long, default_value_t = TrainConfig::default().scenes)]
    scenes: usize,
    /// Passes over the training scenes.
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    epochs: usize,
    /// Scenes per step.
    #[arg(long, default_value_t = TrainConfig::default().batch)]
    batch: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    lr: f32,
    /// Seed of the initial weights and the shuffling.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    seed: u64,
    /// Test scenes for the accuracy and Grad-CAM pointing game printed at the end (0: skip).
    #[arg(long, default_value_t = 256)]
    test: usize,
}

pub fn run(gpu: &Gpu, args: &Args) -> Result<()> {
    let cfg = TrainConfig {
        scenes: args.scenes,
        epochs: args.epochs,
        batch: args.batch,
        lr: args.lr,
        seed: args.seed,
        ..TrainConfig::default()
    };
    eprintln!(
        "training the demo model on {} ({} scenes, {} epochs, batch {})",
        gpu.adapter().name,
        cfg.scenes,
        cfg.epochs,
        cfg.batch
    );
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} steps {elapsed} (eta {eta}) {msg}").unwrap(),
    );
    let started = std::time::Instant::now();
    let mut last_epoch = 1;
    let (graph, report) = demo::train(gpu, &cfg, &mut |p| {
        if p.epoch > last_epoch {
            // An epoch ended: one line that stays (also where no terminal shows the bar).
            let line = format!(
                "epoch {last_epoch} done after {:.0} s: validation accuracy {:.2}%",
                started.elapsed().as_secs_f64(),
                p.validation.unwrap_or(0.0) * 100.0
            );
            if bar.is_hidden() {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
            last_epoch = p.epoch;
        }
        bar.set_length(p.total_steps);
        bar.set_position(p.step);
        let val = p.validation.map_or(String::new(), |v| format!(", validation {:.1}%", v * 100.0));
        bar.set_message(format!(
            "epoch {} loss {:.3} accuracy {:.1}% lr {:.2e}{val}",
            p.epoch,
            p.loss,
            p.accuracy * 100.0,
            p.lr
        ));
    })?;
    bar.finish();
    for (i, [loss, acc, vloss, vacc]) in report.epochs.iter().enumerate() {
        println!(
            "epoch {}: train loss {loss:.4} accuracy {:.2}%, validation loss {vloss:.4} accuracy {:.2}%",
            i + 1,
            acc * 100.0,
            vacc * 100.0
        );
    }
    println!(
        "{} steps in {:.1} s ({:.1} s generating scenes) on {}",
        report.steps,
        report.seconds,
        report.data_seconds,
        gpu.adapter().name
    );
    graph.save_safetensors(gpu, &args.out)?;
    println!("wrote {}", args.out.display());
    if args.test > 0 {
        let methods = [featuremap::cam::Method::GradCam];
        let q = demo::measure(gpu, &graph, args.test, &methods, 64)?;
        println!(
            "test split ({} scenes): accuracy {:.2}%, Grad-CAM pointing game {:.2}%",
            q.scenes,
            q.accuracy * 100.0,
            q.pointing[0].1 * 100.0
        );
    }
    Ok(())
}

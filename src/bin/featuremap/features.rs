//! `featuremap features MODEL INPUT --layer TENSOR --png GRID.png`: every channel of a
//! feature-map stack as a labelled grid.

use std::path::PathBuf;

use featuremap::graph::Keep;
use featuremap::io::write_npy;
use featuremap::{vis, Error, Gpu, Result};

#[derive(clap::Args)]
pub struct Args {
    #[arg(help = crate::model::MODEL_HELP)]
    model: PathBuf,
    /// One image or preprocessed .npy (the first image of a batch is shown).
    input: PathBuf,
    /// The feature-map stack to show (an ONNX tensor name; `demo` has stage1 .. stage4).
    #[arg(long)]
    layer: String,
    /// Write the grid PNG.
    #[arg(long)]
    png: PathBuf,
    /// Also write the stack as float32 .npy (N, C, H, W).
    #[arg(long)]
    npy: Option<PathBuf>,
}

pub fn run(gpu: &Gpu, args: &Args) -> Result<()> {
    let m = crate::model::load(gpu, &args.model)?;
    let layer = m.onnx.tensor(&args.layer)?;
    let x = crate::model::load_batch(gpu, &m, std::slice::from_ref(&args.input))?.tensor;
    let acts = gpu.run(|rec| m.graph().forward(rec, &x, &Keep::taps(&[layer])))?;
    let t = acts.require(m.graph(), layer)?;
    let [n, c, h, w] = match *t.dims() {
        [n, c, h, w] => [n, c, h, w],
        ref d => {
            return Err(Error::shape(
                "features",
                format!("`{}` is {d:?}, not a [N, C, H, W] feature-map stack", args.layer),
            ))
        }
    };
    let values = t.to_f32(gpu)?;
    if let Some(p) = &args.npy {
        write_npy(p, &[n, c, h, w], &values)?;
    }
    vis::save_png_atomic(&grid(&values[..c * h * w], c, h, w)?, &args.png)?;
    println!("`{}`: {c} maps of {h}x{w}; wrote {}", args.layer, args.png.display());
    Ok(())
}

/// One image's `[C, H, W]` stack as a labelled grid: about square, tiles scaled up to roughly
/// 96 pixels so that 8x8 maps stay legible next to 64x64 ones (shared with `demo`).
pub fn grid(values: &[f32], c: usize, h: usize, w: usize) -> Result<image::RgbImage> {
    let cols = (c as f64).sqrt().ceil() as usize;
    let zoom = (96 / h.max(w).max(1)).clamp(1, 8);
    vis::feature_grid_labelled(values, c, h, w, cols, zoom)
}

//! `featuremap features MODEL INPUT --layer TENSOR --png GRID.png`: every channel of a
//! feature-map stack as a labelled grid.

use std::path::PathBuf;

use featuremap::graph::Keep;
use featuremap::io::write_npy;
use featuremap::{vis, Error, Gpu, Result};

#[derive(clap::Args)]
pub struct Args {
    /// The model (.onnx).
    model: PathBuf,
    /// One image or preprocessed .npy (the first image of a batch is shown).
    input: PathBuf,
    /// The feature-map stack to show (an ONNX tensor name).
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
    let cols = (c as f64).sqrt().ceil() as usize;
    let zoom = (96 / h.max(w)).clamp(1, 8);
    let grid = vis::feature_grid_labelled(&values[..c * h * w], c, h, w, cols, zoom)?;
    vis::save_png_atomic(&grid, &args.png)?;
    println!("`{}`: {c} maps of {h}x{w}; wrote {}", args.layer, args.png.display());
    Ok(())
}

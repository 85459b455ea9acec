//! `featuremap run MODEL --input FILE`: a forward pass, top-K classes (named by `--labels` or
//! the model's own class names), the output as .npy.

use std::path::PathBuf;

use featuremap::graph::Keep;
use featuremap::io::write_npy;
use featuremap::{Error, Gpu, Result};

#[derive(clap::Args)]
pub struct Args {
    #[arg(help = crate::model::MODEL_HELP)]
    model: PathBuf,
    /// An image (PNG, JPEG, WebP, BMP) or a preprocessed NCHW float32 .npy.
    #[arg(long)]
    input: PathBuf,
    /// Write the first output as float32 .npy.
    #[arg(long)]
    output: Option<PathBuf>,
    /// How many top classes to print per image.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// A text file with one class name per line (default: the model's own names, if it has them).
    #[arg(long)]
    labels: Option<PathBuf>,
}

pub fn run(gpu: &Gpu, args: &Args) -> Result<()> {
    let m = crate::model::load(gpu, &args.model)?;
    let labels = m.class_names(args.labels.as_deref())?;
    let x = crate::model::load_batch(gpu, &m, std::slice::from_ref(&args.input))?.tensor;
    let out = gpu.run(|rec| m.graph().forward(rec, &x, &Keep::default()).map(|a| a.output().clone()))?;
    let logits = out.to_f32(gpu)?;
    if let Some(path) = &args.output {
        write_npy(path, out.dims(), &logits)?;
        println!("wrote {} {:?}", path.display(), out.dims());
    }
    let &[n, k] = out.dims() else {
        return Err(Error::shape("run", format!("the output {:?} is not [N, classes]; top-K skipped", out.dims())));
    };
    for b in 0..n {
        let row = &logits[b * k..(b + 1) * k];
        let probs = crate::model::softmax(row);
        let mut idx: Vec<usize> = (0..k).collect();
        idx.sort_by(|&a, &c| row[c].total_cmp(&row[a]));
        if n > 1 {
            println!("image {b}:");
        }
        for &c in idx.iter().take(args.top.min(k)) {
            let name = labels.as_ref().and_then(|l| l.get(c)).map(|s| s.as_str()).unwrap_or("");
            println!("  {c:>5}  {:>6.2}%  logit {:>9.4}  {name}", 100.0 * probs[c], row[c]);
        }
    }
    Ok(())
}

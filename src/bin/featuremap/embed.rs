//! `featuremap embed MODEL INPUT... --layer TENSOR --npy OUT.npy`: globally pooled embeddings.

use std::path::PathBuf;

use featuremap::graph::Keep;
use featuremap::io::write_npy;
use featuremap::{Gpu, Result};

#[derive(clap::Args)]
pub struct Args {
    #[arg(help = crate::model::MODEL_HELP)]
    model: PathBuf,
    /// Images, preprocessed .npy tensors, or folders of them.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The layer to pool (an ONNX tensor name; `demo` has stage1 .. stage4); a [N, C] tensor is
    /// taken as is.
    #[arg(long)]
    layer: String,
    /// Where to write the embeddings, float32 (N, C).
    #[arg(long)]
    npy: PathBuf,
}

pub fn run(gpu: &Gpu, args: &Args) -> Result<()> {
    let m = crate::model::load(gpu, &args.model)?;
    let layer = m.onnx.tensor(&args.layer)?;
    let files = crate::model::expand_inputs(&args.inputs)?;
    let x = crate::model::load_batch(gpu, &m, &files)?.tensor;
    let emb = gpu.run(|rec| {
        let acts = m.graph().forward(rec, &x, &Keep::taps(&[layer]))?;
        m.graph().embedding(rec, &acts, layer)
    })?;
    let v = emb.to_f32(gpu)?;
    write_npy(&args.npy, emb.dims(), &v)?;
    println!("wrote {} {:?}", args.npy.display(), emb.dims());
    Ok(())
}

//! What each stage of a network sees: for every change of spatial size, the feature-map stack
//! just before it, as a grid PNG (`out/stage_N.png`), with the shapes printed, so the spatial
//! size can be seen to fall while the channels grow.
//!
//! Run: `cargo run --release --example stages -- [MODEL.onnx] [IMAGE]`

use std::path::PathBuf;

use featuremap::graph::{Keep, TensorId};
use featuremap::import::load_onnx;
use featuremap::io::Preprocess;
use featuremap::{vis, Gpu, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = args.first().map(PathBuf::from).unwrap_or(root.join("tests/fixtures/onnx/squeezenet1_1.onnx"));
    let image = args.get(1).map(PathBuf::from).unwrap_or(root.join("tests/fixtures/images/scene_500x333.webp"));
    let gpu = Gpu::new()?;
    let m = load_onnx(&gpu, &model)?;
    let g = &m.graph;
    // The last 4-D tensor of each spatial size, in graph order.
    let mut stages: Vec<TensorId> = Vec::new();
    for t in g.tensor_ids() {
        let s = g.item_shape(t);
        if s.len() != 3 {
            continue;
        }
        match stages.last() {
            Some(&prev) if g.item_shape(prev)[1..] == s[1..] => *stages.last_mut().unwrap() = t,
            _ => stages.push(t),
        }
    }
    let (x, [h, w]) = Preprocess::default().load(&image)?;
    let xt = Tensor::from_f32(&gpu, [1, 3, h, w], &x)?;
    let acts = gpu.run(|rec| g.forward(rec, &xt, &Keep::taps(&stages)))?;
    let out_dir = root.join("out");
    std::fs::create_dir_all(&out_dir)?;
    for (i, &t) in stages.iter().enumerate() {
        let [c, sh, sw] = [g.item_shape(t)[0], g.item_shape(t)[1], g.item_shape(t)[2]];
        let show = c.min(64);
        let chans: Vec<usize> = (0..show).collect();
        let v = acts.read(&gpu, g, t, Some(&chans))?;
        let cols = (show as f64).sqrt().ceil() as usize;
        let grid = vis::feature_grid_labelled(&v, show, sh, sw, cols, (96 / sh.max(sw)).clamp(1, 8))?;
        let path = out_dir.join(format!("stage_{i}.png"));
        vis::save_png_atomic(&grid, &path)?;
        println!("stage {i}: `{}` {c} x {sh} x {sw} (showing {show} channels) -> {}", g.name(t), path.display());
    }
    Ok(())
}

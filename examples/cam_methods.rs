//! Every CAM method on one image, side by side: writes `out/cam_methods.png` (one overlay per
//! method, left to right in the order printed) and one PNG per method.
//!
//! Run: `cargo run --release --example cam_methods -- [MODEL.onnx] [IMAGE] [LAYER]`
//! (defaults: the committed mobilenet_v2 export, a fixture image, the last feature map).

use std::path::PathBuf;

use featuremap::cam::{self, CamOptions, Method};
use featuremap::import::load_onnx;
use featuremap::io::Preprocess;
use featuremap::vis::{self, Colormap, Overlay};
use featuremap::{Gpu, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = args.first().map(PathBuf::from).unwrap_or(root.join("tests/fixtures/onnx/mobilenet_v2.onnx"));
    let image = args.get(1).map(PathBuf::from).unwrap_or(root.join("tests/fixtures/images/scene_500x333.webp"));
    let gpu = Gpu::new()?;
    let m = load_onnx(&gpu, &model)?;
    let layer = match args.get(2) {
        Some(l) => m.tensor(l)?,
        None => m.graph.default_cam_layer().ok_or("no feature map to explain")?,
    };
    let pre = Preprocess::default();
    let (x, [h, w]) = pre.load(&image)?;
    let xt = Tensor::from_f32(&gpu, [1, 3, h, w], &x)?;
    let shown = Tensor::from_f32(
        &gpu,
        [1, 3, h, w],
        &pre.denormalize(&x).iter().map(|v| v.clamp(0.0, 1.0)).collect::<Vec<_>>(),
    )?;
    let out_dir = root.join("out");
    std::fs::create_dir_all(&out_dir)?;
    let mut tiles = Vec::new();
    for method in Method::ALL {
        if method == Method::ScoreCam && std::env::var("FEATUREMAP_SCORECAM").is_err() {
            println!("{:<13} skipped (one forward pass per channel; set FEATUREMAP_SCORECAM=1)", method.name());
            continue;
        }
        let t = std::time::Instant::now();
        let e = cam::explain(&gpu, &m.graph, &xt, &CamOptions::new(method, layer))?;
        let rgba = gpu.run(|rec| {
            vis::colorize(rec, &e.heatmap, Some(&shown), Colormap::Jet, Overlay::ShowCamOnImage { image_weight: 0.5 })
        })?;
        let img = vis::read_rgba(&gpu, &rgba)?.remove(0);
        img.save(out_dir.join(format!("cam_{}.png", method.name().replace('+', "p"))))?;
        println!("{:<13} {:>7.0} ms", method.name(), t.elapsed().as_secs_f64() * 1e3);
        tiles.push(img);
    }
    let mut sheet = image::RgbaImage::from_pixel((w * tiles.len()) as u32, h as u32, image::Rgba([0, 0, 0, 255]));
    for (i, t) in tiles.iter().enumerate() {
        image::imageops::replace(&mut sheet, t, (i * w) as i64, 0);
    }
    sheet.save(out_dir.join("cam_methods.png"))?;
    println!("layer `{}`; wrote {}", m.graph.name(layer), out_dir.join("cam_methods.png").display());
    Ok(())
}

//! `featuremap demo`: a first look with no model file. The embedded shapes model classifies a
//! few generated test scenes (one per class) and, with `--image`, the user's own pictures; the
//! tool writes a Grad-CAM overlay per image, a labelled feature-map grid per stage of the first
//! image, the `inspect` table, and one HTML page that ties them together.

use std::path::PathBuf;
use std::time::Instant;

use featuremap::cam::{CamOptions, Method};
use featuremap::data::{SceneGenerator, Split};
use featuremap::graph::Keep;
use featuremap::vis::{self, Colormap};
use featuremap::{demo, Error, Gpu, Result};

use crate::html::{self, Page};

#[derive(clap::Args)]
pub struct Args {
    /// Folder for the pictures, inspect.txt and index.html (created if missing).
    #[arg(long, default_value = "out/demo")]
    out: PathBuf,
    /// Also explain this picture of a shape (PNG, JPEG, WebP, BMP, any size: shorter side to 64,
    /// centre crop), or every picture in this folder; repeat for several. Shown first.
    #[arg(long = "image", value_name = "FILE")]
    images: Vec<PathBuf>,
    /// How many generated test scenes to explain (scene i shows class i % 8).
    #[arg(long, default_value_t = 8)]
    scenes: usize,
}

/// Inputs are 64x64; shown this many times larger so a person can see them.
const ZOOM: u32 = 4;
/// Images per Grad-CAM batch: a folder of pictures must not become one huge batch.
const BATCH: usize = 16;

/// One image to explain.
struct Entry {
    /// What the printed line and the page call it.
    name: String,
    /// The stem of its PNG files in the output folder.
    file: String,
    /// The true class, where it is known (generated scenes).
    truth: Option<usize>,
    /// `[3, 64, 64]` in [0, 1], as a person sees it.
    image: Vec<f32>,
}

/// `[A-Za-z0-9_-]` only, so a user's file name is safe in a file name and a URL.
fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// The user's pictures, preprocessed as the model wants them and shown as it sees them.
fn user_entries(m: &crate::model::Model, paths: &[PathBuf]) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    if paths.is_empty() {
        return Ok(out);
    }
    for path in crate::model::expand_inputs(paths)? {
        let (values, [n, c, h, w]) = crate::model::load_input(m, &path)?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("image").to_string();
        for (i, img) in values.chunks(c * h * w).enumerate() {
            let name = if n > 1 { format!("{stem}[{i}]") } else { stem.clone() };
            let file = format!("image{}_{}", out.len(), sanitize(&stem));
            out.push(Entry { name, file, truth: None, image: m.pre.denormalize(img) });
        }
    }
    Ok(out)
}

/// Scenes `0..n` of the test split (never seen in training); scene `i` shows class `i % 8`.
fn scene_entries(n: usize) -> Result<Vec<Entry>> {
    let gen = SceneGenerator::new(demo::IMAGE_SIZE, Split::Test)?;
    Ok((0..n as u64)
        .map(|i| {
            let s = gen.scene(i);
            let class = demo::CLASSES[s.class];
            Entry {
                name: format!("scene {i}"),
                file: format!("scene{i}_{class}"),
                truth: Some(s.class),
                image: s.image,
            }
        })
        .collect())
}

/// Scales an image up by [`ZOOM`] with nearest-neighbour sampling: every input pixel stays a
/// visible square, nothing is invented between them.
fn enlarge<P: image::Pixel + 'static>(
    img: &image::ImageBuffer<P, Vec<P::Subpixel>>,
) -> image::ImageBuffer<P, Vec<P::Subpixel>> {
    image::imageops::resize(img, img.width() * ZOOM, img.height() * ZOOM, image::imageops::FilterType::Nearest)
}

pub fn run(gpu: &Gpu, args: &Args) -> Result<()> {
    let a = gpu.adapter();
    let driver = format!("{} {}", a.driver, a.driver_info);
    let adapter = format!("{} ({}, {})", a.name, a.backend, driver.trim());
    println!("adapter: {adapter}");
    if args.images.is_empty() && args.scenes == 0 {
        return Err(Error::arg("demo", "nothing to explain: --scenes 0 and no --image"));
    }
    let m = crate::model::load_demo(gpu)?;
    let g = m.graph();
    let mut entries = user_entries(&m, &args.images)?;
    entries.extend(scene_entries(args.scenes)?);
    std::fs::create_dir_all(&args.out).map_err(|source| Error::Io { path: args.out.clone(), source })?;

    // Grad-CAM of every image for the class the model predicts, a few images per GPU batch.
    let t0 = Instant::now();
    let size = demo::IMAGE_SIZE;
    let opts = CamOptions::new(Method::GradCam, g.tensor(demo::CAM_LAYER)?);
    let (mut logits, mut overlays) = (Vec::new(), Vec::new());
    for chunk in entries.chunks(BATCH) {
        let shown: Vec<f32> = chunk.iter().flat_map(|e| e.image.iter().copied()).collect();
        let x = demo::input_tensor(gpu, &shown)?;
        let e = crate::cam::explain_batch(gpu, g, &x, &shown, &opts, Colormap::Jet)?;
        logits.extend(e.logits);
        overlays.extend(e.overlays);
    }
    let cam_ms = t0.elapsed().as_secs_f64() * 1e3;
    let k = demo::CLASSES.len();
    let mut rows = Vec::new();
    let mut written = Vec::new();
    // The overview: every input above its Grad-CAM overlay, side by side, at half the zoom.
    let tile = size as u32 * ZOOM / 2;
    let gap = 4;
    let mut overview = image::RgbImage::from_pixel(
        entries.len() as u32 * (tile + gap) + gap,
        2 * tile + 3 * gap,
        image::Rgb([255, 255, 255]),
    );
    for (i, entry) in entries.iter().enumerate() {
        let (pred, prob) = crate::model::top1(&logits[i * k..(i + 1) * k]);
        let truth = entry.truth.map_or("-", |t| demo::CLASSES[t]);
        println!("{}: true {truth}, predicted {} ({:.1}%)", entry.name, demo::CLASSES[pred], 100.0 * prob);
        let input_png = format!("{}.png", entry.file);
        let cam_png = format!("{}_gradcam.png", entry.file);
        let input = enlarge(&vis::chw_to_rgb(&entry.image, size, size)?);
        vis::save_png_atomic(&input, &args.out.join(&input_png))?;
        let mut overlay = image::DynamicImage::ImageRgba8(enlarge(&overlays[i])).to_rgb8();
        vis::draw_text(&mut overlay, 2, 2, &format!("{} {:.1}%", demo::CLASSES[pred], 100.0 * prob), 2);
        vis::save_png_atomic(&overlay, &args.out.join(&cam_png))?;
        let half =
            |img: &image::RgbImage| image::imageops::resize(img, tile, tile, image::imageops::FilterType::Triangle);
        let x0 = (gap + i as u32 * (tile + gap)) as i64;
        image::imageops::replace(&mut overview, &half(&input), x0, gap as i64);
        image::imageops::replace(&mut overview, &half(&overlay), x0, (2 * gap + tile) as i64);
        rows.push(vec![
            html::escape(&entry.name),
            html::img(&input_png, &entry.name, false),
            html::img(&cam_png, &format!("Grad-CAM of {}", entry.name), false),
            html::escape(truth),
            html::escape(demo::CLASSES[pred]),
            format!("{:.1}%", 100.0 * prob),
        ]);
        written.extend([input_png, cam_png]);
    }

    vis::save_png_atomic(&overview, &args.out.join("overview.png"))?;
    written.push("overview.png".to_string());

    // What each stage sees of the first image: the maps shrink while the channels grow.
    let stages = demo::STAGES.iter().map(|s| g.tensor(s)).collect::<Result<Vec<_>>>()?;
    let first = demo::input_tensor(gpu, &entries[0].image)?;
    let acts = gpu.run(|rec| g.forward(rec, &first, &Keep::taps(&stages)))?;
    let mut grids = Vec::new();
    for (&id, name) in stages.iter().zip(demo::STAGES) {
        let [c, h, w] = match *g.item_shape(id) {
            [c, h, w] => [c, h, w],
            ref s => return Err(Error::shape("demo", format!("`{name}` is {s:?}, not [C, H, W]"))),
        };
        let values = acts.read(gpu, g, id, None)?;
        let file = format!("{name}_features.png");
        vis::save_png_atomic(&crate::features::grid(&values, c, h, w)?, &args.out.join(&file))?;
        grids.push((file, format!("{name}: {c} maps of {h}x{w}")));
    }

    let table = crate::inspect::table(g, false, &m.onnx.producer, m.onnx.opset);
    featuremap::io::write_atomic(&args.out.join("inspect.txt"), table.as_bytes())?;

    let mut page = Page::new("featuremap demo: the embedded shapes model");
    page.paragraph(&format!(
        "A small CNN trained by this engine to name eight shapes ({}), run on {adapter}. \
         Inputs are {size}x{size} pixels, shown {ZOOM}x larger; the heatmaps are Grad-CAM on {} \
         for the predicted class.",
        demo::CLASSES.join(", "),
        demo::CAM_LAYER
    ));
    page.heading("Predictions and Grad-CAM");
    page.figure(
        &html::img("overview.png", "every input above its Grad-CAM overlay", false),
        &["Every input above its Grad-CAM overlay, labelled with the predicted class and score.".to_string()],
    );
    page.table(&["", "input", "Grad-CAM", "true class", "predicted", "score"], &rows);
    page.heading(&format!("Feature maps of {}", entries[0].name));
    page.paragraph("Every channel of each stage, min-max scaled on its own: the maps shrink while the channels grow.");
    for (file, caption) in &grids {
        page.figure(&html::img(file, caption, false), std::slice::from_ref(caption));
    }
    page.heading("Layers (inspect.txt)");
    page.pre(&table);
    let index = args.out.join("index.html");
    featuremap::io::write_atomic(&index, page.finish().as_bytes())?;

    println!(
        "{} images explained in {cam_ms:.0} ms; wrote {} PNGs of inputs and Grad-CAM overlays (with overview.png), {} stage grids and inspect.txt to {}",
        entries.len(),
        written.len(),
        grids.len(),
        args.out.display()
    );
    println!("open {}", index.display());
    Ok(())
}

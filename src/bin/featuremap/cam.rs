//! `featuremap cam MODEL INPUT... --layer TENSOR`: CAM heatmaps as .npy and overlays as PNG.

use std::path::{Path, PathBuf};

use featuremap::cam::{self, CamOptions, Method, Target};
use featuremap::io::write_npy;
use featuremap::vis::{self, Colormap, Overlay};
use featuremap::{Error, Gpu, Result, Tensor};

#[derive(clap::Args)]
pub struct Args {
    /// The model (.onnx).
    model: PathBuf,
    /// Images (PNG, JPEG, WebP, BMP), preprocessed .npy tensors, or folders of them.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Target layer (an ONNX tensor name); repeat to average several. Default: the last 4-D
    /// feature map before global pooling.
    #[arg(long = "layer")]
    layers: Vec<String>,
    /// gradcam, hirescam, gradcam++, xgradcam, layercam, scorecam, ablationcam, eigencam,
    /// eigengradcam or cam.
    #[arg(long, default_value = "gradcam")]
    method: String,
    /// Explain this class for every image (default: each image's top-1 class).
    #[arg(long = "class")]
    class: Option<usize>,
    /// With one input: write the heatmaps as float32 (N, H, W) in [0, 1].
    #[arg(long)]
    npy: Option<PathBuf>,
    /// With one input: write the overlay PNG.
    #[arg(long)]
    png: Option<PathBuf>,
    /// Write one PNG and one .npy per image into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write one self-contained HTML page with every overlay inline.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Colormap: jet, turbo, viridis or inferno.
    #[arg(long, default_value = "jet")]
    colormap: String,
    /// Images per GPU batch.
    #[arg(long, default_value_t = 8)]
    batch: usize,
}

/// One explained image, for the HTML report.
pub struct Item {
    pub name: String,
    pub class: usize,
    pub prob: f32,
    pub png: Vec<u8>,
}

pub fn run(gpu: &Gpu, args: &Args) -> Result<()> {
    let m = crate::model::load(gpu, &args.model)?;
    let method = Method::from_name(&args.method)?;
    let colormap = Colormap::from_name(&args.colormap)?;
    let files = crate::model::expand_inputs(&args.inputs)?;
    let single = files.len() == 1 && args.inputs.len() == 1 && !args.inputs[0].is_dir();
    if !single && (args.npy.is_some() || args.png.is_some()) {
        return Err(Error::arg("cam", "--npy and --png take one input; use --out DIR for several"));
    }
    if args.npy.is_none() && args.png.is_none() && args.out.is_none() && args.html.is_none() {
        return Err(Error::arg("cam", "nothing to write: pass --npy, --png, --out DIR or --html FILE"));
    }
    if args.batch == 0 {
        return Err(Error::arg("cam", "--batch must be at least 1"));
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
    }
    let mut opts = CamOptions::new(method, m.layers(&args.layers)?[0]);
    opts.layers = m.layers(&args.layers)?;
    opts.targets = args.class.map(|c| vec![Target::Class(c)]).unwrap_or_default();

    let bar = (files.len() > 1).then(|| {
        let b = indicatif::ProgressBar::new(files.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images {elapsed} (eta {eta}) {msg}").unwrap(),
        );
        b
    });
    let mut items = Vec::new();
    let mut all_maps = Vec::new();
    let mut map_dims = [0usize; 3];
    for chunk in files.chunks(args.batch) {
        let batch = crate::model::load_batch(gpu, &m, chunk)?;
        let (x, values) = (&batch.tensor, &batch.values);
        let out = cam::explain(gpu, m.graph(), x, &opts)?;
        let [n, _, h, w] = out.heatmap.shape().nchw("cam")?;
        let maps = out.heatmap.to_f32(gpu)?;
        let logits = out.logits.to_f32(gpu)?;
        let k = logits.len() / n;
        // Overlays on the GPU, over the input shown in [0, 1].
        let shown: Vec<f32> =
            values.chunks(3 * h * w).flat_map(|img| m.pre.denormalize(img)).map(|v| v.clamp(0.0, 1.0)).collect();
        let img = Tensor::from_f32(gpu, [n, 3, h, w], &shown)?;
        let rgba = gpu.run(|rec| {
            vis::colorize(rec, &out.heatmap, Some(&img), colormap, Overlay::ShowCamOnImage { image_weight: 0.5 })
        })?;
        let overlays = vis::read_rgba(gpu, &rgba)?;
        // Name each image by its file (and index within a .npy batch).
        let mut names = Vec::new();
        for (f, &count) in chunk.iter().zip(&batch.per_file) {
            let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or("input").to_string();
            for i in 0..count {
                names.push(if count > 1 { format!("{stem}_{i}") } else { stem.clone() });
            }
        }
        for (i, name) in names.iter().enumerate() {
            let row = &logits[i * k..(i + 1) * k];
            let class = args.class.unwrap_or_else(|| (0..k).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap_or(0));
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let prob = (row[class] - max).exp() / row.iter().map(|v| (v - max).exp()).sum::<f32>();
            let png = png_bytes(&overlays[i])?;
            if let Some(dir) = &args.out {
                featuremap::io::write_atomic(&dir.join(format!("{name}.png")), &png)?;
                write_npy(&dir.join(format!("{name}.npy")), &[h, w], &maps[i * h * w..(i + 1) * h * w])?;
            }
            if bar.is_none() {
                println!(
                    "{name}: class {class} ({:.1}%), {} on {}",
                    100.0 * prob,
                    method.name(),
                    layer_names(&m, &opts)
                );
            }
            items.push(Item { name: name.clone(), class, prob, png });
        }
        all_maps.extend_from_slice(&maps);
        map_dims = [all_maps.len() / (h * w), h, w];
        if let Some(b) = &bar {
            b.inc(chunk.len() as u64);
        }
    }
    if let Some(b) = bar {
        b.finish_with_message("done");
    }
    if let Some(path) = &args.npy {
        write_npy(path, &map_dims, &all_maps)?;
        println!("wrote {} {:?}", path.display(), map_dims);
    }
    if let Some(path) = &args.png {
        featuremap::io::write_atomic(path, &items[0].png)?;
        println!("wrote {}", path.display());
    }
    if let Some(dir) = &args.out {
        println!("wrote {} PNG and .npy pairs to {}", items.len(), dir.display());
    }
    if let Some(path) = &args.html {
        let title = format!("{} on {} of {}", method.name(), layer_names(&m, &opts), args.model.display());
        featuremap::io::write_atomic(path, html_report(&title, &items).as_bytes())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn layer_names(m: &crate::model::Model, opts: &CamOptions) -> String {
    opts.layers.iter().map(|l| format!("`{}`", m.graph().name(*l))).collect::<Vec<_>>().join(" + ")
}

/// Encodes an RGBA image as PNG bytes.
pub fn png_bytes(img: &image::RgbaImage) -> Result<Vec<u8>> {
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png)
        .map_err(|e| Error::Image { path: Path::new("<memory>").into(), message: e.to_string() })?;
    Ok(buf.into_inner())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One self-contained page: every overlay inline as a data URL, with its class and score.
pub fn html_report(title: &str, items: &[Item]) -> String {
    use base64::Engine;
    let mut s = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>body{{font-family:sans-serif;background:#111;color:#eee}}\
         figure{{display:inline-block;margin:8px;text-align:center}}img{{width:224px;image-rendering:pixelated;border:1px solid #444}}</style></head>\n\
         <body><h1>{t}</h1>\n",
        t = escape(title)
    );
    for it in items {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&it.png);
        s.push_str(&format!(
            "<figure><img alt=\"{n}\" src=\"data:image/png;base64,{b64}\"><figcaption>{n}<br>class {c} ({p:.1}%)</figcaption></figure>\n",
            n = escape(&it.name),
            c = it.class,
            p = 100.0 * it.prob
        ));
    }
    s.push_str("</body></html>\n");
    s
}

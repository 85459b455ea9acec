//! `featuremap cam MODEL INPUT... --layer TENSOR`: CAM heatmaps as .npy and overlays as PNG.

use std::path::PathBuf;

use featuremap::cam::{self, CamOptions, Method, Target};
use featuremap::graph::Graph;
use featuremap::io::write_npy;
use featuremap::vis::{self, Colormap, Overlay};
use featuremap::{Error, Gpu, Result, Tensor};

use crate::html::{self, png_bytes, Item};

#[derive(clap::Args)]
pub struct Args {
    #[arg(help = crate::model::MODEL_HELP)]
    model: PathBuf,
    /// Images (PNG, JPEG, WebP, BMP), preprocessed .npy tensors, or folders of them.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Target layer (an ONNX tensor name; `demo` has stage1 .. stage4); repeat to average
    /// several. Default: the last 4-D feature map before global pooling.
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
    /// A text file with one class name per line, for the printed lines and the HTML captions
    /// (default: the model's own names, if it has them).
    #[arg(long)]
    labels: Option<PathBuf>,
}

/// One batch explained: the heatmaps (on the GPU; read them back where they are written),
/// the scores and the overlays, read back.
pub struct Explained {
    /// Heatmaps `[N, 1, H, W]` in [0, 1].
    pub heatmap: Tensor,
    /// The network's output `[N, classes]`.
    pub logits: Vec<f32>,
    /// `[N, H, W]` of the heatmaps (the input's size).
    pub dims: [usize; 3],
    /// Each heatmap laid over its image, RGBA.
    pub overlays: Vec<image::RgbaImage>,
}

/// Explains the batch `x` and lays each heatmap over its image as a person sees it (`shown`:
/// `[N, 3, H, W]` in [0, 1]); the overlays are made on the GPU before anything is read back.
pub fn explain_batch(
    gpu: &Gpu,
    graph: &Graph,
    x: &Tensor,
    shown: &[f32],
    opts: &CamOptions,
    colormap: Colormap,
) -> Result<Explained> {
    let out = cam::explain(gpu, graph, x, opts)?;
    let [n, _, h, w] = out.heatmap.shape().nchw("cam")?;
    let img = Tensor::from_f32(gpu, [n, 3, h, w], shown)?;
    let rgba = gpu.run(|rec| {
        vis::colorize(rec, &out.heatmap, Some(&img), colormap, Overlay::ShowCamOnImage { image_weight: 0.5 })
    })?;
    Ok(Explained {
        logits: out.logits.to_f32(gpu)?,
        dims: [n, h, w],
        overlays: vis::read_rgba(gpu, &rgba)?,
        heatmap: out.heatmap,
    })
}

pub fn run(gpu: &Gpu, args: &Args) -> Result<()> {
    let m = crate::model::load(gpu, &args.model)?;
    let labels = m.class_names(args.labels.as_deref())?;
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
    let per_image = m.input_chw()?.iter().product::<usize>();
    for chunk in files.chunks(args.batch) {
        let batch = crate::model::load_batch(gpu, &m, chunk)?;
        // Overlays over the input as a person sees it: normalisation undone, in [0, 1].
        let shown: Vec<f32> = batch.values.chunks(per_image).flat_map(|img| m.pre.denormalize(img)).collect();
        let e = explain_batch(gpu, m.graph(), &batch.tensor, &shown, &opts, colormap)?;
        let [_, h, w] = e.dims;
        let k = e.logits.len() / e.dims[0].max(1);
        let maps = e.heatmap.to_f32(gpu)?;
        // Name each image by its file (and index within a .npy batch).
        let mut names = Vec::new();
        for (f, &count) in chunk.iter().zip(&batch.per_file) {
            let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or("input").to_string();
            for i in 0..count {
                names.push(if count > 1 { format!("{stem}_{i}") } else { stem.clone() });
            }
        }
        for (i, name) in names.iter().enumerate() {
            let row = &e.logits[i * k..(i + 1) * k];
            let class = args.class.unwrap_or_else(|| crate::model::top1(row).0);
            let prob = crate::model::softmax(row).get(class).copied().unwrap_or(0.0);
            let label = labels.as_ref().and_then(|l| l.get(class)).cloned();
            let png = png_bytes(&e.overlays[i])?;
            if let Some(dir) = &args.out {
                featuremap::io::write_atomic(&dir.join(format!("{name}.png")), &png)?;
                write_npy(&dir.join(format!("{name}.npy")), &[h, w], &maps[i * h * w..(i + 1) * h * w])?;
            }
            if bar.is_none() {
                let named = label.as_ref().map_or(String::new(), |l| format!(" {l}"));
                println!(
                    "{name}: class {class}{named} ({:.1}%), {} on {}",
                    100.0 * prob,
                    method.name(),
                    layer_names(&m, &opts)
                );
            }
            items.push(Item { name: name.clone(), class, label, prob, png });
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
        featuremap::io::write_atomic(path, html::cam_report(&title, &items).as_bytes())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn layer_names(m: &crate::model::Model, opts: &CamOptions) -> String {
    opts.layers.iter().map(|l| format!("`{}`", m.graph().name(*l))).collect::<Vec<_>>().join(" + ")
}

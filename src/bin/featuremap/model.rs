//! Loading a MODEL argument and INPUT files for the verbs.
//!
//! MODEL is an .onnx file, or the literal `demo`: the shapes model embedded in the library
//! ([`featuremap::demo`]), so every verb works with no model file at hand. `demo` always means
//! the embedded model; a file of that name is reached as `./demo`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use featuremap::graph::{Graph, TensorId};
use featuremap::import::{load_onnx, OnnxModel};
use featuremap::io::{read_npy, Preprocess};
use featuremap::{demo, DType, Error, Gpu, Result, Tensor};

/// The help text of every verb's MODEL argument.
pub const MODEL_HELP: &str = "The model: an .onnx file, or `demo` for the embedded shapes model (`./demo` for a file)";

/// A loaded model and how its inputs are prepared.
pub struct Model {
    pub onnx: OnnxModel,
    pub pre: Preprocess,
    /// Class names that come with the model (the demo model's); `--labels` replaces them.
    pub labels: Option<Vec<String>>,
}

impl Model {
    pub fn graph(&self) -> &Graph {
        &self.onnx.graph
    }

    /// `[C, H, W]` of the model's input.
    pub fn input_chw(&self) -> Result<[usize; 3]> {
        match *self.graph().item_shape(self.graph().input()) {
            [c, h, w] => Ok([c, h, w]),
            ref s => Err(Error::arg("model", format!("the input is [N, {s:?}], not an image [N, C, H, W]"))),
        }
    }

    /// Looks up `--layer` names; none given: the default CAM layer.
    pub fn layers(&self, names: &[String]) -> Result<Vec<TensorId>> {
        if names.is_empty() {
            let l = self
                .graph()
                .default_cam_layer()
                .ok_or_else(|| Error::arg("cam", "the model has no 4-D feature map; pass --layer"))?;
            return Ok(vec![l]);
        }
        names.iter().map(|n| self.onnx.tensor(n)).collect()
    }

    /// The class names to print: `--labels FILE` if given, else the model's own, else none.
    pub fn class_names(&self, labels: Option<&Path>) -> Result<Option<Vec<String>>> {
        match labels {
            Some(p) => read_labels(p).map(Some),
            None => Ok(self.labels.clone()),
        }
    }
}

/// Whether a MODEL argument names the embedded demo model: exactly `demo`, so `./demo` or any
/// other spelling of a path still reaches a file.
pub fn is_demo(model: &Path) -> bool {
    model.as_os_str() == "demo"
}

/// Whether models load with f16 storage (`--f16`).
static F16: AtomicBool = AtomicBool::new(false);

/// Makes every model loaded from now on use f16 storage (`--f16`) or not.
pub fn use_f16(on: bool) {
    F16.store(on, Ordering::Relaxed);
}

/// `m` with the storage `--f16` asked for.
fn with_storage(gpu: &Gpu, mut m: Model) -> Result<Model> {
    if F16.load(Ordering::Relaxed) {
        m.onnx.graph.set_storage(gpu, DType::F16)?;
    }
    Ok(m)
}

/// The embedded demo model, with its own preprocessing and class names.
pub fn load_demo(gpu: &Gpu) -> Result<Model> {
    let onnx = OnnxModel {
        graph: demo::load(gpu)?,
        opset: 0,
        producer: "featuremap demo model (embedded)".into(),
        declared_batch: None,
        folded: vec![],
    };
    let labels = Some(demo::CLASSES.iter().map(|c| c.to_string()).collect());
    with_storage(gpu, Model { onnx, pre: demo::preprocess(), labels })
}

/// Loads MODEL: an .onnx file, or `demo` (see [`is_demo`]).
pub fn load(gpu: &Gpu, model: &Path) -> Result<Model> {
    if is_demo(model) {
        return load_demo(gpu);
    }
    let onnx = load_onnx(gpu, model)?;
    let mut m = Model { onnx, pre: Preprocess::default(), labels: None };
    let [c, h, w] = m.input_chw()?;
    if c != 3 {
        return Err(Error::arg(
            "model",
            format!("the input has {c} channels; image inputs need 3 (pass .npy inputs instead)"),
        ));
    }
    // torchvision's convention: resize the shorter side to 256/224 of the crop, then crop.
    m.pre.crop = Some([h as u32, w as u32]);
    m.pre.resize_shorter = Some(((h.min(w) as f64) * 256.0 / 224.0).round() as u32);
    with_storage(gpu, m)
}

/// Expands folders into their image and .npy files (sorted), keeps files as given.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|source| Error::Io { path: p.clone(), source })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg" | "webp" | "bmp" | "npy")
                    })
                })
                .collect();
            files.sort();
            out.extend(files);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(Error::Io {
                path: p.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
    }
    if out.is_empty() {
        return Err(Error::arg("input", "no input images or .npy files found"));
    }
    Ok(out)
}

/// One input: an image (preprocessed) or a .npy NCHW tensor (taken as is).
/// Returns `[n, c, h, w]` values; `n` is 1 for images.
pub fn load_input(m: &Model, path: &Path) -> Result<(Vec<f32>, [usize; 4])> {
    let [c, h, w] = m.input_chw()?;
    if path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("npy")) {
        let (shape, v) = read_npy(path)?;
        let dims = match shape[..] {
            [n, cc, hh, ww] => [n, cc, hh, ww],
            [cc, hh, ww] => [1, cc, hh, ww],
            _ => return Err(Error::shape("input", format!("{}: {shape:?} is not NCHW", path.display()))),
        };
        if dims[1..] != [c, h, w] {
            return Err(Error::shape(
                "input",
                format!("{}: {:?} does not fit the model's input [N, {c}, {h}, {w}]", path.display(), dims),
            ));
        }
        return Ok((v, dims));
    }
    let (v, [hh, ww]) = m.pre.load(path)?;
    if [hh, ww] != [h, w] {
        return Err(Error::shape(
            "input",
            format!("{}: preprocessed to {hh}x{ww}, the model needs {h}x{w}", path.display()),
        ));
    }
    Ok((v, [1, c, h, w]))
}

/// Inputs loaded into one batch.
pub struct Batch {
    /// The batch `[N, C, H, W]` on the GPU.
    pub tensor: Tensor,
    /// The same values on the host.
    pub values: Vec<f32>,
    /// How many images each input file contributed (1 for an image, N for an NCHW .npy).
    pub per_file: Vec<usize>,
}

/// Loads inputs into one batch tensor.
pub fn load_batch(gpu: &Gpu, m: &Model, paths: &[PathBuf]) -> Result<Batch> {
    let mut values = Vec::new();
    let mut per_file = Vec::with_capacity(paths.len());
    let [c, h, w] = m.input_chw()?;
    for p in paths {
        let (v, dims) = load_input(m, p)?;
        per_file.push(dims[0]);
        values.extend(v);
    }
    let n = per_file.iter().sum::<usize>();
    Ok(Batch { tensor: Tensor::from_f32(gpu, [n, c, h, w], &values)?, values, per_file })
}

/// Reads a labels file: one class name per line.
pub fn read_labels(path: &Path) -> Result<Vec<String>> {
    let s = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    Ok(s.lines().map(|l| l.trim().to_string()).collect())
}

/// Softmax of one row of logits (max-subtracted, so large logits do not overflow).
pub fn softmax(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = row.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
}

/// The highest-scoring class of one row of logits and its softmax probability.
pub fn top1(row: &[f32]) -> (usize, f32) {
    let class = (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap_or(0);
    (class, softmax(row).get(class).copied().unwrap_or(0.0))
}

//! The CAM family: which regions of an image drove a network's score.
//!
//! Every method follows the `grad-cam` package (pytorch-grad-cam 1.5.7) step for step, so the
//! heatmaps agree with it: per target layer a raw map (method-specific), ReLU, per-image min-max
//! scaling (epsilon 1e-7), bilinear resize to the input size (half-pixel centres, as
//! `cv2.resize`); then across layers ReLU, mean and min-max again. Everything runs on the GPU
//! and nothing is read back until the caller reads the heatmap.

mod methods;

pub use methods::{explain, guided_backprop, guided_gradcam};

use crate::graph::TensorId;
use crate::{Error, Result, Tensor};

/// A CAM method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Grad-CAM: channels weighted by the spatial mean of the gradients.
    GradCam,
    /// HiResCAM: the gradient times the activation, summed over channels.
    HiResCam,
    /// Grad-CAM++: second-order channel weights.
    GradCamPlusPlus,
    /// XGrad-CAM: gradients weighted by the normalised activations.
    XGradCam,
    /// LayerCAM: positive gradients times activations, summed over channels.
    LayerCam,
    /// Score-CAM: each channel, upsampled and scaled to [0, 1], masks the input; the softmax of
    /// the target scores of the masked inputs weighs the channels. No gradients.
    ScoreCam,
    /// Ablation-CAM: the drop in the target score when a channel is ablated weighs it.
    AblationCam,
    /// Eigen-CAM: the activations' first principal component.
    EigenCam,
    /// EigenGrad-CAM: the first principal component of gradients times activations.
    EigenGradCam,
    /// Plain CAM for networks that end in global average pooling and a linear layer: channels
    /// weighted by the linear layer's rows of the target classes.
    Cam,
}

impl Method {
    /// Every method, in the order of the CLI's list.
    pub const ALL: [Method; 10] = [
        Method::GradCam,
        Method::HiResCam,
        Method::GradCamPlusPlus,
        Method::XGradCam,
        Method::LayerCam,
        Method::ScoreCam,
        Method::AblationCam,
        Method::EigenCam,
        Method::EigenGradCam,
        Method::Cam,
    ];

    /// The CLI name (`gradcam`, `gradcam++`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Method::GradCam => "gradcam",
            Method::HiResCam => "hirescam",
            Method::GradCamPlusPlus => "gradcam++",
            Method::XGradCam => "xgradcam",
            Method::LayerCam => "layercam",
            Method::ScoreCam => "scorecam",
            Method::AblationCam => "ablationcam",
            Method::EigenCam => "eigencam",
            Method::EigenGradCam => "eigengradcam",
            Method::Cam => "cam",
        }
    }

    /// Parses a CLI name.
    pub fn from_name(name: &str) -> Result<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
            Error::arg("cam", format!("unknown method `{name}`; one of {}", names.join(", ")))
        })
    }

    /// Whether the method needs a backward pass.
    pub fn uses_gradients(self) -> bool {
        !matches!(self, Method::ScoreCam | Method::AblationCam | Method::EigenCam | Method::Cam)
    }
}

/// What score a heatmap explains, per image.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// The image's highest-scoring class (the default).
    Top1,
    /// The score (logit) of one class.
    Class(usize),
    /// A weighted sum of class scores: `(class, weight)` pairs.
    Weighted(Vec<(usize, f32)>),
}

/// A CAM request.
#[derive(Clone, Debug)]
pub struct CamOptions {
    /// The method.
    pub method: Method,
    /// Target layers (their maps are averaged, as the package does with several layers).
    pub layers: Vec<TensorId>,
    /// Targets: empty for the top-1 class of every image, one for all images, or one per image.
    pub targets: Vec<Target>,
    /// Masked inputs per forward pass in Score-CAM (the package uses 16).
    pub score_batch: usize,
    /// Ablated copies per forward pass in Ablation-CAM (the package uses 32; it also decides
    /// the ablation value when a layer has negative activations).
    pub ablation_batch: usize,
    /// Power-iteration steps of Eigen-CAM's principal component (stops early on convergence).
    pub power_iterations: usize,
}

impl CamOptions {
    /// `method` on one layer, top-1 targets, the package's batch sizes.
    pub fn new(method: Method, layer: TensorId) -> CamOptions {
        CamOptions {
            method,
            layers: vec![layer],
            targets: Vec::new(),
            score_batch: 16,
            ablation_batch: 32,
            power_iterations: 500,
        }
    }
}

/// The result of [`explain`].
pub struct Explanation {
    /// Heatmaps `[N, 1, H, W]` in [0, 1], at the input's size.
    pub heatmap: Tensor,
    /// The network's output `[N, classes]`.
    pub logits: Tensor,
    /// Per image, the class a top-1 target resolved to (as f32), or -1 for explicit targets.
    pub classes: Tensor,
}

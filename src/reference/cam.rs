//! CAM math and post-processing, written to follow the `grad-cam` package (pytorch-grad-cam
//! 1.5.x) line by line: `get_cam_weights` of GradCAM, GradCAM++ and XGradCAM, the weighted and
//! element-wise channel sums of `get_cam_image` (HiResCAM, LayerCAM), `scale_cam_image`,
//! `aggregate_multi_layers`, `get_2d_projection` and `show_cam_on_image`.
//!
//! All of it is in f64 except [`colorize`], which mirrors the package's float32 NumPy arithmetic
//! operation by operation in f32: its last step truncates to `uint8`, so an f64 version would
//! differ from the package by one level wherever a value lands near an integer.

use super::Array;
use crate::ops::{ChannelWeighting, ElementwiseCam};
use crate::vis::{Colormap, Overlay};

/// Per-image, per-channel weights `[N, C]` from activations `a` and gradients `g` `[N, C, H, W]`,
/// as the package's `get_cam_weights` of the chosen method.
pub fn cam_channel_weights(a: &Array, g: &Array, method: ChannelWeighting) -> Array {
    let [n, c, h, w] = a.nchw();
    assert_eq!(a.shape, g.shape, "reference cam_channel_weights: A and G shapes");
    let hw = h * w;
    let mut out = Array::zeros(vec![n, c]);
    for plane in 0..n * c {
        let ga = &g.data[plane * hw..(plane + 1) * hw];
        let aa = &a.data[plane * hw..(plane + 1) * hw];
        out.data[plane] = match method {
            // grad_cam.py: np.mean(grads, axis=(2, 3))
            ChannelWeighting::GradCam => ga.iter().sum::<f64>() / hw as f64,
            ChannelWeighting::GradCamPlusPlus => {
                // grad_cam_plusplus.py
                let sum_activations: f64 = aa.iter().sum();
                let eps = 0.000001;
                let mut weights = 0.0;
                for &grads in ga {
                    let grads_power_2 = grads * grads;
                    let grads_power_3 = grads_power_2 * grads;
                    let aij = grads_power_2 / (2.0 * grads_power_2 + sum_activations * grads_power_3 + eps);
                    let aij = if grads != 0.0 { aij } else { 0.0 };
                    weights += grads.max(0.0) * aij;
                }
                weights
            }
            ChannelWeighting::XGradCam => {
                // xgrad_cam.py
                let sum_activations: f64 = aa.iter().sum();
                let eps = 1e-7;
                ga.iter().zip(aa).map(|(&grads, &act)| grads * act / (sum_activations + eps)).sum()
            }
        };
    }
    out
}

/// `cam[n, 0, h, w] = sum_c weights[n, c] * a[n, c, h, w]` (`weights` `[N, C]`), no ReLU: the
/// package's `(weights[:, :, None, None] * activations).sum(axis=1)`.
pub fn cam_weighted_sum(a: &Array, weights: &Array) -> Array {
    let [n, c, h, w] = a.nchw();
    assert_eq!(weights.shape, vec![n, c], "reference cam_weighted_sum: weights shape");
    let hw = h * w;
    let mut out = Array::zeros(vec![n, 1, h, w]);
    for b in 0..n {
        for ch in 0..c {
            let wt = weights.data[b * c + ch];
            for p in 0..hw {
                out.data[b * hw + p] += wt * a.data[(b * c + ch) * hw + p];
            }
        }
    }
    out
}

/// HiResCAM's `(grads * activations).sum(axis=1)` or LayerCAM's
/// `(np.maximum(grads, 0) * activations).sum(axis=1)`, as `[N, 1, H, W]`, no ReLU.
pub fn cam_elementwise_sum(a: &Array, g: &Array, kind: ElementwiseCam) -> Array {
    let [n, c, h, w] = a.nchw();
    assert_eq!(a.shape, g.shape, "reference cam_elementwise_sum: A and G shapes");
    let hw = h * w;
    let mut out = Array::zeros(vec![n, 1, h, w]);
    for b in 0..n {
        for ch in 0..c {
            for p in 0..hw {
                let i = (b * c + ch) * hw + p;
                let gr = match kind {
                    ElementwiseCam::HiResCam => g.data[i],
                    ElementwiseCam::LayerCam => g.data[i].max(0.0),
                };
                out.data[b * hw + p] += gr * a.data[i];
            }
        }
    }
    out
}

/// The package's `scale_cam_image` without the resize, per leading index: with `relu`,
/// `np.maximum(cam, 0)` first (as `compute_cam_per_layer` does), then `img = img - np.min(img)`,
/// `img = img / (1e-7 + np.max(img))`. The epsilon is the f32 value of `1e-7`, as NumPy adds the
/// Python float to a float32 scalar in float32.
pub fn cam_normalize(cam: &Array, relu: bool) -> Array {
    let n = cam.shape[0];
    let len = cam.numel() / n.max(1);
    let eps = 1e-7f32 as f64;
    let mut out = cam.clone();
    for img in out.data.chunks_mut(len.max(1)) {
        if relu {
            img.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        let mn = img.iter().cloned().fold(f64::INFINITY, f64::min);
        img.iter_mut().for_each(|v| *v -= mn);
        let mx = img.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        img.iter_mut().for_each(|v| *v /= eps + mx);
    }
    out
}

/// The package's `aggregate_multi_layers` before its final scaling: `np.maximum(cams, 0)` then
/// the mean over the layers.
pub fn cam_mean_layers(cams: &[&Array]) -> Array {
    assert!(!cams.is_empty(), "reference cam_mean_layers: no layers");
    let mut out = Array::zeros(cams[0].shape.clone());
    for c in cams {
        assert_eq!(c.shape, out.shape, "reference cam_mean_layers: shapes");
        for (o, &v) in out.data.iter_mut().zip(&c.data) {
            *o += v.max(0.0);
        }
    }
    out.data.iter_mut().for_each(|o| *o /= cams.len() as f64);
    out
}

/// Eigen-decomposition of the symmetric `m` (`k x k`, row-major) by cyclic Jacobi rotations.
/// Returns the eigenvalues and the eigenvectors as the columns of a row-major `k x k` matrix.
pub fn symmetric_eigen(m: &[f64], k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = m.to_vec();
    let mut v = vec![0.0; k * k];
    for i in 0..k {
        v[i * k + i] = 1.0;
    }
    let total: f64 = a.iter().map(|x| x * x).sum();
    for _sweep in 0..100 {
        let off: f64 = (0..k)
            .flat_map(|i| (0..k).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * k + j].powi(2))
            .sum();
        if off <= total * 1e-30 || off == 0.0 {
            break;
        }
        for p in 0..k {
            for q in p + 1..k {
                let apq = a[p * k + q];
                if apq == 0.0 {
                    continue;
                }
                let (app, aqq) = (a[p * k + p], a[q * k + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let cs = 1.0 / (t * t + 1.0).sqrt();
                let sn = t * cs;
                for r in 0..k {
                    let (arp, arq) = (a[r * k + p], a[r * k + q]);
                    a[r * k + p] = cs * arp - sn * arq;
                    a[r * k + q] = sn * arp + cs * arq;
                }
                for r in 0..k {
                    let (apr, aqr) = (a[p * k + r], a[q * k + r]);
                    a[p * k + r] = cs * apr - sn * aqr;
                    a[q * k + r] = sn * apr + cs * aqr;
                }
                for r in 0..k {
                    let (vrp, vrq) = (v[r * k + p], v[r * k + q]);
                    v[r * k + p] = cs * vrp - sn * vrq;
                    v[r * k + q] = sn * vrp + cs * vrq;
                }
            }
        }
    }
    ((0..k).map(|i| a[i * k + i]).collect(), v)
}

/// The package's `get_2d_projection` per image, with a fixed sign: NaNs set to 0; `X` = `a[n]`
/// as `(H*W, C)` rows; `X -= X.mean(axis=0)`; `projection = X @ v1` with `v1` the first right
/// singular vector of `X` (here: the eigenvector of the largest eigenvalue of `X^T X`, by
/// Jacobi in f64; from `X X^T` when `H*W < C`, which gives the same `X v1`). Sign rule (the package's `get_2d_projection_with_sign_correction`, Eq. 13 of
/// Seg-Eigen-CAM): the projection is negated when `|min| > |max|`, so its largest-magnitude
/// value is positive. Output `[N, 1, H, W]`.
pub fn cam_first_principal_projection(a: &Array) -> Array {
    let [n, c, h, w] = a.nchw();
    let hw = h * w;
    let mut out = Array::zeros(vec![n, 1, h, w]);
    for b in 0..n {
        // reshaped_activations[p, ch] = activations[ch, p], NaN -> 0
        let x_at = |p: usize, ch: usize| {
            let v = a.data[(b * c + ch) * hw + p];
            if v.is_nan() {
                0.0
            } else {
                v
            }
        };
        let mean: Vec<f64> = (0..c).map(|ch| (0..hw).map(|p| x_at(p, ch)).sum::<f64>() / hw as f64).collect();
        let xc: Vec<f64> =
            (0..hw).flat_map(|p| (0..c).map(move |ch| (p, ch))).map(|(p, ch)| x_at(p, ch) - mean[ch]).collect();
        let mut proj: Vec<f64> = if hw < c {
            // The same vector from the smaller Gram matrix X X^T (H*W x H*W): its first
            // eigenvector u1 has eigenvalue s1^2, and X v1 = s1 u1.
            let mut m = vec![0.0; hw * hw];
            for p in 0..hw {
                for q in 0..hw {
                    m[p * hw + q] = (0..c).map(|ch| xc[p * c + ch] * xc[q * c + ch]).sum();
                }
            }
            let (vals, vecs) = symmetric_eigen(&m, hw);
            let top = (0..hw).fold(0, |best, i| if vals[i] > vals[best] { i } else { best });
            let s1 = vals[top].max(0.0).sqrt();
            (0..hw).map(|p| s1 * vecs[p * hw + top]).collect()
        } else {
            let mut m = vec![0.0; c * c];
            for i in 0..c {
                for j in 0..c {
                    m[i * c + j] = (0..hw).map(|p| xc[p * c + i] * xc[p * c + j]).sum();
                }
            }
            let (vals, vecs) = symmetric_eigen(&m, c);
            let top = (0..c).fold(0, |best, i| if vals[i] > vals[best] { i } else { best });
            let v1: Vec<f64> = (0..c).map(|i| vecs[i * c + top]).collect();
            (0..hw).map(|p| (0..c).map(|ch| xc[p * c + ch] * v1[ch]).sum()).collect()
        };
        let mn = proj.iter().cloned().fold(f64::INFINITY, f64::min);
        let mx = proj.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if mn.abs() > mx.abs() {
            proj.iter_mut().for_each(|v| *v = -*v);
        }
        out.data[b * hw..(b + 1) * hw].copy_from_slice(&proj);
    }
    out
}

/// `np.uint8(255 * mask)` of a float32 mask: the product rounded to f32, truncated toward zero
/// (clamped to 0..=255 here, where NumPy's cast of an out-of-range value is undefined).
fn uint8_of_255_times(m: f32) -> u32 {
    (255.0f32 * m).clamp(0.0, 255.0) as u32
}

/// [`crate::vis::colorize`] on the host, in f32 exactly as NumPy computes it, as RGBA8 packed
/// in `u32` (R in the low byte, A = 255), `N*H*W` values. `cam` is `[N, 1, H, W]` and `image`
/// `[N, 3, H, W]` (RGB planes); both hold f32 values.
///
/// - Heatmap: the colormap entry of `uint8(255 * cam)`.
/// - Blend: `alpha * heat + (1 - alpha) * image` with `heat = float32(rgb) / 255`, rounded to
///   nearest (`floor(255 * v + 0.5)`).
/// - ShowCamOnImage: `show_cam_on_image(img, mask, use_rgb=True, image_weight=w)`:
///   `cam = (1 - w) * heat + w * img`, `cam = cam / np.max(cam)` (over the whole `H x W x 3`
///   image), `np.uint8(255 * cam)`. The factor `1 - w` is computed in f64 then rounded to f32,
///   as NumPy does with a Python float and a float32 array.
pub fn colorize(cam: &Array, image: Option<&Array>, colormap: Colormap, overlay: Overlay) -> Vec<u32> {
    let [n, one, h, w] = cam.nchw();
    assert_eq!(one, 1, "reference colorize: cam must be [N, 1, H, W]");
    let hw = h * w;
    let lut = colormap.lut();
    let heat = |k: usize, ch: usize| lut[k][ch] as f32 / 255.0f32;
    let img =
        |b: usize, ch: usize, p: usize| image.expect("reference colorize: image").data[(b * 3 + ch) * hw + p] as f32;
    let pack = |rgb: [u32; 3]| rgb[0] | rgb[1] << 8 | rgb[2] << 16 | 0xff00_0000;
    let mut out = Vec::with_capacity(n * hw);
    for b in 0..n {
        let idx = |p: usize| uint8_of_255_times(cam.data[b * hw + p] as f32) as usize;
        match overlay {
            Overlay::Heatmap => {
                for p in 0..hw {
                    let k = idx(p);
                    out.push(pack([lut[k][0] as u32, lut[k][1] as u32, lut[k][2] as u32]));
                }
            }
            Overlay::Blend { alpha } => {
                let beta = (1.0 - alpha as f64) as f32;
                for p in 0..hw {
                    let k = idx(p);
                    let q = |ch: usize| {
                        let v = alpha * heat(k, ch) + beta * img(b, ch, p);
                        (255.0f32 * v + 0.5).floor().clamp(0.0, 255.0) as u32
                    };
                    out.push(pack([q(0), q(1), q(2)]));
                }
            }
            Overlay::ShowCamOnImage { image_weight } => {
                let hw_coef = (1.0 - image_weight as f64) as f32;
                let vals: Vec<[f32; 3]> = (0..hw)
                    .map(|p| {
                        let k = idx(p);
                        [0, 1, 2].map(|ch| hw_coef * heat(k, ch) + image_weight * img(b, ch, p))
                    })
                    .collect();
                let peak = vals.iter().flatten().cloned().fold(f32::NEG_INFINITY, f32::max);
                for v in vals {
                    out.push(pack(v.map(|x| uint8_of_255_times(x / peak))));
                }
            }
        }
    }
    out
}

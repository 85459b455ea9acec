//! References of the training kernels: training-mode batch norm and its backward, mean softmax
//! cross-entropy, and the SGD and AdamW steps (PyTorch's semantics).

use super::Array;

/// What [`batch_norm_train`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormTrain {
    /// The normalised output, shape of the input.
    pub y: Array,
    /// Batch mean per channel.
    pub mean: Vec<f64>,
    /// `1 / sqrt(biased batch variance + eps)` per channel.
    pub invstd: Vec<f64>,
    /// Updated running mean.
    pub running_mean: Vec<f64>,
    /// Updated running variance (with the unbiased batch variance).
    pub running_var: Vec<f64>,
}

/// Training batch norm by definition over axis 1 of `x` `[N, C, ...]`: per-channel batch mean
/// and biased variance, `y = (x - mean) / sqrt(var + eps) * scale + bias`, and the running
/// statistics `(1 - momentum) * running + momentum * stat` with the unbiased variance.
pub fn batch_norm_train(
    x: &Array,
    scale: &[f64],
    bias: &[f64],
    running_mean: &[f64],
    running_var: &[f64],
    momentum: f64,
    eps: f64,
) -> BatchNormTrain {
    assert!(x.shape.len() >= 2, "reference batch_norm_train: input {:?} needs [N, C, ...]", x.shape);
    let c = x.shape[1];
    let inner: usize = x.shape[2..].iter().product();
    let count = (x.shape[0] * inner) as f64;
    let mut sum = vec![0.0; c];
    for (i, &v) in x.data.iter().enumerate() {
        sum[(i / inner) % c] += v;
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
    let mut sq = vec![0.0; c];
    for (i, &v) in x.data.iter().enumerate() {
        let ch = (i / inner) % c;
        sq[ch] += (v - mean[ch]) * (v - mean[ch]);
    }
    let invstd: Vec<f64> = sq.iter().map(|s| 1.0 / (s / count + eps).sqrt()).collect();
    let y = x.data.iter().enumerate().map(|(i, &v)| {
        let ch = (i / inner) % c;
        (v - mean[ch]) * invstd[ch] * scale[ch] + bias[ch]
    });
    let running_mean = (0..c).map(|ch| (1.0 - momentum) * running_mean[ch] + momentum * mean[ch]).collect();
    let running_var = (0..c).map(|ch| (1.0 - momentum) * running_var[ch] + momentum * sq[ch] / (count - 1.0)).collect();
    BatchNormTrain { y: Array::new(x.shape.clone(), y.collect()), mean, invstd, running_mean, running_var }
}

/// Training batch-norm backward (PyTorch's formula): `(dx, dscale, dbias)` with
/// `xhat = (x - mean) * invstd`, `dbias = sum dy`, `dscale = sum dy * xhat` per channel (`M`
/// values) and `dx = scale * invstd / M * (M * dy - dbias - xhat * dscale)`.
pub fn batch_norm_train_backward(
    dy: &Array,
    x: &Array,
    scale: &[f64],
    mean: &[f64],
    invstd: &[f64],
) -> (Array, Array, Array) {
    assert_eq!(dy.shape, x.shape, "reference batch_norm_train_backward: shapes");
    let c = x.shape[1];
    let inner: usize = x.shape[2..].iter().product();
    let m = (x.shape[0] * inner) as f64;
    let mut dscale = Array::zeros(vec![c]);
    let mut dbias = Array::zeros(vec![c]);
    for (i, (&g, &v)) in dy.data.iter().zip(&x.data).enumerate() {
        let ch = (i / inner) % c;
        dscale.data[ch] += g * (v - mean[ch]) * invstd[ch];
        dbias.data[ch] += g;
    }
    let dx = dy.data.iter().zip(&x.data).enumerate().map(|(i, (&g, &v))| {
        let ch = (i / inner) % c;
        let xhat = (v - mean[ch]) * invstd[ch];
        scale[ch] * invstd[ch] / m * (m * g - dbias.data[ch] - xhat * dscale.data[ch])
    });
    (Array::new(x.shape.clone(), dx.collect()), dscale, dbias)
}

/// Mean softmax cross-entropy of `logits` `[N, K]` against `labels` (`N` values in `0..K`):
/// `(loss, dlogits, correct)` with `loss = mean(logsumexp(row) - row[label])`,
/// `dlogits = (softmax - onehot) / N` and `correct` the number of rows whose argmax (first
/// index of the maximum) equals the label.
pub fn softmax_cross_entropy(logits: &Array, labels: &[usize]) -> (f64, Array, f64) {
    let [n, k] = logits.shape[..] else {
        panic!("reference softmax_cross_entropy: logits {:?} must be [N, K]", logits.shape)
    };
    assert_eq!(labels.len(), n, "reference softmax_cross_entropy: labels");
    let mut loss = 0.0;
    let mut correct = 0.0;
    let mut d = Array::zeros(vec![n, k]);
    for (r, &label) in labels.iter().enumerate() {
        let row = &logits.data[r * k..(r + 1) * k];
        let mut arg = 0;
        for j in 1..k {
            if row[j] > row[arg] {
                arg = j;
            }
        }
        let m = row[arg];
        let s: f64 = row.iter().map(|&v| (v - m).exp()).sum();
        loss += s.ln() + m - row[label];
        if arg == label {
            correct += 1.0;
        }
        for (j, &v) in row.iter().enumerate() {
            let onehot = if j == label { 1.0 } else { 0.0 };
            d.data[r * k + j] = ((v - m).exp() / s - onehot) / n as f64;
        }
    }
    (loss / n as f64, d, correct)
}

/// One SGD step (momentum, coupled weight decay): `g = grad + wd * w; v = mu * v + g;
/// w -= lr * v`. Returns the new `(w, v)`.
pub fn sgd_step(w: &[f64], grad: &[f64], v: &[f64], lr: f64, momentum: f64, weight_decay: f64) -> (Vec<f64>, Vec<f64>) {
    let mut nw = Vec::with_capacity(w.len());
    let mut nv = Vec::with_capacity(w.len());
    for i in 0..w.len() {
        let g = grad[i] + weight_decay * w[i];
        let vi = momentum * v[i] + g;
        nv.push(vi);
        nw.push(w[i] - lr * vi);
    }
    (nw, nv)
}

/// One AdamW step `t` (PyTorch's `torch.optim.AdamW`): `w *= 1 - lr * wd`; moments updated;
/// `w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`. Returns the new `(w, m, v)`.
#[allow(clippy::too_many_arguments)]
pub fn adamw_step(
    w: &[f64],
    grad: &[f64],
    m: &[f64],
    v: &[f64],
    t: u32,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let bc1 = 1.0 - beta1.powi(t as i32);
    let bc2 = 1.0 - beta2.powi(t as i32);
    let (mut nw, mut nm, mut nv) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..w.len() {
        let g = grad[i];
        let mi = beta1 * m[i] + (1.0 - beta1) * g;
        let vi = beta2 * v[i] + (1.0 - beta2) * g * g;
        let wi = w[i] * (1.0 - lr * weight_decay) - lr / bc1 * mi / (vi.sqrt() / bc2.sqrt() + eps);
        nw.push(wi);
        nm.push(mi);
        nv.push(vi);
    }
    (nw, nm, nv)
}

use super::Array;
use crate::ops::Lrn;

/// Cross-channel LRN by definition: each value divided by `(k + alpha / size * S)^beta`, where
/// `S` is the sum of squares over the channels `c - floor((size - 1) / 2) ..= c + ceil((size - 1) / 2)`
/// that exist, at the same batch index and position.
pub fn lrn(x: &Array, cfg: &Lrn) -> Array {
    assert!(x.shape.len() >= 3, "reference lrn: input {:?} needs [N, C, H, ...]", x.shape);
    let (n, c) = (x.shape[0], x.shape[1]);
    let inner: usize = x.shape[2..].iter().product();
    let before = (cfg.size as isize - 1) / 2;
    let after = cfg.size as isize / 2;
    let (alpha, beta, k) = (cfg.alpha as f64, cfg.beta as f64, cfg.k as f64);
    let mut y = Array::zeros(x.shape.clone());
    for b in 0..n {
        for ch in 0..c {
            for s in 0..inner {
                let mut sum = 0.0;
                for cc in ch as isize - before..=ch as isize + after {
                    if cc >= 0 && cc < c as isize {
                        let v = x.data[(b * c + cc as usize) * inner + s];
                        sum += v * v;
                    }
                }
                let i = (b * c + ch) * inner + s;
                y.data[i] = x.data[i] / (k + alpha / cfg.size as f64 * sum).powf(beta);
            }
        }
    }
    y
}

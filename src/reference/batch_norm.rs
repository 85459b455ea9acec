use super::Array;

/// Inference batch norm by definition: `(x - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c]`
/// for every value of channel `c` of `x` `[N, C, ...]`.
pub fn batch_norm(x: &Array, scale: &[f64], bias: &[f64], mean: &[f64], var: &[f64], eps: f64) -> Array {
    assert!(x.shape.len() >= 2, "reference batch_norm: input {:?} needs [N, C, ...]", x.shape);
    let c = x.shape[1];
    let inner: usize = x.shape[2..].iter().product();
    for v in [scale, bias, mean, var] {
        assert_eq!(v.len(), c, "reference batch_norm: per-channel length");
    }
    let data = x
        .data
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = (i / inner) % c;
            (v - mean[ch]) / (var[ch] + eps).sqrt() * scale[ch] + bias[ch]
        })
        .collect();
    Array::new(x.shape.clone(), data)
}

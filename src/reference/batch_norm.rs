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

/// Inference batch-norm input gradient by definition: `dx = dy * scale[c] / sqrt(var[c] + eps)`.
pub fn batch_norm_backward(dy: &Array, scale: &[f64], var: &[f64], eps: f64) -> Array {
    let c = dy.shape[1];
    let inner: usize = dy.shape[2..].iter().product();
    assert!(scale.len() == c && var.len() == c, "reference batch_norm_backward: per-channel length");
    let data = dy.data.iter().enumerate().map(|(i, &g)| {
        let ch = (i / inner) % c;
        g * scale[ch] / (var[ch] + eps).sqrt()
    });
    Array::new(dy.shape.clone(), data.collect())
}

/// Inference batch-norm parameter gradients by definition: `(dscale, dbias)`, each `[C]`, with
/// `dscale[c] = sum dy * (x - mean[c]) / sqrt(var[c] + eps)` and `dbias[c] = sum dy` over every
/// value of channel `c`.
pub fn batch_norm_backward_params(dy: &Array, x: &Array, mean: &[f64], var: &[f64], eps: f64) -> (Array, Array) {
    assert_eq!(dy.shape, x.shape, "reference batch_norm_backward_params: shapes");
    let c = dy.shape[1];
    let inner: usize = dy.shape[2..].iter().product();
    let mut dscale = Array::zeros(vec![c]);
    let mut dbias = Array::zeros(vec![c]);
    for (i, (&g, &v)) in dy.data.iter().zip(&x.data).enumerate() {
        let ch = (i / inner) % c;
        dscale.data[ch] += g * (v - mean[ch]) / (var[ch] + eps).sqrt();
        dbias.data[ch] += g;
    }
    (dscale, dbias)
}

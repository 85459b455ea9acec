use super::Array;

/// Layer normalisation by definition: each row of the axes from `axis` on is shifted by its
/// mean and divided by `sqrt(biased variance + eps)`, then scaled by `scale` and shifted by
/// `bias` (both with one value per row element). Panics on invalid shapes (a test bug).
pub fn layer_norm(x: &Array, axis: usize, scale: &Array, bias: Option<&Array>, eps: f64) -> Array {
    let len: usize = x.shape[axis..].iter().product();
    assert_eq!(scale.numel(), len, "reference layer_norm: scale");
    let mut y = Array::zeros(x.shape.clone());
    if len == 0 {
        return y;
    }
    for (row, out) in x.data.chunks(len).zip(y.data.chunks_mut(len)) {
        let mean = row.iter().sum::<f64>() / len as f64;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / len as f64;
        let inv = 1.0 / (var + eps).sqrt();
        for (j, (o, v)) in out.iter_mut().zip(row).enumerate() {
            *o = (v - mean) * inv * scale.data[j] + bias.map_or(0.0, |b| b.data[j]);
        }
    }
    y
}

use super::Array;

/// PReLU by definition: `x` where `x >= 0`, else `slope * x`, with `slope` broadcast to `x`'s
/// shape (right-aligned, each dimension equal or 1). Panics if it does not broadcast (a test bug).
pub fn prelu(x: &Array, slope: &Array) -> Array {
    let rank = x.shape.len();
    assert!(slope.shape.len() <= rank, "reference prelu: slope rank");
    let mut padded = vec![1; rank - slope.shape.len()];
    padded.extend_from_slice(&slope.shape);
    assert!(padded.iter().zip(&x.shape).all(|(&s, &d)| s == d || s == 1), "reference prelu: broadcast");
    let mut y = Array::zeros(x.shape.clone());
    let mut idx = vec![0; rank];
    for (i, &v) in x.data.iter().enumerate() {
        // The multi-index of element i, then the slope element it reads.
        let mut rem = i;
        for d in (0..rank).rev() {
            idx[d] = rem % x.shape[d];
            rem /= x.shape[d];
        }
        let mut si = 0;
        for d in 0..rank {
            si = si * padded[d] + if padded[d] == 1 { 0 } else { idx[d] };
        }
        y.data[i] = if v >= 0.0 { v } else { slope.data[si] * v };
    }
    y
}

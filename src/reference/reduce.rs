use super::Array;
use crate::ops::ReduceOp;

/// Reduction by definition: every input element is added to (or maxed into) the output element
/// whose kept indices it shares; the mean then divides by the count. An empty `axes` reduces
/// every axis. Panics on invalid axes (a test bug).
pub fn reduce(x: &Array, axes: &[usize], keepdims: bool, op: ReduceOp) -> Array {
    let rank = x.shape.len();
    let reduced: Vec<bool> = (0..rank).map(|d| axes.is_empty() || axes.contains(&d)).collect();
    let kept_shape: Vec<usize> = (0..rank).map(|d| if reduced[d] { 1 } else { x.shape[d] }).collect();
    let rows: usize = kept_shape.iter().product();
    let count = x.numel() / rows.max(1);
    let init = if op == ReduceOp::Max { f64::NEG_INFINITY } else { 0.0 };
    let mut acc = vec![init; rows];
    for (i, &v) in x.data.iter().enumerate() {
        // Output index: the multi-index of element i with the reduced coordinates set to 0.
        let mut rem = i;
        let mut o = 0;
        let mut step = 1;
        for d in (0..rank).rev() {
            let c = rem % x.shape[d];
            rem /= x.shape[d];
            if !reduced[d] {
                o += c * step;
                step *= x.shape[d];
            }
        }
        acc[o] = if op == ReduceOp::Max { acc[o].max(v) } else { acc[o] + v };
    }
    if op == ReduceOp::Mean {
        acc.iter_mut().for_each(|a| *a /= count as f64);
    }
    let shape: Vec<usize> =
        if keepdims { kept_shape } else { (0..rank).filter(|&d| !reduced[d]).map(|d| x.shape[d]).collect() };
    Array::new(shape, acc)
}

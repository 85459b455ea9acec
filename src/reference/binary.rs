use super::Array;
use crate::ops::{broadcast_shape, BinaryOp};

/// Elementwise `a OP b` with NumPy broadcasting, by definition: each output index reads the
/// operands at the same index, right-aligned, with index 0 on every dimension of size 1.
pub fn binary(a: &Array, b: &Array, op: BinaryOp) -> Array {
    let out = broadcast_shape(&a.shape, &b.shape).expect("reference binary: broadcastable shapes");
    let rank = out.len();
    // Flat index into `x` of the output multi-index `idx`.
    let at = |x: &Array, idx: &[usize]| -> f64 {
        let offset = rank - x.shape.len();
        let mut flat = 0;
        for (d, &n) in x.shape.iter().enumerate() {
            let i = if n == 1 { 0 } else { idx[offset + d] };
            flat = flat * n + i;
        }
        x.data[flat]
    };
    let mut y = Array::zeros(out.clone());
    let mut idx = vec![0; rank];
    for v in y.data.iter_mut() {
        *v = op.apply(at(a, &idx), at(b, &idx));
        // Next multi-index, last dimension fastest.
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < out[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    y
}

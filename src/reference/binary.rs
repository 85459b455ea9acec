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

/// Sums `x` over the dimensions broadcasting from `shape` would expand, by definition: every
/// element of `x` adds into the element of the result at its index with the broadcast
/// dimensions (right-aligned, size 1 in `shape`) set to 0.
pub fn reduce_sum_to_shape(x: &Array, shape: &[usize]) -> Array {
    let rank = x.shape.len();
    assert!(shape.len() <= rank, "reference reduce_sum_to_shape: rank");
    let offset = rank - shape.len();
    let mut y = Array::zeros(shape.to_vec());
    let mut idx = vec![0; rank];
    for &v in &x.data {
        let mut flat = 0;
        for (d, &n) in shape.iter().enumerate() {
            assert!(n == 1 || n == x.shape[offset + d], "reference reduce_sum_to_shape: {shape:?} vs {:?}", x.shape);
            flat = flat * n + if n == 1 { 0 } else { idx[offset + d] };
        }
        y.data[flat] += v;
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < x.shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    y
}

/// Broadcasting binary-op gradients by definition: the elementwise partial derivatives times
/// `dy` (add `(1, 1)`, sub `(1, -1)`, mul `(b, a)`, div `(1 / b, -a / b^2)`), each summed back
/// to its operand's shape with [`reduce_sum_to_shape`]. Returns `(da, db)`.
pub fn binary_backward(dy: &Array, a: &Array, b: &Array, op: BinaryOp) -> (Array, Array) {
    let ones = |s: &[usize]| Array::new(s.to_vec(), vec![1.0; s.iter().product()]);
    // a and b broadcast to the output shape.
    let af = binary(a, &ones(&dy.shape), BinaryOp::Mul);
    let bf = binary(b, &ones(&dy.shape), BinaryOp::Mul);
    assert_eq!(af.shape, dy.shape, "reference binary_backward: gradient shape");
    let n = dy.numel();
    let (mut ga, mut gb) = (vec![0.0; n], vec![0.0; n]);
    for i in 0..n {
        let (g, x, z) = (dy.data[i], af.data[i], bf.data[i]);
        (ga[i], gb[i]) = match op {
            BinaryOp::Add => (g, g),
            BinaryOp::Sub => (g, -g),
            BinaryOp::Mul => (g * z, g * x),
            BinaryOp::Div => (g / z, -g * x / (z * z)),
        };
    }
    (
        reduce_sum_to_shape(&Array::new(dy.shape.clone(), ga), &a.shape),
        reduce_sum_to_shape(&Array::new(dy.shape.clone(), gb), &b.shape),
    )
}

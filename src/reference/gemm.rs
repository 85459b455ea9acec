use super::{activate, Array};
use crate::ops::Gemm;

/// Gemm by definition: `Y[m, n] = act(alpha * sum_k op(A)[m, k] * op(B)[k, n] + beta * C[m, n])`,
/// with `C` broadcast to `[M, N]` (ONNX unidirectional broadcasting).
pub fn gemm(a: &Array, b: &Array, c: Option<&Array>, cfg: &Gemm) -> Array {
    let (m, k, n) = cfg.mkn(&a.shape, &b.shape).expect("reference gemm: valid shapes");
    let op_a = |i: usize, l: usize| if cfg.trans_a { a.data[l * m + i] } else { a.data[i * k + l] };
    let op_b = |l: usize, j: usize| if cfg.trans_b { b.data[j * k + l] } else { b.data[l * n + j] };
    // C right-aligned against [M, N]; a dimension of size 1 repeats.
    let c_at = |i: usize, j: usize| -> f64 {
        let c = c.expect("C present");
        match c.shape[..] {
            [] => c.data[0],
            [cn] => c.data[if cn == 1 { 0 } else { j }],
            [cm, cn] => {
                let ci = if cm == 1 { 0 } else { i };
                let cj = if cn == 1 { 0 } else { j };
                c.data[ci * cn + cj]
            }
            _ => panic!("reference gemm: C {:?} has rank > 2", c.shape),
        }
    };
    let mut y = Array::zeros(vec![m, n]);
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0;
            for l in 0..k {
                s += op_a(i, l) * op_b(l, j);
            }
            let mut v = cfg.alpha as f64 * s;
            if c.is_some() {
                v += cfg.beta as f64 * c_at(i, j);
            }
            y.data[i * n + j] = activate(v, cfg.activation);
        }
    }
    y
}

/// Gemm gradients by definition, for `Y = alpha * op(A) op(B) + beta * C` (no activation):
/// `dA[.., ..] = alpha * sum_n dY[m, n] op(B)[k, n]` at `A`'s storage position of `op(A)[m, k]`,
/// `dB` likewise with `alpha * sum_m op(A)[m, k] dY[m, n]`, and `dC = beta * dY` summed over the
/// dimensions `C` (`c_shape`) was broadcast along. Returns `(dA, dB, dC)`.
pub fn gemm_backward(
    dy: &Array,
    a: &Array,
    b: &Array,
    c_shape: Option<&[usize]>,
    cfg: &Gemm,
) -> (Array, Array, Option<Array>) {
    assert_eq!(cfg.activation, crate::ops::Activation::None, "reference gemm_backward: no activation");
    let (m, k, n) = cfg.mkn(&a.shape, &b.shape).expect("reference gemm_backward: valid shapes");
    assert_eq!(dy.shape, [m, n], "reference gemm_backward: gradient shape");
    let a_at = |i: usize, l: usize| if cfg.trans_a { l * m + i } else { i * k + l };
    let b_at = |l: usize, j: usize| if cfg.trans_b { j * k + l } else { l * n + j };
    let alpha = cfg.alpha as f64;
    let mut da = Array::zeros(a.shape.clone());
    let mut db = Array::zeros(b.shape.clone());
    for i in 0..m {
        for j in 0..n {
            let g = alpha * dy.data[i * n + j];
            for l in 0..k {
                da.data[a_at(i, l)] += g * b.data[b_at(l, j)];
                db.data[b_at(l, j)] += g * a.data[a_at(i, l)];
            }
        }
    }
    let dc = c_shape.map(|c| {
        let s = super::reduce_sum_to_shape(dy, c);
        Array::new(s.shape, s.data.iter().map(|v| v * cfg.beta as f64).collect())
    });
    (da, db, dc)
}

/// Linear-layer gradients by definition, for `y = x weight^T + bias`: `dx = dy weight`, and
/// with `weight_grads` also `dweight = dy^T x` `[out, in]` and `dbias` `[out]` (the sum of `dy`
/// over the batch).
pub fn linear_backward(dy: &Array, x: &Array, weight: &Array, weight_grads: bool) -> (Array, Option<(Array, Array)>) {
    let cfg = Gemm { trans_b: true, ..Default::default() };
    let out = weight.shape[0];
    let (dx, dw, db) = gemm_backward(dy, x, weight, Some(&[out]), &cfg);
    (dx, weight_grads.then(|| (dw, db.expect("bias gradient"))))
}

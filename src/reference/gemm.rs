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

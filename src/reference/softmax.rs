use super::Array;

/// Applies `f` to every row along `axis` (the array viewed as `[outer, len, inner]`), writing
/// its result in place of the row.
fn along_axis(x: &Array, axis: usize, f: impl Fn(&[f64]) -> Vec<f64>) -> Array {
    assert!(axis < x.shape.len(), "reference softmax: axis {axis} out of range for {:?}", x.shape);
    let len = x.shape[axis];
    let inner: usize = x.shape[axis + 1..].iter().product();
    let outer: usize = x.shape[..axis].iter().product();
    let mut y = Array::zeros(x.shape.clone());
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * len + j) * inner + i;
            let row: Vec<f64> = (0..len).map(|j| x.data[at(j)]).collect();
            for (j, v) in f(&row).into_iter().enumerate() {
                y.data[at(j)] = v;
            }
        }
    }
    y
}

/// `softmax(x)_j = exp(x_j) / sum_k exp(x_k)` along `axis` (the maximum is subtracted first,
/// which changes nothing mathematically and keeps `exp` finite).
pub fn softmax(x: &Array, axis: usize) -> Array {
    along_axis(x, axis, |row| {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|&v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|&v| v / s).collect()
    })
}

/// `log_softmax(x)_j = x_j - log(sum_k exp(x_k))` along `axis` (log-sum-exp with the maximum
/// factored out).
pub fn log_softmax(x: &Array, axis: usize) -> Array {
    along_axis(x, axis, |row| {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row.iter().map(|&v| (v - m).exp()).sum::<f64>().ln();
        row.iter().map(|&v| v - lse).collect()
    })
}

/// Applies `f(dy_row, y_row)` to every pair of rows along `axis`.
fn along_axis2(dy: &Array, y: &Array, axis: usize, f: impl Fn(&[f64], &[f64]) -> Vec<f64>) -> Array {
    assert_eq!(dy.shape, y.shape, "reference softmax backward: shapes");
    let len = y.shape[axis];
    let inner: usize = y.shape[axis + 1..].iter().product();
    let outer: usize = y.shape[..axis].iter().product();
    let mut dx = Array::zeros(y.shape.clone());
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * len + j) * inner + i;
            let g: Vec<f64> = (0..len).map(|j| dy.data[at(j)]).collect();
            let r: Vec<f64> = (0..len).map(|j| y.data[at(j)]).collect();
            for (j, v) in f(&g, &r).into_iter().enumerate() {
                dx.data[at(j)] = v;
            }
        }
    }
    dx
}

/// Softmax gradient from its output `y`: `dx_j = y_j (dy_j - sum_k dy_k y_k)` along `axis`.
pub fn softmax_backward(dy: &Array, y: &Array, axis: usize) -> Array {
    along_axis2(dy, y, axis, |g, y| {
        let s: f64 = g.iter().zip(y).map(|(a, b)| a * b).sum();
        g.iter().zip(y).map(|(&a, &b)| b * (a - s)).collect()
    })
}

/// Log-softmax gradient from its output `y`: `dx_j = dy_j - exp(y_j) sum_k dy_k` along `axis`.
pub fn log_softmax_backward(dy: &Array, y: &Array, axis: usize) -> Array {
    along_axis2(dy, y, axis, |g, y| {
        let s: f64 = g.iter().sum();
        g.iter().zip(y).map(|(&a, &b)| a - b.exp() * s).collect()
    })
}

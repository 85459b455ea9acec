use super::Array;

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// Unravels flat index `i` into coordinates of `shape`.
fn coords(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut c = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        c[d] = i % shape[d];
        i /= shape[d];
    }
    c
}

/// Axis permutation by definition: `y[i_0, .., i_r] = x[j]` where `j[perm[d]] = i_d`.
/// Panics when `perm` is not a permutation (a test bug).
pub fn transpose(x: &Array, perm: &[usize]) -> Array {
    let out = crate::ops::transpose_shape(&x.shape, perm).expect("reference transpose: valid perm");
    let xs = strides(&x.shape);
    let mut y = Array::zeros(out.clone());
    for (i, v) in y.data.iter_mut().enumerate() {
        let c = coords(i, &out);
        let src: usize = c.iter().zip(perm).map(|(&ci, &p)| ci * xs[p]).sum();
        *v = x.data[src];
    }
    y
}

/// Channel shuffle by definition (ShuffleNet, `torch.nn.ChannelShuffle`): with `C = groups * k`,
/// output channel `j * groups + g` is input channel `g * k + j`.
pub fn channel_shuffle(x: &Array, groups: usize) -> Array {
    let [n, c, h, w] = x.nchw();
    assert!(groups > 0 && c % groups == 0, "reference channel_shuffle: groups {groups} must divide {c}");
    let k = c / groups;
    let mut y = Array::zeros(x.shape.clone());
    for b in 0..n {
        for g in 0..groups {
            for j in 0..k {
                let (src, dst) = (g * k + j, j * groups + g);
                for p in 0..h * w {
                    y.data[(b * c + dst) * h * w + p] = x.data[(b * c + src) * h * w + p];
                }
            }
        }
    }
    y
}

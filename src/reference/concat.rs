use super::Array;

/// Concatenation along `axis` by definition: output index `(.., a, ..)` along the axis comes
/// from the input whose range of axis positions holds `a`. Panics on invalid shapes (a test bug).
pub fn concat(inputs: &[&Array], axis: usize) -> Array {
    let dims: Vec<&[usize]> = inputs.iter().map(|a| &a.shape[..]).collect();
    let out = crate::ops::concat_shape(&dims, axis).expect("reference concat: valid shapes");
    let outer: usize = out[..axis].iter().product();
    let inner: usize = out[axis + 1..].iter().product();
    let mut y = Array::zeros(out.clone());
    let mut offset = 0;
    for x in inputs {
        let n = x.shape[axis];
        for o in 0..outer {
            for a in 0..n {
                for k in 0..inner {
                    y.data[(o * out[axis] + offset + a) * inner + k] = x.data[(o * n + a) * inner + k];
                }
            }
        }
        offset += n;
    }
    y
}

/// Split by definition (the backward of [`concat()`]): piece `i` holds the axis positions
/// `sizes[..i].sum() .. sizes[..=i].sum()` of `x`. Panics when the sizes do not add up (a
/// test bug).
pub fn split(x: &Array, axis: usize, sizes: &[usize]) -> Vec<Array> {
    assert_eq!(sizes.iter().sum::<usize>(), x.shape[axis], "reference split: sizes");
    let outer: usize = x.shape[..axis].iter().product();
    let inner: usize = x.shape[axis + 1..].iter().product();
    let mut offset = 0;
    let mut pieces = Vec::new();
    for &n in sizes {
        let mut shape = x.shape.clone();
        shape[axis] = n;
        let mut y = Array::zeros(shape);
        for o in 0..outer {
            for a in 0..n {
                for k in 0..inner {
                    y.data[(o * n + a) * inner + k] = x.data[(o * x.shape[axis] + offset + a) * inner + k];
                }
            }
        }
        offset += n;
        pieces.push(y);
    }
    pieces
}

use super::Array;

/// ONNX `Slice` along one axis with a positive step, by definition: the elements at
/// `start, start + step, ...` below `end` along `axis`. Panics on invalid arguments (a test bug).
pub fn slice(x: &Array, axis: usize, start: usize, end: usize, step: usize) -> Array {
    assert!(
        axis < x.shape.len() && step > 0 && start <= x.shape[axis] && end <= x.shape[axis],
        "reference slice: valid arguments"
    );
    let picked: Vec<usize> = (start..end).step_by(step).collect();
    let outer: usize = x.shape[..axis].iter().product();
    let inner: usize = x.shape[axis + 1..].iter().product();
    let dim = x.shape[axis];
    let mut shape = x.shape.clone();
    shape[axis] = picked.len();
    let mut data = Vec::with_capacity(outer * picked.len() * inner);
    for o in 0..outer {
        for &j in &picked {
            data.extend_from_slice(&x.data[(o * dim + j) * inner..(o * dim + j + 1) * inner]);
        }
    }
    Array::new(shape, data)
}

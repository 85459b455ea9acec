use super::Array;
use crate::ops::PadMode;

/// Padding by definition: each output coordinate minus its begin pad is mapped back into the
/// input (constant: outside gives the value; reflect: `-c` below, `2(n-1) - c` above; edge:
/// clamped). Panics on invalid pads (a test bug).
pub fn pad(x: &Array, pads: &[usize], mode: PadMode) -> Array {
    let out = crate::ops::pad_shape(&x.shape, pads, mode).expect("reference pad: valid pads");
    let rank = out.len();
    let mut y = Array::zeros(out.clone());
    'outer: for (i, v) in y.data.iter_mut().enumerate() {
        let mut rem = i;
        let mut src = 0usize;
        let mut stride = 1usize;
        for d in (0..rank).rev() {
            let n = x.shape[d] as isize;
            let mut c = (rem % out[d]) as isize - pads[d] as isize;
            rem /= out[d];
            if c < 0 || c >= n {
                match mode {
                    PadMode::Constant(value) => {
                        *v = value as f64;
                        continue 'outer;
                    }
                    PadMode::Reflect => c = if c < 0 { -c } else { 2 * (n - 1) - c },
                    PadMode::Edge => c = c.clamp(0, n - 1),
                }
            }
            src += c as usize * stride;
            stride *= x.shape[d];
        }
        *v = x.data[src];
    }
    y
}

use super::Array;
use crate::ops::CoordMode;

/// The two source indices and the weight of the upper one for output index `dst` along an
/// axis of `input` pixels, as PyTorch's `upsample_bilinear2d`.
fn taps(dst: usize, input: usize, output: usize, mode: CoordMode) -> (usize, usize, f64) {
    let scale = mode.scale(input, output);
    let src = match mode {
        CoordMode::HalfPixel => ((dst as f64 + 0.5) * scale - 0.5).max(0.0),
        CoordMode::AlignCorners => dst as f64 * scale,
    };
    let i0 = (src.floor() as usize).min(input - 1);
    let i1 = (i0 + 1).min(input - 1);
    (i0, i1, src - i0 as f64)
}

/// Bilinear resize of an NCHW array to `out_hw`, by definition: each output value blends the
/// four input pixels around its source coordinate. Panics on invalid sizes (a test bug).
pub fn resize_bilinear(x: &Array, out_hw: [usize; 2], mode: CoordMode) -> Array {
    let [n, c, h, w] = x.nchw();
    let out = crate::ops::resize_shape(&x.shape, out_hw).expect("reference resize: valid sizes");
    let [_, _, oh, ow] = out;
    let mut y = Array::zeros(out.to_vec());
    for plane in 0..n * c {
        let at = |yy: usize, xx: usize| x.data[(plane * h + yy) * w + xx];
        for oy in 0..oh {
            let (y0, y1, ly) = taps(oy, h, oh, mode);
            for ox in 0..ow {
                let (x0, x1, lx) = taps(ox, w, ow, mode);
                let top = (1.0 - lx) * at(y0, x0) + lx * at(y0, x1);
                let bottom = (1.0 - lx) * at(y1, x0) + lx * at(y1, x1);
                y.data[(plane * oh + oy) * ow + ox] = (1.0 - ly) * top + ly * bottom;
            }
        }
    }
    y
}

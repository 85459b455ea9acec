use super::Array;
use crate::ops::{NearestCoords, NearestMode};

/// The source coordinate of output index `dst` along an axis of `input` to `output` pixels.
/// The scale and its product with the index are rounded to f32 (as PyTorch computes them);
/// the half-pixel shift by 0.5 is exact.
fn source(dst: usize, input: usize, output: usize, coords: NearestCoords) -> f64 {
    let scale = coords.scale(input, output);
    match coords {
        NearestCoords::Asymmetric | NearestCoords::AlignCorners => (dst as f32 * scale) as f64,
        NearestCoords::HalfPixel => ((dst as f32 + 0.5) * scale) as f64 - 0.5,
    }
}

/// The input index that output index `dst` copies: the source coordinate rounded by `mode`
/// (by definition: floor, ceil, or the nearest integer with ties to the lower or the upper
/// one), clamped to `[0, input - 1]`.
pub fn nearest_index(dst: usize, input: usize, output: usize, coords: NearestCoords, mode: NearestMode) -> usize {
    let s = source(dst, input, output, coords);
    let r = match mode {
        NearestMode::Floor => s.floor(),
        NearestMode::Ceil => s.ceil(),
        NearestMode::RoundPreferFloor => {
            if s - s.floor() == 0.5 {
                s.floor()
            } else {
                s.round()
            }
        }
        NearestMode::RoundPreferCeil => {
            if s - s.floor() == 0.5 {
                s.ceil()
            } else {
                s.round()
            }
        }
    };
    r.clamp(0.0, (input - 1) as f64) as usize
}

/// Nearest-neighbour resize of an NCHW array to `out_hw`: every output pixel copies the input
/// pixel at [`nearest_index`] along H and W. Panics on invalid sizes (a test bug).
pub fn resize_nearest(x: &Array, out_hw: [usize; 2], coords: NearestCoords, mode: NearestMode) -> Array {
    let [n, c, h, w] = x.nchw();
    let out = crate::ops::resize_shape(&x.shape, out_hw).expect("reference resize_nearest: valid sizes");
    let [_, _, oh, ow] = out;
    let mut y = Array::zeros(out.to_vec());
    for plane in 0..n * c {
        for oy in 0..oh {
            let iy = nearest_index(oy, h, oh, coords, mode);
            for ox in 0..ow {
                let ix = nearest_index(ox, w, ow, coords, mode);
                y.data[(plane * oh + oy) * ow + ox] = x.data[(plane * h + iy) * w + ix];
            }
        }
    }
    y
}

use super::Array;
use crate::ops::Pool2d;

/// The first tap `start + j * dil` (j >= 0) that is not negative: where PyTorch's max-pool scan
/// begins, and the index it reports for a window entirely in padding.
fn first_tap(start: isize, dil: isize) -> isize {
    if start >= 0 {
        start
    } else {
        start + (-start + dil - 1) / dil * dil
    }
}

/// Max pooling by definition: the largest input value under each (dilated) window, padding
/// counting as -inf, and where it came from (`iy * W + ix` within its plane; the first maximum
/// in row-major window order wins ties).
pub fn max_pool2d(x: &Array, cfg: &Pool2d) -> (Array, Vec<u32>) {
    let [n, c, h, w] = x.nchw();
    let [oh, ow] = cfg.output_hw([h, w]).expect("reference max_pool2d: valid config");
    let mut y = Array::zeros(vec![n, c, oh, ow]);
    let mut idx = vec![0u32; y.numel()];
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let hs = (oy * cfg.stride[0]) as isize - cfg.padding[0] as isize;
                let ws = (ox * cfg.stride[1]) as isize - cfg.padding[1] as isize;
                let mut best = f64::NEG_INFINITY;
                let mut arg =
                    first_tap(hs, cfg.dilation[0] as isize) * w as isize + first_tap(ws, cfg.dilation[1] as isize);
                for ky in 0..cfg.kernel[0] {
                    let iy = hs + (ky * cfg.dilation[0]) as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    for kx in 0..cfg.kernel[1] {
                        let ix = ws + (kx * cfg.dilation[1]) as isize;
                        if ix < 0 || ix >= w as isize {
                            continue;
                        }
                        let k = iy * w as isize + ix;
                        let v = x.data[plane * h * w + k as usize];
                        if v > best {
                            best = v;
                            arg = k;
                        }
                    }
                }
                let o = (plane * oh + oy) * ow + ox;
                y.data[o] = best;
                idx[o] = arg as u32;
            }
        }
    }
    (y, idx)
}

/// Average pooling by definition: the sum of the input values under each window divided by
/// their count, or with `count_include_pad` by the window's extent clipped to the padded input
/// (`[-pad_begin, size + pad_end)` in each dimension), as PyTorch does.
pub fn avg_pool2d(x: &Array, cfg: &Pool2d) -> Array {
    let [n, c, h, w] = x.nchw();
    assert_eq!(cfg.dilation, [1, 1], "reference avg_pool2d: no dilation");
    let [oh, ow] = cfg.output_hw([h, w]).expect("reference avg_pool2d: valid config");
    let mut y = Array::zeros(vec![n, c, oh, ow]);
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let hs = (oy * cfg.stride[0]) as isize - cfg.padding[0] as isize;
                let ws = (ox * cfg.stride[1]) as isize - cfg.padding[1] as isize;
                let he = (hs + cfg.kernel[0] as isize).min((h + cfg.padding[2]) as isize);
                let we = (ws + cfg.kernel[1] as isize).min((w + cfg.padding[3]) as isize);
                let padded_count = ((he - hs) * (we - ws)) as f64;
                let mut sum = 0.0;
                let mut count = 0usize;
                for iy in hs..he {
                    for ix in ws..we {
                        if iy >= 0 && iy < h as isize && ix >= 0 && ix < w as isize {
                            sum += x.data[(plane * h + iy as usize) * w + ix as usize];
                            count += 1;
                        }
                    }
                }
                let div = if cfg.count_include_pad { padded_count } else { count as f64 };
                y.data[(plane * oh + oy) * ow + ox] = if count == 0 { 0.0 } else { sum / div };
            }
        }
    }
    y
}

/// The mean of every `H x W` plane of `x` `[N, C, H, W]`, as `[N, C, 1, 1]`.
pub fn global_avg_pool2d(x: &Array) -> Array {
    let [n, c, h, w] = x.nchw();
    let data = x.data.chunks(h * w).map(|p| p.iter().sum::<f64>() / (h * w) as f64).collect();
    Array::new(vec![n, c, 1, 1], data)
}

/// The maximum of every `H x W` plane of `x` `[N, C, H, W]`, as `[N, C, 1, 1]`.
pub fn global_max_pool2d(x: &Array) -> Array {
    let [n, c, h, w] = x.nchw();
    let data = x.data.chunks(h * w).map(|p| p.iter().copied().fold(f64::NEG_INFINITY, f64::max)).collect();
    Array::new(vec![n, c, 1, 1], data)
}

/// Max-pooling gradient by definition (a scatter): each output passes `dy` to the input its
/// argmax index (`iy * W + ix` within the plane, as [`max_pool2d`] returns) names, provided that
/// input is one of its window's taps inside the input; inputs covered by several windows sum.
/// Returns `dx` of `x_shape` `[N, C, H, W]`.
pub fn max_pool2d_backward(dy: &Array, argmax: &[u32], x_shape: &[usize], cfg: &Pool2d) -> Array {
    let [n, c, h, w] = [x_shape[0], x_shape[1], x_shape[2], x_shape[3]];
    let [oh, ow] = cfg.output_hw([h, w]).expect("reference max_pool2d_backward: valid config");
    assert_eq!(dy.shape, [n, c, oh, ow], "reference max_pool2d_backward: gradient shape");
    assert_eq!(argmax.len(), dy.numel(), "reference max_pool2d_backward: argmax length");
    let mut dx = Array::zeros(x_shape.to_vec());
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let o = (plane * oh + oy) * ow + ox;
                let arg = argmax[o] as usize;
                let (iy, ix) = (arg / w, arg % w);
                let hs = (oy * cfg.stride[0]) as isize - cfg.padding[0] as isize;
                let ws = (ox * cfg.stride[1]) as isize - cfg.padding[1] as isize;
                let is_tap = |i: usize, s: isize, d: usize, k: usize, size: usize| {
                    i < size && (0..k).any(|t| s + (t * d) as isize == i as isize)
                };
                if is_tap(iy, hs, cfg.dilation[0], cfg.kernel[0], h)
                    && is_tap(ix, ws, cfg.dilation[1], cfg.kernel[1], w)
                {
                    dx.data[plane * h * w + arg] += dy.data[o];
                }
            }
        }
    }
    dx
}

/// Average-pooling gradient by definition (a scatter): each output adds `dy / divisor` to every
/// input under its window, the divisor as in [`avg_pool2d`]. Returns `dx` of `x_shape`.
pub fn avg_pool2d_backward(dy: &Array, x_shape: &[usize], cfg: &Pool2d) -> Array {
    let [n, c, h, w] = [x_shape[0], x_shape[1], x_shape[2], x_shape[3]];
    assert_eq!(cfg.dilation, [1, 1], "reference avg_pool2d_backward: no dilation");
    let [oh, ow] = cfg.output_hw([h, w]).expect("reference avg_pool2d_backward: valid config");
    assert_eq!(dy.shape, [n, c, oh, ow], "reference avg_pool2d_backward: gradient shape");
    let mut dx = Array::zeros(x_shape.to_vec());
    for plane in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let hs = (oy * cfg.stride[0]) as isize - cfg.padding[0] as isize;
                let ws = (ox * cfg.stride[1]) as isize - cfg.padding[1] as isize;
                let he = (hs + cfg.kernel[0] as isize).min((h + cfg.padding[2]) as isize);
                let we = (ws + cfg.kernel[1] as isize).min((w + cfg.padding[3]) as isize);
                let inside: Vec<(usize, usize)> = (hs..he)
                    .flat_map(|iy| (ws..we).map(move |ix| (iy, ix)))
                    .filter(|&(iy, ix)| iy >= 0 && iy < h as isize && ix >= 0 && ix < w as isize)
                    .map(|(iy, ix)| (iy as usize, ix as usize))
                    .collect();
                let div = if cfg.count_include_pad { ((he - hs) * (we - ws)) as f64 } else { inside.len() as f64 };
                let g = dy.data[(plane * oh + oy) * ow + ox];
                for (iy, ix) in inside {
                    dx.data[(plane * h + iy) * w + ix] += g / div;
                }
            }
        }
    }
    dx
}

/// Global-average-pooling gradient: `dy[n, c] / (H W)` at every position of plane `(n, c)`.
pub fn global_avg_pool2d_backward(dy: &Array, x_shape: &[usize]) -> Array {
    let hw: usize = x_shape[2..].iter().product();
    assert_eq!(dy.numel() * hw, x_shape.iter().product::<usize>(), "reference global_avg_pool2d_backward: shapes");
    Array::new(x_shape.to_vec(), dy.data.iter().flat_map(|&g| std::iter::repeat_n(g / hw as f64, hw)).collect())
}

/// Global-max-pooling gradient: all of `dy[n, c]` at the first maximum (row-major) of plane
/// `(n, c)` of `x`, 0 elsewhere (PyTorch's `adaptive_max_pool2d`).
pub fn global_max_pool2d_backward(dy: &Array, x: &Array) -> Array {
    let [_, _, h, w] = x.nchw();
    let mut dx = Array::zeros(x.shape.clone());
    for (plane, p) in x.data.chunks(h * w).enumerate() {
        let mut first = 0;
        for (k, &v) in p.iter().enumerate() {
            if v > p[first] {
                first = k;
            }
        }
        dx.data[plane * h * w + first] = dy.data[plane];
    }
    dx
}

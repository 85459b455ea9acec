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
                let mut arg = first_tap(hs, cfg.dilation[0] as isize) * w as isize
                    + first_tap(ws, cfg.dilation[1] as isize);
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

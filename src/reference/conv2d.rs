use super::{activate, Array};
use crate::ops::Conv2d;

/// Direct convolution by definition: every output is the dot product of its kernel with the
/// input patch under it (zero outside the input).
pub fn conv2d(x: &Array, w: &Array, bias: Option<&Array>, cfg: &Conv2d) -> Array {
    let [n, cin, h, wd] = x.nchw();
    let [cout, cin_g, kh, kw] = w.nchw();
    let out = cfg.output_shape(&x.shape, &w.shape).expect("reference conv2d: valid shapes");
    let [_, _, oh, ow] = out;
    let cout_g = cout / cfg.groups;
    let mut y = Array::zeros(out.to_vec());
    for b in 0..n {
        for oc in 0..cout {
            let g = oc / cout_g;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = bias.map_or(0.0, |bb| bb.data[oc]);
                    for ci in 0..cin_g {
                        let c = g * cin_g + ci;
                        for ky in 0..kh {
                            let iy = (oy * cfg.stride[0] + ky * cfg.dilation[0]) as isize - cfg.padding[0] as isize;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            for kx in 0..kw {
                                let ix = (ox * cfg.stride[1] + kx * cfg.dilation[1]) as isize - cfg.padding[1] as isize;
                                if ix < 0 || ix >= wd as isize {
                                    continue;
                                }
                                s += x.data[((b * cin + c) * h + iy as usize) * wd + ix as usize]
                                    * w.data[((oc * cin_g + ci) * kh + ky) * kw + kx];
                            }
                        }
                    }
                    y.data[((b * cout + oc) * oh + oy) * ow + ox] = activate(s, cfg.activation);
                }
            }
        }
    }
    y
}

/// Visits every (output element, weight element, input element) triple that the forward
/// convolution multiplies together, as flat indices `(y, w, x)` into the output, weight and
/// input arrays. The gradients below are sums over exactly these triples.
fn for_each_tap(x_shape: &[usize], w_shape: &[usize], cfg: &Conv2d, mut f: impl FnMut(usize, usize, usize)) {
    let op_shape = cfg.output_shape(x_shape, w_shape).expect("reference conv2d backward: valid shapes");
    let (&[n, cin, h, wd], &[cout, cin_g, kh, kw], [_, _, oh, ow]) = (x_shape, w_shape, op_shape) else {
        unreachable!("output_shape checks for 4-D shapes")
    };
    let cout_g = cout / cfg.groups;
    for b in 0..n {
        for oc in 0..cout {
            let g = oc / cout_g;
            for oy in 0..oh {
                for ox in 0..ow {
                    let yi = ((b * cout + oc) * oh + oy) * ow + ox;
                    for ci in 0..cin_g {
                        let c = g * cin_g + ci;
                        for ky in 0..kh {
                            let iy = (oy * cfg.stride[0] + ky * cfg.dilation[0]) as isize - cfg.padding[0] as isize;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            for kx in 0..kw {
                                let ix = (ox * cfg.stride[1] + kx * cfg.dilation[1]) as isize - cfg.padding[1] as isize;
                                if ix < 0 || ix >= wd as isize {
                                    continue;
                                }
                                f(
                                    yi,
                                    ((oc * cin_g + ci) * kh + ky) * kw + kx,
                                    ((b * cin + c) * h + iy as usize) * wd + ix as usize,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Gradient of [`conv2d`] (without activation) with respect to its input, by definition: each
/// output gradient `dy[y]` flows back to every input value `x[i]` it was computed from, weighted
/// by the weight `w[k]` that multiplied it: `dx[i] = sum over (y, k) of dy[y] * w[k]`.
pub fn conv2d_backward_input(dy: &Array, w: &Array, x_shape: &[usize], cfg: &Conv2d) -> Array {
    let out = cfg.output_shape(x_shape, &w.shape).expect("reference conv2d_backward_input: valid shapes");
    assert_eq!(dy.shape, out, "reference conv2d_backward_input: dy shape");
    let mut dx = Array::zeros(x_shape.to_vec());
    for_each_tap(x_shape, &w.shape, cfg, |yi, wi, xi| dx.data[xi] += dy.data[yi] * w.data[wi]);
    dx
}

/// Gradient of [`conv2d`] (without activation) with respect to its weights, by definition:
/// `dw[k] = sum over (y, i) of dy[y] * x[i]`, over every output and input value weight `k`
/// took part in (the whole batch).
pub fn conv2d_backward_weight(dy: &Array, x: &Array, w_shape: &[usize], cfg: &Conv2d) -> Array {
    let out = cfg.output_shape(&x.shape, w_shape).expect("reference conv2d_backward_weight: valid shapes");
    assert_eq!(dy.shape, out, "reference conv2d_backward_weight: dy shape");
    let mut dw = Array::zeros(w_shape.to_vec());
    for_each_tap(&x.shape, w_shape, cfg, |yi, wi, xi| dw.data[wi] += dy.data[yi] * x.data[xi]);
    dw
}

/// Gradient of [`conv2d`] (without activation) with respect to its bias: `db[c]` is the sum of
/// `dy[n, c, :, :]` over the batch and the output pixels. Output `[C_out]`.
pub fn conv2d_backward_bias(dy: &Array) -> Array {
    let [n, c, h, w] = dy.nchw();
    let mut db = Array::zeros(vec![c]);
    for b in 0..n {
        for ch in 0..c {
            let base = (b * c + ch) * h * w;
            db.data[ch] += dy.data[base..base + h * w].iter().sum::<f64>();
        }
    }
    db
}

use super::Array;
use crate::ops::ConvTranspose2d;

/// Transposed convolution by definition: every input value `x[n, ci, iy, ix]` adds
/// `x * w[ci, co_g, ky, kx]` to output `[n, g * C_out/groups + co_g, iy * stride - pad_top +
/// ky * dilation, ...]` when that lands inside the output (`g` the group of `ci`); then the
/// bias is added. Panics on invalid shapes (a test bug).
pub fn conv_transpose2d(x: &Array, w: &Array, bias: Option<&Array>, cfg: &ConvTranspose2d) -> Array {
    let [n, cin, h, wd] = x.nchw();
    let [_, cout_g, kh, kw] = w.nchw();
    let out = cfg.output_shape(&x.shape, &w.shape).expect("reference conv_transpose2d: valid shapes");
    let [_, cout, oh, ow] = out;
    let cin_g = cin / cfg.groups;
    let mut y = Array::zeros(out.to_vec());
    for b in 0..n {
        for ci in 0..cin {
            let g = ci / cin_g;
            for iy in 0..h {
                for ix in 0..wd {
                    let v = x.data[((b * cin + ci) * h + iy) * wd + ix];
                    for co in 0..cout_g {
                        let oc = g * cout_g + co;
                        for ky in 0..kh {
                            let oy = (iy * cfg.stride[0] + ky * cfg.dilation[0]) as isize - cfg.padding[0] as isize;
                            if oy < 0 || oy >= oh as isize {
                                continue;
                            }
                            for kx in 0..kw {
                                let ox = (ix * cfg.stride[1] + kx * cfg.dilation[1]) as isize - cfg.padding[1] as isize;
                                if ox < 0 || ox >= ow as isize {
                                    continue;
                                }
                                y.data[((b * cout + oc) * oh + oy as usize) * ow + ox as usize] +=
                                    v * w.data[((ci * cout_g + co) * kh + ky) * kw + kx];
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(bias) = bias {
        for b in 0..n {
            for oc in 0..cout {
                let plane = (b * cout + oc) * oh * ow;
                y.data[plane..plane + oh * ow].iter_mut().for_each(|v| *v += bias.data[oc]);
            }
        }
    }
    y
}

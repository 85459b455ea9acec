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
                                let ix =
                                    (ox * cfg.stride[1] + kx * cfg.dilation[1]) as isize - cfg.padding[1] as isize;
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

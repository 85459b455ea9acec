//! Image decoding and torchvision-compatible preprocessing.
//!
//! The resize reproduces Pillow's `Image.resize(size, Image.BILINEAR)` (what torchvision's
//! `Resize` calls on a PIL image) step for step: a separable triangle filter whose support
//! widens by the scale factor when shrinking (antialiasing), coefficients normalised in f64
//! and then rounded to 22-bit fixed point, two passes each rounded and clamped to 8 bits, in
//! Pillow 13's order (vertical first when the height loses more than twice as many pixels as
//! the width, horizontal first otherwise; Pillow 12 and older always went horizontal first, which
//! differs by a level at some pixels of images more than twice as tall as wide). A pass whose
//! dimension does not change is skipped, as Pillow skips it. Only the pixels inside the crop
//! window are computed (each output pixel depends only on its own filter taps, so the values are
//! the same as resizing everything and cropping).

use std::ops::Range;
use std::path::{Path, PathBuf};

use ::image::RgbImage;

use crate::{Error, Result};

/// Largest number of output values (`3 * H * W`) that [`Preprocess::load`] and [`load_batch`]
/// produce for one image: 2^28 values, 1 GiB of f32.
const MAX_VALUES: u128 = 1 << 28;

/// torchvision-style preprocessing: `Resize(resize_shorter)`, `CenterCrop(crop)`,
/// `ToTensor()`, `Normalize(mean, std)`, applied to a PIL-like 8-bit RGB image.
///
/// The defaults are the ImageNet evaluation transform: resize the shorter side to 256,
/// center crop 224 x 224, ImageNet mean `[0.485, 0.456, 0.406]` and std
/// `[0.229, 0.224, 0.225]`. Given the same decoded pixels the output is exactly torchvision's
/// (with Pillow 13). Decoders can differ: PNG, BMP and WebP decode to the same pixels as in
/// Pillow, but JPEG goes through zune-jpeg rather than libjpeg-turbo, and 4:2:0 JPEGs come out
/// up to a few levels apart (0.3 levels on average).
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    /// Resize so that the shorter side becomes this many pixels and the longer side
    /// `floor(size * long / short)`, with Pillow's antialiased bilinear filter; `None` keeps the
    /// decoded size.
    pub resize_shorter: Option<u32>,
    /// Crop `[H, W]` from the center (offsets `round((size - crop) / 2)`, halves to even, as
    /// Python rounds). Where the crop is larger than the image, the image is centred on a black
    /// border, as torchvision pads. `None` keeps the whole (resized) image.
    pub crop: Option<[u32; 2]>,
    /// Per-channel (R, G, B) mean subtracted from the `[0, 1]` values.
    pub mean: [f32; 3],
    /// Per-channel (R, G, B) standard deviation the centred values are divided by.
    pub std: [f32; 3],
}

impl Default for Preprocess {
    fn default() -> Self {
        Preprocess {
            resize_shorter: Some(256),
            crop: Some([224, 224]),
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }
}

impl Preprocess {
    /// Decodes an image file (PNG, JPEG, WebP, BMP; the format is recognised from the file's
    /// contents, so the extension may lie) and returns its `[3, H, W]` normalised f32 values
    /// (CHW, channels R, G, B) and `[H, W]`.
    ///
    /// Transparency is dropped (as PIL's `convert("RGB")` does); grey images are replicated
    /// to three channels; EXIF orientation is not applied (PIL does not apply it either).
    /// Errors name the file: it cannot be read, it is not an image of a supported format, or
    /// the settings are invalid (a zero size or a zero std).
    pub fn load(&self, path: &Path) -> Result<(Vec<f32>, [usize; 2])> {
        self.check()?;
        let img = decode(path)?;
        let [h, w] = self.output_size(img.width(), img.height());
        if 3 * h * w > MAX_VALUES {
            return Err(Error::arg(
                "preprocess",
                format!(
                    "{}: {}x{} image would preprocess to {h}x{w} pixels, more than this loader makes; set a crop",
                    path.display(),
                    img.width(),
                    img.height()
                ),
            ));
        }
        Ok(self.apply(&img))
    }

    /// Preprocesses an already-decoded RGB image: returns its `[3, H, W]` normalised f32 values
    /// and `[H, W]`.
    ///
    /// This never fails: degenerate settings give degenerate output (a zero resize or crop
    /// gives no values, a zero std gives infinities), so check them first if they come from a
    /// user ([`Preprocess::load`] does). Without a crop the output is as large as the resized
    /// image, however large that is.
    pub fn apply(&self, img: &RgbImage) -> (Vec<f32>, [usize; 2]) {
        let (iw, ih) = (img.width() as usize, img.height() as usize);
        let (rw, rh) = self.resized_size(iw, ih);
        let (ch, cw) = match self.crop {
            Some([h, w]) => (h as usize, w as usize),
            None => (rh, rw),
        };
        // Crop offsets in resized coordinates (negative where torchvision pads first).
        let (oy, ox) = (crop_offset(rh, ch), crop_offset(rw, cw));
        let window = |o: i128, c: usize, n: usize| -> Range<usize> {
            let lo = o.max(0);
            let hi = (o + c as i128).min(n as i128).max(lo);
            lo as usize..hi as usize
        };
        let (yr, xr) = (window(oy, ch, rh), window(ox, cw, rw));
        let pixels = if rw == iw && rh == ih {
            crop_pixels(img, xr.clone(), yr.clone())
        } else {
            resample_window(img, rw, rh, xr.clone(), yr.clone())
        };

        // ToTensor (/255 in f32) then Normalize ((x - mean) / std in f32), as a lookup table.
        let lut: Vec<[f32; 256]> =
            (0..3).map(|c| std::array::from_fn(|v| ((v as f32) / 255.0 - self.mean[c]) / self.std[c])).collect();
        let plane = ch * cw;
        let mut out = Vec::with_capacity(3 * plane);
        for l in &lut {
            out.resize(out.len() + plane, l[0]); // padding is black
        }
        let wx = xr.len();
        for (i, y) in yr.clone().enumerate() {
            let row = (y as i128 - oy) as usize * cw + (xr.start as i128 - ox) as usize;
            for j in 0..wx {
                let p = &pixels[(i * wx + j) * 3..(i * wx + j) * 3 + 3];
                for c in 0..3 {
                    out[c * plane + row + j] = lut[c][p[c] as usize];
                }
            }
        }
        (out, [ch, cw])
    }

    /// Normalises `[3, H, W]` values in `[0, 1]` in place: `(v - mean) / std` per channel, as
    /// [`Preprocess::load`] does after decoding (for images made in memory, such as generated
    /// scenes). The channel of a value is its index divided by `len / 3`.
    pub fn normalize(&self, chw: &mut [f32]) {
        let plane = (chw.len() / 3).max(1);
        for (i, v) in chw.iter_mut().enumerate() {
            let c = (i / plane).min(2);
            *v = (*v - self.mean[c]) / self.std[c];
        }
    }

    /// Undoes the normalisation of `[3, H, W]` values: `v * std + mean` per channel, clamped to
    /// `[0, 1]` (for overlays). The channel of a value is its index divided by `len / 3`.
    pub fn denormalize(&self, chw: &[f32]) -> Vec<f32> {
        let plane = (chw.len() / 3).max(1);
        chw.iter()
            .enumerate()
            .map(|(i, &v)| {
                let c = (i / plane).min(2);
                (v * self.std[c] + self.mean[c]).clamp(0.0, 1.0)
            })
            .collect()
    }

    /// Rejects settings that cannot give a meaningful result.
    fn check(&self) -> Result<()> {
        if self.resize_shorter == Some(0) {
            return Err(Error::arg("preprocess", "resize_shorter must be at least 1"));
        }
        if let Some([h, w]) = self.crop {
            if h == 0 || w == 0 {
                return Err(Error::arg("preprocess", format!("crop {h}x{w} must be at least 1x1")));
            }
        }
        if self.std.iter().any(|s| *s == 0.0 || !s.is_finite()) || self.mean.iter().any(|m| !m.is_finite()) {
            return Err(Error::arg(
                "preprocess",
                format!("mean {:?} must be finite and std {:?} finite and non-zero", self.mean, self.std),
            ));
        }
        Ok(())
    }

    /// torchvision's `_compute_resized_output_size` for a single `size`: `(width, height)`.
    fn resized_size(&self, w: usize, h: usize) -> (usize, usize) {
        match self.resize_shorter {
            Some(size) if w > 0 && h > 0 => {
                let (short, long) = if w <= h { (w, h) } else { (h, w) };
                // Python: int(size * long / short), a correctly rounded division, truncated.
                let new_long = (size as f64 * long as f64 / short as f64) as usize;
                let size = size as usize;
                if w <= h {
                    (size, new_long)
                } else {
                    (new_long, size)
                }
            }
            _ => (w, h),
        }
    }

    /// `[H, W]` of the output for a `w x h` input, as u128 so that huge sizes can be compared.
    fn output_size(&self, w: u32, h: u32) -> [u128; 2] {
        match self.crop {
            Some([ch, cw]) => [ch as u128, cw as u128],
            None => {
                let (rw, rh) = self.resized_size(w as usize, h as usize);
                [rh as u128, rw as u128]
            }
        }
    }
}

/// Loads several images, each preprocessed with `pre`, as one NCHW batch: returns the values
/// and `[N, 3, H, W]`. Images are decoded in parallel; the batch keeps the order of `paths`.
///
/// Every image must come out the same size (set `pre.crop` for images of different shapes);
/// otherwise, and for an empty list or a file that does not load, the error names the file.
pub fn load_batch(paths: &[PathBuf], pre: &Preprocess) -> Result<(Vec<f32>, [usize; 4])> {
    if paths.is_empty() {
        return Err(Error::arg("load_batch", "no image paths given"));
    }
    pre.check()?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(paths.len());
    type Loaded = Option<Result<(Vec<f32>, [usize; 2])>>;
    let mut results: Vec<Loaded> = (0..paths.len()).map(|_| None).collect();
    if threads <= 1 {
        for (slot, path) in results.iter_mut().zip(paths) {
            *slot = Some(pre.load(path));
        }
    } else {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done = std::sync::Mutex::new(&mut results);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= paths.len() {
                        break;
                    }
                    let r = pre.load(&paths[i]);
                    done.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                });
            }
        });
    }

    let mut images = Vec::with_capacity(paths.len());
    for (r, path) in results.into_iter().zip(paths) {
        let r = r.unwrap_or_else(|| Err(Error::arg("load_batch", format!("{}: not loaded", path.display()))));
        images.push((r?, path));
    }
    let ([h, w], first) = (images[0].0 .1, images[0].1);
    let mut values = Vec::with_capacity(paths.len() * 3 * h * w);
    for ((v, size), path) in images {
        if size != [h, w] {
            return Err(Error::shape(
                "load_batch",
                format!(
                    "{} preprocesses to {}x{} but {} to {h}x{w}; set a crop so that all images come out the same size",
                    path.display(),
                    size[0],
                    size[1],
                    first.display()
                ),
            ));
        }
        values.extend_from_slice(&v);
    }
    Ok((values, [paths.len(), 3, h, w]))
}

/// Decodes an image file to 8-bit RGB, recognising the format from the contents.
fn decode(path: &Path) -> Result<RgbImage> {
    let io_err = |source| Error::Io { path: path.to_path_buf(), source };
    let reader = ::image::ImageReader::open(path).map_err(io_err)?.with_guessed_format().map_err(io_err)?;
    let img = reader.decode().map_err(|e| match e {
        ::image::ImageError::IoError(source) => Error::Io { path: path.to_path_buf(), source },
        e @ ::image::ImageError::Unsupported(_) => Error::Image {
            path: path.to_path_buf(),
            message: format!("not an image of a supported format (PNG, JPEG, WebP, BMP): {e}"),
        },
        e => Error::Image { path: path.to_path_buf(), message: e.to_string() },
    })?;
    if img.width() == 0 || img.height() == 0 {
        return Err(Error::Image { path: path.to_path_buf(), message: "the image is empty (0 pixels)".into() });
    }
    Ok(img.into_rgb8())
}

/// torchvision's center-crop offset along one axis of `n` pixels for a crop of `c`:
/// `round((n - c) / 2)` with Python's round-half-to-even, or minus the left/top padding
/// (`(c - n) // 2`) when the crop is larger.
fn crop_offset(n: usize, c: usize) -> i128 {
    if c > n {
        -(((c - n) / 2) as i128)
    } else {
        ((n - c) as f64 / 2.0).round_ties_even() as i128
    }
}

/// Pillow's fixed-point precision for 8-bit resampling (`PRECISION_BITS`).
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// The filter taps of one output pixel: the first input index and the fixed-point weights.
struct Taps {
    start: usize,
    weights: Vec<i32>,
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear (triangle) filter,
/// for the output indices in `range` of a resize from `in_size` to `out_size`.
fn coefficients(in_size: usize, out_size: usize, range: Range<usize>) -> Vec<Taps> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale; // the bilinear filter's support is 1
    let ss = 1.0 / filterscale;
    let triangle = |x: f64| {
        let x = x.abs();
        if x < 1.0 {
            1.0 - x
        } else {
            0.0
        }
    };
    range
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            // C's (int) casts truncate toward zero, as `as` does.
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64);
            let n = (xmax - xmin).max(0);
            let mut k: Vec<f64> = (0..n).map(|x| triangle(((x + xmin) as f64 - center + 0.5) * ss)).collect();
            let ww: f64 = k.iter().sum();
            if ww != 0.0 {
                k.iter_mut().for_each(|w| *w /= ww);
            }
            let one = (1u32 << PRECISION_BITS) as f64;
            let weights =
                k.iter().map(|&w| if w < 0.0 { (-0.5 + w * one) as i32 } else { (0.5 + w * one) as i32 }).collect();
            Taps { start: xmin as usize, weights }
        })
        .collect()
}

/// Pillow's `clip8`: the fixed-point sum back to a byte, clamped to [0, 255].
#[inline]
fn clip8(ss: i32) -> u8 {
    (ss >> PRECISION_BITS).clamp(0, 255) as u8
}

/// The window `xr x yr` of an unresized image, as packed RGB rows.
fn crop_pixels(img: &RgbImage, xr: Range<usize>, yr: Range<usize>) -> Vec<u8> {
    let (src, iw) = (img.as_raw(), img.width() as usize);
    let mut out = Vec::with_capacity(xr.len() * yr.len() * 3);
    for y in yr {
        out.extend_from_slice(&src[(y * iw + xr.start) * 3..(y * iw + xr.end) * 3]);
    }
    out
}

/// The window `xr x yr` of `img` resized to `out_w x out_h` the way Pillow resizes an RGB
/// image with `BILINEAR`, as packed RGB rows. The window lies inside the resized image.
///
/// Pillow (13 and later) runs the vertical pass first when the height shrinks by more than
/// twice as many pixels as the width does (`in_h - out_h > 2 * (in_w - out_w)`), the horizontal
/// pass first otherwise; with 8-bit rounding between the passes the order shows in the result,
/// so it is followed here.
fn resample_window(img: &RgbImage, out_w: usize, out_h: usize, xr: Range<usize>, yr: Range<usize>) -> Vec<u8> {
    let (src, iw, ih) = (img.as_raw(), img.width() as usize, img.height() as usize);
    if xr.is_empty() || yr.is_empty() || iw == 0 || ih == 0 {
        return Vec::new();
    }
    // A skipped pass is the identity: one tap of weight 1.0 (exact in fixed point).
    let identity = |r: Range<usize>| r.map(|i| Taps { start: i, weights: vec![1 << PRECISION_BITS] }).collect();
    let (need_h, need_v) = (out_w != iw, out_h != ih);
    let htaps: Vec<Taps> = if need_h { coefficients(iw, out_w, xr.clone()) } else { identity(xr.clone()) };
    let vtaps: Vec<Taps> = if need_v { coefficients(ih, out_h, yr.clone()) } else { identity(yr.clone()) };
    let vertical_first = need_h && need_v && ih > out_h && (ih - out_h) as i128 > 2 * (iw as i128 - out_w as i128);

    // The source region the window reads: rows `rows`, columns `cols`.
    let span = |t: &[Taps]| {
        let lo = t.iter().map(|t| t.start).min().unwrap_or(0);
        let hi = t.iter().map(|t| t.start + t.weights.len()).max().unwrap_or(lo);
        lo..hi.max(lo)
    };
    let (rows, cols) = (span(&vtaps), span(&htaps));
    let mut sub = Vec::with_capacity(rows.len() * cols.len() * 3);
    for r in rows.clone() {
        sub.extend_from_slice(&src[(r * iw + cols.start) * 3..(r * iw + cols.end) * 3]);
    }
    if vertical_first {
        let t = vertical_pass(&sub, cols.len(), &vtaps, rows.start);
        horizontal_pass(&t, cols.len(), &htaps, cols.start)
    } else {
        let t = horizontal_pass(&sub, cols.len(), &htaps, cols.start);
        vertical_pass(&t, xr.len(), &vtaps, rows.start)
    }
}

/// Pillow's `ImagingResampleHorizontal_8bpc` for RGB: every row of `src` (packed RGB, `width`
/// pixels, whose first column is source column `col0`) filtered into `taps.len()` pixels.
fn horizontal_pass(src: &[u8], width: usize, taps: &[Taps], col0: usize) -> Vec<u8> {
    let half = 1i32 << (PRECISION_BITS - 1);
    let mut out = Vec::with_capacity(src.len() / (width * 3).max(1) * taps.len() * 3);
    for row in src.chunks_exact(width * 3) {
        for t in taps {
            let (mut s0, mut s1, mut s2) = (half, half, half);
            for (p, &k) in row[(t.start - col0) * 3..].chunks_exact(3).zip(&t.weights) {
                s0 += p[0] as i32 * k;
                s1 += p[1] as i32 * k;
                s2 += p[2] as i32 * k;
            }
            out.extend_from_slice(&[clip8(s0), clip8(s1), clip8(s2)]);
        }
    }
    out
}

/// Pillow's `ImagingResampleVertical_8bpc` for RGB: `src` (packed RGB rows of `width` pixels,
/// whose first row is source row `row0`) filtered into `taps.len()` rows.
fn vertical_pass(src: &[u8], width: usize, taps: &[Taps], row0: usize) -> Vec<u8> {
    let half = 1i32 << (PRECISION_BITS - 1);
    let stride = width * 3;
    let mut out = Vec::with_capacity(taps.len() * stride);
    let mut acc = vec![0i32; stride];
    for t in taps {
        acc.fill(half);
        for (j, &k) in t.weights.iter().enumerate() {
            let r = t.start - row0 + j;
            for (a, &p) in acc.iter_mut().zip(&src[r * stride..(r + 1) * stride]) {
                *a += p as i32 * k;
            }
        }
        out.extend(acc.iter().map(|&a| clip8(a)));
    }
    out
}

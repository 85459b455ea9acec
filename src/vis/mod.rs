//! Pictures for people: feature-map grids and atomic PNG output.

mod colormap;
pub use colormap::*;

use std::path::Path;

use crate::{Error, Result};

/// Lays out a stack of `c` maps of `h x w` (one image's `[C, H, W]` values) as a grid of
/// grey tiles, `cols` per row, each map min-max scaled on its own so weak and strong channels
/// are both visible, with a 2-pixel dark gutter and each tile scaled up by `zoom`.
pub fn feature_grid(maps: &[f32], c: usize, h: usize, w: usize, cols: usize, zoom: usize) -> Result<image::RgbImage> {
    if maps.len() != c * h * w || c == 0 || cols == 0 || zoom == 0 {
        return Err(Error::arg("feature_grid", format!("{} values for {c} maps of {h}x{w}", maps.len())));
    }
    let gutter = 2;
    let rows = c.div_ceil(cols);
    let (tw, th) = (w * zoom, h * zoom);
    let width = cols * tw + (cols + 1) * gutter;
    let height = rows * th + (rows + 1) * gutter;
    let mut img = image::RgbImage::from_pixel(width as u32, height as u32, image::Rgb([24, 24, 32]));
    for ch in 0..c {
        let m = &maps[ch * h * w..(ch + 1) * h * w];
        let lo = m.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = m.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
        let (ox, oy) = (gutter + (ch % cols) * (tw + gutter), gutter + (ch / cols) * (th + gutter));
        for y in 0..th {
            for x in 0..tw {
                let v = ((m[(y / zoom) * w + x / zoom] - lo) * scale).round().clamp(0.0, 255.0) as u8;
                img.put_pixel((ox + x) as u32, (oy + y) as u32, image::Rgb([v, v, v]));
            }
        }
    }
    Ok(img)
}

/// A 3x5 pixel font, one row per 3 bits (most significant bit on the left): digits, letters
/// (drawn as capitals), and `%`, `.`, `-`; anything else is a space.
fn glyph(ch: char) -> [u8; 5] {
    const DIGITS: [[u8; 5]; 10] = [
        [7, 5, 5, 5, 7],
        [2, 6, 2, 2, 7],
        [7, 1, 7, 4, 7],
        [7, 1, 7, 1, 7],
        [5, 5, 7, 1, 1],
        [7, 4, 7, 1, 7],
        [7, 4, 7, 5, 7],
        [7, 1, 1, 1, 1],
        [7, 5, 7, 5, 7],
        [7, 5, 7, 1, 7],
    ];
    const LETTERS: [[u8; 5]; 26] = [
        [2, 5, 7, 5, 5],
        [6, 5, 6, 5, 6],
        [3, 4, 4, 4, 3],
        [6, 5, 5, 5, 6],
        [7, 4, 6, 4, 7],
        [7, 4, 6, 4, 4],
        [3, 4, 5, 5, 3],
        [5, 5, 7, 5, 5],
        [7, 2, 2, 2, 7],
        [1, 1, 1, 5, 2],
        [5, 5, 6, 5, 5],
        [4, 4, 4, 4, 7],
        [5, 7, 7, 5, 5],
        [6, 5, 5, 5, 5],
        [2, 5, 5, 5, 2],
        [6, 5, 6, 4, 4],
        [2, 5, 5, 6, 3],
        [6, 5, 6, 5, 5],
        [3, 4, 2, 1, 6],
        [7, 2, 2, 2, 2],
        [5, 5, 5, 5, 7],
        [5, 5, 5, 5, 2],
        [5, 5, 7, 7, 5],
        [5, 5, 2, 5, 5],
        [5, 5, 2, 2, 2],
        [7, 1, 2, 4, 7],
    ];
    match ch {
        '0'..='9' => DIGITS[ch as usize - '0' as usize],
        'a'..='z' => LETTERS[ch as usize - 'a' as usize],
        'A'..='Z' => LETTERS[ch as usize - 'A' as usize],
        '%' => [5, 1, 2, 4, 5],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        _ => [0; 5],
    }
}

/// Draws `text` at `(x, y)` in a 3x5 pixel font scaled by `scale`, yellow on a dark box, for
/// labels on pictures (a channel number on a grid tile, a class and score on an overlay).
/// Clipped at the image's edges.
pub fn draw_text(img: &mut image::RgbImage, x: u32, y: u32, text: &str, scale: u32) {
    let chars: Vec<char> = text.chars().collect();
    let (w, h) = ((4 * chars.len() as u32 + 1) * scale, 7 * scale);
    let mut put = |px: u32, py: u32, c: [u8; 3]| {
        if px < img.width() && py < img.height() {
            img.put_pixel(px, py, image::Rgb(c));
        }
    };
    for dy in 0..h {
        for dx in 0..w {
            put(x + dx, y + dy, [0, 0, 0]);
        }
    }
    for (i, &ch) in chars.iter().enumerate() {
        for (row, bits) in glyph(ch).iter().enumerate() {
            for col in 0..3 {
                if bits >> (2 - col) & 1 == 1 {
                    for sy in 0..scale {
                        for sx in 0..scale {
                            let px = x + (1 + 4 * i as u32 + col) * scale + sx;
                            put(px, y + (1 + row as u32) * scale + sy, [255, 220, 0]);
                        }
                    }
                }
            }
        }
    }
}

/// Draws `number` with [`draw_text`], so a grid tile can say which channel it shows.
pub fn draw_number(img: &mut image::RgbImage, x: u32, y: u32, number: usize, scale: u32) {
    draw_text(img, x, y, &number.to_string(), scale);
}

/// [`feature_grid`] with each tile labelled by its channel number.
pub fn feature_grid_labelled(
    maps: &[f32],
    c: usize,
    h: usize,
    w: usize,
    cols: usize,
    zoom: usize,
) -> Result<image::RgbImage> {
    let mut img = feature_grid(maps, c, h, w, cols, zoom)?;
    let gutter = 2;
    let scale = if w * zoom >= 48 { 2 } else { 1 };
    for ch in 0..c {
        let ox = gutter + (ch % cols) * (w * zoom + gutter);
        let oy = gutter + (ch / cols) * (h * zoom + gutter);
        draw_number(&mut img, ox as u32, oy as u32, ch, scale);
    }
    Ok(img)
}

/// Turns `[3, H, W]` floats in [0, 1] into an RGB image.
pub fn chw_to_rgb(chw: &[f32], h: usize, w: usize) -> Result<image::RgbImage> {
    if chw.len() != 3 * h * w {
        return Err(Error::arg("chw_to_rgb", format!("{} values for 3x{h}x{w}", chw.len())));
    }
    Ok(image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w + x as usize;
        let q = |c: usize| (chw[c * h * w + i] * 255.0).round().clamp(0.0, 255.0) as u8;
        image::Rgb([q(0), q(1), q(2)])
    }))
}

/// Writes a PNG under a temporary name in the same folder, then renames it into place, so no
/// half-written file is ever left at `path`.
pub fn save_png_atomic(img: &image::RgbImage, path: &Path) -> Result<()> {
    let tmp = path.with_extension("png.tmp");
    img.save_with_format(&tmp, image::ImageFormat::Png)
        .map_err(|e| Error::Image { path: path.to_path_buf(), message: e.to_string() })?;
    std::fs::rename(&tmp, path).map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

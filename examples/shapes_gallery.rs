//! A look at the synthetic training scenes of `featuremap::data`: a grid of 8 columns (one per
//! class, in `CLASSES` order) by 4 rows of training scenes, each upscaled 3x, written to
//! `out/shapes_gallery.png`.
//!
//! Run: `cargo run --release --example shapes_gallery -- [SIZE]`

use std::path::PathBuf;

use featuremap::data::{SceneGenerator, Split, CLASSES};
use featuremap::vis;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let size: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(64);
    let (cols, rows, zoom, gap) = (CLASSES.len(), 4usize, 3usize, 4usize);
    let gen = SceneGenerator::new(size, Split::Train)?;
    let cell = size * zoom + gap;
    let mut grid =
        image::RgbImage::from_pixel((gap + cols * cell) as u32, (gap + rows * cell) as u32, image::Rgb([255; 3]));
    for row in 0..rows {
        for col in 0..cols {
            // Scene i has class i % 8, so this index puts class `col` in column `col`.
            let s = gen.scene((row * cols + col) as u64);
            let img = vis::chw_to_rgb(&s.image, size, size)?;
            let (ox, oy) = (gap + col * cell, gap + row * cell);
            for y in 0..size * zoom {
                for x in 0..size * zoom {
                    let p = *img.get_pixel((x / zoom) as u32, (y / zoom) as u32);
                    grid.put_pixel((ox + x) as u32, (oy + y) as u32, p);
                }
            }
        }
    }
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("out");
    std::fs::create_dir_all(&out)?;
    let path = out.join("shapes_gallery.png");
    vis::save_png_atomic(&grid, &path)?;
    println!("wrote {} ({} columns: {})", path.display(), cols, CLASSES.join(", "));
    Ok(())
}

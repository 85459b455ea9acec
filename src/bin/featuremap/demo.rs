//! `featuremap demo`: a first look, with no model file needed. Generates a small scene,
//! convolves it with eight hand-made 3x3 kernels (edges, blobs, colours) on the GPU, and writes
//! the input and the resulting stack of eight feature maps as PNG files.

use std::path::PathBuf;

use featuremap::ops::{self, Activation, Conv2d};
use featuremap::{vis, Error, Gpu, Result, Tensor};

#[derive(clap::Args)]
pub struct Args {
    /// Folder for the PNG files (created if missing).
    #[arg(long, default_value = "out/demo")]
    out: PathBuf,
}

const SIZE: usize = 96;

/// A scene in [0, 1]: a soft vertical gradient, a red disc, a blue square outline and a green
/// diagonal bar, as `[3, SIZE, SIZE]`.
fn scene() -> Vec<f32> {
    let n = SIZE * SIZE;
    let mut img = vec![0.0f32; 3 * n];
    for y in 0..SIZE {
        for x in 0..SIZE {
            let i = y * SIZE + x;
            let g = 0.15 + 0.25 * y as f32 / SIZE as f32;
            let mut px = [g, g, g];
            let (dx, dy) = (x as f32 - 30.0, y as f32 - 34.0);
            if dx * dx + dy * dy < 15.0 * 15.0 {
                px = [0.9, 0.15, 0.1];
            }
            let in_sq = (52..84).contains(&x) && (50..82).contains(&y);
            let inner = (56..80).contains(&x) && (54..78).contains(&y);
            if in_sq && !inner {
                px = [0.1, 0.2, 0.95];
            }
            if (x as i32 - y as i32 - 40).abs() < 3 && y < 40 {
                px = [0.1, 0.85, 0.2];
            }
            for c in 0..3 {
                img[c * n + i] = px[c];
            }
        }
    }
    img
}

/// Eight kernels `[8, 3, 3, 3]`: Sobel x and y, Laplacian and blur on luminance; a red, a
/// green and a blue detector; a diagonal-edge detector.
fn kernels() -> Vec<f32> {
    let lum = [0.299f32, 0.587, 0.114];
    let sobel_x = [-1.0, 0.0, 1.0, -2.0, 0.0, 2.0, -1.0, 0.0, 1.0];
    let sobel_y = [-1.0, -2.0, -1.0, 0.0, 0.0, 0.0, 1.0, 2.0, 1.0];
    let laplace = [0.0, -1.0, 0.0, -1.0, 4.0, -1.0, 0.0, -1.0, 0.0];
    let blur = [1.0 / 9.0; 9];
    let diag = [2.0, -1.0, -1.0, -1.0, 2.0, -1.0, -1.0, -1.0, 2.0];
    let centre = [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0];
    let mut w = Vec::with_capacity(8 * 27);
    for k in [sobel_x, sobel_y, laplace, blur] {
        for l in lum {
            w.extend(k.iter().map(|v| v * l));
        }
    }
    for colour in 0..3 {
        for c in 0..3 {
            let s = if c == colour { 1.0 } else { -0.5 };
            w.extend(centre.iter().map(|v| v * s));
        }
    }
    for l in lum {
        w.extend(diag.iter().map(|v| v * l));
    }
    w
}

pub fn run(gpu: &Gpu, args: &Args) -> Result<()> {
    let a = gpu.adapter();
    println!("adapter: {} ({}, {} {})", a.name, a.backend, a.driver, a.driver_info);
    std::fs::create_dir_all(&args.out).map_err(|source| Error::Io { path: args.out.clone(), source })?;

    let img = scene();
    let x = Tensor::from_f32(gpu, [1, 3, SIZE, SIZE], &img)?;
    let w = Tensor::from_f32(gpu, [8, 3, 3, 3], &kernels())?;
    let cfg = Conv2d { activation: Activation::Relu, ..Conv2d::same(1, 1) };
    let t0 = std::time::Instant::now();
    let y = gpu.run(|rec| ops::conv2d(rec, &x, &w, None, &cfg))?;
    let maps = y.to_f32(gpu)?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let [_, c, h, wd] = y.shape().nchw("demo")?;
    println!(
        "conv2d 3x3, 3 -> {c} channels, ReLU fused: input {:?} -> feature maps {:?} in {ms:.1} ms",
        x.dims(),
        y.dims()
    );

    let input_png = args.out.join("input.png");
    vis::save_png_atomic(&vis::chw_to_rgb(&img, SIZE, SIZE)?, &input_png)?;
    let grid_png = args.out.join("conv1_feature_maps.png");
    vis::save_png_atomic(&vis::feature_grid(&maps, c, h, wd, 4, 2)?, &grid_png)?;
    println!("wrote {} and {}", input_png.display(), grid_png.display());
    println!("maps, left to right, top to bottom: sobel-x, sobel-y, laplacian, blur, red, green, blue, diagonal");
    Ok(())
}

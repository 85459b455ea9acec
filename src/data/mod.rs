//! A deterministic, seeded generator of labelled scenes for training and testing a small
//! classifier (and for checking that Grad-CAM looks at the object): RGB images with one object
//! of one of eight [`CLASSES`] drawn at a random position, scale, rotation and colour on a
//! cluttered background (colour gradient, smooth and fine noise, a few thin distractor
//! strokes), with the object's bounding box recorded.
//!
//! ```
//! use featuremap::data::{SceneGenerator, Split, CLASSES};
//! # fn main() -> featuremap::Result<()> {
//! let train = SceneGenerator::new(64, Split::Train)?;
//! let s = train.scene(10);
//! assert_eq!((s.size, CLASSES[s.class]), (64, "triangle"));
//! let (images, labels, boxes) = train.batch(0, 16); // NCHW [16, 3, 64, 64]
//! assert_eq!((images.len(), labels.len(), boxes.len()), (16 * 3 * 64 * 64, 16, 16));
//! # Ok(()) }
//! ```
//!
//! Scene `i` of a split depends only on the split and `i`, through a hash, and is drawn with
//! plain IEEE f32 arithmetic (no platform `sin`/`cos`), so it is the same on every machine and
//! the three splits never share a seed.

mod shapes;

use shapes::{hsv, luma, mix64, object_coverage, sin_cos, stroke_coverage, with_luma, Placement, Rng, Shape};

use crate::{Error, Result};

/// The class names, in label order: scene `i` has label `i % 8`.
pub const CLASSES: [&str; 8] = ["circle", "square", "triangle", "cross", "ring", "star", "stripes", "checker"];

/// Smallest image side [`SceneGenerator::new`] accepts.
pub const MIN_SIZE: usize = 32;
/// Largest image side [`SceneGenerator::new`] accepts (a guard against absurd allocations).
pub const MAX_SIZE: usize = 4096;

/// One labelled scene.
#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    /// `[3, size, size]` RGB, channel-major (CHW), every value in [0, 1].
    pub image: Vec<f32>,
    /// Image side in pixels.
    pub size: usize,
    /// Index into [`CLASSES`].
    pub class: usize,
    /// The object's box in pixels: `[x0, y0, x1, y1]`, `x0..x1` and `y0..y1` (end exclusive)
    /// enclose every pixel the object touches.
    pub bbox: [usize; 4],
}

/// NCHW images, labels and object boxes of a batch of scenes ([`SceneGenerator::batch`]).
pub type SceneBatch = (Vec<f32>, Vec<usize>, Vec<[usize; 4]>);

/// Which split a generator draws from; each has its own, disjoint seeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// Training scenes.
    Train,
    /// Validation scenes (model selection, early stopping).
    Validation,
    /// Held-out test scenes.
    Test,
}

impl Split {
    fn tag(self) -> u64 {
        match self {
            Split::Train => 0,
            Split::Validation => 1,
            Split::Test => 2,
        }
    }
}

/// Generates the scenes of one split at one image size; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct SceneGenerator {
    size: usize,
    split: Split,
}

/// A scene with its object's coverage drawn alone (for tests and masks).
struct Rendered {
    scene: Scene,
    coverage: Vec<f32>,
}

/// Object diameter as a fraction of the image side.
const SCALE: (f32, f32) = (0.25, 0.6);
/// Minimum luma distance between the object and the background under it.
const CONTRAST: f32 = 0.25;

impl SceneGenerator {
    /// A generator of `size x size` scenes of `split`. `size` must be in
    /// [`MIN_SIZE`]`..=`[`MAX_SIZE`].
    pub fn new(size: usize, split: Split) -> Result<SceneGenerator> {
        if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
            return Err(Error::arg(
                "SceneGenerator::new",
                format!("image size {size} is outside {MIN_SIZE}..={MAX_SIZE}"),
            ));
        }
        Ok(SceneGenerator { size, split })
    }

    /// The image side in pixels.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The split this generator draws from.
    pub fn split(&self) -> Split {
        self.split
    }

    /// The seed of scene `i`: a bijective hash of `(i, split)`, so the splits never share a seed
    /// (for `i < 2^62`; beyond that indices wrap).
    fn seed(&self, i: u64) -> u64 {
        mix64((i << 2 | self.split.tag()) ^ 0x5CE7_E5EE_D000_0000)
    }

    /// The `i`-th scene of this split: deterministic (the same `i` gives the same scene on every
    /// machine), independent of other indices; `class = i % 8` so batches are balanced.
    pub fn scene(&self, i: u64) -> Scene {
        self.render(i).scene
    }

    /// Coverage in [0, 1] of scene `i`'s object alone, `[size, size]` row-major: what the object
    /// would look like drawn in white on black, without background or clutter.
    pub fn object_mask(&self, i: u64) -> Vec<f32> {
        self.render(i).coverage
    }

    /// Scenes `start..start + n` as one NCHW batch (`[n, 3, size, size]`) plus their labels and
    /// boxes, drawn on every core (the result does not depend on how many there are).
    pub fn batch(&self, start: u64, n: usize) -> SceneBatch {
        let per = 3 * self.size * self.size;
        let mut images = vec![0.0f32; n * per];
        let mut labels = vec![0usize; n];
        let mut boxes = vec![[0usize; 4]; n];
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(n.max(1));
        let chunk = n.div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let parts = images.chunks_mut(chunk * per).zip(labels.chunks_mut(chunk)).zip(boxes.chunks_mut(chunk));
            for (t, ((imgs, labs), bxs)) in parts.enumerate() {
                s.spawn(move || {
                    for (k, ((img, lab), bx)) in imgs.chunks_mut(per).zip(labs).zip(bxs).enumerate() {
                        let scene = self.scene(start.wrapping_add((t * chunk + k) as u64));
                        img.copy_from_slice(&scene.image);
                        (*lab, *bx) = (scene.class, scene.bbox);
                    }
                });
            }
        });
        (images, labels, boxes)
    }

    fn render(&self, i: u64) -> Rendered {
        let size = self.size;
        let n = size * size;
        let sz = size as f32;
        let class = (i % CLASSES.len() as u64) as usize;
        let mut rng = Rng::new(self.seed(i));

        // Background: a linear gradient between two colours of similar luma ...
        let c0 = hsv(rng.unit(), rng.range(0.1, 0.8), rng.range(0.2, 1.0));
        let l0 = luma(c0);
        let c1 = with_luma(hsv(rng.unit(), rng.range(0.1, 0.8), 1.0), (l0 + rng.range(-0.2, 0.2)).clamp(0.0, 1.0));
        let (gs, gc) = sin_cos(rng.range(0.0, std::f32::consts::TAU));
        // ... plus smooth value noise on a coarse grid, per channel.
        const G: usize = 5;
        let grid: Vec<f32> = (0..3 * G * G).map(|_| rng.range(-0.07, 0.07)).collect();
        let mut img = vec![0.0f32; 3 * n];
        let mut bg_luma = vec![0.0f32; n];
        for y in 0..size {
            for x in 0..size {
                let (fx, fy) = ((x as f32 + 0.5) / sz, (y as f32 + 0.5) / sz);
                let t = (((fx - 0.5) * gc + (fy - 0.5) * gs) * std::f32::consts::FRAC_1_SQRT_2 + 0.5).clamp(0.0, 1.0);
                let (gx, gy) = (fx * (G - 1) as f32, fy * (G - 1) as f32);
                let (ix, iy) = ((gx as usize).min(G - 2), (gy as usize).min(G - 2));
                let (ax, ay) = (gx - ix as f32, gy - iy as f32);
                let mut px = [0.0f32; 3];
                for (c, p) in px.iter_mut().enumerate() {
                    let g = |xx: usize, yy: usize| grid[c * G * G + yy * G + xx];
                    let noise = (g(ix, iy) * (1.0 - ax) + g(ix + 1, iy) * ax) * (1.0 - ay)
                        + (g(ix, iy + 1) * (1.0 - ax) + g(ix + 1, iy + 1) * ax) * ay;
                    *p = (c0[c] * (1.0 - t) + c1[c] * t + noise).clamp(0.0, 1.0);
                    img[c * n + y * size + x] = *p;
                }
                bg_luma[y * size + x] = luma(px);
            }
        }

        // Distractor strokes: thin and few, drawn before the object so they never cover it.
        let strokes = 1 + rng.below(3);
        for _ in 0..strokes {
            let a = [rng.range(0.0, sz), rng.range(0.0, sz)];
            let b = [rng.range(0.0, sz), rng.range(0.0, sz)];
            let width = rng.range(0.6, 1.3) * sz / 64.0;
            let colour = hsv(rng.unit(), rng.range(0.2, 1.0), rng.range(0.1, 1.0));
            let alpha = rng.range(0.5, 0.85);
            let cov = stroke_coverage(a, b, width, size);
            blend(&mut img, &cov, colour, alpha, n);
        }

        // The object: random scale, position (wholly inside the image) and rotation.
        let shape = Shape::for_class(class, &mut rng);
        let radius = rng.range(SCALE.0, SCALE.1) * sz / 2.0;
        let reach = radius * shapes::EXTENT;
        let cx = rng.range(reach, sz - reach);
        let cy = rng.range(reach, sz - reach);
        let (sin, cos) = sin_cos(rng.range(0.0, std::f32::consts::TAU));
        let place = Placement { cx, cy, radius, sin, cos };
        let coverage = object_coverage(&shape, &place, size);

        // Its colour: a random hue at a luma at least CONTRAST away from the background under it.
        let (mut lo, mut hi) = (1.0f32, 0.0f32);
        for (&c, &l) in coverage.iter().zip(&bg_luma) {
            if c > 0.0 {
                lo = lo.min(l);
                hi = hi.max(l);
            }
        }
        let dark = (lo - CONTRAST).max(0.0); // feasible lumas: [0, dark] when lo >= CONTRAST
        let bright = (1.0 - hi - CONTRAST).max(0.0); // and [hi + CONTRAST, 1]
        let target = if dark + bright > 0.0 {
            let u = rng.range(0.0, dark + bright);
            if u < dark {
                u
            } else {
                hi + CONTRAST + (u - dark)
            }
        } else if lo > 1.0 - hi {
            0.0
        } else {
            1.0
        };
        let colour = with_luma(hsv(rng.unit(), rng.range(0.3, 1.0), 1.0), target.clamp(0.0, 1.0));
        blend(&mut img, &coverage, colour, 1.0, n);

        // Fine sensor noise over everything.
        for v in img.iter_mut() {
            *v = (*v + rng.range(-0.03, 0.03)).clamp(0.0, 1.0);
        }

        let bbox = tight_box(&coverage, size);
        Rendered { scene: Scene { image: img, size, class, bbox }, coverage }
    }
}

/// Composites `colour` over the CHW image with per-pixel opacity `cov * alpha`.
fn blend(img: &mut [f32], cov: &[f32], colour: [f32; 3], alpha: f32, n: usize) {
    for (p, &c) in cov.iter().enumerate() {
        if c > 0.0 {
            let a = c * alpha;
            for (ch, &col) in colour.iter().enumerate() {
                let v = &mut img[ch * n + p];
                *v = *v * (1.0 - a) + col * a;
            }
        }
    }
}

/// The smallest `[x0, y0, x1, y1]` (end exclusive) holding every pixel with coverage > 0.
fn tight_box(cov: &[f32], size: usize) -> [usize; 4] {
    let (mut x0, mut y0, mut x1, mut y1) = (size, size, 0, 0);
    for y in 0..size {
        for x in 0..size {
            if cov[y * size + x] > 0.0 {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
    }
    if x1 == 0 {
        // Cannot happen (objects are at least a quarter of the image), but never panic.
        return [0, 0, size, size];
    }
    [x0, y0, x1, y1]
}

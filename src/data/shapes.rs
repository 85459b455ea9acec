//! The drawing primitives behind [`SceneGenerator`](super::SceneGenerator): a seeded PRNG,
//! deterministic trigonometry, colours, and supersampled (anti-aliased) coverage of the eight
//! shapes and of thin strokes. Everything is plain f32 arithmetic (`+ - * /`, `sqrt`, `floor`),
//! which IEEE 754 rounds the same way on every machine, so a scene is bit-identical everywhere.

/// Sub-samples per pixel side: coverage is measured on an `SS x SS` grid inside each pixel.
pub(crate) const SS: usize = 4;

pub(crate) use crate::rng::{mix64, Rng};

const PI: f32 = std::f32::consts::PI;
const TAU: f32 = 2.0 * PI;

/// sin and cos of `a` (radians) from basic arithmetic only, so no platform libm is involved.
/// Accurate to about 1e-6, far below what a drawing needs.
pub(crate) fn sin_cos(a: f32) -> (f32, f32) {
    // Reduce to [-pi, pi].
    let mut x = a - TAU * ((a + PI) / TAU).floor();
    // Reduce to [-pi/2, pi/2] with the sign of cos tracked.
    let mut cos_sign = 1.0;
    if x > PI / 2.0 {
        x = PI - x;
        cos_sign = -1.0;
    } else if x < -PI / 2.0 {
        x = -PI - x;
        cos_sign = -1.0;
    }
    let x2 = x * x;
    // Taylor series to x^11 / x^12: error < 2e-7 on [-pi/2, pi/2].
    let s = x * (1.0 - x2 / 6.0 * (1.0 - x2 / 20.0 * (1.0 - x2 / 42.0 * (1.0 - x2 / 72.0 * (1.0 - x2 / 110.0)))));
    let c = 1.0
        - x2 / 2.0 * (1.0 - x2 / 12.0 * (1.0 - x2 / 30.0 * (1.0 - x2 / 56.0 * (1.0 - x2 / 90.0 * (1.0 - x2 / 132.0)))));
    (s, cos_sign * c)
}

/// Rec. 601 luma of a linear RGB triple.
pub(crate) fn luma(c: [f32; 3]) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

/// HSV (all in [0, 1]) to RGB.
pub(crate) fn hsv(h: f32, s: f32, v: f32) -> [f32; 3] {
    let h6 = (h - h.floor()) * 6.0;
    let sector = (h6.floor() as i32).clamp(0, 5);
    let f = h6 - sector as f32;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    match sector {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// `c` moved to luma `target` (in [0, 1]): darkened by scaling or lightened by blending towards
/// white, both of which keep the hue and are linear in luma, so the result's luma is `target`.
pub(crate) fn with_luma(c: [f32; 3], target: f32) -> [f32; 3] {
    let l = luma(c);
    if target <= l {
        let k = if l > 0.0 { target / l } else { 0.0 };
        c.map(|x| x * k)
    } else {
        let t = if l < 1.0 { (target - l) / (1.0 - l) } else { 0.0 };
        c.map(|x| x + (1.0 - x) * t)
    }
}

/// The eight object shapes, in [`CLASSES`](super::CLASSES) order.
#[derive(Clone, Debug)]
pub(crate) enum Shape {
    Circle,
    Square,
    /// A polygon given by its vertices in object units (triangle, star).
    Polygon(Vec<[f32; 2]>),
    Cross,
    Ring,
    /// `bars` bars separated by equal gaps inside a square.
    Stripes {
        bars: u32,
    },
    /// A `cells x cells` checkerboard inside a square.
    Checker {
        cells: u32,
    },
}

/// Half side of the square (and of the stripes' and checkerboard's frame), in object units.
const HALF: f32 = 0.8;
/// Largest distance of any object point from the object's centre, in object units.
pub(crate) const EXTENT: f32 = 1.16;

impl Shape {
    /// The shape of class `class` (0..8), with its random parts (bar and cell counts).
    pub(crate) fn for_class(class: usize, rng: &mut Rng) -> Shape {
        match class {
            0 => Shape::Circle,
            1 => Shape::Square,
            2 => Shape::Polygon(regular_star(3, 1.1, 0.55)),
            3 => Shape::Cross,
            4 => Shape::Ring,
            5 => Shape::Polygon(regular_star(5, 1.12, 0.45)),
            6 => Shape::Stripes { bars: 3 + rng.below(2) },
            // 3 x 3 cells read as a cross of squares; 4 x 4 is unmistakably a checkerboard.
            _ => Shape::Checker { cells: 4 },
        }
    }

    /// Whether the point (u, v) in object units (centre at 0, rotation undone) is inside.
    pub(crate) fn contains(&self, u: f32, v: f32) -> bool {
        match self {
            Shape::Circle => u * u + v * v <= 1.0,
            Shape::Square => u.abs() <= HALF && v.abs() <= HALF,
            Shape::Polygon(p) => in_polygon(p, u, v),
            Shape::Cross => {
                let (a, b) = (u.abs(), v.abs());
                (a <= 0.3 && b <= 1.0) || (b <= 0.3 && a <= 1.0)
            }
            Shape::Ring => {
                let r2 = u * u + v * v;
                (0.58 * 0.58..=1.0).contains(&r2)
            }
            Shape::Stripes { bars } => {
                if u.abs() > HALF || v.abs() > HALF {
                    return false;
                }
                let slots = 2 * bars - 1;
                let k = (((u + HALF) / (2.0 * HALF) * slots as f32).floor() as u32).min(slots - 1);
                k.is_multiple_of(2)
            }
            Shape::Checker { cells } => {
                if u.abs() > HALF || v.abs() > HALF {
                    return false;
                }
                let cell = |t: f32| (((t + HALF) / (2.0 * HALF) * *cells as f32).floor() as u32).min(cells - 1);
                (cell(u) + cell(v)).is_multiple_of(2)
            }
        }
    }
}

/// A star with `points` outer vertices at radius `outer` (the first pointing up) and inner
/// vertices at radius `inner`; with `inner` at `outer * cos(pi / points)` it is a regular polygon.
fn regular_star(points: usize, outer: f32, inner: f32) -> Vec<[f32; 2]> {
    let inner = if points == 3 { outer * 0.5 } else { inner };
    (0..2 * points)
        .map(|k| {
            let r = if k % 2 == 0 { outer } else { inner };
            let (s, c) = sin_cos(-PI / 2.0 + PI * k as f32 / points as f32);
            [r * c, r * s]
        })
        .collect()
}

/// Even-odd point-in-polygon test.
fn in_polygon(p: &[[f32; 2]], x: f32, y: f32) -> bool {
    let mut inside = false;
    let mut j = p.len() - 1;
    for i in 0..p.len() {
        let ([xi, yi], [xj, yj]) = (p[i], p[j]);
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Where and how an object is drawn: centre and radius in pixels, rotation as (sin, cos).
#[derive(Clone, Debug)]
pub(crate) struct Placement {
    pub cx: f32,
    pub cy: f32,
    pub radius: f32,
    pub sin: f32,
    pub cos: f32,
}

/// Coverage in [0, 1] of `shape` at `place` for each pixel of a `size x size` image, measured on
/// `SS x SS` sub-samples per pixel.
pub(crate) fn object_coverage(shape: &Shape, place: &Placement, size: usize) -> Vec<f32> {
    let mut cov = vec![0.0f32; size * size];
    let reach = place.radius * EXTENT + 1.0;
    let x0 = ((place.cx - reach).floor().max(0.0)) as usize;
    let y0 = ((place.cy - reach).floor().max(0.0)) as usize;
    let x1 = ((place.cx + reach).ceil() as usize).min(size);
    let y1 = ((place.cy + reach).ceil() as usize).min(size);
    let inv_r = 1.0 / place.radius;
    let step = 1.0 / SS as f32;
    for py in y0..y1 {
        for px in x0..x1 {
            let mut hits = 0u32;
            for sy in 0..SS {
                let dy = py as f32 + (sy as f32 + 0.5) * step - place.cy;
                for sx in 0..SS {
                    let dx = px as f32 + (sx as f32 + 0.5) * step - place.cx;
                    let u = (place.cos * dx + place.sin * dy) * inv_r;
                    let v = (-place.sin * dx + place.cos * dy) * inv_r;
                    hits += shape.contains(u, v) as u32;
                }
            }
            cov[py * size + px] = hits as f32 / (SS * SS) as f32;
        }
    }
    cov
}

/// Coverage of a straight stroke from `a` to `b` (pixels) of width `width`, on sub-samples.
pub(crate) fn stroke_coverage(a: [f32; 2], b: [f32; 2], width: f32, size: usize) -> Vec<f32> {
    let mut cov = vec![0.0f32; size * size];
    let half = width / 2.0;
    let (ex, ey) = (b[0] - a[0], b[1] - a[1]);
    let len2 = (ex * ex + ey * ey).max(1e-6);
    let lo = |p: f32, q: f32| ((p.min(q) - half - 1.0).floor().max(0.0)) as usize;
    let hi = |p: f32, q: f32| ((p.max(q) + half + 1.0).ceil().max(0.0) as usize).min(size);
    let step = 1.0 / SS as f32;
    for py in lo(a[1], b[1])..hi(a[1], b[1]) {
        for px in lo(a[0], b[0])..hi(a[0], b[0]) {
            let mut hits = 0u32;
            for sy in 0..SS {
                let y = py as f32 + (sy as f32 + 0.5) * step;
                for sx in 0..SS {
                    let x = px as f32 + (sx as f32 + 0.5) * step;
                    let t = (((x - a[0]) * ex + (y - a[1]) * ey) / len2).clamp(0.0, 1.0);
                    let (dx, dy) = (x - a[0] - t * ex, y - a[1] - t * ey);
                    hits += (dx * dx + dy * dy <= half * half) as u32;
                }
            }
            cov[py * size + px] = hits as f32 / (SS * SS) as f32;
        }
    }
    cov
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sin_cos_matches_std() {
        for k in -2000..2000 {
            let a = k as f32 * 0.01;
            let (s, c) = sin_cos(a);
            assert!((s - a.sin()).abs() < 1e-5 && (c - a.cos()).abs() < 1e-5, "{a}: {s} {c}");
        }
    }

    #[test]
    fn with_luma_hits_target() {
        for t in [0.0, 0.1, 0.5, 0.9, 1.0] {
            let c = with_luma(hsv(0.3, 0.8, 0.6), t);
            assert!((luma(c) - t).abs() < 1e-5 && c.iter().all(|x| (0.0..=1.0).contains(x)));
        }
    }
}

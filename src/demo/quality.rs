//! Measuring the demo model: test-split accuracy and the CAM pointing game.

use super::{training::scenes, CAM_LAYER, IMAGE_SIZE};
use crate::cam::{explain, CamOptions, Method, Target};
use crate::data::Split;
use crate::graph::Graph;
use crate::{Gpu, Result, Tensor};

/// What [`measure`] found on the first `scenes` scenes of the test split.
#[derive(Clone, Debug, PartialEq)]
pub struct Quality {
    /// Scenes measured.
    pub scenes: usize,
    /// Fraction whose top-1 class is the label.
    pub accuracy: f32,
    /// Per method: the fraction of scenes whose heatmap for the true class peaks (its first
    /// maximum, row-major) inside the object's box (the pointing game).
    pub pointing: Vec<(Method, f32)>,
}

/// Accuracy and the pointing game of `graph` (the demo network) on test scenes `0..n`, with
/// each of `methods` explaining [`CAM_LAYER`] for the true class; `batch` scenes per pass.
pub fn measure(gpu: &Gpu, graph: &Graph, n: usize, methods: &[Method], batch: usize) -> Result<Quality> {
    let (images, labels, boxes) = scenes(Split::Test, n)?;
    let layer = graph.tensor(CAM_LAYER)?;
    let per = 3 * IMAGE_SIZE * IMAGE_SIZE;
    let plane = IMAGE_SIZE * IMAGE_SIZE;
    let classes = graph.item_shape(graph.output()).iter().product::<usize>();
    let mut pointing = Vec::new();
    // The first method's passes also give the logits for the accuracy (targets do not change
    // them); with no method, one plain evaluation does.
    let mut correct = None;
    for &method in methods {
        let (mut hits, mut right) = (0usize, 0usize);
        for start in (0..n).step_by(batch.max(1)) {
            let m = batch.min(n - start);
            let x = Tensor::from_f32(gpu, [m, 3, IMAGE_SIZE, IMAGE_SIZE], &images[start * per..(start + m) * per])?;
            let opts = CamOptions {
                targets: labels[start..start + m].iter().map(|&c| Target::Class(c)).collect(),
                ..CamOptions::new(method, layer)
            };
            let out = explain(gpu, graph, &x, &opts)?;
            let heat = out.heatmap.to_f32(gpu)?;
            for (k, map) in heat.chunks(plane).enumerate() {
                let peak = map.iter().enumerate().fold(0, |best, (i, &v)| if v > map[best] { i } else { best });
                let (px, py) = (peak % IMAGE_SIZE, peak / IMAGE_SIZE);
                let [x0, y0, x1, y1] = boxes[start + k];
                hits += usize::from((x0..x1).contains(&px) && (y0..y1).contains(&py));
            }
            if correct.is_none() {
                let logits = out.logits.to_f32(gpu)?;
                for (k, row) in logits.chunks(classes).enumerate() {
                    // The first index of the maximum, as the cross-entropy kernel counts.
                    let top = row.iter().enumerate().fold(0, |best, (i, &v)| if v > row[best] { i } else { best });
                    right += usize::from(top == labels[start + k]);
                }
            }
        }
        correct.get_or_insert(right);
        pointing.push((method, hits as f32 / n as f32));
    }
    let accuracy = match correct {
        Some(c) => c as f32 / n as f32,
        None => crate::train::evaluate(gpu, graph, &images, &labels, batch)?.1,
    };
    Ok(Quality { scenes: n, accuracy, pointing })
}

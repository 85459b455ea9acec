//! Training the demo model from scratch on generated scenes.

use std::time::Instant;

use super::{architecture, preprocess, IMAGE_SIZE};
use crate::data::{SceneBatch, SceneGenerator, Split};
use crate::graph::Graph;
use crate::rng::Rng;
use crate::train::{evaluate, Optimizer, Schedule, Trainer};
use crate::{Error, Gpu, Result, Tensor};

/// How [`train`] runs. The defaults produced the committed weights.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Training scenes (the first ones of [`Split::Train`]), reshuffled every epoch.
    pub scenes: usize,
    /// Passes over the training scenes.
    pub epochs: usize,
    /// Scenes per step.
    pub batch: usize,
    /// Peak learning rate of AdamW (after a linear warm-up, then cosine decay to 0).
    pub lr: f32,
    /// Warm-up steps.
    pub warmup: u64,
    /// AdamW's decoupled weight decay (conv and linear weights only).
    pub weight_decay: f32,
    /// Validation scenes measured after every epoch (the first ones of [`Split::Validation`]).
    pub validation: usize,
    /// Seed of the initial weights and of the shuffling.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            scenes: 6144,
            epochs: 8,
            batch: 32,
            lr: 4e-3,
            warmup: 50,
            weight_decay: 0.05,
            validation: 512,
            seed: 1,
        }
    }
}

/// Where a run is, passed to the progress callback after every step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Epoch, from 1.
    pub epoch: usize,
    /// Steps done.
    pub step: u64,
    /// Steps in the whole run.
    pub total_steps: u64,
    /// Mean loss over this epoch's steps so far.
    pub loss: f32,
    /// Training accuracy over this epoch's steps so far.
    pub accuracy: f32,
    /// Learning rate of the last step.
    pub lr: f32,
    /// Validation accuracy after the last finished epoch, if one has finished.
    pub validation: Option<f32>,
}

/// What a run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// Steps taken.
    pub steps: u64,
    /// Wall time of the whole run, data generation included, in seconds.
    pub seconds: f64,
    /// Of which generating the scenes.
    pub data_seconds: f64,
    /// Per epoch: mean training loss, training accuracy, validation loss, validation accuracy.
    pub epochs: Vec<[f32; 4]>,
}

/// Scenes `0..n` of `split` at the model's size, normalised for it, as NCHW values plus labels
/// and object boxes.
pub(crate) fn scenes(split: Split, n: usize) -> Result<SceneBatch> {
    let (mut images, labels, boxes) = SceneGenerator::new(IMAGE_SIZE, split)?.batch(0, n);
    let pre = preprocess();
    for img in images.chunks_mut(3 * IMAGE_SIZE * IMAGE_SIZE) {
        pre.normalize(img);
    }
    Ok((images, labels, boxes))
}

/// Trains the demo network from scratch with AdamW and a warm-up + cosine schedule, calling
/// `progress` after every step. Returns the trained graph (inference mode uses the running
/// batch-norm statistics it accumulated) and the report.
pub fn train(gpu: &Gpu, cfg: &TrainConfig, progress: &mut dyn FnMut(&Progress)) -> Result<(Graph, TrainReport)> {
    if cfg.scenes < cfg.batch || cfg.batch < 2 || cfg.epochs == 0 || cfg.validation == 0 {
        return Err(Error::arg(
            "train",
            format!(
                "need at least one batch of 2 or more scenes, one epoch and one validation scene (got {} scenes, batch {}, {} epochs, {} validation)",
                cfg.scenes, cfg.batch, cfg.epochs, cfg.validation
            ),
        ));
    }
    let start = Instant::now();
    let (images, labels, _) = scenes(Split::Train, cfg.scenes)?;
    let (val_images, val_labels, _) = scenes(Split::Validation, cfg.validation)?;
    let data_seconds = start.elapsed().as_secs_f64();

    let graph = architecture(gpu, cfg.seed)?;
    let mut trainer = Trainer::new(gpu, &graph, Optimizer::adamw(cfg.weight_decay))?;
    // Whole batches only: a short last batch would weigh its few scenes' statistics heavily.
    let per_epoch = (cfg.scenes / cfg.batch) as u64;
    let total = per_epoch * cfg.epochs as u64;
    let schedule = Schedule::cosine(cfg.lr, cfg.warmup.min(total), total);
    let per = 3 * IMAGE_SIZE * IMAGE_SIZE;
    let mut rng = Rng::new(cfg.seed ^ 0x5EED);
    let mut order: Vec<usize> = (0..cfg.scenes).collect();
    let mut batch_x = vec![0.0f32; cfg.batch * per];
    let mut batch_y = vec![0u32; cfg.batch];
    let mut report = Vec::new();
    let mut validation = None;
    for epoch in 1..=cfg.epochs {
        // Fisher-Yates with the seeded generator: the same order on every machine.
        for i in (1..order.len()).rev() {
            order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for b in 0..per_epoch as usize {
            for (k, &s) in order[b * cfg.batch..(b + 1) * cfg.batch].iter().enumerate() {
                batch_x[k * per..(k + 1) * per].copy_from_slice(&images[s * per..(s + 1) * per]);
                batch_y[k] = labels[s] as u32;
            }
            let x = Tensor::from_f32(gpu, [cfg.batch, 3, IMAGE_SIZE, IMAGE_SIZE], &batch_x)?;
            let y = Tensor::from_u32(gpu, [cfg.batch], &batch_y)?;
            let lr = schedule.lr(trainer.steps());
            let stats = trainer.step(gpu, &graph, &x, &y, lr)?;
            loss_sum += stats.loss as f64 * stats.batch as f64;
            correct += stats.correct;
            seen += stats.batch;
            progress(&Progress {
                epoch,
                step: trainer.steps(),
                total_steps: total,
                loss: (loss_sum / seen as f64) as f32,
                accuracy: correct as f32 / seen as f32,
                lr,
                validation,
            });
        }
        let (val_loss, val_acc) = evaluate(gpu, &graph, &val_images, &val_labels, 64)?;
        validation = Some(val_acc);
        report.push([(loss_sum / seen as f64) as f32, correct as f32 / seen as f32, val_loss, val_acc]);
    }
    let report =
        TrainReport { steps: trainer.steps(), seconds: start.elapsed().as_secs_f64(), data_seconds, epochs: report };
    Ok((graph, report))
}

//! Training a classifier graph with the engine's own kernels.
//!
//! One [`Trainer::step`] records, into one submit: a training-mode forward pass (batch norm on
//! batch statistics, running statistics updated on the GPU), softmax cross-entropy against the
//! labels, the full backward pass and an optimizer step for every parameter. Only the loss and
//! the count of correct predictions come back to the host. [`Schedule`] gives the learning rate
//! per step; [`evaluate`] measures a graph in inference mode.
//!
//! ```no_run
//! use featuremap::train::{Optimizer, Schedule, Trainer};
//! use featuremap::{demo, Gpu, Tensor};
//! # fn main() -> featuremap::Result<()> {
//! let gpu = Gpu::new()?;
//! let graph = demo::architecture(&gpu, 7)?; // fresh weights, batch norm in the graph
//! let x = Tensor::zeros(&gpu, [8, 3, 64, 64])?;
//! let labels = Tensor::from_u32(&gpu, [8], &[0, 1, 2, 3, 4, 5, 6, 7])?;
//! let mut trainer = Trainer::new(&gpu, &graph, Optimizer::adamw(0.01))?;
//! let schedule = Schedule::cosine(3e-3, 20, 1000);
//! let stats = trainer.step(&gpu, &graph, &x, &labels, schedule.lr(trainer.steps()))?;
//! println!("loss {:.3}, {} correct", stats.loss, stats.correct);
//! # Ok(()) }
//! ```

use crate::graph::{Graph, Keep, Op, ReluGrad};
use crate::{ops, Error, Gpu, Result, Tensor};

/// The optimizer: both are WGSL kernels that update the parameters in place.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// SGD with momentum and coupled weight decay (`torch.optim.SGD`).
    Sgd {
        /// Momentum (0.9 is usual).
        momentum: f32,
        /// L2 penalty added to the gradient of conv and linear weights.
        weight_decay: f32,
    },
    /// AdamW with decoupled weight decay (`torch.optim.AdamW`).
    AdamW {
        /// First-moment decay.
        beta1: f32,
        /// Second-moment decay.
        beta2: f32,
        /// Added to the root of the second moment.
        eps: f32,
        /// Decoupled decay of conv and linear weights, per unit learning rate.
        weight_decay: f32,
    },
}

impl Optimizer {
    /// AdamW with PyTorch's default betas and epsilon.
    pub fn adamw(weight_decay: f32) -> Optimizer {
        Optimizer::AdamW { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay }
    }
}

/// Learning rate per step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// The same rate at every step.
    Constant(f32),
    /// Linear warm-up from 0 over `warmup` steps to `peak`, then a cosine decay to 0 at `total`.
    Cosine {
        /// The highest rate, reached after the warm-up.
        peak: f32,
        /// Warm-up steps.
        warmup: u64,
        /// Total steps of the run.
        total: u64,
    },
}

impl Schedule {
    /// Warm-up then cosine decay; see [`Schedule::Cosine`].
    pub fn cosine(peak: f32, warmup: u64, total: u64) -> Schedule {
        Schedule::Cosine { peak, warmup, total }
    }

    /// The rate at step `step` (counted from 0).
    pub fn lr(&self, step: u64) -> f32 {
        match *self {
            Schedule::Constant(lr) => lr,
            Schedule::Cosine { peak, warmup, total } => {
                if step < warmup {
                    return peak * (step + 1) as f32 / warmup as f32;
                }
                let span = total.saturating_sub(warmup).max(1);
                let t = (step - warmup).min(span) as f64 / span as f64;
                (peak as f64 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())) as f32
            }
        }
    }
}

/// What one step measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// Mean cross-entropy of the batch (before the update).
    pub loss: f32,
    /// Images of the batch whose top-1 class was the label (before the update).
    pub correct: usize,
    /// Batch size.
    pub batch: usize,
}

/// One trainable tensor with its optimizer state.
struct Slot {
    param: Tensor,
    /// Momentum, or AdamW's first and second moments.
    state: Vec<Tensor>,
    /// Conv and linear weights decay; biases and batch-norm parameters do not.
    decays: bool,
}

/// The optimizer state of one graph; see the [module docs](self).
pub struct Trainer {
    optimizer: Optimizer,
    /// Per node name: the weight (or batch-norm scale) slot and the bias (or shift) slot.
    slots: Vec<(String, Slot, Option<Slot>)>,
    steps: u64,
}

impl Trainer {
    /// Optimizer state (zeros) for every trainable parameter of `graph`: conv and linear weights
    /// and biases, batch-norm scales and shifts. Other parameterised ops are an error.
    pub fn new(gpu: &Gpu, graph: &Graph, optimizer: Optimizer) -> Result<Trainer> {
        let states = match optimizer {
            Optimizer::Sgd { .. } => 1,
            Optimizer::AdamW { .. } => 2,
        };
        let slot = |t: &Tensor, decays: bool| -> Result<Slot> {
            let state = (0..states).map(|_| Tensor::zeros(gpu, t.dims().to_vec())).collect::<Result<_>>()?;
            Ok(Slot { param: t.clone(), state, decays })
        };
        let mut slots = Vec::new();
        for n in graph.nodes() {
            match &n.op {
                Op::Conv2d { weight, bias, .. } | Op::Linear { weight, bias } => {
                    let b = bias.as_ref().map(|b| slot(b, false)).transpose()?;
                    slots.push((n.name.clone(), slot(weight, true)?, b));
                }
                Op::BatchNorm { scale, bias, .. } => {
                    slots.push((n.name.clone(), slot(scale, false)?, Some(slot(bias, false)?)));
                }
                op if op.parameters() > 0 => {
                    return Err(Error::arg(
                        "Trainer::new",
                        format!("node `{}`: {} cannot be trained yet", n.name, op.kind()),
                    ))
                }
                _ => {}
            }
        }
        Ok(Trainer { optimizer, slots, steps: 0 })
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// One training step on images `x` (`[N, ...input]`) with `labels` (a U32 tensor `[N]` of
    /// class indices) at learning rate `lr`; `graph`'s output must be logits `[N, K]`. Waits for
    /// the GPU to read the loss back.
    pub fn step(&mut self, gpu: &Gpu, graph: &Graph, x: &Tensor, labels: &Tensor, lr: f32) -> Result<StepStats> {
        let t = u32::try_from(self.steps + 1).map_err(|_| Error::arg("Trainer::step", "too many steps"))?;
        let pair = gpu.run(|rec| {
            let acts = graph.forward(rec, x, &Keep::training(graph.input()))?;
            let (loss, dlogits, correct) = ops::softmax_cross_entropy(rec, acts.output(), labels)?;
            let grads = graph.backward(rec, &acts, &dlogits, graph.input(), ReluGrad::Standard)?;
            for (name, dw, db) in &grads.params {
                let (_, w, b) = self
                    .slots
                    .iter()
                    .find(|(n, ..)| n == name)
                    .ok_or_else(|| Error::arg("Trainer::step", format!("node `{name}` is not in this trainer")))?;
                self.update(rec, w, dw, lr, t)?;
                if let (Some(b), Some(db)) = (b, db) {
                    self.update(rec, b, db, lr, t)?;
                }
            }
            loss_and_correct(rec, &loss, &correct)
        })?;
        self.steps += 1;
        let [loss, correct] = read_pair(gpu, &pair)?;
        let correct = correct.round() as usize;
        if !loss.is_finite() {
            return Err(Error::arg("Trainer::step", format!("the loss became {loss} at step {}", self.steps)));
        }
        Ok(StepStats { loss, correct, batch: x.dims()[0] })
    }

    fn update(&self, rec: &mut crate::Recorder, s: &Slot, grad: &Tensor, lr: f32, t: u32) -> Result<()> {
        match self.optimizer {
            Optimizer::Sgd { momentum, weight_decay } => {
                let wd = if s.decays { weight_decay } else { 0.0 };
                ops::sgd_step(rec, &s.param, grad, &s.state[0], lr, momentum, wd)
            }
            Optimizer::AdamW { beta1, beta2, eps, weight_decay } => {
                let wd = if s.decays { weight_decay } else { 0.0 };
                ops::adamw_step(rec, &s.param, grad, &s.state[0], &s.state[1], t, lr, beta1, beta2, eps, wd)
            }
        }
    }
}

/// Mean cross-entropy and top-1 accuracy of `graph` in inference mode on `images` (NCHW values
/// of `labels.len()` images of the graph's input shape), in batches of `batch`.
pub fn evaluate(gpu: &Gpu, graph: &Graph, images: &[f32], labels: &[usize], batch: usize) -> Result<(f32, f32)> {
    let item = graph.item_shape(graph.input()).to_vec();
    let per: usize = item.iter().product();
    if labels.is_empty() || images.len() != labels.len() * per || batch == 0 {
        return Err(Error::shape(
            "evaluate",
            format!("{} values for {} labels of {item:?} (batch {batch})", images.len(), labels.len()),
        ));
    }
    let (mut loss_sum, mut correct) = (0.0f64, 0.0f64);
    for start in (0..labels.len()).step_by(batch) {
        let n = batch.min(labels.len() - start);
        let x = Tensor::from_f32(gpu, crate::graph::with_batch(n, &item), &images[start * per..(start + n) * per])?;
        let l: Vec<u32> = labels[start..start + n].iter().map(|&c| c as u32).collect();
        let l = Tensor::from_u32(gpu, [n], &l)?;
        let pair = gpu.run(|rec| {
            let acts = graph.forward(rec, &x, &Keep::default())?;
            let (loss, _, c) = ops::softmax_cross_entropy(rec, acts.output(), &l)?;
            loss_and_correct(rec, &loss, &c)
        })?;
        let [loss, c] = read_pair(gpu, &pair)?;
        loss_sum += loss as f64 * n as f64;
        correct += c as f64;
    }
    Ok(((loss_sum / labels.len() as f64) as f32, (correct / labels.len() as f64) as f32))
}

/// The loss and the correct count (`[1]` each) side by side in one `[1, 2]` tensor, so that
/// one readback brings both.
fn loss_and_correct(rec: &mut crate::Recorder, loss: &Tensor, correct: &Tensor) -> Result<Tensor> {
    ops::concat(rec, &[&loss.reshape([1, 1])?, &correct.reshape([1, 1])?], 1)
}

/// Reads [`loss_and_correct`]'s tensor back (waits for the GPU).
fn read_pair(gpu: &Gpu, pair: &Tensor) -> Result<[f32; 2]> {
    let v = pair.to_f32(gpu)?;
    Ok([v[0], v[1]])
}

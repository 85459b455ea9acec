//! The memory plan of a forward pass: which tensors must outlive the pass (taps, what the
//! backward pass needs, the output), which conv+activation pairs fuse, and after which node each
//! intermediate buffer can be reused by later outputs of the same pass.

use super::{forward::Keep, Graph, Op, TensorId};
use crate::ops::{Activation, BinaryOp};

/// Peak memory of a forward pass under the plan, against the sum of all its activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryReport {
    /// Batch size the report is for.
    pub batch: usize,
    /// Most bytes of activations alive at once (input, intermediates, kept tensors, argmax).
    pub peak_bytes: u64,
    /// Bytes of every tensor the pass materialises, as if none were freed.
    pub total_bytes: u64,
    /// Bytes kept after the pass (taps, tensors the backward pass needs, the output).
    pub kept_bytes: u64,
}

pub(crate) struct Plan {
    /// Buffer owner of each tensor: a flatten shares its input's buffer.
    pub(crate) root: Vec<TensorId>,
    /// Tensors (by root) that must survive the pass.
    pub(crate) kept: Vec<bool>,
    /// Nodes whose max-pool argmax must be kept.
    pub(crate) keep_argmax: Vec<bool>,
    /// `fused[i] = Some(j)`: conv node i applies node j's activation; node j is skipped.
    pub(crate) fused: Vec<Option<usize>>,
    /// Nodes skipped because an earlier conv computed them.
    pub(crate) skipped: Vec<bool>,
    /// Roots whose buffer may be recycled once node i has been recorded.
    pub(crate) release_after: Vec<Vec<TensorId>>,
}

impl Graph {
    /// Tensors that depend on `t` (including `t`).
    pub(crate) fn descendants(&self, t: TensorId) -> Vec<bool> {
        let mut reach = vec![false; self.tensors.len()];
        reach[t.0] = true;
        for n in &self.nodes {
            if n.inputs.iter().any(|i| reach[i.0]) {
                reach[n.output.0] = true;
            }
        }
        reach
    }

    /// Nodes a backward pass to `target` runs through: those with an input that depends on it.
    pub(crate) fn backward_nodes(&self, target: TensorId) -> Vec<bool> {
        let reach = self.descendants(target);
        self.nodes.iter().map(|n| n.inputs.iter().any(|i| reach[i.0])).collect()
    }

    pub(crate) fn plan(&self, keep: &Keep) -> Plan {
        let nt = self.tensors.len();
        let nn = self.nodes.len();
        let mut root: Vec<TensorId> = (0..nt).map(TensorId).collect();
        for n in &self.nodes {
            if matches!(n.op, Op::Flatten | Op::Reshape { .. }) {
                root[n.output.0] = root[n.inputs[0].0];
            }
        }
        let mut kept = vec![false; nt];
        let keep_t = |t: TensorId, kept: &mut Vec<bool>| kept[root[t.0].0] = true;
        keep_t(self.input, &mut kept);
        keep_t(self.output, &mut kept);
        for &t in &keep.taps {
            keep_t(t, &mut kept);
        }
        let mut keep_argmax = vec![false; nn];
        if let Some(target) = keep.backward_to {
            keep_t(target, &mut kept);
            let on_path = self.backward_nodes(target);
            for (i, n) in self.nodes.iter().enumerate() {
                if !on_path[i] {
                    continue;
                }
                let x = n.inputs.first().copied();
                match &n.op {
                    Op::Conv2d { .. } | Op::Linear { .. } | Op::BatchNorm { .. } if keep.weight_grads => {
                        keep_t(x.unwrap(), &mut kept)
                    }
                    Op::Activation(_) | Op::GlobalMaxPool2d => keep_t(x.unwrap(), &mut kept),
                    Op::BinaryConst { op: BinaryOp::Div, value_first: true, .. } => keep_t(x.unwrap(), &mut kept),
                    Op::Binary(BinaryOp::Mul | BinaryOp::Div) => {
                        keep_t(n.inputs[0], &mut kept);
                        keep_t(n.inputs[1], &mut kept);
                    }
                    Op::Softmax { .. } | Op::LogSoftmax { .. } => keep_t(n.output, &mut kept),
                    Op::MaxPool2d(_) => keep_argmax[i] = true,
                    _ => {}
                }
            }
        }

        // Fuse conv -> activation when the conv's output is read by that activation alone and
        // nothing needs the pre-activation values.
        let mut fused = vec![None; nn];
        let mut skipped = vec![false; nn];
        for (i, n) in self.nodes.iter().enumerate() {
            if let Op::Conv2d { cfg, .. } = &n.op {
                let t = n.output;
                if cfg.activation != Activation::None || kept[root[t.0].0] || self.consumers[t.0].len() != 1 {
                    continue;
                }
                let j = self.consumers[t.0][0];
                if matches!(self.nodes[j].op, Op::Activation(_)) {
                    fused[i] = Some(j);
                    skipped[j] = true;
                }
            }
        }

        // Last node reading each root (a root nobody reads dies right after its producer).
        let mut last_use: Vec<usize> = (0..nt).map(|t| self.tensors[t].producer).collect();
        for (i, n) in self.nodes.iter().enumerate() {
            for t in &n.inputs {
                let r = root[t.0].0;
                last_use[r] = last_use[r].max(i);
            }
        }
        for t in 0..nt {
            let r = root[t].0;
            last_use[r] = last_use[r].max(last_use[t]);
        }
        let mut release_after = vec![Vec::new(); nn];
        for t in 0..nt {
            if root[t].0 != t || kept[t] {
                continue;
            }
            // A fused conv's pre-activation output is never materialised.
            if fused[self.tensors[t].producer].is_some() {
                continue;
            }
            release_after[last_use[t]].push(TensorId(t));
        }
        Plan { root, kept, keep_argmax, fused, skipped, release_after }
    }

    /// Peak and total activation bytes of a forward pass of batch `n` under the plan for `keep`.
    pub fn memory_report(&self, n: usize, keep: &Keep) -> MemoryReport {
        let plan = self.plan(keep);
        let bytes = |t: TensorId| (self.shape(t, n).iter().product::<usize>() * 4) as u64;
        let mut live = bytes(self.input);
        let mut peak = live;
        let mut total = live;
        let mut kept_bytes = bytes(self.input);
        for (i, node) in self.nodes.iter().enumerate().skip(1) {
            if !plan.skipped[i] {
                let out = match plan.fused[i] {
                    Some(j) => self.nodes[j].output,
                    None => node.output,
                };
                if plan.root[out.0] == out {
                    let b = bytes(out);
                    live += b;
                    total += b;
                    if plan.kept[out.0] {
                        kept_bytes += b;
                    }
                }
                if matches!(node.op, Op::MaxPool2d(_)) {
                    // The argmax is as large as the output; kept for backward or freed at once.
                    let b = bytes(node.output);
                    total += b;
                    peak = peak.max(live + b);
                    if plan.keep_argmax[i] {
                        live += b;
                        kept_bytes += b;
                    }
                }
                peak = peak.max(live);
            }
            for t in &plan.release_after[i] {
                live -= bytes(*t);
            }
        }
        MemoryReport { batch: n, peak_bytes: peak, total_bytes: total, kept_bytes }
    }
}

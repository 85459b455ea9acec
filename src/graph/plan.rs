//! The memory plan of a forward pass: which tensors must outlive the pass (taps, what the
//! backward pass needs, the output), which nodes a conv absorbs into its epilogue (a residual
//! add, an activation), and after which node each intermediate buffer can be reused by later
//! outputs of the same pass.

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
    /// `fused[i]`: what conv node i computes in its epilogue beyond its own op; the nodes it
    /// absorbs are skipped.
    pub(crate) fused: Vec<Option<Fusion>>,
    /// Nodes skipped because an earlier conv computed them.
    pub(crate) skipped: Vec<bool>,
    /// Roots whose buffer may be recycled once node i has been recorded.
    pub(crate) release_after: Vec<Vec<TensorId>>,
}

/// The nodes a conv absorbs: `activation(conv(x) + residual)` written straight to `output`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fusion {
    /// The other operand of an `Add` of the conv's output, added in the epilogue.
    pub(crate) residual: Option<TensorId>,
    /// The activation of the activation node after the conv (or after the add).
    pub(crate) activation: Option<Activation>,
    /// The tensor the conv writes: the output of the last node it absorbs.
    pub(crate) output: TensorId,
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

        // Fuse conv -> [add] -> [activation] into the conv's epilogue. A node is absorbed when
        // the value before it is read by it alone and nothing needs that value kept. The add's
        // other operand must already exist when the conv runs (produced by an earlier node):
        // in a block whose shortcut is a conv too, the later of the two convs absorbs the add.
        let mut fused: Vec<Option<Fusion>> = vec![None; nn];
        let mut skipped = vec![false; nn];
        let sole_reader = |t: TensorId| -> Option<usize> {
            (!kept[root[t.0].0] && self.consumers[t.0].len() == 1).then(|| self.consumers[t.0][0])
        };
        for (i, n) in self.nodes.iter().enumerate() {
            let Op::Conv2d { cfg, .. } = &n.op else { continue };
            if cfg.activation != Activation::None {
                continue;
            }
            let mut f = Fusion { residual: None, activation: None, output: n.output };
            if let Some(j) = sole_reader(f.output) {
                if let Op::Binary(BinaryOp::Add) = self.nodes[j].op {
                    let ins = &self.nodes[j].inputs;
                    let other = if ins[0] == f.output { ins[1] } else { ins[0] };
                    let same_shape = self.item_shape(other) == self.item_shape(f.output);
                    if other != f.output && same_shape && self.tensors[other.0].producer < i {
                        f.residual = Some(other);
                        f.output = self.nodes[j].output;
                        skipped[j] = true;
                    }
                }
            }
            if let Some(j) = sole_reader(f.output) {
                if let Op::Activation(a) = self.nodes[j].op {
                    f.activation = Some(a);
                    f.output = self.nodes[j].output;
                    skipped[j] = true;
                }
            }
            if f.output != n.output {
                fused[i] = Some(f);
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
        let mut materialised = vec![false; nt];
        materialised[self.input.0] = true;
        for (i, n) in self.nodes.iter().enumerate() {
            if !skipped[i] {
                materialised[fused[i].map_or(n.output, |f| f.output).0] = true;
            }
        }
        let mut release_after = vec![Vec::new(); nn];
        for t in 0..nt {
            if root[t].0 != t || kept[t] {
                continue;
            }
            // What a fused conv absorbs is never materialised.
            if !materialised[t] {
                continue;
            }
            release_after[last_use[t]].push(TensorId(t));
        }
        Plan { root, kept, keep_argmax, fused, skipped, release_after }
    }

    /// Peak and total activation bytes of a forward pass of batch `n` under the plan for `keep`,
    /// counting 4 bytes per value (f32 storage; with f16 storage the feature maps take half and
    /// the f32 copies at the edges of ops without an f16 kernel are not counted).
    pub fn memory_report(&self, n: usize, keep: &Keep) -> MemoryReport {
        let plan = self.plan(keep);
        let bytes = |t: TensorId| (self.shape(t, n).iter().product::<usize>() * 4) as u64;
        let mut live = bytes(self.input);
        let mut peak = live;
        let mut total = live;
        let mut kept_bytes = bytes(self.input);
        for (i, node) in self.nodes.iter().enumerate().skip(1) {
            if !plan.skipped[i] {
                let out = plan.fused[i].map_or(node.output, |f| f.output);
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

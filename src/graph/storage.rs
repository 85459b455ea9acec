//! f16 storage: forward passes that keep feature maps and convolution weights in f16 (half the
//! bytes to move) and sum in f32, where the adapter has `SHADER_F16`.
//!
//! Ops with an f16 kernel (convolution, batch norm, activations, elementwise arithmetic,
//! pooling) read and write f16; the others run in f32 on a converted copy of their inputs.
//! What a pass hands back (its output, taps, what a backward pass needs) is converted to f32,
//! so everything after the forward pass (readback, embeddings, CAMs, backward) is unchanged.
//! Backward passes, `Graph::forward_from` (Score-CAM's re-runs of the head) and
//! `Graph::memory_report` (which counts 4 bytes per value) stay f32. f16 holds magnitudes up to
//! 65504: a feature map beyond that becomes infinite (`featuremap bench --f16` counts
//! non-finite outputs).

use super::{Graph, Op};
use crate::{ops, DType, Error, Gpu, Result};

impl Graph {
    /// The storage of feature maps inside forward passes: [`DType::F32`] (the default) or
    /// [`DType::F16`].
    pub fn storage(&self) -> DType {
        self.storage
    }

    /// Sets the storage of feature maps and convolution weights in forward passes:
    /// [`DType::F16`] (where `gpu` has `SHADER_F16`) runs later forward passes in f16 storage
    /// with f32 sums; [`DType::F32`] goes back. Training passes need f32. The f16 copy of a
    /// convolution's weights is made by the first f16 pass that needs it and kept while the
    /// weights are unchanged: weights changed since (loaded parameters, an optimizer step) are
    /// converted again by the next pass. Going back to f32 leaves the f16 copies in the
    /// device's cache until the weights change or [`Gpu::clear_derived`] is called.
    pub fn set_storage(&mut self, gpu: &Gpu, storage: DType) -> Result<()> {
        match storage {
            DType::F32 => {}
            DType::F16 => ops::require_shader_f16(gpu, "set_storage")?,
            DType::U32 => return Err(Error::arg("set_storage", "storage must be F32 or F16")),
        }
        self.storage = storage;
        Ok(())
    }

    /// The dtype node `i` runs in under the graph's storage: f16 for ops with an f16 kernel
    /// when the storage is f16, `None` for reshapes (no kernel: any dtype passes through),
    /// else f32.
    pub(crate) fn node_storage(&self, i: usize) -> Option<DType> {
        if self.storage != DType::F16 {
            return Some(DType::F32);
        }
        match self.nodes[i].op {
            Op::Flatten | Op::Reshape { .. } => None,
            Op::Conv2d { .. }
            | Op::BatchNorm { .. }
            | Op::Activation(_)
            | Op::Binary(_)
            | Op::MaxPool2d(_)
            | Op::AvgPool2d(_)
            | Op::GlobalAvgPool2d
            | Op::GlobalMaxPool2d => Some(DType::F16),
            _ => Some(DType::F32),
        }
    }
}

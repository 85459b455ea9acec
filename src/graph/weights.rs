//! A graph's learned parameters by name, saved to and loaded from safetensors files.
//!
//! Names follow PyTorch's `state_dict`: `NODE.weight` and `NODE.bias` for convolutions, linear
//! layers, PReLU and layer norm; `NODE.weight`, `NODE.bias`, `NODE.running_mean` and
//! `NODE.running_var` for batch norm; `NODE.constant` for the constant operand of an
//! elementwise op.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Graph, Op};
use crate::io::{load_safetensors, save_safetensors, NamedTensors};
use crate::{Error, Gpu, Result, Tensor};

impl Graph {
    /// Every parameter tensor with its name, in node order.
    pub fn named_parameters<'a>(&'a self) -> Vec<(String, &'a Tensor)> {
        let mut v: Vec<(String, &Tensor)> = Vec::new();
        for n in &self.nodes {
            let mut add = |suffix: &str, t: &'a Tensor| v.push((format!("{}.{suffix}", n.name), t));
            match &n.op {
                Op::Conv2d { weight, bias, .. }
                | Op::Linear { weight, bias }
                | Op::ConvTranspose2d { weight, bias, .. } => {
                    add("weight", weight);
                    if let Some(b) = bias {
                        add("bias", b);
                    }
                }
                Op::BatchNorm { scale, bias, mean, var, .. } => {
                    add("weight", scale);
                    add("bias", bias);
                    add("running_mean", mean);
                    add("running_var", var);
                }
                Op::PRelu { slope } => add("weight", slope),
                Op::LayerNorm { scale, bias, .. } => {
                    add("weight", scale);
                    if let Some(b) = bias {
                        add("bias", b);
                    }
                }
                Op::BinaryConst { value, .. } => add("constant", value),
                _ => {}
            }
        }
        v
    }

    /// Saves every parameter to a safetensors file (written atomically).
    pub fn save_safetensors(&self, gpu: &Gpu, path: &Path) -> Result<()> {
        let mut map = BTreeMap::new();
        for (name, t) in self.named_parameters() {
            map.insert(name, (t.dims().to_vec(), t.to_f32(gpu)?));
        }
        save_safetensors(path, &map)
    }

    /// Loads parameters by name from a safetensors file into the graph's own tensors (on the
    /// device, in place). Every parameter must be present with its shape; names the graph does
    /// not have are an error too, so a file for another network is not half-loaded silently.
    /// Returns how many tensors were loaded.
    pub fn load_safetensors(&self, gpu: &Gpu, path: &Path) -> Result<usize> {
        self.load_parameters(gpu, &load_safetensors(path)?, path)
    }

    /// [`Graph::load_safetensors`] from named tensors already read (see
    /// [`crate::io::parse_safetensors`]); `origin` names their file in errors.
    pub fn load_parameters(&self, gpu: &Gpu, file: &NamedTensors, origin: &Path) -> Result<usize> {
        let params = self.named_parameters();
        let err = |detail: String| Error::arg("safetensors", format!("{}: {detail}", origin.display()));
        if let Some(extra) = file.keys().find(|k| !params.iter().any(|(n, _)| n == *k)) {
            return Err(err(format!("tensor `{extra}` matches no parameter of this graph")));
        }
        for (name, t) in &params {
            let (shape, values) = file.get(name).ok_or_else(|| err(format!("parameter `{name}` is missing")))?;
            if shape.iter().product::<usize>() != t.numel() || (shape.as_slice() != t.dims() && !shape.is_empty()) {
                return Err(err(format!("`{name}` is {shape:?} in the file, {:?} in the graph", t.dims())));
            }
            gpu.queue().write_buffer(t.buffer(), 0, bytemuck::cast_slice(values));
            t.mark_written();
        }
        Ok(params.len())
    }
}

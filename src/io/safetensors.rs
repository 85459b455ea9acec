//! `.safetensors` files (the Hugging Face format: a JSON header, then little-endian tensors).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use ::safetensors::{Dtype, SafeTensors, View};

use super::{invalid_data, read_file, write_atomic};
use crate::{Error, Result};

/// Named tensors: `name -> (shape, values)`, values in C order, names sorted.
pub type NamedTensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Loads every floating-point tensor of a `.safetensors` file as `name -> (shape, values)`,
/// values in C order.
///
/// F32 tensors are read as they are; F16 and BF16 are widened to f32 (exactly), F64 is
/// narrowed to the nearest f32. Tensors of other dtypes (integers, booleans, 8-bit floats, such
/// as PyTorch's `num_batches_tracked` counters) are skipped; a model that needs one of them
/// reports it as missing by name. A malformed or truncated file is an error naming the file.
pub fn load_safetensors(path: &Path) -> Result<NamedTensors> {
    parse_safetensors(&read_file(path)?, path)
}

/// [`load_safetensors`] on the bytes of a file already in memory (an embedded model, say);
/// `path` only names it in errors.
pub fn parse_safetensors(bytes: &[u8], path: &Path) -> Result<NamedTensors> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| invalid_data(path, format!("not a valid .safetensors file: {e}")))?;
    let mut out = BTreeMap::new();
    for (name, view) in file.iter() {
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Dtype::F16 => data.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::BF16 => data.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
                .collect(),
            other => {
                log::debug!("{}: skipping tensor `{name}` of dtype {other:?}", path.display());
                continue;
            }
        };
        out.insert(name.to_string(), (view.shape().to_vec(), values));
    }
    Ok(out)
}

/// Saves named f32 tensors (`name -> (shape, values)`, values in C order) as a `.safetensors`
/// file, atomically: the file appears complete at `path` or not at all.
///
/// Each tensor's value count must equal the product of its shape.
pub fn save_safetensors(path: &Path, tensors: &NamedTensors) -> Result<()> {
    for (name, (shape, values)) in tensors {
        let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if count.and_then(|n| n.checked_mul(4)).is_none() || count != Some(values.len()) {
            return Err(Error::shape(
                "save_safetensors",
                format!("{}: tensor `{name}` has shape {shape:?} but {} values", path.display(), values.len()),
            ));
        }
    }
    let views = tensors.iter().map(|(name, (shape, values))| (name.as_str(), F32View { shape, values }));
    let bytes = ::safetensors::serialize(views, None)
        .map_err(|e| invalid_data(path, format!("could not serialise tensors: {e}")))?;
    write_atomic(path, &bytes)
}

/// Borrowed f32 values seen as a safetensors tensor.
struct F32View<'a> {
    shape: &'a [usize],
    values: &'a [f32],
}

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        if cfg!(target_endian = "little") {
            Cow::Borrowed(bytemuck::cast_slice(self.values))
        } else {
            Cow::Owned(self.values.iter().flat_map(|v| v.to_le_bytes()).collect())
        }
    }
    fn data_len(&self) -> usize {
        self.values.len() * 4
    }
}

//! Host-side input and output: images in, tensors in and out.
//!
//! - [`Preprocess`] decodes an image (PNG, JPEG, WebP, BMP) and turns it into the normalised
//!   `[3, H, W]` f32 values a torchvision-trained network expects. It reproduces
//!   `transforms.Compose([Resize(256), CenterCrop(224), ToTensor(), Normalize(mean, std)])` on a
//!   PIL image: the same antialiased bilinear filter, the same 8-bit rounding after each pass,
//!   the same output-size and crop-offset rounding. [`load_batch`] stacks several images into
//!   one NCHW batch.
//! - [`read_npy`] / [`write_npy`]: NumPy `.npy` files of float32 (float64 is read and
//!   narrowed).
//! - [`load_safetensors`] / [`parse_safetensors`] / [`save_safetensors`]: every floating-point tensor of a
//!   `.safetensors` file, widened or narrowed to f32.
//!
//! Every writer goes through [`write_atomic`]: the bytes land under a temporary name in the
//! destination folder, which is then renamed into place, so a reader never sees a half-written
//! file and a failed write leaves nothing behind. Every error names the file it is about.
//!
//! ```no_run
//! use featuremap::io::{read_npy, write_npy, Preprocess};
//! # fn main() -> featuremap::Result<()> {
//! let pre = Preprocess::default(); // Resize(256), CenterCrop(224), ImageNet mean and std
//! let (x, [h, w]) = pre.load("cat.jpg".as_ref())?;
//! assert_eq!((x.len(), h, w), (3 * 224 * 224, 224, 224));
//! write_npy("cat.npy".as_ref(), &[1, 3, h, w], &x)?;
//! let (shape, values) = read_npy("cat.npy".as_ref())?;
//! assert_eq!((shape, values), (vec![1, 3, 224, 224], x));
//! # Ok(()) }
//! ```

mod image;
mod npy;
mod safetensors;

pub use self::image::{load_batch, Preprocess};
pub use self::npy::{read_npy, write_npy};
pub use self::safetensors::{load_safetensors, parse_safetensors, save_safetensors, NamedTensors};

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Writes `bytes` to `path` atomically: first to a temporary file next to it (same folder, so
/// the rename cannot cross file systems), flushed to disk, then renamed over `path`.
///
/// On failure the temporary file is removed and `path` is left as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path)?;
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    written.map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        Error::Io { path: path.to_path_buf(), source }
    })
}

/// `dir/.name.<pid>-<n>.tmp` for `dir/name`: hidden, unique per process and call, in the
/// destination folder.
fn temp_path(path: &Path) -> Result<PathBuf> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path.file_name().ok_or_else(|| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}-{n}.tmp", std::process::id()));
    Ok(path.with_file_name(tmp_name))
}

/// An [`Error::Io`] of kind `InvalidData` for a file whose contents are wrong.
fn invalid_data(path: &Path, message: impl Into<String>) -> Error {
    Error::Io { path: path.to_path_buf(), source: std::io::Error::new(std::io::ErrorKind::InvalidData, message.into()) }
}

/// Reads a whole file, naming it in the error.
fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

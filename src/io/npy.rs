//! NumPy `.npy` files of floats.
//!
//! Writing goes through `npyz`. Reading parses the small header itself, so that a hostile or
//! corrupt header (a shape whose product overflows, a shape larger than the file) becomes an
//! [`Error`] before anything is allocated, never a panic or an abort.

use std::path::Path;

use npyz::WriterBuilder;

use super::{invalid_data, read_file, write_atomic};
use crate::{Error, Result};

/// Reads a `.npy` file of float32 as `(shape, values)`, values in C (row-major) order.
///
/// Also accepted and converted to f32: float64 and float16, either byte order, and
/// Fortran-ordered arrays (transposed to C order). Any other dtype (integers, structured
/// arrays, ...) is an error that names the file and the dtype found. A 0-d array has the shape
/// `[]` and one value.
pub fn read_npy(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let bytes = read_file(path)?;
    let header = parse_header(&bytes).map_err(|m| invalid_data(path, format!("not a valid .npy file: {m}")))?;
    let (size, big_endian) = match header.descr.as_bytes() {
        [e @ (b'<' | b'>' | b'|' | b'='), b'f', rest @ ..] if matches!(rest, b"2" | b"4" | b"8") => {
            (usize::from(rest[0] - b'0'), *e == b'>' || (*e == b'=' && cfg!(target_endian = "big")))
        }
        _ => {
            return Err(invalid_data(
                path,
                format!("dtype '{}' is not supported: expected float32 ('<f4'), float64 or float16", header.descr),
            ))
        }
    };
    let count = header
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|n| n.checked_mul(size).is_some())
        .ok_or_else(|| invalid_data(path, format!("shape {:?} is too large", header.shape)))?;
    let data = &bytes[header.data_offset..];
    if data.len() < count * size {
        return Err(invalid_data(
            path,
            format!(
                "truncated: shape {:?} of '{}' needs {} bytes of data, the file has {}",
                header.shape,
                header.descr,
                count * size,
                data.len()
            ),
        ));
    }
    let data = &data[..count * size];
    let values: Vec<f32> = match (size, big_endian) {
        (4, false) => data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(),
        (4, true) => data.chunks_exact(4).map(|b| f32::from_be_bytes(b.try_into().unwrap())).collect(),
        (8, false) => data.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
        (8, true) => data.chunks_exact(8).map(|b| f64::from_be_bytes(b.try_into().unwrap()) as f32).collect(),
        (_, false) => data.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        (_, true) => data.chunks_exact(2).map(|b| half::f16::from_be_bytes([b[0], b[1]]).to_f32()).collect(),
    };
    let values =
        if header.fortran_order && header.shape.len() > 1 { fortran_to_c(&header.shape, &values) } else { values };
    Ok((header.shape, values))
}

/// Writes `data` with the given `shape` as a little-endian float32 `.npy` file (C order),
/// atomically: the file appears complete at `path` or not at all.
///
/// `data.len()` must equal the product of `shape` (1 for the 0-d shape `[]`).
pub fn write_npy(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if count != Some(data.len()) {
        return Err(Error::shape(
            "write_npy",
            format!("{}: shape {shape:?} does not hold the {} values given", path.display(), data.len()),
        ));
    }
    let shape64: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut buf = Vec::with_capacity(128 + 4 * data.len());
    let encoded = (|| {
        let mut w = npyz::WriteOptions::<f32>::new()
            .dtype(npyz::DType::Plain("<f4".parse().expect("valid type string")))
            .shape(&shape64)
            .writer(&mut buf)
            .begin_nd()?;
        w.extend(data.iter().copied())?;
        w.finish()
    })();
    encoded.map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    write_atomic(path, &buf)
}

/// What the header of a `.npy` file says.
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
    /// Where the data starts in the file.
    data_offset: usize,
}

/// Parses the magic string, version, header length and the header's Python dict literal
/// (`{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`).
fn parse_header(bytes: &[u8]) -> std::result::Result<Header, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("missing the \\x93NUMPY magic string".into());
    }
    let (len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10usize),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(format!("unsupported format version {v}.{}", bytes[7])),
    };
    let end = start.checked_add(len).filter(|&e| e <= bytes.len()).ok_or("truncated header")?;
    let text = String::from_utf8_lossy(&bytes[start..end]);
    let value = |key: &str| -> std::result::Result<&str, String> {
        let at = ["'", "\""]
            .iter()
            .find_map(|q| text.find(&format!("{q}{key}{q}")).map(|i| i + key.len() + 2))
            .ok_or_else(|| format!("header has no '{key}'"))?;
        let rest = text[at..].trim_start();
        rest.strip_prefix(':').map(str::trim_start).ok_or_else(|| format!("header: no ':' after '{key}'"))
    };

    let descr = value("descr")?;
    let descr = match descr.chars().next() {
        Some(q @ ('\'' | '"')) => {
            let body = &descr[1..];
            body[..body.find(q).ok_or("header: unterminated 'descr' string")?].to_string()
        }
        _ => {
            let end = descr.find(['}', ']']).map_or(descr.len(), |i| i + 1);
            descr[..end].trim().to_string() // a structured dtype: reported as unsupported
        }
    };

    let fortran_order = match value("fortran_order")? {
        v if v.starts_with("True") => true,
        v if v.starts_with("False") => false,
        _ => return Err("header: 'fortran_order' is neither True nor False".into()),
    };

    let shape = value("shape")?;
    let body = shape.strip_prefix('(').ok_or("header: 'shape' is not a tuple")?;
    let body = &body[..body.find(')').ok_or("header: unterminated 'shape' tuple")?];
    let shape = body
        .split(',')
        .map(|d| d.trim().trim_end_matches('L'))
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<usize>().map_err(|_| format!("header: bad dimension '{d}' in 'shape'")))
        .collect::<std::result::Result<Vec<_>, _>>()?;

    Ok(Header { descr, fortran_order, shape, data_offset: end })
}

/// Reorders values stored in Fortran order (first index fastest) into C order.
fn fortran_to_c(shape: &[usize], values: &[f32]) -> Vec<f32> {
    // Fortran strides: 1, d0, d0*d1, ...
    let mut fstride = vec![1usize; shape.len()];
    for k in 1..shape.len() {
        fstride[k] = fstride[k - 1] * shape[k - 1];
    }
    let mut out = Vec::with_capacity(values.len());
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..values.len() {
        out.push(values[idx.iter().zip(&fstride).map(|(i, s)| i * s).sum::<usize>()]);
        // Advance the C-order multi-index (last index fastest).
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

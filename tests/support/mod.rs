//! Helpers shared by the fixture-driven test binaries (PyTorch parity, ONNX models, the CLI):
//! the adapter (required under CI), .npy fixtures, and the error measure.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

use featuremap::{Gpu, Tensor};
use serde_json::Value;

/// The adapter, or `None` (with a printed reason) where there is none and none is required.
/// With `CI=true` or `FEATUREMAP_REQUIRE_GPU=1` a missing adapter is a failure.
pub fn gpu() -> Option<Gpu> {
    let on = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    match Gpu::new() {
        Ok(g) => Some(g),
        Err(e) if on("CI") || on("FEATUREMAP_REQUIRE_GPU") => panic!("a GPU adapter is required here: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: no GPU adapter: {e}");
            None
        }
    }
}

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An array read from a .npy fixture: shape and f32 values, or u32 values for unsigned ints.
pub struct Npy {
    pub shape: Vec<usize>,
    pub f32: Vec<f32>,
    pub u32: Vec<u32>,
}

/// Reads a .npy file (float32, or unsigned integers such as argmax indices).
pub fn npy(path: &Path) -> Npy {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape: Vec<usize> = file.shape().iter().map(|&d| d as usize).collect();
    match file.dtype() {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Uint => {
            Npy { shape, f32: vec![], u32: file.into_vec::<u32>().unwrap() }
        }
        _ => Npy { shape, f32: file.into_vec::<f32>().unwrap(), u32: vec![] },
    }
}

/// A folder of `CASE.KEY.npy` fixtures with a manifest.json.
pub struct Fixtures(pub PathBuf);

impl Fixtures {
    pub fn load(&self, case: &str, key: &str) -> Npy {
        npy(&self.0.join(format!("{case}.{key}.npy")))
    }
    pub fn has(&self, case: &str, key: &str) -> bool {
        self.0.join(format!("{case}.{key}.npy")).exists()
    }
    pub fn upload(&self, gpu: &Gpu, case: &str, key: &str) -> Tensor {
        let a = self.load(case, key);
        Tensor::from_f32(gpu, a.shape, &a.f32).unwrap()
    }
    pub fn manifest(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.0.join("manifest.json")).unwrap()).unwrap()
    }
}

/// Relative L2 error ||got - want|| / ||want||.
pub fn rel_l2(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len(), "length mismatch");
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (&g, &w) in got.iter().zip(want) {
        num += (g as f64 - w as f64).powi(2);
        den += (w as f64).powi(2);
    }
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

/// JSON attribute readers.
pub fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}
pub fn pair(v: &Value) -> [usize; 2] {
    let u = usizes(v);
    [u[0], u[1]]
}
pub fn quad(v: &Value) -> [usize; 4] {
    let u = usizes(v);
    [u[0], u[1], u[2], u[3]]
}
pub fn f(v: &Value) -> f32 {
    v.as_f64().unwrap() as f32
}
pub fn u(v: &Value) -> usize {
    v.as_u64().unwrap() as usize
}

//! Importing models: ONNX graphs into [`Graph`](crate::graph::Graph)s.

mod consts;
mod onnx;
#[allow(missing_docs, clippy::all)]
mod onnx_proto;

pub use self::onnx::{load_onnx, load_onnx_bytes, OnnxModel};

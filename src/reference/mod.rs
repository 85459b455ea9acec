//! CPU reference of every op, in f64: the oracle the GPU kernels are tested against.
//!
//! These are written for clarity, not speed: direct loops that follow each op's definition
//! (PyTorch's and ONNX's semantics), so that a reader can check them by eye.

mod activation;
mod batch_norm;
mod binary;
mod cam;
mod concat;
mod conv2d;
mod conv_transpose;
mod gemm;
mod graph;
mod layer_norm;
mod lrn;
mod pad;
mod pool;
mod prelu;
mod reduce;
mod resize;
mod resize_nearest;
mod slice;
mod softmax;
mod train;
mod transpose;

pub use activation::*;
pub use batch_norm::*;
pub use binary::*;
pub use cam::*;
pub use concat::*;
pub use conv2d::*;
pub use conv_transpose::*;
pub use gemm::*;
pub use graph::*;
pub use layer_norm::*;
pub use lrn::*;
pub use pad::*;
pub use pool::*;
pub use prelu::*;
pub use reduce::*;
pub use resize::*;
pub use resize_nearest::*;
pub use slice::*;
pub use softmax::*;
pub use train::*;
pub use transpose::*;

/// A host array in f64 with a shape (row-major, outermost dimension first).
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f64>,
}

impl Array {
    /// Creates an array; panics if the data length does not match the shape (a test bug).
    pub fn new(shape: impl Into<Vec<usize>>, data: Vec<f64>) -> Array {
        let shape = shape.into();
        assert_eq!(shape.iter().product::<usize>(), data.len(), "reference array shape {shape:?}");
        Array { shape, data }
    }
    /// Widens f32 values.
    pub fn from_f32(shape: impl Into<Vec<usize>>, data: &[f32]) -> Array {
        Array::new(shape, data.iter().map(|&x| x as f64).collect())
    }
    /// A zero array.
    pub fn zeros(shape: impl Into<Vec<usize>>) -> Array {
        let shape = shape.into();
        let n = shape.iter().product();
        Array { shape, data: vec![0.0; n] }
    }
    /// Element count.
    pub fn numel(&self) -> usize {
        self.data.len()
    }
    /// The four dimensions of an NCHW array; panics otherwise (a test bug).
    pub fn nchw(&self) -> [usize; 4] {
        match self.shape[..] {
            [n, c, h, w] => [n, c, h, w],
            _ => panic!("expected NCHW, got {:?}", self.shape),
        }
    }
}

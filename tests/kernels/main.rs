//! Every forward kernel against the f64 CPU reference, on seeded random shapes and edge cases.
//! Runs on whatever adapter is present (lavapipe on the CI machines).

mod common;

mod activation;
mod backward_activation;
mod backward_misc;
mod backward_pool;
mod batch_norm;
mod binary;
mod caches;
mod cam;
mod concat;
mod conv2d;
mod conv2d_backward;
mod conv_transpose;
mod erf;
mod gemm;
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
mod storage;
mod tensor;
mod train;
mod transpose;

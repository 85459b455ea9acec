//! The host graph: building with shape inference, forward passes with taps and the memory
//! plan, embeddings, and backward passes, all against the f64 reference.

#[path = "../kernels/common.rs"]
#[allow(dead_code)] // shared with the kernel tests; not every helper is used here
mod common;
mod models;

mod backward;
mod build;
mod cam;
mod forward;
mod storage;
mod train;

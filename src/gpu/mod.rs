//! The GPU side of the engine: device context, pipeline cache, buffer pool, command recording
//! and readback.

mod context;
mod pipeline;
mod pool;
mod readback;
mod recorder;

pub use context::{AdapterSummary, Gpu, GpuOptions};
pub use pipeline::PipelineKey;
pub use pool::{BufferPool, PoolStats, PooledBuffer};
pub use recorder::{grid_1d, Recorder};

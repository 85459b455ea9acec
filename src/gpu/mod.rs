//! The GPU side of the engine: device context, pipeline cache, buffer pool, command recording
//! readback, and per-shape kernel autotuning.

mod autotune;
mod bind_cache;
mod context;
mod derived;
mod pipeline;
mod pool;
mod readback;
mod recorder;

pub use autotune::{autotune_enabled, autotune_file};
pub use bind_cache::BindStats;
pub use context::{AdapterSummary, Gpu, GpuOptions};
pub use derived::DerivedStats;
pub use pipeline::PipelineKey;
pub use pool::{BufferPool, PoolStats, PooledBuffer};
pub use recorder::{grid_1d, Recorder};

/// The wgpu feature that per-dispatch timestamps need ([`Recorder::with_timestamps`]).
pub const TIMESTAMP_QUERY: wgpu::Features = wgpu::Features::TIMESTAMP_QUERY;

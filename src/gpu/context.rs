//! Adapter selection and the [`Gpu`] handle that owns (or borrows) a device.

use std::sync::{Arc, Mutex};

use super::bind_cache::BindStats;
use super::derived::DerivedStats;
use super::pipeline::PipelineCache;
use super::pool::BufferPool;
use crate::{Error, Result};

/// Optional device features the engine turns on when the adapter has them.
const WANTED_FEATURES: wgpu::Features =
    wgpu::Features::SHADER_F16.union(wgpu::Features::TIMESTAMP_QUERY).union(wgpu::Features::SUBGROUP);

/// How to pick an adapter.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Use the first adapter whose name contains this text (case-insensitive).
    /// When `None`, the `FEATUREMAP_ADAPTER` and then `WGPU_ADAPTER_NAME` environment variables
    /// are consulted, and otherwise the fastest-looking adapter is chosen.
    pub adapter_name: Option<String>,
}

/// What an adapter is, for display (`featuremap info`) and for error messages.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    /// Adapter name as the driver reports it.
    pub name: String,
    /// Backend (Vulkan, Metal, Dx12, Gl).
    pub backend: String,
    /// Device type (discrete, integrated, cpu, ...).
    pub device_type: String,
    /// Driver name.
    pub driver: String,
    /// Driver version or other driver information.
    pub driver_info: String,
    /// Invocations per subgroup, where the adapter has one size for every subgroup (`None`
    /// where it varies between pipelines).
    pub subgroup_size: Option<u32>,
}

impl AdapterSummary {
    fn from_info(info: &wgpu::AdapterInfo) -> Self {
        AdapterSummary {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: info.driver.clone(),
            driver_info: info.driver_info.clone(),
            subgroup_size: (info.subgroup_min_size == info.subgroup_max_size).then_some(info.subgroup_min_size),
        }
    }
}

/// A handle to one GPU device and its queue, plus the engine's caches for it.
///
/// Cheap to clone: clones share the device, the pipeline cache and the buffer pool.
#[derive(Clone)]
pub struct Gpu {
    pub(crate) inner: Arc<GpuInner>,
}

pub(crate) struct GpuInner {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) adapter: AdapterSummary,
    pub(crate) pipelines: PipelineCache,
    pub(crate) pool: BufferPool,
    /// Kernel variants chosen per shape (see [`super::autotune`]).
    pub(crate) autotune: super::autotune::AutotuneCache,
    /// Values derived from tensors, such as packed convolution weights (see [`super::derived`]).
    pub(crate) derived: super::derived::DerivedCache,
    /// Bind groups and their uniform buffers, reused by repeated dispatches (see
    /// [`super::bind_cache`]).
    pub(crate) bind_groups: super::bind_cache::BindCache,
    /// Errors the device reported outside an error scope; drained by [`Gpu::check_errors`].
    /// Only used when this crate created the device (an app's own device keeps its handler).
    pub(crate) uncaptured: Arc<Mutex<Vec<String>>>,
}

/// Rank for "fastest-looking first": discrete GPUs, then integrated, virtual, other, software.
fn device_type_rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// Native compute backends first; GL has weaker compute support.
fn backend_rank(b: wgpu::Backend) -> u8 {
    match b {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    }
}

fn requested_name(opts: &GpuOptions) -> Option<String> {
    opts.adapter_name
        .clone()
        .or_else(|| std::env::var("FEATUREMAP_ADAPTER").ok())
        .or_else(|| std::env::var("WGPU_ADAPTER_NAME").ok())
        .filter(|s| !s.trim().is_empty())
}

impl Gpu {
    /// Picks an adapter and creates a device on it (blocking). See [`Gpu::new_async`].
    pub fn new() -> Result<Gpu> {
        pollster::block_on(Self::new_async(GpuOptions::default()))
    }

    /// Like [`Gpu::new`], with options.
    pub fn with_options(opts: GpuOptions) -> Result<Gpu> {
        pollster::block_on(Self::new_async(opts))
    }

    /// Picks an adapter (a named one if asked, else discrete before integrated before software),
    /// and requests a device with the adapter's own limits and the optional features
    /// `SHADER_F16`, `TIMESTAMP_QUERY` and `SUBGROUP` where present.
    pub async fn new_async(opts: GpuOptions) -> Result<Gpu> {
        // Native compute backends first; GL only where none is present (probing GL is slow and
        // noisy). WGPU_BACKEND, when set, decides instead.
        let mut adapters = Vec::new();
        let tiers: &[wgpu::Backends] = if std::env::var_os("WGPU_BACKEND").is_some() {
            &[wgpu::Backends::all()]
        } else {
            &[wgpu::Backends::PRIMARY, wgpu::Backends::SECONDARY]
        };
        for &backends in tiers {
            let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
            let desc = if std::env::var_os("WGPU_BACKEND").is_some() {
                desc
            } else {
                wgpu::InstanceDescriptor { backends, ..desc }
            };
            let instance = wgpu::Instance::new(desc);
            adapters = instance.enumerate_adapters(wgpu::Backends::all()).await;
            if !adapters.is_empty() {
                break;
            }
        }
        let seen: Vec<String> = adapters
            .iter()
            .map(|a| {
                let i = a.get_info();
                format!("{} ({:?})", i.name, i.backend)
            })
            .collect();
        let adapter = if let Some(want) = requested_name(&opts) {
            let want_lc = want.to_lowercase();
            let pos = adapters.iter().position(|a| a.get_info().name.to_lowercase().contains(&want_lc));
            match pos {
                Some(p) => adapters.swap_remove(p),
                None => {
                    return Err(Error::NoAdapter {
                        detail: format!(" matching `{want}` (adapters present: {})", list_or_none(&seen)),
                    })
                }
            }
        } else {
            adapters.sort_by_key(|a| {
                let i = a.get_info();
                (device_type_rank(i.device_type), backend_rank(i.backend))
            });
            if adapters.is_empty() {
                return Err(Error::NoAdapter { detail: String::new() });
            }
            adapters.remove(0)
        };
        Self::from_adapter(&adapter).await
    }

    /// Creates a device on a given adapter, as [`Gpu::new_async`] does.
    pub async fn from_adapter(adapter: &wgpu::Adapter) -> Result<Gpu> {
        let info = adapter.get_info();
        let features = adapter.features() & WANTED_FEATURES;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("featuremap"),
                required_features: features,
                required_limits: adapter.limits(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|source| Error::RequestDevice { adapter: info.name.clone(), source })?;
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        Ok(Self::build(device, queue, AdapterSummary::from_info(&info), uncaptured))
    }

    /// Uses a device that an application already owns. The engine adds its pipelines and
    /// buffers to that device and leaves its error handler alone.
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue) -> Gpu {
        let info = device.adapter_info();
        Self::build(device, queue, AdapterSummary::from_info(&info), Arc::new(Mutex::new(Vec::new())))
    }

    fn build(
        device: wgpu::Device,
        queue: wgpu::Queue,
        adapter: AdapterSummary,
        uncaptured: Arc<Mutex<Vec<String>>>,
    ) -> Gpu {
        Gpu {
            inner: Arc::new(GpuInner {
                pool: BufferPool::new(device.clone()),
                pipelines: PipelineCache::default(),
                autotune: Default::default(),
                derived: Default::default(),
                bind_groups: Default::default(),
                device,
                queue,
                adapter,
                uncaptured,
            }),
        }
    }

    /// The device.
    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    /// The queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }

    /// What adapter the device runs on.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.inner.adapter
    }

    /// Whether the adapter is a CPU one (lavapipe, llvmpipe, SwiftShader): there loads cost
    /// a loop over SIMD lanes and workgroup memory buys nothing, which picks other kernels.
    pub fn is_cpu(&self) -> bool {
        self.inner.adapter.device_type == "Cpu"
    }

    /// Invocations per subgroup where the device has subgroup operations (`SUBGROUP`) and the
    /// adapter one subgroup size (8 on lavapipe at 256 bits); kernels written for that many
    /// lanes per subgroup check it.
    pub fn subgroup_size(&self) -> Option<u32> {
        self.features().contains(wgpu::Features::SUBGROUP).then_some(self.inner.adapter.subgroup_size).flatten()
    }

    /// The device's limits.
    pub fn limits(&self) -> wgpu::Limits {
        self.inner.device.limits()
    }

    /// The optional features the device has enabled.
    pub fn features(&self) -> wgpu::Features {
        self.inner.device.features()
    }

    /// The buffer pool that tensors are allocated from.
    pub fn pool(&self) -> &BufferPool {
        &self.inner.pool
    }

    /// Counters of the cache of values derived from tensors (packed convolution weights, f16
    /// copies of them in f16 storage): a forward pass over unchanged weights makes none again.
    pub fn derived_stats(&self) -> DerivedStats {
        self.inner.derived.stats()
    }

    /// Lets go of every derived value (packed convolution weights, f16 copies), handing their
    /// buffers back to the pool ([`Gpu::trim`] frees them); later passes derive what they need
    /// again.
    pub fn clear_derived(&self) {
        self.inner.derived.clear();
    }

    /// Counters of the bind-group cache: a dispatch that binds the same pipeline, parameters
    /// and buffers as an earlier one reuses its bind group and uniform buffer.
    pub fn bind_stats(&self) -> BindStats {
        self.inner.bind_groups.stats()
    }

    /// Frees what the engine holds for reuse: the pool's free buffers, cached bind groups (which
    /// keep their buffers alive) and derived values. Live tensors are untouched; later passes
    /// build again what they need.
    pub fn trim(&self) {
        self.inner.bind_groups.clear();
        self.inner.derived.clear();
        self.inner.pool.trim();
    }

    /// Number of compute pipelines compiled so far (each distinct shader, entry point and set of
    /// override constants compiles once).
    pub fn pipeline_count(&self) -> usize {
        self.inner.pipelines.len()
    }

    /// Waits until all submitted work has finished, then reports any error the device raised
    /// since the last check.
    pub fn synchronize(&self) -> Result<()> {
        self.inner
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu { op: "synchronize".into(), message: e.to_string() })?;
        self.check_errors("synchronize")
    }

    /// Returns the first device error raised since the last check, if any.
    pub fn check_errors(&self, op: &str) -> Result<()> {
        let mut v = self.inner.uncaptured.lock().unwrap_or_else(|p| p.into_inner());
        if v.is_empty() {
            return Ok(());
        }
        let message = v.join("; ");
        v.clear();
        Err(Error::Gpu { op: op.to_string(), message })
    }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu").field("adapter", &self.inner.adapter).finish()
    }
}

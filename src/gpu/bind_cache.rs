//! Bind groups (with their uniform parameter buffers) built once and reused.
//!
//! A dispatch binds a pipeline's parameter block and a list of buffers. Repeated passes over
//! the same graph and batch bind the same pipelines, parameters and (the buffer pool hands out
//! its oldest free buffer first) the same buffers in the same places, so the bind groups and
//! uniform buffers of the first pass serve every later one: no `create_buffer_init` or
//! `create_bind_group` per dispatch once a pass has run. A bind group names buffers, not their contents, so a cached
//! one is right whatever the buffers hold now.
//!
//! Entries keep their buffers alive (a bind group holds them), which costs nothing while the
//! buffers sit in the pool anyway; [`crate::Gpu::trim`] lets them all go, and the cache empties
//! itself when it reaches [`CAPACITY`] entries, so passes of ever new shapes do not grow it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Entries held at most; past it the cache starts again empty (a ResNet-50 forward and
/// backward bind a few hundred).
pub(crate) const CAPACITY: usize = 4096;

/// What a bind group binds: the pipeline (whose layout it follows), the parameter bytes and
/// the storage buffers in binding order.
#[derive(PartialEq, Eq, Hash)]
struct BindKey {
    pipeline: wgpu::ComputePipeline,
    params: Vec<u8>,
    buffers: Vec<wgpu::Buffer>,
}

/// Counters of the cache ([`crate::Gpu::bind_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BindStats {
    /// Dispatches that reused a bind group.
    pub hits: u64,
    /// Dispatches that built one.
    pub misses: u64,
    /// Bind groups held now.
    pub entries: usize,
}

#[derive(Default)]
pub(crate) struct BindCache {
    entries: Mutex<HashMap<BindKey, wgpu::BindGroup>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl BindCache {
    /// The bind group of `pipeline` over `params` (binding 0, a uniform buffer) and `buffers`
    /// (bindings 1, 2, ...), built on first use.
    pub(crate) fn get(
        &self,
        device: &wgpu::Device,
        pipeline: &wgpu::ComputePipeline,
        label: &str,
        params: &[u8],
        buffers: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        let key = BindKey {
            pipeline: pipeline.clone(),
            params: params.to_vec(),
            buffers: buffers.iter().map(|&b| b.clone()).collect(),
        };
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(group) = entries.get(&key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return group.clone();
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let group = build(device, pipeline, label, params, buffers);
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, group.clone());
        group
    }

    /// Drops every entry (and with them the buffers only they still held).
    pub(crate) fn clear(&self) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub(crate) fn stats(&self) -> BindStats {
        BindStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.entries.lock().unwrap_or_else(|p| p.into_inner()).len(),
        }
    }
}

/// A new bind group: `params` in a uniform buffer of its own at binding 0, then `buffers`.
fn build(
    device: &wgpu::Device,
    pipeline: &wgpu::ComputePipeline,
    label: &str,
    params: &[u8],
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    use wgpu::util::DeviceExt;
    let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: params,
        usage: wgpu::BufferUsages::UNIFORM,
    });
    let mut entries = Vec::with_capacity(buffers.len() + 1);
    entries.push(wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() });
    for (i, b) in buffers.iter().enumerate() {
        entries.push(wgpu::BindGroupEntry { binding: i as u32 + 1, resource: b.as_entire_binding() });
    }
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    })
}

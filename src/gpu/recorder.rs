//! Recording kernel dispatches into one command encoder, submitted once.

use std::collections::HashMap;
use std::sync::Arc;

use super::derived::{Derived, DerivedKey};
use super::{Gpu, PooledBuffer};
use crate::shaders::Shader;
use crate::{DType, Error, Result, Shape, Tensor};

/// Records dispatches into one command encoder; [`Recorder::submit`] sends them all at once.
///
/// Every op in [`crate::ops`] takes a `&mut Recorder`, so a whole forward pass is one submit.
/// Buffers are bound in order: binding 0 is the op's uniform parameter block, bindings 1.. are
/// the storage buffers of the tensors in the order given.
///
/// The recorder holds a clone of every tensor it binds until it is submitted. Without that, a
/// tensor dropped after being recorded would return its buffer to the pool, and an upload into
/// the reused buffer (`queue.write_buffer` runs at the start of the next submit) would overwrite
/// it before the recorded kernel had read it.
///
/// Within one recording, [`Recorder::recycle`] hands a tensor's buffer to later outputs of this
/// recording only (kernel writes are ordered after the reads already recorded; uploads, which are
/// not, never see it). This is how a memory plan reuses intermediates inside one pass.
pub struct Recorder {
    gpu: Gpu,
    encoder: Option<wgpu::CommandEncoder>,
    dispatches: usize,
    keep_alive: Vec<Tensor>,
    /// Buffers recycled in this recording, by capacity, for [`Recorder::alloc`].
    recycled: Vec<Arc<PooledBuffer>>,
    /// Per-dispatch GPU timestamps, when asked for ([`Recorder::with_timestamps`]).
    timing: Option<Timing>,
    /// Values derived in this recording ([`Recorder::derived`]), shared with other recordings
    /// once it is submitted.
    derived: Vec<(DerivedKey, Derived)>,
    /// Buffers this recording writes, with how many writes: pending until it is submitted or
    /// dropped ([`PooledBuffer::pending_writes`]).
    written: HashMap<u64, (Arc<PooledBuffer>, u64)>,
}

/// Timestamp queries around every dispatch, attributed to named scopes.
struct Timing {
    set: wgpu::QuerySet,
    /// Query pairs available.
    capacity: u32,
    /// Per dispatch recorded: its scope (index into `scopes`).
    dispatches: Vec<usize>,
    scopes: Vec<String>,
    current: usize,
    /// Whether each dispatch is its own kernel's scope ([`Recorder::scope_by_entry`]).
    by_entry: bool,
}

impl Timing {
    /// The index of scope `name`, added if new.
    fn scope(&mut self, name: &str) -> usize {
        match self.scopes.iter().position(|s| s == name) {
            Some(i) => i,
            None => {
                self.scopes.push(name.to_string());
                self.scopes.len() - 1
            }
        }
    }
}

/// Workgroup counts for `n` invocations in groups of `wg`, folded into x and y so that no
/// dimension exceeds the limit of 65535. Kernels rebuild the linear index from
/// `global_invocation_id` and `num_workgroups`.
pub fn grid_1d(n: u64, wg: u32) -> [u32; 3] {
    const MAX: u64 = 65535;
    let groups = n.div_ceil(wg as u64).max(1);
    if groups <= MAX {
        [groups as u32, 1, 1]
    } else {
        [MAX as u32, groups.div_ceil(MAX) as u32, 1]
    }
}

impl Recorder {
    /// Starts recording on `gpu`.
    pub fn new(gpu: &Gpu) -> Recorder {
        let encoder =
            gpu.device().create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("featuremap pass") });
        Recorder {
            gpu: gpu.clone(),
            encoder: Some(encoder),
            dispatches: 0,
            keep_alive: Vec::new(),
            recycled: Vec::new(),
            timing: None,
            derived: Vec::new(),
            written: HashMap::new(),
        }
    }

    /// Starts recording with a GPU timestamp before and after each of the first
    /// `max_dispatches` dispatches, for per-scope timings ([`Recorder::set_scope`],
    /// [`Recorder::submit_timed`]). Needs the adapter's `TIMESTAMP_QUERY` feature.
    pub fn with_timestamps(gpu: &Gpu, max_dispatches: u32) -> Result<Recorder> {
        if !gpu.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
            return Err(Error::arg("timestamps", "this adapter has no TIMESTAMP_QUERY feature"));
        }
        let capacity = max_dispatches.clamp(1, 2048);
        let set = gpu.device().create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("featuremap timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * capacity,
        });
        let mut rec = Recorder::new(gpu);
        rec.timing = Some(Timing {
            set,
            capacity,
            dispatches: Vec::new(),
            scopes: vec!["(unscoped)".into()],
            current: 0,
            by_entry: false,
        });
        Ok(rec)
    }

    /// Attributes the dispatches recorded from now on to `name` (a graph node, say) in
    /// [`Recorder::submit_timed`]'s report. Does nothing without timestamps or after
    /// [`Recorder::scope_by_entry`].
    pub fn set_scope(&mut self, name: &str) {
        if let Some(t) = self.timing.as_mut().filter(|t| !t.by_entry) {
            t.current = t.scope(name);
        }
    }

    /// Attributes each dispatch recorded from now on to its kernel's entry point instead of the
    /// current scope: how an op's time splits over the kernels it runs (packing, the conv, a
    /// reduction). Does nothing without timestamps.
    pub fn scope_by_entry(&mut self) {
        if let Some(t) = &mut self.timing {
            t.by_entry = true;
        }
    }

    /// The GPU this recorder records for.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// Number of dispatches recorded so far.
    pub fn dispatches(&self) -> usize {
        self.dispatches
    }

    /// The encoder, for commands this type does not wrap (copies, timestamps).
    pub fn encoder(&mut self) -> &mut wgpu::CommandEncoder {
        self.encoder.as_mut().expect("encoder present until submit")
    }

    /// Allocates an output tensor for a kernel of this recording (contents undefined): a
    /// buffer recycled earlier in this recording if one is big enough, else one from the pool.
    pub fn alloc(&mut self, shape: impl Into<Shape>, dtype: DType) -> Result<Tensor> {
        let shape = shape.into();
        let bytes = Tensor::check_size(&self.gpu, &shape, dtype)?;
        // Smallest recycled buffer that fits, and not more than twice the need.
        let best = self
            .recycled
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= bytes && b.capacity() <= bytes.max(256) * 2)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        match best {
            Some(i) => Ok(Tensor::from_pooled(self.recycled.swap_remove(i), shape, dtype)),
            None => Tensor::empty(&self.gpu, shape, dtype),
        }
    }

    /// Declares that no command recorded after this point reads `t`, so later outputs of this
    /// recording may overwrite its buffer. The caller must not read `t` (or any clone or
    /// reshape of it) afterwards; the graph's memory plan uses this for intermediates it owns.
    pub fn recycle(&mut self, t: Tensor) {
        self.recycled.push(t.pooled().clone());
    }

    /// `kind` derived from `source` with `params` (a packed copy of a convolution's weights,
    /// say): the value made earlier, by this recording or by a submitted one, while `source`
    /// has not been written since; otherwise what `make` records, kept for later uses. `params`
    /// holds everything besides `source`'s contents that the value depends on. The value is
    /// shared: callers must not write it or [`Recorder::recycle`] it.
    pub(crate) fn derived(
        &mut self,
        source: &Tensor,
        kind: &'static str,
        params: &[u8],
        make: impl FnOnce(&mut Recorder) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let key = DerivedKey::new(source, kind, params);
        let gpu = self.gpu.clone();
        let cache = &gpu.inner.derived;
        // A write to the source recorded by another open recording may run before or after
        // this one: what the source holds here is unknown, so nothing is cached or reused.
        let own = self.written.get(&source.pooled().id()).map_or(0, |w| w.1);
        let settled = source.pooled().pending_writes() <= own;
        let found = match self.derived.iter().find(|(k, d)| *k == key && d.is_current()) {
            Some((_, d)) => Some(d.value.clone()),
            None if settled => cache.get(&key),
            None => None,
        };
        cache.count(found.is_some());
        if let Some(v) = found {
            return Ok(v);
        }
        // Buffers recycled earlier in this recording are sized for intermediates (up to twice
        // what they hold): a value kept for later passes gets a buffer of its own.
        let recycled = std::mem::take(&mut self.recycled);
        let value = make(self);
        self.recycled = recycled;
        let value = value?;
        if settled {
            self.derived.retain(|(k, _)| *k != key);
            self.derived.push((key, Derived::new(source, value.clone())));
        }
        Ok(value)
    }

    /// Records one dispatch of `entry` in `shader` with the given override constants,
    /// uniform parameters and tensors (bound as storage buffers 1, 2, ...). Tensors bound where
    /// the entry point writes (naga's analysis) count as written: their generation moves on.
    pub fn dispatch<P: bytemuck::Pod>(
        &mut self,
        shader: &Shader,
        entry: &'static str,
        overrides: &[(&'static str, f64)],
        params: &P,
        tensors: &[&Tensor],
        groups: [u32; 3],
    ) -> Result<()> {
        let limit = self.gpu.inner.device.limits().max_compute_workgroups_per_dimension;
        if let Some(&g) = groups.iter().find(|&&g| g > limit) {
            return Err(Error::DispatchTooLarge { op: entry, groups: g as u64, limit });
        }
        if groups.contains(&0) {
            return Ok(()); // empty tensor: nothing to do
        }
        let device = &self.gpu.inner.device;
        let kernel = self.gpu.inner.pipelines.get(device, shader, entry, overrides);
        let pipeline = &kernel.pipeline;
        for (i, t) in tensors.iter().enumerate() {
            if kernel.writes & (1u64 << (i + 1).min(63)) != 0 {
                let b = t.pooled();
                b.mark_written();
                b.add_pending();
                self.written.entry(b.id()).or_insert_with(|| (b.clone(), 0)).1 += 1;
            }
        }
        let buffers: Vec<&wgpu::Buffer> = tensors.iter().map(|t| t.buffer()).collect();
        let bind_group = self.gpu.inner.bind_groups.get(device, pipeline, entry, bytemuck::bytes_of(params), &buffers);
        self.keep_alive.extend(tensors.iter().map(|&t| t.clone()));
        let encoder = self.encoder.as_mut().expect("encoder present until submit");
        let timestamp_writes = self.timing.as_mut().and_then(|t| {
            if t.by_entry {
                t.current = t.scope(entry);
            }
            let i = t.dispatches.len() as u32;
            (i < t.capacity).then(|| {
                t.dispatches.push(t.current);
                wgpu::ComputePassTimestampWrites {
                    query_set: &t.set,
                    beginning_of_pass_write_index: Some(2 * i),
                    end_of_pass_write_index: Some(2 * i + 1),
                }
            })
        });
        let mut pass =
            encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(entry), timestamp_writes });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        drop(pass);
        self.dispatches += 1;
        Ok(())
    }

    /// Submits like [`Recorder::submit`], waits for the GPU, and returns the GPU time of each
    /// scope in milliseconds (the sum over its dispatches, end minus beginning of each compute
    /// pass), in the order the scopes were first set. Only the first `max_dispatches` of
    /// [`Recorder::with_timestamps`] are timed; without timestamps, an empty list.
    pub fn submit_timed(mut self) -> Result<Vec<(String, f64)>> {
        let Some(t) = self.timing.take() else {
            self.submit();
            return Ok(Vec::new());
        };
        let gpu = self.gpu.clone();
        let n = t.dispatches.len() as u32;
        let bytes = 16 * n as u64;
        let resolved = (n > 0).then(|| {
            let buf = gpu.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("featuremap timestamps"),
                size: bytes,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            self.encoder().resolve_query_set(&t.set, 0..2 * n, &buf, 0);
            buf
        });
        self.submit();
        let mut ms = vec![0.0f64; t.scopes.len()];
        if let Some(buf) = resolved {
            let raw = gpu.read_bytes(&buf, bytes)?;
            let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&raw);
            let period_ns = gpu.queue().get_timestamp_period() as f64;
            for (d, &scope) in t.dispatches.iter().enumerate() {
                let dt = ticks[2 * d + 1].saturating_sub(ticks[2 * d]);
                ms[scope] += dt as f64 * period_ns * 1e-6;
            }
        }
        Ok(t.scopes.into_iter().zip(ms).filter(|(name, v)| *v > 0.0 || name != "(unscoped)").collect())
    }

    /// Finishes the encoder and submits it to the queue.
    pub fn submit(mut self) -> wgpu::SubmissionIndex {
        let enc = self.encoder.take().expect("encoder present until submit");
        let index = self.gpu.queue().submit([enc.finish()]);
        // Later submissions are ordered after this one, so the buffers may be reused now, and
        // what it derived may be used by them.
        self.keep_alive.clear();
        self.recycled.clear();
        self.gpu.inner.derived.commit(std::mem::take(&mut self.derived));
        index
    }
}

impl Drop for Recorder {
    /// Submitted or dropped, this recording's writes are no longer pending: later submissions
    /// run after them, or they never run.
    fn drop(&mut self) {
        for (b, n) in self.written.values() {
            b.settle_pending(*n);
        }
    }
}

impl Gpu {
    /// Records with `f` into one encoder and submits it, returning what `f` returned.
    /// The work runs asynchronously; reading a result back waits for it.
    pub fn run<T>(&self, f: impl FnOnce(&mut Recorder) -> Result<T>) -> Result<T> {
        let mut rec = Recorder::new(self);
        let out = f(&mut rec)?;
        rec.submit();
        Ok(out)
    }
}

//! A pool of storage buffers, reused by size class so that repeated passes allocate nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Usage of every pooled buffer: kernels read and write it, uploads copy in, readback copies out.
const USAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_SRC).union(wgpu::BufferUsages::COPY_DST);

/// Smallest size class in bytes.
const MIN_CLASS: u64 = 256;

/// Rounds a byte size up to its size class: powers of two split into quarter steps, so a
/// reused buffer wastes at most 25% of its size.
pub(crate) fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(MIN_CLASS);
    let p = b.next_power_of_two();
    if p <= MIN_CLASS {
        return p;
    }
    let quarter = p / 8; // steps of p/8 between p/2 and p are quarters of the lower power
    (b.div_ceil(quarter)) * quarter
}

/// Buffer pool statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers created since the pool was made.
    pub created: u64,
    /// Allocations served from a free buffer.
    pub reused: u64,
    /// Bytes held in free buffers right now.
    pub free_bytes: u64,
    /// Bytes in buffers handed out right now.
    pub live_bytes: u64,
    /// Most bytes handed out at once since the pool was made or [`BufferPool::reset_peak`].
    pub peak_live_bytes: u64,
}

pub(crate) struct PoolInner {
    device: wgpu::Device,
    state: Mutex<PoolState>,
}

#[derive(Default)]
struct PoolState {
    /// Free buffers per size class, by creation number: the oldest is handed out first, so a
    /// pass that allocates and frees as the pass before it did gets the same buffers in the
    /// same places (and reuses that pass's bind groups), whatever order they were freed in.
    free: HashMap<u64, BTreeMap<u64, wgpu::Buffer>>,
    /// Buffers created so far: the next one's creation number.
    next_seq: u64,
    stats: PoolStats,
}

/// Reuses storage buffers by size class. A [`PooledBuffer`] goes back to its pool when dropped.
///
/// Reuse is safe because all work goes through one queue in recording order: a buffer freed
/// after its last reader was recorded can be written by a later command.
#[derive(Clone)]
pub struct BufferPool {
    inner: Arc<PoolInner>,
}

impl BufferPool {
    pub(crate) fn new(device: wgpu::Device) -> Self {
        BufferPool { inner: Arc::new(PoolInner { device, state: Mutex::new(PoolState::default()) }) }
    }

    /// Hands out a buffer of at least `bytes` bytes (contents undefined).
    pub(crate) fn alloc(&self, bytes: u64) -> PooledBuffer {
        let class = size_class(bytes);
        let mut st = self.inner.state.lock().unwrap();
        st.stats.live_bytes += class;
        st.stats.peak_live_bytes = st.stats.peak_live_bytes.max(st.stats.live_bytes);
        let reused = st.free.get_mut(&class).and_then(|v| v.pop_first());
        let (seq, buffer) = match reused {
            Some(b) => {
                st.stats.reused += 1;
                st.stats.free_bytes -= class;
                b
            }
            None => {
                st.stats.created += 1;
                let seq = st.next_seq;
                st.next_seq += 1;
                drop(st);
                let buffer = self.inner.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("featuremap tensor"),
                    size: class,
                    usage: USAGE,
                    mapped_at_creation: false,
                });
                (seq, buffer)
            }
        };
        PooledBuffer {
            buffer: Some(buffer),
            seq,
            class,
            pool: Arc::downgrade(&self.inner),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            pending: AtomicU64::new(0),
        }
    }

    /// Current statistics.
    pub fn stats(&self) -> PoolStats {
        self.inner.state.lock().unwrap().stats
    }

    /// Starts measuring the peak again from the bytes live now.
    pub fn reset_peak(&self) {
        let mut st = self.inner.state.lock().unwrap();
        st.stats.peak_live_bytes = st.stats.live_bytes;
    }

    /// Destroys all free buffers (live ones are untouched). Buffers that cached bind groups
    /// still name stay allocated until those go too: [`crate::Gpu::trim`] does both.
    pub fn trim(&self) {
        let mut st = self.inner.state.lock().unwrap();
        st.free.clear();
        st.stats.free_bytes = 0;
    }
}

/// Source of [`PooledBuffer::id`]: never repeats within a process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A storage buffer on loan from a [`BufferPool`].
///
/// Each loan has an id of its own and a generation that every recorded write bumps (a kernel
/// writing it, an upload), so `(id, generation)` names its contents: caches of values derived
/// from a tensor (packed convolution weights) are keyed by it.
pub struct PooledBuffer {
    buffer: Option<wgpu::Buffer>,
    /// The buffer's creation number in its pool (see `PoolState::free`).
    seq: u64,
    class: u64,
    pool: Weak<PoolInner>,
    id: u64,
    generation: AtomicU64,
    /// Writes recorded into this buffer by recordings not yet submitted (or dropped).
    pending: AtomicU64,
}

impl PooledBuffer {
    /// The underlying buffer.
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("buffer present until drop")
    }

    /// Capacity in bytes (the size class, at least the requested size).
    pub fn capacity(&self) -> u64 {
        self.class
    }

    /// This loan's id, unique in the process (a buffer reused from the pool gets a new one).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// How many writes have been recorded into this buffer.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Notes that the contents changed (or will, when the recorded write runs).
    pub fn mark_written(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Writes recorded into this buffer by recordings that are still open: until they are
    /// submitted, what the buffer holds when another recording runs depends on which is
    /// submitted first.
    pub(crate) fn pending_writes(&self) -> u64 {
        self.pending.load(Ordering::Acquire)
    }

    /// Counts a write recorded by an open recording.
    pub(crate) fn add_pending(&self) {
        self.pending.fetch_add(1, Ordering::AcqRel);
    }

    /// Lets go of `n` writes of a recording that was submitted or dropped.
    pub(crate) fn settle_pending(&self, n: u64) {
        self.pending.fetch_sub(n, Ordering::AcqRel);
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let (Some(buf), Some(pool)) = (self.buffer.take(), self.pool.upgrade()) {
            let mut st = pool.state.lock().unwrap_or_else(|p| p.into_inner());
            st.stats.live_bytes -= self.class;
            st.stats.free_bytes += self.class;
            st.free.entry(self.class).or_default().insert(self.seq, buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_cover_and_waste_at_most_a_quarter() {
        for b in [1u64, 255, 256, 257, 1000, 4096, 4097, 100_000, 1 << 20, (1 << 20) + 1, 123_456_789] {
            let c = size_class(b);
            assert!(c >= b, "{b} -> {c}");
            assert!(c.is_multiple_of(4));
            if b > 256 {
                assert!((c - b) as f64 <= 0.25 * b as f64, "{b} -> {c}");
            }
        }
        assert_eq!(size_class(4096), 4096);
        assert_eq!(size_class(4097), 5120);
    }
}

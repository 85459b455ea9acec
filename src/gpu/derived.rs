//! Values derived from a tensor on the GPU (a convolution's packed weights, the f16 copy of
//! its weights in f16 storage), kept while the tensor is unchanged so that repeated passes do
//! not derive them again.
//!
//! An entry is keyed by what it was derived from: the source buffer's loan id and the kind and
//! parameters of the derivation, and it remembers the source's generation (the count of writes
//! recorded into it, see [`PooledBuffer::generation`]). A write into the source, by a kernel
//! (an optimizer step) or by an upload ([`crate::graph::Graph::load_parameters`]), makes the
//! entry stale, and the next use derives it again. Entries whose source was dropped
//! are let go at the next submit.
//!
//! Values derived inside a recording become visible to other recordings only once that
//! recording is submitted ([`super::Recorder::submit`]): a recording dropped unsubmitted never
//! ran its derivations, and its entries go with it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::PooledBuffer;
use crate::Tensor;

/// What a derived value was made from, but for the source's generation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DerivedKey {
    source: u64,
    kind: &'static str,
    params: Vec<u8>,
}

/// A derived value and the state of the source it was derived from.
pub(crate) struct Derived {
    source: Weak<PooledBuffer>,
    generation: u64,
    pub(crate) value: Tensor,
}

impl DerivedKey {
    /// The key of `kind` derived from `source` with `params` (every parameter the derivation
    /// depends on besides the source's contents: shapes, strides, dtypes).
    pub(crate) fn new(source: &Tensor, kind: &'static str, params: &[u8]) -> DerivedKey {
        DerivedKey { source: source.pooled().id(), kind, params: params.to_vec() }
    }
}

impl Derived {
    /// `value` as derived from `source` in its present generation.
    pub(crate) fn new(source: &Tensor, value: Tensor) -> Derived {
        Derived { source: Arc::downgrade(source.pooled()), generation: source.pooled().generation(), value }
    }

    /// Whether the source is alive and has not been written since the value was derived.
    pub(crate) fn is_current(&self) -> bool {
        self.source.upgrade().is_some_and(|s| s.generation() == self.generation)
    }
}

/// Counters of the cache of derived values ([`crate::Gpu::derived_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DerivedStats {
    /// Uses served from a current entry.
    pub hits: u64,
    /// Uses that derived the value (no entry, or a stale one).
    pub misses: u64,
    /// Entries held now (current or not yet let go).
    pub entries: usize,
    /// Bytes of the values held now.
    pub bytes: u64,
}

/// The per-device cache of derived values.
#[derive(Default)]
pub(crate) struct DerivedCache {
    entries: Mutex<HashMap<DerivedKey, Derived>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl DerivedCache {
    /// The current value for `key`, if there is one.
    pub(crate) fn get(&self, key: &DerivedKey) -> Option<Tensor> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(key).filter(|d| d.is_current()).map(|d| d.value.clone())
    }

    /// Counts a use.
    pub(crate) fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds the entries of a submitted recording (replacing stale ones for the same key) and
    /// lets go of the entries whose source is gone or has changed (at every submit, so the
    /// values of a dropped model go back to the pool at the next one).
    pub(crate) fn commit(&self, new: Vec<(DerivedKey, Derived)>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.extend(new);
        entries.retain(|_, d| d.is_current());
    }

    /// Drops every entry.
    pub(crate) fn clear(&self) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub(crate) fn stats(&self) -> DerivedStats {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        DerivedStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: entries.len(),
            bytes: entries.values().map(|d| d.value.bytes()).sum(),
        }
    }
}

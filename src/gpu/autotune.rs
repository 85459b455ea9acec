//! Choosing a kernel variant per layer shape by timing the candidates once, and remembering the
//! choice per adapter on disk.
//!
//! The first time an op meets a shape on an adapter, [`Gpu::autotune`] runs each candidate a
//! few times in its own submits (on scratch tensors of the layer's shape, the candidates taking
//! turns) and keeps the fastest.
//! Choices are kept in memory and in a JSON file in the user's cache folder, keyed by adapter,
//! backend, driver and the op's own key, so later runs start with them:
//! `$FEATUREMAP_CACHE_DIR/autotune.json`, else `$XDG_CACHE_HOME/featuremap/autotune.json`, else
//! `$HOME/.cache/featuremap/autotune.json`. `FEATUREMAP_AUTOTUNE=0` turns tuning off (each op
//! then uses its built-in default).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use super::Gpu;
use crate::Result;

/// Choices made so far, by full key; loaded from disk on first use.
#[derive(Default)]
pub(crate) struct AutotuneCache {
    state: Mutex<Option<BTreeMap<String, String>>>,
}

/// Where the choices are stored, if a cache folder can be found.
pub fn autotune_file() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("FEATUREMAP_CACHE_DIR") {
        return Some(dir.join("autotune.json"));
    }
    let base = var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|h| h.join(".cache")))?;
    Some(base.join("featuremap").join("autotune.json"))
}

/// Whether tuning is on (`FEATUREMAP_AUTOTUNE` unset or anything but `0`).
pub fn autotune_enabled() -> bool {
    std::env::var("FEATUREMAP_AUTOTUNE").map_or(true, |v| v.trim() != "0")
}

fn load() -> BTreeMap<String, String> {
    let Some(path) = autotune_file() else { return BTreeMap::new() };
    let Ok(text) = std::fs::read_to_string(&path) else { return BTreeMap::new() };
    match serde_json::from_str(&text) {
        Ok(map) => map,
        Err(e) => {
            log::warn!("{}: ignoring an unreadable autotune cache ({e})", path.display());
            BTreeMap::new()
        }
    }
}

fn save(map: &BTreeMap<String, String>) {
    let Some(path) = autotune_file() else { return };
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::to_vec_pretty(map).map_err(|e| e.to_string()))
        .and_then(|bytes| crate::io::write_atomic(&path, &bytes).map_err(|e| e.to_string()));
    // A cache that cannot be written only costs a re-tune next run.
    if let Err(e) = written {
        log::warn!("{}: could not save the autotune cache ({e})", path.display());
    }
}

impl Gpu {
    /// The variant of `candidates` to use for `key` (an op and its shape) on this adapter: the
    /// remembered choice, or the fastest under `time` (milliseconds of one run of a candidate,
    /// recorded and submitted on its own), which is then remembered. With tuning off
    /// ([`autotune_enabled`]) returns `None` and times nothing.
    pub fn autotune(
        &self,
        key: &str,
        candidates: &[&'static str],
        mut time: impl FnMut(&'static str) -> Result<f64>,
    ) -> Result<Option<&'static str>> {
        if !autotune_enabled() || candidates.is_empty() {
            return Ok(None);
        }
        let a = self.adapter();
        let full = format!("{} | {} | {} {} | {key}", a.name, a.backend, a.driver, a.driver_info);
        let cache = &self.inner.autotune;
        let known = {
            let mut state = cache.state.lock().expect("autotune cache lock");
            state.get_or_insert_with(load).get(&full).cloned()
        };
        if let Some(c) = known.and_then(|k| candidates.iter().find(|c| **c == k)) {
            return Ok(Some(c));
        }
        let ms = best_times(candidates, &mut time)?;
        let mut choice = candidates[0];
        let mut fastest = f64::INFINITY;
        for (&c, &t) in candidates.iter().zip(&ms) {
            log::info!("autotune {key}: {c} {t:.3} ms");
            if t < fastest {
                (choice, fastest) = (c, t);
            }
        }
        let mut state = cache.state.lock().expect("autotune cache lock");
        let map = state.get_or_insert_with(load);
        map.insert(full, choice.to_string());
        save(map);
        Ok(Some(choice))
    }
}

/// Runs each candidate once to warm up (pipeline creation), then [`TIMED_ROUNDS`] times with
/// the candidates taking turns; returns each one's least time. On a shared machine a burst of
/// other work slows whatever runs during it: timing one candidate's runs back to back let a
/// burst decide the choice (a 7x7 stem cached as `direct`, 18 ms in the model, over `packed`,
/// 10 ms, on lavapipe, 2026-12-07).
fn best_times<'a>(candidates: &[&'a str], mut time: impl FnMut(&'a str) -> Result<f64>) -> Result<Vec<f64>> {
    for &c in candidates {
        time(c)?;
    }
    let mut ms = vec![f64::INFINITY; candidates.len()];
    for _ in 0..TIMED_ROUNDS {
        for (best, &c) in ms.iter_mut().zip(candidates) {
            *best = best.min(time(c)?);
        }
    }
    Ok(ms)
}

/// Timed runs per candidate.
const TIMED_ROUNDS: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_take_turns_so_a_burst_cannot_pick_the_slower() {
        // "a" takes 10 ms and "b" 15, but the first five runs fall in a burst (+100 ms):
        // back to back, all three of a's timed runs would have.
        let mut calls = Vec::new();
        let ms = best_times(&["a", "b"], |c| {
            calls.push(c);
            let base = if c == "a" { 10.0 } else { 15.0 };
            Ok(base + if calls.len() <= 5 { 100.0 } else { 0.0 })
        })
        .unwrap();
        assert_eq!(calls, ["a", "b", "a", "b", "a", "b", "a", "b"]);
        assert_eq!(ms, [10.0, 15.0]);
    }
}

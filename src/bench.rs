//! Timing helpers and the adapter's ceilings: FMA throughput and copy bandwidth, measured with
//! microkernels (`shaders/ceiling.wgsl`). Every kernel's speed is reported against these.
//!
//! Timing is wall-clock around submit-and-wait with the device idle before each run, so each
//! number includes one submit's overhead; the workloads are sized (calibrated per adapter) to
//! run 50 ms or more, which makes that overhead small. The median of several runs is reported.

use std::time::Instant;

use bytemuck::{Pod, Zeroable};

use crate::gpu::{grid_1d, Recorder};
use crate::{shaders, DType, Gpu, Result, Tensor};

/// Mirrors `Params` in `shaders/ceiling.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct CeilingParams {
    iters: u32,
    len: u32,
    _pad0: u32,
    _pad1: u32,
}

#[doc(hidden)]
pub fn uniform_layouts() -> Vec<(&'static str, usize)> {
    vec![(shaders::CEILING.name, std::mem::size_of::<CeilingParams>())]
}

/// Summary statistics of a set of timings, in milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Timings {
    /// Every run, in order.
    pub runs_ms: Vec<f64>,
}

impl Timings {
    /// The median run.
    pub fn median(&self) -> f64 {
        let mut v = self.runs_ms.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n == 0 {
            return f64::NAN;
        }
        if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        }
    }
    /// The fastest run.
    pub fn min(&self) -> f64 {
        self.runs_ms.iter().copied().fold(f64::INFINITY, f64::min)
    }
    /// The slowest run.
    pub fn max(&self) -> f64 {
        self.runs_ms.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }
}

/// Runs `record` (recorded into one encoder, submitted, waited for) `warmup` times untimed, then
/// `runs` times timed. The device is idle at the start of every timed run.
pub fn time_gpu(
    gpu: &Gpu,
    warmup: usize,
    runs: usize,
    mut record: impl FnMut(&mut Recorder) -> Result<()>,
) -> Result<Timings> {
    gpu.synchronize()?;
    let mut runs_ms = Vec::with_capacity(runs);
    for i in 0..warmup + runs {
        let t0 = Instant::now();
        let mut rec = Recorder::new(gpu);
        record(&mut rec)?;
        rec.submit();
        gpu.synchronize()?;
        if i >= warmup {
            runs_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(Timings { runs_ms })
}

/// The adapter's measured ceilings.
#[derive(Clone, Debug)]
pub struct Ceiling {
    /// Adapter name.
    pub adapter: String,
    /// FMA throughput in GFLOP/s (one FMA counts as 2 FLOPs).
    pub fma_gflops: f64,
    /// Copy bandwidth in GB/s (bytes read plus bytes written).
    pub copy_gbps: f64,
    /// Timings of the FMA runs.
    pub fma: Timings,
    /// FLOPs per FMA run.
    pub fma_flops: f64,
    /// Timings of the copy runs.
    pub copy: Timings,
    /// Bytes moved per copy run.
    pub copy_bytes: f64,
    /// FMA throughput (GFLOP/s) when every scalar load from a per-invocation address feeds
    /// this many FMAs: `(FMAs per load, GFLOP/s)` for 32, 16, 8, 4 and 1. The operand loads of a
    /// convolution or GEMM are such loads; this is the ceiling at a kernel's arithmetic
    /// intensity per load.
    pub fma_per_load: Vec<(u32, f64)>,
    /// The same with vec4 loads: `(FMAs per vec4 load, GFLOP/s)` for 32, 16, 8, 4 and 1 (a
    /// fourth as many FMAs per loaded value). Where a vec4 load costs less than 4 scalar ones
    /// (lavapipe: 1.5-2.5), loading 4 values at a time is cheaper per value.
    pub fma_per_vec4_load: Vec<(u32, f64)>,
    /// FMA throughput (GFLOP/s) when every vec4 stored to a per-invocation address costs this
    /// many FMAs: `(FMAs per vec4 store, GFLOP/s)` for 32, 16, 8, 4 and 1. A kernel's output
    /// stores are such stores: this bounds kernels that make few FMAs per output value
    /// (depthwise convs, 1x1 convs over few input channels, weight gradients over small maps).
    pub fma_per_vec4_store: Vec<(u32, f64)>,
}

/// Repeats a workload of `dispatches` dispatches, doubling until one run takes `target_ms`.
fn calibrate(gpu: &Gpu, target_ms: f64, mut record: impl FnMut(&mut Recorder, usize) -> Result<()>) -> Result<usize> {
    let mut reps = 1usize;
    loop {
        let t = time_gpu(gpu, 1, 1, |rec| record(rec, reps))?;
        if t.median() >= target_ms || reps >= 1 << 14 {
            return Ok(reps);
        }
        let scale = (target_ms / t.median().max(0.01)).clamp(2.0, 16.0);
        reps = ((reps as f64) * scale).ceil() as usize;
    }
}

/// Measures FMA throughput and copy bandwidth: median of `runs` runs of at least ~50 ms each.
pub fn measure_ceiling(gpu: &Gpu, runs: usize) -> Result<Ceiling> {
    const WG: u32 = 256;
    const TARGET_MS: f64 = 50.0;
    // FMA: 64K invocations x 256 iterations x 64 FLOPs = 1.07 GFLOP per dispatch.
    let invocations: u32 = 256 * 256;
    let iters: u32 = 256;
    let seed = Tensor::zeros(gpu, [4])?;
    let sink = Tensor::empty(gpu, [invocations as usize * 4], DType::F32)?;
    let fma_params = CeilingParams { iters, len: invocations, _pad0: 0, _pad1: 0 };
    let fma_dispatch = |rec: &mut Recorder, reps: usize| -> Result<()> {
        for _ in 0..reps {
            rec.dispatch(
                &shaders::CEILING,
                "fma_peak",
                &[("WG", WG as f64)],
                &fma_params,
                &[&seed, &sink],
                grid_1d(invocations as u64, WG),
            )?;
        }
        Ok(())
    };
    let reps = calibrate(gpu, TARGET_MS, fma_dispatch)?;
    let fma = time_gpu(gpu, 1, runs, |rec| fma_dispatch(rec, reps))?;
    let fma_flops = reps as f64 * invocations as f64 * iters as f64 * 8.0 * 4.0 * 2.0;

    // Copy: 32 MiB in, 32 MiB out per dispatch (bigger than any CPU's last-level cache).
    let vec4s: u32 = 2 * 1024 * 1024;
    let src = Tensor::zeros(gpu, [vec4s as usize * 4])?;
    let dst = Tensor::empty(gpu, [vec4s as usize * 4], DType::F32)?;
    let copy_params = CeilingParams { iters: 0, len: vec4s, _pad0: 0, _pad1: 0 };
    let copy_dispatch = |rec: &mut Recorder, reps: usize| -> Result<()> {
        for _ in 0..reps {
            rec.dispatch(
                &shaders::CEILING,
                "copy",
                &[("WG", WG as f64)],
                &copy_params,
                &[&src, &dst],
                grid_1d(vec4s as u64, WG),
            )?;
        }
        Ok(())
    };
    let reps_copy = calibrate(gpu, TARGET_MS, copy_dispatch)?;
    let copy = time_gpu(gpu, 1, runs, |rec| copy_dispatch(rec, reps_copy))?;
    let copy_bytes = reps_copy as f64 * vec4s as f64 * 16.0 * 2.0;

    // FMA with loads or stores: 16K invocations x 64 iterations x 64 FLOPs, with `entry`'s
    // gathers (LOADS) or scatters (STORES) per iteration; (FMAs per load or store, GFLOP/s).
    let load_invocations: u32 = 64 * 256;
    let load_iters: u32 = 64;
    let rate =
        |entry: &'static str, per_iter: u32, overrides: &[(&'static str, f64)], len: u32, tensors: &[&Tensor]| {
            let params = CeilingParams { iters: load_iters, len, _pad0: 0, _pad1: 0 };
            let dispatch = |rec: &mut Recorder, reps: usize| -> Result<()> {
                for _ in 0..reps {
                    rec.dispatch(
                        &shaders::CEILING,
                        entry,
                        overrides,
                        &params,
                        tensors,
                        grid_1d(load_invocations as u64, WG),
                    )?;
                }
                Ok(())
            };
            let reps = calibrate(gpu, TARGET_MS / 2.0, dispatch)?;
            let t = time_gpu(gpu, 1, runs, |rec| dispatch(rec, reps))?;
            let flops = reps as f64 * load_invocations as f64 * load_iters as f64 * 64.0;
            Ok::<_, crate::Error>((32 / per_iter, flops / (t.median() * 1e-3) / 1e9))
        };
    const PER_ITER: [u32; 5] = [1, 2, 4, 8, 32];
    let table_len: u32 = 1 << 16;
    let table = Tensor::zeros(gpu, [table_len as usize])?;
    let load_sink = Tensor::empty(gpu, [load_invocations as usize * 4], DType::F32)?;
    // The table is both the scalar source (binding 3) and the vec4 one (binding 1, 1/4 as
    // many elements); the scalar variant reads binding 1 only for its seed, which is 0 either way.
    let mut per_load = [Vec::new(), Vec::new()];
    for (vec4, out) in per_load.iter_mut().enumerate() {
        let len = if vec4 == 1 { table_len / 4 } else { table_len };
        for loads in PER_ITER {
            let overrides = [("WG", WG as f64), ("LOADS", loads as f64), ("VEC4", vec4 as f64)];
            out.push(rate("fma_loads", loads, &overrides, len, &[&table, &load_sink, &table])?);
        }
    }
    let [fma_per_load, fma_per_vec4_load] = per_load;
    // Stores go into a 1 MiB sink.
    let store_len: u32 = 1 << 16;
    let store_sink = Tensor::empty(gpu, [store_len as usize * 4], DType::F32)?;
    let fma_per_vec4_store = PER_ITER
        .into_iter()
        .map(|stores| {
            let overrides = [("WG", WG as f64), ("STORES", stores as f64)];
            rate("fma_stores", stores, &overrides, store_len, &[&seed, &store_sink])
        })
        .collect::<Result<Vec<_>>>()?;

    Ok(Ceiling {
        adapter: gpu.adapter().name.clone(),
        fma_per_load,
        fma_per_vec4_load,
        fma_per_vec4_store,
        fma_gflops: fma_flops / (fma.median() * 1e-3) / 1e9,
        copy_gbps: copy_bytes / (copy.median() * 1e-3) / 1e9,
        fma,
        fma_flops,
        copy,
        copy_bytes,
    })
}

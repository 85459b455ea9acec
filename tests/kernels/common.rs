//! Shared helpers of the kernel tests: the GPU, seeded random data, and error checks.

use std::sync::OnceLock;

use featuremap::reference::Array;
use featuremap::{Gpu, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// True where a missing adapter must fail the run instead of skipping (CI).
pub fn gpu_required() -> bool {
    let on = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    on("CI") || on("FEATUREMAP_REQUIRE_GPU")
}

/// The shared GPU, or `None` (with a printed reason) where there is none and none is required.
/// Panics where one is required (`CI=true` or `FEATUREMAP_REQUIRE_GPU=1`).
pub fn gpu() -> Option<&'static Gpu> {
    static GPU: OnceLock<Result<Gpu, String>> = OnceLock::new();
    match GPU.get_or_init(|| Gpu::new().map_err(|e| e.to_string())) {
        Ok(g) => Some(g),
        Err(e) if gpu_required() => panic!("a GPU adapter is required here (CI / FEATUREMAP_REQUIRE_GPU): {e}"),
        Err(e) => {
            eprintln!("SKIPPED: no GPU adapter: {e}");
            None
        }
    }
}

/// Gets the GPU or returns from the test (after printing why) where none is there.
#[macro_export]
macro_rules! gpu_or_skip {
    () => {
        match $crate::common::gpu() {
            Some(g) => g,
            None => return,
        }
    };
}

/// A seeded generator, so every failure can be replayed.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// `n` values uniform in [-1, 1), rounded to f32 (so host and GPU see the same numbers).
pub fn random_vec(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// A random array and the same values as a GPU tensor.
pub fn random_pair(gpu: &Gpu, rng: &mut StdRng, shape: &[usize]) -> (Array, Tensor) {
    let v = random_vec(rng, shape.iter().product());
    (Array::from_f32(shape.to_vec(), &v), Tensor::from_f32(gpu, shape.to_vec(), &v).unwrap())
}

/// Relative L2 error ||got - want|| / ||want|| (absolute when `want` is all zeros).
pub fn rel_l2(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "length mismatch");
    let mut num = 0.0;
    let mut den = 0.0;
    for (&g, &w) in got.iter().zip(want) {
        num += (g as f64 - w) * (g as f64 - w);
        den += w * w;
    }
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

/// The f32 tolerance of every forward kernel against the f64 reference (relative L2).
pub const TOL: f64 = 1e-5;

/// Reads `t` back and checks it against `want` (shape and relative L2 error below `tol`).
/// Prints one `KERNEL-ERROR` line per check so the largest error per kernel can be collected.
pub fn check(gpu: &Gpu, kernel: &str, case: &str, t: &Tensor, want: &Array, tol: f64) {
    assert_eq!(t.dims(), &want.shape[..], "{kernel} {case}: shape");
    let got = t.to_f32(gpu).unwrap();
    assert!(got.iter().all(|v| v.is_finite()), "{kernel} {case}: non-finite output");
    let err = rel_l2(&got, &want.data);
    println!("KERNEL-ERROR {kernel} {err:.3e} {case}");
    assert!(err < tol, "{kernel} {case}: relative L2 error {err:.3e} >= {tol:.0e}");
}

/// The adapter, when it can store f16 (a failure under CI, where lavapipe on Vulkan can).
pub fn f16_gpu() -> Option<&'static Gpu> {
    let gpu = gpu()?;
    if gpu.features().contains(wgpu::Features::SHADER_F16) {
        return Some(gpu);
    }
    assert!(!gpu_required(), "the adapter a run requires must have SHADER_F16 (lavapipe on Vulkan has)");
    println!("skipped: {} has no SHADER_F16", gpu.adapter().name);
    None
}

//! The host side: upload and readback, no-copy reshape, the buffer pool, limits as errors,
//! and an app-provided device.

use featuremap::ops::{self, Activation};
use featuremap::{DType, Error, Gpu, Tensor};

use crate::common::{random_vec, rng};
use crate::gpu_or_skip;

#[test]
fn upload_and_readback_round_trip() {
    let gpu = gpu_or_skip!();
    let v = random_vec(&mut rng(7), 3 * 5 * 7 * 9);
    let t = Tensor::from_f32(gpu, [3, 5, 7, 9], &v).unwrap();
    assert_eq!(t.to_f32(gpu).unwrap(), v);
    let u: Vec<u32> = (0..13).collect();
    assert_eq!(Tensor::from_u32(gpu, [13], &u).unwrap().to_u32(gpu).unwrap(), u);
    let async_read = pollster::block_on(t.to_f32_async(gpu)).unwrap();
    assert_eq!(async_read, v);
}

#[test]
fn f16_storage_round_trips_within_half_precision() {
    let gpu = gpu_or_skip!();
    let v = random_vec(&mut rng(8), 7); // odd length: padded upload
    let t = Tensor::from_f32_as_f16(gpu, [7], &v).unwrap();
    assert_eq!(t.dtype(), DType::F16);
    for (a, b) in t.to_f32(gpu).unwrap().iter().zip(&v) {
        assert!((a - b).abs() <= 1e-3, "{a} vs {b}");
    }
}

#[test]
fn upload_length_mismatch_is_an_error() {
    let gpu = gpu_or_skip!();
    let err = Tensor::from_f32(gpu, [2, 3], &[1.0; 5]).unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
}

#[test]
fn reshape_and_flatten_share_the_buffer() {
    let gpu = gpu_or_skip!();
    let v: Vec<f32> = (0..24).map(|i| i as f32).collect();
    let t = Tensor::from_f32(gpu, [2, 3, 2, 2], &v).unwrap();
    let r = t.reshape([6, usize::MAX]).unwrap();
    assert_eq!(r.dims(), &[6, 4]);
    assert_eq!(r.buffer(), t.buffer());
    assert_eq!(t.flatten(1).unwrap().dims(), &[2, 12]);
    assert_eq!(r.to_f32(gpu).unwrap(), v);
    assert!(t.reshape([5, 5]).is_err());
    assert!(t.reshape([usize::MAX, usize::MAX]).is_err());
    assert!(t.flatten(5).is_err());
}

#[test]
fn pool_reuses_freed_buffers_of_the_same_size_class() {
    // A private device so other tests' allocations do not interleave.
    let gpu = gpu_or_skip!();
    let _ = gpu;
    let gpu = Gpu::new().unwrap();
    let before = gpu.pool().stats();
    let a = Tensor::zeros(&gpu, [1000]).unwrap();
    drop(a);
    let b = Tensor::zeros(&gpu, [990]).unwrap(); // same size class as 1000 floats
    let after = gpu.pool().stats();
    assert_eq!(after.created - before.created, 1, "{after:?}");
    assert_eq!(after.reused - before.reused, 1, "{after:?}");
    assert!(after.live_bytes >= 990 * 4);
    drop(b);
    gpu.pool().trim();
    assert_eq!(gpu.pool().stats().free_bytes, 0);
}

#[test]
fn tensor_beyond_the_binding_limit_is_an_error_not_a_panic() {
    let gpu = gpu_or_skip!();
    let limit = gpu.limits().max_storage_buffer_binding_size.min(gpu.limits().max_buffer_size);
    let n = (limit / 4 + 1) as usize;
    match Tensor::empty(gpu, [n], DType::F32) {
        Err(Error::TooLarge { bytes, limit: l, .. }) => {
            assert!(bytes > l);
            assert!(Error::TooLarge { op: "alloc", bytes, limit: l }
                .to_string()
                .contains("max_storage_buffer_binding_size"));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn ops_run_on_an_app_provided_device() {
    let _ = gpu_or_skip!();
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default())).unwrap();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).unwrap();
    let gpu = Gpu::from_device(device, queue);
    let x = Tensor::from_f32(&gpu, [4], &[-1.0, 0.5, -2.0, 3.0]).unwrap();
    let y = gpu.run(|rec| ops::activation(rec, &x, Activation::Relu)).unwrap();
    assert_eq!(y.to_f32(&gpu).unwrap(), vec![0.0, 0.5, 0.0, 3.0]);
}

#[test]
fn one_recorder_holds_a_whole_pass() {
    let gpu = gpu_or_skip!();
    let x = Tensor::from_f32(gpu, [1, 1, 2, 2], &[-1.0, 2.0, -3.0, 4.0]).unwrap();
    let mut rec = featuremap::Recorder::new(gpu);
    let a = ops::activation(&mut rec, &x, Activation::Relu).unwrap();
    let b = ops::activation(&mut rec, &a, Activation::Clip(0.0, 3.0)).unwrap();
    assert_eq!(rec.dispatches(), 2);
    rec.submit();
    assert_eq!(b.to_f32(gpu).unwrap(), vec![0.0, 2.0, 0.0, 3.0]);
}

#[test]
fn a_tensor_dropped_while_recording_is_not_overwritten_before_submit() {
    // Regression: the input is dropped right after its dispatch is recorded; a new upload of the
    // same size in the same recording must not land in its buffer before the kernel runs.
    let gpu = Gpu::new().unwrap_or_else(|e| panic!("{e}"));
    let y = gpu
        .run(|rec| {
            let x = Tensor::from_f32(&gpu, [256], &[1.0; 256])?;
            let y = ops::activation(rec, &x, Activation::Relu)?;
            drop(x);
            let _other = Tensor::from_f32(&gpu, [256], &[-7.0; 256])?;
            Ok(y)
        })
        .unwrap();
    assert_eq!(y.to_f32(&gpu).unwrap(), vec![1.0; 256]);
}

#[test]
fn pipelines_are_cached_by_shader_entry_and_overrides() {
    let _ = gpu_or_skip!();
    let gpu = Gpu::new().unwrap();
    let x = Tensor::zeros(&gpu, [1, 4, 5, 5]).unwrap();
    let w_wide = Tensor::zeros(&gpu, [64, 4, 3, 3]).unwrap(); // tile (64, 64)
    let w_narrow = Tensor::zeros(&gpu, [2, 4, 3, 3]).unwrap(); // tile (4, 128): other overrides
    let cfg = ops::Conv2d::default();
    // The tiled kernel is one pipeline per call (the packed one adds its packing passes).
    let tiled = ops::ConvKernel::Tiled;
    gpu.run(|rec| ops::conv2d_with(rec, &x, &w_wide, None, &cfg, tiled)).unwrap();
    assert_eq!(gpu.pipeline_count(), 1);
    gpu.run(|rec| ops::conv2d_with(rec, &x, &w_wide, None, &cfg, tiled)).unwrap();
    assert_eq!(gpu.pipeline_count(), 1, "same key compiles once");
    gpu.run(|rec| ops::conv2d_with(rec, &x, &w_narrow, None, &cfg, tiled)).unwrap();
    assert_eq!(gpu.pipeline_count(), 2, "other override values are another pipeline");
    gpu.synchronize().unwrap();
}

/// What `featuremap bench` reads per layer, and autotune on GPU adapters per candidate.
#[test]
fn timestamped_recordings_time_each_scope_and_compute_the_same() {
    let gpu = gpu_or_skip!();
    if !gpu.features().contains(featuremap::gpu::TIMESTAMP_QUERY) {
        assert!(featuremap::Recorder::with_timestamps(gpu, 8).is_err());
        println!("skipped: {} has no TIMESTAMP_QUERY", gpu.adapter().name);
        return;
    }
    let x = Tensor::from_f32(gpu, [1, 1, 2, 2], &[-1.0, 2.0, -3.0, 4.0]).unwrap();
    let mut rec = featuremap::Recorder::with_timestamps(gpu, 8).unwrap();
    rec.set_scope("relu");
    let a = ops::activation(&mut rec, &x, Activation::Relu).unwrap();
    rec.set_scope("clip");
    let b = ops::activation(&mut rec, &a, Activation::Clip(0.0, 3.0)).unwrap();
    let times = rec.submit_timed().unwrap();
    let names: Vec<&str> = times.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["relu", "clip"]);
    assert!(times.iter().all(|(_, ms)| ms.is_finite() && *ms >= 0.0), "{times:?}");
    assert_eq!(b.to_f32(gpu).unwrap(), vec![0.0, 2.0, 0.0, 3.0]);

    // Scoped by entry point, the scopes set by name are ignored: one row per kernel, its
    // dispatches summed (`bench`'s GPU time per kernel).
    let mut rec = featuremap::Recorder::with_timestamps(gpu, 8).unwrap();
    rec.scope_by_entry();
    rec.set_scope("relu");
    let a = ops::activation(&mut rec, &x, Activation::Relu).unwrap();
    rec.set_scope("clip");
    ops::activation(&mut rec, &a, Activation::Clip(0.0, 3.0)).unwrap();
    let times = rec.submit_timed().unwrap();
    let names: Vec<&str> = times.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["activation"]);
}

//! Compiled compute pipelines, cached by (shader, entry point, override constants).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::shaders::Shader;

/// Identifies one compiled pipeline: which shader file, which entry point, and the values of
/// its WGSL `override` constants (sorted by name; values stored as `f64` bits so the key hashes).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PipelineKey {
    /// Shader registry name (the `.wgsl` file stem).
    pub shader: &'static str,
    /// The f16-storage variant of the shader.
    pub f16: bool,
    /// The f32-output variant of the shader.
    pub f32_output: bool,
    /// Entry point.
    pub entry: &'static str,
    /// Override constants, sorted by name.
    pub overrides: Vec<(&'static str, u64)>,
}

impl PipelineKey {
    /// Builds a key; the overrides are sorted so that order of mention does not matter.
    pub fn new(shader: &Shader, entry: &'static str, overrides: &[(&'static str, f64)]) -> Self {
        let mut o: Vec<(&'static str, u64)> = overrides.iter().map(|(k, v)| (*k, v.to_bits())).collect();
        o.sort();
        PipelineKey { shader: shader.name, f16: shader.f16, f32_output: shader.f32_output, entry, overrides: o }
    }
}

#[derive(Default)]
pub(crate) struct PipelineCache {
    modules: Mutex<HashMap<(&'static str, bool, bool), wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<PipelineKey, Arc<wgpu::ComputePipeline>>>,
}

impl PipelineCache {
    /// Returns the cached pipeline for the key, compiling it on first use.
    pub(crate) fn get(
        &self,
        device: &wgpu::Device,
        shader: &Shader,
        entry: &'static str,
        overrides: &[(&'static str, f64)],
    ) -> Arc<wgpu::ComputePipeline> {
        let key = PipelineKey::new(shader, entry, overrides);
        if let Some(p) = self.pipelines.lock().unwrap().get(&key) {
            return p.clone();
        }
        let module = {
            let mut modules = self.modules.lock().unwrap();
            modules
                .entry((shader.name, shader.f16, shader.f32_output))
                .or_insert_with(|| {
                    device.create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(&shader.variant_name()),
                        source: wgpu::ShaderSource::Wgsl(shader.wgsl()),
                    })
                })
                .clone()
        };
        let label = format!("{}:{}", shader.variant_name(), entry);
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&label),
            layout: None,
            module: &module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: overrides,
                // Every kernel writes its workgroup tiles before reading them.
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        let pipeline = Arc::new(pipeline);
        self.pipelines.lock().unwrap().insert(key, pipeline.clone());
        pipeline
    }

    /// Number of compiled pipelines.
    pub(crate) fn len(&self) -> usize {
        self.pipelines.lock().unwrap().len()
    }
}

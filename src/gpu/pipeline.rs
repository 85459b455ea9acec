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

/// A shader variant: registry name, f16 storage, f32 output.
type VariantKey = (&'static str, bool, bool);

/// A compiled pipeline and which of its bindings it may write.
#[derive(Clone)]
pub(crate) struct Kernel {
    pub(crate) pipeline: Arc<wgpu::ComputePipeline>,
    /// Bit `b` is set when binding `b` is declared `var<storage, read_write>`.
    pub(crate) writes: u64,
}

#[derive(Default)]
pub(crate) struct PipelineCache {
    /// Per shader variant: the module and [`writable_bindings`] of its source.
    modules: Mutex<HashMap<VariantKey, (wgpu::ShaderModule, u64)>>,
    pipelines: Mutex<HashMap<PipelineKey, Kernel>>,
}

/// The bindings of group 0 that `source` declares writable (`var<storage, read_write>`), as a
/// bit mask. The recorder bumps the generation of every tensor bound there, so caches of values
/// derived from a tensor see that it changed. Families declare inputs `read`; a source naga
/// cannot parse (the device will refuse it too) counts as writing every binding.
pub(crate) fn writable_bindings(source: &str) -> u64 {
    let Ok(module) = naga::front::wgsl::parse_str(source) else { return u64::MAX };
    module
        .global_variables
        .iter()
        .filter_map(|(_, g)| match (g.space, &g.binding) {
            (naga::AddressSpace::Storage { access }, Some(b))
                if b.group == 0 && b.binding < 64 && access.contains(naga::StorageAccess::STORE) =>
            {
                Some(1u64 << b.binding)
            }
            _ => None,
        })
        .fold(0, |m, b| m | b)
}

impl PipelineCache {
    /// Returns the cached pipeline for the key, compiling it on first use.
    pub(crate) fn get(
        &self,
        device: &wgpu::Device,
        shader: &Shader,
        entry: &'static str,
        overrides: &[(&'static str, f64)],
    ) -> Kernel {
        let key = PipelineKey::new(shader, entry, overrides);
        if let Some(p) = self.pipelines.lock().unwrap().get(&key) {
            return p.clone();
        }
        let (module, writes) = {
            let mut modules = self.modules.lock().unwrap();
            modules
                .entry((shader.name, shader.f16, shader.f32_output))
                .or_insert_with(|| {
                    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(&shader.variant_name()),
                        source: wgpu::ShaderSource::Wgsl(shader.wgsl()),
                    });
                    // Access modes are the same in every storage variant: parse the f32 source.
                    (module, writable_bindings(shader.source))
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
        let kernel = Kernel { pipeline: Arc::new(pipeline), writes };
        self.pipelines.lock().unwrap().insert(key, kernel.clone());
        kernel
    }

    /// Number of compiled pipelines.
    pub(crate) fn len(&self) -> usize {
        self.pipelines.lock().unwrap().len()
    }
}

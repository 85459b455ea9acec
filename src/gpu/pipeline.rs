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

/// Per entry point, the bindings it writes ([`written_bindings`]).
type EntryWrites = Arc<HashMap<String, u64>>;

/// A compiled pipeline and which of its bindings it may write.
#[derive(Clone)]
pub(crate) struct Kernel {
    pub(crate) pipeline: Arc<wgpu::ComputePipeline>,
    /// Bit `b` is set when the entry point writes binding `b` ([`written_bindings`]).
    pub(crate) writes: u64,
}

#[derive(Default)]
pub(crate) struct PipelineCache {
    /// Per shader variant: the module and [`written_bindings`] of its source.
    modules: Mutex<HashMap<VariantKey, (wgpu::ShaderModule, EntryWrites)>>,
    pipelines: Mutex<HashMap<PipelineKey, Kernel>>,
}

/// Per entry point of `source`, the bindings of group 0 it writes, as a bit mask; the recorder
/// bumps the generation of every tensor bound there, so caches of values derived from a tensor
/// see that it changed. From naga's analysis of which globals each entry point writes; where
/// that fails, every binding the module declares `var<storage, read_write>` counts for every
/// entry (and a source naga cannot parse, which the device refuses too, for all bindings).
pub(crate) fn written_bindings(source: &str) -> HashMap<String, u64> {
    let Ok(module) = naga::front::wgsl::parse_str(source) else {
        return HashMap::new(); // an entry missing from the map counts as writing every binding
    };
    let bit = |b: &naga::ResourceBinding| if b.group == 0 && b.binding < 64 { 1u64 << b.binding } else { 0 };
    let mut validator =
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all());
    match validator.validate(&module) {
        Ok(info) => module
            .entry_points
            .iter()
            .enumerate()
            .map(|(i, ep)| {
                let uses = info.get_entry_point(i);
                let mask = module
                    .global_variables
                    .iter()
                    .filter(|(h, g)| {
                        matches!(g.space, naga::AddressSpace::Storage { .. })
                            && uses[*h].contains(naga::valid::GlobalUse::WRITE)
                    })
                    .filter_map(|(_, g)| g.binding.as_ref().map(bit))
                    .fold(0, |m, b| m | b);
                (ep.name.clone(), mask)
            })
            .collect(),
        Err(_) => {
            let declared = module
                .global_variables
                .iter()
                .filter(|(_, g)| {
                    matches!(g.space, naga::AddressSpace::Storage { access } if access.contains(naga::StorageAccess::STORE))
                })
                .filter_map(|(_, g)| g.binding.as_ref().map(bit))
                .fold(0, |m, b| m | b);
            module.entry_points.iter().map(|ep| (ep.name.clone(), declared)).collect()
        }
    }
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
                    // What each entry writes is the same in every storage variant: the f32 source.
                    (module, Arc::new(written_bindings(shader.source)))
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
        let writes = writes.get(entry).copied().unwrap_or(u64::MAX);
        let kernel = Kernel { pipeline: Arc::new(pipeline), writes };
        self.pipelines.lock().unwrap().insert(key, kernel.clone());
        kernel
    }

    /// Number of compiled pipelines.
    pub(crate) fn len(&self) -> usize {
        self.pipelines.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::written_bindings;
    use crate::shaders;

    #[test]
    fn each_entry_point_writes_only_its_own_outputs() {
        // conv2d_backward_weight.wgsl binds x (read) and db, total (written) all at binding 2.
        let w = written_bindings(shaders::CONV2D_BACKWARD_WEIGHT.source);
        assert_eq!(w["conv2d_backward_weight"], 1 << 3, "dw only, not x");
        assert_eq!(w["conv2d_backward_bias"], 1 << 2);
        assert_eq!(w["reduce_chunks"], 1 << 2);
        let w = written_bindings(shaders::CONV2D_DEPTHWISE.source);
        for entry in ["conv2d_depthwise", "conv2d_depthwise_rows3", "conv2d_depthwise_phase"] {
            assert_eq!(w[entry], 1 << 4, "{entry}: y only");
        }
        assert!(written_bindings("not wgsl").is_empty());
    }
}

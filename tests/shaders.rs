//! Every WGSL kernel parses and validates with naga, and every uniform `Params` struct has the
//! same size in WGSL as its Rust mirror. Needs no GPU.

use featuremap::shaders::{self, Shader};

fn parse(shader: &Shader) -> naga::Module {
    naga::front::wgsl::parse_str(shader.source)
        .unwrap_or_else(|e| panic!("{}.wgsl does not parse:\n{}", shader.name, e.emit_to_string(shader.source)))
}

#[test]
fn every_shader_parses_and_validates() {
    for shader in shaders::ALL {
        let module = parse(shader);
        let mut validator =
            naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all());
        if let Err(e) = validator.validate(&module) {
            panic!("{}.wgsl does not validate:\n{}", shader.name, e.emit_to_string(shader.source));
        }
        assert!(!module.entry_points.is_empty(), "{}.wgsl has no entry point", shader.name);
    }
}

/// The f16-storage variant of every storage-generic family validates too, and declares its
/// tensors f16 (the `Store` alias is what the variant swaps).
#[test]
fn every_f16_variant_parses_and_validates() {
    let generic: Vec<_> = shaders::ALL.iter().filter(|s| s.is_storage_generic()).collect();
    for name in [
        "conv2d",
        "conv2d_direct",
        "conv2d_depthwise",
        "conv2d_depthwise_3x3",
        "conv2d_depthwise_3x3_scalar",
        "activation",
        "binary",
        "batch_norm",
        "max_pool2d",
        "max_pool2d_rows",
        "avg_pool2d",
        "global_pool2d",
        "cast",
    ] {
        assert!(generic.iter().any(|s| s.name == name), "{name}.wgsl should have an f16 variant");
    }
    // Each f16 variant, and for the conv families also the f16 variant with f32 output that
    // split-K passes compile.
    let mut variants = Vec::new();
    for shader in generic {
        let half = shader.with_storage(featuremap::DType::F16).unwrap();
        variants.push(half);
        if shader.source.contains(shaders::OUT_STORE) {
            variants.push(half.with_f32_output().unwrap());
        }
    }
    assert!(variants.iter().any(|v| v.name == "conv2d_direct" && v.f32_output));
    for half in variants {
        let text = half.wgsl();
        assert!(text.contains("alias Store = f16;") && !text.contains(shaders::STORE_F32));
        assert_eq!(text.contains("alias Out = f32;"), half.f32_output);
        let module = naga::front::wgsl::parse_str(&text)
            .unwrap_or_else(|e| panic!("{} does not parse:\n{}", half.variant_name(), e.emit_to_string(&text)));
        let mut validator =
            naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all());
        if let Err(e) = validator.validate(&module) {
            panic!("{} does not validate:\n{}", half.variant_name(), e.emit_to_string(&text));
        }
    }
    assert!(shaders::GEMM.with_storage(featuremap::DType::F16).is_err(), "gemm has no f16 variant");
}

#[test]
fn every_wgsl_file_is_registered_and_no_placeholder_is_left() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            assert!(shaders::ALL.iter().any(|s| s.name == stem), "shaders/{stem}.wgsl is not in the registry");
        }
    }
    for s in shaders::ALL {
        assert!(!s.source.contains("PLACEHOLDER"), "{}.wgsl is a placeholder", s.name);
    }
}

#[test]
fn uniform_structs_match_their_rust_mirrors() {
    let layouts = featuremap::ops::uniform_layouts();
    assert!(!layouts.is_empty());
    for (name, rust_size) in layouts {
        let shader = shaders::ALL.iter().find(|s| s.name == name).expect("registered shader");
        let module = parse(shader);
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).unwrap();
        let (handle, _) = module
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some("Params"))
            .unwrap_or_else(|| panic!("{name}.wgsl declares no `Params` struct"));
        let wgsl_size = layouter[handle].size as usize;
        assert_eq!(wgsl_size, rust_size, "{name}.wgsl Params is {wgsl_size} bytes, its Rust mirror {rust_size}");
    }
}

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

//! `featuremap info`

use featuremap::{Gpu, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(gpu: &Gpu, args: &Args) -> Result<()> {
    let a = gpu.adapter();
    let l = gpu.limits();
    let f = gpu.features();
    let features = [
        ("SHADER_F16", wgpu::Features::SHADER_F16),
        ("TIMESTAMP_QUERY", wgpu::Features::TIMESTAMP_QUERY),
        ("SUBGROUP", wgpu::Features::SUBGROUP),
    ];
    let limits: Vec<(&str, u64)> = vec![
        ("max_storage_buffer_binding_size", l.max_storage_buffer_binding_size),
        ("max_uniform_buffer_binding_size", l.max_uniform_buffer_binding_size),
        ("max_buffer_size", l.max_buffer_size),
        ("max_compute_workgroup_storage_size", l.max_compute_workgroup_storage_size as u64),
        ("max_compute_invocations_per_workgroup", l.max_compute_invocations_per_workgroup as u64),
        ("max_compute_workgroup_size_x", l.max_compute_workgroup_size_x as u64),
        ("max_compute_workgroup_size_y", l.max_compute_workgroup_size_y as u64),
        ("max_compute_workgroup_size_z", l.max_compute_workgroup_size_z as u64),
        ("max_compute_workgroups_per_dimension", l.max_compute_workgroups_per_dimension as u64),
        ("max_storage_buffers_per_shader_stage", l.max_storage_buffers_per_shader_stage as u64),
    ];
    if args.json {
        let obj = serde_json::json!({
            "adapter": a.name,
            "backend": a.backend,
            "device_type": a.device_type,
            "driver": a.driver,
            "driver_info": a.driver_info,
            "subgroup_size": gpu.subgroup_size(),
            "limits": limits.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
            "features": features.iter().filter(|(_, x)| f.contains(*x)).map(|(n, _)| *n).collect::<Vec<_>>(),
        });
        println!("{obj}");
        return Ok(());
    }
    println!("adapter      {}", a.name);
    println!("backend      {}", a.backend);
    println!("device type  {}", a.device_type);
    println!("driver       {} {}", a.driver, a.driver_info);
    match gpu.subgroup_size() {
        Some(n) => println!("subgroups    {n} invocations"),
        None => println!("subgroups    no fixed size"),
    }
    println!("limits");
    for (k, v) in &limits {
        println!("  {k:<40} {v}");
    }
    println!("optional features");
    for (n, x) in features {
        println!("  {n:<40} {}", if f.contains(x) { "enabled" } else { "not available" });
    }
    Ok(())
}

//! `wgfaiss info`.

use anyhow::{Context, Result};
use wgfaiss::Gpu;
use wgfaiss::tuning::{PARAMS, spec};

pub fn run(json: bool) -> Result<()> {
    let gpu = Gpu::new().context("opening a GPU")?;
    let caps = gpu.capabilities();
    let tuning = gpu.tuning();
    if json {
        let out = serde_json::json!({
            "capabilities": caps,
            "tuning": tuning,
            "effective_max_binding_bytes": gpu.max_binding_bytes(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("adapter        {}", caps.name);
    println!("backend        {}", caps.backend);
    println!("device type    {}", caps.device_type);
    println!("driver         {} ({})", caps.driver, caps.driver_info);
    println!(
        "subgroups      {} (size {}..{})",
        yes(caps.subgroups),
        caps.subgroup_min_size,
        caps.subgroup_max_size
    );
    println!("f16            {}", yes(caps.f16));
    println!(
        "timestamps     {} (inside passes: {})",
        yes(caps.timestamps),
        yes(caps.timestamps_inside_passes)
    );
    println!("pipeline cache {}", yes(caps.pipeline_cache));
    let coop: Vec<String> = caps
        .coop_matrix_configs
        .iter()
        .map(|c| format!("{}x{}x{} {}->{}", c.m, c.n, c.k, c.ab, c.cr))
        .collect();
    println!(
        "coop matrix    {}{}",
        yes(caps.cooperative_matrix),
        if coop.is_empty() {
            String::new()
        } else {
            format!(" [{}]", coop.join(", "))
        }
    );
    println!("workgroup mem  {} KiB", caps.workgroup_memory_bytes / 1024);
    println!(
        "invocations    {} per workgroup",
        caps.max_invocations_per_workgroup
    );
    println!("max binding    {}", bytes(caps.max_storage_binding_bytes));
    println!("max buffer     {}", bytes(caps.max_buffer_bytes));
    println!(
        "storage bufs   {} per stage",
        caps.max_storage_buffers_per_stage
    );
    println!();
    println!(
        "tuning: {} (entry: {})",
        tuning.config,
        tuning
            .matched_entry
            .as_deref()
            .unwrap_or("none; heuristics")
    );
    let width = PARAMS
        .iter()
        .map(|p| p.family.len() + p.key.len() + 1)
        .max()
        .unwrap_or(0);
    for (name, r) in &tuning.params {
        let (family, key) = name.split_once('.').unwrap_or((name, ""));
        let var = spec(family, key).map(|s| s.env_var()).unwrap_or_default();
        println!(
            "  {name:width$}  {:>12}  {}  [{var}]",
            r.value.to_string(),
            r.source
        );
    }
    println!(
        "  effective storage binding: {} (tuning capped by the adapter)",
        bytes(gpu.max_binding_bytes())
    );
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

pub fn bytes(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.2} GiB", b as f64 / f64::from(1u32 << 30))
    } else if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20))
    } else {
        format!("{b} B")
    }
}

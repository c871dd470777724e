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
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    outln!("adapter        {}", caps.name);
    outln!("backend        {}", caps.backend);
    outln!("device type    {}", caps.device_type);
    outln!("driver         {} ({})", caps.driver, caps.driver_info);
    outln!(
        "subgroups      {} (size {}..{})",
        yes(caps.subgroups),
        caps.subgroup_min_size,
        caps.subgroup_max_size
    );
    outln!("f16            {}", yes(caps.f16));
    outln!(
        "timestamps     {} (inside passes: {})",
        yes(caps.timestamps),
        yes(caps.timestamps_inside_passes)
    );
    outln!("pipeline cache {}", yes(caps.pipeline_cache));
    let coop: Vec<String> = caps
        .coop_matrix_configs
        .iter()
        .map(|c| format!("{}x{}x{} {}->{}", c.m, c.n, c.k, c.ab, c.cr))
        .collect();
    outln!(
        "coop matrix    {}{}",
        yes(caps.cooperative_matrix),
        if coop.is_empty() {
            String::new()
        } else {
            format!(" [{}]", coop.join(", "))
        }
    );
    outln!("workgroup mem  {} KiB", caps.workgroup_memory_bytes / 1024);
    outln!(
        "invocations    {} per workgroup",
        caps.max_invocations_per_workgroup
    );
    outln!("max binding    {}", bytes(caps.max_storage_binding_bytes));
    outln!("max buffer     {}", bytes(caps.max_buffer_bytes));
    outln!(
        "storage bufs   {} per stage",
        caps.max_storage_buffers_per_stage
    );
    outln!();
    outln!(
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
        outln!(
            "  {name:width$}  {:>12}  {}  [{var}]",
            r.value.to_string(),
            r.source
        );
    }
    outln!(
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

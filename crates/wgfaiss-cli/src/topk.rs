//! `wgfaiss bench topk`.

use anyhow::{Context, Result, bail};
use serde::Serialize;
use wgfaiss::Gpu;
use wgfaiss::ops::stream::{Pattern, StreamRead};
use wgfaiss::ops::topk::{TopKOptions, TopKPlan};
use wgfaiss::rng::Rng;

use crate::bench::time;

#[derive(Debug, Serialize)]
struct Row {
    kernel: String,
    gpu_ms: Option<f64>,
    wall_ms: f64,
    gbps: Option<f64>,
    of_stream: Option<f64>,
}

pub fn bench(
    rows: usize,
    cols: usize,
    ks: &str,
    iters: usize,
    json: Option<std::path::PathBuf>,
) -> Result<()> {
    if rows == 0 || cols == 0 || iters == 0 {
        bail!("--rows, --cols and --iters must be positive");
    }
    let ks: Vec<usize> = ks
        .split(',')
        .map(|k| k.trim().parse().with_context(|| format!("bad k {k:?}")))
        .collect::<Result<_>>()?;
    let gpu = Gpu::new().context("opening a GPU")?;
    let n = rows * cols;
    eprintln!(
        "{rows} x {cols} = {n} values on {}",
        gpu.capabilities().name
    );
    let mut rng = Rng::new(5);
    let x = rng.vec(n);
    let data = gpu.upload_split(&x, cols)?;
    let bytes = n as f64 * 4.0;
    let mut out = Vec::new();
    let stream = StreamRead::new(&gpu, &data, 256, 4096, Pattern::GridStride)?;
    let (g, w) = time(&gpu, iters, &|b| stream.record(b))?;
    let stream_gbps = g.map(|g| stream.bytes() as f64 / g / 1e9);
    out.push(Row {
        kernel: "stream_read".into(),
        gpu_ms: g.map(|g| g * 1e3),
        wall_ms: w * 1e3,
        gbps: stream_gbps,
        of_stream: Some(1.0),
    });
    for &k in &ks {
        for largest in [false, true] {
            let plan = TopKPlan::new(&gpu, &data, rows, cols, k, largest, &TopKOptions::default())?;
            plan.poison(&gpu)?;
            let (g, w) = time(&gpu, iters, &|b| plan.record(b))?;
            let got = plan.read(&gpu)?;
            // Check 4 rows against a CPU sort.
            for r in [0, rows / 3, rows / 2, rows - 1] {
                let mut v: Vec<(f32, u32)> = x[r * cols..(r + 1) * cols]
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| (v, i as u32))
                    .collect();
                v.sort_by(|a, b| {
                    let o = if largest {
                        b.0.total_cmp(&a.0)
                    } else {
                        a.0.total_cmp(&b.0)
                    };
                    o.then(a.1.cmp(&b.1))
                });
                for (i, want) in v.iter().take(k).enumerate() {
                    if got.ids[r * k + i] != Some(want.1) {
                        bail!(
                            "k {k} row {r} rank {i}: id {:?}, CPU {}",
                            got.ids[r * k + i],
                            want.1
                        );
                    }
                }
            }
            let gbps = g.map(|g| bytes / g / 1e9);
            out.push(Row {
                kernel: format!(
                    "topk k={k} {} ({} pass{})",
                    if largest { "largest" } else { "smallest" },
                    plan.passes(),
                    if plan.passes() == 1 { "" } else { "es" }
                ),
                gpu_ms: g.map(|g| g * 1e3),
                wall_ms: w * 1e3,
                gbps,
                of_stream: gbps.zip(stream_gbps).map(|(a, b)| a / b),
            });
        }
    }
    outln!(
        "{:<36} {:>10} {:>10} {:>9} {:>8}",
        "kernel",
        "gpu ms",
        "wall ms",
        "GB/s",
        "%stream"
    );
    for r in &out {
        outln!(
            "{:<36} {:>10} {:>10.3} {:>9} {:>8}",
            r.kernel,
            r.gpu_ms.map_or("-".into(), |v| format!("{v:.3}")),
            r.wall_ms,
            r.gbps.map_or("-".into(), |v| format!("{v:.0}")),
            r.of_stream
                .map_or("-".into(), |v| format!("{:.0}%", v * 100.0))
        );
    }
    if let Some(path) = json {
        let j = serde_json::json!({ "adapter": gpu.capabilities().name, "rows": rows, "cols": cols, "results": out });
        std::fs::write(&path, serde_json::to_string_pretty(&j)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

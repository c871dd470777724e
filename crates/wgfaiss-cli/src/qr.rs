//! `wgfaiss bench qr`.

use anyhow::{Context, Result, bail};
use serde::Serialize;
use wgfaiss::Gpu;
use wgfaiss::ops::linalg::{QrBlocked, QrDot, QrProject, QrUpdate};
use wgfaiss::rng::Rng;

use crate::bench::time;

#[derive(Debug, Serialize)]
struct Row {
    m: usize,
    k: usize,
    kernel: String,
    gpu_us: Option<f64>,
    wall_us: f64,
    gbps: Option<f64>,
    max_rel_err: f64,
}

pub fn bench(shapes: &str, iters: usize, json: Option<std::path::PathBuf>) -> Result<()> {
    if iters == 0 {
        bail!("--iters must be positive");
    }
    let gpu = Gpu::new().context("opening a GPU")?;
    let mut rows = Vec::new();
    let mut rng = Rng::new(11);
    for s in shapes.split(',') {
        let dims: Vec<usize> = s
            .trim()
            .split('x')
            .map(|x| x.parse().with_context(|| format!("bad shape {s:?}")))
            .collect::<Result<_>>()?;
        let [m, k] = dims[..] else {
            bail!("bad shape {s:?}: expected MxK");
        };
        let q = rng.vec(m * k);
        let v = rng.vec(m);
        let (gq, gv) = (gpu.upload(&q)?, gpu.upload(&v)?);
        let gc = gpu.alloc::<f32>(k)?;
        let bytes = (m * k * 4 + m * 4) as f64;
        let mut forms = vec![QrDot::Simple];
        if gpu.capabilities().subgroups {
            forms.push(QrDot::Subgroup);
        }
        for form in forms {
            let plan = QrProject::new(&gpu, &gq, &gv, &gc, m, k, Some(form))?;
            gpu.write(&gc, &vec![f32::NAN; k])?;
            let (g, w) = time(&gpu, iters, &|b| plan.record(b))?;
            let c = gpu.read(&gc)?;
            let mut worst = 0.0f64;
            for j in (0..k).step_by((k / 16).max(1)) {
                let col = &q[j * m..(j + 1) * m];
                let (mut s, mut mag) = (0.0f64, 0.0f64);
                for (a, b) in col.iter().zip(&v) {
                    s += f64::from(*a) * f64::from(*b);
                    mag += (f64::from(*a) * f64::from(*b)).abs();
                }
                worst = worst.max((f64::from(c[j]) - s).abs() / mag.max(1e-30));
            }
            if worst.is_nan() || worst > 2.0 * (m as f64 + 2.0) * f64::from(f32::EPSILON) {
                bail!("{m}x{k} {form:?}: error {worst:.2e} against the f64 reference");
            }
            rows.push(Row {
                m,
                k,
                kernel: format!("c = Q^T v ({form:?})").to_lowercase(),
                gpu_us: g.map(|g| g * 1e6),
                wall_us: w * 1e6,
                gbps: g.map(|g| bytes / g / 1e9),
                max_rel_err: worst,
            });
        }
        let out = gpu.alloc::<f32>(m)?;
        let upd = QrUpdate::new(&gpu, &gq, &gc, &gv, &out, m, k)?;
        let (g, w) = time(&gpu, iters, &|b| upd.record(b))?;
        let (c, new_v) = (gpu.read(&gc)?, gpu.read(&out)?);
        let mut worst = 0.0f64;
        for i in (0..m).step_by((m / 16).max(1)) {
            let (mut s, mut mag) = (0.0f64, f64::from(v[i]).abs());
            for j in 0..k {
                let t = f64::from(q[j * m + i]) * f64::from(c[j]);
                s += t;
                mag += t.abs();
            }
            let want = f64::from(v[i]) - s;
            worst = worst.max((f64::from(new_v[i]) - want).abs() / mag.max(1e-30));
        }
        if worst.is_nan() || worst > 2.0 * (k as f64 + 2.0) * f64::from(f32::EPSILON) {
            bail!("{m}x{k} update: error {worst:.2e} against the f64 reference");
        }
        rows.push(Row {
            m,
            k,
            kernel: "v - Q c".into(),
            gpu_us: g.map(|g| g * 1e6),
            wall_us: w * 1e6,
            gbps: g.map(|g| bytes / g / 1e9),
            max_rel_err: worst,
        });
        // The whole factorisation, both forms (wall time: each submits and reads back
        // itself; median of up to 3 after a warm-up), checked for orthogonality on sample
        // columns.
        if k <= m {
            let forms: [(&str, Factorisation); 2] = [
                ("QR (MGS x2)", wgfaiss::ops::linalg::qr),
                ("QR (blocked CholQR)", wgfaiss::ops::linalg::qr_blocked),
            ];
            for (name, factor) in forms {
                factor(&gpu, &q, m, k)?;
                crate::bench::warm_clocks(&gpu)?;
                let (mut walls, mut gpus) = (Vec::new(), Vec::new());
                let mut f = None;
                for _ in 0..iters.min(3) {
                    let t = std::time::Instant::now();
                    let r = factor(&gpu, &q, m, k)?;
                    walls.push(t.elapsed().as_secs_f64());
                    gpus.extend(r.gpu_seconds);
                    f = Some(r);
                }
                walls.sort_by(f64::total_cmp);
                gpus.sort_by(f64::total_cmp);
                let f = f.expect("at least one run");
                rows.push(Row {
                    m,
                    k,
                    kernel: name.into(),
                    gpu_us: gpus.get(gpus.len() / 2).map(|g| g * 1e6),
                    wall_us: walls[walls.len() / 2] * 1e6,
                    gbps: None,
                    max_rel_err: orthogonality(&f.q, m, k),
                });
            }
            // The blocked QR of a matrix already on the device, Q left there (as
            // torch.linalg.qr works): plan (unless kept), record, one submission, R read back.
            // Then the same with the plan kept (a caller factoring one shape again and again).
            crate::bench::warm_clocks(&gpu)?;
            let mut kept: Option<QrBlocked> = None;
            for (name, keep) in [
                ("QR (blocked, resident)", false),
                ("QR (blocked, plan kept)", true),
            ] {
                let (mut walls, mut gpus) = (Vec::new(), Vec::new());
                // The first run (pipelines) is left out.
                for run in 0..iters.min(5) + 1 {
                    let t = std::time::Instant::now();
                    let plan = match kept.take() {
                        Some(p) if keep => p,
                        _ => QrBlocked::new(&gpu, &gq, m, k)?,
                    };
                    let mut batch = gpu.batch(true);
                    plan.record(&mut batch);
                    batch.read_after(&plan.ranges());
                    let report = batch.finish()?;
                    plan.r_factor(report.reads.into_iter())?;
                    if run > 0 {
                        walls.push(t.elapsed().as_secs_f64());
                        gpus.extend(report.gpu_seconds);
                    }
                    kept = Some(plan);
                }
                walls.sort_by(f64::total_cmp);
                gpus.sort_by(f64::total_cmp);
                let q_dev = gpu.read(kept.as_ref().expect("a run").q())?;
                rows.push(Row {
                    m,
                    k,
                    kernel: name.into(),
                    gpu_us: gpus.get(gpus.len() / 2).map(|g| g * 1e6),
                    wall_us: walls[walls.len() / 2] * 1e6,
                    gbps: None,
                    max_rel_err: orthogonality(&q_dev, m, k),
                });
            }
        }
    }
    outln!(
        "{:<12} {:<22} {:>10} {:>10} {:>8} {:>9}",
        "MxK",
        "kernel",
        "gpu us",
        "wall us",
        "GB/s",
        "err"
    );
    for r in &rows {
        outln!(
            "{:<12} {:<22} {:>10} {:>10.1} {:>8} {:>9.1e}",
            format!("{}x{}", r.m, r.k),
            r.kernel,
            r.gpu_us.map_or("-".into(), |v| format!("{v:.1}")),
            r.wall_us,
            r.gbps.map_or("-".into(), |v| format!("{v:.0}")),
            r.max_rel_err
        );
    }
    if let Some(path) = json {
        let out = serde_json::json!({ "adapter": gpu.capabilities().name, "rows": rows });
        std::fs::write(&path, serde_json::to_string_pretty(&out)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// A factorisation of `ops::linalg`.
type Factorisation = fn(&Gpu, &[f32], usize, usize) -> wgfaiss::Result<wgfaiss::ops::linalg::Qr>;

/// The largest |QᵀQ − I| entry over sample column pairs (Q column-major, `m × k`).
fn orthogonality(q: &[f32], m: usize, k: usize) -> f64 {
    let mut worst = 0.0f64;
    for a in (0..k).step_by((k / 8).max(1)) {
        for b in (0..k).step_by((k / 8).max(1)) {
            let dot: f64 = (0..m)
                .map(|i| f64::from(q[a * m + i]) * f64::from(q[b * m + i]))
                .sum();
            worst = worst.max((dot - if a == b { 1.0 } else { 0.0 }).abs());
        }
    }
    worst
}

//! `wgfaiss bench flat`: exact search with the flat index on random data (the issue's
//! 1M x 128, 10 000 queries shape by default), batch and single-query, checked against a CPU
//! brute force on a sample of queries.

use crate::bench::median;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use wgfaiss::rng::Rng;
use wgfaiss::{FlatIndex, Gpu, Index, Metric, SearchParams};

#[derive(Debug, Serialize)]
struct Row {
    case: String,
    nq: usize,
    k: usize,
    gpu_ms: Option<f64>,
    wall_ms: f64,
    qps: f64,
    checked: usize,
}

/// Ids of the CPU brute force for query `q` (f64, ties by id).
fn cpu_topk(base: &[f32], q: &[f32], d: usize, k: usize, metric: Metric) -> Vec<(f64, i64)> {
    let mut all: Vec<(f64, i64)> = base
        .chunks_exact(d)
        .enumerate()
        .map(|(i, x)| {
            let v: f64 = match metric {
                Metric::L2 => q
                    .iter()
                    .zip(x)
                    .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                    .sum(),
                _ => -q
                    .iter()
                    .zip(x)
                    .map(|(&a, &b)| f64::from(a) * f64::from(b))
                    .sum::<f64>(),
            };
            (v, i as i64)
        })
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.truncate(k);
    all
}

#[allow(clippy::too_many_arguments)]
pub fn bench(
    nb: usize,
    nq: usize,
    dims: &str,
    ks: &str,
    metric: &str,
    iters: usize,
    single: usize,
    json: Option<std::path::PathBuf>,
) -> Result<()> {
    let parse = |s: &str, what: &str| -> Result<Vec<usize>> {
        s.split(',')
            .map(|v| {
                v.trim()
                    .parse()
                    .with_context(|| format!("bad {what} {v:?}"))
            })
            .collect()
    };
    let dims = parse(dims, "dimension")?;
    let ks = parse(ks, "k")?;
    if nb == 0 || nq == 0 || iters == 0 {
        bail!("--nb, --nq and --iters must be positive");
    }
    let metric: Metric = metric.parse()?;
    let gpu = Gpu::new().context("opening a GPU")?;
    eprintln!("flat search on {}", gpu.capabilities().name);
    let mut rows = Vec::new();
    for &d in &dims {
        let mut rng = Rng::new(7 + d as u64);
        let base: Vec<f32> = rng.vec(nb * d);
        let queries: Vec<f32> = rng.vec(nq * d);
        let t0 = Instant::now();
        let mut index = FlatIndex::new(&gpu, d, metric)?;
        index.add(&base)?;
        eprintln!(
            "d={d}: added {nb} vectors in {:.2} s",
            t0.elapsed().as_secs_f64()
        );
        let timed = SearchParams {
            timed: true,
            ..Default::default()
        };
        for &k in &ks {
            // Batch: warm-up, then `iters` timed runs.
            let first = index.search(&queries, k, &timed)?;
            let mut checked = 0;
            for qi in [0, nq / 2, nq - 1] {
                let want = cpu_topk(&base, &queries[qi * d..(qi + 1) * d], d, k, metric);
                let got = first.ids_of(qi);
                // Ids must match where the reference's neighbours are clear of each other.
                for (j, w) in want.iter().enumerate() {
                    let clear = |o: Option<&(f64, i64)>| {
                        o.is_none_or(|o| (o.0 - w.0).abs() > 1e-4 * (1.0 + w.0.abs()))
                    };
                    if clear(j.checked_sub(1).and_then(|i| want.get(i)))
                        && clear(want.get(j + 1))
                        && got[j] != w.1
                    {
                        bail!(
                            "d={d} k={k} query {qi} rank {j}: id {} but CPU {}",
                            got[j],
                            w.1
                        );
                    }
                }
                checked += 1;
            }
            let (mut g, mut w) = (Vec::new(), Vec::new());
            crate::bench::warm_clocks(&gpu)?;
            for _ in 0..iters {
                let t = Instant::now();
                let r = index.search(&queries, k, &timed)?;
                w.push(t.elapsed().as_secs_f64());
                if let Some(s) = r.gpu_seconds {
                    g.push(s);
                }
            }
            let wall = median(w);
            rows.push(Row {
                case: format!("d={d} batch"),
                nq,
                k,
                gpu_ms: (!g.is_empty()).then(|| median(g) * 1e3),
                wall_ms: wall * 1e3,
                qps: nq as f64 / wall,
                checked,
            });
            // Single queries, one search call each.
            if single > 0 {
                let (mut g, mut w) = (Vec::new(), Vec::new());
                for i in 0..single + 3 {
                    let qi = i % nq;
                    let t = Instant::now();
                    let r = index.search(&queries[qi * d..(qi + 1) * d], k, &timed)?;
                    if i >= 3 {
                        w.push(t.elapsed().as_secs_f64());
                        if let Some(s) = r.gpu_seconds {
                            g.push(s);
                        }
                    }
                }
                let wall = median(w);
                rows.push(Row {
                    case: format!("d={d} single"),
                    nq: 1,
                    k,
                    gpu_ms: (!g.is_empty()).then(|| median(g) * 1e3),
                    wall_ms: wall * 1e3,
                    qps: 1.0 / wall,
                    checked: 0,
                });
            }
        }
    }
    outln!(
        "{:<14} {:>7} {:>6} {:>10} {:>10} {:>12}",
        "case",
        "nq",
        "k",
        "gpu ms",
        "wall ms",
        "QPS"
    );
    for r in &rows {
        outln!(
            "{:<14} {:>7} {:>6} {:>10} {:>10.3} {:>12.0}",
            r.case,
            r.nq,
            r.k,
            r.gpu_ms.map_or("-".into(), |v| format!("{v:.3}")),
            r.wall_ms,
            r.qps
        );
    }
    if let Some(path) = json {
        let j = serde_json::json!({ "adapter": gpu.capabilities().name, "nb": nb, "metric": format!("{metric:?}"), "results": rows });
        std::fs::write(&path, serde_json::to_string_pretty(&j)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

//! `wgfaiss bench flat`: search with the flat index on random data (the 1M x 128,
//! 10 000 queries shape by default), batch and single-query, exact results checked against a
//! CPU brute force on a sample of queries; the f16 precision mode (`--precisions exact,f16`)
//! reports its recall against the exact search of the same batch.

use crate::bench::median;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use wgfaiss::rng::Rng;
use wgfaiss::{FlatIndex, Gpu, Index, Metric, Precision, SearchParams};

#[derive(Debug, Serialize)]
struct Row {
    case: String,
    precision: String,
    nq: usize,
    k: usize,
    gpu_ms: Option<f64>,
    wall_ms: f64,
    qps: f64,
    checked: usize,
    /// Recall@k against the exact search (f16 precision).
    recall: Option<f64>,
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

/// Recall@k of `got` against `want` (both `nq × k` ids, -1 padding ignored).
fn recall_of(got: &[i64], want: &[i64], k: usize) -> f64 {
    let (mut hit, mut total) = (0usize, 0usize);
    for (g, w) in got.chunks(k).zip(want.chunks(k)) {
        let w: std::collections::HashSet<i64> = w.iter().copied().filter(|&i| i >= 0).collect();
        hit += g.iter().filter(|i| w.contains(i)).count();
        total += w.len();
    }
    hit as f64 / total.max(1) as f64
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
    (precisions, rerank): (&str, usize),
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
    let precisions: Vec<Precision> = precisions
        .split(',')
        .map(|p| p.trim().parse())
        .collect::<wgfaiss::Result<_>>()?;
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
            // The f32 batch: the reference of the CPU check and of the other precisions'
            // recall.
            let reference = SearchParams {
                precision: Precision::F32,
                ..timed
            };
            let exact = index.search(&queries, k, &reference)?;
            let mut checked = 0;
            for qi in [0, nq / 2, nq - 1] {
                let want = cpu_topk(&base, &queries[qi * d..(qi + 1) * d], d, k, metric);
                let got = exact.ids_of(qi);
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
            for &precision in &precisions {
                let params = SearchParams {
                    precision,
                    rerank,
                    ..timed
                };
                let name = format!("{precision:?}").to_lowercase();
                let path = index.exact_path(nq, k, precision);
                if precision == Precision::Exact {
                    eprintln!(
                        "d={d} k={k} exact: {nq} queries take the {path:?} path, one query the {:?} path",
                        index.exact_path(1, k, precision)
                    );
                }
                if matches!(precision, Precision::F16 | Precision::F16Verified) {
                    // The f16 modes keep at most MAX_CANDIDATES candidates: say so for a
                    // larger k and go on with the other cases.
                    if let Err(e) = wgfaiss::ops::knn_half::candidates(k, rerank) {
                        eprintln!("d={d} k={k} f16: skipped ({e})");
                        continue;
                    }
                }
                let before = index.verified_fallbacks();
                let recall = if precision == Precision::F32 {
                    None
                } else {
                    let first = index.search(&queries, k, &params)?;
                    Some(recall_of(&first.ids, &exact.ids, k))
                };
                if path == Precision::F16Verified {
                    eprintln!(
                        "d={d} k={k} {name}: the proof failed for {} of {nq} queries (searched again in f32)",
                        index.verified_fallbacks() - before
                    );
                }
                let (mut g, mut w) = (Vec::new(), Vec::new());
                crate::bench::warm_clocks(&gpu)?;
                for _ in 0..iters {
                    let t = Instant::now();
                    let r = index.search(&queries, k, &params)?;
                    w.push(t.elapsed().as_secs_f64());
                    if let Some(s) = r.gpu_seconds {
                        g.push(s);
                    }
                }
                let wall = median(w);
                rows.push(Row {
                    case: format!("d={d} batch"),
                    precision: name.clone(),
                    nq,
                    k,
                    gpu_ms: (!g.is_empty()).then(|| median(g) * 1e3),
                    wall_ms: wall * 1e3,
                    qps: nq as f64 / wall,
                    checked: if recall.is_none() { checked } else { 0 },
                    recall,
                });
                // Single queries, one search call each: blocking, then through `search_async`
                // under pollster (the device's polling thread completes the readback; its GPU
                // time is not reported).
                if single > 0 {
                    type Search<'a> = &'a dyn Fn(&[f32]) -> wgfaiss::Result<wgfaiss::SearchResult>;
                    let single_row = |case: &str, search: Search<'_>, gpu: bool| -> Result<Row> {
                        let (mut g, mut w) = (Vec::new(), Vec::new());
                        for i in 0..single + 3 {
                            let qi = i % nq;
                            let t = Instant::now();
                            let r = search(&queries[qi * d..(qi + 1) * d])?;
                            if i >= 3 {
                                w.push(t.elapsed().as_secs_f64());
                                if let Some(s) = r.gpu_seconds.filter(|_| gpu) {
                                    g.push(s);
                                }
                            }
                        }
                        let wall = median(w);
                        Ok(Row {
                            case: format!("d={d} {case}"),
                            precision: name.clone(),
                            nq: 1,
                            k,
                            gpu_ms: (!g.is_empty()).then(|| median(g) * 1e3),
                            wall_ms: wall * 1e3,
                            qps: 1.0 / wall,
                            checked: 0,
                            recall: None,
                        })
                    };
                    rows.push(single_row(
                        "single",
                        &|q| index.search(q, k, &params),
                        true,
                    )?);
                    rows.push(single_row(
                        "async",
                        &|q| pollster::block_on(index.search_async(q, k, &params)),
                        false,
                    )?);
                }
            }
        }
    }
    outln!(
        "{:<14} {:<6} {:>7} {:>6} {:>10} {:>10} {:>12} {:>8}",
        "case",
        "prec",
        "nq",
        "k",
        "gpu ms",
        "wall ms",
        "QPS",
        "recall"
    );
    for r in &rows {
        outln!(
            "{:<14} {:<6} {:>7} {:>6} {:>10} {:>10.3} {:>12.0} {:>8}",
            r.case,
            r.precision,
            r.nq,
            r.k,
            r.gpu_ms.map_or("-".into(), |v| format!("{v:.3}")),
            r.wall_ms,
            r.qps,
            r.recall.map_or("-".into(), |v| format!("{v:.4}"))
        );
    }
    if let Some(path) = json {
        let j = serde_json::json!({ "adapter": gpu.capabilities().name, "nb": nb, "metric": format!("{metric:?}"), "results": rows });
        std::fs::write(&path, serde_json::to_string_pretty(&j)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

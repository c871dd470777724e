//! `wgfaiss bench dataset`: a dataset (base, queries, optional ground truth) and index
//! descriptions; each index is built once, then every (k, nprobe) pair is searched: recall@1/10/100
//! against the ground truth, QPS of the whole query batch, GPU time, and latency percentiles of
//! single-query calls. A table on stdout, optional JSON and an SVG plot of recall@10 against QPS
//! (ann-benchmarks style; peers' JSON files drawn beside ours).

use crate::bench::median;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use wgfaiss::io::{Matrix, read_ids, read_vectors};
use wgfaiss::{FlatIndex, Gpu, Index, Metric, SearchParams, index_factory_with};

use crate::search::{add_with_progress, bar};

/// What the command was asked for (`wgfaiss bench dataset`'s options).
#[derive(clap::Args)]
pub struct Args {
    /// Base vectors: .fvecs, .bvecs, .npy or IDX (optionally .gz).
    #[arg(long)]
    pub base: PathBuf,
    /// Query vectors, same formats.
    #[arg(long)]
    pub queries: PathBuf,
    /// Ground-truth ids (.ivecs or .npy, one row per query); computed with the flat index
    /// when absent.
    #[arg(long)]
    pub gt: Option<PathBuf>,
    /// Semicolon-separated index descriptions ("Flat;IVF1024,Flat").
    #[arg(long = "index-type", default_value = "Flat;IVF1024,Flat")]
    pub index_types: String,
    /// l2, ip or cosine.
    #[arg(long, default_value = "l2")]
    pub metric: String,
    /// Comma-separated k values.
    #[arg(long, default_value = "10")]
    pub k: String,
    /// Comma-separated nprobe values (IVF indexes; values above nlist are skipped).
    #[arg(long, default_value = "1,2,4,8,16,32,64,128")]
    pub nprobe: String,
    /// Use only the first N queries (0: all).
    #[arg(long, default_value_t = 0)]
    pub max_queries: usize,
    /// Timed batch searches per case (median reported).
    #[arg(long, default_value_t = 3)]
    pub iters: usize,
    /// Single-query searches per case for the latency percentiles (0: none).
    #[arg(long, default_value_t = 100)]
    pub latency: usize,
    /// k-means iterations (IVF).
    #[arg(long, default_value_t = 20)]
    pub niter: usize,
    /// k-means seed (IVF).
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,
    /// Dataset name in the table, JSON and plot (default: the base file's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Write all results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write an SVG plot of recall@10 against QPS to this file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Peer results to draw beside ours (JSON from scripts/peer_dataset.py); repeatable.
    #[arg(long = "peer")]
    pub peers: Vec<PathBuf>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// One measured (index, k, nprobe) case. Peers' scripts write the same fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// Index description (peers prefix their library: "faiss-cpu IVF4096,Flat").
    pub index: String,
    /// Neighbours asked for.
    pub k: usize,
    /// Lists probed (0 for exact indexes).
    pub nprobe: usize,
    /// Recall@1: fraction of queries whose true nearest neighbour is the first result.
    pub recall_1: Option<f64>,
    /// Recall@10: |first 10 results ∩ true 10 nearest| / 10, averaged over queries.
    pub recall_10: Option<f64>,
    /// Recall@100 (k ≥ 100).
    pub recall_100: Option<f64>,
    /// Queries per second of the whole batch (wall clock, median of the timed runs).
    pub qps: f64,
    /// Wall time of the batch, ms.
    pub batch_ms: f64,
    /// GPU time of the batch from timestamps, ms (when the adapter has them).
    #[serde(default)]
    pub gpu_ms: Option<f64>,
    /// Single-query latency percentiles, ms.
    #[serde(default)]
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    #[serde(default)]
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    #[serde(default)]
    pub p99_ms: Option<f64>,
}

/// The JSON document (ours and peers').
#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    /// Dataset name.
    pub dataset: String,
    /// Adapter (or peer machine) name.
    pub adapter: String,
    /// Base vectors.
    pub nb: usize,
    /// Queries.
    pub nq: usize,
    /// Dimension.
    pub d: usize,
    /// Metric.
    pub metric: String,
    /// Build times per index description: (description, train s, add s).
    #[serde(default)]
    pub builds: Vec<(String, f64, f64)>,
    /// Measured cases.
    pub results: Vec<Row>,
}

fn list(s: &str, what: &str) -> Result<Vec<usize>> {
    s.split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            t.trim()
                .parse()
                .with_context(|| format!("bad {what} value {t:?}"))
        })
        .collect()
}

/// `nlist` of a description with an `IVF<nlist>` part (`IVF4096,Flat`, `PCA64,IVF1024,Flat`),
/// `None` for exact indexes.
fn nlist_of(spec: &str) -> Option<usize> {
    spec.split(',').find_map(|part| {
        let p = part.trim();
        p.strip_prefix("IVF")
            .or_else(|| p.strip_prefix("ivf"))?
            .trim()
            .parse()
            .ok()
    })
}

/// Recall@r of `found` (k per row) against `truth` (its own width per row), or `None` when
/// either side has fewer than r columns.
pub fn recall_at(found: &[i64], k: usize, truth: &Matrix<i64>, nq: usize, r: usize) -> Option<f64> {
    if r > k || r > truth.cols || nq == 0 {
        return None;
    }
    let mut hits = 0usize;
    for q in 0..nq {
        let t = &truth.data[q * truth.cols..q * truth.cols + r];
        hits += found[q * k..q * k + r]
            .iter()
            .filter(|&&id| id >= 0 && t.contains(&id))
            .count();
    }
    Some(hits as f64 / (nq * r) as f64)
}

/// The p-th percentile (0..=100) of sorted values, nearest rank.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// `wgfaiss bench dataset`.
pub fn run(a: Args) -> Result<()> {
    let metric: Metric = a.metric.parse()?;
    let ks = list(&a.k, "k")?;
    let nprobes = list(&a.nprobe, "nprobe")?;
    if ks.is_empty() || ks.contains(&0) {
        bail!("--k needs positive values");
    }
    if nprobes.is_empty() || nprobes.contains(&0) {
        bail!("--nprobe needs positive values");
    }
    let specs: Vec<String> = a
        .index_types
        .split(';')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if specs.is_empty() {
        bail!("--index-type is empty");
    }
    let base = read_vectors(&a.base)?;
    let mut queries = read_vectors(&a.queries)?;
    if base.cols != queries.cols {
        bail!(
            "{} has dimension {} but {} has dimension {}",
            a.base.display(),
            base.cols,
            a.queries.display(),
            queries.cols
        );
    }
    if a.max_queries > 0 && queries.rows > a.max_queries {
        queries.rows = a.max_queries;
        queries.data.truncate(a.max_queries * queries.cols);
    }
    let (nq, d) = (queries.rows, queries.cols);
    if nq == 0 || base.rows == 0 {
        bail!("empty base or query file");
    }
    let dataset = a.name.clone().unwrap_or_else(|| {
        a.base
            .file_name()
            .map_or("dataset".into(), |n| n.to_string_lossy().into_owned())
    });
    let gpu = Gpu::new().context("opening a GPU")?;
    let adapter = gpu.capabilities().name.clone();
    eprintln!(
        "{dataset}: {} base, {nq} queries, d = {d}, {metric:?}, on {adapter}",
        base.rows
    );
    let kmax = *ks.iter().max().expect("non-empty");
    let truth = match &a.gt {
        Some(path) => {
            let t = read_ids(path)?;
            if t.rows < nq {
                bail!(
                    "{} has {} rows of ground truth for {nq} queries",
                    path.display(),
                    t.rows
                );
            }
            t
        }
        None => exact(&gpu, &base, &queries, metric, kmax.max(100), a.quiet)?,
    };
    let mut report = Report {
        dataset,
        adapter,
        nb: base.rows,
        nq,
        d,
        metric: a.metric.clone(),
        builds: Vec::new(),
        results: Vec::new(),
    };
    for spec in &specs {
        let mut index = index_factory_with(&gpu, d, spec, metric, Some((a.niter, a.seed)))?;
        let t = Instant::now();
        let spin = bar(a.quiet, None, "training");
        index
            .train(&base.data)
            .with_context(|| format!("training {spec}"))?;
        spin.finish_and_clear();
        let train_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        add_with_progress(index.as_mut(), &base, a.quiet)?;
        let add_s = t.elapsed().as_secs_f64();
        eprintln!("{spec}: trained in {train_s:.2} s, added in {add_s:.2} s");
        report.builds.push((spec.clone(), train_s, add_s));
        let probes: Vec<usize> = match nlist_of(spec) {
            Some(nlist) => nprobes.iter().copied().filter(|&p| p <= nlist).collect(),
            None => vec![0],
        };
        let cases = bar(a.quiet, Some((ks.len() * probes.len()) as u64), "searching");
        for &k in &ks {
            for &nprobe in &probes {
                report.results.push(measure(
                    &gpu,
                    index.as_ref(),
                    spec,
                    &queries,
                    &truth,
                    k,
                    nprobe,
                    &a,
                )?);
                cases.inc(1);
            }
        }
        cases.finish_and_clear();
    }
    print_table(&report);
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &a.plot {
        let peers = a
            .peers
            .iter()
            .map(|p| load(p))
            .collect::<Result<Vec<_>>>()?;
        plot(path, &report, &peers)?;
    }
    Ok(())
}

/// A results file of this command's schema.
fn load(path: &Path) -> Result<Report> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a results file of this schema", path.display()))
}

/// `wgfaiss bench plot`: the plot from saved results.
pub fn replot(results: &Path, peers: &[PathBuf], out: &Path) -> Result<()> {
    let ours = load(results)?;
    let peers = peers.iter().map(|p| load(p)).collect::<Result<Vec<_>>>()?;
    plot(out, &ours, &peers)
}

/// Exact neighbours with the flat index (the ground truth when none is given).
fn exact(
    gpu: &Gpu,
    base: &Matrix<f32>,
    queries: &Matrix<f32>,
    metric: Metric,
    k: usize,
    quiet: bool,
) -> Result<Matrix<i64>> {
    let k = k.min(base.rows).min(2048);
    let mut flat = FlatIndex::new(gpu, base.cols, metric)?;
    add_with_progress(&mut flat, base, quiet)?;
    let spin = bar(quiet, None, "exact k-NN");
    let r = flat.search(&queries.data, k, &SearchParams::default())?;
    spin.finish_and_clear();
    Ok(Matrix {
        rows: queries.rows,
        cols: k,
        data: r.ids,
    })
}

#[allow(clippy::too_many_arguments)]
fn measure(
    index_gpu: &Gpu,
    index: &dyn Index,
    spec: &str,
    queries: &Matrix<f32>,
    truth: &Matrix<i64>,
    k: usize,
    nprobe: usize,
    a: &Args,
) -> Result<Row> {
    let (nq, d) = (queries.rows, queries.cols);
    let params = SearchParams {
        nprobe: nprobe.max(1),
        timed: true,
        ..Default::default()
    };
    let first = index
        .search(&queries.data, k, &params)
        .with_context(|| format!("{spec}, k = {k}, nprobe = {nprobe}"))?;
    let (mut wall, mut gpu) = (Vec::new(), Vec::new());
    crate::bench::warm_clocks(index_gpu)?;
    for _ in 0..a.iters.max(1) {
        let t = Instant::now();
        let r = index.search(&queries.data, k, &params)?;
        wall.push(t.elapsed().as_secs_f64());
        gpu.extend(r.gpu_seconds);
    }
    let mut single = Vec::with_capacity(a.latency);
    for i in 0..a.latency {
        let q = &queries.data[(i % nq) * d..(i % nq + 1) * d];
        let t = Instant::now();
        index.search(q, k, &params)?;
        single.push(t.elapsed().as_secs_f64() * 1e3);
    }
    single.sort_by(f64::total_cmp);
    let pct = |p| (!single.is_empty()).then(|| percentile(&single, p));
    let batch = median(wall);
    let recall = |r| recall_at(&first.ids, k, truth, nq, r);
    Ok(Row {
        index: spec.to_string(),
        k,
        nprobe,
        recall_1: recall(1),
        recall_10: recall(10),
        recall_100: recall(100),
        qps: nq as f64 / batch,
        batch_ms: batch * 1e3,
        gpu_ms: (!gpu.is_empty()).then(|| median(gpu) * 1e3),
        p50_ms: pct(50.0),
        p95_ms: pct(95.0),
        p99_ms: pct(99.0),
    })
}

fn print_table(r: &Report) {
    outln!(
        "{} ({} x {}, {} queries, {}) on {}",
        r.dataset,
        r.nb,
        r.d,
        r.nq,
        r.metric,
        r.adapter
    );
    outln!(
        "{:<18} {:>5} {:>6} {:>8} {:>8} {:>8} {:>11} {:>10} {:>9} {:>8} {:>8} {:>8}",
        "index",
        "k",
        "nprobe",
        "R@1",
        "R@10",
        "R@100",
        "QPS",
        "batch ms",
        "gpu ms",
        "p50 ms",
        "p95 ms",
        "p99 ms"
    );
    for x in &r.results {
        outln!(
            "{:<18} {:>5} {:>6} {:>8} {:>8} {:>8} {:>11.0} {:>10.2} {:>9} {:>8} {:>8} {:>8}",
            x.index,
            x.k,
            if x.nprobe == 0 {
                "-".to_string()
            } else {
                x.nprobe.to_string()
            },
            ms(x.recall_1, 4),
            ms(x.recall_10, 4),
            ms(x.recall_100, 4),
            x.qps,
            x.batch_ms,
            ms(x.gpu_ms, 2),
            ms(x.p50_ms, 3),
            ms(x.p95_ms, 3),
            ms(x.p99_ms, 3)
        );
    }
}

/// One line per (source, index, k) in the recall@10–QPS plane.
type Series = (String, Vec<(f64, f64)>);

fn series(r: &Report, prefix: &str) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for x in &r.results {
        let Some(rec) = x.recall_10 else { continue };
        let name = format!("{prefix}{} k={}", x.index, x.k);
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, pts)) => pts.push((rec, x.qps)),
            None => out.push((name, vec![(rec, x.qps)])),
        }
    }
    for (_, pts) in &mut out {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// An axis label for a QPS value: 1.5M, 36k, 950.
fn qps_label(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Recall@10 (x) against QPS (y, log scale), ours and the peers', as an SVG file.
pub fn plot(path: &Path, ours: &Report, peers: &[Report]) -> Result<()> {
    let mut all = series(ours, "wgfaiss ");
    for p in peers {
        all.extend(series(p, ""));
    }
    if all.is_empty() {
        bail!("nothing to plot: no case has recall@10 (k >= 10 and ground truth of >= 10)");
    }
    let qps = all.iter().flat_map(|(_, p)| p.iter().map(|v| v.1));
    let (lo, hi) = qps.fold((f64::INFINITY, 0.0f64), |(l, h), v| (l.min(v), h.max(v)));
    let (lo, hi) = ((lo / 2.0).max(1e-3), hi * 2.0);
    let rmin = all
        .iter()
        .flat_map(|(_, p)| p.iter().map(|v| v.0))
        .fold(1.0f64, f64::min);
    let x0 = (rmin * 10.0).floor() / 10.0;
    let root = SVGBackend::new(path, (900, 600)).into_drawing_area();
    let draw = |e: &dyn std::fmt::Display| anyhow::anyhow!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| draw(&e))?;
    let title = format!(
        "{} ({} x {}) — {}",
        ours.dataset, ours.nb, ours.d, ours.adapter
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x0.min(0.9)..1.0, (lo..hi).log_scale())
        .map_err(|e| draw(&e))?;
    chart
        .configure_mesh()
        .x_desc("recall@10")
        .y_desc("queries per second (log scale)")
        .y_label_formatter(&|v| qps_label(*v))
        .draw()
        .map_err(|e| draw(&e))?;
    for (i, (name, pts)) in all.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .map_err(|e| draw(&e))?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(|e| draw(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| draw(&e))?;
    root.present().map_err(|e| draw(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_counts_the_first_r_only() {
        let truth = Matrix {
            rows: 2,
            cols: 3,
            data: vec![1, 2, 3, 4, 5, 6],
        };
        // Query 0 finds 1 first; query 1 finds 6 first (not its nearest).
        let found = vec![1, 3, -1, 6, 4, 5];
        assert_eq!(recall_at(&found, 3, &truth, 2, 1), Some(0.5));
        // Top 2: {1,3} ∩ {1,2} = 1; {6,4} ∩ {4,5} = 1.
        assert_eq!(recall_at(&found, 3, &truth, 2, 2), Some(0.5));
        assert_eq!(recall_at(&found, 3, &truth, 2, 3), Some(5.0 / 6.0));
        assert_eq!(recall_at(&found, 3, &truth, 2, 10), None);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[3.0], 99.0), 3.0);
        assert_eq!(nlist_of("IVF4096,Flat"), Some(4096));
        assert_eq!(nlist_of("PCA64,IVF1024,Flat"), Some(1024));
        assert_eq!(nlist_of("PCAW32,Flat"), None);
        assert_eq!(nlist_of("Flat"), None);
    }
}

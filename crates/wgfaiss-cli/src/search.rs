//! `wgfaiss build` and `wgfaiss search`.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use wgfaiss::io::{Matrix, read_vectors, write_ids, write_vectors};
use wgfaiss::{
    FlatIndex, Gpu, Index, Metric, ScanMode, SearchParams, index_factory_with, load_index,
};

/// Progress on stderr, hidden with `--quiet` or when stdout is not a terminal.
pub(crate) fn bar(quiet: bool, len: Option<u64>, what: &str) -> ProgressBar {
    if quiet || !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let b = match len {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{msg:>10} [{bar:40}] {pos}/{len} {elapsed_precise} eta {eta}",
            )
            .expect("template")
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{msg:>10} {spinner} {elapsed_precise}")
                .expect("template"),
        ),
    };
    b.set_message(what.to_string());
    b.enable_steady_tick(Duration::from_millis(200));
    b
}

/// Adds `data` in slices with a progress bar.
pub(crate) fn add_with_progress(
    index: &mut dyn Index,
    data: &Matrix<f32>,
    quiet: bool,
) -> Result<()> {
    let b = bar(quiet, Some(data.rows as u64), "adding");
    let step = (data.rows / 20).max(65_536).max(1);
    for part in data.data.chunks(step * data.cols) {
        index.add(part)?;
        b.inc((part.len() / data.cols) as u64);
    }
    b.finish_and_clear();
    Ok(())
}

/// `wgfaiss build`: trains and fills an index from a base file and saves it.
pub fn build(
    spec: &str,
    metric: &str,
    base: &Path,
    out: &Path,
    seed: u64,
    niter: usize,
    quiet: bool,
) -> Result<()> {
    let metric: Metric = metric.parse()?;
    let b = read_vectors(base)?;
    let gpu = Gpu::new().context("opening a GPU")?;
    let mut index = index_factory_with(&gpu, b.cols, spec, metric, Some((niter, seed)))?;
    let t0 = Instant::now();
    let spin = bar(quiet, None, "training");
    index
        .train(&b.data)
        .with_context(|| format!("training on {}", base.display()))?;
    spin.finish_and_clear();
    let trained = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    add_with_progress(index.as_mut(), &b, quiet)?;
    let added = t1.elapsed().as_secs_f64();
    index.save(out)?;
    eprintln!(
        "{spec} ({metric:?}) over {} vectors of {} on {}: trained in {trained:.2} s, added in {added:.2} s; wrote {}",
        b.rows,
        b.cols,
        gpu.capabilities().name,
        out.display()
    );
    Ok(())
}

/// Where `search` gets its index.
pub enum Source<'a> {
    /// Exact search over a base file.
    Base(&'a Path, &'a str),
    /// A saved index.
    Index(&'a Path),
}

/// An IVF scan by name: `auto` (the tuning's `ivf.scan`), `fused` or `keys`.
pub fn parse_scan(s: &str) -> Result<Option<ScanMode>> {
    if s == "auto" {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| anyhow::anyhow!("bad scan {s:?}: expected auto, fused or keys"))
}

/// `wgfaiss search`.
#[allow(clippy::too_many_arguments)]
pub fn search(
    source: Source<'_>,
    queries: &Path,
    k: usize,
    nprobe: usize,
    (scan, precision): (&str, &str),
    out: &Path,
    distances: Option<&Path>,
    quiet: bool,
) -> Result<()> {
    let scan = parse_scan(scan)?;
    let precision: wgfaiss::Precision = precision.parse()?;
    let q = read_vectors(queries)?;
    let gpu = Gpu::new().context("opening a GPU")?;
    let t0 = Instant::now();
    let index: Box<dyn Index> = match source {
        Source::Base(base, metric) => {
            let metric: Metric = metric.parse()?;
            let b = read_vectors(base)?;
            if b.cols != q.cols {
                bail!(
                    "{} has dimension {} but {} has dimension {}",
                    base.display(),
                    b.cols,
                    queries.display(),
                    q.cols
                );
            }
            let mut flat = FlatIndex::new(&gpu, b.cols, metric)?;
            add_with_progress(&mut flat, &b, quiet)?;
            Box::new(flat)
        }
        Source::Index(path) => {
            let index = load_index(&gpu, path)?;
            if index.dim() != q.cols {
                bail!(
                    "{} has dimension {} but {} has dimension {}",
                    path.display(),
                    index.dim(),
                    queries.display(),
                    q.cols
                );
            }
            index
        }
    };
    let ready = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let params = SearchParams {
        nprobe,
        scan,
        precision,
        ..Default::default()
    };
    let r = index
        .search(&q.data, k, &params)
        .with_context(|| format!("searching {}", queries.display()))?;
    let searched = t1.elapsed().as_secs_f64();
    write_ids(out, &r.ids, k)?;
    if let Some(path) = distances {
        write_vectors(path, &r.distances, k)?;
    }
    eprintln!(
        "{} queries x {} vectors (d = {}, {:?}, k = {k}) on {}: index ready in {ready:.3} s, searched in {searched:.3} s ({:.0} QPS); wrote {}",
        q.rows,
        index.ntotal(),
        q.cols,
        index.metric(),
        gpu.capabilities().name,
        q.rows as f64 / searched.max(1e-9),
        out.display()
    );
    Ok(())
}

//! `wgfaiss search`: exact k-NN of a query file against a base file with the flat index.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use wgfaiss::io::{read_vectors, write_ids, write_vectors};
use wgfaiss::{FlatIndex, Gpu, Index, Metric, SearchParams};

pub fn run(
    base: &Path,
    queries: &Path,
    k: usize,
    metric: &str,
    out: &Path,
    distances: Option<&Path>,
) -> Result<()> {
    let metric: Metric = metric.parse()?;
    let b = read_vectors(base)?;
    let q = read_vectors(queries)?;
    if b.cols != q.cols {
        bail!(
            "{} has dimension {} but {} has dimension {}",
            base.display(),
            b.cols,
            queries.display(),
            q.cols
        );
    }
    let gpu = Gpu::new().context("opening a GPU")?;
    let t0 = Instant::now();
    let mut index = FlatIndex::new(&gpu, b.cols, metric)?;
    index
        .add(&b.data)
        .with_context(|| format!("adding {}", base.display()))?;
    let added = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let r = index
        .search(&q.data, k, &SearchParams::default())
        .with_context(|| format!("searching {}", queries.display()))?;
    let searched = t1.elapsed().as_secs_f64();
    write_ids(out, &r.ids, k)?;
    if let Some(path) = distances {
        write_vectors(path, &r.distances, k)?;
    }
    eprintln!(
        "{} queries x {} base vectors (d = {}, {metric:?}, k = {k}) on {}: added in {added:.3} s, searched in {searched:.3} s ({:.0} QPS); wrote {}",
        q.rows,
        b.rows,
        b.cols,
        gpu.capabilities().name,
        q.rows as f64 / searched.max(1e-9),
        out.display()
    );
    Ok(())
}

//! `wgfaiss bench ivf`: IVF-Flat on the synthetic stand-in for SIFT1M (the IVF issue's data:
//! `centers` centres drawn from N(0, I), each base vector and query a uniformly chosen centre
//! plus N(0, I) noise): k-means time, add time, then recall@k and QPS per nprobe against the
//! flat index's exact results.

use crate::bench::median;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use wgfaiss::ops::stream::{Pattern, StreamRead};
use wgfaiss::rng::Rng;
use wgfaiss::{FlatIndex, Gpu, Index, IvfFlatIndex, Metric, ScanMode, SearchParams};

#[derive(Debug, Serialize)]
struct Row {
    scan: String,
    nprobe: usize,
    /// Queries per submission of the batch search.
    batch: usize,
    recall: f64,
    batch_wall_ms: f64,
    batch_gpu_ms: Option<f64>,
    qps: f64,
    single_wall_ms: f64,
    single_gpu_ms: Option<f64>,
    /// One query: bytes of its probed lists (vectors and norms) over the search's GPU time.
    single_gbps: Option<f64>,
    /// `single_gbps` over the streaming read of the same run.
    single_of_stream: Option<f64>,
}

/// Bytes of the lists the `nprobe` centroids nearest to `q` hold (vectors and norms), found on
/// the host in f64 as the index's coarse step finds them (L2).
fn probed_bytes(q: &[f32], centroids: &[f32], sizes: &[usize], nprobe: usize) -> f64 {
    let d = q.len();
    let mut keyed: Vec<(f64, usize)> = centroids
        .chunks(d)
        .enumerate()
        .map(|(l, c)| {
            let key = c
                .iter()
                .zip(q)
                .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                .sum::<f64>();
            (key, l)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let rows: usize = keyed.iter().take(nprobe).map(|&(_, l)| sizes[l]).sum();
    (rows * (d + 1) * 4) as f64
}

/// Standard normal values (Box-Muller).
pub fn gaussian(rng: &mut Rng, n: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u1 = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        out.push((r * t.cos()) as f32);
        out.push((r * t.sin()) as f32);
    }
    out.truncate(n);
    out
}

/// `n` vectors: a uniformly chosen centre plus N(0, I) noise.
pub fn around(rng: &mut Rng, centers: &[f32], d: usize, n: usize) -> Vec<f32> {
    let k = centers.len() / d;
    let noise = gaussian(rng, n * d);
    let mut out = Vec::with_capacity(n * d);
    for i in 0..n {
        let c = rng.below(k);
        out.extend(
            centers[c * d..(c + 1) * d]
                .iter()
                .zip(&noise[i * d..(i + 1) * d])
                .map(|(a, b)| a + b),
        );
    }
    out
}

#[allow(clippy::too_many_arguments)]
pub fn bench(
    nb: usize,
    nq: usize,
    d: usize,
    centers: usize,
    nlist: usize,
    nprobes: &str,
    k: usize,
    niter: usize,
    single: usize,
    scans: &str,
    json: Option<std::path::PathBuf>,
    save_data: Option<std::path::PathBuf>,
) -> Result<()> {
    let scans: Vec<(String, Option<ScanMode>)> = scans
        .split(',')
        .map(|v| Ok((v.trim().to_string(), crate::search::parse_scan(v.trim())?)))
        .collect::<Result<_>>()?;
    let nprobes: Vec<usize> = nprobes
        .split(',')
        .map(|v| {
            v.trim()
                .parse()
                .with_context(|| format!("bad nprobe {v:?}"))
        })
        .collect::<Result<_>>()?;
    if nb == 0 || nq == 0 || d == 0 || centers == 0 || nlist == 0 {
        bail!("sizes must be positive");
    }
    let gpu = Gpu::new().context("opening a GPU")?;
    eprintln!("IVF{nlist},Flat on {}", gpu.capabilities().name);
    let mut rng = Rng::new(2024);
    let c = gaussian(&mut rng, centers * d);
    let base = around(&mut rng, &c, d, nb);
    let queries = around(&mut rng, &c, d, nq);
    let mut ivf = IvfFlatIndex::new(&gpu, d, nlist, Metric::L2)?;
    ivf.kmeans.niter = niter;
    crate::bench::warm_clocks(&gpu)?;
    let t = Instant::now();
    ivf.train(&base)?;
    let train_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    ivf.add(&base)?;
    let add_s = t.elapsed().as_secs_f64();
    eprintln!("trained ({niter} iterations) in {train_s:.2} s, added {nb} in {add_s:.2} s");
    let km = ivf.last_training.as_ref().expect("trained");
    let kmeans_split = serde_json::json!({
        "setup_s": km.setup_seconds,
        "iterations_s": km.iterations_seconds,
        "iterations_gpu_s": km.gpu_seconds,
        "points": km.points,
    });
    outln!(
        "k-means: setup {:.3} s (sample, upload, plans), {niter} iterations {:.3} s wall, {} s on the device",
        km.setup_seconds,
        km.iterations_seconds,
        km.gpu_seconds.map_or("-".into(), |g| format!("{g:.3}"))
    );
    // Training again in the same process: the pipelines are made (as with a warm driver
    // shader cache, or any later training).
    let mut again = IvfFlatIndex::new(&gpu, d, nlist, Metric::L2)?;
    again.kmeans.niter = niter;
    crate::bench::warm_clocks(&gpu)?;
    let t = Instant::now();
    again.train(&base)?;
    let warm_s = t.elapsed().as_secs_f64();
    let km2 = again.last_training.as_ref().expect("trained");
    outln!(
        "k-means again (pipelines made): {warm_s:.3} s in all, setup {:.3} s, {niter} iterations {:.3} s wall, {} s on the device",
        km2.setup_seconds,
        km2.iterations_seconds,
        km2.gpu_seconds.map_or("-".into(), |g| format!("{g:.3}"))
    );
    drop(again);
    let mut flat = FlatIndex::new(&gpu, d, Metric::L2)?;
    flat.add(&base)?;
    let truth = flat.search(&queries, k, &SearchParams::default())?;
    // Free the exact index before timing: on NVIDIA's Vulkan driver a larger device footprint
    // can slow reads (docs/ARCHITECTURE.md, "a measured limit").
    drop(flat);
    if let Some(dir) = &save_data {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        wgfaiss::io::write_vectors(&dir.join("base.npy"), &base, d)?;
        wgfaiss::io::write_vectors(&dir.join("queries.npy"), &queries, d)?;
        wgfaiss::io::write_ids(&dir.join("gt.npy"), &truth.ids, k)?;
    }
    // The streaming read of a buffer the size of the lists, for the scan bandwidth.
    let stream_gbps = {
        let data = gpu.upload_split(&base, d)?;
        let stream = StreamRead::new(&gpu, &data, 256, 4096, Pattern::GridStride)?;
        let (g, _) = crate::bench::time(&gpu, 5, &|b| stream.record(b))?;
        g.map(|g| stream.bytes() as f64 / g / 1e9)
    };
    outln!(
        "streaming read of {} MB: {}",
        nb * d * 4 / 1_000_000,
        stream_gbps.map_or("-".into(), |v| format!("{v:.0} GB/s"))
    );
    let centroids = ivf.centroids().context("trained")?.to_vec();
    let sizes = ivf.list_sizes();
    let mut rows = Vec::new();
    for (scan_name, scan) in &scans {
        let timed = |nprobe| SearchParams {
            nprobe,
            timed: true,
            scan: *scan,

            ..Default::default()
        };
        for &nprobe in &nprobes {
            if nprobe > nlist {
                continue;
            }
            let first = ivf.search(&queries, k, &timed(nprobe))?;
            let mut hits = 0;
            for i in 0..nq {
                let t = truth.ids_of(i);
                hits += first.ids_of(i).iter().filter(|x| t.contains(x)).count();
            }
            let (mut w, mut g) = (Vec::new(), Vec::new());
            crate::bench::warm_clocks(&gpu)?;
            for _ in 0..3 {
                let t = Instant::now();
                let r = ivf.search(&queries, k, &timed(nprobe))?;
                w.push(t.elapsed().as_secs_f64());
                g.extend(r.gpu_seconds);
            }
            let (mut sw, mut sg, mut sb) = (Vec::new(), Vec::new(), Vec::new());
            for i in 0..single {
                let q = &queries[(i % nq) * d..(i % nq + 1) * d];
                let t = Instant::now();
                let r = ivf.search(q, k, &timed(nprobe))?;
                sw.push(t.elapsed().as_secs_f64());
                sg.extend(r.gpu_seconds);
                if let Some(g) = r.gpu_seconds {
                    sb.push(probed_bytes(q, &centroids, &sizes, nprobe) / g / 1e9);
                }
            }
            let single_gbps = (!sb.is_empty()).then(|| median(sb));
            let wall = median(w);
            rows.push(Row {
                scan: scan_name.clone(),
                nprobe,
                batch: ivf.batch_queries(nq, k, &timed(nprobe))?,
                recall: hits as f64 / (nq * k) as f64,
                batch_wall_ms: wall * 1e3,
                batch_gpu_ms: (!g.is_empty()).then(|| median(g) * 1e3),
                qps: nq as f64 / wall,
                single_wall_ms: if sw.is_empty() { 0.0 } else { median(sw) * 1e3 },
                single_gpu_ms: (!sg.is_empty()).then(|| median(sg) * 1e3),
                single_gbps,
                single_of_stream: single_gbps.zip(stream_gbps).map(|(a, b)| a / b),
            });
        }
    }
    outln!("train {train_s:.3} s ({niter} iterations), add {add_s:.3} s; {nq} queries, k = {k}");
    outln!(
        "{:>6} {:>7} {:>6} {:>9} {:>12} {:>11} {:>11} {:>13} {:>12} {:>11} {:>8}",
        "scan",
        "nprobe",
        "batch",
        "recall",
        "batch ms",
        "gpu ms",
        "QPS",
        "1-query ms",
        "1-query gpu",
        "1-q GB/s",
        "%stream"
    );
    for r in &rows {
        outln!(
            "{:>6} {:>7} {:>6} {:>9.4} {:>12.2} {:>11} {:>11.0} {:>13.3} {:>12} {:>11} {:>8}",
            r.scan,
            r.nprobe,
            r.batch,
            r.recall,
            r.batch_wall_ms,
            r.batch_gpu_ms.map_or("-".into(), |v| format!("{v:.2}")),
            r.qps,
            r.single_wall_ms,
            r.single_gpu_ms.map_or("-".into(), |v| format!("{v:.3}")),
            r.single_gbps.map_or("-".into(), |v| format!("{v:.0}")),
            r.single_of_stream
                .map_or("-".into(), |v| format!("{:.0}%", v * 100.0))
        );
    }
    outln!(
        "keys-scan batches searched again in halves (capacity overflows): {}",
        ivf.keys_overflows()
    );
    if let Some(path) = json {
        let j = serde_json::json!({
            "adapter": gpu.capabilities().name, "nb": nb, "nq": nq, "d": d, "centers": centers,
            "nlist": nlist, "k": k, "stream_gbps": stream_gbps, "keys_overflows": ivf.keys_overflows(), "train_s": train_s, "train_warm_s": warm_s, "kmeans": kmeans_split, "add_s": add_s, "niter": niter, "results": rows
        });
        std::fs::write(&path, serde_json::to_string_pretty(&j)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

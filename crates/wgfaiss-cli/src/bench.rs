//! `wgfaiss demo` and `wgfaiss bench`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde::Serialize;
use wgfaiss::ops::reduce::{ReduceOp, ReduceOptions, ReducePath, Reduction, RowReduction};
use wgfaiss::ops::stream::{Pattern, StreamRead};
use wgfaiss::rng::Rng;
use wgfaiss::{Batch, Gpu};

use crate::info::bytes;

#[derive(Subcommand)]
pub enum What {
    /// A dataset (base, queries, optional ground truth) and index descriptions: recall@1/10/100,
    /// QPS, GPU time and single-query latency percentiles per k and nprobe; JSON and an SVG plot
    /// of recall@10 against QPS, with peers' results (scripts/peer_dataset.py) beside ours.
    Dataset(crate::dataset::Args),
    /// Randomized top-k SVD on generated data with a decaying spectrum, per band size of the
    /// Z-step: wall time and the residual |A v - s u| / s1.
    Svd {
        /// MxN of the matrix.
        #[arg(long, default_value = "100000x768")]
        shape: String,
        /// Singular triplets.
        #[arg(long, default_value_t = 32)]
        k: usize,
        /// Subspace iterations.
        #[arg(long, default_value_t = 4)]
        iters: usize,
        /// Comma-separated band sizes (columns of V per band).
        #[arg(long, default_value = "8,16,42")]
        bands: String,
        /// Write the matrix (a.npy) to this folder for scripts/peer_svd.py.
        #[arg(long)]
        save_data: Option<std::path::PathBuf>,
    },
    /// PCA training and mapping on generated data.
    Pca {
        /// Vectors.
        #[arg(long, default_value_t = 1_000_000)]
        nb: usize,
        /// Input dimension.
        #[arg(long, default_value_t = 768)]
        d_in: usize,
        /// Output dimension.
        #[arg(long, default_value_t = 128)]
        d_out: usize,
        /// Whiten.
        #[arg(long)]
        whiten: bool,
    },
    /// Redraws the recall@10–QPS plot from `bench dataset --json` results and peers' files.
    Plot {
        /// Results of `wgfaiss bench dataset --json`.
        #[arg(long)]
        results: std::path::PathBuf,
        /// Peer results (scripts/peer_dataset.py --json); repeatable.
        #[arg(long)]
        peer: Vec<std::path::PathBuf>,
        /// The SVG file to write.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Single-query searches from many threads, coalesced and one by one, against one batch.
    Serve {
        /// flat or ivf.
        #[arg(long, default_value = "flat")]
        index: String,
        /// Base vectors (d = 128, the SIFT1M stand-in of `bench ivf`).
        #[arg(long, default_value_t = 1_000_000)]
        nb: usize,
        /// Queries in all.
        #[arg(long, default_value_t = 10_000)]
        nq: usize,
        /// Calling threads.
        #[arg(long, default_value_t = 64)]
        threads: usize,
        /// Lists probed (ivf).
        #[arg(long, default_value_t = 64)]
        nprobe: usize,
        /// Coalescing window in microseconds (default: the tuning entry).
        #[arg(long)]
        window_us: Option<u64>,
        /// Neighbours per query.
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// Flat index: exact, f32, f16 or f16-verified (as `bench flat --precisions`).
        #[arg(long, default_value = "exact")]
        precision: String,
    },
    /// IVF-Flat on the synthetic SIFT1M stand-in: k-means and add times, recall@k and QPS per
    /// nprobe against exact results, single-query latency.
    Ivf {
        /// Base vectors.
        #[arg(long, default_value_t = 1_000_000)]
        nb: usize,
        /// Queries.
        #[arg(long, default_value_t = 10_000)]
        nq: usize,
        /// Dimension.
        #[arg(long, default_value_t = 128)]
        dim: usize,
        /// Centres of the generated data.
        #[arg(long, default_value_t = 10_000)]
        centers: usize,
        /// Lists.
        #[arg(long, default_value_t = 4096)]
        nlist: usize,
        /// Comma-separated nprobe values.
        #[arg(long, default_value = "1,4,16,32,64,128")]
        nprobe: String,
        /// Neighbours per query.
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// k-means iterations.
        #[arg(long, default_value_t = 20)]
        niter: usize,
        /// Single-query searches per nprobe (0: none).
        #[arg(long, default_value_t = 20)]
        single: usize,
        /// Comma-separated list scans to time on the same index: auto (the tuning's
        /// ivf.scan), fused, keys.
        #[arg(long, default_value = "auto")]
        scans: String,
        /// Write all results as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
        /// Also write the data and the exact neighbours (base.npy, queries.npy, gt.npy) to
        /// this folder, for scripts/peer_ivf.py.
        #[arg(long)]
        save_data: Option<std::path::PathBuf>,
    },
    /// Exact search with the flat index on random data: batch and single-query times, QPS,
    /// checked against a CPU brute force on sample queries.
    Flat {
        /// Database vectors.
        #[arg(long, default_value_t = 1_000_000)]
        nb: usize,
        /// Queries per batch.
        #[arg(long, default_value_t = 10_000)]
        nq: usize,
        /// Comma-separated dimensions.
        #[arg(long, default_value = "128")]
        dim: String,
        /// Comma-separated k values.
        #[arg(long, default_value = "10,100,1000")]
        k: String,
        /// Metric: l2, ip or cosine.
        #[arg(long, default_value = "l2")]
        metric: String,
        /// Timed batch searches per case (median reported).
        #[arg(long, default_value_t = 3)]
        iters: usize,
        /// Timed single-query searches per case (0: none).
        #[arg(long, default_value_t = 50)]
        single: usize,
        /// Comma-separated precisions: f32 (the f32 kernel: the reference batch), exact (the
        /// path `Precision::Exact` takes on this adapter; which one is reported), f16 (f16
        /// candidates, exact re-rank; its recall against the f32 batch is reported),
        /// f16-verified (f16 with a proof per query and an f32 search of the queries it fails
        /// for; the count is reported).
        #[arg(long, default_value = "exact")]
        precisions: String,
        /// f16 precision: candidates re-ranked per query (0: max(2k, k + 16)).
        #[arg(long, default_value_t = 0)]
        rerank: usize,
        /// Write all results as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// Per-row top-k against a streaming read of the same matrix.
    Topk {
        /// Rows.
        #[arg(long, default_value_t = 1000)]
        rows: usize,
        /// Columns.
        #[arg(long, default_value_t = 1_000_000)]
        cols: usize,
        /// Comma-separated k values.
        #[arg(long, default_value = "10,1024")]
        k: String,
        /// Timed runs per case.
        #[arg(long, default_value_t = 5)]
        iters: usize,
        /// Time all runs back to back in one batch.
        #[arg(long)]
        sustained: bool,
        /// Write all results as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// QR projection c = Q^T v (both forms) and the update v - Q c, with GB/s of Q read.
    Qr {
        /// Comma-separated MxK shapes (Q is M x K, column-major).
        #[arg(long, default_value = "4096x128,65536x256")]
        shapes: String,
        /// Timed runs per kernel.
        #[arg(long, default_value_t = 50)]
        iters: usize,
        /// Time all runs back to back in one batch.
        #[arg(long)]
        sustained: bool,
        /// Write all results as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// f32 GEMM: TFLOP/s for each shape, transpose and tile configuration.
    Gemm {
        /// Comma-separated MxNxK shapes.
        #[arg(long, default_value = "1024x1024x1024,4096x4096x4096,16x4096x4096")]
        shapes: String,
        /// Comma-separated transposes of (A, B): nn, nt, tn, tt.
        #[arg(long, default_value = "nn,nt")]
        trans: String,
        /// Semicolon-separated tile configurations tile_m,tile_n,tile_k,thread_m,thread_n
        /// (default: the tuning entry).
        #[arg(long)]
        tiles: Option<String>,
        /// Timed runs per case.
        #[arg(long, default_value_t = 10)]
        iters: usize,
        /// Time all runs back to back in one batch.
        #[arg(long)]
        sustained: bool,
        /// The f16 tensor-core path (cooperative matrices) instead of f32.
        #[arg(long)]
        f16: bool,
        /// First measure the cooperative-matrix ceiling: products on fragments held in
        /// registers, no memory traffic (needs cooperative matrices).
        #[arg(long)]
        coop_peak: bool,
        /// Write all results as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// Reductions (sum, max, argmax; whole array and per row) against a plain streaming read.
    Reduce {
        /// Elements of the whole-array input (default 2^28 = 1 GiB).
        #[arg(long, default_value_t = 1 << 28)]
        n: usize,
        /// Columns of the per-row input (rows = n / cols); 0 skips the per-row kernels.
        #[arg(long, default_value_t = 65_536)]
        cols: usize,
        /// Timed runs per kernel (the median is reported).
        #[arg(long, default_value_t = 20)]
        iters: usize,
        /// Write all results as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
        /// Time all runs back to back in one batch (mean), instead of one batch per run
        /// (median).
        #[arg(long)]
        sustained: bool,
    },
}

pub fn run(what: What) -> Result<()> {
    match what {
        What::Plot { results, peer, out } => crate::dataset::replot(&results, &peer, &out),
        What::Svd {
            shape,
            k,
            iters,
            bands,
            save_data,
        } => crate::svd::bench_svd(&shape, k, iters, &bands, save_data),
        What::Pca {
            nb,
            d_in,
            d_out,
            whiten,
        } => crate::svd::bench_pca(nb, d_in, d_out, whiten),
        What::Dataset(args) => crate::dataset::run(args),
        What::Serve {
            index,
            nb,
            nq,
            threads,
            nprobe,
            window_us,
            k,
            precision,
        } => crate::serve::bench(
            &index,
            (nb, nq),
            threads,
            nprobe,
            window_us,
            k,
            precision.parse()?,
        ),
        What::Ivf {
            nb,
            nq,
            dim,
            centers,
            nlist,
            nprobe,
            k,
            niter,
            single,
            scans,
            json,
            save_data,
        } => crate::ivf::bench(
            nb, nq, dim, centers, nlist, &nprobe, k, niter, single, &scans, json, save_data,
        ),
        What::Flat {
            nb,
            nq,
            dim,
            k,
            metric,
            iters,
            single,
            precisions,
            rerank,
            json,
        } => crate::flat::bench(
            nb,
            nq,
            &dim,
            &k,
            &metric,
            iters,
            single,
            (&precisions, rerank),
            json,
        ),
        What::Topk {
            rows,
            cols,
            k,
            iters,
            sustained,
            json,
        } => {
            SUSTAINED.store(sustained, Ordering::Relaxed);
            crate::topk::bench(rows, cols, &k, iters, json)
        }
        What::Qr {
            shapes,
            iters,
            sustained,
            json,
        } => {
            SUSTAINED.store(sustained, Ordering::Relaxed);
            crate::qr::bench(&shapes, iters, json)
        }
        What::Gemm {
            shapes,
            trans,
            tiles,
            iters,
            sustained,
            f16,
            coop_peak,
            json,
        } => {
            SUSTAINED.store(sustained, Ordering::Relaxed);
            let modes = crate::gemm::Modes { f16, coop_peak };
            crate::gemm::bench(&shapes, &trans, tiles.as_deref(), iters, modes, json)
        }
        What::Reduce {
            n,
            cols,
            iters,
            json,
            sustained,
        } => {
            SUSTAINED.store(sustained, Ordering::Relaxed);
            bench_reduce(n, cols, iters, json)
        }
    }
}

/// One benchmark row.
#[derive(Debug, Serialize)]
struct Row {
    kernel: String,
    path: String,
    bytes: u64,
    gpu_ms_median: Option<f64>,
    wall_ms_median: f64,
    gbps: Option<f64>,
    of_stream: Option<f64>,
    checked: String,
}

static SUSTAINED: AtomicBool = AtomicBool::new(false);

/// `--sustained`: time back-to-back runs in one batch (no host round trip between runs), the
/// regime of a busy service.
/// Times every later run back to back in one batch (`--sustained`; `tune` always does).
pub fn set_sustained(on: bool) {
    SUSTAINED.store(on, Ordering::Relaxed);
}

fn sustained() -> bool {
    SUSTAINED.load(Ordering::Relaxed)
}

/// The median of `v` (upper middle for an even count); `v` is not empty.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Keeps the GPU busy with back-to-back 2048³ GEMMs (timed batches) for at least
/// `WGFAISS_BENCH_WARM_MS` milliseconds (default 300; 0 or a CPU adapter: off) and until the GEMM's GPU time
/// is steady (two batches in a row within 2% per product), at most 3 s, so that the timing
/// after it runs at full clocks.
///
/// Measured on an H100 (2026-11-26, `nvidia-smi` sampled every 250 ms): after a second or so
/// of host work the SM clock falls from 1980 to 450–615 MHz, and runs of short submissions
/// with host work between them (a timed loop: submit, wait, read back, check) keep it there:
/// a 4096³ GEMM then took 16.4 ms instead of 3.35 ms. That was the "slow mode" of earlier
/// runs. torch's timing loops queue their iterations back to back, which keeps the clock up.
/// A fixed 300 ms was not always enough after a long idle spell (a sweep's first case ran
/// 35% slow), hence the steadiness test.
pub fn warm_clocks(gpu: &Gpu) -> Result<()> {
    use wgfaiss::ops::gemm::{Gemm, GemmOptions, GemmShape};
    let ms: u64 = std::env::var("WGFAISS_BENCH_WARM_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    // A software adapter (lavapipe in CI) has no clock to raise.
    if ms == 0 || gpu.capabilities().device_type == "cpu" {
        return Ok(());
    }
    let n = 2048;
    let a = gpu.upload(&wgfaiss::rng::Rng::new(1).vec(n * n))?;
    let c = gpu.alloc::<f32>(n * n)?;
    let plan = Gemm::new(
        gpu,
        &a,
        &a,
        &c,
        GemmShape::new(n, n, n),
        &GemmOptions::default(),
    )?;
    let t0 = Instant::now();
    let mut per_batch = 4;
    let mut last: Option<f64> = None;
    loop {
        let t = Instant::now();
        let mut batch = gpu.batch(true);
        for _ in 0..per_batch {
            plan.record(&mut batch);
        }
        let report = batch.finish()?;
        // Seconds per product: the GPU's if timed, else the wall's.
        let each = report.gpu_seconds.unwrap_or(t.elapsed().as_secs_f64()) / per_batch as f64;
        let steady = last.is_some_and(|l| (each - l).abs() <= 0.02 * l);
        let elapsed = t0.elapsed().as_millis();
        if (elapsed >= u128::from(ms) && steady) || elapsed >= 3000 {
            return Ok(());
        }
        last = Some(each);
        // Batches of about 50 ms: long enough to look busy, short enough to stop on time.
        if t.elapsed().as_millis() < 25 {
            per_batch *= 2;
        }
    }
}

/// Runs `record` in its own timed batch `iters` times after two warm-up runs; returns the
/// median GPU time (timestamps) and the median wall time with the wait. With `sustained`,
/// records all runs back to back in one batch instead and returns the mean of each.
pub fn time(
    gpu: &Gpu,
    iters: usize,
    record: &dyn Fn(&mut Batch<'_>),
) -> Result<(Option<f64>, f64)> {
    warm_clocks(gpu)?;
    if sustained() {
        let mut batch = gpu.batch(true);
        record(&mut batch);
        batch.finish()?;
        let t0 = Instant::now();
        let mut batch = gpu.batch(true);
        for _ in 0..iters {
            record(&mut batch);
        }
        let report = batch.finish()?;
        let wall = t0.elapsed().as_secs_f64() / iters as f64;
        return Ok((report.gpu_seconds.map(|g| g / iters as f64), wall));
    }
    let mut gpu_s = Vec::new();
    let mut wall_s = Vec::new();
    for i in 0..iters + 2 {
        let t0 = Instant::now();
        let mut batch = gpu.batch(true);
        record(&mut batch);
        let report = batch.finish()?;
        if i >= 2 {
            wall_s.push(t0.elapsed().as_secs_f64());
            if let Some(g) = report.gpu_seconds {
                gpu_s.push(g);
            }
        }
    }
    let gpu_med = (gpu_s.len() == iters).then(|| median(gpu_s));
    Ok((gpu_med, median(wall_s)))
}

fn paths(gpu: &Gpu) -> Vec<ReducePath> {
    if gpu.capabilities().subgroups {
        vec![ReducePath::Subgroup, ReducePath::Shared]
    } else {
        vec![ReducePath::Shared]
    }
}

fn check_whole(x: &[f32], op: ReduceOp, value: f32, index: Option<u64>) -> Result<String> {
    match op {
        ReduceOp::Sum => {
            let want: f64 = x.iter().map(|&v| f64::from(v)).sum();
            let abs: f64 = x.iter().map(|&v| f64::from(v).abs()).sum();
            let rel = (f64::from(value) - want).abs() / abs;
            if rel > 1e-5 {
                bail!("sum {value} vs CPU {want}: relative error {rel:.2e} against sum|x|");
            }
            Ok(format!("err/sum|x| {rel:.1e}"))
        }
        _ => {
            let max = matches!(op, ReduceOp::Max | ReduceOp::ArgMax);
            let mut best = 0;
            for (i, &v) in x.iter().enumerate() {
                if (max && v > x[best]) || (!max && v < x[best]) {
                    best = i;
                }
            }
            if (value, index) != (x[best], Some(best as u64)) {
                bail!(
                    "{op:?} gave {value} at {index:?}, CPU {} at {best}",
                    x[best]
                );
            }
            Ok("exact".into())
        }
    }
}

fn bench_reduce(
    n: usize,
    cols: usize,
    iters: usize,
    json: Option<std::path::PathBuf>,
) -> Result<()> {
    if n == 0 || iters == 0 {
        bail!("--n and --iters must be positive");
    }
    let gpu = Gpu::new().context("opening a GPU")?;
    let caps = gpu.capabilities();
    eprintln!(
        "adapter {} ({}), {} elements = {}",
        caps.name,
        caps.backend,
        n,
        bytes(n as u64 * 4)
    );
    let t0 = Instant::now();
    let x = Rng::new(12345).vec(n);
    let data = gpu.upload_split(&x, 4)?;
    eprintln!(
        "generated and uploaded in {:.2} s ({} chunk(s))",
        t0.elapsed().as_secs_f64(),
        data.chunks().len()
    );
    let mut rows = Vec::new();
    let wg = 256.min(caps.max_invocations_per_workgroup);
    let stream = StreamRead::new(&gpu, &data, wg, 4 * 1024, Pattern::GridStride)?;
    let (g, w) = time(&gpu, iters, &|b| stream.record(b))?;
    let stream_gbps = g.map(|g| stream.bytes() as f64 / g / 1e9);
    rows.push(Row {
        kernel: "stream_read".into(),
        path: "-".into(),
        bytes: stream.bytes(),
        gpu_ms_median: g.map(|g| g * 1e3),
        wall_ms_median: w * 1e3,
        gbps: stream_gbps,
        of_stream: Some(1.0),
        checked: "-".into(),
    });
    // The same read with one contiguous block per workgroup (per-row and per-list kernels
    // read this way).
    for groups in [1024, 4096] {
        let blocks = StreamRead::new(&gpu, &data, wg, groups, Pattern::Blocks)?;
        let (g, w) = time(&gpu, iters, &|b| blocks.record(b))?;
        let gbps = g.map(|g| blocks.bytes() as f64 / g / 1e9);
        rows.push(Row {
            kernel: format!("stream_read_blocks {groups}"),
            path: "-".into(),
            bytes: blocks.bytes(),
            gpu_ms_median: g.map(|g| g * 1e3),
            wall_ms_median: w * 1e3,
            gbps,
            of_stream: gbps.zip(stream_gbps).map(|(a, b)| a / b),
            checked: "-".into(),
        });
    }
    for op in [ReduceOp::Sum, ReduceOp::Max, ReduceOp::ArgMax] {
        for path in paths(&gpu) {
            let opts = ReduceOptions::with_path(path);
            let plan = Reduction::new(&gpu, &data, op, &opts)?;
            plan.poison(&gpu)?;
            let (g, w) = time(&gpu, iters, &|b| plan.record(b))?;
            let r = plan.read(&gpu)?;
            let checked = check_whole(&x, op, r.value, r.index)?;
            let gbps = g.map(|g| plan.bytes() as f64 / g / 1e9);
            rows.push(Row {
                kernel: format!("reduce {op:?}").to_lowercase(),
                path: format!("{path:?}").to_lowercase(),
                bytes: plan.bytes(),
                gpu_ms_median: g.map(|g| g * 1e3),
                wall_ms_median: w * 1e3,
                gbps,
                of_stream: gbps.zip(stream_gbps).map(|(a, b)| a / b),
                checked,
            });
        }
    }
    let nrows = n.checked_div(cols).unwrap_or(0);
    if nrows > 0 {
        let m = gpu.upload_split(&x[..nrows * cols], cols)?;
        for op in [ReduceOp::Sum, ReduceOp::ArgMax] {
            for path in paths(&gpu) {
                let opts = ReduceOptions::with_path(path);
                let plan = RowReduction::new(&gpu, &m, cols, op, &opts)?;
                plan.poison(&gpu)?;
                let (g, w) = time(&gpu, iters, &|b| plan.record(b))?;
                let got = plan.read(&gpu)?;
                // Check a sample of rows against the CPU.
                for r in (0..nrows).step_by((nrows / 16).max(1)) {
                    let row = &x[r * cols..(r + 1) * cols];
                    let index = got.indices.as_ref().map(|i| u64::from(i[r]));
                    check_whole(row, op, got.values[r], index)
                        .with_context(|| format!("row {r}"))?;
                }
                let b = (nrows * cols * 4) as u64;
                let gbps = g.map(|g| b as f64 / g / 1e9);
                rows.push(Row {
                    kernel: format!("rows {op:?} {nrows}x{cols}").to_lowercase(),
                    path: format!("{path:?}").to_lowercase(),
                    bytes: b,
                    gpu_ms_median: g.map(|g| g * 1e3),
                    wall_ms_median: w * 1e3,
                    gbps,
                    of_stream: gbps.zip(stream_gbps).map(|(a, b)| a / b),
                    checked: "sampled rows ok".into(),
                });
            }
        }
    }
    outln!(
        "{:<28} {:<9} {:>10} {:>10} {:>9} {:>8}  check",
        "kernel",
        "path",
        "gpu ms",
        "wall ms",
        "GB/s",
        "%stream"
    );
    for r in &rows {
        outln!(
            "{:<28} {:<9} {:>10} {:>10.3} {:>9} {:>8}  {}",
            r.kernel,
            r.path,
            r.gpu_ms_median.map_or("-".into(), |v| format!("{v:.3}")),
            r.wall_ms_median,
            r.gbps.map_or("-".into(), |v| format!("{v:.1}")),
            r.of_stream
                .map_or("-".into(), |v| format!("{:.0}%", v * 100.0)),
            r.checked
        );
    }
    if let Some(path) = json {
        let out = serde_json::json!({
            "adapter": caps.name,
            "backend": caps.backend,
            "n": n,
            "iters": iters,
            "sustained": sustained(),
            "rows": rows,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&out)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Each reduction on generated data, checked against the CPU (part of `wgfaiss demo`).
pub fn demo_reductions(gpu: &Gpu, n: usize, seed: u64) -> Result<()> {
    outln!("reductions over {n} generated floats:");
    let x = Rng::new(seed).vec(n);
    let data = gpu.upload_split(&x, 4)?;
    for op in [
        ReduceOp::Sum,
        ReduceOp::Max,
        ReduceOp::Min,
        ReduceOp::ArgMax,
        ReduceOp::ArgMin,
    ] {
        for path in paths(gpu) {
            let opts = ReduceOptions::with_path(path);
            let plan = Reduction::new(gpu, &data, op, &opts)?;
            plan.poison(gpu)?;
            let t0 = Instant::now();
            let mut batch = gpu.batch(true);
            plan.record(&mut batch);
            let report = batch.finish()?;
            let r = plan.read(gpu)?;
            let wall = t0.elapsed().as_secs_f64();
            let check = check_whole(&x, op, r.value, r.index)?;
            outln!(
                "  {:<7} {:<9} = {:>14.6}{:<14} {:>8.3} ms wall{}  CPU check: {check}",
                format!("{op:?}").to_lowercase(),
                format!("{path:?}").to_lowercase(),
                r.value,
                r.index.map_or(String::new(), |i| format!(" at {i}")),
                wall * 1e3,
                report
                    .gpu_seconds
                    .map_or(String::new(), |g| format!(", {:.3} ms GPU", g * 1e3)),
            );
        }
    }
    Ok(())
}

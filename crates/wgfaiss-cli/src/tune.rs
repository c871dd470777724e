//! `wgfaiss tune`: measures candidate parameters on the present adapter and writes (or merges)
//! its entry in a tuning file — profile, then lock; nothing is tuned at run time.
//!
//! Families measured: `gemm` (tile configurations on A·B and A·Bᵀ at one square shape),
//! `gemm_coop` (the f16 tensor-core GEMM's tiles and staging, `gemm.coop_*`; skipped on
//! adapters without cooperative matrices), `knn`
//! (the fused distance + top-k tiles and candidate slots, on a flat search), `topk` (workgroup
//! size of the top-k selection), `ivf` (the list scan, fused or keys, on an IVF search of the
//! SIFT stand-in of `bench ivf`: 1M × 128, IVF4096, nprobe 64, 10 000 queries), `exact` (which
//! path `Precision::Exact` takes on the flat index: the f32 kernel or the verified f16 search,
//! timed at batch sizes from 1 query to the full batch: `knn.exact_path`,
//! `knn.verified_min_queries`, `knn.verified_stream`). Each candidate is run back to back in one batch and timed with
//! timestamps where the adapter has them (else the wall clock); the fastest candidate wins.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};
use wgfaiss::ops::gemm::{CoopTiles, Gemm, GemmOptions, GemmShape, PaddedCoopGemm, Tiles};
use wgfaiss::ops::topk::{TopKOptions, TopKPlan};
use wgfaiss::rng::Rng;
use wgfaiss::tuning::{ConfigSource, SHIPPED_CONFIG, Tuning, gemm_tiles_problem};
use wgfaiss::{FlatIndex, Gpu, GpuOptions, Index, IvfFlatIndex, Metric, ScanMode, SearchParams};

use crate::bench::time;

/// Problem sizes: full (a discrete GPU) or quick (a CPU adapter, CI).
struct Sizes {
    gemm: usize,
    nb: usize,
    nq: usize,
    topk: (usize, usize),
    iters: usize,
    /// IVF: base vectors, lists, nprobe, queries.
    ivf: (usize, usize, usize, usize),
}

const GEMM_CANDIDATES: [Tiles; 9] = [
    (32, 32, 8, 4, 4),
    (64, 64, 8, 4, 4),
    (64, 64, 16, 4, 4),
    (64, 128, 8, 4, 8),
    (64, 128, 16, 8, 4),
    (128, 64, 8, 8, 4),
    (128, 64, 16, 8, 4),
    (128, 128, 8, 8, 8),
    (64, 64, 16, 8, 8),
];

/// (tile_m, tile_n, thread_m, thread_n, candidate_slots).
const KNN_CANDIDATES: [(u32, u32, u32, u32, u32); 7] = [
    (32, 32, 4, 4, 16),
    (64, 64, 4, 4, 8),
    (64, 64, 4, 4, 16),
    (64, 128, 4, 8, 8),
    (64, 128, 8, 4, 8),
    (128, 64, 8, 4, 8),
    (64, 64, 8, 8, 8),
];

const TOPK_CANDIDATES: [u32; 3] = [64, 128, 256];

/// f16 GEMM candidates: (tile_m, tile_n, tile_k, frag_m, frag_n, stages, stage_type,
/// stage_width, swap), all with rows padded by 8 halves. The fastest on an H100 first
/// (BENCHMARKS.md, ninth and sixteenth sessions); the others were close there or may suit
/// other adapters (scalar-staged ones for drivers that refuse vector-typed cooperative loads,
/// unswapped ones for drivers whose row-major fragment stores are not slow).
/// One f16 GEMM candidate (fields as listed above).
type CoopCandidate = (
    u32,
    u32,
    u32,
    u32,
    u32,
    u32,
    &'static str,
    &'static str,
    &'static str,
);

const COOP_CANDIDATES: [CoopCandidate; 10] = [
    (128, 256, 48, 4, 4, 1, "halves", "auto", "yes"),
    (128, 256, 48, 4, 4, 1, "halves", "4", "yes"),
    (128, 256, 48, 4, 4, 1, "halves", "4", "no"),
    (128, 256, 32, 4, 4, 1, "halves", "4", "yes"),
    (256, 128, 48, 4, 4, 1, "halves", "4", "yes"),
    (128, 128, 32, 4, 2, 1, "halves", "4", "yes"),
    (128, 128, 32, 4, 2, 1, "halves", "4", "no"),
    (128, 256, 32, 4, 4, 1, "auto", "1", "no"),
    (128, 128, 32, 4, 2, 2, "halves", "1", "no"),
    (128, 128, 32, 4, 2, 2, "fragments", "1", "no"),
];

/// One measured candidate.
struct Trial {
    family: &'static str,
    values: Vec<(&'static str, Value)>,
    seconds: f64,
}

/// `wgfaiss tune`.
pub fn run(out: &Path, families: &str, quick: bool) -> Result<()> {
    let families: Vec<&str> = families.split(',').map(str::trim).collect();
    for f in &families {
        if !["gemm", "gemm_coop", "knn", "topk", "ivf", "tiles", "exact"].contains(f) {
            bail!("unknown family {f:?}: expected gemm, gemm_coop, knn, topk, ivf, tiles, exact");
        }
    }
    let gpu = Gpu::new().context("opening a GPU")?;
    let caps = gpu.capabilities().clone();
    let quick = quick || caps.device_type == "cpu";
    let sizes = if quick {
        Sizes {
            gemm: 192,
            nb: 4096,
            nq: 64,
            topk: (16, 8192),
            iters: 2,
            ivf: (6000, 24, 6, 200),
        }
    } else {
        Sizes {
            gemm: 2048,
            nb: 1 << 20,
            nq: 4096,
            topk: (1000, 250_000),
            iters: 10,
            ivf: (1_000_000, 4096, 64, 10_000),
        }
    };
    eprintln!(
        "tuning {} ({}) with {} problems",
        caps.name,
        caps.backend,
        if quick { "quick" } else { "full" }
    );
    crate::bench::set_sustained(true);
    let mut best: Vec<Trial> = Vec::new();
    for family in &families {
        let trials = match *family {
            "gemm" => tune_gemm(&gpu, &sizes)?,
            "gemm_coop" if !caps.cooperative_matrix => {
                outln!("gemm_coop: skipped (no cooperative matrices on this adapter)");
                continue;
            }
            "gemm_coop" => tune_gemm_coop(&sizes)?,
            "knn" => tune_knn(&sizes)?,
            "tiles" => tune_tiles(&gpu, &sizes)?,
            // With the key-tile thresholds just found, if any (they decide how fast the
            // verified search is for mid-size batches).
            "exact" => match best
                .iter()
                .find(|t| t.values.iter().any(|v| v.0 == "half_tile_kc"))
            {
                Some(t) => tune_exact(&gpu_with("knn", &t.values)?, &sizes)?,
                None => tune_exact(&gpu, &sizes)?,
            },
            "ivf" => tune_ivf(&gpu, &sizes)?,
            _ => tune_topk(&sizes)?,
        };
        for t in &trials {
            let v = shown(&t.values);
            outln!("{:<5} {:<70} {:>10.3} ms", t.family, v, t.seconds * 1e3);
        }
        let winner = trials
            .into_iter()
            .min_by(|a, b| a.seconds.total_cmp(&b.seconds))
            .with_context(|| format!("no {family} candidate ran on this adapter"))?;
        best.push(winner);
    }
    // Merge into the file (or a copy of the shipped table), then check it resolves.
    let mut root: Value = if out.exists() {
        let text =
            std::fs::read_to_string(out).with_context(|| format!("reading {}", out.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", out.display()))?
    } else {
        serde_json::from_str(SHIPPED_CONFIG).expect("the shipped config is JSON")
    };
    let entry = root
        .as_object_mut()
        .context("the tuning file is not a JSON object")?
        .entry(caps.backend.clone())
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .context("backend entry is not an object")?
        .entry(caps.name.clone())
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .context("adapter entry is not an object")?;
    for t in &best {
        let fam = entry
            .entry(t.family)
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .context("family entry is not an object")?;
        for (k, v) in &t.values {
            fam.insert((*k).to_string(), v.clone());
        }
        let v = shown(&t.values);
        outln!("best {:<5} {} ({:.3} ms)", t.family, v, t.seconds * 1e3);
    }
    let tmp = out.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&root)? + "\n")
        .with_context(|| format!("writing {}", tmp.display()))?;
    Tuning::resolve(
        &caps,
        &ConfigSource::File(tmp.clone()),
        &|_| None,
        &Default::default(),
    )
    .context("the tuned entry does not resolve")?;
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    outln!(
        "wrote {}.{} in {}; use it with WGFAISS_CONFIG={}",
        caps.backend,
        caps.name,
        out.display(),
        out.display()
    );
    Ok(())
}

fn tune_gemm(gpu: &Gpu, s: &Sizes) -> Result<Vec<Trial>> {
    let n = s.gemm;
    let mut rng = Rng::new(11);
    let a = gpu.upload(&rng.vec(n * n))?;
    let b = gpu.upload(&rng.vec(n * n))?;
    let c = gpu.alloc::<f32>(n * n)?;
    let mut out = Vec::new();
    for tiles in GEMM_CANDIDATES {
        if gemm_tiles_problem(tiles, gpu.capabilities()).is_some() {
            continue;
        }
        let mut total = 0.0;
        for trans_b in [false, true] {
            let shape = GemmShape {
                trans_b,
                ..GemmShape::new(n, n, n)
            };
            let opts = GemmOptions {
                tiles: Some(tiles),
                split_k: Some(1),
            };
            let plan = Gemm::new(gpu, &a, &b, &c, shape, &opts)?;
            let (g, w) = time(gpu, s.iters, &|batch| plan.record(batch))?;
            total += g.unwrap_or(w);
        }
        let (tm, tn, tk, rm, rn) = tiles;
        out.push(Trial {
            family: "gemm",
            values: vec![
                ("tile_m", tm.into()),
                ("tile_n", tn.into()),
                ("tile_k", tk.into()),
                ("thread_m", rm.into()),
                ("thread_n", rn.into()),
            ],
            seconds: total,
        });
    }
    Ok(out)
}

/// The f16 tensor-core GEMM: each candidate on A·B and A·Bᵀ of one square shape (its tiles
/// and staging as tuning overrides of a device of its own); the sum of the two times.
fn tune_gemm_coop(s: &Sizes) -> Result<Vec<Trial>> {
    let n = s.gemm;
    let mut rng = Rng::new(15);
    let x = rng.vec(n * n);
    let mut out = Vec::new();
    for (tm, tn, tk, fm, fnn, stages, stage, width, swap) in COOP_CANDIDATES {
        let values = vec![
            ("coop_tile_m", tm.into()),
            ("coop_tile_n", tn.into()),
            ("coop_tile_k", tk.into()),
            ("coop_frag_m", fm.into()),
            ("coop_frag_n", fnn.into()),
            ("coop_pad", Value::from("8")),
            ("coop_stages", stages.into()),
            ("coop_stage_type", Value::from(stage)),
            ("coop_stage_width", Value::from(width)),
            ("coop_swap", Value::from(swap)),
        ];
        let label = shown(&values);
        let attempt = || -> Result<f64> {
            let gpu = gpu_with("gemm", &values)?;
            let mut total = 0.0;
            for trans_b in [false, true] {
                // Padded to the grid a product of this size gets (K to the candidate's slices,
                // as `gemm_f16` pads it): unpadded, a K off the slices (2048 with slices of
                // 48) ran the next candidate's tiles under this one's name.
                let shape = GemmShape {
                    trans_b,
                    ..GemmShape::new(n, n, n)
                };
                let p = PaddedCoopGemm::new(&gpu, &x, &x, shape)?;
                let plan = &p.plan;
                if plan.staged() != Some(CoopTiles::from_tuning(&gpu, trans_b)) {
                    let (mp, np, kp) = p.padded;
                    bail!(
                        "{n}³ runs {:?} here, not these tiles ({mp} x {np} x {kp} padded)",
                        plan.staged()
                    );
                }
                let (g, w) = time(&gpu, s.iters, &|batch| plan.record(batch))?;
                total += g.unwrap_or(w);
            }
            Ok(total)
        };
        match attempt() {
            Ok(seconds) => out.push(Trial {
                family: "gemm",
                values,
                seconds,
            }),
            Err(e) => eprintln!("gemm_coop {label}: skipped ({e})"),
        }
    }
    Ok(out)
}

/// `key=value ...` of a candidate (strings unquoted).
fn shown(values: &[(&str, Value)]) -> String {
    let one = |(k, v): &(&str, Value)| match v.as_str() {
        Some(text) => format!("{k}={text}"),
        None => format!("{k}={v}"),
    };
    values.iter().map(one).collect::<Vec<_>>().join(" ")
}

/// A device with tuning overrides of `family` (the candidate under test).
fn gpu_with(family: &str, values: &[(&str, Value)]) -> Result<Gpu> {
    let mut o = GpuOptions::default();
    for (k, v) in values {
        let var = format!("WGFAISS_{}_{}", family, k).to_uppercase();
        let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
        o = o.with_override(&var, v);
    }
    Ok(Gpu::with_options(o)?)
}

fn tune_knn(s: &Sizes) -> Result<Vec<Trial>> {
    let d = 128;
    let mut rng = Rng::new(12);
    let base = rng.vec(s.nb * d);
    let queries = rng.vec(s.nq * d);
    let mut out = Vec::new();
    for (tm, tn, rm, rn, slots) in KNN_CANDIDATES {
        let values = vec![
            ("tile_m", tm.into()),
            ("tile_n", tn.into()),
            ("thread_m", rm.into()),
            ("thread_n", rn.into()),
            ("candidate_slots", slots.into()),
        ];
        // A candidate the adapter cannot run (workgroup size, memory) is skipped, not fatal.
        let gpu = match gpu_with("knn", &values) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("knn {tm}x{tn} {rm}x{rn} slots {slots}: skipped ({e})");
                continue;
            }
        };
        let mut flat = FlatIndex::new(&gpu, d, Metric::L2)?;
        flat.add(&base)?;
        let p = SearchParams {
            timed: true,
            ..Default::default()
        };
        let run = || -> Result<f64> {
            let t = Instant::now();
            let r = flat.search(&queries, 10, &p)?;
            Ok(r.gpu_seconds.unwrap_or(t.elapsed().as_secs_f64()))
        };
        let first = match run() {
            Ok(v) => v,
            Err(e) => {
                eprintln!("knn {tm}x{tn} {rm}x{rn} slots {slots}: skipped ({e})");
                continue;
            }
        };
        let mut times = vec![first];
        for _ in 0..s.iters.min(5) {
            times.push(run()?);
        }
        out.push(Trial {
            family: "knn",
            values,
            seconds: crate::bench::median(times),
        });
    }
    Ok(out)
}

/// The median GPU time (wall time where the search reports none) of `iters` (at least 3)
/// searches of `queries` with `k` and `p`, and the first search's ids. The first search plans
/// the shape (and makes an f16 copy); then the clocks are raised again, as in `tune_ivf`
/// (short searches between host work let an NVIDIA card fall to a low clock: the first H100
/// run of the exact family timed 1 024 queries at 3× their warm time).
fn time_search(
    gpu: &Gpu,
    flat: &FlatIndex,
    (queries, k, p): (&[f32], usize, &SearchParams),
    iters: usize,
) -> Result<(f64, Vec<i64>)> {
    let run = || -> Result<(f64, Vec<i64>)> {
        let t = Instant::now();
        let r = flat.search(queries, k, p)?;
        Ok((r.gpu_seconds.unwrap_or(t.elapsed().as_secs_f64()), r.ids))
    };
    let (_, ids) = run()?;
    crate::bench::warm_clocks(gpu)?;
    let mut all = Vec::new();
    for _ in 0..iters.max(3) {
        all.push(run()?.0);
    }
    Ok((crate::bench::median(all), ids))
}

/// The f16 search's key tiles against its fused kernel (`knn.half_tile_queries`,
/// `knn.half_tile_kc`) and, on tensor cores, the key tiles' two kernels against each other
/// (`knn.half_keys_tiled`): the f16 search of one flat index with each, timed at batch sizes
/// from 8 queries to 512 for k = 10 (26 candidates), and at 64, 256 and 512 for k = 20 (40).
/// The tiles (the faster of their kernels at each size) take every batch up to the largest
/// size below which they won at every size measured, and every batch that fits a tile for 33
/// candidates and more if they won at each k = 20 size; the GEMM-like kernel takes the tiles
/// from the smallest k = 10 size from which it won at every larger one (0: it never did). All
/// choose the same candidates (checked).
fn tune_tiles(gpu: &Gpu, s: &Sizes) -> Result<Vec<Trial>> {
    use wgfaiss::Precision;
    use wgfaiss::ops::knn_half::{HalfProduct, product_form};
    let Some(form) = product_form(gpu) else {
        outln!("tiles: skipped (no SHADER_F16 on this adapter)");
        return Ok(Vec::new());
    };
    let d = 128;
    let mut rng = Rng::new(16);
    let base = rng.vec(s.nb * d);
    let queries = rng.vec(s.nq * d);
    let fits = wgfaiss::ops::knn::tile_queries(gpu, s.nb);
    let mode = |upto: u64, tiled: u64| {
        vec![
            ("half_tile_queries", Value::from(upto)),
            ("half_tile_kc", Value::from(0)),
            ("half_keys_tiled", Value::from(tiled)),
        ]
    };
    // The fused kernel, the teams key kernel and (tensor cores) the GEMM-like one.
    let mut modes = vec![mode(0, 0), mode(1 << 20, 0)];
    if form == HalfProduct::Coop {
        modes.push(mode(1 << 20, 1));
    }
    let mut indexes = Vec::new();
    for m in &modes {
        let g = gpu_with("knn", m)?;
        let mut flat = FlatIndex::new(&g, d, Metric::L2)?;
        flat.add(&base)?;
        indexes.push((g, flat));
    }
    let p = SearchParams {
        timed: true,
        precision: Precision::F16,
        ..Default::default()
    };
    // (fused, teams, GEMM-like or +inf) seconds of `n` queries with `k`.
    let time = |n: usize, k: usize| -> Result<(f64, f64, f64)> {
        let q = &queries[..n * d];
        let mut times = [f64::INFINITY; 3];
        let mut answers = Vec::new();
        for (slot, (g, flat)) in indexes.iter().enumerate() {
            let (seconds, ids) = time_search(g, flat, (q, k, &p), s.iters)?;
            answers.push(ids);
            times[slot] = seconds;
        }
        agree(
            &answers,
            &format!("tiles: the fused and tiled f16 searches of {n} queries, k = {k}"),
        )?;
        eprintln!(
            "tiles: k = {k:>3} {n:>6} queries  fused {:>9.3} ms  tiles {:>9.3} ms  tiles like the GEMM {:>9.3} ms",
            times[0] * 1e3,
            times[1] * 1e3,
            times[2] * 1e3
        );
        Ok((times[0], times[1], times[2]))
    };
    // The trial's time: the tiles' summed over the sizes they took, else the fused kernel's
    // at the first size.
    let mut upto = 0u64;
    let (mut fused_s, mut tiles_s) = (0.0, 0.0);
    // Per k = 10 size, whether the GEMM-like kernel beat the teams one.
    let mut gemm_like = Vec::new();
    for n in [8, 16, 32, 64, 128, 192, 256, 384, 512] {
        if n > s.nq || n > fits {
            break;
        }
        let (f, teams, tiled) = time(n, 10)?;
        gemm_like.push((n as u64, tiled < teams));
        let t = teams.min(tiled);
        if t >= f {
            if upto == 0 {
                fused_s = f;
            }
            break;
        }
        upto = n as u64;
        (fused_s, tiles_s) = (fused_s + f, tiles_s + t);
    }
    // From the first size of the last run of wins (0: it lost at the last size measured).
    let mut tiled_from = 0u64;
    for &(n, won) in gemm_like.iter().rev() {
        if !won {
            break;
        }
        tiled_from = n;
    }
    let mut wide = 33u64;
    let mut wide_sizes = 0;
    for n in [64, 256, 512] {
        if n > s.nq || n > fits {
            break;
        }
        let (f, teams, tiled) = time(n, 20)?;
        wide_sizes += 1;
        if teams.min(tiled) >= f {
            wide = 0;
        }
    }
    if wide_sizes == 0 {
        wide = 0;
    }
    Ok(vec![Trial {
        family: "knn",
        values: vec![
            ("half_tile_queries", Value::from(upto)),
            ("half_tile_kc", Value::from(wide)),
            ("half_keys_tiled", Value::from(tiled_from)),
        ],
        seconds: if upto > 0 { tiles_s } else { fused_s },
    }])
}

/// `Precision::Exact`'s path: the f32 kernel and the verified f16 search of one flat index
/// timed at batch sizes from one query to `s.nq`, with their answers compared. Two trials
/// (f32 and verified at the full batch, the faster wins) carry the same thresholds: the
/// fewest queries from which the verified search is faster at every larger size measured,
/// and whether it is faster for the few-query (streaming) searches.
fn tune_exact(gpu: &Gpu, s: &Sizes) -> Result<Vec<Trial>> {
    use wgfaiss::Precision;
    if wgfaiss::ops::knn_half::product_form(gpu).is_none() {
        outln!("exact: f32 (no SHADER_F16 on this adapter)");
        return Ok(vec![Trial {
            family: "knn",
            values: vec![("exact_path", Value::from("f32"))],
            seconds: 0.0,
        }]);
    }
    let d = 128;
    let mut rng = Rng::new(15);
    let base = rng.vec(s.nb * d);
    let queries = rng.vec(s.nq * d);
    let mut flat = FlatIndex::new(gpu, d, Metric::L2)?;
    flat.add(&base)?;
    let sizes: Vec<usize> = [1, 4, 5, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]
        .into_iter()
        .filter(|&n| n < s.nq)
        .chain([s.nq])
        .collect();
    // (queries, f32 seconds, verified seconds)
    let mut rows = Vec::new();
    for &n in &sizes {
        let q = &queries[..n * d];
        let mut times = [0.0; 2];
        let mut answers = Vec::new();
        for (slot, precision) in [Precision::F32, Precision::F16Verified]
            .into_iter()
            .enumerate()
        {
            let p = SearchParams {
                timed: true,
                precision,
                ..Default::default()
            };
            let (seconds, ids) = time_search(gpu, &flat, (q, 10, &p), s.iters)?;
            answers.push(ids);
            times[slot] = seconds;
        }
        // Both are exact: a difference beyond ties is a bug.
        agree(
            &answers,
            &format!("exact: the f32 and verified searches of {n} queries"),
        )?;
        eprintln!(
            "exact: {n:>6} queries  f32 {:>9.3} ms  verified {:>9.3} ms",
            times[0] * 1e3,
            times[1] * 1e3
        );
        rows.push((n, times[0], times[1]));
    }
    // The smallest size from which verified wins at every larger size (past the streaming
    // sizes), and whether it wins where the f16 streaming kernel serves the search.
    let kc = wgfaiss::ops::knn_half::candidates(10, 0)?;
    let streams = |n: usize| wgfaiss::ops::knn_half::streams(gpu, n, d, kc);
    let mut min_queries = s.nq.max(1) as u64 + 1;
    for &(n, f, v) in rows.iter().rev() {
        if streams(n) {
            continue;
        }
        if v < f {
            min_queries = n as u64;
        } else {
            break;
        }
    }
    let stream_rows: Vec<_> = rows.iter().filter(|r| streams(r.0)).collect();
    let stream = !stream_rows.is_empty() && stream_rows.iter().all(|&&(_, f, v)| v < f);
    let &(_, f, v) = rows.last().expect("at least the full batch");
    let values = |path: &str| {
        vec![
            ("exact_path", Value::from(path)),
            ("verified_min_queries", Value::from(min_queries)),
            ("verified_stream", Value::from(u64::from(stream))),
        ]
    };
    Ok(vec![
        Trial {
            family: "knn",
            values: values("f32"),
            seconds: f,
        },
        Trial {
            family: "knn",
            values: values("verified"),
            seconds: v,
        },
    ])
}

fn tune_topk(s: &Sizes) -> Result<Vec<Trial>> {
    let (rows, cols) = s.topk;
    let mut rng = Rng::new(13);
    let x = rng.vec(rows * cols);
    let mut out = Vec::new();
    for wg in TOPK_CANDIDATES {
        let gpu = match gpu_with("topk", &[("workgroup_size", wg.into())]) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("topk workgroup {wg}: skipped ({e})");
                continue;
            }
        };
        let data = gpu.upload_split(&x, cols)?;
        let mut total = 0.0;
        for k in [10, 100] {
            let plan = TopKPlan::new(&gpu, &data, rows, cols, k, false, &TopKOptions::default())?;
            let (g, w) = time(&gpu, s.iters, &|b| plan.record(b))?;
            total += g.unwrap_or(w);
        }
        out.push(Trial {
            family: "topk",
            values: vec![("workgroup_size", wg.into())],
            seconds: total,
        });
    }
    Ok(out)
}

/// The IVF list scan: one index of the `bench ivf` data, each scan timed on the same batch
/// search (per search through `SearchParams::scan`, so the index is trained once).
fn tune_ivf(gpu: &Gpu, s: &Sizes) -> Result<Vec<Trial>> {
    let (nb, nlist, nprobe, nq) = s.ivf;
    let d = 128;
    let mut rng = Rng::new(14);
    let centers = crate::ivf::gaussian(&mut rng, (nb / 100).max(1) * d);
    let base = crate::ivf::around(&mut rng, &centers, d, nb);
    let queries = crate::ivf::around(&mut rng, &centers, d, nq);
    let mut ivf = IvfFlatIndex::new(gpu, d, nlist, Metric::L2)?;
    ivf.kmeans.niter = 10;
    ivf.train(&base)?;
    ivf.add(&base)?;
    let mut out = Vec::new();
    let mut answers = Vec::new();
    for (name, scan) in [("fused", ScanMode::Fused), ("keys", ScanMode::Keys)] {
        let p = SearchParams {
            nprobe,
            timed: true,
            scan: Some(scan),

            ..Default::default()
        };
        let run = || -> Result<(f64, Vec<i64>)> {
            let t = Instant::now();
            let r = ivf.search(&queries, 10, &p)?;
            Ok((r.gpu_seconds.unwrap_or(t.elapsed().as_secs_f64()), r.ids))
        };
        let (first, ids) = run()?;
        answers.push(ids);
        crate::bench::warm_clocks(gpu)?;
        let mut times = vec![first];
        for _ in 0..s.iters.min(5) {
            times.push(run()?.0);
        }
        out.push(Trial {
            family: "ivf",
            values: vec![("scan", Value::from(name))],
            seconds: crate::bench::median(times),
        });
    }
    // Both scans are exact over the probed lists: a difference beyond ties is a bug.
    agree(&answers, "the fused and keys scans")?;
    Ok(out)
}

/// Two exact searches' ids: more than one in a thousand differing is more than ties.
fn agree(answers: &[Vec<i64>], what: &str) -> Result<()> {
    let differ = answers[0]
        .iter()
        .zip(&answers[1])
        .filter(|(a, b)| a != b)
        .count();
    if differ * 1000 > answers[0].len() {
        bail!("{what} disagree on {differ} results");
    }
    Ok(())
}

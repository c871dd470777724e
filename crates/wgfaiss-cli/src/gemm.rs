//! `wgfaiss bench gemm`.

use anyhow::{Context, Result, bail};
use serde::Serialize;
use wgfaiss::Gpu;
use wgfaiss::ops::gemm::{CoopPeak, Gemm, GemmOptions, GemmShape, PROBES, PaddedCoopGemm, Tiles};
use wgfaiss::rng::Rng;

use crate::bench::time;

/// One f16 tensor-core product: time, and the largest error relative to Σ|a·b| against an
/// f64 reference on the exact f32 inputs (what a user gets) — the f16 rounding of the inputs
/// dominates it.
fn bench_f16(
    gpu: &Gpu,
    a: &[f32],
    b: &[f32],
    shape: GemmShape,
    t: &str,
    iters: usize,
) -> Result<Row> {
    let (m, n, k) = (shape.m, shape.n, shape.k);
    if shape.trans_a {
        bail!("--f16 supports nn and nt");
    }
    let p = PaddedCoopGemm::new(gpu, a, b, shape)?;
    let (mp, np, _) = p.padded;
    let plan = &p.plan;
    gpu.write(&p.c, &vec![f32::NAN; mp * np])?;
    let (g, w) = time(gpu, iters, &|batch| plan.record(batch))?;
    let c = gpu.read(&p.c)?;
    let mut worst = 0.0f64;
    for s in 0..64 {
        let (i, j) = ((s * 7919) % m, (s * 104_729) % n);
        let (mut dot, mut mag) = (0.0f64, 0.0f64);
        for kk in 0..k {
            let x = f64::from(a[i * k + kk]);
            let y = f64::from(if shape.trans_b {
                b[j * k + kk]
            } else {
                b[kk * n + j]
            });
            dot += x * y;
            mag += (x * y).abs();
        }
        worst = worst.max((f64::from(c[i * np + j]) - dot).abs() / mag.max(1e-30));
    }
    // f16 inputs carry 2^-11 relative rounding each: a bound of a few 2^-11 relative to Σ|ab|.
    if worst.is_nan() || worst > 4.0 * 2f64.powi(-11) {
        bail!("{m}x{n}x{k} {t} f16: error {worst:.2e} against the f64 reference");
    }
    Ok(Row {
        m,
        n,
        k,
        trans: t.to_string(),
        tiles: match plan.staged() {
            Some(t) => format!(
                "f16 coop {}x{}x{} frags {}x{} {:?} pad {} stages {}",
                t.tile_m, t.tile_n, t.tile_k, t.frag_m, t.frag_n, t.stage, t.pad, t.stages
            ),
            None => "f16 coop 32x32".into(),
        },
        gpu_ms: g.map(|g| g * 1e3),
        wall_ms: w * 1e3,
        tflops: g.map(|g| shape.flops() / g / 1e12),
        max_rel_err: worst,
    })
}

#[derive(Debug, Serialize)]
struct Row {
    m: usize,
    n: usize,
    k: usize,
    trans: String,
    tiles: String,
    gpu_ms: Option<f64>,
    wall_ms: f64,
    tflops: Option<f64>,
    max_rel_err: f64,
}

fn parse_shapes(s: &str) -> Result<Vec<(usize, usize, usize)>> {
    s.split(',')
        .map(|t| {
            let v: Vec<usize> = t
                .trim()
                .split('x')
                .map(|x| x.parse().with_context(|| format!("bad shape {t:?}")))
                .collect::<Result<_>>()?;
            match v[..] {
                [m, n, k] if m > 0 && n > 0 => Ok((m, n, k)),
                _ => bail!("bad shape {t:?}: expected MxNxK"),
            }
        })
        .collect()
}

fn parse_tiles(s: &str) -> Result<Vec<Tiles>> {
    s.split(';')
        .map(|t| {
            let v: Vec<u32> = t
                .trim()
                .split(',')
                .map(|x| x.parse().with_context(|| format!("bad tiles {t:?}")))
                .collect::<Result<_>>()?;
            match v[..] {
                [a, b, c, d, e] => Ok((a, b, c, d, e)),
                _ => bail!("bad tiles {t:?}: expected tile_m,tile_n,tile_k,thread_m,thread_n"),
            }
        })
        .collect()
}

/// What `bench gemm` measures besides the f32 products.
pub struct Modes {
    /// The f16 tensor-core products instead of f32.
    pub f16: bool,
    /// The cooperative-matrix ceiling first ([`CoopPeak`]).
    pub coop_peak: bool,
}

/// The cooperative-matrix probe at a few grid sizes: TFLOP/s with no memory traffic.
fn coop_peak(gpu: &Gpu, iters: usize) -> Result<()> {
    for src in PROBES {
        for groups in [528u32, 2112] {
            let probe = CoopPeak::new(gpu, src, groups, 2048)?;
            let (g, w) = time(gpu, iters, &|batch| probe.record(batch))?;
            let s = g.unwrap_or(w);
            outln!(
                "coop probe, fragments from {src:?}: {groups} workgroups of 4 subgroups x 16 accumulators, 2048 rounds: {:.3} ms {}, {:.1} TFLOP/s",
                s * 1e3,
                if g.is_some() { "GPU" } else { "wall" },
                probe.flops() / s / 1e12
            );
        }
    }
    Ok(())
}

pub fn bench(
    shapes: &str,
    trans: &str,
    tiles: Option<&str>,
    iters: usize,
    modes: Modes,
    json: Option<std::path::PathBuf>,
) -> Result<()> {
    if iters == 0 {
        bail!("--iters must be positive");
    }
    let gpu = Gpu::new().context("opening a GPU")?;
    if modes.coop_peak {
        coop_peak(&gpu, iters)?;
    }
    let f16 = modes.f16;
    let shapes = parse_shapes(shapes)?;
    let tiles: Vec<Option<Tiles>> = match tiles {
        Some(t) => parse_tiles(t)?.into_iter().map(Some).collect(),
        None => vec![None],
    };
    let mut rows = Vec::new();
    let mut rng = Rng::new(7);
    for &(m, n, k) in &shapes {
        for t in trans.split(',') {
            let (ta, tb) = match t.trim() {
                "nn" => (false, false),
                "nt" => (false, true),
                "tn" => (true, false),
                "tt" => (true, true),
                other => bail!("bad transpose {other:?}: expected nn, nt, tn or tt"),
            };
            let shape = GemmShape {
                trans_a: ta,
                trans_b: tb,
                ..GemmShape::new(m, n, k)
            };
            let (la, lb, lc) = shape.lens();
            let a = rng.vec(la);
            let b = rng.vec(lb);
            if f16 {
                rows.push(bench_f16(&gpu, &a, &b, shape, t.trim(), iters)?);
                continue;
            }
            let ga = gpu.upload(&a)?;
            let gb = gpu.upload(&b)?;
            let gc = gpu.alloc::<f32>(lc)?;
            for &tile in &tiles {
                let opts = GemmOptions {
                    tiles: tile,
                    ..Default::default()
                };
                let plan = Gemm::new(&gpu, &ga, &gb, &gc, shape, &opts)?;
                gpu.write(&gc, &vec![f32::NAN; lc])?;
                let (g, w) = time(&gpu, iters, &|batch| plan.record(batch))?;
                // Check 64 entries against an f64 reference.
                let c = gpu.read(&gc)?;
                let mut worst = 0.0f64;
                for s in 0..64 {
                    let (i, j) = ((s * 7919) % m, (s * 104_729) % n);
                    let mut dot = 0.0f64;
                    let mut mag = 0.0f64;
                    for kk in 0..k {
                        let x = f64::from(if ta { a[kk * m + i] } else { a[i * k + kk] });
                        let y = f64::from(if tb { b[j * k + kk] } else { b[kk * n + j] });
                        dot += x * y;
                        mag += (x * y).abs();
                    }
                    let err = (f64::from(c[i * n + j]) - dot).abs() / mag.max(1e-30);
                    worst = worst.max(err);
                }
                if worst.is_nan() || worst > 2.0 * (k as f64 + 2.0) * f64::from(f32::EPSILON) {
                    bail!("{m}x{n}x{k} {t}: error {worst:.2e} against the f64 reference");
                }
                let (used, splits) = plan.config();
                let label = format!(
                    "{},{},{},{},{} k/{splits}",
                    used.0, used.1, used.2, used.3, used.4
                );
                rows.push(Row {
                    m,
                    n,
                    k,
                    trans: t.trim().to_string(),
                    tiles: label,
                    gpu_ms: g.map(|g| g * 1e3),
                    wall_ms: w * 1e3,
                    tflops: g.map(|g| shape.flops() / g / 1e12),
                    max_rel_err: worst,
                });
            }
        }
    }
    outln!(
        "{:<18} {:<5} {:<20} {:>10} {:>10} {:>8} {:>9}",
        "MxNxK",
        "op",
        "tiles",
        "gpu ms",
        "wall ms",
        "TFLOP/s",
        "err/|ab|"
    );
    for r in &rows {
        outln!(
            "{:<18} {:<5} {:<20} {:>10} {:>10.3} {:>8} {:>9.1e}",
            format!("{}x{}x{}", r.m, r.n, r.k),
            r.trans,
            r.tiles,
            r.gpu_ms.map_or("-".into(), |v| format!("{v:.3}")),
            r.wall_ms,
            r.tflops.map_or("-".into(), |v| format!("{v:.2}")),
            r.max_rel_err
        );
    }
    if let Some(path) = json {
        let out = serde_json::json!({
            "adapter": gpu.capabilities().name,
            "rows": rows,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&out)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

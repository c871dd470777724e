//! `wgfaiss demo`: the main job on built-in (generated) data, on whatever adapter exists.
//!
//! Until the Flat and IVF indexes land, the job is what they are made of: exact cosine k-NN of
//! generated clustered vectors by a GPU GEMM (queries · baseᵀ) and a GPU top-k, with recall@k
//! against a CPU f64 brute force, then every reduction checked against the CPU.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use wgfaiss::Gpu;
use wgfaiss::ops::gemm::{Gemm, GemmOptions, GemmShape};
use wgfaiss::ops::topk::{TopKOptions, TopKPlan};
use wgfaiss::rng::Rng;

/// Clustered unit vectors: `n` points around `centers` random centres.
fn clustered(rng: &mut Rng, centers: &[Vec<f32>], n: usize, noise: f32) -> Vec<f32> {
    let d = centers[0].len();
    let mut out = Vec::with_capacity(n * d);
    for _ in 0..n {
        let c = &centers[rng.below(centers.len())];
        let v: Vec<f32> = c.iter().map(|&x| x + noise * rng.f32()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        out.extend(v.iter().map(|x| x / norm));
    }
    out
}

pub fn run(nb: usize, nq: usize, d: usize, k: usize, n_reduce: usize, seed: u64) -> Result<()> {
    if nb == 0 || nq == 0 || d == 0 || k == 0 || n_reduce == 0 {
        bail!("--base, --queries, --dim, --k and --n must be positive");
    }
    let gpu = Gpu::new().context("opening a GPU")?;
    let caps = gpu.capabilities();
    outln!(
        "wgfaiss demo on {} ({}, {}; subgroups {}..{})",
        caps.name,
        caps.backend,
        caps.device_type,
        caps.subgroup_min_size,
        caps.subgroup_max_size
    );
    let mut rng = Rng::new(seed);
    let centers: Vec<Vec<f32>> = (0..(nb / 200).max(1)).map(|_| rng.vec(d)).collect();
    let base = clustered(&mut rng, &centers, nb, 0.3);
    let queries = clustered(&mut rng, &centers, nq, 0.3);
    outln!("exact cosine k-NN: {nq} queries x {nb} base vectors, d = {d}, k = {k} (GEMM + top-k)");
    let t0 = Instant::now();
    let gb = gpu.upload(&base)?;
    let gq = gpu.upload(&queries)?;
    let scores = gpu.alloc::<f32>(nq * nb)?;
    let shape = GemmShape {
        trans_b: true,
        ..GemmShape::new(nq, nb, d)
    };
    let gemm = Gemm::new(&gpu, &gq, &gb, &scores, shape, &GemmOptions::default())?;
    // The score matrix is one binding; top-k reads it as one chunk.
    let split = wgfaiss::SplitBuffer::from_buffer(scores);
    let topk = TopKPlan::new(&gpu, &split, nq, nb, k, true, &TopKOptions::default())?;
    topk.poison(&gpu)?;
    let mut batch = gpu.batch(true);
    gemm.record(&mut batch);
    topk.record(&mut batch);
    let report = batch.finish()?;
    let got = topk.read(&gpu)?;
    let wall = t0.elapsed().as_secs_f64();
    // CPU f64 brute force for recall.
    let t1 = Instant::now();
    let mut hits = 0usize;
    for q in 0..nq {
        let qv = &queries[q * d..(q + 1) * d];
        let mut s: Vec<(f64, u32)> = (0..nb)
            .map(|b| {
                let bv = &base[b * d..(b + 1) * d];
                let dot: f64 = qv
                    .iter()
                    .zip(bv)
                    .map(|(&x, &y)| f64::from(x) * f64::from(y))
                    .sum();
                (dot, b as u32)
            })
            .collect();
        s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let truth: std::collections::HashSet<u32> = s[..k.min(nb)].iter().map(|x| x.1).collect();
        hits += got.ids[q * k..(q + 1) * k]
            .iter()
            .filter(|id| id.is_some_and(|i| truth.contains(&i)))
            .count();
    }
    let recall = hits as f64 / (nq * k.min(nb)) as f64;
    outln!(
        "  recall@{k} vs CPU f64 brute force: {recall:.4}   GPU {} ({:.0} QPS by GPU time), {:.1} ms wall with uploads; CPU reference {:.0} ms",
        report
            .gpu_seconds
            .map_or("time n/a".to_string(), |g| format!("{:.3} ms", g * 1e3)),
        report.gpu_seconds.map_or(0.0, |g| nq as f64 / g),
        wall * 1e3,
        t1.elapsed().as_secs_f64() * 1e3
    );
    // f32 scores can swap near-ties with the f64 reference; anything lower is a bug.
    if recall < 0.99 {
        bail!("recall {recall:.4} is below 0.99: the GPU k-NN disagrees with the CPU");
    }
    crate::bench::demo_reductions(&gpu, n_reduce, seed)?;
    outln!("all results match the CPU reference");
    Ok(())
}

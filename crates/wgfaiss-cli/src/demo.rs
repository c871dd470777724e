//! `wgfaiss demo`: the main job on built-in (generated) data, on whatever adapter exists:
//! clustered vectors, an IVF index trained (GPU k-means) and filled, searched at a few nprobe
//! with recall@k against the exact flat index (itself checked against a CPU f64 brute force on
//! sample queries), QPS, and then every reduction checked against the CPU.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use wgfaiss::rng::Rng;
use wgfaiss::{FlatIndex, Gpu, Index, IvfFlatIndex, Metric, SearchParams};

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
    let centers = crate::ivf::gaussian(&mut rng, (nb / 20).max(1) * d);
    let base = crate::ivf::around(&mut rng, &centers, d, nb);
    let queries = crate::ivf::around(&mut rng, &centers, d, nq);
    let nlist = ((nb as f64).sqrt() as usize).clamp(1, nb);
    outln!(
        "{nb} base vectors and {nq} queries of d = {d} around {} centres; k = {k}",
        centers.len() / d
    );
    // Exact: the flat index, checked against the CPU on a few queries.
    let mut flat = FlatIndex::new(&gpu, d, Metric::L2)?;
    flat.add(&base)?;
    let t = Instant::now();
    let exact = flat.search(&queries, k, &SearchParams::default())?;
    let flat_s = t.elapsed().as_secs_f64();
    for qi in [0, nq / 2, nq - 1] {
        let qv = &queries[qi * d..(qi + 1) * d];
        let mut all: Vec<(f64, i64)> = base
            .chunks_exact(d)
            .enumerate()
            .map(|(i, x)| {
                let dist: f64 = qv
                    .iter()
                    .zip(x)
                    .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                    .sum();
                (dist, i as i64)
            })
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let got = exact.ids_of(qi);
        for (j, w) in all.iter().take(k).enumerate() {
            let tie =
                |o: Option<&(f64, i64)>| o.is_some_and(|o| (o.0 - w.0).abs() <= 1e-4 * (1.0 + w.0));
            if got[j] != w.1
                && !tie(j.checked_sub(1).and_then(|i| all.get(i)))
                && !tie(all.get(j + 1))
            {
                bail!(
                    "flat search disagrees with the CPU: query {qi} rank {j}: id {}, CPU {}",
                    got[j],
                    w.1
                );
            }
        }
    }
    outln!(
        "  Flat (exact): {:.1} ms for {nq} queries ({:.0} QPS); matches a CPU f64 brute force on sample queries",
        flat_s * 1e3,
        nq as f64 / flat_s
    );
    // IVF: train, add, search.
    let mut ivf = IvfFlatIndex::new(&gpu, d, nlist, Metric::L2)?;
    ivf.kmeans.niter = 10;
    ivf.kmeans.seed = seed;
    let t = Instant::now();
    ivf.train(&base)?;
    let train_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    ivf.add(&base)?;
    outln!(
        "  IVF{nlist},Flat: k-means (10 iterations) {:.2} s, add {:.2} s",
        train_s,
        t.elapsed().as_secs_f64()
    );
    let mut last = 0.0;
    for nprobe in [1, 4, 16, nlist].into_iter().filter(|&p| p <= nlist) {
        let params = SearchParams {
            nprobe,
            ..Default::default()
        };
        ivf.search(&queries, k, &params)?;
        let t = Instant::now();
        let r = ivf.search(&queries, k, &params)?;
        let s = t.elapsed().as_secs_f64();
        let mut hits = 0;
        for qi in 0..nq {
            let truth = exact.ids_of(qi);
            hits += r.ids_of(qi).iter().filter(|x| truth.contains(x)).count();
        }
        let recall = hits as f64 / (nq * k.min(nb)) as f64;
        outln!(
            "    nprobe {nprobe:>5}: recall@{k} {recall:.4}  {:>9.0} QPS  ({:.2} ms)",
            nq as f64 / s,
            s * 1e3
        );
        last = recall;
    }
    // Every list probed is exact search.
    if last < 0.999 {
        bail!("IVF with every list probed has recall {last:.4}: it must equal the flat index");
    }
    crate::bench::demo_reductions(&gpu, n_reduce, seed)?;
    outln!("all results match the CPU reference");
    Ok(())
}

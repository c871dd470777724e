//! The f16 precision k-NN (`ops::knn_half`) against CPU f64 references: the candidates are the
//! best `kc` by the f16-rounded inputs' keys (within the f32 accumulation's error), the
//! results are the exact best `k` of those candidates with exact f32 values, planted
//! neighbours are found exactly, and recall on random data is reported and bounded. Both
//! metrics, query blocks off the 32-row tile, several segments and chunks, poisoned outputs,
//! bases smaller than k. On an adapter with cooperative matrices the tensor-core form runs;
//! on lavapipe the plain form (the same selection and re-rank).

mod common;

use common::{Rng, gpu, options, seed};
use half::f16;
use wgfaiss_core::ops::knn::{DbChunk, KnnMetric, squared_norms};
use wgfaiss_core::ops::knn_half::{HalfBase, KnnHalfPlan, candidates};
use wgfaiss_core::ops::topk::TopK;
use wgfaiss_core::{Gpu, GpuBuffer};

fn data(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.f32() * 2.0 - 1.0).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

fn round16(x: &[f32]) -> Vec<f32> {
    x.iter().map(|&v| f16::from_f32(v).to_f32()).collect()
}

/// Exact value of query `q` against row `x`: squared distance or inner product.
fn value(q: &[f32], x: &[f32], metric: KnnMetric) -> f64 {
    match metric {
        KnnMetric::L2 => q
            .iter()
            .zip(x)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum(),
        KnnMetric::InnerProduct => dot(q, x),
    }
}

/// The base on the device, cut into chunks of `rows_per_chunk` rows.
struct Base {
    data: Vec<GpuBuffer<f32>>,
    norms: Vec<GpuBuffer<f32>>,
    rows: Vec<usize>,
}

impl Base {
    fn new(gpu: &Gpu, db: &[f32], d: usize, rows_per_chunk: usize) -> Base {
        let (mut data, mut norms, mut rows) = (Vec::new(), Vec::new(), Vec::new());
        for c in db.chunks(rows_per_chunk * d) {
            data.push(gpu.upload(c).unwrap());
            norms.push(gpu.upload(&squared_norms(c, d)).unwrap());
            rows.push(c.len() / d);
        }
        Base { data, norms, rows }
    }

    fn chunks(&self) -> Vec<DbChunk<'_>> {
        let mut id0 = 0;
        (0..self.rows.len())
            .map(|i| {
                let c = DbChunk {
                    data: &self.data[i],
                    norms: &self.norms[i],
                    rows: self.rows[i],
                    id0,
                };
                id0 += self.rows[i] as u32;
                c
            })
            .collect()
    }
}

/// One search: results and the candidates before the re-rank (outputs poisoned first).
fn search(
    gpu: &Gpu,
    q: &[f32],
    db: &[f32],
    d: usize,
    rows_per_chunk: usize,
    (k, kc): (usize, usize),
    metric: KnnMetric,
) -> (TopK, TopK) {
    let (got, cand, _) = search_tiles(gpu, q, db, d, rows_per_chunk, (k, kc), metric);
    (got, cand)
}

/// [`search`], and whether key tiles chose the candidates.
fn search_tiles(
    gpu: &Gpu,
    q: &[f32],
    db: &[f32],
    d: usize,
    rows_per_chunk: usize,
    (k, kc): (usize, usize),
    metric: KnnMetric,
) -> (TopK, TopK, bool) {
    let r = run(gpu, (q, db, d), rows_per_chunk, (k, kc), metric);
    (r.got, r.cand, r.tiles)
}

/// What one planned search gave.
struct Run {
    got: TopK,
    cand: TopK,
    /// Key tiles chose the candidates.
    tiles: bool,
    /// A survivors search's counts and slots.
    survivors: Option<(Vec<u32>, usize)>,
    /// Per query the last candidate's f16 value.
    last: Vec<f32>,
}

/// One search of `q` over `db` (chunks of `rows_per_chunk`) with poisoned outputs.
fn run(
    gpu: &Gpu,
    (q, db, d): (&[f32], &[f32], usize),
    rows_per_chunk: usize,
    (k, kc): (usize, usize),
    metric: KnnMetric,
) -> Run {
    let base = Base::new(gpu, db, d, rows_per_chunk);
    let chunks = base.chunks();
    let half = HalfBase::new(gpu, &chunks, d).unwrap();
    let nq = q.len() / d;
    let (qb, qn) = (
        gpu.upload(q).unwrap(),
        gpu.upload(&squared_norms(q, d)).unwrap(),
    );
    let plan = KnnHalfPlan::new(
        gpu,
        &qb,
        &qn,
        (nq, d),
        &chunks,
        &half,
        (k, kc),
        (metric, true),
    )
    .unwrap();
    plan.poison(gpu).unwrap();
    let mut batch = gpu.batch(false);
    plan.record(&mut batch);
    batch.finish().unwrap();
    Run {
        got: plan.read(gpu).unwrap(),
        cand: plan.candidates(gpu).unwrap(),
        tiles: plan.key_tiles(),
        survivors: plan.survivors(gpu).unwrap(),
        last: plan.read_last(gpu).unwrap(),
    }
}

/// The fused kernel whatever the adapter's entry says.
fn fused_only() -> Gpu {
    Gpu::with_options(
        options()
            .with_override("WGFAISS_KNN_HALF_TILE_QUERIES", 0u64)
            .with_override("WGFAISS_KNN_HALF_TILE_KC", 0u64),
    )
    .unwrap()
}

/// Checks candidates and results of one search; returns (true neighbours found, k·nq).
/// Candidate keys are checked against the f16-rounded base with the queries rounded too
/// (the tiled kernel), or in f32 (the streaming kernel, for 1–4 queries).
#[allow(clippy::too_many_arguments)]
fn verify(
    q: &[f32],
    db: &[f32],
    d: usize,
    (k, kc): (usize, usize),
    metric: KnnMetric,
    (got, cand): (&TopK, &TopK),
    what: &str,
) -> (usize, usize) {
    let (nq, nb) = (q.len() / d, db.len() / d);
    let sign = if metric == KnnMetric::L2 { 1.0 } else { -1.0 };
    let streamed = nq <= wgfaiss_core::ops::knn::STREAM_MAX_QUERIES;
    let (qh, xh) = (if streamed { q.to_vec() } else { round16(q) }, round16(db));
    let mut found = 0;
    for r in 0..nq {
        let qr = &q[r * d..(r + 1) * d];
        let qhr = &qh[r * d..(r + 1) * d];
        // Candidates: the best kc by the kernel's keys on f16-rounded inputs (f32 norms).
        let key = |x: usize| -> f64 {
            let dh = dot(qhr, &xh[x * d..(x + 1) * d]);
            match metric {
                KnnMetric::L2 => f64::from(squared_norms(&db[x * d..(x + 1) * d], d)[0]) - 2.0 * dh,
                KnnMetric::InnerProduct => -dh,
            }
        };
        let mut by_key: Vec<usize> = (0..nb).collect();
        by_key.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
        let crow = &cand.ids[r * kc..(r + 1) * kc];
        let live = nb.min(kc);
        let tol = 1e-5 * (1.0 + d as f64);
        let bar = key(by_key[live - 1]) + tol;
        let mut seen = std::collections::HashSet::new();
        for (j, id) in crow.iter().enumerate() {
            match id {
                Some(id) if j < live => {
                    let id = *id as usize;
                    assert!(
                        id < nb && seen.insert(id),
                        "{what}: query {r} candidate {j} = {id}"
                    );
                    assert!(
                        key(id) <= bar,
                        "{what}: query {r} candidate {id} key {} beyond the {kc}-th {}",
                        key(id),
                        bar
                    );
                }
                None if j >= live => {}
                other => panic!("{what}: query {r} candidate slot {j} = {other:?} ({nb} rows)"),
            }
        }
        // Results: the best k of the candidates by exact values, with those values.
        let mut by_exact: Vec<usize> = crow.iter().flatten().map(|&i| i as usize).collect();
        by_exact.sort_by(|&a, &b| {
            (sign * value(qr, &db[a * d..(a + 1) * d], metric))
                .total_cmp(&(sign * value(qr, &db[b * d..(b + 1) * d], metric)))
                .then(a.cmp(&b))
        });
        let norm = dot(qr, qr) + 4.0 * d as f64;
        for j in 0..k {
            let (gid, gv) = (got.ids[r * k + j], got.values[r * k + j]);
            if j >= by_exact.len() {
                assert_eq!(gid, None, "{what}: query {r} slot {j} should be padding");
                assert_eq!(gv, sign as f32 * f32::INFINITY, "{what}: padding value");
                continue;
            }
            let gid = gid.unwrap_or_else(|| panic!("{what}: query {r} slot {j} empty")) as usize;
            let want = value(qr, &db[gid * d..(gid + 1) * d], metric);
            assert!(
                (f64::from(gv) - want).abs() <= 1e-5 * norm,
                "{what}: query {r} slot {j} value {gv} against {want}"
            );
            let wid = by_exact[j];
            let wv = value(qr, &db[wid * d..(wid + 1) * d], metric);
            assert!(
                gid == wid || (want - wv).abs() <= 1e-5 * norm,
                "{what}: query {r} slot {j} id {gid} ({want}) where the candidates' best is {wid} ({wv})"
            );
        }
        // Recall against the exact reference over the whole base.
        let mut all: Vec<usize> = (0..nb).collect();
        all.sort_by(|&a, &b| {
            (sign * value(qr, &db[a * d..(a + 1) * d], metric))
                .total_cmp(&(sign * value(qr, &db[b * d..(b + 1) * d], metric)))
                .then(a.cmp(&b))
        });
        let truth: std::collections::HashSet<u32> = all.iter().take(k).map(|&i| i as u32).collect();
        found += got.ids[r * k..(r + 1) * k]
            .iter()
            .flatten()
            .filter(|i| truth.contains(i))
            .count();
    }
    (found, nq * k.min(nb))
}

#[test]
fn candidates_by_f16_keys_and_exact_rerank_both_metrics() {
    // Teams of 32 queries per workgroup: the default (two here, the second with 13 live
    // queries) and one (two workgroups per segment, the second partial); and the base rows
    // staged in workgroup memory (tensor cores only: elsewhere the same plain form).
    let one_team =
        Gpu::with_options(options().with_override("WGFAISS_KNN_HALF_TEAMS", 1u64)).unwrap();
    let staged =
        Gpu::with_options(options().with_override("WGFAISS_KNN_HALF_STAGE", 1u64)).unwrap();
    let mut rng = Rng::new(seed("f16 knn"));
    // 45 queries; 1 000 rows in chunks of 384 (the last chunk ends off the 32-row step);
    // d = 20 (padded to 32).
    let (nq, nb, d) = (45, 1000, 20);
    let q = data(&mut rng, nq * d);
    let db = data(&mut rng, nb * d);
    let (mut found, mut total) = (0, 0);
    for (gpu, teams) in [(gpu(), "default"), (&one_team, "1"), (&staged, "staged")] {
        for metric in [KnnMetric::L2, KnnMetric::InnerProduct] {
            for (k, kc) in [(5, 0), (10, 10), (1, 3), (16, 32)] {
                let kc = candidates(k, kc).unwrap();
                // All queries (the tiled kernel), and 1 and 3 of them (the streaming kernel).
                for n in [nq, 1, 3] {
                    let qs = &q[..n * d];
                    let (got, cand) = search(gpu, qs, &db, d, 384, (k, kc), metric);
                    let what = format!("{metric:?} k={k} kc={kc} nq={n} teams {teams}");
                    let (f, t) = verify(qs, &db, d, (k, kc), metric, (&got, &cand), &what);
                    found += f;
                    total += t;
                }
            }
        }
    }
    // Every key positive (queries in [-1, 0], base in [0, 1]: <q, x> <= 0), so the bounds
    // the segments share are positive codes too (above, the best keys are mostly negative).
    let qp: Vec<f32> = q.iter().map(|v| -v.abs()).collect();
    let dbp: Vec<f32> = db.iter().map(|v| v.abs()).collect();
    for metric in [KnnMetric::L2, KnnMetric::InnerProduct] {
        let kc = candidates(10, 0).unwrap();
        let (got, cand) = search(gpu(), &qp, &dbp, d, 384, (10, kc), metric);
        let what = format!("{metric:?} positive keys");
        let (f, t) = verify(&qp, &dbp, d, (10, kc), metric, (&got, &cand), &what);
        found += f;
        total += t;
    }
    let recall = found as f64 / total as f64;
    eprintln!("recall of the f16 mode against exact: {recall:.4} ({found} of {total})");
    assert!(recall >= 0.97, "recall {recall}");
}

/// Key tiles hold the values the fused kernel compares, selected by (key, id): the same
/// candidates, keys and results as the fused kernel's.
fn same_as_fused((got, cand): (&TopK, &TopK), (fused, fused_cand): (&TopK, &TopK), what: &str) {
    assert_eq!(cand.ids, fused_cand.ids, "{what}: candidates");
    assert_eq!(cand.values, fused_cand.values, "{what}: candidate keys");
    assert_eq!(
        (&got.ids, &got.values),
        (&fused.ids, &fused.values),
        "{what}"
    );
}

#[test]
fn key_tiles_choose_the_fused_kernels_candidates() {
    // Key tiles for batches of up to 64 queries. On tensor cores, the tiled kernel
    // (knn.half_keys_tiled from 1 query: 64 queries x 256 rows per workgroup, keys written
    // 16 bytes at a time) with four ranges of one tile (the last partial: 1 000 rows) or one
    // range of all four (knn.target_groups 1); and the teams kernel:
    // workgroups of 2 steps (64 rows: 16 ranges of 1 000 rows, the last one partial; fewer
    // than most kc, so no bound) with the default teams (4: one workgroup holds the two blocks
    // of 45 queries, the second with 13 live), and of 1 step with one team (32 ranges: the
    // top-k pass is bounded for kc <= 32). Without tensor cores every form is the teams one.
    let tiles_up_to = |most: u64, teams: u64, steps: u64, tiled: u64, groups: u64| {
        Gpu::with_options(
            options()
                .with_override("WGFAISS_KNN_HALF_TILE_QUERIES", most)
                .with_override("WGFAISS_KNN_HALF_KEYS_STEPS", steps)
                .with_override("WGFAISS_KNN_HALF_KEYS_TEAMS", teams)
                .with_override("WGFAISS_KNN_HALF_KEYS_TILED", tiled)
                .with_override("WGFAISS_KNN_TARGET_GROUPS", groups),
        )
        .unwrap()
    };
    let tiles = |teams, steps, tiled, groups| tiles_up_to(64, teams, steps, tiled, groups);
    let forms = [
        (tiles(4, 2, 0, 512), "teams 4"),
        (tiles(1, 1, 0, 512), "teams 1"),
        (tiles(4, 2, 1, 512), "tiled, ranges of 256"),
        (tiles(4, 2, 1, 1), "tiled, one range"),
    ];
    let fused_only = fused_only();
    let mut rng = Rng::new(seed("f16 key tiles"));
    let (nb, d) = (1000, 20);
    let q = data(&mut rng, 70 * d);
    let db = data(&mut rng, nb * d);
    for metric in [KnnMetric::L2, KnnMetric::InnerProduct] {
        for (k, kc) in [(10, 0), (1, 3), (16, 32), (50, 100)] {
            let kc = candidates(k, kc).unwrap();
            for n in [45, 5, 64] {
                let qs = &q[..n * d];
                // The fused kernel's candidates (one chunk, as the tiles need).
                let (fused, fused_cand, t) =
                    search_tiles(&fused_only, qs, &db, d, nb, (k, kc), metric);
                assert!(!t, "no key tiles where the tuning says 0");
                for (gpu, form) in &forms {
                    let what = format!("{metric:?} k={k} kc={kc} nq={n} {form}");
                    let (got, cand, t) = search_tiles(gpu, qs, &db, d, nb, (k, kc), metric);
                    assert!(t, "{what}: key tiles");
                    verify(qs, &db, d, (k, kc), metric, (&got, &cand), &what);
                    same_as_fused((&got, &cand), (&fused, &fused_cand), &what);
                }
            }
        }
    }
    // A dimension padded to 112 (not a multiple of 32): the tiled kernel's slices of 16, seven
    // per tile; 998 rows (not a multiple of 4): its keys written one at a time; 100 queries:
    // two blocks of 64.
    let (d2, nb2) = (100, 998);
    let q2 = data(&mut rng, 100 * d2);
    let wide_forms = [
        (tiles_up_to(128, 4, 2, 1, 512), "tiled, ranges of 256"),
        (tiles_up_to(128, 4, 2, 1, 1), "tiled, one range"),
    ];
    let db2 = data(&mut rng, nb2 * d2);
    for metric in [KnnMetric::L2, KnnMetric::InnerProduct] {
        let kc = candidates(10, 0).unwrap();
        let (fused, fused_cand, _) =
            search_tiles(&fused_only, &q2, &db2, d2, nb2, (10, kc), metric);
        for (gpu, form) in &wide_forms {
            let what = format!("{metric:?} d={d2} {form}");
            let (got, cand, t) = search_tiles(gpu, &q2, &db2, d2, nb2, (10, kc), metric);
            assert!(t, "{what}: key tiles");
            verify(&q2, &db2, d2, (10, kc), metric, (&got, &cand), &what);
            same_as_fused((&got, &cand), (&fused, &fused_cand), &what);
        }
    }
    // knn.half_tile_kc: from 33 candidates on, any batch that fits a tile takes it.
    let wide = Gpu::with_options(
        options()
            .with_override("WGFAISS_KNN_HALF_TILE_QUERIES", 0u64)
            .with_override("WGFAISS_KNN_HALF_TILE_KC", 33u64),
    )
    .unwrap();
    for (k, tiled) in [(16, false), (17, true), (50, true)] {
        let kc = candidates(k, 0).unwrap();
        let qs = &q[..45 * d];
        let (got, cand, t) = search_tiles(&wide, qs, &db, d, nb, (k, kc), KnnMetric::InnerProduct);
        assert_eq!(t, tiled, "k = {k}, kc = {kc}");
        verify(
            qs,
            &db,
            d,
            (k, kc),
            KnnMetric::InnerProduct,
            (&got, &cand),
            "half_tile_kc",
        );
    }
    // Beyond knn.half_tile_queries, or a base of several chunks: the fused kernel.
    for (n, rows_per_chunk) in [(70, nb), (45, 384)] {
        let qs = &q[..n * d];
        let kc = candidates(10, 0).unwrap();
        let (got, cand, t) = search_tiles(
            &forms[0].0,
            qs,
            &db,
            d,
            rows_per_chunk,
            (10, kc),
            KnnMetric::L2,
        );
        assert!(!t, "nq={n}, chunks of {rows_per_chunk}: fused");
        verify(
            qs,
            &db,
            d,
            (10, kc),
            KnnMetric::L2,
            (&got, &cand),
            "fused fallback",
        );
    }
}

#[test]
fn planted_neighbours_are_found_exactly_over_several_segments() {
    // A lowered segment length (loop budget) and a single chunk: many segments per query.
    let gpu =
        Gpu::with_options(options().with_override("WGFAISS_KNN_LOOP_BUDGET", 20_000u64)).unwrap();
    let mut rng = Rng::new(seed("f16 planted"));
    let (nq, nb, d, k) = (7, 3000, 64, 8);
    let q = data(&mut rng, nq * d);
    let mut db = data(&mut rng, nb * d);
    // Query r's k neighbours at rows r·37 + 5j, each component 0.01 (j + 1) away with a random
    // sign: squared distances 0.0064 (j + 1)², far apart next to the f32 re-rank's error
    // (~1e-5 here) and far below the random rows' ~ d·2/3. (Random magnitudes made two
    // planted rows 9e-6 apart once in CI, an order that the exact-order check below cannot
    // demand.)
    for r in 0..nq {
        for j in 0..k {
            let row = r * 37 + 5 * j;
            for c in 0..d {
                let sign = if rng.f32() < 0.5 { -1.0 } else { 1.0 };
                db[row * d + c] = q[r * d + c] + 0.01 * (j as f32 + 1.0) * sign;
            }
        }
    }
    let kc = candidates(k, 0).unwrap();
    let (got, cand) = search(&gpu, &q, &db, d, nb, (k, kc), KnnMetric::L2);
    verify(&q, &db, d, (k, kc), KnnMetric::L2, (&got, &cand), "planted");
    for r in 0..nq {
        let mut want: Vec<usize> = (0..k).map(|j| r * 37 + 5 * j).collect();
        want.sort_by(|&a, &b| {
            value(
                &q[r * d..(r + 1) * d],
                &db[a * d..(a + 1) * d],
                KnnMetric::L2,
            )
            .total_cmp(&value(
                &q[r * d..(r + 1) * d],
                &db[b * d..(b + 1) * d],
                KnnMetric::L2,
            ))
        });
        let ids: Vec<usize> = got.ids[r * k..(r + 1) * k]
            .iter()
            .map(|i| i.unwrap() as usize)
            .collect();
        assert_eq!(ids, want, "query {r}");
    }
}

#[test]
fn a_base_smaller_than_k_pads_and_bad_candidate_counts_are_errors() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("f16 small"));
    let (nq, nb, d) = (3, 5, 3);
    let q = data(&mut rng, nq * d);
    let db = data(&mut rng, nb * d);
    let (got, cand) = search(gpu, &q, &db, d, nb, (8, 20), KnnMetric::InnerProduct);
    verify(
        &q,
        &db,
        d,
        (8, 20),
        KnnMetric::InnerProduct,
        (&got, &cand),
        "small",
    );
    assert!(candidates(10, 9).is_err());
    assert!(candidates(0, 0).is_err());
    assert!(candidates(300, 0).is_err());
    let base = Base::new(gpu, &db, d, nb);
    let chunks = base.chunks();
    let half = HalfBase::new(gpu, &chunks, d).unwrap();
    // Six queries (the tiled kernel; 1–4 stream, with room for 256 candidates).
    let q6 = data(&mut rng, 6 * d);
    let (qb, qn) = (
        gpu.upload(&q6).unwrap(),
        gpu.upload(&squared_norms(&q6, d)).unwrap(),
    );
    // The most candidates (each invocation's private list holds 256) with six queries (the
    // tiled kernel): the base of 5 pads every list.
    let (got, cand) = search(gpu, &q6, &db, d, nb, (200, 256), KnnMetric::L2);
    verify(
        &q6,
        &db,
        d,
        (200, 256),
        KnnMetric::L2,
        (&got, &cand),
        "most",
    );
    // A query count the buffers do not hold.
    assert!(
        KnnHalfPlan::new(
            gpu,
            &qb,
            &qn,
            (7, d),
            &chunks,
            &half,
            (2, 4),
            (KnnMetric::L2, true)
        )
        .is_err()
    );
}

/// The verified search's bounds (`f16_error`, `f32_error`, `verified`): the f16 value of a
/// vector, computed as the kernels do (operands rounded to f16 — to the nearest value or to
/// its neighbour on the other side, since WGSL lets a conversion round either way — products
/// summed in f32), is within `f16_error` of the exact value, for magnitudes from the subnormal
/// range to near the f16 limit; and the proof's decisions at its edges.
#[test]
fn verified_search_bounds_hold_and_decide() {
    use wgfaiss_core::ops::knn_half::{F16_LIMIT, f16_error, f32_error, verified};
    let mut rng = Rng::new(seed("f16 bounds"));
    // Either neighbour of v in f16 (the one beyond the nearest, half the time).
    let round = |v: f32, rng: &mut Rng| -> f32 {
        let h = f16::from_f32(v);
        let other = if f32::from(h) > v {
            f16::from_bits(h.to_bits().wrapping_sub(if v >= 0.0 { 1 } else { 0xffff }))
        } else {
            f16::from_bits(h.to_bits().wrapping_add(if v >= 0.0 { 1 } else { 0xffff }))
        };
        let pick = if rng.f32() < 0.5 || !other.is_finite() || h.to_bits() & 0x7fff == 0 {
            h
        } else {
            other
        };
        f32::from(pick)
    };
    let mut worst: f64 = 0.0;
    for (d, scale) in [
        (128, 1.0),
        (16, 2e-5),
        (100, 3e-3),
        (64, 900.0),
        (8, 20000.0),
        (784, 0.05),
    ] {
        for _ in 0..200 {
            let q: Vec<f32> = (0..d).map(|_| (rng.f32() * 2.0 - 1.0) * scale).collect();
            let x: Vec<f32> = (0..d).map(|_| (rng.f32() * 2.0 - 1.0) * scale).collect();
            assert!(x.iter().chain(&q).all(|v| v.abs() < F16_LIMIT));
            let norm = |v: &[f32]| v.iter().map(|&t| f64::from(t).powi(2)).sum::<f64>().sqrt();
            let (qn, xn) = (norm(&q), norm(&x));
            let exact_dot: f64 = q
                .iter()
                .zip(&x)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum();
            let mut dot = 0f32;
            for (&a, &b) in q.iter().zip(&x) {
                dot += round(a, &mut rng) * round(b, &mut rng);
            }
            let xn2: f32 = x.iter().map(|v| v * v).sum();
            // L2 key without the query's norm, as the tiled kernel keeps it.
            let key = f64::from((-2.0f32).mul_add(dot, xn2));
            let exact_key = xn * xn - 2.0 * exact_dot;
            let (e_ip, e_l2) = (f16_error(d, qn, xn, false), f16_error(d, qn, xn, true));
            assert!(
                (f64::from(dot) - exact_dot).abs() <= e_ip,
                "d={d} scale={scale}: dot"
            );
            assert!(
                (key - exact_key).abs() <= e_l2,
                "d={d} scale={scale}: L2 key"
            );
            worst = worst.max((f64::from(dot) - exact_dot).abs() / e_ip);
        }
    }
    eprintln!("largest f16 error seen: {worst:.3} of the bound");
    // The worst case the bound is made for: every operand just above 1 (nearest: 1), rounded
    // to its far neighbour 1 + 2^-10 instead (a whole unit), all errors of one sign. The error
    // is then nearly the whole bound, so a bound half as large fails here.
    let d = 128;
    let v = 1.0f32 + 2f32.powi(-20);
    let far = 1.0f32 + 2f32.powi(-10);
    assert_eq!(f32::from(f16::from_f32(v)), 1.0);
    let exact_dot = d as f64 * f64::from(v) * f64::from(v);
    let dot: f32 = (0..d).map(|_| far * far).sum();
    let n = (d as f64).sqrt() * f64::from(v);
    let ratio = (f64::from(dot) - exact_dot).abs() / f16_error(d, n, n, false);
    assert!(
        ratio <= 1.0 && ratio > 0.9,
        "worst case at {ratio:.3} of the bound"
    );
    // Decisions: L2 (last as a distance) and inner products, at and past the margin.
    let (d, qn, xn) = (128, 6.0, 7.0);
    let margin = f16_error(d, qn, xn, true) + f32_error(d, qn, xn, true);
    let kth = 10.0f32;
    let at = f64::from(kth) + margin;
    assert!(verified(at * 1.0001 + 1e-9, kth, d, (qn, xn), true));
    assert!(!verified(at - 1e-6, kth, d, (qn, xn), true));
    assert!(
        verified(f64::INFINITY, kth, d, (qn, xn), true),
        "every vector a candidate"
    );
    assert!(!verified(f64::NAN, kth, d, (qn, xn), true));
    assert!(
        !verified(1e30, f32::INFINITY, d, (qn, xn), true),
        "padding proves nothing"
    );
    let margin = f16_error(d, qn, xn, false) + f32_error(d, qn, xn, false);
    let at = f64::from(kth) - margin;
    assert!(verified(at - 1e-6, kth, d, (qn, xn), false));
    assert!(!verified(at + 1e-6, kth, d, (qn, xn), false));
    assert!(verified(f64::NEG_INFINITY, kth, d, (qn, xn), false));
}

/// The survivors' selection alone (any adapter): per query the first `kc` of its
/// `min(count, cap)` slots by (key, row), padded with +inf / `NONE`, inner products negated
/// back, and NaN as the last value where the count passed the slots. Counts 0, under kc,
/// over kc, exactly cap and past it; keys with ties; poisoned outputs.
#[test]
fn survivors_selection_sorts_each_querys_slots() {
    use wgfaiss_core::ops::knn_half_tiles::{SelectParams, survivors_select_family};
    let gpu = gpu();
    let mut rng = Rng::new(seed("survivors select"));
    let cap = 64;
    let counts = [0u32, 3, 40, 64, 100, 17, 63, 1];
    let nq = counts.len();
    // Keys from a few values (ties), rows distinct per query.
    let keys: Vec<f32> = (0..nq * cap)
        .map(|_| (rng.f32() * 8.0).floor() - 3.0)
        .collect();
    let rows: Vec<u32> = (0..nq * cap)
        .map(|i| ((i % cap) as u32 * 7919 + 13) % 100_003)
        .collect();
    for metric in [0u32, 1] {
        for kc in [1usize, 10, 50] {
            let kernel = gpu
                .kernel(
                    &survivors_select_family(cap),
                    "survivors_select",
                    &[("METRIC", metric)],
                )
                .unwrap();
            let (x, y) = gpu.grid(nq as u32);
            let sp = gpu.uniform(&SelectParams {
                nq: nq as u32,
                kc: kc as u32,
                wg_x: x,
                pad: 0,
            });
            let (cb, kb, rb) = (
                gpu.upload(&counts).unwrap(),
                gpu.upload(&keys).unwrap(),
                gpu.upload(&rows).unwrap(),
            );
            let cv = gpu.upload(&vec![-7.5f32; nq * kc]).unwrap();
            let ci = gpu.upload(&vec![0xdead_beefu32; nq * kc]).unwrap();
            let bg = gpu.bind(
                &kernel,
                &[
                    (0, sp.as_entire_binding()),
                    (1, cb.binding()),
                    (2, kb.binding()),
                    (3, rb.binding()),
                    (4, cv.binding()),
                    (5, ci.binding()),
                ],
            );
            let mut batch = gpu.batch(false);
            batch.dispatch(&kernel, &bg, (x, y, 1));
            batch.finish().unwrap();
            let (v, ids) = (gpu.read(&cv).unwrap(), gpu.read(&ci).unwrap());
            for q in 0..nq {
                let n = (counts[q] as usize).min(cap);
                let mut want: Vec<(f32, u32)> = (0..n)
                    .map(|j| (keys[q * cap + j], rows[q * cap + j]))
                    .collect();
                want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                for j in 0..kc {
                    let (wk, wi) = want.get(j).copied().unwrap_or((f32::INFINITY, u32::MAX));
                    let wv = if metric == 1 { -wk } else { wk };
                    let what = format!(
                        "metric {metric} kc {kc} query {q} (count {}) slot {j}",
                        counts[q]
                    );
                    assert_eq!(ids[q * kc + j], wi, "{what}: row");
                    if j + 1 == kc && counts[q] as usize > cap {
                        assert!(v[q * kc + j].is_nan(), "{what}: lost candidates say NaN");
                    } else {
                        assert_eq!(v[q * kc + j], wv, "{what}: value");
                    }
                }
            }
        }
    }
}

/// Survivors searches (`knn.half_survivors`, tensor cores only): the sampled bound and the
/// kept keys give the fused kernel's candidates exactly; with too few slots every query
/// says it lost candidates (NaN last value) and its count shows how many passed. On an
/// adapter without cooperative matrices the key tiles are the teams kernel's and no
/// survivors search runs (checked, not skipped).
#[test]
fn survivors_choose_the_fused_kernels_candidates() {
    let surv = |ranges: u64, cap: u64| {
        Gpu::with_options(
            options()
                .with_override("WGFAISS_KNN_HALF_TILE_QUERIES", 128u64)
                .with_override("WGFAISS_KNN_HALF_KEYS_TILED", 1u64)
                .with_override("WGFAISS_KNN_HALF_SURVIVORS", 1u64)
                .with_override("WGFAISS_KNN_HALF_SURVIVOR_RANGES", ranges)
                .with_override("WGFAISS_KNN_HALF_SURVIVOR_CAP", cap)
                .with_override("WGFAISS_KNN_TARGET_GROUPS", 64u64),
        )
        .unwrap()
    };
    let fused_only = fused_only();
    let mut rng = Rng::new(seed("f16 survivors"));
    // 20 000 rows: 79 tiles, the last partial; d = 20 (slices of 32); 70 queries: two blocks.
    let (nb, d) = (20_000, 20);
    let q = data(&mut rng, 70 * d);
    let db = data(&mut rng, nb * d);
    let run = |gpu: &Gpu, qs: &[f32], (k, kc): (usize, usize), metric| {
        let r = run(gpu, (qs, &db, d), nb, (k, kc), metric);
        (r.got, r.cand, r.survivors, r.last)
    };
    let coop = wgfaiss_core::ops::knn_half::product_form(gpu())
        == Some(wgfaiss_core::ops::knn_half::HalfProduct::Coop);
    if !coop {
        // Without tensor cores: one search, from the teams kernel's key tiles, exact as
        // always, and no survivors form (on lavapipe the full sweep below takes ten minutes).
        let kc = candidates(10, 0).unwrap();
        let qs = &q[..33 * d];
        let (got, cand, counts, _) = run(&surv(32, 4096), qs, (10, kc), KnnMetric::L2);
        assert!(counts.is_none(), "no survivors form without tensor cores");
        verify(qs, &db, d, (10, kc), KnnMetric::L2, (&got, &cand), "teams");
        return;
    }
    // 32 sampled tiles (every second), and the whole base as the sample.
    let forms = [
        (surv(32, 4096), "32 sampled"),
        (surv(79, 4096), "all sampled"),
    ];
    for metric in [KnnMetric::L2, KnnMetric::InnerProduct] {
        for (k, kc) in [(10, 0), (1, 3), (16, 32)] {
            let kc = candidates(k, kc).unwrap();
            for n in [70, 33] {
                let qs = &q[..n * d];
                let (fused, fused_cand, _, _) = run(&fused_only, qs, (k, kc), metric);
                for (gpu, form) in &forms {
                    let what = format!("{metric:?} k={k} kc={kc} nq={n} {form}");
                    let (got, cand, counts, last) = run(gpu, qs, (k, kc), metric);
                    match counts {
                        Some((counts, cap)) => {
                            assert!(coop, "{what}: survivors only on tensor cores");
                            assert_eq!(counts.len(), n);
                            assert!(
                                counts
                                    .iter()
                                    .all(|&c| c as usize >= kc && c as usize <= cap),
                                "{what}: counts {counts:?}"
                            );
                            assert!(last.iter().all(|v| !v.is_nan()), "{what}: nothing lost");
                            eprintln!(
                                "{what}: survivors mean {:.0}, most {}",
                                counts.iter().sum::<u32>() as f64 / n as f64,
                                counts.iter().max().unwrap()
                            );
                        }
                        None => assert!(!coop, "{what}: the survivors form where it can run"),
                    }
                    verify(qs, &db, d, (k, kc), metric, (&got, &cand), &what);
                    same_as_fused((&got, &cand), (&fused, &fused_cand), &what);
                }
            }
        }
    }
    // 64 slots and one sampled tile (fewer ranges than kc: no bound): every key survives,
    // every query lost candidates and says so.
    let small = surv(1, 64);
    let kc = candidates(10, 0).unwrap();
    let (_, _, counts, last) = run(&small, &q[..40 * d], (10, kc), KnnMetric::L2);
    match counts {
        Some((counts, cap)) => {
            assert_eq!(cap, 64);
            assert!(
                counts.iter().all(|&c| c as usize == nb),
                "every key kept: {counts:?}"
            );
            assert!(
                last.iter().all(|v| v.is_nan()),
                "lost candidates say NaN: {last:?}"
            );
        }
        None => assert!(!coop, "the survivors form where it can run"),
    }
}

//! Fused distance + top-k against a CPU f64 brute force: ids equal the reference's except
//! between neighbours whose exact distances are closer than the f32 error bound (and then the
//! GPU's pick must be as near as the reference's), distances within that bound, exact ties
//! by the smaller id, both metrics, shapes off every tile, several segments, query tiles and
//! database chunks, small candidate slots (the overflow path), and k beyond the fused limit.

mod common;

use common::{Rng, gpu, gpu_with_binding_limit, options, seed};
use wgfaiss_core::Gpu;
use wgfaiss_core::ops::knn::{
    DbChunk, ItemKnnPlan, KnnMetric, KnnPlan, ScanList, max_fused_k, squared_norms,
};
use wgfaiss_core::ops::topk::TopK;

/// Exact distances (L2 squared, or inner product) of query `q` to every database row.
fn exact(q: &[f32], db: &[f32], d: usize, metric: KnnMetric) -> Vec<f64> {
    db.chunks_exact(d)
        .map(|x| match metric {
            KnnMetric::L2 => q
                .iter()
                .zip(x)
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum(),
            KnnMetric::InnerProduct => q
                .iter()
                .zip(x)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum(),
        })
        .collect()
}

/// Checks one search against the reference. `tol` bounds the f32 error of one distance.
fn check(gpu: &Gpu, q: &[f32], db: &[f32], d: usize, k: usize, metric: KnnMetric, what: &str) {
    let got = gpu
        .knn(q, db, d, k, metric)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    verify(&got, q, db, d, k, metric, &|_, _| true, what);
}

/// [`check`] with each metric.
fn check_metrics(gpu: &Gpu, q: &[f32], db: &[f32], d: usize, k: usize, what: &str) {
    for metric in [KnnMetric::L2, KnnMetric::InnerProduct] {
        check(gpu, q, db, d, k, metric, &format!("{what} {metric:?}"));
    }
}

/// Checks `got` against a brute force over the base rows `allowed(query, row)` admits.
#[allow(clippy::too_many_arguments)]
fn verify(
    got: &TopK,
    q: &[f32],
    db: &[f32],
    d: usize,
    k: usize,
    metric: KnnMetric,
    allowed: &dyn Fn(usize, usize) -> bool,
    what: &str,
) {
    let nq = q.len() / d;
    assert_eq!(got.ids.len(), nq * k, "{what}");
    let sign = if metric == KnnMetric::L2 { 1.0 } else { -1.0 };
    let max_norm = db
        .chunks_exact(d)
        .map(|x| x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>())
        .fold(0.0, f64::max);
    for r in 0..nq {
        let qr = &q[r * d..(r + 1) * d];
        let dist = exact(qr, db, d, metric);
        let qn: f64 = qr.iter().map(|&v| f64::from(v).powi(2)).sum();
        let tol = 1e-5 * (qn + max_norm + 1.0);
        let mut order: Vec<usize> = (0..db.len() / d).filter(|&x| allowed(r, x)).collect();
        let nb = db.len() / d;
        order.sort_by(|&a, &b| {
            (sign * dist[a])
                .total_cmp(&(sign * dist[b]))
                .then(a.cmp(&b))
        });
        let row = &got.ids[r * k..(r + 1) * k];
        let vals = &got.values[r * k..(r + 1) * k];
        let mut seen = std::collections::HashSet::new();
        for j in 0..k {
            let Some(want) = order.get(j).copied() else {
                assert_eq!(row[j], None, "{what}: query {r} slot {j} past the database");
                let pad = if metric == KnnMetric::L2 {
                    f32::INFINITY
                } else {
                    f32::NEG_INFINITY
                };
                assert_eq!(vals[j], pad, "{what}: query {r} padding value");
                continue;
            };
            let id = row[j].unwrap_or_else(|| panic!("{what}: query {r} slot {j} empty")) as usize;
            assert!(id < nb, "{what}: query {r} id {id} out of range");
            assert!(seen.insert(id), "{what}: query {r} id {id} twice");
            // The value is the distance of the id it names.
            assert!(
                (f64::from(vals[j]) - dist[id]).abs() <= tol,
                "{what}: query {r} slot {j}: value {} for id {id}, exact {}",
                vals[j],
                dist[id]
            );
            // As near as the reference's j-th.
            assert!(
                (dist[id] - dist[want]).abs() <= 2.0 * tol,
                "{what}: query {r} slot {j}: id {id} at {} but the reference has {want} at {}",
                dist[id],
                dist[want]
            );
            // And the same id where the reference's j-th is clear of its neighbours.
            let clear =
                |o: Option<&usize>| o.is_none_or(|&o| (dist[o] - dist[want]).abs() > 4.0 * tol);
            if clear(j.checked_sub(1).and_then(|i| order.get(i))) && clear(order.get(j + 1)) {
                assert_eq!(id, want, "{what}: query {r} slot {j}");
            }
        }
    }
}

/// The L2 plan of queries `q` over one chunk `db` (rows of `d`), keeping `k`.
fn plan_of(gpu: &Gpu, q: &[f32], db: &[f32], d: usize, k: usize) -> KnnPlan {
    let (qb, qn) = (
        gpu.upload(q).unwrap(),
        gpu.upload(&squared_norms(q, d)).unwrap(),
    );
    let (xb, xn) = (
        gpu.upload(db).unwrap(),
        gpu.upload(&squared_norms(db, d)).unwrap(),
    );
    let chunk = DbChunk {
        data: &xb,
        norms: &xn,
        rows: db.len() / d,
        id0: 0,
    };
    KnnPlan::new(gpu, &qb, &qn, q.len() / d, d, &[chunk], k, KnnMetric::L2).unwrap()
}

fn data(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.f32() * 2.0 - 1.0).collect()
}

#[test]
fn exact_ids_at_awkward_shapes_both_metrics() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("knn shapes"));
    for &(nq, nb, d, k) in &[
        (1, 1, 1, 1),
        (3, 5, 3, 10), // fewer vectors than k: padding
        (5, 77, 64, 10),
        (17, 300, 100, 1),
        (70, 1000, 64, 10),
        (40, 515, 3, 32),
        (9, 250, 784, 10),
        (33, 400, 16, 100),
        (40, 20000, 64, 100), // long segments: within llvmpipe's loop limit
        // One or two base tiles with k <= tile columns / invocation columns: the first
        // tile's bound on the k-th key decides (all of the true top k in the first tile).
        (40, 30, 16, 7),
        (40, 32, 5, 8),
        (5, 60, 12, 5),
        (6, 64, 8, 16),
        (3, 40, 9, 3),
        (40, 70, 24, 2),
        // k = 1: the register path (TOP1), over several tiles, segments and query blocks.
        (70, 1000, 64, 1),
        (130, 4000, 12, 1),
        (2, 20000, 7, 1),
    ] {
        let q = data(&mut rng, nq * d);
        let db = data(&mut rng, nb * d);
        check_metrics(gpu, &q, &db, d, k, &format!("{nq}x{nb} d={d} k={k}"));
    }
}

#[test]
fn equal_distances_keep_the_smaller_id() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("knn ties"));
    let d = 8;
    // Every vector three times in a row (ids 3i, 3i + 1, 3i + 2): equal keys, computed
    // identically, in the same tile. Where a group straddles the k-th place, the smaller
    // ids must be the ones kept.
    let base = data(&mut rng, 50 * d);
    let db: Vec<f32> = base
        .chunks_exact(d)
        .flat_map(|v| v.iter().chain(v).chain(v).copied())
        .collect();
    // Same for groups spread over the database (ids i, i + 50, i + 100): other segments.
    let spread: Vec<f32> = [&base[..], &base[..], &base[..]].concat();
    let q = data(&mut rng, 6 * d);
    for metric in [KnnMetric::L2, KnnMetric::InnerProduct] {
        for k in [1, 2, 4, 8, 9, 20, 23] {
            for (db, copy_of, what) in [(&db, 1usize, "adjacent"), (&spread, 50, "spread")] {
                let got = gpu.knn(&q, db, d, k, metric).unwrap();
                for r in 0..6 {
                    let ids: Vec<usize> = got.ids[r * k..(r + 1) * k]
                        .iter()
                        .map(|i| i.unwrap() as usize)
                        .collect();
                    let group = |id: usize| if copy_of == 1 { id / 3 } else { id % 50 };
                    let copy = |id: usize| if copy_of == 1 { id % 3 } else { id / 50 };
                    for &id in &ids {
                        for c in 0..copy(id) {
                            let smaller = id - (copy(id) - c) * copy_of;
                            assert_eq!(group(smaller), group(id));
                            assert!(
                                ids.contains(&smaller),
                                "{what} {metric:?} k={k} query {r}: {id} kept but not {smaller}: {ids:?}"
                            );
                        }
                    }
                    // Copies come out together, ids ascending.
                    for w in ids.windows(2) {
                        if group(w[0]) == group(w[1]) {
                            assert!(w[0] < w[1], "{what} {metric:?} query {r}: {ids:?}");
                        }
                    }
                }
                check(
                    gpu,
                    &q,
                    db,
                    d,
                    k,
                    metric,
                    &format!("ties {what} k={k} {metric:?}"),
                );
            }
        }
    }
}

#[test]
fn database_over_several_bindings_and_small_candidate_slots() {
    let mut rng = Rng::new(seed("knn chunks"));
    let d = 12;
    let (nq, nb) = (21, 700);
    let q = data(&mut rng, nq * d);
    let db = data(&mut rng, nb * d);
    // 4 KiB bindings: 85 vectors of 12 floats per chunk, 9 chunks.
    let small = gpu_with_binding_limit(4096);
    check_metrics(&small, &q, &db, d, 20, "chunks");
    // Four candidate slots per query: every tile overflows and re-offers.
    let slots =
        Gpu::with_options(options().with_override("WGFAISS_KNN_CANDIDATE_SLOTS", 4)).unwrap();
    // (And short minimum segments: a GPU's knn.min_segment, 4 096, would keep 700 rows whole.)
    let segs = Gpu::with_options(
        options()
            .with_override("WGFAISS_KNN_TARGET_GROUPS", 64)
            .with_override("WGFAISS_KNN_MIN_SEGMENT", 64),
    )
    .unwrap();
    // The merge path really runs: several segments per query.
    let plan = plan_of(&segs, &q, &db, d, 7);
    assert!(plan.config().1 >= 3, "{:?}", plan.config());
    for metric in [KnnMetric::L2, KnnMetric::InnerProduct] {
        check(
            &slots,
            &q,
            &db,
            d,
            20,
            metric,
            &format!("4 slots {metric:?}"),
        );
        check(
            &segs,
            &q,
            &db,
            d,
            7,
            metric,
            &format!("many segments {metric:?}"),
        );
    }
}

#[test]
fn k_beyond_the_fused_limit_is_a_clear_error() {
    let gpu = gpu();
    let max = max_fused_k(gpu);
    assert!(max >= 32, "fused k limit {max}");
    let d = 4;
    // max_fused_k is the limit for query tiles of more than 16 (fewer queries use smaller
    // tiles, whose lists fit more).
    let q = vec![0.5; 20 * d];
    let db = vec![0.25; 3000 * d];
    let e = gpu.knn(&q, &db, d, max + 4, KnnMetric::L2).unwrap_err();
    assert!(e.to_string().contains("workgroup memory"), "{e}");
    assert!(gpu.knn(&q, &db, d, 0, KnnMetric::L2).is_err());
    assert!(gpu.knn(&q, &db[..5], d, 1, KnnMetric::L2).is_err());
}

#[test]
fn item_scan_equals_brute_force_over_each_querys_lists() {
    // A short loop budget on every adapter (a GPU has none by default), so the long lists are
    // cut into several work items for every k (k = 1 with the H100's tiles: 1 280 rows).
    let gpu = &Gpu::with_options(options().with_override("WGFAISS_KNN_LOOP_BUDGET", 3000))
        .unwrap_or_else(|e| panic!("tests need a GPU adapter: {e}"));
    let mut rng = Rng::new(seed("knn items"));
    let d = 20;
    // An arena of 7000 rows cut into lists of awkward lengths: empty, short, long (several
    // segments within llvmpipe's loop budget).
    let bounds = [0u32, 0, 3, 150, 151, 1200, 5800, 7000];
    let nb = 7000;
    let db = data(&mut rng, nb * d);
    let nq = 90;
    let q = data(&mut rng, nq * d);
    let (xb, xn) = (
        gpu.upload(&db).unwrap(),
        gpu.upload(&squared_norms(&db, d)).unwrap(),
    );
    let (qb, qn) = (
        gpu.upload(&q).unwrap(),
        gpu.upload(&squared_norms(&q, d)).unwrap(),
    );
    // Each query probes a random subset of the lists; query 0 probes none; every query
    // probes list 5 (more queries than one tile holds).
    let nl = bounds.len() - 1;
    let mut probes: Vec<Vec<usize>> = (0..nq)
        .map(|qi| {
            if qi == 0 {
                return vec![];
            }
            let mut p: Vec<usize> = (0..nl).filter(|_| rng.below(3) == 0).collect();
            if !p.contains(&5) {
                p.push(5);
            }
            p
        })
        .collect();
    probes[1] = vec![0, 1]; // only empty or tiny lists
    let lists: Vec<ScanList> = (0..nl)
        .map(|l| ScanList {
            start: bounds[l],
            end: bounds[l + 1],
            queries: (0..nq as u32)
                .filter(|&qi| probes[qi as usize].contains(&l))
                .collect(),
        })
        .collect();
    let list_of = |row: usize| {
        (0..nl)
            .find(|&l| (bounds[l] as usize..bounds[l + 1] as usize).contains(&row))
            .unwrap()
    };
    for (k, metric) in [
        (10, KnnMetric::L2),
        (37, KnnMetric::InnerProduct),
        (1, KnnMetric::L2),
    ] {
        let base = DbChunk {
            data: &xb,
            norms: &xn,
            rows: nb,
            id0: 0,
        };
        let plan = ItemKnnPlan::new(gpu, &qb, &qn, nq, d, base, &lists, k, metric).unwrap();
        assert!(plan.items() > nl, "items {}", plan.items());
        let mut batch = gpu.batch(false);
        plan.record(&mut batch);
        batch.finish().unwrap();
        let got = plan.read(gpu).unwrap();
        verify(
            &got,
            &q,
            &db,
            d,
            k,
            metric,
            &|qi, row| probes[qi].contains(&list_of(row)),
            &format!("items k={k} {metric:?}"),
        );
    }
    // Bad lists are errors.
    let bad = vec![ScanList {
        start: 5,
        end: 9000,
        queries: vec![0],
    }];
    let base = DbChunk {
        data: &xb,
        norms: &xn,
        rows: nb,
        id0: 0,
    };
    assert!(ItemKnnPlan::new(gpu, &qb, &qn, nq, d, base, &bad, 5, KnnMetric::L2).is_err());
}

#[test]
fn norms_of_large_inputs_split_over_threads_equal_row_by_row() {
    use wgfaiss_core::ops::knn::{host_threads, squared_norms};
    let mut rng = Rng::new(seed("norms threads"));
    // 33 001 rows of 128: past the 4M-float threshold, rows not divisible by the threads.
    let (rows, d) = (33_001, 128);
    let data = rng.vec(rows * d);
    assert!(host_threads(data.len()) >= 1);
    let bulk = squared_norms(&data, d);
    assert_eq!(bulk.len(), rows);
    for r in (0..rows).step_by(97).chain([rows - 1]) {
        let one = squared_norms(&data[r * d..(r + 1) * d], d);
        assert_eq!(bulk[r].to_bits(), one[0].to_bits(), "row {r}");
    }
}

#[test]
fn every_shipped_knn_tile_configuration_is_exact() {
    // The fused kernel with each adapter entry's `knn` tiles of the shipped table (the H100 and
    // H200 run 64 x 128 tiles with 8 x 4 per invocation and 8 candidate slots), run here on
    // the CPU adapter: shapes off the tiles, k = 1 (registers), 10 (serial merges), 32
    // (parallel merges) and 100 (smaller query tiles), both metrics. 16 KiB bindings put
    // every base in several chunks, so no search takes the unfused single-tile path.
    let table: serde_json::Value =
        serde_json::from_str(wgfaiss_core::tuning::SHIPPED_CONFIG).unwrap();
    let mut configs = std::collections::BTreeSet::new();
    let defaults = &table["default"]["knn"];
    for (_, backend) in table.as_object().unwrap() {
        let Some(entries) = backend.as_object() else {
            continue;
        };
        for (_, entry) in entries {
            let knn = &entry["knn"];
            if !knn.is_object() {
                continue;
            }
            let value = |key: &str| knn[key].as_u64().or(defaults[key].as_u64()).unwrap();
            configs.insert([
                value("tile_m"),
                value("tile_n"),
                value("thread_m"),
                value("thread_n"),
                value("candidate_slots"),
            ]);
        }
    }
    assert!(configs.contains(&[64, 128, 8, 4, 8]), "{configs:?}");
    let mut rng = Rng::new(seed("knn shipped tiles"));
    for [tm, tn, rm, rn, slots] in configs {
        let gpu = Gpu::with_options(
            options()
                .with_override("WGFAISS_KNN_TILE_M", tm)
                .with_override("WGFAISS_KNN_TILE_N", tn)
                .with_override("WGFAISS_KNN_THREAD_M", rm)
                .with_override("WGFAISS_KNN_THREAD_N", rn)
                .with_override("WGFAISS_KNN_CANDIDATE_SLOTS", slots)
                .with_override("WGFAISS_BUFFERS_MAX_BINDING_BYTES", 16384),
        )
        .unwrap();
        for &(nq, nb, d, k) in &[
            (70, 1000, 64, 10),
            (40, 515, 12, 32),
            (130, 700, 12, 1),
            (33, 400, 16, 100),
            (65, 300, 21, 7),
        ] {
            assert!(nb * d * 4 > 16384, "one chunk");
            let q = data(&mut rng, nq * d);
            let db = data(&mut rng, nb * d);
            for metric in [KnnMetric::L2, KnnMetric::InnerProduct] {
                let what = format!(
                    "tiles {tm}x{tn} {rm}x{rn} slots {slots}: {nq}x{nb} d={d} k={k} {metric:?}"
                );
                check(&gpu, &q, &db, d, k, metric, &what);
            }
        }
    }
}

/// The streaming kernel (1–4 queries, `knn_stream.wgsl`): it is what runs (not the tiled
/// kernel), and it is exact at every query count, for dimensions that are and are not
/// multiples of 4 (vec4 and scalar rows) and of the lanes per row, segments of one step, of
/// several steps and partial ones, several segments and database chunks, k from 1 to past one
/// step's candidates, and k beyond the database (padding).
#[test]
fn streaming_kernel_for_a_few_queries_is_exact() {
    use wgfaiss_core::ops::knn::{STREAM_MAX_QUERIES, uses_stream};
    let gpu = gpu();
    let mut rng = Rng::new(seed("knn stream"));
    assert!(
        uses_stream(gpu, 1, 128, 10),
        "the test adapter has subgroups"
    );
    assert!(!uses_stream(gpu, STREAM_MAX_QUERIES + 1, 128, 10));
    for &(nb, d, k) in &[
        (1, 1, 1),
        (5, 3, 10),
        (700, 128, 10),
        (1500, 13, 7),
        (3000, 130, 33),
        (900, 784, 10),
        (20000, 7, 1),
        (4097, 16, 100),
        (600, 64, 300),
        (2500, 2, 5),
    ] {
        let db = data(&mut rng, nb * d);
        for nq in 1..=STREAM_MAX_QUERIES {
            let q = data(&mut rng, nq * d);
            let plan = plan_of(gpu, &q, &db, d, k);
            assert_eq!(plan.config().0, None, "streaming kernel for {nq} queries");
            check_metrics(gpu, &q, &db, d, k, &format!("stream {nq}x{nb} d={d} k={k}"));
        }
    }
    // Several database chunks (4 KiB bindings: 85 rows of 12 per chunk), ids offset per chunk.
    let small = gpu_with_binding_limit(4096);
    let d = 12;
    let db = data(&mut rng, 700 * d);
    for nq in [1, 4] {
        let q = data(&mut rng, nq * d);
        check_metrics(&small, &q, &db, d, 20, &format!("stream chunks {nq}"));
    }
    // Switched off, the tiled kernel runs (and agrees).
    let off = Gpu::with_options(options().with_override("WGFAISS_KNN_STREAM", "off")).unwrap();
    assert!(!uses_stream(&off, 1, 128, 10));
    let q = data(&mut rng, 2 * d);
    check(&off, &q, &db, d, 10, KnnMetric::L2, "stream off");
}

/// Exact ties in the streaming kernel: every database row three times in a row, so each value
/// comes in a group of three equal keys in one segment, which must come out by ascending id;
/// k = 10 cuts the fourth group, whose smallest id must take the last slot.
#[test]
fn streaming_kernel_breaks_ties_by_the_smaller_id() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("knn stream ties"));
    let (n, d, k) = (400, 20, 10);
    let once = data(&mut rng, n * d);
    let db: Vec<f32> = once
        .chunks_exact(d)
        .flat_map(|row| row.iter().chain(row).chain(row).copied())
        .collect();
    for nq in [1, 3] {
        let q = data(&mut rng, nq * d);
        for metric in [KnnMetric::L2, KnnMetric::InnerProduct] {
            let got = gpu.knn(&q, &db, d, k, metric).unwrap();
            check(gpu, &q, &db, d, k, metric, "stream ties");
            for r in 0..nq {
                let ids: Vec<u32> = got.ids[r * k..(r + 1) * k]
                    .iter()
                    .map(|i| i.unwrap())
                    .collect();
                for g in 0..k.div_ceil(3) {
                    let base = ids[3 * g];
                    assert_eq!(base % 3, 0, "query {r} {metric:?}: {ids:?}");
                    let group: Vec<u32> = (base..base + 3).collect();
                    let end = (3 * g + 3).min(k);
                    assert_eq!(
                        &ids[3 * g..end],
                        &group[..end - 3 * g],
                        "query {r} {metric:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn distance_tiles_select_within_the_row_minima_bound() {
    // The unfused k-NN (GEMM distance tile + top-k). L2 bounds each query's k-th distance by
    // the k-th smallest of its per-column-tile minima, inner products by the k-th largest of
    // the maxima (3 000 rows: dozens of column tiles, so k = 17 and 50 are bounded and
    // k = 400 is not).
    // Random data, and data on a grid of 1/4 where many distances tie (ties by smaller id).
    use wgfaiss_core::ops::knn::TiledKnn;
    let gpu = gpu();
    let mut rng = Rng::new(seed("tiled knn bound"));
    let (nq, nb, d) = (37, 3000, 20);
    let q = data(&mut rng, nq * d);
    let db = data(&mut rng, nb * d);
    let grid = |v: &[f32]| -> Vec<f32> { v.iter().map(|x| (x * 4.0).round() / 4.0).collect() };
    let (qt, dbt) = (grid(&q), grid(&db));
    for (qs, base, what) in [(&q, &db, "random"), (&qt, &dbt, "ties")] {
        let (qb, qnb) = (
            gpu.upload(qs).unwrap(),
            gpu.upload(&squared_norms(qs, d)).unwrap(),
        );
        let (xb, xnb) = (
            gpu.upload(base).unwrap(),
            gpu.upload(&squared_norms(base, d)).unwrap(),
        );
        let chunk = DbChunk {
            data: &xb,
            norms: &xnb,
            rows: nb,
            id0: 0,
        };
        for metric in [KnnMetric::L2, KnnMetric::InnerProduct] {
            for k in [17, 50, 400] {
                let plan = TiledKnn::new(gpu, &qb, &qnb, nq, d, chunk, k, metric).unwrap();
                plan.poison(gpu).unwrap();
                let mut batch = gpu.batch(false);
                plan.record(&mut batch);
                batch.finish().unwrap();
                let got = plan.read(gpu).unwrap();
                let what = format!("{what} {metric:?} k={k}");
                verify(&got, qs, base, d, k, metric, &|_, _| true, &what);
            }
        }
    }
}

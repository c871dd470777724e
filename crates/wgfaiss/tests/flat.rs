//! The flat index against a CPU f64 brute force: exact ids (ties aside) for k ∈ {1, 10, 100,
//! 1000}, d ∈ {1, 3, 64, 100, 784}, database sizes off the tiles, every metric, split
//! storage, growth by many adds; ids, removal, reconstruction, persistence, bad input.

#[path = "../../wgfaiss-core/tests/common/mod.rs"]
mod common;

use common::{Rng, gpu, gpu_with_binding_limit, seed};
use std::collections::HashSet;

use wgfaiss::{FlatIndex, Gpu, Index, Metric, Precision, SearchParams, SearchResult};

fn data(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.f32() * 2.0 - 1.0).collect()
}

fn unit(v: &[f32]) -> Vec<f64> {
    let n = v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    v.iter()
        .map(|&x| if n > 0.0 { f64::from(x) / n } else { 0.0 })
        .collect()
}

/// Exact value of (query, base vector) under `metric`.
fn exact(q: &[f32], x: &[f32], metric: Metric) -> f64 {
    match metric {
        Metric::L2 => q
            .iter()
            .zip(x)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum(),
        Metric::InnerProduct => q
            .iter()
            .zip(x)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum(),
        Metric::Cosine => unit(q).iter().zip(unit(x)).map(|(a, b)| a * b).sum(),
    }
}

/// Checks a result: per query, the ids are the reference's where the reference's neighbours
/// are clear of each other by more than the f32 error bound; otherwise as near; values match.
/// `ids[p]` is the id of base vector `p`.
fn check(
    r: &SearchResult,
    q: &[f32],
    base: &[f32],
    ids: &[i64],
    d: usize,
    metric: Metric,
    what: &str,
) {
    let nb = base.len() / d;
    let k = r.k;
    let sign = if metric.is_similarity() { -1.0 } else { 1.0 };
    let max_norm = base
        .chunks_exact(d)
        .map(|x| x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>())
        .fold(0.0, f64::max);
    for qi in 0..r.nq {
        let qv = &q[qi * d..(qi + 1) * d];
        let dist: Vec<f64> = base.chunks_exact(d).map(|x| exact(qv, x, metric)).collect();
        let qn: f64 = qv.iter().map(|&v| f64::from(v).powi(2)).sum();
        let tol = 1e-5 * (qn + max_norm + 1.0);
        let mut order: Vec<usize> = (0..nb).collect();
        order.sort_by(|&a, &b| {
            (sign * dist[a])
                .total_cmp(&(sign * dist[b]))
                .then(a.cmp(&b))
        });
        let got = r.ids_of(qi);
        let vals = r.distances_of(qi);
        for j in 0..k {
            let Some(&want) = order.get(j) else {
                assert_eq!(got[j], -1, "{what}: query {qi} slot {j} should be padding");
                assert_eq!(vals[j], metric.worst(), "{what}: padding value");
                continue;
            };
            let pos = ids
                .iter()
                .position(|&i| i == got[j])
                .unwrap_or_else(|| panic!("{what}: query {qi} slot {j}: unknown id {}", got[j]));
            assert!(
                (f64::from(vals[j]) - dist[pos]).abs() <= tol,
                "{what}: query {qi} slot {j}: value {} for id {}, exact {}",
                vals[j],
                got[j],
                dist[pos]
            );
            assert!(
                (dist[pos] - dist[want]).abs() <= 2.0 * tol,
                "{what}: query {qi} slot {j}: id {} at {}, reference id {} at {}",
                got[j],
                dist[pos],
                ids[want],
                dist[want]
            );
            let clear =
                |o: Option<&usize>| o.is_none_or(|&o| (dist[o] - dist[want]).abs() > 4.0 * tol);
            if clear(j.checked_sub(1).and_then(|i| order.get(i))) && clear(order.get(j + 1)) {
                assert_eq!(got[j], ids[want], "{what}: query {qi} slot {j}");
            }
        }
        let mut uniq = got.iter().filter(|&&i| i != -1).collect::<Vec<_>>();
        uniq.sort();
        uniq.dedup();
        assert_eq!(
            uniq.len(),
            nb.min(k),
            "{what}: query {qi}: repeated ids {got:?}"
        );
    }
}

fn sequential(n: usize) -> Vec<i64> {
    (0..n as i64).collect()
}

/// An exact search (k = 10) of `q` that takes the verified path for every query, checked
/// against the reference over `base` (ids `ids`); then the same search async, with the same
/// results.
fn verified_and_exact(index: &FlatIndex, q: &[f32], (base, ids): (&[f32], &[i64]), what: &str) {
    let exact = SearchParams::default();
    let (d, metric) = (index.dim(), index.metric());
    let before = index.verified_queries();
    let r = index.search(q, 10, &exact).unwrap();
    assert_eq!(
        index.verified_queries() - before,
        q.len() / d,
        "{what}: verified"
    );
    check(&r, q, base, ids, d, metric, what);
    let a = pollster::block_on(index.search_async(q, 10, &exact)).unwrap();
    assert_eq!(
        (&a.ids, &a.distances),
        (&r.ids, &r.distances),
        "{what}: async"
    );
}

#[test]
fn exact_for_every_metric_dimension_and_k() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("flat exact"));
    for &(d, nb, nq, ks) in &[
        (1, 300, 7, &[1, 10, 100][..]),
        (3, 1100, 5, &[10, 1000][..]),
        (64, 1050, 19, &[1, 10, 100, 1000][..]),
        (100, 333, 9, &[10, 100][..]),
        (784, 150, 4, &[1, 10, 100][..]),
    ] {
        let base = data(&mut rng, nb * d);
        let q = data(&mut rng, nq * d);
        for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
            let mut index = FlatIndex::new(gpu, d, metric).unwrap();
            index.add(&base).unwrap();
            assert_eq!(index.ntotal(), nb);
            for &k in ks {
                let r = index.search(&q, k, &SearchParams::default()).unwrap();
                assert_eq!((r.nq, r.k, r.ids.len()), (nq, k, nq * k));
                check(
                    &r,
                    &q,
                    &base,
                    &sequential(nb),
                    d,
                    metric,
                    &format!("d={d} nb={nb} k={k} {metric:?}"),
                );
            }
        }
    }
}

#[test]
fn fewer_vectors_than_k_pad_and_empty_index_pads() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("flat padding"));
    let d = 5;
    for metric in [Metric::L2, Metric::Cosine] {
        let mut index = FlatIndex::new(gpu, d, metric).unwrap();
        let q = data(&mut rng, 3 * d);
        let r = index.search(&q, 4, &SearchParams::default()).unwrap();
        assert_eq!(r.ids, vec![-1; 12]);
        assert!(r.distances.iter().all(|&v| v == metric.worst()));
        let base = data(&mut rng, 3 * d);
        index.add(&base).unwrap();
        for k in [4, 1500] {
            let r = index.search(&q, k, &SearchParams::default()).unwrap();
            check(
                &r,
                &q,
                &base,
                &sequential(3),
                d,
                metric,
                &format!("padding k={k} {metric:?}"),
            );
        }
        let none = index.search(&[], 3, &SearchParams::default()).unwrap();
        assert_eq!((none.nq, none.ids.len()), (0, 0));
    }
}

#[test]
fn split_storage_growth_and_the_unfused_path() {
    // 8 KiB bindings: 32 vectors of 64 floats per chunk.
    let small = gpu_with_binding_limit(8192);
    let mut rng = Rng::new(seed("flat split"));
    let d = 64;
    let mut base = Vec::new();
    for metric in [Metric::L2, Metric::InnerProduct] {
        let mut index = FlatIndex::new(&small, d, metric).unwrap();
        base.clear();
        // Many adds of awkward sizes: chunks fill, grow and split.
        for n in [1, 7, 30, 2, 45, 64, 11] {
            let part = data(&mut rng, n * d);
            index.add(&part).unwrap();
            base.extend_from_slice(&part);
        }
        assert_eq!(index.ntotal(), 160);
        assert_eq!(index.chunks(), 5);
        assert_eq!(index.vectors().unwrap(), base);
        let q = data(&mut rng, 6 * d);
        // 400 is past the fused kernel's limit here: the unfused path, merged over chunks.
        assert!(400 > wgfaiss::ops::knn::max_fused_k(&small));
        for k in [1, 10, 150, 400] {
            let r = index.search(&q, k, &SearchParams::default()).unwrap();
            check(
                &r,
                &q,
                &base,
                &sequential(160),
                d,
                metric,
                &format!("split k={k} {metric:?}"),
            );
        }
    }
    // Growth within one binding (1024-vector chunks doubling) on the default adapter.
    let gpu = gpu();
    let d = 4;
    let mut index = FlatIndex::new(gpu, d, Metric::L2).unwrap();
    let mut all = Vec::new();
    for n in [700, 700, 1500, 3] {
        let part = data(&mut rng, n * d);
        index.add(&part).unwrap();
        all.extend_from_slice(&part);
    }
    assert_eq!(index.vectors().unwrap(), all);
    let q = data(&mut rng, 3 * d);
    let r = index.search(&q, 10, &SearchParams::default()).unwrap();
    check(&r, &q, &all, &sequential(2903), d, Metric::L2, "growth");
}

#[test]
fn user_ids_removal_and_reconstruction() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("flat ids"));
    let d = 16;
    let base = data(&mut rng, 200 * d);
    let ids: Vec<i64> = (0..200)
        .map(|i| 1_000_000_007 * (i as i64 % 7) - 3 * i as i64)
        .collect();
    let mut index = FlatIndex::new(gpu, d, Metric::L2).unwrap();
    index.add_with_ids(&base[..120 * d], &ids[..120]).unwrap();
    index.add_with_ids(&base[120 * d..], &ids[120..]).unwrap();
    assert!(index.add(&base[..d]).is_err(), "add after add_with_ids");
    let q = data(&mut rng, 5 * d);
    let r = index.search(&q, 10, &SearchParams::default()).unwrap();
    check(&r, &q, &base, &ids, d, Metric::L2, "user ids");
    assert_eq!(
        index.reconstruct(ids[150]).unwrap(),
        &base[150 * d..151 * d]
    );
    assert!(index.reconstruct(123).is_err());
    // Remove every third vector (and an id that is not there).
    let gone: Vec<i64> = ids.iter().step_by(3).copied().chain([42]).collect();
    assert_eq!(index.remove_ids(&gone).unwrap(), 67);
    assert_eq!(index.ntotal(), 133);
    let (kept_base, kept_ids): (Vec<f32>, Vec<i64>) = {
        let keep: Vec<usize> = (0..200).filter(|i| i % 3 != 0).collect();
        (
            keep.iter()
                .flat_map(|&p| base[p * d..(p + 1) * d].to_vec())
                .collect(),
            keep.iter().map(|&p| ids[p]).collect(),
        )
    };
    let r = index.search(&q, 10, &SearchParams::default()).unwrap();
    check(
        &r,
        &q,
        &kept_base,
        &kept_ids,
        d,
        Metric::L2,
        "after removal",
    );
    assert!(index.reconstruct(ids[0]).is_err());
    assert_eq!(index.remove_ids(&[ids[0]]).unwrap(), 0);
    // Sequential ids are renumbered by removal, as FAISS's IndexFlat.
    let mut seq = FlatIndex::new(gpu, d, Metric::InnerProduct).unwrap();
    seq.add(&base).unwrap();
    assert!(
        seq.add_with_ids(&base[..d], &[5]).is_err(),
        "add_with_ids after add"
    );
    assert_eq!(seq.remove_ids(&[0, 1, 2]).unwrap(), 3);
    assert_eq!(seq.reconstruct(0).unwrap(), &base[3 * d..4 * d]);
    let r = seq.search(&q, 7, &SearchParams::default()).unwrap();
    check(
        &r,
        &q,
        &base[3 * d..],
        &sequential(197),
        d,
        Metric::InnerProduct,
        "renumbered",
    );
    seq.reset().unwrap();
    assert_eq!(seq.ntotal(), 0);
    seq.add_with_ids(&base[..d], &[9]).unwrap();
    assert_eq!(
        seq.search(&base[..d], 1, &SearchParams::default())
            .unwrap()
            .ids,
        vec![9]
    );
}

#[test]
fn save_and_load_round_trip_and_reject_damaged_files() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("flat save"));
    let dir = std::env::temp_dir().join(format!("wgfaiss-flat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = 12;
    let base = data(&mut rng, 90 * d);
    let q = data(&mut rng, 4 * d);
    for (metric, user_ids) in [(Metric::Cosine, false), (Metric::L2, true)] {
        let mut index = FlatIndex::new(gpu, d, metric).unwrap();
        if user_ids {
            let ids: Vec<i64> = (0..90).map(|i| -5 * i).collect();
            index.add_with_ids(&base, &ids).unwrap();
        } else {
            index.add(&base).unwrap();
        }
        let path = dir.join(format!("{metric:?}.wgf"));
        index.save(&path).unwrap();
        let loaded = FlatIndex::load(gpu, &path).unwrap();
        assert_eq!(
            (loaded.dim(), loaded.metric(), loaded.ntotal()),
            (d, metric, 90)
        );
        let p = SearchParams::default();
        assert_eq!(
            loaded.search(&q, 8, &p).unwrap(),
            index.search(&q, 8, &p).unwrap()
        );
        assert_eq!(loaded.vectors().unwrap(), index.vectors().unwrap());
        // Damage: truncation, one flipped byte, another file, a missing file.
        let bytes = std::fs::read(&path).unwrap();
        let bad = dir.join("bad.wgf");
        for (what, content) in [
            ("truncated", bytes[..bytes.len() - 9].to_vec()),
            ("flipped", {
                let mut b = bytes.clone();
                b[40] ^= 0x10;
                b
            }),
            ("foreign", b"\x93NUMPY this is not an index at all".to_vec()),
            ("empty", Vec::new()),
        ] {
            std::fs::write(&bad, content).unwrap();
            let e = FlatIndex::load(gpu, &bad).unwrap_err();
            assert!(e.to_string().contains("bad.wgf"), "{what}: {e}");
        }
        assert!(FlatIndex::load(gpu, &dir.join("missing.wgf")).is_err());
    }
    // Saving over an existing file replaces it and leaves no temporary behind.
    let mut index = FlatIndex::new(gpu, d, Metric::L2).unwrap();
    index.add(&base[..d]).unwrap();
    let path = dir.join("Cosine.wgf");
    index.save(&path).unwrap();
    assert_eq!(FlatIndex::load(gpu, &path).unwrap().ntotal(), 1);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_is_an_error_and_changes_nothing() {
    let gpu: &Gpu = gpu();
    assert!(FlatIndex::new(gpu, 0, Metric::L2).is_err());
    let d = 4;
    let mut index = FlatIndex::new(gpu, d, Metric::L2).unwrap();
    index
        .add(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
        .unwrap();
    let before = index.vectors().unwrap();
    let p = SearchParams::default();
    type Case<'a> = (
        &'a str,
        Box<dyn Fn(&mut FlatIndex) -> wgfaiss::Result<()> + 'a>,
    );
    let cases: Vec<Case> = vec![
        ("length", Box::new(|i| i.add(&[1.0; 5]))),
        ("nan", Box::new(|i| i.add(&[1.0, f32::NAN, 0.0, 0.0]))),
        ("inf", Box::new(|i| i.add(&[1.0, f32::INFINITY, 0.0, 0.0]))),
        (
            "k = 0",
            Box::new(|i| i.search(&[0.0; 4], 0, &p).map(|_| ())),
        ),
        (
            "k > 2048",
            Box::new(|i| i.search(&[0.0; 4], 2049, &p).map(|_| ())),
        ),
        (
            "query length",
            Box::new(|i| i.search(&[0.0; 3], 1, &p).map(|_| ())),
        ),
        (
            "query nan",
            Box::new(|i| i.search(&[0.0, 0.0, f32::NAN, 0.0], 1, &p).map(|_| ())),
        ),
        ("mixed ids", Box::new(|i| i.add_with_ids(&[0.0; 4], &[1]))),
        ("train length", Box::new(|i| i.train(&[0.0; 6]))),
    ];
    for (what, f) in cases {
        let e = f(&mut index).expect_err(what);
        assert!(!e.to_string().is_empty(), "{what}");
        assert_eq!(index.vectors().unwrap(), before, "{what} changed the index");
        assert_eq!(index.ntotal(), 2, "{what}");
    }
    let mut with_ids = FlatIndex::new(gpu, d, Metric::L2).unwrap();
    let e = with_ids.add_with_ids(&[0.0; 8], &[1]).unwrap_err();
    assert!(e.to_string().contains("1 ids for 2 vectors"), "{e}");
    assert_eq!(with_ids.ntotal(), 0);
    // The trait is object safe and the index can be shared across threads.
    let boxed: Box<dyn Index> = Box::new(index);
    std::thread::scope(|s| {
        s.spawn(|| boxed.search(&[1.0, 2.0, 3.0, 4.0], 1, &p).unwrap());
    });
}

#[test]
fn cached_plans_follow_every_change_of_the_index() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("flat plans"));
    let d = 8;
    let p = SearchParams::default();
    let q = data(&mut rng, 3 * d);
    let mut base = data(&mut rng, 100 * d);
    let mut index = FlatIndex::new(gpu, d, Metric::L2).unwrap();
    index.add(&base).unwrap();
    let first = index.search(&q, 5, &p).unwrap();
    // Same shape again (cached plan), same answer.
    assert_eq!(index.search(&q, 5, &p).unwrap(), first);
    check(&first, &q, &base, &sequential(100), d, Metric::L2, "first");
    // Add the queries themselves: each becomes its own nearest neighbour.
    index.add(&q).unwrap();
    base.extend_from_slice(&q);
    let r = index.search(&q, 5, &p).unwrap();
    for i in 0..3 {
        assert_eq!(r.ids_of(i)[0], 100 + i as i64, "query {i} after add");
    }
    check(&r, &q, &base, &sequential(103), d, Metric::L2, "after add");
    // Removal and reset change the storage too.
    index.remove_ids(&[100, 101, 102]).unwrap();
    assert_eq!(index.search(&q, 5, &p).unwrap(), first);
    index.reset().unwrap();
    assert_eq!(index.search(&q, 5, &p).unwrap().ids, vec![-1; 15]);
    // Concurrent searches of one shape share a plan without mixing their queries.
    index.add(&base).unwrap();
    let queries: Vec<Vec<f32>> = (0..8).map(|_| data(&mut rng, 2 * d)).collect();
    let want: Vec<SearchResult> = queries
        .iter()
        .map(|q| index.search(q, 4, &p).unwrap())
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = queries
            .iter()
            .map(|q| s.spawn(|| index.search(q, 4, &p).unwrap()))
            .collect();
        for (h, w) in handles.into_iter().zip(&want) {
            assert_eq!(&h.join().unwrap(), w);
        }
    });
}

#[test]
fn concurrent_searches_of_one_shape_use_their_own_plans() {
    // Eight threads search batches of the same size at once: the index keeps up to
    // submit.in_flight plans per shape (3 here), so several run together; every answer must
    // equal the sequential one.
    let gpu =
        Gpu::with_options(common::options().with_override("WGFAISS_SUBMIT_IN_FLIGHT", 3)).unwrap();
    let mut rng = Rng::new(seed("flat concurrent"));
    let d = 20;
    let mut flat = FlatIndex::new(&gpu, d, Metric::L2).unwrap();
    flat.add(&rng.vec(700 * d)).unwrap();
    let batches: Vec<Vec<f32>> = (0..8).map(|_| rng.vec(9 * d)).collect();
    let want: Vec<SearchResult> = batches
        .iter()
        .map(|q| flat.search(q, 7, &SearchParams::default()).unwrap())
        .collect();
    let flat = &flat;
    for _ in 0..3 {
        std::thread::scope(|s| {
            for (q, w) in batches.iter().zip(&want) {
                s.spawn(move || {
                    let r = flat.search(q, 7, &SearchParams::default()).unwrap();
                    assert_eq!(r.ids, w.ids);
                    assert_eq!(r.distances, w.distances);
                });
            }
        });
    }
}

#[test]
fn spinning_waits_give_the_blocking_answers() {
    // submit.spin_wait_us: a long spin (the device finishes within it) and a 1 µs spin (it
    // runs out and the blocking wait takes over), from four threads at once and over several
    // submissions (batches of 7 queries), and search_async beside them: the same answers as
    // a device that blocks at once.
    let mut rng = Rng::new(seed("flat spin wait"));
    let d = 24;
    let base = rng.vec(900 * d);
    let batches: Vec<Vec<f32>> = (0..4).map(|_| rng.vec(19 * d)).collect();
    let answers = |spin: u64| -> Vec<SearchResult> {
        let gpu = Gpu::with_options(
            common::options()
                .with_override("WGFAISS_SUBMIT_SPIN_WAIT_US", spin)
                .with_override("WGFAISS_SUBMIT_QUERY_BATCH", 7),
        )
        .unwrap();
        assert_eq!(gpu.tuning().int("submit.spin_wait_us"), spin);
        let mut flat = FlatIndex::new(&gpu, d, Metric::L2).unwrap();
        flat.add(&base).unwrap();
        let flat = &flat;
        let out: Vec<SearchResult> = std::thread::scope(|s| {
            let handles: Vec<_> = batches
                .iter()
                .map(|q| s.spawn(move || flat.search(q, 5, &SearchParams::default()).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (q, r) in batches.iter().zip(&out) {
            let a = pollster::block_on(flat.search_async(q, 5, &SearchParams::default())).unwrap();
            assert_eq!(
                (&a.ids, &a.distances),
                (&r.ids, &r.distances),
                "async, spin {spin}"
            );
        }
        out
    };
    let blocking = answers(0);
    for (q, r) in batches.iter().zip(&blocking) {
        check(
            r,
            q,
            &base,
            &sequential(900),
            d,
            Metric::L2,
            "blocking wait",
        );
    }
    for spin in [100_000, 1] {
        for (a, b) in answers(spin).iter().zip(&blocking) {
            assert_eq!(a.ids, b.ids, "spin {spin} us");
            assert_eq!(a.distances, b.distances, "spin {spin} us");
        }
    }
}

#[test]
fn a_non_finite_value_in_a_large_input_is_found() {
    // Past the 4M-float threshold the finiteness check runs on several threads; the error
    // still names the first bad value, and nothing is added.
    let gpu = gpu();
    let d = 64;
    let rows = 70_001;
    let mut data = vec![0.5f32; rows * d];
    let mut flat = FlatIndex::new(gpu, d, Metric::L2).unwrap();
    for at in [3 * d + 1, rows * d / 2 + 5, rows * d - 1] {
        data[at] = f32::NAN;
        let e = flat.add(&data).unwrap_err().to_string();
        let want = format!("value {} of vector {} is NaN", at % d, at / d);
        assert!(e.contains(&want), "{e}");
        assert_eq!(flat.ntotal(), 0);
        data[at] = 0.5;
    }
}

#[test]
fn f16_precision_reranks_exactly_over_chunks_metrics_and_changes() {
    // 8 KiB bindings: 32 vectors of 64 floats per f32 chunk, several chunks.
    let small = gpu_with_binding_limit(8192);
    let mut rng = Rng::new(seed("flat f16"));
    let d = 64;
    let f16 = |rerank| SearchParams {
        precision: Precision::F16,
        rerank,
        ..Default::default()
    };
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
        // A base no larger than the re-ranked candidates: every vector is re-ranked, so the
        // f16 mode must give the exact answer.
        let mut index = FlatIndex::new(&small, d, metric).unwrap();
        let base = data(&mut rng, 37 * d);
        let ids: Vec<i64> = (0..37).map(|i| 1000 + 3 * i).collect();
        index.add_with_ids(&base, &ids).unwrap();
        assert!(index.chunks() > 1);
        let q = data(&mut rng, 33 * d);
        for k in [1, 5, 37] {
            let r = index.search(&q, k, &f16(40)).unwrap();
            check(
                &r,
                &q,
                &base,
                &ids,
                d,
                metric,
                &format!("f16 all {metric:?} k={k}"),
            );
        }
        assert!(index.half_bytes() > 0);
        // A larger base: exact values, and recall against the exact mode.
        let more = data(&mut rng, 500 * d);
        let more_ids: Vec<i64> = (0..500).map(|i| 5000 + i).collect();
        index.add_with_ids(&more, &more_ids).unwrap();
        assert_eq!(index.half_bytes(), 0, "a change drops the f16 copy");
        let all: Vec<f32> = base.iter().chain(&more).copied().collect();
        let all_ids: Vec<i64> = ids.iter().chain(&more_ids).copied().collect();
        let k = 10;
        let exact_r = index.search(&q, k, &SearchParams::default()).unwrap();
        let half_r = index.search(&q, k, &f16(0)).unwrap();
        let (mut hit, mut total) = (0, 0);
        for qi in 0..33 {
            let qv = &q[qi * d..(qi + 1) * d];
            let want: HashSet<i64> = exact_r.ids_of(qi).iter().copied().collect();
            let got = half_r.ids_of(qi);
            hit += got.iter().filter(|i| want.contains(i)).count();
            total += k;
            let sign = if metric.is_similarity() { -1.0 } else { 1.0 };
            for (j, (&id, &v)) in got.iter().zip(half_r.distances_of(qi)).enumerate() {
                let pos = all_ids.iter().position(|&i| i == id).expect("known id");
                let xv = &all[pos * d..(pos + 1) * d];
                let e = exact(qv, xv, metric);
                // f32 rounding relative to the norms, as the exact mode's check (a fixed 1e-4
                // failed on a fresh seed at a distance of 109: 1.05e-4 off).
                let norm = |v: &[f32]| v.iter().map(|&t| f64::from(t).powi(2)).sum::<f64>();
                let tol = 1e-5 * (norm(qv) + norm(xv) + 1.0);
                assert!(
                    (f64::from(v) - e).abs() <= tol,
                    "{metric:?} {qi} {j}: {v} vs {e} (tolerance {tol})"
                );
                if j > 0 {
                    assert!(sign * v >= sign * half_r.distances_of(qi)[j - 1], "sorted");
                }
            }
        }
        let recall = hit as f64 / total as f64;
        eprintln!("{metric:?}: f16 recall@10 against exact {recall:.4}");
        assert!(recall >= 0.97, "{metric:?}: recall {recall}");
        // Bad parameters: an error, nothing changes.
        assert!(index.search(&q, 10, &f16(5)).is_err());
        assert!(index.search(&q, 300, &f16(0)).is_err());
        assert_eq!(index.ntotal(), 537);
    }
}

#[test]
fn f16_precision_finds_a_vector_added_after_an_f16_search() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("flat f16 add"));
    let d = 100;
    let mut index = FlatIndex::new(gpu, d, Metric::L2).unwrap();
    index.add(&data(&mut rng, 300 * d)).unwrap();
    let p = SearchParams {
        precision: Precision::F16,
        ..Default::default()
    };
    let q = data(&mut rng, d);
    index.search(&q, 4, &p).unwrap();
    index.add(&q).unwrap();
    let r = index.search(&q, 4, &p).unwrap();
    assert_eq!(r.ids_of(0)[0], 300);
    // ‖x‖² − 2⟨q, x⟩ + ‖q‖² in f32: zero up to the cancellation error (1.2e-4 on an H100).
    let qn: f32 = q.iter().map(|v| v * v).sum();
    assert!(
        r.distances_of(0)[0].abs() <= 1e-5 * (qn + 1.0),
        "{}",
        r.distances_of(0)[0]
    );
}

#[test]
fn f16_verified_precision_is_exact_and_searches_unproven_queries_again() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("flat f16 verified"));
    let verified = SearchParams {
        precision: Precision::F16Verified,
        ..Default::default()
    };
    // Random data: the proof holds for most queries (a gap of 16 ranks between the k-th
    // neighbour and the last candidate is far wider than the f16 bound); every result is
    // exact. One query and three take the streaming kernel, 40 the tiled one.
    let d = 32;
    let base = data(&mut rng, 3000 * d);
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
        let mut index = FlatIndex::new(gpu, d, metric).unwrap();
        index.add(&base).unwrap();
        let ids = sequential(3000);
        for nq in [1, 3, 40] {
            let q = data(&mut rng, nq * d);
            let before = index.verified_fallbacks();
            let r = index.search(&q, 10, &verified).unwrap();
            let failed = index.verified_fallbacks() - before;
            check(
                &r,
                &q,
                &base,
                &ids,
                d,
                metric,
                &format!("verified {metric:?} nq={nq}"),
            );
            assert!(
                failed < nq.max(2),
                "{metric:?} nq={nq}: the proof failed for {failed}"
            );
            // The future gives the same (it proves, and falls back, the same way).
            let a = pollster::block_on(index.search_async(&q, 10, &verified)).unwrap();
            assert_eq!(
                (&a.ids, &a.distances),
                (&r.ids, &r.distances),
                "{metric:?} async"
            );
        }
    }
    // Vectors f16 cannot tell apart: 2048 + [0, 1) per component rounds to 2048, so every f16
    // inner product with a query of ones is the same and the candidates are the first ids.
    // The proof fails for every query, and the f32 search that follows finds the vectors
    // with the largest sums (their sums are 32 768 + [0, 16), far apart against f32 rounding).
    let (d, nb, k) = (16, 1000, 10);
    let base: Vec<f32> = (0..nb * d).map(|_| 2048.0 + rng.f32()).collect();
    let mut index = FlatIndex::new(gpu, d, Metric::InnerProduct).unwrap();
    index.add(&base).unwrap();
    let q = vec![1.0f32; 3 * d];
    let before = index.verified_fallbacks();
    let r = index.search(&q, k, &verified).unwrap();
    assert_eq!(
        index.verified_fallbacks() - before,
        3,
        "the proof must fail"
    );
    let a = pollster::block_on(index.search_async(&q, k, &verified)).unwrap();
    assert_eq!(a.ids, r.ids, "async, after its own fallbacks");
    assert_eq!(index.verified_fallbacks() - before, 6);
    let sums: Vec<f64> = base
        .chunks_exact(d)
        .map(|x| x.iter().map(|&v| f64::from(v)).sum())
        .collect();
    let mut best = sums.clone();
    best.sort_by(|a, b| b.total_cmp(a));
    for qi in 0..3 {
        for &id in r.ids_of(qi) {
            assert!(
                sums[id as usize] >= best[k - 1] - 0.05,
                "query {qi}: id {id} (sum {}) is not among the {k} largest (the {k}-th: {})",
                sums[id as usize],
                best[k - 1]
            );
        }
    }
    // L2 where f16 blurs the order but f32 does not: components 8 + [0, 1) (an f16 step of
    // 2^-7, a bound of about 4.5 on keys whose 10th and 26th nearest are far closer); three
    // queries take the streaming kernel, whose values include the query's squared norm.
    let (d, nb) = (16, 1000);
    let base: Vec<f32> = (0..nb * d).map(|_| 8.0 + rng.f32()).collect();
    let mut l2 = FlatIndex::new(gpu, d, Metric::L2).unwrap();
    l2.add(&base).unwrap();
    for nq in [3, 40] {
        let q: Vec<f32> = (0..nq * d).map(|_| 8.0 + rng.f32()).collect();
        let before = l2.verified_fallbacks();
        let r = l2.search(&q, k, &verified).unwrap();
        assert_eq!(l2.verified_fallbacks() - before, nq, "the proof must fail");
        let what = format!("verified L2 near-duplicates nq={nq}");
        check(&r, &q, &base, &sequential(nb), d, Metric::L2, &what);
    }
    // The plain f16 mode misses them (what the proof guards against).
    let f16 = SearchParams {
        precision: Precision::F16,
        ..Default::default()
    };
    let plain = index.search(&q, k, &f16).unwrap();
    let missed = plain
        .ids_of(0)
        .iter()
        .filter(|&&id| sums[id as usize] < best[k - 1] - 0.05)
        .count();
    assert!(missed > 0, "f16 alone should miss the largest sums here");
}

#[test]
fn exact_precision_takes_the_verified_path_where_the_tuning_says_so() {
    let tuned = Gpu::with_options(
        common::options()
            .with_override("WGFAISS_KNN_EXACT_PATH", "verified")
            .with_override("WGFAISS_KNN_VERIFIED_MIN_QUERIES", 8)
            .with_override("WGFAISS_KNN_VERIFIED_STREAM", 0),
    )
    .unwrap();
    let mut rng = Rng::new(seed("flat exact path"));
    let exact = SearchParams::default();
    let f32_kernel = SearchParams {
        precision: Precision::F32,
        ..Default::default()
    };
    let (d, nb, nq) = (24, 2000, 20);
    let base = data(&mut rng, nb * d);
    let ids = sequential(nb);
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
        let mut index = FlatIndex::new(&tuned, d, metric).unwrap();
        index.add(&base).unwrap();
        let q = data(&mut rng, nq * d);
        assert_eq!(
            index.exact_path(nq, 10, Precision::Exact),
            Precision::F16Verified
        );
        verified_and_exact(
            &index,
            &q,
            (&base, &ids),
            &format!("{metric:?} exact, verified"),
        );
        assert_eq!(
            index.verified_queries(),
            2 * nq,
            "{metric:?}: async verified too"
        );
        // Fewer queries than knn.verified_min_queries, k beyond the f16 candidates (128), or
        // the f32 kernel asked for: no verified search, results exact all the same.
        for (n, k, p, what) in [
            (4, 10, &exact, "few queries"),
            (nq, 129, &exact, "k = 129"),
            (nq, 10, &f32_kernel, "f32 asked"),
        ] {
            let r = index.search(&q[..n * d], k, p).unwrap();
            assert_eq!(
                index.verified_queries(),
                2 * nq,
                "{metric:?} {what}: f32 path"
            );
            check(
                &r,
                &q[..n * d],
                &base,
                &ids,
                d,
                metric,
                &format!("{metric:?} {what}"),
            );
        }
        assert_eq!(index.exact_path(4, 10, Precision::Exact), Precision::F32);
        assert_eq!(index.exact_path(nq, 129, Precision::Exact), Precision::F32);
        assert_eq!(index.exact_path(nq, 10, Precision::F16), Precision::F16);
    }
    // knn.verified_stream: searches the f16 streaming kernel serves (1–4 queries) take the
    // verified path too; 5–7 queries (below the minimum, tiled) do not.
    let streamed = Gpu::with_options(
        common::options()
            .with_override("WGFAISS_KNN_EXACT_PATH", "verified")
            .with_override("WGFAISS_KNN_VERIFIED_MIN_QUERIES", 8)
            .with_override("WGFAISS_KNN_VERIFIED_STREAM", 1),
    )
    .unwrap();
    let mut index = FlatIndex::new(&streamed, d, Metric::L2).unwrap();
    index.add(&base).unwrap();
    let q = data(&mut rng, 5 * d);
    let mut runs = 0;
    for (n, path) in [
        (1, Precision::F16Verified),
        (4, Precision::F16Verified),
        (5, Precision::F32),
    ] {
        assert_eq!(
            index.exact_path(n, 10, Precision::Exact),
            path,
            "{n} queries"
        );
        let r = index.search(&q[..n * d], 10, &exact).unwrap();
        runs += if path == Precision::F32 { 0 } else { n };
        assert_eq!(index.verified_queries(), runs, "{n} queries");
        check(
            &r,
            &q[..n * d],
            &base,
            &ids,
            d,
            Metric::L2,
            &format!("{n} streamed"),
        );
    }
    // An empty index pads, whichever path would run.
    let empty = FlatIndex::new(&tuned, d, Metric::L2).unwrap();
    let r = empty.search(&data(&mut rng, nq * d), 3, &exact).unwrap();
    assert_eq!(r.ids, vec![-1; nq * 3]);
    // knn.exact_path = f32 (the shipped default and lavapipe's entry; the H100's says
    // verified) keeps the f32 kernel.
    let f32_path =
        Gpu::with_options(common::options().with_override("WGFAISS_KNN_EXACT_PATH", "f32"))
            .unwrap();
    for g in [&f32_path, gpu()] {
        if g.tuning().choice("knn.exact_path") == "f32" {
            let mut plain = FlatIndex::new(g, d, Metric::L2).unwrap();
            plain.add(&base).unwrap();
            assert_eq!(plain.exact_path(nq, 10, Precision::Exact), Precision::F32);
        }
    }
    // d beyond 256 (the f16 kernel's loop form, slower than f32): f32.
    let mut wide = FlatIndex::new(&tuned, 257, Metric::L2).unwrap();
    wide.add(&data(&mut rng, 50 * 257)).unwrap();
    assert_eq!(wide.exact_path(nq, 10, Precision::Exact), Precision::F32);
    // A value beyond f16's range: no proof could hold, f32.
    let mut big = FlatIndex::new(&tuned, d, Metric::L2).unwrap();
    let mut far = data(&mut rng, 100 * d);
    far[17] = 70_000.0;
    big.add(&far).unwrap();
    assert_eq!(big.exact_path(nq, 10, Precision::Exact), Precision::F32);
    // Vectors f16 cannot tell apart (as in the verified test): every proof fails, and once
    // 1 024 verified queries have failed more than one in eight, Exact runs f32 — with exact
    // results throughout.
    let (d, nb, k) = (16, 300, 10);
    let base: Vec<f32> = (0..nb * d).map(|_| 2048.0 + rng.f32()).collect();
    let mut dup = FlatIndex::new(&tuned, d, Metric::InnerProduct).unwrap();
    dup.add(&base).unwrap();
    let q: Vec<f32> = (0..1024 * d).map(|_| 1.0 + 0.01 * rng.f32()).collect();
    assert_eq!(
        dup.exact_path(1024, k, Precision::Exact),
        Precision::F16Verified
    );
    let r = dup.search(&q, k, &exact).unwrap();
    assert_eq!(
        (dup.verified_queries(), dup.verified_fallbacks()),
        (1024, 1024)
    );
    let sample: Vec<f32> = q[..8 * d].to_vec();
    let head = SearchResult {
        nq: 8,
        k,
        ids: r.ids[..8 * k].to_vec(),
        distances: r.distances[..8 * k].to_vec(),
        gpu_seconds: None,
    };
    check(
        &head,
        &sample,
        &base,
        &sequential(nb),
        d,
        Metric::InnerProduct,
        "after fallbacks",
    );
    assert_eq!(dup.exact_path(1024, k, Precision::Exact), Precision::F32);
    dup.search(&sample, k, &exact).unwrap();
    assert_eq!(
        dup.verified_queries(),
        1024,
        "no verified search once most proofs failed"
    );
}

#[test]
fn exact_through_f16_key_tiles_is_exact_and_falls_back() {
    // The verified path with its candidates from key tiles (ranges of 32 rows: the top-k pass
    // is bounded), every metric, blocking and async; then near-duplicates, where every proof
    // fails and the f32 search answers.
    let tiles = Gpu::with_options(
        common::options()
            .with_override("WGFAISS_KNN_EXACT_PATH", "verified")
            .with_override("WGFAISS_KNN_VERIFIED_MIN_QUERIES", 5)
            .with_override("WGFAISS_KNN_HALF_TILE_QUERIES", 64)
            .with_override("WGFAISS_KNN_HALF_KEYS_STEPS", 1),
    )
    .unwrap();
    let mut rng = Rng::new(seed("flat key tiles"));
    let exact = SearchParams::default();
    let (d, nb, nq) = (24, 3000, 40);
    let base = data(&mut rng, nb * d);
    let ids = sequential(nb);
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
        let mut index = FlatIndex::new(&tiles, d, metric).unwrap();
        index.add(&base).unwrap();
        for n in [nq, 5] {
            let q = data(&mut rng, n * d);
            verified_and_exact(
                &index,
                &q,
                (&base, &ids),
                &format!("{metric:?} key tiles {n}"),
            );
        }
    }
    let (d, nb) = (16, 1000);
    let base: Vec<f32> = (0..nb * d).map(|_| 8.0 + rng.f32()).collect();
    let mut l2 = FlatIndex::new(&tiles, d, Metric::L2).unwrap();
    l2.add(&base).unwrap();
    let q: Vec<f32> = (0..nq * d).map(|_| 8.0 + rng.f32()).collect();
    let before = l2.verified_fallbacks();
    let r = l2.search(&q, 10, &exact).unwrap();
    assert_eq!(l2.verified_fallbacks() - before, nq, "the proof must fail");
    check(
        &r,
        &q,
        &base,
        &sequential(nb),
        d,
        Metric::L2,
        "key tiles near-duplicates",
    );
}

#[test]
fn survivors_are_exact_and_lost_candidates_are_searched_again() {
    // knn.half_survivors (tensor cores only): the verified path's candidates from the keys
    // within a bound sampled from 26 of 32 tiles, every metric; then 64 slots and one sampled
    // tile (no bound: every key survives, every query loses candidates), where the verified
    // search's proof fails for all and the plain f16 search redoes all in f32 — both exact —
    // and the index turns its survivors searches off.
    // Without cooperative matrices the same searches run from the teams kernel's key tiles
    // (exact as always; nothing is lost).
    let surv = |ranges: u64, cap: u64| {
        Gpu::with_options(
            common::options()
                .with_override("WGFAISS_KNN_EXACT_PATH", "verified")
                .with_override("WGFAISS_KNN_VERIFIED_MIN_QUERIES", 5)
                .with_override("WGFAISS_KNN_HALF_TILE_QUERIES", 64)
                .with_override("WGFAISS_KNN_HALF_KEYS_TILED", 1)
                .with_override("WGFAISS_KNN_HALF_SURVIVORS", 1)
                .with_override("WGFAISS_KNN_HALF_SURVIVOR_RANGES", ranges)
                .with_override("WGFAISS_KNN_HALF_SURVIVOR_CAP", cap)
                .with_override("WGFAISS_KNN_TARGET_GROUPS", 16),
        )
        .unwrap()
    };
    let sampled = surv(26, 4096);
    let coop = wgfaiss::ops::knn_half::product_form(&sampled)
        == Some(wgfaiss::ops::knn_half::HalfProduct::Coop);
    let mut rng = Rng::new(seed("flat survivors"));
    let (d, nb, nq) = (24, 8000, 40);
    let base = data(&mut rng, nb * d);
    let ids = sequential(nb);
    let metrics: &[Metric] = if coop {
        &[Metric::L2, Metric::InnerProduct, Metric::Cosine]
    } else {
        &[Metric::L2]
    };
    for &metric in metrics {
        let mut index = FlatIndex::new(&sampled, d, metric).unwrap();
        index.add(&base).unwrap();
        let q = data(&mut rng, nq * d);
        let before = index.verified_fallbacks();
        verified_and_exact(&index, &q, (&base, &ids), &format!("{metric:?} survivors"));
        assert_eq!(
            index.verified_fallbacks(),
            before,
            "{metric:?}: every proof holds"
        );
    }
    let lossy = surv(1, 64);
    let lost = if coop { nq } else { 0 };
    let q = data(&mut rng, nq * d);
    let lossy_index = || {
        let mut index = FlatIndex::new(&lossy, d, Metric::L2).unwrap();
        index.add(&base).unwrap();
        index
    };
    // The plain f16 mode first: every query redone in f32, so the exact answer; the index
    // then turns its survivors searches off, and the next f16 search loses nothing.
    let mut index = lossy_index();
    let f16 = SearchParams {
        precision: Precision::F16,
        ..SearchParams::default()
    };
    let r16 = index.search(&q, 10, &f16).unwrap();
    assert_eq!(
        index.survivors_turned_off(),
        coop,
        "lost for all: turned off"
    );
    if coop {
        check(
            &r16,
            &q,
            &base,
            &ids,
            d,
            Metric::L2,
            "survivors lost, f16 redone in f32",
        );
    }
    let before = index.verified_fallbacks();
    let r = index.search(&q, 10, &SearchParams::default()).unwrap();
    assert_eq!(
        index.verified_fallbacks(),
        before,
        "no survivors, nothing lost"
    );
    check(
        &r,
        &q,
        &base,
        &ids,
        d,
        Metric::L2,
        "survivors off, verified",
    );
    index.reset().unwrap();
    assert!(!index.survivors_turned_off(), "reset turns them back on");
    // The verified search: the proof fails for every lost query, which f32 answers.
    let index = lossy_index();
    let before = index.verified_fallbacks();
    let r = index.search(&q, 10, &SearchParams::default()).unwrap();
    assert_eq!(
        index.verified_fallbacks() - before,
        lost,
        "lost candidates fail the proof"
    );
    assert_eq!(index.survivors_turned_off(), coop);
    check(
        &r,
        &q,
        &base,
        &ids,
        d,
        Metric::L2,
        "survivors lost, verified",
    );
}

#[test]
fn f32_mid_size_batches_through_distance_tiles_are_exact() {
    // knn.tiled_max_queries: 5–40 queries run the distance tile and the bounded top-k at
    // k = 10 (1–4 keep the streaming kernel, more than 40 the fused one).
    let tiled = Gpu::with_options(
        common::options()
            .with_override("WGFAISS_KNN_EXACT_PATH", "f32")
            .with_override("WGFAISS_KNN_TILED_MAX_QUERIES", 40),
    )
    .unwrap();
    let rows = Some(2500);
    assert!(wgfaiss::ops::knn::prefer_tiled(&tiled, 5, 10, rows));
    assert!(wgfaiss::ops::knn::prefer_tiled(&tiled, 40, 10, rows));
    assert!(!wgfaiss::ops::knn::prefer_tiled(&tiled, 4, 10, rows));
    assert!(!wgfaiss::ops::knn::prefer_tiled(&tiled, 41, 10, rows));
    assert!(!wgfaiss::ops::knn::prefer_tiled(&tiled, 20, 10, None));
    let mut rng = Rng::new(seed("flat f32 tiled mid-size"));
    let (d, nb) = (24, 2500);
    let base = data(&mut rng, nb * d);
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
        let mut index = FlatIndex::new(&tiled, d, metric).unwrap();
        index.add(&base).unwrap();
        for (n, k) in [(5, 10), (40, 1), (23, 16)] {
            let q = data(&mut rng, n * d);
            let r = index.search(&q, k, &SearchParams::default()).unwrap();
            let what = format!("{metric:?} tiled n={n} k={k}");
            check(&r, &q, &base, &sequential(nb), d, metric, &what);
        }
    }
}

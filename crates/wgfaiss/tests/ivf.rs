//! IVF-Flat: with nprobe = nlist it equals the flat index exactly (ids and distances), for
//! every metric, after adds in several batches (lists move and the arena grows); recall grows
//! with nprobe on clustered data; user ids, removal, reconstruction, persistence, bad input.

#[path = "../../wgfaiss-core/tests/common/mod.rs"]
mod common;

use common::{Rng, gpu, seed};
use wgfaiss::{FlatIndex, Index, IvfFlatIndex, Metric, ScanMode, SearchParams, SearchResult};

fn clustered(rng: &mut Rng, centers: usize, d: usize, n: usize) -> Vec<f32> {
    let c: Vec<f32> = (0..centers * d).map(|_| 4.0 * rng.f32()).collect();
    (0..n)
        .flat_map(|_| {
            let j = rng.below(centers);
            c[j * d..(j + 1) * d]
                .iter()
                .map(|&x| x + 0.5 * rng.f32())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The same results, ties aside: distances equal to within f32 rounding (the IVF scan and
/// the flat search are different kernels, which on a GPU may sum in different orders: the
/// H100's differ in the last bits) and the same ids, except within a run of places whose
/// distances are that close (a near tie: either kernel's rounding may order its members
/// either way, so each run holds the same ids in any order), and among equal distances that
/// run up to the k-th place a different member may be kept.
fn assert_same(a: &SearchResult, b: &SearchResult, what: &str) {
    let close = |x: f32, y: f32| x == y || (x - y).abs() <= 1e-5 * (1.0 + y.abs());
    assert_eq!(a.distances.len(), b.distances.len(), "{what}");
    for (i, (&x, &y)) in a.distances.iter().zip(&b.distances).enumerate() {
        assert!(close(x, y), "{what}: distance {i}: {x} against {y}");
    }
    for q in 0..a.nq {
        let (ia, ib, d) = (a.ids_of(q), b.ids_of(q), b.distances_of(q));
        let mut j = 0;
        while j < a.k {
            // The run of places j..end whose neighbours' distances are close.
            let mut end = j + 1;
            while end < a.k && close(d[end], d[end - 1]) {
                end += 1;
            }
            if end < a.k {
                let (mut x, mut y) = (ia[j..end].to_vec(), ib[j..end].to_vec());
                x.sort_unstable();
                y.sort_unstable();
                assert_eq!(
                    x,
                    y,
                    "{what}: query {q} places {j}..{end}: ids {:?} against {:?} at distances {:?} against {:?}",
                    &ia[j..end],
                    &ib[j..end],
                    &a.distances_of(q)[j..end],
                    &d[j..end]
                );
            }
            j = end;
        }
    }
}

/// Rows in the `nprobe` lists whose centroids are nearest to `q` by `metric` (f64).
fn probed_rows(q: &[f32], cents: &[f32], sizes: &[usize], metric: Metric, nprobe: usize) -> usize {
    let d = q.len();
    let mut keyed: Vec<(f64, usize)> = cents
        .chunks(d)
        .enumerate()
        .map(|(l, c)| {
            let key = match metric {
                Metric::L2 => c
                    .iter()
                    .zip(q)
                    .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                    .sum::<f64>(),
                _ => -c
                    .iter()
                    .zip(q)
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum::<f64>(),
            };
            (key, l)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    keyed.iter().take(nprobe).map(|&(_, l)| sizes[l]).sum()
}

/// A GPU whose tuning picks the keys scan, and one on `auto` without a batch-size switch
/// (the fused scan where it holds k) whatever the adapter's entry says (the H100's switches
/// to the keys scan from 32 queries).
fn scans() -> [&'static wgfaiss::Gpu; 2] {
    static KEYS: std::sync::OnceLock<wgfaiss::Gpu> = std::sync::OnceLock::new();
    static AUTO: std::sync::OnceLock<wgfaiss::Gpu> = std::sync::OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        wgfaiss::Gpu::with_options(common::options().with_override("WGFAISS_IVF_SCAN", "keys"))
            .unwrap()
    });
    let auto = AUTO.get_or_init(|| {
        wgfaiss::Gpu::with_options(
            common::options().with_override("WGFAISS_IVF_AUTO_KEYS_QUERIES", 0),
        )
        .unwrap()
    });
    use wgfaiss::ops::ivf::scan_mode;
    assert_eq!(scan_mode(keys, 1, 10, None), ScanMode::Keys);
    assert_eq!(scan_mode(auto, 100, 10, None), ScanMode::Fused);
    // auto: the keys scan beyond AUTO_FUSED_MAX_K, an explicit fused scan wherever it holds k.
    let max = wgfaiss::ops::ivf::AUTO_FUSED_MAX_K;
    assert_eq!(scan_mode(auto, 1, max, None), ScanMode::Fused);
    assert_eq!(scan_mode(auto, 1, max + 1, None), ScanMode::Keys);
    assert_eq!(
        scan_mode(auto, 1, max + 1, Some(ScanMode::Fused)),
        ScanMode::Fused
    );
    assert_eq!(scan_mode(auto, 1, 10, Some(ScanMode::Keys)), ScanMode::Keys);
    // auto by batch size where the tuning says from how many queries.
    let by_batch = wgfaiss::Gpu::with_options(
        common::options().with_override("WGFAISS_IVF_AUTO_KEYS_QUERIES", 32),
    )
    .unwrap();
    assert_eq!(scan_mode(&by_batch, 31, 10, None), ScanMode::Fused);
    assert_eq!(scan_mode(&by_batch, 32, 10, None), ScanMode::Keys);
    assert_eq!(scan_mode(&by_batch, 1, 33, None), ScanMode::Keys);
    assert_eq!(
        scan_mode(auto, 1, 700, Some(ScanMode::Fused)),
        ScanMode::Keys
    );
    [keys, auto]
}

fn params(nprobe: usize) -> SearchParams {
    SearchParams {
        nprobe,
        ..Default::default()
    }
}

/// [`params`] with the list scan `scan`.
fn scanned(nprobe: usize, scan: ScanMode) -> SearchParams {
    SearchParams {
        scan: Some(scan),
        ..params(nprobe)
    }
}

/// An L2 IVF index of `nlist` lists on `gpu`, trained on `base` (`niter` k-means iterations)
/// and holding it.
fn trained(gpu: &wgfaiss::Gpu, d: usize, nlist: usize, niter: usize, base: &[f32]) -> IvfFlatIndex {
    let mut ivf = IvfFlatIndex::new(gpu, d, nlist, Metric::L2).unwrap();
    ivf.kmeans.niter = niter;
    ivf.train(base).unwrap();
    ivf.add(base).unwrap();
    ivf
}

/// The exact L2 flat index of `base` (the default adapter).
fn exact(d: usize, base: &[f32]) -> FlatIndex {
    let mut flat = FlatIndex::new(gpu(), d, Metric::L2).unwrap();
    flat.add(base).unwrap();
    flat
}

#[test]
fn all_lists_probed_equals_the_flat_index() {
    for gpu in scans() {
        let mut rng = Rng::new(seed("ivf exact"));
        let (d, nlist) = (24, 12);
        let base = clustered(&mut rng, 20, d, 1500);
        let q = clustered(&mut rng, 20, d, 40);
        for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
            let mut ivf = IvfFlatIndex::new(gpu, d, nlist, metric).unwrap();
            ivf.kmeans.niter = 5;
            ivf.train(&base).unwrap();
            let mut flat = FlatIndex::new(gpu, d, metric).unwrap();
            // Several adds: lists outgrow their regions and move, the arena grows.
            for part in [&base[..7 * d], &base[7 * d..400 * d], &base[400 * d..]] {
                ivf.add(part).unwrap();
                flat.add(part).unwrap();
            }
            assert_eq!(ivf.ntotal(), 1500);
            assert_eq!(ivf.list_sizes().iter().sum::<usize>(), 1500);
            for k in [1, 10, 50] {
                let a = ivf.search(&q, k, &params(nlist)).unwrap();
                let b = flat.search(&q, k, &SearchParams::default()).unwrap();
                assert_same(&a, &b, &format!("{metric:?} k={k}"));
            }
        }
    }
}

#[test]
fn recall_grows_with_nprobe_and_results_are_true_distances() {
    for gpu in scans() {
        let mut rng = Rng::new(seed("ivf recall"));
        let (d, nlist, k) = (16, 32, 10);
        let base = clustered(&mut rng, 64, d, 4000);
        let q = clustered(&mut rng, 64, d, 60);
        let mut ivf = IvfFlatIndex::new(gpu, d, nlist, Metric::L2).unwrap();
        ivf.train(&base).unwrap();
        ivf.add(&base).unwrap();
        let mut flat = FlatIndex::new(gpu, d, Metric::L2).unwrap();
        flat.add(&base).unwrap();
        let truth = flat.search(&q, k, &SearchParams::default()).unwrap();
        let mut last = 0.0;
        for nprobe in [1, 2, 4, 8, 32] {
            let r = ivf.search(&q, k, &params(nprobe)).unwrap();
            let mut hits = 0;
            for i in 0..60 {
                let t: Vec<i64> = truth.ids_of(i).to_vec();
                hits += r.ids_of(i).iter().filter(|x| t.contains(x)).count();
                // Every returned distance is that id's true distance.
                for (j, &id) in r.ids_of(i).iter().enumerate() {
                    if id < 0 {
                        continue;
                    }
                    let x = &base[id as usize * d..(id as usize + 1) * d];
                    let exact: f32 = x
                        .iter()
                        .zip(&q[i * d..])
                        .map(|(a, b)| (a - b).powi(2))
                        .sum();
                    assert!(
                        (r.distances_of(i)[j] - exact).abs() < 1e-3 * (1.0 + exact),
                        "query {i}"
                    );
                }
            }
            let recall = hits as f64 / (60 * k) as f64;
            assert!(
                recall + 1e-9 >= last,
                "nprobe {nprobe}: recall {recall} < {last}"
            );
            last = recall;
        }
        assert_eq!(last, 1.0);
    }
}

#[test]
fn ids_removal_reconstruction_persistence() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("ivf ids"));
    let (d, nlist) = (8, 6);
    let base = clustered(&mut rng, 10, d, 300);
    // Negative ids and ids beyond 32 bits (mapped to 64-bit ids on the device).
    let ids: Vec<i64> = (0..300).map(|i| (i - 150) * (1i64 << 33) + 7).collect();
    let mut ivf = IvfFlatIndex::new(gpu, d, nlist, Metric::L2).unwrap();
    assert!(ivf.add(&base).is_err(), "add before train");
    assert!(
        ivf.search(&base[..d], 1, &params(1)).is_err(),
        "search before train"
    );
    ivf.train(&base).unwrap();
    ivf.add_with_ids(&base, &ids).unwrap();
    assert!(ivf.add(&base[..d]).is_err(), "add after add_with_ids");
    assert_eq!(ivf.reconstruct(ids[123]).unwrap(), &base[123 * d..124 * d]);
    let r = ivf.search(&base[5 * d..6 * d], 1, &params(nlist)).unwrap();
    assert_eq!(r.ids, vec![ids[5]]);
    assert_eq!(ivf.remove_ids(&ids[..100]).unwrap(), 100);
    assert_eq!(ivf.ntotal(), 200);
    assert!(ivf.reconstruct(ids[5]).is_err());
    let r = ivf.search(&base[5 * d..6 * d], 3, &params(nlist)).unwrap();
    assert!(r.ids.iter().all(|i| !ids[..100].contains(i)));
    // Persistence: identical results after load; damaged files are errors.
    let dir = std::env::temp_dir().join(format!("wgfaiss-ivf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ivf.wgf");
    ivf.save(&path).unwrap();
    let loaded = IvfFlatIndex::load(gpu, &path).unwrap();
    let q = clustered(&mut rng, 10, d, 9);
    for nprobe in [1, 3, nlist] {
        assert_eq!(
            loaded.search(&q, 7, &params(nprobe)).unwrap(),
            ivf.search(&q, 7, &params(nprobe)).unwrap()
        );
    }
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[60] ^= 1;
    std::fs::write(dir.join("bad.wgf"), &bytes).unwrap();
    assert!(IvfFlatIndex::load(gpu, &dir.join("bad.wgf")).is_err());
    // A flat index file is not an IVF one.
    let mut flat = FlatIndex::new(gpu, d, Metric::L2).unwrap();
    flat.add(&base).unwrap();
    flat.save(&dir.join("flat.wgf")).unwrap();
    let e = IvfFlatIndex::load(gpu, &dir.join("flat.wgf")).unwrap_err();
    assert!(e.to_string().contains("kind"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
    // Bad input changes nothing.
    let before = ivf.ntotal();
    assert!(ivf.search(&q, 5, &params(0)).is_err());
    assert!(ivf.search(&q, 5, &params(nlist + 1)).is_err());
    let f16 = SearchParams {
        precision: wgfaiss::Precision::F16,
        ..params(1)
    };
    let err = ivf.search(&q, 5, &f16).unwrap_err();
    assert!(err.to_string().contains("flat index only"), "{err}");
    // F32 is what Exact runs on an IVF index: the same results.
    let f32_params = SearchParams {
        precision: wgfaiss::Precision::F32,
        ..params(3)
    };
    let (a, b) = (
        ivf.search(&q, 5, &f32_params).unwrap(),
        ivf.search(&q, 5, &params(3)).unwrap(),
    );
    assert_eq!((a.ids, a.distances), (b.ids, b.distances));
    assert!(ivf.add_with_ids(&base[..2 * d], &[1]).is_err());
    assert!(ivf.add_with_ids(&[f32::NAN; 8], &[1]).is_err());
    assert!(ivf.train(&base).is_err(), "retrain with vectors");
    assert_eq!(ivf.ntotal(), before);
    ivf.reset().unwrap();
    assert_eq!(ivf.search(&q, 2, &params(2)).unwrap().ids, vec![-1; 18]);
    assert!(IvfFlatIndex::new(gpu, d, 0, Metric::L2).is_err());
    let mut small = IvfFlatIndex::new(gpu, d, 50, Metric::L2).unwrap();
    assert!(
        small.train(&base[..10 * d]).is_err(),
        "fewer points than lists"
    );
}

#[test]
fn long_lists_are_cut_into_segments_and_stay_exact() {
    // The keys scan's lists are cut only under a smaller loop budget than llvmpipe's.
    let short = wgfaiss::Gpu::with_options(
        common::options()
            .with_override("WGFAISS_KNN_LOOP_BUDGET", 1500)
            .with_override("WGFAISS_IVF_SCAN", "keys"),
    )
    .unwrap();
    let [keys, fused] = scans();
    for gpu in [keys, fused, &short] {
        let mut rng = Rng::new(seed("ivf long lists"));
        // Three lists of ~1300 vectors, k = 100: on llvmpipe's loop budget a list is several
        // segments, each its own work item (and, fused, output list).
        let (d, nlist) = (8, 3);
        let base = clustered(&mut rng, 3, d, 4000);
        let q = clustered(&mut rng, 3, d, 30);
        let mut ivf = IvfFlatIndex::new(gpu, d, nlist, Metric::L2).unwrap();
        ivf.kmeans.niter = 4;
        ivf.train(&base).unwrap();
        ivf.add(&base).unwrap();
        let mut flat = FlatIndex::new(gpu, d, Metric::L2).unwrap();
        flat.add(&base).unwrap();
        for (k, nprobe) in [(100, 3), (7, 3), (100, 1)] {
            let a = ivf.search(&q, k, &params(nprobe)).unwrap();
            if nprobe == nlist {
                let b = flat.search(&q, k, &SearchParams::default()).unwrap();
                assert_same(&a, &b, &format!("k={k}"));
            } else {
                // One list: its own vectors only, ids unique, distances true.
                for i in 0..30 {
                    let ids = a.ids_of(i);
                    let mut u = ids.to_vec();
                    u.sort();
                    u.dedup();
                    assert_eq!(u.len(), k, "query {i}");
                }
            }
        }
    }
}

#[test]
fn batches_shrink_where_a_plan_would_exceed_one_binding() {
    // 16 KiB bindings: 300 queries × 8 probes × k = 5 per-list results are far more than 4096, so
    // the search runs in several smaller batches (it used to return an error) and stays exact.
    let small = wgfaiss::Gpu::with_options(
        common::options().with_override("WGFAISS_BUFFERS_MAX_BINDING_BYTES", 16384),
    )
    .unwrap();
    let mut rng = Rng::new(seed("ivf batches"));
    let (d, nlist) = (16, 8);
    let base = clustered(&mut rng, 10, d, 200);
    let q = clustered(&mut rng, 10, d, 300);
    let mut ivf = IvfFlatIndex::new(&small, d, nlist, Metric::L2).unwrap();
    ivf.kmeans.niter = 4;
    ivf.train(&base).unwrap();
    ivf.add(&base).unwrap();
    let mut flat = FlatIndex::new(gpu(), d, Metric::L2).unwrap();
    flat.add(&base).unwrap();
    let n = wgfaiss::ops::ivf::max_batch(
        &small,
        300,
        d,
        5,
        nlist,
        nlist,
        &ivf.list_sizes(),
        ScanMode::Fused,
    )
    .unwrap();
    assert!(n < 300, "the limit should force batches ({n})");
    let a = ivf.search(&q, 5, &params(nlist)).unwrap();
    let b = flat.search(&q, 5, &SearchParams::default()).unwrap();
    assert_same(&a, &b, "batched IVF");
}

#[test]
fn k_beyond_the_fused_scan_is_exact_over_the_probed_lists() {
    for gpu in scans() {
        let mut rng = Rng::new(seed("ivf wide k"));
        let (d, nlist) = (12, 10);
        let base = clustered(&mut rng, 15, d, 1400);
        let q = clustered(&mut rng, 15, d, 9);
        let k = 700; // beyond the fused scan's lists on every adapter
        assert!(k > wgfaiss::ops::knn::max_fused_k(gpu));
        for metric in [Metric::L2, Metric::InnerProduct] {
            let mut ivf = IvfFlatIndex::new(gpu, d, nlist, metric).unwrap();
            ivf.kmeans.niter = 4;
            ivf.train(&base).unwrap();
            ivf.add(&base).unwrap();
            let mut flat = FlatIndex::new(gpu, d, metric).unwrap();
            flat.add(&base).unwrap();
            // Every list probed: the flat index's answer.
            let a = ivf.search(&q, k, &params(nlist)).unwrap();
            let b = flat.search(&q, k, &SearchParams::default()).unwrap();
            assert_same(&a, &b, &format!("{metric:?} k={k}"));
            let a2 = pollster::block_on(ivf.search_async(&q, k, &params(nlist))).unwrap();
            assert_eq!(a2.ids, a.ids);
            // Two lists probed: as many results as those lists hold (up to k), the tail is
            // padding; every real result is a true distance, best first.
            let r = ivf.search(&q, k, &params(2)).unwrap();
            let (cents, sizes) = (ivf.centroids().unwrap().to_vec(), ivf.list_sizes());
            for qi in 0..9 {
                let (ids, dist) = (r.ids_of(qi), r.distances_of(qi));
                let real = ids.iter().take_while(|&&i| i >= 0).count();
                let want = probed_rows(&q[qi * d..(qi + 1) * d], &cents, &sizes, metric, 2);
                assert_eq!(real, want.min(k), "{metric:?} query {qi}: results");
                assert!(ids[real..].iter().all(|&i| i == -1));
                for j in 0..real {
                    let x = &base[ids[j] as usize * d..(ids[j] as usize + 1) * d];
                    let qv = &q[qi * d..(qi + 1) * d];
                    let want: f64 = match metric {
                        Metric::L2 => x
                            .iter()
                            .zip(qv)
                            .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                            .sum(),
                        _ => x
                            .iter()
                            .zip(qv)
                            .map(|(a, b)| f64::from(*a) * f64::from(*b))
                            .sum(),
                    };
                    assert!(
                        (f64::from(dist[j]) - want).abs() < 1e-3 * (1.0 + want.abs()),
                        "{metric:?} query {qi} place {j}"
                    );
                    if j > 0 {
                        let ordered = match metric {
                            Metric::L2 => dist[j - 1] <= dist[j],
                            _ => dist[j - 1] >= dist[j],
                        };
                        assert!(ordered, "{metric:?} query {qi}: not sorted at {j}");
                    }
                }
            }
        }
    }
}

#[test]
fn storage_over_several_arenas_equals_the_flat_index() {
    // 16 KiB bindings hold 256 vectors of 16 floats: 1200 vectors need several arenas.
    let small = wgfaiss::Gpu::with_options(
        common::options().with_override("WGFAISS_BUFFERS_MAX_BINDING_BYTES", 16384),
    )
    .unwrap();
    let mut rng = Rng::new(seed("ivf arenas"));
    let (d, nlist, n) = (16, 16, 1200);
    // Uniform data: lists of ~75, none near one arena's 256.
    let base = rng.vec(n * d);
    let q = rng.vec(30 * d);
    for metric in [Metric::L2, Metric::InnerProduct] {
        let mut ivf = IvfFlatIndex::new(&small, d, nlist, metric).unwrap();
        ivf.kmeans.niter = 4;
        ivf.train(&base).unwrap();
        // The flat index with explicit ids, so that removal keeps them (with sequential ids it
        // renumbers the rest, as FAISS's flat index does).
        let mut flat = FlatIndex::new(gpu(), d, metric).unwrap();
        // Several adds: lists move between arenas as they outgrow their regions.
        for (lo, hi) in [(0, 5), (5, 500), (500, n)] {
            ivf.add(&base[lo * d..hi * d]).unwrap();
            let ids: Vec<i64> = (lo as i64..hi as i64).collect();
            flat.add_with_ids(&base[lo * d..hi * d], &ids).unwrap();
        }
        assert!(ivf.arena_count() >= 4, "{} arenas", ivf.arena_count());
        assert_eq!(ivf.ntotal(), n);
        for k in [1, 10, 50] {
            let a = ivf.search(&q, k, &params(nlist)).unwrap();
            let b = flat.search(&q, k, &SearchParams::default()).unwrap();
            assert_same(&a, &b, &format!("arenas {metric:?} k={k}"));
            let a2 = pollster::block_on(ivf.search_async(&q, k, &params(nlist))).unwrap();
            assert_eq!((a2.ids, a2.distances), (a.ids.clone(), a.distances.clone()));
            let keys = SearchParams {
                scan: Some(ScanMode::Keys),
                ..params(nlist)
            };
            let a3 = ivf.search(&q, k, &keys).unwrap();
            assert_same(&a3, &b, &format!("arenas, keys scan, {metric:?} k={k}"));
        }
        // k beyond the fused scan (the keys scan), over every arena at once.
        let k = 700;
        let a = ivf.search(&q[..3 * d], k, &params(nlist)).unwrap();
        let b = flat
            .search(&q[..3 * d], k, &SearchParams::default())
            .unwrap();
        assert_same(&a, &b, &format!("arenas {metric:?} k={k}"));
        // Reconstruction, removal and persistence across arenas.
        for id in [0i64, 499, 1199] {
            let v = ivf.reconstruct(id).unwrap();
            let want: Vec<f32> = match metric {
                Metric::L2 | Metric::InnerProduct => {
                    base[id as usize * d..(id as usize + 1) * d].to_vec()
                }
                Metric::Cosine => unreachable!(),
            };
            assert_eq!(v, want, "{metric:?} id {id}");
        }
        let gone: Vec<i64> = (0..n as i64).step_by(3).collect();
        assert_eq!(ivf.remove_ids(&gone).unwrap(), gone.len());
        assert_eq!(flat.remove_ids(&gone).unwrap(), gone.len());
        let a = ivf.search(&q, 10, &params(nlist)).unwrap();
        let b = flat.search(&q, 10, &SearchParams::default()).unwrap();
        assert_same(&a, &b, &format!("arenas {metric:?} after removal"));
        let path = std::env::temp_dir().join(format!(
            "wgfaiss-ivf-arenas-{}-{metric:?}.wgf",
            std::process::id()
        ));
        ivf.save(&path).unwrap();
        let back = IvfFlatIndex::load(&small, &path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(back.arena_count() >= 2);
        let c = back.search(&q, 10, &params(nlist)).unwrap();
        assert_eq!((c.ids, c.distances), (a.ids, a.distances));
    }
}

#[test]
fn a_list_larger_than_one_binding_is_an_error_that_changes_nothing() {
    // 4 KiB bindings hold 64 vectors of 16 floats; one list of 100 cannot be stored.
    let small = wgfaiss::Gpu::with_options(
        common::options().with_override("WGFAISS_BUFFERS_MAX_BINDING_BYTES", 4096),
    )
    .unwrap();
    let mut rng = Rng::new(seed("ivf big list"));
    let d = 16;
    let base = rng.vec(100 * d);
    let mut ivf = IvfFlatIndex::new(&small, d, 1, Metric::L2).unwrap();
    ivf.train(&base).unwrap();
    ivf.add(&base[..40 * d]).unwrap();
    let e = ivf.add(&base[40 * d..]).unwrap_err().to_string();
    assert!(e.contains("exceeds one storage binding"), "{e}");
    assert_eq!(ivf.ntotal(), 40);
    let r = ivf.search(&base[..d], 1, &params(1)).unwrap();
    assert_eq!(r.ids, vec![0]);
}

#[test]
fn searches_of_many_batches_keep_several_in_flight_and_equal_one_batch() {
    // Batches of 7 queries with up to 3 submitted at once (one plan reused while in flight):
    // 61 queries are 9 batches, the last partial; results equal one batch's, in order.
    let many = wgfaiss::Gpu::with_options(
        common::options()
            .with_override("WGFAISS_SUBMIT_QUERY_BATCH", 7)
            .with_override("WGFAISS_SUBMIT_IN_FLIGHT", 3),
    )
    .unwrap();
    let mut rng = Rng::new(seed("in flight"));
    let (d, nlist) = (12, 8);
    let base = clustered(&mut rng, 12, d, 900);
    let q = clustered(&mut rng, 12, d, 61);
    let mut flat_many = FlatIndex::new(&many, d, Metric::L2).unwrap();
    flat_many.add(&base).unwrap();
    let mut flat = FlatIndex::new(gpu(), d, Metric::L2).unwrap();
    flat.add(&base).unwrap();
    for k in [1, 10] {
        let a = flat_many.search(&q, k, &SearchParams::default()).unwrap();
        let b = flat.search(&q, k, &SearchParams::default()).unwrap();
        assert_eq!((&a.ids, &a.distances), (&b.ids, &b.distances), "flat k={k}");
    }
    let mut ivf = IvfFlatIndex::new(&many, d, nlist, Metric::L2).unwrap();
    ivf.kmeans.niter = 4;
    ivf.train(&base).unwrap();
    ivf.add(&base).unwrap();
    for nprobe in [2, nlist] {
        let a = ivf.search(&q, 10, &params(nprobe)).unwrap();
        // The same index searched one query at a time: one batch each.
        for qi in 0..61 {
            let one = ivf
                .search(&q[qi * d..(qi + 1) * d], 10, &params(nprobe))
                .unwrap();
            assert_eq!(one.ids, a.ids_of(qi), "nprobe {nprobe} query {qi}");
            assert_eq!(
                one.distances,
                a.distances_of(qi),
                "nprobe {nprobe} query {qi}"
            );
        }
    }
    let b = flat.search(&q, 10, &SearchParams::default()).unwrap();
    assert_same(
        &ivf.search(&q, 10, &params(nlist)).unwrap(),
        &b,
        "ivf all lists",
    );
}

#[test]
fn both_scans_agree_per_search_on_one_index() {
    // The scan chosen per search (SearchParams::scan) on one index: both are exact over the
    // probed lists, so at any nprobe they return the same results; plans of both are cached
    // side by side.
    // Also with the H100's shipped scan tiles (64 x 128, 8 x 4 per invocation) and a
    // dimension off the vec4 loads.
    let h100 = wgfaiss::Gpu::with_options(
        common::options()
            .with_override("WGFAISS_IVF_SCAN_TILE_M", 64)
            .with_override("WGFAISS_IVF_SCAN_TILE_N", 128)
            .with_override("WGFAISS_IVF_SCAN_THREAD_M", 8)
            .with_override("WGFAISS_IVF_SCAN_THREAD_N", 4),
    )
    .unwrap();
    let mut rng = Rng::new(seed("ivf scans agree"));
    let nlist = 16;
    for (gpu, d, metric) in [
        (gpu(), 20, Metric::L2),
        (gpu(), 13, Metric::InnerProduct),
        (&h100, 20, Metric::InnerProduct),
        (&h100, 13, Metric::L2),
    ] {
        let base = clustered(&mut rng, 24, d, 2500);
        let q = clustered(&mut rng, 24, d, 70);
        let mut ivf = IvfFlatIndex::new(gpu, d, nlist, metric).unwrap();
        ivf.kmeans.niter = 4;
        ivf.train(&base).unwrap();
        ivf.add(&base).unwrap();
        for (k, nprobe) in [(1, 1), (10, 3), (33, 5), (10, 8), (10, 3)] {
            let with = |scan| SearchParams {
                scan,
                ..params(nprobe)
            };
            let fused = ivf.search(&q, k, &with(Some(ScanMode::Fused))).unwrap();
            let keys = ivf.search(&q, k, &with(Some(ScanMode::Keys))).unwrap();
            let auto = ivf.search(&q, k, &with(None)).unwrap();
            let what = format!("{metric:?} d={d} k={k} nprobe={nprobe}");
            assert_same(&keys, &fused, &what);
            assert_eq!(auto.ids, fused.ids, "{what}");
        }
    }
}

#[test]
fn keys_that_overflow_the_plan_are_searched_again_in_halves() {
    // 16 KiB bindings and a slack that accepts any batch: the keys scan's plans are sized far
    // below the batch's keys, so batches overflow and are searched again in halves until they
    // fit; the answers equal the fused scan's (and, with every list probed, the flat index's).
    let tight = wgfaiss::Gpu::with_options(
        common::options()
            .with_override("WGFAISS_BUFFERS_MAX_BINDING_BYTES", 16384)
            .with_override("WGFAISS_IVF_KEYS_SLACK", 100_000),
    )
    .unwrap();
    let mut rng = Rng::new(seed("ivf keys overflow"));
    // 900 vectors of 4: fewer than one 16 KiB binding holds (1024), so no list is too long.
    let (d, nlist) = (4, 6);
    let base = clustered(&mut rng, 6, d, 900);
    let q = clustered(&mut rng, 6, d, 40);
    let ivf = trained(&tight, d, nlist, 4, &base);
    let flat = exact(d, &base);
    let keys = scanned(nlist, ScanMode::Keys);
    assert_eq!(ivf.batch_queries(40, 10, &keys).unwrap(), 40);
    let a = ivf.search(&q, 10, &keys).unwrap();
    assert!(ivf.keys_overflows() > 0, "no batch overflowed");
    let b = flat.search(&q, 10, &SearchParams::default()).unwrap();
    assert_same(&a, &b, "overflowed keys, all lists");
    let a2 = pollster::block_on(ivf.search_async(&q, 10, &keys)).unwrap();
    assert_same(&a2, &b, "overflowed keys, async");
    let part = ivf.search(&q, 10, &scanned(2, ScanMode::Keys)).unwrap();
    let fused = ivf.search(&q, 10, &scanned(2, ScanMode::Fused)).unwrap();
    assert_same(&part, &fused, "overflowed keys, two lists");
}

#[test]
fn keys_of_one_query_beyond_a_binding_are_an_error() {
    // 16 KiB bindings hold 4096 keys: one query probing all 20 lists of 5000 vectors has more,
    // so the keys scan refuses it with a message (the fused scan still answers), and the
    // index is unchanged.
    let tight = wgfaiss::Gpu::with_options(
        common::options().with_override("WGFAISS_BUFFERS_MAX_BINDING_BYTES", 16384),
    )
    .unwrap();
    let mut rng = Rng::new(seed("ivf keys beyond"));
    let (d, nlist) = (4, 20);
    let base = rng.vec(5000 * d);
    let q = rng.vec(3 * d);
    let mut ivf = IvfFlatIndex::new(&tight, d, nlist, Metric::L2).unwrap();
    ivf.kmeans.niter = 4;
    ivf.train(&base).unwrap();
    ivf.add(&base).unwrap();
    let keys = SearchParams {
        scan: Some(ScanMode::Keys),
        ..params(nlist)
    };
    let e = ivf.search(&q, 10, &keys).unwrap_err();
    assert!(e.to_string().contains("keys"), "{e}");
    assert!(pollster::block_on(ivf.search_async(&q, 10, &keys)).is_err());
    assert_eq!(ivf.ntotal(), 5000);
    let mut flat = FlatIndex::new(gpu(), d, Metric::L2).unwrap();
    flat.add(&base).unwrap();
    let fused = SearchParams {
        scan: Some(ScanMode::Fused),
        ..params(nlist)
    };
    let a = ivf.search(&q, 10, &fused).unwrap();
    let b = flat.search(&q, 10, &SearchParams::default()).unwrap();
    assert_same(&a, &b, "fused, all lists");
}

#[test]
fn keys_scan_with_more_probes_than_a_workgroup_has_invocations() {
    // The keys scan lays out each query's keys over its probes: 300, more than one
    // workgroup's 256 invocations (a form that spreads a query's probes over a workgroup
    // needs two rounds here). Every list probed: the flat index's answers; 290 of 300: the
    // fused scan's.
    let mut rng = Rng::new(seed("ivf keys many probes"));
    let (d, nlist) = (4, 300);
    let base = clustered(&mut rng, 40, d, 3000);
    let q = clustered(&mut rng, 40, d, 9);
    let ivf = trained(gpu(), d, nlist, 3, &base);
    let flat = exact(d, &base);
    let all = ivf.search(&q, 10, &scanned(nlist, ScanMode::Keys)).unwrap();
    let b = flat.search(&q, 10, &SearchParams::default()).unwrap();
    assert_same(&all, &b, "keys scan, 300 of 300 lists");
    let part = ivf.search(&q, 10, &scanned(290, ScanMode::Keys)).unwrap();
    let fused = ivf.search(&q, 10, &scanned(290, ScanMode::Fused)).unwrap();
    assert_same(&part, &fused, "keys scan against fused, 290 of 300 lists");
}

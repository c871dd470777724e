//! The kernel registry: naga validation of every family with every override set the tuning
//! table can produce (no GPU), and the pipeline cache (on the test adapter).

mod common;

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use wgfaiss_core::Capabilities;
use wgfaiss_core::kernels::{
    ALL_FAMILIES, ELEMENTWISE, HALF, IVF, KMEANS, KNN_STREAM_H4, KNN_STREAM_V1, KNN_STREAM_V4,
    QR_SIMPLE, QR_SUBGROUP, REDUCE_SHARED, REDUCE_SUBGROUP, STREAM_READ, TOPK, gemm_coop,
    gemm_family, knn_family, knn_half as knn_half_family, validate,
};
use wgfaiss_core::ops::{gemm, knn, knn_half, reduce, topk};
use wgfaiss_core::tuning::{ConfigSource, Tuning};

/// Workgroup sizes the tuning layer can produce for the reduce family: every entry of the
/// shipped table (through an adapter of that name) plus every value the key allows.
fn reduce_workgroup_sizes() -> BTreeSet<u32> {
    let mut sizes: BTreeSet<u32> = (5..=10).map(|s| 1u32 << s).collect();
    for name in ["llvmpipe", "NVIDIA H100", "NVIDIA H200", "Unknown GPU"] {
        let caps = Capabilities {
            name: name.into(),
            ..Capabilities::example_lavapipe()
        };
        let t =
            Tuning::resolve(&caps, &ConfigSource::Shipped, &|_| None, &BTreeMap::new()).unwrap();
        sizes.insert(t.int("reduce.workgroup_size") as u32);
    }
    sizes
}

/// GEMM tiles the tuning layer can produce: the shipped entries, the heuristics, and every
/// combination of allowed values that fits an H200 (48 KiB, 1024 invocations).
fn gemm_tiles() -> (BTreeSet<gemm::Tiles>, BTreeSet<gemm::Tiles>) {
    let mut shipped = BTreeSet::new();
    for name in ["llvmpipe", "NVIDIA H100", "NVIDIA H200", "Unknown GPU"] {
        let caps = Capabilities {
            name: name.into(),
            ..Capabilities::example_lavapipe()
        };
        let t =
            Tuning::resolve(&caps, &ConfigSource::Shipped, &|_| None, &BTreeMap::new()).unwrap();
        let g = |k: &str| t.int(&format!("gemm.{k}")) as u32;
        shipped.insert((
            g("tile_m"),
            g("tile_n"),
            g("tile_k"),
            g("thread_m"),
            g("thread_n"),
        ));
        // The fused k-NN's tiles (its own keys, the GEMM's tile_k), and its tiles for 1-4
        // queries.
        let n = |k: &str| t.int(&format!("knn.{k}")) as u32;
        shipped.insert(knn::tiny_tiles(&t));
        shipped.insert((
            n("tile_m"),
            n("tile_n"),
            g("tile_k"),
            n("thread_m"),
            n("thread_n"),
        ));
    }
    let mut out = shipped.clone();
    let big = Capabilities {
        workgroup_memory_bytes: 48 << 10,
        ..Capabilities::example_lavapipe()
    };
    for tm in [8, 16, 32, 64, 128, 256] {
        for tn in [8, 16, 32, 64, 128, 256] {
            for tk in [4, 8, 16, 32, 64] {
                for rm in [4, 8] {
                    for rn in [4, 8] {
                        let t = (tm, tn, tk, rm, rn);
                        if wgfaiss_core::tuning::gemm_tiles_problem(t, &big).is_none() {
                            out.insert(t);
                        }
                    }
                }
            }
        }
    }
    (out, shipped)
}

/// Every transpose with and without vec4 loads.
fn variants() -> Vec<(bool, bool, bool, bool)> {
    let mut v = Vec::new();
    for i in 0..16u8 {
        v.push((i & 1 != 0, i & 2 != 0, i & 4 != 0, i & 8 != 0));
    }
    v
}

#[test]
fn every_family_and_override_set_validates_with_naga() {
    let mut checked = 0;
    for wg in reduce_workgroup_sizes() {
        for constants in reduce::constant_sets(wg) {
            for family in [REDUCE_SHARED, REDUCE_SUBGROUP] {
                validate(&family, &constants).unwrap_or_else(|e| panic!("{e}"));
                checked += 1;
            }
        }
        validate(&STREAM_READ, &[("WG", wg)]).unwrap_or_else(|e| panic!("{e}"));
        checked += 1;
    }
    // GEMM: every tile configuration the tuning table can produce (any allowed value can
    // come from a variable) for one variant, and every variant (transposes, vec4 loads) for
    // the configurations the shipped table and the heuristics give.
    let mut gemm_sets = 0;
    let (all, shipped) = gemm_tiles();
    let mut check = |tiles, (trans_a, trans_b, vec_a, vec_b), l2: bool| {
        // Also the variant that writes the rows' tile minima (L2) or maxima (plain).
        for best in [false, true] {
            let family = gemm_family(&gemm::GemmVariant {
                tiles,
                trans_a,
                trans_b,
                vec_a,
                vec_b,
                l2,
                best,
                largest: best && !l2,
            });
            validate(&family, &gemm::constants(tiles)).unwrap_or_else(|e| panic!("{tiles:?}: {e}"));
        }
        gemm_sets += 1;
    };
    for &tiles in &all {
        check(tiles, (false, true, true, false), false);
    }
    // The L2 epilogue (distance tiles: A·Bᵀ) with and without vec4 rows.
    for &tiles in &shipped {
        for v in variants() {
            check(tiles, v, false);
        }
        check(tiles, (false, true, true, true), true);
        check(tiles, (false, true, false, false), true);
    }
    assert!(gemm_sets > 300, "{gemm_sets}");
    validate(&QR_SIMPLE, &[("WG", 256)]).unwrap_or_else(|e| panic!("{e}"));
    for vec4 in [0, 1] {
        validate(&QR_SUBGROUP, &[("WG", 256), ("VEC4", vec4)]).unwrap_or_else(|e| panic!("{e}"));
    }
    // Top-k: every power-of-two k bound, workgroup size and rounds per thread the plan can
    // pick (it halves RPT until the workgroup memory fits), both orders, both id sources.
    for wg in [32u32, 64, 128, 256, 512, 1024] {
        for kp in (0..=11).map(|s| 1u32 << s) {
            for rpt in [4u32, 8, 16, 32] {
                if topk::shared_bytes(wg, kp, rpt) > 48 << 10 {
                    continue;
                }
                for (largest, explicit) in [(false, false), (true, true)] {
                    validate(&TOPK, &topk::constants(wg, kp, rpt, largest, explicit))
                        .unwrap_or_else(|e| panic!("topk {wg} {kp} {rpt}: {e}"));
                    validate(&TOPK, &topk::ranged_constants(wg, kp, rpt, largest))
                        .unwrap_or_else(|e| panic!("ranged topk {wg} {kp} {rpt}: {e}"));
                }
            }
        }
    }
    validate(&gemm_coop(), &[("WG", 128)]).unwrap_or_else(|e| panic!("{e}"));
    // The staged f16 kernel: the heuristic tiles, one and two stages, padded and not, wider
    // and deeper tiles, both layouts of B.
    use gemm::CoopStage::{Direct, Fragments, Halves};
    let coop = |tile_m, tile_n, tile_k, frag_m, frag_n, pad, stages, stage| gemm::CoopTiles {
        tile_m,
        tile_n,
        tile_k,
        frag_m,
        frag_n,
        pad,
        stages,
        stage,
        width: 1,
        swap: false,
    };
    let wide = |t: gemm::CoopTiles, width| gemm::CoopTiles { width, ..t };
    for t in [
        // The H100/H200 entries' tiles: slices of 48, elements of 2 (A·B) and 4 (A·Bᵀ).
        wide(coop(128, 256, 48, 4, 4, 8, 1, Halves), 2),
        wide(coop(128, 256, 48, 4, 4, 8, 1, Halves), 4),
        wide(coop(128, 256, 32, 4, 4, 8, 1, Halves), 2),
        wide(coop(128, 256, 32, 4, 4, 8, 1, Halves), 4),
        wide(coop(128, 128, 32, 4, 2, 0, 2, Halves), 4),
        wide(coop(128, 256, 32, 4, 4, 8, 1, Fragments), 4),
        wide(coop(128, 128, 32, 4, 2, 8, 2, Fragments), 2),
        coop(128, 256, 32, 4, 4, 8, 1, Halves),
        coop(128, 128, 32, 4, 2, 0, 2, Halves),
        coop(256, 128, 64, 4, 4, 16, 1, Halves),
        coop(64, 64, 16, 2, 2, 8, 2, Halves),
        coop(128, 128, 16, 4, 4, 0, 1, Direct),
        coop(128, 256, 32, 4, 4, 8, 1, Fragments),
        coop(128, 128, 32, 4, 2, 8, 2, Fragments),
    ] {
        // Each also computing Cᵀ's fragments (swapped operands, column-major stores).
        for (nt, swap) in [(false, false), (true, false), (false, true), (true, true)] {
            let t = gemm::CoopTiles { swap, ..t };
            validate(&t.family(nt), &[]).unwrap_or_else(|e| panic!("{t:?} nt {nt}: {e}"));
        }
    }
    // The tiled f16 key kernel: every dimension form that fits 48 KiB (slices of 32 and 16),
    // both metrics.
    {
        use wgfaiss_core::ops::knn_half_tiles::{
            TiledOut, survivors_select_family, tiled_keys_family, tiled_slice,
        };
        let mut forms = BTreeSet::new();
        let outs = [
            TiledOut::Keys { vec4: true },
            TiledOut::Keys { vec4: false },
            TiledOut::Sample,
            TiledOut::Survivors { cap: 64 },
            TiledOut::Survivors { cap: 4096 },
        ];
        for dp in (16..=256).step_by(16) {
            if let Some(tk) = tiled_slice(dp, 48 << 10) {
                forms.insert(tk);
                for metric in [0, 1] {
                    for out in outs {
                        validate(&tiled_keys_family(dp, tk, out), &[("METRIC", metric)])
                            .unwrap_or_else(|e| {
                                panic!("tiled keys d {dp} slice {tk} {out:?}: {e}")
                            });
                    }
                }
            }
        }
        // The survivors' selection at the smallest and largest slot counts.
        for cap in [64, 4096] {
            for metric in [0, 1] {
                validate(&survivors_select_family(cap), &[("METRIC", metric)])
                    .unwrap_or_else(|e| panic!("survivors select cap {cap}: {e}"));
            }
        }
        assert_eq!(forms.len(), 2, "both slice depths occur");
        assert_eq!(tiled_slice(128, 48 << 10), Some(32));
        assert_eq!(tiled_slice(256, 48 << 10), None);
    }
    // Fused k-NN: every tile configuration the plan can pick from the shipped tiles (the
    // query tile halved, the base tile widened or narrowed: `tile_candidates`), scalar and vec4
    // loads, both metrics, several list and slot sizes, grid and work-item modes.
    let mut knn_sets = 0;
    let mut seen = BTreeSet::new();
    for &tiles in shipped.iter().chain([&gemm::SMALL_M_TILES]) {
        for t in knn::tile_candidates(tiles) {
            if !seen.insert(t) {
                continue;
            }
            for vec in [false, true] {
                let family = knn_family(&knn::KnnVariant { tiles: t, vec });
                // Serial merges (4, 12, 100), parallel ones (32, 64), the k = 1 register path.
                for (kb, cap, metric, top1) in [
                    (4, 16, knn::KnnMetric::L2, false),
                    (4, 16, knn::KnnMetric::InnerProduct, true),
                    (12, 4, knn::KnnMetric::InnerProduct, false),
                    (32, 16, knn::KnnMetric::InnerProduct, false),
                    (64, 64, knn::KnnMetric::L2, false),
                    (100, 16, knn::KnnMetric::L2, false),
                ] {
                    for items in [false, true] {
                        let c = knn::constants_k(t, kb, cap, metric, items, top1);
                        validate(&family, &c)
                            .unwrap_or_else(|e| panic!("knn {t:?} items={items}: {e}"));
                        knn_sets += 1;
                    }
                }
                // The IVF keys scan (STORE).
                for metric in [knn::KnnMetric::L2, knn::KnnMetric::InnerProduct] {
                    validate(&family, &knn::store_constants(t, metric))
                        .unwrap_or_else(|e| panic!("knn store {t:?}: {e}"));
                }
            }
        }
    }
    assert!(knn_sets >= 12, "{knn_sets}");
    validate(&ELEMENTWISE, &[("WG", 256)]).unwrap_or_else(|e| panic!("{e}"));
    for tm in [4, 16, 32, 64, 128, 256] {
        validate(&IVF, &[("WG", 256), ("TM", tm)]).unwrap_or_else(|e| panic!("ivf {tm}: {e}"));
    }
    validate(&KMEANS, &[("WG", 256)]).unwrap_or_else(|e| panic!("kmeans: {e}"));
    // The streaming k-NN: every query count, the lanes per row the adapters give (4, 8),
    // dimensions in and off vec4, k from 1 to the largest that fits.
    for family in [KNN_STREAM_V4, KNN_STREAM_V1, KNN_STREAM_H4] {
        for nq in 1..=knn::STREAM_MAX_QUERIES {
            for lanes in [4, 8] {
                for (d, k) in [(1, 1), (4, 10), (128, 10), (130, 100), (784, 1000)] {
                    for metric in [knn::KnnMetric::L2, knn::KnnMetric::InnerProduct] {
                        // An f16 base's lanes load two chunks at once.
                        let sub = if family.name == KNN_STREAM_H4.name {
                            2
                        } else {
                            1
                        };
                        let c = knn::stream_constants(nq, d, k, (lanes, sub), metric);
                        validate(&family, &c)
                            .unwrap_or_else(|e| panic!("{} {c:?}: {e}", family.name));
                    }
                }
            }
        }
    }
    // The f16 precision mode: both product forms, both metrics, list lengths from 1 to the
    // most candidates, one to eight teams, padded columns, and its helpers.
    for (form, d) in [
        (knn_half::HalfProduct::Coop, 128),
        (knn_half::HalfProduct::Coop, 3),
        (knn_half::HalfProduct::Coop, 256),
        (knn_half::HalfProduct::Coop, 784),
        (knn_half::HalfProduct::Plain, 20),
    ] {
        for kc in [1, 26, 100, knn_half::MAX_CANDIDATES] {
            let v = knn_half::HalfVariant::new(form, d, kc, true, kc % 2 == 0);
            for (teams, metric) in [
                (1, knn::KnnMetric::L2),
                (4, knn::KnnMetric::InnerProduct),
                (8, knn::KnnMetric::L2),
            ] {
                let c = knn_half::constants(teams, metric, 4 * (kc as u32 % 5));
                validate(&knn_half_family(v), &c)
                    .unwrap_or_else(|e| panic!("{} {c:?}: {e}", v.name()));
            }
        }
    }
    // The f16 key tiles: both product forms, written-out steps and the loop (d > 256), one to
    // eight teams, both metrics.
    for (form, d) in [
        (knn_half::HalfProduct::Coop, 128),
        (knn_half::HalfProduct::Coop, 3),
        (knn_half::HalfProduct::Coop, 784),
        (knn_half::HalfProduct::Plain, 20),
    ] {
        let v = knn_half::HalfVariant::new(form, d, 26, true, false);
        for (teams, metric) in [
            (1, knn::KnnMetric::L2),
            (4, knn::KnnMetric::InnerProduct),
            (8, knn::KnnMetric::L2),
        ] {
            let c = knn_half::key_constants(teams, metric);
            validate(&wgfaiss_core::kernels::half_keys(v), &c)
                .unwrap_or_else(|e| panic!("half_keys {} {c:?}: {e}", v.name()));
        }
    }
    validate(&HALF, &[("WG", 256)]).unwrap_or_else(|e| panic!("half: {e}"));
    for kc in [1, 26, 64, 256] {
        for metric in [0, 1] {
            validate(&HALF, &[("WG", 256), ("KC", kc), ("METRIC", metric)])
                .unwrap_or_else(|e| panic!("half {kc} {metric}: {e}"));
        }
    }
    assert_eq!(
        ALL_FAMILIES.len(),
        13,
        "a new family needs its override sets validated here"
    );
    assert!(checked >= 6 * 7);
}

#[test]
fn validation_catches_errors() {
    // Subgroup code without the capability is rejected.
    let no_sg = wgfaiss_core::kernels::Family {
        needs: Default::default(),
        ..REDUCE_SUBGROUP
    };
    assert!(validate(&no_sg, &[("WG", 64), ("OP", 0)]).is_err());
    // A workgroup array sized by an override of 0 is rejected after specialisation.
    assert!(validate(&REDUCE_SHARED, &[("WG", 0), ("OP", 0)]).is_err());
    let broken = wgfaiss_core::kernels::Family {
        parts: &["fn f( {"],
        ..STREAM_READ
    };
    let e = validate(&broken, &[]).unwrap_err().to_string();
    assert!(e.contains("stream"), "{e}");
}

#[test]
fn a_pipeline_is_compiled_once_for_many_threads() {
    let gpu = common::gpu().clone();
    // A constant set no other test uses.
    let constants = [("WG", 32u32), ("OP", 2u32)];
    let before = gpu.pipelines_compiled();
    let kernels: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let gpu = gpu.clone();
                s.spawn(move || {
                    gpu.kernel(&REDUCE_SHARED, "reduce_pairs", &constants)
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(gpu.pipelines_compiled() - before, 1);
    for k in &kernels {
        assert!(std::sync::Arc::ptr_eq(k, &kernels[0]));
    }
    // Constant order does not matter.
    let k = gpu
        .kernel(&REDUCE_SHARED, "reduce_pairs", &[("OP", 2), ("WG", 32)])
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&k, &kernels[0]));
    assert_eq!(gpu.pipelines_compiled() - before, 1);
    let e = gpu
        .kernel(&REDUCE_SHARED, "no_such_entry", &[])
        .unwrap_err();
    assert!(e.to_string().contains("no such entry point"), "{e}");
}

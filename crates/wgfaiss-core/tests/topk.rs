//! Top-k against a CPU reference (sort by (value, id)): exact ids and values, both orders,
//! k from 1 to 2048, rows shorter than k, heavy ties, several segments and merge passes,
//! data over several bindings, poisoned outputs.

mod common;

use common::{Rng, gpu, gpu_with_binding_limit, seed};
use wgfaiss_core::Gpu;
use wgfaiss_core::ops::topk::{TopK, TopKOptions};

/// Sorts `v` best first by (value, id) — smallest or `largest` values first.
fn sort_best(v: &mut [(f32, u32)], largest: bool) {
    v.sort_by(|a, b| {
        let o = if largest {
            b.0.total_cmp(&a.0)
        } else {
            a.0.total_cmp(&b.0)
        };
        // -0.0 and 0.0 are equal values: order them by id like any tie.
        if a.0 == b.0 {
            a.1.cmp(&b.1)
        } else {
            o.then(a.1.cmp(&b.1))
        }
    });
}

/// Appends the best k of `v` to `out`, padded with (-inf or +inf, None) when it has fewer.
fn push_best(out: &mut TopK, mut v: Vec<(f32, u32)>, k: usize, largest: bool) {
    sort_best(&mut v, largest);
    let pad = if largest {
        f32::NEG_INFINITY
    } else {
        f32::INFINITY
    };
    for i in 0..k {
        let (val, id) = v.get(i).map_or((pad, None), |&(val, id)| (val, Some(id)));
        out.values.push(val);
        out.ids.push(id);
    }
}

fn reference(x: &[f32], rows: usize, cols: usize, k: usize, largest: bool) -> TopK {
    let mut out = TopK::default();
    for r in 0..rows {
        let v: Vec<(f32, u32)> = x[r * cols..(r + 1) * cols]
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_nan())
            .map(|(i, &v)| (v, i as u32))
            .collect();
        push_best(&mut out, v, k, largest);
    }
    out
}

#[allow(clippy::too_many_arguments)] // a test helper: the case is its arguments
fn check(
    gpu: &Gpu,
    x: &[f32],
    rows: usize,
    cols: usize,
    k: usize,
    largest: bool,
    opts: &TopKOptions,
    what: &str,
) {
    let got = gpu
        .topk_with(x, rows, cols, k, largest, opts)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let want = reference(x, rows, cols, k, largest);
    for r in 0..rows {
        let s = r * k..(r + 1) * k;
        assert_eq!(
            got.ids[s.clone()],
            want.ids[s.clone()],
            "{what}: ids of row {r}"
        );
        assert_eq!(
            got.values[s.clone()],
            want.values[s],
            "{what}: values of row {r}"
        );
    }
}

#[test]
fn random_rows_match_reference() {
    // Rounds of 4 loads per invocation (the candidate buffer holds a round) and of 32 (eight
    // times the buffer: offers that find it full wait for a merge and are offered again).
    let long_rounds =
        Gpu::with_options(common::options().with_override("WGFAISS_TOPK_THREAD_QUEUE", 32u64))
            .unwrap();
    let mut rng = Rng::new(seed("topk_random"));
    for (gpu, rounds) in [(gpu(), "default"), (&long_rounds, "32 per invocation")] {
        for (rows, cols) in [(1, 1), (3, 7), (2, 100), (5, 1000), (1, 5003), (17, 300)] {
            for k in [1, 2, 10, 33, 100, 128] {
                let x = rng.vec(rows * cols);
                for largest in [false, true] {
                    check(
                        gpu,
                        &x,
                        rows,
                        cols,
                        k,
                        largest,
                        &TopKOptions::default(),
                        &format!("{rows}x{cols} k{k} largest {largest} rounds {rounds}"),
                    );
                }
            }
        }
    }
}

#[test]
fn segments_and_merge_passes() {
    // Short segments force several segments per row and several merge passes.
    let gpu = gpu();
    let mut rng = Rng::new(seed("topk_segments"));
    for (rows, cols, k, seg) in [
        (2, 5000, 10, 256),
        (3, 3001, 50, 300),
        (1, 20000, 7, 100),
        (4, 999, 1, 64),
    ] {
        let x = rng.vec(rows * cols);
        let opts = TopKOptions {
            segment: Some(seg),
            workgroup_size: Some(64),
        };
        for largest in [false, true] {
            check(
                gpu,
                &x,
                rows,
                cols,
                k,
                largest,
                &opts,
                &format!("{rows}x{cols} k{k} seg{seg}"),
            );
        }
    }
}

#[test]
fn large_k_and_rows_shorter_than_k() {
    let long_rounds =
        Gpu::with_options(common::options().with_override("WGFAISS_TOPK_THREAD_QUEUE", 16u64))
            .unwrap();
    let mut rng = Rng::new(seed("topk_large_k"));
    for (rows, cols, k) in [
        (2, 3000, 2048),
        (3, 5000, 1000),
        (2, 700, 1024),
        (3, 10, 2048),
        (1, 2047, 2048),
    ] {
        let x = rng.vec(rows * cols);
        for largest in [false, true] {
            // Rounds of 16 per invocation: twice the buffer of 2048 (workgroups of 64).
            for (wg, gpu) in [(32, gpu()), (64, gpu()), (64, &long_rounds)] {
                let opts = TopKOptions {
                    workgroup_size: Some(wg),
                    ..Default::default()
                };
                check(
                    gpu,
                    &x,
                    rows,
                    cols,
                    k,
                    largest,
                    &opts,
                    &format!("{rows}x{cols} k{k} wg{wg}"),
                );
            }
        }
    }
}

#[test]
fn ties_infinities_and_nan() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("topk_ties"));
    // Few distinct values: ties everywhere, including at the k-th place.
    let (rows, cols) = (4, 3000);
    let mut x: Vec<f32> = (0..rows * cols)
        .map(|_| rng.below(7) as f32 - 3.0)
        .collect();
    x[5] = f32::INFINITY;
    x[17] = f32::NEG_INFINITY;
    x[40] = f32::NAN;
    x[3001] = -0.0;
    for k in [1, 5, 64, 500] {
        for largest in [false, true] {
            let opts = TopKOptions {
                segment: Some(512),
                workgroup_size: Some(32),
            };
            check(
                gpu,
                &x,
                rows,
                cols,
                k,
                largest,
                &opts,
                &format!("ties k{k} largest {largest}"),
            );
        }
    }
    // One candidate left for the final merge: ascending values, the smallest last (k above
    // 32, where candidates accumulate over rounds before a merge).
    let mut x: Vec<f32> = (0..1000).map(|i| i as f32).collect();
    x[999] = -1.0;
    check(
        gpu,
        &x,
        1,
        1000,
        40,
        false,
        &TopKOptions::default(),
        "last element best",
    );
    // Sorted input: every element beats the threshold (the worst case for merging).
    let sorted: Vec<f32> = (0..4000).rev().map(|i| i as f32).collect();
    check(
        gpu,
        &sorted,
        1,
        4000,
        100,
        false,
        &TopKOptions::default(),
        "descending input",
    );
}

#[test]
fn split_over_several_bindings() {
    // 2 KiB bindings: 4 rows of 120 floats per chunk, 37 rows in 10 chunks.
    let gpu = gpu_with_binding_limit(2048);
    let mut rng = Rng::new(seed("topk_split"));
    let (rows, cols) = (37, 120);
    let x = rng.vec(rows * cols);
    for k in [1, 16, 200] {
        check(
            &gpu,
            &x,
            rows,
            cols,
            k,
            false,
            &TopKOptions::default(),
            &format!("split k{k}"),
        );
    }
}

#[test]
fn bad_input_is_an_error() {
    let gpu = gpu();
    let x = vec![1.0f32; 12];
    for (k, want) in [(0, "k = 0"), (2049, "k = 2049")] {
        let e = gpu.topk(&x, 3, 4, k, false).unwrap_err();
        assert!(e.to_string().contains(want), "{e}");
    }
    let e = gpu.topk(&x, 5, 4, 1, false).unwrap_err();
    assert!(e.to_string().contains("not 5 rows of 4"), "{e}");
    assert!(gpu.topk(&[], 0, 4, 3, false).unwrap().values.is_empty());
    let opts = TopKOptions {
        workgroup_size: Some(48),
        ..Default::default()
    };
    assert!(gpu.topk_with(&x, 3, 4, 1, false, &opts).is_err());
}

#[test]
fn ranged_rows_of_their_own_lengths() {
    // Rows anywhere in one buffer (laid out in reverse order, with gaps of poison between
    // them), lengths 0, 1, below k, k, and several segments' worth; both orders; ids are
    // positions in the row.
    use wgfaiss_core::ops::topk::TopKPlan;
    let gpu = gpu();
    let mut rng = Rng::new(seed("topk ranged"));
    let lens = [0usize, 1, 5, 7, 300, 20_000, 3, 9_001];
    for (k, largest) in [(7, false), (7, true), (64, false), (1, true)] {
        let mut data = Vec::new();
        let mut ranges = vec![0u32; 2 * lens.len()];
        let mut rows = vec![Vec::new(); lens.len()];
        for (r, &len) in lens.iter().enumerate().rev() {
            data.extend((0..3).map(|_| f32::NAN));
            ranges[2 * r] = data.len() as u32;
            ranges[2 * r + 1] = len as u32;
            // Coarse values: ties across positions.
            rows[r] = (0..len).map(|_| (rng.below(500) as f32) - 250.0).collect();
            data.extend(&rows[r]);
        }
        let values = gpu.upload(&data).unwrap();
        let rb = gpu.upload(&ranges).unwrap();
        let max = *lens.iter().max().unwrap();
        let plan = TopKPlan::ranged(gpu, &values, &rb, lens.len(), max, k, largest).unwrap();
        plan.poison(gpu).unwrap();
        let mut batch = gpu.batch(false);
        plan.record(&mut batch);
        batch.finish().unwrap();
        let got = plan.read(gpu).unwrap();
        for (r, row) in rows.iter().enumerate() {
            let want = reference(row, 1, row.len(), k, largest);
            let want = if row.is_empty() {
                reference(&[f32::NAN], 1, 1, k, largest)
            } else {
                want
            };
            assert_eq!(got.ids[r * k..(r + 1) * k], want.ids[..], "row {r} k {k}");
            assert_eq!(
                got.values[r * k..(r + 1) * k],
                want.values[..],
                "row {r} k {k}"
            );
        }
    }
}

/// The radix kernel (`topk_radix`: short rows, large k) is what runs for such rows, and it
/// is exact: random rows, rows of a handful of values (ties at the k-th place, decided by the
/// smaller column), -0 beside 0, infinities and NaN (never selected), rows shorter than k,
/// both orders, rows over several bindings; with it switched off the filter kernel agrees.
#[test]
fn radix_selection_of_short_rows() {
    use wgfaiss_core::ops::topk::uses_radix;
    let gpu = gpu();
    assert!(
        uses_radix(gpu, 4096, 64),
        "the test adapter takes the radix path"
    );
    assert!(!uses_radix(gpu, 4096, 10));
    assert!(!uses_radix(gpu, 1 << 20, 64));
    let off =
        Gpu::with_options(common::options().with_override("WGFAISS_TOPK_RADIX_MIN_K", 0)).unwrap();
    assert!(!uses_radix(&off, 4096, 64));
    let mut rng = Rng::new(seed("topk radix"));
    let opts = TopKOptions::default();
    for &(rows, cols, k) in &[
        (3, 4096, 64),
        (5, 1, 32),
        (2, 31, 40),
        (4, 64, 64),
        (3, 5000, 100),
        (2, 16384, 2048),
        (7, 300, 33),
    ] {
        let random: Vec<f32> = (0..rows * cols).map(|_| rng.f32() * 2.0 - 1.0).collect();
        let mut few: Vec<f32> = (0..rows * cols)
            .map(|_| rng.below(5) as f32 - 2.0)
            .collect();
        few[0] = -0.0;
        if few.len() > 3 {
            few[1] = f32::NAN;
            few[2] = f32::INFINITY;
            few[3] = f32::NEG_INFINITY;
        }
        for (name, x) in [("random", &random), ("few values", &few)] {
            for largest in [false, true] {
                let what = format!("radix {name} {rows}x{cols} k{k} largest {largest}");
                check(gpu, x, rows, cols, k, largest, &opts, &what);
                check(
                    &off,
                    x,
                    rows,
                    cols,
                    k,
                    largest,
                    &opts,
                    &format!("{what}, off"),
                );
            }
        }
    }
    // Over several bindings (4 KiB: 16 rows of 64 per chunk).
    let small = gpu_with_binding_limit(4096);
    let x: Vec<f32> = (0..50 * 64).map(|_| rng.below(9) as f32).collect();
    check(&small, &x, 50, 64, 40, false, &opts, "radix chunks");
}

/// Rows of `segs` sorted lists of `k` (best first by (value, id), padding last): what the
/// fused k-NN kernels hand to the segment merge. `crowd`: every list starts with the same
/// k - 1 values (distinct ids); `flat`: every value is the same (only ids order them).
/// `short`: every third list holds fewer than k entries.
fn sorted_lists(
    rng: &mut Rng,
    (rows, segs, k): (usize, usize, usize),
    largest: bool,
    (crowd, flat): (bool, bool),
    short: bool,
) -> (Vec<f32>, Vec<u32>) {
    let pad = if largest {
        f32::NEG_INFINITY
    } else {
        f32::INFINITY
    };
    let (mut vals, mut ids) = (Vec::new(), Vec::new());
    for _ in 0..rows {
        for s in 0..segs {
            let len = if short && s % 3 == 1 { s % k } else { k };
            let mut list: Vec<(f32, u32)> = (0..len)
                .map(|j| {
                    let v = if flat {
                        2.5
                    } else if crowd && j + 1 < k {
                        j as f32
                    } else {
                        // A few exact ties between lists, the rest random.
                        (rng.below(1000) as f32) / 64.0
                    };
                    (v, (s * k + j) as u32)
                })
                .collect();
            sort_best(&mut list, largest);
            for j in 0..k {
                let (v, i) = list.get(j).copied().unwrap_or((pad, u32::MAX));
                vals.push(v);
                ids.push(i);
            }
        }
    }
    (vals, ids)
}

#[test]
fn segment_merge_of_sorted_lists_matches_reference() {
    // Many lists (one query of the streaming k-NN has 489 of 10), crowded rows (many lists
    // sharing their best values), flat rows (one value: more entries than the bounded merge
    // holds pass the heads' bound), short lists, both orders, k from 1 to 40, long rows;
    // the bounded one-pass merge (the default up to k = 256) and the filter passes.
    use wgfaiss_core::ops::topk::SegmentMerge;
    let passes =
        Gpu::with_options(common::options().with_override("WGFAISS_TOPK_LIST_MERGE_MAX_K", 0u64))
            .unwrap();
    let mut rng = Rng::new(seed("topk_lists"));
    for (gpu, how) in [(gpu(), "bounded"), (&passes, "passes")] {
        for (rows, segs, k, crowd, flat, short) in [
            (1, 489, 10, false, false, false),
            (3, 40, 1, false, false, true),
            (2, 300, 10, true, false, false),
            (5, 7, 32, false, false, true),
            (2, 90, 32, true, false, true),
            (2, 50, 33, false, false, false),
            (4, 2, 5, false, false, true),
            (1, 600, 10, true, false, false),
            (1, 2100, 3, false, false, true),
            (2, 60, 40, false, true, false),
            (1, 30, 40, false, true, true),
        ] {
            for largest in [false, true] {
                let what = format!(
                    "{how}: {rows}x{segs} lists of {k}, crowd {crowd}, flat {flat}, short {short}, largest {largest}"
                );
                let (vals, ids) =
                    sorted_lists(&mut rng, (rows, segs, k), largest, (crowd, flat), short);
                let merge = SegmentMerge::new(
                    gpu,
                    gpu.upload(&vals).unwrap(),
                    gpu.upload(&ids).unwrap(),
                    rows,
                    segs,
                    k,
                    largest,
                )
                .unwrap_or_else(|e| panic!("{what}: {e}"));
                merge.poison(gpu).unwrap();
                let mut batch = gpu.batch(false);
                merge.record(&mut batch);
                batch.finish().unwrap();
                let got = merge.read(gpu).unwrap();
                // The reference: every real entry of the row, sorted by (value, id).
                let n = segs * k;
                let mut want = TopK::default();
                for r in 0..rows {
                    let row: Vec<(f32, u32)> = (r * n..(r + 1) * n)
                        .filter(|&e| ids[e] != u32::MAX)
                        .map(|e| (vals[e], ids[e]))
                        .collect();
                    push_best(&mut want, row, k, largest);
                }
                assert_eq!(got.ids, want.ids, "{what}: ids");
                assert_eq!(got.values, want.values, "{what}: values");
            }
        }
    }
}

#[test]
fn wide_workgroups_from_wide_min_k_on() {
    use wgfaiss_core::ops::topk::TopKPlan;
    // topk.wide_min_k: from k = 100 on, workgroups of another size, with the same results; a
    // wide size whose memory does not fit falls back to the default.
    // A wide size other than the adapter's default (lavapipe 64, the H100/H200 128).
    let normal = gpu().tuning().int("topk.workgroup_size") as u32;
    let w = if normal == 128 { 64 } else { 128 };
    let wide = Gpu::with_options(
        common::options()
            .with_override("WGFAISS_TOPK_WIDE_MIN_K", 100u64)
            .with_override("WGFAISS_TOPK_WIDE_WORKGROUP_SIZE", u64::from(w)),
    )
    .unwrap();
    let mut rng = Rng::new(seed("topk_wide"));
    let (rows, cols) = (3, 5000);
    let x = rng.vec(rows * cols);
    let data = wide.upload_split(&x, cols).unwrap();
    for (k, wg) in [(10, normal), (99, normal), (100, w), (300, w)] {
        let plan =
            TopKPlan::new(&wide, &data, rows, cols, k, false, &TopKOptions::default()).unwrap();
        assert_eq!(plan.workgroup_size(), wg, "k = {k}");
        check(
            &wide,
            &x,
            rows,
            cols,
            k,
            false,
            &TopKOptions::default(),
            &format!("wide k{k}"),
        );
    }
    let too_wide = Gpu::with_options(
        common::options()
            .with_override("WGFAISS_TOPK_WIDE_MIN_K", 100u64)
            .with_override("WGFAISS_TOPK_WIDE_WORKGROUP_SIZE", 1024u64),
    )
    .unwrap();
    let data = too_wide.upload_split(&x, cols).unwrap();
    let plan = TopKPlan::new(
        &too_wide,
        &data,
        rows,
        cols,
        2048,
        false,
        &TopKOptions::default(),
    )
    .unwrap();
    let limit = too_wide.capabilities().max_invocations_per_workgroup;
    assert!(
        plan.workgroup_size() <= limit.min(normal),
        "{}",
        plan.workgroup_size()
    );
}

#[test]
fn bounded_selection_offers_only_values_within_the_bound() {
    use wgfaiss_core::ops::topk::TopKPlan;
    let gpu = gpu();
    let mut rng = Rng::new(seed("topk bounded"));
    // Rows of 5 000 (several segments) with heavy ties (values in steps of 1/64), k = 24.
    let (rows, cols, k) = (6, 5000, 24);
    let x: Vec<f32> = (0..rows * cols)
        .map(|_| (rng.f32() * 64.0).floor() / 64.0)
        .collect();
    let data = gpu.upload_split(&x, cols).unwrap();
    for largest in [false, true] {
        let want = reference(&x, rows, cols, k, largest);
        // Per row a list of 3 bounds, the last one read: the k-th value itself (its ties at
        // the bound must all be offered), a looser one, NaN (no bound), and one past the
        // k-th (keys at it or better only: the list pads).
        let step = if largest { -1.0 / 64.0 } else { 1.0 / 64.0 };
        let kth = |r: usize| want.values[r * k + k - 1];
        type Bound<'a> = Box<dyn Fn(usize) -> f32 + 'a>;
        let cases: [(&str, Bound<'_>); 4] = [
            ("at the k-th", Box::new(kth)),
            ("loose", Box::new(move |r| kth(r) + 5.0 * step)),
            ("NaN", Box::new(|_| f32::NAN)),
            ("tight", Box::new(move |r| kth(r) - step)),
        ];
        for (what, bound) in cases {
            let b: Vec<f32> = (0..rows).flat_map(|r| [0.5, -7.0, bound(r)]).collect();
            let b = gpu.upload(&b).unwrap();
            let plan = TopKPlan::bounded(gpu, &data, (rows, cols, k), largest, (&b, 3)).unwrap();
            plan.poison(gpu).unwrap();
            let mut batch = gpu.batch(false);
            plan.record(&mut batch);
            batch.finish().unwrap();
            let got = plan.read(gpu).unwrap();
            for r in 0..rows {
                let s = r * k..(r + 1) * k;
                if what != "tight" {
                    assert_eq!(got.ids[s.clone()], want.ids[s.clone()], "{what} row {r}");
                    assert_eq!(got.values[s.clone()], want.values[s], "{what} row {r}");
                    continue;
                }
                // Within a bound one step better than the k-th: exactly the values before
                // it, then padding.
                let inside: Vec<(f32, u32)> = (0..cols)
                    .map(|c| (x[r * cols + c], c as u32))
                    .filter(|&(v, _)| {
                        if largest {
                            v >= bound(r)
                        } else {
                            v <= bound(r)
                        }
                    })
                    .collect();
                let mut one = TopK::default();
                push_best(&mut one, inside, k, largest);
                assert_eq!(got.ids[s.clone()], one.ids, "{what} row {r}");
                assert_eq!(got.values[s], one.values, "{what} row {r}");
            }
        }
    }
    // Too few bounds is an error.
    let b = gpu.upload(&[1.0f32; 5]).unwrap();
    assert!(TopKPlan::bounded(gpu, &data, (rows, cols, k), false, (&b, 1)).is_err());
}

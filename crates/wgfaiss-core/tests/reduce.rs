//! Reductions against a CPU f64 reference: random data, sizes off the workgroup grid,
//! poisoned outputs, both paths, several chunks.

mod common;

use common::{Rng, gpu, gpu_with_binding_limit, seed};
use wgfaiss_core::Gpu;
use wgfaiss_core::ops::reduce::{ReduceOp, ReduceOptions, ReducePath};

const OPS: [ReduceOp; 5] = [
    ReduceOp::Sum,
    ReduceOp::Max,
    ReduceOp::Min,
    ReduceOp::ArgMax,
    ReduceOp::ArgMin,
];

/// CPU reference: f64 sum, or the first extreme.
fn reference(x: &[f32], op: ReduceOp) -> (f64, Option<u64>) {
    match op {
        ReduceOp::Sum => (x.iter().map(|&v| f64::from(v)).sum(), None),
        ReduceOp::Max | ReduceOp::ArgMax | ReduceOp::Min | ReduceOp::ArgMin => {
            let want_max = matches!(op, ReduceOp::Max | ReduceOp::ArgMax);
            let mut best = 0;
            for (i, &v) in x.iter().enumerate() {
                if (want_max && v > x[best]) || (!want_max && v < x[best]) {
                    best = i;
                }
            }
            (f64::from(x[best]), Some(best as u64))
        }
    }
}

/// Sum tolerance: f32 accumulation over chains of at most `n` terms.
fn sum_tol(x: &[f32]) -> f64 {
    let abs: f64 = x.iter().map(|&v| f64::from(v).abs()).sum();
    4.0 * f64::from(f32::EPSILON) * (x.len() as f64).sqrt().max(8.0) * abs + 1e-30
}

fn paths(gpu: &Gpu) -> Vec<ReducePath> {
    // lavapipe and every GPU CI knows have subgroups: both paths must run there.
    assert!(
        gpu.capabilities().subgroups,
        "test adapter {} lacks SUBGROUP; the subgroup path would go untested",
        gpu.capabilities().name
    );
    vec![ReducePath::Subgroup, ReducePath::Shared]
}

fn check_whole(gpu: &Gpu, x: &[f32], op: ReduceOp, opts: &ReduceOptions, what: &str) {
    let got = gpu
        .reduce_with(x, op, opts)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let (want, want_i) = reference(x, op);
    if op == ReduceOp::Sum {
        let err = (f64::from(got.value) - want).abs();
        assert!(
            err <= sum_tol(x),
            "{what}: sum {} vs {want} (err {err}, tol {})",
            got.value,
            sum_tol(x)
        );
        assert_eq!(got.index, None);
    } else {
        assert_eq!(
            (f64::from(got.value), got.index),
            (want, want_i),
            "{what}: n = {}",
            x.len()
        );
    }
}

#[test]
fn whole_array_matches_reference_on_both_paths() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("whole_array"));
    for path in paths(gpu) {
        for wg in [32, 256] {
            for n in [1, 2, 3, 4, 5, 31, 255, 257, 1000, 4099, 65_537] {
                let x = rng.vec(n);
                for op in OPS {
                    let opts = ReduceOptions {
                        path: Some(path),
                        workgroup_size: Some(wg),
                        max_workgroups: Some(7),
                    };
                    check_whole(gpu, &x, op, &opts, &format!("{path:?} wg{wg} {op:?} n{n}"));
                }
            }
        }
    }
}

#[test]
fn whole_array_split_over_several_bindings() {
    // 4 KiB bindings: 1024 floats per chunk, so 20 003 floats are 20 chunks.
    let gpu = gpu_with_binding_limit(4096);
    assert_eq!(gpu.max_binding_bytes(), 4096);
    let mut rng = Rng::new(seed("split"));
    for path in paths(&gpu) {
        for n in [1023, 1024, 1025, 20_003] {
            let mut x = rng.vec(n);
            // Put the same extreme in two chunks: the first occurrence must win.
            let a = rng.below(n);
            let b = rng.below(n);
            x[a] = 7.0;
            x[b] = 7.0;
            x[rng.below(n)] = -7.0;
            for op in OPS {
                for max_wg in [1, 3, 64] {
                    let opts = ReduceOptions {
                        path: Some(path),
                        workgroup_size: Some(64),
                        max_workgroups: Some(max_wg),
                    };
                    check_whole(
                        &gpu,
                        &x,
                        op,
                        &opts,
                        &format!("split {path:?} {op:?} n{n} g{max_wg}"),
                    );
                }
            }
        }
    }
}

#[test]
fn many_ties_go_to_the_first_index() {
    // Five distinct values: every extreme occurs many times, in every lane and accumulator.
    let gpu = gpu();
    let mut rng = Rng::new(seed("many_ties"));
    for path in paths(gpu) {
        for n in [7, 64, 1001, 20_000] {
            let x: Vec<f32> = (0..n).map(|_| rng.below(5) as f32).collect();
            for op in [ReduceOp::ArgMax, ReduceOp::ArgMin] {
                let opts = ReduceOptions {
                    path: Some(path),
                    workgroup_size: Some(32),
                    max_workgroups: Some(3),
                };
                check_whole(gpu, &x, op, &opts, &format!("ties {path:?} {op:?} n{n}"));
            }
            for cols in [7, 8, 100] {
                let rows = n / cols;
                for op in [ReduceOp::ArgMax, ReduceOp::ArgMin] {
                    let opts = ReduceOptions {
                        path: Some(path),
                        workgroup_size: Some(32),
                        max_workgroups: None,
                    };
                    check_rows(
                        gpu,
                        &x[..rows * cols],
                        rows,
                        cols,
                        op,
                        &opts,
                        &format!("row ties {path:?} {op:?} {cols}"),
                    );
                }
            }
        }
    }
}

#[test]
fn ties_go_to_the_first_index() {
    let gpu = gpu();
    for path in paths(gpu) {
        let opts = ReduceOptions {
            path: Some(path),
            workgroup_size: Some(32),
            max_workgroups: Some(5),
        };
        // All equal: index 0.
        let x = vec![1.5f32; 3001];
        for op in [ReduceOp::ArgMax, ReduceOp::ArgMin] {
            let r = gpu.reduce_with(&x, op, &opts).unwrap();
            assert_eq!((r.value, r.index), (1.5, Some(0)), "{path:?} {op:?}");
        }
        // -inf and +inf are values like any other.
        let mut x = vec![0.0f32; 999];
        x[500] = f32::NEG_INFINITY;
        x[700] = f32::NEG_INFINITY;
        let r = gpu.reduce_with(&x, ReduceOp::ArgMin, &opts).unwrap();
        assert_eq!((r.value, r.index), (f32::NEG_INFINITY, Some(500)));
        let x = vec![f32::NEG_INFINITY; 77];
        let r = gpu.reduce_with(&x, ReduceOp::ArgMax, &opts).unwrap();
        assert_eq!((r.value, r.index), (f32::NEG_INFINITY, Some(0)));
    }
}

fn check_rows(
    gpu: &Gpu,
    x: &[f32],
    rows: usize,
    cols: usize,
    op: ReduceOp,
    opts: &ReduceOptions,
    what: &str,
) {
    let got = gpu
        .reduce_rows_with(x, rows, cols, op, opts)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(got.values.len(), rows, "{what}");
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let (want, want_i) = reference(row, op);
        if op == ReduceOp::Sum {
            let err = (f64::from(got.values[r]) - want).abs();
            assert!(
                err <= sum_tol(row),
                "{what}: row {r}: {} vs {want}",
                got.values[r]
            );
        } else {
            let idx = got.indices.as_ref().expect("indices")[r];
            assert_eq!(
                (f64::from(got.values[r]), Some(u64::from(idx))),
                (want, want_i),
                "{what}: row {r}"
            );
        }
    }
}

#[test]
fn rows_match_reference() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("rows"));
    for path in paths(gpu) {
        for wg in [32, 128] {
            for (rows, cols) in [
                (1, 1),
                (3, 1),
                (1, 4),
                (1, 5),
                (7, 33),
                (130, 3),
                (3, 8),
                (5, 1000),
                (9, 4096),
                (2, 4099),
            ] {
                let x = rng.vec(rows * cols);
                for op in OPS {
                    let opts = ReduceOptions {
                        path: Some(path),
                        workgroup_size: Some(wg),
                        max_workgroups: None,
                    };
                    check_rows(
                        gpu,
                        &x,
                        rows,
                        cols,
                        op,
                        &opts,
                        &format!("{path:?} wg{wg} {op:?} {rows}x{cols}"),
                    );
                }
            }
        }
    }
}

#[test]
fn rows_split_over_several_bindings() {
    // 1 KiB bindings: 101 rows of 30 floats are 13 chunks, 50 rows of 32 are 8.
    let gpu = gpu_with_binding_limit(1024);
    let mut rng = Rng::new(seed("rows_split"));
    // 30 columns take the scalar kernel (8 rows a chunk), 32 the vec4 kernel (7 rows a chunk).
    for (rows, cols) in [(101, 30), (50, 32)] {
        let x = rng.vec(rows * cols);
        for path in paths(&gpu) {
            for op in OPS {
                let opts = ReduceOptions {
                    path: Some(path),
                    workgroup_size: Some(32),
                    max_workgroups: None,
                };
                let what = format!("split rows {rows}x{cols} {path:?} {op:?}");
                check_rows(&gpu, &x, rows, cols, op, &opts, &what);
            }
        }
    }
    // A row wider than a binding is a clear error.
    let wide = vec![0.0f32; 2 * 300];
    let e = gpu.reduce_rows(&wide, 2, 300, ReduceOp::Sum).unwrap_err();
    assert!(
        e.to_string()
            .contains("larger than the storage binding limit"),
        "{e}"
    );
}

#[test]
fn many_rows_use_a_two_dimensional_grid() {
    // More rows than workgroups per dimension on any adapter: 65 535 is the WebGPU minimum
    // and lavapipe's value.
    let gpu = gpu();
    let rows = gpu.capabilities().max_workgroups_per_dimension as usize + 3;
    let cols = 2;
    let mut rng = Rng::new(seed("grid"));
    let x = rng.vec(rows * cols);
    let got = gpu.reduce_rows(&x, rows, cols, ReduceOp::ArgMax).unwrap();
    let idx = got.indices.unwrap();
    for r in 0..rows {
        let want = if x[2 * r + 1] > x[2 * r] { 1 } else { 0 };
        assert_eq!(idx[r], want, "row {r}");
    }
}

#[test]
fn bad_input_is_an_error() {
    let gpu = gpu();
    assert_eq!(gpu.reduce(&[], ReduceOp::Sum).unwrap().value, 0.0);
    let e = gpu.reduce(&[], ReduceOp::ArgMax).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    let e = gpu.reduce_rows(&[1.0; 5], 2, 3, ReduceOp::Sum).unwrap_err();
    assert!(e.to_string().contains("not 2 rows x 3 columns"), "{e}");
    let e = gpu.reduce_rows(&[], 4, 0, ReduceOp::Sum).unwrap_err();
    assert!(e.to_string().contains("zero columns"), "{e}");
    let opts = ReduceOptions {
        workgroup_size: Some(48),
        ..Default::default()
    };
    let e = gpu.reduce_with(&[1.0], ReduceOp::Sum, &opts).unwrap_err();
    assert!(e.to_string().contains("power of two"), "{e}");
    assert!(ReduceOp::parse("median").is_err());
    assert_eq!(
        gpu.reduce_rows(&[], 0, 5, ReduceOp::Max)
            .unwrap()
            .values
            .len(),
        0
    );
}

#[test]
fn tuning_path_choice_is_honoured() {
    let shared =
        Gpu::with_options(common::options().with_override("WGFAISS_REDUCE_PATH", "shared"))
            .unwrap();
    let x: Vec<f32> = (0..1000).map(|i| ((i * 37) % 101) as f32).collect();
    let buf = shared.upload_split(&x, 4).unwrap();
    let plan = wgfaiss_core::ops::reduce::Reduction::new(
        &shared,
        &buf,
        ReduceOp::ArgMax,
        &ReduceOptions::default(),
    )
    .unwrap();
    assert_eq!(plan.path(), ReducePath::Shared);
    let auto = wgfaiss_core::ops::reduce::Reduction::new(
        gpu(),
        &gpu().upload_split(&x, 4).unwrap(),
        ReduceOp::ArgMax,
        &ReduceOptions::default(),
    )
    .unwrap();
    assert_eq!(auto.path(), ReducePath::Subgroup);
    let mut b = shared.batch(false);
    plan.record(&mut b);
    b.finish().unwrap();
    let r = plan.read(&shared).unwrap();
    assert_eq!(
        (r.value, r.index),
        (
            100.0,
            Some(x.iter().position(|&v| v == 100.0).unwrap() as u64)
        )
    );
}

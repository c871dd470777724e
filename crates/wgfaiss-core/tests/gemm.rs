//! The f32 GEMM against a CPU f64 reference: every transpose, awkward shapes, alpha/beta,
//! poisoned outputs, every tile configuration of the shipped tuning table.

mod common;

use common::{Rng, gpu, seed};
use wgfaiss_core::Gpu;
use wgfaiss_core::ops::gemm::{GemmOptions, GemmShape};

/// Tile configurations of the shipped table (llvmpipe, default, H100/H200) and a mixed one.
const TILES: [(u32, u32, u32, u32, u32); 4] = [
    (32, 32, 8, 4, 4),
    (64, 64, 16, 4, 4),
    (128, 128, 16, 8, 8),
    (64, 32, 4, 8, 4),
];

/// op(A)[i][k] of a stored matrix.
fn at(x: &[f32], trans: bool, rows: usize, cols: usize, i: usize, k: usize) -> f64 {
    // Logical rows x cols; stored cols x rows when transposed.
    f64::from(if trans {
        x[k * rows + i]
    } else {
        x[i * cols + k]
    })
}

fn check(gpu: &Gpu, s: GemmShape, opts: &GemmOptions, rng: &mut Rng, what: &str) {
    let (la, lb, lc) = s.lens();
    let a = rng.vec(la);
    let b = rng.vec(lb);
    // Poison C when it is write-only: NaN must not reach the result.
    let c0: Vec<f32> = if s.beta == 0.0 {
        vec![f32::NAN; lc]
    } else {
        rng.vec(lc)
    };
    let c = gpu
        .gemm(&a, &b, Some(&c0), s, opts)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    for i in 0..s.m {
        for j in 0..s.n {
            let mut dot = 0.0f64;
            let mut mag = 0.0f64;
            for k in 0..s.k {
                let t = at(&a, s.trans_a, s.m, s.k, i, k) * at(&b, s.trans_b, s.k, s.n, k, j);
                dot += t;
                mag += t.abs();
            }
            let old = if s.beta == 0.0 {
                0.0
            } else {
                f64::from(c0[i * s.n + j])
            };
            let want = f64::from(s.alpha) * dot + f64::from(s.beta) * old;
            let tol = 2.0
                * (s.k as f64 + 2.0)
                * f64::from(f32::EPSILON)
                * (f64::from(s.alpha).abs() * mag + f64::from(s.beta).abs() * old.abs())
                + 1e-30;
            let got = f64::from(c[i * s.n + j]);
            assert!(
                (got - want).abs() <= tol,
                "{what}: C[{i}][{j}] = {got}, want {want} (tol {tol})"
            );
        }
    }
}

#[test]
fn every_transpose_and_awkward_shape_matches_reference() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("gemm_shapes"));
    let shapes = [
        (1, 1, 1),
        (1, 7, 3),
        (5, 1, 9),
        (3, 3, 1),
        (17, 33, 65),
        (64, 64, 16),
        (65, 63, 17),
        (130, 70, 40),
        (16, 200, 128),
    ];
    for tiles in TILES {
        let opts = GemmOptions {
            tiles: Some(tiles),
            ..Default::default()
        };
        for (m, n, k) in shapes {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let s = GemmShape {
                    trans_a: ta,
                    trans_b: tb,
                    ..GemmShape::new(m, n, k)
                };
                check(
                    gpu,
                    s,
                    &opts,
                    &mut rng,
                    &format!("{tiles:?} {m}x{n}x{k} ta{ta} tb{tb}"),
                );
            }
        }
    }
}

#[test]
fn alpha_beta_and_k_zero() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("gemm_alpha_beta"));
    let opts = GemmOptions::default();
    for (alpha, beta) in [(1.0, 0.0), (-2.0, 0.0), (0.5, 1.0), (1.0, -3.0), (0.0, 2.0)] {
        let s = GemmShape {
            alpha,
            beta,
            trans_b: true,
            ..GemmShape::new(37, 29, 45)
        };
        check(
            gpu,
            s,
            &opts,
            &mut rng,
            &format!("alpha {alpha} beta {beta}"),
        );
    }
    // K = 0: the product is empty, C = beta * C.
    let c0 = vec![2.0f32; 6];
    let c = gpu
        .gemm(
            &[],
            &[],
            Some(&c0),
            GemmShape {
                beta: 0.5,
                ..GemmShape::new(2, 3, 0)
            },
            &opts,
        )
        .unwrap();
    assert_eq!(c, vec![1.0; 6]);
}

#[test]
fn split_k_matches_reference() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("gemm_split"));
    // Forced splits, including slices that end off the TK grid and a last short slice.
    for (m, n, k, split) in [
        (3, 40, 100, 2),
        (16, 70, 257, 3),
        (20, 33, 64, 4),
        (1, 5, 17, 2),
    ] {
        for (ta, tb) in [(false, false), (false, true), (true, false)] {
            for (alpha, beta) in [(1.0, 0.0), (2.0, 0.5)] {
                let s = GemmShape {
                    trans_a: ta,
                    trans_b: tb,
                    alpha,
                    beta,
                    ..GemmShape::new(m, n, k)
                };
                let opts = GemmOptions {
                    tiles: Some((16, 32, 8, 4, 4)),
                    split_k: Some(split),
                };
                check(
                    gpu,
                    s,
                    &opts,
                    &mut rng,
                    &format!("split {split} {m}x{n}x{k} ta{ta} tb{tb} a{alpha} b{beta}"),
                );
            }
        }
    }
    // Few queries against many columns: split automatically, with the small-M tiles.
    let s = GemmShape {
        trans_b: true,
        ..GemmShape::new(5, 300, 700)
    };
    let a = gpu.upload(&rng.vec(5 * 700)).unwrap();
    let b = gpu.upload(&rng.vec(300 * 700)).unwrap();
    let c = gpu.alloc::<f32>(5 * 300).unwrap();
    let plan =
        wgfaiss_core::ops::gemm::Gemm::new(gpu, &a, &b, &c, s, &GemmOptions::default()).unwrap();
    let (tiles, splits) = plan.config();
    assert_eq!(tiles, wgfaiss_core::ops::gemm::SMALL_M_TILES);
    assert!(splits > 1, "{splits}");
    check(gpu, s, &GemmOptions::default(), &mut rng, "auto split");
    let e = gpu
        .gemm(
            &[1.0; 4],
            &[1.0; 4],
            None,
            GemmShape::new(2, 2, 2),
            &GemmOptions {
                split_k: Some(3),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("split_k 3"), "{e}");
    // One workgroup walking a K of 75 000 steps: llvmpipe's loop limiter (65 535) applies to
    // loops that diverge within a SIMD group, not to this uniform one; this stays exact.
    let s = GemmShape::new(2, 3, 600_001);
    let one = GemmOptions {
        tiles: Some((16, 32, 8, 4, 4)),
        split_k: Some(1),
    };
    check(gpu, s, &one, &mut rng, "long K");
}

#[test]
fn bad_shapes_and_tiles_are_errors() {
    let gpu = gpu();
    let opts = GemmOptions::default();
    let e = gpu
        .gemm(&[1.0; 5], &[1.0; 6], None, GemmShape::new(2, 3, 3), &opts)
        .unwrap_err();
    assert!(e.to_string().contains("expected 6, 9, 6"), "{e}");
    let e = gpu
        .gemm(&[], &[], None, GemmShape::new(0, 3, 0), &opts)
        .unwrap_err();
    assert!(e.to_string().contains("empty result"), "{e}");
    let e = gpu
        .gemm(
            &[1.0; 4],
            &[1.0; 4],
            None,
            GemmShape {
                beta: 1.0,
                ..GemmShape::new(2, 2, 2)
            },
            &opts,
        )
        .unwrap_err();
    assert!(e.to_string().contains("needs C"), "{e}");
    let bad = GemmOptions {
        tiles: Some((64, 64, 16, 2, 4)),
        ..Default::default()
    };
    let e = gpu
        .gemm(&[1.0; 4], &[1.0; 4], None, GemmShape::new(2, 2, 2), &bad)
        .unwrap_err();
    assert!(e.to_string().contains("4 or 8"), "{e}");
    let e = gpu
        .gemm(
            &[1.0; 4],
            &[1.0; 4],
            None,
            GemmShape {
                alpha: f32::NAN,
                ..GemmShape::new(2, 2, 2)
            },
            &opts,
        )
        .unwrap_err();
    assert!(e.to_string().contains("finite"), "{e}");
}

#[test]
fn f16_tensor_core_path() {
    // Runs the numerics where the adapter has f16 cooperative matrices (NVIDIA through
    // Vulkan), and checks the clear error elsewhere (lavapipe has none). Shapes of 128 and more
    // take the tiled kernel (the adapter's tiles — on the H100 128 x 256 x 48 staged in
    // elements of 2 halves for A·B and 4 for A·Bᵀ, and 128 x 128 for the product too narrow
    // for them; then other shapes: deeper 256 x 128 tiles with one
    // stage, small 64 x 64 ones, no staging, halves, vector-staged halves in slices of 48,
    // fragments), the rest the direct one. Each tile set runs twice: computing C's fragments
    // and storing them row-major, and swapped (Cᵀ's fragments stored column-major).
    let staged = [
        vec![],
        vec![
            ("WGFAISS_GEMM_COOP_TILE_M", "256"),
            ("WGFAISS_GEMM_COOP_TILE_N", "128"),
            ("WGFAISS_GEMM_COOP_TILE_K", "64"),
            ("WGFAISS_GEMM_COOP_FRAG_N", "4"),
            ("WGFAISS_GEMM_COOP_PAD", "16"),
            ("WGFAISS_GEMM_COOP_STAGES", "1"),
        ],
        vec![
            ("WGFAISS_GEMM_COOP_TILE_M", "64"),
            ("WGFAISS_GEMM_COOP_TILE_N", "64"),
            ("WGFAISS_GEMM_COOP_TILE_K", "16"),
            ("WGFAISS_GEMM_COOP_FRAG_M", "2"),
            ("WGFAISS_GEMM_COOP_FRAG_N", "2"),
        ],
        vec![
            ("WGFAISS_GEMM_COOP_STAGE_TYPE", "none"),
            ("WGFAISS_GEMM_COOP_FRAG_N", "4"),
        ],
        vec![("WGFAISS_GEMM_COOP_STAGE_TYPE", "halves")],
        // Staged by vec4<f16> stores in slices of 48 (K = 192 runs them; K = 100 pads to
        // 128 with the slices of 32 they fall back to, not to 144), fragments into vec2s.
        vec![
            ("WGFAISS_GEMM_COOP_STAGE_TYPE", "halves"),
            ("WGFAISS_GEMM_COOP_STAGE_WIDTH", "4"),
            ("WGFAISS_GEMM_COOP_TILE_M", "128"),
            ("WGFAISS_GEMM_COOP_TILE_N", "256"),
            ("WGFAISS_GEMM_COOP_FRAG_N", "4"),
            ("WGFAISS_GEMM_COOP_TILE_K", "48"),
            ("WGFAISS_GEMM_COOP_STAGES", "1"),
        ],
        vec![
            ("WGFAISS_GEMM_COOP_STAGE_TYPE", "fragments"),
            ("WGFAISS_GEMM_COOP_STAGE_WIDTH", "2"),
        ],
        vec![
            ("WGFAISS_GEMM_COOP_STAGE_TYPE", "fragments"),
            ("WGFAISS_GEMM_COOP_TILE_N", "128"),
            ("WGFAISS_GEMM_COOP_FRAG_N", "2"),
            ("WGFAISS_GEMM_COOP_STAGES", "2"),
        ],
    ];
    let mut rng = Rng::new(seed("gemm_f16"));
    let runs = staged
        .iter()
        .flat_map(|o| ["no", "yes"].map(|swap| (o, swap)))
        .enumerate();
    for (v, (overrides, swap)) in runs {
        let opts = overrides
            .iter()
            .fold(common::options(), |o, (var, val)| o.with_override(var, val))
            .with_override("WGFAISS_GEMM_COOP_SWAP", swap);
        let gpu =
            Gpu::with_options(opts).unwrap_or_else(|e| panic!("tests need a GPU adapter: {e}"));
        let has = gpu.capabilities().cooperative_matrix;
        let direct = [
            (70, 45, 100, true),
            (32, 32, 16, false),
            (1, 100, 33, true),
            (64, 96, 256, false),
        ];
        let tiled = [
            (200, 300, 100, false),
            (300, 130, 70, true),
            (256, 256, 192, false),
        ];
        let shapes = if v < 2 {
            [&direct[..], &tiled[..]].concat()
        } else {
            tiled.to_vec()
        };
        for (m, n, k, tb) in shapes {
            let a = rng.vec(m * k);
            let b = rng.vec(k * n);
            let s = GemmShape {
                trans_b: tb,
                ..GemmShape::new(m, n, k)
            };
            match gpu.gemm_f16(&a, &b, s) {
                Err(e) if !has => {
                    assert!(e.to_string().contains("cooperative matrices"), "{e}");
                }
                Ok(c) if has => check_f16(&a, &b, &c, (m, n, k, tb), v),
                other => panic!("cooperative matrices {has}, but gemm_f16 gave {other:?}"),
            }
        }
    }
}

/// `c` against an f64 reference on the f16-rounded inputs: what remains is f32 accumulation.
fn check_f16(
    a: &[f32],
    b: &[f32],
    c: &[f32],
    (m, n, k, tb): (usize, usize, usize, bool),
    v: usize,
) {
    let r = |x: f32| f64::from(half::f16::from_f32(x).to_f32());
    for i in 0..m {
        for j in 0..n {
            let (mut dot, mut mag) = (0.0f64, 0.0f64);
            for kk in 0..k {
                let y = if tb { b[j * k + kk] } else { b[kk * n + j] };
                let t = r(a[i * k + kk]) * r(y);
                dot += t;
                mag += t.abs();
            }
            let tol = 2.0 * (k as f64 + 2.0) * f64::from(f32::EPSILON) * mag + 1e-30;
            let got = f64::from(c[i * n + j]);
            assert!(
                (got - dot).abs() <= tol,
                "tile set {}, swapped {}, {m}x{n}x{k} tb{tb}: C[{i}][{j}] = {got}, want {dot}",
                v / 2,
                v % 2 == 1
            );
        }
    }
}

#[test]
fn add_rows_adds_the_row_to_every_row() {
    use wgfaiss_core::ops::gemm::AddRow;
    let gpu = gpu();
    let mut rng = Rng::new(seed("add_rows"));
    // Several workgroups (257 x 5 > 256) and a length off the workgroup grid.
    for (m, n) in [(1, 1), (257, 5), (3, 1000)] {
        let x = rng.vec(m * n + 7);
        let v = rng.vec(n);
        let xb = gpu.upload(&x).unwrap();
        let vb = gpu.upload(&v).unwrap();
        let plan = AddRow::new(gpu, &xb, &vb, m, n).unwrap();
        let mut batch = gpu.batch(false);
        plan.record(&mut batch);
        batch.finish().unwrap();
        let got = gpu.read(&xb).unwrap();
        for i in 0..m * n {
            assert_eq!(got[i], x[i] + v[i % n], "{m}x{n} at {i}");
        }
        // Values past m x n are untouched.
        assert_eq!(&got[m * n..], &x[m * n..]);
        assert!(AddRow::new(gpu, &xb, &vb, m + 8, n).is_err());
    }
}

#[test]
fn coop_tiles_the_adapter_cannot_hold_are_named() {
    use wgfaiss_core::ops::gemm::{CoopStage, CoopTiles};
    // An adapter with the H100's limits (1 024 invocations, 48 KiB of workgroup memory).
    let mut caps = gpu().capabilities().clone();
    caps.max_invocations_per_workgroup = 1024;
    caps.workgroup_memory_bytes = 48 << 10;
    let h100 = CoopTiles {
        tile_m: 128,
        tile_n: 256,
        tile_k: 32,
        frag_m: 4,
        frag_n: 4,
        pad: 8,
        stages: 1,
        stage: CoopStage::Fragments,
        width: 1,
        swap: false,
    };
    for stage in [CoopStage::Direct, CoopStage::Halves, CoopStage::Fragments] {
        assert_eq!(
            CoopTiles { stage, ..h100 }.problem(&caps),
            None,
            "{stage:?}"
        );
    }
    let cases = [
        // Two stages of 128 x 256 slices of 32 need 61 KiB.
        (
            CoopTiles {
                stages: 2,
                stage: CoopStage::Halves,
                ..h100
            },
            "workgroup memory",
        ),
        (
            CoopTiles {
                tile_m: 100,
                ..h100
            },
            "multiple of 16 * frag_m",
        ),
        (
            CoopTiles {
                tile_n: 1024,
                frag_n: 1,
                ..h100
            },
            "invocations",
        ),
        (CoopTiles { stages: 3, ..h100 }, "stages 1 or 2"),
        (CoopTiles { tile_k: 24, ..h100 }, "multiple of 16"),
        (
            CoopTiles {
                pad: 4,
                stage: CoopStage::Halves,
                ..h100
            },
            "pad of 8",
        ),
        // 16 subgroups of 16 x 16 blocks share 8 fragments of A per slice unevenly.
        (
            CoopTiles {
                tile_m: 64,
                tile_n: 64,
                frag_m: 1,
                frag_n: 1,
                ..h100
            },
            "split evenly",
        ),
    ];
    for (t, want) in cases {
        let p = t.problem(&caps).unwrap_or_else(|| panic!("{t:?} passed"));
        assert!(p.contains(want), "{t:?}: {p}");
    }
    // The same tiles on a smaller adapter: its own limits are named.
    caps.workgroup_memory_bytes = 16 << 10;
    let p = h100.problem(&caps).expect("48 KiB tiles on 16 KiB");
    assert!(p.contains("the adapter has 16384"), "{p}");
}

#[test]
fn l2_epilogue_writes_squared_distances() {
    use wgfaiss_core::ops::gemm::Gemm;
    let gpu = gpu();
    let mut rng = Rng::new(seed("gemm l2 epilogue"));
    // Queries x base vectors (A·Bᵀ, α = −2) off every tile edge, in one product and split
    // over K (the norms added by the summing pass); d = 3 has no vec4 rows. A query equal to
    // a base vector has distance 0 up to rounding, never below (the clamp).
    for (m, n, d, split) in [(37, 133, 20, 1), (5, 70, 3, 1), (67, 129, 48, 3)] {
        let q = rng.vec(m * d);
        let mut x = rng.vec(n * d);
        x[..d].copy_from_slice(&q[..d]);
        let norms = |v: &[f32]| -> Vec<f32> {
            v.chunks_exact(d)
                .map(|r| r.iter().map(|a| a * a).sum())
                .collect()
        };
        let (qn, xn) = (norms(&q), norms(&x));
        let (qb, xb) = (gpu.upload(&q).unwrap(), gpu.upload(&x).unwrap());
        let (qnb, xnb) = (gpu.upload(&qn).unwrap(), gpu.upload(&xn).unwrap());
        let c = gpu.upload(&vec![f32::NAN; m * n]).unwrap();
        let mut shape = GemmShape::new(m, n, d);
        shape.trans_b = true;
        shape.alpha = -2.0;
        let opts = GemmOptions {
            split_k: Some(split),
            ..Default::default()
        };
        let plan = Gemm::new_l2(gpu, (&qb, &xb, &c), shape, &opts, (&xnb, &qnb)).unwrap();
        assert_eq!(plan.config().1, split, "{m}x{n}x{d}: K slices");
        let mut batch = gpu.batch(false);
        plan.record(&mut batch);
        batch.finish().unwrap();
        let got = gpu.read(&c).unwrap();
        for i in 0..m {
            for j in 0..n {
                let (qi, xj) = (&q[i * d..(i + 1) * d], &x[j * d..(j + 1) * d]);
                let want: f64 = qi
                    .iter()
                    .zip(xj)
                    .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                    .sum();
                let mag = f64::from(qn[i]) + f64::from(xn[j]);
                let g = f64::from(got[i * n + j]);
                assert!(
                    g >= 0.0 && (g - want).abs() <= 4.0 * (d as f64 + 3.0) * 1.2e-7 * mag,
                    "{m}x{n}x{d} split {split} at ({i}, {j}): {g} against {want}"
                );
            }
        }
        // β ≠ 0 and short norms are errors.
        let mut beta = shape;
        beta.beta = 1.0;
        assert!(Gemm::new_l2(gpu, (&qb, &xb, &c), beta, &opts, (&xnb, &qnb)).is_err());
        // (Every case has fewer queries than base vectors: the query norms are too short.)
        assert!(Gemm::new_l2(gpu, (&qb, &xb, &c), shape, &opts, (&qnb, &qnb)).is_err());
        // The rows' minima per column tile (one K slice only): exactly the smallest value
        // written in each tile, the last tile partial.
        let tiles = Gemm::column_tiles(gpu, &shape, &opts).unwrap();
        let best = gpu.upload(&vec![f32::NAN; m * tiles]).unwrap();
        let with_best = Gemm::new_l2_best(gpu, (&qb, &xb, &c), shape, &opts, (&xnb, &qnb), &best);
        if split > 1 {
            assert!(with_best.is_err(), "row minima need one K slice");
            continue;
        }
        let with_best = with_best.unwrap();
        gpu.write(&c, &vec![f32::NAN; m * n]).unwrap();
        let mut batch = gpu.batch(false);
        with_best.record(&mut batch);
        batch.finish().unwrap();
        let (again, mins) = (gpu.read(&c).unwrap(), gpu.read(&best).unwrap());
        assert_eq!(again, got, "{m}x{n}x{d}: the same distances");
        let tn = with_best.config().0.1 as usize;
        assert_eq!(tiles, n.div_ceil(tn));
        assert!(tiles > 1, "{m}x{n}: several column tiles");
        // Row i's values in column tile t.
        let tile = |c: &[f32], i: usize, t: usize| {
            c[i * n + t * tn..(i * n + (t + 1) * tn).min((i + 1) * n)].to_vec()
        };
        for i in 0..m {
            for t in 0..tiles {
                let want = tile(&got, i, t).into_iter().fold(f32::INFINITY, f32::min);
                assert_eq!(mins[i * tiles + t], want, "{m}x{n}x{d}: row {i} tile {t}");
            }
        }
        let short = gpu.alloc::<f32>(m * tiles - 1).unwrap();
        let bad = Gemm::new_l2_best(gpu, (&qb, &xb, &c), shape, &opts, (&xnb, &qnb), &short);
        assert!(bad.is_err(), "short minima");
        // Inner products (α = 1, no epilogue) with the rows' tile maxima.
        let mut ip = shape;
        ip.alpha = 1.0;
        let plan = Gemm::new_best(gpu, (&qb, &xb, &c), ip, &opts, &best).unwrap();
        gpu.write(&best, &vec![f32::NAN; m * tiles]).unwrap();
        let mut batch = gpu.batch(false);
        plan.record(&mut batch);
        batch.finish().unwrap();
        let (dots, maxima) = (gpu.read(&c).unwrap(), gpu.read(&best).unwrap());
        for i in 0..m {
            for t in 0..tiles {
                let want = tile(&dots, i, t)
                    .into_iter()
                    .fold(f32::NEG_INFINITY, f32::max);
                assert_eq!(
                    maxima[i * tiles + t],
                    want,
                    "{m}x{n}x{d}: row {i} tile {t} max"
                );
            }
            let want: f64 = q[i * d..(i + 1) * d]
                .iter()
                .zip(&x[..d])
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum();
            assert!((f64::from(dots[i * n]) - want).abs() <= 1e-4 * (1.0 + want.abs()));
        }
        let mut beta = ip;
        beta.beta = 1.0;
        assert!(Gemm::new_best(gpu, (&qb, &xb, &c), beta, &opts, &best).is_err());
    }
}

//! QR projection and update against a CPU f64 reference, both forms, awkward shapes.

mod common;

use common::{Rng, gpu, seed};
use wgfaiss_core::Gpu;
use wgfaiss_core::ops::linalg::{Qr, QrDot, dot_form};

fn forms(gpu: &Gpu) -> Vec<QrDot> {
    assert!(
        gpu.capabilities().subgroups,
        "the subgroup form would go untested"
    );
    vec![QrDot::Simple, QrDot::Subgroup]
}

#[test]
fn projection_matches_reference() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("qr_project"));
    for form in forms(gpu) {
        for (m, k) in [
            (1, 1),
            (3, 2),
            (7, 1),
            (100, 9),
            (513, 33),
            (1000, 300),
            (4099, 5),
        ] {
            let q = rng.vec(m * k);
            let v = rng.vec(m);
            let c = gpu.qr_project(&q, &v, m, k, Some(form)).unwrap();
            assert_eq!(c.len(), k);
            for j in 0..k {
                let col = &q[j * m..(j + 1) * m];
                let want: f64 = col
                    .iter()
                    .zip(&v)
                    .map(|(&a, &b)| f64::from(a) * f64::from(b))
                    .sum();
                let mag: f64 = col
                    .iter()
                    .zip(&v)
                    .map(|(&a, &b)| (f64::from(a) * f64::from(b)).abs())
                    .sum();
                let tol = 2.0 * (m as f64 + 2.0) * f64::from(f32::EPSILON) * mag + 1e-30;
                let got = f64::from(c[j]);
                assert!(
                    (got - want).abs() <= tol,
                    "{form:?} {m}x{k} c[{j}] = {got}, want {want}"
                );
            }
        }
    }
}

#[test]
fn update_matches_reference() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("qr_update"));
    for (m, k) in [(1, 1), (5, 3), (257, 300), (1000, 17), (600, 513)] {
        let q = rng.vec(m * k);
        let c = rng.vec(k);
        let v = rng.vec(m);
        let out = gpu.qr_update(&q, &c, &v, m, k).unwrap();
        for i in 0..m {
            let mut s = 0.0f64;
            let mut mag = 0.0f64;
            for j in 0..k {
                let t = f64::from(q[j * m + i]) * f64::from(c[j]);
                s += t;
                mag += t.abs();
            }
            let want = f64::from(v[i]) - s;
            let tol =
                2.0 * (k as f64 + 2.0) * f64::from(f32::EPSILON) * (mag + f64::from(v[i]).abs())
                    + 1e-30;
            assert!(
                (f64::from(out[i]) - want).abs() <= tol,
                "{m}x{k} v[{i}]: {} vs {want}",
                out[i]
            );
        }
    }
}

#[test]
fn gram_schmidt_step_orthogonalises() {
    // Project a vector against an orthonormal basis and subtract twice (re-orthogonalisation):
    // the result is orthogonal to the basis to f32 precision.
    let gpu = gpu();
    let mut rng = Rng::new(seed("qr_gs"));
    let (m, k) = (300, 4);
    // An orthonormal basis from the CPU (unit coordinate vectors rotated by a sign pattern).
    let mut q = vec![0.0f32; m * k];
    for j in 0..k {
        for i in 0..m {
            if i % k == j {
                q[j * m + i] = if i % 2 == 0 { 1.0 } else { -1.0 };
            }
        }
        let norm: f32 = q[j * m..(j + 1) * m]
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt();
        q[j * m..(j + 1) * m].iter_mut().for_each(|x| *x /= norm);
    }
    let mut v = rng.vec(m);
    for _ in 0..2 {
        let c = gpu.qr_project(&q, &v, m, k, None).unwrap();
        v = gpu.qr_update(&q, &c, &v, m, k).unwrap();
    }
    let c = gpu.qr_project(&q, &v, m, k, None).unwrap();
    for (j, x) in c.iter().enumerate() {
        assert!(x.abs() < 1e-5, "column {j}: {x}");
    }
}

#[test]
fn tuning_picks_the_form_and_bad_input_is_an_error() {
    let gpu = gpu();
    assert_eq!(dot_form(gpu, 100), QrDot::Simple);
    assert_eq!(dot_form(gpu, 100_000), QrDot::Subgroup);
    let forced =
        Gpu::with_options(common::options().with_override("WGFAISS_QR_DOT", "simple")).unwrap();
    assert_eq!(dot_form(&forced, 100_000), QrDot::Simple);
    let e = gpu
        .qr_project(&[1.0; 5], &[1.0; 3], 3, 2, None)
        .unwrap_err();
    assert!(e.to_string().contains("not 3 x 2"), "{e}");
    let e = gpu.qr_project(&[], &[], 0, 0, None).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    let e = gpu
        .qr_update(&[1.0; 6], &[1.0; 3], &[1.0; 3], 3, 2)
        .unwrap_err();
    assert!(e.to_string().contains("c holds 3"), "{e}");
}

/// max |QᵀQ − I| and max |QR − A| / max |A| in f64.
fn qr_errors(a: &[f32], f: &wgfaiss_core::ops::linalg::Qr, m: usize, k: usize) -> (f64, f64) {
    let q = |i: usize, j: usize| f64::from(f.q[j * m + i]);
    let mut orth: f64 = 0.0;
    for a_ in 0..k {
        for b in 0..k {
            let dot: f64 = (0..m).map(|i| q(i, a_) * q(i, b)).sum();
            let want = if a_ == b { 1.0 } else { 0.0 };
            orth = orth.max((dot - want).abs());
        }
    }
    let amax = a.iter().map(|v| f64::from(v.abs())).fold(0.0, f64::max);
    let mut rec: f64 = 0.0;
    for j in 0..k {
        for i in 0..m {
            let qr: f64 = (0..=j).map(|t| q(i, t) * f64::from(f.r[t * k + j])).sum();
            rec = rec.max((qr - f64::from(a[j * m + i])).abs() / amax);
        }
        for t in j + 1..k {
            assert_eq!(f.r[t * k + j], 0.0, "R below the diagonal");
        }
    }
    (orth, rec)
}

/// Both factorisations: column-by-column MGS (`qr`) and block Gram–Schmidt with CholeskyQR
/// panels (`qr_blocked`).
type Factorisation = fn(&wgfaiss_core::Gpu, &[f32], usize, usize) -> wgfaiss_core::Result<Qr>;

const FACTORISATIONS: [(&str, Factorisation); 2] = [
    ("mgs", wgfaiss_core::ops::linalg::qr),
    ("blocked", wgfaiss_core::ops::linalg::qr_blocked),
];

#[test]
fn qr_is_orthonormal_and_reconstructs() {
    for (name, qr) in FACTORISATIONS {
        orthonormal_and_reconstructs(name, qr);
    }
}

fn orthonormal_and_reconstructs(name: &str, qr: Factorisation) {
    let gpu = gpu();
    let mut rng = Rng::new(seed("qr"));
    // Several panels of the blocked form, a partial last panel, a single column, square.
    for &(m, k) in &[(300, 40), (1000, 1), (37, 37), (513, 70), (200, 96)] {
        let a = rng.vec(m * k);
        let f = qr(gpu, &a, m, k).unwrap();
        let (orth, rec) = qr_errors(&a, &f, m, k);
        assert!(
            orth < 2e-5 * (m as f64).sqrt(),
            "{name} {m}x{k}: |QtQ - I| = {orth}"
        );
        assert!(
            rec < 2e-5 * (m as f64).sqrt(),
            "{name} {m}x{k}: |QR - A| = {rec}"
        );
        for j in 0..k {
            assert!(f.r[j * k + j] > 0.0, "{name} {m}x{k}: R[{j}][{j}]");
        }
    }
    // Nearly dependent columns: the second pass keeps Q orthonormal.
    let (m, k) = (400, 12);
    let base = rng.vec(m);
    let mut a = Vec::new();
    for _ in 0..k {
        a.extend(base.iter().map(|&x| x + 1e-3 * rng.f32()));
    }
    let f = qr(gpu, &a, m, k).unwrap();
    let (orth, _) = qr_errors(&a, &f, m, k);
    assert!(orth < 1e-4, "{name} ill-conditioned: |QtQ - I| = {orth}");
}

#[test]
fn qr_bad_input_and_rank_deficiency_are_errors() {
    for (name, qr) in FACTORISATIONS {
        bad_input(name, qr);
    }
}

fn bad_input(name: &str, qr: Factorisation) {
    let gpu = gpu();
    let mut rng = Rng::new(seed("qr bad"));
    let (m, k) = (50, 4);
    let mut a = rng.vec(m * k);
    a.copy_within(0..m, 2 * m); // column 2 = column 0
    let e = qr(gpu, &a, m, k).unwrap_err();
    assert!(e.to_string().contains("column 2"), "{name}: {e}");
    assert!(qr(gpu, &a, 3, 4).is_err(), "wide");
    assert!(qr(gpu, &a[..10], m, k).is_err());
    // Non-finite entries in the vectorised part and in the tail (m·k = 198, 198 % 8 = 6).
    let (m, k) = (66, 3);
    for (at, bad) in [
        (7, f32::NAN),
        (101, f32::INFINITY),
        (197, f32::NEG_INFINITY),
    ] {
        let mut x = rng.vec(m * k);
        x[at] = bad;
        let e = qr(gpu, &x, m, k).unwrap_err();
        let want = format!("entry {} of column {} is {bad}", at % m, at / m);
        assert!(e.to_string().contains(&want), "{name}: {e}");
    }
}

/// `cols` orthonormal columns of length `rows` (column-major, f64 Gram–Schmidt twice).
fn orthonormal(rng: &mut Rng, rows: usize, cols: usize) -> Vec<f64> {
    let mut q: Vec<f64> = Vec::with_capacity(rows * cols);
    for j in 0..cols {
        let mut v: Vec<f64> = rng.vec(rows).into_iter().map(f64::from).collect();
        for _ in 0..2 {
            for i in 0..j {
                let dot: f64 = (0..rows).map(|t| q[i * rows + t] * v[t]).sum();
                for t in 0..rows {
                    v[t] -= dot * q[i * rows + t];
                }
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        q.extend(v.iter().map(|x| x / norm));
    }
    q
}

#[test]
fn randomized_svd_recovers_a_known_spectrum() {
    use wgfaiss_core::ops::svd::{SvdOptions, svd_topk};
    let gpu = gpu();
    let mut rng = Rng::new(seed("svd"));
    let (m, n) = (300, 90);
    // A = U diag(s) Vᵀ with a decaying spectrum (row-major m × n).
    let s: Vec<f64> = (0..n).map(|i| 100.0 * 0.8f64.powi(i as i32)).collect();
    let u = orthonormal(&mut rng, m, n);
    let v = orthonormal(&mut rng, n, n);
    let mut a = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            a[i * n + j] = (0..n)
                .map(|t| u[t * m + i] * s[t] * v[t * n + j])
                .sum::<f64>() as f32;
        }
    }
    let k = 6;
    // Bands of 4 columns: the Z-step runs as 4 bands (16 start vectors).
    let opts = SvdOptions {
        iters: 6,
        oversample: 10,
        band: Some(4),
        ..Default::default()
    };
    let f = svd_topk(gpu, &a, m, n, k, &opts).unwrap();
    assert_eq!((f.s.len(), f.bands), (k, 4));
    // A well-conditioned subspace: every QR ran on the device.
    assert_eq!(f.host_fallbacks, 0);
    // The same on a device-resident matrix; without left vectors only Uᵀ is missing.
    let dev = gpu.upload(&a).unwrap();
    let right = SvdOptions {
        left: false,
        ..opts
    };
    let g = wgfaiss_core::ops::svd::svd_topk_device(gpu, &dev, m, n, k, &right).unwrap();
    assert!(g.ut.is_empty());
    assert_eq!((g.s, g.vt), (f.s.clone(), f.vt.clone()));
    assert!(wgfaiss_core::ops::svd::svd_topk_device(gpu, &dev, m + 1, n, k, &opts).is_err());
    for i in 0..k {
        let rel = (f64::from(f.s[i]) - s[i]).abs() / s[i];
        assert!(rel < 1e-3, "sigma {i}: {} vs {}", f.s[i], s[i]);
        // A vᵢ = σᵢ uᵢ, and both unit length.
        let nv: f64 = (0..n).map(|t| f64::from(f.vt[i * n + t]).powi(2)).sum();
        let nu: f64 = (0..m).map(|t| f64::from(f.ut[i * m + t]).powi(2)).sum();
        assert!(
            (nv - 1.0).abs() < 1e-3 && (nu - 1.0).abs() < 1e-3,
            "norms {nv} {nu}"
        );
        let mut err = 0.0f64;
        for r in 0..m {
            let av: f64 = (0..n)
                .map(|t| f64::from(a[r * n + t]) * f64::from(f.vt[i * n + t]))
                .sum();
            err = err.max((av - f64::from(f.s[i]) * f64::from(f.ut[i * m + r])).abs());
        }
        assert!(err < 1e-3 * s[0], "A v{i} - s{i} u{i}: {err}");
    }
    // Rank below the subspace (rank 3, 16 start vectors): still the right values.
    let mut low = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            low[i * n + j] = (0..3)
                .map(|t| u[t * m + i] * s[t] * v[t * n + j])
                .sum::<f64>() as f32;
        }
    }
    let f = svd_topk(gpu, &low, m, n, 3, &opts).unwrap();
    // Dependent columns at f32 precision: the host steps ran.
    assert!(f.host_fallbacks > 0);
    for (got, want) in f.s.iter().zip(&s) {
        assert!(
            (f64::from(*got) - want).abs() / want < 1e-3,
            "rank 3: {:?}",
            f.s
        );
    }
    // Bad input.
    assert!(svd_topk(gpu, &a, m, n, 0, &opts).is_err());
    assert!(svd_topk(gpu, &a, m, n, n + 1, &opts).is_err());
    assert!(svd_topk(gpu, &a[..10], m, n, 2, &opts).is_err());
    let mut nan = a.clone();
    nan[5] = f32::NAN;
    let e = svd_topk(gpu, &nan, m, n, 2, &opts).unwrap_err();
    assert!(e.to_string().contains("NaN"), "{e}");
}

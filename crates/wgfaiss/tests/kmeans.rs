//! k-means against a CPU f64 Lloyd run from the same initial centroids, recovery of
//! well-separated clusters, empty-cluster repair, sampling, the spherical mode, bad input.

#[path = "../../wgfaiss-core/tests/common/mod.rs"]
mod common;

use common::{Rng, gpu, seed};
use wgfaiss::{KmeansInit, KmeansParams, kmeans};

/// CPU Lloyd iterations in f64; returns the objective before each update.
fn cpu_lloyd(points: &[f32], d: usize, init: &[f32], niter: usize) -> Vec<f64> {
    let k = init.len() / d;
    let mut c: Vec<f64> = init.iter().map(|&v| f64::from(v)).collect();
    let mut obj = Vec::new();
    for _ in 0..niter {
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0usize; k];
        let mut total = 0.0;
        for p in points.chunks_exact(d) {
            let (best, dist) = (0..k)
                .map(|j| {
                    let dd: f64 = p
                        .iter()
                        .zip(&c[j * d..(j + 1) * d])
                        .map(|(&x, &y)| (f64::from(x) - y).powi(2))
                        .sum();
                    (j, dd)
                })
                .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
                .unwrap();
            total += dist;
            counts[best] += 1;
            for (s, &x) in sums[best * d..(best + 1) * d].iter_mut().zip(p) {
                *s += f64::from(x);
            }
        }
        obj.push(total);
        for j in 0..k {
            if counts[j] > 0 {
                for t in 0..d {
                    c[j * d + t] = sums[j * d + t] / counts[j] as f64;
                }
            }
        }
    }
    obj
}

/// `n` points around `centers` (each chosen uniformly) with uniform noise of `noise`.
fn clustered(
    rng: &mut Rng,
    centers: &[f32],
    d: usize,
    n: usize,
    noise: f32,
) -> (Vec<f32>, Vec<usize>) {
    let k = centers.len() / d;
    let mut pts = Vec::with_capacity(n * d);
    let mut label = Vec::with_capacity(n);
    for _ in 0..n {
        let c = rng.below(k);
        label.push(c);
        pts.extend(
            centers[c * d..(c + 1) * d]
                .iter()
                .map(|&x| x + noise * rng.f32()),
        );
    }
    (pts, label)
}

#[test]
fn objective_matches_a_cpu_run_from_the_same_centroids() {
    // The device update (default) and the host update (taken where a loop budget could be
    // exceeded: forced here with a tiny budget).
    let host = wgfaiss::Gpu::with_options(
        common::options().with_override("WGFAISS_KNN_LOOP_BUDGET", 1000),
    )
    .unwrap();
    for gpu in [gpu(), &host] {
        objective_matches_cpu(gpu);
    }
}

fn objective_matches_cpu(gpu: &wgfaiss::Gpu) {
    let mut rng = Rng::new(seed("kmeans cpu"));
    let (d, k, n) = (12, 9, 1500);
    let pts = rng.vec(n * d);
    let init: Vec<f32> = pts[..k * d].to_vec();
    let params = KmeansParams {
        niter: 6,
        init: KmeansInit::Given(init.clone()),
        ..Default::default()
    };
    let r = kmeans(gpu, &pts, d, k, &params).unwrap();
    let want = cpu_lloyd(&pts, d, &init, 6);
    assert_eq!(r.objective.len(), 6);
    for (i, (g, w)) in r.objective.iter().zip(&want).enumerate() {
        assert!((g - w).abs() <= 1e-4 * w, "iteration {i}: GPU {g}, CPU {w}");
    }
    for w in r.objective.windows(2) {
        assert!(
            w[1] <= w[0] * (1.0 + 1e-6),
            "objective rose: {:?}",
            r.objective
        );
    }
    assert_eq!((r.points, r.repaired), (n, 0));
}

#[test]
fn separated_clusters_are_recovered_exactly() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("kmeans clusters"));
    let (d, k) = (16, 10);
    let centers: Vec<f32> = (0..k * d).map(|_| 20.0 * rng.f32()).collect();
    let (pts, label) = clustered(&mut rng, &centers, d, 3000, 0.5);
    // k-means++ seeding finds every cluster (random seeding may split one and merge two: a
    // local minimum Lloyd cannot leave, so only ++ is held to exact recovery).
    let params = KmeansParams {
        niter: 15,
        init: KmeansInit::PlusPlus,
        seed: 7,
        ..Default::default()
    };
    let r = kmeans(gpu, &pts, d, k, &params).unwrap();
    let nearest = |p: &[f32]| {
        let dist = |c: usize| -> f32 {
            p.iter()
                .zip(&r.centroids[c * d..(c + 1) * d])
                .map(|(x, y)| (x - y).powi(2))
                .sum()
        };
        (0..k).min_by(|&a, &b| dist(a).total_cmp(&dist(b))).unwrap()
    };
    // Every true cluster maps to exactly one centroid and no two share one.
    let mut map = vec![None; k];
    for (p, &l) in pts.chunks_exact(d).zip(&label) {
        let c = nearest(p);
        match map[l] {
            None => map[l] = Some(c),
            Some(m) => assert_eq!(m, c, "true cluster {l} split"),
        }
    }
    let mut used: Vec<usize> = map.iter().map(|m| m.unwrap()).collect();
    used.sort();
    used.dedup();
    assert_eq!(used.len(), k, "clusters merged");
    // And each centroid sits on its cluster's centre (noise is uniform in ±0.5).
    for (l, m) in map.iter().enumerate() {
        let c = m.unwrap();
        for j in 0..d {
            let off = (r.centroids[c * d + j] - centers[l * d + j]).abs();
            assert!(off < 0.1, "cluster {l} dim {j}: centroid off by {off}");
        }
    }
}

#[test]
fn empty_clusters_are_repaired_and_the_objective_does_not_rise() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("kmeans empty"));
    let (d, k) = (6, 5);
    let pts = rng.vec(800 * d);
    // Two identical initial centroids and one far away from every point: two start empty.
    let mut init: Vec<f32> = pts[..k * d].to_vec();
    init[d..2 * d].copy_from_slice(&pts[..d]);
    init[2 * d..3 * d].fill(1000.0);
    let params = KmeansParams {
        niter: 8,
        init: KmeansInit::Given(init),
        ..Default::default()
    };
    let r = kmeans(gpu, &pts, d, k, &params).unwrap();
    assert!(r.repaired >= 2, "repaired {}", r.repaired);
    for w in r.objective.windows(2) {
        assert!(
            w[1] <= w[0] * (1.0 + 1e-6),
            "objective rose: {:?}",
            r.objective
        );
    }
}

#[test]
fn sampling_spherical_and_bad_input() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("kmeans misc"));
    let d = 8;
    let pts = rng.vec(2000 * d);
    let params = KmeansParams {
        niter: 3,
        max_points_per_centroid: 40,
        ..Default::default()
    };
    let r = kmeans(gpu, &pts, d, 10, &params).unwrap();
    assert_eq!(r.points, 400);
    let sph = KmeansParams {
        niter: 5,
        spherical: true,
        ..Default::default()
    };
    let r = kmeans(gpu, &pts, d, 6, &sph).unwrap();
    for c in r.centroids.chunks_exact(d) {
        let n: f32 = c.iter().map(|v| v * v).sum();
        assert!((n - 1.0).abs() < 1e-4, "centroid norm² {n}");
    }
    // Inner products grow (or stay).
    for w in r.objective.windows(2) {
        assert!(w[1] >= w[0] * (1.0 - 1e-6), "{:?}", r.objective);
    }
    let p = KmeansParams::default();
    assert!(kmeans(gpu, &pts, d, 0, &p).is_err());
    assert!(kmeans(gpu, &pts[..5 * d], d, 6, &p).is_err());
    assert!(kmeans(gpu, &pts[..5], d, 1, &p).is_err());
    assert!(kmeans(gpu, &[f32::NAN; 8], d, 1, &p).is_err());
    let bad_init = KmeansParams {
        init: KmeansInit::Given(vec![0.0; 3]),
        ..Default::default()
    };
    assert!(kmeans(gpu, &pts, d, 2, &bad_init).is_err());
    // The sample is capped at what fits one storage binding (4 KiB here: 128 points of 8).
    let small = wgfaiss::Gpu::with_options(
        common::options().with_override("WGFAISS_BUFFERS_MAX_BINDING_BYTES", 4096),
    )
    .unwrap();
    let r = kmeans(&small, &pts, d, 10, &KmeansParams::default()).unwrap();
    assert_eq!(r.points, 128);
    let e = kmeans(&small, &pts, d, 129, &KmeansParams::default()).unwrap_err();
    assert!(e.to_string().contains("one storage binding"), "{e}");
}

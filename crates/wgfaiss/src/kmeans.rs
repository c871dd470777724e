//! k-means on the GPU: Lloyd iterations whose assignment step is the fused k-NN kernel with
//! k = 1 (points are the queries, centroids the base), so no point × centroid distance matrix
//! is written. Parameters follow FAISS: `niter`, `seed`, random or k-means++ initialisation,
//! at most `max_points_per_centroid` training points per centroid (a seeded sample),
//! empty-cluster repair by splitting the largest cluster, and a spherical mode (centroids
//! normalized, assignment by inner product) for cosine and inner-product indexes.
//!
//! The centroid update runs on the device too (`wgsl/kmeans.wgsl`: points grouped by centroid,
//! then per-centroid means with compensated f32 sums); only counts, means and the assignment
//! distances (for the objective) come back each iteration, for the empty-cluster repair and
//! the spherical normalisation on the host. Where the adapter stops long loops (llvmpipe) and
//! a cluster could outgrow the budget, the update runs on the host in f64 instead. The device
//! update groups points in arrival order, so its sums can differ in the last bit run to run.

use std::sync::Arc;

use wgfaiss_core::kernels::{KMEANS, Kernel};
use wgfaiss_core::ops::knn::{DbChunk, KnnMetric, KnnPlan, squared_norms};
use wgfaiss_core::rng::Rng;
use wgfaiss_core::{Batch, Error, Gpu, GpuBuffer, Result};

use crate::index::check_vectors;

/// How the first centroids are chosen.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum KmeansInit {
    /// k distinct points of the (sampled) training set, chosen at random (FAISS's default).
    #[default]
    Random,
    /// Greedy k-means++ (D² sampling, best of 2 + ln k candidates per centre) over the
    /// training set, on the host: O(n·k·d·(2 + ln k)).
    PlusPlus,
    /// These centroids (`k × d`).
    Given(Vec<f32>),
}

/// k-means parameters (FAISS's `ClusteringParameters` where they overlap).
#[derive(Debug, Clone, PartialEq)]
pub struct KmeansParams {
    /// Lloyd iterations.
    pub niter: usize,
    /// Seed of the sample and of the initialisation.
    pub seed: u64,
    /// Initialisation.
    pub init: KmeansInit,
    /// Training points used per centroid at most (a sample of k × this many points). The
    /// sample is also capped at the points that fit one storage binding of the adapter
    /// (128 MiB on llvmpipe: 42 799 points of 784 dimensions), which must be at least k.
    pub max_points_per_centroid: usize,
    /// Normalize centroids after each update and assign by inner product.
    pub spherical: bool,
}

impl Default for KmeansParams {
    fn default() -> Self {
        KmeansParams {
            niter: 20,
            seed: 1234,
            init: KmeansInit::Random,
            max_points_per_centroid: 256,
            spherical: false,
        }
    }
}

/// The result of [`kmeans`].
#[derive(Debug, Clone, PartialEq)]
pub struct Kmeans {
    /// Centroids, `k × d`.
    pub centroids: Vec<f32>,
    /// Number of centroids.
    pub k: usize,
    /// Dimension.
    pub d: usize,
    /// Objective before each update: the sum of squared distances of the training points to
    /// their nearest centroid (spherical: the sum of inner products, which grows).
    pub objective: Vec<f64>,
    /// Empty clusters repaired, over all iterations.
    pub repaired: usize,
    /// Training points used (after sampling).
    pub points: usize,
    /// Wall seconds before the first iteration: sampling, initialisation, uploads, plans.
    pub setup_seconds: f64,
    /// Wall seconds of all iterations (device work, readbacks, host updates).
    pub iterations_seconds: f64,
    /// Device seconds of all iterations (timestamps; `None` without TIMESTAMP_QUERY).
    pub gpu_seconds: Option<f64>,
}

/// Clusters the `n × d` points of `data` into `k` centroids.
pub fn kmeans(
    gpu: &Gpu,
    data: &[f32],
    d: usize,
    k: usize,
    params: &KmeansParams,
) -> Result<Kmeans> {
    if d == 0 {
        return Err(Error::InvalidArgument("k-means: dimension 0".into()));
    }
    check_vectors(data, d, "k-means")?;
    kmeans_checked(gpu, data, d, k, params)
}

/// [`kmeans`] for points already checked (whole vectors of `d > 0`, all finite): an index's
/// `train` checks its input itself (a second pass over 512 MB cost 72 ms).
pub(crate) fn kmeans_checked(
    gpu: &Gpu,
    data: &[f32],
    d: usize,
    k: usize,
    params: &KmeansParams,
) -> Result<Kmeans> {
    let n = data.len() / d;
    if k == 0 || k > n {
        return Err(Error::InvalidArgument(format!(
            "k-means: {k} centroids from {n} points (need 1..={n})"
        )));
    }
    if params.max_points_per_centroid == 0 {
        return Err(Error::InvalidArgument(
            "k-means: max_points_per_centroid must be positive".into(),
        ));
    }
    let started = std::time::Instant::now();
    let mut rng = Rng::new(params.seed);
    // Sample: a seeded partial Fisher-Yates over the point indices; the points live in one
    // storage binding on the device.
    let fit = (gpu.max_binding_bytes() / (4 * d as u64)) as usize;
    if fit < k {
        return Err(Error::InvalidArgument(format!(
            "k-means: {k} centroids of {d} dimensions need {k} training points in one storage binding; the adapter's binding holds {fit}"
        )));
    }
    let cap = k.saturating_mul(params.max_points_per_centroid).min(fit);
    let points: std::borrow::Cow<'_, [f32]> = if n > cap {
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..cap {
            let j = i + rng.below(n - i);
            idx.swap(i, j);
        }
        idx[..cap].sort_unstable();
        idx[..cap]
            .iter()
            .flat_map(|&i| data[i * d..(i + 1) * d].iter().copied())
            .collect::<Vec<f32>>()
            .into()
    } else {
        data.into()
    };
    let points: std::borrow::Cow<'_, [f32]> = if params.spherical {
        crate::index::normalized(&points, d).into()
    } else {
        points
    };
    let np = points.len() / d;
    let mut centroids = match &params.init {
        KmeansInit::Given(c) => {
            if c.len() != k * d || c.iter().any(|v| !v.is_finite()) {
                return Err(Error::InvalidArgument(format!(
                    "k-means: {} initial centroid values, expected {k} x {d} finite",
                    c.len()
                )));
            }
            c.clone()
        }
        KmeansInit::Random => {
            let mut idx: Vec<usize> = (0..np).collect();
            for i in 0..k {
                let j = i + rng.below(np - i);
                idx.swap(i, j);
            }
            idx[..k]
                .iter()
                .flat_map(|&i| points[i * d..(i + 1) * d].iter().copied())
                .collect()
        }
        KmeansInit::PlusPlus => plus_plus(&points, d, k, &mut rng),
    };
    if params.spherical {
        centroids = crate::index::normalized(&centroids, d);
    }
    let metric = if params.spherical {
        KnnMetric::InnerProduct
    } else {
        KnnMetric::L2
    };
    // Device buffers and the assignment plan, made once; centroids rewritten each iteration.
    let pts = gpu.upload(&points)?;
    let pnorms = gpu.upload(&squared_norms(&points, d))?;
    let cents = gpu.alloc::<f32>(k * d)?;
    let cnorms = gpu.alloc::<f32>(k)?;
    let chunk = DbChunk {
        data: &cents,
        norms: &cnorms,
        rows: k,
        id0: 0,
    };
    let plan = KnnPlan::new(gpu, &pts, &pnorms, np, d, &[chunk], 1, metric)?;
    // The update on the device where the adapter has no loop limit that a large cluster could
    // exceed (llvmpipe); otherwise on the host.
    let budget = gpu.tuning().int("knn.loop_budget");
    let device = if budget == 0 || (np as u64) < budget / 2 {
        Some(DeviceUpdate::new(gpu, &plan, &pts, &cents, np, k, d)?)
    } else {
        None
    };
    let mut objective = Vec::with_capacity(params.niter);
    let mut repaired = 0;
    let setup_seconds = started.elapsed().as_secs_f64();
    let looped = std::time::Instant::now();
    let mut gpu_seconds = Some(0.0);
    for _ in 0..params.niter {
        gpu.write(&cents, &centroids)?;
        gpu.write(&cnorms, &squared_norms(&centroids, d))?;
        // The results come back with the timestamps in one readback.
        let mut batch = gpu.batch(true);
        plan.record(&mut batch);
        match &device {
            Some(u) => {
                u.record(&mut batch);
                batch.read_after(&u.ranges(&plan, &cents));
            }
            None => plan.read_after(&mut batch),
        }
        let report = batch.finish()?;
        gpu_seconds = gpu_seconds.zip(report.gpu_seconds).map(|(a, b)| a + b);
        let mut counts;
        if device.is_some() {
            let (values, c, means) = DeviceUpdate::parse(&report.reads);
            objective.push(values.iter().map(|&v| f64::from(v)).sum());
            counts = c;
            for c in 0..k {
                if counts[c] > 0 {
                    centroids[c * d..(c + 1) * d].copy_from_slice(&means[c * d..(c + 1) * d]);
                }
            }
        } else {
            let assign = plan.parse(&report.reads);
            objective.push(assign.values.iter().map(|&v| f64::from(v)).sum());
            // Update: means of the assigned points, in f64.
            let mut sums = vec![0f64; k * d];
            counts = vec![0usize; k];
            for (p, id) in assign.ids.iter().enumerate() {
                let c = id.ok_or_else(|| Error::Gpu("k-means: a point got no centroid".into()))?
                    as usize;
                counts[c] += 1;
                for (s, &x) in sums[c * d..(c + 1) * d]
                    .iter_mut()
                    .zip(&points[p * d..(p + 1) * d])
                {
                    *s += f64::from(x);
                }
            }
            for c in 0..k {
                if counts[c] > 0 {
                    for j in 0..d {
                        centroids[c * d + j] = (sums[c * d + j] / counts[c] as f64) as f32;
                    }
                }
            }
        }
        repaired += split_empty(&mut centroids, &mut counts, d);
        if params.spherical {
            centroids = crate::index::normalized(&centroids, d);
        }
    }
    Ok(Kmeans {
        centroids,
        k,
        d,
        objective,
        repaired,
        points: np,
        setup_seconds,
        iterations_seconds: looped.elapsed().as_secs_f64(),
        gpu_seconds,
    })
}

/// A kernel, its bind group and its grid.
type Pass = (Arc<Kernel>, wgfaiss_core::wgpu::BindGroup, (u32, u32, u32));

/// The centroid update on the device (`wgsl/kmeans.wgsl`): points grouped by their assigned
/// centroid (count, scan, scatter), then one workgroup per centroid averaging its points.
struct DeviceUpdate {
    passes: Vec<Pass>,
    counts: GpuBuffer<u32>,
    _scratch: Vec<GpuBuffer<u32>>,
}

impl DeviceUpdate {
    fn new(
        gpu: &Gpu,
        plan: &KnnPlan,
        points: &GpuBuffer<f32>,
        centroids: &GpuBuffer<f32>,
        n: usize,
        k: usize,
        d: usize,
    ) -> Result<DeviceUpdate> {
        let counts = gpu.alloc::<u32>(k)?;
        let cursor = gpu.alloc::<u32>(k)?;
        let offsets = gpu.alloc::<u32>(k)?;
        let order = gpu.alloc::<u32>(n)?;
        let kernel = |e| gpu.kernel(&KMEANS, e, &[("WG", 256)]);
        let grid = |groups: usize| {
            let (x, y) = gpu.grid((groups as u32).max(1));
            (x, y, 1)
        };
        let assign = plan.outputs().1;
        let mut passes = Vec::new();
        for (entry, groups, used) in [
            ("km_clear", k.div_ceil(256), &[2, 3][..]),
            ("km_count", n.div_ceil(256), &[1, 2][..]),
            ("km_offsets", 1, &[2, 4][..]),
            ("km_scatter", n.div_ceil(256), &[1, 3, 4, 5][..]),
            ("km_means", k, &[2, 4, 5, 6, 7][..]),
        ] {
            let kern = kernel(entry)?;
            let g = grid(groups);
            let params = gpu.uniform(&[n as u32, k as u32, d as u32, g.0]);
            let bg = gpu.bind_used(
                &kern,
                &[
                    (0, params.as_entire_binding()),
                    (1, assign.binding()),
                    (2, counts.binding()),
                    (3, cursor.binding()),
                    (4, offsets.binding()),
                    (5, order.binding()),
                    (6, points.binding()),
                    (7, centroids.binding()),
                ],
                &[&[0], used].concat(),
            );
            passes.push((kern, bg, g));
        }
        Ok(DeviceUpdate {
            passes,
            counts,
            _scratch: vec![cursor, offsets, order],
        })
    }

    fn record(&self, batch: &mut Batch<'_>) {
        for (kernel, bg, grid) in &self.passes {
            batch.dispatch(kernel, bg, *grid);
        }
    }

    /// Assignment distances, counts and the new means (one readback).
    /// The ranges an iteration reads back: assignment distances, counts, means.
    fn ranges<'a>(
        &'a self,
        plan: &'a KnnPlan,
        centroids: &'a GpuBuffer<f32>,
    ) -> [(&'a wgfaiss_core::wgpu::Buffer, u64, u64); 3] {
        let values = plan.outputs().0;
        [
            (values.raw(), 0, (values.len() * 4) as u64),
            (self.counts.raw(), 0, (self.counts.len() * 4) as u64),
            (centroids.raw(), 0, (centroids.len() * 4) as u64),
        ]
    }

    /// (distances, counts, means) from the bytes of [`DeviceUpdate::ranges`].
    fn parse(out: &[wgfaiss_core::ReadBytes]) -> (Vec<f32>, Vec<usize>, Vec<f32>) {
        let counts = bytemuck::pod_collect_to_vec::<u8, u32>(&out[1])
            .into_iter()
            .map(|c| c as usize)
            .collect();
        (
            bytemuck::pod_collect_to_vec(&out[0]),
            counts,
            bytemuck::pod_collect_to_vec(&out[2]),
        )
    }
}

/// Empty-cluster repair (as FAISS): each empty cluster takes a copy of the largest cluster's
/// centroid, the two are pushed symmetrically apart by a relative 1/1024, and the largest's
/// count is shared between them. Returns the number repaired.
fn split_empty(centroids: &mut [f32], counts: &mut [usize], d: usize) -> usize {
    const EPS: f32 = 1.0 / 1024.0;
    let mut repaired = 0;
    for c in 0..counts.len() {
        if counts[c] > 0 {
            continue;
        }
        let big = (0..counts.len())
            .max_by_key(|&j| (counts[j], std::cmp::Reverse(j)))
            .expect("k >= 1");
        if counts[big] < 2 {
            break;
        }
        for j in 0..d {
            let v = centroids[big * d + j];
            let (up, down) = if j % 2 == 0 {
                (1.0 + EPS, 1.0 - EPS)
            } else {
                (1.0 - EPS, 1.0 + EPS)
            };
            centroids[c * d + j] = v * up;
            centroids[big * d + j] = v * down;
        }
        counts[c] = counts[big] / 2;
        counts[big] -= counts[c];
        repaired += 1;
    }
    repaired
}

/// Greedy k-means++ seeding on the host (as scikit-learn): the first centre uniformly; for
/// each next one, `2 + ln k` candidates drawn with probability proportional to the squared
/// distance to the nearest centre so far, keeping the one that lowers the total most. Plain
/// D² sampling (one candidate) occasionally put two centres in one of ten well-separated
/// clusters (a test caught it, about one run in a few hundred); the greedy choice all but
/// rules that out. O(n·k·d·(2 + ln k)).
fn plus_plus(points: &[f32], d: usize, k: usize, rng: &mut Rng) -> Vec<f32> {
    let n = points.len() / d;
    let dist = |a: &[f32], b: &[f32]| -> f64 {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum()
    };
    let row = |i: usize| &points[i * d..(i + 1) * d];
    let trials = 2 + (k as f64).ln() as usize;
    let mut out = Vec::with_capacity(k * d);
    let first = rng.below(n);
    out.extend_from_slice(row(first));
    let mut best: Vec<f64> = (0..n).map(|i| dist(row(i), row(first))).collect();
    while out.len() < k * d {
        let total: f64 = best.iter().sum();
        let mut chosen: Option<(f64, Vec<f64>, usize)> = None;
        for _ in 0..trials {
            let pick = if total > 0.0 {
                let mut r = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
                let mut pick = n - 1;
                for (i, &b) in best.iter().enumerate() {
                    if r < b {
                        pick = i;
                        break;
                    }
                    r -= b;
                }
                pick
            } else {
                rng.below(n)
            };
            let with: Vec<f64> = best
                .iter()
                .enumerate()
                .map(|(i, &b)| b.min(dist(row(i), row(pick))))
                .collect();
            let potential: f64 = with.iter().sum();
            if chosen.as_ref().is_none_or(|c| potential < c.0) {
                chosen = Some((potential, with, pick));
            }
        }
        let (_, with, pick) = chosen.expect("at least one trial");
        best = with;
        out.extend_from_slice(row(pick));
    }
    out
}

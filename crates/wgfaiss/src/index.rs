//! The index interface shared by every index type.

use std::path::Path;

use wgfaiss_core::ops::ivf::ScanMode;
use wgfaiss_core::ops::knn::KnnMetric;
use wgfaiss_core::{Error, Result};

/// Largest k a search accepts.
pub const MAX_K: usize = wgfaiss_core::ops::topk::MAX_K;

/// How vectors are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Squared Euclidean distance, smallest first (as FAISS's `METRIC_L2`).
    L2,
    /// Inner product, largest first.
    InnerProduct,
    /// Cosine similarity, largest first: vectors are normalized on add and on search, then
    /// compared by inner product.
    Cosine,
}

impl Metric {
    /// Whether larger values are nearer (inner product, cosine).
    pub fn is_similarity(self) -> bool {
        !matches!(self, Metric::L2)
    }

    /// The value that pads results when fewer than k vectors exist.
    pub fn worst(self) -> f32 {
        if self.is_similarity() {
            f32::NEG_INFINITY
        } else {
            f32::INFINITY
        }
    }

    /// The metric the kernels compute.
    pub(crate) fn kernel(self) -> KnnMetric {
        match self {
            Metric::L2 => KnnMetric::L2,
            Metric::InnerProduct | Metric::Cosine => KnnMetric::InnerProduct,
        }
    }

    pub(crate) fn code(self) -> u32 {
        match self {
            Metric::L2 => 0,
            Metric::InnerProduct => 1,
            Metric::Cosine => 2,
        }
    }

    pub(crate) fn from_code(code: u32) -> Option<Metric> {
        match code {
            0 => Some(Metric::L2),
            1 => Some(Metric::InnerProduct),
            2 => Some(Metric::Cosine),
            _ => None,
        }
    }
}

impl std::str::FromStr for Metric {
    type Err = Error;
    fn from_str(s: &str) -> Result<Metric> {
        match s.to_ascii_lowercase().as_str() {
            "l2" => Ok(Metric::L2),
            "ip" | "inner_product" | "innerproduct" => Ok(Metric::InnerProduct),
            "cosine" | "cos" => Ok(Metric::Cosine),
            _ => Err(Error::InvalidArgument(format!(
                "unknown metric {s:?}: expected l2, ip or cosine"
            ))),
        }
    }
}

/// Arithmetic of a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// Exactly the nearest vectors (ties aside), by the faster exact path for the adapter and
    /// shape: [`Precision::F32`], or — flat index, where the tuning's `knn.exact_path` is
    /// `verified` (the shipped H100/H200 entries) and the search qualifies (`SHADER_F16`,
    /// d ≤ 256, k ≤ 128, at least `knn.verified_min_queries` queries, the index's values
    /// within f16 range and at most one in eight of its proofs failed so far) — the
    /// [`Precision::F16Verified`] search, whose results are exact as well. That path keeps an
    /// f16 copy of the storage on the device (half as large again; `WGFAISS_KNN_EXACT_PATH=f32`
    /// or [`Precision::F32`] avoids it) and falls back to f32 if the copy cannot be made.
    #[default]
    Exact,
    /// f32 throughout: exactly the nearest vectors (ties aside) through the f32 kernel on
    /// every adapter.
    F32,
    /// Flat index only: candidates from f16 products (tensor cores where the adapter has
    /// cooperative matrices), then an exact f32 re-rank of [`SearchParams::rerank`]
    /// candidates per query. Values are exact; a true neighbour can be missed when f16
    /// rounding moves more than `rerank − k` others ahead of it (recall is what
    /// `wgfaiss bench flat --precision f16` reports). Needs `SHADER_F16`.
    F16,
    /// Flat index only: exact results (ties aside) through [`Precision::F16`]'s search plus a
    /// proof per query. The candidates' last f16 value, the f16 rounding bound (from the
    /// query's norm and the largest stored norm) and the k-th exact value show that no vector
    /// outside the re-ranked candidates can be among the k nearest
    /// (`wgfaiss_core::ops::knn_half::verified`); the queries the proof fails for are searched
    /// again in f32 (`FlatIndex::verified_fallbacks` counts them). Needs `SHADER_F16`.
    F16Verified,
}

impl std::str::FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Precision> {
        match s.to_ascii_lowercase().as_str() {
            "exact" => Ok(Precision::Exact),
            "f32" => Ok(Precision::F32),
            "f16" | "half" => Ok(Precision::F16),
            "f16-verified" | "verified" => Ok(Precision::F16Verified),
            _ => Err(Error::InvalidArgument(format!(
                "unknown precision {s:?}: expected exact, f32, f16 or f16-verified"
            ))),
        }
    }
}

/// Per-search parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SearchParams {
    /// Lists probed by IVF indexes (ignored by the flat index).
    pub nprobe: usize,
    /// Measure GPU time with timestamp queries (reported in [`SearchResult::gpu_seconds`]).
    pub timed: bool,
    /// IVF list scan (ignored by the flat index): `None` takes the tuning's `ivf.scan`. The
    /// fused scan applies only where its lists hold k; beyond, the keys scan runs.
    pub scan: Option<ScanMode>,
    /// Arithmetic of the search ([`Precision::F16`] and [`Precision::F16Verified`]: flat
    /// index only; IVF indexes reject them and run [`Precision::Exact`] as f32).
    pub precision: Precision,
    /// [`Precision::F16`] and [`Precision::F16Verified`]: candidates re-ranked exactly per
    /// query, k..=256 (0: `max(2k, k + 16)`).
    pub rerank: usize,
}

impl Default for SearchParams {
    fn default() -> Self {
        SearchParams {
            nprobe: 1,
            timed: false,
            scan: None,
            precision: Precision::Exact,
            rerank: 0,
        }
    }
}

/// Results of a search: `nq × k`, nearest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchResult {
    /// Queries searched.
    pub nq: usize,
    /// Results per query.
    pub k: usize,
    /// Ids, `nq × k`; -1 where fewer than k vectors exist.
    pub ids: Vec<i64>,
    /// Squared L2 distances, or inner products / cosine similarities, `nq × k`; padding is
    /// +inf (L2) or -inf (similarities).
    pub distances: Vec<f32>,
    /// GPU time of the search, when [`SearchParams::timed`] was set and the adapter has
    /// timestamp queries.
    pub gpu_seconds: Option<f64>,
}

impl SearchResult {
    /// An empty result of `nq × k` to be filled by [`SearchResult::push`].
    pub(crate) fn with_capacity(nq: usize, k: usize) -> SearchResult {
        SearchResult {
            nq,
            k,
            ids: Vec::with_capacity(nq * k),
            distances: Vec::with_capacity(nq * k),
            gpu_seconds: None,
        }
    }

    /// A result of padding only (an empty index).
    pub(crate) fn padding(nq: usize, k: usize, metric: Metric) -> SearchResult {
        SearchResult {
            nq,
            k,
            ids: vec![-1; nq * k],
            distances: vec![metric.worst(); nq * k],
            gpu_seconds: None,
        }
    }

    /// Appends a batch's distances and user ids (taken as they are when nothing came before:
    /// large results are not copied again).
    pub(crate) fn append(&mut self, distances: Vec<f32>, ids: Vec<i64>) {
        if self.ids.is_empty() {
            self.distances = distances;
            self.ids = ids;
        } else {
            self.distances.extend(distances);
            self.ids.extend(ids);
        }
    }

    /// Appends a batch's selections, mapping kernel ids to user ids.
    pub(crate) fn push(
        &mut self,
        top: wgfaiss_core::ops::topk::TopK,
        id_of: impl Fn(u32) -> i64,
        metric: Metric,
    ) {
        // Extended in two passes (no per-entry capacity checks: ~2× faster for large k).
        let worst = metric.worst();
        self.ids
            .extend(top.ids.iter().map(|id| id.map_or(-1, &id_of)));
        self.distances.extend(
            top.values
                .iter()
                .zip(&top.ids)
                .map(|(&v, id)| if id.is_some() { v } else { worst }),
        );
    }

    /// Within each query, orders runs of equal distances by id (padding stays last).
    pub(crate) fn order_ties_by_id(&mut self) {
        if self.k == 0 {
            return;
        }
        for (ids, dist) in self
            .ids
            .chunks_mut(self.k)
            .zip(self.distances.chunks(self.k))
        {
            let mut start = 0;
            while start < ids.len() {
                let mut end = start + 1;
                while end < ids.len() && dist[end] == dist[start] && ids[end] != -1 {
                    end += 1;
                }
                if end - start > 1 && ids[start] != -1 {
                    ids[start..end].sort_unstable();
                }
                start = end;
            }
        }
    }

    /// The ids of query `q`.
    pub fn ids_of(&self, q: usize) -> &[i64] {
        &self.ids[q * self.k..(q + 1) * self.k]
    }

    /// The distances of query `q`.
    pub fn distances_of(&self, q: usize) -> &[f32] {
        &self.distances[q * self.k..(q + 1) * self.k]
    }
}

/// A vector index on the GPU. Inputs are row-major `&[f32]`, `n × dim`. Every method that
/// gets bad input returns an `Err` saying what is wrong and leaves the index unchanged.
pub trait Index: Send + Sync {
    /// Dimension of the vectors.
    fn dim(&self) -> usize;
    /// The metric.
    fn metric(&self) -> Metric;
    /// Number of vectors stored.
    fn ntotal(&self) -> usize;
    /// Whether the index can take vectors (always for the flat index).
    fn is_trained(&self) -> bool;
    /// Trains the index on `data` (a no-op check for the flat index).
    fn train(&mut self, data: &[f32]) -> Result<()>;
    /// Adds vectors with sequential ids (their positions, as FAISS's flat index).
    fn add(&mut self, data: &[f32]) -> Result<()>;
    /// Adds vectors with the caller's ids.
    fn add_with_ids(&mut self, data: &[f32], ids: &[i64]) -> Result<()>;
    /// The `k` nearest stored vectors of each query.
    fn search(&self, queries: &[f32], k: usize, params: &SearchParams) -> Result<SearchResult>;
    /// Removes every vector whose id is in `ids`; returns how many were removed.
    fn remove_ids(&mut self, ids: &[i64]) -> Result<usize>;
    /// The stored vector with id `id` (normalized for cosine).
    fn reconstruct(&self, id: i64) -> Result<Vec<f32>>;
    /// Removes every vector.
    fn reset(&mut self) -> Result<()>;
    /// Writes the index to `path` (atomically: a temporary file, synced, then renamed).
    fn save(&self, path: &Path) -> Result<()>;
    /// A search of `nq` queries whose commands are recorded before the queries exist (a
    /// [`crate::Coalescer`] records its next batch while the batch's callers come back).
    /// Once recorded, the index calls `gather` once: it returns the `nq × dim` queries, or
    /// None when the batch turned out otherwise (nothing is searched then). Returns the
    /// search's result when `gather` gave queries, and None otherwise — also when the index
    /// records nothing ahead for this search (the default), without calling `gather`.
    fn search_recorded_ahead(
        &self,
        nq: usize,
        k: usize,
        params: &SearchParams,
        gather: &mut dyn FnMut() -> Option<Vec<f32>>,
    ) -> Option<Result<SearchResult>> {
        let _ = (nq, k, params, gather);
        None
    }
}

/// Checks that `data` is whole finite rows of `dim`; returns the row count.
pub(crate) fn check_vectors(data: &[f32], dim: usize, what: &str) -> Result<usize> {
    if !data.len().is_multiple_of(dim) {
        return Err(Error::InvalidArgument(format!(
            "{what}: {} values are not whole vectors of dimension {dim}",
            data.len()
        )));
    }
    // A branch-free pass first (vectorized; large inputs over the host's cores: one core read
    // 512 MB in 72 ms on the H100 host), the position only for the message.
    let finite = |part: &[f32]| {
        part.chunks(4096)
            .all(|c| c.iter().fold(true, |ok, v| ok & v.is_finite()))
    };
    let all_finite = wgfaiss_core::ops::knn::split_rows(data, dim, finite)
        .into_iter()
        .all(|ok| ok);
    if let Some(i) = (!all_finite)
        .then(|| data.iter().position(|v| !v.is_finite()))
        .flatten()
    {
        return Err(Error::InvalidArgument(format!(
            "{what}: value {} of vector {} is {} (vectors must be finite)",
            i % dim,
            i / dim,
            data[i]
        )));
    }
    Ok(data.len() / dim)
}

/// Checks k.
pub(crate) fn check_k(k: usize) -> Result<()> {
    if k == 0 || k > MAX_K {
        return Err(Error::InvalidArgument(format!(
            "k = {k}: expected 1..={MAX_K}"
        )));
    }
    Ok(())
}

/// Rows scaled to unit length (zero rows stay zero), for cosine.
pub(crate) fn normalized(data: &[f32], dim: usize) -> Vec<f32> {
    let mut out = data.to_vec();
    for row in out.chunks_exact_mut(dim) {
        let n = row
            .iter()
            .map(|&v| f64::from(v).powi(2))
            .sum::<f64>()
            .sqrt();
        if n > 0.0 {
            for v in row {
                *v = (f64::from(*v) / n) as f32;
            }
        }
    }
    out
}

/// A cached search plan of an index, with the shape it was made for.
pub(crate) type Cached<S, P> = (S, std::sync::Arc<std::sync::Mutex<P>>);

/// A submitted search batch whose report is awaited later.
///
/// A search of several batches keeps up to `submit.in_flight` of them submitted: the next
/// batch's queries are written and its work recorded while the device runs the previous one
/// and its results come back. Reusing one plan for consecutive batches is safe without holding
/// its lock: a batch's query write and its work are submitted together under the lock, and the
/// queue runs submissions in order, so a later batch's write lands after the earlier batch
/// has read its queries and copied out its results.
pub(crate) type InFlight =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<wgfaiss_core::BatchReport>> + Send>>;

/// Batches a search of several batches keeps submitted (`submit.in_flight`).
pub(crate) fn search_depth(gpu: &wgfaiss_core::Gpu) -> usize {
    (gpu.tuning().int("submit.in_flight") as usize).max(1)
}

/// A cached plan of `shape` that no search holds now (only the cache refers to it), else
/// `None` when fewer than `per_shape` exist (the caller makes one more), else the first such
/// plan (the caller waits for it). Several plans of one shape let concurrent searches of
/// the same batch size (a coalescer's leaders) record and read back without waiting for
/// each other.
pub(crate) fn cached_plan<S: PartialEq, P>(
    cache: &[Cached<S, P>],
    shape: &S,
    per_shape: usize,
) -> Option<std::sync::Arc<std::sync::Mutex<P>>> {
    let same: Vec<_> = cache.iter().filter(|(s, _)| s == shape).collect();
    if let Some((_, free)) = same
        .iter()
        .find(|(_, p)| std::sync::Arc::strong_count(p) == 1)
    {
        return Some(free.clone());
    }
    if same.len() < per_shape.max(1) {
        return None;
    }
    same.first().map(|(_, p)| p.clone())
}

/// For [`Index::search_recorded_ahead`]: seals `batch` and asks `gather` for the queries.
/// None when a command buffer of the batch went out already (queries written now would land
/// after it) or the batch turned out otherwise.
pub(crate) fn seal_and_gather(
    batch: &mut wgfaiss_core::Batch<'_>,
    gather: &mut dyn FnMut() -> Option<Vec<f32>>,
) -> Option<Vec<f32>> {
    if batch.submitted_any() {
        return None;
    }
    batch.seal().ok()?;
    gather()
}

/// The count of gathered queries (`got`) against the `nq` a search was recorded for.
pub(crate) fn check_gathered(got: usize, nq: usize) -> Result<()> {
    if got == nq {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "search_recorded_ahead: {got} queries gathered for a search of {nq}"
    )))
}

/// The outcome of checking a search: the number of queries and an empty result to fill, or
/// the whole answer when no device work is needed.
pub(crate) type Started = std::result::Result<(usize, SearchResult), SearchResult>;

/// Checks a search's input (k, whole finite vectors): `Ok(Ok((nq, empty result)))` to search,
/// `Ok(Err(result))` when the answer needs no device (no queries; an empty index: padding).
pub(crate) fn start_search(
    queries: &[f32],
    dim: usize,
    k: usize,
    ntotal: usize,
    metric: Metric,
) -> Result<Started> {
    check_k(k)?;
    let nq = check_vectors(queries, dim, "search")?;
    if nq == 0 {
        return Ok(Err(SearchResult::with_capacity(0, k)));
    }
    if ntotal == 0 {
        return Ok(Err(SearchResult::padding(nq, k, metric)));
    }
    Ok(Ok((nq, SearchResult::with_capacity(nq, k))))
}

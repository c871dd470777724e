//! The exact index: every vector on the device, searched by brute force with the fused
//! distance + top-k kernel ([`wgfaiss_core::ops::knn`]).
//!
//! Storage: the vectors as chunks of at most one storage binding each (`buffers.max_binding_bytes`),
//! with their squared norms beside them (L2 uses `‖x‖² − 2⟨q, x⟩ + ‖q‖²`). The last chunk
//! grows by doubling (a device-side copy), so adding in small batches does not rewrite the
//! index each time.
//!
//! Search: queries in batches of `submit.query_batch`; each batch is one submission: the fused
//! kernel over every chunk (one dispatch each) and the segment merge, then one readback. For k
//! beyond what the fused kernel's workgroup memory holds on the adapter
//! ([`wgfaiss_core::ops::knn::max_fused_k`], 62 for 64-query tiles on a 48 KiB NVIDIA
//! workgroup, more with smaller tiles), the search runs unfused: a bounded distance tile per
//! chunk (GEMM), then top-k selection, and the chunks' lists are merged on the host.
//!
//! Precision: [`Precision::F16`] takes candidates from f16 products (an f16 copy of the
//! storage, made on first use) and re-ranks them in f32; [`Precision::F16Verified`] adds a
//! proof per query that the candidates hold the k nearest (`knn_half::verified`) and searches
//! the queries without one again in f32, so its results are exact. [`Precision::Exact`] (the
//! default) runs the f32 kernel, or the verified search where the tuning's `knn.exact_path`
//! says so and the search qualifies ([`FlatIndex::exact_path`]).
//!
//! Ids: positions by default (renumbered by `remove_ids`, as FAISS's `IndexFlat`), or the
//! caller's i64 ids with `add_with_ids` (kept by `remove_ids`). One index uses one kind.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};

use wgfaiss_core::ops::knn::{
    DbChunk, KnnPlan, TiledKnn, fused_tiles, prefer_tiled, squared_norms, tile_queries,
};
use wgfaiss_core::ops::knn_half::{self, HalfBase, KnnHalfPlan};
use wgfaiss_core::ops::topk::TopK;
use wgfaiss_core::{Error, Gpu, GpuBuffer, Result};

use crate::index::{
    InFlight, Index, Metric, Precision, SearchParams, SearchResult, Started, cached_plan,
    check_gathered, check_vectors, normalized, seal_and_gather, search_depth, start_search,
};
use crate::persist::{KIND_FLAT, Reader, Writer};

/// Smallest allocation of a chunk, in vectors.
const MIN_CHUNK_ROWS: usize = 1024;

struct Chunk {
    data: GpuBuffer<f32>,
    norms: GpuBuffer<f32>,
    rows: usize,
    cap: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Ids {
    /// Ids are positions.
    Sequential,
    /// The caller's ids, by position.
    Explicit(Vec<i64>),
}

/// Exact k-NN over vectors on the GPU. See the module documentation.
pub struct FlatIndex {
    gpu: Gpu,
    dim: usize,
    metric: Metric,
    chunks: Vec<Chunk>,
    ntotal: usize,
    ids: Ids,
    /// Search plans of recent shapes (batch size, k, re-ranked candidates or 0 for exact),
    /// valid for the current storage.
    plans: Mutex<Vec<CachedPlan>>,
    /// The f16 copy of the storage for the f16 and verified searches, made by the first one and
    /// dropped with any change.
    half: Mutex<Option<Arc<HalfBase>>>,
    /// The largest norm and the largest magnitude of a component of the stored vectors (upper
    /// bounds once vectors are removed): what a verified f16 search's proof needs.
    max_norm: f64,
    max_abs: f32,
    /// Queries of verified f16 searches whose proof failed and that were searched again in
    /// f32 (see [`FlatIndex::verified_fallbacks`]).
    fallbacks: AtomicUsize,
    /// Queries of verified f16 searches (see [`FlatIndex::verified_queries`]).
    verified: AtomicUsize,
    /// The f16 copy could not be made for the current storage: [`Precision::Exact`] runs f32.
    half_failed: AtomicBool,
    /// A survivors search lost candidates for more than one in eight of its queries: this
    /// index's f16 plans use key tiles or the fused kernel instead (see
    /// [`FlatIndex::survivors_turned_off`]).
    survivors_off: AtomicBool,
}

impl std::fmt::Debug for FlatIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlatIndex")
            .field("dim", &self.dim)
            .field("metric", &self.metric)
            .field("ntotal", &self.ntotal)
            .field("chunks", &self.chunks.len())
            .finish()
    }
}

impl FlatIndex {
    /// An empty index of dimension `dim`.
    pub fn new(gpu: &Gpu, dim: usize, metric: Metric) -> Result<FlatIndex> {
        if dim == 0 {
            return Err(Error::InvalidArgument(
                "dimension 0: vectors need at least one component".into(),
            ));
        }
        // One vector must fit a binding (and the kernels index in u32).
        gpu.granules_per_binding::<f32>(dim)?;
        Ok(FlatIndex {
            gpu: gpu.clone(),
            dim,
            metric,
            chunks: Vec::new(),
            ntotal: 0,
            ids: Ids::Sequential,
            plans: Mutex::new(Vec::new()),
            half: Mutex::new(None),
            max_norm: 0.0,
            max_abs: 0.0,
            fallbacks: Default::default(),
            verified: Default::default(),
            half_failed: Default::default(),
            survivors_off: Default::default(),
        })
    }

    /// Whether this index stopped using survivors searches (`knn.half_survivors`): one of
    /// them lost candidates — more keys within a query's sampled bound than its slots, which
    /// a base stored in an order that crowds a query's neighbours together can cause — for
    /// more than one in eight of its queries. Those queries were searched again in f32
    /// (exact, slower); later f16 searches of this index take the key tile or the fused
    /// kernel. [`Index::reset`] turns them back on.
    pub fn survivors_turned_off(&self) -> bool {
        self.survivors_off.load(Relaxed)
    }

    /// Queries of [`Precision::F16Verified`] searches so far whose proof failed (they were
    /// searched again in f32, so their results are exact all the same).
    pub fn verified_fallbacks(&self) -> usize {
        self.fallbacks.load(Relaxed)
    }

    /// Queries searched so far by the verified f16 search, whether asked for
    /// ([`Precision::F16Verified`]) or chosen for [`Precision::Exact`].
    pub fn verified_queries(&self) -> usize {
        self.verified.load(Relaxed)
    }

    /// The precision that runs a search of `nq` queries with `k` asked for with `precision`:
    /// itself, except [`Precision::Exact`], which becomes [`Precision::F16Verified`] where the
    /// tuning's `knn.exact_path` is `verified`, the adapter has `SHADER_F16`, d ≤ 256 (the f16
    /// kernel's written-out form), k ≤ 128 (its default candidates fit), `nq` is at least
    /// `knn.verified_min_queries` or (`knn.verified_stream`) the f16 streaming kernel takes
    /// it (1–4 queries), the stored values are within f16 range, the proof failed
    /// for at most one in eight of the index's verified queries (once it has 1 024) and the
    /// f16 copy of the storage exists or can be made (it is made here, as the search would);
    /// else [`Precision::F32`]. Both give exact results.
    pub fn exact_path(&self, nq: usize, k: usize, precision: Precision) -> Precision {
        if precision != Precision::Exact {
            return precision;
        }
        let t = self.gpu.tuning();
        let tried = self.verified_queries();
        let verified = t.choice("knn.exact_path") == "verified"
            && knn_half::product_form(&self.gpu).is_some()
            && knn_half::padded_dim(self.dim) <= 16 * knn_half::MAX_UNROLLED_STEPS as usize
            && knn_half::candidates(k, 0).is_ok_and(|kc| {
                nq as u64 >= t.int("knn.verified_min_queries")
                    || t.int("knn.verified_stream") == 1
                        && knn_half::streams(&self.gpu, nq, self.dim, kc)
            })
            && self.max_abs < knn_half::F16_LIMIT
            && (tried < 1024 || self.verified_fallbacks() * 8 <= tried)
            && !self.half_failed.load(Relaxed)
            && match self.half_base() {
                Ok(_) => true,
                Err(_) => {
                    // Out of device memory for the copy, most likely: the f32 kernel needs
                    // none. Not tried again until the storage changes.
                    self.half_failed.store(true, Relaxed);
                    false
                }
            };
        if verified {
            Precision::F16Verified
        } else {
            Precision::F32
        }
    }

    /// `params` with its precision resolved by [`FlatIndex::exact_path`] (the verified path
    /// chosen for [`Precision::Exact`] keeps the default candidates).
    fn resolved(&self, nq: usize, k: usize, params: &SearchParams) -> SearchParams {
        match self.exact_path(nq, k, params.precision) {
            p if p == params.precision => *params,
            precision => SearchParams {
                precision,
                rerank: 0,
                ..*params
            },
        }
    }

    /// The GPU the index lives on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// Device chunks the vectors occupy (more than one when they exceed one binding).
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    fn rows_per_chunk(&self) -> Result<usize> {
        // Ids reach the kernels as u32 positions.
        Ok(self
            .gpu
            .granules_per_binding::<f32>(self.dim)?
            .min(u32::MAX as usize / 2))
    }

    fn check_room(&self, n: usize) -> Result<()> {
        if self.ntotal + n >= u32::MAX as usize {
            return Err(Error::InvalidArgument(format!(
                "{} + {n} vectors exceed the {} an index holds",
                self.ntotal,
                u32::MAX - 1
            )));
        }
        Ok(())
    }

    /// Appends vectors (already normalized for cosine) to the device storage.
    fn append(&mut self, data: &[f32]) -> Result<()> {
        self.forget_plans();
        let d = self.dim;
        let per_chunk = self.rows_per_chunk()?;
        let norms = squared_norms(data, d);
        let n = data.len() / d;
        // An upper bound of the exact largest norm: f32 squared norms (sums of positive
        // terms) are within d · 2^-24 of the exact ones, relatively.
        let top = norms.iter().fold(0f32, |m, &v| m.max(v));
        self.max_norm = self
            .max_norm
            .max((f64::from(top) * (1.0 + d as f64 * 2f64.powi(-23))).sqrt());
        self.max_abs = data.iter().fold(self.max_abs, |m, &v| m.max(v.abs()));
        let mut done = 0;
        while done < n {
            let left = n - done;
            let last_full = self.chunks.last().is_none_or(|c| c.rows == per_chunk);
            if last_full {
                let cap = left.max(MIN_CHUNK_ROWS).min(per_chunk);
                self.chunks.push(Chunk {
                    data: self.gpu.alloc::<f32>(cap * d)?,
                    norms: self.gpu.alloc::<f32>(cap)?,
                    rows: 0,
                    cap,
                });
            }
            let gpu = self.gpu.clone();
            let chunk = self.chunks.last_mut().expect("a chunk");
            let want = (chunk.rows + left).min(per_chunk);
            if want > chunk.cap {
                let cap = want.max(2 * chunk.cap).min(per_chunk);
                let data = gpu.alloc::<f32>(cap * d)?;
                let nrm = gpu.alloc::<f32>(cap)?;
                if chunk.rows > 0 {
                    let mut batch = gpu.batch(false);
                    batch.copy(
                        chunk.data.raw(),
                        0,
                        data.raw(),
                        0,
                        (chunk.rows * d * 4) as u64,
                    );
                    batch.copy(chunk.norms.raw(), 0, nrm.raw(), 0, (chunk.rows * 4) as u64);
                    batch.finish()?;
                }
                chunk.data = data;
                chunk.norms = nrm;
                chunk.cap = cap;
            }
            let take = left.min(chunk.cap - chunk.rows);
            gpu.write_at(
                &chunk.data,
                chunk.rows * d,
                &data[done * d..(done + take) * d],
            )?;
            gpu.write_at(&chunk.norms, chunk.rows, &norms[done..done + take])?;
            chunk.rows += take;
            self.ntotal += take;
            done += take;
        }
        Ok(())
    }

    /// The vectors as stored: normalized for cosine, as given otherwise (no copy).
    fn prepared<'a>(&self, data: &'a [f32]) -> std::borrow::Cow<'a, [f32]> {
        if self.metric == Metric::Cosine {
            std::borrow::Cow::Owned(normalized(data, self.dim))
        } else {
            std::borrow::Cow::Borrowed(data)
        }
    }

    /// Every stored vector, read back from the device, by position.
    pub fn vectors(&self) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(self.ntotal * self.dim);
        for c in &self.chunks {
            let bytes =
                self.gpu
                    .read_bytes(&[(c.data.raw(), 0, (c.rows * self.dim * 4) as u64)])?;
            out.extend_from_slice(bytemuck::cast_slice(&bytes[0]));
        }
        Ok(out)
    }

    /// The id of position `pos`.
    fn id_at(&self, pos: usize) -> i64 {
        match &self.ids {
            Ids::Sequential => pos as i64,
            Ids::Explicit(v) => v[pos],
        }
    }

    /// The storage chunks as the kernels take them.
    pub(crate) fn db(&self) -> Vec<DbChunk<'_>> {
        let mut id0 = 0;
        self.chunks
            .iter()
            .map(|c| {
                let chunk = DbChunk {
                    data: &c.data,
                    norms: &c.norms,
                    rows: c.rows,
                    id0,
                };
                id0 += c.rows as u32;
                chunk
            })
            .collect()
    }

    /// Drops the search plans and the f16 copy (the stored vectors change).
    fn forget_plans(&mut self) {
        self.plans
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        *self.half.get_mut().unwrap_or_else(|p| p.into_inner()) = None;
        *self.half_failed.get_mut() = false;
    }

    /// The f16 copy of the storage, made on first use.
    fn half_base(&self) -> Result<Arc<HalfBase>> {
        let mut half = self.half.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = &*half {
            return Ok(h.clone());
        }
        let h = Arc::new(HalfBase::new(&self.gpu, &self.db(), self.dim)?);
        *half = Some(h.clone());
        Ok(h)
    }

    /// Bytes of the f16 copy on the device (0 until an f16 or verified search made it, a
    /// [`Precision::Exact`] search that took the verified path included).
    pub fn half_bytes(&self) -> u64 {
        let half = self.half.lock().unwrap_or_else(|p| p.into_inner());
        half.as_ref().map_or(0, |h| h.bytes())
    }

    /// The plan for batches of `nq` queries, `k` and `kc` re-ranked candidates (0: exact):
    /// from the cache, or made and cached (the last few shapes are kept; any change of the
    /// stored vectors clears the cache).
    fn plan(&self, nq: usize, k: usize, kc: usize) -> Result<Arc<Mutex<SearchPlan>>> {
        let mut cache = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        let per_shape = self.gpu.tuning().int("submit.in_flight") as usize;
        if let Some(plan) = cached_plan(&cache, &(nq, k, kc), per_shape) {
            return Ok(plan);
        }
        let plan = Arc::new(Mutex::new(SearchPlan::new(self, nq, k, kc)?));
        if cache.len() >= PLAN_CACHE + per_shape {
            cache.remove(0);
        }
        cache.push(((nq, k, kc), plan.clone()));
        Ok(plan)
    }

    /// [`Index::search`] as a future for any executor (no runtime is assumed; `pollster`
    /// or any executor drives it). Each query batch is submitted at once and its results are
    /// read back through a `map_async` callback that wakes the task (run by the device's
    /// polling thread), so the calling thread never blocks on the device. The search plan is
    /// held only while a batch is recorded: the queue orders the batch's readback before any
    /// later use of the plan's buffers.
    pub fn search_async<'a>(
        &'a self,
        queries: &'a [f32],
        k: usize,
        params: &SearchParams,
    ) -> impl std::future::Future<Output = Result<SearchResult>> + Send + 'a {
        let params = *params;
        async move {
            let (nq, mut result) =
                match start_search(queries, self.dim, k, self.ntotal, self.metric)? {
                    Ok(start) => start,
                    Err(done) => return Ok(done),
                };
            let params = self.resolved(nq, k, &params);
            let kc = rerank_candidates(k, &params)?;
            let queries = self.prepared(queries).into_owned();
            let mut gpu_total = Some(0.0);
            let mut lasts = Lasts::default();
            for q in queries.chunks(self.batch_queries(nq, k) * self.dim) {
                let (plan, pending) = self.submit(q, (k, kc), params.timed)?;
                self.absorb(
                    &plan,
                    pending.await?,
                    (&mut result, &mut lasts),
                    &mut gpu_total,
                );
            }
            // A verified search's unproven queries are searched again in f32 with a blocking
            // wait (rare: see `verify`).
            self.finish(&queries, (k, kc), &params, (result, &lasts), gpu_total)
        }
    }

    /// Writes a batch's queries and submits its search; the plan is held only while the batch
    /// is recorded (see `index::InFlight`).
    fn submit(
        &self,
        q: &[f32],
        (k, kc): (usize, usize),
        timed: bool,
    ) -> Result<(Arc<Mutex<SearchPlan>>, InFlight)> {
        let plan = self.plan(q.len() / self.dim, k, kc)?;
        let pending: InFlight = {
            let p = plan.lock().unwrap_or_else(|p| p.into_inner());
            Box::pin(p.record(self, q, timed)?.finish_async())
        };
        Ok((plan, pending))
    }

    /// Adds a finished batch's results to `result` and its GPU time to `gpu`.
    fn absorb(
        &self,
        plan: &Mutex<SearchPlan>,
        report: wgfaiss_core::BatchReport,
        (result, lasts): (&mut SearchResult, &mut Lasts),
        gpu: &mut Option<f64>,
    ) {
        let (top, last) = plan
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .parse(self, &report.reads);
        *gpu = gpu.zip(report.gpu_seconds).map(|(a, b)| a + b);
        result.push(top, |pos| self.id_at(pos as usize), self.metric);
        lasts.add(last);
    }

    /// The verified f16 search's proof ([`knn_half::verified`]) for every query of `result`
    /// (`queries` prepared); the queries it fails for are searched again in f32 and their
    /// rows replaced. Adds the f32 search's GPU time to `gpu`.
    fn verify(
        &self,
        queries: &[f32],
        k: usize,
        kc: usize,
        (result, lasts): (&mut SearchResult, &Lasts),
        (timed, gpu): (bool, &mut Option<f64>),
    ) -> Result<()> {
        let d = self.dim;
        let l2 = !self.metric.is_similarity();
        // Every vector is a candidate: the re-rank saw them all.
        let all = self.ntotal <= kc;
        let fits = self.max_abs < knn_half::F16_LIMIT;
        let failed: Vec<usize> = (0..result.nq)
            .filter(|&i| {
                let q = &queries[i * d..(i + 1) * d];
                let qn2: f64 = q.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
                let in_range = fits && q.iter().all(|v| v.abs() < knn_half::F16_LIMIT);
                let (last, streamed) = lasts.at(i);
                let last = if l2 && !streamed { last + qn2 } else { last };
                let kth = result.distances[i * k + k - 1];
                !(all
                    || in_range
                        && knn_half::verified(last, kth, d, (qn2.sqrt(), self.max_norm), l2))
            })
            .collect();
        self.verified.fetch_add(result.nq, Relaxed);
        self.fallbacks.fetch_add(failed.len(), Relaxed);
        self.redo(queries, k, &failed, result, (timed, gpu))
    }

    /// Searches queries `failed` of `result` (`queries` prepared) again in f32 and replaces
    /// their rows; adds the f32 search's GPU time to `gpu`.
    fn redo(
        &self,
        queries: &[f32],
        k: usize,
        failed: &[usize],
        result: &mut SearchResult,
        (timed, gpu): (bool, &mut Option<f64>),
    ) -> Result<()> {
        if failed.is_empty() {
            return Ok(());
        }
        let d = self.dim;
        let again: Vec<f32> = failed
            .iter()
            .flat_map(|&i| queries[i * d..(i + 1) * d].iter().copied())
            .collect();
        let exact = SearchParams {
            precision: Precision::F32,
            timed,
            ..SearchParams::default()
        };
        // The queries are checked and prepared already (normalized for cosine).
        let start = start_search(&again, d, k, self.ntotal, self.metric)?;
        let redo = self.search_prepared(&again, k, &exact, start)?;
        for (j, &i) in failed.iter().enumerate() {
            result.ids[i * k..(i + 1) * k].copy_from_slice(&redo.ids[j * k..(j + 1) * k]);
            result.distances[i * k..(i + 1) * k]
                .copy_from_slice(&redo.distances[j * k..(j + 1) * k]);
        }
        *gpu = gpu.zip(redo.gpu_seconds).map(|(a, b)| a + b);
        Ok(())
    }

    /// [`Index::search`] of queries already checked (`start`: `index::start_search` of them)
    /// and prepared (normalized for cosine).
    fn search_prepared(
        &self,
        queries: &[f32],
        k: usize,
        params: &SearchParams,
        start: Started,
    ) -> Result<SearchResult> {
        let (nq, mut result) = match start {
            Ok(start) => start,
            Err(done) => return Ok(done),
        };
        let kc = rerank_candidates(k, params)?;
        let mut gpu_total = Some(0.0);
        let mut lasts = Lasts::default();
        let chunk = self.batch_queries(nq, k) * self.dim;
        if queries.len() <= chunk {
            // One batch: a blocking wait (no polling thread between the device and the caller).
            let plan = self.plan(nq, k, kc)?;
            let plan = plan.lock().unwrap_or_else(|p| p.into_inner());
            let (top, last, g) = plan.run(self, queries, params.timed)?;
            gpu_total = g;
            result.push(top, |pos| self.id_at(pos as usize), self.metric);
            lasts.add(last);
        } else {
            // Several: up to `submit.in_flight` submitted at once (see `index::InFlight`).
            let depth = search_depth(&self.gpu);
            let mut queue = std::collections::VecDeque::new();
            let mut take = |(plan, pending): (Arc<Mutex<SearchPlan>>, InFlight)| -> Result<()> {
                let report = pollster::block_on(pending)?;
                self.absorb(&plan, report, (&mut result, &mut lasts), &mut gpu_total);
                Ok(())
            };
            for q in queries.chunks(chunk) {
                queue.push_back(self.submit(q, (k, kc), params.timed)?);
                if queue.len() >= depth {
                    take(queue.pop_front().expect("queued"))?;
                }
            }
            while let Some(next) = queue.pop_front() {
                take(next)?;
            }
        }
        self.finish(queries, (k, kc), params, (result, &lasts), gpu_total)
    }

    /// The end of a search of `queries` (prepared): a verified search's proof and f32
    /// fallback ([`FlatIndex::verify`]), then the GPU time if asked for.
    fn finish(
        &self,
        queries: &[f32],
        (k, kc): (usize, usize),
        params: &SearchParams,
        (mut result, lasts): (SearchResult, &Lasts),
        mut gpu_total: Option<f64>,
    ) -> Result<SearchResult> {
        // A survivors search that lost candidates (more keys within a query's bound than its
        // slots) says so with a NaN last value. Lost for more than one in eight: no more
        // survivors searches in this index.
        let lost: Vec<usize> = match params.precision {
            Precision::F16 | Precision::F16Verified => {
                (0..result.nq).filter(|&i| lasts.at(i).0.is_nan()).collect()
            }
            _ => Vec::new(),
        };
        if lost.len() * 8 > result.nq && !self.survivors_off.swap(true, Relaxed) {
            self.plans.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
        if params.precision == Precision::F16 {
            // The lost queries go to f32 (the verified search's proof fails on them).
            self.redo(
                queries,
                k,
                &lost,
                &mut result,
                (params.timed, &mut gpu_total),
            )?;
        } else if params.precision == Precision::F16Verified {
            self.verify(
                queries,
                k,
                kc,
                (&mut result, lasts),
                (params.timed, &mut gpu_total),
            )?;
        }
        if params.timed {
            result.gpu_seconds = gpu_total;
        }
        Ok(result)
    }

    /// Queries per search submission for a search of `nq` queries and `k`.
    fn batch_queries(&self, nq: usize, k: usize) -> usize {
        let mut batch_q = self.gpu.tuning().int("submit.query_batch") as usize;
        if fused_tiles(&self.gpu, nq.min(batch_q), k).is_none() {
            // The distance tile of the largest chunk bounds the batch.
            let largest = self.chunks.iter().map(|c| c.rows).max().unwrap_or(1);
            batch_q = batch_q.min(tile_queries(&self.gpu, largest));
        }
        batch_q.max(1)
    }

    /// Loads an index written by [`Index::save`].
    pub fn load(gpu: &Gpu, path: &Path) -> Result<FlatIndex> {
        let mut r = Reader::open(path, KIND_FLAT)?;
        let metric = Metric::from_code(r.u32()?).ok_or_else(|| r.error("unknown metric code"))?;
        let explicit = match r.u32()? {
            0 => false,
            1 => true,
            m => return Err(r.error(format!("unknown id mode {m}"))),
        };
        let dim = r.u64()? as usize;
        let ntotal = r.u64()? as usize;
        if dim == 0 || ntotal >= u32::MAX as usize {
            return Err(r.error(format!("bad shape: {ntotal} vectors of dimension {dim}")));
        }
        let ids = if explicit {
            Ids::Explicit(r.values::<i64>(ntotal)?)
        } else {
            Ids::Sequential
        };
        let len = ntotal
            .checked_mul(dim)
            .ok_or_else(|| r.error("shape overflows"))?;
        let data = r.values::<f32>(len)?;
        r.done()?;
        if data.iter().any(|v| !v.is_finite()) {
            return Err(r.error("non-finite vector values"));
        }
        let mut index = FlatIndex::new(gpu, dim, metric)?;
        index.append(&data)?;
        index.ids = ids;
        Ok(index)
    }
}

/// A cached plan and its shape (batch size, k).
type CachedPlan = crate::index::Cached<(usize, usize, usize), SearchPlan>;

/// Candidates re-ranked per query for `params` (0: the exact search).
fn rerank_candidates(k: usize, params: &SearchParams) -> Result<usize> {
    match params.precision {
        Precision::Exact | Precision::F32 => Ok(0),
        Precision::F16 | Precision::F16Verified => knn_half::candidates(k, params.rerank),
    }
}

/// A batch's last candidates' f16 values, and whether the streaming kernel made them (see
/// [`SearchPlan::parse`]); None for f32 searches.
type Last = Option<(Vec<f32>, bool)>;

/// The [`Last`] values of every query of a search, in order.
#[derive(Default)]
struct Lasts {
    values: Vec<(f64, bool)>,
}

impl Lasts {
    fn add(&mut self, last: Last) {
        if let Some((values, streamed)) = last {
            self.values
                .extend(values.into_iter().map(|v| (f64::from(v), streamed)));
        }
    }

    /// Query i's value (NaN, which proves nothing, if there is none).
    fn at(&self, i: usize) -> (f64, bool) {
        self.values.get(i).copied().unwrap_or((f64::NAN, false))
    }
}

/// Search shapes whose plans an index keeps.
const PLAN_CACHE: usize = 8;

/// A search of batches of `nq` queries with `k`, planned over the index's storage at the
/// time: query buffers, kernels, bind groups and scratch made once, so a search of that shape
/// costs an upload, one submission and one readback. Made again after any change to the
/// stored vectors.
struct SearchPlan {
    nq: usize,
    k: usize,
    queries: GpuBuffer<f32>,
    qnorms: GpuBuffer<f32>,
    kind: PlanKind,
}

enum PlanKind {
    /// The fused kernel over every chunk, merged on the device.
    Fused(Box<KnnPlan>),
    /// Distance tiles and top-k per chunk, merged on the host.
    Unfused(Vec<TiledKnn>),
    /// f16 candidates and an exact re-rank (its bind groups keep the f16 copy alive).
    Half(Box<KnnHalfPlan>),
}

impl SearchPlan {
    fn new(index: &FlatIndex, nq: usize, k: usize, kc: usize) -> Result<SearchPlan> {
        let gpu = &index.gpu;
        let d = index.dim;
        let metric = index.metric.kernel();
        let queries = gpu.alloc::<f32>(nq * d)?;
        let qnorms = gpu.alloc::<f32>(nq)?;
        let db = index.db();
        if kc > 0 {
            let half = index.half_base()?;
            let plan = KnnHalfPlan::new(
                gpu,
                &queries,
                &qnorms,
                (nq, d),
                &db,
                &half,
                (k, kc),
                (metric, !index.survivors_off.load(Relaxed)),
            )?;
            return Ok(SearchPlan {
                nq,
                k,
                queries,
                qnorms,
                kind: PlanKind::Half(Box::new(plan)),
            });
        }
        // The fused kernel, unless it cannot hold k or a GEMM tile and top-k are faster
        // (`prefer_tiled`: k > 16 and the batch fits one distance tile).
        let single = (db.len() == 1).then(|| db[0].rows);
        let kind = if !prefer_tiled(gpu, nq, k, single) {
            PlanKind::Fused(Box::new(KnnPlan::new(
                gpu, &queries, &qnorms, nq, d, &db, k, metric,
            )?))
        } else {
            PlanKind::Unfused(
                db.iter()
                    .map(|&c| TiledKnn::new(gpu, &queries, &qnorms, nq, d, c, k, metric))
                    .collect::<Result<Vec<_>>>()?,
            )
        };
        Ok(SearchPlan {
            nq,
            k,
            queries,
            qnorms,
            kind,
        })
    }

    /// Searches `q` (`nq × d`, prepared); returns per query `k` (value, position) and the GPU
    /// time.
    fn run(&self, index: &FlatIndex, q: &[f32], timed: bool) -> Result<(TopK, Last, Option<f64>)> {
        let report = self.record(index, q, timed)?.finish()?;
        let (top, last) = self.parse(index, &report.reads);
        Ok((top, last, report.gpu_seconds))
    }

    /// Writes the queries and records the search and its readback (results come back with
    /// the timestamps in one readback).
    fn record<'g>(
        &self,
        index: &'g FlatIndex,
        q: &[f32],
        timed: bool,
    ) -> Result<wgfaiss_core::Batch<'g>> {
        // The batch first: its host time (`WGFAISS_PROFILE=host`) includes the uploads.
        let mut batch = index.gpu.batch(timed);
        self.write_queries(index, q)?;
        self.record_commands(&mut batch);
        Ok(batch)
    }

    /// Writes the queries (`nq × d`, prepared) and their squared norms. `queue.write_buffer`
    /// lands at the start of the next submission, so a batch recorded before (and not yet
    /// submitted: [`wgfaiss_core::Batch::submitted_any`]) reads them.
    fn write_queries(&self, index: &FlatIndex, q: &[f32]) -> Result<()> {
        let qn = squared_norms(q, index.dim);
        debug_assert_eq!(qn.len(), self.nq);
        index.gpu.write(&self.queries, q)?;
        index.gpu.write(&self.qnorms, &qn)
    }

    /// Records the search and its readback into `batch` (the queries are written apart).
    fn record_commands(&self, batch: &mut wgfaiss_core::Batch<'_>) {
        match &self.kind {
            PlanKind::Fused(plan) => {
                plan.record(batch);
                plan.read_after(batch);
            }
            PlanKind::Unfused(plans) => plans.iter().for_each(|p| {
                p.record(batch);
                p.read_after(batch);
            }),
            PlanKind::Half(plan) => {
                plan.record(batch);
                plan.read_after(batch);
            }
        }
    }

    /// Per query `k` (value, position) from the bytes read back, and for the f16 search its
    /// last candidates' f16 values ([`KnnHalfPlan::parse_last`]; L2 values include the
    /// query's squared norm when the streaming kernel made them: the flag).
    fn parse(&self, index: &FlatIndex, reads: &[wgfaiss_core::ReadBytes]) -> (TopK, Last) {
        match &self.kind {
            PlanKind::Fused(plan) => (plan.parse(reads), None),
            PlanKind::Half(plan) => (
                plan.parse(reads),
                Some((plan.parse_last(reads), plan.config().0.is_none())),
            ),
            PlanKind::Unfused(plans) => {
                let lists: Vec<TopK> = plans
                    .iter()
                    .zip(reads.chunks(2))
                    .map(|(p, r)| p.parse(r))
                    .collect();
                let top = merge_lists(lists, self.nq, self.k, index.metric.is_similarity());
                (top, None)
            }
        }
    }
}

/// Merges per-chunk lists (`nq × k` each, positions as ids) into one `nq × k`.
fn merge_lists(mut lists: Vec<TopK>, nq: usize, k: usize, largest: bool) -> TopK {
    if lists.len() == 1 {
        return lists.pop().expect("one list");
    }
    let mut out = TopK::default();
    for r in 0..nq {
        let mut all: Vec<(f32, Option<u32>)> = lists
            .iter()
            .flat_map(|l| {
                l.values[r * k..(r + 1) * k]
                    .iter()
                    .copied()
                    .zip(l.ids[r * k..(r + 1) * k].iter().copied())
            })
            .collect();
        all.sort_by(|a, b| {
            let (ka, kb) = if largest { (-a.0, -b.0) } else { (a.0, b.0) };
            // Padding (no id) after every real entry, real entries by (key, id).
            a.1.is_none()
                .cmp(&b.1.is_none())
                .then(ka.total_cmp(&kb))
                .then(a.1.cmp(&b.1))
        });
        for (v, id) in all.into_iter().take(k) {
            out.values.push(v);
            out.ids.push(id);
        }
    }
    out
}

impl Index for FlatIndex {
    fn dim(&self) -> usize {
        self.dim
    }

    fn metric(&self) -> Metric {
        self.metric
    }

    fn ntotal(&self) -> usize {
        self.ntotal
    }

    fn is_trained(&self) -> bool {
        true
    }

    fn train(&mut self, data: &[f32]) -> Result<()> {
        check_vectors(data, self.dim, "train")?;
        Ok(())
    }

    fn add(&mut self, data: &[f32]) -> Result<()> {
        let n = check_vectors(data, self.dim, "add")?;
        if matches!(self.ids, Ids::Explicit(_)) && self.ntotal > 0 {
            return Err(Error::InvalidArgument(
                "add: this index holds caller ids; use add_with_ids".into(),
            ));
        }
        self.check_room(n)?;
        self.ids = Ids::Sequential;
        let data = self.prepared(data);
        self.append(&data)
    }

    fn add_with_ids(&mut self, data: &[f32], ids: &[i64]) -> Result<()> {
        let n = check_vectors(data, self.dim, "add_with_ids")?;
        if ids.len() != n {
            return Err(Error::InvalidArgument(format!(
                "add_with_ids: {} ids for {n} vectors",
                ids.len()
            )));
        }
        if matches!(self.ids, Ids::Sequential) && self.ntotal > 0 {
            return Err(Error::InvalidArgument(
                "add_with_ids: this index holds sequential ids (vectors were added with add)"
                    .into(),
            ));
        }
        self.check_room(n)?;
        let data = self.prepared(data);
        self.append(&data)?;
        match &mut self.ids {
            Ids::Explicit(v) => v.extend_from_slice(ids),
            seq => *seq = Ids::Explicit(ids.to_vec()),
        }
        Ok(())
    }

    fn search(&self, queries: &[f32], k: usize, params: &SearchParams) -> Result<SearchResult> {
        // Checked as given (an infinite value is named as such, not as the NaN that
        // normalizing would make of it), then prepared.
        let t0 = wgfaiss_core::host_profile().then(std::time::Instant::now);
        let start = start_search(queries, self.dim, k, self.ntotal, self.metric)?;
        let params = self.resolved(queries.len() / self.dim, k, params);
        let r = self.search_prepared(&self.prepared(queries), k, &params, start);
        if let Some(t0) = t0 {
            eprintln!(
                "WGFAISS_PROFILE host: search of {} queries returned after {:.3} ms in all",
                queries.len() / self.dim,
                t0.elapsed().as_secs_f64() * 1e3
            );
        }
        r
    }

    /// One batch of one plan (queries within `submit.query_batch`, the plan's dispatches
    /// within one submission): the plan is taken and its commands recorded, then `gather`
    /// gives the queries, which are checked, written and submitted with them.
    fn search_recorded_ahead(
        &self,
        nq: usize,
        k: usize,
        params: &SearchParams,
        gather: &mut dyn FnMut() -> Option<Vec<f32>>,
    ) -> Option<Result<SearchResult>> {
        if nq == 0
            || self.ntotal == 0
            || crate::index::check_k(k).is_err()
            || nq > self.batch_queries(nq, k)
        {
            return None;
        }
        let params = self.resolved(nq, k, params);
        let kc = rerank_candidates(k, &params).ok()?;
        let plan = self.plan(nq, k, kc).ok()?;
        let plan = plan.lock().unwrap_or_else(|p| p.into_inner());
        let mut batch = self.gpu.batch(params.timed);
        plan.record_commands(&mut batch);
        // The readback copies recorded and the command buffer finished: once the queries
        // are here, they are written and the buffer submitted.
        let queries = seal_and_gather(&mut batch, gather)?;
        Some((|| {
            let (got, mut result) =
                match start_search(&queries, self.dim, k, self.ntotal, self.metric)? {
                    Ok(start) => start,
                    Err(done) => return Ok(done),
                };
            check_gathered(got, nq)?;
            let queries = self.prepared(&queries);
            plan.write_queries(self, &queries)?;
            let report = batch.finish()?;
            let (top, last) = plan.parse(self, &report.reads);
            result.push(top, |pos| self.id_at(pos as usize), self.metric);
            let mut lasts = Lasts::default();
            lasts.add(last);
            drop(plan);
            self.finish(
                &queries,
                (k, kc),
                &params,
                (result, &lasts),
                report.gpu_seconds,
            )
        })())
    }

    fn remove_ids(&mut self, ids: &[i64]) -> Result<usize> {
        let remove: HashSet<i64> = ids.iter().copied().collect();
        let keep: Vec<usize> = (0..self.ntotal)
            .filter(|&p| !remove.contains(&self.id_at(p)))
            .collect();
        let removed = self.ntotal - keep.len();
        if removed == 0 {
            return Ok(0);
        }
        let all = self.vectors()?;
        let d = self.dim;
        let kept: Vec<f32> = keep
            .iter()
            .flat_map(|&p| all[p * d..(p + 1) * d].iter().copied())
            .collect();
        let new_ids = match &self.ids {
            Ids::Sequential => Ids::Sequential,
            Ids::Explicit(v) => Ids::Explicit(keep.iter().map(|&p| v[p]).collect()),
        };
        let mut fresh = FlatIndex::new(&self.gpu, d, self.metric)?;
        fresh.append(&kept)?;
        fresh.ids = new_ids;
        *self = fresh;
        Ok(removed)
    }

    fn reconstruct(&self, id: i64) -> Result<Vec<f32>> {
        let pos = match &self.ids {
            Ids::Sequential => usize::try_from(id).ok().filter(|&p| p < self.ntotal),
            Ids::Explicit(v) => v.iter().position(|&x| x == id),
        }
        .ok_or_else(|| Error::InvalidArgument(format!("reconstruct: no vector has id {id}")))?;
        let mut at = pos;
        for c in &self.chunks {
            if at < c.rows {
                let bytes = self.gpu.read_bytes(&[(
                    c.data.raw(),
                    (at * self.dim * 4) as u64,
                    (self.dim * 4) as u64,
                )])?;
                return Ok(bytemuck::pod_collect_to_vec(&bytes[0]));
            }
            at -= c.rows;
        }
        unreachable!("position {pos} < ntotal {}", self.ntotal)
    }

    fn reset(&mut self) -> Result<()> {
        self.forget_plans();
        *self.survivors_off.get_mut() = false;
        self.chunks.clear();
        self.ntotal = 0;
        self.max_norm = 0.0;
        self.max_abs = 0.0;
        self.ids = Ids::Sequential;
        Ok(())
    }

    fn save(&self, path: &Path) -> Result<()> {
        let mut w = Writer::new(KIND_FLAT);
        w.u32(self.metric.code());
        w.u32(u32::from(matches!(self.ids, Ids::Explicit(_))));
        w.u64(self.dim as u64);
        w.u64(self.ntotal as u64);
        if let Ids::Explicit(v) = &self.ids {
            w.values(v);
        }
        w.values(&self.vectors()?);
        w.finish(path)
    }
}

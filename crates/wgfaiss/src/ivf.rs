//! IVF-Flat: a coarse quantizer of `nlist` centroids (k-means on the GPU), every vector stored
//! in its nearest centroid's list, and search that scans only the `nprobe` lists nearest to
//! each query.
//!
//! Storage: device arenas (vectors and their squared norms), each within one storage binding;
//! each list owns a region of one arena with spare capacity. A list that outgrows its region
//! moves to a region twice as large at the end of the last arena (a device-side copy of that
//! list only); the last arena grows by doubling, and when it cannot grow within a binding a
//! new arena starts. Adding more later therefore never rewrites all lists. Removal compacts.
//!
//! Search, per batch of queries, is one submission (`ops::ivf::IvfSearchPlan`, cached per
//! batch size, k, nprobe and scan until the lists change): the coarse top-`nprobe` over the
//! centroids, the probes turned into work items on the device (count per list, scan, scatter),
//! each list's queries gathered into blocks, every (block, list segment) scanned in
//! work-item mode (list-major: a list's vectors are read once per block of queries that probe
//! it), and each query's results selected; one readback. With several arenas the same plan
//! searches them all: each arena has its own table of work items and scan dispatch, the rest
//! is shared.
//!
//! The scan is one of two ([`ScanMode`], per search in [`SearchParams::scan`], else the tuning's
//! `ivf.scan`): **fused** selects while it scans (each work item keeps a running top-k);
//! **keys** writes every (query, list row) value and selects once per query over them. k
//! beyond the fused kernel's lists (`ops::knn::max_fused_k`, up to 2048) always takes the keys
//! scan. A single list must fit one storage binding (2 GiB on NVIDIA: 4M vectors of 128
//! floats); the index as a whole need not.

use std::path::Path;

use std::sync::{Arc, Mutex};

use wgfaiss_core::ops::ivf::{IvfBatch, IvfSearchPlan, ScanMode, scan_mode};
use wgfaiss_core::ops::knn::{DbChunk, squared_norms};
use wgfaiss_core::{Error, Gpu, GpuBuffer, Result};

use crate::flat::FlatIndex;
use crate::index::{
    InFlight, Index, Metric, SearchParams, SearchResult, cached_plan, check_vectors, normalized,
    search_depth, start_search,
};
use crate::kmeans::{Kmeans, KmeansParams, kmeans_checked};
use crate::persist::{KIND_IVF_FLAT, Reader, Writer};

/// Smallest region a list gets, in vectors.
const MIN_LIST_CAP: usize = 8;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Region {
    /// The arena holding the list.
    arena: usize,
    start: usize,
    len: usize,
    cap: usize,
}

/// The coarse quantizer: the centroids in a flat index (its search plans are cached; used to
/// assign added vectors), whose device storage the search plans also read.
struct Centroids {
    host: Vec<f32>,
    flat: FlatIndex,
}

struct Arena {
    data: GpuBuffer<f32>,
    norms: GpuBuffer<f32>,
    /// Rows allocated.
    cap: usize,
    /// Rows handed out to list regions (the end of the last region).
    used: usize,
    /// Id of each row (`cap` of them; rows outside every region are stale).
    row_ids: Vec<i64>,
}

impl Arena {
    fn new(gpu: &Gpu, rows: usize, d: usize) -> Result<Arena> {
        Ok(Arena {
            data: gpu.alloc::<f32>(rows * d)?,
            norms: gpu.alloc::<f32>(rows)?,
            cap: rows,
            used: 0,
            row_ids: vec![-1; rows],
        })
    }

    /// The arena's used rows, numbered from `id0`.
    fn chunk(&self, id0: usize) -> DbChunk<'_> {
        DbChunk {
            data: &self.data,
            norms: &self.norms,
            rows: self.used,
            id0: id0 as u32,
        }
    }
}

/// IVF-Flat index on the GPU. See the module documentation.
pub struct IvfFlatIndex {
    gpu: Gpu,
    dim: usize,
    metric: Metric,
    nlist: usize,
    /// k-means parameters of `train`.
    pub kmeans: KmeansParams,
    /// The last training's k-means run (objective per iteration, timings), centroids aside.
    pub last_training: Option<Kmeans>,
    centroids: Option<Centroids>,
    /// Device storage: arenas of at most one storage binding each; a list lives in one.
    arenas: Vec<Arena>,
    lists: Vec<Region>,
    /// Whether ids are the caller's (`Some(true)`), sequential (`Some(false)`), or not yet
    /// decided (empty index).
    explicit: Option<bool>,
    /// Next sequential id (never reused, also after removal).
    next_id: i64,
    ntotal: usize,
    /// Search plans of recent shapes and the storage tables they read, valid for the
    /// current storage.
    searching: Mutex<Searching>,
    /// Batches whose keys overflowed their plan and were searched again in halves.
    overflows: std::sync::atomic::AtomicUsize,
}

/// A cached search plan and its shape (batch size, k, nprobe, scan).
type CachedPlan = crate::index::Cached<(usize, usize, usize, ScanMode), IvfSearchPlan>;

/// Search plans and the storage tables every plan reads (made once per storage version).
#[derive(Default)]
struct Searching {
    plans: Vec<CachedPlan>,
    tables: Option<Tables>,
}

/// The device tables of the storage a search plan reads (see `ops::ivf::IvfStorage`).
struct Tables {
    /// Per list (start in its arena, rows, arena, start over all arenas).
    regions: GpuBuffer<u32>,
    /// The id of each row over all arenas, as (low, high) u32 pairs.
    row_ids: GpuBuffer<u32>,
    /// Each arena's first row over all arenas.
    bases: Vec<usize>,
}

/// Search shapes whose plans an index keeps: at most two of [`LARGE_PLAN`] queries or more
/// (such a plan holds hundreds of MB of scratch, and on the H200 the scan slowed by 2-3x with
/// six large plans alive: reads over a larger footprint, see docs/ARCHITECTURE.md).
const PLAN_CACHE: usize = 10;

/// Batch size from which a plan counts as large.
const LARGE_PLAN: usize = 1024;

impl std::fmt::Debug for IvfFlatIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IvfFlatIndex")
            .field("dim", &self.dim)
            .field("metric", &self.metric)
            .field("nlist", &self.nlist)
            .field("trained", &self.centroids.is_some())
            .field("ntotal", &self.ntotal)
            .finish()
    }
}

impl IvfFlatIndex {
    /// An untrained index of `nlist` lists.
    pub fn new(gpu: &Gpu, dim: usize, nlist: usize, metric: Metric) -> Result<IvfFlatIndex> {
        if dim == 0 || nlist == 0 {
            return Err(Error::InvalidArgument(format!(
                "IVF: dimension {dim} and {nlist} lists must be positive"
            )));
        }
        gpu.granules_per_binding::<f32>(dim)?;
        Ok(IvfFlatIndex {
            gpu: gpu.clone(),
            dim,
            metric,
            nlist,
            kmeans: KmeansParams {
                spherical: metric != Metric::L2,
                ..Default::default()
            },
            last_training: None,
            centroids: None,
            arenas: Vec::new(),
            lists: vec![Region::default(); nlist],
            explicit: None,
            next_id: 0,
            ntotal: 0,
            searching: Mutex::new(Searching::default()),
            overflows: Default::default(),
        })
    }

    /// Number of lists.
    pub fn nlist(&self) -> usize {
        self.nlist
    }

    /// Searched batches whose keys (keys scan) overflowed the plan's capacity and were searched
    /// again in halves (see the tuning's `ivf.keys_slack`); 0 when batches are sized exactly.
    pub fn keys_overflows(&self) -> usize {
        self.overflows.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Device arenas holding the lists (each within one storage binding; more than one only
    /// when the vectors exceed a binding).
    pub fn arena_count(&self) -> usize {
        self.arenas.len()
    }

    /// Vectors in each list.
    pub fn list_sizes(&self) -> Vec<usize> {
        self.lists.iter().map(|r| r.len).collect()
    }

    /// The centroids (`nlist × dim`), once trained.
    pub fn centroids(&self) -> Option<&[f32]> {
        self.centroids.as_ref().map(|c| c.host.as_slice())
    }

    fn set_centroids(&mut self, host: Vec<f32>) -> Result<()> {
        // Cosine indexes quantize by inner product over normalized vectors.
        let metric = if self.metric == Metric::L2 {
            Metric::L2
        } else {
            Metric::InnerProduct
        };
        let mut flat = FlatIndex::new(&self.gpu, self.dim, metric)?;
        flat.add(&host)?;
        self.centroids = Some(Centroids { host, flat });
        self.forget_plans();
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

    /// Nearest list of each vector (prepared).
    fn assign(&self, data: &[f32]) -> Result<Vec<usize>> {
        let c = self.centroids.as_ref().ok_or_else(untrained)?;
        let r = c.flat.search(data, 1, &SearchParams::default())?;
        r.ids
            .into_iter()
            .map(|i| usize::try_from(i).map_err(|_| Error::Gpu("IVF: a vector got no list".into())))
            .collect()
    }

    /// The search plan (every arena in one) for batches of `nq` queries, `k` and the
    /// parameters' nprobe and scan, from the cache or made.
    fn plan(
        &self,
        nq: usize,
        k: usize,
        params: &SearchParams,
    ) -> Result<Arc<Mutex<IvfSearchPlan>>> {
        let nprobe = params.nprobe;
        let mode = scan_mode(&self.gpu, nq, k, params.scan);
        let shape = (nq, k, nprobe, mode);
        let mut searching = self.searching.lock().unwrap_or_else(|p| p.into_inner());
        // Large plans are never duplicated (hundreds of MB each); small ones up to the
        // submissions in flight, for concurrent searches of one shape.
        let per_shape = if nq >= LARGE_PLAN {
            1
        } else {
            self.gpu.tuning().int("submit.in_flight") as usize
        };
        if let Some(plan) = cached_plan(&searching.plans, &shape, per_shape) {
            return Ok(plan);
        }
        let c = self.centroids.as_ref().ok_or_else(untrained)?;
        let Searching {
            plans: cache,
            tables,
        } = &mut *searching;
        let tables = match tables {
            Some(t) => t,
            None => tables.insert(self.tables()?),
        };
        let lens = self.list_sizes();
        let storage = wgfaiss_core::ops::ivf::IvfStorage {
            arenas: self
                .arenas
                .iter()
                .zip(&tables.bases)
                .map(|(a, &base)| a.chunk(base))
                .collect(),
            regions: &tables.regions,
            row_ids: &tables.row_ids,
            lens: &lens,
        };
        let plan = IvfSearchPlan::new(
            &self.gpu,
            nq,
            self.dim,
            c.flat.db()[0],
            &storage,
            nprobe,
            k,
            self.metric.kernel(),
            mode,
        )?;
        let plan = Arc::new(Mutex::new(plan));
        // Few large plans (their scratch is hundreds of MB), more small ones (the
        // coalescer's batch sizes).
        let large = |n: usize| n >= LARGE_PLAN;
        let keep = 2;
        if large(nq) && cache.iter().filter(|((n, ..), _)| large(*n)).count() >= keep {
            let i = cache
                .iter()
                .position(|((n, ..), _)| large(*n))
                .expect("a large plan");
            cache.remove(i);
        }
        if cache.len() >= PLAN_CACHE + keep + per_shape {
            cache.remove(0);
        }
        cache.push((shape, plan.clone()));
        Ok(plan)
    }

    /// The storage's device tables (rows numbered arena after arena).
    fn tables(&self) -> Result<Tables> {
        let mut bases = Vec::with_capacity(self.arenas.len());
        let mut total = 0;
        for a in &self.arenas {
            bases.push(total);
            total += a.used;
        }
        let regions: Vec<u32> = self
            .lists
            .iter()
            .flat_map(|r| {
                [
                    r.start as u32,
                    r.len as u32,
                    r.arena as u32,
                    (bases[r.arena] + r.start) as u32,
                ]
            })
            .collect();
        let row_ids: Vec<u32> = self
            .arenas
            .iter()
            .flat_map(|a| a.row_ids[..a.used].iter())
            .flat_map(|&id| [id as u64 as u32, ((id as u64) >> 32) as u32])
            .collect();
        Ok(Tables {
            regions: self.gpu.upload(&regions)?,
            row_ids: self.gpu.upload(&row_ids)?,
            bases,
        })
    }

    /// Drops the search plans and tables (the storage changed).
    fn forget_plans(&mut self) {
        *self.searching.get_mut().unwrap_or_else(|p| p.into_inner()) = Searching::default();
    }

    /// Queries per search submission for a search of `nq` queries: the tuning's
    /// `submit.query_batch`, smaller where a plan's scratch would exceed one storage binding
    /// (gathered queries and per-segment results for large d × nprobe; with the keys scan,
    /// every query's keys over the widest `nprobe` lists).
    pub fn batch_queries(&self, nq: usize, k: usize, params: &SearchParams) -> Result<usize> {
        wgfaiss_core::ops::ivf::max_batch(
            &self.gpu,
            (self.gpu.tuning().int("submit.query_batch") as usize).clamp(1, nq),
            self.dim,
            k,
            params.nprobe,
            self.nlist,
            &self.list_sizes(),
            scan_mode(&self.gpu, nq, k, params.scan),
        )
    }

    /// [`Index::search`] as a future for any executor, as [`FlatIndex::search_async`]: each
    /// batch is submitted at once and read back through a callback that wakes the task.
    ///
    /// [`FlatIndex::search_async`]: crate::FlatIndex::search_async
    pub fn search_async<'a>(
        &'a self,
        queries: &'a [f32],
        k: usize,
        params: &SearchParams,
    ) -> impl std::future::Future<Output = Result<SearchResult>> + Send + 'a {
        let params = *params;
        async move {
            let (nq, mut result) = match self.check_search(queries, k, &params)? {
                Ok(start) => start,
                Err(done) => return Ok(done),
            };
            let d = self.dim;
            let queries = self.prepared(queries).into_owned();
            let batch_q = self.batch_queries(nq, k, &params)?;
            let mut gpu_total = Some(0.0);
            for q in queries.chunks(batch_q * d) {
                let norms = squared_norms(q, d);
                let (pending, cap) = self.submit(q, &norms, k, &params)?;
                let batch = IvfBatch::from_report(pending.await?, cap)?;
                self.absorb(batch, q, k, &params, &mut result, &mut gpu_total)?;
            }
            Ok(finished(result, gpu_total, params.timed))
        }
    }

    /// Writes a batch's queries (and their norms) and submits their search; the plan is held
    /// only while the batch is recorded (see `index::InFlight`). Returns the pending report
    /// and the plan's keys capacity (to read the report with).
    fn submit(
        &self,
        q: &[f32],
        norms: &[f32],
        k: usize,
        params: &SearchParams,
    ) -> Result<(InFlight, Option<usize>)> {
        let plan = self.plan(q.len() / self.dim, k, params)?;
        let p = plan.lock().unwrap_or_else(|p| p.into_inner());
        let pending: InFlight =
            Box::pin(p.record(&self.gpu, q, norms, params.timed)?.finish_async());
        Ok((pending, p.keys_cap()))
    }

    /// Searches one batch `q` with a blocking wait; a batch whose keys overflowed the plan's
    /// capacity is searched again in two halves (recursively: small batches always fit).
    fn search_batch(&self, q: &[f32], k: usize, params: &SearchParams) -> Result<IvfBatch> {
        let d = self.dim;
        let batch = {
            let plan = self.plan(q.len() / d, k, params)?;
            let plan = plan.lock().unwrap_or_else(|p| p.into_inner());
            plan.run(&self.gpu, q, &squared_norms(q, d), params.timed)?
        };
        if !batch.overflow {
            return Ok(batch);
        }
        self.search_halves(q, k, params)
    }

    /// [`Self::search_batch`] of each half of `q`, joined.
    fn search_halves(&self, q: &[f32], k: usize, params: &SearchParams) -> Result<IvfBatch> {
        self.overflows
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d = self.dim;
        let nq = q.len() / d;
        if nq < 2 {
            return Err(Error::Gpu(
                "IVF keys scan: one query's keys exceed the plan's capacity".into(),
            ));
        }
        let (a, b) = q.split_at(nq / 2 * d);
        let (mut first, second) = (
            self.search_batch(a, k, params)?,
            self.search_batch(b, k, params)?,
        );
        first.values.extend(second.values);
        first.ids.extend(second.ids);
        first.gpu_seconds = first
            .gpu_seconds
            .zip(second.gpu_seconds)
            .map(|(x, y)| x + y);
        Ok(first)
    }

    /// Adds one batch's results (of queries `q`, in submission order) to the result and its
    /// GPU time to `gpu`; an overflowed batch is searched again in halves first.
    fn absorb(
        &self,
        batch: IvfBatch,
        q: &[f32],
        k: usize,
        params: &SearchParams,
        result: &mut SearchResult,
        gpu: &mut Option<f64>,
    ) -> Result<()> {
        let batch = if batch.overflow {
            self.search_halves(q, k, params)?
        } else {
            batch
        };
        *gpu = gpu.zip(batch.gpu_seconds).map(|(a, b)| a + b);
        result.append(batch.values, batch.ids);
        Ok(())
    }

    /// Checks a search's input (see [`start_search`]; also training and nprobe).
    fn check_search(
        &self,
        queries: &[f32],
        k: usize,
        params: &SearchParams,
    ) -> Result<crate::index::Started> {
        let started = start_search(queries, self.dim, k, self.ntotal, self.metric)?;
        if self.centroids.is_none() {
            return Err(untrained());
        }
        if !matches!(
            params.precision,
            crate::index::Precision::Exact | crate::index::Precision::F32
        ) {
            return Err(Error::InvalidArgument(format!(
                "search: precision {:?} is implemented for the flat index only; IVF searches are f32",
                params.precision
            )));
        }
        let nprobe = params.nprobe;
        if nprobe == 0 || nprobe > self.nlist {
            return Err(Error::InvalidArgument(format!(
                "search: nprobe = {nprobe}, expected 1..={}",
                self.nlist
            )));
        }
        Ok(started)
    }

    /// An arena with `rows` free rows after its `used` ones: the last arena, grown by doubling
    /// within one storage binding, or a new one when it cannot grow that far. A list longer
    /// than one binding holds is an error (a list lives in one arena).
    fn room(&mut self, rows: usize) -> Result<usize> {
        let d = self.dim;
        let limit = self.gpu.granules_per_binding::<f32>(d)?;
        if rows > limit {
            return Err(Error::InvalidArgument(format!(
                "IVF: a list of {rows} vectors of {d} exceeds one storage binding ({limit} vectors); use more lists"
            )));
        }
        if let Some(a) = self.arenas.last() {
            let last = self.arenas.len() - 1;
            if a.used + rows <= a.cap {
                return Ok(last);
            }
            let want = (a.used + rows).max(2 * a.cap).max(1024).min(limit);
            if want >= a.used + rows {
                self.grow(last, want)?;
                return Ok(last);
            }
        }
        let arena = Arena::new(&self.gpu, rows.max(1024).min(limit), d)?;
        self.arenas.push(arena);
        Ok(self.arenas.len() - 1)
    }

    /// Reallocates arena `a` with `rows` rows, keeping its used rows.
    fn grow(&mut self, a: usize, rows: usize) -> Result<()> {
        let d = self.dim;
        let mut new = Arena::new(&self.gpu, rows, d)?;
        let old = &self.arenas[a];
        if old.used > 0 {
            let mut batch = self.gpu.batch(false);
            batch.copy(
                old.data.raw(),
                0,
                new.data.raw(),
                0,
                (old.used * d * 4) as u64,
            );
            batch.copy(
                old.norms.raw(),
                0,
                new.norms.raw(),
                0,
                (old.used * 4) as u64,
            );
            batch.finish()?;
        }
        new.used = old.used;
        new.row_ids[..old.used].copy_from_slice(&old.row_ids[..old.used]);
        self.arenas[a] = new;
        Ok(())
    }

    /// A region of `cap` rows for a list (at the end of an arena with room).
    fn allocate(&mut self, cap: usize) -> Result<Region> {
        let a = self.room(cap)?;
        let arena = &mut self.arenas[a];
        let start = arena.used;
        arena.used += cap;
        Ok(Region {
            arena: a,
            start,
            len: 0,
            cap,
        })
    }

    /// Stores vectors (prepared) with their ids.
    fn insert(&mut self, data: &[f32], ids: &[i64]) -> Result<()> {
        self.forget_plans();
        let d = self.dim;
        let assign = self.assign(data)?;
        let mut per_list: Vec<Vec<usize>> = vec![Vec::new(); self.nlist];
        for (i, &l) in assign.iter().enumerate() {
            per_list[l].push(i);
        }
        // Every list that outgrows its region moves, alone, to a region twice as large at the
        // end of an arena with room. The new regions are allocated first (arenas may grow or be
        // added, keeping their rows), then the lists are copied through a scratch buffer (a
        // copy may not have one buffer at both ends).
        let limit = self.gpu.granules_per_binding::<f32>(d)?;
        let mut moves: Vec<(usize, Region)> = Vec::new();
        for (l, new) in per_list.iter().enumerate() {
            let r = self.lists[l];
            if !new.is_empty() && r.len + new.len() > r.cap {
                // Doubling, but never past what one arena holds unless the list needs it
                // (then `allocate` says it does not fit).
                let cap = (r.len + new.len())
                    .max((2 * r.cap).min(limit))
                    .max(MIN_LIST_CAP);
                moves.push((l, self.allocate(cap)?));
            }
        }
        let gpu = self.gpu.clone();
        let moved: usize = moves.iter().map(|&(l, _)| self.lists[l].len).sum();
        if moved > 0 {
            let scratch = gpu.alloc::<f32>(moved * d)?;
            let scratch_n = gpu.alloc::<f32>(moved)?;
            let mut batch = gpu.batch(false);
            let mut at = 0;
            for &(l, _) in &moves {
                let r = self.lists[l];
                let src = &self.arenas[r.arena];
                batch.copy(
                    src.data.raw(),
                    (r.start * d * 4) as u64,
                    scratch.raw(),
                    (at * d * 4) as u64,
                    (r.len * d * 4) as u64,
                );
                batch.copy(
                    src.norms.raw(),
                    (r.start * 4) as u64,
                    scratch_n.raw(),
                    (at * 4) as u64,
                    (r.len * 4) as u64,
                );
                at += r.len;
            }
            let mut at = 0;
            for &(l, to) in &moves {
                let r = self.lists[l];
                let dst = &self.arenas[to.arena];
                batch.copy(
                    scratch.raw(),
                    (at * d * 4) as u64,
                    dst.data.raw(),
                    (to.start * d * 4) as u64,
                    (r.len * d * 4) as u64,
                );
                batch.copy(
                    scratch_n.raw(),
                    (at * 4) as u64,
                    dst.norms.raw(),
                    (to.start * 4) as u64,
                    (r.len * 4) as u64,
                );
                at += r.len;
            }
            batch.finish()?;
        }
        for &(l, to) in &moves {
            let r = self.lists[l];
            let ids: Vec<i64> = self.arenas[r.arena].row_ids[r.start..r.start + r.len].to_vec();
            self.arenas[to.arena].row_ids[to.start..to.start + r.len].copy_from_slice(&ids);
            self.lists[l] = Region { len: r.len, ..to };
        }
        // The new vectors, one contiguous write per list.
        let norms = squared_norms(data, d);
        for (l, new) in per_list.iter().enumerate() {
            if new.is_empty() {
                continue;
            }
            let r = self.lists[l];
            let rows: Vec<f32> = new
                .iter()
                .flat_map(|&i| data[i * d..(i + 1) * d].iter().copied())
                .collect();
            let nrm: Vec<f32> = new.iter().map(|&i| norms[i]).collect();
            let arena = &mut self.arenas[r.arena];
            gpu.write_at(&arena.data, (r.start + r.len) * d, &rows)?;
            gpu.write_at(&arena.norms, r.start + r.len, &nrm)?;
            for (j, &i) in new.iter().enumerate() {
                arena.row_ids[r.start + r.len + j] = ids[i];
            }
            self.lists[l].len += new.len();
        }
        self.ntotal += assign.len();
        Ok(())
    }

    /// The ids of a list's vectors.
    fn list_ids(&self, r: &Region) -> &[i64] {
        match self.arenas.get(r.arena) {
            Some(a) => &a.row_ids[r.start..r.start + r.len],
            None => &[],
        }
    }

    /// Every stored vector with its id, list by list.
    fn contents(&self) -> Result<Vec<(Vec<i64>, Vec<f32>)>> {
        let d = self.dim;
        let mut out = Vec::with_capacity(self.nlist);
        let ranges: Vec<_> = self
            .lists
            .iter()
            .filter(|r| r.len > 0)
            .map(|r| {
                (
                    self.arenas[r.arena].data.raw(),
                    (r.start * d * 4) as u64,
                    (r.len * d * 4) as u64,
                )
            })
            .collect();
        let mut bytes = self.gpu.read_bytes(&ranges)?.into_iter();
        for r in &self.lists {
            let ids = self.list_ids(r).to_vec();
            let vecs = if r.len > 0 {
                bytes.next().expect("one range per list").into_vec()?
            } else {
                Vec::new()
            };
            out.push((ids, vecs));
        }
        Ok(out)
    }

    /// Rebuilds the storage from per-list contents (compacting it).
    fn rebuild(&mut self, contents: Vec<(Vec<i64>, Vec<f32>)>) -> Result<()> {
        self.forget_plans();
        let d = self.dim;
        self.arenas.clear();
        self.lists = vec![Region::default(); self.nlist];
        self.ntotal = 0;
        for (l, (ids, vecs)) in contents.into_iter().enumerate() {
            if ids.is_empty() {
                continue;
            }
            let mut r = self.allocate(ids.len().max(MIN_LIST_CAP))?;
            let arena = &mut self.arenas[r.arena];
            self.gpu.write_at(&arena.data, r.start * d, &vecs)?;
            self.gpu
                .write_at(&arena.norms, r.start, &squared_norms(&vecs, d))?;
            arena.row_ids[r.start..r.start + ids.len()].copy_from_slice(&ids);
            r.len = ids.len();
            self.lists[l] = r;
            self.ntotal += ids.len();
        }
        Ok(())
    }

    /// Loads an index written by [`Index::save`].
    pub fn load(gpu: &Gpu, path: &Path) -> Result<IvfFlatIndex> {
        let mut r = Reader::open(path, KIND_IVF_FLAT)?;
        let metric = Metric::from_code(r.u32()?).ok_or_else(|| r.error("unknown metric code"))?;
        let explicit = match r.u32()? {
            0 => None,
            1 => Some(false),
            2 => Some(true),
            m => return Err(r.error(format!("unknown id mode {m}"))),
        };
        let dim = r.u64()? as usize;
        let nlist = r.u64()? as usize;
        let next_id = r.u64()? as i64;
        let trained = r.u32()? == 1;
        if dim == 0 || nlist == 0 || dim > 1 << 20 || nlist > 1 << 24 {
            return Err(r.error(format!("bad shape: {nlist} lists of dimension {dim}")));
        }
        let centroids = if trained {
            Some(r.values::<f32>(nlist * dim)?)
        } else {
            None
        };
        let mut contents = Vec::with_capacity(nlist);
        for _ in 0..nlist {
            let len = r.u64()? as usize;
            let ids = r.values::<i64>(len)?;
            let vecs = r.values::<f32>(len.checked_mul(dim).ok_or_else(|| r.error("overflow"))?)?;
            contents.push((ids, vecs));
        }
        r.done()?;
        let mut index = IvfFlatIndex::new(gpu, dim, nlist, metric)?;
        if let Some(c) = centroids {
            if c.iter().any(|v| !v.is_finite()) {
                return Err(r.error("non-finite centroids"));
            }
            index.set_centroids(c)?;
        } else if contents.iter().any(|c| !c.0.is_empty()) {
            return Err(r.error("vectors in an untrained index"));
        }
        index.rebuild(contents)?;
        index.explicit = explicit;
        index.next_id = next_id;
        Ok(index)
    }
}

fn untrained() -> Error {
    Error::InvalidArgument("IVF: the index is not trained (call train first)".into())
}

impl Index for IvfFlatIndex {
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
        self.centroids.is_some()
    }

    fn train(&mut self, data: &[f32]) -> Result<()> {
        let n = check_vectors(data, self.dim, "train")?;
        if self.ntotal > 0 {
            return Err(Error::InvalidArgument(
                "train: the index holds vectors; reset it first".into(),
            ));
        }
        if n < self.nlist {
            return Err(Error::InvalidArgument(format!(
                "train: {n} vectors for {} lists (need at least one per list)",
                self.nlist
            )));
        }
        let data = self.prepared(data);
        let mut km = kmeans_checked(&self.gpu, &data, self.dim, self.nlist, &self.kmeans)?;
        self.set_centroids(std::mem::take(&mut km.centroids))?;
        self.last_training = Some(km);
        Ok(())
    }

    fn add(&mut self, data: &[f32]) -> Result<()> {
        let n = check_vectors(data, self.dim, "add")?;
        if self.centroids.is_none() {
            return Err(untrained());
        }
        if self.explicit == Some(true) && self.ntotal > 0 {
            return Err(Error::InvalidArgument(
                "add: this index holds caller ids; use add_with_ids".into(),
            ));
        }
        let ids: Vec<i64> = (self.next_id..self.next_id + n as i64).collect();
        let data = self.prepared(data);
        self.insert(&data, &ids)?;
        self.next_id += n as i64;
        self.explicit = Some(false);
        Ok(())
    }

    fn add_with_ids(&mut self, data: &[f32], ids: &[i64]) -> Result<()> {
        let n = check_vectors(data, self.dim, "add_with_ids")?;
        if ids.len() != n {
            return Err(Error::InvalidArgument(format!(
                "add_with_ids: {} ids for {n} vectors",
                ids.len()
            )));
        }
        if self.centroids.is_none() {
            return Err(untrained());
        }
        if self.explicit == Some(false) && self.ntotal > 0 {
            return Err(Error::InvalidArgument(
                "add_with_ids: this index holds sequential ids (vectors were added with add)"
                    .into(),
            ));
        }
        let data = self.prepared(data);
        self.insert(&data, ids)?;
        self.explicit = Some(true);
        Ok(())
    }

    fn search(&self, queries: &[f32], k: usize, params: &SearchParams) -> Result<SearchResult> {
        let (nq, mut result) = match self.check_search(queries, k, params)? {
            Ok(start) => start,
            Err(done) => return Ok(done),
        };
        let d = self.dim;
        let queries = self.prepared(queries);
        let batch_q = self.batch_queries(nq, k, params)?;
        let mut gpu_total = Some(0.0);
        if nq <= batch_q {
            // One submission: a blocking wait (no polling thread between device and caller).
            let batch = self.search_batch(&queries, k, params)?;
            result.append(batch.values, batch.ids);
            return Ok(finished(result, batch.gpu_seconds, params.timed));
        }
        // Several batches: up to `submit.in_flight` submitted at once (see `index::InFlight`),
        // collected in order.
        let depth = search_depth(&self.gpu);
        let mut queue = std::collections::VecDeque::new();
        let mut take = |(pending, cap, q): (InFlight, Option<usize>, &[f32])| -> Result<()> {
            let batch = IvfBatch::from_report(pollster::block_on(pending)?, cap)?;
            self.absorb(batch, q, k, params, &mut result, &mut gpu_total)
        };
        for q in queries.chunks(batch_q * d) {
            let norms = squared_norms(q, d);
            let (pending, cap) = self.submit(q, &norms, k, params)?;
            queue.push_back((pending, cap, q));
            if queue.len() >= depth {
                take(queue.pop_front().expect("queued"))?;
            }
        }
        while let Some(next) = queue.pop_front() {
            take(next)?;
        }
        Ok(finished(result, gpu_total, params.timed))
    }

    /// One submission of one plan (queries within [`IvfFlatIndex::batch_queries`], the plan's
    /// dispatches within one command buffer): the plan is taken and its search recorded and
    /// sealed, then `gather` gives the queries, which are checked, written and submitted. A
    /// batch whose keys overflow the plan is searched again in halves, as usual.
    fn search_recorded_ahead(
        &self,
        nq: usize,
        k: usize,
        params: &SearchParams,
        gather: &mut dyn FnMut() -> Option<Vec<f32>>,
    ) -> Option<Result<SearchResult>> {
        let searchable = nq > 0
            && k > 0
            && self.ntotal > 0
            && self.centroids.is_some()
            && (1..=self.nlist).contains(&params.nprobe)
            && matches!(
                params.precision,
                crate::index::Precision::Exact | crate::index::Precision::F32
            );
        if !searchable || nq > self.batch_queries(nq, k, params).ok()? {
            return None;
        }
        let plan = self.plan(nq, k, params).ok()?;
        let plan = plan.lock().unwrap_or_else(|p| p.into_inner());
        let mut batch = plan.record_commands(&self.gpu, params.timed);
        let queries = crate::index::seal_and_gather(&mut batch, gather)?;
        Some((|| {
            let (got, mut result) = match self.check_search(&queries, k, params)? {
                Ok(start) => start,
                Err(done) => return Ok(done),
            };
            crate::index::check_gathered(got, nq)?;
            let queries = self.prepared(&queries);
            plan.write_queries(&self.gpu, &queries, &squared_norms(&queries, self.dim))?;
            let searched = plan.parse(batch.finish()?)?;
            drop(plan);
            let mut gpu = Some(0.0);
            self.absorb(searched, &queries, k, params, &mut result, &mut gpu)?;
            Ok(finished(result, gpu, params.timed))
        })())
    }

    fn remove_ids(&mut self, ids: &[i64]) -> Result<usize> {
        let remove: std::collections::HashSet<i64> = ids.iter().copied().collect();
        let hit = self
            .lists
            .iter()
            .any(|r| self.list_ids(r).iter().any(|i| remove.contains(i)));
        if !hit {
            return Ok(0);
        }
        let d = self.dim;
        let before = self.ntotal;
        let contents = self
            .contents()?
            .into_iter()
            .map(|(ids, vecs)| {
                let keep: Vec<usize> = (0..ids.len())
                    .filter(|&i| !remove.contains(&ids[i]))
                    .collect();
                (
                    keep.iter().map(|&i| ids[i]).collect(),
                    keep.iter()
                        .flat_map(|&i| vecs[i * d..(i + 1) * d].iter().copied())
                        .collect(),
                )
            })
            .collect();
        self.rebuild(contents)?;
        Ok(before - self.ntotal)
    }

    fn reconstruct(&self, id: i64) -> Result<Vec<f32>> {
        for r in &self.lists {
            if let Some(i) = self.list_ids(r).iter().position(|&x| x == id) {
                let bytes = self.gpu.read_bytes(&[(
                    self.arenas[r.arena].data.raw(),
                    ((r.start + i) * self.dim * 4) as u64,
                    (self.dim * 4) as u64,
                )])?;
                return Ok(bytemuck::pod_collect_to_vec(&bytes[0]));
            }
        }
        Err(Error::InvalidArgument(format!(
            "reconstruct: no vector has id {id}"
        )))
    }

    fn reset(&mut self) -> Result<()> {
        self.forget_plans();
        self.arenas.clear();
        self.lists = vec![Region::default(); self.nlist];
        self.ntotal = 0;
        self.explicit = None;
        Ok(())
    }

    fn save(&self, path: &Path) -> Result<()> {
        let mut w = Writer::new(KIND_IVF_FLAT);
        w.u32(self.metric.code());
        w.u32(match self.explicit {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
        w.u64(self.dim as u64);
        w.u64(self.nlist as u64);
        w.u64(self.next_id as u64);
        w.u32(u32::from(self.centroids.is_some()));
        if let Some(c) = &self.centroids {
            w.values(&c.host);
        }
        for (ids, vecs) in self.contents()? {
            w.u64(ids.len() as u64);
            w.values(&ids);
            w.values(&vecs);
        }
        w.finish(path)
    }
}

/// A search's result once every batch is in: equal distances ordered by id (the kernels break
/// ties by arena row; every other result presents them by id — which of several equal
/// candidates fills the last place still follows the arena), GPU time when asked for.
fn finished(mut result: SearchResult, gpu: Option<f64>, timed: bool) -> SearchResult {
    result.order_ties_by_id();
    if timed {
        result.gpu_seconds = gpu;
    }
    result
}

//! IVF search in one submission: coarse top-`nprobe` over the centroids, the probes turned into
//! the work items of the list-major scan on the device (`wgsl/ivf.wgsl`: count per list, a
//! scan into blocks of the query tile and list segments, a scatter of each (query, probe)
//! pair into its block; the scan reads each block row's query in place), the fused distance + top-k
//! kernel in work-item mode, and the top-k merge of each query's `nprobe × segments` lists.
//! The host writes the queries, records, and reads `nq × k` results once.
//!
//! Two scans ([`ScanMode`], tuning `ivf.scan`): **fused** keeps a running top-k per work item
//! (the per-item lists are then merged), **keys** writes every (query, list row) value into
//! one contiguous range per query and selects once per query with the top-k kernel over
//! those ranges (positions mapped back to arena rows on the device). Lists of a few hundred
//! rows make the fused scan restart its selection every few tiles; the keys scan pays the
//! write and read of the values instead (4 bytes per pair each way).

use bytemuck::{Pod, Zeroable};

use crate::buffer::GpuBuffer;
use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::kernels::{ELEMENTWISE, IVF, Kernel};
use crate::ops::knn::{
    DbChunk, Dispatch, KnnMetric, KnnPlan, TiledKnn, bind_knn, fill_pass, knn_kernel, loop_segment,
    max_fused_k, prefer_tiled, scan_tiles,
};
use crate::ops::topk::{SegmentMerge, TopKPlan};
use crate::submit::Batch;

/// How an IVF search scans its probed lists (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScanMode {
    /// A running top-k per work item, the items' lists merged per query.
    Fused,
    /// Every value written, one top-k per query over its range.
    Keys,
}

impl std::str::FromStr for ScanMode {
    type Err = Error;

    /// `fused` or `keys`.
    fn from_str(s: &str) -> Result<ScanMode> {
        match s {
            "fused" => Ok(ScanMode::Fused),
            "keys" => Ok(ScanMode::Keys),
            other => Err(Error::InvalidArgument(format!(
                "IVF scan {other:?}: expected fused or keys"
            ))),
        }
    }
}

/// The largest k for which `auto` picks the fused scan: beyond it the fused kernel's lists
/// take most of its shared memory and its tiles shrink (on an H100, 2026-11-26, k = 100 at
/// nprobe 64: fused 408 ms of GPU time, keys 7.5 ms).
pub const AUTO_FUSED_MAX_K: usize = 32;

/// The scan of a search of `nq` queries with k results on this adapter: `requested`, else
/// the tuning's `ivf.scan` (`auto`: the keys scan beyond [`AUTO_FUSED_MAX_K`] and for batches
/// of at least `ivf.auto_keys_queries` queries where that is set, else fused). The fused scan
/// only where its lists hold k (see [`max_fused_k`]); beyond, the keys scan, which serves
/// every k up to 2048.
pub fn scan_mode(gpu: &Gpu, nq: usize, k: usize, requested: Option<ScanMode>) -> ScanMode {
    let t = gpu.tuning();
    let from = t.int("ivf.auto_keys_queries") as usize;
    let wanted = requested.unwrap_or(match t.choice("ivf.scan") {
        "keys" => ScanMode::Keys,
        "fused" => ScanMode::Fused,
        _ if k > AUTO_FUSED_MAX_K || (from > 0 && nq >= from) => ScanMode::Keys,
        _ => ScanMode::Fused,
    });
    if wanted == ScanMode::Fused && scan_tiles(gpu, usize::MAX, k).is_none() {
        return ScanMode::Keys;
    }
    wanted
}

/// The longest list and the most rows any `nprobe` lists hold together.
fn list_extent(lens: &[usize], nprobe: usize) -> (usize, usize) {
    let max = lens.iter().copied().max().unwrap_or(0);
    let n = nprobe.min(lens.len());
    if n == lens.len() {
        return (max, lens.iter().sum());
    }
    // The n longest, unordered (a search's sizing runs on every search: no full sort).
    let mut v = lens.to_vec();
    v.select_nth_unstable_by(n, |a, b| b.cmp(a));
    (max, v[..n].iter().sum())
}

/// The coarse step: fused for few probes, distance tile + top-k for many.
enum Coarse {
    Fused(Box<KnnPlan>),
    Tiled(Box<TiledKnn>),
}

impl Coarse {
    fn record(&self, batch: &mut Batch<'_>) {
        match self {
            Coarse::Fused(p) => p.record(batch),
            Coarse::Tiled(p) => p.record(batch),
        }
    }

    fn ids(&self) -> &GpuBuffer<u32> {
        match self {
            Coarse::Fused(p) => p.outputs().1,
            Coarse::Tiled(p) => p.outputs().1,
        }
    }
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct Params {
    pairs: u32,
    nprobe: u32,
    nlist: u32,
    rows: u32,
    items_cap: u32,
    wg_x: u32,
    seg_len: u32,
    k: u32,
    arenas: u32,
    keys_cap: u32,
    _pad: [u32; 2],
}

/// The storage an IVF search plan reads: the lists in one or more arenas.
pub struct IvfStorage<'a> {
    /// The arenas (one scan dispatch each); `id0` is the arena's first row over all arenas
    /// (rows are numbered arena after arena).
    pub arenas: Vec<DbChunk<'a>>,
    /// Per list `(first row in its arena, rows, arena, first row over all arenas)`:
    /// `4 × nlist` values.
    pub regions: &'a GpuBuffer<u32>,
    /// The 64-bit id of each row over all arenas as (low, high) u32 pairs (results are mapped
    /// on the device).
    pub row_ids: &'a GpuBuffer<u32>,
    /// Rows of each list, on the host.
    pub lens: &'a [usize],
}

/// A planned IVF search of batches of `nq` queries (see the module documentation). Valid for
/// the storage it was made with: plan again after the lists change.
pub struct IvfSearchPlan {
    queries: GpuBuffer<f32>,
    qnorms: GpuBuffer<f32>,
    coarse: Coarse,
    passes: Vec<Dispatch>,
    select: Select,
    map: Dispatch,
    ids: GpuBuffer<u32>,
    /// Keys scan: the batch's total keys (checked against `keys_cap`).
    status: GpuBuffer<u32>,
    keys_cap: Option<usize>,
    nq: usize,
    k: usize,
    d: usize,
    _buffers: Vec<GpuBuffer<u32>>,
    _floats: Vec<GpuBuffer<f32>>,
}

/// How the results of the scan are selected.
enum Select {
    /// Per-item lists merged per query.
    Fused(SegmentMerge),
    /// One top-k per query over its keys, then positions back to arena rows.
    Keys {
        topk: Box<TopKPlan>,
        positions: Dispatch,
        rows: GpuBuffer<u32>,
    },
}

impl Select {
    fn record(&self, batch: &mut Batch<'_>) {
        match self {
            Select::Fused(m) => m.record(batch),
            Select::Keys {
                topk, positions, ..
            } => {
                topk.record(batch);
                batch.dispatch(&positions.0, &positions.1, positions.2);
            }
        }
    }

    /// Final values, `nq × k`.
    fn values(&self) -> &GpuBuffer<f32> {
        match self {
            Select::Fused(m) => m.values(),
            Select::Keys { topk, .. } => topk.outputs().0,
        }
    }

    /// Arena rows of the results, `nq × k` ([`crate::ops::topk::NONE`] for padding).
    fn rows(&self) -> &GpuBuffer<u32> {
        match self {
            Select::Fused(m) => m.ids(),
            Select::Keys { rows, .. } => rows,
        }
    }
}

/// Scratch sizes of a search plan.
struct Sizing {
    tiles: crate::ops::gemm::Tiles,
    seg_len: usize,
    segs: usize,
    items_cap: usize,
    rows: usize,
    /// Fused: per-(pair, segment) results. Keys: the values' capacity plus a spill area of
    /// the longest list.
    out_len: usize,
    /// The most keys one query can have (keys scan).
    widest: usize,
    /// Keys scan: the values' capacity (the batch's keys beyond it spill, see `ivf.wgsl`).
    keys_cap: usize,
}

/// The scan tiles and scratch sizes of a search of `nq` queries over lists of `lens` rows, or
/// an error when the block rows' tables or the results exceed one storage binding.
#[allow(clippy::too_many_arguments)]
fn sizing(
    gpu: &Gpu,
    nq: usize,
    d: usize,
    k: usize,
    nprobe: usize,
    nlist: usize,
    lens: &[usize],
    mode: ScanMode,
) -> Result<Sizing> {
    let (max_list, widest) = list_extent(lens, nprobe);
    // Scan tiles sized for the queries a list gets on average (the keys scan keeps no lists).
    let pairs = nq * nprobe;
    let per_list = pairs.div_ceil(nlist).max(1);
    let list_k = if mode == ScanMode::Keys { 1 } else { k };
    let tiles = scan_tiles(gpu, per_list, list_k).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "IVF search: k = {k} does not fit the scan's workgroup memory on this adapter (at most {})",
            max_fused_k(gpu)
        ))
    })?;
    let tm = tiles.0 as usize;
    let seg_len = loop_segment(gpu, tiles, d, list_k)
        .unwrap_or(u64::from(u32::MAX))
        .min(u64::from(u32::MAX)) as usize;
    let segs = max_list.div_ceil(seg_len).max(1);
    let blocks_cap = pairs.div_ceil(tm) + nlist.min(pairs);
    let items_cap = blocks_cap * segs;
    let rows = blocks_cap * tm;
    let limit = gpu.max_binding_bytes();
    // Keys: every query probing the longest lists bounds the batch's keys; where that bound
    // exceeds a binding, the capacity is the binding (less a spill area) and the batch is
    // accepted while the bound is within `ivf.keys_slack` percent of it (queries rarely all
    // probe the longest lists: 0.71 of the bound on the SIFT stand-in at nprobe 64). A batch
    // whose keys do not fit after all is reported by the plan and searched again in halves.
    let floats = (limit / 4).min(u64::from(u32::MAX)) as usize;
    let bound = nq.saturating_mul(widest);
    let (keys_cap, keys_ok) = if bound + max_list <= floats {
        (bound, true)
    } else {
        let cap = floats.saturating_sub(max_list);
        // A single query must fit for certain (its halves would be empty).
        let slack = gpu.tuning().int("ivf.keys_slack") as u128;
        (
            cap,
            nq > 1 && (bound as u128) * 100 <= (cap as u128) * slack,
        )
    };
    let out_len = match mode {
        ScanMode::Fused => pairs * segs * k,
        ScanMode::Keys => keys_cap + max_list,
    };
    if (rows * 4) as u64 > limit
        || (out_len * 4) as u64 > limit
        || (mode == ScanMode::Keys
            && (!keys_ok || (keys_cap == 0 && widest > 0) || bound > u32::MAX as usize))
        || items_cap > u32::MAX as usize / 4
        || out_len > u32::MAX as usize
    {
        let keys = if mode == ScanMode::Keys {
            format!(" (keys scan: up to {widest} keys per query)")
        } else {
            String::new()
        };
        return Err(Error::InvalidArgument(format!(
            "IVF search: {nq} queries x {nprobe} probes need {rows} block rows and {out_len} results{keys}, beyond one binding; search in smaller batches or with fewer probes"
        )));
    }
    Ok(Sizing {
        tiles,
        seg_len,
        segs,
        items_cap,
        rows,
        out_len,
        widest,
        keys_cap,
    })
}

/// The largest batch of at most `nq` queries whose search plan fits the storage bindings
/// (`nq` halved until it does), or the error of a single query. `lens`: the rows of each
/// list; `mode`: the scan (from [`scan_mode`]).
#[allow(clippy::too_many_arguments)]
pub fn max_batch(
    gpu: &Gpu,
    nq: usize,
    d: usize,
    k: usize,
    nprobe: usize,
    nlist: usize,
    lens: &[usize],
    mode: ScanMode,
) -> Result<usize> {
    let mut n = nq.max(1);
    loop {
        match sizing(gpu, n, d, k, nprobe, nlist, lens, mode) {
            Ok(_) => return Ok(n),
            Err(e) if n == 1 => return Err(e),
            Err(_) => n = n.div_ceil(2),
        }
    }
}

impl IvfSearchPlan {
    /// Plans the search of `nq` queries of dimension `d`: `centroids` (`nlist` rows) are the
    /// coarse quantizer, `storage` the lists (see [`IvfStorage`]); `mode` the scan (from
    /// [`scan_mode`]: the fused scan must hold k). One submission searches every arena: the
    /// coarse step, the work items and the selection are shared, each arena gets its own
    /// table of items and scan dispatch.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gpu: &Gpu,
        nq: usize,
        d: usize,
        centroids: DbChunk<'_>,
        storage: &IvfStorage<'_>,
        nprobe: usize,
        k: usize,
        metric: KnnMetric,
        mode: ScanMode,
    ) -> Result<IvfSearchPlan> {
        let nlist = centroids.rows;
        let IvfStorage {
            arenas,
            regions,
            row_ids,
            lens,
        } = storage;
        let total_rows: usize = arenas.iter().map(|a| a.rows).sum();
        if nq == 0
            || d == 0
            || nprobe == 0
            || nprobe > nlist
            || arenas.is_empty()
            || regions.len() < 4 * nlist
            || lens.len() != nlist
            || row_ids.len() < 2 * total_rows
        {
            return Err(Error::InvalidArgument(format!(
                "IVF search: {nq} queries, nprobe {nprobe} of {nlist} lists"
            )));
        }
        let queries = gpu.alloc::<f32>(nq * d)?;
        let qnorms = gpu.alloc::<f32>(nq)?;
        let coarse = if prefer_tiled(gpu, nq, nprobe, Some(nlist)) {
            Coarse::Tiled(Box::new(TiledKnn::new(
                gpu, &queries, &qnorms, nq, d, centroids, nprobe, metric,
            )?))
        } else {
            Coarse::Fused(Box::new(KnnPlan::new(
                gpu,
                &queries,
                &qnorms,
                nq,
                d,
                &[centroids],
                nprobe,
                metric,
            )?))
        };
        let Sizing {
            tiles,
            seg_len,
            segs,
            items_cap,
            rows,
            out_len,
            widest,
            keys_cap,
        } = sizing(gpu, nq, d, k, nprobe, nlist, lens, mode)?;
        let pairs = nq * nprobe;
        // Work-item tables: one per arena, each bound at its own offset (aligned).
        let align =
            (gpu.device().limits().min_storage_buffer_offset_alignment as usize / 16).max(1);
        let items_cap = items_cap.next_multiple_of(align);
        let counts = gpu.alloc::<u32>(nlist)?;
        let cursor = gpu.alloc::<u32>(nlist)?;
        let first_block = gpu.alloc::<u32>(nlist)?;
        let items = gpu.alloc::<u32>(4 * items_cap * arenas.len())?;
        let idx = gpu.alloc::<u32>(rows)?;
        let slots = gpu.alloc::<u32>(rows)?;
        let keys = mode == ScanMode::Keys;
        let out_v = gpu.alloc::<f32>(out_len.max(1))?;
        // Fused: the per-item result ids. Keys: the first key of each pair.
        let out_i = gpu.alloc::<u32>(if keys { pairs } else { out_len })?;
        let ranges = gpu.alloc::<u32>(if keys { 2 * nq } else { 1 })?;
        let status = gpu.alloc::<u32>(1)?;
        let ivf = |entry| gpu.kernel(&IVF, entry, &[("WG", 256), ("TM", tiles.0)]);
        let (clear, count, make_items, scatter) = (
            ivf("ivf_clear")?,
            ivf("ivf_count")?,
            ivf("ivf_items")?,
            ivf("ivf_scatter")?,
        );
        let grid = |n: usize| {
            let (x, y) = gpu.grid((n as u32).div_ceil(256).max(1));
            (x, y, 1)
        };
        let params = |n: usize| {
            gpu.uniform(&Params {
                pairs: pairs as u32,
                nprobe: nprobe as u32,
                nlist: nlist as u32,
                rows: rows as u32,
                items_cap: items_cap as u32,
                wg_x: grid(n).0,
                seg_len: seg_len.min(u32::MAX as usize) as u32,
                k: k as u32,
                arenas: arenas.len() as u32,
                keys_cap: keys_cap.min(u32::MAX as usize) as u32,
                _pad: [0; 2],
            })
        };
        // Each entry point's layout holds only the bindings it uses.
        let tables = |kernel: &Kernel, p: &wgpu::Buffer, used: &[u32]| {
            gpu.bind_used(
                kernel,
                &[
                    (0, p.as_entire_binding()),
                    (1, coarse.ids().binding()),
                    (2, regions.binding()),
                    (3, counts.binding()),
                    (4, cursor.binding()),
                    (5, first_block.binding()),
                    (6, items.binding()),
                    (7, idx.binding()),
                    (8, slots.binding()),
                    (9, ranges.binding()),
                    (10, out_i.binding()),
                    (13, status.binding()),
                ],
                &[&[0], used].concat(),
            )
        };
        let n_clear = rows.max(nlist);
        let p_clear = params(n_clear);
        let p_pairs = params(pairs);
        let p_one = params(1);
        let mut passes: Vec<Dispatch> = vec![
            (
                clear.clone(),
                tables(&clear, &p_clear, &[3, 4, 7, 8]),
                grid(n_clear),
            ),
            (
                count.clone(),
                tables(&count, &p_pairs, &[1, 2, 3]),
                grid(pairs),
            ),
            (
                make_items.clone(),
                tables(&make_items, &p_one, &[2, 3, 5, 6]),
                (1, 1, 1),
            ),
            (
                scatter.clone(),
                tables(&scatter, &p_pairs, &[1, 2, 4, 5, 7, 8]),
                grid(pairs),
            ),
        ];
        // Pad every output list (fused) or lay out each query's keys (keys); the scan, one
        // workgroup per item slot (empty ones do nothing), reads each block row's query in
        // place through `idx`.
        let nq_grid = grid(nq);
        let scan = if keys {
            let (widths, offsets, pair_offsets) = (
                ivf("ivf_widths")?,
                ivf("ivf_offsets")?,
                ivf("ivf_pair_offsets")?,
            );
            let p_q = params(nq);
            passes.push((widths.clone(), tables(&widths, &p_q, &[1, 2, 9]), nq_grid));
            passes.push((
                offsets.clone(),
                tables(&offsets, &p_one, &[9, 13]),
                (1, 1, 1),
            ));
            passes.push((
                pair_offsets.clone(),
                tables(&pair_offsets, &p_q, &[1, 2, 9, 10]),
                nq_grid,
            ));
            crate::ops::knn::store_kernel(gpu, tiles, d, metric)?
        } else {
            passes.push(fill_pass(gpu, &out_v, &out_i, out_len, metric)?);
            knn_kernel(gpu, tiles, d, k, metric, true)?
        };
        // One scan dispatch per arena over its item table (empty entries do nothing); its
        // results carry rows over all arenas (`id0`: the arena's first row).
        let (sx, sy) = gpu.grid(items_cap as u32);
        for (a, arena) in arenas.iter().enumerate() {
            let sp = crate::ops::knn::Params {
                m: rows as u32,
                n: arena.rows as u32,
                k: d as u32,
                lda: d as u32,
                ldb: d as u32,
                seg_len: seg_len as u32,
                segs: items_cap as u32,
                seg0: 0,
                total_segs: segs as u32,
                id0: arena.id0,
                topk: if keys { 1 } else { k as u32 },
                wg_x: sx,
            };
            let table = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: items.raw(),
                offset: (a * items_cap * 16) as u64,
                size: std::num::NonZeroU64::new((items_cap * 16) as u64),
            });
            let scan_bg = bind_knn(
                gpu,
                &scan,
                &sp,
                &queries,
                &qnorms,
                arena,
                (&out_v, &out_i),
                Some((table, &slots, &idx)),
            );
            passes.push((scan.clone(), scan_bg, (sx, sy, 1)));
        }
        let largest = metric == KnnMetric::InnerProduct;
        let mut buffers = vec![counts, cursor, first_block, items, idx, slots];
        let mut floats = Vec::new();
        let select = if keys {
            let topk = TopKPlan::ranged(gpu, &out_v, &ranges, nq, widest, k, largest)?;
            let rows_out = gpu.alloc::<u32>(nq * k)?;
            let kernel = ivf("ivf_positions")?;
            let p_res = params(nq * k);
            let bg = gpu.bind_used(
                &kernel,
                &[
                    (0, p_res.as_entire_binding()),
                    (1, coarse.ids().binding()),
                    (2, regions.binding()),
                    (9, ranges.binding()),
                    (10, out_i.binding()),
                    (11, topk.outputs().1.binding()),
                    (12, rows_out.binding()),
                ],
                &[0, 1, 2, 9, 10, 11, 12],
            );
            buffers.extend([out_i, ranges]);
            floats.push(out_v);
            Select::Keys {
                topk: Box::new(topk),
                positions: (kernel, bg, grid(nq * k)),
                rows: rows_out,
            }
        } else {
            Select::Fused(SegmentMerge::new(
                gpu,
                out_v,
                out_i,
                nq,
                nprobe * segs,
                k,
                largest,
            )?)
        };
        // Rows → 64-bit ids, on the device.
        let ids = gpu.alloc::<u32>(2 * nq * k)?;
        let map = gpu.kernel(&ELEMENTWISE, "map_ids", &[("WG", 256)])?;
        let mp = gpu.uniform(&[(nq * k) as u32, total_rows as u32, grid(nq * k).0, 0]);
        let map_pass = (
            map.clone(),
            gpu.bind(
                &map,
                &[
                    (0, mp.as_entire_binding()),
                    (10, select.rows().binding()),
                    (11, row_ids.binding()),
                    (12, ids.binding()),
                ],
            ),
            grid(nq * k),
        );
        Ok(IvfSearchPlan {
            queries,
            qnorms,
            coarse,
            passes,
            select,
            map: map_pass,
            ids,
            status,
            keys_cap: keys.then_some(keys_cap),
            nq,
            k,
            d,
            _buffers: buffers,
            _floats: floats,
        })
    }

    /// Searches `q` (`nq × d`) with its squared norms: one submission, one readback (see
    /// [`IvfSearchPlan::parse`]).
    pub fn run(&self, gpu: &Gpu, q: &[f32], qnorms: &[f32], timed: bool) -> Result<IvfBatch> {
        let report = self.record(gpu, q, qnorms, timed)?.finish()?;
        self.parse(report)
    }

    /// Writes the queries and records the search with its readback (for
    /// [`Batch::finish_async`]; [`IvfSearchPlan::parse`] reads the report).
    pub fn record<'g>(
        &self,
        gpu: &'g Gpu,
        q: &[f32],
        qnorms: &[f32],
        timed: bool,
    ) -> Result<Batch<'g>> {
        self.write_queries(gpu, q, qnorms)?;
        Ok(self.record_commands(gpu, timed))
    }

    /// Writes the queries (`nq × d`) and their squared norms. `queue.write_buffer` lands at
    /// the start of the next submission, so a batch recorded before by
    /// [`IvfSearchPlan::record_commands`] (sealed, not yet submitted) reads them.
    pub fn write_queries(&self, gpu: &Gpu, q: &[f32], qnorms: &[f32]) -> Result<()> {
        if q.len() != self.nq * self.d || qnorms.len() != self.nq {
            return Err(Error::InvalidArgument(format!(
                "IVF search plan for {} queries of {} got {} values",
                self.nq,
                self.d,
                q.len()
            )));
        }
        gpu.write(&self.queries, q)?;
        gpu.write(&self.qnorms, qnorms)
    }

    /// Records the search with its readback, the queries written apart
    /// ([`IvfSearchPlan::write_queries`], before the batch is submitted).
    pub fn record_commands<'g>(&self, gpu: &'g Gpu, timed: bool) -> Batch<'g> {
        let mut batch = gpu.batch(timed);
        self.coarse.record(&mut batch);
        for (kernel, bg, grid) in &self.passes {
            batch.dispatch(kernel, bg, *grid);
        }
        self.select.record(&mut batch);
        batch.dispatch(&self.map.0, &self.map.1, self.map.2);
        // Results come back with the timestamps in one readback.
        let n = (self.nq * self.k * 4) as u64;
        batch.read_after(&[(self.select.values().raw(), 0, n)]);
        batch.read_after_wide(&[(self.ids.raw(), 0, 2 * n)]);
        batch.read_after(&[(self.status.raw(), 0, 4)]);
        batch
    }

    /// The results from the report of a batch made by [`IvfSearchPlan::record`].
    pub fn parse(&self, report: crate::submit::BatchReport) -> Result<IvfBatch> {
        IvfBatch::from_report(report, self.keys_cap)
    }

    /// The keys scan's capacity (None for the fused scan), for [`IvfBatch::from_report`].
    pub fn keys_cap(&self) -> Option<usize> {
        self.keys_cap
    }
}

impl IvfBatch {
    /// The results from the report of a batch made by [`IvfSearchPlan::record`] of a plan
    /// with this [`IvfSearchPlan::keys_cap`].
    /// The values and ids are taken as read (no second host copy).
    pub fn from_report(
        report: crate::submit::BatchReport,
        keys_cap: Option<usize>,
    ) -> Result<IvfBatch> {
        let gpu_seconds = report.gpu_seconds;
        let [values, ids, status]: [crate::ReadBytes; 3] =
            report
                .reads
                .try_into()
                .map_err(|r: Vec<crate::ReadBytes>| {
                    Error::Gpu(format!("IVF search: {} readbacks, expected 3", r.len()))
                })?;
        let total = bytemuck::pod_read_unaligned::<u32>(&status[..4]) as usize;
        Ok(IvfBatch {
            values: values.into_vec()?,
            ids: ids.into_vec()?,
            gpu_seconds,
            overflow: keys_cap.is_some_and(|cap| total > cap),
        })
    }
}

/// The results of one searched batch.
#[derive(Debug, Clone, PartialEq)]
pub struct IvfBatch {
    /// Per query `k` values (squared distances or inner products), best first.
    pub values: Vec<f32>,
    /// Per query `k` ids, -1 for padding.
    pub ids: Vec<i64>,
    /// GPU time, when timed.
    pub gpu_seconds: Option<f64>,
    /// The keys scan's values did not fit the plan's capacity: the results of the queries
    /// whose keys spilled are padding; search the batch again in smaller parts.
    pub overflow: bool,
}

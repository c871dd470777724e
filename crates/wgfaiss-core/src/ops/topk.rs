//! Top-k selection per row: for each row of an `n × m` f32 matrix, the k smallest (or largest)
//! values and their column ids, sorted, ties broken by the smaller id — exactly what a CPU
//! sort by (value, id) gives. k = 1..=2048, any m (rows shorter than k are padded with id
//! `None` and +inf, or −inf for largest). NaN values are never selected.
//!
//! Long rows are cut into segments, each selected by its own workgroup; the segments'
//! candidates are merged by further passes of the same kernel (with explicit ids) until one
//! list per row is left, so a row of 100M values works. See `wgsl/topk.wgsl` for the kernel.
//!
//! Status: the standalone selection. The fused form (a distance kernel keeping its running
//! top-k without writing distances) is not built yet.

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use crate::buffer::{GpuBuffer, SplitBuffer};
use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::kernels::{Kernel, TOPK};
use crate::submit::Batch;

/// Largest k supported.
pub const MAX_K: usize = 2048;

/// No id (padding when a row has fewer than k values).
pub const NONE: u32 = u32::MAX;

/// Selected values and ids, `rows × k`, best first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TopK {
    /// Values, `rows × k`.
    pub values: Vec<f32>,
    /// Column ids, `rows × k`; `None` where a row had fewer than k values.
    pub ids: Vec<Option<u32>>,
}

/// Per-call overrides of the tuning entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopKOptions {
    /// Elements per segment (one workgroup each); default chosen from the shape.
    pub segment: Option<u32>,
    /// Workgroup size (default `topk.workgroup_size`).
    pub workgroup_size: Option<u32>,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct Params {
    rows: u32,
    cols: u32,
    seg_len: u32,
    segs: u32,
    k: u32,
    wg_x: u32,
    row0: u32,
    _pad: u32,
}

/// Override constants of one top-k pipeline (also used by the naga validation test).
pub fn constants(
    wg: u32,
    kp: u32,
    rpt: u32,
    largest: bool,
    explicit: bool,
) -> Vec<(&'static str, u32)> {
    vec![
        ("WG", wg),
        ("KP", kp),
        ("CP", candidate_slots(wg, kp, rpt)),
        ("RPT", rpt),
        ("LARGEST", u32::from(largest)),
        ("EXPLICIT", u32::from(explicit)),
    ]
}

/// [`constants`] of the ranged first pass (rows of their own lengths anywhere in the input,
/// `(start, len)` per row from the id binding; ids are positions in the row).
pub fn ranged_constants(wg: u32, kp: u32, rpt: u32, largest: bool) -> Vec<(&'static str, u32)> {
    let mut c = constants(wg, kp, rpt, largest, false);
    c.push(("RANGES", 1));
    c
}

/// Candidate buffer slots: four elements per invocation for k ≤ 32 (a merge follows every
/// round that found candidates, cheap at that k, and the small buffer lets more workgroups
/// share an SM), eight above (candidates accumulate to half the buffer before a merge).
/// Measured on an H200 (BENCHMARKS.md) with rounds of four: k = 10 went from 0.90 to 0.64 ms
/// with the smaller buffer, while k = 100 and 1024 were 1.3× and 2–3× slower with it. Rounds
/// of more elements (`rpt` > 4) do not grow the buffer: offers that find it full wait for a
/// merge and are offered again.
pub fn candidate_slots(wg: u32, kp: u32, rpt: u32) -> u32 {
    let rounds = if kp <= 32 { 1 } else { 2 };
    rounds * (wg * rpt.min(4)).next_power_of_two()
}

/// Workgroup memory of a configuration in bytes.
pub fn shared_bytes(wg: u32, kp: u32, rpt: u32) -> u64 {
    (u64::from(kp) + u64::from(candidate_slots(wg, kp, rpt))) * 8 + 16
}

/// Workgroups a selection aims for when choosing segment lengths.
const TARGET_GROUPS: u64 = 2048;

struct Pass {
    kernel: Arc<Kernel>,
    groups: Vec<(wgpu::BindGroup, (u32, u32, u32))>,
}

/// The bind group of one selection pass: values and ids in (no ids for `topk_radix`, which
/// does not declare them), values and ids out.
fn bind_pass(
    gpu: &Gpu,
    kernel: &Kernel,
    params: &wgpu::Buffer,
    values: &GpuBuffer<f32>,
    ids: Option<&GpuBuffer<u32>>,
    out: (&GpuBuffer<f32>, &GpuBuffer<u32>),
) -> wgpu::BindGroup {
    let mut entries = vec![
        (0, params.as_entire_binding()),
        (1, values.binding()),
        (3, out.0.binding()),
        (4, out.1.binding()),
    ];
    if let Some(ids) = ids {
        entries.push((2, ids.binding()));
    }
    gpu.bind(kernel, &entries)
}

/// Whether [`TopKPlan::new`] selects rows of `cols` with the radix kernel (`topk_radix`):
/// k of at least `topk.radix_min_k` (0: never) from rows of at most `topk.radix_max_cols`,
/// on an adapter with 256 invocations and the workgroup memory. On an H100 (10 000 rows of
/// 4 096, an IVF search's coarse step) the filter kernel took 0.685 ms for k = 64 and 1.0 ms
/// for k = 128, filling each row's list from empty by bitonic sorts; the radix kernel 0.489
/// and 0.525 ms (torch.topk 0.779 ms for k = 64).
pub fn uses_radix(gpu: &Gpu, cols: usize, k: usize) -> bool {
    let t = gpu.tuning();
    let caps = gpu.capabilities();
    let min_k = t.int("topk.radix_min_k") as usize;
    let kp = (k as u64).next_power_of_two();
    min_k > 0
        && k >= min_k
        && cols <= t.int("topk.radix_max_cols") as usize
        && caps.max_invocations_per_workgroup >= 256
        && kp * 8 + 256 * 8 + 16 <= u64::from(caps.workgroup_memory_bytes)
}

/// A top-k selection planned over a matrix on the device (split at row boundaries).
pub struct TopKPlan {
    first: Pass,
    /// The filter kernel's workgroup size (the radix kernel's are its own).
    wg: u32,
    merge: SegmentMerge,
    /// The stand-in id binding of a first pass that reads no ids.
    _no_ids: Option<GpuBuffer<u32>>,
}

/// One input of a first pass: values, the id binding, rows, first output row.
type Input<'a> = (&'a GpuBuffer<f32>, &'a GpuBuffer<u32>, usize, usize);

impl TopKPlan {
    /// Plans the selection of the `k` smallest (or `largest`) values of each row of `data`,
    /// `rows × cols` row-major (uploaded with `upload_split(.., cols)`).
    pub fn new(
        gpu: &Gpu,
        data: &SplitBuffer<f32>,
        rows: usize,
        cols: usize,
        k: usize,
        largest: bool,
        opts: &TopKOptions,
    ) -> Result<TopKPlan> {
        TopKPlan::check(data, rows, cols, k)?;
        let cfg = Config::new(gpu, k, rows, largest, opts)?;
        if opts.segment.is_none() && opts.workgroup_size.is_none() && uses_radix(gpu, cols, k) {
            return TopKPlan::radix(gpu, data, &cfg, cols, k);
        }
        let constants = constants(cfg.wg, cfg.kp, cfg.rpt, largest, false);
        TopKPlan::filter(gpu, data, &cfg, (cols, k), (&constants, None))
    }

    /// The argument checks every plan over a matrix makes.
    fn check(data: &SplitBuffer<f32>, rows: usize, cols: usize, k: usize) -> Result<()> {
        if k == 0 || k > MAX_K {
            return Err(Error::InvalidArgument(format!(
                "top-k: k = {k}, expected 1..={MAX_K}"
            )));
        }
        if rows == 0 || cols == 0 || rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::InvalidArgument(format!(
                "top-k: {} values are not {rows} non-empty rows of {cols}",
                data.len()
            )));
        }
        if cols > u32::MAX as usize / 2 || rows > u32::MAX as usize {
            return Err(Error::InvalidArgument(format!(
                "top-k: {rows} x {cols} is too large"
            )));
        }
        if data.starts().iter().any(|s| s % cols != 0) {
            return Err(Error::InvalidArgument(
                "top-k: data must be split at row boundaries (upload_split with granule = cols)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The filter kernel over `data` (with `bounds`: its bounded entry point).
    fn filter(
        gpu: &Gpu,
        data: &SplitBuffer<f32>,
        cfg: &Config,
        (cols, k): (usize, usize),
        pass: (&[(&'static str, u32)], Option<&GpuBuffer<f32>>),
    ) -> Result<TopKPlan> {
        // The first pass reads no ids, but its layout still declares them (the EXPLICIT
        // branch is removed only when the driver compiles the pipeline): bind a stand-in.
        let no_ids = gpu.alloc::<u32>(1)?;
        let inputs: Vec<Input<'_>> = data
            .chunks()
            .iter()
            .zip(data.starts())
            .map(|(chunk, &start)| (chunk, &no_ids, chunk.len() / cols, start / cols))
            .collect();
        let mut plan = TopKPlan::first_and_merge(gpu, cfg, pass, cols, k, &inputs)?;
        plan._no_ids = Some(no_ids);
        Ok(plan)
    }

    /// [`TopKPlan::new`] with a known upper bound of each row's k-th value (lower bound for
    /// `largest`): `bounds[(r + 1) · stride − 1]` for row r — the last of a sorted list of
    /// `stride` values per row, as another plan's output with k = `stride` holds it. Only
    /// values at or within the bound are offered, so the segments need not fill their lists
    /// from empty (`topk_select_bounded`). A bound that cuts into a row's true k best leaves
    /// fewer than k (padded); NaN means no bound. Always the filter kernel.
    pub fn bounded(
        gpu: &Gpu,
        data: &SplitBuffer<f32>,
        (rows, cols, k): (usize, usize, usize),
        largest: bool,
        (bounds, stride): (&GpuBuffer<f32>, usize),
    ) -> Result<TopKPlan> {
        if stride == 0 || bounds.len() < rows * stride {
            return Err(Error::InvalidArgument(format!(
                "top-k: {} bounds are not {rows} rows of {stride}",
                bounds.len()
            )));
        }
        TopKPlan::check(data, rows, cols, k)?;
        let cfg = Config::new(gpu, k, rows, largest, &TopKOptions::default())?;
        let mut constants = constants(cfg.wg, cfg.kp, cfg.rpt, largest, false);
        constants.push(("BOUND_STRIDE", stride as u32));
        TopKPlan::filter(gpu, data, &cfg, (cols, k), (&constants, Some(bounds)))
    }

    /// One workgroup per row finds its k-th key by radix selection (`topk_radix`, see
    /// [`uses_radix`]) and writes the row's k sorted; no merge.
    fn radix(
        gpu: &Gpu,
        data: &SplitBuffer<f32>,
        cfg: &Config,
        cols: usize,
        k: usize,
    ) -> Result<TopKPlan> {
        let kernel = gpu.kernel(
            &TOPK,
            "topk_radix",
            &[("KP", cfg.kp), ("LARGEST", u32::from(cfg.largest))],
        )?;
        let len = cfg.rows * k;
        let (out_v, out_i) = (gpu.alloc::<f32>(len)?, gpu.alloc::<u32>(len)?);
        let mut groups = Vec::new();
        for (chunk, &start) in data.chunks().iter().zip(data.starts()) {
            let rows = chunk.len() / cols;
            let (x, y) = gpu.grid(rows as u32);
            let params = gpu.uniform(&Params {
                rows: rows as u32,
                cols: cols as u32,
                seg_len: cols as u32,
                segs: 1,
                k: k as u32,
                wg_x: x,
                row0: (start / cols) as u32,
                _pad: 0,
            });
            let bg = bind_pass(gpu, &kernel, &params, chunk, None, (&out_v, &out_i));
            groups.push((bg, (x, y, 1)));
        }
        let merge = SegmentMerge::with_config(gpu, cfg, out_v, out_i, cfg.rows, 1, k)?;
        Ok(TopKPlan {
            first: Pass { kernel, groups },
            wg: cfg.wg,
            merge,
            _no_ids: None,
        })
    }

    /// Plans the selection over rows of different lengths in one buffer: row r is
    /// `values[start .. start + len]` with `(start, len)` = `ranges[2r], ranges[2r + 1]`
    /// (written on the device before the selection runs), every `len` at most `max_cols`.
    /// Ids are positions in the row.
    pub fn ranged(
        gpu: &Gpu,
        values: &GpuBuffer<f32>,
        ranges: &GpuBuffer<u32>,
        rows: usize,
        max_cols: usize,
        k: usize,
        largest: bool,
    ) -> Result<TopKPlan> {
        if k == 0 || k > MAX_K || rows == 0 || ranges.len() < 2 * rows {
            return Err(Error::InvalidArgument(format!(
                "ranged top-k: {rows} rows (ranges for {}), k = {k}",
                ranges.len() / 2
            )));
        }
        if max_cols > u32::MAX as usize / 2 || rows > u32::MAX as usize {
            return Err(Error::InvalidArgument(format!(
                "ranged top-k: {rows} rows of up to {max_cols} are too large"
            )));
        }
        let cfg = Config::new(gpu, k, rows, largest, &TopKOptions::default())?;
        let constants = ranged_constants(cfg.wg, cfg.kp, cfg.rpt, largest);
        let inputs = [(values, ranges, rows, 0)];
        TopKPlan::first_and_merge(gpu, &cfg, (&constants, None), max_cols.max(1), k, &inputs)
    }

    /// The first pass over `cols`-wide rows (one dispatch per input: values, the id binding,
    /// its rows, its first row) into per-segment lists, and their merge; with `bounds`, the
    /// bounded entry point reading them.
    fn first_and_merge(
        gpu: &Gpu,
        cfg: &Config,
        (constants, bounds): (&[(&'static str, u32)], Option<&GpuBuffer<f32>>),
        cols: usize,
        k: usize,
        inputs: &[Input<'_>],
    ) -> Result<TopKPlan> {
        let entry = if bounds.is_some() {
            "topk_select_bounded"
        } else {
            "topk_select"
        };
        let kernel = gpu.kernel(&TOPK, entry, constants)?;
        let cols = cols as u32;
        let seg = cfg.segment(cols);
        let segs = cols.div_ceil(seg);
        let len = cfg.rows * segs as usize * k;
        let (out_v, out_i) = (gpu.alloc::<f32>(len)?, gpu.alloc::<u32>(len)?);
        let mut groups = Vec::new();
        for &(values, ids, rows, row0) in inputs {
            let (x, y) = gpu.grid(rows as u32 * segs);
            let params = gpu.uniform(&Params {
                rows: rows as u32,
                cols,
                seg_len: seg,
                segs,
                k: k as u32,
                wg_x: x,
                row0: row0 as u32,
                _pad: 0,
            });
            let bg = match bounds {
                Some(b) => gpu.bind(
                    &kernel,
                    &[
                        (0, params.as_entire_binding()),
                        (1, values.binding()),
                        (2, ids.binding()),
                        (3, out_v.binding()),
                        (4, out_i.binding()),
                        (5, b.binding()),
                    ],
                ),
                None => bind_pass(gpu, &kernel, &params, values, Some(ids), (&out_v, &out_i)),
            };
            groups.push((bg, (x, y, 1)));
        }
        let merge = SegmentMerge::with_config(gpu, cfg, out_v, out_i, cfg.rows, segs, k)?;
        Ok(TopKPlan {
            first: Pass { kernel, groups },
            wg: cfg.wg,
            merge,
            _no_ids: None,
        })
    }

    /// Records the selection.
    pub fn record(&self, batch: &mut Batch<'_>) {
        self.first.record(batch);
        self.merge.record(batch);
    }

    /// The result buffers (`rows × k` values and column ids) of the last recorded run.
    pub fn outputs(&self) -> (&GpuBuffer<f32>, &GpuBuffer<u32>) {
        (self.merge.values(), self.merge.ids())
    }

    /// Number of passes (1 when every row fits one segment).
    pub fn passes(&self) -> usize {
        1 + self.merge.passes.len()
    }

    /// Invocations per workgroup of the filter kernel's passes (the tuning's, or the
    /// caller's; a plan of the radix kernel reports it too, for its merge).
    pub fn workgroup_size(&self) -> u32 {
        self.wg
    }

    /// Poisons the outputs (tests use it before a run).
    pub fn poison(&self, gpu: &Gpu) -> Result<()> {
        self.merge.poison(gpu)
    }

    /// Reads the result of the last recorded run.
    pub fn read(&self, gpu: &Gpu) -> Result<TopK> {
        self.merge.read(gpu)
    }

    /// Asks `batch` to read the result back when it finishes (see [`Self::parse`]).
    pub fn read_after(&self, batch: &mut Batch<'_>) {
        self.merge.read_after(batch);
    }

    /// The result from the ranges [`Self::read_after`] asked for.
    pub fn parse(&self, reads: &[crate::ReadBytes]) -> TopK {
        self.merge.parse(reads)
    }
}

impl Pass {
    fn record(&self, batch: &mut Batch<'_>) {
        for (bg, grid) in &self.groups {
            batch.dispatch(&self.kernel, bg, *grid);
        }
    }
}

/// Workgroup size, list length and loads per round of one selection.
struct Config {
    wg: u32,
    kp: u32,
    rpt: u32,
    rows: usize,
    largest: bool,
    segment: Option<u32>,
}

impl Config {
    fn new(gpu: &Gpu, k: usize, rows: usize, largest: bool, opts: &TopKOptions) -> Result<Config> {
        let caps = gpu.capabilities();
        let t = gpu.tuning();
        // From topk.wide_min_k on, the wider workgroup where its memory fits (a best list of
        // 2 048 merges in half the steps with twice the invocations).
        let kp = (k as u32).next_power_of_two();
        let wide = t.int("topk.wide_min_k");
        let normal = t.int("topk.workgroup_size") as u32;
        let tuned = match t.int("topk.wide_workgroup_size") as u32 {
            w if wide > 0
                && k as u64 >= wide
                && w <= caps.max_invocations_per_workgroup
                && shared_bytes(w, kp, 4) <= u64::from(caps.workgroup_memory_bytes) =>
            {
                w
            }
            _ => normal,
        };
        let wg = opts.workgroup_size.unwrap_or(tuned);
        if !wg.is_power_of_two()
            || !(32..=1024).contains(&wg)
            || wg > caps.max_invocations_per_workgroup
        {
            return Err(Error::InvalidArgument(format!(
                "top-k workgroup size {wg}: expected a power of two in 32..=1024 within the adapter's limit"
            )));
        }
        // Elements per invocation per round: as many as the workgroup memory allows.
        // A multiple of 4 (the kernel loads in steps of four).
        let mut rpt = (t.int("topk.thread_queue") as u32).max(4);
        while rpt > 4 && shared_bytes(wg, kp, rpt) > u64::from(caps.workgroup_memory_bytes) {
            rpt /= 2;
        }
        if shared_bytes(wg, kp, rpt) > u64::from(caps.workgroup_memory_bytes) {
            return Err(Error::InvalidArgument(format!(
                "top-k: k = {k} with workgroups of {wg} needs {} bytes of workgroup memory, the adapter has {}; use a smaller workgroup size",
                shared_bytes(wg, kp, rpt),
                caps.workgroup_memory_bytes
            )));
        }
        Ok(Config {
            wg,
            kp,
            rpt,
            rows,
            largest,
            segment: opts.segment,
        })
    }

    /// Segment length for rows of `len` elements: enough segments for about TARGET_GROUPS
    /// workgroups, none shorter than a few rounds, and never so short that merging costs
    /// more than scanning.
    fn segment(&self, len: u32) -> u32 {
        if let Some(s) = self.segment {
            return s.max(1);
        }
        // Rounds longer than four per invocation do not lengthen segments (they would cut
        // the parallelism of short rows: an IVF query's keys).
        let min_seg = (u64::from(self.wg * self.rpt.min(4)) * 8).max(u64::from(self.kp) * 4);
        let per_row = TARGET_GROUPS.div_ceil(self.rows as u64).max(1);
        let seg = u64::from(len).div_ceil(per_row).max(min_seg);
        seg.min(u64::from(len)) as u32
    }
}

/// Invocations per workgroup of the bounded list merge (`topk_lists`).
const LIST_MERGE_WG: u32 = 256;
/// Entries the bounded list merge holds at once (at least `topk.list_merge_max_k`).
const LIST_MERGE_CAP: u32 = 1024;

/// The merge of per-segment lists: `rows` rows of `segs` sorted lists of `k` (value, id)
/// pairs each, to one list per row — in one pass bounded by the lists' heads (`topk_lists`,
/// k up to `topk.list_merge_max_k`), else in passes of the top-k kernel (explicit ids). With
/// one segment it records nothing and its output is its input.
pub struct SegmentMerge {
    passes: Vec<Pass>,
    out_v: GpuBuffer<f32>,
    out_i: GpuBuffer<u32>,
    rows: usize,
    k: usize,
    /// Inputs and intermediate outputs, kept alive.
    _scratch: (Vec<GpuBuffer<f32>>, Vec<GpuBuffer<u32>>),
}

/// Lists from two ranges read back: values (f32) and ids (u32, [`NONE`] as padding).
pub(crate) fn parse_lists(reads: &[crate::ReadBytes]) -> TopK {
    let values = bytemuck::pod_collect_to_vec(&reads[0]);
    let ids = bytemuck::pod_collect_to_vec::<u8, u32>(&reads[1])
        .into_iter()
        .map(|i| (i != NONE).then_some(i))
        .collect();
    TopK { values, ids }
}

impl SegmentMerge {
    /// Plans the merge of `values`/`ids` (`rows × segs × k`, each list sorted best first by
    /// (value, id), smallest or `largest` values first, id [`NONE`] as padding).
    pub fn new(
        gpu: &Gpu,
        values: GpuBuffer<f32>,
        ids: GpuBuffer<u32>,
        rows: usize,
        segs: usize,
        k: usize,
        largest: bool,
    ) -> Result<SegmentMerge> {
        if k == 0 || k > MAX_K || rows == 0 || segs == 0 || segs > u32::MAX as usize / k {
            return Err(Error::InvalidArgument(format!(
                "top-k merge: {rows} rows of {segs} lists of {k}"
            )));
        }
        if values.len() != rows * segs * k || ids.len() != values.len() {
            return Err(Error::InvalidArgument(format!(
                "top-k merge: {} values and {} ids are not {rows} x {segs} x {k}",
                values.len(),
                ids.len()
            )));
        }
        let cfg = Config::new(gpu, k, rows, largest, &TopKOptions::default())?;
        SegmentMerge::with_config(gpu, &cfg, values, ids, rows, segs as u32, k)
    }

    fn with_config(
        gpu: &Gpu,
        cfg: &Config,
        mut out_v: GpuBuffer<f32>,
        mut out_i: GpuBuffer<u32>,
        rows: usize,
        mut segs: u32,
        k: usize,
    ) -> Result<SegmentMerge> {
        if segs > 1 && k as u64 <= gpu.tuning().int("topk.list_merge_max_k") {
            return SegmentMerge::bounded(gpu, cfg.largest, out_v, out_i, rows, segs, k);
        }
        let merge = gpu.kernel(
            &TOPK,
            "topk_select",
            &constants(cfg.wg, cfg.kp, cfg.rpt, cfg.largest, true),
        )?;
        let (mut passes, mut scratch, mut scratch_ids) = (Vec::new(), Vec::new(), Vec::new());
        while segs > 1 {
            let len = segs * k as u32;
            let mut seg = cfg.segment(len).max(2 * k as u32);
            if len.div_ceil(seg) == 2 && cfg.segment.is_none() {
                // Two lists would need a second pass of its own: one workgroup reads twice
                // as much instead (one query of the streaming k-NN: 0.047 ms in two passes
                // over 489 lists of 10 on an H100).
                seg = len;
            }
            let next = len.div_ceil(seg);
            let nv = gpu.alloc::<f32>(rows * next as usize * k)?;
            let ni = gpu.alloc::<u32>(rows * next as usize * k)?;
            let (x, y) = gpu.grid(rows as u32 * next);
            let params = gpu.uniform(&Params {
                rows: rows as u32,
                cols: len,
                seg_len: seg,
                segs: next,
                k: k as u32,
                wg_x: x,
                row0: 0,
                _pad: 0,
            });
            let bg = bind_pass(gpu, &merge, &params, &out_v, Some(&out_i), (&nv, &ni));
            passes.push(Pass {
                kernel: merge.clone(),
                groups: vec![(bg, (x, y, 1))],
            });
            scratch.push(std::mem::replace(&mut out_v, nv));
            scratch_ids.push(std::mem::replace(&mut out_i, ni));
            segs = next;
        }
        Ok(SegmentMerge {
            passes,
            out_v,
            out_i,
            rows,
            k,
            _scratch: (scratch, scratch_ids),
        })
    }

    /// One pass of `topk_lists` (one workgroup per row): only the entries at or before the
    /// k-th best of the lists' heads are gathered and sorted (one query over 1M × 128: 489
    /// lists of 10 put ~10 entries under that bound).
    fn bounded(
        gpu: &Gpu,
        largest: bool,
        values: GpuBuffer<f32>,
        ids: GpuBuffer<u32>,
        rows: usize,
        segs: u32,
        k: usize,
    ) -> Result<SegmentMerge> {
        let kernel = gpu.kernel(
            &TOPK,
            "topk_lists",
            &[
                ("WG", LIST_MERGE_WG),
                ("LARGEST", u32::from(largest)),
                ("CP", LIST_MERGE_CAP),
            ],
        )?;
        let out_v = gpu.alloc::<f32>(rows * k)?;
        let out_i = gpu.alloc::<u32>(rows * k)?;
        let (x, y) = gpu.grid(rows as u32);
        let params = gpu.uniform(&Params {
            rows: rows as u32,
            cols: segs * k as u32,
            seg_len: k as u32,
            segs,
            k: k as u32,
            wg_x: x,
            row0: 0,
            _pad: 0,
        });
        let bg = bind_pass(gpu, &kernel, &params, &values, Some(&ids), (&out_v, &out_i));
        Ok(SegmentMerge {
            passes: vec![Pass {
                kernel,
                groups: vec![(bg, (x, y, 1))],
            }],
            out_v,
            out_i,
            rows,
            k,
            _scratch: (vec![values], vec![ids]),
        })
    }

    /// Records the merge passes.
    pub fn record(&self, batch: &mut Batch<'_>) {
        for pass in &self.passes {
            pass.record(batch);
        }
    }

    /// The final values (`rows × k`).
    pub fn values(&self) -> &GpuBuffer<f32> {
        &self.out_v
    }

    /// The final ids (`rows × k`).
    pub fn ids(&self) -> &GpuBuffer<u32> {
        &self.out_i
    }

    /// Poisons the outputs (tests use it before a run).
    pub fn poison(&self, gpu: &Gpu) -> Result<()> {
        gpu.write(&self.out_v, &vec![f32::NAN; self.rows * self.k])?;
        gpu.write(&self.out_i, &vec![0xdead_beef; self.rows * self.k])
    }

    /// Reads the result of the last recorded run (values and ids in one readback).
    pub fn read(&self, gpu: &Gpu) -> Result<TopK> {
        Ok(self.parse(&gpu.read_bytes(&self.ranges())?))
    }

    /// Asks `batch` to read the result back when it finishes (two ranges, for [`Self::parse`]).
    pub fn read_after(&self, batch: &mut Batch<'_>) {
        batch.read_after(&self.ranges());
    }

    /// The result from the two ranges read back (values, ids).
    pub fn parse(&self, reads: &[crate::ReadBytes]) -> TopK {
        parse_lists(reads)
    }

    fn ranges(&self) -> [(&wgpu::Buffer, u64, u64); 2] {
        let bytes = (self.rows * self.k * 4) as u64;
        [(self.out_v.raw(), 0, bytes), (self.out_i.raw(), 0, bytes)]
    }
}

impl Gpu {
    /// The `k` smallest (or `largest`) values of each row of a `rows × cols` row-major matrix,
    /// with their column ids, best first.
    pub fn topk(
        &self,
        data: &[f32],
        rows: usize,
        cols: usize,
        k: usize,
        largest: bool,
    ) -> Result<TopK> {
        self.topk_with(data, rows, cols, k, largest, &TopKOptions::default())
    }

    /// [`Gpu::topk`] with per-call options.
    pub fn topk_with(
        &self,
        data: &[f32],
        rows: usize,
        cols: usize,
        k: usize,
        largest: bool,
        opts: &TopKOptions,
    ) -> Result<TopK> {
        if rows.checked_mul(cols) != Some(data.len()) || cols == 0 {
            return Err(Error::InvalidArgument(format!(
                "top-k: {} values are not {rows} rows of {cols}",
                data.len()
            )));
        }
        if rows == 0 {
            return Ok(TopK::default());
        }
        let buf = self.upload_split(data, cols)?;
        let plan = TopKPlan::new(self, &buf, rows, cols, k, largest, opts)?;
        plan.poison(self)?;
        let mut batch = self.batch(false);
        plan.record(&mut batch);
        batch.finish()?;
        plan.read(self)
    }
}

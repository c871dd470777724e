//! Reductions over f32: sum, max, min, argmax, argmin — over a whole array of any length
//! (split over several storage bindings, two passes) or per row of a matrix.
//!
//! Two paths compute the per-workgroup combine: subgroup operations, or shared memory only.
//! The tuning parameter `reduce.path` (`WGFAISS_REDUCE_PATH=auto|subgroup|shared`) picks one;
//! `auto` uses subgroups where the adapter has them. [`ReduceOptions`] overrides per call.
//!
//! Ties between equal extremes go to the smallest index. Sums accumulate in f32 (per-thread
//! sequential, then a tree), so their error is bounded by a few ulps times `Σ|x|` per level.
//! Inputs must be finite: with NaN, sums are NaN and max/min are unspecified.

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use crate::buffer::{GpuBuffer, SplitBuffer};
use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::kernels::{Family, Kernel, REDUCE_SHARED, REDUCE_SUBGROUP};
use crate::submit::Batch;

/// Which reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Σ x.
    Sum,
    /// Largest value (and its first index).
    Max,
    /// Smallest value (and its first index).
    Min,
    /// Index of the first largest value (and the value).
    ArgMax,
    /// Index of the first smallest value (and the value).
    ArgMin,
}

impl ReduceOp {
    fn code(self) -> u32 {
        match self {
            ReduceOp::Sum => 0,
            ReduceOp::Max | ReduceOp::ArgMax => 1,
            ReduceOp::Min | ReduceOp::ArgMin => 2,
        }
    }

    fn has_index(self) -> bool {
        self != ReduceOp::Sum
    }

    /// Parses `sum`, `max`, `min`, `argmax`, `argmin`.
    pub fn parse(s: &str) -> Result<ReduceOp> {
        Ok(match s {
            "sum" => ReduceOp::Sum,
            "max" => ReduceOp::Max,
            "min" => ReduceOp::Min,
            "argmax" => ReduceOp::ArgMax,
            "argmin" => ReduceOp::ArgMin,
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "unknown reduction {s:?} (expected sum, max, min, argmax or argmin)"
                )));
            }
        })
    }
}

/// How the workgroup combines its invocations' results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReducePath {
    /// Subgroup operations (needs SUBGROUP).
    Subgroup,
    /// Shared memory only.
    Shared,
}

/// Per-call overrides of the tuning entry.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReduceOptions {
    /// Force a path (default: `reduce.path`).
    pub path: Option<ReducePath>,
    /// Workgroup size, a power of two 32..=1024 (default: `reduce.workgroup_size`).
    pub workgroup_size: Option<u32>,
    /// Workgroups of a whole-array first pass per chunk (default: `reduce.max_workgroups`).
    pub max_workgroups: Option<u32>,
}

impl ReduceOptions {
    /// Options that force `path` and leave the rest to the tuning entry.
    pub fn with_path(path: ReducePath) -> ReduceOptions {
        ReduceOptions {
            path: Some(path),
            ..Default::default()
        }
    }
}

/// The result of a whole-array reduction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reduced {
    /// The sum, or the extreme value.
    pub value: f32,
    /// For max/min/argmax/argmin: index of the first element holding `value`.
    pub index: Option<u64>,
}

/// The result of a per-row reduction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RowsReduced {
    /// One value per row.
    pub values: Vec<f32>,
    /// For max/min/argmax/argmin: column of the first extreme of each row.
    pub indices: Option<Vec<u32>>,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct Params {
    n: u32,
    out_offset: u32,
    stride: u32,
    rows: u32,
    cols: u32,
    wg_x: u32,
    in_offset: u32,
    _pad: u32,
}

impl Params {
    fn new() -> Params {
        Params::zeroed()
    }
}

struct Setup {
    family: Family,
    path: ReducePath,
    wg: u32,
    max_groups: u32,
    op: ReduceOp,
}

impl Setup {
    fn new(gpu: &Gpu, op: ReduceOp, opts: &ReduceOptions) -> Result<Setup> {
        let t = gpu.tuning();
        let path = match opts.path {
            Some(p) => p,
            None => match t.choice("reduce.path") {
                "subgroup" => ReducePath::Subgroup,
                "shared" => ReducePath::Shared,
                _ if gpu.capabilities().subgroups => ReducePath::Subgroup,
                _ => ReducePath::Shared,
            },
        };
        if path == ReducePath::Subgroup && !gpu.capabilities().subgroups {
            return Err(Error::InvalidArgument(
                "the subgroup reduction path needs the SUBGROUP feature, which this adapter lacks"
                    .into(),
            ));
        }
        let wg = opts
            .workgroup_size
            .unwrap_or(t.int("reduce.workgroup_size") as u32);
        if !(32..=1024).contains(&wg)
            || !wg.is_power_of_two()
            || wg > gpu.capabilities().max_invocations_per_workgroup
        {
            return Err(Error::InvalidArgument(format!(
                "reduce workgroup size {wg}: expected a power of two in 32..=1024 within the \
                 adapter's {} invocations",
                gpu.capabilities().max_invocations_per_workgroup
            )));
        }
        let max_groups = opts
            .max_workgroups
            .unwrap_or(t.int("reduce.max_workgroups") as u32)
            .clamp(1, 65535);
        let family = match path {
            ReducePath::Subgroup => REDUCE_SUBGROUP,
            ReducePath::Shared => REDUCE_SHARED,
        };
        Ok(Setup {
            family,
            path,
            wg,
            max_groups,
            op,
        })
    }

    fn kernel(&self, gpu: &Gpu, entry: &'static str) -> Result<Arc<Kernel>> {
        gpu.kernel(
            &self.family,
            entry,
            &[("WG", self.wg), ("OP", self.op.code())],
        )
    }
}

/// The override constant sets the reduce families are compiled with for a tuning value of
/// the workgroup size (used by the naga validation test).
pub fn constant_sets(workgroup_size: u32) -> Vec<Vec<(&'static str, u32)>> {
    [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min]
        .iter()
        .map(|op| vec![("WG", workgroup_size), ("OP", op.code())])
        .collect()
}

/// A whole-array reduction planned over data already on the device: kernels, bind groups and
/// partial buffers are made once, so it can be recorded many times (benchmarks do).
///
/// Three steps: a grid-stride first pass per chunk (one candidate per workgroup), a pass per
/// chunk that reduces its workgroups' candidates, and a final pass over the chunks.
pub struct Reduction {
    partial: Arc<Kernel>,
    chunk: Arc<Kernel>,
    pairs: Arc<Kernel>,
    /// Per chunk: first-pass bind group and grid, then the chunk pass's bind group.
    steps: Vec<(wgpu::BindGroup, (u32, u32, u32), wgpu::BindGroup)>,
    final_group: wgpu::BindGroup,
    out_v: GpuBuffer<f32>,
    out_i: GpuBuffer<u32>,
    out_pos: GpuBuffer<u32>,
    starts: Vec<u64>,
    op: ReduceOp,
    path: ReducePath,
    bytes: u64,
}

impl Reduction {
    /// Plans `op` over `data` (a non-empty split buffer whose chunks start at multiples of 4).
    pub fn new(
        gpu: &Gpu,
        data: &SplitBuffer<f32>,
        op: ReduceOp,
        opts: &ReduceOptions,
    ) -> Result<Reduction> {
        if data.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{op:?} of an empty array has no value"
            )));
        }
        if data.starts().iter().any(|s| s % 4 != 0) {
            return Err(Error::InvalidArgument(
                "reduction: chunks must start at multiples of 4 elements (upload_split with granule 4)"
                    .into(),
            ));
        }
        let s = Setup::new(gpu, op, opts)?;
        let partial = s.kernel(gpu, "reduce_partial")?;
        let chunk_k = s.kernel(gpu, "reduce_chunk")?;
        let pairs = s.kernel(gpu, "reduce_pairs")?;
        // Workgroups per chunk: enough to give each invocation a vec4, at most max_groups.
        let groups: Vec<u32> = data
            .chunks()
            .iter()
            .map(|c| ((c.len() / 4) as u32).div_ceil(s.wg).clamp(1, s.max_groups))
            .collect();
        let total: u32 = groups.iter().sum();
        let nchunks = data.chunks().len();
        let part_v = gpu.alloc::<f32>(total as usize)?;
        let part_i = gpu.alloc::<u32>(total as usize)?;
        let chunk_v = gpu.alloc::<f32>(nchunks)?;
        let chunk_i = gpu.alloc::<u32>(nchunks)?;
        let out_v = gpu.alloc::<f32>(1)?;
        let out_i = gpu.alloc::<u32>(1)?;
        let out_pos = gpu.alloc::<u32>(1)?;
        let mut steps = Vec::new();
        let mut slot = 0u32;
        for (c, (chunk, &g)) in data.chunks().iter().zip(&groups).enumerate() {
            let (x, y) = gpu.grid(g);
            let params = gpu.uniform(&Params {
                n: chunk.len() as u32,
                out_offset: slot,
                stride: g * s.wg,
                wg_x: x,
                ..Params::new()
            });
            let first = gpu.bind(
                &partial,
                &[
                    (0, params.as_entire_binding()),
                    (1, chunk.binding()),
                    (4, part_v.binding()),
                    (5, part_i.binding()),
                ],
            );
            let params = gpu.uniform(&Params {
                n: g,
                in_offset: slot,
                out_offset: c as u32,
                wg_x: 1,
                ..Params::new()
            });
            let second = gpu.bind(
                &chunk_k,
                &[
                    (0, params.as_entire_binding()),
                    (2, part_v.binding()),
                    (3, part_i.binding()),
                    (4, chunk_v.binding()),
                    (5, chunk_i.binding()),
                ],
            );
            steps.push((first, (x, y, 1), second));
            slot += g;
        }
        let params = gpu.uniform(&Params {
            n: nchunks as u32,
            wg_x: 1,
            ..Params::new()
        });
        let final_group = gpu.bind(
            &pairs,
            &[
                (0, params.as_entire_binding()),
                (2, chunk_v.binding()),
                (3, chunk_i.binding()),
                (4, out_v.binding()),
                (5, out_i.binding()),
                (6, out_pos.binding()),
            ],
        );
        Ok(Reduction {
            partial,
            chunk: chunk_k,
            pairs,
            steps,
            final_group,
            out_v,
            out_i,
            out_pos,
            starts: data.starts().iter().map(|&s| s as u64).collect(),
            op,
            path: s.path,
            bytes: data.len() as u64 * 4,
        })
    }

    /// The path in use.
    pub fn path(&self) -> ReducePath {
        self.path
    }

    /// Bytes of input one run reads.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Records one run.
    pub fn record(&self, batch: &mut Batch<'_>) {
        for (first, groups, _) in &self.steps {
            batch.dispatch(&self.partial, first, *groups);
        }
        for (_, _, second) in &self.steps {
            batch.dispatch(&self.chunk, second, (1, 1, 1));
        }
        batch.dispatch(&self.pairs, &self.final_group, (1, 1, 1));
    }

    /// Poisons the outputs (tests use it before a run).
    pub fn poison(&self, gpu: &Gpu) -> Result<()> {
        gpu.write(&self.out_v, &[f32::NAN])?;
        gpu.write(&self.out_i, &[0xdead_beef])?;
        gpu.write(&self.out_pos, &[0xdead_beef])
    }

    /// Reads the result of the last recorded run (after its batch finished).
    pub fn read(&self, gpu: &Gpu) -> Result<Reduced> {
        let r = gpu.read_bytes(&[
            (self.out_v.raw(), 0, 4),
            (self.out_i.raw(), 0, 4),
            (self.out_pos.raw(), 0, 4),
        ])?;
        let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let value = f32::from_bits(word(&r[0]));
        let (local, chunk) = (word(&r[1]), word(&r[2]));
        let index = if self.op.has_index() {
            let start = self.starts.get(chunk as usize).ok_or_else(|| {
                Error::Gpu(format!(
                    "reduction returned chunk {chunk} of {}",
                    self.starts.len()
                ))
            })?;
            Some(start + u64::from(local))
        } else {
            None
        };
        Ok(Reduced { value, index })
    }
}

impl Gpu {
    /// Reduces a whole array (uploads, runs, reads back).
    ///
    /// ```no_run
    /// use wgfaiss_core::{Gpu, ops::reduce::ReduceOp};
    /// let gpu = Gpu::new()?;
    /// let r = gpu.reduce(&[3.0, 9.0, 1.0, 9.0], ReduceOp::ArgMax)?;
    /// assert_eq!((r.value, r.index), (9.0, Some(1)));
    /// # Ok::<(), wgfaiss_core::Error>(())
    /// ```
    pub fn reduce(&self, data: &[f32], op: ReduceOp) -> Result<Reduced> {
        self.reduce_with(data, op, &ReduceOptions::default())
    }

    /// [`Gpu::reduce`] with per-call options.
    pub fn reduce_with(&self, data: &[f32], op: ReduceOp, opts: &ReduceOptions) -> Result<Reduced> {
        if data.is_empty() {
            if op == ReduceOp::Sum {
                return Ok(Reduced {
                    value: 0.0,
                    index: None,
                });
            }
            return Err(Error::InvalidArgument(format!(
                "{op:?} of an empty array has no value"
            )));
        }
        let buf = self.upload_split(data, 4.min(data.len()).max(1))?;
        let plan = Reduction::new(self, &buf, op, opts)?;
        plan.poison(self)?;
        let mut batch = self.batch(false);
        plan.record(&mut batch);
        batch.finish()?;
        plan.read(self)
    }

    /// Reduces each row of a `rows × cols` row-major matrix.
    pub fn reduce_rows(
        &self,
        data: &[f32],
        rows: usize,
        cols: usize,
        op: ReduceOp,
    ) -> Result<RowsReduced> {
        self.reduce_rows_with(data, rows, cols, op, &ReduceOptions::default())
    }

    /// [`Gpu::reduce_rows`] with per-call options.
    pub fn reduce_rows_with(
        &self,
        data: &[f32],
        rows: usize,
        cols: usize,
        op: ReduceOp,
        opts: &ReduceOptions,
    ) -> Result<RowsReduced> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::InvalidArgument(format!(
                "reduce_rows: {} values are not {rows} rows x {cols} columns",
                data.len()
            )));
        }
        if cols == 0 && rows > 0 {
            return Err(Error::InvalidArgument(
                "reduce_rows: rows of zero columns have no value".into(),
            ));
        }
        if rows == 0 {
            return Ok(RowsReduced {
                values: vec![],
                indices: op.has_index().then(Vec::new),
            });
        }
        let buf = self.upload_split(data, cols)?;
        let plan = RowReduction::new(self, &buf, cols, op, opts)?;
        plan.poison(self)?;
        let mut batch = self.batch(false);
        plan.record(&mut batch);
        batch.finish()?;
        plan.read(self)
    }
}

/// A per-row reduction planned over a row-major matrix already on the device (split at row
/// boundaries, as [`Gpu::upload_split`] with `granule = cols` makes it).
pub struct RowReduction {
    kernel: Arc<Kernel>,
    steps: Vec<(wgpu::BindGroup, (u32, u32, u32))>,
    out_v: GpuBuffer<f32>,
    out_i: GpuBuffer<u32>,
    rows: usize,
    op: ReduceOp,
    path: ReducePath,
}

impl RowReduction {
    /// Plans `op` over each row of `data`, whose rows have `cols` elements.
    pub fn new(
        gpu: &Gpu,
        data: &SplitBuffer<f32>,
        cols: usize,
        op: ReduceOp,
        opts: &ReduceOptions,
    ) -> Result<RowReduction> {
        if cols == 0 || data.is_empty() || !data.len().is_multiple_of(cols) {
            return Err(Error::InvalidArgument(format!(
                "row reduction: {} values are not whole rows of {cols}",
                data.len()
            )));
        }
        let rows = data.len() / cols;
        if rows > u32::MAX as usize || cols > u32::MAX as usize {
            return Err(Error::InvalidArgument(format!(
                "row reduction: {rows} x {cols} is beyond 2^32 rows or columns"
            )));
        }
        if rows as u64 * 4 > gpu.capabilities().max_storage_binding_bytes {
            return Err(Error::InvalidArgument(format!(
                "row reduction: {rows} row results do not fit one storage binding"
            )));
        }
        if let Some((c, _)) = data
            .chunks()
            .iter()
            .zip(data.starts())
            .find(|(c, s)| *s % cols != 0 || c.len() % cols != 0)
        {
            return Err(Error::InvalidArgument(format!(
                "row reduction: a chunk of {} values splits a row of {cols}",
                c.len()
            )));
        }
        let s = Setup::new(gpu, op, opts)?;
        // Rows of a multiple of 4 columns start on vec4 boundaries (chunks start at rows).
        let entry = if cols.is_multiple_of(4) {
            "reduce_rows4"
        } else {
            "reduce_rows"
        };
        let kernel = s.kernel(gpu, entry)?;
        let out_v = gpu.alloc::<f32>(rows)?;
        let out_i = gpu.alloc::<u32>(rows)?;
        let steps = data
            .chunks()
            .iter()
            .zip(data.starts())
            .map(|(chunk, &start)| {
                let chunk_rows = (chunk.len() / cols) as u32;
                let (x, y) = gpu.grid(chunk_rows);
                let params = gpu.uniform(&Params {
                    out_offset: (start / cols) as u32,
                    rows: chunk_rows,
                    cols: cols as u32,
                    wg_x: x,
                    ..Params::new()
                });
                let bg = gpu.bind(
                    &kernel,
                    &[
                        (0, params.as_entire_binding()),
                        (if cols.is_multiple_of(4) { 1 } else { 2 }, chunk.binding()),
                        (4, out_v.binding()),
                        (5, out_i.binding()),
                    ],
                );
                (bg, (x, y, 1))
            })
            .collect();
        Ok(RowReduction {
            kernel,
            steps,
            out_v,
            out_i,
            rows,
            op,
            path: s.path,
        })
    }

    /// The path in use.
    pub fn path(&self) -> ReducePath {
        self.path
    }

    /// Records one run.
    pub fn record(&self, batch: &mut Batch<'_>) {
        for (bg, groups) in &self.steps {
            batch.dispatch(&self.kernel, bg, *groups);
        }
    }

    /// Poisons the outputs: a row the kernel fails to write reads back as NaN and a bad index.
    pub fn poison(&self, gpu: &Gpu) -> Result<()> {
        gpu.write(&self.out_v, &vec![f32::NAN; self.rows])?;
        gpu.write(&self.out_i, &vec![0xdead_beef; self.rows])
    }

    /// Reads the result of the last recorded run (after its batch finished).
    pub fn read(&self, gpu: &Gpu) -> Result<RowsReduced> {
        let values = gpu.read(&self.out_v)?;
        let indices = if self.op.has_index() {
            Some(gpu.read(&self.out_i)?)
        } else {
            None
        };
        Ok(RowsReduced { values, indices })
    }
}

//! General matrix multiply in f32: `C = α·op(A)·op(B) + β·C`, row-major, op = identity or
//! transpose — A·Bᵀ (distances), Aᵀ·B (k-means updates, SVD) and A·B.
//!
//! Shared-memory tiles of `gemm.tile_m × gemm.tile_n` (depth `gemm.tile_k`) with a
//! `gemm.thread_m × gemm.thread_n` register block per invocation, from the tuning entry or
//! [`GemmOptions`]. Accumulation is f32 with `fma`, in `k` order, so the error against an f64
//! reference is bounded by about `K · 2⁻²⁴ · Σₖ|aᵢₖ·bₖⱼ|`.
//!
//! The f16 tensor-core product is [`crate::ops::gemm_coop`] (re-exported here).

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use crate::buffer::GpuBuffer;
use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::kernels::{GEMM_TEMPLATE, Kernel, gemm_family};
use crate::submit::Batch;
use crate::tuning::gemm_tiles_problem;

pub use crate::ops::gemm_coop::{
    CoopGemm, CoopPeak, CoopStage, CoopTiles, PROBES, PaddedCoopGemm, ProbeSource, to_f16_padded,
};

/// Shapes and scalars of one product.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GemmShape {
    /// Rows of op(A) and C.
    pub m: usize,
    /// Columns of op(B) and C.
    pub n: usize,
    /// Columns of op(A), rows of op(B).
    pub k: usize,
    /// A is stored `k × m` (use Aᵀ).
    pub trans_a: bool,
    /// B is stored `n × k` (use Bᵀ).
    pub trans_b: bool,
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of the old C (0: C is write-only).
    pub beta: f32,
}

impl GemmShape {
    /// `C = A·B` for A `m × k`, B `k × n`.
    pub fn new(m: usize, n: usize, k: usize) -> GemmShape {
        GemmShape {
            m,
            n,
            k,
            trans_a: false,
            trans_b: false,
            alpha: 1.0,
            beta: 0.0,
        }
    }

    /// Stored lengths of A, B and C.
    pub fn lens(&self) -> (usize, usize, usize) {
        (self.m * self.k, self.k * self.n, self.m * self.n)
    }

    /// Row strides of the stored A and B.
    pub fn strides(&self) -> (usize, usize) {
        (
            if self.trans_a { self.m } else { self.k },
            if self.trans_b { self.k } else { self.n },
        )
    }

    /// Floating-point operations of one product (2·m·n·k).
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }
}

/// A tile configuration: `(tile_m, tile_n, tile_k, thread_m, thread_n)`.
pub type Tiles = (u32, u32, u32, u32, u32);

/// Per-call overrides of the tuning entry's tile sizes and of the split-K choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GemmOptions {
    /// `(tile_m, tile_n, tile_k, thread_m, thread_n)`.
    pub tiles: Option<Tiles>,
    /// Number of K slices multiplied by separate workgroups and summed after (default: chosen
    /// by shape: products with few tiles, such as M ≤ 64 queries, are split until about 512
    /// workgroups run).
    pub split_k: Option<u32>,
}

/// Tiles for few rows of C (M ≤ 16): a 16-row tile, so no workgroup computes padding.
pub const SMALL_M_TILES: Tiles = (16, 64, 16, 4, 4);

/// Workgroups a split-K product aims for.
const SPLIT_TARGET_GROUPS: u32 = 512;

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k: u32,
    lda: u32,
    ldb: u32,
    ldc: u32,
    alpha: f32,
    beta: f32,
    k_split: u32,
    c_split: u32,
    /// With the best variant: column tiles per row of `best`.
    best_ld: u32,
    _pad: u32,
}

/// The override constants of the f32 GEMM for a tile configuration.
pub fn constants(tiles: Tiles) -> Vec<(&'static str, u32)> {
    let (tm, tn, tk, rm, rn) = tiles;
    vec![
        ("TM", tm),
        ("TN", tn),
        ("TK", tk),
        ("RM", rm),
        ("RN", rn),
        ("WG", (tm / rm) * (tn / rn)),
    ]
}

/// Checks a tile configuration against what the kernel supports and the adapter allows.
pub fn check_tiles(gpu: &Gpu, tiles: Tiles) -> Result<()> {
    match gemm_tiles_problem(tiles, gpu.capabilities()) {
        Some(why) => Err(Error::InvalidArgument(format!(
            "gemm tiles {tiles:?}: {why}"
        ))),
        None => Ok(()),
    }
}

/// Everything that selects one generated GEMM kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GemmVariant {
    /// Tile configuration.
    pub tiles: Tiles,
    /// A is stored transposed.
    pub trans_a: bool,
    /// B is stored transposed.
    pub trans_b: bool,
    /// A's contiguous dimension is a multiple of 4 (vec4 loads).
    pub vec_a: bool,
    /// B's contiguous dimension is a multiple of 4 (vec4 loads).
    pub vec_b: bool,
    /// Writes `max(v + colv[j] + rowv[i], 0)` instead of `v` (see [`Gemm::new_l2`]).
    pub l2: bool,
    /// Also writes each row's smallest written value per tile of columns (see
    /// [`Gemm::new_l2_best`]).
    pub best: bool,
    /// With `best`: the largest instead (see [`Gemm::new_best`]).
    pub largest: bool,
}

impl GemmVariant {
    /// The variant for a shape and tile configuration.
    pub fn for_shape(shape: &GemmShape, tiles: Tiles) -> GemmVariant {
        let (lda, ldb) = shape.strides();
        GemmVariant {
            tiles,
            trans_a: shape.trans_a,
            trans_b: shape.trans_b,
            vec_a: lda % 4 == 0,
            vec_b: ldb % 4 == 0,
            l2: false,
            best: false,
            largest: false,
        }
    }

    /// A short unique name (`gemm_64x64x16_4x4_nt_v11`).
    pub fn name(&self) -> String {
        let (tm, tn, tk, rm, rn) = self.tiles;
        let t = |b: bool| if b { 't' } else { 'n' };
        format!(
            "gemm_{tm}x{tn}x{tk}_{rm}x{rn}_{}{}_v{}{}{}{}{}",
            t(self.trans_a),
            t(self.trans_b),
            u8::from(self.vec_a),
            u8::from(self.vec_b),
            if self.l2 { "_l2" } else { "" },
            if self.best { "_best" } else { "" },
            if self.best && self.largest { "max" } else { "" }
        )
    }
}

/// Code that stages one operand: loads of its quads into registers `r<op><i>` for the slice
/// starting at `kt`, and stores of those registers into the shared tile.
pub(crate) struct Staging {
    pub(crate) decl: String,
    pub(crate) load: String,
    pub(crate) stage: String,
}

/// `op` is "a" or "b"; `tile` the tile extent along M (A) or N (B); `k_contig`: the stored
/// matrix is contiguous along k (A not transposed, B transposed); `extent`: the WGSL
/// expression past which rows (A) or columns (B) read as zero.
/// With `row_fn`, tile row `t` reads stored row `row_fn(origin + t)` (a WGSL function that
/// returns `NONE` for a row that reads as zeros) instead of row `origin + t` below `extent`:
/// the fused k-NN's work items read their queries in place through the block's query table
/// (only for operands contiguous along k).
#[allow(clippy::too_many_arguments)]
pub(crate) fn staging(
    op: &str,
    tile: u32,
    tk: u32,
    wg: u32,
    k_contig: bool,
    vec: bool,
    extent: &str,
    row_fn: Option<&str>,
) -> Staging {
    assert!(
        row_fn.is_none() || k_contig,
        "mapped rows need k-contiguous rows"
    );
    let shared = if op == "a" { "As" } else { "Bs" };
    let stride = if op == "a" { "sa" } else { "sb" };
    let origin = if op == "a" { "m0" } else { "n0" };
    // Stored matrix extent: rows x cols, and the position of quad (t = along tile, k) in it.
    let total = tile * tk / 4;
    let per_thread = total.div_ceil(wg);
    let (mut decl, mut load, mut stage) = (String::new(), String::new(), String::new());
    for r in 0..per_thread {
        let reg = format!("r{op}{r}");
        decl += &format!("    var {reg} = vec4<f32>(0.0);\n");
        let q = format!("(tid + {}u)", r * wg);
        // (t, k) of the quad's first element; quads run along the contiguous dimension.
        let (t_expr, k_expr, rows, cols, row, col) = if k_contig {
            let t = format!("({q} / (TK / 4u))");
            let k = format!("(({q} % (TK / 4u)) * 4u)");
            (
                t.clone(),
                k.clone(),
                extent.to_string(),
                "k_hi".to_string(),
                format!("{origin} + {t}"),
                format!("kt + {k}"),
            )
        } else {
            let t = format!("(({q} % ({tile}u / 4u)) * 4u)");
            let k = format!("({q} / ({tile}u / 4u))");
            (
                t.clone(),
                k.clone(),
                "k_hi".to_string(),
                extent.to_string(),
                format!("kt + {k}"),
                format!("{origin} + {t}"),
            )
        };
        let guard = if per_thread * wg > total {
            format!("{q} < {total}u")
        } else {
            "true".to_string()
        };
        // The stored row: `row` itself below the extent, or through `row_fn` (NONE: zeros).
        let (prefix, index, valid) = match row_fn {
            Some(f) => (
                format!("let {reg}_row = {f}({row}); "),
                format!("{reg}_row"),
                format!("{reg}_row != NONE"),
            ),
            None => (String::new(), format!("({row})"), format!("{row} < {rows}")),
        };
        let fetch = if vec {
            format!(
                "{prefix}if {valid} && {col} < {cols} {{ {reg} = {op}_get4({index} * p.ld{op} + {col}); }} else {{ {reg} = vec4<f32>(0.0); }}"
            )
        } else {
            let parts: Vec<String> = (0..4)
                .map(|j| match row_fn {
                    Some(_) => format!("at_{op}_row({index}, {col} + {j}u, {cols})"),
                    None => format!("at_{op}({row}, {col} + {j}u, {rows}, {cols})"),
                })
                .collect();
            format!("{prefix}{reg} = vec4<f32>({});", parts.join(", "))
        };
        load += &format!("        if {guard} {{ {fetch} }}\n");
        let store = if k_contig {
            // Four k rows, one element each.
            (0..4)
                .map(|j| {
                    format!(
                        "{shared}[({k_expr} + {j}u) * {stride} + {t_expr} / 4u][{t_expr} % 4u] = {reg}[{j}]; "
                    )
                })
                .collect::<String>()
        } else {
            format!("{shared}[{k_expr} * {stride} + {t_expr} / 4u] = {reg}; ")
        };
        stage += &format!("        if {guard} {{ {store}}}\n");
    }
    Staging { decl, load, stage }
}

/// The WGSL source of one GEMM variant: the template with its `@...` lines expanded into
/// straight-line code (named accumulators `acc_<row>_<half>`, prefetch registers `ra<i>`,
/// `rb<i>`).
pub fn source(v: &GemmVariant) -> String {
    let (tm, tn, tk, rm, rn) = v.tiles;
    let wg = (tm / rm) * (tn / rn);
    let hn = rn / 4;
    let epilogue = if v.l2 {
        "@group(0) @binding(5) var<storage, read> colv: array<f32>;\n\
         @group(0) @binding(6) var<storage, read> rowv: array<f32>;\n\
         fn epilogue(row: u32, col: u32, v: f32) -> f32 { return max(v + colv[col] + rowv[row], 0.0); }\n"
    } else {
        "fn epilogue(row: u32, col: u32, v: f32) -> f32 { return v; }\n"
    };
    // store4 returns the smallest of BEST_SIGN · value (the largest value with -1).
    let sign = if v.best && v.largest { "-1.0" } else { "1.0" };
    let mut bindings = operand_binding("a", 1, v.vec_a)
        + &operand_binding("b", 2, v.vec_b)
        + epilogue
        + &format!("const BEST_SIGN: f32 = {sign};\n");
    if v.best {
        bindings += "@group(0) @binding(7) var<storage, read_write> best: array<f32>;\n\
                     var<workgroup> bmin: array<f32, TM * (TN / RN)>;\n";
    }
    let sa = staging("a", tm, tk, wg, !v.trans_a, v.vec_a, "p.m", None);
    let sb = staging("b", tn, tk, wg, v.trans_b, v.vec_b, "p.n", None);
    let mut decl = sa.decl + &sb.decl;
    let mut store = String::new();
    for i in 0..rm {
        let row = format!("{}u * (TM * 4u / RM) + ty * 4u + {}u", i / 4, i % 4);
        let mut least = String::from("bitcast<f32>(0x7f800000u)");
        for h in 0..hn {
            decl += &format!("    var acc_{i}_{h} = vec4<f32>(0.0);\n");
            let call = format!(
                "store4(wid.z, m0 + {row}, n0 + {h}u * (TN * 4u / RN) + tx * 4u, acc_{i}_{h})"
            );
            if v.best {
                least = format!("min({least}, {call})");
            } else {
                store += &format!("    {call};\n");
            }
        }
        if v.best {
            store += &format!("    bmin[({row}) * (TN / RN) + tx] = {least};\n");
        }
    }
    if v.best {
        // Each row's smallest over its tile: the invocations' own, then over the TN / RN
        // invocations of the row.
        store += "    workgroupBarrier();
    for (var t = tid; t < TM; t += WG) {
        var least = bitcast<f32>(0x7f800000u);
        for (var x = 0u; x < TN / RN; x++) {
            least = min(least, bmin[t * (TN / RN) + x]);
        }
        if m0 + t < p.m {
            best[(m0 + t) * p.best_ld + wid.x] = BEST_SIGN * least;
        }
    }
";
    }
    GEMM_TEMPLATE
        .replace("// @BINDINGS\n", &bindings)
        .replace("    // @DECL\n", &decl)
        .replace("        // @LOAD\n", &(sa.load.clone() + &sb.load))
        .replace("            // @LOAD\n", &(sa.load + &sb.load))
        .replace("        // @STAGE\n", &(sa.stage + &sb.stage))
        .replace("            // @INNER\n", &inner_product(v.tiles))
        .replace("    // @STORE\n", &store)
}

/// The storage binding of operand `op` ("a" or "b") and its accessors: `{op}_get(i)` for one
/// element and, with `vec`, `{op}_get4(i)` for the aligned quad at element `i`.
pub(crate) fn operand_binding(op: &str, binding: u32, vec: bool) -> String {
    if vec {
        format!(
            "@group(0) @binding({binding}) var<storage, read> {op}_v4: array<vec4<f32>>;\n\
             fn {op}_get4(i: u32) -> vec4<f32> {{ return {op}_v4[i / 4u]; }}\n\
             fn {op}_get(i: u32) -> f32 {{ return {op}_v4[i / 4u][i % 4u]; }}\n"
        )
    } else {
        format!(
            "@group(0) @binding({binding}) var<storage, read> {op}_s: array<f32>;\n\
             fn {op}_get(i: u32) -> f32 {{ return {op}_s[i]; }}\n"
        )
    }
}

/// One step `kk` of the register-blocked product: the invocation's slices of `As` and `Bs`
/// into the named accumulators `acc_<row>_<half>` (row `i` of the block is row
/// `(i / 4) * (TM * 4 / RM) + ty * 4 + i % 4` of the tile; half `h` holds columns
/// `h * (TN * 4 / RN) + tx * 4 + 0..4`).
pub(crate) fn inner_product(tiles: Tiles) -> String {
    let (_, _, _, rm, rn) = tiles;
    let (hm, hn) = (rm / 4, rn / 4);
    let lanes = ["x", "y", "z", "w"];
    let mut inner = String::new();
    for h in 0..hm {
        inner += &format!("            let a{h} = As[kk * sa + {h}u * (TM / RM) + ty];\n");
    }
    for h in 0..hn {
        inner += &format!("            let b{h} = Bs[kk * sb + {h}u * (TN / RN) + tx];\n");
    }
    for i in 0..rm {
        let (a, lane) = (i / 4, lanes[(i % 4) as usize]);
        for h in 0..hn {
            inner += &format!(
                "            acc_{i}_{h} = fma(vec4<f32>(a{a}.{lane}), b{h}, acc_{i}_{h});\n"
            );
        }
    }
    inner
}

/// `entries` with the L2 epilogue's norms (column, row) at bindings 5 and 6, for the kernel
/// that writes C.
fn with_norms<'a>(
    mut entries: Vec<(u32, wgpu::BindingResource<'a>)>,
    l2: Option<(&'a GpuBuffer<f32>, &'a GpuBuffer<f32>)>,
) -> Vec<(u32, wgpu::BindingResource<'a>)> {
    if let Some((col, row)) = l2 {
        entries.push((5, col.binding()));
        entries.push((6, row.binding()));
    }
    entries
}

/// The L2 epilogue's norms (columns, rows), if any.
type Norms<'a> = Option<(&'a GpuBuffer<f32>, &'a GpuBuffer<f32>)>;

/// The L2 epilogue's requirements: β = 0 and norms for every column and row.
fn l2_checks(shape: &GemmShape, col: &GpuBuffer<f32>, row: &GpuBuffer<f32>) -> Result<()> {
    if shape.beta != 0.0 {
        return Err(Error::InvalidArgument(
            "gemm with the L2 epilogue: beta must be 0".into(),
        ));
    }
    if col.len() < shape.n || row.len() < shape.m {
        return Err(Error::InvalidArgument(format!(
            "gemm with the L2 epilogue: norms of {} columns and {} rows, expected {} and {}",
            col.len(),
            row.len(),
            shape.n,
            shape.m
        )));
    }
    Ok(())
}

/// The summing pass of a split-K product, with the partial products it owns.
struct SplitSum {
    kernel: Arc<Kernel>,
    group: wgpu::BindGroup,
    grid: (u32, u32, u32),
    _part: GpuBuffer<f32>,
}

/// A planned product over buffers already on the device.
pub struct Gemm {
    kernel: Arc<Kernel>,
    group: wgpu::BindGroup,
    grid: (u32, u32, u32),
    /// Split-K: the summing pass over the partial products.
    sum: Option<SplitSum>,
    shape: GemmShape,
    tiles: Tiles,
}

impl Gemm {
    /// Plans `c = α·op(a)·op(b) + β·c` for `shape`; the buffers must hold at least the stored
    /// matrices (lengths m·k, k·n, m·n; the rest is not touched) and each must fit one
    /// storage binding.
    pub fn new(
        gpu: &Gpu,
        a: &GpuBuffer<f32>,
        b: &GpuBuffer<f32>,
        c: &GpuBuffer<f32>,
        shape: GemmShape,
        opts: &GemmOptions,
    ) -> Result<Gemm> {
        Gemm::plan(gpu, (a, b, c), shape, opts, (None, None))
    }

    /// Plans squared L2 distances `c = max(α·op(a)·op(b) + col[j] + row[i], 0)` — with
    /// α = −2, queries as A and base vectors as Bᵀ, `col` the base's squared norms (n) and
    /// `row` the queries' (m): the same sums in the same order as adding them in a separate
    /// pass, without writing and reading C again. β must be 0.
    pub fn new_l2(
        gpu: &Gpu,
        (a, b, c): (&GpuBuffer<f32>, &GpuBuffer<f32>, &GpuBuffer<f32>),
        shape: GemmShape,
        opts: &GemmOptions,
        (col, row): (&GpuBuffer<f32>, &GpuBuffer<f32>),
    ) -> Result<Gemm> {
        l2_checks(&shape, col, row)?;
        Gemm::plan(gpu, (a, b, c), shape, opts, (Some((col, row)), None))
    }

    /// [`Gemm::new_l2`] that also writes, per row of C, its smallest value in each tile of
    /// columns: `best[i · t + j]` for column tile `j` of the `t` = [`Gemm::column_tiles`]
    /// (a distance tile's minima: the k-th smallest of a row's minima bounds its k-th
    /// smallest distance). One K slice only (`opts.split_k` = `Some(1)`).
    pub fn new_l2_best(
        gpu: &Gpu,
        (a, b, c): (&GpuBuffer<f32>, &GpuBuffer<f32>, &GpuBuffer<f32>),
        shape: GemmShape,
        opts: &GemmOptions,
        (col, row): (&GpuBuffer<f32>, &GpuBuffer<f32>),
        best: &GpuBuffer<f32>,
    ) -> Result<Gemm> {
        l2_checks(&shape, col, row)?;
        Gemm::check_best(gpu, &shape, opts, best)?;
        Gemm::plan(
            gpu,
            (a, b, c),
            shape,
            opts,
            (Some((col, row)), Some((best, false))),
        )
    }

    /// [`Gemm::new`] (β = 0) that also writes, per row of C, its largest value in each tile
    /// of columns (inner products: the k-th largest of a row's maxima bounds its k-th
    /// largest product), laid out as [`Gemm::new_l2_best`]'s minima. One K slice only.
    pub fn new_best(
        gpu: &Gpu,
        (a, b, c): (&GpuBuffer<f32>, &GpuBuffer<f32>, &GpuBuffer<f32>),
        shape: GemmShape,
        opts: &GemmOptions,
        best: &GpuBuffer<f32>,
    ) -> Result<Gemm> {
        if shape.beta != 0.0 {
            return Err(Error::InvalidArgument(
                "gemm with row maxima: beta must be 0".into(),
            ));
        }
        Gemm::check_best(gpu, &shape, opts, best)?;
        Gemm::plan(gpu, (a, b, c), shape, opts, (None, Some((best, true))))
    }

    /// The row extremes' requirements: one K slice, room for every row's column tiles.
    fn check_best(
        gpu: &Gpu,
        shape: &GemmShape,
        opts: &GemmOptions,
        best: &GpuBuffer<f32>,
    ) -> Result<()> {
        if opts.split_k != Some(1) {
            return Err(Error::InvalidArgument(
                "gemm with row minima or maxima: one K slice only (split_k = 1)".into(),
            ));
        }
        let tiles = Gemm::column_tiles(gpu, shape, opts)?;
        if best.len() < shape.m * tiles {
            return Err(Error::InvalidArgument(format!(
                "gemm with row minima or maxima: {} values for {} rows of {tiles} column tiles",
                best.len(),
                shape.m
            )));
        }
        Ok(())
    }

    /// Column tiles of the product `shape` with `opts` (the row minima per row of
    /// [`Gemm::new_l2_best`]).
    pub fn column_tiles(gpu: &Gpu, shape: &GemmShape, opts: &GemmOptions) -> Result<usize> {
        let tiles = Gemm::tiles(gpu, shape, opts);
        check_tiles(gpu, tiles)?;
        Ok(shape.n.div_ceil(tiles.1 as usize))
    }

    /// The tile configuration for `shape`: the caller's, the small-M one, or the tuning's.
    fn tiles(gpu: &Gpu, shape: &GemmShape, opts: &GemmOptions) -> Tiles {
        let t = gpu.tuning();
        match opts.tiles {
            Some(tiles) => tiles,
            None if shape.m <= 16 => SMALL_M_TILES,
            None => (
                t.int("gemm.tile_m") as u32,
                t.int("gemm.tile_n") as u32,
                t.int("gemm.tile_k") as u32,
                t.int("gemm.thread_m") as u32,
                t.int("gemm.thread_n") as u32,
            ),
        }
    }

    fn plan(
        gpu: &Gpu,
        (a, b, c): (&GpuBuffer<f32>, &GpuBuffer<f32>, &GpuBuffer<f32>),
        shape: GemmShape,
        opts: &GemmOptions,
        (l2, best): (Norms<'_>, Option<(&GpuBuffer<f32>, bool)>),
    ) -> Result<Gemm> {
        let (la, lb, lc) = shape.lens();
        if a.len() < la || b.len() < lb || c.len() < lc {
            return Err(Error::InvalidArgument(format!(
                "gemm {}x{}x{}: buffers hold {}, {}, {} values, expected {la}, {lb}, {lc}",
                shape.m,
                shape.n,
                shape.k,
                a.len(),
                b.len(),
                c.len()
            )));
        }
        if shape.m == 0 || shape.n == 0 {
            return Err(Error::InvalidArgument(format!(
                "gemm with an empty result ({} x {})",
                shape.m, shape.n
            )));
        }
        if !shape.alpha.is_finite() || !shape.beta.is_finite() {
            return Err(Error::InvalidArgument(
                "gemm alpha and beta must be finite".into(),
            ));
        }
        let limit = gpu.capabilities().max_storage_binding_bytes;
        for (name, len) in [("A", la), ("B", lb), ("C", lc)] {
            if len as u64 * 4 > limit || len > u32::MAX as usize {
                return Err(Error::InvalidArgument(format!(
                    "gemm: {name} of {len} values does not fit one storage binding ({limit} bytes); split the product"
                )));
            }
        }
        let tiles = Gemm::tiles(gpu, &shape, opts);
        check_tiles(gpu, tiles)?;
        let (tm, tn, tk, ..) = tiles;
        let gx = (shape.n as u32).div_ceil(tn);
        let gy = (shape.m as u32).div_ceil(tm);
        let max = gpu.capabilities().max_workgroups_per_dimension;
        if gx > max || gy > max {
            return Err(Error::InvalidArgument(format!(
                "gemm {} x {}: {gy} x {gx} tiles exceed {max} workgroups per dimension; split the product",
                shape.m, shape.n
            )));
        }
        // Split K when few tiles would leave the device idle, never below 2 slices of TK,
        // and only as far as the partial products fit one binding.
        let k = shape.k as u32;
        let slices_max = k.div_ceil(tk).max(1);
        let splits_wanted = match opts.split_k {
            Some(s) if s == 0 || s > slices_max || s > max => {
                return Err(Error::InvalidArgument(format!(
                    "gemm split_k {s}: expected 1..={} for K = {k}",
                    slices_max.min(max)
                )));
            }
            Some(s) => s,
            None if gx * gy < SPLIT_TARGET_GROUPS / 2 => {
                (SPLIT_TARGET_GROUPS / (gx * gy)).min(slices_max / 2).max(1)
            }
            None => 1,
        };
        let fit = (limit / (lc as u64 * 4)).max(1) as u32;
        let splits_wanted = splits_wanted.min(fit);
        // Slices are whole multiples of TK; recount after rounding.
        let k_split = k.div_ceil(splits_wanted).div_ceil(tk).max(1) * tk;
        let splits = k.div_ceil(k_split).max(1);
        // The epilogue runs where C is written: in the product, or in the summing pass of a
        // split product (its partial products are plain).
        let variant = GemmVariant::for_shape(&shape, tiles);
        let epilogue = gemm_family(&GemmVariant {
            l2: l2.is_some(),
            best: best.is_some(),
            largest: best.is_some_and(|b| b.1),
            ..variant
        });
        let family = if splits > 1 {
            gemm_family(&variant)
        } else {
            epilogue
        };
        let kernel = gpu.kernel(&family, "gemm", &constants(tiles))?;
        let (lda, ldb) = shape.strides();
        let params = |alpha: f32, beta: f32, c_split: u32| Params {
            m: shape.m as u32,
            n: shape.n as u32,
            k,
            lda: lda as u32,
            ldb: ldb as u32,
            ldc: shape.n as u32,
            alpha,
            beta,
            k_split: if splits > 1 { k_split } else { k.max(1) },
            c_split,
            best_ld: gx,
            _pad: 0,
        };
        let bind_gemm = |out: &GpuBuffer<f32>, p: Params, last: bool| {
            // `last`: the product writes C (its kernel has the epilogue).
            let params = gpu.uniform(&p);
            let entries = vec![
                (0, params.as_entire_binding()),
                (1, a.binding()),
                (2, b.binding()),
                (3, out.binding()),
            ];
            let mut entries = with_norms(entries, l2.filter(|_| last));
            if let Some((best, _)) = best.filter(|_| last) {
                entries.push((7, best.binding()));
            }
            gpu.bind(&kernel, &entries)
        };
        let (group, sum) = if splits > 1 {
            let part = gpu.alloc::<f32>(splits as usize * lc)?;
            let group = bind_gemm(&part, params(1.0, 0.0, lc as u32), false);
            let sum_kernel = gpu.kernel(&epilogue, "gemm_split_sum", &constants(tiles))?;
            let sum_params = gpu.uniform(&params(shape.alpha, shape.beta, 0));
            let entries = vec![
                (0, sum_params.as_entire_binding()),
                (3, c.binding()),
                (4, part.binding()),
            ];
            let sum_group = gpu.bind(&sum_kernel, &with_norms(entries, l2));
            let (x, y) = gpu.grid((lc as u32).div_ceil(256));
            let sum = SplitSum {
                kernel: sum_kernel,
                group: sum_group,
                grid: (x, y, 1),
                _part: part,
            };
            (group, Some(sum))
        } else {
            (bind_gemm(c, params(shape.alpha, shape.beta, 0), true), None)
        };
        Ok(Gemm {
            kernel,
            group,
            grid: (gx, gy, splits),
            sum,
            shape,
            tiles,
        })
    }

    /// The shape planned.
    pub fn shape(&self) -> GemmShape {
        self.shape
    }

    /// The tile configuration and the number of K slices in use.
    pub fn config(&self) -> (Tiles, u32) {
        (self.tiles, self.grid.2)
    }

    /// Records one product.
    pub fn record(&self, batch: &mut Batch<'_>) {
        batch.dispatch(&self.kernel, &self.group, self.grid);
        if let Some(sum) = &self.sum {
            batch.dispatch(&sum.kernel, &sum.group, sum.grid);
        }
    }
}

impl Gpu {
    /// `α·op(A)·op(B) + β·C` on host slices (uploads, runs, reads back). `c` is the old C,
    /// required when `beta != 0`.
    pub fn gemm(
        &self,
        a: &[f32],
        b: &[f32],
        c: Option<&[f32]>,
        shape: GemmShape,
        opts: &GemmOptions,
    ) -> Result<Vec<f32>> {
        let (.., lc) = shape.lens();
        let ga = self.upload(a)?;
        let gb = self.upload(b)?;
        let gc = match c {
            Some(c) => self.upload(c)?,
            None if shape.beta != 0.0 => {
                return Err(Error::InvalidArgument("gemm: beta != 0 needs C".into()));
            }
            None => self.alloc::<f32>(lc)?,
        };
        let plan = Gemm::new(self, &ga, &gb, &gc, shape, opts)?;
        let mut batch = self.batch(false);
        plan.record(&mut batch);
        batch.finish()?;
        self.read(&gc)
    }
}

/// A planned `x[i][j] += v[j]` over an `m × n` row-major matrix: a bias added to every row
/// (`add_rows`), the epilogue of affine maps such as PCA's `X·Cᵀ − mean·Cᵀ`.
pub struct AddRow {
    kernel: Arc<Kernel>,
    group: wgpu::BindGroup,
    grid: (u32, u32, u32),
}

impl AddRow {
    /// Plans the update of the first `m × n` values of `x` with the `n` values of `v`.
    pub fn new(
        gpu: &Gpu,
        x: &GpuBuffer<f32>,
        v: &GpuBuffer<f32>,
        m: usize,
        n: usize,
    ) -> Result<AddRow> {
        let len = m
            .checked_mul(n)
            .filter(|&l| l <= x.len() && l <= u32::MAX as usize);
        let Some(len) = len.filter(|_| n > 0 && v.len() >= n) else {
            return Err(Error::InvalidArgument(format!(
                "add_rows: {m} x {n} over a buffer of {} with a row of {}",
                x.len(),
                v.len()
            )));
        };
        let kernel = gpu.kernel(&crate::kernels::ELEMENTWISE, "add_rows", &[("WG", 256)])?;
        let (gx, gy) = gpu.grid((len as u32).div_ceil(256).max(1));
        let params = gpu.uniform(&[m as u32, n as u32, gx, 0]);
        let group = gpu.bind(
            &kernel,
            &[
                (0, params.as_entire_binding()),
                (1, x.binding()),
                (2, v.binding()),
            ],
        );
        Ok(AddRow {
            kernel,
            group,
            grid: (gx, gy, 1),
        })
    }

    /// Records the update.
    pub fn record(&self, batch: &mut Batch<'_>) {
        batch.dispatch(&self.kernel, &self.group, self.grid);
    }
}

//! General matrix multiply in f32: `C = α·op(A)·op(B) + β·C`, row-major, op = identity or
//! transpose — A·Bᵀ (distances), Aᵀ·B (k-means updates, SVD) and A·B.
//!
//! Shared-memory tiles of `gemm.tile_m × gemm.tile_n` (depth `gemm.tile_k`) with a
//! `gemm.thread_m × gemm.thread_n` register block per invocation, from the tuning entry or
//! [`GemmOptions`]. Accumulation is f32 with `fma`, in `k` order, so the error against an f64
//! reference is bounded by about `K · 2⁻²⁴ · Σₖ|aᵢₖ·bₖⱼ|`.
//!
//! Status: the f32 tiled path (exact on every adapter). The f16 cooperative-matrix path and the
//! small-M split-K variant are not built yet.

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use crate::buffer::GpuBuffer;
use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::kernels::{GEMM_TEMPLATE, Kernel, gemm_family};
use crate::submit::Batch;
use crate::tuning::gemm_tiles_problem;

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
    _pad: [u32; 2],
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
        }
    }

    /// A short unique name (`gemm_64x64x16_4x4_nt_v11`).
    pub fn name(&self) -> String {
        let (tm, tn, tk, rm, rn) = self.tiles;
        let t = |b: bool| if b { 't' } else { 'n' };
        format!(
            "gemm_{tm}x{tn}x{tk}_{rm}x{rn}_{}{}_v{}{}",
            t(self.trans_a),
            t(self.trans_b),
            u8::from(self.vec_a),
            u8::from(self.vec_b)
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
    let bindings = operand_binding("a", 1, v.vec_a) + &operand_binding("b", 2, v.vec_b);
    let sa = staging("a", tm, tk, wg, !v.trans_a, v.vec_a, "p.m", None);
    let sb = staging("b", tn, tk, wg, v.trans_b, v.vec_b, "p.n", None);
    let mut decl = sa.decl + &sb.decl;
    let mut store = String::new();
    for i in 0..rm {
        for h in 0..hn {
            decl += &format!("    var acc_{i}_{h} = vec4<f32>(0.0);\n");
            store += &format!(
                "    store4(wid.z, m0 + {}u * (TM * 4u / RM) + ty * 4u + {}u, n0 + {h}u * (TN * 4u / RN) + tx * 4u, acc_{i}_{h});\n",
                i / 4,
                i % 4
            );
        }
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
        let t = gpu.tuning();
        let tiles = match opts.tiles {
            Some(tiles) => tiles,
            None if shape.m <= 16 => SMALL_M_TILES,
            None => (
                t.int("gemm.tile_m") as u32,
                t.int("gemm.tile_n") as u32,
                t.int("gemm.tile_k") as u32,
                t.int("gemm.thread_m") as u32,
                t.int("gemm.thread_n") as u32,
            ),
        };
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
        let family = gemm_family(&GemmVariant::for_shape(&shape, tiles));
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
            _pad: [0; 2],
        };
        let bind_gemm = |out: &GpuBuffer<f32>, p: Params| {
            let params = gpu.uniform(&p);
            gpu.bind(
                &kernel,
                &[
                    (0, params.as_entire_binding()),
                    (1, a.binding()),
                    (2, b.binding()),
                    (3, out.binding()),
                ],
            )
        };
        let (group, sum) = if splits > 1 {
            let part = gpu.alloc::<f32>(splits as usize * lc)?;
            let group = bind_gemm(&part, params(1.0, 0.0, lc as u32));
            let sum_kernel = gpu.kernel(&family, "gemm_split_sum", &constants(tiles))?;
            let sum_params = gpu.uniform(&params(shape.alpha, shape.beta, 0));
            let sum_group = gpu.bind(
                &sum_kernel,
                &[
                    (0, sum_params.as_entire_binding()),
                    (3, c.binding()),
                    (4, part.binding()),
                ],
            );
            let (x, y) = gpu.grid((lc as u32).div_ceil(256));
            let sum = SplitSum {
                kernel: sum_kernel,
                group: sum_group,
                grid: (x, y, 1),
                _part: part,
            };
            (group, Some(sum))
        } else {
            (bind_gemm(c, params(shape.alpha, shape.beta, 0)), None)
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

/// The f16 tensor-core product `C = op(A)·op(B)` (f32 result) through cooperative matrices,
/// on buffers already on the device. Opt-in: inputs are rounded to f16, accumulation is f32.
///
/// A is `m × k` f16 row-major; B is `k × n` (or `n × k` with `trans_b`) f16 row-major; C is
/// `m × n` f32. `m` and `n` must be multiples of 32 and `k` of 16 ([`Gpu::gemm_f16`] pads).
pub struct CoopGemm {
    kernel: Arc<Kernel>,
    group: wgpu::BindGroup,
    grid: (u32, u32, u32),
    staged: bool,
}

/// Workgroup size of the direct cooperative-matrix GEMM (subgroups of 32 on NVIDIA: 4 each).
const COOP_WG: u32 = 128;

/// Stores of the accumulators `c<i><j>` (`rows` x `cols` fragments) at row `row0 + 16 i`,
/// column `col0 + 16 j`, with every argument let-bound first (naga 30's SPIR-V writer).
fn coop_stores(rows: usize, cols: usize, row0: &str, col0: &str) -> String {
    let mut out = String::from("    let ldc = p.ldc;\n");
    for i in 0..rows {
        for j in 0..cols {
            out += &format!(
                "    let o{i}{j} = ({row0} + {}u) * ldc + {col0} + {}u;\n    let r{i}{j} = c{i}{j};\n    coopStoreT(r{i}{j}, &c[o{i}{j}], ldc);\n",
                16 * i,
                16 * j
            );
        }
    }
    out
}

/// The direct kernel: a 32 x 32 block per subgroup, fragments from device memory.
fn coop_direct_entry(nt: bool) -> String {
    let name = if nt { "coop_gemm_nt" } else { "coop_gemm_nn" };
    let mut s = format!(
        "@compute @workgroup_size(WG)\nfn {name}(@builtin(workgroup_id) wid: vec3<u32>,\n    @builtin(subgroup_id) sg: u32,\n    @builtin(num_subgroups) nsg: u32) {{\n"
    );
    s += "    let blocks_n = p.n / 32u;\n";
    s += "    // Cooperative operations need uniform control flow: no subgroup leaves early; one\n";
    s += "    // past the last block recomputes the last block and stores the same values.\n";
    s += "    let blk = min((wid.x + wid.y * p.wg_x) * nsg + sg, (p.m / 32u) * blocks_n - 1u);\n";
    s += "    let m0 = (blk / blocks_n) * 32u;\n    let n0 = (blk % blocks_n) * 32u;\n";
    for i in 0..2 {
        for j in 0..2 {
            s += &format!("    var c{i}{j} = coop_mat16x16<f32, C>();\n");
        }
    }
    s += "    for (var k0 = 0u; k0 < p.k; k0 += 16u) {\n";
    for i in 0..2 {
        s += &format!(
            "        let a{i} = coopLoadT<coop_mat16x16<f16, A>>(&a[(m0 + {}u) * p.lda + k0], p.lda);\n",
            16 * i
        );
    }
    for j in 0..2 {
        s += &if nt {
            // B stored N x K row-major is K x N column-major.
            format!(
                "        let b{j} = coopLoad<coop_mat16x16<f16, B>>(&b[(n0 + {}u) * p.ldb + k0], p.ldb);\n",
                16 * j
            )
        } else {
            format!(
                "        let b{j} = coopLoadT<coop_mat16x16<f16, B>>(&b[k0 * p.ldb + n0 + {}u], p.ldb);\n",
                16 * j
            )
        };
    }
    for i in 0..2 {
        for j in 0..2 {
            s += &format!("        c{i}{j} = coopMultiplyAdd(a{i}, b{j}, c{i}{j});\n");
        }
    }
    s += "    }\n";
    s += &coop_stores(2, 2, "m0", "n0");
    s += "}\n\n";
    s
}

/// The staged kernel: 128 x 128 tiles, 64 x 32 per subgroup, slices in workgroup memory.
fn coop_tiled_entry(nt: bool) -> String {
    let name = if nt { "coop_tiled_nt" } else { "coop_tiled_nn" };
    let mut s = format!(
        "@compute @workgroup_size(256)\nfn {name}(@builtin(workgroup_id) wid: vec3<u32>,\n    @builtin(local_invocation_index) lid: u32,\n    @builtin(subgroup_id) sg: u32) {{\n"
    );
    s += "    let m0 = wid.y * 128u;\n    let n0 = wid.x * 128u;\n";
    s += "    // Subgroup sg owns rows sr*64 .. +64 and columns sc*32 .. +32 of the tile.\n";
    s += "    let sr = sg / 4u;\n    let sc = sg % 4u;\n";
    for i in 0..4 {
        for j in 0..2 {
            s += &format!("    var c{i}{j} = coop_mat16x16<f32, C>();\n");
        }
    }
    s += "    let lda4 = p.lda / 4u;\n    let ldb4 = p.ldb / 4u;\n";
    s +=
        "    // The next K slice in registers: four vec4<f16> of A and four of B per invocation.\n";
    for i in 0..4 {
        s += &format!("    var pa{i}: vec4<f16>;\n    var pb{i}: vec4<f16>;\n");
    }
    let load = |k: &str, indent: &str| -> String {
        let mut out = String::new();
        for i in 0..4 {
            let q = format!("(lid + {}u)", 256 * i);
            out +=
                &format!("{indent}pa{i} = a4[(m0 + {q} / 8u) * lda4 + ({k}) / 4u + {q} % 8u];\n");
            out += &if nt {
                format!("{indent}pb{i} = b4[(n0 + {q} / 8u) * ldb4 + ({k}) / 4u + {q} % 8u];\n")
            } else {
                format!("{indent}pb{i} = b4[(({k}) + {q} / 32u) * ldb4 + n0 / 4u + {q} % 32u];\n")
            };
        }
        out
    };
    s += &load("0u", "    ");
    s += "    for (var k0 = 0u; k0 < p.k; k0 += 32u) {\n";
    s += "        // A as [m][k], B as [k][n] (nn) or [n][k] (nt): 128 x 32 halves each.\n";
    for i in 0..4 {
        let q = format!("(lid + {}u)", 256 * i);
        s += &format!("        {{\n            let at = ({q} / 8u) * 32u + ({q} % 8u) * 4u;\n");
        let b_at = if nt {
            "at".to_string()
        } else {
            s += &format!("            let bt = ({q} / 32u) * 128u + ({q} % 32u) * 4u;\n");
            "bt".to_string()
        };
        for (j, lane) in ["x", "y", "z", "w"].iter().enumerate() {
            s += &format!("            As[at + {j}u] = pa{i}.{lane};\n");
            s += &format!("            Bs[{b_at} + {j}u] = pb{i}.{lane};\n");
        }
        s += "        }\n";
    }
    s += "        workgroupBarrier();\n";
    s += "        // Load the next slice while this one is multiplied.\n";
    s += "        if k0 + 32u < p.k {\n";
    s += &load("k0 + 32u", "            ");
    s += "        }\n";
    s += "        for (var kk = 0u; kk < 32u; kk += 16u) {\n";
    for i in 0..4 {
        s += &format!(
            "            let a{i} = coopLoadT<coop_mat16x16<f16, A>>(&As[(sr * 64u + {}u) * 32u + kk], 32u);\n",
            16 * i
        );
    }
    for j in 0..2 {
        s += &if nt {
            format!(
                "            let b{j} = coopLoad<coop_mat16x16<f16, B>>(&Bs[(sc * 32u + {}u) * 32u + kk], 32u);\n",
                16 * j
            )
        } else {
            format!(
                "            let b{j} = coopLoadT<coop_mat16x16<f16, B>>(&Bs[kk * 128u + sc * 32u + {}u], 128u);\n",
                16 * j
            )
        };
    }
    for i in 0..4 {
        for j in 0..2 {
            s += &format!("            c{i}{j} = coopMultiplyAdd(a{i}, b{j}, c{i}{j});\n");
        }
    }
    s += "        }\n        workgroupBarrier();\n    }\n";
    s += &coop_stores(4, 2, "m0 + sr * 64u", "n0 + sc * 32u");
    s += "}\n\n";
    s
}

/// The source of the cooperative-matrix GEMM family: the template with its four entry points
/// (direct and staged, B plain and transposed) written out.
pub fn coop_source() -> String {
    let entries = coop_direct_entry(false)
        + &coop_direct_entry(true)
        + &coop_tiled_entry(false)
        + &coop_tiled_entry(true);
    crate::kernels::GEMM_COOP_TEMPLATE.replace("// @ENTRIES\n", &entries)
}

impl CoopGemm {
    /// Plans the product for `shape` (m, n, k, trans_b; no trans_a, alpha 1, beta 0); the
    /// adapter must have f16 cooperative matrices.
    pub fn new(
        gpu: &Gpu,
        a: &GpuBuffer<half::f16>,
        b: &GpuBuffer<half::f16>,
        c: &GpuBuffer<f32>,
        shape: GemmShape,
    ) -> Result<CoopGemm> {
        let (m, n, k, trans_b) = (shape.m, shape.n, shape.k, shape.trans_b);
        if shape.trans_a || shape.alpha != 1.0 || shape.beta != 0.0 {
            return Err(Error::InvalidArgument(
                "f16 GEMM: only C = A·op(B) (no transposed A, alpha 1, beta 0)".into(),
            ));
        }
        if !gpu.supports(&crate::kernels::gemm_coop()) {
            return Err(Error::InvalidArgument(format!(
                "the f16 tensor-core GEMM needs cooperative matrices with f16 inputs, which {} does not report",
                gpu.capabilities().name
            )));
        }
        if m == 0
            || n == 0
            || k == 0
            || !m.is_multiple_of(32)
            || !n.is_multiple_of(32)
            || !k.is_multiple_of(16)
        {
            return Err(Error::InvalidArgument(format!(
                "f16 GEMM {m} x {n} x {k}: m and n must be positive multiples of 32, k of 16"
            )));
        }
        if (a.len(), b.len(), c.len()) != (m * k, k * n, m * n) {
            return Err(Error::InvalidArgument(format!(
                "f16 GEMM {m} x {n} x {k}: buffers hold {}, {}, {} values",
                a.len(),
                b.len(),
                c.len()
            )));
        }
        let (kernel, x, y, staged) = if coop_tiled_fits(gpu, m, n, k) {
            // 128 x 128 tiles staged in workgroup memory, one workgroup each.
            let entry = if trans_b {
                "coop_tiled_nt"
            } else {
                "coop_tiled_nn"
            };
            let (gx, gy) = ((n / 128) as u32, (m / 128) as u32);
            let max = gpu.capabilities().max_workgroups_per_dimension;
            if gx > max || gy > max {
                return Err(Error::InvalidArgument(format!(
                    "f16 GEMM {m} x {n}: too many tiles for one dispatch; split the product"
                )));
            }
            let kernel = gpu.kernel(&crate::kernels::gemm_coop(), entry, &[("WG", COOP_WG)])?;
            (kernel, gx, gy, true)
        } else {
            let entry = if trans_b {
                "coop_gemm_nt"
            } else {
                "coop_gemm_nn"
            };
            // Blocks of 32 x 32, one per subgroup; assume the largest subgroups (fewest per
            // workgroup) so every block is covered; surplus subgroups repeat the last block.
            let blocks = ((m / 32) * (n / 32)) as u32;
            let per_group = (COOP_WG / gpu.capabilities().subgroup_max_size.max(1)).max(1);
            let (x, y) = gpu.grid(blocks.div_ceil(per_group));
            let kernel = gpu.kernel(&crate::kernels::gemm_coop(), entry, &[("WG", COOP_WG)])?;
            (kernel, x, y, false)
        };
        let params = gpu.uniform(&[
            m as u32,
            n as u32,
            k as u32,
            k as u32,
            if trans_b { k } else { n } as u32,
            n as u32,
            x,
            0u32,
        ]);
        // The staged kernel reads vec4<f16> views of A and B (bindings 4, 5).
        let (ab, bb) = if staged { (4, 5) } else { (1, 2) };
        let group = gpu.bind(
            &kernel,
            &[
                (0, params.as_entire_binding()),
                (ab, a.binding()),
                (bb, b.binding()),
                (3, c.binding()),
            ],
        );
        Ok(CoopGemm {
            kernel,
            group,
            grid: (x, y, 1),
            staged,
        })
    }

    /// Whether the staged 128 × 128 kernel runs (else the direct 32 × 32 one).
    pub fn staged(&self) -> bool {
        self.staged
    }

    /// Padded sizes for a product: `(m, n, k)` rounded up to the tiles of the kernel that
    /// will run (128, 128, 32 for the staged kernel, else 32, 32, 16).
    pub fn padded(gpu: &Gpu, m: usize, n: usize, k: usize) -> (usize, usize, usize) {
        let big = (
            m.div_ceil(128) * 128,
            n.div_ceil(128) * 128,
            k.div_ceil(32) * 32,
        );
        if m >= 128 && n >= 128 && coop_tiled_fits(gpu, big.0, big.1, big.2) {
            big
        } else {
            (
                m.div_ceil(32).max(1) * 32,
                n.div_ceil(32).max(1) * 32,
                k.div_ceil(16).max(1) * 16,
            )
        }
    }

    /// Records one product.
    pub fn record(&self, batch: &mut Batch<'_>) {
        batch.dispatch(&self.kernel, &self.group, self.grid);
    }
}

/// Whether the staged 128 × 128 kernel can run: subgroups exactly 32 wide (8 per workgroup),
/// and padded sizes on its grid.
fn coop_tiled_fits(gpu: &Gpu, m: usize, n: usize, k: usize) -> bool {
    let c = gpu.capabilities();
    c.subgroup_min_size == 32
        && c.subgroup_max_size == 32
        && m.is_multiple_of(128)
        && n.is_multiple_of(128)
        && k.is_multiple_of(32)
}

/// Rounds `rows × cols` f32 values to f16, padded with zeros to `prows × pcols`.
pub fn to_f16_padded(
    x: &[f32],
    rows: usize,
    cols: usize,
    prows: usize,
    pcols: usize,
) -> Vec<half::f16> {
    let mut out = vec![half::f16::ZERO; prows * pcols];
    for r in 0..rows {
        for (o, &v) in out[r * pcols..r * pcols + cols]
            .iter_mut()
            .zip(&x[r * cols..(r + 1) * cols])
        {
            *o = half::f16::from_f32(v);
        }
    }
    out
}

impl Gpu {
    /// `op(A)·op(B)` with A, B rounded to f16 and f32 accumulation on tensor cores (opt-in
    /// precision; `trans_a` is not supported). Pads to the tile grid and crops the result.
    pub fn gemm_f16(&self, a: &[f32], b: &[f32], shape: GemmShape) -> Result<Vec<f32>> {
        if shape.trans_a || shape.alpha != 1.0 || shape.beta != 0.0 {
            return Err(Error::InvalidArgument(
                "f16 GEMM: only C = A·op(B) (no transposed A, alpha 1, beta 0)".into(),
            ));
        }
        let (la, lb, _) = shape.lens();
        if (a.len(), b.len()) != (la, lb) {
            return Err(Error::InvalidArgument(format!(
                "f16 GEMM {}x{}x{}: A holds {}, B {} values",
                shape.m,
                shape.n,
                shape.k,
                a.len(),
                b.len()
            )));
        }
        let (mp, np, kp) = CoopGemm::padded(self, shape.m, shape.n, shape.k);
        let a16 = self.upload(&to_f16_padded(a, shape.m, shape.k, mp, kp))?;
        let b16 = if shape.trans_b {
            self.upload(&to_f16_padded(b, shape.n, shape.k, np, kp))?
        } else {
            self.upload(&to_f16_padded(b, shape.k, shape.n, kp, np))?
        };
        let c = self.alloc::<f32>(mp * np)?;
        let padded = GemmShape {
            trans_b: shape.trans_b,
            ..GemmShape::new(mp, np, kp)
        };
        let plan = CoopGemm::new(self, &a16, &b16, &c, padded)?;
        let mut batch = self.batch(false);
        plan.record(&mut batch);
        batch.finish()?;
        let full = self.read(&c)?;
        Ok((0..shape.m)
            .flat_map(|r| full[r * np..r * np + shape.n].iter().copied())
            .collect())
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

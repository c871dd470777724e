//! k-NN in f16 precision with an exact re-rank: the flat index's opt-in fast mode.
//!
//! The base is kept a second time as f16 ([`HalfBase`], zero-padded to the kernel's tiles).
//! A search rounds its queries to f16 on the device, and the fused kernel
//! (`wgsl/knn_half.wgsl`) computes f16 inner products with f32 accumulation — on tensor cores
//! through cooperative matrices where the adapter has them with subgroups of 32, else with
//! plain loops — and keeps per query the best `kc ≥ k` candidates of each segment of the base
//! (1–4 queries: the streaming kernel over the f16 base with the f32 queries instead);
//! the segments are merged (the bounded `topk_lists` pass; mid-size batches instead write f16 key tiles
//! and select from them within a bound, [`uses_key_tiles`]), then every candidate's distance
//! is computed again exactly in f32 from the f32 base (the operations of the exact kernels),
//! and the best `k` of the `kc` are returned. So values are exact; only which candidates are
//! considered is approximate: a true neighbour is missed only when f16 rounding moves more
//! than `kc − k` others ahead of it. Recall against the exact mode is what the benchmark
//! reports.

use std::sync::Arc;

use half::f16;

use crate::buffer::{GpuBuffer, SplitBuffer};
use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::kernels::Kernel;
use crate::ops::knn::{
    DbChunk, KnnMetric, KnnPlan, grid_plan, list_slots, stream_constants, stream_lanes,
    stream_segment, uses_stream,
};
use crate::ops::topk::{TopK, TopKOptions, TopKPlan, parse_lists};
use crate::submit::Batch;

/// Queries per team of the f16 kernel (a team is 32 invocations: one subgroup for the
/// tensor-core product); a workgroup is 1..=8 teams (`knn.half_teams`).
pub const HALF_TEAM: usize = 32;
/// Base rows per step of the f16 kernel (a team's 32 × 32 block of products).
pub const HALF_TN: usize = 32;
/// Rows of the f16 base are padded to a multiple of this (a step's 32 rows).
const HALF_PAD_ROWS: usize = 32;
/// The most candidates per query (`kc`) the re-rank keeps (one workgroup per query).
pub const MAX_CANDIDATES: usize = 256;

/// How the f16 kernel computes its products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HalfProduct {
    /// Cooperative matrices (tensor cores): needs f16 16 × 16 configurations, subgroups of
    /// exactly 32 and subgroup barriers.
    Coop,
    /// Plain loops over `vec4<f16>` loads (any adapter with `SHADER_F16`).
    Plain,
}

impl HalfProduct {
    /// The family's name.
    pub fn name(self) -> &'static str {
        match self {
            HalfProduct::Coop => "knn_half_coop",
            HalfProduct::Plain => "knn_half_plain",
        }
    }
}

/// Everything that selects one generated f16 kernel (override constants aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HalfVariant {
    /// How products are computed.
    pub form: HalfProduct,
    /// Tensor cores: K steps of 16 written out in full (the padded dimension / 16, at most
    /// [`MAX_UNROLLED_STEPS`]); 0: a loop over the steps (any dimension).
    pub steps: u32,
    /// Entries of each invocation's private list ([`list_slots`] of the candidates kept).
    pub slots: u32,
    /// Tensor cores with the steps written out: each step's base rows staged in workgroup
    /// memory once for all teams (`knn.half_stage`), instead of every team loading them.
    pub stage: bool,
}

/// Steps whose base fragments the tensor-core product loads at once.
const HALF_GROUP: usize = 4;

/// The most K steps the tensor-core product writes out in full (d ≤ 256).
pub const MAX_UNROLLED_STEPS: u32 = 16;

impl HalfVariant {
    /// The variant for dimension `d` keeping `kc` candidates per query with product `form`,
    /// the steps written out if `unroll` allows and d ≤ 256.
    pub fn new(form: HalfProduct, d: usize, kc: usize, unroll: bool, stage: bool) -> HalfVariant {
        let s = (padded_dim(d) / 16) as u32;
        let steps = if unroll && form == HalfProduct::Coop && s <= MAX_UNROLLED_STEPS {
            s
        } else {
            0
        };
        HalfVariant {
            form,
            steps,
            slots: list_slots(kc),
            stage: stage && steps > 0,
        }
    }

    /// A short unique name (`knn_half_coop_s8_l28`).
    pub fn name(&self) -> String {
        let staged = if self.stage { "_staged" } else { "" };
        format!(
            "{}_s{}_l{}{staged}",
            self.form.name(),
            self.steps,
            self.slots
        )
    }
}

/// The product form on this adapter: tensor cores where possible (unless the tuning's
/// `knn.half_product` says `plain`), else plain loops; `None` without `SHADER_F16`.
pub fn product_form(gpu: &Gpu) -> Option<HalfProduct> {
    let c = gpu.capabilities();
    if !c.f16 {
        return None;
    }
    let coop = c.cooperative_matrix
        && c.subgroups
        && c.subgroup_barrier
        && c.subgroup_min_size == 32
        && c.subgroup_max_size == 32
        && gpu.tuning().choice("knn.half_product") != "plain";
    Some(if coop {
        HalfProduct::Coop
    } else {
        HalfProduct::Plain
    })
}

/// Whether an f16 search of `nq` queries of `d` keeping `kc` candidates runs the streaming
/// kernel over the f16 base (1–4 queries, as [`uses_stream`], where the adapter compiles it).
pub fn streams(gpu: &Gpu, nq: usize, d: usize, kc: usize) -> bool {
    uses_stream(gpu, nq, d, kc) && gpu.supports(&crate::kernels::KNN_STREAM_H4)
}

/// The dimension padded for the kernel (a multiple of 16: the fragments' K).
pub fn padded_dim(d: usize) -> usize {
    d.next_multiple_of(16)
}

/// Candidates re-ranked per query for `k` when the caller asks for `requested` (0: the
/// default, `max(2k, k + 16)`), or an error naming the bound.
pub fn candidates(k: usize, requested: usize) -> Result<usize> {
    let kc = if requested == 0 {
        (2 * k).max(k + 16)
    } else {
        requested
    };
    if k == 0 || kc < k || kc > MAX_CANDIDATES {
        return Err(Error::InvalidArgument(format!(
            "f16 precision: {kc} re-ranked candidates for k = {k}; expected k..={MAX_CANDIDATES} (so k <= {MAX_CANDIDATES})"
        )));
    }
    Ok(kc)
}

/// The WGSL source of one variant: `wgsl/knn_half.wgsl` with its `@...` lines written.
pub fn source(v: HalfVariant) -> String {
    let parts = match v.form {
        HalfProduct::Coop => coop_parts(v.steps, v.stage),
        HalfProduct::Plain => plain_parts(),
    };
    expand(crate::kernels::KNN_HALF_TEMPLATE, &parts)
        .replace("// @SLOTS\n", &format!("const KB: u32 = {}u;\n", v.slots))
        .replace("        // @KEYS\n", &keys())
        + crate::kernels::BOUND
}

/// The f16 key-tile kernel (`wgsl/half_keys.wgsl`) with the product parts of `v`'s form and
/// K steps, never staged (see `KeyTiles`).
pub fn keys_source(v: HalfVariant) -> String {
    let parts = match v.form {
        HalfProduct::Coop => coop_parts(v.steps, false),
        HalfProduct::Plain => plain_parts(),
    };
    let mut scan = String::new();
    let mut write = String::new();
    for c in 0..32 {
        scan += &format!("        let sk{c} = ct[(team * 32u + {c}u) * TSC + r];\n");
        write += &format!(
            "        let qk{c} = ({c}u + r / 8u) % 32u;\n        let wk{c} = ct[(team * 32u + r) * TSC + qk{c}];\n"
        );
    }
    for c in 0..32 {
        scan += &format!(
            "        if n0 + {c}u < p.n {{\n            let kv = select(-sk{c}, fma(-2.0, sk{c}, xs[team * 32u + {c}u]), METRIC == 0u);\n            run = select(run, kv, kv < run);\n        }}\n"
        );
        write += &format!(
            "        if (col < p.n) & (m0 + team * 32u + qk{c} < p.m) {{\n            keys[(m0 + team * 32u + qk{c}) * p.n + col] = select(wk{c}, fma(-2.0, wk{c}, xn), METRIC == 0u);\n        }}\n"
        );
    }
    expand(crate::kernels::HALF_KEYS_TEMPLATE, &parts)
        .replace("        // @SCAN\n", &scan)
        .replace("        // @WRITE\n", &write)
}

/// A template with the `@...` lines that both f16 templates share written from `parts`, and
/// their shared parameters and placement (`wgsl/half_place.wgsl`).
fn expand(template: &str, parts: &Parts) -> String {
    template
        .replace("// @ENABLE\n", &parts.enable)
        .replace("// @BINDINGS\n", &parts.bindings)
        .replace("            // @BUILTINS\n", &parts.builtins)
        .replace("    // @TEAM\n", &parts.team)
        .replace("    // @DECL\n", &parts.decl)
        .replace("        // @STAGE\n", &parts.stage)
        .replace("        // @PRODUCT\n", &parts.product)
        .replace("        // @SYNC\n", &parts.sync)
        .replace("        // @END\n", &parts.end)
        + crate::kernels::HALF_PLACE
}

/// The generated pieces of one product form (see `wgsl/knn_half.wgsl`).
struct Parts {
    enable: String,
    bindings: String,
    builtins: String,
    /// Defines `team` and `r` (the invocation's team and row in it).
    team: String,
    decl: String,
    /// Before the norms of a step are written: the staging of its base rows.
    stage: String,
    product: String,
    /// After the product, before the keys are read.
    sync: String,
    /// After the keys (before the next step writes the team's block and norms).
    end: String,
}

/// The 32 keys of an invocation written out: every load issued before the comparisons (a
/// loop waited on each load in turn), with a constant bit per value and no branch.
fn keys() -> String {
    let mut s = String::new();
    for j in 0..32 {
        s += &format!("        let kv{j} = key_at(team, r, {j}u);\n");
    }
    for j in 0..32u32 {
        let cond = format!("(n0 + {j}u < seg_end) & before(kv{j}, p.id0 + n0 + {j}u, ev, ei)");
        s += &format!("        pend |= select(0u, {}u, {cond});\n", 1u32 << j);
    }
    s
}

/// Tensor cores: subgroup `sg` computes its team's 32 queries × the step's 32 base rows as
/// 2 × 2 fragments and stores them column-major into its block of `ct`. With `steps` > 0 the
/// K steps are written out, the team's query fragments are loaded once per segment and kept
/// in registers, and the base fragments of [`HALF_GROUP`] steps are loaded before their
/// products; a loop (d > 256) loads both operands step by step. Base fragments come from
/// device memory (every team loads the step's rows; the others find them in the cache) or,
/// `staged` (steps written out), from workgroup memory, where the teams put them once per
/// step before a barrier (rows 8 halves longer than the dimension: a 16-byte shift per row
/// spreads a fragment's rows over the banks).
///
/// naga 30 quirks shape it: every argument of a cooperative store is let-bound first (its
/// SPIR-V writer), and the accumulators restart each step from a zero fragment loaded from
/// workgroup memory. Stores into `ct` are column-major because a row-major `coopStoreT` into
/// workgroup memory put values one column off on an H100 (driver 580.159.04; the same store
/// into a storage buffer, and column-major stores into workgroup memory, were right).
fn coop_parts(steps: u32, staged: bool) -> Parts {
    let enable = "enable f16;\nenable wgpu_cooperative_matrix;\n".to_string();
    let mut bindings = "@group(0) @binding(1) var<storage, read> a: array<f16>;\n@group(0) @binding(2) var<storage, read> b: array<f16>;\nvar<workgroup> zc: array<f32, 256>;\n".to_string();
    let builtins = "            , @builtin(subgroup_id) sg: u32\n            , @builtin(subgroup_invocation_id) lane: u32\n".to_string();
    let stride = 16 * steps + 8;
    if staged {
        bindings += &format!("var<workgroup> bs: array<f16, {}>;\n", 32 * stride);
    }
    let mut decl = String::from(
        "    for (var t = tid; t < 256u; t += WG) {\n        zc[t] = 0.0;\n    }\n    workgroupBarrier();\n    let zero = coopLoad<coop_mat16x16<f32, C>>(&zc[0], 16u);\n",
    );
    for i in 0..2 {
        for j in 0..2 {
            decl += &format!("    var c{i}{j} = coop_mat16x16<f32, C>();\n");
        }
    }
    // A step's 32 rows are inside the chunk's padded rows (n0 < p.n, both multiples of 32);
    // rows past p.n are zeros and never offered.
    let mut product = String::new();
    let mut stage = String::new();
    let load_a = |k: &str, tag: &str, indent: &str| -> String {
        let mut out = String::new();
        for i in 0..2 {
            out += &format!(
                "{indent}let a{tag}{i} = coopLoadT<coop_mat16x16<f16, A>>(&a[(m0 + sg * 32u + {}u) * p.lda + {k}], p.lda);\n",
                16 * i
            );
        }
        out
    };
    let load = |k: &str, tag: &str, with_a: bool| -> String {
        let mut out = if with_a {
            load_a(k, tag, "        ")
        } else {
            String::new()
        };
        for j in 0..2 {
            // B stored N x K row-major is K x N column-major.
            out += &if staged {
                format!(
                    "        let b{tag}{j} = coopLoad<coop_mat16x16<f16, B>>(&bs[{}u + {k}], {stride}u);\n",
                    16 * j * stride
                )
            } else {
                format!(
                    "        let b{tag}{j} = coopLoad<coop_mat16x16<f16, B>>(&b[(n0 + {}u) * p.ldb + {k}], p.ldb);\n",
                    16 * j
                )
            };
        }
        out
    };
    let mma = |tag: &str, first: bool| -> String {
        let mut out = String::new();
        for i in 0..2 {
            for j in 0..2 {
                let acc = if first {
                    "zero".to_string()
                } else {
                    format!("c{i}{j}")
                };
                out +=
                    &format!("        c{i}{j} = coopMultiplyAdd(a{tag}{i}, b{tag}{j}, {acc});\n");
            }
        }
        out
    };
    if steps > 0 {
        // The team's query fragments stay in registers for the whole segment.
        for s in 0..steps {
            decl += &load_a(&format!("{}u", 16 * s), &format!("_{s}_"), "    ");
        }
        if staged {
            // The step's 2 × steps base fragments, spread over the teams: fragment i·S + sg
            // (S is uniform, so every team takes the same branches; a fragment past the last
            // is the last again).
            let frags = 2 * steps;
            for i in 0..frags {
                stage += &format!(
                    "        if {i}u * S < {frags}u {{
            let bf{i} = min(sg + {i}u * S, {last}u);
            let bg{i} = coopLoad<coop_mat16x16<f16, B>>(&b[(n0 + (bf{i} / {steps}u) * 16u) * p.ldb + (bf{i} % {steps}u) * 16u], p.ldb);
            let bo{i} = (bf{i} / {steps}u) * {rows16}u + (bf{i} % {steps}u) * 16u;
            coopStore(bg{i}, &bs[bo{i}], {stride}u);
        }}
",
                    last = frags - 1,
                    rows16 = 16 * stride
                );
            }
            stage += "        workgroupBarrier();\n";
        }
        // The base fragments of HALF_GROUP steps at a time: their loads overlap, and fewer
        // registers than all steps at once.
        for g in (0..steps).step_by(HALF_GROUP) {
            let end = (g + HALF_GROUP as u32).min(steps);
            for s in g..end {
                product += &load(&format!("{}u", 16 * s), &format!("_{s}_"), false);
            }
            for s in g..end {
                product += &mma(&format!("_{s}_"), s == 0);
            }
        }
    } else {
        for i in 0..2 {
            for j in 0..2 {
                product += &format!("        c{i}{j} = zero;\n");
            }
        }
        product += "        for (var k0 = 0u; k0 < p.k; k0 += 16u) {\n";
        product += &load("k0", "", true).replace("        let", "            let");
        product += &mma("", false).replace("        c", "            c");
        product += "        }\n";
    }
    for i in 0..2 {
        for j in 0..2 {
            product += &format!(
                "        let o{i}{j} = (sg * 32u + {}u) * TSC + {}u;\n        let s{i}{j} = TSC;\n        let r{i}{j} = c{i}{j};\n        coopStore(r{i}{j}, &ct[o{i}{j}], s{i}{j});\n",
                16 * j,
                16 * i
            );
        }
    }
    // The team is the subgroup and its rows are the subgroup's invocations, so the keys of a
    // team's block are read by the invocations that stored it: a subgroup barrier orders
    // them (workgroup memory, subgroup scope: what NVIDIA's drivers do with it; the test
    // binaries check it on the card). Staged, two workgroup barriers order the staged rows
    // (written, then read by every team's product before the next step writes them), and
    // the first also ends every team's reads of its block and norms.
    let (sync, end) = if staged {
        ("        workgroupBarrier();\n", "")
    } else {
        (
            "        subgroupBarrier();\n",
            "        subgroupBarrier();\n",
        )
    };
    Parts {
        enable,
        bindings,
        builtins,
        team: "    let team = sg;\n    let r = lane;\n".into(),
        decl,
        stage,
        product,
        sync: sync.into(),
        end: end.into(),
    }
}

/// Plain loops: invocation (t, r) computes row r of team t's block (its own query) against
/// the step's 32 base rows.
fn plain_parts() -> Parts {
    let enable = "enable f16;\n".to_string();
    let bindings = "@group(0) @binding(1) var<storage, read> a: array<vec4<f16>>;\n@group(0) @binding(2) var<storage, read> b: array<vec4<f16>>;\n".to_string();
    let product = "        let k4 = p.k / 4u;
        for (var c = 0u; c < 32u; c++) {
            var s = 0.0;
            for (var kk = 0u; kk < select(0u, k4, n0 + c < p.n); kk++) {
                s += dot(vec4<f32>(a[row * (p.lda / 4u) + kk]), vec4<f32>(b[(n0 + c) * (p.ldb / 4u) + kk]));
            }
            ct[(team * 32u + c) * TSC + r] = s;
        }
"
    .to_string();
    Parts {
        enable,
        bindings,
        builtins: String::new(),
        team: "    let team = tid / 32u;\n    let r = tid % 32u;\n".into(),
        decl: String::new(),
        stage: String::new(),
        product,
        sync: "        workgroupBarrier();\n".into(),
        end: "        workgroupBarrier();\n".into(),
    }
}

/// Teams of 32 queries per workgroup of variant `v` for `nq` queries: `knn.half_teams`, fewer
/// where the batch has fewer queries or the adapter's `limit` bytes of workgroup memory hold
/// fewer; `None` where not even one team fits.
pub fn teams(gpu: &Gpu, v: HalfVariant, nq: usize, pad: u32, limit: u64) -> Option<u32> {
    let most = gpu.tuning().int("knn.half_teams").clamp(1, 8) as u32;
    let most = most.min(nq.div_ceil(HALF_TEAM).max(1) as u32);
    (1..=most).rev().find(|&t| shared_bytes(v, t, pad) <= limit)
}

/// Override constants of the f16 kernel with `teams` teams per workgroup, the product
/// block's columns `pad` floats apart beyond their 32 rows (`knn.half_col_pad`).
pub fn constants(teams: u32, metric: KnnMetric, pad: u32) -> Vec<(&'static str, u32)> {
    vec![
        ("S", teams),
        ("WG", teams * HALF_TEAM as u32),
        ("TSC", HALF_TEAM as u32 + pad),
        ("METRIC", u32::from(metric == KnnMetric::InnerProduct)),
    ]
}

/// Workgroup memory of variant `v` with `teams` teams and column padding `pad`, in bytes
/// (the lists are in each invocation's private memory).
pub fn shared_bytes(v: HalfVariant, teams: u32, pad: u32) -> u64 {
    let cols = u64::from(teams) * HALF_TN as u64;
    let staged = if v.stage {
        HALF_TN as u64 * (16 * u64::from(v.steps) + 8) * 2
    } else {
        0
    };
    let zero = if v.form == HalfProduct::Coop { 1024 } else { 0 };
    // The teams' blocks and norms, the zero fragment, the staged rows.
    zero + cols * (HALF_TEAM as u64 + u64::from(pad)) * 4 + cols * 4 + staged
}

/// The helper kernels' parameters (`half.wgsl`'s `Params`).
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct HelperParams {
    rows: u32,
    cols: u32,
    prows: u32,
    pcols: u32,
    id0: u32,
    first: u32,
    wg_x: u32,
    _pad: u32,
}

/// A kernel, its bind group and its grid.
type Dispatch = (Arc<Kernel>, wgpu::BindGroup, (u32, u32, u32));

/// The dispatch rounding `src` (`rows × cols` f32) to f16 into `dst` (`prows × pcols`,
/// zero-padded).
fn to_half(
    gpu: &Gpu,
    src: &GpuBuffer<f32>,
    dst: &GpuBuffer<f16>,
    (rows, cols): (usize, usize),
    (prows, pcols): (usize, usize),
) -> Result<Dispatch> {
    let kernel = gpu.kernel(&crate::kernels::HALF, "to_half", &[("WG", 256)])?;
    let (x, y) = gpu.grid(((prows * pcols) as u32).div_ceil(256).max(1));
    let params = gpu.uniform(&HelperParams {
        rows: rows as u32,
        cols: cols as u32,
        prows: prows as u32,
        pcols: pcols as u32,
        id0: 0,
        first: 0,
        wg_x: x,
        _pad: 0,
    });
    let bg = gpu.bind(
        &kernel,
        &[
            (0, params.as_entire_binding()),
            (1, src.binding()),
            (2, dst.binding()),
        ],
    );
    Ok((kernel, bg, (x, y, 1)))
}

/// The error of an adapter whose workgroup memory holds not even one team (`needs` bytes).
fn no_team(gpu: &Gpu, needs: u64) -> Error {
    Error::InvalidArgument(format!(
        "f16 precision: one team of 32 queries needs {needs} bytes of workgroup memory; this adapter has {}",
        gpu.capabilities().workgroup_memory_bytes
    ))
}

/// The queries (`nq × d` f32) rounded to f16 for a kernel of `teams` teams: rows padded with
/// zeros to a multiple of its queries per workgroup, the dimension to [`padded_dim`]; the
/// dispatch that rounds them and the buffer.
fn half_queries(
    gpu: &Gpu,
    queries: &GpuBuffer<f32>,
    (nq, d): (usize, usize),
    teams: u32,
) -> Result<(Dispatch, GpuBuffer<f16>)> {
    let (m_pad, dp) = (
        nq.next_multiple_of(teams as usize * HALF_TEAM),
        padded_dim(d),
    );
    let out = gpu.alloc::<f16>(m_pad * dp)?;
    let convert = to_half(gpu, queries, &out, (nq, d), (m_pad, dp))?;
    Ok((convert, out))
}

/// The base in f16 for the f16 kernel: each chunk of a [`DbChunk`] list rounded to f16,
/// rows padded with zeros to a multiple of 32, the dimension to [`padded_dim`]. A chunk's f16
/// copy must fit one storage binding (for d ≥ 16 it is at most half the f32 chunk's bytes; for
/// tiny d it can be larger, and then the mode reports it).
pub struct HalfBase {
    chunks: Vec<(GpuBuffer<f16>, u32)>,
    d: usize,
}

impl HalfBase {
    /// Rounds the chunks of a base of dimension `d` to f16 on the device (one submission).
    pub fn new(gpu: &Gpu, db: &[DbChunk<'_>], d: usize) -> Result<HalfBase> {
        if product_form(gpu).is_none() {
            return Err(Error::InvalidArgument(format!(
                "f16 precision needs f16 shaders (SHADER_F16), which {} does not offer",
                gpu.capabilities().name
            )));
        }
        let dp = padded_dim(d);
        let limit = gpu.capabilities().max_storage_binding_bytes;
        let mut chunks = Vec::new();
        let mut passes = Vec::new();
        for c in db {
            let rows = c.rows.next_multiple_of(HALF_PAD_ROWS).max(HALF_PAD_ROWS);
            if (rows * dp * 2) as u64 > limit || c.rows * d > c.data.len() {
                return Err(Error::InvalidArgument(format!(
                    "f16 precision: a chunk of {} vectors of {d} does not fit one binding as f16",
                    c.rows
                )));
            }
            let h = gpu.alloc::<f16>(rows * dp)?;
            passes.push(to_half(gpu, c.data, &h, (c.rows, d), (rows, dp))?);
            chunks.push((h, c.id0));
        }
        let mut batch = gpu.batch(false);
        for (k, bg, grid) in &passes {
            batch.dispatch(k, bg, *grid);
        }
        batch.finish()?;
        Ok(HalfBase { chunks, d })
    }

    /// Bytes on the device.
    pub fn bytes(&self) -> u64 {
        self.chunks.iter().map(|(h, _)| (h.len() * 2) as u64).sum()
    }

    fn chunk(&self, id0: u32) -> Option<&GpuBuffer<f16>> {
        self.chunks.iter().find(|(_, i)| *i == id0).map(|(h, _)| h)
    }
}

/// How a plan chooses its candidates.
enum Lists {
    /// The fused kernel (or, for 1–4 queries, the streaming kernel) and the segment merge.
    Fused(Box<KnnPlan>),
    /// Key tiles and the top-k kernel.
    Tiles(Box<KeyTiles>),
}

impl Lists {
    fn record(&self, batch: &mut Batch<'_>) {
        match self {
            Lists::Fused(plan) => plan.record(batch),
            Lists::Tiles(tiles) => tiles.record(batch),
        }
    }

    /// Per query the `kc` candidates' f16 values and ids, best first.
    fn outputs(&self) -> (&GpuBuffer<f32>, &GpuBuffer<u32>) {
        match self {
            Lists::Fused(plan) => plan.outputs(),
            Lists::Tiles(tiles) => tiles.outputs(),
        }
    }

    fn read(&self, gpu: &Gpu) -> Result<TopK> {
        match self {
            Lists::Fused(plan) => plan.read(gpu),
            Lists::Tiles(tiles) => tiles.read(gpu),
        }
    }

    fn poison(&self, gpu: &Gpu) -> Result<()> {
        match self {
            Lists::Fused(plan) => plan.poison(gpu),
            Lists::Tiles(tiles) => tiles.poison(gpu),
        }
    }
}

/// Whether a batch of `nq` queries with `kc` candidates each (more than the streaming kernel
/// takes) gets its f16 candidates from key tiles (`KeyTiles`) rather than the fused
/// kernel: at most `knn.half_tile_queries` queries, or (the fused kernel's lists grow with
/// `kc`) any batch whose `kc` is at least `knn.half_tile_kc` (0: never); a base of one chunk
/// whose ids start at 0 (the top-k kernel's ids are the tile's columns), and a tile of `nq` ×
/// its rows within one binding and `knn.tile_bytes` — or, where `survivors` allows it, a
/// survivors search ([`uses_survivors`]), which writes no tile.
pub fn uses_key_tiles(
    gpu: &Gpu,
    nq: usize,
    (d, kc): (usize, usize),
    db: &[DbChunk<'_>],
    survivors: bool,
) -> bool {
    let Some(chunk) = one_chunk(db) else {
        return false;
    };
    let t = gpu.tuning();
    let wide = t.int("knn.half_tile_kc");
    survivors && uses_survivors(gpu, nq, (d, kc), db)
        || (nq as u64 <= t.int("knn.half_tile_queries") || wide > 0 && kc as u64 >= wide)
            && nq <= crate::ops::knn::tile_queries(gpu, chunk.rows)
}

/// The base's one chunk with rows, if it has one and its ids start at 0.
fn one_chunk<'a>(db: &'a [DbChunk<'a>]) -> Option<&'a DbChunk<'a>> {
    let mut live = db.iter().filter(|c| c.rows > 0);
    match (live.next(), live.next()) {
        (Some(chunk), None) if chunk.id0 == 0 => Some(chunk),
        _ => None,
    }
}

/// Whether the key tiles of a batch of `nq` queries (dimension `d`, `kc` candidates) are a
/// survivors search: the tiled kernel on tensor cores (`knn.half_keys_tiled`, a dimension
/// whose slices fit), [`survivor_ranges`] for the base's one chunk, and at most
/// `knn.half_tile_queries` queries, or `knn.half_survivor_queries` where that is more (no
/// tile limits the batch: its slots, `nq × knn.half_survivor_cap` keys and as many rows, each
/// within one binding).
pub fn uses_survivors(gpu: &Gpu, nq: usize, (d, kc): (usize, usize), db: &[DbChunk<'_>]) -> bool {
    let Some(chunk) = one_chunk(db) else {
        return false;
    };
    let t = gpu.tuning();
    let most = t
        .int("knn.half_tile_queries")
        .max(t.int("knn.half_survivor_queries"));
    product_form(gpu).is_some_and(|form| tiled_key_slice(gpu, form, nq, padded_dim(d)).is_some())
        && nq as u64 <= most
        && (nq as u64) * t.int("knn.half_survivor_cap") * 4 <= gpu.max_binding_bytes()
        && survivor_ranges(gpu, chunk.rows, kc).is_some()
}

/// The slice depth of the tiled key kernel (`ops::knn_half_tiles`) for a batch of `nq`
/// queries of padded dimension `dp` in product form `form`: tensor cores, at least
/// `knn.half_keys_tiled` queries (0: never) and slices that fit the workgroup memory; None
/// where the teams kernel computes the keys.
fn tiled_key_slice(gpu: &Gpu, form: HalfProduct, nq: usize, dp: usize) -> Option<usize> {
    let from = gpu.tuning().int("knn.half_keys_tiled");
    let limit = u64::from(gpu.capabilities().workgroup_memory_bytes);
    (form == HalfProduct::Coop && from > 0 && nq as u64 >= from)
        .then(|| crate::ops::knn_half_tiles::tiled_slice(dp, limit))
        .flatten()
}

/// Workgroup memory of the key-tile kernel with `teams` teams: the zero fragment (tensor
/// cores), the teams' blocks and their steps' norms.
pub fn key_shared_bytes(v: HalfVariant, teams: u32) -> u64 {
    let zero = if v.form == HalfProduct::Coop { 1024 } else { 0 };
    zero + u64::from(teams) * (HALF_TN * (HALF_TEAM + KEYS_PAD + 1)) as u64 * 4
}

/// Teams per workgroup of the key-tile kernel for `nq` queries: `knn.half_keys_teams`, fewer
/// where the batch has fewer query blocks or the workgroup memory holds fewer.
pub fn key_teams(gpu: &Gpu, v: HalfVariant, nq: usize) -> Option<u32> {
    let limit = u64::from(gpu.capabilities().workgroup_memory_bytes);
    let most = gpu.tuning().int("knn.half_keys_teams").clamp(1, 8) as u32;
    let most = most.min(nq.div_ceil(HALF_TEAM).max(1) as u32);
    (1..=most).rev().find(|&t| key_shared_bytes(v, t) <= limit)
}

/// Override constants of the key-tile kernel.
pub fn key_constants(teams: u32, metric: KnnMetric) -> Vec<(&'static str, u32)> {
    vec![
        ("S", teams),
        ("WG", teams * HALF_TEAM as u32),
        ("TSC", (HALF_TEAM + KEYS_PAD) as u32),
        ("METRIC", u32::from(metric == KnnMetric::InnerProduct)),
    ]
}

/// Padding of the key-tile kernel's block columns (floats): 36-float columns keep the
/// cooperative stores 16-byte aligned, and the write-out's rotation by `l / 8` puts a turn's 32
/// reads in 32 banks (`wgsl/half_keys.wgsl`).
const KEYS_PAD: usize = 4;

/// The f16 candidates of a batch without a fused list: a key tile (`wgsl/half_keys.wgsl`,
/// `nq` × the base's rows, the values the fused kernel compares: L2 `|x|^2 - 2 <q, x>`, inner
/// products) and [`TopKPlan`] over it, `kc` per query with ties by smaller id. The fused
/// kernel fills a list per (query, segment), and a small batch has few query blocks, so it
/// either runs few workgroups or short segments that each fill their lists from empty, one
/// insertion after another; the tile costs a write and a read of `nq` × rows floats instead.
/// The top-k pass would fill its segments' lists from empty too, so the key kernel also
/// writes each (query, workgroup range)'s best key; the `kc`-th best of those bounds the
/// query's `kc`-th key (`kc` distinct keys are within it), and the selection over the tile
/// offers only keys within the bound ([`TopKPlan::bounded`]).
struct KeyTiles {
    form: TileForm,
    segments: usize,
    /// Inner products (largest first).
    ip: bool,
}

/// How [`KeyTiles`] select: over the whole tile, or over the keys that survive a bound from a
/// sample of the base (`knn.half_survivors`, [`survivor_ranges`]).
enum TileForm {
    Tile {
        keys: Dispatch,
        /// Per query a bound of its `kc`-th key from the ranges' best keys.
        bound: TopKPlan,
        select: TopKPlan,
        /// The key tile and the ranges' best keys.
        tiles: (SplitBuffer<f32>, SplitBuffer<f32>),
    },
    Survivors(Survivors),
}

/// The survivors form: the tiled kernel over a sample of tiles writes their best keys
/// (`TiledOut::Sample`); per query the `kc`-th best of those bounds its `kc`-th key (they are
/// `kc` distinct keys); the tiled kernel over the whole base keeps the keys within it
/// (`TiledOut::Survivors`, up to `cap` a query, counted); one workgroup per query sorts them
/// and writes the first `kc` (`survivors_select`). On random data about a sixteenth of
/// `cap` survive (1M rows, `kc` 26: ~260 of 1M), so nothing of the size of the tile is written
/// or read. A query with more than `cap` says so (its last candidate's value NaN), and the
/// index searches it again in f32 — the verified search's proof fails on it, the plain f16
/// search checks for it.
struct Survivors {
    sample: Dispatch,
    bound: TopKPlan,
    keys: Dispatch,
    select: Dispatch,
    /// The sampled tiles' best keys (read by `bound`).
    best: SplitBuffer<f32>,
    /// Per query the count of keys within the bound (zeroed before each run), and its slots.
    count: GpuBuffer<u32>,
    slots: (GpuBuffer<f32>, GpuBuffer<u32>),
    /// The candidates: per query `kc` values and rows.
    cand: (GpuBuffer<f32>, GpuBuffer<u32>),
    nq: usize,
    kc: usize,
    cap: usize,
}

/// Tiles of 256 rows a survivors search over `rows` samples for `kc` candidates with `cap`
/// slots a query, or None where the key tile is the better form: `knn.half_survivors` off,
/// or (automatic, `knn.half_survivor_ranges` 0) a sample of more than a quarter of the base.
/// Automatic: the `kc`-th best of `s` sampled tiles' bests lets about `rows · kc / (256 s)`
/// random keys through; `s` is chosen for `cap / 16` (256 of 4 096 slots) and at least `2 kc`.
/// On an H100 (1M × 128, k = 10: `kc` 26), 100 sampled tiles (~1 100 survivors) against 400
/// (~260): 64 queries 0.382 / 0.340 ms, 128 0.617 / 0.544, 384 1.60 / 1.38 (the sample pass
/// 0.021 / 0.042 ms, the kept keys' atomics and their sort 0.269 + 0.053 / 0.234 + 0.018;
/// 200 and 800 in between).
pub fn survivor_ranges(gpu: &Gpu, rows: usize, kc: usize) -> Option<usize> {
    let t = gpu.tuning();
    if t.int("knn.half_survivors") != 1 {
        return None;
    }
    let tiles = rows.div_ceil(crate::ops::knn_half_tiles::TILED_ROWS);
    let cap = t.int("knn.half_survivor_cap") as usize;
    match t.int("knn.half_survivor_ranges") as usize {
        0 => {
            let s = (16 * kc * rows)
                .div_ceil(crate::ops::knn_half_tiles::TILED_ROWS * cap)
                .max(2 * kc);
            (4 * s <= tiles).then_some(s)
        }
        s => Some(s.min(tiles)),
    }
}

impl KeyTiles {
    /// Plans the tile of `nq` queries (`queries`: f16, rows of `dp` padded to the teams)
    /// against one chunk (`b` its f16 rows) and the selection of `kc` per query; the
    /// survivors form where `survivors` ([`uses_survivors`] said so).
    fn new(
        gpu: &Gpu,
        (variant, teams, metric): (HalfVariant, u32, KnnMetric),
        (nq, dp, kc, survivors): (usize, usize, usize, bool),
        (queries, b, chunk): (&GpuBuffer<f16>, &GpuBuffer<f16>, &DbChunk<'_>),
    ) -> Result<KeyTiles> {
        use crate::ops::knn_half_tiles::{TILED_QUERIES, TILED_ROWS, TiledOut, tiled_keys_family};
        let rows = chunk.rows;
        let t = gpu.tuning();
        let tiled = tiled_key_slice(gpu, variant.form, nq, dp);
        // Ranges of the tiled kernel over the whole base: blocks of 64 queries and about
        // knn.target_groups workgroups in all.
        let tiles = rows.div_ceil(TILED_ROWS);
        let segs_t = (t.int("knn.target_groups").max(1) as usize / nq.div_ceil(TILED_QUERIES))
            .clamp(1, tiles);
        let ip = metric == KnnMetric::InnerProduct;
        let metric_c = ("METRIC", u32::from(ip));
        let blocks_t = nq.div_ceil(TILED_QUERIES);
        let params_for = |seg_len: usize, segs: usize, (x, _y): (u32, u32)| {
            gpu.uniform(&crate::ops::knn::Params {
                m: nq as u32,
                n: rows as u32,
                k: dp as u32,
                lda: dp as u32,
                ldb: dp as u32,
                seg_len: seg_len as u32,
                segs: segs as u32,
                seg0: 0,
                total_segs: segs as u32,
                id0: 0,
                topk: kc as u32,
                wg_x: x,
            })
        };
        let sampled = survivors.then(|| survivor_ranges(gpu, rows, kc)).flatten();
        if let (Some(tk), Some(sampled)) = (tiled, sampled) {
            let cap = t.int("knn.half_survivor_cap") as usize;
            // The sample: one workgroup per (query block, sampled tile), best keys only.
            let sample_k = gpu.kernel(
                &tiled_keys_family(dp, tk, TiledOut::Sample),
                "half_keys_tiled",
                &[metric_c],
            )?;
            let grid = gpu.grid((sampled * blocks_t) as u32);
            let params = params_for(TILED_ROWS, sampled, grid);
            let best = gpu.alloc::<f32>(nq * sampled)?;
            let bg = gpu.bind(
                &sample_k,
                &[
                    (0, params.as_entire_binding()),
                    (1, queries.binding()),
                    (2, b.binding()),
                    (3, chunk.norms.binding()),
                    (6, best.binding()),
                ],
            );
            let sample = (sample_k, bg, (grid.0, grid.1, 1));
            let best = SplitBuffer::from_buffer(best);
            let bound = TopKPlan::new(gpu, &best, nq, sampled, kc, ip, &TopKOptions::default())?;
            // The whole base, ranges as the tile form's.
            let keys_k = gpu.kernel(
                &tiled_keys_family(dp, tk, TiledOut::Survivors { cap }),
                "half_keys_tiled",
                &[metric_c],
            )?;
            let grid = gpu.grid((segs_t * blocks_t) as u32);
            let params = params_for(TILED_ROWS, segs_t, grid);
            let count = gpu.alloc::<u32>(nq)?;
            let slots = (gpu.alloc::<f32>(nq * cap)?, gpu.alloc::<u32>(nq * cap)?);
            let bg = gpu.bind(
                &keys_k,
                &[
                    (0, params.as_entire_binding()),
                    (1, queries.binding()),
                    (2, b.binding()),
                    (3, chunk.norms.binding()),
                    (5, slots.0.binding()),
                    (6, slots.1.binding()),
                    (7, count.binding()),
                    (8, bound.outputs().0.binding()),
                ],
            );
            let keys = (keys_k, bg, (grid.0, grid.1, 1));
            let select_k = gpu.kernel(
                &crate::ops::knn_half_tiles::survivors_select_family(cap),
                "survivors_select",
                &[metric_c],
            )?;
            let cand = (gpu.alloc::<f32>(nq * kc)?, gpu.alloc::<u32>(nq * kc)?);
            let (x, y) = gpu.grid(nq as u32);
            let sp = gpu.uniform(&crate::ops::knn_half_tiles::SelectParams {
                nq: nq as u32,
                kc: kc as u32,
                wg_x: x,
                pad: 0,
            });
            let bg = gpu.bind(
                &select_k,
                &[
                    (0, sp.as_entire_binding()),
                    (1, count.binding()),
                    (2, slots.0.binding()),
                    (3, slots.1.binding()),
                    (4, cand.0.binding()),
                    (5, cand.1.binding()),
                ],
            );
            return Ok(KeyTiles {
                form: TileForm::Survivors(Survivors {
                    sample,
                    bound,
                    keys,
                    select: (select_k, bg, (x, y, 1)),
                    best,
                    count,
                    slots,
                    cand,
                    nq,
                    kc,
                    cap,
                }),
                segments: segs_t,
                ip,
            });
        }
        let (kernel, seg_len, segs, blocks) = if let Some(tk) = tiled {
            // Like the tiled GEMM (ops/knn_half_tiles.rs): blocks of 64 queries and about
            // knn.target_groups workgroups in all, range r of a block being every segs-th
            // 256-row tile from tile r (`seg_len` is one tile).
            let kernel = gpu.kernel(
                &tiled_keys_family(
                    dp,
                    tk,
                    TiledOut::Keys {
                        vec4: rows.is_multiple_of(4),
                    },
                ),
                "half_keys_tiled",
                &[metric_c],
            )?;
            (kernel, TILED_ROWS, segs_t, blocks_t)
        } else {
            let kernel = gpu.kernel(
                &crate::kernels::half_keys(variant),
                "half_keys",
                &key_constants(teams, metric),
            )?;
            let seg_len = HALF_TN * t.int("knn.half_keys_steps").clamp(1, 1 << 16) as usize;
            (
                kernel,
                seg_len,
                rows.div_ceil(seg_len),
                nq.div_ceil(teams as usize * HALF_TEAM),
            )
        };
        let grid = gpu.grid((segs * blocks) as u32);
        let params = params_for(seg_len, segs, grid);
        let tile = gpu.alloc::<f32>(nq * rows)?;
        let best = gpu.alloc::<f32>(nq * segs)?;
        let bg = gpu.bind(
            &kernel,
            &[
                (0, params.as_entire_binding()),
                (1, queries.binding()),
                (2, b.binding()),
                (3, chunk.norms.binding()),
                (5, tile.binding()),
                (6, best.binding()),
            ],
        );
        // Per query the kc-th best of its ranges' bests (padding, no bound, where there are
        // fewer ranges than kc), then the selection over the tile within it.
        let best = SplitBuffer::from_buffer(best);
        let bound = TopKPlan::new(gpu, &best, nq, segs, kc, ip, &TopKOptions::default())?;
        let tile = SplitBuffer::from_buffer(tile);
        let select = TopKPlan::bounded(gpu, &tile, (nq, rows, kc), ip, (bound.outputs().0, kc))?;
        Ok(KeyTiles {
            form: TileForm::Tile {
                keys: (kernel, bg, (grid.0, grid.1, 1)),
                bound,
                select,
                tiles: (tile, best),
            },
            segments: segs,
            ip,
        })
    }

    fn record(&self, batch: &mut Batch<'_>) {
        match &self.form {
            TileForm::Tile {
                keys,
                bound,
                select,
                ..
            } => {
                batch.dispatch(&keys.0, &keys.1, keys.2);
                bound.record(batch);
                select.record(batch);
            }
            TileForm::Survivors(s) => {
                batch.dispatch(&s.sample.0, &s.sample.1, s.sample.2);
                s.bound.record(batch);
                batch.clear(s.count.raw());
                for (k, bg, grid) in [&s.keys, &s.select] {
                    batch.dispatch(k, bg, *grid);
                }
            }
        }
    }

    /// Per query the `kc` candidates' f16 values and ids, best first.
    fn outputs(&self) -> (&GpuBuffer<f32>, &GpuBuffer<u32>) {
        match &self.form {
            TileForm::Tile { select, .. } => select.outputs(),
            TileForm::Survivors(s) => (&s.cand.0, &s.cand.1),
        }
    }

    fn read(&self, gpu: &Gpu) -> Result<TopK> {
        match &self.form {
            TileForm::Tile { select, .. } => select.read(gpu),
            TileForm::Survivors(s) => {
                let bytes = (s.nq * s.kc * 4) as u64;
                Ok(parse_lists(&gpu.read_bytes(&[
                    (s.cand.0.raw(), 0, bytes),
                    (s.cand.1.raw(), 0, bytes),
                ])?))
            }
        }
    }

    /// Per query the keys within its bound in the last run (past `cap`: some were lost), and
    /// `cap`; None for the tile form.
    fn survivors(&self, gpu: &Gpu) -> Result<Option<(Vec<u32>, usize)>> {
        match &self.form {
            TileForm::Tile { .. } => Ok(None),
            TileForm::Survivors(s) => Ok(Some((gpu.read(&s.count)?, s.cap))),
        }
    }

    /// Fills the tile, the ranges' bests and the selection's outputs with values that would
    /// be chosen first if a kernel left them unwritten (tests).
    fn poison(&self, gpu: &Gpu) -> Result<()> {
        let first = if self.ip { 3e38f32 } else { -3e38 };
        match &self.form {
            TileForm::Tile { select, tiles, .. } => {
                for buf in [&tiles.0, &tiles.1] {
                    for c in buf.chunks() {
                        gpu.write(c, &vec![first; c.len()])?;
                    }
                }
                select.poison(gpu)
            }
            TileForm::Survivors(s) => {
                for c in s.best.chunks() {
                    gpu.write(c, &vec![first; c.len()])?;
                }
                gpu.write(&s.slots.0, &vec![first; s.slots.0.len()])?;
                gpu.write(&s.slots.1, &vec![0u32; s.slots.1.len()])?;
                gpu.write(&s.cand.0, &vec![first; s.cand.0.len()])?;
                gpu.write(&s.cand.1, &vec![0u32; s.cand.1.len()])?;
                gpu.write(&s.count, &vec![u32::MAX / 2; s.nq])
            }
        }
    }
}

/// A planned f16 search of a query batch (see the module documentation).
pub struct KnnHalfPlan {
    /// The queries rounded to f16 (not for the streaming kernel, which reads them in f32).
    convert: Option<Dispatch>,
    lists: Lists,
    rerank: Vec<Dispatch>,
    select: Dispatch,
    out_v: GpuBuffer<f32>,
    out_i: GpuBuffer<u32>,
    /// Per query the last candidate's f16 value (see [`KnnHalfPlan::parse_last`]).
    last_v: GpuBuffer<f32>,
    form: Option<HalfProduct>,
    nq: usize,
    k: usize,
    _queries_half: Option<GpuBuffer<f16>>,
    _exact: GpuBuffer<f32>,
    /// The tiled kernel's per-query bounds (None: the streaming kernel or key tiles).
    bound: Option<GpuBuffer<u32>>,
}

impl KnnHalfPlan {
    /// Plans the search of `nq` queries (`queries`: `nq × d` f32, `qnorms` their squared
    /// norms) against `db` and its f16 copy `half`, re-ranking `kc` candidates per query and
    /// keeping `k`. `survivors`: whether a survivors search may run where the tuning allows
    /// it ([`uses_survivors`]; an index whose queries lose candidates turns it off).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gpu: &Gpu,
        queries: &GpuBuffer<f32>,
        qnorms: &GpuBuffer<f32>,
        (nq, d): (usize, usize),
        db: &[DbChunk<'_>],
        half: &HalfBase,
        (k, kc): (usize, usize),
        (metric, survivors): (KnnMetric, bool),
    ) -> Result<KnnHalfPlan> {
        let form = product_form(gpu).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "f16 precision needs f16 shaders (SHADER_F16), which {} does not offer",
                gpu.capabilities().name
            ))
        })?;
        candidates(k, kc)?;
        if nq == 0 || d == 0 || queries.len() < nq * d || qnorms.len() < nq || half.d != d {
            return Err(Error::InvalidArgument(format!(
                "f16 k-NN: {} query values and {} norms are not {nq} queries of {d} (base of {})",
                queries.len(),
                qnorms.len(),
                half.d
            )));
        }
        if db.iter().map(|c| c.rows).sum::<usize>() == 0
            || db.iter().any(|c| c.rows > 0 && half.chunk(c.id0).is_none())
        {
            return Err(Error::InvalidArgument(
                "f16 k-NN: empty base, or an f16 copy of other chunks".into(),
            ));
        }
        let dp = padded_dim(d);
        let total: usize = db.iter().map(|c| c.rows).sum();
        // The candidate kernel's bind group: the queries (f32 or f16) at 1, the chunk's f16 rows
        // at 2, its norms at 3, the queries' norms at 4 (the streaming kernel's L2 keys hold
        // them), the lists at 5 and 6, the tiled kernel's per-query bounds (zeroed before each
        // run) at 7.
        let streamed = streams(gpu, nq, d, kc);
        let tiled = !streamed && uses_key_tiles(gpu, nq, (d, kc), db, survivors);
        let bound = if streamed || tiled {
            None
        } else {
            Some(gpu.alloc::<u32>(nq)?)
        };
        let bind_lists = |kernel: &Kernel,
                          params: &crate::ops::knn::Params,
                          chunk: &DbChunk<'_>,
                          (out_v, out_i): (&GpuBuffer<f32>, &GpuBuffer<u32>),
                          a: wgpu::BindingResource<'_>| {
            let b = half.chunk(chunk.id0).expect("checked above");
            let uniform = gpu.uniform(params);
            let mut entries = vec![
                (0, uniform.as_entire_binding()),
                (1, a),
                (2, b.binding()),
                (3, chunk.norms.binding()),
                (5, out_v.binding()),
                (6, out_i.binding()),
            ];
            match &bound {
                Some(bound) => entries.push((7, bound.binding())),
                None => entries.push((4, qnorms.binding())),
            }
            gpu.bind(kernel, &entries)
        };
        let (convert, lists, queries_half) = if streamed {
            // 1–4 queries: the streaming kernel over the f16 base with the f32 queries (a
            // read of half the bytes of the exact search's).
            let lanes = stream_lanes(gpu).expect("checked by uses_stream");
            let kernel = gpu.kernel(
                &crate::kernels::KNN_STREAM_H4,
                "knn_stream",
                &stream_constants(nq, d, kc, (lanes, 2), metric),
            )?;
            let seg = stream_segment(gpu, (nq, d), total, kc, lanes).min(u64::from(u32::MAX / 2));
            let lists = grid_plan(
                gpu,
                (nq, d, dp, kc, metric),
                db,
                (seg as u32, 1),
                kernel,
                None,
                |kernel, params, chunk, out| {
                    bind_lists(kernel, params, chunk, out, queries.binding())
                },
            )?;
            (None, Lists::Fused(Box::new(lists)), None)
        } else if tiled {
            // A mid-size batch: key tiles and the top-k kernel.
            let unroll = gpu.tuning().int("knn.half_unroll") == 1;
            let variant = HalfVariant::new(form, d, kc, unroll, false);
            let teams = key_teams(gpu, variant, nq)
                .ok_or_else(|| no_team(gpu, key_shared_bytes(variant, 1)))?;
            let (convert, queries_half) = half_queries(gpu, queries, (nq, d), teams)?;
            let chunk = db
                .iter()
                .find(|c| c.rows > 0)
                .expect("checked by uses_key_tiles");
            let b = half.chunk(chunk.id0).expect("checked above");
            let tiles = KeyTiles::new(
                gpu,
                (variant, teams, metric),
                (
                    nq,
                    dp,
                    kc,
                    survivors && uses_survivors(gpu, nq, (d, kc), db),
                ),
                (&queries_half, b, chunk),
            )?;
            (
                Some(convert),
                Lists::Tiles(Box::new(tiles)),
                Some(queries_half),
            )
        } else {
            let limit = u64::from(gpu.capabilities().workgroup_memory_bytes);
            let pad = gpu.tuning().choice("knn.half_col_pad").parse().unwrap_or(0);
            let unroll = gpu.tuning().int("knn.half_unroll") == 1;
            let stage = gpu.tuning().int("knn.half_stage") == 1;
            let variant = HalfVariant::new(form, d, kc, unroll, stage);
            let teams = teams(gpu, variant, nq, pad, limit)
                .ok_or_else(|| no_team(gpu, shared_bytes(variant, 1, pad)))?;
            let tm = teams as usize * HALF_TEAM;
            let (convert, queries_half) = half_queries(gpu, queries, (nq, d), teams)?;
            let kernel = gpu.kernel(
                &crate::kernels::knn_half(variant),
                "knn_half",
                &constants(teams, metric, pad),
            )?;
            let seg_len = segment(gpu, form, nq.div_ceil(tm), total, dp, kc);
            let lists = grid_plan(
                gpu,
                (nq, dp, dp, kc, metric),
                db,
                (seg_len as u32, nq.div_ceil(tm) as u32),
                kernel,
                None,
                |kernel, params, chunk, out| {
                    bind_lists(kernel, params, chunk, out, queries_half.binding())
                },
            )?;
            (
                Some(convert),
                Lists::Fused(Box::new(lists)),
                Some(queries_half),
            )
        };
        let (_, cand) = lists.outputs();
        let exact = gpu.alloc::<f32>(nq * kc)?;
        let rk = gpu.kernel(
            &crate::kernels::HALF,
            "rerank",
            &[
                ("WG", 256),
                ("METRIC", u32::from(metric == KnnMetric::InnerProduct)),
            ],
        )?;
        // 256 invocations: 8 (query, candidate) pairs of 32 invocations each.
        let (x, y) = gpu.grid(((nq * kc) as u32).div_ceil(8));
        let mut rerank = Vec::new();
        for (i, c) in db.iter().filter(|c| c.rows > 0).enumerate() {
            let params = gpu.uniform(&HelperParams {
                rows: c.rows as u32,
                cols: d as u32,
                prows: nq as u32,
                pcols: kc as u32,
                id0: c.id0,
                first: u32::from(i == 0),
                wg_x: x,
                _pad: 0,
            });
            let bg = gpu.bind(
                &rk,
                &[
                    (0, params.as_entire_binding()),
                    (3, queries.binding()),
                    (4, qnorms.binding()),
                    (5, c.data.binding()),
                    (6, c.norms.binding()),
                    (7, cand.binding()),
                    (8, exact.binding()),
                ],
            );
            rerank.push((rk.clone(), bg, (x, y, 1)));
        }
        let out_v = gpu.alloc::<f32>(nq * k)?;
        let out_i = gpu.alloc::<u32>(nq * k)?;
        let last_v = gpu.alloc::<f32>(nq)?;
        let (cand_v, _) = lists.outputs();
        let sk = gpu.kernel(
            &crate::kernels::HALF,
            "rerank_select",
            &[
                ("KC", kc as u32),
                ("METRIC", u32::from(metric == KnnMetric::InnerProduct)),
            ],
        )?;
        let (x, y) = gpu.grid(nq as u32);
        let params = gpu.uniform(&HelperParams {
            rows: 0,
            cols: d as u32,
            prows: nq as u32,
            pcols: kc as u32,
            id0: k as u32,
            first: 0,
            wg_x: x,
            _pad: 0,
        });
        let bg = gpu.bind(
            &sk,
            &[
                (0, params.as_entire_binding()),
                (7, cand.binding()),
                (8, exact.binding()),
                (9, out_v.binding()),
                (10, out_i.binding()),
                (11, cand_v.binding()),
                (12, last_v.binding()),
            ],
        );
        Ok(KnnHalfPlan {
            convert,
            lists,
            rerank,
            select: (sk, bg, (x, y, 1)),
            out_v,
            out_i,
            last_v,
            form: (!streamed).then_some(form),
            nq,
            k,
            _queries_half: queries_half,
            _exact: exact,
            bound,
        })
    }

    /// Records the search: the queries rounded, the bounds zeroed, the f16 kernel and
    /// segment merge, the exact re-rank per chunk, the final selection.
    pub fn record(&self, batch: &mut Batch<'_>) {
        if let Some((k, bg, grid)) = &self.convert {
            batch.dispatch(k, bg, *grid);
        }
        if let Some(b) = &self.bound {
            batch.clear(b.raw());
        }
        self.lists.record(batch);
        for (k, bg, grid) in self.rerank.iter().chain(std::iter::once(&self.select)) {
            batch.dispatch(k, bg, *grid);
        }
    }

    /// The product form (None: the streaming kernel, for 1–4 queries) and the segments per
    /// query (key tiles: the workgroups per query block).
    pub fn config(&self) -> (Option<HalfProduct>, usize) {
        let segments = match &self.lists {
            Lists::Fused(plan) => plan.config().1,
            Lists::Tiles(tiles) => tiles.segments,
        };
        (self.form, segments)
    }

    /// Survivors searches (`knn.half_survivors`): per query the keys within its sampled bound
    /// in the last run, and the slots per query (a count past them sends the query to f32).
    /// None for other forms.
    pub fn survivors(&self, gpu: &Gpu) -> Result<Option<(Vec<u32>, usize)>> {
        match &self.lists {
            Lists::Tiles(tiles) => tiles.survivors(gpu),
            Lists::Fused(_) => Ok(None),
        }
    }

    /// Whether key tiles and the top-k kernel choose the candidates ([`uses_key_tiles`]),
    /// rather than the fused or the streaming kernel.
    pub fn key_tiles(&self) -> bool {
        matches!(self.lists, Lists::Tiles(_))
    }

    /// The candidates of the last run before the re-rank (`nq × kc`, by their f16 keys).
    pub fn candidates(&self, gpu: &Gpu) -> Result<TopK> {
        self.lists.read(gpu)
    }

    /// Poisons the outputs (tests use it before a run).
    pub fn poison(&self, gpu: &Gpu) -> Result<()> {
        self.lists.poison(gpu)?;
        gpu.write(&self.out_v, &vec![f32::NAN; self.nq * self.k])?;
        gpu.write(&self.out_i, &vec![0xdead_beef; self.nq * self.k])
    }

    /// Reads per query the last candidate's f16 value of the last recorded run (see
    /// [`Self::parse_last`]; NaN: a survivors search lost candidates).
    pub fn read_last(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        gpu.read(&self.last_v)
    }

    /// Reads the result of the last recorded run: per query `k` exact values and ids.
    pub fn read(&self, gpu: &Gpu) -> Result<TopK> {
        Ok(parse_lists(&gpu.read_bytes(&self.ranges())?))
    }

    /// Asks `batch` to read the result back when it finishes (see [`Self::parse`]).
    pub fn read_after(&self, batch: &mut Batch<'_>) {
        batch.read_after(&self.ranges());
    }

    /// The result from the ranges [`Self::read_after`] asked for.
    pub fn parse(&self, reads: &[crate::ReadBytes]) -> TopK {
        parse_lists(reads)
    }

    /// Per query, the f16 value of the last (`kc`-th) candidate from the ranges
    /// [`Self::read_after`] asked for: an L2 key without the query's squared norm
    /// (`|x|^2 - 2 <q, x>` from f16 operands) or an inner product; +inf (L2) or -inf (inner
    /// products) where fewer than `kc` vectors exist. Every vector outside the candidates has
    /// an f16 value at or beyond it.
    pub fn parse_last(&self, reads: &[crate::ReadBytes]) -> Vec<f32> {
        bytemuck::pod_collect_to_vec(&reads[2])
    }

    fn ranges(&self) -> [(&wgpu::Buffer, u64, u64); 3] {
        let bytes = (self.nq * self.k * 4) as u64;
        [
            (self.out_v.raw(), 0, bytes),
            (self.out_i.raw(), 0, bytes),
            (self.last_v.raw(), 0, (self.nq * 4) as u64),
        ]
    }
}

/// Base vectors per workgroup for `blocks` query blocks: enough workgroups to fill the device
/// (`knn.target_groups`), none shorter than two steps, 32 lists or (few query blocks)
/// `knn.min_segment`, and within `knn.loop_budget` where the adapter has one (per step: the
/// products of the plain form, 32 keys, up to 32 heap insertions).
fn segment(
    gpu: &Gpu,
    form: HalfProduct,
    blocks: usize,
    total: usize,
    dp: usize,
    kc: usize,
) -> usize {
    let t = gpu.tuning();
    let blocks = blocks as u64;
    let wanted = t.int("knn.target_groups").div_ceil(blocks).max(1);
    let tn = HALF_TN as u64;
    // A segment starts with empty lists (its first steps insert every value): keep segments
    // long against k' and, for a few query blocks, at least knn.min_segment (as the f32
    // kernel; one query over 1M × 128 on an H100: 1.05 ms with ~4 000-row segments against
    // 1.88 ms with ~1 000).
    let min_seg = (2 * tn).max(32 * kc as u64).max(if blocks < 8 {
        t.int("knn.min_segment")
    } else {
        0
    });
    let mut seg = (total as u64)
        .div_ceil(wanted)
        .next_multiple_of(tn)
        .max(min_seg.next_multiple_of(tn))
        .min(u64::from(u32::MAX / 2));
    let budget = t.int("knn.loop_budget");
    if budget > 0 {
        let kb = u64::from(list_slots(kc));
        let products = if form == HalfProduct::Plain {
            32 * (dp as u64 / 4 + 1)
        } else {
            dp as u64 / 16 + 1
        };
        let depth = u64::from(kb.ilog2()) + 1;
        // Per step: 32 insertions of `depth` moves; at the end the heap sort.
        let per_step = products + 33 + 32 * (depth + 2);
        let steps = (budget.saturating_sub(kb * (depth + 3) + 16) / per_step).max(1);
        seg = seg.min(steps * tn);
    }
    seg as usize
}

/// Proof that the f16 candidates hold a query's exact nearest vectors (the verified f16
/// search): every vector outside the `kc` candidates has an f16 value at or beyond `last`
/// (the `kc`-th candidate's, [`KnnHalfPlan::parse_last`]); the f16 value of any vector differs
/// from its exact value by at most [`f16_error`]; the k-th exact value of the re-ranked
/// candidates (`kth`, computed in f32) differs from its exact value by at most [`f32_error`].
/// If even the most favourable vector outside the candidates is strictly beyond the k-th
/// result, no vector outside them can be among the k nearest, and the re-ranked candidates
/// are the exact result (ties aside). `qn` is the query's norm, `xn` an upper bound of the
/// stored vectors' norms, `l2` selects squared L2 distances (`last` as a distance: the tiled
/// kernel's key plus the query's squared norm, or the streaming kernel's value) against inner
/// products (largest first). NaN or infinite values prove nothing, except `last` at +inf
/// (L2) / -inf (inner products): fewer than `kc` vectors exist, so all are candidates.
pub fn verified(last: f64, kth: f32, d: usize, (qn, xn): (f64, f64), l2: bool) -> bool {
    let kth = f64::from(kth);
    if !kth.is_finite() {
        return false;
    }
    let eps = f16_error(d, qn, xn, l2);
    let slack = f32_error(d, qn, xn, l2);
    if l2 {
        last == f64::INFINITY || last - eps > kth + slack
    } else {
        last == f64::NEG_INFINITY || last + eps < kth - slack
    }
}

/// Largest difference between the value an f16 kernel computes for a vector (its L2 key
/// `|x|^2 - 2 <q, x>`, or its inner product) and the exact one, for a query of norm `qn` and
/// vectors of norm at most `xn` in dimension `d`. Each operand rounded to f16 moves by less
/// than one unit in the last place (2^-10 relative: WGSL lets a conversion round either way)
/// or, below the normal range, 2^-14 (a subnormal flushed to zero); f16 products are exact in
/// f32 and their sum (tensor-core
/// accumulation, whose rounding is not specified) is charged d · 2^-22 relative; by
/// Cauchy–Schwarz, `sum |q_i x_i| <= qn xn` and `sum |q_i| <= sqrt(d) qn`. The L2 value adds
/// the f32 squared norms (the vector's, and the query's where the kernel adds it) and their
/// roundings.
pub fn f16_error(d: usize, qn: f64, xn: f64, l2: bool) -> f64 {
    let df = d as f64;
    let u = 2f64.powi(-10);
    let eta = 2f64.powi(-14);
    let acc = df * 2f64.powi(-22);
    let dot = (2.0 * u + u * u + acc * (1.0 + u) * (1.0 + u)) * qn * xn
        + eta * (1.0 + u) * df.sqrt() * (qn + xn)
        + df * eta * eta;
    let e = if l2 {
        2.0 * dot + (df + 3.0) * 2f64.powi(-24) * (qn + xn) * (qn + xn)
    } else {
        dot
    };
    e * 1.001 + f64::MIN_POSITIVE
}

/// Largest difference between an exact value as the f32 kernels compute it (the re-rank:
/// `|x|^2 - 2 <q, x> + |q|^2` from f32 norms and an f32 dot product, or the inner product)
/// and the exact one, for norms as in [`f16_error`].
pub fn f32_error(d: usize, qn: f64, xn: f64, l2: bool) -> f64 {
    let df = d as f64;
    let e = if l2 {
        (df + 4.0) * 2f64.powi(-23) * (qn + xn) * (qn + xn)
    } else {
        (df + 2.0) * 2f64.powi(-24) * qn * xn
    };
    e * 1.001 + f64::MIN_POSITIVE
}

/// The largest magnitude an f16 operand may have for [`verified`] to hold: beyond, the
/// conversion overflows to infinity.
pub const F16_LIMIT: f32 = 65504.0;

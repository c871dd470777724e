//! Fused distance + top-k (exact k-nearest neighbours): for each query, the `k` database
//! vectors with the smallest squared L2 distance (or largest inner product), computed and
//! selected in one kernel, so no query × database distance matrix is ever written to memory.
//!
//! The kernel (`wgsl/knn.wgsl`) is the GEMM's tile loop (same generated staging and register
//! block, see [`crate::ops::gemm`]) with a selection epilogue: each workgroup keeps the best
//! `k` of its queries in workgroup memory while it walks a segment of the database. The
//! per-segment lists are merged by the top-k kernel ([`crate::ops::topk::SegmentMerge`]).
//! Databases larger than one binding are passed as several chunks (one dispatch each).
//!
//! The per-query lists live in workgroup memory, so k is bounded by it: the plan shrinks the
//! query tile (64 → 32 → 16 rows) until the lists fit; [`max_fused_k`] says how far that goes
//! on an adapter (62 / 149 / 323 on 48 KiB, the NVIDIA figure). Larger k is the caller's
//! unfused path (a bounded distance tile and [`crate::ops::topk`]).
//!
//! Distances: L2 keys are whole squared distances `max(‖x‖² − 2⟨q, x⟩ + ‖q‖², 0)` (norms
//! precomputed, clamped at 0 as FAISS does), computed by the fused kernel and by the unfused
//! tile with the same operations in the same order, so every path orders candidates alike.
//! Inner products are selected largest first. Ordering is (key, id): equal keys keep the
//! smaller id.

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use crate::buffer::{GpuBuffer, SplitBuffer};
use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::kernels::Kernel;
use crate::ops::gemm::{
    Gemm, GemmOptions, GemmShape, SMALL_M_TILES, Tiles, check_tiles, inner_product,
    operand_binding, staging,
};
use crate::ops::topk::{MAX_K, NONE, SegmentMerge, TopK, TopKOptions, TopKPlan};
use crate::submit::Batch;

/// What "nearest" means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KnnMetric {
    /// Smallest squared Euclidean distance.
    L2,
    /// Largest inner product.
    InnerProduct,
}

impl KnnMetric {
    fn code(self) -> u32 {
        match self {
            KnnMetric::L2 => 0,
            KnnMetric::InnerProduct => 1,
        }
    }
}

/// Everything that selects one generated fused kernel (override constants aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KnnVariant {
    /// Tile configuration `(TM, TN, TK, RM, RN)`.
    pub tiles: Tiles,
    /// The dimension is a multiple of 4 (vec4 loads).
    pub vec: bool,
}

impl KnnVariant {
    /// A short unique name (`knn_64x64x16_4x4_v1`).
    pub fn name(&self) -> String {
        let (tm, tn, tk, rm, rn) = self.tiles;
        format!("knn_{tm}x{tn}x{tk}_{rm}x{rn}_v{}", u8::from(self.vec))
    }
}

/// The WGSL source of one fused variant: `wgsl/knn.wgsl` with its `@...` lines expanded.
pub fn source(v: &KnnVariant) -> String {
    let (tm, tn, tk, rm, rn) = v.tiles;
    let wg = (tm / rm) * (tn / rn);
    let hn = rn / 4;
    let lanes = ["x", "y", "z", "w"];
    let bindings = operand_binding("a", 1, v.vec) + &operand_binding("b", 2, v.vec);
    // A: queries, m x d; B: database, n x d (both contiguous along d); B's extent is the
    // segment's end, so a tile never reads past its segment.
    // Query rows through `a_row` (work items read their gathered queries in place).
    let sa = staging("a", tm, tk, wg, true, v.vec, "p.m", Some("a_row"));
    let sb = staging("b", tn, tk, wg, true, v.vec, "seg_end", None);
    let mut decl = sa.decl + &sb.decl;
    let (mut zero, mut pending, mut offer) = (String::new(), String::new(), String::new());
    // TOP1: per row of the invocation, its best (key, id) so far (k = 1 only).
    let mut top1 = String::new();
    let mut top1_finish = String::from(
        "    if TOP1 == 1u {\n        for (var j = 0u; j < TN / RN; j++) {\n            if tx == j {\n",
    );
    let values = rm * rn;
    let masks = values.div_ceil(32);
    for w in 0..masks {
        pending += &format!("        var pend{w} = 0u;\n");
    }
    for i in 0..rm {
        let row = format!("({}u * (TM * 4u / RM) + ty * 4u + {}u)", i / 4, i % 4);
        pending += &format!("        let r{i} = {row};\n        let rv{i} = r{i} < m_rows;\n");
        decl +=
            &format!("    var top1_v{i} = bitcast<f32>(0x7f800000u);\n    var top1_i{i} = NONE;\n");
        top1_finish += &format!(
            "                let r{i} = {row};\n                if r{i} < m_rows && before(top1_v{i}, top1_i{i}, best_v[r{i} * KB], best_i[r{i} * KB]) {{ best_v[r{i} * KB] = top1_v{i}; best_i[r{i} * KB] = top1_i{i}; }}\n"
        );
        for h in 0..hn {
            decl += &format!("    var acc_{i}_{h} = vec4<f32>(0.0);\n");
            zero += &format!("        acc_{i}_{h} = vec4<f32>(0.0);\n");
        }
    }
    // Once per tile: the accumulators become keys in place (L2: |x|^2 - 2 <q, x>, with the
    // four norms of each column quad loaded once; inner product: -<q, x>), each row's
    // threshold is read once, and only values that beat it are marked pending.
    for h in 0..hn {
        pending += &format!("        let c{h} = n0 + {h}u * (TN * 4u / RN) + tx * 4u;\n");
        let norms: Vec<String> = (0..4)
            .map(|j| format!("xnorm[min(c{h} + {j}u, seg_end - 1u)]"))
            .collect();
        pending += &format!(
            "        var xn{h} = vec4<f32>(0.0);\n        if METRIC == 0u {{ xn{h} = vec4<f32>({}); }}\n",
            norms.join(", ")
        );
    }
    for i in 0..rm {
        // L2 keys are whole squared distances, max(|x|^2 - 2 <q, x> + |q|^2, 0), evaluated
        // exactly like the unfused path's, so every path orders candidates the same way.
        pending += &format!(
            "        var qn{i} = 0.0;\n        let qa{i} = a_row(m0 + r{i});\n        if METRIC == 0u && qa{i} != NONE {{ qn{i} = qnorm[qa{i}]; }}\n"
        );
        for h in 0..hn {
            pending += &format!(
                "        if METRIC == 0u {{ acc_{i}_{h} = max(fma(vec4<f32>(-2.0), acc_{i}_{h}, xn{h}) + vec4<f32>(qn{i}), vec4<f32>(0.0)); }} else {{ acc_{i}_{h} = -acc_{i}_{h}; }}\n"
            );
        }
    }
    if first_tile_bound_fits(v.tiles) {
        pending += &first_tile_bound(v.tiles);
    }
    // STORE: every value to its pair's keys (no selection here).
    let mut store = String::from("        if STORE == 1u {\n");
    for i in 0..rm {
        store += &format!(
            "            var so{i} = 0u;\n            if rv{i} {{ so{i} = out_i[slots[m0 + r{i}]] - list_start; }}\n"
        );
        for h in 0..hn {
            store += &format!(
                "            var sv_{i}_{h} = -acc_{i}_{h};\n            if METRIC == 0u {{ sv_{i}_{h} = acc_{i}_{h}; }}\n"
            );
            for (lane, name) in lanes.iter().enumerate() {
                store += &format!(
                    "            if rv{i} && c{h} + {lane}u < seg_end {{ out_v[so{i} + c{h} + {lane}u] = sv_{i}_{h}.{name}; }}\n"
                );
            }
        }
    }
    store += "        }\n";
    pending += &store;
    for i in 0..rm {
        pending += &format!(
            "        let tv{i} = best_v[lcur * TM * KB + r{i} * KB + p.topk - 1u];\n        let ti{i} = best_i[lcur * TM * KB + r{i} * KB + p.topk - 1u];\n"
        );
    }
    for i in 0..rm {
        for h in 0..hn {
            for (lane, name) in lanes.iter().enumerate() {
                let b = (i * rn + h * 4) as usize + lane;
                let (w, bit) = (b / 32, b % 32);
                pending += &format!(
                    "        if rv{i} && c{h} + {lane}u < seg_end && before(acc_{i}_{h}.{name}, p.id0 + c{h} + {lane}u, tv{i}, ti{i}) {{ pend{w} |= {}u; }}\n",
                    1u32 << bit
                );
                top1 += &format!(
                    "            if rv{i} && c{h} + {lane}u < seg_end && before(acc_{i}_{h}.{name}, p.id0 + c{h} + {lane}u, top1_v{i}, top1_i{i}) {{ top1_v{i} = acc_{i}_{h}.{name}; top1_i{i} = p.id0 + c{h} + {lane}u; }}\n"
                );
                offer += &format!(
                    "            if (pend{w} & {m}u) != 0u && offer(r{i}, p.id0 + c{h} + {lane}u, acc_{i}_{h}.{name}) {{ pend{w} &= ~{m}u; }}\n",
                    m = 1u32 << bit
                );
            }
        }
    }
    // With TOP1 the lists are untouched during the walk (their threshold stays +inf, so
    // the pending marks above are set but never offered): keep the best in registers.
    pending += &format!("        if TOP1 == 1u {{\n{top1}        }}\n");
    top1_finish += "            }\n            workgroupBarrier();\n        }\n    }\n";
    let load = sa.load + &sb.load;
    crate::kernels::KNN_TEMPLATE
        .replace("// @BINDINGS\n", &bindings)
        .replace("// @DECL\n", &decl)
        .replace("// @ZERO\n", &zero)
        .replace("// @LOAD_FIRST\n", &load)
        .replace("// @LOAD_NEXT\n", &load)
        .replace("// @STAGE\n", &(sa.stage + &sb.stage))
        .replace("// @INNER\n", &inner_product(v.tiles))
        .replace("// @PENDING\n", &pending)
        .replace("// @OFFER\n", &offer)
        .replace("    // @TOP1_FINISH\n", &top1_finish)
        + crate::kernels::LIST_OFFER
        + crate::kernels::LIST_MERGE
}

/// Whether the first-tile bound's scratch (one value per row and column of invocations) fits
/// the base tile's staging memory, which it reuses.
pub fn first_tile_bound_fits(tiles: Tiles) -> bool {
    let (tm, tn, tk, _, rn) = tiles;
    tm * (tn / rn) <= 4 * (tn / 4 + 1) * tk
}

/// The first tile's bound on each row's k-th key, generated for one tile configuration.
///
/// A segment starts with empty lists, so every value of its first tile would be offered and
/// merged, CAP at a time (on IVF lists of a few hundred vectors, most of the scan). Instead:
/// each invocation takes the smallest key of each of its rows (over its RN valid columns);
/// the k-th smallest of these TN / RN minima is an upper bound on the row's k-th smallest key
/// in the tile (they are k distinct values). The row's list is filled with k copies of
/// (bound, NONE), so the threshold is the bound; values at or below it are offered as usual,
/// and since at least k real values rank before (bound, NONE), every copy is pushed out by
/// the merges of this tile. Results are unchanged; the first tile offers about k·RN values
/// per row instead of TN. Needs k ≤ TN / RN (checked at run time, else skipped) and the
/// scratch in the base tile's staging array `Bs` (free between a tile's last product and the
/// next staging).
fn first_tile_bound(tiles: Tiles) -> String {
    let (_, _, _, rm, rn) = tiles;
    let hn = rn / 4;
    let lanes = ["x", "y", "z", "w"];
    let mut g = String::new();
    g += "        if KBOUND == 1u && TOP1 == 0u && STORE == 0u && n0 == seg_start && p.topk <= TN / RN {\n";
    for i in 0..rm {
        g += &format!("            var mn{i} = bitcast<f32>(0x7f800000u);\n");
        for h in 0..hn {
            for (lane, name) in lanes.iter().enumerate() {
                g += &format!(
                    "            if c{h} + {lane}u < seg_end && acc_{i}_{h}.{name} < mn{i} {{ mn{i} = acc_{i}_{h}.{name}; }}\n"
                );
            }
        }
        g += &format!(
            "            Bs[(r{i} * (TN / RN) + tx) / 4u][(r{i} * (TN / RN) + tx) % 4u] = mn{i};\n"
        );
    }
    g += "            workgroupBarrier();\n";
    g += "            kth_bounds(tid);\n";
    g += "        }\n";
    g
}

/// Override constants of one fused pipeline (`items`: work items from a table, the IVF scan).
pub fn constants(
    tiles: Tiles,
    kb: u32,
    cap: u32,
    metric: KnnMetric,
    items: bool,
) -> Vec<(&'static str, u32)> {
    constants_k(tiles, kb, cap, metric, items, false)
}

/// [`constants`] with the k = 1 register path (`TOP1`) on or off; `top1` needs k = 1.
pub fn constants_k(
    tiles: Tiles,
    kb: u32,
    cap: u32,
    metric: KnnMetric,
    items: bool,
    top1: bool,
) -> Vec<(&'static str, u32)> {
    let mut c = crate::ops::gemm::constants(tiles);
    c.extend([
        ("KB", kb),
        ("CAP", cap),
        ("METRIC", metric.code()),
        ("ITEMS", u32::from(items)),
        ("PAR", u32::from(parallel_merge(kb))),
        ("KBOUND", u32::from(first_tile_bound_fits(tiles))),
        ("TOP1", u32::from(top1)),
    ]);
    c
}

/// Override constants of the IVF keys scan (work items, `STORE`: every value written, no
/// selection, so the smallest lists and one candidate slot).
pub fn store_constants(tiles: Tiles, metric: KnnMetric) -> Vec<(&'static str, u32)> {
    let mut c = constants_k(tiles, list_slots(1), 1, metric, true, false);
    c.retain(|(name, _)| *name != "KBOUND");
    c.push(("STORE", 1));
    c
}

/// Whether lists of `kb` slots merge in parallel (two copies of the lists) rather than by one
/// invocation per row. Measured on an H200: k = 10 flat 110 ms serial / 148 parallel, IVF
/// scan 11.3 / 14.9 ms; k = 32 IVF scan 70 / 38 ms; k = 100 flat 347 / 484 ms (the second
/// copy halves the query tile). So parallel for k in 17..=64.
pub fn parallel_merge(kb: u32) -> bool {
    (17..=64).contains(&kb)
}

/// Workgroup memory of a configuration in bytes.
pub fn shared_bytes(tiles: Tiles, kb: u32, cap: u32) -> u64 {
    let (tm, tn, tk, ..) = tiles;
    let (tm, tn, tk) = (u64::from(tm), u64::from(tn), u64::from(tk));
    let staging = ((tm / 4 + 1) + (tn / 4 + 1)) * tk * 16;
    // The lists (two copies for the parallel merge), the candidate slots, the counters.
    let copies = if parallel_merge(kb) { 2 } else { 1 };
    staging + tm * (copies * u64::from(kb) + u64::from(cap)) * 8 + tm * 4 + 16
}

/// Best-list slots for k (a multiple of 4, so nearby k share a pipeline).
pub fn list_slots(k: usize) -> u32 {
    (k as u32).next_multiple_of(4)
}

/// Tiles for at most 4 queries: one row of invocations, each with 4 queries × 4 vectors, over
/// `knn.tiny_tile_n` database vectors per tile and `knn.tiny_tile_k` dimensions per step (a
/// search of a few queries streams the database; a 16-row tile would compute 12 rows of
/// padding).
pub fn tiny_tiles(t: &crate::tuning::Tuning) -> Tiles {
    (
        4,
        t.int("knn.tiny_tile_n") as u32,
        t.int("knn.tiny_tile_k") as u32,
        4,
        4,
    )
}

/// Tiles for `queries` queries and `k` on this adapter: the tuning entry's `knn` tiles with
/// the GEMM's `tile_k` (16-row GEMM tiles for at most 16 queries), with the query tile halved until the lists fit the
/// workgroup memory. `None` when even 16-row tiles do not fit.
pub fn fused_tiles(gpu: &Gpu, queries: usize, k: usize) -> Option<Tiles> {
    tiles_from(
        gpu,
        queries,
        k,
        ["knn.tile_m", "knn.tile_n", "knn.thread_m", "knn.thread_n"],
    )
}

/// [`fused_tiles`] for the IVF list scan's work items (the `ivf.scan_*` tuning keys: items of
/// a few hundred list vectors and a few dozen queries favour other tiles than long segments).
pub fn scan_tiles(gpu: &Gpu, queries: usize, k: usize) -> Option<Tiles> {
    tiles_from(
        gpu,
        queries,
        k,
        [
            "ivf.scan_tile_m",
            "ivf.scan_tile_n",
            "ivf.scan_thread_m",
            "ivf.scan_thread_n",
        ],
    )
}

fn tiles_from(gpu: &Gpu, queries: usize, k: usize, keys: [&str; 4]) -> Option<Tiles> {
    let t = gpu.tuning();
    let tiles = if queries <= 4 {
        tiny_tiles(t)
    } else if queries <= 16 {
        SMALL_M_TILES
    } else {
        (
            t.int(keys[0]) as u32,
            t.int(keys[1]) as u32,
            t.int("gemm.tile_k") as u32,
            t.int(keys[2]) as u32,
            t.int(keys[3]) as u32,
        )
    };
    let limit = u64::from(gpu.capabilities().workgroup_memory_bytes);
    let cap = t.int("knn.candidate_slots") as u32;
    tile_candidates(tiles).into_iter().find(|&tiles| {
        shared_bytes(tiles, list_slots(k), cap) <= limit && check_tiles(gpu, tiles).is_ok()
    })
}

/// The tile configurations [`fused_tiles`] tries from `start`, in order: the query tile
/// halved, keeping the invocations — by halving an 8-row register block to 4 rows, else by
/// doubling the base tile with an 8-column block (the latter made k = 100 go from 435 to
/// 347 ms for 10 000 × 1M × 128 from 64×64 4×4 tiles on an H200) — and once the query tile
/// is as small as it goes, the base tile halved.
pub fn tile_candidates(start: Tiles) -> Vec<Tiles> {
    let mut out = vec![start];
    let mut t = start;
    loop {
        if t.0 <= 16 || t.0 / 2 < t.3 {
            if t.1 > 32 && t.1 / 2 >= t.4 * 4 {
                t.1 /= 2;
            } else {
                break;
            }
        } else {
            t.0 /= 2;
            if t.3 == 8 {
                // Keep the invocations with a 4-row block (H200, 10 000 x 1M x 128, k = 100:
                // 64x128 8x4 -> 32x128 4x4 334.6 ms; -> 32x256 8x8 369.6 ms).
                t.3 = 4;
            } else if t.4 == 4 && t.1 < 256 {
                t.1 *= 2;
                t.4 = 8;
            }
        }
        out.push(t);
    }
    out
}

/// The longest segment (base vectors per workgroup) within `knn.loop_budget`, if the adapter
/// has one: drivers that stop long loops (llvmpipe ends every loop of an invocation after
/// 65 535 iterations in all, silently) need an invocation's worst case within the budget.
/// Per tile: the K steps, and for a row's invocation at most TN insertions of up to k moves
/// each (every value of the tile beating the threshold).
pub fn loop_segment(gpu: &Gpu, tiles: Tiles, d: usize, k: usize) -> Option<u64> {
    let t = gpu.tuning();
    let budget = t.int("knn.loop_budget");
    if budget == 0 {
        return None;
    }
    let (tm, tn, tk, rm, rn) = tiles;
    let cap = t.int("knn.candidate_slots");
    let (k64, tn64) = (k as u64, u64::from(tn));
    let wg = u64::from((tm / rm) * (tn / rn));
    let fixed = k64 + u64::from(tm) * u64::from(list_slots(k)) / wg + 16;
    let per_tile = (d as u64).div_ceil(u64::from(tk)) * (u64::from(tk) + 1)
        + tn64 * (k64 + 1)
        + tn64.div_ceil(cap)
        + 4;
    let tiles_max = (budget.saturating_sub(fixed) / per_tile).max(1);
    Some(tiles_max * tn64)
}

/// Queries the streaming kernel (`knn_stream.wgsl`) serves at most.
pub const STREAM_MAX_QUERIES: usize = 4;

/// Row groups per workgroup and rows per row group per step of the streaming kernel (the
/// workgroup is 32 row groups of `lanes` invocations: 256 at 8 lanes per row). 8 rows per
/// step measured slower on an H100 (one query over 1M × 128: kernel 0.223 ms against 0.209;
/// four queries 0.45 against 0.32 ms).
const STREAM_GROUPS: u32 = 32;
const STREAM_ROWS: u32 = 4;

/// Workgroups the streaming kernel spreads a small base over at least.
const STREAM_MIN_GROUPS: u64 = 256;

/// Lanes per database row of the streaming kernel on this adapter: `knn.stream_lanes` (8), at
/// most the adapter's smallest subgroup size (the butterfly stays within a subgroup). None without subgroups or with
/// subgroups of fewer than 4.
pub fn stream_lanes(gpu: &Gpu) -> Option<u32> {
    let caps = gpu.capabilities();
    let lanes = gpu.tuning().int("knn.stream_lanes") as u32;
    (caps.subgroups && caps.subgroup_min_size >= 4).then(|| caps.subgroup_min_size.min(lanes))
}

/// Override constants of the streaming kernel for `nq` queries of dimension `d`, k results,
/// `lanes` per row.
pub fn stream_constants(
    nq: usize,
    d: usize,
    k: usize,
    (lanes, sub): (u32, u32),
    metric: KnnMetric,
) -> Vec<(&'static str, u32)> {
    vec![
        ("TM", nq as u32),
        ("L", lanes),
        ("WG", STREAM_GROUPS * lanes),
        ("D4", d.div_ceil(4) as u32),
        ("D4P", stream_chunks(d, lanes * sub)),
        ("KB", list_slots(k)),
        ("METRIC", metric.code()),
    ]
}

/// The streaming kernel's 4-column chunks per query copy: `d / 4` rounded up to a multiple of
/// `per_step` (its lanes per row times the chunks each loads at once).
fn stream_chunks(d: usize, per_step: u32) -> u32 {
    (d.div_ceil(4) as u32).next_multiple_of(per_step)
}

/// Workgroup memory of the streaming kernel in bytes (with the query copies of an f16 base,
/// whose lanes load two chunks at once: at least as large as an f32 base's).
pub fn stream_shared_bytes(nq: usize, d: usize, k: usize, lanes: u32) -> u64 {
    let (mq, kb) = (nq as u64, u64::from(list_slots(k)));
    let caps = u64::from(STREAM_GROUPS * STREAM_ROWS);
    mq * u64::from(stream_chunks(d, 2 * lanes)) * 16 + 2 * mq * kb * 8 + mq * caps * 8 + 4 * 4 + 8
}

/// Whether a search of `nq` queries of `d` keeping `k` runs the streaming kernel here: at
/// most [`STREAM_MAX_QUERIES`], subgroups, the lists within workgroup memory, and
/// `knn.stream` not `off`.
pub fn uses_stream(gpu: &Gpu, nq: usize, d: usize, k: usize) -> bool {
    let caps = gpu.capabilities();
    let Some(lanes) = stream_lanes(gpu) else {
        return false;
    };
    (1..=STREAM_MAX_QUERIES).contains(&nq)
        && gpu.tuning().choice("knn.stream") != "off"
        && caps.max_invocations_per_workgroup >= STREAM_GROUPS * lanes
        && stream_shared_bytes(nq, d, k, lanes) <= u64::from(caps.workgroup_memory_bytes)
}

/// The streaming kernel's segment (database vectors per workgroup): `knn.stream_segment`,
/// within `knn.loop_budget` where the adapter has one (see [`loop_segment`]): per step, the
/// row loads, the butterflies and offers, and a merge (each invocation ranks its share of
/// the list and the candidates against every candidate).
pub(crate) fn stream_segment(
    gpu: &Gpu,
    (nq, d): (usize, usize),
    rows: usize,
    k: usize,
    lanes: u32,
) -> u64 {
    let t = gpu.tuning();
    // A small base (an IVF quantizer's 4 096 centroids) in at least STREAM_MIN_GROUPS
    // workgroups of one step or more: two segments of 2 048 left the H100 idle (one query's
    // top-64 of 4 096 centroids took 0.285 ms of IVF search against 0.213 tiled).
    let step = u64::from(STREAM_GROUPS * STREAM_ROWS);
    let spread = (rows as u64)
        .div_ceil(STREAM_MIN_GROUPS)
        .next_multiple_of(step);
    let seg = t.int("knn.stream_segment").max(1).min(spread.max(step));
    let budget = t.int("knn.loop_budget");
    if budget == 0 {
        return seg;
    }
    let rows = u64::from(STREAM_ROWS);
    let caps = u64::from(STREAM_GROUPS) * rows;
    let wg = u64::from(STREAM_GROUPS * lanes);
    let per_lane = (u64::from(list_slots(k)) + caps).div_ceil(wg / nq as u64);
    let per_step = rows * (d.div_ceil(4) as u64).div_ceil(u64::from(lanes))
        + rows * nq as u64 * 5
        + per_lane * (caps + 12)
        + 8;
    let fixed = (nq * d.div_ceil(4)) as u64 + 2 * nq as u64 * u64::from(list_slots(k)) + 32;
    let steps = (budget.saturating_sub(fixed) / per_step).max(1);
    seg.min(steps * caps)
}

/// The largest k the fused kernel serves on this adapter (for many queries).
pub fn max_fused_k(gpu: &Gpu) -> usize {
    (1..=MAX_K)
        .rev()
        .step_by(4)
        .find(|&k| fused_tiles(gpu, 17, k).is_some())
        .unwrap_or(0)
}

/// The fused kernel's parameters (`knn.wgsl`'s `Params`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct Params {
    pub(crate) m: u32,
    pub(crate) n: u32,
    pub(crate) k: u32,
    pub(crate) lda: u32,
    pub(crate) ldb: u32,
    pub(crate) seg_len: u32,
    pub(crate) segs: u32,
    pub(crate) seg0: u32,
    pub(crate) total_segs: u32,
    pub(crate) id0: u32,
    pub(crate) topk: u32,
    pub(crate) wg_x: u32,
}

/// A kernel, its bind group and its grid.
pub(crate) type Dispatch = (Arc<Kernel>, wgpu::BindGroup, (u32, u32, u32));

/// The fused kernel for a tile configuration, dimension, k and metric; `items`: work-item mode.
pub(crate) fn knn_kernel(
    gpu: &Gpu,
    tiles: Tiles,
    d: usize,
    k: usize,
    metric: KnnMetric,
    items: bool,
) -> Result<Arc<Kernel>> {
    let variant = KnnVariant {
        tiles,
        vec: d.is_multiple_of(4),
    };
    let cap = gpu.tuning().int("knn.candidate_slots") as u32;
    let top1 = k == 1 && gpu.tuning().int("knn.top1") == 1;
    let mut c = constants_k(tiles, list_slots(k), cap, metric, items, top1);
    if gpu.tuning().int("knn.first_tile_bound") == 0 {
        c.retain(|(name, _)| *name != "KBOUND");
    }
    gpu.kernel(&crate::kernels::knn_family(&variant), "knn", &c)
}

/// The keys scan kernel (see [`store_constants`]) for a tile configuration, dimension and
/// metric.
pub(crate) fn store_kernel(
    gpu: &Gpu,
    tiles: Tiles,
    d: usize,
    metric: KnnMetric,
) -> Result<Arc<Kernel>> {
    let variant = KnnVariant {
        tiles,
        vec: d.is_multiple_of(4),
    };
    gpu.kernel(
        &crate::kernels::knn_family(&variant),
        "knn",
        &store_constants(tiles, metric),
    )
}

/// A fused kernel's bind group: the queries `a` and their squared norms, the base, the
/// outputs, and for the tiled kernel (`knn.wgsl`) the work-item tables — items, output slots
/// and the query of each gathered row (any buffers in grid mode: they are declared but not
/// read); the streaming kernel declares no tables (`None`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn bind_knn(
    gpu: &Gpu,
    kernel: &Kernel,
    params: &Params,
    a: &GpuBuffer<f32>,
    a_norms: &GpuBuffer<f32>,
    base: &DbChunk<'_>,
    out: (&GpuBuffer<f32>, &GpuBuffer<u32>),
    tables: Option<(wgpu::BindingResource<'_>, &GpuBuffer<u32>, &GpuBuffer<u32>)>,
) -> wgpu::BindGroup {
    let uniform = gpu.uniform(params);
    let mut entries = vec![
        (0, uniform.as_entire_binding()),
        (1, a.binding()),
        (2, base.data.binding()),
        (3, base.norms.binding()),
        (4, a_norms.binding()),
        (5, out.0.binding()),
        (6, out.1.binding()),
    ];
    if let Some((items, slots, rows)) = tables {
        entries.extend([(7, items), (8, slots.binding()), (9, rows.binding())]);
    }
    gpu.bind(kernel, &entries)
}

/// Pads `len` result pairs with (the metric's worst value, [`NONE`]) (`fill_lists`).
pub(crate) fn fill_pass(
    gpu: &Gpu,
    out_v: &GpuBuffer<f32>,
    out_i: &GpuBuffer<u32>,
    len: usize,
    metric: KnnMetric,
) -> Result<Dispatch> {
    let kernel = gpu.kernel(&crate::kernels::ELEMENTWISE, "fill_lists", &[("WG", 256)])?;
    let pad = if metric == KnnMetric::InnerProduct {
        f32::NEG_INFINITY
    } else {
        f32::INFINITY
    };
    let (x, y) = gpu.grid((len as u32).div_ceil(256).max(1));
    let params = gpu.uniform(&[len as u32, 1, x, pad.to_bits()]);
    let bg = gpu.bind(
        &kernel,
        &[
            (0, params.as_entire_binding()),
            (8, out_v.binding()),
            (9, out_i.binding()),
        ],
    );
    Ok((kernel, bg, (x, y, 1)))
}

/// Whether a search of `nq` queries with `k` runs unfused ([`TiledKnn`]): when the fused
/// kernel cannot hold k, or when k > 16 and the whole batch fits one distance tile against a
/// single chunk of `single_chunk_rows` (a small base such as an IVF quantizer's centroids, or
/// few queries): then a GEMM tile and the top-k kernel beat lists filled one insertion at a
/// time (on an H200: 10 000 queries × 4096 centroids with k = 64, 1.2 ms against 10+ ms; one
/// query over 1M with k = 100, 0.32 against 2.34 ms). Also for any k when the batch has more
/// queries than the streaming kernel takes and at most `knn.tiled_max_queries` (0: never):
/// mid-size batches, where the fused kernel runs few, short-segmented workgroups.
pub fn prefer_tiled(gpu: &Gpu, nq: usize, k: usize, single_chunk_rows: Option<usize>) -> bool {
    let mid = nq > STREAM_MAX_QUERIES && nq as u64 <= gpu.tuning().int("knn.tiled_max_queries");
    fused_tiles(gpu, nq, k).is_none()
        || ((k > 16 || mid) && single_chunk_rows.is_some_and(|rows| nq <= tile_queries(gpu, rows)))
}

/// Output slots per (query, segment), the dispatch of each base chunk (its segments, times
/// `per_segment` workgroups each) with its parameters bound by `bind`, and the merge of the
/// segments: the part of a grid-mode plan that the tiled and the streaming kernel share
/// (queries of `d`, base rows `ldb` values apart: `d` but for the f16 base's padded rows).
#[allow(clippy::type_complexity)]
pub(crate) fn grid_plan(
    gpu: &Gpu,
    (nq, d, ldb, k, metric): (usize, usize, usize, usize, KnnMetric),
    db: &[DbChunk<'_>],
    (seg_len, per_segment): (u32, u32),
    kernel: Arc<Kernel>,
    tiles: Option<Tiles>,
    bind: impl Fn(&Kernel, &Params, &DbChunk<'_>, (&GpuBuffer<f32>, &GpuBuffer<u32>)) -> wgpu::BindGroup,
) -> Result<KnnPlan> {
    let segs: Vec<u32> = db
        .iter()
        .map(|c| (c.rows as u32).div_ceil(seg_len))
        .collect();
    let total_segs: u32 = segs.iter().sum();
    let limit = gpu.capabilities().max_storage_binding_bytes;
    let out_len = nq
        .checked_mul(total_segs as usize)
        .and_then(|x| x.checked_mul(k))
        .filter(|&x| x <= u32::MAX as usize && (x as u64) * 4 <= limit)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "k-NN: {nq} queries x {total_segs} segments x k = {k} exceed one binding; search in smaller batches"
            ))
        })?;
    let out_v = gpu.alloc::<f32>(out_len)?;
    let out_i = gpu.alloc::<u32>(out_len)?;
    let mut groups = Vec::new();
    let mut seg0 = 0;
    for (chunk, &chunk_segs) in db.iter().zip(&segs) {
        if chunk.rows == 0 {
            continue;
        }
        let (x, y) = gpu.grid(per_segment * chunk_segs);
        let params = Params {
            m: nq as u32,
            n: chunk.rows as u32,
            k: d as u32,
            lda: d as u32,
            ldb: ldb as u32,
            seg_len,
            segs: chunk_segs,
            seg0,
            total_segs,
            id0: chunk.id0,
            topk: k as u32,
            wg_x: x,
        };
        groups.push((bind(&kernel, &params, chunk, (&out_v, &out_i)), (x, y, 1)));
        seg0 += chunk_segs;
    }
    let merge = SegmentMerge::new(
        gpu,
        out_v,
        out_i,
        nq,
        total_segs as usize,
        k,
        metric == KnnMetric::InnerProduct,
    )?;
    Ok(KnnPlan {
        kernel,
        groups,
        merge,
        tiles,
        segments: total_segs as usize,
        _no_items: None,
    })
}

/// One chunk of the database on the device: `rows × d` vectors and their squared norms.
#[derive(Clone, Copy)]
pub struct DbChunk<'a> {
    /// Vectors, row-major (at least `rows × d` values).
    pub data: &'a GpuBuffer<f32>,
    /// `‖x‖²` of each vector (at least `rows` values; read for L2 only).
    pub norms: &'a GpuBuffer<f32>,
    /// Vectors in the chunk.
    pub rows: usize,
    /// Id of the chunk's first vector (ids are consecutive within a chunk).
    pub id0: u32,
}

/// A planned fused k-NN search of a query batch over a database on the device.
pub struct KnnPlan {
    kernel: Arc<Kernel>,
    groups: Vec<(wgpu::BindGroup, (u32, u32, u32))>,
    merge: SegmentMerge,
    /// The tiled kernel's tiles; None for the streaming kernel.
    tiles: Option<Tiles>,
    segments: usize,
    /// The tiled kernel's stand-in work-item tables (declared, not read in grid mode).
    _no_items: Option<GpuBuffer<u32>>,
}

impl KnnPlan {
    /// Plans the search of `nq` queries (`queries`: `nq × d` row-major, `qnorms`: their
    /// squared norms, read for L2) against the chunks of a database, keeping `k` per query.
    /// Errs when k exceeds what the fused kernel supports here ([`max_fused_k`]).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gpu: &Gpu,
        queries: &GpuBuffer<f32>,
        qnorms: &GpuBuffer<f32>,
        nq: usize,
        d: usize,
        db: &[DbChunk<'_>],
        k: usize,
        metric: KnnMetric,
    ) -> Result<KnnPlan> {
        if k == 0 || k > MAX_K {
            return Err(Error::InvalidArgument(format!(
                "k-NN: k = {k}, expected 1..={MAX_K}"
            )));
        }
        if nq == 0 || d == 0 || queries.len() < nq * d || qnorms.len() < nq {
            return Err(Error::InvalidArgument(format!(
                "k-NN: {} query values and {} norms are not {nq} non-empty queries of {d}",
                queries.len(),
                qnorms.len()
            )));
        }
        let total: usize = db.iter().map(|c| c.rows).sum();
        if total == 0
            || db
                .iter()
                .any(|c| c.data.len() < c.rows * d || c.norms.len() < c.rows)
        {
            return Err(Error::InvalidArgument(
                "k-NN: empty database, or a chunk shorter than its rows".into(),
            ));
        }
        let limit = gpu.capabilities().max_storage_binding_bytes;
        if (queries.len() as u64) * 4 > limit || nq * d > u32::MAX as usize {
            return Err(Error::InvalidArgument(format!(
                "k-NN: {nq} queries of {d} do not fit one binding; search in batches"
            )));
        }
        if uses_stream(gpu, nq, d, k) {
            return KnnPlan::stream(gpu, queries, qnorms, (nq, d), db, k, metric);
        }
        let tiles = fused_tiles(gpu, nq, k).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "k-NN: k = {k} does not fit the fused kernel's workgroup memory on this adapter (at most {})",
                max_fused_k(gpu)
            ))
        })?;
        let t = gpu.tuning();
        let kernel = knn_kernel(gpu, tiles, d, k, metric, false)?;
        // Segments: enough workgroups to fill the device, none shorter than two tiles.
        let (tm, tn, ..) = tiles;
        let blocks = (nq as u64).div_ceil(u64::from(tm));
        let target = t.int("knn.target_groups");
        let wanted = target.div_ceil(blocks).max(1);
        // A segment costs a list warm-up (its first k values are all inserted) and k merged
        // candidates: keep segments long against k. On the H200 one query over 1M went from
        // 0.40 to 0.31 ms with ~4096-vector segments instead of ~1000.
        // knn.min_segment only for a few query blocks (tiny batches, where it was measured):
        // with many blocks the segment count decides how many workgroups run.
        let min_seg = (2 * u64::from(tn)).max(32 * k as u64).max(if blocks < 8 {
            t.int("knn.min_segment")
        } else {
            0
        });
        let mut seg_len = ((total as u64).div_ceil(wanted))
            .next_multiple_of(u64::from(tn))
            .max(min_seg.next_multiple_of(u64::from(tn)))
            .min(u32::MAX as u64 / 2);
        if let Some(max) = loop_segment(gpu, tiles, d, k) {
            seg_len = seg_len.min(max);
        }
        // The work-item tables exist in the layout but are not read in grid mode.
        let no_items = gpu.alloc::<u32>(4)?;
        let per_segment = blocks as u32;
        let mut plan = grid_plan(
            gpu,
            (nq, d, d, k, metric),
            db,
            (seg_len as u32, per_segment),
            kernel,
            Some(tiles),
            |kernel, params, chunk, out| {
                bind_knn(
                    gpu,
                    kernel,
                    params,
                    queries,
                    qnorms,
                    chunk,
                    out,
                    Some((no_items.binding(), &no_items, &no_items)),
                )
            },
        )?;
        plan._no_items = Some(no_items);
        Ok(plan)
    }

    /// [`KnnPlan::new`] with the streaming kernel (see [`uses_stream`]; inputs checked).
    fn stream(
        gpu: &Gpu,
        queries: &GpuBuffer<f32>,
        qnorms: &GpuBuffer<f32>,
        (nq, d): (usize, usize),
        db: &[DbChunk<'_>],
        k: usize,
        metric: KnnMetric,
    ) -> Result<KnnPlan> {
        let lanes = stream_lanes(gpu).expect("checked by uses_stream");
        let family = if d.is_multiple_of(4) {
            &crate::kernels::KNN_STREAM_V4
        } else {
            &crate::kernels::KNN_STREAM_V1
        };
        let kernel = gpu.kernel(
            family,
            "knn_stream",
            &stream_constants(nq, d, k, (lanes, 1), metric),
        )?;
        let rows: usize = db.iter().map(|c| c.rows).sum();
        let seg_len =
            stream_segment(gpu, (nq, d), rows, k, lanes).min(u64::from(u32::MAX / 2)) as u32;
        grid_plan(
            gpu,
            (nq, d, d, k, metric),
            db,
            (seg_len, 1),
            kernel,
            None,
            |kernel, params, chunk, out| {
                bind_knn(gpu, kernel, params, queries, qnorms, chunk, out, None)
            },
        )
    }

    /// Records the search.
    pub fn record(&self, batch: &mut Batch<'_>) {
        for (bg, grid) in &self.groups {
            batch.dispatch(&self.kernel, bg, *grid);
        }
        self.merge.record(batch);
    }

    /// Tiles used (None: the streaming kernel) and segments per query.
    pub fn config(&self) -> (Option<Tiles>, usize) {
        (self.tiles, self.segments)
    }

    /// The result buffers (`nq × k` values and ids) of the last recorded run.
    pub fn outputs(&self) -> (&GpuBuffer<f32>, &GpuBuffer<u32>) {
        (self.merge.values(), self.merge.ids())
    }

    /// Poisons the outputs (tests use it before a run).
    pub fn poison(&self, gpu: &Gpu) -> Result<()> {
        self.merge.poison(gpu)
    }

    /// Reads the result of the last recorded run: per query, distances (or inner products)
    /// and ids, best first.
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

/// One list of an IVF-style scan: base rows `[start, end)` of the arena and the queries that
/// probe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanList {
    /// First base row.
    pub start: u32,
    /// One past the last base row.
    pub end: u32,
    /// Queries (rows of the query matrix) scanning it.
    pub queries: Vec<u32>,
}

/// An IVF-style scan with the fused kernel in work-item mode: each list's queries are
/// grouped into blocks of the query tile (the kernel reads each block row's query in place
/// through the block-row table), each (block, segment of the list) is one workgroup, every
/// (query, work item) pair writes one sorted list of k, and the top-k merge reduces each
/// query's lists. Ids are base rows. One submission, one readback.
pub struct ItemKnnPlan {
    fill: Dispatch,
    kernel: Arc<Kernel>,
    group: wgpu::BindGroup,
    grid: (u32, u32, u32),
    merge: SegmentMerge,
    items: usize,
    _buffers: Vec<GpuBuffer<u32>>,
}

impl ItemKnnPlan {
    /// Plans the scan of `lists` for `nq` queries (`queries`: `nq × d`, `qnorms`: their
    /// squared norms) over `base` (the arena; ids are its rows), keeping `k` per query.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gpu: &Gpu,
        queries: &GpuBuffer<f32>,
        qnorms: &GpuBuffer<f32>,
        nq: usize,
        d: usize,
        base: DbChunk<'_>,
        lists: &[ScanList],
        k: usize,
        metric: KnnMetric,
    ) -> Result<ItemKnnPlan> {
        if k == 0 || k > MAX_K || nq == 0 || d == 0 || queries.len() < nq * d {
            return Err(Error::InvalidArgument(format!(
                "item scan: {nq} queries of {d}, k = {k}"
            )));
        }
        if lists.iter().any(|l| {
            l.start > l.end
                || l.end as usize > base.rows
                || l.queries.iter().any(|&q| q as usize >= nq)
        }) {
            return Err(Error::InvalidArgument(
                "item scan: a list outside the base or a query out of range".into(),
            ));
        }
        let widest = lists.iter().map(|l| l.queries.len()).max().unwrap_or(1);
        let tiles = scan_tiles(gpu, widest, k).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "item scan: k = {k} does not fit the fused kernel's workgroup memory here (at most {})",
                max_fused_k(gpu)
            ))
        })?;
        let (tm, tn, ..) = tiles;
        let tm_us = tm as usize;
        let seg = loop_segment(gpu, tiles, d, k)
            .unwrap_or(u64::MAX)
            .max(u64::from(tn))
            .min(u32::MAX as u64) as u32;
        // Work items and, per gathered row, its query and output list.
        let mut items: Vec<[u32; 4]> = Vec::new();
        let mut idx: Vec<u32> = Vec::new();
        let mut row_query: Vec<u32> = Vec::new();
        for l in lists.iter().filter(|l| l.end > l.start) {
            for block in l.queries.chunks(tm_us) {
                let mut s0 = l.start;
                while s0 < l.end {
                    let s1 = l.end.min(s0.saturating_add(seg));
                    items.push([s0, s1, block.len() as u32, items.len() as u32]);
                    for r in 0..tm_us {
                        let q = block.get(r).copied().unwrap_or(NONE);
                        idx.push(q);
                        row_query.push(q);
                    }
                    s0 = s1;
                }
            }
        }
        // Output lists per query: as many as the query's work items (at least one).
        let mut per_query = vec![0u32; nq];
        let slots: Vec<u32> = row_query
            .iter()
            .map(|&q| {
                if q == NONE {
                    return 0;
                }
                let s = per_query[q as usize];
                per_query[q as usize] += 1;
                s
            })
            .collect();
        let lists_per_query = per_query.iter().copied().max().unwrap_or(0).max(1) as usize;
        let slots: Vec<u32> = slots
            .iter()
            .zip(&row_query)
            .map(|(&s, &q)| {
                if q == NONE {
                    0
                } else {
                    q * lists_per_query as u32 + s
                }
            })
            .collect();
        let out_len = nq * lists_per_query * k;
        let limit = gpu.capabilities().max_storage_binding_bytes;
        let rows = idx.len().max(1);
        if (out_len as u64) * 4 > limit || (rows as u64) * (d as u64) * 4 > limit {
            return Err(Error::InvalidArgument(format!(
                "item scan: {nq} queries x {lists_per_query} lists x k = {k} or {rows} gathered rows exceed one binding; search in smaller batches"
            )));
        }
        let kernel = knn_kernel(gpu, tiles, d, k, metric, true)?;
        let idx = if idx.is_empty() {
            vec![NONE; tm_us]
        } else {
            idx
        };
        let slots_buf = gpu.upload(&if slots.is_empty() {
            vec![0; tm_us]
        } else {
            slots
        })?;
        let idx_buf = gpu.upload(&idx)?;
        let items_n = items.len();
        let items_buf = gpu.upload(&if items.is_empty() {
            vec![0u32; 4]
        } else {
            items.concat()
        })?;
        // Padding in every output list (lists a query has fewer items for stay padding).
        let out_v = gpu.alloc::<f32>(out_len)?;
        let out_i = gpu.alloc::<u32>(out_len)?;
        let fill = fill_pass(gpu, &out_v, &out_i, out_len, metric)?;
        let (x, y) = gpu.grid(items_n.max(1) as u32);
        let params = Params {
            m: idx.len() as u32,
            n: base.rows as u32,
            k: d as u32,
            lda: d as u32,
            ldb: d as u32,
            seg_len: seg,
            segs: items_n as u32,
            seg0: 0,
            total_segs: 1,
            id0: base.id0,
            topk: k as u32,
            wg_x: x,
        };
        // The scan reads each block row's query in place (`idx`).
        let group = bind_knn(
            gpu,
            &kernel,
            &params,
            queries,
            qnorms,
            &base,
            (&out_v, &out_i),
            Some((items_buf.binding(), &slots_buf, &idx_buf)),
        );
        let merge = SegmentMerge::new(
            gpu,
            out_v,
            out_i,
            nq,
            lists_per_query,
            k,
            metric == KnnMetric::InnerProduct,
        )?;
        Ok(ItemKnnPlan {
            fill,
            kernel,
            group,
            grid: (x, y, 1),
            merge,
            items: items_n,
            _buffers: vec![slots_buf, idx_buf, items_buf],
        })
    }

    /// Records padding, scan and merge.
    pub fn record(&self, batch: &mut Batch<'_>) {
        let (kernel, bg, grid) = &self.fill;
        batch.dispatch(kernel, bg, *grid);
        if self.items > 0 {
            batch.dispatch(&self.kernel, &self.group, self.grid);
        }
        self.merge.record(batch);
    }

    /// Work items (workgroups of the scan).
    pub fn items(&self) -> usize {
        self.items
    }

    /// Reads the result: per query `k` values and base rows (offset by the base's `id0`).
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

/// The unfused k-NN of a query batch against one database chunk, for k beyond the fused
/// kernel: a distance tile `D = max(−2·Q·Xᵀ + ‖x‖² + ‖q‖², 0)` (L2) or `Q·Xᵀ` (inner
/// product) by the GEMM,
/// then [`TopKPlan`] on it. The tile is `nq × rows` floats, so callers bound `nq` by
/// [`tile_queries`]. This is FAISS-GPU's scheme (distance tiles + k-selection); it writes
/// the tile to memory, which the fused kernel avoids.
pub struct TiledKnn {
    gemm: Gemm,
    /// Per query a bound of its k-th value, from the tile's row minima (L2) or maxima
    /// (inner products), and those extremes.
    bound: (TopKPlan, SplitBuffer<f32>),
    select: TopKPlan,
    _tile: SplitBuffer<f32>,
    id0: u32,
}

/// Queries per distance tile of [`TiledKnn`] against `rows` vectors: the tile within one
/// binding and within `knn.tile_bytes`.
pub fn tile_queries(gpu: &Gpu, rows: usize) -> usize {
    let limit = gpu
        .max_binding_bytes()
        .min(gpu.tuning().int("knn.tile_bytes"));
    ((limit / 4) as usize / rows.max(1)).max(1)
}

impl TiledKnn {
    /// Plans the search of `nq` queries against one chunk. `queries` holds `nq × d` values,
    /// `qnorms` their squared norms (read for L2).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gpu: &Gpu,
        queries: &GpuBuffer<f32>,
        qnorms: &GpuBuffer<f32>,
        nq: usize,
        d: usize,
        chunk: DbChunk<'_>,
        k: usize,
        metric: KnnMetric,
    ) -> Result<TiledKnn> {
        let rows = chunk.rows;
        if nq == 0 || rows == 0 || nq > tile_queries(gpu, rows) {
            return Err(Error::InvalidArgument(format!(
                "k-NN tile of {nq} queries x {rows} vectors: expected 1..={} queries",
                tile_queries(gpu, rows)
            )));
        }
        let tile = gpu.alloc::<f32>(nq * rows)?;
        let mut shape = GemmShape::new(nq, rows, d);
        shape.trans_b = true;
        shape.alpha = if metric == KnnMetric::L2 { -2.0 } else { 1.0 };
        // One K slice: the products accumulate in the fused kernel's order, so both paths
        // compute the same distances bit for bit and order candidates alike. L2 adds the
        // norms as the tile is written (the GEMM's epilogue).
        let opts = GemmOptions {
            split_k: Some(1),
            ..Default::default()
        };
        // The GEMM also writes each query's smallest distance (largest inner product) per
        // column tile: the k-th best of those bounds its k-th value (k distinct values are
        // within it), so the selection offers only values within the bound instead of
        // filling every segment's list from empty.
        let cols = Gemm::column_tiles(gpu, &shape, &opts)?;
        let extremes = gpu.alloc::<f32>(nq * cols)?;
        let ip = metric == KnnMetric::InnerProduct;
        let gemm = if ip {
            Gemm::new_best(gpu, (queries, chunk.data, &tile), shape, &opts, &extremes)?
        } else {
            Gemm::new_l2_best(
                gpu,
                (queries, chunk.data, &tile),
                shape,
                &opts,
                (chunk.norms, qnorms),
                &extremes,
            )?
        };
        let tile = SplitBuffer::from_buffer(tile);
        let extremes = SplitBuffer::from_buffer(extremes);
        let bound = TopKPlan::new(gpu, &extremes, nq, cols, k, ip, &TopKOptions::default())?;
        let select = TopKPlan::bounded(gpu, &tile, (nq, rows, k), ip, (bound.outputs().0, k))?;
        Ok(TiledKnn {
            gemm,
            bound: (bound, extremes),
            select,
            _tile: tile,
            id0: chunk.id0,
        })
    }

    /// The result buffers (`nq × k` values and chunk-local ids) of the last recorded run.
    pub fn outputs(&self) -> (&GpuBuffer<f32>, &GpuBuffer<u32>) {
        self.select.outputs()
    }

    /// Poisons the outputs (tests use it before a run).
    pub fn poison(&self, gpu: &Gpu) -> Result<()> {
        self.select.poison(gpu)
    }

    /// Records the product (with the norms for L2), the bound and the selection.
    pub fn record(&self, batch: &mut Batch<'_>) {
        self.gemm.record(batch);
        self.bound.0.record(batch);
        self.select.record(batch);
    }

    /// Reads the result: values (squared distances or inner products) and ids offset by the
    /// chunk's first id.
    pub fn read(&self, gpu: &Gpu) -> Result<TopK> {
        let r = self.select.read(gpu)?;
        Ok(self.offset(r))
    }

    /// Asks `batch` to read the result back when it finishes (see [`Self::parse`]).
    pub fn read_after(&self, batch: &mut Batch<'_>) {
        self.select.read_after(batch);
    }

    /// The result from the ranges [`Self::read_after`] asked for (ids offset as by `read`).
    pub fn parse(&self, reads: &[crate::ReadBytes]) -> TopK {
        self.offset(self.select.parse(reads))
    }

    fn offset(&self, mut r: TopK) -> TopK {
        for id in r.ids.iter_mut().flatten() {
            *id += self.id0;
        }
        r
    }
}

/// Squared norms of the rows of `data` (`rows × d`), accumulated in f64.
pub fn squared_norms(data: &[f32], d: usize) -> Vec<f32> {
    // Large inputs (k-means over 1M × 128: 30 ms on one core) are split over the host's cores
    // by rows; every row's arithmetic is the same, so the values are too.
    if d == 0 {
        return Vec::new();
    }
    split_rows(data, d, |part| norms_serial(part, d)).concat()
}

/// `f` over consecutive parts of `data` made of whole rows of `d` values, in order: one part
/// below [`host_threads`]' threshold, else one per host thread, run in parallel.
pub fn split_rows<R: Send>(data: &[f32], d: usize, f: impl Fn(&[f32]) -> R + Sync) -> Vec<R> {
    let threads = host_threads(data.len());
    if threads <= 1 || d == 0 {
        return vec![f(data)];
    }
    let per = (data.len() / d).div_ceil(threads).max(1) * d;
    let f = &f;
    std::thread::scope(|s| {
        let parts: Vec<_> = data.chunks(per).map(|c| s.spawn(move || f(c))).collect();
        parts
            .into_iter()
            .map(|h| h.join().expect("a host thread does not panic"))
            .collect()
    })
}

/// Host threads for a pass over `len` floats: one below 4M floats (16 MB), else the host's
/// cores (at most 16).
pub fn host_threads(len: usize) -> usize {
    if len < 1 << 22 {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(16))
}

fn norms_serial(data: &[f32], d: usize) -> Vec<f32> {
    // Eight f64 partial sums per row: the compiler vectorizes them (one running sum is a
    // chain of dependent adds, 3× slower on 10 000 × 784 queries), and f64 keeps every order
    // of summation within f32 rounding of the exact value.
    data.chunks_exact(d)
        .map(|r| {
            let mut acc = [0f64; 8];
            let mut it = r.chunks_exact(8);
            for c in &mut it {
                for (a, &x) in acc.iter_mut().zip(c) {
                    *a += f64::from(x) * f64::from(x);
                }
            }
            let tail: f64 = it
                .remainder()
                .iter()
                .map(|&x| f64::from(x) * f64::from(x))
                .sum();
            (acc.iter().sum::<f64>() + tail) as f32
        })
        .collect()
}

impl Gpu {
    /// Exact k-nearest neighbours of `queries` (`nq × d`) in `database` (`nb × d`), fused:
    /// uploads both, runs [`KnnPlan`] once, reads the result. Ids are row numbers.
    pub fn knn(
        &self,
        queries: &[f32],
        database: &[f32],
        d: usize,
        k: usize,
        metric: KnnMetric,
    ) -> Result<TopK> {
        if d == 0
            || !queries.len().is_multiple_of(d)
            || !database.len().is_multiple_of(d)
            || database.is_empty()
        {
            return Err(Error::InvalidArgument(format!(
                "k-NN: {} query values and {} database values are not non-empty rows of {d}",
                queries.len(),
                database.len()
            )));
        }
        let nq = queries.len() / d;
        if nq == 0 {
            return Ok(TopK::default());
        }
        let q = self.upload(queries)?;
        let qn = self.upload(&squared_norms(queries, d))?;
        let rows_per_chunk = self.granules_per_binding::<f32>(d)?;
        let mut chunks = Vec::new();
        for (c, part) in database.chunks(rows_per_chunk * d).enumerate() {
            let data = self.upload(part)?;
            let norms = self.upload(&squared_norms(part, d))?;
            chunks.push((data, norms, part.len() / d, (c * rows_per_chunk) as u32));
        }
        let db: Vec<DbChunk<'_>> = chunks
            .iter()
            .map(|(data, norms, rows, id0)| DbChunk {
                data,
                norms,
                rows: *rows,
                id0: *id0,
            })
            .collect();
        let plan = KnnPlan::new(self, &q, &qn, nq, d, &db, k, metric)?;
        plan.poison(self)?;
        let mut batch = self.batch(false);
        plan.record(&mut batch);
        batch.finish()?;
        plan.read(self)
    }
}

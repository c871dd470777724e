//! The f16 key tiles of mid-size batches on tensor cores, computed like the tiled f16 GEMM
//! (entry `half_keys_tiled`): the same outputs as `wgsl/half_keys.wgsl` (the tile of keys and
//! each (query, range)'s best key, bit for bit: the same fragment products in the same order),
//! a different organisation of the products. Batches of at least `knn.half_keys_tiled`
//! queries take it (0: never).
//!
//! `half_keys.wgsl` gives each subgroup 32 queries × 32 base rows per step (2 × 2 fragments,
//! the base fragments loaded from device memory by every team): for 64 queries × 1M × 128 on
//! an H100 its products alone took 0.33 ms (~50 TFLOP/s), a chain of latencies per warp. Here
//! a workgroup of 4 subgroups keeps a block of 64 queries in workgroup memory and walks its
//! range of the base in tiles of 256 rows, each subgroup computing 64 queries × 64 rows as
//! 4 × 4 fragments; the base goes through workgroup memory in K slices, one 16-byte load per
//! piece into registers (the next slice fetched while this one is multiplied), as the tiled
//! GEMM stages it. Range r of a query block is every `p.segs`-th tile from tile r, so the
//! workgroups running at once write neighbouring tiles of each key row.
//!
//! After a tile's products each subgroup moves two fragments at a time (16 queries × 32 rows)
//! through its own part of workgroup memory, column-major with columns 20 floats apart (a
//! fragment's stores hit every bank once; 16 apart, four lanes share a bank), and
//! - folds each query's best key: invocation (h, r) = (l / 16, l % 16) reads row r of columns
//!   16 h + ((c + 4 h) & 15), c = 0 .. 15 (the two halves 16 banks apart), keeping one running
//!   best per fragment row; the 8 partial bests of a query (4 subgroups × 2 halves) meet in
//!   workgroup memory at the end;
//! - writes the keys: where the tile's rows are a multiple of 4 long, invocation l writes
//!   columns 4 (l % 8) .. + 3 of row 4 u + l / 8 in turn u as one `vec4<f32>` (each row piece
//!   a whole 128-byte line); else one key at a time, column l of row (t + l / 8) % 16 in turn
//!   t (the 32 reads of a turn in 32 banks).
//!
//! Measured on an H100 (2026-11-27, `benchmarks/2026-11-27-fourteenth/`), 64 queries × 1M ×
//! 128: the products alone 0.15 ms (the tile probe), with the best and the keys computed but
//! not written 0.275; keys written one at a time 0.49 (contiguous ranges) and 0.47 (strided),
//! as `vec4<f32>` 0.35, against the teams kernel's 0.39. Whole exact searches (GPU ms, teams →
//! tiled): 48 queries 0.545 → 0.458, 64 0.574 → 0.504, 128 1.027 → 0.883, 192 1.483 → 1.242;
//! below 33 queries the padding to 64 costs more than it gives (32: 0.354 → 0.409).
//!
//! Workgroup memory: the query block (64 rows of the padded dimension + 8 halves), one slice
//! (256 rows of the slice + 8), the fragments' 4 × 640 floats and the tile's 256 norms: with
//! slices of 32 exactly 48 KiB at d = 128; dimensions that do not fit use slices of 16 or the
//! teams kernel ([`tiled_slice`]).

use crate::kernels::Family;

/// Queries per workgroup (4 fragment rows).
pub const TILED_QUERIES: usize = 64;
/// Base rows per tile (4 subgroups × 64).
pub const TILED_ROWS: usize = 256;
/// Invocations per workgroup (4 subgroups of exactly 32).
const WG: usize = 128;
/// Floats of one subgroup's part of the fragment buffer: 32 columns, 20 apart.
const FRAG_FLOATS: usize = 640;

/// Workgroup memory of the kernel for padded dimension `dp` and slices of `tk`.
pub fn tiled_shared_bytes(dp: usize, tk: usize) -> u64 {
    (TILED_QUERIES * (dp + 8) * 2 + TILED_ROWS * (tk + 8) * 2 + 4 * FRAG_FLOATS * 4 + 256 * 4)
        as u64
}

/// The slice depth for padded dimension `dp` (a multiple of 16): 32 where `dp` is a multiple
/// of 32 and the workgroup memory (`limit` bytes) holds it, else 16 where it holds that, else
/// `None` (the teams kernel).
pub fn tiled_slice(dp: usize, limit: u64) -> Option<usize> {
    [32, 16]
        .into_iter()
        .find(|&tk| dp.is_multiple_of(tk) && tiled_shared_bytes(dp, tk) <= limit)
}

/// What the kernel writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TiledOut {
    /// The whole key tile (as `vec4<f32>` where `vec4`: the tile's rows a multiple of 4
    /// long; else one key at a time) and each (query, range)'s best key.
    Keys {
        /// Keys written 16 bytes at a time.
        vec4: bool,
    },
    /// Only each (query, range)'s best key, range r being the single tile
    /// `r · max(tiles / p.segs, 1)`: the sample a survivors search bounds its queries from.
    Sample,
    /// Per query the keys within its bound (`bound[q · p.topk + p.topk − 1]`, the last of a
    /// sorted list of `p.topk` per query: the sample's `kc`-th best range; NaN: no bound),
    /// appended to its `cap` slots through a count (a count past `cap` says some were lost).
    Survivors {
        /// Slots per query.
        cap: usize,
    },
}

impl TiledOut {
    fn name(self) -> String {
        match self {
            TiledOut::Keys { vec4 } => format!("v{}", u8::from(vec4)),
            TiledOut::Sample => "sample".into(),
            TiledOut::Survivors { cap } => format!("s{cap}"),
        }
    }
}

/// The family for padded dimension `dp`, slices of `tk` and output `out` (override constant
/// `METRIC`: 0 L2, 1 inner product).
pub fn tiled_keys_family(dp: usize, tk: usize, out: TiledOut) -> Family {
    crate::kernels::generated_coop(
        format!("half_keys_tiled_d{dp}_k{tk}_{}", out.name()),
        &["half_keys_tiled"],
        move || tiled_keys_source(dp, tk, out),
    )
}

/// The survivors' selection's parameters (its uniform `sp`).
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SelectParams {
    /// Queries.
    pub nq: u32,
    /// Candidates written per query.
    pub kc: u32,
    /// Workgroups in x of the 2-D grid (query = `wid.x + wid.y * wg_x`).
    pub wg_x: u32,
    /// Padding (0).
    pub pad: u32,
}

/// The survivors' selection for `cap` slots per query ([`survivors_select_source`]).
pub fn survivors_select_family(cap: usize) -> Family {
    crate::kernels::generated_plain(
        format!("survivors_select_c{cap}"),
        &["survivors_select"],
        move || survivors_select_source(cap),
    )
}

/// One workgroup of 256 per query sorts the query's survivors (`min(count, cap)` keys and
/// rows; smaller key first, then smaller row) in workgroup memory by a bitonic network over
/// the next power of two, and writes the first `kc` as the candidate list the re-rank reads:
/// values (L2 keys, or inner products: the kernel kept their negation) and rows, padded with
/// +inf (−inf) and `NONE` where fewer survived. A query whose count passed `cap` lost some:
/// its last candidate's value is NaN, which no proof accepts (the search redoes it in f32).
pub fn survivors_select_source(cap: usize) -> String {
    format!("const CAP: u32 = {cap}u;\n") + SURVIVORS_SELECT
}

const SURVIVORS_SELECT: &str = "
override METRIC: u32 = 0u;
const NONE: u32 = 0xffffffffu;

struct SelectParams {
    nq: u32,
    kc: u32,
    wg_x: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> sp: SelectParams;
@group(0) @binding(1) var<storage, read> count: array<u32>;
@group(0) @binding(2) var<storage, read> skeys: array<f32>;
@group(0) @binding(3) var<storage, read> srows: array<u32>;
@group(0) @binding(4) var<storage, read_write> cand_v: array<f32>;
@group(0) @binding(5) var<storage, read_write> cand_i: array<u32>;

var<workgroup> Ks: array<f32, CAP>;
var<workgroup> Is: array<u32, CAP>;
var<workgroup> size_w: u32;

// (key, row) order: smaller key, then smaller row; padding (+inf, NONE) last.
fn before(ka: f32, ia: u32, kb: f32, ib: u32) -> bool {
    return ka < kb || (ka == kb && ia < ib);
}

@compute @workgroup_size(256)
fn survivors_select(@builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let q = wid.x + wid.y * sp.wg_x;
    let live = q < sp.nq;
    let c = select(0u, count[min(q, sp.nq - 1u)], live);
    let n = min(c, CAP);
    if lid == 0u {
        var s = 1u;
        while s < n {
            s = s << 1u;
        }
        size_w = s;
    }
    let size = workgroupUniformLoad(&size_w);
    for (var j = lid; j < size; j += 256u) {
        var kv = bitcast<f32>(0x7f800000u);
        var id = NONE;
        if j < n {
            kv = skeys[q * CAP + j];
            id = srows[q * CAP + j];
        }
        Ks[j] = kv;
        Is[j] = id;
    }
    workgroupBarrier();
    for (var w = 2u; w <= size; w = w << 1u) {
        for (var h = w >> 1u; h > 0u; h = h >> 1u) {
            for (var t = lid; t < size / 2u; t += 256u) {
                let a = (t / h) * 2u * h + t % h;
                let b = a + h;
                let ka = Ks[a];
                let kb = Ks[b];
                let ia = Is[a];
                let ib = Is[b];
                // Ascending where bit w of a is clear.
                let up = (a & w) == 0u;
                if select(before(ka, ia, kb, ib), before(kb, ib, ka, ia), up) {
                    Ks[a] = kb;
                    Ks[b] = ka;
                    Is[a] = ib;
                    Is[b] = ia;
                }
            }
            workgroupBarrier();
        }
    }
    if !live {
        return;
    }
    for (var j = lid; j < sp.kc; j += 256u) {
        var kv = bitcast<f32>(0x7f800000u);
        var id = NONE;
        if j < n {
            kv = Ks[j];
            id = Is[j];
        }
        var out = select(kv, -kv, METRIC == 1u);
        if j + 1u == sp.kc && c > CAP {
            out = bitcast<f32>(0x7fc00000u);
        }
        cand_v[q * sp.kc + j] = out;
        cand_i[q * sp.kc + j] = id;
    }
}
";

/// The survivors form's look at two fragments of row block `i` (query 16 i + r, columns
/// 16 h .. 16 h + 15 of the 32 in `Es`, as the best's fold reads them): a bit per key within
/// the query's bound, then, for the few set bits, a slot each through the query's count.
fn survivors_part(i: usize) -> String {
    let mut o = String::from("    var m = 0u;\n");
    for c in 0..16 {
        o += &format!(
            "    {{\n        let cc = h * 16u + (({c}u + 4u * h) & 15u);\n        let v = Es[sg * {FRAG_FLOATS}u + cc * 20u + r];\n        let kv = select(-v, fma(-2.0, v, Xs[col0 + cc]), METRIC == 0u);\n        m |= select(0u, {}u, (n0 + col0 + cc < end) & (kv <= bnd{i}) & (bq{i} < p.m));\n    }}\n",
            1u32 << c
        );
    }
    o += &format!(
        "    while m != 0u {{
        let c = firstTrailingBit(m);
        m &= m - 1u;
        let cc = h * 16u + ((c + 4u * h) & 15u);
        let v = Es[sg * {FRAG_FLOATS}u + cc * 20u + r];
        let kv = select(-v, fma(-2.0, v, Xs[col0 + cc]), METRIC == 0u);
        let slot = atomicAdd(&count[bq{i}], 1u);
        if slot < CAP {{
            skeys[bq{i} * CAP + slot] = kv;
            srows[bq{i} * CAP + slot] = n0 + col0 + cc;
        }}
    }}
"
    );
    o
}

/// Stores `count` 16-byte pieces from registers `reg<i>` into `array` (elements of 4 halves,
/// `stride` elements per row, `per_row` pieces per row): piece q = lid + 128 i is row
/// q / per_row, part q % per_row; each piece's lower half first (the GEMM's bank-model order,
/// [`crate::ops::gemm_coop::store_order`], made this kernel 6 % slower on an H100).
fn put_pieces(array: &str, reg: &str, count: usize, per_row: usize, stride: usize) -> String {
    use crate::ops::gemm_coop::put_piece;
    let mut o = String::new();
    for i in 0..count {
        let q = format!("(lid + {}u)", WG * i);
        let at = format!("({q} / {per_row}u) * {stride}u + ({q} % {per_row}u) * 2u");
        o += &put_piece(array, &at, &format!("{reg}{i}"), &q, None);
    }
    o
}

/// The WGSL of the kernel for padded dimension `dp`, slices of `tk` and output `out` (see the
/// module notes and [`TiledOut`]).
pub fn tiled_keys_source(dp: usize, tk: usize, out: TiledOut) -> String {
    let vec4 = out == TiledOut::Keys { vec4: true };
    let keys_out = matches!(out, TiledOut::Keys { .. });
    let qs4 = (dp + 8) / 4; // vec4<f16> elements per staged query row
    let bs4 = (tk + 8) / 4; // per staged base row
    let slices = dp / tk;
    let qkv = dp / 8; // 16-byte pieces per row of A or B
    let kv = tk / 8; // per row of a slice
    let mut s = String::from(
        "enable f16;
enable wgpu_cooperative_matrix;

override METRIC: u32 = 0u;
// Two teams of 32: the query blocks of `place` (half_place.wgsl, appended) are 64 queries.
override S: u32 = 2u;

// The queries (f16 rows of p.lda halves) and the base (f16 rows of p.ldb), 8 halves a piece.
@group(0) @binding(1) var<storage, read> q8: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> b8: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> xnorm: array<f32>;
",
    );
    s += &match out {
        TiledOut::Keys { .. } => {
            "// The tile (queries x base rows, row stride p.n) and per (query, range) the best key: the
// smallest L2 key, the largest inner product (`best[query * p.segs + range]`).
@group(0) @binding(5) var<storage, read_write> keys: array<@KEY>;
@group(0) @binding(6) var<storage, read_write> best: array<f32>;

"
            .to_string()
        }
        TiledOut::Sample => "// Per (query, sampled tile) the best key, as in the tile form.
@group(0) @binding(6) var<storage, read_write> best: array<f32>;

"
        .to_string(),
        TiledOut::Survivors { cap } => format!(
            "// Per query up to CAP keys within its bound and their rows, in the order they were
// found; the count of all that were (past CAP, some were lost). The bound: the last of
// p.topk sorted values per query (an inner product for METRIC 1; NaN: none).
const CAP: u32 = {cap}u;
@group(0) @binding(5) var<storage, read_write> skeys: array<f32>;
@group(0) @binding(6) var<storage, read_write> srows: array<u32>;
@group(0) @binding(7) var<storage, read_write> count: array<atomic<u32>>;
@group(0) @binding(8) var<storage, read> bound: array<f32>;

"
        ),
    };
    s += &format!(
        "var<workgroup> Qs: array<vec4<f16>, {}>;\n",
        TILED_QUERIES * qs4
    );
    s += &format!(
        "var<workgroup> Bs: array<vec4<f16>, {}>;\n",
        TILED_ROWS * bs4
    );
    s += &format!("var<workgroup> Es: array<f32, {}>;\n", 4 * FRAG_FLOATS);
    s += "var<workgroup> Xs: array<f32, 256>;\n\n";
    s += "// The smaller key first (NaN never counts).
fn better(run: f32, kv: f32) -> f32 {
    return select(run, kv, kv < run);
}

@compute @workgroup_size(128)
fn half_keys_tiled(@builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_id) sg: u32,
    @builtin(subgroup_invocation_id) lane: u32) {
    // Query blocks vary fastest (the blocks of one range share its rows in the cache). Range
    // `seg` is every p.segs-th tile from tile `seg`, so the workgroups running at once write
    // neighbouring tiles of each key row. Past the last range (grid padding) it is empty.
    let at = place(wid);
    let seg = at.seg;
    let m0 = at.m0;
";
    s += if out == TiledOut::Sample {
        "    // One tile per range, spread over the base.
    let tstep = max(((p.n + 255u) / 256u) / p.segs, 1u);
    let start = select(p.n, seg * tstep * 256u, seg < p.segs);
    let stride = p.n;
    let end = min(start + 256u, p.n);
"
    } else {
        "    let start = select(p.n, seg * 256u, seg < p.segs);
    let stride = p.segs * 256u;
    let end = p.n;
"
    };
    s += "    let lastq = p.m - 1u;\n    let lastn = p.n - 1u;\n";
    // The query block (rows past the last query repeat it; their keys are never written).
    let per_q = TILED_QUERIES * qkv / WG;
    for i in 0..per_q {
        let q = format!("(lid + {}u)", WG * i);
        s += &format!(
            "    let qp{i} = q8[min(m0 + {q} / {qkv}u, lastq) * (p.lda / 8u) + {q} % {qkv}u];\n"
        );
    }
    s += &put_pieces("Qs", "qp", per_q, qkv, qs4);
    s += "    let zero = coop_mat16x16<f32, C>();\n";
    for i in 0..4 {
        for j in 0..4 {
            s += &format!("    var c{i}{j} = zero;\n");
        }
    }
    s += "    let h = lane / 16u;\n    let r = lane % 16u;\n";
    if let TiledOut::Survivors { .. } = out {
        // Query 16 i + r's bound as a key (smaller passes): none past the last query.
        for i in 0..4 {
            s += &format!(
                "    let bq{i} = m0 + {}u + r;\n    var bnd{i} = bitcast<f32>(0xff800000u);\n    if bq{i} < p.m {{\n        let b = bound[bq{i} * p.topk + p.topk - 1u];\n        bnd{i} = select(select(b, -b, METRIC == 1u), bitcast<f32>(0x7f800000u), b != b);\n    }}\n",
                16 * i
            );
        }
    } else {
        for i in 0..4 {
            s += "    var run";
            s += &format!("{i} = bitcast<f32>(0x7f800000u);\n");
        }
    }
    // The pieces of a slice: 256 rows of tk / 8 (rows past the chunk repeat its last row).
    let per_b = TILED_ROWS * kv / WG;
    let fetch = |n0: &str, ks: &str, decl: &str| -> String {
        let mut o = String::new();
        for i in 0..per_b {
            let q = format!("(lid + {}u)", WG * i);
            o += &format!(
                "    {decl}pb{i} = b8[min({n0} + {q} / {kv}u, lastn) * (p.ldb / 8u) + ({ks}) * {kv}u + {q} % {kv}u];\n"
            );
        }
        o
    };
    s += &fetch("start", "0u", "var ");
    s += "    for (var n0 = start; n0 < end; n0 += stride) {\n";
    for ks in 0..slices {
        // The previous slice's products (and the previous tile's reads of Xs) are done.
        s += "    workgroupBarrier();\n";
        s += &put_pieces("Bs", "pb", per_b, kv, bs4);
        if ks == 0 {
            s += "    Xs[lid] = xnorm[min(n0 + lid, lastn)];\n    Xs[lid + 128u] = xnorm[min(n0 + lid + 128u, lastn)];\n";
        }
        s += "    workgroupBarrier();\n";
        // The next slice (after the last: the next tile's first; past the range, harmless).
        if ks + 1 < slices {
            s += &fetch("n0", &format!("{}u", ks + 1), "");
        } else {
            s += &fetch("n0 + stride", "0u", "");
        }
        for kk in 0..tk / 16 {
            let k = ks * tk + kk * 16;
            for i in 0..4 {
                s += &format!(
                    "    let a{i}_{ks}_{kk} = coopLoadT<coop_mat16x16<f16, A>>(&Qs[{}u], {qs4}u);\n",
                    16 * i * qs4 + k / 4
                );
            }
            for j in 0..4 {
                s += &format!(
                    "    let b{j}_{ks}_{kk} = coopLoad<coop_mat16x16<f16, B>>(&Bs[(sg * 64u + {}u) * {bs4}u + {}u], {bs4}u);\n",
                    16 * j,
                    kk * 4
                );
            }
            for i in 0..4 {
                for j in 0..4 {
                    let acc = if ks == 0 && kk == 0 {
                        "zero".to_string()
                    } else {
                        format!("c{i}{j}")
                    };
                    s += &format!(
                        "    c{i}{j} = coopMultiplyAdd(a{i}_{ks}_{kk}, b{j}_{ks}_{kk}, {acc});\n"
                    );
                }
            }
        }
    }
    // The epilogue: two fragments at a time through this subgroup's part of Es.
    for i in 0..4 {
        for half in 0..2 {
            for jj in 0..2 {
                let j = 2 * half + jj;
                s += &format!(
                    "    let o{i}{j} = sg * {FRAG_FLOATS}u + {}u;\n    let v{i}{j} = c{i}{j};\n    coopStore(v{i}{j}, &Es[o{i}{j}], 20u);\n",
                    320 * jj
                );
            }
            s += "    subgroupBarrier();\n    {\n";
            s += &format!("    let col0 = sg * 64u + {}u;\n", 32 * half);
            if let TiledOut::Survivors { .. } = out {
                s += &survivors_part(i);
                s += "    }\n    subgroupBarrier();\n";
                continue;
            }
            // The best: row r of 16 columns.
            for c in 0..16 {
                s += &format!(
                    "    {{\n        let cc = h * 16u + (({c}u + 4u * h) & 15u);\n        let v = Es[sg * {FRAG_FLOATS}u + cc * 20u + r];\n        let kv = select(-v, fma(-2.0, v, Xs[col0 + cc]), METRIC == 0u);\n        if n0 + col0 + cc < end {{\n            run{i} = better(run{i}, kv);\n        }}\n    }}\n"
                );
            }
            if !keys_out {
            } else if vec4 {
                // The keys, 16 bytes a lane: invocation l writes columns 4 (l % 8) .. + 3 of
                // row 4 u + l / 8 in turn u (each row piece a whole 128-byte line).
                s += "    let c4 = (lane % 8u) * 4u;\n    let col = n0 + col0 + c4;\n";
                s += "    let xn = vec4<f32>(Xs[col0 + c4], Xs[col0 + c4 + 1u], Xs[col0 + c4 + 2u], Xs[col0 + c4 + 3u]);\n";
                for u in 0..4 {
                    s += &format!(
                        "    {{\n        let row = {}u + lane / 8u;\n        let e = sg * {FRAG_FLOATS}u + c4 * 20u + row;\n        let v = vec4<f32>(Es[e], Es[e + 20u], Es[e + 40u], Es[e + 60u]);\n        let q = m0 + {}u + row;\n        if (col < end) & (q < p.m) {{\n            keys[(q * p.n + col) / 4u] = select(v, fma(vec4<f32>(-2.0), v, xn), METRIC == 0u);\n        }}\n    }}\n",
                        4 * u,
                        16 * i
                    );
                }
            } else {
                // The keys one a lane: column `lane`, rows in turn.
                s += "    let col = n0 + col0 + lane;\n    let xn = Xs[col0 + lane];\n";
                for t in 0..16 {
                    s += &format!(
                        "    {{\n        let row = ({t}u + lane / 8u) % 16u;\n        let v = Es[sg * {FRAG_FLOATS}u + lane * 20u + row];\n        let q = m0 + {}u + row;\n        if (col < end) & (q < p.m) {{\n            keys[q * p.n + col] = select(v, fma(-2.0, v, xn), METRIC == 0u);\n        }}\n    }}\n",
                        16 * i
                    );
                }
            }
            s += "    }\n    subgroupBarrier();\n";
        }
    }
    s += "    }\n";
    if let TiledOut::Survivors { .. } = out {
        return s + "}\n" + crate::kernels::HALF_PLACE;
    }
    // The 8 partial bests of each query (4 subgroups x 2 halves) through Es.
    s += "    workgroupBarrier();\n";
    for i in 0..4 {
        s += &format!("    Es[(sg * 2u + h) * 64u + {}u + r] = run{i};\n", 16 * i);
    }
    s += "    workgroupBarrier();\n";
    s += "    if lid < 64u && m0 + lid < p.m && seg < p.segs {
        var b = Es[lid];
        for (var t = 1u; t < 8u; t++) {
            b = better(b, Es[t * 64u + lid]);
        }
        best[(m0 + lid) * p.segs + seg] = select(-b, b, METRIC == 0u);
    }
}
";
    s.replace("@KEY", if vec4 { "vec4<f32>" } else { "f32" }) + crate::kernels::HALF_PLACE
}

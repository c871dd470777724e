// Fused distance + candidate selection on f16 operands: the flat index's f16 precision mode.
// For each query, the best KB >= k' candidates of one segment of the database by an f16 inner
// product accumulated in f32; the candidates are re-ranked exactly in f32 afterwards
// (half.wgsl, `rerank_*`), so only the choice of candidates is approximate.
//
// One workgroup owns TM = 32 queries (rows of A, f16, zero rows past p.m) and one segment of
// the database (rows of B, f16, zero rows up to a multiple of 32). It walks the segment in
// tiles of TN base rows; each tile's TM x TN inner products land in workgroup memory (`ct`,
// column-major, column stride TSC), computed by the generated @PRODUCT:
//   - cooperative matrices (tensor cores): WG / 32 subgroups of exactly 32 invocations, each a
//     32 x 32 block (2 x 2 fragments of 16 x 16, f16 x f16 -> f32), fragments loaded straight
//     from device memory (the query block's once per segment where d <= 256);
//   - plain loops (adapters without them): each invocation 32 values, vec4<f16> loads, f32
//     dot products.
// Then the LPR = WG / TM invocations of each row compare its keys (L2: |x|^2 - 2 <q, x>,
// without the query's own norm, which does not change a row's order; inner product:
// -<q, x>) with the row's threshold and offer those that beat it to the row's list, exactly
// as the f32 kernel does (list_offer.wgsl, list_merge.wgsl): nothing depends on slot counts.
//
// Order is (key, id): equal keys keep the smaller id. Outputs: per (query, segment) the KB
// best as (key or -key for inner products, id), padded with (+inf key, NONE); the segment
// merge (topk.wgsl) reduces the segments.
//
// This file is a template: ops/knn_half.rs writes the `@...` lines for one variant.

// @ENABLE

override TM: u32 = 32u;  // queries per workgroup
override TN: u32 = 128u; // base rows per tile = 32 * WG / TM (each invocation keys 32 values)
override WG: u32 = 128u;
override KB: u32 = 32u;  // list slots per query, >= k'
override CAP: u32 = 16u; // candidate slots per query per merge
override METRIC: u32 = 0u;
override PAR: u32 = 1u;  // 1: the parallel merge (two copies of the lists)

const NONE: u32 = 0xffffffffu;
override LPR: u32 = WG / TM; // invocations per query row
override TSC: u32 = TM;      // column stride of `ct` (column-major: the 32 rows of a column
                             // are consecutive, so a subgroup reading one column hits 32 banks)

struct Params {
    m: u32,          // queries in this dispatch
    n: u32,          // database vectors in this chunk
    k: u32,          // padded dimension (multiple of 16): the row stride of A and B
    lda: u32,
    ldb: u32,
    seg_len: u32,    // database vectors per segment (a multiple of TN)
    segs: u32,       // segments in this chunk
    seg0: u32,       // global index of this chunk's first segment
    total_segs: u32, // segments per query over all chunks
    id0: u32,        // id of this chunk's first vector
    topk: u32,       // k' (list length)
    wg_x: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// @BINDINGS
@group(0) @binding(3) var<storage, read> xnorm: array<f32>;
@group(0) @binding(5) var<storage, read_write> out_v: array<f32>;
@group(0) @binding(6) var<storage, read_write> out_i: array<u32>;

var<workgroup> ct: array<f32, TN * TSC>;
// The squared norms of the tile's base rows (L2), staged once per tile: one coalesced load
// instead of a dependent global load per value.
var<workgroup> xs: array<f32, TN>;
// The lists, candidate slots and flags: wgsl/list_offer.wgsl.

// The key of row r at tile column c.
fn key_at(r: u32, c: u32) -> f32 {
    let dotv = ct[c * TSC + r];
    if METRIC == 0u {
        return fma(-2.0, dotv, xs[c]);
    }
    return -dotv;
}

@compute @workgroup_size(WG)
fn knn_half(@builtin(workgroup_id) wid: vec3<u32>,
            @builtin(local_invocation_index) tid: u32
            // @BUILTINS
            ) {
    let g = wid.x + wid.y * p.wg_x;
    // Query blocks vary fastest: the workgroups of one segment run together and share its
    // rows in the cache. Past the last segment (grid padding) the range is empty.
    let blocks = (p.m + TM - 1u) / TM;
    let seg = g / blocks;
    let m0 = (g % blocks) * TM;
    let seg_start = min(seg, p.segs) * p.seg_len;
    let seg_end = min(p.n, seg_start + p.seg_len);
    let m_rows = min(TM, p.m - m0);
    init_lists(tid, (1u + PAR) * TM * KB);
    // Invocation tid keys row tid % TM at columns q, q + LPR, ...: a subgroup reads 32 rows of
    // one column at a time (consecutive in `ct`).
    let r = tid % TM;
    let q = tid / TM;
    let live = r < m_rows;
    // @DECL
    for (var n0 = seg_start; n0 < seg_end; n0 += TN) {
        if METRIC == 0u {
            for (var t = tid; t < TN; t += WG) {
                xs[t] = xnorm[min(n0 + t, p.n - 1u)];
            }
        }
        // @PRODUCT
        workgroupBarrier();
        // A bit per value whose key beats the row's threshold (keys are computed again for the
        // few that are offered).
        let last = lcur * TM * KB + r * KB + p.topk - 1u;
        let tv = best_v[last];
        let ti = best_i[last];
        var pend = 0u;
        // @KEYS
        loop {
            var bits = pend;
            loop {
                if bits == 0u {
                    break;
                }
                let j = firstTrailingBit(bits);
                bits &= bits - 1u;
                let c = j * LPR + q;
                if offer(r, p.id0 + n0 + c, key_at(r, c)) {
                    pend &= ~(1u << j);
                }
            }
            if !merge_offers(tid) {
                break;
            }
        }
        // `ct` is rewritten by the next tile's product.
        workgroupBarrier();
    }
    for (var rr = tid; rr < TM; rr += WG) {
        let row = m0 + rr;
        if rr < m_rows && seg < p.segs {
            write_list(rr, (row * p.total_segs + p.seg0 + seg) * p.topk);
        }
    }
}

// Fused distance + top-k: for each query (row of A, m x d) the k nearest database vectors
// (rows of B, n x d) of one segment of B, without writing any distance to memory.
//
// One workgroup owns TM queries and one segment of the database. It walks the segment in
// tiles of TN vectors; each tile's TM x TN inner products are computed exactly as by the GEMM
// (ops/gemm.rs generates the staging and the register-blocked product: shared tiles, vec4
// loads, an RM x RN block per invocation) and then, still in registers, turned into keys:
//   METRIC 0 (L2):            key = max(|x|^2 - 2 <q, x> + |q|^2, 0), the squared distance
//                             as the unfused path computes it (same operations, same order)
//   METRIC 1 (inner product): key = -<q, x>
// Each query keeps its best k (key, id) pairs sorted in workgroup memory (best_v/best_i,
// KB >= k slots per row, two copies); the k-th is the threshold, read into registers once per
// tile. An invocation offers a value only if it beats its row's threshold, into that row's
// candidate slots (CAP per row, atomic counter). Then, if any row got candidates, all
// invocations merge: every list entry and candidate is written at its rank in the union into
// the other copy of the lists (merge_rows). A value that finds its row's slots full stays
// pending and is offered again after the merge (against the
// new threshold), so nothing is lost and no slot count bounds the result. On random data the
// thresholds tighten after the first tiles and the epilogue costs a comparison per value.
//
// Order is (key, id): equal keys keep the smaller id. NaN keys never beat a threshold.
// Outputs: per (query, segment) the k best as (distance or inner product, id), padded with
// (+inf key, NONE); a top-k merge pass (topk.wgsl, explicit ids) reduces the segments.
//
// This file is a template: ops/knn.rs fills the `@...` lines for one tile configuration.

override TM: u32 = 64u;
override TN: u32 = 64u;
override TK: u32 = 16u;
override RM: u32 = 4u;
override RN: u32 = 4u;
override WG: u32 = 256u; // (TM / RM) * (TN / RN)
override KB: u32 = 16u;  // best-list slots per query, >= k
override CAP: u32 = 16u; // candidate slots per query per merge
override METRIC: u32 = 0u;
// 0: the grid is (query block, segment) from the parameters (flat search).
// 1: workgroup g runs work item items[g] (IVF scan): base rows [x, y), the first z & 0xffff
//    rows of query block w (blocks of TM rows; row r of the block is query a_rows[w * TM + r],
//    read in place); row r writes output list slots[w * TM + r] * total_segs + (z >> 16) (a
//    long list is cut into segments, each its own item).
override ITEMS: u32 = 0u;
// 1: the parallel merge (two copies of the lists); 0: one invocation per row inserts its
// candidates in place (less workgroup memory; faster for small k on an H200).
override PAR: u32 = 1u;
// 1: the first tile of a segment bounds each row's threshold before offering (see
// `kth_bounds`; set by the host where the scratch fits the base tile's staging array).
override KBOUND: u32 = 0u;
// 1 (k = 1 only): each invocation keeps, per row it owns, its best (key, id) in registers over
// the whole segment (`top1_v`/`top1_i`, generated), with no candidates or merges; at the end
// the TN / RN invocations of a row combine theirs into the row's list, one column of
// invocations at a time. Same order (key, id), same results.
override TOP1: u32 = 0u;
// 1 (ITEMS = 1 only): no selection. Every value of the item (the squared distance, or the
// inner product) is written to out_v[out_i[slot] + (list row - list start)]: out_i holds the
// offset of each (query, probe) pair's keys, so a query's keys over its probed lists are one
// contiguous range, and a top-k pass over those ranges selects afterwards (the IVF "keys"
// scan: short lists make a running selection per item cost more than the distances).
override STORE: u32 = 0u;

const NONE: u32 = 0xffffffffu;

struct Params {
    m: u32,          // queries in this dispatch
    n: u32,          // database vectors in this chunk
    k: u32,          // dimension (the GEMM's K)
    lda: u32,
    ldb: u32,
    seg_len: u32,    // database vectors per segment (a multiple of TN)
    segs: u32,       // segments in this chunk
    seg0: u32,       // global index of this chunk's first segment
    total_segs: u32, // segments per query over all chunks (output row stride / topk)
    id0: u32,        // id of this chunk's first vector
    topk: u32,
    wg_x: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// @BINDINGS
@group(0) @binding(3) var<storage, read> xnorm: array<f32>;
@group(0) @binding(4) var<storage, read> qnorm: array<f32>;
@group(0) @binding(5) var<storage, read_write> out_v: array<f32>;
@group(0) @binding(6) var<storage, read_write> out_i: array<u32>;
@group(0) @binding(7) var<storage, read> items: array<vec4<u32>>;
@group(0) @binding(8) var<storage, read> slots: array<u32>;
// ITEMS: the query of each gathered row (NONE for an empty row); queries are read in place.
@group(0) @binding(9) var<storage, read> a_rows: array<u32>;

const PAD4: u32 = 1u;
var<workgroup> As: array<vec4<f32>, (TM / 4u + PAD4) * TK>;
var<workgroup> Bs: array<vec4<f32>, (TN / 4u + PAD4) * TK>;
// The lists, candidate slots and flags: wgsl/list_offer.wgsl.

// The row of A (and of its norms) that tile row r reads, NONE for zeros: row r itself in grid
// mode, the query of gathered row r in work-item mode (p.m gathered rows).
fn a_row(r: u32) -> u32 {
    if r >= p.m {
        return NONE;
    }
    if ITEMS == 1u {
        return a_rows[r];
    }
    return r;
}

fn at_a_row(row: u32, col: u32, cols: u32) -> f32 {
    if row == NONE || col >= cols {
        return 0.0;
    }
    return a_get(row * p.lda + col);
}

fn at_b(row: u32, col: u32, rows: u32, cols: u32) -> f32 {
    if row >= rows || col >= cols {
        return 0.0;
    }
    return b_get(row * p.ldb + col);
}


// offer and merge_rows_serial: wgsl/list_offer.wgsl; merge_rows (the parallel merge):
// wgsl/list_merge.wgsl; both appended by ops/knn.rs.

// After each invocation stored, per row it owns, its smallest key of the first tile in
// Bs (as flat f32: row * (TN / RN) + column of invocations): the k-th smallest of a row's
// TN / RN minima (ties by position) bounds its k-th key; the row's list becomes k copies of
// (bound, NONE). WG / TM invocations per row rank the minima. Ends with a barrier.
fn kth_bounds(lid: u32) {
    let per = TN / RN;
    let lanes = max(1u, WG / TM);
    for (var t = lid; t < TM * lanes; t += WG) {
        let r = t / lanes;
        let lane = t % lanes;
        for (var j = lane; j < per; j += lanes) {
            let v = Bs[(r * per + j) / 4u][(r * per + j) % 4u];
            var rank = 0u;
            for (var i = 0u; i < per; i++) {
                let w = Bs[(r * per + i) / 4u][(r * per + i) % 4u];
                if w < v || (w == v && i < j) {
                    rank += 1u;
                }
            }
            if rank == p.topk - 1u {
                for (var s = 0u; s < p.topk; s++) {
                    best_v[lcur * TM * KB + r * KB + s] = v;
                    best_i[lcur * TM * KB + r * KB + s] = NONE;
                }
            }
        }
    }
    workgroupBarrier();
}

@compute @workgroup_size(WG)
fn knn(@builtin(workgroup_id) wid: vec3<u32>,
       @builtin(local_invocation_index) tid: u32) {
    let g = wid.x + wid.y * p.wg_x;
    var seg = g;
    var m0 = 0u;
    var seg_start = 0u;
    var seg_end = 0u;
    var m_rows = 0u; // live query rows of the block
    var list_start = 0u; // STORE: the first row of the item's list
    if ITEMS == 1u {
        // Past the last item (grid padding) the range is empty.
        let item = items[min(g, p.segs - 1u)];
        m0 = item.w * TM;
        seg_start = item.x;
        seg_end = select(item.x, item.y, g < p.segs);
        m_rows = select(0u, item.z & 0xffffu, g < p.segs);
        seg = item.z >> 16u;
        list_start = item.x - seg * p.seg_len;
    } else {
        // Query blocks vary fastest: the workgroups of one segment run together and share
        // its tiles in the cache. Past the last segment (grid padding) the range is empty.
        let blocks = (p.m + TM - 1u) / TM;
        seg = g / blocks;
        m0 = (g % blocks) * TM;
        seg_start = min(seg, p.segs) * p.seg_len;
        seg_end = min(p.n, seg_start + p.seg_len);
        m_rows = min(TM, p.m - m0);
    }
    let threads_x = TN / RN;
    let tx = tid % threads_x;
    let ty = tid / threads_x;
    let sa = TM / 4u + PAD4;
    let sb = TN / 4u + PAD4;
    let k_lo = 0u;
    let k_hi = p.k;
    init_lists(tid, TM * KB);
    // @DECL
    // One flat sequence of (tile, K slice) steps, so the first slice of the next tile is
    // loaded while the last slice of this one is multiplied (tiles are short: d / TK slices).
    {
        let n0 = seg_start;
        let kt = k_lo;
        // @LOAD_FIRST
    }
    var n0 = seg_start;
    var k0 = k_lo;
    loop {
        if n0 >= seg_end {
            break;
        }
        // @STAGE
        workgroupBarrier();
        {
            var next_n = n0;
            var next_k = k0 + TK;
            if next_k >= k_hi {
                next_k = k_lo;
                next_n = n0 + TN;
            }
            let n0 = next_n;
            let kt = next_k;
            // @LOAD_NEXT
        }
        for (var kk = 0u; kk < TK; kk++) {
            // @INNER
        }
        workgroupBarrier();
        k0 += TK;
        if k0 < k_hi {
            continue;
        }
        // The tile is complete: select, then start the next one.
        // @PENDING
        loop {
            if TOP1 == 1u || STORE == 1u {
                break;
            }
            // @OFFER
            if !merge_offers(tid) {
                break;
            }
        }
        // @ZERO
        k0 = k_lo;
        n0 += TN;
    }
    workgroupBarrier();
    // @TOP1_FINISH
    for (var r = tid; r < TM; r += WG) {
        let row = m0 + r;
        if STORE == 0u && r < m_rows && (ITEMS == 1u || seg < p.segs) {
            var out = (row * p.total_segs + p.seg0 + seg) * p.topk;
            if ITEMS == 1u {
                out = (slots[row] * p.total_segs + seg) * p.topk;
            }
            write_list(r, out);
        }
    }
}

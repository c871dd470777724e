// Fused distance + top-k for a few queries (1..4): each workgroup streams one segment of the
// database once, L lanes per database row (coalesced: the L lanes of a row read consecutive
// vec4s, the row groups of a subgroup consecutive rows), a subgroup butterfly sums each
// row's partial dot products, and one lane per row offers the row's keys to its queries'
// lists. The tiled kernel (knn.wgsl) stages the base through workgroup memory and computes a
// 4-row tile for 1 query; a search of one query is a read of the base, and this kernel is
// shaped like one.
//
// Keys and order as in knn.wgsl: L2 key = max(|x|^2 - 2 <q, x> + |q|^2, 0), inner product
// key = -<q, x>; (key, id) ascending, equal keys keep the smaller id, NaN keys never enter.
// Each query's best k live sorted in workgroup memory (two copies); a step of R rows per row
// group offers at most (WG / L) * R candidates per query, which is the candidate capacity,
// so no value ever waits. After a step with candidates every invocation helps merge them
// (merge_rows of list_merge.wgsl, shared with knn.wgsl: each list entry and candidate
// written at its rank in the union). Output: per (query,
// segment) the k best as (distance or inner product, id), padded with (worst, NONE), like
// knn.wgsl's; the same top-k merge reduces the segments.
//
// Needs subgroups with a size that is a multiple of L (the host sets L to 8, or the adapter's
// smallest subgroup size when that is 4; sizes are powers of two and WG is a multiple of
// each).
// Concatenated after a part that declares binding 2 (`base`), `const SUB: u32` (1 or 2: the
// 4-column chunks one lane loads at once) and `fn ldw(row, c) -> mat2x4<f32>` (chunks c..c+SUB-1
// of base row `row` as columns, i.e. columns 4c..4c+4·SUB-1; zero past the dimension, or any
// finite values where the queries' copies are zero: a chunk index past the row is clamped).

override TM: u32 = 1u;   // query slots (1..4); p.m live (TM: the list part's row count)
override L: u32 = 8u;    // lanes per database row
override WG: u32 = 256u;
override D4: u32 = 32u;  // ceil(d / 4)
override D4P: u32 = 32u; // D4 rounded up to a multiple of L * SUB (the query copies are zero past D4)
override KB: u32 = 16u;  // list slots per query, >= k
override METRIC: u32 = 0u;
const R: u32 = 4u;       // rows per row group per step (at most L)
const QMAX: u32 = 4u;
const NONE: u32 = 0xffffffffu;
override GROUPS: u32 = WG / L;
override CAP: u32 = GROUPS * R;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    lda: u32,
    ldb: u32,
    seg_len: u32,
    segs: u32,
    seg0: u32,
    total_segs: u32,
    id0: u32,
    topk: u32,
    wg_x: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> xnorm: array<f32>;
@group(0) @binding(4) var<storage, read> qnorm: array<f32>;
@group(0) @binding(5) var<storage, read_write> out_v: array<f32>;
@group(0) @binding(6) var<storage, read_write> out_i: array<u32>;

var<workgroup> qs: array<vec4<f32>, TM * D4P>;
var<workgroup> best_v: array<f32, 2u * TM * KB>;
var<workgroup> best_i: array<u32, 2u * TM * KB>;
var<workgroup> cand_v: array<f32, TM * CAP>;
var<workgroup> cand_i: array<u32, TM * CAP>;
var<workgroup> cnt: array<atomic<u32>, QMAX>;
// Set (plain stores of 1, by any offering invocation) when a step offered something: two,
// used by alternate steps, so that clearing one never races with the next step's offers.
var<workgroup> offered: array<u32, 2>;
var<private> lcur: u32 = 0u;

// before() and merge_rows(): wgsl/list_merge.wgsl (concatenated after this part).

// Chunk c of four rows (v_0..v_3) against chunk c of the queries: column j holds row j's
// products with queries 0..TM-1 (x, y, z, w).
fn dots4(v_0: vec4<f32>, v_1: vec4<f32>, v_2: vec4<f32>, v_3: vec4<f32>, c: u32) -> mat4x4<f32> {
    var m = mat4x4<f32>();
    let q_0 = qs[c];
    m[0].x = dot(v_0, q_0);
    m[1].x = dot(v_1, q_0);
    m[2].x = dot(v_2, q_0);
    m[3].x = dot(v_3, q_0);
    if TM > 1u {
        let q_1 = qs[D4P + c];
        m[0].y = dot(v_0, q_1);
        m[1].y = dot(v_1, q_1);
        m[2].y = dot(v_2, q_1);
        m[3].y = dot(v_3, q_1);
    }
    if TM > 2u {
        let q_2 = qs[2u * D4P + c];
        m[0].z = dot(v_0, q_2);
        m[1].z = dot(v_1, q_2);
        m[2].z = dot(v_2, q_2);
        m[3].z = dot(v_3, q_2);
    }
    if TM > 3u {
        let q_3 = qs[3u * D4P + c];
        m[0].w = dot(v_0, q_3);
        m[1].w = dot(v_1, q_3);
        m[2].w = dot(v_2, q_3);
        m[3].w = dot(v_3, q_3);
    }
    return m;
}

@compute @workgroup_size(WG)
fn knn_stream(@builtin(workgroup_id) wid: vec3<u32>,
              @builtin(local_invocation_index) tid: u32,
              @builtin(subgroup_invocation_id) sl: u32,
              @builtin(subgroup_size) ss: u32,
              @builtin(subgroup_id) sid: u32) {
    let seg = wid.x + wid.y * p.wg_x;
    let seg_start = min(seg, p.segs) * p.seg_len;
    let seg_end = min(p.n, seg_start + p.seg_len);
    // The queries, zero past the dimension and past the live ones.
    for (var t = tid; t < TM * D4P; t += WG) {
        let q = t / D4P;
        let c = t % D4P;
        var v = vec4<f32>(0.0);
        if q < p.m && c < D4 {
            for (var e = 0u; e < 4u; e++) {
                if 4u * c + e < p.k {
                    v[e] = a[q * p.lda + 4u * c + e];
                }
            }
        }
        qs[t] = v;
    }
    for (var t = tid; t < 2u * TM * KB; t += WG) {
        best_v[t] = bitcast<f32>(0x7f800000u);
        best_i[t] = NONE;
    }
    if tid < QMAX {
        atomicStore(&cnt[tid], 0u);
    }
    if tid == 0u {
        offered[0] = 0u;
        offered[1] = 0u;
    }
    workgroupBarrier();
    var qn = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
    for (var q = 0u; q < TM; q++) {
        if METRIC == 0u && q < p.m {
            qn[q] = qnorm[q];
        }
    }
    let lane = sl % L;
    let rg = sid * (ss / L) + sl / L;
    var th_v = array<f32, 4>(bitcast<f32>(0x7f800000u), bitcast<f32>(0x7f800000u),
                             bitcast<f32>(0x7f800000u), bitcast<f32>(0x7f800000u));
    var th_i = array<u32, 4>(NONE, NONE, NONE, NONE);
    var parity = 0u;
    for (var r0 = seg_start; r0 < seg_end; r0 += GROUPS * R) {
        // Rows r0 + j * GROUPS + rg for j < R, clamped into the segment so that the loads
        // need no branch (all of them issue before the first product); rows past the end
        // are not offered.
        let last = seg_end - 1u;
        let x_0 = min(r0 + rg, last);
        let x_1 = min(r0 + 1u * GROUPS + rg, last);
        let x_2 = min(r0 + 2u * GROUPS + rg, last);
        let x_3 = min(r0 + 3u * GROUPS + rg, last);
        // a_j: row j's partial dot products with queries 0..3 in x, y, z, w.
        var a_0 = vec4<f32>(0.0);
        var a_1 = vec4<f32>(0.0);
        var a_2 = vec4<f32>(0.0);
        var a_3 = vec4<f32>(0.0);
        // The same trip count in every lane (a constant: the driver can unroll it and issue
        // every load of the step at once); lanes past the row's end read its last chunk again
        // (ldw clamps) and multiply it by the queries' zero padding. Lane l reads SUB chunks
        // at once, l * SUB.. (one 16-byte load of 8 halves for an f16 base).
        for (var cc = 0u; cc < D4P; cc += L * SUB) {
            let c0 = cc + lane * SUB;
            let w_0 = ldw(x_0, c0);
            let w_1 = ldw(x_1, c0);
            let w_2 = ldw(x_2, c0);
            let w_3 = ldw(x_3, c0);
            // Constant column indices (a loop over them ran the f16 kernel at half speed).
            let m = dots4(w_0[0], w_1[0], w_2[0], w_3[0], c0);
            a_0 += m[0];
            a_1 += m[1];
            a_2 += m[2];
            a_3 += m[3];
            if SUB > 1u {
                let n = dots4(w_0[1], w_1[1], w_2[1], w_3[1], c0 + 1u);
                a_0 += n[0];
                a_1 += n[1];
                a_2 += n[2];
                a_3 += n[3];
            }
        }
        // Every lane of a row group ends with the rows' dot products.
        for (var o = 1u; o < L; o <<= 1u) {
            a_0 += subgroupShuffleXor(a_0, o);
            a_1 += subgroupShuffleXor(a_1, o);
            a_2 += subgroupShuffleXor(a_2, o);
            a_3 += subgroupShuffleXor(a_3, o);
        }
        // Lane j offers row j (L >= R).
        for (var j = lane; j < R; j += L) {
            var dots = a_0;
            switch j {
                case 1u: { dots = a_1; }
                case 2u: { dots = a_2; }
                case 3u: { dots = a_3; }
                default: {}
            }
            let row = r0 + j * GROUPS + rg;
            if row < seg_end {
                let id = p.id0 + row;
                let xn = xnorm[row];
                for (var q = 0u; q < TM; q++) {
                    var key = -dots[q];
                    if METRIC == 0u {
                        key = max(xn - 2.0 * dots[q] + qn[q], 0.0);
                    }
                    if q < p.m && before(key, id, th_v[q], th_i[q]) {
                        let s = atomicAdd(&cnt[q], 1u);
                        if s < CAP {
                            cand_v[q * CAP + s] = key;
                            cand_i[q * CAP + s] = id;
                        }
                        offered[parity] = 1u;
                    }
                }
            }
        }
        // One workgroupUniformLoad per step (naga writes a barrier before and after the load)
        // instead of a barrier and then a uniform load of a copied flag. This step's flag is
        // cleared after every invocation read it and next written two steps on, after the
        // next step's barriers, so the clear races with nothing.
        let any = workgroupUniformLoad(&offered[parity]);
        if tid == 0u {
            offered[parity] = 0u;
        }
        parity = 1u - parity;
        if any != 0u {
            merge_rows(tid);
            // The counters' reset (in merge_rows, after its last barrier) before any offer.
            workgroupBarrier();
            for (var q = 0u; q < TM; q++) {
                th_v[q] = best_v[lcur * TM * KB + q * KB + p.topk - 1u];
                th_i[q] = best_i[lcur * TM * KB + q * KB + p.topk - 1u];
            }
        }
    }
    for (var t = tid; t < TM * p.topk; t += WG) {
        let q = t / p.topk;
        let j = t % p.topk;
        if q < p.m && seg < p.segs {
            let key = best_v[lcur * TM * KB + q * KB + j];
            var v = -key;
            if METRIC == 0u {
                v = key;
            }
            let out = (q * p.total_segs + p.seg0 + seg) * p.topk + j;
            out_v[out] = v;
            out_i[out] = best_i[lcur * TM * KB + q * KB + j];
        }
    }
}

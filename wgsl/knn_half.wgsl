// Fused distance + candidate selection on f16 operands: the flat index's f16 precision mode.
// For each query, the best k' candidates of one segment of the database by an f16 inner
// product accumulated in f32; the candidates are re-ranked exactly in f32 afterwards
// (half.wgsl, `rerank_*`), so only the choice of candidates is approximate.
//
// A workgroup is S teams of 32 invocations; team t owns 32 queries (rows m0 + 32t .. of A,
// f16, zero rows up to a multiple of 32 S) and all teams walk the same segment of the database
// (rows of B, f16, zero rows up to a multiple of 32) in steps of 32 base rows. Each step, team
// t's 32 x 32 inner products land in its block of workgroup memory (`ct`, column-major,
// column stride TSC), computed by the generated @PRODUCT:
//   - cooperative matrices (tensor cores): the team is subgroup t (exactly 32 invocations),
//     2 x 2 fragments of 16 x 16 (f16 x f16 -> f32), the query fragments kept in registers
//     for the whole segment where d <= 256; the step's base rows are staged in workgroup
//     memory once for all teams (@STAGE; or, unstaged, every team loads them from device
//     memory);
//   - plain loops (adapters without them): invocation (t, r) computes row r of team t's block,
//     vec4<f16> loads, f32 dot products.
// Then invocation (t, r) owns query m0 + 32 t + r: it reads its row of the block (32 keys;
// L2: |x|^2 - 2 <q, x>, without the query's own norm, which does not change a row's order;
// inner product: -<q, x>), and puts those that beat its threshold into its own list, a heap
// in the invocation's private memory (log k' moves per insertion; sorted once at the end). No
// list is shared, so no candidate slots or merge rounds. The threshold is the list's last
// entry or the query's bound over all segments (`bound`), whichever is lower: once some
// segment's list is full, the others skip what it has beaten instead of filling their own.
// The barriers (@SYNC, @END) are the form's: a team's block is written and read by the same
// subgroup on tensor cores, by 32 invocations of several subgroups in the plain form.
//
// Order is (key, id): equal keys keep the smaller id. NaN keys never beat a threshold.
// Outputs: per (query, segment) the k' best as (key or -key for inner products, id), padded
// with (+inf key, NONE); the segment merge (topk.wgsl) reduces the segments.
//
// This file is a template: ops/knn_half.rs writes the `@...` lines (and the list length KB)
// for one variant.

// @ENABLE

override S: u32 = 4u;         // teams of 32 invocations (queries) per workgroup
override WG: u32 = 128u;      // 32 * S
override TSC: u32 = 32u;      // column stride of `ct` (32 rows + padding)
override METRIC: u32 = 0u;
// @SLOTS

const NONE: u32 = 0xffffffffu;

// Params, p and place(): half_place.wgsl.
// @BINDINGS
@group(0) @binding(3) var<storage, read> xnorm: array<f32>;
@group(0) @binding(5) var<storage, read_write> out_v: array<f32>;
@group(0) @binding(6) var<storage, read_write> out_i: array<u32>;
// Per query, the best bound on its k'-th key that any segment has found so far (zero: none),
// as the complement of an order-preserving u32: a segment's full list proves that k' keys
// are at most its last one, so no key above that can be among the query's k' best in any
// segment. Read every step, raised with atomicMax when a list's last entry improves: each
// segment skips what another has already beaten, instead of filling its own list.
@group(0) @binding(7) var<storage, read_write> bound: array<atomic<u32>>;
// bound_code / bound_key: wgsl/bound.wgsl.

// Team t's block: columns 32 t .. 32 t + 31 (the step's base rows), each TSC floats, row r of
// a column at offset r (a team reading one column hits 32 consecutive words).
var<workgroup> ct: array<f32, 32u * S * TSC>;
// The squared norms of the step's 32 base rows (L2), per team (each reads them itself).
var<workgroup> xs: array<f32, 32u * S>;

// (av, ai) comes before (bv, bi); no short-circuit, so no branch.
fn before(av: f32, ai: u32, bv: f32, bi: u32) -> bool {
    return (av < bv) | ((av == bv) & (ai < bi));
}

// Puts (v, i) at position `at` of the heap hv/hi of `len` entries (each parent after its
// children by (key, id)), moving the later children up until it fits.
fn sift_down(hv: ptr<function, array<f32, KB>>, hi: ptr<function, array<u32, KB>>, at: u32,
             len: u32, v: f32, i: u32) {
    var j = at;
    loop {
        let l = 2u * j + 1u;
        if l >= len {
            break;
        }
        var c = l;
        if l + 1u < len && before((*hv)[l], (*hi)[l], (*hv)[l + 1u], (*hi)[l + 1u]) {
            c = l + 1u;
        }
        if !before(v, i, (*hv)[c], (*hi)[c]) {
            break;
        }
        (*hv)[j] = (*hv)[c];
        (*hi)[j] = (*hi)[c];
        j = c;
    }
    (*hv)[j] = v;
    (*hi)[j] = i;
}

// The key of team `team`'s block column c (0..32) at row r.
fn key_at(team: u32, r: u32, c: u32) -> f32 {
    let dotv = ct[(team * 32u + c) * TSC + r];
    if METRIC == 0u {
        return fma(-2.0, dotv, xs[team * 32u + c]);
    }
    return -dotv;
}

@compute @workgroup_size(WG)
fn knn_half(@builtin(workgroup_id) wid: vec3<u32>,
            @builtin(local_invocation_index) tid: u32
            // @BUILTINS
            ) {
    let at = place(wid);
    let seg = at.seg;
    let m0 = at.m0;
    let seg_start = at.start;
    let seg_end = at.end;
    // Invocation (team, r) owns query m0 + 32 team + r.
    // @TEAM
    let row = m0 + team * 32u + r;
    let live = row < p.m && seg < p.segs;
    // This invocation's list of p.topk entries: a heap with the last by (key, id) at its root
    // (tv, ti), the threshold.
    var lv: array<f32, KB>;
    var li: array<u32, KB>;
    for (var t = 0u; t < KB; t++) {
        lv[t] = bitcast<f32>(0x7f800000u);
        li[t] = NONE;
    }
    var tv = bitcast<f32>(0x7f800000u);
    var ti = NONE;
    // @DECL
    for (var n0 = seg_start; n0 < seg_end; n0 += 32u) {
        // Read before the product, so that its latency is hidden behind it.
        let qcode = atomicLoad(&bound[min(row, p.m - 1u)]);
        // @STAGE
        if METRIC == 0u {
            xs[team * 32u + r] = xnorm[min(n0 + r, p.n - 1u)];
        }
        // @PRODUCT
        // @SYNC
        // The threshold: the list's last entry, or the query's bound where that is lower
        // (keys equal to the bound still pass; the id NONE comes after every real one).
        let qb = bound_key(qcode);
        let tight = qb < tv;
        var ev = select(tv, qb, tight);
        var ei = select(ti, NONE, tight);
        // A bit per key that beats the threshold; each is computed again when inserted (the
        // threshold moves with every insertion).
        var pend = 0u;
        // @KEYS
        if !live {
            pend = 0u;
        }
        let had = pend;
        loop {
            if pend == 0u {
                break;
            }
            let c = firstTrailingBit(pend);
            pend &= pend - 1u;
            let key = key_at(team, r, c);
            let id = p.id0 + n0 + c;
            if before(key, id, ev, ei) {
                sift_down(&lv, &li, 0u, p.topk, key, id);
                tv = lv[0];
                ti = li[0];
                if before(tv, ti, ev, ei) {
                    ev = tv;
                    ei = ti;
                }
            }
        }
        // A full list (its last entry real) bounds the query's k'-th key.
        if had != 0u && ti != NONE && tv < qb {
            atomicMax(&bound[row], bound_code(tv));
        }
        // @END
    }
    if live {
        // Sorted by (key, id): the root (the last of the rest) goes to the end, repeatedly.
        for (var end = p.topk - 1u; end > 0u; end--) {
            let v = lv[end];
            let i = li[end];
            lv[end] = lv[0];
            li[end] = li[0];
            sift_down(&lv, &li, 0u, end, v, i);
        }
        let out = (row * p.total_segs + p.seg0 + seg) * p.topk;
        for (var t = 0u; t < p.topk; t++) {
            out_v[out + t] = select(-lv[t], lv[t], METRIC == 0u);
            out_i[out + t] = li[t];
        }
    }
}

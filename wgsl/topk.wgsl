// Per-row top-k selection: the k smallest (or, with LARGEST = 1, largest) values of each
// segment of each row, sorted, ties broken by the smaller id. k <= KP (a power of two).
//
// One workgroup per (row, segment). The workgroup keeps its best KP candidates sorted in
// workgroup memory (best_v/best_i) and the k-th best in registers as a threshold. Invocations
// stream the segment (RPT coalesced scalar loads each per round) and append only the elements
// that beat the threshold to a candidate buffer (an atomic counter hands out slots); loads
// are issued four at a time before any filtering, so they are in flight together. An element
// that finds the buffer full waits (a bit per element) while the full buffer is merged, and
// is offered again; so a round may hold more elements than the buffer, and the rounds' checks
// (two barriers each) are paid once per WG * RPT elements. After a round with candidates
// (small k) or once half the buffer is used (or the segment ends), the workgroup merges:
// bitonic sort of the candidates, a half-cleaner against the best list reversed (which leaves
// the KP smallest of both as a bitonic sequence), and a bitonic merge. On random data the
// threshold tightens after a few merges and the scan is a streaming read.
//
// Values are compared as keys: v for smallest, -v for largest; ordering is (key, id), so equal
// values keep the smaller id. Padding is (+inf key, NONE id), after every real candidate.
// EXPLICIT = 0: ids are column numbers; 1: ids come from in_ids (merge passes over earlier
// passes' outputs).

override WG: u32 = 128u;
override KP: u32 = 16u;
override CP: u32 = 2048u; // candidate buffer, a power of two >= WG
override RPT: u32 = 8u; // a multiple of 4, at most 32
override LARGEST: u32 = 0u;
override EXPLICIT: u32 = 0u;
// 1 (with EXPLICIT = 0): rows of different lengths anywhere in x: row r is x[start, start +
// len) with (start, len) = (in_ids[2r], in_ids[2r + 1]); ids are positions in the row;
// segments past a row's end select nothing (padding).
override RANGES: u32 = 0u;

const NONE: u32 = 0xffffffffu;

struct Params {
    rows: u32,     // rows in this dispatch
    cols: u32,     // length of each input row
    seg_len: u32,  // elements per segment
    segs: u32,     // segments per row
    k: u32,
    wg_x: u32,
    row0: u32,     // first output row of this dispatch
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> in_ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> out_v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out_i: array<u32>;

var<workgroup> best_v: array<f32, KP>;
var<workgroup> best_i: array<u32, KP>;
var<workgroup> cand_v: array<f32, CP>;
var<workgroup> cand_i: array<u32, CP>;
var<workgroup> count: atomic<u32>;
var<workgroup> seen: u32;

fn key(v: f32) -> f32 {
    if LARGEST == 1u {
        return -v;
    }
    return v;
}

fn before(av: f32, ai: u32, bv: f32, bi: u32) -> bool {
    return av < bv || (av == bv && ai < bi);
}


fn pad_v() -> f32 {
    return bitcast<f32>(0x7f800000u);
}

// Sorts cand[0..len) ascending by (key, id); len is a power of two.
fn sort_candidates(len: u32, lid: u32) {
    for (var size = 2u; size <= len; size <<= 1u) {
        for (var stride = size >> 1u; stride > 0u; stride >>= 1u) {
            for (var t = lid; t < len / 2u; t += WG) {
                let i = 2u * t - (t & (stride - 1u));
                let j = i + stride;
                let up = (i & size) == 0u;
                let av = cand_v[i];
                let ai = cand_i[i];
                let bv = cand_v[j];
                let bi = cand_i[j];
                if before(bv, bi, av, ai) == up {
                    cand_v[i] = bv;
                    cand_i[i] = bi;
                    cand_v[j] = av;
                    cand_i[j] = ai;
                }
            }
            workgroupBarrier();
        }
    }
}

// Merges the first n candidates into the best list, leaving it sorted. Only the smallest
// power of two >= n candidates are sorted, so a merge costs what its candidates need.
fn merge(n: u32, lid: u32) {
    let len = 1u << (32u - countLeadingZeros(max(n, 2u) - 1u));
    for (var t = n + lid; t < len; t += WG) {
        cand_v[t] = pad_v();
        cand_i[t] = NONE;
    }
    workgroupBarrier();
    sort_candidates(len, lid);
    // Half-cleaner: best[j] = min(best[j], cand[KP - 1 - j]) (cand padded past len).
    for (var i = lid; i < min(KP, len); i += WG) {
        let j = KP - 1u - i;
        if before(cand_v[i], cand_i[i], best_v[j], best_i[j]) {
            best_v[j] = cand_v[i];
            best_i[j] = cand_i[i];
        }
    }
    workgroupBarrier();
    // The best list is now bitonic: merge it ascending.
    for (var stride = KP >> 1u; stride > 0u; stride >>= 1u) {
        for (var t = lid; t < KP / 2u; t += WG) {
            let i = 2u * t - (t & (stride - 1u));
            let j = i + stride;
            if before(best_v[j], best_i[j], best_v[i], best_i[i]) {
                let v = best_v[i];
                let id = best_i[i];
                best_v[i] = best_v[j];
                best_i[i] = best_i[j];
                best_v[j] = v;
                best_i[j] = id;
            }
        }
        workgroupBarrier();
    }
    if lid == 0u {
        atomicStore(&count, 0u);
    }
    workgroupBarrier();
}

// Appends element e (key v) to the candidates if it is inside the segment and beats the
// threshold; true if it beats it but found no slot (the buffer is full: offer it again after
// the merge).
fn offer(v: f32, e: u32, end: u32, base: u32, thr_v: f32, thr_i: u32) -> bool {
    if e >= end {
        return false;
    }
    var id = e;
    if EXPLICIT == 1u {
        id = in_ids[base + e];
    }
    if before(v, id, thr_v, thr_i) {
        let s = atomicAdd(&count, 1u);
        if s < CP {
            cand_v[s] = v;
            cand_i[s] = id;
            return false;
        }
        return true;
    }
    return false;
}

@compute @workgroup_size(WG)
fn topk_select(@builtin(workgroup_id) wid: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    select_segment(wid, lid, pad_v());
}

// Per row an upper bound of its k-th key (a value: its key is taken here), known before the
// selection: bounds[(row0 + row + 1) BOUND_STRIDE - 1] (the last of a sorted list of
// BOUND_STRIDE values per row). Only elements whose keys are at most the bound are offered,
// so a segment need not fill its list from empty; the bound must not be below the row's
// true k-th key (then the list keeps fewer than k and pads). NaN: no bound.
override BOUND_STRIDE: u32 = 1u;
@group(0) @binding(5) var<storage, read> bounds: array<f32>;

@compute @workgroup_size(WG)
fn topk_select_bounded(@builtin(workgroup_id) wid: vec3<u32>,
                       @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * p.wg_x;
    let row = min(g / p.segs, p.rows - 1u);
    let b = key(bounds[(p.row0 + row + 1u) * BOUND_STRIDE - 1u]);
    // NaN by its bits (a compiler may assume b == b).
    let nan = (bitcast<u32>(b) & 0x7fffffffu) > 0x7f800000u;
    select_segment(wid, lid, select(b, pad_v(), nan));
}

// The k best of one (row, segment) with keys at most `bound` (+inf: all).
fn select_segment(wid: vec3<u32>, lid: u32, bound: f32) {
    let g = wid.x + wid.y * p.wg_x;
    let row = g / p.segs;
    let seg = g % p.segs;
    // Workgroups past the last row run the barriers and write nothing.
    let live = row < p.rows;
    for (var t = lid; t < KP; t += WG) {
        best_v[t] = pad_v();
        best_i[t] = NONE;
    }
    if lid == 0u {
        atomicStore(&count, 0u);
    }
    workgroupBarrier();
    var cols = p.cols;
    var base = row * p.cols;
    if RANGES == 1u {
        let r = min(row, p.rows - 1u);
        base = in_ids[2u * r];
        cols = in_ids[2u * r + 1u];
    }
    let start = seg * p.seg_len;
    let end = min(cols, start + p.seg_len);
    var thr_v = bound;
    var thr_i = NONE;
    // Candidates held before a merge: none for small lists (a merge after every round that
    // found any keeps the threshold tight), half the buffer for larger ones.
    let merge_at = select(CP / 2u, 0u, KP <= 32u);
    for (var r0 = start; r0 < end; r0 += WG * RPT) {
        // Bit b: element r0 + b WG + lid beat the threshold but found no slot.
        var pend = 0u;
        if live && RPT % 8u == 0u {
            // Steps of eight loads issued together (more bytes in flight per invocation: the
            // scan waits on memory latency), then eight filters.
            for (var u = 0u; u < RPT; u += 8u) {
                let e0 = r0 + u * WG + lid;
                let last_e = end - 1u;
                let v0 = key(x[base + min(e0, last_e)]);
                let v1 = key(x[base + min(e0 + WG, last_e)]);
                let v2 = key(x[base + min(e0 + 2u * WG, last_e)]);
                let v3 = key(x[base + min(e0 + 3u * WG, last_e)]);
                let v4 = key(x[base + min(e0 + 4u * WG, last_e)]);
                let v5 = key(x[base + min(e0 + 5u * WG, last_e)]);
                let v6 = key(x[base + min(e0 + 6u * WG, last_e)]);
                let v7 = key(x[base + min(e0 + 7u * WG, last_e)]);
                pend |= select(0u, 1u << u, offer(v0, e0, end, base, thr_v, thr_i));
                pend |= select(0u, 2u << u, offer(v1, e0 + WG, end, base, thr_v, thr_i));
                pend |= select(0u, 4u << u, offer(v2, e0 + 2u * WG, end, base, thr_v, thr_i));
                pend |= select(0u, 8u << u, offer(v3, e0 + 3u * WG, end, base, thr_v, thr_i));
                pend |= select(0u, 16u << u, offer(v4, e0 + 4u * WG, end, base, thr_v, thr_i));
                pend |= select(0u, 32u << u, offer(v5, e0 + 5u * WG, end, base, thr_v, thr_i));
                pend |= select(0u, 64u << u, offer(v6, e0 + 6u * WG, end, base, thr_v, thr_i));
                pend |= select(0u, 128u << u, offer(v7, e0 + 7u * WG, end, base, thr_v, thr_i));
            }
        } else if live {
            // Steps of four loads issued together (indices clamped into the segment so the
            // loads need no branch), then four filters.
            for (var u = 0u; u < RPT; u += 4u) {
                let e0 = r0 + u * WG + lid;
                let e1 = e0 + WG;
                let e2 = e1 + WG;
                let e3 = e2 + WG;
                let last_e = end - 1u;
                let v0 = key(x[base + min(e0, last_e)]);
                let v1 = key(x[base + min(e1, last_e)]);
                let v2 = key(x[base + min(e2, last_e)]);
                let v3 = key(x[base + min(e3, last_e)]);
                pend |= select(0u, 1u << u, offer(v0, e0, end, base, thr_v, thr_i));
                pend |= select(0u, 2u << u, offer(v1, e1, end, base, thr_v, thr_i));
                pend |= select(0u, 4u << u, offer(v2, e2, end, base, thr_v, thr_i));
                pend |= select(0u, 8u << u, offer(v3, e3, end, base, thr_v, thr_i));
            }
        }
        // More offers than slots (a round may hold more elements than the buffer): merge the
        // full buffer, then offer the waiting elements again against the new threshold, until
        // every one found a slot or lost.
        var n = 0u;
        loop {
            workgroupBarrier();
            if lid == 0u {
                seen = atomicLoad(&count);
            }
            n = workgroupUniformLoad(&seen);
            if n <= CP {
                break;
            }
            merge(CP, lid);
            thr_v = best_v[p.k - 1u];
            thr_i = best_i[p.k - 1u];
            if before(bound, NONE, thr_v, thr_i) {
                thr_v = bound;
                thr_i = NONE;
            }
            var left = pend;
            pend = 0u;
            loop {
                if left == 0u {
                    break;
                }
                let b = firstTrailingBit(left);
                left &= left - 1u;
                let e = r0 + b * WG + lid;
                if offer(key(x[base + e]), e, end, base, thr_v, thr_i) {
                    pend |= 1u << b;
                }
            }
        }
        let last = r0 + WG * RPT >= end;
        // Merge when enough candidates wait, at the end, and as soon as k candidates exist
        // while there is no threshold yet (so filtering starts after one round).
        if n > merge_at || (last && n > 0u) || (thr_i == NONE && n >= p.k) {
            merge(n, lid);
            thr_v = best_v[p.k - 1u];
            thr_i = best_i[p.k - 1u];
            if before(bound, NONE, thr_v, thr_i) {
                thr_v = bound;
                thr_i = NONE;
            }
        }
    }
    if live {
        let out = ((p.row0 + row) * p.segs + seg) * p.k;
        for (var t = lid; t < p.k; t += WG) {
            out_v[out + t] = key(best_v[t]);
            out_i[out + t] = best_i[t];
        }
    }
}

// ---- topk_radix: rows of at most a few thousand columns with a large k ----
//
// One workgroup of 256 invocations per row (a row of the coarse step of an IVF search: 4 096
// centroids, k = nprobe = 64). The filter above fills its list from empty with bitonic sorts
// of up to CP candidates per round, which for such a row is most of the work; here the k-th
// key is found by radix selection instead. Keys are the values mapped to order-preserving u32
// (smallest first; LARGEST negates; -0 as +0; NaN above everything and never selected): four
// passes over the row, one byte at a time from the top, each a histogram of the keys that
// match the prefix so far and a workgroup scan that finds the byte where the k-th falls. Then
// the keys below the k-th are taken, and of those equal to it the ones with the smallest
// columns (a scan in column order), and the k taken are sorted by (key, column) with a
// bitonic sort of KP. Same order and ties as topk_select, same output layout (segs = 1).

var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> scan: array<u32, 256>;
var<workgroup> pick: vec2<u32>; // (byte of the k-th key, how many of its bucket to take)
var<workgroup> taken: atomic<u32>;
var<workgroup> rk: array<u32, KP>;
var<workgroup> ri: array<u32, KP>;

fn radix_key(v: f32) -> u32 {
    var f = v;
    if LARGEST == 1u {
        f = -v;
    }
    var b = bitcast<u32>(f);
    // NaN by its bits (drivers may fold `f != f` away).
    if (b & 0x7fffffffu) > 0x7f800000u {
        return 0xffffffffu;
    }
    if (b & 0x7fffffffu) == 0u {
        b = 0u;
    }
    if (b & 0x80000000u) != 0u {
        return ~b;
    }
    return b | 0x80000000u;
}

// Inclusive scan of scan[0..256) in place (256 invocations; Hillis-Steele).
fn scan256(lid: u32) {
    for (var off = 1u; off < 256u; off <<= 1u) {
        var add = 0u;
        if lid >= off {
            add = scan[lid - off];
        }
        workgroupBarrier();
        scan[lid] += add;
        workgroupBarrier();
    }
}

@compute @workgroup_size(256)
fn topk_radix(@builtin(workgroup_id) wid: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * p.wg_x;
    let live = row < p.rows;
    let r = min(row, p.rows - 1u);
    let base = r * p.cols;
    let n = p.cols;
    // The rank to find: k, or every key there is.
    var need = min(p.k, n);
    var prefix = 0u;
    var mask = 0u;
    for (var round = 0u; round < 4u; round++) {
        let shift = 24u - 8u * round;
        atomicStore(&hist[lid], 0u);
        workgroupBarrier();
        for (var i = lid; i < n; i += 256u) {
            let u = radix_key(x[base + i]);
            if (u & mask) == prefix {
                atomicAdd(&hist[(u >> shift) & 255u], 1u);
            }
        }
        workgroupBarrier();
        let h = atomicLoad(&hist[lid]);
        scan[lid] = h;
        workgroupBarrier();
        scan256(lid);
        // The byte whose bucket holds the need-th key: exclusive sum < need <= inclusive.
        let incl = scan[lid];
        if incl >= need && incl - h < need {
            pick = vec2<u32>(lid, need - (incl - h));
        }
        let got = workgroupUniformLoad(&pick);
        prefix |= got.x << shift;
        mask |= 255u << shift;
        need = got.y;
    }
    // prefix is the k-th key; take every key below it and the first `need` equal to it (in
    // column order), unless it is NaN's (fewer than k real keys: the rest is padding).
    let kth = prefix;
    let ties = select(need, 0u, kth == 0xffffffffu);
    if lid == 0u {
        atomicStore(&taken, 0u);
    }
    // Column chunks per invocation, in order, for the tie ranks.
    let chunk = (n + 255u) / 256u;
    let c0 = min(lid * chunk, n);
    let c1 = min(c0 + chunk, n);
    var eq = 0u;
    for (var i = c0; i < c1; i++) {
        if radix_key(x[base + i]) == kth {
            eq += 1u;
        }
    }
    scan[lid] = eq;
    workgroupBarrier();
    scan256(lid);
    var rank = scan[lid] - eq;
    for (var i = c0; i < c1; i++) {
        let u = radix_key(x[base + i]);
        var take = u < kth;
        if u == kth {
            take = rank < ties;
            rank += 1u;
        }
        if take {
            let s = atomicAdd(&taken, 1u);
            if s < KP {
                rk[s] = u;
                ri[s] = i;
            }
        }
    }
    workgroupBarrier();
    let m = min(atomicLoad(&taken), KP);
    for (var t = m + lid; t < KP; t += 256u) {
        rk[t] = 0xffffffffu;
        ri[t] = NONE;
    }
    workgroupBarrier();
    for (var size = 2u; size <= KP; size <<= 1u) {
        for (var stride = size >> 1u; stride > 0u; stride >>= 1u) {
            for (var t = lid; t < KP / 2u; t += 256u) {
                let i = 2u * t - (t & (stride - 1u));
                let j = i + stride;
                let up = (i & size) == 0u;
                let a = rk[i];
                let ai = ri[i];
                let b = rk[j];
                let bi = ri[j];
                if (b < a || (b == a && bi < ai)) == up {
                    rk[i] = b;
                    ri[i] = bi;
                    rk[j] = a;
                    ri[j] = ai;
                }
            }
            workgroupBarrier();
        }
    }
    if live {
        let out = (p.row0 + row) * p.k;
        for (var t = lid; t < p.k; t += 256u) {
            let id = ri[t];
            var v = key(pad_v());
            if id != NONE {
                v = x[base + id];
            }
            out_v[out + t] = v;
            out_i[out + t] = id;
        }
    }
}

// ---- topk_lists: rows of many short sorted lists (the segment merge) ----
//
// One workgroup per row of `segs` lists of `seg_len` (value, id) pairs, each sorted best
// first by (key, id) and padded with NONE ids; the best k of their union, sorted. The k-th
// best of any k real entries bounds the row's k-th, so the k-th best of the lists' first
// entries (their heads) is a bound, and only entries at or before it can be among the k best;
// a list is read until it passes the bound (lists are sorted). On the lists of a k-NN search
// (one query over 1M rows: 489 lists of 10) ~k entries pass. Heads and passing entries are
// held in the candidate buffer (at most CP) and ordered by its bitonic sort. Where more than
// CP pass (many equal keys), the k-th best of the CP held is the next bound, and the
// gathering repeats: each round passes at least CP - k fewer (ids are unique in a row).
// Same order, ties and output layout as topk_select; values come out as they went in.

var<workgroup> lshared: array<u32, 3>; // the count seen by all; the bound (key bits, id)

// The number of entries counted in `count`, the same in every invocation; resets `count`.
fn lists_count(lid: u32) -> u32 {
    workgroupBarrier();
    if lid == 0u {
        lshared[0] = atomicLoad(&count);
        atomicStore(&count, 0u);
    }
    return workgroupUniformLoad(&lshared[0]);
}

// Sorts the n <= CP held candidates (padded to a power of two, and up to k); ends with a
// barrier.
fn lists_sort(n: u32, lid: u32) {
    let len = 1u << (32u - countLeadingZeros(max(n, 2u) - 1u));
    for (var t = n + lid; t < max(len, p.k); t += WG) {
        cand_v[t] = pad_v();
        cand_i[t] = NONE;
    }
    workgroupBarrier();
    sort_candidates(len, lid);
}

@compute @workgroup_size(WG)
fn topk_lists(@builtin(workgroup_id) wid: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * p.wg_x;
    if row >= p.rows {
        return;
    }
    let base = row * p.cols;
    let len = p.seg_len;
    if lid == 0u {
        atomicStore(&count, 0u);
        // No bound yet: every real entry is at or before (+inf, NONE).
        lshared[1] = 0x7f800000u;
        lshared[2] = NONE;
    }
    workgroupBarrier();
    // The bound from the heads of the first CP lists.
    for (var s = lid; s < min(p.segs, CP); s += WG) {
        let id = in_ids[base + s * len];
        if id != NONE {
            let slot = atomicAdd(&count, 1u);
            cand_v[slot] = key(x[base + s * len]);
            cand_i[slot] = id;
        }
    }
    var held = lists_count(lid);
    if held >= p.k {
        lists_sort(held, lid);
        if lid == 0u {
            lshared[1] = bitcast<u32>(cand_v[p.k - 1u]);
            lshared[2] = cand_i[p.k - 1u];
        }
    }
    loop {
        let bv = bitcast<f32>(workgroupUniformLoad(&lshared[1]));
        let bi = workgroupUniformLoad(&lshared[2]);
        for (var s = lid; s < p.segs; s += WG) {
            for (var j = 0u; j < len; j++) {
                let id = in_ids[base + s * len + j];
                let v = key(x[base + s * len + j]);
                if id == NONE || before(bv, bi, v, id) {
                    break;
                }
                let slot = atomicAdd(&count, 1u);
                if slot < CP {
                    cand_v[slot] = v;
                    cand_i[slot] = id;
                }
            }
        }
        held = lists_count(lid);
        lists_sort(min(held, CP), lid);
        if held <= CP {
            break;
        }
        // Too many at or before the bound: the k-th best of those held is a lower one.
        if lid == 0u {
            lshared[1] = bitcast<u32>(cand_v[p.k - 1u]);
            lshared[2] = cand_i[p.k - 1u];
        }
    }
    // The first k held, padded past the last.
    let out = (p.row0 + row) * p.k;
    for (var t = lid; t < p.k; t += WG) {
        out_v[out + t] = key(cand_v[t]);
        out_i[out + t] = cand_i[t];
    }
}

// IVF search on the device: turns the coarse step's probes (query q probes list P[q * nprobe
// + p]) into the work items of the list-major scan (knn.wgsl with ITEMS = 1), without a round
// trip to the host. The lists may live in several arenas (storage buffers); each arena gets
// its own table of work items and its own scan dispatch, everything else is shared.
//
// regions[l] = (first row in its arena, rows, arena, first row over all arenas) per list.
//
// ivf_clear:   every gathered row empty (NONE), every list count and fill cursor zero.
// ivf_count:   counts[l] = number of (query, probe) pairs on list l (empty lists: none).
// ivf_items:   one workgroup: blocks of TM pairs per list (an exclusive scan over all lists),
//              and per (block, segment of at most seg_len list rows) a work item (rows
//              [start, end) in the list's arena, live rows | segment << 16, block) in the
//              table of the list's arena (items_cap entries per arena; an exclusive scan per
//              arena); entries past an arena's last item are empty. Lists with no pairs get
//              no item.
// ivf_scatter: each pair takes a row of its list's blocks (atomic cursor): the query to gather
//              into it and its pair index q * nprobe + p (it writes output lists
//              pair * segs + segment).
//
// The keys scan (knn.wgsl with STORE = 1) writes every (query, list row) value instead of
// selecting per item; these lay the values out and map the selection back:
// ivf_widths:       per query, the rows of its probed lists (ranges[2q + 1]).
// ivf_offsets:      one workgroup: each query's first key (ranges[2q]), an exclusive scan;
//                   the total in status[0].
// ivf_pair_offsets: per query, the first key of each of its pairs (pair_off[q * nprobe + p]),
//                   so a query's keys are one contiguous range, its probes in order (past
//                   the capacity: the spill area, and an empty range).
// ivf_positions:    per selected (query, place), the position in the query's range turned
//                   back into a row over all arenas (a binary search over the query's pair
//                   offsets).
//
// Rows inside a block are in arrival order, which varies run to run; each row's result
// depends only on its query and its list, so results do not.

override WG: u32 = 256u;
override TM: u32 = 64u;

const NONE: u32 = 0xffffffffu;

struct Params {
    pairs: u32,     // nq * nprobe
    nprobe: u32,
    nlist: u32,
    rows: u32,      // gathered rows allocated (items_cap * TM)
    items_cap: u32,
    wg_x: u32,
    seg_len: u32,   // list rows per item at most
    k: u32,         // results per query (ivf_positions)
    arenas: u32,    // item tables (one per arena, items_cap entries each)
    keys_cap: u32,  // keys scan: values that fit (a spill area of the longest list follows)
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> probes: array<u32>;
@group(0) @binding(2) var<storage, read> regions: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> counts: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> cursor: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> first_block: array<u32>;
@group(0) @binding(6) var<storage, read_write> items: array<vec4<u32>>;
@group(0) @binding(7) var<storage, read_write> idx: array<u32>;
@group(0) @binding(8) var<storage, read_write> slots: array<u32>;
@group(0) @binding(9) var<storage, read_write> ranges: array<u32>;
@group(0) @binding(10) var<storage, read_write> pair_off: array<u32>;
@group(0) @binding(11) var<storage, read> selected: array<u32>;
@group(0) @binding(12) var<storage, read_write> rows_out: array<u32>;
@group(0) @binding(13) var<storage, read_write> status: array<u32>;

fn global_id(wid: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * p.wg_x) * WG + lid;
}

// The rows of list l (0 for a probe past the lists).
fn list_len(l: u32) -> u32 {
    if l < p.nlist {
        return regions[l].y;
    }
    return 0u;
}

@compute @workgroup_size(WG)
fn ivf_clear(@builtin(workgroup_id) wid: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = global_id(wid, lid);
    if i < p.rows {
        idx[i] = NONE;
        slots[i] = 0u;
    }
    if i < p.nlist {
        atomicStore(&counts[i], 0u);
        atomicStore(&cursor[i], 0u);
    }
}

@compute @workgroup_size(WG)
fn ivf_count(@builtin(workgroup_id) wid: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = global_id(wid, lid);
    if i < p.pairs {
        let l = probes[i];
        if list_len(l) > 0u {
            atomicAdd(&counts[l], 1u);
        }
    }
}

fn list_segments(len: u32) -> u32 {
    return max(1u, (len + p.seg_len - 1u) / p.seg_len);
}

fn list_blocks(l: u32) -> u32 {
    return (atomicLoad(&counts[l]) + TM - 1u) / TM;
}

@compute @workgroup_size(WG)
fn ivf_items(@builtin(local_invocation_index) lid: u32) {
    // Each invocation owns a contiguous run of lists: their blocks (one scan over all lists),
    // then, arena by arena, their items (one scan per arena).
    let per = (p.nlist + WG - 1u) / WG;
    let l0 = min(lid * per, p.nlist);
    let l1 = min(l0 + per, p.nlist);
    var my_blocks = 0u;
    for (var l = l0; l < l1; l++) {
        my_blocks += list_blocks(l);
    }
    var block = workgroup_scan(lid, my_blocks).x;
    for (var l = l0; l < l1; l++) {
        first_block[l] = block;
        block += list_blocks(l);
    }
    for (var a = 0u; a < p.arenas; a++) {
        var mine = 0u;
        for (var l = l0; l < l1; l++) {
            if regions[l].z == a {
                mine += list_blocks(l) * list_segments(regions[l].y);
            }
        }
        let si = workgroup_scan(lid, mine);
        var item = si.x;
        let table = a * p.items_cap;
        for (var l = l0; l < l1; l++) {
            let r = regions[l];
            if r.z != a {
                continue;
            }
            let n = atomicLoad(&counts[l]);
            let segs = list_segments(r.y);
            let blocks = list_blocks(l);
            for (var b = 0u; b < blocks; b++) {
                for (var s = 0u; s < segs; s++) {
                    if item < p.items_cap {
                        let s0 = r.x + min(s * p.seg_len, r.y);
                        let s1 = r.x + min((s + 1u) * p.seg_len, r.y);
                        items[table + item] = vec4<u32>(s0, s1, min(TM, n - b * TM) | (s << 16u), first_block[l] + b);
                    }
                    item += 1u;
                }
            }
        }
        for (var i = si.y + lid; i < p.items_cap; i += WG) {
            items[table + i] = vec4<u32>(0u, 0u, 0u, 0u);
        }
    }
}

@compute @workgroup_size(WG)
fn ivf_scatter(@builtin(workgroup_id) wid: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = global_id(wid, lid);
    if i >= p.pairs {
        return;
    }
    let l = probes[i];
    if list_len(l) == 0u {
        return;
    }
    let pos = atomicAdd(&cursor[l], 1u);
    let row = first_block[l] * TM + pos;
    if row < p.rows {
        idx[row] = i / p.nprobe;
        slots[row] = i;
    }
}

@compute @workgroup_size(WG)
fn ivf_widths(@builtin(workgroup_id) wid: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let q = global_id(wid, lid);
    if q >= p.pairs / p.nprobe {
        return;
    }
    var w = 0u;
    for (var j = 0u; j < p.nprobe; j++) {
        w += list_len(probes[q * p.nprobe + j]);
    }
    ranges[2u * q + 1u] = w;
}

@compute @workgroup_size(WG)
fn ivf_offsets(@builtin(local_invocation_index) lid: u32) {
    let nq = p.pairs / p.nprobe;
    let per = (nq + WG - 1u) / WG;
    let q0 = min(lid * per, nq);
    let q1 = min(q0 + per, nq);
    var mine = 0u;
    for (var q = q0; q < q1; q++) {
        mine += ranges[2u * q + 1u];
    }
    let scan = workgroup_scan(lid, mine);
    var at = scan.x;
    for (var q = q0; q < q1; q++) {
        ranges[2u * q] = at;
        at += ranges[2u * q + 1u];
    }
    if lid == 0u {
        status[0] = scan.y;
    }
}

@compute @workgroup_size(WG)
fn ivf_pair_offsets(@builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let q = global_id(wid, lid);
    if q >= p.pairs / p.nprobe {
        return;
    }
    // A query whose keys end past the capacity spills: all its pairs write the spill area
    // (overwriting each other) and its range becomes empty; the host sees the total and
    // searches the batch again in halves.
    var at = ranges[2u * q];
    let fits = at + ranges[2u * q + 1u] <= p.keys_cap;
    for (var j = 0u; j < p.nprobe; j++) {
        let i = q * p.nprobe + j;
        pair_off[i] = select(p.keys_cap, at, fits);
        at += list_len(probes[i]);
    }
    if !fits {
        ranges[2u * q + 1u] = 0u;
    }
}

@compute @workgroup_size(WG)
fn ivf_positions(@builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let e = global_id(wid, lid);
    if e >= (p.pairs / p.nprobe) * p.k {
        return;
    }
    let pos = selected[e];
    if pos == NONE {
        rows_out[e] = NONE;
        return;
    }
    let q = e / p.k;
    let at = ranges[2u * q] + pos;
    // The last pair whose keys start at or before `at` holds it (empty pairs start where
    // the next one does, so they are passed over).
    var lo = 0u;
    var hi = p.nprobe;
    loop {
        if hi - lo <= 1u {
            break;
        }
        let mid = (lo + hi) / 2u;
        if pair_off[q * p.nprobe + mid] <= at {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let i = q * p.nprobe + lo;
    rows_out[e] = regions[probes[i]].w + (at - pair_off[i]);
}

// The f16 precision mode's helpers (ops/knn_half.rs). Each entry point uses its own bindings.
//
// to_half: an f32 matrix (rows x cols, row-major) rounded to f16 into a zero-padded
//   prows x pcols matrix (the operands of knn_half.wgsl).
// rerank: the exact f32 value of each (query, candidate) pair whose candidate lies in this
//   chunk of the base: squared L2 distance max(|x|^2 - 2 <q, x> + |q|^2, 0), the operations of
//   the exact kernels, or the inner product. With p.first set, pairs without a candidate (id
//   NONE) get the metric's worst value.
// rerank_select: per query (one workgroup of KC invocations), the k best of its KC re-ranked
//   candidates by (key, id), sorted, as (value, id).

enable f16;

override WG: u32 = 256u;
override KC: u32 = 64u;     // candidates per query (rerank_select's workgroup), <= WG
override METRIC: u32 = 0u;  // 0: L2 (smallest distance), 1: inner product (largest)

const NONE: u32 = 0xffffffffu;

struct Params {
    rows: u32,  // to_half: input rows; rerank: base rows in the chunk
    cols: u32,  // to_half: input columns; rerank/select: the dimension
    prows: u32, // to_half: padded rows; rerank/select: queries
    pcols: u32, // to_half: padded columns; rerank/select: candidates per query (kc)
    id0: u32,   // rerank: id of the chunk's first row; select: k
    first: u32, // rerank: 1 for the first chunk (fills pairs without a candidate)
    wg_x: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f16>;

@compute @workgroup_size(WG)
fn to_half(@builtin(workgroup_id) wid: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * p.wg_x) * WG + lid;
    if i >= p.prows * p.pcols {
        return;
    }
    let r = i / p.pcols;
    let c = i % p.pcols;
    var v = 0.0;
    if r < p.rows && c < p.cols {
        v = src[r * p.cols + c];
    }
    dst[i] = f16(v);
}

@group(0) @binding(3) var<storage, read> queries: array<f32>;
@group(0) @binding(4) var<storage, read> qnorm: array<f32>;
@group(0) @binding(5) var<storage, read> base: array<f32>;
@group(0) @binding(6) var<storage, read> xnorm: array<f32>;
@group(0) @binding(7) var<storage, read> cand: array<u32>;
@group(0) @binding(8) var<storage, read_write> exact: array<f32>;

// Each pair's dot product is summed by 32 invocations (invocation l takes elements l, l + 32,
// ...: one coalesced 128-byte read of the row per step), then folded in workgroup memory.
// One invocation per pair with eight sums took 26 us for 64 queries x 26 candidates on an
// H100: its dependent, scattered loads left the device idle.
const RR_LANES: u32 = 32u;
var<workgroup> rr_sum: array<f32, WG>;

@compute @workgroup_size(WG)
fn rerank(@builtin(workgroup_id) wid: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * p.wg_x) * (WG / RR_LANES) + lid / RR_LANES;
    let lane = lid % RR_LANES;
    let live = i < p.prows * p.pcols;
    var id = NONE;
    if live {
        id = cand[i];
    }
    let here = live && id != NONE && id >= p.id0 && id - p.id0 < p.rows;
    let d = p.cols;
    let qi = i / p.pcols;
    let row = id - p.id0;
    var acc = 0.0;
    if here {
        let qo = qi * d;
        let xo = row * d;
        for (var c = lane; c < d; c += RR_LANES) {
            acc = fma(queries[qo + c], base[xo + c], acc);
        }
    }
    rr_sum[lid] = acc;
    workgroupBarrier();
    for (var s = RR_LANES / 2u; s > 0u; s >>= 1u) {
        if lane < s {
            rr_sum[lid] += rr_sum[lid + s];
        }
        workgroupBarrier();
    }
    if lane != 0u {
        return;
    }
    if live && id == NONE {
        if p.first == 1u {
            exact[i] = select(bitcast<f32>(0x7f800000u), bitcast<f32>(0xff800000u), METRIC == 1u);
        }
    } else if here {
        let acc = rr_sum[lid];
        if METRIC == 0u {
            exact[i] = max(fma(-2.0, acc, xnorm[row]) + qnorm[qi], 0.0);
        } else {
            exact[i] = acc;
        }
    }
}

@group(0) @binding(9) var<storage, read_write> out_v: array<f32>;
@group(0) @binding(10) var<storage, read_write> out_i: array<u32>;
// The candidates' f16 values (as the lists hold them: L2 keys without the query's norm, inner
// products), and per query the last candidate's (+inf for L2, -inf for inner products where
// the list is not full: every vector is a candidate). A verified search compares it with the
// k-th exact value to prove that no vector outside the candidates can be among the k nearest.
@group(0) @binding(11) var<storage, read> cand_v: array<f32>;
@group(0) @binding(12) var<storage, read_write> last_v: array<f32>;

var<workgroup> sel_k: array<f32, KC>;
var<workgroup> sel_i: array<u32, KC>;

@compute @workgroup_size(KC)
fn rerank_select(@builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let qi = wid.x + wid.y * p.wg_x;
    let kc = p.pcols;
    let k = p.id0;
    let live = qi < p.prows && lid < kc;
    var key = bitcast<f32>(0x7f800000u);
    var id = NONE;
    var v = 0.0;
    if live {
        v = exact[qi * kc + lid];
        id = cand[qi * kc + lid];
        key = select(v, -v, METRIC == 1u);
        if id == NONE || key != key {
            key = bitcast<f32>(0x7f800000u);
        }
    }
    sel_k[lid] = key;
    sel_i[lid] = id;
    if live && lid == kc - 1u {
        let none = select(bitcast<f32>(0x7f800000u), bitcast<f32>(0xff800000u), METRIC == 1u);
        last_v[qi] = select(cand_v[qi * kc + lid], none, id == NONE);
    }
    workgroupBarrier();
    if !live {
        return;
    }
    // Rank in (key, id, position) order: ids are distinct rows, padding (NONE) last.
    var rank = 0u;
    for (var j = 0u; j < kc; j++) {
        let kj = sel_k[j];
        let ij = sel_i[j];
        if kj < key || (kj == key && (ij < id || (ij == id && j < lid))) {
            rank += 1u;
        }
    }
    if rank < k {
        out_v[qi * k + rank] = select(v, select(bitcast<f32>(0x7f800000u), bitcast<f32>(0xff800000u), METRIC == 1u), id == NONE);
        out_i[qi * k + rank] = id;
    }
}

// Reductions over f32: sum, max, min, with the position of the extreme (argmax, argmin).
//
// Three entry points share one per-workgroup combine, `wg_reduce`, which comes from one of two
// parts appended to this file: reduce_shared.wgsl (shared-memory tree) or reduce_subgroup.wgsl
// (subgroup operations, any subgroup size).
//
// - reduce_partial: first pass over one storage binding of a long array, read as vec4 with a
//   grid stride. Workgroup w writes one candidate (value, index in the chunk) to
//   out_v/out_i[out_offset + w].
// - reduce_chunk: reduces one chunk's partials to one candidate; ties by index in the chunk.
// - reduce_pairs: reduces the chunks' candidates to one, kept in out_*[out_offset] with its
//   position; ties go to the smaller position (chunks are in data order), so the winner is
//   the first occurrence.
// - reduce_rows / reduce_rows4: one workgroup per row of a rows x cols row-major block
//   (reduce_rows4 when cols is a multiple of 4, reading vec4s).
//
// Ties between equal extremes go to the smaller index, so results match a CPU reference exactly.

override WG: u32 = 256u;
// 0 = sum, 1 = max, 2 = min.
override OP: u32 = 0u;

const NONE: u32 = 0xffffffffu;

struct Params {
    n: u32,          // elements (partial), candidates (chunk, pairs)
    out_offset: u32, // first output slot
    stride: u32,     // invocations in the dispatch (partial)
    rows: u32,       // rows in this block (rows)
    cols: u32,       // columns (rows)
    wg_x: u32,       // workgroups along x in the dispatch grid
    in_offset: u32,  // first candidate (chunk)
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> xs: array<f32>;
@group(0) @binding(3) var<storage, read> in_i: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_v: array<f32>;
@group(0) @binding(5) var<storage, read_write> out_i: array<u32>;
@group(0) @binding(6) var<storage, read_write> out_pos: array<u32>;

struct Cand {
    v: f32,
    i: u32, // position in the pass's input
}

fn identity() -> Cand {
    switch OP {
        case 1u: { return Cand(bitcast<f32>(0xff800000u), NONE); } // -inf
        case 2u: { return Cand(bitcast<f32>(0x7f800000u), NONE); } // +inf
        default: { return Cand(0.0, NONE); }
    }
}

// b wins over a?
fn better(a: Cand, b: Cand) -> bool {
    switch OP {
        case 1u: { return b.v > a.v || (b.v == a.v && b.i < a.i); }
        case 2u: { return b.v < a.v || (b.v == a.v && b.i < a.i); }
        default: { return false; }
    }
}

fn combine(a: Cand, b: Cand) -> Cand {
    if OP == 0u {
        return Cand(a.v + b.v, min(a.i, b.i));
    }
    if better(a, b) {
        return b;
    }
    return a;
}

fn group_index(wid: vec3<u32>) -> u32 {
    return wid.x + wid.y * p.wg_x;
}

// Is lane-wise v better than the best so far (or is there no best yet)?
fn better4(best: vec4<f32>, idx: vec4<u32>, v: vec4<f32>) -> vec4<bool> {
    let none = idx == vec4<u32>(NONE);
    if OP == 2u {
        return (v < best) | none;
    }
    return (v > best) | none;
}

fn lane_cand(v: f32, k: u32, j: u32, origin: u32) -> Cand {
    if k == NONE {
        return identity();
    }
    return Cand(v, 4u * k + j - origin);
}

// Accumulates the vec4s first, first + stride, ... below end of x4 (all lanes valid),
// lane-wise and branch-free: sums in vec4 registers, extremes with their vec4 number per lane
// (strict comparison keeps the first). Lane j of vec4 k has index 4k + j - origin. Two
// accumulators keep two loads in flight per invocation.
fn acc_vec4(first: u32, end: u32, stride: u32, origin: u32) -> Cand {
    var s0 = vec4<f32>(0.0);
    var s1 = vec4<f32>(0.0);
    let id = identity();
    var b0 = vec4<f32>(id.v);
    var b1 = vec4<f32>(id.v);
    var i0 = vec4<u32>(NONE);
    var i1 = vec4<u32>(NONE);
    var k = first;
    for (; k + stride < end; k += 2u * stride) {
        let a = x4[k];
        let b = x4[k + stride];
        if OP == 0u {
            s0 += a;
            s1 += b;
        } else {
            let ga = better4(b0, i0, a);
            b0 = select(b0, a, ga);
            i0 = select(i0, vec4<u32>(k), ga);
            let gb = better4(b1, i1, b);
            b1 = select(b1, b, gb);
            i1 = select(i1, vec4<u32>(k + stride), gb);
        }
    }
    if k < end {
        let a = x4[k];
        if OP == 0u {
            s0 += a;
        } else {
            let ga = better4(b0, i0, a);
            b0 = select(b0, a, ga);
            i0 = select(i0, vec4<u32>(k), ga);
        }
    }
    if OP == 0u {
        let s = s0 + s1;
        return Cand((s.x + s.y) + (s.z + s.w), 0u);
    }
    var c = identity();
    for (var j = 0u; j < 4u; j++) {
        c = combine(c, lane_cand(b0[j], i0[j], j, origin));
        c = combine(c, lane_cand(b1[j], i1[j], j, origin));
    }
    return c;
}

// The lanes of vec4 number k that are below n, combined in index order.
fn fold4(k: u32) -> Cand {
    let v = x4[k];
    let base = 4u * k;
    var c = identity();
    for (var j = 0u; j < 4u; j++) {
        if base + j < p.n {
            c = combine(c, Cand(v[j], base + j));
        }
    }
    return c;
}

@compute @workgroup_size(WG)
fn reduce_partial(@builtin(workgroup_id) wid: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let w = group_index(wid);
    let n4 = (p.n + 3u) / 4u;
    let full = p.n / 4u; // vec4s whose four lanes are all inside the array
    // Grid-stride: all workgroups sweep the array together, as a streaming read does.
    var acc = acc_vec4(w * WG + lid, full, p.stride, 0u);
    // The partial last vec4, if any, goes to the first invocation.
    if w == 0u && lid == 0u && full < n4 {
        acc = combine(acc, fold4(full));
    }
    let r = wg_reduce(acc, lid);
    if lid == 0u {
        out_v[p.out_offset + w] = r.v;
        out_i[p.out_offset + w] = r.i;
    }
}

// Reduces one chunk's partials (value, index in the chunk) to one; ties by index.
@compute @workgroup_size(WG)
fn reduce_chunk(@builtin(local_invocation_index) lid: u32) {
    var acc = identity();
    for (var k = p.in_offset + lid; k < p.in_offset + p.n; k += WG) {
        acc = combine(acc, Cand(xs[k], in_i[k]));
    }
    let r = wg_reduce(acc, lid);
    if lid == 0u {
        out_v[p.out_offset] = r.v;
        out_i[p.out_offset] = r.i;
    }
}

@compute @workgroup_size(WG)
fn reduce_pairs(@builtin(local_invocation_index) lid: u32) {
    var acc = identity();
    for (var k = lid; k < p.n; k += WG) {
        acc = combine(acc, Cand(xs[k], k));
    }
    let r = wg_reduce(acc, lid);
    if lid == 0u {
        out_v[p.out_offset] = r.v;
        if r.i == NONE {
            out_i[p.out_offset] = NONE;
        } else {
            out_i[p.out_offset] = in_i[r.i];
        }
        out_pos[p.out_offset] = r.i;
    }
}

// One workgroup per row, any number of columns: scalar loads, four in flight per invocation.
@compute @workgroup_size(WG)
fn reduce_rows(@builtin(workgroup_id) wid: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let row = group_index(wid);
    // Rows past the end still take part in the workgroup's barriers, then write nothing.
    let live = row < p.rows;
    var acc = identity();
    if live {
        let base = row * p.cols;
        var c = lid;
        for (; c + 3u * WG < p.cols; c += 4u * WG) {
            let a0 = xs[base + c];
            let a1 = xs[base + c + WG];
            let a2 = xs[base + c + 2u * WG];
            let a3 = xs[base + c + 3u * WG];
            acc = combine(acc, Cand(a0, c));
            acc = combine(acc, Cand(a1, c + WG));
            acc = combine(acc, Cand(a2, c + 2u * WG));
            acc = combine(acc, Cand(a3, c + 3u * WG));
        }
        for (; c < p.cols; c += WG) {
            acc = combine(acc, Cand(xs[base + c], c));
        }
    }
    let r = wg_reduce(acc, lid);
    if lid == 0u && live {
        out_v[p.out_offset + row] = r.v;
        out_i[p.out_offset + row] = r.i;
    }
}

// One workgroup per row when cols is a multiple of 4: vec4 loads, lane-wise accumulation.
@compute @workgroup_size(WG)
fn reduce_rows4(@builtin(workgroup_id) wid: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let row = group_index(wid);
    let live = row < p.rows;
    var acc = identity();
    if live {
        let c4 = p.cols / 4u;
        acc = acc_vec4(row * c4 + lid, (row + 1u) * c4, WG, row * p.cols);
    }
    let r = wg_reduce(acc, lid);
    if lid == 0u && live {
        out_v[p.out_offset + row] = r.v;
        out_i[p.out_offset + row] = r.i;
    }
}

// Shared by the f16 templates (knn_half.wgsl, half_keys.wgsl; ops/knn_half.rs appends it): the
// uniform parameters (`ops::knn::Params`) and a workgroup's place in the grid.

struct Params {
    m: u32,          // queries in this dispatch
    n: u32,          // base vectors in this chunk
    k: u32,          // padded dimension (multiple of 16): the row stride of A and B
    lda: u32,
    ldb: u32,
    seg_len: u32,    // base vectors per segment (a multiple of 32)
    segs: u32,       // segments in this chunk
    seg0: u32,       // fused kernel: global index of this chunk's first segment
    total_segs: u32, // fused kernel: segments per query over all chunks
    id0: u32,        // fused kernel: id of this chunk's first vector
    topk: u32,       // fused kernel: k' (list length, <= KB)
    wg_x: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// Workgroup `wid`'s segment `seg` (base rows [start, end)) and its block of 32 S queries from
// m0. Query blocks vary fastest: the workgroups of one segment run together and share its
// rows in the cache. Past the last segment (grid padding) the range is empty.
struct Place {
    seg: u32,
    m0: u32,
    start: u32,
    end: u32,
}

fn place(wid: vec3<u32>) -> Place {
    let g = wid.x + wid.y * p.wg_x;
    let tm = 32u * S;
    let blocks = (p.m + tm - 1u) / tm;
    let seg = g / blocks;
    let start = min(seg, p.segs) * p.seg_len;
    return Place(seg, (g % blocks) * tm, start, min(p.n, start + p.seg_len));
}

// f16 key tiles: the f16 search's candidates for mid-size batches, unfused. Each workgroup
// computes the keys of its queries against one range of base rows and writes them to a tile
// in device memory (`keys`, queries x base rows, row stride p.n); the top-k kernel then
// selects each query's k' candidates from the tile (ops/knn_half.rs, `HalfTiles`). The fused
// kernel (knn_half.wgsl) fills a private list per (query, segment) instead, and with the few
// workgroups of a small batch, short segments each fill their lists from empty, one serial
// insertion after another: the tile costs a write and a read of the keys but no list at all.
//
// The products are knn_half.wgsl's (the same generated @PRODUCT parts: teams of 32 queries,
// steps of 32 base rows, 32 x 32 blocks of f16 inner products accumulated in f32, stored
// column-major into the team's block of `ct`), so the keys are the values the fused kernel
// would compare: L2 `fma(-2, <q, x>, |x|^2)` (without the query's own norm), inner product
// `<q, x>` (selected largest first). Not staged: each team loads its fragments of the step's
// rows (the teams of a workgroup share them in the cache).
//
// The block's column stride is 36 floats (a multiple of 16 bytes for the cooperative stores).
// Writing it out, invocation l of a team handles column l and, in turn t, row (t + l / 8) % 32:
// the 32 reads of one turn fall in 32 different banks (4 l + t + l / 8 mod 32), and the writes
// are four rows of 8 consecutive keys (32-byte pieces).
//
// This file is a template: ops/knn_half.rs writes the `@...` lines for one variant.

// @ENABLE

override S: u32 = 1u;         // teams of 32 invocations (queries) per workgroup
override WG: u32 = 32u;       // 32 * S
override TSC: u32 = 36u;      // column stride of `ct`: 32 rows + 4
override METRIC: u32 = 0u;

// Params, p and place(): half_place.wgsl.
// @BINDINGS
@group(0) @binding(3) var<storage, read> xnorm: array<f32>;
@group(0) @binding(5) var<storage, read_write> keys: array<f32>;
// Per (query, workgroup range) its best key: the smallest L2 key, the largest inner product
// (`best[query * p.segs + range]`). The k'-th best of a query's range bests bounds its k'-th
// key (they are k' distinct keys), so the top-k pass offers only keys within it.
@group(0) @binding(6) var<storage, read_write> best: array<f32>;

// Team t's block: columns 32 t .. 32 t + 31 (the step's base rows), each TSC floats.
var<workgroup> ct: array<f32, 32u * S * TSC>;
// The squared norms of the step's 32 base rows (L2), per team.
var<workgroup> xs: array<f32, 32u * S>;

@compute @workgroup_size(WG)
fn half_keys(@builtin(workgroup_id) wid: vec3<u32>,
            @builtin(local_invocation_index) tid: u32
            // @BUILTINS
            ) {
    let at = place(wid);
    let seg = at.seg;
    let m0 = at.m0;
    let seg_start = at.start;
    let seg_end = at.end;
    // @TEAM
    let row = m0 + team * 32u + r;
    // @DECL
    // Query `row`'s best key over the range, smallest first (inner products negated; NaN keys
    // never count).
    var run = bitcast<f32>(0x7f800000u);
    for (var n0 = seg_start; n0 < seg_end; n0 += 32u) {
        // @STAGE
        let col = n0 + r;
        var xn = 0.0;
        if METRIC == 0u {
            xn = xnorm[min(col, p.n - 1u)];
            xs[team * 32u + r] = xn;
        }
        // @PRODUCT
        // @SYNC
        // Invocation r scans its query's row of the block (32 different banks per column),
        // then writes column r of the block (@SCAN, @WRITE: written out, every load before
        // its use; a loop waited on each load in turn).
        // @SCAN
        // @WRITE
        // @END
    }
    if row < p.m && seg < p.segs {
        best[row * p.segs + seg] = select(run, -run, METRIC == 1u);
    }
}

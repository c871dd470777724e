// C = alpha * op(A) * op(B) + beta * C, row-major f32; op(A) is M x K, op(B) is K x N.
//
// TRANS_A = 0: A is stored M x K (row stride lda); 1: A is stored K x M (A^T * B).
// TRANS_B = 0: B is stored K x N (row stride ldb); 1: B is stored N x K (A * B^T, distances).
//
// One workgroup computes a TM x TN tile of C, stepping through K in slices of TK that are
// staged in shared memory (k-major, rows padded by one vec4 against bank conflicts). Each of
// the (TM/RM) * (TN/RN) invocations keeps an RM x RN block of C in registers (RM, RN = 4 or 8);
// an 8-wide block is two 4-wide halves TM/2 (TN/2) apart, so that shared-memory reads are
// consecutive vec4s across the invocations of a subgroup. Edges off the tile grid read zeros
// and write nothing. With beta = 0, C is not read (NaN in C does not leak into the result).
//
// The generator adds `epilogue(row, col, v)`, applied to every value written: v itself, or for
// squared L2 distances (alpha = -2, beta = 0) max(v + colv[col] + rowv[row], 0) with the base
// and query norms (bindings 5, 6), the same sums in the same order as a separate pass. The
// best variant (distance tiles) also writes each row's smallest value of the workgroup's TN
// columns to best[row * p.best_ld + wid.x] (binding 7; the largest for inner products): a
// k-selection over the tile takes the k-th best of a row's tile extremes as a bound
// (ops/knn.rs, `TiledKnn`).
//
// Staging moves quads (4 consecutive values along the stored matrix's contiguous dimension):
// one vec4 load when that dimension is a multiple of 4 (VEC_A / VEC_B), else 4 guarded scalar
// loads. The next slice is loaded into registers while the current one is multiplied.
//
// This file is a template: ops/gemm.rs replaces the `@...` lines with straight-line code for
// one configuration, so the register block and the prefetch registers are named variables,
// never arrays indexed at run time (which drivers may put in local memory).

override TM: u32 = 64u;
override TN: u32 = 64u;
override TK: u32 = 16u;
override RM: u32 = 4u;
override RN: u32 = 4u;
override WG: u32 = 256u; // (TM / RM) * (TN / RN), set by the host

struct Params {
    m: u32,
    n: u32,
    k: u32,
    lda: u32,
    ldb: u32,
    ldc: u32,
    alpha: f32,
    beta: f32,
    // Split-K: workgroup z multiplies K columns [z * k_split, (z + 1) * k_split) and writes
    // its partial product at c[z * c_split + ...] (k_split = k, c_split = 0 without a split).
    k_split: u32,
    c_split: u32,
    // The best variant: column tiles per row of `best` (its row stride).
    best_ld: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// @BINDINGS
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

// Row strides of the shared tiles, in vec4s (one vec4 of padding).
const PAD4: u32 = 1u;
var<workgroup> As: array<vec4<f32>, (TM / 4u + PAD4) * TK>;
var<workgroup> Bs: array<vec4<f32>, (TN / 4u + PAD4) * TK>;

// Stored matrix element x[row][col] of an R x C matrix with row stride ld, zero outside
// (R or C is the end of this workgroup's K range, so a split reads only its own columns).
fn at_a(row: u32, col: u32, rows: u32, cols: u32) -> f32 {
    if row >= rows || col >= cols {
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

// Writes alpha * v (+ beta * C) to C[row][col0 .. col0 + 4] of split `z`, within bounds;
// returns the smallest of BEST_SIGN * the values written (+inf: none), which the best variant
// keeps per row (BEST_SIGN = -1: the largest value, negated).
fn store4(z: u32, row: u32, col0: u32, v: vec4<f32>) -> f32 {
    var least = bitcast<f32>(0x7f800000u);
    if row >= p.m {
        return least;
    }
    for (var j = 0u; j < 4u; j++) {
        let col = col0 + j;
        if col < p.n {
            let at = z * p.c_split + row * p.ldc + col;
            var out = p.alpha * v[j];
            if p.beta != 0.0 {
                out = fma(p.beta, c[at], out);
            }
            let e = epilogue(row, col, out);
            c[at] = e;
            least = min(least, BEST_SIGN * e);
        }
    }
    return least;
}

@compute @workgroup_size(WG)
fn gemm(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
    let m0 = wid.y * TM;
    let n0 = wid.x * TN;
    let threads_x = TN / RN;
    let tx = tid % threads_x;
    let ty = tid / threads_x;
    let sa = TM / 4u + PAD4;
    let sb = TN / 4u + PAD4;
    let k_lo = wid.z * p.k_split;
    let k_hi = min(p.k, k_lo + p.k_split);
    // @DECL
    {
        let kt = k_lo;
        // @LOAD
    }
    for (var k0 = k_lo; k0 < k_hi; k0 += TK) {
        // @STAGE
        workgroupBarrier();
        {
            let kt = k0 + TK;
            // @LOAD
        }
        for (var kk = 0u; kk < TK; kk++) {
            // @INNER
        }
        workgroupBarrier();
    }
    // @STORE
}

// Split-K epilogue: c = alpha * sum over splits of part + beta * c, elementwise.
@group(0) @binding(4) var<storage, read> part: array<f32>;

@compute @workgroup_size(256)
fn gemm_split_sum(@builtin(global_invocation_id) gid: vec3<u32>,
                  @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let total = p.m * p.n;
    if i >= total {
        return;
    }
    let splits = (p.k + p.k_split - 1u) / p.k_split;
    var s = 0.0;
    for (var z = 0u; z < splits; z++) {
        s += part[z * total + i];
    }
    var out = p.alpha * s;
    if p.beta != 0.0 {
        out = fma(p.beta, c[i], out);
    }
    c[i] = epilogue(i / p.n, i % p.n, out);
}

// f16 GEMM on tensor cores through cooperative matrices: C (f32) = op(A) * op(B), A and B f16.
//
// A is M x K row-major; B is K x N row-major (coop_gemm_nn) or N x K row-major (coop_gemm_nt,
// the A * B^T of distances). M and N are multiples of 32 and K of 16 (the host pads with
// zeros). Each subgroup computes a 32 x 32 block of C as 2 x 2 tiles of 16 x 16, stepping K by
// 16 with fragments loaded straight from device memory; f32 accumulation.

enable f16;
enable wgpu_cooperative_matrix;

override WG: u32 = 128u;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    lda: u32,
    ldb: u32,
    ldc: u32,
    wg_x: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f16>;
@group(0) @binding(2) var<storage, read> b: array<f16>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

// Two entry points (B row-major, B transposed) keep each loop straight-line: naga 30's SPIR-V
// writer failed on a helper that returned a cooperative matrix from a branch.
@compute @workgroup_size(WG)
fn coop_gemm_nn(@builtin(workgroup_id) wid: vec3<u32>,
                @builtin(subgroup_id) sg: u32,
                @builtin(num_subgroups) nsg: u32) {
    let blocks_n = p.n / 32u;
    // Cooperative operations need uniform control flow, so no subgroup leaves early: one past
    // the last block recomputes the last block and stores the same values again.
    let blk = min((wid.x + wid.y * p.wg_x) * nsg + sg, (p.m / 32u) * blocks_n - 1u);
    let m0 = (blk / blocks_n) * 32u;
    let n0 = (blk % blocks_n) * 32u;
    var c00 = coop_mat16x16<f32, C>();
    var c01 = coop_mat16x16<f32, C>();
    var c10 = coop_mat16x16<f32, C>();
    var c11 = coop_mat16x16<f32, C>();
    for (var k0 = 0u; k0 < p.k; k0 += 16u) {
        let a0 = coopLoadT<coop_mat16x16<f16, A>>(&a[m0 * p.lda + k0], p.lda);
        let a1 = coopLoadT<coop_mat16x16<f16, A>>(&a[(m0 + 16u) * p.lda + k0], p.lda);
        let b0 = coopLoadT<coop_mat16x16<f16, B>>(&b[k0 * p.ldb + n0], p.ldb);
        let b1 = coopLoadT<coop_mat16x16<f16, B>>(&b[k0 * p.ldb + n0 + 16u], p.ldb);
        c00 = coopMultiplyAdd(a0, b0, c00);
        c01 = coopMultiplyAdd(a0, b1, c01);
        c10 = coopMultiplyAdd(a1, b0, c10);
        c11 = coopMultiplyAdd(a1, b1, c11);
    }
    // naga 30 emits the arguments of coopStore after the store itself, so every argument is
    // computed into a `let` first (its SPIR-V writer panics otherwise).
    let ldc = p.ldc;
    let o00 = m0 * ldc + n0;
    let o01 = o00 + 16u;
    let o10 = o00 + 16u * ldc;
    let o11 = o10 + 16u;
    let r00 = c00;
    let r01 = c01;
    let r10 = c10;
    let r11 = c11;
    coopStoreT(r00, &c[o00], ldc);
    coopStoreT(r01, &c[o01], ldc);
    coopStoreT(r10, &c[o10], ldc);
    coopStoreT(r11, &c[o11], ldc);
}

@compute @workgroup_size(WG)
fn coop_gemm_nt(@builtin(workgroup_id) wid: vec3<u32>,
                @builtin(subgroup_id) sg: u32,
                @builtin(num_subgroups) nsg: u32) {
    let blocks_n = p.n / 32u;
    let blk = min((wid.x + wid.y * p.wg_x) * nsg + sg, (p.m / 32u) * blocks_n - 1u);
    let m0 = (blk / blocks_n) * 32u;
    let n0 = (blk % blocks_n) * 32u;
    var c00 = coop_mat16x16<f32, C>();
    var c01 = coop_mat16x16<f32, C>();
    var c10 = coop_mat16x16<f32, C>();
    var c11 = coop_mat16x16<f32, C>();
    for (var k0 = 0u; k0 < p.k; k0 += 16u) {
        let a0 = coopLoadT<coop_mat16x16<f16, A>>(&a[m0 * p.lda + k0], p.lda);
        let a1 = coopLoadT<coop_mat16x16<f16, A>>(&a[(m0 + 16u) * p.lda + k0], p.lda);
        // B stored N x K row-major is K x N column-major.
        let b0 = coopLoad<coop_mat16x16<f16, B>>(&b[n0 * p.ldb + k0], p.ldb);
        let b1 = coopLoad<coop_mat16x16<f16, B>>(&b[(n0 + 16u) * p.ldb + k0], p.ldb);
        c00 = coopMultiplyAdd(a0, b0, c00);
        c01 = coopMultiplyAdd(a0, b1, c01);
        c10 = coopMultiplyAdd(a1, b0, c10);
        c11 = coopMultiplyAdd(a1, b1, c11);
    }
    // naga 30 emits the arguments of coopStore after the store itself, so every argument is
    // computed into a `let` first (its SPIR-V writer panics otherwise).
    let ldc = p.ldc;
    let o00 = m0 * ldc + n0;
    let o01 = o00 + 16u;
    let o10 = o00 + 16u * ldc;
    let o11 = o10 + 16u;
    let r00 = c00;
    let r01 = c01;
    let r10 = c10;
    let r11 = c11;
    coopStoreT(r00, &c[o00], ldc);
    coopStoreT(r01, &c[o01], ldc);
    coopStoreT(r10, &c[o10], ldc);
    coopStoreT(r11, &c[o11], ldc);
}

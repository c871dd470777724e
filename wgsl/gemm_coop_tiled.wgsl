// f16 GEMM on tensor cores with workgroup-memory staging: C (f32) = A * op(B).
//
// A is M x K row-major f16, B is K x N (tiled_nn) or N x K (tiled_nt) row-major f16; M and N
// are multiples of 128, K of 32 (the host pads). A workgroup of 256 invocations (8 subgroups
// of 32: the host uses this kernel only where subgroups are exactly 32 wide) computes a
// 128 x 128 tile of C. Each K step stages a 128 x 32 slice of A and of B in workgroup memory
// with vec4<f16> loads; subgroup sg multiplies a 64 x 32 block (4 x 2 fragments) from there.
// The register block is written out: 8 named accumulators (no arrays indexed at run time).

enable f16;
enable wgpu_cooperative_matrix;

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
@group(0) @binding(1) var<storage, read> a4: array<vec4<f16>>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f16>>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

var<workgroup> As: array<f16, 4096>;
var<workgroup> Bs: array<f16, 4096>;

@compute @workgroup_size(256)
fn coop_tiled_nn(@builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_id) sg: u32) {
    let m0 = wid.y * 128u;
    let n0 = wid.x * 128u;
    // Subgroup sg owns rows sr*64 .. +64 and columns sc*32 .. +32 of the tile.
    let sr = sg / 4u;
    let sc = sg % 4u;
    var c00 = coop_mat16x16<f32, C>();
    var c01 = coop_mat16x16<f32, C>();
    var c10 = coop_mat16x16<f32, C>();
    var c11 = coop_mat16x16<f32, C>();
    var c20 = coop_mat16x16<f32, C>();
    var c21 = coop_mat16x16<f32, C>();
    var c30 = coop_mat16x16<f32, C>();
    var c31 = coop_mat16x16<f32, C>();
    let lda4 = p.lda / 4u;
    let ldb4 = p.ldb / 4u;
    for (var k0 = 0u; k0 < p.k; k0 += 32u) {
        // Stage A[m0.., k0..k0+32] as [m][k] and B as [k][n] (nn) or [n][k] (nt):
        // 1024 vec4<f16> each, four per invocation.
        for (var q = lid; q < 1024u; q += 256u) {
            let r = q / 8u;
            let c4 = q % 8u;
            let v = a4[(m0 + r) * lda4 + k0 / 4u + c4];
            let at = r * 32u + c4 * 4u;
            As[at] = v.x;
            As[at + 1u] = v.y;
            As[at + 2u] = v.z;
            As[at + 3u] = v.w;
            let rb = q / 32u;
            let cb = q % 32u;
            let w = b4[(k0 + rb) * ldb4 + n0 / 4u + cb];
            let bt = rb * 128u + cb * 4u;
            Bs[bt] = w.x;
            Bs[bt + 1u] = w.y;
            Bs[bt + 2u] = w.z;
            Bs[bt + 3u] = w.w;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 32u; kk += 16u) {
            let a0 = coopLoadT<coop_mat16x16<f16, A>>(&As[(sr * 64u + 0u) * 32u + kk], 32u);
            let a1 = coopLoadT<coop_mat16x16<f16, A>>(&As[(sr * 64u + 16u) * 32u + kk], 32u);
            let a2 = coopLoadT<coop_mat16x16<f16, A>>(&As[(sr * 64u + 32u) * 32u + kk], 32u);
            let a3 = coopLoadT<coop_mat16x16<f16, A>>(&As[(sr * 64u + 48u) * 32u + kk], 32u);
            let b0 = coopLoadT<coop_mat16x16<f16, B>>(&Bs[kk * 128u + sc * 32u + 0u], 128u);
            let b1 = coopLoadT<coop_mat16x16<f16, B>>(&Bs[kk * 128u + sc * 32u + 16u], 128u);
            c00 = coopMultiplyAdd(a0, b0, c00);
            c01 = coopMultiplyAdd(a0, b1, c01);
            c10 = coopMultiplyAdd(a1, b0, c10);
            c11 = coopMultiplyAdd(a1, b1, c11);
            c20 = coopMultiplyAdd(a2, b0, c20);
            c21 = coopMultiplyAdd(a2, b1, c21);
            c30 = coopMultiplyAdd(a3, b0, c30);
            c31 = coopMultiplyAdd(a3, b1, c31);
        }
        workgroupBarrier();
    }
    // Store arguments are let-bound first (naga 30 SPIR-V writer, see above).
    let ldc = p.ldc;
    let o00 = (m0 + sr * 64u + 0u) * ldc + n0 + sc * 32u + 0u;
    let r00 = c00;
    coopStoreT(r00, &c[o00], ldc);
    let o01 = (m0 + sr * 64u + 0u) * ldc + n0 + sc * 32u + 16u;
    let r01 = c01;
    coopStoreT(r01, &c[o01], ldc);
    let o10 = (m0 + sr * 64u + 16u) * ldc + n0 + sc * 32u + 0u;
    let r10 = c10;
    coopStoreT(r10, &c[o10], ldc);
    let o11 = (m0 + sr * 64u + 16u) * ldc + n0 + sc * 32u + 16u;
    let r11 = c11;
    coopStoreT(r11, &c[o11], ldc);
    let o20 = (m0 + sr * 64u + 32u) * ldc + n0 + sc * 32u + 0u;
    let r20 = c20;
    coopStoreT(r20, &c[o20], ldc);
    let o21 = (m0 + sr * 64u + 32u) * ldc + n0 + sc * 32u + 16u;
    let r21 = c21;
    coopStoreT(r21, &c[o21], ldc);
    let o30 = (m0 + sr * 64u + 48u) * ldc + n0 + sc * 32u + 0u;
    let r30 = c30;
    coopStoreT(r30, &c[o30], ldc);
    let o31 = (m0 + sr * 64u + 48u) * ldc + n0 + sc * 32u + 16u;
    let r31 = c31;
    coopStoreT(r31, &c[o31], ldc);
}

@compute @workgroup_size(256)
fn coop_tiled_nt(@builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_id) sg: u32) {
    let m0 = wid.y * 128u;
    let n0 = wid.x * 128u;
    // Subgroup sg owns rows sr*64 .. +64 and columns sc*32 .. +32 of the tile.
    let sr = sg / 4u;
    let sc = sg % 4u;
    var c00 = coop_mat16x16<f32, C>();
    var c01 = coop_mat16x16<f32, C>();
    var c10 = coop_mat16x16<f32, C>();
    var c11 = coop_mat16x16<f32, C>();
    var c20 = coop_mat16x16<f32, C>();
    var c21 = coop_mat16x16<f32, C>();
    var c30 = coop_mat16x16<f32, C>();
    var c31 = coop_mat16x16<f32, C>();
    let lda4 = p.lda / 4u;
    let ldb4 = p.ldb / 4u;
    for (var k0 = 0u; k0 < p.k; k0 += 32u) {
        // Stage A[m0.., k0..k0+32] as [m][k] and B as [k][n] (nn) or [n][k] (nt):
        // 1024 vec4<f16> each, four per invocation.
        for (var q = lid; q < 1024u; q += 256u) {
            let r = q / 8u;
            let c4 = q % 8u;
            let v = a4[(m0 + r) * lda4 + k0 / 4u + c4];
            let at = r * 32u + c4 * 4u;
            As[at] = v.x;
            As[at + 1u] = v.y;
            As[at + 2u] = v.z;
            As[at + 3u] = v.w;
            let w = b4[(n0 + r) * ldb4 + k0 / 4u + c4];
            Bs[at] = w.x;
            Bs[at + 1u] = w.y;
            Bs[at + 2u] = w.z;
            Bs[at + 3u] = w.w;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 32u; kk += 16u) {
            let a0 = coopLoadT<coop_mat16x16<f16, A>>(&As[(sr * 64u + 0u) * 32u + kk], 32u);
            let a1 = coopLoadT<coop_mat16x16<f16, A>>(&As[(sr * 64u + 16u) * 32u + kk], 32u);
            let a2 = coopLoadT<coop_mat16x16<f16, A>>(&As[(sr * 64u + 32u) * 32u + kk], 32u);
            let a3 = coopLoadT<coop_mat16x16<f16, A>>(&As[(sr * 64u + 48u) * 32u + kk], 32u);
            let b0 = coopLoad<coop_mat16x16<f16, B>>(&Bs[(sc * 32u + 0u) * 32u + kk], 32u);
            let b1 = coopLoad<coop_mat16x16<f16, B>>(&Bs[(sc * 32u + 16u) * 32u + kk], 32u);
            c00 = coopMultiplyAdd(a0, b0, c00);
            c01 = coopMultiplyAdd(a0, b1, c01);
            c10 = coopMultiplyAdd(a1, b0, c10);
            c11 = coopMultiplyAdd(a1, b1, c11);
            c20 = coopMultiplyAdd(a2, b0, c20);
            c21 = coopMultiplyAdd(a2, b1, c21);
            c30 = coopMultiplyAdd(a3, b0, c30);
            c31 = coopMultiplyAdd(a3, b1, c31);
        }
        workgroupBarrier();
    }
    // Store arguments are let-bound first (naga 30 SPIR-V writer, see above).
    let ldc = p.ldc;
    let o00 = (m0 + sr * 64u + 0u) * ldc + n0 + sc * 32u + 0u;
    let r00 = c00;
    coopStoreT(r00, &c[o00], ldc);
    let o01 = (m0 + sr * 64u + 0u) * ldc + n0 + sc * 32u + 16u;
    let r01 = c01;
    coopStoreT(r01, &c[o01], ldc);
    let o10 = (m0 + sr * 64u + 16u) * ldc + n0 + sc * 32u + 0u;
    let r10 = c10;
    coopStoreT(r10, &c[o10], ldc);
    let o11 = (m0 + sr * 64u + 16u) * ldc + n0 + sc * 32u + 16u;
    let r11 = c11;
    coopStoreT(r11, &c[o11], ldc);
    let o20 = (m0 + sr * 64u + 32u) * ldc + n0 + sc * 32u + 0u;
    let r20 = c20;
    coopStoreT(r20, &c[o20], ldc);
    let o21 = (m0 + sr * 64u + 32u) * ldc + n0 + sc * 32u + 16u;
    let r21 = c21;
    coopStoreT(r21, &c[o21], ldc);
    let o30 = (m0 + sr * 64u + 48u) * ldc + n0 + sc * 32u + 0u;
    let r30 = c30;
    coopStoreT(r30, &c[o30], ldc);
    let o31 = (m0 + sr * 64u + 48u) * ldc + n0 + sc * 32u + 16u;
    let r31 = c31;
    coopStoreT(r31, &c[o31], ldc);
}

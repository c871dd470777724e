// f16 GEMM on tensor cores with workgroup-memory staging: C (f32) = A * op(B).
//
// A is M x K row-major f16, B is K x N (tiled_nn) or N x K (tiled_nt) row-major f16; M and N
// are multiples of 128, K of 32 (the host pads). A workgroup of 256 invocations (8 subgroups
// of 32: the host uses this kernel only where subgroups are exactly 32 wide) computes a
// 128 x 128 tile of C. Each K step stages a 128 x 32 slice of A and of B in workgroup memory
// with vec4<f16> loads; subgroup sg multiplies a 64 x 32 block (4 x 2 fragments) from there.
// The next K slice is loaded into registers while the current one is multiplied.
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
    // Next K slice in registers: four vec4<f16> of A and four of B per invocation.
    var pa0: vec4<f16>;
    var pb0: vec4<f16>;
    var pa1: vec4<f16>;
    var pb1: vec4<f16>;
    var pa2: vec4<f16>;
    var pb2: vec4<f16>;
    var pa3: vec4<f16>;
    var pb3: vec4<f16>;
    pa0 = a4[(m0 + (lid + 0u) / 8u) * lda4 + (0u) / 4u + (lid + 0u) % 8u];
    pb0 = b4[((0u) + (lid + 0u) / 32u) * ldb4 + n0 / 4u + (lid + 0u) % 32u];
    pa1 = a4[(m0 + (lid + 256u) / 8u) * lda4 + (0u) / 4u + (lid + 256u) % 8u];
    pb1 = b4[((0u) + (lid + 256u) / 32u) * ldb4 + n0 / 4u + (lid + 256u) % 32u];
    pa2 = a4[(m0 + (lid + 512u) / 8u) * lda4 + (0u) / 4u + (lid + 512u) % 8u];
    pb2 = b4[((0u) + (lid + 512u) / 32u) * ldb4 + n0 / 4u + (lid + 512u) % 32u];
    pa3 = a4[(m0 + (lid + 768u) / 8u) * lda4 + (0u) / 4u + (lid + 768u) % 8u];
    pb3 = b4[((0u) + (lid + 768u) / 32u) * ldb4 + n0 / 4u + (lid + 768u) % 32u];
    for (var k0 = 0u; k0 < p.k; k0 += 32u) {
        // A as [m][k], B as [k][n] (nn) or [n][k] (nt), 128 x 32 halves each.
        {
            let at = ((lid + 0u) / 8u) * 32u + ((lid + 0u) % 8u) * 4u;
            As[at + 0u] = pa0.x;
            As[at + 1u] = pa0.y;
            As[at + 2u] = pa0.z;
            As[at + 3u] = pa0.w;
            let bt = ((lid + 0u) / 32u) * 128u + ((lid + 0u) % 32u) * 4u;
            Bs[bt + 0u] = pb0.x;
            Bs[bt + 1u] = pb0.y;
            Bs[bt + 2u] = pb0.z;
            Bs[bt + 3u] = pb0.w;
        }
        {
            let at = ((lid + 256u) / 8u) * 32u + ((lid + 256u) % 8u) * 4u;
            As[at + 0u] = pa1.x;
            As[at + 1u] = pa1.y;
            As[at + 2u] = pa1.z;
            As[at + 3u] = pa1.w;
            let bt = ((lid + 256u) / 32u) * 128u + ((lid + 256u) % 32u) * 4u;
            Bs[bt + 0u] = pb1.x;
            Bs[bt + 1u] = pb1.y;
            Bs[bt + 2u] = pb1.z;
            Bs[bt + 3u] = pb1.w;
        }
        {
            let at = ((lid + 512u) / 8u) * 32u + ((lid + 512u) % 8u) * 4u;
            As[at + 0u] = pa2.x;
            As[at + 1u] = pa2.y;
            As[at + 2u] = pa2.z;
            As[at + 3u] = pa2.w;
            let bt = ((lid + 512u) / 32u) * 128u + ((lid + 512u) % 32u) * 4u;
            Bs[bt + 0u] = pb2.x;
            Bs[bt + 1u] = pb2.y;
            Bs[bt + 2u] = pb2.z;
            Bs[bt + 3u] = pb2.w;
        }
        {
            let at = ((lid + 768u) / 8u) * 32u + ((lid + 768u) % 8u) * 4u;
            As[at + 0u] = pa3.x;
            As[at + 1u] = pa3.y;
            As[at + 2u] = pa3.z;
            As[at + 3u] = pa3.w;
            let bt = ((lid + 768u) / 32u) * 128u + ((lid + 768u) % 32u) * 4u;
            Bs[bt + 0u] = pb3.x;
            Bs[bt + 1u] = pb3.y;
            Bs[bt + 2u] = pb3.z;
            Bs[bt + 3u] = pb3.w;
        }
        workgroupBarrier();
        // Load the next slice while this one is multiplied.
        if k0 + 32u < p.k {
            pa0 = a4[(m0 + (lid + 0u) / 8u) * lda4 + (k0 + 32u) / 4u + (lid + 0u) % 8u];
            pb0 = b4[((k0 + 32u) + (lid + 0u) / 32u) * ldb4 + n0 / 4u + (lid + 0u) % 32u];
            pa1 = a4[(m0 + (lid + 256u) / 8u) * lda4 + (k0 + 32u) / 4u + (lid + 256u) % 8u];
            pb1 = b4[((k0 + 32u) + (lid + 256u) / 32u) * ldb4 + n0 / 4u + (lid + 256u) % 32u];
            pa2 = a4[(m0 + (lid + 512u) / 8u) * lda4 + (k0 + 32u) / 4u + (lid + 512u) % 8u];
            pb2 = b4[((k0 + 32u) + (lid + 512u) / 32u) * ldb4 + n0 / 4u + (lid + 512u) % 32u];
            pa3 = a4[(m0 + (lid + 768u) / 8u) * lda4 + (k0 + 32u) / 4u + (lid + 768u) % 8u];
            pb3 = b4[((k0 + 32u) + (lid + 768u) / 32u) * ldb4 + n0 / 4u + (lid + 768u) % 32u];
        }
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
    // Store arguments are let-bound first (naga 30 SPIR-V writer, see gemm_coop.wgsl).
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
    // Next K slice in registers: four vec4<f16> of A and four of B per invocation.
    var pa0: vec4<f16>;
    var pb0: vec4<f16>;
    var pa1: vec4<f16>;
    var pb1: vec4<f16>;
    var pa2: vec4<f16>;
    var pb2: vec4<f16>;
    var pa3: vec4<f16>;
    var pb3: vec4<f16>;
    pa0 = a4[(m0 + (lid + 0u) / 8u) * lda4 + (0u) / 4u + (lid + 0u) % 8u];
    pb0 = b4[(n0 + (lid + 0u) / 8u) * ldb4 + (0u) / 4u + (lid + 0u) % 8u];
    pa1 = a4[(m0 + (lid + 256u) / 8u) * lda4 + (0u) / 4u + (lid + 256u) % 8u];
    pb1 = b4[(n0 + (lid + 256u) / 8u) * ldb4 + (0u) / 4u + (lid + 256u) % 8u];
    pa2 = a4[(m0 + (lid + 512u) / 8u) * lda4 + (0u) / 4u + (lid + 512u) % 8u];
    pb2 = b4[(n0 + (lid + 512u) / 8u) * ldb4 + (0u) / 4u + (lid + 512u) % 8u];
    pa3 = a4[(m0 + (lid + 768u) / 8u) * lda4 + (0u) / 4u + (lid + 768u) % 8u];
    pb3 = b4[(n0 + (lid + 768u) / 8u) * ldb4 + (0u) / 4u + (lid + 768u) % 8u];
    for (var k0 = 0u; k0 < p.k; k0 += 32u) {
        // A as [m][k], B as [k][n] (nn) or [n][k] (nt), 128 x 32 halves each.
        {
            let at = ((lid + 0u) / 8u) * 32u + ((lid + 0u) % 8u) * 4u;
            As[at + 0u] = pa0.x;
            As[at + 1u] = pa0.y;
            As[at + 2u] = pa0.z;
            As[at + 3u] = pa0.w;
            Bs[at + 0u] = pb0.x;
            Bs[at + 1u] = pb0.y;
            Bs[at + 2u] = pb0.z;
            Bs[at + 3u] = pb0.w;
        }
        {
            let at = ((lid + 256u) / 8u) * 32u + ((lid + 256u) % 8u) * 4u;
            As[at + 0u] = pa1.x;
            As[at + 1u] = pa1.y;
            As[at + 2u] = pa1.z;
            As[at + 3u] = pa1.w;
            Bs[at + 0u] = pb1.x;
            Bs[at + 1u] = pb1.y;
            Bs[at + 2u] = pb1.z;
            Bs[at + 3u] = pb1.w;
        }
        {
            let at = ((lid + 512u) / 8u) * 32u + ((lid + 512u) % 8u) * 4u;
            As[at + 0u] = pa2.x;
            As[at + 1u] = pa2.y;
            As[at + 2u] = pa2.z;
            As[at + 3u] = pa2.w;
            Bs[at + 0u] = pb2.x;
            Bs[at + 1u] = pb2.y;
            Bs[at + 2u] = pb2.z;
            Bs[at + 3u] = pb2.w;
        }
        {
            let at = ((lid + 768u) / 8u) * 32u + ((lid + 768u) % 8u) * 4u;
            As[at + 0u] = pa3.x;
            As[at + 1u] = pa3.y;
            As[at + 2u] = pa3.z;
            As[at + 3u] = pa3.w;
            Bs[at + 0u] = pb3.x;
            Bs[at + 1u] = pb3.y;
            Bs[at + 2u] = pb3.z;
            Bs[at + 3u] = pb3.w;
        }
        workgroupBarrier();
        // Load the next slice while this one is multiplied.
        if k0 + 32u < p.k {
            pa0 = a4[(m0 + (lid + 0u) / 8u) * lda4 + (k0 + 32u) / 4u + (lid + 0u) % 8u];
            pb0 = b4[(n0 + (lid + 0u) / 8u) * ldb4 + (k0 + 32u) / 4u + (lid + 0u) % 8u];
            pa1 = a4[(m0 + (lid + 256u) / 8u) * lda4 + (k0 + 32u) / 4u + (lid + 256u) % 8u];
            pb1 = b4[(n0 + (lid + 256u) / 8u) * ldb4 + (k0 + 32u) / 4u + (lid + 256u) % 8u];
            pa2 = a4[(m0 + (lid + 512u) / 8u) * lda4 + (k0 + 32u) / 4u + (lid + 512u) % 8u];
            pb2 = b4[(n0 + (lid + 512u) / 8u) * ldb4 + (k0 + 32u) / 4u + (lid + 512u) % 8u];
            pa3 = a4[(m0 + (lid + 768u) / 8u) * lda4 + (k0 + 32u) / 4u + (lid + 768u) % 8u];
            pb3 = b4[(n0 + (lid + 768u) / 8u) * ldb4 + (k0 + 32u) / 4u + (lid + 768u) % 8u];
        }
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
    // Store arguments are let-bound first (naga 30 SPIR-V writer, see gemm_coop.wgsl).
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

// f16 GEMM on tensor cores through cooperative matrices: C (f32) = A * op(B), f32 accumulation.
//
// A is M x K row-major f16; B is K x N row-major (`_nn`) or N x K row-major (`_nt`, the A * B^T
// of distances). The host pads with zeros to the kernel's grid.
//
// - coop_gemm_nn / _nt: each subgroup computes a 32 x 32 block of C (2 x 2 fragments of
//   16 x 16), loading fragments straight from device memory. M, N multiples of 32, K of 16.
// - coop_tiled_nn / _nt: a workgroup of 256 invocations (8 subgroups of 32; the host uses it
//   only where subgroups are exactly 32 wide) computes a 128 x 128 tile. Each 32-wide K step
//   stages a 128 x 32 slice of A and of B in workgroup memory with vec4<f16> loads; subgroup
//   sg multiplies a 64 x 32 block (4 x 2 fragments) from there, while the next slice is loaded
//   into registers. M, N multiples of 128, K of 32.
//
// This file is a template: ops/gemm.rs (`coop_source`) writes the entry points at `@ENTRIES`
// as straight-line code with named accumulators and registers. naga 30 quirks shape it: a
// helper returning a cooperative matrix from a branch, and coopStore arguments that are not
// already bound to `let`s, both make its SPIR-V writer panic.

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
@group(0) @binding(4) var<storage, read> a4: array<vec4<f16>>;
@group(0) @binding(5) var<storage, read> b4: array<vec4<f16>>;

var<workgroup> As: array<f16, 4096>;
var<workgroup> Bs: array<f16, 4096>;

// @ENTRIES

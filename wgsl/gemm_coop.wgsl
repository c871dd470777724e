// f16 GEMM on tensor cores through cooperative matrices: C (f32) = A * op(B), f32 accumulation.
//
// A is M x K row-major f16; B is K x N row-major (`_nn`) or N x K row-major (`_nt`, the A * B^T
// of distances). The host pads with zeros to the kernel's grid.
//
// - coop_gemm_nn / _nt: each subgroup computes a 32 x 32 block of C (2 x 2 fragments of
//   16 x 16), loading fragments straight from device memory. M, N multiples of 32, K of 16.
// - coop_tiled (one family per tile shape and B layout, `CoopTiles` in ops/gemm.rs): a
//   workgroup of subgroups of exactly 32 computes a tile_m x tile_n tile of C, frag_m x frag_n
//   fragments per subgroup. K goes in slices staged in workgroup memory as vec4<u32> (8
//   halves; cooperative loads take the stride in units of the pointed-to type), rows padded so
//   a fragment load's rows fall in different banks; the next slice is loaded into registers
//   while this one is multiplied. M, N, K multiples of the tile.
//
// This file is a template: ops/gemm.rs (`coop_source`, `coop_staged_source`) writes the entry
// points and workgroup memory at `@ENTRIES` as straight-line code with named accumulators and
// registers. naga 30 quirks shape it: a
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
// The staged kernel declares its own views of A and B at bindings 4 and 5.

// @ENTRIES

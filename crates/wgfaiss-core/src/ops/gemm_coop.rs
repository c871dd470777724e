//! f16 GEMM on tensor cores through cooperative matrices: `C = A·op(B)` with f16 operands and
//! f32 accumulation (opt-in; the f32 path in [`crate::ops::gemm`] stays the default).
//!
//! Kernels (`wgsl/gemm_coop.wgsl` is the template; this module writes the entry points as
//! straight-line code with named accumulators):
//! - the direct kernel: a 32 × 32 block per subgroup, fragments from device memory (any
//!   adapter with f16 cooperative matrices; small products);
//! - the tiled kernel, one generated family per [`CoopTiles`] and B layout: a
//!   `tile_m × tile_n` tile per workgroup of subgroups of exactly 32, K in slices staged in
//!   workgroup memory as halves or as whole fragments ([`CoopStage`]), or not staged;
//! - a throughput probe ([`CoopPeak`]): products on fragments in registers, or reloaded from
//!   workgroup memory or a buffer every round — what the hardware gives without a memory
//!   pipeline (`wgfaiss bench gemm --coop-peak`).

use std::sync::Arc;

use crate::buffer::GpuBuffer;
use crate::device::{Capabilities, Gpu};
use crate::error::{Error, Result};
use crate::kernels::Kernel;
use crate::ops::gemm::GemmShape;
use crate::submit::Batch;

/// The f16 tensor-core product `C = op(A)·op(B)` (f32 result) through cooperative matrices,
/// on buffers already on the device. Opt-in: inputs are rounded to f16, accumulation is f32.
///
/// A is `m × k` f16 row-major; B is `k × n` (or `n × k` with `trans_b`) f16 row-major; C is
/// `m × n` f32. `m` and `n` must be multiples of 32 and `k` of 16 ([`Gpu::gemm_f16`] pads).
pub struct CoopGemm {
    kernel: Arc<Kernel>,
    group: wgpu::BindGroup,
    grid: (u32, u32, u32),
    staged: Option<CoopTiles>,
}

/// Workgroup size of the direct cooperative-matrix GEMM (subgroups of 32 on NVIDIA: 4 each).
const COOP_WG: u32 = 128;

/// Stores of the accumulators `c<i><j>` (`rows` x `cols` fragments) at row `row0 + 16 i`,
/// column `col0 + 16 j`, with every argument let-bound first (naga 30's SPIR-V writer).
/// With `swap` each accumulator holds the block of Cᵀ (see [`CoopTiles::swap`]) and is stored
/// column-major, which puts it in C's rows.
fn coop_stores(rows: usize, cols: usize, row0: &str, col0: &str, swap: bool) -> String {
    let mut out = String::from("    let ldc = p.ldc;\n");
    let store = if swap { "coopStore" } else { "coopStoreT" };
    for i in 0..rows {
        for j in 0..cols {
            out += &format!(
                "    let o{i}{j} = ({row0} + {}u) * ldc + {col0} + {}u;\n    let r{i}{j} = c{i}{j};\n    {store}(r{i}{j}, &c[o{i}{j}], ldc);\n",
                16 * i,
                16 * j
            );
        }
    }
    out
}

/// A cooperative load of a 16 × 16 f16 fragment at `ptr` (`stride` elements between rows if
/// `row_major`, else between columns) as the left (`left`: A) or right (B) operand. With `swap`
/// the fragment's transpose: the same memory read in the other layout, as the other operand
/// (products computed as Cᵀ = op(B)ᵀ·Aᵀ; [`CoopTiles::swap`]).
fn frag_load(left: bool, row_major: bool, ptr: &str, stride: &str, swap: bool) -> String {
    let (left, row_major) = (left != swap, row_major != swap);
    format!(
        "coopLoad{}<coop_mat16x16<f16, {}>>({ptr}, {stride})",
        if row_major { "T" } else { "" },
        if left { "A" } else { "B" }
    )
}

/// The direct kernel: a 32 x 32 block per subgroup, fragments from device memory.
fn coop_direct_entry(nt: bool) -> String {
    let name = if nt { "coop_gemm_nt" } else { "coop_gemm_nn" };
    let mut s = format!(
        "@compute @workgroup_size(WG)\nfn {name}(@builtin(workgroup_id) wid: vec3<u32>,\n    @builtin(subgroup_id) sg: u32,\n    @builtin(num_subgroups) nsg: u32) {{\n"
    );
    s += "    let blocks_n = p.n / 32u;\n";
    s += "    // Cooperative operations need uniform control flow: no subgroup leaves early; one\n";
    s += "    // past the last block recomputes the last block and stores the same values.\n";
    s += "    let blk = min((wid.x + wid.y * p.wg_x) * nsg + sg, (p.m / 32u) * blocks_n - 1u);\n";
    s += "    let m0 = (blk / blocks_n) * 32u;\n    let n0 = (blk % blocks_n) * 32u;\n";
    s += "    let lda = p.lda;\n    let ldb = p.ldb;\n";
    s += &coop_accumulators(2, 2);
    s += "    for (var k0 = 0u; k0 < p.k; k0 += 16u) {\n";
    let a = |i: usize| global_fragment(true, nt, &format!("m0 + {}u", 16 * i), "k0", false);
    let b = |j: usize| global_fragment(false, nt, &format!("n0 + {}u", 16 * j), "k0", false);
    s += &coop_step(2, 2, &a, &b, "        ", false);
    s += "    }\n";
    s += &coop_stores(2, 2, "m0", "n0", false);
    s += "}\n\n";
    s
}

/// How the tiled kernel moves K slices of A and B to its subgroups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CoopStage {
    /// No staging: each subgroup loads its own fragments from device memory, one K step
    /// ahead of its products (subgroups sharing rows or columns meet in the cache).
    Direct,
    /// Each invocation loads 16-byte pieces of the next slice into registers (one
    /// `vec4<u32>` load each) and stores them into workgroup memory as elements of
    /// `width` halves (A as `[m][k]`, B as `[n][k]` or `[k][n]`, rows padded by `pad`
    /// halves). Cooperative loads from `u32` or `vec4<u32>` arrays would allow wider stores,
    /// but the NVIDIA driver (580) fails to compile them. One 16-byte load per piece instead
    /// of two 8-byte `vec4<f16>` loads: 4096³ A·B 256 → 272 TFLOP/s, A·Bᵀ 218 → 265 on an
    /// H100 (the unpacking to halves costs less than the load instructions it saves).
    Halves,
    /// Each subgroup loads whole fragments of the next slice from device memory and stores
    /// them with cooperative stores, column-major (A as `[k][m]`, B as `[n][k]`).
    Fragments,
}

/// The tiled cooperative-matrix kernel's shape, from the tuning keys `gemm.coop_*`: a
/// `tile_m × tile_n` tile of C per workgroup, `frag_m × frag_n` fragments of 16 × 16 per
/// subgroup of 32, K in slices of `tile_k` moved as `stage` says (`stages` slices in
/// workgroup memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CoopTiles {
    /// Rows of C per workgroup.
    pub tile_m: u32,
    /// Columns of C per workgroup.
    pub tile_n: u32,
    /// Depth of one slice (a multiple of 16).
    pub tile_k: u32,
    /// 16-row fragments of C per subgroup.
    pub frag_m: u32,
    /// 16-column fragments of C per subgroup.
    pub frag_n: u32,
    /// Halves added to each staged row ([`CoopStage::Halves`]; a multiple of 8). Fragment
    /// staging pads its rows to 80 bytes mod 128 by itself.
    pub pad: u32,
    /// Slices in workgroup memory: 1 or 2 (2: the next slice is stored while this one is
    /// multiplied, one barrier per slice).
    pub stages: u32,
    /// How slices reach the subgroups.
    pub stage: CoopStage,
    /// Halves per element of the staged arrays: 1 (`f16`), 2 (`vec2<f16>`) or 4
    /// (`vec4<f16>`). Wider elements store a staged piece in fewer, wider stores; cooperative
    /// loads and stores address the arrays in elements (strides divided by the width).
    pub width: u32,
    /// Each subgroup computes its block of Cᵀ = op(B)ᵀ·Aᵀ (the operands swapped, every
    /// fragment read transposed: the same memory in the other layout) and stores it
    /// column-major, which lays it out as C's rows (tuning key `gemm.coop_swap`). On an H100
    /// the driver's row-major stores of f32 fragments cost ~16 µs per wave of tiles — most of
    /// a tile's fixed cost — and column-major ones little: 4096³ A·B 275–280 → 299–302
    /// TFLOP/s, A·Bᵀ 266–269 → 289–292 (BENCHMARKS.md, sixteenth session).
    pub swap: bool,
}

/// The smallest stride of at least `x` halves whose bytes are 80 mod 128: the stride at which
/// fragment loads from workgroup memory were fastest on an H100 (`wgfaiss bench gemm
/// --coop-peak`: 580 TFLOP/s against 159–410 at 32, 64 or 144 bytes).
fn bank_stride(x: u32) -> u32 {
    x + (40 + 64 - x % 64) % 64
}

impl CoopTiles {
    /// The adapter's tiles for products `A·B` (`nt` false) or `A·Bᵀ` from the tuning layer
    /// (`gemm.coop_stage_type = auto` stages fragments for `A·B`, halves for `A·Bᵀ`;
    /// `gemm.coop_stage_width = auto` elements of 2 halves for `A·B`, 4 for `A·Bᵀ`: the
    /// faster of each pair on an H100).
    pub fn from_tuning(gpu: &Gpu, nt: bool) -> CoopTiles {
        let t = gpu.tuning();
        let int = |k: &str| t.int(k) as u32;
        CoopTiles {
            tile_m: int("gemm.coop_tile_m"),
            tile_n: int("gemm.coop_tile_n"),
            tile_k: int("gemm.coop_tile_k"),
            frag_m: int("gemm.coop_frag_m"),
            frag_n: int("gemm.coop_frag_n"),
            pad: t.choice("gemm.coop_pad").parse().unwrap_or(0),
            stages: int("gemm.coop_stages"),
            stage: match t.choice("gemm.coop_stage_type") {
                "none" => CoopStage::Direct,
                "halves" => CoopStage::Halves,
                "fragments" => CoopStage::Fragments,
                _ if nt => CoopStage::Halves,
                _ => CoopStage::Fragments,
            },
            // auto: pieces of 2 halves for A·B, of 4 for A·Bᵀ (with the swapped form on an
            // H100: A·B 4096³ 298–300 → 303–304 TFLOP/s, 8192³ 309–314 → 322–325; A·Bᵀ
            // 289–290 → 284 at 4096³).
            width: match t.choice("gemm.coop_stage_width") {
                "auto" if nt => 4,
                "auto" => 2,
                w => w.parse().unwrap_or(1),
            },
            swap: t.choice("gemm.coop_swap") == "yes",
        }
    }

    /// The tiles a product tries, in order: the tuned ones; the same with slices of 32 if
    /// the tuned depth is not a power of two (the H100's 48 would pad K = 128 to 144); then
    /// 128 × 128 tiles (4 × 2 fragments per subgroup, slices of 32, otherwise as tuned) for
    /// products too small for them.
    pub fn candidates(gpu: &Gpu, nt: bool) -> Vec<CoopTiles> {
        let tuned = CoopTiles::from_tuning(gpu, nt);
        let mut out = vec![tuned];
        let mut add = |t: CoopTiles| {
            if !out.contains(&t) {
                out.push(t);
            }
        };
        if !tuned.tile_k.is_power_of_two() {
            add(CoopTiles {
                tile_k: 32,
                ..tuned
            });
        }
        add(CoopTiles {
            tile_m: 128,
            tile_n: 128,
            tile_k: 32,
            frag_m: 4,
            frag_n: 2,
            ..tuned
        });
        out
    }

    /// Subgroups (of 32) per workgroup along M and along N.
    fn subgroups(&self) -> (u32, u32) {
        (
            self.tile_m / (16 * self.frag_m).max(1),
            self.tile_n / (16 * self.frag_n).max(1),
        )
    }

    /// Invocations per workgroup.
    pub fn workgroup_size(&self) -> u32 {
        let (sm, sn) = self.subgroups();
        32 * sm * sn
    }

    /// Row strides (halves) of the staged A and B, and the halves of one staged slice of each.
    fn layout(&self, nt: bool) -> ((u32, u32), (u32, u32)) {
        let t = self;
        match t.stage {
            CoopStage::Direct => ((0, 0), (0, 0)),
            CoopStage::Halves => {
                let sa = t.tile_k + t.pad;
                if nt {
                    ((sa, sa), (t.tile_m * sa, t.tile_n * sa))
                } else {
                    let sb = t.tile_n + t.pad;
                    ((sa, sb), (t.tile_m * sa, t.tile_k * sb))
                }
            }
            CoopStage::Fragments => {
                let (sa, sb) = (bank_stride(t.tile_m), bank_stride(t.tile_k));
                ((sa, sb), (t.tile_k * sa, t.tile_n * sb))
            }
        }
    }

    /// Workgroup memory the kernel declares.
    pub fn shared_bytes(&self, nt: bool) -> u64 {
        let (_, (a, b)) = self.layout(nt);
        2 * u64::from(self.stages) * u64::from(a + b)
    }

    /// Why these tiles cannot run on `caps`, if they cannot.
    pub fn problem(&self, caps: &Capabilities) -> Option<String> {
        let t = self;
        let (sm, sn) = t.subgroups();
        if sm == 0 || sn == 0 || t.tile_m != sm * 16 * t.frag_m || t.tile_n != sn * 16 * t.frag_n {
            return Some(format!(
                "coop tiles {t:?}: tile_m must be a multiple of 16 * frag_m, tile_n of 16 * frag_n"
            ));
        }
        let wg = t.workgroup_size();
        if wg > caps.max_invocations_per_workgroup {
            return Some(format!(
                "coop tiles {t:?}: {wg} invocations per workgroup, the adapter allows {}",
                caps.max_invocations_per_workgroup
            ));
        }
        if !t.tile_k.is_multiple_of(16)
            || !t.pad.is_multiple_of(8)
            || !(1..=2).contains(&t.stages)
            || ![1, 2, 4].contains(&t.width)
        {
            return Some(format!(
                "coop tiles {t:?}: tile_k must be a multiple of 16, pad of 8, stages 1 or 2, width 1, 2 or 4"
            ));
        }
        let nsg = wg / 32;
        let even = match t.stage {
            CoopStage::Direct => true,
            // Every invocation stages the same number of 8-half pieces of each slice.
            CoopStage::Halves => {
                (t.tile_m * t.tile_k / 8).is_multiple_of(wg)
                    && (t.tile_n * t.tile_k / 8).is_multiple_of(wg)
            }
            // Every subgroup stages the same number of fragments of each slice.
            CoopStage::Fragments => {
                (t.tile_m * t.tile_k / 256).is_multiple_of(nsg)
                    && (t.tile_n * t.tile_k / 256).is_multiple_of(nsg)
            }
        };
        if !even {
            return Some(format!(
                "coop tiles {t:?}: a slice of A or B does not split evenly over the workgroup"
            ));
        }
        let bytes = t.shared_bytes(true).max(t.shared_bytes(false));
        if bytes > u64::from(caps.workgroup_memory_bytes) {
            return Some(format!(
                "coop tiles {t:?}: {bytes} bytes of workgroup memory, the adapter has {}",
                caps.workgroup_memory_bytes
            ));
        }
        None
    }

    /// A name for the generated family.
    fn name(&self, nt: bool) -> String {
        let t = self;
        format!(
            "gemm_coop_{}_{}x{}x{}_f{}x{}_p{}_s{}_{:?}_w{}{}",
            if nt { "nt" } else { "nn" },
            t.tile_m,
            t.tile_n,
            t.tile_k,
            t.frag_m,
            t.frag_n,
            t.pad,
            t.stages,
            t.stage,
            t.width,
            if t.swap { "_swap" } else { "" }
        )
    }

    /// The family of the tiled kernel (entry `coop_tiled`) for these tiles.
    pub fn family(&self, nt: bool) -> crate::kernels::Family {
        let t = *self;
        crate::kernels::generated_coop(t.name(nt), &["coop_tiled"], move || {
            coop_tiled_source(t, nt)
        })
    }
}

/// `frag_m × frag_n` zeroed accumulators `c<i><j>`.
fn coop_accumulators(fm: usize, fnn: usize) -> String {
    let mut s = String::new();
    for i in 0..fm {
        for j in 0..fnn {
            s += &format!("    var c{i}{j} = coop_mat16x16<f32, C>();\n");
        }
    }
    s
}

/// One K step of a subgroup's block: fragments `a<i>` and `b<j>` bound from the given
/// expressions, then the `frag_m × frag_n` products into `c<i><j>` (with `swap`, of the
/// transposed fragments: `c<i><j> += b<j> · a<i>`).
fn coop_step(
    fm: usize,
    fnn: usize,
    a_frag: &dyn Fn(usize) -> String,
    b_frag: &dyn Fn(usize) -> String,
    ind: &str,
    swap: bool,
) -> String {
    let mut s = String::new();
    for i in 0..fm {
        s += &format!("{ind}let a{i} = {};\n", a_frag(i));
    }
    for j in 0..fnn {
        s += &format!("{ind}let b{j} = {};\n", b_frag(j));
    }
    s + &coop_products(fm, fnn, ind, swap)
}

/// The `frag_m × frag_n` products `c<i><j> += a<i> · b<j>` (with `swap`, `b<j> · a<i>`).
fn coop_products(fm: usize, fnn: usize, ind: &str, swap: bool) -> String {
    let mut s = String::new();
    for i in 0..fm {
        for j in 0..fnn {
            let (x, y) = if swap {
                (format!("b{j}"), format!("a{i}"))
            } else {
                (format!("a{i}"), format!("b{j}"))
            };
            s += &format!("{ind}c{i}{j} = coopMultiplyAdd({x}, {y}, c{i}{j});\n");
        }
    }
    s
}

/// A load of a 16 × 16 fragment of A (row-major `m × k` at `a`) or of B (`nt`: `n × k`
/// row-major, else `k × n`) at row `r0` and K offset `k` (for B: column `r0`); with `swap`,
/// its transpose as the other operand ([`frag_load`]).
fn global_fragment(is_a: bool, nt: bool, r0: &str, k: &str, swap: bool) -> String {
    if is_a {
        frag_load(true, true, &format!("&a[({r0}) * lda + {k}]"), "lda", swap)
    } else if nt {
        // B stored N x K row-major is K x N column-major.
        frag_load(
            false,
            false,
            &format!("&b[({r0}) * ldb + {k}]"),
            "ldb",
            swap,
        )
    } else {
        frag_load(false, true, &format!("&b[({k}) * ldb + {r0}]"), "ldb", swap)
    }
}

/// Generated code that fetches a slice at a K offset into registers (`decl`: "var ", "let n"
/// or "").
type Fetch = dyn Fn(&str, &str) -> String;
/// Generated code that puts fetched registers into a staged buffer.
type Put = dyn Fn(&str) -> String;

/// Vector lanes by index.
const LANES: [&str; 4] = ["x", "y", "z", "w"];

/// Element `e` of width `w` halves (1, 2 or 4: `f16`, `vec2<f16>`, `vec4<f16>`) of a 16-byte
/// piece held as the `vec4<u32>` `reg`: halves w e .. w e + w of its four u32s, two halves
/// each (naga's bitcast keeps the width, so they go through f32: exact for every f16).
pub(crate) fn piece_element(reg: &str, e: usize, w: u32) -> String {
    let half2 = |l: usize| format!("vec2<f16>(unpack2x16float({reg}.{}))", LANES[l]);
    match w {
        1 => format!("{}[{}u]", half2(e / 2), e % 2),
        2 => half2(e),
        _ => format!("vec4<f16>({}, {})", half2(2 * e), half2(2 * e + 1)),
    }
}

/// Bank-conflict wavefronts of staging 16-byte pieces as two 8-byte stores each into
/// workgroup memory: piece q (invocation q mod 32 of its subgroup) goes to row
/// q / `per_row`, part q % `per_row`, rows `stride_bytes` apart (a multiple of 16). With
/// `order` = Some(j), piece q stores its upper half first when bit j of q is set (so the
/// subgroup's first store covers other banks than with one order for all). Model (NVIDIA):
/// an 8-byte store is served per half-subgroup, in as many wavefronts as the most distinct
/// 4-byte words any one of 32 banks holds. Summed over one period of the pattern.
fn store_wavefronts(per_row: u32, stride_bytes: u32, order: Option<u32>) -> u32 {
    // Rows repeat their banks every 8 (strides are multiples of 16 bytes); lanes every 32.
    let period = 8 * per_row * 32;
    let mut total = 0;
    for q0 in (0..period).step_by(16) {
        for first in 0..2 {
            let mut words: Vec<(u32, u32)> = Vec::with_capacity(32);
            for q in q0..q0 + 16 {
                let upper = first ^ order.map_or(0, |j| (q >> j) & 1);
                let byte = (q / per_row) * stride_bytes + (q % per_row) * 16 + 8 * upper;
                words.extend([byte / 4, byte / 4 + 1].map(|w| (w % 32, w)));
            }
            words.sort_unstable();
            words.dedup();
            total += (0..32)
                .map(|bank| words.iter().filter(|&&(b, _)| b == bank).count() as u32)
                .max()
                .unwrap_or(0);
        }
    }
    total
}

/// The order of the two 8-byte halves of each staged piece (see [`store_wavefronts`]):
/// `None` (lower half first everywhere) unless some bit of the piece index gives fewer
/// wavefronts.
///
/// What it measured on an H100 (driver 580.159.04, `benchmarks/2026-11-27-fifteenth/`): the
/// staged GEMM with both A and B in this order, A·B 4096³ 271 → 277 TFLOP/s and 8192³ 298 →
/// 302–305; A·Bᵀ unchanged. But the model does not explain it alone: B of A·B ordered and A
/// not ran at 252 (the model's best case for B), A alone at 264–268, and the mid-size key
/// tiles (rows of 4 pieces) ran 6 % slower in this order — so only the GEMM uses it, with
/// both sides ordered.
pub(crate) fn store_order(per_row: u32, stride_bytes: u32) -> Option<u32> {
    let plain = store_wavefronts(per_row, stride_bytes, None);
    (0..5)
        .map(|j| (store_wavefronts(per_row, stride_bytes, Some(j)), j))
        .min()
        .filter(|&(w, _)| w < plain)
        .map(|(_, j)| j)
}

/// Stores the 16-byte piece held as the `vec4<u32>` `reg` into a staged array of
/// `vec4<f16>` at element `at` (its two halves at `at` and `at + 1`); piece index `q` and
/// `order` ([`store_order`]) decide which half is stored first.
pub(crate) fn put_piece(arr: &str, at: &str, reg: &str, q: &str, order: Option<u32>) -> String {
    let (lo, hi) = (piece_element(reg, 0, 4), piece_element(reg, 1, 4));
    match order {
        None => format!("    {arr}[{at} + 0u] = {lo};\n    {arr}[{at} + 1u] = {hi};\n"),
        Some(j) => format!(
            "    {{\n        let up = ({q} >> {j}u) & 1u;\n        let lo = {lo};\n        let hi = {hi};\n        {arr}[{at} + up] = select(lo, hi, up == 1u);\n        {arr}[{at} + 1u - up] = select(hi, lo, up == 1u);\n    }}\n"
        ),
    }
}

/// The tiled kernel for `t` (entry `coop_tiled`). Staged forms: the next slice is fetched
/// from device memory (clamped at the last slice, which is fetched again, so no branch guards
/// a cooperative operation) while the subgroups multiply this one from workgroup memory, then
/// put in place — into the other buffer with two stages (one barrier per slice), after a
/// barrier with one.
fn coop_tiled_source(t: CoopTiles, nt: bool) -> String {
    let sn = t.subgroups().1;
    let wg = t.workgroup_size();
    let nsg = wg / 32;
    let (fm, fnn) = (t.frag_m as usize, t.frag_n as usize);
    let ((sa, sb), (alen, blen)) = t.layout(nt);
    let tk = t.tile_k;
    let swap = t.swap;
    let mut s = String::new();
    if t.stage == CoopStage::Halves {
        // 16-byte pieces of A and B (8 halves) as one load each.
        s += "@group(0) @binding(4) var<storage, read> a8: array<vec4<u32>>;\n@group(0) @binding(5) var<storage, read> b8: array<vec4<u32>>;\n";
    }
    // Staged arrays hold elements of w halves; every offset and stride below is in elements.
    let w = t.width;
    let elem = match w {
        1 => "f16",
        2 => "vec2<f16>",
        _ => "vec4<f16>",
    };
    let ((sa, sb), (alen, blen)) = ((sa / w, sb / w), (alen / w, blen / w));
    if t.stage != CoopStage::Direct {
        s += &format!(
            "var<workgroup> As: array<{elem}, {}>;\nvar<workgroup> Bs: array<{elem}, {}>;\n\n",
            alen * t.stages,
            blen * t.stages
        );
    }
    s += &format!(
        "@compute @workgroup_size({wg})\nfn coop_tiled(@builtin(workgroup_id) wid: vec3<u32>,\n    @builtin(local_invocation_index) lid: u32,\n    @builtin(subgroup_id) sg: u32) {{\n"
    );
    s += &format!(
        "    let m0 = wid.y * {}u;\n    let n0 = wid.x * {}u;\n    // Subgroup sg owns rows rm .. rm + {} and columns cn .. cn + {} of C.\n    let rm = m0 + (sg / {sn}u) * {}u;\n    let cn = n0 + (sg % {sn}u) * {}u;\n    let lda = p.lda;\n    let ldb = p.ldb;\n",
        t.tile_m,
        t.tile_n,
        16 * fm,
        16 * fnn,
        16 * fm,
        16 * fnn
    );
    s += &coop_accumulators(fm, fnn);
    // fetch(k, decl): the slice at K offset k into registers (for Direct: this subgroup's
    // fragments of K step k); put(buf): registers into staged buffer buf.
    let (fetch, put): (Box<Fetch>, Box<Put>) = match t.stage {
        CoopStage::Direct => {
            // Fragments of this subgroup's own block, one K step ahead.
            let fetch = move |k: &str, decl: &str| -> String {
                let mut o = String::new();
                for i in 0..fm {
                    let f = global_fragment(true, nt, &format!("rm + {}u", 16 * i), k, swap);
                    o += &format!("    {decl}ga{i} = {f};\n");
                }
                for j in 0..fnn {
                    let f = global_fragment(false, nt, &format!("cn + {}u", 16 * j), k, swap);
                    o += &format!("    {decl}gb{j} = {f};\n");
                }
                o
            };
            (Box::new(fetch), Box::new(|_: &str| String::new()))
        }
        CoopStage::Halves => {
            // Piece q = lid + wg i of A is row q / (tk / 8), part q % (tk / 8) of the
            // slice; of B likewise (A·B: rows of tile_n / 8 pieces, K rows).
            let per_a = (t.tile_m * tk / 8 / wg) as usize;
            let per_b = (t.tile_n * tk / 8 / wg) as usize;
            let kv = tk / 8;
            let bv = if nt { kv } else { t.tile_n / 8 };
            let fetch = move |k: &str, decl: &str| -> String {
                let mut o = String::new();
                let piece = |view: &str, x: String| format!("{view}[{x}]");
                for i in 0..per_a {
                    let q = format!("(lid + {}u)", wg * i as u32);
                    let x = format!("(m0 + {q} / {kv}u) * (lda / 8u) + ({k}) / 8u + {q} % {kv}u");
                    o += &format!("    {decl}pa{i} = {};\n", piece("a8", x));
                }
                for i in 0..per_b {
                    let q = format!("(lid + {}u)", wg * i as u32);
                    let x = if nt {
                        format!("(n0 + {q} / {kv}u) * (ldb / 8u) + ({k}) / 8u + {q} % {kv}u")
                    } else {
                        format!("(({k}) + {q} / {bv}u) * (ldb / 8u) + n0 / 8u + {q} % {bv}u")
                    };
                    o += &format!("    {decl}pb{i} = {};\n", piece("b8", x));
                }
                o
            };
            let put = move |buf: &str| -> String {
                let mut o = String::new();
                // (array, registers, their count, pieces per loaded row, staged stride, slice).
                let sides = [
                    ("As", "pa", per_a, kv, sa, alen),
                    ("Bs", "pb", per_b, bv, sb, blen),
                ];
                // A's and B's pieces interleaved in proportion, the i-th of a side's `count` at
                // (i + 1/2) / count (B0 A0 B1 B2 A1 B3 B4 A2 B5 for 3 and 6; A first on a tie):
                // on an H100 4096³ A·Bᵀ 263–264 → 267–269 TFLOP/s (two calls, six runs against
                // four), A·B within the runs' spread, against all of A's stores before B's.
                let mut pieces: Vec<(usize, usize)> = (0..2)
                    .flat_map(|side| (0..sides[side].2).map(move |i| (side, i)))
                    .collect();
                pieces.sort_by(|&(s0, i0), &(s1, i1)| {
                    // (i + 1/2) / count compared as fractions.
                    let (c0, c1) = (sides[s0].2, sides[s1].2);
                    ((2 * i0 + 1) * c1)
                        .cmp(&((2 * i1 + 1) * c0))
                        .then(s0.cmp(&s1))
                });
                // Elements of 4 halves: each side's two 8-byte stores in the bank model's order.
                let orders = sides.map(|(_, _, _, per_row, stride, _)| {
                    (w == 4)
                        .then(|| store_order(per_row, stride * w * 2))
                        .flatten()
                });
                for (side, i) in pieces {
                    let (arr, reg, _, per_row, stride, len) = sides[side];
                    let q = format!("(lid + {}u)", wg * i as u32);
                    let at = format!(
                        "({buf}) * {len}u + ({q} / {per_row}u) * {stride}u + ({q} % {per_row}u) * {}u",
                        8 / w
                    );
                    if w == 4 {
                        o += &put_piece(arr, &at, &format!("{reg}{i}"), &q, orders[side]);
                        continue;
                    }
                    for e in 0..(8 / w) as usize {
                        let v = piece_element(&format!("{reg}{i}"), e, w);
                        o += &format!("    {arr}[{at} + {e}u] = {v};\n");
                    }
                }
                o
            };
            (Box::new(fetch), Box::new(put))
        }
        CoopStage::Fragments => {
            // Fragment f = sg + nsg q of A is row block f / kf, K block f % kf of the
            // slice; of B likewise by column block.
            let kf = tk / 16;
            let (pa, pb) = (
                (t.tile_m / 16 * kf / nsg) as usize,
                (t.tile_n / 16 * kf / nsg) as usize,
            );
            let fetch = move |k: &str, decl: &str| -> String {
                let mut o = String::new();
                for (is_a, count, origin, reg) in [(true, pa, "m0", "ga"), (false, pb, "n0", "gb")]
                {
                    for q in 0..count {
                        let f = format!("(sg + {}u)", nsg * q as u32);
                        // Staged as loaded: never swapped here.
                        let g = global_fragment(
                            is_a,
                            nt,
                            &format!("{origin} + ({f} / {kf}u) * 16u"),
                            &format!("{k} + ({f} % {kf}u) * 16u"),
                            false,
                        );
                        o += &format!("    {decl}{reg}{q} = {g};\n");
                    }
                }
                o
            };
            let put = move |buf: &str| -> String {
                let mut o = String::new();
                for q in 0..pa {
                    let f = format!("(sg + {}u)", nsg * q as u32);
                    o += &format!(
                        "    let oa{q} = ({buf}) * {alen}u + ({f} % {kf}u) * {}u + ({f} / {kf}u) * {}u;\n    let va{q} = ga{q};\n    coopStore(va{q}, &As[oa{q}], {sa}u);\n",
                        16 * sa,
                        16 / w
                    );
                }
                for q in 0..pb {
                    let f = format!("(sg + {}u)", nsg * q as u32);
                    o += &format!(
                        "    let ob{q} = ({buf}) * {blen}u + ({f} / {kf}u) * {}u + ({f} % {kf}u) * {}u;\n    let vb{q} = gb{q};\n    coopStore(vb{q}, &Bs[ob{q}], {sb}u);\n",
                        16 * sb,
                        16 / w
                    );
                }
                o
            };
            (Box::new(fetch), Box::new(put))
        }
    };
    s += &fetch("0u", "var ");
    if t.stage == CoopStage::Direct {
        s += "    for (var k0 = 0u; k0 < p.k; k0 += 16u) {\n";
        s += "    let kn = min(k0 + 16u, p.k - 16u);\n";
        s += &fetch("kn", "let n");
        let a = |i: usize| format!("ga{i}");
        let b = |j: usize| format!("gb{j}");
        s += &coop_step(fm, fnn, &a, &b, "    ", swap);
        for i in 0..fm {
            s += &format!("    ga{i} = nga{i};\n");
        }
        for j in 0..fnn {
            s += &format!("    gb{j} = ngb{j};\n");
        }
        s += "    }\n";
    } else {
        let (ra, rb) = ("(rm - m0)", "(cn - n0)");
        // Offsets along a staged row are in elements (`kk`, `ra`, `rb` and 16 i in halves).
        let sas = format!("{sa}u");
        let sbs = format!("{sb}u");
        let a = |i: usize| match t.stage {
            CoopStage::Halves => frag_load(
                true,
                true,
                &format!(
                    "&As[cur * {alen}u + ({ra} + {}u) * {sa}u + kk / {w}u]",
                    16 * i
                ),
                &sas,
                swap,
            ),
            _ => frag_load(
                true,
                false,
                &format!(
                    "&As[cur * {alen}u + kk * {sa}u + ({ra} + {}u) / {w}u]",
                    16 * i
                ),
                &sas,
                swap,
            ),
        };
        let b = |j: usize| match t.stage {
            CoopStage::Halves if !nt => frag_load(
                false,
                true,
                &format!(
                    "&Bs[cur * {blen}u + kk * {sb}u + ({rb} + {}u) / {w}u]",
                    16 * j
                ),
                &sbs,
                swap,
            ),
            _ => frag_load(
                false,
                false,
                &format!(
                    "&Bs[cur * {blen}u + ({rb} + {}u) * {sb}u + kk / {w}u]",
                    16 * j
                ),
                &sbs,
                swap,
            ),
        };
        s += &put("0u");
        s += "    workgroupBarrier();\n";
        s += &format!("    for (var k0 = 0u; k0 < p.k; k0 += {tk}u) {{\n");
        s += &format!(
            "    let cur = (k0 / {tk}u) % {}u;\n    // The next slice; the last fetches itself again.\n    let kn = min(k0 + {tk}u, p.k - {tk}u);\n",
            t.stages
        );
        s += &fetch("kn", "");
        s += &format!("    for (var kk = 0u; kk < {tk}u; kk += 16u) {{\n");
        s += &coop_step(fm, fnn, &a, &b, "        ", swap);
        s += "    }\n";
        if t.stages == 2 {
            s += &put("1u - cur");
        } else {
            s += "    workgroupBarrier();\n";
            s += &put("0u");
        }
        s += "    workgroupBarrier();\n    }\n";
    }
    s += &coop_stores(fm, fnn, "rm", "cn", swap);
    s += "}\n";
    crate::kernels::GEMM_COOP_TEMPLATE.replace("// @ENTRIES\n", &s)
}

/// Where the throughput probe's fragments come from each round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeSource {
    /// Loaded once, held in registers: products only.
    Registers,
    /// Loaded again every round from workgroup memory (f16 array, two alternating copies;
    /// fragment rows `stride` halves apart; with `barrier`, a workgroup barrier each round).
    Workgroup {
        /// Halves between fragment rows: 16, 32, 40 or 72.
        stride: u32,
        /// A barrier every round (as a staged GEMM has between slices).
        barrier: bool,
    },
    /// Loaded again every round from the storage buffer (two alternating copies; cached).
    Storage,
    /// As `Workgroup { stride: 40, barrier: true }`, and every invocation also stores 24
    /// halves one at a time into workgroup memory each round (what staging half a 128 x 256
    /// slice of 32 costs in stores, without the loads from device memory).
    Staged,
}

/// The probe variants generated into the family.
pub const PROBES: [ProbeSource; 8] = [
    ProbeSource::Registers,
    ProbeSource::Workgroup {
        stride: 16,
        barrier: false,
    },
    ProbeSource::Workgroup {
        stride: 16,
        barrier: true,
    },
    ProbeSource::Workgroup {
        stride: 32,
        barrier: true,
    },
    ProbeSource::Workgroup {
        stride: 40,
        barrier: true,
    },
    ProbeSource::Workgroup {
        stride: 72,
        barrier: true,
    },
    ProbeSource::Storage,
    ProbeSource::Staged,
];

impl ProbeSource {
    fn entry(self) -> &'static str {
        match self {
            ProbeSource::Registers => "coop_peak",
            ProbeSource::Workgroup {
                stride: 16,
                barrier: false,
            } => "coop_peak_shared",
            ProbeSource::Workgroup { stride: 16, .. } => "coop_peak_shared_16",
            ProbeSource::Workgroup { stride: 32, .. } => "coop_peak_shared_32",
            ProbeSource::Workgroup { stride: 40, .. } => "coop_peak_shared_40",
            ProbeSource::Workgroup { .. } => "coop_peak_shared_72",
            ProbeSource::Storage => "coop_peak_storage",
            ProbeSource::Staged => "coop_peak_staged",
        }
    }
}

/// A throughput probe, not a product: each subgroup runs `p.k` rounds of 16 independent
/// products (4 x 4 accumulators) on 4 fragments of A and 4 of B, loaded once or every round
/// (the ratio of loads to products of a 64 x 64 block per subgroup), then stores its 64 x 64
/// block at `c[blk * 4096 ..]`. Separates what the adapter's cooperative matrices give from
/// what their loads cost.
fn coop_peak_entry(src: ProbeSource) -> String {
    let mut s = String::new();
    let staged = src == ProbeSource::Staged;
    let (stride, barrier) = match src {
        ProbeSource::Workgroup { stride, barrier } => (stride, barrier),
        ProbeSource::Staged => (40, true),
        _ => (16, false),
    };
    let var = format!("Ps{stride}{}{}", u8::from(barrier), u8::from(staged));
    // Two copies of 8 fragments of 16 rows.
    let len = 2 * 8 * 16 * stride;
    if matches!(src, ProbeSource::Workgroup { .. } | ProbeSource::Staged) {
        s += &format!("var<workgroup> {var}: array<f16, {len}>;\n\n");
    }
    if staged {
        s += "var<workgroup> Sx: array<f16, 3840>;\n\n";
    }
    s += &format!(
        "@compute @workgroup_size(WG)\nfn {}(@builtin(workgroup_id) wid: vec3<u32>,\n    @builtin(local_invocation_index) lid: u32,\n    @builtin(subgroup_id) sg: u32,\n    @builtin(num_subgroups) nsg: u32) {{\n",
        src.entry()
    );
    s += "    let blk = (wid.x + wid.y * p.wg_x) * nsg + sg;\n";
    let (arr, loop_loads) = match src {
        ProbeSource::Registers => ("a", false),
        ProbeSource::Workgroup { .. } | ProbeSource::Staged => {
            s += &format!(
                "    for (var t = lid; t < {len}u; t += WG) {{\n        {var}[t] = a[t % 4096u] + b[t % 4096u];\n    }}\n    workgroupBarrier();\n"
            );
            ("Ps", true)
        }
        ProbeSource::Storage => ("a", true),
    };
    let (arr, brr) = if arr == "a" {
        ("a".to_string(), "b".to_string())
    } else {
        (var.clone(), var.clone())
    };
    let frag = 16 * stride;
    let loads = |off: &str, ind: &str| -> String {
        let mut o = String::new();
        for i in 0..4 {
            o += &format!(
                "{ind}let a{i} = coopLoadT<coop_mat16x16<f16, A>>(&{arr}[{off}{}u], {stride}u);\n{ind}let b{i} = coopLoadT<coop_mat16x16<f16, B>>(&{brr}[{off}{}u], {stride}u);\n",
                frag * i,
                frag * (4 + i)
            );
        }
        o
    };
    if !loop_loads {
        s += &loads("", "    ");
    }
    s += &coop_accumulators(4, 4);
    s += "    for (var t = 0u; t < p.k; t++) {\n";
    if loop_loads {
        s += &format!("        let off = (t % 2u) * {}u;\n", 8 * frag);
        s += &loads("off + ", "        ");
    }
    s += &coop_products(4, 4, "        ", false);
    if staged {
        // Rows of 40 halves, 8 halves per invocation as a staging store writes them.
        s += "        let h = f16(t);\n";
        for g in 0..3 {
            for e in 0..8 {
                s += &format!(
                    "        Sx[{}u + (lid / 4u) * 40u + (lid % 4u) * 8u + {e}u] = h;\n",
                    g * 1280
                );
            }
        }
    }
    if barrier {
        s += "        workgroupBarrier();\n";
    }
    s += "    }\n";
    // Block blk is rows blk * 64 .. of a C 64 wide (p.ldc = 64).
    s += &coop_stores(4, 4, "blk * 64u", "0u", false);
    s + "}\n\n"
}

/// The cooperative-matrix throughput probe (`coop_peak_entry`) on `groups` workgroups of
/// `COOP_WG` invocations, `rounds` rounds each: the kernel and its buffers, ready to record.
pub struct CoopPeak {
    kernel: Arc<Kernel>,
    group: wgpu::BindGroup,
    grid: (u32, u32, u32),
    flops: f64,
    _buffers: (GpuBuffer<half::f16>, GpuBuffer<f32>),
}

impl CoopPeak {
    /// Plans the probe; the adapter must have f16 cooperative matrices with subgroups of 32.
    pub fn new(gpu: &Gpu, src: ProbeSource, groups: u32, rounds: u32) -> Result<CoopPeak> {
        let caps = gpu.capabilities();
        if !gpu.supports(&crate::kernels::gemm_coop()) || caps.subgroup_max_size != 32 {
            return Err(Error::InvalidArgument(format!(
                "the cooperative-matrix probe needs f16 cooperative matrices and subgroups of 32, which {} does not have",
                caps.name
            )));
        }
        if groups == 0 || rounds == 0 {
            return Err(Error::InvalidArgument(
                "coop probe: groups and rounds must be positive".into(),
            ));
        }
        let kernel = gpu.kernel(
            &crate::kernels::gemm_coop(),
            src.entry(),
            &[("WG", COOP_WG)],
        )?;
        let ab = gpu.upload(&vec![half::f16::from_f32(1.0 / 64.0); 4096])?;
        let subgroups = u64::from(groups) * u64::from(COOP_WG / 32);
        let c = gpu.alloc::<f32>((subgroups * 4096) as usize)?;
        let (x, y) = gpu.grid(groups);
        // k: rounds; ldc: the 64 columns of each subgroup's block.
        let params = gpu.uniform(&[0u32, 0, rounds, 0, 0, 64, x, 0]);
        let group = gpu.bind(
            &kernel,
            &[
                (0, params.as_entire_binding()),
                (1, ab.binding()),
                (2, ab.binding()),
                (3, c.binding()),
            ],
        );
        Ok(CoopPeak {
            kernel,
            group,
            grid: (x, y, 1),
            flops: subgroups as f64 * f64::from(rounds) * 16.0 * 2.0 * 4096.0,
            _buffers: (ab, c),
        })
    }

    /// Floating-point operations of one run.
    pub fn flops(&self) -> f64 {
        self.flops
    }

    /// Records one run.
    pub fn record(&self, batch: &mut Batch<'_>) {
        batch.dispatch(&self.kernel, &self.group, self.grid);
    }
}

/// The source of the direct cooperative-matrix GEMM family: the template with its two entry
/// points (B plain and transposed) and the throughput probe written out.
pub fn coop_source() -> String {
    let entries = coop_direct_entry(false)
        + &coop_direct_entry(true)
        + &PROBES
            .iter()
            .map(|&p| coop_peak_entry(p))
            .collect::<String>();
    crate::kernels::GEMM_COOP_TEMPLATE.replace("// @ENTRIES\n", &entries)
}

impl CoopGemm {
    /// Plans the product for `shape` (m, n, k, trans_b; no trans_a, alpha 1, beta 0); the
    /// adapter must have f16 cooperative matrices.
    pub fn new(
        gpu: &Gpu,
        a: &GpuBuffer<half::f16>,
        b: &GpuBuffer<half::f16>,
        c: &GpuBuffer<f32>,
        shape: GemmShape,
    ) -> Result<CoopGemm> {
        let (m, n, k, trans_b) = (shape.m, shape.n, shape.k, shape.trans_b);
        if shape.trans_a || shape.alpha != 1.0 || shape.beta != 0.0 {
            return Err(Error::InvalidArgument(
                "f16 GEMM: only C = A·op(B) (no transposed A, alpha 1, beta 0)".into(),
            ));
        }
        if !gpu.supports(&crate::kernels::gemm_coop()) {
            return Err(Error::InvalidArgument(format!(
                "the f16 tensor-core GEMM needs cooperative matrices with f16 inputs, which {} does not report",
                gpu.capabilities().name
            )));
        }
        if m == 0
            || n == 0
            || k == 0
            || !m.is_multiple_of(32)
            || !n.is_multiple_of(32)
            || !k.is_multiple_of(16)
        {
            return Err(Error::InvalidArgument(format!(
                "f16 GEMM {m} x {n} x {k}: m and n must be positive multiples of 32, k of 16"
            )));
        }
        if (a.len(), b.len(), c.len()) != (m * k, k * n, m * n) {
            return Err(Error::InvalidArgument(format!(
                "f16 GEMM {m} x {n} x {k}: buffers hold {}, {}, {} values",
                a.len(),
                b.len(),
                c.len()
            )));
        }
        let tiled = CoopTiles::candidates(gpu, trans_b)
            .into_iter()
            .find(|t| coop_tiled_fits(gpu, t, m, n, k));
        let (kernel, x, y, staged) = if let Some(tiles) = tiled {
            // The tiled kernel, one workgroup per tile.
            let (gx, gy) = (n as u32 / tiles.tile_n, m as u32 / tiles.tile_m);
            let max = gpu.capabilities().max_workgroups_per_dimension;
            if gx > max || gy > max {
                return Err(Error::InvalidArgument(format!(
                    "f16 GEMM {m} x {n}: too many tiles for one dispatch; split the product"
                )));
            }
            let kernel = gpu.kernel(&tiles.family(trans_b), "coop_tiled", &[])?;
            (kernel, gx, gy, Some(tiles))
        } else {
            let entry = if trans_b {
                "coop_gemm_nt"
            } else {
                "coop_gemm_nn"
            };
            // Blocks of 32 x 32, one per subgroup; assume the largest subgroups (fewest per
            // workgroup) so every block is covered; surplus subgroups repeat the last block.
            let blocks = ((m / 32) * (n / 32)) as u32;
            let per_group = (COOP_WG / gpu.capabilities().subgroup_max_size.max(1)).max(1);
            let (x, y) = gpu.grid(blocks.div_ceil(per_group));
            let kernel = gpu.kernel(&crate::kernels::gemm_coop(), entry, &[("WG", COOP_WG)])?;
            (kernel, x, y, None)
        };
        let params = gpu.uniform(&[
            m as u32,
            n as u32,
            k as u32,
            k as u32,
            if trans_b { k } else { n } as u32,
            n as u32,
            x,
            0u32,
        ]);
        // Staging halves reads vec4<f16> views of A and B (bindings 4, 5).
        let (ab, bb) = match staged {
            Some(t) if t.stage == CoopStage::Halves => (4, 5),
            _ => (1, 2),
        };
        let group = gpu.bind(
            &kernel,
            &[
                (0, params.as_entire_binding()),
                (ab, a.binding()),
                (bb, b.binding()),
                (3, c.binding()),
            ],
        );
        Ok(CoopGemm {
            kernel,
            group,
            grid: (x, y, 1),
            staged,
        })
    }

    /// The tiles of the tiled kernel if it runs (else the direct 32 × 32 one runs).
    pub fn staged(&self) -> Option<CoopTiles> {
        self.staged
    }

    /// Padded sizes for a product `A·B` (or `A·Bᵀ` with `trans_b`): `(m, n, k)` rounded up
    /// to the tiles of the kernel that will run (the tiled kernel's where both sides reach
    /// them, else 32, 32, 16).
    pub fn padded(gpu: &Gpu, m: usize, n: usize, k: usize, trans_b: bool) -> (usize, usize, usize) {
        // Each candidate's padded sizes where its tiles can run.
        let tiles = CoopTiles::candidates(gpu, trans_b);
        let sizes: Vec<Option<(usize, usize, usize)>> = tiles
            .iter()
            .map(|t| {
                let (tm, tn, tk) = (t.tile_m as usize, t.tile_n as usize, t.tile_k as usize);
                let big = (
                    m.div_ceil(tm) * tm,
                    n.div_ceil(tn) * tn,
                    k.div_ceil(tk) * tk,
                );
                (m >= tm && n >= tn && coop_tiled_fits(gpu, t, big.0, big.1, big.2)).then_some(big)
            })
            .collect();
        // The tuned tiles (all candidates but the last, small ones) pad K to their slices:
        // the first whose padded product is within 1/16 of the least padded one.
        let volume = |s: &(usize, usize, usize)| s.0 * s.1 * s.2;
        let tuned = &sizes[..sizes.len().saturating_sub(1).max(1)];
        if let Some(least) = tuned.iter().flatten().map(volume).min()
            && let Some(big) = tuned
                .iter()
                .flatten()
                .find(|s| volume(s) * 16 <= least * 17)
        {
            return *big;
        }
        if let Some(big) = sizes.iter().flatten().next() {
            return *big;
        }
        (
            m.div_ceil(32).max(1) * 32,
            n.div_ceil(32).max(1) * 32,
            k.div_ceil(16).max(1) * 16,
        )
    }

    /// Records one product.
    pub fn record(&self, batch: &mut Batch<'_>) {
        batch.dispatch(&self.kernel, &self.group, self.grid);
    }
}

/// Whether the tiled kernel can run: subgroups exactly 32 wide, tiles the adapter can hold,
/// and sizes on its grid.
fn coop_tiled_fits(gpu: &Gpu, t: &CoopTiles, m: usize, n: usize, k: usize) -> bool {
    let c = gpu.capabilities();
    c.subgroup_min_size == 32
        && c.subgroup_max_size == 32
        && t.problem(c).is_none()
        && m.is_multiple_of(t.tile_m as usize)
        && n.is_multiple_of(t.tile_n as usize)
        && k.is_multiple_of(t.tile_k as usize)
}

/// Rounds `rows × cols` f32 values to f16, padded with zeros to `prows × pcols`.
pub fn to_f16_padded(
    x: &[f32],
    rows: usize,
    cols: usize,
    prows: usize,
    pcols: usize,
) -> Vec<half::f16> {
    let mut out = vec![half::f16::ZERO; prows * pcols];
    for r in 0..rows {
        for (o, &v) in out[r * pcols..r * pcols + cols]
            .iter_mut()
            .zip(&x[r * cols..(r + 1) * cols])
        {
            *o = half::f16::from_f32(v);
        }
    }
    out
}

/// A product `A·op(B)` of row-major f32 inputs made ready on the device: both rounded to f16
/// and padded with zeros to the grid of the kernel that will run ([`CoopGemm::padded`]), C
/// allocated at the padded size, and the plan made. [`Gpu::gemm_f16`], `wgfaiss bench gemm
/// --f16` and `wgfaiss tune` all start from it.
pub struct PaddedCoopGemm {
    /// A, `m × k` padded to `padded.0 × padded.2`.
    pub a: GpuBuffer<half::f16>,
    /// B, padded like A (`k × n`, or `n × k` for `A·Bᵀ`).
    pub b: GpuBuffer<half::f16>,
    /// C, `padded.0 × padded.1`; the product's rows are `padded.1` apart.
    pub c: GpuBuffer<f32>,
    /// The padded `(m, n, k)`.
    pub padded: (usize, usize, usize),
    /// The plan over the padded buffers.
    pub plan: CoopGemm,
}

impl PaddedCoopGemm {
    /// Checks the shape (no transposed A, alpha 1, beta 0) and the inputs' lengths, then
    /// uploads and plans.
    pub fn new(gpu: &Gpu, a: &[f32], b: &[f32], shape: GemmShape) -> Result<PaddedCoopGemm> {
        if shape.trans_a || shape.alpha != 1.0 || shape.beta != 0.0 {
            return Err(Error::InvalidArgument(
                "f16 GEMM: only C = A·op(B) (no transposed A, alpha 1, beta 0)".into(),
            ));
        }
        let (m, n, k) = (shape.m, shape.n, shape.k);
        let (la, lb, _) = shape.lens();
        if (a.len(), b.len()) != (la, lb) {
            return Err(Error::InvalidArgument(format!(
                "f16 GEMM {m}x{n}x{k}: A holds {}, B {} values",
                a.len(),
                b.len()
            )));
        }
        let (mp, np, kp) = CoopGemm::padded(gpu, m, n, k, shape.trans_b);
        let a16 = gpu.upload(&to_f16_padded(a, m, k, mp, kp))?;
        let b16 = if shape.trans_b {
            gpu.upload(&to_f16_padded(b, n, k, np, kp))?
        } else {
            gpu.upload(&to_f16_padded(b, k, n, kp, np))?
        };
        let c = gpu.alloc::<f32>(mp * np)?;
        let padded = GemmShape {
            trans_b: shape.trans_b,
            ..GemmShape::new(mp, np, kp)
        };
        let plan = CoopGemm::new(gpu, &a16, &b16, &c, padded)?;
        Ok(PaddedCoopGemm {
            a: a16,
            b: b16,
            c,
            padded: (mp, np, kp),
            plan,
        })
    }
}

impl Gpu {
    /// `op(A)·op(B)` with A, B rounded to f16 and f32 accumulation on tensor cores (opt-in
    /// precision; `trans_a` is not supported). Pads to the tile grid and crops the result.
    pub fn gemm_f16(&self, a: &[f32], b: &[f32], shape: GemmShape) -> Result<Vec<f32>> {
        let p = PaddedCoopGemm::new(self, a, b, shape)?;
        let mut batch = self.batch(false);
        p.plan.record(&mut batch);
        batch.finish()?;
        let full = self.read(&p.c)?;
        let np = p.padded.1;
        Ok((0..shape.m)
            .flat_map(|r| full[r * np..r * np + shape.n].iter().copied())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::{store_order, store_wavefronts};

    /// The bank model against figures worked out by hand: per
    /// subgroup store, B of A·B in 256-column rows 528 bytes apart takes 4 wavefronts with
    /// one order and 2 (the least for 256 bytes) when lanes 8–15 and 24–31 store their upper
    /// halves first; A in rows of 6 pieces 112 bytes apart 16/3 and 10/3 (bit 0); rows of 4
    /// pieces 80 bytes apart 6 and 4.
    #[test]
    fn the_store_order_spreads_the_banks() {
        // Subgroup stores per period: 8 * per_row rows' worth of pieces / 32, two each.
        let per_store = |per_row: u32, stride: u32, order| {
            f64::from(store_wavefronts(per_row, stride, order)) / f64::from(8 * per_row * 2)
        };
        assert_eq!(per_store(32, 528, None), 4.0);
        assert_eq!(per_store(32, 528, Some(3)), 2.0);
        assert_eq!(store_order(32, 528), Some(3));
        assert!((per_store(6, 112, None) - 16.0 / 3.0).abs() < 1e-12);
        assert!((per_store(6, 112, Some(0)) - 10.0 / 3.0).abs() < 1e-12);
        assert_eq!(store_order(6, 112), Some(0));
        assert_eq!(per_store(4, 80, None), 6.0);
        let j = store_order(4, 80).expect("an order for rows of 4 pieces");
        assert_eq!(per_store(4, 80, Some(j)), 4.0);
        assert_eq!(store_order(16, 272), Some(3));
        // Every half-subgroup store writes 128 bytes: at least one wavefront.
        for (per_row, stride) in [(8, 144), (16, 272), (64, 1040), (32, 512)] {
            let order = store_order(per_row, stride);
            assert!(per_store(per_row, stride, order) >= 2.0);
            assert!(per_store(per_row, stride, order) <= per_store(per_row, stride, None));
        }
    }
}

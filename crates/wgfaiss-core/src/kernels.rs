//! The kernel registry: WGSL families embedded at build time, and a cache that compiles each
//! (family, entry point, override constants) once.
//!
//! A family's source is the concatenation of its parts (files under `wgsl/`), so that two paths
//! of one algorithm (subgroup operations, or shared memory only) share their entry points and
//! differ only in the part that needs the feature. Tile and workgroup sizes reach the WGSL as
//! `override` constants; each distinct set is its own pipeline.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::device::Gpu;
use crate::error::{Error, Result};

/// What a family needs from the device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// Subgroup operations (`Features::SUBGROUP`).
    pub subgroups: bool,
    /// `enable f16;` (`Features::SHADER_F16`).
    pub f16: bool,
    /// Cooperative matrices.
    pub coop_matrix: bool,
}

/// One WGSL kernel family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// Name used in cache keys and messages.
    pub name: &'static str,
    /// Source parts, concatenated in order.
    pub parts: &'static [&'static str],
    /// Required device features.
    pub needs: Needs,
    /// Entry points.
    pub entries: &'static [&'static str],
    /// Compile without run-time bounds checks (only for kernels whose every access is
    /// guarded in the source and that are proven against references in the tests).
    pub trusted: bool,
}

impl std::hash::Hash for Family {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

impl Family {
    /// The full WGSL source of the family.
    pub fn source(&self) -> String {
        self.parts.concat()
    }
}

const REDUCE_COMMON: &str = include_str!("../../../wgsl/reduce.wgsl");
const REDUCE_SHARED_PART: &str = include_str!("../../../wgsl/reduce_shared.wgsl");
const REDUCE_SUBGROUP_PART: &str = include_str!("../../../wgsl/reduce_subgroup.wgsl");
const STREAM: &str = include_str!("../../../wgsl/stream.wgsl");
const QR_PART: &str = include_str!("../../../wgsl/qr.wgsl");
const QR_SUBGROUP_PART: &str = include_str!("../../../wgsl/qr_subgroup.wgsl");

/// QR projection, one invocation per column, and the update `v − Q·c`.
pub const QR_SIMPLE: Family = Family {
    name: "qr",
    parts: &[QR_PART],
    needs: Needs {
        subgroups: false,
        f16: false,
        coop_matrix: false,
    },
    entries: &["qr_dot_simple", "qr_update", "qr_normalize", "qr_chol"],
    trusted: false,
};

/// QR projection, one subgroup per column.
pub const QR_SUBGROUP: Family = Family {
    name: "qr_subgroup",
    parts: &[QR_SUBGROUP_PART],
    needs: Needs {
        subgroups: true,
        f16: false,
        coop_matrix: false,
    },
    entries: &["qr_dot_subgroup"],
    trusted: false,
};

const TOPK_PART: &str = include_str!("../../../wgsl/topk.wgsl");

/// Per-row top-k selection (threshold filter, bitonic merges in workgroup memory). Trusted:
/// workgroup indices are below their arrays by construction given 1 <= k <= KP (the host's
/// plans reject other k), candidate slots are checked against CP, and `topk_lists` runs only
/// for k <= `topk.list_merge_max_k` (at most 256) < its CP of 1 024. Checked, the index
/// clamps cost 5 % at k = 10 and 15 % at k = 1 024 (1 000 x 1M on an H100).
pub const TOPK: Family = Family {
    name: "topk",
    parts: &[TOPK_PART],
    needs: Needs {
        subgroups: false,
        f16: false,
        coop_matrix: false,
    },
    entries: &[
        "topk_select",
        "topk_select_bounded",
        "topk_radix",
        "topk_lists",
    ],
    trusted: true,
};

const ELEMENTWISE_PART: &str = include_str!("../../../wgsl/elementwise.wgsl");

/// Elementwise helpers (distance tiles, gathers, padding, id mapping).
pub const ELEMENTWISE: Family = Family {
    name: "elementwise",
    parts: &[ELEMENTWISE_PART],
    needs: Needs {
        subgroups: false,
        f16: false,
        coop_matrix: false,
    },
    entries: &["add_rows", "fill_lists", "map_ids"],
    trusted: false,
};

const SCAN_PART: &str = include_str!("../../../wgsl/scan.wgsl");
const IVF_PART: &str = include_str!("../../../wgsl/ivf.wgsl");

/// IVF search on the device: probes → work items of the list-major scan.
pub const IVF: Family = Family {
    name: "ivf",
    parts: &[IVF_PART, SCAN_PART],
    needs: Needs {
        subgroups: false,
        f16: false,
        coop_matrix: false,
    },
    entries: &[
        "ivf_clear",
        "ivf_count",
        "ivf_items",
        "ivf_scatter",
        "ivf_widths",
        "ivf_offsets",
        "ivf_pair_offsets",
        "ivf_positions",
    ],
    trusted: false,
};

const KMEANS_PART: &str = include_str!("../../../wgsl/kmeans.wgsl");

/// k-means centroid update on the device (group points by centroid, per-centroid means).
pub const KMEANS: Family = Family {
    name: "kmeans",
    parts: &[KMEANS_PART, SCAN_PART],
    needs: Needs {
        subgroups: false,
        f16: false,
        coop_matrix: false,
    },
    entries: &[
        "km_clear",
        "km_count",
        "km_offsets",
        "km_scatter",
        "km_means",
    ],
    trusted: false,
};

/// The cooperative-matrix GEMM template (entry points written by
/// [`crate::ops::gemm_coop::coop_source`]).
pub const GEMM_COOP_TEMPLATE: &str = include_str!("../../../wgsl/gemm_coop.wgsl");

/// f16 GEMM on tensor cores (cooperative matrices), f32 accumulation: the direct kernels
/// (a 32 x 32 block per subgroup), B plain or transposed. The staged kernels are generated per
/// tile shape ([`crate::ops::gemm_coop::CoopTiles::family`]).
pub fn gemm_coop() -> Family {
    static SOURCE: OnceLock<&'static [&'static str]> = OnceLock::new();
    Family {
        name: "gemm_coop",
        parts: SOURCE.get_or_init(|| {
            let source: &'static str =
                Box::leak(crate::ops::gemm_coop::coop_source().into_boxed_str());
            Box::leak(vec![source].into_boxed_slice())
        }),
        needs: Needs {
            subgroups: true,
            f16: true,
            coop_matrix: true,
        },
        entries: &[
            "coop_gemm_nn",
            "coop_gemm_nt",
            "coop_peak",
            "coop_peak_shared",
            "coop_peak_shared_16",
            "coop_peak_shared_32",
            "coop_peak_shared_40",
            "coop_peak_shared_72",
            "coop_peak_storage",
            "coop_peak_staged",
        ],
        trusted: false,
    }
}

/// The f32 GEMM template (expanded per register block by [`gemm_family`]).
pub const GEMM_TEMPLATE: &str = include_str!("../../../wgsl/gemm.wgsl");

const REDUCE_ENTRIES: &[&str] = &[
    "reduce_partial",
    "reduce_chunk",
    "reduce_pairs",
    "reduce_rows",
    "reduce_rows4",
];

/// Reductions (sum, max, min, argmax, argmin; whole array and per row), shared-memory path.
pub const REDUCE_SHARED: Family = Family {
    name: "reduce_shared",
    parts: &[REDUCE_COMMON, REDUCE_SHARED_PART],
    needs: Needs {
        subgroups: false,
        f16: false,
        coop_matrix: false,
    },
    entries: REDUCE_ENTRIES,
    trusted: false,
};

/// Reductions, subgroup path (any subgroup size 4..=128).
pub const REDUCE_SUBGROUP: Family = Family {
    name: "reduce_subgroup",
    parts: &[REDUCE_COMMON, REDUCE_SUBGROUP_PART],
    needs: Needs {
        subgroups: true,
        f16: false,
        coop_matrix: false,
    },
    entries: REDUCE_ENTRIES,
    trusted: false,
};

/// A plain streaming read, the bandwidth yardstick for benchmarks.
pub const STREAM_READ: Family = Family {
    name: "stream",
    parts: &[STREAM],
    needs: Needs {
        subgroups: false,
        f16: false,
        coop_matrix: false,
    },
    entries: &["stream_read", "stream_read_blocks"],
    trusted: false,
};

/// Tiled f32 GEMM (`C = α·op(A)·op(B) + β·C`) for one variant: the template expanded into
/// straight-line code ([`crate::ops::gemm::source`]), generated once per variant per process.
pub fn gemm_family(v: &crate::ops::gemm::GemmVariant) -> Family {
    generated(v.name(), &["gemm", "gemm_split_sum"], true, || {
        crate::ops::gemm::source(v)
    })
}

/// The fused distance + top-k template (expanded by [`crate::ops::knn::source`]).
pub const KNN_TEMPLATE: &str = include_str!("../../../wgsl/knn.wgsl");

/// Fused distance + top-k for one variant ([`crate::ops::knn::source`]), generated once per
/// variant per process. Trusted like the GEMM: every storage access is guarded in the source
/// (the staging code is the GEMM's; norms and outputs are read and written under row/column
/// checks), shared-memory indices stay below `TM·KB` / `TM·CAP` because the plan sets
/// `KB ≥ k`, and the tests check every shape class against an f64 reference.
pub fn knn_family(v: &crate::ops::knn::KnnVariant) -> Family {
    generated(v.name(), &["knn"], true, || crate::ops::knn::source(v))
}

const KNN_STREAM: &str = include_str!("../../../wgsl/knn_stream.wgsl");
/// Sorted per-row top-k lists in workgroup memory and their parallel merge, appended to both
/// fused k-NN kernels.
pub const LIST_MERGE: &str = include_str!("../../../wgsl/list_merge.wgsl");
/// Offering values to the lists and the serial merge (`wgsl/list_offer.wgsl`), appended to
/// the tiled fused k-NN kernels (f32 and f16).
pub const LIST_OFFER: &str = include_str!("../../../wgsl/list_offer.wgsl");

/// The per-query bounds shared by the segments of the f16 k-NN kernel (`bound_code`,
/// `bound_key`), appended to `knn_half.wgsl`.
pub const BOUND: &str = include_str!("../../../wgsl/bound.wgsl");
const KNN_STREAM_VEC: &str = "
@group(0) @binding(2) var<storage, read> base: array<vec4<f32>>;
const SUB: u32 = 1u;
fn ldw(row: u32, c: u32) -> mat2x4<f32> {
    return mat2x4<f32>(base[row * (p.ldb / 4u) + min(c, D4 - 1u)], vec4<f32>(0.0));
}
";
const KNN_STREAM_SCALAR: &str = "
@group(0) @binding(2) var<storage, read> base: array<f32>;
const SUB: u32 = 1u;
fn ldw(row: u32, c: u32) -> mat2x4<f32> {
    return mat2x4<f32>(ldx(row, min(c, D4 - 1u)), vec4<f32>(0.0));
}
fn ldx(row: u32, c: u32) -> vec4<f32> {
    let i = row * p.ldb + 4u * c;
    var v = vec4<f32>(0.0);
    for (var e = 0u; e < 4u; e++) {
        if 4u * c + e < p.k {
            v[e] = base[i + e];
        }
    }
    return v;
}
";

/// A streaming k-NN family: `load` (binding 2 and `ldx`), the kernel, the list merge.
const fn knn_stream_family(
    name: &'static str,
    parts: &'static [&'static str],
    f16: bool,
) -> Family {
    Family {
        name,
        parts,
        needs: Needs {
            subgroups: true,
            f16,
            coop_matrix: false,
        },
        entries: &["knn_stream"],
        trusted: false,
    }
}

/// Fused distance + top-k for 1–4 queries, streaming the base (`knn_stream.wgsl`), for a
/// dimension that is a multiple of 4 (`vec4` rows).
pub const KNN_STREAM_V4: Family = knn_stream_family(
    "knn_stream_v4",
    &[KNN_STREAM_VEC, KNN_STREAM, LIST_MERGE],
    false,
);

/// [`KNN_STREAM_V4`] for any dimension (rows read as scalars).
pub const KNN_STREAM_V1: Family = knn_stream_family(
    "knn_stream_v1",
    &[KNN_STREAM_SCALAR, KNN_STREAM, LIST_MERGE],
    false,
);

/// The f16 fused k-NN template (expanded by [`crate::ops::knn_half::source`]).
pub const KNN_HALF_TEMPLATE: &str = include_str!("../../../wgsl/knn_half.wgsl");

/// The f16 precision mode's helpers: rounding to f16, exact re-rank, final selection.
pub const HALF: Family = Family {
    name: "half",
    parts: &[include_str!("../../../wgsl/half.wgsl")],
    needs: Needs {
        subgroups: false,
        f16: true,
        coop_matrix: false,
    },
    entries: &["to_half", "rerank", "rerank_select"],
    trusted: false,
};

/// The f16 fused k-NN kernel for one variant ([`crate::ops::knn_half::source`]), generated
/// once per variant per process.
pub fn knn_half(v: crate::ops::knn_half::HalfVariant) -> Family {
    let coop = v.form == crate::ops::knn_half::HalfProduct::Coop;
    let needs = Needs {
        subgroups: coop,
        f16: true,
        coop_matrix: coop,
    };
    // The tensor-core form is trusted: its workgroup and private indices are bounded by
    // construction (teams are subgroups of exactly 32, `p.topk` <= KB, columns < 32 <= TSC),
    // every loop ends, and its buffer accesses stay in the padded operands and outputs the
    // host sizes. Checked, its index clamps cost 13 % of a 10 000-query search on an H100.
    generated_with(v.name(), &["knn_half"], coop, needs, || {
        crate::ops::knn_half::source(v)
    })
}

/// The parameters and grid placement both f16 templates share (appended by
/// [`crate::ops::knn_half::source`] and [`crate::ops::knn_half::keys_source`]).
pub const HALF_PLACE: &str = include_str!("../../../wgsl/half_place.wgsl");

/// The f16 key-tile template (expanded by [`crate::ops::knn_half::keys_source`]).
pub const HALF_KEYS_TEMPLATE: &str = include_str!("../../../wgsl/half_keys.wgsl");

/// The f16 key-tile kernel (the f16 search's unfused candidates) for the product form and K
/// steps of `v` ([`crate::ops::knn_half::keys_source`]), generated once per form and steps.
pub fn half_keys(v: crate::ops::knn_half::HalfVariant) -> Family {
    let coop = v.form == crate::ops::knn_half::HalfProduct::Coop;
    let needs = Needs {
        subgroups: coop,
        f16: true,
        coop_matrix: coop,
    };
    let name = format!("half_keys_{}_s{}", v.form.name(), v.steps);
    generated_with(name, &["half_keys"], false, needs, || {
        crate::ops::knn_half::keys_source(v)
    })
}

const KNN_STREAM_HALF: &str = "
@group(0) @binding(2) var<storage, read> base: array<vec4<u32>>;
const SUB: u32 = 2u;
// Chunks c, c + 1 (c even) as one 16-byte load of 8 halves; rows are p.ldb halves, a multiple
// of 16 (zero past the dimension). Past the row (c >= p.ldb / 4, where the queries' copies are
// zero) the row's last 8 halves are read again.
fn ldw(row: u32, c: u32) -> mat2x4<f32> {
    let w = p.ldb / 8u;
    let v = base[row * w + min(c / 2u, w - 1u)];
    return mat2x4<f32>(
        vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y)),
        vec4<f32>(unpack2x16float(v.z), unpack2x16float(v.w)),
    );
}
";

/// [`KNN_STREAM_V4`] over an f16 base (rows of `p.ldb` halves, a multiple of 16, zero past
/// the dimension; f32 queries; each lane loads 8 halves at once): the f16 precision mode's
/// candidates for a few queries.
pub const KNN_STREAM_H4: Family = knn_stream_family(
    "knn_stream_h4",
    &[KNN_STREAM_HALF, KNN_STREAM, LIST_MERGE],
    true,
);

/// `WGFAISS_CHECKED_KERNELS=1`: every family compiled with run-time checks, trusted ones too
/// (to tell a suspected out-of-range access in a trusted kernel from other faults, at their
/// cost: a third of the f16 GEMM's speed on an H100).
fn checked_everywhere() -> bool {
    static CHECKED: OnceLock<bool> = OnceLock::new();
    *CHECKED.get_or_init(|| std::env::var("WGFAISS_CHECKED_KERNELS").is_ok_and(|v| v == "1"))
}

/// A generated family, cached by its (unique) name. Source and name are leaked once per
/// variant: a process uses a handful.
fn generated(
    name: String,
    entries: &'static [&'static str],
    trusted: bool,
    source: impl FnOnce() -> String,
) -> Family {
    generated_with(name, entries, trusted, Needs::default(), source)
}

/// A generated cooperative-matrix family, compiled trusted: the staged f16 GEMM (entry
/// `coop_tiled`, one family per tile shape) and the tiled f16 key kernel of
/// `ops::knn_half_tiles` (entry `half_keys_tiled`). Why each may be trusted: the GEMM runs
/// whole tiles on an exact grid over operands whose lengths `CoopGemm::new` checks, its
/// workgroup indices bounded by the tile shape (`CoopTiles::problem`); checked, the index
/// clamps on the staged slices cost a third of its speed on an H100. The key kernel indexes
/// workgroup memory only with constants and terms bounded by its workgroup's shape, clamps
/// every row it reads to the buffers' last ones and writes only rows and columns inside the
/// tile (its survivors form: slots below its constant count per query, of queries below
/// `p.m`, into buffers of `p.m` × that count).
pub fn generated_coop(
    name: String,
    entries: &'static [&'static str],
    source: impl FnOnce() -> String,
) -> Family {
    let needs = Needs {
        subgroups: true,
        f16: true,
        coop_matrix: true,
    };
    generated_with(name, entries, true, needs, source)
}

/// A generated family that needs nothing of the device, compiled with run-time checks (the
/// survivors' selection of `ops::knn_half_tiles`, one per slot count).
pub fn generated_plain(
    name: String,
    entries: &'static [&'static str],
    source: impl FnOnce() -> String,
) -> Family {
    generated(name, entries, false, source)
}

/// [`generated`] for a family with device needs.
fn generated_with(
    name: String,
    entries: &'static [&'static str],
    trusted: bool,
    needs: Needs,
    source: impl FnOnce() -> String,
) -> Family {
    static FAMILIES: OnceLock<Mutex<HashMap<String, Family>>> = OnceLock::new();
    let mut map = FAMILIES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(f) = map.get(&name) {
        return *f;
    }
    let family = Family {
        name: Box::leak(name.clone().into_boxed_str()),
        parts: Box::leak(vec![&*Box::leak(source().into_boxed_str())].into_boxed_slice()),
        entries,
        trusted,
        needs,
    };
    map.insert(name, family);
    family
}

/// Every fixed family, for validation (generated ones: [`gemm_family`], [`gemm_coop`]).
pub const ALL_FAMILIES: &[Family] = &[
    REDUCE_SHARED,
    REDUCE_SUBGROUP,
    STREAM_READ,
    QR_SIMPLE,
    QR_SUBGROUP,
    TOPK,
    ELEMENTWISE,
    IVF,
    KMEANS,
    KNN_STREAM_V4,
    KNN_STREAM_V1,
    KNN_STREAM_H4,
    HALF,
];

/// Override constants of one pipeline: `(name, value)`, sorted by name in the key.
pub type Constants = Vec<(&'static str, u32)>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    family: &'static str,
    entry: &'static str,
    constants: Constants,
}

/// A compiled pipeline and its bind group layout (group 0).
#[derive(Debug)]
pub struct Kernel {
    /// The pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Layout of bind group 0, derived from the shader.
    pub layout: wgpu::BindGroupLayout,
    /// `family::entry`, for labels.
    pub name: String,
}

/// The per-device cache of shader modules and pipelines.
#[derive(Default)]
pub(crate) struct KernelCache {
    modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<Key, Arc<Kernel>>>,
    compiled: AtomicUsize,
}

impl Gpu {
    /// Whether the device has what a family needs.
    pub fn supports(&self, family: &Family) -> bool {
        let c = self.capabilities();
        (!family.needs.subgroups || c.subgroups)
            && (!family.needs.f16 || c.f16)
            && (!family.needs.coop_matrix || c.cooperative_matrix)
    }

    /// The pipeline for `family::entry` with these override constants, compiled on first use.
    ///
    /// Many threads asking for the same key get the same pipeline, compiled once.
    pub fn kernel(
        &self,
        family: &Family,
        entry: &'static str,
        constants: &[(&'static str, u32)],
    ) -> Result<Arc<Kernel>> {
        if !self.supports(family) {
            return Err(Error::Kernel {
                family: family.name,
                entry,
                message: format!(
                    "the adapter lacks a feature the family needs ({:?})",
                    family.needs
                ),
            });
        }
        if !family.entries.contains(&entry) {
            return Err(Error::Kernel {
                family: family.name,
                entry,
                message: "no such entry point".into(),
            });
        }
        let mut constants: Constants = constants.to_vec();
        constants.sort();
        let key = Key {
            family: family.name,
            entry,
            constants,
        };
        let cache = &self.inner.kernels;
        // One lock over lookup and compile: a key is compiled exactly once.
        let mut pipelines = cache.pipelines.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = pipelines.get(&key) {
            return Ok(k.clone());
        }
        let device = self.device();
        // A driver that fails to compile a valid module reports an internal error.
        let internal = device.push_error_scope(wgpu::ErrorFilter::Internal);
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = {
            let mut modules = cache.modules.lock().unwrap_or_else(|p| p.into_inner());
            modules
                .entry(family.name)
                .or_insert_with(|| {
                    let desc = wgpu::ShaderModuleDescriptor {
                        label: Some(family.name),
                        source: wgpu::ShaderSource::Wgsl(family.source().into()),
                    };
                    if family.trusted && !checked_everywhere() {
                        // SAFETY: a trusted family guards every buffer and array access in its
                        // source and bounds every loop; the tests check it against CPU
                        // references at shapes off every tile edge.
                        unsafe {
                            device.create_shader_module_trusted(
                                desc,
                                wgpu::ShaderRuntimeChecks::unchecked(),
                            )
                        }
                    } else {
                        device.create_shader_module(desc)
                    }
                })
                .clone()
        };
        let constants_f64: Vec<(&str, f64)> = key
            .constants
            .iter()
            .map(|&(n, v)| (n, f64::from(v)))
            .collect();
        let name = format!("{}::{}", family.name, entry);
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&name),
            layout: None,
            module: &module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants_f64,
                // Kernels initialise the workgroup memory they read.
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        let failed = pollster::block_on(scope.pop());
        let failed = failed.or(pollster::block_on(internal.pop()));
        if let Some(e) = failed {
            // A module that failed once stays failed; forget it so the message repeats.
            cache
                .modules
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(family.name);
            return Err(Error::Kernel {
                family: family.name,
                entry,
                message: e.to_string(),
            });
        }
        let layout = pipeline.get_bind_group_layout(0);
        let kernel = Arc::new(Kernel {
            pipeline,
            layout,
            name,
        });
        cache.compiled.fetch_add(1, Ordering::Relaxed);
        pipelines.insert(key, kernel.clone());
        Ok(kernel)
    }

    /// How many pipelines this device has compiled (for tests of the cache).
    pub fn pipelines_compiled(&self) -> usize {
        self.inner.kernels.compiled.load(Ordering::Relaxed)
    }
}

/// Parses and validates a family with naga, then specialises it with `constants` (override
/// values) and validates the result — what the driver would get. Needs no GPU.
pub fn validate(family: &Family, constants: &[(&str, u32)]) -> Result<()> {
    let fail = |entry: &'static str, message: String| Error::Kernel {
        family: family.name,
        entry,
        message,
    };
    let source = family.source();
    let module = naga::front::wgsl::parse_str(&source)
        .map_err(|e| fail("(parse)", e.emit_to_string(&source)))?;
    let mut caps = naga::valid::Capabilities::empty();
    if family.needs.subgroups {
        caps |= naga::valid::Capabilities::SUBGROUP | naga::valid::Capabilities::SUBGROUP_BARRIER;
    }
    if family.needs.f16 {
        // `unpack2x16float` (the f16 streaming kernel) needs the second: a downlevel flag
        // every Vulkan, Metal and DX12 adapter has.
        caps |= naga::valid::Capabilities::SHADER_FLOAT16
            | naga::valid::Capabilities::SHADER_FLOAT16_IN_FLOAT32;
    }
    if family.needs.coop_matrix {
        caps |= naga::valid::Capabilities::COOPERATIVE_MATRIX;
    }
    let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
        .validate(&module)
        .map_err(|e| fail("(validate)", e.emit_to_string(&source)))?;
    for &entry in family.entries {
        if !module.entry_points.iter().any(|ep| ep.name == entry) {
            return Err(fail(entry, "entry point missing from the source".into()));
        }
        let mut pc = naga::back::PipelineConstants::default();
        for &(n, v) in constants {
            pc.insert(n.to_string(), f64::from(v));
        }
        let (specialised, spec_info) = naga::back::pipeline_constants::process_overrides(
            &module,
            &info,
            Some((naga::ShaderStage::Compute, entry)),
            &pc,
        )
        .map_err(|e| fail(entry, format!("with overrides {constants:?}: {e}")))?;
        // Also write SPIR-V, as wgpu's Vulkan backend will: naga's writer has failed on
        // modules its validator accepted (cooperative-matrix stores).
        let pipeline = naga::back::spv::PipelineOptions {
            shader_stage: naga::ShaderStage::Compute,
            entry_point: entry.to_string(),
        };
        let options = naga::back::spv::Options {
            lang_version: (1, 3),
            ..Default::default()
        };
        naga::back::spv::write_vec(&specialised, &spec_info, &options, Some(&pipeline))
            .map_err(|e| fail(entry, format!("SPIR-V with overrides {constants:?}: {e}")))?;
    }
    Ok(())
}

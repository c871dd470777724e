//! The tuning layer: per-adapter kernel parameters from a static table.
//!
//! Every parameter is looked up, first hit wins, in
//!
//! 1. options given in code ([`crate::GpuOptions::overrides`], keyed like the variables),
//! 2. the environment: `WGFAISS_<FAMILY>_<KEY>` (for example `WGFAISS_REDUCE_WORKGROUP_SIZE`),
//! 3. the config file (`WGFAISS_CONFIG=path`, else the shipped `config/hardware_params.json`):
//!    `<backend>.<adapter>` (exact name, then the longest key that is a substring of the adapter
//!    name), then `<backend>.default`, then the top-level `default`,
//! 4. a heuristic from the adapter's limits and subgroup size.
//!
//! Every resolved value remembers where it came from ([`Source`]). A malformed file, an unknown
//! key, or a value out of range is an [`Error::Tuning`] that names the file (or variable), the key
//! and the value. No autotuning happens at run time: `wgfaiss tune` (later) measures and writes
//! the file; this module only reads it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::device::Capabilities;
use crate::error::{Error, Result};

/// The config file shipped with wgfaiss (embedded at build time).
pub const SHIPPED_CONFIG: &str = include_str!("../../../config/hardware_params.json");
/// Name used for the shipped config in messages.
pub const SHIPPED_CONFIG_NAME: &str = "config/hardware_params.json (built in)";

/// What kind of value a parameter holds and which values are allowed.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// An integer in `min..=max`; with `pow2`, also a power of two.
    Int {
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
        /// Must be a power of two.
        pow2: bool,
    },
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
}

/// One tunable parameter: its family, key, kind and what it does.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// Kernel family (`reduce`, `gemm`, `submit`, ...).
    pub family: &'static str,
    /// Key inside the family.
    pub key: &'static str,
    /// Allowed values.
    pub kind: Kind,
    /// One line on what it controls.
    pub doc: &'static str,
}

impl ParamSpec {
    /// The environment variable that overrides this parameter.
    pub fn env_var(&self) -> String {
        format!("WGFAISS_{}_{}", self.family, self.key).to_ascii_uppercase()
    }
}

const fn int(min: u64, max: u64) -> Kind {
    Kind::Int {
        min,
        max,
        pow2: false,
    }
}
const fn pow2(min: u64, max: u64) -> Kind {
    Kind::Int {
        min,
        max,
        pow2: true,
    }
}

/// Every tunable parameter. The config file may hold these keys and no others.
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        family: "buffers",
        key: "max_binding_bytes",
        kind: int(256, 1 << 40),
        doc: "largest storage binding wgfaiss uses; larger data is split (capped by the adapter)",
    },
    ParamSpec {
        family: "submit",
        key: "max_dispatches_per_submit",
        kind: int(1, 4096),
        doc: "dispatches recorded before a command buffer is submitted",
    },
    ParamSpec {
        family: "submit",
        key: "in_flight",
        kind: int(1, 16),
        doc: "search plans an index keeps per batch size (concurrent searches of one size run without waiting for one plan)",
    },
    ParamSpec {
        family: "submit",
        key: "query_batch",
        kind: int(1, 1 << 24),
        doc: "queries searched per internal batch",
    },
    ParamSpec {
        family: "submit",
        key: "spin_wait_us",
        kind: int(0, 100_000),
        doc: "how long a thread waiting for a readback (a search's results) polls the device without sleeping before it blocks (microseconds; 0: blocks at once)",
    },
    ParamSpec {
        family: "submit",
        key: "coalesce_window_us",
        kind: int(0, 1_000_000),
        doc: "how long concurrent searches are gathered into one batch (microseconds)",
    },
    ParamSpec {
        family: "submit",
        key: "coalesce_max_queries",
        kind: int(1, 1 << 24),
        doc: "queries after which a gathered batch is searched without waiting out the window",
    },
    ParamSpec {
        family: "submit",
        key: "coalesce_fan_out",
        kind: int(1, 64),
        doc: "callers each woken caller of a finished coalesced batch wakes in turn (the finishing thread wakes this many first)",
    },
    ParamSpec {
        family: "submit",
        key: "coalesce_record_ahead",
        kind: int(0, 1),
        doc: "1: while a coalesced batch's callers come back, the index records its search (shaped like the last batch) and takes the queries when they are here",
    },
    ParamSpec {
        family: "submit",
        key: "coalesce_adaptive",
        kind: int(0, 1),
        doc: "1: a gathered batch starts as soon as the queries expected back (those of finished batches whose callers have not called again, and the pending ones) are here and no batch runs, instead of waiting out the window",
    },
    ParamSpec {
        family: "submit",
        key: "coalesce_in_flight",
        kind: int(1, 64),
        doc: "coalesced batches that may run at once (the next one gathers while they run)",
    },
    ParamSpec {
        family: "reduce",
        key: "workgroup_size",
        kind: pow2(32, 1024),
        doc: "invocations per workgroup of the reduction kernels",
    },
    ParamSpec {
        family: "reduce",
        key: "max_workgroups",
        kind: int(1, 65535),
        doc: "workgroups of the first pass of a whole-array reduction (per chunk)",
    },
    ParamSpec {
        family: "reduce",
        key: "path",
        kind: Kind::Choice(&["auto", "subgroup", "shared"]),
        doc: "subgroup operations or shared memory only (auto: subgroup where the adapter has it)",
    },
    ParamSpec {
        family: "gemm",
        key: "tile_m",
        kind: pow2(8, 256),
        doc: "rows of C per workgroup",
    },
    ParamSpec {
        family: "gemm",
        key: "tile_n",
        kind: pow2(8, 256),
        doc: "columns of C per workgroup",
    },
    ParamSpec {
        family: "gemm",
        key: "tile_k",
        kind: pow2(4, 64),
        doc: "depth of one shared-memory tile",
    },
    ParamSpec {
        family: "gemm",
        key: "thread_m",
        kind: pow2(4, 8),
        doc: "rows of C per thread (register block)",
    },
    ParamSpec {
        family: "gemm",
        key: "thread_n",
        kind: pow2(4, 8),
        doc: "columns of C per thread (register block)",
    },
    ParamSpec {
        family: "gemm",
        key: "coop_tile_m",
        kind: pow2(32, 256),
        doc: "f16 tensor-core GEMM (staged kernel): rows of C per workgroup",
    },
    ParamSpec {
        family: "gemm",
        key: "coop_tile_n",
        kind: pow2(32, 256),
        doc: "f16 tensor-core GEMM (staged kernel): columns of C per workgroup",
    },
    ParamSpec {
        family: "gemm",
        key: "coop_tile_k",
        kind: int(16, 128),
        doc: "f16 tensor-core GEMM (staged kernel): depth of one slice in workgroup memory",
    },
    ParamSpec {
        family: "gemm",
        key: "coop_frag_m",
        kind: pow2(1, 8),
        doc: "f16 tensor-core GEMM (staged kernel): 16-row fragments of C per subgroup",
    },
    ParamSpec {
        family: "gemm",
        key: "coop_frag_n",
        kind: pow2(1, 8),
        doc: "f16 tensor-core GEMM (staged kernel): 16-column fragments of C per subgroup",
    },
    ParamSpec {
        family: "gemm",
        key: "coop_pad",
        kind: Kind::Choice(&["0", "8", "16", "24", "32", "40"]),
        doc: "f16 tensor-core GEMM (staged kernel): halves added to each row of a staged slice (spreads the fragment loads over the memory banks)",
    },
    ParamSpec {
        family: "gemm",
        key: "coop_stage_type",
        kind: Kind::Choice(&["auto", "none", "halves", "fragments"]),
        doc: "f16 tensor-core GEMM (tiled kernel): how K slices reach the subgroups: halves (8 scalar stores per 16 bytes into workgroup memory), fragments (cooperative loads from device memory, cooperative stores into workgroup memory), none (each subgroup loads its own fragments); auto: fragments for A*B, halves for A*B^T",
    },
    ParamSpec {
        family: "gemm",
        key: "coop_stage_width",
        kind: Kind::Choice(&["1", "2", "4", "auto"]),
        doc: "f16 tensor-core GEMM (staged kernel): halves per element of the staged arrays (f16, vec2<f16>, vec4<f16>): wider elements stage a slice in fewer stores; auto: 2 for A*B, 4 for A*B^T",
    },
    ParamSpec {
        family: "gemm",
        key: "coop_swap",
        kind: Kind::Choice(&["no", "yes"]),
        doc: "f16 tensor-core GEMM (tiled kernel): yes computes each block as C^T = op(B)^T * A^T and stores the fragments column-major (C's rows); no stores C's fragments row-major",
    },
    ParamSpec {
        family: "gemm",
        key: "coop_stages",
        kind: int(1, 2),
        doc: "f16 tensor-core GEMM (staged kernel): slices in workgroup memory (2: the next slice is stored while this one is multiplied, one barrier per slice)",
    },
    ParamSpec {
        family: "topk",
        key: "workgroup_size",
        kind: pow2(32, 1024),
        doc: "invocations per workgroup of the top-k kernels",
    },
    ParamSpec {
        family: "topk",
        key: "wide_min_k",
        kind: int(0, 2048),
        doc: "top-k: from this k on (0: never) the filter kernel runs workgroups of wide_workgroup_size instead of workgroup_size",
    },
    ParamSpec {
        family: "topk",
        key: "wide_workgroup_size",
        kind: pow2(32, 1024),
        doc: "top-k: invocations per workgroup from k = wide_min_k on (a long best list merges in fewer steps with more invocations)",
    },
    ParamSpec {
        family: "topk",
        key: "radix_min_k",
        kind: int(0, 4096),
        doc: "top-k of short rows: from this k on (0: never), rows of at most radix_max_cols are selected by radix selection, one workgroup per row",
    },
    ParamSpec {
        family: "topk",
        key: "radix_max_cols",
        kind: int(1, 1 << 20),
        doc: "top-k radix selection: longest row (each is read six times by one workgroup)",
    },
    ParamSpec {
        family: "topk",
        key: "list_merge_max_k",
        kind: int(0, 256),
        doc: "merges of per-segment lists (k-NN segments): up to this k (0: never) one pass bounded by the lists' heads (topk_lists), else passes of the filter kernel",
    },
    ParamSpec {
        family: "topk",
        key: "thread_queue",
        kind: pow2(4, 32),
        doc: "top-k loads per invocation per round (between two threshold checks); rounds longer than 4 do not grow the candidate buffer: offers that find it full wait for a merge",
    },
    ParamSpec {
        family: "knn",
        key: "tile_m",
        kind: pow2(16, 256),
        doc: "fused k-NN: queries per workgroup (halved for large k until the lists fit)",
    },
    ParamSpec {
        family: "knn",
        key: "tile_n",
        kind: pow2(8, 256),
        doc: "fused k-NN: database vectors per tile",
    },
    ParamSpec {
        family: "knn",
        key: "thread_m",
        kind: pow2(4, 8),
        doc: "fused k-NN: queries per thread (register block)",
    },
    ParamSpec {
        family: "knn",
        key: "thread_n",
        kind: pow2(4, 8),
        doc: "fused k-NN: database vectors per thread (register block)",
    },
    ParamSpec {
        family: "knn",
        key: "tile_bytes",
        kind: int(1 << 16, 1 << 40),
        doc: "unfused k-NN (k beyond the fused kernel, or k > 16 with a batch within one tile): bytes of one queries x base distance tile (within one binding), held by each cached search plan of that shape (up to submit.in_flight per shape)",
    },
    ParamSpec {
        family: "knn",
        key: "tiny_tile_n",
        kind: pow2(16, 1024),
        doc: "fused k-NN, 1-4 queries: database vectors per tile (tile_n / 4 invocations)",
    },
    ParamSpec {
        family: "knn",
        key: "tiny_tile_k",
        kind: pow2(4, 64),
        doc: "fused k-NN, 1-4 queries: dimensions staged per step",
    },
    ParamSpec {
        family: "knn",
        key: "min_segment",
        kind: int(1, 1 << 30),
        doc: "fused k-NN: shortest database segment per workgroup (each segment costs a list warm-up and k merged candidates)",
    },
    ParamSpec {
        family: "knn",
        key: "loop_budget",
        kind: int(0, 1 << 40),
        doc: "fused k-NN: loop iterations one invocation may run (0: no limit); llvmpipe ends every loop of an invocation after 65 535 iterations in all",
    },
    ParamSpec {
        family: "knn",
        key: "candidate_slots",
        kind: pow2(4, 64),
        doc: "fused k-NN: candidate slots per query between merges into its list",
    },
    ParamSpec {
        family: "knn",
        key: "first_tile_bound",
        kind: int(0, 1),
        doc: "fused k-NN: 1 bounds each row's threshold from the first tile's per-invocation minima before offering (k <= tile_n / thread_n); 0 offers the whole first tile",
    },
    ParamSpec {
        family: "knn",
        key: "top1",
        kind: int(0, 1),
        doc: "fused k-NN with k = 1 (k-means assignment, IVF add): 1 keeps each invocation's best in registers and combines them once at the end; 0 uses the lists",
    },
    ParamSpec {
        family: "knn",
        key: "stream",
        kind: Kind::Choice(&["auto", "off"]),
        doc: "fused k-NN, 1-4 queries: stream the database with a subgroup per few rows (knn_stream.wgsl) instead of the tiled kernel; auto: where the adapter has subgroups and the lists fit",
    },
    ParamSpec {
        family: "knn",
        key: "exact_path",
        kind: Kind::Choice(&["f32", "verified"]),
        doc: "flat index, Precision::Exact: f32 runs the f32 kernel; verified runs the verified f16 search (the same exact results; an f16 copy of the storage, half as large again on the device) where the adapter has SHADER_F16, d <= 256, k <= 128, the search holds knn.verified_min_queries and few of the index's proofs have failed",
    },
    ParamSpec {
        family: "knn",
        key: "verified_min_queries",
        kind: int(1, 1 << 30),
        doc: "flat index, knn.exact_path = verified: the fewest queries of a search that take the verified f16 search (smaller batches run the f32 kernel, except as knn.verified_stream says)",
    },
    ParamSpec {
        family: "knn",
        key: "verified_stream",
        kind: int(0, 1),
        doc: "flat index, knn.exact_path = verified: 1 also takes the verified f16 search for searches the f16 streaming kernel serves (1-4 queries: it reads half the bytes of the f32 one)",
    },
    ParamSpec {
        family: "knn",
        key: "half_product",
        kind: Kind::Choice(&["auto", "plain"]),
        doc: "f16 precision search: auto uses tensor cores (cooperative matrices, subgroups of 32) where the adapter has them; plain computes the f16 products with ordinary loops",
    },
    ParamSpec {
        family: "knn",
        key: "half_col_pad",
        kind: Kind::Choice(&["0", "4", "8", "16"]),
        doc: "f16 precision search: floats added to each column of the product tile in workgroup memory (spreads the tensor-core stores over the banks; multiples of 16 bytes keep the stores aligned)",
    },
    ParamSpec {
        family: "knn",
        key: "half_teams",
        kind: int(1, 8),
        doc: "f16 precision search: teams of 32 queries per workgroup (they share each step's base rows through the cache; fewer for small batches)",
    },
    ParamSpec {
        family: "knn",
        key: "half_stage",
        kind: int(0, 1),
        doc: "f16 precision search on tensor cores (steps written out): 1 stages each step's base rows in workgroup memory once for all teams; 0 has every team load them from device memory",
    },
    ParamSpec {
        family: "knn",
        key: "half_tile_queries",
        kind: int(0, 1 << 20),
        doc: "f16 precision search: batches of up to this many queries (more than the streaming kernel takes) choose their candidates from key tiles and the top-k kernel instead of the fused kernel (0: never; needs a base of one chunk and a tile within knn.tile_bytes)",
    },
    ParamSpec {
        family: "knn",
        key: "tiled_max_queries",
        kind: int(0, 1 << 20),
        doc: "f32 k-NN: batches of more queries than the streaming kernel takes and at most this many run unfused (distance tile and bounded top-k) at any k where one tile holds them (0: only for k > 16)",
    },
    ParamSpec {
        family: "knn",
        key: "half_tile_kc",
        kind: int(0, 256),
        doc: "f16 precision search: batches with at least this many candidates per query take the key tiles at any size that fits one tile (0: only as knn.half_tile_queries says)",
    },
    ParamSpec {
        family: "knn",
        key: "half_keys_teams",
        kind: int(1, 8),
        doc: "f16 key tiles: teams of 32 queries per workgroup (they load the same base rows)",
    },
    ParamSpec {
        family: "knn",
        key: "half_keys_steps",
        kind: int(1, 1 << 16),
        doc: "f16 key tiles: steps of 32 base rows per workgroup",
    },
    ParamSpec {
        family: "knn",
        key: "half_keys_tiled",
        kind: int(0, 1 << 20),
        doc: "f16 key tiles on tensor cores: batches of at least this many queries compute them like the tiled f16 GEMM (64 queries x 256 base rows per workgroup, the base staged in slices) where the dimension fits; smaller ones, or all with 0, with teams of 32 x 32 blocks (knn.half_keys_teams, knn.half_keys_steps)",
    },
    ParamSpec {
        family: "knn",
        key: "half_survivors",
        kind: int(0, 1),
        doc: "f16 key tiles on tensor cores: 1 bounds each query's kc-th key from a sample of the base's tiles and keeps only the keys within it (no key tile, no selection over it) where the base has enough tiles; 0 writes the whole key tile",
    },
    ParamSpec {
        family: "knn",
        key: "half_survivor_queries",
        kind: int(0, 1 << 20),
        doc: "f16 survivors: batches of up to this many queries take them where knn.half_tile_queries is smaller (no key tile limits them)",
    },
    ParamSpec {
        family: "knn",
        key: "half_survivor_cap",
        kind: pow2(64, 4096),
        doc: "f16 survivors: keys kept per query at most (a query with more is searched again in f32)",
    },
    ParamSpec {
        family: "knn",
        key: "half_survivor_ranges",
        kind: int(0, 1 << 20),
        doc: "f16 survivors: tiles of 256 rows sampled for the bound (0: enough for about a sixteenth of knn.half_survivor_cap to pass on random data, and the survivors only where that is at most a quarter of the base)",
    },
    ParamSpec {
        family: "knn",
        key: "half_unroll",
        kind: int(0, 1),
        doc: "f16 precision search on tensor cores: 1 writes the K steps out (d <= 256) and loads every fragment before the products; 0 loops over the steps",
    },
    ParamSpec {
        family: "knn",
        key: "stream_lanes",
        kind: pow2(4, 32),
        doc: "fused k-NN streaming kernel: invocations per database row (at most the adapter's smallest subgroup)",
    },
    ParamSpec {
        family: "knn",
        key: "stream_segment",
        kind: int(1, 1 << 30),
        doc: "fused k-NN streaming kernel: database vectors per workgroup",
    },
    ParamSpec {
        family: "knn",
        key: "target_groups",
        kind: int(1, 1 << 20),
        doc: "fused k-NN: workgroups a search aims for (the database is cut into that many segments per query tile)",
    },
    ParamSpec {
        family: "ivf",
        key: "scan_tile_m",
        kind: pow2(16, 256),
        doc: "IVF list scan (fused k-NN work items): gathered queries per workgroup",
    },
    ParamSpec {
        family: "ivf",
        key: "scan_tile_n",
        kind: pow2(8, 256),
        doc: "IVF list scan: list vectors per tile",
    },
    ParamSpec {
        family: "ivf",
        key: "scan_thread_m",
        kind: pow2(4, 8),
        doc: "IVF list scan: queries per thread (register block)",
    },
    ParamSpec {
        family: "ivf",
        key: "scan_thread_n",
        kind: pow2(4, 8),
        doc: "IVF list scan: list vectors per thread (register block)",
    },
    ParamSpec {
        family: "ivf",
        key: "scan",
        kind: Kind::Choice(&["auto", "fused", "keys"]),
        doc: "IVF list scan: a running top-k per work item (fused), or every key written and one top-k per query (keys)",
    },
    ParamSpec {
        family: "ivf",
        key: "auto_keys_queries",
        kind: int(0, 1 << 20),
        doc: "IVF scan = auto: batches of at least this many queries take the keys scan (0: only k beyond 32 does)",
    },
    ParamSpec {
        family: "ivf",
        key: "keys_slack",
        kind: int(100, 100_000),
        doc: "IVF keys scan: a batch whose worst-case keys exceed a binding is still searched at once while that worst case is within this percentage of the binding (a batch that then overflows is searched again in halves)",
    },
    ParamSpec {
        family: "qr",
        key: "dot",
        kind: Kind::Choice(&["auto", "simple", "subgroup"]),
        doc: "QR projection: one thread per column, or one subgroup per column",
    },
    ParamSpec {
        family: "qr",
        key: "dot_threshold",
        kind: int(1, 1 << 30),
        doc: "with dot=auto, rows from which the subgroup form is used",
    },
    ParamSpec {
        family: "svd",
        key: "band",
        kind: int(1, 4096),
        doc: "columns per band of the banded randomized-SVD Z-step",
    },
];

/// Look up a parameter's spec.
pub fn spec(family: &str, key: &str) -> Option<&'static ParamSpec> {
    PARAMS.iter().find(|p| p.family == family && p.key == key)
}

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// Set in code through [`crate::GpuOptions::overrides`].
    Option {
        /// The override's key (the variable name).
        name: String,
    },
    /// An environment variable.
    Env {
        /// The variable.
        var: String,
    },
    /// A config file entry.
    Config {
        /// The file.
        file: String,
        /// Key path inside it.
        key: String,
    },
    /// Derived from the adapter's limits.
    Heuristic {
        /// Why this value.
        why: String,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Option { name } => write!(f, "option {name}"),
            Source::Env { var } => write!(f, "env {var}"),
            Source::Config { file, key } => write!(f, "{file}: {key}"),
            Source::Heuristic { why } => write!(f, "heuristic ({why})"),
        }
    }
}

/// A resolved parameter value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// An integer parameter.
    Int(u64),
    /// A choice parameter.
    Choice(String),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Choice(s) => f.write_str(s),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// The value in force.
    pub value: ParamValue,
    /// Its origin.
    pub source: Source,
}

/// Where the config table comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// The file shipped with wgfaiss.
    Shipped,
    /// A file on disk.
    File(PathBuf),
    /// JSON text with a name for messages (tests use it).
    Text {
        /// Name used in messages.
        name: String,
        /// The JSON.
        json: String,
    },
}

impl ConfigSource {
    /// `WGFAISS_CONFIG` if set, else the shipped file.
    pub fn from_env() -> Self {
        match std::env::var_os("WGFAISS_CONFIG") {
            Some(p) if !p.is_empty() => ConfigSource::File(PathBuf::from(p)),
            _ => ConfigSource::Shipped,
        }
    }

    fn load(&self) -> Result<(String, Value)> {
        let (name, text) = match self {
            ConfigSource::Shipped => (SHIPPED_CONFIG_NAME.to_string(), SHIPPED_CONFIG.to_string()),
            ConfigSource::File(p) => (
                p.display().to_string(),
                std::fs::read_to_string(p).map_err(|e| Error::TuningFile {
                    path: p.clone(),
                    reason: e.to_string(),
                })?,
            ),
            ConfigSource::Text { name, json } => (name.clone(), json.clone()),
        };
        let value: Value = serde_json::from_str(&text).map_err(|e| Error::TuningFile {
            path: Path::new(&name).to_path_buf(),
            reason: format!("not valid JSON: {e}"),
        })?;
        Ok((name, value))
    }
}

/// The resolved tuning entry of one adapter.
#[derive(Debug, Clone, Serialize)]
pub struct Tuning {
    /// Config file used.
    pub config: String,
    /// Which entry of the file matched the adapter (`vulkan.NVIDIA H200`, or none).
    pub matched_entry: Option<String>,
    /// Every parameter, keyed `family.key`.
    pub params: BTreeMap<String, Resolved>,
}

/// What the tuning layer needs to know about an adapter (a subset of [`Capabilities`]).
fn heuristic(spec: &ParamSpec, caps: &Capabilities) -> (ParamValue, String) {
    let cpu = caps.device_type == "cpu";
    let int = |v: u64, why: &str| (ParamValue::Int(v), why.to_string());
    let choice = |v: &str, why: &str| (ParamValue::Choice(v.to_string()), why.to_string());
    let max_inv = u64::from(caps.max_invocations_per_workgroup);
    match (spec.family, spec.key) {
        ("buffers", "max_binding_bytes") => int(
            caps.max_storage_binding_bytes.min(caps.max_buffer_bytes),
            "the adapter's storage binding limit",
        ),
        ("submit", "max_dispatches_per_submit") => int(32, "a few dispatches per command buffer"),
        ("submit", "in_flight") => int(2, "two searches of one batch size at once"),
        ("submit", "query_batch") => int(if cpu { 256 } else { 4096 }, "by device type"),
        ("submit", "coalesce_window_us") => int(
            if cpu { 2000 } else { 200 },
            "about one search of a small batch",
        ),
        ("submit", "coalesce_max_queries") => int(if cpu { 256 } else { 4096 }, "one batch"),
        ("submit", "spin_wait_us") => int(
            0,
            "block at once: polling steals the cores a software adapter computes on; GPUs only where measured",
        ),
        ("submit", "coalesce_fan_out") => int(
            4,
            "64 callers woken in three rounds (H100, twelfth session: one thread waking all 63 was slower)",
        ),
        ("submit", "coalesce_record_ahead") => {
            int(1, "recording moves off the batch's path into the gathering")
        }
        ("submit", "coalesce_adaptive") => int(
            0,
            "off unless measured on the adapter (bench serve times both; on for the H100 and H200)",
        ),
        ("submit", "coalesce_in_flight") => int(
            1,
            "one batch at a time: on an H200 three in flight split 64 callers into batches of 17 (flat 23 483 -> 12 117 QPS)",
        ),
        ("reduce", "workgroup_size") | ("topk", "workgroup_size") => {
            int(256.min(max_inv), "256, capped by the adapter")
        }
        ("topk", "wide_min_k") => int(0, "one workgroup size for every k until measured"),
        ("topk", "wide_workgroup_size") => int(256.min(max_inv), "256, capped by the adapter"),
        ("reduce", "max_workgroups") => int(if cpu { 32 } else { 1024 }, "by device type"),
        ("reduce", "path") | ("qr", "dot") => choice("auto", "by capability"),
        ("ivf", "scan") => choice("auto", "by shape (ops::ivf::ScanMode)"),
        ("ivf", "auto_keys_queries") => {
            int(0, "off: measured only on the H100 (its entry sets 32)")
        }
        ("ivf", "keys_slack") => int(
            125,
            "the SIFT stand-in's 10 000 queries at nprobe 64 have 0.71 of the worst case's keys",
        ),
        ("knn", "tile_m") | ("knn", "tile_n") | ("ivf", "scan_tile_m") | ("ivf", "scan_tile_n")
            if max_inv >= 256 =>
        {
            int(64, "the GEMM's tile (256 threads of 4x4)")
        }
        ("knn", "tile_m") | ("ivf", "scan_tile_m") => {
            int(32, "64 threads of 4x4, within the adapter")
        }
        ("knn", "tile_n") | ("ivf", "scan_tile_n") => {
            int(32, "64 threads of 4x4, within the adapter")
        }
        ("knn", "thread_m")
        | ("knn", "thread_n")
        | ("ivf", "scan_thread_m")
        | ("ivf", "scan_thread_n") => int(4, "4x4 register block"),
        ("gemm", "tile_m") | ("gemm", "tile_n") if max_inv >= 256 => {
            int(64, "a common f32 tile (256 threads of 4x4)")
        }
        ("gemm", "tile_m") | ("gemm", "tile_n") => int(32, "64 threads of 4x4, within the adapter"),
        ("gemm", "tile_k") => int(16, "a common f32 tile"),
        ("gemm", "coop_tile_m") | ("gemm", "coop_tile_n") => int(
            128,
            "8 subgroups of 4 x 2 fragments: few registers (the H100's 128 x 256 are in its entry)",
        ),
        ("gemm", "coop_tile_k") => int(32, "two 16-deep fragment steps per slice"),
        ("gemm", "coop_frag_m") => int(4, "a 64 x 32 block per subgroup"),
        ("gemm", "coop_frag_n") => int(2, "a 64 x 32 block per subgroup"),
        ("gemm", "coop_pad") => choice(
            "8",
            "rows 80 bytes apart: a fragment load hits every bank once (64-byte rows: 2.7x slower on an H100)",
        ),
        ("gemm", "coop_stages") => int(2, "one barrier per slice"),
        ("gemm", "coop_stage_width") => choice(
            "1",
            "scalar f16 elements: the form every cooperative-matrix driver must accept",
        ),
        ("gemm", "coop_swap") => choice(
            "no",
            "C's fragments stored as computed; the H100's entry says yes (its driver's row-major fragment stores are slow)",
        ),
        ("gemm", "coop_stage_type") => choice(
            "halves",
            "plain loads and stores; fragments staged by cooperative stores were faster for A*B on an H100 (its entry says auto)",
        ),
        ("gemm", "thread_m") | ("gemm", "thread_n") => int(4, "4x4 register block"),
        ("topk", "radix_min_k") => int(
            32,
            "not measured below; k = 64 of 4 096 is the IVF coarse step",
        ),
        ("topk", "list_merge_max_k") => int(
            256,
            "k-NN candidate lists; past it the bound passes too few",
        ),
        ("topk", "radix_max_cols") => int(16384, "a few reads of a 64 KiB row stay in cache"),
        ("topk", "thread_queue") => int(
            4,
            "small candidate buffers keep occupancy (measured on an H200)",
        ),
        ("knn", "tile_bytes") => int(256 << 20, "256 MiB"),
        ("knn", "tiny_tile_n") => int((4 * max_inv).min(256), "64 invocations, within the adapter"),
        ("knn", "tiny_tile_k") => int(16, "the GEMM's"),
        ("knn", "min_segment") => int(
            if cpu { 64 } else { 4096 },
            "one query over 1M x 128 on an H200: 0.31 ms with 4096-vector segments, 0.40 with 1024",
        ),
        ("knn", "loop_budget") if cpu => int(
            60_000,
            "llvmpipe (LP_MAX_TGSI_LOOP_ITERATIONS) stops all loops of an invocation after 65 535 iterations",
        ),
        ("knn", "loop_budget") => int(0, "no driver limit known"),
        ("knn", "candidate_slots") => int(16, "a quarter of a 64-wide tile per merge"),
        ("knn", "first_tile_bound") => int(1, "fewer first-tile candidates, same results"),
        ("knn", "top1") => int(1, "no list merges for k = 1, same results"),
        ("knn", "stream") => choice("auto", "by capability (subgroups)"),
        ("knn", "exact_path") => choice(
            "f32",
            "the verified path pays only where f16 products are fast (measured per adapter)",
        ),
        ("knn", "verified_min_queries") => int(
            256,
            "1M x 128 on an H100: 128 queries 1.74 ms verified against 1.49 f32, 256 1.95 against 2.68 (2026-11-27)",
        ),
        ("knn", "verified_stream") => int(
            1,
            "one query over 1M x 128 on an H100: 0.170 ms verified against 0.230 f32 (2026-11-27)",
        ),
        ("knn", "half_product") => choice("auto", "by capability (cooperative matrices)"),
        ("knn", "half_teams") => int(
            8,
            "10 000 x 1M x 128 on an H200: 46 ms with 8 staged teams, 69 with 4 (2026-11-26)",
        ),
        ("knn", "half_stage") => int(
            1,
            "10 000 x 1M x 128 on an H200: 46 ms staged with 8 teams, 81 unstaged (2026-11-26)",
        ),
        ("knn", "half_tile_queries") => int(
            0,
            "off until measured on the adapter (the fused kernel needs no tile memory)",
        ),
        ("knn", "half_tile_kc") => int(0, "off until measured on the adapter"),
        ("knn", "tiled_max_queries") => int(0, "off until measured on the adapter"),
        ("knn", "half_keys_teams") => int(
            1,
            "1M x 128 on an H100: 64 queries 0.750 ms with one team, 0.777 with 2 or 4 (2026-11-27)",
        ),
        ("knn", "half_keys_steps") => int(
            8,
            "the query fragments loaded once per 256 base rows; thousands of workgroups for 1M rows",
        ),
        ("knn", "half_keys_tiled") => int(0, "off until measured on the adapter"),
        ("knn", "half_survivors") => int(0, "off until measured on the adapter"),
        ("knn", "half_survivor_cap") => int(
            4096,
            "the selection sorts a query's survivors in workgroup memory: 4 096 keys and ids are 32 KiB",
        ),
        ("knn", "half_survivor_ranges") => int(0, "sized from the base and the candidates"),
        ("knn", "half_survivor_queries") => int(0, "off until measured on the adapter"),
        ("knn", "half_unroll") => int(
            1,
            "the loads of all steps in flight at once (10 000 x 1M x 128 on an H100: 37.6 ms, 96.2 looped; 2026-11-27)",
        ),
        ("knn", "half_col_pad") => choice("0", "columns of 32 floats, back to back"),
        ("knn", "stream_lanes") => int(8, "a 512-byte row (d = 128) as 8 lanes x 4 vec4 loads"),
        ("knn", "stream_segment") => int(
            if cpu { 512 } else { 2048 },
            "a few steps per workgroup on a CPU; a few workgroups per SM for 1M rows",
        ),
        ("knn", "target_groups") => int(
            if cpu { 8 } else { 1024 },
            "a few waves of workgroups (one per core on a CPU)",
        ),
        ("qr", "dot_threshold") => int(512, "issue default"),
        ("svd", "band") => int(64, "a GEMM-friendly band"),
        _ => unreachable!(
            "every PARAMS entry has a heuristic: {}.{}",
            spec.family, spec.key
        ),
    }
}

fn check(spec: &ParamSpec, raw: &Value) -> std::result::Result<ParamValue, String> {
    match spec.kind {
        Kind::Int { min, max, pow2 } => {
            let v = match raw {
                Value::Number(n) => n.as_u64().ok_or("not a non-negative integer")?,
                Value::String(s) => s
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| "not a non-negative integer")?,
                _ => return Err("not a non-negative integer".into()),
            };
            if v < min || v > max {
                return Err(format!("out of range {min}..={max}"));
            }
            if pow2 && !v.is_power_of_two() {
                return Err("not a power of two".into());
            }
            Ok(ParamValue::Int(v))
        }
        Kind::Choice(options) => {
            let s = raw.as_str().ok_or("not a string")?.trim();
            if options.contains(&s) {
                Ok(ParamValue::Choice(s.to_string()))
            } else {
                Err(format!("expected one of {}", options.join(", ")))
            }
        }
    }
}

fn show(raw: &Value) -> String {
    match raw {
        Value::String(s) => format!("{s:?}"),
        v => v.to_string(),
    }
}

/// Checks that an entry of the config holds only known families and keys, with valid values.
fn check_entry(file: &str, path: &str, entry: &Value) -> Result<()> {
    let bad = |key: String, value: String, reason: &str| Error::Tuning {
        source_name: file.to_string(),
        key,
        value,
        reason: reason.to_string(),
    };
    let obj = entry.as_object().ok_or_else(|| {
        bad(
            path.to_string(),
            show(entry),
            "expected an object of families",
        )
    })?;
    for (family, keys) in obj {
        let fpath = format!("{path}.{family}");
        if !PARAMS.iter().any(|p| p.family == family) {
            return Err(bad(fpath, show(keys), "unknown family"));
        }
        let keys = keys
            .as_object()
            .ok_or_else(|| bad(fpath.clone(), show(keys), "expected an object of keys"))?;
        for (key, raw) in keys {
            let kpath = format!("{fpath}.{key}");
            let spec =
                spec(family, key).ok_or_else(|| bad(kpath.clone(), show(raw), "unknown key"))?;
            check(spec, raw).map_err(|reason| bad(kpath, show(raw), &reason))?;
        }
    }
    Ok(())
}

const BACKENDS: &[&str] = &["vulkan", "metal", "dx12", "gl", "webgpu"];

/// The entries of the file that apply to this adapter, most specific first, with their paths.
fn layers<'a>(
    file: &str,
    root: &'a Value,
    caps: &Capabilities,
) -> Result<Vec<(String, &'a Value)>> {
    let bad = |key: &str, value: &Value, reason: &str| Error::Tuning {
        source_name: file.to_string(),
        key: key.to_string(),
        value: show(value),
        reason: reason.to_string(),
    };
    let obj = root
        .as_object()
        .ok_or_else(|| bad("(top level)", root, "expected an object"))?;
    for (k, v) in obj {
        match k.as_str() {
            "version" => {
                if v.as_u64() != Some(1) {
                    return Err(bad("version", v, "only version 1 is understood"));
                }
            }
            "comment" => {}
            "default" => check_entry(file, "default", v)?,
            b if BACKENDS.contains(&b) => {
                let adapters = v
                    .as_object()
                    .ok_or_else(|| bad(k, v, "expected an object of adapter entries"))?;
                for (name, entry) in adapters {
                    if name != "comment" {
                        check_entry(file, &format!("{k}.{name}"), entry)?;
                    }
                }
            }
            _ => {
                return Err(bad(
                    k,
                    v,
                    "unknown top-level key (expected version, default, or a backend: vulkan, metal, dx12, gl, webgpu)",
                ));
            }
        }
    }
    let mut out = Vec::new();
    if let Some(adapters) = obj.get(&caps.backend).and_then(Value::as_object) {
        let exact = adapters.get_key_value(caps.name.as_str());
        let by_substring = adapters
            .iter()
            .filter(|(k, _)| {
                k.as_str() != "default" && k.as_str() != "comment" && caps.name.contains(k.as_str())
            })
            .max_by_key(|(k, _)| k.len());
        if let Some((name, entry)) = exact.or(by_substring) {
            out.push((format!("{}.{name}", caps.backend), entry));
        }
        if let Some(entry) = adapters.get("default") {
            out.push((format!("{}.default", caps.backend), entry));
        }
    }
    if let Some(entry) = obj.get("default") {
        out.push(("default".to_string(), entry));
    }
    Ok(out)
}

/// What is wrong with a GEMM tile configuration `(tile_m, tile_n, tile_k, thread_m,
/// thread_n)` on this adapter, if anything.
pub fn gemm_tiles_problem(tiles: (u32, u32, u32, u32, u32), caps: &Capabilities) -> Option<String> {
    let (tm, tn, tk, rm, rn) = tiles;
    if !matches!(rm, 4 | 8) || !matches!(rn, 4 | 8) {
        return Some("thread_m and thread_n must be 4 or 8".into());
    }
    if !tm.is_power_of_two() || !tn.is_power_of_two() || tm < rm || tn < rn {
        return Some(
            "tile_m and tile_n must be powers of two, at least thread_m and thread_n".into(),
        );
    }
    if tk == 0 {
        return Some("tile_k must be positive".into());
    }
    let threads = (tm / rm) * (tn / rn);
    if threads > caps.max_invocations_per_workgroup {
        return Some(format!(
            "(tile_m/thread_m)*(tile_n/thread_n) = {threads} threads, above the adapter's {}",
            caps.max_invocations_per_workgroup
        ));
    }
    // Two k-major tiles of vec4 rows, each padded by one vec4.
    let shared = u64::from((tm / 4 + 1 + tn / 4 + 1) * tk) * 16;
    if shared > u64::from(caps.workgroup_memory_bytes) {
        return Some(format!(
            "{shared} bytes of workgroup memory, above the adapter's {}",
            caps.workgroup_memory_bytes
        ));
    }
    None
}

impl Tuning {
    /// Resolves every parameter for an adapter.
    ///
    /// `env` looks up an environment variable (pass `|k| std::env::var(k).ok()` for the real
    /// environment); `overrides` are settings from code, keyed by variable name.
    pub fn resolve(
        caps: &Capabilities,
        config: &ConfigSource,
        env: &dyn Fn(&str) -> Option<String>,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Tuning> {
        let (file, root) = config.load()?;
        let layers = layers(&file, &root, caps)?;
        for name in overrides.keys() {
            if !PARAMS.iter().any(|p| &p.env_var() == name) {
                return Err(Error::Tuning {
                    source_name: "GpuOptions::overrides".into(),
                    key: name.clone(),
                    value: overrides[name].clone(),
                    reason: "unknown parameter (names are WGFAISS_<FAMILY>_<KEY>)".into(),
                });
            }
        }
        let mut params = BTreeMap::new();
        for spec in PARAMS {
            let var = spec.env_var();
            let from_text = |text: &str, source: Source, source_name: String| {
                check(spec, &Value::String(text.to_string()))
                    .map(|value| Resolved { value, source })
                    .map_err(|reason| Error::Tuning {
                        source_name,
                        key: var.clone(),
                        value: format!("{text:?}"),
                        reason,
                    })
            };
            let resolved = if let Some(text) = overrides.get(&var) {
                from_text(
                    text,
                    Source::Option { name: var.clone() },
                    "GpuOptions::overrides".into(),
                )?
            } else if let Some(text) = env(&var) {
                from_text(
                    &text,
                    Source::Env { var: var.clone() },
                    format!("environment variable {var}"),
                )?
            } else if let Some((key, raw)) = layers.iter().find_map(|(path, entry)| {
                entry
                    .get(spec.family)
                    .and_then(|f| f.get(spec.key))
                    .map(|raw| (format!("{path}.{}.{}", spec.family, spec.key), raw))
            }) {
                // Values in the file were checked in `layers`.
                let value = check(spec, raw).expect("checked");
                Resolved {
                    value,
                    source: Source::Config {
                        file: file.clone(),
                        key,
                    },
                }
            } else {
                let (value, why) = heuristic(spec, caps);
                Resolved {
                    value,
                    source: Source::Heuristic { why },
                }
            };
            params.insert(format!("{}.{}", spec.family, spec.key), resolved);
        }
        let tuning = Tuning {
            config: file,
            matched_entry: layers.first().map(|(p, _)| p.clone()),
            params,
        };
        tuning.check_against(caps)?;
        Ok(tuning)
    }

    /// Cross-parameter and adapter-limit checks.
    fn check_against(&self, caps: &Capabilities) -> Result<()> {
        let max_inv = u64::from(caps.max_invocations_per_workgroup);
        let too_big = |name: &str, v: u64, reason: String| {
            let r = &self.params[name];
            Err(Error::Tuning {
                source_name: r.source.to_string(),
                key: name.to_string(),
                value: v.to_string(),
                reason,
            })
        };
        for name in ["reduce.workgroup_size", "topk.workgroup_size"] {
            let v = self.int(name);
            if v > max_inv {
                return too_big(
                    name,
                    v,
                    format!("above the adapter's {max_inv} invocations per workgroup"),
                );
            }
        }
        let tiles = (
            self.int("gemm.tile_m") as u32,
            self.int("gemm.tile_n") as u32,
            self.int("gemm.tile_k") as u32,
            self.int("gemm.thread_m") as u32,
            self.int("gemm.thread_n") as u32,
        );
        if let Some(reason) = gemm_tiles_problem(tiles, caps) {
            return too_big("gemm.tile_m", u64::from(tiles.0), reason);
        }
        Ok(())
    }

    /// An integer parameter by `family.key`. Panics on an unknown or non-integer name: names
    /// are compile-time constants of this crate.
    pub fn int(&self, name: &str) -> u64 {
        match &self
            .params
            .get(name)
            .unwrap_or_else(|| panic!("no tuning parameter {name}"))
            .value
        {
            ParamValue::Int(v) => *v,
            ParamValue::Choice(_) => panic!("tuning parameter {name} is not an integer"),
        }
    }

    /// A choice parameter by `family.key` (same contract as [`Tuning::int`]).
    pub fn choice(&self, name: &str) -> &str {
        match &self
            .params
            .get(name)
            .unwrap_or_else(|| panic!("no tuning parameter {name}"))
            .value
        {
            ParamValue::Choice(v) => v,
            ParamValue::Int(_) => panic!("tuning parameter {name} is not a choice"),
        }
    }

    /// A parameter with its source.
    pub fn get(&self, name: &str) -> Option<&Resolved> {
        self.params.get(name)
    }
}

//! `wgfaiss`: the command-line tool of wgfaiss.

/// `println!` that ends the program quietly when stdout is closed (`wgfaiss info | head`)
/// instead of panicking on the broken pipe.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            panic!("writing to stdout: {e}");
        }
    }};
}

mod bench;
mod dataset;
mod demo;
mod flat;
mod gemm;
mod info;
mod ivf;
mod qr;
mod search;
mod serve;
mod svd;
mod topk;
mod tune;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Portable GPU vector search over wgpu.
#[derive(Parser)]
#[command(name = "wgfaiss", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The adapter, its capabilities, and the resolved tuning entry with each value's source.
    Info {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The main job on generated data, on whatever adapter exists: an IVF index trained and
    /// searched with recall against the exact flat index (checked against the CPU), QPS, then
    /// every reduction checked against the CPU.
    Demo {
        /// Base vectors.
        #[arg(long, default_value_t = 20_000)]
        base: usize,
        /// Queries.
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// Dimension.
        #[arg(long, default_value_t = 64)]
        dim: usize,
        /// Neighbours per query.
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// Elements of the generated array for the reductions.
        #[arg(long, default_value_t = 1_000_003)]
        n: usize,
        /// Seed of the generated data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Trains and fills an index from a base file and saves it.
    Build {
        /// `Flat` or `IVF<nlist>,Flat`, optionally behind `PCA<d>,` (`PCAW<d>,` whitens).
        #[arg(long)]
        index_type: String,
        /// l2 (squared distances), ip (inner product) or cosine.
        #[arg(long, default_value = "l2")]
        metric: String,
        /// Base vectors: .fvecs, .bvecs or .npy.
        #[arg(long)]
        base: std::path::PathBuf,
        /// The index file to write.
        #[arg(long)]
        out: std::path::PathBuf,
        /// Seed of k-means (IVF).
        #[arg(long, default_value_t = 1234)]
        seed: u64,
        /// k-means iterations (IVF).
        #[arg(long, default_value_t = 20)]
        niter: usize,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// k nearest neighbours of each query: exact over a base file (flat index on the GPU), or
    /// with a saved index.
    Search {
        /// Base vectors: .fvecs, .bvecs or .npy (f32, f64, u8, i32, i64; 2-D).
        #[arg(long, required_unless_present = "index", conflicts_with = "index")]
        base: Option<std::path::PathBuf>,
        /// An index written by `wgfaiss build`.
        #[arg(long)]
        index: Option<std::path::PathBuf>,
        /// Query vectors, same formats and dimension.
        #[arg(long)]
        queries: std::path::PathBuf,
        /// Neighbours per query (1..=2048).
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// Lists probed (IVF indexes).
        #[arg(long, default_value_t = 1)]
        nprobe: usize,
        /// IVF list scan: auto (the tuning's ivf.scan), fused (a running top-k per list
        /// block) or keys (every distance written, one top-k per query).
        #[arg(long, default_value = "auto")]
        scan: String,
        /// exact (the faster exact path for the adapter: f32, or f16-verified where the
        /// tuning's knn.exact_path says so), f32 (the f32 kernel), f16 (flat index: candidates
        /// from f16 products, tensor cores where the adapter has them, re-ranked exactly; may
        /// miss neighbours, see BENCHMARKS.md) or f16-verified (flat index: f16 with a proof
        /// per query that no neighbour was missed, and an f32 search of the queries it fails
        /// for: exact results).
        #[arg(long, default_value = "exact")]
        precision: String,
        /// With --base: l2 (squared distances), ip (inner product) or cosine.
        #[arg(long, default_value = "l2")]
        metric: String,
        /// Ids out: .ivecs (i32) or .npy (i64); -1 pads when the base has fewer than k.
        #[arg(long)]
        out: std::path::PathBuf,
        /// Distances (or similarities) out: .fvecs or .npy.
        #[arg(long)]
        distances: Option<std::path::PathBuf>,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// Measures candidate kernel parameters on this adapter and writes or merges its entry in
    /// a tuning file (a copy of the shipped table when the file does not exist yet); use the
    /// file with WGFAISS_CONFIG.
    Tune {
        /// The tuning file to write or merge into.
        #[arg(long, default_value = "wgfaiss-tuning.json")]
        out: std::path::PathBuf,
        /// Comma-separated families: gemm, gemm_coop (the f16 tensor-core GEMM), knn, topk,
        /// ivf (the IVF list scan), tiles (the f16 search's key tiles against its fused
        /// kernel), exact (the flat index's exact path: f32 or verified f16; after tiles, with
        /// the thresholds tiles found).
        #[arg(long, default_value = "gemm,gemm_coop,knn,topk,ivf,tiles,exact")]
        families: String,
        /// Small problems (always on CPU adapters).
        #[arg(long)]
        quick: bool,
    },
    /// Measure kernels against the adapter's streaming-read bandwidth.
    Bench {
        #[command(subcommand)]
        what: bench::What,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Info { json } => info::run(json),
        Command::Demo {
            base,
            queries,
            dim,
            k,
            n,
            seed,
        } => demo::run(base, queries, dim, k, n, seed),
        Command::Build {
            index_type,
            metric,
            base,
            out,
            seed,
            niter,
            quiet,
        } => search::build(&index_type, &metric, &base, &out, seed, niter, quiet),
        Command::Search {
            base,
            index,
            queries,
            k,
            nprobe,
            scan,
            precision,
            metric,
            out,
            distances,
            quiet,
        } => {
            let source = match (&base, &index) {
                (_, Some(path)) => search::Source::Index(path),
                (Some(path), None) => search::Source::Base(path, &metric),
                (None, None) => anyhow::bail!("give --base or --index"),
            };
            search::search(
                source,
                &queries,
                k,
                nprobe,
                (&scan, &precision),
                &out,
                distances.as_deref(),
                quiet,
            )
        }
        Command::Bench { what } => bench::run(what),
        Command::Tune {
            out,
            families,
            quick,
        } => tune::run(&out, &families, quick),
    }
}

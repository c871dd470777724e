//! # wgfaiss
//!
//! Portable GPU vector search over wgpu (Vulkan, Metal, DX12): one Rust codebase for every GPU,
//! no C++ or CUDA toolchain. This crate holds the indexes ([`FlatIndex`] today; IVF, k-means
//! and the factory next) and re-exports the GPU layer they are built on ([`wgfaiss_core`]):
//! the runtime, the tuning layer and the kernels.
//!
//! ```no_run
//! use wgfaiss::{FlatIndex, Gpu, Index, Metric, SearchParams};
//!
//! let gpu = Gpu::new()?;
//! let dim = 8;
//! let base: Vec<f32> = (0..1000 * dim).map(|i| ((i * 7919) % 1013) as f32).collect();
//! let mut index = FlatIndex::new(&gpu, dim, Metric::L2)?;
//! index.add(&base)?;
//! let r = index.search(&base[..dim], 5, &SearchParams::default())?;
//! assert_eq!(r.ids[0], 0); // a vector is its own nearest neighbour
//! # Ok::<(), wgfaiss::Error>(())
//! ```

#![deny(missing_docs)]

pub mod coalesce;
pub mod factory;
pub mod flat;
pub mod index;
pub mod io;
pub mod ivf;
pub mod kmeans;
pub mod pca;
pub mod persist;

pub use coalesce::{Coalescer, CoalescerStats};
pub use factory::{index_factory, index_factory_with, load_index};
pub use flat::FlatIndex;
pub use index::{Index, MAX_K, Metric, Precision, SearchParams, SearchResult};
pub use ivf::IvfFlatIndex;
pub use kmeans::{Kmeans, KmeansInit, KmeansParams, kmeans};
pub use pca::{PcaIndex, PcaTransform};
pub use wgfaiss_core::ops::ivf::ScanMode;

pub use wgfaiss_core::{
    Batch, BatchReport, Capabilities, CoopMatrixConfig, Error, Gpu, GpuBuffer, GpuOptions, Result,
    Source, SplitBuffer, Tuning, buffer, device, kernels, ops, rng, submit, tuning, wgpu,
};

//! # wgfaiss
//!
//! Portable GPU vector search over wgpu (Vulkan, Metal, DX12): one Rust codebase for every GPU,
//! no C++ or CUDA toolchain. This crate will hold the indexes (Flat, IVF), k-means and the
//! factory; today it re-exports the GPU layer they are built on ([`wgfaiss_core`]): the
//! runtime, the tuning layer and the first kernels (reductions).
//!
//! ```no_run
//! use wgfaiss::{Gpu, ops::reduce::ReduceOp};
//!
//! let gpu = Gpu::new()?;
//! let data: Vec<f32> = (0..10_000).map(|i| ((i * 7919) % 10_007) as f32).collect();
//! let r = gpu.reduce(&data, ReduceOp::ArgMax)?;
//! assert_eq!(r.value, 10_006.0);
//! # Ok::<(), wgfaiss::Error>(())
//! ```

#![deny(missing_docs)]

pub use wgfaiss_core::{
    Batch, BatchReport, Capabilities, CoopMatrixConfig, Error, Gpu, GpuBuffer, GpuOptions, Result,
    Source, SplitBuffer, Tuning, buffer, device, kernels, ops, rng, submit, tuning,
};

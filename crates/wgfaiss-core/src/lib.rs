//! # wgfaiss-core
//!
//! The GPU layer of wgfaiss: it opens an adapter through wgpu (Vulkan, Metal, DX12), compiles
//! WGSL kernel families once per set of override constants, moves data to and from the device
//! (splitting what exceeds one storage binding), records dispatches in batches, and resolves
//! per-adapter tuning parameters from `config/hardware_params.json`. It knows nothing about
//! indexes; the `wgfaiss` crate builds those on top.
//!
//! ```no_run
//! use wgfaiss_core::{Gpu, ops::reduce::ReduceOp};
//!
//! let gpu = Gpu::new()?; // WGFAISS_ADAPTER picks an adapter by name
//! let data: Vec<f32> = (0..1000).map(|i| (i as f32).sin()).collect();
//! let max = gpu.reduce(&data, ReduceOp::ArgMax)?;
//! println!("max {} at {:?} on {}", max.value, max.index, gpu.capabilities().name);
//! # Ok::<(), wgfaiss_core::Error>(())
//! ```
//!
//! Modules: [`device`] (adapter choice, features, limits), [`kernels`] (the WGSL registry and
//! pipeline cache), [`buffer`] (typed buffers, upload/readback, split data), [`submit`]
//! (batched dispatches, timestamps), [`tuning`] (the config and its precedence) and [`ops`]
//! (one module per kernel family).

#![deny(missing_docs)]

pub mod buffer;
pub mod device;
pub mod error;
pub mod kernels;
pub mod ops;
mod poller;
pub mod rng;
pub mod staging;
pub mod submit;
pub mod tuning;

/// The wgpu this crate is built on (plans hold its bind groups and buffers).
pub use wgpu;

pub use buffer::{GpuBuffer, SplitBuffer};
pub use device::{Capabilities, CoopMatrixConfig, Gpu, GpuOptions};
pub use error::{Error, Result};
pub use staging::ReadBytes;
pub use submit::{Batch, BatchReport, host_profile};
pub use tuning::{Source, Tuning};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Gpu>();
    }
}

//! The one error type of wgfaiss-core.

use std::path::PathBuf;

/// Everything that can go wrong in wgfaiss-core. Messages say what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No GPU adapter could be opened.
    #[error(
        "no GPU adapter found{detail}. wgfaiss needs a Vulkan, Metal or DX12 adapter; on a headless \
         Linux machine install the software Vulkan driver with `apt-get install mesa-vulkan-drivers` \
         (lavapipe), or check WGFAISS_ADAPTER / WGPU_BACKEND"
    )]
    NoAdapter {
        /// Extra context: which filter excluded which adapters.
        detail: String,
    },
    /// The adapter refused to create a device.
    #[error("could not open a device on adapter {adapter:?}: {message}")]
    RequestDevice {
        /// Adapter name.
        adapter: String,
        /// The driver's or wgpu's message.
        message: String,
    },
    /// A tuning file or variable is malformed.
    #[error("tuning: {source_name}: key `{key}`: bad value {value}: {reason}")]
    Tuning {
        /// The file or environment variable the value came from.
        source_name: String,
        /// Key path inside it (for example `vulkan.llvmpipe.reduce.workgroup_size`).
        key: String,
        /// The offending value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A tuning file could not be read or parsed at all.
    #[error("tuning: cannot read {path}: {reason}")]
    TuningFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The caller passed something out of range or of the wrong shape.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A WGSL kernel failed to compile or validate.
    #[error("kernel {family}::{entry} failed to compile: {message}")]
    Kernel {
        /// Kernel family name.
        family: &'static str,
        /// Entry point.
        entry: &'static str,
        /// The validator's message.
        message: String,
    },
    /// The device reported an error (validation, out of memory, device lost).
    #[error("GPU error: {0}")]
    Gpu(String),
    /// A file could not be read or written.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A file is not what it should be (truncated, corrupted, another format).
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A wait on the device exceeded its bound.
    #[error("GPU timed out after {0:?} waiting for {1}")]
    Timeout(std::time::Duration, &'static str),
}

/// Shorthand for results in wgfaiss-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

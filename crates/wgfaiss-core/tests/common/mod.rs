//! Helpers shared by the integration tests: a seeded RNG and the shared test GPU.
#![allow(dead_code)]

use std::sync::OnceLock;

use wgfaiss_core::{Gpu, GpuOptions};

#[allow(unused_imports)]
pub use wgfaiss_core::rng::Rng;

/// Fresh seed per call, from the test name and a counter, printed so failures can be replayed.
pub fn seed(tag: &str) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let s = t ^ COUNTER
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_mul(0x2545_F491_4F6C_DD1D);
    eprintln!("{tag}: seed {s}");
    s
}

/// Options that ignore the caller's WGFAISS_* tuning variables, so tests are repeatable.
pub fn options() -> GpuOptions {
    GpuOptions {
        ignore_env: true,
        ..Default::default()
    }
}

/// The GPU all default-option tests share. No adapter is a failure, never a skip.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| {
        Gpu::with_options(options()).unwrap_or_else(|e| panic!("tests need a GPU adapter: {e}"))
    })
}

/// A GPU whose storage bindings are limited to `bytes`, to force split data.
pub fn gpu_with_binding_limit(bytes: u64) -> Gpu {
    Gpu::with_options(options().with_override("WGFAISS_BUFFERS_MAX_BINDING_BYTES", bytes))
        .unwrap_or_else(|e| panic!("tests need a GPU adapter: {e}"))
}

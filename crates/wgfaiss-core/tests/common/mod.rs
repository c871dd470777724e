//! Helpers shared by the integration tests: a seeded RNG and the shared test GPU.
#![allow(dead_code)]

use std::sync::OnceLock;

use wgfaiss_core::{Gpu, GpuOptions};

/// SplitMix64: small, seeded, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn f32(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f32()).collect()
    }
}

/// Fresh seed per call, from the test name and a counter, printed so failures can be replayed.
pub fn seed(tag: &str) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let s = t ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x2545_F491_4F6C_DD1D);
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

//! Criterion benchmark of the reductions on whatever adapter is present (wall time per run,
//! including submission and the wait). Wall times on lavapipe say nothing about a GPU; the
//! figures that count come from `wgfaiss bench reduce` on the GPU machine (BENCHMARKS.md).
//!
//! `cargo bench -p wgfaiss --bench reduce` (WGFAISS_BENCH_N sets the length, default 2^24).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wgfaiss::Gpu;
use wgfaiss::ops::reduce::{ReduceOp, ReduceOptions, ReducePath, Reduction};
use wgfaiss::ops::stream::{Pattern, StreamRead};
use wgfaiss::rng::Rng;

fn reduce(c: &mut Criterion) {
    let gpu = Gpu::new().expect("a GPU adapter (lavapipe: apt-get install mesa-vulkan-drivers)");
    let n: usize = std::env::var("WGFAISS_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 24);
    let x = Rng::new(1).vec(n);
    let data = gpu.upload_split(&x, 4).expect("upload");
    let mut group = c.benchmark_group(format!("reduce/{}", gpu.capabilities().name));
    group.throughput(Throughput::Bytes(n as u64 * 4));
    group.sample_size(20);
    let stream = StreamRead::new(&gpu, &data, 256, 4096, Pattern::GridStride).expect("plan");
    group.bench_function("stream_read", |b| {
        b.iter(|| {
            let mut batch = gpu.batch(false);
            stream.record(&mut batch);
            batch.finish().expect("run")
        })
    });
    let mut paths = vec![ReducePath::Shared];
    if gpu.capabilities().subgroups {
        paths.push(ReducePath::Subgroup);
    }
    for op in [ReduceOp::Sum, ReduceOp::ArgMax] {
        for &path in &paths {
            let opts = ReduceOptions::with_path(path);
            let plan = Reduction::new(&gpu, &data, op, &opts).expect("plan");
            group.bench_function(format!("{op:?}/{path:?}"), |b| {
                b.iter(|| {
                    let mut batch = gpu.batch(false);
                    plan.record(&mut batch);
                    batch.finish().expect("run")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, reduce);
criterion_main!(benches);

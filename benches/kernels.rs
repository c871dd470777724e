//! Criterion benchmarks of the GEMM, top-k and QR kernels on whatever adapter is present (wall
//! time per run, including submission and the wait). Wall times on lavapipe say nothing about
//! a GPU; the figures that count come from `wgfaiss bench gemm|topk|qr` on the GPU machine,
//! with their torch peers (BENCHMARKS.md).
//!
//! `cargo bench -p wgfaiss --bench kernels` (WGFAISS_BENCH_SCALE multiplies the sizes).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wgfaiss::Gpu;
use wgfaiss::ops::gemm::{Gemm, GemmOptions, GemmShape};
use wgfaiss::ops::linalg::{QrDot, QrProject};
use wgfaiss::ops::topk::{TopKOptions, TopKPlan};
use wgfaiss::rng::Rng;

fn scale() -> usize {
    std::env::var("WGFAISS_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

fn run(gpu: &Gpu, record: impl Fn(&mut wgfaiss::Batch<'_>)) {
    let mut batch = gpu.batch(false);
    record(&mut batch);
    batch.finish().expect("run");
}

fn kernels(c: &mut Criterion) {
    let gpu = Gpu::new().expect("a GPU adapter (lavapipe: apt-get install mesa-vulkan-drivers)");
    let s = scale();
    let mut rng = Rng::new(3);
    let name = gpu.capabilities().name.clone();

    let mut g = c.benchmark_group(format!("gemm/{name}"));
    g.sample_size(10);
    for (m, n, k, tb) in [
        (256 * s, 256 * s, 256 * s, false),
        (256 * s, 256 * s, 256 * s, true),
        (16, 1024 * s, 256 * s, true),
    ] {
        let shape = GemmShape {
            trans_b: tb,
            ..GemmShape::new(m, n, k)
        };
        let (la, lb, lc) = shape.lens();
        let (a, b, out) = (
            gpu.upload(&rng.vec(la)).expect("upload"),
            gpu.upload(&rng.vec(lb)).expect("upload"),
            gpu.alloc::<f32>(lc).expect("alloc"),
        );
        let plan = Gemm::new(&gpu, &a, &b, &out, shape, &GemmOptions::default()).expect("plan");
        g.throughput(Throughput::Elements(shape.flops() as u64));
        g.bench_function(
            format!("{m}x{n}x{k}{}", if tb { " nt" } else { "" }),
            |bch| bch.iter(|| run(&gpu, |batch| plan.record(batch))),
        );
    }
    g.finish();

    let mut g = c.benchmark_group(format!("topk/{name}"));
    g.sample_size(10);
    let (rows, cols) = (64, 16_384 * s);
    let data = gpu
        .upload_split(&rng.vec(rows * cols), cols)
        .expect("upload");
    g.throughput(Throughput::Bytes((rows * cols * 4) as u64));
    for k in [10, 256] {
        let plan = TopKPlan::new(&gpu, &data, rows, cols, k, false, &TopKOptions::default())
            .expect("plan");
        g.bench_function(format!("{rows}x{cols} k{k}"), |bch| {
            bch.iter(|| run(&gpu, |batch| plan.record(batch)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group(format!("qr/{name}"));
    g.sample_size(10);
    let (m, k) = (4096 * s, 64);
    let (q, v, out) = (
        gpu.upload(&rng.vec(m * k)).expect("upload"),
        gpu.upload(&rng.vec(m)).expect("upload"),
        gpu.alloc::<f32>(k).expect("alloc"),
    );
    g.throughput(Throughput::Bytes((m * k * 4) as u64));
    let mut forms = vec![QrDot::Simple];
    if gpu.capabilities().subgroups {
        forms.push(QrDot::Subgroup);
    }
    for form in forms {
        let plan = QrProject::new(&gpu, &q, &v, &out, m, k, Some(form)).expect("plan");
        g.bench_function(format!("Q^T v {m}x{k} {form:?}"), |bch| {
            bch.iter(|| run(&gpu, |batch| plan.record(batch)))
        });
    }
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);

//! `search_async`: the same answers as `search`, under pollster and under a minimal
//! single-thread executor that runs many searches at once (woken by the readback callbacks).

#[path = "../../wgfaiss-core/tests/common/mod.rs"]
mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use common::{Rng, seed};
use wgfaiss::{FlatIndex, Gpu, Index, IvfFlatIndex, Metric, SearchParams, SearchResult};

/// Wakes the executor's thread and counts wake-ups.
struct Unpark(std::thread::Thread, AtomicUsize);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.unpark();
    }
}

/// Polls every future until all are done, parking between rounds; returns the outputs and
/// the wake-ups seen.
fn run_all<T>(mut futs: Vec<Pin<Box<dyn Future<Output = T> + '_>>>) -> (Vec<T>, usize) {
    let unpark = Arc::new(Unpark(std::thread::current(), AtomicUsize::new(0)));
    let waker = Waker::from(unpark.clone());
    let mut cx = Context::from_waker(&waker);
    let mut out: Vec<Option<T>> = futs.iter().map(|_| None).collect();
    while out.iter().any(Option::is_none) {
        for (i, f) in futs.iter_mut().enumerate() {
            if out[i].is_none()
                && let Poll::Ready(v) = f.as_mut().poll(&mut cx)
            {
                out[i] = Some(v);
            }
        }
        if out.iter().any(Option::is_none) {
            std::thread::park_timeout(std::time::Duration::from_secs(1));
        }
    }
    (
        out.into_iter().map(Option::unwrap).collect(),
        unpark.1.load(Ordering::SeqCst),
    )
}

fn same(a: &SearchResult, b: &SearchResult) {
    assert_eq!(a.ids, b.ids);
    assert_eq!(a.distances, b.distances);
}

#[test]
fn async_flat_search_equals_search() {
    // Batches of 7 queries: a 20-query search is three submissions awaited in turn.
    let gpu = Gpu::with_options(common::options().with_override("WGFAISS_SUBMIT_QUERY_BATCH", 7))
        .unwrap();
    let mut rng = Rng::new(seed("async flat"));
    let d = 12;
    let mut flat = FlatIndex::new(&gpu, d, Metric::L2).unwrap();
    flat.add(&rng.vec(900 * d)).unwrap();
    let q = rng.vec(20 * d);
    let p = SearchParams {
        timed: true,
        ..Default::default()
    };
    // Fused (k = 10) and unfused (k = 300, beyond the fused kernel's lists) paths.
    for k in [10, 300] {
        let want = flat.search(&q, k, &p).unwrap();
        let got = pollster::block_on(flat.search_async(&q, k, &p)).unwrap();
        same(&got, &want);
        assert_eq!(got.gpu_seconds.is_some(), want.gpu_seconds.is_some());
    }
    // Many searches in flight on one thread.
    let parts: Vec<&[f32]> = q.chunks(d * 2).collect();
    let futs = parts
        .iter()
        .map(|part| Box::pin(flat.search_async(part, 5, &p)) as Pin<Box<dyn Future<Output = _>>>)
        .collect();
    let (results, wakes) = run_all::<wgfaiss::Result<SearchResult>>(futs);
    for (part, r) in parts.iter().zip(results) {
        same(&r.unwrap(), &flat.search(part, 5, &p).unwrap());
    }
    assert!(wakes > 0, "the readback callbacks should wake the executor");
    // Bad input is an error, as for search.
    assert!(pollster::block_on(flat.search_async(&q[..5], 5, &p)).is_err());
    assert!(pollster::block_on(flat.search_async(&q, 0, &p)).is_err());
}

#[test]
fn async_ivf_search_equals_search() {
    let gpu = common::gpu();
    let mut rng = Rng::new(seed("async ivf"));
    let d = 16;
    let base = rng.vec(1200 * d);
    let mut ivf = IvfFlatIndex::new(gpu, d, 10, Metric::L2).unwrap();
    ivf.kmeans.niter = 4;
    ivf.train(&base).unwrap();
    ivf.add(&base).unwrap();
    let q = rng.vec(30 * d);
    for nprobe in [1, 4, 10] {
        let p = SearchParams {
            nprobe,
            ..Default::default()
        };
        let want = ivf.search(&q, 7, &p).unwrap();
        let got = pollster::block_on(ivf.search_async(&q, 7, &p)).unwrap();
        same(&got, &want);
    }
    let p = SearchParams {
        nprobe: 3,
        ..Default::default()
    };
    let futs = q
        .chunks(3 * d)
        .map(|part| Box::pin(ivf.search_async(part, 4, &p)) as Pin<Box<dyn Future<Output = _>>>)
        .collect();
    let (results, _) = run_all::<wgfaiss::Result<SearchResult>>(futs);
    for (part, r) in q.chunks(3 * d).zip(results) {
        same(&r.unwrap(), &ivf.search(part, 4, &p).unwrap());
    }
    let bad = SearchParams {
        nprobe: 11,
        ..Default::default()
    };
    assert!(pollster::block_on(ivf.search_async(&q, 4, &bad)).is_err());
}

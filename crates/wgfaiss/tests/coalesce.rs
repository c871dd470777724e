//! Coalescing: many threads with single queries get exactly what one batched search gives,
//! in far fewer searches; bad input stays with its caller; a failing search reaches every
//! caller of its batch; a caller alone is served.

#[path = "../../wgfaiss-core/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{Rng, gpu, seed};
use wgfaiss::{
    Coalescer, FlatIndex, Index, IvfFlatIndex, Metric, Precision, Result, ScanMode, SearchParams,
    SearchResult,
};

/// An index that counts searches and can fail them.
struct Counting {
    inner: FlatIndex,
    searches: AtomicUsize,
    /// Searches recorded ahead by the flat index.
    ahead: AtomicUsize,
    fail: bool,
}

impl Index for Counting {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn metric(&self) -> Metric {
        self.inner.metric()
    }
    fn ntotal(&self) -> usize {
        self.inner.ntotal()
    }
    fn is_trained(&self) -> bool {
        true
    }
    fn train(&mut self, d: &[f32]) -> Result<()> {
        self.inner.train(d)
    }
    fn add(&mut self, d: &[f32]) -> Result<()> {
        self.inner.add(d)
    }
    fn add_with_ids(&mut self, d: &[f32], ids: &[i64]) -> Result<()> {
        self.inner.add_with_ids(d, ids)
    }
    fn search(&self, q: &[f32], k: usize, p: &SearchParams) -> Result<SearchResult> {
        self.searches.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(wgfaiss::Error::Gpu("injected: device lost".into()));
        }
        Ok(marked(
            self.inner.search(q, k, &SearchParams::default())?,
            p,
        ))
    }
    fn search_recorded_ahead(
        &self,
        nq: usize,
        k: usize,
        p: &SearchParams,
        gather: &mut dyn FnMut() -> Option<Vec<f32>>,
    ) -> Option<Result<SearchResult>> {
        if self.fail {
            gather()?;
            self.searches.fetch_add(1, Ordering::SeqCst);
            return Some(Err(wgfaiss::Error::Gpu("injected: device lost".into())));
        }
        let r = self
            .inner
            .search_recorded_ahead(nq, k, &SearchParams::default(), gather)?;
        self.searches.fetch_add(1, Ordering::SeqCst);
        self.ahead.fetch_add(1, Ordering::SeqCst);
        Some(r.map(|r| marked(r, p)))
    }
    fn remove_ids(&mut self, ids: &[i64]) -> Result<usize> {
        self.inner.remove_ids(ids)
    }
    fn reconstruct(&self, id: i64) -> Result<Vec<f32>> {
        self.inner.reconstruct(id)
    }
    fn reset(&mut self) -> Result<()> {
        self.inner.reset()
    }
    fn save(&self, path: &Path) -> Result<()> {
        self.inner.save(path)
    }
}

/// The parameters leave a mark on the distances (a caller served with another caller's
/// parameters gets other values).
fn marked(mut r: SearchResult, p: &SearchParams) -> SearchResult {
    let mark = 1000.0 * p.nprobe as f32
        + if p.precision == Precision::F16 {
            1e5
        } else {
            0.0
        }
        + if p.scan.is_some() { 1e6 } else { 0.0 };
    r.distances.iter_mut().for_each(|v| *v += mark - 1000.0);
    r
}

fn index(fail: bool, d: usize, base: &[f32]) -> Arc<Counting> {
    let mut inner = FlatIndex::new(gpu(), d, Metric::L2).unwrap();
    inner.add(base).unwrap();
    Arc::new(Counting {
        inner,
        searches: AtomicUsize::new(0),
        ahead: AtomicUsize::new(0),
        fail,
    })
}

#[test]
fn many_single_queries_equal_one_batch_in_few_searches() {
    let mut rng = Rng::new(seed("coalesce"));
    let d = 16;
    let base = rng.vec(2000 * d);
    let (threads, per) = (64, 5);
    let queries = rng.vec(threads * per * d);
    let idx = index(false, d, &base);
    let p = SearchParams::default();
    // The reference: every query in one batch, for k = 5 and k = 9.
    let want: Vec<SearchResult> = [5, 9]
        .iter()
        .map(|&k| idx.inner.search(&queries, k, &p).unwrap())
        .collect();
    // One batch at a time, and three in flight (concurrent searches of one batch size use
    // separate cached plans); wake-ups in a tree of 4 (the default), a chain (1) and all from
    // the finishing thread (64).
    for (in_flight, fan_out) in [(1, 4), (3, 4), (1, 1), (1, 64)] {
        let before = idx.searches.load(Ordering::SeqCst);
        // A caller whose wake-up is lost sleeps until its 20 s bound and then finds its
        // results: the time check below fails instead of the test taking 120 s per round.
        let co = Arc::new(
            Coalescer::with(idx.clone(), Duration::from_millis(300), 1 << 20)
                .in_flight(in_flight)
                .fan_out(fan_out)
                .timeout(Duration::from_secs(20)),
        );
        let began = std::time::Instant::now();
        let start = Arc::new(Barrier::new(threads));
        std::thread::scope(|s| {
            for t in 0..threads {
                let (co, start, queries, want) = (co.clone(), start.clone(), &queries, &want);
                s.spawn(move || {
                    start.wait();
                    for i in 0..per {
                        let qi = t * per + i;
                        // Half the threads ask for k = 5, half for 9: two groups per batch.
                        let (k, w) = if t % 2 == 0 {
                            (5, &want[0])
                        } else {
                            (9, &want[1])
                        };
                        let r = co.search(&queries[qi * d..(qi + 1) * d], k, &p).unwrap();
                        assert_eq!(r.nq, 1);
                        assert_eq!(r.ids, w.ids_of(qi), "thread {t} query {qi}");
                        assert_eq!(r.distances, w.distances_of(qi), "thread {t} query {qi}");
                    }
                });
            }
        });
        assert!(
            began.elapsed() < Duration::from_secs(15),
            "{:?}: a caller waited out its bound ({in_flight} in flight, fan-out {fan_out})",
            began.elapsed()
        );
        let searches = idx.searches.load(Ordering::SeqCst) - before;
        assert!(
            searches < threads * per / 4,
            "{searches} searches for {} calls ({in_flight} in flight)",
            threads * per
        );
    }
    // A caller alone is served (and a multi-query call keeps its rows together).
    let co = Coalescer::with(idx.clone(), Duration::from_millis(300), 1 << 20).in_flight(3);
    let r = co.search(&queries[..3 * d], 5, &p).unwrap();
    assert_eq!(r.ids, want[0].ids[..15]);
}

#[test]
fn callers_with_other_parameters_get_their_own_searches() {
    let mut rng = Rng::new(seed("coalesce params"));
    let d = 8;
    let base = rng.vec(500 * d);
    let (threads, per) = (16, 3);
    let queries = rng.vec(threads * per * d);
    let idx = index(false, d, &base);
    let kinds = [
        SearchParams::default(),
        SearchParams {
            nprobe: 2,
            ..Default::default()
        },
        SearchParams {
            precision: Precision::F16,
            ..Default::default()
        },
        SearchParams {
            scan: Some(ScanMode::Keys),
            ..Default::default()
        },
    ];
    let want: Vec<SearchResult> = kinds
        .iter()
        .map(|p| idx.search(&queries, 4, p).unwrap())
        .collect();
    let co = Arc::new(Coalescer::with(
        idx.clone(),
        Duration::from_millis(300),
        1 << 20,
    ));
    let start = Arc::new(Barrier::new(threads));
    std::thread::scope(|s| {
        for t in 0..threads {
            let (co, start, queries, want, kinds) =
                (co.clone(), start.clone(), &queries, &want, &kinds);
            s.spawn(move || {
                start.wait();
                for i in 0..per {
                    let qi = t * per + i;
                    let kind = (t + i) % kinds.len();
                    let r = co
                        .search(&queries[qi * d..(qi + 1) * d], 4, &kinds[kind])
                        .unwrap();
                    // Other batch sizes run other kernels: equal up to f32 rounding; the marks
                    // of other parameters are 1 000 apart.
                    for (a, b) in r.distances.iter().zip(want[kind].distances_of(qi)) {
                        assert!((a - b).abs() <= 1e-3, "{:?}: {a} vs {b}", kinds[kind]);
                    }
                    assert_eq!(r.ids, want[kind].ids_of(qi));
                }
            });
        }
    });
}

#[test]
fn bad_input_stays_with_its_caller_and_failures_reach_everyone() {
    let mut rng = Rng::new(seed("coalesce errors"));
    let d = 8;
    let base = rng.vec(300 * d);
    let q = rng.vec(d);
    let p = SearchParams::default();
    // Bad input: an error for that call only.
    let good = Arc::new(Coalescer::with(
        index(false, d, &base),
        Duration::from_millis(50),
        64,
    ));
    std::thread::scope(|s| {
        let bad = s.spawn(|| good.search(&[f32::NAN; 8], 3, &p));
        let ok = s.spawn(|| good.search(&q, 3, &p));
        assert!(bad.join().unwrap().unwrap_err().to_string().contains("NaN"));
        assert_eq!(ok.join().unwrap().unwrap().ids.len(), 3);
    });
    assert!(good.search(&q, 0, &p).is_err());
    assert!(good.search(&q[..5], 3, &p).is_err());
    // A failing search: every caller of the batch gets the error, nobody hangs.
    let failing = Arc::new(Coalescer::with(
        index(true, d, &base),
        Duration::from_millis(100),
        1000,
    ));
    let start = Barrier::new(16);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    failing.search(&q, 2, &p)
                })
            })
            .collect();
        for h in handles {
            let e = h.join().unwrap().unwrap_err();
            assert!(e.to_string().contains("injected: device lost"), "{e}");
        }
    });
}

#[test]
fn a_caller_alone_waits_at_most_the_window() {
    // Bounds are loose (seconds): they catch a lone caller left waiting for company (the
    // bounded wait is 120 s), not speed.
    let mut rng = Rng::new(seed("coalesce alone"));
    let d = 8;
    let base = rng.vec(300 * d);
    let q = rng.vec(d);
    let idx = index(false, d, &base);
    let want = idx.inner.search(&q, 3, &SearchParams::default()).unwrap();
    // A full batch (one query here) goes at once, long before a 20 s window.
    let co = Coalescer::with(idx.clone(), Duration::from_secs(20), 1);
    let t = std::time::Instant::now();
    let r = co.search(&q, 3, &SearchParams::default()).unwrap();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(r.ids, want.ids);
    // Otherwise the window, and not much more.
    let co = Coalescer::with(idx.clone(), Duration::from_millis(300), 1 << 20);
    let t = std::time::Instant::now();
    let r = co.search(&q, 3, &SearchParams::default()).unwrap();
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert_eq!(r.ids, want.ids);
}

#[test]
fn adaptive_batches_start_when_their_callers_are_back() {
    // Six callers, four rounds each, a 2 s window. Only the first batch waits out the window
    // (nothing is expected yet); every later one starts once the last batch's callers are
    // back. Waiting out the window each time would take 8 s or more. Results stay exact.
    let mut rng = Rng::new(seed("coalesce adaptive"));
    let d = 8;
    let base = rng.vec(300 * d);
    let idx = index(false, d, &base);
    let (threads, rounds) = (6, 4);
    let queries: Vec<Vec<f32>> = (0..threads * rounds).map(|_| rng.vec(d)).collect();
    // The references first: searched between rounds, they delayed the callers' return (on an
    // H100, with the other tests compiling their kernels beside, past the window once).
    let want: Vec<Vec<i64>> = queries
        .iter()
        .map(|q| {
            idx.inner
                .search(q, 3, &SearchParams::default())
                .unwrap()
                .ids
        })
        .collect();
    let co = Arc::new(Coalescer::with(idx.clone(), Duration::from_secs(2), 1 << 20).adaptive(true));
    let start = Barrier::new(threads);
    let t = std::time::Instant::now();
    std::thread::scope(|s| {
        for c in 0..threads {
            let (co, queries, want, start) = (co.clone(), &queries, &want, &start);
            s.spawn(move || {
                start.wait();
                for r in 0..rounds {
                    let q = &queries[c * rounds + r];
                    let got = co.search(q, 3, &SearchParams::default()).unwrap();
                    assert_eq!(got.ids, want[c * rounds + r], "caller {c} round {r}");
                }
            });
        }
    });
    let took = t.elapsed();
    assert!(took < Duration::from_secs(6), "{took:?}");
    assert!(
        took >= Duration::from_secs(2),
        "the first batch waits the window: {took:?}"
    );
    // A caller alone after them waits the window once (six queries were expected back), and
    // from then on its one query is all that is expected: no window at all.
    let q = rng.vec(d);
    let t = std::time::Instant::now();
    co.search(&q, 3, &SearchParams::default()).unwrap();
    assert!(t.elapsed() >= Duration::from_secs(2), "{:?}", t.elapsed());
    let t = std::time::Instant::now();
    for _ in 0..3 {
        co.search(&q, 3, &SearchParams::default()).unwrap();
    }
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

/// `threads` callers started together; caller t searches queries t · stride .. + per(t) one
/// at a time through `co` (k and parameters of `want`'s search) and gets exactly `want`'s rows.
fn callers_get_the_batched_rows(
    co: &Coalescer,
    (threads, stride): (usize, usize),
    per: impl Fn(usize) -> usize + Sync,
    queries: &[f32],
    p: &SearchParams,
    want: &SearchResult,
) {
    let d = co.index().dim();
    let start = Barrier::new(threads);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (start, per) = (&start, &per);
            s.spawn(move || {
                start.wait();
                for i in 0..per(t) {
                    let qi = t * stride + i;
                    let r = co
                        .search(&queries[qi * d..(qi + 1) * d], want.k, p)
                        .unwrap();
                    assert_eq!(r.ids, want.ids_of(qi), "thread {t} query {qi}");
                    assert_eq!(r.distances, want.distances_of(qi), "thread {t} query {qi}");
                }
            });
        }
    });
}

#[test]
fn batches_recorded_ahead_give_the_batched_answers() {
    // 32 callers with one k: from the second batch on, the flat index records each batch's
    // search while its callers come back. Callers stop after 3 or 4 queries, so the last
    // batches come out smaller than the one recorded for (searched as usual). The answers are
    // the batched search's, with the option on and off.
    let mut rng = Rng::new(seed("coalesce ahead"));
    let d = 12;
    let base = rng.vec(1500 * d);
    let threads = 32;
    let queries = rng.vec(threads * 4 * d);
    let idx = index(false, d, &base);
    let p = SearchParams::default();
    let want = idx.inner.search(&queries, 7, &p).unwrap();
    for (adaptive, ahead) in [(true, true), (false, true), (true, false)] {
        let before = idx.ahead.load(Ordering::SeqCst);
        let co = Arc::new(
            Coalescer::with(idx.clone(), Duration::from_millis(100), 1 << 20)
                .adaptive(adaptive)
                .record_ahead(ahead)
                .timeout(Duration::from_secs(20)),
        );
        callers_get_the_batched_rows(&co, (threads, 4), |t| 3 + t % 2, &queries, &p, &want);
        let st = co.stats();
        let by_index = idx.ahead.load(Ordering::SeqCst) - before;
        assert_eq!(st.recorded_ahead as usize, by_index);
        if ahead {
            assert!(
                st.recorded_ahead > 0,
                "adaptive {adaptive}: nothing recorded ahead"
            );
            assert!(st.recorded_ahead < st.searches, "the first batch cannot be");
        } else {
            assert_eq!(st.recorded_ahead, 0);
        }
    }
}

#[test]
fn a_batch_of_another_shape_is_searched_as_usual() {
    // One caller at a time, so each call is one batch: the shape recorded ahead is the last
    // call's (queries padded to 16 or 32, k, parameters). Only a call of the same shape is
    // searched with the recorded commands; the others are searched as usual, and every
    // answer is the index's own.
    let mut rng = Rng::new(seed("coalesce shapes"));
    let d = 8;
    let base = rng.vec(700 * d);
    let idx = index(false, d, &base);
    let co = Coalescer::with(idx.clone(), Duration::from_millis(1), 1 << 20);
    let f16 = SearchParams {
        precision: Precision::F16,
        ..SearchParams::default()
    };
    let calls: [(usize, usize, SearchParams, u64); 6] = [
        (1, 5, SearchParams::default(), 0),  // nothing to record ahead yet
        (20, 5, SearchParams::default(), 0), // 32 rows, 16 were recorded
        (3, 7, SearchParams::default(), 0),  // k differs
        (1, 7, SearchParams::default(), 1),  // 16 rows, k = 7, as the last one
        (2, 7, f16, 1),                      // other parameters
        (16, 7, f16, 2),                     // as the last one
    ];
    for (n, k, p, ahead) in calls {
        let q = rng.vec(n * d);
        let got = co.search(&q, k, &p).unwrap();
        // The batch as searched: padded with its first query to a multiple of 16 (the search
        // path, so the rounding, depends on the batch size).
        let mut padded = q.clone();
        while padded.len() < n.next_multiple_of(16) * d {
            padded.extend_from_slice(&q[..d]);
        }
        let want = marked(
            idx.inner
                .search(&padded, k, &SearchParams::default())
                .unwrap(),
            &p,
        );
        assert_eq!(got.ids, want.ids[..n * k], "{n} queries, k = {k}");
        assert_eq!(
            got.distances,
            want.distances[..n * k],
            "{n} queries, k = {k}"
        );
        assert_eq!(co.stats().recorded_ahead, ahead, "{n} queries, k = {k}");
    }
}

#[test]
fn a_failing_search_recorded_ahead_reaches_every_caller() {
    let mut rng = Rng::new(seed("coalesce ahead fails"));
    let d = 8;
    let base = rng.vec(300 * d);
    let q = rng.vec(d);
    let failing = Arc::new(
        Coalescer::with(index(true, d, &base), Duration::from_millis(20), 1000)
            .adaptive(true)
            .timeout(Duration::from_secs(20)),
    );
    let start = Barrier::new(8);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                start.wait();
                for _ in 0..4 {
                    let e = failing.search(&q, 2, &SearchParams::default()).unwrap_err();
                    assert!(e.to_string().contains("injected: device lost"), "{e}");
                }
            });
        }
    });
    assert!(failing.stats().recorded_ahead > 0);
}

#[test]
fn ivf_batches_recorded_ahead_give_the_batched_answers() {
    // The IVF index records ahead too: 24 callers with one k and nprobe, adaptive, get what
    // one batched search of all their queries gives, with recording ahead on and off.
    let mut rng = Rng::new(seed("coalesce ivf ahead"));
    let d = 8;
    let base = rng.vec(2000 * d);
    let mut ivf = IvfFlatIndex::new(gpu(), d, 16, Metric::L2).unwrap();
    ivf.train(&base).unwrap();
    ivf.add(&base).unwrap();
    let ivf: Arc<dyn Index> = Arc::new(ivf);
    let threads = 24;
    let queries = rng.vec(threads * 3 * d);
    let p = SearchParams {
        nprobe: 4,
        ..SearchParams::default()
    };
    let want = ivf.search(&queries, 6, &p).unwrap();
    for ahead in [true, false] {
        let co = Arc::new(
            Coalescer::with(ivf.clone(), Duration::from_millis(100), 1 << 20)
                .adaptive(true)
                .record_ahead(ahead)
                .timeout(Duration::from_secs(20)),
        );
        callers_get_the_batched_rows(&co, (threads, 3), |_| 3, &queries, &p, &want);
        let st = co.stats();
        if ahead {
            assert!(st.recorded_ahead > 0, "nothing recorded ahead");
        } else {
            assert_eq!(st.recorded_ahead, 0);
        }
    }
}

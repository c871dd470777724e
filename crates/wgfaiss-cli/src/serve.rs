//! `wgfaiss bench serve`: single-query searches from many threads, with and without the
//! coalescer, against one batched search of the same queries (flat or IVF index, the SIFT1M
//! stand-in data of `bench ivf`), and the most that many waiting callers can reach: a device
//! round trip and one search of as many queries as there are callers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use wgfaiss::rng::Rng;
use wgfaiss::{Coalescer, FlatIndex, Gpu, Index, IvfFlatIndex, Metric, Precision, SearchParams};

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Wall seconds of each of `n` calls of `f`.
fn seconds_each(n: usize, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f()?;
            Ok(t.elapsed().as_secs_f64())
        })
        .collect()
}

pub fn bench(
    kind: &str,
    (nb, nq): (usize, usize),
    threads: usize,
    nprobe: usize,
    window_us: Option<u64>,
    k: usize,
    precision: Precision,
) -> Result<()> {
    if nb == 0 || nq == 0 || threads == 0 {
        bail!("sizes must be positive");
    }
    let d = 128;
    let gpu = Gpu::new().context("opening a GPU")?;
    let mut rng = Rng::new(2024);
    let c = crate::ivf::gaussian(&mut rng, 10_000.min(nb) * d);
    let base = crate::ivf::around(&mut rng, &c, d, nb);
    let queries = crate::ivf::around(&mut rng, &c, d, nq);
    let index: Arc<dyn Index> = match kind {
        "flat" => {
            let mut f = FlatIndex::new(&gpu, d, Metric::L2)?;
            f.add(&base)?;
            Arc::new(f)
        }
        "ivf" => {
            let nlist = ((nb as f64).sqrt() as usize * 4).clamp(1, nb);
            let mut f = IvfFlatIndex::new(&gpu, d, nlist, Metric::L2)?;
            f.train(&base)?;
            f.add(&base)?;
            Arc::new(f)
        }
        other => bail!("--index {other:?}: expected flat or ivf"),
    };
    let p = SearchParams {
        nprobe,
        precision,
        ..Default::default()
    };
    index.search(&queries, k, &p)?;
    crate::bench::warm_clocks(&gpu)?;
    let t = Instant::now();
    let batch = index.search(&queries, k, &p)?;
    let batch_s = t.elapsed().as_secs_f64();
    outln!(
        "{kind} index, {nb} x {d}, {nq} queries, k = {k}{}, precision {precision:?} on {}",
        if kind == "ivf" {
            format!(", nprobe {nprobe}")
        } else {
            String::new()
        },
        gpu.capabilities().name
    );
    outln!(
        "{:<28} {:>12} {:>10} {:>10}",
        "mode",
        "QPS",
        "p50 ms",
        "p99 ms"
    );
    outln!(
        "{:<28} {:>12.0} {:>10} {:>10}",
        "one batch",
        nq as f64 / batch_s,
        "-",
        "-"
    );
    // What one cycle of `threads` waiting callers cannot go below: a device round trip (a
    // 4-byte readback, no work) and one search of `threads` queries on its own (the batch the
    // coalescer forms at best). Callers that wait for their results keep at most `threads`
    // queries outstanding, so `threads` over that search's time bounds every coalesced mode.
    let probe = gpu.alloc::<u32>(1)?;
    let mut rt = seconds_each(500, || {
        gpu.read(&probe)?;
        Ok(())
    })?;
    let outstanding = threads.min(nq);
    let group = &queries[..outstanding * d];
    index.search(group, k, &p)?; // the plan of this batch size
    let mut one = seconds_each(50, || {
        index.search(group, k, &p)?;
        Ok(())
    })?;
    let (rt50, one50) = (percentile(&mut rt, 0.5), percentile(&mut one, 0.5));
    outln!(
        "{:<28} {:>12} {:>10.3} {:>10.3}",
        "device round trip",
        "-",
        rt50 * 1e3,
        percentile(&mut rt, 0.99) * 1e3
    );
    outln!(
        "{:<28} {:>12.0} {:>10.3} {:>10.3}",
        format!("one search of {outstanding} queries"),
        outstanding as f64 / one50,
        one50 * 1e3,
        percentile(&mut one, 0.99) * 1e3
    );
    outln!(
        "  with {threads} callers waiting for their results, at most {:.0} QPS ({:.0} % of one batch)",
        outstanding as f64 / one50,
        100.0 * outstanding as f64 / one50 / (nq as f64 / batch_s)
    );
    // The same search after the host slept or spun for a coalesced cycle's idle part (~0.3
    // ms: the callers' hand-out and return): the first tells an idle-state cost (host or
    // device) from the search's own, the second keeps the host busy and leaves the device idle.
    let pause = Duration::from_micros(300);
    for (how, spin) in [("asleep", false), ("spinning", true)] {
        let mut after = Vec::with_capacity(50);
        for _ in 0..50 {
            if spin {
                let t = Instant::now();
                while t.elapsed() < pause {
                    std::hint::spin_loop();
                }
            } else {
                std::thread::sleep(pause);
            }
            let t = Instant::now();
            index.search(group, k, &p)?;
            after.push(t.elapsed().as_secs_f64());
        }
        outln!(
            "{:<28} {:>12} {:>10.3} {:>10.3}",
            format!("  after 0.3 ms {how}"),
            "-",
            percentile(&mut after, 0.5) * 1e3,
            percentile(&mut after, 0.99) * 1e3
        );
    }
    // The coalescer with the adaptive start on and off (`submit.coalesce_adaptive`), then no
    // coalescing.
    let make = |adaptive: bool| {
        let co = match window_us {
            Some(w) => Coalescer::with(index.clone(), Duration::from_micros(w), nq)
                .in_flight(gpu.tuning().int("submit.coalesce_in_flight") as usize),
            None => Coalescer::new(index.clone(), &gpu),
        };
        Arc::new(co.adaptive(adaptive))
    };
    for (mode, coalescer) in [
        ("coalesced, adaptive", Some(make(true))),
        ("coalesced, window", Some(make(false))),
        ("one by one", None),
    ] {
        // Twice: the first run makes the plans of the batch sizes it meets and compiles their
        // pipelines (once per process); the second, reported, is the steady state.
        let mut lat = Vec::new();
        let mut s = 0.0;
        let mut before = None;
        for pass in 0..2 {
            if pass == 1 {
                before = coalescer.as_ref().map(|c| c.stats());
            }
            lat.clear();
            crate::bench::warm_clocks(&gpu)?;
            let t = Instant::now();
            std::thread::scope(|s| -> Result<()> {
                let handles: Vec<_> = (0..threads)
                    .map(|w| {
                        let (co, index, queries, p, batch) =
                            (&coalescer, &index, &queries, &p, &batch);
                        s.spawn(move || -> Result<Vec<f64>> {
                            let mut lat = Vec::new();
                            for qi in (w..nq).step_by(threads) {
                                let q = &queries[qi * d..(qi + 1) * d];
                                let t = Instant::now();
                                let r = match co {
                                    Some(co) => co.search(q, k, p)?,
                                    None => index.search(q, k, p)?,
                                };
                                lat.push(t.elapsed().as_secs_f64());
                                if r.ids != batch.ids_of(qi) {
                                    bail!("query {qi}: ids differ from the batched search");
                                }
                            }
                            Ok(lat)
                        })
                    })
                    .collect();
                for h in handles {
                    lat.extend(h.join().expect("worker")?);
                }
                Ok(())
            })?;
            s = t.elapsed().as_secs_f64();
        }
        outln!(
            "{:<28} {:>12.0} {:>10.3} {:>10.3}",
            format!("{threads} threads, {mode}"),
            nq as f64 / s,
            percentile(&mut lat, 0.5) * 1e3,
            percentile(&mut lat, 0.99) * 1e3
        );
        if let (Some(coalescer), Some(before)) = (&coalescer, before) {
            let mut st = coalescer.stats();
            st.searches -= before.searches;
            st.queries -= before.queries;
            st.search_seconds -= before.search_seconds;
            st.gather_seconds -= before.gather_seconds;
            st.run_seconds -= before.run_seconds;
            st.hand_out_seconds -= before.hand_out_seconds;
            st.between_seconds -= before.between_seconds;
            st.recorded_ahead -= before.recorded_ahead;
            st.followed -= before.followed;
            let per = |v: f64| v * 1e3 / st.searches.max(1) as f64;
            outln!(
                "  coalescer: {} batched searches, {:.1} queries each, {:.3} ms each in the index ({:.3} in the batch's run), {:.3} handing out, {:.3} from the rows to the next gathering ({} times), {:.3} gathering, {} recorded ahead (window {} us, {} in flight)",
                st.searches,
                st.queries as f64 / st.searches.max(1) as f64,
                per(st.search_seconds),
                per(st.run_seconds),
                per(st.hand_out_seconds),
                st.between_seconds * 1e3 / st.followed.max(1) as f64,
                st.followed,
                per(st.gather_seconds),
                st.recorded_ahead,
                window_us.unwrap_or(gpu.tuning().int("submit.coalesce_window_us")),
                gpu.tuning().int("submit.coalesce_in_flight")
            );
        }
    }
    Ok(())
}

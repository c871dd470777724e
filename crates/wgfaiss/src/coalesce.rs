//! Many callers, one GPU: concurrent searches gathered into batched searches.
//!
//! A [`Coalescer`] wraps an index shared by many threads. Each [`Coalescer::search`] call adds
//! its queries to a pending set; the first caller that finds no batch being gathered (and
//! fewer than `submit.coalesce_in_flight` batches running) becomes the gatherer: it waits until
//! enough queries (`submit.coalesce_max_queries`) are pending, or the window
//! (`submit.coalesce_window_us`) has passed and no batch is running (with two in flight, the
//! next batch gathers while one runs and starts when it ends) — or, adaptive
//! (`submit.coalesce_adaptive`), as soon as the queries expected back are pending: those of
//! the last finished batch plus those that arrived while it ran (callers of a batch are blocked
//! until it finishes, so steady callers all return; waiting out the window then only idles
//! the device) —, takes them all, lets the next caller gather
//! the following batch, searches its batch as one search per (k, nprobe), and hands every
//! caller exactly its own rows. Up to `submit.coalesce_in_flight` batches run at once (the indexes keep
//! `submit.in_flight` plans per batch size, so they do not wait for each other's plan): one uploads
//! and submits while another runs on the device or is read back. A caller alone waits at most
//! the window. Input is checked per call before it joins a batch, so one bad call cannot
//! fail the others; an error of the batched search itself (a lost device, an allocation) goes
//! to every caller of that batch. Waits are bounded (`Error::Timeout`).
//!
//! Calls block; for futures, see `FlatIndex::search_async` and `IvfFlatIndex::search_async`
//! (a coalescing future is not built).

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use wgfaiss_core::{Error, Result};

use crate::index::{Index, SearchParams, SearchResult, check_k, check_vectors};

/// How long a caller waits for its batch before giving up.
const WAIT: Duration = Duration::from_secs(120);

struct Request {
    queries: Vec<f32>,
    k: usize,
    params: SearchParams,
}

#[derive(Default)]
struct State {
    pending: Vec<(u64, Request)>,
    pending_queries: usize,
    done: HashMap<u64, Result<SearchResult>>,
    /// A caller is gathering the next batch.
    gathering: bool,
    /// Batches taken and not yet answered.
    running: usize,
    /// Queries expected in the next batch: the last finished batch's (its callers come back)
    /// and those pending when it finished (0: none known).
    expected: usize,
    next: u64,
}

/// Gathers concurrent searches of one index into batched searches. See the module docs.
pub struct Coalescer {
    index: Arc<dyn Index>,
    state: Mutex<State>,
    /// Callers waiting for their results or a turn to gather (woken once per finished batch).
    changed: Condvar,
    /// The gatherer waiting for more queries (woken by each arrival).
    arrived: Condvar,
    window: Duration,
    max_queries: usize,
    in_flight: usize,
    adaptive: bool,
    stats: Mutex<CoalescerStats>,
}

/// What a coalescer has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CoalescerStats {
    /// Batched searches run (one per batch and (k, nprobe) group).
    pub searches: u64,
    /// Queries in them, padding excluded.
    pub queries: u64,
    /// Wall seconds spent in the batched searches, summed over batches (which may overlap).
    pub search_seconds: f64,
}

impl Coalescer {
    /// A coalescer over `index` with the tuning entry's window and batch limit.
    pub fn new(index: Arc<dyn Index>, gpu: &wgfaiss_core::Gpu) -> Coalescer {
        let t = gpu.tuning();
        Coalescer::with(
            index,
            Duration::from_micros(t.int("submit.coalesce_window_us")),
            t.int("submit.coalesce_max_queries") as usize,
        )
        .in_flight(t.int("submit.coalesce_in_flight") as usize)
        .adaptive(t.int("submit.coalesce_adaptive") == 1)
    }

    /// Whether a batch starts as soon as the queries expected back are pending (see the module
    /// documentation; [`Coalescer::with`] starts with it off).
    pub fn adaptive(mut self, on: bool) -> Coalescer {
        self.adaptive = on;
        self
    }

    /// Batches that may run at once (at least 1; [`Coalescer::with`] starts with 1).
    pub fn in_flight(mut self, n: usize) -> Coalescer {
        self.in_flight = n.max(1);
        self
    }

    /// A coalescer with an explicit window and batch limit.
    pub fn with(index: Arc<dyn Index>, window: Duration, max_queries: usize) -> Coalescer {
        Coalescer {
            index,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            arrived: Condvar::new(),
            window,
            max_queries: max_queries.max(1),
            in_flight: 1,
            adaptive: false,
            stats: Mutex::new(CoalescerStats::default()),
        }
    }

    /// Searches, queries and search time so far (mean batch size = queries / searches).
    pub fn stats(&self) -> CoalescerStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The wrapped index.
    pub fn index(&self) -> &Arc<dyn Index> {
        &self.index
    }

    /// Searches `queries` (`nq × dim`) as part of whatever batch is being gathered; returns
    /// exactly this call's results.
    pub fn search(&self, queries: &[f32], k: usize, params: &SearchParams) -> Result<SearchResult> {
        check_k(k)?;
        let nq = check_vectors(queries, self.index.dim(), "search")?;
        if nq == 0 {
            return self.index.search(queries, k, params);
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let id = st.next;
        st.next += 1;
        st.pending.push((
            id,
            Request {
                queries: queries.to_vec(),
                k,
                params: *params,
            },
        ));
        st.pending_queries += nq;
        // Only the gatherer counts arrivals; the other callers sleep until a batch finishes
        // (waking all 64 callers of a benchmark on every arrival cost more CPU than the
        // search: thousands of futile wake-ups per batch).
        if st.gathering {
            self.arrived.notify_one();
        }
        let give_up = Instant::now() + WAIT;
        loop {
            if let Some(r) = st.done.remove(&id) {
                return r;
            }
            if !st.gathering
                && st.running < self.in_flight
                && st.pending.iter().any(|(i, _)| *i == id)
            {
                st.gathering = true;
                // Gather until the batch is full, or the window has passed and no batch is
                // running: while one runs (batches in flight > 1), the device is busy anyway,
                // so the next batch grows until it can start at once.
                let deadline = Instant::now() + self.window;
                let expected = if self.adaptive && st.expected > 0 {
                    st.expected
                } else {
                    usize::MAX
                };
                while st.pending_queries < self.max_queries {
                    let now = Instant::now();
                    if (now >= deadline || st.pending_queries >= expected) && st.running == 0 {
                        break;
                    }
                    let wait = if now < deadline { deadline - now } else { WAIT };
                    st = self
                        .arrived
                        .wait_timeout(st, wait)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                let batch = std::mem::take(&mut st.pending);
                let taken = std::mem::take(&mut st.pending_queries);
                st.gathering = false;
                st.running += 1;
                // Another caller may gather while this batch runs (with batches in flight
                // to spare and queries pending).
                if st.running < self.in_flight && !st.pending.is_empty() {
                    self.changed.notify_all();
                }
                drop(st);
                let results = self.run(batch);
                st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                st.done.extend(results);
                st.running -= 1;
                // Its callers are still blocked: everything pending arrived from others.
                st.expected = taken + st.pending_queries;
                self.changed.notify_all();
                // A gatherer waiting for the device to be free may start now.
                self.arrived.notify_one();
                continue;
            }
            let now = Instant::now();
            if now >= give_up {
                return Err(Error::Timeout(WAIT, "a coalesced search"));
            }
            st = self
                .changed
                .wait_timeout(st, give_up - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Searches a gathered batch: one search per (k, parameters), rows handed back.
    fn run(&self, batch: Vec<(u64, Request)>) -> Vec<(u64, Result<SearchResult>)> {
        let d = self.index.dim();
        let mut groups: HashMap<(usize, SearchParams), Vec<(u64, Request)>> = HashMap::new();
        for (id, r) in batch {
            groups.entry((r.k, r.params)).or_default().push((id, r));
        }
        let mut out = Vec::new();
        for ((k, _), reqs) in groups {
            let mut all: Vec<f32> = reqs
                .iter()
                .flat_map(|(_, r)| r.queries.iter().copied())
                .collect();
            // Pad (repeating the first query) to a multiple of 16 up to 64, a power of two
            // beyond: the index plans a search per batch size, and a handful of sizes keeps
            // its cached plans in use, while a batch of 33 no longer pays for 64.
            let n = all.len() / d;
            let padded = if n <= 64 {
                n.next_multiple_of(16)
            } else {
                n.next_power_of_two()
            }
            .min(self.max_queries.max(n));
            let first = all[..d].to_vec();
            for _ in n..padded {
                all.extend_from_slice(&first);
            }
            let started = Instant::now();
            let searched = self.index.search(&all, k, &reqs[0].1.params);
            {
                let mut st = self.stats.lock().unwrap_or_else(|p| p.into_inner());
                st.searches += 1;
                st.queries += n as u64;
                st.search_seconds += started.elapsed().as_secs_f64();
            }
            match searched {
                Ok(res) => {
                    let mut row = 0;
                    for (id, r) in reqs {
                        let n = r.queries.len() / d;
                        out.push((
                            id,
                            Ok(SearchResult {
                                nq: n,
                                k,
                                ids: res.ids[row * k..(row + n) * k].to_vec(),
                                distances: res.distances[row * k..(row + n) * k].to_vec(),
                                gpu_seconds: res.gpu_seconds,
                            }),
                        ));
                        row += n;
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    for (id, _) in reqs {
                        out.push((
                            id,
                            Err(Error::Gpu(format!("coalesced search failed: {msg}"))),
                        ));
                    }
                }
            }
        }
        out
    }
}

//! Many callers, one GPU: concurrent searches gathered into batched searches.
//!
//! A [`Coalescer`] wraps an index shared by many threads. Each [`Coalescer::search`] call adds
//! its queries to a pending set; the first caller that finds no batch being gathered becomes
//! the leader: it waits until the window (`submit.coalesce_window_us`) has passed or enough
//! queries (`submit.coalesce_max_queries`) are pending, takes them all, searches them as one
//! batch per (k, nprobe), and hands every caller exactly its own rows. A caller alone waits at
//! most the window. Input is checked per call before it joins a batch, so one bad call cannot
//! fail the others; an error of the batched search itself (a lost device, an allocation) goes
//! to every caller of that batch. Waits are bounded (`Error::Timeout`).
//!
//! Status: the synchronous coalescing. `search_async`, overlapped uploads/readbacks and the
//! benchmark of the concurrency issue are not built yet.

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
    leader: bool,
    next: u64,
}

/// Gathers concurrent searches of one index into batched searches. See the module docs.
pub struct Coalescer {
    index: Arc<dyn Index>,
    state: Mutex<State>,
    wake: Condvar,
    window: Duration,
    max_queries: usize,
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
    }

    /// A coalescer with an explicit window and batch limit.
    pub fn with(index: Arc<dyn Index>, window: Duration, max_queries: usize) -> Coalescer {
        Coalescer {
            index,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            window,
            max_queries: max_queries.max(1),
        }
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
        self.wake.notify_all();
        let give_up = Instant::now() + WAIT;
        loop {
            if let Some(r) = st.done.remove(&id) {
                return r;
            }
            if !st.leader && st.pending.iter().any(|(i, _)| *i == id) {
                st.leader = true;
                // Gather: until the window has passed or the batch is full.
                let deadline = Instant::now() + self.window;
                while st.pending_queries < self.max_queries {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    st = self
                        .wake
                        .wait_timeout(st, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                let batch = std::mem::take(&mut st.pending);
                st.pending_queries = 0;
                drop(st);
                let results = self.run(batch);
                st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                st.done.extend(results);
                st.leader = false;
                self.wake.notify_all();
                continue;
            }
            let now = Instant::now();
            if now >= give_up {
                return Err(Error::Timeout(WAIT, "a coalesced search"));
            }
            st = self
                .wake
                .wait_timeout(st, give_up - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Searches a gathered batch: one search per (k, nprobe, timed), rows handed back.
    fn run(&self, batch: Vec<(u64, Request)>) -> Vec<(u64, Result<SearchResult>)> {
        let d = self.index.dim();
        let mut groups: HashMap<(usize, usize, bool), Vec<(u64, Request)>> = HashMap::new();
        for (id, r) in batch {
            groups
                .entry((r.k, r.params.nprobe, r.params.timed))
                .or_default()
                .push((id, r));
        }
        let mut out = Vec::new();
        for ((k, _, _), reqs) in groups {
            let mut all: Vec<f32> = reqs
                .iter()
                .flat_map(|(_, r)| r.queries.iter().copied())
                .collect();
            // Pad to a power of two (repeating the first query): the index plans a search per
            // batch size, and a handful of sizes keeps its cached plans in use.
            let n = all.len() / d;
            let padded = n.next_power_of_two().min(self.max_queries.max(n));
            let first = all[..d].to_vec();
            for _ in n..padded {
                all.extend_from_slice(&first);
            }
            match self.index.search(&all, k, &reqs[0].1.params) {
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

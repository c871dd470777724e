//! Many callers, one GPU: concurrent searches gathered into batched searches.
//!
//! A [`Coalescer`] wraps an index shared by many threads. Each [`Coalescer::search`] call adds
//! its queries to a pending set; the first caller that finds no batch being gathered (and
//! fewer than `submit.coalesce_in_flight` batches running) becomes the gatherer: it waits until
//! enough queries (`submit.coalesce_max_queries`) are pending, or the window
//! (`submit.coalesce_window_us`) has passed and no batch is running (with two in flight, the
//! next batch gathers while one runs and starts when it ends) — or, adaptive
//! (`submit.coalesce_adaptive`), as soon as the queries expected back are pending and no
//! batch runs: those of finished batches whose callers have not called again, plus those
//! pending (callers of a batch are blocked until it finishes, so steady callers all return;
//! waiting out the window then only idles the device; callers that stay away are forgotten
//! once a batch has waited the window for them) —, takes them all, searches its batch as one
//! search per (k, nprobe), and hands every caller exactly its own rows.
//!
//! Every caller waits on its own slot (a mutex and a condition variable of its own), so a
//! finished batch wakes each of its callers once and no other; the gatherer's only wake-up is
//! the arrival it waits for. Wake-ups fan out (`submit.coalesce_fan_out`, 4): the gatherer
//! wakes four callers, each of which wakes four more before returning, so the last of 64 runs after three wake-ups in a row
//! instead of after 63 calls by one thread (one shared condition variable made every caller
//! of a batch queue on one mutex; on an H100, 64 callers went from 36k to 56k QPS). When a
//! batch ends with callers pending and nobody gathering, the oldest is told to gather.
//!
//! Recording ahead (`submit.coalesce_record_ahead`): after a batch that was one search, the
//! next gatherer has the index record a search of the same shape (queries padded, `k`,
//! parameters) while the callers come back — commands, readback copies, the command buffer
//! finished ([`Index::search_recorded_ahead`]) — and gives it the queries once they are here:
//! only writing them and submitting stay on the batch's path. A batch of another shape is
//! searched as usual. The flat and IVF indexes record ahead; an index that does not keeps the
//! trait's default and is searched as usual.
//!
//! Up to `submit.coalesce_in_flight` batches run at once (the indexes keep `submit.in_flight`
//! plans per batch size, so they do not wait for each other's plan): one uploads and submits
//! while another runs on the device or is read back. A caller alone waits at most the window.
//! Input is checked per call before it joins a batch, so one bad call cannot fail the others;
//! an error of the batched search itself (a lost device, an allocation) goes to every caller of
//! that batch. Waits are bounded (`Error::Timeout`).
//!
//! Calls block; for futures, see `FlatIndex::search_async` and `IvfFlatIndex::search_async`
//! (a coalescing future is not built).

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use wgfaiss_core::{Error, Result};

use crate::index::{Index, SearchParams, SearchResult, check_k, check_vectors};

/// How long a caller waits for its batch before giving up, unless [`Coalescer::timeout`]
/// says otherwise.
const WAIT: Duration = Duration::from_secs(120);

/// What a waiting caller is told.
enum Turn {
    /// Nothing yet.
    Wait,
    /// Gather the next batch (the caller's request is still pending).
    Gather,
    /// The caller's results, and the callers it wakes in turn (see [`Slot::wake`]).
    Done(Result<SearchResult>, Vec<Arc<Slot>>),
    /// The caller gave up waiting (a later batch still searches its queries).
    Abandoned,
}

/// One caller's mailbox: its own lock and condition variable, so a finished batch wakes each
/// of its callers once, and no caller wakes for another's results.
struct Slot {
    turn: Mutex<Turn>,
    ready: Condvar,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, Turn> {
        self.turn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the caller `turn` (unless it has given up) and wakes it.
    fn tell(&self, turn: Turn) -> bool {
        let mut t = self.lock();
        if matches!(*t, Turn::Abandoned) {
            return false;
        }
        *t = turn;
        self.ready.notify_one();
        true
    }

    /// Hands a finished batch's results to its callers: each woken caller wakes `fan_out`
    /// more before it returns (`submit.coalesce_fan_out`), so with 4 the last of 64 callers
    /// runs after three wake-ups in a row rather than after 63 wake-up calls by one thread.
    fn wake(mut done: Vec<(Arc<Slot>, Result<SearchResult>)>, fan_out: usize) {
        // Caller i wakes callers fan_out * (i + 1) .. fan_out * (i + 2); the first fan_out
        // are woken here.
        let n = done.len();
        let children: Vec<Vec<Arc<Slot>>> = (0..n)
            .map(|i| {
                let first = (fan_out * (i + 1)).min(n);
                let last = (first + fan_out).min(n);
                done[first..last].iter().map(|(s, _)| s.clone()).collect()
            })
            .collect();
        let mut roots: Vec<Arc<Slot>> = done.iter().take(fan_out).map(|(s, _)| s.clone()).collect();
        // Results first, wake-ups after: a caller woken early finds its children's results.
        // A caller that gave up wakes nobody: its children are woken here.
        for ((slot, r), c) in done.drain(..).zip(children) {
            let mut t = slot.lock();
            if matches!(*t, Turn::Abandoned) {
                roots.extend(c);
            } else {
                *t = Turn::Done(r, c);
            }
        }
        for s in roots {
            s.ready.notify_one();
        }
    }
}

struct Request {
    queries: Vec<f32>,
    k: usize,
    params: SearchParams,
    slot: Arc<Slot>,
}

#[derive(Default)]
struct State {
    pending: Vec<Request>,
    pending_queries: usize,
    /// A caller is gathering the next batch.
    gathering: bool,
    /// Pending queries at which an arrival wakes the gatherer (it sleeps until then, the
    /// window's end or the running batch's end).
    wake_at: usize,
    /// Batches taken and not yet answered.
    running: usize,
    /// Queries in them.
    running_queries: usize,
    /// Queries of finished batches whose callers have not called again (each arrival counts
    /// one back; forgotten when a batch had to wait out the window). With the pending and
    /// running queries, the queries circulating among steady callers.
    returning: usize,
    /// A batch has finished (before that, nothing is expected).
    known: bool,
    /// When the last batch's rows were ready (for [`CoalescerStats::between_seconds`]).
    handed: Option<Instant>,
    /// The last batch's search (padded queries, k, parameters) when it was one search: the
    /// next batch is recorded ahead with it ([`Coalescer::record_ahead`]).
    last_shape: Option<(usize, usize, SearchParams)>,
}

/// Gathers concurrent searches of one index into batched searches. See the module docs.
pub struct Coalescer {
    index: Arc<dyn Index>,
    state: Mutex<State>,
    /// The gatherer waiting for more queries or for the running batch to end.
    arrived: Condvar,
    window: Duration,
    max_queries: usize,
    in_flight: usize,
    adaptive: bool,
    /// Callers each woken caller wakes in turn ([`Slot::wake`]).
    fan_out: usize,
    /// The next batch's search is recorded while its callers come back.
    record_ahead: bool,
    /// How long a caller waits for its results before an `Error::Timeout`.
    wait: Duration,
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
    /// Wall seconds the batches' gatherers waited for queries (window, expected queries or
    /// a running batch; recording ahead happens within it), summed over batches.
    pub gather_seconds: f64,
    /// Wall seconds from a gathered batch to its callers' rows (grouping, padding, the
    /// searches, splitting the results), summed over batches (`search_seconds` is the part
    /// inside the index).
    pub run_seconds: f64,
    /// Wall seconds from a batch's rows to its callers woken (the state updated, the rows
    /// handed to their slots, the first wake-ups), summed over batches.
    pub hand_out_seconds: f64,
    /// Wall seconds from a batch's rows to the next batch's gathering, summed over the
    /// `followed` gatherings that started within the window of them (the hand-out, and the
    /// first caller back calling again).
    pub between_seconds: f64,
    /// Gatherings counted in `between_seconds`.
    pub followed: u64,
    /// Batches whose search the index recorded before their queries were here
    /// ([`Coalescer::record_ahead`]).
    pub recorded_ahead: u64,
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
        .fan_out(t.int("submit.coalesce_fan_out") as usize)
        .record_ahead(t.int("submit.coalesce_record_ahead") == 1)
    }

    /// Whether the gatherer has the index record the next batch's search while the batch's
    /// callers come back, shaped like the last batch (queries padded, `k`, parameters), and
    /// hands it the queries once they are here ([`Index::search_recorded_ahead`]); a batch
    /// of another shape is searched as usual. [`Coalescer::with`] starts with it on.
    pub fn record_ahead(mut self, on: bool) -> Coalescer {
        self.record_ahead = on;
        self
    }

    /// Whether a batch starts as soon as the queries expected back are pending (see the module
    /// documentation; [`Coalescer::with`] starts with it off).
    pub fn adaptive(mut self, on: bool) -> Coalescer {
        self.adaptive = on;
        self
    }

    /// Callers each woken caller of a finished batch wakes in turn (at least 1;
    /// [`Coalescer::with`] starts with 4).
    pub fn fan_out(mut self, n: usize) -> Coalescer {
        self.fan_out = n.max(1);
        self
    }

    /// Batches that may run at once (at least 1; [`Coalescer::with`] starts with 1).
    pub fn in_flight(mut self, n: usize) -> Coalescer {
        self.in_flight = n.max(1);
        self
    }

    /// How long a caller waits for its results before giving up with `Error::Timeout`
    /// ([`Coalescer::with`] starts with 120 s). Its queries are still searched with a later
    /// batch; nobody else waits for it.
    pub fn timeout(mut self, wait: Duration) -> Coalescer {
        self.wait = wait;
        self
    }

    /// A coalescer with an explicit window and batch limit.
    pub fn with(index: Arc<dyn Index>, window: Duration, max_queries: usize) -> Coalescer {
        Coalescer {
            index,
            state: Mutex::new(State::default()),
            arrived: Condvar::new(),
            window,
            max_queries: max_queries.max(1),
            in_flight: 1,
            adaptive: false,
            fan_out: 4,
            record_ahead: true,
            wait: WAIT,
            stats: Mutex::new(CoalescerStats::default()),
        }
    }

    /// Searches, queries and search time so far (mean batch size = queries / searches).
    pub fn stats(&self) -> CoalescerStats {
        *self.stats_mut()
    }

    /// The wrapped index.
    pub fn index(&self) -> &Arc<dyn Index> {
        &self.index
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stats_mut(&self) -> MutexGuard<'_, CoalescerStats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Searches `queries` (`nq × dim`) as part of whatever batch is being gathered; returns
    /// exactly this call's results.
    pub fn search(&self, queries: &[f32], k: usize, params: &SearchParams) -> Result<SearchResult> {
        check_k(k)?;
        let nq = check_vectors(queries, self.index.dim(), "search")?;
        if nq == 0 {
            return self.index.search(queries, k, params);
        }
        let slot = Arc::new(Slot {
            turn: Mutex::new(Turn::Wait),
            ready: Condvar::new(),
        });
        // Built before the state is locked: every caller of a batch passes through that lock.
        let request = Request {
            queries: queries.to_vec(),
            k,
            params: *params,
            slot: slot.clone(),
        };
        let mut st = self.state();
        st.pending.push(request);
        st.pending_queries += nq;
        st.returning = st.returning.saturating_sub(nq);
        if !st.gathering && st.running < self.in_flight {
            // Nobody gathers and a batch may start: this caller gathers it.
            return self.gather(st, &slot);
        }
        // Only the gatherer counts arrivals, and only the arrival it waits for wakes it.
        if st.gathering && st.pending_queries >= st.wake_at {
            self.arrived.notify_one();
        }
        drop(st);
        let give_up = Instant::now() + self.wait;
        let mut turn = slot.lock();
        loop {
            match std::mem::replace(&mut *turn, Turn::Wait) {
                Turn::Done(r, wake) => {
                    drop(turn);
                    for s in wake {
                        s.ready.notify_one();
                    }
                    return r;
                }
                Turn::Gather => {
                    drop(turn);
                    return self.gather(self.state(), &slot);
                }
                Turn::Wait | Turn::Abandoned => {}
            }
            let now = Instant::now();
            if now >= give_up {
                *turn = Turn::Abandoned;
                return Err(Error::Timeout(self.wait, "a coalesced search"));
            }
            turn = slot
                .ready
                .wait_timeout(turn, give_up - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Gathers a batch (holding the state, with `own` pending in it), searches it, hands every
    /// caller its rows and returns the gatherer's own.
    fn gather<'a>(&'a self, mut st: MutexGuard<'a, State>, own: &Slot) -> Result<SearchResult> {
        st.gathering = true;
        let started = Instant::now();
        // A gathering that starts within the window of the last batch's rows follows it (a
        // later one found the callers away: idle time, not a cost of the cycle).
        if let Some(handed) = st.handed.take() {
            let gap = started.saturating_duration_since(handed);
            if gap <= self.window {
                let mut stats = self.stats_mut();
                stats.between_seconds += gap.as_secs_f64();
                stats.followed += 1;
            }
        }
        // Recording ahead: the index records the search of a batch shaped like the last one
        // while its callers come back, and gets the queries once they are here.
        if let Some((n, k, params)) = st.last_shape.filter(|_| self.record_ahead) {
            drop(st);
            let mut taken = None;
            let searched = self.index.search_recorded_ahead(n, k, &params, &mut || {
                let (batch, count) = self.take_batch(self.state(), started);
                let same =
                    batch.iter().all(|r| r.k == k && r.params == params) && self.padded(count) == n;
                let queries = same.then(|| self.padded_queries(&batch, n));
                taken = Some((batch, count, Instant::now()));
                queries
            });
            if let Some((batch, count, taken_at)) = taken {
                let rows = match searched {
                    Some(result) => {
                        {
                            let mut stats = self.stats_mut();
                            stats.searches += 1;
                            stats.queries += count as u64;
                            stats.search_seconds += taken_at.elapsed().as_secs_f64();
                            stats.recorded_ahead += 1;
                        }
                        Self::split(batch, k, self.index.dim(), result)
                    }
                    None => self.run(batch),
                };
                return self.hand_out(rows, count, own, taken_at);
            }
            // Nothing recorded ahead for this shape: gather as usual.
            st = self.state();
        }
        let (batch, count) = self.take_batch(st, started);
        let taken_at = Instant::now();
        let rows = self.run(batch);
        self.hand_out(rows, count, own, taken_at)
    }

    /// Waits until the batch being gathered may start (see the module documentation) and
    /// takes it: its requests and their query count.
    fn take_batch(&self, mut st: MutexGuard<'_, State>, started: Instant) -> (Vec<Request>, usize) {
        let deadline = started + self.window;
        // Gather until the batch is full, or the window has passed and no batch is running
        // (while one runs, batches in flight > 1, the device is busy anyway, so the batch
        // grows until it can start at once), or, adaptive, the circulating queries are here
        // (see the module documentation) and no batch is running.
        let mut waited_out = false;
        loop {
            let target = if self.adaptive && st.known {
                (st.running_queries + st.pending_queries + st.returning).max(1)
            } else {
                usize::MAX
            };
            st.wake_at = self.max_queries.min(target);
            if st.pending_queries >= self.max_queries {
                break;
            }
            let now = Instant::now();
            let here = st.pending_queries >= target;
            if (here || now >= deadline) && st.running == 0 {
                waited_out = !here;
                break;
            }
            let wait = if now < deadline { deadline - now } else { WAIT };
            st = self
                .arrived
                .wait_timeout(st, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        if waited_out {
            // The callers expected back did not come: forget them.
            st.returning = 0;
        }
        let batch = std::mem::take(&mut st.pending);
        let taken = std::mem::take(&mut st.pending_queries);
        st.gathering = false;
        st.running += 1;
        st.running_queries += taken;
        // The next batch is recorded ahead only after a batch of one search.
        st.last_shape = match batch.first() {
            Some(r) if batch.iter().all(|o| o.k == r.k && o.params == r.params) => {
                Some((self.padded(taken), r.k, r.params))
            }
            _ => None,
        };
        drop(st);
        self.stats_mut().gather_seconds += started.elapsed().as_secs_f64();
        (batch, taken)
    }

    /// Hands a searched batch's rows (`count` queries, taken at `taken_at`) to its callers;
    /// returns `own`'s.
    fn hand_out(
        &self,
        rows: Vec<(Arc<Slot>, Result<SearchResult>)>,
        count: usize,
        own: &Slot,
        taken_at: Instant,
    ) -> Result<SearchResult> {
        let ran_at = Instant::now();
        let mut mine = None;
        let mut others = Vec::new();
        for (slot, r) in rows {
            if std::ptr::eq(Arc::as_ptr(&slot), own) {
                mine = Some(r);
            } else {
                others.push((slot, r));
            }
        }
        // The state first: a woken caller calls again at once, and its arrival must find its
        // batch counted among the returning ones.
        let mut st = self.state();
        st.running -= 1;
        st.running_queries -= count;
        st.returning += count;
        st.known = true;
        st.handed = Some(ran_at);
        // A gatherer waiting for the device to be free may start now.
        self.arrived.notify_one();
        self.promote(&mut st);
        drop(st);
        Slot::wake(others, self.fan_out);
        let woken = Instant::now();
        {
            let mut stats = self.stats_mut();
            stats.run_seconds += (ran_at - taken_at).as_secs_f64();
            stats.hand_out_seconds += (woken - ran_at).as_secs_f64();
        }
        mine.unwrap_or_else(|| Err(Error::Gpu("a coalesced batch lost a caller's rows".into())))
    }

    /// The size a batch of `n` queries is searched at: a multiple of 16 up to 64, a power of
    /// two beyond (the index plans a search per batch size, and a handful of sizes keeps its
    /// cached plans in use, while a batch of 33 no longer pays for 64).
    fn padded(&self, n: usize) -> usize {
        if n <= 64 {
            n.next_multiple_of(16)
        } else {
            n.next_power_of_two()
        }
        .min(self.max_queries.max(n))
    }

    /// The queries of `reqs` in order, padded to `n` rows by repeating the first.
    fn padded_queries(&self, reqs: &[Request], n: usize) -> Vec<f32> {
        let d = self.index.dim();
        let mut all: Vec<f32> = Vec::with_capacity(n * d);
        for r in reqs {
            all.extend_from_slice(&r.queries);
        }
        let first = all[..d].to_vec();
        while all.len() < n * d {
            all.extend_from_slice(&first);
        }
        all
    }

    /// Each request's rows of a search of `reqs` (in order, then padding), or the search's
    /// error for all of them.
    fn split(
        reqs: Vec<Request>,
        k: usize,
        d: usize,
        searched: Result<SearchResult>,
    ) -> Vec<(Arc<Slot>, Result<SearchResult>)> {
        match searched {
            Ok(res) => {
                let mut row = 0;
                reqs.into_iter()
                    .map(|r| {
                        let n = r.queries.len() / d;
                        let rows = SearchResult {
                            nq: n,
                            k,
                            ids: res.ids[row * k..(row + n) * k].to_vec(),
                            distances: res.distances[row * k..(row + n) * k].to_vec(),
                            gpu_seconds: res.gpu_seconds,
                        };
                        row += n;
                        (r.slot, Ok(rows))
                    })
                    .collect()
            }
            Err(e) => {
                let msg = e.to_string();
                reqs.into_iter()
                    .map(|r| {
                        let e = Error::Gpu(format!("coalesced search failed: {msg}"));
                        (r.slot, Err(e))
                    })
                    .collect()
            }
        }
    }

    /// With nobody gathering, a batch free to start and callers pending, the oldest caller
    /// still waiting gathers the next batch.
    fn promote(&self, st: &mut State) {
        if !st.gathering && st.running < self.in_flight {
            for r in &st.pending {
                if r.slot.tell(Turn::Gather) {
                    st.gathering = true;
                    break;
                }
            }
        }
    }

    /// Searches a gathered batch: one search per (k, parameters), rows handed back.
    fn run(&self, batch: Vec<Request>) -> Vec<(Arc<Slot>, Result<SearchResult>)> {
        let d = self.index.dim();
        let mut groups: HashMap<(usize, SearchParams), Vec<Request>> = HashMap::new();
        for r in batch {
            groups.entry((r.k, r.params)).or_default().push(r);
        }
        let mut out = Vec::new();
        for ((k, params), reqs) in groups {
            let n = reqs.iter().map(|r| r.queries.len()).sum::<usize>() / d;
            let all = self.padded_queries(&reqs, self.padded(n));
            let started = Instant::now();
            let searched = self.index.search(&all, k, &params);
            {
                let mut st = self.stats_mut();
                st.searches += 1;
                st.queries += n as u64;
                st.search_seconds += started.elapsed().as_secs_f64();
            }
            out.extend(Self::split(reqs, k, d, searched));
        }
        out
    }
}

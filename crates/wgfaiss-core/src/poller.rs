//! Futures for device readbacks without an async runtime.
//!
//! A readback maps its staging buffer with `map_async`; the callback stores the outcome and
//! wakes the task that awaits it. wgpu runs callbacks only while something polls the device,
//! so each device has one background thread (started on the first asynchronous readback)
//! that polls while readbacks are outstanding and sleeps otherwise; it ends when the device's
//! last [`Gpu`] handle is gone. No executor is assumed: any executor, or `pollster`, drives
//! the futures.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::buffer::WAIT_TIMEOUT;
use crate::device::{Gpu, GpuInner};
use crate::error::{Error, Result};

/// The per-device polling thread's shared state.
#[derive(Default)]
pub(crate) struct Poller {
    /// Readbacks whose callback has not run yet.
    outstanding: AtomicUsize,
    /// Whether the thread runs; guards the condition variable.
    started: Mutex<bool>,
    wake: Condvar,
    /// The slots of outstanding readbacks, woken now and then so that their futures see a
    /// device fault or their deadline even when no callback comes.
    slots: Mutex<Vec<Weak<Mutex<Slot>>>>,
}

/// How long the thread sleeps between checks when nothing is outstanding, and between polls
/// while readbacks are outstanding.
const IDLE: Duration = Duration::from_millis(50);
const POLL: Duration = Duration::from_micros(100);
const SWEEP: Duration = Duration::from_millis(500);

impl Poller {
    /// Counts one more outstanding readback and makes sure the thread runs.
    fn begin(&self, gpu: &Gpu, slot: &Arc<Mutex<Slot>>) {
        self.outstanding.fetch_add(1, Ordering::SeqCst);
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::downgrade(slot));
        let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        if !*started {
            *started = true;
            let weak = Arc::downgrade(&gpu.inner);
            std::thread::Builder::new()
                .name("wgfaiss-poller".into())
                .spawn(move || run(weak))
                .expect("spawning the device polling thread");
        }
        self.wake.notify_all();
    }

    fn end(&self) {
        self.outstanding.fetch_sub(1, Ordering::SeqCst);
    }

    /// Forgets finished readbacks and wakes the waiting ones (they re-check the device's
    /// fault and their deadline).
    fn sweep(&self) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.retain(|w| w.strong_count() > 0);
        for s in slots.iter().filter_map(Weak::upgrade) {
            if let Some(w) = s.lock().unwrap_or_else(|p| p.into_inner()).waker.take() {
                w.wake();
            }
        }
    }
}

/// The polling thread: polls the device while readbacks are outstanding, sleeps otherwise,
/// and ends when the device is dropped.
fn run(weak: Weak<GpuInner>) {
    let mut swept = Instant::now();
    loop {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        if inner.poller.outstanding.load(Ordering::SeqCst) > 0 {
            // Runs the map callbacks of finished submissions (errors surface through the
            // device's fault record and the futures' own timeouts). A non-blocking poll and a
            // short sleep: a blocking wait for "everything submitted" races with submissions
            // from other threads in wgpu-core 30 (it panicked in CI on lavapipe).
            let _ = inner.device.poll(wgpu::PollType::Poll);
            if swept.elapsed() >= SWEEP {
                swept = Instant::now();
                inner.poller.sweep();
            }
            // Do not keep the device alive while sleeping.
            drop(inner);
            std::thread::sleep(POLL);
            continue;
        }
        let started = inner
            .poller
            .started
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Do not keep the device alive while sleeping.
        let poller_wait = inner.poller.wake.wait_timeout(started, IDLE);
        drop(poller_wait);
        drop(inner);
    }
}

#[derive(Default)]
struct Slot {
    outcome: Option<std::result::Result<(), wgpu::BufferAsyncError>>,
    waker: Option<Waker>,
}

/// Resolves when `buffer` is mapped for reading (after the submissions before it).
pub(crate) struct MapFuture {
    gpu: Gpu,
    slot: Arc<Mutex<Slot>>,
    deadline: Instant,
}

impl MapFuture {
    /// Starts mapping `buffer` for reading.
    pub(crate) fn new(gpu: &Gpu, buffer: &wgpu::Buffer) -> MapFuture {
        MapFuture::start(gpu, |done| {
            buffer.slice(..).map_async(wgpu::MapMode::Read, done);
        })
    }

    /// Resolves when every submission so far is done (for batches that read nothing back).
    pub(crate) fn work_done(gpu: &Gpu) -> MapFuture {
        MapFuture::start(gpu, |done| {
            gpu.queue().on_submitted_work_done(|| done(Ok(())))
        })
    }

    /// A future completed by the callback that `register` hands to wgpu.
    fn start(gpu: &Gpu, register: impl FnOnce(Callback)) -> MapFuture {
        let slot = Arc::new(Mutex::new(Slot::default()));
        let (s, g) = (slot.clone(), gpu.clone());
        gpu.inner.poller.begin(gpu, &slot);
        register(Box::new(move |r| {
            let mut slot = s.lock().unwrap_or_else(|p| p.into_inner());
            slot.outcome = Some(r);
            if let Some(w) = slot.waker.take() {
                w.wake();
            }
            drop(slot);
            g.inner.poller.end();
        }));
        MapFuture {
            gpu: gpu.clone(),
            slot,
            deadline: Instant::now() + WAIT_TIMEOUT,
        }
    }
}

/// What wgpu calls when the awaited work is done.
type Callback = Box<dyn FnOnce(std::result::Result<(), wgpu::BufferAsyncError>) + Send>;

impl Future for MapFuture {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        match slot.outcome.take() {
            Some(Ok(())) => Poll::Ready(self.gpu.check_fault()),
            Some(Err(e)) => Poll::Ready(Err(Error::Gpu(format!("mapping a buffer failed: {e}")))),
            None => {
                if let Err(e) = self.gpu.check_fault() {
                    return Poll::Ready(Err(e));
                }
                if Instant::now() >= self.deadline {
                    return Poll::Ready(Err(Error::Timeout(WAIT_TIMEOUT, "the GPU")));
                }
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

//! Futures for device readbacks without an async runtime.
//!
//! A readback maps its staging buffer with `map_async`; the callback stores the outcome and
//! wakes the task that awaits it. wgpu runs callbacks only while something polls the device,
//! so each device has one background thread (started on the first asynchronous readback)
//! that polls while readbacks are outstanding and sleeps otherwise. The thread holds the
//! `wgpu::Device` but never the [`Gpu`]: dropping the last `Gpu` handle stops the thread and
//! joins it, so the device is released on the dropping thread, before it goes on. (When the
//! thread itself held the last reference, the device was destroyed there, racing the process
//! exit: the H100's driver segfaulted at exit after every IVF command, 2026-11-26.) No
//! executor is assumed: any executor, or `pollster`, drives the futures.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::buffer::WAIT_TIMEOUT;
use crate::device::Gpu;
use crate::error::{Error, Result};

/// The per-device polling thread: its handle, and the state it shares with the readbacks.
#[derive(Default)]
pub(crate) struct Poller {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// What the polling thread and the readbacks' callbacks share (never the device's owner).
#[derive(Default)]
struct Shared {
    /// Readbacks whose callback has not run yet.
    outstanding: AtomicUsize,
    /// Set when the device's last handle is dropped; guards the condition variable.
    stop: Mutex<bool>,
    wake: Condvar,
    /// The slots of outstanding readbacks, woken now and then so that their futures see a
    /// device fault or their deadline even when no callback comes.
    slots: Mutex<Vec<Weak<Mutex<Slot>>>>,
    /// Set by the thread as it ends.
    ended: std::sync::atomic::AtomicBool,
}

/// How long the thread sleeps between checks when nothing is outstanding, and between polls
/// while readbacks are outstanding.
const IDLE: Duration = Duration::from_millis(50);
const POLL: Duration = Duration::from_micros(100);
const SWEEP: Duration = Duration::from_millis(500);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Poller {
    /// Counts one more outstanding readback and makes sure the thread runs.
    fn begin(&self, device: &wgpu::Device, slot: &Arc<Mutex<Slot>>) {
        let shared = &self.shared;
        shared.outstanding.fetch_add(1, Ordering::SeqCst);
        lock(&shared.slots).push(Arc::downgrade(slot));
        let mut thread = lock(&self.thread);
        if thread.is_none() {
            let (device, shared) = (device.clone(), self.shared.clone());
            *thread = Some(
                std::thread::Builder::new()
                    .name("wgfaiss-poller".into())
                    .spawn(move || run(device, shared))
                    .expect("spawning the device polling thread"),
            );
        }
        drop(thread);
        shared.wake.notify_all();
    }
}

impl Drop for Poller {
    /// Stops the polling thread and waits for it (it holds the device; see the module notes).
    fn drop(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        let thread = self.thread.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = thread.take() {
            // The thread owns no `Gpu`, so this drop never runs on it; a panic there was
            // already reported on stderr.
            let _ = t.join();
        }
    }
}

impl Shared {
    fn end(&self) {
        self.outstanding.fetch_sub(1, Ordering::SeqCst);
    }

    /// Forgets finished readbacks and wakes the waiting ones (they re-check the device's
    /// fault and their deadline).
    fn sweep(&self) {
        let mut slots = lock(&self.slots);
        slots.retain(|w| w.strong_count() > 0);
        for s in slots.iter().filter_map(Weak::upgrade) {
            if let Some(w) = lock(&s).waker.take() {
                w.wake();
            }
        }
    }
}

/// The polling thread: polls the device while readbacks are outstanding, sleeps otherwise,
/// and ends when the device's last handle is dropped.
fn run(device: wgpu::Device, shared: Arc<Shared>) {
    poll_until_stopped(&device, &shared);
    drop(device);
    shared.ended.store(true, Ordering::SeqCst);
}

fn poll_until_stopped(device: &wgpu::Device, shared: &Shared) {
    let mut swept = Instant::now();
    loop {
        if shared.outstanding.load(Ordering::SeqCst) > 0 {
            if *lock(&shared.stop) {
                return;
            }
            // Runs the map callbacks of finished submissions (errors surface through the
            // device's fault record and the futures' own timeouts). A non-blocking poll and a
            // short sleep: a blocking wait for "everything submitted" races with submissions
            // from other threads in wgpu-core 30 (it panicked in CI on lavapipe).
            let _ = device.poll(wgpu::PollType::Poll);
            if swept.elapsed() >= SWEEP {
                swept = Instant::now();
                shared.sweep();
            }
            std::thread::sleep(POLL);
            continue;
        }
        let stop = lock(&shared.stop);
        if *stop {
            return;
        }
        drop(shared.wake.wait_timeout(stop, IDLE));
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
        let (s, shared) = (slot.clone(), gpu.inner.poller.shared.clone());
        gpu.inner.poller.begin(&gpu.inner.device, &slot);
        register(Box::new(move |r| {
            let mut slot = s.lock().unwrap_or_else(|p| p.into_inner());
            slot.outcome = Some(r);
            if let Some(w) = slot.waker.take() {
                w.wake();
            }
            drop(slot);
            shared.end();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The polling thread ends, and lets go of the device, before the drop of the device's
    /// last handle returns (an async readback starts the thread).
    #[test]
    fn dropping_the_last_handle_joins_the_polling_thread() {
        let gpu = Gpu::new().expect("an adapter (lavapipe on CI)");
        let buf = gpu.upload(&[1.0f32, 2.0, 3.0]).expect("upload");
        let mut batch = gpu.batch(false);
        batch.read_after(&[(buf.raw(), 0, 12)]);
        let report = pollster::block_on(batch.finish_async()).expect("readback");
        let values: Vec<f32> = report.reads.into_iter().next().unwrap().into_vec().unwrap();
        assert_eq!(values, [1.0, 2.0, 3.0]);
        let shared = gpu.inner.poller.shared.clone();
        assert!(
            lock(&gpu.inner.poller.thread).is_some(),
            "the thread started"
        );
        assert!(!shared.ended.load(Ordering::SeqCst));
        drop(buf);
        drop(gpu);
        assert!(
            shared.ended.load(Ordering::SeqCst),
            "joined before the drop returned"
        );
    }
}

//! Recording many dispatches into one compute pass and submitting them in batches, with GPU
//! time from timestamp queries where the adapter has them.

use std::sync::Arc;

use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::kernels::Kernel;
use crate::poller::MapFuture;
use crate::staging::ReadBytes;

/// Timestamp pairs (one pair per compute pass) a batch can record.
const MAX_TIMED_PASSES: u32 = 2048;

struct Timing {
    queries: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    /// Pairs written so far (over all submissions).
    used: u32,
}

/// What a finished batch did.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchReport {
    /// Dispatches recorded.
    pub dispatches: u64,
    /// Command buffers submitted.
    pub submits: u64,
    /// Sum of the compute passes' GPU time in seconds, when the adapter has timestamps and
    /// every pass was timed.
    pub gpu_seconds: Option<f64>,
    /// The bytes of each range asked for with [`Batch::read_after`], in order.
    pub reads: Vec<ReadBytes>,
}

/// Records dispatches into an open compute pass and submits a command buffer every
/// `submit.max_dispatches_per_submit` dispatches (from the tuning entry).
///
/// Bind groups and kernels are kept alive until the batch is finished.
pub struct Batch<'g> {
    gpu: &'g Gpu,
    encoder: Option<wgpu::CommandEncoder>,
    pass: Option<wgpu::ComputePass<'static>>,
    in_submit: u32,
    max_per_submit: u32,
    timing: Option<Timing>,
    timing_complete: bool,
    dispatches: u64,
    submits: u64,
    last: Option<wgpu::SubmissionIndex>,
    /// `WGFAISS_PROFILE=1`: one timed pass per dispatch, named by its kernel, and a table of
    /// GPU time per kernel on stderr when the batch finishes.
    profile: Option<Vec<String>>,
    /// `WGFAISS_PROFILE=1` or `host`: the host's times on stderr when the batch finishes
    /// (`host` alone adds no timestamps).
    host: bool,
    /// Ranges to read back when the batch finishes (buffer, offset, bytes, 8-byte words).
    reads: Vec<(wgpu::Buffer, u64, u64, bool)>,
    /// When the batch was started (profile mode prints the recording time).
    created: std::time::Instant,
    /// What [`Batch::seal`] made, until it is submitted.
    sealed: Option<Sealed>,
}

/// A batch's last command buffer, finished with its readback copies and not yet submitted.
struct Sealed {
    commands: Option<wgpu::CommandBuffer>,
    staging: Option<wgpu::Buffer>,
    /// The read ranges' bytes, and whether each lands in 8-byte words.
    sizes: Vec<(u64, bool)>,
    timed_passes: u32,
    /// How long sealing took (profile mode prints it).
    took: std::time::Duration,
}

impl Gpu {
    /// Starts a batch. With `timed`, each compute pass is bracketed by timestamps (when the
    /// adapter has TIMESTAMP_QUERY).
    pub fn batch(&self, timed: bool) -> Batch<'_> {
        let timing = (timed && self.capabilities().timestamps).then(|| {
            let (queries, resolve) = self.take_timer().unwrap_or_else(|| {
                (
                    self.device().create_query_set(&wgpu::QuerySetDescriptor {
                        label: Some("wgfaiss timestamps"),
                        ty: wgpu::QueryType::Timestamp,
                        count: 2 * MAX_TIMED_PASSES,
                    }),
                    self.device().create_buffer(&wgpu::BufferDescriptor {
                        label: Some("wgfaiss timestamps resolve"),
                        size: 16 * u64::from(MAX_TIMED_PASSES),
                        usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                        mapped_at_creation: false,
                    }),
                )
            });
            Timing {
                queries,
                resolve,
                used: 0,
            }
        });
        Batch {
            gpu: self,
            encoder: None,
            pass: None,
            in_submit: 0,
            max_per_submit: self.tuning().int("submit.max_dispatches_per_submit") as u32,
            timing_complete: timing.is_some(),
            timing,
            dispatches: 0,
            submits: 0,
            last: None,
            profile: (timed && std::env::var("WGFAISS_PROFILE").is_ok_and(|v| v == "1"))
                .then(Vec::new),
            host: host_profile(),
            reads: Vec::new(),
            created: std::time::Instant::now(),
            sealed: None,
        }
    }

    /// A bind group for `kernel` from `(binding, resource)` pairs.
    pub fn bind(
        &self,
        kernel: &Kernel,
        entries: &[(u32, wgpu::BindingResource<'_>)],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry<'_>> = entries
            .iter()
            .map(|(binding, resource)| wgpu::BindGroupEntry {
                binding: *binding,
                resource: resource.clone(),
            })
            .collect();
        self.device().create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&kernel.name),
            layout: &kernel.layout,
            entries: &entries,
        })
    }

    /// A bind group for `kernel` from the pairs of `entries` whose binding is in `used`: for
    /// entry points of one family that share a table of buffers but use different subsets
    /// (an entry point's layout holds only the bindings it uses).
    pub fn bind_used(
        &self,
        kernel: &Kernel,
        entries: &[(u32, wgpu::BindingResource<'_>)],
        used: &[u32],
    ) -> wgpu::BindGroup {
        let picked: Vec<(u32, wgpu::BindingResource<'_>)> = entries
            .iter()
            .filter(|(b, _)| used.contains(b))
            .cloned()
            .collect();
        self.bind(kernel, &picked)
    }

    /// Splits `groups` workgroups into a 2-D grid within the per-dimension limit. Returns
    /// `(x, y)`; kernels recover the flat index as `wid.x + wid.y * x`.
    pub fn grid(&self, groups: u32) -> (u32, u32) {
        let max = self.capabilities().max_workgroups_per_dimension.max(1);
        if groups <= max {
            (groups.max(1), 1)
        } else {
            (max, groups.div_ceil(max))
        }
    }
}

impl Batch<'_> {
    fn encoder(&mut self) -> &mut wgpu::CommandEncoder {
        self.encoder.get_or_insert_with(|| {
            self.gpu
                .device()
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("wgfaiss batch"),
                })
        })
    }

    fn end_pass(&mut self) {
        self.pass = None;
    }

    /// Records one dispatch of `kernel` with `bind_group` over `groups` = (x, y, z) workgroups.
    pub fn dispatch(
        &mut self,
        kernel: &Arc<Kernel>,
        bind_group: &wgpu::BindGroup,
        groups: (u32, u32, u32),
    ) {
        debug_assert!(
            self.sealed.is_none(),
            "a dispatch recorded after the batch was sealed"
        );
        if let Some(names) = &mut self.profile {
            self.pass = None;
            names.push(kernel.name.clone());
        }
        if self.pass.is_none() {
            let writes = match &mut self.timing {
                Some(t) if t.used < MAX_TIMED_PASSES => {
                    t.used += 1;
                    Some((t.used - 1) * 2)
                }
                Some(_) => {
                    self.timing_complete = false;
                    None
                }
                None => None,
            };
            let queries = self.timing.as_ref().map(|t| t.queries.clone());
            let enc = self.encoder();
            let pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("wgfaiss pass"),
                timestamp_writes: writes.and_then(|i| {
                    queries.as_ref().map(|q| wgpu::ComputePassTimestampWrites {
                        query_set: q,
                        beginning_of_pass_write_index: Some(i),
                        end_of_pass_write_index: Some(i + 1),
                    })
                }),
            });
            self.pass = Some(pass.forget_lifetime());
        }
        let pass = self.pass.as_mut().expect("pass is open");
        pass.set_pipeline(&kernel.pipeline);
        pass.set_bind_group(0, bind_group, &[]);
        pass.dispatch_workgroups(groups.0, groups.1, groups.2);
        self.dispatches += 1;
        self.in_submit += 1;
        if self.in_submit >= self.max_per_submit {
            self.submit();
        }
    }

    /// Records zeroing the whole of `buffer` (ends the open compute pass).
    pub fn clear(&mut self, buffer: &wgpu::Buffer) {
        self.end_pass();
        self.encoder().clear_buffer(buffer, 0, None);
    }

    /// Records a buffer-to-buffer copy (ends the open compute pass).
    pub fn copy(
        &mut self,
        src: &wgpu::Buffer,
        src_offset: u64,
        dst: &wgpu::Buffer,
        dst_offset: u64,
        size: u64,
    ) {
        self.end_pass();
        self.encoder()
            .copy_buffer_to_buffer(src, src_offset, dst, dst_offset, size);
    }

    /// Reads `ranges` (buffer, byte offset, bytes) back when the batch finishes, after
    /// everything recorded: they come in [`BatchReport::reads`], copied with the timestamps
    /// into one staging buffer and mapped once (one round trip instead of one per read).
    pub fn read_after(&mut self, ranges: &[(&wgpu::Buffer, u64, u64)]) {
        self.reads
            .extend(ranges.iter().map(|&(b, o, n)| (b.clone(), o, n, false)));
    }

    /// [`Batch::read_after`] for ranges of 8-byte values (`i64`, `u64`, `f64`): they land in
    /// 8-byte words, so that [`ReadBytes::into_vec`] of such a type takes them in place (one
    /// host copy out of the mapping, no second).
    pub fn read_after_wide(&mut self, ranges: &[(&wgpu::Buffer, u64, u64)]) {
        self.reads
            .extend(ranges.iter().map(|&(b, o, n)| (b.clone(), o, n, true)));
    }

    /// Whether a command buffer of this batch has been submitted already (every
    /// `submit.max_dispatches_per_submit` dispatches, or [`Batch::submit`]): data written to
    /// its buffers with `queue.write_buffer` from now on lands before the rest only.
    pub fn submitted_any(&self) -> bool {
        self.submits > 0
    }

    /// Submits what has been recorded so far.
    pub fn submit(&mut self) {
        self.end_pass();
        let Some(enc) = self.encoder.take() else {
            return;
        };
        self.last = Some(self.gpu.queue().submit([enc.finish()]));
        self.submits += 1;
        self.in_submit = 0;
    }

    /// Submits the rest, waits for the device, and reports dispatches, GPU time and the
    /// ranges asked for with [`Batch::read_after`].
    pub fn finish(self) -> Result<BatchReport> {
        self.submit_all()?.wait()
    }

    /// [`Batch::finish`] as a future for any executor: everything is submitted now; the
    /// future resolves when the device is done and the results are read back (a `map_async`
    /// callback, run by the device's polling thread, wakes it). It owns what it needs, so the
    /// batch's borrows end here.
    pub fn finish_async(
        self,
    ) -> impl std::future::Future<Output = Result<BatchReport>> + Send + 'static {
        let pending = self.submit_all();
        async move { pending?.wait_async().await }
    }

    /// Ends the recording: resolves the timestamps, records the copies of the ranges to read
    /// into one staging buffer and finishes the last command buffer, without submitting it
    /// ([`Batch::finish`] does; nothing may be recorded after). Data written with
    /// `queue.write_buffer` before that submission still lands before the batch's commands:
    /// a search sealed before its queries exist only writes them and submits.
    pub fn seal(&mut self) -> Result<()> {
        if self.sealed.is_some() {
            return Ok(());
        }
        let began = std::time::Instant::now();
        // Query results stay in the set across submissions: resolve them all once, at the end
        // (resolve offsets must be 256-byte aligned, so per-submission resolves would not pack).
        self.end_pass();
        let used = self.timing.as_ref().map_or(0, |t| t.used);
        let stamps = 16 * u64::from(used);
        if let Some(t) = &self.timing
            && used > 0
        {
            let (queries, resolve) = (t.queries.clone(), t.resolve.clone());
            self.encoder()
                .resolve_query_set(&queries, 0..2 * used, &resolve, 0);
        }
        // One staging buffer: the timestamps, then every requested range (4-byte aligned).
        let mut ranges: Vec<(wgpu::Buffer, u64, u64, bool)> = Vec::new();
        if let Some(t) = &self.timing
            && used > 0
        {
            ranges.push((t.resolve.clone(), 0, stamps, true));
        }
        ranges.append(&mut self.reads);
        let total: u64 = ranges.iter().map(|r| r.2.div_ceil(4) * 4).sum();
        let staging = if total > 0 {
            let staging = self.gpu.take_read_staging(total)?;
            let mut at = 0;
            for (buf, offset, size, _) in &ranges {
                let size4 = size.div_ceil(4) * 4;
                if size4 > 0 {
                    self.encoder()
                        .copy_buffer_to_buffer(buf, *offset, &staging, at, size4);
                }
                at += size4;
            }
            Some(staging)
        } else {
            None
        };
        self.sealed = Some(Sealed {
            commands: self.encoder.take().map(|e| e.finish()),
            staging,
            sizes: ranges.iter().map(|r| (r.2, r.3)).collect(),
            timed_passes: used,
            took: began.elapsed(),
        });
        Ok(())
    }

    /// Seals the batch (unless [`Batch::seal`] did) and submits it.
    fn submit_all(mut self) -> Result<Pending> {
        self.seal()?;
        let sealed = self.sealed.take().expect("sealed");
        let submitting = std::time::Instant::now();
        if let Some(commands) = sealed.commands {
            self.last = Some(self.gpu.queue().submit([commands]));
            self.submits += 1;
        }
        // Every use of the timestamp set is now queued, in order, before any later batch's:
        // the next batch may take it.
        if let Some(t) = self.timing.take() {
            self.gpu.give_timer((t.queries, t.resolve));
        }
        Ok(Pending {
            recorded: self.created.elapsed(),
            sealing: sealed.took,
            submitting: submitting.elapsed(),
            submitted: std::time::Instant::now(),
            gpu: self.gpu.clone(),
            staging: sealed.staging,
            last: self.last.take(),
            sizes: sealed.sizes,
            timed_passes: sealed.timed_passes,
            timing_complete: self.timing_complete,
            profile: self.profile.take(),
            host: self.host,
            dispatches: self.dispatches,
            submits: self.submits,
        })
    }
}

/// A submitted batch whose results are not read yet.
struct Pending {
    /// How long recording and submitting took, and when the last submission went out
    /// (profile mode prints both), with the parts spent sealing and in the last submission.
    recorded: std::time::Duration,
    sealing: std::time::Duration,
    submitting: std::time::Duration,
    submitted: std::time::Instant,
    gpu: Gpu,
    staging: Option<wgpu::Buffer>,
    last: Option<wgpu::SubmissionIndex>,
    /// The read ranges' bytes, and whether each lands in 8-byte words.
    sizes: Vec<(u64, bool)>,
    timed_passes: u32,
    timing_complete: bool,
    profile: Option<Vec<String>>,
    host: bool,
    dispatches: u64,
    submits: u64,
}

impl Pending {
    /// Blocks until the device is done, then reads.
    fn wait(self) -> Result<BatchReport> {
        match (&self.staging, &self.last) {
            (Some(staging), Some(last)) => self.gpu.map_and_wait(staging, last.clone())?,
            (None, Some(last)) => self.gpu.wait(last.clone())?,
            _ => {}
        }
        self.report()
    }

    /// Awaits the device (a callback wakes the task), then reads.
    async fn wait_async(self) -> Result<BatchReport> {
        match (&self.staging, &self.last) {
            (Some(staging), Some(_)) => MapFuture::new(&self.gpu, staging).await?,
            (None, Some(_)) => MapFuture::work_done(&self.gpu).await?,
            _ => {}
        }
        self.report()
    }

    /// The report from the mapped staging buffer.
    fn report(self) -> Result<BatchReport> {
        let mut report = BatchReport {
            dispatches: self.dispatches,
            submits: self.submits,
            gpu_seconds: None,
            reads: Vec::new(),
        };
        let mapped = std::time::Instant::now();
        if let (Some(staging), Some(_)) = (&self.staging, &self.last) {
            let view = staging
                .slice(..)
                .get_mapped_range()
                .map_err(|e| Error::Gpu(format!("mapping a batch readback: {e}")))?;
            let mut at = 0usize;
            let mut parts = Vec::with_capacity(self.sizes.len());
            for &(size, wide) in &self.sizes {
                let bytes = &view[at..at + size as usize];
                parts.push(if wide {
                    ReadBytes::copy_wide_from(bytes)
                } else {
                    ReadBytes::copy_from(bytes)
                });
                at += size.div_ceil(4) as usize * 4;
            }
            drop(view);
            staging.unmap();
            self.gpu.give_read_staging(staging.clone());
            let copied = mapped.elapsed();
            if self.timed_passes > 0 {
                let first = parts.remove(0);
                let ticks: &[u64] = bytemuck::cast_slice(&first);
                let period = f64::from(self.gpu.queue().get_timestamp_period());
                let total: u64 = ticks
                    .chunks_exact(2)
                    .map(|p| p[1].saturating_sub(p[0]))
                    .sum();
                if let Some(names) = &self.profile {
                    profile_table(names, ticks, period);
                }
                if self.timing_complete {
                    report.gpu_seconds = Some(total as f64 * period * 1e-9);
                }
            }
            if self.host {
                eprintln!(
                    "WGFAISS_PROFILE host: recorded and submitted in {:.3} ms ({:.3} sealing, {:.3} submitting), last submit to results mapped {:.3} ms, {} bytes copied out of the mapping in {:.3} ms",
                    self.recorded.as_secs_f64() * 1e3,
                    self.sealing.as_secs_f64() * 1e3,
                    self.submitting.as_secs_f64() * 1e3,
                    (mapped - self.submitted).as_secs_f64() * 1e3,
                    self.sizes.iter().map(|s| s.0).sum::<u64>(),
                    copied.as_secs_f64() * 1e3
                );
            }
            report.reads = parts;
        }
        self.gpu.check_fault().map_err(during)?;
        Ok(report)
    }
}

/// A device error found after a batch, said to be from it.
fn during(e: Error) -> Error {
    match e {
        Error::Gpu(m) => Error::Gpu(format!("during a batch: {m}")),
        e => e,
    }
}

/// Prints GPU time per kernel (profile mode): passes in order, consecutive passes of one
/// kernel summed.
fn profile_table(names: &[String], ticks: &[u64], period: f64) {
    let mut rows: Vec<(String, u32, f64)> = Vec::new();
    for (name, p) in names.iter().zip(ticks.chunks_exact(2)) {
        let ms = p[1].saturating_sub(p[0]) as f64 * period * 1e-6;
        match rows.last_mut() {
            Some((n, c, t)) if n == name => {
                *c += 1;
                *t += ms;
            }
            _ => rows.push((name.clone(), 1, ms)),
        }
    }
    eprintln!("WGFAISS_PROFILE: {} passes", names.len());
    for (name, count, ms) in rows {
        eprintln!("  {ms:>10.3} ms  {count:>4} x {name}");
    }
}

/// `WGFAISS_PROFILE=1` or `host`: batches (and the indexes' searches) print their host times
/// on stderr. Read once per process.
pub fn host_profile() -> bool {
    static HOST: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HOST.get_or_init(|| std::env::var("WGFAISS_PROFILE").is_ok_and(|v| v == "1" || v == "host"))
}

#[cfg(test)]
mod tests {
    use crate::Gpu;
    use crate::ops::reduce::{ReduceOp, ReduceOptions, Reduction};

    /// A timed batch returns its timestamp set to the device's pool after its last
    /// submission; the next timed batch takes it again, and two batches recorded at once hold
    /// two sets. Every batch still reports its own GPU time and result.
    #[test]
    fn timed_batches_reuse_their_timestamp_sets() {
        let gpu = Gpu::new().expect("an adapter (lavapipe on CI)");
        assert!(
            gpu.capabilities().timestamps,
            "the test adapter reports timestamp queries (lavapipe does)"
        );
        let pooled = |g: &Gpu| g.inner.staging.timers.lock().unwrap().len();
        let data: Vec<f32> = (0..3000).map(|i| (i % 13) as f32).collect();
        let want: f64 = data.iter().map(|&v| f64::from(v)).sum();
        let split = gpu.upload_split(&data, 4).unwrap();
        let plan = Reduction::new(&gpu, &split, ReduceOp::Sum, &ReduceOptions::default()).unwrap();
        assert_eq!(pooled(&gpu), 0);
        for _ in 0..3 {
            let mut batch = gpu.batch(true);
            assert_eq!(pooled(&gpu), 0, "the batch holds the set");
            plan.record(&mut batch);
            let report = batch.finish().unwrap();
            assert_eq!(pooled(&gpu), 1, "returned, and only one was ever made");
            assert!(report.gpu_seconds.is_some_and(|t| t > 0.0));
            assert_eq!(f64::from(plan.read(&gpu).unwrap().value), want);
        }
        let (mut a, mut b) = (gpu.batch(true), gpu.batch(true));
        assert_eq!(
            pooled(&gpu),
            0,
            "a second set was made for the second batch"
        );
        plan.record(&mut a);
        plan.record(&mut b);
        let (ra, rb) = (a.finish().unwrap(), b.finish().unwrap());
        assert_eq!(pooled(&gpu), 2);
        assert!(ra.gpu_seconds.is_some_and(|t| t > 0.0));
        assert!(rb.gpu_seconds.is_some_and(|t| t > 0.0));
    }
}

//! Reused host-visible staging buffers, and readback bytes that become typed vectors without a
//! second copy.
//!
//! Measured on an H100 host (2026-11-26): a fresh 256 MB `MAP_READ` buffer took 76 ms to create
//! (the driver pins its pages), the copy into it and the map 5 ms, and the host copy out of the
//! mapping 22 ms; `to_vec` into a fresh vector then another copy into a typed vector added about
//! 150 ms each (page faults of new memory). Uploads through `write_buffer` (a fresh staging
//! allocation per call) ran at 4.6 GB/s, through a reused mapped buffer at 10.7 GB/s (the host
//! copy's speed). So staging buffers are kept and reused (readback buffers of every size, up to
//! [`POOL_BYTES`] in all; upload chunks of [`STREAM_CHUNK`] in a small ring), and readback
//! lands once, in 4-byte words that [`ReadBytes::into_vec`] turns into `Vec<f32>`/`Vec<u32>`/…
//! in place.
//!
//! Small readback buffers are pooled too, not only for their own cost: with a 64 MiB readback
//! buffer kept alive, every batch's small timestamp readback made the allocator create and free
//! a whole host memory block again (it frees an empty block while another one lives), adding
//! about 30 ms to each batch on the H100 — pooling them keeps their block alive.

use std::sync::{Arc, Mutex};

use bytemuck::Pod;

use crate::buffer::STREAM_CHUNK;
use crate::device::Gpu;
use crate::error::{Error, Result};

/// Uploads from this size on go through the reused staging ring; smaller ones through a
/// mapping at creation or `write_buffer`.
pub const POOL_MIN: u64 = 1 << 20;

/// The smallest readback buffer (smaller reads share buffers of this size).
pub const READ_MIN: u64 = 4096;

/// Readback buffers kept for reuse at most.
pub const READ_KEEP: usize = 16;

/// Bytes of readback staging kept for reuse at most (the largest buffers beyond are freed).
pub const POOL_BYTES: u64 = 1 << 30;

/// Upload staging buffers (of [`STREAM_CHUNK`] bytes) kept mapped for reuse.
const WRITE_KEEP: usize = 3;

/// The staging buffers a device keeps.
#[derive(Default)]
pub(crate) struct StagingPool {
    read: Mutex<Vec<wgpu::Buffer>>,
    /// Timestamp query sets and their resolve buffers, idle (a timed batch takes one from
    /// its start to its last submission).
    pub(crate) timers: Mutex<Vec<(wgpu::QuerySet, wgpu::Buffer)>>,
    /// Upload chunks, mapped for writing and idle.
    write: Arc<Mutex<Vec<wgpu::Buffer>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Idle timestamp sets kept at most.
const TIMERS_KEEP: usize = 8;

impl Gpu {
    /// An idle timestamp query set and its resolve buffer, if one is kept.
    pub(crate) fn take_timer(&self) -> Option<(wgpu::QuerySet, wgpu::Buffer)> {
        lock(&self.inner.staging.timers).pop()
    }

    /// Keeps a timestamp set whose batch has submitted its last commands.
    pub(crate) fn give_timer(&self, timer: (wgpu::QuerySet, wgpu::Buffer)) {
        let mut timers = lock(&self.inner.staging.timers);
        if timers.len() < TIMERS_KEEP {
            timers.push(timer);
        }
    }

    /// A `MAP_READ | COPY_DST` buffer of at least `size` bytes, reused when one is free.
    pub(crate) fn take_read_staging(&self, size: u64) -> Result<wgpu::Buffer> {
        // Sizes by powers of two (within the adapter's limit), so that later reads of similar
        // sizes reuse them.
        let class = size
            .next_power_of_two()
            .max(READ_MIN)
            .min(self.capabilities().max_buffer_bytes)
            .max(size);
        {
            let mut pool = lock(&self.inner.staging.read);
            // The smallest free buffer that holds it, if not more than twice too large.
            let best = pool
                .iter()
                .enumerate()
                .filter(|(_, b)| b.size() >= size && b.size() <= 2 * class)
                .min_by_key(|(_, b)| b.size())
                .map(|(i, _)| i);
            if let Some(i) = best {
                return Ok(pool.swap_remove(i));
            }
        }
        self.allocating("a readback buffer", || {
            self.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("wgfaiss readback"),
                size: class,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })
    }

    /// Returns an unmapped readback buffer for reuse (the largest go when the pool exceeds
    /// [`POOL_BYTES`] or [`READ_KEEP`] buffers).
    pub(crate) fn give_read_staging(&self, buf: wgpu::Buffer) {
        if buf.size() > POOL_BYTES {
            return;
        }
        let mut pool = lock(&self.inner.staging.read);
        pool.push(buf);
        while pool.len() > READ_KEEP || pool.iter().map(|b| b.size()).sum::<u64>() > POOL_BYTES {
            let largest = (0..pool.len())
                .max_by_key(|&i| pool[i].size())
                .expect("non-empty");
            pool.swap_remove(largest);
        }
    }

    /// A `MAP_WRITE | COPY_SRC` buffer of [`STREAM_CHUNK`] bytes, mapped for writing.
    pub(crate) fn take_write_staging(&self) -> Result<wgpu::Buffer> {
        if let Some(b) = lock(&self.inner.staging.write).pop() {
            return Ok(b);
        }
        self.allocating("an upload staging buffer", || {
            self.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("wgfaiss upload staging"),
                size: STREAM_CHUNK as u64,
                usage: wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: true,
            })
        })
    }

    /// Hands an upload staging buffer back once the copy out of it (already submitted) is done:
    /// it is mapped again and returns to the ring when the mapping completes.
    pub(crate) fn give_write_staging(&self, buf: wgpu::Buffer) {
        let ring = self.inner.staging.write.clone();
        let b = buf.clone();
        buf.slice(..).map_async(wgpu::MapMode::Write, move |r| {
            if r.is_ok() {
                let mut ring = lock(&ring);
                if ring.len() < WRITE_KEEP {
                    ring.push(b);
                }
            }
        });
    }

    /// Frees the staging buffers kept for reuse (host memory the driver pinned).
    pub fn release_staging(&self) {
        lock(&self.inner.staging.read).clear();
        lock(&self.inner.staging.write).clear();
    }

    /// Bytes of staging buffers currently kept for reuse (readback and upload).
    pub fn staging_bytes(&self) -> u64 {
        let read: u64 = lock(&self.inner.staging.read)
            .iter()
            .map(|b| b.size())
            .sum();
        read + lock(&self.inner.staging.write).len() as u64 * STREAM_CHUNK as u64
    }
}

/// Bytes read back from the device, held as 4-byte words (or 8-byte words, for ranges read
/// with [`crate::Batch::read_after_wide`]) so that they become a typed vector without another
/// copy.
#[derive(Clone, PartialEq, Eq)]
pub struct ReadBytes {
    words: Words,
    len: usize,
}

/// `bytes` in words of `W`, the last one zero-padded. Zeroed vectors come from fresh pages,
/// faulted once while the copy writes them.
fn words_of<W: Pod>(bytes: &[u8]) -> Vec<W> {
    let mut words = vec![W::zeroed(); bytes.len().div_ceil(size_of::<W>())];
    bytemuck::cast_slice_mut::<W, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
    words
}

/// The storage of [`ReadBytes`]: its alignment decides which types take it in place.
#[derive(Clone, PartialEq, Eq)]
enum Words {
    Four(Vec<u32>),
    Eight(Vec<u64>),
}

impl Default for ReadBytes {
    fn default() -> ReadBytes {
        ReadBytes {
            words: Words::Four(Vec::new()),
            len: 0,
        }
    }
}

impl std::fmt::Debug for ReadBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReadBytes({} bytes)", self.len)
    }
}

impl ReadBytes {
    /// Copies `bytes` (from a mapping) once, into 4-byte words.
    pub(crate) fn copy_from(bytes: &[u8]) -> ReadBytes {
        ReadBytes {
            words: Words::Four(words_of(bytes)),
            len: bytes.len(),
        }
    }

    /// Copies `bytes` (from a mapping) once, into 8-byte words.
    pub(crate) fn copy_wide_from(bytes: &[u8]) -> ReadBytes {
        ReadBytes {
            words: Words::Eight(words_of(bytes)),
            len: bytes.len(),
        }
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.words {
            Words::Four(w) => &bytemuck::cast_slice::<u32, u8>(w)[..self.len],
            Words::Eight(w) => &bytemuck::cast_slice::<u64, u8>(w)[..self.len],
        }
    }

    /// The values as `T`: in place when `T`'s size matches the words (`f32`, `u32`, `i32` from
    /// [`crate::Batch::read_after`]; `i64`, `u64`, `f64` from
    /// [`crate::Batch::read_after_wide`]), else copied. Errors when the byte count is not a
    /// whole number of `T`.
    pub fn into_vec<T: Pod>(self) -> Result<Vec<T>> {
        let size = size_of::<T>();
        if size == 0 || !self.len.is_multiple_of(size) {
            return Err(Error::Gpu(format!(
                "a readback of {} bytes is not a whole number of {size}-byte values",
                self.len
            )));
        }
        let n = self.len / size;
        match self.words {
            Words::Four(mut w) if size == 4 && align_of::<T>() == 4 => {
                w.truncate(n);
                Ok(bytemuck::allocation::cast_vec(w))
            }
            Words::Eight(mut w) if size == 8 && align_of::<T>() == 8 => {
                w.truncate(n);
                Ok(bytemuck::allocation::cast_vec(w))
            }
            words => Ok(bytemuck::pod_collect_to_vec(
                &ReadBytes {
                    words,
                    len: self.len,
                }
                .bytes()[..self.len],
            )),
        }
    }
}

impl std::ops::Deref for ReadBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_bytes_become_vectors_in_place_when_the_word_size_matches() {
        let f: Vec<f32> = (0..7).map(|i| i as f32 * 1.5 - 2.0).collect();
        let r = ReadBytes::copy_from(bytemuck::cast_slice(&f));
        let at = r.bytes().as_ptr();
        let back: Vec<f32> = r.into_vec().unwrap();
        assert_eq!(back, f);
        assert_eq!(
            back.as_ptr() as *const u8,
            at,
            "4-byte words taken in place"
        );

        let ids: Vec<i64> = vec![-1, 0, 7, i64::MAX, i64::MIN, 1 << 40];
        let r = ReadBytes::copy_wide_from(bytemuck::cast_slice(&ids));
        let at = r.bytes().as_ptr();
        let back: Vec<i64> = r.into_vec().unwrap();
        assert_eq!(back, ids);
        assert_eq!(
            back.as_ptr() as *const u8,
            at,
            "8-byte words taken in place"
        );

        // Other pairings are copied, with the same values.
        let r = ReadBytes::copy_from(bytemuck::cast_slice(&ids));
        assert_eq!(r.into_vec::<i64>().unwrap(), ids);
        let r = ReadBytes::copy_wide_from(bytemuck::cast_slice(&f[..6]));
        assert_eq!(r.into_vec::<f32>().unwrap(), &f[..6]);
        // An odd number of 4-byte values in 8-byte words: the length is kept.
        let r = ReadBytes::copy_wide_from(bytemuck::cast_slice(&f));
        assert_eq!(r.len(), 28);
        assert_eq!(r.into_vec::<f32>().unwrap(), f);
    }

    #[test]
    fn read_bytes_of_a_partial_value_are_an_error() {
        let r = ReadBytes::copy_wide_from(&[1, 2, 3, 4, 5, 6]);
        let e = r.into_vec::<u32>().unwrap_err().to_string();
        assert!(e.contains("6 bytes") && e.contains("4-byte"), "{e}");
        let r = ReadBytes::copy_from(&[0; 12]);
        assert!(r.into_vec::<i64>().is_err());
    }
}

//! The index file format: a fixed header, a body, and a checksum of both.
//!
//! ```text
//! magic   8 bytes  "WGFAISS\0"
//! version u32      FORMAT_VERSION
//! kind    u32      1 = flat, 2 = IVF-Flat
//! body    ...      little-endian, defined by the index type
//! check   u64      FNV-1a 64 of every byte before it
//! ```
//!
//! Files are written to `<path>.tmp-<pid>`, synced, and renamed over `path`, so a crash
//! leaves either the old file or the new one. Reading checks magic, version, kind, every
//! length against the file size, and the checksum, so truncated, corrupted or foreign files
//! are an `Err` naming the file.

use std::io::Write;
use std::path::{Path, PathBuf};

use wgfaiss_core::{Error, Result};

const MAGIC: &[u8; 8] = b"WGFAISS\0";

/// Version written and the only one read.
pub const FORMAT_VERSION: u32 = 1;

/// Index kinds.
pub const KIND_FLAT: u32 = 1;
/// IVF-Flat.
pub const KIND_IVF_FLAT: u32 = 2;
/// A PCA transform, optionally followed by the index behind it (`pca::PcaIndex`).
pub const KIND_PCA: u32 = 3;

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Builds a file body in memory.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A file of `kind` with the header written.
    pub fn new(kind: u32) -> Writer {
        let mut w = Writer::default();
        w.buf.extend_from_slice(MAGIC);
        w.u32(FORMAT_VERSION);
        w.u32(kind);
        w
    }

    /// Appends a u32.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends a u64.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends raw little-endian values.
    pub fn values<T: bytemuck::Pod>(&mut self, v: &[T]) {
        self.buf.extend_from_slice(bytemuck::cast_slice(v));
    }

    /// Adds the checksum and writes the file atomically.
    pub fn finish(mut self, path: &Path) -> Result<()> {
        let check = fnv1a(&self.buf, FNV_OFFSET);
        self.u64(check);
        let tmp = PathBuf::from(format!("{}.tmp-{}", path.display(), std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&self.buf)?;
            f.sync_all()?;
            Ok(())
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(path, e));
        }
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(path, e)
        })?;
        // The rename is durable once the directory is synced (best effort where unsupported).
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// The kind of index in a file (from its header; the rest is checked when it is loaded).
pub fn kind_of(path: &Path) -> Result<u32> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(path).map_err(|e| io(path, e))?;
    f.read_exact(&mut head).map_err(|_| Error::Format {
        path: path.to_path_buf(),
        reason: "not a wgfaiss index file (shorter than its header)".into(),
    })?;
    if &head[..8] != MAGIC {
        return Err(Error::Format {
            path: path.to_path_buf(),
            reason: "not a wgfaiss index file (no WGFAISS header)".into(),
        });
    }
    Ok(u32::from_le_bytes(
        head[12..16].try_into().expect("4 bytes"),
    ))
}

/// Reads a file written by [`Writer`].
pub struct Reader {
    path: PathBuf,
    buf: Vec<u8>,
    at: usize,
    end: usize,
}

impl Reader {
    /// Opens `path`, checks magic, version, kind and checksum.
    pub fn open(path: &Path, kind: u32) -> Result<Reader> {
        let buf = std::fs::read(path).map_err(|e| io(path, e))?;
        let bad = |reason: String| Error::Format {
            path: path.to_path_buf(),
            reason,
        };
        if buf.len() < 16 + 8 || &buf[..8] != MAGIC {
            return Err(bad("not a wgfaiss index file (no WGFAISS header)".into()));
        }
        let end = buf.len() - 8;
        let stored = u64::from_le_bytes(buf[end..].try_into().expect("8 bytes"));
        let mut r = Reader {
            path: path.to_path_buf(),
            buf,
            at: 8,
            end,
        };
        let version = r.u32()?;
        if version != FORMAT_VERSION {
            return Err(bad(format!(
                "format version {version}, this build reads version {FORMAT_VERSION}"
            )));
        }
        let got_kind = r.u32()?;
        if got_kind != kind {
            return Err(bad(format!(
                "an index of kind {got_kind}, expected kind {kind}"
            )));
        }
        if fnv1a(&r.buf[..end], FNV_OFFSET) != stored {
            return Err(bad(
                "checksum mismatch: the file is truncated or corrupted".into()
            ));
        }
        Ok(r)
    }

    /// An error about this file.
    pub fn error(&self, reason: impl Into<String>) -> Error {
        Error::Format {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if n > self.end - self.at {
            return Err(self.error(format!(
                "truncated: {n} bytes wanted at offset {}, {} left",
                self.at,
                self.end - self.at
            )));
        }
        let s = &self.buf[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    /// Reads a u32.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }

    /// Reads a u64.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }

    /// Reads `n` values.
    pub fn values<T: bytemuck::Pod>(&mut self, n: usize) -> Result<Vec<T>> {
        let bytes = n
            .checked_mul(size_of::<T>())
            .ok_or_else(|| self.error(format!("{n} values overflow")))?;
        let raw = self.take(bytes)?;
        Ok(bytemuck::pod_collect_to_vec(raw))
    }

    /// Checks that nothing is left before the checksum.
    pub fn done(&self) -> Result<()> {
        if self.at != self.end {
            return Err(self.error(format!(
                "{} unexpected bytes after the index",
                self.end - self.at
            )));
        }
        Ok(())
    }
}

//! Vector files: `.fvecs`, `.bvecs`, `.ivecs` (the ANN benchmark formats: each row is a
//! little-endian i32 dimension followed by that many f32 / u8 / i32 values) and `.npy` (NumPy
//! 2-D arrays of f32, f64, u8, i32 or i64, C or Fortran order), IDX (the (Fashion-)MNIST
//! format), each optionally gzip-compressed (`.gz`). Readers return row-major data;
//! malformed files are an `Err` naming the file and the problem.

use std::path::Path;

use wgfaiss_core::{Error, Result};

/// A row-major matrix read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix<T> {
    /// Rows.
    pub rows: usize,
    /// Columns (the dimension).
    pub cols: usize,
    /// `rows × cols` values, row-major.
    pub data: Vec<T>,
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Reads `*vecs` rows of `width`-byte values, converting each with `conv`.
fn read_vecs<T>(
    path: &Path,
    bytes: &[u8],
    width: usize,
    conv: impl Fn(&[u8]) -> T,
) -> Result<Matrix<T>> {
    if bytes.is_empty() {
        return Err(bad(path, "empty file"));
    }
    let d = i32::from_le_bytes(
        bytes[..4.min(bytes.len())]
            .try_into()
            .map_err(|_| bad(path, "shorter than one dimension header"))?,
    );
    if d <= 0 {
        return Err(bad(path, format!("dimension {d} in the first row header")));
    }
    let d = d as usize;
    let row = 4 + d * width;
    if !bytes.len().is_multiple_of(row) {
        return Err(bad(
            path,
            format!(
                "{} bytes are not whole rows of dimension {d} ({row} bytes each): truncated or not this format",
                bytes.len()
            ),
        ));
    }
    let rows = bytes.len() / row;
    let mut data = Vec::with_capacity(rows * d);
    for (r, chunk) in bytes.chunks_exact(row).enumerate() {
        let h = i32::from_le_bytes(chunk[..4].try_into().expect("4 bytes"));
        if h as usize != d || h <= 0 {
            return Err(bad(
                path,
                format!("row {r} has dimension {h}, the first row {d}"),
            ));
        }
        data.extend(chunk[4..].chunks_exact(width).map(&conv));
    }
    Ok(Matrix {
        rows,
        cols: d,
        data,
    })
}

/// `*vecs` rows as bytes.
fn vecs_bytes<T: bytemuck::Pod>(path: &Path, data: &[T], cols: usize) -> Result<Vec<u8>> {
    if cols == 0 || !data.len().is_multiple_of(cols) || cols > i32::MAX as usize {
        return Err(bad(
            path,
            format!("{} values are not rows of {cols}", data.len()),
        ));
    }
    let mut out = Vec::with_capacity(std::mem::size_of_val(data) + data.len() / cols * 4);
    for row in data.chunks_exact(cols) {
        out.extend_from_slice(&(cols as i32).to_le_bytes());
        out.extend_from_slice(bytemuck::cast_slice(row));
    }
    Ok(out)
}

/// NumPy element types read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    F32,
    F64,
    U8,
    I32,
    I64,
}

impl Dtype {
    fn width(self) -> usize {
        match self {
            Dtype::U8 => 1,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F64 | Dtype::I64 => 8,
        }
    }
}

/// Parses a `.npy` header; returns (dtype, Fortran order, shape, data offset).
fn npy_header(path: &Path, bytes: &[u8]) -> Result<(Dtype, bool, Vec<usize>, usize)> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad(path, "not a .npy file (no \\x93NUMPY magic)"));
    }
    let major = bytes[6];
    let (len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes(bytes[8..12].try_into().expect("4")) as usize,
            12,
        ),
        _ => {
            return Err(bad(
                path,
                format!(".npy format version {major} not supported"),
            ));
        }
    };
    let header = bytes
        .get(start..start + len)
        .ok_or_else(|| bad(path, "truncated .npy header"))?;
    let header = std::str::from_utf8(header).map_err(|_| bad(path, ".npy header is not text"))?;
    let field = |name: &str| -> Result<&str> {
        let key = format!("'{name}':");
        let at = header
            .find(&key)
            .ok_or_else(|| bad(path, format!(".npy header has no {name}")))?;
        Ok(header[at + key.len()..].trim_start())
    };
    let descr = field("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|s| s.split('\'').next())
        .ok_or_else(|| bad(path, "bad descr in .npy header"))?;
    let dtype = match descr {
        "<f4" => Dtype::F32,
        "<f8" => Dtype::F64,
        "|u1" | "<u1" => Dtype::U8,
        "<i4" => Dtype::I32,
        "<i8" => Dtype::I64,
        other => {
            return Err(bad(
                path,
                format!(
                    "element type {other:?} not supported (f32, f64, u8, i32, i64, little-endian)"
                ),
            ));
        }
    };
    let fortran = field("fortran_order")?.starts_with("True");
    let shape = field("shape")?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad(path, "bad shape in .npy header"))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(path, format!("bad shape entry {s:?}")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((dtype, fortran, shape, start + len))
}

/// Reads a 2-D `.npy` array as f32 (or a 1-D one as a single column).
fn read_npy(path: &Path, bytes: &[u8]) -> Result<Matrix<f64>> {
    let (dtype, fortran, shape, offset) = npy_header(path, bytes)?;
    let (rows, cols) = match shape[..] {
        [n] => (n, 1),
        [n, d] => (n, d),
        _ => {
            return Err(bad(
                path,
                format!("a {}-D array; expected 2-D (rows x dimension)", shape.len()),
            ));
        }
    };
    let count = rows
        .checked_mul(cols)
        .ok_or_else(|| bad(path, "shape overflows"))?;
    let body = &bytes[offset..];
    if body.len() != count * dtype.width() {
        return Err(bad(
            path,
            format!(
                "{} data bytes for shape ({rows}, {cols}) of {}-byte values: truncated or corrupted",
                body.len(),
                dtype.width()
            ),
        ));
    }
    let values: Vec<f64> = body
        .chunks_exact(dtype.width())
        .map(|c| match dtype {
            Dtype::F32 => f64::from(f32::from_le_bytes(c.try_into().expect("4"))),
            Dtype::F64 => f64::from_le_bytes(c.try_into().expect("8")),
            Dtype::U8 => f64::from(c[0]),
            Dtype::I32 => f64::from(i32::from_le_bytes(c.try_into().expect("4"))),
            Dtype::I64 => i64::from_le_bytes(c.try_into().expect("8")) as f64,
        })
        .collect();
    let data = if fortran {
        // Column-major: element (r, c) at c * rows + r.
        let mut out = vec![0.0; count];
        for c in 0..cols {
            for r in 0..rows {
                out[r * cols + c] = values[c * rows + r];
            }
        }
        out
    } else {
        values
    };
    Ok(Matrix { rows, cols, data })
}

/// The file's format: by extension, after a `.gz` suffix (read through gzip).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Fvecs,
    Bvecs,
    Ivecs,
    Npy,
    Idx,
}

/// The format of `path` and whether it is gzip-compressed. `.idx`, and names with `-idx`
/// in them and no other known extension (MNIST's `train-images-idx3-ubyte`), are IDX.
fn format_of(path: &Path) -> (Option<Format>, bool) {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (name, gz) = match name.strip_suffix(".gz") {
        Some(inner) => (inner.to_string(), true),
        None => (name, false),
    };
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    let format = match ext {
        "fvecs" => Some(Format::Fvecs),
        "bvecs" => Some(Format::Bvecs),
        "ivecs" => Some(Format::Ivecs),
        "npy" => Some(Format::Npy),
        "idx" => Some(Format::Idx),
        _ if name.contains("-idx") || name.starts_with("idx") => Some(Format::Idx),
        _ => None,
    };
    (format, gz)
}

/// The file's bytes, decompressed when `gz`.
fn read_maybe_gz(path: &Path, gz: bool) -> Result<Vec<u8>> {
    let bytes = read(path)?;
    if !gz {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out)
        .map_err(|e| bad(path, format!("not a valid gzip stream: {e}")))?;
    Ok(out)
}

/// Writes `bytes`, gzip-compressed when `gz`.
fn write_maybe_gz(path: &Path, bytes: &[u8], gz: bool) -> Result<()> {
    if !gz {
        return write(path, bytes);
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, bytes)
        .and_then(|()| enc.finish())
        .map_err(|e| bad(path, format!("gzip: {e}")))
        .and_then(|z| write(path, &z))
}

/// Parses an IDX file (the MNIST format: two zero bytes, an element type, the number of
/// dimensions, big-endian u32 sizes, big-endian values). The first dimension is rows; the
/// others are flattened into columns (28 × 28 images → 784).
fn read_idx(path: &Path, bytes: &[u8]) -> Result<Matrix<f64>> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(
            path,
            "not an IDX file (the magic number starts with two zero bytes)",
        ));
    }
    let (code, ndim) = (bytes[2], bytes[3] as usize);
    let width = match code {
        0x08 | 0x09 => 1,
        0x0B => 2,
        0x0C | 0x0D => 4,
        0x0E => 8,
        other => {
            return Err(bad(
                path,
                format!(
                    "IDX element type 0x{other:02x} unknown (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64)"
                ),
            ));
        }
    };
    if ndim == 0 {
        return Err(bad(path, "IDX file with 0 dimensions"));
    }
    let head = 4 + 4 * ndim;
    let dims: Vec<usize> = bytes
        .get(4..head)
        .ok_or_else(|| bad(path, format!("truncated IDX header ({ndim} dimensions)")))?
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes(c.try_into().expect("4")) as usize)
        .collect();
    let rows = dims[0];
    let cols = dims[1..]
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(path, "IDX dimensions overflow"))?;
    let count = rows
        .checked_mul(cols)
        .ok_or_else(|| bad(path, "IDX dimensions overflow"))?;
    let body = &bytes[head..];
    if cols == 0 || body.len() != count * width {
        return Err(bad(
            path,
            format!(
                "{} data bytes for IDX dimensions {dims:?} of {width}-byte values: truncated or corrupted",
                body.len()
            ),
        ));
    }
    let data = body
        .chunks_exact(width)
        .map(|c| match code {
            0x08 => f64::from(c[0]),
            0x09 => f64::from(c[0] as i8),
            0x0B => f64::from(i16::from_be_bytes(c.try_into().expect("2"))),
            0x0C => f64::from(i32::from_be_bytes(c.try_into().expect("4"))),
            0x0D => f64::from(f32::from_be_bytes(c.try_into().expect("4"))),
            _ => f64::from_be_bytes(c.try_into().expect("8")),
        })
        .collect();
    Ok(Matrix { rows, cols, data })
}

/// An IDX file of f32 values, `rows × cols` (2-D).
fn idx_bytes(path: &Path, data: &[f32], cols: usize) -> Result<Vec<u8>> {
    let rows = shape_of(path, data.len(), cols)?;
    let (r, c) = (
        u32::try_from(rows).map_err(|_| bad(path, "too many rows for IDX"))?,
        u32::try_from(cols).map_err(|_| bad(path, "too many columns for IDX"))?,
    );
    let mut out = Vec::with_capacity(12 + data.len() * 4);
    out.extend_from_slice(&[0, 0, 0x0D, 2]);
    out.extend_from_slice(&r.to_be_bytes());
    out.extend_from_slice(&c.to_be_bytes());
    for v in data {
        out.extend_from_slice(&v.to_be_bytes());
    }
    Ok(out)
}

/// Rows of `len` values in rows of `cols`, or an error.
fn shape_of(path: &Path, len: usize, cols: usize) -> Result<usize> {
    if cols == 0 || !len.is_multiple_of(cols) {
        return Err(bad(path, format!("{len} values are not rows of {cols}")));
    }
    Ok(len / cols)
}

const VECTOR_TYPES: &str =
    ".fvecs, .bvecs, .npy or IDX (.idx, MNIST's *-idx3-ubyte), each optionally .gz";

/// Any supported file as an f64 matrix (ids and vectors alike).
fn read_matrix(path: &Path, allowed: &[Format], expected: &str) -> Result<Matrix<f64>> {
    let (format, gz) = format_of(path);
    let format = match format {
        Some(f) if allowed.contains(&f) => f,
        _ => {
            return Err(bad(path, format!("unknown file type: expected {expected}")));
        }
    };
    let bytes = read_maybe_gz(path, gz)?;
    let le4 = |b: &[u8]| b.try_into().map(|a: [u8; 4]| a).expect("4");
    match format {
        Format::Fvecs => read_vecs(path, &bytes, 4, |b| f64::from(f32::from_le_bytes(le4(b)))),
        Format::Bvecs => read_vecs(path, &bytes, 1, |b| f64::from(b[0])),
        Format::Ivecs => read_vecs(path, &bytes, 4, |b| f64::from(i32::from_le_bytes(le4(b)))),
        Format::Npy => read_npy(path, &bytes),
        Format::Idx => read_idx(path, &bytes),
    }
}

/// Reads vectors as f32 from `.fvecs`, `.bvecs`, `.npy` or IDX files (by name; a `.gz`
/// suffix is read through gzip).
pub fn read_vectors(path: &Path) -> Result<Matrix<f32>> {
    let m = read_matrix(
        path,
        &[Format::Fvecs, Format::Bvecs, Format::Npy, Format::Idx],
        VECTOR_TYPES,
    )?;
    Ok(Matrix {
        rows: m.rows,
        cols: m.cols,
        data: m.data.into_iter().map(|v| v as f32).collect(),
    })
}

/// Reads ids (ground truth) or labels from `.ivecs`, `.npy` or IDX files (optionally `.gz`).
pub fn read_ids(path: &Path) -> Result<Matrix<i64>> {
    let m = read_matrix(
        path,
        &[Format::Ivecs, Format::Npy, Format::Idx],
        ".ivecs, .npy or IDX, each optionally .gz",
    )?;
    Ok(Matrix {
        rows: m.rows,
        cols: m.cols,
        data: m.data.into_iter().map(|v| v as i64).collect(),
    })
}

fn npy_bytes(descr: &str, rows: usize, cols: usize, body: &[u8]) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64.
    let total = (10 + header.len() + 1).div_ceil(64) * 64;
    header.push_str(&" ".repeat(total - 10 - header.len() - 1));
    header.push('\n');
    let mut out = Vec::with_capacity(total + body.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

/// Writes ids (`rows × cols`) as `.ivecs` (i32; ids outside i32 are an error) or `.npy` (i64),
/// gzip-compressed with a `.gz` suffix.
pub fn write_ids(path: &Path, ids: &[i64], cols: usize) -> Result<()> {
    let (format, gz) = format_of(path);
    let bytes = match format {
        Some(Format::Ivecs) => {
            let narrow = ids
                .iter()
                .map(|&i| i32::try_from(i))
                .collect::<std::result::Result<Vec<i32>, _>>()
                .map_err(|_| bad(path, "an id does not fit .ivecs's i32; write .npy"))?;
            vecs_bytes(path, &narrow, cols)?
        }
        Some(Format::Npy) => {
            let rows = shape_of(path, ids.len(), cols)?;
            npy_bytes("<i8", rows, cols, bytemuck::cast_slice(ids))
        }
        _ => {
            return Err(bad(
                path,
                "unknown id file type: expected .ivecs or .npy (optionally .gz)",
            ));
        }
    };
    write_maybe_gz(path, &bytes, gz)
}

/// Writes f32 values (`rows × cols`) as `.fvecs`, `.npy` or `.idx` (IDX of f32), gzip-compressed
/// with a `.gz` suffix.
pub fn write_vectors(path: &Path, data: &[f32], cols: usize) -> Result<()> {
    let (format, gz) = format_of(path);
    let bytes = match format {
        Some(Format::Fvecs) => vecs_bytes(path, data, cols)?,
        Some(Format::Npy) => {
            let rows = shape_of(path, data.len(), cols)?;
            npy_bytes("<f4", rows, cols, bytemuck::cast_slice(data))
        }
        Some(Format::Idx) => idx_bytes(path, data, cols)?,
        _ => {
            return Err(bad(
                path,
                "unknown vector file type: expected .fvecs, .npy or .idx (optionally .gz)",
            ));
        }
    };
    write_maybe_gz(path, &bytes, gz)
}

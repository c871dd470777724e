//! Vector files: `.fvecs`, `.bvecs`, `.ivecs` (the ANN benchmark formats: each row is a
//! little-endian i32 dimension followed by that many f32 / u8 / i32 values) and `.npy` (NumPy
//! 2-D arrays of f32, f64, u8, i32 or i64, C or Fortran order). Readers return row-major data;
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

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Reads `*vecs` rows of `width`-byte values, converting each with `conv`.
fn read_vecs<T>(path: &Path, width: usize, conv: impl Fn(&[u8]) -> T) -> Result<Matrix<T>> {
    let bytes = read(path)?;
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
    if bytes.len() % row != 0 {
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

/// Writes `*vecs` rows.
fn write_vecs<T: bytemuck::Pod>(path: &Path, data: &[T], cols: usize) -> Result<()> {
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
    write(path, &out)
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
fn read_npy(path: &Path) -> Result<Matrix<f64>> {
    let bytes = read(path)?;
    let (dtype, fortran, shape, offset) = npy_header(path, &bytes)?;
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

/// Reads vectors as f32 from `.fvecs`, `.bvecs` or `.npy` (by extension).
pub fn read_vectors(path: &Path) -> Result<Matrix<f32>> {
    match extension(path).as_str() {
        "fvecs" => read_vecs(path, 4, |b| f32::from_le_bytes(b.try_into().expect("4"))),
        "bvecs" => read_vecs(path, 1, |b| f32::from(b[0])),
        "npy" => {
            let m = read_npy(path)?;
            Ok(Matrix {
                rows: m.rows,
                cols: m.cols,
                data: m.data.into_iter().map(|v| v as f32).collect(),
            })
        }
        other => Err(bad(
            path,
            format!("unknown vector file type {other:?}: expected .fvecs, .bvecs or .npy"),
        )),
    }
}

/// Reads ids (ground truth) from `.ivecs` or `.npy` (by extension).
pub fn read_ids(path: &Path) -> Result<Matrix<i64>> {
    match extension(path).as_str() {
        "ivecs" => read_vecs(path, 4, |b| {
            i64::from(i32::from_le_bytes(b.try_into().expect("4")))
        }),
        "npy" => {
            let m = read_npy(path)?;
            Ok(Matrix {
                rows: m.rows,
                cols: m.cols,
                data: m.data.into_iter().map(|v| v as i64).collect(),
            })
        }
        other => Err(bad(
            path,
            format!("unknown id file type {other:?}: expected .ivecs or .npy"),
        )),
    }
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

/// Writes ids (`rows × cols`) as `.ivecs` (i32; ids outside i32 are an error) or `.npy` (i64).
pub fn write_ids(path: &Path, ids: &[i64], cols: usize) -> Result<()> {
    match extension(path).as_str() {
        "ivecs" => {
            let narrow = ids
                .iter()
                .map(|&i| i32::try_from(i))
                .collect::<std::result::Result<Vec<i32>, _>>()
                .map_err(|_| bad(path, "an id does not fit .ivecs's i32; write .npy"))?;
            write_vecs(path, &narrow, cols)
        }
        "npy" if cols > 0 && ids.len().is_multiple_of(cols) => write(
            path,
            &npy_bytes("<i8", ids.len() / cols, cols, bytemuck::cast_slice(ids)),
        ),
        "npy" => Err(bad(
            path,
            format!("{} ids are not rows of {cols}", ids.len()),
        )),
        other => Err(bad(
            path,
            format!("unknown id file type {other:?}: expected .ivecs or .npy"),
        )),
    }
}

/// Writes f32 values (`rows × cols`) as `.fvecs` or `.npy`.
pub fn write_vectors(path: &Path, data: &[f32], cols: usize) -> Result<()> {
    match extension(path).as_str() {
        "fvecs" => write_vecs(path, data, cols),
        "npy" if cols > 0 && data.len().is_multiple_of(cols) => write(
            path,
            &npy_bytes("<f4", data.len() / cols, cols, bytemuck::cast_slice(data)),
        ),
        "npy" => Err(bad(
            path,
            format!("{} values are not rows of {cols}", data.len()),
        )),
        other => Err(bad(
            path,
            format!("unknown vector file type {other:?}: expected .fvecs or .npy"),
        )),
    }
}

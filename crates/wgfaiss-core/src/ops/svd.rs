//! Randomized top-k SVD by subspace iteration, with a banded Z-step.
//!
//! For `A` (`m × n`, row-major) and `r = k + oversample` random start vectors `V`, each
//! iteration is `V ← QR(Aᵀ(A·V))`: the Z-step is two GEMMs per band of `svd.band` columns of
//! `V` (`Y = A·V_band`, then `W = Aᵀ·Y`), bands recorded as independent work, then the blocked
//! QR ([`super::linalg::QrBlocked`]) of `W` — all in one submission per iteration, with only
//! the QR's small factors read back (to check for dependent columns). At the end, Rayleigh–Ritz
//! from `Y = A·V`: `Y = Q_Y·R_Y` on the device, `R_YᵀR_Y` diagonalised on the host (Jacobi, f64),
//! `σᵢ = √λᵢ`, and the singular vectors as two GEMMs, `Vᵀ ← Eᵀ·Vᵀ` and `Uᵀ ← (R_Y·E·Σ⁻¹)ᵀ·Q_Yᵀ`.
//! Where the Cholesky panels refuse `W` or `Y` (data of low rank, or a steep spectrum: their
//! trailing columns are dependent at f32 precision), that step runs on the host in f64
//! instead (`W` orthonormalised with dependent columns replaced by random directions; the
//! Gram matrix `YᵀY` summed in f64).
//!
//! Layout: everything is kept as row-major "transposed" matrices, so every product is one of
//! the GEMM's forms and a row of a buffer is a vector: `Vᵀ` is `r × n`, `Yᵀ` is `r × m`.

use crate::buffer::GpuBuffer;
use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::ops::gemm::{Gemm, GemmOptions, GemmShape};
use crate::ops::linalg::QrBlocked;
use crate::rng::Rng;
use crate::submit::Batch;

/// Options of [`svd_topk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SvdOptions {
    /// Subspace iterations `V ← QR(Aᵀ(A·V))` (0: one projection of the random start).
    pub iters: usize,
    /// Extra start vectors beyond k (accuracy of the k-th value).
    pub oversample: usize,
    /// Seed of the random start.
    pub seed: u64,
    /// Columns of V per band of the Z-step (default: the tuning entry's `svd.band`).
    pub band: Option<usize>,
    /// Compute the left singular vectors (`Svd::ut`); PCA needs only the right ones.
    pub left: bool,
}

impl Default for SvdOptions {
    fn default() -> Self {
        SvdOptions {
            iters: 4,
            oversample: 10,
            seed: 7,
            band: None,
            left: true,
        }
    }
}

/// The top-k singular triplets, largest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Svd {
    /// Singular values σ₁ ≥ … ≥ σ_k.
    pub s: Vec<f32>,
    /// Left singular vectors as rows: `k × m` (row i is uᵢ); empty without
    /// [`SvdOptions::left`].
    pub ut: Vec<f32>,
    /// Right singular vectors as rows: `k × n` (row i is vᵢ).
    pub vt: Vec<f32>,
    /// Bands recorded per Z-step.
    pub bands: usize,
    /// Steps that ran on the host because the device QR refused a matrix (see the module).
    pub host_fallbacks: usize,
    /// Device time of all submissions (timestamps; `None` without them).
    pub gpu_seconds: Option<f64>,
}

/// The top-k SVD of `a` (`m × n`, row-major): uploads it and runs [`svd_topk_device`].
/// Errors: k = 0 or k > min(m, n), a size mismatch, a non-finite entry.
pub fn svd_topk(
    gpu: &Gpu,
    a: &[f32],
    m: usize,
    n: usize,
    k: usize,
    opts: &SvdOptions,
) -> Result<Svd> {
    if m == 0 || n == 0 || m.checked_mul(n) != Some(a.len()) {
        return Err(Error::InvalidArgument(format!(
            "SVD: {} values are not a {m} x {n} matrix",
            a.len()
        )));
    }
    check_k(m, n, k)?;
    if let Some(i) = a.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "SVD: entry ({}, {}) is {}",
            i / n,
            i % n,
            a[i]
        )));
    }
    let abuf = gpu.upload(a)?;
    svd_topk_device(gpu, &abuf, m, n, k, opts)
}

fn check_k(m: usize, n: usize, k: usize) -> Result<()> {
    if k == 0 || k > m.min(n) {
        return Err(Error::InvalidArgument(format!(
            "SVD: k = {k}, expected 1..={} for a {m} x {n} matrix",
            m.min(n)
        )));
    }
    Ok(())
}

/// Adds a batch's device time to a running total (`None` once any batch lacks it).
fn add_time(total: &mut Option<f64>, t: Option<f64>) {
    *total = total.zip(t).map(|(a, b)| a + b);
}

/// The top-k SVD of a matrix already on the device (`m × n`, row-major, within one storage
/// binding). The entries must be finite (not checked on the device; non-finite data gives an
/// error from the result's check). Errors as [`svd_topk`].
pub fn svd_topk_device(
    gpu: &Gpu,
    abuf: &GpuBuffer<f32>,
    m: usize,
    n: usize,
    k: usize,
    opts: &SvdOptions,
) -> Result<Svd> {
    if m == 0 || n == 0 || m.checked_mul(n).is_none_or(|len| len > abuf.len()) {
        return Err(Error::InvalidArgument(format!(
            "SVD: a buffer of {} values is not a {m} x {n} matrix",
            abuf.len()
        )));
    }
    check_k(m, n, k)?;
    let r = (k + opts.oversample).min(m.min(n));
    let band = opts
        .band
        .unwrap_or(gpu.tuning().int("svd.band") as usize)
        .clamp(1, r);
    // Gaussian-free start: uniform entries are as good for a random subspace.
    let mut rng = Rng::new(opts.seed);
    let bands: Vec<(usize, usize)> = (0..r)
        .step_by(band)
        .map(|c0| (c0, band.min(r - c0)))
        .collect();
    // Vᵀ (r × n) and the Z-step's Wᵀ (r × n) and Yᵀ (r × m), whole; per band its rows of Vᵀ,
    // Yᵀ = Vᵀ·Aᵀ (bw × m) and Wᵀ = Yᵀ·A (bw × n), copied to and from the whole matrices.
    let w_all = gpu.alloc::<f32>(r * n)?;
    let y_all = gpu.alloc::<f32>(r * m)?;
    let qr_w = QrBlocked::new(gpu, &w_all, n, r)?;
    let v_all = qr_w.q();
    gpu.write(v_all, &rng.vec(r * n))?;
    struct Band {
        c0: usize,
        v: GpuBuffer<f32>,
        y: GpuBuffer<f32>,
        w: GpuBuffer<f32>,
        av: Gemm,
        atav: Gemm,
    }
    let opts_g = GemmOptions::default();
    let plans = bands
        .iter()
        .map(|&(c0, bw)| -> Result<Band> {
            let v = gpu.alloc::<f32>(bw * n)?;
            let y = gpu.alloc::<f32>(bw * m)?;
            let w = gpu.alloc::<f32>(bw * n)?;
            let av = Gemm::new(
                gpu,
                &v,
                abuf,
                &y,
                GemmShape {
                    trans_b: true,
                    ..GemmShape::new(bw, m, n)
                },
                &opts_g,
            )?;
            let atav = Gemm::new(gpu, &y, abuf, &w, GemmShape::new(bw, n, m), &opts_g)?;
            Ok(Band {
                c0,
                v,
                y,
                w,
                av,
                atav,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let rows = |b: &Band, len: usize| ((b.c0 * len * 4) as u64, (b.v.len() / n * len * 4) as u64);
    // Bands of V from Vᵀ, then Y = A·V per band (and W = Aᵀ·Y when `z`), gathered whole.
    let record_z = |batch: &mut Batch<'_>, z: bool| {
        for b in &plans {
            let (at, bytes) = rows(b, n);
            batch.copy(v_all.raw(), at, b.v.raw(), 0, bytes);
            b.av.record(batch);
            if z {
                b.atav.record(batch);
                batch.copy(b.w.raw(), 0, w_all.raw(), at, bytes);
            } else {
                let (at, bytes) = rows(b, m);
                batch.copy(b.y.raw(), 0, y_all.raw(), at, bytes);
            }
        }
    };
    let mut gpu_seconds = Some(0.0);
    let mut host_fallbacks = 0;
    for _ in 0..opts.iters {
        let mut batch = gpu.batch(true);
        record_z(&mut batch, true);
        qr_w.record(&mut batch);
        batch.read_after(&qr_w.ranges());
        let report = batch.finish()?;
        add_time(&mut gpu_seconds, report.gpu_seconds);
        match qr_w.r_factor(report.reads.into_iter()) {
            Ok(_) => {}
            // W = AᵀA·V squares the condition number: for data of low rank (or a steep
            // spectrum) its trailing columns are dependent at f32 precision and the Cholesky
            // panels refuse it. Orthonormalise on the host in f64 then (n × r is small), with
            // the dependent columns replaced by random directions; the leading ones — the
            // subspace being sought — keep W's precision.
            Err(Error::InvalidArgument(_)) => {
                host_fallbacks += 1;
                let wt = gpu.read(&w_all)?;
                gpu.write(v_all, &orthonormalise_host(&wt, n, r, &mut rng))?;
            }
            Err(e) => return Err(e),
        }
    }
    // Rayleigh–Ritz from Y = A·V = Q_Y·R_Y.
    let qr_y = QrBlocked::new(gpu, &y_all, m, r)?;
    let mut batch = gpu.batch(true);
    record_z(&mut batch, false);
    qr_y.record(&mut batch);
    batch.read_after(&qr_y.ranges());
    let report = batch.finish()?;
    add_time(&mut gpu_seconds, report.gpu_seconds);
    // G = R_YᵀR_Y (= YᵀY) in f64; `left` maps E·Σ⁻¹ to the left vectors' coefficients over
    // the rows of `basis`: R_Y·E·Σ⁻¹ over Q_Yᵀ, or E·Σ⁻¹ over Yᵀ on the host path.
    let (mut g, ry, basis) = match qr_y.r_factor(report.reads.into_iter()) {
        Ok(ry) => {
            let ry: Vec<f64> = ry.into_iter().map(f64::from).collect();
            let mut g = vec![0.0f64; r * r];
            for i in 0..r {
                for j in i..r {
                    let dot: f64 = (0..=i.min(j)).map(|t| ry[t * r + i] * ry[t * r + j]).sum();
                    g[i * r + j] = dot;
                    g[j * r + i] = dot;
                }
            }
            (g, Some(ry), qr_y.q())
        }
        Err(Error::InvalidArgument(_)) => {
            host_fallbacks += 1;
            let yt: Vec<f64> = gpu.read(&y_all)?.into_iter().map(f64::from).collect();
            let mut g = vec![0.0f64; r * r];
            for i in 0..r {
                for j in i..r {
                    let dot: f64 = (0..m).map(|t| yt[i * m + t] * yt[j * m + t]).sum();
                    g[i * r + j] = dot;
                    g[j * r + i] = dot;
                }
            }
            (g, None, &y_all)
        }
        Err(e) => return Err(e),
    };
    let (lambda, e) = jacobi_eigen(&mut g, r);
    let e = &e;
    if lambda.iter().any(|l| !l.is_finite()) {
        return Err(Error::InvalidArgument(
            "SVD: the matrix holds non-finite values (the projected problem is not finite)".into(),
        ));
    }
    let mut order: Vec<usize> = (0..r).collect();
    order.sort_by(|&x, &y| lambda[y].total_cmp(&lambda[x]));
    let order = &order[..k];
    let s: Vec<f32> = order
        .iter()
        .map(|&c| lambda[c].max(0.0).sqrt() as f32)
        .collect();
    // Eᵀ (k × r) for Vᵀ; (left) Bᵀ (k × r), B = [R_Y]·E·Σ⁻¹, for Uᵀ = Bᵀ·basis.
    let et: Vec<f32> = order
        .iter()
        .flat_map(|&c| (0..r).map(move |j| e[j * r + c] as f32))
        .collect();
    let bt: Vec<f32> = order
        .iter()
        .zip(&s)
        .flat_map(|(&c, &sigma)| {
            let inv = if sigma > 0.0 {
                1.0 / f64::from(sigma)
            } else {
                0.0
            };
            let ry = ry.as_ref();
            (0..r).map(move |i| {
                let v = match ry {
                    Some(ry) => (i..r).map(|t| ry[i * r + t] * e[t * r + c]).sum::<f64>(),
                    None => e[i * r + c],
                };
                (v * inv) as f32
            })
        })
        .collect();
    let etb = gpu.upload(&et)?;
    let vt_out = gpu.alloc::<f32>(k * n)?;
    let mut batch = gpu.batch(true);
    let vmap = Gemm::new(gpu, &etb, v_all, &vt_out, GemmShape::new(k, n, r), &opts_g)?;
    vmap.record(&mut batch);
    let mut reads = vec![(vt_out.raw(), 0, (k * n * 4) as u64)];
    let left = if opts.left {
        let btb = gpu.upload(&bt)?;
        let ut_out = gpu.alloc::<f32>(k * m)?;
        let umap = Gemm::new(gpu, &btb, basis, &ut_out, GemmShape::new(k, m, r), &opts_g)?;
        umap.record(&mut batch);
        Some((btb, ut_out, umap))
    } else {
        None
    };
    if let Some((_, ut_out, _)) = &left {
        reads.push((ut_out.raw(), 0, (k * m * 4) as u64));
    }
    batch.read_after(&reads);
    let report = batch.finish()?;
    add_time(&mut gpu_seconds, report.gpu_seconds);
    let mut out = report.reads.into_iter();
    let vt = out.next().expect("Vᵀ").into_vec()?;
    let ut = match out.next() {
        Some(u) => u.into_vec()?,
        None => Vec::new(),
    };
    Ok(Svd {
        s,
        ut,
        vt,
        bands: bands.len(),
        host_fallbacks,
        gpu_seconds,
    })
}

/// Orthonormal rows spanning the rows of `w` (`r × len`, row-major), by Gram–Schmidt with a
/// second pass in f64; a row that is (numerically) a combination of the previous ones is
/// replaced by a random direction orthogonal to them.
fn orthonormalise_host(w: &[f32], len: usize, r: usize, rng: &mut Rng) -> Vec<f32> {
    let mut q: Vec<f64> = Vec::with_capacity(r * len);
    let scale = w
        .chunks(len)
        .map(|c| c.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt())
        .fold(0.0f64, f64::max)
        .max(1e-300);
    for j in 0..r {
        let mut v: Vec<f64> = w[j * len..(j + 1) * len]
            .iter()
            .map(|&x| f64::from(x))
            .collect();
        for attempt in 0..4 {
            for _ in 0..2 {
                for i in 0..j {
                    let qi = &q[i * len..(i + 1) * len];
                    let dot: f64 = qi.iter().zip(&v).map(|(a, b)| a * b).sum();
                    v.iter_mut().zip(qi).for_each(|(x, a)| *x -= dot * a);
                }
            }
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            let floor = if attempt == 0 { 1e-6 * scale } else { 1e-3 };
            if norm > floor {
                v.iter_mut().for_each(|x| *x /= norm);
                break;
            }
            v = rng.vec(len).into_iter().map(f64::from).collect();
        }
        q.extend(v);
    }
    q.into_iter().map(|x| x as f32).collect()
}

/// Eigenvalues and eigenvectors (columns of the returned `r × r` row-major matrix) of the
/// symmetric `g` by cyclic Jacobi rotations, in f64 (`g` is overwritten).
pub fn jacobi_eigen(g: &mut [f64], r: usize) -> (Vec<f64>, Vec<f64>) {
    let mut e = vec![0.0f64; r * r];
    for i in 0..r {
        e[i * r + i] = 1.0;
    }
    for _sweep in 0..60 {
        let off: f64 = (0..r)
            .flat_map(|i| (0..r).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| g[i * r + j] * g[i * r + j])
            .sum();
        let scale: f64 = (0..r).map(|i| g[i * r + i] * g[i * r + i]).sum::<f64>();
        if off <= 1e-30 * scale.max(1e-300) {
            break;
        }
        for p in 0..r {
            for q in p + 1..r {
                let apq = g[p * r + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (g[q * r + q] - g[p * r + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let sn = t * c;
                for k in 0..r {
                    let gkp = g[k * r + p];
                    let gkq = g[k * r + q];
                    g[k * r + p] = c * gkp - sn * gkq;
                    g[k * r + q] = sn * gkp + c * gkq;
                }
                for k in 0..r {
                    let gpk = g[p * r + k];
                    let gqk = g[q * r + k];
                    g[p * r + k] = c * gpk - sn * gqk;
                    g[q * r + k] = sn * gpk + c * gqk;
                }
                for k in 0..r {
                    let ekp = e[k * r + p];
                    let ekq = e[k * r + q];
                    e[k * r + p] = c * ekp - sn * ekq;
                    e[k * r + q] = sn * ekp + c * ekq;
                }
            }
        }
    }
    ((0..r).map(|i| g[i * r + i]).collect(), e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_diagonalises_a_symmetric_matrix() {
        let r = 5;
        let mut rng = Rng::new(3);
        let b: Vec<f64> = rng.vec(r * r).into_iter().map(f64::from).collect();
        // g = bᵀb (symmetric, positive semidefinite).
        let mut g = vec![0.0; r * r];
        for i in 0..r {
            for j in 0..r {
                g[i * r + j] = (0..r).map(|t| b[t * r + i] * b[t * r + j]).sum();
            }
        }
        let orig = g.clone();
        let (l, e) = jacobi_eigen(&mut g, r);
        // g·eᵢ = λᵢ·eᵢ and eᵀe = I.
        for c in 0..r {
            for i in 0..r {
                let ge: f64 = (0..r).map(|t| orig[i * r + t] * e[t * r + c]).sum();
                assert!((ge - l[c] * e[i * r + c]).abs() < 1e-9, "column {c}");
            }
            for d in 0..r {
                let dot: f64 = (0..r).map(|t| e[t * r + c] * e[t * r + d]).sum();
                assert!((dot - f64::from(u8::from(c == d))).abs() < 1e-9);
            }
        }
    }
}

//! Randomized top-k SVD by subspace iteration, with a banded Z-step.
//!
//! For `A` (`m × n`, row-major) and `r = k + oversample` random start vectors `V`, each
//! iteration is `V ← QR(Aᵀ(A·V))`: the Z-step is two GEMMs per band of `svd.band` columns of
//! `V` (`Y = A·V_band`, then `W = Aᵀ·Y`), bands recorded as independent work in one submission,
//! then the blocked QR ([`super::linalg::qr_blocked`]) of `W`. At the end the Ritz values and
//! vectors come from `Y = A·V`: the `r × r` matrix `YᵀY` is diagonalised on the host (Jacobi,
//! f64), `σᵢ = √λᵢ`, `vᵢ = V·eᵢ`, `uᵢ = Y·eᵢ / σᵢ`. Device work is f32; the small problem is f64.
//!
//! Layout: everything is kept as row-major "transposed" matrices, so every product is one of
//! the GEMM's forms and a row of a buffer is a vector: `Vᵀ` is `r × n`, `Yᵀ` is `r × m`.

use crate::buffer::GpuBuffer;
use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::ops::gemm::{Gemm, GemmOptions, GemmShape};
use crate::ops::linalg::qr_blocked;
use crate::rng::Rng;

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
}

impl Default for SvdOptions {
    fn default() -> Self {
        SvdOptions {
            iters: 4,
            oversample: 10,
            seed: 7,
            band: None,
        }
    }
}

/// The top-k singular triplets, largest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Svd {
    /// Singular values σ₁ ≥ … ≥ σ_k.
    pub s: Vec<f32>,
    /// Left singular vectors as rows: `k × m` (row i is uᵢ).
    pub ut: Vec<f32>,
    /// Right singular vectors as rows: `k × n` (row i is vᵢ).
    pub vt: Vec<f32>,
    /// Bands recorded per Z-step.
    pub bands: usize,
}

/// The top-k SVD of `a` (`m × n`, row-major). Errors: k = 0 or k > min(m, n), a size
/// mismatch, a non-finite entry.
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
    if k == 0 || k > m.min(n) {
        return Err(Error::InvalidArgument(format!(
            "SVD: k = {k}, expected 1..={} for a {m} x {n} matrix",
            m.min(n)
        )));
    }
    if let Some(i) = a.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "SVD: entry ({}, {}) is {}",
            i / n,
            i % n,
            a[i]
        )));
    }
    let r = (k + opts.oversample).min(m.min(n));
    let band = opts
        .band
        .unwrap_or(gpu.tuning().int("svd.band") as usize)
        .clamp(1, r);
    let abuf = gpu.upload(a)?;
    // Gaussian-free start: uniform entries are as good for a random subspace.
    let mut rng = Rng::new(opts.seed);
    let mut vt = rng.vec(r * n);
    let bands: Vec<(usize, usize)> = (0..r)
        .step_by(band)
        .map(|c0| (c0, band.min(r - c0)))
        .collect();
    // Per band: Vᵀ rows, Yᵀ = Vᵀ·Aᵀ (bw × m), Wᵀ = Yᵀ·A (bw × n).
    struct Band {
        v: GpuBuffer<f32>,
        y: GpuBuffer<f32>,
        w: GpuBuffer<f32>,
        av: Gemm,
        atav: Gemm,
    }
    let opts_g = GemmOptions::default();
    let plans = bands
        .iter()
        .map(|&(_, bw)| -> Result<Band> {
            let v = gpu.alloc::<f32>(bw * n)?;
            let y = gpu.alloc::<f32>(bw * m)?;
            let w = gpu.alloc::<f32>(bw * n)?;
            let av = Gemm::new(
                gpu,
                &v,
                &abuf,
                &y,
                GemmShape {
                    trans_b: true,
                    ..GemmShape::new(bw, m, n)
                },
                &opts_g,
            )?;
            let atav = Gemm::new(gpu, &y, &abuf, &w, GemmShape::new(bw, n, m), &opts_g)?;
            Ok(Band { v, y, w, av, atav })
        })
        .collect::<Result<Vec<_>>>()?;
    let write_v = |vt: &[f32]| -> Result<()> {
        for (&(c0, bw), p) in bands.iter().zip(&plans) {
            gpu.write(&p.v, &vt[c0 * n..(c0 + bw) * n])?;
        }
        Ok(())
    };
    for _ in 0..opts.iters {
        write_v(&vt)?;
        let mut batch = gpu.batch(false);
        for p in &plans {
            p.av.record(&mut batch);
            p.atav.record(&mut batch);
            batch.read_after(&[(p.w.raw(), 0, (p.w.len() * 4) as u64)]);
        }
        let report = batch.finish()?;
        // Wᵀ (r × n, row-major) is W column-major: its QR gives the new V.
        let wt: Vec<f32> = report
            .reads
            .iter()
            .flat_map(|b| bytemuck::pod_collect_to_vec::<u8, f32>(b))
            .collect();
        vt = match qr_blocked(gpu, &wt, n, r) {
            Ok(f) => f.q,
            // W = AᵀA·V squares the condition number: for data of low rank (or a steep
            // spectrum) its trailing columns are dependent at f32 precision and the Cholesky
            // panels refuse it. Orthonormalise on the host in f64 then (n × r is small), with
            // the dependent columns replaced by random directions; the leading ones — the
            // subspace being sought — keep W's precision.
            Err(Error::InvalidArgument(_)) => orthonormalise_host(&wt, n, r, &mut rng),
            Err(e) => return Err(e),
        };
    }
    // Ritz values and vectors from Y = A·V.
    write_v(&vt)?;
    let mut batch = gpu.batch(false);
    for p in &plans {
        p.av.record(&mut batch);
        batch.read_after(&[(p.y.raw(), 0, (p.y.len() * 4) as u64)]);
    }
    let report = batch.finish()?;
    let yt: Vec<f64> = report
        .reads
        .iter()
        .flat_map(|b| bytemuck::pod_collect_to_vec::<u8, f32>(b))
        .map(f64::from)
        .collect();
    let mut g = vec![0.0f64; r * r];
    for i in 0..r {
        for j in i..r {
            let dot: f64 = (0..m).map(|t| yt[i * m + t] * yt[j * m + t]).sum();
            g[i * r + j] = dot;
            g[j * r + i] = dot;
        }
    }
    let (lambda, e) = jacobi_eigen(&mut g, r);
    let mut order: Vec<usize> = (0..r).collect();
    order.sort_by(|&x, &y| lambda[y].total_cmp(&lambda[x]));
    let mut s = Vec::with_capacity(k);
    let mut ut = vec![0.0f32; k * m];
    let mut vt_out = vec![0.0f32; k * n];
    for (i, &c) in order.iter().take(k).enumerate() {
        let sigma = lambda[c].max(0.0).sqrt();
        s.push(sigma as f32);
        for j in 0..r {
            let w = e[j * r + c];
            for t in 0..n {
                vt_out[i * n + t] += (w * f64::from(vt[j * n + t])) as f32;
            }
            if sigma > 0.0 {
                for t in 0..m {
                    ut[i * m + t] += (w * yt[j * m + t] / sigma) as f32;
                }
            }
        }
    }
    Ok(Svd {
        s,
        ut,
        vt: vt_out,
        bands: bands.len(),
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

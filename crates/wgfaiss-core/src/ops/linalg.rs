//! Linear algebra for Gram–Schmidt: the QR projection `c = Qᵀv` and the update `v − Q·c`.
//!
//! Q is `m × k`, stored **column-major** (column j is `q[j·m .. (j+1)·m]`), the natural layout
//! for a growing orthonormal basis. `c = Qᵀv` has two forms: one invocation per column (a
//! sequential sum; right for short columns) and the subgroup form, one workgroup per column
//! (coalesced `vec4` reads, subgroup sums combined in a fixed order). The issue asked for one
//! subgroup per column; measured on an H200 it read long columns at under 100 GB/s, so each
//! column now gets a workgroup (docs/ARCHITECTURE.md). `qr.dot` in the tuning entry (`WGFAISS_QR_DOT=auto|simple|subgroup`) picks
//! one; `auto` uses the subgroup form from `qr.dot_threshold` rows (default 512) where the
//! adapter has subgroups. Sums are f32 with `fma`, in index order per invocation.

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use crate::buffer::GpuBuffer;
use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::kernels::{Kernel, QR_SIMPLE, QR_SUBGROUP};
use crate::staging::ReadBytes;
use crate::submit::Batch;

/// How `c = Qᵀv` is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrDot {
    /// One invocation per column.
    Simple,
    /// One subgroup per column (needs SUBGROUP).
    Subgroup,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct Params {
    m: u32,
    k: u32,
    wg_x: u32,
    _pad: u32,
}

const WG: u32 = 256;

fn check_shape(gpu: &Gpu, q: &GpuBuffer<f32>, m: usize, k: usize) -> Result<()> {
    if m == 0 || k == 0 {
        return Err(Error::InvalidArgument(format!(
            "QR projection of an empty basis ({m} x {k})"
        )));
    }
    if m.checked_mul(k).is_none_or(|n| n > q.len()) {
        return Err(Error::InvalidArgument(format!(
            "QR projection: Q holds {} values, fewer than {m} x {k}",
            q.len()
        )));
    }
    if q.len() as u64 * 4 > gpu.capabilities().max_storage_binding_bytes
        || q.len() > u32::MAX as usize
    {
        return Err(Error::InvalidArgument(format!(
            "QR projection: Q of {m} x {k} does not fit one storage binding"
        )));
    }
    Ok(())
}

/// Host slices must be exactly Q (`m × k`) and c (`k`); device plans accept larger buffers.
fn exact_sizes(what: &str, q: usize, m: usize, k: usize, c: Option<usize>) -> Result<()> {
    if m == 0 || k == 0 {
        return Err(Error::InvalidArgument(format!(
            "{what} of an empty basis ({m} x {k})"
        )));
    }
    if m.checked_mul(k) != Some(q) {
        return Err(Error::InvalidArgument(format!(
            "{what}: Q holds {q} values, not {m} x {k}"
        )));
    }
    if let Some(c) = c.filter(|&c| c != k) {
        return Err(Error::InvalidArgument(format!(
            "{what}: c holds {c} (want {k})"
        )));
    }
    Ok(())
}

/// The `c = Qᵀv` form the tuning entry picks for `m` rows.
pub fn dot_form(gpu: &Gpu, m: usize) -> QrDot {
    let t = gpu.tuning();
    match t.choice("qr.dot") {
        "subgroup" if gpu.capabilities().subgroups => QrDot::Subgroup,
        "auto" if gpu.capabilities().subgroups && m as u64 >= t.int("qr.dot_threshold") => {
            QrDot::Subgroup
        }
        _ => QrDot::Simple,
    }
}

/// A planned `c = Qᵀv` over device buffers.
pub struct QrProject {
    kernel: Arc<Kernel>,
    group: wgpu::BindGroup,
    grid: (u32, u32, u32),
    form: QrDot,
}

impl QrProject {
    /// Plans `c = Qᵀv` for Q `m × k` column-major, v of `m`, c of `k`; `form` overrides the
    /// tuning choice.
    pub fn new(
        gpu: &Gpu,
        q: &GpuBuffer<f32>,
        v: &GpuBuffer<f32>,
        c: &GpuBuffer<f32>,
        m: usize,
        k: usize,
        form: Option<QrDot>,
    ) -> Result<QrProject> {
        check_shape(gpu, q, m, k)?;
        if v.len() != m || c.len() < k {
            return Err(Error::InvalidArgument(format!(
                "QR projection: v holds {} (want {m}), c holds {} (want at least {k})",
                v.len(),
                c.len()
            )));
        }
        let form = form.unwrap_or_else(|| dot_form(gpu, m));
        let (kernel, groups) = match form {
            QrDot::Simple => (
                gpu.kernel(&QR_SIMPLE, "qr_dot_simple", &[("WG", WG)])?,
                (k as u32).div_ceil(WG),
            ),
            QrDot::Subgroup => {
                if !gpu.capabilities().subgroups {
                    return Err(Error::InvalidArgument(
                        "the subgroup QR projection needs SUBGROUP, which this adapter lacks"
                            .into(),
                    ));
                }
                let vec4 = u32::from(m.is_multiple_of(4));
                (
                    gpu.kernel(
                        &QR_SUBGROUP,
                        "qr_dot_subgroup",
                        &[("WG", WG), ("VEC4", vec4)],
                    )?,
                    k as u32,
                )
            }
        };
        let (x, y) = gpu.grid(groups);
        let params = gpu.uniform(&Params {
            m: m as u32,
            k: k as u32,
            wg_x: x,
            _pad: 0,
        });
        let mut entries = vec![
            (0, params.as_entire_binding()),
            (1, q.binding()),
            (2, v.binding()),
            (3, c.binding()),
        ];
        if form == QrDot::Subgroup {
            // The subgroup kernel declares scalar and vec4 views of Q and v (VEC4 picks one
            // at compile time); both views are bound to the same buffers.
            entries.push((6, q.binding()));
            entries.push((7, v.binding()));
        }
        let group = gpu.bind(&kernel, &entries);
        Ok(QrProject {
            kernel,
            group,
            grid: (x, y, 1),
            form,
        })
    }

    /// The form in use.
    pub fn form(&self) -> QrDot {
        self.form
    }

    /// Records one projection.
    pub fn record(&self, batch: &mut Batch<'_>) {
        batch.dispatch(&self.kernel, &self.group, self.grid);
    }
}

/// A planned update `v_out = v − Q·c` over device buffers.
pub struct QrUpdate {
    kernel: Arc<Kernel>,
    group: wgpu::BindGroup,
    grid: (u32, u32, u32),
}

impl QrUpdate {
    /// Plans `v_out = v − Q·c` for Q `m × k` column-major.
    pub fn new(
        gpu: &Gpu,
        q: &GpuBuffer<f32>,
        c: &GpuBuffer<f32>,
        v: &GpuBuffer<f32>,
        v_out: &GpuBuffer<f32>,
        m: usize,
        k: usize,
    ) -> Result<QrUpdate> {
        check_shape(gpu, q, m, k)?;
        if v.len() != m || v_out.len() != m || c.len() < k {
            return Err(Error::InvalidArgument(format!(
                "QR update: v holds {}, v_out {} (want {m}), c holds {} (want at least {k})",
                v.len(),
                v_out.len(),
                c.len()
            )));
        }
        let kernel = gpu.kernel(&QR_SIMPLE, "qr_update", &[("WG", WG)])?;
        let (x, y) = gpu.grid((m as u32).div_ceil(WG));
        let params = gpu.uniform(&Params {
            m: m as u32,
            k: k as u32,
            wg_x: x,
            _pad: 0,
        });
        let group = gpu.bind(
            &kernel,
            &[
                (0, params.as_entire_binding()),
                (1, q.binding()),
                (2, v.binding()),
                (4, c.binding()),
                (5, v_out.binding()),
            ],
        );
        Ok(QrUpdate {
            kernel,
            group,
            grid: (x, y, 1),
        })
    }

    /// Records one update.
    pub fn record(&self, batch: &mut Batch<'_>) {
        batch.dispatch(&self.kernel, &self.group, self.grid);
    }
}

/// The thin QR factorisation of a tall `m × k` matrix: `Q` (`m × k`, column-major,
/// orthonormal columns) and `R` (`k × k`, row-major, upper triangular), `A = Q·R`.
#[derive(Debug, Clone, PartialEq)]
pub struct Qr {
    /// Q, column-major.
    pub q: Vec<f32>,
    /// R, row-major.
    pub r: Vec<f32>,
    /// Device time of the factorisation (timestamps; `None` without them).
    pub gpu_seconds: Option<f64>,
}

/// QR of `a` (`m × k`, column-major, k ≤ m) by modified Gram–Schmidt with one
/// re-orthogonalisation pass, on the device: per column, `c = Qᵀv` and `v − Q·c` twice (the
/// projection and update kernels), then a one-workgroup normalisation; one submission for all
/// columns, one readback. A column that is (numerically) a combination of the previous ones
/// is an error naming it.
pub fn qr(gpu: &Gpu, a: &[f32], m: usize, k: usize) -> Result<Qr> {
    let scale = check_qr_input(a, m, k)?;
    let q = gpu.upload(a)?;
    let w = gpu.alloc::<f32>(m)?;
    let w2 = gpu.alloc::<f32>(m)?;
    let c = gpu.alloc::<f32>(k)?;
    let c1 = gpu.alloc::<f32>(k * k)?;
    let c2 = gpu.alloc::<f32>(k * k)?;
    let rdiag = gpu.alloc::<f32>(k)?;
    let norm = gpu.kernel(&QR_SIMPLE, "qr_normalize", &[("WG", WG)])?;
    let mut plans = Vec::with_capacity(k);
    for j in 0..k {
        let params = gpu.uniform(&Params {
            m: m as u32,
            k: j as u32,
            wg_x: 1,
            _pad: 0,
        });
        let normalize = gpu.bind(
            &norm,
            &[
                (0, params.as_entire_binding()),
                (2, w.binding()),
                (8, q.binding()),
                (9, rdiag.binding()),
            ],
        );
        let passes = if j == 0 {
            None
        } else {
            Some((
                QrProject::new(gpu, &q, &w, &c, m, j, None)?,
                QrUpdate::new(gpu, &q, &c, &w, &w2, m, j)?,
                QrProject::new(gpu, &q, &w2, &c, m, j, None)?,
                QrUpdate::new(gpu, &q, &c, &w2, &w, m, j)?,
            ))
        };
        plans.push((passes, normalize));
    }
    let mut batch = gpu.batch(true);
    let col = |j: usize| (j * m * 4) as u64;
    for (j, (passes, normalize)) in plans.iter().enumerate() {
        batch.copy(q.raw(), col(j), w.raw(), 0, (m * 4) as u64);
        if let Some((p1, u1, p2, u2)) = passes {
            p1.record(&mut batch);
            batch.copy(c.raw(), 0, c1.raw(), (j * k * 4) as u64, (j * 4) as u64);
            u1.record(&mut batch);
            p2.record(&mut batch);
            batch.copy(c.raw(), 0, c2.raw(), (j * k * 4) as u64, (j * 4) as u64);
            u2.record(&mut batch);
        }
        batch.dispatch(&norm, normalize, (1, 1, 1));
    }
    batch.read_after(&[
        (q.raw(), 0, (m * k * 4) as u64),
        (c1.raw(), 0, (k * k * 4) as u64),
        (c2.raw(), 0, (k * k * 4) as u64),
        (rdiag.raw(), 0, (k * 4) as u64),
    ]);
    let report = batch.finish()?;
    let mut out = report.reads;
    let qv: Vec<f32> = std::mem::take(&mut out[0]).into_vec()?;
    let (s1, s2): (Vec<f32>, Vec<f32>) = (
        bytemuck::pod_collect_to_vec(&out[1]),
        bytemuck::pod_collect_to_vec(&out[2]),
    );
    let diag: Vec<f32> = bytemuck::pod_collect_to_vec(&out[3]);
    // R[i][j] (row-major) from column j's coefficients.
    check_rank(scale, diag.iter().copied(), m)?;
    let mut r = vec![0.0f32; k * k];
    for j in 0..k {
        for i in 0..j {
            r[i * k + j] = s1[j * k + i] + s2[j * k + i];
        }
        r[j * k + j] = diag[j];
    }
    Ok(Qr {
        q: qv,
        r,
        gpu_seconds: report.gpu_seconds,
    })
}

/// Columns per panel of [`qr_blocked`] (the Cholesky kernel's limit).
pub const QR_PANEL: usize = 32;

/// The input checks shared by both factorisations; the largest |entry| (the scale of the
/// rank test), from the same pass over the data.
fn check_qr_input(a: &[f32], m: usize, k: usize) -> Result<f32> {
    if k == 0 || m == 0 || k > m || m.checked_mul(k) != Some(a.len()) {
        return Err(Error::InvalidArgument(format!(
            "QR: {} values are not a tall {m} x {k} matrix (need 1 <= k <= m)",
            a.len()
        )));
    }
    // Eight lanes, so that the loop vectorises.
    let (mut lanes, mut bad) = ([0.0f32; 8], false);
    let chunks = a.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            let v = v.abs();
            bad |= !v.is_finite();
            *l = l.max(v);
        }
    }
    for v in tail {
        bad |= !v.is_finite();
        lanes[0] = lanes[0].max(v.abs());
    }
    if bad && let Some(i) = a.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "QR: entry {} of column {} is {}",
            i % m,
            i / m,
            a[i]
        )));
    }
    Ok(lanes.into_iter().fold(0.0f32, f32::max))
}

/// The rank test both factorisations apply to R's diagonal: a column whose remainder after
/// projection is at rounding level of the largest entry (`scale`, from [`check_qr_input`]) is
/// a combination of those before it.
fn check_rank(scale: f32, diag: impl Iterator<Item = f32>, m: usize) -> Result<()> {
    let scale = scale.max(f32::MIN_POSITIVE);
    for (j, d) in diag.enumerate() {
        if d.is_nan() || d <= scale * 1e-6 * (m as f32).sqrt() {
            return Err(Error::InvalidArgument(format!(
                "QR: column {j} is (numerically) a combination of the columns before it"
            )));
        }
    }
    Ok(())
}

/// QR of `a` (`m × k`, column-major, k ≤ m) by block Gram–Schmidt with re-orthogonalisation
/// (BCGS2) and shifted CholeskyQR3 panels, all on the device in one submission (see
/// [`QrBlocked`]). The work is GEMMs instead of the column-by-column kernels of [`qr`]. Same
/// contract as [`qr`], including the error for dependent columns: a column whose pivot in an
/// unshifted Cholesky pass falls below 1e-5 of its diagonal (the panel is already
/// orthonormalised once by then, so that means a condition number beyond ~10⁵, at f32's
/// limit) is reported — stricter than [`qr`] for nearly dependent columns.
pub fn qr_blocked(gpu: &Gpu, a: &[f32], m: usize, k: usize) -> Result<Qr> {
    let scale = check_qr_input(a, m, k)?;
    let x = gpu.upload(a)?;
    let plan = QrBlocked::new(gpu, &x, m, k)?;
    let mut batch = gpu.batch(true);
    plan.record(&mut batch);
    let mut ranges = vec![(plan.q().raw(), 0, (m * k * 4) as u64)];
    ranges.extend(plan.ranges());
    batch.read_after(&ranges);
    let report = batch.finish()?;
    let mut reads = report.reads.into_iter();
    let qv: Vec<f32> = reads.next().expect("Q").into_vec()?;
    let r = plan.r_factor(reads)?;
    check_rank(scale, (0..k).map(|j| r[j * k + j]), m)?;
    Ok(Qr {
        q: qv,
        r,
        gpu_seconds: report.gpu_seconds,
    })
}

/// One panel of [`QrBlocked`]: its GEMMs, Cholesky bind groups and the buffers read back.
struct QrPanel {
    j0: usize,
    b: usize,
    /// Two passes of (C = P·Q_prevᵀ, P −= C·Q_prev).
    passes: Vec<(Gemm, Gemm)>,
    /// Three passes of (Gram, Cholesky bind group, P·R⁻¹).
    chol: Vec<(Gemm, wgpu::BindGroup, Gemm)>,
    coef: Vec<GpuBuffer<f32>>,
    factors: Vec<GpuBuffer<f32>>,
    ratios: Vec<GpuBuffer<f32>>,
}

use crate::ops::gemm::{Gemm, GemmOptions, GemmShape};

/// A planned blocked QR of a device matrix: `m × k` column-major (`k` rows of `m` values,
/// row-major), k ≤ m, read from the input buffer and left in [`QrBlocked::q`]. For each panel
/// of up to [`QR_PANEL`] columns, twice `C = Q_prevᵀP` and `P −= Q_prev·C` (GEMMs), then three
/// times the panel's Gram matrix `PᵀP` (GEMM), its Cholesky factor and inverse (one workgroup,
/// `qr_chol`; the first pass shifted so it exists for ill-conditioned panels) and `P ← P·R⁻¹`
/// (GEMM). Record it into any batch; read back [`QrBlocked::ranges`] after it and pass them to
/// [`QrBlocked::r_factor`] for R (and the dependent-column check).
pub struct QrBlocked {
    m: usize,
    k: usize,
    x: wgpu::Buffer,
    q_all: GpuBuffer<f32>,
    panel: GpuBuffer<f32>,
    temp: GpuBuffer<f32>,
    chol: Arc<Kernel>,
    panels: Vec<QrPanel>,
}

impl QrBlocked {
    /// Plans the factorisation of `x` (at least `m·k` values).
    pub fn new(gpu: &Gpu, x: &GpuBuffer<f32>, m: usize, k: usize) -> Result<QrBlocked> {
        if k == 0 || m == 0 || k > m || m.checked_mul(k).is_none_or(|n| n > x.len()) {
            return Err(Error::InvalidArgument(format!(
                "QR: a buffer of {} values is not a tall {m} x {k} matrix (need 1 <= k <= m)",
                x.len()
            )));
        }
        let q_all = gpu.alloc::<f32>(m * k)?;
        let pb = QR_PANEL.min(k);
        let panel = gpu.alloc::<f32>(pb * m)?;
        let temp = gpu.alloc::<f32>(pb * m)?;
        let gram = gpu.alloc::<f32>(pb * pb)?;
        let linv = gpu.alloc::<f32>(pb * pb)?;
        let chol = gpu.kernel(&QR_SIMPLE, "qr_chol", &[("WG", WG)])?;
        let opts = GemmOptions::default();
        let mut panels = Vec::new();
        for j0 in (0..k).step_by(pb) {
            let b = pb.min(k - j0);
            let mut p = QrPanel {
                j0,
                b,
                passes: Vec::new(),
                chol: Vec::new(),
                coef: Vec::new(),
                factors: Vec::new(),
                ratios: Vec::new(),
            };
            if j0 > 0 {
                for _ in 0..2 {
                    let c = gpu.alloc::<f32>(b * j0)?;
                    // C (b × j0) = P (b × m) · Q_prevᵀ, Q_prev = the first j0 rows of Q.
                    let project = Gemm::new(
                        gpu,
                        &panel,
                        &q_all,
                        &c,
                        GemmShape {
                            trans_b: true,
                            ..GemmShape::new(b, j0, m)
                        },
                        &opts,
                    )?;
                    // P −= C · Q_prev.
                    let update = Gemm::new(
                        gpu,
                        &c,
                        &q_all,
                        &panel,
                        GemmShape {
                            alpha: -1.0,
                            beta: 1.0,
                            ..GemmShape::new(b, m, j0)
                        },
                        &opts,
                    )?;
                    p.passes.push((project, update));
                    p.coef.push(c);
                }
            }
            for pass in 0..3 {
                let l = gpu.alloc::<f32>(b * b)?;
                let ratio = gpu.alloc::<f32>(b)?;
                let g = Gemm::new(
                    gpu,
                    &panel,
                    &panel,
                    &gram,
                    GemmShape {
                        trans_b: true,
                        ..GemmShape::new(b, b, m)
                    },
                    &opts,
                )?;
                let params = gpu.uniform(&Params {
                    m: m as u32,
                    k: b as u32,
                    wg_x: 1,
                    _pad: u32::from(pass == 0),
                });
                let bg = gpu.bind(
                    &chol,
                    &[
                        (0, params.as_entire_binding()),
                        (10, gram.binding()),
                        (11, l.binding()),
                        (12, linv.binding()),
                        (13, ratio.binding()),
                    ],
                );
                // T (b × m) = L⁻¹ · P, i.e. the columns P·R⁻¹ with R = Lᵀ.
                let apply = Gemm::new(gpu, &linv, &panel, &temp, GemmShape::new(b, m, b), &opts)?;
                p.chol.push((g, bg, apply));
                p.factors.push(l);
                p.ratios.push(ratio);
            }
            panels.push(p);
        }
        Ok(QrBlocked {
            m,
            k,
            x: x.raw().clone(),
            q_all,
            panel,
            temp,
            chol,
            panels,
        })
    }

    /// The orthonormal factor (`m × k` column-major) once the recorded work has run.
    pub fn q(&self) -> &GpuBuffer<f32> {
        &self.q_all
    }

    /// Records the factorisation.
    pub fn record(&self, batch: &mut Batch<'_>) {
        let (m, panel, temp) = (self.m, self.panel.raw(), self.temp.raw());
        for p in &self.panels {
            let bytes = (p.b * m * 4) as u64;
            batch.copy(&self.x, (p.j0 * m * 4) as u64, panel, 0, bytes);
            for (project, update) in &p.passes {
                project.record(batch);
                update.record(batch);
            }
            for (g, bg, apply) in &p.chol {
                g.record(batch);
                batch.dispatch(&self.chol, bg, (1, 1, 1));
                apply.record(batch);
                batch.copy(temp, 0, panel, 0, bytes);
            }
            batch.copy(panel, 0, self.q_all.raw(), (p.j0 * m * 4) as u64, bytes);
        }
    }

    /// The small buffers to read back after the recorded work, for [`QrBlocked::r_factor`].
    pub fn ranges(&self) -> Vec<(&wgpu::Buffer, u64, u64)> {
        let mut ranges = Vec::new();
        for p in &self.panels {
            for c in p.coef.iter().chain(&p.factors).chain(&p.ratios) {
                ranges.push((c.raw(), 0, (c.len() * 4) as u64));
            }
        }
        ranges
    }

    /// R (`k × k`, row-major, upper triangular) from the reads of [`QrBlocked::ranges`], in
    /// order; an error names a column whose pivot vanished in an unshifted pass (dependent on
    /// the columns before it).
    pub fn r_factor(&self, mut reads: impl Iterator<Item = ReadBytes>) -> Result<Vec<f32>> {
        let k = self.k;
        let mut next = || -> Result<Vec<f32>> {
            reads
                .next()
                .ok_or_else(|| Error::InvalidArgument("QR: fewer reads than planned".into()))?
                .into_vec()
        };
        let mut r = vec![0.0f32; k * k];
        for p in &self.panels {
            let (j0, b) = (p.j0, p.b);
            // R[i][j0 + jj] for i < j0: the two passes' coefficients, C[jj][i].
            for _ in 0..p.coef.len() {
                let c = next()?;
                for jj in 0..b {
                    for i in 0..j0 {
                        r[i * k + j0 + jj] += c[jj * j0 + i];
                    }
                }
            }
            // The panel's block: R3·R2·R1 with R = Lᵀ (upper), in f64.
            let mut block = vec![0.0f64; b * b];
            for i in 0..b {
                block[i * b + i] = 1.0;
            }
            for _ in 0..p.factors.len() {
                let l = next()?;
                // block ← Lᵀ · block (the later pass multiplies from the left).
                let mut prod = vec![0.0f64; b * b];
                for i in 0..b {
                    for t in i..b {
                        let lt = f64::from(l[t * b + i]);
                        for c in 0..b {
                            prod[i * b + c] += lt * block[t * b + c];
                        }
                    }
                }
                block = prod;
            }
            for i in 0..b {
                for c in i..b {
                    r[(j0 + i) * k + j0 + c] = block[i * b + c] as f32;
                }
            }
            // A pivot that vanishes in an unshifted pass (the panel already orthonormalised
            // once) marks a column dependent on those before it.
            for pass in 0..p.ratios.len() {
                let ratio = next()?;
                if pass == 0 {
                    continue;
                }
                if let Some(j) = ratio.iter().position(|&x| x.is_nan() || x < 1e-5) {
                    return Err(Error::InvalidArgument(format!(
                        "QR: column {} is (numerically) a combination of the columns before it",
                        j0 + j
                    )));
                }
            }
        }
        Ok(r)
    }
}

impl Gpu {
    /// `c = Qᵀv` on host slices (Q `m × k` column-major); `form` overrides the tuning choice.
    pub fn qr_project(
        &self,
        q: &[f32],
        v: &[f32],
        m: usize,
        k: usize,
        form: Option<QrDot>,
    ) -> Result<Vec<f32>> {
        exact_sizes("QR projection", q.len(), m, k, None)?;
        let gq = self.upload(q)?;
        let gv = self.upload(v)?;
        let gc = self.alloc::<f32>(k)?;
        self.write(&gc, &vec![f32::NAN; k])?;
        let plan = QrProject::new(self, &gq, &gv, &gc, m, k, form)?;
        let mut batch = self.batch(false);
        plan.record(&mut batch);
        batch.finish()?;
        self.read(&gc)
    }

    /// `v − Q·c` on host slices (Q `m × k` column-major).
    pub fn qr_update(
        &self,
        q: &[f32],
        c: &[f32],
        v: &[f32],
        m: usize,
        k: usize,
    ) -> Result<Vec<f32>> {
        exact_sizes("QR update", q.len(), m, k, Some(c.len()))?;
        let gq = self.upload(q)?;
        let gc = self.upload(c)?;
        let gv = self.upload(v)?;
        let out = self.alloc::<f32>(m)?;
        self.write(&out, &vec![f32::NAN; m])?;
        let plan = QrUpdate::new(self, &gq, &gc, &gv, &out, m, k)?;
        let mut batch = self.batch(false);
        plan.record(&mut batch);
        batch.finish()?;
        self.read(&out)
    }
}

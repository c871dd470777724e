//! PCA: `PcaTransform` (train the mean and the top principal axes by the randomized SVD,
//! apply on the GPU, optional whitening, save/load) and `PcaIndex`, an index behind a PCA
//! pre-transform (`index_factory("PCA64,IVF1024,Flat")`, as FAISS's `PCA64,...`; `PCAW64`
//! whitens).
//!
//! Training centres a sample of at most [`PCA_SAMPLE`] vectors (f64 mean) and takes the top
//! `d_out` right singular vectors of the centred sample (`ops::svd::svd_topk`; the axes are
//! the rows of `components`). Applying is one GEMM per chunk of rows that fits a storage
//! binding: `y = C·(x − mean)` as `X·Cᵀ − mean·Cᵀ` (the GEMM, then the bias added to every
//! row on the device). Whitening divides axis i by `σᵢ / √(n − 1)` (its standard deviation).

use std::path::Path;

use wgfaiss_core::ops::gemm::{AddRow, Gemm, GemmOptions, GemmShape};
use wgfaiss_core::ops::svd::{SvdOptions, svd_topk};
use wgfaiss_core::{Error, Gpu, GpuBuffer, Result};

use crate::index::{Index, Metric, SearchParams, SearchResult, check_vectors};
use crate::persist::{KIND_PCA, Reader, Writer};

/// Training vectors used at most (a seeded sample of the rows given).
pub const PCA_SAMPLE: usize = 65_536;

/// A trained (or untrained) PCA from `d_in` to `d_out` dimensions.
#[derive(Debug, Clone)]
pub struct PcaTransform {
    gpu: Gpu,
    d_in: usize,
    d_out: usize,
    whiten: bool,
    /// Mean of the training vectors (`d_in`).
    pub mean: Vec<f32>,
    /// Principal axes as rows (`d_out × d_in`), whitening scale included when on.
    pub components: Vec<f32>,
    /// Singular values of the centred training sample, largest first (`d_out`).
    pub singular_values: Vec<f32>,
}

impl PcaTransform {
    /// An untrained PCA.
    pub fn new(gpu: &Gpu, d_in: usize, d_out: usize, whiten: bool) -> Result<PcaTransform> {
        if d_out == 0 || d_out > d_in {
            return Err(Error::InvalidArgument(format!(
                "PCA from {d_in} to {d_out} dimensions: need 1 <= d_out <= d_in"
            )));
        }
        Ok(PcaTransform {
            gpu: gpu.clone(),
            d_in,
            d_out,
            whiten,
            mean: Vec::new(),
            components: Vec::new(),
            singular_values: Vec::new(),
        })
    }

    /// Input dimension.
    pub fn d_in(&self) -> usize {
        self.d_in
    }

    /// Output dimension.
    pub fn d_out(&self) -> usize {
        self.d_out
    }

    /// Whether it has been trained.
    pub fn is_trained(&self) -> bool {
        !self.components.is_empty()
    }

    /// Learns the mean and the axes from `data` (`n × d_in`, n > d_out). On error nothing
    /// changes.
    pub fn train(&mut self, data: &[f32]) -> Result<()> {
        let n = check_vectors(data, self.d_in, "PCA train")?;
        if n <= self.d_out {
            return Err(Error::InvalidArgument(format!(
                "PCA train: {n} vectors for {} output dimensions (need more vectors)",
                self.d_out
            )));
        }
        let d = self.d_in;
        let rows: Vec<usize> = if n > PCA_SAMPLE {
            (0..PCA_SAMPLE).map(|i| i * n / PCA_SAMPLE).collect()
        } else {
            (0..n).collect()
        };
        let ns = rows.len();
        let mut mean = vec![0f64; d];
        for &r in &rows {
            for (m, &x) in mean.iter_mut().zip(&data[r * d..(r + 1) * d]) {
                *m += f64::from(x);
            }
        }
        mean.iter_mut().for_each(|m| *m /= ns as f64);
        let centred: Vec<f32> = rows
            .iter()
            .flat_map(|&r| {
                data[r * d..(r + 1) * d]
                    .iter()
                    .zip(&mean)
                    .map(|(&x, &m)| (f64::from(x) - m) as f32)
            })
            .collect();
        let svd = svd_topk(
            &self.gpu,
            &centred,
            ns,
            d,
            self.d_out,
            &SvdOptions {
                iters: 6,
                left: false,
                ..Default::default()
            },
        )?;
        let mut components = svd.vt;
        if self.whiten {
            for (i, row) in components.chunks_mut(d).enumerate() {
                let sd = f64::from(svd.s[i]) / ((ns - 1) as f64).sqrt();
                let inv = if sd > 0.0 { 1.0 / sd } else { 0.0 };
                row.iter_mut()
                    .for_each(|c| *c = (f64::from(*c) * inv) as f32);
            }
        }
        self.mean = mean.iter().map(|&m| m as f32).collect();
        self.components = components;
        self.singular_values = svd.s;
        Ok(())
    }

    /// `C·(x − mean)` for each row of `data` (`n × d_in`), on the GPU: `n × d_out`. Rows are
    /// uploaded and mapped in chunks that fit a storage binding ([`PcaTransform::apply_gpu`]).
    pub fn apply(&self, data: &[f32]) -> Result<Vec<f32>> {
        if !self.is_trained() {
            return Err(Error::InvalidArgument("PCA: not trained".into()));
        }
        let n = check_vectors(data, self.d_in, "PCA apply")?;
        let (di, dout) = (self.d_in, self.d_out);
        if n == 0 {
            return Ok(Vec::new());
        }
        let limit = self.gpu.max_binding_bytes() as usize / 4;
        let chunk = (limit / di).min(limit / dout).clamp(1, n);
        let maps = self.device_maps()?;
        let mut out: Vec<f32> = Vec::new();
        for part in data.chunks(chunk * di) {
            let rows = part.len() / di;
            let x = self.gpu.upload(part)?;
            let (y, mut batch) = self.record_apply(&maps, &x, rows)?;
            batch.read_after(&[(y.raw(), 0, (rows * dout * 4) as u64)]);
            let report = batch.finish()?;
            let mapped = report.reads.into_iter().next().expect("one read");
            if out.is_empty() && rows == n {
                out = mapped.into_vec()?;
            } else {
                out.extend(mapped.into_vec::<f32>()?);
            }
        }
        Ok(out)
    }

    /// [`PcaTransform::apply`] on rows already on the device (`x` holds `n × d_in` values,
    /// within one storage binding): a new device buffer of `n × d_out`, and the GPU time of the
    /// map (timestamps; `None` without them). The rows must be finite (not checked here).
    pub fn apply_gpu(&self, x: &GpuBuffer<f32>, n: usize) -> Result<(GpuBuffer<f32>, Option<f64>)> {
        if !self.is_trained() {
            return Err(Error::InvalidArgument("PCA: not trained".into()));
        }
        if n == 0 || n.checked_mul(self.d_in).is_none_or(|len| len > x.len()) {
            return Err(Error::InvalidArgument(format!(
                "PCA apply: a buffer of {} values does not hold {n} rows of {}",
                x.len(),
                self.d_in
            )));
        }
        let maps = self.device_maps()?;
        let (y, batch) = self.record_apply(&maps, x, n)?;
        let report = batch.finish()?;
        Ok((y, report.gpu_seconds))
    }

    /// The components and the negated bias `−mean·Cᵀ` on the device.
    fn device_maps(&self) -> Result<(GpuBuffer<f32>, GpuBuffer<f32>)> {
        let bias: Vec<f32> = self
            .components
            .chunks(self.d_in)
            .map(|c| {
                -(c.iter()
                    .zip(&self.mean)
                    .map(|(&a, &b)| f64::from(a) * f64::from(b))
                    .sum::<f64>() as f32)
            })
            .collect();
        Ok((self.gpu.upload(&self.components)?, self.gpu.upload(&bias)?))
    }

    /// Records `Y = X·Cᵀ`, then `Y += −mean·Cᵀ` per row, into a new (timed) batch.
    fn record_apply(
        &self,
        (comps, bias): &(GpuBuffer<f32>, GpuBuffer<f32>),
        x: &GpuBuffer<f32>,
        rows: usize,
    ) -> Result<(GpuBuffer<f32>, wgfaiss_core::Batch<'_>)> {
        let (di, dout) = (self.d_in, self.d_out);
        let y = self.gpu.alloc::<f32>(rows * dout)?;
        let shape = GemmShape {
            trans_b: true,
            ..GemmShape::new(rows, dout, di)
        };
        let gemm = Gemm::new(&self.gpu, x, comps, &y, shape, &GemmOptions::default())?;
        let add = AddRow::new(&self.gpu, &y, bias, rows, dout)?;
        let mut batch = self.gpu.batch(true);
        gemm.record(&mut batch);
        add.record(&mut batch);
        Ok((y, batch))
    }

    /// The inverse map on the host, `x ≈ Cᵀ·y + mean` (exact on the span of the axes; with
    /// whitening the scale is undone).
    pub fn reverse(&self, y: &[f32]) -> Result<Vec<f32>> {
        if !self.is_trained() {
            return Err(Error::InvalidArgument("PCA: not trained".into()));
        }
        let n = check_vectors(y, self.d_out, "PCA reverse")?;
        let (di, dout) = (self.d_in, self.d_out);
        let mut out = Vec::with_capacity(n * di);
        let norms: Vec<f64> = self
            .components
            .chunks(di)
            .map(|c| {
                c.iter()
                    .map(|&x| f64::from(x) * f64::from(x))
                    .sum::<f64>()
                    .max(1e-300)
            })
            .collect();
        for row in y.chunks(dout) {
            for j in 0..di {
                let mut s = f64::from(self.mean[j]);
                for (i, &v) in row.iter().enumerate() {
                    // Row i is the unit axis divided by its standard deviation when
                    // whitening (else the unit axis): the inverse takes row / |row|².
                    let back = f64::from(self.components[i * di + j]) / norms[i];
                    s += back * f64::from(v);
                }
                out.push(s as f32);
            }
        }
        Ok(out)
    }

    fn write(&self, w: &mut Writer) {
        w.u64(self.d_in as u64);
        w.u64(self.d_out as u64);
        w.u32(u32::from(self.whiten));
        w.u32(u32::from(self.is_trained()));
        if self.is_trained() {
            w.values(&self.mean);
            w.values(&self.components);
            w.values(&self.singular_values);
        }
    }

    fn read(gpu: &Gpu, r: &mut Reader) -> Result<PcaTransform> {
        let d_in = r.u64()? as usize;
        let d_out = r.u64()? as usize;
        let whiten = r.u32()? != 0;
        let trained = r.u32()? != 0;
        if d_out == 0 || d_out > d_in || d_in > 1 << 24 {
            return Err(r.error(format!("bad PCA shape {d_in} -> {d_out}")));
        }
        let mut p = PcaTransform::new(gpu, d_in, d_out, whiten)?;
        if trained {
            p.mean = r.values(d_in)?;
            p.components = r.values(d_in * d_out)?;
            p.singular_values = r.values(d_out)?;
            if p.mean.iter().chain(&p.components).any(|v| !v.is_finite()) {
                return Err(r.error("non-finite PCA parameters"));
            }
        }
        Ok(p)
    }

    /// Saves the transform alone (kind PCA, no index).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut w = Writer::new(KIND_PCA);
        self.write(&mut w);
        w.u64(0); // no index follows
        w.finish(path)
    }

    /// Loads a transform saved by [`PcaTransform::save`] (or the transform of a [`PcaIndex`]).
    pub fn load(gpu: &Gpu, path: &Path) -> Result<PcaTransform> {
        let mut r = Reader::open(path, KIND_PCA)?;
        PcaTransform::read(gpu, &mut r)
    }
}

/// An index behind a PCA pre-transform: vectors and queries of `d_in` dimensions are mapped
/// to `d_out` before the inner index sees them. Ids, removal and search results are the
/// inner index's; `reconstruct` maps back (exact only on the PCA's span).
pub struct PcaIndex {
    pca: PcaTransform,
    inner: Box<dyn Index>,
}

impl PcaIndex {
    /// Wraps `inner` (of dimension `pca.d_out()`).
    pub fn new(pca: PcaTransform, inner: Box<dyn Index>) -> Result<PcaIndex> {
        if inner.dim() != pca.d_out() {
            return Err(Error::InvalidArgument(format!(
                "PCA to {} dimensions in front of an index of dimension {}",
                pca.d_out(),
                inner.dim()
            )));
        }
        Ok(PcaIndex { pca, inner })
    }

    /// The transform.
    pub fn pca(&self) -> &PcaTransform {
        &self.pca
    }

    /// The inner index.
    pub fn inner(&self) -> &dyn Index {
        self.inner.as_ref()
    }

    /// Loads a file written by [`Index::save`] on a `PcaIndex`.
    pub fn load(gpu: &Gpu, path: &Path) -> Result<PcaIndex> {
        let mut r = Reader::open(path, KIND_PCA)?;
        let pca = PcaTransform::read(gpu, &mut r)?;
        let len = r.u64()? as usize;
        if len == 0 {
            return Err(r.error("a PCA transform without an index"));
        }
        let bytes: Vec<u8> = r.values(len)?;
        r.done()?;
        let tmp = path.with_extension(format!("inner-{}.tmp", std::process::id()));
        std::fs::write(&tmp, &bytes).map_err(|e| Error::Io {
            path: tmp.clone(),
            message: e.to_string(),
        })?;
        let inner = crate::factory::load_index(gpu, &tmp);
        let _ = std::fs::remove_file(&tmp);
        PcaIndex::new(pca, inner?)
    }

    fn mapped(&self, data: &[f32], what: &str) -> Result<Vec<f32>> {
        check_vectors(data, self.pca.d_in(), what)?;
        if !self.pca.is_trained() {
            return Err(Error::InvalidArgument(format!(
                "{what}: the PCA is not trained; train the index first"
            )));
        }
        self.pca.apply(data)
    }
}

impl Index for PcaIndex {
    fn dim(&self) -> usize {
        self.pca.d_in()
    }

    fn metric(&self) -> Metric {
        self.inner.metric()
    }

    fn ntotal(&self) -> usize {
        self.inner.ntotal()
    }

    fn is_trained(&self) -> bool {
        self.pca.is_trained() && self.inner.is_trained()
    }

    fn train(&mut self, data: &[f32]) -> Result<()> {
        check_vectors(data, self.pca.d_in(), "train")?;
        if self.inner.ntotal() > 0 {
            return Err(Error::InvalidArgument(
                "train: the index holds vectors; reset it first".into(),
            ));
        }
        // Train a copy: on error neither the transform nor the inner index changes.
        let mut pca = self.pca.clone();
        pca.train(data)?;
        let mapped = pca.apply(data)?;
        self.inner.train(&mapped)?;
        self.pca = pca;
        Ok(())
    }

    fn add(&mut self, data: &[f32]) -> Result<()> {
        let mapped = self.mapped(data, "add")?;
        self.inner.add(&mapped)
    }

    fn add_with_ids(&mut self, data: &[f32], ids: &[i64]) -> Result<()> {
        let mapped = self.mapped(data, "add_with_ids")?;
        self.inner.add_with_ids(&mapped, ids)
    }

    fn search(&self, queries: &[f32], k: usize, params: &SearchParams) -> Result<SearchResult> {
        let mapped = self.mapped(queries, "search")?;
        self.inner.search(&mapped, k, params)
    }

    fn remove_ids(&mut self, ids: &[i64]) -> Result<usize> {
        self.inner.remove_ids(ids)
    }

    fn reconstruct(&self, id: i64) -> Result<Vec<f32>> {
        self.pca.reverse(&self.inner.reconstruct(id)?)
    }

    fn reset(&mut self) -> Result<()> {
        self.inner.reset()
    }

    fn save(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension(format!("inner-{}.tmp", std::process::id()));
        self.inner.save(&tmp)?;
        let bytes = std::fs::read(&tmp).map_err(|e| Error::Io {
            path: tmp.clone(),
            message: e.to_string(),
        });
        let _ = std::fs::remove_file(&tmp);
        let bytes = bytes?;
        let mut w = Writer::new(KIND_PCA);
        self.pca.write(&mut w);
        w.u64(bytes.len() as u64);
        w.values(&bytes);
        w.finish(path)
    }
}

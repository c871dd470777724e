//! Index construction from a FAISS-style description, and loading any saved index.

use std::path::Path;

use wgfaiss_core::{Error, Gpu, Result};

use crate::flat::FlatIndex;
use crate::index::{Index, Metric};
use crate::ivf::IvfFlatIndex;
use crate::pca::{PcaIndex, PcaTransform};
use crate::persist::{KIND_FLAT, KIND_IVF_FLAT, KIND_PCA, kind_of};

/// An index from a description: `"Flat"` or `"IVF<nlist>,Flat"`, optionally behind a PCA
/// pre-transform, `"PCA<d>,..."` (`"PCAW<d>,..."` whitens), as FAISS's `index_factory`.
pub fn index_factory(gpu: &Gpu, dim: usize, spec: &str, metric: Metric) -> Result<Box<dyn Index>> {
    index_factory_with(gpu, dim, spec, metric, None)
}

/// [`index_factory`] with the k-means iterations and seed of IVF training (`(niter, seed)`).
pub fn index_factory_with(
    gpu: &Gpu,
    dim: usize,
    spec: &str,
    metric: Metric,
    kmeans: Option<(usize, u64)>,
) -> Result<Box<dyn Index>> {
    let s = spec.trim();
    if let Some(rest) = s.strip_prefix("PCA") {
        let (whiten, rest) = match rest.strip_prefix('W') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let bad = || {
            Error::InvalidArgument(format!(
                "index type {spec:?}: expected \"PCA<d>,<index>\" or \"PCAW<d>,<index>\""
            ))
        };
        let (d, inner) = rest.split_once(',').ok_or_else(bad)?;
        let d_out: usize = d.trim().parse().map_err(|_| bad())?;
        let pca = PcaTransform::new(gpu, dim, d_out, whiten)?;
        let inner = index_factory_with(gpu, d_out, inner, metric, kmeans)?;
        return Ok(Box::new(PcaIndex::new(pca, inner)?));
    }
    if s.eq_ignore_ascii_case("flat") {
        return Ok(Box::new(FlatIndex::new(gpu, dim, metric)?));
    }
    let bad = || {
        Error::InvalidArgument(format!(
            "index type {spec:?}: expected \"Flat\" or \"IVF<nlist>,Flat\""
        ))
    };
    let rest = s
        .strip_prefix("IVF")
        .or_else(|| s.strip_prefix("ivf"))
        .ok_or_else(bad)?;
    let (n, tail) = rest.split_once(',').ok_or_else(bad)?;
    if !tail.trim().eq_ignore_ascii_case("flat") {
        return Err(bad());
    }
    let nlist: usize = n.trim().parse().map_err(|_| bad())?;
    let mut ivf = IvfFlatIndex::new(gpu, dim, nlist, metric)?;
    if let Some((niter, seed)) = kmeans {
        ivf.kmeans.niter = niter;
        ivf.kmeans.seed = seed;
    }
    Ok(Box::new(ivf))
}

/// Loads an index saved by [`Index::save`], whatever its type.
pub fn load_index(gpu: &Gpu, path: &Path) -> Result<Box<dyn Index>> {
    match kind_of(path)? {
        KIND_FLAT => Ok(Box::new(FlatIndex::load(gpu, path)?)),
        KIND_IVF_FLAT => Ok(Box::new(IvfFlatIndex::load(gpu, path)?)),
        KIND_PCA => Ok(Box::new(PcaIndex::load(gpu, path)?)),
        k => Err(Error::Format {
            path: path.to_path_buf(),
            reason: format!("index kind {k} is not known to this build"),
        }),
    }
}

//! Index construction from a FAISS-style description, and loading any saved index.

use std::path::Path;

use wgfaiss_core::{Error, Gpu, Result};

use crate::flat::FlatIndex;
use crate::index::{Index, Metric};
use crate::ivf::IvfFlatIndex;
use crate::persist::{KIND_FLAT, KIND_IVF_FLAT, kind_of};

/// An index from a description: `"Flat"` or `"IVF<nlist>,Flat"` (as FAISS's `index_factory`).
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
        k => Err(Error::Format {
            path: path.to_path_buf(),
            reason: format!("index kind {k} is not known to this build"),
        }),
    }
}

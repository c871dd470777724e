//! PCA: the axes of data with a known low-dimensional structure, the GPU map against an f64
//! reference, whitening, the inverse, and `PCA<d>,IVF<n>,Flat` through the factory (equal to
//! a flat search of the mapped data when every list is probed), save/load, bad input.

#[path = "../../wgfaiss-core/tests/common/mod.rs"]
mod common;

use common::{Rng, gpu, seed};
use wgfaiss::{
    FlatIndex, Index, Metric, PcaTransform, SearchParams, index_factory_with, load_index,
};

/// `n` vectors of `d` dimensions: a mean, 5 latent directions with scales 10, 8, 6, 4, 2, and
/// noise of 0.001 (with 0.01 the sample's axes themselves tilt by ~2e-3 from the latent span,
/// which alone puts reconstruction errors near 0.1).
fn structured(rng: &mut Rng, n: usize, d: usize) -> Vec<f32> {
    let mean: Vec<f32> = (0..d).map(|_| 3.0 * rng.f32()).collect();
    let dirs: Vec<Vec<f32>> = (0..5).map(|_| rng.vec(d)).collect();
    let scales = [10.0, 8.0, 6.0, 4.0, 2.0];
    (0..n)
        .flat_map(|_| {
            let z: Vec<f32> = (0..5).map(|i| scales[i] * rng.f32()).collect();
            let noise = rng.vec(d);
            (0..d)
                .map(|j| mean[j] + (0..5).map(|i| z[i] * dirs[i][j]).sum::<f32>() + 0.01 * noise[j])
                .collect::<Vec<f32>>()
        })
        .collect()
}

#[test]
fn axes_map_and_inverse() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("pca axes"));
    let (n, d, dout) = (1500, 40, 5);
    let x = structured(&mut rng, n, d);
    let mut pca = PcaTransform::new(gpu, d, dout, false).unwrap();
    pca.train(&x).unwrap();
    // Orthonormal axes, singular values in decreasing order.
    for i in 0..dout {
        for j in 0..dout {
            let dot: f64 = (0..d)
                .map(|t| {
                    f64::from(pca.components[i * d + t]) * f64::from(pca.components[j * d + t])
                })
                .sum();
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((dot - want).abs() < 1e-3, "axes {i},{j}: {dot}");
        }
    }
    assert!(pca.singular_values.windows(2).all(|w| w[0] >= w[1]));
    // The GPU map equals C (x - mean) in f64.
    let y = pca.apply(&x).unwrap();
    assert_eq!(y.len(), n * dout);
    for r in (0..n).step_by(97) {
        for i in 0..dout {
            let want: f64 = (0..d)
                .map(|t| {
                    f64::from(pca.components[i * d + t])
                        * (f64::from(x[r * d + t]) - f64::from(pca.mean[t]))
                })
                .sum();
            let got = f64::from(y[r * dout + i]);
            assert!(
                (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                "row {r} axis {i}"
            );
        }
    }
    // Device-resident rows give the same map; so do small bindings (the rows split into
    // 2 KiB bindings: chunks of 12 rows of d = 40, 125 of them).
    let xb = gpu.upload(&x).unwrap();
    let (yb, _) = pca.apply_gpu(&xb, n).unwrap();
    assert_eq!(gpu.read(&yb).unwrap(), y);
    assert!(pca.apply_gpu(&xb, n + 1).is_err());
    let small = common::gpu_with_binding_limit(2048);
    let mut chunked = PcaTransform::new(&small, d, dout, false).unwrap();
    chunked.mean = pca.mean.clone();
    chunked.components = pca.components.clone();
    chunked.singular_values = pca.singular_values.clone();
    // (Row blocks of 12 take the GEMM's small-M, split-K form: another summation order.)
    let got = chunked.apply(&x).unwrap();
    assert_eq!(got.len(), y.len());
    let worst = got
        .iter()
        .zip(&y)
        .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "chunked apply differs by {worst}");
    // The data lies in the span of 5 axes (noise 0.001): the inverse recovers it.
    let back = pca.reverse(&y).unwrap();
    let worst = x
        .iter()
        .zip(&back)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst < 0.1, "reconstruction error {worst}");
    // Whitening: unit variance per output dimension on the training data.
    let mut white = PcaTransform::new(gpu, d, dout, true).unwrap();
    white.train(&x).unwrap();
    let w = white.apply(&x).unwrap();
    for i in 0..dout {
        let var: f64 = (0..n)
            .map(|r| f64::from(w[r * dout + i]).powi(2))
            .sum::<f64>()
            / (n - 1) as f64;
        assert!((var - 1.0).abs() < 0.02, "whitened variance {i}: {var}");
    }
    let wb = white.reverse(&w).unwrap();
    let worst = x
        .iter()
        .zip(&wb)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst < 0.1, "whitened reconstruction error {worst}");
    // Save / load of the transform alone.
    let dir = std::env::temp_dir().join(format!("wgfaiss-pca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    pca.save(&dir.join("t.pca")).unwrap();
    let back = PcaTransform::load(gpu, &dir.join("t.pca")).unwrap();
    assert_eq!(
        back.apply(&x[..10 * d]).unwrap(),
        pca.apply(&x[..10 * d]).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // Bad input.
    assert!(PcaTransform::new(gpu, 4, 5, false).is_err());
    assert!(PcaTransform::new(gpu, 4, 0, false).is_err());
    let untrained = PcaTransform::new(gpu, d, dout, false).unwrap();
    assert!(untrained.apply(&x[..d]).is_err());
    let mut few = PcaTransform::new(gpu, d, dout, false).unwrap();
    assert!(few.train(&x[..5 * d]).is_err());
    assert!(!few.is_trained());
    assert!(pca.apply(&x[..d - 1]).is_err());
}

#[test]
fn pca_ivf_through_the_factory() {
    let gpu = gpu();
    let mut rng = Rng::new(seed("pca ivf"));
    let (n, d, dout, nlist) = (1200, 32, 8, 12);
    let x = structured(&mut rng, n, d);
    let q = structured(&mut rng, 25, d);
    let mut index = index_factory_with(
        gpu,
        d,
        &format!("PCA{dout},IVF{nlist},Flat"),
        Metric::L2,
        Some((5, 3)),
    )
    .unwrap();
    assert_eq!(index.dim(), d);
    // Untrained: search and add are errors.
    assert!(index.add(&x).is_err());
    assert!(index.search(&q, 5, &SearchParams::default()).is_err());
    // Too few vectors to train: an error, and still untrained.
    assert!(index.train(&x[..3 * d]).is_err());
    assert!(!index.is_trained());
    index.train(&x).unwrap();
    index.add(&x).unwrap();
    assert_eq!(index.ntotal(), n);
    // All lists probed: the flat search of the mapped data.
    let all = SearchParams {
        nprobe: nlist,
        ..Default::default()
    };
    let got = index.search(&q, 5, &all).unwrap();
    let dir = std::env::temp_dir().join(format!("wgfaiss-pca-ivf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pca.wgf");
    index.save(&path).unwrap();
    let loaded = load_index(gpu, &path).unwrap();
    let again = loaded.search(&q, 5, &all).unwrap();
    assert_eq!(again.ids, got.ids);
    assert_eq!(again.distances, got.distances);
    // The transform inside the file maps like the index's.
    let pca = PcaTransform::load(gpu, &path).unwrap();
    let mut flat = FlatIndex::new(gpu, dout, Metric::L2).unwrap();
    flat.add(&pca.apply(&x).unwrap()).unwrap();
    let want = flat
        .search(&pca.apply(&q).unwrap(), 5, &SearchParams::default())
        .unwrap();
    assert_eq!(got.distances, want.distances);
    // Reconstruct maps back to d dimensions (close: the data is near the span).
    let v = index.reconstruct(7).unwrap();
    let worst = v
        .iter()
        .zip(&x[7 * d..8 * d])
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst < 0.2, "reconstruct {worst}");
    // Bad descriptions.
    for bad in ["PCA,Flat", "PCAx,Flat", "PCA64,Flat", "PCA8"] {
        assert!(
            index_factory_with(gpu, d, bad, Metric::L2, None).is_err(),
            "{bad}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

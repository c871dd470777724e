//! The tuning layer: precedence, sources, and errors that name file, key and value. No GPU.

use std::collections::BTreeMap;

use wgfaiss_core::Capabilities;
use wgfaiss_core::tuning::{ConfigSource, PARAMS, ParamValue, Source, Tuning};

fn caps(name: &str, device_type: &str) -> Capabilities {
    Capabilities {
        name: name.into(),
        device_type: device_type.into(),
        ..Capabilities::example_lavapipe()
    }
}

fn text(json: &str) -> ConfigSource {
    ConfigSource::Text {
        name: "test.json".into(),
        json: json.into(),
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn resolve(c: &Capabilities, cfg: &ConfigSource) -> Tuning {
    Tuning::resolve(c, cfg, &no_env, &BTreeMap::new()).unwrap()
}

const LAYERED: &str = r#"{
  "version": 1,
  "default": { "reduce": { "workgroup_size": 64, "path": "shared" }, "submit": { "in_flight": 5 } },
  "vulkan": {
    "default": { "reduce": { "workgroup_size": 128 } },
    "NVIDIA": { "gemm": { "tile_m": 32 } },
    "NVIDIA H100": { "gemm": { "tile_n": 32 } },
    "NVIDIA H100 80GB HBM3": { "reduce": { "max_workgroups": 99 } }
  },
  "metal": { "default": { "reduce": { "workgroup_size": 512 } } }
}"#;

#[test]
fn exact_name_then_longest_substring_then_defaults_then_heuristic() {
    let cfg = text(LAYERED);
    // Exact match wins over substrings, and only that entry applies for its keys.
    let t = resolve(&caps("NVIDIA H100 80GB HBM3", "discrete"), &cfg);
    assert_eq!(
        t.matched_entry.as_deref(),
        Some("vulkan.NVIDIA H100 80GB HBM3")
    );
    assert_eq!(t.int("reduce.max_workgroups"), 99);
    // The exact entry has no gemm.tile_n: the next layer is vulkan.default, then default.
    assert_eq!(t.int("reduce.workgroup_size"), 128);
    assert_eq!(t.choice("reduce.path"), "shared");
    assert_eq!(t.int("submit.in_flight"), 5);
    assert!(matches!(
        t.get("gemm.tile_n").unwrap().source,
        Source::Heuristic { .. }
    ));

    // Longest substring: "NVIDIA H100" over "NVIDIA".
    let t = resolve(&caps("NVIDIA H100 PCIe", "discrete"), &cfg);
    assert_eq!(t.matched_entry.as_deref(), Some("vulkan.NVIDIA H100"));
    assert_eq!(t.int("gemm.tile_n"), 32);
    assert_eq!(
        t.get("gemm.tile_n").unwrap().source,
        Source::Config {
            file: "test.json".into(),
            key: "vulkan.NVIDIA H100.gemm.tile_n".into()
        }
    );
    let t = resolve(&caps("NVIDIA RTX 4090", "discrete"), &cfg);
    assert_eq!(t.int("gemm.tile_m"), 32);

    // Another backend's entries never apply.
    let mut m = caps("Apple M2", "integrated");
    m.backend = "metal".into();
    assert_eq!(resolve(&m, &cfg).int("reduce.workgroup_size"), 512);
    let mut d = caps("Apple M2", "integrated");
    d.backend = "dx12".into();
    let t = resolve(&d, &cfg);
    assert_eq!(t.matched_entry.as_deref(), Some("default"));
    assert_eq!(t.int("reduce.workgroup_size"), 64);
}

#[test]
fn heuristics_follow_the_adapter() {
    let empty = text(r#"{"version": 1}"#);
    let mut c = caps("Some GPU", "discrete");
    c.max_storage_binding_bytes = 1 << 30;
    c.max_invocations_per_workgroup = 128;
    let t = resolve(&c, &empty);
    assert_eq!(t.matched_entry, None);
    assert_eq!(t.int("buffers.max_binding_bytes"), 1 << 30);
    // Capped by the adapter's invocation limit.
    assert_eq!(t.int("reduce.workgroup_size"), 128);
    assert_eq!(t.int("reduce.max_workgroups"), 1024);
    assert_eq!(
        resolve(&caps("cpu", "cpu"), &empty).int("reduce.max_workgroups"),
        32
    );
    for (name, r) in &t.params {
        assert!(
            matches!(r.source, Source::Heuristic { .. }),
            "{name}: {:?}",
            r.source
        );
    }
    // Every parameter resolves, and every one is in the table.
    assert_eq!(t.params.len(), PARAMS.len());
}

#[test]
fn options_beat_environment_beat_file() {
    let cfg = text(LAYERED);
    let c = caps("NVIDIA H100 80GB HBM3", "discrete");
    let env = |k: &str| match k {
        "WGFAISS_REDUCE_WORKGROUP_SIZE" => Some("512".to_string()),
        "WGFAISS_REDUCE_PATH" => Some("subgroup".to_string()),
        _ => None,
    };
    let mut opts = BTreeMap::new();
    opts.insert("WGFAISS_REDUCE_PATH".to_string(), "shared".to_string());
    let t = Tuning::resolve(&c, &cfg, &env, &opts).unwrap();
    assert_eq!(t.int("reduce.workgroup_size"), 512);
    assert_eq!(
        t.get("reduce.workgroup_size").unwrap().source,
        Source::Env {
            var: "WGFAISS_REDUCE_WORKGROUP_SIZE".into()
        }
    );
    assert_eq!(t.choice("reduce.path"), "shared");
    assert!(matches!(
        t.get("reduce.path").unwrap().source,
        Source::Option { .. }
    ));
    assert_eq!(
        t.get("reduce.path").unwrap().value,
        ParamValue::Choice("shared".into())
    );
}

fn err(cfg: &str) -> String {
    Tuning::resolve(
        &caps("llvmpipe", "cpu"),
        &text(cfg),
        &no_env,
        &BTreeMap::new(),
    )
    .unwrap_err()
    .to_string()
}

#[test]
fn malformed_files_name_file_key_and_value() {
    let e = err(r#"{"version": 1, "vulkan": {"llvmpipe": {"reduce": {"workgroup_size": 48}}}}"#);
    assert!(
        e.contains("test.json") && e.contains("vulkan.llvmpipe.reduce.workgroup_size"),
        "{e}"
    );
    assert!(e.contains("48") && e.contains("power of two"), "{e}");
    let e = err(r#"{"version": 1, "default": {"reduce": {"workgroup_sise": 64}}}"#);
    assert!(
        e.contains("default.reduce.workgroup_sise") && e.contains("unknown key"),
        "{e}"
    );
    let e = err(r#"{"version": 1, "default": {"reduction": {}}}"#);
    assert!(e.contains("unknown family"), "{e}");
    let e = err(r#"{"version": 1, "default": {"reduce": {"path": "fast"}}}"#);
    assert!(
        e.contains("\"fast\"") && e.contains("auto, subgroup, shared"),
        "{e}"
    );
    let e = err(r#"{"version": 1, "default": {"submit": {"in_flight": -1}}}"#);
    assert!(e.contains("-1"), "{e}");
    let e = err(r#"{"version": 2}"#);
    assert!(e.contains("version"), "{e}");
    let e = err(r#"{"version": 1, "vulkn": {}}"#);
    assert!(
        e.contains("vulkn") && e.contains("unknown top-level key"),
        "{e}"
    );
    let e = err(r#"{"version": 1, "default": "#);
    assert!(
        e.contains("test.json") && e.contains("not valid JSON"),
        "{e}"
    );
    // Adapter limits are checked too, naming where the value came from.
    let mut small = caps("llvmpipe", "cpu");
    small.max_invocations_per_workgroup = 256;
    let e = Tuning::resolve(
        &small,
        &text(r#"{"version": 1, "default": {"gemm": {"tile_m": 256, "tile_n": 256, "thread_m": 4, "thread_n": 4}}}"#),
        &no_env,
        &BTreeMap::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("gemm.tile_m") && e.contains("4096 threads"),
        "{e}"
    );
    let e = Tuning::resolve(
        &small,
        &text(r#"{"version": 1, "default": {"reduce": {"workgroup_size": 512}}}"#),
        &no_env,
        &BTreeMap::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("test.json: default.reduce.workgroup_size")
            && e.contains("above the adapter's 256"),
        "{e}"
    );
}

#[test]
fn bad_variables_and_missing_files_are_errors() {
    let env = |k: &str| (k == "WGFAISS_SUBMIT_IN_FLIGHT").then(|| "lots".to_string());
    let e = Tuning::resolve(
        &caps("x", "cpu"),
        &ConfigSource::Shipped,
        &env,
        &BTreeMap::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("environment variable WGFAISS_SUBMIT_IN_FLIGHT") && e.contains("\"lots\""),
        "{e}"
    );
    let mut opts = BTreeMap::new();
    opts.insert("WGFAISS_REDUCE_WG".to_string(), "64".to_string());
    let e = Tuning::resolve(&caps("x", "cpu"), &ConfigSource::Shipped, &no_env, &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("WGFAISS_REDUCE_WG") && e.contains("unknown parameter"),
        "{e}"
    );
    let e = Tuning::resolve(
        &caps("x", "cpu"),
        &ConfigSource::File("/nonexistent/params.json".into()),
        &no_env,
        &BTreeMap::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("/nonexistent/params.json"), "{e}");
}

#[test]
fn shipped_table_has_the_required_entries_and_resolves_for_them() {
    for (name, entry) in [
        ("llvmpipe (LLVM 15.0.6, 256 bits)", "vulkan.llvmpipe"),
        ("NVIDIA H100 80GB HBM3", "vulkan.NVIDIA H100"),
        ("NVIDIA H200", "vulkan.NVIDIA H200"),
        ("AMD Radeon RX 7900", "default"),
    ] {
        let t = resolve(&caps(name, "discrete"), &ConfigSource::Shipped);
        assert_eq!(t.matched_entry.as_deref(), Some(entry), "{name}");
        // The H100/H200 entries carry the f16 GEMM's measured tiles; others the heuristic's.
        let (tile_n, tile_k, width) = if name.starts_with("NVIDIA") {
            (256, 48, "auto")
        } else {
            (128, 32, "1")
        };
        assert_eq!(t.int("gemm.coop_tile_n"), tile_n, "{name}");
        assert_eq!(t.int("gemm.coop_tile_k"), tile_k, "{name}");
        assert_eq!(t.choice("gemm.coop_stage_type"), "halves", "{name}");
        assert_eq!(t.choice("gemm.coop_stage_width"), width, "{name}");
    }
}

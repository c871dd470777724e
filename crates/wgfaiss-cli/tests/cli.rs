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
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
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

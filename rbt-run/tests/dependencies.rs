//! `rbt-run` must stay a runner without the compiler: its normal (non-dev, non-build)
//! dependency closure, read from `cargo metadata --offline`, may not reach the front end,
//! the back end or LLVM. Adding `lang`, `codegen` or `inkwell` to `runtime` or `stdlib`
//! (directly or through another crate) fails this test.

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::process::Command;

/// Crates whose presence means the compiler is linked in again.
const COMPILER: &[&str] = &["lang", "codegen", "inkwell", "llvm-sys", "pest"];

/// The triple of the machine the tests run on, as rustc names it.
fn host() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

/// The workspace's resolved graph for this machine: package id → (name, ids of its normal
/// dependencies). Only this platform's packages: offline, cargo has no others (a
/// Windows-only dependency of clap was never downloaded).
fn graph() -> HashMap<String, (String, Vec<String>)> {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--offline", "--format-version", "1"])
        .args(["--filter-platform", &host(), "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or(""),
                p["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    meta["resolve"]["nodes"]
        .as_array()
        .expect("resolve.nodes (cargo metadata without --no-deps)")
        .iter()
        .map(|node| {
            let id = node["id"].as_str().unwrap_or("").to_string();
            // A dependency edge is normal when one of its kinds is `null` (neither `dev` nor
            // `build`); those are the crates linked into the binary.
            let deps = node["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|k| k["kind"].is_null())
                })
                .filter_map(|d| d["pkg"].as_str().map(String::from))
                .collect();
            let name = names.get(id.as_str()).copied().unwrap_or("").to_string();
            (id, (name, deps))
        })
        .collect()
}

/// The names of every crate `package` links, itself included.
fn closure(graph: &HashMap<String, (String, Vec<String>)>, package: &str) -> BTreeSet<String> {
    let mut todo: Vec<&String> = graph
        .iter()
        .filter(|(_, (name, _))| name == package)
        .map(|(id, _)| id)
        .collect();
    assert!(!todo.is_empty(), "no package {package} in the workspace");
    let mut seen = BTreeSet::new();
    let mut names = BTreeSet::new();
    while let Some(id) = todo.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        if let Some((name, deps)) = graph.get(id) {
            names.insert(name.clone());
            todo.extend(deps);
        }
    }
    names
}

fn compiler_crates(names: &BTreeSet<String>) -> Vec<&str> {
    COMPILER
        .iter()
        .copied()
        .filter(|c| names.contains(*c))
        .collect()
}

#[test]
fn rbt_run_links_no_compiler() {
    let graph = graph();
    let runner = closure(&graph, "rbt-run");
    assert!(
        runner.contains("runtime") && runner.contains("stdlib"),
        "rbt-run is built from runtime and stdlib: {runner:?}"
    );
    assert_eq!(
        compiler_crates(&runner),
        Vec::<&str>::new(),
        "rbt-run must not link the compiler; its dependencies: {runner:?}"
    );
    // The same walk over `rbt` finds every one of them, which shows that it follows the
    // graph far enough to see them (an empty closure would pass the check above).
    let compiler = closure(&graph, "rbt");
    assert_eq!(
        compiler_crates(&compiler),
        COMPILER,
        "rbt links the whole compiler; its dependencies: {compiler:?}"
    );
}

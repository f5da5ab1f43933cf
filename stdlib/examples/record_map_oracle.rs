//! Rewrites the expected sections of `stdlib/tests/fixtures/maps.txt` from the bpftrace 0.27
//! oracle (`../shared/oracle/bpftrace`, or `$RBT_ORACLE`; as root):
//! `cargo run -p stdlib --example record_map_oracle`.
//! It runs `bpftrace -e SCRIPT` and `bpftrace -f json -e SCRIPT` for every case. Review the
//! diff before committing it: the recording is what the `map_oracle` test holds rbt to.

#[path = "../tests/oracle/mod.rs"]
mod oracle;

use oracle::{fixture_path, oracle_unavailable, parse_fixture, run_bpftrace};

fn main() -> Result<(), String> {
    if let Some(why) = oracle_unavailable() {
        return Err(format!("cannot record: {why}"));
    }
    let path = fixture_path();
    let src = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (header, cases) = parse_fixture(&src);
    let mut out = header;
    for case in &cases {
        out.push_str(&format!("=== {}\n{}\n--- text\n", case.name, case.script));
        out.push_str(&run_bpftrace(&case.script, false));
        out.push_str("--- json\n");
        out.push_str(&run_bpftrace(&case.script, true));
    }
    std::fs::write(&path, out).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("recorded {} cases into {}", cases.len(), path.display());
    Ok(())
}

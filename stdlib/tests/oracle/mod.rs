//! The map-printing oracle's fixture (`tests/fixtures/maps.txt`): its format, and running the
//! bpftrace 0.27 oracle on its scripts. Shared by the `map_oracle` test, which compares with the
//! recording, and the `record_map_oracle` example, which rewrites it.

use std::path::PathBuf;
use std::process::Command;

/// One case of the fixture: a script and bpftrace's stdout for it, as text and as JSON.
pub struct Case {
    pub name: String,
    pub script: String,
    pub text: String,
    pub json: String,
}

pub fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/maps.txt")
}

/// Splits the fixture into its comment header and cases. Expected sections are stdout
/// verbatim: every line in them is a line of output, so each gets its newline back.
pub fn parse_fixture(src: &str) -> (String, Vec<Case>) {
    let mut header = String::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut section: Option<&str> = None;
    for line in src.lines() {
        if let Some(name) = line.strip_prefix("=== ") {
            cases.push(Case {
                name: name.to_string(),
                script: String::new(),
                text: String::new(),
                json: String::new(),
            });
            section = Some("script");
            continue;
        }
        let Some(case) = cases.last_mut() else {
            header.push_str(line);
            header.push('\n');
            continue;
        };
        match line {
            "--- text" => section = Some("text"),
            "--- json" => section = Some("json"),
            _ => match section {
                Some("script") => case.script.push_str(line),
                Some("text") => {
                    case.text.push_str(line);
                    case.text.push('\n');
                }
                Some("json") => {
                    case.json.push_str(line);
                    case.json.push('\n');
                }
                _ => {}
            },
        }
    }
    (header, cases)
}

/// The bpftrace the recording is of: `$RBT_ORACLE` if set, else the oracle wrapper next to the
/// workspace (`../shared/oracle/bpftrace`, see DESIGN.md), which runs Debian's 0.27.1.
pub fn oracle_path() -> PathBuf {
    match std::env::var_os("RBT_ORACLE") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/oracle/bpftrace"),
    }
}

/// Why the recorded bpftrace cannot be run here, if it cannot.
pub fn oracle_unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    let path = oracle_path();
    match Command::new(&path).arg("--version").output() {
        Ok(o) if String::from_utf8_lossy(&o.stdout).contains("v0.27") => None,
        Ok(o) => Some(format!(
            "{} is {}, the recording is of v0.27",
            path.display(),
            String::from_utf8_lossy(&o.stdout).trim()
        )),
        Err(e) => Some(format!("{} not runnable: {e}", path.display())),
    }
}

/// bpftrace's stdout for `script`, as text or JSON.
pub fn run_bpftrace(script: &str, json: bool) -> String {
    let mut cmd = Command::new(oracle_path());
    if json {
        cmd.args(["-f", "json"]);
    }
    let out = cmd.args(["-e", script]).output().expect("running bpftrace");
    let stdout = String::from_utf8(out.stdout).expect("bpftrace printed UTF-8");
    assert!(
        out.status.success() || !stdout.is_empty(),
        "bpftrace failed on {script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.ends_with('\n'),
        "bpftrace output for {script} does not end with a newline"
    );
    stdout
}

//! Tier 4: the same scripts through Debian's bpftrace 0.17 and through rbt; stdout must be
//! identical. BEGIN-only scripts make the events deterministic. Needs root and bpftrace;
//! skipped with a message otherwise.

use std::process::Command;

/// Scripts whose output bpftrace's behaviour specifies, one per line in the fixture.
const SCRIPTS: &str = include_str!("differential/scripts.bt");

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { geteuid() == 0 }
}

unsafe extern "C" {
    fn geteuid() -> u32;
}

fn run(tool: &str, args: &[&str]) -> (String, i32) {
    let o = Command::new(tool).args(args).output().expect("run tool");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn same_output_as_bpftrace() {
    if !is_root() || Command::new("bpftrace").arg("--version").output().is_err() {
        eprintln!(
            "skipping tier 4: needs root and Debian's bpftrace 0.17 (apt-get install bpftrace)"
        );
        return;
    }
    let mut failures = Vec::new();
    let mut count = 0;
    for line in SCRIPTS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        for format in ["text", "json"] {
            let args = ["-f", format, "-e", line];
            let (want, _) = run("bpftrace", &args);
            let (got, _) = run(env!("CARGO_BIN_EXE_rbt"), &args);
            count += 1;
            if want != got {
                failures.push(format!(
                    "-f {format} -e '{line}'\n--- bpftrace:\n{want}--- rbt:\n{got}"
                ));
            }
        }
    }
    assert!(count > 0);
    assert!(
        failures.is_empty(),
        "{} of {count} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

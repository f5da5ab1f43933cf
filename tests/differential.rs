//! Tier 4: the same scripts through Debian's bpftrace 0.17 and through rbt; stdout must be
//! identical but for where bpftrace 0.27 (the spec) changed 0.17's output, which [`normalize`]
//! takes out of both. BEGIN-only scripts make the events deterministic. Needs root and bpftrace, so
//! it is `#[ignore]`d: run-tests.sh runs it as root with `--include-ignored`.

use std::process::Command;

/// Scripts whose output bpftrace's behaviour specifies, one per line in the fixture.
const SCRIPTS: &str = include_str!("differential/scripts.bt");

/// Fails, saying why, unless this runs as root with Debian's bpftrace installed: an ignored
/// test that is asked for must test something or fail, never pass silently.
fn require_root_and_bpftrace() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { geteuid() };
    assert!(
        euid == 0,
        "this test loads BPF programs and needs root: run it as root (run-tests.sh does), \
         or leave out --include-ignored"
    );
    assert!(
        Command::new("bpftrace").arg("--version").output().is_ok(),
        "this test compares with Debian's bpftrace 0.17, which is not installed \
         (apt-get install bpftrace; ci-setup.sh does)"
    );
}

/// Output without what 0.27 changed on purpose: the attach line (0.17: "Attaching N probes..."
/// on stdout before attaching; 0.27: "Attached N probes" on stderr after, and a JSON record with
/// a `count`), in JSON, the blank lines 0.17 prints before the maps at exit, and stats lines in
/// 0.27's form (0.17: `@s: count 2, average 5, total 10`).
fn normalize(out: &str, format: &str) -> String {
    out.lines()
        .filter(|l| {
            !l.starts_with("Attaching ") && !l.starts_with("{\"type\": \"attached_probes\"")
        })
        .filter(|l| format != "json" || !l.is_empty())
        .map(|l| format!("{}\n", stats_as_027(l)))
        .collect()
}

/// A 0.17 stats line (`@s: count 2, average 5, total 10`) in 0.27's form
/// (`@s: { .count = 2, .average = 5, .total = 10 }`); any other line as it is.
fn stats_as_027(line: &str) -> String {
    let fields = line.split_once(": count ").and_then(|(name, rest)| {
        let (count, rest) = rest.split_once(", average ")?;
        let (avg, total) = rest.split_once(", total ")?;
        Some(format!(
            "{name}: {{ .count = {count}, .average = {avg}, .total = {total} }}"
        ))
    });
    fields.unwrap_or_else(|| line.to_string())
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
#[ignore = "needs root and bpftrace"]
fn same_output_as_bpftrace() {
    require_root_and_bpftrace();
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
            let (want, got) = (normalize(&want, format), normalize(&got, format));
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

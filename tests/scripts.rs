//! Tier 2: the tools in `scripts/` that this host can run (tracepoints; the kprobe ones run in
//! the VM tier, `tests/vm`), run for real: each is started, an event it traces is made once
//! rbt has attached, and the tool's output must report that event. Root only.

use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::{lines_of, require_root, wait_for, wait_for_line, NOTIFY};

/// A token that no other process on the machine will use.
fn unique(what: &str) -> String {
    format!("rbt-{what}-{}", std::process::id())
}

/// Runs `scripts/NAME.bt` with `args` until `trigger` has run and `want` matches a line of its
/// output (checked line by line), then ends it with SIGINT; returns the lines before the match.
fn run_tool(
    name: &str,
    args: &[&str],
    trigger: impl Fn(),
    want: impl Fn(&str) -> bool,
) -> Vec<String> {
    let script = format!("{}/scripts/{name}.bt", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(args)
        .arg(&script)
        .env(NOTIFY, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rbt");
    let rx = lines_of(child.stdout.take().expect("stdout"));
    wait_for_line(&rx, NOTIFY);
    // The event is made again each second until the tool reports it (or ten tries fail): the
    // first one can race with the tool's own start-up output.
    let mut seen = Vec::new();
    let mut found = false;
    for _ in 0..10 {
        trigger();
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) {
            if want(&line) {
                found = true;
                break;
            }
            seen.push(line);
        }
        if found {
            break;
        }
    }
    // SAFETY: kill has no memory preconditions; the pid is our own child's.
    unsafe { kill(child.id() as i32, 2) };
    assert!(wait_for(&mut child, Duration::from_secs(10), "after SIGINT").success());
    assert!(
        found,
        "{name}: no matching line in {} lines of output",
        seen.len()
    );
    seen
}

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

#[test]
#[ignore = "needs root"]
fn opensnoop_reports_an_open() {
    require_root();
    let path = format!("/tmp/{}", unique("opensnoop"));
    run_tool(
        "opensnoop",
        &[],
        || {
            let _ = std::fs::File::open(&path);
        },
        // The file does not exist: fd -1, errno 2 (ENOENT).
        |l| l.ends_with(&format!("  -1   2 {path}")),
    );
}

#[test]
#[ignore = "needs root"]
fn execsnoop_reports_an_exec_in_json() {
    require_root();
    let token = unique("execsnoop");
    let lines = run_tool(
        "execsnoop",
        &["-f", "json"],
        || {
            let _ = Command::new("/bin/echo").arg(&token).output();
        },
        |l| l == format!(r#"{{"type": "join", "data": "/bin/echo {token}"}}"#),
    );
    // The record just before the arguments names the program and who ran it.
    let record = lines.last().expect("a record before the join");
    let v: serde_json::Value = serde_json::from_str(record).expect("a JSON line");
    assert_eq!(v["type"], "value", "{record}");
    assert_eq!(v["data"]["program"], "/bin/echo", "{record}");
    assert_eq!(v["data"]["parent"], std::process::id(), "{record}");
    assert_eq!(v["data"]["user"], 0, "{record}");
}

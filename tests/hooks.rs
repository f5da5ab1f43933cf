//! Tier 2: the hooks bpftrace's runtime test harness relies on, checked on the real `rbt`
//! binary (root only): the `__BPFTRACE_NOTIFY_PROBES_ATTACHED` line, a BEGIN/END-only
//! script ending by itself, SIGTERM ending a run like Ctrl-C, a closed stdout ending it, and a
//! closed stderr or a listing's reader leaving early, neither of which is an error.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{lines_of, require_root, wait_for, wait_for_line, NOTIFY};

fn rbt(script: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rbt"));
    cmd.args(["-e", script]).stdin(Stdio::null());
    cmd
}

#[test]
#[ignore = "needs root"]
fn notify_line_comes_once_probes_are_attached() {
    require_root();
    let o = rbt(r#"BEGIN { printf("x\n"); } END { printf("y\n"); }"#)
        .env(NOTIFY, "1")
        .output()
        .expect("run rbt");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Once attached, before anything BEGIN prints; "Attached 2 probes" goes to stderr.
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("{NOTIFY}\nx\ny\n\n\n")
    );
    assert_eq!(String::from_utf8_lossy(&o.stderr), "Attached 2 probes\n");
    // With a probe that fires on its own, the line still precedes its first output.
    let mut child = rbt(r#"interval:ms:50 { printf("tick\n"); exit(); }"#)
        .env(NOTIFY, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rbt");
    let rx = lines_of(child.stdout.take().expect("stdout"));
    assert_eq!(wait_for_line(&rx, NOTIFY), Vec::<String>::new());
    assert_eq!(wait_for_line(&rx, "tick"), Vec::<String>::new());
    assert!(wait_for(&mut child, Duration::from_secs(10), "after exit()").success());
}

#[test]
#[ignore = "needs root"]
fn notify_line_only_when_asked_for() {
    require_root();
    let o = rbt("BEGIN { exit(); }")
        .env_remove(NOTIFY)
        .output()
        .expect("run rbt");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!String::from_utf8_lossy(&o.stdout).contains(NOTIFY));
}

#[test]
#[ignore = "needs root"]
fn begin_end_only_scripts_exit_by_themselves() {
    require_root();
    // As bpftrace does: BEGIN runs, then END, then the maps are printed.
    for (script, want) in [
        ("BEGIN { @a = 1; }", "\n\n@a: 1\n"),
        (
            r#"BEGIN { printf("x\n"); } END { printf("y\n"); }"#,
            "x\ny\n\n\n",
        ),
        (r#"END { printf("y\n"); }"#, "y\n\n\n"),
    ] {
        let mut child = rbt(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rbt");
        let status = wait_for(&mut child, Duration::from_secs(20), script);
        let mut out = String::new();
        let mut err = String::new();
        child
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("read stdout");
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("read stderr");
        assert!(status.success(), "{script}: {err}");
        assert_eq!(out, want, "{script}");
    }
}

#[test]
#[ignore = "needs root"]
fn sigterm_ends_a_run_like_ctrl_c() {
    require_root();
    for signal in ["-TERM", "-INT"] {
        let mut child =
            rbt(r#"BEGIN { @a = 1; } interval:s:10 { @b = 1; } END { printf("end\n"); }"#)
                .env(NOTIFY, "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn rbt");
        let rx = lines_of(child.stdout.take().expect("stdout"));
        wait_for_line(&rx, NOTIFY);
        let sent = Instant::now();
        let kill = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(kill.success());
        // The harness allows a second between SIGTERM and SIGKILL.
        let status = wait_for(&mut child, Duration::from_secs(10), "after the signal");
        // bpftrace's harness allows 1 s; the margin is for a busy machine, and a run that
        // waited for its 10 s interval instead still fails.
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "{signal}: took {:?}",
            sent.elapsed()
        );
        assert_eq!(status.code(), Some(0), "{signal}");
        let rest: Vec<String> = rx.iter().collect();
        // @b was never written, so it prints nothing (0.17 printed an empty line for it).
        assert_eq!(rest, ["end", "", "", "@a: 1"], "{signal}");
    }
}

#[test]
#[ignore = "needs root"]
fn closed_stdout_ends_the_run() {
    require_root();
    // One script writes all the time (the write fails), one never writes again after the
    // notify line (only the closed pipe itself tells), and one floods: every syscall on the
    // machine, rbt's own writes included, so the ring buffer is full when the pipe closes.
    for script in [
        r#"interval:ms:10 { printf("tick\n"); }"#,
        r#"tracepoint:syscalls:sys_enter_reboot { printf("reboot\n"); }"#,
        r#"tracepoint:raw_syscalls:sys_enter { printf("%d %s\n", pid, comm); }"#,
    ] {
        let mut child = rbt(script)
            .env(NOTIFY, "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rbt");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("read a line");
        assert_eq!(first, format!("{NOTIFY}\n"), "{script}");
        drop(stdout);
        let status = wait_for(&mut child, Duration::from_secs(5), "after stdout closed");
        let mut err = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("read stderr");
        // An orderly end: the reader left on purpose, so no error and no complaint (stderr
        // holds only the attach line).
        assert_eq!(status.code(), Some(0), "{script}: {err}");
        assert_eq!(err, "Attached 1 probe\n", "{script}");
    }
}

/// A pipe whose reader is gone: writing to it fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    writer
}

#[test]
#[ignore = "needs root"]
fn closed_stderr_neither_aborts_nor_fails_the_run() {
    require_root();
    // The attach line, then a diagnostic: both are lost, the run and its exit status are not.
    let o = rbt(r#"BEGIN { printf("a\n"); exit(); }"#)
        .stderr(closed_pipe())
        .output()
        .expect("run rbt");
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.starts_with(b"a\n"), "{:?}", o.stdout);
    let o = rbt("BEGIN { $x = ; }")
        .stderr(closed_pipe())
        .output()
        .expect("run rbt");
    assert_eq!(o.status.code(), Some(1), "a refused script still fails");
}

#[test]
#[ignore = "needs root"]
fn a_listing_into_a_closed_pipe_is_not_an_error() {
    require_root();
    // `rbt -l | head -1`: the reader stopped early on purpose.
    for args in [
        &["-l", "tracepoint:*"][..],
        &["-l", "-e", "tracepoint:syscalls:sys_enter_* { }"],
        &["--info"],
        &["-d", "hir", "-e", "BEGIN { print(1) }"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
            .args(args)
            .stdout(closed_pipe())
            .output()
            .expect("run rbt");
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

//! Tier 1: `rbt --fmt` from the command line: a file, `-e` or stdin is printed formatted and
//! nothing runs; a script that does not parse gets its diagnostics and exit status 1. The
//! layout itself is tested in lang's tests/format.rs.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn rbt(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rbt");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for rbt")
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).expect("UTF-8")
}

#[test]
fn a_program_is_printed_formatted_and_not_run() {
    let o = rbt(&["--fmt", "-e", "BEGIN{@x=count();exit()}"], "");
    assert_eq!(stdout(&o), "BEGIN\n{\n  @x = count();\n  exit();\n}\n");
}

#[test]
fn a_formatted_seed_script_formats_to_itself_from_stdin() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/opensnoop.bt");
    let once = stdout(&rbt(&["--fmt", script], ""));
    assert!(
        once.contains("tracepoint:syscalls:sys_enter_open,\n"),
        "{once}"
    );
    let twice = stdout(&rbt(&["--fmt", "-"], &once));
    assert_eq!(once, twice);
}

#[test]
fn a_syntax_error_is_reported_and_fails() {
    let o = rbt(&["--fmt", "-e", "BEGIN { $x = ; }"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("error") && stderr.contains('^'), "{stderr}");
}

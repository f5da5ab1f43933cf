//! Tier 2: the stderr lines of `warnf`, `errorf` and a failed `assert`, which bpftrace
//! prefixes with the call's location and level (the e2e cases compare stdout only). Root only.

use std::process::Command;

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// Runs `script` as root; its exit status and stderr.
fn run(script: &str) -> (Option<i32>, String) {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc_geteuid() };
    assert!(euid == 0, "this test loads BPF programs and needs root");
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["-e", script])
        .output()
        .expect("run rbt");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The lines of `err` that name a script location (other lines, such as the attach line,
/// may come before them).
fn located(err: &str) -> Vec<&str> {
    err.lines().filter(|l| l.starts_with("stdin:")).collect()
}

#[test]
#[ignore = "needs root"]
fn messages_name_their_call() {
    let script =
        r#"BEGIN { warnf("w %d", 1); errorf("e %s", "x"); assert(1 == 2, "one is not two"); }"#;
    let (status, err) = run(script);
    assert_eq!(status, Some(1), "{err}");
    assert_eq!(
        located(&err),
        [
            "stdin:1:9-25: WARNING: w 1",
            "stdin:1:27-46: ERROR: e x",
            "stdin:1:48-80: ERROR: assert failed: one is not two",
        ],
        "{err}"
    );
}

#[test]
#[ignore = "needs root"]
fn assert_prints_any_value_as_its_message() {
    // As in bpftrace 0.27, the message is any value, printed as `%s` prints it.
    let (status, err) = run(r#"BEGIN { $m = "dyn"; assert(1 == 1, $m); assert(2 > 3, (1, $m)); }"#);
    assert_eq!(status, Some(1), "{err}");
    assert_eq!(
        located(&err),
        ["stdin:1:41-63: ERROR: assert failed: (1, dyn)"],
        "{err}"
    );
}

#[test]
#[ignore = "needs root"]
fn array_index_past_the_end_warns_at_run_time() {
    // The array is read through a pointer to a variable, so the reads stay in BPF memory;
    // only the index past the end warns.
    let (status, err) = run(
        r#"struct A { int x[4]; } BEGIN { $v = (uint64)0; $a = (struct A *)&$v; $i = 5; $j = 1; $x = $a->x[$i]; $y = $a->x[$j]; exit(); }"#,
    );
    assert_eq!(status, Some(0), "{err}");
    assert_eq!(
        located(&err),
        ["stdin:1:91-100: WARNING: Array access out of bounds. This can lead to unexpected results."],
        "{err}"
    );
}

#[test]
#[ignore = "needs root"]
fn messages_from_macros_name_each_call() {
    // As bpftrace 0.27.1 prints it: the message, then each macro call it was expanded
    // from, innermost first, with the line underlined.
    let script = r#"macro a() { warnf("x %d", 1); } macro b() { a(); } BEGIN { b(); exit(); }"#;
    let (status, err) = run(script);
    assert_eq!(status, Some(0), "{err}");
    let from = err.find("stdin:").map_or("", |i| &err[i..]);
    assert_eq!(
        from,
        format!(
            "stdin:1:13-29: WARNING: x 1\n\
             stdin:1:45-48: WARNING: expanded from\n{script}\n{}~~~\n\
             stdin:1:60-63: WARNING: expanded from\n{script}\n{}~~~\n",
            " ".repeat(44),
            " ".repeat(59)
        ),
        "{err}"
    );
}

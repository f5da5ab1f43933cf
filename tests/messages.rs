//! Tier 2: the stderr lines of `warnf`, `errorf` and a failed `assert`, which bpftrace
//! prefixes with the call's location and level (the e2e cases compare stdout only). Root only.

use std::process::Command;

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[test]
#[ignore = "needs root"]
fn messages_name_their_call() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc_geteuid() };
    assert!(euid == 0, "this test loads BPF programs and needs root");
    let script =
        r#"BEGIN { warnf("w %d", 1); errorf("e %s", "x"); assert(1 == 2, "one is not two"); }"#;
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["-e", script])
        .output()
        .expect("run rbt");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    // Other lines (the attach line) may come before them.
    let messages: Vec<&str> = err.lines().filter(|l| l.starts_with("stdin:")).collect();
    assert_eq!(
        messages,
        [
            "stdin:1:9-25: WARNING: w 1",
            "stdin:1:27-46: ERROR: e x",
            "stdin:1:48-80: ERROR: assert failed: one is not two",
        ],
        "{err}"
    );
}

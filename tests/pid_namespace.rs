//! Tier 2: `pid(curr_ns)` and `pid(init)` when rbt runs in a pid namespace of its own (made
//! with util-linux's `unshare`), where they differ: rbt is pid 1 in its namespace. Root only.

use std::process::Command;

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[test]
#[ignore = "needs root"]
fn pid_counts_in_rbts_namespace() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc_geteuid() };
    assert!(
        euid == 0,
        "this test loads BPF programs and makes a pid namespace, so it needs root"
    );
    let script = r#"BEGIN { printf("%d %d %d %d %d\n", pid, pid(curr_ns), tid(curr_ns), pid(init) != 1, tid(init) == pid(init)); exit(); }"#;
    let o = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            env!("CARGO_BIN_EXE_rbt"),
            "-e",
            script,
        ])
        .output()
        .expect("run unshare (util-linux)");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}\n{err}");
    // Bare `pid` counts in rbt's namespace, as in bpftrace 0.2x; the initial namespace's
    // id of the same process is not 1.
    assert!(out.lines().any(|l| l == "1 1 1 1 1"), "{out}\n{err}");
}

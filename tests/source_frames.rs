//! Tier 2: user stacks with debug info (`config = { show_debug_info = 1 }`), as bpftrace
//! 0.27 prints them: a USDT probe inside two levels of inlined functions, in a program built
//! here with gcc and `<sys/sdt.h>`, shows the inlined functions first, then the machine
//! frames, each with its file and line; perf mode adds `(inlined)` lines only; without the
//! setting the frames are as before. Root only.

#[allow(dead_code)] // this file uses only the root check of the shared helpers
mod common;

use std::path::PathBuf;
use std::process::Command;

// Built with frame pointers, so that the kernel walks past the inlined frames, and kept alive
// for a while after the probe, so that rbt can read its mappings when it prints the stack.
const SOURCE: &str = r#"#include <sys/sdt.h>
#include <unistd.h>
volatile int sink;
__attribute__((always_inline)) static inline void inner(int v)
{
	DTRACE_PROBE1(rbtinl, here, v);
}
__attribute__((always_inline)) static inline void middle(int v)
{
	sink = v + 1;
	inner(v * 2);
}
__attribute__((noinline)) void outer(int v)
{
	sink = v + 3;
	middle(v);
}
int main(void)
{
	outer(1);
	sleep(3);
	return sink == 0;
}
"#;

/// The line of SOURCE that holds `text`.
fn line_of(text: &str) -> usize {
    SOURCE
        .lines()
        .position(|l| l.contains(text))
        .map_or(0, |i| i + 1)
}

fn build() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("source-frames");
    std::fs::create_dir_all(&dir).expect("create the build directory");
    let src = dir.join("inl.c");
    std::fs::write(&src, SOURCE).expect("write the source");
    let bin = dir.join("inl");
    let ok = Command::new("gcc")
        .args(["-g", "-O0", "-fno-omit-frame-pointer", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .expect("run gcc");
    assert!(
        ok.success(),
        "gcc failed (needs systemtap-sdt-dev for <sys/sdt.h>)"
    );
    bin
}

/// rbt's stdout for `script` traced on `bin` run as its `-c` command, with each frame's
/// `+offset` written `+N` and the source directory `DIR`.
fn trace(bin: &std::path::Path, script: &str, env: &[(&str, &str)]) -> Vec<String> {
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["--no-cache", "-c"])
        .arg(bin)
        .args(["-e", script])
        .envs(env.iter().copied())
        .output()
        .expect("run rbt");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let dir = bin
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let l = l.replace(&dir, "DIR");
            // `name+123` → `name+N`.
            let mut s = String::new();
            let mut chars = l.chars().peekable();
            while let Some(c) = chars.next() {
                s.push(c);
                if c == '+' && chars.peek().is_some_and(char::is_ascii_digit) {
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                    s.push('N');
                }
            }
            s
        })
        .collect()
}

#[test]
#[ignore = "needs root"]
fn inlined_frames_with_files_and_lines() {
    common::require_root();
    let bin = build();
    let probe = format!("usdt:{}:rbtinl:here", bin.display());
    let with = trace(
        &bin,
        &format!("config = {{ show_debug_info = 1 }} {probe} {{ print(ustack(2)); exit(); }}"),
        &[],
    );
    assert_eq!(
        with,
        [
            format!(
                "        [inlined] inner@DIR/inl.c:{}",
                line_of("DTRACE_PROBE1")
            ),
            format!(
                "        [inlined] middle@DIR/inl.c:{}",
                line_of("inner(v * 2)")
            ),
            format!("        outer+N@DIR/inl.c:{}", line_of("middle(v);")),
            format!("        main+N@DIR/inl.c:{}", line_of("outer(1);")),
        ]
    );
    // Perf mode names the inlined functions at the frame's address, and keeps its own line
    // as without debug info.
    let perf = trace(
        &bin,
        &format!("config = {{ show_debug_info = 1 }} {probe} {{ print(ustack(1)); exit(); }}"),
        &[("BPFTRACE_STACK_MODE", "perf")],
    );
    assert_eq!(perf.len(), 3, "{perf:?}");
    let addr = perf[2]
        .trim()
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        perf,
        [
            format!("\t{addr} inner (inlined)"),
            format!("\t{addr} middle (inlined)"),
            format!("\t{addr} outer+N (DIR/inl)"),
        ]
    );
    // Off (the default, as in bpftrace 0.27.1 here): machine frames only.
    let without = trace(
        &bin,
        &format!("{probe} {{ print(ustack(2)); exit(); }}"),
        &[],
    );
    assert_eq!(without, ["        outer+N", "        main+N"]);
}

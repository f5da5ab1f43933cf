//! Tier 2: `dw_ustack` unwinds a program built without frame pointers
//! (tests/dw_ustack/nofp.c) with its DWARF CFI, in every place a stack goes (printf `%s`, a
//! map key, `print()`, `-f json`), and its frames in the program match what bpftrace 0.27.1
//! (`../shared/oracle`) prints. Root only; the oracle test needs the oracle too.

use std::process::Command;

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// Fails, saying why, without root: these tests run only when asked for (`--include-ignored`).
fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc_geteuid() };
    assert!(euid == 0, "this test loads BPF programs and needs root");
}

/// tests/dw_ustack/nofp.c built as upstream builds its test program of this kind: no
/// optimisation, no frame pointers, with unwind tables (gcc's default on x86-64). Each test
/// builds its own under the temporary directory, which the oracle's chroot binds at the same
/// path (the checkout may lie where the chroot cannot see it), and removes it when done.
struct Target {
    dir: std::path::PathBuf,
    bin: String,
}

impl Target {
    fn build(name: &str) -> Target {
        let dir = std::env::temp_dir().join(format!("rbt-dw-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the target's directory");
        let bin = dir.join("rbt-dw-nofp").to_string_lossy().into_owned();
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dw_ustack/nofp.c");
        let ok = Command::new("gcc")
            .args(["-O0", "-g", "-fomit-frame-pointer", "-o", &bin, src])
            .status()
            .expect("run gcc");
        assert!(ok.success(), "building {src} failed");
        Target { dir, bin }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `tracer` (rbt or the oracle) on `script` with `-c 'TARGET N'`; returns stdout.
fn trace(tracer: &str, target: &Target, extra: &[&str], script: &str, calls: u32) -> String {
    let bin = &target.bin;
    let o = Command::new(tracer)
        .args(extra)
        .args(["-e", &script.replace("{TARGET}", bin)])
        .args(["-c", &format!("{bin} {calls}")])
        .output()
        .expect("run the tracer");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{tracer} failed: {stderr}");
    String::from_utf8(o.stdout).expect("utf-8 output")
}

/// The frames in the traced program, up to `main`: the ones whose names and offsets do not
/// depend on the C library (the oracle runs in a Debian sid chroot with another libc).
fn program_frames(stack: &str) -> Vec<String> {
    let mut frames: Vec<String> = Vec::new();
    for line in stack.lines().map(str::trim).filter(|l| !l.is_empty()) {
        frames.push(line.to_string());
        if line.split_whitespace().any(|w| w.starts_with("main+")) {
            break;
        }
    }
    frames
}

/// The probe of every case: only the `-c` command's calls count, as the tests run in
/// parallel and each starts its own copy of the program.
const PROBE: &str =
    "config = { unstable_dw_ustack = enable } uprobe:{TARGET}:rbt_dw_leaf /pid == cpid/";

#[test]
#[ignore = "needs root"]
fn unwinds_a_program_without_frame_pointers() {
    require_root();
    let rbt = env!("CARGO_BIN_EXE_rbt");
    let target = Target::build("unwinds");
    // printf and print() of the same stack; the second at a limit of two frames.
    let out = trace(
        rbt,
        &target,
        &[],
        &format!("{PROBE} {{ printf(\"%s|\\n\", dw_ustack); print(dw_ustack(2)); exit(); }}"),
        1000,
    );
    let (printed, rest) = out.split_once('|').expect("the printf line");
    let frames = program_frames(printed);
    let names: Vec<&str> = frames
        .iter()
        .map(|f| f.split('+').next().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        ["rbt_dw_leaf", "rbt_dw_middle", "rbt_dw_outer", "main"],
        "{out}"
    );
    assert_eq!(frames[0], "rbt_dw_leaf+0");
    // Past main, the C library's start code and the program's `_start`, whose CFI ends
    // the walk.
    let last = printed.lines().map(str::trim).rfind(|l| !l.is_empty());
    assert!(last.is_some_and(|l| l.starts_with("_start+")), "{out}");
    let two: Vec<&str> = rest
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(two, [frames[0].as_str(), frames[1].as_str()], "{out}");

    // A map key: three calls leave the same stack, so one key counts them all.
    let out = trace(
        rbt,
        &target,
        &[],
        &format!("{PROBE} {{ @[dw_ustack(3)] = count(); }}"),
        3,
    );
    let want = format!(
        "@[\n        {}\n        {}\n        {}\n]: 3\n",
        frames[0], frames[1], frames[2]
    );
    assert!(
        out.contains(&want) && out.matches("@[").count() == 1,
        "{out}"
    );

    // JSON: the map key is the frames, one per line, as for ustack.
    let out = trace(
        rbt,
        &target,
        &["-f", "json"],
        &format!("{PROBE} {{ @[dw_ustack(2)] = count(); exit(); }}"),
        1000,
    );
    let map = out
        .lines()
        .find(|l| l.contains("\"type\": \"map\""))
        .expect("a map line");
    let want = format!(
        "{{\"type\": \"map\", \"data\": {{\"@\": {{\"\\n{}\\n{}\\n\": 1}}}}}}",
        frames[0], frames[1]
    );
    assert_eq!(map, want);
}

#[test]
#[ignore = "needs root"]
fn refuses_a_run_without_a_target_process() {
    require_root();
    let target = Target::build("refuses");
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args([
            "-e",
            &format!(
                "config = {{ unstable_dw_ustack = enable }} uprobe:{}:rbt_dw_leaf {{ printf(\"%s\", dw_ustack); }}",
                target.bin
            ),
        ])
        .output()
        .expect("run rbt");
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("ERROR: dw_ustack requires a target process"),
        "{stderr}"
    );
}

/// Named so that run-tests.sh leaves it out where there is no oracle, as it does tier 4's
/// `same_output_as_bpftrace_0_27`.
#[test]
#[ignore = "needs root and the bpftrace 0.27.1 oracle"]
fn dw_ustack_same_output_as_bpftrace_0_27() {
    require_root();
    let oracle = std::env::var("RBT_ORACLE").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/oracle/bpftrace").to_string()
    });
    assert!(
        std::path::Path::new(&oracle).exists(),
        "the bpftrace 0.27.1 oracle is not at {oracle}: set RBT_ORACLE to its wrapper"
    );
    let target = Target::build("oracle");
    for mode in ["", "perf", "raw"] {
        let script = format!("{PROBE} {{ printf(\"%s\\n\", dw_ustack({mode})); exit(); }}");
        let ours = trace(env!("CARGO_BIN_EXE_rbt"), &target, &[], &script, 1000);
        let theirs = trace(&oracle, &target, &[], &script, 1000);
        let frames = |out: &str| -> Vec<String> {
            let frames = program_frames(out);
            match mode {
                // The program is position-independent: addresses differ between runs, so
                // raw frames compare as offsets from the first, perf ones without them.
                "raw" => {
                    let addrs: Vec<u64> = out
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .take(4)
                        .filter_map(|l| u64::from_str_radix(l, 16).ok())
                        .collect();
                    addrs.iter().map(|a| format!("{}", a - addrs[0])).collect()
                }
                "perf" => frames
                    .iter()
                    .map(|f| f.split_once(' ').map_or("", |(_, rest)| rest).to_string())
                    .collect(),
                _ => frames,
            }
        };
        assert_eq!(
            frames(&ours),
            frames(&theirs),
            "mode {mode:?}:\n{ours}\n{theirs}"
        );
        assert_eq!(frames(&ours).len(), 4, "mode {mode:?}:\n{ours}");
    }
}

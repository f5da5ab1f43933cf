//! The tier-2 case files (`tests/e2e/*.txt`): their parser and a runner that drives one case
//! (its command, its trigger, a time limit), shared by `tests/e2e.rs` (the direct runs) and
//! `tests/aot.rs` (the same cases compiled with `--aot` and run by `rbt-run`).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The tools in `scripts/`, which both the direct and the compiled runs load with `--dry-run`.
pub const SEED_SCRIPTS: [&str; 5] = [
    "opensnoop",
    "execsnoop",
    "tcpconnect",
    "key_pressed",
    "others",
];

pub struct Case {
    pub name: String,
    pub args: String,
    pub trigger: Option<String>,
    pub status: i32,
    pub stdout: String,
}

/// Compiles tests/e2e/`src` with `compiler` and `flags` into `name` in cargo's temporary
/// directory for tests; fails saying what it `needs` when that does not work.
fn build(compiler: &str, flags: &[&str], src: &str, name: &str, needs: &str) -> String {
    let out = format!("{}/{name}", env!("CARGO_TARGET_TMPDIR"));
    let src = format!("{}/tests/e2e/{src}", env!("CARGO_MANIFEST_DIR"));
    let ok = Command::new(compiler)
        .args(flags)
        .args(["-o", &out, &src])
        .status()
        .unwrap_or_else(|e| panic!("cannot run {compiler} ({needs}): {e}"));
    assert!(ok.success(), "building {src} failed ({needs})");
    out
}

/// Builds tests/e2e/target.c (needs gcc and <sys/sdt.h> from systemtap-sdt-dev) once.
pub fn target_binary() -> String {
    static BUILT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let needs = "needs gcc and systemtap-sdt-dev";
    let make = || build("gcc", &["-O1", "-g"], "target.c", "rbt-e2e-target", needs);
    BUILT.get_or_init(make).clone()
}

/// tests/e2e/target.c built as a fixed-address executable (ET_EXEC, `-no-pie`): its
/// addresses can be named after the process is gone, from the file alone.
pub fn target_binary_no_pie() -> String {
    static BUILT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let flags = ["-O1", "-g", "-no-pie"];
    let needs = "needs gcc and systemtap-sdt-dev";
    let make = || build("gcc", &flags, "target.c", "rbt-e2e-target-nopie", needs);
    BUILT.get_or_init(make).clone()
}

/// tests/e2e/target_cxx.cpp built with g++ (`{TARGET_CXX}`), for the C++ name cases.
pub fn target_binary_cxx() -> String {
    static BUILT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let needs = "needs g++, which ci-setup.sh installs";
    let make = || {
        build(
            "g++",
            &["-O1", "-g"],
            "target_cxx.cpp",
            "rbt-e2e-target-cxx",
            needs,
        )
    };
    BUILT.get_or_init(make).clone()
}

/// `text` with the cases' placeholders filled in; each target is built on first use.
fn expand(text: &str, unique: &str) -> String {
    let mut out = text.replace("{UNIQUE}", unique);
    type Build = fn() -> String;
    let targets: [(&str, Build); 3] = [
        ("{TARGET}", target_binary),
        ("{TARGET_NOPIE}", target_binary_no_pie),
        ("{TARGET_CXX}", target_binary_cxx),
    ];
    for (placeholder, build) in targets {
        if out.contains(placeholder) {
            out = out.replace(placeholder, &build());
        }
    }
    out
}

pub fn cases() -> Vec<Case> {
    // Every `*.txt` case file in tests/e2e, in name order.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/e2e")
        .map(|e| e.expect("tests/e2e entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let text: String = files
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("case file"))
        .collect::<Vec<_>>()
        .join("\n");
    let unique = format!("{}", std::process::id());
    let mut out = Vec::new();
    for block in text.split("\n=== ").skip(1) {
        let (name, rest) = block.split_once('\n').expect("case header");
        let (head, body) = rest.split_once("stdout:\n").expect("stdout section");
        // The expected output runs up to a line holding only ".".
        let stdout = if body.starts_with(".\n") {
            ""
        } else {
            body.split_once("\n.\n")
                .expect("stdout ends with a `.` line")
                .0
        };
        let stdout = if stdout.is_empty() {
            String::new()
        } else {
            format!("{stdout}\n")
        };
        let field = |k: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| expand(v.trim(), &unique))
        };
        out.push(Case {
            name: name.trim().to_string(),
            args: field("args:").expect("args"),
            trigger: field("trigger:"),
            status: field("status:").map_or(0, |s| s.parse().expect("status")),
            stdout: expand(&stdout, &unique),
        });
    }
    out
}

/// Runs `command` (shell words, with the case's args already in it) as the case says: its
/// trigger repeats until it exits. Returns the exit status, stdout and stderr.
pub fn run_case(c: &Case, command: &str) -> (i32, String, String) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {command}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rbt");
    // rbt cannot say when its probes are attached, so the trigger repeats every half second
    // until the script exits on its own (each case's script exits on the first event).
    let start = Instant::now();
    let mut last_trigger: Option<Instant> = None;
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            break;
        }
        if let Some(t) = &c.trigger {
            if last_trigger.is_none_or(|l| l.elapsed() > Duration::from_millis(500)) {
                Command::new("sh")
                    .arg("-c")
                    .arg(t.replace("{PID}", &child.id().to_string()))
                    .status()
                    .expect("trigger");
                last_trigger = Some(Instant::now());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = child.wait().expect("wait").code().unwrap_or(-1);
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    (status, out, err)
}

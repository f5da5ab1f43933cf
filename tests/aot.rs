//! Tier 2 for compiled scripts: every e2e case that runs a script is compiled with
//! `rbt --aot` and run by `rbt-run`, and must print what the direct run prints; damaged and
//! foreign files are refused with a one-line error. Tests that load BPF need root and are
//! `#[ignore = "needs root"]`.

#[path = "e2e/cases.rs"]
mod cases;
// Only the root check is used here.
#[allow(dead_code)]
mod common;

use cases::{cases, run_case, SEED_SCRIPTS};
use std::path::PathBuf;
use std::process::Command;

/// `rbt-run`, built beside `rbt`: it is another package, so cargo names only `rbt` to these
/// tests, and `cargo test --test aot` alone does not build it. The cases run it through a
/// link named `rbt` (see [`as_rbt`]).
fn rbt_run() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let rbt = PathBuf::from(env!("CARGO_BIN_EXE_rbt"));
            let dir = rbt.parent().expect("rbt's directory");
            let ok = Command::new(env!("CARGO"))
                .args(["build", "-p", "rbt-run"])
                .env(
                    "CARGO_TARGET_DIR",
                    dir.parent().expect("the target directory"),
                )
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("run cargo build -p rbt-run");
            assert!(ok.success(), "cargo build -p rbt-run failed");
            dir.join("rbt-run")
        })
        .clone()
}

/// The shell words of `args` as `sh` splits them.
fn words(args: &str) -> Vec<String> {
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s\\0' {args}"))
        .output()
        .expect("run sh");
    assert!(o.status.success(), "cannot split {args}");
    String::from_utf8_lossy(&o.stdout)
        .split_terminator('\0')
        .map(String::from)
        .collect()
}

/// Quotes a word for `sh`.
fn quote(w: &str) -> String {
    format!("'{}'", w.replace('\'', "'\\''"))
}

/// The arguments of the run of a compiled file: the case's, without the script (`-e PROG`
/// or its file) and the flags that only compiling reads. The script's named options after
/// `--` stay: they are read when the file runs.
fn run_args(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = words.iter();
    let mut script_seen = words.iter().any(|w| w == "-e");
    let mut after_dashes = false;
    while let Some(w) = it.next() {
        if after_dashes {
            out.push(w.clone());
            continue;
        }
        match w.as_str() {
            "--" => {
                after_dashes = true;
                out.push(w.clone());
            }
            "-e"
            | "--probe-filter"
            | "-I"
            | "--include"
            | "--debuginfo"
            | "--traceable-functions" => {
                it.next();
            }
            "--unsafe" | "--no-warnings" | "--usdt-file-activation" => {}
            // `-k`, `-kk`: compiling reads them.
            k if k
                .strip_prefix('-')
                .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b == b'k')) => {}
            "-f" | "-o" | "-c" | "-p" | "-B" => {
                out.push(w.clone());
                out.extend(it.next().cloned());
            }
            flag if flag.starts_with('-') && flag.len() > 1 && flag.parse::<i64>().is_err() => {
                out.push(w.clone())
            }
            _ if !script_seen => script_seen = true,
            _ => out.push(w.clone()),
        }
    }
    out
}

/// Whether the case runs a script (rather than listing probes or asking for help).
fn runs_a_script(words: &[String]) -> bool {
    !words
        .iter()
        .any(|w| w == "--help" || (w.starts_with("-l") && !w.starts_with("--")) || w == "--list")
}

/// A link to `rbt-run` named `rbt` in `dir`: some cases print the tracer's own `comm`,
/// which is the name of the file it was started as.
fn as_rbt(dir: &std::path::Path) -> PathBuf {
    let link = dir.join("rbt");
    std::os::unix::fs::symlink(rbt_run(), &link).expect("link rbt-run as rbt");
    link
}

#[test]
#[ignore = "needs root"]
fn compiled_cases_print_what_direct_runs_print() {
    common::require_root();
    let dir = std::env::temp_dir().join(format!("rbt-aot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let runner = as_rbt(&dir);
    let mut failures = Vec::new();
    let mut ran = 0;
    for (i, c) in cases().into_iter().enumerate() {
        // `$$` is the pid of the shell that runs rbt directly (it execs rbt): a value of
        // the run that compiling cannot know.
        if c.args.contains("$$") {
            continue;
        }
        let w = words(&c.args);
        if !runs_a_script(&w) {
            continue;
        }
        let file = dir.join(format!("case{i}.rbt"));
        let file = file.to_string_lossy().into_owned();
        let compile = Command::new(env!("CARGO_BIN_EXE_rbt"))
            .arg("--aot")
            .arg(&file)
            .args(&w)
            .output()
            .expect("run rbt --aot");
        if !compile.status.success() {
            // A script rbt refuses is refused when compiling, as when running directly.
            if c.status == 0 {
                failures.push(format!(
                    "case `{}`: rbt --aot failed:\n{}",
                    c.name,
                    String::from_utf8_lossy(&compile.stderr)
                ));
            }
            continue;
        }
        let args: Vec<String> = run_args(&w).iter().map(|a| quote(a)).collect();
        let command = format!("{} {} {}", runner.display(), quote(&file), args.join(" "));
        let (status, out, err) = run_case(&c, &command);
        ran += 1;
        if status != c.status || out != c.stdout {
            failures.push(format!(
                "case `{}` ({command}): status {status} (want {}), stdout:\n{out}\n--- want:\n{}\n--- stderr:\n{err}",
                c.name, c.status, c.stdout
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ran > 50, "only {ran} cases ran compiled");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Compiles `BEGIN { exit(); }` into a fresh file and returns its bytes.
fn compiled_bytes(dir: &std::path::Path) -> Vec<u8> {
    let file = dir.join("good.rbt");
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .arg("--aot")
        .arg(&file)
        .args(["-e", "BEGIN { printf(\"ok\\n\"); exit(); }"])
        .output()
        .expect("run rbt --aot");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(&file).expect("compiled file")
}

/// Damaged and foreign files get one line on stderr and a failing status from both
/// binaries, never a panic. (Compiling needs no root; nothing here loads BPF.)
#[test]
fn bad_files_are_refused_in_one_line() {
    let dir = std::env::temp_dir().join(format!("rbt-aot-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = compiled_bytes(&dir);
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    // The file starts with a `#!` line, then the magic.
    let magic = good
        .windows(8)
        .position(|w| w == b"\x7fRBTAOT\n")
        .expect("the magic");
    assert!(good.starts_with(b"#!"));
    let mut other_format = good.clone();
    other_format[magic + 8] = 99;
    let mut other_rbt = good.clone();
    // The version string follows the 8-byte magic, the u32 format and its u16 length.
    other_rbt[magic + 14] = b'7';
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("truncated", good[..good.len() - 3].to_vec(), "truncated"),
        (
            "cut after its #! line",
            good[..magic + 3].to_vec(),
            "truncated",
        ),
        ("corrupted", flipped, "corrupted"),
        ("other format", other_format, "file format 99"),
        (
            "wrong magic",
            b"\x7fRBTXXX\nrest".to_vec(),
            "not a compiled rbt script",
        ),
        ("other rbt", other_rbt, "corrupted"),
    ];
    for (what, bytes, want) in cases {
        let file = dir.join("bad.rbt");
        std::fs::write(&file, &bytes).expect("write");
        for bin in [rbt_run(), PathBuf::from(env!("CARGO_BIN_EXE_rbt"))] {
            let o = Command::new(&bin).arg(&file).output().expect("run");
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(
                o.status.code(),
                Some(1),
                "{what} with {}: {err}",
                bin.display()
            );
            assert_eq!(err.lines().count(), 1, "{what}: {err}");
            assert!(err.contains(want), "{what}: {err}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `$N`, `$#` and `cpid` are read when the file runs: one file, runs with other parameters
/// and commands, each printing its own.
#[test]
#[ignore = "needs root"]
fn one_file_serves_runs_with_other_parameters() {
    common::require_root();
    let dir = std::env::temp_dir().join(format!("rbt-aot-params-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("params.rbt");
    // Built first, so that the file's `#!` line names it.
    let rbt_run = rbt_run();
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .arg("--aot")
        .arg(&file)
        .args([
            "-c",
            "true",
            "-e",
            "BEGIN { printf(\"%d %s %d %d\\n\", $1 * 2, $2, $#, cpid > 0); exit(); }",
            "1",
            "a",
        ])
        .output()
        .expect("run rbt --aot");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (args, want) in [
        (&["21", "xyz", "3"][..], "42 xyz 3 0\n"),
        (&["-c", "sleep 0.1", "5", "b"][..], "10 b 2 1\n"),
    ] {
        let o = Command::new(&rbt_run)
            .args(
                args.iter()
                    .filter(|a| a.starts_with('-') || a.contains(' ')),
            )
            .arg(&file)
            .args(
                args.iter()
                    .filter(|a| !a.starts_with('-') && !a.contains(' ')),
            )
            .output()
            .expect("run rbt-run");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(out.lines().next(), want.lines().next(), "{args:?}: {out}");
    }
    // The file is executable: its `#!` line names the rbt-run beside rbt.
    let o = Command::new(&file)
        .args(["4", "run"])
        .output()
        .expect("run the compiled file");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().next(),
        Some("8 run 2 0")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A parameter compiled into an attach point fixes it: a run with another one is refused
/// before anything is loaded.
#[test]
fn compiled_in_parameters_must_match() {
    let dir = std::env::temp_dir().join(format!("rbt-aot-fixed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("fixed.rbt");
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .arg("--aot")
        .arg(&file)
        .args(["-e", "interval:ms:$1 { exit(); }", "100"])
        .output()
        .expect("run rbt --aot");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(rbt_run())
        .arg(&file)
        .arg("200")
        .output()
        .expect("run rbt-run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("[\"100\"]") && err.contains("[\"200\"]"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `getopt()` options are read when the file runs (bpftrace's aot runs them so too); `--help`
/// lists them and an undeclared one is refused.
#[test]
#[ignore = "needs root"]
fn program_options_are_read_when_the_file_runs() {
    common::require_root();
    let dir = std::env::temp_dir().join(format!("rbt-aot-opts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("opts.rbt");
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .arg("--aot")
        .arg(&file)
        .args([
            "-e",
            "BEGIN { print((getopt(\"aa\", 10), getopt(\"cc\", true), getopt(\"dd\"), getopt(\"ee\", \"hello\"))); exit(); }",
        ])
        .output()
        .expect("run rbt --aot");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = |args: &[&str]| {
        Command::new(rbt_run())
            .arg(&file)
            .arg("--")
            .args(args)
            .output()
            .expect("run rbt-run")
    };
    let o = run(&["--dd", "--aa=20", "--cc=False", "--ee=bye"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().next(),
        Some("(20, false, true, bye)")
    );
    let o = run(&[]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().next(),
        Some("(10, true, false, hello)")
    );
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--aa"));
    let o = run(&["--zz"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("unexpected program command line options: --zz"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The seed scripts compile to files that `rbt-run --dry-run` loads (the verifier judges
/// every program; kprobe programs load on kernels that cannot attach them).
#[test]
#[ignore = "needs root"]
fn seed_scripts_compile_and_load() {
    common::require_root();
    let dir = std::env::temp_dir().join(format!("rbt-aot-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for s in SEED_SCRIPTS {
        let path = format!("{}/scripts/{s}.bt", env!("CARGO_MANIFEST_DIR"));
        let file = dir.join(format!("{s}.rbt"));
        let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
            .arg("--aot")
            .arg(&file)
            .arg(&path)
            .output()
            .expect("run rbt --aot");
        assert!(
            o.status.success(),
            "{s}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = Command::new(rbt_run())
            .arg("--dry-run")
            .arg(&file)
            .output()
            .expect("run rbt-run");
        assert!(
            o.status.success(),
            "{s}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

//! Tier 4: the same scripts through bpftrace and through rbt; stdout must be identical.
//! `scripts.bt` runs through Debian's bpftrace 0.17 (the 0.17-era language every old script
//! uses), with [`normalize`] taking out of both what bpftrace 0.27, the spec, changed on purpose;
//! `scripts-0.27.bt` runs through the bpftrace 0.27.1 oracle (`../shared/oracle`) in today's
//! language. BEGIN-only scripts make the events deterministic. Needs root and the tracers, so
//! the tests are `#[ignore]`d: run-tests.sh runs them as root with `--include-ignored` (the
//! 0.27.1 one only where the oracle is present, saying so otherwise).

use std::process::Command;

/// Scripts whose output bpftrace's behaviour specifies, one per line in the fixture.
const SCRIPTS: &str = include_str!("differential/scripts.bt");

/// Scripts in today's language, checked against bpftrace 0.27.1.
const SCRIPTS_0_27: &str = include_str!("differential/scripts-0.27.bt");

/// The bpftrace 0.27.1 oracle: `$RBT_ORACLE`, else `../shared/oracle/bpftrace` beside the
/// repository. It is a wrapper around a Debian sid chroot that builds itself on first use.
fn oracle() -> String {
    if let Ok(path) = std::env::var("RBT_ORACLE") {
        return path;
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/oracle/bpftrace");
    assert!(
        std::path::Path::new(path).exists(),
        "the bpftrace 0.27.1 oracle is not at {path}: set RBT_ORACLE to its wrapper \
         (run-tests.sh leaves this test out when there is none)"
    );
    path.to_string()
}

/// Fails, saying why, unless this runs as root with Debian's bpftrace installed: an ignored
/// test that is asked for must test something or fail, never pass silently.
fn require_root_and_bpftrace() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { geteuid() };
    assert!(
        euid == 0,
        "this test loads BPF programs and needs root: run it as root (run-tests.sh does), \
         or leave out --include-ignored"
    );
    assert!(
        Command::new("bpftrace").arg("--version").output().is_ok(),
        "this test compares with Debian's bpftrace 0.17, which is not installed \
         (apt-get install bpftrace; ci-setup.sh does)"
    );
}

/// Output without what 0.27 changed on purpose: the attach line (0.17: "Attaching N probes..."
/// on stdout before attaching; 0.27: "Attached N probes" on stderr after, and a JSON record with
/// a `count`) and blank lines (0.17 printed them in JSON at exit, after avg and stats maps and
/// for empty maps; 0.27 prints only the pair before the maps at exit). What is left of 0.17's
/// map layout is rewritten into 0.27's by [`modernize`].
fn normalize(out: &str) -> String {
    out.lines()
        .filter(|l| {
            !l.starts_with("Attaching ") && !l.starts_with("{\"type\": \"attached_probes\"")
        })
        .filter(|l| !l.is_empty())
        .map(|l| format!("{}\n", modernize(l)))
        .collect()
}

/// One line of 0.17's map output in 0.27's form: no trailing space after a histogram's name
/// (`@h: `), stats in braces (`@s: count 2, average 15, total 30` becomes
/// `@s: { .count = 2, .average = 15, .total = 30 }`), and no space between the bucket objects
/// of a JSON histogram. rbt's own output is already in that form and passes unchanged.
fn modernize(line: &str) -> String {
    let line = line.trim_end();
    if let Some((name, rest)) = line.split_once(": count ") {
        let fields: Vec<&str> = rest.splitn(3, ", ").collect();
        if let [count, avg, total] = fields[..] {
            if let (Some(avg), Some(total)) =
                (avg.strip_prefix("average "), total.strip_prefix("total "))
            {
                return format!(
                    "{name}: {{ .count = {count}, .average = {avg}, .total = {total} }}"
                );
            }
        }
    }
    if line.starts_with("{\"type\": \"hist\"") {
        return line.replace("}, {\"m", "},{\"m");
    }
    line.to_string()
}

unsafe extern "C" {
    fn geteuid() -> u32;
}

fn run(tool: &str, args: &[&str]) -> (String, i32) {
    let o = Command::new(tool).args(args).output().expect("run tool");
    (shown(&o.stdout), o.status.code().unwrap_or(-1))
}

/// Output as text that keeps every byte apart: bytes that are not UTF-8 are shown as `\xNN`
/// (both tracers write a string's bytes as they are), so that comparing the text compares
/// the bytes.
fn shown(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[test]
#[ignore = "needs root and bpftrace"]
fn same_output_as_bpftrace() {
    require_root_and_bpftrace();
    compare("bpftrace", SCRIPTS);
}

#[test]
#[ignore = "needs root and the bpftrace 0.27.1 oracle"]
fn same_output_as_bpftrace_0_27() {
    require_root_and_bpftrace();
    compare(&oracle(), SCRIPTS_0_27);
}

/// `--fmt` of a script in the layout rbt and bpftrace 0.27.1 share (tests/differential/fmt.bt;
/// where rbt's layout differs on purpose is in lang/src/format.rs and tested in lang's
/// tests/format.rs). The script is copied under the temporary directory, which the oracle's
/// chroot binds at the same path.
#[test]
#[ignore = "needs root and the bpftrace 0.27.1 oracle"]
fn fmt_same_output_as_bpftrace_0_27() {
    require_root_and_bpftrace();
    let path = std::env::temp_dir().join(format!("rbt-fmt-{}.bt", std::process::id()));
    std::fs::write(&path, include_str!("differential/fmt.bt")).expect("write the script");
    let path_arg = path.to_string_lossy().into_owned();
    let (want, want_code) = run(&oracle(), &["--fmt", &path_arg]);
    let (got, got_code) = run(env!("CARGO_BIN_EXE_rbt"), &["--fmt", &path_arg]);
    let _ = std::fs::remove_file(&path);
    assert_eq!((want_code, got_code), (0, 0), "{want}\n{got}");
    assert!(want.lines().count() > 30, "{want}");
    assert_eq!(want, got);
}

/// `--test -f json`: one result record per `test:` probe, as 0.27 gives them (without the
/// timing): a test fails on a non-zero return value (also from inside a loop), an
/// `errorf()` or a non-zero `exit()`, its output is kept as text, and the run exits 1. And
/// `errorf()`/`warnf()` of a plain run are JSON records on stdout.
#[test]
#[ignore = "needs root and the bpftrace 0.27.1 oracle"]
fn test_probes_same_results_as_bpftrace_0_27() {
    require_root_and_bpftrace();
    let script = r#"
        test:returns_one { return 1; }
        test:prints { printf("hello %d\n", 42); @m[1] = 2; print(@m); }
        test:reports { errorf("bad %d", 3); }
        test:returns_zero { $x = 1; return $x - 1; }
        test:returns_in_loop { for ($i : 0..5) { if ($i == 3) { return $i; } } }
        test:zero_in_loop { for ($i : 0..5) { if ($i == 3) { return 0; } } return 7; }
        test:exits { exit(2); }
    "#;
    let records = |out: &str| -> Vec<serde_json::Value> {
        out.lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).expect("a JSON record");
                for (_, test) in v["data"].as_object_mut().expect("a data object").iter_mut() {
                    test.as_object_mut().expect("a test").remove("duration");
                }
                v
            })
            .collect()
    };
    let args = ["--test", "-f", "json", "-e", script];
    let (want, want_code) = run(&oracle(), &args);
    let (got, got_code) = run(env!("CARGO_BIN_EXE_rbt"), &args);
    assert_eq!(records(&want).len(), 7, "{want}");
    assert_eq!(records(&want), records(&got), "{want}\n{got}");
    assert_eq!((want_code, got_code), (1, 1));
    let args = [
        "-f",
        "json",
        "-e",
        "BEGIN { errorf(\"oops %d\", 5); warnf(\"w %s\", \"x\"); exit(); }",
    ];
    let (want, _) = run(&oracle(), &args);
    let (got, _) = run(env!("CARGO_BIN_EXE_rbt"), &args);
    assert!(want.contains("\"errorf\""), "{want}");
    assert_eq!(want, got);
}

/// A script that imports a file (which imports another) and a directory, in a temporary
/// directory (which the oracle's chroot binds at the same path), run from another directory:
/// the same output, the imported probe first.
#[test]
#[ignore = "needs root and the bpftrace 0.27.1 oracle"]
fn imports_same_output_as_bpftrace_0_27() {
    require_root_and_bpftrace();
    let dir = std::env::temp_dir().join(format!("rbt-imports-diff-{}", std::process::id()));
    let files = [
        (
            "lib/util.bt",
            "import \"lib/more.bt\";\nmacro twice(x) { x * 2 }\nBEGIN { printf(\"library\\n\"); }\n",
        ),
        ("lib/more.bt", "macro thrice(x) { x * 3 }\nlet @counts = hash(10);\n"),
        ("macros/a.bt", "macro plus1(x) { x + 1 }\n"),
        ("macros/b.bt", "macro plus2(x) { x + 2 }\n"),
        (
            "main.bt",
            "import \"lib/util.bt\";\nimport \"macros\";\nBEGIN { @counts[1] = twice(thrice(plus1(plus2(1)))); exit(); }\n",
        ),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("mkdir");
        std::fs::write(path, text).expect("write a script");
    }
    let main = dir.join("main.bt").to_string_lossy().into_owned();
    let (want, want_code) = run(&oracle(), &[&main]);
    let (got, got_code) = run(env!("CARGO_BIN_EXE_rbt"), &[&main]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!((want_code, got_code), (0, 0), "{want}\n{got}");
    assert!(
        want.contains("library") && want.contains("@counts[1]: 24"),
        "{want}"
    );
    assert_eq!(normalize(&want), normalize(&got));
}

/// The tools bpftrace 0.27.1 installs (`/usr/sbin/*.bt` of the oracle's chroot, written in
/// 0.27's idiom for kernels like this host's) load with `rbt --dry-run`: parsed, checked,
/// compiled and accepted by this kernel's verifier. A kprobe this host lacks is a warning
/// there (README, "--dry-run"), so the kprobe tools are checked too.
#[test]
#[ignore = "needs root and the bpftrace 0.27.1 oracle"]
fn tools_of_bpftrace_0_27_load_with_dry_run() {
    require_root_and_bpftrace();
    // The wrapper builds the chroot on first use.
    assert_eq!(
        run(&oracle(), &["--version"]).1,
        0,
        "the oracle does not run"
    );
    let root = std::env::var("RBT_ORACLE_DIR").unwrap_or("/var/cache/rbt-oracle/sid".into());
    let sbin = std::path::Path::new(&root).join("usr/sbin");
    let mut tools: Vec<_> = std::fs::read_dir(&sbin)
        .unwrap_or_else(|e| panic!("{}: {e}", sbin.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "bt"))
        .collect();
    tools.sort();
    assert!(
        tools.len() >= 39,
        "only {} tools in {}",
        tools.len(),
        sbin.display()
    );
    let failures: Vec<String> = tools
        .iter()
        .filter_map(|tool| {
            let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
                .arg("--dry-run")
                .arg(tool)
                .output()
                .expect("run rbt");
            (!o.status.success()).then(|| {
                format!(
                    "{}:\n{}",
                    tool.display(),
                    String::from_utf8_lossy(&o.stderr)
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs every script of `scripts` through `tracer` and rbt, in text and JSON, and fails with
/// each difference.
fn compare(tracer: &str, scripts: &str) {
    let mut failures = Vec::new();
    let mut count = 0;
    for line in scripts
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (line, formats): (&str, &[&str]) = match line.strip_prefix("text-only: ") {
            Some(script) => (script, &["text"]),
            None => (line, &["text", "json"]),
        };
        for &format in formats {
            let args = ["-f", format, "-e", line];
            let (want, _) = run(tracer, &args);
            let (got, _) = run(env!("CARGO_BIN_EXE_rbt"), &args);
            let (want, got) = (normalize(&want), normalize(&got));
            count += 1;
            if want != got {
                failures.push(format!(
                    "-f {format} -e '{line}'\n--- {tracer}:\n{want}--- rbt:\n{got}"
                ));
            }
        }
    }
    assert!(count > 0);
    assert!(
        failures.is_empty(),
        "{} of {count} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

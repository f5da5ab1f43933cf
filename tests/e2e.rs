//! Tier 2: end-to-end runs of the real `rbt` binary against this kernel, driven by
//! `tests/e2e/cases.txt`, plus the `--dry-run` of every seed script and the parse-error
//! contract and the CLI's refusal of unknown option values. Tests that load BPF need root and
//! are `#[ignore = "needs root"]`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Tests that load BPF are `#[ignore = "needs root"]`, so a plain `cargo test` lists them as
/// skipped; run-tests.sh runs them as root with `--include-ignored`. Run without root, they
/// fail here, saying why, rather than pass without testing anything.
fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc_geteuid() };
    assert!(
        euid == 0,
        "this test loads BPF programs and needs root: run it as root (run-tests.sh does), \
         or leave out --include-ignored"
    );
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[path = "e2e/cases.rs"]
mod cases;
use cases::{cases, run_case, target_binary, target_binary_no_pie, SEED_SCRIPTS};

#[test]
#[ignore = "needs root"]
fn end_to_end_cases() {
    require_root();
    let mut failures = Vec::new();
    for c in cases() {
        let (status, out, err) = run_case(&c, &format!("{} {}", env!("CARGO_BIN_EXE_rbt"), c.args));
        if status != c.status || out != c.stdout {
            failures.push(format!(
                "case `{}`: status {status} (want {}), stdout:\n{out}\n--- want:\n{}\n--- stderr:\n{err}",
                c.name, c.status, c.stdout
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
#[ignore = "needs root"]
fn seed_scripts_load_with_dry_run() {
    require_root();
    for s in SEED_SCRIPTS {
        let path = format!("{}/scripts/{s}.bt", env!("CARGO_MANIFEST_DIR"));
        let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
            .arg("--dry-run")
            .arg(&path)
            .output()
            .expect("run rbt");
        assert!(
            o.status.success(),
            "{s}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
#[ignore = "needs root"]
fn kprobes_missing_is_explained() {
    require_root();
    if std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists() {
        eprintln!("kprobes_missing_is_explained: nothing to check, this kernel has kprobes");
        return;
    }
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .arg("scripts/key_pressed.bt")
        .output()
        .expect("run rbt");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("built without kprobes"), "{err}");
    assert!(err.contains("--dry-run"), "{err}");
}

#[test]
fn parse_error_points_at_the_token() {
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["-e", "kprobe:f { $x = ; }"])
        .output()
        .expect("run rbt");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("stdin:1:17"), "{err}");
    assert!(err.contains("kprobe:f { $x = ; }"), "{err}");
    assert!(err.contains('^'), "{err}");
}

/// An unknown flag is named and the usage follows under bpftrace's `USAGE:` heading; the long
/// spellings bpftrace has (`--cmd`, `--list`, …) are accepted.
#[test]
fn bad_flag_shows_usage() {
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .arg("-idonotexist")
        .output()
        .expect("run rbt");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("unexpected argument '-i'"), "{err}");
    assert!(err.lines().any(|l| l == "USAGE:"), "{err}");
    assert_eq!(err.matches("For more information").count(), 1, "{err}");
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args([
            "--cmd",
            "true",
            "--quiet",
            "--check",
            "-e",
            "BEGIN { exit(); }",
        ])
        .output()
        .expect("run rbt");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `-d`, `-f` and `-B` take one of a fixed set of names; clap refuses any other before rbt
/// reads the script (here: a file that does not exist), listing the names it accepts.
#[test]
fn unknown_option_values_are_refused_first() {
    // clap names a flag by its long name when it has one (`-d` is `--debug`).
    for (flag, shown, value, names) in [
        (
            "-d",
            "--debug",
            "ats",
            "[possible values: ast, hir, llvm, asm, manifest]",
        ),
        ("-f", "-f", "yaml", "[possible values: text, json]"),
        ("-B", "-B", "half", "[possible values: line, full, none]"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
            .args([flag, value, "/nonexistent/rbt-script.bt"])
            .output()
            .expect("run rbt");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(
            err.contains(&format!("invalid value '{value}' for '{shown} <")),
            "{err}"
        );
        assert!(err.contains(names), "{err}");
        assert!(!err.contains("cannot read"), "{err}");
    }
}

#[test]
#[ignore = "needs root"]
fn unknown_probes_suggest_real_names() {
    require_root();
    let target = target_binary();
    let cases = [
        (
            vec![
                "-e".to_string(),
                "tracepoint:syscalls:sys_enter_opnat { }".to_string(),
            ],
            "sys_enter_openat",
        ),
        // --dry-run keeps kprobes checkable on kernels without them; the name is still checked.
        (
            vec![
                "--dry-run".to_string(),
                "-e".to_string(),
                "kprobe:tcp_conect { }".to_string(),
            ],
            "tcp_connect",
        ),
        (
            vec![
                "-e".to_string(),
                format!("uprobe:{target}:rbt_e2e_ad {{ }}"),
            ],
            "rbt_e2e_add",
        ),
        (
            vec!["-e".to_string(), format!("usdt:{target}:rbte2e:tik {{ }}")],
            "tick",
        ),
    ];
    for (args, want) in cases {
        let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
            .args(&args)
            .output()
            .expect("run rbt");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("did you mean `{want}`?")),
            "{args:?}: {err}"
        );
    }
}

#[test]
#[ignore = "needs root"]
fn full_maps_are_reported() {
    require_root();
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .env("BPFTRACE_MAP_KEYS_MAX", "4")
        .args([
            "-e",
            "BEGIN { @[1] = 1; @[2] = 2; @[3] = 3; @[4] = 4; @[5] = 5; @[6] = 6; exit(); }",
        ])
        .output()
        .expect("run rbt");
    let err = String::from_utf8_lossy(&o.stderr);
    // Each update that found the map full is named, as bpftrace names it.
    assert_eq!(
        err.matches("WARNING: Map full; can't update element.")
            .count(),
        2,
        "{err}"
    );
    assert!(err.contains("stdin:1:59-67: WARNING: Map full"), "{err}");
}

#[test]
#[ignore = "needs root"]
fn config_environment_wins_and_bad_values_fail() {
    require_root();
    // BPFTRACE_* variables take precedence over the script's config block, as in bpftrace.
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .env("BPFTRACE_PRINT_MAPS_ON_EXIT", "0")
        .args([
            "-e",
            "config = { print_maps_on_exit = true } BEGIN { @a = 1; printf(\"x\\n\"); exit(); }",
        ])
        .output()
        .expect("run rbt");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "x\n\n\n");
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .env("BPFTRACE_STACK_MODE", "sideways")
        .args(["-e", "BEGIN { exit(); }"])
        .output()
        .expect("run rbt");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("rbt: error: stack_mode: Invalid value for stack_mode"),
        "{err}"
    );
}

#[test]
#[ignore = "needs root"]
fn verifier_rejection_points_at_the_script_line() {
    require_root();
    // The checker accepts this loop, but `$i` never changes, so the verifier (rightly) finds
    // that it never ends. Its log names line 3 through the object's BTF line info.
    let script = "BEGIN {\n  $i = 0;\n  while ($i < 10) { @x = 1; }\n  exit();\n}";
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["-e", script])
        .output()
        .expect("run rbt");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the BPF verifier refused probe `begin`: infinite loop detected"),
        "{err}"
    );
    assert!(err.contains("stdin:3:3"), "{err}");
    assert!(err.contains("3 │   while ($i < 10) { @x = 1; }"), "{err}");
    assert!(
        err.contains("^^^^^^^^^^^^^^^^^^^^^^^^^^^ the verifier stopped here"),
        "{err}"
    );
    // -v shows the whole log, with the script's text in the line annotations.
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["-v", "-e", script])
        .output()
        .expect("run rbt");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("; while ($i < 10) { @x = 1; } @ stdin:3"),
        "{err}"
    );
    // A log that does not fit in `log_size` explains nothing: the error says what to raise.
    let small = format!("config = {{ log_size = 100 }} {script}");
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["-e", &small])
        .output()
        .expect("run rbt");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("its verifier log did not fit in 100 bytes (raise `log_size`"),
        "{err}"
    );
}

#[test]
#[ignore = "needs root"]
fn loaded_bpf_programs_are_listed_as_fentry_bpf_probes() {
    require_root();
    // Another rbt's programs are BPF programs loaded in the kernel: `-l 'fentry:bpf:…'`
    // lists each by id and function name (attaching to them needs fentry, which this host
    // refuses: that is tested in the VM tier).
    let mut child = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args([
            "-e",
            "interval:ms:100 { printf(\"tick\\n\"); } interval:ms:100 { @b = 1; }",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rbt");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut buf = [0u8; 64];
    let ticked = stdout.read(&mut buf).is_ok_and(|n| n > 0);
    // The ids of the programs the running rbt holds, from its fdinfo.
    let ids: Vec<u32> = std::fs::read_dir(format!("/proc/{}/fdinfo", child.id()))
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter_map(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix("prog_id:"))
                        .and_then(|v| v.trim().parse().ok())
                })
                .collect()
        })
        .unwrap_or_default();
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["-l", "fentry:bpf:*"])
        .output()
        .expect("run rbt -l");
    // A misspelt program function is suggested from the loaded programs' functions.
    let typo = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["--no-cache", "-e", "fentry:bpf:interva_0 { print(probe); }"])
        .output()
        .expect("run rbt");
    // Its functions' arguments are typed from the program's BTF: rbt's programs take `ctx`.
    let typed = |script: &str| {
        Command::new(env!("CARGO_BIN_EXE_rbt"))
            .args(["--check", "-e", script])
            .output()
            .expect("run rbt --check")
    };
    let id = ids.first().copied().unwrap_or(0);
    let args_ok = typed(&format!(
        "fexit:bpf:{id}:interval_0 {{ printf(\"%d\\n\", args.ctx != 0); }}"
    ));
    let args_bad = typed(&format!(
        "fentry:bpf:{id}:interval_0 {{ print(args.nosuch); }}"
    ));
    let _ = child.kill();
    let _ = child.wait();
    assert!(ticked, "the traced rbt never printed");
    let listed = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(ids.len() >= 2, "{ids:?}");
    for id in &ids {
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with(&format!("fentry:bpf:{id}:"))),
            "program {id} is not listed:\n{listed}"
        );
    }
    // Its two interval probes' programs are there by name.
    let intervals = listed
        .lines()
        .filter(|l| {
            ids.iter()
                .any(|id| l.starts_with(&format!("fentry:bpf:{id}:interval_")))
        })
        .count();
    assert_eq!(intervals, 2, "{listed}");
    let typo = String::from_utf8_lossy(&typo.stderr);
    assert!(typo.contains("did you mean `interval_"), "{typo}");
    assert!(
        args_ok.status.success(),
        "{}",
        String::from_utf8_lossy(&args_ok.stderr)
    );
    let bad = String::from_utf8_lossy(&args_bad.stderr);
    assert!(bad.contains("its parameters are: ctx"), "{bad}");
}

#[test]
#[ignore = "needs root"]
fn low_rate_output_appears_without_exit() {
    require_root();
    // printf records do not wake rbt; its timed drain must still show them promptly.
    let mut child = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["-e", "interval:ms:100 { printf(\"tick\\n\"); }"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rbt");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            if seen.contains("tick\n") {
                let _ = tx.send(Instant::now());
                break;
            }
        }
    });
    let start = Instant::now();
    let got = rx.recv_timeout(Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
    let at = got.expect("no tick within 10 s");
    // The first tick fires 100 ms after attaching; allow for a slow, shared machine.
    assert!(at - start < Duration::from_secs(3), "{:?}", at - start);
}

#[test]
#[ignore = "needs root"]
fn debugf_writes_to_the_trace_buffer() {
    require_root();
    let token = format!("rbt-e2e-debugf-{}", std::process::id());
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args([
            "-e",
            &format!("BEGIN {{ debugf(\"{token} %d\", 42); exit(); }}"),
        ])
        .output()
        .expect("run rbt");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The trace file shows the buffer without consuming it, unlike trace_pipe.
    let trace =
        std::fs::read_to_string("/sys/kernel/tracing/trace").expect("read the trace buffer");
    assert!(
        trace.contains(&format!("{token} 42")),
        "{token} 42 not in the trace buffer"
    );
}

#[test]
#[ignore = "needs root"]
fn unprivileged_load_is_explained() {
    require_root();
    // setpriv (util-linux) runs rbt as nobody, without CAP_BPF or CAP_PERFMON.
    let o = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_rbt"))
        .args(["-e", "BEGIN { exit(); }"])
        .output()
        .expect("run setpriv");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("rbt needs root (or CAP_BPF and CAP_PERFMON) to load BPF programs"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
#[ignore = "needs root"]
fn missing_hardware_counters_are_explained() {
    require_root();
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args([
            "-e",
            "hardware:cycles:1000000 { @c = 1; } interval:ms:100 { exit(); } END { clear(@c); }",
        ])
        .output()
        .expect("run rbt");
    let err = String::from_utf8_lossy(&o.stderr);
    // Where the PMU offers cycles the script runs; elsewhere (most VMs) it says why not.
    if !o.status.success() {
        assert!(
            err.contains("hardware event cpu-cycles is not available"),
            "{err}"
        );
    }
}

#[test]
#[ignore = "needs root"]
fn k_warns_about_failed_reads() {
    require_root();
    let script = r#"BEGIN { printf("%d\n", *(uint64*)0); exit(); }"#;
    let run = |k: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rbt"));
        if k {
            cmd.arg("-k");
        }
        cmd.args(["-e", script]).output().expect("run rbt")
    };
    let with = run(true);
    let err = String::from_utf8_lossy(&with.stderr);
    assert!(with.status.success(), "{err}");
    assert!(
        err.contains("stdin:1:24-35: WARNING: Failed to probe_read: "),
        "{err}"
    );
    assert!(
        err.contains(&format!("{script}\n{}~~~~~~~~~~~", " ".repeat(23))),
        "{err}"
    );
    let without = run(false);
    assert!(
        !String::from_utf8_lossy(&without.stderr).contains("WARNING"),
        "a failed read warns only under -k"
    );
}

#[test]
#[ignore = "needs root"]
fn k_warns_about_reads_of_missing_keys() {
    require_root();
    // As bpftrace 0.27.1 words it: in text, a warning naming the map read; in JSON, a
    // helper_error record of map_lookup_elem returning 0. A key that is there stays quiet.
    let script = r#"BEGIN { @[1] = 1; printf("%d %d\n", @[2], @[1]); exit(); }"#;
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rbt"))
            .args(args)
            .args(["-e", script])
            .output()
            .expect("run rbt")
    };
    let text = run(&["-k"]);
    let err = String::from_utf8_lossy(&text.stderr);
    assert!(text.status.success(), "{err}");
    let from = err.find("stdin:").map_or("", |i| &err[i..]);
    assert_eq!(
        from,
        format!(
            "stdin:1:37-41: WARNING: Can't lookup map element because it does not exist.\n\
             Additional Info - helper: map_lookup_elem, retcode: 0\n{script}\n{}~~~~\n",
            " ".repeat(36)
        ),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("0 1\n"));
    let json = run(&["-k", "-f", "json"]);
    let out = String::from_utf8_lossy(&json.stdout);
    assert!(
        out.lines().any(|l| l
            == r#"{"type": "helper_error", "msg": "Success", "helper": "map_lookup_elem", "retcode": 0, "filename": "stdin", "line": 1, "col": 37}"#),
        "{out}"
    );
    let quiet = run(&[]);
    assert!(
        !String::from_utf8_lossy(&quiet.stderr).contains("WARNING"),
        "a missing key warns only under -k"
    );
}

#[test]
#[ignore = "needs root"]
fn info_reports_what_the_kernel_has() {
    require_root();
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .arg("--info")
        .output()
        .expect("run rbt");
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for section in [
        "System",
        "Build",
        "Kernel helpers",
        "Kernel features",
        "Probe types",
    ] {
        assert!(out.lines().any(|l| l == section), "no {section} in:\n{out}");
    }
    // The probed answers agree with what the kernel shows in sysfs.
    let has = |what: &str| std::path::Path::new(what).exists();
    let kprobes = has("/sys/bus/event_source/devices/kprobe");
    assert!(out.contains(&format!(
        "  kprobe: {}\n",
        if kprobes { "yes" } else { "no" }
    )));
    assert!(out.contains(&format!(
        "  btf: {}\n",
        if has("/sys/kernel/btf/vmlinux") {
            "yes"
        } else {
            "no"
        }
    )));
    if !kprobes {
        assert!(out.contains("  kprobe_session: no\n"), "{out}");
    }
}

#[test]
#[ignore = "needs root"]
fn tseries_charts_and_json_follow_a_clock_map() {
    require_root();
    // BPFTRACE_DUMMY_TS_MAP makes the intervals the script's own: avg of 3 and 6 shows 4,
    // empty intervals show `-`, each key starts at its first value, a flat line gets a scale
    // of one either side, and a lone row is shown to the nanosecond (all as bpftrace 0.27.1).
    let script = "BEGIN { @ts = (uint64)1s; @a = tseries(3, 100ms, 4, \"avg\"); \
        @a = tseries(6, 100ms, 4, \"avg\"); @ts = 1100ms; @m[\"x\"] = tseries(-2, 100ms, 4, \"min\"); \
        @m[\"x\"] = tseries(-7, 100ms, 4, \"min\"); @ts = 1300ms; @a = tseries(10, 100ms, 4, \"avg\"); \
        @m[\"y\"] = tseries(8, 100ms, 4, \"min\"); @s = tseries(2, 100ms, 4, \"sum\"); \
        @s = tseries(2, 100ms, 4, \"sum\"); clear(@ts); exit(); }";
    let run = |json: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rbt"));
        cmd.env("BPFTRACE_DUMMY_TS_MAP", "@ts").env("TZ", "UTC");
        if json {
            cmd.args(["-f", "json"]);
        }
        let o = cmd.args(["-e", script]).output().expect("run rbt");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let text = "\n\n@a:
             4                                                  10
hh:mm:ss.ms  |___________________________________________________|
00:00:01.000 *                                                   | 4
00:00:01.100 |                                                   | -
00:00:01.200 |                                                   | -
00:00:01.300 |                                                   * 10
             v___________________________________________________v
             4                                                  10

@m[x]:
             -8                                                 -6
hh:mm:ss.ms  |___________________________________________________|
00:00:01.100 |                         *                         | -7
00:00:01.200 |                                                   | -
00:00:01.300 |                                                   | -
             v___________________________________________________v
             -8                                                 -6

@m[y]:
                   7                                                   9
hh:mm:ss.ns        |___________________________________________________|
00:00:01.300000000 |                         *                         | 8
                   v___________________________________________________v
                   7                                                   9

@s:
                   3                                                   5
hh:mm:ss.ns        |___________________________________________________|
00:00:01.300000000 |                         *                         | 4
                   v___________________________________________________v
                   3                                                   5

";
    assert_eq!(run(false), text);
    let json = r#"{"type": "attached_probes", "count": 1, "data": {"probes": 1}}
{"type": "tseries", "data": {"@a": [{"interval_start":"1970-01-01 00:00:01.000000000","value":4},{"interval_start":"1970-01-01 00:00:01.300000000","value":10}]}}
{"type": "tseries", "data": {"@m": {"x": [{"interval_start":"1970-01-01 00:00:01.100000000","value":-7}], "y": [{"interval_start":"1970-01-01 00:00:01.300000000","value":8}]}}}
{"type": "tseries", "data": {"@s": [{"interval_start":"1970-01-01 00:00:01.300000000","value":4}]}}
"#;
    assert_eq!(run(true), json);
}

/// A uprobe on a function of an ELF object stored in a zip archive (`app.zip!/bin/target`)
/// is placed on the archive file and fires when code runs from the archive's pages
/// (`tests/e2e/zip_call.py` maps the archive and calls the function), as with bpftrace 0.27.
#[test]
#[ignore = "needs root"]
fn uprobe_in_a_zip_member_fires() {
    require_root();
    let zip = format!(
        "{}/rbt-zip-{}.zip",
        env!("CARGO_TARGET_TMPDIR"),
        std::process::id()
    );
    let helper = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/zip_call.py");
    let made = Command::new("python3")
        .args([helper, "make", &zip, &target_binary()])
        .status()
        .expect("run python3");
    assert!(made.success(), "building {zip} failed");
    let case = cases::Case {
        name: "zip".into(),
        args: String::new(),
        trigger: None,
        status: 0,
        stdout: String::new(),
    };
    let command = format!(
        "{} -c '/usr/bin/python3 {helper} call {zip} rbt_e2e_add 7 100' -e 'uprobe:\"{zip}!/bin/target\":rbt_e2e_add {{ printf(\"%d %d %s\\n\", arg0, arg1, probe); exit(); }}'",
        env!("CARGO_BIN_EXE_rbt")
    );
    let (status, out, err) = run_case(&case, &command);
    let _ = std::fs::remove_file(&zip);
    assert_eq!(status, 0, "{err}");
    // The called program prints the sum on stderr, in its own time.
    let want = format!("7 100 uprobe:{zip}!/bin/target:rbt_e2e_add");
    assert!(out.lines().any(|l| l == want), "{out}\n--- stderr:\n{err}");
}

/// With `-p`, a software event samples only the process's threads (bpftrace opens the perf
/// events on the process): every sample of a busy child is the child's.
#[test]
#[ignore = "needs root"]
fn pid_filters_software_events() {
    require_root();
    let mut busy = Command::new("python3")
        .args([
            "-c",
            "import time\nt = time.time()\nwhile time.time() - t < 20: pass",
        ])
        .spawn()
        .expect("run python3");
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["-p", &busy.id().to_string(), "-e"])
        .arg("config = { print_maps_on_exit = false } software:cpu-clock:1000000 { if (pid != $1) { @other = count(); } @n = count(); if (@n == 50) { printf(\"%d\\n\", @other); exit(); } }")
        .arg(busy.id().to_string())
        .output()
        .expect("run rbt");
    let _ = busy.kill();
    let _ = busy.wait();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "0\n\n\n");
}

/// `missing_probes` decides what a kprobe that cannot attach is (no such function, or no
/// kprobes in the kernel at all): `warn` drops it and runs the rest, and a script whose
/// attach points were all dropped has nothing to attach, which is an error.
#[test]
#[ignore = "needs root"]
fn missing_probes_cover_kprobes() {
    require_root();
    let run = |script: &str| {
        Command::new(env!("CARGO_BIN_EXE_rbt"))
            .args(["-e", script])
            .output()
            .expect("run rbt")
    };
    let o = run("config = { missing_probes = warn } kprobe:rbt_no_such_function { probe; printf(\"never\\n\") } BEGIN { printf(\"_%s_\\n\", \"success\"); exit() }");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "_success_\n\n\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("rbt_no_such_function"));
    let o = run("config = { missing_probes = ignore } kprobe:rbt_no_such_function { exit(); } tracepoint:syscalls:rbt_nonsense { exit(); }");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no probes to attach"), "{err}");
}

/// A uprobe offset past the function's end, a function of size 0 (without `--unsafe`), an
/// address in no function and an offset inside an instruction (by name and by address) are
/// refused, each with its own error; the next instruction's offset, or `--unsafe`, loads.
#[test]
#[ignore = "needs root"]
fn uprobe_bounds_are_checked() {
    require_root();
    let t = target_binary_no_pie();
    let rbt = |args: &[&str], script: String| {
        let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
            .args(args)
            .arg("-e")
            .arg(script)
            .output()
            .expect("run rbt");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let insn = elf_symbol(&t, "rbt_e2e_insn");
    let (code, err) = rbt(&[], format!("uprobe:{t}:rbt_e2e_add+100000 {{ exit(); }} uprobe:{t}:_init {{ exit(); }} uprobe:{t}:12 {{ exit(); }} uprobe:{t}:rbt_e2e_insn+3 {{ exit(); }} uprobe:{t}:{:#x} {{ exit(); }}", insn + 4));
    assert_eq!(code, Some(1));
    for want in [
        "offset 100000 is outside function rbt_e2e_add",
        "function _init in",
        "address 0xc is in no function",
        "offset 3 of rbt_e2e_insn in",
        "offset 4 of rbt_e2e_insn in",
        "is inside an instruction (the 10-byte one at offset 0)",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    let (code, err) = rbt(
        &["--dry-run"],
        format!("uprobe:{t}:rbt_e2e_insn+10 {{ exit(); }}"),
    );
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = rbt(
        &["--dry-run", "--unsafe"],
        format!("uprobe:{t}:rbt_e2e_insn+3 {{ exit(); }}"),
    );
    assert_eq!(code, Some(0), "{err}");
}

/// The address of function `name` in the ELF file `path`, from `nm`.
fn elf_symbol(path: &str, name: &str) -> u64 {
    let o = Command::new("nm").arg(path).output().expect("run nm");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            let (addr, _, n) = (f.next()?, f.next()?, f.next()?);
            (n == name)
                .then(|| u64::from_str_radix(addr, 16).ok())
                .flatten()
        })
        .unwrap_or_else(|| panic!("no symbol {name} in {path}"))
}

/// `--traceable-functions FILE` replaces the kernel's list of traceable functions: a kprobe
/// on a kernel function the list leaves out is refused, or with `--unsafe` loaded with a
/// warning; a listed one loads; an unreadable file is an error. `--dry-run` loads without
/// attaching, so this runs on kernels without kprobes too.
#[test]
#[ignore = "needs root"]
fn traceable_functions_file_decides_which_kprobes_load() {
    require_root();
    let list = format!(
        "{}/rbt-traceable-{}",
        env!("CARGO_TARGET_TMPDIR"),
        std::process::id()
    );
    std::fs::write(&list, "vfs_read\n").expect("write the list");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
            .args(["--dry-run", "--no-cache"])
            .args(args)
            .args(["-e", "begin { exit(); } kprobe:vfs_read {}"])
            .output()
            .expect("run rbt");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (status, err) = run(&["--traceable-functions", "/dev/null"]);
    assert_eq!(status, Some(1), "{err}");
    assert!(
        err.contains(
            "error: kprobe:vfs_read cannot attach: vfs_read is not a traceable kernel function"
        ),
        "{err}"
    );
    let (status, err) = run(&["--unsafe", "--traceable-functions", "/dev/null"]);
    assert_eq!(status, Some(0), "{err}");
    assert!(
        err.contains("warning: vfs_read is not a traceable kernel function"),
        "{err}"
    );
    let (status, err) = run(&["--traceable-functions", &list]);
    assert_eq!(status, Some(0), "{err}");
    assert!(!err.contains("traceable"), "{err}");
    let (status, err) = run(&["--traceable-functions", "/nonexistent/rbt-list"]);
    assert_eq!(status, Some(1), "{err}");
    assert!(
        err.contains(
            "cannot read the traceable functions from /nonexistent/rbt-list: No such file or directory\n"
        ),
        "{err}"
    );
    let _ = std::fs::remove_file(&list);
}

/// `-c` runs its command as bpftrace does: the program is looked up in `PATH` before any
/// probe attaches (one exec, whatever `PATH` holds before the right directory; a missing
/// program is an error and nothing runs), and the command does not inherit rbt's gate, so
/// its first file gets descriptor 3.
#[test]
#[ignore = "needs root"]
fn command_is_looked_up_first_and_inherits_no_descriptor() {
    require_root();
    let rbt = |path: &str, cmd: &str, script: &str| {
        Command::new(env!("CARGO_BIN_EXE_rbt"))
            .env("PATH", path)
            .args(["-c", cmd, "-e", script])
            .output()
            .expect("run rbt")
    };
    let path = "/rbt-no-such-dir:/rbt-no-such-dir-2:/usr/bin:/bin";
    let o = rbt(
        path,
        "cat /etc/hostname",
        "config = { print_maps_on_exit = false } tracepoint:syscalls:sys_enter_execve /pid == cpid/ { @execs = count(); } tracepoint:syscalls:sys_exit_openat /pid == cpid && @first == 0 && args.ret >= 0/ { @first = 1; @fd = args.ret; } END { printf(\"%d %d\\n\", @execs, @fd); }",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.lines().any(|l| l == "1 3"), "{out}");
    let o = rbt(
        path,
        "rbt-no-such-command x",
        "BEGIN { printf(\"ran\\n\"); }",
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`rbt-no-such-command` is not an executable file in any PATH directory"),
        "{err}"
    );
}

/// A pointer cast to a struct pointer keeps its address space, and an integer cast reads the
/// probe kind's own space, as in bpftrace 0.27: `(struct task_struct *)curtask` reads the
/// kernel in a syscall tracepoint (whose arguments are user pointers) and in a uprobe.
#[test]
#[ignore = "needs root"]
fn casts_keep_the_address_space_of_pointers() {
    require_root();
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["-c", "cat /etc/hostname", "-e"])
        .arg("tracepoint:syscalls:sys_enter_openat /pid == cpid && str(args.filename) == \"/etc/hostname\"/ { $t = (struct task_struct *)curtask; $i = (struct task_struct *)(uint64)curtask; $a = (uint64)args.filename; printf(\"%d %d %d [%s] [%s]\\n\", $t->pid == pid, $t->real_parent->pid > 0, $i->pid == pid, str($a), str((int8 *)args.filename)); exit(); }")
        .output()
        .expect("run rbt");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.lines()
            .any(|l| l == "1 1 1 [/etc/hostname] [/etc/hostname]"),
        "{out}"
    );
}

/// `--test` in text: each test's line, a failed test's output before its line, the summary
/// and exit code 1 when one fails; a script of test probes alone, run without `--test`, has
/// nothing to attach and says how to run it.
#[test]
#[ignore = "needs root"]
fn test_probes_report_failures() {
    require_root();
    let rbt = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
            .args(args)
            .output()
            .expect("run rbt");
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        (
            o.status.code(),
            out,
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let script =
        "test:fails { printf(\"why\\n\"); return 3; } test:passes { printf(\"quiet\\n\"); }";
    let (code, out, err) = rbt(&["--test", "-e", script]);
    assert_eq!(code, Some(1), "{out}{err}");
    let lines: Vec<&str> = out
        .lines()
        .map(|l| l.split(" (").next().unwrap_or(l))
        .collect();
    assert_eq!(
        lines,
        [
            "[==========] Running 2 tests.",
            "[ RUN      ] fails",
            "why",
            "[  FAILED  ] fails",
            "[ RUN      ] passes",
            "[       OK ] passes",
            "[==========] 2 tests ran.",
            "[  PASSED  ] 1 test.",
            "[  FAILED  ] 1 test, listed below:",
            "[  FAILED  ] fails",
            "",
            "",
        ],
        "{out}"
    );
    let (code, out, err) = rbt(&["-e", script]);
    assert_eq!((code, out.as_str()), (Some(1), ""));
    assert!(
        err.contains("only test: probes; run them with --test"),
        "{err}"
    );
}

/// `-p PID` ends the run when that process exits (END runs), as bpftrace's does, and a PID
/// that names no process is an error before anything is attached.
#[test]
#[ignore = "needs root"]
fn pid_run_ends_with_the_process() {
    require_root();
    let mut sleeper = Command::new("sleep").arg("1").spawn().expect("run sleep");
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["-p", &sleeper.id().to_string(), "-e"])
        .arg("interval:ms:100 { @ticks = count(); } END { printf(\"end\\n\"); clear(@ticks); }")
        .output()
        .expect("run rbt");
    let _ = sleeper.wait();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().next(),
        Some("end")
    );
    // Process ids are below pid_max, so pid_max itself names no process.
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max").expect("read pid_max");
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["-p", pid_max.trim(), "-e", "interval:ms:100 { exit(); }"])
        .output()
        .expect("run rbt");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("cannot watch process {}", pid_max.trim())),
        "{err}"
    );
}

/// A uprobe or usdt target that is a wildcard without a directory (`uprobe:*:f`,
/// `-l 'usdt:*'`) stands for the executables of PATH whose paths match, as in bpftrace 0.27:
/// only ELF files with an execute bit, and a file reached through two PATH directories (a
/// linked directory) once, so that one call fires the probe once.
#[test]
#[ignore = "needs root"]
fn wildcard_targets_without_a_directory_are_path_executables() {
    use std::os::unix::fs::PermissionsExt;
    require_root();
    let root = format!(
        "{}/rbt-path-{}",
        env!("CARGO_TARGET_TMPDIR"),
        std::process::id()
    );
    let (dir, linked) = (format!("{root}/bin"), format!("{root}/linked"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::os::unix::fs::symlink(&dir, &linked).expect("symlink");
    let exe = format!("{dir}/rbt-wild");
    std::fs::copy(target_binary(), &exe).expect("copy the target");
    // The same ELF file without an execute bit, and an executable that is not ELF: neither
    // is a target.
    let plain = format!("{dir}/rbt-wild-plain");
    std::fs::copy(target_binary(), &plain).expect("copy the target");
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let script = format!("{dir}/rbt-wild-sh");
    std::fs::write(&script, "#!/bin/sh\n").expect("write a script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!("{dir}:{linked}:/usr/bin:/bin");
    let rbt = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rbt"))
            .env("PATH", &path)
            .args(args)
            .output()
            .expect("run rbt")
    };
    let listed = rbt(&["-l", "uprobe:*wild*:rbt_e2e_add"]);
    let usdt = rbt(&["-l", "usdt:*wild*"]);
    let counted = rbt(&[
        "-c",
        &format!("{exe} 3"),
        "-e",
        "uprobe:*rbt-wild*:rbt_e2e_add { @[probe] = count(); }",
    ]);
    // An empty target names no file; without -p that is an error saying what to write.
    let empty = rbt(&["-e", "usdt::rbte2e:tick { }"]);
    let _ = std::fs::remove_dir_all(&root);
    let said = String::from_utf8_lossy(&empty.stderr);
    assert!(
        !empty.status.success() && said.contains("`*` for every executable in PATH"),
        "{said}"
    );
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        format!("uprobe:{exe}:rbt_e2e_add\n"),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let usdt = String::from_utf8_lossy(&usdt.stdout);
    assert!(
        usdt.contains(&format!("usdt:{exe}:rbte2e:tick\n")),
        "{usdt}"
    );
    assert!(
        usdt.lines().all(|l| l.starts_with(&format!("usdt:{exe}:"))),
        "{usdt}"
    );
    let out = String::from_utf8_lossy(&counted.stdout);
    assert!(
        counted.status.success(),
        "{}",
        String::from_utf8_lossy(&counted.stderr)
    );
    assert_eq!(out.trim(), format!("@[uprobe:{exe}:rbt_e2e_add]: 3"));
}

/// `--no-feature uprobe_multi` compiles a wildcard uprobe as one uprobe per match, where
/// the kernel (6.6+) would take one uprobe_multi link; it still fires for each call.
#[test]
#[ignore = "needs root"]
fn no_feature_turns_off_uprobe_multi() {
    require_root();
    // Other tests run the same binary meanwhile: count the calls of this run's command only.
    let script = format!(
        "uprobe:{}:rbt_e2e_* /pid == cpid/ {{ @ = count(); }}",
        target_binary()
    );
    let manifest = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
            .args(extra)
            .args(["-d", "manifest", "-e", &script])
            .output()
            .expect("run rbt");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    if !manifest(&[]).contains("\"multi\": true") {
        eprintln!("skipped: this kernel has no uprobe_multi links to turn off");
        return;
    }
    let without = manifest(&["--no-feature", "kprobe_session,uprobe_multi"]);
    assert!(without.contains("\"multi\": false"), "{without}");
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(["--no-feature", "uprobe_multi", "-e", &script, "-c"])
        .arg(format!("{} 2", target_binary()))
        .output()
        .expect("run rbt");
    // rbt_e2e_pairs once, rbt_e2e_add twice.
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "@: 3",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

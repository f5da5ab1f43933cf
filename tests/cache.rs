//! Tier 2 for the compile cache (`src/cache.rs`): a second run of the same script hits the
//! cache and prints what the first printed, with the run's own parameters and command; a
//! changed script or included file misses; a damaged entry is rebuilt; a cache that cannot
//! be written, or `--no-cache`, leaves a run as it was. Each test points `XDG_CACHE_HOME` at
//! its own directory. They load BPF, so they need root and are `#[ignore = "needs root"]`.

mod common;

use common::{lines_of, require_root, wait_for, wait_for_line};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A fresh directory for one test's files and cache, under cargo's temporary directory for
/// tests (`target/tmp`), so that runs leave nothing in the system's `/tmp`.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rbt-cache-test-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test directory");
    dir
}

/// Runs `rbt` (or `bin`) with `args`, its cache under `cache_home`.
fn run_with(bin: &Path, cache_home: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .env("XDG_CACHE_HOME", cache_home)
        .env_remove("__BPFTRACE_NOTIFY_PROBES_ATTACHED")
        .stdin(Stdio::null())
        .output()
        .expect("run rbt")
}

fn run(cache_home: &Path, args: &[&str]) -> Output {
    run_with(Path::new(env!("CARGO_BIN_EXE_rbt")), cache_home, args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What `-v` said about the cache: `hit` or `miss`, and the whole line.
fn verdict(o: &Output) -> (&'static str, String) {
    let err = stderr(o);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("rbt: compile cache:"))
        .collect();
    assert_eq!(lines.len(), 1, "one cache line wanted on stderr:\n{err}");
    let line = lines[0].to_string();
    let kind = if line.starts_with("rbt: compile cache: hit") {
        "hit"
    } else if line.starts_with("rbt: compile cache: miss") {
        "miss"
    } else {
        panic!("neither a hit nor a miss: {line}")
    };
    (kind, line)
}

/// The files in the cache directory.
fn entries(cache_home: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(cache_home.join("rbt")) {
        Ok(d) => d.map(|e| e.expect("a directory entry").path()).collect(),
        Err(_) => Vec::new(),
    }
}

const PARAMS: &str = r#"BEGIN { printf("n=%d s=%s argc=%d\n", $1, $2, $#); exit(); }"#;

#[test]
#[ignore = "needs root"]
fn second_run_hits_and_takes_new_parameters() {
    require_root();
    let dir = scratch("params");
    let first = run(&dir, &["-v", "-e", PARAMS, "5", "abc"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(verdict(&first).0, "miss");
    assert!(
        verdict(&first).1.contains("stored"),
        "{}",
        verdict(&first).1
    );
    let second = run(&dir, &["-v", "-e", PARAMS, "5", "abc"]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(verdict(&second).0, "hit");
    assert_eq!(stdout(&second), stdout(&first));
    assert!(
        stdout(&first).contains("n=5 s=abc argc=2"),
        "{}",
        stdout(&first)
    );
    // Other parameters are read at run time: still a hit, with the new values.
    let third = run(&dir, &["-v", "-e", PARAMS, "-7", "xyz", "extra"]);
    assert!(third.status.success(), "{}", stderr(&third));
    assert_eq!(verdict(&third).0, "hit");
    assert!(
        stdout(&third).contains("n=-7 s=xyz argc=3"),
        "{}",
        stdout(&third)
    );
    // Without -v, a hit prints exactly what an uncached run prints, on both streams.
    let quiet_hit = run(&dir, &["-e", PARAMS, "1", "q"]);
    let uncached = run(&dir, &["--no-cache", "-e", PARAMS, "1", "q"]);
    assert_eq!(stdout(&quiet_hit), stdout(&uncached));
    assert_eq!(stderr(&quiet_hit), stderr(&uncached));
    assert_eq!(quiet_hit.status.code(), uncached.status.code());
    // A parameter compiled in as a literal (`str($1)`) fixes the entry to its value: other
    // values miss, compile again and print theirs.
    let literal = r#"BEGIN { printf("%s\n", str($1)); exit(); }"#;
    assert_eq!(verdict(&run(&dir, &["-v", "-e", literal, "a"])).0, "miss");
    assert_eq!(verdict(&run(&dir, &["-v", "-e", literal, "a"])).0, "hit");
    let other = run(&dir, &["-v", "-e", literal, "b"]);
    assert_eq!(verdict(&other).0, "miss");
    assert_eq!(stdout(&other).trim_end(), "b");
}

#[test]
#[ignore = "needs root"]
fn a_changed_script_misses() {
    require_root();
    let dir = scratch("script");
    let script = dir.join("s.bt");
    std::fs::write(&script, "BEGIN { printf(\"one\\n\"); exit(); }\n").unwrap();
    let s = script.to_str().unwrap();
    assert_eq!(verdict(&run(&dir, &["-v", s])).0, "miss");
    assert_eq!(verdict(&run(&dir, &["-v", s])).0, "hit");
    std::fs::write(&script, "BEGIN { printf(\"two\\n\"); exit(); }\n").unwrap();
    let changed = run(&dir, &["-v", s]);
    assert_eq!(verdict(&changed).0, "miss");
    assert_eq!(stdout(&changed).trim_end(), "two");
    // A compile-time option is part of the key too.
    assert_eq!(verdict(&run(&dir, &["-v", "-k", s])).0, "miss");
}

#[test]
#[ignore = "needs root"]
fn a_changed_include_misses() {
    require_root();
    let dir = scratch("include");
    let script = dir.join("s.bt");
    let header = dir.join("defs.h");
    std::fs::write(
        &script,
        "#include \"defs.h\"\nBEGIN { printf(\"inc\\n\"); exit(); }\n",
    )
    .unwrap();
    std::fs::write(&header, "/* one */\n").unwrap();
    let s = script.to_str().unwrap();
    assert_eq!(verdict(&run(&dir, &["-v", s])).0, "miss");
    assert_eq!(verdict(&run(&dir, &["-v", s])).0, "hit");
    std::fs::write(&header, "/* two */\n").unwrap();
    let changed = run(&dir, &["-v", s]);
    assert_eq!(verdict(&changed).0, "miss");
    assert_eq!(stdout(&changed).trim_end(), "inc");
    assert_eq!(verdict(&run(&dir, &["-v", s])).0, "hit");
    // A header that disappears is the compile's error again, not a stale hit.
    std::fs::remove_file(&header).unwrap();
    let gone = run(&dir, &["-v", s]);
    assert!(!gone.status.success(), "{}", stderr(&gone));
}

#[test]
#[ignore = "needs root"]
fn a_damaged_entry_is_rebuilt() {
    require_root();
    let dir = scratch("damaged");
    let prog = r#"BEGIN { printf("intact\n"); exit(); }"#;
    let first = run(&dir, &["-v", "-e", prog]);
    assert_eq!(verdict(&first).0, "miss");
    let entry = entries(&dir)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "rbt"))
        .expect("a stored entry");
    let bytes = std::fs::read(&entry).unwrap();
    for damaged in [
        bytes[..bytes.len() / 2].to_vec(),
        b"#!/bin/sh\necho foreign\n".to_vec(),
        {
            let mut b = bytes.clone();
            let mid = b.len() / 2;
            b[mid] ^= 0xff;
            b
        },
    ] {
        std::fs::write(&entry, &damaged).unwrap();
        let rebuilt = run(&dir, &["-v", "-e", prog]);
        assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
        let (kind, line) = verdict(&rebuilt);
        assert_eq!(kind, "miss", "{line}");
        assert!(line.contains("stored"), "{line}");
        assert_eq!(stdout(&rebuilt).trim_end(), "intact");
        assert_eq!(
            std::fs::read(&entry).unwrap(),
            bytes,
            "the entry is overwritten"
        );
        assert_eq!(verdict(&run(&dir, &["-v", "-e", prog])).0, "hit");
    }
}

#[test]
#[ignore = "needs root"]
fn an_unusable_cache_is_skipped_silently() {
    require_root();
    let dir = scratch("unwritable");
    let prog = r#"BEGIN { printf("still runs\n"); exit(); }"#;
    let uncached = run(&dir, &["--no-cache", "-e", prog]);
    // XDG_CACHE_HOME names a file: the cache directory cannot be made.
    let file = dir.join("a-file");
    std::fs::write(&file, "").unwrap();
    // A directory others may write to is not trusted with programs root will load.
    let open = dir.join("open");
    std::fs::create_dir_all(open.join("rbt")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(open.join("rbt"), std::fs::Permissions::from_mode(0o777)).unwrap();
    for home in [&file, &open] {
        for _ in 0..2 {
            let o = run(home, &["-e", prog]);
            assert!(o.status.success(), "{}", stderr(&o));
            assert_eq!(stdout(&o), stdout(&uncached));
            assert_eq!(stderr(&o), stderr(&uncached));
        }
    }
    assert!(entries(&open).is_empty(), "{:?}", entries(&open));
}

#[test]
#[ignore = "needs root"]
fn no_cache_writes_nothing() {
    require_root();
    let dir = scratch("nocache");
    let prog = r#"BEGIN { printf("x\n"); exit(); }"#;
    for _ in 0..2 {
        let o = run(&dir, &["-v", "--no-cache", "-e", prog]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(!stderr(&o).contains("compile cache"), "{}", stderr(&o));
    }
    assert!(!dir.join("rbt").exists());
    // Nor do the modes that compile without running.
    for args in [
        &["--dry-run", "-e", prog][..],
        &["-d", "manifest", "-e", prog][..],
    ] {
        assert!(run(&dir, args).status.success());
    }
    assert!(!dir.join("rbt").exists());
}

/// `-f json`, `-o`, `-q`, the exit code and `-c` (with `cpid`, read at run time) are the
/// same on a hit as on a miss and without the cache.
#[test]
#[ignore = "needs root"]
fn run_flags_behave_alike_on_a_hit() {
    require_root();
    let dir = scratch("flags");
    let prog = r#"tracepoint:sched:sched_process_exit /pid == cpid/ { printf("%s done\n", comm); @n = count(); exit(); }"#;
    let out = dir.join("out.json");
    let o = out.to_str().unwrap();
    let mut seen = Vec::new();
    for flags in [&["--no-cache"][..], &[][..], &[][..]] {
        let mut args = flags.to_vec();
        args.extend(["-f", "json", "-q", "-o", o, "-c", "/bin/true", "-e", prog]);
        let r = run(&dir, &args);
        assert!(r.status.success(), "{}", stderr(&r));
        seen.push((
            stdout(&r),
            stderr(&r),
            std::fs::read_to_string(&out).expect("the -o file"),
        ));
    }
    assert!(seen[0].2.contains("true done"), "{}", seen[0].2);
    assert!(seen[0].2.contains("\"@n\": 1"), "{}", seen[0].2);
    assert_eq!(seen[1], seen[0]);
    assert_eq!(seen[2], seen[0]);
    // An error of the run is rbt's, under rbt's name, hit or not.
    let bad = ["-o", "/nonexistent/dir/out", "-c", "/bin/true", "-e", prog];
    let errs: Vec<(String, Option<i32>)> = (0..2)
        .map(|_| {
            let r = run(&dir, &bad);
            (stderr(&r), r.status.code())
        })
        .collect();
    assert!(
        errs[0].0.starts_with("rbt: error: cannot create"),
        "{}",
        errs[0].0
    );
    assert_eq!(errs[0].1, Some(1));
    assert_eq!(errs[1], errs[0]);
}

/// SIGINT ends a run that hit the cache as it ends any run: END runs and maps print.
#[test]
#[ignore = "needs root"]
fn sigint_ends_a_hit_like_any_run() {
    require_root();
    let dir = scratch("sigint");
    let prog = r#"interval:ms:50 { @ticks = 1; } END { printf("end ran\n"); }"#;
    for expect in ["miss", "hit"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rbt"))
            .args(["-v", "-e", prog])
            .env("XDG_CACHE_HOME", &dir)
            .env(common::NOTIFY, "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run rbt");
        let out = lines_of(child.stdout.take().unwrap());
        let err = lines_of(child.stderr.take().unwrap());
        wait_for_line(&out, "__BPFTRACE_NOTIFY_PROBES_ATTACHED");
        std::thread::sleep(Duration::from_millis(200));
        let pid = child.id().to_string();
        assert!(Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success());
        let status = wait_for(&mut child, Duration::from_secs(20), "after SIGINT");
        assert!(status.success(), "{status:?}");
        // Every line up to the end of the streams (the readers may still be behind).
        let drain = |rx: &std::sync::mpsc::Receiver<String>| -> Vec<String> {
            std::iter::from_fn(|| rx.recv_timeout(Duration::from_secs(10)).ok()).collect()
        };
        let rest = drain(&out);
        assert!(rest.contains(&"end ran".to_string()), "{rest:?}");
        assert!(rest.contains(&"@ticks: 1".to_string()), "{rest:?}");
        let err = drain(&err);
        assert!(
            err.iter()
                .any(|l| l.starts_with(&format!("rbt: compile cache: {expect}"))),
            "{err:?}"
        );
    }
}

/// A hit runs in the front end, `rbt`, without starting the compiler (so LLVM's pages are
/// never mapped); a miss is compiled and run by `rbt-compile`, which calls itself `rbt`. The
/// `-c` command reads which executable its parent, the tracer, is.
#[test]
#[ignore = "needs root"]
fn a_hit_runs_in_the_front_end_and_a_miss_in_the_compiler() {
    require_root();
    let dir = scratch("front");
    let probe = dir.join("parent.sh");
    std::fs::write(
        &probe,
        "#!/bin/sh\nreadlink /proc/$PPID/exe\ncat /proc/$PPID/comm\n",
    )
    .expect("write the -c script");
    std::fs::set_permissions(&probe, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("make the -c script executable");
    let prog = "tracepoint:sched:sched_process_exit /pid == cpid/ { exit(); }";
    let probe = probe.to_str().unwrap();
    for (expect, exe) in [("miss", "rbt-compile"), ("hit", "rbt")] {
        let o = run(&dir, &["-v", "-c", probe, "-e", prog]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(verdict(&o).0, expect);
        let out = stdout(&o);
        let lines: Vec<&str> = out
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with("Attached"))
            .collect();
        assert!(
            lines.len() == 2 && lines[0].ends_with(&format!("/{exe}")) && lines[1] == "rbt",
            "{expect}: {out}"
        );
    }
}

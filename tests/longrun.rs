//! Tier 2: the map guarantees of issue 13's long runs, on the real `rbt` binary (root only):
//! a map of 100,000 keys prints whole, in bounded time, at exit; `print()` under load shows
//! every event counted so far; and `print(@m); clear(@m);` under load reads and empties the
//! map in one pass, so the printed counts add up to what the probes produced.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// Not every helper of the shared module is used here.
#[allow(dead_code)]
mod common;

use common::{require_root, wait_for};

fn rbt() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rbt"));
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs rbt on `script` until it exits (within `limit`); returns stdout and the wall time.
fn run(args: &[&str], limit: Duration) -> (String, Duration) {
    let start = Instant::now();
    let mut child = rbt()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rbt");
    // Read stdout while rbt runs: 100,000 lines do not fit a pipe's buffer.
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).expect("read stdout"));
    let status = wait_for(&mut child, limit, "rbt");
    let elapsed = start.elapsed();
    let out = reader.join().expect("reader thread");
    let err =
        std::io::read_to_string(child.stderr.take().expect("piped stderr")).expect("read stderr");
    assert!(status.success(), "rbt failed: {status}\n{err}");
    assert!(!err.contains("Lost"), "events were lost:\n{err}");
    (out, elapsed)
}

const KEYS: u64 = 100_000;

#[test]
#[ignore = "needs root"]
fn a_map_of_100k_keys_prints_whole_in_bounded_time() {
    require_root();
    // A hash map and a per-CPU one (count()), both read in batches.
    let script = format!(
        "config = {{ max_map_keys = 200000 }}
         BEGIN {{ for $i : 0..{KEYS} {{ @a[$i] = $i * 2; @c[$i] = count(); }} exit(); }}"
    );
    let (out, elapsed) = run(&["-e", &script], Duration::from_secs(60));
    let a: Vec<&str> = out.lines().filter(|l| l.starts_with("@a[")).collect();
    let c: Vec<&str> = out.lines().filter(|l| l.starts_with("@c[")).collect();
    assert_eq!(a.len() as u64, KEYS, "every key of @a prints once");
    assert_eq!(c.len() as u64, KEYS, "every key of @c prints once");
    // Sorted by value, every key with its value.
    for (i, line) in (0..KEYS).zip(&a) {
        assert_eq!(*line, format!("@a[{i}]: {}", i * 2));
    }
    for line in &c {
        assert!(line.ends_with("]: 1"), "{line}");
    }
    // The whole run (load, 200,000 updates, reading and printing both maps) takes well
    // under a second in a release build on a quiet machine (bench/RESULTS.md); the bound
    // leaves room for a debug build on a busy CI machine while still catching a reader that
    // is quadratic in the keys or makes a system call per line.
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

/// Events of the traced command: `dd bs=1` makes exactly one write(2) per byte.
const EVENTS: u64 = 200_000;

fn dd() -> String {
    format!("dd if=/dev/zero of=/dev/null bs=1 count={EVENTS} status=none")
}

/// The values of the lines `@c[1]: N` in `out`, in order.
fn counts(out: &str) -> Vec<u64> {
    out.lines()
        .filter_map(|l| l.strip_prefix("@c[1]: "))
        .map(|n| n.parse().expect("a count"))
        .collect()
}

#[test]
#[ignore = "needs root"]
fn print_under_load_shows_every_event_counted() {
    require_root();
    let script = "tracepoint:syscalls:sys_enter_write /pid == cpid/ { @c[1] = count(); }
                  interval:ms:5 { print(@c); }";
    let (out, _) = run(&["-e", script, "-c", &dd()], Duration::from_secs(120));
    let seen = counts(&out);
    // The periodic prints grow, and the one at exit has every event.
    assert!(seen.len() >= 3, "printed while the command ran: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(seen.last().copied(), Some(EVENTS));
}

#[test]
#[ignore = "needs root"]
fn print_and_clear_under_load_add_up_to_what_was_produced() {
    require_root();
    let script = "tracepoint:syscalls:sys_enter_write /pid == cpid/ { @c[1] = count(); }
                  interval:ms:5 { print(@c); clear(@c); }";
    let (out, _) = run(&["-e", script, "-c", &dd()], Duration::from_secs(120));
    let seen = counts(&out);
    assert!(
        seen.len() >= 3,
        "printed and cleared while the command ran: {seen:?}"
    );
    let total: u64 = seen.iter().sum();
    // Read and delete are one pass under the kernel's bucket lock, but a probe that looked
    // the element up just before may still add to it after it was copied: an update can be
    // lost only in that window of a few hundred nanoseconds per clear, which no user-space
    // reader can close (measured: 0 to 2 of 200,000). Reading and clearing in two passes,
    // as rbt did before and bpftrace 0.27.1 does, lost 0.1 to 0.3 % (0.4 to 5 % for 0.27.1).
    assert!(total <= EVENTS, "counted more than produced: {total}");
    assert!(
        EVENTS - total <= EVENTS / 10_000,
        "lost {} of {EVENTS}: {seen:?}",
        EVENTS - total
    );
}

#[test]
#[ignore = "needs root"]
fn full_per_cpu_maps_are_reported_by_name() {
    require_root();
    // count(), sum() and hist() live in per-CPU hashes; each update site that found its map
    // full is reported once, pointing at the map's name, and what fitted still prints.
    let script = "config = { max_map_keys = 10 }
BEGIN { for $i : 0..20 { @c[$i] = count(); @s[$i] = sum($i); @h[$i] = hist($i); } exit(); }";
    let o = rbt().args(["-e", script]).output().expect("run rbt");
    assert!(o.status.success(), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("WARNING: Map full").count(), 3, "{err}");
    for site in ["@c[$i] = count()", "@s[$i] = sum($i)", "@h[$i] = hist($i)"] {
        let at = script.find(site).expect("site in script");
        // The span of the whole update: 1-based columns on the second line, end exclusive.
        let line_start = script.find('\n').expect("two lines") + 1;
        let from = at - line_start + 1;
        let to = from + site.len();
        assert!(
            err.contains(&format!("stdin:2:{from}-{to}: WARNING: Map full")),
            "{site}: {err}"
        );
    }
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().filter(|l| l.starts_with("@c[")).count(), 10);
    assert_eq!(out.lines().filter(|l| l.starts_with("@s[")).count(), 10);
}

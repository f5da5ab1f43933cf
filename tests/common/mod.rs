//! Helpers shared by the tier-2 tests that drive a running `rbt`: the root check, waiting for
//! its exit, and reading its stdout line by line as it arrives.

use std::io::Read;
use std::io::{BufRead, BufReader};
use std::process::{Child, ExitStatus};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

pub const NOTIFY: &str = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// Fails a test run without root loudly instead of letting it pass: these tests are
/// `#[ignore]`d and only run when asked for (`--include-ignored`, as root).
pub fn require_root() {
    assert!(is_root(), "this test loads BPF programs and needs root");
}

/// Waits for `child` to exit, killing it (and failing) after `limit`.
pub fn wait_for(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for rbt") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rbt did not exit within {limit:?} {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends each line of `stream` (rbt's stdout or stderr) to the returned channel as it
/// arrives.
pub fn lines_of(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads lines until one equals `want`, returning those before it.
pub fn wait_for_line(rx: &Receiver<String>, want: &str) -> Vec<String> {
    let mut before = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line == want => return before,
            Ok(line) => before.push(line),
            Err(e) => panic!("no `{want}` line ({e}); saw {before:?}"),
        }
    }
}

//! Running a compiled script: load the object, attach every program, run BEGIN, read the
//! ring buffer until exit()/Ctrl-C/SIGTERM (or the traced command ends), run END, print the
//! maps, detach. Waiting is one epoll over the ring buffer, a signalfd and the child's
//! pidfd, so exit is immediate rather than noticed on a timer; output records do not wake
//! the reader (see `codegen`'s `submit_flags`), so the wait also ends every [`DRAIN_MS`].

use crate::attach;
use crate::events::{EventSink, Flow};
use crate::maps;
use crate::symbols::SystemSymbolizer;
use crate::sys::{self, Object, RingBuffer};
use crate::verifier::Rejection;
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use stdlib::manifest::{
    Attach, Manifest, LOST_MAP, MAP_FULL_MAP, RINGBUF_MAP, STACKS_MAP, STATE_MAP,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

/// When output reaches the file or terminal (`-B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffering {
    /// After every batch of events (each event writes whole lines).
    Line,
    /// When the buffer fills, and at exit.
    Full,
    /// After every event.
    None,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub buffering: Buffering,
    pub format: OutputFormat,
    pub quiet: bool,
    pub verbose: bool,
    /// Load every program (so the verifier judges it) and attach nothing.
    pub dry_run: bool,
    pub pid: Option<u32>,
    /// Print the line `__BPFTRACE_NOTIFY_PROBES_ATTACHED` on stdout once every probe is
    /// attached: bpftrace's test harness waits for it before it triggers events.
    pub notify_attached: bool,
    /// The output is the process's stdout: stop tracing when its reader goes away
    /// (`rbt ... | head -1`) instead of running on with nowhere to write.
    pub watch_stdout: bool,
}

/// The line bpftrace's test harness waits for (see [`RunOptions::notify_attached`]).
const NOTIFY_ATTACHED: &str = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";

#[derive(Debug)]
pub enum RunError {
    Sys(sys::SysError),
    /// The verifier refused a program; the caller points it at the script.
    Rejected(Rejection),
    Io(std::io::Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Sys(e) => {
                write!(f, "{e}")?;
                if (e.errno == libc::EPERM || e.errno == libc::EACCES) && !sys::is_root() {
                    write!(
                        f,
                        "\n  rbt needs root (or CAP_BPF and CAP_PERFMON) to load BPF programs"
                    )?;
                } else if e.errno == libc::EPERM {
                    write!(
                        f,
                        "\n  the kernel refuses this even for root (lockdown, or fentry/fexit not permitted here: try kprobe)"
                    )?;
                }
                Ok(())
            }
            RunError::Rejected(r) => {
                write!(f, "{r}")?;
                write!(f, "\nverifier log (last lines):\n{}", tail(&r.log, 25))
            }
            RunError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// A load failure with a verifier log becomes a [`Rejection`] naming the probe.
fn rejection(e: sys::SysError, manifest: &Manifest) -> RunError {
    match e.log {
        Some(log) => {
            let probe = manifest
                .programs
                .iter()
                .find(|p| p.name == log.program)
                .and_then(|p| manifest.probe_names.get(p.probe_index as usize))
                .cloned()
                .unwrap_or(log.program);
            RunError::Rejected(Rejection::from_log(probe, e.errno, log.text))
        }
        None => RunError::Sys(e),
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl From<sys::SysError> for RunError {
    fn from(e: sys::SysError) -> Self {
        RunError::Sys(e)
    }
}

impl From<std::io::Error> for RunError {
    fn from(e: std::io::Error) -> Self {
        RunError::Io(e)
    }
}

/// How long output may wait in the ring buffer. Output records are submitted without waking
/// the reader, so that at high rates it reads them in batches instead of being woken (one
/// context switch each) per event; it drains the buffer this often instead, and records wake
/// it earlier only when a quarter of the buffer is unread or they must act at once (exit).
/// 20 ms is below what a person watching the output notices, and the 50 wake-ups a second
/// it costs an idle session are negligible; at 500,000 printf events a second a quarter of
/// the 1 MiB buffer holds about 16 ms of records, so at such rates the buffer's own wake-ups
/// and this timer take turns, and the rest of the buffer absorbs scheduling delays.
const DRAIN_MS: i32 = 20;

/// Blocks SIGINT and SIGTERM and returns a signalfd that reports them, so the event loop can
/// wait on signals and events together.
fn signal_fd() -> Result<libc::c_int, RunError> {
    // SAFETY: sigset manipulation on a local set; signalfd creates a new fd we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(fd)
    }
}

/// Loads, attaches and runs. Returns the exit code (from `exit(code)`, else 0). `child` is
/// the `-c` command: released once every probe is attached, and rbt exits when it does.
pub fn run(
    elf: &[u8],
    manifest: &Manifest,
    opts: &RunOptions,
    out: Box<dyn Write>,
    mut child: Option<&mut crate::sys::GatedChild>,
) -> Result<i32, RunError> {
    sys::set_libbpf_verbose(opts.verbose);
    // Block SIGINT/SIGTERM first: a Ctrl-C while probes attach must still end in an orderly
    // exit (END, maps, detach), not kill rbt halfway.
    let sigfd = signal_fd()?;
    let mut obj = Object::open(elf, "rbt")?;
    obj.load().map_err(|e| rejection(e, manifest))?;
    if opts.dry_run {
        return Ok(0);
    }
    let state_fd = obj.map_fd(STATE_MAP)?;
    sys::map::update(state_fd, &0u32.to_ne_bytes(), &monotonic_ns().to_ne_bytes())?;

    let symbolizer = Rc::new(SystemSymbolizer::new(
        manifest.probe_names.clone(),
        manifest.time_formats.clone(),
        obj.map_fd(STACKS_MAP).ok(),
    ));
    let sink = Rc::new(RefCell::new(EventSink::new(
        manifest,
        opts.format,
        out,
        opts.buffering,
        symbolizer.clone(),
        &obj,
    )?));
    let cb_sink = sink.clone();
    let mut rb = RingBuffer::new(
        obj.map_fd(RINGBUF_MAP)?,
        Box::new(move |bytes| match cb_sink.borrow_mut().handle(bytes) {
            Flow::Continue => 0,
            // A non-zero return stops libbpf's poll loop so exit() takes effect at once.
            Flow::Exit => 1,
        }),
    )?;

    let probe_count: usize = manifest
        .programs
        .iter()
        .map(|p| attach::target_count(&p.attach))
        .sum();
    if !opts.quiet {
        sink.borrow_mut().attached(probe_count)?;
    }
    let mut links = Vec::new();
    for p in &manifest.programs {
        let prog = obj.program(&p.name)?;
        links.extend(attach::attach(&prog, &p.attach, opts.pid)?);
    }
    if opts.notify_attached {
        // Straight to stdout (not `-o`'s file), where the harness reads it.
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{NOTIFY_ATTACHED}")?;
        stdout.flush()?;
    }
    for p in manifest
        .programs
        .iter()
        .filter(|p| p.attach == Attach::Begin)
    {
        obj.program(&p.name)?.test_run()?;
    }

    if let Some(c) = child.as_deref_mut() {
        c.release();
    }
    let pidfd = match child.as_ref().map(|c| c.pid) {
        // SAFETY: pidfd_open on a pid we started; the fd is ours.
        Some(pid) => Some(
            unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) } as libc::c_int,
        )
        .filter(|fd| *fd >= 0),
        None => None,
    };
    // SAFETY: epoll_create1 returns a new fd we own.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    // Stdout is watched for errors only (no event mask): a pipe's write end reports
    // EPOLLERR once its reader has gone. Files and /dev/null cannot be watched, and need not.
    let stdout = opts.watch_stdout.then_some(libc::STDOUT_FILENO);
    for (fd, tag, mask) in [
        (Some(rb.epoll_fd()), 0u64, libc::EPOLLIN),
        (Some(sigfd), 1, libc::EPOLLIN),
        (pidfd, 2, libc::EPOLLIN),
        (stdout, 3, 0),
    ] {
        if let Some(fd) = fd {
            let mut ev = libc::epoll_event {
                events: mask as u32,
                u64: tag,
            };
            // SAFETY: registering fds we own with our epoll instance.
            unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) };
        }
    }
    // A script whose probes are only BEGIN and END has nothing to wait for once BEGIN ran
    // (bpftrace exits then too), unless it traces a `-c` command, which it waits for.
    let only_begin_end = manifest
        .programs
        .iter()
        .all(|p| matches!(p.attach, Attach::Begin | Attach::End));
    let wait = !(only_begin_end && child.is_none());
    while wait && !sink.borrow().exiting() && !sink.borrow().output_closed() {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
        // SAFETY: waiting on our epoll fd with a correctly sized buffer.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, DRAIN_MS) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break;
        }
        rb.consume()?;
        sink.borrow_mut().end_batch();
        let stop = events[..n as usize]
            .iter()
            .any(|e| e.u64 == 1 || e.u64 == 2 || e.u64 == 3);
        if stop {
            break;
        }
    }
    // Detach before END so no more events arrive while the maps are printed. What is still
    // in the buffer is printed, unless exit() was called: records after it are dropped.
    drop(links);
    rb.consume()?;
    sink.borrow_mut().start_end();
    for p in manifest.programs.iter().filter(|p| p.attach == Attach::End) {
        obj.program(&p.name)?.test_run()?;
    }
    rb.consume()?;
    // SAFETY: closing fds we own.
    unsafe {
        libc::close(ep);
        libc::close(sigfd);
        if let Some(fd) = pidfd {
            libc::close(fd);
        }
    }
    let lost = maps::sum_percpu_u64(obj.map_fd(LOST_MAP)?)?;
    let full = maps::sum_percpu_u64(obj.map_fd(MAP_FULL_MAP)?)?;
    let mut s = sink.borrow_mut();
    s.lost(lost)?;
    s.print_exit_maps()?;
    if full > 0 {
        eprintln!(
            "rbt: warning: {full} map update(s) failed because a map was full; raise BPFTRACE_MAP_KEYS_MAX (now {})",
            manifest.maps.first().map_or(4096, |m| m.max_entries)
        );
    }
    let code = s.exit_code();
    drop(s);
    drop(rb);
    Ok(code)
}

/// CLOCK_MONOTONIC in nanoseconds, the clock `bpf_ktime_get_ns` reads.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into our timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

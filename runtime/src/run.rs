//! Running a compiled script: load the object, run BEGIN, attach every other program, read the
//! ring buffer until exit()/Ctrl-C/SIGTERM (or the traced command ends), run END, print the
//! maps, detach. Waiting is one epoll over the ring buffer, a signalfd and the child's
//! pidfd, so exit is immediate rather than noticed on a timer; output records do not wake
//! the reader (see `codegen`'s `submit_flags`), so the wait also ends every [`DRAIN_MS`].

use crate::attach;
use crate::events::{Buffering, EventSink, Flow, OutputFormat};
use crate::maps;
use crate::pcap::PcapFiles;
use crate::symbols::SystemSymbolizer;
use crate::sys::{self, Epoll, Interest, Object, PerfBuffer, PidFd, RingBuffer, SignalFd};
use crate::verifier::Rejection;
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::os::fd::AsFd;
use std::rc::Rc;
use stdlib::manifest::{
    Attach, Event, Manifest, LOST_MAP, MAP_FULL_MAP, RINGBUF_MAP, SCRATCH_MAP, SKB_MAP, STACKS_MAP,
    STATE_MAP,
};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub buffering: Buffering,
    pub format: OutputFormat,
    pub quiet: bool,
    pub verbose: bool,
    /// Load every program (so the verifier judges it) and attach nothing.
    pub dry_run: bool,
    pub pid: Option<u32>,
    /// The processes whose `dw_ustack` captures are unwound: `-p`, `--dwarf-pid`, and the
    /// `-c` command, which [`run`] adds.
    pub dwarf_pids: Vec<u32>,
    /// Print the line `__BPFTRACE_NOTIFY_PROBES_ATTACHED` on stdout once every probe is
    /// attached: bpftrace's test harness waits for it before it triggers events.
    pub notify_attached: bool,
    /// The output is the process's stdout: stop tracing when its reader goes away
    /// (`rbt ... | head -1`) instead of running on with nowhere to write.
    pub watch_stdout: bool,
    /// Print every map when the run ends (`print_maps_on_exit`).
    pub print_maps_on_exit: bool,
    /// Print user stack frames with file, line and inlined functions (`show_debug_info`).
    pub show_debug_info: bool,
    /// The most bytes `cat()` prints of a file (`max_cat_bytes`).
    pub max_cat_bytes: usize,
    /// Bytes of verifier log kept per program (`log_size`).
    pub log_size: usize,
    /// Pages of the output ring buffer (`perf_rb_pages`); `None` sizes it for the machine's
    /// CPUs ([`default_ringbuf_pages`]).
    pub ringbuf_pages: Option<u64>,
    /// The bytes of the object's `.rodata` (its [`Manifest::run_values`]); empty when it
    /// has none.
    pub run_values: Vec<u8>,
    /// `--no-warnings`: drop `warnf()` messages.
    pub no_warnings: bool,
    /// `--bench`/`--test`: run the `bench:`/`test:` probes instead of tracing.
    pub mode: RunMode,
}

/// What a run does with the script's probes (`--mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunMode {
    /// Trace: attach the probes and run BEGIN; `bench:` and `test:` probes are skipped.
    #[default]
    Trace,
    /// Run BEGIN quietly, time every `bench:` probe, print the table, run END.
    Bench,
    /// Run BEGIN quietly, run every `test:` probe once and report it, run END.
    Test,
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
            RunError::Io(e) => write!(f, "{}", stdlib::diag::reason(e)),
        }
    }
}

/// A load failure with a verifier log becomes a [`Rejection`] naming the probe and, when the
/// log does not, the script line (from the object's line info).
fn rejection(e: sys::SysError, manifest: &Manifest, elf: &[u8]) -> RunError {
    match e.log {
        // A log cut short says too little to explain the refusal; the error says so.
        Some(_) if e.errno == libc::ENOSPC => RunError::Sys(sys::SysError { log: None, ..e }),
        Some(log) => {
            let probe = manifest
                .programs
                .iter()
                .find(|p| p.name == log.program)
                .and_then(|p| manifest.probe_names.get(p.probe_index as usize))
                .cloned()
                .unwrap_or_else(|| log.program.clone());
            let mut r = Rejection::from_log(probe, e.errno, log.text);
            if r.line.is_none() {
                r.line = r
                    .insn
                    .and_then(|i| crate::verifier::line_of_instruction(elf, &log.program, i));
            }
            RunError::Rejected(r)
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

/// How long the wait loop reads records before it looks at signals, the traced command and
/// exit() again. Records arrive without end when handling them causes more (`system()` in
/// a `sched_switch` probe forks a shell), so reading until the buffer is empty could keep
/// SIGINT waiting forever.
const READ_SLICE: std::time::Duration = std::time::Duration::from_millis(50);

/// Records handled between two looks at the clock.
const READ_BATCH: usize = 64;

/// How long the records still queued when a signal ends the run are handled before the rest
/// are skipped (and reported as lost): the harness of bpftrace's tests, like a user, waits
/// about a second after SIGTERM before it kills.
const SIGNAL_DRAIN: std::time::Duration = std::time::Duration::from_millis(250);

/// Handles the records in the buffer until it is empty or `slice` has passed.
fn consume_for_a_while(rb: &mut RingBuffer, slice: std::time::Duration) -> Result<(), RunError> {
    let start = std::time::Instant::now();
    while rb.consume_n(READ_BATCH)? == READ_BATCH && start.elapsed() < slice {}
    Ok(())
}

/// What woke the event loop: records to read, or a reason to stop.
const WAKE_EVENTS: u64 = 0;
const WAKE_SIGNAL: u64 = 1;
const WAKE_CHILD_EXITED: u64 = 2;
const WAKE_STDOUT_CLOSED: u64 = 3;

/// How often a long run says that records were lost since it last said so.
const LOST_REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Reports records lost to a full ring buffer (and those skipped unread when a signal ended
/// the run with a backlog, see [`SIGNAL_DRAIN`]) as they are lost (at most every
/// [`LOST_REPORT_EVERY`]), not only at exit, so a user watching a long run learns of the gap
/// in its output when it happens; each report counts the losses since the one before, so
/// the reports add up to exactly what was lost.
struct LostEvents {
    map: sys::MapHandle,
    reported: u64,
    reports: u32,
    checked: std::time::Instant,
    /// Records rbt skipped unread at the end of a run ended by a signal.
    skipped: u64,
}

impl LostEvents {
    fn new(map: sys::MapHandle) -> LostEvents {
        LostEvents {
            map,
            reported: 0,
            reports: 0,
            checked: std::time::Instant::now(),
            skipped: 0,
        }
    }

    /// Counts `n` records skipped unread among the lost ones.
    fn skipped(&mut self, n: u64) {
        self.skipped += n;
    }

    /// Reports new losses when [`LOST_REPORT_EVERY`] has passed since the last look.
    fn report_now_and_then(&mut self, sink: &mut EventSink) -> Result<(), RunError> {
        if self.checked.elapsed() < LOST_REPORT_EVERY {
            return Ok(());
        }
        self.checked = std::time::Instant::now();
        self.report(sink)
    }

    fn report(&mut self, sink: &mut EventSink) -> Result<(), RunError> {
        let total = maps::sum_percpu_u64(&self.map)? + self.skipped;
        let new = total.saturating_sub(self.reported);
        if new > 0 {
            sink.lost(new)?;
            self.reported = total;
            self.reports += 1;
        }
        Ok(())
    }

    /// The losses not yet reported, and the total when it took more than one report.
    fn report_at_exit(&mut self, sink: &mut EventSink) -> Result<(), RunError> {
        self.report(sink)?;
        if self.reports > 1 {
            sink.lost_in_total(self.reported);
        }
        Ok(())
    }
}

/// Whether exit() has raised its flag in the state map (see `codegen`'s `exited.rs`).
fn exit_flag_up(state: &sys::MapHandle) -> Result<bool, sys::SysError> {
    let key = stdlib::abi::state::EXITED.to_ne_bytes();
    Ok(state
        .lookup_vec(&key)?
        .and_then(|v| v.get(..8).and_then(|b| b.try_into().ok()))
        .is_some_and(|b: [u8; 8]| u64::from_ne_bytes(b) != 0))
}

/// Pages of ring buffer per possible CPU when the script does not set `perf_rb_pages`:
/// bpftrace's default for its per-CPU perf buffers. The more CPUs, the more producers may
/// fill the one ring at once; on 2 CPUs this is 512 KiB, which kept up with 4 M printf
/// records a second in bench/RESULTS.md, and the ring's pages are mapped (twice) into the
/// process, so a larger one costs every run its memory.
const RINGBUF_PAGES_PER_CPU: u64 = 64;

/// The ring buffer's pages for this machine without `perf_rb_pages`.
fn default_ringbuf_pages() -> Result<u64, sys::SysError> {
    Ok(RINGBUF_PAGES_PER_CPU * sys::possible_cpus()? as u64)
}

/// The ring buffer's size for `perf_rb_pages`: the kernel wants a power of two number of
/// pages, so the count is rounded up to one, and capped at 4096 pages as bpftrace caps it.
pub fn ringbuf_bytes(pages: u64) -> u32 {
    let page = sys::page_size();
    let pages = pages.clamp(1, 4096).next_power_of_two();
    u32::try_from(pages * page).unwrap_or(u32::MAX / 2 + 1)
}

/// Pages of each CPU's perf buffer for `skboutput()` packets: `perf_rb_pages`, else
/// bpftrace's default of 64, as a power of two.
fn skb_pages(pages: Option<u64>) -> usize {
    usize::try_from(pages.unwrap_or(64).clamp(1, 4096).next_power_of_two()).unwrap_or(64)
}

/// The reader of `skboutput()`'s packets, which writes them to their pcap files.
struct SkbReader {
    reader: PerfBuffer,
    /// Packets the kernel dropped for want of room in a CPU's buffer.
    lost: Rc<Cell<u64>>,
}

impl SkbReader {
    /// `None` for a script without `skboutput()`.
    fn open(
        obj: &Object,
        manifest: &Manifest,
        opts: &RunOptions,
    ) -> Result<Option<SkbReader>, RunError> {
        let boot_to_wall = crate::symbols::realtime_ns().saturating_sub(sys::boottime_ns());
        let Some(mut files) = PcapFiles::create(manifest, boot_to_wall)? else {
            return Ok(None);
        };
        let lost = Rc::new(Cell::new(0u64));
        let counted = lost.clone();
        let reader = PerfBuffer::new(
            &obj.map(SKB_MAP)?,
            skb_pages(opts.ringbuf_pages),
            Box::new(move |sample| files.write(sample)),
            Box::new(move |n| counted.set(counted.get() + n)),
        )?;
        Ok(Some(SkbReader { reader, lost }))
    }

    /// Writes the packets that are waiting, and at the end of the run says how many were
    /// lost.
    fn drain(&mut self, last: bool) -> Result<(), RunError> {
        self.reader.consume()?;
        if last && self.lost.get() > 0 {
            stdlib::stderrln!(
                "rbt: warning: skboutput: {} packets lost: raise perf_rb_pages for bigger buffers",
                self.lost.get()
            );
        }
        Ok(())
    }
}

/// Runs each iterator (`iterators` index `links`) to its end and prints what it sent. An
/// iteration's output is printed whole, as bpftrace prints an iterator's file: exit() in an
/// iter probe ends the run once the iteration is done, not in its middle.
fn run_iterators(
    iterators: &[usize],
    links: &[sys::Link],
    rb: &mut RingBuffer,
    sink: &RefCell<EventSink>,
) -> Result<(), RunError> {
    for link in iterators.iter().filter_map(|i| links.get(*i)) {
        sink.borrow_mut().set_iterating(true);
        let ran = link.run_iterator();
        rb.consume()?;
        let mut s = sink.borrow_mut();
        s.set_iterating(false);
        s.end_batch();
        ran?;
    }
    Ok(())
}

/// The objects the uprobes and USDT probes of `manifest` attach to, each once.
fn probed_objects(manifest: &Manifest) -> Vec<String> {
    let mut paths: Vec<String> = manifest
        .programs
        .iter()
        .flat_map(|p| match &p.attach {
            Attach::Uprobe { targets, .. } => targets.iter().map(|t| t.path.clone()).collect(),
            Attach::Usdt { targets } => targets.iter().map(|t| t.path.clone()).collect(),
            Attach::Begin
            | Attach::End
            | Attach::Bench { .. }
            | Attach::Test { .. }
            | Attach::Signal { .. }
            | Attach::Tracepoint { .. }
            | Attach::Rawtracepoint { .. }
            | Attach::Syscall { .. }
            | Attach::Kprobe { .. }
            | Attach::Profile { .. }
            | Attach::Interval { .. }
            | Attach::Software { .. }
            | Attach::Hardware { .. }
            | Attach::Watchpoint { .. }
            | Attach::Kfunc { .. }
            | Attach::BpfFunc { .. }
            | Attach::Iter { .. } => Vec::new(),
        })
        .collect();
    paths.sort();
    paths.dedup();
    paths
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
    // exit (END, maps, detach), not kill rbt halfway. SIGUSR1 is the script's to handle
    // (`self:signal:SIGUSR1`); without such a probe it is ignored, as bpftrace 0.22+ ignores
    // it, instead of killing rbt with its output unprinted.
    let mut handled: Vec<i32> = manifest
        .programs
        .iter()
        .filter_map(|p| match p.attach {
            Attach::Signal { signal } => Some(signal),
            _ => None,
        })
        .chain([libc::SIGUSR1])
        .collect();
    handled.sort_unstable();
    handled.dedup();
    let sigfd = SignalFd::term_signals(&handled)?;
    // `-p PID`: the run ends when that process does, as bpftrace's does; a PID that names no
    // process is an error before anything loads (kernels without pidfds watch nothing).
    let target = match opts.pid.map(PidFd::open) {
        Some(Err(e)) if e.errno == libc::ENOSYS => None,
        opened => opened.transpose()?,
    };
    let mut obj = Object::open(elf, "rbt")?;
    let pages = match opts.ringbuf_pages {
        Some(pages) => pages,
        None => default_ringbuf_pages()?,
    };
    obj.set_max_entries(RINGBUF_MAP, ringbuf_bytes(pages))?;
    // One failure counter per map update site.
    let sites = u32::try_from(manifest.map_update_sites.len()).unwrap_or(u32::MAX);
    obj.set_max_entries(MAP_FULL_MAP, sites.max(1))?;
    if manifest.scratch_by_cpu {
        let cpus = crate::sys::possible_cpus()?;
        obj.set_max_entries(SCRATCH_MAP, u32::try_from(cpus).unwrap_or(u32::MAX))?;
    }
    if !opts.run_values.is_empty() {
        obj.set_initial_value(".rodata", &opts.run_values)?;
    }
    // Programs on a function of a loaded BPF program name it by id; the kernel takes its
    // own reference when ours loads, so the descriptors only live until then.
    let mut targets = Vec::new();
    for p in &manifest.programs {
        if let Attach::BpfFunc { targets: t, .. } = &p.attach {
            for t in t {
                let fd = sys::program_fd(t.id)?;
                obj.set_attach_target(&p.name, fd.as_fd(), &t.func)?;
                targets.push(fd);
            }
        }
    }
    obj.load(opts.log_size)
        .map_err(|e| rejection(e, manifest, elf))?;
    drop(targets);
    if opts.dry_run {
        return Ok(0);
    }
    let start_key = stdlib::abi::state::START_NS.to_ne_bytes();
    obj.map(STATE_MAP)?
        .update(&start_key, &sys::monotonic_ns().to_ne_bytes())?;
    // The kernel's TAI offset is whole seconds: rounding drops the time between the reads.
    let tai_offset = sys::tai_ns().saturating_sub(crate::symbols::realtime_ns()) + 500_000_000;
    let tai_key = stdlib::abi::state::TAI_OFFSET_NS.to_ne_bytes();
    obj.map(STATE_MAP)?.update(
        &tai_key,
        &(tai_offset / 1_000_000_000 * 1_000_000_000).to_ne_bytes(),
    )?;

    let mut symbolizer = SystemSymbolizer::new(
        manifest.probe_names.clone(),
        manifest.time_formats.clone(),
        obj.map(STACKS_MAP).ok(),
        probed_objects(manifest),
    )
    .with_debug_info(opts.show_debug_info);
    let dwarf_pids = opts.dwarf_pids.iter().copied();
    symbolizer.set_dwarf_pids(dwarf_pids.chain(child.as_ref().map(|c| c.pid)).collect());
    let symbolizer = Rc::new(symbolizer);
    let mut sink = EventSink::new(
        manifest,
        opts.format,
        out,
        opts.buffering,
        symbolizer.clone(),
        &obj,
    )?;
    sink.set_max_cat_bytes(opts.max_cat_bytes);
    sink.set_no_warnings(opts.no_warnings);
    let sink = Rc::new(RefCell::new(sink));
    let cb_sink = sink.clone();
    let mut rb = RingBuffer::new(
        &obj.map(RINGBUF_MAP)?,
        Box::new(move |bytes| match cb_sink.borrow_mut().handle(bytes) {
            Flow::Continue => 0,
            // A non-zero return stops libbpf's poll loop so exit() takes effect at once.
            Flow::Exit => 1,
        }),
    )?;
    let mut skb = SkbReader::open(&obj, manifest, opts)?;

    // BEGIN runs before the other probes are attached, as bpftrace documents, so that no
    // probe sees the maps before BEGIN has set them. Its output waits in the ring buffer
    // and is printed after the "Attached" line.
    for p in manifest
        .programs
        .iter()
        .filter(|p| p.attach == Attach::Begin)
    {
        obj.program(&p.name)?.test_run()?;
    }
    let probe_count = attach::probe_count(&manifest.programs);
    let mut links = Vec::new();
    // Where each iterator's link sits in `links`: iterators run once BEGIN has.
    let mut iterators = Vec::new();
    // Watchpoints' links by the address they watch, which `unwatch()` detaches.
    let mut watches: Vec<(u64, sys::Link)> = Vec::new();
    let mut syscalls = attach::SyscallPrograms::default();
    for p in attach::attach_order(&manifest.programs) {
        let prog = obj.program(&p.name)?;
        let attached = attach::attach(&prog, &p.attach, opts.pid, &mut syscalls)?;
        if let Attach::Watchpoint { addr, .. } = p.attach {
            watches.extend(attached.into_iter().map(|l| (addr, l)));
            continue;
        }
        if matches!(p.attach, Attach::Iter { .. }) {
            iterators.push(links.len());
        }
        links.extend(attached);
    }
    let dispatchers = syscalls.attach()?;
    let running = opts.mode != RunMode::Trace;
    if !opts.quiet && !running {
        sink.borrow_mut().attached(probe_count);
    }
    if running {
        // BEGIN's output is not part of a benchmark's or test's report.
        sink.borrow_mut().start_capture(false);
    }
    if opts.notify_attached {
        // Straight to stdout (not `-o`'s file), where the harness reads it.
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{NOTIFY_ATTACHED}")?;
        stdout.flush()?;
    }

    run_iterators(&iterators, &links, &mut rb, &sink)?;

    if let Some(c) = child.as_deref_mut() {
        c.release();
    }
    // Without a pidfd (kernels before 5.3) rbt still ends on a signal or exit().
    let pidfd = match child.as_ref() {
        Some(c) => PidFd::open(c.pid).ok(),
        None => target,
    };
    let ep = Epoll::new()?;
    ep.add(rb.epoll_fd(), Interest::Readable, WAKE_EVENTS)?;
    if let Some(s) = &skb {
        ep.add(s.reader.epoll_fd(), Interest::Readable, WAKE_EVENTS)?;
    }
    ep.add(sigfd.as_fd(), Interest::Readable, WAKE_SIGNAL)?;
    if let Some(fd) = &pidfd {
        ep.add(fd.as_fd(), Interest::Readable, WAKE_CHILD_EXITED)?;
    }
    if opts.watch_stdout {
        // A pipe's write end reports an error once its reader has gone. Files and /dev/null
        // cannot be watched (EPERM), and need not be: they never go away.
        let _ = ep.add(
            std::io::stdout().as_fd(),
            Interest::ErrorsOnly,
            WAKE_STDOUT_CLOSED,
        );
    }
    // A script whose probes are only BEGIN, END and iterators has nothing to wait for once
    // BEGIN and the iterations ran (bpftrace exits then too), unless it traces a `-c`
    // command, which it waits for.
    let only_begin_end = manifest.programs.iter().all(|p| {
        matches!(
            p.attach,
            Attach::Begin
                | Attach::End
                | Attach::Iter { .. }
                | Attach::Bench { .. }
                | Attach::Test { .. }
        )
    });
    let mut failed_tests = 0;
    if running {
        rb.consume()?;
        sink.borrow_mut().end_capture();
        failed_tests = run_benches_and_tests(&obj, manifest, opts.mode, &mut rb, &sink)?;
    }
    let wait = !(running || only_begin_end && child.is_none());
    // exit() raises a flag in the state map before it sends its record. When the record is
    // lost to a full ring buffer (and counted with the other lost records), the flag still
    // ends the run; the status is then 0, since the code was in the record.
    let exits = manifest.events.iter().any(|e| matches!(e, Event::Exit));
    let state = obj.map(STATE_MAP)?;
    let mut lost = LostEvents::new(obj.map(LOST_MAP)?);
    let mut signalled = false;
    if wait {
        // BEGIN's output (a tool's header line) is printed as soon as every probe is
        // attached, not a drain tick later: the wait below wakes on the timer for it.
        consume_for_a_while(&mut rb, READ_SLICE)?;
        sink.borrow_mut().end_batch();
    }
    while wait && !sink.borrow().exiting() && !sink.borrow().output_closed() {
        // A failing wait (it cannot, short of a bug) ends the run in order, like a signal.
        let Ok(woken) = ep.wait(DRAIN_MS) else {
            break;
        };
        consume_for_a_while(&mut rb, READ_SLICE)?;
        sink.borrow_mut().end_batch();
        if let Some(s) = &mut skb {
            s.drain(false)?;
        }
        if manifest.dw_ustack {
            symbolizer.remember_dwarf_maps();
        }
        for addr in sink.borrow_mut().take_unwatched() {
            watches.retain(|(watched, _)| *watched != addr);
        }
        let mut stop = false;
        for tag in woken {
            match tag {
                WAKE_EVENTS => {}
                WAKE_SIGNAL => {
                    for signal in sigfd.pending() {
                        if !handled.contains(&signal) {
                            stop = true;
                            signalled = true;
                            continue;
                        }
                        // self:signal probes run in script order, as BEGIN's do.
                        for p in manifest
                            .programs
                            .iter()
                            .filter(|p| p.attach == Attach::Signal { signal })
                        {
                            obj.program(&p.name)?.test_run()?;
                        }
                        rb.consume()?;
                        sink.borrow_mut().end_batch();
                    }
                }
                _ => stop = true,
            }
        }
        if stop || (exits && exit_flag_up(&state)?) {
            break;
        }
        lost.report_now_and_then(&mut sink.borrow_mut())?;
    }
    // Detach before END so no more events arrive while the maps are printed. What is still
    // in the buffer is printed, unless exit() was called: records after it are dropped.
    drop(links);
    drop(watches);
    drop(dispatchers);
    if let Some(s) = &mut skb {
        s.drain(true)?;
    }
    drop(skb);
    if signalled {
        // What handling the queued records would take is unbounded (each system() record
        // runs a command): they get a short while, the rest are skipped as lost.
        consume_for_a_while(&mut rb, SIGNAL_DRAIN)?;
        sink.borrow_mut().skip_queued();
        rb.consume()?;
        lost.skipped(sink.borrow_mut().take_skipped());
    } else {
        rb.consume()?;
    }
    sink.borrow_mut().start_end();
    for p in manifest.programs.iter().filter(|p| p.attach == Attach::End) {
        obj.program(&p.name)?.test_run()?;
    }
    rb.consume()?;
    drop((ep, pidfd, sigfd));
    let full_map = obj.map(MAP_FULL_MAP)?;
    let mut s = sink.borrow_mut();
    lost.report_at_exit(&mut s)?;
    // Before the maps, as bpftrace's warnings come when the update fails.
    for (slot, (start, end)) in (0u32..).zip(&manifest.map_update_sites) {
        if maps::sum_percpu_u64_at(&full_map, slot)? > 0 {
            s.map_full(*start, *end);
        }
    }
    // Benchmarks and tests leave their maps unprinted, as bpftrace does.
    s.print_exit_maps(opts.print_maps_on_exit && !running)?;
    let code = if failed_tests > 0 { 1 } else { s.exit_code() };
    drop(s);
    drop(rb);
    Ok(code)
}

/// How long each benchmark runs, at least, after its warm-up, and how many runs it makes
/// at least: enough for a stable average of runs that take a few hundred nanoseconds.
const BENCH_MIN_NS: u64 = 100_000_000;
const BENCH_MIN_ITERS: u64 = 1000;

/// `--bench`: times every `bench:` program (its output dropped) and prints a table, or one
/// JSON record per benchmark. `--test`: runs every `test:` program once; a test fails when
/// it returns a value other than 0, reports an error (`errorf()`, a failed `assert()`) or
/// calls exit() with a non-zero code, and then its output is shown (in JSON, each test is a
/// record holding its output as text). Returns how many tests failed. Timings are taken around BPF_PROG_TEST_RUN in user space (raw tracepoint
/// programs cannot be repeated by the kernel), so they include the system call.
fn run_benches_and_tests(
    obj: &Object,
    manifest: &Manifest,
    mode: RunMode,
    rb: &mut RingBuffer,
    sink: &Rc<RefCell<EventSink>>,
) -> Result<usize, RunError> {
    let json = sink.borrow().format() == OutputFormat::Json;
    let mut failed: Vec<String> = Vec::new();
    let mut runs: Vec<(String, &str)> = Vec::new();
    for p in &manifest.programs {
        match (&p.attach, mode) {
            (Attach::Bench { name }, RunMode::Bench) | (Attach::Test { name }, RunMode::Test) => {
                runs.push((name.clone(), p.name.as_str()));
            }
            _ => {}
        }
    }
    match mode {
        RunMode::Trace => return Ok(0),
        RunMode::Bench => {
            if !json && !runs.is_empty() {
                sink.borrow_mut().write_text(&format!(
                    "{:<41}{:<15}{}\n{}\n",
                    "Benchmark",
                    "Time(ns)",
                    "Iterations",
                    "-".repeat(66)
                ));
            }
            for (name, prog) in &runs {
                let prog = obj.program(prog)?;
                sink.borrow_mut().start_capture(false);
                for _ in 0..BENCH_MIN_ITERS / 10 {
                    prog.test_run()?;
                }
                rb.consume()?;
                let start = std::time::Instant::now();
                let mut iters = 0u64;
                while iters < BENCH_MIN_ITERS || (start.elapsed().as_nanos() as u64) < BENCH_MIN_NS
                {
                    for _ in 0..BENCH_MIN_ITERS {
                        prog.test_run()?;
                    }
                    iters += BENCH_MIN_ITERS;
                    rb.consume()?;
                }
                let average = start.elapsed().as_nanos() as u64 / iters;
                let mut s = sink.borrow_mut();
                s.end_capture();
                s.take_exit();
                let line = if json {
                    format!(
                        "{{\"type\": \"benchmark_result\", \"data\": {{{}: {{\"average\": {average}, \"iters\": {iters}}}}}}}\n",
                        stdlib::value::Value::Str(name.as_bytes().to_vec()).to_json()
                    )
                } else {
                    format!("{name:<41}{average:<15}{iters}\n")
                };
                s.write_text(&line);
                s.end_batch();
            }
        }
        RunMode::Test => {
            let plural = |n: usize| if n == 1 { "test" } else { "tests" };
            let text = |line: String| {
                if !json {
                    sink.borrow_mut().write_text(&line);
                }
            };
            text(format!(
                "[==========] Running {} {}.\n",
                runs.len(),
                plural(runs.len())
            ));
            for (name, prog) in &runs {
                text(format!("[ RUN      ] {name}\n"));
                sink.borrow_mut().start_capture(json);
                let start = std::time::Instant::now();
                let returned = obj.program(prog)?.test_run()?;
                rb.consume()?;
                let took = start.elapsed();
                let mut s = sink.borrow_mut();
                let output = s.end_capture();
                let exit = s.take_exit().unwrap_or(0);
                let passed = returned == 0 && exit == 0 && s.take_errors() == 0;
                if !passed {
                    failed.push(name.clone());
                }
                let us = took.as_micros();
                let line = match (json, passed) {
                    (true, _) => format!(
                        "{{\"type\": \"test_result\", \"data\": {{{}: {{\"duration\": {}, \"passed\": {passed}, \"output\": {}}}}}}}\n",
                        stdlib::output::json_str(name),
                        took.as_nanos(),
                        stdlib::output::json_str(&output)
                    ),
                    (false, true) => format!("[       OK ] {name} ({us} μs)\n"),
                    (false, false) => format!("{output}[  FAILED  ] {name} ({us} μs)\n"),
                };
                s.write_text(&line);
                s.end_batch();
            }
            let passed = runs.len() - failed.len();
            text(format!(
                "[==========] {} {} ran.\n",
                runs.len(),
                plural(runs.len())
            ));
            text(format!("[  PASSED  ] {passed} {}.\n", plural(passed)));
            if !failed.is_empty() {
                text(format!(
                    "[  FAILED  ] {} {}, listed below:\n",
                    failed.len(),
                    plural(failed.len())
                ));
                for name in &failed {
                    text(format!("[  FAILED  ] {name}\n"));
                }
            }
            sink.borrow_mut().end_batch();
        }
    }
    Ok(failed.len())
}

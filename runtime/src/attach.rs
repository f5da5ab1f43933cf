//! Attaching one program to every target of its `Attach`: one place per probe type.

use crate::introspect::btf::{self, Btf};
use crate::sys::{Breakpoint, Link, PerfEventAttr, Program, SysError, SyscallDispatcher};
use std::collections::BTreeMap;
use stdlib::manifest::{Attach, PerfPeriod, SyscallTarget};

/// perf_event types (`enum perf_type_id`).
const PERF_TYPE_HARDWARE: u32 = 0;
const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_TYPE_BREAKPOINT: u32 = 5;
/// `HW_BREAKPOINT_X`: an execution breakpoint.
const HW_BREAKPOINT_X: u32 = 4;
/// PERF_COUNT_SW_CPU_CLOCK
const SW_CPU_CLOCK: u64 = 0;

/// How many probes "Attached N probes" reports: every target, except that the locations of
/// one USDT probe (a program each, sharing the probe's name) count once, as in bpftrace.
pub fn probe_count(programs: &[stdlib::manifest::Program]) -> usize {
    let mut usdt = std::collections::BTreeSet::new();
    programs
        .iter()
        .map(|p| match &p.attach {
            Attach::Usdt { .. } => usize::from(usdt.insert(p.probe_index)),
            // Benchmarks and tests are run, not attached.
            Attach::Bench { .. } | Attach::Test { .. } => 0,
            other => other.target_count(),
        })
        .sum()
}

/// The order in which programs attach, so that several probes on one event run in script
/// order. Most kinds run their programs in the order they were attached, but the kernel runs
/// a uprobe's consumers newest first: uprobe, uretprobe and usdt programs attach last first.
pub fn attach_order(programs: &[stdlib::manifest::Program]) -> Vec<&stdlib::manifest::Program> {
    let (newest_first, in_order): (Vec<_>, Vec<_>) =
        programs.iter().partition(|p| runs_newest_first(&p.attach));
    in_order
        .into_iter()
        .chain(newest_first.into_iter().rev())
        .collect()
}

/// Whether the kernel runs the programs attached to one event of this kind newest first.
fn runs_newest_first(a: &Attach) -> bool {
    match a {
        Attach::Uprobe { .. } | Attach::Usdt { .. } => true,
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
        | Attach::Iter { .. } => false,
    }
}

pub(crate) fn online_cpus() -> Vec<i32> {
    // "0-3,5" style list; fall back to the CPUs the scheduler reports.
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                    cpus.extend(a..=b);
                }
            }
            None => cpus.extend(part.parse::<i32>().ok()),
        }
    }
    if cpus.is_empty() {
        cpus.push(0);
    }
    cpus
}

/// The threads of process `pid` (`/proc/PID/task`), or the process alone when they cannot
/// be listed (it has then exited, and opening its event says so).
fn threads(pid: i32) -> Vec<i32> {
    let mut tids: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    tids.sort_unstable();
    if tids.is_empty() {
        tids.push(pid);
    }
    tids
}

/// The file a uprobe target is placed in: a member of a zip archive (`app.zip!/lib/x.so`)
/// is probed in the archive file, at the offset the catalog computed from the archive's
/// start.
fn probed_file(path: &str) -> &str {
    crate::introspect::zip::split(path).map_or(path, |(archive, _)| archive)
}

/// The (file offset, attach cookie) of each of `targets` grouped by binary, in the order
/// the binaries first appear: a uprobe_multi link covers one binary. Two symbols at one
/// address (aliases such as `__write` and `write`) keep an offset each, so a call counts
/// once per name as it does with a uprobe per symbol, and as bpftrace 0.27's uprobe_multi
/// links do.
fn uprobe_multi_by_binary(
    targets: &[stdlib::manifest::UprobeTarget],
) -> Vec<(&str, Vec<(u64, u64)>)> {
    let mut out: Vec<(&str, Vec<(u64, u64)>)> = Vec::new();
    for t in targets {
        let file = probed_file(&t.path);
        let spot = (t.offset, t.cookie);
        match out.iter_mut().find(|(p, _)| *p == file) {
            Some((_, spots)) => spots.push(spot),
            None => out.push((file, vec![spot])),
        }
    }
    out
}

/// `targets` without those whose first instruction the kernel accepts but runs wrongly,
/// with a warning that names them. On x86 with Linux 6.18, a uprobe on an EVEX-encoded
/// instruction (glibc's `__strchrnul_evex` opens with `vpbroadcastb`) is placed, but the
/// instruction then computes wrong results in every process that calls it: with that one
/// uprobe, `printf` printed `%s` unformatted and garbage numbers machine-wide. bpftrace 0.27
/// attaches there all the same; rbt does not corrupt the processes it traces.
fn runnable_uprobes(
    targets: &[stdlib::manifest::UprobeTarget],
) -> Vec<stdlib::manifest::UprobeTarget> {
    let mut files: Vec<(&str, Option<std::fs::File>)> = Vec::new();
    let mut out = Vec::with_capacity(targets.len());
    let mut skipped: Vec<&str> = Vec::new();
    for t in targets {
        let file = match files.iter().position(|(p, _)| *p == t.path) {
            Some(i) => &files[i].1,
            None => {
                // An unreadable binary is reported by the attach itself.
                files.push((
                    t.path.as_str(),
                    std::fs::File::open(probed_file(&t.path)).ok(),
                ));
                &files[files.len() - 1].1
            }
        };
        if evex(&instruction_at(file.as_ref(), t.offset)) {
            skipped.push(&t.symbol);
        } else {
            out.push(t.clone());
        }
    }
    if !skipped.is_empty() {
        stdlib::stderrln!(
            "WARNING: skipping {}: their first instruction is EVEX-encoded, which the kernel's uprobes run wrongly (it corrupts the traced processes)",
            skipped.join(", ")
        );
    }
    out
}

/// The legacy prefixes that may open an x86 instruction (at most four, one per group).
const LEGACY_PREFIXES: [u8; 11] = [
    0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67,
];

/// The bytes of the instruction at file offset `at` (as many as an x86 instruction may
/// have; fewer at the end of the file, none if it cannot be read).
fn instruction_at(file: Option<&std::fs::File>, at: u64) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 15];
    let n = file.and_then(|f| f.read_at(&mut buf, at).ok()).unwrap_or(0);
    buf.truncate(n);
    buf
}

/// The byte after the legacy prefixes of instruction `insn`, and those prefixes.
fn opcode_start(insn: &[u8]) -> Option<(u8, &[u8])> {
    let n = insn
        .iter()
        .take(4)
        .take_while(|b| LEGACY_PREFIXES.contains(b))
        .count();
    insn.get(n).map(|b| (*b, &insn[..n]))
}

/// Whether x86-64 instruction `insn` is EVEX-encoded (0x62, which in 64-bit mode is always
/// the EVEX escape). Elsewhere nothing is.
fn evex(insn: &[u8]) -> bool {
    cfg!(target_arch = "x86_64") && opcode_start(insn).is_some_and(|(b, _)| b == 0x62)
}

/// `ENOTSUPP`, the kernel-internal errno the uprobe layer returns for an instruction it
/// cannot single-step out of line.
const ENOTSUPP: i32 = 524;

/// Words for a uprobe the kernel refused.
fn uprobe_error(mut e: SysError, path: &str) -> SysError {
    if e.errno == ENOTSUPP {
        e.what = format!(
            "{}: the kernel cannot place a uprobe on the first instruction of a function of {path}",
            e.what
        );
    }
    e
}

/// One uprobe per target (kernels without uprobe_multi, or a single target). Among several
/// targets (a wildcard), one whose first instruction the kernel refuses is skipped with a
/// warning, as on the uprobe_multi path; a single named function the kernel refuses is an
/// error, as in bpftrace.
fn attach_uprobes(
    prog: &Program<'_>,
    ret: bool,
    pid: i32,
    targets: &[stdlib::manifest::UprobeTarget],
) -> Result<Vec<Link>, SysError> {
    let mut links = Vec::with_capacity(targets.len());
    let mut refused: Vec<&str> = Vec::new();
    for t in targets {
        match prog.attach_uprobe(ret, pid, probed_file(&t.path), t.offset, 0, t.cookie) {
            Ok(link) => links.push(link),
            Err(e) if e.errno == ENOTSUPP && targets.len() > 1 => refused.push(&t.symbol),
            Err(e) => return Err(uprobe_error(e, &t.path)),
        }
    }
    if !refused.is_empty() {
        stdlib::stderrln!(
            "WARNING: skipping {}: the kernel cannot place a uprobe on their first instruction",
            refused.join(", ")
        );
    }
    Ok(links)
}

/// uprobe_multi links for `offsets` of the binary at `path`, leaving out, with a warning
/// that names them, the functions whose first instruction the kernel refuses to probe (x86
/// refuses lock- and segment-prefixed instructions and a few opcodes: glibc's
/// `__nptl_free_tcb` opens with `lock btsl`, its AVX2 string functions with VEX
/// instructions). One such offset fails the whole link, and bpftrace 0.27 then fails the
/// whole probe. rbt finds the refused ones by halving a refused set; halving all of libc's
/// 3600 offsets took 15 s here (each attempt places every uprobe in every process that maps
/// libc), so the offsets whose first instruction looks refusable ([`suspect`]) go in a
/// separate, small set first. The guess only orders the work: a suspect the kernel accepts
/// is attached all the same.
fn attach_uprobe_multi(
    prog: &Program<'_>,
    ret: bool,
    pid: i32,
    path: &str,
    targets: &[stdlib::manifest::UprobeTarget],
    spots: &[(u64, u64)],
) -> Result<Vec<Link>, SysError> {
    let file = std::fs::File::open(path).ok();
    let (suspects, likely): (Vec<_>, Vec<_>) = spots
        .iter()
        .partition(|(o, _)| suspect(&instruction_at(file.as_ref(), *o)));
    let mut refused = Vec::new();
    let mut links = Vec::new();
    for set in [likely, suspects].iter().filter(|s| !s.is_empty()) {
        links.extend(
            attach_halving(prog, ret, pid, path, set, &mut refused)
                .map_err(|e| uprobe_error(e, path))?,
        );
    }
    if !refused.is_empty() {
        let names: Vec<&str> = targets
            .iter()
            .filter(|t| probed_file(&t.path) == path && refused.contains(&t.offset))
            .map(|t| t.symbol.as_str())
            .collect();
        stdlib::stderrln!(
            "WARNING: skipping {} of {path}: the kernel cannot place a uprobe on their first instruction",
            names.join(", ")
        );
    }
    Ok(links)
}

/// Whether instruction `insn` is one x86 uprobes are likely to refuse: a lock (0xf0) or
/// segment-override (0x26, 0x2e, 0x36, 0x3e) prefix among the legacy prefixes that open it,
/// or a VEX-encoded instruction (0xc4, 0xc5; EVEX ones were accepted on 6.18). Elsewhere
/// nothing is suspect.
fn suspect(insn: &[u8]) -> bool {
    cfg!(target_arch = "x86_64")
        && opcode_start(insn).is_some_and(|(b, prefixes)| {
            matches!(b, 0xc4 | 0xc5)
                || prefixes
                    .iter()
                    .any(|p| matches!(p, 0xf0 | 0x26 | 0x2e | 0x36 | 0x3e))
        })
}

/// One link for `spots` (offsets and their cookies), or, when the kernel refuses an
/// instruction among them, links for each half; a single refused offset is added to
/// `refused` instead.
fn attach_halving(
    prog: &Program<'_>,
    ret: bool,
    pid: i32,
    path: &str,
    spots: &[(u64, u64)],
    refused: &mut Vec<u64>,
) -> Result<Vec<Link>, SysError> {
    match prog.attach_uprobe_multi(ret, pid, path, spots) {
        Ok(link) => Ok(vec![link]),
        // A refused instruction fails the link with ENOTSUPP; on 6.18 a set holding only
        // refused instructions (and each of them alone) failed with EINVAL instead.
        Err(e) if e.errno != ENOTSUPP && e.errno != libc::EINVAL => Err(e),
        Err(_) if spots.len() == 1 => {
            refused.extend(spots.iter().map(|s| s.0));
            Ok(Vec::new())
        }
        Err(_) => {
            let (a, b) = spots.split_at(spots.len() / 2);
            let mut links = attach_halving(prog, ret, pid, path, a, refused)?;
            links.extend(attach_halving(prog, ret, pid, path, b, refused)?);
            Ok(links)
        }
    }
}

/// The (thread, CPU) pairs a perf event is opened on: with `-p`, each thread of the process
/// on any CPU, so that only the process is sampled, as bpftrace does; otherwise every CPU,
/// for whatever runs there.
fn perf_targets(pid: i32) -> Vec<(i32, i32)> {
    if pid >= 0 {
        threads(pid).into_iter().map(|tid| (tid, -1)).collect()
    } else {
        online_cpus().into_iter().map(|cpu| (-1, cpu)).collect()
    }
}

/// Words for a watchpoint that the kernel refused, naming the usual causes.
fn watchpoint_error(e: &SysError, addr: u64, len: u64, access: u32, pid: i32) -> String {
    let at = format!("cannot set a watchpoint on {len} bytes at {addr:#x}");
    // The upper half of the address space is the kernel's on every 64-bit architecture
    // rbt runs on.
    let kernel = addr >= 1 << 63;
    let why = match e.errno {
        libc::EINVAL if kernel && access == HW_BREAKPOINT_X => "the kernel takes execution breakpoints on its own code only where kprobes may probe, and not at all when built without kprobes (CONFIG_KPROBES)",
        libc::EINVAL if !addr.is_multiple_of(len) => "the address must be aligned to the length",
        libc::EINVAL => "the kernel refused this address and length (a user-space address needs -p or -c)",
        libc::ENOSPC => "the CPU's debug registers are all in use (x86 has four)",
        libc::ENOENT | libc::EOPNOTSUPP => "this machine offers no hardware breakpoints (some virtual machines hide the debug registers)",
        libc::ESRCH => "the process has exited",
        _ => "",
    };
    let whom = if pid >= 0 {
        format!(" in process {pid}")
    } else {
        String::new()
    };
    if why.is_empty() {
        format!("{at}{whom} ({})", e.what)
    } else {
        format!("{at}{whom}: {why}")
    }
}

fn period(p: PerfPeriod) -> (u64, bool) {
    match p {
        PerfPeriod::Frequency(hz) => (hz, true),
        PerfPeriod::Nanoseconds(ns) => (ns, false),
    }
}

/// The programs of syscall tracepoints ([`Attach::Syscall`]), by direction and syscall
/// number, in the order they attach, until [`SyscallPrograms::attach`] attaches the
/// dispatchers that run them.
#[derive(Default)]
pub struct SyscallPrograms {
    enter: BTreeMap<u32, Vec<i32>>,
    exit: BTreeMap<u32, Vec<i32>>,
}

impl SyscallPrograms {
    fn add(&mut self, prog: &Program<'_>, targets: &[SyscallTarget], exit: bool) {
        let by_nr = if exit {
            &mut self.exit
        } else {
            &mut self.enter
        };
        for t in targets {
            by_nr.entry(t.nr).or_default().push(prog.fd());
        }
    }

    /// Attaches the dispatchers. A tail call does not return, so each syscall's first
    /// program sits in the first dispatcher's table, its second in the second's, and so
    /// on: the kernel runs a tracepoint's programs in the order they were attached, so
    /// several probes on one syscall run in script order.
    pub fn attach(self) -> Result<Vec<SyscallDispatcher>, SysError> {
        if self.enter.is_empty() && self.exit.is_empty() {
            return Ok(Vec::new());
        }
        let compat_status = compat_status_offset();
        let size = stdlib::syscalls::x86_64_count();
        let mut out = Vec::new();
        for (exit, by_nr) in [(false, &self.enter), (true, &self.exit)] {
            let depth = by_nr.values().map(Vec::len).max().unwrap_or(0);
            for level in 0..depth {
                let programs: Vec<(u32, i32)> = by_nr
                    .iter()
                    .filter_map(|(nr, progs)| progs.get(level).map(|fd| (*nr, *fd)))
                    .collect();
                out.push(SyscallDispatcher::attach(
                    exit,
                    size,
                    &programs,
                    compat_status,
                )?);
            }
        }
        Ok(out)
    }
}

/// Attaches `prog` to every target of `a`. Syscall tracepoints are only recorded in
/// `syscalls`, whose dispatchers attach once every program is known.
pub fn attach(
    prog: &Program<'_>,
    a: &Attach,
    pid: Option<u32>,
    syscalls: &mut SyscallPrograms,
) -> Result<Vec<Link>, SysError> {
    let pid = pid.map_or(-1, |p| p as i32);
    match a {
        // BEGIN, END, self:signal, benchmarks and tests run through BPF_PROG_TEST_RUN;
        // nothing attaches.
        Attach::Begin
        | Attach::End
        | Attach::Signal { .. }
        | Attach::Bench { .. }
        | Attach::Test { .. } => Ok(Vec::new()),
        Attach::Tracepoint { targets } => targets
            .iter()
            .map(|(c, e)| prog.attach_tracepoint(c, e))
            .collect(),
        // A BTF-typed raw tracepoint names its one event in its section, which libbpf
        // resolved when it loaded the program.
        Attach::Rawtracepoint { btf: true, .. } => Ok(vec![prog.attach_trace()?]),
        Attach::Rawtracepoint {
            targets,
            btf: false,
        } => targets
            .iter()
            .map(|t| prog.attach_raw_tracepoint(t))
            .collect(),
        Attach::Syscall { targets, exit } => {
            syscalls.add(prog, targets, *exit);
            Ok(Vec::new())
        }
        Attach::Kprobe {
            targets,
            ret,
            multi: true,
        } => {
            let symbols: Vec<(&str, u64)> = targets
                .iter()
                .map(|t| (t.symbol.as_str(), t.cookie))
                .collect();
            Ok(vec![prog.attach_kprobe_multi(*ret, &symbols)?])
        }
        Attach::Kprobe {
            targets,
            ret,
            multi: false,
        } => targets
            .iter()
            .map(|t| prog.attach_kprobe(*ret, &t.symbol, t.offset, t.cookie))
            .collect(),
        Attach::Uprobe {
            targets,
            ret,
            multi: true,
        } => uprobe_multi_by_binary(&runnable_uprobes(targets))
            .into_iter()
            .map(|(path, spots)| attach_uprobe_multi(prog, *ret, pid, path, targets, &spots))
            .collect::<Result<Vec<_>, _>>()
            .map(|links| links.into_iter().flatten().collect()),
        Attach::Uprobe {
            targets,
            ret,
            multi: false,
        } => attach_uprobes(prog, *ret, pid, &runnable_uprobes(targets)),
        Attach::Usdt { targets } => targets
            .iter()
            .map(|t| prog.attach_uprobe(false, pid, &t.path, t.offset, t.semaphore_offset, 0))
            .collect(),
        Attach::Profile { period: p } => {
            let (sample, freq) = period(*p);
            let attr = PerfEventAttr {
                type_: PERF_TYPE_SOFTWARE,
                config: SW_CPU_CLOCK,
                sample,
                freq,
                breakpoint: None,
                inherit: false,
            };
            perf_targets(pid)
                .into_iter()
                .map(|(tid, cpu)| prog.attach_perf_event_on(&attr, tid, cpu))
                .collect()
        }
        Attach::Interval { period: p } => {
            let (sample, freq) = period(*p);
            let attr = PerfEventAttr {
                type_: PERF_TYPE_SOFTWARE,
                config: SW_CPU_CLOCK,
                sample,
                freq,
                breakpoint: None,
                inherit: false,
            };
            Ok(vec![prog.attach_perf_event(&attr, 0)?])
        }
        Attach::Software { event, period } => {
            let attr = PerfEventAttr {
                type_: PERF_TYPE_SOFTWARE,
                config: *event,
                sample: *period,
                freq: false,
                breakpoint: None,
                inherit: false,
            };
            perf_targets(pid)
                .into_iter()
                .map(|(tid, cpu)| prog.attach_perf_event_on(&attr, tid, cpu))
                .collect()
        }
        Attach::Hardware { event, period } => {
            let attr = PerfEventAttr {
                type_: PERF_TYPE_HARDWARE,
                config: *event,
                sample: *period,
                freq: false,
                breakpoint: None,
                inherit: false,
            };
            perf_targets(pid)
                .into_iter()
                .map(|(tid, cpu)| prog.attach_perf_event_on(&attr, tid, cpu))
                .collect::<Result<_, _>>()
                .map_err(|mut e| {
                    // ENOENT/EOPNOTSUPP: the CPU (or hypervisor) offers no such counter.
                    if e.errno == libc::ENOENT || e.errno == libc::EOPNOTSUPP {
                        let name = stdlib::probes::HARDWARE_EVENTS
                            .iter()
                            .find(|e| e.config == *event)
                            .map_or("this", |e| e.name);
                        e.what = format!(
                            "hardware event {name} is not available: this machine exposes no such performance counter (virtual machines often have none); software events such as software:cpu-clock work everywhere"
                        );
                    }
                    e
                })
        }
        Attach::Watchpoint { addr, len, access } => {
            let attr = PerfEventAttr {
                type_: PERF_TYPE_BREAKPOINT,
                config: 0,
                sample: 1,
                freq: false,
                breakpoint: Some(Breakpoint {
                    access: *access,
                    addr: *addr,
                    len: *len,
                }),
                inherit: pid >= 0,
            };
            // A perf event watches one thread (and, inherited, the threads it creates
            // later), so a running process is watched in each of its threads; without a
            // process the breakpoint is a kernel address, watched on every CPU.
            perf_targets(pid)
                .into_iter()
                .map(|(tid, cpu)| prog.attach_perf_event_on(&attr, tid, cpu))
                .collect::<Result<_, _>>()
                .map_err(|mut e| {
                    e.what = watchpoint_error(&e, *addr, *len, *access, pid);
                    e
                })
        }
        Attach::Kfunc { .. } | Attach::BpfFunc { .. } => prog.attach_trace().map(|l| vec![l]),
        Attach::Iter { .. } => prog.attach_iter().map(|l| vec![l]),
    }
}

/// The offset of `thread_info.status` from a task's address (`task_struct.thread_info` plus
/// the member's offset), from the running kernel's BTF; `None` when BTF lacks either.
fn compat_status_offset() -> Option<i32> {
    let btf = Btf::open(std::path::Path::new(btf::VMLINUX_BTF)).ok()?;
    let task = btf.member_byte_offset("task_struct", "thread_info")?;
    let status = btf.member_byte_offset("thread_info", "status")?;
    i32::try_from(task + status).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use stdlib::manifest::{Program, UsdtTarget};

    fn usdt(probe_index: u32, offset: u64) -> Program {
        Program {
            name: format!("usdt_{offset}"),
            attach: Attach::Usdt {
                targets: vec![UsdtTarget {
                    path: "/bin/x".into(),
                    provider: "p".into(),
                    name: "n".into(),
                    offset,
                    semaphore_offset: 0,
                    args: Vec::new(),
                }],
            },
            probe_index,
        }
    }

    #[test]
    fn usdt_locations_of_one_probe_count_once() {
        let tracepoints = Program {
            name: "tracepoint_0".into(),
            attach: Attach::Tracepoint {
                targets: vec![("a".into(), "b".into()), ("a".into(), "c".into())],
            },
            probe_index: 0,
        };
        let programs = [tracepoints, usdt(2, 1), usdt(2, 2), usdt(3, 3)];
        assert_eq!(probe_count(&programs), 4);
    }

    fn target(path: &str, symbol: &str, offset: u64) -> stdlib::manifest::UprobeTarget {
        stdlib::manifest::UprobeTarget {
            path: path.into(),
            symbol: symbol.into(),
            offset,
            cookie: offset + 100,
        }
    }

    #[test]
    fn uprobe_multi_links_group_by_binary_and_keep_aliases() {
        let targets = [
            target("/a", "write", 16),
            target("/b", "f", 1),
            target("/a", "__write", 16),
            target("/a", "read", 32),
        ];
        // Each offset keeps its target's cookie.
        assert_eq!(
            uprobe_multi_by_binary(&targets),
            [
                ("/a", vec![(16, 116), (16, 116), (32, 132)]),
                ("/b", vec![(1, 101)])
            ]
        );
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn first_instructions_the_kernel_refuses_or_runs_wrongly() {
        let code: &[u8] = &[
            0xf0, 0x0f, 0xba, 0xaf, // 0: lock btsl
            0xc5, 0xf9, 0x6e, 0xc6, // 4: vmovd (VEX)
            0x66, 0x2e, 0x0f, 0x1f, // 8: cs nopw (segment override after 0x66)
            0x62, 0xe2, 0x7d, 0x28, // 12: vpbroadcastb (EVEX)
            0xf3, 0x0f, 0x1e, 0xfa, // 16: endbr64
            0x55, 0x48, 0x89, 0xe5, // 20: push %rbp; mov %rsp,%rbp
            0x66, 0x62, // 24: EVEX after a legacy prefix
        ];
        let suspects: Vec<usize> = (0..27).filter(|o| suspect(&code[*o..])).collect();
        let evexes: Vec<usize> = (0..27).filter(|o| evex(&code[*o..])).collect();
        assert!(suspects.contains(&0) && suspects.contains(&4) && suspects.contains(&8));
        assert!(!suspects.contains(&12) && !suspects.contains(&16) && !suspects.contains(&20));
        assert_eq!(evexes, [12, 24, 25]);
        // Past the end of the file: nothing to look at.
        assert!(!suspect(&[]) && !evex(&[]));
        assert!(instruction_at(None, 0).is_empty());
    }

    #[test]
    fn uprobe_family_attaches_last_first() {
        let begin = Program {
            name: "begin".into(),
            attach: Attach::Begin,
            probe_index: 0,
        };
        let programs = [usdt(1, 1), begin, usdt(2, 2)];
        let names: Vec<&str> = attach_order(&programs)
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["begin", "usdt_2", "usdt_1"]);
    }
}

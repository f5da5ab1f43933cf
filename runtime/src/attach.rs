//! Attaching one program to every target of its `Attach`: one place per probe type.

use crate::sys::{Breakpoint, Link, PerfEventAttr, Program, SysError};
use stdlib::manifest::{Attach, PerfPeriod};

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
        | Attach::Kprobe { .. }
        | Attach::Profile { .. }
        | Attach::Interval { .. }
        | Attach::Software { .. }
        | Attach::Hardware { .. }
        | Attach::Watchpoint { .. }
        | Attach::Kfunc { .. }
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

pub fn attach(prog: &Program<'_>, a: &Attach, pid: Option<u32>) -> Result<Vec<Link>, SysError> {
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
        Attach::Rawtracepoint { targets } => targets
            .iter()
            .map(|t| prog.attach_raw_tracepoint(t))
            .collect(),
        Attach::Kprobe {
            targets,
            ret,
            multi: true,
        } => {
            let symbols: Vec<&str> = targets.iter().map(|t| t.symbol.as_str()).collect();
            Ok(vec![prog.attach_kprobe_multi(*ret, &symbols)?])
        }
        Attach::Kprobe {
            targets,
            ret,
            multi: false,
        } => targets
            .iter()
            .map(|t| prog.attach_kprobe(*ret, &t.symbol, t.offset))
            .collect(),
        // A member of a zip archive (`app.zip!/lib/x.so`) is probed in the archive file, at
        // the offset the catalog computed from the archive's start.
        Attach::Uprobe { targets, ret } => targets
            .iter()
            .map(|t| {
                let file =
                    crate::introspect::zip::split(&t.path).map_or(t.path.as_str(), |(a, _)| a);
                prog.attach_uprobe(*ret, pid, file, t.offset, 0)
            })
            .collect(),
        Attach::Usdt { targets } => targets
            .iter()
            .map(|t| prog.attach_uprobe(false, pid, &t.path, t.offset, t.semaphore_offset))
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
        Attach::Kfunc { .. } => prog.attach_trace().map(|l| vec![l]),
        Attach::Iter { .. } => prog.attach_iter().map(|l| vec![l]),
    }
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

//! The probe kinds (providers) bpftrace knows, and the one table that says what each kind is:
//! its spellings, what its program's context points at, which address space its pointers
//! default to, how its ELF section is named, and where `-l` lists it from. The checker,
//! codegen and the runtime read this table instead of matching providers themselves; what is
//! truly specific to a kind (parsing its attach point, attaching it) stays in
//! `lang::check::attach` and `runtime::attach`. Which builtins are valid in which kind is the
//! builtin table's business (`builtins.rs`), not this one's.

use crate::types::AddrSpace;
use serde::Serialize;

/// Declares `Provider` and `Provider::ALL` from one list, so `ALL` cannot miss a variant.
macro_rules! providers {
    ($($variant:ident),* $(,)?) => {
        /// Every provider bpftrace knows, aliases folded (`k` → `Kprobe`, `fentry` → `Kfunc`, …).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum Provider {
            $($variant),*
        }

        impl Provider {
            /// Every provider, in declaration order.
            pub const ALL: &'static [Provider] = &[$(Provider::$variant),*];
        }
    };
}

providers!(
    Begin,
    End,
    SelfProbe,
    Kprobe,
    Kretprobe,
    Uprobe,
    Uretprobe,
    Usdt,
    Tracepoint,
    Rawtracepoint,
    Kfunc,
    Kretfunc,
    Profile,
    Interval,
    Software,
    Hardware,
    Watchpoint,
    Asyncwatchpoint,
    Iter,
    Bench,
    Test,
);

/// What a program's context argument (`ctx`) points at, which decides how its arguments,
/// `func` and `retval` are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Context {
    /// Nothing rbt reads as arguments: BEGIN and END run through BPF_PROG_TEST_RUN with no
    /// arguments; an iterator's context is a BTF record that `ctx` points at.
    None,
    /// `struct pt_regs *`: kprobe, uprobe and usdt read registers.
    PtRegs,
    /// A tracepoint record: `args` fields at the fixed offsets of its tracefs format.
    Tracepoint,
    /// An array of u64 arguments: raw tracepoint arguments, or the BTF-typed arguments (and
    /// return value) of an fentry/fexit function.
    U64Array,
    /// `struct bpf_perf_event_data *`: profile, interval, software and hardware events.
    PerfEvent,
}

/// The kernel's type of a program, which libbpf derives from its section: it decides which
/// helpers and kernel functions (kfuncs) the program may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ProgramType {
    /// kprobes, uprobes and USDT probes.
    Kprobe,
    /// Perf tracepoints.
    Tracepoint,
    /// Raw tracepoints without BTF types, BEGIN/END and the other test-run probes, and
    /// syscall tracepoints dispatched by number.
    RawTracepoint,
    /// Perf events: profile, interval, software, hardware, watchpoints.
    PerfEvent,
    /// BTF-typed programs: fentry/fexit, iterators, raw tracepoints the kernel's BTF types.
    Tracing,
}

/// How a kind's ELF section is named; the section tells libbpf the program type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Always this name.
    Fixed(&'static str),
    /// kprobe and uprobe programs: this name when each target gets its own probe,
    /// `<name>.multi` when targets share one kprobe_multi or uprobe_multi link.
    Multi(&'static str),
    /// `<prefix>/<target>`: libbpf resolves the one target named in the section (the kernel
    /// function of fentry/fexit) when it loads the program.
    Target(&'static str),
    /// `<typed>/<target>` for a program whose one target the kernel's BTF types (a raw
    /// tracepoint loaded as libbpf's `tp_btf`), else `plain`.
    Typed {
        plain: &'static str,
        typed: &'static str,
    },
}

/// A `perf_event` software or hardware event: its name, an optional short alias, its
/// `perf_event_attr.config` and the sample period used when the script gives none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerfEvent {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub config: u64,
    pub default_period: u64,
}

const fn perf(
    name: &'static str,
    alias: Option<&'static str>,
    config: u64,
    default_period: u64,
) -> PerfEvent {
    PerfEvent {
        name,
        alias,
        config,
        default_period,
    }
}

/// `software:` events (`enum perf_sw_ids`).
pub const SOFTWARE_EVENTS: &[PerfEvent] = &[
    perf("cpu-clock", Some("cpu"), 0, 1_000_000),
    perf("task-clock", None, 1, 1),
    perf("page-faults", Some("faults"), 2, 100),
    perf("context-switches", Some("cs"), 3, 1000),
    perf("cpu-migrations", None, 4, 1),
    perf("minor-faults", None, 5, 100),
    perf("major-faults", None, 6, 1),
    perf("alignment-faults", None, 7, 1),
    perf("emulation-faults", None, 8, 1),
    perf("dummy", None, 9, 1),
    perf("bpf-output", None, 10, 1),
];

/// `hardware:` events (`enum perf_hw_id`).
pub const HARDWARE_EVENTS: &[PerfEvent] = &[
    perf("cpu-cycles", Some("cycles"), 0, 1_000_000),
    perf("instructions", None, 1, 1_000_000),
    perf("cache-references", None, 2, 1_000_000),
    perf("cache-misses", None, 3, 1_000_000),
    perf("branch-instructions", Some("branches"), 4, 100_000),
    perf("branch-misses", None, 5, 100_000),
    perf("bus-cycles", None, 6, 100_000),
    perf("frontend-stalls", None, 7, 1_000_000),
    perf("backend-stalls", None, 8, 1_000_000),
    perf("ref-cycles", None, 9, 1_000_000),
];

/// The iterators bpftrace lists and rbt runs (0.17 had the first two; 0.2x added task_vma).
pub const ITERATORS: &[&str] = &["task", "task_file", "task_vma"];

/// Where `rbt -l` finds the probes of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// BEGIN and END: one probe each, nothing to list.
    Nothing,
    /// Attach points are parameters (a watchpoint address), not names.
    Parameters,
    /// tracefs `available_events` (`-lv`: each event's format fields).
    Tracefs,
    /// Probeable kernel functions: `available_filter_functions`, else kallsyms.
    Kallsyms,
    /// Functions in the BTF of vmlinux and of each module (`-lv`: parameters and return type).
    BtfFunctions,
    /// Raw tracepoints in vmlinux BTF (`-lv`: their parameters).
    BtfRawTracepoints,
    /// Function symbols of ELF files (a path, or the objects mapped by `-p PID`).
    ElfSymbols,
    /// `.note.stapsdt` notes of ELF files (a path, or the objects mapped by `-p PID`).
    UsdtNotes,
    /// A fixed table of perf events, aliases included.
    PerfEvents(&'static [PerfEvent]),
    /// A fixed list of names.
    Names(&'static [&'static str]),
    /// Attach points are a unit and a number (`interval:s:1`): `-l` lists each unit with the
    /// number left empty (`interval:s:`), as bpftrace 0.27 does.
    Units(&'static [&'static str]),
}

/// The units `-l` lists for `profile` and `interval` (the checker also takes `ns`, which
/// bpftrace 0.27 does not list).
pub const PERIOD_UNITS: &[&str] = &["hz", "ms", "s", "us"];

/// One record per probe kind: everything about it that is data rather than code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeKind {
    /// Every spelling bpftrace accepts, canonical (long) name first.
    pub spellings: &'static [&'static str],
    pub context: Context,
    /// Where pointers read in this kind's probes point unless a cast says otherwise.
    pub space: AddrSpace,
    pub section: Section,
    pub listing: Listing,
    /// Whether `-l` lists this kind with no provider or a wildcard one. Return probes are
    /// left out as in bpftrace 0.17; user-space kinds are listed only with `-p PID`.
    pub wildcard: bool,
    /// How many fields an attach point takes, as bpftrace 0.17's listing errors word it.
    pub fields: &'static str,
    /// The type its programs load as (a raw tracepoint whose event the kernel's BTF types
    /// loads as [`ProgramType::Tracing`] instead, `Section::Typed`'s `typed` form).
    pub program: ProgramType,
}

impl Provider {
    /// This kind's record. To add a probe kind, add its variant and its record here.
    pub const fn kind(self) -> ProbeKind {
        use AddrSpace::{Kernel, User};
        match self {
            // BEGIN and END run through BPF_PROG_TEST_RUN, which raw tracepoint programs allow.
            Provider::Begin => ProbeKind {
                spellings: &["BEGIN", "begin"],
                context: Context::None,
                space: Kernel,
                section: Section::Fixed("raw_tp"),
                listing: Listing::Nothing,
                wildcard: false,
                fields: "1",
                program: ProgramType::RawTracepoint,
            },
            Provider::End => ProbeKind {
                spellings: &["END", "end"],
                context: Context::None,
                space: Kernel,
                section: Section::Fixed("raw_tp"),
                listing: Listing::Nothing,
                wildcard: false,
                fields: "1",
                program: ProgramType::RawTracepoint,
            },
            // `self:signal:SIGUSR1` (bpftrace 0.22+): run like BEGIN, through
            // BPF_PROG_TEST_RUN, each time rbt receives the signal.
            Provider::SelfProbe => ProbeKind {
                spellings: &["self"],
                context: Context::None,
                space: Kernel,
                section: Section::Fixed("raw_tp"),
                listing: Listing::Names(&["signal:SIGUSR1"]),
                wildcard: false,
                fields: "2",
                program: ProgramType::RawTracepoint,
            },
            Provider::Kprobe => ProbeKind {
                spellings: &["kprobe", "k"],
                context: Context::PtRegs,
                space: Kernel,
                section: Section::Multi("kprobe"),
                listing: Listing::Kallsyms,
                wildcard: true,
                fields: "1",
                program: ProgramType::Kprobe,
            },
            Provider::Kretprobe => ProbeKind {
                spellings: &["kretprobe", "kr"],
                context: Context::PtRegs,
                space: Kernel,
                section: Section::Multi("kretprobe"),
                listing: Listing::Kallsyms,
                wildcard: false,
                fields: "1",
                program: ProgramType::Kprobe,
            },
            Provider::Uprobe => ProbeKind {
                spellings: &["uprobe", "u"],
                context: Context::PtRegs,
                space: User,
                section: Section::Multi("uprobe"),
                listing: Listing::ElfSymbols,
                wildcard: true,
                fields: "2",
                program: ProgramType::Kprobe,
            },
            Provider::Uretprobe => ProbeKind {
                spellings: &["uretprobe", "ur"],
                context: Context::PtRegs,
                space: User,
                section: Section::Multi("uretprobe"),
                listing: Listing::ElfSymbols,
                wildcard: false,
                fields: "2",
                program: ProgramType::Kprobe,
            },
            // A USDT probe is a uprobe at the note's address.
            Provider::Usdt => ProbeKind {
                spellings: &["usdt", "U"],
                context: Context::PtRegs,
                space: User,
                section: Section::Fixed("uprobe"),
                listing: Listing::UsdtNotes,
                wildcard: true,
                fields: "2 or 3",
                program: ProgramType::Kprobe,
            },
            Provider::Tracepoint => ProbeKind {
                spellings: &["tracepoint", "t"],
                context: Context::Tracepoint,
                space: Kernel,
                section: Section::Fixed("tracepoint"),
                listing: Listing::Tracefs,
                wildcard: true,
                fields: "2",
                program: ProgramType::Tracepoint,
            },
            Provider::Rawtracepoint => ProbeKind {
                spellings: &["rawtracepoint", "rt"],
                context: Context::U64Array,
                space: Kernel,
                section: Section::Typed {
                    plain: "raw_tp",
                    typed: "tp_btf",
                },
                listing: Listing::BtfRawTracepoints,
                wildcard: true,
                fields: "1 or 2",
                program: ProgramType::RawTracepoint,
            },
            Provider::Kfunc => ProbeKind {
                // bpftrace 0.27 names these fentry/fexit (listings, messages); kfunc and
                // kretfunc stay accepted as the 0.17 spellings.
                spellings: &["fentry", "kfunc", "f"],
                context: Context::U64Array,
                space: Kernel,
                section: Section::Target("fentry"),
                listing: Listing::BtfFunctions,
                wildcard: true,
                fields: "1 or 2",
                program: ProgramType::Tracing,
            },
            Provider::Kretfunc => ProbeKind {
                spellings: &["fexit", "kretfunc", "fr"],
                context: Context::U64Array,
                space: Kernel,
                section: Section::Target("fexit"),
                listing: Listing::BtfFunctions,
                wildcard: false,
                fields: "1 or 2",
                program: ProgramType::Tracing,
            },
            Provider::Profile => ProbeKind {
                spellings: &["profile", "p"],
                context: Context::PerfEvent,
                space: Kernel,
                section: Section::Fixed("perf_event"),
                listing: Listing::Units(PERIOD_UNITS),
                wildcard: false,
                fields: "2",
                program: ProgramType::PerfEvent,
            },
            Provider::Interval => ProbeKind {
                spellings: &["interval", "i"],
                context: Context::PerfEvent,
                space: Kernel,
                section: Section::Fixed("perf_event"),
                listing: Listing::Units(PERIOD_UNITS),
                wildcard: false,
                fields: "2",
                program: ProgramType::PerfEvent,
            },
            Provider::Software => ProbeKind {
                spellings: &["software", "s"],
                context: Context::PerfEvent,
                space: Kernel,
                section: Section::Fixed("perf_event"),
                listing: Listing::PerfEvents(SOFTWARE_EVENTS),
                wildcard: true,
                fields: "1 or 2",
                program: ProgramType::PerfEvent,
            },
            Provider::Hardware => ProbeKind {
                spellings: &["hardware", "h"],
                context: Context::PerfEvent,
                space: Kernel,
                section: Section::Fixed("perf_event"),
                listing: Listing::PerfEvents(HARDWARE_EVENTS),
                wildcard: true,
                fields: "1 or 2",
                program: ProgramType::PerfEvent,
            },
            // Watchpoints are hardware breakpoints, which are perf events.
            Provider::Watchpoint => ProbeKind {
                spellings: &["watchpoint", "w"],
                context: Context::PerfEvent,
                space: Kernel,
                section: Section::Fixed("perf_event"),
                listing: Listing::Parameters,
                wildcard: false,
                fields: "3",
                program: ProgramType::PerfEvent,
            },
            Provider::Asyncwatchpoint => ProbeKind {
                spellings: &["asyncwatchpoint", "aw"],
                context: Context::PerfEvent,
                space: Kernel,
                section: Section::Fixed("perf_event"),
                listing: Listing::Parameters,
                wildcard: false,
                fields: "3",
                program: ProgramType::PerfEvent,
            },
            Provider::Iter => ProbeKind {
                spellings: &["iter", "it"],
                context: Context::None,
                space: Kernel,
                section: Section::Target("iter"),
                listing: Listing::Names(ITERATORS),
                wildcard: true,
                fields: "1",
                program: ProgramType::Tracing,
            },
            // `bench:name` and `test:name` run like BEGIN, only with `--bench`/`--test`:
            // a benchmark many times, timed; a test once, failing when it exits non-zero.
            Provider::Bench => ProbeKind {
                spellings: &["bench"],
                context: Context::None,
                space: Kernel,
                section: Section::Fixed("raw_tp"),
                listing: Listing::Nothing,
                wildcard: false,
                fields: "1",
                program: ProgramType::RawTracepoint,
            },
            Provider::Test => ProbeKind {
                spellings: &["test"],
                context: Context::None,
                space: Kernel,
                section: Section::Fixed("raw_tp"),
                listing: Listing::Nothing,
                wildcard: false,
                fields: "1",
                program: ProgramType::RawTracepoint,
            },
        }
    }

    /// The provider a spelling names, if any. As in bpftrace 0.24+, full names are
    /// case-insensitive (`BEGIN`, `Interval`); the one- and two-letter abbreviations are not,
    /// since `u` and `U` name different providers.
    pub fn from_name(name: &str) -> Option<Provider> {
        let spelled = |p: &Provider| {
            p.kind()
                .spellings
                .iter()
                .any(|s| *s == name || (s.len() > 2 && s.eq_ignore_ascii_case(name)))
        };
        Provider::ALL.iter().copied().find(spelled)
    }

    /// The canonical (long) name, as bpftrace prints it in listings.
    pub fn name(self) -> &'static str {
        self.kind().spellings.first().copied().unwrap_or("")
    }

    /// The kind as bpftrace 0.27's `probetype` builtin names it: BEGIN and END are
    /// `special`, kfunc and kretfunc go by their 0.2x names `fentry` and `fexit`.
    pub fn probetype(self) -> &'static str {
        match self {
            Provider::Begin | Provider::End | Provider::SelfProbe => "special",
            Provider::Kfunc => "fentry",
            Provider::Kretfunc => "fexit",
            Provider::Kprobe
            | Provider::Kretprobe
            | Provider::Uprobe
            | Provider::Uretprobe
            | Provider::Usdt
            | Provider::Tracepoint
            | Provider::Rawtracepoint
            | Provider::Profile
            | Provider::Interval
            | Provider::Software
            | Provider::Hardware
            | Provider::Watchpoint
            | Provider::Asyncwatchpoint
            | Provider::Iter
            | Provider::Bench
            | Provider::Test => self.name(),
        }
    }

    /// Whether this kind's probes have no address space of their own in bpftrace (BEGIN,
    /// END, timers, perf events, watchpoints, tests): a pointer read there that is not
    /// marked as a user one goes through the read that picks kernel or user memory by the
    /// address, as bpftrace's reads there do (a null pointer fails with EFAULT, as it does
    /// there, where a kernel read would say ERANGE).
    pub fn reads_by_address(self) -> bool {
        match self {
            Provider::Begin
            | Provider::End
            | Provider::SelfProbe
            | Provider::Profile
            | Provider::Interval
            | Provider::Software
            | Provider::Hardware
            | Provider::Watchpoint
            | Provider::Asyncwatchpoint
            | Provider::Bench
            | Provider::Test => true,
            Provider::Kprobe
            | Provider::Kretprobe
            | Provider::Kfunc
            | Provider::Kretfunc
            | Provider::Uprobe
            | Provider::Uretprobe
            | Provider::Usdt
            | Provider::Tracepoint
            | Provider::Rawtracepoint
            | Provider::Iter => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every spelling names exactly one provider, and each provider's canonical name is its own.
    #[test]
    fn spellings_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &p in Provider::ALL {
            assert!(!p.kind().spellings.is_empty(), "{p:?} has no spelling");
            for s in p.kind().spellings {
                assert!(seen.insert(*s), "{s} names two providers");
                assert_eq!(Provider::from_name(s), Some(p));
            }
        }
    }

    /// Each kind's program type is the one libbpf gives its section (a typed raw tracepoint,
    /// `tp_btf`, is a tracing program; its plain form is not).
    #[test]
    fn program_types_agree_with_sections() {
        for &p in Provider::ALL {
            let k = p.kind();
            let libbpf = match k.section {
                Section::Fixed("raw_tp")
                | Section::Typed {
                    plain: "raw_tp", ..
                } => ProgramType::RawTracepoint,
                Section::Fixed("uprobe") | Section::Multi(_) => ProgramType::Kprobe,
                Section::Fixed("tracepoint") => ProgramType::Tracepoint,
                Section::Fixed("perf_event") => ProgramType::PerfEvent,
                Section::Target(_) => ProgramType::Tracing,
                Section::Fixed(other) | Section::Typed { plain: other, .. } => {
                    panic!("{p:?}: section {other} has no program type here")
                }
            };
            assert_eq!(k.program, libbpf, "{p:?}");
        }
    }
}

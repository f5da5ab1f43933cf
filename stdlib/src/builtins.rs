//! The one table of builtin variables and functions. Each builtin has one record (`Spec`)
//! carrying its name, its kind, how many arguments a call takes, whether it needs `--unsafe`
//! and the probe kinds where it is valid; the checker's rules and their messages are derived
//! from that record, so a rule and its help text cannot drift apart. `lang` resolves a name to
//! one of these enums once; every later stage matches on the enum exhaustively, never on the
//! string.

use crate::probes::Provider;
use serde::{Deserialize, Serialize};

/// What a builtin is, which decides where a script may use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value computed in the probe (`pid`, `str()`, `ntop()`).
    Value,
    /// A call that is a statement of its own and has no value (`printf()`, `delete()`).
    Statement,
    /// A map aggregation, valid only as `@map[key] = count()`.
    Aggregation,
    /// A value the checker computes, so codegen sees a literal (`kaddr()`, `pton()`, `cpid`).
    CompileTime,
}

/// How many arguments a call takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arity {
    pub min: usize,
    /// `usize::MAX`: any number (`printf`'s arguments after the format).
    pub max: usize,
}

impl Arity {
    const fn exactly(n: usize) -> Arity {
        Arity { min: n, max: n }
    }

    const fn range(min: usize, max: usize) -> Arity {
        Arity { min, max }
    }

    const fn at_least(min: usize) -> Arity {
        Arity {
            min,
            max: usize::MAX,
        }
    }

    pub fn accepts(self, n: usize) -> bool {
        (self.min..=self.max).contains(&n)
    }

    /// "1 argument", "at most 1 argument", "1 or 2 arguments", "1 to 3 arguments", "at least 1
    /// argument".
    pub fn describe(self) -> String {
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        match (self.min, self.max) {
            (min, max) if min == max => format!("{min} {}", plural(min)),
            (min, usize::MAX) => format!("at least {min} {}", plural(min)),
            (0, max) => format!("at most {max} {}", plural(max)),
            (min, max) if max == min + 1 => format!("{min} or {max} arguments"),
            (min, max) => format!("{min} to {max} arguments"),
        }
    }
}

/// The probes where a builtin is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Valid {
    Anywhere,
    /// Only in probes of these kinds.
    In(&'static [Provider]),
    /// In every probe except those of these kinds.
    Except(&'static [Provider]),
}

impl Valid {
    /// Whether a builtin with this rule may be used in a probe of kind `probe` (None: not in
    /// a probe).
    pub fn allows(self, probe: Option<Provider>) -> bool {
        match self {
            Valid::Anywhere => true,
            Valid::In(kinds) => probe.is_some_and(|p| kinds.contains(&p)),
            Valid::Except(kinds) => !probe.is_some_and(|p| kinds.contains(&p)),
        }
    }
}

/// The one record describing a builtin variable or function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// The name a script uses (`argN` for the `arg0`, `arg1`, … family).
    pub name: &'static str,
    pub kind: Kind,
    /// The arguments a call takes; `None` for a variable that is not also a call (`pid`;
    /// `pid()` still reads the variable, as in bpftrace).
    pub args: Option<Arity>,
    /// How a call is written, shown when its arguments are wrong.
    pub usage: &'static str,
    /// Whether it may only be used with `--unsafe`.
    pub needs_unsafe: bool,
    pub valid: Valid,
    /// Why it is limited to those probes, added to the help of a misplaced use.
    pub why: Option<&'static str>,
}

impl Spec {
    const fn new(name: &'static str, kind: Kind, args: Option<Arity>, usage: &'static str) -> Spec {
        Spec {
            name,
            kind,
            args,
            usage,
            needs_unsafe: false,
            valid: Valid::Anywhere,
            why: None,
        }
    }

    /// A builtin variable, valid in every probe.
    const fn variable(name: &'static str) -> Spec {
        Spec::new(name, Kind::Value, None, name)
    }

    /// A function computing a value.
    const fn value(name: &'static str, args: Arity, usage: &'static str) -> Spec {
        Spec::new(name, Kind::Value, Some(args), usage)
    }

    /// A function whose value the checker computes.
    const fn compile_time(name: &'static str, args: Arity, usage: &'static str) -> Spec {
        Spec::new(name, Kind::CompileTime, Some(args), usage)
    }

    /// A function that is a statement of its own.
    const fn statement(name: &'static str, args: Arity, usage: &'static str) -> Spec {
        Spec::new(name, Kind::Statement, Some(args), usage)
    }

    /// An aggregation (`@m = name(...)`).
    const fn aggregation(name: &'static str, args: Arity, usage: &'static str) -> Spec {
        Spec::new(name, Kind::Aggregation, Some(args), usage)
    }

    const fn valid(self, valid: Valid) -> Spec {
        Spec { valid, ..self }
    }

    const fn only_in(self, kinds: &'static [Provider]) -> Spec {
        self.valid(Valid::In(kinds))
    }

    const fn why(self, why: &'static str) -> Spec {
        Spec {
            why: Some(why),
            ..self
        }
    }

    const fn needs_unsafe(self) -> Spec {
        Spec {
            needs_unsafe: true,
            ..self
        }
    }

    /// The help for a use outside the probes where the builtin is valid, generated from the
    /// rule; `shown` is the name as the script wrote it (`arg3`, `uaddr()`).
    pub fn valid_help(&self, shown: &str) -> String {
        let text = match self.valid {
            Valid::Anywhere => format!("{shown} exists in every probe"),
            Valid::In(kinds) => format!("{shown} exists in {} probes", list(kinds)),
            Valid::Except(kinds) => {
                format!(
                    "{shown} exists in every probe except {} probes",
                    list(kinds)
                )
            }
        };
        match self.why {
            Some(why) => format!("{text}: {why}"),
            None => text,
        }
    }
}

/// "a", "a and b", "a, b and c".
fn list(kinds: &[Provider]) -> String {
    let names: Vec<&str> = kinds.iter().map(|p| p.name()).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// Probes whose context starts with registers (`struct pt_regs`): the traced function's
/// (kprobes, uprobes, USDT), or those of the code a perf event interrupted
/// (`struct bpf_perf_event_data` begins with them), as bpftrace 0.27 reads them.
const PT_REGS_PROBES: &[Provider] = &[
    Provider::Kprobe,
    Provider::Kretprobe,
    Provider::Uprobe,
    Provider::Uretprobe,
    Provider::Usdt,
    Provider::Profile,
    Provider::Interval,
    Provider::Software,
    Provider::Hardware,
    Provider::Watchpoint,
    Provider::Asyncwatchpoint,
];

/// Probes that run in the task whose event they trace, so that `signal()` reaches it; as in
/// bpftrace, not BEGIN/END/self, timers (`interval`, `software`, `hardware`), watchpoints,
/// iterators or tests.
const TASK_PROBES: &[Provider] = &[
    Provider::Kprobe,
    Provider::Kretprobe,
    Provider::Uprobe,
    Provider::Uretprobe,
    Provider::Usdt,
    Provider::Tracepoint,
    Provider::Rawtracepoint,
    Provider::Kfunc,
    Provider::Kretfunc,
    Provider::Profile,
];

const TASK_PROBES_WHY: &str = "the signal goes to the task the probe fired in";

/// Probes that load as tracing programs, whose arguments the kernel's BTF types: fentry,
/// fexit and raw tracepoints (those BTF does not describe load as plain raw tracepoint
/// programs, which the checker refuses for these builtins on its own).
const TRACING_PROBES: &[Provider] = &[Provider::Kfunc, Provider::Kretfunc, Provider::Rawtracepoint];

/// The pid namespace `pid(...)` and `tid(...)` count in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PidNs {
    /// The initial namespace (`pid(init)`): what the kernel calls the process's tgid.
    Init,
    /// rbt's own namespace (`pid(curr_ns)`, and bare `pid`, as in bpftrace 0.2x), before the
    /// checker resolves it: to `Init` when rbt runs in the initial namespace, where both
    /// count the same, or to the namespace's identity.
    Current,
    /// A namespace named by the device and inode of its `/proc/PID/ns/pid` file (the
    /// device in the kernel's `dev_t` encoding), which `bpf_get_ns_current_pid_tgid` takes.
    Named { dev: u64, ino: u64 },
}

/// The clock `nsecs(...)` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Clock {
    /// Since boot, counting suspend (`nsecs(boot)`, and bare `nsecs`, as in bpftrace 0.2x).
    Boot,
    /// Since boot, not counting suspend (`nsecs(monotonic)`).
    Monotonic,
    /// International Atomic Time (`nsecs(tai)`), from the kernel's TAI clock.
    Tai,
    /// TAI computed from the boot clock and the offset between the two when the script
    /// is compiled (`nsecs(sw_tai)`), for kernels without the TAI helper.
    SwTai,
}

impl Clock {
    /// Every clock and the name a script gives it.
    pub const NAMES: &'static [(&'static str, Clock)] = &[
        ("boot", Clock::Boot),
        ("monotonic", Clock::Monotonic),
        ("tai", Clock::Tai),
        ("sw_tai", Clock::SwTai),
    ];
}

/// Builtin variables (`pid`, `comm`, `arg0`, …). `kstack` and `ustack` are also calls with a
/// mode and a depth (`kstack(perf, 5)`), `pid`/`tid` with a namespace and `nsecs` with a
/// clock; bare, they take the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Builtin {
    Pid(PidNs),
    Tid(PidNs),
    Uid,
    Gid,
    Nsecs(Clock),
    Elapsed,
    Cpu,
    Numaid,
    Comm,
    Cgroup,
    Rand,
    Curtask,
    Probe,
    Func,
    Username,
    Kstack,
    Ustack,
    /// The user stack unwound with DWARF CFI, for code built without frame pointers.
    DwUstack,
    /// `arg0`..`arg9`…
    Arg(u8),
    /// `sarg0`..`sarg9`: stack arguments.
    Sarg(u8),
    Retval,
    Args,
    Ctx,
    Cpid,
    Jiffies,
    /// The number of online CPUs: known when the script is compiled, read when it runs in a
    /// compiled file.
    Ncpus,
    /// 1 when the probe fired while the CPU ran user code, else 0.
    Usermode,
    /// The parent process's pid.
    Ppid,
    /// The parent process's command name.
    Pcomm,
    /// The kind of probe, as a string (`"tracepoint"`; `"special"` for BEGIN and END).
    Probetype,
    /// The thread id of the current thread group's leader (the main thread).
    LeaderTid,
    /// The command name of the current thread group's leader.
    LeaderComm,
    /// Whether `-c` started a command, so `cpid` has a value.
    HasCpid,
    /// The bytes a string `str()` reads can hold: its buffer, sized by `max_strlen` (with
    /// the truncation trailer and the NUL), as `strcap(str(p))` gives.
    DefaultStrLength,
    /// The script's settings (`config()`, bpftrace 0.27): a record of each config
    /// variable's value, known when the script is compiled.
    Config,
}

impl Builtin {
    /// Every builtin variable with a fixed name (argN/sargN are matched by prefix).
    pub const NAMED: &'static [Builtin] = &[
        Builtin::Pid(PidNs::Current),
        Builtin::Tid(PidNs::Current),
        Builtin::Uid,
        Builtin::Gid,
        Builtin::Nsecs(Clock::Boot),
        Builtin::Elapsed,
        Builtin::Cpu,
        Builtin::Numaid,
        Builtin::Comm,
        Builtin::Cgroup,
        Builtin::Rand,
        Builtin::Curtask,
        Builtin::Probe,
        Builtin::Func,
        Builtin::Username,
        Builtin::Kstack,
        Builtin::Ustack,
        Builtin::DwUstack,
        Builtin::Retval,
        Builtin::Args,
        Builtin::Ctx,
        Builtin::Cpid,
        Builtin::Jiffies,
        Builtin::Ncpus,
        Builtin::Usermode,
        Builtin::Ppid,
        Builtin::Pcomm,
        Builtin::Probetype,
        Builtin::LeaderTid,
        Builtin::LeaderComm,
        Builtin::HasCpid,
        Builtin::DefaultStrLength,
        Builtin::Config,
    ];

    /// This builtin's record.
    pub const fn spec(self) -> Spec {
        match self {
            Builtin::Pid(_) => Spec::value("pid", Arity::range(0, 1), "pid([curr_ns|init])"),
            Builtin::Tid(_) => Spec::value("tid", Arity::range(0, 1), "tid([curr_ns|init])"),
            Builtin::Uid => Spec::variable("uid"),
            Builtin::Gid => Spec::variable("gid"),
            Builtin::Nsecs(_) => Spec::value(
                "nsecs",
                Arity::range(0, 1),
                "nsecs([boot|monotonic|tai|sw_tai])",
            ),
            Builtin::Elapsed => Spec::variable("elapsed"),
            Builtin::Cpu => Spec::variable("cpu"),
            Builtin::Numaid => Spec::variable("numaid"),
            Builtin::Comm => Spec::value("comm", Arity::range(0, 1), "comm([pid])"),
            Builtin::Cgroup => Spec::variable("cgroup"),
            Builtin::Rand => Spec::variable("rand"),
            Builtin::Curtask => Spec::variable("curtask"),
            Builtin::Probe => Spec::variable("probe"),
            Builtin::Func => Spec::variable("func").only_in(&[
                Provider::Kprobe,
                Provider::Kretprobe,
                Provider::Uprobe,
                Provider::Uretprobe,
                Provider::Kfunc,
                Provider::Kretfunc,
            ]),
            Builtin::Username => Spec::variable("username"),
            // BEGIN and END have stacks too, as in bpftrace 0.27: their raw tracepoint programs
            // run in rbt's bpf(2) call, so the stacks are that call's.
            Builtin::Kstack => Spec::value("kstack", Arity::range(0, 2), "kstack([mode][, limit])"),
            Builtin::Ustack => Spec::value("ustack", Arity::range(0, 2), "ustack([mode][, limit])"),
            Builtin::DwUstack => Spec::value(
                "dw_ustack",
                Arity::range(0, 2),
                "dw_ustack([mode][, limit])",
            ),
            Builtin::Arg(_) => Spec::variable("argN").only_in(&[
                Provider::Kprobe,
                Provider::Uprobe,
                Provider::Usdt,
                Provider::Rawtracepoint,
            ]),
            Builtin::Sarg(_) => {
                Spec::variable("sargN").only_in(&[Provider::Kprobe, Provider::Uprobe])
            }
            Builtin::Retval => Spec::variable("retval").only_in(&[
                Provider::Kretprobe,
                Provider::Uretprobe,
                Provider::Kretfunc,
            ]),
            Builtin::Args => Spec::variable("args").only_in(&[
                Provider::Tracepoint,
                Provider::Rawtracepoint,
                Provider::Uprobe,
                Provider::Kfunc,
                Provider::Kretfunc,
            ]),
            Builtin::Ctx => Spec::variable("ctx").valid(Valid::Except(&[
                Provider::Begin,
                Provider::End,
                Provider::SelfProbe,
                Provider::Tracepoint,
            ])),
            // Without `-c` it is 0, with a warning (an error before bpftrace 0.25).
            Builtin::Cpid => Spec {
                kind: Kind::CompileTime,
                ..Spec::variable("cpid")
            },
            Builtin::Jiffies => Spec::variable("jiffies"),
            Builtin::Ncpus => Spec {
                kind: Kind::CompileTime,
                ..Spec::variable("ncpus")
            },
            Builtin::Usermode => Spec::variable("usermode"),
            Builtin::Ppid => Spec::value("ppid", Arity::range(0, 1), "ppid([task])"),
            Builtin::Pcomm => Spec::value("pcomm", Arity::range(0, 1), "pcomm([task])"),
            Builtin::Probetype => Spec {
                kind: Kind::CompileTime,
                ..Spec::variable("probetype")
            },
            Builtin::LeaderTid => {
                Spec::value("leader_tid", Arity::range(0, 1), "leader_tid([task])")
            }
            Builtin::LeaderComm => {
                Spec::value("leader_comm", Arity::range(0, 1), "leader_comm([task])")
            }
            Builtin::HasCpid => Spec {
                kind: Kind::CompileTime,
                ..Spec::variable("has_cpid")
            },
            Builtin::DefaultStrLength => Spec {
                kind: Kind::CompileTime,
                ..Spec::variable("default_str_length")
            },
            Builtin::Config => Spec {
                kind: Kind::CompileTime,
                ..Spec::variable("config")
            },
        }
    }

    pub fn from_name(name: &str) -> Option<Builtin> {
        if let Some(b) = Builtin::NAMED.iter().find(|b| b.spec().name == name) {
            return Some(*b);
        }
        let numbered = |prefix: &str| -> Option<u8> {
            let digits = name.strip_prefix(prefix)?;
            if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            digits.parse().ok()
        };
        if let Some(n) = numbered("arg") {
            return Some(Builtin::Arg(n));
        }
        numbered("sarg").map(Builtin::Sarg)
    }

    /// The name a script uses (`arg3` for `Arg(3)`).
    pub fn name(self) -> String {
        match self {
            Builtin::Arg(n) => format!("arg{n}"),
            Builtin::Sarg(n) => format!("sarg{n}"),
            other => other.spec().name.to_string(),
        }
    }
}

/// Builtin functions, aggregations and map operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Function {
    Printf,
    Print,
    Time,
    Cat,
    System,
    Exit,
    Join,
    Debugf,
    Warnf,
    Errorf,
    Fail,
    Assert,
    Str,
    Buf,
    Strncmp,
    Strcontains,
    /// The index of a string in another, or -1.
    Strstr,
    /// The difference of the first differing bytes of two values, or 0.
    Memcmp,
    /// The bytes a string-like value can hold (known when compiling).
    Strcap,
    /// Whether a value is a string, known when compiling; the argument is not evaluated.
    IsStr,
    /// Whether a value is an integer (known when compiling).
    IsInteger,
    /// Whether a value is an unsigned integer (known when compiling).
    IsUnsignedInteger,
    /// Whether a value is a pointer (known when compiling).
    IsPtr,
    /// Whether a value is an array (known when compiling).
    IsArray,
    /// Whether an argument is written as a literal (known when compiling).
    IsLiteral,
    /// A compile error unless the value is string-like.
    AssertStr,
    /// Whether the kernel's BTF has a function of this name (known when compiling).
    KfuncExist,
    /// Whether the probe's program may call the kfunc of this name (known when compiling).
    KfuncAllowed,
    StrConcat,
    Strlen,
    IsErr,
    StaticAssert,
    Bswap,
    Ntop,
    Pton,
    Macaddr,
    Ksym,
    Usym,
    Kaddr,
    Getopt,
    Uaddr,
    Cgroupid,
    CgroupPath,
    Signal,
    SignalThread,
    Override,
    WriteUser,
    Strftime,
    Strerror,
    SyscallName,
    SignalName,
    Reg,
    Kptr,
    Uptr,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Stats,
    Hist,
    Lhist,
    Tseries,
    Delete,
    Clear,
    Zero,
    Len,
    HasKey,
    Find,
    Path,
    Unwatch,
    Skboutput,
    SocketCookie,
    PercpuKaddr,
}

impl Function {
    /// Every function, for looking one up by name.
    pub const ALL: &'static [Function] = &[
        Function::Printf,
        Function::Print,
        Function::Time,
        Function::Cat,
        Function::System,
        Function::Exit,
        Function::Join,
        Function::Debugf,
        Function::Warnf,
        Function::Errorf,
        Function::Fail,
        Function::Assert,
        Function::Str,
        Function::Buf,
        Function::Strncmp,
        Function::Strcontains,
        Function::Strstr,
        Function::Memcmp,
        Function::Strcap,
        Function::IsStr,
        Function::IsInteger,
        Function::IsUnsignedInteger,
        Function::IsPtr,
        Function::IsArray,
        Function::IsLiteral,
        Function::AssertStr,
        Function::KfuncExist,
        Function::KfuncAllowed,
        Function::StrConcat,
        Function::Strlen,
        Function::IsErr,
        Function::StaticAssert,
        Function::Bswap,
        Function::Ntop,
        Function::Pton,
        Function::Macaddr,
        Function::Ksym,
        Function::Usym,
        Function::Kaddr,
        Function::Getopt,
        Function::Uaddr,
        Function::Cgroupid,
        Function::CgroupPath,
        Function::Signal,
        Function::SignalThread,
        Function::Override,
        Function::WriteUser,
        Function::Strftime,
        Function::Strerror,
        Function::SyscallName,
        Function::SignalName,
        Function::Reg,
        Function::Kptr,
        Function::Uptr,
        Function::Count,
        Function::Sum,
        Function::Avg,
        Function::Min,
        Function::Max,
        Function::Stats,
        Function::Hist,
        Function::Lhist,
        Function::Tseries,
        Function::Delete,
        Function::Clear,
        Function::Zero,
        Function::Len,
        Function::HasKey,
        Function::Find,
        Function::Path,
        Function::Unwatch,
        Function::Skboutput,
        Function::SocketCookie,
        Function::PercpuKaddr,
    ];

    /// This function's record.
    pub const fn spec(self) -> Spec {
        use Arity as N;
        match self {
            Function::Printf => {
                Spec::statement("printf", N::at_least(1), "printf(format, args...)")
            }
            Function::Print => Spec::statement(
                "print",
                N::range(1, 3),
                "print(value) or print(@map[, top[, divisor]])",
            ),
            Function::Time => Spec::statement("time", N::range(0, 1), "time([format])"),
            Function::Cat => Spec::statement("cat", N::at_least(1), "cat(path_format, args...)"),
            Function::System => {
                Spec::statement("system", N::at_least(1), "system(command_format, args...)")
                    .needs_unsafe()
            }
            Function::Exit => Spec::statement("exit", N::range(0, 1), "exit([code])"),
            Function::Join => Spec::statement(
                "join",
                N::range(1, 2),
                "join(char **array[, \"separator\"])",
            ),
            // bpf_trace_printk takes at most three arguments after the format.
            Function::Debugf => {
                Spec::statement("debugf", N::range(1, 4), "debugf(format, up to 3 integers)")
            }
            Function::Warnf => Spec::statement("warnf", N::at_least(1), "warnf(format, args...)"),
            Function::Errorf => {
                Spec::statement("errorf", N::at_least(1), "errorf(format, args...)")
            }
            Function::Fail => Spec::statement("fail", N::at_least(1), "fail(format, args...)"),
            Function::Assert => {
                Spec::statement("assert", N::exactly(2), "assert(condition, \"message\")")
            }
            Function::Str => Spec::value("str", N::range(1, 2), "str(address[, length])"),
            Function::Buf => Spec::value("buf", N::range(1, 2), "buf(address[, length])"),
            Function::Strncmp => Spec::value("strncmp", N::exactly(3), "strncmp(s1, s2, n)"),
            Function::Strcontains => Spec::value(
                "strcontains",
                N::exactly(2),
                "strcontains(haystack, needle)",
            ),
            Function::Strstr => {
                Spec::value("strstr", N::exactly(2), "strstr(haystack, needle)")
            }
            Function::Memcmp => Spec::value(
                "memcmp",
                N::exactly(3),
                "memcmp(left, right, count) of strings, arrays, tuples or records",
            ),
            Function::Strcap => Spec::compile_time("strcap", N::exactly(1), "strcap(string)"),
            Function::IsStr => Spec::compile_time("is_str", N::exactly(1), "is_str(value)"),
            Function::IsInteger => {
                Spec::compile_time("is_integer", N::exactly(1), "is_integer(value)")
            }
            Function::IsUnsignedInteger => Spec::compile_time(
                "is_unsigned_integer",
                N::exactly(1),
                "is_unsigned_integer(value)",
            ),
            Function::IsPtr => Spec::compile_time("is_ptr", N::exactly(1), "is_ptr(value)"),
            Function::IsArray => Spec::compile_time("is_array", N::exactly(1), "is_array(value)"),
            Function::IsLiteral => {
                Spec::compile_time("is_literal", N::exactly(1), "is_literal(value)")
            }
            Function::AssertStr => {
                Spec::statement("assert_str", N::exactly(1), "assert_str(value)")
            }
            Function::KfuncExist => Spec::compile_time(
                "kfunc_exist",
                N::exactly(1),
                "kfunc_exist(\"kernel function\")",
            ),
            Function::KfuncAllowed => Spec::compile_time(
                "kfunc_allowed",
                N::exactly(1),
                "kfunc_allowed(\"kernel function\")",
            ),
            Function::StrConcat => {
                Spec::value("str_concat", N::exactly(2), "str_concat(string, string)")
            }
            Function::Strlen => Spec::value("strlen", N::exactly(1), "strlen(string)"),
            Function::IsErr => Spec::value("is_err", N::exactly(1), "is_err(pointer or integer)"),
            Function::StaticAssert => Spec::statement(
                "static_assert",
                N::exactly(2),
                "static_assert(constant condition, \"message\")",
            ),
            Function::Bswap => Spec::value("bswap", N::exactly(1), "bswap(integer)"),
            Function::Ntop => Spec::value("ntop", N::range(1, 2), "ntop([family, ]address)"),
            Function::Pton => Spec::compile_time("pton", N::exactly(1), "pton(\"address\")"),
            Function::Macaddr => Spec::value("macaddr", N::exactly(1), "macaddr(address)"),
            Function::Ksym => Spec::value("ksym", N::exactly(1), "ksym(address)"),
            Function::Usym => Spec::value("usym", N::exactly(1), "usym(address)"),
            Function::Kaddr => Spec::compile_time("kaddr", N::exactly(1), "kaddr(\"symbol\")"),
            Function::Getopt => Spec::compile_time(
                "getopt",
                N::range(1, 3),
                "getopt(\"name\"[, default[, \"description\"]])",
            ),
            Function::Uaddr => Spec::value("uaddr", N::exactly(1), "uaddr(\"symbol\")")
                .only_in(&[Provider::Uprobe, Provider::Uretprobe, Provider::Usdt])
                .why("it looks the symbol up in the traced binary"),
            Function::Cgroupid => Spec::compile_time(
                "cgroupid",
                N::exactly(1),
                "cgroupid(\"/sys/fs/cgroup/...\")",
            ),
            Function::CgroupPath => {
                Spec::value(
                    "cgroup_path",
                    N::range(1, 2),
                    "cgroup_path(cgroup_id[, filter])",
                )
            }
            Function::Signal => {
                Spec::statement("signal", N::exactly(1), "signal(\"SIGKILL\") or signal(9)")
                    .needs_unsafe()
                    .only_in(TASK_PROBES)
                    .why(TASK_PROBES_WHY)
            }
            Function::SignalThread => Spec::statement(
                "signal_thread",
                N::exactly(1),
                "signal_thread(\"SIGKILL\") or signal_thread(9)",
            )
            .needs_unsafe()
            .only_in(TASK_PROBES)
            .why(TASK_PROBES_WHY),
            Function::Override => {
                Spec::statement("override", N::exactly(1), "override(return_code)")
                    .needs_unsafe()
                    .only_in(&[Provider::Kprobe])
            }
            Function::WriteUser => Spec::statement(
                "write_user",
                N::exactly(3),
                "write_user(user_address, string, constant length)",
            )
            .needs_unsafe(),
            Function::Strftime => {
                Spec::value("strftime", N::exactly(2), "strftime(\"format\", nsecs)")
            }
            Function::Strerror => Spec::value("strerror", N::exactly(1), "strerror(errno)"),
            Function::SyscallName => {
                Spec::value("syscall_name", N::exactly(1), "syscall_name(number)")
            }
            Function::SignalName => {
                Spec::value("signal_name", N::exactly(1), "signal_name(number)")
            }
            Function::Reg => Spec::value("reg", N::exactly(1), "reg(\"register\")")
                .only_in(PT_REGS_PROBES)
                .why("it reads the registers of the traced function or the interrupted code"),
            Function::Kptr => Spec::value("kptr", N::exactly(1), "kptr(address)"),
            Function::Uptr => Spec::value("uptr", N::exactly(1), "uptr(address)"),
            Function::Count => Spec::aggregation("count", N::exactly(0), "@map = count()"),
            Function::Sum => Spec::aggregation("sum", N::exactly(1), "@map = sum(value)"),
            Function::Avg => Spec::aggregation("avg", N::exactly(1), "@map = avg(value)"),
            Function::Min => Spec::aggregation("min", N::exactly(1), "@map = min(value)"),
            Function::Max => Spec::aggregation("max", N::exactly(1), "@map = max(value)"),
            Function::Stats => Spec::aggregation("stats", N::exactly(1), "@map = stats(value)"),
            Function::Hist => {
                Spec::aggregation("hist", N::range(1, 2), "@map = hist(value[, bits 0..5])")
            }
            Function::Lhist => Spec::aggregation(
                "lhist",
                N::exactly(4),
                "@map = lhist(value, min, max, step)",
            ),
            Function::Tseries => Spec::aggregation(
                "tseries",
                N::range(3, 4),
                "@map = tseries(value, interval, intervals[, \"avg\"|\"max\"|\"min\"|\"sum\"])",
            ),
            Function::Delete => Spec::statement(
                "delete",
                N::range(1, 2),
                "delete(@map, key) or delete(@map[key])",
            ),
            Function::Clear => Spec::statement("clear", N::exactly(1), "clear(@map)"),
            Function::Zero => Spec::statement("zero", N::exactly(1), "zero(@map)"),
            Function::Len => Spec::value("len", N::exactly(1), "len(@map)"),
            Function::HasKey => Spec::value("has_key", N::exactly(2), "has_key(@map, key)"),
            Function::Find => Spec::value("find", N::exactly(3), "find(@map, key, $variable)"),
            Function::Path => Spec::value("path", N::range(1, 2), "path(struct path *[, size])")
                .only_in(&[Provider::Kfunc, Provider::Kretfunc])
                .why("it calls bpf_d_path(), which the kernel offers to fentry/fexit programs of a few functions (security_file_open, vfs_truncate, filp_close, …)"),
            Function::Unwatch => Spec::statement("unwatch", N::exactly(1), "unwatch(address)"),
            Function::Skboutput => Spec::value(
                "skboutput",
                N::exactly(4),
                "skboutput(\"path\", struct sk_buff *, length, constant offset)",
            )
            .only_in(TRACING_PROBES)
            .why("it sends the packet with bpf_skb_output(), which the kernel offers to tracing programs only"),
            Function::SocketCookie => Spec::value(
                "socket_cookie",
                N::exactly(1),
                "socket_cookie(struct sock *)",
            )
            .only_in(TRACING_PROBES)
            .why("the kernel offers bpf_get_socket_cookie() on a socket pointer of BTF type to tracing programs only"),
            Function::PercpuKaddr => Spec::value(
                "percpu_kaddr",
                N::range(1, 2),
                "percpu_kaddr(\"variable\"[, cpu])",
            ),
        }
    }

    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL
            .iter()
            .find(|f| f.spec().name == name)
            .copied()
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }
}

/// x86-64 `struct pt_regs`: the registers `reg("name")` accepts and their byte offsets.
pub const PT_REGS: &[(&str, u64)] = &[
    ("r15", 0),
    ("r14", 8),
    ("r13", 16),
    ("r12", 24),
    ("bp", 32),
    ("bx", 40),
    ("r11", 48),
    ("r10", 56),
    ("r9", 64),
    ("r8", 72),
    ("ax", 80),
    ("cx", 88),
    ("dx", 96),
    ("si", 104),
    ("di", 112),
    ("orig_ax", 120),
    ("ip", 128),
    ("cs", 136),
    ("flags", 144),
    ("sp", 152),
    ("ss", 160),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Function::ALL {
            assert_eq!(Function::from_name(f.name()), Some(*f));
        }
        for b in Builtin::NAMED {
            assert_eq!(Builtin::from_name(&b.name()), Some(*b));
        }
        assert_eq!(Builtin::from_name("arg3"), Some(Builtin::Arg(3)));
        assert_eq!(Builtin::from_name("sarg1"), Some(Builtin::Sarg(1)));
        assert_eq!(Builtin::from_name("argx"), None);
    }

    #[test]
    fn help_is_generated_from_the_rule() {
        let arg = Builtin::Arg(0).spec();
        assert!(!arg.valid.allows(Some(Provider::Tracepoint)));
        assert!(arg.valid.allows(Some(Provider::Rawtracepoint)));
        assert_eq!(
            arg.valid_help("arg0"),
            "arg0 exists in kprobe, uprobe, usdt and rawtracepoint probes"
        );
        let ctx = Builtin::Ctx.spec();
        assert!(ctx.valid.allows(None));
        assert_eq!(
            ctx.valid_help("ctx"),
            "ctx exists in every probe except BEGIN, END, self and tracepoint probes"
        );
    }

    /// The variant names serde's derive records for an enum. The compiler keeps that list
    /// complete, so comparing a hand-written table with it catches a variant that was added to
    /// the enum and forgotten in the table.
    fn variant_names<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
        use serde::de::{Deserializer, Visitor};
        #[derive(Debug)]
        struct Names(&'static [&'static str]);
        impl std::fmt::Display for Names {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }
        impl std::error::Error for Names {}
        impl serde::de::Error for Names {
            fn custom<M: std::fmt::Display>(_: M) -> Self {
                Names(&[])
            }
        }
        /// Answers every request with an error, except an enum's, whose error carries the
        /// variant names.
        struct Recorder;
        impl<'de> Deserializer<'de> for Recorder {
            type Error = Names;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Names> {
                Err(Names(&[]))
            }
            fn deserialize_enum<V: Visitor<'de>>(
                self,
                _: &'static str,
                variants: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Names> {
                Err(Names(variants))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
                struct identifier ignored_any
            }
        }
        match T::deserialize(Recorder) {
            Err(Names(variants)) => variants,
            Ok(_) => &[],
        }
    }

    /// The variant's name without its payload: `Pid` for `Pid(Current)`.
    fn variant_of(debug: String) -> String {
        debug.split('(').next().unwrap_or_default().to_string()
    }

    #[test]
    fn the_tables_list_every_variant() {
        let mut functions: Vec<String> = Function::ALL
            .iter()
            .map(|f| variant_of(format!("{f:?}")))
            .collect();
        let mut variants: Vec<&str> = variant_names::<Function>().to_vec();
        functions.sort_unstable();
        variants.sort_unstable();
        assert_eq!(functions, variants, "Function::ALL");
        let mut named: Vec<String> = Builtin::NAMED
            .iter()
            .map(|b| variant_of(format!("{b:?}")))
            .collect();
        // argN and sargN are matched by prefix, not listed by name.
        named.extend(["Arg".to_string(), "Sarg".to_string()]);
        let mut builtins: Vec<&str> = variant_names::<Builtin>().to_vec();
        builtins.sort_unstable();
        named.sort_unstable();
        named.dedup();
        assert_eq!(named, builtins, "Builtin::NAMED");
    }

    #[test]
    fn arity_is_described() {
        assert_eq!(Arity::exactly(1).describe(), "1 argument");
        assert_eq!(Arity::range(0, 1).describe(), "at most 1 argument");
        assert_eq!(Arity::range(1, 2).describe(), "1 or 2 arguments");
        assert_eq!(Arity::range(1, 3).describe(), "1 to 3 arguments");
        assert_eq!(Arity::at_least(1).describe(), "at least 1 argument");
        assert!(Arity::at_least(1).accepts(7));
        assert!(!Arity::exactly(0).accepts(1));
    }
}

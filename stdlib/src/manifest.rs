//! The Manifest: everything the runtime must know about a compiled object besides its
//! bytes — which program attaches where, every map's key and value types, and every event
//! (printf formats with their argument layout, exit, print, …). It is plain serde data so an
//! object written with `--emit-elf` can be run later.

use crate::format::Piece;
use crate::types::{tuple_layout, Type};
use serde::{Deserialize, Serialize};

/// Name of the ring buffer map every program writes events to.
pub const RINGBUF_MAP: &str = "events";
/// Internal maps every object carries (never printed): per-CPU count of events the ring
/// buffer had no room for; per-CPU counts of map updates that failed (map full), one slot
/// per update site (user space sizes it to [`Manifest::map_update_sites`]); the start time
/// for `elapsed`; stack traces.
pub const LOST_MAP: &str = "rbt_lost";
pub const MAP_FULL_MAP: &str = "rbt_map_full";
pub const STATE_MAP: &str = "rbt_state";
pub const STACKS_MAP: &str = "rbt_stacks";
/// Per-CPU scratch memory for strings, tuples and event arguments too big for the stack.
pub const SCRATCH_MAP: &str = "rbt_scratch";
/// The perf event array `skboutput()` sends packets through (`bpf_skb_output` writes to
/// no ring buffer); only objects that call it have one. Each record is an
/// [`Event::SkbOutput`] record followed by the packet's bytes.
pub const SKB_MAP: &str = "rbt_skb_output";

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub programs: Vec<Program>,
    pub maps: Vec<MapSpec>,
    /// Indexed by the event id each ring buffer record starts with.
    pub events: Vec<Event>,
    /// Expanded probe names, indexed by the value of the `probe` builtin.
    pub probe_names: Vec<String>,
    /// strftime/time formats referenced by `Type::Timestamp` values, by index.
    pub time_formats: Vec<String>,
    /// Where the programs update maps (`start..end` of [`Manifest::source`]), indexed like
    /// the per-CPU failure counters of [`MAP_FULL_MAP`], so user space can name each update
    /// that found its map full.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub map_update_sites: Vec<(usize, usize)>,
    /// The script, for warnings user space renders against its text (`-k`); absent when no
    /// event needs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// The values the runtime writes into the object's `.rodata` before loading it, laid
    /// out by [`run_values_layout`] in [`RUN_VALUES_GLOBAL`]. Only compiled files (`rbt
    /// --aot`) have any, so that one file serves runs with other parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run_values: Vec<RunValue>,
    /// Whether [`SCRATCH_MAP`] is an array with one entry per CPU (a script with long
    /// strings), which the runtime sizes to the machine's possible CPUs before loading,
    /// rather than a one-entry per-CPU array.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scratch_by_cpu: bool,
    /// Whether a probe takes a `dw_ustack`: a run then needs a target process (`-p`, `-c`
    /// or `--dwarf-pid`), whose stacks it unwinds.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dw_ustack: bool,
}

/// The `.rodata` global holding the [`RunValue`]s, an array of i64.
pub const RUN_VALUES_GLOBAL: &str = "rbt_run_values";

/// The offset of each value in [`RUN_VALUES_GLOBAL`] and the bytes of all: each takes its
/// [`RunValue::size`], in order, so every one is 8-byte aligned.
pub fn run_values_layout(values: &[RunValue]) -> (Vec<u32>, u32) {
    let mut at = 0;
    let offsets = values
        .iter()
        .map(|v| {
            let o = at;
            at += v.size();
            o
        })
        .collect();
    (offsets, at)
}

/// A value known only when a compiled script runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RunValue {
    /// `cpid`: the pid of the `-c` command (0 without one).
    Cpid,
    /// `ncpus`: the online CPUs of the machine the script runs on.
    Ncpus,
    /// `$#`: how many positional parameters the run has.
    ParamCount,
    /// `$N` (1-based) read as an integer: 0 when the run has no such parameter; a run
    /// whose `$N` is not an integer is refused.
    Param(u32),
    /// `$N` read as a string of `len` bytes with its NUL: empty when the run has no such
    /// parameter; a run whose `$N` is longer is refused.
    ParamStr { index: u32, len: u32 },
    /// `getopt("name", default)`: the run's `--name[=value]`, in the default's type; a
    /// string takes `len` bytes with its NUL, the others 8.
    ProgramOption {
        name: String,
        default: OptionDefault,
        len: u32,
    },
}

/// The type and default of a program option, as its `getopt()` call declares it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OptionDefault {
    /// Unsigned when the default is not negative, signed otherwise.
    Int(i64),
    Bool(bool),
    Str(String),
}

impl OptionDefault {
    /// The default as a script writes it.
    pub fn describe(&self) -> String {
        match self {
            OptionDefault::Int(v) => v.to_string(),
            OptionDefault::Bool(b) => b.to_string(),
            OptionDefault::Str(s) => format!("\"{s}\""),
        }
    }
}

/// Whether the command line asks for the list of program options (`-- --help`): the
/// compiler then prints them, and `rbt`'s front end leaves such a run to it.
pub fn wants_help(named: &[(String, Option<String>)]) -> bool {
    named.iter().any(|(n, _)| n == "help")
}

/// The value of an option given as `--name` (`Some(None)`), `--name=text` or not at all
/// (`None`), in the type of its default; `Err` says what is wrong with the text.
pub fn option_value(
    default: &OptionDefault,
    given: Option<Option<&str>>,
) -> Result<OptionDefault, String> {
    let Some(given) = given else {
        return Ok(default.clone());
    };
    match (default, given) {
        (OptionDefault::Bool(_), None) => Ok(OptionDefault::Bool(true)),
        (OptionDefault::Bool(_), Some(text)) => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(OptionDefault::Bool(true)),
            "false" | "no" | "off" | "0" => Ok(OptionDefault::Bool(false)),
            _ => Err(format!("expects a boolean (e.g. 'true') (value: {text})")),
        },
        (OptionDefault::Str(_), None) => Err("expects a string (value: true)".into()),
        (OptionDefault::Str(_), Some(text)) => Ok(OptionDefault::Str(text.to_string())),
        (OptionDefault::Int(_), None) => Err("expects an integer (value: true)".into()),
        (OptionDefault::Int(d), Some(text)) => {
            let signed = *d < 0;
            let (negative, digits) = match text.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, text),
            };
            let out_of_range = || format!("value is out of range (value: {text})");
            let magnitude = match crate::literal::decode_int(digits) {
                Ok(m) => m,
                Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                    return Err(out_of_range())
                }
                Err(_) => return Err(format!("invalid integer (value: {text})")),
            };
            let value = match (negative, signed) {
                (false, false) => magnitude as i64,
                (false, true) => i64::try_from(magnitude).map_err(|_| out_of_range())?,
                // A negative value of an unsigned option wraps, as in C.
                (true, false) => (magnitude as i64).wrapping_neg(),
                (true, true) => 0i64
                    .checked_sub_unsigned(magnitude)
                    .ok_or_else(out_of_range)?,
            };
            Ok(OptionDefault::Int(value))
        }
    }
}

impl RunValue {
    /// Bytes the value takes in `.rodata`, a multiple of 8.
    pub fn size(&self) -> u32 {
        match self {
            RunValue::Cpid | RunValue::Ncpus | RunValue::ParamCount | RunValue::Param(_) => 8,
            RunValue::ParamStr { len, .. } | RunValue::ProgramOption { len, .. } => {
                len.div_ceil(8) * 8
            }
        }
    }
}

/// A script's name (its path, or `stdin` for `-e`) and text. The text of each file the
/// script imports follows the script's, after a newline, so that one span covers them all;
/// [`Source::locate`] finds the file a span is in.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Source {
    pub name: String,
    pub text: String,
    /// Each imported file's name and where its text starts in `text`, in that order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<(String, usize)>,
}

impl Source {
    /// The name and text of the file `span` is in, and the span within that text.
    pub fn locate(&self, span: crate::diag::Span) -> (&str, &str, crate::diag::Span) {
        crate::diag::locate(&self.name, &self.text, &self.imports, span)
    }
}

/// One BPF program in the object and where it attaches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Program {
    /// Function (and symbol) name in the ELF object.
    pub name: String,
    pub attach: Attach,
    /// Index of the script probe it came from (for diagnostics and `probe`).
    pub probe_index: u32,
}

/// Where a program attaches; targets are already expanded (no wildcards left).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attach {
    /// Run once at start through BPF_PROG_TEST_RUN.
    Begin,
    /// Run once at exit through BPF_PROG_TEST_RUN.
    End,
    /// `bench:name`: with `--bench`, run many times through BPF_PROG_TEST_RUN and timed.
    Bench {
        name: String,
    },
    /// `test:name`: with `--test`, run once through BPF_PROG_TEST_RUN.
    Test {
        name: String,
    },
    /// `self:signal:SIGUSR1`: run through BPF_PROG_TEST_RUN each time rbt receives this
    /// signal.
    Signal {
        signal: i32,
    },
    Tracepoint {
        targets: Vec<(String, String)>,
    },
    /// `rawtracepoint:event`. With `btf`, the program is BTF-typed (libbpf's `tp_btf`: a
    /// tracing program, whose arguments the verifier knows the types of, so that helpers
    /// offered to tracing programs only, such as `bpf_get_socket_cookie` and
    /// `bpf_skb_output`, take them) and has one target, the event its section names;
    /// without, a plain raw tracepoint program reading untyped u64 arguments. Files compiled
    /// before `btf` existed have plain ones.
    Rawtracepoint {
        targets: Vec<String>,
        #[serde(default)]
        btf: bool,
    },
    /// `tracepoint:syscalls:sys_enter_*` (or `sys_exit_*`, `exit`) run as a raw tracepoint
    /// program that the runtime's dispatcher on `sys_enter` (`sys_exit`) tail-calls for the
    /// system call numbers of `targets`. It reads the same values as the perf tracepoint, and
    /// detaches at once where each perf tracepoint costs an RCU grace period.
    Syscall {
        targets: Vec<SyscallTarget>,
        exit: bool,
    },
    Kprobe {
        targets: Vec<KprobeTarget>,
        ret: bool,
        /// Attach every target through one kprobe_multi link (kernels 5.18+ with fprobe),
        /// instead of one kprobe per target.
        multi: bool,
    },
    Uprobe {
        targets: Vec<UprobeTarget>,
        ret: bool,
        /// Attach the targets of each binary through one uprobe_multi link (kernels 6.6+),
        /// instead of one uprobe per target. Absent in files compiled before it existed.
        #[serde(default)]
        multi: bool,
    },
    Usdt {
        targets: Vec<UsdtTarget>,
    },
    /// `profile:hz:99` and friends: a CPU-clock perf event on every CPU.
    Profile {
        period: PerfPeriod,
    },
    /// `interval:s:1`: a CPU-clock perf event on one CPU.
    Interval {
        period: PerfPeriod,
    },
    Software {
        event: u64,
        period: u64,
    },
    Hardware {
        event: u64,
        period: u64,
    },
    /// `watchpoint:ADDR:LEN:MODE`: a hardware breakpoint (a `PERF_TYPE_BREAKPOINT` perf
    /// event) on `len` bytes at `addr`, in the traced process with `-p`/`-c`, else in the
    /// kernel on every CPU. `access` holds the kernel's `HW_BREAKPOINT_R`/`_W`/`_X` bits.
    Watchpoint {
        addr: u64,
        len: u64,
        access: u32,
    },
    Kfunc {
        targets: Vec<String>,
        ret: bool,
    },
    /// `fentry:bpf:NAME` / `fexit:bpf:ID:NAME`: an fentry/fexit program on a function of
    /// a BPF program already loaded in the kernel, found by the program's id when rbt loads
    /// the object (the id only means something on the machine that expanded it).
    BpfFunc {
        targets: Vec<BpfTarget>,
        ret: bool,
    },
    /// `iter:task`: a BPF iterator over kernel objects (`bpf_iter_<target>`), run by reading
    /// its iterator file once every probe is attached.
    Iter {
        target: String,
    },
}

impl Attach {
    /// Whether a program of this attach point tells its targets apart by their attach
    /// cookies (a kprobe or uprobe of several targets, see [`UprobeTarget::cookie`]), so
    /// that one program serves a wildcard whose body reads `probe`.
    pub fn cookies_name_targets(&self) -> bool {
        matches!(self, Attach::Kprobe { .. } | Attach::Uprobe { .. }) && self.target_count() > 1
    }

    /// How many probes this attach point counts as ("Attached N probes"): one per expanded
    /// target, in the order of the program's expanded probe names.
    pub fn target_count(&self) -> usize {
        match self {
            Attach::Begin | Attach::End | Attach::Signal { .. } => 1,
            Attach::Interval { .. } | Attach::Profile { .. } => 1,
            Attach::Bench { .. } | Attach::Test { .. } => 1,
            Attach::Software { .. } | Attach::Hardware { .. } => 1,
            Attach::Watchpoint { .. } => 1,
            Attach::Tracepoint { targets } => targets.len(),
            Attach::Rawtracepoint { targets, .. } => targets.len(),
            Attach::Syscall { targets, .. } => targets.len(),
            Attach::Kprobe { targets, .. } => targets.len(),
            Attach::Uprobe { targets, .. } => targets.len(),
            Attach::Usdt { targets } => targets.len(),
            Attach::Kfunc { targets, .. } => targets.len(),
            Attach::BpfFunc { targets, .. } => targets.len(),
            Attach::Iter { .. } => 1,
        }
    }

    /// How many probes this attach point counts as against `max_probes`, as bpftrace 0.27
    /// counts them: a kprobe_multi or uprobe_multi link is one whatever its targets (libc's
    /// 2725 functions attach under the default limit of 1024), anything else one per target.
    pub fn limit_count(&self) -> usize {
        match self {
            Attach::Kprobe { multi: true, .. } | Attach::Uprobe { multi: true, .. } => 1,
            other => other.target_count(),
        }
    }

    /// Keeps the targets whose index `keep` accepts (`--probe-filter`); a kind with one
    /// target keeps it, since the caller drops the whole program when it matches nothing.
    pub fn retain_targets(&mut self, keep: impl FnMut(usize) -> bool) {
        fn retain<T>(v: &mut Vec<T>, mut keep: impl FnMut(usize) -> bool) {
            let mut i = 0;
            v.retain(|_| {
                i += 1;
                keep(i - 1)
            });
        }
        match self {
            Attach::Begin
            | Attach::End
            | Attach::Bench { .. }
            | Attach::Test { .. }
            | Attach::Signal { .. }
            | Attach::Interval { .. }
            | Attach::Profile { .. }
            | Attach::Software { .. }
            | Attach::Hardware { .. }
            | Attach::Watchpoint { .. }
            | Attach::Iter { .. } => {}
            Attach::Tracepoint { targets } => retain(targets, keep),
            Attach::Rawtracepoint { targets, .. } => retain(targets, keep),
            Attach::Syscall { targets, .. } => retain(targets, keep),
            Attach::Kprobe { targets, .. } => retain(targets, keep),
            Attach::Uprobe { targets, .. } => retain(targets, keep),
            Attach::Usdt { targets } => retain(targets, keep),
            Attach::Kfunc { targets, .. } => retain(targets, keep),
            Attach::BpfFunc { targets, .. } => retain(targets, keep),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PerfPeriod {
    Frequency(u64),
    Nanoseconds(u64),
}

/// One system call of an [`Attach::Syscall`] program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallTarget {
    /// The name in the tracepoint's (`openat` of `sys_enter_openat`).
    pub name: String,
    /// Its number in the 64-bit system call table.
    pub nr: u32,
}

/// A function of a loaded BPF program (its main function or a subprogram), as its BTF
/// func info names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BpfTarget {
    /// The program's id (`BPF_PROG_GET_FD_BY_ID`).
    pub id: u32,
    pub func: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KprobeTarget {
    pub symbol: String,
    pub offset: u64,
    /// What `bpf_get_attach_cookie()` gives the program at this target (see
    /// [`UprobeTarget::cookie`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cookie: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UprobeTarget {
    pub path: String,
    /// Symbol name (for display) and its file offset.
    pub symbol: String,
    pub offset: u64,
    /// What `bpf_get_attach_cookie()` gives the program at this target: the index of the
    /// target's probe name, so one program of several targets tells which one fired
    /// (`probe`, see `lang::check::attach::name_targets`); 0 where the program does not
    /// read it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cookie: u64,
}

/// Whether a cookie is the default, left out of the serialized manifest.
fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsdtTarget {
    pub path: String,
    pub provider: String,
    pub name: String,
    pub offset: u64,
    pub semaphore_offset: u64,
    /// Where each argument lives at the probe site (`arg0`, `arg1`, …).
    pub args: Vec<UsdtArg>,
}

/// One USDT argument as `.note.stapsdt` describes it (`-4@%edi`, `8@-8(%rbp)`, `4@$5`):
/// `size` is its width in bytes, negative when signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UsdtArg {
    /// In a register (the pt_regs name: `di`, `ax`, `r8`).
    Reg {
        size: i8,
        reg: String,
    },
    /// In user memory at `reg + offset`, plus `index * scale` for an indexed operand
    /// (`8@-80(%rbp,%rax,8)`).
    Mem {
        size: i8,
        reg: String,
        offset: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<UsdtIndex>,
    },
    Const {
        size: i8,
        value: i64,
    },
}

/// The index register of an indexed USDT operand and its scale (1, 2, 4 or 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsdtIndex {
    pub reg: String,
    pub scale: u8,
}

/// Parses a `.note.stapsdt` argument string (x86-64 operands) into its arguments; `None`
/// when an operand has a form rbt does not decode (e.g. a floating-point register).
pub fn parse_usdt_args(spec: &str) -> Option<Vec<UsdtArg>> {
    spec.split_whitespace().map(parse_usdt_arg).collect()
}

fn pt_regs_name(reg: &str) -> Option<String> {
    let r = reg.trim_start_matches('%');
    let base = match r {
        "rax" | "eax" | "ax" | "al" => "ax",
        "rbx" | "ebx" | "bx" | "bl" => "bx",
        "rcx" | "ecx" | "cx" | "cl" => "cx",
        "rdx" | "edx" | "dx" | "dl" => "dx",
        "rsi" | "esi" | "si" | "sil" => "si",
        "rdi" | "edi" | "di" | "dil" => "di",
        "rbp" | "ebp" | "bp" | "bpl" => "bp",
        "rsp" | "esp" | "sp" | "spl" => "sp",
        "rip" => "ip",
        other => {
            // r8..r15 with optional d/w/b suffixes.
            let n = other.strip_prefix('r')?.trim_end_matches(['d', 'w', 'b']);
            return (n.parse::<u8>().ok().filter(|n| (8..=15).contains(n)))
                .map(|n| format!("r{n}"));
        }
    };
    Some(base.to_string())
}

fn parse_usdt_arg(op: &str) -> Option<UsdtArg> {
    let (size, loc) = op.split_once('@')?;
    let size: i8 = size.parse().ok()?;
    if let Some(c) = loc.strip_prefix('$') {
        return Some(UsdtArg::Const {
            size,
            value: c.parse().ok()?,
        });
    }
    if loc.starts_with('%') {
        return Some(UsdtArg::Reg {
            size,
            reg: pt_regs_name(loc)?,
        });
    }
    // `off(%reg)`, `(%reg)`, or indexed: `off(%reg,%index,scale)`.
    let (off, rest) = loc.split_once('(')?;
    let inner = rest.strip_suffix(')')?;
    let offset = if off.is_empty() { 0 } else { off.parse().ok()? };
    let mut parts = inner.split(',').map(str::trim);
    let reg = pt_regs_name(parts.next()?)?;
    let index = match parts.next() {
        None => None,
        Some(index) => {
            let scale = match parts.next() {
                None => 1,
                Some(s) => s.parse().ok().filter(|s| matches!(s, 1 | 2 | 4 | 8))?,
            };
            Some(UsdtIndex {
                reg: pt_regs_name(index)?,
                scale,
            })
        }
    };
    if parts.next().is_some() {
        return None;
    }
    Some(UsdtArg::Mem {
        size,
        reg,
        offset,
        index,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MapKind {
    Hash,
    /// A hash that evicts its least recently used entry when full (`lruhash`).
    LruHash,
    PerCpuHash,
    PerCpuLruHash,
    PerCpuArray,
    Array,
    StackTrace,
    RingBuf,
    /// One perf event buffer per CPU ([`SKB_MAP`]).
    PerfEventArray,
}

/// A user-visible map (`@name`) or an internal one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapSpec {
    /// The name in the ELF object.
    pub elf_name: String,
    /// The name as written (`@x`, `@`); `None` for internal maps, which are never printed.
    pub script_name: Option<String>,
    pub kind: MapKind,
    /// Key type; `None` for scalar maps (stored under key 0 of a one-entry array/hash).
    pub key: Option<Type>,
    pub value: Type,
    pub max_entries: u32,
}

impl MapSpec {
    /// Bytes of the BPF key: histograms append a u64 bucket index to the user key, time
    /// series the u64 slot of the interval.
    pub fn key_size(&self) -> u32 {
        let user = self.key.as_ref().map_or(8, Type::size);
        match self.value {
            Type::Agg(crate::types::Aggregation::Hist { .. })
            | Type::Agg(crate::types::Aggregation::Lhist { .. })
            | Type::Agg(crate::types::Aggregation::Tseries { .. }) => user + 8,
            _ => user,
        }
    }
}

/// One kind of ring buffer record. Each record is `u64 event id` followed by the event's
/// arguments laid out as a tuple of `args` (see [`Event::layout`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    Printf {
        format: Vec<Piece>,
        args: Vec<Type>,
    },
    /// `warnf()`/`errorf()`, and a failed `assert()`: a message on stderr, prefixed with the
    /// location (`start..end` of [`Manifest::source`]) and its level, as bpftrace writes it.
    Message {
        level: Level,
        format: Vec<Piece>,
        args: Vec<Type>,
        start: usize,
        end: usize,
        /// The macro calls the message's code was expanded from, innermost first: each is
        /// named after the message (`…: ERROR: expanded from` and the line, underlined).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        expanded_from: Vec<(usize, usize)>,
    },
    /// `time(fmt)`: strftime of the wall clock when user space handles it.
    Time {
        format: String,
    },
    Cat {
        format: Vec<Piece>,
        args: Vec<Type>,
    },
    System {
        format: Vec<Piece>,
        args: Vec<Type>,
    },
    /// `join(arr[, sep])`: up to `max_items` strings of `item_len` bytes.
    Join {
        separator: String,
        max_items: u32,
        item_len: u32,
    },
    /// `exit()`/`exit(code)`: the first argument is the exit code (i64).
    Exit,
    /// `unwatch(addr)`: user space removes the watchpoints on the address, the argument (u64).
    Unwatch,
    /// `print(value)`
    PrintValue {
        ty: Type,
    },
    /// `print(@map[, top[, div]])`
    PrintMap {
        map: u32,
        top: u64,
        div: u64,
    },
    Clear {
        map: u32,
    },
    /// `-k`: a BPF helper call failed; the argument is its (negative) return value.
    /// `start..end` are the bytes of [`Manifest::source`] that made the call, which
    /// `stdlib::diag::helper_warning` renders as bpftrace does.
    HelperError {
        helper: String,
        start: usize,
        end: usize,
    },
    Zero {
        map: u32,
    },
    /// A division or modulo by zero at `start..end` of [`Manifest::source`], which gave 1:
    /// user space warns as bpftrace does (text on stderr with the line, or a JSON record).
    ZeroDivisor {
        start: usize,
        end: usize,
    },
    /// `skboutput(path, skb, len, offset)`: a packet for the pcap file at `path`, sent
    /// through [`SKB_MAP`] rather than the ring buffer. Its arguments are the boot-clock
    /// time (ns) and how many bytes of the packet follow the record; user space writes
    /// them from byte `offset` on.
    SkbOutput {
        path: String,
        offset: u64,
    },
}

/// What bpftrace says when a map update finds the map full (which the kernel reports as
/// E2BIG, -7).
pub const MAP_FULL_WARNING: &str = "Map full; can't update element. Try increasing max_map_keys config or manually setting the max entries in a map declaration e.g. `let @a = hash(5000)`\nAdditional Info - helper: map_update_elem, retcode: -7";

/// What bpftrace says when a division or modulo by zero gives 1.
pub const ZERO_DIVISOR_WARNING: &str =
    "Divide or modulo by 0 detected. This can lead to unexpected results. 1 is being used as the result.";

/// How grave a `Message` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Level {
    Warning,
    Error,
}

impl Level {
    /// The word bpftrace prints before the message.
    pub fn word(self) -> &'static str {
        match self {
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
        }
    }
}

impl Event {
    /// The argument types carried in the record after the event id.
    pub fn arg_types(&self) -> Vec<Type> {
        match self {
            Event::Printf { args, .. }
            | Event::Message { args, .. }
            | Event::Cat { args, .. }
            | Event::System { args, .. } => args.clone(),
            Event::Time { .. }
            | Event::PrintMap { .. }
            | Event::Clear { .. }
            | Event::Zero { .. }
            | Event::ZeroDivisor { .. } => Vec::new(),
            Event::Join {
                max_items,
                item_len,
                ..
            } => {
                vec![Type::Array {
                    elem: Box::new(Type::Str { len: *item_len }),
                    len: *max_items,
                }]
            }
            Event::Exit | Event::HelperError { .. } => vec![crate::types::I64],
            Event::Unwatch => vec![crate::types::U64],
            Event::SkbOutput { .. } => vec![crate::types::U64, crate::types::U64],
            Event::PrintValue { ty } => vec![ty.clone()],
        }
    }

    /// Offsets of each argument inside the payload (after the 8-byte id) and its total size.
    pub fn layout(&self) -> (Vec<u32>, u32) {
        tuple_layout(&self.arg_types())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_probes_counts_a_multi_link_once() {
        let uprobe = |multi| Attach::Uprobe {
            targets: (0..3)
                .map(|i| UprobeTarget {
                    path: "/lib/libc.so.6".into(),
                    symbol: format!("f{i}"),
                    offset: i,
                    cookie: 0,
                })
                .collect(),
            ret: false,
            multi,
        };
        assert_eq!(uprobe(true).limit_count(), 1);
        assert_eq!(uprobe(false).limit_count(), 3);
        assert_eq!(uprobe(true).target_count(), 3);
        let tracepoints = Attach::Tracepoint {
            targets: vec![("a".into(), "b".into()), ("a".into(), "c".into())],
        };
        assert_eq!(tracepoints.limit_count(), 2);
        assert_eq!(Attach::Begin.limit_count(), 1);
    }

    #[test]
    fn values_follow_the_default_type() {
        let int = OptionDefault::Int(20);
        let neg = OptionDefault::Int(-1);
        let v = |d: &OptionDefault, t: Option<&str>| option_value(d, Some(t));
        assert_eq!(
            v(&int, Some("0xffffffffffffffff")),
            Ok(OptionDefault::Int(-1))
        );
        assert_eq!(v(&int, Some("-5")), Ok(OptionDefault::Int(-5)));
        assert_eq!(v(&neg, Some("-10")), Ok(OptionDefault::Int(-10)));
        assert!(v(&neg, Some("0xffffffffffffffff")).is_err());
        assert!(v(&int, Some("False")).is_err());
        assert!(v(&int, None).is_err());
        let flag = OptionDefault::Bool(false);
        assert_eq!(v(&flag, None), Ok(OptionDefault::Bool(true)));
        assert_eq!(v(&flag, Some("False")), Ok(OptionDefault::Bool(false)));
        assert!(v(&flag, Some("maybe")).is_err());
        assert_eq!(option_value(&flag, None), Ok(OptionDefault::Bool(false)));
    }

    #[test]
    fn usdt_operands() {
        assert_eq!(
            parse_usdt_args("-4@%edi 8@-8(%rbp) 4@$5 8@%r12"),
            Some(vec![
                UsdtArg::Reg {
                    size: -4,
                    reg: "di".into()
                },
                UsdtArg::Mem {
                    size: 8,
                    reg: "bp".into(),
                    offset: -8,
                    index: None,
                },
                UsdtArg::Const { size: 4, value: 5 },
                UsdtArg::Reg {
                    size: 8,
                    reg: "r12".into()
                },
            ])
        );
        assert_eq!(
            parse_usdt_args("-2@-80(%rbp,%rax,8) 8@(%rsi,%rdx)"),
            Some(vec![
                UsdtArg::Mem {
                    size: -2,
                    reg: "bp".into(),
                    offset: -80,
                    index: Some(UsdtIndex {
                        reg: "ax".into(),
                        scale: 8
                    }),
                },
                UsdtArg::Mem {
                    size: 8,
                    reg: "si".into(),
                    offset: 0,
                    index: Some(UsdtIndex {
                        reg: "dx".into(),
                        scale: 1
                    }),
                },
            ])
        );
        assert_eq!(parse_usdt_args("8@(%rax,%rbx,3)"), None);
        assert_eq!(parse_usdt_args("8@%xmm0"), None);
    }
}

//! The type vocabulary shared by the checker, the code generator and the runtime: what a
//! value is, how big it is in BPF memory, and how user space decodes it.

use serde::{Deserialize, Serialize};

/// Where a pointer points: decides `probe_read_kernel` versus `probe_read_user`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AddrSpace {
    #[default]
    Kernel,
    User,
}

/// A record (struct or union) layout, from BTF, a tracepoint format or a script definition.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Record {
    /// `struct task_struct`, `union u`, `struct _tracepoint_syscalls_sys_enter_openat`.
    pub name: String,
    pub size: u32,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    /// Byte offset inside the record.
    pub offset: u32,
    pub ty: Type,
    /// Bit-field position `(bit offset within the byte at offset, width)`.
    pub bitfield: Option<(u8, u8)>,
    /// Tracepoint `__data_loc` field: the value is a u32 (len << 16 | offset) locating a string.
    pub data_loc: bool,
    /// The field's BTF type is an enum read as an integer, or an array of enums. A CO-RE
    /// relocation must describe it so: libbpf matches a field of enum type only with an enum.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub btf_enum: bool,
}

/// One level of the layout, each field as `name: type @ offset`: a field that holds a record
/// shows only that record's name. `-d hir` prints every expression's type, and the derived
/// form repeated a kernel record's whole tree (thousands of lines for `struct task_struct`)
/// at each one.
impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} bytes) ", self.name, self.size)?;
        let mut fields = f.debug_map();
        for field in &self.fields {
            let bits = field
                .bitfield
                .map(|(at, width)| format!(" bits {at}..+{width}"))
                .unwrap_or_default();
            fields.entry(
                &format_args!("{}", field.name),
                &format_args!("{} @ {}{bits}", field.ty.display(), field.offset),
            );
        }
        fields.finish()
    }
}

/// The kind of aggregation a map value holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Aggregation {
    Count,
    /// `signed` is the aggregated values' signedness (of them all: one signed value makes the
    /// map signed, as in bpftrace 0.27); it decides how min and max compare and how the
    /// 64-bit results print (`18446744073709551615` or `-1`).
    Sum {
        signed: bool,
    },
    Avg {
        signed: bool,
    },
    Min {
        signed: bool,
    },
    Max {
        signed: bool,
    },
    Stats {
        signed: bool,
    },
    /// log2 histogram with `2^bits` linear sub-buckets per power of two.
    Hist {
        bits: u8,
    },
    Lhist {
        min: i64,
        max: i64,
        step: i64,
    },
    /// `tseries(value, interval, intervals[, reduce])`: the values of the last `intervals`
    /// intervals of `interval_ns` each, reduced per interval by `reduce`. As histograms add
    /// a bucket index, the map key adds the slot `epoch % intervals`, whose value is a
    /// [`TSERIES_SLOT`] of (epoch, value, count). `signed` is the value's signedness, which
    /// decides how it prints.
    Tseries {
        interval_ns: u64,
        intervals: u32,
        reduce: TsReduce,
        signed: bool,
    },
}

impl Aggregation {
    /// The aggregation of one map that both `self` and `other` update, or `None` when they
    /// cannot share a map: sums, averages, minimums, maximums and stats of values of either
    /// signedness are signed if either is (as bpftrace 0.27 types them); any other two must
    /// be the same.
    pub fn join(self, other: Aggregation) -> Option<Aggregation> {
        use Aggregation as G;
        match (self, other) {
            (G::Sum { signed: a }, G::Sum { signed: b }) => Some(G::Sum { signed: a || b }),
            (G::Avg { signed: a }, G::Avg { signed: b }) => Some(G::Avg { signed: a || b }),
            (G::Min { signed: a }, G::Min { signed: b }) => Some(G::Min { signed: a || b }),
            (G::Max { signed: a }, G::Max { signed: b }) => Some(G::Max { signed: a || b }),
            (G::Stats { signed: a }, G::Stats { signed: b }) => Some(G::Stats { signed: a || b }),
            (
                G::Count
                | G::Sum { .. }
                | G::Avg { .. }
                | G::Min { .. }
                | G::Max { .. }
                | G::Stats { .. }
                | G::Hist { .. }
                | G::Lhist { .. }
                | G::Tseries { .. },
                _,
            ) => (self == other).then_some(self),
        }
    }
}

/// How `tseries()` reduces the values of one interval: the last one (no fourth argument),
/// or `"avg"`, `"max"`, `"min"`, `"sum"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TsReduce {
    Last,
    Avg,
    Max,
    Min,
    Sum,
}

impl TsReduce {
    /// The reductions a script can name, as `tseries()`'s fourth argument spells them.
    pub const NAMED: &'static [(&'static str, TsReduce)] = &[
        ("avg", TsReduce::Avg),
        ("max", TsReduce::Max),
        ("min", TsReduce::Min),
        ("sum", TsReduce::Sum),
    ];
}

/// Bytes of one tseries slot: the interval's epoch (timestamp / interval), the reduced value
/// (a total for avg), and how many values it holds (the divisor of avg).
pub const TSERIES_SLOT: u32 = 24;

/// Stack capture mode (`kstack(perf)` …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StackMode {
    Bpftrace,
    Perf,
    Raw,
    /// User stacks only: each frame as its object's build id and file offset
    /// (`a226…48ae 0x110e89`), or the bare address where no object with a build id holds it.
    BuildId,
}

impl StackMode {
    /// The mode as `stack_mode` and `kstack(mode)` spell it.
    pub fn name(self) -> &'static str {
        match self {
            StackMode::Bpftrace => "bpftrace",
            StackMode::Perf => "perf",
            StackMode::Raw => "raw",
            StackMode::BuildId => "build_id",
        }
    }
}

/// Where a stack's frames come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StackSource {
    /// `kstack`: the kernel's stack walk, kept in the stack-trace map.
    Kernel,
    /// `ustack`: the kernel's frame-pointer walk of the user stack, in the stack-trace map.
    User,
    /// `dw_ustack`: the user registers and the top `bytes` of the user stack, copied when the
    /// probe fires and unwound in user space with the binaries' DWARF CFI ([`crate::abi::dwstack`]).
    UserDwarf { bytes: u32 },
}

/// The type of a value in a script.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Type {
    /// Nothing: statements and calls with no value.
    None,
    Int {
        bits: u8,
        signed: bool,
    },
    Bool,
    /// A NUL-padded string held in a buffer of `len` bytes.
    Str {
        len: u32,
    },
    /// `buf(p, n)`: a length byte-prefixed buffer of capacity `len`.
    Buffer {
        len: u32,
    },
    Tuple(Vec<Type>),
    /// bpftrace 0.27's record, a tuple whose elements have names (`(a = 1, b = "x")`): laid
    /// out as the tuple of `elems`; `names[i]` names `elems[i]`.
    NamedTuple {
        names: Vec<String>,
        elems: Vec<Type>,
    },
    Pointer {
        to: Box<Type>,
        space: AddrSpace,
    },
    /// A C `float` or `double` (`bits` wide) in a struct: it takes its room and prints as
    /// `null`, but no expression may compute with it (bpftrace's "none" type).
    Float {
        bits: u8,
    },
    Array {
        elem: Box<Type>,
        len: u32,
    },
    Record(Box<Record>),
    /// An enum with its name and enumerators (name, value), so that its values print by
    /// name as bpftrace 0.27 prints them; values are unsigned integers of `bits` width.
    Enum {
        name: String,
        bits: u8,
        variants: Vec<(String, u64)>,
    },
    /// `kstack`/`ustack`: a stack id (u64) plus pid for user stacks; `dw_ustack`: a capture
    /// of the user stack ([`crate::abi::dwstack`]).
    Stack {
        source: StackSource,
        mode: StackMode,
        limit: u32,
    },
    /// `ntop(...)`: address family + 16 address bytes.
    Inet,
    /// `macaddr(...)`: 6 bytes.
    MacAddr,
    /// `ksym(...)`/`func` in kernel probes: an address symbolized in user space.
    Ksym,
    /// `usym(...)`/`func` in user probes: address + pid.
    Usym,
    /// `username`: a uid rendered as a user name.
    Username,
    /// `probe`: the probe's index into the manifest's probe names.
    ProbeName,
    /// `cgroup_path(id[, filter])`: a cgroup id rendered as its path in each cgroup hierarchy
    /// whose name matches the wildcard `filter` (every hierarchy without one).
    CgroupPath {
        filter: Option<String>,
    },
    /// `strerror(n)`: an errno rendered as its message.
    Strerror,
    /// `syscall_name(n)`: a system call number rendered as its name.
    SyscallName,
    /// `signal_name(n)`: a signal number rendered as its description.
    SignalName,
    /// `strftime(fmt, ns)`: a boot-relative nanosecond timestamp and a format id.
    Timestamp,
    /// A map value that is an aggregation (only valid as a map's value type).
    Agg(Aggregation),
}

pub const U64: Type = Type::Int {
    bits: 64,
    signed: false,
};
pub const I64: Type = Type::Int {
    bits: 64,
    signed: true,
};
pub const U32: Type = Type::Int {
    bits: 32,
    signed: false,
};

impl Type {
    /// Size in bytes of the value as stored in BPF memory (map values, event payloads).
    pub fn size(&self) -> u32 {
        match self {
            Type::None => 0,
            Type::Int { bits, .. } => u32::from(*bits) / 8,
            Type::Bool => 1,
            Type::Str { len } => *len,
            Type::Buffer { len } => len + 1,
            Type::Tuple(elems) | Type::NamedTuple { elems, .. } => tuple_layout(elems).1,
            Type::Pointer { .. } => 8,
            Type::Float { bits } => u32::from(*bits) / 8,
            Type::Array { elem, len } => elem.size() * len,
            Type::Record(r) => r.size,
            Type::Enum { bits, .. } => u32::from(*bits) / 8,
            Type::Stack { source, .. } => match source {
                StackSource::Kernel => crate::abi::stack::KSTACK_SIZE,
                StackSource::User => crate::abi::stack::USTACK_SIZE,
                StackSource::UserDwarf { bytes } => crate::abi::dwstack::BYTES + bytes,
            },
            Type::Inet => crate::abi::inet::SIZE,
            Type::MacAddr => 6,
            Type::Ksym => 8,
            Type::Usym => crate::abi::usym::SIZE,
            Type::Username => 8,
            Type::ProbeName => 8,
            Type::CgroupPath { .. } => 8,
            Type::Strerror => 8,
            Type::SyscallName => 8,
            Type::SignalName => 8,
            Type::Timestamp => 16,
            Type::Agg(agg) => agg_value_size(*agg),
        }
    }

    /// Alignment in bytes, for laying out tuples and event payloads.
    pub fn align(&self) -> u32 {
        match self {
            Type::None | Type::Bool | Type::Str { .. } | Type::Buffer { .. } | Type::MacAddr => 1,
            Type::Int { bits, .. } | Type::Enum { bits, .. } | Type::Float { bits } => {
                u32::from(*bits) / 8
            }
            Type::Tuple(elems) | Type::NamedTuple { elems, .. } => {
                elems.iter().map(Type::align).max().unwrap_or(1)
            }
            Type::Array { elem, .. } => elem.align(),
            // As in C: the strictest member's alignment (`struct { int m; int n; }` is 4).
            // A record whose members aren't known keeps the conservative 8.
            Type::Record(r) => r.fields.iter().map(|f| f.ty.align()).max().unwrap_or(8),
            Type::Pointer { .. }
            | Type::Stack { .. }
            | Type::Inet
            | Type::Ksym
            | Type::Usym
            | Type::Username
            | Type::ProbeName
            | Type::CgroupPath { .. }
            | Type::Strerror
            | Type::SyscallName
            | Type::SignalName
            | Type::Timestamp
            | Type::Agg(_) => 8,
        }
    }

    /// The elements of a tuple or a record, in layout order.
    pub fn elems(&self) -> Option<&[Type]> {
        if let Type::Tuple(elems) | Type::NamedTuple { elems, .. } = self {
            Some(elems)
        } else {
            None
        }
    }

    /// A tuple or record of the same shape (and names) whose elements are `f` of these
    /// elements; any other type is returned unchanged.
    pub fn map_elems(&self, f: impl FnMut(&Type) -> Type) -> Type {
        if let Type::NamedTuple { names, elems } = self {
            Type::NamedTuple {
                names: names.clone(),
                elems: elems.iter().map(f).collect(),
            }
        } else if let Type::Tuple(elems) = self {
            Type::Tuple(elems.iter().map(f).collect())
        } else {
            self.clone()
        }
    }

    /// Whether this type, or one inside it (a tuple's or record's element, an array's
    /// element type), is one that `leaf` accepts.
    pub fn contains(&self, leaf: &impl Fn(&Type) -> bool) -> bool {
        leaf(self)
            || match self {
                Type::Tuple(elems) | Type::NamedTuple { elems, .. } => {
                    elems.iter().any(|e| e.contains(leaf))
                }
                Type::Array { elem, .. } => elem.contains(leaf),
                Type::Record(r) => r.fields.iter().any(|f| f.ty.contains(leaf)),
                Type::None
                | Type::Int { .. }
                | Type::Bool
                | Type::Str { .. }
                | Type::Buffer { .. }
                | Type::Pointer { .. }
                | Type::Float { .. }
                | Type::Enum { .. }
                | Type::Stack { .. }
                | Type::Inet
                | Type::MacAddr
                | Type::Ksym
                | Type::Usym
                | Type::Username
                | Type::ProbeName
                | Type::CgroupPath { .. }
                | Type::Strerror
                | Type::SyscallName
                | Type::SignalName
                | Type::Timestamp
                | Type::Agg(_) => false,
            }
    }

    /// Whether printing a value of this type reads the traced process (its memory maps, to
    /// name a user-space address or unwind a user stack), which is gone once it exits: such
    /// records are read at once, while the process most likely still runs.
    pub fn reads_process(&self) -> bool {
        self.contains(&|t| {
            matches!(
                t,
                Type::Usym
                    | Type::Stack {
                        source: StackSource::User | StackSource::UserDwarf { .. },
                        ..
                    }
            )
        })
    }

    /// A pointer to bytes in `space`: what a `(void *)` cast makes, and what an address
    /// given as an integer (`kptr(0x…)`, `macaddr(0x…)`) points to.
    pub fn byte_pointer(space: AddrSpace) -> Type {
        Type::Pointer {
            to: Box::new(Type::Int {
                bits: 8,
                signed: false,
            }),
            space,
        }
    }

    pub fn is_int(&self) -> bool {
        matches!(self, Type::Int { .. } | Type::Bool | Type::Enum { .. })
    }

    pub fn is_signed(&self) -> bool {
        matches!(self, Type::Int { signed: true, .. })
    }

    pub fn is_str(&self) -> bool {
        matches!(self, Type::Str { .. })
    }

    /// How bpftrace names the type in diagnostics (`uint64`, `string[64]`, `(int64,string[16])`).
    pub fn display(&self) -> String {
        match self {
            Type::None => "none".into(),
            Type::Int { bits, signed } => format!("{}int{bits}", if *signed { "" } else { "u" }),
            Type::Bool => "bool".into(),
            Type::Str { len } => format!("string[{len}]"),
            Type::Buffer { len } => format!("buffer[{len}]"),
            Type::Tuple(elems) => {
                let inner: Vec<String> = elems.iter().map(Type::display).collect();
                format!("({})", inner.join(","))
            }
            Type::NamedTuple { names, elems } => {
                let inner: Vec<String> = names
                    .iter()
                    .zip(elems)
                    .map(|(n, t)| format!(".{n} = {}", t.display()))
                    .collect();
                format!("record {{ {} }}", inner.join(", "))
            }
            Type::Pointer { to, .. } => format!("{} *", to.display()),
            Type::Float { bits: 32 } => "float".into(),
            Type::Float { bits: 64 } => "double".into(),
            Type::Float { .. } => "long double".into(),
            Type::Array { elem, len } => format!("{}[{len}]", elem.display()),
            Type::Record(r) => r.name.clone(),
            Type::Enum { name, .. } => format!("enum {name}"),
            Type::Stack { source, .. } => match source {
                StackSource::Kernel => "kstack".into(),
                StackSource::User => "ustack".into(),
                StackSource::UserDwarf { .. } => "dw_ustack".into(),
            },
            Type::Inet => "inet".into(),
            Type::MacAddr => "macaddr".into(),
            Type::Ksym => "ksym".into(),
            Type::Usym => "usym".into(),
            Type::Username => "username".into(),
            Type::ProbeName => "probe".into(),
            Type::CgroupPath { .. } => "cgroup_path".into(),
            Type::Strerror => "strerror".into(),
            Type::SyscallName => "syscall_name".into(),
            Type::SignalName => "signal_name".into(),
            Type::Timestamp => "timestamp".into(),
            Type::Agg(agg) => agg_name(*agg).into(),
        }
    }
}

impl Type {
    /// `typeinfo()`'s names of the type, as bpftrace 0.27 spells them: its kind
    /// (`base_type`: `int`, `string`, `pointer`, `c_type`, `record`, `count_t`, …) and the
    /// whole type (`full_type`: `uint32`, `string[16]`, `struct task_struct *`, …). Where
    /// rbt keeps a value in a form of its own (an errno for `strerror()`, a uid for
    /// `username`), the names are those of the value the script sees.
    pub fn typeinfo_names(&self) -> (String, String) {
        let same = |name: &str| (name.to_string(), name.to_string());
        let shown = |base: &str| (base.to_string(), self.display());
        let stack = |kind: &'static str, mode: StackMode, limit: u32| {
            (kind.to_string(), format!("{kind}_{}_{limit}", mode.name()))
        };
        match self {
            Type::None => same("none"),
            Type::Int { .. } | Type::Enum { .. } => shown("int"),
            Type::Bool => same("bool"),
            Type::Str { .. } => shown("string"),
            Type::Buffer { .. } => shown("buffer"),
            Type::Tuple(_) => shown("tuple"),
            Type::NamedTuple { .. } => shown("record"),
            Type::Pointer { .. } => shown("pointer"),
            Type::Float { .. } => shown("float"),
            Type::Array { .. } => shown("array"),
            Type::Record(_) => shown("c_type"),
            Type::Stack {
                source,
                mode,
                limit,
                ..
            } => match source {
                StackSource::Kernel => stack("kstack", *mode, *limit),
                StackSource::User | StackSource::UserDwarf { .. } => stack("ustack", *mode, *limit),
            },
            Type::Inet => ("inet".to_string(), format!("inet[{}]", self.size())),
            Type::MacAddr => same("mac_address"),
            Type::Ksym => same("ksym_t"),
            Type::Usym => same("usym_t"),
            Type::Username => same("username_t"),
            Type::CgroupPath { .. } => same("cgroup_path_t"),
            Type::Timestamp => same("timestamp"),
            // Names bpftrace gives as strings of its default length.
            Type::ProbeName | Type::Strerror | Type::SyscallName | Type::SignalName => {
                ("string".to_string(), "string[64]".to_string())
            }
            Type::Agg(agg) => {
                let name = format!("{}_t", agg_name(*agg));
                (name.clone(), name)
            }
        }
    }
}

/// Name of an aggregation function, as written in scripts.
pub fn agg_name(agg: Aggregation) -> &'static str {
    match agg {
        Aggregation::Count => "count",
        Aggregation::Sum { .. } => "sum",
        Aggregation::Avg { .. } => "avg",
        Aggregation::Min { .. } => "min",
        Aggregation::Max { .. } => "max",
        Aggregation::Stats { .. } => "stats",
        Aggregation::Hist { .. } => "hist",
        Aggregation::Lhist { .. } => "lhist",
        Aggregation::Tseries { .. } => "tseries",
    }
}

/// Number of buckets a histogram map value holds.
pub fn agg_buckets(agg: Aggregation) -> u32 {
    match agg {
        // Bucket 0 is negative values, bucket 1 is zero, then (64 powers of two) × 2^bits.
        Aggregation::Hist { bits } => 2 + 64 * (1u32 << bits),
        // Underflow, (max-min)/step buckets, overflow.
        Aggregation::Lhist { min, max, step } => {
            let n = ((max - min) / step.max(1)).clamp(0, 100_000) as u32;
            n + 2
        }
        // One slot per interval kept.
        Aggregation::Tseries { intervals, .. } => intervals,
        Aggregation::Count
        | Aggregation::Sum { .. }
        | Aggregation::Avg { .. }
        | Aggregation::Min { .. }
        | Aggregation::Max { .. }
        | Aggregation::Stats { .. } => 0,
    }
}

/// Size of one CPU's slot of an aggregation value: counters are u64/i64; avg and stats keep
/// (count, total); min and max keep (value, seen-flag) so the first value always wins.
/// Histograms, as in bpftrace, add the bucket index to the map key and count one u64 per
/// (key, bucket): an update never needs a zeroed bucket array bigger than the BPF stack.
pub fn agg_value_size(agg: Aggregation) -> u32 {
    match agg {
        Aggregation::Count
        | Aggregation::Sum { .. }
        | Aggregation::Hist { .. }
        | Aggregation::Lhist { .. } => 8,
        Aggregation::Avg { .. }
        | Aggregation::Stats { .. }
        | Aggregation::Min { .. }
        | Aggregation::Max { .. } => 16,
        Aggregation::Tseries { .. } => TSERIES_SLOT,
    }
}

/// Field offsets and total size of a tuple laid out with natural alignment.
pub fn tuple_layout(elems: &[Type]) -> (Vec<u32>, u32) {
    let mut offsets = Vec::with_capacity(elems.len());
    let mut at = 0u32;
    for e in elems {
        let a = e.align().max(1);
        at = at.div_ceil(a) * a;
        offsets.push(at);
        at += e.size();
    }
    let align = elems.iter().map(Type::align).max().unwrap_or(1).max(1);
    (offsets, at.div_ceil(align) * align)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record's debug form is one level deep: a field holding a record shows its name.
    #[test]
    fn record_debug_names_nested_records() {
        let inner = Record {
            name: "struct in".into(),
            size: 4,
            fields: vec![Field {
                name: "deep".into(),
                offset: 0,
                ty: I64,
                bitfield: None,
                data_loc: false,
                btf_enum: false,
            }],
        };
        let outer = Record {
            name: "struct out".into(),
            size: 8,
            fields: vec![
                Field {
                    name: "r".into(),
                    offset: 0,
                    ty: Type::Record(Box::new(inner)),
                    bitfield: None,
                    data_loc: false,
                    btf_enum: false,
                },
                Field {
                    name: "b".into(),
                    offset: 4,
                    ty: Type::Int {
                        bits: 8,
                        signed: false,
                    },
                    bitfield: Some((1, 3)),
                    data_loc: false,
                    btf_enum: false,
                },
            ],
        };
        assert_eq!(
            format!("{outer:?}"),
            "struct out (8 bytes) {r: struct in @ 0, b: uint8 @ 4 bits 1..+3}"
        );
    }
}

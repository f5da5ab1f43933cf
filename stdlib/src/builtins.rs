//! The one table of builtin variables and functions. `lang` resolves a name to one of these
//! enums once; every later stage matches on the enum exhaustively, never on the string.

use serde::{Deserialize, Serialize};

/// Builtin variables (`pid`, `comm`, `arg0`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Builtin {
    Pid,
    Tid,
    Uid,
    Gid,
    Nsecs,
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
    /// `arg0`..`arg9`…
    Arg(u8),
    /// `sarg0`..`sarg9`: stack arguments.
    Sarg(u8),
    Retval,
    Args,
    Ctx,
    Cpid,
    Jiffies,
}

impl Builtin {
    /// Every fixed-name builtin variable (argN/sargN are matched by prefix).
    pub const NAMED: &'static [(&'static str, Builtin)] = &[
        ("pid", Builtin::Pid),
        ("tid", Builtin::Tid),
        ("uid", Builtin::Uid),
        ("gid", Builtin::Gid),
        ("nsecs", Builtin::Nsecs),
        ("elapsed", Builtin::Elapsed),
        ("cpu", Builtin::Cpu),
        ("numaid", Builtin::Numaid),
        ("comm", Builtin::Comm),
        ("cgroup", Builtin::Cgroup),
        ("rand", Builtin::Rand),
        ("curtask", Builtin::Curtask),
        ("probe", Builtin::Probe),
        ("func", Builtin::Func),
        ("username", Builtin::Username),
        ("kstack", Builtin::Kstack),
        ("ustack", Builtin::Ustack),
        ("retval", Builtin::Retval),
        ("args", Builtin::Args),
        ("ctx", Builtin::Ctx),
        ("cpid", Builtin::Cpid),
        ("jiffies", Builtin::Jiffies),
    ];

    pub fn from_name(name: &str) -> Option<Builtin> {
        if let Some((_, b)) = Builtin::NAMED.iter().find(|(n, _)| *n == name) {
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

    pub fn name(self) -> String {
        match self {
            Builtin::Arg(n) => format!("arg{n}"),
            Builtin::Sarg(n) => format!("sarg{n}"),
            other => Builtin::NAMED
                .iter()
                .find(|(_, b)| *b == other)
                .map(|(n, _)| (*n).to_string())
                .unwrap_or_default(),
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
    Str,
    Buf,
    Strncmp,
    Strcontains,
    Bswap,
    Ntop,
    Pton,
    Macaddr,
    Ksym,
    Usym,
    Kaddr,
    Uaddr,
    Cgroupid,
    CgroupPath,
    Signal,
    Override,
    Strftime,
    Strerror,
    Reg,
    Kptr,
    Uptr,
    Kstack,
    Ustack,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Stats,
    Hist,
    Lhist,
    Delete,
    Clear,
    Zero,
    Len,
    HasKey,
    Path,
    Unwatch,
    Skboutput,
}

impl Function {
    pub const ALL: &'static [(&'static str, Function)] = &[
        ("printf", Function::Printf),
        ("print", Function::Print),
        ("time", Function::Time),
        ("cat", Function::Cat),
        ("system", Function::System),
        ("exit", Function::Exit),
        ("join", Function::Join),
        ("debugf", Function::Debugf),
        ("str", Function::Str),
        ("buf", Function::Buf),
        ("strncmp", Function::Strncmp),
        ("strcontains", Function::Strcontains),
        ("bswap", Function::Bswap),
        ("ntop", Function::Ntop),
        ("pton", Function::Pton),
        ("macaddr", Function::Macaddr),
        ("ksym", Function::Ksym),
        ("usym", Function::Usym),
        ("kaddr", Function::Kaddr),
        ("uaddr", Function::Uaddr),
        ("cgroupid", Function::Cgroupid),
        ("cgroup_path", Function::CgroupPath),
        ("signal", Function::Signal),
        ("override", Function::Override),
        ("strftime", Function::Strftime),
        ("strerror", Function::Strerror),
        ("reg", Function::Reg),
        ("kptr", Function::Kptr),
        ("uptr", Function::Uptr),
        ("kstack", Function::Kstack),
        ("ustack", Function::Ustack),
        ("count", Function::Count),
        ("sum", Function::Sum),
        ("avg", Function::Avg),
        ("min", Function::Min),
        ("max", Function::Max),
        ("stats", Function::Stats),
        ("hist", Function::Hist),
        ("lhist", Function::Lhist),
        ("delete", Function::Delete),
        ("clear", Function::Clear),
        ("zero", Function::Zero),
        ("len", Function::Len),
        ("has_key", Function::HasKey),
        ("path", Function::Path),
        ("unwatch", Function::Unwatch),
        ("skboutput", Function::Skboutput),
    ];

    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }

    pub fn name(self) -> &'static str {
        Function::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// Functions that may only be used with `--unsafe`.
    pub fn is_unsafe(self) -> bool {
        matches!(
            self,
            Function::System | Function::Signal | Function::Override
        )
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
        for (name, f) in Function::ALL {
            assert_eq!(Function::from_name(name), Some(*f));
            assert_eq!(f.name(), *name);
        }
        for (name, b) in Builtin::NAMED {
            assert_eq!(Builtin::from_name(name), Some(*b));
            assert_eq!(b.name(), *name);
        }
        assert_eq!(Builtin::from_name("arg3"), Some(Builtin::Arg(3)));
        assert_eq!(Builtin::from_name("sarg1"), Some(Builtin::Sarg(1)));
        assert_eq!(Builtin::from_name("argx"), None);
    }
}

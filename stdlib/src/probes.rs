//! The probe kinds (providers) bpftrace knows, with every spelling of each. Shared by the
//! checker (which resolves attach points), codegen and the runtime (listing, attaching), so a
//! probe kind is named in one place.

use serde::Serialize;

/// Every provider bpftrace knows, aliases folded (`k` → `Kprobe`, `fentry` → `Kfunc`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Provider {
    Begin,
    End,
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
}

impl Provider {
    /// Every spelling bpftrace accepts for each provider, canonical name first.
    pub const SPELLINGS: &'static [(Provider, &'static [&'static str])] = &[
        (Provider::Begin, &["BEGIN", "begin"]),
        (Provider::End, &["END", "end"]),
        (Provider::Kprobe, &["kprobe", "k"]),
        (Provider::Kretprobe, &["kretprobe", "kr"]),
        (Provider::Uprobe, &["uprobe", "u"]),
        (Provider::Uretprobe, &["uretprobe", "ur"]),
        (Provider::Usdt, &["usdt", "U"]),
        (Provider::Tracepoint, &["tracepoint", "t"]),
        (Provider::Rawtracepoint, &["rawtracepoint", "rt"]),
        (Provider::Kfunc, &["kfunc", "fentry", "f"]),
        (Provider::Kretfunc, &["kretfunc", "fexit", "fr"]),
        (Provider::Profile, &["profile", "p"]),
        (Provider::Interval, &["interval", "i"]),
        (Provider::Software, &["software", "s"]),
        (Provider::Hardware, &["hardware", "h"]),
        (Provider::Watchpoint, &["watchpoint", "w"]),
        (Provider::Asyncwatchpoint, &["asyncwatchpoint", "aw"]),
        (Provider::Iter, &["iter", "it"]),
    ];

    /// The provider a spelling names, if any.
    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::SPELLINGS
            .iter()
            .find(|(_, names)| names.contains(&name))
            .map(|(p, _)| *p)
    }

    /// The canonical (long) name, as bpftrace prints it in listings.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Begin => "BEGIN",
            Provider::End => "END",
            Provider::Kprobe => "kprobe",
            Provider::Kretprobe => "kretprobe",
            Provider::Uprobe => "uprobe",
            Provider::Uretprobe => "uretprobe",
            Provider::Usdt => "usdt",
            Provider::Tracepoint => "tracepoint",
            Provider::Rawtracepoint => "rawtracepoint",
            Provider::Kfunc => "kfunc",
            Provider::Kretfunc => "kretfunc",
            Provider::Profile => "profile",
            Provider::Interval => "interval",
            Provider::Software => "software",
            Provider::Hardware => "hardware",
            Provider::Watchpoint => "watchpoint",
            Provider::Asyncwatchpoint => "asyncwatchpoint",
            Provider::Iter => "iter",
        }
    }
}

//! Probe listing (`rbt -l [PATTERN]`, `-lv`, `-p PID`) and "did you mean" suggestions for
//! attach points that matched nothing. Which source lists a probe kind, whether a wildcard
//! lists it and how many fields it takes come from its record in `stdlib::probes`; this file
//! reads each source.
//!
//! Output follows bpftrace 0.17 byte for byte where 0.17 lists a provider (tracepoint, kprobe,
//! uprobe, usdt, iter; `-lv` tracepoint fields): one `provider:target:name` per line, all lines
//! sorted as one set. Deliberate differences, each because 0.17 is broken or silent there:
//! - `software:*`/`hardware:*`: 0.17 echoes the pattern (`software:*:`); rbt lists each event
//!   (`software:cpu-clock:`), as later bpftrace releases do.
//! - kprobes come from kallsyms when `available_filter_functions` is unreadable (0.17 lists
//!   nothing); fentry/fexit and rawtracepoint are listed from BTF (0.17 has no rawtracepoint,
//!   and its kfunc listing needs `available_filter_functions`). They carry the module and
//!   0.27's names: `fentry:vmlinux:vfs_read` (0.17 printed `kfunc:vmlinux:vfs_read`).
//!   `fentry:bpf:*` lists the functions of the BPF programs loaded now as bpftrace 0.27
//!   names them, `fentry:bpf:ID:NAME`.
//! - Where 0.27 changed 0.17's listing, 0.27 wins: user-space paths are printed as written
//!   (`uprobe:./bin/x:f`, also when globbed), and `*:./bin/x:*` lists the binary's uprobes and
//!   USDT probes without -p.
//! - `-lv` also prints BTF parameters for kprobes (0.17 prints none), as the type checker sees them.
//! - `?` works as a one-character wildcard (0.17's parser rejects it).
//! - `interval:*`/`profile:*` list their units (`interval:s:`), as bpftrace 0.27 does (0.17
//!   refuses them); `-l` of a program lists its probes the same way ([`program_line`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use stdlib::catalog::SymbolNames;
use stdlib::probes::{Listing, PerfEvent, Provider};
use stdlib::types::AddrSpace;
use wildmatch::WildMatch;

use crate::introspect::btf::{self, Btf, BtfError, Param, TypeId};
use crate::introspect::dwarf::DebugInfo;
use crate::introspect::elf::{self, ElfError};
use crate::introspect::kallsyms::{self, FnList, KallsymsError};
use crate::introspect::tracefs::{self, TracefsError};
use crate::sys::{KernelBtf, SysError, TypeKind};

/// Software or hardware perf event names, aliases included (`cs`, `cycles`), from the one
/// table the checker uses to attach them.
fn perf_event_names(events: &'static [PerfEvent]) -> impl Iterator<Item = &'static str> {
    events
        .iter()
        .flat_map(|e| std::iter::once(e.name).chain(e.alias))
}

/// Whether `-l` lists `p` with no pattern or a wildcard provider: the kinds its record marks,
/// user-space ones only with `-p PID` (there is no binary to read otherwise), as in 0.17.
fn in_wildcard(p: Provider, pid: Option<u32>) -> bool {
    let kind = p.kind();
    kind.wildcard && (kind.space == AddrSpace::Kernel || pid.is_some())
}

/// Whether `p` takes parameters rather than names (`interval:s:1`), so has nothing to list.
fn takes_parameters(p: Provider) -> bool {
    p.kind().listing == Listing::Parameters
}

/// Whether `p` has nothing to list: it takes parameters, or has no names at all (`begin`).
fn nothing_to_list(p: Provider) -> bool {
    matches!(p.kind().listing, Listing::Nothing | Listing::Parameters)
}

/// Why listing failed. Each variant renders as a sentence.
#[derive(Debug)]
pub enum ListError {
    /// The provider is not one rbt knows.
    UnknownProvider(String),
    /// The provider takes parameters rather than names (`interval:s:1`), or has no names at
    /// all (`begin`), so there is nothing to list.
    NotListable(Provider),
    /// The pattern is a bare provider name (`-l kprobe`), which names no probe.
    ProviderOnly(Provider),
    /// The pattern has the wrong number of fields for its provider.
    WrongArity {
        provider: Provider,
        expected: &'static str,
    },
    Tracefs(TracefsError),
    Btf(BtfError),
    Kallsyms(KallsymsError),
    Elf(ElfError),
    /// libbpf could not load the kernel's BTF or write a type as C.
    Sys(SysError),
    /// `-l 'struct NAME'` names a kind of type that cannot be listed.
    NotAType(String),
    /// Writing the output failed (e.g. a closed pipe).
    Write(std::io::Error),
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListError::UnknownProvider(p) => write!(f, "unknown probe type '{p}'"),
            ListError::NotListable(p) if takes_parameters(*p) => write!(
                f,
                "{} probes take parameters, not names, so they cannot be listed",
                p.name()
            ),
            ListError::NotListable(p) => {
                write!(
                    f,
                    "{} probes have no names, so they cannot be listed",
                    p.name()
                )
            }
            ListError::ProviderOnly(p) => write!(
                f,
                "'{0}' is a probe type, not a probe: list its probes with -l '{0}:*'",
                p.name()
            ),
            ListError::WrongArity { provider, expected } => write!(
                f,
                "{} probe type requires {expected} argument{}",
                provider.name(),
                if *expected == "1" { "" } else { "s" }
            ),
            ListError::Tracefs(e) => e.fmt(f),
            ListError::Btf(e) => e.fmt(f),
            ListError::Kallsyms(e) => e.fmt(f),
            ListError::Elf(e) => e.fmt(f),
            ListError::Sys(e) => e.fmt(f),
            ListError::NotAType(t) => write!(
                f,
                "'{t}' is not a type to list: write `struct NAME`, `union NAME` or `enum NAME`"
            ),
            ListError::Write(e) => {
                write!(
                    f,
                    "cannot write the probe list: {}",
                    stdlib::diag::reason(e)
                )
            }
        }
    }
}

impl std::error::Error for ListError {}

/// One listed probe and, with `-lv`, its argument lines (already indented).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub probe: String,
    pub details: Vec<String>,
}

/// `rbt -l [PATTERN]` / `-lv`: write matching probes to `out`, one per line, sorted.
/// `debuginfo` holds the `--debuginfo` directories, where `-lv` finds the debug files of
/// stripped binaries.
pub fn list(
    pattern: Option<&str>,
    verbose: bool,
    pid: Option<u32>,
    debuginfo: &[PathBuf],
    out: &mut dyn Write,
) -> Result<(), ListError> {
    if let Some(types) = pattern.filter(|p| is_type_pattern(p)) {
        return list_types(types, verbose, out);
    }
    let probes = collect(pattern, verbose, pid, debuginfo)?;
    let mut buf = std::io::BufWriter::with_capacity(1 << 16, out);
    for p in &probes {
        writeln!(buf, "{}", p.probe).map_err(ListError::Write)?;
        for d in &p.details {
            writeln!(buf, "{d}").map_err(ListError::Write)?;
        }
    }
    buf.flush().map_err(ListError::Write)
}

/// Whether a `-l` pattern names kernel types (`struct task_struct`, `union bpf_attr,struct
/// fd`) rather than probes.
fn is_type_pattern(pattern: &str) -> bool {
    let first = pattern
        .trim_start()
        .split([' ', '\t'])
        .next()
        .unwrap_or_default();
    matches!(first, "struct" | "union" | "enum")
}

/// `-l 'struct task_*'` lists the kernel's types of that kind whose names match, sorted; with
/// `-lv`, each named type's C definition as bpftrace 0.27 prints it (`vmlinux: struct fd {`,
/// the members, `};`, a blank line), in the order given. Several patterns are separated by
/// commas.
fn list_types(pattern: &str, verbose: bool, out: &mut dyn Write) -> Result<(), ListError> {
    let btf = shared_vmlinux().map_err(ListError::Btf)?;
    let dumper = if verbose {
        Some(KernelBtf::load().map_err(ListError::Sys)?)
    } else {
        None
    };
    let mut buf = std::io::BufWriter::new(out);
    for item in pattern.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (keyword, name) = item.split_once([' ', '\t']).unwrap_or((item, "*"));
        let (kind, btf_kind) = match keyword {
            "struct" => (TypeKind::Struct, btf::Kind::Struct),
            "union" => (TypeKind::Union, btf::Kind::Union),
            "enum" => (TypeKind::Enum, btf::Kind::Enum),
            _ => return Err(ListError::NotAType(item.to_string())),
        };
        let glob = Glob::new(name.trim());
        let names: std::collections::BTreeSet<&str> =
            btf.type_names(btf_kind).filter(|n| glob.is(n)).collect();
        for n in names {
            match &dumper {
                Some(d) => {
                    if let Some(def) = d.c_definition(kind, n).map_err(ListError::Sys)? {
                        writeln!(buf, "vmlinux: {def}").map_err(ListError::Write)?;
                    }
                }
                None => writeln!(buf, "{keyword} {n}").map_err(ListError::Write)?,
            }
        }
    }
    buf.flush().map_err(ListError::Write)
}

/// The probes `list` would print, sorted and deduplicated.
pub fn collect(
    pattern: Option<&str>,
    verbose: bool,
    pid: Option<u32>,
    debuginfo: &[PathBuf],
) -> Result<Vec<Listed>, ListError> {
    let (providers, fields, explicit) = parse_pattern(pattern.unwrap_or(""), pid)?;
    let mut sources = Sources {
        debuginfo: debuginfo.to_vec(),
        ..Sources::default()
    };
    let mut all: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in providers {
        let Some(m) = normalize(p, &fields, pid) else {
            if explicit {
                return Err(ListError::WrongArity {
                    provider: p,
                    expected: p.kind().fields,
                });
            }
            continue;
        };
        match list_provider(p, &m, verbose, pid, &mut sources, &mut all) {
            Ok(()) => {}
            // With a wildcard provider, a source that is missing on this machine (no BTF, no
            // tracefs) only removes its own lines, like bpftrace's warnings.
            Err(_) if !explicit => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(all
        .into_iter()
        .map(|(probe, details)| Listed { probe, details })
        .collect())
}

/// How `rbt -l -e PROGRAM` shows one of the program's expanded probe names, as bpftrace 0.27
/// does: begin/end are not listed, and a unit or perf event is listed without its number
/// (`interval:ms:100` → `interval:ms:`), like `-l` lists those kinds.
pub fn program_line(probe_name: &str) -> Option<String> {
    let mut fields = probe_name.splitn(3, ':');
    let head = fields.next().unwrap_or_default();
    let Some(p) = Provider::from_name(head) else {
        return Some(probe_name.to_string());
    };
    match p.kind().listing {
        Listing::Nothing => None,
        Listing::Units(_) | Listing::PerfEvents(_) => Some(format!(
            "{}:{}:",
            p.name(),
            fields.next().unwrap_or_default()
        )),
        // A function without its module is one of vmlinux's, and `-l` names it so.
        Listing::BtfFunctions if probe_name.matches(':').count() == 1 => Some(format!(
            "{}:vmlinux:{}",
            p.name(),
            fields.next().unwrap_or_default()
        )),
        // A function probe with an offset (`uprobe:/bin/x:f+4`) is listed as its function.
        Listing::Kallsyms | Listing::ElfSymbols => Some(
            match probe_name.rsplit_once('+') {
                Some((f, off)) if !off.is_empty() && off.bytes().all(|b| b.is_ascii_digit()) => f,
                _ => probe_name,
            }
            .to_string(),
        ),
        Listing::Parameters
        | Listing::Tracefs
        | Listing::BtfFunctions
        | Listing::BtfRawTracepoints
        | Listing::UsdtNotes
        | Listing::Names(_) => Some(probe_name.to_string()),
    }
}

/// Split a pattern into the providers it names and the remaining fields.
/// The bool is true when the provider was named exactly (errors then surface).
fn parse_pattern(
    pattern: &str,
    pid: Option<u32>,
) -> Result<(Vec<Provider>, Vec<String>, bool), ListError> {
    let wild = |pid| {
        Provider::ALL
            .iter()
            .copied()
            .filter(|&p| in_wildcard(p, pid))
            .collect::<Vec<_>>()
    };
    if pattern.is_empty() {
        return Ok((wild(pid), Vec::new(), false));
    }
    let parts: Vec<&str> = pattern.split(':').collect();
    if parts.len() == 1 {
        if let Some(p) = Provider::from_name(parts[0]) {
            return Err(if nothing_to_list(p) {
                ListError::NotListable(p)
            } else {
                ListError::ProviderOnly(p)
            });
        }
        // A bare pattern matches the last field of every listable provider (`*open*`).
        return Ok((wild(pid), vec![parts[0].to_string()], false));
    }
    let fields: Vec<String> = parts[1..].iter().map(|s| s.to_string()).collect();
    let head = parts[0];
    if head.contains(['*', '?']) {
        let m = WildMatch::new(head);
        // A path in the pattern (`*:./bin/x:*`) is a binary to read, so user-space kinds
        // are listed from it as bpftrace 0.27 does, even without -p.
        let names_binary = fields.len() >= 2 && fields[0].contains('/');
        let ps = Provider::ALL
            .iter()
            .copied()
            .filter(|&p| in_wildcard(p, pid) || (names_binary && in_wildcard(p, Some(0))))
            .filter(|p| m.matches(p.name()))
            .collect();
        return Ok((ps, fields, false));
    }
    match Provider::from_name(head) {
        Some(p) if nothing_to_list(p) => Err(ListError::NotListable(p)),
        Some(p) => Ok((vec![p], fields, true)),
        None => Err(ListError::UnknownProvider(head.to_string())),
    }
}

/// A provider's pattern fields, normalized to its full arity with `*` for omitted ones.
#[derive(Debug)]
struct Fields {
    /// Module, category, or binary path; `*` when not given.
    target: String,
    /// USDT provider, or a uprobe's language (`cpp`); `*` otherwise.
    middle: String,
    /// Function, event or probe name.
    name: String,
}

fn normalize(p: Provider, f: &[String], pid: Option<u32>) -> Option<Fields> {
    let any = || "*".to_string();
    let mk = |target: String, middle: String, name: String| {
        Some(Fields {
            target,
            middle,
            name,
        })
    };
    let f: Vec<String> = f.to_vec();
    match (p.kind().listing, f.len()) {
        (_, 0) => mk(any(), any(), any()),
        (
            Listing::Tracefs
            | Listing::Kallsyms
            | Listing::BtfFunctions
            | Listing::BtfRawTracepoints,
            1,
        ) => mk(any(), any(), f[0].clone()),
        // A fixed table's line is matched whole after the provider (`self:signal:*` is
        // `signal:SIGUSR1`; `software:cpu-clock:100` is not `cpu-clock:`), as bpftrace
        // matches the listed name.
        (Listing::PerfEvents(_) | Listing::Names(_) | Listing::Units(_), _) => {
            mk(any(), any(), f.join(":"))
        }
        (
            Listing::Tracefs
            | Listing::Kallsyms
            | Listing::BtfFunctions
            | Listing::BtfRawTracepoints
            | Listing::ElfSymbols
            | Listing::UsdtNotes,
            2,
        ) => mk(f[0].clone(), any(), f[1].clone()),
        // With -p the field names functions of the process's objects; without, it is the
        // file (`uprobe:/bin/cat`, `usdt:*`), as bpftrace 0.27 reads it.
        (Listing::ElfSymbols | Listing::UsdtNotes, 1) if pid.is_some() => {
            mk(any(), any(), f[0].clone())
        }
        (Listing::ElfSymbols | Listing::UsdtNotes, 1) => mk(f[0].clone(), any(), any()),
        (Listing::UsdtNotes, 3) => mk(f[0].clone(), f[1].clone(), f[2].clone()),
        // `uprobe:/bin/x:cpp:ns::*`: functions by their C++ names (whose `::` split fields).
        (Listing::ElfSymbols, n) if n >= 3 && SymbolNames::from_language(&f[1]).is_some() => {
            mk(f[0].clone(), f[1].clone(), f[2..].join(":"))
        }
        // `fentry:bpf:ID:NAME`: a function of the loaded BPF program ID.
        (Listing::BtfFunctions, 3) if f[0] == BPF_TARGET => {
            mk(f[0].clone(), f[1].clone(), f[2].clone())
        }
        _ => None,
    }
}

/// Data read at most once per `collect` call, only by the providers that need it.
#[derive(Default)]
struct Sources {
    btf: Option<Result<Arc<Btf>, String>>,
    kfns: Option<FnList>,
    /// `--debuginfo` directories for the DWARF of stripped binaries (`-lv` of uprobes).
    debuginfo: Vec<PathBuf>,
}

impl Sources {
    fn btf(&mut self) -> Result<Arc<Btf>, ListError> {
        let r = self
            .btf
            .get_or_insert_with(|| shared_vmlinux().map_err(|e| e.to_string()));
        r.clone().map_err(|reason| {
            ListError::Btf(BtfError::Malformed {
                path: btf::VMLINUX_BTF.into(),
                reason,
            })
        })
    }

    fn kernel_fns(&mut self) -> Result<&FnList, ListError> {
        if self.kfns.is_none() {
            self.kfns = Some(kallsyms::probeable_functions().map_err(ListError::Kallsyms)?);
        }
        match &self.kfns {
            Some(f) => Ok(f),
            None => unreachable!("set just above"),
        }
    }
}

/// The vmlinux BTF, opened once per process and shared.
pub fn shared_vmlinux() -> Result<Arc<Btf>, BtfError> {
    static VMLINUX: OnceLock<Result<Arc<Btf>, String>> = OnceLock::new();
    VMLINUX
        .get_or_init(|| Btf::vmlinux().map(Arc::new).map_err(|e| e.to_string()))
        .clone()
        .map_err(|reason| BtfError::Malformed {
            path: btf::VMLINUX_BTF.into(),
            reason,
        })
}

/// The module field of an fentry/fexit attach point that names loaded BPF programs
/// instead of a kernel module (`fentry:bpf:NAME`).
const BPF_TARGET: &str = "bpf";

/// A glob over one field; a literal pattern (the common `-lv exact:name` case) compares directly.
struct Glob(WildMatch, bool, String);

impl Glob {
    fn new(p: &str) -> Glob {
        Glob(WildMatch::new(p), p.contains(['*', '?']), p.to_string())
    }
    fn is(&self, s: &str) -> bool {
        if self.1 {
            self.0.matches(s)
        } else {
            self.2 == s
        }
    }
}

fn params_lines(btf: &Btf, params: &[Param<'_>]) -> Vec<String> {
    params
        .iter()
        .map(|p| {
            if p.type_id == 0 {
                "    ...".to_string()
            } else {
                format!("    {} {}", btf.type_to_string(p.type_id), p.name)
            }
        })
        .collect()
}

fn list_provider(
    p: Provider,
    f: &Fields,
    verbose: bool,
    pid: Option<u32>,
    src: &mut Sources,
    out: &mut BTreeMap<String, Vec<String>>,
) -> Result<(), ListError> {
    let target = Glob::new(&f.target);
    let name = Glob::new(&f.name);
    let pname = p.name();
    match p.kind().listing {
        Listing::Tracefs => {
            for (cat, ev) in tracefs::list_events().map_err(ListError::Tracefs)? {
                if !(target.is(&cat) && name.is(&ev)) {
                    continue;
                }
                let details = if verbose {
                    tracefs::event_format(&cat, &ev)
                        .map(|fmt| {
                            fmt.fields
                                .iter()
                                .map(|f| format!("    {}", f.decl))
                                .collect()
                        })
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                out.insert(format!("{pname}:{cat}:{ev}"), details);
            }
        }
        Listing::Kallsyms => {
            let btf = if verbose { src.btf().ok() } else { None };
            let ids: HashMap<&str, TypeId> = btf.iter().flat_map(|b| b.func_ids()).collect();
            for kf in src.kernel_fns()?.iter() {
                let module = kf.module.unwrap_or("vmlinux");
                if !(name.is(kf.name) && target.is(module)) {
                    continue;
                }
                let details = match (&btf, ids.get(kf.name)) {
                    (Some(b), Some(&id)) => b
                        .func_sig(id)
                        .map(|sig| params_lines(b, &sig.params))
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                out.insert(format!("{pname}:{}", kf.name), details);
            }
        }
        // `fentry:bpf:…` lists the functions of the loaded BPF programs, by program id;
        // only when asked for by name, so the kernel's own functions list as before.
        Listing::BtfFunctions if f.target == BPF_TARGET => {
            let id = Glob::new(&f.middle);
            for t in crate::catalog::bpf_functions(None, &f.name) {
                if id.is(&t.id.to_string()) {
                    out.insert(format!("{pname}:bpf:{}:{}", t.id, t.func), Vec::new());
                }
            }
        }
        Listing::BtfFunctions => {
            let vmlinux = src.btf()?;
            let mut blobs: Vec<(String, Arc<Btf>)> = Vec::new();
            if target.is("vmlinux") {
                blobs.push(("vmlinux".into(), vmlinux.clone()));
            }
            for m in btf::module_names() {
                if target.is(&m) {
                    match btf::open_module(&m, vmlinux.clone()) {
                        Ok(b) => blobs.push((m, Arc::new(b))),
                        // A module unloaded between readdir and open is simply gone.
                        Err(_) => continue,
                    }
                }
            }
            for (module, b) in &blobs {
                for (fname, id) in b.func_ids() {
                    if !name.is(fname) {
                        continue;
                    }
                    let details = if verbose {
                        match b.func_sig(id) {
                            Some(sig) => {
                                let mut d = params_lines(b, &sig.params);
                                if sig.ret != 0 {
                                    d.push(format!("    {} retval", b.type_to_string(sig.ret)));
                                }
                                d
                            }
                            None => Vec::new(),
                        }
                    } else {
                        Vec::new()
                    };
                    out.insert(format!("{pname}:{module}:{fname}"), details);
                }
            }
        }
        Listing::BtfRawTracepoints => {
            let b = src.btf()?;
            if !target.is("vmlinux") {
                return Ok(());
            }
            if verbose {
                for (ev, params) in b.raw_tracepoints_with_params() {
                    if name.is(ev) {
                        let details = params.map(|ps| params_lines(&b, &ps));
                        out.insert(format!("{pname}:{ev}"), details.unwrap_or_default());
                    }
                }
            } else {
                for (ev, _) in b.raw_tracepoints().filter(|(ev, _)| name.is(ev)) {
                    out.insert(format!("{pname}:{ev}"), Vec::new());
                }
            }
        }
        // A unit or perf event is listed with its number left empty (`interval:s:`), which
        // a pattern may spell or leave out (`software:cpu*`).
        Listing::PerfEvents(events) => {
            for ev in perf_event_names(events) {
                if name.is(ev) || name.is(&format!("{ev}:")) {
                    out.insert(format!("{pname}:{ev}:"), Vec::new());
                }
            }
        }
        Listing::Names(names) => {
            for it in names {
                if name.is(it) {
                    out.insert(format!("{pname}:{it}"), Vec::new());
                }
            }
        }
        Listing::Units(units) => {
            for u in units {
                if name.is(u) || name.is(&format!("{u}:")) {
                    out.insert(format!("{pname}:{u}:"), Vec::new());
                }
            }
        }
        Listing::ElfSymbols => {
            for path in user_targets(&f.target, pid)? {
                // Mapped data files and unreadable objects have no symbols to list.
                let Ok(syms) = elf::function_symbols(&path) else {
                    continue;
                };
                let shown = path.display();
                // `-lv` of uprobes lists each function's parameters from the DWARF debug
                // info, when the binary has some.
                let debug = (verbose && p == Provider::Uprobe)
                    .then(|| DebugInfo::load(&path, &src.debuginfo).ok().flatten())
                    .flatten();
                // bpftrace 0.17 does not list GCC's `.part.N` split-off function bodies
                // (they are fragments, not entries callers reach); rbt follows it.
                let names = SymbolNames::from_language(&f.middle).unwrap_or(SymbolNames::Plain);
                for s in syms.into_iter().filter(|s| !s.name.contains(".part.")) {
                    // By C++ name, a function is listed by its demangled signature, quoted
                    // so that the line is an attach point as it stands.
                    let shown_name = match names {
                        SymbolNames::Cpp => {
                            let cpp = elf::cpp_names(&s.name);
                            if !cpp.iter().any(|n| name.is(n)) {
                                continue;
                            }
                            match cpp.first() {
                                Some(full) if *full != s.name => format!("\"{full}\""),
                                _ => s.name.clone(),
                            }
                        }
                        SymbolNames::Plain if name.is(&s.name) => s.name.clone(),
                        SymbolNames::Plain => continue,
                    };
                    let details = debug
                        .as_ref()
                        .and_then(|d| Some((d, d.params(&s.name, s.addr)?)))
                        .map(|(d, params)| {
                            params
                                .iter()
                                .map(|p| format!("    {} {}", d.type_name(p.ty), p.name))
                                .collect()
                        })
                        .unwrap_or_default();
                    let lang = names.prefix();
                    out.insert(format!("{pname}:{shown}:{lang}{shown_name}"), details);
                }
            }
        }
        Listing::UsdtNotes => {
            let middle = Glob::new(&f.middle);
            for path in user_targets(&f.target, pid)? {
                let Ok(probes) = elf::usdt_probes(&path) else {
                    continue;
                };
                let shown = path.display();
                for u in probes {
                    if middle.is(&u.provider) && name.is(&u.name) {
                        out.insert(
                            format!("{pname}:{shown}:{}:{}", u.provider, u.name),
                            Vec::new(),
                        );
                    }
                }
            }
        }
        Listing::Nothing | Listing::Parameters => return Err(ListError::NotListable(p)),
    }
    Ok(())
}

/// The files a uprobe/usdt pattern's target field stands for.
fn user_targets(target: &str, pid: Option<u32>) -> Result<Vec<PathBuf>, ListError> {
    elf::resolve_target(target, pid).map_err(ListError::Elf)
}

/// A real probe close to one that matched nothing, for "did you mean ...?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The full attach point, e.g. `tracepoint:syscalls:sys_enter_openat`.
    pub probe: String,
    /// Its last field, e.g. `sys_enter_openat`: what a diagnostic usually shows; the whole
    /// probe when it is in another file than the one written (a function of a stub library
    /// found in a library it needs: `uprobe:libc.so.6:pthread_create`).
    pub name: String,
    /// Edit distance between what was written and `name` (0 for a renamed-symbol match).
    pub distance: usize,
}

/// At most this many suggestions are returned.
const MAX_SUGGESTIONS: usize = 3;

/// The closest real probes to `attach` (as written, e.g. `tracepoint:syscalls:sys_enter_opnat`,
/// `kprobe:tcp_conect`, `uprobe:/bin/bash:readlin`, `usdt:/bin/x:prov:nme`), best first.
/// Empty when nothing is close or the provider's source is unavailable.
pub fn did_you_mean(attach: &str, pid: Option<u32>) -> Vec<Suggestion> {
    let parts: Vec<&str> = attach.split(':').collect();
    let Some(p) = parts.first().and_then(|h| Provider::from_name(h)) else {
        return Vec::new();
    };
    let fields: Vec<String> = parts[1..].iter().map(|s| s.to_string()).collect();
    let Some(f) = normalize(p, &fields, pid) else {
        return Vec::new();
    };
    let typed = f.name.as_str();
    // Candidates as (full probe, name field).
    let mut cands: Vec<(String, String)> = Vec::new();
    // A candidate with the very name written is normally the probe that did not match
    // (e.g. another category); it becomes a suggestion only when a qualifier was the typo.
    let mut same_name_ok = false;
    let mut renamed: Vec<(String, String)> = Vec::new();
    let target = Glob::new(&f.target);
    let pname = p.name();
    match p.kind().listing {
        Listing::Tracefs => {
            let Ok(events) = tracefs::list_events() else {
                return Vec::new();
            };
            // Prefer the written category; if it has no close event, search them all.
            let in_cat: Vec<_> = events.iter().filter(|(c, _)| target.is(c)).collect();
            let pool: Vec<_> = if in_cat.is_empty() {
                events.iter().collect()
            } else {
                in_cat
            };
            cands.extend(
                pool.into_iter()
                    .map(|(c, e)| (format!("{pname}:{c}:{e}"), e.clone())),
            );
        }
        Listing::Kallsyms => {
            let Ok(fns) = kallsyms::probeable_functions() else {
                return Vec::new();
            };
            let names: Vec<&str> = fns.names().collect();
            for r in kallsyms::resolve_renamed(typed, names.iter().copied()) {
                if r != typed {
                    renamed.push((format!("{pname}:{r}"), r.to_string()));
                }
            }
            cands.extend(
                names
                    .into_iter()
                    .map(|n| (format!("{pname}:{n}"), n.to_string())),
            );
        }
        // `fentry:bpf:…` names functions of loaded BPF programs, not of the kernel.
        Listing::BtfFunctions if f.target == "bpf" => {
            let Ok(programs) = crate::sys::loaded_programs() else {
                return Vec::new();
            };
            cands.extend(programs.iter().flat_map(|prog| {
                prog.functions
                    .iter()
                    .map(move |n| (format!("{pname}:bpf:{}:{n}", prog.id), n.clone()))
            }));
        }
        Listing::BtfFunctions => {
            let Ok(b) = shared_vmlinux() else {
                return Vec::new();
            };
            cands.extend(
                b.func_names()
                    .map(|n| (format!("{pname}:vmlinux:{n}"), n.to_string())),
            );
        }
        Listing::BtfRawTracepoints => {
            let Ok(b) = shared_vmlinux() else {
                return Vec::new();
            };
            cands.extend(
                b.raw_tracepoints()
                    .map(|(n, _)| (format!("{pname}:{n}"), n.to_string())),
            );
        }
        Listing::ElfSymbols => {
            let Ok(paths) = user_targets(&f.target, pid) else {
                return Vec::new();
            };
            // Whether each library needed so far defines the function, by soname: the
            // targets of a wildcard (every executable of PATH) mostly need the same few.
            let mut needed: HashMap<String, bool> = HashMap::new();
            for path in paths {
                let Ok(syms) = elf::function_symbols(&path) else {
                    continue;
                };
                // A function missing from a library may live in one it needs (a stub such as
                // glibc 2.34+'s libpthread): the probe there comes first, named in full.
                if !typed.contains(['*', '?']) && !syms.iter().any(|s| s.name == typed) {
                    for soname in elf::needed_libraries(&path) {
                        let defines = *needed.entry(soname.clone()).or_insert_with(|| {
                            elf::resolve_target(&soname, pid).is_ok_and(|libs| {
                                libs.iter().any(|lib| {
                                    elf::function_symbols(lib)
                                        .is_ok_and(|syms| syms.iter().any(|s| s.name == typed))
                                })
                            })
                        });
                        let probe = format!("{pname}:{soname}:{typed}");
                        if defines && !renamed.iter().any(|(p, _)| *p == probe) {
                            renamed.push((probe.clone(), probe));
                        }
                    }
                }
                let shown = path.display().to_string();
                cands.extend(
                    syms.into_iter()
                        .map(|s| (format!("{pname}:{shown}:{}", s.name), s.name)),
                );
            }
        }
        Listing::UsdtNotes => {
            let Ok(paths) = user_targets(&f.target, pid) else {
                return Vec::new();
            };
            let middle = Glob::new(&f.middle);
            let mut all = Vec::new();
            for path in paths {
                if let Ok(probes) = elf::usdt_probes(&path) {
                    let shown = path.display().to_string();
                    for u in probes {
                        let in_provider = middle.is(&u.provider);
                        let probe = format!("{pname}:{shown}:{}:{}", u.provider, u.name);
                        all.push((in_provider, probe, u.name));
                    }
                }
            }
            // Prefer the written provider; if nothing there is close, the provider may be the typo.
            let any_in = all.iter().any(|(i, _, _)| *i);
            same_name_ok = !any_in;
            cands.extend(
                all.into_iter()
                    .filter(|(i, _, _)| *i || !any_in)
                    .map(|(_, probe, name)| (probe, name)),
            );
        }
        Listing::PerfEvents(events) => {
            cands
                .extend(perf_event_names(events).map(|e| (format!("{pname}:{e}:"), e.to_string())));
        }
        Listing::Names(names) => {
            cands.extend(
                names
                    .iter()
                    .map(|i| (format!("{pname}:{i}"), i.to_string())),
            );
        }
        // A unit is not a name a typo could be close to: the checker words unit errors.
        Listing::Nothing | Listing::Parameters | Listing::Units(_) => {}
    }
    rank(typed, renamed, cands, same_name_ok)
}

/// Pick the closest candidates: renamed-symbol matches first, then by edit distance.
fn rank(
    typed: &str,
    renamed: Vec<(String, String)>,
    cands: Vec<(String, String)>,
    same_name_ok: bool,
) -> Vec<Suggestion> {
    // Allow roughly one typo per four characters, at least two: "opnat" → "openat" is one edit,
    // while unrelated names of similar length stay out.
    let limit = (typed.chars().count() / 4).max(2);
    let mut out: Vec<Suggestion> = renamed
        .into_iter()
        .map(|(probe, name)| Suggestion {
            probe,
            name,
            distance: 0,
        })
        .collect();
    let mut scored: Vec<Suggestion> = cands
        .into_iter()
        .filter(|(_, n)| (same_name_ok || n != typed) && n.len().abs_diff(typed.len()) <= limit)
        .filter_map(|(probe, name)| {
            let d = strsim::levenshtein(typed, &name);
            (d <= limit).then_some(Suggestion {
                probe,
                name,
                distance: d,
            })
        })
        .collect();
    scored.sort_by(|a, b| a.distance.cmp(&b.distance).then(a.probe.cmp(&b.probe)));
    scored.dedup_by(|a, b| a.probe == b.probe);
    out.extend(scored);
    out.truncate(MAX_SUGGESTIONS);
    out
}

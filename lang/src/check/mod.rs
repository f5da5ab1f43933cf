//! Semantic analysis: resolves names, expands attach points, types every expression with
//! bpftrace's rules and lowers the AST to `hir`. Every violation is a Diagnostic with a span;
//! analysis continues after errors so the user sees all of them at once.

mod attach;
pub use attach::filter_probes;
mod calls;
mod comptime;
mod ctypes;
mod decls;
pub mod diagnostics;
mod exprs;
mod frames;
mod getopt;
mod map_count;
pub use getopt::{program_options_help, OptionDefault, ProgramOption};
pub use stdlib::manifest::wants_help;
mod scope;
pub mod scratch;
mod stmt_calls;
mod stmts;

use crate::ast::{self, Span};
use crate::config::{Config, Unstable};
use crate::hir;
use std::collections::HashMap;
use stdlib::catalog::{self, Catalog};
use stdlib::diag::Diagnostic;
use stdlib::manifest::{Event, MapKind, MapSpec};
use stdlib::types::{AddrSpace, Type};

/// The most (start, byte) pairs `strcontains` and `strstr` search with rbt's own loop: the
/// verifier walks the search once per pair, about 14 instructions each, and walks at most a
/// million instructions a program (1024 starts of a 64-byte needle pass in 0.6 s; 100 bytes
/// are too many). Longer searches call the kernel's [`STRNSTR_KFUNC`] where it has one.
pub const SEARCH_STEPS: u64 = 1 << 16;

/// The most bytes a string comparison, `strlen` or `memcmp` examines with rbt's own loop:
/// each byte is a loop step with two branches the verifier keeps pending (it gives up past
/// 8192 pending). Longer strings' lengths are the kernel's [`STRNLEN_KFUNC`] where it has one.
pub const STRING_STEPS: u64 = 2048;

/// The kernel's string length (Linux 6.17+), which costs the verifier one call: codegen
/// calls it for `strlen` of strings over [`STRING_STEPS`] bytes, which the checker accepts
/// only where the kernel's BTF has it.
pub const STRNLEN_KFUNC: &str = "bpf_strnlen";

/// The kernel's string search (Linux 6.17+), which reads both strings itself and costs the
/// verifier one call: codegen calls it for searches over [`SEARCH_STEPS`] pairs, which the
/// checker accepts only where the kernel's BTF has it.
pub const STRNSTR_KFUNC: &str = "bpf_strnstr";

/// Settings that change how a script is checked.
#[derive(Debug, Clone)]
pub struct Options {
    /// Positional parameters (`$1` is `params[0]`).
    pub params: Vec<String>,
    /// Named program options given after `--` (`--name` or `--name=value`), for `getopt()`.
    pub named: Vec<(String, Option<String>)>,
    /// `--unsafe`: allow system(), signal(), override().
    pub allow_unsafe: bool,
    /// Whether `-c CMD` was given (so `cpid` is valid), and its pid once known.
    pub cpid: Option<u32>,
    /// The programs are only compiled or loaded, never attached (`--dry-run`, `--check`,
    /// `-d`, `-l`): kprobes on kernels without them, and kprobe/uprobe/usdt attach points or
    /// `kaddr()` symbols this system lacks, become warnings so the verifier still judges the
    /// program.
    pub load_only: bool,
    /// `BPFTRACE_DUMMY_TS_MAP=@ts`: `tseries()` takes its time from this scalar map instead
    /// of the clock, so that a script can play intervals through (bpftrace's tests do).
    pub dummy_ts_map: Option<String>,
    /// `--aot`: `cpid`, `$#` and integer `$N` become values read when the compiled script
    /// runs (`hir::ExprKind::RunValue`) instead of constants, so one file serves many runs.
    pub run_time_values: bool,
    /// The script's settings (its config block and the environment): string and map sizes,
    /// `stack_mode`, `missing_probes`, the unstable features, and every value `config()`
    /// reports.
    pub config: Config,
}

impl Default for Options {
    /// The default settings, with the unstable features allowed: callers that do not read
    /// a config block (tests, tools) use them freely.
    fn default() -> Self {
        Options {
            params: Vec::new(),
            named: Vec::new(),
            allow_unsafe: false,
            cpid: None,
            load_only: false,
            dummy_ts_map: None,
            run_time_values: false,
            config: Config {
                unstable_tseries: Unstable::Enable,
                unstable_dw_ustack: Unstable::Enable,
                unstable_typeinfo: Unstable::Enable,
                ..Config::default()
            },
        }
    }
}

impl Options {
    /// The options a script's resolved `config` block (with the environment) sets, the
    /// others left at their defaults.
    pub fn from_config(config: &Config) -> Options {
        Options {
            config: config.clone(),
            ..Options::default()
        }
    }
}

/// The result of checking: the typed script (when there were no errors), every diagnostic,
/// and notes for stderr (e.g. which renamed symbol a kprobe chose).
pub struct Checked {
    pub script: Option<hir::Script>,
    pub diagnostics: Vec<Diagnostic>,
    pub notes: Vec<String>,
    /// The program options the script declares with `getopt()`, in order of declaration.
    pub options: Vec<ProgramOption>,
    /// Whether a positional parameter's text was compiled into the script (an attach point,
    /// a literal argument, a string value, a constant): a compiled file then runs only with
    /// the same parameters.
    pub params_compiled_in: bool,
}

/// What a map has been used as so far.
struct MapInfo {
    id: hir::MapId,
    /// Span of the first use that fixed the types (for "first used here" notes).
    first: Span,
}

pub(crate) struct Checker<'a> {
    opts: &'a Options,
    /// The macro calls the script's statements were expanded from (`lang::macros`).
    expansions: &'a [ast::Expansion],
    catalog: &'a dyn Catalog,
    /// The BTF-typed parameters of each raw tracepoint looked up so far (`None`: BTF does
    /// not describe it): each lookup scans the kernel's BTF, and a wildcard probe asks once
    /// to split its events and once per program.
    raw_params: HashMap<String, Option<Vec<(String, Type)>>>,
    diags: Vec<Diagnostic>,
    notes: Vec<String>,
    /// The first `dw_ustack` of the script, for the `unstable_dw_ustack` note or error.
    dw_ustack_first: Option<Span>,
    /// The first `typeinfo()` of the script, for the `unstable_typeinfo` note or error.
    typeinfo_first: Option<Span>,
    maps: Vec<MapSpec>,
    /// The most scratch memory any probe checked so far needs (`scratch::check`).
    scratch_need: u64,
    map_ids: HashMap<String, MapInfo>,
    /// Maps the quiet first pass saw read before any assignment, by script name: each
    /// one's name, key type and first read (`declare_unassigned_maps`).
    unassigned_reads: HashMap<String, (ast::Ident, Option<Type>, Span)>,
    /// Map declarations (`let @m = hash(10);`) by map name.
    decls: HashMap<String, decls::Decl>,
    events: Vec<Event>,
    time_formats: Vec<String>,
    defines: HashMap<String, String>,
    /// The non-kernel headers the script includes, whose integer macros are read into
    /// `header_macros` the first time a name is found nowhere else: reading them runs the C
    /// preprocessor, which most scripts never need.
    headers: Vec<(String, bool)>,
    header_macros: HashMap<String, i64>,
    records: HashMap<String, stdlib::types::Record>,
    /// Records the script defines: they are not the kernel's, so their fields are never
    /// relocated against the kernel's BTF.
    script_records: std::collections::HashSet<String>,
    /// Script enums by name (`enum Foo`), as the type their values have.
    enums: HashMap<String, Type>,
    /// Script enumerators: each one's value and its enum's type.
    enumerators: HashMap<String, (i64, Type)>,
    /// Per-probe state.
    vars: Vec<Type>,
    var_ids: HashMap<String, hir::VarId>,
    probe: ProbeInfo,
    /// The longest `name_len` of the probes checked so far (the quiet first pass sees them
    /// all): where `probe` meets strings in a map or variable, its text takes this many bytes.
    probe_text_len: u32,
    loop_depth: u32,
    /// `for` bodies of the probe checked so far: the next one's `FrameId`.
    frames: hir::FrameId,
    scopes: scope::Scopes,
    /// `bench:name` and `test:name` probes seen, with where: each name may be used once.
    run_names: HashMap<String, Span>,
    /// Whether `missing_probes` dropped an attach point that matched nothing: a script left
    /// without probes then says so rather than that it has none.
    dropped_attach_points: bool,
    /// The options `getopt()` calls declared so far.
    program_options: Vec<ProgramOption>,
    /// The map `tseries()` reads its time from (see [`Options::dummy_ts_map`]).
    tseries_clock: Option<hir::MapId>,
    learned: scope::LearnedTypes,
    /// See [`hir::Script::run_values`].
    run_values: Vec<stdlib::manifest::RunValue>,
    /// See [`Checked::params_compiled_in`].
    params_compiled_in: bool,
}

/// Facts about the probe being checked that expressions depend on.
#[derive(Default, Clone)]
struct ProbeInfo {
    provider: Option<ast::Provider>,
    tracepoint_fields: Vec<catalog::TracepointField>,
    /// The kernel BTF struct of the tracepoint's record, when BTF has one that matches.
    tracepoint_record: Option<catalog::TracepointRecord>,
    tracepoint_name: String,
    /// Whether the addresses this probe is given are user-space: its arguments' pointers
    /// and integers passed to `str()` and the like (uprobes, USDT and syscall tracepoints).
    user: bool,
    /// Where an integer cast to a pointer, or dereferenced, points: the probe kind's own
    /// address space (user for uprobes and USDT; kernel in syscall tracepoints too, as in
    /// bpftrace 0.27, so `(struct task_struct *)$addr` reads the kernel there).
    cast_space: AddrSpace,
    /// kfunc/kretfunc: the function's BTF parameters and return type.
    signature: Option<(Vec<(String, Type)>, Type)>,
    /// fentry/fexit on a function of a loaded BPF program (`fentry:bpf:…`), whose
    /// arguments the program's BTF types (`signature`).
    bpf_program: bool,
    /// uprobe/uretprobe/usdt: each target's binary and file offset (for `uaddr`).
    user_targets: Vec<(String, u64)>,
    /// Whether the body reads `probe`: then each target of a wildcard gets a program of
    /// its own, so `probe` names the one that fired, unless the kind tells the program
    /// which target fired (see [`attach::name_targets`]).
    reads_probe: bool,
    /// Whether the body uses `probe` as a string (compared with one, passed where a string
    /// goes): the name is then compiled in, and each target has a program of its own.
    probe_as_text: bool,
    /// Whether the body needs what only a perf tracepoint program has: its record's common
    /// header (`common_pid`, …), its kernel stack (`kstack`), or kfuncs that raw tracepoint
    /// programs may not call (`comm(pid)`). A syscall tracepoint then stays a perf
    /// tracepoint rather than a dispatched raw tracepoint (see [`attach::syscall_dispatch`]).
    perf_tracepoint: bool,
    /// usdt: how many arguments every location of the probe has (`argN` must be below it).
    usdt_args: Option<usize>,
    /// uprobe: the binary and function of each target, whose DWARF parameters are `args`
    /// (read only when a body uses them).
    uprobe_functions: Vec<(String, String)>,
    /// uprobe/uretprobe whose targets are all one function (named, not an address): `func`
    /// is that name, known here, so it needs no symbolization in a process that may have
    /// exited by the time its event is read.
    uprobe_function: Option<String>,
    /// Bytes of the longest name of the probe's attach point, with its NUL: `probe` used as
    /// a string is that long.
    name_len: u32,
    /// iter: the iterator (`task`), whose record `bpf_iter__task` is what `ctx` points at.
    iterator: Option<String>,
}

/// The function every one of a uprobe's targets is in, when they are all one (several
/// binaries may have it): `None` for several functions or an address or source-line target
/// (named by its address in decimal, which no function name can be).
fn one_function<'a>(mut symbols: impl Iterator<Item = &'a str>) -> Option<String> {
    let first = symbols.next()?;
    let named = !first.starts_with(|c: char| c.is_ascii_digit());
    (named && symbols.all(|s| s == first)).then(|| first.to_string())
}

/// Checks a parsed script against the system described by `catalog`.
pub fn check(script: &ast::Script, catalog: &dyn Catalog, opts: &Options) -> Checked {
    let mut c = Checker {
        opts,
        expansions: &script.expansions,
        catalog,
        raw_params: HashMap::new(),
        diags: Vec::new(),
        notes: Vec::new(),
        dw_ustack_first: None,
        typeinfo_first: None,
        maps: Vec::new(),
        scratch_need: 0,
        map_ids: HashMap::new(),
        unassigned_reads: HashMap::new(),
        decls: HashMap::new(),
        events: Vec::new(),
        time_formats: Vec::new(),
        defines: HashMap::new(),
        headers: Vec::new(),
        header_macros: HashMap::new(),
        records: HashMap::new(),
        script_records: std::collections::HashSet::new(),
        enums: HashMap::new(),
        enumerators: HashMap::new(),
        vars: Vec::new(),
        var_ids: HashMap::new(),
        probe: ProbeInfo::default(),
        probe_text_len: 0,
        loop_depth: 0,
        frames: 0,
        scopes: scope::Scopes::default(),
        run_names: HashMap::new(),
        dropped_attach_points: false,
        program_options: Vec::new(),
        tseries_clock: None,
        learned: scope::LearnedTypes::default(),
        run_values: Vec::new(),
        params_compiled_in: false,
    };
    for d in &script.directives {
        match d {
            ast::Directive::Define { name, value, .. } => {
                c.defines.insert(name.name.clone(), value.clone());
            }
            // Kernel headers are left to BTF; others give the script their integer macros.
            ast::Directive::Include { path, system, span } => {
                if kernel_header(path) {
                    continue;
                }
                if catalog.header_found(path, *system) {
                    c.headers.push((path.clone(), *system));
                } else {
                    c.push(diagnostics::header_not_found(path, *system, *span));
                }
            }
        }
    }
    for def in &script.c_definitions {
        c.c_definition(def);
    }
    c.declare_maps(&script.map_decls);
    // The definitions' errors are reported once, before the quiet pass below clears its own.
    let definition_diags = std::mem::take(&mut c.diags);
    // Map types are fixed by their first assignment anywhere in the script, so a probe may
    // read a map that a later probe writes. A quiet first pass learns those types.
    {
        let mut probes = Vec::new();
        let mut names = Vec::new();
        for (index, probe) in script.probes.iter().enumerate() {
            c.probe(probe, index, &mut probes, &mut names);
        }
        c.diags = definition_diags;
        c.notes.clear();
        c.events.clear();
        c.time_formats.clear();
        c.program_options.clear();
        c.learned.restart();
    }
    c.declare_unassigned_maps();
    let mut probes = Vec::new();
    let mut probe_names = Vec::new();
    for (index, probe) in script.probes.iter().enumerate() {
        c.probe(probe, index, &mut probes, &mut probe_names);
    }
    if let Some(d) = c.unexpected_program_options() {
        c.diags.push(d);
    }
    c.unstable_features();
    c.apply_declarations();
    if probes.is_empty() && !c.diags.iter().any(Diagnostic::is_error) {
        c.diags.push(if c.dropped_attach_points {
            diagnostics::all_probes_missing(Span::new(0, 0))
        } else {
            diagnostics::no_probes(Span::new(0, 0))
        });
    }
    let ok = !c.diags.iter().any(Diagnostic::is_error);
    let script = ok.then(|| hir::Script {
        probes,
        maps: c.maps.clone(),
        events: c.events.clone(),
        probe_names,
        time_formats: c.time_formats.clone(),
        strlen: opts.config.strlen(),
        tseries_clock: c.tseries_clock,
        run_values: c.run_values.clone(),
        scratch_bytes: scratch::scratch_size(c.scratch_need),
        dw_ustack: c.dw_ustack_first.is_some(),
    });
    Checked {
        script,
        diagnostics: c.diags,
        notes: c.notes,
        options: c.program_options,
        params_compiled_in: c.params_compiled_in,
    }
}

impl Checker<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// The macro calls code at `span` was expanded from, innermost first (a call inside a
    /// macro body leads to that macro's own call), as `start..end` offsets: a run-time
    /// message from inside a macro names them, as bpftrace does.
    fn expanded_from(&self, span: Span) -> Vec<(usize, usize)> {
        let inside = |at: Span, def: Span| def.start <= at.start && at.end <= def.end;
        let mut chain = Vec::new();
        let mut at = span;
        // Each step leaves one macro definition, so there are at most as many as expansions.
        for _ in 0..self.expansions.len() {
            let Some(e) = self.expansions.iter().find(|e| inside(at, e.definition)) else {
                break;
            };
            chain.push((e.call.start, e.call.end));
            at = e.call;
        }
        chain
    }

    fn c_definition(&mut self, def: &ast::CDefinition) {
        match &def.kind {
            ast::CDefKind::Struct(fields) | ast::CDefKind::Union(fields) => {
                let union = matches!(def.kind, ast::CDefKind::Union(_));
                let kw = if union { "union" } else { "struct" };
                // A definition that cannot be laid out has reported the field type that
                // stops it; uses of the record then report it as unknown.
                let packing = ctypes::Packing {
                    packed: def.packed,
                    aligned: def.aligned,
                };
                let name = format!("{kw} {}", def.name.name);
                if let Some(r) = ctypes::layout_record(self, &name, fields, union, packing) {
                    self.script_records.insert(r.name.clone());
                    self.records.insert(r.name.clone(), r);
                }
            }
            ast::CDefKind::Enum(variants) => {
                let mut next = 0i64;
                let mut values = Vec::new();
                for v in variants {
                    if let Some(e) = &v.value {
                        match self.const_int(e) {
                            Some(n) => next = n,
                            None => self.push(diagnostics::enum_value_not_constant(e.span)),
                        }
                    }
                    // Constant expressions of later enumerators may use earlier ones.
                    self.defines.insert(v.name.name.clone(), next.to_string());
                    values.push((v.name.name.clone(), next));
                    next = next.wrapping_add(1);
                }
                // Like bpftrace, script enums are 64 bits wide; an anonymous one still has
                // a type, so its values print by name.
                let ty = Type::Enum {
                    name: def.name.name.clone(),
                    bits: 64,
                    variants: values.iter().map(|(n, v)| (n.clone(), *v as u64)).collect(),
                };
                for (name, value) in values {
                    self.enumerators.insert(name, (value, ty.clone()));
                }
                if !def.name.name.is_empty() {
                    self.enums.insert(def.name.name.clone(), ty);
                }
            }
        }
    }

    fn probe(
        &mut self,
        probe: &ast::Probe,
        index: usize,
        out: &mut Vec<hir::Probe>,
        names: &mut Vec<String>,
    ) {
        let mut resolved = Vec::new();
        for ap in &probe.attach_points {
            if let Some(r) = self.resolve_attach(ap, self.catalog) {
                resolved.push((ap, r));
            }
        }
        // USDT arguments live in different registers at each probe site, so every USDT
        // target gets a program of its own.
        for (_, r) in &resolved {
            if let stdlib::manifest::Attach::Rawtracepoint { targets, .. } = &r.attach {
                targets.iter().for_each(|t| {
                    self.raw_tracepoint_params(t);
                });
            }
        }
        let typed = |t: &str| self.raw_params.get(t).is_some_and(Option::is_some);
        use stdlib::manifest::Attach;
        // Only a tracepoint attach point with several targets asks what the body reads.
        let several_tracepoints = resolved
            .iter()
            .any(|(_, r)| matches!(&r.attach, Attach::Tracepoint { targets } if targets.len() > 1));
        let args_use = if several_tracepoints {
            crate::macros::args_use(probe)
        } else {
            crate::macros::ArgsUse::None
        };
        let resolved: Vec<(&ast::AttachPoint, attach::Resolved)> = resolved
            .into_iter()
            .flat_map(|(ap, r)| {
                // One program per target, each named by its own name.
                let split = |attaches: Vec<Attach>| {
                    attaches
                        .into_iter()
                        .zip(r.names.clone())
                        .map(|(attach, name)| {
                            let one = attach::Resolved {
                                attach,
                                names: vec![name],
                                tracepoint: None,
                            };
                            (ap, one)
                        })
                        .collect::<Vec<_>>()
                };
                match r.attach {
                    // USDT and fentry programs name their one target in their section, and
                    // fentry:bpf programs theirs when they load.
                    a @ (Attach::Usdt { .. } | Attach::Kfunc { .. } | Attach::BpfFunc { .. })
                        if a.target_count() > 1 =>
                    {
                        split(attach::split_targets(a))
                    }
                    // A raw tracepoint the kernel's BTF types is a BTF-typed program (tp_btf),
                    // which names its one event in its section, as bpftrace 0.27 loads it; one
                    // BTF does not describe keeps the plain raw tracepoint program.
                    Attach::Rawtracepoint { targets, .. } if targets.iter().any(|t| typed(t)) => {
                        split(
                            targets
                                .into_iter()
                                .map(|t| Attach::Rawtracepoint {
                                    btf: typed(&t),
                                    targets: vec![t],
                                })
                                .collect(),
                        )
                    }
                    // Tracepoints lay out their records differently: a probe that reads
                    // `args` gets a program per layout of what it reads, each checked against
                    // its own fields (as bpftrace checks `args.name` against every tracepoint
                    // it matches).
                    Attach::Tracepoint { targets }
                        if targets.len() > 1 && args_use != crate::macros::ArgsUse::None =>
                    {
                        self.tracepoints_by_layout(targets, r.names, &args_use)
                            .into_iter()
                            .map(|one| (ap, one))
                            .collect()
                    }
                    attach => vec![(ap, attach::Resolved { attach, ..r })],
                }
            })
            .collect();
        // Attach points of one probe share the body; each kind of attach needs its own
        // program (different context layouts), so lower the body once per attach point.
        // Where the names of the attach point being lowered start in `names`.
        let mut ap_names: Option<(&ast::AttachPoint, usize)> = None;
        for (ap, r) in resolved {
            if !ap_names.is_some_and(|(prev, _)| std::ptr::eq(prev, ap)) {
                ap_names = Some((ap, names.len()));
            }
            self.reset_scopes();
            self.loop_depth = 0;
            self.frames = 0;
            let kind = ap.provider.kind();
            // Syscall tracepoints carry the user's own pointers (a path, a buffer).
            let user = kind.space == AddrSpace::User
                || r.tracepoint.as_ref().is_some_and(|(c, _)| c == "syscalls");
            self.probe = ProbeInfo {
                provider: Some(ap.provider),
                tracepoint_fields: Vec::new(),
                tracepoint_record: None,
                tracepoint_name: String::new(),
                user,
                cast_space: kind.space,
                signature: match &r.attach {
                    stdlib::manifest::Attach::Kfunc { targets, .. } => targets
                        .first()
                        .and_then(|t| self.catalog.function_signature(t)),
                    stdlib::manifest::Attach::BpfFunc { targets, .. } => targets
                        .first()
                        .and_then(|t| self.catalog.bpf_function_signature(t.id, &t.func)),
                    // A BTF-typed raw tracepoint has one target; a plain one reads its
                    // arguments untyped (`arg0`..).
                    stdlib::manifest::Attach::Rawtracepoint { targets, btf: true } => targets
                        .first()
                        .and_then(|t| self.raw_tracepoint_params(t))
                        .map(|params| (params, stdlib::types::U64)),
                    _ => None,
                },
                bpf_program: matches!(r.attach, stdlib::manifest::Attach::BpfFunc { .. }),
                user_targets: match &r.attach {
                    stdlib::manifest::Attach::Uprobe { targets, .. } => {
                        targets.iter().map(|t| (t.path.clone(), t.offset)).collect()
                    }
                    stdlib::manifest::Attach::Usdt { targets } => {
                        targets.iter().map(|t| (t.path.clone(), t.offset)).collect()
                    }
                    _ => Vec::new(),
                },
                reads_probe: false,
                probe_as_text: false,
                perf_tracepoint: false,
                iterator: match &r.attach {
                    stdlib::manifest::Attach::Iter { target } => Some(target.clone()),
                    _ => None,
                },
                usdt_args: match &r.attach {
                    stdlib::manifest::Attach::Usdt { targets } => {
                        targets.iter().map(|t| t.args.len()).min()
                    }
                    _ => None,
                },
                uprobe_functions: match &r.attach {
                    stdlib::manifest::Attach::Uprobe {
                        targets,
                        ret: false,
                        ..
                    } => targets
                        .iter()
                        .map(|t| (t.path.clone(), t.symbol.clone()))
                        .collect(),
                    _ => Vec::new(),
                },
                uprobe_function: match &r.attach {
                    stdlib::manifest::Attach::Uprobe { targets, .. } => {
                        one_function(targets.iter().map(|t| t.symbol.as_str()))
                    }
                    _ => None,
                },
                name_len: r
                    .names
                    .iter()
                    .map(|n| n.len() as u32 + 1)
                    .max()
                    .unwrap_or(1),
            };
            self.probe_text_len = self.probe_text_len.max(self.probe.name_len);
            if let Some((cat, ev)) = &r.tracepoint {
                self.probe.tracepoint_name = format!("{cat}:{ev}");
                match self.catalog.tracepoint_fields(cat, ev) {
                    Ok(f) => {
                        self.probe.tracepoint_record = self.catalog.tracepoint_record(cat, ev, &f);
                        self.probe.tracepoint_fields = f;
                    }
                    Err(e) => self.push(diagnostics::lookup_failed(e, ap.span)),
                }
            }
            // Each location of a USDT probe has a program of its own, but they are one probe,
            // named and counted once, as in bpftrace: they share the probe's name.
            let start = ap_names.map_or(0, |(_, start)| start);
            let same_usdt = match (&r.attach, r.names.as_slice()) {
                (stdlib::manifest::Attach::Usdt { .. }, [name]) => names
                    .get(start..)
                    .and_then(|own| own.iter().position(|n| n == name))
                    .map(|i| (start + i) as u32),
                _ => None,
            };
            let probe_index = same_usdt.unwrap_or(names.len() as u32);
            if same_usdt.is_none() {
                names.extend(r.names.iter().cloned());
            }
            let predicate = probe.predicate.as_ref().map(|p| {
                let e = self.expr(p);
                self.require_int(&e, "a predicate");
                e
            });
            let body = self.block(&probe.body);
            let _ = index;
            // `probe` is a constant of the program, so a body that reads it is lowered once
            // per target (as bpftrace expands such probes), unless the kind gives each
            // target's program an attach cookie that names it; otherwise one program serves all.
            let attaches = if !self.probe.reads_probe {
                vec![r.attach]
            } else if self.probe.probe_as_text {
                attach::split_targets(r.attach)
            } else {
                attach::name_targets(r.attach, probe_index)
            };
            let attaches: Vec<_> = if self.probe.perf_tracepoint {
                attaches
            } else {
                attaches.into_iter().map(attach::syscall_dispatch).collect()
            };
            let (locals, frames) =
                frames::place(self.vars.len(), self.frames, predicate.as_ref(), &body);
            for (i, attach) in attaches.into_iter().enumerate() {
                out.push(hir::Probe {
                    name: format!("{}_{}", sanitize(ap.provider.name()), out.len()),
                    provider: ap.provider,
                    attach,
                    context: kind.context,
                    probe_index: probe_index + i as u32,
                    vars: self.vars.clone(),
                    locals: locals.clone(),
                    frames: frames.clone(),
                    predicate: predicate.clone(),
                    body: body.clone(),
                    span: probe.span,
                });
            }
            // Attach points of one probe share its statements: report each once.
            if let Some(d) = out.last().and_then(map_count::check) {
                if !self.diags.contains(&d) {
                    self.diags.push(d);
                }
            }
            match out
                .last()
                .map(|p| scratch::check(p, &self.maps, &self.events))
            {
                Some(Ok(need)) => self.scratch_need = self.scratch_need.max(need),
                Some(Err(d)) if !self.diags.contains(&d) => self.diags.push(*d),
                Some(Err(_)) | None => {}
            }
        }
    }

    /// Declares the maps the script reads and no statement assigns, as bpftrace 0.27 does:
    /// empty maps of integers with the key type of their first read, so every read gives 0.
    /// Each is warned about once (a misspelt name is the usual cause).
    fn declare_unassigned_maps(&mut self) {
        let mut reads: Vec<_> = std::mem::take(&mut self.unassigned_reads)
            .into_iter()
            .collect();
        reads.sort_by_key(|(_, (_, _, span))| span.start);
        let assigned: Vec<String> = self.map_ids.keys().cloned().collect();
        for (script_name, (name, key, span)) in reads {
            if self.map_ids.contains_key(&script_name) {
                continue;
            }
            self.push(diagnostics::map_read_unassigned(
                &script_name,
                &assigned,
                span,
            ));
            self.map_id(&name, key, stdlib::types::I64, span);
        }
    }

    /// Declares or checks a map's key and value types; returns its id.
    fn map_id(
        &mut self,
        name: &ast::Ident,
        key: Option<Type>,
        value: Type,
        span: Span,
    ) -> Option<hir::MapId> {
        let script_name = format!("@{}", name.name);
        if let Some(info) = self.map_ids.get(&script_name) {
            let id = info.id;
            let first = info.first;
            let spec = &self.maps[id as usize];
            if spec.key.is_some() != key.is_some() {
                self.push(diagnostics::map_key_presence(&script_name, first, span));
                return None;
            }
            if let (Some(have), Some(want)) = (&spec.key, &key) {
                if !compatible(have, want) {
                    let d = diagnostics::map_key_type(&script_name, have, want, first, span);
                    self.push(d);
                    return None;
                }
            }
            if !matches!(value, Type::None) && !compatible(&spec.value, &value) {
                let d = diagnostics::map_value_type(&script_name, &spec.value, &value, first, span);
                self.push(d);
                return None;
            }
            // The quiet first pass sees every use: keys and values grow to the longest
            // string among them, so no use is cut short (`@m["a"]` then `@m["bb"]`).
            let spec = &mut self.maps[id as usize];
            if let (Some(have), Some(want)) = (&spec.key, &key) {
                spec.key = Some(widen(have, want, self.probe_text_len));
            }
            if !matches!(value, Type::None) {
                spec.value = widen(&spec.value, &value, self.probe_text_len);
            }
            return Some(id);
        }
        if matches!(value, Type::None) {
            return None;
        }
        let id = self.maps.len() as hir::MapId;
        let kind = match value {
            Type::Agg(_) => MapKind::PerCpuHash,
            _ => MapKind::Hash,
        };
        self.maps.push(MapSpec {
            elf_name: format!(
                "AT_{}",
                if name.name.is_empty() {
                    "_".to_string()
                } else {
                    name.name.clone()
                }
            ),
            script_name: Some(script_name.clone()),
            kind,
            key,
            value,
            max_entries: self.opts.config.max_map_keys,
        });
        self.map_ids
            .insert(script_name, MapInfo { id, first: span });
        Some(id)
    }

    /// Tracepoint `targets` (named `names`, in the same order) grouped by the layout of
    /// what the probe reads of `args` (those fields, or the whole format), in order of first
    /// appearance: one attach per layout. A target whose format cannot be read stands
    /// alone, so the error names it.
    fn tracepoints_by_layout(
        &self,
        targets: Vec<(String, String)>,
        names: Vec<String>,
        args_use: &crate::macros::ArgsUse,
    ) -> Vec<attach::Resolved> {
        type Layout = Vec<Option<catalog::TracepointField>>;
        let layout = |(cat, event): &(String, String)| -> Option<Layout> {
            let format = self.catalog.tracepoint_fields(cat, event).ok()?;
            Some(match args_use {
                crate::macros::ArgsUse::Fields(read) => read
                    .iter()
                    .map(|name| format.iter().find(|f| f.name == *name).cloned())
                    .collect(),
                crate::macros::ArgsUse::Whole | crate::macros::ArgsUse::None => {
                    format.into_iter().map(Some).collect()
                }
            })
        };
        let mut groups: Vec<(Option<Layout>, attach::Resolved)> = Vec::new();
        for (target, name) in targets.into_iter().zip(names) {
            let key = layout(&target);
            match groups.iter_mut().find(|(k, _)| key.is_some() && *k == key) {
                Some((_, group)) => {
                    if let stdlib::manifest::Attach::Tracepoint { targets } = &mut group.attach {
                        targets.push(target);
                    }
                    group.names.push(name);
                }
                None => groups.push((
                    key,
                    attach::Resolved {
                        attach: stdlib::manifest::Attach::Tracepoint {
                            targets: vec![target.clone()],
                        },
                        names: vec![name],
                        tracepoint: Some(target),
                    },
                )),
            }
        }
        groups.into_iter().map(|(_, group)| group).collect()
    }

    /// Raw tracepoint `event`'s parameters as BTF types them, looked up once per run.
    fn raw_tracepoint_params(&mut self, event: &str) -> Option<Vec<(String, Type)>> {
        if let Some(known) = self.raw_params.get(event) {
            return known.clone();
        }
        let params = self.catalog.raw_tracepoint_params(event);
        self.raw_params.insert(event.to_string(), params.clone());
        params
    }

    fn event(&mut self, e: Event) -> hir::EventId {
        if let Some(i) = self.events.iter().position(|x| *x == e) {
            return i as hir::EventId;
        }
        self.events.push(e);
        (self.events.len() - 1) as hir::EventId
    }

    fn var(&mut self, name: &str, ty: &Type, span: Span) -> Option<hir::VarId> {
        self.revive(name, Some(ty), span);
        if let Some(&id) = self.var_ids.get(name) {
            let have = &self.vars[id as usize];
            if !compatible(have, ty) {
                let d = diagnostics::variable_type(name, have, ty, span);
                self.push(d);
                return None;
            }
            return Some(id);
        }
        Some(self.declare_var(name, ty, span, false))
    }
}

/// Whether a pointer to `t` mixes with other integer pointers: `t` is an integer, or nothing
/// (a function pointer's pointee).
fn opaque_or_int(t: &Type) -> bool {
    t.is_int() || *t == Type::None
}

/// Whether a value of type `b` can be stored where `a` was declared (strings and integers of
/// any width mix, as in bpftrace; everything else must match).
fn compatible(a: &Type, b: &Type) -> bool {
    match (a, b) {
        (Type::Str { .. }, Type::Str { .. }) => true,
        // `probe` becomes its name's text where it meets strings, as in bpftrace 0.27
        // (`@[probe]` and `@["other"]` in one map); see `Checker::coerce`.
        (Type::ProbeName, Type::Str { .. }) | (Type::Str { .. }, Type::ProbeName) => true,
        (Type::Buffer { .. }, Type::Buffer { .. }) => true,
        (x, y) if x.is_int() && y.is_int() => true,
        // Pointers to integers of any width mix as the integers do (bpftrace 0.27 stores an
        // `int64 *` in an `int8 *` variable); `void *` is a byte pointer here, so a `void *`
        // field and a function pointer field (a pointer to nothing, `none *`) share a
        // variable too.
        (Type::Pointer { to: x, space: xs }, Type::Pointer { to: y, space: ys })
            if xs == ys && opaque_or_int(x) && opaque_or_int(y) =>
        {
            true
        }
        (Type::Pointer { .. }, y) if y.is_int() => true,
        (x, Type::Pointer { .. }) if x.is_int() => true,
        (Type::Tuple(xs), Type::Tuple(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| compatible(x, y))
        }
        // Records with the same field names, in any order, whose fields of one name are
        // compatible (a value is stored in the order of the record it is stored into).
        (
            Type::NamedTuple {
                names: xn,
                elems: xs,
            },
            Type::NamedTuple {
                names: yn,
                elems: ys,
            },
        ) => {
            xn.len() == yn.len()
                && xn.iter().zip(xs).all(|(n, x)| {
                    yn.iter()
                        .zip(ys)
                        .find(|(m, _)| *m == n)
                        .is_some_and(|(_, y)| compatible(x, y))
                })
        }
        (Type::Agg(x), Type::Agg(y)) => std::mem::discriminant(x) == std::mem::discriminant(y),
        (x, y) => x == y,
    }
}

/// The type that holds values of two compatible types: the longer of two strings or buffers,
/// the wider of two integers (signed if either is, as 0.27 types a mix), tuple by tuple
/// element, an aggregation of values of both (see [`Aggregation::join`]), a string of
/// `probe_text` bytes or more for `probe` and a string; anything else stays `a`.
fn widen(a: &Type, b: &Type, probe_text: u32) -> Type {
    match (a, b) {
        (Type::Int { bits: x, signed: s }, Type::Int { bits: y, signed: t }) => Type::Int {
            bits: *x.max(y),
            signed: *s || *t,
        },
        (Type::Str { len: x }, Type::Str { len: y }) => Type::Str { len: *x.max(y) },
        (Type::ProbeName, Type::Str { len }) | (Type::Str { len }, Type::ProbeName) => Type::Str {
            len: (*len).max(probe_text),
        },
        (Type::Buffer { len: x }, Type::Buffer { len: y }) => Type::Buffer { len: *x.max(y) },
        (Type::Agg(x), Type::Agg(y)) => Type::Agg(x.join(*y).unwrap_or(*x)),
        (Type::Tuple(xs), Type::Tuple(ys)) if xs.len() == ys.len() => Type::Tuple(
            xs.iter()
                .zip(ys)
                .map(|(x, y)| widen(x, y, probe_text))
                .collect(),
        ),
        // Field by field of the same name, in the order of `a`.
        (
            Type::NamedTuple { names, elems: xs },
            Type::NamedTuple {
                names: yn,
                elems: ys,
            },
        ) => Type::NamedTuple {
            names: names.clone(),
            elems: names
                .iter()
                .zip(xs)
                .map(|(n, x)| match yn.iter().zip(ys).find(|(m, _)| *m == n) {
                    Some((_, y)) => widen(x, y, probe_text),
                    None => x.clone(),
                })
                .collect(),
        },
        _ => a.clone(),
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Whether `path` is a kernel header (`<linux/sched.h>`, `<net/sock.h>`): rbt takes kernel
/// types from BTF, so such a header need not be installed, as with bpftrace on a kernel with
/// BTF. Any other header must exist, as the C preprocessor would want.
fn kernel_header(path: &str) -> bool {
    const KERNEL_DIRS: &[&str] = &[
        "linux",
        "net",
        "asm",
        "asm-generic",
        "uapi",
        "trace",
        "crypto",
        "kvm",
        "scsi",
        "sound",
        "video",
        "xen",
        "rdma",
        "media",
        "acpi",
        "drm",
        "keys",
        "misc",
        "ras",
        "soc",
        "target",
        "vdso",
        "clocksource",
        "dt-bindings",
        "math-emu",
        "pcmcia",
        "generated",
    ];
    path.split_once('/')
        .is_some_and(|(dir, _)| KERNEL_DIRS.contains(&dir))
}

//! bpftrace's config variables: the one table of every setting bpftrace 0.27 knows, how a
//! `config = { key = value; … }` block and the `BPFTRACE_*` environment variables set them
//! (the environment wins, as in bpftrace), and the diagnostics for unknown keys and bad
//! values. The caller reads the environment and passes a lookup in, so this module does no
//! I/O; each resolved setting then reaches the stage that honours it through [`Config`].

use crate::ast::{ConfigEntry, Expr, ExprKind, Span};
use stdlib::diag::{closest, Diagnostic};
use stdlib::types::StackMode;

/// One config variable. Matched exhaustively, so a new setting must say how it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    CacheUserSymbols,
    CppDemangle,
    DwUstackBytes,
    LazySymbolication,
    License,
    LogSize,
    MaxBpfProgs,
    MaxCatBytes,
    MaxMapKeys,
    MaxProbes,
    MaxStrlen,
    MissingProbes,
    OnStackLimit,
    PerfRbPages,
    PrintMapsOnExit,
    ShowDebugInfo,
    StackMode,
    StrTruncTrailer,
    UnstableDwUstack,
    UnstableImportStatement,
    UnstableTseries,
    UnstableTypeinfo,
    UseBlazesym,
    /// Settings bpftrace 0.27 still accepts but ignores, with a warning.
    Deprecated(&'static str),
}

/// Every setting with its lower-case name; the environment variable is `BPFTRACE_` and the
/// name in upper case.
const SETTINGS: &[(&str, Setting)] = &[
    ("cache_user_symbols", Setting::CacheUserSymbols),
    ("cpp_demangle", Setting::CppDemangle),
    ("dw_ustack_bytes", Setting::DwUstackBytes),
    ("lazy_symbolication", Setting::LazySymbolication),
    ("license", Setting::License),
    ("log_size", Setting::LogSize),
    ("max_bpf_progs", Setting::MaxBpfProgs),
    ("max_cat_bytes", Setting::MaxCatBytes),
    ("max_map_keys", Setting::MaxMapKeys),
    ("max_probes", Setting::MaxProbes),
    ("max_strlen", Setting::MaxStrlen),
    ("missing_probes", Setting::MissingProbes),
    ("on_stack_limit", Setting::OnStackLimit),
    ("perf_rb_pages", Setting::PerfRbPages),
    ("print_maps_on_exit", Setting::PrintMapsOnExit),
    ("show_debug_info", Setting::ShowDebugInfo),
    ("stack_mode", Setting::StackMode),
    ("str_trunc_trailer", Setting::StrTruncTrailer),
    ("unstable_dw_ustack", Setting::UnstableDwUstack),
    (
        "unstable_import_statement",
        Setting::UnstableImportStatement,
    ),
    ("unstable_tseries", Setting::UnstableTseries),
    ("unstable_typeinfo", Setting::UnstableTypeinfo),
    ("use_blazesym", Setting::UseBlazesym),
    (
        "unstable_map_decl",
        Setting::Deprecated("unstable_map_decl"),
    ),
    ("unstable_import", Setting::Deprecated("unstable_import")),
    ("unstable_macro", Setting::Deprecated("unstable_macro")),
    ("unstable_addr", Setting::Deprecated("unstable_addr")),
    (
        "max_type_res_iterations",
        Setting::Deprecated("max_type_res_iterations"),
    ),
    ("symbol_source", Setting::Deprecated("symbol_source")),
];

/// Environment variables of rbt's 0.17-era options, still read when the 0.27 name is unset
/// so that old wrappers keep working.
const OLD_NAMES: &[(&str, Setting)] = &[
    ("BPFTRACE_STRLEN", Setting::MaxStrlen),
    ("BPFTRACE_MAP_KEYS_MAX", Setting::MaxMapKeys),
];

/// The licenses the kernel accepts as GPL-compatible, which bpftrace offers.
pub const LICENSES: &[&str] = &[
    "Dual MIT/GPL",
    "Dual BSD/GPL",
    "Dual MPL/GPL",
    "GPL and additional rights",
    "GPL v2",
    "GPL",
];

/// The largest `max_strlen` rbt's string buffers support: strings live in per-CPU scratch
/// memory (`check::scratch::SCRATCH_MAX`), where a statement may hold several of them, and
/// their comparisons walk them byte by byte.
pub const MAX_STRLEN_LIMIT: u32 = 16 * 1024;

/// Whether a script may use an unstable feature (`unstable_tseries`): refused, used with a
/// warning (the default), or used silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unstable {
    Error,
    Warn,
    Enable,
}

/// What to do with an attach point that matches nothing (`missing_probes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingProbes {
    Error,
    Warn,
    Ignore,
}

/// `cache_user_symbols`: how user-space symbol tables are cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSymbolCache {
    PerPid,
    PerProgram,
    None,
}

/// Every setting's value once the config block and the environment are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub cache_user_symbols: UserSymbolCache,
    pub cpp_demangle: bool,
    /// Bytes of user stack `dw_ustack` copies for unwinding (rbt's own `dw_ustack_bytes`).
    pub dw_ustack_bytes: u32,
    pub lazy_symbolication: bool,
    pub license: String,
    /// Bytes of verifier log kept per program.
    pub log_size: u64,
    pub max_bpf_progs: u64,
    pub max_cat_bytes: u64,
    pub max_map_keys: u32,
    pub max_probes: u64,
    /// Characters `str()` keeps (`max_strlen`); `None` is bpftrace 0.27's default, 1024.
    pub max_strlen: Option<u32>,
    pub missing_probes: MissingProbes,
    pub on_stack_limit: u64,
    /// Pages of the output ring buffer; `None` keeps rbt's default size.
    pub perf_rb_pages: Option<u64>,
    pub print_maps_on_exit: bool,
    pub show_debug_info: bool,
    pub stack_mode: StackMode,
    /// What marks a string `str()` cut short (`str_trunc_trailer`); `None` is `..`.
    pub str_trunc_trailer: Option<String>,
    /// Whether `tseries()` may be used (`unstable_tseries`).
    pub unstable_tseries: Unstable,
    /// Whether `dw_ustack` may be used (`unstable_dw_ustack`).
    pub unstable_dw_ustack: Unstable,
    /// Whether `typeinfo()` may be used (`unstable_typeinfo`).
    pub unstable_typeinfo: Unstable,
    /// `unstable_import_statement`: accepted and reported by `config()`; as in bpftrace
    /// 0.27.1, `import` works under every value.
    pub unstable_import_statement: Unstable,
    /// `use_blazesym`: accepted and reported by `config()`; rbt has one symbolizer.
    pub use_blazesym: bool,
}

/// One value of [`Config::record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigValue {
    Bool(bool),
    Int(u64),
    Text(String),
}

impl Unstable {
    const ALL: [Unstable; 3] = [Unstable::Error, Unstable::Warn, Unstable::Enable];

    /// The value as a config block writes it.
    pub fn name(self) -> &'static str {
        match self {
            Unstable::Error => "error",
            Unstable::Warn => "warn",
            Unstable::Enable => "enable",
        }
    }
}

impl MissingProbes {
    const ALL: [MissingProbes; 3] = [
        MissingProbes::Ignore,
        MissingProbes::Warn,
        MissingProbes::Error,
    ];

    /// The value as a config block writes it.
    pub fn name(self) -> &'static str {
        match self {
            MissingProbes::Error => "error",
            MissingProbes::Warn => "warn",
            MissingProbes::Ignore => "ignore",
        }
    }
}

/// The characters `str()` keeps when a script sets no `max_strlen`: bpftrace 0.27's 1024.
const DEFAULT_MAX_STRLEN: u32 = 1024;

/// What `str()` appends to a string it cuts short when the script sets no
/// `str_trunc_trailer`, as bpftrace 0.27 does.
const DEFAULT_TRAILER: &str = "..";

impl Config {
    /// What `config()` gives a script: bpftrace 0.27's settings, in its order, with the values
    /// rbt runs with (`perf_rb_pages` unset is 0 as in bpftrace, meaning "rbt's default").
    pub fn record(&self) -> Vec<(&'static str, ConfigValue)> {
        use ConfigValue::{Bool, Int, Text};
        let text = |s: &str| Text(s.to_string());
        vec![
            ("cpp_demangle", Bool(self.cpp_demangle)),
            ("lazy_symbolication", Bool(self.lazy_symbolication)),
            ("print_maps_on_exit", Bool(self.print_maps_on_exit)),
            ("use_blazesym", Bool(self.use_blazesym)),
            ("show_debug_info", Bool(self.show_debug_info)),
            ("log_size", Int(self.log_size)),
            ("max_bpf_progs", Int(self.max_bpf_progs)),
            ("max_cat_bytes", Int(self.max_cat_bytes)),
            ("max_map_keys", Int(u64::from(self.max_map_keys))),
            ("max_probes", Int(self.max_probes)),
            ("max_strlen", Int(u64::from(self.string_chars()))),
            ("on_stack_limit", Int(self.on_stack_limit)),
            ("perf_rb_pages", Int(self.perf_rb_pages.unwrap_or(0))),
            ("str_trunc_trailer", text(self.trailer())),
            (
                "unstable_import_statement",
                text(self.unstable_import_statement.name()),
            ),
            ("unstable_tseries", text(self.unstable_tseries.name())),
            ("unstable_typeinfo", text(self.unstable_typeinfo.name())),
            ("unstable_dw_ustack", text(self.unstable_dw_ustack.name())),
            ("missing_probes", text(self.missing_probes.name())),
            ("stack_mode", text(self.stack_mode.name())),
            ("license", text(&self.license)),
        ]
    }

    /// The characters `str()` keeps (`max_strlen`, 1024 unless set).
    pub fn string_chars(&self) -> u32 {
        self.max_strlen.unwrap_or(DEFAULT_MAX_STRLEN)
    }

    /// What marks a string `str()` cut short (`str_trunc_trailer`, `..` unless set).
    fn trailer(&self) -> &str {
        self.str_trunc_trailer.as_deref().unwrap_or(DEFAULT_TRAILER)
    }

    /// The bytes of every string buffer and the trailer `str()` writes when it cuts a string
    /// short: a buffer holds `max_strlen` characters, the trailer and the terminator, and a
    /// string of `max_strlen` characters or more is cut to `max_strlen` and marked, as
    /// bpftrace 0.27 does.
    pub fn string_layout(&self) -> (u32, String) {
        (self.strlen(), self.trailer().to_string())
    }

    /// The bytes of every string buffer: the first half of [`Config::string_layout`].
    pub fn strlen(&self) -> u32 {
        let trailer = self.trailer().len() as u32;
        (self.string_chars() + 1 + trailer).clamp(1, MAX_STRLEN_LIMIT)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cache_user_symbols: UserSymbolCache::PerPid,
            cpp_demangle: true,
            dw_ustack_bytes: stdlib::abi::dwstack::DEFAULT_STACK_BYTES,
            lazy_symbolication: true,
            license: "GPL".to_string(),
            log_size: 1_000_000,
            max_bpf_progs: 1024,
            max_cat_bytes: 10240,
            max_map_keys: 4096,
            max_probes: 1024,
            max_strlen: None,
            missing_probes: MissingProbes::Error,
            on_stack_limit: 32,
            perf_rb_pages: None,
            print_maps_on_exit: true,
            show_debug_info: false,
            stack_mode: StackMode::Bpftrace,
            str_trunc_trailer: None,
            unstable_tseries: Unstable::Warn,
            unstable_dw_ustack: Unstable::Warn,
            // bpftrace 0.27 refuses typeinfo() unless the script enables it.
            unstable_typeinfo: Unstable::Error,
            unstable_import_statement: Unstable::Error,
            use_blazesym: false,
        }
    }
}

/// The outcome of [`resolve`]: the settings, diagnostics about the config block, and errors
/// and warnings about environment variables (which have no place in the script to point at).
pub struct Resolved {
    pub config: Config,
    pub diagnostics: Vec<Diagnostic>,
    pub env_errors: Vec<String>,
    pub env_warnings: Vec<String>,
}

/// A config value as written: the block accepts integers, booleans, strings and bare words
/// alike (`stack_mode=raw` and `stack_mode="raw"` are the same), the environment only text.
enum Raw {
    Int(u64),
    Bool(bool),
    Text(String),
}

impl Raw {
    fn text(&self) -> String {
        match self {
            Raw::Int(n) => n.to_string(),
            Raw::Bool(b) => b.to_string(),
            Raw::Text(s) => s.clone(),
        }
    }
}

/// Why a value was refused, in bpftrace's words (after `name: `).
struct BadValue(String);

/// Finds the setting a config key or environment variable names: `stack_mode`,
/// `STACK_MODE` and `BPFTRACE_STACK_MODE` are the same setting.
pub fn lookup(key: &str) -> Option<Setting> {
    let lower = key.to_ascii_lowercase();
    let name = lower.strip_prefix("bpftrace_").unwrap_or(&lower);
    SETTINGS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// Applies the config block, then the environment (which takes precedence). `env` looks up
/// one environment variable.
pub fn resolve(entries: &[ConfigEntry], env: &dyn Fn(&str) -> Option<String>) -> Resolved {
    let mut out = Resolved {
        config: Config::default(),
        diagnostics: Vec::new(),
        env_errors: Vec::new(),
        env_warnings: Vec::new(),
    };
    for entry in entries {
        let Some(setting) = lookup(&entry.key.name) else {
            out.diagnostics
                .push(unknown_setting(&entry.key.name, entry.span));
            continue;
        };
        let Some(raw) = raw_value(&entry.value) else {
            out.diagnostics
                .push(unsupported_value(&entry.key.name, entry.value.span));
            continue;
        };
        if let Setting::Deprecated(name) = setting {
            out.diagnostics.push(deprecated_setting(name, entry.span));
            continue;
        }
        match apply(&mut out.config, setting, &raw) {
            Ok(None) => {}
            Ok(Some(why)) => out
                .diagnostics
                .push(not_honoured(&entry.key.name, &why, entry.span)),
            Err(BadValue(why)) => {
                out.diagnostics
                    .push(bad_value(&entry.key.name, &why, entry.span))
            }
        }
    }
    for (name, setting) in SETTINGS {
        let var = format!("BPFTRACE_{}", name.to_ascii_uppercase());
        let value = env(&var).or_else(|| {
            OLD_NAMES
                .iter()
                .filter(|(_, s)| s == setting)
                .find_map(|(old, _)| env(old))
        });
        let Some(value) = value else { continue };
        if let Setting::Deprecated(_) = setting {
            continue;
        }
        match apply(&mut out.config, *setting, &Raw::Text(value)) {
            Ok(None) => {}
            Ok(Some(why)) => out.env_warnings.push(format!("{var}: {why}")),
            Err(BadValue(why)) => out.env_errors.push(format!("{name}: {why}")),
        }
    }
    out
}

/// The value of a config entry, or `None` for an expression that is not a literal or word.
fn raw_value(e: &Expr) -> Option<Raw> {
    match &e.kind {
        ExprKind::Int(n) => Some(Raw::Int(*n)),
        ExprKind::Bool(b) => Some(Raw::Bool(*b)),
        ExprKind::Str(s) => Some(Raw::Text(String::from_utf8_lossy(s).into_owned())),
        ExprKind::Ident(s) => Some(Raw::Text(s.clone())),
        _ => None,
    }
}

fn number(raw: &Raw) -> Result<u64, BadValue> {
    match raw {
        Raw::Int(n) => Ok(*n),
        Raw::Bool(_) | Raw::Text(_) => raw
            .text()
            .trim()
            .parse()
            .map_err(|_| BadValue(format!("expecting a number, got {}", raw.text()))),
    }
}

fn boolean(raw: &Raw) -> Result<bool, BadValue> {
    match raw {
        Raw::Int(n) => Ok(*n != 0),
        Raw::Bool(b) => Ok(*b),
        Raw::Text(s) => match s.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => Err(BadValue(format!("expecting a boolean, got {other}"))),
        },
    }
}

/// One of `choices` (spelled as bpftrace spells them), or bpftrace's error listing them.
fn choice<T: Copy>(
    name: &str,
    raw: &Raw,
    choices: &[(&str, T)],
    listed: &str,
) -> Result<T, BadValue> {
    let text = raw.text();
    choices
        .iter()
        .find(|(c, _)| *c == text)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            BadValue(format!(
                "Invalid value for {name}: valid values are {listed}."
            ))
        })
}

/// The value of an `unstable_*` setting, which gates a feature 0.27 calls unstable.
fn unstable(name: &str, raw: &Raw) -> Result<Unstable, BadValue> {
    choice(
        name,
        raw,
        &Unstable::ALL.map(|u| (u.name(), u)),
        "error, warn, and enable",
    )
}

/// Sets `setting` from `raw`. `Ok(Some(why))` says the value was accepted but rbt cannot do
/// what it asks, which the caller reports as a warning rather than ignoring it silently.
fn apply(config: &mut Config, setting: Setting, raw: &Raw) -> Result<Option<String>, BadValue> {
    match setting {
        Setting::CacheUserSymbols => {
            config.cache_user_symbols = choice(
                "cache_user_symbols",
                raw,
                &[
                    ("PER_PID", UserSymbolCache::PerPid),
                    ("PER_PROGRAM", UserSymbolCache::PerProgram),
                    ("NONE", UserSymbolCache::None),
                ],
                "PER_PID, PER_PROGRAM, and NONE",
            )?
        }
        Setting::CppDemangle => {
            config.cpp_demangle = boolean(raw)?;
            if config.cpp_demangle {
                return Ok(Some(
                    "rbt prints C++ symbols as they are in the symbol table (not demangled)"
                        .to_string(),
                ));
            }
        }
        Setting::LazySymbolication => config.lazy_symbolication = boolean(raw)?,
        Setting::License => {
            let text = raw.text();
            if !LICENSES.contains(&text.as_str()) {
                return Err(BadValue(format!(
                    "Invalid value for license. Found: {text}. Valid values: {}",
                    LICENSES.join(", ")
                )));
            }
            config.license = text;
        }
        Setting::DwUstackBytes => {
            use stdlib::abi::dwstack::MAX_STACK_BYTES;
            let n = number(raw)?;
            // Whole words, so the copy and the payload after it stay 8-byte aligned.
            if n == 0 || n > u64::from(MAX_STACK_BYTES) || n % 8 != 0 {
                return Err(BadValue(format!(
                    "a multiple of 8 from 8 to {MAX_STACK_BYTES}"
                )));
            }
            config.dw_ustack_bytes = n as u32;
        }
        Setting::LogSize => config.log_size = number(raw)?,
        Setting::MaxBpfProgs => config.max_bpf_progs = number(raw)?,
        Setting::MaxCatBytes => config.max_cat_bytes = number(raw)?,
        Setting::MaxMapKeys => {
            let n = number(raw)?;
            config.max_map_keys = u32::try_from(n)
                .map_err(|_| BadValue(format!("{n} is more than a map can hold")))?;
        }
        Setting::MaxProbes => config.max_probes = number(raw)?,
        Setting::MaxStrlen => {
            let n = number(raw)?;
            // The buffer also holds the trailer and the terminator.
            let most = MAX_STRLEN_LIMIT - 3;
            config.max_strlen = Some(n.min(u64::from(most)) as u32);
            if n > u64::from(most) {
                return Ok(Some(format!(
                    "rbt keeps at most {most} characters of a string (the limit of its scratch memory); longer strings are cut there"
                )));
            }
        }
        Setting::MissingProbes => {
            config.missing_probes = choice(
                "missing_probes",
                raw,
                &MissingProbes::ALL.map(|m| (m.name(), m)),
                "ignore, warn, and error",
            )?
        }
        Setting::OnStackLimit => {
            config.on_stack_limit = number(raw)?;
            return Ok(Some(format!(
                "rbt keeps values of {} bytes or more in scratch memory; this limit is not adjustable",
                crate::check::scratch::SCRATCH_MIN
            )));
        }
        Setting::PerfRbPages => {
            let n = number(raw)?;
            // bpftrace treats 0 as "choose for me".
            config.perf_rb_pages = (n != 0).then_some(n);
        }
        Setting::PrintMapsOnExit => config.print_maps_on_exit = boolean(raw)?,
        Setting::ShowDebugInfo => config.show_debug_info = boolean(raw)?,
        Setting::StackMode => {
            let modes = [
                StackMode::Bpftrace,
                StackMode::Perf,
                StackMode::Raw,
                StackMode::BuildId,
            ];
            config.stack_mode = choice(
                "stack_mode",
                raw,
                &modes.map(|m| (m.name(), m)),
                "bpftrace, raw, perf, and build_id",
            )?
        }
        Setting::StrTruncTrailer => {
            let text = raw.text();
            if text.len() > 16 {
                return Err(BadValue(format!(
                    "a trailer of {} bytes is longer than rbt supports (16)",
                    text.len()
                )));
            }
            config.str_trunc_trailer = Some(text);
        }
        Setting::UnstableDwUstack => {
            config.unstable_dw_ustack = unstable("unstable_dw_ustack", raw)?;
        }
        // bpftrace 0.27.1 takes the setting and gates nothing with it: `import` of a file
        // works under any value (checked against the oracle), so rbt checks the value only.
        Setting::UnstableImportStatement => {
            config.unstable_import_statement = unstable("unstable_import_statement", raw)?;
        }
        Setting::UnstableTseries => {
            config.unstable_tseries = unstable("unstable_tseries", raw)?;
        }
        Setting::UnstableTypeinfo => {
            config.unstable_typeinfo = unstable("unstable_typeinfo", raw)?;
        }
        Setting::UseBlazesym => config.use_blazesym = boolean(raw)?,
        // Handled before values are applied: they set nothing.
        Setting::Deprecated(_) => {}
    }
    Ok(None)
}

// ---------------------------------------------------------------- diagnostics

/// An unknown key, with the closest known name as help.
pub fn unknown_setting(key: &str, span: Span) -> Diagnostic {
    let d = Diagnostic::error(format!("{key}: not a known configuration option"), span)
        .with_label("unknown setting");
    let lower = key.to_ascii_lowercase();
    let name = lower.strip_prefix("bpftrace_").unwrap_or(&lower);
    match closest(name, SETTINGS.iter().map(|(n, _)| *n)) {
        Some(best) => d.with_help(format!("did you mean `{best}`?")),
        None => d.with_help(format!(
            "known settings: {}",
            SETTINGS
                .iter()
                .filter(|(_, s)| !matches!(s, Setting::Deprecated(_)))
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

pub fn bad_value(key: &str, why: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("{key}: {why}"), span).with_label("invalid value")
}

pub fn unsupported_value(key: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("{key}: a config value must be a number, a boolean, a string or a word"),
        span,
    )
    .with_label("not a literal")
}

/// A value rbt accepts but cannot act on.
pub fn not_honoured(key: &str, why: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(format!("{key}: rbt cannot do what this asks"), span)
        .with_label("not honoured")
        .with_note(why.to_string())
}

pub fn deprecated_setting(name: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(format!("{name} is deprecated and has no effect"), span)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, env: &[(&str, &str)]) -> Resolved {
        let (script, diags) = crate::parse(src);
        assert!(diags.is_empty(), "{diags:?}");
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(&script.config, &|name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn names_in_every_spelling() {
        let r = run(
            "config = { stack_mode=raw; BPFTRACE_MAX_MAP_KEYS=7; MAX_STRLEN=\"9\" } BEGIN {}",
            &[],
        );
        assert!(r.diagnostics.is_empty());
        assert_eq!(r.config.stack_mode, StackMode::Raw);
        assert_eq!(r.config.max_map_keys, 7);
        assert_eq!(r.config.max_strlen, Some(9));
        assert_eq!(r.config.string_layout(), (12, "..".to_string()));
    }

    #[test]
    fn build_id_stack_mode() {
        let r = run("config = { stack_mode = build_id } BEGIN {}", &[]);
        assert!(r.diagnostics.is_empty());
        assert_eq!(r.config.stack_mode, StackMode::BuildId);
    }

    #[test]
    fn environment_takes_precedence() {
        let r = run(
            "config = { stack_mode=perf; print_maps_on_exit=false } BEGIN {}",
            &[("BPFTRACE_STACK_MODE", "raw"), ("BPFTRACE_STRLEN", "20")],
        );
        assert_eq!(r.config.stack_mode, StackMode::Raw);
        assert!(!r.config.print_maps_on_exit);
        assert_eq!(r.config.max_strlen, Some(20));
    }

    #[test]
    fn unstable_settings_of_0_27() {
        let default = run("BEGIN {}", &[]);
        assert_eq!(default.config.unstable_typeinfo, Unstable::Error);
        let r = run(
            "config = { unstable_typeinfo = warn; unstable_import_statement = enable } BEGIN {}",
            &[],
        );
        assert!(r.diagnostics.is_empty());
        assert_eq!(r.config.unstable_typeinfo, Unstable::Warn);
        let r = run(
            "config = { unstable_import_statement = maybe } BEGIN {}",
            &[],
        );
        let messages: Vec<&str> = r.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            ["unstable_import_statement: Invalid value for unstable_import_statement: valid values are error, warn, and enable."]
        );
    }

    #[test]
    fn unknown_keys_and_bad_values() {
        let r = run(
            "config = { stack_mod=raw; max_map_keys=abc; license=\"Potato\"; unstable_macro=1 } BEGIN {}",
            &[("BPFTRACE_MISSING_PROBES", "sometimes")],
        );
        let messages: Vec<&str> = r.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "stack_mod: not a known configuration option",
                "max_map_keys: expecting a number, got abc",
                "license: Invalid value for license. Found: Potato. Valid values: Dual MIT/GPL, Dual BSD/GPL, Dual MPL/GPL, GPL and additional rights, GPL v2, GPL",
                "unstable_macro is deprecated and has no effect",
            ]
        );
        assert_eq!(r.diagnostics[0].help, ["did you mean `stack_mode`?"]);
        assert_eq!(
            r.env_errors,
            ["missing_probes: Invalid value for missing_probes: valid values are ignore, warn, and error."]
        );
    }
}

//! The run path both binaries share: `rbt script.bt` after compiling, and `rbt-run FILE` /
//! `rbt FILE` on a compiled file (`stdlib::aot`). It opens the output (`-o`), turns the
//! command line's run flags and the script's settings into [`RunOptions`], runs, and renders
//! a verifier refusal as a diagnostic on the script line it stopped at.

use crate::run::{run, RunError, RunOptions};
use crate::sys::GatedChild;
use crate::verifier::Rejection;
use crate::{Buffering, OutputFormat, RunMode};
use std::io::Write;
use stdlib::aot::{AotFile, RunSettings};
use stdlib::diag::reason;
use stdlib::diag::{self, Diagnostic};
use stdlib::manifest::{Attach, Manifest, OptionDefault, RunValue, Source};

/// The command-line flags that shape a run (the same in `rbt` and `rbt-run`).
#[derive(Debug, Clone)]
pub struct Flags {
    pub format: OutputFormat,
    pub buffering: Buffering,
    pub quiet: bool,
    pub verbose: bool,
    pub dry_run: bool,
    pub pid: Option<u32>,
    /// `--dwarf-pid PID`: a process whose `dw_ustack` captures are unwound, besides the
    /// `-p` and `-c` ones.
    pub dwarf_pid: Option<u32>,
    /// `-o FILE`: the output goes there instead of stdout.
    pub output: Option<String>,
    /// Whether stderr is a terminal (diagnostics in colour).
    pub color: bool,
    /// The binary's name, for the messages it prints (`rbt`, `rbt-run`).
    pub program: &'static str,
    /// `--no-warnings`: drop `warnf()` messages.
    pub no_warnings: bool,
    /// `--bench`/`--test`: run the `bench:`/`test:` probes instead of tracing.
    pub mode: crate::RunMode,
}

/// Why a run failed.
#[derive(Debug)]
pub enum Failure {
    /// Already explained on stderr (a diagnostic was rendered).
    Reported,
    /// A one-line (or short) message the caller prints as its error.
    Message(String),
}

/// Runs a compiled object: what `rbt script.bt` does once it has compiled the script, and
/// what a compiled file's run does once it is read.
pub fn launch(
    elf: &[u8],
    manifest: &Manifest,
    source: &Source,
    settings: &RunSettings,
    params: &Params,
    flags: &Flags,
    child: Option<&mut GatedChild>,
) -> Result<i32, Failure> {
    let cpid = child.as_ref().map_or(0, |c| c.pid);
    if let Some(needed) = run_mode_needed(manifest, flags.mode) {
        return Err(Failure::Message(needed));
    }
    let run_values = run_values(&manifest.run_values, params, cpid).map_err(Failure::Message)?;
    require_privileges(flags.program).map_err(Failure::Message)?;
    if manifest.dw_ustack && cpid == 0 && flags.pid.is_none() && flags.dwarf_pid.is_none() {
        // Unwinding reads the CFI of every object a process maps: it is done for the
        // processes named on the command line only. Printed in the form of rbt's other
        // run-time messages (`WARNING: …`), at the level bpftrace gives it.
        stdlib::stderrln!(
            "ERROR: dw_ustack requires a target process to unwind: give one with -p PID, \
             -c CMD or --dwarf-pid PID"
        );
        return Err(Failure::Reported);
    }
    let out: Box<dyn Write> = match &flags.output {
        Some(path) => Box::new(open_output(std::path::Path::new(path)).map_err(Failure::Message)?),
        None => Box::new(std::io::stdout()),
    };
    let run_opts = RunOptions {
        buffering: flags.buffering,
        format: flags.format,
        quiet: flags.quiet,
        verbose: flags.verbose,
        dry_run: flags.dry_run,
        pid: flags.pid,
        dwarf_pids: flags.pid.into_iter().chain(flags.dwarf_pid).collect(),
        notify_attached: std::env::var_os("__BPFTRACE_NOTIFY_PROBES_ATTACHED").is_some(),
        watch_stdout: flags.output.is_none(),
        print_maps_on_exit: settings.print_maps_on_exit,
        show_debug_info: settings.show_debug_info,
        max_cat_bytes: usize::try_from(settings.max_cat_bytes).unwrap_or(usize::MAX),
        log_size: usize::try_from(settings.log_size).unwrap_or(usize::MAX),
        ringbuf_pages: settings.perf_rb_pages,
        no_warnings: flags.no_warnings,
        mode: flags.mode,
        run_values,
    };
    let code = run(elf, manifest, &run_opts, out, child).map_err(|e| match e {
        RunError::Rejected(r) => rejected(source, &r, flags),
        other => Failure::Message(other.to_string()),
    })?;
    if flags.dry_run {
        stdlib::stderrln!(
            "{}: {} program(s) loaded and accepted by the verifier; nothing attached",
            flags.program,
            manifest.programs.len()
        );
    }
    Ok(code)
}

/// Refuses, in one line, a run that will load BPF programs without the privileges the
/// kernel asks for them: root, or the capabilities CAP_BPF and CAP_PERFMON (or
/// CAP_SYS_ADMIN, which implies both). Checked before tracefs is read or anything is loaded,
/// so that a user without them reads this instead of "no such probe" (tracefs is closed to
/// them) or an EPERM from deep inside libbpf.
pub fn require_privileges(program: &str) -> Result<(), String> {
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    if crate::sys::is_root() {
        return Ok(());
    }
    // The effective set, as the kernel shows it in hex; unreadable counts as none.
    let caps = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0);
    let has = |cap: u32| caps & (1 << cap) != 0;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)) {
        return Ok(());
    }
    Err(format!(
        "{program} needs root (or CAP_BPF and CAP_PERFMON) to load BPF programs; run it as root"
    ))
}

/// Opens `-o FILE` for the run's output, carefully, since rbt runs as root:
///
/// - a file that exists is truncated and keeps its owner and mode, as bpftrace (and the
///   shell's `>`) does;
/// - a new file is created with mode 0600 (less the umask): a trace shows what every user on
///   the machine does (commands, file names, arguments), so only its owner may read it unless
///   they say otherwise (create the file first, or `chmod` it);
/// - a symbolic link is followed, and an existing file written, except the ones the kernel's
///   `protected_symlinks` and `protected_regular` would stop: an entry of a sticky,
///   world-writable directory (`/tmp`) owned by neither the user nor the directory's owner.
///   Another user could point such a link at `/etc/shadow`, or read root's trace from a
///   file they made; rbt refuses both even where the sysctls are off. The sticky bit keeps
///   anyone but those two owners from replacing the entry between the check and the open.
///
/// The error is one line naming the file.
pub fn open_output(path: &std::path::Path) -> Result<std::fs::File, String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let shown = path.display();
    if let Ok(entry) = std::fs::symlink_metadata(path) {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        let dir = std::fs::metadata(dir)
            .map_err(|e| format!("cannot open {shown}: {}: {}", dir.display(), reason(&e)))?;
        let mode = dir.permissions().mode();
        let sticky_world_writable = mode & 0o1000 != 0 && mode & 0o002 != 0;
        let owner = entry.uid();
        if sticky_world_writable && owner != crate::sys::euid() && owner != dir.uid() {
            let what = if entry.file_type().is_symlink() {
                "a symbolic link"
            } else {
                "a file"
            };
            return Err(format!(
                "refusing to write to {shown}: it is {what} owned by another user (uid {owner}) in a shared sticky directory"
            ));
        }
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| format!("cannot create {shown}: {}", reason(&e)))
}

/// A run's parameters: positional (`$1`, …) and named program options (`--name[=value]`
/// after `--`, read with `getopt()`).
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub positional: Vec<String>,
    pub named: Vec<(String, Option<String>)>,
}

/// Runs a compiled file with the run's parameters.
pub fn launch_compiled(
    file: &AotFile,
    params: &Params,
    flags: &Flags,
    child: Option<&mut GatedChild>,
) -> Result<i32, Failure> {
    if let Some(values) = &file.meta.fixed_params {
        if *values != params.positional {
            return Err(Failure::Message(format!(
                "this script was compiled with the positional parameters [{}] in its attach points or literals, so it runs only with them (got [{}]); recompile it with `rbt --aot` and the new parameters",
                quoted(values),
                quoted(&params.positional)
            )));
        }
    }
    if params.named.iter().any(|(n, _)| n == "help") {
        // `-- --help` lists the script's options instead of running it, as `rbt` does.
        stdlib::stderr!("{}", file.meta.options_help);
        return Err(Failure::Reported);
    }
    let declared: Vec<&str> = file
        .meta
        .manifest
        .run_values
        .iter()
        .filter_map(|v| match v {
            RunValue::ProgramOption { name, .. } => Some(name.as_str()),
            RunValue::Cpid
            | RunValue::Ncpus
            | RunValue::ParamCount
            | RunValue::Param(_)
            | RunValue::ParamStr { .. } => None,
        })
        .collect();
    let mut unexpected: Vec<String> = Vec::new();
    for (n, _) in &params.named {
        let opt = format!("--{n}");
        if !declared.contains(&n.as_str()) && !unexpected.contains(&opt) {
            unexpected.push(opt);
        }
    }
    if !unexpected.is_empty() {
        let expected: Vec<String> = declared.iter().map(|n| format!("--{n}")).collect();
        return Err(Failure::Message(format!(
            "unexpected program command line options: {} (expected program options: {})",
            unexpected.join(" "),
            if expected.is_empty() {
                "none".to_string()
            } else {
                expected.join(" ")
            }
        )));
    }
    launch(
        &file.elf,
        &file.meta.manifest,
        &file.meta.source,
        &file.meta.settings,
        params,
        flags,
        child,
    )
}

/// `text` NUL-padded to `size` bytes, for a string read as `len` bytes with its NUL; `what`
/// names it when it is too long.
fn padded(text: &[u8], len: u32, size: u32, what: &str) -> Result<Vec<u8>, String> {
    if text.len() >= len as usize {
        return Err(format!(
            "{what} is {} bytes long; the script was compiled to read at most {} (recompile it with a longer one, or raise max_strlen)",
            text.len(),
            len.saturating_sub(1)
        ));
    }
    let mut bytes = text.to_vec();
    bytes.resize(size as usize, 0);
    Ok(bytes)
}

/// The `.rodata` of an object whose manifest lists `values`, laid out by
/// [`stdlib::manifest::run_values_layout`]. A parameter or option the program reads as an
/// integer must be one, and one it reads as a string must fit.
/// Why a script cannot run in `mode`: its only probes are `test:` or `bench:` probes, which
/// run with `--test` or `--bench` alone, so a plain run would attach nothing.
fn run_mode_needed(manifest: &Manifest, mode: RunMode) -> Option<String> {
    let only = |kind: fn(&Attach) -> bool| {
        !manifest.programs.is_empty() && manifest.programs.iter().all(|p| kind(&p.attach))
    };
    let test = |a: &Attach| matches!(a, Attach::Test { .. });
    let bench = |a: &Attach| matches!(a, Attach::Bench { .. });
    match mode {
        RunMode::Trace if only(test) => Some(
            "no probes to attach: the script has only test: probes; run them with --test".into(),
        ),
        RunMode::Trace if only(bench) => Some(
            "no probes to attach: the script has only bench: probes; run them with --bench".into(),
        ),
        RunMode::Trace | RunMode::Bench | RunMode::Test => None,
    }
}

fn run_values(values: &[RunValue], params: &Params, cpid: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(values.len() * 8);
    for v in values {
        let int = |n: i64| n.to_ne_bytes().to_vec();
        let bytes = match v {
            RunValue::Cpid => int(i64::from(cpid)),
            RunValue::Ncpus => int(crate::attach::online_cpus().len() as i64),
            RunValue::ParamCount => int(params.positional.len() as i64),
            RunValue::Param(n) => match params.positional.get((*n as usize).wrapping_sub(1)) {
                None => int(0),
                Some(text) => int(stdlib::literal::parse_int(text).ok_or_else(|| {
                    format!("positional parameter ${n} must be an integer (the script was compiled to read it as one), not `{text}`")
                })?),
            },
            RunValue::ParamStr { index, len } => {
                let text = params
                    .positional
                    .get((*index as usize).wrapping_sub(1))
                    .map_or(&[][..], |p| p.as_bytes());
                padded(text, *len, v.size(), &format!("positional parameter ${index}"))?
            }
            RunValue::ProgramOption { name, default, len } => {
                // The last `--name` wins, as when rbt runs the script itself.
                let given = params
                    .named
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_deref());
                match stdlib::manifest::option_value(default, given)
                    .map_err(|problem| format!("program option --{name} {problem}"))?
                {
                    OptionDefault::Int(n) => int(n),
                    OptionDefault::Bool(b) => int(i64::from(b)),
                    OptionDefault::Str(s) => {
                        padded(s.as_bytes(), *len, v.size(), &format!("program option --{name}"))?
                    }
                }
            }
        };
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

fn quoted(v: &[String]) -> String {
    v.iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reports a program the verifier refused as a diagnostic on the script line it stopped at
/// (when the log names one), with the verifier's reason; `-v` adds the whole log.
fn rejected(source: &Source, r: &Rejection, flags: &Flags) -> Failure {
    if flags.verbose {
        let log = r.log_with_source(&source.text);
        stdlib::stderrln!(
            "{}: verifier log of `{}`:\n{}",
            flags.program,
            r.probe,
            log.trim_end()
        );
    }
    let Some(span) = r.line.and_then(|l| diag::line_span(&source.text, l)) else {
        return Failure::Message(RunError::Rejected(r.clone()).to_string());
    };
    let (message, rest) = match r.reason.split_first() {
        Some((first, rest)) => (
            format!("the BPF verifier refused probe `{}`: {first}", r.probe),
            rest,
        ),
        None => (
            format!("the BPF verifier refused probe `{}`", r.probe),
            &[][..],
        ),
    };
    let mut d = Diagnostic::error(message, span).with_label("the verifier stopped here");
    for line in rest {
        d = d.with_note(line.clone());
    }
    // The kernel offers bpf_probe_write_user only to CAP_SYS_ADMIN and not under lockdown.
    if r.reason.iter().any(|l| l.contains("bpf_probe_write_user")) {
        d = d.with_note(
            "this kernel does not let programs write user memory (write_user()): it needs CAP_SYS_ADMIN in the initial namespace and no kernel lockdown",
        );
    }
    if !flags.verbose {
        d = d.with_help("run with -v to see the verifier's whole log");
    }
    stdlib::stderr!(
        "{}",
        diag::render_files(
            &source.name,
            &source.text,
            &source.imports,
            &[d],
            flags.color
        )
    );
    Failure::Reported
}

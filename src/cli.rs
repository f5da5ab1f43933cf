//! rbt's command line (clap), shared by the front end (`rbt`) and the compiler
//! (`rbt-compile`), which get the same arguments: bpftrace's flags, and what each means for
//! a run, for the compile cache and for the usage text of a refused command line.

use clap::{ArgAction, Parser, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "rbt",
    version,
    about = "rbt: a bpftrace-compatible tracing language",
    after_help = "Examples:\n  rbt -l '*sleep*'\n  rbt -e 'tracepoint:syscalls:sys_enter_openat { printf(\"%s %s\\n\", comm, str(args.filename)); }'\n  rbt scripts/opensnoop.bt"
)]
pub struct Cli {
    /// Program text to run (instead of a file). Given more than once, the last one runs,
    /// as bpftrace's getopt keeps it.
    #[arg(short = 'e', value_name = "PROGRAM", overrides_with = "program")]
    pub program: Option<String>,
    /// List probes (optionally matching a pattern, or those of the given program).
    #[arg(short = 'l', long = "list", action = ArgAction::SetTrue)]
    pub list: bool,
    /// Verbose output (with -l: probe arguments).
    #[arg(short = 'v', long = "verbose", action = ArgAction::SetTrue)]
    pub verbose: bool,
    /// Run CMD and trace it; rbt exits when it does.
    #[arg(short = 'c', long = "cmd", value_name = "CMD")]
    pub cmd: Option<String>,
    /// Only run the probes whose name matches REGEX (begin/end always run).
    #[arg(long = "probe-filter", value_name = "REGEX")]
    pub probe_filter: Option<String>,
    /// Accepted as bpftrace spells it: USDT semaphores are already set in every process that
    /// maps the file, because the kernel's uprobe reference counter does it.
    #[arg(long = "usdt-file-activation")]
    pub usdt_file_activation: bool,
    /// Read the traceable kernel functions from FILE instead of tracefs
    /// available_filter_functions (kprobes on others need --unsafe).
    #[arg(long = "traceable-functions", value_name = "FILE")]
    pub traceable_functions: Option<std::path::PathBuf>,
    /// Search DIR for the debug files (DWARF) of stripped binaries; may be repeated.
    #[arg(long = "debuginfo", value_name = "DIR")]
    pub debuginfo: Vec<std::path::PathBuf>,
    /// Only trace this process (uprobe/usdt targets).
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pid: Option<u32>,
    /// Also unwind this process's stacks for dw_ustack (besides the -p and -c ones).
    #[arg(long = "dwarf-pid", value_name = "PID")]
    pub dwarf_pid: Option<u32>,
    /// Output format.
    #[arg(short = 'f', value_name = "FORMAT", value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write output to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<String>,
    /// Keep messages to a minimum.
    #[arg(short = 'q', long = "quiet", action = ArgAction::SetTrue)]
    pub quiet: bool,
    /// Output buffering.
    #[arg(short = 'B', value_name = "MODE", value_enum, default_value_t = BufferMode::Line)]
    pub buffering: BufferMode,
    /// Add a directory to the include search path.
    #[arg(short = 'I', value_name = "DIR")]
    pub include_dirs: Vec<String>,
    /// Include a header before the script.
    #[arg(long = "include", value_name = "FILE")]
    pub include: Vec<String>,
    /// Warn about helper errors.
    #[arg(short = 'k', long = "warnings", action = ArgAction::Count)]
    pub warnings: u8,
    /// Allow unsafe builtins (system, signal, override).
    #[arg(long = "unsafe")]
    pub allow_unsafe: bool,
    /// `bench` runs the `bench:` probes and times them, `test` runs the `test:` probes.
    #[arg(long = "mode", value_name = "MODE", value_enum)]
    pub mode: Option<Mode>,
    /// Run every `bench:` probe and time it (same as `--mode bench`).
    #[arg(long = "bench")]
    pub bench: bool,
    /// Run every `test:` probe (same as `--mode test`).
    #[arg(long = "test")]
    pub test: bool,
    /// Suppress warnings.
    #[arg(long = "no-warnings")]
    pub no_warnings: bool,
    /// Print kernel and build information.
    #[arg(long = "info")]
    pub info: bool,
    /// Dump a stage and exit.
    #[arg(short = 'd', long = "debug", value_name = "STAGE", value_enum)]
    pub debug: Option<Stage>,
    /// Do without these kernel features even where the kernel has them.
    #[arg(
        long = "no-feature",
        value_name = "FEATURE[,FEATURE]",
        value_enum,
        value_delimiter = ','
    )]
    pub no_feature: Vec<Feature>,
    /// Parse, check and compile without touching the kernel.
    #[arg(long = "check")]
    pub check_only: bool,
    /// Also load every program into the kernel (the verifier judges it), attach nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Write the BPF object to FILE.
    #[arg(long = "emit-elf", value_name = "FILE")]
    pub emit_elf: Option<String>,
    /// Write the LLVM IR to FILE.
    #[arg(long = "emit-llvm", value_name = "FILE")]
    pub emit_llvm: Option<String>,
    /// Compile the script into FILE (object, manifest and settings) instead of running it;
    /// run the file later with `rbt-run FILE` or `rbt FILE`, on a machine without LLVM.
    #[arg(long = "aot", value_name = "FILE")]
    pub aot: Option<String>,
    /// Neither use nor fill the compile cache (`$XDG_CACHE_HOME/rbt`, `~/.cache/rbt`).
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Print the script formatted (two-space indents, one statement per line, comments
    /// kept) instead of running it.
    #[arg(long = "fmt")]
    pub fmt: bool,
    /// Print rbt's manual page (roff, for `man -l -`), made from these options.
    #[arg(long = "man")]
    pub man: bool,
    /// Print the completion script of SHELL for rbt's options (e.g. `rbt --completions bash
    /// > /etc/bash_completion.d/rbt`).
    #[arg(long = "completions", value_name = "SHELL", value_enum)]
    pub completions: Option<clap_complete::Shell>,
    /// Script file (`-` for stdin), then positional parameters ($1, $2, ...). Options may
    /// follow them (`rbt -l 'usdt:*' -p PID`), as with bpftrace's getopt; a parameter that
    /// starts with `-` and is not a number comes after `--`.
    #[arg(value_name = "FILE|ARGS", allow_negative_numbers = true)]
    pub rest: Vec<String>,
    /// After `--`: the script's named options (`--name` or `--name=value`, read with
    /// `getopt()`) and more positional parameters.
    #[arg(last = true, value_name = "PROGRAM OPTIONS")]
    pub program_args: Vec<String>,
}

/// Splits the arguments after `--` into named program options (`--name[=value]`) and
/// positional parameters (anything else, such as `-1` or `pos2`).
pub fn program_args(args: &[String]) -> (Vec<(String, Option<String>)>, Vec<String>) {
    let mut named = Vec::new();
    let mut positional = Vec::new();
    for a in args {
        match a.strip_prefix("--") {
            Some(opt) if !opt.is_empty() => match opt.split_once('=') {
                Some((n, v)) => named.push((n.to_string(), Some(v.to_string()))),
                None => named.push((opt.to_string(), None)),
            },
            _ => positional.push(a.clone()),
        }
    }
    (named, positional)
}

/// `-f`, with bpftrace's names: clap refuses any other before rbt does any work.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

impl From<Format> for runtime::OutputFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Text => runtime::OutputFormat::Text,
            Format::Json => runtime::OutputFormat::Json,
        }
    }
}

/// `--mode`: the ones of bpftrace's modes that rbt has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    Bench,
    Test,
}

/// `-B`, with bpftrace's names.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum BufferMode {
    Line,
    Full,
    None,
}

impl From<BufferMode> for runtime::Buffering {
    fn from(b: BufferMode) -> Self {
        match b {
            BufferMode::Line => runtime::Buffering::Line,
            BufferMode::Full => runtime::Buffering::Full,
            BufferMode::None => runtime::Buffering::None,
        }
    }
}

/// `--no-feature`, with bpftrace 0.27's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Feature {
    /// One kprobe_multi link per wildcard kprobe.
    #[value(name = "kprobe_multi")]
    KprobeMulti,
    /// kprobe sessions (rbt never uses them).
    #[value(name = "kprobe_session")]
    KprobeSession,
    /// One uprobe_multi link per binary of a wildcard uprobe.
    #[value(name = "uprobe_multi")]
    UprobeMulti,
}

impl Feature {
    /// The catalog's feature this turns off; none for `kprobe_session`, since rbt attaches a
    /// function's entry and return as two probes always and never uses sessions.
    fn kernel_feature(self) -> Option<runtime::catalog::KernelFeature> {
        match self {
            Feature::KprobeMulti => Some(runtime::catalog::KernelFeature::KprobeMulti),
            Feature::KprobeSession => None,
            Feature::UprobeMulti => Some(runtime::catalog::KernelFeature::UprobeMulti),
        }
    }
}

/// `-d`: the stage whose result is printed instead of running the script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Stage {
    /// The parsed script.
    Ast,
    /// The checked, typed script (bpftrace's `types`).
    #[value(alias = "types")]
    Hir,
    /// The optimized LLVM IR (bpftrace's `codegen-opt`).
    #[value(alias = "codegen-opt")]
    Llvm,
    /// The BPF object's size, and how to disassemble it.
    Asm,
    /// The manifest (programs, maps, events) as JSON.
    Manifest,
}

/// A failure that has already been explained to the user.
pub struct Reported;

/// Says `msg` as rbt's error (an I/O error in it in the system's words, see
/// [`stdlib::diag::reason`]).
pub fn fail(msg: impl std::fmt::Display) -> Reported {
    stdlib::stderrln!("rbt: error: {}", stdlib::diag::reason(&msg));
    Reported
}

/// A command line clap refuses: like bpftrace, rbt names the problem and shows the usage
/// under a `USAGE:` heading, then fails. `--help` and `--version` print to stdout and
/// succeed.
pub fn bad_command_line(e: clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    use clap::CommandFactory;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        _ => {
            // clap's own text ends with its usage line and a pointer to --help; the usage
            // below replaces both.
            let text = e.render().to_string();
            let end = ["\n\nUsage:", "\n\nFor more information"]
                .iter()
                .filter_map(|m| text.find(m))
                .min()
                .unwrap_or(text.len());
            let problem = &text[..end];
            let usage = Cli::command().render_usage().to_string();
            let usage = usage.trim_start_matches("Usage:").trim();
            stdlib::stderrln!(
                "{}\n\nUSAGE:\n    {usage}\n\nFor more information, try '--help'.",
                problem.trim_end()
            );
            // clap's status (2), which scripts around rbt may already test for.
            std::process::ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
        }
    }
}

/// The running system's facts for checking the script `name` ("stdin" for `-e`): a quoted
/// `#include` is looked for next to the script file first, then in the `-I` directories.
pub fn system_catalog(cli: &Cli, name: &str) -> Result<runtime::catalog::SystemCatalog, Reported> {
    let script_dir = (name != "stdin")
        .then(|| std::path::Path::new(name).parent().map(|d| d.to_path_buf()))
        .flatten();
    let catalog = runtime::catalog::SystemCatalog::new(cli.pid)
        .with_headers(&cli.include_dirs, script_dir)
        .with_debuginfo_dirs(cli.debuginfo.clone())
        .without_features(
            &cli.no_feature
                .iter()
                .filter_map(|f| f.kernel_feature())
                .collect::<Vec<_>>(),
        );
    match &cli.traceable_functions {
        Some(path) => catalog.with_traceable_functions(path).map_err(fail),
        None => Ok(catalog),
    }
}

/// The command line's run flags, as the shared run path takes them.
pub fn run_flags(cli: &Cli, color: bool) -> runtime::launch::Flags {
    runtime::launch::Flags {
        format: runtime::OutputFormat::from(cli.format),
        buffering: runtime::Buffering::from(cli.buffering),
        quiet: cli.quiet,
        verbose: cli.verbose,
        dry_run: cli.dry_run,
        pid: cli.pid,
        dwarf_pid: cli.dwarf_pid,
        no_warnings: cli.no_warnings,
        mode: match (cli.mode, cli.bench, cli.test) {
            (Some(Mode::Bench), _, _) | (None, true, _) => runtime::RunMode::Bench,
            (Some(Mode::Test), _, _) | (None, false, true) => runtime::RunMode::Test,
            (None, false, false) => runtime::RunMode::Trace,
        },
        output: cli.output.clone(),
        color,
        program: "rbt",
    }
}

/// Whether this command line may use the compile cache: a run of a script, not a listing,
/// a dump, a check, a dry run or a compile to a file, nor the `--bench`/`--test` modes (the
/// harness modes, which `rbt-run` does not have), nor `-- --help`, `--info`, `--fmt`,
/// `--man` or `--completions`.
pub fn cache_wanted(cli: &Cli, named: &[(String, Option<String>)]) -> bool {
    !(cli.no_cache
        || cli.info
        || cli.fmt
        || cli.man
        || cli.completions.is_some()
        || cli.list
        || cli.debug.is_some()
        || cli.check_only
        || cli.dry_run
        || cli.aot.is_some()
        || cli.emit_elf.is_some()
        || cli.emit_llvm.is_some()
        || cli.mode.is_some()
        || cli.bench
        || cli.test
        || stdlib::manifest::wants_help(named))
}

/// What, besides the script, shapes the compiled program: the compile-time options and the
/// `BPFTRACE_*` variables (the config the compiler resolves, `BPFTRACE_BTF`,
/// `BPFTRACE_DUMMY_TS_MAP`), one string each, for the cache key. Run flags (`-f`, `-o`,
/// `-q`, `-B`, `-v`, the parameters and the command of `-c`) are not here: a stored program
/// takes them at run time. Also the files whose contents count: `--include`s and
/// `BPFTRACE_BTF`.
pub fn compile_options(cli: &Cli) -> (Vec<String>, Vec<std::path::PathBuf>) {
    let mut o = vec![
        format!("-c given: {}", cli.cmd.is_some()),
        format!("-p: {:?}", cli.pid),
        format!("--probe-filter: {:?}", cli.probe_filter),
        format!("--usdt-file-activation: {}", cli.usdt_file_activation),
        format!("--debuginfo: {:?}", cli.debuginfo),
        format!("-I: {:?}", cli.include_dirs),
        format!("-k: {}", cli.warnings),
        format!("--unsafe: {}", cli.allow_unsafe),
        format!("--no-warnings: {}", cli.no_warnings),
        format!("--no-feature: {:?}", cli.no_feature),
    ];
    let mut files: Vec<std::path::PathBuf> = cli.include.iter().map(Into::into).collect();
    // The list of traceable functions decides which kprobes compile.
    files.extend(cli.traceable_functions.clone());
    o.push(format!("--include: {:?}", cli.include));
    let mut env: Vec<(std::ffi::OsString, std::ffi::OsString)> = std::env::vars_os()
        .filter(|(k, _)| k.as_encoded_bytes().starts_with(b"BPFTRACE_"))
        .collect();
    env.sort();
    for (k, v) in env {
        o.push(format!("{k:?}={v:?}"));
        if k == "BPFTRACE_BTF" {
            // The BTF file read instead of the kernel's.
            files.push(v.into());
        }
    }
    (o, files)
}

//! The `rbt` binary: bpftrace's command line (clap) wiring the stages together —
//! parse → check → compile → run — and rendering every user error as a diagnostic.

use clap::{ArgAction, Parser, ValueEnum};
use lang::check;
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use stdlib::catalog::Catalog;
use stdlib::diag::{self, Diagnostic};

mod cache;

#[derive(Parser, Debug)]
#[command(
    name = "rbt",
    version,
    about = "rbt: a bpftrace-compatible tracing language",
    after_help = "Examples:\n  rbt -l '*sleep*'\n  rbt -e 'tracepoint:syscalls:sys_enter_openat { printf(\"%s %s\\n\", comm, str(args.filename)); }'\n  rbt scripts/opensnoop.bt"
)]
struct Cli {
    /// Program text to run (instead of a file). Given more than once, the last one runs,
    /// as bpftrace's getopt keeps it.
    #[arg(short = 'e', value_name = "PROGRAM", overrides_with = "program")]
    program: Option<String>,
    /// List probes (optionally matching a pattern, or those of the given program).
    #[arg(short = 'l', long = "list", action = ArgAction::SetTrue)]
    list: bool,
    /// Verbose output (with -l: probe arguments).
    #[arg(short = 'v', long = "verbose", action = ArgAction::SetTrue)]
    verbose: bool,
    /// Run CMD and trace it; rbt exits when it does.
    #[arg(short = 'c', long = "cmd", value_name = "CMD")]
    cmd: Option<String>,
    /// Only run the probes whose name matches REGEX (begin/end always run).
    #[arg(long = "probe-filter", value_name = "REGEX")]
    probe_filter: Option<String>,
    /// Accepted as bpftrace spells it: USDT semaphores are already set in every process that
    /// maps the file, because the kernel's uprobe reference counter does it.
    #[arg(long = "usdt-file-activation")]
    usdt_file_activation: bool,
    /// Read the traceable kernel functions from FILE instead of tracefs
    /// available_filter_functions (kprobes on others need --unsafe).
    #[arg(long = "traceable-functions", value_name = "FILE")]
    traceable_functions: Option<std::path::PathBuf>,
    /// Search DIR for the debug files (DWARF) of stripped binaries; may be repeated.
    #[arg(long = "debuginfo", value_name = "DIR")]
    debuginfo: Vec<std::path::PathBuf>,
    /// Only trace this process (uprobe/usdt targets).
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pid: Option<u32>,
    /// Output format.
    #[arg(short = 'f', value_name = "FORMAT", value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write output to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<String>,
    /// Keep messages to a minimum.
    #[arg(short = 'q', long = "quiet", action = ArgAction::SetTrue)]
    quiet: bool,
    /// Output buffering.
    #[arg(short = 'B', value_name = "MODE", value_enum, default_value_t = BufferMode::Line)]
    buffering: BufferMode,
    /// Add a directory to the include search path.
    #[arg(short = 'I', value_name = "DIR")]
    include_dirs: Vec<String>,
    /// Include a header before the script.
    #[arg(long = "include", value_name = "FILE")]
    include: Vec<String>,
    /// Warn about helper errors.
    #[arg(short = 'k', long = "warnings", action = ArgAction::Count)]
    warnings: u8,
    /// Allow unsafe builtins (system, signal, override).
    #[arg(long = "unsafe")]
    allow_unsafe: bool,
    /// `bench` runs the `bench:` probes and times them, `test` runs the `test:` probes.
    #[arg(long = "mode", value_name = "MODE", value_enum)]
    mode: Option<Mode>,
    /// Run every `bench:` probe and time it (same as `--mode bench`).
    #[arg(long = "bench")]
    bench: bool,
    /// Run every `test:` probe (same as `--mode test`).
    #[arg(long = "test")]
    test: bool,
    /// Suppress warnings.
    #[arg(long = "no-warnings")]
    no_warnings: bool,
    /// Print kernel and build information.
    #[arg(long = "info")]
    info: bool,
    /// Dump a stage and exit.
    #[arg(short = 'd', value_name = "STAGE", value_enum)]
    debug: Option<Stage>,
    /// Parse, check and compile without touching the kernel.
    #[arg(long = "check")]
    check_only: bool,
    /// Also load every program into the kernel (the verifier judges it), attach nothing.
    #[arg(long = "dry-run")]
    dry_run: bool,
    /// Write the BPF object to FILE.
    #[arg(long = "emit-elf", value_name = "FILE")]
    emit_elf: Option<String>,
    /// Write the LLVM IR to FILE.
    #[arg(long = "emit-llvm", value_name = "FILE")]
    emit_llvm: Option<String>,
    /// Compile the script into FILE (object, manifest and settings) instead of running it;
    /// run the file later with `rbt-run FILE` or `rbt FILE`, on a machine without LLVM.
    #[arg(long = "aot", value_name = "FILE")]
    aot: Option<String>,
    /// Neither use nor fill the compile cache (`$XDG_CACHE_HOME/rbt`, `~/.cache/rbt`).
    #[arg(long = "no-cache")]
    no_cache: bool,
    /// Script file (`-` for stdin), then positional parameters ($1, $2, ...). Options may
    /// follow them (`rbt -l 'usdt:*' -p PID`), as with bpftrace's getopt; a parameter that
    /// starts with `-` and is not a number comes after `--`.
    #[arg(value_name = "FILE|ARGS", allow_negative_numbers = true)]
    rest: Vec<String>,
    /// After `--`: the script's named options (`--name` or `--name=value`, read with
    /// `getopt()`) and more positional parameters.
    #[arg(last = true, value_name = "PROGRAM OPTIONS")]
    program_args: Vec<String>,
}

/// Splits the arguments after `--` into named program options (`--name[=value]`) and
/// positional parameters (anything else, such as `-1` or `pos2`).
fn program_args(args: &[String]) -> (Vec<(String, Option<String>)>, Vec<String>) {
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
enum Format {
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
enum Mode {
    Bench,
    Test,
}

/// `-B`, with bpftrace's names.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum BufferMode {
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

/// `-d`: the stage whose result is printed instead of running the script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Stage {
    /// The parsed script.
    Ast,
    /// The checked, typed script.
    Hir,
    /// The optimized LLVM IR.
    Llvm,
    /// The BPF object's size, and how to disassemble it.
    Asm,
    /// The manifest (programs, maps, events) as JSON.
    Manifest,
}

/// A failure that has already been explained to the user.
struct Reported;

fn fail(msg: impl std::fmt::Display) -> Reported {
    eprintln!("rbt: error: {msg}");
    Reported
}

/// Prints a dumped stage (`-d`). A reader that stops early (`rbt -d hir ... | head`) is not
/// an error; `println!` would panic on the broken pipe.
fn print_stage(text: &str) -> Result<i32, Reported> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(fail(format!("writing to stdout: {e}")))
        }
        _ => Ok(0),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return bad_command_line(e),
    };
    match real_main(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(Reported) => ExitCode::from(1),
    }
}

/// A command line clap refuses: like bpftrace, rbt names the problem and shows the usage
/// under a `USAGE:` heading, then fails. `--help` and `--version` print to stdout and
/// succeed.
fn bad_command_line(e: clap::Error) -> ExitCode {
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
            eprintln!(
                "{}\n\nUSAGE:\n    {usage}\n\nFor more information, try '--help'.",
                problem.trim_end()
            );
            // clap's status (2), which scripts around rbt may already test for.
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
        }
    }
}

/// The running system's facts for checking the script `name` ("stdin" for `-e`): a quoted
/// `#include` is looked for next to the script file first, then in the `-I` directories.
fn system_catalog(cli: &Cli, name: &str) -> Result<runtime::catalog::SystemCatalog, Reported> {
    let script_dir = (name != "stdin")
        .then(|| std::path::Path::new(name).parent().map(|d| d.to_path_buf()))
        .flatten();
    let catalog = runtime::catalog::SystemCatalog::new(cli.pid)
        .with_headers(&cli.include_dirs, script_dir)
        .with_debuginfo_dirs(cli.debuginfo.clone());
    match &cli.traceable_functions {
        Some(path) => catalog.with_traceable_functions(path).map_err(fail),
        None => Ok(catalog),
    }
}

fn real_main(cli: Cli) -> Result<i32, Reported> {
    if cli.info {
        return info();
    }
    // Only a run loads programs; -l, -d, --check and --aot work without privileges as far
    // as what they read allows.
    if !cli.list && cli.debug.is_none() && !cli.check_only && cli.aot.is_none() {
        runtime::launch::require_privileges("rbt").map_err(fail)?;
    }
    let (named, mut extra_params) = program_args(&cli.program_args);
    let mut rest = cli.rest.clone();
    if cli.program.is_none() && rest.is_empty() && !extra_params.is_empty() {
        // `rbt -- script.bt ARGS`: the script file may come after `--` too.
        rest.push(extra_params.remove(0));
    }
    let (name, source, mut params) = match (&cli.program, rest.split_first()) {
        (Some(p), _) => ("stdin".to_string(), Some(p.clone()), rest.clone()),
        (None, Some((file, params))) if file == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| fail(format!("reading stdin: {e}")))?;
            ("stdin".to_string(), Some(s), params.to_vec())
        }
        (None, Some((file, params))) if !cli.list => {
            let bytes =
                std::fs::read(file).map_err(|e| fail(format!("cannot read {file}: {e}")))?;
            if stdlib::aot::is_compiled(&bytes) {
                let mut positional = params.to_vec();
                positional.extend(extra_params);
                let params = runtime::launch::Params { positional, named };
                return run_compiled(&cli, file, &bytes, &params);
            }
            let s = String::from_utf8(bytes)
                .map_err(|_| fail(format!("cannot read {file}: it is not UTF-8 text")))?;
            (file.clone(), Some(s), params.to_vec())
        }
        (None, rest) => (
            "".to_string(),
            None,
            rest.map(|(a, b)| [vec![a.clone()], b.to_vec()].concat())
                .unwrap_or_default(),
        ),
    };
    params.extend(extra_params);
    if cli.list && source.is_none() {
        // A file argument with -l lists that script's probes; otherwise it is a pattern.
        let pattern = params.first().cloned();
        if let Some(p) = &pattern {
            if p.ends_with(".bt") && std::path::Path::new(p).exists() {
                let s = std::fs::read_to_string(p)
                    .map_err(|e| fail(format!("cannot read {p}: {e}")))?;
                return list_script(p, &s, &cli, &[]);
            }
        }
        let mut out = std::io::stdout().lock();
        return match runtime::listing::list(
            pattern.as_deref(),
            cli.verbose,
            cli.pid,
            &cli.debuginfo,
            &mut out,
        ) {
            Ok(()) => Ok(0),
            Err(e) => Err(fail(e)),
        };
    }
    let Some(source) = source else {
        return Err(fail("no program given: pass a script file, `-e 'PROGRAM'`, or `-l` to list probes (see --help)"));
    };
    if cli.list {
        return list_script(&name, &source, &cli, &params);
    }
    if !cli.include_dirs.is_empty() || !cli.include.is_empty() {
        // Headers are satisfied from BTF; extra include paths change nothing, as bpftrace
        // with BTF would not need them either.
        if cli.verbose {
            eprintln!("rbt: note: -I/--include are accepted; kernel types come from BTF");
        }
    }
    let probe_filter = match &cli.probe_filter {
        Some(f) => Some(
            regex_lite::Regex::new(f)
                .map_err(|e| fail(format!("invalid --probe-filter regex '{f}': {e}")))?,
        ),
        None => None,
    };
    // A stored compile of the same inputs runs at once (src/cache.rs).
    let cache = cache_wanted(&cli, &named)
        .then(|| {
            let (options, files) = compile_options(&cli);
            cache::Cache::open(&name, &source, &options, &files)
        })
        .flatten();
    let mut missed = "not in the cache";
    if let Some(c) = &cache {
        match c.lookup(&system_catalog(&cli, &name)?, &params) {
            cache::Lookup::Hit { path, file } => {
                if cli.verbose {
                    eprintln!("rbt: compile cache: hit, running {}", path.display());
                }
                let run_params = runtime::launch::Params {
                    positional: params,
                    named,
                };
                return run_cached(&cli, &path, &file, &run_params);
            }
            cache::Lookup::Miss(why) => missed = why,
        }
    }
    let color = std::io::stderr().is_terminal();
    let (ast, parse_diags) = lang::parse_with_params(&source, &params);
    // Whether the compile told the user anything: such a compile is not cached, since a
    // hit could not say it again.
    let mut printed = report(&name, &source, &parse_diags, color, cli.no_warnings);
    if parse_diags.iter().any(Diagnostic::is_error) {
        return Err(Reported);
    }
    if cli.debug == Some(Stage::Ast) {
        return print_stage(&format!("{ast:#?}\n"));
    }
    let (config, warned) = configure(&ast, &name, &source, color, cli.no_warnings)?;
    printed |= warned;

    // A compiled file runs its command later, in `rbt-run`.
    let mut child = match cli.cmd.as_ref().filter(|_| cli.aot.is_none()) {
        Some(cmd) => Some(
            runtime::GatedChild::spawn(cmd)
                .map_err(|e| fail(format!("cannot run `{cmd}`: {e}")))?,
        ),
        None => None,
    };
    let help = check::wants_help(&named);
    let run_params = runtime::launch::Params {
        positional: params.clone(),
        named: named.clone(),
    };
    let opts = check::Options {
        params: params.clone(),
        named,
        allow_unsafe: cli.allow_unsafe,
        // With --aot the command runs later, and a cached program runs with other commands:
        // `cpid` is then read at run time.
        cpid: match (&child, &cli.cmd) {
            (Some(c), _) if cache.is_none() => Some(c.pid),
            (_, cmd) => cmd.as_ref().map(|_| 0),
        },
        load_only: cli.dry_run || cli.check_only || cli.debug.is_some() || cli.aot.is_some(),
        run_time_values: cli.aot.is_some() || cache.is_some(),
        strlen: config.string_layout().0,
        map_keys_max: config.max_map_keys,
        stack_mode: config.stack_mode,
        missing_probes: config.missing_probes,
        dummy_ts_map: std::env::var("BPFTRACE_DUMMY_TS_MAP").ok(),
        unstable_tseries: config.unstable_tseries,
    };
    let system = system_catalog(&cli, &name)?;
    let catalog = cache::Recording::new(&system, &source);
    let checked = check::check(&ast, &catalog as &dyn Catalog, &opts);
    if help {
        // `-- --help` lists the script's options instead of running it, and fails as
        // bpftrace does.
        eprint!("{}", check::program_options_help(&checked.options));
        return Err(Reported);
    }
    let diags = lang::annotate_expansions(&ast, &checked.diagnostics);
    printed |= report(&name, &source, &diags, color, cli.no_warnings);
    printed |= !checked.notes.is_empty();
    for n in &checked.notes {
        eprintln!("rbt: note: {n}");
    }
    let Some(mut hir) = checked.script else {
        return Err(Reported);
    };
    // Parameters substituted into attach points while parsing (`BEG$1`) are compiled in too.
    let params_compiled_in = checked.params_compiled_in
        || ast.probes.iter().any(|p| {
            p.attach_points.iter().any(|ap| {
                source
                    .get(ap.span.start..ap.span.end)
                    .is_some_and(|t| t.contains('$'))
            })
        });
    if let Some(filter) = &probe_filter {
        if check::filter_probes(&mut hir, &|name| filter.is_match(name)) == 0 {
            return Err(fail(
                "no probes to attach: --probe-filter matches none of the script's probes",
            ));
        }
    }
    if cli.debug == Some(Stage::Hir) {
        return print_stage(&format!("{hir:#?}\n"));
    }
    let limited: usize = hir.probes.iter().map(|p| p.attach.limit_count()).sum();
    if limited as u64 > config.max_probes {
        return Err(fail(format!(
            "can't attach to {} probes because it exceeds the current limit of {} probes (raise max_probes, carefully: many probes can make the system unresponsive)",
            limited,
            config.max_probes
        )));
    }
    let trailer = config.string_layout().1;
    let want_ir = cli.emit_llvm.is_some() || cli.debug == Some(Stage::Llvm);
    let codegen_opts = codegen::Options {
        want_ir,
        file_name: &name,
        source: &source,
        helper_warnings: cli.warnings > 0,
        license: Some(&config.license),
        str_trailer: &trailer,
        // Sized as the runtime sizes the map, so records wake the reader at a quarter of it.
        ringbuf_bytes: config.perf_rb_pages.map(runtime::run::ringbuf_bytes),
    };
    let (compiled, ir) = codegen::compile(&hir, codegen_opts).map_err(fail)?;
    if compiled.manifest.programs.len() as u64 > config.max_bpf_progs {
        return Err(fail(format!(
            "the script needs {} BPF programs, more than max_bpf_progs ({})",
            compiled.manifest.programs.len(),
            config.max_bpf_progs
        )));
    }
    if let (Some(path), Some(ir)) = (&cli.emit_llvm, &ir) {
        std::fs::write(path, ir).map_err(|e| fail(format!("cannot write {path}: {e}")))?;
    }
    if let Some(path) = &cli.emit_elf {
        std::fs::write(path, &compiled.elf)
            .map_err(|e| fail(format!("cannot write {path}: {e}")))?;
    }
    match cli.debug {
        Some(Stage::Llvm) => {
            return print_stage(&ir.unwrap_or_default());
        }
        Some(Stage::Manifest) => {
            let text = serde_json::to_string_pretty(&compiled.manifest).map_err(fail)?;
            return print_stage(&format!("{text}\n"));
        }
        Some(Stage::Asm) => {
            return print_stage(&format!("{} bytes of BPF object; inspect with: llvm-objdump-19 -d <(rbt --emit-elf /dev/stdout ...)\n", compiled.elf.len()));
        }
        // Printed above, before compiling.
        Some(Stage::Ast | Stage::Hir) | None => {}
    }
    if cli.check_only {
        return Ok(0);
    }
    let settings = stdlib::aot::RunSettings {
        print_maps_on_exit: config.print_maps_on_exit,
        max_cat_bytes: config.max_cat_bytes,
        log_size: config.log_size,
        perf_rb_pages: config.perf_rb_pages,
    };
    let source = stdlib::manifest::Source { name, text: source };
    let fixed_params = params_compiled_in.then_some(params);
    if let Some(c) = &cache {
        let why_not = if printed {
            Some("the compile printed messages".to_string())
        } else {
            catalog
                .volatile()
                .map(|what| format!("the script uses {what}"))
        };
        let stored = match why_not {
            Some(why) => Err(why),
            None => {
                let meta = stdlib::aot::Metadata {
                    manifest: compiled.manifest.clone(),
                    source: source.clone(),
                    settings: settings.clone(),
                    fixed_params: fixed_params.clone(),
                    options_help: check::program_options_help(&checked.options),
                };
                stdlib::aot::write(&compiled.elf, &meta, None)
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| {
                        c.store(&catalog.headers(), &system, &bytes)
                            .map_err(|e| e.to_string())
                    })
            }
        };
        if cli.verbose {
            match stored {
                Ok(path) => eprintln!(
                    "rbt: compile cache: miss ({missed}), stored {}",
                    path.display()
                ),
                Err(e) => eprintln!("rbt: compile cache: miss ({missed}), not stored: {e}"),
            }
        }
    }
    if let Some(path) = &cli.aot {
        let meta = stdlib::aot::Metadata {
            manifest: compiled.manifest,
            source,
            settings,
            fixed_params,
            options_help: check::program_options_help(&checked.options),
        };
        let bytes =
            stdlib::aot::write(&compiled.elf, &meta, interpreter().as_deref()).map_err(fail)?;
        write_executable(path, &bytes).map_err(|e| fail(format!("cannot write {path}: {e}")))?;
        return Ok(0);
    }
    let flags = run_flags(&cli, color);
    runtime::launch::launch(
        &compiled.elf,
        &compiled.manifest,
        &source,
        &settings,
        &run_params,
        &flags,
        child.as_mut(),
    )
    .map_err(reported)
}

/// The `rbt-run` a compiled file's `#!` line names: the one installed beside this rbt, else
/// whichever is first on the PATH when the file runs.
fn interpreter() -> Option<String> {
    let beside = std::env::current_exe().ok()?.with_file_name("rbt-run");
    Some(if beside.is_file() {
        beside.to_string_lossy().into_owned()
    } else {
        "/usr/bin/env rbt-run".to_string()
    })
}

/// Writes a compiled file, executable (`./prog.rbt ARGS` runs it through its `#!` line).
fn write_executable(path: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o755)
        .open(path)?;
    f.write_all(bytes)
}

/// The command line's run flags, as the shared run path takes them.
fn run_flags(cli: &Cli, color: bool) -> runtime::launch::Flags {
    runtime::launch::Flags {
        format: runtime::OutputFormat::from(cli.format),
        buffering: runtime::Buffering::from(cli.buffering),
        quiet: cli.quiet,
        verbose: cli.verbose,
        dry_run: cli.dry_run,
        pid: cli.pid,
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
/// harness modes, which `rbt-run` does not have), nor `-- --help`.
fn cache_wanted(cli: &Cli, named: &[(String, Option<String>)]) -> bool {
    !(cli.no_cache
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
        || check::wants_help(named))
}

/// What, besides the script, shapes the compiled program: the compile-time options and the
/// `BPFTRACE_*` variables (the config the compiler resolves, `BPFTRACE_BTF`,
/// `BPFTRACE_DUMMY_TS_MAP`), one string each, for the cache key. Run flags (`-f`, `-o`,
/// `-q`, `-B`, `-v`, the parameters and the command of `-c`) are not here: a stored program
/// takes them at run time. Also the files whose contents count: `--include`s and
/// `BPFTRACE_BTF`.
fn compile_options(cli: &Cli) -> (Vec<String>, Vec<std::path::PathBuf>) {
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

/// Runs a stored compile, as `rbt FILE` runs a compiled file. `rbt-run`, when it is
/// installed beside this rbt, runs it in place of this process: it does not carry LLVM's
/// pages, so the run needs less memory (bench/RESULTS.md). It is told to call itself `rbt`
/// in its messages (its `argv[0]`), so that a run prints what an uncached one does.
fn run_cached(
    cli: &Cli,
    path: &std::path::Path,
    file: &stdlib::aot::AotFile,
    params: &runtime::launch::Params,
) -> Result<i32, Reported> {
    use std::os::unix::process::CommandExt;
    if let Some(runner) = std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name("rbt-run"))
        .filter(|r| r.is_file())
    {
        let mut cmd = std::process::Command::new(&runner);
        cmd.arg0("rbt");
        let format = match cli.format {
            Format::Text => "text",
            Format::Json => "json",
        };
        let buffering = match cli.buffering {
            BufferMode::Line => "line",
            BufferMode::Full => "full",
            BufferMode::None => "none",
        };
        cmd.args(["-f", format, "-B", buffering]);
        for (set, flag) in [
            (cli.verbose, "-v"),
            (cli.quiet, "-q"),
            (cli.no_warnings, "--no-warnings"),
        ] {
            if set {
                cmd.arg(flag);
            }
        }
        if let Some(c) = &cli.cmd {
            cmd.arg("-c").arg(c);
        }
        if let Some(p) = cli.pid {
            cmd.arg("-p").arg(p.to_string());
        }
        if let Some(o) = &cli.output {
            cmd.arg("-o").arg(o);
        }
        // Every parameter after `--`, where rbt-run reads `--name[=value]` as a program
        // option and anything else as the next positional parameter, as rbt does.
        cmd.arg(path).arg("--").args(&params.positional);
        for (n, v) in &params.named {
            cmd.arg(match v {
                Some(v) => format!("--{n}={v}"),
                None => format!("--{n}"),
            });
        }
        // exec() returns only when it failed: then the run goes on in this process.
        let _ = cmd.exec();
    }
    run_file(cli, file, params)
}

fn reported(f: runtime::launch::Failure) -> Reported {
    match f {
        runtime::launch::Failure::Reported => Reported,
        runtime::launch::Failure::Message(m) => fail(m),
    }
}

/// `rbt FILE` on a file `rbt --aot` wrote: run it as `rbt-run FILE` would.
fn run_compiled(
    cli: &Cli,
    path: &str,
    bytes: &[u8],
    params: &runtime::launch::Params,
) -> Result<i32, Reported> {
    let file = stdlib::aot::read(bytes).map_err(|e| fail(format!("{path}: {e}")))?;
    run_file(cli, &file, params)
}

/// Runs a compiled file that has been read.
fn run_file(
    cli: &Cli,
    file: &stdlib::aot::AotFile,
    params: &runtime::launch::Params,
) -> Result<i32, Reported> {
    let mut child = match &cli.cmd {
        Some(cmd) => Some(
            runtime::GatedChild::spawn(cmd)
                .map_err(|e| fail(format!("cannot run `{cmd}`: {e}")))?,
        ),
        None => None,
    };
    let flags = run_flags(cli, std::io::stderr().is_terminal());
    runtime::launch::launch_compiled(file, params, &flags, child.as_mut()).map_err(reported)
}

/// The script's config block and the `BPFTRACE_*` environment variables (which win), as
/// `lang::config` resolves them; their errors end the run before anything is checked. Also
/// whether it printed a warning.
fn configure(
    ast: &lang::ast::Script,
    name: &str,
    source: &str,
    color: bool,
    no_warnings: bool,
) -> Result<(lang::config::Config, bool), Reported> {
    let resolved = lang::config::resolve(&ast.config, &|var| std::env::var(var).ok());
    let printed = report(name, source, &resolved.diagnostics, color, no_warnings)
        || (!no_warnings && !resolved.env_warnings.is_empty());
    if !no_warnings {
        for w in &resolved.env_warnings {
            eprintln!("rbt: warning: {w}");
        }
    }
    for e in &resolved.env_errors {
        eprintln!("rbt: error: {e}");
    }
    if !resolved.env_errors.is_empty() || resolved.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(Reported);
    }
    Ok((resolved.config, printed))
}

/// Renders the diagnostics that are shown (errors, and warnings unless `--no-warnings`);
/// whether there were any.
fn report(name: &str, source: &str, diags: &[Diagnostic], color: bool, no_warnings: bool) -> bool {
    let shown: Vec<Diagnostic> = diags
        .iter()
        .filter(|d| d.is_error() || !no_warnings)
        .cloned()
        .collect();
    if !shown.is_empty() {
        eprint!("{}", diag::render(name, source, &shown, color));
    }
    !shown.is_empty()
}

/// `rbt -l -e PROG` / `rbt -l file.bt`: the probes the script would attach.
fn list_script(name: &str, source: &str, cli: &Cli, params: &[String]) -> Result<i32, Reported> {
    let (ast, diags) = lang::parse_with_params(source, params);
    report(name, source, &diags, false, cli.no_warnings);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Reported);
    }
    let (config, _) = configure(&ast, name, source, false, cli.no_warnings)?;
    let opts = check::Options {
        params: params.to_vec(),
        load_only: true,
        strlen: config.string_layout().0,
        map_keys_max: config.max_map_keys,
        stack_mode: config.stack_mode,
        missing_probes: config.missing_probes,
        dummy_ts_map: std::env::var("BPFTRACE_DUMMY_TS_MAP").ok(),
        unstable_tseries: config.unstable_tseries,
        ..Default::default()
    };
    let catalog = system_catalog(cli, name)?;
    let checked = check::check(&ast, &catalog as &dyn Catalog, &opts);
    let diags = lang::annotate_expansions(&ast, &checked.diagnostics);
    report(name, source, &diags, false, cli.no_warnings);
    let Some(hir) = checked.script else {
        return Err(Reported);
    };
    for line in hir
        .probe_names
        .iter()
        .filter_map(|n| runtime::listing::program_line(n))
    {
        println!("{line}");
    }
    Ok(0)
}

/// `--info`: what this kernel and build support (`runtime::features`).
fn info() -> Result<i32, Reported> {
    print!("{}", runtime::features::detect());
    Ok(0)
}

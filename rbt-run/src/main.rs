//! The `rbt-run` binary: runs a script compiled with `rbt --aot FILE script.bt`, with the run
//! flags of `rbt` (`-f`, `-o`, `-q`, `-c`, `-p`, `-B`, `-v`, `--dry-run`) and the run's
//! positional parameters. It links the runtime and the standard library only: no parser,
//! checker, codegen or LLVM (`tests/dependencies.rs` keeps it so).

use clap::{Parser, ValueEnum};
use std::io::IsTerminal;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "rbt-run",
    version,
    about = "Run a script compiled with `rbt --aot FILE script.bt`",
    after_help = "Example:\n  rbt --aot opensnoop.rbt scripts/opensnoop.bt   # where LLVM is\n  rbt-run opensnoop.rbt                         # anywhere"
)]
struct Cli {
    /// Verbose output (libbpf's messages, the verifier's whole log on a refusal).
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
    /// Run CMD and trace it; rbt-run exits when it does.
    #[arg(short = 'c', long = "cmd", value_name = "CMD")]
    cmd: Option<String>,
    /// Only trace this process (uprobe/usdt targets).
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pid: Option<u32>,
    /// Also unwind this process's stacks for dw_ustack (besides the -p and -c ones).
    #[arg(long = "dwarf-pid", value_name = "PID")]
    dwarf_pid: Option<u32>,
    /// Output format.
    #[arg(short = 'f', value_name = "FORMAT", value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write output to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<String>,
    /// Keep messages to a minimum.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// Output buffering.
    #[arg(short = 'B', value_name = "MODE", value_enum, default_value_t = BufferMode::Line)]
    buffering: BufferMode,
    /// Load every program into the kernel (the verifier judges it), attach nothing.
    #[arg(long = "dry-run")]
    dry_run: bool,
    /// Drop the script's warnf() messages.
    #[arg(long = "no-warnings")]
    no_warnings: bool,
    /// The compiled file, then the positional parameters ($1, $2, ...); a parameter that
    /// starts with `-` and is not a number comes after `--`.
    #[arg(
        value_name = "FILE|ARGS",
        required = true,
        allow_negative_numbers = true
    )]
    rest: Vec<String>,
    /// The script's named options (`--name` or `--name=value`, read with `getopt()`) and
    /// more positional parameters.
    #[arg(last = true, value_name = "PROGRAM OPTIONS")]
    more: Vec<String>,
}

/// `-f`, with bpftrace's names.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// `-B`, with bpftrace's names.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum BufferMode {
    Line,
    Full,
    None,
}

/// The name messages go under: `rbt` when `rbt` hands a run of its compile cache over to
/// this binary (it sets `argv[0]` to `rbt`), so that the run prints what rbt's own would;
/// `rbt-run` otherwise.
fn program_name() -> &'static str {
    match std::env::args_os().next() {
        Some(a) if a == "rbt" => "rbt",
        _ => "rbt-run",
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    stdlib::stderrln!("{}: error: {}", program_name(), stdlib::diag::reason(&msg));
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some((path, params)) = cli.rest.split_first() else {
        return fail("no compiled file given (see --help)");
    };
    // After `--`: named program options (`--name[=value]`, read with getopt()) and more
    // positional parameters.
    let mut params = runtime::launch::Params {
        positional: params.to_vec(),
        named: Vec::new(),
    };
    for a in &cli.more {
        match a.strip_prefix("--").filter(|o| !o.is_empty()) {
            Some(opt) => params.named.push(match opt.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (opt.to_string(), None),
            }),
            None => params.positional.push(a.clone()),
        }
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return fail(format!("cannot read {path}: {e}")),
    };
    let file = match stdlib::aot::read(&bytes) {
        Ok(f) => f,
        Err(e) => return fail(format!("{path}: {e}")),
    };
    let mut child = match &cli.cmd {
        Some(cmd) => match runtime::GatedChild::spawn(cmd) {
            Ok(c) => Some(c),
            Err(e) => return fail(format!("cannot run `{cmd}`: {e}")),
        },
        None => None,
    };
    let flags = runtime::launch::Flags {
        format: match cli.format {
            Format::Text => runtime::OutputFormat::Text,
            Format::Json => runtime::OutputFormat::Json,
        },
        buffering: match cli.buffering {
            BufferMode::Line => runtime::Buffering::Line,
            BufferMode::Full => runtime::Buffering::Full,
            BufferMode::None => runtime::Buffering::None,
        },
        quiet: cli.quiet,
        verbose: cli.verbose,
        dry_run: cli.dry_run,
        pid: cli.pid,
        dwarf_pid: cli.dwarf_pid,
        output: cli.output.clone(),
        color: std::io::stderr().is_terminal(),
        program: program_name(),
        no_warnings: cli.no_warnings,
        // bench: and test: probes are run by `rbt --bench`/`--test`; a compiled file traces.
        mode: runtime::RunMode::Trace,
    };
    match runtime::launch::launch_compiled(&file, &params, &flags, child.as_mut()) {
        Ok(code) => ExitCode::from(code as u8),
        Err(runtime::launch::Failure::Reported) => ExitCode::from(1),
        Err(runtime::launch::Failure::Message(m)) => fail(m),
    }
}

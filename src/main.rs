//! The `rbt` binary, the front end: it parses the command line, and runs compiled files
//! (`rbt FILE` on what `rbt --aot` wrote) and hits of the compile cache itself. Every other
//! command line (a compile, a listing, a dump, `--info`, a script on stdin, a miss, any
//! error the compiler reports better) goes unchanged to `rbt-compile` beside it, which
//! replaces this process (`exec`). The front end links the runtime and the standard library
//! only: LLVM's pages are never mapped for a cached run (bench/RESULTS.md).

use clap::Parser;
use rbt::cli::{bad_command_line, fail, Cli, Reported};
use rbt::input::{open_cache, read_input, run_compiled, run_hit, Input};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return bad_command_line(e),
    };
    let run = match front(&cli) {
        Some(run) => run,
        None => Err(compile()),
    };
    match run {
        Ok(code) => ExitCode::from(code as u8),
        Err(Reported) => ExitCode::from(1),
    }
}

/// The run of a compiled file or of a cache hit; `None` when the compiler is needed.
fn front(cli: &Cli) -> Option<Result<i32, Reported>> {
    // Only plain runs of a script may hit the cache or run a compiled file here; with any
    // other flag the compiler decides (`--dry-run FILE`, `--no-cache`, `-l`, ...).
    if !rbt::cli::cache_wanted(cli, &rbt::cli::program_args(&cli.program_args).0) {
        return None;
    }
    if let Err(e) = runtime::launch::require_privileges("rbt") {
        return Some(Err(fail(e)));
    }
    match read_input(cli, false) {
        Err(Reported) => Some(Err(Reported)),
        Ok(Input::Compiled {
            path,
            bytes,
            params,
        }) => Some(run_compiled(cli, &path, &bytes, &params)),
        Ok(Input::Script {
            name,
            source: Some(source),
            params,
            named,
        }) => {
            let cache = open_cache(cli, &name, &source, &named)?;
            // A miss is the compiler's to report (with -v), once it has stored the program.
            run_hit(cli, &cache, &name, &params, &named).ok()
        }
        // No script (the compiler explains), or one on stdin or in a pipe, which only the
        // compiler reads.
        Ok(Input::Script { source: None, .. } | Input::Stdin) => None,
    }
}

/// Replaces this process with the compiler beside it, given this command line unchanged;
/// returns only when that fails, having said why.
fn compile() -> Reported {
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "rbt".into());
    let compiler = match std::env::current_exe() {
        Ok(exe) => exe.with_file_name(rbt::COMPILER),
        Err(e) => return fail(format!("cannot find rbt's own executable: {e}")),
    };
    let e = std::process::Command::new(&compiler)
        .arg0(arg0)
        .args(args)
        .exec();
    fail(format!(
        "cannot run the compiler {}: {e} (rbt needs {} installed beside it)",
        compiler.display(),
        rbt::COMPILER
    ))
}

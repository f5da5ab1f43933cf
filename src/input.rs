//! The script a command line names, and the runs that need no compiler: a file that
//! `rbt --aot` wrote, and a hit of the compile cache (src/cache.rs). The front end (`rbt`)
//! does these itself and leaves everything else to the compiler (`rbt-compile`), which
//! reads the input the same way.

use crate::cache::{Cache, Lookup};
use crate::cli::{cache_wanted, compile_options, fail, run_flags, system_catalog, Cli, Reported};
use runtime::launch::Params;
use std::io::{IsTerminal, Read};

/// What the command line asks to run or list.
pub enum Input {
    /// `rbt FILE` on a file `rbt --aot` wrote (told from a script by its first bytes).
    Compiled {
        path: String,
        bytes: Vec<u8>,
        params: Params,
    },
    /// A script: the name diagnostics give it ("stdin" for `-e` and `-`), its text (`None`
    /// for `-l [PATTERN]`, or when no script is given), its positional parameters and the
    /// named program options after `--`.
    Script {
        name: String,
        source: Option<String>,
        params: Vec<String>,
        named: Vec<(String, Option<String>)>,
    },
    /// The script is to be read from stdin (`rbt -`) or a pipe (`rbt <(...)`), which can be
    /// read only once, and the caller asked not to read such a script.
    Stdin,
}

/// Reads the script (or compiled file) the command line names; stdin, or a named pipe, only
/// if `read_stdin`.
pub fn read_input(cli: &Cli, read_stdin: bool) -> Result<Input, Reported> {
    let (named, mut extra_params) = crate::cli::program_args(&cli.program_args);
    let mut rest = cli.rest.clone();
    if cli.program.is_none() && rest.is_empty() && !extra_params.is_empty() {
        // `rbt -- script.bt ARGS`: the script file may come after `--` too.
        rest.push(extra_params.remove(0));
    }
    let (name, source, mut params) = match (&cli.program, rest.split_first()) {
        (Some(p), _) => ("stdin".to_string(), Some(p.clone()), rest.clone()),
        (None, Some((file, _))) if file == "-" && !read_stdin => return Ok(Input::Stdin),
        (None, Some((file, _)))
            if !read_stdin && !cli.list && std::fs::metadata(file).is_ok_and(|m| !m.is_file()) =>
        {
            return Ok(Input::Stdin)
        }
        (None, Some((file, params))) if file == "-" => {
            let bytes = read_bounded(std::io::stdin(), "stdin")?;
            let s = String::from_utf8(bytes)
                .map_err(|_| fail("reading stdin: the script is not UTF-8 text"))?;
            ("stdin".to_string(), Some(s), params.to_vec())
        }
        (None, Some((file, params))) if !cli.list => {
            let opened =
                std::fs::File::open(file).map_err(|e| fail(format!("cannot read {file}: {e}")))?;
            let bytes = read_bounded(opened, file)?;
            if stdlib::aot::is_compiled(&bytes) {
                let mut positional = params.to_vec();
                positional.extend(extra_params);
                return Ok(Input::Compiled {
                    path: file.clone(),
                    bytes,
                    params: Params { positional, named },
                });
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
    Ok(Input::Script {
        name,
        source,
        params,
        named,
    })
}

/// Scripts and compiled files are far smaller; reading stops here, so that a device such as
/// `/dev/zero` named as the script is refused instead of filling memory. Pipes
/// (`rbt <(...)`) are read as files are.
const MAX_INPUT_BYTES: u64 = 64 << 20;

/// Reads all of `from` (the script file `what`, or stdin), up to [`MAX_INPUT_BYTES`].
fn read_bounded(from: impl Read, what: &str) -> Result<Vec<u8>, Reported> {
    let mut bytes = Vec::new();
    from.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read {what}: {e}")))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(fail(format!(
            "cannot read {what}: it is longer than {MAX_INPUT_BYTES} bytes, which no script or compiled file is"
        )));
    }
    Ok(bytes)
}

/// The compile cache for this run of `name`'s `source`, when the command line may use one
/// and there is a cache directory to trust.
pub fn open_cache(
    cli: &Cli,
    name: &str,
    source: &str,
    named: &[(String, Option<String>)],
) -> Option<Cache> {
    if !cache_wanted(cli, named) {
        return None;
    }
    let (options, files) = compile_options(cli);
    Cache::open(name, source, &options, &files)
}

/// Looks the script up in `cache` and runs a hit. `Err` is the reason for a miss, which
/// `-v` reports once the compile has stored the program.
pub fn run_hit(
    cli: &Cli,
    cache: &Cache,
    name: &str,
    params: &[String],
    named: &[(String, Option<String>)],
) -> Result<Result<i32, Reported>, &'static str> {
    let system = match system_catalog(cli, name) {
        Ok(system) => system,
        Err(reported) => return Ok(Err(reported)),
    };
    match cache.lookup(&system, params) {
        Lookup::Hit { path, file } => {
            if cli.verbose {
                stdlib::stderrln!("rbt: compile cache: hit, running {}", path.display());
            }
            let params = Params {
                positional: params.to_vec(),
                named: named.to_vec(),
            };
            Ok(run_file(cli, &file, &params))
        }
        Lookup::Miss(why) => Err(why),
    }
}

/// `rbt FILE` on a file `rbt --aot` wrote: runs it as `rbt-run FILE` would.
pub fn run_compiled(cli: &Cli, path: &str, bytes: &[u8], params: &Params) -> Result<i32, Reported> {
    let file = stdlib::aot::read(bytes).map_err(|e| fail(format!("{path}: {e}")))?;
    run_file(cli, &file, params)
}

/// Runs a compiled file that has been read, with the command line's run flags.
fn run_file(cli: &Cli, file: &stdlib::aot::AotFile, params: &Params) -> Result<i32, Reported> {
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

/// A run's failure, explained to the user if it was not yet.
pub fn reported(f: runtime::launch::Failure) -> Reported {
    match f {
        runtime::launch::Failure::Reported => Reported,
        runtime::launch::Failure::Message(m) => fail(m),
    }
}

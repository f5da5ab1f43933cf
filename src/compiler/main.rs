//! The `rbt-compile` binary, the half of `rbt` with the compiler: `rbt` (src/main.rs) runs
//! it, with the same command line, for everything but compiled files and compile-cache hits.
//! It wires the stages together — parse → check → compile → run — and renders every user
//! error as a diagnostic.

use clap::Parser;
use lang::check;
use rbt::cache;
use rbt::cli::{fail, run_flags, system_catalog, Cli, Reported, Stage};
use rbt::input::{read_input, reported, run_compiled, Input};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use stdlib::catalog::Catalog;
use stdlib::diag::{self, Diagnostic};
use stdlib::manifest::Source;

mod imports;

/// Prints what rbt was asked for (a dumped stage with `-d`, a listing, `--info`, a manual
/// page). A reader that stops early (`rbt -d hir ... | head`) is not an error; `println!`
/// would panic on the broken pipe.
fn print_out(text: &[u8]) -> Result<i32, Reported> {
    match std::io::stdout().lock().write_all(text) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(fail(format!("writing to stdout: {e}")))
        }
        _ => Ok(0),
    }
}

fn main() -> ExitCode {
    // The process is rbt to the user, `ps`, `pkill -x rbt` and the scripts it runs (`comm`),
    // whether the front end handed it over or not. A failure leaves the file's name.
    let _ = std::fs::write("/proc/self/comm", "rbt");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return rbt::cli::bad_command_line(e),
    };
    match real_main(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(Reported) => ExitCode::from(1),
    }
}

fn real_main(cli: Cli) -> Result<i32, Reported> {
    if cli.info {
        return info();
    }
    if cli.man || cli.completions.is_some() {
        return documentation(&cli);
    }
    if cli.fmt {
        return format_script(&cli);
    }
    // Only a run loads programs; -l, -d, --check and --aot work without privileges as far
    // as what they read allows.
    if !cli.list && cli.debug.is_none() && !cli.check_only && cli.aot.is_none() {
        runtime::launch::require_privileges("rbt").map_err(fail)?;
    }
    let (name, source, params, named) = match read_input(&cli, true)? {
        Input::Compiled {
            path,
            bytes,
            params,
        } => return run_compiled(&cli, &path, &bytes, &params),
        Input::Script {
            name,
            source,
            params,
            named,
        } => (name, source, params, named),
        // Read above, since read_input() was told it may read stdin.
        Input::Stdin => return Err(fail("the script on stdin or in a pipe was not read")),
    };
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
            // The reader stopped early (`rbt -l | head`).
            Err(runtime::listing::ListError::Write(e))
                if e.kind() == std::io::ErrorKind::BrokenPipe =>
            {
                Ok(0)
            }
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
            stdlib::stderrln!("rbt: note: -I/--include are accepted; kernel types come from BTF");
        }
    }
    let probe_filter = match &cli.probe_filter {
        Some(f) => Some(
            regex_lite::Regex::new(f)
                .map_err(|e| fail(format!("invalid --probe-filter regex '{f}': {e}")))?,
        ),
        None => None,
    };
    // A stored compile of the same inputs runs at once (src/cache.rs). The front end
    // looked already, unless the script came from stdin or this compiler was run directly.
    let cache = rbt::input::open_cache(&cli, &name, &source, &named);
    let mut missed = "not in the cache";
    if let Some(c) = &cache {
        match rbt::input::run_hit(&cli, c, &name, &params, &named) {
            Ok(run) => return run,
            Err(why) => missed = why,
        }
    }
    let color = std::io::stderr().is_terminal();
    let (ast, source, parse_diags) = parse(&name, &source, &params);
    // Whether the compile told the user anything: such a compile is not cached, since a
    // hit could not say it again.
    let mut printed = report(&source, &parse_diags, color, cli.no_warnings);
    if parse_diags.iter().any(Diagnostic::is_error) {
        return Err(Reported);
    }
    if cli.debug == Some(Stage::Ast) {
        return print_out(format!("{ast:#?}\n").as_bytes());
    }
    let (config, warned) = configure(&ast, &source, color, cli.no_warnings)?;
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
        ..config_options(&config)
    };
    let system = system_catalog(&cli, &source.name)?;
    let catalog = cache::Recording::new(&system, &source.text);
    let checked = check::check(&ast, &catalog as &dyn Catalog, &opts);
    if help {
        // `-- --help` lists the script's options instead of running it, and fails as
        // bpftrace does.
        stdlib::stderr!("{}", check::program_options_help(&checked.options));
        return Err(Reported);
    }
    let diags = lang::annotate_expansions(&ast, &checked.diagnostics);
    printed |= report(&source, &diags, color, cli.no_warnings);
    printed |= !checked.notes.is_empty();
    for n in &checked.notes {
        stdlib::stderrln!("rbt: note: {n}");
    }
    let Some(mut hir) = checked.script else {
        return Err(Reported);
    };
    // Parameters substituted into attach points while parsing (`BEG$1`) are compiled in too.
    let params_compiled_in = checked.params_compiled_in
        || ast.probes.iter().any(|p| {
            p.attach_points.iter().any(|ap| {
                source
                    .text
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
        return print_out(format!("{hir:#?}\n").as_bytes());
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
        file_name: &source.name,
        source: &source.text,
        imports: &source.imports,
        helper_warnings: cli.warnings > 0,
        license: Some(&config.license),
        str_trailer: &trailer,
        // Sized as the runtime sizes the map, so records wake the reader at a quarter of it.
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
            return print_out(ir.unwrap_or_default().as_bytes());
        }
        Some(Stage::Manifest) => {
            let text = serde_json::to_string_pretty(&compiled.manifest).map_err(fail)?;
            return print_out(format!("{text}\n").as_bytes());
        }
        Some(Stage::Asm) => {
            return print_out(format!("{} bytes of BPF object; inspect with: llvm-objdump-19 -d <(rbt --emit-elf /dev/stdout ...)\n", compiled.elf.len()).as_bytes());
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
        show_debug_info: config.show_debug_info,
    };
    let fixed_params = params_compiled_in.then_some(params);
    if let Some(c) = &cache {
        let why_not = if printed {
            Some("the compile printed messages".to_string())
        } else if !source.imports.is_empty() {
            // The key covers the script's text, not the files it imports.
            Some("the script imports files".to_string())
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
                Ok(path) => stdlib::stderrln!(
                    "rbt: compile cache: miss ({missed}), stored {}",
                    path.display()
                ),
                Err(e) => stdlib::stderrln!("rbt: compile cache: miss ({missed}), not stored: {e}"),
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

/// The script's config block and the `BPFTRACE_*` environment variables (which win), as
/// `lang::config` resolves them; their errors end the run before anything is checked. Also
/// whether it printed a warning.
fn configure(
    ast: &lang::ast::Script,
    source: &Source,
    color: bool,
    no_warnings: bool,
) -> Result<(lang::config::Config, bool), Reported> {
    let resolved = lang::config::resolve(&ast.config, &|var| std::env::var(var).ok());
    let printed = report(source, &resolved.diagnostics, color, no_warnings)
        || (!no_warnings && !resolved.env_warnings.is_empty());
    if !no_warnings {
        for w in &resolved.env_warnings {
            stdlib::stderrln!("rbt: warning: {w}");
        }
    }
    for e in &resolved.env_errors {
        stdlib::stderrln!("rbt: error: {e}");
    }
    if !resolved.env_errors.is_empty() || resolved.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(Reported);
    }
    Ok((resolved.config, printed))
}

/// Parses the script `name` (a path, or `stdin` for `-e` and `-`), reading the files it
/// imports; the source returned holds their texts too.
fn parse(
    name: &str,
    text: &str,
    params: &[String],
) -> (lang::ast::Script, Source, Vec<Diagnostic>) {
    let files = imports::DiskImports::new((name != "stdin").then_some(name));
    lang::parse_script(name, text, params, &files)
}

/// Renders the diagnostics that are shown (errors, and warnings unless `--no-warnings`);
/// whether there were any.
fn report(source: &Source, diags: &[Diagnostic], color: bool, no_warnings: bool) -> bool {
    let shown: Vec<Diagnostic> = diags
        .iter()
        .filter(|d| d.is_error() || !no_warnings)
        .cloned()
        .collect();
    if !shown.is_empty() {
        stdlib::stderr!(
            "{}",
            diag::render_files(&source.name, &source.text, &source.imports, &shown, color)
        );
    }
    !shown.is_empty()
}

fn config_options(config: &lang::config::Config) -> check::Options {
    check::Options {
        dummy_ts_map: std::env::var("BPFTRACE_DUMMY_TS_MAP").ok(),
        ..check::Options::from_config(config)
    }
}

/// `rbt -l -e PROG` / `rbt -l file.bt`: the probes the script would attach.
fn list_script(name: &str, source: &str, cli: &Cli, params: &[String]) -> Result<i32, Reported> {
    let (ast, source, diags) = parse(name, source, params);
    report(&source, &diags, false, cli.no_warnings);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Reported);
    }
    let (config, _) = configure(&ast, &source, false, cli.no_warnings)?;
    let opts = check::Options {
        params: params.to_vec(),
        load_only: true,
        ..config_options(&config)
    };
    let catalog = system_catalog(cli, name)?;
    let checked = check::check(&ast, &catalog as &dyn Catalog, &opts);
    let diags = lang::annotate_expansions(&ast, &checked.diagnostics);
    report(&source, &diags, false, cli.no_warnings);
    let Some(hir) = checked.script else {
        return Err(Reported);
    };
    let lines: String = hir
        .probe_names
        .iter()
        .filter_map(|n| runtime::listing::program_line(n))
        .map(|line| line + "\n")
        .collect();
    print_out(lines.as_bytes())
}

/// `--fmt`: the script (a file, `-e` or stdin) printed in rbt's layout; a script that does
/// not parse gets its diagnostics and exit status 1.
fn format_script(cli: &Cli) -> Result<i32, Reported> {
    let (name, source) = match read_input(cli, true)? {
        Input::Script {
            name,
            source: Some(source),
            ..
        } => (name, source),
        Input::Compiled { path, .. } => {
            return Err(fail(format!(
                "{path} is a compiled script: --fmt formats script text"
            )))
        }
        Input::Script { source: None, .. } | Input::Stdin => {
            return Err(fail(
                "no program given: pass a script file, `-e 'PROGRAM'` or `-` for stdin",
            ))
        }
    };
    match lang::format::format(&source) {
        Ok(text) => print_out(text.as_bytes()),
        Err(diags) => {
            let source = Source {
                name,
                text: source,
                imports: Vec::new(),
            };
            report(
                &source,
                &diags,
                std::io::stderr().is_terminal(),
                cli.no_warnings,
            );
            Err(Reported)
        }
    }
}

/// `--man` and `--completions SHELL`: the manual page or a shell's completion script, on
/// stdout, written from the clap definition of the flags, so neither can miss a flag.
fn documentation(cli: &Cli) -> Result<i32, Reported> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    let mut command = Cli::command();
    match cli.completions {
        Some(shell) => clap_complete::generate(shell, &mut command, "rbt", &mut out),
        None => clap_mangen::Man::new(command)
            .render(&mut out)
            .map_err(|e| fail(format!("cannot write the manual page: {e}")))?,
    }
    print_out(&out)
}

/// `--info`: what this kernel and build support (`runtime::features`).
fn info() -> Result<i32, Reported> {
    print_out(runtime::features::detect().to_string().as_bytes())
}

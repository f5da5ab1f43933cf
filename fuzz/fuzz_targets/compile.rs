//! Fuzz target for the whole front end and back end: parse, resolve the config block, check on
//! the empty catalog with the options it sets, then compile whatever the checker accepts. Any
//! panic, stack overflow or hang is a bug, and so is an internal compiler error for a checked
//! script, because codegen never reports a user error: a script that reaches it and fails
//! there is a bug in `lang`'s checker.
#![no_main]

use lang::check;
use libfuzzer_sys::fuzz_target;
use stdlib::catalog::EmptyCatalog;

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data);
    let (script, diags) = lang::parse(&source);
    let _ = stdlib::diag::render("fuzz.bt", &source, &diags, false);
    if diags.iter().any(|d| d.is_error()) {
        return;
    }
    // The script's config block sets the checker's options (string length, map size, …) as
    // it does in `rbt`; a config error is reported there and ends the run.
    let config = lang::config::resolve(&script.config, &|_| None);
    let _ = stdlib::diag::render("fuzz.bt", &source, &config.diagnostics, false);
    if config.diagnostics.iter().any(|d| d.is_error()) {
        return;
    }
    let opts = check::Options::from_config(&config.config);
    let checked = check::check(&script, &EmptyCatalog, &opts);
    let _ = stdlib::diag::render("fuzz.bt", &source, &checked.diagnostics, false);
    let Some(hir) = checked.script else {
        return;
    };
    let opts = codegen::Options {
        want_ir: false,
        file_name: "fuzz.bt",
        helper_warnings: false,
        source: &source,
        ..Default::default()
    };
    if let Err(e) = codegen::compile(&hir, opts) {
        panic!("the checker accepted a script codegen cannot compile: {e}\n{source}");
    }
});

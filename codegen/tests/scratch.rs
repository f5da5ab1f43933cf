//! Tier 1: the checker's limit on the per-CPU scratch memory a statement's values take
//! (`lang::check::scratch`) admits statements that codegen does compile. Its other side, a
//! statement refused with a diagnostic, is the `statement_needs_too_much_scratch` fixture of
//! lang's check tests.

use lang::check;
use stdlib::catalog::EmptyCatalog;

/// One condition comparing `n` pairs of 64-byte strings: 128 bytes of scratch per pair.
fn comparisons(n: usize) -> String {
    let pairs = vec!["str(0) == str(1)"; n].join(" && ");
    format!("BEGIN {{ if ({pairs}) {{ exit(); }} }}")
}

#[test]
fn statements_near_the_scratch_limit_check_and_compile() {
    // 100 pairs take 12800 of the 16384 bytes.
    let script = comparisons(100);
    let (ast, diags) = lang::parse(&script);
    assert!(diags.is_empty(), "{diags:?}");
    let checked = check::check(&ast, &EmptyCatalog, &check::Options::default());
    let hir = checked
        .script
        .unwrap_or_else(|| panic!("refused: {:?}", checked.diagnostics));
    let opts = codegen::Options {
        want_ir: false,
        file_name: "stdin",
        helper_warnings: false,
        source: &script,
        ..Default::default()
    };
    if let Err(e) = codegen::compile(&hir, opts) {
        panic!("the checker accepted what codegen cannot compile: {e}");
    }
}

//! Tier 1: the checker's limit on the per-CPU scratch memory a statement's values take
//! (`lang::check::scratch`) admits statements that codegen does compile. Its other side, a
//! statement refused with a diagnostic, is the `statement_needs_too_much_scratch` fixture of
//! lang's check tests.

mod common;

/// One condition comparing `n` pairs of 64-byte strings: 128 bytes of scratch per pair.
fn comparisons(n: usize) -> String {
    let pairs = vec!["str(0) == str(1)"; n].join(" && ");
    format!("BEGIN {{ if ({pairs}) {{ exit(); }} }}")
}

#[test]
fn statements_near_the_scratch_limit_check_and_compile() {
    // 100 pairs take 12800 of the 16384 bytes.
    let script = comparisons(100);
    if let Err(e) = common::compile(&script, codegen::Options::default()) {
        panic!("the checker accepted what codegen cannot compile: {e}");
    }
}

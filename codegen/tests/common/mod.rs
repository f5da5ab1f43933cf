//! Shared setup of codegen's integration tests: a script parsed and checked on the kernel-free
//! `EmptyCatalog`, then compiled.

use lang::check;
use stdlib::catalog::EmptyCatalog;

/// Parses and checks `script`, panicking if either refuses it (the test's own mistake), then
/// compiles it with `opts`, under the file name `stdin` and with `script` as its source.
pub fn compile<'a>(
    script: &'a str,
    opts: codegen::Options<'a>,
) -> Result<(codegen::CompiledScript, Option<String>), codegen::CodegenError> {
    let (ast, diags) = lang::parse(script);
    assert!(diags.is_empty(), "{diags:?}");
    let checked = check::check(&ast, &EmptyCatalog, &check::Options::default());
    let hir = checked
        .script
        .unwrap_or_else(|| panic!("refused: {:?}", checked.diagnostics));
    codegen::compile(
        &hir,
        codegen::Options {
            file_name: "stdin",
            source: script,
            ..opts
        },
    )
}

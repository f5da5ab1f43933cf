//! Fuzz target: the parser must return (a script and diagnostics) on any input, never panic
//! or overflow the stack, and rendering its diagnostics must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data);
    let (_script, diags) = lang::parse(&source);
    let _ = lang::diag::render("fuzz.bt", &source, &diags, false);
});

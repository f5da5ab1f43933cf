//! Tier 1: the checker's limit on the per-CPU scratch memory a statement's values take
//! (`lang::check::scratch`) admits statements that codegen does compile. Its other side, a
//! statement refused with a diagnostic, is the `statement_needs_too_much_scratch` fixture of
//! lang's check tests.

mod common;

/// One condition comparing `n` pairs of 64-byte strings: 128 bytes of scratch per pair.
fn comparisons(n: usize) -> String {
    // Strings read from addresses in variables: `str(0)` would be the literal text "0".
    let pairs = vec!["str($p) == str($q)"; n].join(" && ");
    format!("BEGIN {{ $p = 0; $q = 1; if ({pairs}) {{ exit(); }} }}")
}

#[test]
fn statements_near_the_scratch_limit_check_and_compile() {
    // 100 pairs take 12800 of the 16384 bytes. The condition nests 100 `&&` deep, and an
    // unoptimized build's checker takes about 20 KiB of stack per level, more than a test
    // thread's 2 MiB holds (rbt's own main thread has 8 MiB, and optimized frames are
    // several times smaller).
    let script = comparisons(100);
    let compiled = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(move || common::compile(&script, codegen::Options::default()).map(|_| ()))
        .expect("start a thread")
        .join()
        .expect("the compile thread");
    if let Err(e) = compiled {
        panic!("the checker accepted what codegen cannot compile: {e}");
    }
}

/// `n` distinct string literals of `len` characters in one printf: `n` scratch slots.
fn literals(n: usize, len: usize) -> String {
    let format = "%s".repeat(n);
    let args: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "\"{}\"",
                char::from(b'a' + (i % 26) as u8).to_string().repeat(len)
            )
        })
        .collect();
    format!("printf(\"{format}\\n\", {});", args.join(", "))
}

/// Each statement's scratch memory is free again for the next: fifteen 992-byte values, then
/// thirty of 496 bytes (14,880 bytes each, under the 16 KiB a statement may take), compile.
/// Handed out best-fit, the second statement's slots took the first's and then 7,440 bytes
/// more, past the area ("a statement needs more than 16384 bytes").
#[test]
fn statements_reuse_scratch_memory_whatever_their_sizes() {
    let script = format!("BEGIN {{ {} {} }}", literals(15, 991), literals(30, 495));
    if let Err(e) = common::compile(&script, codegen::Options::default()) {
        panic!("the checker accepted what codegen cannot compile: {e}");
    }
}

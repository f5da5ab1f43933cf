//! Tier 1: values of about 1 KiB and more, and events with many arguments, compile. LLVM's
//! BPF back end expands a `memset` or `memcpy` into at most 128 stores and fails the compile
//! beyond that; the optimizer makes such calls itself by merging zeroings and runs of equal
//! stores, and `bigmem` cuts them up again. The fixtures in `fixtures/big_values/` once failed
//! with "A call to built-in function 'memset' is not supported" (`literal_with_nul_1000_bytes`
//! is the compile fuzzer's finding) or, `printf_70_*`, with "Looks like the BPF stack limit is
//! exceeded" (now staged, `lang::check::scratch::stages_args`). Tier 2 runs them
//! (`tests/e2e/cases.txt`) and checks what they print.

mod common;

#[test]
fn big_values_compile() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/big_values");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("the fixture directory")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    paths.sort();
    assert!(paths.len() >= 6, "fixtures missing from {dir}");
    let failures: Vec<String> = paths
        .iter()
        .filter_map(|path| {
            let script = std::fs::read_to_string(path).expect("a fixture");
            common::compile(&script, codegen::Options::default())
                .err()
                .map(|e| format!("{}: {e}", path.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The split leaves no call the back end cannot expand, and copies and zeroes all the bytes
/// it did: a 1984-byte zeroing becomes pieces of 512 bytes that together cover it.
#[test]
fn merged_zeroing_is_cut_into_pieces_that_cover_it() {
    let script = format!(
        "BEGIN {{ $x = \"{}\\0{}\"; }}",
        "a".repeat(190),
        "a".repeat(800)
    );
    let opts = codegen::Options {
        want_ir: true,
        ..Default::default()
    };
    let (_, ir) = common::compile(&script, opts).expect("compiles");
    let ir = ir.expect("the IR was asked for");
    let zeroed: u64 = ir
        .lines()
        .filter(|l| l.contains("call void @llvm.memset") && l.contains("i8 0, i64 "))
        .map(|l| {
            let len = l.split("i8 0, i64 ").nth(1).expect("a length");
            let len: u64 = len.split(',').next().unwrap().parse().expect("a number");
            assert!(len <= 512, "a zeroing of {len} bytes is left: {l}");
            len
        })
        .sum();
    assert!(zeroed >= 1984, "only {zeroed} bytes are zeroed:\n{ir}");
}

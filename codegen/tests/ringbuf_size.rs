//! Tier 1: a ring buffer sized by `perf_rb_pages` is compiled at that size, and output
//! records wake the reader at a quarter of it: a wake-up threshold above a small buffer's
//! size would never wake the reader, and records past what one timed drain finds would be
//! lost (issue 13).

mod common;

fn compile(ringbuf_bytes: Option<u32>) -> (codegen::CompiledScript, String) {
    let opts = codegen::Options {
        want_ir: true,
        ringbuf_bytes,
        ..Default::default()
    };
    let (compiled, ir) = common::compile(r#"BEGIN { printf("x\n"); }"#, opts).expect("compile");
    (compiled, ir.expect("the IR was asked for"))
}

/// Whether the IR compares the unread bytes with `limit` (the only unsigned `>` here).
fn wakes_at(ir: &str, limit: u32) -> bool {
    ir.lines().any(|l| {
        l.contains("icmp ugt i64")
            && (l.contains(&format!(", {limit},")) || l.ends_with(&format!(", {limit}")))
    })
}

#[test]
fn records_wake_the_reader_at_a_quarter_of_the_buffer() {
    let (small, ir) = compile(Some(4096));
    assert_eq!(small.manifest.ringbuf_size, 4096);
    assert!(wakes_at(&ir, 1024), "{ir}");
    let (default, ir) = compile(None);
    assert_eq!(default.manifest.ringbuf_size, 1 << 20);
    assert!(wakes_at(&ir, 262144), "{ir}");
}

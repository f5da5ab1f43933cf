//! Tier 1: output records wake the reader once a quarter of the ring is unread, and they ask
//! the ring for its size at run time (`bpf_ringbuf_query(ring, BPF_RB_RING_SIZE)`) rather
//! than compiling one in: the runtime sizes the ring for the machine (or `perf_rb_pages`)
//! before loading, and a threshold above a small ring's size would never wake the reader,
//! so records past what one timed drain finds would be lost (issue 13).

mod common;

#[test]
fn records_wake_the_reader_at_a_quarter_of_the_ring_they_run_with() {
    let opts = codegen::Options {
        want_ir: true,
        ..Default::default()
    };
    let (_, ir) = common::compile(r#"BEGIN { printf("x\n"); }"#, opts).expect("compile");
    let ir = ir.expect("the IR was asked for");
    // Helper 134 is bpf_ringbuf_query; its second argument 1 is BPF_RB_RING_SIZE.
    let size = ir
        .lines()
        .find(|l| l.contains("inttoptr (i64 134 to ptr)") && l.contains(", i64 1)"))
        .and_then(|l| l.split_once(" = ").map(|(name, _)| name.trim().to_string()));
    let size = size.unwrap_or_else(|| panic!("no ring size query:\n{ir}"));
    let quarter = ir
        .lines()
        .find(|l| l.contains(&format!("lshr i64 {size}, 2")))
        .and_then(|l| l.split_once(" = ").map(|(name, _)| name.trim().to_string()));
    let quarter = quarter.unwrap_or_else(|| panic!("no quarter of {size}:\n{ir}"));
    assert!(
        ir.lines()
            .any(|l| l.contains("icmp ugt i64") && last_operand_is(l, &quarter)),
        "the unread bytes are not compared with {quarter}:\n{ir}"
    );
}

/// Whether `quarter` is the instruction's last operand (before any `, !dbg` metadata).
fn last_operand_is(line: &str, value: &str) -> bool {
    line.contains(&format!(", {value},")) || line.trim_end().ends_with(&format!(", {value}"))
}

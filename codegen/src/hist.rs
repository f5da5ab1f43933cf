//! Histogram bucket indices computed in BPF. They mirror `stdlib::output::hist_bucket` and
//! `stdlib::output::lhist_bucket` exactly (see their docs for the layout), which user space
//! uses to label the buckets.

use crate::ir::Lowerer;
use crate::CodegenError;
use inkwell::values::IntValue;
use inkwell::IntPredicate;

type R<T> = Result<T, CodegenError>;

/// floor(log2(v)) for v ≥ 1, branch-free (binary search with selects).
fn log2<'ctx>(l: &Lowerer<'_, 'ctx>, v: IntValue<'ctx>) -> R<IntValue<'ctx>> {
    let i64t = l.ctx.i64_type();
    let mut n = v;
    let mut r = i64t.const_zero();
    for shift in [32u64, 16, 8, 4, 2, 1] {
        let limit = i64t.const_int(1u64 << shift, false);
        let big = l
            .builder
            .build_int_compare(IntPredicate::UGE, n, limit, "big")?;
        let shifted = l
            .builder
            .build_right_shift(n, i64t.const_int(shift, false), false, "sh")?;
        n = l
            .builder
            .build_select(big, shifted, n, "n")?
            .into_int_value();
        let added = l
            .builder
            .build_int_add(r, i64t.const_int(shift, false), "r")?;
        r = l.builder.build_select(big, added, r, "r")?.into_int_value();
    }
    Ok(r)
}

pub fn log2_bucket<'ctx>(l: &Lowerer<'_, 'ctx>, v: IntValue<'ctx>, bits: u8) -> R<IntValue<'ctx>> {
    let i64t = l.ctx.i64_type();
    let c = |x: u64| i64t.const_int(x, false);
    let k = u64::from(bits.min(stdlib::output::MAX_HIST_BITS));
    let mask = (1u64 << k) - 1;
    // Large values: msb = floor(log2 v), l = msb - k, x = (v >> l) & mask,
    // index = ((l + 1) << k) + x + 1. Computed for every v and selected away when unused,
    // so the code stays branch-free.
    let msb = log2(l, v)?;
    let shift = l.builder.build_int_sub(msb, c(k), "l")?;
    let small = l
        .builder
        .build_int_compare(IntPredicate::ULE, v, c(mask), "small")?;
    // Keep the shift amount in range for small values (their result is discarded).
    let shift = l
        .builder
        .build_select(small, c(0), shift, "l")?
        .into_int_value();
    let x = l.builder.build_right_shift(v, shift, false, "x")?;
    let x = l.builder.build_and(x, c(mask), "x")?;
    let l1 = l.builder.build_int_add(shift, c(1), "l1")?;
    let base = l.builder.build_left_shift(l1, c(k), "base")?;
    let big_idx = l.builder.build_int_add(base, x, "idx")?;
    let big_idx = l.builder.build_int_add(big_idx, c(1), "idx")?;
    let small_idx = l.builder.build_int_add(v, c(1), "sidx")?;
    let idx = l
        .builder
        .build_select(small, small_idx, big_idx, "i")?
        .into_int_value();
    let is_neg = l
        .builder
        .build_int_compare(IntPredicate::SLT, v, i64t.const_zero(), "neg")?;
    Ok(l.builder
        .build_select(is_neg, c(0), idx, "i")?
        .into_int_value())
}

pub fn linear_bucket<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    v: IntValue<'ctx>,
    min: i64,
    max: i64,
    step: i64,
) -> R<IntValue<'ctx>> {
    let i64t = l.ctx.i64_type();
    let c = |x: i64| i64t.const_int(x as u64, true);
    let n = (max - min) / step.max(1);
    let below = l
        .builder
        .build_int_compare(IntPredicate::SLT, v, c(min), "below")?;
    let above = l
        .builder
        .build_int_compare(IntPredicate::SGE, v, c(max), "above")?;
    let rel = l.builder.build_int_sub(v, c(min), "rel")?;
    // rel >= 0 wherever the index is used (below-min values select bucket 0), so an
    // unsigned division is exact there and needs no signed-division instruction.
    let q = l.builder.build_int_unsigned_div(rel, c(step.max(1)), "q")?;
    let idx = l.builder.build_int_add(q, c(1), "idx")?;
    let idx = l
        .builder
        .build_select(above, c(n + 1), idx, "i")?
        .into_int_value();
    Ok(l.builder
        .build_select(below, c(0), idx, "i")?
        .into_int_value())
}

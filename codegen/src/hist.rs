//! Histogram bucket indices computed in BPF. They mirror `stdlib::output::hist_bucket` and
//! `stdlib::output::lhist_bucket`, which user space uses to label the buckets: index 0 holds
//! negative values, 1 holds zero, then each power of two `[2^k, 2^(k+1))` has `2^bits`
//! linear sub-buckets.

use crate::lower::Lowerer;
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
    let zero = i64t.const_zero();
    let k = log2(l, v)?;
    let bits64 = i64t.const_int(u64::from(bits), false);
    // Sub-bucket: the `bits` bits right below the leading one (fewer when k < bits).
    let k_ge_bits = l
        .builder
        .build_int_compare(IntPredicate::UGE, k, bits64, "kge")?;
    let down = l.builder.build_int_sub(k, bits64, "down")?;
    let down = l
        .builder
        .build_select(k_ge_bits, down, zero, "down")?
        .into_int_value();
    let up = l.builder.build_int_sub(bits64, k, "up")?;
    let up = l
        .builder
        .build_select(k_ge_bits, zero, up, "up")?
        .into_int_value();
    let shifted = l.builder.build_right_shift(v, down, false, "s")?;
    let shifted = l.builder.build_left_shift(shifted, up, "s")?;
    let mask = i64t.const_int((1u64 << bits) - 1, false);
    let sub = l.builder.build_and(shifted, mask, "sub")?;
    let base = l.builder.build_left_shift(k, bits64, "base")?;
    let idx = l.builder.build_int_add(base, sub, "idx")?;
    let idx = l
        .builder
        .build_int_add(idx, i64t.const_int(2, false), "idx")?;
    let is_neg = l
        .builder
        .build_int_compare(IntPredicate::SLT, v, zero, "neg")?;
    let is_zero = l
        .builder
        .build_int_compare(IntPredicate::EQ, v, zero, "zero")?;
    let idx = l
        .builder
        .build_select(is_zero, i64t.const_int(1, false), idx, "i")?
        .into_int_value();
    Ok(l.builder
        .build_select(is_neg, zero, idx, "i")?
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
    let q = l.builder.build_int_signed_div(rel, c(step.max(1)), "q")?;
    let idx = l.builder.build_int_add(q, c(1), "idx")?;
    let idx = l
        .builder
        .build_select(above, c(n + 1), idx, "i")?
        .into_int_value();
    Ok(l.builder
        .build_select(below, c(0), idx, "i")?
        .into_int_value())
}

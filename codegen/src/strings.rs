//! String comparisons in BPF: fully unrolled byte loops (the lengths are compile-time
//! constants), so the verifier sees straight-line code with no back edges.

use crate::ir::Lowerer;
use crate::CodegenError;
use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

type R<T> = Result<T, CodegenError>;

fn byte<'ctx>(l: &Lowerer<'_, 'ctx>, p: PointerValue<'ctx>, i: u32) -> R<IntValue<'ctx>> {
    let at = l.offset(p, u64::from(i))?;
    Ok(l.builder
        .build_load(l.ctx.i8_type(), at, "c")?
        .into_int_value())
}

/// Whether the NUL-terminated strings at `a` and `b` are equal in their first `len` bytes.
/// Returns an i1.
pub fn equal<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    a: PointerValue<'ctx>,
    b: PointerValue<'ctx>,
    len: u32,
) -> R<IntValue<'ctx>> {
    let result = l.alloca(8, "streq")?;
    let i64t = l.ctx.i64_type();
    l.builder.build_store(result, i64t.const_int(1, false))?;
    let done = l.ctx.append_basic_block(l.func, "streq_done");
    for i in 0..len {
        let ca = byte(l, a, i)?;
        let cb = byte(l, b, i)?;
        let differ = l
            .builder
            .build_int_compare(IntPredicate::NE, ca, cb, "differ")?;
        let not_differ = l.ctx.append_basic_block(l.func, "same");
        let mismatch = l.ctx.append_basic_block(l.func, "mismatch");
        l.builder
            .build_conditional_branch(differ, mismatch, not_differ)?;
        l.builder.position_at_end(mismatch);
        l.builder.build_store(result, i64t.const_zero())?;
        l.builder.build_unconditional_branch(done)?;
        l.builder.position_at_end(not_differ);
        let end = l.builder.build_int_compare(
            IntPredicate::EQ,
            ca,
            l.ctx.i8_type().const_zero(),
            "end",
        )?;
        let next = l.ctx.append_basic_block(l.func, "next");
        l.builder.build_conditional_branch(end, done, next)?;
        l.builder.position_at_end(next);
    }
    l.builder.build_unconditional_branch(done)?;
    l.builder.position_at_end(done);
    let r = l.builder.build_load(i64t, result, "r")?.into_int_value();
    Ok(l.builder
        .build_int_compare(IntPredicate::NE, r, i64t.const_zero(), "eq")?)
}

/// Whether `needle` occurs in `hay` (both NUL-terminated, at most the given sizes). Returns an
/// i1. The search is unrolled over every start position, so keep the sizes modest.
pub fn contains<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    hay: PointerValue<'ctx>,
    hay_len: u32,
    needle: PointerValue<'ctx>,
    needle_len: u32,
) -> R<IntValue<'ctx>> {
    let i64t = l.ctx.i64_type();
    let result = l.alloca(8, "contains")?;
    l.builder.build_store(result, i64t.const_zero())?;
    let done = l.ctx.append_basic_block(l.func, "contains_done");
    for start in 0..hay_len {
        let next_start = l.ctx.append_basic_block(l.func, "next_start");
        for j in 0..needle_len {
            let cn = byte(l, needle, j)?;
            let needle_end = l.builder.build_int_compare(
                IntPredicate::EQ,
                cn,
                l.ctx.i8_type().const_zero(),
                "nend",
            )?;
            let found = l.ctx.append_basic_block(l.func, "found");
            let cmp = l.ctx.append_basic_block(l.func, "cmp");
            l.builder.build_conditional_branch(needle_end, found, cmp)?;
            l.builder.position_at_end(found);
            l.builder.build_store(result, i64t.const_int(1, false))?;
            l.builder.build_unconditional_branch(done)?;
            l.builder.position_at_end(cmp);
            if start + j >= hay_len {
                l.builder.build_unconditional_branch(done)?;
                let dead = l.ctx.append_basic_block(l.func, "dead");
                l.builder.position_at_end(dead);
                break;
            }
            let ch = byte(l, hay, start + j)?;
            let same = l
                .builder
                .build_int_compare(IntPredicate::EQ, ch, cn, "same")?;
            let cont = l.ctx.append_basic_block(l.func, "cont");
            l.builder.build_conditional_branch(same, cont, next_start)?;
            l.builder.position_at_end(cont);
        }
        l.builder.build_unconditional_branch(next_start)?;
        l.builder.position_at_end(next_start);
        let ch = byte(l, hay, start)?;
        let hay_end = l.builder.build_int_compare(
            IntPredicate::EQ,
            ch,
            l.ctx.i8_type().const_zero(),
            "hend",
        )?;
        let go = l.ctx.append_basic_block(l.func, "go");
        l.builder.build_conditional_branch(hay_end, done, go)?;
        l.builder.position_at_end(go);
    }
    l.builder.build_unconditional_branch(done)?;
    l.builder.position_at_end(done);
    let r = l.builder.build_load(i64t, result, "r")?.into_int_value();
    Ok(l.builder
        .build_int_compare(IntPredicate::NE, r, i64t.const_zero(), "found")?)
}

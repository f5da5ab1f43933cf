//! Strings in BPF: comparisons and `strlen` are fully unrolled byte loops (the lengths are
//! compile-time constants), so the verifier sees straight-line code with no back edges;
//! `str_concat` copies with the kernel's string-reading helper.

use crate::helpers::Helper;
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

/// The index where `needle` first occurs in `hay` (both NUL-terminated, at most the given
/// sizes), or -1; an empty needle is found at 0. Returns an i64. The search is unrolled over
/// every start position, so keep the sizes modest.
pub fn find<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    hay: PointerValue<'ctx>,
    hay_len: u32,
    needle: PointerValue<'ctx>,
    needle_len: u32,
) -> R<IntValue<'ctx>> {
    let i64t = l.ctx.i64_type();
    let result = l.alloca(8, "found_at")?;
    l.builder.build_store(result, i64t.const_all_ones())?;
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
            l.builder
                .build_store(result, i64t.const_int(u64::from(start), false))?;
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
    Ok(l.builder.build_load(i64t, result, "r")?.into_int_value())
}

/// Compares the first `count` bytes of `a` and `b`, never more than `len` (the smaller size):
/// 0 when they are the same, else the first differing byte of `a` minus that of `b`, both
/// unsigned, as C's memcmp. Returns an i64; the loop is unrolled over `len`.
pub fn memcmp<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    a: PointerValue<'ctx>,
    b: PointerValue<'ctx>,
    len: u32,
    count: IntValue<'ctx>,
) -> R<IntValue<'ctx>> {
    let i64t = l.ctx.i64_type();
    let result = l.alloca(8, "memcmp")?;
    l.builder.build_store(result, i64t.const_zero())?;
    let done = l.ctx.append_basic_block(l.func, "memcmp_done");
    for i in 0..len {
        let index = i64t.const_int(u64::from(i), false);
        let within = l
            .builder
            .build_int_compare(IntPredicate::ULT, index, count, "within")?;
        let compare = l.ctx.append_basic_block(l.func, "memcmp_byte");
        l.builder.build_conditional_branch(within, compare, done)?;
        l.builder.position_at_end(compare);
        let ca = l.builder.build_int_z_extend(byte(l, a, i)?, i64t, "ca")?;
        let cb = l.builder.build_int_z_extend(byte(l, b, i)?, i64t, "cb")?;
        let differ = l
            .builder
            .build_int_compare(IntPredicate::NE, ca, cb, "differ")?;
        let mismatch = l.ctx.append_basic_block(l.func, "memcmp_differ");
        let next = l.ctx.append_basic_block(l.func, "memcmp_next");
        l.builder.build_conditional_branch(differ, mismatch, next)?;
        l.builder.position_at_end(mismatch);
        let diff = l.builder.build_int_sub(ca, cb, "diff")?;
        l.builder.build_store(result, diff)?;
        l.builder.build_unconditional_branch(done)?;
        l.builder.position_at_end(next);
    }
    l.builder.build_unconditional_branch(done)?;
    l.builder.position_at_end(done);
    Ok(l.builder.build_load(i64t, result, "r")?.into_int_value())
}

/// The bytes before the first NUL of the string at `s`, which holds `len` bytes (all of them
/// when it has no NUL). Returns an i64.
pub fn length<'ctx>(l: &Lowerer<'_, 'ctx>, s: PointerValue<'ctx>, len: u32) -> R<IntValue<'ctx>> {
    let i64t = l.ctx.i64_type();
    let result = l.alloca(8, "strlen")?;
    l.builder
        .build_store(result, i64t.const_int(u64::from(len), false))?;
    let done = l.ctx.append_basic_block(l.func, "strlen_done");
    for i in 0..len {
        let c = byte(l, s, i)?;
        let end = l.builder.build_int_compare(
            IntPredicate::EQ,
            c,
            l.ctx.i8_type().const_zero(),
            "end",
        )?;
        let found = l.ctx.append_basic_block(l.func, "strlen_found");
        let next = l.ctx.append_basic_block(l.func, "strlen_next");
        l.builder.build_conditional_branch(end, found, next)?;
        l.builder.position_at_end(found);
        l.builder
            .build_store(result, i64t.const_int(u64::from(i), false))?;
        l.builder.build_unconditional_branch(done)?;
        l.builder.position_at_end(next);
    }
    l.builder.build_unconditional_branch(done)?;
    l.builder.position_at_end(done);
    Ok(l.builder.build_load(i64t, result, "len")?.into_int_value())
}

/// A new string of `out_len` bytes holding the string at `a` (of `la` bytes) followed by the
/// one at `b` (of `lb` bytes). `bpf_probe_read_kernel_str` copies `a` and says how long it
/// was; `b` is copied over its NUL. The offset is clamped to `a`'s bytes so the verifier can
/// bound the second write.
pub fn concat<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    a: PointerValue<'ctx>,
    la: u32,
    b: PointerValue<'ctx>,
    lb: u32,
    out_len: u32,
) -> R<PointerValue<'ctx>> {
    let i64t = l.ctx.i64_type();
    // The second copy starts at most at byte la - 1 and writes at most lb bytes.
    let size = out_len.max((la + lb).saturating_sub(1));
    let out = l.alloca(size, "concat")?;
    l.memset(out, size)?;
    let copied = l.helper(
        Helper::ProbeReadKernelStr,
        &[
            out.into(),
            i64t.const_int(u64::from(la), false).into(),
            a.into(),
        ],
    )?;
    // `copied` counts the NUL, or is a negative errno: the end of `a` is at copied - 1,
    // within 0..la.
    let end = l
        .builder
        .build_int_sub(copied, i64t.const_int(1, false), "end")?;
    let last = i64t.const_int(u64::from(la.saturating_sub(1)), false);
    let below = l
        .builder
        .build_int_compare(IntPredicate::SLT, end, i64t.const_zero(), "below")?;
    let end = l
        .builder
        .build_select(below, i64t.const_zero(), end, "end0")?
        .into_int_value();
    let above = l
        .builder
        .build_int_compare(IntPredicate::SGT, end, last, "above")?;
    let end = l
        .builder
        .build_select(above, last, end, "end1")?
        .into_int_value();
    // LLVM would turn `out + end` into `out | end`, knowing `out`'s alignment and `end`'s
    // bounds, and the verifier refuses bitwise operations on pointers: pass the pointer
    // through a volatile stack slot, so its alignment is unknown to LLVM (the verifier
    // still knows the slot holds a stack pointer).
    let hidden = l.alloca(8, "concat_base")?;
    let store = l.builder.build_store(hidden, out)?;
    let _ = store.set_volatile(true);
    let base = l
        .builder
        .build_load(l.ctx.ptr_type(Default::default()), hidden, "base")?
        .into_pointer_value();
    if let Some(inst) = base.as_instruction() {
        let _ = inst.set_volatile(true);
    }
    let tail = l.offset_by(base, end)?;
    l.helper(
        Helper::ProbeReadKernelStr,
        &[
            tail.into(),
            i64t.const_int(u64::from(lb), false).into(),
            b.into(),
        ],
    )?;
    Ok(out)
}

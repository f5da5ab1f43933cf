//! Strings in BPF: comparisons, `strlen`, `memcmp` and the search behind `strcontains` are
//! byte loops in static functions of the object ([`Subprogram`]), called with the strings'
//! sizes, which the verifier walks byte by byte at each call; `str_concat` copies with the
//! kernel's string-reading helper, and [`read`] is how `str()` and `__data_loc` fields read a
//! string into a buffer of `max_strlen` characters.

use crate::helpers::Helper;
use crate::ir::Lowerer;
use crate::CodegenError;
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, IntValue, PhiValue, PointerValue};
use inkwell::IntPredicate;

type R<T> = Result<T, CodegenError>;

/// A static function of the object that codegen writes itself and calls like a helper.
/// `noinline`: inlined, its loop would keep the caller's values (the scratch slots' addresses,
/// which LLVM computes up front) alive across it, and LLVM spills them to the 512-byte stack.
/// The verifier checks its body at each call with the caller's arguments, so the lengths the
/// caller passes are known constants there and bound every loop.
struct Subprogram<'ctx> {
    ctx: &'ctx Context,
    b: Builder<'ctx>,
    func: FunctionValue<'ctx>,
}

impl<'ctx> Subprogram<'ctx> {
    /// The module's function `name`, declared and written by `body` on its first use.
    /// `params` name its parameters: pointers are `ptr`, the rest i64.
    fn get(
        l: &Lowerer<'_, 'ctx>,
        name: &str,
        params: &[(&str, bool)],
        body: impl FnOnce(&Subprogram<'ctx>) -> R<()>,
    ) -> R<FunctionValue<'ctx>> {
        if let Some(f) = l.module.get_function(name) {
            return Ok(f);
        }
        let types: Vec<BasicMetadataTypeEnum> = params
            .iter()
            .map(|(_, ptr)| {
                if *ptr {
                    l.ptr_ty().into()
                } else {
                    l.i64().into()
                }
            })
            .collect();
        let names: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
        let (func, _) = l.static_function(name, &types, &names);
        // `willreturn` (every loop here is bounded): a call whose result goes unused is then
        // dead, and removed. Otherwise LLVM keeps the call but makes the function return
        // nothing, and a BPF function that returns nothing exits with whatever R0 last held,
        // which the verifier refuses when it points into the function's own stack ("cannot
        // return stack pointer to the caller", `strcontains(...)` as a statement).
        for attr in ["noinline", "willreturn"] {
            let kind = Attribute::get_named_enum_kind_id(attr);
            func.add_attribute(AttributeLoc::Function, l.ctx.create_enum_attribute(kind, 0));
        }
        let sub = Subprogram {
            ctx: l.ctx,
            b: l.ctx.create_builder(),
            func,
        };
        sub.b
            .position_at_end(l.ctx.append_basic_block(func, "entry"));
        body(&sub)?;
        Ok(func)
    }

    fn int(&self, i: u32) -> R<IntValue<'ctx>> {
        self.func
            .get_nth_param(i)
            .map(|p| p.into_int_value())
            .ok_or_else(|| CodegenError::Internal(format!("string function without parameter {i}")))
    }

    fn ptr(&self, i: u32) -> R<PointerValue<'ctx>> {
        self.func
            .get_nth_param(i)
            .map(|p| p.into_pointer_value())
            .ok_or_else(|| CodegenError::Internal(format!("string function without parameter {i}")))
    }

    fn i64c(&self, v: u64) -> IntValue<'ctx> {
        self.ctx.i64_type().const_int(v, false)
    }

    /// The byte at `p + i`, zero-extended to an i64.
    fn byte(&self, p: PointerValue<'ctx>, i: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let at = crate::llvm::byte_offset(&self.b, self.ctx, p, i)?;
        let c = self
            .b
            .build_load(self.ctx.i8_type(), at, "c")?
            .into_int_value();
        Ok(self.b.build_int_z_extend(c, self.ctx.i64_type(), "c64")?)
    }

    /// Returns `v` when `cond` holds, else goes on in a new block.
    fn return_if(&self, cond: IntValue<'ctx>, v: IntValue<'ctx>) -> R<()> {
        let ret = self.ctx.append_basic_block(self.func, "ret");
        let on = self.ctx.append_basic_block(self.func, "on");
        self.b.build_conditional_branch(cond, ret, on)?;
        self.b.position_at_end(ret);
        self.b.build_return(Some(&v))?;
        self.b.position_at_end(on);
        Ok(())
    }

    fn cmp(&self, p: IntPredicate, a: IntValue<'ctx>, b: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        Ok(self.b.build_int_compare(p, a, b, "cmp")?)
    }

    /// Starts `while i < n`: the builder goes on in the body, with the index; `close` ends the
    /// body, and the builder goes on after the loop. With `carry`, the loop also carries a
    /// value from that start (`SubLoop::carried`), which `close` takes the next of.
    fn open(&self, n: IntValue<'ctx>, carry: Option<IntValue<'ctx>>) -> R<SubLoop<'ctx>> {
        let pre = self
            .b
            .get_insert_block()
            .ok_or_else(|| CodegenError::Internal("string loop outside a block".into()))?;
        let head = self.ctx.append_basic_block(self.func, "loop");
        let body = self.ctx.append_basic_block(self.func, "body");
        let after = self.ctx.append_basic_block(self.func, "after");
        self.b.build_unconditional_branch(head)?;
        self.b.position_at_end(head);
        let phi = self.b.build_phi(self.ctx.i64_type(), "i")?;
        phi.add_incoming(&[(&self.i64c(0), pre)]);
        let carried = match carry {
            Some(v) => {
                let c = self.b.build_phi(self.ctx.i64_type(), "carried")?;
                c.add_incoming(&[(&v, pre)]);
                Some(c)
            }
            None => None,
        };
        let i = phi.as_basic_value().into_int_value();
        let more = self.cmp(IntPredicate::ULT, i, n)?;
        self.b.build_conditional_branch(more, body, after)?;
        self.b.position_at_end(body);
        Ok(SubLoop {
            i,
            phi,
            carried,
            head,
            after,
        })
    }
}

/// A loop of a [`Subprogram`] under construction.
struct SubLoop<'ctx> {
    i: IntValue<'ctx>,
    phi: PhiValue<'ctx>,
    carried: Option<PhiValue<'ctx>>,
    head: BasicBlock<'ctx>,
    after: BasicBlock<'ctx>,
}

impl<'ctx> SubLoop<'ctx> {
    /// The carried value as this iteration (or, after the loop, the last) sees it.
    fn carried(&self) -> R<IntValue<'ctx>> {
        self.carried
            .map(|c| c.as_basic_value().into_int_value())
            .ok_or_else(|| CodegenError::Internal("string loop carries nothing".into()))
    }

    /// Ends the body (carrying `next_carried` to the next iteration, if the loop carries a
    /// value); the builder goes on after the loop.
    fn close(self, s: &Subprogram<'ctx>, next_carried: Option<IntValue<'ctx>>) -> R<()> {
        let latch =
            s.b.get_insert_block()
                .ok_or_else(|| CodegenError::Internal("string loop outside a block".into()))?;
        let next = s.b.build_int_add(self.i, s.i64c(1), "next")?;
        s.b.build_unconditional_branch(self.head)?;
        self.phi.add_incoming(&[(&next, latch)]);
        match (self.carried, next_carried) {
            (Some(c), Some(v)) => c.add_incoming(&[(&v, latch)]),
            (None, None) => {}
            _ => {
                return Err(CodegenError::Internal(
                    "string loop closed without its carried value".into(),
                ))
            }
        }
        s.b.position_at_end(self.after);
        Ok(())
    }
}

/// Calls `func` with `args` and gives its i64 result.
fn call<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    func: FunctionValue<'ctx>,
    args: &[BasicMetadataValueEnum<'ctx>],
) -> R<IntValue<'ctx>> {
    let call = l.builder.build_call(func, args, "strcall")?;
    match call.try_as_basic_value() {
        inkwell::values::ValueKind::Basic(v) => Ok(v.into_int_value()),
        inkwell::values::ValueKind::Instruction(_) => Err(CodegenError::Internal(
            "string function without a result".into(),
        )),
    }
}

/// Whether the NUL-terminated strings at `a` and `b` are equal in their first `len` bytes.
/// Returns an i1.
pub fn equal<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    a: PointerValue<'ctx>,
    b: PointerValue<'ctx>,
    len: u32,
) -> R<IntValue<'ctx>> {
    // rbt_str_equal(a, b, n): 1 when the strings match up to a NUL or n bytes, else 0.
    let func = Subprogram::get(
        l,
        "rbt_str_equal",
        &[("a", true), ("b", true), ("n", false)],
        |s| {
            let (a, b, n) = (s.ptr(0)?, s.ptr(1)?, s.int(2)?);
            let lp = s.open(n, None)?;
            let (ca, cb) = (s.byte(a, lp.i)?, s.byte(b, lp.i)?);
            s.return_if(s.cmp(IntPredicate::NE, ca, cb)?, s.i64c(0))?;
            s.return_if(s.cmp(IntPredicate::EQ, ca, s.i64c(0))?, s.i64c(1))?;
            lp.close(s, None)?;
            s.b.build_return(Some(&s.i64c(1)))?;
            Ok(())
        },
    )?;
    let r = call(
        l,
        func,
        &[a.into(), b.into(), l.const_u64(u64::from(len)).into()],
    )?;
    Ok(l.builder
        .build_int_compare(IntPredicate::NE, r, l.const_u64(0), "eq")?)
}

/// The index where `needle` first occurs in `hay` (both NUL-terminated, at most the given
/// sizes), or -1; an empty needle is found at 0. Returns an i64. Searches longer than
/// [`lang::check::SEARCH_STEPS`] pairs are the kernel's `bpf_strnstr`.
///
/// The needle is copied first into a zeroed buffer, so that every byte after its end is 0.
/// Then a start matches when, for each of the needle's bytes `c` and the haystack's `h` there,
/// `(h ^ c) * c` is 0 (the loop ORs them together): a byte past the needle's end counts for
/// nothing, and no byte is a branch. The verifier walks the search once per (start, byte) pair but keeps only two
/// branches per start pending (it gives up past 8192 pending, which a branch per byte
/// reached with a 16-byte needle in a 1024-byte string).
pub fn find<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    hay: PointerValue<'ctx>,
    hay_len: u32,
    needle: PointerValue<'ctx>,
    needle_len: u32,
) -> R<IntValue<'ctx>> {
    if needle_len == 0 || hay_len == 0 {
        return Ok(l.const_u64(if needle_len == 0 { 0 } else { u64::MAX }));
    }
    let func = Subprogram::get(
        l,
        "rbt_str_find",
        &[
            ("hay", true),
            ("hay_len", false),
            ("needle", true),
            ("needle_len", false),
        ],
        |s| {
            let (hay, hay_len) = (s.ptr(0)?, s.int(1)?);
            let (needle, needle_len) = (s.ptr(2)?, s.int(3)?);
            let starts = s.open(hay_len, None)?;
            let start = starts.i;
            // Compare the needle's bytes that fit before the haystack's last byte.
            let room = s.b.build_int_sub(hay_len, start, "room")?;
            let short = s.cmp(IntPredicate::ULT, room, needle_len)?;
            let fit =
                s.b.build_select(short, room, needle_len, "fit")?
                    .into_int_value();
            let bytes = s.open(fit, Some(s.i64c(0)))?;
            let j = bytes.i;
            let k = s.b.build_int_add(start, j, "k")?;
            let (h, c) = (s.byte(hay, k)?, s.byte(needle, j)?);
            let x = s.b.build_xor(h, c, "x")?;
            let weighed = s.b.build_int_mul(x, c, "w")?;
            let sum = s.b.build_or(bytes.carried()?, weighed, "sum")?;
            let done = bytes.carried()?;
            bytes.close(s, Some(sum))?;
            // A needle that goes on past the haystack matches only if it ends there.
            let past = s.ctx.append_basic_block(s.func, "past");
            let judge = s.ctx.append_basic_block(s.func, "judge");
            let here =
                s.b.get_insert_block()
                    .ok_or_else(|| CodegenError::Internal("string loop outside a block".into()))?;
            s.b.build_conditional_branch(short, past, judge)?;
            s.b.position_at_end(past);
            let beyond = s.byte(needle, fit)?;
            let with_beyond = s.b.build_or(done, beyond, "beyond")?;
            s.b.build_unconditional_branch(judge)?;
            s.b.position_at_end(judge);
            let total = s.b.build_phi(s.ctx.i64_type(), "total")?;
            total.add_incoming(&[(&done, here), (&with_beyond, past)]);
            let total = total.as_basic_value().into_int_value();
            s.return_if(s.cmp(IntPredicate::EQ, total, s.i64c(0))?, start)?;
            // No match here: none later either once the haystack ended at this start.
            let first = s.byte(hay, start)?;
            s.return_if(s.cmp(IntPredicate::EQ, first, s.i64c(0))?, s.i64c(u64::MAX))?;
            starts.close(s, None)?;
            s.b.build_return(Some(&s.i64c(u64::MAX)))?;
            Ok(())
        },
    )?;
    let padded = l.alloca(needle_len, "needle")?;
    l.memset(padded, needle_len)?;
    l.helper(
        Helper::ProbeReadKernelStr,
        &[
            padded.into(),
            l.const_u64(u64::from(needle_len)).into(),
            needle.into(),
        ],
    )?;
    // Longer than the verifier walks: the checker let it through because the kernel has
    // its own search, which gets the NUL-terminated copy.
    if u64::from(hay_len) * u64::from(needle_len) > lang::check::SEARCH_STEPS {
        return crate::kfuncs::strnstr(l, hay, padded, hay_len);
    }
    call(
        l,
        func,
        &[
            hay.into(),
            l.const_u64(u64::from(hay_len)).into(),
            padded.into(),
            l.const_u64(u64::from(needle_len)).into(),
        ],
    )
}

/// Compares the first `count` bytes of `a` and `b`, never more than `len` (the smaller size):
/// 0 when they are the same, else the first differing byte of `a` minus that of `b`, both
/// unsigned, as C's memcmp. Returns an i64.
pub fn memcmp<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    a: PointerValue<'ctx>,
    b: PointerValue<'ctx>,
    len: u32,
    count: IntValue<'ctx>,
) -> R<IntValue<'ctx>> {
    let func = Subprogram::get(
        l,
        "rbt_memcmp",
        &[("a", true), ("b", true), ("n", false), ("count", false)],
        |s| {
            let (a, b, n, count) = (s.ptr(0)?, s.ptr(1)?, s.int(2)?, s.int(3)?);
            let lp = s.open(n, None)?;
            s.return_if(s.cmp(IntPredicate::UGE, lp.i, count)?, s.i64c(0))?;
            let (ca, cb) = (s.byte(a, lp.i)?, s.byte(b, lp.i)?);
            let diff = s.b.build_int_sub(ca, cb, "diff")?;
            s.return_if(s.cmp(IntPredicate::NE, ca, cb)?, diff)?;
            lp.close(s, None)?;
            s.b.build_return(Some(&s.i64c(0)))?;
            Ok(())
        },
    )?;
    call(
        l,
        func,
        &[
            a.into(),
            b.into(),
            l.const_u64(u64::from(len)).into(),
            count.into(),
        ],
    )
}

/// Reads the string at `src` with `helper` into a cleared buffer of `size` bytes, as
/// `str()` does. With `n`, at most n bytes with the terminator (n - 1 characters, as bpftrace
/// 0.27), bounded by the buffer. Without it, the buffer's characters are all but room for the
/// trailer (`str_trunc_trailer`) and the terminator, and a string that fills them is cut
/// there and marked with the trailer.
pub fn read<'ctx>(
    l: &mut Lowerer<'_, 'ctx>,
    src: PointerValue<'ctx>,
    size: u32,
    helper: Helper,
    n: Option<IntValue<'ctx>>,
) -> R<PointerValue<'ctx>> {
    let i64t = l.ctx.i64_type();
    let slot = l.alloca(size.max(8), "str")?;
    l.memset(slot, size.max(8))?;
    let max = i64t.const_int(u64::from(size), false);
    let trailer = l.globals.str_trailer.clone();
    let chars = u64::from(size).saturating_sub(trailer.len() as u64 + 1);
    let cut = n.is_none() && !trailer.is_empty() && chars > 0;
    let len = match n {
        Some(n) => {
            let small = l
                .builder
                .build_int_compare(IntPredicate::ULT, n, max, "small")?;
            l.builder
                .build_select(small, n, max, "len")?
                .into_int_value()
        }
        None if cut => i64t.const_int(chars + 1, false),
        None => max,
    };
    let read = l.helper(helper, &[slot.into(), len.into(), src.into()])?;
    if cut {
        // The helper returns the bytes it wrote with the terminator. When they fill the
        // read, the trailer replaces that terminator; otherwise the bytes after the string
        // stay zero (the buffer was cleared), so no branch is needed.
        let full = l.builder.build_int_compare(
            IntPredicate::EQ,
            read,
            i64t.const_int(chars + 1, false),
            "full",
        )?;
        let i8t = l.ctx.i8_type();
        for (i, b) in trailer.iter().enumerate() {
            let byte = l.builder.build_select(
                full,
                i8t.const_int(u64::from(*b), false),
                i8t.const_zero(),
                "trailer",
            )?;
            let at = l.offset(slot, chars + i as u64)?;
            l.builder.build_store(at, byte)?;
        }
    }
    Ok(slot)
}

/// The bytes before the first NUL of the string at `s`, which holds `len` bytes (all of them
/// when it has no NUL). Returns an i64. Strings longer than [`lang::check::STRING_STEPS`]
/// are measured by the kernel's `bpf_strnlen`.
pub fn length<'ctx>(l: &Lowerer<'_, 'ctx>, s: PointerValue<'ctx>, len: u32) -> R<IntValue<'ctx>> {
    if u64::from(len) > lang::check::STRING_STEPS {
        return crate::kfuncs::strnlen(l, s, len);
    }
    let func = Subprogram::get(l, "rbt_strlen", &[("s", true), ("n", false)], |s| {
        let (p, n) = (s.ptr(0)?, s.int(1)?);
        let lp = s.open(n, None)?;
        let c = s.byte(p, lp.i)?;
        s.return_if(s.cmp(IntPredicate::EQ, c, s.i64c(0))?, lp.i)?;
        lp.close(s, None)?;
        s.b.build_return(Some(&n))?;
        Ok(())
    })?;
    call(l, func, &[s.into(), l.const_u64(u64::from(len)).into()])
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

//! The IR builder every lowering module builds on, as bpftrace's `IRBuilderBPF` is: the
//! state of the BPF function being built ([`Lowerer`]), integer and pointer types, stack and
//! per-CPU scratch slots, byte offsets, BPF helper calls, typed loads and stores, and the
//! debug location of the script text being lowered. Integers live in i64 registers (as in
//! bpftrace) and are truncated or extended only when stored to or loaded from memory of a
//! narrower type; everything bigger than an integer (strings, tuples, records) lives in stack
//! or scratch memory and is passed around as a pointer.
//!
//! Layers: `ir` ← `records` (ring buffer records, counters, probe reads) ← builtin lowering
//! (`calls`, `context`, `strings`, `hist`, `callbacks`) ← `lower`, the statement and
//! expression walker. Builtin lowering evaluates its arguments through the [`Walk`] trait
//! declared here and implemented by `lower`, so no module imports one above it.

use crate::debug::Locator;
use crate::helpers::Helper;
use crate::CodegenError;
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::types::{BasicMetadataTypeEnum, BasicType, BasicTypeEnum};
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, GlobalValue, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};
use lang::ast::Span;
use lang::hir::{self, Expr, Stmt};
use stdlib::abi;
use stdlib::manifest::{Event, MapSpec};
use stdlib::types::{Aggregation, StackSource, Type};

/// A lowered expression: an integer in a register, or a pointer to memory holding the value.
#[derive(Clone, Copy)]
pub enum Val<'ctx> {
    Int(IntValue<'ctx>),
    Mem(PointerValue<'ctx>),
}

/// The globals a probe function refers to.
pub struct Globals<'ctx> {
    pub events: GlobalValue<'ctx>,
    pub lost: GlobalValue<'ctx>,
    pub map_full: GlobalValue<'ctx>,
    pub state: GlobalValue<'ctx>,
    pub stacks: GlobalValue<'ctx>,
    /// Per-CPU scratch memory for values too big for the 512-byte stack.
    pub scratch: GlobalValue<'ctx>,
    /// Bytes of `scratch` a probe may use, and whether it is an array with one entry per CPU
    /// (read at the CPU's index) rather than a one-entry per-CPU array: per-CPU values stop
    /// at 32 KiB, which long strings outgrow.
    pub scratch_bytes: u32,
    pub scratch_by_cpu: bool,
    pub maps: Vec<GlobalValue<'ctx>>,
    /// The perf event array `skboutput()` sends packets through; only a script that calls
    /// it has one.
    pub skb_output: Option<GlobalValue<'ctx>>,
    /// `-k`: where failed helper calls are reported, if asked.
    pub helper_errors: Option<HelperErrors>,
    /// What `str()` writes at the end of a string it cut short; empty for none.
    pub str_trailer: Vec<u8>,
    /// The script text of each map update, by its slot in `map_full`.
    pub update_sites: std::cell::RefCell<Vec<Span>>,
    /// The `.rodata` array of i64 that `ExprKind::RunValue` reads (only compiled files
    /// have one).
    pub run_values: Option<GlobalValue<'ctx>>,
}

/// `-k`: each checked helper call gets an event of its own (after the checker's events)
/// carrying the span of the script text that made it, so user space can say which text
/// failed.
pub struct HelperErrors {
    /// The id of the first of these events: the checker's events come first.
    pub first_id: u32,
    pub events: std::cell::RefCell<Vec<Event>>,
}

impl HelperErrors {
    /// Registers a failure site of `helper` at `span`; returns its event id.
    pub(crate) fn site(&self, helper: &str, span: Span) -> hir::EventId {
        let mut events = self.events.borrow_mut();
        events.push(Event::HelperError {
            helper: helper.to_string(),
            start: span.start,
            end: span.end,
        });
        self.first_id + events.len() as u32 - 1
    }
}

/// The BPF function being built and what lowering it needs to know.
pub struct Lowerer<'a, 'ctx> {
    pub ctx: &'ctx Context,
    pub module: &'a Module<'ctx>,
    pub builder: Builder<'ctx>,
    pub func: FunctionValue<'ctx>,
    pub globals: &'a Globals<'ctx>,
    pub script: &'a hir::Script,
    pub probe: &'a hir::Probe,
    /// Script locations for the instructions (BTF line info).
    pub(crate) locator: Locator<'a, 'ctx>,
    /// The script text being lowered (for `-k` warnings).
    pub(crate) span: std::cell::Cell<Span>,
    /// Where each variable lives, by `VarId`: the probe's own slots, or in a `for` callback
    /// the caller's slots of the variables the body captures (`None` for the others).
    pub(crate) vars: Vec<Option<PointerValue<'ctx>>>,
    /// (continue target, break target) of enclosing loops in this function.
    pub(crate) loops: Vec<(BasicBlock<'ctx>, BasicBlock<'ctx>)>,
    /// The probe's context argument (`ctx`); a callback gets it from its caller.
    pub(crate) probe_ctx: Option<PointerValue<'ctx>>,
    /// Set when this function is the callback of a `for` body.
    pub(crate) callback: Option<Callback<'ctx>>,
    /// Stack slots, reused across statements so a long probe stays within 512 bytes.
    slots: std::cell::RefCell<SlotPool<'ctx>>,
    entry: BasicBlock<'ctx>,
    /// Runs after the entry block: looks up the scratch map the first time a large slot is
    /// needed (nothing, for probes that never need one).
    prologue: BasicBlock<'ctx>,
    /// Where scratch slot addresses are computed (dominates the whole body), once looked up.
    scratch: std::cell::RefCell<Option<(PointerValue<'ctx>, BasicBlock<'ctx>)>>,
}

/// What lowering a `for` body as a callback (of `bpf_for_each_map_elem` or `bpf_loop`) changes:
/// `break` and `continue` outside an inner loop return 1 (stop) and 0 (next element), and
/// `return` also sets the caller's flag so the caller returns from the probe too.
#[derive(Clone, Copy)]
pub struct Callback<'ctx> {
    /// Two i64s in the caller's frame: non-zero once the body executed `return`, then the
    /// value it returned.
    pub returned: PointerValue<'ctx>,
}

/// The biggest copy or zeroing LLVM expands into loads and stores (its BPF backend stops at
/// 128 stores of 8 bytes); bigger ones go through a helper call.
pub(crate) const INLINE_COPY_BYTES: u32 = 1024;

/// The scratch budget is the checker's: it rejects a statement that would not fit.
pub use lang::check::scratch::{SCRATCH_BYTES, SCRATCH_MIN};

type R<T> = Result<T, CodegenError>;

/// What builtin lowering needs from the statement and expression walker (`lower`, which
/// implements it): evaluating its arguments and, for `for` bodies, statements.
pub trait Walk<'ctx> {
    /// Lowers an expression.
    fn expr(&mut self, e: &Expr) -> R<Val<'ctx>>;
    /// Lowers an expression that must be an integer.
    fn int(&mut self, e: &Expr) -> R<IntValue<'ctx>>;
    /// The address of a non-register value (copying registers into memory if needed).
    fn mem(&mut self, e: &Expr) -> R<PointerValue<'ctx>>;
    /// Lowers statements; each statement's temporary slots are free again after it.
    fn stmts(&mut self, stmts: &[Stmt]) -> R<()>;
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    pub fn new(
        ctx: &'ctx Context,
        module: &'a Module<'ctx>,
        func: FunctionValue<'ctx>,
        globals: &'a Globals<'ctx>,
        script: &'a hir::Script,
        probe: &'a hir::Probe,
        locator: Locator<'a, 'ctx>,
    ) -> Self {
        let builder = ctx.create_builder();
        // entry: stack slots only; prologue: the scratch lookup when needed; then the body.
        let entry = ctx.append_basic_block(func, "entry");
        let prologue = ctx.append_basic_block(func, "prologue");
        let body = ctx.append_basic_block(func, "start");
        builder.position_at_end(entry);
        let _ = builder.build_unconditional_branch(prologue);
        builder.position_at_end(prologue);
        let _ = builder.build_unconditional_branch(body);
        builder.position_at_end(body);
        Lowerer {
            ctx,
            module,
            builder,
            func,
            globals,
            script,
            probe,
            span: std::cell::Cell::new(probe.span),
            locator,
            vars: Vec::new(),
            loops: Vec::new(),
            probe_ctx: None,
            callback: None,
            slots: Default::default(),
            entry,
            prologue,
            scratch: Default::default(),
        }
    }

    pub(crate) fn i64(&self) -> inkwell::types::IntType<'ctx> {
        self.ctx.i64_type()
    }

    pub(crate) fn ptr_ty(&self) -> inkwell::types::PointerType<'ctx> {
        self.ctx.ptr_type(AddressSpace::default())
    }

    /// The integer type of `bytes` bytes (1, 2, 4 or 8).
    pub fn int_ty(&self, bytes: u32) -> inkwell::types::IntType<'ctx> {
        match bytes {
            1 => self.ctx.i8_type(),
            2 => self.ctx.i16_type(),
            3 | 4 => self.ctx.i32_type(),
            _ => self.ctx.i64_type(),
        }
    }

    pub(crate) fn const_u64(&self, v: u64) -> IntValue<'ctx> {
        self.i64().const_int(v, false)
    }

    /// A stack slot of at least `size` bytes, aligned to 8. Slots live in the entry block so
    /// the verifier sees a fixed frame; a slot freed by [`Self::release_slots`] is handed out
    /// again, so temporaries of different statements share stack space.
    pub fn alloca(&self, size: u32, name: &str) -> R<PointerValue<'ctx>> {
        let words = size.div_ceil(8).max(1);
        let in_scratch = words * 8 >= SCRATCH_MIN;
        let mut pool = self.slots.borrow_mut();
        let best = pool
            .free
            .iter()
            .enumerate()
            .filter(|(_, s)| s.words >= words && s.scratch == in_scratch)
            .min_by_key(|(_, s)| s.words)
            .map(|(i, _)| i);
        if let Some(i) = best {
            let slot = pool.free.swap_remove(i);
            pool.used.push(slot);
            return Ok(slot.ptr);
        }
        let ptr = if in_scratch {
            let offset = pool.scratch_top;
            let most = self.globals.scratch_bytes;
            if offset + words * 8 > most {
                return Err(CodegenError::Internal(format!(
                    "a statement needs more than {most} bytes of temporary values"
                )));
            }
            pool.scratch_top += words * 8;
            let (base, block) = self.scratch_base()?;
            let b = self.ctx.create_builder();
            match block.get_terminator() {
                Some(t) => b.position_before(&t),
                None => b.position_at_end(block),
            }
            crate::llvm::byte_offset(&b, self.ctx, base, self.const_u64(u64::from(offset)))?
        } else {
            self.stack_words(words, name)?
        };
        pool.used.push(Slot {
            words,
            ptr,
            scratch: in_scratch,
        });
        Ok(ptr)
    }

    /// The scratch map's value for this CPU, looked up once in the prologue (which then
    /// returns 0 if the lookup failed, as it never does for a one-entry array). Returns the
    /// address and the block where slot addresses are computed.
    fn scratch_base(&self) -> R<(PointerValue<'ctx>, BasicBlock<'ctx>)> {
        if let Some(s) = *self.scratch.borrow() {
            return Ok(s);
        }
        let b = self.ctx.create_builder();
        if let Some(t) = self.prologue.get_terminator() {
            t.erase_from_basic_block();
        }
        b.position_at_end(self.prologue);
        let key = {
            // The key is a small stack slot; allocate it directly (the pool is borrowed).
            let kb = self.ctx.create_builder();
            match self.entry.get_first_instruction() {
                Some(first) => kb.position_before(&first),
                None => kb.position_at_end(self.entry),
            }
            kb.build_alloca(self.ctx.i32_type(), "scratch_key")?
        };
        let index = if self.globals.scratch_by_cpu {
            let cpu =
                self.call_helper(&b, Helper::GetSmpProcessorId, &[], self.i64().into(), "cpu")?;
            match cpu.try_as_basic_value() {
                inkwell::values::ValueKind::Basic(v) => {
                    b.build_int_truncate(v.into_int_value(), self.ctx.i32_type(), "cpu32")?
                }
                inkwell::values::ValueKind::Instruction(_) => {
                    return Err(CodegenError::Internal(
                        "get_smp_processor_id returned nothing".into(),
                    ))
                }
            }
        } else {
            self.ctx.i32_type().const_zero()
        };
        b.build_store(key, index)?;
        let base = self.helper_ptr_with(
            &b,
            Helper::MapLookupElem,
            &[self.globals.scratch.as_pointer_value().into(), key.into()],
            "scratch_base",
        )?;
        let is_null = b.build_is_null(base, "no_scratch")?;
        let fail = self
            .ctx
            .insert_basic_block_after(self.prologue, "no_scratch");
        let ok = self.ctx.insert_basic_block_after(fail, "scratch_ok");
        b.build_conditional_branch(is_null, fail, ok)?;
        b.position_at_end(fail);
        b.build_return(Some(&self.const_u64(0)))?;
        b.position_at_end(ok);
        let start = ok
            .get_next_basic_block()
            .ok_or_else(|| CodegenError::Internal("probe without a body block".into()))?;
        b.build_unconditional_branch(start)?;
        *self.scratch.borrow_mut() = Some((base, ok));
        Ok((base, ok))
    }

    /// The slots in use: pass it to [`Self::release_slots`] after a statement.
    pub(crate) fn slot_mark(&self) -> SlotMark {
        let pool = self.slots.borrow();
        SlotMark {
            used: pool.used.len(),
            scratch_top: pool.scratch_top,
        }
    }

    /// Frees every slot taken since `mark` (the temporaries of the statement just lowered).
    /// Stack slots go back to the pool, to be handed out again best-fit. Scratch memory is a
    /// stack instead: its top goes back to where it was at `mark`, so the next statement has
    /// all of it again, whatever the sizes of this one's values were. (Handing out freed
    /// scratch slots best-fit fragmented it: fifteen 992-byte values, then thirty of 496
    /// bytes, needed 22.5 KiB although each statement fits the 16 KiB the checker allows a
    /// statement.) Every scratch slot taken since `mark` lies above its top: the pool never
    /// holds a free scratch slot, since each release drops them.
    pub(crate) fn release_slots(&self, mark: SlotMark) {
        let mut pool = self.slots.borrow_mut();
        let freed: Vec<_> = pool.used.drain(mark.used..).collect();
        pool.free.extend(freed.into_iter().filter(|s| !s.scratch));
        pool.scratch_top = mark.scratch_top;
    }

    /// Bytes of scratch memory handed out so far. A callback continues where its caller's
    /// slots end, and the caller continues after the callback's, so the memory of a loop
    /// body never overlaps values its caller still holds.
    pub(crate) fn scratch_top(&self) -> u32 {
        self.slots.borrow().scratch_top
    }

    pub(crate) fn set_scratch_top(&self, top: u32) {
        self.slots.borrow_mut().scratch_top = top;
    }

    /// Declares `long name(params)`, a static BPF function of the object (a callback or one of
    /// codegen's own string functions): internal, so LLVM puts it in `.text` and libbpf loads
    /// it as a subprogram of each program that calls it; `nounwind`; described for BTF with
    /// its parameters' `names`. Returns it and the locator for its instructions.
    pub(crate) fn static_function(
        &self,
        name: &str,
        params: &[BasicMetadataTypeEnum<'ctx>],
        names: &[&str],
    ) -> (FunctionValue<'ctx>, Locator<'a, 'ctx>) {
        let fn_ty = self.i64().fn_type(params, false);
        let func = self
            .module
            .add_function(name, fn_ty, Some(inkwell::module::Linkage::Internal));
        let nounwind = inkwell::attributes::Attribute::get_named_enum_kind_id("nounwind");
        func.add_attribute(
            inkwell::attributes::AttributeLoc::Function,
            self.ctx.create_enum_attribute(nounwind, 0),
        );
        let locator = self
            .locator
            .for_function(func, names, true, self.probe.span);
        (func, locator)
    }

    /// An array of `words` i64 in this function's stack frame, never in scratch memory (what
    /// the verifier requires of a callback's context, which holds pointers).
    pub(crate) fn stack_words(&self, words: u32, name: &str) -> R<PointerValue<'ctx>> {
        let b = self.ctx.create_builder();
        match self.entry.get_first_instruction() {
            Some(first) => b.position_before(&first),
            None => b.position_at_end(self.entry),
        }
        let p = b.build_alloca(self.i64().array_type(words), name)?;
        if let Some(inst) = p.as_instruction() {
            let _ = inst.set_alignment(8);
        }
        Ok(p)
    }

    /// Zeroes `size` bytes at the 8-aligned `ptr`. LLVM's BPF backend expands a memset into
    /// at most 128 stores and has no library call to fall back on, so a bigger one (a long
    /// string's buffer, in scratch memory) asks the kernel's read helper to copy from address
    /// 0: the read fails and the helper zeroes its destination, in one call.
    pub(crate) fn memset(&self, ptr: PointerValue<'ctx>, size: u32) -> R<()> {
        self.memset_aligned(ptr, size, 8)
    }

    /// [`Lowerer::memset`] of memory aligned to `align` bytes only (a power of two ≤ 8).
    pub(crate) fn memset_aligned(&self, ptr: PointerValue<'ctx>, size: u32, align: u32) -> R<()> {
        if size > INLINE_COPY_BYTES {
            self.helper(
                Helper::ProbeReadKernel,
                &[
                    ptr.into(),
                    self.const_u64(u64::from(size)).into(),
                    self.ptr_ty().const_null().into(),
                ],
            )?;
            return Ok(());
        }
        self.builder.build_memset(
            ptr,
            align,
            self.ctx.i8_type().const_zero(),
            self.const_u64(u64::from(size)),
        )?;
        Ok(())
    }

    /// Copies `size` bytes from `src` to `dst`. LLVM picks the widest loads the two pointers'
    /// alignment allows; when it can only copy byte by byte it loads every byte before storing
    /// any, and a copy of a string at an odd offset (a tuple's string after an `int8`) then
    /// spills past the 512-byte BPF stack. So when the two ends are known to sit at different
    /// offsets from an 8-byte boundary, each byte is stored right after it is loaded, which
    /// needs one register (the accesses are volatile so that LLVM keeps them paired instead of
    /// hoisting the loads or sinking the stores into a block where all are live at once); when
    /// they sit at the same odd offset, the bytes up to the boundary are copied that way and
    /// the rest a word at a time.
    pub(crate) fn memcpy(
        &self,
        dst: PointerValue<'ctx>,
        src: PointerValue<'ctx>,
        size: u32,
    ) -> R<()> {
        if size == 0 {
            return Ok(());
        }
        if size > INLINE_COPY_BYTES {
            // Too many stores for LLVM to expand (see `memset`); both ends are BPF memory
            // the kernel's read helper can copy between.
            self.helper(
                Helper::ProbeReadKernel,
                &[
                    dst.into(),
                    self.const_u64(u64::from(size)).into(),
                    src.into(),
                ],
            )?;
            return Ok(());
        }
        let mut head = 0;
        if size > 8 {
            if let (Some(d), Some(s)) = (misalignment(dst), misalignment(src)) {
                head = match (d, s) {
                    (0, 0) => 0,
                    _ if d == s => (8 - d) as u32,
                    _ => size,
                };
            }
        }
        for i in 0..head {
            let from = self.offset(src, u64::from(i))?;
            let to = self.offset(dst, u64::from(i))?;
            let byte = self
                .builder
                .build_load(self.ctx.i8_type(), from, "byte")?
                .into_int_value();
            if let Some(inst) = byte.as_instruction() {
                let _ = inst.set_alignment(1);
                let _ = inst.set_volatile(true);
            }
            let st = self.builder.build_store(to, byte)?;
            let _ = st.set_alignment(1);
            let _ = st.set_volatile(true);
        }
        if head < size {
            let (dst, src) = if head == 0 {
                (dst, src)
            } else {
                (
                    self.offset(dst, u64::from(head))?,
                    self.offset(src, u64::from(head))?,
                )
            };
            self.builder
                .build_memcpy(dst, 1, src, 1, self.const_u64(u64::from(size - head)))?;
        }
        Ok(())
    }

    pub fn offset(&self, ptr: PointerValue<'ctx>, off: u64) -> R<PointerValue<'ctx>> {
        crate::llvm::byte_offset(&self.builder, self.ctx, ptr, self.const_u64(off))
    }

    fn offset_dyn(&self, ptr: PointerValue<'ctx>, off: IntValue<'ctx>) -> R<PointerValue<'ctx>> {
        crate::llvm::byte_offset(&self.builder, self.ctx, ptr, off)
    }

    /// Builds with `b` an indirect call of helper `h` (`inttoptr(h)`) returning `ret`, its
    /// parameter types taken from the arguments (ints or pointers).
    fn call_helper(
        &self,
        b: &Builder<'ctx>,
        h: Helper,
        args: &[BasicMetadataValueEnum<'ctx>],
        ret: BasicTypeEnum<'ctx>,
        name: &str,
    ) -> R<inkwell::values::CallSiteValue<'ctx>> {
        let params: Vec<BasicMetadataTypeEnum<'ctx>> = args
            .iter()
            .map(|a| match a {
                BasicMetadataValueEnum::PointerValue(_) => self.ptr_ty().into(),
                _ => self.i64().into(),
            })
            .collect();
        let fn_ty = ret.fn_type(&params, false);
        let addr = b.build_int_to_ptr(self.const_u64(h as u64), self.ptr_ty(), "helper")?;
        Ok(b.build_indirect_call(fn_ty, addr, args, name)?)
    }

    /// Calls helper `h` with the given arguments (ints or pointers); returns its i64 result.
    pub fn helper(&self, h: Helper, args: &[BasicMetadataValueEnum<'ctx>]) -> R<IntValue<'ctx>> {
        let call = self.call_helper(&self.builder, h, args, self.i64().into(), "call")?;
        Ok(match call.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(v) => v.into_int_value(),
            inkwell::values::ValueKind::Instruction(_) => self.const_u64(0),
        })
    }

    /// Calls helper `h`, which returns a pointer to a map value or a ring buffer record, built
    /// with `b`. Both are 8-aligned in the kernel; saying so (an `align 8` return) lets LLVM
    /// copy strings and tuples into and out of them a word at a time instead of byte by byte,
    /// which keeps programs short and compiling fast.
    pub fn helper_ptr_with(
        &self,
        b: &Builder<'ctx>,
        h: Helper,
        args: &[BasicMetadataValueEnum<'ctx>],
        name: &str,
    ) -> R<PointerValue<'ctx>> {
        let call = self.call_helper(b, h, args, self.ptr_ty().into(), name)?;
        let align = inkwell::attributes::Attribute::get_named_enum_kind_id("align");
        call.add_attribute(
            inkwell::attributes::AttributeLoc::Return,
            self.ctx.create_enum_attribute(align, 8),
        );
        match call.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(v) => Ok(v.into_pointer_value()),
            inkwell::values::ValueKind::Instruction(_) => Err(CodegenError::Internal(format!(
                "helper {h:?} returned no pointer"
            ))),
        }
    }

    /// [`Self::helper_ptr_with`] at the current position.
    pub fn helper_ptr(
        &self,
        h: Helper,
        args: &[BasicMetadataValueEnum<'ctx>],
        name: &str,
    ) -> R<PointerValue<'ctx>> {
        self.helper_ptr_with(&self.builder, h, args, name)
    }

    pub(crate) fn global_ptr(&self, g: GlobalValue<'ctx>) -> PointerValue<'ctx> {
        g.as_pointer_value()
    }

    // ---- loads and stores of typed values -------------------------------------------------

    /// Loads an integer of type `ty` from `ptr`, extended to i64.
    pub fn load_int(&self, ptr: PointerValue<'ctx>, ty: &Type) -> R<IntValue<'ctx>> {
        self.load_int_aligned(ptr, ty, 1)
    }

    /// [`Lowerer::load_int`] from memory known to be aligned to `align` bytes, for a load
    /// whose address LLVM cannot see (a relocated context field): without it, LLVM reads the
    /// value byte by byte.
    pub fn load_int_aligned(
        &self,
        ptr: PointerValue<'ctx>,
        ty: &Type,
        align: u32,
    ) -> R<IntValue<'ctx>> {
        let size = ty.size().clamp(1, 8);
        let it = self.int_ty(size);
        let v = self.builder.build_load(it, ptr, "ld")?.into_int_value();
        if let Some(inst) = v.as_instruction() {
            let _ = inst.set_alignment(align);
        }
        Ok(if size == 8 {
            v
        } else if ty.is_signed() {
            self.builder.build_int_s_extend(v, self.i64(), "sx")?
        } else {
            self.builder.build_int_z_extend(v, self.i64(), "zx")?
        })
    }

    /// Stores `v` (integer or memory) of type `ty` at `dst`.
    pub fn store(&self, dst: PointerValue<'ctx>, ty: &Type, v: Val<'ctx>) -> R<()> {
        match v {
            Val::Int(i) => {
                let size = ty.size().clamp(1, 8);
                let it = self.int_ty(size);
                let narrowed = if size == 8 {
                    i
                } else {
                    self.builder.build_int_truncate(i, it, "tr")?
                };
                let st = self.builder.build_store(dst, narrowed)?;
                let _ = st.set_alignment(1);
            }
            Val::Mem(src) => self.memcpy(dst, src, ty.size())?,
        }
        Ok(())
    }

    /// Loads a value of type `ty` at `ptr` as a `Val` (ints into registers, rest by address).
    pub(crate) fn load_val(&self, ptr: PointerValue<'ctx>, ty: &Type) -> R<Val<'ctx>> {
        if is_register(ty) {
            Ok(Val::Int(self.load_int(ptr, ty)?))
        } else {
            Ok(Val::Mem(ptr))
        }
    }

    pub(crate) fn terminated(&self) -> bool {
        self.builder
            .get_insert_block()
            .and_then(|b| b.get_terminator())
            .is_some()
    }

    /// Ends the probe: `return 0`, or in a `for` callback, flags the caller to return as
    /// well and stops the iteration.
    /// Ends the probe with `value` as its program's result; in a `for` body, the callback
    /// stops the loop and leaves the value to its caller (see [`Callback`]).
    pub(crate) fn return_from_probe(&self, value: IntValue<'ctx>) -> R<()> {
        let value = self
            .builder
            .build_int_s_extend_or_bit_cast(value, self.i64(), "retval")?;
        if let Some(cb) = self.callback {
            self.builder.build_store(cb.returned, self.const_u64(1))?;
            let slot = self.offset(cb.returned, 8)?;
            self.builder.build_store(slot, value)?;
            self.builder.build_return(Some(&self.const_u64(1)))?;
        } else {
            self.builder.build_return(Some(&value))?;
        }
        Ok(())
    }

    /// Zeroed slots in this function's frame for variables `vars` (see `check::frames`).
    pub(crate) fn allocate_vars(&mut self, vars: &[hir::VarId]) -> R<()> {
        for &v in vars {
            let ty =
                self.probe.vars.get(v as usize).ok_or_else(|| {
                    CodegenError::Internal(format!("variable id {v} has no type"))
                })?;
            let size = ty.size().max(8);
            let slot = self.alloca(size, "var")?;
            self.memset(slot, size)?;
            if let Some(at) = self.vars.get_mut(v as usize) {
                *at = Some(slot);
            }
        }
        Ok(())
    }

    /// The variables of `for` body `frame` of the probe.
    pub(crate) fn frame(&self, frame: hir::FrameId) -> R<&'a hir::Frame> {
        self.probe
            .frames
            .get(frame as usize)
            .ok_or_else(|| CodegenError::Internal(format!("unknown frame {frame}")))
    }

    pub(crate) fn var_slot(&self, var: hir::VarId) -> R<PointerValue<'ctx>> {
        self.vars
            .get(var as usize)
            .copied()
            .flatten()
            .ok_or_else(|| CodegenError::Internal(format!("variable id {var} has no slot here")))
    }

    pub(crate) fn map_spec(&self, map: hir::MapId) -> R<&'a MapSpec> {
        self.script
            .maps
            .get(map as usize)
            .ok_or_else(|| CodegenError::Internal(format!("unknown map id {map}")))
    }

    /// Writes a value into fresh zeroed stack memory of `ty`'s size and returns its address.
    pub(crate) fn materialize(&self, v: Val<'ctx>, ty: &Type) -> R<PointerValue<'ctx>> {
        let slot = self.alloca(ty.size().max(8), "tmp")?;
        self.memset(slot, ty.size().max(8))?;
        self.store(slot, ty, v)?;
        Ok(slot)
    }

    pub(crate) fn bool_to_i64(&self, b: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        Ok(self.builder.build_int_z_extend(b, self.i64(), "b")?)
    }

    /// Runs `lower` with the instructions it builds attributed to the script text at `span`,
    /// then gives the rest of the enclosing statement or expression its own location back.
    pub(crate) fn located<T>(&mut self, span: Span, lower: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        let outer = self.builder.get_current_debug_location();
        let outer_span = self.span.replace(span);
        self.builder
            .set_current_debug_location(self.locator.at(span));
        let result = lower(self);
        self.span.set(outer_span);
        match outer {
            Some(loc) => self.builder.set_current_debug_location(loc),
            None => self.builder.unset_current_debug_location(),
        }
        result
    }

    /// Signed `l / r` (or `l % r`) for a non-zero `r`. The BPF ISA before v4 (kernels < 6.6)
    /// has no signed division, so this divides the magnitudes and fixes the sign as C does:
    /// the quotient is negative when the signs differ, the remainder takes the dividend's sign.
    pub fn signed_div(&self, l: IntValue<'ctx>, r: IntValue<'ctx>, rem: bool) -> R<IntValue<'ctx>> {
        let b = &self.builder;
        let zero = self.const_u64(0);
        let neg_l = b.build_int_compare(IntPredicate::SLT, l, zero, "negl")?;
        let neg_r = b.build_int_compare(IntPredicate::SLT, r, zero, "negr")?;
        let nl = b.build_int_neg(l, "nl")?;
        let nr = b.build_int_neg(r, "nr")?;
        let al = b.build_select(neg_l, nl, l, "al")?.into_int_value();
        let ar = b.build_select(neg_r, nr, r, "ar")?.into_int_value();
        let (mag, negative) = if rem {
            (b.build_int_unsigned_rem(al, ar, "urem")?, neg_l)
        } else {
            (
                b.build_int_unsigned_div(al, ar, "udiv")?,
                b.build_xor(neg_l, neg_r, "sign")?,
            )
        };
        let neg = b.build_int_neg(mag, "neg")?;
        Ok(b.build_select(negative, neg, mag, "sdiv")?.into_int_value())
    }

    /// Truncates and re-extends an i64 so it holds a value of integer type `ty`.
    pub(crate) fn convert(&self, v: IntValue<'ctx>, ty: &Type) -> R<IntValue<'ctx>> {
        let bits = match ty {
            Type::Int { bits, .. } | Type::Enum { bits, .. } => u32::from(*bits),
            Type::Bool => {
                let nz = self.builder.build_int_compare(
                    IntPredicate::NE,
                    v,
                    self.const_u64(0),
                    "bool",
                )?;
                return self.bool_to_i64(nz);
            }
            _ => 64,
        };
        if bits >= 64 {
            return Ok(v);
        }
        let narrow = self
            .builder
            .build_int_truncate(v, self.int_ty(bits / 8), "narrow")?;
        Ok(if ty.is_signed() {
            self.builder.build_int_s_extend(narrow, self.i64(), "sx")?
        } else {
            self.builder.build_int_z_extend(narrow, self.i64(), "zx")?
        })
    }

    /// The dynamic-offset variant of [`Self::offset`], for data_loc strings.
    pub fn offset_by(&self, ptr: PointerValue<'ctx>, off: IntValue<'ctx>) -> R<PointerValue<'ctx>> {
        self.offset_dyn(ptr, off)
    }

    /// A `usym` payload ([`abi::usym`]) of user address `addr` in the current process.
    pub fn usym_payload(&self, addr: IntValue<'ctx>) -> R<PointerValue<'ctx>> {
        use abi::usym;
        self.pid_payload(addr, usym::SIZE, usym::ADDR, usym::PID, "usym")
    }

    /// A `ustack` payload ([`abi::stack`]) of stack id `id` of the current process.
    pub fn ustack_payload(&self, id: IntValue<'ctx>) -> R<PointerValue<'ctx>> {
        use abi::stack;
        self.pid_payload(id, stack::USTACK_SIZE, stack::ID, stack::PID, "ustack")
    }

    /// `v` and the pid of the current process in a fresh slot of `size` bytes, at offsets
    /// `v_at` and `pid_at`: what user space needs to read `v` in that process.
    fn pid_payload(
        &self,
        v: IntValue<'ctx>,
        size: u32,
        v_at: u32,
        pid_at: u32,
        name: &str,
    ) -> R<PointerValue<'ctx>> {
        let slot = self.alloca(size, name)?;
        let at = self.offset(slot, u64::from(v_at))?;
        self.builder.build_store(at, v)?;
        let pid_tgid = self.helper(Helper::GetCurrentPidTgid, &[])?;
        let pid = self
            .builder
            .build_right_shift(pid_tgid, self.const_u64(32), false, "pid")?;
        let at = self.offset(slot, u64::from(pid_at))?;
        self.builder.build_store(at, pid)?;
        Ok(slot)
    }

    /// Stack-trace map (for kstack/ustack).
    pub fn stacks(&self) -> PointerValue<'ctx> {
        self.global_ptr(self.globals.stacks)
    }

    /// Internal state array (start time for `elapsed`).
    pub fn state(&self) -> PointerValue<'ctx> {
        self.global_ptr(self.globals.state)
    }
}

/// Memory slots of one probe function: stack or scratch, reused across statements.
#[derive(Default)]
struct SlotPool<'ctx> {
    used: Vec<Slot<'ctx>>,
    free: Vec<Slot<'ctx>>,
    /// Bytes of scratch memory in use: a stack, popped at the end of each statement.
    scratch_top: u32,
}

/// What [`Lowerer::slot_mark`] records: the slots in use, and the top of scratch memory.
#[derive(Clone, Copy)]
pub(crate) struct SlotMark {
    used: usize,
    scratch_top: u32,
}

#[derive(Clone, Copy)]
struct Slot<'ctx> {
    words: u32,
    ptr: PointerValue<'ctx>,
    /// In the per-CPU scratch map rather than on the stack.
    scratch: bool,
}

/// Whether values of `ty` live in an i64 register (as opposed to stack memory).
pub fn is_register(ty: &Type) -> bool {
    match ty {
        Type::Int { .. }
        | Type::Bool
        | Type::Enum { .. }
        | Type::Pointer { .. }
        | Type::Ksym
        | Type::Username
        | Type::ProbeName
        | Type::CgroupPath { .. }
        | Type::Strerror
        | Type::SyscallName
        | Type::SignalName
        | Type::None => true,
        Type::Agg(agg) => matches!(
            agg,
            Aggregation::Count
                | Aggregation::Sum { .. }
                | Aggregation::Min { .. }
                | Aggregation::Max { .. }
        ),
        Type::Stack { source, .. } => match source {
            StackSource::Kernel => true,
            StackSource::User | StackSource::UserDwarf { .. } => false,
        },
        Type::Str { .. }
        | Type::Buffer { .. }
        | Type::Tuple(_)
        | Type::NamedTuple { .. }
        | Type::Array { .. }
        | Type::Record(_)
        | Type::Inet
        | Type::MacAddr
        | Type::Usym
        | Type::Float { .. }
        | Type::Timestamp => false,
    }
}

/// How many bytes past an 8-byte boundary `ptr` is known to point: it follows constant byte
/// offsets back to an 8-aligned stack slot or helper result (a map value, the scratch buffer).
/// `None` when codegen can't tell.
fn misalignment(ptr: PointerValue<'_>) -> Option<u64> {
    use inkwell::values::InstructionOpcode;
    let mut p = ptr;
    let mut off = 0u64;
    // Offsets chain a few levels deep (tuple in tuple in a slot); the bound keeps the walk
    // finite whatever the IR looks like.
    for _ in 0..64 {
        let inst = p.as_instruction()?;
        match inst.get_opcode() {
            InstructionOpcode::Alloca => {
                return (inst.get_alignment().ok()? >= 8).then_some(off % 8);
            }
            InstructionOpcode::Call => {
                let call = inkwell::values::CallSiteValue::try_from(inst).ok()?;
                let kind = inkwell::attributes::Attribute::get_named_enum_kind_id("align");
                let align = call
                    .get_enum_attribute(inkwell::attributes::AttributeLoc::Return, kind)?
                    .get_enum_value();
                return (align >= 8).then_some(off % 8);
            }
            InstructionOpcode::GetElementPtr => {
                use inkwell::types::BasicTypeEnum;
                use inkwell::values::BasicValueEnum;
                let byte_gep = inst.get_num_operands() == 2
                    && matches!(inst.get_gep_source_element_type().ok()?,
                        BasicTypeEnum::IntType(t) if t.get_bit_width() == 8);
                if !byte_gep {
                    return None;
                }
                let BasicValueEnum::IntValue(step) = inst.get_operand(1)?.value()? else {
                    return None;
                };
                let BasicValueEnum::PointerValue(base) = inst.get_operand(0)?.value()? else {
                    return None;
                };
                off = off.wrapping_add(step.get_zero_extended_constant()?);
                p = base;
            }
            _ => return None,
        }
    }
    None
}

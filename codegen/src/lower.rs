//! Lowering of one hir probe into one BPF function (plus the callbacks of its `for` loops,
//! see `callbacks`): statements, expressions, helper calls, map updates and ring buffer
//! events. Integers live in i64 registers (as in bpftrace) and
//! are truncated or extended only when stored to or loaded from memory of a narrower type;
//! everything bigger than an integer (strings, tuples, records) lives in stack memory and is
//! passed around as a pointer.

use crate::context;
use crate::debug::Locator;
use crate::helpers::{self, Helper};
use crate::CodegenError;
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::types::{BasicMetadataTypeEnum, BasicType, BasicTypeEnum};
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, GlobalValue, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};
use lang::ast::{BinaryOp, Span};
use lang::hir::{self, Expr, ExprKind, Stmt, StmtKind, Unary};
use stdlib::manifest::{Event, MapSpec};
use stdlib::types::{tuple_layout, AddrSpace, Aggregation, Type};

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
    pub maps: Vec<GlobalValue<'ctx>>,
    /// `-k`: where failed helper calls are reported, if asked.
    pub helper_errors: Option<HelperErrors>,
}

/// `-k`: each checked helper call gets an event of its own (after the checker's events), so
/// user space can say which script text failed.
pub struct HelperErrors {
    pub file_name: String,
    pub source: String,
    /// The id of the first of these events: the checker's events come first.
    pub first_id: u32,
    pub events: std::cell::RefCell<Vec<Event>>,
}

impl HelperErrors {
    /// Registers a failure site of `helper` at `span`; returns its event id.
    fn site(&self, helper: &str, span: Span) -> hir::EventId {
        let (location, context) = bpftrace_location(&self.file_name, &self.source, span);
        let mut events = self.events.borrow_mut();
        events.push(Event::HelperError {
            helper: helper.to_string(),
            location,
            context,
        });
        self.first_id + events.len() as u32 - 1
    }
}

/// `file:line:col-endcol` and the line with `~` under the text, as bpftrace prints warnings
/// (columns are 1-based bytes, the end one past the last character).
fn bpftrace_location(file: &str, source: &str, span: Span) -> (String, String) {
    let start = span.start.min(source.len());
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |i| start + i);
    let line_no = source[..start].matches('\n').count() + 1;
    let end = span.end.clamp(start + 1, line_end.max(start + 1));
    let col = start - line_start + 1;
    let location = format!("{file}:{line_no}:{col}-{}", col + (end - start));
    let context = format!(
        "{}\n{}{}",
        &source[line_start..line_end],
        " ".repeat(start - line_start),
        "~".repeat(end - start)
    );
    (location, context)
}

/// Index of the start time (for `elapsed`) in the internal state array.
pub const STATE_START_NS: u64 = 0;

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
    span: std::cell::Cell<Span>,
    /// Where each variable lives, by `VarId`: the probe's own slots, or in a `for` callback
    /// the caller's slots of the variables the body captures (`None` for the others).
    pub(crate) vars: Vec<Option<PointerValue<'ctx>>>,
    /// (continue target, break target) of enclosing loops in this function.
    loops: Vec<(BasicBlock<'ctx>, BasicBlock<'ctx>)>,
    /// The probe's context argument (`ctx`); a callback gets it from its caller.
    pub(crate) probe_ctx: Option<PointerValue<'ctx>>,
    /// Set when this function is the callback of a `for` over a map.
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

/// What lowering a `for ($kv : @map)` body as a callback of `bpf_for_each_map_elem` changes:
/// `break` and `continue` outside an inner loop return 1 (stop) and 0 (next element), and
/// `return` also sets the caller's flag so the caller returns from the probe too.
#[derive(Clone, Copy)]
pub struct Callback<'ctx> {
    /// An i64 in the caller's frame: non-zero once the body executed `return`.
    pub returned: PointerValue<'ctx>,
}

// The scratch memory's size and which slots live there are the checker's too: it refuses a
// statement whose values would not fit.
pub(crate) use lang::check::scratch::{SCRATCH_BYTES, SCRATCH_MIN};

type R<T> = Result<T, CodegenError>;

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

    /// Lowers the whole probe: variables, predicate, body, `return 0`.
    pub fn lower_probe(mut self) -> R<()> {
        self.builder
            .set_current_debug_location(self.locator.at(self.probe.span));
        self.probe_ctx = self.func.get_first_param().map(|p| p.into_pointer_value());
        for ty in &self.probe.vars {
            let size = ty.size().max(8);
            let slot = self.alloca(size, "var")?;
            self.memset(slot, size)?;
            self.vars.push(Some(slot));
        }
        if let Some(pred) = &self.probe.predicate {
            let v = self.int(pred)?;
            let zero = self.const_u64(0);
            let pass = self
                .builder
                .build_int_compare(IntPredicate::NE, v, zero, "pred")?;
            let body = self.ctx.append_basic_block(self.func, "body");
            let skip = self.ctx.append_basic_block(self.func, "skip");
            self.builder.build_conditional_branch(pass, body, skip)?;
            self.builder.position_at_end(skip);
            self.builder.build_return(Some(&zero))?;
            self.builder.position_at_end(body);
        }
        self.stmts(&self.probe.body)?;
        if self
            .builder
            .get_insert_block()
            .and_then(|b| b.get_terminator())
            .is_none()
        {
            self.builder.build_return(Some(&self.const_u64(0)))?;
        }
        Ok(())
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
            if offset + words * 8 > SCRATCH_BYTES {
                return Err(CodegenError::Internal(format!(
                    "a statement needs more than {SCRATCH_BYTES} bytes of temporary values"
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
        b.build_store(key, self.ctx.i32_type().const_zero())?;
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

    /// How many slots are in use: pass it to [`Self::release_slots`] after a statement.
    fn slot_mark(&self) -> usize {
        self.slots.borrow().used.len()
    }

    /// Frees every slot taken since `mark` (the temporaries of the statement just lowered).
    fn release_slots(&self, mark: usize) {
        let mut pool = self.slots.borrow_mut();
        let freed: Vec<_> = pool.used.drain(mark..).collect();
        pool.free.extend(freed);
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

    pub(crate) fn memset(&self, ptr: PointerValue<'ctx>, size: u32) -> R<()> {
        self.builder.build_memset(
            ptr,
            8,
            self.ctx.i8_type().const_zero(),
            self.const_u64(u64::from(size)),
        )?;
        Ok(())
    }

    pub(crate) fn memcpy(
        &self,
        dst: PointerValue<'ctx>,
        src: PointerValue<'ctx>,
        size: u32,
    ) -> R<()> {
        if size > 0 {
            self.builder
                .build_memcpy(dst, 1, src, 1, self.const_u64(u64::from(size)))?;
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

    /// Calls probe-read helper `h` (kernel or user) and, under `-k`, reports a negative return
    /// as a warning on the script text being lowered, named `probe_read` as bpftrace names it.
    pub fn checked_probe_read(
        &mut self,
        h: Helper,
        args: &[BasicMetadataValueEnum<'ctx>],
    ) -> R<IntValue<'ctx>> {
        let ret = self.helper(h, args)?;
        let Some(errors) = &self.globals.helper_errors else {
            return Ok(ret);
        };
        let event = errors.site("probe_read", self.span.get());
        let failed =
            self.builder
                .build_int_compare(IntPredicate::SLT, ret, self.const_u64(0), "failed")?;
        let report = self.ctx.append_basic_block(self.func, "helper_failed");
        let go_on = self.ctx.append_basic_block(self.func, "helper_ok");
        self.builder
            .build_conditional_branch(failed, report, go_on)?;
        self.builder.position_at_end(report);
        self.with_record(event, 8, |l, rec| {
            let at = l.offset(rec, 8)?;
            l.builder.build_store(at, ret)?;
            Ok(())
        })?;
        self.builder.build_unconditional_branch(go_on)?;
        self.builder.position_at_end(go_on);
        Ok(ret)
    }

    pub(crate) fn global_ptr(&self, g: GlobalValue<'ctx>) -> PointerValue<'ctx> {
        g.as_pointer_value()
    }

    // ---- loads and stores of typed values -------------------------------------------------

    /// Loads an integer of type `ty` from `ptr`, extended to i64.
    pub fn load_int(&self, ptr: PointerValue<'ctx>, ty: &Type) -> R<IntValue<'ctx>> {
        let size = ty.size().clamp(1, 8);
        let it = self.int_ty(size);
        let v = self.builder.build_load(it, ptr, "ld")?.into_int_value();
        if let Some(inst) = v.as_instruction() {
            let _ = inst.set_alignment(1);
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
    fn load_val(&self, ptr: PointerValue<'ctx>, ty: &Type) -> R<Val<'ctx>> {
        if is_register(ty) {
            Ok(Val::Int(self.load_int(ptr, ty)?))
        } else {
            Ok(Val::Mem(ptr))
        }
    }

    // ---- statements ---------------------------------------------------------------------

    pub(crate) fn terminated(&self) -> bool {
        self.builder
            .get_insert_block()
            .and_then(|b| b.get_terminator())
            .is_some()
    }

    pub(crate) fn stmts(&mut self, stmts: &[Stmt]) -> R<()> {
        for s in stmts {
            if self.terminated() {
                // Code after break/continue/return is unreachable; LLVM needs a block for it.
                let dead = self.ctx.append_basic_block(self.func, "dead");
                self.builder.position_at_end(dead);
            }
            let mark = self.slot_mark();
            self.located(s.span, |this| this.stmt(s))?;
            self.release_slots(mark);
        }
        Ok(())
    }

    fn stmt(&mut self, s: &Stmt) -> R<()> {
        match &s.kind {
            StmtKind::Expr(e) => {
                self.expr(e)?;
            }
            StmtKind::AssignVar { var, value } => {
                let v = self.expr(value)?;
                let slot = self.var_slot(*var)?;
                let ty = &self.probe.vars[*var as usize];
                if !is_register(ty) {
                    self.memset(slot, ty.size())?;
                }
                self.store(slot, &value.ty.clone(), v)?;
            }
            StmtKind::AssignMap { map, key, value } => {
                let spec = self.map_spec(*map)?;
                let key_ptr = self.key(spec, key.as_ref(), None)?;
                let v = self.expr(value)?;
                let val_ptr = self.materialize(v, &spec.value)?;
                let m = self.global_ptr(self.globals.maps[*map as usize]);
                self.update_map(m, key_ptr, val_ptr)?;
            }
            StmtKind::Aggregate {
                map,
                key,
                agg,
                value,
            } => self.aggregate(*map, key.as_ref(), *agg, value.as_ref())?,
            StmtKind::Delete { map, key } => {
                let spec = self.map_spec(*map)?;
                let key_ptr = self.key(spec, key.as_ref(), None)?;
                let m = self.global_ptr(self.globals.maps[*map as usize]);
                self.helper(Helper::MapDeleteElem, &[m.into(), key_ptr.into()])?;
            }
            StmtKind::Emit { event, args } => self.emit(*event, args)?,
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let c = self.truthy(cond)?;
                let then_bb = self.ctx.append_basic_block(self.func, "then");
                let else_bb = self.ctx.append_basic_block(self.func, "else");
                let done = self.ctx.append_basic_block(self.func, "endif");
                self.builder.build_conditional_branch(c, then_bb, else_bb)?;
                self.builder.position_at_end(then_bb);
                self.stmts(then)?;
                if !self.terminated() {
                    self.builder.build_unconditional_branch(done)?;
                }
                self.builder.position_at_end(else_bb);
                self.stmts(otherwise)?;
                if !self.terminated() {
                    self.builder.build_unconditional_branch(done)?;
                }
                self.builder.position_at_end(done);
            }
            StmtKind::While { cond, body } => {
                let head = self.ctx.append_basic_block(self.func, "while");
                let body_bb = self.ctx.append_basic_block(self.func, "body");
                let done = self.ctx.append_basic_block(self.func, "endwhile");
                self.builder.build_unconditional_branch(head)?;
                self.builder.position_at_end(head);
                let c = self.truthy(cond)?;
                self.builder.build_conditional_branch(c, body_bb, done)?;
                self.builder.position_at_end(body_bb);
                self.loops.push((head, done));
                self.stmts(body)?;
                self.loops.pop();
                if !self.terminated() {
                    self.builder.build_unconditional_branch(head)?;
                }
                self.builder.position_at_end(done);
            }
            StmtKind::Unroll { count, body } => {
                for _ in 0..*count {
                    let next = self.ctx.append_basic_block(self.func, "unroll");
                    self.loops.push((next, next));
                    self.stmts(body)?;
                    self.loops.pop();
                    if !self.terminated() {
                        self.builder.build_unconditional_branch(next)?;
                    }
                    self.builder.position_at_end(next);
                }
            }
            StmtKind::ForRange {
                var,
                start,
                end,
                body,
            } => {
                let slot = self.var_slot(*var)?;
                let s = self.int(start)?;
                let e = self.int(end)?;
                let end_slot = self.alloca(8, "end")?;
                self.builder.build_store(end_slot, e)?;
                self.builder.build_store(slot, s)?;
                let head = self.ctx.append_basic_block(self.func, "for");
                let body_bb = self.ctx.append_basic_block(self.func, "forbody");
                let step = self.ctx.append_basic_block(self.func, "forstep");
                let done = self.ctx.append_basic_block(self.func, "endfor");
                self.builder.build_unconditional_branch(head)?;
                self.builder.position_at_end(head);
                let i = self
                    .builder
                    .build_load(self.i64(), slot, "i")?
                    .into_int_value();
                let e = self
                    .builder
                    .build_load(self.i64(), end_slot, "e")?
                    .into_int_value();
                let c = self
                    .builder
                    .build_int_compare(IntPredicate::SLT, i, e, "lt")?;
                self.builder.build_conditional_branch(c, body_bb, done)?;
                self.builder.position_at_end(body_bb);
                self.loops.push((step, done));
                self.stmts(body)?;
                self.loops.pop();
                if !self.terminated() {
                    self.builder.build_unconditional_branch(step)?;
                }
                self.builder.position_at_end(step);
                let i = self
                    .builder
                    .build_load(self.i64(), slot, "i")?
                    .into_int_value();
                let n = self.builder.build_int_add(i, self.const_u64(1), "inc")?;
                self.builder.build_store(slot, n)?;
                self.builder.build_unconditional_branch(head)?;
                self.builder.position_at_end(done);
            }
            StmtKind::ForMap {
                var,
                map,
                captures,
                body,
            } => crate::callbacks::for_map(self, *var, *map, captures, body)?,
            StmtKind::Break | StmtKind::Continue => {
                let brk = matches!(s.kind, StmtKind::Break);
                match (self.loops.last(), self.callback) {
                    (Some((cont, stop)), _) => {
                        self.builder
                            .build_unconditional_branch(if brk { *stop } else { *cont })?;
                    }
                    // In a `for` body: 1 stops the iteration, 0 goes on to the next element.
                    (None, Some(_)) => {
                        self.builder
                            .build_return(Some(&self.const_u64(u64::from(brk))))?;
                    }
                    (None, None) => {
                        return Err(CodegenError::Internal(
                            "break/continue outside a loop reached codegen".into(),
                        ))
                    }
                }
            }
            StmtKind::Return => self.return_from_probe()?,
        }
        Ok(())
    }

    /// Ends the probe: `return 0`, or in a `for` callback, flags the caller to return as
    /// well and stops the iteration.
    pub(crate) fn return_from_probe(&self) -> R<()> {
        if let Some(cb) = self.callback {
            self.builder.build_store(cb.returned, self.const_u64(1))?;
            self.builder.build_return(Some(&self.const_u64(1)))?;
        } else {
            self.builder.build_return(Some(&self.const_u64(0)))?;
        }
        Ok(())
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
    fn materialize(&self, v: Val<'ctx>, ty: &Type) -> R<PointerValue<'ctx>> {
        let slot = self.alloca(ty.size().max(8), "tmp")?;
        self.memset(slot, ty.size().max(8))?;
        self.store(slot, ty, v)?;
        Ok(slot)
    }

    /// Builds the map key in stack memory; histograms append the bucket index.
    fn key(
        &mut self,
        spec: &MapSpec,
        key: Option<&Expr>,
        bucket: Option<IntValue<'ctx>>,
    ) -> R<PointerValue<'ctx>> {
        let size = spec.key_size();
        let slot = self.alloca(size.max(8), "key")?;
        self.memset(slot, size.max(8))?;
        let user_size = match (key, &spec.key) {
            (Some(k), Some(kty)) => {
                let v = self.expr(k)?;
                self.store(slot, kty, v)?;
                kty.size()
            }
            _ => 8,
        };
        if let Some(b) = bucket {
            let at = self.offset(slot, u64::from(user_size))?;
            self.store(at, &stdlib::types::U64, Val::Int(b))?;
        }
        Ok(slot)
    }

    fn aggregate(
        &mut self,
        map: hir::MapId,
        key: Option<&Expr>,
        agg: Aggregation,
        value: Option<&Expr>,
    ) -> R<()> {
        let spec = self.map_spec(map)?;
        let v = match value {
            Some(e) => self.int(e)?,
            None => self.const_u64(1),
        };
        let bucket = match agg {
            Aggregation::Hist { bits } => Some(crate::hist::log2_bucket(self, v, bits)?),
            Aggregation::Lhist { min, max, step } => {
                Some(crate::hist::linear_bucket(self, v, min, max, step)?)
            }
            Aggregation::Count
            | Aggregation::Sum
            | Aggregation::Avg
            | Aggregation::Min
            | Aggregation::Max
            | Aggregation::Stats => None,
        };
        // A histogram bucket counts values; sum adds them (count's value is already 1).
        let step = match agg {
            Aggregation::Hist { .. } | Aggregation::Lhist { .. } => self.const_u64(1),
            _ => v,
        };
        let key_ptr = self.key(spec, key, bucket)?;
        let m = self.global_ptr(self.globals.maps[map as usize]);
        let found_ptr =
            self.helper_ptr(Helper::MapLookupElem, &[m.into(), key_ptr.into()], "slot")?;
        let is_null = self.builder.build_is_null(found_ptr, "isnull")?;
        let upd = self.ctx.append_basic_block(self.func, "agg_update");
        let init = self.ctx.append_basic_block(self.func, "agg_init");
        let done = self.ctx.append_basic_block(self.func, "agg_done");
        self.builder.build_conditional_branch(is_null, init, upd)?;

        // Existing slot: update in place (per-CPU, so no atomics are needed).
        self.builder.position_at_end(upd);
        let first = found_ptr;
        let second = self.offset(found_ptr, 8)?;
        let i64t = self.i64();
        match agg {
            Aggregation::Count
            | Aggregation::Hist { .. }
            | Aggregation::Lhist { .. }
            | Aggregation::Sum => {
                let old = self
                    .builder
                    .build_load(i64t, first, "old")?
                    .into_int_value();
                let new = self.builder.build_int_add(old, step, "new")?;
                self.builder.build_store(first, new)?;
            }
            Aggregation::Avg | Aggregation::Stats => {
                let c = self.builder.build_load(i64t, first, "c")?.into_int_value();
                let c1 = self.builder.build_int_add(c, self.const_u64(1), "c1")?;
                self.builder.build_store(first, c1)?;
                let t = self.builder.build_load(i64t, second, "t")?.into_int_value();
                let t1 = self.builder.build_int_add(t, v, "t1")?;
                self.builder.build_store(second, t1)?;
            }
            Aggregation::Min | Aggregation::Max => {
                let old = self
                    .builder
                    .build_load(i64t, first, "old")?
                    .into_int_value();
                let pred = if agg == Aggregation::Min {
                    IntPredicate::SLT
                } else {
                    IntPredicate::SGT
                };
                let better = self.builder.build_int_compare(pred, v, old, "better")?;
                let new = self
                    .builder
                    .build_select(better, v, old, "sel")?
                    .into_int_value();
                self.builder.build_store(first, new)?;
                self.builder.build_store(second, self.const_u64(1))?;
            }
        }
        self.builder.build_unconditional_branch(done)?;

        // No slot yet: insert the initial value.
        self.builder.position_at_end(init);
        let size = stdlib::types::agg_value_size(agg);
        let val = self.alloca(size, "aggval")?;
        self.memset(val, size)?;
        let second = self.offset(val, 8)?;
        match agg {
            Aggregation::Count
            | Aggregation::Hist { .. }
            | Aggregation::Lhist { .. }
            | Aggregation::Sum => {
                self.builder.build_store(val, step)?;
            }
            Aggregation::Avg | Aggregation::Stats => {
                self.builder.build_store(val, self.const_u64(1))?;
                self.builder.build_store(second, v)?;
            }
            Aggregation::Min | Aggregation::Max => {
                self.builder.build_store(val, v)?;
                self.builder.build_store(second, self.const_u64(1))?;
            }
        }
        self.update_map(m, key_ptr, val)?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        Ok(())
    }

    /// Reserves a ring buffer record, writes the event id and arguments, submits it. When the
    /// buffer is full the per-CPU lost counter is incremented so user space can report it.
    fn emit(&mut self, event: hir::EventId, args: &[Expr]) -> R<()> {
        let ev = self
            .script
            .events
            .get(event as usize)
            .ok_or_else(|| CodegenError::Internal(format!("unknown event id {event}")))?;
        if let Event::Join {
            max_items,
            item_len,
            ..
        } = ev
        {
            return self.emit_join(event, args, *max_items, *item_len);
        }
        let arg_types = ev.arg_types();
        let (offsets, size) = tuple_layout(&arg_types);
        // Evaluate arguments before reserving, so no helper runs while a record is held.
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            vals.push(self.expr(a)?);
        }
        self.with_record(event, size, |this, rec| {
            for ((v, ty), off) in vals.into_iter().zip(&arg_types).zip(offsets) {
                let at = this.offset(rec, 8 + u64::from(off))?;
                if !is_register(ty) {
                    this.memset(at, ty.size())?;
                }
                this.store(at, ty, v)?;
            }
            Ok(())
        })
    }

    /// Reserves a ring buffer record of 8 + `payload` bytes, stores the event id, lets
    /// `write` fill the payload, and submits it. When the buffer is full the per-CPU lost
    /// counter is incremented instead, so user space can report the loss.
    fn with_record(
        &mut self,
        event: hir::EventId,
        payload: u32,
        write: impl FnOnce(&mut Self, PointerValue<'ctx>) -> R<()>,
    ) -> R<()> {
        let rb = self.global_ptr(self.globals.events);
        let total = self.const_u64(8 + u64::from(payload));
        let rec_ptr = self.helper_ptr(
            Helper::RingbufReserve,
            &[rb.into(), total.into(), self.const_u64(0).into()],
            "rec",
        )?;
        let is_null = self.builder.build_is_null(rec_ptr, "full")?;
        let fill = self.ctx.append_basic_block(self.func, "emit");
        let lost = self.ctx.append_basic_block(self.func, "lost");
        let done = self.ctx.append_basic_block(self.func, "emitted");
        self.builder.build_conditional_branch(is_null, lost, fill)?;
        self.builder.position_at_end(fill);
        self.builder
            .build_store(rec_ptr, self.const_u64(u64::from(event)))?;
        write(self, rec_ptr)?;
        let flags = self.submit_flags(event)?;
        self.helper(Helper::RingbufSubmit, &[rec_ptr.into(), flags.into()])?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(lost);
        self.bump_counter(self.globals.lost)?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        Ok(())
    }

    /// The `ringbuf_submit` flags of a record. Waking the reader for every record costs it a
    /// context switch per event; instead output records let it sleep (it drains the buffer on
    /// a short timer, see `runtime::run`) until the unread data passes
    /// [`crate::RINGBUF_WAKE_BYTES`]. Records that act on the session or on live map state
    /// (exit, print/clear/zero of a map) wake it at once, so they act when the probe fired.
    fn submit_flags(&self, event: hir::EventId) -> R<IntValue<'ctx>> {
        let ev = match self.script.events.get(event as usize) {
            Some(ev) => ev.clone(),
            None => self
                .globals
                .helper_errors
                .as_ref()
                .and_then(|h| {
                    let i = event.checked_sub(h.first_id)?;
                    h.events.borrow().get(i as usize).cloned()
                })
                .ok_or_else(|| CodegenError::Internal(format!("unknown event id {event}")))?,
        };
        match ev {
            Event::Exit | Event::PrintMap { .. } | Event::Clear { .. } | Event::Zero { .. } => {
                Ok(self.const_u64(helpers::BPF_RB_FORCE_WAKEUP))
            }
            Event::Printf { .. }
            | Event::Time { .. }
            | Event::Cat { .. }
            | Event::System { .. }
            | Event::Join { .. }
            | Event::PrintValue { .. }
            | Event::HelperError { .. } => {
                let rb = self.global_ptr(self.globals.events);
                let avail = self.helper(
                    Helper::RingbufQuery,
                    &[rb.into(), self.const_u64(helpers::BPF_RB_AVAIL_DATA).into()],
                )?;
                let limit = self.const_u64(u64::from(crate::RINGBUF_WAKE_BYTES));
                let behind =
                    self.builder
                        .build_int_compare(IntPredicate::UGT, avail, limit, "behind")?;
                let flags = self.builder.build_select(
                    behind,
                    self.const_u64(helpers::BPF_RB_FORCE_WAKEUP),
                    self.const_u64(helpers::BPF_RB_NO_WAKEUP),
                    "wake",
                )?;
                Ok(flags.into_int_value())
            }
        }
    }

    /// `join(argv)`: the strings are read straight into the reserved record (up to
    /// `max_items` of `item_len` bytes), which keeps them off the 512-byte stack.
    fn emit_join(
        &mut self,
        event: hir::EventId,
        args: &[Expr],
        max_items: u32,
        item_len: u32,
    ) -> R<()> {
        let arr = args
            .first()
            .ok_or_else(|| CodegenError::Internal("join() without an argument".into()))?;
        let space = match &arr.ty {
            Type::Pointer { space, .. } => *space,
            _ => AddrSpace::Kernel,
        };
        let base = self.int(arr)?;
        let payload = max_items * item_len;
        let (read, read_str) = match space {
            AddrSpace::Kernel => (Helper::ProbeReadKernel, Helper::ProbeReadKernelStr),
            AddrSpace::User => (Helper::ProbeReadUser, Helper::ProbeReadUserStr),
        };
        let slot = self.alloca(8, "argp")?;
        self.with_record(event, payload, |this, rec| {
            let data = this.offset(rec, 8)?;
            // Ring buffer memory is not zeroed: an empty first byte marks each unused item.
            // (Zeroing the whole payload would be a memset too large for BPF to inline.)
            for i in 0..max_items {
                let item = this.offset(data, u64::from(i * item_len))?;
                this.builder
                    .build_store(item, this.ctx.i8_type().const_zero())?;
            }
            // Stop at the array's NULL terminator; the remaining items stay empty.
            let end_block = this.ctx.append_basic_block(this.func, "join_end");
            for i in 0..max_items {
                let at =
                    this.builder
                        .build_int_add(base, this.const_u64(8 * u64::from(i)), "at")?;
                let at = this.builder.build_int_to_ptr(at, this.ptr_ty(), "atp")?;
                this.builder.build_store(slot, this.const_u64(0))?;
                this.helper(read, &[slot.into(), this.const_u64(8).into(), at.into()])?;
                let item = this
                    .builder
                    .build_load(this.i64(), slot, "item")?
                    .into_int_value();
                let end = this.builder.build_int_compare(
                    IntPredicate::EQ,
                    item,
                    this.const_u64(0),
                    "end",
                )?;
                let copy = this.ctx.append_basic_block(this.func, "join_item");
                this.builder
                    .build_conditional_branch(end, end_block, copy)?;
                this.builder.position_at_end(copy);
                let dst = this.offset(data, u64::from(i * item_len))?;
                let src = this.builder.build_int_to_ptr(item, this.ptr_ty(), "src")?;
                let len = this.const_u64(u64::from(item_len));
                this.helper(read_str, &[dst.into(), len.into(), src.into()])?;
            }
            this.builder.build_unconditional_branch(end_block)?;
            this.builder.position_at_end(end_block);
            Ok(())
        })
    }

    /// `map_update_elem`; a failure (the map is full) is counted so user space reports it.
    fn update_map(
        &self,
        map: PointerValue<'ctx>,
        key: PointerValue<'ctx>,
        value: PointerValue<'ctx>,
    ) -> R<()> {
        let rc = self.helper(
            Helper::MapUpdateElem,
            &[
                map.into(),
                key.into(),
                value.into(),
                self.const_u64(helpers::BPF_ANY).into(),
            ],
        )?;
        let failed =
            self.builder
                .build_int_compare(IntPredicate::SLT, rc, self.const_u64(0), "failed")?;
        let count = self.ctx.append_basic_block(self.func, "map_full");
        let done = self.ctx.append_basic_block(self.func, "updated");
        self.builder.build_conditional_branch(failed, count, done)?;
        self.builder.position_at_end(count);
        self.bump_counter(self.globals.map_full)?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        Ok(())
    }

    /// Adds one to slot 0 of a one-entry per-CPU array.
    fn bump_counter(&self, map: GlobalValue<'ctx>) -> R<()> {
        let key = self.alloca(8, "k0")?;
        self.builder
            .build_store(key, self.ctx.i32_type().const_zero())?;
        let p = self.helper_ptr(
            Helper::MapLookupElem,
            &[self.global_ptr(map).into(), key.into()],
            "cnt",
        )?;
        let is_null = self.builder.build_is_null(p, "isnull")?;
        let inc = self.ctx.append_basic_block(self.func, "inc");
        let done = self.ctx.append_basic_block(self.func, "incdone");
        self.builder.build_conditional_branch(is_null, done, inc)?;
        self.builder.position_at_end(inc);
        let old = self
            .builder
            .build_load(self.i64(), p, "old")?
            .into_int_value();
        let new = self.builder.build_int_add(old, self.const_u64(1), "new")?;
        self.builder.build_store(p, new)?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        Ok(())
    }

    // ---- expressions --------------------------------------------------------------------

    /// Lowers an expression that must be an integer.
    pub fn int(&mut self, e: &Expr) -> R<IntValue<'ctx>> {
        match self.expr(e)? {
            Val::Int(i) => Ok(i),
            Val::Mem(p) => {
                // Non-register values used as integers (e.g. pointers held in memory) are
                // read as a u64; the checker only allows this for integer-like types.
                Ok(self
                    .builder
                    .build_load(self.i64(), p, "asint")?
                    .into_int_value())
            }
        }
    }

    fn truthy(&mut self, e: &Expr) -> R<IntValue<'ctx>> {
        let v = self.int(e)?;
        Ok(self
            .builder
            .build_int_compare(IntPredicate::NE, v, self.const_u64(0), "truthy")?)
    }

    fn bool_to_i64(&self, b: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        Ok(self.builder.build_int_z_extend(b, self.i64(), "b")?)
    }

    /// Runs `lower` with the instructions it builds attributed to the script text at `span`,
    /// then gives the rest of the enclosing statement or expression its own location back.
    fn located<T>(&mut self, span: Span, lower: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
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

    pub fn expr(&mut self, e: &Expr) -> R<Val<'ctx>> {
        self.located(e.span, |this| this.lower_expr(e))
    }

    fn lower_expr(&mut self, e: &Expr) -> R<Val<'ctx>> {
        match &e.kind {
            ExprKind::Int(i) => Ok(Val::Int(self.i64().const_int(*i as u64, true))),
            ExprKind::Str(bytes) => {
                let size = e.ty.size().max(1);
                let slot = self.alloca(size, "str")?;
                self.memset(slot, size)?;
                for (i, chunk) in bytes.chunks(8).enumerate() {
                    let mut word = [0u8; 8];
                    word[..chunk.len()].copy_from_slice(chunk);
                    let at = self.offset(slot, 8 * i as u64)?;
                    let n = (chunk.len() as u32).min(size - 8 * i as u32);
                    let it = self.int_ty(n.next_power_of_two().min(8));
                    if n == 8 || n.is_power_of_two() {
                        let st = self
                            .builder
                            .build_store(at, it.const_int(u64::from_le_bytes(word), false))?;
                        let _ = st.set_alignment(1);
                    } else {
                        for (j, b) in chunk.iter().enumerate() {
                            let bat = self.offset(at, j as u64)?;
                            self.builder.build_store(
                                bat,
                                self.ctx.i8_type().const_int(u64::from(*b), false),
                            )?;
                        }
                    }
                }
                Ok(Val::Mem(slot))
            }
            ExprKind::Builtin(b) => context::builtin(self, *b, &e.ty),
            ExprKind::Var(v) => {
                let slot = self.var_slot(*v)?;
                self.load_val(slot, &e.ty)
            }
            ExprKind::MapRead { map, key } => {
                let spec = self.map_spec(*map)?;
                let key_ptr = self.key(spec, key.as_deref(), None)?;
                let m = self.global_ptr(self.globals.maps[*map as usize]);
                let found_ptr =
                    self.helper_ptr(Helper::MapLookupElem, &[m.into(), key_ptr.into()], "val")?;
                let size = spec.value.size().max(8);
                let out = self.alloca(size, "mapval")?;
                self.memset(out, size)?;
                let is_null = self.builder.build_is_null(found_ptr, "isnull")?;
                let copy = self.ctx.append_basic_block(self.func, "copy");
                let done = self.ctx.append_basic_block(self.func, "read");
                self.builder.build_conditional_branch(is_null, done, copy)?;
                self.builder.position_at_end(copy);
                self.memcpy(out, found_ptr, spec.value.size())?;
                self.builder.build_unconditional_branch(done)?;
                self.builder.position_at_end(done);
                match &spec.value {
                    Type::Agg(Aggregation::Avg) | Type::Agg(Aggregation::Stats) => {
                        let c = self
                            .builder
                            .build_load(self.i64(), out, "c")?
                            .into_int_value();
                        let t_at = self.offset(out, 8)?;
                        let t = self
                            .builder
                            .build_load(self.i64(), t_at, "t")?
                            .into_int_value();
                        let is_zero = self.builder.build_int_compare(
                            IntPredicate::EQ,
                            c,
                            self.const_u64(0),
                            "z",
                        )?;
                        let one = self.const_u64(1);
                        let c = self
                            .builder
                            .build_select(is_zero, one, c, "c1")?
                            .into_int_value();
                        Ok(Val::Int(self.signed_div(t, c, false)?))
                    }
                    ty => self.load_val(out, ty),
                }
            }
            ExprKind::Unary { op, expr } => {
                let v = self.int(expr)?;
                Ok(Val::Int(match op {
                    Unary::Neg => self.builder.build_int_neg(v, "neg")?,
                    Unary::BitNot => self.builder.build_not(v, "not")?,
                    Unary::Not => {
                        let z = self.builder.build_int_compare(
                            IntPredicate::EQ,
                            v,
                            self.const_u64(0),
                            "lnot",
                        )?;
                        self.bool_to_i64(z)?
                    }
                }))
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs),
            ExprKind::StrCmp { equal, lhs, rhs } => {
                let len = lhs.ty.size().min(rhs.ty.size());
                let a = self.mem(lhs)?;
                let b = self.mem(rhs)?;
                let eq = crate::strings::equal(self, a, b, len)?;
                let r = if *equal {
                    eq
                } else {
                    self.builder.build_not(eq, "ne")?
                };
                Ok(Val::Int(self.bool_to_i64(r)?))
            }
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => {
                let c = self.truthy(cond)?;
                let size = e.ty.size().max(8);
                let out = self.alloca(size, "tern")?;
                let t_bb = self.ctx.append_basic_block(self.func, "t");
                let f_bb = self.ctx.append_basic_block(self.func, "f");
                let done = self.ctx.append_basic_block(self.func, "tdone");
                self.builder.build_conditional_branch(c, t_bb, f_bb)?;
                for (bb, arm) in [(t_bb, then), (f_bb, otherwise)] {
                    self.builder.position_at_end(bb);
                    let v = self.expr(arm)?;
                    if !is_register(&e.ty) {
                        self.memset(out, size)?;
                    }
                    self.store(out, &e.ty, v)?;
                    self.builder.build_unconditional_branch(done)?;
                }
                self.builder.position_at_end(done);
                self.load_val(out, &e.ty)
            }
            ExprKind::Cast(inner) => {
                let v = self.expr(inner)?;
                match (v, is_register(&e.ty)) {
                    (Val::Int(i), true) => Ok(Val::Int(self.convert(i, &e.ty)?)),
                    (v, _) => {
                        // Reinterpreting memory (e.g. int ↔ byte array): copy into the new type.
                        let slot = self.alloca(e.ty.size().max(8), "cast")?;
                        self.memset(slot, e.ty.size().max(8))?;
                        // Copy no more than both sides hold (a longer string is cut).
                        let copy_ty = if inner.ty.size() <= e.ty.size() {
                            &inner.ty
                        } else {
                            &e.ty
                        };
                        self.store(slot, copy_ty, v)?;
                        if let (Type::Str { len }, true) = (&e.ty, inner.ty.size() > e.ty.size()) {
                            // A cut string still ends in NUL, as bpftrace's strings do.
                            let last = self.offset(slot, u64::from(len.saturating_sub(1)))?;
                            self.builder
                                .build_store(last, self.ctx.i8_type().const_zero())?;
                        }
                        self.load_val(slot, &e.ty)
                    }
                }
            }
            ExprKind::Tuple(items) => {
                let (offsets, size) =
                    tuple_layout(&items.iter().map(|i| i.ty.clone()).collect::<Vec<_>>());
                let slot = self.alloca(size.max(8), "tuple")?;
                self.memset(slot, size.max(8))?;
                for (item, off) in items.iter().zip(offsets) {
                    let v = self.expr(item)?;
                    let at = self.offset(slot, u64::from(off))?;
                    self.store(at, &item.ty, v)?;
                }
                Ok(Val::Mem(slot))
            }
            ExprKind::TupleIndex { expr, index } => {
                let Type::Tuple(elems) = &expr.ty else {
                    return Err(CodegenError::Internal("tuple index on a non-tuple".into()));
                };
                let (offsets, _) = tuple_layout(elems);
                let base = self.mem(expr)?;
                let off = offsets.get(*index as usize).copied().unwrap_or(0);
                let at = self.offset(base, u64::from(off))?;
                self.load_val(at, &e.ty)
            }
            ExprKind::TracepointField { offset, data_loc } => {
                context::tracepoint_field(self, *offset, *data_loc, &e.ty)
            }
            ExprKind::Load { ptr, offset, space } => {
                let p = self.int(ptr)?;
                let addr =
                    self.builder
                        .build_int_add(p, self.const_u64(u64::from(*offset)), "addr")?;
                self.probe_read(addr, &e.ty, *space)
            }
            ExprKind::Member { expr, offset } => {
                let base = self.mem(expr)?;
                let at = self.offset(base, u64::from(*offset))?;
                self.load_val(at, &e.ty)
            }
            ExprKind::Call { func, args } => crate::calls::call(self, *func, args, &e.ty),
            ExprKind::MapLen { map } => Ok(Val::Int(crate::callbacks::map_len(self, *map)?)),
            ExprKind::HasKey { map, key } => {
                let spec = self.map_spec(*map)?;
                let key_ptr = self.key(spec, Some(key), None)?;
                let m = self.global_ptr(self.globals.maps[*map as usize]);
                let found = self.helper(Helper::MapLookupElem, &[m.into(), key_ptr.into()])?;
                let nz = self.builder.build_int_compare(
                    IntPredicate::NE,
                    found,
                    self.const_u64(0),
                    "has",
                )?;
                Ok(Val::Int(self.bool_to_i64(nz)?))
            }
        }
    }

    /// The address of a non-register value (copying registers into memory if needed).
    pub fn mem(&mut self, e: &Expr) -> R<PointerValue<'ctx>> {
        match self.expr(e)? {
            Val::Mem(p) => Ok(p),
            v @ Val::Int(_) => self.materialize(v, &e.ty),
        }
    }

    /// Reads a value of type `ty` from kernel or user memory at `addr` into the stack.
    pub fn probe_read(
        &mut self,
        addr: IntValue<'ctx>,
        ty: &Type,
        space: AddrSpace,
    ) -> R<Val<'ctx>> {
        let size = ty.size().max(1);
        let slot = self.alloca(size.max(8), "read")?;
        self.memset(slot, size.max(8))?;
        let src = self.builder.build_int_to_ptr(addr, self.ptr_ty(), "src")?;
        let h = match space {
            AddrSpace::Kernel => Helper::ProbeReadKernel,
            AddrSpace::User => Helper::ProbeReadUser,
        };
        self.checked_probe_read(
            h,
            &[
                slot.into(),
                self.const_u64(u64::from(size)).into(),
                src.into(),
            ],
        )?;
        self.load_val(slot, ty)
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
    fn convert(&self, v: IntValue<'ctx>, ty: &Type) -> R<IntValue<'ctx>> {
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

    fn binary(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr) -> R<Val<'ctx>> {
        if matches!(op, BinaryOp::LogicalAnd | BinaryOp::LogicalOr) {
            // Short-circuit: the right side is only evaluated when it decides the result.
            let out = self.alloca(8, "logic")?;
            let l = self.truthy(lhs)?;
            let l64 = self.bool_to_i64(l)?;
            self.builder.build_store(out, l64)?;
            let rhs_bb = self.ctx.append_basic_block(self.func, "rhs");
            let done = self.ctx.append_basic_block(self.func, "logic_done");
            if op == BinaryOp::LogicalAnd {
                self.builder.build_conditional_branch(l, rhs_bb, done)?;
            } else {
                self.builder.build_conditional_branch(l, done, rhs_bb)?;
            }
            self.builder.position_at_end(rhs_bb);
            let r = self.truthy(rhs)?;
            let r64 = self.bool_to_i64(r)?;
            self.builder.build_store(out, r64)?;
            self.builder.build_unconditional_branch(done)?;
            self.builder.position_at_end(done);
            return Ok(Val::Int(
                self.builder
                    .build_load(self.i64(), out, "l")?
                    .into_int_value(),
            ));
        }
        let signed = lhs.ty.is_signed() || rhs.ty.is_signed();
        let l = self.int(lhs)?;
        let r = self.int(rhs)?;
        let b = &self.builder;
        let cmp = |p: IntPredicate| -> R<Val<'ctx>> {
            let c = b.build_int_compare(p, l, r, "cmp")?;
            Ok(Val::Int(b.build_int_z_extend(c, self.i64(), "b")?))
        };
        let (lt, le, gt, ge) = if signed {
            (
                IntPredicate::SLT,
                IntPredicate::SLE,
                IntPredicate::SGT,
                IntPredicate::SGE,
            )
        } else {
            (
                IntPredicate::ULT,
                IntPredicate::ULE,
                IntPredicate::UGT,
                IntPredicate::UGE,
            )
        };
        Ok(match op {
            BinaryOp::Add => Val::Int(b.build_int_add(l, r, "add")?),
            BinaryOp::Sub => Val::Int(b.build_int_sub(l, r, "sub")?),
            BinaryOp::Mul => Val::Int(b.build_int_mul(l, r, "mul")?),
            BinaryOp::Div | BinaryOp::Mod => {
                // Division by zero yields 0 in BPF; the explicit guard keeps that defined
                // for signed division too.
                let is_zero = b.build_int_compare(IntPredicate::EQ, r, self.const_u64(0), "dz")?;
                let safe = b
                    .build_select(is_zero, self.const_u64(1), r, "den")?
                    .into_int_value();
                let q = if signed {
                    self.signed_div(l, safe, op == BinaryOp::Mod)?
                } else if op == BinaryOp::Div {
                    b.build_int_unsigned_div(l, safe, "div")?
                } else {
                    b.build_int_unsigned_rem(l, safe, "rem")?
                };
                Val::Int(
                    b.build_select(is_zero, self.const_u64(0), q, "q")?
                        .into_int_value(),
                )
            }
            BinaryOp::BitAnd => Val::Int(b.build_and(l, r, "and")?),
            BinaryOp::BitOr => Val::Int(b.build_or(l, r, "or")?),
            BinaryOp::BitXor => Val::Int(b.build_xor(l, r, "xor")?),
            BinaryOp::Shl => Val::Int(b.build_left_shift(l, r, "shl")?),
            BinaryOp::Shr => Val::Int(b.build_right_shift(l, r, signed, "shr")?),
            BinaryOp::Eq => cmp(IntPredicate::EQ)?,
            BinaryOp::Ne => cmp(IntPredicate::NE)?,
            BinaryOp::Lt => cmp(lt)?,
            BinaryOp::Le => cmp(le)?,
            BinaryOp::Gt => cmp(gt)?,
            BinaryOp::Ge => cmp(ge)?,
            BinaryOp::LogicalAnd | BinaryOp::LogicalOr => {
                return Err(CodegenError::Internal(
                    "logical operator reached arithmetic lowering".into(),
                ))
            }
        })
    }

    /// The dynamic-offset variant of [`Self::offset`], for data_loc strings.
    pub fn offset_by(&self, ptr: PointerValue<'ctx>, off: IntValue<'ctx>) -> R<PointerValue<'ctx>> {
        self.offset_dyn(ptr, off)
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
    /// Bytes of scratch memory handed out so far (scratch slots are never re-laid out).
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
        | Type::CgroupPath
        | Type::Strerror
        | Type::None => true,
        Type::Agg(agg) => matches!(
            agg,
            Aggregation::Count | Aggregation::Sum | Aggregation::Min | Aggregation::Max
        ),
        Type::Stack { user, .. } => !user,
        Type::Str { .. }
        | Type::Buffer { .. }
        | Type::Tuple(_)
        | Type::Array { .. }
        | Type::Record(_)
        | Type::Inet
        | Type::MacAddr
        | Type::Usym
        | Type::Timestamp => false,
    }
}

//! The statement and expression walker: lowers one hir probe into one BPF function (plus the
//! callbacks of its `for` loops, see `callbacks`) on top of the IR builder in `ir`. It owns
//! control flow, operators, casts, tuples, map reads and updates, aggregations and the events
//! statements send; builtins and calls are lowered by `context` and `calls`, which evaluate
//! their arguments through the [`Walk`] trait this module implements.

use crate::helpers::Helper;
use crate::ir::{is_register, Lowerer, Val, Walk};
use crate::{context, CodegenError};
use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;
use lang::ast::BinaryOp;
use lang::hir::{self, Expr, ExprKind, Stmt, StmtKind, Unary};
use stdlib::abi::record;
use stdlib::builtins::Builtin;
use stdlib::manifest::{Attach, Event, MapSpec, OptionDefault, RunValue};
use stdlib::types::{tuple_layout, AddrSpace, Aggregation, Type};

type R<T> = Result<T, CodegenError>;

/// tseries() returns to its own lowering before the counters' code is reached.
/// The comparison by which a new value replaces what a min (`min`) or max aggregation holds:
/// smaller or greater, compared as the aggregated values' signedness says (bpftrace 0.27
/// keeps the maximum of unsigned values above 2^63, not the one that looks positive).
pub(crate) fn min_max_order(min: bool, signed: bool) -> IntPredicate {
    match (min, signed) {
        (true, true) => IntPredicate::SLT,
        (true, false) => IntPredicate::ULT,
        (false, true) => IntPredicate::SGT,
        (false, false) => IntPredicate::UGT,
    }
}

fn tseries_lowered() -> CodegenError {
    CodegenError::Internal("tseries reached the counters' lowering".into())
}

impl<'ctx> Walk<'ctx> for Lowerer<'_, 'ctx> {
    fn expr(&mut self, e: &Expr) -> R<Val<'ctx>> {
        self.located(e.span, |this| this.lower_expr(e))
    }

    fn int(&mut self, e: &Expr) -> R<IntValue<'ctx>> {
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

    fn mem(&mut self, e: &Expr) -> R<PointerValue<'ctx>> {
        match self.expr(e)? {
            Val::Mem(p) => Ok(p),
            v @ Val::Int(_) => self.materialize(v, &e.ty),
        }
    }

    fn stmts(&mut self, stmts: &[Stmt]) -> R<()> {
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
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// Lowers the whole probe: variables, predicate, body, `return 0`.
    pub fn lower_probe(mut self) -> R<()> {
        self.builder
            .set_current_debug_location(self.locator.at(self.probe.span));
        self.probe_ctx = self.func.get_first_param().map(|p| p.into_pointer_value());
        self.vars = vec![None; self.probe.vars.len()];
        self.allocate_vars(&self.probe.locals)?;
        self.skip_after_exit()?;
        if self.probe.provider == stdlib::probes::Provider::Iter {
            // An iterator calls its program once more after the last object, with a NULL
            // object (the field after `meta` in every `bpf_iter__*` context) to say it is
            // done; bpftrace runs the probe's body only for real objects.
            let object = crate::context::ctx_u64(&self, 8)?;
            let zero = self.const_u64(0);
            let present =
                self.builder
                    .build_int_compare(IntPredicate::NE, object, zero, "object")?;
            let body = self.ctx.append_basic_block(self.func, "object");
            let skip = self.ctx.append_basic_block(self.func, "no_object");
            self.builder.build_conditional_branch(present, body, skip)?;
            self.builder.position_at_end(skip);
            self.builder.build_return(Some(&zero))?;
            self.builder.position_at_end(body);
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

    fn stmt(&mut self, s: &Stmt) -> R<()> {
        match &s.kind {
            StmtKind::Expr(e) => {
                self.expr(e)?;
            }
            StmtKind::AssignVar { var, value } => {
                let v = self.expr(value)?;
                let slot = self.var_slot(*var)?;
                let ty = &self.probe.vars[*var as usize];
                // An integer is a register already extended by its own type: it is stored
                // at the variable's width (a variable may be wider than a value, when a later
                // assignment widened it).
                let store_ty = if ty.is_int() && value.ty.is_int() {
                    ty.clone()
                } else {
                    value.ty.clone()
                };
                self.store(slot, &store_ty, v)?;
                // A shorter value leaves the rest of the variable zeroed. Only the rest, and
                // after the copy: the value may be the variable's own memory (`$s = $s`).
                let tail = ty.size().saturating_sub(store_ty.size());
                if !is_register(ty) && tail > 0 {
                    let rest = self.offset(slot, u64::from(store_ty.size()))?;
                    let align = 1 << store_ty.size().trailing_zeros().min(3);
                    self.memset_aligned(rest, tail, align)?;
                }
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
                frame,
                body,
            } => {
                let s = self.int(start)?;
                let e = self.int(end)?;
                crate::callbacks::for_range(self, *var, s, e, self.frame(*frame)?, body)?
            }
            StmtKind::ForMap {
                var,
                map,
                frame,
                body,
            } => crate::callbacks::for_map(self, *var, *map, self.frame(*frame)?, body)?,
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
            // Only a test probe's result is read (by `--test`); other programs return 0,
            // which fentry and iterator programs must (the verifier checks).
            StmtKind::Return(value) => {
                let value = match (value, &self.probe.attach) {
                    (Some(e), Attach::Test { .. }) => self.int(e)?,
                    (Some(e), _) => {
                        self.expr(e)?;
                        self.const_u64(0)
                    }
                    (None, _) => self.const_u64(0),
                };
                self.return_from_probe(value)?
            }
        }
        Ok(())
    }

    /// Builds the map key in stack memory; histograms append the bucket index.
    pub(crate) fn key(
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

    /// The address an `ExprKind::Load` reads: `offset` bytes into what `ptr` points to, or,
    /// for a kernel struct's field, where the running kernel has that field (what follows
    /// the field, an array element, keeps its compile-time distance).
    pub(crate) fn load_address(
        &self,
        ptr: IntValue<'ctx>,
        offset: u32,
        core: Option<&lang::hir::CoreAccess>,
    ) -> R<IntValue<'ctx>> {
        match core.and_then(|c| Some((c, c.local_offset()?))) {
            Some((c, at)) if at <= offset => {
                crate::core::field_address(self, ptr, c, u64::from(offset - at))
            }
            _ => Ok(self
                .builder
                .build_int_add(ptr, self.const_u64(u64::from(offset)), "addr")?),
        }
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
            Aggregation::Tseries {
                interval_ns,
                intervals,
                reduce,
                signed,
            } => return self.tseries(map, key, v, interval_ns, intervals, reduce, signed),
            Aggregation::Hist { bits } => Some(crate::hist::log2_bucket(self, v, bits)?),
            Aggregation::Lhist { min, max, step } => {
                Some(crate::hist::linear_bucket(self, v, min, max, step)?)
            }
            Aggregation::Count
            | Aggregation::Sum { .. }
            | Aggregation::Avg { .. }
            | Aggregation::Min { .. }
            | Aggregation::Max { .. }
            | Aggregation::Stats { .. } => None,
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
            | Aggregation::Sum { .. } => {
                let old = self
                    .builder
                    .build_load(i64t, first, "old")?
                    .into_int_value();
                let new = self.builder.build_int_add(old, step, "new")?;
                self.builder.build_store(first, new)?;
            }
            Aggregation::Avg { .. } | Aggregation::Stats { .. } => {
                let c = self.builder.build_load(i64t, first, "c")?.into_int_value();
                let c1 = self.builder.build_int_add(c, self.const_u64(1), "c1")?;
                self.builder.build_store(first, c1)?;
                let t = self.builder.build_load(i64t, second, "t")?.into_int_value();
                let t1 = self.builder.build_int_add(t, v, "t1")?;
                self.builder.build_store(second, t1)?;
            }
            Aggregation::Tseries { .. } => return Err(tseries_lowered()),
            Aggregation::Min { signed } | Aggregation::Max { signed } => {
                let old = self
                    .builder
                    .build_load(i64t, first, "old")?
                    .into_int_value();
                let pred = min_max_order(matches!(agg, Aggregation::Min { .. }), signed);
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
            | Aggregation::Sum { .. } => {
                self.builder.build_store(val, step)?;
            }
            Aggregation::Avg { .. } | Aggregation::Stats { .. } => {
                self.builder.build_store(val, self.const_u64(1))?;
                self.builder.build_store(second, v)?;
            }
            Aggregation::Tseries { .. } => return Err(tseries_lowered()),
            Aggregation::Min { .. } | Aggregation::Max { .. } => {
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
        if let Event::Exit = ev {
            self.mark_exited()?;
        }
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
        if lang::check::scratch::stages_args(&arg_types) {
            return self.emit_staged(event, args, &arg_types, &offsets, size);
        }
        // Evaluate arguments before reserving, so no helper runs while a record is held.
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            vals.push(self.expr(a)?);
        }
        self.with_record(event, size, |this, rec| {
            for ((v, ty), off) in vals.into_iter().zip(&arg_types).zip(offsets) {
                let at = this.offset(rec, u64::from(record::HEADER + off))?;
                if !is_register(ty) {
                    this.memset(at, ty.size())?;
                }
                this.store(at, ty, v)?;
            }
            Ok(())
        })
    }

    /// An event with too many small arguments to hold them all until the record is reserved
    /// (`lang::check::scratch::stages_args`): each is stored in a scratch copy of the payload
    /// as soon as it is computed, its temporaries freed for the next one, and the copy goes
    /// into the record once reserved.
    fn emit_staged(
        &mut self,
        event: hir::EventId,
        args: &[Expr],
        arg_types: &[Type],
        offsets: &[u32],
        size: u32,
    ) -> R<()> {
        let stage = self.alloca(size, "stage")?;
        for ((a, ty), off) in args.iter().zip(arg_types).zip(offsets) {
            let mark = self.slot_mark();
            let v = self.expr(a)?;
            let at = self.offset(stage, u64::from(*off))?;
            if !is_register(ty) {
                self.memset(at, ty.size())?;
            }
            self.store(at, ty, v)?;
            self.release_slots(mark);
        }
        self.with_record(event, size, |this, rec| {
            let at = this.offset(rec, u64::from(record::HEADER))?;
            this.memcpy(at, stage, size)
        })
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
        let (read, read_str) = (
            self.read_helper(space, false),
            self.read_helper(space, true),
        );
        let slot = self.alloca(8, "argp")?;
        self.with_record(event, payload, |this, rec| {
            let data = this.offset(rec, u64::from(record::HEADER))?;
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

    fn truthy(&mut self, e: &Expr) -> R<IntValue<'ctx>> {
        let v = self.int(e)?;
        Ok(self
            .builder
            .build_int_compare(IntPredicate::NE, v, self.const_u64(0), "truthy")?)
    }

    fn lower_expr(&mut self, e: &Expr) -> R<Val<'ctx>> {
        match &e.kind {
            ExprKind::Int(i) => Ok(Val::Int(self.i64().const_int(*i as u64, true))),
            ExprKind::RunValue(slot) => {
                let Some(g) = self.globals.run_values else {
                    return Err(CodegenError::Internal(
                        "a run-time value without its .rodata global".into(),
                    ));
                };
                let (offsets, _) = stdlib::manifest::run_values_layout(&self.script.run_values);
                let (Some(offset), Some(value)) = (
                    offsets.get(*slot as usize),
                    self.script.run_values.get(*slot as usize),
                ) else {
                    return Err(CodegenError::Internal(
                        "a run-time value out of range".into(),
                    ));
                };
                let base = self.offset(self.global_ptr(g), u64::from(*offset))?;
                // The runtime writes the values before loading: the compiler must not fold
                // the zeros the object is written with, so every word is a volatile load.
                let word = |this: &Self, i: u32| -> R<IntValue<'ctx>> {
                    let at = this.offset(base, 8 * u64::from(i))?;
                    let v = this.builder.build_load(this.i64(), at, "run_value")?;
                    if let Some(inst) = inkwell::values::BasicValue::as_instruction_value(&v) {
                        let _ = inst.set_volatile(true);
                    }
                    Ok(v.into_int_value())
                };
                match value {
                    RunValue::Cpid
                    | RunValue::Ncpus
                    | RunValue::ParamCount
                    | RunValue::Param(_)
                    | RunValue::ProgramOption {
                        default: OptionDefault::Int(_) | OptionDefault::Bool(_),
                        ..
                    } => Ok(Val::Int(word(self, 0)?)),
                    RunValue::ParamStr { .. }
                    | RunValue::ProgramOption {
                        default: OptionDefault::Str(_),
                        ..
                    } => {
                        let size = value.size();
                        let slot = self.alloca(size, "run_str")?;
                        for i in 0..size / 8 {
                            let w = word(self, i)?;
                            let to = self.offset(slot, 8 * u64::from(i))?;
                            self.builder.build_store(to, w)?;
                        }
                        Ok(Val::Mem(slot))
                    }
                }
            }
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
            // `probe` used as a string: the name of this program's attach point.
            ExprKind::Builtin(Builtin::Probe) if e.ty.is_str() => {
                let name = self
                    .script
                    .probe_names
                    .get(self.probe.probe_index as usize)
                    .cloned()
                    .unwrap_or_default();
                self.lower_expr(&Expr {
                    kind: ExprKind::Str(name.into_bytes()),
                    ty: e.ty.clone(),
                    span: e.span,
                })
            }
            ExprKind::Builtin(b) => context::builtin(self, *b, &e.ty),
            ExprKind::Var(v) => {
                let slot = self.var_slot(*v)?;
                self.load_val(slot, &e.ty)
            }
            ExprKind::VarAddr(v) => {
                let slot = self.var_slot(*v)?;
                let addr = self.builder.build_ptr_to_int(slot, self.i64(), "varaddr")?;
                // The address is copied onto itself by probe_read_kernel: to the verifier it
                // then is a plain number, not a stack pointer, so it can be copied byte by
                // byte (into a `for` body's context), or-ed (LLVM turns `+ 1` of an aligned
                // address into `| 1`) and stored anywhere, as values are.
                let tmp = self.alloca(8, "addr")?;
                self.builder.build_store(tmp, addr)?;
                let eight = self.const_u64(8);
                self.helper(
                    Helper::ProbeReadKernel,
                    &[tmp.into(), eight.into(), tmp.into()],
                )?;
                let v = self
                    .builder
                    .build_load(self.i64(), tmp, "addr")?
                    .into_int_value();
                Ok(Val::Int(v))
            }
            ExprKind::MapRead { map, key } => {
                let spec = self.map_spec(*map)?;
                let key_ptr = self.key(spec, key.as_deref(), None)?;
                // `-k`: a key that is not there is reported (as bpftrace does, as a failed
                // map_lookup_elem returning 0) before the read gives zero.
                let site = self
                    .globals
                    .helper_errors
                    .as_ref()
                    .map(|errors| errors.site("map_lookup_elem", e.span));
                // An aggregation has a slot per CPU: its value is all of them combined, as
                // user space prints it, not this CPU's share. The lookup below then only
                // serves `-k`.
                let agg = match &spec.value {
                    Type::Agg(agg) => Some(*agg),
                    _ => None,
                };
                if let (Some(agg), None) = (agg, site) {
                    return crate::callbacks::agg_read(self, *map, key_ptr, agg);
                }
                let m = self.global_ptr(self.globals.maps[*map as usize]);
                let found_ptr =
                    self.helper_ptr(Helper::MapLookupElem, &[m.into(), key_ptr.into()], "val")?;
                let size = spec.value.size().max(8);
                let out = self.alloca(size, "mapval")?;
                self.memset(out, size)?;
                let is_null = self.builder.build_is_null(found_ptr, "isnull")?;
                let copy = self.ctx.append_basic_block(self.func, "copy");
                let done = self.ctx.append_basic_block(self.func, "read");
                match site {
                    Some(event) => {
                        let missing = self.ctx.append_basic_block(self.func, "missing");
                        self.builder
                            .build_conditional_branch(is_null, missing, copy)?;
                        self.builder.position_at_end(missing);
                        self.with_record(event, 8, |l, rec| {
                            let at = l.offset(rec, u64::from(record::HEADER))?;
                            l.builder.build_store(at, l.const_u64(0))?;
                            Ok(())
                        })?;
                        self.builder.build_unconditional_branch(done)?;
                    }
                    None => {
                        self.builder.build_conditional_branch(is_null, done, copy)?;
                    }
                }
                self.builder.position_at_end(copy);
                if agg.is_none() {
                    self.memcpy(out, found_ptr, spec.value.size())?;
                }
                self.builder.build_unconditional_branch(done)?;
                self.builder.position_at_end(done);
                match agg {
                    Some(agg) => crate::callbacks::agg_read(self, *map, key_ptr, agg),
                    None => self.load_val(out, &spec.value),
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
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, None),
            ExprKind::CheckedDivide {
                op,
                lhs,
                rhs,
                warning,
            } => self.binary(*op, lhs, rhs, Some(*warning)),
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
                if inner.ty.elems().is_some() && e.ty.elems().is_some() {
                    let src = self.mem(inner)?;
                    return Ok(Val::Mem(self.convert_tuple(src, &inner.ty, &e.ty)?));
                }
                let v = self.expr(inner)?;
                match (v, is_register(&e.ty)) {
                    (Val::Int(i), true) => Ok(Val::Int(self.convert(i, &e.ty)?)),
                    (Val::Int(i), false) => {
                        // An integer's bytes as an array: the whole integer goes into a zeroed
                        // slot that holds both, and the array takes its first bytes.
                        let size = e.ty.size().max(inner.ty.size()).max(8);
                        let slot = self.alloca(size, "cast")?;
                        self.memset(slot, size)?;
                        self.store(slot, &inner.ty, Val::Int(i))?;
                        self.load_val(slot, &e.ty)
                    }
                    (v, _) => {
                        // Reinterpreting memory (e.g. byte array → int): copy into the new type.
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
                let Some(elems) = expr.ty.elems() else {
                    return Err(CodegenError::Internal("tuple index on a non-tuple".into()));
                };
                let (offsets, _) = tuple_layout(elems);
                let base = self.mem(expr)?;
                let off = offsets.get(*index as usize).copied().unwrap_or(0);
                let at = self.offset(base, u64::from(off))?;
                self.load_val(at, &e.ty)
            }
            ExprKind::ContextField {
                offset,
                data_loc,
                core,
            } => context::context_field(self, *offset, *data_loc, core.as_deref(), &e.ty),
            ExprKind::Load {
                ptr,
                offset,
                space,
                core,
            } => {
                let p = self.int(ptr)?;
                if let Some(c) = core.as_deref().filter(|c| c.ends_at_bitfield()) {
                    return Ok(Val::Int(crate::core::bitfield_value(self, p, c)?));
                }
                let addr = self.load_address(p, *offset, core.as_deref())?;
                self.probe_read(addr, &e.ty, *space)
            }
            ExprKind::StrIndex { expr, index } => self.str_index(expr, index),
            ExprKind::Member { expr, offset } => {
                let base = self.mem(expr)?;
                let at = self.offset(base, u64::from(*offset))?;
                self.load_val(at, &e.ty)
            }
            ExprKind::Call { func, args } => crate::calls::call(self, *func, args, &e.ty),
            ExprKind::SkbOutput { event, skb, len } => {
                crate::calls::skb_output(self, *event, skb, len)
            }
            ExprKind::MapLen { map } => Ok(Val::Int(crate::callbacks::map_len(self, *map)?)),
            ExprKind::CommOf { pid, comm, core } => {
                crate::kfuncs::comm_of(self, pid, *comm, core.as_deref())
            }
            ExprKind::PercpuKaddr { symbol, var, cpu } => {
                crate::kfuncs::percpu_kaddr(self, symbol, var, cpu.as_deref())
            }
            ExprKind::Block { stmts, value } => {
                self.stmts(stmts)?;
                if self.terminated() {
                    // After a `return` in the block its value is unreachable.
                    let dead = self.ctx.append_basic_block(self.func, "dead");
                    self.builder.position_at_end(dead);
                }
                self.expr(value)
            }
            ExprKind::Delete { map, key } => {
                let spec = self.map_spec(*map)?;
                let key_ptr = self.key(spec, key.as_deref(), None)?;
                let m = self.global_ptr(self.globals.maps[*map as usize]);
                let status = self.helper(Helper::MapDeleteElem, &[m.into(), key_ptr.into()])?;
                let removed = self.builder.build_int_compare(
                    IntPredicate::EQ,
                    status,
                    self.const_u64(0),
                    "removed",
                )?;
                Ok(Val::Int(self.bool_to_i64(removed)?))
            }
            ExprKind::Find { map, key, var } => {
                let spec = self.map_spec(*map)?;
                let key_ptr = self.key(spec, Some(key), None)?;
                let value_ty = spec.value.clone();
                let m = self.global_ptr(self.globals.maps[*map as usize]);
                let found =
                    self.helper_ptr(Helper::MapLookupElem, &[m.into(), key_ptr.into()], "val")?;
                let is_null = self.builder.build_is_null(found, "isnull")?;
                let copy = self.ctx.append_basic_block(self.func, "found");
                let done = self.ctx.append_basic_block(self.func, "find_done");
                self.builder.build_conditional_branch(is_null, done, copy)?;
                self.builder.position_at_end(copy);
                let slot = self.var_slot(*var)?;
                let var_ty = self.probe.vars[*var as usize].clone();
                if !is_register(&var_ty) {
                    self.memset(slot, var_ty.size())?;
                }
                match value_ty {
                    // Each CPU has its own slot: the value is all of them combined.
                    Type::Agg(agg) => {
                        let v = crate::callbacks::agg_read(self, *map, key_ptr, agg)?;
                        self.store(slot, &var_ty, v)?;
                    }
                    ty => {
                        let v = self.load_val(found, &ty)?;
                        self.store(slot, &ty, v)?;
                    }
                }
                self.builder.build_unconditional_branch(done)?;
                self.builder.position_at_end(done);
                let not_null = self.builder.build_not(is_null, "has")?;
                Ok(Val::Int(self.bool_to_i64(not_null)?))
            }
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

    /// Copies the tuple or record of type `from` at `src` into a new slot laid out for `to`,
    /// converting each element: integers to another width or sign, strings to another
    /// length, nested tuples and records likewise. A record's fields go to the place of
    /// the field of the same name in `to`, which may list them in another order. The
    /// checker asks for this where a tuple is stored as a map's or variable's tuple type.
    fn convert_tuple(
        &mut self,
        src: PointerValue<'ctx>,
        from: &Type,
        to: &Type,
    ) -> R<PointerValue<'ctx>> {
        let (Some(from_elems), Some(to_elems)) = (from.elems(), to.elems()) else {
            return Err(CodegenError::Internal(
                "a tuple conversion of a non-tuple".into(),
            ));
        };
        let (src_offsets, _) = tuple_layout(from_elems);
        let (dst_offsets, size) = tuple_layout(to_elems);
        let slot = self.alloca(size.max(8), "tuple_cast")?;
        self.memset(slot, size.max(8))?;
        for (j, (t, dof)) in to_elems.iter().zip(dst_offsets).enumerate() {
            // The source element that goes to place `j`: the same place in a tuple, the
            // field of the same name in a record.
            let i =
                if let (Type::NamedTuple { names: fnames, .. }, Type::NamedTuple { names, .. }) =
                    (from, to)
                {
                    names
                        .get(j)
                        .and_then(|n| fnames.iter().position(|m| m == n))
                } else {
                    Some(j)
                };
            let found = i.and_then(|i| from_elems.get(i).zip(src_offsets.get(i)));
            let Some((f, &so)) = found else {
                return Err(CodegenError::Internal(
                    "tuple conversion between different shapes".into(),
                ));
            };
            let at = self.offset(src, u64::from(so))?;
            let dst = self.offset(slot, u64::from(dof))?;
            if f != t && f.elems().is_some() && t.elems().is_some() {
                let converted = self.convert_tuple(at, f, t)?;
                self.store(dst, t, Val::Mem(converted))?;
                continue;
            }
            match self.load_val(at, f)? {
                Val::Int(i) if is_register(t) => {
                    let v = self.convert(i, t)?;
                    self.store(dst, t, Val::Int(v))?;
                }
                // A longer string is cut to the slot, a shorter one padded with zeros.
                v => self.store(dst, if f.size() <= t.size() { f } else { t }, v)?,
            }
        }
        Ok(slot)
    }

    /// Whether the values of type `ty` at `a` and `b` are equal (an i1): integers by value,
    /// strings up to their NUL, tuples and arrays element by element.
    fn values_equal(
        &mut self,
        a: PointerValue<'ctx>,
        b: PointerValue<'ctx>,
        ty: &Type,
    ) -> R<IntValue<'ctx>> {
        let all = |l: &mut Self, parts: &[(u32, &Type)]| -> R<IntValue<'ctx>> {
            let mut eq = l.ctx.bool_type().const_int(1, false);
            for (off, t) in parts {
                let x = l.offset(a, u64::from(*off))?;
                let y = l.offset(b, u64::from(*off))?;
                let e = l.values_equal(x, y, t)?;
                eq = l.builder.build_and(eq, e, "and")?;
            }
            Ok(eq)
        };
        match ty {
            Type::Tuple(items) | Type::NamedTuple { elems: items, .. } => {
                let (offsets, _) = tuple_layout(items);
                let parts: Vec<(u32, &Type)> = offsets.into_iter().zip(items).collect();
                all(self, &parts)
            }
            Type::Array { elem, len } => {
                let parts: Vec<(u32, &Type)> = (0..*len)
                    .map(|i| (i * elem.size(), elem.as_ref()))
                    .collect();
                all(self, &parts)
            }
            Type::Str { len } => crate::strings::equal(self, a, b, *len),
            // A user address is the same symbol only in the same process.
            Type::Usym => all(
                self,
                &[
                    (stdlib::abi::usym::ADDR, &stdlib::types::U64),
                    (stdlib::abi::usym::PID, &stdlib::types::U64),
                ],
            ),
            // The length byte and the data: bytes past the length are zero in every buffer,
            // so whole buffers compare equal exactly when their contents do.
            Type::Buffer { len } => {
                let size = len + 1;
                let mut eq = self.ctx.bool_type().const_int(1, false);
                let mut off = 0;
                while off < size {
                    let width = if size - off >= 8 { 8 } else { 1 };
                    let it = self.int_ty(width);
                    let load = |p: PointerValue<'ctx>| -> R<IntValue<'ctx>> {
                        let at = self.offset(p, u64::from(off))?;
                        let v = self.builder.build_load(it, at, "b")?.into_int_value();
                        if let Some(inst) = v.as_instruction() {
                            let _ = inst.set_alignment(1);
                        }
                        Ok(v)
                    };
                    let (x, y) = (load(a)?, load(b)?);
                    let e = self
                        .builder
                        .build_int_compare(IntPredicate::EQ, x, y, "eq")?;
                    eq = self.builder.build_and(eq, e, "and")?;
                    off += width;
                }
                Ok(eq)
            }
            t if is_register(t) => {
                let x = self.load_int(a, t)?;
                let y = self.load_int(b, t)?;
                Ok(self
                    .builder
                    .build_int_compare(IntPredicate::EQ, x, y, "eq")?)
            }
            other => Err(CodegenError::Internal(format!(
                "`==` reached codegen for {}",
                other.display()
            ))),
        }
    }

    /// `$s[$i]`: the byte at a run-time index, or 0 past the string's end. The index is
    /// clamped before the address is formed, so the verifier sees a bounded offset.
    fn str_index(&mut self, s: &Expr, index: &Expr) -> R<Val<'ctx>> {
        let Type::Str { len } = s.ty else {
            return Err(CodegenError::Internal(format!(
                "indexing {} as a string",
                s.ty.display()
            )));
        };
        let base = self.mem(s)?;
        let i = self.int(index)?;
        let b = &self.builder;
        let inside = b.build_int_compare(
            IntPredicate::ULT,
            i,
            self.const_u64(u64::from(len)),
            "inside",
        )?;
        let safe = b
            .build_select(inside, i, self.const_u64(0), "at")?
            .into_int_value();
        let at = crate::llvm::byte_offset(b, self.ctx, base, safe)?;
        let byte = b
            .build_load(self.ctx.i8_type(), at, "chr")?
            .into_int_value();
        let wide = b.build_int_s_extend(byte, self.i64(), "chr64")?;
        let v = b.build_select(inside, wide, self.const_u64(0), "chr_or_0")?;
        Ok(Val::Int(v.into_int_value()))
    }

    /// A shift's amount modulo 64, as BPF's shift instructions take it: LLVM makes a shift
    /// by 64 or more poison, and a program whose amount it could work out as such (`100 >>
    /// $ms` of a known `$ms`) lost its code after the shift ("last insn is not an exit").
    fn shift_amount(&self, r: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        Ok(self.builder.build_and(r, self.const_u64(63), "amount")?)
    }

    /// `warning`: the event a division or modulo by zero emits, when the checker asked for it.
    fn binary(
        &mut self,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        warning: Option<hir::EventId>,
    ) -> R<Val<'ctx>> {
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
        if let (
            Type::Tuple(_)
            | Type::NamedTuple { .. }
            | Type::Array { .. }
            | Type::Usym
            | Type::Buffer { .. },
            BinaryOp::Eq | BinaryOp::Ne,
        ) = (&lhs.ty, op)
        {
            // The checker converted both sides to one type.
            let a = self.mem(lhs)?;
            let b = self.mem(rhs)?;
            let eq = self.values_equal(a, b, &lhs.ty)?;
            let r = if op == BinaryOp::Eq {
                eq
            } else {
                self.builder.build_not(eq, "ne")?
            };
            return Ok(Val::Int(self.bool_to_i64(r)?));
        }
        let signed = lhs.ty.is_signed() || rhs.ty.is_signed();
        let l = self.int(lhs)?;
        let r = self.int(rhs)?;
        if let (Some(event), BinaryOp::Div | BinaryOp::Mod) = (warning, op) {
            self.warn_if_zero(r, event)?;
        }
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
                // Division by zero yields 0 in BPF; bpftrace makes it 1, and the explicit
                // guard keeps that defined for signed division too.
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
                    b.build_select(is_zero, self.const_u64(1), q, "q")?
                        .into_int_value(),
                )
            }
            BinaryOp::BitAnd => Val::Int(b.build_and(l, r, "and")?),
            BinaryOp::BitOr => Val::Int(b.build_or(l, r, "or")?),
            BinaryOp::BitXor => Val::Int(b.build_xor(l, r, "xor")?),
            BinaryOp::Shl => Val::Int(b.build_left_shift(l, self.shift_amount(r)?, "shl")?),
            BinaryOp::Shr => {
                Val::Int(b.build_right_shift(l, self.shift_amount(r)?, signed, "shr")?)
            }
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
}

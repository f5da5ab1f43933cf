//! Callbacks: static BPF functions the kernel calls back. `bpf_for_each_map_elem` (kernel
//! ≥ 5.13) runs the body of `for ($kv : @map)`, lowered as a function of its own, and the
//! element counter behind `len(@map)`; `bpf_loop` (≥ 5.17) runs the body of
//! `for ($i : start..end)` and combines the per-CPU slots of an aggregation for a `for` body. A callback returns 0 to go on, 1 to stop. The context of a
//! `for` body is an array in the caller's stack frame: a "returned" flag and the value
//! returned, the probe's context pointer, then pointers to the variables the body uses, so the body reads and writes the
//! probe's own variables (the verifier follows pointers into the caller's frame).

use crate::context;
use crate::debug::Locator;
use crate::helpers::Helper;
use crate::ir::{Callback, Lowerer, Val, Walk};
use crate::CodegenError;
use inkwell::values::{FunctionValue, IntValue, PointerValue};
use inkwell::IntPredicate;
use lang::hir::{Frame, MapId, Stmt, VarId};
use stdlib::manifest::MapSpec;
use stdlib::types::{tuple_layout, Aggregation, Type};

type R<T> = Result<T, CodegenError>;

/// The one callback every `len()` of the object shares: it counts nothing itself, since
/// `bpf_for_each_map_elem` returns how many elements it visited.
const LEN_CALLBACK: &str = "rbt_len_callback";

/// How many CPUs' slots of a per-CPU aggregation a `for` body combines at most; the loop
/// stops earlier, at the first CPU number the kernel does not have. `bpf_loop` makes the
/// verifier check the step once, whatever the bound.
const MAX_CPUS: u64 = 8192;

/// The two shapes of callback.
#[derive(Clone, Copy)]
enum Shape {
    /// `bpf_for_each_map_elem`: `long f(void *map, void *key, void *value, void *ctx)`.
    MapElem,
    /// `bpf_loop`: `long f(long index, void *ctx)`.
    Loop,
}

/// Declares a callback of `shape` (a static function, [`Lowerer::static_function`]).
fn declare<'a, 'ctx>(
    l: &Lowerer<'a, 'ctx>,
    name: &str,
    shape: Shape,
) -> (FunctionValue<'ctx>, Locator<'a, 'ctx>) {
    let ptr = l.ptr_ty().into();
    let (params, names): (Vec<_>, &[&str]) = match shape {
        Shape::MapElem => (vec![ptr; 4], &["map", "key", "value", "ctx"]),
        Shape::Loop => (vec![l.i64().into(), ptr], &["index", "ctx"]),
    };
    l.static_function(name, &params, names)
}

/// A name no function of the module has yet: `base_suffixN`.
fn fresh_name(l: &Lowerer<'_, '_>, base: &str, suffix: &str) -> String {
    (0..)
        .map(|i| format!("{base}_{suffix}{i}"))
        .find(|n| l.module.get_function(n).is_none())
        .unwrap_or_default()
}

fn param<'ctx>(func: FunctionValue<'ctx>, i: u32) -> R<PointerValue<'ctx>> {
    func.get_nth_param(i)
        .map(|p| p.into_pointer_value())
        .ok_or_else(|| CodegenError::Internal(format!("callback without parameter {i}")))
}

/// `len(@map)`: the number of elements, as `bpf_for_each_map_elem` counts them.
pub fn map_len<'ctx>(l: &mut Lowerer<'_, 'ctx>, map: MapId) -> R<IntValue<'ctx>> {
    let callback = match l.module.get_function(LEN_CALLBACK) {
        Some(f) => f,
        None => {
            let (f, _) = declare(l, LEN_CALLBACK, Shape::MapElem);
            let b = l.ctx.create_builder();
            b.position_at_end(l.ctx.append_basic_block(f, "entry"));
            b.build_return(Some(&l.const_u64(0)))?;
            f
        }
    };
    let m = l.global_ptr(map_global(l, map)?);
    l.helper(
        Helper::ForEachMapElem,
        &[
            m.into(),
            callback.as_global_value().as_pointer_value().into(),
            l.ptr_ty().const_null().into(),
            l.const_u64(0).into(),
        ],
    )
}

fn map_global<'ctx>(l: &Lowerer<'_, 'ctx>, map: MapId) -> R<inkwell::values::GlobalValue<'ctx>> {
    l.globals
        .maps
        .get(map as usize)
        .copied()
        .ok_or_else(|| CodegenError::Internal(format!("unknown map id {map}")))
}

/// The context of a `for` body in this frame: [returned flag, returned value, probe context,
/// pointers to the captured variables, then `extra` words the caller fills].
fn body_context<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    captures: &[VarId],
    extra: u32,
) -> R<PointerValue<'ctx>> {
    let cbctx = l.stack_words(3 + captures.len() as u32 + extra, "for_ctx")?;
    l.builder.build_store(cbctx, l.const_u64(0))?;
    let at = l.offset(cbctx, PROBE_CONTEXT)?;
    l.builder.build_store(at, context::ctx_ptr(l)?)?;
    for (i, v) in captures.iter().enumerate() {
        let at = l.offset(cbctx, CAPTURES + 8 * i as u64)?;
        l.builder.build_store(at, l.var_slot(*v)?)?;
    }
    Ok(cbctx)
}

/// Where in a [`body_context`] the probe's context pointer is.
const PROBE_CONTEXT: u64 = 16;
/// Where in a [`body_context`] the pointers to captured variables start.
const CAPTURES: u64 = 24;

/// The offset of the first of the `extra` words of a [`body_context`].
fn extra_offset(captures: &[VarId]) -> u64 {
    CAPTURES + 8 * captures.len() as u64
}

/// In the callback: the probe context and the captured variables come from `cbctx`; the
/// body's own variables get zeroed slots in the callback's frame.
fn unpack_context<'ctx>(
    cb: &mut Lowerer<'_, 'ctx>,
    cbctx: PointerValue<'ctx>,
    frame: &Frame,
) -> R<()> {
    let captures = &frame.captures;
    cb.callback = Some(Callback { returned: cbctx });
    let at = cb.offset(cbctx, PROBE_CONTEXT)?;
    cb.probe_ctx = Some(
        cb.builder
            .build_load(cb.ptr_ty(), at, "probe_ctx")?
            .into_pointer_value(),
    );
    cb.vars = vec![None; cb.probe.vars.len()];
    for (i, v) in captures.iter().enumerate() {
        let at = cb.offset(cbctx, CAPTURES + 8 * i as u64)?;
        let p = cb
            .builder
            .build_load(cb.ptr_ty(), at, "captured")?
            .into_pointer_value();
        if let Some(slot) = cb.vars.get_mut(*v as usize) {
            *slot = Some(p);
        }
    }
    cb.allocate_vars(&frame.locals)
}

/// After the helper ran the body: a `return` in it returns from the probe here.
fn return_if_body_did<'ctx>(l: &Lowerer<'_, 'ctx>, cbctx: PointerValue<'ctx>) -> R<()> {
    let returned = l
        .builder
        .build_load(l.i64(), cbctx, "returned")?
        .into_int_value();
    let returned =
        l.builder
            .build_int_compare(IntPredicate::NE, returned, l.const_u64(0), "did_return")?;
    let ret = l.ctx.append_basic_block(l.func, "for_return");
    let after = l.ctx.append_basic_block(l.func, "endfor");
    l.builder.build_conditional_branch(returned, ret, after)?;
    l.builder.position_at_end(ret);
    let at = l.offset(cbctx, 8)?;
    let value = l.builder.build_load(l.i64(), at, "returned_value")?;
    l.return_from_probe(value.into_int_value())?;
    l.builder.position_at_end(after);
    Ok(())
}

/// `for ($i : start..end) { body }`: the body is a `bpf_loop` callback that sets `$i` to
/// `start` plus the iteration's index, run `end - start` times (none when `end <= start`).
/// The bounds are computed once, here, and a bound the verifier cannot know (a map value)
/// costs nothing more than a constant one.
pub fn for_range<'ctx>(
    l: &mut Lowerer<'_, 'ctx>,
    var: VarId,
    start: IntValue<'ctx>,
    end: IntValue<'ctx>,
    frame: &Frame,
    body: &[Stmt],
) -> R<()> {
    let captures = &frame.captures;
    let base = l.func.get_name().to_string_lossy().into_owned();
    let (func, locator) = declare(l, &fresh_name(l, &base, "range"), Shape::Loop);
    let cbctx = body_context(l, captures, 1)?;
    let start_at = l.offset(cbctx, extra_offset(captures))?;
    l.builder.build_store(start_at, start)?;
    let b = &l.builder;
    let more = b.build_int_compare(IntPredicate::SGT, end, start, "more")?;
    let count = b.build_int_sub(end, start, "count")?;

    let mut cb = Lowerer::new(l.ctx, l.module, func, l.globals, l.script, l.probe, locator);
    cb.set_scratch_top(l.scratch_top());
    let index = func
        .get_nth_param(0)
        .map(|p| p.into_int_value())
        .ok_or_else(|| CodegenError::Internal("bpf_loop callback without an index".into()))?;
    let inner = param(func, 1)?;
    unpack_context(&mut cb, inner, frame)?;
    let at = cb.offset(inner, extra_offset(captures))?;
    let first = cb
        .builder
        .build_load(cb.i64(), at, "start")?
        .into_int_value();
    let i = cb.builder.build_int_add(first, index, "i")?;
    cb.builder.build_store(cb.var_slot(var)?, i)?;
    cb.stmts(body)?;
    if !cb.terminated() {
        cb.builder.build_return(Some(&cb.const_u64(0)))?;
    }
    l.set_scratch_top(cb.scratch_top());

    // `bpf_loop` runs only for a range that is not empty: when the verifier knows the count
    // is 0 (a constant or read-only bound) it never visits the callback, and a call left in
    // place then points at a subprogram it removed as dead ("No program to jit").
    let run = l.ctx.append_basic_block(l.func, "range_run");
    let done = l.ctx.append_basic_block(l.func, "range_done");
    l.builder.build_conditional_branch(more, run, done)?;
    l.builder.position_at_end(run);
    l.helper(
        Helper::Loop,
        &[
            count.into(),
            func.as_global_value().as_pointer_value().into(),
            cbctx.into(),
            l.const_u64(0).into(),
        ],
    )?;
    l.builder.build_unconditional_branch(done)?;
    l.builder.position_at_end(done);
    return_if_body_did(l, cbctx)
}

/// `for ($kv : @map) { body }`: lowers the body as a callback, builds its context in this
/// frame, and runs it over the map. A `return` in the body returns from the probe here.
pub fn for_map<'ctx>(
    l: &mut Lowerer<'_, 'ctx>,
    var: VarId,
    map: MapId,
    frame: &Frame,
    body: &[Stmt],
) -> R<()> {
    let captures = &frame.captures;
    let spec = l.map_spec(map)?;
    let base = l.func.get_name().to_string_lossy().into_owned();
    let (func, locator) = declare(l, &fresh_name(l, &base, "for"), Shape::MapElem);
    let cbctx = body_context(l, captures, 0)?;

    let mut cb = Lowerer::new(l.ctx, l.module, func, l.globals, l.script, l.probe, locator);
    cb.set_scratch_top(l.scratch_top());
    lower_body(&mut cb, var, map, spec, frame, body)?;
    l.set_scratch_top(cb.scratch_top());

    let m = l.global_ptr(map_global(l, map)?);
    l.helper(
        Helper::ForEachMapElem,
        &[
            m.into(),
            func.as_global_value().as_pointer_value().into(),
            cbctx.into(),
            l.const_u64(0).into(),
        ],
    )?;
    return_if_body_did(l, cbctx)
}

/// The callback's code: unpack the context, store (key, value) into the loop variable, run
/// the body, go on to the next element.
fn lower_body<'ctx>(
    cb: &mut Lowerer<'_, 'ctx>,
    var: VarId,
    map: MapId,
    spec: &MapSpec,
    frame: &Frame,
    body: &[Stmt],
) -> R<()> {
    let key = param(cb.func, 1)?;
    let value = param(cb.func, 2)?;
    let cbctx = param(cb.func, 3)?;
    unpack_context(cb, cbctx, frame)?;

    let (Some(Type::Tuple(items)), Some(key_ty)) = (cb.probe.vars.get(var as usize), &spec.key)
    else {
        return Err(CodegenError::Internal(
            "`for` variable is not a (key, value) tuple of a keyed map".into(),
        ));
    };
    let (offsets, size) = tuple_layout(items);
    let slot = cb.var_slot(var)?;
    cb.memset(slot, size.max(8))?;
    let key_at = cb.offset(slot, u64::from(offsets[0]))?;
    cb.memcpy(key_at, key, key_ty.size())?;
    let value_at = cb.offset(slot, u64::from(offsets[1]))?;
    match &spec.value {
        Type::Agg(agg) => {
            let combined = agg_read(cb, map, key, *agg)?;
            cb.store(value_at, &items[1], combined)?;
        }
        other => cb.memcpy(value_at, value, other.size())?,
    }

    cb.stmts(body)?;
    if !cb.terminated() {
        cb.builder.build_return(Some(&cb.const_u64(0)))?;
    }
    Ok(())
}

/// The value of a per-CPU aggregation for `key`, combined over every CPU as user space
/// prints it: counts and sums add up; min and max come from the CPUs that saw a value (the
/// flag in the slot's second word); avg adds up both its count and its total and gives the
/// average (0 when empty); stats gives the record `(count, average, total)` of its value
/// type (the checker's `aggregation_value`), in memory.
pub(crate) fn agg_read<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    map: MapId,
    key: PointerValue<'ctx>,
    agg: Aggregation,
) -> R<Val<'ctx>> {
    let (first, second) = agg_sums(l, map, key, agg)?;
    let Some((signed, total)) = second else {
        return Ok(Val::Int(first));
    };
    let b = &l.builder;
    let is_zero = b.build_int_compare(IntPredicate::EQ, first, l.const_u64(0), "z")?;
    let count = b
        .build_select(is_zero, l.const_u64(1), first, "c1")?
        .into_int_value();
    let average = match signed {
        true => l.signed_div(total, count, false)?,
        false => b.build_int_unsigned_div(total, count, "avg")?,
    };
    if !matches!(agg, Aggregation::Stats { .. }) {
        return Ok(Val::Int(average));
    }
    let record = l.stack_words(3, "stats")?;
    for (i, v) in [first, average, total].into_iter().enumerate() {
        let at = l.offset(record, 8 * i as u64)?;
        l.builder.build_store(at, v)?;
    }
    Ok(Val::Mem(record))
}

/// The words of a per-CPU aggregation for `key` summed or picked over every CPU (see
/// [`agg_read`]): the first, and for avg and stats their signedness and the total (the
/// first word being the count). A `bpf_loop` callback visits the CPUs; its context is
/// [key pointer, first word, second word].
fn agg_sums<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    map: MapId,
    key: PointerValue<'ctx>,
    agg: Aggregation,
) -> R<(IntValue<'ctx>, Option<(bool, IntValue<'ctx>)>)> {
    /// How one CPU's slot joins the running total.
    #[derive(Clone, Copy)]
    enum Combine {
        /// The first word adds up.
        Add,
        /// Both words add up (avg and stats: count and total); the value is their quotient.
        AddBoth { signed: bool },
        /// The first word is kept when it orders before the total by this predicate.
        Pick(IntPredicate),
    }
    let combine = match agg {
        Aggregation::Count | Aggregation::Sum { .. } => Combine::Add,
        Aggregation::Avg { signed } | Aggregation::Stats { signed } => Combine::AddBoth { signed },
        Aggregation::Min { signed } => Combine::Pick(crate::lower::min_max_order(true, signed)),
        Aggregation::Max { signed } => Combine::Pick(crate::lower::min_max_order(false, signed)),
        Aggregation::Hist { .. } | Aggregation::Lhist { .. } | Aggregation::Tseries { .. } => {
            return Err(CodegenError::Internal(format!(
                "the value of a {} map was read in a probe",
                stdlib::types::agg_name(agg)
            )))
        }
    };
    let base = l.func.get_name().to_string_lossy().into_owned();
    let (func, locator) = declare(l, &fresh_name(l, &base, "cpus"), Shape::Loop);
    let m = l.global_ptr(map_global(l, map)?);
    {
        let c = Lowerer::new(l.ctx, l.module, func, l.globals, l.script, l.probe, locator);
        let b = &c.builder;
        let i64t = c.i64();
        let cpu = func
            .get_nth_param(0)
            .map(|p| p.into_int_value())
            .ok_or_else(|| CodegenError::Internal("bpf_loop callback without an index".into()))?;
        let cctx = param(func, 1)?;
        let key = b.build_load(c.ptr_ty(), cctx, "key")?.into_pointer_value();
        let p = c.helper_ptr(
            Helper::MapLookupPercpuElem,
            &[m.into(), key.into(), cpu.into()],
            "slot",
        )?;
        let absent = b.build_is_null(p, "absent")?;
        let found = c.ctx.append_basic_block(func, "found");
        let stop = c.ctx.append_basic_block(func, "stop");
        b.build_conditional_branch(absent, stop, found)?;
        b.position_at_end(stop);
        b.build_return(Some(&c.const_u64(1)))?;

        b.position_at_end(found);
        let total_at = c.offset(cctx, 8)?;
        let v = b.build_load(i64t, p, "v")?.into_int_value();
        let t = b.build_load(i64t, total_at, "t")?.into_int_value();
        let new = match combine {
            Combine::Add => b.build_int_add(t, v, "sum")?,
            Combine::AddBoth { .. } => {
                let second_at = c.offset(cctx, 16)?;
                let slot_second = c.offset(p, 8)?;
                let w = b.build_load(i64t, slot_second, "w")?.into_int_value();
                let s = b.build_load(i64t, second_at, "s")?.into_int_value();
                let s = b.build_int_add(s, w, "sum2")?;
                b.build_store(second_at, s)?;
                b.build_int_add(t, v, "sum")?
            }
            Combine::Pick(pred) => {
                let seen_at = c.offset(cctx, 16)?;
                let flag_at = c.offset(p, 8)?;
                let flag = b.build_load(i64t, flag_at, "flag")?.into_int_value();
                let has = b.build_int_compare(IntPredicate::NE, flag, c.const_u64(0), "has")?;
                let s = b.build_load(i64t, seen_at, "seen")?.into_int_value();
                let first = b.build_int_compare(IntPredicate::EQ, s, c.const_u64(0), "first")?;
                let better = b.build_int_compare(pred, v, t, "better")?;
                let take = b.build_or(first, better, "take")?;
                let take = b.build_and(has, take, "take_seen")?;
                let s = b.build_select(has, c.const_u64(1), s, "seen1")?;
                b.build_store(seen_at, s)?;
                b.build_select(take, v, t, "pick")?.into_int_value()
            }
        };
        b.build_store(total_at, new)?;
        b.build_return(Some(&c.const_u64(0)))?;
    }
    let cctx = l.stack_words(3, "cpus_ctx")?;
    l.builder.build_store(cctx, key)?;
    for off in [8, 16] {
        let at = l.offset(cctx, off)?;
        l.builder.build_store(at, l.const_u64(0))?;
    }
    l.helper(
        Helper::Loop,
        &[
            l.const_u64(MAX_CPUS).into(),
            func.as_global_value().as_pointer_value().into(),
            cctx.into(),
            l.const_u64(0).into(),
        ],
    )?;
    let b = &l.builder;
    let first_at = l.offset(cctx, 8)?;
    let first = b.build_load(l.i64(), first_at, "total")?.into_int_value();
    let Combine::AddBoth { signed } = combine else {
        return Ok((first, None));
    };
    let second_at = l.offset(cctx, 16)?;
    let total = b.build_load(l.i64(), second_at, "total2")?.into_int_value();
    Ok((first, Some((signed, total))))
}

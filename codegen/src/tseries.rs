//! `@m[k] = tseries(v, interval, intervals[, reduce])` in BPF. The map key is the user key
//! plus the slot `epoch % intervals`, where the epoch is the time divided by the interval;
//! the slot's value is (epoch, value, count), the layout `stdlib::tseries::Slot` reads.
//! A slot from an older epoch is started over; one of the same epoch takes the value in.
//! The time is the wall clock: the TAI clock less the TAI offset user space stores in the
//! state map (whole seconds, so interval starts fall on whole seconds), or the scalar map
//! named by `BPFTRACE_DUMMY_TS_MAP`.

use crate::helpers::Helper;
use crate::ir::Lowerer;
use crate::CodegenError;
use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;
use lang::hir::{self, Expr};
use stdlib::abi;
use stdlib::types::{TsReduce, TSERIES_SLOT};

type R<T> = Result<T, CodegenError>;

impl<'ctx> Lowerer<'_, 'ctx> {
    /// Adds `v` to the time series in `map` under `key`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn tseries(
        &mut self,
        map: hir::MapId,
        key: Option<&Expr>,
        v: IntValue<'ctx>,
        interval_ns: u64,
        intervals: u32,
        reduce: TsReduce,
        signed: bool,
    ) -> R<()> {
        let spec = self.map_spec(map)?;
        let now = self.tseries_now()?;
        let epoch = self.builder.build_int_unsigned_div(
            now,
            self.const_u64(interval_ns.max(1)),
            "epoch",
        )?;
        let slot = self.builder.build_int_unsigned_rem(
            epoch,
            self.const_u64(u64::from(intervals.max(1))),
            "tslot",
        )?;
        let key_ptr = self.key(spec, key, Some(slot))?;
        let m = self.global_ptr(self.globals.maps[map as usize]);
        let p = self.lookup_or_zero(m, key_ptr)?;
        let is_null = self.builder.build_is_null(p, "isnull")?;
        let have = self.ctx.append_basic_block(self.func, "ts_have");
        let done = self.ctx.append_basic_block(self.func, "ts_done");
        self.builder.build_conditional_branch(is_null, done, have)?;

        self.builder.position_at_end(have);
        let i64t = self.i64();
        let value_at = self.offset(p, 8)?;
        let count_at = self.offset(p, 16)?;
        let stored = self.builder.build_load(i64t, p, "stored")?.into_int_value();
        let count = self
            .builder
            .build_load(i64t, count_at, "count")?
            .into_int_value();
        let newer = self
            .builder
            .build_int_compare(IntPredicate::UGT, epoch, stored, "newer")?;
        let restart = self.ctx.append_basic_block(self.func, "ts_restart");
        let same = self.ctx.append_basic_block(self.func, "ts_same");
        let reduce_bb = self.ctx.append_basic_block(self.func, "ts_reduce");
        self.builder
            .build_conditional_branch(newer, restart, same)?;

        // A new interval for this slot: its first value.
        self.builder.position_at_end(restart);
        self.builder.build_store(p, epoch)?;
        self.builder.build_store(value_at, v)?;
        self.builder.build_store(count_at, self.const_u64(1))?;
        self.builder.build_unconditional_branch(done)?;

        // The same interval, once it holds a value (a slot created in epoch 0 stays empty,
        // as in bpftrace 0.27); older epochs are ignored.
        self.builder.position_at_end(same);
        let equal = self
            .builder
            .build_int_compare(IntPredicate::EQ, epoch, stored, "equal")?;
        let held =
            self.builder
                .build_int_compare(IntPredicate::NE, count, self.const_u64(0), "held")?;
        let take = self.builder.build_and(equal, held, "take")?;
        self.builder
            .build_conditional_branch(take, reduce_bb, done)?;

        self.builder.position_at_end(reduce_bb);
        let old = self
            .builder
            .build_load(i64t, value_at, "old")?
            .into_int_value();
        let new = match reduce {
            TsReduce::Last => v,
            TsReduce::Sum | TsReduce::Avg => self.builder.build_int_add(old, v, "sum")?,
            TsReduce::Max | TsReduce::Min => {
                let pred = match (reduce == TsReduce::Max, signed) {
                    (true, true) => IntPredicate::SGT,
                    (true, false) => IntPredicate::UGT,
                    (false, true) => IntPredicate::SLT,
                    (false, false) => IntPredicate::ULT,
                };
                let better = self.builder.build_int_compare(pred, v, old, "better")?;
                self.builder
                    .build_select(better, v, old, "sel")?
                    .into_int_value()
            }
        };
        self.builder.build_store(value_at, new)?;
        let count1 = self
            .builder
            .build_int_add(count, self.const_u64(1), "count1")?;
        self.builder.build_store(count_at, count1)?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        Ok(())
    }

    /// The time tseries() files values under: the TAI clock, or the clock map's value.
    fn tseries_now(&mut self) -> R<IntValue<'ctx>> {
        let Some(clock) = self.script.tseries_clock else {
            let tai = self.helper(Helper::KtimeGetTaiNs, &[])?;
            let offset = self.tai_offset()?;
            return Ok(self.builder.build_int_sub(tai, offset, "wall")?);
        };
        let spec = self.map_spec(clock)?;
        let key_ptr = self.key(spec, None, None)?;
        let m = self.global_ptr(self.globals.maps[clock as usize]);
        let p = self.helper_ptr(Helper::MapLookupElem, &[m.into(), key_ptr.into()], "ts")?;
        let out = self.alloca(8, "now")?;
        self.memset(out, 8)?;
        let is_null = self.builder.build_is_null(p, "isnull")?;
        let copy = self.ctx.append_basic_block(self.func, "ts_copy");
        let done = self.ctx.append_basic_block(self.func, "ts_read");
        self.builder.build_conditional_branch(is_null, done, copy)?;
        self.builder.position_at_end(copy);
        let v = self.builder.build_load(self.i64(), p, "tsv")?;
        self.builder.build_store(out, v)?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        Ok(self
            .builder
            .build_load(self.i64(), out, "now")?
            .into_int_value())
    }

    /// CLOCK_TAI minus the wall clock, which user space stores in the state map.
    fn tai_offset(&mut self) -> R<IntValue<'ctx>> {
        let key = self.alloca(8, "k_tai")?;
        self.builder.build_store(
            key,
            self.ctx
                .i32_type()
                .const_int(abi::state::TAI_OFFSET_NS.into(), false),
        )?;
        let p = self.helper_ptr(
            Helper::MapLookupElem,
            &[self.state().into(), key.into()],
            "taioff",
        )?;
        let out = self.alloca(8, "tai_offset")?;
        self.builder.build_store(out, self.const_u64(0))?;
        let is_null = self.builder.build_is_null(p, "isnull")?;
        let read = self.ctx.append_basic_block(self.func, "tai_read");
        let done = self.ctx.append_basic_block(self.func, "tai_done");
        self.builder.build_conditional_branch(is_null, done, read)?;
        self.builder.position_at_end(read);
        let v = self.builder.build_load(self.i64(), p, "off")?;
        self.builder.build_store(out, v)?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        Ok(self
            .builder
            .build_load(self.i64(), out, "offset")?
            .into_int_value())
    }

    /// The slot under `key_ptr`, created zeroed when missing; null only when the map is full.
    fn lookup_or_zero(
        &mut self,
        m: PointerValue<'ctx>,
        key_ptr: PointerValue<'ctx>,
    ) -> R<PointerValue<'ctx>> {
        let found = self.helper_ptr(Helper::MapLookupElem, &[m.into(), key_ptr.into()], "slot")?;
        let is_null = self.builder.build_is_null(found, "isnull")?;
        let before = self
            .builder
            .get_insert_block()
            .ok_or_else(|| CodegenError::Internal("no insert block".into()))?;
        let create = self.ctx.append_basic_block(self.func, "ts_create");
        let done = self.ctx.append_basic_block(self.func, "ts_slot");
        self.builder
            .build_conditional_branch(is_null, create, done)?;
        self.builder.position_at_end(create);
        let zero = self.alloca(TSERIES_SLOT, "tszero")?;
        self.memset(zero, TSERIES_SLOT)?;
        self.update_map(m, key_ptr, zero)?;
        let created =
            self.helper_ptr(Helper::MapLookupElem, &[m.into(), key_ptr.into()], "slot2")?;
        let create_end = self
            .builder
            .get_insert_block()
            .ok_or_else(|| CodegenError::Internal("no insert block".into()))?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        let phi = self.builder.build_phi(found.get_type(), "slotp")?;
        phi.add_incoming(&[(&found, before), (&created, create_end)]);
        Ok(phi.as_basic_value().into_pointer_value())
    }
}

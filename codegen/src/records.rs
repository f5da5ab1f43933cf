//! Ring buffer records and the per-CPU counters beside them: reserving a record, writing its
//! event id, submitting it with the right wake-up flags, counting records lost to a full
//! buffer and map updates lost to a full map; and reads of kernel or user memory, which under
//! `-k` report a failure as a record of its own.

use crate::helpers::{self, Helper};
use crate::ir::{Lowerer, Val};
use crate::CodegenError;
use inkwell::values::{BasicMetadataValueEnum, GlobalValue, IntValue, PointerValue};
use inkwell::{AtomicOrdering, AtomicRMWBinOp, IntPredicate};
use lang::hir;
use stdlib::abi::record;
use stdlib::manifest::Event;
use stdlib::types::{AddrSpace, Type};

type R<T> = Result<T, CodegenError>;

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    /// The helper that reads memory of `space` (strings when `string`) in this probe. Where
    /// bpftrace gives the probe no address space (see `Provider::reads_by_address`), a kernel
    /// pointer is read through the helper that picks the space by the address.
    pub(crate) fn read_helper(&self, space: AddrSpace, string: bool) -> Helper {
        let by_address = self.probe.provider.reads_by_address();
        match (space, string) {
            (AddrSpace::Kernel, false) if by_address => Helper::ProbeRead,
            (AddrSpace::Kernel, true) if by_address => Helper::ProbeReadStr,
            (AddrSpace::Kernel, false) => Helper::ProbeReadKernel,
            (AddrSpace::Kernel, true) => Helper::ProbeReadKernelStr,
            (AddrSpace::User, false) => Helper::ProbeReadUser,
            (AddrSpace::User, true) => Helper::ProbeReadUserStr,
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
        let h = self.read_helper(space, false);
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

    /// Calls probe-read helper `h` (kernel, user, or by address) and, under `-k`, reports a
    /// negative return as a warning on the script text being lowered, named after the helper
    /// as bpftrace names it (`probe_read`, `probe_read_kernel`, `probe_read_user`).
    pub fn checked_probe_read(
        &mut self,
        h: Helper,
        args: &[BasicMetadataValueEnum<'ctx>],
    ) -> R<IntValue<'ctx>> {
        let ret = self.helper(h, args)?;
        let Some(errors) = &self.globals.helper_errors else {
            return Ok(ret);
        };
        // Named as bpftrace names the helper it called.
        let name = match h {
            Helper::ProbeReadKernel | Helper::ProbeReadKernelStr => "probe_read_kernel",
            Helper::ProbeReadUser | Helper::ProbeReadUserStr => "probe_read_user",
            _ => "probe_read",
        };
        let event = errors.site(name, self.span.get());
        let failed =
            self.builder
                .build_int_compare(IntPredicate::SLT, ret, self.const_u64(0), "failed")?;
        let report = self.ctx.append_basic_block(self.func, "helper_failed");
        let go_on = self.ctx.append_basic_block(self.func, "helper_ok");
        self.builder
            .build_conditional_branch(failed, report, go_on)?;
        self.builder.position_at_end(report);
        self.with_record(event, 8, |l, rec| {
            let at = l.offset(rec, u64::from(record::HEADER))?;
            l.builder.build_store(at, ret)?;
            Ok(())
        })?;
        self.builder.build_unconditional_branch(go_on)?;
        self.builder.position_at_end(go_on);
        Ok(ret)
    }

    /// Emits `event` (a warning without arguments) when `divisor` is zero.
    pub(crate) fn warn_if_zero(&mut self, divisor: IntValue<'ctx>, event: hir::EventId) -> R<()> {
        let is_zero = self.builder.build_int_compare(
            IntPredicate::EQ,
            divisor,
            self.const_u64(0),
            "divzero",
        )?;
        let report = self.ctx.append_basic_block(self.func, "div_by_zero");
        let go_on = self.ctx.append_basic_block(self.func, "div_ok");
        self.builder
            .build_conditional_branch(is_zero, report, go_on)?;
        self.builder.position_at_end(report);
        self.with_record(event, 0, |_, _| Ok(()))?;
        self.builder.build_unconditional_branch(go_on)?;
        self.builder.position_at_end(go_on);
        Ok(())
    }

    /// Reserves a ring buffer record of [`record::HEADER`] + `payload` bytes, stores the event id, lets
    /// `write` fill the payload, and submits it. When the buffer is full the per-CPU lost
    /// counter is incremented instead, so user space can report the loss.
    pub(crate) fn with_record(
        &mut self,
        event: hir::EventId,
        payload: u32,
        write: impl FnOnce(&mut Self, PointerValue<'ctx>) -> R<()>,
    ) -> R<()> {
        let rb = self.global_ptr(self.globals.events);
        let total = self.const_u64(u64::from(record::HEADER + payload));
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
    /// a short timer, see `runtime::run`) until the unread data passes a quarter of the
    /// ring. That leaves three quarters (12 ms of 32-byte printf records at a million events
    /// a second in the 512 KiB of a 2-CPU machine) for the reader to be scheduled. The ring's
    /// size is asked at run time, because the runtime sizes the map for the machine: a fixed
    /// threshold above a small ring's size would never wake the reader, and every record past
    /// what one timed drain finds would be lost. Records that act on the session or on live
    /// map state (exit, print/clear/zero of a map) wake it at once, so they act when the probe
    /// fired, and so do records whose values name user-space addresses (see
    /// [`Type::reads_process`]).
    pub(crate) fn submit_flags(&self, event: hir::EventId) -> R<IntValue<'ctx>> {
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
        // A record naming user-space addresses or holding a user stack is read while the
        // process most likely still runs: its maps are gone once it exits.
        if ev.arg_types().iter().any(Type::reads_process) {
            return Ok(self.const_u64(helpers::BPF_RB_FORCE_WAKEUP));
        }
        match ev {
            Event::Exit
            | Event::Unwatch
            | Event::PrintMap { .. }
            | Event::Clear { .. }
            | Event::Zero { .. } => Ok(self.const_u64(helpers::BPF_RB_FORCE_WAKEUP)),
            Event::SkbOutput { .. } => Err(CodegenError::Internal(
                "skboutput() packets go to their perf buffer, not the ring buffer".into(),
            )),
            Event::Printf { .. }
            | Event::Message { .. }
            | Event::Time { .. }
            | Event::Cat { .. }
            | Event::System { .. }
            | Event::Join { .. }
            | Event::PrintValue { .. }
            | Event::HelperError { .. }
            | Event::ZeroDivisor { .. } => {
                let rb = self.global_ptr(self.globals.events);
                let avail = self.helper(
                    Helper::RingbufQuery,
                    &[rb.into(), self.const_u64(helpers::BPF_RB_AVAIL_DATA).into()],
                )?;
                let size = self.helper(
                    Helper::RingbufQuery,
                    &[rb.into(), self.const_u64(helpers::BPF_RB_RING_SIZE).into()],
                )?;
                let limit =
                    self.builder
                        .build_right_shift(size, self.const_u64(2), false, "quarter")?;
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

    /// `map_update_elem`; a failure (the map is full) is counted so user space reports it.
    pub(crate) fn update_map(
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
        let site = self.update_site();
        let count = self.ctx.append_basic_block(self.func, "map_full");
        let done = self.ctx.append_basic_block(self.func, "updated");
        self.builder.build_conditional_branch(failed, count, done)?;
        self.builder.position_at_end(count);
        self.bump_counter_at(self.globals.map_full, site)?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        Ok(())
    }

    /// The slot of the map update being lowered (the script text it comes from) among the
    /// failure counters; attach points that share a body share its slots.
    fn update_site(&self) -> u32 {
        let span = self.span.get();
        let mut sites = self.globals.update_sites.borrow_mut();
        let at = match sites.iter().position(|s| *s == span) {
            Some(i) => i,
            None => {
                sites.push(span);
                sites.len() - 1
            }
        };
        at as u32
    }

    /// Adds one to slot 0 of a one-entry per-CPU array.
    pub(crate) fn bump_counter(&self, map: GlobalValue<'ctx>) -> R<()> {
        self.bump_counter_at(map, 0)
    }

    /// Adds one to slot `slot` of a per-CPU array (nothing when the array is smaller).
    fn bump_counter_at(&self, map: GlobalValue<'ctx>, slot: u32) -> R<()> {
        let key = self.alloca(8, "k0")?;
        self.builder
            .build_store(key, self.ctx.i32_type().const_int(u64::from(slot), false))?;
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
        // An atomic add, not a load and a store: a program preempted on this CPU (fentry
        // runs preemptible) or interrupted by an NMI one (perf_event) may bump the same slot
        // in between, and a count lost there would break the exact lost-event accounting.
        // The result is unused, so this is the plain BPF_XADD every kernel accepts.
        self.builder.build_atomicrmw(
            AtomicRMWBinOp::Add,
            p,
            self.const_u64(1),
            AtomicOrdering::Monotonic,
        )?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        Ok(())
    }
}

//! exit() stops the probes at once: it raises a flag in the state map, and every probe of
//! a script that calls exit() (BEGIN and END aside, which run once before and after) returns at its start once the
//! flag is up. User space reads the exit record a little later; without the flag, a probe
//! that fires in between (an `interval:ms:1`) would run again and change the maps printed
//! at exit, which bpftrace's own tests of scripts that play time through a map depend on.

use crate::helpers::Helper;
use crate::ir::Lowerer;
use crate::CodegenError;
use inkwell::values::PointerValue;
use inkwell::IntPredicate;
use stdlib::abi;
use stdlib::manifest::Event;
use stdlib::probes::Provider;

type R<T> = Result<T, CodegenError>;

impl<'ctx> Lowerer<'_, 'ctx> {
    /// Whether this probe checks the flag: the script calls exit() and the probe is not
    /// BEGIN (which runs once, before the others) or END.
    fn checks_exit(&self) -> bool {
        let exits = self.script.events.iter().any(|e| matches!(e, Event::Exit));
        exits && !matches!(self.probe.provider, Provider::Begin | Provider::End)
    }

    /// The flag's slot in the state map (null only if the map lookup fails).
    fn exited_slot(&self) -> R<PointerValue<'ctx>> {
        let key = self.alloca(8, "k_exited")?;
        self.builder.build_store(
            key,
            self.ctx
                .i32_type()
                .const_int(abi::state::EXITED.into(), false),
        )?;
        self.helper_ptr(
            Helper::MapLookupElem,
            &[self.state().into(), key.into()],
            "exited",
        )
    }

    /// At the start of a probe: return at once when exit() has run.
    pub(crate) fn skip_after_exit(&mut self) -> R<()> {
        if !self.checks_exit() {
            return Ok(());
        }
        let p = self.exited_slot()?;
        let is_null = self.builder.build_is_null(p, "isnull")?;
        let read = self.ctx.append_basic_block(self.func, "exit_read");
        let stop = self.ctx.append_basic_block(self.func, "exited");
        let run = self.ctx.append_basic_block(self.func, "running");
        self.builder.build_conditional_branch(is_null, run, read)?;
        self.builder.position_at_end(read);
        let flag = self
            .builder
            .build_load(self.i64(), p, "flag")?
            .into_int_value();
        let up = self
            .builder
            .build_int_compare(IntPredicate::NE, flag, self.const_u64(0), "up")?;
        self.builder.build_conditional_branch(up, stop, run)?;
        self.builder.position_at_end(stop);
        self.builder.build_return(Some(&self.const_u64(0)))?;
        self.builder.position_at_end(run);
        Ok(())
    }

    /// In exit(): raise the flag before the exit record goes out.
    pub(crate) fn mark_exited(&mut self) -> R<()> {
        let p = self.exited_slot()?;
        let is_null = self.builder.build_is_null(p, "isnull")?;
        let set = self.ctx.append_basic_block(self.func, "exit_set");
        let done = self.ctx.append_basic_block(self.func, "exit_marked");
        self.builder.build_conditional_branch(is_null, done, set)?;
        self.builder.position_at_end(set);
        self.builder.build_store(p, self.const_u64(1))?;
        self.builder.build_unconditional_branch(done)?;
        self.builder.position_at_end(done);
        Ok(())
    }
}

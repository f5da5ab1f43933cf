//! The memory a probe's values take in BPF, so that a statement too big for it is a
//! diagnostic here instead of an internal error in codegen (which never reports user errors).
//!
//! Codegen keeps values of [`SCRATCH_MIN`] bytes or more (strings, tuples, buffers, map keys
//! and values) in a per-CPU scratch area of [`SCRATCH_BYTES`], because the BPF stack has only
//! 512 bytes. A script whose probes need more (long strings: `max_strlen` of thousands) gets
//! as much as its hungriest probe needs, up to [`SCRATCH_MAX`], with the slack of the default
//! area on top (see [`scratch_size`]). A probe's variables hold their slots for the whole probe; a statement's
//! temporaries are freed after it, so the next statement reuses them; the body of a `for` (over
//! a map or a range) is a callback whose slots follow its caller's and stay taken. The estimate below
//! follows those rules and counts one slot per value of such a type, which is what codegen
//! allocates (a slot for each computed value, one for each map key, one for a stored value).

use super::diagnostics;
use crate::ast::Span;
use crate::hir::{Expr, ExprKind, FrameId, MapId, Part, Probe, Stmt, StmtKind, VarId};
use stdlib::diag::Diagnostic;
use stdlib::manifest::{Event, MapSpec};
use stdlib::types::Type;

/// Bytes of per-CPU scratch memory a probe has unless the script needs more.
pub const SCRATCH_BYTES: u32 = 16 * 1024;
/// The most per-CPU scratch memory a script may ask for: a string of up to `max_strlen`
/// characters takes that many bytes in each value that holds it, and the kernel allocates the
/// area once per CPU.
pub const SCRATCH_MAX: u32 = 1024 * 1024;
/// Values of this many bytes or more live in scratch memory rather than on the stack.
pub const SCRATCH_MIN: u32 = 24;
/// The most bytes of small arguments (registers and stack slots) an event such as `printf`
/// may compute before its record is reserved. All its arguments are computed first, so that
/// no helper runs while a record is held, and each small one is live until then: 66 integers
/// spill past the 512-byte BPF stack. An event with more is staged instead (see
/// [`stages_args`]).
pub const EMIT_SMALL_BYTES: u64 = 256;

/// Whether codegen stages the arguments of an event of these types: it stores each argument
/// in a scratch copy of the record as soon as it is computed, and copies that into the record
/// once reserved. Events whose arguments take up to [`EMIT_SMALL_BYTES`] in all while they
/// wait for the record (every ordinary one) are written straight into it. A small argument
/// takes its own size then; one of [`SCRATCH_MIN`] bytes or more lives in scratch memory, and
/// the pointer to it takes 8 bytes (64 `str()` arguments spill 512 bytes of pointers).
pub fn stages_args(types: &[Type]) -> bool {
    let live: u64 = types
        .iter()
        .map(|t| u64::from(t.size().max(1).div_ceil(8)) * 8)
        .map(|b| if b < u64::from(SCRATCH_MIN) { b } else { 8 })
        .sum();
    live > EMIT_SMALL_BYTES
}

/// The per-CPU scratch bytes of a script whose probes need at most `need` bytes of it:
/// `None` keeps the default area of [`SCRATCH_BYTES`]; a bigger need gets its own size plus
/// that much again, as slack for the estimate.
pub(super) fn scratch_size(need: u64) -> Option<u32> {
    if need <= u64::from(SCRATCH_BYTES) {
        return None;
    }
    let bytes = need.div_ceil(8) * 8 + u64::from(SCRATCH_BYTES);
    u32::try_from(bytes).ok()
}

/// The scratch bytes `probe` needs, or an error when that is more than a script may have,
/// on the statement whose temporaries take the most.
pub(super) fn check(
    probe: &Probe,
    maps: &[MapSpec],
    events: &[Event],
) -> Result<u64, Box<Diagnostic>> {
    let mut est = Estimate {
        maps,
        events,
        probe,
        callbacks: 0,
    };
    let vars = est.vars(&probe.locals);
    let predicate = probe.predicate.as_ref().map_or(0, |p| est.expr(p));
    let mut worst: Option<(u64, Span)> = None;
    for s in &probe.body {
        let need = est.stmt(s);
        if worst.is_none_or(|(w, _)| need > w) {
            worst = Some((need, s.span));
        }
    }
    let (statement, span) = worst.unwrap_or((0, probe.span));
    let rest = vars + predicate + est.callbacks;
    if statement + rest <= u64::from(SCRATCH_MAX) {
        return Ok(statement + rest);
    }
    Err(Box::new(diagnostics::statement_too_big(
        statement, rest, span,
    )))
}

/// Bytes of scratch memory a value of `size` bytes takes: codegen rounds slots up to 8 bytes
/// and keeps smaller ones on the stack.
fn slot(size: u32) -> u64 {
    let bytes = u64::from(size.max(1).div_ceil(8)) * 8;
    if bytes >= u64::from(SCRATCH_MIN) {
        bytes
    } else {
        0
    }
}

struct Estimate<'a> {
    maps: &'a [MapSpec],
    events: &'a [Event],
    probe: &'a Probe,
    /// Scratch taken by `for` bodies, which stays taken for the rest of the probe.
    callbacks: u64,
}

impl Estimate<'_> {
    /// The slots of variables `vars` of the probe.
    fn vars(&self, vars: &[VarId]) -> u64 {
        vars.iter()
            .filter_map(|&v| self.probe.vars.get(v as usize))
            .map(|t| slot(t.size()))
            .sum()
    }

    /// A `for` body: its statements and its own variables stay taken for the rest of the
    /// probe (a callback's memory follows its caller's).
    fn frame(&mut self, frame: FrameId, body: &[Stmt]) {
        let locals = self
            .probe
            .frames
            .get(frame as usize)
            .map_or(0, |f| self.vars(&f.locals));
        let body = self.block(body);
        self.callbacks += body + locals;
    }

    /// The slot of a map's key (histograms add a bucket index).
    fn key(&self, map: MapId) -> u64 {
        self.maps
            .get(map as usize)
            .map_or(0, |m| slot(m.key_size()))
    }

    fn value(&self, map: MapId) -> u64 {
        self.maps
            .get(map as usize)
            .map_or(0, |m| slot(m.value.size()))
    }

    /// The most any one statement of a block holds at once (each frees its temporaries).
    fn block(&mut self, stmts: &[Stmt]) -> u64 {
        stmts.iter().map(|s| self.stmt(s)).max().unwrap_or(0)
    }

    fn opt(&mut self, e: Option<&Expr>) -> u64 {
        e.map_or(0, |e| self.expr(e))
    }

    /// What a statement holds while it runs: its own values, plus the most a nested
    /// statement holds.
    fn stmt(&mut self, s: &Stmt) -> u64 {
        match &s.kind {
            StmtKind::Expr(e) | StmtKind::AssignVar { value: e, .. } => self.expr(e),
            StmtKind::AssignMap { map, key, value } => {
                self.key(*map) + self.opt(key.as_ref()) + self.expr(value) + self.value(*map)
            }
            StmtKind::Aggregate {
                map, key, value, ..
            } => {
                self.key(*map)
                    + self.opt(key.as_ref())
                    + self.opt(value.as_ref())
                    + self.value(*map)
            }
            StmtKind::Delete { map, key } => self.key(*map) + self.opt(key.as_ref()),
            StmtKind::Emit { event, args } => {
                let types = self
                    .events
                    .get(*event as usize)
                    .map(Event::arg_types)
                    .unwrap_or_default();
                if stages_args(&types) {
                    // The staged copy, and one argument's values at a time.
                    let (_, size) = stdlib::types::tuple_layout(&types);
                    slot(size) + args.iter().map(|a| self.expr(a)).max().unwrap_or(0)
                } else {
                    args.iter().map(|a| self.expr(a)).sum()
                }
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let cond = self.expr(cond);
                cond + self.block(then).max(self.block(otherwise))
            }
            StmtKind::While { cond, body } => self.expr(cond) + self.block(body),
            StmtKind::Unroll { body, .. } => self.block(body),
            StmtKind::ForRange {
                start,
                end,
                frame,
                body,
                ..
            } => {
                self.frame(*frame, body);
                self.expr(start) + self.expr(end)
            }
            StmtKind::ForMap { frame, body, .. } => {
                self.frame(*frame, body);
                0
            }
            StmtKind::Return(Some(e)) => self.expr(e),
            StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => 0,
        }
    }

    /// The slots an expression takes: one for its value (unless it is a variable, whose
    /// slot is its frame's) plus those of its operands and of any map key it builds. A
    /// block's statements each free their temporaries; counting them with the value is an
    /// upper bound.
    fn expr(&mut self, e: &Expr) -> u64 {
        if let ExprKind::Var(_) | ExprKind::VarAddr(_) = e.kind {
            return 0;
        }
        let mut need = slot(e.ty.size());
        if let ExprKind::MapRead { map, .. }
        | ExprKind::Delete { map, .. }
        | ExprKind::HasKey { map, .. }
        | ExprKind::Find { map, .. } = &e.kind
        {
            need += self.key(*map);
        }
        e.parts(&mut |part| {
            need += match part {
                Part::Expr(x) => self.expr(x),
                Part::Block(b) => self.block(b),
                Part::Frame { frame, body, .. } => {
                    self.frame(frame, body);
                    0
                }
            }
        });
        need
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stdlib::types::I64;

    /// 32 integers (256 bytes) go straight into the record, 33 are staged; strings of
    /// `SCRATCH_MIN` bytes or more live in scratch memory and count as the 8 bytes of the
    /// pointer to them, `comm`'s 16 bytes count whole.
    #[test]
    fn events_with_many_small_arguments_are_staged() {
        assert!(!stages_args(&vec![I64; 32]));
        assert!(stages_args(&vec![I64; 33]));
        assert!(!stages_args(&vec![Type::Str { len: 64 }; 32]));
        assert!(stages_args(&vec![Type::Str { len: 64 }; 33]));
        assert!(stages_args(&vec![Type::Str { len: 16 }; 17]));
    }
}

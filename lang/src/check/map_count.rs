//! The number of maps one probe's program uses, so that a probe using more than the kernel
//! allows is a diagnostic here rather than a verifier refusal after a long compile.
//!
//! The kernel lets one BPF program reference at most [`MAX_USED_MAPS`] maps
//! (`MAX_USED_MAPS` in the kernel's `include/linux/bpf_verifier.h`; Linux 6.18's verifier
//! refuses more with "The total number of maps per program has reached the limit of 64"). bpftrace 0.27 has no
//! check of its own: such a script compiles, then fails to load with E2BIG. LLVM's time grows
//! faster than linearly with the maps of one function (5,000 take 9 s, 20,000 take 82 s), so a
//! script of thousands of maps is refused here, before codegen. Only the script's maps are
//! counted: rbt's own (the output ring buffer, the lost and full-map counters) depend on what
//! codegen emits and count too, so a program just under the limit may still be refused by the
//! verifier, which names the limit as well.

use super::diagnostics;
use crate::ast::Span;
use crate::hir::{Expr, ExprKind, MapId, Probe, Stmt, StmtKind};
use std::collections::HashSet;
use stdlib::diag::Diagnostic;

/// The most maps the kernel lets one BPF program use (`MAX_USED_MAPS`).
pub const MAX_USED_MAPS: usize = 64;

/// An error on the first use of the map beyond [`MAX_USED_MAPS`] in `probe`, if there is one.
pub(super) fn check(probe: &Probe) -> Option<Diagnostic> {
    let mut count = Count {
        seen: HashSet::new(),
        over: None,
    };
    if let Some(p) = &probe.predicate {
        count.expr(p);
    }
    count.block(&probe.body);
    count
        .over
        .map(|span| diagnostics::too_many_maps(MAX_USED_MAPS, span))
}

struct Count {
    seen: HashSet<MapId>,
    /// Where the first map past the limit is used.
    over: Option<Span>,
}

impl Count {
    fn map(&mut self, map: MapId, span: Span) {
        if self.seen.insert(map) && self.seen.len() > MAX_USED_MAPS && self.over.is_none() {
            self.over = Some(span);
        }
    }

    fn block(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    fn opt(&mut self, e: Option<&Expr>) {
        if let Some(e) = e {
            self.expr(e);
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Expr(e) | StmtKind::AssignVar { value: e, .. } => self.expr(e),
            StmtKind::AssignMap { map, key, value } => {
                self.map(*map, s.span);
                self.opt(key.as_ref());
                self.expr(value);
            }
            StmtKind::Aggregate {
                map, key, value, ..
            } => {
                self.map(*map, s.span);
                self.opt(key.as_ref());
                self.opt(value.as_ref());
            }
            StmtKind::Delete { map, key } => {
                self.map(*map, s.span);
                self.opt(key.as_ref());
            }
            StmtKind::Emit { args, .. } => args.iter().for_each(|a| self.expr(a)),
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond);
                self.block(then);
                self.block(otherwise);
            }
            StmtKind::While { cond, body } => {
                self.expr(cond);
                self.block(body);
            }
            StmtKind::Unroll { body, .. } => self.block(body),
            StmtKind::ForRange {
                start, end, body, ..
            } => {
                self.expr(start);
                self.expr(end);
                self.block(body);
            }
            StmtKind::ForMap { map, body, .. } => {
                self.map(*map, s.span);
                self.block(body);
            }
            StmtKind::Return(Some(e)) => self.expr(e),
            StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
        }
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::RunValue(_)
            | ExprKind::Builtin(_)
            | ExprKind::Var(_)
            | ExprKind::VarAddr(_)
            | ExprKind::ContextField { .. } => {}
            ExprKind::MapLen { map } => self.map(*map, e.span),
            ExprKind::MapRead { map, key } | ExprKind::Delete { map, key } => {
                self.map(*map, e.span);
                self.opt(key.as_deref());
            }
            ExprKind::HasKey { map, key } | ExprKind::Find { map, key, .. } => {
                self.map(*map, e.span);
                self.expr(key);
            }
            ExprKind::CommOf { pid: expr, .. }
            | ExprKind::Unary { expr, .. }
            | ExprKind::Cast(expr)
            | ExprKind::TupleIndex { expr, .. }
            | ExprKind::Member { expr, .. }
            | ExprKind::Load { ptr: expr, .. } => self.expr(expr),
            ExprKind::PercpuKaddr { cpu, .. } => self.opt(cpu.as_deref()),
            ExprKind::Binary { lhs, rhs, .. }
            | ExprKind::SkbOutput {
                skb: lhs, len: rhs, ..
            }
            | ExprKind::CheckedDivide { lhs, rhs, .. }
            | ExprKind::StrIndex {
                expr: lhs,
                index: rhs,
            }
            | ExprKind::StrCmp { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond);
                self.expr(then);
                self.expr(otherwise);
            }
            ExprKind::Tuple(items) | ExprKind::Call { args: items, .. } => {
                items.iter().for_each(|i| self.expr(i));
            }
            ExprKind::Block { stmts, value } => {
                self.block(stmts);
                self.expr(value);
            }
        }
    }
}

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
use crate::hir::{Expr, ExprKind, MapId, Part, Probe, Stmt, StmtKind};
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

    fn stmt(&mut self, s: &Stmt) {
        if let StmtKind::AssignMap { map, .. }
        | StmtKind::Aggregate { map, .. }
        | StmtKind::Delete { map, .. }
        | StmtKind::ForMap { map, .. } = &s.kind
        {
            self.map(*map, s.span);
        }
        s.parts(&mut |part| self.part(part));
    }

    fn part(&mut self, part: Part<'_>) {
        match part {
            Part::Expr(x) => self.expr(x),
            Part::Block(body) | Part::Frame { body, .. } => self.block(body),
        }
    }

    fn expr(&mut self, e: &Expr) {
        if let ExprKind::MapLen { map }
        | ExprKind::MapRead { map, .. }
        | ExprKind::Delete { map, .. }
        | ExprKind::HasKey { map, .. }
        | ExprKind::Find { map, .. } = &e.kind
        {
            self.map(*map, e.span);
        }
        e.parts(&mut |part| self.part(part));
    }
}

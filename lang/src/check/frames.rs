//! Which stack frame each of a probe's variables lives in. A `for` body runs as a callback
//! with a frame of its own: a variable used in one body alone (and the bodies nested in it)
//! lives there, zeroed at each iteration, as bpftrace 0.27 declares a body's variables in
//! its callback; any other lives in the innermost frame that holds all its uses (a body's,
//! or the probe's), and the bodies in between reach it through a pointer (`captures`).
//!
//! The verifier follows a value in the callback's own frame exactly, so a `while` counting
//! such a variable ends for it. It does not follow a value reached through a pointer, which
//! also lets it stop early over a body that counts a variable of the probe's frame
//! (`$n++; if ($n == 2) { break; }` in a `for` over a map).

use crate::hir::{Expr, ExprKind, Frame, FrameId, Stmt, StmtKind, VarId};
use std::collections::{BTreeSet, HashMap};

/// The probe frame's variables and each `for` body's frame (`frames` of them), for a probe
/// of `vars` variables with `predicate` and `body`.
pub(super) fn place(
    vars: usize,
    frames: FrameId,
    predicate: Option<&Expr>,
    body: &[Stmt],
) -> (Vec<VarId>, Vec<Frame>) {
    let mut uses = Uses {
        path: Vec::new(),
        paths: vec![Vec::new(); frames as usize],
        used: vec![BTreeSet::new(); frames as usize],
        homes: HashMap::new(),
    };
    if let Some(p) = predicate {
        uses.expr(p);
    }
    uses.block(body);
    let home = |v: &VarId| uses.homes.get(v).map_or(0, Vec::len);
    let probe_locals = (0..vars as VarId).filter(|v| home(v) == 0).collect();
    let frames = uses
        .used
        .iter()
        .zip(&uses.paths)
        .map(|(used, path)| Frame {
            captures: used
                .iter()
                .copied()
                .filter(|v| home(v) < path.len())
                .collect(),
            locals: used
                .iter()
                .copied()
                .filter(|v| uses.homes.get(v) == Some(path))
                .collect(),
        })
        .collect();
    (probe_locals, frames)
}

/// What a walk over a probe finds: where each variable is used.
struct Uses {
    /// The `for` bodies around the walk's position, outermost first.
    path: Vec<FrameId>,
    /// Each body's `path`, itself last.
    paths: Vec<Vec<FrameId>>,
    /// The variables used in each body and the bodies nested in it.
    used: Vec<BTreeSet<VarId>>,
    /// Each variable's frame: the longest `path` common to all its uses.
    homes: HashMap<VarId, Vec<FrameId>>,
}

impl Uses {
    fn var(&mut self, v: VarId) {
        for &f in &self.path {
            if let Some(set) = self.used.get_mut(f as usize) {
                set.insert(v);
            }
        }
        let path = &self.path;
        self.homes
            .entry(v)
            .and_modify(|home| {
                let common = home.iter().zip(path).take_while(|(a, b)| a == b).count();
                home.truncate(common);
            })
            .or_insert_with(|| path.clone());
    }

    /// A `for` body: its variable and statements, in its own frame.
    fn frame(&mut self, frame: FrameId, var: VarId, body: &[Stmt]) {
        self.path.push(frame);
        if let Some(p) = self.paths.get_mut(frame as usize) {
            p.clone_from(&self.path);
        }
        self.var(var);
        self.block(body);
        self.path.pop();
    }

    fn block(&mut self, stmts: &[Stmt]) {
        stmts.iter().for_each(|s| self.stmt(s));
    }

    fn opt(&mut self, e: Option<&Expr>) {
        if let Some(e) = e {
            self.expr(e);
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Expr(e) | StmtKind::Return(Some(e)) => self.expr(e),
            StmtKind::AssignVar { var, value } => {
                self.var(*var);
                self.expr(value);
            }
            StmtKind::AssignMap { key, value, .. } => {
                self.opt(key.as_ref());
                self.expr(value);
            }
            StmtKind::Aggregate { key, value, .. } => {
                self.opt(key.as_ref());
                self.opt(value.as_ref());
            }
            StmtKind::Delete { key, .. } => self.opt(key.as_ref()),
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
                var,
                start,
                end,
                frame,
                body,
            } => {
                self.expr(start);
                self.expr(end);
                self.frame(*frame, *var, body);
            }
            StmtKind::ForMap {
                var, frame, body, ..
            } => self.frame(*frame, *var, body),
            StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
        }
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::RunValue(_)
            | ExprKind::Builtin(_)
            | ExprKind::ContextField { .. }
            | ExprKind::MapLen { .. } => {}
            ExprKind::Var(v) | ExprKind::VarAddr(v) => self.var(*v),
            ExprKind::Find { key, var, .. } => {
                self.var(*var);
                self.expr(key);
            }
            ExprKind::MapRead { key, .. } | ExprKind::Delete { key, .. } => {
                self.opt(key.as_deref())
            }
            ExprKind::HasKey { key, .. } => self.expr(key),
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

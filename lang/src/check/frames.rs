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

use crate::hir::{Expr, ExprKind, Frame, FrameId, Part, Stmt, StmtKind, VarId};
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

    fn stmt(&mut self, s: &Stmt) {
        if let StmtKind::AssignVar { var, .. } = &s.kind {
            self.var(*var);
        }
        s.parts(&mut |part| self.part(part));
    }

    fn part(&mut self, part: Part<'_>) {
        match part {
            Part::Expr(x) => self.expr(x),
            Part::Block(body) => self.block(body),
            Part::Frame { frame, var, body } => self.frame(frame, var, body),
        }
    }

    fn expr(&mut self, e: &Expr) {
        if let ExprKind::Var(v) | ExprKind::VarAddr(v) | ExprKind::Find { var: v, .. } = &e.kind {
            self.var(*v);
        }
        e.parts(&mut |part| self.part(part));
    }
}

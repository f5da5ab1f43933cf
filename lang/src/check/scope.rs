//! Where scratch variables are visible, as bpftrace 0.22+ scopes them: a variable belongs to
//! the block that declares it (by `let` or by its first assignment) and is gone when that
//! block ends; `let` may not shadow a visible variable; `let $x;` without a type takes its
//! type from the first assignment that follows.
//!
//! One difference is deliberate: 0.17-era scripts (Debian's `tcpconnect.bt` among them)
//! assign a variable in both branches of an `if` and read it after the `if`. A variable
//! declared by plain assignment (not `let`) therefore comes back into scope when it is
//! assigned or read again after its block, with a warning that names the block, instead of
//! 0.27's error; a variable declared by `let` never does.

use super::diagnostics;
use super::Checker;
use crate::ast::{self, Span};
use crate::hir::VarId;
use std::collections::{HashMap, HashSet};
use stdlib::types::{Type, I64};

/// The per-probe scope state beside `Checker::var_ids` (the visible variables).
#[derive(Default)]
pub(super) struct Scopes {
    /// The names declared in each open block, innermost last.
    open: Vec<Vec<String>>,
    /// Variables whose block has ended, by name (the latest one).
    hidden: HashMap<String, VarId>,
    /// Where each variable was declared, and whether by `let`.
    decls: Vec<(Span, bool)>,
    /// `let $x;` variables whose type the next assignment fixes, with the span of the first
    /// read before that (if any).
    untyped: HashMap<VarId, Option<Span>>,
    /// Variables already warned about coming back into scope, so each is reported once.
    warned: HashSet<VarId>,
    /// Variables whose type the script wrote out (`let $x: uint8`): values stored in them
    /// are checked against that type instead of widening it.
    annotated: HashSet<VarId>,
}

/// What the quiet first pass learns about variables, as bpftrace 0.27 types a variable by
/// all its assignments: `$x = 0; $x = $x - 1;` makes `$x` signed from its first assignment
/// on, and `$t = (1, "a"); $t = (70000, "b")` widens the tuple's integer. Keyed by the
/// ordinal of the probe body (both passes check the same bodies in the same order, so ids
/// match) and the variable's id.
#[derive(Default)]
pub(super) struct LearnedTypes {
    /// The body being checked: counts `reset_scopes` calls since the pass started.
    body: usize,
    types: HashMap<(usize, VarId), Type>,
}

impl LearnedTypes {
    /// A new pass checks the bodies from the first again.
    pub(super) fn restart(&mut self) {
        self.body = 0;
    }
}

impl Checker<'_> {
    /// Forgets every variable: a new probe body starts.
    pub(super) fn reset_scopes(&mut self) {
        self.vars.clear();
        self.var_ids.clear();
        self.scopes = Scopes::default();
        self.learned.body += 1;
    }

    /// `ty` grown to hold every value the script stores in variable `id` (see
    /// [`LearnedTypes`]).
    pub(super) fn with_learned(&self, id: VarId, ty: &Type) -> Type {
        match self.learned.types.get(&(self.learned.body, id)) {
            Some(all) if super::compatible(ty, all) => super::widen(ty, all, self.probe_text_len),
            _ => ty.clone(),
        }
    }

    /// Records that the script stores a value of type `ty` in variable `id`.
    pub(super) fn learn_var_type(&mut self, id: VarId, ty: &Type) {
        let Some(have) = self.vars.get(id as usize) else {
            return;
        };
        if !super::compatible(have, ty) {
            return;
        }
        let key = (self.learned.body, id);
        let grown = match self.learned.types.get(&key) {
            Some(all) => super::widen(all, ty, self.probe_text_len),
            None => super::widen(have, ty, self.probe_text_len),
        };
        self.learned.types.insert(key, grown);
    }

    pub(super) fn enter_scope(&mut self) {
        self.scopes.open.push(Vec::new());
    }

    /// Ends the innermost block: its variables are no longer visible.
    pub(super) fn leave_scope(&mut self) {
        let Some(names) = self.scopes.open.pop() else {
            return;
        };
        for name in names {
            let Some(id) = self.var_ids.remove(&name) else {
                continue;
            };
            // Never assigned: reading it has no type to read (as in bpftrace); an unused
            // declaration keeps the default integer type.
            if let Some(Some(span)) = self.scopes.untyped.remove(&id) {
                self.push(diagnostics::variable_without_type(&name, span));
            }
            self.scopes.hidden.insert(name, id);
        }
    }

    /// A new variable `name` of type `ty`, visible in the innermost block.
    pub(super) fn declare_var(&mut self, name: &str, ty: &Type, span: Span, by_let: bool) -> VarId {
        let id = self.vars.len() as VarId;
        // A `let` or loop variable has the type its declaration gives it.
        let ty = if by_let {
            ty.clone()
        } else {
            self.with_learned(id, ty)
        };
        self.vars.push(ty);
        self.scopes.decls.push((span, by_let));
        self.var_ids.insert(name.to_string(), id);
        if let Some(open) = self.scopes.open.last_mut() {
            open.push(name.to_string());
        }
        id
    }

    /// A variable without a name, for a value the checker keeps aside (`$x++`'s old value).
    pub(super) fn unnamed_var(&mut self, ty: &Type, span: Span) -> VarId {
        let id = self.vars.len() as VarId;
        self.vars.push(ty.clone());
        self.scopes.decls.push((span, true));
        id
    }

    /// `let $x …`: a new variable, unless one of that name is already visible.
    pub(super) fn declare_let(
        &mut self,
        name: &str,
        ty: Option<&Type>,
        span: Span,
    ) -> Option<VarId> {
        if let Some(&id) = self.var_ids.get(name) {
            let (first, _) = self.scopes.decls[id as usize];
            self.push(diagnostics::variable_shadowed(name, span, first));
            return None;
        }
        let id = self.declare_var(name, ty.unwrap_or(&I64), span, true);
        if ty.is_some() {
            self.scopes.annotated.insert(id);
        } else {
            self.scopes.untyped.insert(id, None);
        }
        Some(id)
    }

    /// The `FrameId` of the next `for` body of the probe.
    pub(super) fn next_frame(&mut self) -> crate::hir::FrameId {
        self.frames += 1;
        self.frames - 1
    }

    /// A `for` loop's variable: one visible already is assigned (and type-checked) as
    /// before; a new one belongs to the loop and, like a `let`, never outlives it.
    pub(super) fn loop_var(&mut self, name: &str, ty: &Type, span: Span) -> Option<VarId> {
        if self.var_ids.contains_key(name) {
            return self.var(name, ty, span);
        }
        Some(self.declare_var(name, ty, span, true))
    }

    /// The type of a `let $x;` variable is fixed by its first assignment, to `ty`. Returns
    /// false when `id` already had its type.
    pub(super) fn settle_type(&mut self, id: VarId, ty: &Type, span: Span, name: &str) -> bool {
        let Some(read) = self.scopes.untyped.remove(&id) else {
            return false;
        };
        // A read before this assignment was typed as an integer.
        if let (Some(read), false) = (read, ty.is_int()) {
            self.push(diagnostics::variable_read_before_typed(
                name, ty, read, span,
            ));
        }
        self.vars[id as usize] = self.with_learned(id, ty);
        true
    }

    /// Checks a constant stored in variable `id` against the type the script wrote for it
    /// (`let $b: uint8 = 300`): bpftrace 0.27 refuses a constant that type cannot hold,
    /// which would be stored truncated. Variables without a written type widen to hold what
    /// is stored (see [`LearnedTypes`]). A non-constant value is converted without a word:
    /// rbt types variables as 64-bit integers, so 0.27's warning about narrowing
    /// conversions would fire here where 0.27's narrower variable types keep it quiet.
    pub(super) fn check_annotated_store(&mut self, name: &str, id: VarId, value: &ast::Expr) {
        if !self.scopes.annotated.contains(&id) {
            return;
        }
        let declared = self.vars[id as usize].clone();
        let Type::Int { bits, signed } = declared else {
            return;
        };
        let (lo, hi): (i128, i128) = match signed {
            true => (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1),
            false => (0, (1i128 << bits) - 1),
        };
        let constant = match &value.kind {
            ast::ExprKind::Int(i) => Some(i128::from(*i)),
            _ => self.const_int(value).map(i128::from),
        };
        if let Some(c) = constant.filter(|c| *c < lo || *c > hi) {
            let (decl, _) = self.scopes.decls[id as usize];
            let d = diagnostics::constant_does_not_fit(name, c, &declared, value.span, decl);
            self.push(d);
        }
    }

    /// A variable that is not visible but was declared by assignment in a block that has
    /// ended comes back into the innermost block (see the module doc), if `ty` (the type
    /// about to be stored, or `None` for a read) fits it.
    pub(super) fn revive(&mut self, name: &str, ty: Option<&Type>, span: Span) {
        if self.var_ids.contains_key(name) {
            return;
        }
        let Some(&id) = self.scopes.hidden.get(name) else {
            return;
        };
        let (decl, by_let) = self.scopes.decls[id as usize];
        if by_let || ty.is_some_and(|t| !super::compatible(&self.vars[id as usize], t)) {
            return;
        }
        self.scopes.hidden.remove(name);
        self.var_ids.insert(name.to_string(), id);
        if let Some(open) = self.scopes.open.last_mut() {
            open.push(name.to_string());
        }
        // Assigning again in a sibling block is valid in 0.27 too (a new variable there);
        // only a read outside the declaring block is the 0.17 habit worth a warning.
        if ty.is_none() && self.scopes.warned.insert(id) {
            self.push(diagnostics::variable_outside_block(name, span, decl));
        }
    }

    /// A read of `$name`: its id and type, or the diagnostic for a variable that is not
    /// visible here.
    pub(super) fn read_var(&mut self, name: &str, span: Span) -> Option<(VarId, Type)> {
        self.revive(name, None, span);
        if let Some(&id) = self.var_ids.get(name) {
            if let Some(read) = self.scopes.untyped.get_mut(&id) {
                read.get_or_insert(span);
            }
            return Some((id, self.vars[id as usize].clone()));
        }
        let d = match self.scopes.hidden.get(name) {
            Some(&id) => {
                let (decl, _) = self.scopes.decls[id as usize];
                diagnostics::variable_out_of_scope(name, span, decl)
            }
            None => {
                let names: Vec<String> = self.var_ids.keys().cloned().collect();
                diagnostics::undefined_variable(name, &names, span)
            }
        };
        self.push(d);
        None
    }
}

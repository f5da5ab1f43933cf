//! Checking statements: assignments (fixing variable and map types), `let`, control flow and
//! `for` over maps. Builtin calls that are statements, and aggregations, are typed in
//! `stmt_calls.rs`.

use super::diagnostics;
use super::Checker;
use crate::ast::{self, BinaryOp, ExprKind as A, StmtKind as S};
use crate::hir::{Stmt, StmtKind};
use stdlib::builtins::{Function, Kind};
use stdlib::types::{Type, I64};

impl Checker<'_> {
    /// A block's statements; the variables it declares are visible only inside it.
    pub(super) fn block(&mut self, b: &ast::Block) -> Vec<Stmt> {
        self.enter_scope();
        let mut out = Vec::new();
        let mut ended = false;
        let mut reported = false;
        for s in &b.stmts {
            if ended && !reported {
                // Once per block (and once for the attach points that share it); the
                // statements are still checked.
                let d = diagnostics::unreachable_statement(s.span);
                if !self.diags.contains(&d) {
                    self.push(d);
                }
                reported = true;
            }
            self.stmt(s, &mut out);
            ended |= ends_block(s);
        }
        self.leave_scope();
        out
    }

    /// `$x++`, `--@m[k]` used as a value (bpftrace 0.2x): the update, then the value before
    /// it (postfix) or after it (prefix), as a block expression.
    pub(super) fn inc_dec_value(
        &mut self,
        target: &ast::Expr,
        increment: bool,
        prefix: bool,
        span: crate::ast::Span,
    ) -> crate::hir::Expr {
        use super::exprs::{mk, poisoned};
        use crate::hir::ExprKind as H;
        let mut stmts = Vec::new();
        let old = if prefix {
            None
        } else {
            let v = self.expr(target);
            if !(v.ty.is_int() || matches!(v.ty, Type::Pointer { .. })) {
                self.require_int(&v, "`++`/`--`");
                return poisoned(span);
            }
            let ty = v.ty.clone();
            let id = self.unnamed_var(&ty, span);
            stmts.push(Stmt {
                kind: StmtKind::AssignVar { var: id, value: v },
                span,
            });
            Some((id, ty))
        };
        let one = ast::Expr {
            kind: A::Int(1),
            span,
        };
        let op = if increment {
            BinaryOp::Add
        } else {
            BinaryOp::Sub
        };
        let Some(update) = self.assign(target, Some(op), &one, span) else {
            return poisoned(span);
        };
        stmts.push(Stmt { kind: update, span });
        let value = match old {
            Some((id, ty)) => mk(H::Var(id), ty, span),
            None => self.expr(target),
        };
        let ty = value.ty.clone();
        mk(
            H::Block {
                stmts,
                value: Box::new(value),
            },
            ty,
            span,
        )
    }

    /// The statements of an `else`: its block, or the `else if` as one statement.
    pub(super) fn else_branch(&mut self, otherwise: Option<&ast::Else>) -> Vec<Stmt> {
        match otherwise {
            None => Vec::new(),
            Some(ast::Else::Block(b)) => self.block(b),
            Some(ast::Else::If(inner)) => {
                let mut v = Vec::new();
                self.stmt(inner, &mut v);
                v
            }
        }
    }

    /// How many errors have been reported so far.
    pub(super) fn errors(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }

    fn stmt(&mut self, s: &ast::Stmt, out: &mut Vec<Stmt>) {
        let span = s.span;
        let push = |out: &mut Vec<Stmt>, kind| out.push(Stmt { kind, span });
        match &s.kind {
            S::Expr(e) => match &e.kind {
                A::Call { func, args } if statement_fn(&func.name).is_some() => {
                    let f = statement_fn(&func.name);
                    if let Some(k) = f.and_then(|f| self.statement_call(f, func, args, e.span)) {
                        push(out, k);
                        // exit() ends the probe at once, as in bpftrace 0.27.
                        if f == Some(Function::Exit) {
                            push(out, StmtKind::Return(None));
                        }
                    }
                }
                // `cond ? printf(..) : exit()`: a choice between two calls that return
                // nothing is a statement, an `if` with an `else`.
                A::Ternary {
                    cond,
                    then,
                    otherwise,
                } if returns_nothing(then) || returns_nothing(otherwise) => {
                    if returns_nothing(then) != returns_nothing(otherwise) {
                        self.push(diagnostics::ternary_one_branch_returns_nothing(e.span));
                        return;
                    }
                    let c = self.expr(cond);
                    self.require_int(&c, "a ternary condition");
                    let mut branch = |e: &ast::Expr| {
                        let mut stmts = Vec::new();
                        let s = ast::Stmt {
                            kind: S::Expr(e.clone()),
                            span: e.span,
                        };
                        self.stmt(&s, &mut stmts);
                        stmts
                    };
                    let then = branch(then);
                    let otherwise = branch(otherwise);
                    push(
                        out,
                        StmtKind::If {
                            cond: c,
                            then,
                            otherwise,
                        },
                    );
                }
                A::IncDec {
                    target, increment, ..
                } => {
                    let one = ast::Expr {
                        kind: A::Int(1),
                        span: e.span,
                    };
                    let op = if *increment {
                        BinaryOp::Add
                    } else {
                        BinaryOp::Sub
                    };
                    if let Some(k) = self.assign(target, Some(op), &one, e.span) {
                        push(out, k);
                    }
                }
                _ => {
                    let errors = self.errors();
                    let x = self.expr(e);
                    // A value computed for nothing is likely a mistake (bpftrace 0.25+ warns
                    // too); an expression that failed to check has been reported already.
                    let failed = self.errors() > errors;
                    if !failed && !matches!(x.ty, Type::None) {
                        self.push(diagnostics::value_discarded(e.span));
                    }
                    push(out, StmtKind::Expr(x));
                }
            },
            // `_ = expr;` (bpftrace 0.25+) evaluates the value and drops it.
            S::Assign {
                target:
                    ast::Expr {
                        kind: A::Ident(name),
                        ..
                    },
                op: None,
                value,
            } if name == "_" => {
                let x = self.expr(value);
                push(out, StmtKind::Expr(x));
            }
            S::Assign { target, op, value } => {
                if let Some(k) = self.assign(target, *op, value, span) {
                    push(out, k);
                }
            }
            S::Let { var, ty, init } => {
                let declared = ty.as_ref().and_then(|t| self.resolve_value_type(t));
                if ty.is_some() && declared.is_none() {
                    // The type's own error has been reported.
                    return;
                }
                let at = crate::ast::Span::new(span.start, var.span.end);
                match init {
                    Some(init) => {
                        let v = self.expr(init);
                        let ty = match &declared {
                            Some(t) => t.clone(),
                            None => self.storage_type(&v.ty),
                        };
                        if let Some(id) = self.declare_let(&var.name, Some(&ty), at) {
                            // Without a declared type, later assignments may widen it.
                            let ty = match declared {
                                Some(t) => t,
                                None => self.with_learned(id, &ty),
                            };
                            self.vars[id as usize] = ty.clone();
                            self.check_annotated_store(&var.name, id, init);
                            let v = self.coerce(v, &ty);
                            push(out, StmtKind::AssignVar { var: id, value: v });
                        }
                    }
                    None => {
                        let id = self.declare_let(&var.name, declared.as_ref(), at);
                        // A variable declared in a loop body starts from zero in each
                        // iteration (outside loops the probe's entry zeroes it).
                        if let (Some(id), true) = (id, self.loop_depth > 0) {
                            let zero = super::exprs::mk(crate::hir::ExprKind::Int(0), I64, span);
                            push(
                                out,
                                StmtKind::AssignVar {
                                    var: id,
                                    value: zero,
                                },
                            );
                        }
                    }
                }
            }
            S::If {
                cond,
                then,
                otherwise,
            } if super::comptime::is_comptime(cond) => {
                self.comptime_if(cond, then, otherwise.as_ref(), out);
            }
            S::If {
                cond,
                then,
                otherwise,
            } => {
                let c = self.expr(cond);
                self.require_int(&c, "an if condition");
                let then = self.block(then);
                let otherwise = self.else_branch(otherwise.as_ref());
                push(
                    out,
                    StmtKind::If {
                        cond: c,
                        then,
                        otherwise,
                    },
                );
            }
            S::Unroll { count, body } => {
                let n = self.const_int(count);
                match n {
                    Some(n) if (1..=100).contains(&n) => {
                        let body = self.block(body);
                        push(
                            out,
                            StmtKind::Unroll {
                                count: n as u32,
                                body,
                            },
                        );
                    }
                    _ => {
                        self.push(diagnostics::unroll_count(count.span));
                    }
                }
            }
            S::While { cond, body } => {
                let c = self.expr(cond);
                self.require_int(&c, "a while condition");
                self.loop_depth += 1;
                let body = self.block(body);
                self.loop_depth -= 1;
                push(out, StmtKind::While { cond: c, body });
            }
            S::ForRange {
                var,
                start,
                end,
                body,
            } => {
                let s = self.expr(start);
                let e = self.expr(end);
                self.require_int(&s, "a range start");
                self.require_int(&e, "a range end");
                let frame = self.next_frame();
                self.enter_scope();
                let id = self.loop_var(&var.name, &I64, var.span);
                self.loop_depth += 1;
                let body = self.block(body);
                self.loop_depth -= 1;
                self.leave_scope();
                let Some(id) = id else {
                    return;
                };
                push(
                    out,
                    StmtKind::ForRange {
                        var: id,
                        start: s,
                        end: e,
                        frame,
                        body,
                    },
                );
            }
            S::ForMap { var, map, body } => {
                if let Some(k) = self.for_map(var, map, body) {
                    push(out, k);
                }
            }
            S::Break | S::Continue => {
                if self.loop_depth == 0 {
                    let what = if matches!(s.kind, S::Break) {
                        "break"
                    } else {
                        "continue"
                    };
                    self.push(diagnostics::outside_loop(what, span));
                } else {
                    push(
                        out,
                        if matches!(s.kind, S::Break) {
                            StmtKind::Break
                        } else {
                            StmtKind::Continue
                        },
                    );
                }
            }
            S::Return(value) => {
                let value = value.as_ref().map(|v| self.expr(v));
                if let Some(v) = value
                    .as_ref()
                    .filter(|v| !v.ty.is_int() || v.ty == Type::Bool)
                {
                    self.push(diagnostics::probe_return_value(&v.ty, v.span));
                }
                push(out, StmtKind::Return(value));
            }
            S::Block(b) => {
                let inner = self.block(b);
                out.extend(inner);
            }
        }
    }

    /// `for ($kv : @map) { body }`: `$kv` is the tuple (key, value) of each element.
    fn for_map(
        &mut self,
        var: &ast::Ident,
        map: &ast::Expr,
        body: &ast::Block,
    ) -> Option<StmtKind> {
        let id = self.whole_map(map, "`for`")?;
        let spec = self.maps[id as usize].clone();
        let name = spec.script_name.clone().unwrap_or_default();
        let Some(key) = spec.key.clone() else {
            self.push(diagnostics::map_without_keys_in_for(&name, map.span));
            return None;
        };
        let value = match spec.value {
            Type::Agg(agg) => match super::exprs::aggregation_value(agg) {
                Some(ty) => ty,
                None => {
                    self.push(diagnostics::aggregation_iterated(agg, &name, map.span));
                    return None;
                }
            },
            other => other,
        };
        let ty = Type::Tuple(vec![key, value]);
        let frame = self.next_frame();
        self.enter_scope();
        let var_id = self.loop_var(&var.name, &ty, var.span);
        self.loop_depth += 1;
        let body = self.block(body);
        self.loop_depth -= 1;
        self.leave_scope();
        let var_id = var_id?;
        let have = &self.vars[var_id as usize];
        if *have != ty {
            let d = diagnostics::for_variable_type(&var.name, have, &name, &ty, var.span);
            self.push(d);
            return None;
        }
        Some(StmtKind::ForMap {
            var: var_id,
            map: id,
            frame,
            body,
        })
    }

    /// `target = value` / `target op= value` for variables and maps.
    fn assign(
        &mut self,
        target: &ast::Expr,
        op: Option<BinaryOp>,
        value: &ast::Expr,
        span: crate::ast::Span,
    ) -> Option<StmtKind> {
        // Aggregations: `@m[k] = count()`.
        if let A::Call { func, args } = &value.kind {
            let agg_fn =
                Function::from_name(&func.name).filter(|f| f.spec().kind == Kind::Aggregation);
            if let Some(agg_fn) = agg_fn {
                let A::Map { name, keys } = &target.kind else {
                    self.push(diagnostics::aggregation_outside_map(&func.name, span));
                    return None;
                };
                if op.is_some() {
                    self.push(diagnostics::aggregation_compound_assignment(span));
                    return None;
                }
                return self.aggregate(name, keys, agg_fn, func, args, span);
            }
        }
        let rhs = match op {
            None => self.expr(value),
            Some(op) => {
                let combined = ast::Expr {
                    kind: A::Binary {
                        op,
                        lhs: Box::new(target.clone()),
                        rhs: Box::new(value.clone()),
                    },
                    span,
                };
                self.expr(&combined)
            }
        };
        match &target.kind {
            A::Var(name) => {
                // A variable of an ended block may come back (see `scope`); a `let $x;`
                // takes its type from this first assignment.
                self.revive(name, Some(&rhs.ty), target.span);
                if let Some(&id) = self.var_ids.get(name) {
                    self.settle_type(id, &rhs.ty, target.span, name);
                }
                // A variable's type holds every value the script assigns it (the quiet first
                // pass learns them all, see `LearnedTypes`), so a longer string or a wider
                // integer assigned later fits.
                if let Some(&id) = self.var_ids.get(name) {
                    self.learn_var_type(id, &rhs.ty);
                }
                let id = self.var(name, &rhs.ty.clone(), target.span)?;
                if op.is_none() {
                    self.check_annotated_store(name, id, value);
                }
                let ty = self.vars[id as usize].clone();
                let rhs = self.coerce(rhs, &ty);
                Some(StmtKind::AssignVar {
                    var: id,
                    value: rhs,
                })
            }
            A::Map { name, keys } => {
                if matches!(rhs.ty, Type::None) {
                    self.push(diagnostics::no_value_to_store(value.span));
                    return None;
                }
                let key = self.map_key(keys);
                let value_ty = self.storage_type(&rhs.ty);
                let id = self.map_id(name, key.as_ref().map(|k| k.ty.clone()), value_ty, span)?;
                let spec = self.maps[id as usize].clone();
                if let Type::Agg(_) = spec.value {
                    let map = format!("@{}", name.name);
                    self.push(diagnostics::aggregation_assigned(&map, span));
                    return None;
                }
                let key = match (key, &spec.key) {
                    (Some(k), Some(kt)) => Some(self.coerce(k, kt)),
                    (k, _) => k,
                };
                let rhs = self.coerce(rhs, &spec.value);
                Some(StmtKind::AssignMap {
                    map: id,
                    key,
                    value: rhs,
                })
            }
            _ => {
                let element = matches!(
                    target.kind,
                    A::TupleIndex { .. } | A::Field { arrow: false, .. }
                );
                self.push(diagnostics::not_assignable(element, target.span));
                None
            }
        }
    }
}

/// Whether nothing after `s` in its block can run: `return`, `break`, `continue`, `exit()`.
fn ends_block(s: &ast::Stmt) -> bool {
    match &s.kind {
        S::Return(_) | S::Break | S::Continue => true,
        S::Expr(e) => matches!(
            &e.kind,
            A::Call { func, .. } if statement_fn(&func.name) == Some(Function::Exit)
        ),
        S::Assign { .. }
        | S::Let { .. }
        | S::If { .. }
        | S::Unroll { .. }
        | S::While { .. }
        | S::ForMap { .. }
        | S::ForRange { .. }
        | S::Block(_) => false,
    }
}

/// Whether `e` is a call that returns nothing (`printf`, `exit`, …), or a choice between
/// two such calls.
fn returns_nothing(e: &ast::Expr) -> bool {
    match &e.kind {
        A::Call { func, .. } => statement_fn(&func.name).is_some(),
        A::Ternary {
            then, otherwise, ..
        } => returns_nothing(then) && returns_nothing(otherwise),
        _ => false,
    }
}

/// The builtin a call names when it is a statement of its own (`printf(...);`).
fn statement_fn(name: &str) -> Option<Function> {
    Function::from_name(name).filter(|f| f.spec().kind == Kind::Statement)
}

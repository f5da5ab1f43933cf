//! `lang::macros`: expands bpftrace macros (`macro name($var, @map, expr) { … }`) and block
//! expressions (`{ stmts; value }`) in the parsed script, so that the checker only ever sees
//! plain statements and expressions. `lang::parse` runs it last.
//!
//! A call is replaced by the macro's body: a `$var` parameter becomes the caller's variable, a
//! `@map` parameter the caller's map, and an `expr` parameter the argument expression itself,
//! written in again wherever the body names it (so its side effects happen once per use, as in
//! bpftrace). Every other variable of the body is renamed to a name a script cannot spell, so
//! it never clashes with the caller's (hygiene); a map that is not a parameter is an error.
//! Macros may call macros defined anywhere in the script, but not themselves.
//!
//! A block expression, or a macro body with statements, is lowered by moving its statements
//! before the statement that holds it; its value takes its place. Inside a `while` condition
//! the loop becomes `while (1) { stmts; if (!cond) { break; } body }`, and a predicate that
//! needs statements becomes an `if` around the probe's body. An operand of `&&`, `||` or `?:`
//! that needs statements becomes an `if` setting a temporary, so that they run only when the
//! operand is evaluated.
//!
//! The same walk tells the checker what a probe reads of `args` ([`args_use`]), after
//! expansion, so a macro's use counts where it is called.
//!
//! Its diagnostics are the named constructors at the end of this file.

use crate::ast::*;
use std::collections::{HashMap, HashSet};
use stdlib::builtins::{Builtin, Function};
use stdlib::diag::Diagnostic;

/// Macro bodies instantiated for one script beyond this are refused: macros that each call
/// the next one twice grow exponentially, and nothing real needs this many.
const MAX_EXPANSIONS: usize = 10_000;

/// Joins a macro variable's name to the number of the expansion it belongs to: `$y` in the
/// third expansion is `$y#3`, which no script can spell.
const HYGIENE_MARK: char = '#';

/// Expands every macro call and block expression in the probes of `script`.
pub fn expand(script: &mut Script, diags: &mut Vec<Diagnostic>) {
    let table = Table::new(&script.macros, diags);
    let mut expander = Expander {
        table: &table,
        diags,
        expansions: 0,
        reported: HashSet::new(),
        record: Vec::new(),
        temps: 0,
    };
    for probe in &mut script.probes {
        expander.probe(probe);
    }
    script.expansions = expander.record;
}

/// The diagnostics of a later pass (the checker), made to read like the source: a
/// diagnostic about code inside a macro also points at the call it was expanded from (and
/// that call's own caller, for macros called from macros), and the names the expansion gave
/// a macro's own variables are shown as written.
pub fn annotate_expansions(script: &Script, diags: &[Diagnostic]) -> Vec<Diagnostic> {
    let inside = |span: Span, def: Span| def.start <= span.start && span.end <= def.end;
    diags
        .iter()
        .map(|d| {
            let mut d = d.clone();
            d.message = as_written(&d.message);
            d.label = as_written(&d.label);
            for text in d.help.iter_mut().chain(d.notes.iter_mut()) {
                *text = as_written(text);
            }
            let mut at = d.span;
            // Each step leaves one macro definition; there are only so many.
            for _ in 0..script.macros.len() {
                let Some(e) = script.expansions.iter().find(|e| inside(at, e.definition)) else {
                    break;
                };
                d.secondary.push((e.call, "expanded from here".to_string()));
                at = e.call;
            }
            d
        })
        .collect()
}

/// `text` without the `#N` suffixes that keep a macro's variables apart.
fn as_written(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == HYGIENE_MARK && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------- the macro table

/// The script's macros by name and arity, and which of them call themselves.
struct Table<'s> {
    defs: &'s [MacroDef],
    by_key: HashMap<(&'s str, usize), usize>,
    names: HashSet<&'s str>,
    /// Macros that reach themselves, with the callee and span of the call in their body
    /// that leads back. Like bpftrace, rbt reports them where they are used.
    recursive: HashMap<usize, (usize, Span)>,
}

/// What a call or bare identifier refers to.
enum Resolved {
    Macro(usize),
    /// A macro that calls itself.
    Recursive(usize),
    /// Macros of this name exist, none with this many parameters.
    WrongArity(usize),
    NotMacro,
}

impl<'s> Table<'s> {
    fn new(defs: &'s [MacroDef], diags: &mut Vec<Diagnostic>) -> Table<'s> {
        let mut by_key = HashMap::new();
        for (i, def) in defs.iter().enumerate() {
            let mut seen: HashMap<&str, &Ident> = HashMap::new();
            for p in &def.params {
                let id = p.ident();
                match seen.get(id.name.as_str()) {
                    Some(first) => diags.push(duplicate_param(def, id, first)),
                    None => {
                        seen.insert(id.name.as_str(), id);
                    }
                }
            }
            let key = (def.name.name.as_str(), def.params.len());
            match by_key.get(&key) {
                Some(&first) => diags.push(duplicate_macro(def, &defs[first])),
                None => {
                    by_key.insert(key, i);
                }
            }
        }
        let mut table = Table {
            defs,
            by_key,
            names: defs.iter().map(|d| d.name.name.as_str()).collect(),
            recursive: HashMap::new(),
        };
        table.find_recursion();
        table
    }

    fn is_macro(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    fn resolve(&self, name: &str, args: usize, bare: bool) -> Resolved {
        if let Some(&i) = self.by_key.get(&(name, args)) {
            return if self.recursive.contains_key(&i) {
                Resolved::Recursive(i)
            } else {
                Resolved::Macro(i)
            };
        }
        // A bare name or a call of a builtin or function keeps its meaning when no macro of
        // that arity overrides it (bpftrace's `macro cpu(x)` leaves `cpu()` alone).
        let builtin = Function::from_name(name).is_some() || Builtin::from_name(name).is_some();
        match self.defs.iter().position(|d| d.name.name == name) {
            Some(i) if !bare && !builtin => Resolved::WrongArity(i),
            _ => Resolved::NotMacro,
        }
    }

    /// The macros each macro's body calls, with the span of the call.
    fn callees(&self, def: &MacroDef) -> Vec<(usize, Span)> {
        let shadowing: HashSet<&str> = def
            .params
            .iter()
            .filter_map(|p| match p {
                MacroParam::Expr(id) => Some(id.name.as_str()),
                MacroParam::Var(_) | MacroParam::Map(_) => None,
            })
            .collect();
        let mut body = def.body.clone();
        let mut found = Vec::new();
        let mut visit = |e: &mut Expr| {
            let call = match &e.kind {
                ExprKind::Call { func, args } => Some((func.name.as_str(), args.len(), false)),
                ExprKind::Ident(name) if !shadowing.contains(name.as_str()) => {
                    Some((name.as_str(), 0, true))
                }
                _ => None,
            };
            if let Some((name, n, bare)) = call {
                if let Some(&i) = self.by_key.get(&(name, n)) {
                    if !bare || n == 0 {
                        found.push((i, e.span));
                    }
                }
            }
            true
        };
        Walk::exprs(&mut body, &mut visit);
        found
    }

    /// Marks every macro that reaches itself through calls.
    fn find_recursion(&mut self) {
        let edges: Vec<Vec<(usize, Span)>> = self.defs.iter().map(|d| self.callees(d)).collect();
        for (i, def) in self.defs.iter().enumerate() {
            if self.by_key.get(&(def.name.name.as_str(), def.params.len())) != Some(&i) {
                continue;
            }
            // The first call in the body from which this macro is reached again.
            let back = edges[i].iter().find(|(start, _)| {
                let mut seen = HashSet::new();
                let mut todo = vec![*start];
                while let Some(n) = todo.pop() {
                    if n == i {
                        return true;
                    }
                    if seen.insert(n) {
                        todo.extend(edges[n].iter().map(|(m, _)| *m));
                    }
                }
                false
            });
            if let Some((callee, span)) = back {
                self.recursive.insert(i, (*callee, *span));
            }
        }
    }
}

// ---------------------------------------------------------------- expansion

struct Expander<'t, 'd> {
    table: &'t Table<'t>,
    diags: &'d mut Vec<Diagnostic>,
    expansions: usize,
    /// Spans already reported, so an error inside a macro body is said once, not per call.
    reported: HashSet<(usize, usize)>,
    /// The calls expanded so far (`Script::expansions`).
    record: Vec<Expansion>,
    /// Temporaries made so far (`Expander::temp`).
    temps: usize,
}

impl Expander<'_, '_> {
    fn report(&mut self, d: Diagnostic) {
        if self.reported.insert((d.span.start, d.span.end)) {
            self.diags.push(d);
        }
    }

    fn probe(&mut self, probe: &mut Probe) {
        let body = std::mem::take(&mut probe.body.stmts);
        let mut stmts = self.stmts(body);
        if let Some(pred) = probe.predicate.take() {
            let mut pre = Vec::new();
            let cond = self.expr(pred, &mut pre);
            if pre.is_empty() {
                probe.predicate = Some(cond);
            } else {
                // The predicate's statements must run before it is tested, which a predicate
                // cannot hold: it becomes an `if` around the body.
                let span = cond.span;
                pre.push(Stmt {
                    kind: StmtKind::If {
                        cond,
                        then: Block {
                            stmts,
                            span: probe.body.span,
                        },
                        otherwise: None,
                    },
                    span,
                });
                stmts = pre;
            }
        }
        probe.body.stmts = stmts;
    }

    fn stmts(&mut self, stmts: Vec<Stmt>) -> Vec<Stmt> {
        let mut out = Vec::with_capacity(stmts.len());
        for s in stmts {
            self.stmt(s, &mut out);
        }
        out
    }

    fn block(&mut self, b: Block) -> Block {
        Block {
            stmts: self.stmts(b.stmts),
            span: b.span,
        }
    }

    /// Expands one statement into `out`, statements its expressions need first.
    fn stmt(&mut self, s: Stmt, out: &mut Vec<Stmt>) {
        let span = s.span;
        let kind = match s.kind {
            StmtKind::Expr(e) => {
                // What the user wrote stays, so the checker can warn about a discarded value;
                // an inert value an expansion left (a macro whose body ends in `$x`, called
                // only for its statements) is dropped.
                let written = is_inert(&e);
                match self.value(e, out, true) {
                    Some(v) if written || !is_inert(&v) => StmtKind::Expr(v),
                    _ => return,
                }
            }
            StmtKind::Assign { target, op, value } => {
                let target = self.expr(target, out);
                let value = self.expr(value, out);
                StmtKind::Assign { target, op, value }
            }
            StmtKind::Let { var, ty, init } => StmtKind::Let {
                var,
                ty,
                init: init.map(|e| self.expr(e, out)),
            },
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => self.if_chain(cond, then, otherwise, out),
            StmtKind::Unroll { count, body } => StmtKind::Unroll {
                count: self.expr(count, out),
                body: self.block(body),
            },
            StmtKind::While { cond, body } => {
                let mut pre = Vec::new();
                let cond = self.expr(cond, &mut pre);
                let mut body = self.block(body);
                if pre.is_empty() {
                    StmtKind::While { cond, body }
                } else {
                    // The condition's statements run before every test of it.
                    let cspan = cond.span;
                    pre.push(Stmt {
                        kind: StmtKind::If {
                            cond: Expr {
                                kind: ExprKind::Unary {
                                    op: UnaryOp::Not,
                                    expr: Box::new(cond),
                                },
                                span: cspan,
                            },
                            then: Block {
                                stmts: vec![Stmt {
                                    kind: StmtKind::Break,
                                    span: cspan,
                                }],
                                span: cspan,
                            },
                            otherwise: None,
                        },
                        span: cspan,
                    });
                    pre.append(&mut body.stmts);
                    body.stmts = pre;
                    StmtKind::While {
                        cond: Expr {
                            kind: ExprKind::Int(1),
                            span: cspan,
                        },
                        body,
                    }
                }
            }
            StmtKind::ForMap { var, map, body } => StmtKind::ForMap {
                var,
                map: self.expr(map, out),
                body: self.block(body),
            },
            StmtKind::ForRange {
                var,
                start,
                end,
                body,
            } => StmtKind::ForRange {
                var,
                start: self.expr(start, out),
                end: self.expr(end, out),
                body: self.block(body),
            },
            StmtKind::Break => StmtKind::Break,
            StmtKind::Continue => StmtKind::Continue,
            StmtKind::Return(e) => StmtKind::Return(e.map(|e| self.expr(e, out))),
            StmtKind::Block(b) => StmtKind::Block(self.block(b)),
        };
        out.push(Stmt { kind, span });
    }

    /// Expands `if … else if … else …` without recursing along the chain, which may be
    /// hundreds of arms long. The statements an `else if` condition needs go into an `else`
    /// block before that `if`.
    fn if_chain(
        &mut self,
        cond: Expr,
        then: Block,
        mut otherwise: Option<Else>,
        out: &mut Vec<Stmt>,
    ) -> StmtKind {
        let cond = self.expr(cond, out);
        let then = self.block(then);
        let mut arms = Vec::new();
        let last = loop {
            match otherwise {
                Some(Else::If(inner)) => match inner.kind {
                    StmtKind::If {
                        cond,
                        then,
                        otherwise: next,
                    } => {
                        let mut pre = Vec::new();
                        let cond = self.expr(cond, &mut pre);
                        arms.push((pre, cond, self.block(then), inner.span));
                        otherwise = next;
                    }
                    // The parser only puts an `if` after `else`; anything else is kept whole.
                    kind => {
                        let mut stmts = Vec::new();
                        self.stmt(
                            Stmt {
                                kind,
                                span: inner.span,
                            },
                            &mut stmts,
                        );
                        break Some(Else::Block(Block {
                            stmts,
                            span: inner.span,
                        }));
                    }
                },
                Some(Else::Block(b)) => break Some(Else::Block(self.block(b))),
                None => break None,
            }
        };
        let mut otherwise = last;
        while let Some((mut pre, cond, then, span)) = arms.pop() {
            let stmt = Stmt {
                kind: StmtKind::If {
                    cond,
                    then,
                    otherwise,
                },
                span,
            };
            otherwise = Some(if pre.is_empty() {
                Else::If(Box::new(stmt))
            } else {
                pre.push(stmt);
                Else::Block(Block { stmts: pre, span })
            });
        }
        StmtKind::If {
            cond,
            then,
            otherwise,
        }
    }

    /// Expands an expression whose value is needed.
    fn expr(&mut self, e: Expr, out: &mut Vec<Stmt>) -> Expr {
        let span = e.span;
        self.value(e, out, false).unwrap_or(Expr {
            kind: ExprKind::Int(0),
            span,
        })
    }

    /// Expands `e`, moving the statements it needs into `out`. A block or macro call without
    /// a value yields `None`, which is an error unless `as_stmt` (its value is not used).
    fn value(&mut self, e: Expr, out: &mut Vec<Stmt>, as_stmt: bool) -> Option<Expr> {
        // Most expressions hold nothing to expand; returning them whole keeps the recursion
        // (and its stack) for the paths that lead to a macro call or a block.
        if !any_expr(&e, &|x| self.expands(x)) {
            return Some(e);
        }
        let span = e.span;
        let (name, args, bare) = match e.kind {
            ExprKind::Block(b) => {
                let b = *b;
                for s in b.stmts {
                    self.stmt(s, out);
                }
                let v = b.value.and_then(|v| self.value(v, out, as_stmt));
                if v.is_none() && !as_stmt {
                    self.report(block_without_value(b.span));
                }
                return v;
            }
            ExprKind::Call { func, args } => (func, args, false),
            ExprKind::Ident(name) => (Ident { name, span }, Vec::new(), true),
            kind => return Some(self.children(Expr { kind, span }, out)),
        };
        match self.table.resolve(&name.name, args.len(), bare) {
            Resolved::Macro(i) => {
                let table = self.table;
                let def = &table.defs[i];
                self.expansions += 1;
                if self.expansions > MAX_EXPANSIONS {
                    self.report(too_many_expansions(def, span));
                    return Some(placeholder(span));
                }
                let body = self.instantiate(def, args, span)?;
                self.record.push(Expansion {
                    definition: def.span,
                    call: span,
                });
                let v = self.value(
                    Expr {
                        kind: ExprKind::Block(Box::new(body)),
                        span,
                    },
                    out,
                    true,
                );
                if v.is_none() && !as_stmt {
                    self.report(macro_without_value(def, span));
                    return Some(placeholder(span));
                }
                v
            }
            Resolved::Recursive(i) => {
                let table = self.table;
                if let Some(&(callee, back)) = table.recursive.get(&i) {
                    self.report(recursive_macro(
                        &table.defs[i],
                        &table.defs[callee],
                        back,
                        span,
                    ));
                }
                Some(placeholder(span))
            }
            Resolved::WrongArity(i) => {
                self.report(wrong_arity(&self.table.defs[i], span, args.len()));
                Some(placeholder(span))
            }
            Resolved::NotMacro => {
                let kind = if bare {
                    ExprKind::Ident(builtin_alias(name.name))
                } else if args.is_empty()
                    && Function::from_name(&name.name).is_none()
                    && Builtin::from_name(&name.name).is_some()
                {
                    // bpftrace's standard macros make every builtin callable: `comm()`.
                    ExprKind::Ident(name.name)
                } else {
                    ExprKind::Call {
                        func: name,
                        args: args.into_iter().map(|a| self.expr(a, out)).collect(),
                    }
                };
                Some(Expr { kind, span })
            }
        }
    }

    /// Whether `e` itself (not its operands) is replaced by expansion.
    fn expands(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Block(_) => true,
            ExprKind::Call { func, args } => {
                self.table.is_macro(&func.name)
                    || (args.is_empty() && Builtin::from_name(&func.name).is_some())
            }
            ExprKind::Ident(name) => self.table.is_macro(name) || name.starts_with("__builtin_"),
            _ => false,
        }
    }

    /// Expands the operands of an expression that is itself neither a call nor a block.
    fn children(&mut self, e: Expr, out: &mut Vec<Stmt>) -> Expr {
        let span = e.span;
        let kind = match e.kind {
            k @ (ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::Bool(_)
            | ExprKind::Var(_)
            | ExprKind::Positional(_)
            | ExprKind::PositionalCount
            | ExprKind::Ident(_)
            | ExprKind::Call { .. }
            | ExprKind::Block(_)
            | ExprKind::TypeArg(_)
            | ExprKind::Offsetof { .. }) => k,
            ExprKind::ContainerOf { ptr, ty, fields } => ExprKind::ContainerOf {
                ptr: Box::new(self.expr(*ptr, out)),
                ty,
                fields,
            },
            ExprKind::Map { name, keys } => ExprKind::Map {
                name,
                keys: keys.into_iter().map(|k| self.expr(k, out)).collect(),
            },
            ExprKind::Unary { op, expr } => ExprKind::Unary {
                op,
                expr: Box::new(self.expr(*expr, out)),
            },
            ExprKind::Binary {
                op: op @ (BinaryOp::LogicalAnd | BinaryOp::LogicalOr),
                lhs,
                rhs,
            } => return self.short_circuit(op, *lhs, *rhs, span, out),
            ExprKind::Binary { op, lhs, rhs } => {
                let lhs = Box::new(self.expr(*lhs, out));
                ExprKind::Binary {
                    op,
                    lhs,
                    rhs: Box::new(self.expr(*rhs, out)),
                }
            }
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => return self.choice(*cond, *then, *otherwise, span, out),
            ExprKind::Cast { ty, expr } => ExprKind::Cast {
                ty,
                expr: Box::new(self.expr(*expr, out)),
            },
            ExprKind::Field { expr, field, arrow } => ExprKind::Field {
                expr: Box::new(self.expr(*expr, out)),
                field,
                arrow,
            },
            ExprKind::Index { expr, index } => {
                let expr = Box::new(self.expr(*expr, out));
                ExprKind::Index {
                    expr,
                    index: Box::new(self.expr(*index, out)),
                }
            }
            ExprKind::TupleIndex { expr, index } => ExprKind::TupleIndex {
                expr: Box::new(self.expr(*expr, out)),
                index,
            },
            ExprKind::Tuple(items) => {
                ExprKind::Tuple(items.into_iter().map(|i| self.expr(i, out)).collect())
            }
            ExprKind::Record(fields) => ExprKind::Record(
                fields
                    .into_iter()
                    .map(|(n, v)| (n, self.expr(v, out)))
                    .collect(),
            ),
            ExprKind::IncDec {
                target,
                increment,
                prefix,
            } => ExprKind::IncDec {
                target: Box::new(self.expr(*target, out)),
                increment,
                prefix,
            },
            ExprKind::TypeQuery { query, arg } => ExprKind::TypeQuery {
                query,
                arg: Box::new(match *arg {
                    TypeOrExpr::Expr(e) => TypeOrExpr::Expr(self.expr(e, out)),
                    ty @ TypeOrExpr::Type(_) => ty,
                }),
            },
            ExprKind::Comptime(e) => ExprKind::Comptime(Box::new(self.expr(*e, out))),
        };
        Expr { kind, span }
    }

    /// `lhs && rhs` or `lhs || rhs`. When `rhs` needs statements they must only run when
    /// `rhs` is evaluated, so the operator becomes an `if` that sets a temporary:
    /// `$t = lhs && 1; if ($t) { stmts; $t = rhs && 1; }` (`|| 0` and `!$t` for `||`).
    /// Combining with the operator's identity keeps the operator's type and 0/1 values.
    fn short_circuit(
        &mut self,
        op: BinaryOp,
        lhs: Expr,
        rhs: Expr,
        span: Span,
        out: &mut Vec<Stmt>,
    ) -> Expr {
        let lhs = self.expr(lhs, out);
        let mut pre = Vec::new();
        let rhs = self.expr(rhs, &mut pre);
        let binary = |lhs: Expr, rhs: Expr| Expr {
            kind: ExprKind::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
            span,
        };
        if pre.is_empty() {
            return binary(lhs, rhs);
        }
        let and = op == BinaryOp::LogicalAnd;
        let identity = Expr {
            kind: ExprKind::Int(u64::from(and)),
            span,
        };
        let temp = self.temp(span);
        out.push(assign(&temp, binary(lhs, identity.clone())));
        pre.push(assign(&temp, binary(rhs, identity)));
        let cond = if and {
            temp.clone()
        } else {
            Expr {
                kind: ExprKind::Unary {
                    op: UnaryOp::Not,
                    expr: Box::new(temp.clone()),
                },
                span,
            }
        };
        out.push(Stmt {
            kind: StmtKind::If {
                cond,
                then: Block { stmts: pre, span },
                otherwise: None,
            },
            span,
        });
        temp
    }

    /// `cond ? then : otherwise`. When a branch needs statements, only the chosen branch's
    /// may run, so it becomes `if (cond) { stmts; $t = then } else { stmts; $t = otherwise }`.
    fn choice(
        &mut self,
        cond: Expr,
        then: Expr,
        otherwise: Expr,
        span: Span,
        out: &mut Vec<Stmt>,
    ) -> Expr {
        let cond = self.expr(cond, out);
        let mut then_pre = Vec::new();
        let then = self.expr(then, &mut then_pre);
        let mut else_pre = Vec::new();
        let otherwise = self.expr(otherwise, &mut else_pre);
        // `if comptime c { a } else { b }` checks only the chosen branch, which takes an `if`.
        let comptime = matches!(cond.kind, ExprKind::Comptime(_));
        if then_pre.is_empty() && else_pre.is_empty() && !comptime {
            return Expr {
                kind: ExprKind::Ternary {
                    cond: Box::new(cond),
                    then: Box::new(then),
                    otherwise: Box::new(otherwise),
                },
                span,
            };
        }
        let temp = self.temp(span);
        // Declared before the `if`, so that reading it after the branches is in its scope.
        if let ExprKind::Var(name) = &temp.kind {
            out.push(Stmt {
                kind: StmtKind::Let {
                    var: Ident {
                        name: name.clone(),
                        span,
                    },
                    ty: None,
                    init: None,
                },
                span,
            });
        }
        then_pre.push(assign(&temp, then));
        else_pre.push(assign(&temp, otherwise));
        out.push(Stmt {
            kind: StmtKind::If {
                cond,
                then: Block {
                    stmts: then_pre,
                    span,
                },
                otherwise: Some(Else::Block(Block {
                    stmts: else_pre,
                    span,
                })),
            },
            span,
        });
        temp
    }

    /// A fresh variable for a lowered value, named apart like a macro's own variables.
    fn temp(&mut self, span: Span) -> Expr {
        self.temps += 1;
        Expr {
            kind: ExprKind::Var(format!("value{HYGIENE_MARK}{}", self.temps)),
            span,
        }
    }

    /// The body of `def` for one call: parameters bound to the arguments, its own variables
    /// renamed apart. `None` (reported) when an argument does not fit its parameter.
    fn instantiate(&mut self, def: &MacroDef, args: Vec<Expr>, call: Span) -> Option<BlockExpr> {
        let mut vars: HashMap<String, String> = HashMap::new();
        let mut maps: HashMap<String, Ident> = HashMap::new();
        let mut exprs: HashMap<String, Expr> = HashMap::new();
        let mut ok = true;
        for (param, arg) in def.params.iter().zip(args) {
            match (param, arg.kind) {
                (MacroParam::Var(p), ExprKind::Var(v)) => {
                    vars.insert(p.name.clone(), v);
                }
                (MacroParam::Map(p), ExprKind::Map { name, keys }) if keys.is_empty() => {
                    maps.insert(p.name.clone(), name);
                }
                (MacroParam::Expr(p), kind) => {
                    exprs.insert(
                        p.name.clone(),
                        Expr {
                            kind,
                            span: arg.span,
                        },
                    );
                }
                (MacroParam::Var(p) | MacroParam::Map(p), _) => {
                    self.report(argument_kind(def, param, p, arg.span));
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        // The type a parameter stands for, when its argument is `typeof(...)`.
        let type_of = |name: &str| match exprs.get(name).map(|a| &a.kind) {
            Some(ExprKind::TypeArg(t)) => Some(t),
            _ => None,
        };
        let suffix = format!("{HYGIENE_MARK}{}", self.expansions);
        let mut body = def.body.clone();
        // `(T)-1`, `(T)*p`, `(T)&x` read as a subtraction, product or `&` until `T` is known
        // a type: then they are casts to `T`, as in bpftrace, whose type the walk below fills.
        let mut recast = |e: &mut Expr| {
            let ExprKind::Binary { op, lhs, rhs } = &mut e.kind else {
                return true;
            };
            let unary = match op {
                BinaryOp::Sub => UnaryOp::Neg,
                BinaryOp::Mul => UnaryOp::Deref,
                BinaryOp::BitAnd => UnaryOp::AddrOf,
                _ => return true,
            };
            let ExprKind::Ident(name) = &lhs.kind else {
                return true;
            };
            if type_of(name).is_none() {
                return true;
            }
            let ty = TypeExpr::plain(TypeName::Named(name.clone()), lhs.span);
            let operand = std::mem::replace(&mut **rhs, placeholder(lhs.span));
            e.kind = ExprKind::Cast {
                ty,
                expr: Box::new(Expr {
                    span: operand.span,
                    kind: ExprKind::Unary {
                        op: unary,
                        expr: Box::new(operand),
                    },
                }),
            };
            true
        };
        Walk::exprs(&mut body, &mut recast);
        let mut unhygienic = Vec::new();
        let mut misused = Vec::new();
        let mut visit = |e: &mut Expr| match &mut e.kind {
            ExprKind::Var(v) => {
                *v = vars
                    .get(v.as_str())
                    .cloned()
                    .unwrap_or(format!("{v}{suffix}"));
                true
            }
            ExprKind::Map { name, .. } => {
                match maps.get(&name.name) {
                    Some(m) => name.name.clone_from(&m.name),
                    None => unhygienic.push(name.clone()),
                }
                true
            }
            // `sizeof(T)` reads as the size of an expression `T` until `T` is known a type.
            ExprKind::TypeQuery { arg, .. } => match arg.as_ref() {
                TypeOrExpr::Expr(Expr {
                    kind: ExprKind::Ident(name),
                    span,
                }) => match type_of(name) {
                    Some(t) => {
                        let used = TypeExpr::plain(TypeName::Named(name.clone()), *span);
                        **arg = TypeOrExpr::Type(substitute(t, &used).unwrap_or(used));
                        false
                    }
                    None => true,
                },
                _ => true,
            },
            ExprKind::Ident(name) => match exprs.get(name.as_str()) {
                Some(arg) => {
                    // A type passed on stays a type (another macro may take it); the checker
                    // refuses it anywhere else, here in the body.
                    let span = match arg.kind {
                        ExprKind::TypeArg(_) => e.span,
                        _ => arg.span,
                    };
                    *e = Expr {
                        kind: arg.kind.clone(),
                        span,
                    };
                    false
                }
                None => true,
            },
            _ => true,
        };
        let mut declare = |v: &mut Ident| {
            v.name = vars
                .get(v.name.as_str())
                .cloned()
                .unwrap_or(format!("{}{suffix}", v.name));
        };
        // A type that names a parameter (`T`, `T*`, `typeof(T)`) takes its argument's type;
        // what came from the caller is not walked again.
        let mut retype = |t: &mut TypeExpr| {
            let name = match &t.base {
                TypeName::Named(name) => name.clone(),
                TypeName::Typeof(e) => match &e.kind {
                    ExprKind::Ident(name) if type_of(name).is_some() => name.clone(),
                    _ => return true,
                },
                _ => return true,
            };
            match (type_of(&name), exprs.get(&name)) {
                (Some(arg), _) => match substitute(arg, t) {
                    Some(new) => *t = new,
                    None => misused.push(Misuse::PointerToArray(name, t.span)),
                },
                (None, Some(arg)) => misused.push(Misuse::ValueAsType(name, arg.span, t.span)),
                (None, None) => return true,
            }
            false
        };
        Walk {
            expr: &mut visit,
            declare: &mut declare,
            ty: &mut retype,
        }
        .block_expr(&mut body);
        for map in unhygienic {
            self.report(unhygienic_map(def, &map, call));
        }
        let ok = misused.is_empty();
        for m in misused {
            self.report(m.diagnostic(def));
        }
        ok.then_some(body)
    }
}

/// A parameter used as a type against its argument.
enum Misuse {
    /// The parameter's name, the argument (a value), and the use as a type.
    ValueAsType(String, Span, Span),
    /// `T*` of an array type argument, which one written type cannot say.
    PointerToArray(String, Span),
}

impl Misuse {
    fn diagnostic(self, def: &MacroDef) -> Diagnostic {
        match self {
            Misuse::ValueAsType(param, arg, used) => value_for_type(def, &param, arg, used),
            Misuse::PointerToArray(param, used) => pointer_to_array_param(def, &param, used),
        }
    }
}

/// The type `used` (a macro body's `T`, `T*`, `T[4]`) with the type argument `arg` in place
/// of `T`. None for a pointer to an array type: a `TypeExpr`'s `*`s come before its `[N]`s.
fn substitute(arg: &TypeExpr, used: &TypeExpr) -> Option<TypeExpr> {
    let arg_is_array = !arg.array.is_empty() || arg.auto_array;
    if arg_is_array && used.pointers > 0 {
        return None;
    }
    Some(TypeExpr {
        base: arg.base.clone(),
        pointers: arg.pointers + used.pointers,
        array: used.array.iter().chain(&arg.array).copied().collect(),
        auto_array: arg.auto_array || used.auto_array,
        span: used.span,
    })
}

/// `__builtin_comm` is bpftrace's name for the builtin its standard macro `comm` wraps.
fn builtin_alias(name: String) -> String {
    match name.strip_prefix("__builtin_") {
        Some(inner) if Builtin::from_name(inner).is_some() => inner.to_string(),
        _ => name,
    }
}

/// `target = value;`
fn assign(target: &Expr, value: Expr) -> Stmt {
    let span = value.span;
    Stmt {
        kind: StmtKind::Assign {
            target: target.clone(),
            op: None,
            value,
        },
        span,
    }
}

/// A value that has no effect as a statement.
fn is_inert(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Var(_) | ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Bool(_)
    )
}

/// Stands in for an expression that could not be expanded (already reported).
fn placeholder(span: Span) -> Expr {
    Expr {
        kind: ExprKind::Int(0),
        span,
    }
}

// ---------------------------------------------------------------- walking a body

/// Gives `def` and every expression and name in it the span `at`: a macro read from an
/// imported module (`parse::imports`), whose text is not part of the script, is reported at
/// the `import` that brought it in. Statements keep their spans, so such a macro's body is a
/// value only (`lang/tests/parse.rs` checks that every module's macros are).
pub(crate) fn pin_spans(def: &mut MacroDef, at: Span) {
    def.span = at;
    def.name.span = at;
    def.body.span = at;
    for p in &mut def.params {
        match p {
            MacroParam::Var(id) | MacroParam::Map(id) | MacroParam::Expr(id) => id.span = at,
        }
    }
    Walk {
        expr: &mut |e| {
            e.span = at;
            true
        },
        declare: &mut |id| id.span = at,
        ty: &mut |t| {
            t.span = at;
            true
        },
    }
    .block_expr(&mut def.body);
}

/// What a probe reads of its `args`: nothing, only some fields by name, or the whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArgsUse {
    None,
    /// Only `args.name` (or `args->name`) of these names.
    Fields(std::collections::BTreeSet<String>),
    /// `args` as a value (printed, stored, passed), so every field.
    Whole,
}

/// What `probe`'s predicate and body read of `args`, anywhere, a `typeof(...)` included.
/// The script is already expanded, so a macro's use counts where it was called.
pub(crate) fn args_use(probe: &Probe) -> ArgsUse {
    let mut probe = probe.clone();
    let mut fields = std::collections::BTreeSet::new();
    let mut whole = false;
    let is_args = |e: &Expr| matches!(&e.kind, ExprKind::Ident(n) if n == "args");
    let mut visit = |e: &mut Expr| match &e.kind {
        ExprKind::Field { expr, field, .. } if is_args(expr) => {
            fields.insert(field.name.clone());
            false
        }
        _ if is_args(e) => {
            whole = true;
            false
        }
        _ => true,
    };
    let mut walk = Walk {
        expr: &mut visit,
        declare: &mut |_| {},
        ty: &mut |_| true,
    };
    if let Some(p) = &mut probe.predicate {
        walk.expr(p);
    }
    walk.stmts(&mut probe.body.stmts);
    if whole {
        ArgsUse::Whole
    } else if fields.is_empty() {
        ArgsUse::None
    } else {
        ArgsUse::Fields(fields)
    }
}

/// A walk over a macro body that calls its closures on what it meets and may rewrite it.
struct Walk<'a> {
    /// Every expression, before its operands (which are skipped when it returns false).
    expr: &'a mut dyn FnMut(&mut Expr) -> bool,
    /// Every variable a statement declares (`let`, `for`).
    declare: &'a mut dyn FnMut(&mut Ident),
    /// Every type written in the body (casts, `let`, `sizeof`, `offsetof`, `container_of`,
    /// `typeof` arguments), before the expression of a `typeof(expr)` (skipped when it
    /// returns false).
    ty: &'a mut dyn FnMut(&mut TypeExpr) -> bool,
}

impl Walk<'_> {
    /// Calls `visit` on every expression of `b`, before its operands (which are skipped when
    /// it returns false), and nothing else.
    fn exprs(b: &mut BlockExpr, visit: &mut dyn FnMut(&mut Expr) -> bool) {
        Walk {
            expr: visit,
            declare: &mut |_| {},
            ty: &mut |_| true,
        }
        .block_expr(b);
    }

    fn block_expr(&mut self, b: &mut BlockExpr) {
        self.stmts(&mut b.stmts);
        if let Some(v) = &mut b.value {
            self.expr(v);
        }
    }

    fn stmts(&mut self, stmts: &mut [Stmt]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &mut Stmt) {
        match &mut s.kind {
            StmtKind::Expr(e) => self.expr(e),
            StmtKind::Assign { target, value, .. } => {
                self.expr(target);
                self.expr(value);
            }
            StmtKind::Let { var, ty, init } => {
                (self.declare)(var);
                if let Some(t) = ty {
                    self.ty(t);
                }
                if let Some(e) = init {
                    self.expr(e);
                }
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond);
                self.stmts(&mut then.stmts);
                match otherwise {
                    Some(Else::Block(b)) => self.stmts(&mut b.stmts),
                    Some(Else::If(inner)) => self.stmt(inner),
                    None => {}
                }
            }
            StmtKind::Unroll { count: cond, body } | StmtKind::While { cond, body } => {
                self.expr(cond);
                self.stmts(&mut body.stmts);
            }
            StmtKind::ForMap { var, map, body } => {
                (self.declare)(var);
                self.expr(map);
                self.stmts(&mut body.stmts);
            }
            StmtKind::ForRange {
                var,
                start,
                end,
                body,
            } => {
                (self.declare)(var);
                self.expr(start);
                self.expr(end);
                self.stmts(&mut body.stmts);
            }
            StmtKind::Break | StmtKind::Continue => {}
            StmtKind::Return(e) => {
                if let Some(e) = e {
                    self.expr(e);
                }
            }
            StmtKind::Block(b) => self.stmts(&mut b.stmts),
        }
    }

    fn expr(&mut self, e: &mut Expr) {
        if !(self.expr)(e) {
            return;
        }
        match &mut e.kind {
            ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::Bool(_)
            | ExprKind::Var(_)
            | ExprKind::Positional(_)
            | ExprKind::PositionalCount
            | ExprKind::Ident(_) => {}
            ExprKind::Map { keys: items, .. }
            | ExprKind::Call { args: items, .. }
            | ExprKind::Tuple(items) => {
                for i in items {
                    self.expr(i);
                }
            }
            ExprKind::Cast { ty, expr } | ExprKind::ContainerOf { ptr: expr, ty, .. } => {
                self.ty(ty);
                self.expr(expr);
            }
            ExprKind::Offsetof { ty, .. } | ExprKind::TypeArg(ty) => self.ty(ty),
            ExprKind::Record(fields) => {
                for (_, v) in fields {
                    self.expr(v);
                }
            }
            ExprKind::Unary { expr, .. }
            | ExprKind::Field { expr, .. }
            | ExprKind::TupleIndex { expr, .. }
            | ExprKind::IncDec { target: expr, .. } => self.expr(expr),
            ExprKind::Binary { lhs, rhs, .. }
            | ExprKind::Index {
                expr: lhs,
                index: rhs,
            } => {
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
            ExprKind::TypeQuery { arg, .. } => match arg.as_mut() {
                TypeOrExpr::Expr(e) => self.expr(e),
                TypeOrExpr::Type(t) => self.ty(t),
            },
            ExprKind::Comptime(e) => self.expr(e),
            ExprKind::Block(b) => self.block_expr(b),
        }
    }

    /// A type, and the expression of a `typeof(expr)`, so that a macro's parameters and
    /// variables inside it are bound and renamed like everywhere else in its body.
    fn ty(&mut self, t: &mut TypeExpr) {
        if !(self.ty)(t) {
            return;
        }
        match &mut t.base {
            TypeName::Typeof(e) => self.expr(e),
            TypeName::Named(_)
            | TypeName::Struct(_)
            | TypeName::Union(_)
            | TypeName::Enum(_)
            | TypeName::AnonRecord { .. } => {}
        }
    }
}

/// Whether `pred` holds for `e` or any expression inside it, looking into operands but not
/// into the statements of a block expression.
fn any_expr(e: &Expr, pred: &dyn Fn(&Expr) -> bool) -> bool {
    if pred(e) {
        return true;
    }
    match &e.kind {
        ExprKind::Int(_)
        | ExprKind::Str(_)
        | ExprKind::Bool(_)
        | ExprKind::Var(_)
        | ExprKind::Positional(_)
        | ExprKind::PositionalCount
        | ExprKind::Ident(_)
        | ExprKind::Offsetof { .. }
        | ExprKind::TypeArg(_)
        | ExprKind::Block(_) => false,
        ExprKind::Map { keys: items, .. }
        | ExprKind::Call { args: items, .. }
        | ExprKind::Tuple(items) => items.iter().any(|i| any_expr(i, pred)),
        ExprKind::Record(fields) => fields.iter().any(|(_, v)| any_expr(v, pred)),
        ExprKind::Unary { expr, .. }
        | ExprKind::Cast { expr, .. }
        | ExprKind::Field { expr, .. }
        | ExprKind::TupleIndex { expr, .. }
        | ExprKind::ContainerOf { ptr: expr, .. }
        | ExprKind::Comptime(expr)
        | ExprKind::IncDec { target: expr, .. } => any_expr(expr, pred),
        ExprKind::Binary { lhs, rhs, .. }
        | ExprKind::Index {
            expr: lhs,
            index: rhs,
        } => any_expr(lhs, pred) || any_expr(rhs, pred),
        ExprKind::Ternary {
            cond,
            then,
            otherwise,
        } => any_expr(cond, pred) || any_expr(then, pred) || any_expr(otherwise, pred),
        ExprKind::TypeQuery { arg, .. } => match arg.as_ref() {
            TypeOrExpr::Expr(e) => any_expr(e, pred),
            TypeOrExpr::Type(_) => false,
        },
    }
}

// ---------------------------------------------------------------- diagnostics

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn duplicate_macro(def: &MacroDef, first: &MacroDef) -> Diagnostic {
    Diagnostic::error(
        format!(
            "macro `{}` with {} is defined twice",
            def.name.name,
            plural(def.params.len(), "parameter")
        ),
        def.name.span,
    )
    .with_label("defined again here")
    .with_secondary(first.name.span, "first defined here")
}

fn duplicate_param(def: &MacroDef, again: &Ident, first: &Ident) -> Diagnostic {
    Diagnostic::error(
        format!(
            "macro `{}` has two parameters named `{}`",
            def.name.name, again.name
        ),
        again.span,
    )
    .with_secondary(first.span, "first parameter of that name")
}

fn recursive_macro(def: &MacroDef, callee: &MacroDef, back: Span, call: Span) -> Diagnostic {
    let how = if callee.name.span == def.name.span {
        "calls itself".to_string()
    } else {
        format!("calls itself through `{}`", callee.name.name)
    };
    Diagnostic::error(format!("macro `{}` {how}", def.name.name), back)
        .with_label("this call expands back into the macro")
        .with_secondary(def.name.span, "macro defined here")
        .with_secondary(call, "expanded from here")
        .with_note("macros are expanded in place, so they cannot recurse")
}

fn wrong_arity(def: &MacroDef, call: Span, given: usize) -> Diagnostic {
    Diagnostic::error(
        format!(
            "macro `{}` takes {}, but {} given",
            def.name.name,
            plural(def.params.len(), "argument"),
            if given == 1 {
                "1 was".to_string()
            } else {
                format!("{given} were")
            }
        ),
        call,
    )
    .with_label(format!("called with {}", plural(given, "argument")))
    .with_secondary(def.name.span, "macro defined here")
}

fn argument_kind(def: &MacroDef, param: &MacroParam, name: &Ident, arg: Span) -> Diagnostic {
    let (wanted, example) = match param {
        MacroParam::Var(_) => ("a scratch variable", "`$x`"),
        // An expression parameter accepts anything, so it is never reported.
        MacroParam::Map(_) | MacroParam::Expr(_) => ("a map without keys", "`@m`"),
    };
    Diagnostic::error(
        format!(
            "macro `{}` needs {wanted} for its parameter `{}`",
            def.name.name,
            match param {
                MacroParam::Var(_) => format!("${}", name.name),
                MacroParam::Map(_) => format!("@{}", name.name),
                MacroParam::Expr(_) => name.name.clone(),
            }
        ),
        arg,
    )
    .with_label(format!("expected {wanted} like {example}"))
    .with_secondary(name.span, "parameter declared here")
    .with_help("a parameter written without `$` or `@` accepts any expression")
}

fn value_for_type(def: &MacroDef, param: &str, arg: Span, used: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "macro `{}` uses its parameter `{param}` as a type, but it was given a value",
            def.name.name
        ),
        arg,
    )
    .with_label("expected a type like `typeof(uint16)`")
    .with_secondary(used, "used as a type here")
    .with_help("pass a type as `typeof(type)`, or the type of a value as `typeof(value)`")
}

fn pointer_to_array_param(def: &MacroDef, param: &str, used: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "macro `{}` makes a pointer to its parameter `{param}`, which was given an array type",
            def.name.name
        ),
        used,
    )
    .with_label("a pointer to an array type")
    .with_help("pass the array's element type, or a pointer type, instead")
}

fn unhygienic_map(def: &MacroDef, map: &Ident, call: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "macro `{}` uses the map `@{}`, which is not one of its parameters",
            def.name.name, map.name
        ),
        map.span,
    )
    .with_secondary(call, "expanded here")
    .with_help(format!(
        "pass the map in: `macro {}(@{}, ...)`",
        def.name.name, map.name
    ))
}

fn macro_without_value(def: &MacroDef, call: Span) -> Diagnostic {
    Diagnostic::error(format!("macro `{}` has no value", def.name.name), call)
        .with_label("used as a value here")
        .with_secondary(def.body.span, "its body does not end with an expression")
        .with_help("end the body with an expression and no `;`, e.g. `{ $x += 1; $x }`")
}

fn block_without_value(span: Span) -> Diagnostic {
    Diagnostic::error("this block has no value", span)
        .with_label("used as a value here")
        .with_help("end the block with an expression and no `;`, e.g. `{ $x += 1; $x }`")
}

fn too_many_expansions(def: &MacroDef, call: Span) -> Diagnostic {
    Diagnostic::error("macros expand to too much code", call)
        .with_secondary(def.name.span, "while expanding this macro")
        .with_note(format!(
            "rbt expands at most {MAX_EXPANSIONS} macro calls in one script"
        ))
}

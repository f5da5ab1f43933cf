//! Checking statements: assignments (fixing variable and map types), aggregations, control
//! flow, and the functions that send events to user space (printf, print, time, cat, system,
//! exit, clear, zero) or act on maps (delete).

use super::Checker;
use crate::ast::{self, BinaryOp, ExprKind as A, StmtKind as S};
use crate::diag::Diagnostic;
use crate::hir::{Expr, ExprKind as H, Stmt, StmtKind};
use stdlib::builtins::Function;
use stdlib::format::{self, Piece};
use stdlib::manifest::Event;
use stdlib::types::{Aggregation, Type, I64};

impl Checker<'_> {
    pub(super) fn block(&mut self, b: &ast::Block) -> Vec<Stmt> {
        let mut out = Vec::new();
        for s in &b.stmts {
            self.stmt(s, &mut out);
        }
        out
    }

    fn stmt(&mut self, s: &ast::Stmt, out: &mut Vec<Stmt>) {
        let span = s.span;
        let push = |out: &mut Vec<Stmt>, kind| out.push(Stmt { kind, span });
        match &s.kind {
            S::Expr(e) => match &e.kind {
                A::Call { func, args }
                    if Function::from_name(&func.name).is_some_and(is_statement_fn) =>
                {
                    if let Some(k) = self.statement_call(func, args, e.span) {
                        push(out, k);
                    }
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
                    let x = self.expr(e);
                    push(out, StmtKind::Expr(x));
                }
            },
            S::Assign { target, op, value } => {
                if let Some(k) = self.assign(target, *op, value, span) {
                    push(out, k);
                }
            }
            S::Let { var, ty, init } => {
                let declared = ty.as_ref().and_then(|t| self.resolve_type(t));
                match (init, declared) {
                    (Some(init), declared) => {
                        let v = self.expr(init);
                        let ty = declared.unwrap_or_else(|| self.storage_type(&v.ty));
                        let v = self.coerce(v, &ty);
                        if let Some(id) = self.var(&var.name, &ty, var.span) {
                            push(out, StmtKind::AssignVar { var: id, value: v });
                        }
                    }
                    (None, Some(ty)) => {
                        self.var(&var.name, &ty, var.span);
                    }
                    (None, None) => {
                        self.error(
                            format!("`let {}` needs a type or an initial value", var.name),
                            span,
                        )
                        .help
                        .push(format!(
                            "e.g. let {}: uint64; or let {} = 0;",
                            var.name, var.name
                        ));
                    }
                }
            }
            S::If {
                cond,
                then,
                otherwise,
            } => {
                let c = self.expr(cond);
                self.require_int(&c, "an if condition");
                let then = self.block(then);
                let otherwise = match otherwise {
                    None => Vec::new(),
                    Some(ast::Else::Block(b)) => self.block(b),
                    Some(ast::Else::If(inner)) => {
                        let mut v = Vec::new();
                        self.stmt(inner, &mut v);
                        v
                    }
                };
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
                        self.error("unroll needs a constant count from 1 to 100", count.span);
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
                let Some(id) = self.var(&var.name, &I64, var.span) else {
                    return;
                };
                self.loop_depth += 1;
                let body = self.block(body);
                self.loop_depth -= 1;
                push(
                    out,
                    StmtKind::ForRange {
                        var: id,
                        start: s,
                        end: e,
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
                    self.error(format!("`{what}` outside a loop"), span);
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
                if let Some(v) = value {
                    self.expr(v);
                }
                push(out, StmtKind::Return);
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
            self.error(format!("map {name} has no keys to iterate over"), map.span)
                .help
                .push(format!("read its one value directly: {name}"));
            return None;
        };
        let value = match spec.value {
            Type::Agg(
                Aggregation::Count | Aggregation::Sum | Aggregation::Min | Aggregation::Max,
            ) => I64,
            Type::Agg(
                agg @ (Aggregation::Avg
                | Aggregation::Stats
                | Aggregation::Hist { .. }
                | Aggregation::Lhist { .. }),
            ) => {
                let msg = format!(
                    "a {} map cannot be iterated with `for`",
                    stdlib::types::agg_name(agg)
                );
                self.error(msg, map.span)
                    .help
                    .push(format!("print it with print({name})"));
                return None;
            }
            other => other,
        };
        let ty = Type::Tuple(vec![key, value]);
        self.captures.push(Default::default());
        let var_id = self.var(&var.name, &ty, var.span);
        self.loop_depth += 1;
        let body = self.block(body);
        self.loop_depth -= 1;
        let captures = self.captures.pop().unwrap_or_default();
        let var_id = var_id?;
        let have = &self.vars[var_id as usize];
        if *have != ty {
            let msg = format!(
                "variable {} holds {}, but `for` over {name} gives it {}",
                var.name,
                have.display(),
                ty.display()
            );
            self.error(msg, var.span)
                .help
                .push("use a new variable name for the loop".into());
            return None;
        }
        Some(StmtKind::ForMap {
            var: var_id,
            map: id,
            captures: captures.into_iter().collect(),
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
            if let Some(agg_fn) = Function::from_name(&func.name).filter(|f| aggregation_fn(*f)) {
                let A::Map { name, keys } = &target.kind else {
                    self.error(format!("{}() must be assigned to a map", func.name), span);
                    return None;
                };
                if op.is_some() {
                    self.error(
                        "aggregations cannot be combined with a compound assignment",
                        span,
                    );
                    return None;
                }
                return self.aggregate(name, keys, agg_fn, args, span);
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
                // A new variable takes the value's type with strings widened to strlen, so a
                // longer string fits later; a later assignment must fit the type the first one
                // fixed.
                let (id, ty) = match self.var_ids.get(name) {
                    Some(&id) => {
                        self.var(name, &rhs.ty.clone(), target.span)?;
                        (id, self.vars[id as usize].clone())
                    }
                    None => {
                        let ty = self.var_type(&rhs.ty);
                        (self.var(name, &ty, target.span)?, ty)
                    }
                };
                let rhs = self.coerce(rhs, &ty);
                Some(StmtKind::AssignVar {
                    var: id,
                    value: rhs,
                })
            }
            A::Map { name, keys } => {
                if matches!(rhs.ty, Type::None) {
                    self.error("this expression has no value to store", value.span);
                    return None;
                }
                let key = self.map_key(keys);
                let value_ty = self.storage_type(&rhs.ty);
                let id = self.map_id(name, key.as_ref().map(|k| k.ty.clone()), value_ty, span)?;
                let spec = self.maps[id as usize].clone();
                if let Type::Agg(_) = spec.value {
                    self.error(
                        format!(
                            "map @{} holds an aggregation and cannot be assigned a value",
                            name.name
                        ),
                        span,
                    );
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
                self.error(
                    "only variables ($x) and maps (@x) can be assigned to",
                    target.span,
                );
                None
            }
        }
    }

    fn aggregate(
        &mut self,
        name: &ast::Ident,
        keys: &[ast::Expr],
        f: Function,
        args: &[ast::Expr],
        span: crate::ast::Span,
    ) -> Option<StmtKind> {
        let (min_args, max_args) = match f {
            Function::Count => (0, 0),
            Function::Hist => (1, 2),
            Function::Lhist => (4, 4),
            _ => (1, 1),
        };
        if args.len() < min_args || args.len() > max_args {
            self.error(
                format!(
                    "{}() takes {min_args}..{max_args} arguments, but {} were given",
                    f.name(),
                    args.len()
                ),
                span,
            );
            return None;
        }
        let value = args.first().map(|a| {
            let v = self.expr(a);
            self.require_int(&v, "an aggregated value");
            v
        });
        let mut consts = Vec::new();
        for a in args.iter().skip(1) {
            match self.const_int(a) {
                Some(n) => consts.push(n),
                None => {
                    self.error(format!("{}() needs constant bounds", f.name()), a.span);
                    return None;
                }
            }
        }
        let agg = match f {
            Function::Count => Aggregation::Count,
            Function::Sum => Aggregation::Sum,
            Function::Avg => Aggregation::Avg,
            Function::Min => Aggregation::Min,
            Function::Max => Aggregation::Max,
            Function::Stats => Aggregation::Stats,
            Function::Hist => {
                let bits = consts.first().copied().unwrap_or(0);
                if !(0..=5).contains(&bits) {
                    self.error("hist()'s second argument must be 0 to 5", span);
                    return None;
                }
                Aggregation::Hist { bits: bits as u8 }
            }
            _ => {
                let (min, max, step) = (consts[0], consts[1], consts[2]);
                if step <= 0 || max <= min {
                    self.error("lhist() needs min < max and a positive step", span);
                    return None;
                }
                if (max - min) / step > 1000 {
                    self.error("lhist() would have more than 1000 buckets", span);
                    return None;
                }
                Aggregation::Lhist { min, max, step }
            }
        };
        let key = self.map_key(keys);
        let id = self.map_id(
            name,
            key.as_ref().map(|k| k.ty.clone()),
            Type::Agg(agg),
            span,
        )?;
        let spec = self.maps[id as usize].clone();
        if spec.value != Type::Agg(agg) {
            let msg = format!(
                "map @{} was first used with different {}() arguments",
                name.name,
                f.name()
            );
            self.error(msg, span);
            return None;
        }
        let key = match (key, &spec.key) {
            (Some(k), Some(kt)) => Some(self.coerce(k, kt)),
            (k, _) => k,
        };
        Some(StmtKind::Aggregate {
            map: id,
            key,
            agg,
            value,
        })
    }

    /// Parses a format string argument and checks the arguments against it.
    fn format_args(
        &mut self,
        fname: &str,
        args: &[ast::Expr],
        span: crate::ast::Span,
    ) -> Option<(Vec<Piece>, Vec<Expr>)> {
        let Some(first) = args.first() else {
            self.error(format!("{fname}() needs a format string"), span);
            return None;
        };
        let A::Str(fmt) = &first.kind else {
            self.error(
                format!("{fname}()'s first argument must be a literal format string"),
                first.span,
            );
            return None;
        };
        let fmt_text = String::from_utf8_lossy(fmt).into_owned();
        let pieces = match format::parse(&fmt_text) {
            Ok(p) => p,
            Err(e) => {
                // +1 skips the opening quote of the literal.
                let at = first.span.start + 1 + e.offset;
                let d = Diagnostic::error(e.message, crate::ast::Span::new(at, (at + 2).min(first.span.end)))
                    .with_help("supported: %d %i %u %x %X %o %c %s %p %r %rx %rh, with flags, width and precision");
                self.diags.push(d);
                return None;
            }
        };
        let want = format::arg_count(&pieces);
        let rest = &args[1..];
        if rest.len() != want {
            let msg = format!(
                "the format string has {want} specifier{}, but {} argument{} given",
                if want == 1 { "" } else { "s" },
                rest.len(),
                if rest.len() == 1 { " was" } else { "s were" }
            );
            self.error(msg, span);
            return None;
        }
        let specs: Vec<&format::Spec> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Spec(s) => Some(s),
                Piece::Literal(_) => None,
            })
            .collect();
        let mut out = Vec::new();
        for (a, spec) in rest.iter().zip(specs) {
            let e = self.expr(a);
            if spec.conv.wants_int() && !(e.ty.is_int() || matches!(e.ty, Type::Pointer { .. })) {
                let msg = format!(
                    "%{} expects an integer, but this is {}",
                    conv_letter(spec.conv),
                    e.ty.display()
                );
                self.error(msg, e.span)
                    .help
                    .push("use %s to print strings and other values".into());
            }
            if spec.conv.wants_buffer() && !matches!(e.ty, Type::Buffer { .. }) {
                self.error(
                    format!(
                        "%r expects a buffer (from buf()), but this is {}",
                        e.ty.display()
                    ),
                    e.span,
                );
            }
            let ty = match &e.ty {
                t if t.is_int() => {
                    if t.is_signed() {
                        I64
                    } else {
                        stdlib::types::U64
                    }
                }
                Type::Pointer { .. } => stdlib::types::U64,
                t => t.clone(),
            };
            out.push(self.coerce(e, &ty));
        }
        Some((pieces, out))
    }

    fn statement_call(
        &mut self,
        func: &ast::Ident,
        args: &[ast::Expr],
        span: crate::ast::Span,
    ) -> Option<StmtKind> {
        let f = Function::from_name(&func.name)?;
        if f.is_unsafe() && !self.opts.allow_unsafe {
            self.error(format!("{}() is an unsafe function", f.name()), func.span)
                .help
                .push("run with --unsafe to allow it".into());
            return None;
        }
        match f {
            Function::Printf | Function::Cat | Function::System => {
                let (pieces, args) = self.format_args(f.name(), args, span)?;
                let types = args.iter().map(|a| a.ty.clone()).collect();
                let event = match f {
                    Function::Printf => Event::Printf {
                        format: pieces,
                        args: types,
                    },
                    Function::Cat => Event::Cat {
                        format: pieces,
                        args: types,
                    },
                    _ => Event::System {
                        format: pieces,
                        args: types,
                    },
                };
                let id = self.event(event);
                Some(StmtKind::Emit { event: id, args })
            }
            Function::Time => {
                let format = match args {
                    [] => "%H:%M:%S\n".to_string(),
                    [a] => match &a.kind {
                        A::Str(s) => String::from_utf8_lossy(s).into_owned(),
                        _ => {
                            self.error("time() needs a literal format string", a.span);
                            return None;
                        }
                    },
                    _ => {
                        self.error("time() takes at most one argument", span);
                        return None;
                    }
                };
                let id = self.event(Event::Time { format });
                Some(StmtKind::Emit {
                    event: id,
                    args: Vec::new(),
                })
            }
            Function::Exit => {
                let code = match args {
                    [] => Expr {
                        kind: H::Int(0),
                        ty: I64,
                        span,
                    },
                    [c] => {
                        let e = self.expr(c);
                        self.require_int(&e, "exit()'s code");
                        self.coerce(e, &I64)
                    }
                    _ => {
                        self.error("exit() takes at most one argument", span);
                        return None;
                    }
                };
                let id = self.event(Event::Exit);
                Some(StmtKind::Emit {
                    event: id,
                    args: vec![code],
                })
            }
            Function::Print => {
                let (first, rest) = args.split_first().or_else(|| {
                    self.error("print() needs a value or a map", span);
                    None
                })?;
                if let A::Map { name, keys } = &first.kind {
                    if keys.is_empty() {
                        let id = self.map_ids.get(&format!("@{}", name.name)).map(|i| i.id);
                        let Some(id) = id else {
                            self.error(format!("map @{} is never assigned", name.name), first.span);
                            return None;
                        };
                        let mut nums = Vec::new();
                        for a in rest {
                            match self.const_int(a) {
                                Some(n) if n >= 0 => nums.push(n as u64),
                                _ => {
                                    self.error(
                                        "print()'s top and divisor must be non-negative constants",
                                        a.span,
                                    );
                                    return None;
                                }
                            }
                        }
                        if nums.len() > 2 {
                            self.error(
                                "print(@map[, top[, divisor]]) takes at most three arguments",
                                span,
                            );
                            return None;
                        }
                        let event = Event::PrintMap {
                            map: id,
                            top: nums.first().copied().unwrap_or(0),
                            div: nums.get(1).copied().unwrap_or(1).max(1),
                        };
                        let id = self.event(event);
                        return Some(StmtKind::Emit {
                            event: id,
                            args: Vec::new(),
                        });
                    }
                }
                if !rest.is_empty() {
                    self.error("print() of a value takes one argument", span);
                    return None;
                }
                let v = self.expr(first);
                let ty = self.storage_type(&v.ty);
                let v = self.coerce(v, &ty);
                let id = self.event(Event::PrintValue { ty });
                Some(StmtKind::Emit {
                    event: id,
                    args: vec![v],
                })
            }
            Function::Clear | Function::Zero => {
                let [a] = args else {
                    self.error(format!("{}() takes one map", f.name()), span);
                    return None;
                };
                let A::Map { name, keys } = &a.kind else {
                    self.error(
                        format!("{}() takes a map, e.g. {}(@x)", f.name(), f.name()),
                        a.span,
                    );
                    return None;
                };
                if !keys.is_empty() {
                    self.error(
                        format!("{}() takes the whole map, without a key", f.name()),
                        a.span,
                    );
                    return None;
                }
                let id = self.map_ids.get(&format!("@{}", name.name)).map(|i| i.id)?;
                let event = if f == Function::Clear {
                    Event::Clear { map: id }
                } else {
                    Event::Zero { map: id }
                };
                let id = self.event(event);
                Some(StmtKind::Emit {
                    event: id,
                    args: Vec::new(),
                })
            }
            Function::Delete => {
                let [a] = args else {
                    self.error("delete() takes one map element, e.g. delete(@x[key])", span);
                    return None;
                };
                let A::Map { name, keys } = &a.kind else {
                    self.error("delete() takes a map element, e.g. delete(@x[key])", a.span);
                    return None;
                };
                let id = self.map_ids.get(&format!("@{}", name.name)).map(|i| i.id);
                let Some(id) = id else {
                    self.error(format!("map @{} is never assigned", name.name), a.span);
                    return None;
                };
                let key = self.map_key(keys);
                let key = match (key, self.maps[id as usize].key.clone()) {
                    (Some(k), Some(kt)) => Some(self.coerce(k, &kt)),
                    (k, _) => k,
                };
                Some(StmtKind::Delete { map: id, key })
            }
            Function::Join => {
                let (arr, sep) = match args {
                    [a] => (a, " ".to_string()),
                    [a, ast::Expr {
                        kind: A::Str(sep), ..
                    }] => (a, String::from_utf8_lossy(sep).into_owned()),
                    _ => {
                        self.error(
                            "join() takes an array of strings and an optional literal separator",
                            span,
                        );
                        return None;
                    }
                };
                let mut e = self.expr(arr);
                if e.ty.is_int() {
                    let space = if self.probe.user {
                        stdlib::types::AddrSpace::User
                    } else {
                        stdlib::types::AddrSpace::Kernel
                    };
                    e.ty = Type::Pointer {
                        to: Box::new(stdlib::types::U64),
                        space,
                    };
                }
                if !matches!(e.ty, Type::Pointer { .. }) {
                    let msg = format!(
                        "join() needs a pointer to an array of strings (char **), but this is {}",
                        e.ty.display()
                    );
                    self.error(msg, e.span);
                    return None;
                }
                // bpftrace joins at most 16 strings of up to strlen bytes each.
                let id = self.event(Event::Join {
                    separator: sep,
                    max_items: 16,
                    item_len: self.opts.strlen,
                });
                Some(StmtKind::Emit {
                    event: id,
                    args: vec![e],
                })
            }
            Function::Debugf => {
                // bpf_trace_printk: output goes to /sys/kernel/tracing/trace_pipe, with at
                // most three integer arguments (the kernel's limit).
                let fmt = match args.first().map(|a| &a.kind) {
                    Some(A::Str(b)) => b.clone(),
                    _ => Vec::new(),
                };
                let (pieces, values) = self.format_args(f.name(), args, span)?;
                if values.len() > 3 {
                    self.error(
                        "debugf() takes at most three arguments after the format",
                        span,
                    );
                    return None;
                }
                let bad = pieces
                    .iter()
                    .any(|p| matches!(p, Piece::Spec(s) if !s.conv.wants_int()));
                if bad {
                    self.error("debugf() formats integers only (%d %u %x %p)", span);
                    return None;
                }
                let fmt_ty = Type::Str {
                    len: fmt.len() as u32 + 1,
                };
                let mut call_args = vec![Expr {
                    kind: H::Str(fmt),
                    ty: fmt_ty,
                    span,
                }];
                call_args.extend(values);
                let call = Expr {
                    kind: H::Call {
                        func: f,
                        args: call_args,
                    },
                    ty: Type::None,
                    span,
                };
                Some(StmtKind::Expr(call))
            }
            _ => None,
        }
    }
}

fn is_statement_fn(f: Function) -> bool {
    matches!(
        f,
        Function::Printf
            | Function::Print
            | Function::Time
            | Function::Cat
            | Function::System
            | Function::Exit
            | Function::Join
            | Function::Debugf
            | Function::Delete
            | Function::Clear
            | Function::Zero
    )
}

fn aggregation_fn(f: Function) -> bool {
    matches!(
        f,
        Function::Count
            | Function::Sum
            | Function::Avg
            | Function::Min
            | Function::Max
            | Function::Stats
            | Function::Hist
            | Function::Lhist
    )
}

fn conv_letter(c: format::Conv) -> &'static str {
    match c {
        format::Conv::Signed => "d",
        format::Conv::Unsigned => "u",
        format::Conv::HexLower => "x",
        format::Conv::HexUpper => "X",
        format::Conv::Octal => "o",
        format::Conv::Char => "c",
        format::Conv::Str => "s",
        format::Conv::Pointer => "p",
        format::Conv::Buffer => "r",
        format::Conv::BufferHex => "rx",
        format::Conv::BufferHexSpaced => "rh",
    }
}

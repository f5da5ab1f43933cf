//! Builtin calls that are statements of their own (printf, warnf, errorf, fail, assert,
//! print, time, cat, system, exit, join, debugf, signal, override, and the map operations delete, clear and zero) and the
//! aggregations assigned to maps (`@m[k] = count()`). Their common rules come from the
//! builtin table through `call_rules`; each function here types one builtin or family.

use super::calls::Position;
use super::comptime::fold;
use super::diagnostics;
use super::exprs::mk;
use super::Checker;
use crate::ast::{self, ExprKind as A, Span};
use crate::config::Unstable;
use crate::hir::{Expr, ExprKind as H, Stmt, StmtKind, Unary};
use stdlib::builtins::Function;
use stdlib::format::{self, Conv, Piece};
use stdlib::manifest::{Event, Level};
use stdlib::types::{Aggregation, TsReduce, Type, I64, U64};

/// Whether bpftrace would type `e` unsigned: an unsigned value, or arithmetic of unsigned
/// values and non-negative literals (a literal takes its partner's type there, so
/// `$u % 10` of an unsigned `$u` is unsigned). tseries() prints values as that type.
fn unsigned_like(e: &Expr) -> bool {
    match &e.kind {
        // A literal alone takes no side: `tseries(8, …)` and `tseries(-2, …)` share a map.
        H::Int(_) => false,
        _ if !e.ty.is_signed() && matches!(e.ty, Type::Int { .. }) => true,
        H::Binary { op, lhs, rhs } if arithmetic(*op) => {
            let literal = |x: &Expr| matches!(x.kind, H::Int(n) if n >= 0);
            (unsigned_like(lhs) && (literal(rhs) || unsigned_like(rhs)))
                || (literal(lhs) && unsigned_like(rhs))
        }
        _ => false,
    }
}

/// Whether bpftrace 0.27 aggregates `e` as a signed value: a signed value, or a literal
/// that a signed 64-bit integer holds (bpftrace types `5` an `int8`, `2^63` a `uint64`).
fn signed_value(e: &Expr) -> bool {
    matches!(e.kind, H::Int(n) if n >= 0) || e.ty.is_signed()
}

/// The operators whose result takes its operands' type.
fn arithmetic(op: ast::BinaryOp) -> bool {
    use ast::BinaryOp as B;
    match op {
        B::Add | B::Sub | B::Mul | B::Div | B::Mod | B::BitAnd | B::BitOr | B::BitXor => true,
        B::Shl
        | B::Shr
        | B::Eq
        | B::Ne
        | B::Lt
        | B::Le
        | B::Gt
        | B::Ge
        | B::LogicalAnd
        | B::LogicalOr => false,
    }
}

/// The most intervals a `tseries()` keeps: each is a map slot (on every CPU), and the map
/// is preallocated.
const TSERIES_MAX_INTERVALS: u32 = 100_000;
use stdlib::value::Value;

impl Checker<'_> {
    /// A call standing as a statement; `f` is a statement builtin (the caller checked its kind).
    pub(super) fn statement_call(
        &mut self,
        f: Function,
        func: &ast::Ident,
        args: &[ast::Expr],
        span: Span,
    ) -> Option<StmtKind> {
        if !self.call_rules(f, func, args.len(), span, Position::Statement) {
            return None;
        }
        match f {
            Function::Printf => {
                self.format_event(f, args, span, |format, args| Event::Printf { format, args })
            }
            Function::Cat => {
                self.format_event(f, args, span, |format, args| Event::Cat { format, args })
            }
            Function::System => {
                self.format_event(f, args, span, |format, args| Event::System { format, args })
            }
            Function::Warnf => self.message_call(Level::Warning, f, args, span),
            Function::Errorf => self.message_call(Level::Error, f, args, span),
            Function::Fail => self.fail_call(args, span),
            Function::Assert => self.assert_call(args, span),
            Function::StaticAssert => self.static_assert_call(args, span),
            Function::Time => self.time_call(args),
            Function::Exit => self.exit_call(args, span),
            Function::Unwatch => self.unwatch_call(args),
            Function::Print => self.print_call(args, span),
            Function::Clear => self.whole_map_event(f, args, |map| Event::Clear { map }),
            Function::Zero => self.whole_map_event(f, args, |map| Event::Zero { map }),
            Function::Delete => self.delete_call(args),
            Function::Join => self.join_call(args, span),
            Function::Debugf => self.debugf_call(args, span),
            Function::Signal | Function::SignalThread => self.signal_call(f, args, span),
            Function::Override => self.override_call(args, span),
            Function::WriteUser => self.write_user_call(args, span),
            // Checked when compiling; nothing runs.
            Function::AssertStr => self
                .assert_str(args)
                .then(|| StmtKind::Expr(mk(H::Int(0), I64, span))),
            // Values and aggregations were reported by call_rules, from their records.
            Function::Str
            | Function::Buf
            | Function::Strncmp
            | Function::Strcontains
            | Function::Strstr
            | Function::Memcmp
            | Function::Strcap
            | Function::IsStr
            | Function::IsInteger
            | Function::IsUnsignedInteger
            | Function::IsPtr
            | Function::IsArray
            | Function::IsLiteral
            | Function::KfuncExist
            | Function::KfuncAllowed
            | Function::StrConcat
            | Function::Strlen
            | Function::IsErr
            | Function::Bswap
            | Function::Ntop
            | Function::Pton
            | Function::Macaddr
            | Function::Ksym
            | Function::Usym
            | Function::Kaddr
            | Function::Getopt
            | Function::Uaddr
            | Function::Cgroupid
            | Function::CgroupPath
            | Function::Strftime
            | Function::Strerror
            | Function::SyscallName
            | Function::SignalName
            | Function::Reg
            | Function::Kptr
            | Function::Uptr
            | Function::Count
            | Function::Sum
            | Function::Avg
            | Function::Min
            | Function::Max
            | Function::Stats
            | Function::Hist
            | Function::Lhist
            | Function::Tseries
            | Function::Len
            | Function::HasKey
            | Function::Find
            | Function::Path
            | Function::Skboutput
            | Function::SocketCookie
            | Function::PercpuKaddr => None,
        }
    }

    /// `printf`, `cat`, `system`: a format string and its arguments, sent as one event.
    fn format_event(
        &mut self,
        f: Function,
        args: &[ast::Expr],
        span: Span,
        event: fn(Vec<Piece>, Vec<Type>) -> Event,
    ) -> Option<StmtKind> {
        let (pieces, args) = self.format_args(f.name(), args, span)?;
        let types = args.iter().map(|a| a.ty.clone()).collect();
        let id = self.event(event(pieces, types));
        Some(StmtKind::Emit { event: id, args })
    }

    /// `warnf`/`errorf`: a formatted message on stderr, prefixed with the call's location.
    fn message_call(
        &mut self,
        level: Level,
        f: Function,
        args: &[ast::Expr],
        span: Span,
    ) -> Option<StmtKind> {
        let (format, args) = self.format_args(f.name(), args, span)?;
        let id = self.event(Event::Message {
            level,
            format,
            args: args.iter().map(|a| a.ty.clone()).collect(),
            start: span.start,
            end: span.end,
            expanded_from: self.expanded_from(span),
        });
        Some(StmtKind::Emit { event: id, args })
    }

    /// `fail(format, args...)`: an error when the script is compiled, wherever the call is
    /// (bpftrace reports it even in a branch that never runs), so its arguments must be
    /// literals.
    fn fail_call(&mut self, args: &[ast::Expr], span: Span) -> Option<StmtKind> {
        let (format, values) = self.format_args("fail", args, span)?;
        let mut literal = Vec::new();
        for v in &values {
            match &v.kind {
                H::Int(i) => literal.push(Value::Int(*i)),
                H::Str(s) => literal.push(Value::Str(s.clone())),
                _ => {
                    self.push(diagnostics::fail_argument_not_literal(v.span));
                    return None;
                }
            }
        }
        let message = format::render(&format, &literal);
        self.push(diagnostics::fail(message.trim_end_matches('\n'), span));
        None
    }

    /// `assert(condition, "message")`: when the condition is false, the message as an
    /// error (`assert failed: message`) and exit status 1.
    fn assert_call(&mut self, args: &[ast::Expr], span: Span) -> Option<StmtKind> {
        let cond = self.expr(&args[0]);
        if !cond.ty.is_int() && cond.ty != Type::Bool {
            self.push(diagnostics::assert_condition(&cond.ty, cond.span));
            return None;
        }
        // The message is any value, printed as `%s` prints it (a literal is the text itself,
        // `%` and all), as in bpftrace 0.27.
        let (format, values) = match &args[1].kind {
            A::Str(text) => {
                let text = format!("assert failed: {}", String::from_utf8_lossy(text));
                (vec![Piece::Literal(text)], Vec::new())
            }
            _ => {
                let value = self.expr(&args[1]);
                let format = format::parse("assert failed: %s").ok()?;
                (format, vec![self.format_value(value)])
            }
        };
        let message = self.event(Event::Message {
            level: Level::Error,
            format,
            args: values.iter().map(|v| v.ty.clone()).collect(),
            start: span.start,
            end: span.end,
            expanded_from: self.expanded_from(span),
        });
        let exit = self.event(Event::Exit);
        let emit = |event, args| Stmt {
            kind: StmtKind::Emit { event, args },
            span,
        };
        let failed = mk(
            H::Unary {
                op: Unary::Not,
                expr: Box::new(cond),
            },
            Type::Bool,
            span,
        );
        Some(StmtKind::If {
            cond: failed,
            then: vec![
                emit(message, values),
                emit(exit, vec![mk(H::Int(1), I64, span)]),
            ],
            otherwise: Vec::new(),
        })
    }

    /// `static_assert(condition, "message")`: the condition must be known when the script
    /// is compiled (literals, `sizeof`, `offsetof`, constants); false, it is an error with
    /// the message. It compiles to nothing.
    fn static_assert_call(&mut self, args: &[ast::Expr], span: Span) -> Option<StmtKind> {
        let cond = self.expr(&args[0]);
        let A::Str(text) = &args[1].kind else {
            self.push(diagnostics::static_assert_message_not_literal(args[1].span));
            return None;
        };
        match fold(&cond) {
            Some(0) => {
                self.push(diagnostics::fail(&String::from_utf8_lossy(text), span));
                None
            }
            Some(_) => Some(StmtKind::Expr(mk(H::Int(0), I64, span))),
            None => {
                self.push(diagnostics::static_assert_not_constant(cond.span));
                None
            }
        }
    }

    fn time_call(&mut self, args: &[ast::Expr]) -> Option<StmtKind> {
        let format = match args.first() {
            None => "%H:%M:%S\n".to_string(),
            Some(a) => match &a.kind {
                A::Str(s) => String::from_utf8_lossy(s).into_owned(),
                _ => {
                    self.push(diagnostics::literal_needed("time", "format string", a.span));
                    return None;
                }
            },
        };
        let id = self.event(Event::Time { format });
        Some(StmtKind::Emit {
            event: id,
            args: Vec::new(),
        })
    }

    fn exit_call(&mut self, args: &[ast::Expr], span: Span) -> Option<StmtKind> {
        let code = match args.first() {
            None => Expr {
                kind: H::Int(0),
                ty: I64,
                span,
            },
            Some(c) => {
                let e = self.expr(c);
                self.require_int(&e, "exit()'s code");
                self.coerce(e, &I64)
            }
        };
        let id = self.event(Event::Exit);
        Some(StmtKind::Emit {
            event: id,
            args: vec![code],
        })
    }

    /// `unwatch(addr)`: asks user space to remove the watchpoints on `addr` (an integer or
    /// pointer); the probes stop firing once it has read the record.
    fn unwatch_call(&mut self, args: &[ast::Expr]) -> Option<StmtKind> {
        let addr = self.expr(&args[0]);
        if !matches!(addr.ty, Type::Pointer { .. }) {
            self.require_int(&addr, "unwatch()'s address");
        }
        let at = addr.span;
        let addr = mk(H::Cast(Box::new(addr)), U64, at);
        let id = self.event(Event::Unwatch);
        Some(StmtKind::Emit {
            event: id,
            args: vec![addr],
        })
    }

    /// `print(@map[, top[, divisor]])` prints a whole map; `print(value)` one value.
    fn print_call(&mut self, args: &[ast::Expr], span: Span) -> Option<StmtKind> {
        let (first, rest) = args.split_first()?;
        if let A::Map { name, keys } = &first.kind {
            if keys.is_empty() {
                let map = format!("@{}", name.name);
                let Some(id) = self.map_ids.get(&map).map(|i| i.id) else {
                    self.push(diagnostics::map_not_assigned(&map, first.span));
                    return None;
                };
                let mut nums = Vec::new();
                for a in rest {
                    match self.const_int(a) {
                        Some(n) if n >= 0 => nums.push(n as u64),
                        _ => {
                            self.push(diagnostics::print_arguments_not_constant(a.span));
                            return None;
                        }
                    }
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
            self.push(diagnostics::print_value_arguments(span));
            return None;
        }
        let v = self.expr(first);
        let ty = self.printed_type(&v.ty);
        let v = self.coerce(v, &ty);
        let id = self.event(Event::PrintValue { ty });
        Some(StmtKind::Emit {
            event: id,
            args: vec![v],
        })
    }

    /// `clear(@m)`, `zero(@m)`: an event asking user space to act on the whole map.
    fn whole_map_event(
        &mut self,
        f: Function,
        args: &[ast::Expr],
        event: fn(u32) -> Event,
    ) -> Option<StmtKind> {
        let a = &args[0];
        let A::Map { name, keys } = &a.kind else {
            self.push(diagnostics::takes_a_map(f.name(), a.span));
            return None;
        };
        if !keys.is_empty() {
            self.push(diagnostics::takes_the_whole_map(f.name(), a.span));
            return None;
        }
        let id = self.assigned_map(name, a.span)?;
        let id = self.event(event(id));
        Some(StmtKind::Emit {
            event: id,
            args: Vec::new(),
        })
    }

    fn delete_call(&mut self, args: &[ast::Expr]) -> Option<StmtKind> {
        let (map, key) = self.delete_target(args)?;
        Some(StmtKind::Delete { map, key })
    }

    /// The map and key that `delete(@m[key])`, `delete(@m, key)` or `delete(@scalar)`
    /// removes.
    pub(super) fn delete_target(&mut self, args: &[ast::Expr]) -> Option<(u32, Option<Expr>)> {
        let a = &args[0];
        let A::Map { name, keys } = &a.kind else {
            self.push(diagnostics::delete_needs_element(a.span));
            return None;
        };
        let explicit = args.get(1);
        if explicit.is_some() && !keys.is_empty() {
            self.push(diagnostics::delete_key_twice(a.span));
            return None;
        }
        let map = format!("@{}", name.name);
        let Some(id) = self.map_ids.get(&map).map(|i| i.id) else {
            self.push(diagnostics::map_not_assigned(&map, a.span));
            return None;
        };
        let key = match explicit {
            Some(k) => Some(self.map_key(std::slice::from_ref(k))?),
            None => self.map_key(keys),
        };
        let key = match (key, self.maps[id as usize].key.clone()) {
            (Some(k), Some(kt)) if !super::compatible(&kt, &k.ty) => {
                let first = self.map_ids.get(&map).map_or(a.span, |i| i.first);
                let d = diagnostics::map_read_key_type(&map, &kt, &k.ty, first, k.span);
                self.push(d);
                return None;
            }
            (Some(k), Some(kt)) => Some(self.coerce(k, &kt)),
            // Without a key, delete() would remove nothing of a map that has keys.
            (None, Some(_)) => {
                self.push(diagnostics::delete_needs_key(&map, a.span));
                return None;
            }
            (k, None) => k,
        };
        Some((id, key))
    }

    fn join_call(&mut self, args: &[ast::Expr], span: Span) -> Option<StmtKind> {
        let (arr, sep) = match args {
            [a] => (a, " ".to_string()),
            [a, ast::Expr {
                kind: A::Str(sep), ..
            }] => (a, String::from_utf8_lossy(sep).into_owned()),
            _ => {
                self.push(diagnostics::join_arguments(span));
                return None;
            }
        };
        let mut e = self.expr(arr);
        if e.ty.is_int() {
            e.ty = Type::Pointer {
                to: Box::new(U64),
                space: self.default_space(),
            };
        }
        if !matches!(e.ty, Type::Pointer { .. }) {
            self.push(diagnostics::join_argument(&e.ty, e.span));
            return None;
        }
        // bpftrace joins at most 16 strings of up to strlen bytes each.
        let id = self.event(Event::Join {
            separator: sep,
            max_items: 16,
            item_len: self.opts.config.strlen(),
        });
        Some(StmtKind::Emit {
            event: id,
            args: vec![e],
        })
    }

    /// bpf_trace_printk: output goes to /sys/kernel/tracing/trace_pipe, with at most three
    /// integer arguments (the kernel's limit, which the table's arity says).
    fn debugf_call(&mut self, args: &[ast::Expr], span: Span) -> Option<StmtKind> {
        let fmt = match args.first().map(|a| &a.kind) {
            Some(A::Str(b)) => b.clone(),
            _ => Vec::new(),
        };
        let (pieces, values) = self.format_args(Function::Debugf.name(), args, span)?;
        // The kernel's printk reads a `%s` argument through a pointer, so strings (held
        // in BPF memory) are passed by address; buffers have no such form.
        let bad = pieces
            .iter()
            .any(|p| matches!(p, Piece::Spec(s) if !s.conv.wants_int() && s.conv != Conv::Str));
        if bad {
            self.push(diagnostics::debugf_integers_only(span));
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
        Some(StmtKind::Expr(Expr {
            kind: H::Call {
                func: Function::Debugf,
                args: call_args,
            },
            ty: Type::None,
            span,
        }))
    }

    /// `signal(sig)` and `signal_thread(sig)`: a signal named or numbered by a literal.
    fn signal_call(&mut self, func: Function, args: &[ast::Expr], span: Span) -> Option<StmtKind> {
        let sig = match &args[0].kind {
            A::Str(name) => {
                let name = String::from_utf8_lossy(name).into_owned();
                match signal_number(&name) {
                    Some(n) => n,
                    None => {
                        self.push(diagnostics::unknown_signal(&name, args[0].span));
                        return None;
                    }
                }
            }
            A::Int(n) if *n <= 64 => *n as i64,
            _ => {
                self.push(diagnostics::signal_argument(args[0].span));
                return None;
            }
        };
        Some(StmtKind::Expr(Expr {
            kind: H::Call {
                func,
                args: vec![Expr {
                    kind: H::Int(sig),
                    ty: I64,
                    span: args[0].span,
                }],
            },
            ty: Type::None,
            span,
        }))
    }

    fn override_call(&mut self, args: &[ast::Expr], span: Span) -> Option<StmtKind> {
        let a = self.expr(&args[0]);
        self.require_int(&a, "override()'s return code");
        Some(StmtKind::Expr(Expr {
            kind: H::Call {
                func: Function::Override,
                args: vec![a],
            },
            ty: Type::None,
            span,
        }))
    }

    /// `write_user(dst, src, len)`: bpf_probe_write_user copies `len` bytes of a value held in
    /// BPF memory (a string, array or record) to a user address. The verifier wants a
    /// length it can bound, so `len` is a constant, cut to the size of `src`.
    fn write_user_call(&mut self, args: &[ast::Expr], span: Span) -> Option<StmtKind> {
        let dst = self.expr(&args[0]);
        if !dst.ty.is_int() && !matches!(dst.ty, Type::Pointer { .. }) {
            self.push(diagnostics::write_user_destination(&dst.ty, dst.span));
            return None;
        }
        let src = self.expr(&args[1]);
        if !matches!(
            src.ty,
            Type::Str { .. } | Type::Array { .. } | Type::Record(_) | Type::Tuple(_)
        ) {
            self.push(diagnostics::write_user_source(&src.ty, src.span));
            return None;
        }
        let len = match self.const_int(&args[2]) {
            Some(n) if n > 0 => (n as u64).min(u64::from(src.ty.size())),
            _ => {
                self.push(diagnostics::write_user_length(args[2].span));
                return None;
            }
        };
        let len = Expr {
            kind: H::Int(len as i64),
            ty: U64,
            span: args[2].span,
        };
        Some(StmtKind::Expr(Expr {
            kind: H::Call {
                func: Function::WriteUser,
                args: vec![dst, src, len],
            },
            ty: Type::None,
            span,
        }))
    }

    /// `@name[keys] = f(args)` for an aggregation `f` (the caller checked its kind).
    pub(super) fn aggregate(
        &mut self,
        name: &ast::Ident,
        keys: &[ast::Expr],
        f: Function,
        func: &ast::Ident,
        args: &[ast::Expr],
        span: Span,
    ) -> Option<StmtKind> {
        if !self.call_rules(f, func, args.len(), span, Position::Aggregation) {
            return None;
        }
        let value = args.first().map(|a| {
            let v = self.expr(a);
            self.require_int(&v, "an aggregated value");
            v
        });
        let mut consts = Vec::new();
        // tseries() takes its reduction by name; the other arguments are numbers.
        let numbers = match f {
            Function::Tseries => args.len().min(3),
            _ => args.len(),
        };
        for a in args.iter().take(numbers).skip(1) {
            match self.const_int(a) {
                Some(n) => consts.push(n),
                None => {
                    self.push(diagnostics::aggregation_bounds_not_constant(
                        f.name(),
                        a.span,
                    ));
                    return None;
                }
            }
        }
        let signed = value.as_ref().is_none_or(signed_value);
        let agg = match f {
            Function::Count => Aggregation::Count,
            Function::Sum => Aggregation::Sum { signed },
            Function::Avg => Aggregation::Avg { signed },
            Function::Min => Aggregation::Min { signed },
            Function::Max => Aggregation::Max { signed },
            Function::Stats => Aggregation::Stats { signed },
            Function::Hist => self.hist_bits(&consts, span)?,
            Function::Lhist => self.lhist_bounds(&consts, span)?,
            Function::Tseries => {
                let signed = value.as_ref().is_none_or(|v| !unsigned_like(v));
                self.tseries_args(&consts, args, signed)?
            }
            // Values and statements were reported by call_rules, from their records.
            Function::Printf
            | Function::StaticAssert
            | Function::AssertStr
            | Function::IsErr
            | Function::Warnf
            | Function::Errorf
            | Function::Fail
            | Function::Assert
            | Function::Print
            | Function::Time
            | Function::Cat
            | Function::System
            | Function::Exit
            | Function::Join
            | Function::Debugf
            | Function::Str
            | Function::Buf
            | Function::Strncmp
            | Function::Strcontains
            | Function::Strstr
            | Function::Memcmp
            | Function::Strcap
            | Function::IsStr
            | Function::IsInteger
            | Function::IsUnsignedInteger
            | Function::IsPtr
            | Function::IsArray
            | Function::IsLiteral
            | Function::KfuncExist
            | Function::KfuncAllowed
            | Function::StrConcat
            | Function::Strlen
            | Function::Bswap
            | Function::Ntop
            | Function::Pton
            | Function::Macaddr
            | Function::Ksym
            | Function::Usym
            | Function::Kaddr
            | Function::Getopt
            | Function::Uaddr
            | Function::Cgroupid
            | Function::CgroupPath
            | Function::Signal
            | Function::SignalThread
            | Function::Override
            | Function::WriteUser
            | Function::Strftime
            | Function::Strerror
            | Function::SyscallName
            | Function::SignalName
            | Function::Reg
            | Function::Kptr
            | Function::Uptr
            | Function::Delete
            | Function::Clear
            | Function::Zero
            | Function::Len
            | Function::HasKey
            | Function::Find
            | Function::Path
            | Function::Unwatch
            | Function::Skboutput
            | Function::SocketCookie
            | Function::PercpuKaddr => return None,
        };
        let key = self.map_key(keys);
        let id = self.map_id(
            name,
            key.as_ref().map(|k| k.ty.clone()),
            Type::Agg(agg),
            span,
        )?;
        if let Aggregation::Tseries { intervals, .. } = agg {
            if let Some(clock) = self.opts.dummy_ts_map.as_deref() {
                self.tseries_clock = Some(self.tseries_clock_map(clock, span)?);
            }
            // Every interval of a scalar time series has a slot, whatever max_map_keys says.
            let m = &mut self.maps[id as usize];
            m.max_entries = m.max_entries.max(intervals);
        }
        let spec = self.maps[id as usize].clone();
        // The map's aggregation joins every use's (the quiet first pass saw them all): a sum
        // of unsigned values in a map that also sums signed ones adds them as signed.
        let joined = match &spec.value {
            Type::Agg(have) => have.join(agg).filter(|j| j == have),
            _ => None,
        };
        let Some(agg) = joined else {
            let map = format!("@{}", name.name);
            self.push(diagnostics::aggregation_arguments_changed(
                &map,
                f.name(),
                span,
            ));
            return None;
        };
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

    /// `hist(v[, bits])`: bits per power of two, 0 to 5.
    fn hist_bits(&mut self, consts: &[i64], span: Span) -> Option<Aggregation> {
        let bits = consts.first().copied().unwrap_or(0);
        if !(0..=5).contains(&bits) {
            self.push(diagnostics::hist_bits(span));
            return None;
        }
        Some(Aggregation::Hist { bits: bits as u8 })
    }

    /// `lhist(v, min, max, step)`.
    fn lhist_bounds(&mut self, consts: &[i64], span: Span) -> Option<Aggregation> {
        let [min, max, step] = *consts else {
            return None;
        };
        if step <= 0 || max <= min {
            self.push(diagnostics::lhist_bounds(span));
            return None;
        }
        if step > max - min {
            self.push(diagnostics::lhist_step_too_large(step, max - min, span));
            return None;
        }
        if (max - min) / step > 1000 {
            self.push(diagnostics::lhist_too_many_buckets(span));
            return None;
        }
        Some(Aggregation::Lhist { min, max, step })
    }

    /// `tseries(v, interval, intervals[, reduce])`: an interval of at least 1 ns, at least one
    /// interval, and a reduction named by a string literal.
    fn tseries_args(
        &mut self,
        consts: &[i64],
        args: &[ast::Expr],
        signed: bool,
    ) -> Option<Aggregation> {
        let (&[interval, intervals], [_, a_interval, a_intervals, rest @ ..]) = (consts, args)
        else {
            return None;
        };
        let reduce = rest.first();
        let Ok(interval_ns) = u64::try_from(interval) else {
            self.push(diagnostics::tseries_interval(interval, a_interval.span));
            return None;
        };
        if interval_ns == 0 {
            self.push(diagnostics::tseries_interval(interval, a_interval.span));
            return None;
        }
        let intervals = match u32::try_from(intervals) {
            Ok(n) if (1..=TSERIES_MAX_INTERVALS).contains(&n) => n,
            _ => {
                self.push(diagnostics::tseries_intervals(intervals, a_intervals.span));
                return None;
            }
        };
        let reduce = match reduce {
            None => TsReduce::Last,
            Some(e) => {
                let named = match &e.kind {
                    A::Str(name) => TsReduce::NAMED
                        .iter()
                        .find(|(n, _)| n.as_bytes() == name.as_slice())
                        .map(|(_, r)| *r),
                    _ => None,
                };
                let Some(r) = named else {
                    self.push(diagnostics::tseries_reduce(e.span));
                    return None;
                };
                r
            }
        };
        Some(Aggregation::Tseries {
            interval_ns,
            intervals,
            reduce,
            signed,
        })
    }

    /// The `unstable_*` settings: a note or an error at the first use of each unstable
    /// feature (a dw_ustack, a typeinfo(), a tseries map), once. The warning bpftrace prints
    /// has no source excerpt, so a note (a line on stderr) stands for it: an excerpt would
    /// repeat the script's text, maps and all.
    pub(super) fn unstable_features(&mut self) {
        let tseries_first = self
            .map_ids
            .values()
            .filter(|info| {
                matches!(
                    self.maps[info.id as usize].value,
                    Type::Agg(Aggregation::Tseries { .. })
                )
            })
            .map(|info| info.first)
            .min_by_key(|span| span.start);
        let features = [
            (
                self.dw_ustack_first,
                self.opts.config.unstable_dw_ustack,
                "dw_ustack (DWARF stack unwinding)",
                "unstable_dw_ustack",
            ),
            (
                self.typeinfo_first,
                self.opts.config.unstable_typeinfo,
                "typeinfo()",
                "unstable_typeinfo",
            ),
            (
                tseries_first,
                self.opts.config.unstable_tseries,
                "tseries()",
                "unstable_tseries",
            ),
        ];
        for (first, setting, feature, name) in features {
            let Some(span) = first else {
                continue;
            };
            match setting {
                Unstable::Enable => {}
                Unstable::Warn => self.notes.push(diagnostics::unstable_note(feature, name)),
                Unstable::Error => {
                    self.push(diagnostics::unstable_not_enabled(feature, name, span));
                }
            }
        }
    }

    /// The map `BPFTRACE_DUMMY_TS_MAP` names: a scalar map of integers.
    fn tseries_clock_map(&mut self, name: &str, span: Span) -> Option<crate::hir::MapId> {
        let found = self.map_ids.get(name).map(|info| info.id).filter(|id| {
            let spec = &self.maps[*id as usize];
            spec.key.is_none() && matches!(spec.value, Type::Int { .. })
        });
        if found.is_none() {
            self.push(diagnostics::tseries_clock_map(name, span));
        }
        found
    }

    /// Parses a format string argument and checks the arguments against it.
    fn format_args(
        &mut self,
        fname: &str,
        args: &[ast::Expr],
        span: crate::ast::Span,
    ) -> Option<(Vec<Piece>, Vec<Expr>)> {
        let Some(first) = args.first() else {
            self.push(diagnostics::format_missing(fname, span));
            return None;
        };
        let A::Str(fmt) = &first.kind else {
            self.push(diagnostics::format_not_literal(fname, first.span));
            return None;
        };
        let fmt_text = String::from_utf8_lossy(fmt).into_owned();
        let pieces = match format::parse(&fmt_text) {
            Ok(p) => p,
            Err(e) => {
                // +1 skips the opening quote of the literal.
                let at = first.span.start + 1 + e.offset;
                let at = Span::new(at, (at + 2).min(first.span.end));
                self.push(diagnostics::format_invalid(e.message, at));
                return None;
            }
        };
        let want = format::arg_count(&pieces);
        let rest = &args[1..];
        if rest.len() != want {
            self.push(diagnostics::format_argument_count(want, rest.len(), span));
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
                let d = diagnostics::format_wants_integer(conv_letter(spec.conv), &e.ty, e.span);
                self.push(d);
            }
            if spec.conv.wants_buffer() && !matches!(e.ty, Type::Buffer { .. }) {
                self.push(diagnostics::format_wants_buffer(&e.ty, e.span));
            }
            out.push(self.format_value(e));
        }
        Some((pieces, out))
    }

    /// A value as a format hands it to the runtime: integers and pointers widened to 64 bits.
    fn format_value(&mut self, e: Expr) -> Expr {
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
        self.coerce(e, &ty)
    }
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
        format::Conv::GfpFlags => "gr",
    }
}

fn signal_number(name: &str) -> Option<i64> {
    const SIGNALS: &[&str] = &[
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    let full = if name.starts_with("SIG") {
        name.to_string()
    } else {
        format!("SIG{name}")
    };
    SIGNALS
        .iter()
        .position(|s| *s == full)
        .map(|i| i as i64 + 1)
}

//! Typing expressions: builtins per probe type, maps and variables, operators, casts, field
//! access through BTF and tracepoint formats, and the builtin functions that produce values.

use super::attach::SYSCALL_RECORD_HEADER;
use super::comptime;
use super::ctypes::parse_c_type;
use super::diagnostics;
use super::Checker;
use crate::ast::{self, BinaryOp, ExprKind as A, Span, UnaryOp};
use crate::hir::{self, Expr, ExprKind as H, Unary};
use stdlib::builtins::Builtin;
use stdlib::catalog::{MemberKind, UserParam};
use stdlib::format::Piece;
use stdlib::literal::parse_int;
use stdlib::manifest::{Event, Level, RunValue};
use stdlib::types::{AddrSpace, Aggregation, Type, I64, U64};

pub(super) fn mk(kind: H, ty: Type, span: Span) -> Expr {
    Expr { kind, ty, span }
}

/// Whether string `s` is not empty, as a bool: its first byte compared with the empty
/// string's.
fn non_empty(s: Expr) -> Expr {
    let span = s.span;
    let empty = mk(H::Str(Vec::new()), Type::Str { len: 1 }, span);
    let kind = H::StrCmp {
        equal: false,
        lhs: Box::new(s),
        rhs: Box::new(empty),
    };
    mk(kind, Type::Bool, span)
}

/// An expression that stands in for one that failed to check, so analysis can continue.
pub(super) fn poisoned(span: Span) -> Expr {
    mk(H::Int(0), I64, span)
}

/// A string constant: its bytes, typed with room for the NUL.
pub(super) fn text(bytes: &[u8], span: Span) -> Expr {
    let len = bytes.len() as u32 + 1;
    mk(H::Str(bytes.to_vec()), Type::Str { len }, span)
}

/// A record constant (`typeinfo()`, `config()`): its fields' names and values.
pub(super) fn record(fields: Vec<(String, Expr)>, span: Span) -> Expr {
    let (names, elems): (Vec<String>, Vec<Expr>) = fields.into_iter().unzip();
    let ty = Type::NamedTuple {
        names,
        elems: elems.iter().map(|e| e.ty.clone()).collect(),
    };
    mk(H::Tuple(elems), ty, span)
}

impl Checker<'_> {
    /// Whether a string operation of `steps` steps is within `most`; reports it
    /// otherwise.
    pub(super) fn string_steps_fit(
        &mut self,
        what: &str,
        steps: u64,
        most: u64,
        span: Span,
    ) -> bool {
        if steps <= most {
            return true;
        }
        self.push(diagnostics::string_operation_too_long(
            what, steps, most, span,
        ));
        false
    }

    pub(super) fn require_int(&mut self, e: &Expr, what: &str) {
        if !(e.ty.is_int() || matches!(e.ty, Type::Pointer { .. })) {
            self.push(diagnostics::not_an_integer(what, &e.ty, e.span));
        }
    }

    /// Evaluates a constant integer expression (array sizes, enum values, unroll counts).
    pub(super) fn const_int(&mut self, e: &ast::Expr) -> Option<i64> {
        match &e.kind {
            A::Int(i) => Some(*i as i64),
            A::Unary {
                op: UnaryOp::Neg,
                expr,
            } => self.const_int(expr).and_then(i64::checked_neg),
            A::Positional(n) => {
                self.params_compiled_in = true;
                self.opts
                    .params
                    .get(*n as usize - 1)
                    .and_then(|p| parse_int(p))
            }
            A::Ident(name) => match self.defines.get(name).and_then(|v| parse_int(v)) {
                Some(i) => Some(i),
                None => match self.named_constant(name, e.span)?.kind {
                    H::Int(i) => Some(i),
                    _ => None,
                },
            },
            // Folded as literal arithmetic is (see [`fold`]); a result past i64 is none.
            A::Binary { op, lhs, rhs } => {
                let (a, b) = (self.const_int(lhs)?, self.const_int(rhs)?);
                let v = fold(*op, i128::from(a), i128::from(b)).flatten()?;
                i64::try_from(v).ok()
            }
            _ => None,
        }
    }

    /// Wraps `e` so it is stored as `ty` (strings of another length, narrower ints).
    pub(super) fn coerce(&mut self, e: Expr, ty: &Type) -> Expr {
        if &e.ty == ty {
            return e;
        }
        match (&e.ty, ty) {
            (Type::Str { .. }, Type::Str { .. }) | (Type::Buffer { .. }, Type::Buffer { .. }) => {
                let span = e.span;
                mk(H::Cast(Box::new(e)), ty.clone(), span)
            }
            (a, b) if a.is_int() && b.is_int() => e,
            // Where `probe` meets strings it is its name's text, which the program knows
            // only where `probe` is read: a `probe` held in a variable or map is the id of
            // the probe that stored it, whose name only user space knows.
            (Type::ProbeName, Type::Str { .. }) => {
                let held = !matches!(e.kind, H::Builtin(Builtin::Probe));
                if held {
                    self.push(diagnostics::held_probe_as_string(ty, e.span));
                    return e;
                }
                let e = self.probe_as_str(e);
                self.coerce(e, ty)
            }
            (Type::Tuple(items), Type::Tuple(want)) if items.len() == want.len() => {
                self.coerce_tuple(e, want, ty)
            }
            (
                Type::NamedTuple { names, .. },
                Type::NamedTuple {
                    names: to,
                    elems: want,
                },
            ) if names == to => self.coerce_tuple(e, want, ty),
            // The same fields in another order (the checker's `compatible` made sure the
            // names match): the whole record is evaluated in its own order, then codegen
            // copies each field to its place in `ty`, as bpftrace evaluates records.
            (Type::NamedTuple { .. }, Type::NamedTuple { .. }) => {
                let span = e.span;
                mk(H::Cast(Box::new(e)), ty.clone(), span)
            }
            _ => e,
        }
    }

    /// [`Self::coerce`] of a tuple or a record to `ty`, whose elements are `want` in the
    /// order of `e`'s elements.
    fn coerce_tuple(&mut self, e: Expr, want: &[Type], ty: &Type) -> Expr {
        let span = e.span;
        match e.kind {
            H::Tuple(elems) => {
                // An element's type is its place in the tuple's layout, so an integer of
                // another width (or a bool) is converted, not just kept.
                let elems = elems
                    .into_iter()
                    .zip(want)
                    .map(|(x, t)| self.coerce_element(x, t))
                    .collect();
                mk(H::Tuple(elems), ty.clone(), span)
            }
            // A tuple held elsewhere (a variable, a map value) is converted element by
            // element into the layout of `ty`.
            kind => mk(H::Cast(Box::new(mk(kind, e.ty, span))), ty.clone(), span),
        }
    }

    /// [`Self::coerce`] for an element of a tuple, which must end up with exactly the type
    /// `ty`: the tuple's layout is computed from its elements' types, and it must be the
    /// layout of the tuple type that user space decodes (`((int32)-100, (int8)10)` stored as
    /// an `(int64,int64)` map value converts both integers).
    fn coerce_element(&mut self, e: Expr, ty: &Type) -> Expr {
        let e = self.coerce(e, ty);
        let converts = e.ty.is_int() || matches!(e.ty, Type::Pointer { .. });
        if &e.ty != ty && converts {
            let span = e.span;
            return mk(H::Cast(Box::new(e)), ty.clone(), span);
        }
        e
    }

    /// The type a value takes when stored in a map or variable: strings widen to `strlen`.
    pub(super) fn storage_type(&self, t: &Type) -> Type {
        match t {
            Type::Str { len } => Type::Str {
                len: (*len).max(self.opts.config.strlen()),
            },
            // Integers widen to 64 bits, keeping their sign (a `uint64` prints unsigned, as
            // in 0.27); bools and enums keep their types (they print as true/false and by
            // name).
            Type::Int { signed: true, .. } => I64,
            Type::Int { signed: false, .. } => U64,
            t @ (Type::Tuple(_) | Type::NamedTuple { .. }) => t.map_elems(|i| self.storage_type(i)),
            other => other.clone(),
        }
    }

    /// The type in which `print(value)` sends a value: as [`Self::storage_type`], but
    /// integers keep their sign, so an unsigned value above `i64::MAX` prints as bpftrace
    /// prints it (`18446744073709551615`, not `-1`).
    pub(super) fn printed_type(&self, t: &Type) -> Type {
        match t {
            Type::Int { signed, .. } => Type::Int {
                bits: 64,
                signed: *signed,
            },
            t @ (Type::Tuple(_) | Type::NamedTuple { .. }) => t.map_elems(|i| self.printed_type(i)),
            other => self.storage_type(other),
        }
    }

    pub(super) fn expr(&mut self, e: &ast::Expr) -> Expr {
        let span = e.span;
        match &e.kind {
            // As in bpftrace 0.27, a literal is unsigned and as wide as its value needs
            // (`~10` is 18446744073709551605, `sizeof(3)` is 1); `-1` is the negation of
            // one, and negation is signed.
            A::Int(i) => mk(H::Int(*i as i64), literal_type(*i), span),
            A::Str(bytes) => {
                // As in bpftrace 0.27: a literal and its NUL must fit in 1024 bytes.
                if bytes.len() >= 1024 {
                    self.push(diagnostics::string_literal_too_long(span));
                }
                text(bytes, span)
            }
            A::Bool(b) => mk(H::Int(i64::from(*b)), Type::Bool, span),
            A::Var(name) => match self.read_var(name, span) {
                Some((id, ty)) => mk(H::Var(id), ty, span),
                None => poisoned(span),
            },
            A::Map { name, keys } => self.map_read(name, keys, span),
            A::Positional(n) => match self.opts.params.get(*n as usize - 1) {
                Some(p) => match parse_int(p) {
                    // A number above 2^63-1 (its bits read negative, but it has no minus
                    // sign) is an unsigned literal, compiled in: its type depends on its
                    // value, and it folds with other literals as bpftrace folds it.
                    Some(v) if v < 0 && !p.contains('-') => {
                        self.params_compiled_in = true;
                        mk(H::Int(v), U64, span)
                    }
                    Some(v) => self.run_value(RunValue::Param(*n), v, I64, span),
                    // A compiled file reads a string of `strlen` bytes (or this one's length,
                    // if longer) at run time.
                    None if self.opts.run_time_values => {
                        let len = self.opts.config.strlen().max(p.len() as u32 + 1);
                        let v = RunValue::ParamStr { index: *n, len };
                        self.run_value(v, 0, Type::Str { len }, span)
                    }
                    None => mk(
                        H::Str(p.as_bytes().to_vec()),
                        Type::Str {
                            len: p.len() as u32 + 1,
                        },
                        span,
                    ),
                },
                // bpftrace treats a missing positional parameter as 0 (or "" inside str()).
                None => self.run_value(RunValue::Param(*n), 0, I64, span),
            },
            A::PositionalCount => {
                let count = self.opts.params.len() as i64;
                self.run_value(RunValue::ParamCount, count, I64, span)
            }
            A::Ident(name) => self.ident(name, span),
            A::Call { func, args } => self.call_expr(func, args, span),
            A::Unary { op, expr } => self.unary(*op, expr, span),
            A::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, span),
            A::Ternary {
                cond,
                then,
                otherwise,
            } => {
                let c = match self.expr(cond) {
                    // `$s ?: "default"`: a string condition is true when it is not empty
                    // (bpftrace 0.26+).
                    c @ Expr {
                        ty: Type::Str { .. },
                        ..
                    } => non_empty(c),
                    c => c,
                };
                self.require_int(&c, "a condition");
                let t = self.expr(then);
                let o = self.expr(otherwise);
                let ty = match (&t.ty, &o.ty) {
                    (Type::Str { len: a }, Type::Str { len: b }) => Type::Str { len: (*a).max(*b) },
                    (Type::Bool, Type::Bool) => Type::Bool,
                    (a, b) if a.is_int() && b.is_int() => I64,
                    (a, b) if a == b => a.clone(),
                    // Buffers of different lengths meet in the longer one.
                    (a @ Type::Buffer { .. }, b @ Type::Buffer { .. }) => {
                        super::widen(a, b, self.probe_text_len)
                    }
                    // `probe` meets a string as its name's text (see `coerce`).
                    (a @ Type::ProbeName, b @ Type::Str { .. })
                    | (a @ Type::Str { .. }, b @ Type::ProbeName) => {
                        super::widen(a, b, self.probe.name_len)
                    }
                    // Tuples and records meet element by element (a record's fields by
                    // name, in the order of the first branch).
                    (a @ (Type::Tuple(_) | Type::NamedTuple { .. }), b)
                        if super::compatible(a, b) =>
                    {
                        super::widen(a, b, self.probe_text_len)
                    }
                    (a, b) => {
                        self.push(diagnostics::ternary_types(a, b, span));
                        I64
                    }
                };
                let t = self.coerce(t, &ty);
                let o = self.coerce(o, &ty);
                mk(
                    H::Ternary {
                        cond: Box::new(c),
                        then: Box::new(t),
                        otherwise: Box::new(o),
                    },
                    ty,
                    span,
                )
            }
            A::Cast { ty, expr } => {
                let inner = self.expr(expr);
                let Some(target) = self.cast_target(ty, expr, &inner) else {
                    return poisoned(span);
                };
                // A constant cast to a script enum must name one of its values, as in
                // bpftrace 0.27; a run-time value that names none prints as a number.
                if let (Type::Enum { name, variants, .. }, H::Int(v)) = (&target, &inner.kind) {
                    if !variants.iter().any(|(_, x)| *x == *v as u64) {
                        self.push(diagnostics::enum_has_no_value(name, *v, span));
                        return poisoned(span);
                    }
                }
                match (&inner.ty, &target) {
                    // A string is true when it is not empty (bpftrace 0.24+): its first byte
                    // compared with the empty string's.
                    (Type::Str { .. }, Type::Bool) => Expr {
                        span,
                        ..non_empty(inner)
                    },
                    // Casting to a pointer retypes the address; no code is needed. A pointer
                    // keeps pointing where it did (`(struct task_struct *)curtask` in a
                    // uprobe reads the kernel), as in bpftrace 0.27.
                    (Type::Pointer { space, .. }, Type::Pointer { to, .. }) => Expr {
                        ty: Type::Pointer {
                            to: to.clone(),
                            space: *space,
                        },
                        ..inner
                    },
                    (from, Type::Pointer { .. }) if from.is_int() => Expr {
                        ty: target,
                        ..inner
                    },
                    (from, to)
                        if (from.is_int() || matches!(from, Type::Pointer { .. }))
                            && to.is_int() =>
                    {
                        mk(H::Cast(Box::new(inner)), target, span)
                    }
                    // An integer's bytes as an array of up to 8 bytes (bpftrace 0.27), in
                    // memory order: `(int8[8])12345` is [57,48,0,0,0,0,0,0].
                    (from, Type::Array { elem, .. })
                        if from.is_int() && elem.is_int() && target.size() <= 8 =>
                    {
                        mk(H::Cast(Box::new(inner)), target, span)
                    }
                    // A string's bytes, NUL and padding included, as integers.
                    (Type::Str { len }, Type::Array { elem, .. })
                        if elem.is_int() && *len == target.size() =>
                    {
                        mk(H::Cast(Box::new(inner)), target, span)
                    }
                    // A cast to the type the value has already (`(typeof($t))$t`) is none.
                    (from, to) if from == to => Expr { span, ..inner },
                    (Type::Array { .. }, to) if to.is_int() && inner.ty.size() == to.size() => {
                        mk(H::Cast(Box::new(inner)), target, span)
                    }
                    (from, to) => {
                        self.push(diagnostics::bad_cast(from, to, span));
                        poisoned(span)
                    }
                }
            }
            A::Field { expr, field, .. } => self.field(expr, field, span),
            A::Index { expr, index } => {
                let base = self.expr(expr);
                let idx = self.expr(index);
                let constant = match idx.kind {
                    H::Int(i) => Some(i),
                    _ => self.const_int(index),
                };
                let Some(i) = constant else {
                    return self.variable_index(base, idx, span);
                };
                match base.ty.clone() {
                    Type::Array { elem, len } => {
                        // A zero-length array ends a record whose elements follow it in
                        // memory (C's flexible array member): any index reads past it.
                        let flexible = len == 0 && matches!(base.kind, H::Load { .. });
                        if i < 0 || i > i64::from(u32::MAX / elem.size().max(1)) {
                            self.push(diagnostics::array_index_out_of_bounds(i, len, idx.span));
                            return poisoned(span);
                        }
                        if i as u32 >= len && !flexible {
                            self.push(diagnostics::array_index_out_of_bounds(i, len, idx.span));
                            return poisoned(span);
                        }
                        self.member(base, i as u32 * elem.size(), *elem, span)
                    }
                    Type::Pointer { to, .. } if *to == Type::None => {
                        self.push(diagnostics::function_pointer_read(span));
                        poisoned(span)
                    }
                    Type::Pointer { to, space } => {
                        let size = to.size().max(1);
                        mk(
                            H::Load {
                                ptr: Box::new(base),
                                offset: i as u32 * size,
                                space,
                                core: None,
                            },
                            *to,
                            span,
                        )
                    }
                    Type::Str { len } => {
                        if i < 0 || i as u32 >= len {
                            self.push(diagnostics::string_index_out_of_bounds(i, len, idx.span));
                            return poisoned(span);
                        }
                        self.member(
                            base,
                            i as u32,
                            Type::Int {
                                bits: 8,
                                signed: true,
                            },
                            span,
                        )
                    }
                    // `$t[1 + 1]`: bpftrace 0.27's array-style access of a tuple element,
                    // with a constant index.
                    Type::Tuple(items) => {
                        match usize::try_from(i).ok().and_then(|i| items.get(i)) {
                            Some(t) => mk(
                                H::TupleIndex {
                                    expr: Box::new(base),
                                    index: i as u32,
                                },
                                t.clone(),
                                span,
                            ),
                            None => {
                                let d = diagnostics::tuple_index_out_of_bounds(
                                    i.clamp(0, i64::from(u32::MAX)) as u32,
                                    items.len(),
                                    span,
                                );
                                self.push(d);
                                poisoned(span)
                            }
                        }
                    }
                    other => {
                        self.push(diagnostics::not_indexable(&other, span));
                        poisoned(span)
                    }
                }
            }
            A::TupleIndex { expr, index } => {
                let base = self.expr(expr);
                match base.ty.clone() {
                    Type::Tuple(items) => match items.get(*index as usize) {
                        Some(t) => mk(
                            H::TupleIndex {
                                expr: Box::new(base),
                                index: *index,
                            },
                            t.clone(),
                            span,
                        ),
                        None => {
                            let d =
                                diagnostics::tuple_index_out_of_bounds(*index, items.len(), span);
                            self.push(d);
                            poisoned(span)
                        }
                    },
                    other => {
                        self.push(diagnostics::not_a_tuple(*index, &other, span));
                        poisoned(span)
                    }
                }
            }
            A::Tuple(items) => {
                let items: Vec<Expr> = items.iter().map(|i| self.expr(i)).collect();
                let ty = Type::Tuple(items.iter().map(|i| i.ty.clone()).collect());
                mk(H::Tuple(items), ty, span)
            }
            A::Record(fields) => {
                for (i, (name, _)) in fields.iter().enumerate() {
                    if let Some((first, _)) = fields[..i].iter().find(|(n, _)| n.name == name.name)
                    {
                        let d =
                            diagnostics::duplicate_record_field(&name.name, first.span, name.span);
                        self.push(d);
                    }
                }
                let items: Vec<Expr> = fields.iter().map(|(_, v)| self.expr(v)).collect();
                let ty = Type::NamedTuple {
                    names: fields.iter().map(|(n, _)| n.name.clone()).collect(),
                    elems: items.iter().map(|i| i.ty.clone()).collect(),
                };
                mk(H::Tuple(items), ty, span)
            }
            A::IncDec {
                target,
                increment,
                prefix,
            } => self.inc_dec_value(target, *increment, *prefix, span),
            A::Block(_) => {
                self.push(diagnostics::block_expression_here(span));
                poisoned(span)
            }
            A::TypeArg(_) => {
                self.push(diagnostics::type_as_value(span));
                poisoned(span)
            }
            A::TypeQuery { query, arg } => {
                let ty = match arg.as_ref() {
                    ast::TypeOrExpr::Type(t) => self.resolve_type(t),
                    ast::TypeOrExpr::Expr(e) => Some(self.expr(e).ty),
                };
                match query {
                    ast::TypeQuery::Sizeof => {
                        mk(H::Int(i64::from(ty.map_or(0, |t| t.size()))), U64, span)
                    }
                    ast::TypeQuery::Typeinfo => {
                        self.typeinfo_first.get_or_insert(span);
                        ty.map_or_else(|| poisoned(span), |t| typeinfo(&t, span))
                    }
                }
            }
            A::Comptime(inner) => self.comptime(inner, span),
            A::Offsetof { ty, fields } => match self.field_offset(ty, fields) {
                Some((_, offset)) => mk(H::Int(i64::from(offset)), U64, span),
                None => poisoned(span),
            },
            A::ContainerOf { ptr, ty, fields } => self.container_of(ptr, ty, fields, span),
        }
    }

    /// The record `ty` names and the offset of the field path `fields` in it (`a.b`), or
    /// None after reporting why there is none.
    fn field_offset(
        &mut self,
        ty: &ast::TypeExpr,
        fields: &[ast::Ident],
    ) -> Option<(Box<stdlib::types::Record>, u32)> {
        let Some(Type::Record(outer)) = self.resolve_type(ty) else {
            self.push(diagnostics::offsetof_needs_struct(ty.span));
            return None;
        };
        let mut r = outer.clone();
        let mut total = 0u32;
        for f in fields {
            let Some(x) = r.fields.iter().find(|x| x.name == f.name) else {
                let names: Vec<&str> = r.fields.iter().map(|x| x.name.as_str()).collect();
                self.push(diagnostics::no_such_field(&r.name, &f.name, &names, f.span));
                return None;
            };
            total += x.offset;
            if let Type::Record(inner) = &x.ty {
                r = inner.clone();
            }
        }
        Some((outer, total))
    }

    /// `container_of(ptr, typeof(struct S), a.b)`: the `struct S *` whose field `a.b` is
    /// where `ptr` points, `ptr` less the field's offset, in `ptr`'s address space.
    fn container_of(
        &mut self,
        ptr: &ast::Expr,
        ty: &ast::TypeExpr,
        fields: &[ast::Ident],
        span: Span,
    ) -> Expr {
        let p = self.expr(ptr);
        let space = match &p.ty {
            Type::Pointer { space, .. } => *space,
            other => {
                self.push(diagnostics::container_of_not_a_pointer(other, p.span));
                return poisoned(span);
            }
        };
        let Some((record, offset)) = self.field_offset(ty, fields) else {
            return poisoned(span);
        };
        let at = p.span;
        let address = mk(H::Cast(Box::new(p)), U64, at);
        let start = H::Binary {
            op: BinaryOp::Sub,
            lhs: Box::new(address),
            rhs: Box::new(mk(H::Int(i64::from(offset)), U64, at)),
        };
        let to = Box::new(Type::Record(record));
        mk(start, Type::Pointer { to, space }, span)
    }

    /// The text of a string-literal argument of `func()`, or an error saying that it needs
    /// a literal `what` (`symbol name`).
    /// The text of a positional parameter read as a string: `$1` (empty when not given), or
    /// `$1 + n` / `n + $1`, its text from the n-th byte on (bpftrace's pointer arithmetic on
    /// a parameter's string). `None` when `e` is not of that form.
    pub(super) fn positional_text(&mut self, e: &ast::Expr) -> Option<Vec<u8>> {
        match &e.kind {
            A::Positional(n) => Some({
                self.params_compiled_in = true;
                self.opts
                    .params
                    .get((*n as usize).wrapping_sub(1))
                    .map(|p| p.as_bytes().to_vec())
                    .unwrap_or_default()
            }),
            A::Binary {
                op: BinaryOp::Add,
                lhs,
                rhs,
            } => {
                let (param, offset) = match (&lhs.kind, &rhs.kind) {
                    (A::Positional(_), _) => (lhs, rhs),
                    (_, A::Positional(_)) => (rhs, lhs),
                    _ => return None,
                };
                let offset = usize::try_from(self.const_int(offset)?).ok()?;
                let text = self.positional_text(param)?;
                match text.get(offset..) {
                    Some(rest) if !rest.is_empty() => Some(rest.to_vec()),
                    _ => {
                        self.push(diagnostics::positional_offset_past_end(e.span));
                        Some(Vec::new())
                    }
                }
            }
            _ => None,
        }
    }

    /// `v` as the checked script reads it: the constant `now` when compiling to run at once,
    /// a value read at run time when compiling a file (`Options::run_time_values`, the only
    /// case in which `v` may be a string).
    pub(super) fn run_value(&mut self, v: RunValue, now: i64, ty: Type, span: Span) -> Expr {
        if !self.opts.run_time_values {
            return mk(H::Int(now), ty, span);
        }
        let index = match self.run_values.iter().position(|r| *r == v) {
            Some(i) => i,
            None => {
                self.run_values.push(v);
                self.run_values.len() - 1
            }
        };
        mk(H::RunValue(index as u32), ty, span)
    }

    pub(super) fn literal_str(
        &mut self,
        arg: &ast::Expr,
        func: &str,
        what: &str,
    ) -> Option<String> {
        match &arg.kind {
            A::Str(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
            // `kaddr(str($1))`: a parameter is a literal too.
            A::Call { func: callee, args } if callee.name == "str" && args.len() == 1 => {
                match self.positional_text(&args[0]) {
                    Some(text) => Some(String::from_utf8_lossy(&text).into_owned()),
                    None => {
                        self.push(diagnostics::literal_needed(func, what, arg.span));
                        None
                    }
                }
            }
            A::Positional(_) => self
                .positional_text(arg)
                .map(|t| String::from_utf8_lossy(&t).into_owned()),
            _ => {
                self.push(diagnostics::literal_needed(func, what, arg.span));
                None
            }
        }
    }

    fn map_read(&mut self, name: &ast::Ident, keys: &[ast::Expr], span: Span) -> Expr {
        let script_name = format!("@{}", name.name);
        let Some(info) = self.map_ids.get(&script_name) else {
            // Only the quiet first pass gets here: a map no statement assigns is declared
            // after it, as an empty map of integers (see `declare_unassigned_maps`).
            let key = self.map_key(keys).map(|k| k.ty);
            self.unassigned_reads
                .entry(script_name)
                .or_insert((name.clone(), key, span));
            return mk(H::Int(0), I64, span);
        };
        let id = info.id;
        let first = info.first;
        let spec = self.maps[id as usize].clone();
        let key = self.map_key(keys);
        let key = match (key, &spec.key) {
            (Some(k), Some(kt)) => {
                if !super::compatible(kt, &k.ty) {
                    let d = diagnostics::map_read_key_type(&script_name, kt, &k.ty, first, k.span);
                    self.push(d);
                    return poisoned(span);
                }
                Some(Box::new(self.coerce(k, kt)))
            }
            (None, None) => None,
            (Some(_), None) => {
                self.push(diagnostics::map_read_with_key(&script_name, span));
                return poisoned(span);
            }
            (None, Some(_)) => {
                self.push(diagnostics::map_needs_key(&script_name, span));
                return poisoned(span);
            }
        };
        let ty = match &spec.value {
            Type::Agg(agg) => match aggregation_value(*agg) {
                Some(ty) => ty,
                None => {
                    self.push(diagnostics::aggregation_read(*agg, span));
                    return poisoned(span);
                }
            },
            other => other.clone(),
        };
        mk(H::MapRead { map: id, key }, ty, span)
    }

    /// The id of a map that `what` takes whole (`len(@m)`, `for ($kv : @m)`): the
    /// expression must be a map without a key, assigned somewhere in the script.
    pub(super) fn whole_map(&mut self, e: &ast::Expr, what: &str) -> Option<hir::MapId> {
        let A::Map { name, keys } = &e.kind else {
            self.push(diagnostics::whole_map_not_a_map(what, e.span));
            return None;
        };
        if !keys.is_empty() {
            self.push(diagnostics::whole_map_with_key(what, e.span));
            return None;
        }
        self.assigned_map(name, e.span)
    }

    /// The id of map `name`, which some statement of the script must assign (an "undefined
    /// map" error at `span` if none does).
    pub(super) fn assigned_map(&mut self, name: &ast::Ident, span: Span) -> Option<hir::MapId> {
        let script_name = format!("@{}", name.name);
        if let Some(info) = self.map_ids.get(&script_name) {
            return Some(info.id);
        }
        let names: Vec<String> = self.map_ids.keys().cloned().collect();
        self.push(diagnostics::map_never_assigned(&script_name, &names, span));
        None
    }

    /// Types a map's keys: one key is itself, several are a tuple (`@m[a, b]` ≡ `@m[(a, b)]`).
    pub(super) fn map_key(&mut self, keys: &[ast::Expr]) -> Option<Expr> {
        match keys {
            [] => None,
            [k] => {
                let e = self.expr(k);
                let t = key_type(&e.ty);
                Some(self.coerce_element(e, &t))
            }
            many => {
                let items: Vec<Expr> = many
                    .iter()
                    .map(|k| {
                        let e = self.expr(k);
                        let t = key_type(&e.ty);
                        self.coerce_element(e, &t)
                    })
                    .collect();
                let span = items[0].span.to(items[items.len() - 1].span);
                let ty = Type::Tuple(items.iter().map(|i| i.ty.clone()).collect());
                Some(mk(H::Tuple(items), ty, span))
            }
        }
    }

    pub(super) fn ident(&mut self, name: &str, span: Span) -> Expr {
        if let Some(b) = Builtin::from_name(name) {
            return self.builtin(b, &[], span);
        }
        if let Some((value, ty)) = self.enumerators.get(name).cloned() {
            return mk(H::Int(value), ty, span);
        }
        if let Some(v) = self.defines.get(name).cloned() {
            if let Some(i) = parse_int(&v) {
                return mk(H::Int(i), I64, span);
            }
            if let Some(s) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                return mk(
                    H::Str(s.as_bytes().to_vec()),
                    Type::Str {
                        len: s.len() as u32 + 1,
                    },
                    span,
                );
            }
            if v != name {
                if let Some(e) = self.named_constant(v.trim(), span) {
                    return e;
                }
            }
        }
        if let Some(e) = self.named_constant(name, span) {
            return e;
        }
        let mut candidates: Vec<String> = Builtin::NAMED.iter().map(|b| b.name()).collect();
        candidates.extend(self.defines.keys().cloned());
        candidates.extend(self.header_macros.keys().cloned());
        self.push(diagnostics::unknown_identifier(name, &candidates, span));
        poisoned(span)
    }

    /// A constant the script did not define: the kernel's (or one rbt knows), else an integer
    /// macro of the included headers, which are read (running the C preprocessor) the first
    /// time a name is found nowhere else.
    fn named_constant(&mut self, name: &str, span: Span) -> Option<Expr> {
        if let Some((i, ty)) = self.catalog.constant(name) {
            return Some(mk(H::Int(i), ty, span));
        }
        let headers = std::mem::take(&mut self.headers);
        if !headers.is_empty() {
            self.header_macros = self.catalog.header_macros(&headers).into_iter().collect();
        }
        let i = *self.header_macros.get(name)?;
        Some(mk(H::Int(i), I64, span))
    }

    fn unary(&mut self, op: UnaryOp, expr: &ast::Expr, span: Span) -> Expr {
        if op == UnaryOp::AddrOf {
            return self.address_of(expr, span);
        }
        let inner = self.expr(expr);
        // As 0.27 folds it, `-5` is a literal of the narrowest signed type (`sizeof(-1)` is
        // 1, `(1, -1)` packs into two bytes), and `-(-5)` the literal 5.
        if let (UnaryOp::Neg, true, Some(v)) = (op, written_literal(expr), literal_value(&inner)) {
            return match literal(-v, span) {
                Some(e) => e,
                None => {
                    self.push(diagnostics::negative_literal_underflow(span));
                    poisoned(span)
                }
            };
        }
        match op {
            UnaryOp::Neg | UnaryOp::Not | UnaryOp::BitNot => {
                // `!p` tests a pointer for null; negating or complementing one means nothing.
                if op == UnaryOp::Not || inner.ty.is_int() {
                    self.require_int(&inner, "the operand");
                } else {
                    let sym = if op == UnaryOp::Neg { "-" } else { "~" };
                    let what = format!("the operand of `{sym}`");
                    self.push(diagnostics::not_an_integer(&what, &inner.ty, inner.span));
                }
                let (op, ty) = match op {
                    UnaryOp::Neg => (Unary::Neg, I64),
                    UnaryOp::Not => (Unary::Not, Type::Bool),
                    _ => (Unary::BitNot, if inner.ty.is_signed() { I64 } else { U64 }),
                };
                mk(
                    H::Unary {
                        op,
                        expr: Box::new(inner),
                    },
                    ty,
                    span,
                )
            }
            UnaryOp::Deref => match inner.ty.clone() {
                Type::Pointer { to, .. } if *to == Type::None => {
                    self.push(diagnostics::function_pointer_read(span));
                    poisoned(span)
                }
                Type::Pointer { to, space } => {
                    // A record pointee is kept by name only (BTF, DWARF): its layout is
                    // needed now to read and print the whole record.
                    let to = match *to {
                        Type::Record(r) if r.fields.is_empty() => match self.lookup_record(&r.name)
                        {
                            Some(full) => Type::Record(Box::new(full)),
                            None => Type::Record(r),
                        },
                        t => t,
                    };
                    mk(
                        H::Load {
                            ptr: Box::new(inner),
                            offset: 0,
                            space,
                            core: None,
                        },
                        to,
                        span,
                    )
                }
                t if t.is_int() => mk(
                    H::Load {
                        ptr: Box::new(inner),
                        offset: 0,
                        space: self.probe.cast_space,
                        core: None,
                    },
                    U64,
                    span,
                ),
                other => {
                    self.push(diagnostics::cannot_dereference(&other, span));
                    poisoned(span)
                }
            },
            // Handled above, before the operand is typed as a value.
            UnaryOp::AddrOf => poisoned(span),
        }
    }

    /// The type a cast names. In a cast, an array of bytes is an integer array even when
    /// its elements are `char` (`(char[8])12345` prints as numbers in bpftrace 0.27), and
    /// `T[]` takes its length from the operand: an integer's size (a literal's smallest
    /// signed type, as bpftrace types literals) or a string's, divided by `T`'s size.
    fn cast_target(&mut self, ty: &ast::TypeExpr, expr: &ast::Expr, inner: &Expr) -> Option<Type> {
        let sized = ast::TypeExpr {
            auto_array: false,
            ..ty.clone()
        };
        let target = match self.resolve_value_type(&sized)? {
            Type::Str { len } if !ty.array.is_empty() => Type::Array {
                elem: Box::new(Type::Int {
                    bits: 8,
                    signed: true,
                }),
                len,
            },
            t => t,
        };
        if !ty.auto_array {
            return Some(target);
        }
        let size = match (&inner.ty, self.const_int(expr)) {
            (t, Some(v)) if t.is_int() => {
                if i8::try_from(v).is_ok() {
                    1
                } else if i16::try_from(v).is_ok() {
                    2
                } else if i32::try_from(v).is_ok() {
                    4
                } else {
                    8
                }
            }
            (t, None) if t.is_int() => t.size(),
            (Type::Str { len }, _) => *len,
            // Only the same array type is accepted below; sized, the message names it.
            (t @ Type::Array { .. }, _) => t.size(),
            (from, _) => {
                let d = diagnostics::bad_cast(
                    from,
                    &Type::Array {
                        elem: Box::new(target),
                        len: 0,
                    },
                    ty.span,
                );
                self.push(d);
                return None;
            }
        };
        if !target.is_int() {
            let to = Type::Array {
                elem: Box::new(target),
                len: 0,
            };
            self.push(diagnostics::bad_cast(&inner.ty, &to, ty.span));
            return None;
        }
        let elem = target.size().max(1);
        if size % elem != 0 {
            self.push(diagnostics::array_cast_size(
                &target, &inner.ty, size, ty.span,
            ));
            return None;
        }
        Some(Type::Array {
            elem: Box::new(target),
            len: size / elem,
        })
    }

    /// `if ((uint64)index >= len) { warn }`: bpftrace 0.27's run-time warning for an index
    /// past the end of an array that is read through a pointer.
    fn bounds_check(&mut self, index: Expr, len: u32, span: Span) -> hir::Stmt {
        let event = self.event(Event::Message {
            level: Level::Warning,
            format: vec![Piece::Literal(
                "Array access out of bounds. This can lead to unexpected results.".into(),
            )],
            args: Vec::new(),
            start: span.start,
            end: span.end,
            expanded_from: self.expanded_from(span),
        });
        let unsigned = mk(H::Cast(Box::new(index)), U64, span);
        let past = mk(
            H::Binary {
                op: BinaryOp::Ge,
                lhs: Box::new(unsigned),
                rhs: Box::new(mk(H::Int(i64::from(len)), U64, span)),
            },
            Type::Bool,
            span,
        );
        let warn = hir::Stmt {
            kind: hir::StmtKind::Emit {
                event,
                args: Vec::new(),
            },
            span,
        };
        hir::Stmt {
            kind: hir::StmtKind::If {
                cond: past,
                then: vec![warn],
                otherwise: Vec::new(),
            },
            span,
        }
    }

    /// `&$v`: the address of the variable's slot in BPF memory, a kernel pointer to the
    /// variable's type (bpftrace 0.27). `*` reads it back like any kernel pointer.
    fn address_of(&mut self, expr: &ast::Expr, span: Span) -> Expr {
        match &expr.kind {
            A::Var(name) => match self.read_var(name, expr.span) {
                Some((id, ty)) => mk(
                    H::VarAddr(id),
                    Type::Pointer {
                        to: Box::new(ty),
                        space: AddrSpace::Kernel,
                    },
                    span,
                ),
                None => poisoned(span),
            },
            A::Map { .. } => {
                self.push(diagnostics::address_of_map(span));
                poisoned(span)
            }
            _ => {
                self.push(diagnostics::address_of(span));
                poisoned(span)
            }
        }
    }

    fn binary(&mut self, op: BinaryOp, lhs: &ast::Expr, rhs: &ast::Expr, span: Span) -> Expr {
        let l = self.expr(lhs);
        let r = self.expr(rhs);
        // `probe == "name"` compares the probe's name as a string, as bpftrace does.
        let (l, r) = match (&l.ty, &r.ty) {
            (Type::ProbeName, Type::Str { .. }) => (self.probe_as_str(l), r),
            (Type::Str { .. }, Type::ProbeName) => (l, self.probe_as_str(r)),
            _ => (l, r),
        };
        if l.ty.is_str() || r.ty.is_str() {
            if l.ty.is_str() && r.ty.is_str() && matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
                // Codegen compares up to the shorter buffer.
                let steps = l.ty.size().min(r.ty.size());
                if !self.string_steps_fit(
                    "a comparison",
                    u64::from(steps),
                    super::STRING_STEPS,
                    span,
                ) {
                    return poisoned(span);
                }
                return mk(
                    H::StrCmp {
                        equal: op == BinaryOp::Eq,
                        lhs: Box::new(l),
                        rhs: Box::new(r),
                    },
                    Type::Bool,
                    span,
                );
            }
            // Two literal strings also order (bytewise, as C's strcmp), folded here as
            // bpftrace 0.27 folds them; strings known only when the program runs do not.
            if let Some(ordered) = comptime::string_order(op, &l, &r) {
                return mk(H::Int(i64::from(ordered)), Type::Bool, span);
            }
            self.push(diagnostics::string_operands(op, &l.ty, &r.ty, span));
            return poisoned(span);
        }
        let aggregate = |t: &Type| {
            matches!(
                t,
                Type::Tuple(_) | Type::NamedTuple { .. } | Type::Array { .. } | Type::Buffer { .. }
            )
        };
        if aggregate(&l.ty) || aggregate(&r.ty) {
            return self.aggregate_comparison(op, l, r, span);
        }
        if matches!(op, BinaryOp::Eq | BinaryOp::Ne) && l.ty == r.ty && symbolic(&l.ty) {
            // `func == __builtin_func`: bpftrace 0.27 compares two values of one symbolic
            // type by what they hold (an address, a uid, a probe's index).
            return mk(
                H::Binary {
                    op,
                    lhs: Box::new(l),
                    rhs: Box::new(r),
                },
                Type::Bool,
                span,
            );
        }
        self.require_int(&l, "the left operand");
        self.require_int(&r, "the right operand");
        if matches!(l.ty, Type::Pointer { .. }) || matches!(r.ty, Type::Pointer { .. }) {
            return self.pointer_binary(op, l, r, span);
        }
        let ty = match op {
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::LogicalAnd
            | BinaryOp::LogicalOr => Type::Bool,
            BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Mod
            | BinaryOp::BitAnd
            | BinaryOp::BitOr
            | BinaryOp::BitXor
            | BinaryOp::Shl
            | BinaryOp::Shr => arith_type(op, &l.ty, &r.ty),
        };
        let by_zero = matches!(op, BinaryOp::Div | BinaryOp::Mod) && matches!(r.kind, H::Int(0));
        if by_zero && matches!(l.kind, H::Int(_)) {
            // Both known: bpftrace refuses to fold it rather than warn each time it runs.
            self.push(diagnostics::constant_division_by_zero(span));
            return poisoned(span);
        }
        let literals = written_literal(lhs) && written_literal(rhs);
        if let (true, Some(a), Some(b)) = (literals, literal_value(&l), literal_value(&r)) {
            if let Some(result) = fold(op, a, b) {
                return match result.and_then(|v| literal(v, span)) {
                    Some(e) => e,
                    None => {
                        self.push(diagnostics::literal_overflow(span));
                        poisoned(span)
                    }
                };
            }
        }
        if matches!(op, BinaryOp::Div | BinaryOp::Mod) && !matches!(r.kind, H::Int(n) if n != 0) {
            let warning = self.event(Event::ZeroDivisor {
                start: span.start,
                end: span.end,
            });
            let kind = H::CheckedDivide {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r),
                warning,
            };
            return mk(kind, ty, span);
        }
        mk(
            H::Binary {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r),
            },
            ty,
            span,
        )
    }

    /// `base[idx]` with an index known only at run time, for what lives in memory the probe
    /// reads: an array read through a pointer (`$a->x[$i]`) and a pointer (`$p[$i]`). The
    /// element's address is computed and read, as bpftrace 0.27 does; arrays held in the
    /// program's own memory take constant indices only.
    fn variable_index(&mut self, base: Expr, idx: Expr, span: Span) -> Expr {
        if !idx.ty.is_int() {
            self.push(diagnostics::index_not_constant(idx.span));
            return poisoned(span);
        }
        let idx_span = idx.span;
        // A negative index compares as a huge unsigned one: past the end, so it reads 0.
        if matches!(base.ty, Type::Str { .. }) {
            let kind = H::StrIndex {
                expr: Box::new(base),
                index: Box::new(idx),
            };
            let ty = Type::Int {
                bits: 8,
                signed: true,
            };
            return mk(kind, ty, span);
        }
        let element_at = |ptr: Expr, idx: Expr, size: u32| {
            let ty = ptr.ty.clone();
            Box::new(mk(
                H::Binary {
                    op: BinaryOp::Add,
                    lhs: Box::new(ptr),
                    rhs: Box::new(scaled(idx, size)),
                },
                ty,
                span,
            ))
        };
        match (base.kind, base.ty) {
            // A flexible array member (`x[0]`, `x[]`) has no length to check against.
            (
                H::Load {
                    ptr,
                    offset,
                    space,
                    core,
                },
                Type::Array { elem, len: 0 },
            ) => {
                let ptr = element_at(*ptr, idx, elem.size());
                let load = H::Load {
                    ptr,
                    offset,
                    space,
                    core,
                };
                mk(load, *elem, span)
            }
            (
                H::Load {
                    ptr,
                    offset,
                    space,
                    core,
                },
                Type::Array { elem, len },
            ) => {
                // The index is kept in a variable: it is checked against the length (an
                // index past it warns at run time, as in bpftrace 0.27) and then used.
                let idx_ty = idx.ty.clone();
                let id = self.unnamed_var(&idx_ty, idx_span);
                let tmp = mk(H::Var(id), idx_ty, idx_span);
                let check = self.bounds_check(tmp.clone(), len, span);
                let assign = hir::Stmt {
                    kind: hir::StmtKind::AssignVar {
                        var: id,
                        value: idx,
                    },
                    span,
                };
                let ptr = element_at(*ptr, tmp, elem.size());
                let load = H::Load {
                    ptr,
                    offset,
                    space,
                    core,
                };
                let value = mk(load, *elem.clone(), span);
                mk(
                    H::Block {
                        stmts: vec![assign, check],
                        value: Box::new(value),
                    },
                    *elem,
                    span,
                )
            }
            (kind, Type::Pointer { to, space }) => {
                let ty = Type::Pointer {
                    to: to.clone(),
                    space,
                };
                let ptr = element_at(mk(kind, ty, base.span), idx, to.size().max(1));
                mk(
                    H::Load {
                        ptr,
                        offset: 0,
                        space,
                        core: None,
                    },
                    *to,
                    span,
                )
            }
            _ => {
                self.push(diagnostics::index_not_constant(idx_span));
                poisoned(span)
            }
        }
    }

    /// `==` and `!=` of two tuples or two arrays, as bpftrace 0.27 compares them: element by
    /// element, strings by their text. Both sides are first converted to one type (the longer
    /// of two strings, integers of any width), so codegen compares like with like.
    fn aggregate_comparison(&mut self, op: BinaryOp, l: Expr, r: Expr, span: Span) -> Expr {
        let equality = matches!(op, BinaryOp::Eq | BinaryOp::Ne);
        // `probe` against a string compares its name's text (see `coerce`).
        let ty = super::widen(&l.ty, &r.ty, self.probe.name_len);
        if !equality || !super::compatible(&l.ty, &r.ty) || !comparable(&ty) {
            self.push(diagnostics::aggregate_operands(op, &l.ty, &r.ty, span));
            return poisoned(span);
        }
        let l = self.coerce(l, &ty);
        let r = self.coerce(r, &ty);
        mk(
            H::Binary {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r),
            },
            Type::Bool,
            span,
        )
    }

    /// A binary operator with a pointer operand, as in C and bpftrace 0.27: a pointer
    /// compares with pointers and integers, and moves by an integer number of pointees
    /// (`p + n`, `n + p`, `p - n` add `n * sizeof(*p)`, so `(int32 *)0x32 + 1` is `0x36`);
    /// every other operator, and `p - q` or `p + q`, is an error.
    fn pointer_binary(&mut self, op: BinaryOp, l: Expr, r: Expr, span: Span) -> Expr {
        let binary = |op, lhs: Expr, rhs: Expr, ty| {
            mk(
                H::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                ty,
                span,
            )
        };
        match op {
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::LogicalAnd
            | BinaryOp::LogicalOr => {
                if let (Type::Pointer { to: a, .. }, Type::Pointer { to: b, .. }) = (&l.ty, &r.ty) {
                    let comparison = !matches!(op, BinaryOp::LogicalAnd | BinaryOp::LogicalOr);
                    // Compared as C names: one record read from BTF to different depths
                    // (fields are resolved lazily) is still one C type.
                    if comparison && a.display() != b.display() {
                        let d = diagnostics::distinct_pointer_comparison(
                            (&l.ty, l.span),
                            (&r.ty, r.span),
                            span,
                        );
                        self.push(d);
                    }
                }
                binary(op, l, r, Type::Bool)
            }
            BinaryOp::Add | BinaryOp::Sub => match (&l.ty, &r.ty) {
                (Type::Pointer { to, .. }, other) if !matches!(other, Type::Pointer { .. }) => {
                    let ty = l.ty.clone();
                    let r = scaled(r, to.size());
                    binary(op, l, r, ty)
                }
                (other, Type::Pointer { to, .. })
                    if op == BinaryOp::Add && !matches!(other, Type::Pointer { .. }) =>
                {
                    let ty = r.ty.clone();
                    let l = scaled(l, to.size());
                    binary(op, l, r, ty)
                }
                _ => {
                    self.push(diagnostics::pointer_operands(op, &l.ty, &r.ty, span));
                    poisoned(span)
                }
            },
            BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Mod
            | BinaryOp::BitAnd
            | BinaryOp::BitOr
            | BinaryOp::BitXor
            | BinaryOp::Shl
            | BinaryOp::Shr => {
                self.push(diagnostics::pointer_operands(op, &l.ty, &r.ty, span));
                poisoned(span)
            }
        }
    }

    /// Whether `record`'s layout is the kernel's (from BTF), so that a field read through a
    /// kernel pointer can be relocated: not a script definition, nor a uprobe program's
    /// DWARF type, and not one the kernel defines twice, since libbpf finds the running
    /// kernel's record by name (such a one is read at the checked offset).
    fn kernel_record(&self, record: &stdlib::types::Record) -> bool {
        let uprobe = matches!(
            self.probe.provider,
            Some(ast::Provider::Uprobe | ast::Provider::Uretprobe)
        );
        !uprobe
            && !self.script_records.contains(&record.name)
            && !record.name.contains("(anonymous)")
            && (record.name.starts_with("struct ") || record.name.starts_with("union "))
            && !self.catalog.record_ambiguous(&record.name)
    }

    /// A member of a record value (folding into the load when the record was loaded through a
    /// pointer, so only the member is read from memory).
    fn member(&mut self, base: Expr, offset: u32, ty: Type, span: Span) -> Expr {
        match base.kind {
            H::Load {
                ptr,
                offset: o,
                space,
                core,
            } => mk(
                H::Load {
                    ptr,
                    offset: o + offset,
                    space,
                    core,
                },
                ty,
                span,
            ),
            H::ContextField {
                offset: o,
                data_loc: false,
                core,
            } => mk(
                H::ContextField {
                    offset: o + offset,
                    data_loc: false,
                    core,
                },
                ty,
                span,
            ),
            kind => mk(
                H::Member {
                    expr: Box::new(Expr {
                        kind,
                        ty: base.ty,
                        span: base.span,
                    }),
                    offset,
                },
                ty,
                span,
            ),
        }
    }

    fn field(&mut self, expr: &ast::Expr, field: &ast::Ident, span: Span) -> Expr {
        if matches!(&expr.kind, A::Ident(n) if n == "args") {
            if !self.builtin_allowed(Builtin::Args, expr.span) {
                return poisoned(span);
            }
            if let (true, None, Some(p)) = (
                self.probe.bpf_program,
                &self.probe.signature,
                self.probe.provider,
            ) {
                self.push(diagnostics::bpf_program_args(p, expr.span));
                return poisoned(span);
            }
            if let Some((params, _)) = self.probe.signature.clone() {
                return self.function_arg(&params, field, span);
            }
            if self.probe.provider == Some(ast::Provider::Uprobe) {
                return self.uprobe_arg(field, span);
            }
            if let Some(
                p @ (ast::Provider::Kfunc | ast::Provider::Kretfunc | ast::Provider::Rawtracepoint),
            ) = self.probe.provider
            {
                let d = diagnostics::args_without_btf(p, Some(&field.name), field.span);
                self.push(d);
                return poisoned(span);
            }
            return self.tracepoint_arg(field, span);
        }
        let base = self.expr(expr);
        self.field_of(base, field, span)
    }

    /// `base.field` or `base->field` of an expression already checked.
    pub(super) fn field_of(&mut self, base: Expr, field: &ast::Ident, span: Span) -> Expr {
        if let Type::NamedTuple { names, elems } = base.ty.clone() {
            return match names
                .iter()
                .zip(elems)
                .enumerate()
                .find(|(_, (n, _))| **n == field.name)
            {
                Some((i, (_, t))) => mk(
                    H::TupleIndex {
                        expr: Box::new(base),
                        index: i as u32,
                    },
                    t,
                    span,
                ),
                None => {
                    let d = diagnostics::no_such_record_field(
                        &base.ty,
                        &field.name,
                        &names,
                        field.span,
                    );
                    self.push(d);
                    poisoned(span)
                }
            };
        }
        let (record, via_pointer) = match &base.ty {
            Type::Pointer { to, space } => match to.as_ref() {
                Type::Record(r) => (r.clone(), Some(*space)),
                other => {
                    self.push(diagnostics::field_of_non_struct_pointer(
                        &field.name,
                        other,
                        span,
                    ));
                    return poisoned(span);
                }
            },
            Type::Record(r) => (r.clone(), None),
            other => {
                self.push(diagnostics::field_of_non_struct(&field.name, other, span));
                return poisoned(span);
            }
        };
        let record = if record.fields.is_empty() {
            match self.lookup_record(&record.name) {
                Some(r) => Box::new(r),
                None => {
                    self.push(diagnostics::record_without_layout(&record.name, span));
                    return poisoned(span);
                }
            }
        } else {
            record
        };
        let Some((index, f)) = record
            .fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.name == field.name)
            .map(|(i, f)| (i as u32, f.clone()))
        else {
            let names: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
            let d = diagnostics::no_such_field(&record.name, &field.name, &names, field.span);
            self.push(d);
            return poisoned(span);
        };
        // A floating-point member prints within its record, but rbt has no value of it.
        if let Type::Float { .. } = f.ty {
            self.push(diagnostics::float_member(&f.ty, span));
            return poisoned(span);
        }
        // A bit-field is read as the smallest integer that covers its bits, then shifted
        // and masked; like bpftrace, its value is not sign-extended.
        let read_ty = match f.bitfield {
            Some((bit, width)) => {
                let bytes = (u32::from(bit) + u32::from(width))
                    .div_ceil(8)
                    .next_power_of_two();
                Type::Int {
                    bits: (bytes.min(8) * 8) as u8,
                    signed: false,
                }
            }
            None => match (&f.ty, via_pointer) {
                // A pointer read from user memory points into user memory: script structs
                // are laid out before any probe, when their pointers' space is unknown.
                (Type::Pointer { to, .. }, Some(AddrSpace::User)) => Type::Pointer {
                    to: to.clone(),
                    space: AddrSpace::User,
                },
                _ => f.ty.clone(),
            },
        };
        // LLVM relocates a bit-field as the aligned 8-byte word that holds it: one that
        // straddles two words (only in packed records) keeps its offset. So does a union's
        // member past its start or a bit-field in it (members of an anonymous struct inside
        // the union): LLVM places every union member at 0 (and a bit-field by its byte), where
        // libbpf reads the member's offset from the description.
        let in_one_word = f.bitfield.is_none_or(|(bit, width)| {
            (f.offset * 8 + u32::from(bit)) % 64 + u32::from(width) <= 64
        });
        let union_start =
            !record.name.starts_with("union ") || (f.offset == 0 && f.bitfield.is_none());
        let relocatable = in_one_word && union_start && self.kernel_record(&record);
        let read = match via_pointer {
            Some(space) => {
                // libbpf looks a relocation's first record up by name: an anonymous one
                // (`atomic_long_t`, which BTF calls `struct (anon)`) cannot start one, though
                // a path may pass through it (`mm->mm_count.counter`).
                let named = !record.name.ends_with("(anon)");
                let core = (relocatable && named && space == AddrSpace::Kernel).then(|| {
                    Box::new(hir::CoreAccess {
                        root: (*record).clone(),
                        fields: vec![index],
                    })
                });
                let load = H::Load {
                    ptr: Box::new(base),
                    offset: f.offset,
                    space,
                    core,
                };
                mk(load, pointers_into(read_ty, space), span)
            }
            None => {
                let mut read = self.member(base, f.offset, read_ty, span);
                if let H::Load {
                    core: core @ Some(_),
                    offset,
                    ..
                } = &mut read.kind
                {
                    extend_core(core, &record, *offset, f.offset, index, relocatable);
                }
                read
            }
        };
        match f.bitfield {
            // A relocated bit-field's load extracts its bits where the running kernel has
            // them (codegen asks libbpf for their byte, size and shifts).
            Some(_) if relocated_bitfield(&read) => Expr { ty: U64, ..read },
            Some((bit, width)) => bitfield_value(read, bit, width, span),
            None => read,
        }
    }

    /// `args.name` of a kfunc/kretfunc probe: the context is an array of u64 arguments; the
    /// whole slot is read and converted to the parameter's BTF type.
    fn function_arg(&mut self, params: &[(String, Type)], field: &ast::Ident, span: Span) -> Expr {
        let Some(index) = params.iter().position(|(n, _)| *n == field.name) else {
            let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
            self.push(diagnostics::no_such_parameter(
                &field.name,
                &names,
                field.span,
            ));
            return poisoned(span);
        };
        self.context_slot(index as u32, params[index].1.clone(), span)
    }

    /// The DWARF parameters of this uprobe's function; `what` names the use in the error
    /// (`x` of `args.x`, or `args`).
    fn uprobe_params(&mut self, what: &str, span: Span) -> Option<Vec<UserParam>> {
        let functions = self.probe.uprobe_functions.clone();
        let Some((path, function)) = functions.first() else {
            let reason = "the probe has no function".to_string();
            self.push(diagnostics::uprobe_args_unknown(what, reason, span));
            return None;
        };
        let params = match self.catalog.user_function_params(path, function) {
            Ok(p) => p,
            Err(e) => {
                self.push(diagnostics::uprobe_args_unknown(what, e, span));
                return None;
            }
        };
        // A wildcard's functions share the probe's body, so they must agree on `args`.
        for (other_path, other) in &functions[1..] {
            let same = self
                .catalog
                .user_function_params(other_path, other)
                .is_ok_and(|p| p == params);
            if !same {
                self.push(diagnostics::uprobe_args_differ(function, other, span));
                return None;
            }
        }
        Some(params)
    }

    /// A uprobe parameter, read from the argument register that holds it at the function's
    /// entry, as its DWARF type.
    fn uprobe_register(&mut self, param: &UserParam, span: Span) -> Expr {
        let scalar = param.ty.is_int() || matches!(param.ty, Type::Pointer { .. });
        let Some(register) = param.register.filter(|_| scalar) else {
            let d = diagnostics::uprobe_arg_not_in_register(&param.name, span);
            self.push(d);
            return poisoned(span);
        };
        let raw = mk(H::Builtin(Builtin::Arg(register)), U64, span);
        if param.ty.is_int() {
            mk(H::Cast(Box::new(raw)), param.ty.clone(), span)
        } else {
            Expr {
                ty: param.ty.clone(),
                ..raw
            }
        }
    }

    /// `args.name` of a uprobe.
    fn uprobe_arg(&mut self, field: &ast::Ident, span: Span) -> Expr {
        let Some(params) = self.uprobe_params(&field.name, field.span) else {
            return poisoned(span);
        };
        let Some(param) = params.iter().find(|p| p.name == field.name) else {
            let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            self.push(diagnostics::no_such_parameter(
                &field.name,
                &names,
                field.span,
            ));
            return poisoned(span);
        };
        self.uprobe_register(param, field.span)
    }

    /// `args` of a uprobe as a value: a record of every parameter, built like a tuple
    /// (whose layout is C's), so it prints as `{ .n = 0x…, .c = 120 }` as in bpftrace.
    pub(super) fn uprobe_args_value(&mut self, span: Span) -> Expr {
        let Some(params) = self.uprobe_params("args", span) else {
            return poisoned(span);
        };
        let items: Vec<Expr> = params
            .iter()
            .map(|p| self.uprobe_register(p, span))
            .collect();
        let in_registers = params.iter().all(|p| {
            p.register.is_some() && (p.ty.is_int() || matches!(p.ty, Type::Pointer { .. }))
        });
        if !in_registers {
            return poisoned(span);
        }
        args_record(params.into_iter().map(|p| p.name).collect(), items, span)
    }

    /// `args` as a value where the kernel's BTF types the arguments (fentry, fexit and a
    /// raw tracepoint): a record of every argument as `args.name` reads it, as bpftrace
    /// 0.27 builds it (`{ .path = 0x…, .file = 0x… }` for `fentry:vfs_open`).
    pub(super) fn signature_args_value(&mut self, params: Vec<(String, Type)>, span: Span) -> Expr {
        let items = params
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| self.context_slot(i as u32, ty.clone(), span))
            .collect();
        args_record(params.into_iter().map(|(n, _)| n).collect(), items, span)
    }

    /// Slot `index` of a u64-array context (kfunc arguments, then the return value).
    pub(super) fn context_slot(&mut self, index: u32, ty: Type, span: Span) -> Expr {
        let raw = mk(
            H::ContextField {
                offset: 8 * index,
                data_loc: false,
                core: None,
            },
            U64,
            span,
        );
        match &ty {
            t if t.is_int() => mk(H::Cast(Box::new(raw)), ty, span),
            Type::Pointer { .. } => Expr { ty, ..raw },
            // Records passed by value are not supported by fentry; read them as integers.
            _ => raw,
        }
    }

    fn tracepoint_arg(&mut self, field: &ast::Ident, span: Span) -> Expr {
        let Some(f) = self
            .probe
            .tracepoint_fields
            .iter()
            .find(|f| f.name == field.name)
            .cloned()
        else {
            let names: Vec<String> = self
                .probe
                .tracepoint_fields
                .iter()
                .map(|f| f.name.clone())
                .collect();
            let d = diagnostics::no_such_tracepoint_argument(
                &self.probe.tracepoint_name,
                &field.name,
                &names,
                field.span,
            );
            self.push(d);
            return poisoned(span);
        };
        self.tracepoint_field(&f, span)
    }

    /// `args` of a tracepoint as a value: a record of the fields its format lists after
    /// the common header (those `args.name` reads), each read as `args.name` reads it, so
    /// `$a = args; $a.flags`, `print(args)` and `@last = args` work (bpftrace 0.27's
    /// struct also has the header's `common_*` fields).
    pub(super) fn tracepoint_args_value(&mut self, span: Span) -> Expr {
        let fields = self.probe.tracepoint_fields.clone();
        let items = fields
            .iter()
            .map(|f| self.tracepoint_field(f, span))
            .collect();
        args_record(fields.into_iter().map(|f| f.name).collect(), items, span)
    }

    /// Field `f` of the tracepoint's record, as its format types it (a `__data_loc` field
    /// as the string it locates, an enum field as the kernel's enum).
    fn tracepoint_field(&mut self, f: &stdlib::catalog::TracepointField, span: Span) -> Expr {
        // The common header (`common_pid`, …) exists only in a perf tracepoint's record.
        if f.offset < SYSCALL_RECORD_HEADER {
            self.probe.perf_tracepoint = true;
        }
        let core = self.tracepoint_core(f);
        if f.data_loc {
            return mk(
                H::ContextField {
                    offset: f.offset,
                    data_loc: true,
                    core,
                },
                Type::Str {
                    len: self.opts.config.strlen(),
                },
                span,
            );
        }
        let mut ty = parse_c_type(&f.c_type, f.size, f.signed, self.probe.user);
        // A pointer the format file names by a typedef (`fl_owner_t owner`, `initcall_t
        // func`) is a pointer, as the kernel's BTF has it (and prints as one).
        let kind = self.probe.tracepoint_record.as_ref().and_then(|r| {
            let index = self
                .probe
                .tracepoint_fields
                .iter()
                .position(|x| x.name == f.name)?;
            r.kinds.get(index).copied()
        });
        if kind == Some(MemberKind::Pointer) && ty.is_int() {
            // A `void *`, as a `(void *)` cast makes it.
            ty = Type::byte_pointer(self.default_space());
        }
        // A field of a kernel enum type prints by name, as in bpftrace 0.27.
        if let Some(name) = f.c_type.trim().strip_prefix("enum ") {
            if let Some(e) = self.catalog.enum_type(name.trim()) {
                if e.size() == f.size {
                    ty = e;
                }
            }
        }
        mk(
            H::ContextField {
                offset: f.offset,
                data_loc: false,
                core,
            },
            ty,
            span,
        )
    }

    /// The relocation of tracepoint field `f`, when the kernel's BTF has the tracepoint's
    /// record: the record as BTF names it, its fields as the format file lays them out
    /// (a `__data_loc` field is the u32 `__data_loc_<name>`).
    fn tracepoint_core(
        &self,
        f: &stdlib::catalog::TracepointField,
    ) -> Option<Box<hir::CoreAccess>> {
        let record = self.probe.tracepoint_record.as_ref()?;
        let fields = &self.probe.tracepoint_fields;
        let index = fields.iter().position(|x| x.name == f.name)?;
        let size = fields.iter().map(|x| x.offset + x.size).max().unwrap_or(0);
        let fields = fields
            .iter()
            .zip(&record.kinds)
            .map(|(x, kind)| stdlib::types::Field {
                name: if x.data_loc {
                    format!("__data_loc_{}", x.name)
                } else {
                    x.name.clone()
                },
                offset: x.offset,
                // Described as BTF has the field (see `TracepointRecord::kinds`).
                ty: match kind {
                    _ if x.data_loc => Type::Int {
                        bits: 32,
                        signed: false,
                    },
                    MemberKind::Pointer => Type::byte_pointer(AddrSpace::Kernel),
                    MemberKind::Enum | MemberKind::Other => {
                        parse_c_type(&x.c_type, x.size, x.signed, false)
                    }
                },
                bitfield: None,
                data_loc: false,
                btf_enum: *kind == MemberKind::Enum,
            })
            .collect();
        Some(Box::new(hir::CoreAccess {
            root: stdlib::types::Record {
                name: format!("struct {}", record.name),
                size,
                fields,
            },
            fields: vec![index as u32],
        }))
    }
}

/// Extends a relocated load's field path by the field `index` (at `field_offset` in the last
/// field's record) that was just folded into it, its offset now `offset`. The path stays as it
/// was when the load had already moved past its last field by a constant (an array index),
/// when the field cannot be relocated (a bit-field), or when the path's last field does not
/// hold `record`: the rest of the offset is then a constant after the relocated field.
fn extend_core(
    core: &mut Option<Box<hir::CoreAccess>>,
    record: &stdlib::types::Record,
    offset: u32,
    field_offset: u32,
    index: u32,
    relocatable: bool,
) {
    let Some(c) = core else {
        return;
    };
    if !relocatable || c.local_offset() != Some(offset - field_offset) {
        return;
    }
    c.push(record, index);
}

/// Whether `read` is a relocated load whose path ends at a bit-field.
fn relocated_bitfield(read: &Expr) -> bool {
    matches!(&read.kind, H::Load { core: Some(c), .. } if c.ends_at_bitfield())
}

/// `(read >> bit) & ((1 << width) - 1)`, as a u64.
fn bitfield_value(read: Expr, bit: u8, width: u8, span: Span) -> Expr {
    let widened = mk(H::Cast(Box::new(read)), U64, span);
    let shifted = mk(
        H::Binary {
            op: BinaryOp::Shr,
            lhs: Box::new(widened),
            rhs: Box::new(mk(H::Int(i64::from(bit)), U64, span)),
        },
        U64,
        span,
    );
    let mask = if width >= 64 {
        -1i64
    } else {
        ((1u64 << width) - 1) as i64
    };
    mk(
        H::Binary {
            op: BinaryOp::BitAnd,
            lhs: Box::new(shifted),
            rhs: Box::new(mk(H::Int(mask), U64, span)),
        },
        U64,
        span,
    )
}

/// The type a value takes as a map key: integers widen to 64 bits (keeping their sign), but strings keep the
/// length of their first use (`comm` keys stay 16 bytes, as in bpftrace), which keeps keys
/// small and lookups cheap; later keys are cut or padded to it.
fn key_type(t: &Type) -> Type {
    match t {
        Type::Int { signed: true, .. } => I64,
        Type::Int { signed: false, .. } => U64,
        t @ (Type::Tuple(_) | Type::NamedTuple { .. }) => t.map_elems(key_type),
        other => other.clone(),
    }
}

/// Whether `t` is an integer that prints as a symbol or a name (`func`, `ksym()`,
/// `username`, `probe`), which compares with `==` and `!=` against its own type only.
fn symbolic(t: &Type) -> bool {
    match t {
        Type::Ksym | Type::Usym | Type::Username | Type::ProbeName | Type::CgroupPath { .. } => {
            true
        }
        Type::None
        | Type::Int { .. }
        | Type::Bool
        | Type::Str { .. }
        | Type::Buffer { .. }
        | Type::Tuple(_)
        | Type::NamedTuple { .. }
        | Type::Pointer { .. }
        | Type::Float { .. }
        | Type::Array { .. }
        | Type::Record(_)
        | Type::Enum { .. }
        | Type::Stack { .. }
        | Type::Inet
        | Type::MacAddr
        | Type::Strerror
        | Type::SyscallName
        | Type::SignalName
        | Type::Timestamp
        | Type::Agg(_) => false,
    }
}

/// `typeinfo()`'s record of `ty` (bpftrace 0.27): `(btf_id, base_type, full_type)`, a
/// constant. `btf_id` is 0: bpftrace 0.27.1 gives 0 for every type we could ask it about
/// (integers, strings, records, kernel structs and pointers to them), and rbt's types keep
/// no BTF id to give instead.
fn typeinfo(ty: &Type, span: Span) -> Expr {
    let (base, full) = ty.typeinfo_names();
    record(
        vec![
            ("btf_id".into(), mk(H::Int(0), U64, span)),
            ("base_type".into(), text(base.as_bytes(), span)),
            ("full_type".into(), text(full.as_bytes(), span)),
        ],
        span,
    )
}

/// Whether values of type `t` compare with `==` element by element: integers, pointers,
/// strings, and tuples and arrays of them.
fn comparable(t: &Type) -> bool {
    match t {
        Type::Int { .. } | Type::Bool | Type::Enum { .. } | Type::Pointer { .. } => true,
        Type::Str { .. } | Type::Buffer { .. } => true,
        Type::Tuple(items) | Type::NamedTuple { elems: items, .. } => items.iter().all(comparable),
        Type::Array { elem, .. } => comparable(elem),
        Type::None
        | Type::Float { .. }
        | Type::Record(_)
        | Type::Stack { .. }
        | Type::Inet
        | Type::MacAddr
        | Type::Ksym
        | Type::Usym
        | Type::Username
        | Type::ProbeName
        | Type::CgroupPath { .. }
        | Type::Strerror
        | Type::SyscallName
        | Type::SignalName
        | Type::Timestamp
        | Type::Agg(_) => false,
    }
}

/// The type of a member read from `space`: a pointer stored in user memory points into user
/// memory too (`struct C { int *z[4]; }` defined in a script and read through a uprobe's
/// `(struct C *)arg0`), as bpftrace does; a kernel record keeps its `__user` pointers.
fn pointers_into(ty: Type, space: AddrSpace) -> Type {
    match (ty, space) {
        (Type::Pointer { to, .. }, AddrSpace::User) => Type::Pointer {
            to,
            space: AddrSpace::User,
        },
        (Type::Array { elem, len }, AddrSpace::User) => Type::Array {
            elem: Box::new(pointers_into(*elem, space)),
            len,
        },
        (ty, _) => ty,
    }
}

/// An integer offset `n` counted in pointees of `size` bytes, as the byte offset `n * size`
/// (a `void *` or a one-byte pointee moves by bytes).
fn scaled(n: Expr, size: u32) -> Expr {
    if size <= 1 {
        return n;
    }
    let span = n.span;
    let ty = arith_type(BinaryOp::Mul, &n.ty, &I64);
    let size = mk(H::Int(i64::from(size)), I64, span);
    mk(
        H::Binary {
            op: BinaryOp::Mul,
            lhs: Box::new(n),
            rhs: Box::new(size),
        },
        ty,
        span,
    )
}

/// The type of `a op b`: 64 bits, unsigned only when both operands are, and always signed
/// for a difference (0.27: `$x - 10` of an unsigned `$x` may be negative).
fn arith_type(op: BinaryOp, a: &Type, b: &Type) -> Type {
    if op == BinaryOp::Sub || a.is_signed() || b.is_signed() {
        I64
    } else {
        U64
    }
}

/// The type of a sum, minimum, maximum or average read from a map: 64 bits of the
/// aggregated values' signedness.
pub(super) fn word_type(signed: bool) -> Type {
    if signed {
        I64
    } else {
        U64
    }
}

/// Whether `e` is written as an integer literal or literals combined (`-1`, `1 << 63`, a
/// positional parameter), which bpftrace folds into one: a map not yet typed, which reads
/// as a stand-in 0, is not.
pub(super) fn written_literal(e: &ast::Expr) -> bool {
    match &e.kind {
        A::Int(_) | A::Positional(_) => true,
        A::Unary {
            op: UnaryOp::Neg,
            expr,
        } => written_literal(expr),
        A::Binary { lhs, rhs, .. } => written_literal(lhs) && written_literal(rhs),
        _ => false,
    }
}

/// The number an integer literal (or a folded expression of literals) stands for: its bits
/// read as its type's signedness. `None` for anything else.
fn literal_value(e: &Expr) -> Option<i128> {
    match (&e.kind, &e.ty) {
        (H::Int(n), Type::Int { signed: true, .. }) => Some(i128::from(*n)),
        (H::Int(n), Type::Int { signed: false, .. }) => Some(i128::from(*n as u64)),
        _ => None,
    }
}

/// The literal of value `v` typed as a literal of that value is (see [`literal_type`] and
/// [`negative_literal_type`]), or `None` when no 64-bit integer holds `v`.
fn literal(v: i128, span: Span) -> Option<Expr> {
    if let Ok(u) = u64::try_from(v) {
        return Some(mk(H::Int(u as i64), literal_type(u), span));
    }
    let i = i64::try_from(v).ok()?;
    Some(mk(H::Int(i), negative_literal_type(i), span))
}

/// `a op b` of two literals, folded as bpftrace 0.27 folds it: `None` for an operator it
/// does not fold here (comparisons and logic, which LLVM folds alike), else the exact
/// result or `Some(None)` when bpftrace refuses it. Both non-negative, the result may be
/// anything from -2^63 to 2^64-1; with a negative operand both are taken as signed 64-bit
/// values (an operand above 2^63-1 cannot be) and so is the result, except for a product of
/// two negatives, which may reach 2^64-1. Shifts take 0 to 63 bits and wrap; a division's
/// divisor is not 0 (that is reported before).
fn fold(op: BinaryOp, a: i128, b: i128) -> Option<Option<i128>> {
    let signed = a < 0 || b < 0;
    let wide = i128::from(i64::MAX);
    let (lo, hi) = match (signed, op) {
        (true, BinaryOp::Mul) if a < 0 && b < 0 => (0, i128::from(u64::MAX)),
        (true, _) => (i128::from(i64::MIN), wide),
        (false, _) => (i128::from(i64::MIN), i128::from(u64::MAX)),
    };
    let shift = || u32::try_from(b).ok().filter(|s| *s < 64);
    let v = match op {
        BinaryOp::Add => Some(a + b),
        BinaryOp::Sub => Some(a - b),
        BinaryOp::Mul => Some(a * b),
        BinaryOp::Div => a.checked_div(b),
        BinaryOp::Mod => a.checked_rem(b),
        BinaryOp::BitAnd => Some(a & b),
        BinaryOp::BitOr => Some(a | b),
        BinaryOp::BitXor => Some(a ^ b),
        BinaryOp::Shl if signed => shift().map(|s| i128::from((a as i64).wrapping_shl(s))),
        BinaryOp::Shl => shift().map(|s| i128::from((a as u64).wrapping_shl(s))),
        BinaryOp::Shr => shift().map(|s| a >> s),
        BinaryOp::Eq
        | BinaryOp::Ne
        | BinaryOp::Lt
        | BinaryOp::Le
        | BinaryOp::Gt
        | BinaryOp::Ge
        | BinaryOp::LogicalAnd
        | BinaryOp::LogicalOr => return None,
    };
    let operands_fit = !signed || (a <= wide && b <= wide);
    Some(v.filter(|v| operands_fit && (lo..=hi).contains(v)))
}

/// The value a per-CPU aggregation reads as in a probe (`@m[k]`, a `for` over its map,
/// `find()`): its CPUs' slots combined (counts and sums added, the least or greatest of min
/// and max, avg's average), and for stats the record bpftrace 0.27 prints for it,
/// `{ .count = 2, .average = 6, .total = 12 }`. None for histograms and time series.
pub(super) fn aggregation_value(agg: Aggregation) -> Option<Type> {
    match agg {
        Aggregation::Count => Some(I64),
        Aggregation::Sum { signed }
        | Aggregation::Min { signed }
        | Aggregation::Max { signed }
        | Aggregation::Avg { signed } => Some(word_type(signed)),
        Aggregation::Stats { signed } => Some(Type::NamedTuple {
            names: ["count", "average", "total"].map(String::from).to_vec(),
            elems: vec![I64, word_type(signed), word_type(signed)],
        }),
        Aggregation::Hist { .. } | Aggregation::Lhist { .. } | Aggregation::Tseries { .. } => None,
    }
}

/// The type of integer literal `v`: the narrowest unsigned integer that holds it.
pub(super) fn literal_type(v: u64) -> Type {
    let bits = match v {
        0..=0xff => 8,
        0x100..=0xffff => 16,
        0x1_0000..=0xffff_ffff => 32,
        _ => 64,
    };
    Type::Int {
        bits,
        signed: false,
    }
}

/// The type of the negated literal `v`: the narrowest signed integer that holds it.
fn negative_literal_type(v: i64) -> Type {
    let bits = if i8::try_from(v).is_ok() {
        8
    } else if i16::try_from(v).is_ok() {
        16
    } else if i32::try_from(v).is_ok() {
        32
    } else {
        64
    };
    Type::Int { bits, signed: true }
}

/// `args` as one value: the argument values `items`, named `names`, as a record laid out
/// like a tuple (C's layout), so it prints, compares and keys maps as a struct does.
fn args_record(names: Vec<String>, items: Vec<Expr>, span: Span) -> Expr {
    let types: Vec<Type> = items.iter().map(|e| e.ty.clone()).collect();
    let (offsets, size) = stdlib::types::tuple_layout(&types);
    let fields = names
        .into_iter()
        .zip(types.into_iter().zip(offsets))
        .map(|(name, (ty, offset))| stdlib::types::Field {
            name,
            offset,
            ty,
            bitfield: None,
            data_loc: false,
            btf_enum: false,
        })
        .collect();
    let record = stdlib::types::Record {
        name: "args".to_string(),
        size,
        fields,
    };
    mk(H::Tuple(items), Type::Record(Box::new(record)), span)
}

//! Typing expressions: builtins per probe type, maps and variables, operators, casts, field
//! access through BTF and tracepoint formats, and the builtin functions that produce values.

use super::ctypes::parse_c_type;
use super::Checker;
use crate::ast::{self, BinaryOp, ExprKind as A, Provider, Span, UnaryOp};
use crate::diag::Diagnostic;
use crate::hir::{self, Context, Expr, ExprKind as H, Unary};
use stdlib::builtins::{Builtin, Function};
use stdlib::types::{AddrSpace, Aggregation, StackMode, Type, I64, U64};

fn mk(kind: H, ty: Type, span: Span) -> Expr {
    Expr { kind, ty, span }
}

/// An expression that stands in for one that failed to check, so analysis can continue.
fn poisoned(span: Span) -> Expr {
    mk(H::Int(0), I64, span)
}

impl Checker<'_> {
    pub(super) fn require_int(&mut self, e: &Expr, what: &str) {
        if !(e.ty.is_int() || matches!(e.ty, Type::Pointer { .. })) {
            let msg = format!("{what} must be an integer, but this is {}", e.ty.display());
            self.error(msg, e.span);
        }
    }

    /// Evaluates a constant integer expression (array sizes, enum values, unroll counts).
    pub(super) fn const_int(&mut self, e: &ast::Expr) -> Option<i64> {
        match &e.kind {
            A::Int(i) => Some(*i as i64),
            A::Unary {
                op: UnaryOp::Neg,
                expr,
            } => self.const_int(expr).map(|v| -v),
            A::Positional(n) => self
                .opts
                .params
                .get(*n as usize - 1)
                .and_then(|p| p.parse().ok()),
            A::Ident(name) => self.defines.get(name).and_then(|v| parse_define_int(v)),
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
            (Type::Tuple(items), Type::Tuple(want)) if items.len() == want.len() => {
                let span = e.span;
                match e.kind {
                    H::Tuple(elems) => {
                        let elems = elems
                            .into_iter()
                            .zip(want)
                            .map(|(x, t)| self.coerce(x, t))
                            .collect();
                        mk(H::Tuple(elems), ty.clone(), span)
                    }
                    kind => mk(kind, e.ty, span),
                }
            }
            _ => e,
        }
    }

    /// The type a value takes when stored in a map or variable: strings widen to `strlen`.
    pub(super) fn storage_type(&self, t: &Type) -> Type {
        match t {
            Type::Str { len } => Type::Str {
                len: (*len).max(self.opts.strlen),
            },
            Type::Int { .. } | Type::Bool | Type::Enum { .. } => I64,
            Type::Tuple(items) => Type::Tuple(items.iter().map(|i| self.storage_type(i)).collect()),
            other => other.clone(),
        }
    }

    /// The type a variable takes from its first value: strings widen to `strlen` (so later,
    /// longer strings fit), integers keep their width and sign, as bpftrace types them.
    pub(super) fn var_type(&self, t: &Type) -> Type {
        match t {
            Type::Str { len } => Type::Str {
                len: (*len).max(self.opts.strlen),
            },
            Type::Tuple(items) => Type::Tuple(items.iter().map(|i| self.var_type(i)).collect()),
            other => other.clone(),
        }
    }

    pub(super) fn expr(&mut self, e: &ast::Expr) -> Expr {
        let span = e.span;
        match &e.kind {
            A::Int(i) => {
                let ty = if *i > i64::MAX as u64 { U64 } else { I64 };
                mk(H::Int(*i as i64), ty, span)
            }
            A::Str(bytes) => {
                // As in bpftrace 0.27: a literal and its NUL must fit in 1024 bytes.
                if bytes.len() >= 1024 {
                    self.error("string is too long (over 1024 bytes)", span);
                }
                mk(
                    H::Str(bytes.clone()),
                    Type::Str {
                        len: bytes.len() as u32 + 1,
                    },
                    span,
                )
            }
            A::Bool(b) => mk(H::Int(i64::from(*b)), Type::Bool, span),
            A::Var(name) => match self.var_ids.get(name) {
                Some(&id) => {
                    self.capture(id);
                    mk(H::Var(id), self.vars[id as usize].clone(), span)
                }
                None => {
                    let names: Vec<String> = self.var_ids.keys().cloned().collect();
                    let d = Diagnostic::error(
                        format!("variable {name} is used before it is assigned"),
                        span,
                    )
                    .with_label("undefined variable")
                    .with_suggestion(name, names.iter().map(String::as_str));
                    self.diags.push(d);
                    poisoned(span)
                }
            },
            A::Map { name, keys } => self.map_read(name, keys, span),
            A::Positional(n) => match self.opts.params.get(*n as usize - 1) {
                Some(p) => match parse_define_int(p) {
                    Some(v) => mk(H::Int(v), I64, span),
                    None => mk(
                        H::Str(p.as_bytes().to_vec()),
                        Type::Str {
                            len: p.len() as u32 + 1,
                        },
                        span,
                    ),
                },
                // bpftrace treats a missing positional parameter as 0 (or "" inside str()).
                None => mk(H::Int(0), I64, span),
            },
            A::PositionalCount => mk(H::Int(self.opts.params.len() as i64), I64, span),
            A::Ident(name) => self.ident(name, span),
            A::Call { func, args } => self.call_expr(func, args, span),
            A::Unary { op, expr } => self.unary(*op, expr, span),
            A::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, span),
            A::Ternary {
                cond,
                then,
                otherwise,
            } => {
                let c = self.expr(cond);
                self.require_int(&c, "a condition");
                let t = self.expr(then);
                let o = self.expr(otherwise);
                let ty = match (&t.ty, &o.ty) {
                    (Type::Str { len: a }, Type::Str { len: b }) => Type::Str { len: (*a).max(*b) },
                    (a, b) if a.is_int() && b.is_int() => I64,
                    (a, b) if a == b => a.clone(),
                    (a, b) => {
                        let msg = format!(
                            "the branches of `?:` have different types: {} and {}",
                            a.display(),
                            b.display()
                        );
                        self.error(msg, span);
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
                let Some(target) = self.resolve_type(ty) else {
                    return poisoned(span);
                };
                match (&inner.ty, &target) {
                    (from, Type::Pointer { .. })
                        if from.is_int() || matches!(from, Type::Pointer { .. }) =>
                    {
                        // Casting to a pointer retypes the address; no code is needed.
                        Expr {
                            ty: target,
                            ..inner
                        }
                    }
                    (from, to)
                        if (from.is_int() || matches!(from, Type::Pointer { .. }))
                            && to.is_int() =>
                    {
                        mk(H::Cast(Box::new(inner)), target, span)
                    }
                    (from, Type::Array { .. }) if from.is_int() && from.size() == target.size() => {
                        mk(H::Cast(Box::new(inner)), target, span)
                    }
                    (Type::Array { .. }, to) if to.is_int() && inner.ty.size() == to.size() => {
                        mk(H::Cast(Box::new(inner)), target, span)
                    }
                    (from, to) => {
                        let msg = format!("cannot cast {} to {}", from.display(), to.display());
                        self.error(msg, span);
                        poisoned(span)
                    }
                }
            }
            A::Field { expr, field, .. } => self.field(expr, field, span),
            A::Index { expr, index } => {
                let base = self.expr(expr);
                let idx = self.expr(index);
                let Some(i) = (match idx.kind {
                    H::Int(i) => Some(i),
                    _ => None,
                }) else {
                    self.error("array indices must be constant integers", idx.span);
                    return poisoned(span);
                };
                match base.ty.clone() {
                    Type::Array { elem, len } => {
                        if i < 0 || i as u32 >= len {
                            let msg = format!("index {i} is out of bounds for an array of {len}");
                            self.error(msg, idx.span);
                            return poisoned(span);
                        }
                        self.member(base, i as u32 * elem.size(), *elem, span)
                    }
                    Type::Pointer { to, space } => {
                        let size = to.size().max(1);
                        mk(
                            H::Load {
                                ptr: Box::new(base),
                                offset: i as u32 * size,
                                space,
                            },
                            *to,
                            span,
                        )
                    }
                    Type::Str { len } => {
                        if i < 0 || i as u32 >= len {
                            self.error(
                                format!("index {i} is out of bounds for string[{len}]"),
                                idx.span,
                            );
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
                    other => {
                        self.error(
                            format!("cannot index a value of type {}", other.display()),
                            span,
                        );
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
                            let msg = format!(
                                "tuple index {index} is out of bounds for a tuple of {}",
                                items.len()
                            );
                            self.error(msg, span);
                            poisoned(span)
                        }
                    },
                    other => {
                        self.error(
                            format!("`.{index}` needs a tuple, but this is {}", other.display()),
                            span,
                        );
                        poisoned(span)
                    }
                }
            }
            A::Tuple(items) => {
                let items: Vec<Expr> = items.iter().map(|i| self.expr(i)).collect();
                let ty = Type::Tuple(items.iter().map(|i| i.ty.clone()).collect());
                mk(H::Tuple(items), ty, span)
            }
            A::IncDec { .. } => {
                self.error("`++` and `--` can only be used as statements", span)
                    .help
                    .push("write `$x++;` on its own line, then use $x".into());
                poisoned(span)
            }
            A::Sizeof(arg) => {
                let size = match arg.as_ref() {
                    ast::SizeofArg::Type(t) => self.resolve_type(t).map(|t| t.size()),
                    ast::SizeofArg::Expr(e) => Some(self.expr(e).ty.size()),
                };
                mk(H::Int(i64::from(size.unwrap_or(0))), U64, span)
            }
            A::Offsetof { ty, fields } => {
                let Some(Type::Record(mut r)) = self.resolve_type(ty) else {
                    self.error("offsetof needs a struct type", ty.span);
                    return poisoned(span);
                };
                let mut total = 0u32;
                for f in fields {
                    match r.fields.iter().find(|x| x.name == f.name) {
                        Some(x) => {
                            total += x.offset;
                            if let Type::Record(inner) = &x.ty {
                                r = inner.clone();
                            }
                        }
                        None => {
                            let names: Vec<&str> =
                                r.fields.iter().map(|x| x.name.as_str()).collect();
                            let msg = format!("{} has no field `{}`", r.name, f.name);
                            self.error(msg, f.span).suggest(&f.name, &names);
                            return poisoned(span);
                        }
                    }
                }
                mk(H::Int(i64::from(total)), U64, span)
            }
        }
    }

    /// The text of a string-literal argument, or an error saying `what` was needed.
    fn literal_str(&mut self, arg: &ast::Expr, what: &str) -> Option<String> {
        match &arg.kind {
            A::Str(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
            _ => {
                self.error(what, arg.span);
                None
            }
        }
    }

    fn map_read(&mut self, name: &ast::Ident, keys: &[ast::Expr], span: Span) -> Expr {
        let script_name = format!("@{}", name.name);
        let Some(info) = self.map_ids.get(&script_name) else {
            let names: Vec<String> = self.map_ids.keys().cloned().collect();
            let d = Diagnostic::error(
                format!("map {script_name} is read but never assigned"),
                span,
            )
            .with_label("undefined map")
            .with_suggestion(&script_name, names.iter().map(String::as_str));
            self.diags.push(d);
            return poisoned(span);
        };
        let id = info.id;
        let spec = self.maps[id as usize].clone();
        let key = self.map_key(keys);
        let key = match (key, &spec.key) {
            (Some(k), Some(kt)) => Some(Box::new(self.coerce(k, kt))),
            (None, None) => None,
            (Some(_), None) => {
                self.error(
                    format!("map {script_name} has no key, but is read with one"),
                    span,
                );
                return poisoned(span);
            }
            (None, Some(_)) => {
                self.error(format!("map {script_name} needs a key"), span);
                return poisoned(span);
            }
        };
        let ty = match &spec.value {
            Type::Agg(
                Aggregation::Count
                | Aggregation::Sum
                | Aggregation::Min
                | Aggregation::Max
                | Aggregation::Avg,
            ) => I64,
            Type::Agg(
                agg @ (Aggregation::Stats | Aggregation::Hist { .. } | Aggregation::Lhist { .. }),
            ) => {
                let msg = format!(
                    "a {} map cannot be read in a probe",
                    stdlib::types::agg_name(*agg)
                );
                self.error(msg, span)
                    .help
                    .push("it is printed when rbt exits, or with print()".into());
                return poisoned(span);
            }
            other => other.clone(),
        };
        mk(H::MapRead { map: id, key }, ty, span)
    }

    /// The id of a map that `what` takes whole (`len(@m)`, `for ($kv : @m)`): the
    /// expression must be a map without a key, assigned somewhere in the script.
    pub(super) fn whole_map(&mut self, e: &ast::Expr, what: &str) -> Option<hir::MapId> {
        let A::Map { name, keys } = &e.kind else {
            self.error(format!("{what} takes a map, e.g. @m"), e.span);
            return None;
        };
        if !keys.is_empty() {
            self.error(format!("{what} takes the whole map, without a key"), e.span);
            return None;
        }
        let script_name = format!("@{}", name.name);
        if let Some(info) = self.map_ids.get(&script_name) {
            return Some(info.id);
        }
        let names: Vec<String> = self.map_ids.keys().cloned().collect();
        let d = Diagnostic::error(format!("map {script_name} is never assigned"), e.span)
            .with_label("undefined map")
            .with_suggestion(&script_name, names.iter().map(String::as_str));
        self.diags.push(d);
        None
    }

    /// `uaddr("sym")`: the symbol's address in the binary the probe traces, as a user pointer
    /// sized like the symbol. In a position-independent binary the address is rebased at run
    /// time by the distance from the probed instruction, whose run-time address the kernel
    /// gives (`bpf_get_func_ip`); every attach point of the probe must agree on that distance.
    fn uaddr(&mut self, name: &str, arg_span: Span, span: Span) -> Expr {
        let mut found: Option<(u64, u64, Option<i64>)> = None;
        for (path, offset) in self.probe.user_targets.clone() {
            let this = match self.user_symbol(&path, offset, name) {
                Ok(x) => x,
                Err(miss) if self.opts.load_only => {
                    let msg = match miss {
                        UaddrMiss::Unknown(_) => format!("symbol `{name}` not found in {path}"),
                        UaddrMiss::Lookup(e) => e,
                    };
                    let d = Diagnostic::warning(msg, arg_span)
                        .with_label("address 0 is used, since the program is only loaded");
                    self.diags.push(d);
                    (0, 8, None)
                }
                Err(UaddrMiss::Unknown(names)) => {
                    let d =
                        Diagnostic::error(format!("symbol `{name}` not found in {path}"), arg_span)
                            .with_label("unknown symbol")
                            .with_suggestion(name, names.iter().map(String::as_str));
                    self.diags.push(d);
                    return poisoned(span);
                }
                Err(UaddrMiss::Lookup(e)) => {
                    self.error(e, arg_span);
                    return poisoned(span);
                }
            };
            match found {
                Some(prev) if prev != this => {
                    let mut d = Diagnostic::error(
                        format!(
                            "uaddr(\"{name}\") differs between the attach points of this probe"
                        ),
                        span,
                    )
                    .with_help("give uaddr() a probe with a single attach point (no wildcard)");
                    if this.2.is_some() {
                        d = d.with_note(format!(
                            "{path} is position-independent: the symbol's address is found from where the probed instruction is mapped, which is different for each attach point"
                        ));
                    }
                    self.diags.push(d);
                    return poisoned(span);
                }
                _ => found = Some(this),
            }
        }
        let Some((address, size, rebase)) = found else {
            return poisoned(span);
        };
        let bits = match size {
            1 => 8,
            2 => 16,
            4 => 32,
            _ => 64,
        };
        // bpftrace's documentation says the pointee is unsigned, but bpftrace (0.17 and
        // later) types it as a signed integer of the symbol's size, and prints it so.
        let ty = Type::Pointer {
            to: Box::new(Type::Int { bits, signed: true }),
            space: AddrSpace::User,
        };
        match rebase {
            None => mk(H::Int(address as i64), ty, span),
            Some(delta) => mk(
                H::Call {
                    func: Function::Uaddr,
                    args: vec![mk(H::Int(delta), I64, arg_span)],
                },
                ty,
                span,
            ),
        }
    }

    /// Finds `name` in the binary at `path`: its ELF address, its size, and, when the binary
    /// is position-independent, its distance from the probed code at file offset `offset`.
    fn user_symbol(
        &self,
        path: &str,
        offset: u64,
        name: &str,
    ) -> Result<(u64, u64, Option<i64>), UaddrMiss> {
        let obj = self.catalog.user_object(path).map_err(UaddrMiss::Lookup)?;
        let Some(sym) = obj.symbols.iter().find(|s| s.name == name) else {
            return Err(UaddrMiss::Unknown(
                obj.symbols.into_iter().map(|s| s.name).collect(),
            ));
        };
        if !obj.relocatable {
            return Ok((sym.address, sym.size, None));
        }
        let at = obj.address_of_offset(offset).ok_or_else(|| {
            UaddrMiss::Lookup(format!(
                "the probed code at file offset {offset:#x} of {path} is in no loadable segment"
            ))
        })?;
        Ok((
            sym.address,
            sym.size,
            Some(sym.address.wrapping_sub(at) as i64),
        ))
    }

    /// Types a map's keys: one key is itself, several are a tuple (`@m[a, b]` ≡ `@m[(a, b)]`).
    pub(super) fn map_key(&mut self, keys: &[ast::Expr]) -> Option<Expr> {
        match keys {
            [] => None,
            [k] => {
                let e = self.expr(k);
                let t = key_type(&e.ty);
                Some(self.coerce(e, &t))
            }
            many => {
                let items: Vec<Expr> = many
                    .iter()
                    .map(|k| {
                        let e = self.expr(k);
                        let t = key_type(&e.ty);
                        self.coerce(e, &t)
                    })
                    .collect();
                let span = items[0].span.to(items[items.len() - 1].span);
                let ty = Type::Tuple(items.iter().map(|i| i.ty.clone()).collect());
                Some(mk(H::Tuple(items), ty, span))
            }
        }
    }

    fn provider(&self) -> Option<Provider> {
        self.probe.provider
    }

    fn builtin_allowed(&mut self, b: Builtin, span: Span) -> bool {
        let p = self.provider();
        let ok = match b {
            Builtin::Retval => matches!(
                p,
                Some(Provider::Kretprobe | Provider::Uretprobe | Provider::Kretfunc)
            ),
            Builtin::Arg(_) => matches!(
                p,
                Some(
                    Provider::Kprobe | Provider::Uprobe | Provider::Usdt | Provider::Rawtracepoint
                )
            ),
            Builtin::Sarg(_) => matches!(p, Some(Provider::Kprobe | Provider::Uprobe)),
            Builtin::Func => matches!(
                p,
                Some(
                    Provider::Kprobe
                        | Provider::Kretprobe
                        | Provider::Uprobe
                        | Provider::Uretprobe
                        | Provider::Kfunc
                        | Provider::Kretfunc
                )
            ),
            Builtin::Args => matches!(
                p,
                Some(Provider::Tracepoint | Provider::Kfunc | Provider::Kretfunc)
            ),
            Builtin::Ctx => !matches!(
                p,
                Some(Provider::Begin | Provider::End | Provider::Tracepoint)
            ),
            Builtin::Kstack | Builtin::Ustack => {
                !matches!(p, Some(Provider::Begin | Provider::End))
            }
            Builtin::Cpid => self.opts.cpid.is_some(),
            _ => true,
        };
        if !ok {
            let pname = p.map_or("this", |p| p.name());
            let mut d = Diagnostic::error(
                format!("the {} builtin cannot be used in {pname} probes", b.name()),
                span,
            );
            d = match b {
                Builtin::Retval => {
                    d.with_help("retval exists in kretprobe, uretprobe and kretfunc probes")
                }
                Builtin::Args => {
                    d.with_help("args exists in tracepoint, kfunc and kretfunc probes")
                }
                Builtin::Cpid => d.with_help("cpid needs a command to trace: rbt -c 'CMD' ..."),
                Builtin::Arg(_) | Builtin::Sarg(_) => {
                    d.with_help("argN exists in kprobe, uprobe and usdt probes")
                }
                _ => d,
            };
            self.diags.push(d);
        }
        ok
    }

    fn ident(&mut self, name: &str, span: Span) -> Expr {
        if let Some(b) = Builtin::from_name(name) {
            if !self.builtin_allowed(b, span) {
                return poisoned(span);
            }
            let user = self.probe.user;
            let ty = match b {
                Builtin::Comm => Type::Str { len: 16 },
                Builtin::Probe => Type::ProbeName,
                Builtin::Func => {
                    if user {
                        Type::Usym
                    } else {
                        Type::Ksym
                    }
                }
                Builtin::Username => Type::Username,
                Builtin::Kstack => Type::Stack {
                    user: false,
                    mode: StackMode::Bpftrace,
                    limit: 127,
                },
                Builtin::Ustack => Type::Stack {
                    user: true,
                    mode: StackMode::Bpftrace,
                    limit: 127,
                },
                Builtin::Curtask => match self.lookup_record("struct task_struct") {
                    Some(r) => Type::Pointer {
                        to: Box::new(Type::Record(Box::new(r))),
                        space: AddrSpace::Kernel,
                    },
                    None => U64,
                },
                Builtin::Cpid => {
                    return mk(H::Int(i64::from(self.opts.cpid.unwrap_or(0))), U64, span)
                }
                Builtin::Retval if self.provider() == Some(Provider::Kretfunc) => {
                    // fexit's context holds the arguments, then the return value.
                    let Some((params, ret)) = self.probe.signature.clone() else {
                        self.error(
                            "no BTF signature for this function, so its return value is unknown",
                            span,
                        );
                        return poisoned(span);
                    };
                    return self.context_slot(params.len() as u32, ret, span);
                }
                Builtin::Args => {
                    self.error(
                        "args must be followed by a field: args.name or args->name",
                        span,
                    );
                    return poisoned(span);
                }
                Builtin::Pid
                | Builtin::Tid
                | Builtin::Uid
                | Builtin::Gid
                | Builtin::Nsecs
                | Builtin::Elapsed
                | Builtin::Cpu
                | Builtin::Numaid
                | Builtin::Cgroup
                | Builtin::Rand
                | Builtin::Arg(_)
                | Builtin::Sarg(_)
                | Builtin::Retval
                | Builtin::Ctx
                | Builtin::Jiffies => U64,
            };
            return mk(H::Builtin(b), ty, span);
        }
        if let Some(v) = self.defines.get(name).cloned() {
            if let Some(i) = parse_define_int(&v) {
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
                if let Some(i) = self.catalog.constant(v.trim()) {
                    return mk(H::Int(i), I64, span);
                }
            }
        }
        if let Some(i) = self.catalog.constant(name) {
            return mk(H::Int(i), I64, span);
        }
        let mut candidates: Vec<String> =
            Builtin::NAMED.iter().map(|(n, _)| n.to_string()).collect();
        candidates.extend(self.defines.keys().cloned());
        let d = Diagnostic::error(format!("unknown identifier `{name}`"), span)
            .with_label("not a builtin, constant or macro")
            .with_suggestion(name, candidates.iter().map(String::as_str));
        self.diags.push(d);
        poisoned(span)
    }

    fn unary(&mut self, op: UnaryOp, expr: &ast::Expr, span: Span) -> Expr {
        let inner = self.expr(expr);
        match op {
            UnaryOp::Neg | UnaryOp::Not | UnaryOp::BitNot => {
                self.require_int(&inner, "the operand");
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
                Type::Pointer { to, space } => mk(
                    H::Load {
                        ptr: Box::new(inner),
                        offset: 0,
                        space,
                    },
                    *to,
                    span,
                ),
                t if t.is_int() => {
                    let space = if self.probe.user {
                        AddrSpace::User
                    } else {
                        AddrSpace::Kernel
                    };
                    mk(
                        H::Load {
                            ptr: Box::new(inner),
                            offset: 0,
                            space,
                        },
                        U64,
                        span,
                    )
                }
                other => {
                    self.error(
                        format!("cannot dereference a value of type {}", other.display()),
                        span,
                    );
                    poisoned(span)
                }
            },
            UnaryOp::AddrOf => {
                self.error("taking the address of a value (`&`) is not supported", span);
                poisoned(span)
            }
        }
    }

    fn binary(&mut self, op: BinaryOp, lhs: &ast::Expr, rhs: &ast::Expr, span: Span) -> Expr {
        let l = self.expr(lhs);
        let r = self.expr(rhs);
        if l.ty.is_str() || r.ty.is_str() {
            if l.ty.is_str() && r.ty.is_str() && matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
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
            let msg = format!(
                "`{}` cannot be applied to {} and {}",
                op.symbol(),
                l.ty.display(),
                r.ty.display()
            );
            self.error(msg, span)
                .help
                .push("strings can only be compared with == and !=".into());
            return poisoned(span);
        }
        self.require_int(&l, "the left operand");
        self.require_int(&r, "the right operand");
        let ty = match op {
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::LogicalAnd
            | BinaryOp::LogicalOr => Type::Bool,
            BinaryOp::Add | BinaryOp::Sub => match (&l.ty, &r.ty) {
                (Type::Pointer { .. }, _) => l.ty.clone(),
                _ => arith_type(&l.ty, &r.ty),
            },
            _ => arith_type(&l.ty, &r.ty),
        };
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

    /// A member of a record value (folding into the load when the record was loaded through a
    /// pointer, so only the member is read from memory).
    fn member(&mut self, base: Expr, offset: u32, ty: Type, span: Span) -> Expr {
        match base.kind {
            H::Load {
                ptr,
                offset: o,
                space,
            } => mk(
                H::Load {
                    ptr,
                    offset: o + offset,
                    space,
                },
                ty,
                span,
            ),
            H::TracepointField {
                offset: o,
                data_loc: false,
            } => mk(
                H::TracepointField {
                    offset: o + offset,
                    data_loc: false,
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
            if let Some((params, _)) = self.probe.signature.clone() {
                return self.function_arg(&params, field, span);
            }
            return self.tracepoint_arg(field, span);
        }
        let base = self.expr(expr);
        let (record, via_pointer) = match &base.ty {
            Type::Pointer { to, space } => match to.as_ref() {
                Type::Record(r) => (r.clone(), Some(*space)),
                other => {
                    let msg = format!(
                        "`{}` needs a struct, but this points to {}",
                        field.name,
                        other.display()
                    );
                    self.error(msg, span);
                    return poisoned(span);
                }
            },
            Type::Record(r) => (r.clone(), None),
            other => {
                let msg = format!(
                    "cannot access field `{}` of a value of type {}",
                    field.name,
                    other.display()
                );
                self.error(msg, span).help.push(
                    "cast the value to a struct pointer first, e.g. ((struct sock *)arg0)->field"
                        .into(),
                );
                return poisoned(span);
            }
        };
        let record = if record.fields.is_empty() {
            match self.lookup_record(&record.name) {
                Some(r) => Box::new(r),
                None => {
                    let msg = format!(
                        "unknown {}: no BTF or script definition describes it",
                        record.name
                    );
                    self.error(msg, span);
                    return poisoned(span);
                }
            }
        } else {
            record
        };
        let Some(f) = record.fields.iter().find(|f| f.name == field.name).cloned() else {
            let names: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
            let msg = format!("{} has no field `{}`", record.name, field.name);
            self.error(msg, field.span).suggest(&field.name, &names);
            return poisoned(span);
        };
        match via_pointer {
            Some(space) => mk(
                H::Load {
                    ptr: Box::new(base),
                    offset: f.offset,
                    space,
                },
                f.ty,
                span,
            ),
            None => self.member(base, f.offset, f.ty, span),
        }
    }

    /// `args.name` of a kfunc/kretfunc probe: the context is an array of u64 arguments; the
    /// whole slot is read and converted to the parameter's BTF type.
    fn function_arg(&mut self, params: &[(String, Type)], field: &ast::Ident, span: Span) -> Expr {
        let Some(index) = params.iter().position(|(n, _)| *n == field.name) else {
            let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
            let msg = format!("this function has no parameter `{}`", field.name);
            let d = Diagnostic::error(msg, field.span)
                .with_label("unknown argument")
                .with_suggestion(&field.name, names.iter().copied())
                .with_note(format!("its parameters are: {}", names.join(", ")));
            self.diags.push(d);
            return poisoned(span);
        };
        self.context_slot(index as u32, params[index].1.clone(), span)
    }

    /// Slot `index` of a u64-array context (kfunc arguments, then the return value).
    fn context_slot(&mut self, index: u32, ty: Type, span: Span) -> Expr {
        let raw = mk(
            H::TracepointField {
                offset: 8 * index,
                data_loc: false,
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
            let msg = format!(
                "tracepoint {} has no argument `{}`",
                self.probe.tracepoint_name, field.name
            );
            let d = Diagnostic::error(msg, field.span)
                .with_label("unknown argument")
                .with_suggestion(&field.name, names.iter().map(String::as_str))
                .with_note(format!("its arguments are: {}", names.join(", ")));
            self.diags.push(d);
            return poisoned(span);
        };
        if f.data_loc {
            return mk(
                H::TracepointField {
                    offset: f.offset,
                    data_loc: true,
                },
                Type::Str {
                    len: self.opts.strlen,
                },
                span,
            );
        }
        let ty = parse_c_type(&f.c_type, f.size, f.signed, self.probe.user);
        mk(
            H::TracepointField {
                offset: f.offset,
                data_loc: false,
            },
            ty,
            span,
        )
    }

    fn call_expr(&mut self, func: &ast::Ident, args: &[ast::Expr], span: Span) -> Expr {
        let Some(f) = Function::from_name(&func.name) else {
            if let Some(b) = Builtin::from_name(&func.name) {
                if args.is_empty() {
                    return self.ident(&func.name, span);
                }
                let _ = b;
            }
            let names: Vec<&str> = Function::ALL.iter().map(|(n, _)| *n).collect();
            let msg = format!("unknown function `{}`", func.name);
            self.error(msg, func.span).suggest(&func.name, &names);
            return poisoned(span);
        };
        if f.is_unsafe() && !self.opts.allow_unsafe {
            let msg = format!("{}() is an unsafe function", f.name());
            self.error(msg, func.span)
                .help
                .push("run with --unsafe to allow it".into());
            return poisoned(span);
        }
        let argc = |this: &mut Self, min: usize, max: usize| -> bool {
            if args.len() < min || args.len() > max {
                let want = if min == max {
                    format!("{min}")
                } else {
                    format!("{min} to {max}")
                };
                let msg = format!(
                    "{}() takes {want} argument{}, but {} were given",
                    f.name(),
                    if max == 1 { "" } else { "s" },
                    args.len()
                );
                this.error(msg, span);
                false
            } else {
                true
            }
        };
        let user = self.probe.user;
        let space = if user {
            AddrSpace::User
        } else {
            AddrSpace::Kernel
        };
        match f {
            Function::Str => {
                if !argc(self, 1, 2) {
                    return poisoned(span);
                }
                let mut a: Vec<Expr> = args.iter().map(|a| self.expr(a)).collect();
                if a[0].ty.is_str() {
                    let e = a.remove(0);
                    return e;
                }
                if !a[0].ty.is_int() && !matches!(a[0].ty, Type::Pointer { .. }) {
                    let msg = format!(
                        "str() needs a pointer or integer address, but this is {}",
                        a[0].ty.display()
                    );
                    self.error(msg, a[0].span);
                    return poisoned(span);
                }
                if a[0].ty.is_int() {
                    a[0].ty = Type::Pointer {
                        to: Box::new(Type::Int {
                            bits: 8,
                            signed: true,
                        }),
                        space,
                    };
                }
                let len = match a.get(1).map(|e| &e.kind) {
                    Some(H::Int(n)) => ((*n).max(0) as u32 + 1).min(self.opts.strlen),
                    _ => self.opts.strlen,
                };
                mk(H::Call { func: f, args: a }, Type::Str { len }, span)
            }
            Function::Buf => {
                if !argc(self, 1, 2) {
                    return poisoned(span);
                }
                let mut a: Vec<Expr> = args.iter().map(|a| self.expr(a)).collect();
                let len = match (a.get(1).map(|e| &e.kind), &a[0].ty) {
                    (Some(H::Int(n)), _) => (*n).clamp(0, 255) as u32,
                    (None, Type::Array { .. } | Type::Str { .. }) => a[0].ty.size().min(255),
                    (Some(_), _) if a[1].ty.is_int() => {
                        // A length known only at run time reads at most strlen bytes.
                        self.opts.strlen.min(255)
                    }
                    _ => {
                        self.error(
                            "buf() needs a length for a pointer argument: buf(ptr, len)",
                            span,
                        );
                        return poisoned(span);
                    }
                };
                if a[0].ty.is_int() {
                    a[0].ty = Type::Pointer {
                        to: Box::new(Type::Int {
                            bits: 8,
                            signed: false,
                        }),
                        space,
                    };
                }
                // A constant length is the buffer's capacity; a run-time one stays an argument.
                if matches!(a.get(1).map(|e| &e.kind), Some(H::Int(_)) | None) {
                    a.truncate(1);
                }
                mk(H::Call { func: f, args: a }, Type::Buffer { len }, span)
            }
            Function::Strncmp => {
                if !argc(self, 3, 3) {
                    return poisoned(span);
                }
                let a: Vec<Expr> = args.iter().map(|a| self.expr(a)).collect();
                if !a[0].ty.is_str() || !a[1].ty.is_str() || !matches!(a[2].kind, H::Int(_)) {
                    self.error("strncmp() takes two strings and a constant length", span);
                    return poisoned(span);
                }
                mk(H::Call { func: f, args: a }, I64, span)
            }
            Function::Strcontains => {
                if !argc(self, 2, 2) {
                    return poisoned(span);
                }
                let a: Vec<Expr> = args.iter().map(|a| self.expr(a)).collect();
                if !a[0].ty.is_str() || !a[1].ty.is_str() {
                    self.error("strcontains() takes two strings", span);
                    return poisoned(span);
                }
                mk(H::Call { func: f, args: a }, I64, span)
            }
            Function::Bswap => {
                if !argc(self, 1, 1) {
                    return poisoned(span);
                }
                let a = self.expr(&args[0]);
                self.require_int(&a, "bswap()'s argument");
                let ty = match a.ty {
                    Type::Int { bits, .. } => Type::Int {
                        bits,
                        signed: false,
                    },
                    _ => U64,
                };
                mk(
                    H::Call {
                        func: f,
                        args: vec![a],
                    },
                    ty,
                    span,
                )
            }
            Function::Ntop => {
                if !argc(self, 1, 2) {
                    return poisoned(span);
                }
                let a: Vec<Expr> = args.iter().map(|a| self.expr(a)).collect();
                let addr = &a[a.len() - 1];
                let ok = addr.ty.is_int()
                    || matches!(
                        &addr.ty,
                        Type::Array { len: 4 | 16, .. } | Type::Str { len: 4 | 16 }
                    );
                if !ok {
                    let msg = format!(
                        "ntop() needs an integer or a 4/16-byte array, but this is {}",
                        addr.ty.display()
                    );
                    self.error(msg, addr.span);
                    return poisoned(span);
                }
                mk(H::Call { func: f, args: a }, Type::Inet, span)
            }
            Function::Macaddr => {
                if !argc(self, 1, 1) {
                    return poisoned(span);
                }
                let mut a = self.expr(&args[0]);
                if a.ty.is_int() {
                    a.ty = Type::Pointer {
                        to: Box::new(Type::Int {
                            bits: 8,
                            signed: false,
                        }),
                        space,
                    };
                }
                let ok = matches!(&a.ty, Type::Pointer { .. }) || a.ty.size() >= 6;
                if !ok {
                    let msg = format!(
                        "macaddr() needs a pointer or a 6-byte array, but this is {}",
                        a.ty.display()
                    );
                    self.error(msg, a.span);
                    return poisoned(span);
                }
                mk(
                    H::Call {
                        func: f,
                        args: vec![a],
                    },
                    Type::MacAddr,
                    span,
                )
            }
            Function::Ksym | Function::Usym | Function::Strerror | Function::CgroupPath => {
                if !argc(self, 1, 1) {
                    return poisoned(span);
                }
                let a = self.expr(&args[0]);
                self.require_int(&a, "the argument");
                let ty = match f {
                    Function::Ksym => Type::Ksym,
                    Function::Usym => Type::Usym,
                    Function::Strerror => Type::Strerror,
                    _ => Type::CgroupPath,
                };
                mk(
                    H::Call {
                        func: f,
                        args: vec![a],
                    },
                    ty,
                    span,
                )
            }
            Function::Kptr | Function::Uptr => {
                if !argc(self, 1, 1) {
                    return poisoned(span);
                }
                let mut a = self.expr(&args[0]);
                let want = if f == Function::Kptr {
                    AddrSpace::Kernel
                } else {
                    AddrSpace::User
                };
                if let Type::Pointer { space, .. } = &mut a.ty {
                    *space = want;
                } else if a.ty.is_int() {
                    a.ty = Type::Pointer {
                        to: Box::new(Type::Int {
                            bits: 8,
                            signed: false,
                        }),
                        space: want,
                    };
                }
                a
            }
            Function::Strftime => {
                if !argc(self, 2, 2) {
                    return poisoned(span);
                }
                let Some(fmt) =
                    self.literal_str(&args[0], "strftime() needs a literal format string")
                else {
                    return poisoned(span);
                };
                let idx = match self.time_formats.iter().position(|x| *x == fmt) {
                    Some(i) => i,
                    None => {
                        self.time_formats.push(fmt);
                        self.time_formats.len() - 1
                    }
                };
                let ns = self.expr(&args[1]);
                self.require_int(&ns, "strftime()'s timestamp");
                let idx = mk(H::Int(idx as i64), I64, args[0].span);
                mk(
                    H::Call {
                        func: f,
                        args: vec![idx, ns],
                    },
                    Type::Timestamp,
                    span,
                )
            }
            Function::Reg => {
                if !argc(self, 1, 1) {
                    return poisoned(span);
                }
                let Some(name) = self.literal_str(&args[0], "reg() needs a literal register name")
                else {
                    return poisoned(span);
                };
                if !stdlib::builtins::PT_REGS.iter().any(|(n, _)| *n == name) {
                    let names: Vec<&str> =
                        stdlib::builtins::PT_REGS.iter().map(|(n, _)| *n).collect();
                    self.error(format!("unknown register `{name}`"), args[0].span)
                        .suggest(&name, &names);
                    return poisoned(span);
                }
                if !matches!(self.probe.context, Some(Context::PtRegs)) {
                    self.error(
                        "reg() can only be used in kprobe, uprobe and usdt probes",
                        span,
                    );
                    return poisoned(span);
                }
                let a = self.expr(&args[0]);
                mk(
                    H::Call {
                        func: f,
                        args: vec![a],
                    },
                    U64,
                    span,
                )
            }
            Function::Kstack | Function::Ustack => {
                let b = if f == Function::Kstack {
                    Builtin::Kstack
                } else {
                    Builtin::Ustack
                };
                if !self.builtin_allowed(b, span) || !argc(self, 0, 2) {
                    return poisoned(span);
                }
                let mut mode = StackMode::Bpftrace;
                let mut limit = 127u32;
                for a in args {
                    match &a.kind {
                        A::Ident(m) if m == "perf" => mode = StackMode::Perf,
                        A::Ident(m) if m == "bpftrace" => mode = StackMode::Bpftrace,
                        A::Ident(m) if m == "raw" => mode = StackMode::Raw,
                        A::Int(n) if *n >= 1 && *n <= 1024 => limit = *n as u32,
                        _ => {
                            self.error("stack arguments are a mode (bpftrace, perf, raw) and a limit (1..1024)", a.span);
                            return poisoned(span);
                        }
                    }
                }
                mk(
                    H::Call {
                        func: f,
                        args: Vec::new(),
                    },
                    Type::Stack {
                        user: f == Function::Ustack,
                        mode,
                        limit,
                    },
                    span,
                )
            }
            Function::Signal => {
                if !argc(self, 1, 1) {
                    return poisoned(span);
                }
                let sig = match &args[0].kind {
                    A::Str(name) => {
                        let name = String::from_utf8_lossy(name).into_owned();
                        match signal_number(&name) {
                            Some(n) => n,
                            None => {
                                self.error(format!("unknown signal `{name}`"), args[0].span);
                                return poisoned(span);
                            }
                        }
                    }
                    A::Int(n) if *n <= 64 => *n as i64,
                    _ => {
                        self.error(
                            "signal() takes a signal name (\"SIGKILL\") or number",
                            args[0].span,
                        );
                        return poisoned(span);
                    }
                };
                mk(
                    H::Call {
                        func: f,
                        args: vec![mk(H::Int(sig), I64, args[0].span)],
                    },
                    Type::None,
                    span,
                )
            }
            Function::Override => {
                if !argc(self, 1, 1) {
                    return poisoned(span);
                }
                if self.provider() != Some(Provider::Kprobe) {
                    self.error("override() can only be used in kprobe probes", span);
                    return poisoned(span);
                }
                let a = self.expr(&args[0]);
                self.require_int(&a, "override()'s return code");
                mk(
                    H::Call {
                        func: f,
                        args: vec![a],
                    },
                    Type::None,
                    span,
                )
            }
            Function::Kaddr => {
                if !argc(self, 1, 1) {
                    return poisoned(span);
                }
                let Some(name) = self.literal_str(&args[0], "kaddr() needs a literal symbol name")
                else {
                    return poisoned(span);
                };
                match self.catalog.kernel_symbol(&name) {
                    Some(addr) => mk(H::Int(addr as i64), U64, span),
                    None if self.opts.load_only => {
                        let d = Diagnostic::warning(
                            format!("kernel symbol `{name}` not found"),
                            args[0].span,
                        )
                        .with_label("address 0 is used, since the program is only loaded");
                        self.diags.push(d);
                        mk(H::Int(0), U64, span)
                    }
                    None => {
                        self.error(format!("kernel symbol `{name}` not found"), args[0].span);
                        poisoned(span)
                    }
                }
            }
            Function::Pton => {
                if !argc(self, 1, 1) {
                    return poisoned(span);
                }
                let Some(text) = self.literal_str(&args[0], "pton() needs a literal address")
                else {
                    return poisoned(span);
                };
                let bytes: Vec<u8> = match text.parse::<std::net::IpAddr>() {
                    Ok(std::net::IpAddr::V4(a)) => a.octets().to_vec(),
                    Ok(std::net::IpAddr::V6(a)) => a.octets().to_vec(),
                    Err(_) => {
                        self.error(
                            format!("`{text}` is not an IPv4 or IPv6 address"),
                            args[0].span,
                        );
                        return poisoned(span);
                    }
                };
                let len = bytes.len() as u32;
                mk(
                    H::Str(bytes),
                    Type::Array {
                        elem: Box::new(Type::Int {
                            bits: 8,
                            signed: false,
                        }),
                        len,
                    },
                    span,
                )
            }
            Function::HasKey => {
                if !argc(self, 2, 2) {
                    return poisoned(span);
                }
                let A::Map { name, keys } = &args[0].kind else {
                    self.error("has_key() needs a map as its first argument", args[0].span);
                    return poisoned(span);
                };
                if !keys.is_empty() {
                    self.error("pass the map without a key: has_key(@m, key)", args[0].span);
                    return poisoned(span);
                }
                let Some(id) = self.map_ids.get(&format!("@{}", name.name)).map(|i| i.id) else {
                    self.error(
                        format!("map @{} is never assigned", name.name),
                        args[0].span,
                    );
                    return poisoned(span);
                };
                let Some(key) = self.map_key(std::slice::from_ref(&args[1])) else {
                    return poisoned(span);
                };
                let key = match self.maps[id as usize].key.clone() {
                    Some(kt) => self.coerce(key, &kt),
                    None => key,
                };
                mk(
                    H::HasKey {
                        map: id,
                        key: Box::new(key),
                    },
                    Type::Bool,
                    span,
                )
            }
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
            | Function::Zero => {
                let msg = format!("{}() does not return a value", f.name());
                self.error(msg, span)
                    .help
                    .push("call it as a statement on its own".into());
                poisoned(span)
            }
            Function::Count
            | Function::Sum
            | Function::Avg
            | Function::Min
            | Function::Max
            | Function::Stats
            | Function::Hist
            | Function::Lhist => {
                let msg = format!("{}() must be assigned to a map", f.name());
                self.error(msg, span)
                    .help
                    .push(format!("e.g. @x = {}(...)", f.name()));
                poisoned(span)
            }
            Function::Cgroupid => {
                if !argc(self, 1, 1) {
                    return poisoned(span);
                }
                let Some(path) =
                    self.literal_str(&args[0], "cgroupid() needs a literal cgroup path")
                else {
                    return poisoned(span);
                };
                match self.catalog.cgroup_id(&path) {
                    Some(id) => mk(H::Int(id as i64), U64, span),
                    None => {
                        self.error(format!("`{path}` is not a cgroup (v2) directory"), args[0].span)
                            .help
                            .push("cgroup ids come from the cgroup2 mount, e.g. /sys/fs/cgroup/system.slice".into());
                        poisoned(span)
                    }
                }
            }
            Function::Len => {
                if !argc(self, 1, 1) {
                    return poisoned(span);
                }
                if !matches!(args[0].kind, A::Map { .. }) {
                    let a = self.expr(&args[0]);
                    let msg = match a.ty {
                        Type::Stack { .. } => {
                            "len() of a stack is not supported by rbt yet".to_string()
                        }
                        ref other => format!("len() takes a map, but this is {}", other.display()),
                    };
                    self.error(msg, args[0].span)
                        .help
                        .push("pass a map: len(@m) counts its elements".into());
                    return poisoned(span);
                }
                match self.whole_map(&args[0], "len()") {
                    Some(map) => mk(H::MapLen { map }, I64, span),
                    None => poisoned(span),
                }
            }
            Function::Uaddr => {
                if !argc(self, 1, 1) {
                    return poisoned(span);
                }
                let Some(name) = self.literal_str(&args[0], "uaddr() needs a literal symbol name")
                else {
                    return poisoned(span);
                };
                if !matches!(
                    self.provider(),
                    Some(Provider::Uprobe | Provider::Uretprobe | Provider::Usdt)
                ) {
                    let pname = self.provider().map_or("this", |p| p.name());
                    self.error(format!("uaddr() cannot be used in {pname} probes"), span)
                        .help
                        .push("uaddr() exists in uprobe, uretprobe and usdt probes: it looks the symbol up in the traced binary".into());
                    return poisoned(span);
                }
                self.uaddr(&name, args[0].span, span)
            }
            Function::Path | Function::Unwatch | Function::Skboutput => {
                let msg = format!("{}() is not supported by rbt yet", f.name());
                self.error(msg, func.span);
                poisoned(span)
            }
        }
    }
}

/// Why `uaddr()` could not place a symbol.
enum UaddrMiss {
    /// The binary has no such symbol; these are the names it has, for "did you mean".
    Unknown(Vec<String>),
    /// The binary could not be read, or the probed code is outside its segments.
    Lookup(String),
}

/// The type a value takes as a map key: integers widen to 64 bits, but strings keep the
/// length of their first use (`comm` keys stay 16 bytes, as in bpftrace), which keeps keys
/// small and lookups cheap; later keys are cut or padded to it.
fn key_type(t: &Type) -> Type {
    match t {
        Type::Int { .. } | Type::Bool | Type::Enum { .. } => I64,
        Type::Tuple(items) => Type::Tuple(items.iter().map(key_type).collect()),
        other => other.clone(),
    }
}

fn arith_type(a: &Type, b: &Type) -> Type {
    if a.is_signed() || b.is_signed() {
        I64
    } else {
        U64
    }
}

/// Parses a `#define` value or positional parameter as an integer (decimal, hex, octal).
pub(super) fn parse_define_int(v: &str) -> Option<i64> {
    let v = v
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    let (neg, v) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let v = v.trim_end_matches(['u', 'U', 'l', 'L']);
    let n = if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if v.len() > 1 && v.starts_with('0') && v.bytes().all(|b| b.is_ascii_digit()) {
        i64::from_str_radix(&v[1..], 8).ok()?
    } else {
        v.parse().ok()?
    };
    Some(if neg { -n } else { n })
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

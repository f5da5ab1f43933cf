//! Turns pest's parse tree for one top-level item into AST nodes. The grammar has already
//! accepted the shape; what can still be wrong here is reported as a diagnostic (bad
//! literals, unknown providers, misplaced pieces) and the node is kept or dropped so the rest
//! of the item still builds.

use super::Rule;
use crate::ast::*;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::cell::RefCell;
use stdlib::diag::Diagnostic;
use stdlib::literal::{decode_int, decode_string, LitError};

pub struct Builder {
    /// Offset of the item in the whole source; pest positions are relative to the item.
    base: usize,
    diags: RefCell<Vec<Diagnostic>>,
    /// Named records defined inside a C definition (`struct Bar { int x; } bar;`).
    nested: RefCell<Vec<CDefinition>>,
    pratt: PrattParser<Rule>,
    /// Positional parameters, for those in an attach point's probe type.
    params: Vec<String>,
    /// Where the expression inside each pair of grouping parentheses starts, by the span
    /// the group was widened to: a field access, index or `->` on a group is located from
    /// there, as bpftrace locates it (the `col` of a `-k` helper error in JSON is data).
    groups: RefCell<std::collections::HashMap<Span, usize>>,
}

impl Builder {
    pub fn new(base: usize) -> Builder {
        let pratt = PrattParser::new()
            .op(Op::infix(Rule::op_ternary, Assoc::Right))
            .op(Op::infix(Rule::op_or, Assoc::Left))
            .op(Op::infix(Rule::op_and, Assoc::Left))
            .op(Op::infix(Rule::op_bitor, Assoc::Left))
            .op(Op::infix(Rule::op_bitxor, Assoc::Left))
            .op(Op::infix(Rule::op_bitand, Assoc::Left))
            .op(Op::infix(Rule::op_eq, Assoc::Left) | Op::infix(Rule::op_ne, Assoc::Left))
            .op(Op::infix(Rule::op_lt, Assoc::Left)
                | Op::infix(Rule::op_le, Assoc::Left)
                | Op::infix(Rule::op_gt, Assoc::Left)
                | Op::infix(Rule::op_ge, Assoc::Left))
            .op(Op::infix(Rule::op_shl, Assoc::Left) | Op::infix(Rule::op_shr, Assoc::Left))
            .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
            .op(Op::infix(Rule::op_mul, Assoc::Left)
                | Op::infix(Rule::op_div, Assoc::Left)
                | Op::infix(Rule::op_mod, Assoc::Left))
            .op(Op::prefix(Rule::comptime)
                | Op::prefix(Rule::pre_inc)
                | Op::prefix(Rule::pre_dec)
                | Op::prefix(Rule::neg)
                | Op::prefix(Rule::not)
                | Op::prefix(Rule::bitnot)
                | Op::prefix(Rule::deref)
                | Op::prefix(Rule::addr_of)
                | Op::prefix(Rule::cast))
            .op(Op::postfix(Rule::post_inc)
                | Op::postfix(Rule::post_dec)
                | Op::postfix(Rule::arrow)
                | Op::postfix(Rule::tuple_index)
                | Op::postfix(Rule::field)
                | Op::postfix(Rule::index));
        Builder {
            base,
            diags: RefCell::new(Vec::new()),
            nested: RefCell::new(Vec::new()),
            pratt,
            params: Vec::new(),
            groups: RefCell::new(std::collections::HashMap::new()),
        }
    }

    pub fn with_params(mut self, params: &[String]) -> Builder {
        self.params = params.to_vec();
        self
    }

    pub fn finish(self) -> Vec<Diagnostic> {
        self.diags.into_inner()
    }

    /// The pair's span without the whitespace (and blanked comments) pest leaves at the end
    /// of a rule whose optional last part is absent (`if (c) { }` before the next line).
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        let end = s.start() + pair.as_str().trim_end().len();
        Span::new(self.base + s.start(), self.base + end)
    }

    fn ident(&self, pair: &Pair<Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(pair),
        }
    }

    fn error(&self, d: Diagnostic) {
        self.diags.borrow_mut().push(d);
    }

    fn lit_error(&self, e: LitError, lit_start: usize) {
        let mut d = Diagnostic::error(e.message, Span::new(lit_start + e.start, lit_start + e.end));
        if let Some(h) = e.help {
            d = d.with_help(h);
        }
        self.error(d);
    }

    /// Adds one top-level item (`probe_item`, `c_def_item`, `config_item`) to the script.
    pub fn item(&self, pair: Pair<Rule>, script: &mut Script) {
        for inner in pair.into_inner() {
            match inner.as_rule() {
                Rule::probe => script.probes.push(self.probe(inner)),
                Rule::c_definition => {
                    if let Some(def) = inner.into_inner().next().map(|p| self.c_definition(p)) {
                        // Nested named definitions come first: the outer one uses them.
                        script.c_definitions.append(&mut self.nested.borrow_mut());
                        script.c_definitions.push(def);
                    }
                }
                Rule::config => script.config.extend(self.config(inner)),
                Rule::macro_def => script.macros.push(self.macro_def(inner)),
                Rule::map_decl => script.map_decls.extend(self.map_decl(inner)),
                _ => {}
            }
        }
    }

    // ------------------------------------------------------------ C definitions

    fn c_definition(&self, pair: Pair<Rule>) -> CDefinition {
        let span = self.span(&pair);
        let mut kw = None;
        let mut name = Ident {
            name: String::new(),
            span,
        };
        let mut variants = Vec::new();
        let mut fields = Vec::new();
        let mut packed = false;
        let mut aligned = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::kw_struct | Rule::kw_union | Rule::kw_enum => kw = Some(part.as_rule()),
                Rule::ident => name = self.ident(&part),
                Rule::enum_variant => variants.push(self.enum_variant(part)),
                Rule::c_field => fields.push(part),
                Rule::c_attribute => {
                    for attr in part.into_inner() {
                        let mut inner = attr.into_inner();
                        let word = inner.next().map(|p| p.as_str().trim_matches('_'));
                        let arg = inner.next().and_then(|p| self.int_value(&p));
                        match word {
                            Some("packed") => packed = true,
                            // Bare `aligned` is the target's largest alignment: 16 on x86-64.
                            Some("aligned") => aligned = arg.or(Some(16)),
                            // Other attributes do not change the layout rbt computes.
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        let kind = match kw {
            Some(Rule::kw_enum) => CDefKind::Enum(variants),
            Some(Rule::kw_union) => CDefKind::Union(self.c_fields(fields.into_iter())),
            _ => CDefKind::Struct(self.c_fields(fields.into_iter())),
        };
        CDefinition {
            kind,
            name,
            packed,
            aligned,
            span,
        }
    }

    fn enum_variant(&self, pair: Pair<Rule>) -> EnumVariant {
        let mut inner = pair.into_inner();
        let name = inner
            .next()
            .map(|p| self.ident(&p))
            .unwrap_or_else(|| Ident {
                name: String::new(),
                span: Span::default(),
            });
        let value = inner.next().map(|p| self.expr(p));
        EnumVariant { name, value }
    }

    fn c_fields<'i>(&self, pairs: impl Iterator<Item = Pair<'i, Rule>>) -> Vec<CField> {
        let mut out = Vec::new();
        for field in pairs.filter(|p| p.as_rule() == Rule::c_field) {
            let span = self.span(&field);
            let mut inner = field.into_inner();
            let Some(ty_pair) = inner.next() else {
                continue;
            };
            let base = self.c_field_type(ty_pair);
            let anonymous = matches!(base.base, TypeName::AnonRecord { .. });
            let mut any = false;
            for decl in inner {
                any = true;
                let mut ty = base.clone();
                let mut name = None;
                let mut bits = None;
                for part in decl.into_inner() {
                    match part.as_rule() {
                        Rule::ptr => ty.pointers += 1,
                        Rule::field_name => name = Some(self.ident(&part)),
                        // `x[]` is C's flexible array member: no elements of its own.
                        Rule::array_dim => ty.array.push(self.array_dim(part).unwrap_or(0)),
                        Rule::int => bits = self.int_value(&part),
                        _ => {}
                    }
                }
                out.push(CField {
                    ty,
                    name,
                    bits,
                    span,
                });
            }
            if !any {
                if !anonymous {
                    self.error(
                        Diagnostic::error("expected a field name", span)
                            .with_label("this member declaration has a type but no name"),
                    );
                }
                out.push(CField {
                    ty: base,
                    name: None,
                    bits: None,
                    span,
                });
            }
        }
        out
    }

    fn c_field_type(&self, pair: Pair<Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let Some(inner) = pair.into_inner().next() else {
            return TypeExpr::plain(TypeName::Named(String::new()), span);
        };
        let base = match inner.as_rule() {
            Rule::anon_record => {
                let mut parts = inner.into_inner().peekable();
                let union = parts.next().is_some_and(|p| p.as_rule() == Rule::kw_union);
                let name = parts
                    .next_if(|p| p.as_rule() == Rule::ident)
                    .map(|p| self.ident(&p));
                let fields = self.c_fields(parts);
                match name {
                    // A named nested definition defines its record as C does, at the top
                    // level; the member then has that record's type.
                    Some(name) => {
                        let type_name = if union {
                            TypeName::Union(name.name.clone())
                        } else {
                            TypeName::Struct(name.name.clone())
                        };
                        let kind = if union {
                            CDefKind::Union(fields)
                        } else {
                            CDefKind::Struct(fields)
                        };
                        self.nested.borrow_mut().push(CDefinition {
                            kind,
                            name,
                            packed: false,
                            aligned: None,
                            span,
                        });
                        type_name
                    }
                    None => TypeName::AnonRecord { union, fields },
                }
            }
            _ => self.type_base(inner),
        };
        TypeExpr::plain(base, span)
    }

    // ------------------------------------------------------------ types

    fn type_base(&self, pair: Pair<Rule>) -> TypeName {
        match pair.as_rule() {
            Rule::record_type => {
                let mut inner = pair.into_inner();
                let kw = inner.next().map(|p| p.as_rule());
                let name = inner
                    .next()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default();
                match kw {
                    Some(Rule::kw_union) => TypeName::Union(name),
                    Some(Rule::kw_enum) => TypeName::Enum(name),
                    _ => TypeName::Struct(name),
                }
            }
            Rule::c_words => {
                // Qualifiers do not change the layout the checker cares about.
                let words: Vec<&str> = pair
                    .into_inner()
                    .map(|p| p.as_str())
                    .filter(|w| *w != "const" && *w != "volatile")
                    .collect();
                if words.is_empty() {
                    TypeName::Named("int".into())
                } else {
                    TypeName::Named(words.join(" "))
                }
            }
            Rule::typeof_type => match pair.into_inner().nth(1) {
                Some(e) => TypeName::Typeof(Box::new(self.expr(e))),
                // The grammar always has the expression.
                None => TypeName::Named(String::new()),
            },
            _ => TypeName::Named(pair.as_str().to_string()),
        }
    }

    /// Builds a `type_expr` or `cast_type` node.
    fn type_expr(&self, pair: Pair<Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let mut ty = TypeExpr::plain(TypeName::Named(String::new()), span);
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::ptr => ty.pointers += 1,
                Rule::array_dim => match self.array_dim(part) {
                    Some(n) => ty.array.push(n),
                    None => ty.auto_array = true,
                },
                Rule::typeof_type => {
                    let inner = part.clone().into_inner().nth(1);
                    match inner {
                        // `typeof(type)` is that type, its own `*`s and `[N]`s included.
                        Some(t) if t.as_rule() == Rule::cast_type => {
                            let t = self.type_expr(t);
                            ty.base = t.base;
                            ty.pointers += t.pointers;
                            ty.array.extend(t.array);
                        }
                        _ => ty.base = self.type_base(part),
                    }
                }
                _ => ty.base = self.type_base(part),
            }
        }
        ty
    }

    /// The arguments of a call: expressions, and `typeof(...)` types (`ExprKind::TypeArg`).
    fn call_args(&self, pair: Pair<Rule>) -> Vec<Expr> {
        pair.into_inner()
            .map(|a| match a.as_rule() {
                Rule::type_arg => Expr {
                    span: self.span(&a),
                    kind: ExprKind::TypeArg(self.type_expr(a)),
                },
                _ => self.expr(a),
            })
            .collect()
    }

    fn array_dim(&self, pair: Pair<Rule>) -> Option<u64> {
        pair.into_inner().next().and_then(|p| self.int_value(&p))
    }

    fn int_value(&self, pair: &Pair<Rule>) -> Option<u64> {
        match decode_int(pair.as_str()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.lit_error(e, self.span(pair).start);
                None
            }
        }
    }

    // ------------------------------------------------------------ config

    fn config(&self, pair: Pair<Rule>) -> Vec<ConfigEntry> {
        pair.into_inner()
            .filter(|p| p.as_rule() == Rule::config_entry)
            .filter_map(|entry| {
                let span = self.span(&entry);
                let mut inner = entry.into_inner();
                let key = self.ident(&inner.next()?);
                let value = self.expr(inner.next()?);
                Some(ConfigEntry { key, value, span })
            })
            .collect()
    }

    // ------------------------------------------------------------ map declarations

    fn map_decl(&self, pair: Pair<Rule>) -> Option<MapDecl> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner().skip(1);
        let name = inner.next()?;
        let name = Ident {
            name: name.as_str()[1..].to_string(),
            span: self.span(&name),
        };
        let kind = self.ident(&inner.find(|p| p.as_rule() == Rule::ident)?);
        let args = inner
            .find(|p| p.as_rule() == Rule::call_args)
            .map(|a| self.call_args(a))
            .unwrap_or_default();
        Some(MapDecl {
            name,
            kind,
            args,
            span,
        })
    }

    // ------------------------------------------------------------ macros

    fn macro_def(&self, pair: Pair<Rule>) -> MacroDef {
        let span = self.span(&pair);
        let mut def = MacroDef {
            name: Ident {
                name: String::new(),
                span,
            },
            params: Vec::new(),
            body: BlockExpr {
                stmts: Vec::new(),
                value: None,
                span,
            },
            span,
        };
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::ident => def.name = self.ident(&part),
                Rule::macro_params => {
                    def.params = part.into_inner().map(|p| self.macro_param(&p)).collect();
                }
                Rule::block_expr => def.body = self.block_expr(part),
                _ => {}
            }
        }
        def
    }

    fn macro_param(&self, pair: &Pair<Rule>) -> MacroParam {
        let text = pair.as_str();
        let span = self.span(pair);
        let ident = |name: &str| Ident {
            name: name.to_string(),
            span,
        };
        if let Some(name) = text.strip_prefix('$') {
            MacroParam::Var(ident(name))
        } else if let Some(name) = text.strip_prefix('@') {
            MacroParam::Map(ident(name))
        } else {
            MacroParam::Expr(ident(text))
        }
    }

    /// A `block_expr`: its last statement is the value when it is an expression statement
    /// with nothing (no `;`) between it and the closing `}`.
    fn block_expr(&self, pair: Pair<Rule>) -> BlockExpr {
        let span = self.span(&pair);
        let text = pair.as_str();
        let Some(block) = pair.into_inner().next().map(|b| self.block(b)) else {
            return BlockExpr {
                stmts: Vec::new(),
                value: None,
                span,
            };
        };
        let (stmts, value) = split_value(block.stmts, text, span.start);
        BlockExpr { stmts, value, span }
    }

    /// `if (c) { a } else { b }` as a value: `c ? {a} : {b}`, each branch a block expression.
    fn if_expr(&self, pair: Pair<Rule>) -> ExprKind {
        let mut cond = None;
        let mut branches = Vec::new();
        for part in pair.into_inner() {
            let span = self.span(&part);
            match part.as_rule() {
                Rule::expr | Rule::bare_cond => cond = Some(self.expr(part)),
                Rule::block_expr => branches.push(Expr {
                    kind: ExprKind::Block(Box::new(self.block_expr(part))),
                    span,
                }),
                Rule::if_expr => branches.push(Expr {
                    kind: self.if_expr(part),
                    span,
                }),
                _ => {}
            }
        }
        let otherwise = branches.pop();
        let then = branches.pop();
        match (cond, then, otherwise) {
            (Some(cond), Some(then), Some(otherwise)) => ExprKind::Ternary {
                cond: Box::new(cond),
                then: Box::new(then),
                otherwise: Box::new(otherwise),
            },
            // The grammar always gives all three.
            _ => ExprKind::Int(0),
        }
    }

    // ------------------------------------------------------------ probes

    fn probe(&self, pair: Pair<Rule>) -> Probe {
        let span = self.span(&pair);
        let mut probe = Probe {
            attach_points: Vec::new(),
            predicate: None,
            body: Block {
                stmts: Vec::new(),
                span,
            },
            span,
        };
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::attach_list => {
                    probe.attach_points = part
                        .into_inner()
                        .filter_map(|ap| self.attach_point(ap))
                        .collect();
                }
                Rule::predicate => probe.predicate = part.into_inner().next().map(|e| self.expr(e)),
                Rule::block => probe.body = self.block(part),
                _ => {}
            }
        }
        probe
    }

    fn attach_point(&self, pair: Pair<Rule>) -> Option<AttachPoint> {
        let span = self.span(&pair);
        let mut raw = pair.as_str().to_string();
        let mut inner = pair.into_inner().peekable();
        let name = match inner.peek() {
            Some(p) if p.as_rule() == Rule::ap_name => inner.next().map(|p| self.ident(&p)),
            _ => None,
        };
        if inner.peek().is_some_and(|p| p.as_str().contains('$')) {
            return self.expanded_attach_point(&raw, name, span);
        }
        if let Some(n) = &name {
            raw = raw[n.name.len() + 1..].to_string();
        }
        let provider_ident = self.ident(&inner.next()?);
        let mut fields = Vec::new();
        for field in inner {
            let fspan = self.span(&field);
            let mut parts = field.into_inner();
            let Some(f) = parts.next() else {
                continue;
            };
            let (text, quoted) = match f.as_rule() {
                // A quoted name may carry an offset after it: `"echo_builtin"+0`.
                Rule::ap_quoted => {
                    let s = f.as_str();
                    let inner = s.get(1..s.len().saturating_sub(1)).unwrap_or_default();
                    // `\x` stands for `x` (a quote or a backslash).
                    let mut name = String::with_capacity(inner.len());
                    let mut chars = inner.chars();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => name.extend(chars.next()),
                            c => name.push(c),
                        }
                    }
                    let rest = parts.next().map(|p| p.as_str()).unwrap_or_default();
                    (format!("{name}{rest}"), true)
                }
                _ => (f.as_str().to_string(), false),
            };
            fields.push(ApField {
                text,
                quoted,
                span: fspan,
            });
        }
        let Some(provider) = Provider::from_name(&provider_ident.name) else {
            let all = Provider::ALL
                .iter()
                .flat_map(|p| p.kind().spellings.iter().copied());
            self.error(
                Diagnostic::error(
                    format!("unknown probe type `{}`", provider_ident.name),
                    provider_ident.span,
                )
                .with_label("not a probe type")
                .with_suggestion(&provider_ident.name, all),
            );
            return None;
        };
        if let Some(last) = fields.last().filter(|f| f.text.is_empty() && !f.quoted) {
            self.error(
                Diagnostic::error(
                    "expected a name after `:` in the attach point",
                    Span::new(last.span.start.saturating_sub(1), last.span.end),
                )
                .with_help(format!("write it as `{}:name`", provider_ident.name)),
            );
        }
        Some(AttachPoint {
            provider,
            provider_ident,
            fields,
            raw,
            span,
            name,
        })
    }

    /// An attach point whose probe type holds positional parameters (`BEG$1`, `$1`): the
    /// parameters are substituted into its text (`raw`, after any `name=`) and the result
    /// is parsed as an attach point. Everything in it is placed at the original's span,
    /// since the substituted text is not in the source.
    fn expanded_attach_point(
        &self,
        raw: &str,
        name: Option<Ident>,
        span: Span,
    ) -> Option<AttachPoint> {
        let raw = match &name {
            Some(n) => raw.get(n.name.len() + 1..).unwrap_or_default(),
            None => raw,
        };
        let mut text = String::new();
        let mut rest = raw;
        while let Some(at) = rest.find('$') {
            text.push_str(&rest[..at]);
            let digits = rest[at + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            let n: usize = rest[at + 1..at + 1 + digits].parse().unwrap_or(0);
            match n.checked_sub(1).and_then(|i| self.params.get(i)) {
                Some(p) if digits > 0 => text.push_str(p),
                _ if digits > 0 => {
                    self.error(
                        Diagnostic::error(format!("positional parameter ${n} is not set"), span)
                            .with_label("it stands for part of this attach point")
                            .with_help("pass it after the script: rbt -e 'PROGRAM' ARG"),
                    );
                    return None;
                }
                _ => text.push('$'),
            }
            rest = &rest[at + 1 + digits..];
        }
        text.push_str(rest);
        let Ok(mut pairs) =
            <super::Grammar as pest::Parser<Rule>>::parse(Rule::attach_point_item, &text)
        else {
            self.error(
                Diagnostic::error(
                    format!("attach point `{raw}` becomes `{text}`, which is not an attach point"),
                    span,
                )
                .with_label("after substituting its positional parameters")
                .with_help("an attach point looks like `provider:field:...`, e.g. `interval:s:1`"),
            );
            return None;
        };
        let inner = Builder::new(0);
        let ap = pairs
            .next()
            .and_then(|item| {
                item.into_inner()
                    .find(|p| p.as_rule() == Rule::attach_point)
            })
            .and_then(|p| inner.attach_point(p));
        for mut d in inner.finish() {
            d.span = span;
            d.secondary.clear();
            self.error(d);
        }
        let mut ap = ap?;
        ap.span = span;
        ap.provider_ident.span = span;
        for f in &mut ap.fields {
            f.span = span;
        }
        ap.name = name;
        Some(ap)
    }

    fn block(&self, pair: Pair<Rule>) -> Block {
        let span = self.span(&pair);
        let stmts = pair.into_inner().filter_map(|s| self.stmt(s)).collect();
        Block { stmts, span }
    }

    // ------------------------------------------------------------ statements

    fn stmt(&self, pair: Pair<Rule>) -> Option<Stmt> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        let kind = match rule {
            Rule::expr_stmt => StmtKind::Expr(self.expr(inner.next()?)),
            Rule::assign_stmt => {
                let parts: Vec<Pair<Rule>> = inner.collect();
                let op_at = parts.iter().position(|p| p.as_rule() == Rule::assign_op)?;
                let target = self.unary(parts[..op_at].iter().cloned());
                let op = assign_op(parts[op_at].as_str());
                let value = self.expr(parts.get(op_at + 1)?.clone());
                StmtKind::Assign { target, op, value }
            }
            Rule::let_stmt => {
                inner.next(); // `let`
                let var = self.var_ident(&inner.next()?);
                let mut ty = None;
                let mut init = None;
                for part in inner {
                    match part.as_rule() {
                        Rule::type_expr => ty = Some(self.type_expr(part)),
                        Rule::expr => init = Some(self.expr(part)),
                        _ => {}
                    }
                }
                StmtKind::Let { var, ty, init }
            }
            Rule::break_stmt => StmtKind::Break,
            Rule::continue_stmt => StmtKind::Continue,
            Rule::return_stmt => StmtKind::Return(inner.nth(1).map(|e| self.expr(e))),
            Rule::block_stmt => StmtKind::Block(self.block(inner.next()?)),
            Rule::if_stmt => return self.if_stmt(span, inner),
            Rule::unroll_stmt | Rule::while_stmt => {
                inner.next(); // keyword
                let cond = self.expr(inner.next()?);
                let body = self.block(inner.next()?);
                if rule == Rule::unroll_stmt {
                    StmtKind::Unroll { count: cond, body }
                } else {
                    StmtKind::While { cond, body }
                }
            }
            Rule::for_stmt => {
                inner.next(); // `for`
                let var = self.var_ident(&inner.next()?);
                let source = inner.next()?;
                let body = self.block(inner.next()?);
                if source.as_rule() == Rule::for_range {
                    let mut bounds = source.into_inner();
                    let start = self.expr(bounds.next()?);
                    let end = self.expr(bounds.next()?);
                    StmtKind::ForRange {
                        var,
                        start,
                        end,
                        body,
                    }
                } else {
                    let name = Ident {
                        name: source.as_str()[1..].to_string(),
                        span: self.span(&source),
                    };
                    let map = Expr {
                        kind: ExprKind::Map {
                            name,
                            keys: Vec::new(),
                        },
                        span: self.span(&source),
                    };
                    StmtKind::ForMap { var, map, body }
                }
            }
            _ => return None,
        };
        Some(Stmt { kind, span })
    }

    /// Builds `if (c) {} else if (c) {} ... else {}` from the flat grammar node, nesting
    /// each `else if` in the previous one's `otherwise` (innermost first, without recursion).
    fn if_stmt(&self, span: Span, inner: Pairs<Rule>) -> Option<Stmt> {
        // (condition, block, span of the `if` through the end of the chain)
        let mut arms: Vec<(Expr, Block, usize)> = Vec::new();
        let mut last_else = None;
        let mut pending_cond = None;
        let mut arm_start = span.start;
        for part in inner {
            match part.as_rule() {
                Rule::expr | Rule::bare_cond => pending_cond = Some(self.expr(part)),
                Rule::block => match pending_cond.take() {
                    Some(cond) => arms.push((cond, self.block(part), arm_start)),
                    None => last_else = Some(Else::Block(self.block(part))),
                },
                Rule::else_if => {
                    let start = self.span(&part).start;
                    let mut parts = part.into_inner().skip(1);
                    let cond = self.expr(parts.next()?);
                    arms.push((cond, self.block(parts.next()?), start));
                }
                Rule::kw_if => arm_start = self.span(&part).start,
                _ => {}
            }
        }
        let mut otherwise = last_else;
        let mut result = None;
        while let Some((cond, then, start)) = arms.pop() {
            let stmt = Stmt {
                kind: StmtKind::If {
                    cond,
                    then,
                    otherwise,
                },
                span: Span::new(start, span.end),
            };
            if arms.is_empty() {
                result = Some(Stmt { span, ..stmt });
                break;
            }
            otherwise = Some(Else::If(Box::new(stmt)));
        }
        result
    }

    /// `$name` as an identifier without the `$`, as `Let`/`For` store it.
    fn var_ident(&self, pair: &Pair<Rule>) -> Ident {
        Ident {
            name: pair.as_str().trim_start_matches('$').to_string(),
            span: self.span(pair),
        }
    }

    // ------------------------------------------------------------ expressions

    pub fn expr(&self, pair: Pair<Rule>) -> Expr {
        self.unary(pair.into_inner())
    }

    /// Folds a flat operand/operator sequence with the Pratt parser.
    fn unary<'i>(&self, pairs: impl Iterator<Item = Pair<'i, Rule>>) -> Expr {
        self.pratt
            .map_primary(|p| self.primary(p))
            .map_prefix(|op, rhs| self.prefix(op, rhs))
            .map_postfix(|lhs, op| self.postfix(lhs, op))
            .map_infix(|lhs, op, rhs| self.infix(lhs, op, rhs))
            .parse(pairs)
    }

    fn prefix(&self, op: Pair<Rule>, rhs: Expr) -> Expr {
        let span = self.span(&op).to(rhs.span);
        let rule = op.as_rule();
        let unary = |op, rhs| ExprKind::Unary {
            op,
            expr: Box::new(rhs),
        };
        let kind = match rule {
            Rule::pre_inc | Rule::pre_dec => ExprKind::IncDec {
                target: Box::new(rhs),
                increment: rule == Rule::pre_inc,
                prefix: true,
            },
            Rule::comptime => ExprKind::Comptime(Box::new(rhs)),
            Rule::neg => unary(UnaryOp::Neg, rhs),
            Rule::not => unary(UnaryOp::Not, rhs),
            Rule::bitnot => unary(UnaryOp::BitNot, rhs),
            Rule::deref => unary(UnaryOp::Deref, rhs),
            Rule::addr_of => unary(UnaryOp::AddrOf, rhs),
            _ => match op.into_inner().next() {
                Some(ty) => ExprKind::Cast {
                    ty: self.type_expr(ty),
                    expr: Box::new(rhs),
                },
                None => return rhs,
            },
        };
        Expr { kind, span }
    }

    fn postfix(&self, lhs: Expr, op: Pair<Rule>) -> Expr {
        let start = self.groups.borrow().get(&lhs.span).copied();
        let mut span = lhs.span.to(self.span(&op));
        span.start = start.unwrap_or(span.start);
        let rule = op.as_rule();
        let kind = match rule {
            Rule::post_inc | Rule::post_dec => ExprKind::IncDec {
                target: Box::new(lhs),
                increment: rule == Rule::post_inc,
                prefix: false,
            },
            Rule::arrow | Rule::field => match op.into_inner().next() {
                Some(f) => ExprKind::Field {
                    expr: Box::new(lhs),
                    field: self.ident(&f),
                    arrow: rule == Rule::arrow,
                },
                None => return lhs,
            },
            Rule::tuple_index => {
                let Some(digits) = op.into_inner().next() else {
                    return lhs;
                };
                match digits.as_str().parse::<u32>() {
                    Ok(index) => ExprKind::TupleIndex {
                        expr: Box::new(lhs),
                        index,
                    },
                    Err(_) => {
                        self.error(Diagnostic::error(
                            "tuple index is too large",
                            self.span(&digits),
                        ));
                        return lhs;
                    }
                }
            }
            _ => match op.into_inner().next() {
                Some(i) => ExprKind::Index {
                    expr: Box::new(lhs),
                    index: Box::new(self.expr(i)),
                },
                None => return lhs,
            },
        };
        Expr { kind, span }
    }

    fn infix(&self, lhs: Expr, op: Pair<Rule>, rhs: Expr) -> Expr {
        let span = lhs.span.to(rhs.span);
        let op = match op.as_rule() {
            Rule::op_ternary => {
                // Without a middle operand the condition is also the value when it is true;
                // it is evaluated twice, as in bpftrace.
                let then = match op.into_inner().next() {
                    Some(e) => self.expr(e),
                    None => lhs.clone(),
                };
                let kind = ExprKind::Ternary {
                    cond: Box::new(lhs),
                    then: Box::new(then),
                    otherwise: Box::new(rhs),
                };
                return Expr { kind, span };
            }
            Rule::op_or => BinaryOp::LogicalOr,
            Rule::op_and => BinaryOp::LogicalAnd,
            Rule::op_bitor => BinaryOp::BitOr,
            Rule::op_bitxor => BinaryOp::BitXor,
            Rule::op_bitand => BinaryOp::BitAnd,
            Rule::op_eq => BinaryOp::Eq,
            Rule::op_ne => BinaryOp::Ne,
            Rule::op_shl => BinaryOp::Shl,
            Rule::op_shr => BinaryOp::Shr,
            Rule::op_le => BinaryOp::Le,
            Rule::op_ge => BinaryOp::Ge,
            Rule::op_lt => BinaryOp::Lt,
            Rule::op_gt => BinaryOp::Gt,
            Rule::op_add => BinaryOp::Add,
            Rule::op_sub => BinaryOp::Sub,
            Rule::op_mul => BinaryOp::Mul,
            Rule::op_div => BinaryOp::Div,
            _ => BinaryOp::Mod,
        };
        Expr {
            kind: ExprKind::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
            span,
        }
    }

    fn primary(&self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        let text = pair.as_str();
        let kind = match pair.as_rule() {
            Rule::int => ExprKind::Int(self.int_value(&pair).unwrap_or(0)),
            Rule::string => {
                let body = pair.clone().into_inner().next();
                let (body_text, body_start) =
                    body.map_or(("", span.start + 1), |b| (b.as_str(), self.span(&b).start));
                match decode_string(body_text) {
                    Ok(bytes) => ExprKind::Str(bytes),
                    Err(e) => {
                        self.lit_error(e, body_start);
                        ExprKind::Str(Vec::new())
                    }
                }
            }
            Rule::kw_true => ExprKind::Bool(true),
            Rule::kw_false => ExprKind::Bool(false),
            Rule::var => ExprKind::Var(text.trim_start_matches('$').to_string()),
            Rule::positional => match text[1..].parse::<u32>() {
                Ok(0) | Err(_) => {
                    self.error(
                        Diagnostic::error(format!("invalid positional parameter `{text}`"), span)
                            .with_help("positional parameters are numbered from `$1`"),
                    );
                    ExprKind::Positional(0)
                }
                Ok(n) => ExprKind::Positional(n),
            },
            Rule::positional_count => ExprKind::PositionalCount,
            Rule::map => {
                let mut inner = pair.into_inner();
                let name = inner.next().map(|n| Ident {
                    name: n.as_str()[1..].to_string(),
                    span: self.span(&n),
                });
                let name = name.unwrap_or_else(|| Ident {
                    name: String::new(),
                    span,
                });
                ExprKind::Map {
                    name,
                    keys: inner.map(|k| self.expr(k)).collect(),
                }
            }
            Rule::ident => ExprKind::Ident(text.to_string()),
            Rule::call => {
                let mut inner = pair.into_inner();
                let func = inner
                    .next()
                    .map(|f| self.ident(&f))
                    .unwrap_or_else(|| Ident {
                        name: String::new(),
                        span,
                    });
                let args = inner.next().map(|a| self.call_args(a)).unwrap_or_default();
                ExprKind::Call { func, args }
            }
            Rule::paren => {
                let parts: Vec<Pair<Rule>> = pair.into_inner().collect();
                let tuple = parts.iter().any(|p| p.as_rule() == Rule::trailing_comma);
                let mut elems: Vec<Expr> = parts
                    .into_iter()
                    .filter(|p| p.as_rule() != Rule::trailing_comma)
                    .map(|e| self.expr(e))
                    .collect();
                if elems.len() == 1 && !tuple {
                    // Parentheses only group; the span of the inner expression widens to them
                    // so that diagnostics underline what the user wrote.
                    let mut e = elems.remove(0);
                    let inner = self.groups.borrow().get(&e.span).copied();
                    self.groups
                        .borrow_mut()
                        .insert(span, inner.unwrap_or(e.span.start));
                    e.span = span;
                    return e;
                }
                ExprKind::Tuple(elems)
            }
            Rule::record_lit => {
                let fields = pair
                    .into_inner()
                    .filter_map(|f| {
                        let mut parts = f.into_inner();
                        let name = self.ident(&parts.next()?);
                        // The `=` between the name and the value.
                        parts.next()?;
                        Some((name, self.expr(parts.next()?)))
                    })
                    .collect();
                ExprKind::Record(fields)
            }
            Rule::type_query => {
                let mut inner = pair.into_inner();
                let (Some(keyword), Some(arg)) = (inner.next(), inner.next()) else {
                    return Expr {
                        kind: ExprKind::Int(0),
                        span,
                    };
                };
                let query = if keyword.as_rule() == Rule::kw_typeinfo {
                    TypeQuery::Typeinfo
                } else {
                    TypeQuery::Sizeof
                };
                let arg = if arg.as_rule() == Rule::cast_type {
                    TypeOrExpr::Type(self.type_expr(arg))
                } else {
                    TypeOrExpr::Expr(self.expr(arg))
                };
                ExprKind::TypeQuery {
                    query,
                    arg: Box::new(arg),
                }
            }
            Rule::block_expr => ExprKind::Block(Box::new(self.block_expr(pair))),
            Rule::if_expr => self.if_expr(pair),
            Rule::container_of_expr => {
                let mut inner = pair.into_inner().skip(1);
                let (Some(ptr), Some(ty)) = (inner.next(), inner.next()) else {
                    return Expr {
                        kind: ExprKind::Int(0),
                        span,
                    };
                };
                ExprKind::ContainerOf {
                    ptr: Box::new(self.expr(ptr)),
                    ty: self.type_expr(ty),
                    fields: inner.map(|f| self.ident(&f)).collect(),
                }
            }
            Rule::offsetof_expr => {
                let mut inner = pair.into_inner().skip(1);
                let Some(ty) = inner.next().map(|t| self.type_expr(t)) else {
                    return Expr {
                        kind: ExprKind::Int(0),
                        span,
                    };
                };
                ExprKind::Offsetof {
                    ty,
                    fields: inner.map(|f| self.ident(&f)).collect(),
                }
            }
            _ => ExprKind::Ident(text.to_string()),
        };
        Expr { kind, span }
    }
}

/// Splits the value off the statements of a block written as `text` (starting at `start` in
/// the source): the last statement, when nothing but the closing `}` follows it, and it is
/// an expression or itself a block with a value (`{ { 1 } }`).
fn split_value(mut stmts: Vec<Stmt>, text: &str, start: usize) -> (Vec<Stmt>, Option<Expr>) {
    let ends_block = stmts.last().is_some_and(|last| {
        text.get(last.span.end.saturating_sub(start)..)
            .is_some_and(|rest| rest.trim() == "}")
    });
    if !ends_block {
        return (stmts, None);
    }
    let Some(last) = stmts.pop() else {
        return (stmts, None);
    };
    let value = match last.kind {
        StmtKind::Expr(e) => Some(e),
        StmtKind::Block(inner) => {
            let inner_text = text
                .get(inner.span.start.saturating_sub(start)..inner.span.end.saturating_sub(start))
                .unwrap_or_default();
            let (inner_stmts, inner_value) = split_value(inner.stmts, inner_text, inner.span.start);
            match inner_value {
                Some(v) => Some(Expr {
                    kind: ExprKind::Block(Box::new(BlockExpr {
                        stmts: inner_stmts,
                        value: Some(v),
                        span: inner.span,
                    })),
                    span: inner.span,
                }),
                None => {
                    stmts.push(Stmt {
                        kind: StmtKind::Block(Block {
                            stmts: inner_stmts,
                            span: inner.span,
                        }),
                        span: last.span,
                    });
                    None
                }
            }
        }
        StmtKind::If {
            cond,
            then,
            otherwise: Some(otherwise),
        } => match if_value(&cond, &then, &otherwise, text, start, last.span) {
            Some(v) => Some(v),
            None => {
                let kind = StmtKind::If {
                    cond,
                    then,
                    otherwise: Some(otherwise),
                };
                stmts.push(Stmt {
                    kind,
                    span: last.span,
                });
                None
            }
        },
        kind => {
            stmts.push(Stmt {
                kind,
                span: last.span,
            });
            None
        }
    };
    (stmts, value)
}

/// A block's last statement `if (c) { ..; a } else { ..; b }` whose branches both end in a
/// value is the block's value, `c ? {..; a} : {..; b}` (bpftrace 0.27). Branches that end in
/// a call that returns nothing (`printf`) stay a statement. `text` is the enclosing block's
/// text, which starts at `start`.
fn if_value(
    cond: &Expr,
    then: &Block,
    otherwise: &Else,
    text: &str,
    start: usize,
    span: Span,
) -> Option<Expr> {
    let branch = |b: &Block| -> Option<Expr> {
        let own = text.get(b.span.start.checked_sub(start)?..b.span.end.checked_sub(start)?)?;
        let (stmts, value) = split_value(b.stmts.clone(), own, b.span.start);
        let value = value.filter(|v| !returns_nothing(v))?;
        let block = BlockExpr {
            stmts,
            value: Some(value),
            span: b.span,
        };
        Some(Expr {
            kind: ExprKind::Block(Box::new(block)),
            span: b.span,
        })
    };
    let then = branch(then)?;
    let otherwise = match otherwise {
        Else::Block(b) => branch(b)?,
        Else::If(inner) => match &inner.kind {
            StmtKind::If {
                cond,
                then,
                otherwise: Some(o),
            } => if_value(cond, then, o, text, start, inner.span)?,
            _ => return None,
        },
    };
    Some(Expr {
        kind: ExprKind::Ternary {
            cond: Box::new(cond.clone()),
            then: Box::new(then),
            otherwise: Box::new(otherwise),
        },
        span,
    })
}

/// Whether `e` calls a builtin that returns nothing, or chooses between such calls.
fn returns_nothing(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Call { func, .. } => stdlib::builtins::Function::from_name(&func.name)
            .is_some_and(|f| f.spec().kind == stdlib::builtins::Kind::Statement),
        ExprKind::Ternary {
            then, otherwise, ..
        } => returns_nothing(then) || returns_nothing(otherwise),
        _ => false,
    }
}

fn assign_op(text: &str) -> Option<BinaryOp> {
    Some(match text.trim_end_matches('=') {
        "+" => BinaryOp::Add,
        "-" => BinaryOp::Sub,
        "*" => BinaryOp::Mul,
        "/" => BinaryOp::Div,
        "%" => BinaryOp::Mod,
        "&" => BinaryOp::BitAnd,
        "|" => BinaryOp::BitOr,
        "^" => BinaryOp::BitXor,
        "<<" => BinaryOp::Shl,
        ">>" => BinaryOp::Shr,
        _ => return None,
    })
}

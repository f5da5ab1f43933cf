//! `rbt --fmt`: a script printed back in one layout, with every comment kept.
//!
//! The layout is bpftrace 0.27's: two-space indents, a probe's attach points one per line
//! with its `{` on a line of its own, one statement per line ending in `;`, spaces around
//! binary operators, and parentheses around an operand that is itself an operator
//! expression, so that precedence never has to be remembered (`1 + (2 * 3)`). Literals are
//! kept as written (`0x10`, `1_000`, escapes), and so are C definitions, imports,
//! preprocessor lines and the blank lines between statements.
//!
//! Where 0.27's formatter loses something, this one does not (each is a deliberate
//! difference): conditions keep their parentheses (`if ($x) {`, `while ($i < 3) {`,
//! `for ($kv : @m) {`), which every bpftrace version reads; `->` stays `->`; a comment
//! inside an expression moves before its statement instead of disappearing; a comment after
//! a statement stays at the end of its line; and an operand that is a comparison keeps its
//! parentheses (`$a + ($b == 1)`, which 0.27 prints as `$a + $b == 1`, a different
//! expression). Block comments that span lines become `//` lines, as in 0.27.
//!
//! A statement, condition or predicate longer than 91 columns is wrapped as 0.27 wraps it:
//! the arguments of its outermost call with more than one (or the elements of a tuple, the
//! keys of a map, the operands of a chain of `&&` or `||`) continue on lines aligned after
//! the opening bracket, and the last line holds as many as fit, then the one before it, and
//! so on. Other long expressions stay on one line (0.27 breaks some of them in ways that
//! depend on its internals, such as around every operator of a long sum).
//!
//! The formatted script parses to the same tree as the original (tests/format.rs checks it
//! over every script rbt has), and formatting it again changes nothing.

use crate::ast::{
    BinaryOp, Block, BlockExpr, ConfigEntry, Else, Expr, ExprKind, MacroDef, MacroParam, MapDecl,
    Probe, Span, Stmt, StmtKind, TypeExpr, TypeName, TypeOrExpr, UnaryOp,
};
use crate::parse::{parse_for_format, ItemKind};
use crate::preprocess::{Trivia, TriviaKind};
use stdlib::diag::Diagnostic;

const INDENT: &str = "  ";

/// The widest line a statement is written on before it is wrapped (see the module doc).
const WIDTH: usize = 91;

/// A list that may be wrapped: `before`, the items separated by `sep`, then `after`.
/// Continuation lines start under the first item; a line break replaces the space that
/// ends `sep` (`", "`, `" && "`).
struct Wrap {
    before: String,
    items: Vec<String>,
    sep: &'static str,
    after: String,
}

impl Wrap {
    /// The list starting at column `col`, followed on its last line by `tail` (`;`,
    /// `) {`): the last line takes as many items as fit in [`WIDTH`], then the line before
    /// it, and so on; the first line takes what is left.
    fn layout(&self, col: usize, tail: &str) -> String {
        let align = col + self.before.len();
        let glue = self.sep.trim_end();
        // Lines from the last, each with its items from the last; `used` counts the current
        // line's items and what ends it.
        let mut lines: Vec<Vec<&str>> = Vec::new();
        let mut line: Vec<&str> = Vec::new();
        let mut used = self.after.len() + tail.len();
        for item in self.items.iter().rev() {
            if line.is_empty() {
                used += item.len();
            } else if align + used + self.sep.len() + item.len() <= WIDTH {
                used += self.sep.len() + item.len();
            } else {
                lines.push(std::mem::take(&mut line));
                used = glue.len() + item.len();
            }
            line.push(item);
        }
        lines.push(line);
        let rows: Vec<String> = lines
            .iter()
            .rev()
            .map(|l| {
                l.iter()
                    .rev()
                    .copied()
                    .collect::<Vec<&str>>()
                    .join(self.sep)
            })
            .collect();
        let indent = format!("{glue}\n{}", " ".repeat(align));
        format!("{}{}{}{tail}", self.before, rows.join(&indent), self.after)
    }
}

/// The script in rbt's layout, or the errors that keep it from being parsed.
pub fn format(source: &str) -> Result<String, Vec<Diagnostic>> {
    let (script, layout, diags) = parse_for_format(source);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    let mut f = Formatter::new(source, &layout.code, layout.trivia, 0);
    let within = |outer: Span, inner: Span| outer.start <= inner.start && inner.end <= outer.end;
    for &(kind, span) in &layout.items {
        match kind {
            ItemKind::CDefinition => f.verbatim(span, ";"),
            ItemKind::Import => f.verbatim(span, ""),
            ItemKind::Config => {
                let entries: Vec<&ConfigEntry> = script
                    .config
                    .iter()
                    .filter(|c| within(span, c.span))
                    .collect();
                f.config(&entries, span);
            }
            ItemKind::Macro => {
                for m in script.macros.iter().filter(|m| within(span, m.span)) {
                    f.macro_def(m);
                }
            }
            ItemKind::MapDecl => {
                for d in script.map_decls.iter().filter(|d| within(span, d.span)) {
                    f.map_decl(d);
                }
            }
            ItemKind::Probe => {
                for p in script.probes.iter().filter(|p| within(span, p.span)) {
                    f.probe(p);
                }
            }
        }
    }
    f.flush_before(source.len());
    Ok(f.out)
}

struct Formatter<'a> {
    src: &'a str,
    /// `src` with the trivia blanked.
    code: &'a str,
    out: String,
    /// The comments and kept lines, in source order; `next` is the first not yet printed.
    trivia: Vec<Trivia>,
    next: usize,
    /// Blocks open around the line being written.
    depth: usize,
    /// Where in the source what was printed last ends: blank lines are counted from here.
    last_end: usize,
    /// Nothing is printed yet in the current block (or file): no blank line goes first.
    fresh: bool,
}

impl<'a> Formatter<'a> {
    fn new(src: &'a str, code: &'a str, trivia: Vec<Trivia>, depth: usize) -> Self {
        Formatter {
            src,
            code,
            out: String::new(),
            trivia,
            next: 0,
            depth,
            last_end: 0,
            fresh: true,
        }
    }

    fn text(&self, span: Span) -> &'a str {
        &self.src[span.start..span.end]
    }

    /// Starts a line for what the source has at `at`, after the blank lines it had before.
    fn start_line(&mut self, at: usize) {
        if !self.fresh && at > self.last_end {
            let gap: Vec<&str> = self.src[self.last_end..at].split('\n').collect();
            let blank = gap
                .iter()
                .skip(1)
                .take(gap.len().saturating_sub(2))
                .filter(|l| l.trim().is_empty())
                .count();
            for _ in 0..blank {
                self.out.push('\n');
            }
        }
        self.fresh = false;
        for _ in 0..self.depth {
            self.out.push_str(INDENT);
        }
    }

    /// Writes one line (which may hold further, already indented lines) for what the source
    /// has at `at`.
    fn line(&mut self, at: usize, text: &str) {
        self.start_line(at);
        self.out.push_str(text);
        self.out.push('\n');
        self.last_end = self.last_end.max(at);
    }

    /// Prints every comment and kept line that starts before `pos`, each on lines of its own.
    fn flush_before(&mut self, pos: usize) {
        while let Some(t) = self.trivia.get(self.next).copied() {
            if t.span.start >= pos {
                break;
            }
            self.next += 1;
            let text = self.text(t.span);
            match t.kind {
                TriviaKind::Lines => {
                    // As written, from the first column: directives and switched-off code.
                    let depth = std::mem::replace(&mut self.depth, 0);
                    self.line(t.span.start, text.trim_end());
                    self.depth = depth;
                }
                TriviaKind::Comment => {
                    for (i, l) in comment_lines(text).iter().enumerate() {
                        self.line(if i == 0 { t.span.start } else { self.last_end }, l);
                    }
                }
            }
            self.last_end = self.last_end.max(t.span.end);
        }
    }

    /// After what ended at `end` in the source: a one-line comment that follows it on the
    /// same source line (after at most a `;`) stays at the end of the printed line.
    fn trailing(&mut self, end: usize) {
        self.last_end = self.last_end.max(end);
        let Some(t) = self.trivia.get(self.next).copied() else {
            return;
        };
        let text = self.text(t.span);
        let between = self.src.get(end..t.span.start).unwrap_or("\n");
        if t.kind == TriviaKind::Comment
            && !text.contains('\n')
            && between
                .chars()
                .all(|c| c == ';' || (c.is_whitespace() && c != '\n'))
        {
            self.out.pop();
            self.out.push(' ');
            self.out.push_str(text.trim_end());
            self.out.push('\n');
            self.next += 1;
            self.last_end = t.span.end;
        }
    }

    /// An item printed as written (a C definition, an import), with the comments inside it,
    /// ending in `end` (`;` after a C definition) if it does not already.
    fn verbatim(&mut self, span: Span, end: &str) {
        self.flush_before(span.start);
        let text = self.text(span).trim_end();
        let text = match text.ends_with(end) {
            true => text.to_string(),
            false => format!("{text}{end}"),
        };
        self.line(span.start, &text);
        while self
            .trivia
            .get(self.next)
            .is_some_and(|t| t.span.start < span.end)
        {
            self.next += 1;
        }
        self.trailing(span.end);
    }

    fn config(&mut self, entries: &[&ConfigEntry], span: Span) {
        self.flush_before(span.start);
        self.line(span.start, "config = {");
        self.open(span);
        for e in entries {
            self.flush_before(e.span.end);
            let line = format!("{} = {};", e.key.name, self.expr(&e.value));
            self.line(e.span.start, &line);
            self.trailing(e.span.end);
        }
        self.close(span);
        self.trailing(span.end);
    }

    fn macro_def(&mut self, m: &MacroDef) {
        self.flush_before(m.body.span.start);
        let params: Vec<String> = m
            .params
            .iter()
            .map(|p| match p {
                MacroParam::Var(i) => format!("${}", i.name),
                MacroParam::Map(i) => format!("@{}", i.name),
                MacroParam::Expr(i) => i.name.clone(),
            })
            .collect();
        let head = format!("macro {}({})", m.name.name, params.join(", "));
        self.line(m.span.start, &head);
        self.line(m.body.span.start, "{");
        self.block_expr_body(&m.body);
        self.trailing(m.span.end);
    }

    fn map_decl(&mut self, d: &MapDecl) {
        self.flush_before(d.span.end);
        let line = format!(
            "let @{} = {}({});",
            d.name.name,
            d.kind.name,
            self.list(&d.args)
        );
        self.line(d.span.start, &line);
        self.trailing(d.span.end);
    }

    fn probe(&mut self, p: &Probe) {
        // A comment in the attach points or the predicate goes before the probe.
        self.flush_before(p.body.span.start);
        let points: Vec<String> = p
            .attach_points
            .iter()
            .map(|a| match &a.name {
                Some(n) => format!("{}={}", n.name, a.raw),
                None => a.raw.clone(),
            })
            .collect();
        let mut head = points.join(",\n");
        if let Some(pred) = &p.predicate {
            head.push('\n');
            head.push_str(&self.fill_condition(0, "/", pred, "/"));
        }
        head.push_str("\n{");
        self.line(p.span.start, &head);
        self.block(&p.body);
        self.trailing(p.span.end);
    }

    /// After a line ending in `{`: the block's statements, then its `}`; `{}` for a block
    /// with nothing in it, as 0.27 prints it.
    fn block(&mut self, b: &Block) {
        let holds_trivia = self
            .trivia
            .get(self.next)
            .is_some_and(|t| t.span.start < b.span.end);
        if b.stmts.is_empty() && !holds_trivia {
            self.out.pop();
            self.out.push_str("}\n");
            self.last_end = self.last_end.max(b.span.end);
            return;
        }
        self.open(b.span);
        for s in &b.stmts {
            self.stmt(s);
        }
        self.close(b.span);
    }

    /// A macro body or block expression: statements, then the value without a `;`.
    fn block_expr_body(&mut self, b: &BlockExpr) {
        self.open(b.span);
        for s in &b.stmts {
            self.stmt(s);
        }
        if let Some(v) = &b.value {
            self.flush_before(v.span.end);
            let text = self.fill(self.depth * INDENT.len(), "", v, "");
            self.line(v.span.start, &text);
            self.trailing(v.span.end);
        }
        self.close(b.span);
    }

    fn open(&mut self, span: Span) {
        self.depth += 1;
        self.fresh = true;
        self.last_end = self.last_end.max(span.start + 1);
    }

    /// The comments left before the block's `}`, then the `}` itself, with no blank line
    /// before it.
    fn close(&mut self, span: Span) {
        self.flush_before(span.end);
        self.depth -= 1;
        self.fresh = true;
        self.line(span.end, "}");
    }

    fn stmt(&mut self, s: &Stmt) {
        // Comments inside the statement's expressions go before it; those in its blocks stay
        // in them.
        let head_end = match &s.kind {
            StmtKind::If { then, .. } => then.span.start,
            StmtKind::Unroll { body, .. }
            | StmtKind::While { body, .. }
            | StmtKind::ForMap { body, .. }
            | StmtKind::ForRange { body, .. }
            | StmtKind::Block(body) => body.span.start,
            StmtKind::Expr(_)
            | StmtKind::Assign { .. }
            | StmtKind::Let { .. }
            | StmtKind::Break
            | StmtKind::Continue
            | StmtKind::Return(_) => s.span.end,
        };
        self.flush_before(head_end);
        let at = s.span.start;
        let col = self.depth * INDENT.len();
        match &s.kind {
            StmtKind::Expr(e) => {
                let line = self.fill(col, "", e, ";");
                self.line(at, &line);
            }
            StmtKind::Assign { target, op, value } => {
                let op = op.map_or("", BinaryOp::symbol);
                let head = format!("{} {op}= ", self.expr(target));
                let line = match self.list_to_wrap(value) {
                    Some(_) => self.fill(col, &head, value, ";"),
                    None => self.fill(col, "", target, &format!(" {op}= {};", self.expr(value))),
                };
                self.line(at, &line);
            }
            StmtKind::Let { var, ty, init } => {
                let mut head = format!("let ${}", var.name);
                if let Some(ty) = ty {
                    head.push_str(&format!(" : {}", self.type_expr(ty)));
                }
                let line = match init {
                    Some(init) => self.fill(col, &format!("{head} = "), init, ";"),
                    None => format!("{head};"),
                };
                self.line(at, &line);
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => self.if_chain(at, cond, then, otherwise.as_ref()),
            StmtKind::Unroll { count, body } => {
                let line = format!("unroll ({}) {{", self.expr(count));
                self.line(at, &line);
                self.block(body);
            }
            StmtKind::While { cond, body } => {
                let line = self.fill_condition(col, "while (", cond, ") {");
                self.line(at, &line);
                self.block(body);
            }
            StmtKind::ForMap { var, map, body } => {
                let line = format!("for (${} : {}) {{", var.name, self.expr(map));
                self.line(at, &line);
                self.block(body);
            }
            StmtKind::ForRange {
                var,
                start,
                end,
                body,
            } => {
                let line = format!(
                    "for (${} : {}..{}) {{",
                    var.name,
                    self.expr(start),
                    self.expr(end)
                );
                self.line(at, &line);
                self.block(body);
            }
            StmtKind::Break => self.line(at, "break;"),
            StmtKind::Continue => self.line(at, "continue;"),
            StmtKind::Return(None) => self.line(at, "return;"),
            StmtKind::Return(Some(e)) => {
                let line = self.fill(col, "return ", e, ";");
                self.line(at, &line);
            }
            StmtKind::Block(b) => {
                self.line(at, "{");
                self.block(b);
            }
        }
        self.trailing(s.span.end);
    }

    /// `if (c) {`, then each `} else if (c) {` and a final `} else {`, each followed by its
    /// block. The closing `}` of one block and the next `else` share a line.
    fn if_chain(&mut self, at: usize, cond: &Expr, then: &Block, otherwise: Option<&Else>) {
        let line = self.fill_condition(self.depth * INDENT.len(), "if (", cond, ") {");
        self.line(at, &line);
        let mut then = then;
        let mut otherwise = otherwise;
        loop {
            self.block(then);
            let Some(next) = otherwise else {
                return;
            };
            // Replace the `}` just written by `} else ...`.
            self.out.truncate(self.out.len() - 1);
            match next {
                Else::Block(b) => {
                    self.out.push_str(" else {\n");
                    self.block(b);
                    return;
                }
                Else::If(stmt) => match &stmt.kind {
                    StmtKind::If {
                        cond,
                        then: t,
                        otherwise: o,
                    } => {
                        let line_start = self.out.rfind('\n').map_or(0, |i| i + 1);
                        let col = self.out.len() - line_start;
                        let text = self.fill_condition(col, " else if (", cond, ") {");
                        self.out.push_str(&text);
                        self.out.push('\n');
                        then = t;
                        otherwise = o.as_ref();
                    }
                    // The parser only puts an `if` here; anything else is an `else` block
                    // of that one statement.
                    _ => {
                        self.out.push_str(" else {\n");
                        self.depth += 1;
                        self.fresh = true;
                        self.stmt(stmt);
                        self.depth -= 1;
                        self.line(stmt.span.end, "}");
                        return;
                    }
                },
            }
        }
    }

    fn list(&self, items: &[Expr]) -> String {
        let items: Vec<String> = items.iter().map(|e| self.expr(e)).collect();
        items.join(", ")
    }

    fn expr(&self, e: &Expr) -> String {
        match &e.kind {
            // Literals as written: `0x10`, `1_000`, `"a\tb"`.
            ExprKind::Int(_) | ExprKind::Str(_) => self.text(e.span).to_string(),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Var(name) => format!("${name}"),
            ExprKind::Map { name, keys } if keys.is_empty() => format!("@{}", name.name),
            ExprKind::Map { name, keys } => format!("@{}[{}]", name.name, self.list(keys)),
            ExprKind::Positional(n) => format!("${n}"),
            ExprKind::PositionalCount => "$#".to_string(),
            ExprKind::Ident(name) => name.clone(),
            ExprKind::Call { func, args } => format!("{}({})", func.name, self.list(args)),
            ExprKind::Unary { op, expr } => {
                let op = match op {
                    UnaryOp::Neg => "-",
                    UnaryOp::Not => "!",
                    UnaryOp::BitNot => "~",
                    UnaryOp::Deref => "*",
                    UnaryOp::AddrOf => "&",
                };
                format!("{op}{}", self.operand(expr))
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (lhs_text, rhs_text) = (self.side(*op, lhs, true), self.side(*op, rhs, false));
                format!("{lhs_text} {} {rhs_text}", op.symbol())
            }
            // `a ?: b` was read as `a ? a : b`, the condition standing for both.
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } if cond.span == then.span => {
                format!("{} ?: {}", self.operand(cond), self.operand(otherwise))
            }
            // `if (c) { a } else { b }` where a value is wanted, read as `c ? a : b`.
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } if self.written_as_if(e) => {
                let otherwise = if self.written_as_if(otherwise) {
                    self.expr(otherwise)
                } else {
                    self.operand(otherwise)
                };
                format!(
                    "if ({}) {} else {otherwise}",
                    self.expr(cond),
                    self.operand(then)
                )
            }
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => format!(
                "{} ? {} : {}",
                self.operand(cond),
                self.operand(then),
                self.operand(otherwise)
            ),
            ExprKind::Cast { ty, expr } => {
                format!("({}){}", self.type_expr(ty), self.operand(expr))
            }
            ExprKind::Field { expr, field, arrow } => {
                let sep = if *arrow { "->" } else { "." };
                format!("{}{sep}{}", self.operand(expr), field.name)
            }
            ExprKind::Index { expr, index } => {
                format!("{}[{}]", self.operand(expr), self.expr(index))
            }
            ExprKind::TupleIndex { expr, index } => format!("{}.{index}", self.operand(expr)),
            ExprKind::Tuple(items) if items.len() == 1 => format!("({},)", self.list(items)),
            ExprKind::Tuple(items) => format!("({})", self.list(items)),
            ExprKind::Record(fields) => {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{}={}", name.name, self.expr(value)))
                    .collect();
                format!("({})", fields.join(", "))
            }
            ExprKind::IncDec {
                target,
                increment,
                prefix,
            } => {
                let op = if *increment { "++" } else { "--" };
                let target = self.operand(target);
                if *prefix {
                    format!("{op}{target}")
                } else {
                    format!("{target}{op}")
                }
            }
            ExprKind::TypeQuery { query, arg } => match arg.as_ref() {
                TypeOrExpr::Type(ty) => format!("{}({})", query.keyword(), self.type_expr(ty)),
                TypeOrExpr::Expr(e) => format!("{}({})", query.keyword(), self.expr(e)),
            },
            ExprKind::Comptime(e) => format!("comptime {}", self.operand(e)),
            ExprKind::Offsetof { ty, fields } => {
                let path: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                format!("offsetof({}, {})", self.type_expr(ty), path.join("."))
            }
            ExprKind::ContainerOf { ptr, ty, fields } => {
                let path: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                let (ptr, ty) = (self.expr(ptr), self.type_expr(ty));
                format!("container_of({ptr}, {ty}, {})", path.join("."))
            }
            ExprKind::TypeArg(ty) => self.type_expr(ty),
            ExprKind::Block(b) => {
                // Its lines are indented one deeper than the line the expression starts.
                let mut inner = Formatter::new(self.src, self.code, Vec::new(), self.depth);
                inner.last_end = b.span.start;
                inner.block_expr_body(b);
                format!("{{\n{}", inner.out.trim_end())
            }
        }
    }

    /// An operand of binary operator `op`, on its left or right. A comparison reads
    /// without parentheses in `&&` and `||`, and on the left of a comparison that binds less
    /// or as tightly (`$a < 1 == 0`); so does the left side of a chain of `&&` or of `||`.
    fn side(&self, op: BinaryOp, e: &Expr, left: bool) -> String {
        let bare = match &e.kind {
            ExprKind::Binary { op: inner, .. } => match (comparison(*inner), comparison(op)) {
                (Some(_), None) => is_logical(op),
                (Some(inner), Some(outer)) => left && inner >= outer,
                // `a && b && c`: a chain of one logical operator.
                (None, _) => left && *inner == op && is_logical(op),
            },
            _ => false,
        };
        match bare {
            true => self.expr(e),
            false => self.operand(e),
        }
    }

    /// `head`, `e` and `tail` written from column `col`, wrapped if they are wider than
    /// [`WIDTH`] and `e` holds a list to wrap (see [`Self::list_to_wrap`]).
    fn fill(&self, col: usize, head: &str, e: &Expr, tail: &str) -> String {
        let one = format!("{head}{}{tail}", self.expr(e));
        if col + one.len() <= WIDTH || one.contains('\n') {
            return one;
        }
        match self.list_to_wrap(e) {
            Some((pre, list, post)) => {
                let at = col + head.len() + pre.len();
                format!("{head}{pre}{}", list.layout(at, &format!("{post}{tail}")))
            }
            None => one,
        }
    }

    /// As [`Self::fill`], for a condition or a predicate: a chain of `&&` (or of `||`) is
    /// wrapped between its operands.
    fn fill_condition(&self, col: usize, head: &str, cond: &Expr, tail: &str) -> String {
        let one = format!("{head}{}{tail}", self.expr(cond));
        let ExprKind::Binary { op, .. } = &cond.kind else {
            return self.fill(col, head, cond, tail);
        };
        if col + one.len() <= WIDTH || one.contains('\n') || !is_logical(*op) {
            return self.fill(col, head, cond, tail);
        }
        let list = Wrap {
            before: String::new(),
            items: self.chain(*op, cond),
            sep: if *op == BinaryOp::LogicalAnd {
                " && "
            } else {
                " || "
            },
            after: String::new(),
        };
        format!("{head}{}", list.layout(col + head.len(), tail))
    }

    /// The operands of a chain of logical operator `op` (`a && b && c`), each as `expr`
    /// prints it there.
    fn chain(&self, op: BinaryOp, e: &Expr) -> Vec<String> {
        match &e.kind {
            ExprKind::Binary { op: o, lhs, rhs } if *o == op => {
                let mut items = match &lhs.kind {
                    ExprKind::Binary { op: l, .. } if *l == op => self.chain(op, lhs),
                    _ => vec![self.side(op, lhs, true)],
                };
                items.push(self.side(op, rhs, false));
                items
            }
            _ => vec![self.expr(e)],
        }
    }

    /// The list in `e` that wrapping breaks, with the text before and after it: the
    /// arguments of the outermost call with more than one (a call with one argument is
    /// looked into), the elements of a tuple or record, the keys of a map.
    fn list_to_wrap(&self, e: &Expr) -> Option<(String, Wrap, String)> {
        let list = |before: String, items: Vec<String>, after: &str| {
            let after = after.to_string();
            let sep = ", ";
            Some((
                String::new(),
                Wrap {
                    before,
                    items,
                    sep,
                    after,
                },
                String::new(),
            ))
        };
        let exprs = |items: &[Expr]| items.iter().map(|i| self.expr(i)).collect();
        match &e.kind {
            ExprKind::Call { func, args } if args.len() == 1 => {
                let (pre, list, post) = self.list_to_wrap(&args[0])?;
                Some((format!("{}({pre}", func.name), list, format!("{post})")))
            }
            ExprKind::Call { func, args } if args.len() > 1 => {
                list(format!("{}(", func.name), exprs(args), ")")
            }
            ExprKind::Tuple(items) if items.len() > 1 => list("(".into(), exprs(items), ")"),
            ExprKind::Record(fields) if fields.len() > 1 => {
                let items = fields
                    .iter()
                    .map(|(name, value)| format!("{}={}", name.name, self.expr(value)))
                    .collect();
                list("(".into(), items, ")")
            }
            ExprKind::Map { name, keys } if keys.len() > 1 => {
                list(format!("@{}[", name.name), exprs(keys), "]")
            }
            _ => None,
        }
    }

    /// Whether a conditional expression was written as `if (c) { a } else { b }`.
    fn written_as_if(&self, e: &Expr) -> bool {
        let rest = &self.code[e.span.start..];
        matches!(e.kind, ExprKind::Ternary { .. })
            && rest.starts_with("if")
            && !rest[2..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
    }

    /// An operand of an operator: in parentheses when it is an operator expression itself.
    fn operand(&self, e: &Expr) -> String {
        let text = self.expr(e);
        match &e.kind {
            ExprKind::Unary { .. }
            | ExprKind::Binary { .. }
            | ExprKind::Ternary { .. }
            | ExprKind::Cast { .. }
            | ExprKind::Comptime(_)
            | ExprKind::IncDec { .. } => format!("({text})"),
            ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::Bool(_)
            | ExprKind::Var(_)
            | ExprKind::Map { .. }
            | ExprKind::Positional(_)
            | ExprKind::PositionalCount
            | ExprKind::Ident(_)
            | ExprKind::Call { .. }
            | ExprKind::Field { .. }
            | ExprKind::Index { .. }
            | ExprKind::TupleIndex { .. }
            | ExprKind::Tuple(_)
            | ExprKind::Record(_)
            | ExprKind::TypeQuery { .. }
            | ExprKind::Offsetof { .. }
            | ExprKind::ContainerOf { .. }
            | ExprKind::TypeArg(_)
            | ExprKind::Block(_) => text,
        }
    }

    /// A type as written, in single spaces and with nothing between a name and its `*`s or
    /// `[N]`s (`struct task_struct*`, `unsigned int`, `typeof(size_t*)`), except that an
    /// expression in `typeof(...)` is formatted as any other.
    fn type_expr(&self, t: &TypeExpr) -> String {
        let TypeName::Typeof(e) = &t.base else {
            return tidy_type(&self.code[t.span.start..t.span.end]);
        };
        let mut s = format!("typeof({})", self.expr(e));
        for _ in 0..t.pointers {
            s.push('*');
        }
        for n in &t.array {
            s.push_str(&format!("[{n}]"));
        }
        if t.auto_array {
            s.push_str("[]");
        }
        s
    }
}

/// Type text in single spaces: one between two words, none around punctuation.
fn tidy_type(text: &str) -> String {
    let mut out = String::new();
    let mut word_before = false;
    let mut space = false;
    for c in text.chars() {
        let word = c.is_alphanumeric() || c == '_';
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && word && word_before {
            out.push(' ');
        }
        out.push(c);
        word_before = word;
        space = false;
    }
    out
}

/// A comparison's precedence (relations bind tighter than equality, as in C), `None` for
/// other operators.
fn comparison(op: BinaryOp) -> Option<u8> {
    match op {
        BinaryOp::Eq | BinaryOp::Ne => Some(1),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => Some(2),
        BinaryOp::Add
        | BinaryOp::Sub
        | BinaryOp::Mul
        | BinaryOp::Div
        | BinaryOp::Mod
        | BinaryOp::BitAnd
        | BinaryOp::BitOr
        | BinaryOp::BitXor
        | BinaryOp::Shl
        | BinaryOp::Shr
        | BinaryOp::LogicalAnd
        | BinaryOp::LogicalOr => None,
    }
}

fn is_logical(op: BinaryOp) -> bool {
    matches!(op, BinaryOp::LogicalAnd | BinaryOp::LogicalOr)
}

/// A comment's lines as printed: a `//` comment or a one-line `/* */` as written; a block
/// comment over several lines as `//` lines, without the ` * ` that often starts its lines
/// (on each line that has it, as 0.27 does) and without its empty first and last lines.
fn comment_lines(text: &str) -> Vec<String> {
    let text = text.trim_end();
    if text.starts_with("//") || !text.contains('\n') {
        return vec![text.to_string()];
    }
    let body = text.strip_prefix("/*").unwrap_or(text);
    let body = body.strip_suffix("*/").unwrap_or(body);
    let mut lines: Vec<&str> = body.lines().map(str::trim).collect();
    for l in lines.iter_mut().skip(1) {
        if let Some(rest) = l.strip_prefix('*') {
            *l = rest.strip_prefix(' ').unwrap_or(rest);
        }
    }
    while lines.first().is_some_and(|l| l.is_empty()) {
        lines.remove(0);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
        .iter()
        .map(|l| {
            if l.is_empty() {
                "//".to_string()
            } else {
                format!("// {l}")
            }
        })
        .collect()
}

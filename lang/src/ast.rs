//! The abstract syntax tree: an owned, faithful tree of a script as written, with a byte
//! [`Span`] on every node. `lang::parse` builds it from the pest parse; nothing here knows
//! about pest. Names are kept as written; resolving them (builtins, maps, BTF types) is the
//! checker's job.

use serde::Serialize;

/// The span type of every node is the one diagnostics are rendered with (the runtime renders
/// them too, from spans a compiled file carries), so it lives in `stdlib::diag`.
pub use stdlib::diag::Span;

/// A name with the span it was written at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A whole script: its preprocessor directives, C definitions, config block, macro
/// definitions and probes. After `lang::parse` the probes hold no macro calls and no block
/// expressions: `lang::macros` has expanded them, and `macros` is kept for reference only.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Script {
    pub directives: Vec<Directive>,
    pub c_definitions: Vec<CDefinition>,
    pub config: Vec<ConfigEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub macros: Vec<MacroDef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub map_decls: Vec<MapDecl>,
    pub probes: Vec<Probe>,
    /// Every macro call expanded, so that a later diagnostic about code inside a macro can
    /// also point at where it was called (`lang::annotate_expansions`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expansions: Vec<Expansion>,
}

/// One macro call that `lang::macros` replaced by the macro's body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expansion {
    /// The whole definition of the macro.
    pub definition: Span,
    /// The call (or bare name) that was replaced.
    pub call: Span,
}

/// `macro name($var, @map, expr) { statements; value }`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MacroDef {
    pub name: Ident,
    pub params: Vec<MacroParam>,
    pub body: BlockExpr,
    pub span: Span,
}

/// How a macro parameter binds its argument.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum MacroParam {
    /// `$x`: the argument must be a scratch variable, which the body may change.
    Var(Ident),
    /// `@m`: the argument must be a map (without keys), which the body may change.
    Map(Ident),
    /// `x`: any expression, written into the body wherever `x` appears.
    Expr(Ident),
}

impl MacroParam {
    pub fn ident(&self) -> &Ident {
        match self {
            MacroParam::Var(i) | MacroParam::Map(i) | MacroParam::Expr(i) => i,
        }
    }
}

/// `{ stmts; value }`: a block whose last expression, written without a `;`, is its value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockExpr {
    pub stmts: Vec<Stmt>,
    pub value: Option<Expr>,
    pub span: Span,
}

/// A preprocessor line that survived conditional evaluation (`#include`, `#define`).
/// Conditionals (`#if`, `#ifdef`, …) are evaluated by `lang::preprocess` and leave no node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Directive {
    /// `#include <linux/sched.h>` (`system`) or `#include "x.h"`.
    Include {
        path: String,
        system: bool,
        span: Span,
    },
    /// `#define NAME value` (object-like; `value` is the raw replacement text, trimmed).
    Define {
        name: Ident,
        value: String,
        span: Span,
    },
}

/// `struct S { ... };`, `union U { ... };` or `enum E { A, B = 2 };` written in the script.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CDefinition {
    pub kind: CDefKind,
    /// Empty for an anonymous `enum { A, B }`.
    pub name: Ident,
    /// `__attribute__((packed))`: members are laid out without padding.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub packed: bool,
    /// `__attribute__((aligned(n)))`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aligned: Option<u64>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum CDefKind {
    Struct(Vec<CField>),
    Union(Vec<CField>),
    Enum(Vec<EnumVariant>),
}

/// One member declaration of a script struct or union: `unsigned int x;`, `char name[16];`,
/// `struct list_head *next;`, an anonymous nested record, or a bit-field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CField {
    pub ty: TypeExpr,
    /// `None` for an anonymous nested struct/union member.
    pub name: Option<Ident>,
    /// `int x : 3;`
    pub bits: Option<u64>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnumVariant {
    pub name: Ident,
    pub value: Option<Expr>,
}

/// `let @name = kind(max_entries);`: a map's BPF kind and size, declared before use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapDecl {
    /// The map's name without its `@`.
    pub name: Ident,
    /// `hash`, `lruhash`, `percpuhash` or `percpulruhash` when the script is valid.
    pub kind: Ident,
    /// The arguments as written; valid is one positive integer literal.
    pub args: Vec<Expr>,
    /// The whole declaration.
    pub span: Span,
}

/// `config = { key = value; ... }`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigEntry {
    pub key: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `attach[, attach...] [/predicate/] { body }`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Probe {
    pub attach_points: Vec<AttachPoint>,
    pub predicate: Option<Expr>,
    pub body: Block,
    pub span: Span,
}

pub use stdlib::probes::Provider;

/// One attach point, e.g. `uprobe:/bin/bash:readline`, `kprobe:tcp_*`, `kprobe:f+16`,
/// `interval:s:1`, `usdt:$1:p`. The fields after the provider are kept as written (quotes
/// removed); the checker interprets them per provider and expands `$N` and wildcards.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttachPoint {
    pub provider: Provider,
    /// The provider as spelled, with its span (for diagnostics and `probe`).
    pub provider_ident: Ident,
    pub fields: Vec<ApField>,
    /// The whole attach point as written.
    pub raw: String,
    pub span: Span,
    /// `name=kprobe:f` (bpftrace 0.25+): the probe's name; `raw` starts after the `=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Ident>,
}

impl AttachPoint {
    /// Where field `i` was written, for a diagnostic about it; the whole attach point when it
    /// has no such field.
    pub fn field_span(&self, i: usize) -> Span {
        self.fields.get(i).map_or(self.span, |f| f.span)
    }
}

/// A `:`-separated field of an attach point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApField {
    /// Text with surrounding quotes removed.
    pub text: String,
    /// Whether it was written as a quoted string (wildcards are then literal).
    pub quoted: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum StmtKind {
    /// `expr;` — calls, `++`/`--`, bare builtins.
    Expr(Expr),
    /// `target = value` or, with `op`, `target op= value`. `target` is a `Var`, a `Map`, or
    /// (rejected by the checker with a clear message) anything else the user wrote.
    Assign {
        target: Expr,
        op: Option<BinaryOp>,
        value: Expr,
    },
    /// `let $x;`, `let $x = e;`, `let $x: uint16 = e;`
    Let {
        var: Ident,
        ty: Option<TypeExpr>,
        init: Option<Expr>,
    },
    If {
        cond: Expr,
        then: Block,
        otherwise: Option<Else>,
    },
    /// `unroll (N) { ... }`
    Unroll {
        count: Expr,
        body: Block,
    },
    While {
        cond: Expr,
        body: Block,
    },
    /// `for ($kv : @map) { ... }`
    ForMap {
        var: Ident,
        map: Expr,
        body: Block,
    },
    /// `for ($i : start..end) { ... }`
    ForRange {
        var: Ident,
        start: Expr,
        end: Expr,
        body: Block,
    },
    Break,
    Continue,
    Return(Option<Expr>),
    /// A nested `{ ... }` block statement.
    Block(Block),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Else {
    Block(Block),
    /// `else if ...`: the nested `If` statement.
    If(Box<Stmt>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ExprKind {
    /// An integer literal, value already decoded (`0x10`, `1_000`, `1e6`, `10UL`, `0b101`,
    /// `010` octal). Negative numbers are `Unary(Neg, Int)`.
    Int(u64),
    /// A string literal with escapes decoded to bytes.
    Str(Vec<u8>),
    Bool(bool),
    /// `$name` (scratch variable).
    Var(String),
    /// `@name`, `@` (name ""), `@name[k1, k2]`; `keys` empty for a scalar map.
    Map {
        name: Ident,
        keys: Vec<Expr>,
    },
    /// `$1`, `$2`, … (positional parameter, 1-based).
    Positional(u32),
    /// `$#`
    PositionalCount,
    /// A bare identifier: a builtin (`pid`, `comm`, `arg0`, `args`), a `#define`d or enum
    /// constant, or an unknown name the checker reports.
    Ident(String),
    /// `name(args...)`: builtin functions (`printf`, `count`, `str`, …) and `kstack(perf, 3)`.
    Call {
        func: Ident,
        args: Vec<Expr>,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `cond ? then : otherwise`
    Ternary {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// `(type)expr`
    Cast {
        ty: TypeExpr,
        expr: Box<Expr>,
    },
    /// `expr.field` (`arrow` false) or `expr->field` (`arrow` true).
    Field {
        expr: Box<Expr>,
        field: Ident,
        arrow: bool,
    },
    /// `expr[index]`
    Index {
        expr: Box<Expr>,
        index: Box<Expr>,
    },
    /// `tuple.0`
    TupleIndex {
        expr: Box<Expr>,
        index: u32,
    },
    /// `(a, b, ...)`, or `(a,)` with one element.
    Tuple(Vec<Expr>),
    /// `(name = value, ...)`: a record (a tuple with named fields), fields in source order.
    Record(Vec<(Ident, Expr)>),
    /// `++x`, `x++`, `--x`, `x--` on a variable or map.
    IncDec {
        target: Box<Expr>,
        increment: bool,
        prefix: bool,
    },
    /// `sizeof(type|expr)` or `typeinfo(type|expr)`: a question about a type, answered
    /// while checking.
    TypeQuery {
        query: TypeQuery,
        arg: Box<TypeOrExpr>,
    },
    /// `comptime e` (bpftrace 0.27): `e` evaluated while checking, which must be possible.
    /// As the condition of an `if`, it chooses the branch that is checked and compiled.
    Comptime(Box<Expr>),
    /// `offsetof(struct S, a.b)`
    Offsetof {
        ty: TypeExpr,
        fields: Vec<Ident>,
    },
    /// `container_of(ptr, typeof(struct S), a.b)` (or `struct S`): the `struct S *` whose
    /// field `a.b` is at `ptr`.
    ContainerOf {
        ptr: Box<Expr>,
        ty: TypeExpr,
        fields: Vec<Ident>,
    },
    /// `typeof(uint16)` as a call argument: a type for a macro parameter the macro's body uses
    /// as a type (`macro size(T) { sizeof(T) }`). `lang::macros` writes it into those types;
    /// the checker refuses one left anywhere else.
    TypeArg(TypeExpr),
    /// `{ let $b = 1; $b + 1 }`: statements, then a value. `lang::macros` lowers every one
    /// into statements before the enclosing one, so the checker never sees it.
    Block(Box<BlockExpr>),
}

/// The argument of a [`TypeQuery`]: a type, or an expression whose type is asked about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum TypeOrExpr {
    Type(TypeExpr),
    Expr(Expr),
}

/// What a [`ExprKind::TypeQuery`] asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TypeQuery {
    /// `sizeof`: the type's size in bytes.
    Sizeof,
    /// `typeinfo` (bpftrace 0.27, unstable): a record naming the type.
    Typeinfo,
}

impl TypeQuery {
    /// The keyword as written in scripts.
    pub fn keyword(self) -> &'static str {
        match self {
            TypeQuery::Sizeof => "sizeof",
            TypeQuery::Typeinfo => "typeinfo",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `!x`
    Not,
    /// `~x`
    BitNot,
    /// `*x`
    Deref,
    /// `&x`
    AddrOf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LogicalAnd,
    LogicalOr,
}

impl BinaryOp {
    /// The operator as written in source.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::BitAnd => "&",
            BinaryOp::BitOr => "|",
            BinaryOp::BitXor => "^",
            BinaryOp::Shl => "<<",
            BinaryOp::Shr => ">>",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::LogicalAnd => "&&",
            BinaryOp::LogicalOr => "||",
        }
    }
}

/// A type as written in a cast, `let`, `sizeof`, `offsetof` or a C definition:
/// `uint32`, `unsigned long`, `struct sock *`, `char[16]`, `const char **`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeExpr {
    pub base: TypeName,
    /// Number of `*` after the base.
    pub pointers: u32,
    /// `[N]` suffixes, outermost first (`char x[2][3]` → `[2, 3]`).
    pub array: Vec<u64>,
    /// `[]` after the type in a cast: an array as long as the operand makes it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auto_array: bool,
    pub span: Span,
}

impl TypeExpr {
    /// `base` itself, without `*`s or `[N]`s.
    pub fn plain(base: TypeName, span: Span) -> TypeExpr {
        TypeExpr {
            base,
            pointers: 0,
            array: Vec::new(),
            auto_array: false,
            span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum TypeName {
    /// A bpftrace or C scalar spelled as one name after normalisation: `uint8`…`int64`,
    /// `bool`, `void`, `string`, `buffer`, or C spellings folded to one word
    /// (`unsigned int` → `"unsigned int"`, `char`, `long long`, `u32`, `size_t`, typedef names).
    Named(String),
    Struct(String),
    Union(String),
    Enum(String),
    /// `typeof(expr)`: the type of an expression, which is never evaluated.
    Typeof(Box<Expr>),
    /// An anonymous `struct { ... }` / `union { ... }` inside a C definition.
    AnonRecord {
        union: bool,
        fields: Vec<CField>,
    },
}

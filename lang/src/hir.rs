//! The typed, resolved script the checker produces and codegen consumes: every name is
//! resolved (builtins to enums, maps and variables to ids, fields to offsets), every
//! expression carries its [`Type`], wildcards are expanded into attach targets, and every
//! event (printf, exit, print, …) is registered with its argument layout.

use crate::ast::{BinaryOp, Provider, Span};
use serde::Serialize;
use stdlib::builtins::{Builtin, Function};
use stdlib::manifest::{Attach, Event, MapSpec};
/// What a probe's `ctx` points at; each probe kind's record in `stdlib::probes` says which.
pub use stdlib::probes::Context;
use stdlib::types::{AddrSpace, Aggregation, Field, Record, Type};

pub type MapId = u32;
pub type VarId = u32;
pub type EventId = u32;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Script {
    pub probes: Vec<Probe>,
    /// User maps; `MapId` indexes this.
    pub maps: Vec<MapSpec>,
    /// Ring buffer events; `EventId` indexes this.
    pub events: Vec<Event>,
    pub probe_names: Vec<String>,
    pub time_formats: Vec<String>,
    /// Maximum string length (`BPFTRACE_STRLEN`, default 64).
    pub strlen: u32,
    /// The scalar map `tseries()` reads its time from instead of the clock
    /// (`BPFTRACE_DUMMY_TS_MAP`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tseries_clock: Option<MapId>,
    /// What `ExprKind::RunValue` reads, by index: values set when a compiled script runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub run_values: Vec<stdlib::manifest::RunValue>,
    /// Bytes of per-CPU scratch memory when the probes need more than the default area
    /// (`check::scratch::SCRATCH_BYTES`); `None` keeps the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scratch_bytes: Option<u32>,
    /// Whether a probe takes a `dw_ustack`: the run then needs a target process, whose
    /// stacks it unwinds.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dw_ustack: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Probe {
    /// Name used for the BPF function (`BEGIN_0`, `tracepoint_syscalls_sys_enter_open_1`).
    pub name: String,
    /// The probe's kind: its record in `stdlib::probes` gives the context and ELF section.
    pub provider: Provider,
    pub attach: Attach,
    pub context: Context,
    /// Index into `Script::probe_names` of this probe's first expanded name.
    pub probe_index: u32,
    /// Types of the probe's scratch variables, indexed by `VarId`.
    pub vars: Vec<Type>,
    /// The variables in the probe's own stack frame: all but those of a `for` body alone.
    pub locals: Vec<VarId>,
    /// The frames of its `for` bodies, by `FrameId`.
    pub frames: Vec<Frame>,
    pub predicate: Option<Expr>,
    pub body: Vec<Stmt>,
    pub span: Span,
}

/// A `for` body, in a probe: the callback that runs it has a stack frame of its own.
pub type FrameId = u32;

/// The variables of a `for` body's callback (see `check::frames`), sorted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Frame {
    /// Variables of an enclosing frame that the body uses, reached through pointers.
    pub captures: Vec<VarId>,
    /// Variables used in this body (and the bodies nested in it) alone: in the callback's
    /// frame, zeroed at each iteration.
    pub locals: Vec<VarId>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum StmtKind {
    /// An expression evaluated for its side effects.
    Expr(Expr),
    AssignVar {
        var: VarId,
        value: Expr,
    },
    AssignMap {
        map: MapId,
        key: Option<Expr>,
        value: Expr,
    },
    /// `@m[k] = count()` / `sum(v)` / `hist(v)` …: an in-place per-CPU update.
    Aggregate {
        map: MapId,
        key: Option<Expr>,
        agg: Aggregation,
        value: Option<Expr>,
    },
    Delete {
        map: MapId,
        key: Option<Expr>,
    },
    /// Send an event to user space; `args` match the event's argument types.
    Emit {
        event: EventId,
        args: Vec<Expr>,
    },
    If {
        cond: Expr,
        then: Vec<Stmt>,
        otherwise: Vec<Stmt>,
    },
    While {
        cond: Expr,
        body: Vec<Stmt>,
    },
    /// `unroll (N)`: codegen repeats the body N times.
    Unroll {
        count: u32,
        body: Vec<Stmt>,
    },
    /// `for ($i : start..end)`: the body runs `end - start` times (both evaluated once,
    /// before the first iteration). Codegen makes the body a callback of `bpf_loop`, so the
    /// verifier checks it once whatever the bound; its variables are `Probe::frames[frame]`.
    ForRange {
        var: VarId,
        start: Expr,
        end: Expr,
        frame: FrameId,
        body: Vec<Stmt>,
    },
    /// `for ($kv : @map)`: the body runs once per element with `var` holding the
    /// `(key, value)` tuple. Codegen makes the body a callback of `bpf_for_each_map_elem`;
    /// its variables are `Probe::frames[frame]`.
    ForMap {
        var: VarId,
        map: MapId,
        frame: FrameId,
        body: Vec<Stmt>,
    },
    Break,
    Continue,
    /// Ends the probe. A test probe's program returns the value (0 without one): non-zero
    /// fails the test. Other programs return 0.
    Return(Option<Expr>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Type,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unary {
    Neg,
    Not,
    BitNot,
}

/// A field of a kernel struct reached through a pointer: `root` is the record the pointer
/// points to (its layout from the kernel's BTF), `fields` the index of a field in
/// `root.fields`, then in that field's record, and so on. The fields' offsets add up to the
/// `Load`'s offset or less: what an array or string index adds after the last field is a
/// constant that is not relocated (element sizes of kernel arrays do not move).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoreAccess {
    #[serde(serialize_with = "record_name")]
    pub root: Record,
    pub fields: Vec<u32>,
}

/// Snapshots name the root record; its whole layout is in the pointer's type already.
fn record_name<S: serde::Serializer>(r: &Record, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&r.name)
}

impl CoreAccess {
    /// The fields along the path, outermost first; `None` if the path does not fit the
    /// records (a checker bug, which codegen then reports as internal).
    pub fn chain(&self) -> Option<Vec<(&Record, &Field, u32)>> {
        let mut out = Vec::new();
        let mut record = &self.root;
        for (i, &index) in self.fields.iter().enumerate() {
            let field = record.fields.get(index as usize)?;
            out.push((record, field, index));
            if i + 1 < self.fields.len() {
                let Type::Record(next) = &field.ty else {
                    return None;
                };
                record = next;
            }
        }
        Some(out)
    }

    /// Appends the field `index` of `record`, the record the path's last field holds. That
    /// field's type may name its record without a layout (BTF records are expanded a few
    /// levels deep only): `record` is then its layout. Returns false, leaving the path as it
    /// was, when `record` is not what the last field holds.
    pub fn push(&mut self, record: &Record, index: u32) -> bool {
        let mut last = &mut self.root;
        for &i in &self.fields {
            let Some(Field {
                ty: Type::Record(next),
                ..
            }) = last.fields.get_mut(i as usize)
            else {
                return false;
            };
            last = &mut **next;
        }
        if last.name != record.name || (index as usize) >= record.fields.len() {
            return false;
        }
        if last.fields.is_empty() {
            *last = record.clone();
        }
        if last.fields.get(index as usize).map(|f| &f.name)
            != record.fields.get(index as usize).map(|f| &f.name)
        {
            return false;
        }
        self.fields.push(index);
        true
    }

    /// Whether the path ends at a bit-field: its load extracts the bits itself.
    pub fn ends_at_bitfield(&self) -> bool {
        self.chain()
            .and_then(|chain| chain.last().map(|(_, f, _)| f.bitfield.is_some()))
            .unwrap_or(false)
    }

    /// The byte offset of the last field of the path from the start of `root`.
    pub fn local_offset(&self) -> Option<u32> {
        Some(self.chain()?.iter().map(|(_, f, _)| f.offset).sum())
    }
}

/// What an expression or a statement holds directly (see [`Expr::parts`], [`Stmt::parts`]).
pub enum Part<'a> {
    Expr(&'a Expr),
    Block(&'a [Stmt]),
    /// The body of a `for`, with its variable: a frame of its own (see `Probe::frames`).
    Frame {
        frame: FrameId,
        var: VarId,
        body: &'a [Stmt],
    },
}

impl Stmt {
    /// Calls `f` on each expression and block this statement holds directly, in the order
    /// they are evaluated (see [`Expr::parts`]).
    pub fn parts<'a>(&'a self, f: &mut impl FnMut(Part<'a>)) {
        let opt = |e: &'a Option<Expr>, f: &mut dyn FnMut(Part<'a>)| {
            if let Some(e) = e {
                f(Part::Expr(e));
            }
        };
        match &self.kind {
            StmtKind::Expr(e) | StmtKind::AssignVar { value: e, .. } => f(Part::Expr(e)),
            StmtKind::Return(e) => opt(e, f),
            StmtKind::AssignMap { key, value, .. } => {
                opt(key, f);
                f(Part::Expr(value));
            }
            StmtKind::Aggregate { key, value, .. } => {
                opt(key, f);
                opt(value, f);
            }
            StmtKind::Delete { key, .. } => opt(key, f),
            StmtKind::Emit { args, .. } => args.iter().for_each(|a| f(Part::Expr(a))),
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                f(Part::Expr(cond));
                f(Part::Block(then));
                f(Part::Block(otherwise));
            }
            StmtKind::While { cond, body } => {
                f(Part::Expr(cond));
                f(Part::Block(body));
            }
            StmtKind::Unroll { body, .. } => f(Part::Block(body)),
            StmtKind::ForRange {
                var,
                start,
                end,
                frame,
                body,
            } => {
                f(Part::Expr(start));
                f(Part::Expr(end));
                f(Part::Frame {
                    frame: *frame,
                    var: *var,
                    body,
                });
            }
            StmtKind::ForMap {
                var, frame, body, ..
            } => f(Part::Frame {
                frame: *frame,
                var: *var,
                body,
            }),
            StmtKind::Break | StmtKind::Continue => {}
        }
    }
}

impl Expr {
    /// Calls `f` on each expression and statement block this expression holds directly, in
    /// the order they are evaluated: the one walk over expressions of the passes that look
    /// for something inside them (maps, variables).
    pub fn parts<'a>(&'a self, f: &mut impl FnMut(Part<'a>)) {
        match &self.kind {
            ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::RunValue(_)
            | ExprKind::Builtin(_)
            | ExprKind::Var(_)
            | ExprKind::VarAddr(_)
            | ExprKind::ContextField { .. }
            | ExprKind::MapLen { .. } => {}
            ExprKind::MapRead { key, .. } | ExprKind::Delete { key, .. } => {
                if let Some(key) = key {
                    f(Part::Expr(key));
                }
            }
            ExprKind::HasKey { key, .. } | ExprKind::Find { key, .. } => f(Part::Expr(key)),
            ExprKind::CommOf { pid: expr, .. }
            | ExprKind::Unary { expr, .. }
            | ExprKind::Cast(expr)
            | ExprKind::TupleIndex { expr, .. }
            | ExprKind::Member { expr, .. }
            | ExprKind::Load { ptr: expr, .. } => f(Part::Expr(expr)),
            ExprKind::PercpuKaddr { cpu, .. } => {
                if let Some(cpu) = cpu {
                    f(Part::Expr(cpu));
                }
            }
            ExprKind::Binary { lhs, rhs, .. }
            | ExprKind::SkbOutput {
                skb: lhs, len: rhs, ..
            }
            | ExprKind::CheckedDivide { lhs, rhs, .. }
            | ExprKind::StrIndex {
                expr: lhs,
                index: rhs,
            }
            | ExprKind::StrCmp { lhs, rhs, .. } => {
                f(Part::Expr(lhs));
                f(Part::Expr(rhs));
            }
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => {
                f(Part::Expr(cond));
                f(Part::Expr(then));
                f(Part::Expr(otherwise));
            }
            ExprKind::Tuple(items) | ExprKind::Call { args: items, .. } => {
                items.iter().for_each(|i| f(Part::Expr(i)));
            }
            ExprKind::Block { stmts, value } => {
                f(Part::Block(stmts));
                f(Part::Expr(value));
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ExprKind {
    Int(i64),
    Str(Vec<u8>),
    /// An i64 known when a compiled script runs (`Script::run_values` says which), read
    /// from `.rodata`, which the runtime sets before loading.
    RunValue(u32),
    Builtin(Builtin),
    Var(VarId),
    /// `&$v`: the address of the variable's slot, as an integer.
    VarAddr(VarId),
    /// Read a map value (0 / zeroed when the key is absent).
    MapRead {
        map: MapId,
        key: Option<Box<Expr>>,
    },
    /// Aggregation map read in BPF (e.g. `@c > 5` for count()): sums this CPU's slot only.
    Unary {
        op: Unary,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `lhs / rhs` or `lhs % rhs` whose divisor is known only at run time: a zero divisor
    /// gives 1 and emits `warning` (a Message event naming the operation), as in bpftrace.
    CheckedDivide {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        warning: EventId,
    },
    /// `$s[$i]` of a string with an index known only at run time: the byte at the index, or 0
    /// past the string's end (bpftrace 0.27 reads no further than the string).
    StrIndex {
        expr: Box<Expr>,
        index: Box<Expr>,
    },
    /// String comparison (`==`/`!=` on strings), up to the shorter declared length.
    StrCmp {
        equal: bool,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Ternary {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// Integer conversion to `ty` (truncation / sign or zero extension).
    Cast(Box<Expr>),
    Tuple(Vec<Expr>),
    TupleIndex {
        expr: Box<Expr>,
        index: u32,
    },
    /// A field at `offset` of the probe's context: a tracepoint record's `args` field, or a
    /// kfunc/kretfunc argument or `retval` (u64 slots of the BTF function's arguments).
    ContextField {
        offset: u32,
        data_loc: bool,
        /// A tracepoint field's place in the kernel's BTF record of the tracepoint, so that
        /// the compiled program reads it where the running kernel has it.
        #[serde(skip_serializing_if = "Option::is_none")]
        core: Option<Box<CoreAccess>>,
    },
    /// Read `ty` from memory at `ptr + offset` (struct member through a pointer, `*p`).
    Load {
        ptr: Box<Expr>,
        offset: u32,
        space: AddrSpace,
        /// For a kernel struct's field, the field's path, so that the compiled program finds
        /// the field where the running kernel has it (a CO-RE relocation) rather than at
        /// `offset`, which is where the compiling kernel's BTF put it.
        #[serde(skip_serializing_if = "Option::is_none")]
        core: Option<Box<CoreAccess>>,
    },
    /// A member of a record value held in BPF memory (not through a pointer).
    Member {
        expr: Box<Expr>,
        offset: u32,
    },
    /// A builtin function computed in BPF (`str`, `ntop`, `macaddr`, `bswap`, `strncmp`, …);
    /// compile-time functions (`sizeof`, `kaddr`, `pton`, …) are already folded to literals.
    Call {
        func: Function,
        args: Vec<Expr>,
    },
    /// `delete(@m, k)` as a value: whether an element was removed.
    Delete {
        map: MapId,
        key: Option<Box<Expr>>,
    },
    /// `has_key(@m, k)`.
    HasKey {
        map: MapId,
        key: Box<Expr>,
    },
    /// `find(@m, k, $v)`: whether `k` is in the map, storing its value in `var` when it is.
    Find {
        map: MapId,
        key: Box<Expr>,
        var: VarId,
    },
    /// `percpu_kaddr("symbol"[, cpu])`: the address of per-CPU kernel variable `symbol`
    /// (whose BTF type is `var`) on `cpu`, or on this CPU without one.
    PercpuKaddr {
        symbol: String,
        var: Type,
        cpu: Option<Box<Expr>>,
    },
    /// `comm(pid)`: the name of the process `pid`, found with the `bpf_task_from_pid` kfunc;
    /// `comm` is the offset of `comm` in `struct task_struct`.
    CommOf {
        pid: Box<Expr>,
        comm: u32,
        /// `task_struct.comm` as a relocated field, so that `comm` moves with the running kernel.
        #[serde(skip_serializing_if = "Option::is_none")]
        core: Option<Box<CoreAccess>>,
    },
    /// `skboutput(path, skb, len, offset)`: the first `len` bytes of the packet `skb` (a
    /// `struct sk_buff *` the verifier knows the type of) sent with `bpf_skb_output`
    /// through `SKB_MAP` after the record of `event` (an `Event::SkbOutput`, which names
    /// the file and the offset); the helper's result, 0 or a negative error.
    SkbOutput {
        event: EventId,
        skb: Box<Expr>,
        len: Box<Expr>,
    },
    /// `len(@m)`: the number of elements, counted in BPF by `bpf_for_each_map_elem`.
    MapLen {
        map: MapId,
    },
    /// `{ stmts; value }`: the statements run, then `value` is the block's value.
    Block {
        stmts: Vec<Stmt>,
        value: Box<Expr>,
    },
}

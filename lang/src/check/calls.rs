//! Builtin variables and calls of builtins in expressions. The rules every use obeys (rbt
//! supports it, `--unsafe`, a value or a statement, how many arguments, which probe kinds) are
//! read from the builtin's record in `stdlib::builtins`, so their messages follow the table;
//! then one small function per builtin function or family types its arguments and result.
//! Statement calls and aggregations are in `stmt_calls.rs`.

use super::diagnostics::{self, UaddrMiss};
use super::exprs::{literal_type, mk, poisoned, record, text};
use super::Checker;
use crate::ast::{self, ExprKind as A, Provider, Span};
use crate::config::ConfigValue;
use crate::hir::{Expr, ExprKind as H};
use stdlib::abi::stack::MAX_DEPTH;
use stdlib::builtins::{Arity, Builtin, Clock, Function, Kind, PidNs, Spec};
use stdlib::manifest::{Event, RunValue};
use stdlib::probes::ProgramType;
use stdlib::types::{AddrSpace, StackMode, StackSource, Type, I64, U32, U64};

/// Where a call stands in the script, which decides the kinds of builtin it may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Position {
    /// Inside an expression: the call must give a value.
    Value,
    /// A statement of its own (`printf(...);`).
    Statement,
    /// The value of a map assignment (`@m[k] = count()`).
    Aggregation,
}

impl Checker<'_> {
    /// Checks a call of function `f` against its record: rbt supports it, `--unsafe` is given
    /// if it needs it, it stands where its kind may, it has as many arguments as it takes, and
    /// the probe is one where it is valid. Reports the first rule broken.
    pub(super) fn call_rules(
        &mut self,
        f: Function,
        func: &ast::Ident,
        argc: usize,
        span: Span,
        at: Position,
    ) -> bool {
        let spec = f.spec();
        if spec.needs_unsafe && !self.opts.allow_unsafe {
            self.push(diagnostics::unsafe_function(&spec, func.span));
            return false;
        }
        let misplaced = match (at, spec.kind) {
            (Position::Value, Kind::Value | Kind::CompileTime)
            | (Position::Statement, Kind::Statement)
            | (Position::Aggregation, Kind::Aggregation) => None,
            // delete() is a statement that also tells whether it removed an element, as in
            // bpftrace 0.27: `if (delete(@m, k)) { ... }`.
            (Position::Value, Kind::Statement) if f == Function::Delete => None,
            (Position::Value, Kind::Statement) => {
                Some(diagnostics::statement_as_value(&spec, span))
            }
            (Position::Value, Kind::Aggregation) => {
                Some(diagnostics::aggregation_as_value(&spec, span))
            }
            (Position::Statement | Position::Aggregation, _) => {
                Some(diagnostics::misplaced_call(&spec, span))
            }
        };
        if let Some(d) = misplaced {
            self.push(d);
            return false;
        }
        if !self.arity_ok(&spec, argc, span) {
            return false;
        }
        self.valid_here(&spec, spec.name, true, span)
    }

    /// Whether a call of `spec` with `argc` arguments has as many as it takes.
    fn arity_ok(&mut self, spec: &Spec, argc: usize, span: Span) -> bool {
        // A variable that is not also a call takes no arguments.
        let arity = spec.args.unwrap_or(Arity { min: 0, max: 0 });
        if arity.accepts(argc) {
            return true;
        }
        self.push(diagnostics::arity(spec, arity, argc, span));
        false
    }

    /// Whether the probe being checked is one where `spec` is valid; if not, reports it by
    /// `name` as written, a function (`call`) or a builtin variable.
    fn valid_here(&mut self, spec: &Spec, name: &str, call: bool, span: Span) -> bool {
        let provider = self.probe.provider;
        if spec.valid.allows(provider) {
            return true;
        }
        self.push(diagnostics::not_valid_here(
            spec, name, call, provider, span,
        ));
        false
    }

    /// Whether builtin variable `b` is valid in the probe being checked (reported if not).
    pub(super) fn builtin_allowed(&mut self, b: Builtin, span: Span) -> bool {
        let name = b.name();
        self.valid_here(&b.spec(), &name, false, span)
    }

    /// The address space a bare integer address points into in this probe.
    pub(super) fn default_space(&self) -> AddrSpace {
        if self.probe.user {
            AddrSpace::User
        } else {
            AddrSpace::Kernel
        }
    }

    /// A call inside an expression: a function that gives a value, or a builtin variable
    /// (`pid()`, `kstack(perf)`).
    pub(super) fn call_expr(&mut self, func: &ast::Ident, args: &[ast::Expr], span: Span) -> Expr {
        if let Some(f) = Function::from_name(&func.name) {
            if !self.call_rules(f, func, args.len(), span, Position::Value) {
                return poisoned(span);
            }
            return self.value_call(f, args, span);
        }
        if let Some(b) = Builtin::from_name(&func.name) {
            // `pid()` reads the variable, as in bpftrace (0.24 and later); arguments to a
            // variable that takes none are an arity error from its record.
            return self.builtin(b, args, span);
        }
        let mut names: Vec<&str> = Function::ALL.iter().map(|f| f.name()).collect();
        names.extend(Builtin::NAMED.iter().map(|b| b.spec().name));
        self.push(diagnostics::unknown_function(&func.name, &names, func.span));
        poisoned(span)
    }

    /// A builtin variable, or a call of one that takes arguments (`kstack(perf, 5)`); `args`
    /// is empty for a bare variable.
    pub(super) fn builtin(&mut self, b: Builtin, args: &[ast::Expr], span: Span) -> Expr {
        if !self.builtin_allowed(b, span) || !self.arity_ok(&b.spec(), args.len(), span) {
            return poisoned(span);
        }
        if let (Builtin::Arg(n), Some(count)) = (b, self.probe.usdt_args) {
            if usize::from(n) >= count {
                self.push(diagnostics::usdt_argument_missing(n, count, span));
                return poisoned(span);
            }
        }
        let user = self.probe.user;
        let ty = match b {
            Builtin::Pid(_) => return self.pid_builtin(Builtin::Pid, "pid", args, span),
            Builtin::Tid(_) => return self.pid_builtin(Builtin::Tid, "tid", args, span),
            Builtin::Nsecs(_) => return self.nsecs(args, span),
            // True when `-c` started a command; in a compiled file, whether the run has one.
            Builtin::HasCpid => {
                let pid = i64::from(self.opts.cpid.unwrap_or(0));
                let pid = self.run_value(RunValue::Cpid, pid, U64, span);
                let test = H::Binary {
                    op: ast::BinaryOp::Ne,
                    lhs: Box::new(pid),
                    rhs: Box::new(mk(H::Int(0), U64, span)),
                };
                return mk(test, Type::Bool, span);
            }
            Builtin::DefaultStrLength => {
                let chars = self.opts.config.string_chars();
                return mk(H::Int(i64::from(chars)), I64, span);
            }
            Builtin::Config => return self.config_record(span),
            // The machine's CPUs; a compiled file reads those of the machine it runs on.
            Builtin::Ncpus => {
                let cpus = self.catalog.host().cpus as i64;
                return self.run_value(RunValue::Ncpus, cpus, U64, span);
            }
            Builtin::Ppid => return self.task_field(b, args, "real_parent", "tgid", span),
            Builtin::Pcomm => return self.task_field(b, args, "real_parent", "comm", span),
            Builtin::LeaderTid => return self.task_field(b, args, "group_leader", "pid", span),
            Builtin::LeaderComm => return self.task_field(b, args, "group_leader", "comm", span),
            Builtin::Probetype => {
                let name = self.probe.provider.map_or("special", |p| p.probetype());
                return text(name.as_bytes(), span);
            }
            Builtin::Comm if !args.is_empty() => return self.comm_of(args, span),
            Builtin::Comm => Type::Str { len: 16 },
            Builtin::Probe => {
                self.probe.reads_probe = true;
                Type::ProbeName
            }
            Builtin::Func => {
                if let Some(name) = &self.probe.uprobe_function {
                    return text(name.as_bytes(), span);
                }
                if user {
                    Type::Usym
                } else {
                    Type::Ksym
                }
            }
            Builtin::Username => Type::Username,
            Builtin::Kstack => match self.stack_type(StackSource::Kernel, args, span) {
                // The kernel stack of a raw tracepoint starts elsewhere than a perf
                // tracepoint's: a syscall tracepoint that reads it keeps the perf event.
                Some(ty) if self.probe.provider == Some(Provider::Tracepoint) => {
                    self.probe.perf_tracepoint = true;
                    ty
                }
                Some(ty) => ty,
                None => return poisoned(span),
            },
            Builtin::Ustack => match self.stack_type(StackSource::User, args, span) {
                Some(ty) => ty,
                None => return poisoned(span),
            },
            Builtin::DwUstack => {
                self.dw_ustack_first.get_or_insert(span);
                let source = StackSource::UserDwarf {
                    bytes: self.opts.config.dw_ustack_bytes,
                };
                match self.stack_type(source, args, span) {
                    Some(ty) => ty,
                    None => return poisoned(span),
                }
            }
            Builtin::Curtask => match self.lookup_record("struct task_struct") {
                Some(r) => Type::Pointer {
                    to: Box::new(Type::Record(Box::new(r))),
                    space: AddrSpace::Kernel,
                },
                None => U64,
            },
            // An iterator's context is its BTF record (`ctx.task`, `ctx.meta`); elsewhere
            // `ctx` is the context's address.
            Builtin::Ctx => match self
                .probe
                .iterator
                .clone()
                .and_then(|it| self.lookup_record(&format!("struct bpf_iter__{it}")))
            {
                Some(r) => Type::Pointer {
                    to: Box::new(Type::Record(Box::new(r))),
                    space: AddrSpace::Kernel,
                },
                None => U64,
            },
            Builtin::Cpid => {
                if self.opts.cpid.is_none() {
                    self.push(diagnostics::cpid_without_command(span));
                }
                let pid = i64::from(self.opts.cpid.unwrap_or(0));
                return self.run_value(RunValue::Cpid, pid, U64, span);
            }
            Builtin::Retval if self.probe.bpf_program => {
                self.push(diagnostics::bpf_program_retval(span));
                return poisoned(span);
            }
            Builtin::Args if self.probe.bpf_program && self.probe.signature.is_none() => {
                let provider = self.probe.provider.unwrap_or(Provider::Kfunc);
                self.push(diagnostics::bpf_program_args(provider, span));
                return poisoned(span);
            }
            Builtin::Retval if self.probe.provider == Some(Provider::Kretfunc) => {
                // fexit's context holds the arguments, then the return value.
                let Some((params, ret)) = self.probe.signature.clone() else {
                    self.push(diagnostics::retval_without_btf(span));
                    return poisoned(span);
                };
                return self.context_slot(params.len() as u32, ret, span);
            }
            Builtin::Args if self.probe.provider == Some(Provider::Uprobe) => {
                return self.uprobe_args_value(span);
            }
            Builtin::Args if self.probe.provider == Some(Provider::Tracepoint) => {
                return self.tracepoint_args_value(span);
            }
            Builtin::Args => {
                return match self.probe.signature.clone() {
                    Some((params, _)) => self.signature_args_value(params, span),
                    None => {
                        let provider = self.probe.provider.unwrap_or(Provider::Rawtracepoint);
                        self.push(diagnostics::args_without_btf(provider, None, span));
                        poisoned(span)
                    }
                };
            }
            // A USDT argument is an int64, as bpftrace 0.27 types it: its value is sign- or
            // zero-extended from the size its note gives.
            Builtin::Arg(_) if self.probe.usdt_args.is_some() => I64,
            Builtin::Uid
            | Builtin::Gid
            | Builtin::Elapsed
            | Builtin::Cpu
            | Builtin::Numaid
            | Builtin::Cgroup
            | Builtin::Rand
            | Builtin::Arg(_)
            | Builtin::Sarg(_)
            | Builtin::Retval
            | Builtin::Jiffies
            | Builtin::Usermode => U64,
        };
        mk(H::Builtin(b), ty, span)
    }

    /// `pid(ns)` or `tid(ns)` (`name`), built by `make` from its namespace.
    fn pid_builtin(
        &mut self,
        make: fn(PidNs) -> Builtin,
        name: &str,
        args: &[ast::Expr],
        span: Span,
    ) -> Expr {
        match self.pid_namespace(name, args, span) {
            // A `uint32`, as bpftrace 0.27 types them (the kernel's ids are 32-bit).
            Some(ns) => mk(H::Builtin(make(ns)), U32, span),
            None => poisoned(span),
        }
    }

    /// The namespace of `pid(...)`/`tid(...)` (`name`): `curr_ns` (the default) or `init`.
    /// rbt's own namespace is resolved here, so codegen sees the initial one or a named one.
    fn pid_namespace(&mut self, name: &str, args: &[ast::Expr], span: Span) -> Option<PidNs> {
        let mode = match args.first().map(|a| (&a.kind, a.span)) {
            None => "curr_ns",
            Some((A::Ident(m), _)) if m == "curr_ns" || m == "init" => m.as_str(),
            Some((A::Ident(m), at)) => {
                self.push(diagnostics::unknown_pid_namespace(name, m, at));
                return None;
            }
            Some(_) => {
                self.push(diagnostics::pid_namespace_not_a_name(name, span));
                return None;
            }
        };
        if mode == "init" {
            return Some(PidNs::Init);
        }
        Some(match self.catalog.host().pid_ns {
            None => PidNs::Init,
            Some((dev, ino)) => PidNs::Named { dev, ino },
        })
    }

    /// `nsecs(clock)`. bpftrace's software TAI (`sw_tai`) is the boot clock plus the
    /// offset between the two clocks when the script is compiled.
    fn nsecs(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        match self.clock(args) {
            Some(Clock::SwTai) => {
                let offset = self.catalog.host().tai_offset_ns;
                let boot = mk(H::Builtin(Builtin::Nsecs(Clock::Boot)), U64, span);
                let add = H::Binary {
                    op: ast::BinaryOp::Add,
                    lhs: Box::new(boot),
                    rhs: Box::new(mk(H::Int(offset), U64, span)),
                };
                mk(add, U64, span)
            }
            Some(clock) => mk(H::Builtin(Builtin::Nsecs(clock)), U64, span),
            None => poisoned(span),
        }
    }

    /// The clock of `nsecs(...)`: boot (the default), monotonic, tai or sw_tai.
    fn clock(&mut self, args: &[ast::Expr]) -> Option<Clock> {
        let names: Vec<&str> = Clock::NAMES.iter().map(|(n, _)| *n).collect();
        let Some(arg) = args.first() else {
            return Some(Clock::Boot);
        };
        let found = match &arg.kind {
            A::Ident(m) => Clock::NAMES.iter().find(|(n, _)| n == m).map(|(_, c)| *c),
            _ => None,
        };
        if found.is_none() {
            let shown = match &arg.kind {
                A::Ident(m) => m.as_str(),
                _ => "",
            };
            self.push(diagnostics::unknown_clock(shown, &names, arg.span));
        }
        found
    }

    /// `ppid` and `pcomm`: a field of the current task's parent.
    /// `ppid`, `pcomm`, `leader_tid`, `leader_comm`: a field of a task the current one (or
    /// the task given as the argument, `ppid(curtask)` in bpftrace 0.27) points at, read
    /// through BTF as `task->link->field`; ids are widened to u64 like `pid`.
    fn task_field(
        &mut self,
        b: Builtin,
        args: &[ast::Expr],
        link: &str,
        field: &str,
        span: Span,
    ) -> Expr {
        if self.lookup_record("struct task_struct").is_none() {
            self.push(diagnostics::task_builtin_without_btf(&b.name(), span));
            return poisoned(span);
        }
        let task = match args.first() {
            // An address or a pointer of any type is read as a task, as bpftrace's macros
            // cast it.
            Some(arg) => {
                let a = self.expr(arg);
                if !(a.ty.is_int() || matches!(a.ty, Type::Pointer { .. })) {
                    self.push(diagnostics::not_a_task(&b.name(), &a.ty, a.span));
                    return poisoned(span);
                }
                match self.builtin(Builtin::Curtask, &[], span).ty {
                    ty @ Type::Pointer { .. } => Expr { ty, ..a },
                    _ => return poisoned(span),
                }
            }
            None => self.builtin(Builtin::Curtask, &[], span),
        };
        let ident = |name: &str| ast::Ident {
            name: name.to_string(),
            span,
        };
        let errors = self.diags.len();
        let linked = self.field_of(task, &ident(link), span);
        if self.diags.len() > errors {
            // A kernel without that link: the second field would only repeat the error.
            return poisoned(span);
        }
        // The field's own type (`pid_t`, an `int32`, for `ppid`), as in bpftrace 0.27.
        self.field_of(linked, &ident(field), span)
    }

    /// `percpu_kaddr("var"[, cpu])`: the address of a per-CPU kernel variable on `cpu`, or
    /// on the CPU the probe runs on; a `uint64`, as in bpftrace 0.27. The kernel resolves
    /// the variable (a typed `.ksyms` extern), so its BTF type must be known here.
    fn percpu_kaddr_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let Some(symbol) = self.literal_str(&args[0], "percpu_kaddr", "variable name") else {
            return poisoned(span);
        };
        let Some(var) = self.catalog.kernel_variable(&symbol) else {
            self.push(diagnostics::kernel_variable_not_found(
                &symbol,
                args[0].span,
            ));
            return poisoned(span);
        };
        let cpu = match args.get(1) {
            Some(a) => {
                let cpu = self.expr(a);
                if !cpu.ty.is_int() {
                    self.push(diagnostics::percpu_kaddr_cpu_not_integer(&cpu.ty, cpu.span));
                    return poisoned(span);
                }
                Some(Box::new(mk(H::Cast(Box::new(cpu)), U32, a.span)))
            }
            None => None,
        };
        mk(H::PercpuKaddr { symbol, var, cpu }, U64, span)
    }

    /// `socket_cookie(sk)`: the socket's cookie, a u64 the kernel gives each socket; `sk` is
    /// a `struct sock *` (as a function argument, which the verifier knows the type of).
    fn socket_cookie_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        if !self.typed_arguments_here("socket_cookie()", span) {
            return poisoned(span);
        }
        let sk = self.expr(&args[0]);
        let is_sock = matches!(&sk.ty, Type::Pointer { to, .. }
            if matches!(to.as_ref(), Type::Record(r) if r.name == "struct sock"));
        if !is_sock {
            self.push(diagnostics::socket_cookie_not_a_socket(&sk.ty, sk.span));
            return poisoned(span);
        }
        mk(
            H::Call {
                func: Function::SocketCookie,
                args: vec![sk],
            },
            U64,
            span,
        )
    }

    /// Whether the probe being checked loads as a tracing program, as `call` (valid in fentry,
    /// fexit and raw tracepoint probes) needs: a raw tracepoint the kernel's BTF does not type
    /// loads as a plain raw tracepoint program, which may not call its helper or kfunc.
    fn typed_arguments_here(&mut self, call: &str, span: Span) -> bool {
        if self.probe.provider == Some(Provider::Rawtracepoint) && self.probe.signature.is_none() {
            self.push(diagnostics::untyped_raw_tracepoint(call, span));
            return false;
        }
        true
    }

    /// `skboutput(path, skb, len, offset)`: sends the first `len` bytes of packet `skb` to
    /// user space, which writes those from `offset` on to the pcap file at `path`; 0, or a
    /// negative error (a `uint32`, as bpftrace 0.27 types it). As in bpftrace, the path and
    /// the offset are constants, which the call's event carries.
    fn skboutput_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        if !self.typed_arguments_here("skboutput()", span) {
            return poisoned(span);
        }
        let Some(path) = self.literal_str(&args[0], "skboutput", "file path") else {
            return poisoned(span);
        };
        let skb = self.expr(&args[1]);
        let is_skb = matches!(&skb.ty, Type::Pointer { to, .. }
            if matches!(to.as_ref(), Type::Record(r) if r.name == "struct sk_buff"));
        if !is_skb {
            self.push(diagnostics::skboutput_not_a_packet(&skb.ty, skb.span));
            return poisoned(span);
        }
        let len = self.expr(&args[2]);
        if !len.ty.is_int() {
            self.push(diagnostics::skboutput_length_not_integer(&len.ty, len.span));
            return poisoned(span);
        }
        let offset = match self.const_int(&args[3]) {
            Some(n) if n >= 0 => n as u64,
            _ => {
                self.push(diagnostics::skboutput_offset_not_constant(args[3].span));
                return poisoned(span);
            }
        };
        let event = self.event(Event::SkbOutput { path, offset });
        mk(
            H::SkbOutput {
                event,
                skb: Box::new(skb),
                len: Box::new(mk(H::Cast(Box::new(len)), U64, args[2].span)),
            },
            U32,
            span,
        )
    }

    /// `path(p[, size])`: the full path of a `struct path`, from `bpf_d_path`, as a string of
    /// `size` bytes (the string length by default). `p` is a `struct path *` or a `struct
    /// path` field reached through a kernel pointer (`args.file.f_path`), whose address is
    /// passed: the helper wants the kernel's own object, which the verifier checks by type.
    fn path_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        if !self.typed_arguments_here("path()", span) {
            return poisoned(span);
        }
        let p = self.expr(&args[0]);
        let is_path = |t: &Type| matches!(t, Type::Record(r) if r.name == "struct path");
        let fits = match &p.ty {
            Type::Pointer { to, .. } => is_path(to),
            ty => is_path(ty) && matches!(p.kind, H::Load { .. }),
        };
        if !fits {
            self.push(diagnostics::path_argument(&p.ty, p.span));
            return poisoned(span);
        }
        let len = match args.get(1) {
            None => self.opts.config.strlen(),
            Some(a) => match self.const_int(a) {
                // At most the string length, as str(p, n).
                Some(n) if n > 0 => u32::try_from(n)
                    .unwrap_or(u32::MAX)
                    .min(self.opts.config.strlen()),
                _ => {
                    self.push(diagnostics::path_size_not_constant(a.span));
                    return poisoned(span);
                }
            },
        };
        mk(
            H::Call {
                func: Function::Path,
                args: vec![p],
            },
            Type::Str { len },
            span,
        )
    }

    /// `comm(pid)`: another process's name, read through the `bpf_task_from_pid` kfunc (as
    /// bpftrace 0.27 does), which the kernel offers to some program types only.
    fn comm_of(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        const KFUNC: &str = "bpf_task_from_pid";
        let pid = self.expr(&args[0]);
        if !pid.ty.is_int() {
            self.push(diagnostics::comm_pid_not_integer(&pid.ty, pid.span));
            return poisoned(span);
        }
        let provider = self.probe.provider;
        // A raw tracepoint BTF types loads as a tracing program, which may call kfuncs.
        if provider == Some(Provider::Rawtracepoint)
            && !self.typed_arguments_here("comm(pid)", span)
        {
            return poisoned(span);
        }
        if !self
            .program_type()
            .is_some_and(|t| self.catalog.kfunc_allowed(KFUNC, t))
        {
            // The catalog asks the kernel once per program type.
            let allowed: Vec<Provider> = Provider::ALL
                .iter()
                .copied()
                .filter(|p| self.catalog.kfunc_allowed(KFUNC, p.kind().program))
                .collect();
            self.push(diagnostics::comm_pid_not_here(provider, &allowed, span));
            return poisoned(span);
        }
        // A syscall tracepoint dispatched by number is a raw tracepoint program, which may
        // not call it: the probe stays a perf tracepoint.
        if provider == Some(Provider::Tracepoint) {
            self.probe.perf_tracepoint = true;
        }
        let task = self.lookup_record("struct task_struct");
        let found = task.and_then(|r| {
            let (index, comm) = r
                .fields
                .iter()
                .enumerate()
                .find(|(_, f)| f.name == "comm")
                .map(|(i, f)| (i, f.offset))?;
            let core = crate::hir::CoreAccess {
                root: r,
                fields: vec![index as u32],
            };
            Some((comm, Box::new(core)))
        });
        let Some((comm, core)) = found else {
            self.push(diagnostics::task_builtin_without_btf("comm", span));
            return poisoned(span);
        };
        let pid = mk(
            H::Cast(Box::new(pid)),
            Type::Int {
                bits: 32,
                signed: true,
            },
            span,
        );
        mk(
            H::CommOf {
                pid: Box::new(pid),
                comm,
                core: Some(core),
            },
            Type::Str { len: 16 },
            span,
        )
    }

    /// A value-giving function whose call passed `call_rules`, so its argument count is right.
    fn value_call(&mut self, f: Function, args: &[ast::Expr], span: Span) -> Expr {
        match f {
            Function::Str => self.str_call(args, span),
            Function::Buf => self.buf_call(args, span),
            Function::Strncmp => self.strncmp_call(args, span),
            Function::Strcontains | Function::Strstr => self.string_search_call(f, args, span),
            Function::Path => self.path_call(args, span),
            Function::Memcmp => self.memcmp_call(args, span),
            Function::Strcap => self.strcap_call(args, span),
            // As 0.27's macros ask `typeinfo()`: an `int8[N]` made by a cast or a `let` is an
            // array, not a string (a struct's `char name[N]` is a string already).
            Function::IsStr => self.type_test_call(args, span, Type::is_str),
            Function::IsInteger => self.type_test_call(args, span, |t| {
                matches!(t, Type::Int { .. } | Type::Enum { .. })
            }),
            Function::IsUnsignedInteger => {
                self.type_test_call(args, span, |t| matches!(t, Type::Int { signed: false, .. }))
            }
            Function::IsPtr => {
                self.type_test_call(args, span, |t| matches!(t, Type::Pointer { .. }))
            }
            Function::IsArray => {
                self.type_test_call(args, span, |t| matches!(t, Type::Array { .. }))
            }
            Function::IsLiteral => self.is_literal_call(args, span),
            Function::KfuncExist => self.kfunc_exist_call(args, span),
            Function::KfuncAllowed => self.kfunc_allowed_call(args, span),
            Function::StrConcat => self.str_concat_call(args, span),
            Function::Strlen => self.strlen_call(args, span),
            Function::IsErr => self.is_err_call(args, span),
            Function::Bswap => self.bswap_call(args, span),
            Function::SocketCookie => self.socket_cookie_call(args, span),
            Function::Skboutput => self.skboutput_call(args, span),
            Function::PercpuKaddr => self.percpu_kaddr_call(args, span),
            Function::Ntop => self.ntop_call(args, span),
            Function::Pton => self.pton_call(args, span),
            Function::Macaddr => self.macaddr_call(args, span),
            Function::Ksym => self.printed_int(f, Type::Ksym, args, span),
            Function::Usym => self.printed_int(f, Type::Usym, args, span),
            Function::Strerror => self.printed_int(f, Type::Strerror, args, span),
            Function::SyscallName => self.printed_int(f, Type::SyscallName, args, span),
            Function::SignalName => self.printed_int(f, Type::SignalName, args, span),
            Function::CgroupPath => self.cgroup_path_call(args, span),
            Function::Kptr => self.pointer_in(f, AddrSpace::Kernel, args),
            Function::Uptr => self.pointer_in(f, AddrSpace::User, args),
            Function::Kaddr => self.kaddr_call(args, span),
            Function::Getopt => self.getopt_call(args, span),
            Function::Uaddr => self.uaddr_call(args, span),
            Function::Cgroupid => self.cgroupid_call(args, span),
            Function::Strftime => self.strftime_call(args, span),
            Function::Reg => self.reg_call(args, span),
            Function::Len => self.len_call(args, span),
            Function::HasKey => self.has_key_call(args, span),
            Function::Delete => match self.delete_target(args) {
                Some((map, key)) => mk(
                    H::Delete {
                        map,
                        key: key.map(Box::new),
                    },
                    Type::Bool,
                    span,
                ),
                None => poisoned(span),
            },
            Function::Find => self.find_call(args, span),
            // Statements, aggregations and functions rbt does not support yet were reported
            // by call_rules, from their records.
            Function::Printf
            | Function::StaticAssert
            | Function::AssertStr
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
            | Function::Signal
            | Function::SignalThread
            | Function::Override
            | Function::WriteUser
            | Function::Count
            | Function::Sum
            | Function::Avg
            | Function::Min
            | Function::Max
            | Function::Stats
            | Function::Hist
            | Function::Lhist
            | Function::Tseries
            | Function::Clear
            | Function::Zero
            | Function::Unwatch => poisoned(span),
        }
    }

    /// The type of `kstack`/`ustack` with a mode (bpftrace, perf, raw, and build_id for
    /// `ustack`) and a depth, in either order; bare, they take the configured `stack_mode`
    /// and the contract's deepest stack.
    fn stack_type(&mut self, source: StackSource, args: &[ast::Expr], span: Span) -> Option<Type> {
        let mut mode = self.opts.config.stack_mode;
        let mut limit = MAX_DEPTH;
        // Where the mode comes from: its argument, else the call (`stack_mode` in config).
        let mut mode_span = span;
        for a in args {
            match &a.kind {
                A::Ident(m) if m == "perf" => mode = StackMode::Perf,
                A::Ident(m) if m == "bpftrace" => mode = StackMode::Bpftrace,
                A::Ident(m) if m == "raw" => mode = StackMode::Raw,
                A::Ident(m) if m == "build_id" => {
                    mode = StackMode::BuildId;
                    mode_span = a.span;
                }
                // The depth is a constant: a literal, a positional parameter or a #define.
                _ => match self.const_int(a) {
                    Some(n) if (1..=i64::from(MAX_DEPTH)).contains(&n) => limit = n as u32,
                    Some(n) if n > i64::from(MAX_DEPTH) => {
                        // The stack-trace map holds no more frames than this.
                        self.push(diagnostics::stack_too_deep(MAX_DEPTH, n as u64, a.span));
                        return None;
                    }
                    _ => {
                        self.push(diagnostics::stack_argument(MAX_DEPTH, a.span));
                        return None;
                    }
                },
            }
        }
        if mode == StackMode::BuildId && source == StackSource::Kernel {
            // Kernel code has no build ids to name its frames by.
            self.push(diagnostics::build_id_kstack(mode_span));
            return None;
        }
        Some(Type::Stack {
            source,
            mode,
            limit,
        })
    }

    /// The text of `str(args)` when it is known at compile time: `str("text")` and,
    /// as bpftrace 0.27 folds them, `str($1)` (the parameter's text even when it looks like
    /// a number; `str($1 + 1)` that text without its first byte), `str(-5)` ("-5") and
    /// `str(str("hello", 5), 2)` ("he"). With `n`, n characters of the text are kept.
    fn str_literal(&mut self, args: &[ast::Expr]) -> Option<Vec<u8>> {
        let mut text = match &args[0].kind {
            A::Str(text) => text.clone(),
            A::Call { func, args: inner } if func.name == "str" && !inner.is_empty() => {
                self.str_literal(inner)?
            }
            // A choice made by a constant is the chosen text, as 0.27 folds it first.
            A::Ternary {
                cond,
                then,
                otherwise,
            } => {
                let chosen = if self.const_int(cond)? != 0 {
                    then
                } else {
                    otherwise
                };
                self.str_literal(std::slice::from_ref(chosen))?
            }
            _ => match self.positional_text(&args[0]) {
                None if super::exprs::written_literal(&args[0]) => {
                    self.const_int(&args[0])?.to_string().into_bytes()
                }
                text => text?,
            },
        };
        let chars = self.opts.config.string_chars();
        match args.get(1).and_then(|a| self.const_int(a)) {
            // bpftrace keeps n characters of a literal's or a parameter's text.
            Some(n) if n <= i64::from(chars) => text.truncate(usize::try_from(n).unwrap_or(0)),
            // Longer than max_strlen: cut to it and marked, as a read would be.
            _ if text.len() > chars as usize => {
                text.truncate(chars as usize);
                text.extend_from_slice(self.opts.config.string_layout().1.as_bytes());
            }
            _ => {}
        }
        Some(text)
    }

    fn str_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        if let Some(text) = self.str_literal(args) {
            let len = text.len() as u32 + 1;
            return mk(H::Str(text), Type::Str { len }, span);
        }
        let chars = self.opts.config.string_chars();
        let mut a: Vec<Expr> = args.iter().map(|a| self.expr(a)).collect();
        // A length beyond max_strlen reads as much as str() without one, as in bpftrace 0.27.
        if matches!(a.get(1).map(|n| &n.kind), Some(H::Int(n)) if *n > i64::from(chars)) {
            a.truncate(1);
        }
        if let Type::Str { len } = a[0].ty {
            // A string value with `n` keeps n - 1 characters and the NUL, as a read does.
            let s = a.remove(0);
            return match a.first().map(|n| &n.kind) {
                Some(H::Int(n)) if *n < i64::from(len) => {
                    let len = (*n).max(1) as u32;
                    self.coerce(s, &Type::Str { len })
                }
                // One that may hold more than max_strlen characters (a char array field,
                // `comm` under a small max_strlen) is read again through str() to be cut;
                // what a read made (str(), a `__data_loc` field) is cut already.
                None if len.saturating_sub(1) > chars && !cut_already(&s) => {
                    let len = self.opts.config.strlen();
                    let call = H::Call {
                        func: Function::Str,
                        args: vec![s],
                    };
                    mk(call, Type::Str { len }, span)
                }
                _ => s,
            };
        }
        if !a[0].ty.is_int() && !matches!(a[0].ty, Type::Pointer { .. }) {
            self.push(diagnostics::str_argument(&a[0].ty, a[0].span));
            return poisoned(span);
        }
        if a[0].ty.is_int() {
            a[0].ty = Type::Pointer {
                to: Box::new(Type::Int {
                    bits: 8,
                    signed: true,
                }),
                space: self.default_space(),
            };
        }
        let len = match a.get(1).map(|e| &e.kind) {
            // bpftrace 0.27 keeps n - 1 characters and the terminating NUL.
            Some(H::Int(n)) => {
                ((*n).clamp(1, i64::from(u32::MAX)) as u32).min(self.opts.config.strlen())
            }
            _ => self.opts.config.strlen(),
        };
        mk(
            H::Call {
                func: Function::Str,
                args: a,
            },
            Type::Str { len },
            span,
        )
    }

    fn buf_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let mut a: Vec<Expr> = args.iter().map(|a| self.expr(a)).collect();
        let len = match (a.get(1).map(|e| &e.kind), &a[0].ty) {
            (Some(H::Int(n)), _) => (*n).clamp(0, 255) as u32,
            (None, Type::Array { .. } | Type::Str { .. }) => a[0].ty.size().min(255),
            (Some(_), _) if a[1].ty.is_int() => {
                // A length known only at run time reads at most strlen bytes.
                self.opts.config.strlen().min(255)
            }
            _ => {
                self.push(diagnostics::buf_needs_length(span));
                return poisoned(span);
            }
        };
        if a[0].ty.is_int() {
            a[0].ty = Type::byte_pointer(self.default_space());
        }
        // A constant length is the buffer's capacity; a run-time one stays an argument.
        if matches!(a.get(1).map(|e| &e.kind), Some(H::Int(_)) | None) {
            a.truncate(1);
        }
        mk(
            H::Call {
                func: Function::Buf,
                args: a,
            },
            Type::Buffer { len },
            span,
        )
    }

    /// `probe` where a string is wanted: every program that reads `probe` serves one attach
    /// point, so codegen makes it that name's text. Any other expression is unchanged.
    pub(super) fn probe_as_str(&mut self, e: Expr) -> Expr {
        match (&e.kind, &e.ty) {
            (H::Builtin(Builtin::Probe), Type::ProbeName) => {
                // The name is compiled into the program, which then serves one target.
                self.probe.probe_as_text = true;
                Expr {
                    ty: Type::Str {
                        len: self.probe.name_len,
                    },
                    ..e
                }
            }
            _ => e,
        }
    }

    fn strncmp_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let a: Vec<Expr> = args
            .iter()
            .map(|a| {
                let e = self.expr(a);
                self.probe_as_str(e)
            })
            .collect();
        if !a[0].ty.is_str() || !a[1].ty.is_str() || !matches!(a[2].kind, H::Int(_)) {
            self.push(diagnostics::strncmp_arguments(span));
            return poisoned(span);
        }
        // 0 when the first `n` characters match, else 1: a `uint64`, as in bpftrace 0.27.
        mk(
            H::Call {
                func: Function::Strncmp,
                args: a,
            },
            U64,
            span,
        )
    }

    /// `strcontains(haystack, needle)` (a bool, printed true/false as in 0.27) and
    /// `strstr(haystack, needle)` (the index where `needle` first starts, or -1 as bpftrace
    /// documents it; 0.27.1 itself gives -2): one search over both strings.
    fn string_search_call(&mut self, f: Function, args: &[ast::Expr], span: Span) -> Expr {
        let a: Vec<Expr> = args
            .iter()
            .map(|a| {
                let e = self.expr(a);
                self.probe_as_str(e)
            })
            .collect();
        let name = f.name();
        let wrong: Vec<(Type, Span)> = a
            .iter()
            .filter(|x| !x.ty.is_str())
            .map(|x| (x.ty.clone(), x.span))
            .collect();
        if !wrong.is_empty() {
            for (ty, at) in wrong {
                self.push(diagnostics::string_function_argument(name, &ty, at));
            }
            return poisoned(span);
        }
        let steps = u64::from(a[0].ty.size()) * u64::from(a[1].ty.size());
        let what = format!("{name}()");
        let kernel_searches = steps > super::SEARCH_STEPS
            && self
                .catalog
                .function_signature(super::STRNSTR_KFUNC)
                .is_some();
        if !kernel_searches && !self.string_steps_fit(&what, steps, super::SEARCH_STEPS, span) {
            return poisoned(span);
        }
        let ty = if f == Function::Strcontains {
            Type::Bool
        } else {
            I64
        };
        mk(H::Call { func: f, args: a }, ty, span)
    }

    /// `memcmp(left, right, count)`: compares the first `count` bytes of two values held in
    /// memory (strings, arrays, tuples, records, buffers), never more than the smaller holds;
    /// 0 when they are the same, else the difference of the first differing bytes, as C's
    /// memcmp.
    fn memcmp_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let left = self.expr(&args[0]);
        let right = self.expr(&args[1]);
        let count = self.expr(&args[2]);
        let mut ok = true;
        for side in [&left, &right] {
            if !in_memory(&side.ty) {
                self.push(diagnostics::memcmp_argument(&side.ty, side.span));
                ok = false;
            }
        }
        self.require_int(&count, "memcmp()'s count");
        if !ok || !count.ty.is_int() {
            return poisoned(span);
        }
        let steps = u64::from(left.ty.size().min(right.ty.size()));
        if !self.string_steps_fit("memcmp()", steps, super::STRING_STEPS, span) {
            return poisoned(span);
        }
        mk(
            H::Call {
                func: Function::Memcmp,
                args: vec![left, right, count],
            },
            I64,
            span,
        )
    }

    /// `strcap(s)`: how many bytes a string-like value can hold, NUL included, known when
    /// compiling (a string's size, a char array's length).
    fn strcap_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let a = self.expr(&args[0]);
        let a = self.probe_as_str(a);
        match string_capacity(&a.ty) {
            Some(n) => mk(H::Int(i64::from(n)), I64, span),
            None => {
                self.push(diagnostics::string_function_argument(
                    "strcap", &a.ty, a.span,
                ));
                poisoned(span)
            }
        }
    }

    /// `assert_str(x)`: nothing when `x` is string-like (a string or a char array), else
    /// an error naming what it is.
    pub(super) fn assert_str(&mut self, args: &[ast::Expr]) -> bool {
        let a = self.expr(&args[0]);
        let a = self.probe_as_str(a);
        if string_capacity(&a.ty).is_none() {
            self.push(diagnostics::string_function_argument(
                "assert_str",
                &a.ty,
                a.span,
            ));
            return false;
        }
        true
    }

    /// `is_str(x)`, `is_integer(x)`, …: whether the argument's type passes `test`, a
    /// constant. The argument is checked but never run.
    fn type_test_call(&mut self, args: &[ast::Expr], span: Span, test: fn(&Type) -> bool) -> Expr {
        let a = self.expr(&args[0]);
        mk(H::Int(i64::from(test(&a.ty))), Type::Bool, span)
    }

    /// `is_literal(x)`: whether the argument is a literal, or folds to one (`1 + 1`, `-1`).
    fn is_literal_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let a = self.expr(&args[0]);
        let yes =
            matches!(args[0].kind, A::Str(_) | A::Bool(_)) || super::comptime::fold(&a).is_some();
        mk(H::Int(i64::from(yes)), Type::Bool, span)
    }

    /// `kfunc_exist("name")`: whether the kernel's BTF describes a function of that name.
    fn kfunc_exist_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let Some(name) = self.literal_str(&args[0], "kfunc_exist", "function name") else {
            return poisoned(span);
        };
        let found = self.catalog.function_signature(&name).is_some();
        mk(H::Int(i64::from(found)), Type::Bool, span)
    }

    /// `config()`: a record of every setting's value, a constant (literal integers, booleans
    /// and strings, typed as literals are).
    fn config_record(&mut self, span: Span) -> Expr {
        let fields = self.opts.config.record().into_iter().map(|(name, value)| {
            let value = match value {
                ConfigValue::Bool(b) => mk(H::Int(i64::from(b)), Type::Bool, span),
                ConfigValue::Int(n) => mk(H::Int(n as i64), literal_type(n), span),
                ConfigValue::Text(s) => text(s.as_bytes(), span),
            };
            (name.to_string(), value)
        });
        record(fields.collect(), span)
    }

    /// `kfunc_allowed("name")`: whether the kernel lets this probe's program call the kfunc
    /// (false where it has no such kfunc).
    fn kfunc_allowed_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let Some(name) = self.literal_str(&args[0], "kfunc_allowed", "function name") else {
            return poisoned(span);
        };
        let allowed = self
            .program_type()
            .is_some_and(|t| self.catalog.kfunc_allowed(&name, t));
        mk(H::Int(i64::from(allowed)), Type::Bool, span)
    }

    /// The type this probe's program loads as: a raw tracepoint the kernel's BTF types is a
    /// tracing program; a syscall tracepoint stays a perf tracepoint for kfunc calls (see
    /// `comm_of`). None outside a probe.
    fn program_type(&self) -> Option<ProgramType> {
        let provider = self.probe.provider?;
        Some(
            if provider == Provider::Rawtracepoint && self.probe.signature.is_some() {
                ProgramType::Tracing
            } else {
                provider.kind().program
            },
        )
    }

    /// `str_concat(a, b)`: a string long enough for both.
    fn str_concat_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let a: Vec<Expr> = args
            .iter()
            .map(|a| {
                let e = self.expr(a);
                self.probe_as_str(e)
            })
            .collect();
        let (Type::Str { len: la }, Type::Str { len: lb }) = (&a[0].ty, &a[1].ty) else {
            let wrong: Vec<(Type, Span)> = a
                .iter()
                .filter(|x| !x.ty.is_str())
                .map(|x| (x.ty.clone(), x.span))
                .collect();
            for (ty, at) in wrong {
                self.push(diagnostics::string_function_argument("str_concat", &ty, at));
            }
            return poisoned(span);
        };
        // Each length counts the string's NUL; the result keeps one.
        let len = (la + lb).saturating_sub(1).max(1);
        mk(
            H::Call {
                func: Function::StrConcat,
                args: a,
            },
            Type::Str { len },
            span,
        )
    }

    /// `strlen(s)`: the bytes of a string before its NUL.
    fn strlen_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let a = self.expr(&args[0]);
        let a = self.probe_as_str(a);
        if !a.ty.is_str() {
            self.push(diagnostics::string_function_argument(
                "strlen", &a.ty, a.span,
            ));
            return poisoned(span);
        }
        let steps = u64::from(a.ty.size());
        let kernel_measures = steps > super::STRING_STEPS
            && self
                .catalog
                .function_signature(super::STRNLEN_KFUNC)
                .is_some();
        if !kernel_measures && !self.string_steps_fit("strlen()", steps, super::STRING_STEPS, span)
        {
            return poisoned(span);
        }
        mk(
            H::Call {
                func: Function::Strlen,
                args: vec![a],
            },
            U64,
            span,
        )
    }

    /// `is_err(x)`: whether `x`, taken as a 64-bit signed number, is a kernel error code
    /// (-4095..=-1, as the kernel's `IS_ERR()`): one unsigned comparison.
    fn is_err_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let a = self.expr(&args[0]);
        if !a.ty.is_int() && !matches!(a.ty, Type::Pointer { .. }) {
            self.push(diagnostics::is_err_argument(&a.ty, a.span));
            return poisoned(span);
        }
        let at = a.span;
        let wide = mk(H::Cast(Box::new(a)), U64, at);
        let test = H::Binary {
            op: ast::BinaryOp::Ge,
            lhs: Box::new(wide),
            rhs: Box::new(mk(H::Int(-4095), U64, at)),
        };
        mk(test, Type::Bool, span)
    }

    fn bswap_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
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
                func: Function::Bswap,
                args: vec![a],
            },
            ty,
            span,
        )
    }

    fn ntop_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let a: Vec<Expr> = args.iter().map(|a| self.expr(a)).collect();
        let addr = &a[a.len() - 1];
        let ok = addr.ty.is_int()
            || matches!(
                &addr.ty,
                Type::Array { len: 4 | 16, .. } | Type::Str { len: 4 | 16 }
            );
        if !ok {
            self.push(diagnostics::ntop_argument(&addr.ty, addr.span));
            return poisoned(span);
        }
        mk(
            H::Call {
                func: Function::Ntop,
                args: a,
            },
            Type::Inet,
            span,
        )
    }

    /// `pton("addr")`: the address's bytes, computed here.
    fn pton_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let Some(text) = self.literal_str(&args[0], "pton", "address") else {
            return poisoned(span);
        };
        let bytes: Vec<u8> = match text.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(a)) => a.octets().to_vec(),
            Ok(std::net::IpAddr::V6(a)) => a.octets().to_vec(),
            Err(_) => {
                self.push(diagnostics::not_an_ip_address(&text, args[0].span));
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

    fn macaddr_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let mut a = self.expr(&args[0]);
        if a.ty.is_int() {
            a.ty = Type::byte_pointer(self.default_space());
        }
        // The six bytes come from memory a pointer names, or from the start of an array or
        // string, or of a buffer's data; a struct or a stack is none of those.
        let ok = match &a.ty {
            Type::Pointer { .. } => true,
            Type::Array { .. } | Type::Str { .. } => a.ty.size() >= 6,
            Type::Buffer { len } => *len >= 6,
            _ => false,
        };
        if !ok {
            self.push(diagnostics::macaddr_argument(&a.ty, a.span));
            return poisoned(span);
        }
        mk(
            H::Call {
                func: Function::Macaddr,
                args: vec![a],
            },
            Type::MacAddr,
            span,
        )
    }

    /// `ksym`, `usym`, `strerror`, `syscall_name`, `signal_name`, `cgroup_path`: an integer
    /// that user space prints as `ty`.
    fn printed_int(&mut self, f: Function, ty: Type, args: &[ast::Expr], span: Span) -> Expr {
        let a = self.expr(&args[0]);
        self.require_int(&a, "the argument");
        mk(
            H::Call {
                func: f,
                args: vec![a],
            },
            ty,
            span,
        )
    }

    /// `kptr`/`uptr`: the argument, as a pointer into `space`.
    fn pointer_in(&mut self, f: Function, space: AddrSpace, args: &[ast::Expr]) -> Expr {
        let mut a = self.expr(&args[0]);
        if let Type::Pointer { space: s, .. } = &mut a.ty {
            *s = space;
        } else if a.ty.is_int() {
            a.ty = Type::byte_pointer(space);
        } else {
            self.push(diagnostics::address_space_argument(f.name(), &a.ty, a.span));
            return poisoned(a.span);
        }
        a
    }

    /// `cgroup_path(id[, "filter"])`: the id, printed as its path in the cgroup hierarchies
    /// whose names the literal wildcard `filter` matches.
    fn cgroup_path_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let filter = match args.get(1) {
            Some(f) => match self.literal_str(f, "cgroup_path", "hierarchy filter") {
                Some(text) => Some(text),
                None => return poisoned(span),
            },
            None => None,
        };
        let ty = Type::CgroupPath { filter };
        self.printed_int(Function::CgroupPath, ty, &args[..1], span)
    }

    /// `kaddr("sym")`: the kernel symbol's address, looked up here.
    fn kaddr_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let Some(name) = self.literal_str(&args[0], "kaddr", "symbol name") else {
            return poisoned(span);
        };
        match self.catalog.kernel_symbol(&name) {
            Some(addr) => mk(H::Int(addr as i64), U64, span),
            None if self.opts.load_only => {
                let d = diagnostics::kernel_symbol_not_found_loaded_anyway(&name, args[0].span);
                self.push(d);
                mk(H::Int(0), U64, span)
            }
            None => {
                self.push(diagnostics::kernel_symbol_not_found(&name, args[0].span));
                poisoned(span)
            }
        }
    }

    fn uaddr_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let Some(name) = self.literal_str(&args[0], "uaddr", "symbol name") else {
            return poisoned(span);
        };
        self.uaddr(&name, args[0].span, span)
    }

    /// `cgroupid("/sys/fs/cgroup/...")`: the cgroup's id, looked up here.
    fn cgroupid_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let Some(path) = self.literal_str(&args[0], "cgroupid", "cgroup path") else {
            return poisoned(span);
        };
        match self.catalog.cgroup_id(&path) {
            Some(id) => mk(H::Int(id as i64), U64, span),
            None => {
                self.push(diagnostics::not_a_cgroup(&path, args[0].span));
                poisoned(span)
            }
        }
    }

    /// `strftime("fmt", ns)`: the format is kept in a table; the event carries its index.
    fn strftime_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let Some(fmt) = self.literal_str(&args[0], "strftime", "format string") else {
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
                func: Function::Strftime,
                args: vec![idx, ns],
            },
            Type::Timestamp,
            span,
        )
    }

    fn reg_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let Some(name) = self.literal_str(&args[0], "reg", "register name") else {
            return poisoned(span);
        };
        if !stdlib::builtins::PT_REGS.iter().any(|(n, _)| *n == name) {
            let names: Vec<&str> = stdlib::builtins::PT_REGS.iter().map(|(n, _)| *n).collect();
            self.push(diagnostics::unknown_register(&name, &names, args[0].span));
            return poisoned(span);
        }
        let a = self.expr(&args[0]);
        mk(
            H::Call {
                func: Function::Reg,
                args: vec![a],
            },
            U64,
            span,
        )
    }

    fn len_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        if !matches!(args[0].kind, A::Map { .. }) {
            let a = self.expr(&args[0]);
            // A stack's length is its number of frames, up to its limit; codegen asks the
            // kernel for the probe's stack of that kind again (a stack value is only an id
            // in the stack map, which programs cannot read).
            if let Type::Stack {
                source: StackSource::UserDwarf { .. },
                ..
            } = a.ty
            {
                self.push(diagnostics::len_dw_ustack(args[0].span));
                return poisoned(span);
            }
            if let Type::Stack { .. } = a.ty {
                return mk(
                    H::Call {
                        func: Function::Len,
                        args: vec![a],
                    },
                    I64,
                    span,
                );
            }
            self.push(diagnostics::len_argument(&a.ty, args[0].span));
            return poisoned(span);
        }
        match self.whole_map(&args[0], "len()") {
            // A map without keys always holds its one value: bpftrace refuses to count it.
            Some(map) if self.maps[map as usize].key.is_none() => {
                let name = self.maps[map as usize]
                    .script_name
                    .clone()
                    .unwrap_or_default();
                self.push(diagnostics::len_of_scalar_map(&name, args[0].span));
                poisoned(span)
            }
            Some(map) => mk(H::MapLen { map }, I64, span),
            None => poisoned(span),
        }
    }

    fn has_key_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let A::Map { name, keys } = &args[0].kind else {
            self.push(diagnostics::has_key_needs_map(args[0].span));
            return poisoned(span);
        };
        if !keys.is_empty() {
            self.push(diagnostics::has_key_with_key(args[0].span));
            return poisoned(span);
        }
        let map = format!("@{}", name.name);
        let Some(id) = self.map_ids.get(&map).map(|i| i.id) else {
            self.push(diagnostics::map_not_assigned(&map, args[0].span));
            return poisoned(span);
        };
        let Some(key) = self.map_key(std::slice::from_ref(&args[1])) else {
            return poisoned(span);
        };
        let key = match self.maps[id as usize].key.clone() {
            Some(kt) if !super::compatible(&kt, &key.ty) => {
                let first = self.map_ids.get(&map).map_or(args[0].span, |i| i.first);
                let d = diagnostics::map_read_key_type(&map, &kt, &key.ty, first, key.span);
                self.push(d);
                return poisoned(span);
            }
            Some(kt) => self.coerce(key, &kt),
            None => {
                let first = self.map_ids.get(&map).map_or(args[0].span, |i| i.first);
                self.push(diagnostics::lookup_in_scalar_map(&map, first, args[0].span));
                return poisoned(span);
            }
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

    /// `find(@m, key, $v)`: `has_key`, and the value copied into `$v` when the key is there
    /// (`$v` is declared with the map's value type if it is new).
    fn find_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let H::HasKey { map, key } = self.has_key_call(&args[..2], span).kind else {
            return poisoned(span);
        };
        let A::Var(name) = &args[2].kind else {
            self.push(diagnostics::find_without_variable(args[2].span));
            return poisoned(span);
        };
        let value = match self.maps[map as usize].value.clone() {
            Type::Agg(agg) => match super::exprs::aggregation_value(agg) {
                Some(ty) => ty,
                None => {
                    self.push(diagnostics::find_in_aggregation(agg, args[0].span));
                    return poisoned(span);
                }
            },
            other => other,
        };
        let ty = match self.var_ids.get(name) {
            Some(&id) => {
                // `let $v;` takes the map's value type, as an assignment would; a typed
                // variable must hold it (a string as long as it).
                if !self.settle_type(id, &value, args[2].span, name) {
                    self.learn_var_type(id, &value);
                }
                self.vars[id as usize].clone()
            }
            None => value.clone(),
        };
        let Some(var) = self.var(name, &ty, args[2].span) else {
            return poisoned(span);
        };
        if !super::compatible(&self.vars[var as usize], &value) {
            let have = self.vars[var as usize].clone();
            self.push(diagnostics::find_variable_mismatch(
                name,
                &have,
                &value,
                args[2].span,
            ));
            return poisoned(span);
        }
        mk(H::Find { map, key, var }, Type::Bool, span)
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
                    self.push(diagnostics::uaddr_miss(name, &path, miss, true, arg_span));
                    (0, 8, None)
                }
                Err(miss) => {
                    self.push(diagnostics::uaddr_miss(name, &path, miss, false, arg_span));
                    return poisoned(span);
                }
            };
            match found {
                Some(prev) if prev != this => {
                    let relocatable = this.2.is_some().then_some(path.as_str());
                    self.push(diagnostics::uaddr_differs(name, relocatable, span));
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
        let at = obj
            .address_of_offset(offset)
            .ok_or(UaddrMiss::OutsideSegments(offset))?;
        Ok((
            sym.address,
            sym.size,
            Some(sym.address.wrapping_sub(at) as i64),
        ))
    }
}

/// Whether values of `ty` are held in memory, so `memcmp` can compare their bytes.
fn in_memory(ty: &Type) -> bool {
    matches!(
        ty,
        Type::Str { .. }
            | Type::Array { .. }
            | Type::Tuple(_)
            | Type::NamedTuple { .. }
            | Type::Record(_)
            | Type::Buffer { .. }
    )
}

/// Whether `ty` is an array of 8-bit integers (C's `char name[N]`), which bpftrace treats as
/// a string.
fn is_char_array(ty: &Type) -> bool {
    matches!(ty, Type::Array { elem, .. } if matches!(**elem, Type::Int { bits: 8, .. }))
}

/// The capacity of a string-like value: a string's size or a char array's length, NUL
/// included; None for anything else.
fn string_capacity(ty: &Type) -> Option<u32> {
    match ty {
        Type::Str { len } => Some(*len),
        Type::Array { len, .. } if is_char_array(ty) => Some(*len),
        _ => None,
    }
}

/// Whether a string was made by a read that cuts at `max_strlen` already: `str()`, or a
/// tracepoint's `__data_loc` field.
fn cut_already(e: &Expr) -> bool {
    matches!(
        e.kind,
        H::Call {
            func: Function::Str,
            ..
        } | H::ContextField { data_loc: true, .. }
    )
}

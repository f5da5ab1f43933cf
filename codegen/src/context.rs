//! Builtin variables and per-probe-type context access: how `arg0`, `sarg1`, `retval`,
//! `args.x`, `func`, `comm`, `pid`… are read for each kind of probe context.

use crate::helpers::{self, Helper};
use crate::ir::{Lowerer, Val};
use crate::CodegenError;
use inkwell::values::{IntValue, PointerValue};
use lang::hir::{Context, CoreAccess};
use stdlib::abi;
use stdlib::builtins::{Builtin, Clock, PidNs};
use stdlib::manifest::{Attach, UsdtArg};
use stdlib::types::{AddrSpace, StackSource, Type, U64};

type R<T> = Result<T, CodegenError>;

/// Registers carrying the first six integer arguments in the x86-64 calling convention.
const ARG_REGS: [&str; 6] = ["di", "si", "dx", "cx", "r8", "r9"];

pub fn reg_offset(name: &str) -> Option<u64> {
    stdlib::builtins::PT_REGS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, o)| *o)
}

/// The probe's context argument (in a `for` callback, the one its caller passed along).
pub fn ctx_ptr<'ctx>(l: &Lowerer<'_, 'ctx>) -> R<inkwell::values::PointerValue<'ctx>> {
    l.probe_ctx
        .ok_or_else(|| CodegenError::Internal("probe function without a context parameter".into()))
}

/// Reads a u64 at `offset` of the context.
/// The load is volatile so LLVM keeps it a whole aligned 8-byte access: the verifier rejects
/// narrower or unaligned reads of fentry/fexit and raw tracepoint contexts, and LLVM would
/// otherwise narrow a load whose high bytes go unused.
pub fn ctx_u64<'ctx>(l: &Lowerer<'_, 'ctx>, offset: u64) -> R<IntValue<'ctx>> {
    let at = l.offset(ctx_ptr(l)?, offset)?;
    let v = l
        .builder
        .build_load(l.ctx.i64_type(), at, "ctx")?
        .into_int_value();
    if let Some(inst) = v.as_instruction() {
        let _ = inst.set_volatile(true);
        let _ = inst.set_alignment(8);
    }
    Ok(v)
}

/// Reads register `name` from the context's `pt_regs` (a perf event's data starts with them).
pub fn reg<'ctx>(l: &Lowerer<'_, 'ctx>, name: &str) -> R<IntValue<'ctx>> {
    let off = reg_offset(name)
        .ok_or_else(|| CodegenError::Internal(format!("unknown register {name}")))?;
    ctx_u64(l, off)
}

pub fn builtin<'ctx>(l: &mut Lowerer<'_, 'ctx>, b: Builtin, ty: &Type) -> R<Val<'ctx>> {
    let i64t = l.ctx.i64_type();
    let shift32 = i64t.const_int(32, false);
    let mask32 = i64t.const_int(0xffff_ffff, false);
    let v = match b {
        Builtin::Pid(PidNs::Init) => {
            let v = l.helper(Helper::GetCurrentPidTgid, &[])?;
            l.builder.build_right_shift(v, shift32, false, "pid")?
        }
        Builtin::Tid(PidNs::Init) => {
            let v = l.helper(Helper::GetCurrentPidTgid, &[])?;
            l.builder.build_and(v, mask32, "tid")?
        }
        // `struct bpf_pidns_info { u32 pid; u32 tgid; }`: the thread id, then the process id.
        Builtin::Pid(PidNs::Named { dev, ino }) => pid_in_namespace(l, dev, ino, 4)?,
        Builtin::Tid(PidNs::Named { dev, ino }) => pid_in_namespace(l, dev, ino, 0)?,
        Builtin::Pid(PidNs::Current) | Builtin::Tid(PidNs::Current) => {
            return Err(CodegenError::Internal(
                "the current pid namespace is resolved by the checker".into(),
            ))
        }
        Builtin::Uid => {
            let v = l.helper(Helper::GetCurrentUidGid, &[])?;
            l.builder.build_and(v, mask32, "uid")?
        }
        Builtin::Gid => {
            let v = l.helper(Helper::GetCurrentUidGid, &[])?;
            l.builder.build_right_shift(v, shift32, false, "gid")?
        }
        Builtin::Nsecs(Clock::Boot) => l.helper(Helper::KtimeGetBootNs, &[])?,
        Builtin::Nsecs(Clock::Monotonic) => l.helper(Helper::KtimeGetNs, &[])?,
        Builtin::Nsecs(Clock::Tai) => l.helper(Helper::KtimeGetTaiNs, &[])?,
        Builtin::Nsecs(Clock::SwTai) => {
            return Err(CodegenError::Internal(
                "nsecs(sw_tai) is folded to the boot clock plus an offset by the checker".into(),
            ))
        }
        Builtin::Elapsed => {
            let now = l.helper(Helper::KtimeGetNs, &[])?;
            let key = l.alloca(8, "k")?;
            l.builder.build_store(
                key,
                l.ctx
                    .i32_type()
                    .const_int(abi::state::START_NS.into(), false),
            )?;
            let p = l.helper_ptr(Helper::MapLookupElem, &[l.state().into(), key.into()], "st")?;
            let out = l.alloca(8, "start")?;
            l.builder.build_store(out, i64t.const_zero())?;
            let is_null = l.builder.build_is_null(p, "isnull")?;
            let rd = l.ctx.append_basic_block(l.func, "rd");
            let done = l.ctx.append_basic_block(l.func, "rddone");
            l.builder.build_conditional_branch(is_null, done, rd)?;
            l.builder.position_at_end(rd);
            let s = l.builder.build_load(i64t, p, "s")?;
            l.builder.build_store(out, s)?;
            l.builder.build_unconditional_branch(done)?;
            l.builder.position_at_end(done);
            let start = l.builder.build_load(i64t, out, "start")?.into_int_value();
            l.builder.build_int_sub(now, start, "elapsed")?
        }
        Builtin::Cpu => l.helper(Helper::GetSmpProcessorId, &[])?,
        Builtin::Numaid => l.helper(Helper::GetNumaNodeId, &[])?,
        Builtin::Comm => {
            let slot = l.alloca(16, "comm")?;
            l.helper(
                Helper::GetCurrentComm,
                &[slot.into(), i64t.const_int(16, false).into()],
            )?;
            return Ok(Val::Mem(slot));
        }
        Builtin::Cgroup => l.helper(Helper::GetCurrentCgroupId, &[])?,
        Builtin::Rand => l.helper(Helper::GetPrandomU32, &[])?,
        Builtin::Curtask => l.helper(Helper::GetCurrentTask, &[])?,
        // A kprobe or uprobe of several targets names the one that fired by its attach
        // cookie (see `lang::check::attach::name_targets`); other programs serve one name.
        Builtin::Probe if l.probe.attach.cookies_name_targets() => {
            l.helper(Helper::GetAttachCookie, &[ctx_ptr(l)?.into()])?
        }
        Builtin::Probe => i64t.const_int(u64::from(l.probe.probe_index), false),
        Builtin::Func => {
            let ip = match l.probe.context {
                Context::PtRegs | Context::U64Array => {
                    l.helper(Helper::GetFuncIp, &[ctx_ptr(l)?.into()])?
                }
                Context::None | Context::Tracepoint | Context::PerfEvent => {
                    return Err(CodegenError::Internal(
                        "func in a probe without a function".into(),
                    ))
                }
            };
            if *ty != Type::Usym {
                ip
            } else {
                // A user function is symbolized in its process: keep (address, pid).
                return Ok(Val::Mem(l.usym_payload(ip)?));
            }
        }
        Builtin::Username => {
            let v = l.helper(Helper::GetCurrentUidGid, &[])?;
            l.builder.build_and(v, mask32, "uid")?
        }
        Builtin::Kstack => return stack(l, false),
        Builtin::Ustack => return stack(l, true),
        Builtin::DwUstack => return dw_ustack(l, ty),
        Builtin::Arg(n) => match l.probe.context {
            Context::PtRegs if matches!(l.probe.attach, Attach::Usdt { .. }) => usdt_arg(l, n)?,
            Context::PtRegs => match ARG_REGS.get(usize::from(n)) {
                Some(r) => reg(l, r)?,
                None => stack_arg(l, u64::from(n) - ARG_REGS.len() as u64)?,
            },
            Context::U64Array => ctx_u64(l, 8 * u64::from(n))?,
            Context::None | Context::Tracepoint | Context::PerfEvent => {
                return Err(CodegenError::Internal(
                    "argN in a probe without arguments".into(),
                ))
            }
        },
        Builtin::Sarg(n) => stack_arg(l, u64::from(n))?,
        Builtin::Retval => match l.probe.context {
            Context::PtRegs => reg(l, "ax")?,
            Context::U64Array | Context::None | Context::Tracepoint | Context::PerfEvent => {
                return Err(CodegenError::Internal(
                    "retval in a probe without a return value".into(),
                ))
            }
        },
        Builtin::Args | Builtin::Ctx => {
            let p = ctx_ptr(l)?;
            l.builder.build_ptr_to_int(p, i64t, "ctx")?
        }
        Builtin::Cpid => {
            return Err(CodegenError::Internal(
                "cpid is folded to a constant by the checker".into(),
            ))
        }
        Builtin::Jiffies => l.helper(Helper::Jiffies64, &[])?,
        Builtin::Usermode => usermode(l)?,
        Builtin::Ncpus
        | Builtin::HasCpid
        | Builtin::DefaultStrLength
        | Builtin::Config
        | Builtin::Ppid
        | Builtin::Pcomm
        | Builtin::Probetype
        | Builtin::LeaderTid
        | Builtin::LeaderComm => {
            return Err(CodegenError::Internal(format!(
                "{} is rewritten by the checker",
                b.name()
            )))
        }
    };
    Ok(Val::Int(v))
}

/// The id at byte `offset` of the `bpf_pidns_info` that `bpf_get_ns_current_pid_tgid`
/// fills for the namespace `(dev, ino)`; the kernel zeroes it when the task is not in it.
fn pid_in_namespace<'ctx>(
    l: &mut Lowerer<'_, 'ctx>,
    dev: u64,
    ino: u64,
    offset: u64,
) -> R<IntValue<'ctx>> {
    let i64t = l.ctx.i64_type();
    let info = l.alloca(8, "pidns")?;
    l.builder.build_store(info, i64t.const_zero())?;
    l.helper(
        Helper::GetNsCurrentPidTgid,
        &[
            i64t.const_int(dev, false).into(),
            i64t.const_int(ino, false).into(),
            info.into(),
            i64t.const_int(8, false).into(),
        ],
    )?;
    let at = l.offset(info, offset)?;
    let id = l
        .builder
        .build_load(l.ctx.i32_type(), at, "nsid")?
        .into_int_value();
    Ok(l.builder.build_int_z_extend(id, i64t, "nsid64")?)
}

/// `usermode`: 1 when the probe interrupted user code, read from the privilege level in the
/// saved code segment register. Tracepoints and BTF-typed probes fire inside the kernel.
/// BEGIN and END run on behalf of rbt's own user-space code, so they count as user mode, as
/// bpftrace's (which are uprobes on itself) do.
fn usermode<'ctx>(l: &mut Lowerer<'_, 'ctx>) -> R<IntValue<'ctx>> {
    let i64t = l.ctx.i64_type();
    // `struct bpf_perf_event_data` starts with the interrupted `struct pt_regs`.
    let cs = match l.probe.context {
        Context::PtRegs | Context::PerfEvent => reg(l, "cs")?,
        Context::Tracepoint | Context::U64Array => return Ok(i64t.const_zero()),
        Context::None => return Ok(i64t.const_int(1, false)),
    };
    let ring = l.builder.build_and(cs, i64t.const_int(3, false), "ring")?;
    let user = l.builder.build_int_compare(
        inkwell::IntPredicate::EQ,
        ring,
        i64t.const_int(3, false),
        "user",
    )?;
    Ok(l.builder.build_int_z_extend(user, i64t, "usermode")?)
}

/// A USDT argument, decoded from the probe site's `.note.stapsdt` operand.
fn usdt_arg<'ctx>(l: &mut Lowerer<'_, 'ctx>, n: u8) -> R<IntValue<'ctx>> {
    let Attach::Usdt { targets } = &l.probe.attach else {
        return Err(CodegenError::Internal(
            "usdt argument outside a usdt probe".into(),
        ));
    };
    let Some(arg) = targets
        .first()
        .and_then(|t| t.args.get(usize::from(n)))
        .cloned()
    else {
        return Err(CodegenError::Internal(format!("usdt probe has no arg{n}")));
    };
    let i64t = l.ctx.i64_type();
    let (size, raw) = match &arg {
        UsdtArg::Const { size, value } => {
            return Ok(i64t.const_int(fit(*size, *value as u64), false))
        }
        UsdtArg::Reg { size, reg: r } => (*size, reg(l, r)?),
        UsdtArg::Mem {
            size,
            reg: r,
            offset,
            index,
        } => {
            let mut base = reg(l, r)?;
            if let Some(ix) = index {
                let i = reg(l, &ix.reg)?;
                let scaled = l.builder.build_int_mul(
                    i,
                    i64t.const_int(u64::from(ix.scale), false),
                    "scaled",
                )?;
                base = l.builder.build_int_add(base, scaled, "indexed")?;
            }
            let addr =
                l.builder
                    .build_int_add(base, i64t.const_int(*offset as u64, true), "uaddr")?;
            let width = u32::from(size.unsigned_abs()).clamp(1, 8);
            let ty = Type::Int {
                bits: (width * 8) as u8,
                signed: false,
            };
            let v = match l.probe_read(addr, &ty, AddrSpace::User)? {
                Val::Int(i) => i,
                Val::Mem(p) => l.load_int(p, &ty)?,
            };
            (*size, v)
        }
    };
    // Narrow to the operand's width and extend by its signedness.
    let bytes = u32::from(size.unsigned_abs()).clamp(1, 8);
    if bytes == 8 {
        return Ok(raw);
    }
    let narrow = l
        .builder
        .build_int_truncate(raw, l.int_ty(bytes), "narrow")?;
    Ok(if size < 0 {
        l.builder.build_int_s_extend(narrow, i64t, "sx")?
    } else {
        l.builder.build_int_z_extend(narrow, i64t, "zx")?
    })
}

/// A constant operand truncated to its declared width (sign-extended when signed).
fn fit(size: i8, v: u64) -> u64 {
    let bits = u32::from(size.unsigned_abs()).clamp(1, 8) * 8;
    if bits == 64 {
        return v;
    }
    let masked = v & ((1u64 << bits) - 1);
    if size < 0 {
        (((masked << (64 - bits)) as i64) >> (64 - bits)) as u64
    } else {
        masked
    }
}

/// `sargN`: the N-th stack argument, above the return address at `sp`.
fn stack_arg<'ctx>(l: &mut Lowerer<'_, 'ctx>, n: u64) -> R<IntValue<'ctx>> {
    let sp = reg(l, "sp")?;
    let addr =
        l.builder
            .build_int_add(sp, l.ctx.i64_type().const_int(8 * (n + 1), false), "sarg")?;
    // The stack is the traced code's: user memory in a uprobe, kernel memory in a kprobe.
    let space = l.probe.provider.kind().space;
    match l.probe_read(addr, &U64, space)? {
        Val::Int(i) => Ok(i),
        Val::Mem(p) => l.load_int(p, &U64),
    }
}

/// `kstack`/`ustack`: a stack id from the stack-trace map (plus the pid for user stacks).
fn stack<'ctx>(l: &mut Lowerer<'_, 'ctx>, user: bool) -> R<Val<'ctx>> {
    let ctx = ctx_ptr(l)?;
    let flags = helpers::BPF_F_REUSE_STACKID | if user { helpers::BPF_F_USER_STACK } else { 0 };
    let i64t = l.ctx.i64_type();
    let id = l.helper(
        Helper::GetStackid,
        &[
            ctx.into(),
            l.stacks().into(),
            i64t.const_int(flags, false).into(),
        ],
    )?;
    if !user {
        return Ok(Val::Int(id));
    }
    Ok(Val::Mem(l.ustack_payload(id)?))
}

/// Bytes `dw_ustack` copies of the user stack per `probe_read_user`: the copy stops at the first
/// chunk that cannot be read, so a stack whose mapping ends less than the configured size
/// above `sp` still keeps everything up to the last whole chunk below that end.
const DW_CHUNK: u32 = 256;

/// `dw_ustack`: the payload [`abi::dwstack`] — pid, the user `ip`, `sp` and `bp` (from the
/// task's user registers, so it works in kernel-side probes too) and a copy of the user
/// stack from `sp` up, for user space to unwind with DWARF CFI.
fn dw_ustack<'ctx>(l: &mut Lowerer<'_, 'ctx>, ty: &Type) -> R<Val<'ctx>> {
    use abi::dwstack;
    let Type::Stack {
        source: StackSource::UserDwarf { bytes },
        ..
    } = ty
    else {
        return Err(CodegenError::Internal("dw_ustack of another type".into()));
    };
    let slot = l.alloca(dwstack::BYTES + bytes, "dw_ustack")?;
    let i64t = l.ctx.i64_type();
    let pid_tgid = l.helper(Helper::GetCurrentPidTgid, &[])?;
    let pid = l
        .builder
        .build_right_shift(pid_tgid, l.const_u64(32), false, "pid")?;
    l.builder
        .build_store(l.offset(slot, dwstack::PID.into())?, pid)?;
    l.builder
        .build_store(l.offset(slot, dwstack::LEN.into())?, i64t.const_zero())?;
    let task = l.helper(Helper::GetCurrentTaskBtf, &[])?;
    let regs = l.helper(Helper::TaskPtRegs, &[task.into()])?;
    for (reg, at) in [
        ("ip", dwstack::IP),
        ("sp", dwstack::SP),
        ("bp", dwstack::BP),
    ] {
        let off = reg_offset(reg)
            .ok_or_else(|| CodegenError::Internal(format!("no pt_regs offset of {reg}")))?;
        let src = l.builder.build_int_add(regs, l.const_u64(off), reg)?;
        l.helper(
            Helper::ProbeReadKernel,
            &[
                l.offset(slot, at.into())?.into(),
                l.const_u64(8).into(),
                src.into(),
            ],
        )?;
    }
    let sp = l
        .builder
        .build_load(i64t, l.offset(slot, dwstack::SP.into())?, "sp")?
        .into_int_value();
    // Chunk by chunk, stopping at the first that fails: the end of the stack's mapping.
    let done = l.ctx.append_basic_block(l.func, "dw_done");
    for i in 0..bytes.div_ceil(DW_CHUNK) {
        let at = i * DW_CHUNK;
        let size = DW_CHUNK.min(bytes - at);
        let src = l
            .builder
            .build_int_add(sp, l.const_u64(at.into()), "dw_src")?;
        let got = l.helper(
            Helper::ProbeReadUser,
            &[
                l.offset(slot, u64::from(dwstack::BYTES + at))?.into(),
                l.const_u64(size.into()).into(),
                src.into(),
            ],
        )?;
        let failed = l.builder.build_int_compare(
            inkwell::IntPredicate::NE,
            got,
            i64t.const_zero(),
            "dw_failed",
        )?;
        let next = l.ctx.append_basic_block(l.func, "dw_next");
        l.builder.build_conditional_branch(failed, done, next)?;
        l.builder.position_at_end(next);
        l.builder.build_store(
            l.offset(slot, dwstack::LEN.into())?,
            l.const_u64((at + size).into()),
        )?;
    }
    l.builder.build_unconditional_branch(done)?;
    l.builder.position_at_end(done);
    Ok(Val::Mem(slot))
}

/// Registers carrying the six arguments of an x86-64 system call (the fourth is `r10`, not
/// the calling convention's `cx`, which the `syscall` instruction overwrites).
const SYSCALL_ARG_REGS: [&str; 6] = ["di", "si", "dx", "r10", "r8", "r9"];

/// Where a syscall tracepoint's record keeps its fields: `__syscall_nr` (an `int`), then the
/// arguments (`sys_enter_*`) or the return value (`sys_exit_*`), eight bytes each.
const SYSCALL_NR_OFFSET: u32 = 8;
const SYSCALL_ARGS_OFFSET: u32 = 16;

/// Field `offset` of a syscall tracepoint's record, in a raw tracepoint program on
/// `sys_enter`/`sys_exit` ([`Attach::Syscall`]), whose arguments are the task's saved
/// registers and the syscall number (`sys_enter`) or the return value (`sys_exit`). The
/// perf tracepoint fills its record from the same registers, so the values are the same.
fn syscall_field<'ctx>(
    l: &mut Lowerer<'_, 'ctx>,
    exit: bool,
    offset: u32,
    data_loc: bool,
    ty: &Type,
) -> R<Val<'ctx>> {
    let regs_read = |l: &mut Lowerer<'_, 'ctx>, name: &str| -> R<IntValue<'ctx>> {
        let at = reg_offset(name)
            .ok_or_else(|| CodegenError::Internal(format!("unknown register {name}")))?;
        let regs = ctx_u64(l, 0)?;
        let addr = l.builder.build_int_add(regs, l.const_u64(at), "reg")?;
        match l.probe_read(addr, &U64, AddrSpace::Kernel)? {
            Val::Int(v) => Ok(v),
            Val::Mem(_) => Err(CodegenError::Internal("a register read as memory".into())),
        }
    };
    let raw = match (exit, offset) {
        _ if data_loc => None,
        (false, SYSCALL_NR_OFFSET) => Some(ctx_u64(l, 8)?),
        (true, SYSCALL_NR_OFFSET) => Some(regs_read(l, "orig_ax")?),
        (true, SYSCALL_ARGS_OFFSET) => Some(ctx_u64(l, 8)?),
        (false, at) if at >= SYSCALL_ARGS_OFFSET && at % 8 == 0 => {
            match SYSCALL_ARG_REGS.get(((at - SYSCALL_ARGS_OFFSET) / 8) as usize) {
                Some(r) => Some(regs_read(l, r)?),
                None => None,
            }
        }
        _ => None,
    };
    let raw = raw.ok_or_else(|| {
        CodegenError::Internal(format!(
            "offset {offset} of a syscall tracepoint record is not an argument"
        ))
    })?;
    // x86-64 is little-endian: a narrower field (`__syscall_nr`) holds the value's low
    // bytes, which are the first bytes of the stored u64. Read it back as the field's type.
    let slot = l.alloca(ty.size().max(8), "scfield")?;
    l.builder.build_store(slot, raw)?;
    l.load_val(slot, ty)
}

/// Copies the context field `field_at` finds (arrays, like a `comm` or `unsigned long
/// args[6]`, and values inside a relocated field) into a zeroed stack slot of at least 8 bytes,
/// all of `ty`'s bytes (an array's `len` counts elements), with the kernel read helper.
fn copy_out<'ctx>(
    l: &mut Lowerer<'_, 'ctx>,
    ctx: PointerValue<'ctx>,
    field_at: &dyn Fn(&Lowerer<'_, 'ctx>, PointerValue<'ctx>) -> R<PointerValue<'ctx>>,
    ty: &Type,
) -> R<PointerValue<'ctx>> {
    let room = ty.size().max(8);
    let slot = l.alloca(room, "tpfield")?;
    l.builder.build_memset(
        slot,
        8,
        l.ctx.i8_type().const_zero(),
        l.ctx.i64_type().const_int(u64::from(room), false),
    )?;
    // The address comes from a copy of the context pointer that LLVM cannot see through:
    // otherwise it keeps `ctx + offset` in a register and reuses it for a direct load of an
    // element (`args.comm[0]`), which the verifier refuses ("dereference of modified ctx
    // ptr").
    let spill = l.alloca(8, "ctxcopy")?;
    let st = l.builder.build_store(spill, ctx)?;
    let _ = st.set_volatile(true);
    let copy = l
        .builder
        .build_load(l.ctx.ptr_type(Default::default()), spill, "ctx")?
        .into_pointer_value();
    if let Some(inst) = copy.as_instruction() {
        let _ = inst.set_volatile(true);
    }
    let at = field_at(l, copy)?;
    let addr = l.builder.build_ptr_to_int(at, l.ctx.i64_type(), "a")?;
    let src = l
        .builder
        .build_int_to_ptr(addr, l.ctx.ptr_type(Default::default()), "src")?;
    l.helper(
        Helper::ProbeReadKernel,
        &[
            slot.into(),
            l.ctx
                .i64_type()
                .const_int(u64::from(ty.size()), false)
                .into(),
            src.into(),
        ],
    )?;
    Ok(slot)
}

/// Whether `ty` is a pointer a BTF-typed program cannot load from its context (see
/// [`context_field`]): one to a function (`Type::None`), a pointer, an enum or an array.
fn unloadable_pointer(ty: &Type) -> bool {
    match ty {
        Type::Pointer { to, .. } => matches!(
            **to,
            Type::None
                | Type::Pointer { .. }
                | Type::Enum { .. }
                | Type::Array { .. }
                | Type::Str { .. }
        ),
        _ => false,
    }
}

/// A field of the context: a tracepoint `args` field or a kfunc argument. Plain fields are
/// read from the context; `__data_loc` fields hold `(len << 16) | offset` of a string stored
/// after the tracepoint record. With `core`, the field is where the running kernel's BTF
/// record of the tracepoint has it (what follows the field keeps its distance).
pub fn context_field<'ctx>(
    l: &mut Lowerer<'_, 'ctx>,
    offset: u32,
    data_loc: bool,
    core: Option<&CoreAccess>,
    ty: &Type,
) -> R<Val<'ctx>> {
    if let Attach::Syscall { exit, .. } = l.probe.attach {
        return syscall_field(l, exit, offset, data_loc, ty);
    }
    let ctx = ctx_ptr(l)?;
    // The field's address from a context pointer `base`.
    let field_at = |l: &Lowerer<'_, 'ctx>, base| -> R<PointerValue<'ctx>> {
        match core.and_then(|c| Some((c, c.local_offset()?))) {
            Some((c, at)) if at <= offset => {
                let field = crate::core::field_pointer(l, base, c)?;
                l.offset(field, u64::from(offset - at))
            }
            _ => l.offset(base, u64::from(offset)),
        }
    };
    let at = field_at(l, ctx)?;
    if !data_loc {
        // Copied out of the context with the read helper, not loaded: arrays (a `comm`,
        // `unsigned long args[6]`); part of a relocated field (`args.args[1]`), whose
        // relocation and distance into the field are two additions to the context pointer,
        // which the verifier refuses to load through ("dereference of modified ctx ptr");
        // and the pointer arguments a BTF-typed program (fentry, a typed raw tracepoint) may
        // not load: the verifier allows only pointers to a struct, an integer or void, not a
        // function pointer (`work_func_t`) or a pointer to a pointer, an enum or an array.
        let inside = core
            .and_then(|c| c.local_offset())
            .is_some_and(|at| at < offset);
        let copied = matches!(ty, Type::Str { .. } | Type::Array { .. })
            || inside
            || (l.probe.context == Context::U64Array && unloadable_pointer(ty));
        return match ty {
            _ if copied => {
                let slot = copy_out(l, ctx, &field_at, ty)?;
                l.load_val(slot, ty)
            }
            // u64-array contexts (kfunc args, retval) must be read as whole slots.
            _ if l.probe.context == Context::U64Array => {
                Ok(Val::Int(ctx_u64(l, u64::from(offset))?))
            }
            // A relocated field is aligned to its size, as the kernel lays records out.
            _ if core.is_some() => {
                let size = ty.size().clamp(1, 8);
                Ok(Val::Int(l.load_int_aligned(
                    at,
                    ty,
                    size.min(1 << offset.trailing_zeros().min(3)),
                )?))
            }
            _ => Ok(Val::Int(l.load_int(at, ty)?)),
        };
    }
    let loc = l.load_int_aligned(
        at,
        &Type::Int {
            bits: 32,
            signed: false,
        },
        if core.is_some() { 4 } else { 1 },
    )?;
    let off = l
        .builder
        .build_and(loc, l.ctx.i64_type().const_int(0xffff, false), "off")?;
    let src = l.offset_by(ctx, off)?;
    // Read as str() reads a string: cut at max_strlen and marked.
    let slot = crate::strings::read(l, src, ty.size().max(1), Helper::ProbeReadKernelStr, None)?;
    Ok(Val::Mem(slot))
}

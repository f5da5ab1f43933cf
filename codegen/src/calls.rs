//! Builtin functions computed inside BPF (`str`, `buf`, `ntop`, `macaddr`, `bswap`,
//! `strncmp`, `strcontains`, `strlen`, `str_concat`, `reg`, `signal`, `override`, `uaddr` in a
//! position-independent binary, …). Functions that only send an event (`printf`, `exit`,
//! …) are statements by the time they reach codegen, compile-time functions (`sizeof`,
//! `kaddr`, `pton`, …) are already literals, and `kstack(mode, depth)` is the `kstack` builtin
//! variable with its mode and depth in its type (lowered in `context.rs`).

use crate::context;
use crate::helpers::Helper;
use crate::ir::{Lowerer, Val, Walk};
use crate::CodegenError;
use inkwell::values::IntValue;
use inkwell::IntPredicate;
use lang::hir::{Expr, ExprKind};
use stdlib::abi::{self, inet};
use stdlib::builtins::Function;
use stdlib::types::{AddrSpace, Type};

type R<T> = Result<T, CodegenError>;

/// The address space a pointer argument reads from (the checker types pointers with one).
fn space_of(e: &Expr) -> AddrSpace {
    match &e.ty {
        Type::Pointer { space, .. } => *space,
        _ => AddrSpace::Kernel,
    }
}

fn const_arg(e: Option<&Expr>) -> Option<i64> {
    match e.map(|e| &e.kind) {
        Some(ExprKind::Int(i)) => Some(*i),
        _ => None,
    }
}

pub fn call<'ctx>(
    l: &mut Lowerer<'_, 'ctx>,
    func: Function,
    args: &[Expr],
    ty: &Type,
) -> R<Val<'ctx>> {
    let i64t = l.ctx.i64_type();
    let arg = |i: usize| -> R<&Expr> {
        args.get(i).ok_or_else(|| {
            CodegenError::Internal(format!("{} is missing argument {i}", func.name()))
        })
    };
    match func {
        Function::Str => {
            let size = ty.size().max(1);
            let src = arg(0)?;
            // A string value the checker passes on may hold more than max_strlen characters:
            // it is read again from where it lies, as a string in kernel memory, to be cut.
            let src_ptr = if src.ty.is_str() {
                l.mem(src)?
            } else {
                let p = l.int(src)?;
                l.builder
                    .build_int_to_ptr(p, l.ctx.ptr_type(Default::default()), "src")?
            };
            let n = args.get(1).map(|n| l.int(n)).transpose()?;
            let h = l.read_helper(space_of(src), true);
            let slot = crate::strings::read(l, src_ptr, size, h, n)?;
            Ok(Val::Mem(slot))
        }
        Function::Buf => {
            let Type::Buffer { len: cap } = ty else {
                return Err(CodegenError::Internal("buf() without a buffer type".into()));
            };
            let src = arg(0)?;
            if matches!(src.ty, Type::Str { .. } | Type::Array { .. }) {
                // A value already in BPF memory (a string, a char array field): copy it.
                let m = l.mem(src)?;
                let n = (*cap).min(src.ty.size());
                let slot = l.alloca(cap + 1, "buf")?;
                l.memset(slot, cap + 1)?;
                l.builder
                    .build_store(slot, l.ctx.i8_type().const_int(u64::from(n), false))?;
                let data = l.offset(slot, 1)?;
                l.builder
                    .build_memcpy(data, 1, m, 1, i64t.const_int(u64::from(n), false))?;
                return Ok(Val::Mem(slot));
            }
            let p = l.int(src)?;
            let cap64 = i64t.const_int(u64::from(*cap), false);
            // Constant lengths are the capacity; a run-time length is capped by it.
            let len = match args.get(1) {
                Some(n) => {
                    let n = l.int(n)?;
                    let small =
                        l.builder
                            .build_int_compare(IntPredicate::ULT, n, cap64, "small")?;
                    l.builder
                        .build_select(small, n, cap64, "len")?
                        .into_int_value()
                }
                None => cap64,
            };
            let slot = l.alloca(cap + 1, "buf")?;
            l.memset(slot, cap + 1)?;
            let len8 = l.builder.build_int_truncate(len, l.ctx.i8_type(), "len8")?;
            l.builder.build_store(slot, len8)?;
            let data = l.offset(slot, 1)?;
            let src_ptr =
                l.builder
                    .build_int_to_ptr(p, l.ctx.ptr_type(Default::default()), "src")?;
            let h = l.read_helper(space_of(src), false);
            l.helper(h, &[data.into(), len.into(), src_ptr.into()])?;
            Ok(Val::Mem(slot))
        }
        Function::Strncmp => {
            let n = const_arg(args.get(2)).unwrap_or(0).max(0) as u32;
            let a = l.mem(arg(0)?)?;
            let b = l.mem(arg(1)?)?;
            let len = n.min(arg(0)?.ty.size()).min(arg(1)?.ty.size());
            let eq = crate::strings::equal(l, a, b, len)?;
            // bpftrace's strncmp returns 0 when equal, non-zero otherwise.
            let ne = l.builder.build_not(eq, "ne")?;
            Ok(Val::Int(l.builder.build_int_z_extend(ne, i64t, "r")?))
        }
        Function::Strcontains | Function::Strstr => {
            let hay = l.mem(arg(0)?)?;
            let needle = l.mem(arg(1)?)?;
            let at = crate::strings::find(l, hay, arg(0)?.ty.size(), needle, arg(1)?.ty.size())?;
            if func == Function::Strstr {
                return Ok(Val::Int(at));
            }
            let found =
                l.builder
                    .build_int_compare(IntPredicate::SGE, at, i64t.const_zero(), "found")?;
            Ok(Val::Int(l.builder.build_int_z_extend(found, i64t, "r")?))
        }
        Function::Path => {
            // The kernel's own object: a `struct path *`, or the address of a `struct path`
            // field the checker left as its load, computed as the load would (relocated).
            let p = arg(0)?;
            let addr = match &p.kind {
                ExprKind::Load {
                    ptr, offset, core, ..
                } if !matches!(p.ty, Type::Pointer { .. }) => {
                    let base = l.int(ptr)?;
                    l.load_address(base, *offset, core.as_deref())?
                }
                _ => l.int(p)?,
            };
            let size = ty.size().max(1);
            let slot = l.alloca(size.max(8), "path")?;
            l.memset(slot, size.max(8))?;
            let path =
                l.builder
                    .build_int_to_ptr(addr, l.ctx.ptr_type(Default::default()), "path_ptr")?;
            let len = i64t.const_int(u64::from(size), false);
            l.helper(Helper::DPath, &[path.into(), slot.into(), len.into()])?;
            Ok(Val::Mem(slot))
        }
        Function::Memcmp => {
            let len = arg(0)?.ty.size().min(arg(1)?.ty.size());
            let a = l.mem(arg(0)?)?;
            let b = l.mem(arg(1)?)?;
            let count = l.int(arg(2)?)?;
            Ok(Val::Int(crate::strings::memcmp(l, a, b, len, count)?))
        }
        Function::Strlen => {
            let s = l.mem(arg(0)?)?;
            let n = crate::strings::length(l, s, arg(0)?.ty.size())?;
            Ok(Val::Int(n))
        }
        Function::StrConcat => {
            let (la, lb) = (arg(0)?.ty.size(), arg(1)?.ty.size());
            let a = l.mem(arg(0)?)?;
            let b = l.mem(arg(1)?)?;
            let out = crate::strings::concat(l, a, la, b, lb, ty.size())?;
            Ok(Val::Mem(out))
        }
        Function::SocketCookie => {
            // The socket pointer goes to the helper as the argument register holds it: the
            // verifier accepts only the BTF-typed pointer it loaded from the context.
            let sk = l.int(arg(0)?)?;
            let sk = l
                .builder
                .build_int_to_ptr(sk, l.ctx.ptr_type(Default::default()), "sk")?;
            Ok(Val::Int(l.helper(Helper::GetSocketCookie, &[sk.into()])?))
        }
        Function::Bswap => {
            let v = l.int(arg(0)?)?;
            let bits = match &arg(0)?.ty {
                Type::Int { bits, .. } => u32::from(*bits),
                _ => 64,
            };
            Ok(Val::Int(bswap(l, v, bits)?))
        }
        Function::Ntop => ntop(l, args),
        Function::Macaddr => {
            let src = arg(0)?;
            let slot = l.alloca(8, "mac")?;
            l.builder.build_store(slot, i64t.const_zero())?;
            match &src.ty {
                Type::Array { .. } | Type::Str { .. } => {
                    let m = l.mem(src)?;
                    l.builder
                        .build_memcpy(slot, 1, m, 1, i64t.const_int(6, false))?;
                }
                // The data follows the length byte; the checker asked for 6 bytes of it.
                Type::Buffer { .. } => {
                    let m = l.mem(src)?;
                    let data = l.offset(m, 1)?;
                    l.builder
                        .build_memcpy(slot, 1, data, 1, i64t.const_int(6, false))?;
                }
                _ => {
                    let p = l.int(src)?;
                    let src_ptr =
                        l.builder
                            .build_int_to_ptr(p, l.ctx.ptr_type(Default::default()), "src")?;
                    let h = l.read_helper(space_of(src), false);
                    l.helper(
                        h,
                        &[slot.into(), i64t.const_int(6, false).into(), src_ptr.into()],
                    )?;
                }
            }
            Ok(Val::Mem(slot))
        }
        Function::Ksym
        | Function::Kptr
        | Function::Uptr
        | Function::Strerror
        | Function::SyscallName
        | Function::SignalName
        | Function::CgroupPath => Ok(Val::Int(l.int(arg(0)?)?)),
        Function::Usym => {
            let addr = l.int(arg(0)?)?;
            Ok(Val::Mem(l.usym_payload(addr)?))
        }
        Function::Strftime => {
            // (format index, boot-relative ns): the checker puts the format index first.
            let fmt = l.int(arg(0)?)?;
            let ns = l.int(arg(1)?)?;
            let slot = l.alloca(16, "ts")?;
            l.builder.build_store(slot, fmt)?;
            let at = l.offset(slot, 8)?;
            l.builder.build_store(at, ns)?;
            Ok(Val::Mem(slot))
        }
        Function::Reg => match &arg(0)?.kind {
            ExprKind::Str(name) => {
                let name = String::from_utf8_lossy(name).into_owned();
                Ok(Val::Int(context::reg(l, name.trim_end_matches('\0'))?))
            }
            _ => Err(CodegenError::Internal(
                "reg() needs a literal register name".into(),
            )),
        },
        Function::Signal | Function::SignalThread => {
            let sig = l.int(arg(0)?)?;
            let helper = match func {
                Function::SignalThread => Helper::SendSignalThread,
                _ => Helper::SendSignal,
            };
            l.helper(helper, &[sig.into()])?;
            Ok(Val::Int(i64t.const_zero()))
        }
        Function::Override => {
            let rc = l.int(arg(0)?)?;
            let ctx = context::ctx_ptr(l)?;
            l.helper(Helper::OverrideReturn, &[ctx.into(), rc.into()])?;
            Ok(Val::Int(i64t.const_zero()))
        }
        Function::Len => {
            // Only a stack gets here (a map's len() is `MapLen`): its frames, counted from
            // the bytes bpf_get_stack copies of the probe's stack of that kind.
            let Type::Stack { source, limit, .. } = arg(0)?.ty else {
                return Err(CodegenError::Internal(
                    "len() of something other than a map or a stack".into(),
                ));
            };
            let size = limit.max(1) * 8;
            let buf = l.alloca(size, "stack_frames")?;
            let flags = match source {
                stdlib::types::StackSource::Kernel => 0,
                stdlib::types::StackSource::User => crate::helpers::BPF_F_USER_STACK,
                // The checker refuses len() of a dw_ustack, whose frames only user space knows.
                stdlib::types::StackSource::UserDwarf { .. } => {
                    return Err(CodegenError::Internal("len() of a dw_ustack".into()))
                }
            };
            let got = l.helper(
                Helper::GetStack,
                &[
                    context::ctx_ptr(l)?.into(),
                    buf.into(),
                    i64t.const_int(u64::from(size), false).into(),
                    i64t.const_int(flags, false).into(),
                ],
            )?;
            // A negative result is an error: no frames.
            let frames =
                l.builder
                    .build_right_shift(got, i64t.const_int(3, false), true, "frames")?;
            let failed = l.builder.build_int_compare(
                IntPredicate::SLT,
                frames,
                i64t.const_zero(),
                "no_stack",
            )?;
            let n = l
                .builder
                .build_select(failed, i64t.const_zero(), frames, "len")?
                .into_int_value();
            Ok(Val::Int(n))
        }
        Function::WriteUser => {
            let dst = l.int(arg(0)?)?;
            let dst = l
                .builder
                .build_int_to_ptr(dst, l.ctx.ptr_type(Default::default()), "dst")?;
            let src = l.mem(arg(1)?)?;
            let len = l.int(arg(2)?)?;
            l.helper(
                Helper::ProbeWriteUser,
                &[dst.into(), src.into(), len.into()],
            )?;
            Ok(Val::Int(i64t.const_zero()))
        }
        Function::Uaddr => {
            // A symbol of a position-independent binary: its distance from the probed
            // instruction is fixed, and the kernel knows where that instruction is mapped.
            let delta = l.int(arg(0)?)?;
            let ip = l.helper(Helper::GetFuncIp, &[context::ctx_ptr(l)?.into()])?;
            Ok(Val::Int(l.builder.build_int_add(ip, delta, "uaddr")?))
        }
        Function::Debugf => {
            let fmt = arg(0)?;
            let len = fmt.ty.size();
            let fmt_ptr = l.mem(fmt)?;
            let mut call: Vec<inkwell::values::BasicMetadataValueEnum<'ctx>> =
                vec![fmt_ptr.into(), i64t.const_int(u64::from(len), false).into()];
            for a in &args[1..] {
                // printk reads a `%s` string through its address.
                match a.ty {
                    Type::Str { .. } => call.push(l.mem(a)?.into()),
                    _ => call.push(l.int(a)?.into()),
                }
            }
            l.helper(Helper::TracePrintk, &call)?;
            Ok(Val::Int(i64t.const_zero()))
        }
        Function::Printf
        | Function::StaticAssert
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
        | Function::Pton
        | Function::Strcap
        | Function::IsStr
        | Function::IsInteger
        | Function::IsUnsignedInteger
        | Function::IsPtr
        | Function::IsArray
        | Function::IsLiteral
        | Function::AssertStr
        | Function::KfuncExist
        | Function::KfuncAllowed
        | Function::Kaddr
        | Function::Getopt
        | Function::Cgroupid
        | Function::Count
        | Function::Sum
        | Function::Avg
        | Function::Min
        | Function::Max
        | Function::Stats
        | Function::Hist
        | Function::Lhist
        | Function::Tseries
        | Function::Delete
        | Function::Clear
        | Function::Zero
        | Function::HasKey
        | Function::Find
        | Function::Unwatch
        | Function::Skboutput
        | Function::PercpuKaddr => Err(CodegenError::Internal(format!(
            "{}() is not an expression the checker should pass to codegen",
            func.name()
        ))),
    }
}

/// `skboutput()`: sends the record of `event` (its id, the boot-clock time and `len`) and
/// then the first `len` bytes of the packet `skb` to this CPU's perf buffer with
/// `bpf_skb_output`, which copies the packet itself; gives the helper's result as a u32.
pub fn skb_output<'ctx>(
    l: &mut Lowerer<'_, 'ctx>,
    event: lang::hir::EventId,
    skb: &Expr,
    len: &Expr,
) -> R<Val<'ctx>> {
    let map = l.globals.skb_output.ok_or_else(|| {
        CodegenError::Internal("skboutput() in a script without its perf event array".into())
    })?;
    // The packet goes to the helper as the context's argument held it: the verifier accepts
    // only the BTF-typed pointer it knows to be a `struct sk_buff`.
    let skb = l.int(skb)?;
    let skb = l
        .builder
        .build_int_to_ptr(skb, l.ctx.ptr_type(Default::default()), "skb")?;
    let len = l.int(len)?;
    let now = l.helper(Helper::KtimeGetBootNs, &[])?;
    let record = l.alloca(stdlib::pcap::SAMPLE_HEADER as u32, "skb_record")?;
    for (i, word) in [l.const_u64(u64::from(event)), now, len]
        .into_iter()
        .enumerate()
    {
        let at = l.offset(record, 8 * i as u64)?;
        l.builder.build_store(at, word)?;
    }
    // The upper half of the flags is how many bytes of the packet the helper copies after
    // the record; the lower half picks this CPU's buffer.
    let low = l
        .builder
        .build_and(len, l.const_u64(0xffff_ffff), "len32")?;
    let high = l.builder.build_left_shift(low, l.const_u64(32), "ctxlen")?;
    let flags = l.builder.build_or(
        high,
        l.const_u64(crate::helpers::BPF_F_CURRENT_CPU),
        "flags",
    )?;
    let ret = l.helper(
        Helper::SkbOutput,
        &[
            skb.into(),
            l.global_ptr(map).into(),
            flags.into(),
            record.into(),
            l.const_u64(stdlib::pcap::SAMPLE_HEADER as u64).into(),
        ],
    )?;
    Ok(Val::Int(l.builder.build_and(
        ret,
        l.const_u64(0xffff_ffff),
        "ret32",
    )?))
}

fn bswap<'ctx>(l: &Lowerer<'_, 'ctx>, v: IntValue<'ctx>, bits: u32) -> R<IntValue<'ctx>> {
    let i64t = l.ctx.i64_type();
    let mut out = i64t.const_zero();
    for i in 0..bits / 8 {
        let byte =
            l.builder
                .build_right_shift(v, i64t.const_int(u64::from(8 * i), false), false, "b")?;
        let byte = l
            .builder
            .build_and(byte, i64t.const_int(0xff, false), "b")?;
        let placed = l.builder.build_left_shift(
            byte,
            i64t.const_int(u64::from(bits - 8 - 8 * i), false),
            "p",
        )?;
        out = l.builder.build_or(out, placed, "o")?;
    }
    Ok(out)
}

/// `ntop([af,] addr)`: writes (family, 16 address bytes) for user space to format.
fn ntop<'ctx>(l: &mut Lowerer<'_, 'ctx>, args: &[Expr]) -> R<Val<'ctx>> {
    let i64t = l.ctx.i64_type();
    let (af, addr) = match args {
        [af, addr] => (Some(af), addr),
        [addr] => (None, addr),
        _ => {
            return Err(CodegenError::Internal(
                "ntop() takes one or two arguments".into(),
            ))
        }
    };
    let slot = l.alloca(inet::SIZE, "inet")?;
    l.builder.build_memset(
        slot,
        8,
        l.ctx.i8_type().const_zero(),
        i64t.const_int(inet::SIZE.into(), false),
    )?;
    let data = l.offset(slot, inet::ADDR.into())?;
    let addr_size = addr.ty.size();
    let family = match af {
        Some(af) => l.int(af)?,
        None => i64t.const_int(abi::inet_family(addr_size), false),
    };
    l.builder.build_store(slot, family)?;
    match &addr.ty {
        Type::Array { .. } | Type::Str { .. } | Type::Tuple(_) => {
            let m = l.mem(addr)?;
            l.builder.build_memcpy(
                data,
                1,
                m,
                1,
                i64t.const_int(u64::from(addr_size.min(inet::ADDR_LEN)), false),
            )?;
        }
        _ => {
            let v = l.int(addr)?;
            let v32 = l.builder.build_int_truncate(v, l.ctx.i32_type(), "v4")?;
            let st = l.builder.build_store(data, v32)?;
            let _ = st.set_alignment(1);
        }
    }
    Ok(Val::Mem(slot))
}

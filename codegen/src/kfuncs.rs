//! Calls of kernel functions (kfuncs) and what rbt builds on them (`comm(pid)`), and typed
//! kernel variables (`percpu_kaddr`), which are `.ksyms` externs the same way. A kfunc is
//! an external function in section `.ksyms` whose prototype the object's BTF describes (a
//! declaration-only `DISubprogram`, which LLVM's BPF backend turns into an extern BTF FUNC);
//! libbpf finds the kernel's function of that name and checks the prototypes agree, and
//! the call becomes a kfunc call. Each kfunc is declared the first time a program calls it.
//! `bpf_strnstr` and `bpf_strnlen` serve the searches and lengths too long for rbt's own
//! loops (`strings::find`, `strings::length`).

use crate::helpers::Helper;
use crate::ir::{Lowerer, Val, Walk};
use inkwell::debug_info::{AsDIScope, DIFlags, DIFlagsConstants, DIType};
use inkwell::module::Linkage;
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, IntValue, PointerValue};
use inkwell::AddressSpace;
use lang::hir::Expr;
use stdlib::types::Type;

type R<T> = Result<T, crate::CodegenError>;

/// The kfuncs rbt calls.
#[derive(Debug, Clone, Copy)]
enum Kfunc {
    /// `struct task_struct *bpf_task_from_pid(s32 pid)`: a counted reference, or NULL.
    TaskFromPid,
    /// `void bpf_task_release(struct task_struct *p)`: drops that reference.
    TaskRelease,
    /// `int bpf_strnstr(const char *s1, const char *s2, size_t len)`: where `s2` first
    /// occurs in the first `len` bytes of `s1`, or a negative errno (-ENOENT when it does
    /// not).
    Strnstr,
    /// `int bpf_strnlen(const char *s, size_t count)`: the bytes of `s` before its NUL, at
    /// most `count`, or a negative errno.
    Strnlen,
}

impl Kfunc {
    fn name(self) -> &'static str {
        match self {
            Kfunc::TaskFromPid => "bpf_task_from_pid",
            Kfunc::TaskRelease => "bpf_task_release",
            Kfunc::Strnstr => lang::check::STRNSTR_KFUNC,
            Kfunc::Strnlen => lang::check::STRNLEN_KFUNC,
        }
    }
}

/// The kfunc's declaration in the module, added with its BTF prototype on first use.
fn declare<'ctx>(l: &Lowerer<'_, 'ctx>, k: Kfunc) -> FunctionValue<'ctx> {
    if let Some(f) = l.module.get_function(k.name()) {
        return f;
    }
    let ptr = l.ctx.ptr_type(AddressSpace::default());
    let debug = l.locator.debug();
    let dib = &debug.dib;
    // libbpf compares the prototype with the kernel's by kinds: a pointer to a struct named
    // like the kernel's (its members do not matter), a 32-bit signed int.
    let task = dib.create_struct_type(
        debug.cu.as_debug_info_scope(),
        "task_struct",
        debug.file,
        0,
        0,
        0,
        DIFlags::ZERO,
        None,
        &[],
        0,
        None,
        "",
    );
    let task_ptr = dib
        .create_pointer_type("", task.as_type(), 64, 64, AddressSpace::default())
        .as_type();
    let (fn_type, ret, params): (_, Option<DIType<'ctx>>, Vec<DIType<'ctx>>) = match k {
        Kfunc::TaskFromPid => {
            // DW_ATE_signed = 5; a basic type of a fixed size cannot fail to build.
            let int = dib
                .create_basic_type("int", 32, 5, DIFlags::ZERO)
                .map(|t| t.as_type());
            (
                ptr.fn_type(&[l.ctx.i32_type().into()], false),
                Some(task_ptr),
                int.into_iter().collect(),
            )
        }
        Kfunc::TaskRelease => (
            l.ctx.void_type().fn_type(&[ptr.into()], false),
            None,
            vec![task_ptr],
        ),
        Kfunc::Strnstr | Kfunc::Strnlen => {
            // DW_ATE_signed = 5, DW_ATE_unsigned = 8, DW_ATE_signed_char = 6; basic types of
            // fixed sizes cannot fail to build.
            let basic = |name: &str, bits: u64, encoding: u32| {
                dib.create_basic_type(name, bits, encoding, DIFlags::ZERO)
                    .ok()
                    .map(|t| t.as_type())
            };
            let char_ptr = basic("char", 8, 6).map(|c| {
                dib.create_pointer_type("", c, 64, 64, AddressSpace::default())
                    .as_type()
            });
            // Strings first, then the length.
            let strings = if matches!(k, Kfunc::Strnstr) { 2 } else { 1 };
            let mut args = vec![ptr.into(); strings];
            args.push(l.ctx.i64_type().into());
            let mut params = vec![char_ptr; strings];
            params.push(basic("unsigned long", 64, 8));
            (
                l.ctx.i32_type().fn_type(&args, false),
                basic("int", 32, 5),
                params.into_iter().flatten().collect(),
            )
        }
    };
    let f = l
        .module
        .add_function(k.name(), fn_type, Some(Linkage::External));
    f.set_section(Some(".ksyms"));
    let ty = dib.create_subroutine_type(debug.file, ret, &params, DIFlags::PROTOTYPED);
    let sp = dib.create_function(
        debug.cu.as_debug_info_scope(),
        k.name(),
        None,
        debug.file,
        0,
        ty,
        false,
        false,
        0,
        DIFlags::PROTOTYPED,
        true,
    );
    f.set_subprogram(sp);
    f
}

/// Where the string at `needle` first occurs in the first `hay_len` bytes of the one at
/// `hay`, by the kernel's `bpf_strnstr`: the index, or -1 (the kfunc's errors, -ENOENT when
/// absent, all become -1). An i64.
pub fn strnstr<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    hay: PointerValue<'ctx>,
    needle: PointerValue<'ctx>,
    hay_len: u32,
) -> R<IntValue<'ctx>> {
    let len = l.const_u64(u64::from(hay_len));
    string_kfunc(
        l,
        Kfunc::Strnstr,
        &[hay.into(), needle.into(), len.into()],
        u64::MAX,
    )
}

/// The bytes before the first NUL among the `len` of the string at `s`, by the kernel's
/// `bpf_strnlen` (`len` when it has no NUL; its errors, which a string of the program's own
/// memory cannot cause, become 0). An i64.
pub fn strnlen<'ctx>(l: &Lowerer<'_, 'ctx>, s: PointerValue<'ctx>, len: u32) -> R<IntValue<'ctx>> {
    let n = l.const_u64(u64::from(len));
    string_kfunc(l, Kfunc::Strnlen, &[s.into(), n.into()], 0)
}

/// Calls string kfunc `k` (an `int` result, negative for an errno) and gives its result as
/// an i64, with `on_error` in place of a negative one.
fn string_kfunc<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    k: Kfunc,
    args: &[BasicMetadataValueEnum<'ctx>],
    on_error: u64,
) -> R<IntValue<'ctx>> {
    let f = declare(l, k);
    let got = match l
        .builder
        .build_call(f, args, k.name())?
        .try_as_basic_value()
    {
        inkwell::values::ValueKind::Basic(v) => v.into_int_value(),
        inkwell::values::ValueKind::Instruction(_) => {
            return Err(crate::CodegenError::Internal(format!(
                "{} declared without a value",
                k.name()
            )))
        }
    };
    let got = l.builder.build_int_s_extend(got, l.i64(), "got")?;
    let failed =
        l.builder
            .build_int_compare(inkwell::IntPredicate::SLT, got, l.const_u64(0), "failed")?;
    Ok(l.builder
        .build_select(failed, l.const_u64(on_error), got, "result")?
        .into_int_value())
}

/// `comm(pid)`: the 16-byte name of process `pid` (`comm` is the offset of `comm` in
/// `struct task_struct`, relocated to the running kernel's with `core`), or `N/A` when no
/// such process exists, as bpftrace 0.27 names it.
pub fn comm_of<'ctx>(
    l: &mut Lowerer<'_, 'ctx>,
    pid: &Expr,
    comm: u32,
    core: Option<&lang::hir::CoreAccess>,
) -> R<Val<'ctx>> {
    let pid = l.int(pid)?;
    let pid = l.builder.build_int_truncate(pid, l.ctx.i32_type(), "pid")?;
    let slot = l.alloca(16, "comm")?;
    l.memset(slot, 16)?;
    let from_pid = declare(l, Kfunc::TaskFromPid);
    let task = match l
        .builder
        .build_call(from_pid, &[pid.into()], "task")?
        .try_as_basic_value()
    {
        inkwell::values::ValueKind::Basic(v) => v.into_pointer_value(),
        inkwell::values::ValueKind::Instruction(_) => {
            return Err(crate::CodegenError::Internal(
                "bpf_task_from_pid declared without a value".into(),
            ))
        }
    };
    let found = l.builder.build_is_not_null(task, "found")?;
    let read = l.ctx.append_basic_block(l.func, "task_found");
    let missing = l.ctx.append_basic_block(l.func, "task_missing");
    let done = l.ctx.append_basic_block(l.func, "task_done");
    l.builder.build_conditional_branch(found, read, missing)?;
    l.builder.position_at_end(missing);
    // "N/A" and its NUL, as one little-endian 32-bit store.
    let na = l
        .ctx
        .i32_type()
        .const_int(u64::from(u32::from_le_bytes(*b"N/A\0")), false);
    l.builder.build_store(slot, na)?;
    l.builder.build_unconditional_branch(done)?;
    l.builder.position_at_end(read);
    let at = match core {
        Some(c) => crate::core::field_pointer(l, task, c)?,
        None => l.offset(task, u64::from(comm))?,
    };
    l.helper(
        Helper::ProbeReadKernel,
        &[slot.into(), l.const_u64(16).into(), at.into()],
    )?;
    let release = declare(l, Kfunc::TaskRelease);
    l.builder.build_call(release, &[task.into()], "")?;
    l.builder.build_unconditional_branch(done)?;
    l.builder.position_at_end(done);
    Ok(Val::Mem(slot))
}

/// A debug type of the kind and shape of `ty`, for an extern variable's BTF: libbpf checks a
/// typed kernel symbol against the kernel's type by kinds (an int, a pointer to a struct, an
/// array of ints), not by members, so records are described without theirs.
fn ksym_type<'ctx>(l: &Lowerer<'_, 'ctx>, ty: &Type, depth: u32) -> R<DIType<'ctx>> {
    let debug = l.locator.debug();
    let dib = &debug.dib;
    let scope = debug.cu.as_debug_info_scope();
    let basic = |name: &str, bits: u64, encoding: u32| {
        dib.create_basic_type(name, bits, encoding, DIFlags::ZERO)
            .map(|t| t.as_type())
            .map_err(|e| crate::CodegenError::Internal(format!("debug type {name}: {e}")))
    };
    // DW_ATE_boolean = 2, DW_ATE_signed = 5, DW_ATE_unsigned = 7.
    let byte = || basic("unsigned char", 8, 7);
    let composite = |name: &str, union: bool, size: u32| {
        let bits = 8 * u64::from(size);
        if union {
            dib.create_union_type(
                scope,
                name,
                debug.file,
                0,
                bits,
                0,
                DIFlags::ZERO,
                &[],
                0,
                "",
            )
            .as_type()
        } else {
            dib.create_struct_type(
                scope,
                name,
                debug.file,
                0,
                bits,
                0,
                DIFlags::ZERO,
                None,
                &[],
                0,
                None,
                "",
            )
            .as_type()
        }
    };
    let ptr = |to: DIType<'ctx>| {
        dib.create_pointer_type("", to, 64, 64, AddressSpace::default())
            .as_type()
    };
    #[allow(clippy::single_range_in_vec_init)]
    let array = |elem: DIType<'ctx>, elem_bytes: u64, len: u32| {
        let len = i64::from(len);
        dib.create_array_type(elem, 8 * elem_bytes * len as u64, 8, &[0..len])
            .as_type()
    };
    Ok(match ty {
        Type::Int { bits, signed } => {
            let encoding = if *signed { 5 } else { 7 };
            basic(
                if *signed { "long" } else { "unsigned long" },
                u64::from(*bits),
                encoding,
            )?
        }
        Type::Bool => basic("_Bool", 8, 2)?,
        // DW_ATE_float.
        Type::Float { bits } => basic(
            if *bits == 32 { "float" } else { "double" },
            u64::from(*bits),
            4,
        )?,
        Type::Pointer { to, .. } if depth < 4 => ptr(ksym_type(l, to, depth + 1)?),
        Type::Pointer { .. } => ptr(byte()?),
        Type::Record(r) => {
            let (union, name) = match r.name.strip_prefix("union ") {
                Some(n) => (true, n),
                None => (false, r.name.strip_prefix("struct ").unwrap_or(&r.name)),
            };
            composite(name, union, r.size)
        }
        Type::Array { elem, len } if depth < 4 => {
            array(ksym_type(l, elem, depth + 1)?, u64::from(elem.size()), *len)
        }
        Type::Enum { name, bits, .. } => {
            let underlying = basic("unsigned int", u64::from(*bits), 7)?;
            dib.create_enumeration_type(
                scope,
                name,
                debug.file,
                0,
                u64::from(*bits),
                0,
                &[],
                underlying,
            )
            .as_type()
        }
        // Strings and buffers read from BTF are byte arrays.
        Type::Str { len } | Type::Buffer { len } => array(byte()?, 1, *len),
        Type::Array { len, .. } => array(byte()?, 1, *len),
        Type::None
        | Type::Tuple(_)
        | Type::NamedTuple { .. }
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
        | Type::Agg(_) => byte()?,
    })
}

/// The extern `.ksyms` declaration of kernel variable `symbol` (BTF type `var`), added on
/// first use.
fn declare_variable<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    symbol: &str,
    var: &Type,
) -> R<PointerValue<'ctx>> {
    if let Some(g) = l.module.get_global(symbol) {
        return Ok(g.as_pointer_value());
    }
    let g = l.module.add_global(l.ctx.i8_type(), None, symbol);
    g.set_linkage(Linkage::External);
    g.set_section(Some(".ksyms"));
    let debug = l.locator.debug();
    let ty = ksym_type(l, var, 0)?;
    let expr = debug.dib.create_global_variable_expression(
        debug.cu.as_debug_info_scope(),
        symbol,
        "",
        debug.file,
        0,
        ty,
        false,
        None,
        None,
        0,
    );
    g.set_metadata(expr.as_metadata_value(l.ctx), l.ctx.get_kind_id("dbg"));
    Ok(g.as_pointer_value())
}

/// `percpu_kaddr("symbol"[, cpu])`: `bpf_per_cpu_ptr(&symbol, cpu)`, or `bpf_this_cpu_ptr`
/// without a cpu, as an integer address (NULL for a cpu that does not exist).
pub fn percpu_kaddr<'ctx>(
    l: &mut Lowerer<'_, 'ctx>,
    symbol: &str,
    var: &Type,
    cpu: Option<&Expr>,
) -> R<Val<'ctx>> {
    let sym = declare_variable(l, symbol, var)?;
    let addr = match cpu {
        Some(cpu) => {
            let cpu = l.int(cpu)?;
            l.helper(Helper::PerCpuPtr, &[sym.into(), cpu.into()])?
        }
        None => l.helper(Helper::ThisCpuPtr, &[sym.into()])?,
    };
    Ok(Val::Int(addr))
}

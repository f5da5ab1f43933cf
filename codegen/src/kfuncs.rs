//! Calls of kernel functions (kfuncs) and what rbt builds on them (`comm(pid)`). A kfunc is
//! an external function in section `.ksyms` whose prototype the object's BTF describes (a
//! declaration-only `DISubprogram`, which LLVM's BPF backend turns into an extern BTF FUNC);
//! libbpf finds the kernel's function of that name and checks the prototypes agree, and
//! the call becomes a kfunc call. Each kfunc is declared the first time a program calls it.

use crate::helpers::Helper;
use crate::ir::{Lowerer, Val, Walk};
use inkwell::debug_info::{AsDIScope, DIFlags, DIFlagsConstants, DIType};
use inkwell::module::Linkage;
use inkwell::values::FunctionValue;
use inkwell::AddressSpace;
use lang::hir::Expr;

type R<T> = Result<T, crate::CodegenError>;

/// The kfuncs rbt calls.
#[derive(Debug, Clone, Copy)]
enum Kfunc {
    /// `struct task_struct *bpf_task_from_pid(s32 pid)`: a counted reference, or NULL.
    TaskFromPid,
    /// `void bpf_task_release(struct task_struct *p)`: drops that reference.
    TaskRelease,
}

impl Kfunc {
    fn name(self) -> &'static str {
        match self {
            Kfunc::TaskFromPid => "bpf_task_from_pid",
            Kfunc::TaskRelease => "bpf_task_release",
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

/// `comm(pid)`: the 16-byte name of process `pid` (`comm` is the offset of `comm` in
/// `struct task_struct`), or `N/A` when no such process exists, as bpftrace 0.27 names it.
pub fn comm_of<'ctx>(l: &mut Lowerer<'_, 'ctx>, pid: &Expr, comm: u32) -> R<Val<'ctx>> {
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
    let at = l.offset(task, u64::from(comm))?;
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

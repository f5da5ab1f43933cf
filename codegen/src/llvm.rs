//! The one place codegen needs `unsafe` from inkwell: byte-offset pointer arithmetic (GEP).

use crate::CodegenError;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::values::{IntValue, PointerValue};

/// `ptr + off` bytes, as an `i8` GEP so LLVM keeps the pointer's provenance (the BPF verifier
/// tracks pointers to the stack, maps and the context; an int round trip would lose that).
pub fn byte_offset<'ctx>(
    builder: &Builder<'ctx>,
    context: &'ctx Context,
    ptr: PointerValue<'ctx>,
    off: IntValue<'ctx>,
) -> Result<PointerValue<'ctx>, CodegenError> {
    // SAFETY: inkwell marks GEP unsafe because an out-of-bounds GEP is UB in LLVM IR. The
    // offsets codegen passes stay inside the object `ptr` points to (struct members, tuple
    // elements, record fields), and the verifier checks every access at load time anyway.
    let p = unsafe { builder.build_gep(context.i8_type(), ptr, &[off], "off")? };
    Ok(p)
}

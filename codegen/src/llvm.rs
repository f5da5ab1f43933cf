//! The one place codegen needs `unsafe` from inkwell: byte-offset pointer arithmetic (GEP),
//! debug-info types as metadata operands (CO-RE access tags), and catching LLVM's error
//! diagnostics instead of letting LLVM exit the process.

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

/// A debug-info type as a metadata value, to tag an instruction with (inkwell has no safe
/// conversion for types).
pub fn type_metadata<'ctx>(
    context: &'ctx Context,
    ty: inkwell::debug_info::DIType<'ctx>,
) -> inkwell::values::MetadataValue<'ctx> {
    use inkwell::llvm_sys::core::LLVMMetadataAsValue;
    // SAFETY: `ty` is live metadata of `context` (both share the `'ctx` lifetime), and
    // LLVMMetadataAsValue returns a metadata-as-value wrapper, which is what
    // `MetadataValue::new` expects.
    unsafe {
        inkwell::values::MetadataValue::new(LLVMMetadataAsValue(context.raw(), ty.as_mut_ptr()))
    }
}

/// Errors LLVM reports while compiling (the BPF back end reports, for example, a program whose
/// stack exceeds 512 bytes this way). Without a handler LLVM prints them and exits the whole
/// process; with it, `compile` turns them into a `CodegenError`.
pub type Diagnostics = std::cell::RefCell<Vec<String>>;

/// Routes the context's error diagnostics into the returned list. Keep the box alive as long
/// as the context compiles: LLVM holds a pointer to it.
pub fn capture_diagnostics(context: &Context) -> Box<Diagnostics> {
    use inkwell::llvm_sys::core::LLVMContextSetDiagnosticHandler;
    let sink: Box<Diagnostics> = Box::default();
    let data = &*sink as *const Diagnostics as *mut std::ffi::c_void;
    // SAFETY: `context.raw()` is a live context; `data` points into a box the caller keeps
    // alive (a box's contents never move) while the context compiles, and `on_diagnostic`
    // only reads it as the `Diagnostics` it is.
    unsafe { LLVMContextSetDiagnosticHandler(context.raw(), Some(on_diagnostic), data) };
    sink
}

extern "C" fn on_diagnostic(
    info: inkwell::llvm_sys::prelude::LLVMDiagnosticInfoRef,
    data: *mut std::ffi::c_void,
) {
    use inkwell::llvm_sys::core::{
        LLVMDisposeMessage, LLVMGetDiagInfoDescription, LLVMGetDiagInfoSeverity,
    };
    use inkwell::llvm_sys::LLVMDiagnosticSeverity;
    // SAFETY: LLVM passes a valid diagnostic for the duration of the call, and the description
    // it returns is a C string we own and free; `data` is the `Diagnostics` registered above.
    unsafe {
        if LLVMGetDiagInfoSeverity(info) != LLVMDiagnosticSeverity::LLVMDSError {
            return;
        }
        let desc = LLVMGetDiagInfoDescription(info);
        let text = std::ffi::CStr::from_ptr(desc)
            .to_string_lossy()
            .into_owned();
        LLVMDisposeMessage(desc);
        (*(data as *const Diagnostics)).borrow_mut().push(text);
    }
}

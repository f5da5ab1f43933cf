//! Splits `memset`s and `memcpy`s too big for LLVM's BPF back end into pieces it can expand.
//!
//! The BPF back end has no library to call for `memset`/`memcpy`: it expands each into loads
//! and stores, at most 128 stores per call, and fails the whole compile beyond that ("A call
//! to built-in function 'memset' is not supported"). Lowering keeps the ones it writes small
//! (see `Lowerer::memset`), but the optimizer makes bigger ones of its own: it merges adjacent
//! zeroings (a string variable and the literal assigned to it, side by side in scratch memory)
//! and turns runs of equal stores (a literal of repeated characters) into one `memset`. Those
//! only exist after the optimizer has run, so this pass runs after it, just before the back
//! end, and cuts every such call into calls of at most [`CHUNK_STORES`] stores each. Nothing
//! later in the pipeline merges them again, and code that has no such call is left as it is.

use crate::CodegenError;
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::values::{
    BasicValueEnum, CallSiteValue, InstructionOpcode, InstructionValue, IntValue, PointerValue,
};

/// The most stores the BPF back end expands one `memset`/`memcpy` into
/// (`BPFSelectionDAGInfo::getCommonMaxStoresPerMemFunc`).
const MAX_STORES: u64 = 128;

/// The stores in each piece of a split call: half the limit, so that a last, shorter piece
/// with a tail of narrower stores stays under it too. A piece copies with at most this many
/// loads in flight, which the back end schedules without spilling past the 512-byte stack.
const CHUNK_STORES: u64 = 64;

/// Which intrinsic a call is, with what it needs to be cut up.
enum MemCall<'ctx> {
    Set {
        dst: PointerValue<'ctx>,
        byte: IntValue<'ctx>,
    },
    Copy {
        dst: PointerValue<'ctx>,
        src: PointerValue<'ctx>,
    },
}

/// Splits every over-long `memset`/`memcpy` of `module` (see the module documentation).
pub fn split_big_mem_calls<'ctx>(
    context: &'ctx Context,
    module: &Module<'ctx>,
) -> Result<(), CodegenError> {
    let builder = context.create_builder();
    for func in module.get_functions() {
        for block in func.get_basic_block_iter() {
            let mut next = block.get_first_instruction();
            while let Some(inst) = next {
                next = inst.get_next_instruction();
                split_one(context, &builder, inst)?;
            }
        }
    }
    Ok(())
}

/// Replaces `inst` by pieces if it is a `memset`/`memcpy` of a constant length that needs
/// more than [`MAX_STORES`] stores at its alignment.
fn split_one<'ctx>(
    context: &'ctx Context,
    builder: &Builder<'ctx>,
    inst: InstructionValue<'ctx>,
) -> Result<(), CodegenError> {
    if inst.get_opcode() != InstructionOpcode::Call {
        return Ok(());
    }
    let Ok(call) = CallSiteValue::try_from(inst) else {
        return Ok(());
    };
    let Some(callee) = call.get_called_fn_value() else {
        return Ok(());
    };
    let name = callee.get_name().to_bytes();
    let (Some(a0), Some(a1), Some(BasicValueEnum::IntValue(len))) =
        (operand(inst, 0), operand(inst, 1), operand(inst, 2))
    else {
        return Ok(());
    };
    let Some(len) = len.get_zero_extended_constant() else {
        return Ok(());
    };
    let (kind, align) = if name.starts_with(b"llvm.memset.") {
        match (a0, a1) {
            (BasicValueEnum::PointerValue(dst), BasicValueEnum::IntValue(byte)) => {
                (MemCall::Set { dst, byte }, param_align(call, 0))
            }
            _ => return Ok(()),
        }
    } else if name.starts_with(b"llvm.memcpy.") {
        match (a0, a1) {
            (BasicValueEnum::PointerValue(dst), BasicValueEnum::PointerValue(src)) => (
                MemCall::Copy { dst, src },
                param_align(call, 0).min(param_align(call, 1)),
            ),
            _ => return Ok(()),
        }
    } else {
        return Ok(());
    };
    if stores(len, align) <= MAX_STORES {
        return Ok(());
    }
    builder.position_before(&inst);
    if let Some(loc) = inst.get_debug_location() {
        builder.set_current_debug_location(loc);
    }
    let i64t = context.i64_type();
    let chunk = CHUNK_STORES * align;
    let mut at = 0;
    while at < len {
        let n = i64t.const_int(chunk.min(len - at), false);
        let off = i64t.const_int(at, false);
        let align = align as u32;
        match kind {
            MemCall::Set { dst, byte } => {
                let d = crate::llvm::byte_offset(builder, context, dst, off)?;
                builder.build_memset(d, align, byte, n)?;
            }
            MemCall::Copy { dst, src } => {
                let d = crate::llvm::byte_offset(builder, context, dst, off)?;
                let s = crate::llvm::byte_offset(builder, context, src, off)?;
                builder.build_memcpy(d, align, s, align, n)?;
            }
        }
        at += chunk;
    }
    builder.unset_current_debug_location();
    inst.erase_from_basic_block();
    Ok(())
}

/// Operand `i` of a call, if it is a plain value.
fn operand<'ctx>(inst: InstructionValue<'ctx>, i: u32) -> Option<BasicValueEnum<'ctx>> {
    inst.get_operand(i).and_then(|o| o.value())
}

/// The alignment the call promises for its pointer argument `i` (1 when it promises none),
/// capped at the 8 bytes of BPF's widest store.
fn param_align(call: CallSiteValue, i: u32) -> u64 {
    let kind = Attribute::get_named_enum_kind_id("align");
    call.get_enum_attribute(AttributeLoc::Param(i), kind)
        .map_or(1, |a| a.get_enum_value())
        .clamp(1, 8)
}

/// How many stores the back end expands `len` bytes at `align` into: as many as wide as the
/// alignment allows, then one store for each set bit of the rest (4, 2, 1 bytes).
fn stores(len: u64, align: u64) -> u64 {
    len / align + u64::from((len % align).count_ones())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_stores_as_the_back_end_expands_them() {
        assert_eq!(stores(1024, 8), 128);
        assert_eq!(stores(1021, 8), 127 + 2);
        assert_eq!(stores(1029, 8), 128 + 2);
        assert_eq!(stores(992, 1), 992);
        assert_eq!(stores(7, 8), 3);
    }
}

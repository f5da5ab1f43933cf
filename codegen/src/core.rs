//! CO-RE ("compile once, run everywhere") field accesses: a kernel struct field read through a
//! pointer is addressed with LLVM's BPF CO-RE intrinsics (`llvm.preserve.struct.access.index`,
//! `llvm.preserve.union.access.index`) tagged with debug-info types of the records on the path.
//! LLVM's BPF back end turns each chain into a field-offset relocation in `.BTF.ext`, and libbpf
//! rewrites the offset for the running kernel when it loads the object, matching fields by name
//! (it also finds a field that the running kernel keeps inside an anonymous struct or union).
//!
//! The debug-info record types are minimal: each names its record and holds only the one field
//! the path goes through, at the compiling kernel's offset. libbpf never looks at the other
//! fields, and one member per record keeps the object's BTF small and free of the overlapping
//! members that rbt's flattened records (anonymous members merged into their parent) have.

use crate::ir::Lowerer;
use crate::CodegenError;
use inkwell::attributes::AttributeLoc;
use inkwell::debug_info::{AsDIScope, DIFlags, DIFlagsConstants, DIType};
use inkwell::intrinsics::Intrinsic;
use inkwell::types::BasicType;
use inkwell::values::{BasicValue, IntValue, PointerValue};
use inkwell::AddressSpace;
use lang::hir::CoreAccess;
use stdlib::types::{Field, Record, Type};

type R<T> = Result<T, CodegenError>;

/// DWARF base type encodings (`DW_ATE_*`).
const DW_ATE_SIGNED: u32 = 5;
const DW_ATE_UNSIGNED: u32 = 7;

/// The address (an i64) of the field `access` names in the record `base` points to, plus
/// `extra` bytes (an array element or string byte after the field, which is not relocated).
pub fn field_address<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    base: IntValue<'ctx>,
    access: &CoreAccess,
    extra: u64,
) -> R<IntValue<'ctx>> {
    let ptr_ty = l.ctx.ptr_type(AddressSpace::default());
    let ptr = l.builder.build_int_to_ptr(base, ptr_ty, "core_base")?;
    let ptr = field_pointer(l, ptr, access)?;
    let addr = l
        .builder
        .build_ptr_to_int(ptr, l.ctx.i64_type(), "core_addr")?;
    if extra == 0 {
        return Ok(addr);
    }
    Ok(l.builder
        .build_int_add(addr, l.ctx.i64_type().const_int(extra, false), "core_extra")?)
}

/// A pointer to the field `access` names in the record `base` points to. Loaded from
/// directly (a tracepoint's context), LLVM folds the relocation into the load's offset, as
/// the verifier wants for context pointers.
pub fn field_pointer<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    base: PointerValue<'ctx>,
    access: &CoreAccess,
) -> R<PointerValue<'ctx>> {
    let chain = access.chain().ok_or_else(|| {
        CodegenError::Internal("a CO-RE field path does not fit its records".into())
    })?;
    // The debug-info records, innermost first: each one's member has the next one's type.
    let mut records = Vec::with_capacity(chain.len());
    let mut member_ty: Option<DIType<'ctx>> = None;
    for (record, field, _) in chain.iter().rev() {
        let ty = match member_ty {
            Some(t) => t,
            None => leaf_type(l, field)?,
        };
        let composite = record_type(l, record, field, ty);
        records.push(composite);
        member_ty = Some(composite);
    }
    records.reverse();

    let ptr_ty = l.ctx.ptr_type(AddressSpace::default());
    let mut ptr = base;
    let kind_id = l.ctx.get_kind_id("llvm.preserve.access.index");
    let elementtype = inkwell::attributes::Attribute::get_named_enum_kind_id("elementtype");
    for ((record, field, _), di) in chain.iter().zip(&records) {
        let union = record.name.starts_with("union ");
        let name = if union {
            "llvm.preserve.union.access.index"
        } else {
            "llvm.preserve.struct.access.index"
        };
        let intrinsic = Intrinsic::find(name)
            .ok_or_else(|| CodegenError::Internal(format!("LLVM lacks {name}")))?;
        let decl = intrinsic
            .get_declaration(l.module, &[ptr_ty.into(), ptr_ty.into()])
            .ok_or_else(|| CodegenError::Internal(format!("cannot declare {name}")))?;
        // The IR type of the record: one member, as in its debug-info type. LLVM reads a
        // bit-field as an aligned unit of the record's alignment: 8 bytes, the most it takes.
        let ir_record = if field.bitfield.is_some() {
            l.ctx
                .struct_type(&[l.ctx.i64_type().as_basic_type_enum()], false)
        } else {
            let bytes = l.ctx.i8_type().array_type(record.size.max(1));
            l.ctx.struct_type(&[bytes.as_basic_type_enum()], false)
        };
        let zero = l.ctx.i32_type().const_zero();
        let call = if union {
            l.builder
                .build_call(decl, &[ptr.into(), zero.into()], "core_field")?
        } else {
            l.builder
                .build_call(decl, &[ptr.into(), zero.into(), zero.into()], "core_field")?
        };
        let attr = l.ctx.create_type_attribute(elementtype, ir_record.into());
        call.add_attribute(AttributeLoc::Param(0), attr);
        let next = call
            .try_as_basic_value()
            .basic()
            .map(|v| v.into_pointer_value())
            .ok_or_else(|| CodegenError::Internal(format!("{name} returned no pointer")))?;
        let inst = next
            .as_instruction_value()
            .ok_or_else(|| CodegenError::Internal(format!("{name} is not an instruction")))?;
        inst.set_metadata(crate::llvm::type_metadata(l.ctx, *di), kind_id)
            .map_err(|e| CodegenError::Internal(format!("CO-RE metadata: {e}")))?;
        ptr = next;
    }
    Ok(ptr)
}

/// `llvm.bpf.preserve.field.info` kinds (libbpf's `enum bpf_field_info_kind`).
const FIELD_BYTE_OFFSET: u64 = 0;
const FIELD_BYTE_SIZE: u64 = 1;
const FIELD_LSHIFT_U64: u64 = 4;
const FIELD_RSHIFT_U64: u64 = 5;

/// The value (zero-extended to a u64) of the bit-field `access` ends at, in the record `base`
/// points to: libbpf relocates where its bytes are, how many to read and the two shifts that
/// isolate its bits, as `BPF_CORE_READ_BITFIELD_PROBED` does.
pub fn bitfield_value<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    base: IntValue<'ctx>,
    access: &CoreAccess,
) -> R<IntValue<'ctx>> {
    let ptr_ty = l.ctx.ptr_type(AddressSpace::default());
    let root = l.builder.build_int_to_ptr(base, ptr_ty, "core_base")?;
    let field = field_pointer(l, root, access)?;
    let name = "llvm.bpf.preserve.field.info";
    let decl = Intrinsic::find(name)
        .and_then(|i| i.get_declaration(l.module, &[ptr_ty.into()]))
        .ok_or_else(|| CodegenError::Internal(format!("cannot declare {name}")))?;
    let i64t = l.ctx.i64_type();
    let info = |kind: u64| -> R<IntValue<'ctx>> {
        let v = l
            .builder
            .build_call(
                decl,
                &[field.into(), i64t.const_int(kind, false).into()],
                "field_info",
            )?
            .try_as_basic_value()
            .basic()
            .map(|v| v.into_int_value())
            .ok_or_else(|| CodegenError::Internal(format!("{name} returned nothing")))?;
        Ok(l.builder.build_int_z_extend(v, i64t, "info")?)
    };
    let offset = info(FIELD_BYTE_OFFSET)?;
    let size = info(FIELD_BYTE_SIZE)?;
    let at = l.builder.build_int_add(base, offset, "bitfield_at")?;
    let src = l.builder.build_int_to_ptr(at, ptr_ty, "bitfield_src")?;
    // The bytes land in the low end of a zeroed word (BPF is little-endian here).
    let slot = l.alloca(8, "bitfield")?;
    l.builder.build_store(slot, i64t.const_zero())?;
    l.helper(
        crate::helpers::Helper::ProbeReadKernel,
        &[slot.into(), size.into(), src.into()],
    )?;
    let word = l.builder.build_load(i64t, slot, "word")?.into_int_value();
    let left = l
        .builder
        .build_left_shift(word, info(FIELD_LSHIFT_U64)?, "lshift")?;
    Ok(l.builder
        .build_right_shift(left, info(FIELD_RSHIFT_U64)?, false, "rshift")?)
}

/// The record's name as BTF spells it: without `struct `/`union `, which the kind says, and
/// empty for an anonymous record (`struct (anonymous)`): the kernel refuses BTF names that
/// are not C identifiers, and libbpf only compares the names of the records a path starts at.
fn bare_name(record: &Record) -> &str {
    let name = record
        .name
        .strip_prefix("struct ")
        .or_else(|| record.name.strip_prefix("union "))
        .unwrap_or(&record.name);
    let identifier = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if identifier {
        name
    } else {
        ""
    }
}

/// `struct name { <field> }` (or a union) of `record`'s size, `field` at its offset with
/// type `ty`.
fn record_type<'ctx>(
    l: &Lowerer<'_, 'ctx>,
    record: &Record,
    field: &Field,
    ty: DIType<'ctx>,
) -> DIType<'ctx> {
    let d = l.locator.debug();
    let scope = d.cu.as_debug_info_scope();
    // A bit-field member is its bits, with the flag that says so.
    let (bits, offset, flags) = match field.bitfield {
        Some((bit, width)) => (
            u64::from(width),
            u64::from(field.offset) * 8 + u64::from(bit),
            DIFlags::BIT_FIELD,
        ),
        None => (
            u64::from(field.ty.size()) * 8,
            u64::from(field.offset) * 8,
            DIFlags::ZERO,
        ),
    };
    let member =
        d.dib
            .create_member_type(scope, &field.name, d.file, 0, bits, 0, offset, flags, ty);
    let size = u64::from(record.size) * 8;
    let name = bare_name(record);
    let composite = if record.name.starts_with("union ") {
        d.dib.create_union_type(
            scope,
            name,
            d.file,
            0,
            size,
            0,
            DIFlags::ZERO,
            &[member.as_type()],
            0,
            "",
        )
    } else {
        d.dib.create_struct_type(
            scope,
            name,
            d.file,
            0,
            size,
            0,
            DIFlags::ZERO,
            None,
            &[member.as_type()],
            0,
            None,
            "",
        )
    };
    composite.as_type()
}

/// The debug-info type of the field a path ends at, of the BTF kind libbpf wants to match
/// the running kernel's: an integer, an enum (anonymous, so any enum matches), a pointer, an
/// array (of enums, when the kernel's elements are), or a record (whose members libbpf does
/// not compare).
fn leaf_type<'ctx>(l: &Lowerer<'_, 'ctx>, field: &Field) -> R<DIType<'ctx>> {
    if field.btf_enum {
        enum_type(l, &field.ty)
    } else {
        value_type(l, &field.ty)
    }
}

/// An anonymous enum as wide as `ty`, which libbpf matches with any enum of the kernel, or
/// for an array, an array of such enums.
fn enum_type<'ctx>(l: &Lowerer<'_, 'ctx>, ty: &Type) -> R<DIType<'ctx>> {
    let d = l.locator.debug();
    if let Type::Array { elem, len } = ty {
        let e = enum_type(l, elem)?;
        let bits = u64::from(elem.size()) * 8 * u64::from(*len);
        return Ok(d
            .dib
            .create_array_type(e, bits, 0, &dimension(*len))
            .as_type());
    }
    let bits = u64::from(ty.size()) * 8;
    let ty = d.dib.create_enumeration_type(
        d.cu.as_debug_info_scope(),
        "",
        d.file,
        0,
        bits,
        0,
        &[],
        int_type(
            l,
            &Type::Int {
                bits: bits as u8,
                signed: false,
            },
        )?,
    );
    Ok(ty.as_type())
}

fn value_type<'ctx>(l: &Lowerer<'_, 'ctx>, ty: &Type) -> R<DIType<'ctx>> {
    let d = l.locator.debug();
    match ty {
        Type::Pointer { .. } => {
            let to = int_type(
                l,
                &Type::Int {
                    bits: 8,
                    signed: false,
                },
            )?;
            Ok(d.dib
                .create_pointer_type("", to, 64, 64, AddressSpace::default())
                .as_type())
        }
        Type::Str { len } => {
            let elem = int_type(
                l,
                &Type::Int {
                    bits: 8,
                    signed: true,
                },
            )?;
            Ok(d.dib
                .create_array_type(elem, u64::from(*len) * 8, 8, &dimension(*len))
                .as_type())
        }
        Type::Array { elem, len } => {
            let e = value_type(l, elem)?;
            let bits = u64::from(elem.size()) * 8 * u64::from(*len);
            Ok(d.dib
                .create_array_type(e, bits, 0, &dimension(*len))
                .as_type())
        }
        Type::Record(r) => {
            let scope = d.cu.as_debug_info_scope();
            let size = u64::from(r.size) * 8;
            let name = bare_name(r);
            let ty = if r.name.starts_with("union ") {
                d.dib
                    .create_union_type(scope, name, d.file, 0, size, 0, DIFlags::ZERO, &[], 0, "")
            } else {
                d.dib.create_struct_type(
                    scope,
                    name,
                    d.file,
                    0,
                    size,
                    0,
                    DIFlags::ZERO,
                    None,
                    &[],
                    0,
                    None,
                    "",
                )
            };
            Ok(ty.as_type())
        }
        other => int_type(l, other),
    }
}

/// The dimensions of a C array of `len` elements, as debug info wants them: one range.
#[allow(clippy::single_range_in_vec_init)]
fn dimension(len: u32) -> [std::ops::Range<i64>; 1] {
    [0..i64::from(len)]
}

/// An integer debug-info type of `ty`'s size and signedness (integers, booleans, enums).
fn int_type<'ctx>(l: &Lowerer<'_, 'ctx>, ty: &Type) -> R<DIType<'ctx>> {
    let (bits, signed) = match ty {
        Type::Int { bits, signed } => (u64::from(*bits), *signed),
        other => (u64::from(other.size()) * 8, false),
    };
    let encoding = if signed {
        DW_ATE_SIGNED
    } else {
        DW_ATE_UNSIGNED
    };
    let name = format!("{}{bits}", if signed { "s" } else { "u" });
    l.locator
        .debug()
        .dib
        .create_basic_type(&name, bits.max(8), encoding, DIFlags::ZERO)
        .map(|t| t.as_type())
        .map_err(|e| CodegenError::Internal(format!("CO-RE debug type {name}: {e}")))
}

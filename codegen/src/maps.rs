//! BPF map definitions in the form libbpf reads: a zero-initialised global in section `.maps`
//! whose debug info describes `struct { int (*type)[T]; int (*max_entries)[N]; K *key; V *value; }`.
//! LLVM's BPF backend turns that debug info into BTF, and libbpf creates the map from it.
//! The same debug info builder describes every function, which gives each BPF program BTF
//! function info: the kernel requires it of programs with callbacks (`for` over a map, `len`).

use inkwell::context::Context;
use inkwell::debug_info::{
    AsDIScope, DICompileUnit, DIFile, DIFlags, DIFlagsConstants, DIType, DebugInfoBuilder,
};
use inkwell::module::{Linkage, Module};
use inkwell::values::GlobalValue;
use inkwell::AddressSpace;
use stdlib::manifest::MapKind;

/// BPF map type numbers (`enum bpf_map_type`).
fn map_type_number(kind: MapKind) -> i64 {
    match kind {
        MapKind::Hash => 1,
        MapKind::Array => 2,
        MapKind::PerCpuHash => 5,
        MapKind::PerCpuArray => 6,
        MapKind::LruHash => 9,
        MapKind::PerCpuLruHash => 10,
        MapKind::StackTrace => 7,
        MapKind::RingBuf => 27,
        MapKind::PerfEventArray => 4,
    }
}

/// Shape of one map definition.
pub struct MapDef<'a> {
    pub name: &'a str,
    pub kind: MapKind,
    pub max_entries: u32,
    /// Key and value sizes in bytes; `None` for ring buffers, which have neither.
    pub key_size: Option<u32>,
    pub value_size: Option<u32>,
}

pub struct DebugTypes<'ctx> {
    pub dib: DebugInfoBuilder<'ctx>,
    pub cu: DICompileUnit<'ctx>,
    pub file: DIFile<'ctx>,
}

impl<'ctx> DebugTypes<'ctx> {
    fn int(&self) -> DIType<'ctx> {
        // DW_ATE_signed = 5. Creating a 32-bit basic type cannot fail.
        self.dib
            .create_basic_type("int", 32, 5, DIFlags::ZERO)
            .map(|t| t.as_type())
            .expect("a 32-bit int debug type is always valid")
    }

    fn uchar(&self) -> DIType<'ctx> {
        // DW_ATE_unsigned_char = 8.
        self.dib
            .create_basic_type("unsigned char", 8, 8, DIFlags::ZERO)
            .map(|t| t.as_type())
            .expect("an 8-bit char debug type is always valid")
    }

    /// `long`: what a probe function returns.
    pub fn long(&self) -> DIType<'ctx> {
        // DW_ATE_signed = 5. Creating a 64-bit basic type cannot fail.
        self.dib
            .create_basic_type("long", 64, 5, DIFlags::ZERO)
            .map(|t| t.as_type())
            .expect("a 64-bit long debug type is always valid")
    }

    /// `unsigned char *`: a probe function's context argument, whose real type depends on
    /// the program type (the verifier types it from the program type, not from BTF).
    pub fn byte_ptr(&self) -> DIType<'ctx> {
        self.ptr(self.uchar())
    }

    fn ptr(&self, to: DIType<'ctx>) -> DIType<'ctx> {
        self.dib
            .create_pointer_type("", to, 64, 64, AddressSpace::default())
            .as_type()
    }

    /// `int (*)[n]`: how libbpf receives a number through BTF. (inkwell takes an array's
    /// subscript ranges as a slice; a one-dimensional array has one range.)
    #[allow(clippy::single_range_in_vec_init)]
    fn number(&self, n: i64) -> DIType<'ctx> {
        let arr = self
            .dib
            .create_array_type(self.int(), 32 * n as u64, 32, &[0..n]);
        self.ptr(arr.as_type())
    }

    /// `unsigned char (*)[size]`: a key or value of `size` bytes.
    #[allow(clippy::single_range_in_vec_init)]
    fn bytes(&self, size: u32) -> DIType<'ctx> {
        let arr =
            self.dib
                .create_array_type(self.uchar(), 8 * u64::from(size), 8, &[0..i64::from(size)]);
        self.ptr(arr.as_type())
    }
}

/// Declares one map and returns its global.
pub fn declare<'ctx>(
    context: &'ctx Context,
    module: &Module<'ctx>,
    debug: &DebugTypes<'ctx>,
    def: &MapDef,
) -> GlobalValue<'ctx> {
    let mut members: Vec<(&str, DIType<'ctx>)> = vec![
        ("type", debug.number(map_type_number(def.kind))),
        ("max_entries", debug.number(i64::from(def.max_entries))),
    ];
    if let Some(k) = def.key_size {
        // The kernel checks an array's key type in BTF: it must be a 4-byte integer, or it
        // rejects the map's BTF (and libbpf retries without it).
        let key = match def.kind {
            MapKind::Array | MapKind::PerCpuArray | MapKind::PerfEventArray => {
                debug.ptr(debug.int())
            }
            MapKind::Hash
            | MapKind::LruHash
            | MapKind::PerCpuHash
            | MapKind::PerCpuLruHash
            | MapKind::StackTrace
            | MapKind::RingBuf => debug.bytes(k),
        };
        members.push(("key", key));
    }
    if let Some(v) = def.value_size {
        members.push(("value", debug.bytes(v)));
    }
    let scope = debug.cu.as_debug_info_scope();
    let elements: Vec<DIType<'ctx>> = members
        .iter()
        .enumerate()
        .map(|(i, (name, ty))| {
            debug
                .dib
                .create_member_type(
                    scope,
                    name,
                    debug.file,
                    0,
                    64,
                    64,
                    64 * i as u64,
                    DIFlags::ZERO,
                    *ty,
                )
                .as_type()
        })
        .collect();
    let struct_di = debug.dib.create_struct_type(
        scope,
        "",
        debug.file,
        0,
        64 * members.len() as u64,
        64,
        DIFlags::ZERO,
        None,
        &elements,
        0,
        None,
        "",
    );
    let ptr = context.ptr_type(AddressSpace::default());
    let fields: Vec<_> = members.iter().map(|_| ptr.into()).collect();
    let ty = context.struct_type(&fields, false);
    let global = module.add_global(ty, None, def.name);
    global.set_initializer(&ty.const_zero());
    global.set_section(Some(".maps"));
    global.set_linkage(Linkage::External);
    global.set_alignment(8);
    let gve = debug.dib.create_global_variable_expression(
        scope,
        def.name,
        "",
        debug.file,
        0,
        struct_di.as_type(),
        false,
        None,
        None,
        64,
    );
    global.set_metadata(gve.as_metadata_value(context), context.get_kind_id("dbg"));
    global
}

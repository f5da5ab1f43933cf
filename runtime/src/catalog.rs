//! The system catalog the checker asks about probes and types: tracepoints from tracefs,
//! kernel functions from available_filter_functions or kallsyms, types from BTF, and ELF
//! symbols and USDT notes from binaries. Each source is loaded on first use only, so a
//! script that needs none of them starts without reading any.

use crate::introspect::dwarf::{CType, DebugInfo};
use crate::introspect::{btf, cmacros, dwarf, elf, insn, kallsyms, tracefs, zip};
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use stdlib::catalog::{
    Catalog, Host, LookupError, MemberKind, SymbolNames, TracepointField, TracepointRecord,
    Untraceable, UserObject, UserParam, UserSymbol,
};
use stdlib::manifest::{BpfTarget, UprobeTarget, UsdtTarget};
use stdlib::probes::ProgramType;
use stdlib::types::{AddrSpace, Field, Record, Type, I64};
use wildmatch::WildMatch;

/// A tracepoint's fields, or why they cannot be read.
type TracepointFields = Result<Vec<TracepointField>, LookupError>;

/// A kernel feature the compile uses where the kernel has it, which `--no-feature` turns
/// off (bpftrace 0.27's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelFeature {
    /// One kprobe_multi link for a wildcard kprobe's matches.
    KprobeMulti,
    /// One uprobe_multi link for a wildcard uprobe's matches in a binary.
    UprobeMulti,
}

#[derive(Default)]
pub struct SystemCatalog {
    events: OnceCell<Vec<(String, String)>>,
    functions: OnceCell<Option<kallsyms::FnList>>,
    /// Whether `functions` was read from a `--traceable-functions` file.
    traceable_given: bool,
    /// Every kernel function in kallsyms, traceable or not, read the first time a function
    /// missing from `functions` is asked about.
    all_functions: OnceCell<Option<kallsyms::FnList>>,
    /// Every kernel symbol, read the first time `kaddr()` needs one.
    kallsyms: OnceCell<Option<kallsyms::Kallsyms>>,
    btf: OnceCell<Option<Arc<btf::Btf>>>,
    /// Every enumerator in vmlinux BTF with its enum, built the first time an unknown name
    /// is looked up.
    enum_values: OnceCell<HashMap<String, (i64, btf::TypeId)>>,
    /// The `trace_event_raw_*` structs of vmlinux BTF by name, found the first time a
    /// tracepoint's record is looked for.
    trace_records: OnceCell<HashMap<String, btf::TypeId>>,
    /// Each raw tracepoint of vmlinux BTF: its typedef and wrapper function, found the first
    /// time a raw tracepoint is matched or its parameters are asked for.
    raw_tracepoints: OnceCell<HashMap<String, (btf::TypeId, Option<btf::TypeId>)>>,
    pid: Option<u32>,
    /// Kernel features `--no-feature` turned off: the compile does without them even where
    /// the kernel has them.
    disabled: Vec<KernelFeature>,
    /// `-I` directories, searched before the system's include directories.
    include_dirs: Vec<PathBuf>,
    /// Where a quoted `#include "x.h"` is looked for first: the script's directory.
    script_dir: Option<PathBuf>,
    /// `--debuginfo` directories, searched for the detached debug files of stripped binaries.
    debuginfo_dirs: Vec<PathBuf>,
    /// The DWARF debug info of each user binary asked about, by path (an error in words).
    debug_info: RefCell<HashMap<String, Result<Rc<DebugInfo>, String>>>,
    /// Whether each kfunc asked about may be called from each program type asked about.
    kfuncs: RefCell<HashMap<(String, ProgramType), bool>>,
    /// Whether each record name asked about is defined more than once: the checker asks at
    /// every field it reads, and each answer scans the whole of BTF's names.
    ambiguous_records: RefCell<HashMap<String, bool>>,
    /// The fields of each tracepoint asked about (the checker asks for a probe's and, for a
    /// group of tracepoints, for each one's layout), read from tracefs once.
    tracepoint_formats: RefCell<HashMap<(String, String), TracepointFields>>,
}

impl SystemCatalog {
    pub fn new(pid: Option<u32>) -> SystemCatalog {
        SystemCatalog {
            pid,
            ..Default::default()
        }
    }

    /// The same catalog, finding `#include`d headers in `include_dirs` (`-I`) and, for a
    /// quoted header, first in `script_dir`.
    pub fn with_headers(self, include_dirs: &[String], script_dir: Option<PathBuf>) -> Self {
        SystemCatalog {
            include_dirs: include_dirs.iter().map(PathBuf::from).collect(),
            script_dir,
            ..self
        }
    }

    /// The file an `#include` of `path` (`<path>` when `system`, else `"path"`) names on this
    /// machine, if any: for a quoted one the script's directory first, then the `-I`
    /// directories, then the system's. The compile cache keys on the file's contents.
    pub fn header_path(&self, path: &str, system: bool) -> Option<PathBuf> {
        let quoted_dir = if system {
            None
        } else {
            // A program given with -e is "in" the current directory.
            Some(
                self.script_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(".")),
            )
        };
        quoted_dir
            .into_iter()
            .chain(self.include_dirs.iter().cloned())
            .chain(SYSTEM_INCLUDE_DIRS.iter().map(PathBuf::from))
            .map(|dir| dir.join(path))
            .find(|file| file.is_file())
    }

    /// Does without `features` (`--no-feature`), as if the kernel lacked them.
    pub fn without_features(mut self, features: &[KernelFeature]) -> SystemCatalog {
        self.disabled = features.to_vec();
        self
    }

    /// Searches `dirs` (`--debuginfo`) for the debug files of stripped binaries.
    pub fn with_debuginfo_dirs(mut self, dirs: Vec<PathBuf>) -> SystemCatalog {
        self.debuginfo_dirs = dirs;
        self
    }

    /// Reads the list of traceable kernel functions from `path` (`--traceable-functions`,
    /// in the format of tracefs `available_filter_functions`) instead of the kernel's.
    pub fn with_traceable_functions(self, path: &Path) -> Result<SystemCatalog, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read the traceable functions from {}: {}",
                path.display(),
                stdlib::diag::reason(&e)
            )
        })?;
        let functions = OnceCell::new();
        // The cell is new and empty, so setting it cannot fail.
        let _ = functions.set(Some(kallsyms::parse_filter_functions(text)));
        Ok(SystemCatalog {
            functions,
            traceable_given: true,
            ..self
        })
    }

    /// The DWARF debug info of the binary at `path`, read once.
    pub fn debug_info(&self, path: &str) -> Result<Rc<DebugInfo>, String> {
        if let Some(d) = self.debug_info.borrow().get(path) {
            return d.clone();
        }
        let d = match DebugInfo::load(Path::new(path), &self.debuginfo_dirs) {
            Ok(Some(d)) => Ok(Rc::new(d)),
            Ok(None) => Err(format!("{path} has no DWARF debug info")),
            Err(e) => Err(e.to_string()),
        };
        self.debug_info
            .borrow_mut()
            .insert(path.to_string(), d.clone());
        d
    }

    fn events(&self) -> &[(String, String)] {
        self.events
            .get_or_init(|| tracefs::list_events().unwrap_or_default())
    }

    fn functions(&self) -> Option<&kallsyms::FnList> {
        self.functions
            .get_or_init(|| kallsyms::probeable_functions().ok())
            .as_ref()
    }

    fn btf(&self) -> Option<&btf::Btf> {
        self.btf
            .get_or_init(|| crate::listing::shared_vmlinux().ok())
            .as_deref()
    }

    /// The raw tracepoints of vmlinux BTF (typedef and wrapper by event), indexed in one pass
    /// the first time a raw tracepoint is matched or its parameters are asked for.
    fn raw_tracepoint_index(&self) -> Option<&HashMap<String, (btf::TypeId, Option<btf::TypeId>)>> {
        let b = self.btf()?;
        Some(self.raw_tracepoints.get_or_init(|| {
            b.raw_tracepoint_index()
                .into_iter()
                .map(|(ev, ids)| (ev.to_string(), ids))
                .collect()
        }))
    }

    /// Converts a BTF type to rbt's type.
    ///
    /// A record held by value is converted whole, with its nested records and the members of
    /// its anonymous structs and unions: printing, storing or copying it decodes every field,
    /// and a member of an anonymous record (`refcount_t`'s `refs`) has no name to be looked up
    /// by later. A named record behind a pointer is kept by name only (no fields) and looked
    /// up when the pointer is followed: pointers make cycles (`task_struct` → `parent`), and
    /// following them all would convert much of the kernel. An anonymous record behind a
    /// pointer is converted whole, as C gives it no way to point back to itself; `depth`
    /// (records entered) still bounds malformed BTF.
    fn btf_type(&self, b: &btf::Btf, id: btf::TypeId, depth: u32) -> Type {
        let id = b.resolve(id);
        match b.get(id) {
            // bpftrace prints a C `_Bool` as `true`/`false`.
            Ok(btf::Type::Int {
                size: 1,
                is_bool: true,
                ..
            }) => Type::Bool,
            Ok(btf::Type::Int { size, signed, .. }) => {
                let bits = (size.clamp(1, 8) * 8) as u8;
                Type::Int {
                    bits: if bits.is_power_of_two() { bits } else { 64 },
                    signed,
                }
            }
            Ok(btf::Type::Enum {
                name, size, values, ..
            }) => btf_enum(name, size, &values).unwrap_or(Type::Int {
                bits: (size.clamp(1, 8) * 8) as u8,
                signed: false,
            }),
            Ok(btf::Type::Ptr(target)) => {
                let target = b.resolve(target);
                let to = match b.get(target) {
                    Ok(
                        btf::Type::Struct { name, size, .. } | btf::Type::Union { name, size, .. },
                    ) if !name.is_empty() => Type::Record(Box::new(Record {
                        name: b.type_to_string(target),
                        size,
                        fields: Vec::new(),
                    })),
                    // A function pointer points to nothing a script can read.
                    Ok(btf::Type::FuncProto { .. }) => Type::None,
                    _ => self.btf_type(b, target, depth),
                };
                Type::Pointer {
                    to: Box::new(to),
                    space: AddrSpace::Kernel,
                }
            }
            Ok(btf::Type::Array { elem, len }) => {
                let e = self.btf_type(b, elem, depth);
                match e {
                    Type::Int { bits: 8, .. } => Type::Str { len: len.max(1) },
                    e => Type::Array {
                        elem: Box::new(e),
                        len,
                    },
                }
            }
            Ok(btf::Type::Struct { .. } | btf::Type::Union { .. }) => {
                let whole = (depth < MAX_RECORD_DEPTH)
                    .then(|| self.btf_record(b, id, depth + 1))
                    .flatten();
                Type::Record(Box::new(whole.unwrap_or_else(|| Record {
                    name: b.type_to_string(id),
                    size: b.size_of(id).unwrap_or(0) as u32,
                    fields: Vec::new(),
                })))
            }
            Ok(
                btf::Type::Void
                | btf::Type::Fwd { .. }
                | btf::Type::Typedef { .. }
                | btf::Type::Volatile(_)
                | btf::Type::Const(_)
                | btf::Type::Restrict(_)
                | btf::Type::Func { .. }
                | btf::Type::FuncProto { .. }
                | btf::Type::Var { .. }
                | btf::Type::Datasec { .. }
                | btf::Type::Float { .. }
                | btf::Type::DeclTag { .. }
                | btf::Type::TypeTag { .. },
            )
            | Err(_) => Type::Int {
                bits: 64,
                signed: false,
            },
        }
    }

    /// The layout of struct or union `id` with every member converted by [`Self::btf_type`];
    /// the members of anonymous structs and unions are merged into it, as C reaches them.
    fn btf_record(&self, b: &btf::Btf, id: btf::TypeId, depth: u32) -> Option<Record> {
        let members = b.members(id)?;
        let size = b.size_of(id).unwrap_or(0) as u32;
        let name = b.type_to_string(id);
        let mut fields = Vec::new();
        for m in members {
            let ty = self.btf_type(b, m.type_id, depth);
            let offset = m.bit_offset / 8;
            if m.name.is_empty() {
                // Anonymous struct/union members: their fields are reachable directly.
                if let Type::Record(inner) = ty {
                    fields.extend(inner.fields.into_iter().map(|mut f| {
                        f.offset += offset;
                        f
                    }));
                }
                continue;
            }
            // A bit-field is located by its byte and the bit inside it, as script
            // definitions locate theirs; the checker reads the bits and masks them.
            let bitfield = (m.bitfield_size > 0)
                .then(|| ((m.bit_offset % 8) as u8, m.bitfield_size.min(64) as u8));
            fields.push(Field {
                name: m.name.to_string(),
                offset,
                ty,
                bitfield,
                data_loc: false,
                btf_enum: btf_enum_or_array_of_enums(b, m.type_id),
            });
        }
        Some(Record { name, size, fields })
    }
}

/// Whether the BTF type `id` is an enum, or an array (of arrays) of enums: a CO-RE
/// relocation must describe it so ([`Field::btf_enum`]).
fn btf_enum_or_array_of_enums(b: &btf::Btf, id: btf::TypeId) -> bool {
    let mut id = b.resolve(id);
    // C nests array types only finitely; the bound keeps malformed BTF from looping.
    for _ in 0..MAX_RECORD_DEPTH {
        match b.get(id) {
            Ok(btf::Type::Enum { .. }) => return true,
            Ok(btf::Type::Array { elem, .. }) => id = b.resolve(elem),
            _ => return false,
        }
    }
    false
}

/// How many records deep [`SystemCatalog::btf_type`] and [`dwarf_type`] convert a record held
/// by value. C nests records by value only finitely; the bound keeps malformed type
/// information from recursing forever.
const MAX_RECORD_DEPTH: u32 = 32;

/// A BTF enum as a [`Type::Enum`], whose values print by name as bpftrace prints them; `None`
/// when its size is no integer width. Values are compared with what is read from memory:
/// `size` bytes wide, zero-extended.
fn btf_enum(name: &str, size: u32, values: &[(&str, i128)]) -> Option<Type> {
    let bits = (size.clamp(1, 8) * 8) as u8;
    if !bits.is_power_of_two() {
        return None;
    }
    let mask = u64::MAX >> (64 - u32::from(bits));
    Some(Type::Enum {
        name: name.to_string(),
        bits,
        variants: values
            .iter()
            .map(|(n, v)| (n.to_string(), (*v as u64) & mask))
            .collect(),
    })
}

/// Whether type `id` is one of C's character types itself (qualifiers aside), not a typedef.
fn is_character(d: &DebugInfo, mut id: usize) -> bool {
    for _ in 0..8 {
        match d.types.get(id) {
            Some(CType::Qualified(_, of)) => id = *of,
            _ => break,
        }
    }
    matches!(d.types.get(id), Some(CType::Base { name, .. }) if name.ends_with("char"))
}

/// Converts a DWARF type to rbt's type, as [`SystemCatalog::btf_type`] does for BTF: pointers
/// point into user memory, records held by value are converted whole, and a named record
/// behind a pointer is kept by name, to be looked up when the pointer is followed. `depth`
/// counts the records entered.
pub fn dwarf_type(d: &DebugInfo, id: usize, depth: u32) -> Type {
    let id = d.resolve(id);
    let u64_ty = Type::Int {
        bits: 64,
        signed: false,
    };
    match d.types.get(id) {
        // As bpftrace does, a `float`, `double` or `long double` is no value: it prints as null.
        Some(CType::Base {
            size: size @ (4 | 8 | 16),
            float: true,
            ..
        }) => Type::Float {
            bits: (size * 8) as u8,
        },
        Some(CType::Base { size, signed, .. }) => match size {
            1 | 2 | 4 | 8 => Type::Int {
                bits: (size * 8) as u8,
                signed: *signed,
            },
            // `__int128`: kept as words, low word first, so its whole value prints (bpftrace
            // 0.27 prints the low word alone).
            n => Type::Array {
                elem: Box::new(u64_ty),
                len: (n / 8) as u32,
            },
        },
        Some(CType::Pointer(to)) => {
            let to = match d.types.get(d.resolve(*to)) {
                Some(CType::Void) | Some(CType::Function) | None => Type::Int {
                    bits: 8,
                    signed: false,
                },
                Some(CType::Record { name, size, .. }) if !name.ends_with("(anonymous)") => {
                    Type::Record(Box::new(Record {
                        name: name.clone(),
                        size: *size as u32,
                        fields: Vec::new(),
                    }))
                }
                Some(_) => dwarf_type(d, *to, depth),
            };
            Type::Pointer {
                to: Box::new(to),
                space: AddrSpace::User,
            }
        }
        // As bpftrace 0.27 reads debug info, an array of a character type (`char`, `signed
        // char`, `unsigned char`) is a string; one of a typedef'd byte (`uint8_t`) is integers.
        Some(CType::Array { elem, len }) => match dwarf_type(d, *elem, depth) {
            Type::Int { bits: 8, .. } if is_character(d, *elem) => Type::Str {
                len: (*len as u32).max(1),
            },
            e => Type::Array {
                elem: Box::new(e),
                len: *len as u32,
            },
        },
        Some(CType::Enum { size, .. }) => Type::Int {
            bits: (size.clamp(&1, &8) * 8) as u8,
            signed: false,
        },
        Some(CType::Record {
            name,
            size,
            members,
        }) => {
            if depth >= MAX_RECORD_DEPTH {
                return Type::Record(Box::new(Record {
                    name: name.clone(),
                    size: *size as u32,
                    fields: Vec::new(),
                }));
            }
            Type::Record(Box::new(dwarf_record(d, name, *size, members, depth + 1)))
        }
        Some(CType::Void)
        | Some(CType::Function)
        | Some(CType::Qualified(..))
        | Some(CType::Typedef { .. })
        | None => u64_ty,
    }
}

fn dwarf_record(
    d: &DebugInfo,
    name: &str,
    size: u64,
    members: &[dwarf::Member],
    depth: u32,
) -> Record {
    let mut fields = Vec::new();
    for m in members {
        if m.name.is_empty() {
            // Anonymous struct/union members: their fields are reachable directly.
            if let Type::Record(r) = dwarf_type(d, m.ty, depth) {
                fields.extend(r.fields.into_iter().map(|mut f| {
                    f.offset += m.offset as u32;
                    f
                }));
            }
            continue;
        }
        fields.push(Field {
            name: m.name.clone(),
            offset: m.offset as u32,
            ty: dwarf_type(d, m.ty, depth),
            bitfield: m.bitfield,
            data_loc: false,
            btf_enum: false,
        });
    }
    Record {
        name: name.to_string(),
        size: size as u32,
        fields,
    }
}

/// The functions of the loaded BPF programs (in the program `id` if given) whose name
/// matches `pattern`, by program id: `fentry:bpf:…` probes and their listing. None when
/// the kernel does not let rbt walk its programs (not root).
pub(crate) fn bpf_functions(id: Option<u32>, pattern: &str) -> Vec<BpfTarget> {
    let g = glob(pattern);
    crate::sys::loaded_programs()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| id.is_none_or(|id| id == p.id))
        .flat_map(|p| {
            p.functions
                .into_iter()
                .filter(|f| g.matches(f))
                .map(move |func| BpfTarget { id: p.id, func })
        })
        .collect()
}

fn glob(pattern: &str) -> WildMatch {
    WildMatch::new(pattern)
}

/// Headers the compiler itself provides (bpftrace carries clang's), found without any
/// include directory.
const COMPILER_HEADERS: &[&str] = &[
    "stddef.h",
    "stdarg.h",
    "stdbool.h",
    "stdint.h",
    "stdalign.h",
    "stdatomic.h",
    "stdnoreturn.h",
    "float.h",
    "limits.h",
    "iso646.h",
    "varargs.h",
];

/// The system's include directories, in the C preprocessor's order.
const SYSTEM_INCLUDE_DIRS: &[&str] = &[
    "/usr/local/include",
    "/usr/include/x86_64-linux-gnu",
    "/usr/include/aarch64-linux-gnu",
    "/usr/include",
];

impl Catalog for SystemCatalog {
    fn header_found(&self, path: &str, system: bool) -> bool {
        COMPILER_HEADERS.contains(&path) || self.header_path(path, system).is_some()
    }

    fn header_macros(&self, headers: &[(String, bool)]) -> Vec<(String, i64)> {
        let paths: Vec<PathBuf> = headers
            .iter()
            .filter_map(|(path, system)| self.header_path(path, *system))
            .collect();
        if paths.is_empty() {
            return Vec::new();
        }
        let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        // Without a preprocessor the headers add no constants; a name the script then uses
        // is reported as unknown where it is used.
        cmacros::integer_macros(&paths).unwrap_or_default()
    }

    fn tracepoints(&self, category: &str, event: &str) -> Vec<(String, String)> {
        let (c, e) = (glob(category), glob(event));
        self.events()
            .iter()
            .filter(|(a, b)| c.matches(a) && e.matches(b))
            .cloned()
            .collect()
    }

    fn tracepoint_record(
        &self,
        _category: &str,
        event: &str,
        fields: &[TracepointField],
    ) -> Option<TracepointRecord> {
        let b = self.btf()?;
        // In BTF a `__data_loc` field is a u32 named `__data_loc_<name>`.
        let btf_name = |f: &TracepointField| {
            if f.data_loc {
                format!("__data_loc_{}", f.name)
            } else {
                f.name.clone()
            }
        };
        // Whether struct `id` holds every field where the format file has it.
        let matches = |id: btf::TypeId| {
            let Some(members) = b.members(id) else {
                return false;
            };
            fields.iter().all(|f| {
                let name = btf_name(f);
                members
                    .iter()
                    .any(|m| m.name == name && m.bit_offset == f.offset * 8 && m.bitfield_size == 0)
            })
        };
        let records = self.trace_records.get_or_init(|| {
            b.types_of_kinds(&[btf::Kind::Struct])
                .filter(|(_, name)| name.starts_with("trace_event_raw_"))
                .map(|(id, name)| (name.to_string(), id))
                .collect()
        });
        let own = format!("trace_event_raw_{event}");
        let (name, id) = match records.get(&own) {
            Some(&id) => matches(id).then_some((own, id))?,
            // Events defined from a class (DEFINE_EVENT) share the class's struct: take the
            // one struct that matches, and none when several do.
            None => {
                let mut found = records.iter().filter(|(_, &id)| matches(id));
                let (first, &id) = found.next()?;
                found.next().is_none().then(|| (first.clone(), id))?
            }
        };
        let members = b.members(id)?;
        let kinds = fields
            .iter()
            .map(|f| {
                let name = btf_name(f);
                let member = members.iter().find(|m| m.name == name);
                match member.map(|m| b.get(b.resolve(m.type_id))) {
                    Some(Ok(btf::Type::Enum { .. })) => MemberKind::Enum,
                    Some(Ok(btf::Type::Ptr(_))) => MemberKind::Pointer,
                    _ => MemberKind::Other,
                }
            })
            .collect();
        Some(TracepointRecord { name, kinds })
    }

    fn tracepoint_fields(
        &self,
        category: &str,
        event: &str,
    ) -> Result<Vec<TracepointField>, LookupError> {
        let key = (category.to_string(), event.to_string());
        if let Some(known) = self.tracepoint_formats.borrow().get(&key) {
            return known.clone();
        }
        let fields = tracefs::event_format(category, event)
            .map(|f| {
                f.fields
                    .into_iter()
                    .map(|x| TracepointField {
                        name: x.name,
                        c_type: x.ty,
                        offset: x.offset,
                        size: x.size,
                        signed: x.signed,
                        data_loc: x.data_loc,
                    })
                    .collect()
            })
            .map_err(|e| {
                format!(
                    "cannot read tracepoint {category}:{event}: {}",
                    stdlib::diag::reason(&e)
                )
            });
        self.tracepoint_formats
            .borrow_mut()
            .insert(key, fields.clone());
        fields
    }

    fn kernel_functions(&self, module: Option<&str>, pattern: &str) -> Vec<String> {
        let Some(fns) = self.functions() else {
            return Vec::new();
        };
        let g = glob(pattern);
        let in_module = |m: Option<&str>| module.is_none_or(|want| m == Some(want));
        let mut out: Vec<String> = fns
            .iter()
            .filter(|f| in_module(f.module) && g.matches(f.name))
            .map(|f| f.name.to_string())
            .collect();
        if out.is_empty() && !pattern.contains(['*', '?']) {
            // The compiler may have renamed the function (`ip_rcv_core.isra.0`).
            out = kallsyms::resolve_renamed(
                pattern,
                fns.iter().filter(|f| in_module(f.module)).map(|f| f.name),
            )
            .into_iter()
            .take(1)
            .map(str::to_string)
            .collect();
        }
        out.sort();
        out.dedup();
        out
    }

    fn kernel_function_untraceable(&self, module: Option<&str>, name: &str) -> Option<Untraceable> {
        let fns = self.functions()?;
        // A list taken from kallsyms itself has every function in it.
        if fns.source == kallsyms::FnSource::Kallsyms {
            return None;
        }
        let in_module = |m: Option<&str>| module.is_none_or(|want| m == Some(want));
        let listed = |list: &kallsyms::FnList| {
            list.iter()
                .any(|f| in_module(f.module) && kallsyms::is_same_function(f.name, name))
        };
        if listed(fns) {
            return None;
        }
        let in_kallsyms = self
            .all_functions
            .get_or_init(|| kallsyms::text_symbols().ok())
            .as_ref()
            .is_some_and(listed);
        in_kallsyms.then_some(if self.traceable_given {
            Untraceable::GivenList
        } else {
            Untraceable::KernelList
        })
    }

    fn bpf_functions(&self, id: Option<u32>, pattern: &str) -> Vec<BpfTarget> {
        bpf_functions(id, pattern)
    }

    fn raw_tracepoints(&self, pattern: &str) -> Vec<String> {
        let Some(index) = self.raw_tracepoint_index() else {
            return Vec::new();
        };
        let g = glob(pattern);
        let mut found: Vec<(&String, btf::TypeId)> = index
            .iter()
            .filter(|(n, _)| g.matches(n))
            .map(|(n, &(typedef, _))| (n, typedef))
            .collect();
        // In BTF's order, as the events are defined.
        found.sort_unstable_by_key(|&(_, typedef)| typedef);
        found.into_iter().map(|(n, _)| n.clone()).collect()
    }

    fn record(&self, name: &str) -> Option<Record> {
        let b = self.btf()?;
        let (kind, bare) = if let Some(n) = name.strip_prefix("struct ") {
            (btf::Kind::Struct, n)
        } else if let Some(n) = name.strip_prefix("union ") {
            (btf::Kind::Union, n)
        } else {
            (btf::Kind::Typedef, name)
        };
        let bare = bare.trim();
        // A bare name is a typedef, or else a struct or union named without its keyword
        // (`offsetof(qspinlock, tail)`, as bpftrace resolves it).
        let id = b.find(bare, kind).or_else(|| {
            (kind == btf::Kind::Typedef)
                .then(|| {
                    b.find(bare, btf::Kind::Struct)
                        .or_else(|| b.find(bare, btf::Kind::Union))
                })
                .flatten()
        })?;
        self.btf_record(b, b.resolve(id), 0)
    }

    fn record_ambiguous(&self, name: &str) -> bool {
        if let Some(&known) = self.ambiguous_records.borrow().get(name) {
            return known;
        }
        let (kind, bare) = match (name.strip_prefix("struct "), name.strip_prefix("union ")) {
            (Some(n), _) => (btf::Kind::Struct, n),
            (_, Some(n)) => (btf::Kind::Union, n),
            _ => return false,
        };
        let ambiguous = self
            .btf()
            .is_some_and(|b| b.count_named(bare.trim(), kind) > 1);
        self.ambiguous_records
            .borrow_mut()
            .insert(name.to_string(), ambiguous);
        ambiguous
    }

    fn kernel_variable(&self, name: &str) -> Option<Type> {
        let b = self.btf()?;
        let id = b.find(name, btf::Kind::Var)?;
        let Ok(btf::Type::Var { target, .. }) = b.get(id) else {
            return None;
        };
        Some(self.btf_type(b, target, 0))
    }

    fn enum_type(&self, name: &str) -> Option<Type> {
        let b = self.btf()?;
        let id = b
            .find(name, btf::Kind::Enum)
            .or_else(|| b.find(name, btf::Kind::Enum64))?;
        let Ok(btf::Type::Enum { size, values, .. }) = b.get(id) else {
            return None;
        };
        btf_enum(name, size, &values)
    }

    fn constant(&self, name: &str) -> Option<(i64, Type)> {
        // Well-known macros from headers bpftrace tools include (they are not in BTF).
        const MACROS: &[(&str, i64)] = &[
            ("AF_UNSPEC", 0),
            ("AF_UNIX", 1),
            ("AF_INET", 2),
            ("AF_INET6", 10),
            ("AF_NETLINK", 16),
            ("AF_PACKET", 17),
            ("O_RDONLY", 0),
            ("O_WRONLY", 1),
            ("O_RDWR", 2),
            ("O_CREAT", 0o100),
            ("EPERM", 1),
            ("ENOENT", 2),
            // include/linux/sched.h task states (macros, so not in BTF).
            ("TASK_RUNNING", 0),
            ("TASK_INTERRUPTIBLE", 1),
            ("TASK_UNINTERRUPTIBLE", 2),
            ("__TASK_STOPPED", 4),
            ("__TASK_TRACED", 8),
            ("EXIT_DEAD", 16),
            ("EXIT_ZOMBIE", 32),
            ("TASK_DEAD", 0x80),
        ];
        if let Some((_, v)) = MACROS.iter().find(|(n, _)| *n == name) {
            return Some((*v, I64));
        }
        let b = self.btf()?;
        let values = self.enum_values.get_or_init(|| {
            let mut m = HashMap::new();
            for (id, _) in b.types_of_kinds(&[btf::Kind::Enum, btf::Kind::Enum64]) {
                if let Ok(btf::Type::Enum { values, .. }) = b.get(id) {
                    for (n, v) in values {
                        m.entry(n.to_string()).or_insert((v as i64, id));
                    }
                }
            }
            m
        });
        let &(value, id) = values.get(name)?;
        let Ok(btf::Type::Enum {
            name: enum_name,
            values,
            ..
        }) = b.get(id)
        else {
            return Some((value, I64));
        };
        // An anonymous enum (`enum { TASK_COMM_LEN = 16 }`) prints by name too, as in 0.27.
        let enum_name = if enum_name.is_empty() {
            "(unnamed)"
        } else {
            enum_name
        };
        let ty = btf_enum(enum_name, 8, &values).unwrap_or(I64);
        Some((value, ty))
    }

    fn uprobe_targets(
        &self,
        path: &str,
        func: &str,
        names: SymbolNames,
        extra: u64,
        allow_unsafe: bool,
    ) -> Result<Vec<UprobeTarget>, LookupError> {
        let paths = elf::resolve_target(path, self.pid).map_err(|e| e.to_string())?;
        let several = stands_for_several(path);
        let mut out = Vec::new();
        for p in paths {
            let display = p.to_string_lossy().into_owned();
            // An address (`0x401126`, or a number as bpftrace reads `uprobe:/bin/x:10`) is a
            // virtual address of the object, placed at the file offset its segment gives. It
            // must lie in a function: anywhere else it would be data, or no code at all.
            if let Some(addr) = address(func) {
                // A file that is not ELF (a flat binary, mapped and run by a loader of its
                // own) has no segments or symbols: its address is the file offset.
                if !elf::is_elf(&p) && zip::split(&display).is_none() {
                    out.push(UprobeTarget {
                        path: display.clone(),
                        symbol: addr.to_string(),
                        offset: addr + extra,
                        cookie: 0,
                    });
                    continue;
                }
                let syms = elf::function_symbols(&p).map_err(|e| e.to_string())?;
                let function = syms
                    .iter()
                    .find(|s| addr >= s.addr && addr - s.addr < s.size.max(1));
                let offset = elf::address_offset(&p, addr)
                    .map_err(|e| e.to_string())?
                    .filter(|_| function.is_some())
                    .ok_or_else(|| format!("address {addr:#x} is in no function of {display}"))?;
                if let (Some(s), false) = (function, allow_unsafe) {
                    let into = addr - s.addr + extra;
                    if let (Some(start), true) = (s.file_offset, into > 0) {
                        check_instruction(&display, &s.name, start, into)?;
                    }
                }
                out.push(UprobeTarget {
                    path: display.clone(),
                    // bpftrace 0.27 names an address probe by the address in decimal.
                    symbol: addr.to_string(),
                    offset: offset + extra,
                    cookie: 0,
                });
                continue;
            }
            let g = glob(func);
            let syms = match elf::function_symbols(Path::new(&p)) {
                Ok(syms) => syms,
                // Among a process's many objects, one without readable symbols has none to match.
                Err(_) if several => continue,
                Err(e) => return Err(e.to_string()),
            };
            for s in syms {
                // A wildcard leaves out GCC's `.part.N` split-off bodies, as bpftrace's
                // listing and attach do; a name given in full still finds one.
                let part = stands_for_several(func) && s.name.contains(".part.");
                let matches = match names {
                    SymbolNames::Plain => g.matches(&s.name),
                    SymbolNames::Cpp => elf::cpp_names(&s.name).iter().any(|n| g.matches(n)),
                };
                if matches && !part {
                    if let Some(off) = s.file_offset {
                        // A function named exactly is checked against its size: an offset
                        // past its end lands in another function, and a symbol of size 0
                        // has no known end at all, so only --unsafe attaches there.
                        if !has_wildcard(func) {
                            check_bounds(&s, &display, extra, allow_unsafe)?;
                        }
                        out.push(UprobeTarget {
                            path: display.clone(),
                            symbol: s.name.clone(),
                            offset: off + extra,
                            cookie: 0,
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| (&a.path, &a.symbol).cmp(&(&b.path, &b.symbol)));
        out.dedup_by(|a, b| a.path == b.path && a.symbol == b.symbol);
        Ok(out)
    }

    fn usdt_targets(
        &self,
        path: &str,
        provider: &str,
        name: &str,
    ) -> Result<Vec<UsdtTarget>, LookupError> {
        let paths = elf::resolve_target(path, self.pid).map_err(|e| e.to_string())?;
        let (pg, ng) = (glob(provider), glob(name));
        let several = stands_for_several(path);
        let mut out = Vec::new();
        for p in paths {
            let probes = match elf::usdt_probes(&p) {
                Ok(probes) => probes,
                Err(_) if several => continue,
                Err(e) => return Err(e.to_string()),
            };
            for probe in probes {
                if pg.matches(&probe.provider) && ng.matches(&probe.name) {
                    if let Some(off) = probe.file_offset {
                        let args =
                            stdlib::manifest::parse_usdt_args(&probe.args).ok_or_else(|| {
                                format!(
                                    "usdt {}:{} in {} has arguments rbt cannot decode: {}",
                                    probe.provider,
                                    probe.name,
                                    p.display(),
                                    probe.args
                                )
                            })?;
                        out.push(UsdtTarget {
                            path: p.to_string_lossy().into_owned(),
                            provider: probe.provider.clone(),
                            name: probe.name.clone(),
                            offset: off,
                            semaphore_offset: probe.semaphore_offset.unwrap_or(0),
                            args,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    fn suggestions(&self, provider: &str, fields: &[String]) -> Vec<String> {
        let attach = format!("{provider}:{}", fields.join(":"));
        crate::listing::did_you_mean(&attach, self.pid)
            .into_iter()
            .map(|s| s.name)
            .collect()
    }

    fn cgroup_id(&self, path: &str) -> Option<u64> {
        use std::os::unix::fs::MetadataExt;
        // A cgroup v2 id is the inode number of its directory in the cgroup2 mount.
        std::fs::metadata(path)
            .ok()
            .filter(|m| m.is_dir())
            .map(|m| m.ino())
    }

    fn user_object(&self, path: &str) -> Result<UserObject, LookupError> {
        let layout = elf::object_layout(Path::new(path)).map_err(|e| e.to_string())?;
        Ok(UserObject {
            symbols: layout
                .symbols
                .into_iter()
                .map(|s| UserSymbol {
                    name: s.name,
                    address: s.addr,
                    size: s.size,
                })
                .collect(),
            relocatable: layout.relocatable,
            segments: layout.segments,
        })
    }

    fn kernel_symbol(&self, name: &str) -> Option<u64> {
        self.kallsyms
            .get_or_init(|| kallsyms::Kallsyms::read().ok())
            .as_ref()?
            .address_of(name)
    }

    fn function_signature(&self, name: &str) -> Option<(Vec<(String, Type)>, Type)> {
        let b = self.btf()?;
        let sig = b.func(name)?;
        let params = sig
            .params
            .iter()
            .map(|p| (p.name.to_string(), self.btf_type(b, p.type_id, 0)))
            .collect();
        let ret = if sig.ret == 0 {
            Type::Int {
                bits: 64,
                signed: false,
            }
        } else {
            self.btf_type(b, sig.ret, 0)
        };
        Some((params, ret))
    }

    fn bpf_function_signature(&self, id: u32, func: &str) -> Option<(Vec<(String, Type)>, Type)> {
        let b = btf::Btf::from_bytes(crate::sys::program_btf(id)?).ok()?;
        let sig = b.func(func)?;
        let params = sig
            .params
            .iter()
            .map(|p| (p.name.to_string(), self.btf_type(&b, p.type_id, 0)))
            .collect();
        let ret = self.btf_type(&b, sig.ret, 0);
        Some((params, ret))
    }

    fn raw_tracepoint_params(&self, event: &str) -> Option<Vec<(String, Type)>> {
        let b = self.btf()?;
        let &(typedef, wrapper) = self.raw_tracepoint_index()?.get(event)?;
        let params = b.raw_tracepoint_params_of(typedef, wrapper)?;
        Some(
            params
                .iter()
                .map(|p| (p.name.to_string(), self.btf_type(b, p.type_id, 0)))
                .collect(),
        )
    }

    fn uprobe_multi_supported(&self) -> bool {
        if self.disabled.contains(&KernelFeature::UprobeMulti) {
            return false;
        }
        // Found by loading a two-instruction uprobe_multi program (kernels 6.6+), once per
        // process: the answer is a fact of the running kernel.
        static UPROBE_MULTI: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *UPROBE_MULTI.get_or_init(|| {
            Path::new("/sys/bus/event_source/devices/uprobe").exists()
                && crate::sys::program_loads(crate::sys::ProgramKind::UprobeMulti)
        })
    }

    fn kprobe_multi_supported(&self) -> bool {
        // kprobe_multi links are built on fprobe: without CONFIG_FPROBE the link's attach
        // function exists but fails with EOPNOTSUPP (Debian's 6.1 kernel). BTF lists exactly
        // the functions compiled in, so fprobe's registration function tells.
        !self.disabled.contains(&KernelFeature::KprobeMulti)
            && self.kprobes_supported()
            && self
                .btf()
                .is_some_and(|b| b.func("register_fprobe").is_some())
    }

    fn kfunc_allowed(&self, name: &str, program: ProgramType) -> bool {
        let key = (name.to_string(), program);
        if let Some(&known) = self.kfuncs.borrow().get(&key) {
            return known;
        }
        // Found by loading a program that calls it: the kernel registers each kfunc for some
        // program types (and filters some further), which no file describes. A tracing
        // program is asked about as a BTF-typed raw tracepoint on `sys_enter`.
        let allowed = self.btf().is_some_and(|b| {
            b.find(name, btf::Kind::Func).is_some_and(|id| {
                let target = match program {
                    ProgramType::Tracing => b
                        .find("btf_trace_sys_enter", btf::Kind::Typedef)
                        .unwrap_or(0),
                    ProgramType::Kprobe
                    | ProgramType::Tracepoint
                    | ProgramType::RawTracepoint
                    | ProgramType::PerfEvent => 0,
                };
                crate::sys::kfunc_callable(program, id, name, target)
            })
        });
        self.kfuncs.borrow_mut().insert(key, allowed);
        allowed
    }

    fn kprobes_supported(&self) -> bool {
        // The perf kprobe PMU or tracefs kprobe_events exist exactly when the kernel was
        // built with CONFIG_KPROBES.
        Path::new("/sys/bus/event_source/devices/kprobe").exists()
            || tracefs::root().is_ok_and(|r| r.join("kprobe_events").exists())
    }

    fn user_function_params(
        &self,
        path: &str,
        function: &str,
    ) -> Result<Vec<UserParam>, LookupError> {
        let d = self.debug_info(path)?;
        // An alias (`malloc`) has the parameters of the function at its address.
        let address = elf::function_symbols(Path::new(path))
            .ok()
            .and_then(|syms| syms.into_iter().find(|s| s.name == function))
            .map_or(0, |s| s.addr);
        let params = d
            .params(function, address)
            .ok_or_else(|| format!("the debug info of {path} does not describe {function}"))?;
        let registers = d.argument_registers(params);
        Ok(params
            .iter()
            .zip(registers)
            .map(|(p, register)| UserParam {
                name: p.name.clone(),
                ty: dwarf_type(&d, p.ty, 0),
                register,
            })
            .collect())
    }

    fn user_record(&self, path: &str, name: &str) -> Option<Record> {
        let d = self.debug_info(path).ok()?;
        let id = d.record(name)?;
        match dwarf_type(&d, id, 0) {
            Type::Record(r) => Some(*r),
            _ => None,
        }
    }

    fn source_line_targets(
        &self,
        path: &str,
        file: &str,
        line: u64,
    ) -> Result<Vec<UprobeTarget>, LookupError> {
        let paths = elf::resolve_target(path, self.pid).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for p in paths {
            let display = p.to_string_lossy().into_owned();
            let d = self.debug_info(&display)?;
            let layout = elf::object_layout(&p).map_err(|e| e.to_string())?;
            let object = UserObject {
                symbols: Vec::new(),
                relocatable: layout.relocatable,
                segments: layout.segments,
            };
            // The first statement of the line, as a breakpoint on it would stop there. The
            // probe is named by that address, as bpftrace names it.
            let found = d
                .line_addresses(file, line)
                .into_iter()
                .find_map(|a| Some((a, object.offset_of_address(a)?)));
            let Some((address, offset)) = found else {
                return Err(format!(
                    "the line table of {display} has no code at {file}:{line}"
                ));
            };
            out.push(UprobeTarget {
                path: display,
                symbol: address.to_string(),
                offset,
                cookie: 0,
            });
        }
        Ok(out)
    }

    fn host(&self) -> Host {
        Host {
            cpus: crate::attach::online_cpus().len() as u64,
            pid_ns: pid_namespace(),
            tai_offset_ns: crate::sys::tai_ns().wrapping_sub(crate::sys::boottime_ns()) as i64,
        }
    }
}

/// rbt's pid namespace for `bpf_get_ns_current_pid_tgid`, or None in the initial one (or
/// when it cannot be read, where the initial one is the only safe guess).
fn pid_namespace() -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    // The inode number the kernel gives the initial pid namespace (PROC_PID_INIT_INO).
    const INIT_PID_NS_INO: u64 = 0xEFFF_FFFC;
    let m = std::fs::metadata("/proc/self/ns/pid").ok()?;
    if m.ino() == INIT_PID_NS_INO {
        return None;
    }
    // stat() encodes the device for user space; the helper compares the kernel's dev_t,
    // whose minor number takes the low 20 bits.
    let dev = (u64::from(libc::major(m.dev())) << 20) | u64::from(libc::minor(m.dev()));
    Some((dev, m.ino()))
}

/// A uprobe's function field that is an address: `0x` hex, or all decimal digits (no C
/// function name starts with a digit).
fn address(func: &str) -> Option<u64> {
    match func.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None if func.bytes().all(|b| b.is_ascii_digit()) => func.parse().ok(),
        None => None,
    }
}

fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Refuses a uprobe `extra` bytes into function `s` of `path` that would not be inside it,
/// or (without `--unsafe`) would be inside one of its instructions.
fn check_bounds(
    s: &elf::ElfSymbol,
    path: &str,
    extra: u64,
    allow_unsafe: bool,
) -> Result<(), String> {
    if s.size == 0 && !allow_unsafe {
        return Err(format!(
            "function {} in {path} has size 0, so rbt cannot tell where it ends; --unsafe attaches to it anyway",
            s.name
        ));
    }
    if s.size != 0 && extra >= s.size {
        return Err(format!(
            "offset {extra} is outside function {} in {path}, which is {} bytes long",
            s.name, s.size
        ));
    }
    match (s.file_offset, extra > 0 && !allow_unsafe) {
        (Some(start), true) => check_instruction(path, &s.name, start, extra),
        (_, _) => Ok(()),
    }
}

/// Refuses a uprobe `extra` bytes into `function` (whose code starts at file offset `start`
/// of `path`) unless an instruction starts there (see [`insn`]).
fn check_instruction(path: &str, function: &str, start: u64, extra: u64) -> Result<(), String> {
    // A function's offsets are small; one past this is not decoded (nor read) at all.
    const MOST: u64 = 1 << 20;
    if extra > MOST {
        return Err(format!(
            "offset {extra} into {function} in {path} is too far for rbt to check that an instruction starts there; --unsafe attaches anyway"
        ));
    }
    let len = extra as usize + insn::MAX_INSTRUCTION;
    let code = elf::code_at(Path::new(path), start, len).map_err(|e| e.to_string())?;
    match insn::boundary(&code, extra) {
        insn::Boundary::Start => Ok(()),
        insn::Boundary::Inside { start, len } => Err(format!(
            "offset {extra} of {function} in {path} is inside an instruction (the {len}-byte one at offset {start}), where a uprobe would corrupt the program; attach at {start} or {}, or give --unsafe to attach anyway",
            start + len as u64
        )),
        insn::Boundary::Unknown => Err(format!(
            "the code of {function} in {path} before offset {extra} does not decode as x86-64 instructions, so rbt cannot tell that one starts there; --unsafe attaches anyway"
        )),
    }
}

/// Whether a uprobe/usdt target names several files (empty, or a glob), so that one of them
/// failing to parse is skipped rather than an error.
fn stands_for_several(target: &str) -> bool {
    target.is_empty() || target.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a BTF blob: type records (ids from 1, in order) and their strings.
    #[derive(Default)]
    struct Blob {
        types: Vec<u8>,
        strings: Vec<u8>,
    }

    impl Blob {
        /// The string table offset of `s` (0, the empty string, for an anonymous name).
        fn name(&mut self, s: &str) -> u32 {
            if self.strings.is_empty() {
                self.strings.push(0);
            }
            if s.is_empty() {
                return 0;
            }
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(s.as_bytes());
            self.strings.push(0);
            off
        }

        /// Adds a type of BTF kind `kind` named `name`: its size or type word, then
        /// `entries` (members, enumerators), each a list of words after its name.
        fn add(&mut self, kind: u32, name: &str, size_or_type: u32, entries: &[(&str, &[u32])]) {
            let words = [
                self.name(name),
                (kind << 24) | entries.len() as u32,
                size_or_type,
            ];
            for w in words {
                self.types.extend_from_slice(&w.to_le_bytes());
            }
            for (entry, rest) in entries {
                let n = self.name(entry);
                for w in std::iter::once(n).chain(rest.iter().copied()) {
                    self.types.extend_from_slice(&w.to_le_bytes());
                }
            }
        }

        /// Adds a BTF `INT` named `name` of `size` bytes with `encoding` (1 signed, 4 bool).
        fn int(&mut self, name: &str, size: u32, encoding: u32) {
            self.add(1, name, size, &[]);
            self.types
                .extend_from_slice(&((encoding << 24) | (size * 8)).to_le_bytes());
        }

        fn bytes(&self) -> Vec<u8> {
            let (types, strings) = (self.types.len() as u32, self.strings.len() as u32);
            let mut out = Vec::new();
            out.extend_from_slice(&0xeb9fu16.to_le_bytes());
            out.extend_from_slice(&[1, 0]);
            for w in [24, 0, types, types, strings] {
                out.extend_from_slice(&w.to_le_bytes());
            }
            out.extend_from_slice(&self.types);
            out.extend_from_slice(&self.strings);
            out
        }
    }

    /// A catalog whose kernel BTF is:
    ///
    /// ```c
    /// typedef struct { int counter; } anon_t;
    /// struct inner { int a; _Bool b; anon_t nested; };
    /// enum color { RED, GREEN };
    /// struct outer {
    ///     struct inner in;
    ///     anon_t t;
    ///     union { int u; enum color c; };
    ///     struct outer *self;
    ///     anon_t *anon_ptr;
    /// };
    /// ```
    fn catalog() -> SystemCatalog {
        const STRUCT: u32 = 4;
        const UNION: u32 = 5;
        let mut b = Blob::default();
        b.int("int", 4, 1); // 1
        b.int("_Bool", 1, 4); // 2
        let inner: &[(&str, &[u32])] = &[("a", &[1, 0]), ("b", &[2, 32]), ("nested", &[5, 64])];
        b.add(STRUCT, "inner", 12, inner); // 3
        b.add(STRUCT, "", 4, &[("counter", &[1, 0])]); // 4
        b.add(8, "anon_t", 4, &[]); // 5: typedef
        b.add(2, "", 7, &[]); // 6: struct outer *
        let members: &[(&str, &[u32])] = &[
            ("in", &[3, 0]),
            ("t", &[5, 96]),
            ("", &[8, 128]),
            ("self", &[6, 192]),
            ("anon_ptr", &[10, 256]),
        ];
        b.add(STRUCT, "outer", 40, members); // 7
        b.add(UNION, "", 4, &[("u", &[1, 0]), ("c", &[9, 0])]); // 8
        b.add(6, "color", 4, &[("RED", &[0]), ("GREEN", &[1])]); // 9: enum
        b.add(2, "", 5, &[]); // 10: anon_t *
        let c = SystemCatalog::default();
        let btf = btf::Btf::from_bytes(b.bytes()).expect("test BTF parses");
        assert!(c.btf.set(Some(Arc::new(btf))).is_ok());
        c
    }

    fn field<'r>(r: &'r Record, name: &str) -> &'r Field {
        r.fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no field {name} in {r:?}"))
    }

    #[test]
    fn records_held_by_value_are_converted_whole() {
        let c = catalog();
        let outer = c.record("struct outer").expect("struct outer");
        assert_eq!(outer.size, 40);
        let names: Vec<&str> = outer.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["in", "t", "u", "c", "self", "anon_ptr"]);
        // A nested named record and a typedef of an anonymous one have their fields.
        let Type::Record(inner) = &field(&outer, "in").ty else {
            panic!("in is a record");
        };
        assert_eq!(inner.name, "struct inner");
        assert_eq!(
            field(inner, "a").ty,
            Type::Int {
                bits: 32,
                signed: true
            }
        );
        assert_eq!(field(inner, "b").ty, Type::Bool);
        assert_eq!(field(inner, "b").offset, 4);
        let Type::Record(nested) = &field(inner, "nested").ty else {
            panic!("nested is a record");
        };
        assert_eq!(field(nested, "counter").offset, 0);
        let Type::Record(t) = &field(&outer, "t").ty else {
            panic!("t is a record");
        };
        assert_eq!(t.fields.len(), 1);
        assert_eq!(field(t, "counter").offset, 0);
        // The anonymous union's members are the parent's, at the union's offset; an enum
        // member prints by name.
        assert_eq!(field(&outer, "u").offset, 16);
        assert_eq!(field(&outer, "c").offset, 16);
        assert_eq!(
            field(&outer, "c").ty,
            Type::Enum {
                name: "color".into(),
                bits: 32,
                variants: vec![("RED".into(), 0), ("GREEN".into(), 1)],
            }
        );
        assert!(field(&outer, "c").btf_enum);
        // A named record behind a pointer is kept by name; an anonymous one, which no name
        // finds later, is converted whole.
        let Type::Pointer { to, .. } = &field(&outer, "self").ty else {
            panic!("self is a pointer");
        };
        assert_eq!(
            **to,
            Type::Record(Box::new(Record {
                name: "struct outer".into(),
                size: 40,
                fields: Vec::new(),
            }))
        );
        let Type::Pointer { to, .. } = &field(&outer, "anon_ptr").ty else {
            panic!("anon_ptr is a pointer");
        };
        assert!(matches!(&**to, Type::Record(r) if r.fields.len() == 1));
    }
}

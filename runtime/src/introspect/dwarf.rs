//! DWARF debug info of user binaries, read with gimli: the parameters of each function (typed
//! `args` of uprobes and `-lv` listings), the structs and unions the binary defines (casts
//! like `(struct Foo *)arg0` without a definition in the script) and the line table
//! (`uprobe:/bin/x@file.c:LINE`). The debug info is found in the binary itself, in a detached
//! debug file (`.gnu_debuglink`, build id, `--debuginfo` directories), and in split DWARF
//! (`.dwo` files next to the compilation directory, or a `.dwp` package beside the binary).
//! Everything is converted once into owned data, so callers keep no borrow of the file.

use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};

use gimli::{AttributeValue, EndianSlice, RunTimeEndian, UnitOffset};
use goblin::elf::Elf;

use super::elf::{self, ElfError};

type R<'a> = EndianSlice<'a, RunTimeEndian>;

/// A C type as DWARF describes it; other types are referred to by their index in
/// [`DebugInfo::types`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CType {
    Void,
    /// `int`, `char`, `long unsigned int`, `__int128 unsigned`, `_Bool`, `double`.
    Base {
        name: String,
        size: u64,
        signed: bool,
        float: bool,
    },
    Pointer(usize),
    /// `const`, `volatile` and `restrict` qualifiers, by name.
    Qualified(&'static str, usize),
    Typedef {
        name: String,
        of: usize,
    },
    /// A struct or union: `name` is `struct Foo`, `union U`, or `struct (anonymous)`.
    Record {
        name: String,
        size: u64,
        members: Vec<Member>,
    },
    Array {
        elem: usize,
        len: u64,
    },
    Enum {
        name: String,
        size: u64,
    },
    /// A function type (what a function pointer points to).
    Function,
}

/// A member of a struct or union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Empty for an anonymous struct or union member.
    pub name: String,
    /// Byte offset in the record.
    pub offset: u64,
    pub ty: usize,
    /// `(bit offset from the byte at offset, width)` of a bit-field.
    pub bitfield: Option<(u8, u8)>,
}

/// How the x86-64 calling convention passes a parameter, as far as the integer argument
/// registers are concerned.
enum ArgClass {
    /// In this many integer registers (or on the stack, if that many are not left).
    Integer(u64),
    /// On the stack or in SSE registers: it takes no integer register.
    NoIntegerRegister,
    /// A small struct with floating-point members: classified eightbyte by eightbyte,
    /// which rbt does not do.
    Unknown,
}

/// A function parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub ty: usize,
}

/// One statement row of the line table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRow {
    /// The file's path as the line table names it (often absolute).
    pub file: String,
    pub line: u64,
    pub address: u64,
}

/// The debug info of one binary, converted to owned data.
#[derive(Debug, Default)]
pub struct DebugInfo {
    pub types: Vec<CType>,
    /// Functions with a definition, by name, in the order of their parameters.
    functions: HashMap<String, Vec<Param>>,
    /// The name of the function whose code starts at each address, for symbols that are
    /// aliases of it (`malloc` of `__libc_malloc`).
    entries: HashMap<u64, String>,
    /// Complete structs and unions by C name (`struct Foo`).
    records: HashMap<String, usize>,
    lines: Vec<LineRow>,
}

impl DebugInfo {
    /// Reads the debug info of `path`, searching `dirs` (from `--debuginfo`) and the standard
    /// places for a detached debug file. `Ok(None)`: the binary has no debug info anywhere.
    pub fn load(path: &Path, dirs: &[PathBuf]) -> Result<Option<DebugInfo>, ElfError> {
        let bytes = std::fs::read(path).map_err(|e| ElfError::Read {
            path: path.to_path_buf(),
            reason: stdlib::diag::reason(&e),
        })?;
        let obj = Elf::parse(&bytes).map_err(|e| ElfError::NotElf {
            path: path.to_path_buf(),
            reason: stdlib::diag::reason(&e),
        })?;
        if section(&obj, &bytes, ".debug_info").is_some() {
            return Ok(Some(read(path, &obj, &bytes)));
        }
        let Some(debug) = detached_file(&obj, &bytes, path, dirs) else {
            return Ok(None);
        };
        let Ok(dbytes) = std::fs::read(&debug) else {
            return Ok(None);
        };
        let Ok(dobj) = Elf::parse(&dbytes) else {
            return Ok(None);
        };
        Ok(Some(read(path, &dobj, &dbytes)))
    }

    /// The parameters of the function `name`, if the debug info defines it, or else of the
    /// function whose code starts at `address` (the symbol's value: `name` is an alias).
    pub fn params(&self, name: &str, address: u64) -> Option<&[Param]> {
        let name = match self.functions.contains_key(name) {
            true => name,
            false => self.entries.get(&address)?,
        };
        self.functions.get(name).map(Vec::as_slice)
    }

    /// The struct or union `name` (`struct Foo`).
    pub fn record(&self, name: &str) -> Option<usize> {
        self.records.get(name).copied()
    }

    /// The addresses of the statements of `file` (a name or a path suffix) at `line`, lowest
    /// first.
    pub fn line_addresses(&self, file: &str, line: u64) -> Vec<u64> {
        let suffix = format!("/{}", file.trim_start_matches("./"));
        let mut out: Vec<u64> = self
            .lines
            .iter()
            .filter(|r| r.line == line && (r.file == file || r.file.ends_with(&suffix)))
            .map(|r| r.address)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The C spelling of type `id`, as bpftrace lists it (`int*`, `struct Foo*`,
    /// `const char*`).
    pub fn type_name(&self, id: usize) -> String {
        match self.types.get(id) {
            None | Some(CType::Void) => "void".to_string(),
            Some(CType::Base { name, .. }) => name.clone(),
            Some(CType::Pointer(to)) => format!("{}*", self.type_name(*to)),
            Some(CType::Qualified(q, of)) => format!("{q} {}", self.type_name(*of)),
            Some(CType::Typedef { name, .. }) => name.clone(),
            Some(CType::Record { name, .. }) => name.clone(),
            Some(CType::Array { elem, len }) => format!("{}[{len}]", self.type_name(*elem)),
            Some(CType::Enum { name, .. }) => name.clone(),
            Some(CType::Function) => "void (*)()".to_string(),
        }
    }

    /// The integer argument register (0..5) holding each parameter at the function's entry
    /// under the x86-64 System V calling convention, or `None` for one passed on the stack,
    /// in SSE registers or over two registers. After a small struct with floating-point
    /// members (whose eightbytes may go either way) the rest are not known: `None`.
    pub fn argument_registers(&self, params: &[Param]) -> Vec<Option<u8>> {
        const REGISTERS: u64 = 6;
        let mut next = 0;
        let mut known = true;
        let mut out = Vec::with_capacity(params.len());
        for p in params {
            let register = match self.class(p.ty) {
                _ if !known => None,
                ArgClass::Integer(n) if next + n <= REGISTERS => {
                    let r = (n == 1).then_some(next as u8);
                    next += n;
                    r
                }
                // A value that no longer fits in the registers left goes on the stack; later,
                // smaller ones still take the registers.
                ArgClass::Integer(_) | ArgClass::NoIntegerRegister => None,
                ArgClass::Unknown => {
                    known = false;
                    None
                }
            };
            out.push(register);
        }
        out
    }

    /// How a parameter of type `id` is passed, as far as integer registers are concerned.
    fn class(&self, id: usize) -> ArgClass {
        match self.types.get(self.resolve(id)) {
            Some(CType::Base { float: true, .. }) => ArgClass::NoIntegerRegister,
            Some(CType::Base { size, .. }) | Some(CType::Enum { size, .. }) => match size {
                1..=8 => ArgClass::Integer(1),
                9..=16 => ArgClass::Integer(2),
                _ => ArgClass::NoIntegerRegister,
            },
            Some(CType::Pointer(_)) => ArgClass::Integer(1),
            Some(CType::Record { size, .. }) => match size {
                0 => ArgClass::NoIntegerRegister,
                1..=16 if self.has_float(id, 0) => ArgClass::Unknown,
                1..=16 => ArgClass::Integer(size.div_ceil(8)),
                _ => ArgClass::NoIntegerRegister,
            },
            Some(CType::Void)
            | Some(CType::Array { .. })
            | Some(CType::Function)
            | Some(CType::Qualified(..))
            | Some(CType::Typedef { .. })
            | None => ArgClass::Unknown,
        }
    }

    /// Whether a record (or array) of type `id` holds a floating-point value.
    fn has_float(&self, id: usize, depth: u32) -> bool {
        if depth > 16 {
            return true;
        }
        match self.types.get(self.resolve(id)) {
            Some(CType::Base { float, .. }) => *float,
            Some(CType::Record { members, .. }) => {
                members.iter().any(|m| self.has_float(m.ty, depth + 1))
            }
            Some(CType::Array { elem, .. }) => self.has_float(*elem, depth + 1),
            Some(CType::Void)
            | Some(CType::Pointer(_))
            | Some(CType::Qualified(..))
            | Some(CType::Typedef { .. })
            | Some(CType::Enum { .. })
            | Some(CType::Function)
            | None => false,
        }
    }

    /// Type `id` without typedefs and qualifiers.
    pub fn resolve(&self, mut id: usize) -> usize {
        for _ in 0..32 {
            match self.types.get(id) {
                Some(CType::Typedef { of, .. }) | Some(CType::Qualified(_, of)) => id = *of,
                _ => break,
            }
        }
        id
    }
}

/// The bytes of the section `name` of `obj`, inflated when the section is compressed
/// (`SHF_COMPRESSED` with zlib, as Debian's debug packages ship them). A section compressed
/// otherwise (zstd) reads as absent.
pub(super) fn section<'a>(obj: &Elf<'_>, bytes: &'a [u8], name: &str) -> Option<Cow<'a, [u8]>> {
    use goblin::elf::section_header::{SHF_COMPRESSED, SHT_NOBITS};
    const ELFCOMPRESS_ZLIB: u32 = 1;
    let sh = obj
        .section_headers
        .iter()
        .find(|sh| obj.shdr_strtab.get_at(sh.sh_name) == Some(name))?;
    if sh.sh_type == SHT_NOBITS {
        return None;
    }
    let start = usize::try_from(sh.sh_offset).ok()?;
    let data = bytes.get(start..start.checked_add(usize::try_from(sh.sh_size).ok()?)?)?;
    if sh.sh_flags & u64::from(SHF_COMPRESSED) == 0 {
        return Some(Cow::Borrowed(data));
    }
    // The compression header: ch_type, then (in ELF64) a reserved word, the inflated size
    // and its alignment; the zlib stream follows.
    let header = if obj.is_64 { 24 } else { 12 };
    let kind: [u8; 4] = data.get(..4)?.try_into().ok()?;
    let kind = if obj.little_endian {
        u32::from_le_bytes(kind)
    } else {
        u32::from_be_bytes(kind)
    };
    if kind != ELFCOMPRESS_ZLIB {
        return None;
    }
    miniz_oxide::inflate::decompress_to_vec_zlib(data.get(header..)?)
        .ok()
        .map(Cow::Owned)
}

/// The detached debug file of a stripped binary: in a `--debuginfo` directory under the
/// `.gnu_debuglink` name or the binary's name plus `.debug`, then where bpftrace and gdb look
/// (beside the binary, its `.debug` directory, `/usr/lib/debug`, the build id).
pub(super) fn detached_file(
    obj: &Elf<'_>,
    bytes: &[u8],
    path: &Path,
    dirs: &[PathBuf],
) -> Option<PathBuf> {
    let link = section(obj, bytes, ".gnu_debuglink").and_then(|d| {
        let end = d.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&d[..end]).ok().map(str::to_string)
    });
    let own = path
        .file_name()
        .map(|n| format!("{}.debug", n.to_string_lossy()));
    // A relative directory is taken relative to the binary's directory, as elfutils (and so
    // bpftrace) does, then to the current one.
    let parent = path.parent().unwrap_or(Path::new("."));
    let dirs = dirs.iter().flat_map(|d| {
        let beside = d.is_relative().then(|| parent.join(d));
        beside.into_iter().chain(std::iter::once(d.clone()))
    });
    for dir in dirs {
        for name in link.iter().chain(own.iter()) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    elf::debug_file(obj, bytes, path)
}

/// Loads the DWARF sections of an ELF object (`.dwo` names for a split unit).
fn sections<'a>(obj: &Elf<'_>, bytes: &'a [u8], dwo: bool) -> gimli::DwarfSections<Cow<'a, [u8]>> {
    let load = |id: gimli::SectionId| -> Result<Cow<'a, [u8]>, Infallible> {
        let name = if dwo {
            id.dwo_name().unwrap_or(id.name())
        } else {
            id.name()
        };
        Ok(section(obj, bytes, name).unwrap_or_default())
    };
    match gimli::DwarfSections::load(load) {
        Ok(s) => s,
        Err(never) => match never {},
    }
}

fn endian(obj: &Elf<'_>) -> RunTimeEndian {
    if obj.little_endian {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    }
}

/// Converts every unit of `obj` (the binary or its debug file); `path` is the binary, beside
/// which a `.dwp` package is looked for.
fn read(path: &Path, obj: &Elf<'_>, bytes: &[u8]) -> DebugInfo {
    let e = endian(obj);
    let secs = sections(obj, bytes, false);
    let dwarf = secs.borrow(|s| EndianSlice::new(s, e));
    let mut out = DebugInfo::default();
    // A split-DWARF package beside the binary (`x.dwp`), if there is one.
    let dwp_path = PathBuf::from(format!("{}.dwp", path.display()));
    let dwp_bytes = std::fs::read(&dwp_path).ok();
    let dwp_obj = dwp_bytes.as_deref().and_then(|b| Elf::parse(b).ok());
    let dwp_secs = match (&dwp_obj, &dwp_bytes) {
        (Some(o), Some(b)) => Some((
            gimli::DwarfPackageSections::load(
                |id: gimli::SectionId| -> Result<Cow<[u8]>, gimli::Error> {
                    Ok(id
                        .dwo_name()
                        .and_then(|n| section(o, b, n))
                        .unwrap_or_default())
                },
            ),
            endian(o),
        )),
        _ => None,
    };
    let dwp = dwp_secs.as_ref().and_then(|(s, pe)| {
        let s = s.as_ref().ok()?;
        s.borrow(|d| EndianSlice::new(d, *pe), EndianSlice::new(&[], *pe))
            .ok()
    });
    let mut units = dwarf.units();
    while let Ok(Some(header)) = units.next() {
        let Ok(unit) = dwarf.unit(header) else {
            continue;
        };
        read_lines(&dwarf, &unit, &mut out);
        match unit.dwo_id {
            None => read_unit(&dwarf, &unit, &mut out),
            Some(id) => {
                if let Some(Ok(Some(split))) = dwp.as_ref().map(|p| p.find_cu(id, &dwarf)) {
                    read_split(&split, &mut out);
                    continue;
                }
                read_dwo(&dwarf, &unit, path, &mut out);
            }
        }
    }
    out
}

/// Reads the `.dwo` file a skeleton unit names (relative to its compilation directory, or
/// to the binary's directory).
fn read_dwo(
    dwarf: &gimli::Dwarf<R<'_>>,
    unit: &gimli::Unit<R<'_>>,
    path: &Path,
    out: &mut DebugInfo,
) {
    let name = unit
        .dwo_name()
        .ok()
        .flatten()
        .and_then(|a| dwarf.attr_string(unit, a).ok())
        .map(|s| s.to_string_lossy().into_owned());
    let Some(name) = name else {
        return;
    };
    let comp_dir = unit
        .comp_dir
        .map(|d| PathBuf::from(d.to_string_lossy().into_owned()));
    let beside = path
        .parent()
        .map(|d| d.join(Path::new(&name).file_name().unwrap_or_default()));
    let candidates = comp_dir
        .map(|d| d.join(&name))
        .into_iter()
        .chain(std::iter::once(PathBuf::from(&name)))
        .chain(beside);
    for c in candidates {
        let Ok(bytes) = std::fs::read(&c) else {
            continue;
        };
        let Ok(obj) = Elf::parse(&bytes) else {
            continue;
        };
        let e = endian(&obj);
        let secs = sections(&obj, &bytes, true);
        let mut split = secs.borrow(|s| EndianSlice::new(s, e));
        split.make_dwo(dwarf);
        read_split(&split, out);
        return;
    }
}

/// The type and function DIEs of a split unit (its lines stay in the skeleton).
fn read_split(split: &gimli::Dwarf<R<'_>>, out: &mut DebugInfo) {
    let mut units = split.units();
    while let Ok(Some(header)) = units.next() {
        if let Ok(unit) = split.unit(header) {
            read_unit(split, &unit, out);
        }
    }
}

/// The statement rows of a unit's line program.
fn read_lines(dwarf: &gimli::Dwarf<R<'_>>, unit: &gimli::Unit<R<'_>>, out: &mut DebugInfo) {
    let Some(program) = unit.line_program.clone() else {
        return;
    };
    let mut rows = program.rows();
    let mut names: HashMap<u64, String> = HashMap::new();
    while let Ok(Some((header, row))) = rows.next_row() {
        if !row.is_stmt() || row.end_sequence() {
            continue;
        }
        let Some(line) = row.line() else {
            continue;
        };
        let file = names
            .entry(row.file_index())
            .or_insert_with(|| {
                row.file(header)
                    .map(|f| file_path(dwarf, unit, header, f))
                    .unwrap_or_default()
            })
            .clone();
        out.lines.push(LineRow {
            file,
            line: line.get(),
            address: row.address(),
        });
    }
}

/// The path of a line-table file entry: its directory joined with its name.
fn file_path(
    dwarf: &gimli::Dwarf<R<'_>>,
    unit: &gimli::Unit<R<'_>>,
    header: &gimli::LineProgramHeader<R<'_>>,
    file: &gimli::FileEntry<R<'_>>,
) -> String {
    let text = |a| {
        dwarf
            .attr_string(unit, a)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let name = text(file.path_name());
    if name.starts_with('/') {
        return name;
    }
    match file.directory(header) {
        Some(dir) => format!("{}/{name}", text(dir)),
        None => name,
    }
}

/// Per-unit conversion state: DIE offsets already converted.
struct UnitReader<'u, 'a> {
    dwarf: &'u gimli::Dwarf<R<'a>>,
    unit: &'u gimli::Unit<R<'a>>,
    seen: HashMap<UnitOffset, usize>,
}

/// Converts the functions and named records of one unit.
fn read_unit(dwarf: &gimli::Dwarf<R<'_>>, unit: &gimli::Unit<R<'_>>, out: &mut DebugInfo) {
    let mut r = UnitReader {
        dwarf,
        unit,
        seen: HashMap::new(),
    };
    let mut entries = unit.entries();
    let mut offsets = Vec::new();
    while let Ok(Some((_, entry))) = entries.next_dfs() {
        match entry.tag() {
            gimli::DW_TAG_subprogram | gimli::DW_TAG_structure_type | gimli::DW_TAG_union_type => {
                offsets.push((entry.tag(), entry.offset()))
            }
            _ => {}
        }
    }
    for (tag, offset) in offsets {
        if tag == gimli::DW_TAG_subprogram {
            r.function(offset, out);
        } else {
            let Ok(entry) = unit.entry(offset) else {
                continue;
            };
            let declaration = matches!(
                entry.attr_value(gimli::DW_AT_declaration),
                Ok(Some(AttributeValue::Flag(true)))
            );
            if declaration || r.name(&entry).is_none() {
                continue;
            }
            let id = r.ty(offset, out, 0);
            if let Some(CType::Record { name, .. }) = out.types.get(id) {
                out.records.entry(name.clone()).or_insert(id);
            }
        }
    }
}

impl<'a> UnitReader<'_, 'a> {
    fn name(&self, entry: &gimli::DebuggingInformationEntry<'_, '_, R<'a>>) -> Option<String> {
        let v = entry.attr_value(gimli::DW_AT_name).ok()??;
        let s = self.dwarf.attr_string(self.unit, v).ok()?;
        Some(s.to_string_lossy().into_owned())
    }

    /// The symbol name of a function DIE (`DW_AT_linkage_name`, or GCC's older
    /// `DW_AT_MIPS_linkage_name`); C functions have none.
    fn linkage_name(
        &self,
        entry: &gimli::DebuggingInformationEntry<'_, '_, R<'a>>,
    ) -> Option<String> {
        let v = entry
            .attr_value(gimli::DW_AT_linkage_name)
            .ok()
            .flatten()
            .or_else(|| {
                entry
                    .attr_value(gimli::DW_AT_MIPS_linkage_name)
                    .ok()
                    .flatten()
            })?;
        let s = self.dwarf.attr_string(self.unit, v).ok()?;
        Some(s.to_string_lossy().into_owned())
    }

    /// The DIE an attribute refers to within this unit (`DW_AT_type`, `DW_AT_abstract_origin`).
    fn reference(
        &self,
        entry: &gimli::DebuggingInformationEntry<'_, '_, R<'a>>,
        attr: gimli::DwAt,
    ) -> Option<UnitOffset> {
        match entry.attr_value(attr).ok()?? {
            AttributeValue::UnitRef(o) => Some(o),
            AttributeValue::DebugInfoRef(o) => o.to_unit_offset(&self.unit.header),
            _ => None,
        }
    }

    fn udata(
        &self,
        entry: &gimli::DebuggingInformationEntry<'_, '_, R<'a>>,
        attr: gimli::DwAt,
    ) -> Option<u64> {
        entry.attr_value(attr).ok()??.udata_value()
    }

    /// A defined function's name and parameters; an out-of-line copy of an inline function
    /// (`DW_AT_abstract_origin`) takes its name and parameter names from the origin.
    fn function(&mut self, offset: UnitOffset, out: &mut DebugInfo) {
        let Ok(entry) = self.unit.entry(offset) else {
            return;
        };
        let low_pc = entry
            .attr_value(gimli::DW_AT_low_pc)
            .ok()
            .flatten()
            .and_then(|v| self.dwarf.attr_address(self.unit, v).ok().flatten());
        let ranges = entry.attr_value(gimli::DW_AT_ranges).ok().flatten();
        if low_pc.is_none() && ranges.is_none() {
            return;
        }
        let origin = self
            .reference(&entry, gimli::DW_AT_abstract_origin)
            .or_else(|| self.reference(&entry, gimli::DW_AT_specification));
        // A C++ function is known by its symbol, the mangled linkage name (overloads share
        // their plain name), which may sit on the declaration the definition refers to.
        let linkage = self.linkage_name(&entry).or_else(|| {
            let o = self.unit.entry(origin?).ok()?;
            self.linkage_name(&o)
        });
        let name = linkage.or_else(|| self.name(&entry)).or_else(|| {
            let o = self.unit.entry(origin?).ok()?;
            self.name(&o)
        });
        let Some(name) = name else {
            return;
        };
        if let Some(address) = low_pc {
            out.entries.entry(address).or_insert_with(|| name.clone());
        }
        if out.functions.contains_key(&name) {
            return;
        }
        let mut params = Vec::new();
        let Ok(mut tree) = self.unit.entries_tree(Some(offset)) else {
            return;
        };
        let Ok(root) = tree.root() else {
            return;
        };
        let mut children = root.children();
        let mut found = Vec::new();
        while let Ok(Some(child)) = children.next() {
            let e = child.entry();
            if e.tag() == gimli::DW_TAG_formal_parameter {
                found.push(e.offset());
            }
        }
        for p in found {
            let Ok(e) = self.unit.entry(p) else {
                continue;
            };
            let source = match self.reference(&e, gimli::DW_AT_abstract_origin) {
                Some(o) => match self.unit.entry(o) {
                    Ok(o) => o,
                    Err(_) => continue,
                },
                None => e,
            };
            let pname = self.name(&source).unwrap_or_default();
            let ty = match self.reference(&source, gimli::DW_AT_type) {
                Some(t) => self.ty(t, out, 0),
                None => push(out, CType::Void),
            };
            params.push(Param { name: pname, ty });
        }
        out.functions.insert(name, params);
    }

    /// Converts the type DIE at `offset` (memoised, so cycles through pointers end).
    fn ty(&mut self, offset: UnitOffset, out: &mut DebugInfo, depth: u32) -> usize {
        if let Some(&id) = self.seen.get(&offset) {
            return id;
        }
        let id = push(out, CType::Void);
        self.seen.insert(offset, id);
        if depth > 64 {
            return id;
        }
        let Ok(entry) = self.unit.entry(offset) else {
            return id;
        };
        let target =
            |r: &mut Self, out: &mut DebugInfo| match r.reference(&entry, gimli::DW_AT_type) {
                Some(t) => r.ty(t, out, depth + 1),
                None => push(out, CType::Void),
            };
        let size = self.udata(&entry, gimli::DW_AT_byte_size).unwrap_or(0);
        let ty = match entry.tag() {
            gimli::DW_TAG_base_type => {
                let enc = match entry.attr_value(gimli::DW_AT_encoding) {
                    Ok(Some(AttributeValue::Encoding(e))) => e,
                    _ => gimli::DW_ATE_unsigned,
                };
                CType::Base {
                    name: self.name(&entry).unwrap_or_default(),
                    size,
                    signed: matches!(enc, gimli::DW_ATE_signed | gimli::DW_ATE_signed_char),
                    float: matches!(enc, gimli::DW_ATE_float | gimli::DW_ATE_complex_float),
                }
            }
            gimli::DW_TAG_pointer_type
            | gimli::DW_TAG_reference_type
            | gimli::DW_TAG_rvalue_reference_type => CType::Pointer(target(self, out)),
            gimli::DW_TAG_const_type => CType::Qualified("const", target(self, out)),
            gimli::DW_TAG_volatile_type => CType::Qualified("volatile", target(self, out)),
            gimli::DW_TAG_restrict_type => CType::Qualified("restrict", target(self, out)),
            gimli::DW_TAG_typedef => CType::Typedef {
                name: self.name(&entry).unwrap_or_default(),
                of: target(self, out),
            },
            gimli::DW_TAG_enumeration_type => CType::Enum {
                name: format!(
                    "enum {}",
                    self.name(&entry).unwrap_or_else(|| "(anonymous)".into())
                ),
                size,
            },
            gimli::DW_TAG_subroutine_type => CType::Function,
            gimli::DW_TAG_array_type => {
                // `int y[2][3]` is one DIE with a subrange per dimension: an array of two
                // arrays of three.
                let mut elem = target(self, out);
                let dims = self.array_dims(offset);
                for &len in dims.iter().skip(1).rev() {
                    elem = push(out, CType::Array { elem, len });
                }
                CType::Array {
                    elem,
                    len: dims.first().copied().unwrap_or(0),
                }
            }
            gimli::DW_TAG_structure_type | gimli::DW_TAG_union_type | gimli::DW_TAG_class_type => {
                let kind = if entry.tag() == gimli::DW_TAG_union_type {
                    "union"
                } else {
                    "struct"
                };
                let name = format!(
                    "{kind} {}",
                    self.name(&entry).unwrap_or_else(|| "(anonymous)".into())
                );
                let members = self.members(offset, out, depth);
                CType::Record {
                    name,
                    size,
                    members,
                }
            }
            _ => CType::Void,
        };
        if let Some(slot) = out.types.get_mut(id) {
            *slot = ty;
        }
        id
    }

    /// The lengths of an array type's dimensions, outermost first (0 for one not known).
    fn array_dims(&self, offset: UnitOffset) -> Vec<u64> {
        let mut dims = Vec::new();
        let Ok(mut tree) = self.unit.entries_tree(Some(offset)) else {
            return dims;
        };
        let Ok(root) = tree.root() else {
            return dims;
        };
        let mut children = root.children();
        while let Ok(Some(child)) = children.next() {
            let e = child.entry();
            if e.tag() != gimli::DW_TAG_subrange_type {
                continue;
            }
            let n = self.udata(e, gimli::DW_AT_count).or_else(|| {
                let upper = self.udata(e, gimli::DW_AT_upper_bound)?;
                let lower = self.udata(e, gimli::DW_AT_lower_bound).unwrap_or(0);
                Some(upper.checked_sub(lower)? + 1)
            });
            dims.push(n.unwrap_or(0));
        }
        dims
    }

    fn members(&mut self, offset: UnitOffset, out: &mut DebugInfo, depth: u32) -> Vec<Member> {
        let mut found = Vec::new();
        if let Ok(mut tree) = self.unit.entries_tree(Some(offset)) {
            if let Ok(root) = tree.root() {
                let mut children = root.children();
                while let Ok(Some(child)) = children.next() {
                    if child.entry().tag() == gimli::DW_TAG_member {
                        found.push(child.entry().offset());
                    }
                }
            }
        }
        let mut members = Vec::new();
        for m in found {
            let Ok(e) = self.unit.entry(m) else {
                continue;
            };
            let ty = match self.reference(&e, gimli::DW_AT_type) {
                Some(t) => self.ty(t, out, depth + 1),
                None => continue,
            };
            let width = self.udata(&e, gimli::DW_AT_bit_size);
            let bit_offset = self.udata(&e, gimli::DW_AT_data_bit_offset);
            let byte_offset = self.udata(&e, gimli::DW_AT_data_member_location);
            let (offset, bitfield) = match (width, bit_offset, byte_offset) {
                (Some(w), Some(b), _) => (b / 8, Some(((b % 8) as u8, w as u8))),
                (Some(w), None, Some(o)) => (o, Some((0, w as u8))),
                (_, _, o) => (o.unwrap_or(0), None),
            };
            members.push(Member {
                name: self.name(&e).unwrap_or_default(),
                offset,
                ty,
                bitfield,
            });
        }
        members
    }
}

fn push(out: &mut DebugInfo, t: CType) -> usize {
    out.types.push(t);
    out.types.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_types() {
        let mut d = DebugInfo::default();
        let int = push(
            &mut d,
            CType::Base {
                name: "int".into(),
                size: 4,
                signed: true,
                float: false,
            },
        );
        let p = push(&mut d, CType::Pointer(int));
        let c = push(&mut d, CType::Qualified("const", int));
        let pc = push(&mut d, CType::Pointer(c));
        assert_eq!(d.type_name(p), "int*");
        assert_eq!(d.type_name(pc), "const int*");
        assert_eq!(d.resolve(c), int);
    }

    #[test]
    fn registers_of_parameters() {
        let mut d = DebugInfo::default();
        let base = |name: &str, size, float| CType::Base {
            name: name.into(),
            size,
            signed: true,
            float,
        };
        let int = push(&mut d, base("int", 4, false));
        let wide = push(&mut d, base("__int128", 16, false));
        let double = push(&mut d, base("double", 8, true));
        let big = push(
            &mut d,
            CType::Record {
                name: "struct Big".into(),
                size: 24,
                members: Vec::new(),
            },
        );
        let param = |ty| Param {
            name: String::new(),
            ty,
        };
        // int, double (SSE), __int128 (two registers), a 24-byte struct (stack), then ints:
        // the sixth integer register is the last; the one after goes on the stack.
        let params = [int, double, wide, big, int, int, int, int].map(param);
        assert_eq!(
            d.argument_registers(&params),
            [Some(0), None, None, None, Some(3), Some(4), Some(5), None]
        );
    }
}

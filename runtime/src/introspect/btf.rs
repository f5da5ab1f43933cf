//! A small, lazy reader for kernel BTF (`/sys/kernel/btf/vmlinux` and module split BTF).
//!
//! It owns: parsing the BTF header, a sparse index from type id to the type's byte offset, decoding one
//! type at a time into [`Type`], name lookups, function prototypes, and rendering a type id as the
//! C type string bpftrace prints (`struct sk_buff *`, `unsigned int`, `const char *`).
//!
//! Why not a crate: `btf-rs` 1.x decodes every one of the ~150k vmlinux types into owned objects
//! when it opens the file, which measured 370–660 ms on this machine; rbt must start in 25 ms.
//! This reader maps the file (a private read-only mapping: sysfs refuses shared ones), walks the
//! type section once to record where every 16th type starts (a few ms, 35 KiB for vmlinux's
//! ~150k types where an offset per type took 560 KiB: `rbt-run` opens it at start-up, and its
//! peak memory is a target), and decodes types only when asked.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A BTF type id. Id 0 is `void`.
pub type TypeId = u32;

/// Where the kernel publishes its BTF.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";
const SYSFS_BTF_DIR: &str = "/sys/kernel/btf";

const BTF_MAGIC: u16 = 0xeb9f;

/// The index keeps the offset of every `INDEX_STRIDE`-th type; a lookup walks at most
/// `INDEX_STRIDE - 1` type headers from there.
const INDEX_STRIDE: usize = 16;

/// Why BTF could not be opened or read.
#[derive(Debug)]
pub enum BtfError {
    /// The file could not be opened or read.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The data is not BTF this reader understands.
    Malformed { path: PathBuf, reason: String },
    /// A type id outside the table was asked for.
    BadTypeId(TypeId),
}

impl fmt::Display for BtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BtfError::Io { path, source } => {
                write!(
                    f,
                    "cannot read BTF from {}: {}",
                    path.display(),
                    stdlib::diag::reason(source)
                )
            }
            BtfError::Malformed { path, reason } => {
                write!(f, "BTF in {} is malformed: {reason}", path.display())
            }
            BtfError::BadTypeId(id) => write!(f, "BTF type id {id} does not exist"),
        }
    }
}

impl std::error::Error for BtfError {}

/// The raw bytes: a private mapping when the kernel allows it, otherwise a heap copy.
enum Bytes {
    Map(memmap2::Mmap),
    Heap(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Map(m) => m,
            Bytes::Heap(v) => v,
        }
    }
}

/// The kind of a BTF type, as numbered by the kernel's `BTF_KIND_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Void,
    Int,
    Ptr,
    Array,
    Struct,
    Union,
    Enum,
    Fwd,
    Typedef,
    Volatile,
    Const,
    Restrict,
    Func,
    FuncProto,
    Var,
    Datasec,
    Float,
    DeclTag,
    TypeTag,
    Enum64,
}

impl Kind {
    fn from_raw(k: u32) -> Option<Kind> {
        Some(match k {
            0 => Kind::Void,
            1 => Kind::Int,
            2 => Kind::Ptr,
            3 => Kind::Array,
            4 => Kind::Struct,
            5 => Kind::Union,
            6 => Kind::Enum,
            7 => Kind::Fwd,
            8 => Kind::Typedef,
            9 => Kind::Volatile,
            10 => Kind::Const,
            11 => Kind::Restrict,
            12 => Kind::Func,
            13 => Kind::FuncProto,
            14 => Kind::Var,
            15 => Kind::Datasec,
            16 => Kind::Float,
            17 => Kind::DeclTag,
            18 => Kind::TypeTag,
            19 => Kind::Enum64,
            _ => return None,
        })
    }

    /// Bytes that follow the 12-byte common header for a type of this kind with `vlen` entries.
    fn extra_len(self, vlen: usize) -> usize {
        match self {
            Kind::Int | Kind::Var | Kind::DeclTag => 4,
            Kind::Array => 12,
            Kind::Struct | Kind::Union | Kind::Enum64 | Kind::Datasec => 12 * vlen,
            Kind::Enum | Kind::FuncProto => 8 * vlen,
            Kind::Void
            | Kind::Ptr
            | Kind::Fwd
            | Kind::Typedef
            | Kind::Volatile
            | Kind::Const
            | Kind::Restrict
            | Kind::Func
            | Kind::Float
            | Kind::TypeTag => 0,
        }
    }
}

/// One member of a struct or union. Offsets are in bits from the start of the aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member<'a> {
    /// Empty for anonymous members (nested anonymous structs/unions).
    pub name: &'a str,
    pub type_id: TypeId,
    pub bit_offset: u32,
    /// Non-zero only for bitfields.
    pub bitfield_size: u32,
}

/// One parameter of a function prototype. `type_id` 0 with an empty name is a C `...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param<'a> {
    pub name: &'a str,
    pub type_id: TypeId,
}

/// One decoded BTF type. Names borrow from the BTF string table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type<'a> {
    Void,
    Int {
        name: &'a str,
        size: u32,
        signed: bool,
        is_char: bool,
        is_bool: bool,
        bits: u32,
    },
    Ptr(TypeId),
    Array {
        elem: TypeId,
        len: u32,
    },
    Struct {
        name: &'a str,
        size: u32,
        members: Vec<Member<'a>>,
    },
    Union {
        name: &'a str,
        size: u32,
        members: Vec<Member<'a>>,
    },
    /// Both `ENUM` and `ENUM64`; values are widened to i128 so either signedness fits.
    Enum {
        name: &'a str,
        size: u32,
        signed: bool,
        values: Vec<(&'a str, i128)>,
    },
    Fwd {
        name: &'a str,
        is_union: bool,
    },
    Typedef {
        name: &'a str,
        target: TypeId,
    },
    Volatile(TypeId),
    Const(TypeId),
    Restrict(TypeId),
    Func {
        name: &'a str,
        proto: TypeId,
        /// 0 static, 1 global, 2 extern.
        linkage: u32,
    },
    FuncProto {
        ret: TypeId,
        params: Vec<Param<'a>>,
    },
    Var {
        name: &'a str,
        target: TypeId,
    },
    Datasec {
        name: &'a str,
    },
    Float {
        name: &'a str,
        size: u32,
    },
    DeclTag {
        name: &'a str,
        target: TypeId,
    },
    TypeTag {
        name: &'a str,
        target: TypeId,
    },
}

/// A function's signature as BTF knows it, for `-lv`, kfunc `args` and kprobe checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncSig<'a> {
    pub name: &'a str,
    pub ret: TypeId,
    pub params: Vec<Param<'a>>,
}

/// An opened BTF blob. Module BTF is "split" BTF: its ids and string offsets continue after
/// those of its base (vmlinux), which it keeps alive through `base`.
pub struct Btf {
    path: PathBuf,
    data: Bytes,
    types_start: usize,
    types_end: usize,
    str_start: usize,
    str_len: usize,
    /// Byte offset (absolute, into `data`) of every `INDEX_STRIDE`-th type, index 0 = `first_id`.
    checkpoints: Vec<u32>,
    /// How many types this blob defines.
    count: u32,
    /// The first id defined here: 1 for vmlinux, base count + 1 for a module.
    first_id: TypeId,
    base: Option<Arc<Btf>>,
}

impl fmt::Debug for Btf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Btf")
            .field("path", &self.path)
            .field("types", &self.count)
            .field("first_id", &self.first_id)
            .finish()
    }
}

fn read_bytes(path: &Path) -> Result<Bytes, BtfError> {
    let io = |source| BtfError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    // The kernel's BTF files never change while the system runs, as `map_file` requires.
    let mapped = crate::sys::map_file(&file);
    match mapped {
        Ok(m) => Ok(Bytes::Map(m)),
        Err(_) => {
            // Older kernels refuse to mmap sysfs BTF; reading costs ~8 ms for vmlinux but works.
            let mut v = Vec::new();
            let mut file = file;
            file.read_to_end(&mut v).map_err(io)?;
            Ok(Bytes::Heap(v))
        }
    }
}

/// Where the type record starting at `off` ends (its header's kind and vlen say how long it
/// is); `None` for a kind this reader does not know.
fn record_end(d: &[u8], off: usize) -> Option<usize> {
    let info = u32_at(d, off + 4);
    let kind = Kind::from_raw((info >> 24) & 0x1f)?;
    Some(off + 12 + kind.extra_len((info & 0xffff) as usize))
}

fn u32_at(d: &[u8], off: usize) -> u32 {
    match d.get(off..off + 4) {
        Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        None => 0,
    }
}

impl Btf {
    /// Open the kernel's BTF: the running kernel's, or the file `BPFTRACE_BTF` names (as in
    /// bpftrace). Compiling against another kernel's BTF is safe: kernel struct fields are
    /// relocated to the running kernel's layout when the program is loaded.
    pub fn vmlinux() -> Result<Btf, BtfError> {
        match custom_vmlinux() {
            Some(path) => Btf::open(&path),
            None => Btf::open(Path::new(VMLINUX_BTF)),
        }
    }

    /// Open a standalone (non-split) BTF file.
    pub fn open(path: &Path) -> Result<Btf, BtfError> {
        Btf::parse(path, read_bytes(path)?, None)
    }

    /// Open a module's split BTF, e.g. `/sys/kernel/btf/nf_tables`, on top of `base`.
    pub fn open_split(path: &Path, base: Arc<Btf>) -> Result<Btf, BtfError> {
        Btf::parse(path, read_bytes(path)?, Some(base))
    }

    /// Parse BTF from memory (tests, or BTF embedded elsewhere).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Btf, BtfError> {
        Btf::parse(Path::new("<memory>"), Bytes::Heap(bytes), None)
    }

    fn parse(path: &Path, data: Bytes, base: Option<Arc<Btf>>) -> Result<Btf, BtfError> {
        let bad = |reason: &str| BtfError::Malformed {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        if data.len() < 24 {
            return Err(bad("shorter than a BTF header"));
        }
        let magic = u16::from_le_bytes([data[0], data[1]]);
        if magic != BTF_MAGIC {
            return Err(bad(if magic == BTF_MAGIC.swap_bytes() {
                "foreign byte order"
            } else {
                "bad magic"
            }));
        }
        let hdr_len = u32_at(&data, 4) as usize;
        let type_off = u32_at(&data, 8) as usize;
        let type_len = u32_at(&data, 12) as usize;
        let str_off = u32_at(&data, 16) as usize;
        let str_len = u32_at(&data, 20) as usize;
        let types_start = hdr_len + type_off;
        let types_end = types_start + type_len;
        let str_start = hdr_len + str_off;
        if types_end > data.len() || str_start + str_len > data.len() {
            return Err(bad("sections run past the end of the data"));
        }
        let first_id = match &base {
            Some(b) => b.id_end(),
            None => 1,
        };
        // One pass over the type section checks every header and records where every
        // INDEX_STRIDE-th type starts; nothing is decoded.
        let mut checkpoints = Vec::new();
        let mut count = 0u32;
        let mut off = types_start;
        while off + 12 <= types_end {
            if (count as usize).is_multiple_of(INDEX_STRIDE) {
                checkpoints.push(off as u32);
            }
            off = record_end(&data, off).ok_or_else(|| bad("unknown kind"))?;
            count += 1;
        }
        if off != types_end {
            return Err(bad("type section does not end on a type boundary"));
        }
        Ok(Btf {
            path: path.to_path_buf(),
            data,
            types_start,
            types_end,
            str_start,
            str_len,
            checkpoints,
            count,
            first_id,
            base,
        })
    }

    /// Where this BTF was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The highest type id + 1 (ids of a split BTF include its base's).
    pub fn id_end(&self) -> TypeId {
        self.first_id + self.count
    }

    /// Ids defined in this blob (not its base).
    pub fn own_ids(&self) -> std::ops::Range<TypeId> {
        self.first_id..self.id_end()
    }

    /// The string at `off` in the string table (continuing into the base for split BTF).
    pub fn str_at(&self, off: u32) -> &str {
        std::str::from_utf8(self.str_bytes(off)).unwrap_or("")
    }

    /// The raw bytes of the NUL-terminated string at `off` (no UTF-8 check: hot in scans).
    fn str_bytes(&self, off: u32) -> &[u8] {
        let mut off = off as usize;
        if let Some(b) = &self.base {
            if off < b.str_len {
                return b.str_bytes(off as u32);
            }
            off -= b.str_len;
        }
        if off >= self.str_len {
            return &[];
        }
        let s = &self.data[self.str_start + off..self.str_start + self.str_len];
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        &s[..end]
    }

    /// The (blob, absolute offset) that holds type `id`.
    fn locate(&self, id: TypeId) -> Option<(&Btf, usize)> {
        if id < self.first_id {
            return self.base.as_ref().and_then(|b| b.locate(id));
        }
        let idx = (id - self.first_id) as usize;
        if idx >= self.count as usize {
            return None;
        }
        let mut off = *self.checkpoints.get(idx / INDEX_STRIDE)? as usize;
        for _ in 0..idx % INDEX_STRIDE {
            off = record_end(&self.data, off)?;
        }
        Some((self, off))
    }

    fn raw(&self, id: TypeId) -> Option<(&Btf, usize, Kind, u32, u32, bool, u32)> {
        let (b, off) = self.locate(id)?;
        b.header(off)
    }

    /// The header fields of the type record at `off` in this blob: (blob, offset, kind, name
    /// offset, vlen, kind flag, size or type).
    fn header(&self, off: usize) -> Option<(&Btf, usize, Kind, u32, u32, bool, u32)> {
        let name_off = u32_at(&self.data, off);
        let info = u32_at(&self.data, off + 4);
        let kind = Kind::from_raw((info >> 24) & 0x1f)?;
        let size_or_type = u32_at(&self.data, off + 8);
        Some((
            self,
            off,
            kind,
            name_off,
            info & 0xffff,
            info >> 31 == 1,
            size_or_type,
        ))
    }

    /// Every type defined in this blob (not its base) as (id, offset), in one sequential walk:
    /// what passes over all types use instead of looking each id up in the sparse index.
    fn records(&self) -> impl Iterator<Item = (TypeId, usize)> + '_ {
        let mut off = self.types_start;
        self.own_ids().map_while(move |id| {
            let at = off;
            off = record_end(&self.data, at)?;
            Some((id, at))
        })
    }

    /// The types of the kinds `kinds` defined in this blob (not its base) with their names,
    /// in id order, from one walk.
    pub fn types_of_kinds<'a>(
        &'a self,
        kinds: &'a [Kind],
    ) -> impl Iterator<Item = (TypeId, &'a str)> + 'a {
        self.records().filter_map(move |(id, off)| {
            let (b, _, kind, name_off, ..) = self.header(off)?;
            kinds.contains(&kind).then(|| (id, b.str_at(name_off)))
        })
    }

    /// The kind of type `id` without decoding it (cheap).
    pub fn kind(&self, id: TypeId) -> Option<Kind> {
        if id == 0 {
            return Some(Kind::Void);
        }
        self.raw(id).map(|r| r.2)
    }

    /// The name of type `id` (empty for anonymous types and modifiers).
    pub fn name_of(&self, id: TypeId) -> &str {
        if id == 0 {
            return "void";
        }
        match self.raw(id) {
            Some((b, _, _, name_off, ..)) => b.str_at(name_off),
            None => "",
        }
    }

    /// Decode type `id`.
    pub fn get(&self, id: TypeId) -> Result<Type<'_>, BtfError> {
        if id == 0 {
            return Ok(Type::Void);
        }
        let (b, off, kind, name_off, vlen, kflag, st) =
            self.raw(id).ok_or(BtfError::BadTypeId(id))?;
        let d = &b.data[..];
        let name = b.str_at(name_off);
        let extra = off + 12;
        let vlen = vlen as usize;
        Ok(match kind {
            Kind::Void => Type::Void,
            Kind::Int => {
                let enc = u32_at(d, extra);
                Type::Int {
                    name,
                    size: st,
                    signed: (enc >> 24) & 1 != 0,
                    is_char: (enc >> 24) & 2 != 0,
                    is_bool: (enc >> 24) & 4 != 0,
                    bits: enc & 0xff,
                }
            }
            Kind::Ptr => Type::Ptr(st),
            Kind::Array => Type::Array {
                elem: u32_at(d, extra),
                len: u32_at(d, extra + 8),
            },
            Kind::Struct | Kind::Union => {
                let members = (0..vlen)
                    .map(|i| {
                        let m = extra + 12 * i;
                        let raw_off = u32_at(d, m + 8);
                        let (bit_offset, bitfield_size) = if kflag {
                            (raw_off & 0xff_ffff, raw_off >> 24)
                        } else {
                            (raw_off, 0)
                        };
                        Member {
                            name: b.str_at(u32_at(d, m)),
                            type_id: u32_at(d, m + 4),
                            bit_offset,
                            bitfield_size,
                        }
                    })
                    .collect();
                if kind == Kind::Struct {
                    Type::Struct {
                        name,
                        size: st,
                        members,
                    }
                } else {
                    Type::Union {
                        name,
                        size: st,
                        members,
                    }
                }
            }
            Kind::Enum => Type::Enum {
                name,
                size: st,
                signed: kflag,
                values: (0..vlen)
                    .map(|i| {
                        let e = extra + 8 * i;
                        let raw = u32_at(d, e + 4);
                        let v = if kflag {
                            raw as i32 as i128
                        } else {
                            raw as i128
                        };
                        (b.str_at(u32_at(d, e)), v)
                    })
                    .collect(),
            },
            Kind::Enum64 => Type::Enum {
                name,
                size: st,
                signed: kflag,
                values: (0..vlen)
                    .map(|i| {
                        let e = extra + 12 * i;
                        let raw = (u32_at(d, e + 4) as u64) | ((u32_at(d, e + 8) as u64) << 32);
                        let v = if kflag {
                            raw as i64 as i128
                        } else {
                            raw as i128
                        };
                        (b.str_at(u32_at(d, e)), v)
                    })
                    .collect(),
            },
            Kind::Fwd => Type::Fwd {
                name,
                is_union: kflag,
            },
            Kind::Typedef => Type::Typedef { name, target: st },
            Kind::Volatile => Type::Volatile(st),
            Kind::Const => Type::Const(st),
            Kind::Restrict => Type::Restrict(st),
            Kind::Func => Type::Func {
                name,
                proto: st,
                linkage: vlen as u32,
            },
            Kind::FuncProto => Type::FuncProto {
                ret: st,
                params: (0..vlen)
                    .map(|i| {
                        let p = extra + 8 * i;
                        Param {
                            name: b.str_at(u32_at(d, p)),
                            type_id: u32_at(d, p + 4),
                        }
                    })
                    .collect(),
            },
            Kind::Var => Type::Var { name, target: st },
            Kind::Datasec => Type::Datasec { name },
            Kind::Float => Type::Float { name, size: st },
            Kind::DeclTag => Type::DeclTag { name, target: st },
            Kind::TypeTag => Type::TypeTag { name, target: st },
        })
    }

    /// Every id (in this blob and its base) whose type is named `name`, in id order.
    ///
    /// BTF deduplicates strings, so the name is first searched for in the (contiguous) string
    /// table, then the type headers are scanned comparing name offsets as integers. Both passes
    /// are sequential, ~0.5 ms on vmlinux; comparing each type's name string instead is bound by
    /// cache misses (3.5 ms), and building a hash index cost 14 ms.
    pub fn ids_named(&self, name: &str) -> Vec<TypeId> {
        self.scan_named(name, None)
    }

    fn scan_named(&self, name: &str, kind: Option<Kind>) -> Vec<TypeId> {
        let mut out = match &self.base {
            Some(b) => b.scan_named(name, kind),
            None => Vec::new(),
        };
        let base_str = self.base.as_ref().map_or(0, |b| b.str_len as u32);
        let offs = self.own_string_offsets(name);
        if offs.is_empty() {
            return out;
        }
        let targets: Vec<u32> = offs.iter().map(|o| o + base_str).collect();
        for (id, off) in self.records() {
            if !targets.contains(&u32_at(&self.data, off)) {
                continue;
            }
            let info = u32_at(&self.data, off + 4);
            if kind.is_none() || Kind::from_raw((info >> 24) & 0x1f) == kind {
                out.push(id);
            }
        }
        out
    }

    /// Offsets (into this blob's own string table) of strings equal to `name`.
    fn own_string_offsets(&self, name: &str) -> Vec<u32> {
        if name.is_empty() {
            return Vec::new();
        }
        let table = &self.data[self.str_start..self.str_start + self.str_len];
        let needle = name.as_bytes();
        let mut out = Vec::new();
        for pos in memchr::memmem::find_iter(table, needle) {
            let starts = pos == 0 || table[pos - 1] == 0;
            let ends = table.get(pos + needle.len()) == Some(&0);
            if starts && ends {
                out.push(pos as u32);
            }
        }
        out
    }

    /// Find a type by name and kind (e.g. `Kind::Struct`, `"task_struct"`); the first by id.
    pub fn find(&self, name: &str, kind: Kind) -> Option<TypeId> {
        self.scan_named(name, Some(kind)).into_iter().next()
    }

    /// How many types of this name and kind there are (a C name a kernel defines in two
    /// files, `struct walk_control`, is two).
    pub fn count_named(&self, name: &str, kind: Kind) -> usize {
        self.scan_named(name, Some(kind)).len()
    }

    /// Look up `struct NAME`.
    pub fn find_struct(&self, name: &str) -> Option<TypeId> {
        self.find(name, Kind::Struct)
    }

    /// The signature of kernel function `name` (a `FUNC` in BTF).
    pub fn func(&self, name: &str) -> Option<FuncSig<'_>> {
        self.func_sig(self.find(name, Kind::Func)?)
    }

    /// The signature of the `FUNC` with id `id`.
    pub fn func_sig(&self, id: TypeId) -> Option<FuncSig<'_>> {
        let Ok(Type::Func { name, proto, .. }) = self.get(id) else {
            return None;
        };
        match self.get(proto) {
            Ok(Type::FuncProto { ret, params }) => Some(FuncSig { name, ret, params }),
            _ => None,
        }
    }

    /// Every `FUNC` defined in this blob (for a module: only the module's own) with its id,
    /// from one pass over the types: a listing that looked each up by name would scan every
    /// type per function.
    pub fn func_ids(&self) -> impl Iterator<Item = (&str, TypeId)> + '_ {
        self.records()
            .filter_map(move |(id, off)| match self.header(off) {
                Some((b, _, Kind::Func, name_off, ..)) => Some((b.str_at(name_off), id)),
                _ => None,
            })
    }

    /// Names of every `FUNC` defined in this blob (for a module: only the module's own).
    pub fn func_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.func_ids().map(|(name, _)| name)
    }

    /// Names of the named types of kind `kind` defined in this blob (structs, unions, enums).
    pub fn type_names(&self, kind: Kind) -> impl Iterator<Item = &str> + '_ {
        self.records()
            .filter_map(move |(_, off)| match self.header(off) {
                Some((b, _, k, name_off, ..)) if k == kind && name_off != 0 => {
                    Some(b.str_at(name_off))
                }
                _ => None,
            })
    }

    /// Raw tracepoint names: `btf_trace_<event>` typedefs defined in this blob.
    pub fn raw_tracepoints(&self) -> impl Iterator<Item = (&str, TypeId)> + '_ {
        self.records()
            .filter_map(move |(id, off)| match self.header(off) {
                Some((b, _, Kind::Typedef, name_off, ..)) => b
                    .str_at(name_off)
                    .strip_prefix("btf_trace_")
                    .map(|ev| (ev, id)),
                _ => None,
            })
    }

    /// Every raw tracepoint defined in this blob with its parameters, from one pass over the
    /// types: looking each one up by name would scan every type per tracepoint.
    pub fn raw_tracepoints_with_params(
        &self,
    ) -> impl Iterator<Item = (&str, Option<Vec<Param<'_>>>)> + '_ {
        let index = self.raw_tracepoint_index();
        let mut events: Vec<_> = index.into_iter().collect();
        events.sort_unstable_by_key(|(_, (typedef, _))| *typedef);
        events.into_iter().map(move |(ev, (typedef, wrapper))| {
            (ev, self.raw_tracepoint_params_of(typedef, wrapper))
        })
    }

    /// Every raw tracepoint defined in this blob by event name: its `btf_trace_*` typedef
    /// and, when there is one, its `__bpf_trace_*` wrapper function, from one pass over the
    /// types (a wildcard's hundreds of events would otherwise scan every type twice each).
    pub fn raw_tracepoint_index(&self) -> HashMap<&str, (TypeId, Option<TypeId>)> {
        let mut typedefs = HashMap::new();
        let mut wrappers = HashMap::new();
        for (id, off) in self.records() {
            match self.header(off) {
                Some((b, _, Kind::Typedef, name_off, ..)) => {
                    if let Some(ev) = b.str_at(name_off).strip_prefix("btf_trace_") {
                        typedefs.insert(ev, id);
                    }
                }
                Some((b, _, Kind::Func, name_off, ..)) => {
                    if let Some(ev) = b.str_at(name_off).strip_prefix("__bpf_trace_") {
                        wrappers.insert(ev, id);
                    }
                }
                _ => {}
            }
        }
        typedefs
            .into_iter()
            .map(|(ev, typedef)| (ev, (typedef, wrappers.get(ev).copied())))
            .collect()
    }

    /// A raw tracepoint's parameters (without the leading `void *__data`) from its
    /// `btf_trace_*` typedef. That prototype has no parameter names, so the kernel's
    /// `__bpf_trace_<event>` wrapper function, which has them, is preferred when there is one.
    pub fn raw_tracepoint_params_of(
        &self,
        typedef: TypeId,
        wrapper: Option<TypeId>,
    ) -> Option<Vec<Param<'_>>> {
        let proto = match wrapper.map(|id| self.get(id)) {
            Some(Ok(Type::Func { proto, .. })) => proto,
            _ => {
                let Ok(Type::Typedef { target, .. }) = self.get(typedef) else {
                    return None;
                };
                let Ok(Type::Ptr(proto)) = self.get(target) else {
                    return None;
                };
                proto
            }
        };
        match self.get(proto) {
            Ok(Type::FuncProto { params, .. }) => Some(params.into_iter().skip(1).collect()),
            _ => None,
        }
    }

    /// Follow typedefs and cv/type-tag modifiers to the underlying type.
    pub fn resolve(&self, mut id: TypeId) -> TypeId {
        for _ in 0..64 {
            match self.get(id) {
                Ok(Type::Typedef { target, .. })
                | Ok(Type::Volatile(target))
                | Ok(Type::Const(target))
                | Ok(Type::Restrict(target))
                | Ok(Type::TypeTag { target, .. }) => id = target,
                _ => return id,
            }
        }
        id
    }

    /// The size in bytes of a value of type `id` (pointers are 8: BTF here is x86-64/arm64).
    pub fn size_of(&self, id: TypeId) -> Option<u64> {
        match self.get(self.resolve(id)).ok()? {
            Type::Int { size, .. }
            | Type::Struct { size, .. }
            | Type::Union { size, .. }
            | Type::Enum { size, .. }
            | Type::Float { size, .. } => Some(size as u64),
            Type::Ptr(_) => Some(8),
            Type::Array { elem, len } => Some(self.size_of(elem)? * len as u64),
            Type::Void
            | Type::Fwd { .. }
            | Type::Func { .. }
            | Type::FuncProto { .. }
            | Type::Var { .. }
            | Type::Datasec { .. }
            | Type::DeclTag { .. }
            | Type::TypeTag { .. }
            | Type::Typedef { .. }
            | Type::Volatile(_)
            | Type::Const(_)
            | Type::Restrict(_) => None,
        }
    }

    /// Render type `id` as a C type the way bpftrace prints it: `struct sk_buff *`,
    /// `unsigned int`, `const char *`, `char[16]`, `void (*)(int)`.
    pub fn type_to_string(&self, id: TypeId) -> String {
        self.render(id, 0)
    }

    fn render(&self, id: TypeId, depth: u32) -> String {
        if depth > 32 {
            return "...".to_string();
        }
        let Ok(t) = self.get(id) else {
            return format!("<bad type {id}>");
        };
        let tagged = |kw: &str, name: &str| {
            if name.is_empty() {
                format!("{kw} (anon)")
            } else {
                format!("{kw} {name}")
            }
        };
        match t {
            Type::Void => "void".to_string(),
            Type::Int { name, .. }
            | Type::Float { name, .. }
            | Type::Typedef { name, .. }
            | Type::Var { name, .. }
            | Type::Datasec { name } => name.to_string(),
            Type::Struct { name, .. } => tagged("struct", name),
            Type::Union { name, .. } => tagged("union", name),
            Type::Enum { name, .. } => tagged("enum", name),
            Type::Fwd { name, is_union } => tagged(if is_union { "union" } else { "struct" }, name),
            Type::Ptr(target) => match self.get(self.skip_tags(target)) {
                Ok(Type::FuncProto { ret, params }) => {
                    format!(
                        "{} (*)({})",
                        self.render(ret, depth + 1),
                        self.params_string(&params, depth)
                    )
                }
                _ => format!("{} *", self.render(target, depth + 1)),
            },
            Type::Array { elem, len } => format!("{}[{len}]", self.render(elem, depth + 1)),
            // C puts `const` before a base type but after a `*` (`char * const`).
            Type::Const(t) => self.qualified("const", t, depth),
            Type::Volatile(t) => self.qualified("volatile", t, depth),
            Type::Restrict(t) => self.qualified("restrict", t, depth),
            Type::TypeTag { target, .. } | Type::DeclTag { target, .. } => {
                self.render(target, depth + 1)
            }
            Type::Func { name, .. } => name.to_string(),
            Type::FuncProto { ret, params } => format!(
                "{} ({})",
                self.render(ret, depth + 1),
                self.params_string(&params, depth)
            ),
        }
    }

    fn skip_tags(&self, mut id: TypeId) -> TypeId {
        while let Ok(Type::TypeTag { target, .. }) = self.get(id) {
            id = target;
        }
        id
    }

    fn qualified(&self, q: &str, t: TypeId, depth: u32) -> String {
        let inner = self.render(t, depth + 1);
        if matches!(self.kind(self.skip_tags(t)), Some(Kind::Ptr)) {
            format!("{inner} {q}")
        } else {
            format!("{q} {inner}")
        }
    }

    fn params_string(&self, params: &[Param<'_>], depth: u32) -> String {
        if params.is_empty() {
            return "void".to_string();
        }
        params
            .iter()
            .map(|p| {
                if p.type_id == 0 {
                    "...".to_string()
                } else {
                    self.render(p.type_id, depth + 1)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Members of struct/union `id` (after resolving typedefs), or `None` if it is not one.
    pub fn members(&self, id: TypeId) -> Option<Vec<Member<'_>>> {
        match self.get(self.resolve(id)).ok()? {
            Type::Struct { members, .. } | Type::Union { members, .. } => Some(members),
            _ => None,
        }
    }

    /// The byte offset of the byte-aligned member `member` of `struct name`.
    pub fn member_byte_offset(&self, name: &str, member: &str) -> Option<u32> {
        let m = self
            .members(self.find_struct(name)?)?
            .into_iter()
            .find(|m| m.name == member)?;
        (m.bit_offset % 8 == 0).then_some(m.bit_offset / 8)
    }

    /// True if `types_start..types_end` was non-empty; a sanity check for callers and tests.
    pub fn is_empty(&self) -> bool {
        self.types_start == self.types_end
    }
}

/// The kernel BTF file `BPFTRACE_BTF` names instead of the running kernel's, if set.
fn custom_vmlinux() -> Option<PathBuf> {
    std::env::var_os("BPFTRACE_BTF")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// Module names with BTF under /sys/kernel/btf (everything but `vmlinux`), sorted. None with
/// `BPFTRACE_BTF`: the running kernel's module BTF extends the running kernel's BTF only.
pub fn module_names() -> Vec<String> {
    if custom_vmlinux().is_some() {
        return Vec::new();
    }
    let mut names: Vec<String> = match std::fs::read_dir(SYSFS_BTF_DIR) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n != "vmlinux")
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// Open module `name`'s BTF on top of the vmlinux BTF `base`.
pub fn open_module(name: &str, base: Arc<Btf>) -> Result<Btf, BtfError> {
    Btf::open_split(&Path::new(SYSFS_BTF_DIR).join(name), base)
}

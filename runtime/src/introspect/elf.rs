//! User-space ELF introspection for uprobe and usdt: function symbols (`.symtab` and
//! `.dynsym`, via goblin), USDT probes from `.note.stapsdt` notes, and resolution of a uprobe
//! target the way bpftrace does it (`uprobe:libc:malloc` through PATH, `/etc/ld.so.cache` and
//! the standard library directories; `-p PID` through the process's mapped objects).

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use goblin::elf::{program_header::PT_LOAD, sym, Elf};

/// Why an ELF file or a target name could not be used.
#[derive(Debug, Clone)]
pub enum ElfError {
    /// The file could not be read.
    Read { path: PathBuf, reason: String },
    /// The file is not an ELF object goblin can parse.
    NotElf { path: PathBuf, reason: String },
    /// A name like `libc` did not resolve to any file.
    NotFound { target: String },
    /// The target is empty (`usdt::provider:probe`) and no process was given.
    NoTarget,
    /// /proc/PID/maps could not be read (no such process, or no permission).
    NoProcess { pid: u32, reason: String },
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::Read { path, reason } => {
                write!(f, "cannot read {}: {reason}", path.display())
            }
            ElfError::NotElf { path, reason } => {
                write!(f, "{} is not a usable ELF file: {reason}", path.display())
            }
            ElfError::NotFound { target } => write!(
                f,
                "target '{target}' was not found in PATH, the ld.so cache or the library directories"
            ),
            ElfError::NoTarget => write!(
                f,
                "no file is named: give a path, a program or library name, `*` for every \
                 executable in PATH, or -p PID for the objects of a process"
            ),
            ElfError::NoProcess { pid, reason } => {
                write!(f, "cannot read the mappings of process {pid}: {reason}")
            }
        }
    }
}

impl std::error::Error for ElfError {}

fn read_file(path: &Path) -> Result<Vec<u8>, ElfError> {
    std::fs::read(path).map_err(|e| ElfError::Read {
        path: path.to_path_buf(),
        reason: stdlib::diag::reason(&e),
    })
}

fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<Elf<'a>, ElfError> {
    Elf::parse(bytes).map_err(|e| ElfError::NotElf {
        path: path.to_path_buf(),
        reason: stdlib::diag::reason(&e),
    })
}

/// A function symbol of an ELF object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ElfSymbol {
    pub name: String,
    /// The symbol's virtual address (st_value).
    pub addr: u64,
    pub size: u64,
    /// The file offset of `addr`, which is what a uprobe attaches to; `None` if no loadable
    /// segment holds it.
    pub file_offset: Option<u64>,
}

/// The names a C++ pattern (`uprobe:/bin/x:cpp:...`) matches a symbol by: its demangled name
/// with its parameter list (`ns::f(int)`) and without (`ns::f`); a name that is not mangled
/// (`main`, an `extern "C"` function) as it is.
pub fn cpp_names(symbol: &str) -> Vec<String> {
    use cpp_demangle::{DemangleOptions, Symbol};
    let Ok(sym) = Symbol::new(symbol) else {
        return vec![symbol.to_string()];
    };
    let short = DemangleOptions::new().no_params().no_return_type();
    [sym.demangle().ok(), sym.demangle_with_options(&short).ok()]
        .into_iter()
        .flatten()
        .collect()
}

/// Defined function symbols (STT_FUNC and STT_GNU_IFUNC) from `.symtab` and `.dynsym`,
/// sorted by name and deduplicated by (name, address).
/// A stripped object (no `.symtab`, like Debian's libc) gets its local symbols from the
/// detached debug file when one is installed (`/usr/lib/debug/.build-id/xx/yyyy.debug`), as
/// bpftrace (through bcc) does; the debug file's addresses are the object's.
/// A member of a zip archive (`app.zip!/lib/x.so`) gets file offsets counted from the start of
/// the archive, the file its uprobes are placed on.
pub fn function_symbols(path: &Path) -> Result<Vec<ElfSymbol>, ElfError> {
    if let Some((bytes, base)) = archive_member(path)? {
        let elf = parse(path, &bytes[base..])?;
        let mut out = BTreeSet::new();
        collect_functions(&elf, &elf, base as u64, &mut out);
        return Ok(out.into_iter().collect());
    }
    let bytes = read_file(path)?;
    let elf = parse(path, &bytes)?;
    let mut out = BTreeSet::new();
    collect_functions(&elf, &elf, 0, &mut out);
    if elf.syms.is_empty() {
        if let Some(debug) = debug_file(&elf, &bytes, path) {
            if let Ok(dbytes) = std::fs::read(&debug) {
                if let Ok(delf) = Elf::parse(&dbytes) {
                    collect_functions(&delf, &elf, 0, &mut out);
                }
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// The sonames the ELF object at `path` needs (`DT_NEEDED`), in order: where the functions of
/// a stub library now live (glibc 2.34 moved `pthread_create` from `libpthread.so.0`, which
/// stays as an empty stub, to `libc.so.6`). Empty if it cannot be read.
pub fn needed_libraries(path: &Path) -> Vec<String> {
    let Ok(bytes) = read_file(path) else {
        return Vec::new();
    };
    Elf::parse(&bytes)
        .map(|elf| elf.libraries.iter().map(|l| l.to_string()).collect())
        .unwrap_or_default()
}

/// The build id of the ELF object at `path` in hex (`ustack(build_id)` names frames by it);
/// `None` if it cannot be read or has none.
pub fn build_id(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    let elf = Elf::parse(&bytes).ok()?;
    build_id_of(&elf, &bytes)
}

/// The `NT_GNU_BUILD_ID` note of `elf`, in hex.
fn build_id_of(elf: &Elf<'_>, bytes: &[u8]) -> Option<String> {
    const NT_GNU_BUILD_ID: u32 = 3;
    let notes = elf.iter_note_sections(bytes, Some(".note.gnu.build-id"))?;
    notes.flatten().find_map(|note| {
        (note.n_type == NT_GNU_BUILD_ID && note.name == "GNU" && note.desc.len() > 1)
            .then(|| note.desc.iter().map(|x| format!("{x:02x}")).collect())
    })
}

/// The detached debug file for `elf`: by build id, then by `.gnu_debuglink` name.
pub(crate) fn debug_file(elf: &Elf<'_>, bytes: &[u8], path: &Path) -> Option<PathBuf> {
    if let Some(id) = build_id_of(elf, bytes) {
        let p = PathBuf::from(format!(
            "/usr/lib/debug/.build-id/{}/{}.debug",
            &id[..2],
            &id[2..]
        ));
        if p.is_file() {
            return Some(p);
        }
    }
    let link = elf.section_headers.iter().find_map(|sh| {
        (elf.shdr_strtab.get_at(sh.sh_name) == Some(".gnu_debuglink")).then(|| {
            let start = sh.sh_offset as usize;
            let data = bytes.get(start..start + sh.sh_size as usize)?;
            let end = data.iter().position(|&b| b == 0)?;
            std::str::from_utf8(&data[..end]).ok().map(str::to_string)
        })
    })??;
    let dir = path.parent()?;
    let canon = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let rel = canon.strip_prefix("/").unwrap_or(&canon);
    [
        canon.join(&link),
        canon.join(".debug").join(&link),
        Path::new("/usr/lib/debug").join(rel).join(&link),
    ]
    .into_iter()
    .find(|p| p.is_file() && p != path)
}

/// The bytes of the archive that holds `path` and where its member starts, when `path` names
/// a member of a zip archive (`app.zip!/lib/x.so`); `None` for a plain file.
/// Up to `len` bytes at `offset` of the file a uprobe on `path` is placed in (the archive,
/// for an object stored in one): the code a uprobe offset points into.
pub fn code_at(path: &Path, offset: u64, len: usize) -> Result<Vec<u8>, ElfError> {
    use std::os::unix::fs::FileExt;
    let file = path
        .to_str()
        .and_then(super::zip::split)
        .map_or(path, |(a, _)| Path::new(a));
    let read = |e: std::io::Error| ElfError::Read {
        path: file.to_path_buf(),
        reason: stdlib::diag::reason(&e),
    };
    let f = std::fs::File::open(file).map_err(read)?;
    let mut buf = vec![0; len];
    let mut got = 0;
    while got < len {
        match f
            .read_at(&mut buf[got..], offset + got as u64)
            .map_err(read)?
        {
            0 => break,
            n => got += n,
        }
    }
    buf.truncate(got);
    Ok(buf)
}

fn archive_member(path: &Path) -> Result<Option<(Vec<u8>, usize)>, ElfError> {
    let Some((archive, member)) = path.to_str().and_then(super::zip::split) else {
        return Ok(None);
    };
    let bytes = read_file(Path::new(archive))?;
    let range = super::zip::stored_member(&bytes, member).map_err(|reason| ElfError::NotElf {
        path: path.to_path_buf(),
        reason,
    })?;
    Ok(Some((bytes, range.start)))
}

/// The file offset a uprobe at virtual address `vaddr` of the object at `path` is placed at
/// (`uprobe:/bin/x:0x401126`); `None` when no loadable segment holds the address.
pub fn address_offset(path: &Path, vaddr: u64) -> Result<Option<u64>, ElfError> {
    let (bytes, base) = match archive_member(path)? {
        Some(found) => found,
        None => (read_file(path)?, 0),
    };
    let elf = parse(path, &bytes[base..])?;
    Ok(vaddr_to_offset(&elf, vaddr).map(|off| off + base as u64))
}

/// Add the function symbols of `elf`; file offsets are computed from `layout` (the object
/// itself: a debug file's segments are not loadable), plus `base` (where the object starts in
/// the file that holds it).
fn collect_functions(elf: &Elf<'_>, layout: &Elf<'_>, base: u64, out: &mut BTreeSet<ElfSymbol>) {
    let tables = [(&elf.syms, &elf.strtab), (&elf.dynsyms, &elf.dynstrtab)];
    for (syms, strtab) in tables {
        for s in syms.iter() {
            let ty = s.st_type();
            if (ty != sym::STT_FUNC && ty != sym::STT_GNU_IFUNC) || s.st_value == 0 {
                continue;
            }
            let Some(name) = strtab.get_at(s.st_name) else {
                continue;
            };
            if name.is_empty() {
                continue;
            }
            out.insert(ElfSymbol {
                name: name.to_string(),
                addr: s.st_value,
                size: s.st_size,
                file_offset: vaddr_to_offset(layout, s.st_value).map(|off| off + base),
            });
        }
    }
}

/// What `uaddr()` needs from a binary: its symbols, whether it is position-independent, and
/// how its file maps to addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLayout {
    /// Defined data and function symbols (STT_OBJECT, STT_COMMON, STT_FUNC, STT_GNU_IFUNC)
    /// from `.symtab` and `.dynsym`, sorted by name and deduplicated.
    pub symbols: Vec<ElfSymbol>,
    /// ET_DYN (a PIE executable or a shared library): loaded at a per-process base.
    pub relocatable: bool,
    /// PT_LOAD segments as (file offset, virtual address, bytes in the file).
    pub segments: Vec<(u64, u64, u64)>,
}

/// Reads the symbols and segments of `path` for `uaddr()`.
pub fn object_layout(path: &Path) -> Result<ObjectLayout, ElfError> {
    let bytes = read_file(path)?;
    let elf = parse(path, &bytes)?;
    let mut symbols = BTreeSet::new();
    let tables = [(&elf.syms, &elf.strtab), (&elf.dynsyms, &elf.dynstrtab)];
    for (syms, strtab) in tables {
        for s in syms.iter() {
            let ty = s.st_type();
            let wanted = matches!(
                ty,
                sym::STT_OBJECT | sym::STT_COMMON | sym::STT_FUNC | sym::STT_GNU_IFUNC
            );
            if !wanted || s.st_value == 0 {
                continue;
            }
            let Some(name) = strtab.get_at(s.st_name).filter(|n| !n.is_empty()) else {
                continue;
            };
            symbols.insert(ElfSymbol {
                name: name.to_string(),
                addr: s.st_value,
                size: s.st_size,
                file_offset: vaddr_to_offset(&elf, s.st_value),
            });
        }
    }
    let segments = elf
        .program_headers
        .iter()
        .filter(|ph| ph.p_type == PT_LOAD)
        .map(|ph| (ph.p_offset, ph.p_vaddr, ph.p_filesz))
        .collect();
    Ok(ObjectLayout {
        symbols: symbols.into_iter().collect(),
        relocatable: elf.header.e_type == goblin::elf::header::ET_DYN,
        segments,
    })
}

/// Map a virtual address to its file offset through the PT_LOAD segments.
fn vaddr_to_offset(elf: &Elf<'_>, vaddr: u64) -> Option<u64> {
    elf.program_headers
        .iter()
        .find(|ph| ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_memsz)
        .map(|ph| vaddr - ph.p_vaddr + ph.p_offset)
}

/// One USDT probe site from `.note.stapsdt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtProbe {
    pub provider: String,
    pub name: String,
    /// The probe's address after the `.stapsdt.base` adjustment (prelink-safe).
    pub pc: u64,
    /// The file offset of `pc`: what the uprobe attaches to.
    pub file_offset: Option<u64>,
    /// The semaphore's adjusted address, 0 if the probe has none.
    pub semaphore: u64,
    /// The semaphore's file offset: the kernel's `ref_ctr_offset`.
    pub semaphore_offset: Option<u64>,
    /// The argument description, e.g. `-4@%edi 8@-8(%rbp)`.
    pub args: String,
}

const NT_STAPSDT: u32 = 3;

/// All USDT probe sites in `path`, in note order (one entry per site: a probe may have many).
pub fn usdt_probes(path: &Path) -> Result<Vec<UsdtProbe>, ElfError> {
    let bytes = read_file(path)?;
    let elf = parse(path, &bytes)?;
    Ok(usdt_from_elf(&elf, &bytes))
}

fn usdt_from_elf(elf: &Elf<'_>, bytes: &[u8]) -> Vec<UsdtProbe> {
    // stapsdt records the link-time address of `.stapsdt.base` in each note; if prelink or a
    // similar tool moved the object, the difference to the section's current address must be
    // added to the probe and semaphore addresses.
    let base_addr = elf
        .section_headers
        .iter()
        .find(|sh| elf.shdr_strtab.get_at(sh.sh_name) == Some(".stapsdt.base"))
        .map(|sh| sh.sh_addr);
    let word = if elf.is_64 { 8 } else { 4 };
    let mut out = Vec::new();
    let Some(notes) = elf.iter_note_sections(bytes, Some(".note.stapsdt")) else {
        return out;
    };
    for note in notes.flatten() {
        if note.n_type != NT_STAPSDT || note.name != "stapsdt" {
            continue;
        }
        let d = note.desc;
        if d.len() < 3 * word {
            continue;
        }
        let read = |i: usize| -> u64 {
            let b = &d[i * word..(i + 1) * word];
            if word == 8 {
                u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            } else {
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64
            }
        };
        let (mut pc, base, mut semaphore) = (read(0), read(1), read(2));
        if let Some(actual) = base_addr {
            if base != 0 {
                pc = pc.wrapping_add(actual).wrapping_sub(base);
                if semaphore != 0 {
                    semaphore = semaphore.wrapping_add(actual).wrapping_sub(base);
                }
            }
        }
        let mut strings = d[3 * word..].split(|&b| b == 0);
        let mut next = || String::from_utf8_lossy(strings.next().unwrap_or(&[])).into_owned();
        let (provider, name, args) = (next(), next(), next());
        out.push(UsdtProbe {
            provider,
            name,
            pc,
            file_offset: vaddr_to_offset(elf, pc),
            semaphore,
            semaphore_offset: if semaphore != 0 {
                vaddr_to_offset(elf, semaphore)
            } else {
                None
            },
            args,
        });
    }
    out
}

/// The objects a process has mapped (executable and libraries), as `/proc/PID/root/<path>` so
/// they resolve inside the process's mount namespace, in first-mapped order.
pub fn process_objects(pid: u32) -> Result<Vec<PathBuf>, ElfError> {
    let maps =
        std::fs::read_to_string(format!("/proc/{pid}/maps")).map_err(|e| ElfError::NoProcess {
            pid,
            reason: stdlib::diag::reason(&e),
        })?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for line in maps.lines() {
        // Fields: range perms offset dev inode path; the path may contain spaces.
        let Some(path) = line.splitn(6, char::is_whitespace).nth(5).map(str::trim) else {
            continue;
        };
        if !path.starts_with('/') || path.ends_with(" (deleted)") || path.starts_with("/dev/") {
            continue;
        }
        if seen.insert(path.to_string()) {
            out.push(PathBuf::from(format!("/proc/{pid}/root{path}")));
        }
    }
    Ok(out)
}

/// True if `bytes` start like an ELF file; used to skip mapped data files (locale archives).
pub fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map(|_| magic == *b"\x7fELF")
        .unwrap_or(false)
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Resolve a uprobe/usdt target to files. A path (with `/`) is used as given, globs expanded;
/// a glob without a directory (`*`) stands for the objects the process maps (with `pid`),
/// else for the executables of PATH ([`path_executables`]); a bare name is looked up in the
/// process's mappings (with `pid`), then PATH, then `/etc/ld.so.cache`, then the standard
/// library directories. `libc` and `c` both find libc.
pub fn resolve_target(target: &str, pid: Option<u32>) -> Result<Vec<PathBuf>, ElfError> {
    // A member of a zip archive is named by the archive's path and the member's
    // (`app.zip!/lib/x.so`): the archive must exist, the member is looked up when read.
    if let Some((archive, _)) = super::zip::split(target) {
        return if Path::new(archive).is_file() {
            Ok(vec![PathBuf::from(target)])
        } else {
            Err(ElfError::NotFound {
                target: target.into(),
            })
        };
    }
    if let Some(pid) = pid {
        // With -p, an empty target (`usdt::provider:probe`) or a glob that names no directory
        // (`uprobe:*:func`) stands for the ELF objects the process maps, as in bpftrace.
        if target.is_empty() || (has_glob(target) && !target.contains('/')) {
            let pattern = glob::Pattern::new(target).ok();
            let matches = |p: &Path| {
                target.is_empty()
                    || pattern.as_ref().is_some_and(|m| {
                        m.matches_path(p)
                            || p.file_name()
                                .and_then(|f| f.to_str())
                                .is_some_and(|f| m.matches(f))
                    })
            };
            return Ok(process_objects(pid)?
                .into_iter()
                .filter(|p| matches(p) && is_elf(p))
                .collect());
        }
        // A path in the process's own mount namespace is reached through its root.
        if target.starts_with('/') && !has_glob(target) && !Path::new(target).exists() {
            let inside = PathBuf::from(format!("/proc/{pid}/root{target}"));
            if inside.exists() {
                return Ok(vec![inside]);
            }
        }
    }
    if target.is_empty() {
        return Err(ElfError::NoTarget);
    }
    if has_glob(target) && !target.contains('/') {
        return Ok(path_executables(target));
    }
    if target.contains('/') {
        if has_glob(target) {
            // The glob crate drops a leading `./`; put it back so probes are named with
            // the path as written (`uprobe:./bin/x:f`), as bpftrace 0.27 names them.
            let dot = Path::new(target).starts_with(".");
            let mut found: Vec<PathBuf> = glob::glob(target)
                .map(|paths| {
                    paths
                        .filter_map(|p| p.ok())
                        .filter(|p| p.is_file())
                        .map(|p| {
                            if dot && !p.starts_with(".") {
                                Path::new(".").join(p)
                            } else {
                                p
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            found.sort();
            return Ok(found);
        }
        let p = PathBuf::from(target);
        return if p.exists() {
            Ok(vec![p])
        } else {
            Err(ElfError::NotFound {
                target: target.into(),
            })
        };
    }
    let lib = if target.starts_with("lib") {
        target.to_string()
    } else {
        format!("lib{target}")
    };
    // `libc`, `c` and `libc.so` find `libc.so.6`; a full soname (`libc.so.6`) finds itself.
    let so_name_matches = |file: &str| {
        file == target
            || file
                .strip_prefix(lib.as_str())
                .or_else(|| file.strip_prefix(target))
                .is_some_and(|rest| rest.starts_with(".so"))
    };
    if let Some(pid) = pid {
        let objs = process_objects(pid)?;
        let hits: Vec<PathBuf> = objs
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|f| f.to_str())
                    .is_some_and(|f| f == target || so_name_matches(f))
            })
            .collect();
        if !hits.is_empty() {
            return Ok(hits);
        }
    }
    if let Some(found) = std::env::var_os("PATH").and_then(|p| search_path(target, &p)) {
        return Ok(vec![found]);
    }
    for (soname, path) in ld_so_cache() {
        if so_name_matches(&soname) {
            return Ok(vec![path]);
        }
    }
    for dir in LIB_DIRS {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut hits: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_str().is_some_and(so_name_matches))
            .map(|e| e.path())
            .collect();
        hits.sort();
        if let Some(first) = hits.into_iter().next() {
            return Ok(vec![first]);
        }
    }
    Err(ElfError::NotFound {
        target: target.into(),
    })
}

const LIB_DIRS: [&str; 6] = [
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// The ELF executables in the directories of `PATH` whose paths match `pattern` (a glob
/// whose `*` also spans `/`: `*t` matches `/usr/bin/cat`), in PATH order: what bpftrace 0.27
/// reads a uprobe or usdt target that is a wildcard without a directory as (`uprobe:*:main`,
/// `-l 'usdt:*'`). A file reached twice (a directory linked to another, `/bin` to
/// `/usr/bin`, or a link to another executable) is taken once, under its first path, so that
/// one call does not fire a probe twice (0.27 attaches to each path). Relative directories of
/// PATH (`.`) are left out: what they hold depends on where rbt runs.
pub fn path_executables(pattern: &str) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = glob::Pattern::new(pattern) else {
        return Vec::new();
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for dir in std::env::split_paths(&path).filter(|d| d.is_absolute()) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for p in files {
            if !m.matches_path(&p) {
                continue;
            }
            // One stat tells an executable and a file already taken, before the file is
            // opened to tell an ELF one.
            let Ok(meta) = std::fs::metadata(&p) else {
                continue;
            };
            let id = (meta.dev(), meta.ino());
            if is_executable_file(&meta) && !seen.contains(&id) && is_elf(&p) {
                seen.insert(id);
                out.push(p);
            }
        }
    }
    out
}

/// The first executable regular file named `name` in the directories of `path` (a `PATH`
/// value): how a uprobe target and a `-c` command are found.
pub fn search_path(name: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

/// Whether `p` is a regular file with an execute bit set.
pub fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| is_executable_file(&m))
}

/// Whether metadata `m` (links followed) is a regular file's with an execute bit set.
fn is_executable_file(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.is_file() && m.permissions().mode() & 0o111 != 0
}

const LD_SO_CACHE: &str = "/etc/ld.so.cache";
const CACHE_MAGIC_NEW: &[u8] = b"glibc-ld.so.cache1.1";

/// Entries of `/etc/ld.so.cache` for this machine's ABI as `(soname, path)`, in cache order
/// (which ld.so keeps sorted by preference). Empty if the cache is missing or unreadable.
pub fn ld_so_cache() -> Vec<(String, PathBuf)> {
    std::fs::read(LD_SO_CACHE)
        .map(|b| parse_ld_so_cache(&b))
        .unwrap_or_default()
}

/// Parse the "new" (glibc ≥ 2.32 default) cache format, alone or after the old format.
pub fn parse_ld_so_cache(bytes: &[u8]) -> Vec<(String, PathBuf)> {
    let Some(start) = bytes
        .windows(CACHE_MAGIC_NEW.len())
        .position(|w| w == CACHE_MAGIC_NEW)
    else {
        return Vec::new();
    };
    let d = &bytes[start..];
    let u32_at = |o: usize| {
        d.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let Some(nlibs) = u32_at(20) else {
        return Vec::new();
    };
    // The flags that mark entries of the native ABI (libc6 + 64-bit variant of this arch).
    let native: Option<i32> = if cfg!(target_arch = "x86_64") {
        Some(0x0303)
    } else if cfg!(target_arch = "aarch64") {
        Some(0x0a03)
    } else {
        None
    };
    let cstr = |off: u32| -> Option<&str> {
        let s = d.get(off as usize..)?;
        let end = s.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&s[..end]).ok()
    };
    let mut out = Vec::new();
    for i in 0..nlibs as usize {
        let e = 48 + i * 24;
        let (Some(flags), Some(key), Some(value)) = (u32_at(e), u32_at(e + 4), u32_at(e + 8))
        else {
            break;
        };
        if native.is_some_and(|n| flags as i32 != n) {
            continue;
        }
        if let (Some(k), Some(v)) = (cstr(key), cstr(value)) {
            out.push((k.to_string(), PathBuf::from(v)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::cpp_names;

    #[test]
    fn cpp_names_with_and_without_parameters() {
        assert_eq!(
            cpp_names("_ZN3rbt4areaERKNS_5PointE"),
            ["rbt::area(rbt::Point const&)", "rbt::area"]
        );
        assert_eq!(
            cpp_names("_ZNK3Foo3getEv"),
            ["Foo::get() const", "Foo::get"]
        );
        // A C name is not mangled: it stands as it is.
        assert_eq!(cpp_names("main"), ["main"]);
    }
}

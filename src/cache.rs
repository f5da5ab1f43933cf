//! The compile cache of `rbt script.bt` and `rbt -e '...'`: after a compile, the compiled file
//! (the format `rbt --aot` writes, `stdlib::aot`) is stored under `$XDG_CACHE_HOME/rbt/`
//! (`~/.cache/rbt/`), and a later run whose inputs are the same runs it without parsing,
//! checking or LLVM.
//!
//! The key is a SHA-256 over everything that shapes the compiled object: the script's name
//! and text, rbt's executables (a rebuilt rbt may compile differently under the same version
//! number) and the aot format version, the running kernel's identity, the compile-time
//! command-line options and `BPFTRACE_*` variables (the caller lists them), and the contents
//! of every file the script `#include`s. A collision would run the wrong program in the
//! kernel, so the key is a cryptographic hash (the `sha2` crate, RustCrypto's, rather than
//! std's 64-bit SipHash, whose output is neither collision-resistant nor stable between
//! Rust releases).
//!
//! Which headers a script includes is known only after checking it, so an entry is two
//! files: `BASE.deps` (named by the key without the headers) lists the `#include`s the
//! compile looked up, and `FULL.rbt` is named by the key with the contents of the files those
//! lookups find now. A changed header changes `FULL`, and two writers never disagree on a
//! file's contents, since a name fixes them.
//!
//! A program is cached only when its compile depends on nothing but those inputs and printed
//! nothing (so a hit prints what a compile would): [`Recording`] watches the facts the checker
//! asks the system for, and a fact of the moment (a kernel symbol's address, a cgroup's id,
//! a user binary's symbols, the clocks) makes the program uncacheable.

use runtime::catalog::SystemCatalog;
use sha2::{Digest, Sha256};
use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use stdlib::aot::AotFile;
use stdlib::catalog::{
    Catalog, Host, LookupError, SymbolNames, TracepointField, TracepointRecord, UserObject,
    UserParam,
};
use stdlib::manifest::{BpfTarget, UprobeTarget, UsdtTarget};
use stdlib::types::{Record, Type};

/// How many files (compiled files and their `.deps`) the cache keeps: when a store makes
/// more, the least recently used go, down to three quarters of it. Each rebuilt rbt starts
/// new entries, and test suites compile thousands of scripts, so an unbounded cache would
/// fill a disk in time; a few hundred scripts in use is far beyond a user's.
const MAX_FILES: usize = 1024;

/// The cache directory of one compile's inputs.
pub struct Cache {
    dir: PathBuf,
    /// The key without the included headers, in hex.
    base: String,
}

/// What a lookup found.
pub enum Lookup {
    /// A stored compiled file for these inputs, read and checked.
    Hit { path: PathBuf, file: Box<AotFile> },
    /// Nothing usable; the words say why, for `-v`.
    Miss(&'static str),
}

/// The `#include` lookups of one compile, in order: `(path, system)`.
pub type Headers = Vec<(String, bool)>;

/// A SHA-256 over fields, each length-prefixed so that no two field lists hash alike.
struct Key(Sha256);

impl Key {
    fn new() -> Key {
        Key(Sha256::new())
    }

    fn field(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    /// A file's contents, streamed (the kernel's BTF is megabytes), or a marker of its
    /// absence.
    fn file(&mut self, path: &Path) {
        match std::fs::File::open(path) {
            Ok(mut f) => {
                self.field(b"file");
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match f.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => self.0.update(&buf[..n]),
                        Err(_) => {
                            self.field(b"read error");
                            break;
                        }
                    }
                }
                self.field(b"end");
            }
            Err(_) => self.field(b"absent"),
        }
    }

    fn hex(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// `$XDG_CACHE_HOME/rbt`, else `$HOME/.cache/rbt` (the XDG base directory rules: a relative
/// XDG_CACHE_HOME is ignored).
fn cache_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = match xdg {
        Some(p) => p,
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("rbt"))
}

/// The running kernel: its release and build strings, its build id (from
/// `/sys/kernel/notes`), the size of its BTF, the loaded modules, the online CPUs and rbt's
/// pid namespace.
///
/// The build id is a hash the linker computes over the whole kernel image, and the kernel's
/// BTF is a section of that image, so it identifies the BTF exactly while costing one small
/// read; hashing the BTF itself (5 MB here) would add milliseconds to every run. A kernel
/// built without a build id gets its BTF hashed instead. Release and version strings alone
/// are not enough: reproducible builds print the same `#1 SMP ... @0` for different
/// configurations (this host's kernel does). Modules add tracepoints, functions and BTF, so
/// their names are part of the key too; the pid namespace is compiled into `pid(curr_ns)`.
fn kernel_identity(key: &mut Key) {
    for f in ["/proc/sys/kernel/osrelease", "/proc/sys/kernel/version"] {
        key.file(Path::new(f));
    }
    key.field(std::env::consts::ARCH.as_bytes());
    match std::fs::read("/sys/kernel/notes")
        .ok()
        .and_then(|n| build_id(&n))
    {
        Some(id) => {
            key.field(b"build-id");
            key.field(&id);
        }
        None => key.file(Path::new("/sys/kernel/btf/vmlinux")),
    }
    let btf_size = std::fs::metadata("/sys/kernel/btf/vmlinux").map_or(0, |m| m.len());
    key.field(&btf_size.to_le_bytes());
    let modules = std::fs::read_to_string("/proc/modules").unwrap_or_default();
    for name in modules.lines().filter_map(|l| l.split_whitespace().next()) {
        key.field(name.as_bytes());
    }
    // `ncpus` and per-CPU sizes are compiled in.
    key.file(Path::new("/sys/devices/system/cpu/online"));
    let ns = std::fs::metadata("/proc/self/ns/pid").map_or((0, 0), |m| (m.dev(), m.ino()));
    key.field(&ns.0.to_le_bytes());
    key.field(&ns.1.to_le_bytes());
}

/// The GNU build id among ELF notes (`/sys/kernel/notes`): type 3, name "GNU".
fn build_id(notes: &[u8]) -> Option<Vec<u8>> {
    let word = |at: usize| -> Option<usize> {
        let b = notes.get(at..at + 4)?;
        Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let align = |n: usize| n.checked_add(3).map(|n| n & !3);
    let mut at = 0;
    while at + 12 <= notes.len() {
        let (namesz, descsz, kind) = (word(at)?, word(at + 4)?, word(at + 8)?);
        let name_at = at + 12;
        let desc_at = name_at.checked_add(align(namesz)?)?;
        let desc = notes.get(desc_at..desc_at.checked_add(descsz)?)?;
        if kind == 3 && notes.get(name_at..name_at + namesz)? == b"GNU\0" {
            return Some(desc.to_vec());
        }
        at = desc_at.checked_add(align(descsz)?)?;
    }
    None
}

/// Whether `dir` may hold programs rbt will load: it must belong to rbt's user and be
/// writable by nobody else, or another user could plant a program that root then runs.
fn trusted(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == runtime::euid() && m.mode() & 0o022 == 0)
}

impl Cache {
    /// The cache for a compile of `name`'s `source` with the compile-time `options` (each
    /// already rendered by the caller, `BPFTRACE_*` variables among them) and the contents
    /// of `files` (`--include`d headers, a `BPFTRACE_BTF` file), or `None` when
    /// there is no cache directory or it cannot be trusted. Creating the directory may fail
    /// (a read-only home): the cache is then skipped, as if it were off.
    pub fn open(name: &str, source: &str, options: &[String], files: &[PathBuf]) -> Option<Cache> {
        let dir = cache_dir()?;
        if std::fs::symlink_metadata(&dir).is_err() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .ok()?;
        }
        if !trusted(&dir) {
            return None;
        }
        let mut key = Key::new();
        key.field(b"rbt compile cache 1");
        key.field(stdlib::aot::RBT_VERSION.as_bytes());
        key.field(&stdlib::aot::FORMAT_VERSION.to_le_bytes());
        // The executables: where they are, and which builds (inode and times change when one
        // is rebuilt or reinstalled): the compiler, which made the entries, and the front
        // end, which reads and runs them; each finds the other beside itself.
        let exe_dir = std::env::current_exe().ok()?.parent()?.to_path_buf();
        for file in [exe_dir.join("rbt"), exe_dir.join(crate::COMPILER)] {
            // Without knowing which rbt this is, a stored program may be another build's.
            let m = std::fs::metadata(&file).ok()?;
            let (secs, nanos) = (m.mtime() as u64, m.mtime_nsec() as u64);
            for n in [m.dev(), m.ino(), m.len(), secs, nanos] {
                key.field(&n.to_le_bytes());
            }
        }
        kernel_identity(&mut key);
        key.field(name.as_bytes());
        key.field(source.as_bytes());
        key.field(&(options.len() as u64).to_le_bytes());
        for o in options {
            key.field(o.as_bytes());
        }
        for f in files {
            key.file(f);
        }
        Some(Cache {
            dir,
            base: key.hex(),
        })
    }

    fn deps_path(&self) -> PathBuf {
        self.dir.join(format!("{}.deps", self.base))
    }

    /// The full key's file: the base key and the files `headers` find now through
    /// `catalog`, with their contents.
    fn entry_path(&self, headers: &[(String, bool)], catalog: &SystemCatalog) -> PathBuf {
        let mut key = Key::new();
        key.field(self.base.as_bytes());
        for (path, system) in headers {
            key.field(path.as_bytes());
            key.field(&[u8::from(*system)]);
            match catalog.header_path(path, *system) {
                Some(file) => {
                    key.field(file.as_os_str().as_encoded_bytes());
                    key.file(&file);
                }
                None => key.field(b"not found"),
            }
        }
        self.dir.join(format!("{}.rbt", key.hex()))
    }

    /// The stored compile of these inputs, if there is a sound one that runs with the
    /// positional parameters `params`.
    pub fn lookup(&self, catalog: &SystemCatalog, params: &[String]) -> Lookup {
        let Ok(deps) = std::fs::read_to_string(self.deps_path()) else {
            return Lookup::Miss("not in the cache");
        };
        let Some(headers) = parse_deps(&deps) else {
            return Lookup::Miss("a damaged entry (rebuilt)");
        };
        let path = self.entry_path(&headers, catalog);
        let Ok(bytes) = std::fs::read(&path) else {
            return Lookup::Miss("not in the cache with these included files");
        };
        let Ok(file) = stdlib::aot::read(&bytes) else {
            return Lookup::Miss("a damaged entry (rebuilt)");
        };
        if file
            .meta
            .fixed_params
            .as_ref()
            .is_some_and(|fixed| fixed != params)
        {
            return Lookup::Miss("compiled with other parameters in attach points or literals");
        }
        // Used now: the last to be evicted.
        for used in [&path, &self.deps_path()] {
            if let Ok(f) = std::fs::File::options().write(true).open(used) {
                let _ = f.set_modified(std::time::SystemTime::now());
            }
        }
        Lookup::Hit {
            path,
            file: Box::new(file),
        }
    }

    /// Stores a compiled file (`stdlib::aot` bytes) for a compile that looked up `headers`:
    /// each file is written under a temporary name and renamed, so a reader sees a whole
    /// file or none.
    pub fn store(
        &self,
        headers: &[(String, bool)],
        catalog: &SystemCatalog,
        bytes: &[u8],
    ) -> std::io::Result<PathBuf> {
        let path = self.entry_path(headers, catalog);
        write_atomically(&path, bytes)?;
        let deps: String = headers
            .iter()
            .map(|(p, system)| format!("{} {p}\n", u8::from(*system)))
            .collect();
        write_atomically(&self.deps_path(), deps.as_bytes())?;
        evict(&self.dir, MAX_FILES);
        Ok(path)
    }
}

/// Removes the least recently used files of `dir` (by modification time, which a hit
/// renews) when it holds more than `max`, down to three quarters of `max`.
fn evict(dir: &Path, max: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() <= max {
        return;
    }
    files.sort();
    let remove = files.len() - max * 3 / 4;
    for (_, path) in &files[..remove] {
        // Another rbt may have removed it first.
        let _ = std::fs::remove_file(path);
    }
}

/// The `.deps` file: one `#include` lookup a line, `0 path` (quoted) or `1 path` (`<path>`).
fn parse_deps(text: &str) -> Option<Headers> {
    text.lines()
        .map(|l| match l.split_once(' ') {
            Some(("0", p)) => Some((p.to_string(), false)),
            Some(("1", p)) => Some((p.to_string(), true)),
            _ => None,
        })
        .collect()
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            // A stale temporary of a crashed writer with wider permissions is narrowed too.
            f.set_permissions(std::fs::Permissions::from_mode(0o600))
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        // Nothing to do if it is already gone.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The system catalog, watched for the cache: it records the `#include` lookups and notes
/// the first fact of the moment the checker asks for (which makes the program uncacheable).
pub struct Recording<'a> {
    inner: &'a SystemCatalog,
    headers: RefCell<Headers>,
    volatile: Cell<Option<&'static str>>,
    /// Whether the script may ask for `nsecs(sw_tai)`, which compiles in the offset between
    /// two clocks at that moment. The checker asks for the host's facts as one record, so
    /// the script's text is what tells: `sw_tai` is a name it must spell out.
    tai: bool,
}

impl<'a> Recording<'a> {
    /// Watches `inner` for the check of `source`.
    pub fn new(inner: &'a SystemCatalog, source: &str) -> Recording<'a> {
        Recording {
            inner,
            headers: RefCell::new(Vec::new()),
            volatile: Cell::new(None),
            tai: source.contains("sw_tai"),
        }
    }

    /// The `#include` lookups so far.
    pub fn headers(&self) -> Headers {
        self.headers.borrow().clone()
    }

    /// Why the compile cannot be cached, if a fact it used may differ next time.
    pub fn volatile(&self) -> Option<&'static str> {
        self.volatile.get()
    }

    fn uses(&self, what: &'static str) {
        if self.volatile.get().is_none() {
            self.volatile.set(Some(what));
        }
    }
}

/// Kernel facts (tracepoints, functions, BTF types, the CPUs) are fixed by the kernel
/// identity in the key; facts about user binaries, the clocks, kernel addresses (KASLR) and
/// cgroups are not.
impl Catalog for Recording<'_> {
    fn tracepoints(&self, category: &str, event: &str) -> Vec<(String, String)> {
        self.inner.tracepoints(category, event)
    }
    fn tracepoint_fields(
        &self,
        category: &str,
        event: &str,
    ) -> Result<Vec<TracepointField>, LookupError> {
        self.inner.tracepoint_fields(category, event)
    }
    fn kernel_functions(&self, module: Option<&str>, pattern: &str) -> Vec<String> {
        self.inner.kernel_functions(module, pattern)
    }
    fn kernel_function_untraceable(
        &self,
        module: Option<&str>,
        name: &str,
    ) -> Option<stdlib::catalog::Untraceable> {
        self.inner.kernel_function_untraceable(module, name)
    }
    fn bpf_functions(&self, id: Option<u32>, pattern: &str) -> Vec<BpfTarget> {
        self.uses("the ids of loaded BPF programs");
        self.inner.bpf_functions(id, pattern)
    }
    fn raw_tracepoints(&self, pattern: &str) -> Vec<String> {
        self.inner.raw_tracepoints(pattern)
    }
    fn record(&self, name: &str) -> Option<Record> {
        self.inner.record(name)
    }
    fn record_ambiguous(&self, name: &str) -> bool {
        self.inner.record_ambiguous(name)
    }
    fn constant(&self, name: &str) -> Option<(i64, Type)> {
        self.inner.constant(name)
    }
    fn enum_type(&self, name: &str) -> Option<Type> {
        self.inner.enum_type(name)
    }
    fn uprobe_targets(
        &self,
        path: &str,
        pattern: &str,
        names: SymbolNames,
        offset: u64,
        allow_unsafe: bool,
    ) -> Result<Vec<UprobeTarget>, LookupError> {
        self.uses("a user binary's symbols");
        self.inner
            .uprobe_targets(path, pattern, names, offset, allow_unsafe)
    }
    fn usdt_targets(
        &self,
        path: &str,
        provider: &str,
        name: &str,
    ) -> Result<Vec<UsdtTarget>, LookupError> {
        self.uses("a user binary's USDT probes");
        self.inner.usdt_targets(path, provider, name)
    }
    fn suggestions(&self, provider: &str, fields: &[String]) -> Vec<String> {
        self.inner.suggestions(provider, fields)
    }
    fn cgroup_id(&self, path: &str) -> Option<u64> {
        self.uses("a cgroup's id");
        self.inner.cgroup_id(path)
    }
    fn kernel_symbol(&self, name: &str) -> Option<u64> {
        self.uses("a kernel symbol's address");
        self.inner.kernel_symbol(name)
    }
    fn user_object(&self, path: &str) -> Result<UserObject, LookupError> {
        self.uses("a user binary's symbols");
        self.inner.user_object(path)
    }
    fn kprobes_supported(&self) -> bool {
        self.inner.kprobes_supported()
    }
    fn uprobe_multi_supported(&self) -> bool {
        self.inner.uprobe_multi_supported()
    }
    fn kprobe_multi_supported(&self) -> bool {
        self.inner.kprobe_multi_supported()
    }
    fn kfunc_allowed(&self, name: &str, program: stdlib::probes::ProgramType) -> bool {
        self.inner.kfunc_allowed(name, program)
    }
    fn function_signature(&self, name: &str) -> Option<(Vec<(String, Type)>, Type)> {
        self.inner.function_signature(name)
    }
    fn bpf_function_signature(&self, id: u32, func: &str) -> Option<(Vec<(String, Type)>, Type)> {
        self.uses("the ids of loaded BPF programs");
        self.inner.bpf_function_signature(id, func)
    }
    fn raw_tracepoint_params(&self, event: &str) -> Option<Vec<(String, Type)>> {
        self.inner.raw_tracepoint_params(event)
    }
    fn host(&self) -> Host {
        // The CPUs and the pid namespace are in the key; the clocks' offset is not.
        if self.tai {
            self.uses("the clocks' offset (nsecs(sw_tai))");
        }
        self.inner.host()
    }
    fn tracepoint_record(
        &self,
        category: &str,
        event: &str,
        fields: &[TracepointField],
    ) -> Option<TracepointRecord> {
        self.inner.tracepoint_record(category, event, fields)
    }
    fn kernel_variable(&self, name: &str) -> Option<Type> {
        self.inner.kernel_variable(name)
    }
    fn header_found(&self, path: &str, system: bool) -> bool {
        self.headers.borrow_mut().push((path.to_string(), system));
        self.inner.header_found(path, system)
    }
    fn header_macros(&self, headers: &[(String, bool)]) -> Vec<(String, i64)> {
        // The headers are those `header_found` recorded.
        self.inner.header_macros(headers)
    }
    fn user_function_params(
        &self,
        path: &str,
        function: &str,
    ) -> Result<Vec<UserParam>, LookupError> {
        self.uses("a user binary's debug info");
        self.inner.user_function_params(path, function)
    }
    fn user_record(&self, path: &str, name: &str) -> Option<Record> {
        self.uses("a user binary's debug info");
        self.inner.user_record(path, name)
    }
    fn source_line_targets(
        &self,
        path: &str,
        file: &str,
        line: u64,
    ) -> Result<Vec<UprobeTarget>, LookupError> {
        self.uses("a user binary's line table");
        self.inner.source_line_targets(path, file, line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_id_is_found_among_notes() {
        let mut notes = Vec::new();
        // A "Linux" note of type 6 with a 5-byte description, then the GNU build id.
        for (name, kind, desc) in [
            (&b"Linux\0"[..], 6u32, &b"6.1.0"[..]),
            (&b"GNU\0"[..], 3, &[0xab; 20][..]),
        ] {
            notes.extend((name.len() as u32).to_ne_bytes());
            notes.extend((desc.len() as u32).to_ne_bytes());
            notes.extend(kind.to_ne_bytes());
            notes.extend(name);
            notes.resize(notes.len().next_multiple_of(4), 0);
            notes.extend(desc);
            notes.resize(notes.len().next_multiple_of(4), 0);
        }
        assert_eq!(build_id(&notes), Some(vec![0xab; 20]));
        assert_eq!(build_id(&notes[..notes.len() - 8]), None);
        assert_eq!(build_id(&[]), None);
    }

    #[test]
    fn eviction_keeps_the_most_recently_used() {
        let dir = std::env::temp_dir().join(format!("rbt-evict-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let start = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30);
        for i in 0..10u64 {
            let f = std::fs::File::create(dir.join(format!("{i}.rbt"))).unwrap();
            f.set_modified(start + std::time::Duration::from_secs(i))
                .unwrap();
        }
        evict(&dir, 10);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 10);
        evict(&dir, 8);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["4.rbt", "5.rbt", "6.rbt", "7.rbt", "8.rbt", "9.rbt"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn deps_round_trip_and_damage_is_refused() {
        assert_eq!(
            parse_deps("0 a.h\n1 sys/x y.h\n"),
            Some(vec![("a.h".into(), false), ("sys/x y.h".into(), true)])
        );
        assert_eq!(parse_deps("2 a.h\n"), None);
        assert_eq!(parse_deps(""), Some(vec![]));
    }
}

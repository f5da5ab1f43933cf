//! Kernel symbols: the one reader of `/proc/kallsyms` ([`Kallsyms`], whose views serve probe
//! listing and checking, `kaddr()` and address symbolization), tracefs
//! `available_filter_functions` when it is readable, and resolution of compiler-renamed
//! symbols (`ip_rcv_core` → `ip_rcv_core.isra.0`).
//!
//! What "probeable" means here: the exact answer is `available_filter_functions` (ftrace's list,
//! which excludes `notrace`, `__kprobes` and inlined functions). Without it (no ftrace, or
//! unreadable as on kernels built without kprobes) we fall back to kallsyms text symbols
//! (`t`/`T`) minus names nothing can attach to: `__pfx_*` padding and `__cfi_*` CFI stubs.
//! Functions in `.kprobes.text`/`.noinstr.text` cannot be told apart in kallsyms and stay in
//! the list; attaching to them fails later with a kernel error, which is the honest outcome.
//! `__x64_sys_*` wrappers are real entry points and are kept.

use std::fmt;
use std::path::PathBuf;

use super::tracefs;

/// One kernel function, borrowed from a [`FnList`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelFn<'a> {
    pub name: &'a str,
    /// `None` for vmlinux, else the module name.
    pub module: Option<&'a str>,
    /// 0 when the source (available_filter_functions) gives no address, or kptr_restrict hides it.
    pub addr: u64,
}

/// Where a function list came from; `-l` output does not depend on it, diagnostics do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FnSource {
    AvailableFilterFunctions,
    Kallsyms,
}

/// Why no function list could be produced.
#[derive(Debug, Clone)]
pub struct KallsymsError {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for KallsymsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for KallsymsError {}

const KALLSYMS: &str = "/proc/kallsyms";

/// A list of kernel functions that keeps the file's text and indexes into it: kallsyms has
/// ~60k functions, and one allocation per name cost more than the parse itself.
#[derive(Debug, Clone)]
pub struct FnList {
    text: String,
    /// (name start, name end, module start, module end, address); module range empty = vmlinux.
    entries: Vec<(u32, u32, u32, u32, u64)>,
    pub source: FnSource,
}

impl FnList {
    /// The functions, in file order (duplicated names of distinct static functions included).
    pub fn iter(&self) -> impl Iterator<Item = KernelFn<'_>> + '_ {
        self.entries.iter().map(|&(ns, ne, ms, me, addr)| KernelFn {
            name: &self.text[ns as usize..ne as usize],
            module: (ms != me).then(|| &self.text[ms as usize..me as usize]),
            addr,
        })
    }

    /// Just the names, for matching and suggestions.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries
            .iter()
            .map(|&(ns, ne, ..)| &self.text[ns as usize..ne as usize])
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn read_text(path: &str) -> Result<String, KallsymsError> {
    std::fs::read_to_string(path).map_err(|e| KallsymsError {
        path: path.into(),
        reason: stdlib::diag::reason(&e),
    })
}

/// Text symbols from /proc/kallsyms, with the unattachable ones removed (see the module docs).
pub fn text_symbols() -> Result<FnList, KallsymsError> {
    Ok(Kallsyms::read()?.functions())
}

fn span(text: &str, part: &str) -> (u32, u32) {
    let start = part.as_ptr() as usize - text.as_ptr() as usize;
    (start as u32, (start + part.len()) as u32)
}

/// Parse kallsyms text (`ffffffff81000000 T _stext` or `... t fn\t[module]`) into its
/// attachable functions.
pub fn parse_kallsyms(text: String) -> FnList {
    Kallsyms::parse(text).functions()
}

/// One line of kallsyms, as positions in the text.
#[derive(Debug, Clone, Copy)]
struct Sym {
    name: (u32, u32),
    /// Empty for vmlinux.
    module: (u32, u32),
    addr: u64,
    /// The type letter: `t`/`T` code, `w`/`W` weak, `d`/`D` data, ...
    kind: u8,
}

/// Every symbol of `/proc/kallsyms`, read and parsed once: the one reader of that file.
/// Kernel function lists ([`Kallsyms::functions`]), `kaddr()` ([`Kallsyms::address_of`])
/// and address symbolization ([`Kallsyms::code_symbols`]) are all views of it.
#[derive(Debug, Clone)]
pub struct Kallsyms {
    text: String,
    syms: Vec<Sym>,
}

impl Kallsyms {
    pub fn read() -> Result<Kallsyms, KallsymsError> {
        Ok(Kallsyms::parse(read_text(KALLSYMS)?))
    }

    /// Parses `addr type name` lines, with `\t[module]` after the name of module symbols;
    /// other lines are skipped.
    pub fn parse(text: String) -> Kallsyms {
        let mut syms = Vec::with_capacity(text.len() / 40);
        for line in text.lines() {
            let Some((addr, rest)) = line.split_once(' ') else {
                continue;
            };
            let rb = rest.as_bytes();
            if rb.len() < 3 || rb[1] != b' ' {
                continue;
            }
            let rest = &rest[2..];
            let (name, module) = match rest.split_once('\t') {
                Some((n, m)) => (
                    n,
                    m.trim().strip_prefix('[').and_then(|m| m.strip_suffix(']')),
                ),
                None => (rest.trim_end(), None),
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            syms.push(Sym {
                name: span(&text, name),
                module: module.map_or((0, 0), |m| span(&text, m)),
                addr,
                kind: rb[0],
            });
        }
        Kallsyms { text, syms }
    }

    fn name(&self, s: &Sym) -> &str {
        &self.text[s.name.0 as usize..s.name.1 as usize]
    }

    /// The address of the first symbol (of any type) called `name`; 0 when kptr_restrict
    /// hides addresses.
    pub fn address_of(&self, name: &str) -> Option<u64> {
        self.syms
            .iter()
            .find(|s| self.name(s) == name)
            .map(|s| s.addr)
    }

    /// The attachable functions: code symbols minus the names nothing can attach to.
    pub fn functions(self) -> FnList {
        let entries = self
            .syms
            .iter()
            .filter(|s| matches!(s.kind, b't' | b'T') && probeable_name(self.name(s)))
            .map(|s| (s.name.0, s.name.1, s.module.0, s.module.1, s.addr))
            .collect();
        FnList {
            text: self.text,
            entries,
            source: FnSource::Kallsyms,
        }
    }

    /// Code symbols (weak ones included) with a known address, for naming addresses.
    pub fn code_symbols(mut self) -> CodeSymbols {
        self.syms
            .retain(|s| s.addr != 0 && matches!(s.kind, b't' | b'T' | b'w' | b'W'));
        let Kallsyms { text, mut syms } = self;
        // By address, then name, so that of symbols sharing an address the same one always wins.
        syms.sort_by(|a, b| {
            let name = |s: &Sym| &text[s.name.0 as usize..s.name.1 as usize];
            (a.addr, name(a)).cmp(&(b.addr, name(b)))
        });
        CodeSymbols(Kallsyms { text, syms })
    }
}

/// Kernel code symbols sorted by address (see [`Kallsyms::code_symbols`]).
#[derive(Debug, Clone)]
pub struct CodeSymbols(Kallsyms);

impl CodeSymbols {
    /// The symbol at or below `addr` and its address: the function `addr` is in, if it is
    /// in one.
    pub fn containing(&self, addr: u64) -> Option<(&str, u64)> {
        let syms = &self.0.syms;
        let i = syms.partition_point(|s| s.addr <= addr);
        let s = syms.get(i.checked_sub(1)?)?;
        Some((self.0.name(s), s.addr))
    }
}

fn probeable_name(name: &str) -> bool {
    !(name.starts_with("__pfx_") || name.starts_with("__cfi_"))
}

/// `available_filter_functions`, or `None` if it is missing or unreadable (as here: kernels
/// without kprobes refuse reads with EPERM).
pub fn traceable_functions() -> Option<FnList> {
    let root = tracefs::root().ok()?;
    let path = root.join("available_filter_functions");
    let text = std::fs::read_to_string(path).ok()?;
    Some(parse_filter_functions(text))
}

/// Parse `name` / `name [module]` lines.
pub fn parse_filter_functions(text: String) -> FnList {
    let mut entries = Vec::with_capacity(text.len() / 24);
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some(name) = it.next() else {
            continue;
        };
        let module = it
            .next()
            .and_then(|m| m.strip_prefix('[')?.strip_suffix(']'));
        let (ns, ne) = span(&text, name);
        let (ms, me) = module.map_or((0, 0), |m| span(&text, m));
        entries.push((ns, ne, ms, me, 0));
    }
    FnList {
        text,
        entries,
        source: FnSource::AvailableFilterFunctions,
    }
}

/// The best list of attachable kernel functions this machine offers.
pub fn probeable_functions() -> Result<FnList, KallsymsError> {
    if let Some(fns) = traceable_functions() {
        return Ok(fns);
    }
    text_symbols()
}

/// True if `sym` is `plain` after compiler renaming: GCC's `.isra.N`, `.constprop.N`,
/// `.part.N`, `.cold`, `.lto_priv.N`, `.localalias` and clang's `.llvm.N`, in any combination
/// (`foo.constprop.0.isra.0`).
pub fn is_renamed_of(sym: &str, plain: &str) -> bool {
    let Some(rest) = sym.strip_prefix(plain).and_then(|r| r.strip_prefix('.')) else {
        return false;
    };
    let mut parts = rest.split('.').peekable();
    let mut any = false;
    while let Some(p) = parts.next() {
        match p {
            "isra" | "constprop" | "part" | "lto_priv" | "llvm" => {
                // These carry a number after them.
                match parts.next() {
                    Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {}
                    _ => return false,
                }
            }
            "cold" | "localalias" => {
                // GCC sometimes numbers cold parts too (`foo.cold.12`).
                if let Some(n) = parts.peek() {
                    if n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() {
                        parts.next();
                    }
                }
            }
            _ => return false,
        }
        any = true;
    }
    any
}

/// True if `sym` is the function `plain`, under its own name or renamed by the compiler.
pub fn is_same_function(sym: &str, plain: &str) -> bool {
    sym == plain || (is_renamed_of(sym, plain) && !sym.contains(".cold"))
}

/// Given a plain name, the symbols it stands for: itself if present, otherwise its renamed
/// variants (`.cold` parts excluded: they are not function entries). Sorted, deduplicated.
pub fn resolve_renamed<'a>(
    plain: &str,
    symbols: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
    let mut renamed: Vec<&'a str> = Vec::new();
    for s in symbols {
        if s == plain {
            return vec![s];
        }
        if is_renamed_of(s, plain) && !s.contains(".cold") {
            renamed.push(s);
        }
    }
    renamed.sort_unstable();
    renamed.dedup();
    renamed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renamed() {
        assert!(is_renamed_of("ip_rcv_core.isra.0", "ip_rcv_core"));
        assert!(is_renamed_of("foo.constprop.3", "foo"));
        assert!(is_renamed_of("foo.part.1", "foo"));
        assert!(is_renamed_of("foo.cold", "foo"));
        assert!(is_renamed_of("foo.constprop.0.isra.0", "foo"));
        assert!(is_renamed_of("foo.llvm.123456", "foo"));
        assert!(!is_renamed_of("foobar", "foo"));
        assert!(!is_renamed_of("foo.bar", "foo"));
        assert!(!is_renamed_of("foo", "foo"));
        assert!(!is_renamed_of("foo.isra", "foo"));
        let syms = ["ip_rcv_core.isra.0", "ip_rcv_core.cold", "ip_rcv"];
        assert_eq!(resolve_renamed("ip_rcv_core", syms), ["ip_rcv_core.isra.0"]);
        assert_eq!(resolve_renamed("ip_rcv", syms), ["ip_rcv"]);
        assert!(resolve_renamed("nope", syms).is_empty());
    }

    #[test]
    fn kallsyms_views() {
        let text = "ffffffff81000000 T _stext\nffffffff81000020 t foo\n\
                    ffffffff81000020 W afoo\nffffffff82000000 D data\n\
                    0000000000000000 t hidden\nffffffffc0000000 t modfn\t[kvm]\n";
        let k = Kallsyms::parse(text.to_string());
        assert_eq!(k.address_of("data"), Some(0xffffffff82000000));
        assert_eq!(k.address_of("modfn"), Some(0xffffffffc0000000));
        assert_eq!(k.address_of("nope"), None);
        let code = k.code_symbols();
        assert_eq!(
            code.containing(0xffffffff81000005),
            Some(("_stext", 0xffffffff81000000))
        );
        // Of two symbols at one address the later name wins, whatever the file order.
        assert_eq!(
            code.containing(0xffffffff81000030),
            Some(("foo", 0xffffffff81000020))
        );
        assert_eq!(
            code.containing(0xffffffff82000008),
            Some(("foo", 0xffffffff81000020))
        );
        assert_eq!(code.containing(0x10), None);
    }

    #[test]
    fn parses_kallsyms() {
        let text = "ffffffff81000000 T _stext\nffffffff81000010 t __pfx_foo\n\
                    ffffffff81000020 t foo\nffffffff82000000 D data\n\
                    ffffffffc0000000 t modfn\t[kvm]\n";
        let syms = parse_kallsyms(text.to_string());
        let all: Vec<_> = syms.iter().collect();
        let names: Vec<_> = all.iter().map(|s| s.name).collect();
        assert_eq!(names, ["_stext", "foo", "modfn"]);
        assert_eq!(all[2].module, Some("kvm"));
        assert_eq!(all[0].module, None);
        assert_eq!(all[1].addr, 0xffffffff81000020);
        let aff = parse_filter_functions("vfs_read\nmodfn [kvm]\n".to_string());
        let all: Vec<_> = aff.iter().collect();
        assert_eq!(all[1].name, "modfn");
        assert_eq!(all[1].module, Some("kvm"));
    }
}

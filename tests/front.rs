//! Tier 1 for the split of `rbt` into a front end and a compiler (src/lib.rs): the front
//! end, which runs compiled files and cache hits, links no LLVM, parser, checker or codegen,
//! so a cached run maps none of their pages; the compiler does link them (which shows that
//! the symbol test can see them). Both are built by any `cargo test` of this package.

use std::collections::BTreeSet;

/// The crates and libraries only the compiler may link, and how their symbols are named:
/// Rust's v0 and legacy manglings of the crate name, and LLVM's C++ namespace and C API.
const COMPILER_ONLY: &[(&str, &[&str])] = &[
    ("LLVM (C++)", &["_ZN4llvm", "_ZNK4llvm"]),
    ("LLVM (C API)", &["LLVMInitialize", "LLVMCreate"]),
    ("inkwell", &["_7inkwell", "_ZN7inkwell"]),
    ("llvm-sys", &["_8llvm_sys", "_ZN8llvm_sys"]),
    ("lang", &["_4lang", "_ZN4lang"]),
    ("codegen", &["_7codegen", "_ZN7codegen"]),
    ("pest", &["_4pest", "_ZN4pest"]),
    ("clap_mangen", &["_11clap_mangen", "_ZN11clap_mangen"]),
    ("clap_complete", &["_13clap_complete", "_ZN13clap_complete"]),
];

/// Which of [`COMPILER_ONLY`] the executable at `path` carries symbols of.
fn linked(path: &str) -> BTreeSet<&'static str> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let elf = goblin::elf::Elf::parse(&bytes).unwrap_or_else(|e| panic!("parse {path}: {e}"));
    let mut found = BTreeSet::new();
    for sym in elf.syms.iter() {
        let Some(name) = elf.strtab.get_at(sym.st_name) else {
            continue;
        };
        for (what, marks) in COMPILER_ONLY {
            if marks.iter().any(|m| name.contains(m)) {
                found.insert(*what);
            }
        }
    }
    found
}

#[test]
fn the_front_end_links_no_compiler() {
    let front = linked(env!("CARGO_BIN_EXE_rbt"));
    assert!(front.is_empty(), "rbt links {front:?}");
}

#[test]
fn the_compiler_links_llvm_and_the_front_end_crates() {
    let compiler = linked(env!("CARGO_BIN_EXE_rbt-compile"));
    for what in ["LLVM (C++)", "LLVM (C API)", "lang", "codegen"] {
        assert!(
            compiler.contains(what),
            "rbt-compile lacks {what}: {compiler:?}"
        );
    }
}

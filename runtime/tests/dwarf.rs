//! DWARF reading of real binaries built here with gcc: parameters and their registers,
//! structs, the line table, an alias symbol, and debug info found in a compressed section, a
//! detached file (`--debuginfo`), a `.dwo` file and a `.dwp` package. Needs gcc (and
//! objcopy and dwp from binutils for the detached and package cases); no root.

use std::path::{Path, PathBuf};
use std::process::Command;

use runtime::catalog::SystemCatalog;
use runtime::introspect::dwarf::DebugInfo;
use stdlib::catalog::Catalog;
use stdlib::types::Type;

const SOURCE: &str = r#"
struct pair { long x; int y[3]; char name[8]; };
struct big { long a, b, c; };

__attribute__((noinline)) int work(int *n, char c, struct pair *p)
{
	return *n + c + p->x;
}

__attribute__((noinline)) long after(struct big b, __int128 w, double d, long k)
{
	return b.a + (long)w + (long)d + k;
}

extern int alias(int *n, char c, struct pair *p) __attribute__((alias("work")));

int main(void)
{
	int n = 1;
	struct pair p = { 2, { 3 }, "x" };
	struct big b = { 1, 2, 3 };
	return work(&n, 'c', &p) + (int)after(b, 5, 1.5, 7);
}
"#;

/// Builds SOURCE in a directory of its own with `flags`, returning the binary's path.
fn build(name: &str, flags: &[&str]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("dwarf-{name}"));
    std::fs::create_dir_all(&dir).expect("create the build directory");
    let src = dir.join("prog.c");
    std::fs::write(&src, SOURCE).expect("write the source");
    let bin = dir.join("prog");
    let ok = Command::new("gcc")
        .args(flags)
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .current_dir(&dir)
        .status()
        .expect("run gcc");
    assert!(ok.success(), "gcc {flags:?} failed");
    bin
}

fn run(cmd: &str, args: &[&Path]) -> bool {
    Command::new(cmd)
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

/// The names and types of `work`'s parameters, as `-lv` lists them.
fn work_params(d: &DebugInfo) -> Vec<String> {
    d.params("work", 0)
        .expect("work has parameters")
        .iter()
        .map(|p| format!("{} {}", d.type_name(p.ty), p.name))
        .collect()
}

const WORK: [&str; 3] = ["int* n", "char c", "struct pair* p"];

#[test]
fn parameters_records_lines_and_registers() {
    let bin = build("plain", &["-g", "-O1"]);
    let d = DebugInfo::load(&bin, &[])
        .expect("readable")
        .expect("has debug info");
    assert_eq!(work_params(&d), WORK);

    let catalog = SystemCatalog::new(None);
    let path = bin.to_string_lossy();
    let params = catalog
        .user_function_params(&path, "after")
        .expect("after has parameters");
    let registers: Vec<_> = params
        .iter()
        .map(|p| (p.name.as_str(), p.register))
        .collect();
    // The 24-byte struct goes on the stack, __int128 takes two registers, the double an
    // SSE register: `k` is in the third integer register.
    assert_eq!(
        registers,
        [("b", None), ("w", None), ("d", None), ("k", Some(2))]
    );
    // An alias symbol has the parameters of the function at its address.
    let alias: Vec<_> = catalog
        .user_function_params(&path, "alias")
        .expect("alias has parameters")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(alias, ["n", "c", "p"]);

    let pair = catalog
        .user_record(&path, "struct pair")
        .expect("struct pair");
    let fields: Vec<_> = pair
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.offset, f.ty.clone()))
        .collect();
    assert_eq!(pair.size, 32);
    assert_eq!(
        fields,
        [
            (
                "x",
                0,
                Type::Int {
                    bits: 64,
                    signed: true
                }
            ),
            (
                "y",
                8,
                Type::Array {
                    elem: Box::new(Type::Int {
                        bits: 32,
                        signed: true
                    }),
                    len: 3
                }
            ),
            ("name", 20, Type::Str { len: 8 }),
        ]
    );

    // Line 6 (`return *n + c + p->x;`) has code; line 2 (a struct) has none.
    let targets = catalog
        .source_line_targets(&path, "prog.c", 6)
        .expect("line 6 has code");
    assert_eq!(targets.len(), 1);
    assert!(catalog.source_line_targets(&path, "prog.c", 2).is_err());
}

#[test]
fn compressed_sections() {
    let bin = build("compressed", &["-g", "-gz=zlib"]);
    let d = DebugInfo::load(&bin, &[])
        .expect("readable")
        .expect("has debug info");
    assert_eq!(work_params(&d), WORK);
}

#[test]
fn detached_debug_file_in_a_debuginfo_directory() {
    let bin = build("detached", &["-g"]);
    let dir = bin.parent().expect("a directory").join("debug");
    std::fs::create_dir_all(&dir).expect("create the debug directory");
    let debug = dir.join("prog.debug");
    if !run("objcopy", &[Path::new("--only-keep-debug"), &bin, &debug])
        || !run("objcopy", &[Path::new("--strip-debug"), &bin])
    {
        eprintln!("SKIP detached_debug_file_in_a_debuginfo_directory: objcopy failed");
        return;
    }
    assert!(DebugInfo::load(&bin, &[]).expect("readable").is_none());
    // A relative directory is taken relative to the binary's directory.
    let d = DebugInfo::load(&bin, &[PathBuf::from("debug")])
        .expect("readable")
        .expect("finds the detached file");
    assert_eq!(work_params(&d), WORK);
}

#[test]
fn split_dwarf_in_dwo_files_and_dwp_packages() {
    let bin = build("split", &["-g", "-gsplit-dwarf"]);
    let d = DebugInfo::load(&bin, &[])
        .expect("readable")
        .expect("has debug info");
    assert_eq!(work_params(&d), WORK);

    // binutils' dwp packages DWARF 4 split units (it drops GCC's DWARF 5 ones).
    let bin = build("package", &["-g", "-gdwarf-4", "-gsplit-dwarf"]);
    let dir = bin.parent().expect("a directory");
    let dwo = std::fs::read_dir(dir)
        .expect("list the build directory")
        .map(|e| e.expect("an entry").path())
        .find(|p| p.extension().is_some_and(|x| x == "dwo"))
        .expect("gcc wrote a .dwo file");
    let package = dir.join("prog.dwp");
    if !run("dwp", &[Path::new("-o"), &package, &dwo]) {
        eprintln!("SKIP the .dwp half of split_dwarf_in_dwo_files_and_dwp_packages: dwp failed");
        return;
    }
    std::fs::remove_file(&dwo).expect("remove the .dwo file");
    let d = DebugInfo::load(&bin, &[])
        .expect("readable")
        .expect("has debug info");
    assert_eq!(work_params(&d), WORK);
}

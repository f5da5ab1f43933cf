//! Source frames of code addresses (`show_debug_info`) in real binaries built here with gcc:
//! the chain of inlined functions with each one's file and line, innermost first, from the
//! binary's own DWARF and from a detached, compressed debug file. Needs gcc (and objcopy for
//! the detached case); no root.

use std::path::PathBuf;
use std::process::Command;

use runtime::introspect::elf;
use runtime::introspect::frames::SourceFrames;

// Line numbers matter: the test expects `inner`'s marker on line 4, its call in `middle`
// on line 9 and `middle`'s call in `outer` on line 14.
const SOURCE: &str = r#"volatile int sink;
__attribute__((always_inline)) static inline void inner(int v)
{
	sink = v; __asm__ volatile("inner_marker: nop");
}
__attribute__((always_inline)) static inline void middle(int v)
{
	sink = v + 1;
	inner(v * 2);
}
__attribute__((noinline)) void outer(int v)
{
	sink = v + 3;
	middle(v);
}
int main(void)
{
	outer(1);
	return 0;
}
"#;

fn build(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("frames-{name}"));
    std::fs::create_dir_all(&dir).expect("create the build directory");
    let src = dir.join("prog.c");
    std::fs::write(&src, SOURCE).expect("write the source");
    let bin = dir.join("prog");
    let ok = Command::new("gcc")
        .args(["-g", "-O1", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .expect("run gcc");
    assert!(ok.success(), "gcc failed");
    bin
}

/// The file offset of the `inner_marker` label: code inlined twice into `outer`.
fn marker_offset(bin: &std::path::Path) -> u64 {
    let syms = elf::function_symbols(bin).expect("symbols");
    let outer = syms
        .iter()
        .find(|s| s.name == "outer")
        .expect("outer is a symbol");
    // The label is a local non-function symbol; find it through nm.
    let out = Command::new("nm").arg(bin).output().expect("run nm");
    let text = String::from_utf8_lossy(&out.stdout);
    let addr = text
        .lines()
        .find(|l| l.ends_with(" inner_marker"))
        .and_then(|l| u64::from_str_radix(l.split_whitespace().next()?, 16).ok())
        .expect("inner_marker in nm's output");
    let outer_off = outer.file_offset.expect("outer has a file offset");
    // Non-PIE or PIE, code addresses and offsets differ by the same amount within .text.
    outer_off + (addr - outer.addr)
}

fn describe(frames: &SourceFramesOut) -> Vec<String> {
    frames
        .iter()
        .map(|f| {
            let (file, line) = f.location.clone().unwrap_or_default();
            let file = file.rsplit('/').next().unwrap_or_default().to_string();
            format!("{}@{file}:{line}", f.function.clone().unwrap_or_default())
        })
        .collect()
}

type SourceFramesOut = Vec<runtime::introspect::frames::SourceFrame>;

const EXPECTED: [&str; 3] = ["inner@prog.c:4", "middle@prog.c:9", "outer@prog.c:14"];

#[test]
fn inlined_chain_with_files_and_lines() {
    let bin = build("own");
    let frames = SourceFrames::load(&bin, &[]).expect("the binary has debug info");
    let at = frames.at_offset(marker_offset(&bin));
    assert_eq!(describe(&at), EXPECTED);
    // An offset outside every loadable segment has no frames.
    assert!(frames.at_offset(u64::MAX / 2).is_empty());
}

#[test]
fn detached_compressed_debug_file() {
    let bin = build("detached");
    let debug = bin.with_extension("debug");
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new("objcopy")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !run(&[
        "--only-keep-debug".as_ref(),
        "--compress-debug-sections=zlib".as_ref(),
        bin.as_os_str(),
        debug.as_os_str(),
    ]) {
        eprintln!("skipping: objcopy is not installed");
        return;
    }
    let offset = marker_offset(&bin);
    let link = format!("--add-gnu-debuglink={}", debug.display());
    assert!(run(&[
        "--strip-debug".as_ref(),
        link.as_ref(),
        bin.as_os_str()
    ]));
    let frames = SourceFrames::load(&bin, &[]).expect("the debug link is followed");
    assert_eq!(describe(&frames.at_offset(offset)), EXPECTED);
    // Without its debug file the binary has no source frames.
    std::fs::remove_file(&debug).expect("remove the debug file");
    assert!(SourceFrames::load(&bin, &[]).is_none());
}

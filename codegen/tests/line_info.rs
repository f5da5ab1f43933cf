//! Tier 1: the object carries BTF line info for the script's lines (which is what lets the
//! verifier log, and so rbt's diagnostics, name the script line of a refused instruction).

use lang::check;
use stdlib::catalog::EmptyCatalog;

const SCRIPT: &str = "BEGIN {
  @start = nsecs;
  printf(\"hello\\n\");
}

interval:s:1 {
  @ticks = count();
  if (@ticks > 2) {
    exit();
  }
}
";

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

/// The NUL-terminated string at `off` of a BTF string table.
fn btf_str(strings: &[u8], off: u32) -> String {
    let s = &strings[off as usize..];
    let end = s.iter().position(|c| *c == 0).expect("NUL-terminated");
    String::from_utf8_lossy(&s[..end]).into_owned()
}

/// (section name, file name, line, column) of every line info record of the object.
fn line_info(elf: &[u8]) -> Vec<(String, String, u32, u32)> {
    let obj = goblin::elf::Elf::parse(elf).expect("an ELF object");
    let section = |name: &str| {
        let sh = obj
            .section_headers
            .iter()
            .find(|sh| obj.shdr_strtab.get_at(sh.sh_name) == Some(name))
            .unwrap_or_else(|| panic!("no {name} section"));
        &elf[sh.sh_offset as usize..(sh.sh_offset + sh.sh_size) as usize]
    };
    let btf = section(".BTF");
    assert_eq!(u16::from_le_bytes([btf[0], btf[1]]), 0xeb9f, "BTF magic");
    let strings = &btf[(u32_at(btf, 4) + u32_at(btf, 16)) as usize..];
    let ext = section(".BTF.ext");
    assert_eq!(
        u16::from_le_bytes([ext[0], ext[1]]),
        0xeb9f,
        "BTF.ext magic"
    );
    let hdr_len = u32_at(ext, 4) as usize;
    let (off, len) = (u32_at(ext, 16) as usize, u32_at(ext, 20) as usize);
    let info = &ext[hdr_len + off..hdr_len + off + len];
    let rec_size = u32_at(info, 0) as usize;
    let mut out = Vec::new();
    let mut at = 4;
    while at < info.len() {
        let sec = btf_str(strings, u32_at(info, at));
        let count = u32_at(info, at + 4) as usize;
        at += 8;
        for _ in 0..count {
            let file = btf_str(strings, u32_at(info, at + 4));
            let line_col = u32_at(info, at + 12);
            out.push((sec.clone(), file, line_col >> 10, line_col & 0x3ff));
            at += rec_size;
        }
    }
    out
}

#[test]
fn every_statement_line_has_line_info() {
    let (ast, diags) = lang::parse(SCRIPT);
    assert!(diags.is_empty(), "{diags:?}");
    let checked = check::check(&ast, &EmptyCatalog, &check::Options::default());
    let hir = checked.script.expect("the script checks");
    let opts = codegen::Options {
        want_ir: false,
        file_name: "multi.bt",
        helper_warnings: false,
        source: SCRIPT,
        ..Default::default()
    };
    let (compiled, _) = codegen::compile(&hir, opts).expect("compiles");
    let info = line_info(&compiled.elf);
    assert!(
        info.iter().all(|(_, file, _, _)| file == "multi.bt"),
        "{info:?}"
    );
    let lines = |sec: &str| -> Vec<u32> {
        info.iter()
            .filter(|(s, ..)| s == sec)
            .map(|(_, _, line, _)| *line)
            .collect()
    };
    // BEGIN is a raw tracepoint program, interval a perf event one.
    let begin = lines("raw_tp");
    let interval = lines("perf_event");
    for line in [2, 3] {
        assert!(begin.contains(&line), "BEGIN lacks line {line}: {begin:?}");
    }
    for line in [7, 8, 9] {
        assert!(
            interval.contains(&line),
            "interval lacks line {line}: {interval:?}"
        );
    }
    // Columns point at the statement: `@ticks = count();` starts in column 3.
    assert!(
        info.iter()
            .any(|(s, _, l, c)| s == "perf_event" && *l == 7 && *c == 3),
        "{info:?}"
    );
}

//! Tier 1: how many BPF instructions each program of a set of representative scripts compiles
//! to, kept as an insta snapshot. Code size is what the verifier pays for and what limits a
//! script's size; a change that grows it shows up here in review, while whole-IR goldens would
//! drift with every harmless change. Scripts need no kernel: the checker runs on the
//! `EmptyCatalog`.

use goblin::elf::Elf;
use lang::check;
use std::fmt::Write;
use stdlib::catalog::EmptyCatalog;

const SCRIPTS: &[&str] = &[
    r#"BEGIN { printf("hi\n"); exit(); }"#,
    "kprobe:f { @[comm] = count(); }",
    "kprobe:f { @c[tid] = sum(1); @h = hist(arg0); }",
    "kprobe:f { @l = lhist(arg0, 0, 100, 10); @s = stats(arg1); @a = avg(arg1); @m = max(arg2); }",
    r#"kprobe:f { printf("%d %d %s\n", pid, tid, comm); }"#,
    "kprobe:f { @a[pid] = 1; } kprobe:g { @b[tid] = 2; }",
    r#"kprobe:f { $s = str(arg0); if ($s == "x") { printf("%s\n", $s); } }"#,
    "kprobe:f { @[str(arg0), comm, pid] = count(); }",
    r#"kprobe:f { @t[tid] = (str(arg0), arg1, "x"); }"#,
    "kprobe:f { @start[tid] = nsecs; } kretprobe:f /@start[tid]/ { @us = hist((nsecs - @start[tid]) / 1000); delete(@start[tid]); }",
    "kprobe:f { @[kstack, ustack] = count(); }",
    r#"kprobe:f { printf("%s %s\n", ntop(arg0), macaddr(arg1)); }"#,
    "kprobe:f { $i = 0; while ($i < 10) { @x[$i] = $i; $i++; } }",
    "kprobe:f { @x[pid] = 1; } interval:s:1 { print(@x); clear(@x); time(); }",
    r#"uprobe:/bin/sh:main { printf("%s\n", usym(reg("ip"))); @[ustack(5)] = count(); }"#,
];

/// Instructions per program (function symbol) of a BPF ELF: 8 bytes each, so `ld_imm64`
/// counts twice, as the verifier counts it.
fn counts(elf: &[u8]) -> Vec<(String, usize)> {
    let obj = Elf::parse(elf).expect("codegen wrote an ELF goblin can read");
    obj.syms
        .iter()
        .filter(|sym| sym.is_function() && sym.st_size > 0)
        .map(|sym| {
            let name = obj.strtab.get_at(sym.st_name).unwrap_or("?").to_string();
            (name, (sym.st_size / 8) as usize)
        })
        .collect()
}

#[test]
fn instruction_counts() {
    let mut report = String::new();
    for script in SCRIPTS {
        let (ast, diags) = lang::parse(script);
        assert!(diags.iter().all(|d| !d.is_error()), "{script}: {diags:?}");
        let checked = check::check(&ast, &EmptyCatalog, &check::Options::default());
        let hir = checked
            .script
            .unwrap_or_else(|| panic!("{script}: {:?}", checked.diagnostics));
        let (compiled, _) = codegen::compile(
            &hir,
            codegen::Options {
                want_ir: false,
                file_name: "stdin",
                helper_warnings: false,
                source: script,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{script}: {e}"));
        writeln!(report, "{script}").unwrap();
        for (program, n) in counts(&compiled.elf) {
            writeln!(report, "    {program}: {n}").unwrap();
        }
    }
    insta::assert_snapshot!(report);
}

//! CO-RE: a compiled script's kernel struct field reads carry `.BTF.ext` field relocations
//! that libbpf resolves against the running kernel's BTF at load time. This compiles scripts
//! with the real `rbt` against this machine's BTF (`--check`: no root, nothing is loaded) and
//! reads the relocations back from the object: the relocated record, the access string
//! (`0:i:j`: the first record's member `i`, in it member `j`, …, counted in the object's
//! own BTF, where each relocated record has only the member the path goes through) and the
//! kind (0, the field's byte offset).

use std::process::Command;

/// One relocation of the object: (record name, access string, kind).
type Relocation = (String, String, u32);

fn compiled(script: &str) -> Option<Vec<u8>> {
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        eprintln!("skipped: this kernel has no BTF (/sys/kernel/btf/vmlinux)");
        return None;
    }
    // Tests run in parallel threads of one process: each object gets a name of its own.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!("rbt-core-{}-{n}.o", std::process::id()));
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .arg("--check")
        .arg("--emit-elf")
        .arg(&out)
        .args(["-e", script])
        .output()
        .expect("run rbt");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let elf = std::fs::read(&out).expect("read the object");
    let _ = std::fs::remove_file(&out);
    Some(elf)
}

fn u16_at(d: &[u8], at: usize) -> usize {
    u16::from_le_bytes([d[at], d[at + 1]]) as usize
}

fn u32_at(d: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(d[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(d: &[u8], at: usize) -> usize {
    u64::from_le_bytes(d[at..at + 8].try_into().expect("8 bytes")) as usize
}

/// The contents of the ELF64 (little-endian) section `name`.
fn section<'a>(elf: &'a [u8], name: &str) -> &'a [u8] {
    let (shoff, shentsize, shnum, shstrndx) = (
        u64_at(elf, 0x28),
        u16_at(elf, 0x3a),
        u16_at(elf, 0x3c),
        u16_at(elf, 0x3e),
    );
    let header = |i: usize| shoff + i * shentsize;
    let names = u64_at(elf, header(shstrndx) + 0x18);
    (0..shnum)
        .map(header)
        .find(|&h| {
            let at = names + u32_at(elf, h) as usize;
            elf[at..].split(|&b| b == 0).next() == Some(name.as_bytes())
        })
        .map(|h| &elf[u64_at(elf, h + 0x18)..][..u64_at(elf, h + 0x20)])
        .unwrap_or_else(|| panic!("no {name} section"))
}

/// The CO-RE relocations of `elf`, from `.BTF.ext` (names and strings from `.BTF`).
fn relocations(elf: &[u8]) -> Vec<Relocation> {
    relocation_sites(elf).into_iter().map(|(r, _)| r).collect()
}

/// The CO-RE relocations of `elf` with the byte offset of each one's instruction.
fn relocation_sites(elf: &[u8]) -> Vec<(Relocation, u32)> {
    let (btf, ext) = (section(elf, ".BTF"), section(elf, ".BTF.ext"));
    let hdr = u32_at(btf, 4) as usize;
    let (types, types_len) = (hdr + u32_at(btf, 8) as usize, u32_at(btf, 12) as usize);
    let strings = hdr + u32_at(btf, 16) as usize;
    let string = |off: u32| {
        let s = &btf[strings + off as usize..];
        String::from_utf8_lossy(s.split(|&b| b == 0).next().unwrap_or_default()).into_owned()
    };
    // Type names by id (id 0 is void); each kind's extra data follows its 12-byte header.
    let mut names = vec![String::new()];
    let mut at = types;
    while at < types + types_len {
        let info = u32_at(btf, at + 4);
        let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
        names.push(string(u32_at(btf, at)));
        at += 12
            + match kind {
                1 | 14 | 17 => 4,
                3 => 12,
                4 | 5 | 15 | 19 => 12 * vlen,
                6 | 13 => 8 * vlen,
                _ => 0,
            };
    }
    let ext_hdr = u32_at(ext, 4) as usize;
    assert!(ext_hdr >= 32, ".BTF.ext has no CO-RE relocation part");
    let start = ext_hdr + u32_at(ext, 24) as usize;
    let end = start + u32_at(ext, 28) as usize;
    let mut out = Vec::new();
    if start == end {
        return out;
    }
    let record = u32_at(ext, start) as usize;
    let mut at = start + 4;
    while at < end {
        let n = u32_at(ext, at + 4) as usize;
        at += 8;
        for _ in 0..n {
            let ty = u32_at(ext, at + 4) as usize;
            out.push((
                (
                    names.get(ty).cloned().unwrap_or_default(),
                    string(u32_at(ext, at + 8)),
                    u32_at(ext, at + 12),
                ),
                u32_at(ext, at),
            ));
            at += record;
        }
    }
    out
}

fn reloc(record: &str, access: &str) -> Relocation {
    (record.to_string(), access.to_string(), 0)
}

#[test]
fn field_chains_are_relocated() {
    let Some(elf) = compiled(r#"BEGIN { printf("%d\n", curtask->real_parent->pid); }"#) else {
        return;
    };
    // `real_parent` in the current task, then `pid` in the parent task.
    assert_eq!(
        relocations(&elf),
        vec![reloc("task_struct", "0:0"), reloc("task_struct", "0:0")]
    );
}

#[test]
fn nested_records_enums_and_arrays_are_relocated() {
    let script = r#"BEGIN { printf("%d %d %c\n", curtask->se.load.weight, curtask->utask->state, curtask->comm[1]); }"#;
    let Some(elf) = compiled(script) else {
        return;
    };
    // `se.load.weight` is one relocation through three records; `utask` then its `state`
    // (an enum); `comm` is relocated and its second byte is one more.
    assert_eq!(
        relocations(&elf),
        vec![
            reloc("task_struct", "0:0:0:0"),
            reloc("task_struct", "0:0"),
            reloc("uprobe_task", "0:0"),
            reloc("task_struct", "0:0"),
        ]
    );
}

#[test]
fn script_records_are_not_relocated() {
    let script =
        "struct s { int a; int b; } BEGIN { printf(\"%d\\n\", ((struct s *)curtask)->b); }";
    let Some(elf) = compiled(script) else {
        return;
    };
    assert_eq!(relocations(&elf), vec![]);
}

#[test]
fn tracepoint_fields_are_relocated_against_the_event_record() {
    let script =
        "tracepoint:sched:sched_switch { printf(\"%s %d\\n\", args.next_comm, args.next_pid); }";
    let Some(elf) = compiled(script) else {
        return;
    };
    // The format file's fields are members of `struct trace_event_raw_sched_switch`.
    let relocs = relocations(&elf);
    assert_eq!(relocs.len(), 2, "{relocs:?}");
    assert!(relocs
        .iter()
        .all(|r| *r == reloc("trace_event_raw_sched_switch", "0:0")));
}

#[test]
fn events_of_a_class_are_relocated_against_the_class_record() {
    let Some(elf) = compiled(r#"tracepoint:sched:sched_wakeup { printf("%d\n", args.pid); }"#)
    else {
        return;
    };
    assert_eq!(
        relocations(&elf),
        vec![reloc("trace_event_raw_sched_wakeup_template", "0:0")]
    );
}

#[test]
fn syscall_tracepoints_keep_their_offsets() {
    // BTF describes syscall records only as `args[6]`, whose layout does not change.
    let script = r#"tracepoint:syscalls:sys_enter_openat { printf("%s\n", str(args.filename)); }"#;
    let Some(elf) = compiled(script) else {
        return;
    };
    assert_eq!(relocations(&elf), vec![]);
}

#[test]
fn a_relocated_instruction_maps_to_its_script_line() {
    // Kernels before 6.3 do not name the script line in the verifier log; the runtime then
    // looks the failing instruction (where libbpf left a failed relocation) up in the object.
    let script =
        "BEGIN {\n  printf(\"%d\\n\", pid);\n  printf(\"%d\\n\", curtask->real_parent->pid);\n}";
    let Some(elf) = compiled(script) else {
        return;
    };
    let sites = relocation_sites(&elf);
    assert!(!sites.is_empty());
    for (_, off) in sites {
        assert_eq!(
            runtime::line_of_instruction(&elf, "BEGIN_0", off / 8),
            Some(3)
        );
    }
}

#[test]
fn fields_inside_anonymous_records_are_relocated() {
    // `mm_count` sits in two anonymous structs of `mm_struct` (libbpf finds it there by
    // name) and is an `atomic_t`, an anonymous struct the object's BTF leaves unnamed.
    let script = r#"BEGIN { printf("%d\n", curtask->mm->mm_count.counter); }"#;
    let Some(elf) = compiled(script) else {
        return;
    };
    assert_eq!(
        relocations(&elf),
        vec![reloc("task_struct", "0:0"), reloc("mm_struct", "0:0:0")]
    );
}

#[test]
fn bitfields_are_relocated_with_their_size_and_shifts() {
    let Some(elf) = compiled(r#"BEGIN { printf("%d\n", curtask->in_execve); }"#) else {
        return;
    };
    // Where its bytes are (0), how many (1), and the left (4) and right (5) shifts that
    // isolate its bits: libbpf computes all four for the running kernel.
    let kinds: Vec<u32> = relocations(&elf).into_iter().map(|(_, _, k)| k).collect();
    assert_eq!(kinds, vec![0, 1, 4, 5]);
}

#[test]
fn comm_of_another_process_is_relocated() {
    // comm(pid) reads `task_struct.comm` of the task bpf_task_from_pid returns.
    let script = "iter:task { printf(\"%s\\n\", comm(1)); exit(); }";
    let Some(elf) = compiled(script) else {
        return;
    };
    assert!(relocations(&elf).contains(&reloc("task_struct", "0:0")));
}

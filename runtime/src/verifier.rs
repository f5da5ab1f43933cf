//! Reading the kernel verifier's log of a refused program: the script line it stopped at and
//! its reason in words. The script line comes from the annotations the kernel prints before
//! instructions once the object carries BTF line info (`; <line text> @ <file>:<line>`,
//! emitted by codegen); the last one before the failing instruction names the culprit.
//! Kernels before 6.3 print only the line's text, which LLVM leaves empty for `-e` scripts:
//! then the failing instruction's line is looked up in the object's own line info
//! ([`line_of_instruction`]).

/// A program the verifier refused, as data the caller renders against the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The probe whose program was refused (`BEGIN`, `tracepoint:syscalls:sys_enter_read`).
    pub probe: String,
    /// The errno of the load (`EINVAL`, `EACCES`, `E2BIG`, …).
    pub errno: i32,
    /// The 1-based script line of the failing instruction, when the log names one.
    pub line: Option<u32>,
    /// The index of the last instruction the log shows, in the program's function: the
    /// failing one.
    pub insn: Option<u32>,
    /// The verifier's message: the first line says what is wrong, any others add detail.
    pub reason: Vec<String>,
    /// The whole log, for `-v`.
    pub log: String,
}

/// Lines after the failing instruction that describe verifier state or statistics, not the
/// reason (`cur state:`/`old state:` follow "infinite loop detected").
const NOT_REASONS: &[&str] = &[
    "processed ",
    "cur state:",
    "old state:",
    "verification time",
    "stack depth",
    "mark_precise:",
];

/// Most reasons take one or two lines; a long tail is verifier state, left to `-v`.
const MAX_REASON_LINES: usize = 3;

impl Rejection {
    /// Reads `log`, the verifier's output for the program of `probe`.
    pub fn from_log(probe: String, errno: i32, log: String) -> Rejection {
        let lines: Vec<&str> = log.lines().collect();
        let last_insn = lines.iter().rposition(|l| is_instruction(l));
        // libbpf's placeholder for a failed relocation is the failing instruction too.
        let insn = lines.iter().rev().find_map(|l| {
            instruction_index(l).filter(|_| is_instruction(l) || l.contains(": <invalid CO-RE"))
        });
        let line = lines[..last_insn.map_or(0, |i| i + 1)]
            .iter()
            .rev()
            .find_map(|l| annotation(l).map(|a| a.line));
        let after = last_insn.map_or(0, |i| i + 1);
        if let Some(field) = lines[after..].iter().find_map(|l| failed_relocation(l)) {
            return Rejection {
                probe,
                errno,
                line,
                insn,
                reason: vec![format!(
                    "the running kernel has no {field}: the program was compiled against \
                     another kernel's BTF, and this field could not be relocated"
                )],
                log,
            };
        }
        let reason = lines[after..]
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty() && !l.starts_with(';'))
            .filter(|l| !NOT_REASONS.iter().any(|p| l.starts_with(p)))
            .take(MAX_REASON_LINES)
            .map(str::to_string)
            .collect();
        Rejection {
            probe,
            errno,
            line,
            insn,
            reason,
            log,
        }
    }
}

/// The instruction index a log line starts with (`19: …`).
fn instruction_index(line: &str) -> Option<u32> {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || !line[digits..].starts_with(": ") {
        return None;
    }
    line[..digits].parse().ok()
}

/// The script line of instruction `insn` of function `program` in the BPF object `elf`, from
/// the object's `.BTF.ext` line info (records of byte offsets in the function's section and
/// `line << 10 | column`). `None` when the object has no line info for it.
pub fn line_of_instruction(elf: &[u8], program: &str, insn: u32) -> Option<u32> {
    let obj = goblin::elf::Elf::parse(elf).ok()?;
    let sym = obj
        .syms
        .iter()
        .find(|s| s.is_function() && obj.strtab.get_at(s.st_name) == Some(program))?;
    let section = obj.section_headers.get(sym.st_shndx)?;
    let section_name = obj.shdr_strtab.get_at(section.sh_name)?;
    let data = |name: &str| {
        let h = obj
            .section_headers
            .iter()
            .find(|h| obj.shdr_strtab.get_at(h.sh_name) == Some(name))?;
        let start = usize::try_from(h.sh_offset).ok()?;
        elf.get(start..start.checked_add(usize::try_from(h.sh_size).ok()?)?)
    };
    let (btf, ext) = (data(".BTF")?, data(".BTF.ext")?);
    let u32_at = |d: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(
            d.get(at..at.checked_add(4)?)?.try_into().ok()?,
        ))
    };
    // .BTF's header: strings at hdr_len + str_off.
    let strings = btf.get(usize::try_from(u32_at(btf, 4)? + u32_at(btf, 16)?).ok()?..)?;
    let string = |off: u32| {
        let s = strings.get(off as usize..)?;
        std::str::from_utf8(s.split(|&b| b == 0).next()?).ok()
    };
    // .BTF.ext's header: hdr_len at 4, line info offset and length at 16 and 20.
    let start = usize::try_from(u32_at(ext, 4)? + u32_at(ext, 16)?).ok()?;
    let end = start.checked_add(usize::try_from(u32_at(ext, 20)?).ok()?)?;
    let record = usize::try_from(u32_at(ext, start)?).ok()?.max(16);
    let target = sym.st_value.checked_add(u64::from(insn) * 8)?;
    let mut at = start + 4;
    while at + 8 <= end {
        let name = string(u32_at(ext, at)?)?;
        let count = usize::try_from(u32_at(ext, at + 4)?).ok()?;
        at += 8;
        if name == section_name {
            // Records are sorted by offset: the last one at or before the instruction.
            let mut line = None;
            for i in 0..count {
                let r = at + i * record;
                if u64::from(u32_at(ext, r)?) > target {
                    break;
                }
                line = Some(u32_at(ext, r + 12)? >> 10).filter(|&l| l > 0).or(line);
            }
            return line;
        }
        at = at.checked_add(count.checked_mul(record)?)?;
    }
    None
}

/// The field a failed CO-RE relocation names (`struct task_struct.real_parent`). libbpf
/// leaves an invalid instruction where a field the running kernel lacks was used, and
/// rewrites the verifier's complaint about it into
/// `failed to resolve CO-RE relocation <byte_off> [44] struct task_struct.real_parent (0:0 @ offset 1280)`.
fn failed_relocation(line: &str) -> Option<&str> {
    let rest = line
        .trim()
        .strip_prefix("failed to resolve CO-RE relocation ")?;
    let (_, spec) = rest.split_once("] ")?;
    Some(
        spec.rsplit_once(" (")
            .map_or(spec, |(field, _)| field)
            .trim(),
    )
}

/// Whether a log line prints an instruction: `19: (85) call bpf_map_lookup_elem#1`.
fn is_instruction(line: &str) -> bool {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && line[digits..].starts_with(": (")
}

/// A source annotation of the log: `; @x = 1; @ script.bt:4`.
struct Annotation<'a> {
    /// The script line's text: empty when LLVM could not read the script from a file (`-e`).
    text: &'a str,
    /// `script.bt:4`
    place: &'a str,
    line: u32,
}

/// Reads an annotation line. The text may itself hold " @ ", so the last one counts.
fn annotation(line: &str) -> Option<Annotation<'_>> {
    let rest = line.strip_prefix(';')?;
    let (text, place) = rest.rsplit_once(" @ ")?;
    let place = place.trim();
    let (_, number) = place.rsplit_once(':')?;
    Some(Annotation {
        text: text.trim(),
        place,
        line: number.parse().ok()?,
    })
}

impl Rejection {
    /// The whole log, with the script's text filled into annotations that lack it.
    pub fn log_with_source(&self, source: &str) -> String {
        let script = stdlib::diag::Lines::new(source);
        let lines: Vec<String> = self
            .log
            .lines()
            .map(|l| match annotation(l) {
                Some(a) if a.text.is_empty() => {
                    let text = script.text(a.line as usize).map_or("", str::trim);
                    format!("; {text} @ {}", a.place)
                }
                _ => l.to_string(),
            })
            .collect();
        lines.join("\n")
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reason = self.reason.first().map_or("", String::as_str);
        write!(f, "the BPF verifier refused probe `{}`", self.probe)?;
        if !reason.is_empty() {
            write!(f, ": {reason}")?;
        }
        if let Some(line) = self.line {
            write!(f, " (script line {line})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real log (Linux 6.18, shortened) for `while ($i < 10) { @x = 1; }` on line 3 of a
    /// script given with -e.
    const INFINITE_LOOP: &str = "\
0: R1=ctx() R10=fp0
;  @ stdin:1
0: (b7) r6 = 1                        ; R6=1
2: (b4) w8 = 0                        ; R8=0
;  @ stdin:3
3: (7b) *(u64 *)(r10 -16) = r6        ; R6=1 R10=fp0 fp-16=1
24: (05) goto pc-22
3: (7b) *(u64 *)(r10 -16) = r6        ; R6=1 R10=fp0 fp-16=1
19: (85) call bpf_map_lookup_elem#1
infinite loop detected at insn 20
cur state: R0=map_value(map=rbt_map_full,ks=4,vs=8) R6=1 R7=0 R8=0 R10=fp0 fp-8=????0 fp-16=1 fp-24=0
old state: R0=map_value(map=rbt_map_full,ks=4,vs=8) R6=1 R7=0 R8=P0 R10=fp0 fp-8=????0 fp-16=1 fp-24=0
processed 39 insns (limit 1000000) max_states_per_insn 0 total_states 2 peak_states 2 mark_read 0
";

    #[test]
    fn finds_the_line_and_the_reason() {
        let r = Rejection::from_log("BEGIN".into(), 22, INFINITE_LOOP.into());
        assert_eq!(r.line, Some(3));
        assert_eq!(r.reason, vec!["infinite loop detected at insn 20"]);
        let source = "BEGIN {\n  $i = 0;\n  while ($i < 10) { @x = 1; }\n}";
        let log = r.log_with_source(source);
        assert!(
            log.contains("\n; while ($i < 10) { @x = 1; } @ stdin:3\n"),
            "{log}"
        );
        assert!(log.contains("\n; BEGIN { @ stdin:1\n"), "{log}");
    }

    #[test]
    fn annotations_without_text_and_with_at_signs() {
        let line = |l| annotation(l).map(|a| a.line);
        assert_eq!(line(";  @ stdin:7"), Some(7));
        assert_eq!(line("; printf(\"a @ b:1\") @ x.bt:12"), Some(12));
        assert_eq!(line("19: (85) call"), None);
        assert!(is_instruction("19: (85) call bpf_map_lookup_elem#1"));
        assert!(!is_instruction("19: R1=ctx()"));
    }

    /// A program compiled where `task_struct` had `real_parent_x`, loaded on a kernel without
    /// it (Linux 6.18, shortened; libbpf rewrote the last two lines).
    const FAILED_RELOCATION: &str = "\
; printf(\"%d\\n\", pid); @ c3.bt:2
21: (85) call bpf_ringbuf_submit#132          ;
22: (05) goto pc+8
; printf(\"%d\\n\", curtask->real_parent->pid); @ c3.bt:3
31: (85) call bpf_get_current_task#35         ; R0=scalar()
32: <invalid CO-RE relocation>
failed to resolve CO-RE relocation <byte_off> [44] struct task_struct.real_parent_x (0:0 @ offset 1280)
processed 23 insns (limit 1000000) max_states_per_insn 0 total_states 2 peak_states 2 mark_read 0
";

    #[test]
    fn a_failed_relocation_names_the_field_and_the_line() {
        let r = Rejection::from_log("BEGIN".into(), 22, FAILED_RELOCATION.into());
        assert_eq!(r.line, Some(3));
        assert_eq!(r.reason.len(), 1);
        assert!(
            r.reason[0].starts_with("the running kernel has no struct task_struct.real_parent_x:"),
            "{:?}",
            r.reason
        );
    }

    #[test]
    fn the_failing_instruction_is_the_last_one_shown() {
        let r = Rejection::from_log("BEGIN".into(), 22, FAILED_RELOCATION.into());
        assert_eq!(r.insn, Some(32));
        let r = Rejection::from_log("BEGIN".into(), 22, INFINITE_LOOP.into());
        assert_eq!(r.insn, Some(19));
    }

    #[test]
    fn logs_without_line_info_still_give_a_reason() {
        let log =
            "0: (85) call bpf_ktime_get_ns#5\nR1 invalid mem access 'scalar'\nprocessed 1 insns\n";
        let r = Rejection::from_log("BEGIN".into(), 13, log.into());
        assert_eq!(r.line, None);
        assert_eq!(r.reason, vec!["R1 invalid mem access 'scalar'"]);
    }
}

//! DWARF CFI unwinding of `dw_ustack` captures, as `perf record --call-graph dwarf` does it:
//! the probe copies the user registers and the top of the user stack
//! (`stdlib::abi::dwstack`); here each frame's return address is found with the call frame
//! information (`.eh_frame`, else `.debug_frame`) of the object the frame's code belongs to,
//! read from the copied stack, and the walk goes on from the caller. This works for code
//! built without frame pointers, which the kernel's frame-pointer walk (`ustack`) cannot follow.
//!
//! Only x86-64 is handled: the registers an unwinder needs there are `rip`, `rsp` and `rbp`.

use gimli::{
    BaseAddresses, CfaRule, DebugFrame, DebugFrameOffset, EhFrame, EhFrameOffset, LittleEndian,
    Register, RegisterRule, UnwindContext, UnwindOffset, UnwindSection, X86_64,
};
use std::rc::Rc;

type Slice<'a> = gimli::EndianSlice<'a, LittleEndian>;

/// The registers the walk starts from: the user registers when the probe fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regs {
    pub ip: u64,
    pub sp: u64,
    pub bp: u64,
}

/// One line of /proc/PID/maps that maps a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    /// Offset in the file of the mapping's first byte.
    pub offset: u64,
    pub path: String,
}

impl Mapping {
    /// The path of the object `addr` falls in and `addr`'s offset in that file.
    pub fn locate(maps: &[Mapping], addr: u64) -> Option<(String, u64)> {
        maps.iter()
            .find(|m| m.start <= addr && addr < m.end)
            .map(|m| (m.path.clone(), addr - m.start + m.offset))
    }
}

/// The file-backed mappings of /proc/PID/maps text (anonymous memory has no CFI).
pub fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (start, end) = f.next()?.split_once('-')?;
            let _perms = f.next()?;
            let offset = u64::from_str_radix(f.next()?, 16).ok()?;
            let path = f.nth(2)?;
            if !path.starts_with('/') {
                return None;
            }
            Some(Mapping {
                start: u64::from_str_radix(start, 16).ok()?,
                end: u64::from_str_radix(end, 16).ok()?,
                offset,
                path: path.to_string(),
            })
        })
        .collect()
}

/// Which CFI section a [`Table`] holds: their entries differ in how they point at their CIE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    EhFrame,
    DebugFrame,
}

/// A CFI section with its FDEs' address ranges sorted, so a lookup is a binary search
/// instead of gimli's walk over every entry (libc's `.eh_frame` has thousands).
struct Table {
    kind: Kind,
    data: Vec<u8>,
    bases: BaseAddresses,
    /// Start and end address of each FDE, and its offset in the section.
    fdes: Vec<(u64, u64, usize)>,
}

impl Table {
    fn new(kind: Kind, data: Vec<u8>, bases: BaseAddresses) -> Table {
        let mut table = Table {
            kind,
            data,
            bases,
            fdes: Vec::new(),
        };
        table.fdes = match kind {
            Kind::EhFrame => index(&EhFrame::new(&table.data, LittleEndian), &table.bases),
            Kind::DebugFrame => index(&DebugFrame::new(&table.data, LittleEndian), &table.bases),
        };
        table
    }

    fn rule(&self, ctx: &mut UnwindContext<usize>, vaddr: u64) -> Option<FrameRule> {
        let i = self
            .fdes
            .partition_point(|(start, _, _)| *start <= vaddr)
            .checked_sub(1)?;
        let (_, end, offset) = *self.fdes.get(i)?;
        if vaddr >= end {
            return None;
        }
        match self.kind {
            Kind::EhFrame => {
                let section = EhFrame::new(&self.data, LittleEndian);
                rule_at(&section, &self.bases, ctx, EhFrameOffset(offset), vaddr)
            }
            Kind::DebugFrame => {
                let section = DebugFrame::new(&self.data, LittleEndian);
                rule_at(&section, &self.bases, ctx, DebugFrameOffset(offset), vaddr)
            }
        }
    }
}

/// The address range and offset of every FDE of `section`, sorted by start address. A
/// malformed entry ends the section: what was read before it still serves.
fn index<'a, S: UnwindSection<Slice<'a>>>(
    section: &S,
    bases: &BaseAddresses,
) -> Vec<(u64, u64, usize)>
where
    S::Offset: UnwindOffset<usize>,
{
    let mut fdes = Vec::new();
    let mut entries = section.entries(bases);
    while let Ok(Some(entry)) = entries.next() {
        if let gimli::CieOrFde::Fde(partial) = entry {
            if let Ok(fde) = partial.parse(|s, b, o| s.cie_from_offset(b, o)) {
                let start = fde.initial_address();
                fdes.push((start, start.saturating_add(fde.len()), fde.offset()));
            }
        }
    }
    fdes.sort_unstable();
    fdes
}

/// The rule of the FDE at `offset` of `section` at address `vaddr`.
fn rule_at<'a, S: UnwindSection<Slice<'a>>>(
    section: &S,
    bases: &BaseAddresses,
    ctx: &mut UnwindContext<usize>,
    offset: S::Offset,
    vaddr: u64,
) -> Option<FrameRule> {
    let fde = section
        .fde_from_offset(bases, offset, |s, b, o| s.cie_from_offset(b, o))
        .ok()?;
    let row = fde
        .unwind_info_for_address(section, bases, ctx, vaddr)
        .ok()?;
    let cfa = match row.cfa() {
        CfaRule::RegisterAndOffset { register, offset } => (*register, *offset),
        // Expressions (PLT stubs, signal frames) are not evaluated: the walk stops there.
        CfaRule::Expression(_) => return None,
    };
    Some(FrameRule {
        cfa,
        ra: saved_at(row.register(X86_64::RA)),
        bp: saved_at(row.register(X86_64::RBP)),
    })
}

/// The CFA offset a register was saved at, for the rule that says it was saved.
fn saved_at(rule: RegisterRule<usize>) -> Option<i64> {
    match rule {
        RegisterRule::Offset(n) => Some(n),
        RegisterRule::Undefined
        | RegisterRule::SameValue
        | RegisterRule::ValOffset(_)
        | RegisterRule::Register(_)
        | RegisterRule::Expression(_)
        | RegisterRule::ValExpression(_)
        | RegisterRule::Architectural
        | RegisterRule::Constant(_) => None,
        // gimli's rule enum is non-exhaustive: a rule it adds later is one this walk cannot follow.
        _ => None,
    }
}

/// How to find the caller's registers at one instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameRule {
    /// The canonical frame address: this register plus an offset.
    cfa: (Register, i64),
    /// Where the return address is saved, from the CFA; `None` marks the outermost frame.
    ra: Option<i64>,
    /// Where the caller's `rbp` is saved, from the CFA; `None` when it is unchanged.
    bp: Option<i64>,
}

/// The call frame information of one object file.
pub struct ObjectCfi {
    /// `PT_LOAD` segments: file offset, virtual address, bytes in the file.
    loads: Vec<(u64, u64, u64)>,
    eh_frame: Option<Table>,
    debug_frame: Option<Table>,
}

impl ObjectCfi {
    /// Reads the CFI of the ELF file at `path`; `None` for a file that is not ELF or has
    /// no CFI.
    pub fn load(path: &std::path::Path) -> Option<ObjectCfi> {
        let data = std::fs::read(path).ok()?;
        ObjectCfi::parse(&data)
    }

    /// The CFI of ELF bytes `data`.
    pub fn parse(data: &[u8]) -> Option<ObjectCfi> {
        let elf = goblin::elf::Elf::parse(data).ok()?;
        let loads = elf
            .program_headers
            .iter()
            .filter(|p| p.p_type == goblin::elf::program_header::PT_LOAD)
            .map(|p| (p.p_offset, p.p_vaddr, p.p_filesz))
            .collect();
        let section = |name: &str| {
            elf.section_headers.iter().find(|s| {
                elf.shdr_strtab.get_at(s.sh_name) == Some(name)
                    && s.sh_type != goblin::elf::section_header::SHT_NOBITS
            })
        };
        let bytes = |s: &goblin::elf::SectionHeader| -> Option<Vec<u8>> {
            let start = usize::try_from(s.sh_offset).ok()?;
            let end = start.checked_add(usize::try_from(s.sh_size).ok()?)?;
            Some(data.get(start..end)?.to_vec())
        };
        let mut bases = BaseAddresses::default();
        if let Some(text) = section(".text") {
            bases = bases.set_text(text.sh_addr);
        }
        if let Some(got) = section(".got") {
            bases = bases.set_got(got.sh_addr);
        }
        let eh_frame = section(".eh_frame").and_then(|s| {
            let bases = bases.clone().set_eh_frame(s.sh_addr);
            Some(Table::new(Kind::EhFrame, bytes(s)?, bases))
        });
        let debug_frame = section(".debug_frame").and_then(|s| {
            Some(Table::new(
                Kind::DebugFrame,
                bytes(s)?,
                BaseAddresses::default(),
            ))
        });
        let cfi = ObjectCfi {
            loads,
            eh_frame,
            debug_frame,
        };
        cfi.has_cfi().then_some(cfi)
    }

    fn has_cfi(&self) -> bool {
        self.eh_frame.as_ref().is_some_and(|t| !t.fdes.is_empty())
            || self
                .debug_frame
                .as_ref()
                .is_some_and(|t| !t.fdes.is_empty())
    }

    /// The virtual address (as the CFI names code) of file offset `file_offset`.
    fn vaddr(&self, file_offset: u64) -> Option<u64> {
        self.loads
            .iter()
            .find(|(off, _, size)| *off <= file_offset && file_offset < off + size)
            .map(|(off, vaddr, _)| file_offset - off + vaddr)
    }

    /// The rule at virtual address `vaddr`: from `.eh_frame`, else from `.debug_frame`.
    fn rule(&self, ctx: &mut UnwindContext<usize>, vaddr: u64) -> Option<FrameRule> {
        self.eh_frame
            .as_ref()
            .and_then(|t| t.rule(ctx, vaddr))
            .or_else(|| self.debug_frame.as_ref().and_then(|t| t.rule(ctx, vaddr)))
    }
}

/// The copied top of the user stack: `bytes[i]` was at address `sp + i`.
struct Stack<'a> {
    sp: u64,
    bytes: &'a [u8],
}

impl Stack<'_> {
    fn read_u64(&self, addr: u64) -> Option<u64> {
        let at = usize::try_from(addr.checked_sub(self.sp)?).ok()?;
        let b = self.bytes.get(at..at.checked_add(8)?)?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    }
}

/// Unwinds a capture: at most `limit` frames, innermost first: the instruction pointer,
/// then in each caller the last byte of its call instruction (the return address - 1).
/// `object` gives the CFI of the file a mapping maps (`None` where there is none). The walk
/// stops at the outermost frame, at code without CFI, or where the copy of the stack ends.
pub fn unwind(
    regs: Regs,
    stack: &[u8],
    mappings: &[Mapping],
    object: &mut dyn FnMut(&Mapping) -> Option<Rc<ObjectCfi>>,
    limit: usize,
) -> Vec<u64> {
    let memory = Stack {
        sp: regs.sp,
        bytes: stack,
    };
    let mut ctx = UnwindContext::new();
    let mut frames = Vec::new();
    let (mut ip, mut sp, mut bp) = (regs.ip, regs.sp, regs.bp);
    while frames.len() < limit && ip != 0 {
        // A return address is the instruction after the call; the call itself (one byte
        // back) is what lies in the caller's function, which may end with that call. That
        // byte is also the frame bpftrace prints (`funcC+4` for a 5-byte call at +0).
        let lookup = if frames.is_empty() { ip } else { ip - 1 };
        frames.push(lookup);
        let Some(mapping) = mappings
            .iter()
            .find(|m| m.start <= lookup && lookup < m.end)
        else {
            break;
        };
        let Some(cfi) = object(mapping) else { break };
        let Some(vaddr) = cfi.vaddr(lookup - mapping.start + mapping.offset) else {
            break;
        };
        let Some(rule) = cfi.rule(&mut ctx, vaddr) else {
            break;
        };
        let base = match rule.cfa.0 {
            X86_64::RSP => sp,
            X86_64::RBP => bp,
            _ => break,
        };
        let cfa = base.wrapping_add_signed(rule.cfa.1);
        let Some(ra) = rule
            .ra
            .and_then(|off| memory.read_u64(cfa.wrapping_add_signed(off)))
        else {
            break;
        };
        if let Some(off) = rule.bp {
            match memory.read_u64(cfa.wrapping_add_signed(off)) {
                Some(v) => bp = v,
                None => break,
            }
        }
        // Each caller's frame lies above its callee's: a CFA at or below `sp` is a
        // corrupt stack or wrong CFI, and following it could loop.
        if cfa <= sp {
            break;
        }
        (ip, sp) = (ra, cfa);
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CIE with no augmentation (absolute FDE addresses), code alignment 1, data alignment
    /// -8, return address in register 16, whose initial rule is the one at a function's
    /// first instruction: CFA = rsp + 8, return address at CFA - 8.
    fn cie() -> Vec<u8> {
        let body = [
            0, 0, 0, 0,    // CIE id
            1,    // version
            0,    // augmentation ""
            1,    // code alignment
            0x78, // data alignment -8 (sleb128)
            16,   // return address register
            0x0c, 7, 8, // DW_CFA_def_cfa rsp, 8
            0x90, 1, // DW_CFA_offset r16, 1 * -8
            0, 0, // padding (DW_CFA_nop)
        ];
        let mut v = (body.len() as u32).to_le_bytes().to_vec();
        v.extend_from_slice(&body);
        v
    }

    /// An FDE of [start, start+len) at section offset `at`, whose instructions follow.
    fn fde(at: usize, start: u64, len: u64, insns: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        // The CIE pointer: the distance back to the CIE at offset 0.
        body.extend_from_slice(&((at + 4) as u32).to_le_bytes());
        body.extend_from_slice(&start.to_le_bytes());
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(insns);
        while (body.len() + 4) % 8 != 0 {
            body.push(0);
        }
        let mut v = (body.len() as u32).to_le_bytes().to_vec();
        v.extend_from_slice(&body);
        v
    }

    /// An object whose code is mapped 1:1 from file offset 0, with three functions
    /// compiled without frame pointers:
    /// leaf [0x1000, 0x1010): no frame of its own;
    /// mid [0x1100, 0x1200): `sub $24, %rsp` at 0x1104, so CFA = rsp + 32 after it;
    /// top [0x1200, 0x1300): `push %rbp` at 0x1200, CFA = rsp + 16, rbp saved at CFA - 16,
    /// and the return address marked undefined (the outermost frame, as `_start` is).
    fn object() -> ObjectCfi {
        let mut eh = cie();
        let at = eh.len();
        eh.extend(fde(at, 0x1000, 0x10, &[]));
        let at = eh.len();
        // DW_CFA_advance_loc 4; DW_CFA_def_cfa_offset 32
        eh.extend(fde(at, 0x1100, 0x100, &[0x44, 0x0e, 32]));
        let at = eh.len();
        // DW_CFA_advance_loc 1; DW_CFA_def_cfa_offset 16; DW_CFA_offset rbp, 2 * -8;
        // DW_CFA_undefined r16
        eh.extend(fde(at, 0x1200, 0x100, &[0x41, 0x0e, 16, 0x86, 2, 0x07, 16]));
        eh.extend([0, 0, 0, 0]); // terminator
        ObjectCfi {
            loads: vec![(0, 0, 0x10000)],
            eh_frame: Some(Table::new(
                Kind::EhFrame,
                eh,
                BaseAddresses::default().set_eh_frame(0),
            )),
            debug_frame: None,
        }
    }

    fn mapping() -> Vec<Mapping> {
        vec![Mapping {
            start: 0x40_0000,
            end: 0x41_0000,
            offset: 0,
            path: "/bin/test".into(),
        }]
    }

    /// A stack copied at sp = 0x7000 of leaf (no frame) called from mid+0x20 (after its
    /// `sub`), called from top+0x10 (after its `push %rbp`).
    fn capture() -> (Regs, Vec<u8>) {
        let sp = 0x7000u64;
        let mut stack = vec![0u8; 128];
        let mut put = |addr: u64, v: u64| {
            let at = (addr - sp) as usize;
            stack[at..at + 8].copy_from_slice(&v.to_le_bytes());
        };
        // leaf's CFA is sp + 8: mid's return address just below it.
        put(sp, 0x40_1120);
        // mid's frame: 24 bytes of locals, then top's return address; CFA = 0x7008 + 32.
        put(0x7008 + 24, 0x40_1210);
        // top's frame: the caller's rbp, then a return address the CFI says not to follow.
        put(0x7028, 0xfeed);
        put(0x7030, 0x40_1234);
        let regs = Regs {
            ip: 0x40_1000,
            sp,
            bp: 0xdead,
        };
        (regs, stack)
    }

    #[test]
    fn walks_frames_without_frame_pointers() {
        let cfi = Rc::new(object());
        let (regs, stack) = capture();
        let frames = unwind(regs, &stack, &mapping(), &mut |_| Some(cfi.clone()), 127);
        assert_eq!(frames, [0x40_1000, 0x40_111f, 0x40_120f]);
    }

    #[test]
    fn stops_at_the_limit_and_without_cfi() {
        let cfi = Rc::new(object());
        let (regs, stack) = capture();
        let two = unwind(regs, &stack, &mapping(), &mut |_| Some(cfi.clone()), 2);
        assert_eq!(two, [0x40_1000, 0x40_111f]);
        let none = unwind(regs, &stack, &mapping(), &mut |_| None, 127);
        assert_eq!(none, [0x40_1000]);
        // An address outside every mapping is printed but not followed.
        let outside = Regs { ip: 0x10, ..regs };
        let frames = unwind(outside, &stack, &mapping(), &mut |_| Some(cfi.clone()), 127);
        assert_eq!(frames, [0x10]);
    }

    #[test]
    fn stops_where_the_copy_ends() {
        let cfi = Rc::new(object());
        let (regs, stack) = capture();
        // Only leaf's return address was copied: mid's saved one is beyond the copy.
        let frames = unwind(
            regs,
            &stack[..16],
            &mapping(),
            &mut |_| Some(cfi.clone()),
            127,
        );
        assert_eq!(frames, [0x40_1000, 0x40_111f]);
    }

    #[test]
    fn reads_the_cfi_of_a_real_object() {
        // This test binary's own .eh_frame: at a function's first instruction the CFA is
        // rsp + 8 and the return address is just below it, whatever the compiler did after.
        let exe = std::env::current_exe().expect("test binary path");
        let cfi = ObjectCfi::load(&exe).expect("the test binary has CFI");
        let maps = parse_maps(&std::fs::read_to_string("/proc/self/maps").expect("maps"));
        let f = parse_maps as fn(&str) -> Vec<Mapping> as usize as u64;
        let m = maps
            .iter()
            .find(|m| m.start <= f && f < m.end)
            .expect("the function is mapped");
        let vaddr = cfi.vaddr(f - m.start + m.offset).expect("in a PT_LOAD");
        let rule = cfi
            .rule(&mut UnwindContext::new(), vaddr)
            .expect("a rule at the function's entry");
        assert_eq!(rule.cfa, (X86_64::RSP, 8));
        assert_eq!(rule.ra, Some(-8));
    }

    #[test]
    fn maps_lines() {
        let text = "00400000-00401000 r-xp 00001000 08:01 123 /usr/bin/x\n\
                    7ffd0000-7ffd1000 rw-p 00000000 00:00 0 [stack]\n\
                    7f000000-7f001000 rw-p 00000000 00:00 0\n";
        assert_eq!(
            parse_maps(text),
            [Mapping {
                start: 0x40_0000,
                end: 0x40_1000,
                offset: 0x1000,
                path: "/usr/bin/x".into()
            }]
        );
    }
}

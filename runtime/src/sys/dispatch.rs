//! The system call dispatcher: a small raw tracepoint program on `sys_enter` (or `sys_exit`)
//! that tail-calls the program a table holds at the syscall's number, so that the
//! programs of `tracepoint:syscalls:*` probes run as raw tracepoint programs (attached and
//! detached at once) rather than as perf tracepoints, each of which costs the kernel an RCU
//! grace period when it is detached.
//!
//! The dispatcher is written here as BPF instructions rather than compiled: it is a few
//! dozen instructions, it needs the table's descriptor and the traced numbers (known only
//! at run time), and `rbt-run` has no compiler.
//!
//! A kernel flaw seen on 6.18: when a program array's last descriptor closes, the kernel
//! clears it from a work item that holds a reference. If another process opens the array
//! by id and closes it again meanwhile (`bpftool map`, a `BPF_MAP_GET_FD_BY_ID` loop), a
//! reference is apparently lost: in a test, 7 of 30 runs beside such a loop left their
//! emptied array (a few KiB) behind for good; none did without the loop. rbt's programs
//! do not stay with it.

use super::{cstring, err, last_errno, SysError};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::raw::c_int;

/// `TS_COMPAT` in x86's `thread_info.status`: the task is in a 32-bit system call, whose
/// numbers are another table's. Syscall tracepoints ignore such calls, so the dispatcher does.
const TS_COMPAT: i32 = 0x2;
/// Offset in `struct pt_regs` of `orig_ax`, the syscall number (x86-64).
const PT_REGS_ORIG_AX: i32 = 120;

/// BPF helper ids.
const HELPER_TAIL_CALL: i32 = 12;
const HELPER_GET_CURRENT_TASK: i32 = 35;
const HELPER_PROBE_READ_KERNEL: i32 = 113;

/// A dispatcher attached to `sys_enter` or `sys_exit`. Dropping it detaches it (the link
/// goes first, then the program, then the table that holds the tail-called programs).
pub struct SyscallDispatcher {
    _link: OwnedFd,
    _prog: OwnedFd,
    _table: OwnedFd,
}

impl SyscallDispatcher {
    /// Fills a table of `size` slots with `programs` (syscall number, program descriptor),
    /// loads a dispatcher over it and attaches it to `sys_exit` (`exit`) or `sys_enter`.
    /// `compat_status` is the offset of `thread_info.status` from the task's address, when
    /// the kernel's BTF gives it.
    pub fn attach(
        exit: bool,
        size: u32,
        programs: &[(u32, c_int)],
        compat_status: Option<i32>,
    ) -> Result<SyscallDispatcher, SysError> {
        let tracepoint = if exit { "sys_exit" } else { "sys_enter" };
        let name = cstring(&format!("rbt_{tracepoint}"))?;
        // SAFETY: a plain syscall wrapper; null options are the defaults.
        let fd = unsafe {
            libbpf_sys::bpf_map_create(
                libbpf_sys::BPF_MAP_TYPE_PROG_ARRAY,
                name.as_ptr(),
                4,
                4,
                size,
                std::ptr::null(),
            )
        };
        if fd < 0 {
            return Err(err(
                format!("cannot create the {tracepoint} dispatch table"),
                last_errno(),
            ));
        }
        // SAFETY: a new descriptor that nothing else owns.
        let table = unsafe { OwnedFd::from_raw_fd(fd) };
        for (nr, prog) in programs {
            // SAFETY: key and value are live u32/i32 values of the table's sizes.
            let rc = unsafe {
                libbpf_sys::bpf_map_update_elem(
                    table.as_raw_fd(),
                    (nr as *const u32).cast(),
                    (prog as *const c_int).cast(),
                    0,
                )
            };
            if rc != 0 {
                return Err(err(
                    format!(
                        "cannot add the program of syscall {nr} to the {tracepoint} dispatch table"
                    ),
                    last_errno(),
                ));
            }
        }
        let traced: Vec<u32> = programs.iter().map(|(nr, _)| *nr).collect();
        let insns = program(exit, table.as_raw_fd(), size, &traced, compat_status);
        let license = c"GPL";
        let mut opts = libbpf_sys::bpf_prog_load_opts {
            sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
            ..Default::default()
        };
        // SAFETY: the instructions and options live across the call and `opts.sz` is its
        // real size; the descriptor returned is ours.
        let fd = unsafe {
            libbpf_sys::bpf_prog_load(
                libbpf_sys::BPF_PROG_TYPE_RAW_TRACEPOINT,
                name.as_ptr(),
                license.as_ptr(),
                insns.as_ptr(),
                insns.len() as _,
                &mut opts,
            )
        };
        if fd < 0 {
            return Err(err(
                format!("cannot load the {tracepoint} dispatcher"),
                last_errno(),
            ));
        }
        // SAFETY: a new descriptor that nothing else owns.
        let prog = unsafe { OwnedFd::from_raw_fd(fd) };
        let tp = cstring(tracepoint)?;
        // SAFETY: a valid name and program descriptor for the call.
        let fd = unsafe { libbpf_sys::bpf_raw_tracepoint_open(tp.as_ptr(), prog.as_raw_fd()) };
        if fd < 0 {
            return Err(err(
                format!("cannot attach to raw tracepoint {tracepoint}"),
                last_errno(),
            ));
        }
        // SAFETY: a new descriptor that nothing else owns.
        let link = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(SyscallDispatcher {
            _link: link,
            _prog: prog,
            _table: table,
        })
    }
}

/// One BPF instruction (the feature probes build theirs with it too).
pub(super) fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> libbpf_sys::bpf_insn {
    libbpf_sys::bpf_insn {
        code,
        _bitfield_align_1: [],
        _bitfield_1: libbpf_sys::bpf_insn::new_bitfield_1(dst, src),
        off,
        imm,
    }
}

/// Instruction encodings (`BPF_CLASS | BPF_OP | BPF_SRC`) the dispatcher uses.
const MOV64_REG: u8 = 0xbf;
const MOV32_REG: u8 = 0xbc;
pub(super) const MOV64_IMM: u8 = 0xb7;
const ADD64_IMM: u8 = 0x07;
const AND64_IMM: u8 = 0x57;
const AND64_REG: u8 = 0x5f;
const RSH64_IMM: u8 = 0x77;
const LSH64_REG: u8 = 0x6f;
const LDX_DW: u8 = 0x79;
const LDX_W: u8 = 0x61;
const LD_IMM64: u8 = 0x18;
const JA: u8 = 0x05;
const JEQ_IMM: u8 = 0x15;
const JNE_IMM: u8 = 0x55;
const JGE_IMM: u8 = 0x35;
pub(super) const CALL: u8 = 0x85;
pub(super) const EXIT: u8 = 0x95;
/// `src_reg` of a 64-bit immediate load that names a map by descriptor.
const PSEUDO_MAP_FD: u8 = 1;

/// The dispatcher. It finds the syscall number (the tracepoint's second argument at
/// `sys_enter`, the saved `orig_ax` at `sys_exit`) and tests it against a bitmap of the
/// traced numbers held in its instructions, so that the untraced syscalls of the whole
/// system, most of what it sees, cost a few instructions and no helper call. A traced
/// number then skips 32-bit calls and tail-calls the table's program; anything else falls
/// through to `return 0`. The number lives in r7, which calls preserve.
fn program(
    exit: bool,
    table: c_int,
    size: u32,
    traced: &[u32],
    compat_status: Option<i32>,
) -> Vec<libbpf_sys::bpf_insn> {
    let mut p = vec![insn(MOV64_REG, 6, 1, 0, 0)];
    // Jumps to the final `return 0`, and to the tail call, patched once their places are
    // known.
    let mut to_out = Vec::new();
    let mut to_traced = Vec::new();
    if exit {
        // The registers are a raw pointer: read `orig_ax` through the helper.
        p.push(insn(LDX_DW, 3, 6, 0, 0));
        p.push(insn(ADD64_IMM, 3, 0, 0, PT_REGS_ORIG_AX));
        p.push(insn(MOV64_REG, 1, 10, 0, 0));
        p.push(insn(ADD64_IMM, 1, 0, 0, -16));
        p.push(insn(MOV64_IMM, 2, 0, 0, 8));
        p.push(insn(CALL, 0, 0, 0, HELPER_PROBE_READ_KERNEL));
        to_out.push(p.len());
        p.push(insn(JNE_IMM, 0, 0, 0, 0));
        p.push(insn(LDX_DW, 7, 10, -16, 0));
    } else {
        p.push(insn(LDX_DW, 7, 6, 8, 0));
    }
    // The kernel takes the number as an `int` and a tail call's index is a u32: keep the
    // low 32 bits, as both do.
    p.push(insn(MOV32_REG, 7, 7, 0, 0));
    to_out.push(p.len());
    p.push(insn(
        JGE_IMM,
        7,
        0,
        0,
        i32::try_from(size).unwrap_or(i32::MAX),
    ));
    // r4 = the bitmap word's index, r1 = the number's bit in it.
    p.push(insn(MOV64_REG, 4, 7, 0, 0));
    p.push(insn(RSH64_IMM, 4, 0, 0, 6));
    p.push(insn(MOV64_REG, 5, 7, 0, 0));
    p.push(insn(AND64_IMM, 5, 0, 0, 63));
    p.push(insn(MOV64_IMM, 1, 0, 0, 1));
    p.push(insn(LSH64_REG, 1, 5, 0, 0));
    let mut words = std::collections::BTreeMap::<u32, u64>::new();
    for nr in traced.iter().filter(|nr| **nr < size) {
        *words.entry(nr / 64).or_default() |= 1 << (nr % 64);
    }
    for (index, bits) in words {
        // if (r4 == index) { r2 = bits; if (r2 & r1) goto traced; goto out; }
        let skip = p.len();
        p.push(insn(
            JNE_IMM,
            4,
            0,
            0,
            i32::try_from(index).unwrap_or(i32::MAX),
        ));
        p.push(insn(LD_IMM64, 2, 0, 0, bits as u32 as i32));
        p.push(insn(0, 0, 0, 0, (bits >> 32) as u32 as i32));
        p.push(insn(AND64_REG, 2, 1, 0, 0));
        to_out.push(p.len());
        p.push(insn(JEQ_IMM, 2, 0, 0, 0));
        to_traced.push(p.len());
        p.push(insn(JA, 0, 0, 0, 0));
        let next = p.len();
        if let Some(j) = p.get_mut(skip) {
            j.off = i16::try_from(next - skip - 1).unwrap_or(0);
        }
    }
    // No word of the bitmap holds the number.
    to_out.push(p.len());
    p.push(insn(JA, 0, 0, 0, 0));
    let traced_at = p.len();
    if let Some(status) = compat_status {
        p.push(insn(CALL, 0, 0, 0, HELPER_GET_CURRENT_TASK));
        p.push(insn(MOV64_REG, 3, 0, 0, 0));
        p.push(insn(ADD64_IMM, 3, 0, 0, status));
        p.push(insn(MOV64_REG, 1, 10, 0, 0));
        p.push(insn(ADD64_IMM, 1, 0, 0, -8));
        p.push(insn(MOV64_IMM, 2, 0, 0, 4));
        p.push(insn(CALL, 0, 0, 0, HELPER_PROBE_READ_KERNEL));
        p.push(insn(LDX_W, 1, 10, -8, 0));
        p.push(insn(AND64_IMM, 1, 0, 0, TS_COMPAT));
        to_out.push(p.len());
        p.push(insn(JNE_IMM, 1, 0, 0, 0));
    }
    p.push(insn(MOV64_REG, 3, 7, 0, 0));
    p.push(insn(LD_IMM64, 2, PSEUDO_MAP_FD, 0, table));
    p.push(insn(0, 0, 0, 0, 0));
    p.push(insn(MOV64_REG, 1, 6, 0, 0));
    p.push(insn(CALL, 0, 0, 0, HELPER_TAIL_CALL));
    let out = p.len();
    p.push(insn(MOV64_IMM, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    for (jumps, to) in [(to_out, out), (to_traced, traced_at)] {
        for at in jumps {
            if let Some(j) = p.get_mut(at) {
                j.off = i16::try_from(to - at - 1).unwrap_or(0);
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the dispatcher's instructions for syscall `nr` as far as they go without the
    /// kernel: returns whether it reaches the tail call, and checks every jump on the way
    /// lands inside the program.
    fn reaches_tail_call(p: &[libbpf_sys::bpf_insn], nr: u64) -> bool {
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = (i.dst_reg() as usize, i.src_reg() as usize);
            let imm = i.imm as i64 as u64;
            let jump = |taken: bool| if taken { i.off as usize } else { 0 };
            let mut next = pc + 1;
            match i.code {
                MOV64_REG => r[dst] = r[src],
                MOV32_REG => r[dst] = r[src] & 0xffff_ffff,
                MOV64_IMM => r[dst] = imm,
                ADD64_IMM => r[dst] = r[dst].wrapping_add(imm),
                AND64_IMM => r[dst] &= imm,
                AND64_REG => r[dst] &= r[src],
                RSH64_IMM => r[dst] >>= imm,
                LSH64_REG => r[dst] <<= r[src],
                LD_IMM64 => {
                    r[dst] = u64::from(i.imm as u32) | u64::from(p[pc + 1].imm as u32) << 32;
                    next += 1;
                }
                // The number, read from the context or through a helper.
                LDX_DW => r[dst] = nr,
                // Not a 32-bit call.
                LDX_W => r[dst] = 0,
                JA => next += i.off as usize,
                JEQ_IMM => next += jump(r[dst] == imm),
                JNE_IMM => next += jump(r[dst] != imm),
                JGE_IMM => next += jump(r[dst] >= imm),
                CALL if i.imm == HELPER_TAIL_CALL => {
                    assert_eq!(r[3], nr & 0xffff_ffff, "the tail call's index");
                    return true;
                }
                CALL => r[0] = 0,
                EXIT => return false,
                other => panic!("unexpected instruction {other:#x}"),
            }
            pc = next;
            assert!(pc < p.len(), "jump out of the program");
        }
    }

    #[test]
    fn only_traced_numbers_reach_the_tail_call() {
        let traced = [0, 2, 63, 64, 257, 469];
        for exit in [false, true] {
            for compat in [None, Some(16)] {
                let p = program(exit, 3, 470, &traced, compat);
                for nr in 0..600u64 {
                    assert_eq!(
                        reaches_tail_call(&p, nr),
                        traced.contains(&(nr as u32)),
                        "exit {exit}, compat {compat:?}, nr {nr}"
                    );
                }
                // The kernel reads the number as an int: the high half does not count.
                assert!(reaches_tail_call(&p, (1 << 32) + 257));
                assert!(!reaches_tail_call(&p, u64::MAX));
            }
        }
    }
}

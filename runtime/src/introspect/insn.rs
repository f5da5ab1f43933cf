//! Whether a uprobe offset starts an instruction. A uprobe replaces the byte at its offset
//! with a breakpoint; inside an instruction, that changes the instruction instead, and the
//! traced program runs something else (and usually crashes). bpftrace refuses such an
//! offset unless `--unsafe` is given; so does rbt. x86-64 instructions have lengths from 1
//! to 15 bytes, so a function's code is decoded from its start (with iced-x86); other
//! architectures have fixed-size instructions, and no check is made there.

/// Where a byte offset into a function's code falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// At the start of an instruction (or unchecked, off x86-64).
    Start,
    /// Inside the instruction that starts at `start` and is `len` bytes long.
    Inside { start: u64, len: usize },
    /// The code before the offset does not decode (data among the code, or a file that is
    /// not x86-64 code): nothing is known.
    Unknown,
}

/// The longest x86-64 instruction: the code read past a uprobe offset so that the
/// instruction holding it can be decoded whole.
pub const MAX_INSTRUCTION: usize = 15;

/// Where `offset` falls in `code`, a function's machine code from its first byte (at least
/// `offset + MAX_INSTRUCTION` bytes of it, where the function is that long).
#[cfg(target_arch = "x86_64")]
pub fn boundary(code: &[u8], offset: u64) -> Boundary {
    use iced_x86::{Decoder, DecoderOptions};
    let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    while decoder.can_decode() {
        let start = decoder.position() as u64;
        if start == offset {
            return Boundary::Start;
        }
        let insn = decoder.decode();
        if insn.is_invalid() {
            return Boundary::Unknown;
        }
        if offset < start + insn.len() as u64 {
            return Boundary::Inside {
                start,
                len: insn.len(),
            };
        }
    }
    match decoder.position() as u64 == offset {
        true => Boundary::Start,
        false => Boundary::Unknown,
    }
}

/// Off x86-64, instructions have a fixed size and a uprobe offset is not checked here.
#[cfg(not(target_arch = "x86_64"))]
pub fn boundary(_code: &[u8], _offset: u64) -> Boundary {
    Boundary::Start
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// `push rbp; mov rbp, rsp; mov dword [rbp-4], edi; mov eax, 1; pop rbp; ret`
    const CODE: &[u8] = &[
        0x55, 0x48, 0x89, 0xe5, 0x89, 0x7d, 0xfc, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x5d, 0xc3,
    ];

    #[test]
    fn offsets_at_and_inside_instructions() {
        assert_eq!(boundary(CODE, 0), Boundary::Start);
        assert_eq!(boundary(CODE, 1), Boundary::Start);
        assert_eq!(boundary(CODE, 2), Boundary::Inside { start: 1, len: 3 });
        assert_eq!(boundary(CODE, 7), Boundary::Start);
        assert_eq!(boundary(CODE, 9), Boundary::Inside { start: 7, len: 5 });
        assert_eq!(boundary(CODE, 13), Boundary::Start);
    }

    #[test]
    fn code_that_does_not_decode_is_unknown() {
        // 0x06 (push es) is invalid in 64-bit mode.
        assert_eq!(boundary(&[0x06, 0x90, 0x90], 2), Boundary::Unknown);
        // Cut short inside the instruction before the offset.
        assert_eq!(boundary(&CODE[..9], 10), Boundary::Unknown);
    }
}

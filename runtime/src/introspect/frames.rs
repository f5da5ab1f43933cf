//! Source locations of code in user binaries, for stack frames printed with debug info
//! (`config = { show_debug_info = 1 }`): the file and line of an address, and the functions
//! the compiler inlined there, innermost first. One return address of a stack can stand for
//! several source frames: `myclock` inlined into `mywrapper_inlined` inlined into
//! `mywrapper` is one machine frame and three source frames.
//!
//! The DWARF comes from the binary itself or its detached debug file (found as
//! [`super::dwarf`] finds it); the `addr2line` crate walks its inlined-subroutine entries and
//! line tables. This is separate from the symbol tables of `crate::symbols`, which name the
//! machine frame (`mywrapper+48`) without debug info.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use addr2line::Context;
use gimli::{EndianRcSlice, RunTimeEndian};
use goblin::elf::program_header::PT_LOAD;
use goblin::elf::Elf;

use super::dwarf::{detached_file, section};

type Reader = EndianRcSlice<RunTimeEndian>;

/// One source frame of a code address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFrame {
    /// The function the code belongs to, as DWARF names it; `None` when it names none.
    pub function: Option<String>,
    /// The source file's path and line, when the line table covers the address.
    pub location: Option<(String, u32)>,
}

/// The debug info of one binary, ready to look addresses up in.
pub struct SourceFrames {
    context: Context<Reader>,
    /// The binary's loadable segments: (file offset, virtual address, size in the file).
    segments: Vec<(u64, u64, u64)>,
}

impl SourceFrames {
    /// Reads the debug info of the binary at `path` (searching `dirs` and the standard
    /// places for a detached debug file). `None`: it has none, or it cannot be read.
    pub fn load(path: &Path, dirs: &[PathBuf]) -> Option<SourceFrames> {
        let bytes = std::fs::read(path).ok()?;
        let obj = Elf::parse(&bytes).ok()?;
        let segments = obj
            .program_headers
            .iter()
            .filter(|ph| ph.p_type == PT_LOAD)
            .map(|ph| (ph.p_offset, ph.p_vaddr, ph.p_filesz))
            .collect();
        let context = if section(&obj, &bytes, ".debug_info").is_some() {
            context(&obj, &bytes)?
        } else {
            let debug = std::fs::read(detached_file(&obj, &bytes, path, dirs)?).ok()?;
            context(&Elf::parse(&debug).ok()?, &debug)?
        };
        Some(SourceFrames { context, segments })
    }

    /// The source frames of the code at `file_offset` in the binary, innermost (the most
    /// deeply inlined function) first and the function that holds the machine code last.
    /// Empty when the debug info does not cover it.
    pub fn at_offset(&self, file_offset: u64) -> Vec<SourceFrame> {
        let Some(vaddr) = self.segments.iter().find_map(|&(off, vaddr, size)| {
            (off <= file_offset && file_offset - off < size).then(|| vaddr + (file_offset - off))
        }) else {
            return Vec::new();
        };
        let Ok(mut frames) = self.context.find_frames(vaddr).skip_all_loads() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        // The chain is as deep as the inlining; a corrupt one stops at a bound.
        while let (Ok(Some(frame)), true) = (frames.next(), out.len() < 64) {
            let function = frame
                .function
                .as_ref()
                .and_then(|f| f.demangle().ok())
                .map(|n| n.into_owned());
            let location = frame
                .location
                .and_then(|l| Some((l.file?.to_string(), l.line?)));
            out.push(SourceFrame { function, location });
        }
        out
    }
}

/// The addr2line context over the DWARF sections of `obj`, copied out of `bytes` so that
/// it owns them.
fn context(obj: &Elf<'_>, bytes: &[u8]) -> Option<Context<Reader>> {
    let endian = if obj.little_endian {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    };
    let load = |id: gimli::SectionId| -> Result<Reader, gimli::Error> {
        use gimli::SectionId as S;
        // Only what names functions, their inlining and their lines is read: the other
        // sections (location lists above all) can be large, and compressed ones must be
        // inflated first.
        let wanted = match id {
            S::DebugAbbrev
            | S::DebugAddr
            | S::DebugAranges
            | S::DebugInfo
            | S::DebugLine
            | S::DebugLineStr
            | S::DebugRanges
            | S::DebugRngLists
            | S::DebugStr
            | S::DebugStrOffsets => true,
            S::DebugCuIndex
            | S::DebugFrame
            | S::DebugLoc
            | S::DebugLocLists
            | S::DebugMacinfo
            | S::DebugMacro
            | S::DebugPubNames
            | S::DebugPubTypes
            | S::DebugTuIndex
            | S::DebugTypes
            | S::EhFrame
            | S::EhFrameHdr => false,
        };
        let data: Rc<[u8]> = wanted
            .then(|| section(obj, bytes, id.name()))
            .flatten()
            .map_or_else(|| Rc::from([]), |d| Rc::from(d.as_ref()));
        Ok(EndianRcSlice::new(data, endian))
    };
    let dwarf = gimli::Dwarf::load(load).ok()?;
    Context::from_dwarf(dwarf).ok()
}

//! The compiled-script file (`rbt --aot FILE script.bt`, run by `rbt-run FILE` or `rbt FILE`):
//! one self-contained file holding everything a run needs besides the kernel — the BPF
//! object, the Manifest, the run-time settings the script's config block chose, the script's
//! text (for diagnostics) and what its positional parameters must look like. This module is
//! the only place that knows the layout; it writes and reads it, and every bad file becomes
//! one [`AotError`], never a panic.
//!
//! Layout (integers little-endian):
//!
//! ```text
//! interpreter    optional: a `#!` line (at most 256 bytes with its newline) naming rbt-run,
//!                so the file runs as `./prog.rbt ARGS` (as bpftrace's --aot output does)
//! magic          8 bytes   "\x7fRBTAOT\n"
//! format version u32       FORMAT_VERSION
//! rbt version    u16 length, then UTF-8 bytes
//! BPF object     u64 length, then bytes
//! metadata       u64 length, then JSON (Metadata)
//! checksum       u64       FNV-1a 64 of every byte from the magic to it
//! ```
//!
//! The format version is read before anything else that may change shape, so a file from a
//! later layout is named as such rather than as corrupted.

use crate::manifest::{Manifest, Source};
use serde::{Deserialize, Serialize};

/// The first bytes of every compiled file: `rbt FILE` tells a compiled file from a script
/// by them (a script cannot start with DEL).
pub const MAGIC: [u8; 8] = *b"\x7fRBTAOT\n";
/// The layout's version; a change to the layout or to [`Metadata`] bumps it.
pub const FORMAT_VERSION: u32 = 2;
/// The rbt release that writes and reads files: the Manifest and the event ABI may change
/// between releases, so a file runs only with the rbt that built it.
pub const RBT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything besides the object that a run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub manifest: Manifest,
    /// The script's name and text, for diagnostics at run time (verifier refusals).
    pub source: Source,
    pub settings: RunSettings,
    /// When some positional parameter's text was compiled in (an attach point, a literal
    /// argument, a string value): the parameters every run must give. Otherwise a run's
    /// parameters are read at run time (`Manifest::run_values`).
    pub fixed_params: Option<Vec<String>>,
    /// What `-- --help` prints: the program options the script reads with `getopt()`.
    pub options_help: String,
}

/// Run-time settings the script's config block (and the `BPFTRACE_*` environment at
/// compile time) chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSettings {
    pub print_maps_on_exit: bool,
    pub max_cat_bytes: u64,
    pub log_size: u64,
    pub perf_rb_pages: Option<u64>,
    /// Print user stack frames with file, line and inlined functions.
    #[serde(default)]
    pub show_debug_info: bool,
}

/// A compiled file, in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct AotFile {
    /// The rbt release that wrote it.
    pub rbt_version: String,
    pub elf: Vec<u8>,
    pub meta: Metadata,
}

/// Why a file cannot be run; each renders as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AotError {
    /// It does not start with [`MAGIC`]: not a compiled rbt script.
    BadMagic,
    /// Written in another layout.
    OtherFormat { found: u32 },
    /// Written by an rbt release whose Manifest may differ.
    IncompatibleRbt { found: String },
    /// It ends before the part named.
    Truncated { part: &'static str },
    /// The checksum or the metadata do not match what was written.
    Corrupted { why: String },
}

impl std::fmt::Display for AotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AotError::BadMagic => write!(f, "not a compiled rbt script (build one with `rbt --aot FILE script.bt`)"),
            AotError::OtherFormat { found } => write!(
                f,
                "compiled in file format {found}, but this rbt reads format {FORMAT_VERSION}: recompile the script with this rbt's `--aot`"
            ),
            AotError::IncompatibleRbt { found } => write!(
                f,
                "compiled by rbt {found}, which this rbt ({RBT_VERSION}) cannot run: recompile the script with this rbt's `--aot`"
            ),
            AotError::Truncated { part } => {
                write!(f, "the compiled file is truncated (it ends inside its {part})")
            }
            AotError::Corrupted { why } => write!(f, "the compiled file is corrupted ({why})"),
        }
    }
}

impl std::error::Error for AotError {}

/// FNV-1a, 64 bits: enough to tell a damaged file from a good one (it is not a defence
/// against a forged file: whoever can write the file can write its BPF too).
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The longest `#!` line (with its newline) the kernel reads whole.
const MAX_INTERPRETER: usize = 256;

/// The bytes after the file's `#!` line, if it has one.
fn after_interpreter(bytes: &[u8]) -> &[u8] {
    if !bytes.starts_with(b"#!") {
        return bytes;
    }
    match bytes.iter().take(MAX_INTERPRETER).position(|b| *b == b'\n') {
        Some(nl) => &bytes[nl + 1..],
        None => bytes,
    }
}

/// Whether `bytes` are meant as a compiled file rather than a script (what `rbt FILE`
/// checks): after any `#!` line they start with DEL, as the magic does. No script does; an
/// ELF object does, and [`read`] then says it is not a compiled script.
pub fn is_compiled(bytes: &[u8]) -> bool {
    after_interpreter(bytes).first() == Some(&MAGIC[0])
}

/// Serializes a compiled file; `interpreter` is the program its `#!` line names, if any.
pub fn write(
    elf: &[u8],
    meta: &Metadata,
    interpreter: Option<&str>,
) -> Result<Vec<u8>, serde_json::Error> {
    let json = serde_json::to_vec(meta)?;
    let mut out = Vec::with_capacity(elf.len() + json.len() + 64);
    // A line the kernel would cut short is left out: the file still runs with `rbt-run`.
    if let Some(line) = interpreter
        .map(|i| format!("#!{i}\n"))
        .filter(|l| l.len() <= MAX_INTERPRETER && l.matches('\n').count() == 1)
    {
        out.extend_from_slice(line.as_bytes());
    }
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(RBT_VERSION.len() as u16).to_le_bytes());
    out.extend_from_slice(RBT_VERSION.as_bytes());
    out.extend_from_slice(&(elf.len() as u64).to_le_bytes());
    out.extend_from_slice(elf);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    let sum = checksum(&out[start..]);
    out.extend_from_slice(&sum.to_le_bytes());
    Ok(out)
}

/// A cursor over the file that names the part it was reading when the bytes ran out.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64, part: &'static str) -> Result<&'a [u8], AotError> {
        let n = usize::try_from(n).map_err(|_| AotError::Truncated { part })?;
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or(AotError::Truncated { part })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, part: &'static str) -> Result<[u8; N], AotError> {
        let s = self.take(N as u64, part)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
}

/// Reads a compiled file written by [`write`] of this rbt release.
pub fn read(bytes: &[u8]) -> Result<AotFile, AotError> {
    let bytes = after_interpreter(bytes);
    if !bytes.starts_with(&MAGIC) {
        // A prefix of the magic is a file cut off in its first bytes.
        return Err(if !bytes.is_empty() && MAGIC.starts_with(bytes) {
            AotError::Truncated { part: "header" }
        } else {
            AotError::BadMagic
        });
    }
    let mut r = Reader {
        bytes,
        at: MAGIC.len(),
    };
    let format = u32::from_le_bytes(r.array("header")?);
    if format != FORMAT_VERSION {
        return Err(AotError::OtherFormat { found: format });
    }
    let vlen = u16::from_le_bytes(r.array("header")?);
    let version = r.take(u64::from(vlen), "header")?;
    let elf_len = u64::from_le_bytes(r.array("BPF object")?);
    let elf = r.take(elf_len, "BPF object")?;
    let meta_len = u64::from_le_bytes(r.array("metadata")?);
    let meta = r.take(meta_len, "metadata")?;
    let body_end = r.at;
    let sum = u64::from_le_bytes(r.array("checksum")?);
    if r.at != bytes.len() {
        return Err(AotError::Corrupted {
            why: format!("{} bytes after its end", bytes.len() - r.at),
        });
    }
    if checksum(&bytes[..body_end]) != sum {
        return Err(AotError::Corrupted {
            why: "checksum mismatch".into(),
        });
    }
    let version = String::from_utf8_lossy(version).into_owned();
    if version != RBT_VERSION {
        return Err(AotError::IncompatibleRbt { found: version });
    }
    let meta: Metadata = serde_json::from_slice(meta).map_err(|e| AotError::Corrupted {
        why: format!("bad metadata: {e}"),
    })?;
    Ok(AotFile {
        rbt_version: version,
        elf: elf.to_vec(),
        meta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<u8>, Metadata) {
        let meta = Metadata {
            manifest: Manifest::default(),
            source: Source {
                name: "x.bt".into(),
                text: "BEGIN { exit(); }".into(),
                imports: Vec::new(),
            },
            settings: RunSettings {
                print_maps_on_exit: true,
                max_cat_bytes: 10240,
                log_size: 1 << 20,
                perf_rb_pages: None,
                show_debug_info: true,
            },
            fixed_params: Some(vec!["1".into()]),
            options_help: String::new(),
        };
        (b"\x7fELF object bytes".to_vec(), meta)
    }

    #[test]
    fn round_trip() {
        let (elf, meta) = sample();
        let bytes = write(&elf, &meta, None).expect("write");
        assert!(is_compiled(&bytes));
        let f = read(&bytes).expect("read");
        assert_eq!(f.elf, elf);
        assert_eq!(f.meta, meta);
        assert_eq!(f.rbt_version, RBT_VERSION);
        let bytes = write(&elf, &meta, Some("/usr/bin/rbt-run")).expect("write");
        assert!(bytes.starts_with(b"#!/usr/bin/rbt-run\n\x7fRBTAOT"));
        assert!(is_compiled(&bytes));
        assert_eq!(read(&bytes).expect("read with #!").meta, meta);
        assert!(!is_compiled(b"#!/usr/bin/env bpftrace\nBEGIN {}"));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let (elf, meta) = sample();
        let bytes = write(&elf, &meta, None).expect("write");
        for n in 1..bytes.len() {
            assert!(
                matches!(read(&bytes[..n]), Err(AotError::Truncated { .. })),
                "length {n}: {:?}",
                read(&bytes[..n])
            );
        }
        assert_eq!(read(b""), Err(AotError::BadMagic));
    }

    #[test]
    fn every_flipped_byte_is_an_error() {
        let (elf, meta) = sample();
        let bytes = write(&elf, &meta, None).expect("write");
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x20;
            assert!(read(&b).is_err(), "byte {i} flipped was accepted");
        }
    }

    #[test]
    fn foreign_files_are_named() {
        let (elf, meta) = sample();
        let mut bytes = write(&elf, &meta, None).expect("write");
        assert_eq!(read(b"BEGIN { exit(); }"), Err(AotError::BadMagic));
        bytes[8] = 7;
        assert_eq!(read(&bytes), Err(AotError::OtherFormat { found: 7 }));
        // Another rbt release, with a valid checksum.
        let mut other = Vec::new();
        other.extend_from_slice(&MAGIC);
        other.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        other.extend_from_slice(&5u16.to_le_bytes());
        other.extend_from_slice(b"9.9.9");
        other.extend_from_slice(&0u64.to_le_bytes());
        other.extend_from_slice(&2u64.to_le_bytes());
        other.extend_from_slice(b"{}");
        let sum = checksum(&other);
        other.extend_from_slice(&sum.to_le_bytes());
        assert_eq!(
            read(&other),
            Err(AotError::IncompatibleRbt {
                found: "9.9.9".into()
            })
        );
        for e in [
            AotError::BadMagic,
            AotError::OtherFormat { found: 2 },
            AotError::Truncated { part: "metadata" },
        ] {
            assert!(!e.to_string().contains('\n'));
        }
    }
}

//! printf-style format strings: parsing them once (the checker validates specifiers against
//! argument types) and rendering them in user space with C printf semantics for every
//! specifier bpftrace supports (`%d %i %u %x %X %o %c %s %p`, length modifiers that truncate
//! like C does, flags `-0+ #`, width, precision, and `%r`/`%rx`/`%rh` for buffers).

use crate::value::Value;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Piece {
    Literal(String),
    Spec(Spec),
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Spec {
    pub left: bool,
    pub zero: bool,
    pub plus: bool,
    pub space: bool,
    pub alt: bool,
    pub width: Option<usize>,
    pub precision: Option<usize>,
    /// Length modifier in bytes the value is truncated to (`hh` 1, `h` 2, `l`/`ll` 8). None
    /// means C's `int`: bpftrace hands every argument to printf as 64 bits, so a plain `%d`,
    /// `%u` or `%x` prints only the low 32 bits (`printf("%d", 5000000000)` prints 705032704).
    pub length: Option<u8>,
    pub conv: Conv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Conv {
    #[default]
    Signed,
    Unsigned,
    HexLower,
    HexUpper,
    Octal,
    Char,
    Str,
    Pointer,
    /// `%r`: buffer as printable text with `\xNN` escapes.
    Buffer,
    /// `%rx`: buffer as `\xNN` for every byte.
    BufferHex,
    /// `%rh`: buffer as space-separated hex bytes.
    BufferHexSpaced,
    /// `%gr`: an integer of allocation flags, printed by name (`GFP_KERNEL`).
    GfpFlags,
}

impl Conv {
    /// Whether the specifier takes an integer argument (as opposed to a string or buffer).
    pub fn wants_int(self) -> bool {
        matches!(
            self,
            Conv::Signed
                | Conv::Unsigned
                | Conv::HexLower
                | Conv::HexUpper
                | Conv::Octal
                | Conv::Char
                | Conv::Pointer
                | Conv::GfpFlags
        )
    }

    pub fn wants_buffer(self) -> bool {
        matches!(self, Conv::Buffer | Conv::BufferHex | Conv::BufferHexSpaced)
    }
}

/// A problem in a format string; `offset` is the byte offset of the bad specifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    pub offset: usize,
    pub message: String,
}

/// Splits a format string into literal text and specifiers. `%%` is a literal `%`.
pub fn parse(fmt: &str) -> Result<Vec<Piece>, FormatError> {
    let bytes = fmt.as_bytes();
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let Some(rel) = fmt[i..].find('%') else {
            literal.push_str(&fmt[i..]);
            break;
        };
        literal.push_str(&fmt[i..i + rel]);
        let start = i + rel;
        i = start + 1;
        if bytes.get(i) == Some(&b'%') {
            literal.push('%');
            i += 1;
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&c) = bytes.get(i) {
            match c {
                b'-' => spec.left = true,
                b'0' => spec.zero = true,
                b'+' => spec.plus = true,
                b' ' => spec.space = true,
                b'#' => spec.alt = true,
                _ => break,
            }
            i += 1;
        }
        let digits = |i: &mut usize| -> Option<usize> {
            let s = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            fmt[s..*i].parse().ok()
        };
        spec.width = digits(&mut i);
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            spec.precision = Some(digits(&mut i).unwrap_or(0));
        }
        let rest = &fmt[i..];
        let (len, skip) = if rest.starts_with("hh") {
            (Some(1), 2)
        } else if rest.starts_with("ll") {
            (Some(8), 2)
        } else if rest.starts_with('h') {
            (Some(2), 1)
        } else if rest.starts_with(['l', 'z', 'j', 't']) {
            (Some(8), 1)
        } else {
            (None, 0)
        };
        spec.length = len;
        i += skip;
        let conv = match bytes.get(i) {
            Some(b'd') | Some(b'i') => Conv::Signed,
            Some(b'u') => Conv::Unsigned,
            Some(b'x') => Conv::HexLower,
            Some(b'X') => Conv::HexUpper,
            Some(b'o') => Conv::Octal,
            Some(b'c') => Conv::Char,
            Some(b's') => Conv::Str,
            Some(b'p') => Conv::Pointer,
            Some(b'g') if bytes.get(i + 1) == Some(&b'r') => {
                i += 1;
                Conv::GfpFlags
            }
            Some(b'r') => match bytes.get(i + 1) {
                Some(b'x') => {
                    i += 1;
                    Conv::BufferHex
                }
                Some(b'h') => {
                    i += 1;
                    Conv::BufferHexSpaced
                }
                _ => Conv::Buffer,
            },
            Some(_) => {
                let end = fmt[i..].chars().next().map_or(i + 1, |c| i + c.len_utf8());
                return Err(FormatError {
                    offset: start,
                    message: format!("invalid format specifier `{}`", &fmt[start..end]),
                });
            }
            None => {
                return Err(FormatError {
                    offset: start,
                    message: "incomplete format specifier at end of string".into(),
                })
            }
        };
        i += 1;
        spec.conv = conv;
        if !literal.is_empty() {
            pieces.push(Piece::Literal(std::mem::take(&mut literal)));
        }
        pieces.push(Piece::Spec(spec));
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

/// Number of specifiers (arguments) a parsed format expects.
/// An address as bpftrace prints one it has no name for (`%p`, an unresolved `ksym()` or
/// `usym()`): C's `%#x`, so 0 is `0` and others are `0x1234`.
pub fn address(addr: u64) -> String {
    if addr == 0 {
        "0".to_string()
    } else {
        format!("{addr:#x}")
    }
}

pub fn arg_count(pieces: &[Piece]) -> usize {
    pieces
        .iter()
        .filter(|p| matches!(p, Piece::Spec(_)))
        .count()
}

/// Renders a parsed format with decoded argument values, as text for rbt's own messages
/// (`warnf`, `errorf`): bytes that are not UTF-8 become U+FFFD. Missing arguments render
/// as empty.
pub fn render(pieces: &[Piece], args: &[Value]) -> String {
    let mut out = Vec::new();
    render_into(pieces, args, &mut out);
    crate::value::utf8_text(out)
}

/// The bytes of a format rendered with its arguments, appended to `out`, as C's printf writes
/// them: strings as their bytes, UTF-8 or not, widths and precisions counted in bytes. The
/// event reader keeps one line buffer for every event instead of allocating one per event.
pub fn render_into(pieces: &[Piece], args: &[Value], out: &mut Vec<u8>) {
    let mut args = args.iter();
    for piece in pieces {
        match piece {
            Piece::Literal(s) => out.extend_from_slice(s.as_bytes()),
            Piece::Spec(spec) => {
                if let Some(v) = args.next() {
                    render_one_into(spec, v, out);
                }
            }
        }
    }
}

/// One specifier, appended to `out`. The common case of printf flat out (`%d`, `%u`, `%s`
/// without flags, width or precision) is written straight into `out`; everything else goes
/// through [`render_one`].
fn render_one_into(spec: &Spec, v: &Value, out: &mut Vec<u8>) {
    let plain = !spec.left
        && !spec.zero
        && !spec.plus
        && !spec.space
        && !spec.alt
        && spec.width.is_none()
        && spec.precision.is_none();
    match (plain, spec.conv, v) {
        (true, Conv::Signed | Conv::Unsigned, _) => {
            let (neg, mag) = truncate(v.as_u64(), spec.length, spec.conv == Conv::Signed);
            if neg {
                out.push(b'-');
            }
            out.extend_from_slice(itoa::Buffer::new().format(mag).as_bytes());
        }
        (true, Conv::Str, _) => v.write_text(out),
        _ => out.extend_from_slice(&render_one(spec, v)),
    }
}

fn truncate(v: u64, len: Option<u8>, signed: bool) -> (bool, u64) {
    // Returns (negative, magnitude-as-bits) after C's integer conversion for the length.
    let bits = u32::from(len.unwrap_or(4)) * 8;
    let masked = if bits >= 64 {
        v
    } else {
        v & ((1u64 << bits) - 1)
    };
    if signed {
        let shift = 64 - bits;
        let sv = ((masked << shift) as i64) >> shift;
        (sv < 0, sv.unsigned_abs())
    } else {
        (false, masked)
    }
}

fn render_one(spec: &Spec, v: &Value) -> Vec<u8> {
    match spec.conv {
        Conv::Str => {
            let mut s = Vec::new();
            v.write_text(&mut s);
            if let Some(p) = spec.precision {
                s.truncate(p);
            }
            pad(spec, s, false)
        }
        Conv::Buffer | Conv::BufferHex | Conv::BufferHexSpaced => {
            let bytes = match v {
                Value::Buffer(b) | Value::Str(b) => b.clone(),
                other => other.to_text().into_bytes(),
            };
            pad(spec, render_buffer(spec.conv, &bytes).into_bytes(), false)
        }
        Conv::Char => pad(spec, vec![(v.as_u64() & 0xff) as u8], false),
        Conv::GfpFlags => pad(
            spec,
            crate::names::gfp_flags(v.as_u64()).into_bytes(),
            false,
        ),
        Conv::Pointer => pad(spec, address(v.as_u64()).into_bytes(), false),
        Conv::Signed | Conv::Unsigned | Conv::HexLower | Conv::HexUpper | Conv::Octal => {
            let raw = v.as_u64();
            let (neg, mag) = truncate(raw, spec.length, spec.conv == Conv::Signed);
            let mut digits = match spec.conv {
                Conv::HexLower => format!("{mag:x}"),
                Conv::HexUpper => format!("{mag:X}"),
                Conv::Octal => format!("{mag:o}"),
                _ => mag.to_string(),
            };
            if let Some(p) = spec.precision {
                if p == 0 && mag == 0 {
                    digits.clear();
                }
                while digits.len() < p {
                    digits.insert(0, '0');
                }
            }
            let prefix = if neg {
                "-"
            } else if spec.conv == Conv::Signed && spec.plus {
                "+"
            } else if spec.conv == Conv::Signed && spec.space {
                " "
            } else if spec.alt && mag != 0 {
                match spec.conv {
                    Conv::HexLower => "0x",
                    Conv::HexUpper => "0X",
                    Conv::Octal if !digits.starts_with('0') => "0",
                    _ => "",
                }
            } else {
                ""
            };
            let zero_ok = spec.zero && !spec.left && spec.precision.is_none();
            if zero_ok {
                let width = spec.width.unwrap_or(0);
                while prefix.len() + digits.len() < width {
                    digits.insert(0, '0');
                }
            }
            pad(spec, format!("{prefix}{digits}").into_bytes(), zero_ok)
        }
    }
}

/// `s` padded with spaces to the width, counted in bytes as C does.
fn pad(spec: &Spec, mut s: Vec<u8>, already: bool) -> Vec<u8> {
    let width = spec.width.unwrap_or(0);
    if already || s.len() >= width {
        return s;
    }
    let fill = width - s.len();
    if spec.left {
        s.resize(width, b' ');
        s
    } else {
        let mut out = vec![b' '; fill];
        out.append(&mut s);
        out
    }
}

fn render_buffer(conv: Conv, bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, b) in bytes.iter().enumerate() {
        match conv {
            Conv::BufferHexSpaced => {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&format!("{b:02x}"));
            }
            Conv::BufferHex => out.push_str(&format!("\\x{b:02x}")),
            _ => {
                if b.is_ascii_graphic() || *b == b' ' {
                    out.push(*b as char);
                } else {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, args: &[Value]) -> String {
        render(&parse(fmt).expect("valid format"), args)
    }

    #[test]
    fn c_semantics() {
        assert_eq!(
            f(
                "%d|%5d|%-5d|%05d",
                &[Value::Int(-3), Value::Int(42), Value::Int(7), Value::Int(8)]
            ),
            "-3|   42|7    |00008"
        );
        // `0` pads after the sign, and `-` wins over `0`, as in C (0.27 differs, README).
        assert_eq!(
            f("%010d|%-08x|", &[Value::Int(-42), Value::UInt(255)]),
            "-000000042|ff      |"
        );
        assert_eq!(
            f(
                "%x %X %#x %o %#o",
                &[
                    Value::UInt(255),
                    Value::UInt(255),
                    Value::UInt(255),
                    Value::UInt(8),
                    Value::UInt(8)
                ]
            ),
            "ff FF 0xff 10 010"
        );
        assert_eq!(
            f(
                "%hhu %hd %u",
                &[Value::UInt(257), Value::Int(-1), Value::Int(-1)]
            ),
            "1 -1 4294967295"
        );
        // Without `l`, C's int: the low 32 bits, as bpftrace 0.17 prints them.
        assert_eq!(
            f(
                "%d %u %x|%ld %lu %llx",
                &[
                    Value::Int(5_000_000_000),
                    Value::Int(-1),
                    Value::Int(-1),
                    Value::Int(5_000_000_000),
                    Value::Int(-1),
                    Value::Int(-1)
                ]
            ),
            "705032704 4294967295 ffffffff|5000000000 18446744073709551615 ffffffffffffffff"
        );
        assert_eq!(
            f(
                "%s|%10s|%-4s|%.2s",
                &[
                    Value::Str(b"ab".to_vec()),
                    Value::Str(b"x".to_vec()),
                    Value::Str(b"y".to_vec()),
                    Value::Str(b"hello".to_vec())
                ]
            ),
            "ab|         x|y   |he"
        );
        assert_eq!(
            f("100%% %c %p", &[Value::UInt(65), Value::UInt(0x10)]),
            "100% A 0x10"
        );
        // C's %#x, as bpftrace 0.27 prints it: no `0x` on 0 (glibc's %p says "(nil)").
        assert_eq!(f("%p|%5p", &[Value::UInt(0), Value::UInt(0)]), "0|    0");
        assert_eq!(
            f(
                "%rh|%rx|%r",
                &[
                    Value::Buffer(vec![1, 0xab]),
                    Value::Buffer(vec![1]),
                    Value::Buffer(vec![b'a', 0])
                ]
            ),
            "01 ab|\\x01|a\\x00"
        );
        assert_eq!(
            f(
                "%+d % d %.3d",
                &[Value::Int(5), Value::Int(5), Value::Int(5)]
            ),
            "+5  5 005"
        );
    }

    #[test]
    fn gfp_flags() {
        // Outputs of bpftrace 0.27.1 on Linux 6.18: combinations first, then single flags
        // by bit, then the bits without a name in hex.
        let cases: &[(u64, &str)] = &[
            (0, "0"),
            (0x1, "GFP_DMA"),
            (0xcc0, "GFP_KERNEL"),
            (0xcc1, "GFP_KERNEL|GFP_DMA"),
            (0x9, "GFP_DMA|0x8"),
            (0x2820, "GFP_ATOMIC|__GFP_NOWARN"),
            (0x2800, "GFP_NOWAIT"),
            (0x21c24cb, "GFP_TRANSHUGE|GFP_DMA"),
            (0x140dca, "GFP_HIGHUSER|__GFP_ZERO|__GFP_COMP|0x8"),
            (
                0xffff_ffff,
                "GFP_TRANSHUGE|GFP_ATOMIC|GFP_DMA|GFP_DMA32|__GFP_ZERO|__GFP_WRITE|__GFP_RETRY_MAYFAIL|__GFP_NOFAIL|__GFP_NORETRY|__GFP_MEMALLOC|__GFP_THISNODE|__GFP_ACCOUNT|__GFP_ZEROTAGS|__GFP_SKIP_ZERO|__GFP_NO_OBJ_EXT|0xf8000210",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(f("%gr", &[Value::UInt(*v)]), *want, "{v:#x}");
        }
    }

    #[test]
    fn errors() {
        assert!(parse("%q").is_err());
        assert!(parse("abc %").is_err());
        assert_eq!(arg_count(&parse("%d %s %%").expect("valid")), 2);
    }

    /// The direct path of `%d`, `%u` and `%s` writes what the general path writes, for every
    /// length modifier and for values at the edges of each width.
    #[test]
    fn direct_path_matches_general_path() {
        let ints = [
            0i64,
            1,
            -1,
            127,
            -128,
            255,
            65535,
            -32768,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
            5_000_000_000,
            i64::MAX,
            i64::MIN,
        ];
        let mut values: Vec<Value> = ints.iter().map(|i| Value::Int(*i)).collect();
        values.extend(ints.iter().map(|i| Value::UInt(*i as u64)));
        values.push(Value::Bool(true));
        values.push(Value::Pointer(0xffff_0000_1234));
        for fmt in ["%d", "%u", "%hhd", "%hu", "%ld", "%lu", "%lld", "%llu"] {
            let pieces = parse(fmt).expect("valid format");
            let Some(Piece::Spec(spec)) = pieces.first() else {
                panic!("{fmt} is one specifier");
            };
            for v in &values {
                let mut direct = Vec::new();
                render_one_into(spec, v, &mut direct);
                assert_eq!(direct, render_one(spec, v), "{fmt} of {v:?}");
            }
        }
        let spec = Spec {
            conv: Conv::Str,
            ..Spec::default()
        };
        for v in [
            Value::Str(b"abc".to_vec()),
            Value::Str(vec![b'a', 0xff, b'b']),
            Value::Str(Vec::new()),
        ] {
            let mut direct = Vec::new();
            render_one_into(&spec, &v, &mut direct);
            assert_eq!(direct, render_one(&spec, &v), "%s of {v:?}");
        }
    }

    /// Strings go out as their bytes, UTF-8 or not, and widths and precisions count bytes,
    /// as C's printf (and bpftrace) writes them.
    #[test]
    fn strings_are_bytes() {
        let pieces = parse("%s|%5s|%-4s|%.2s|%c").expect("valid format");
        let mut out = Vec::new();
        render_into(
            &pieces,
            &[
                Value::Str(b"a\xffb".to_vec()),
                Value::Str("\u{e9}".as_bytes().to_vec()),
                Value::Str(b"\xc3".to_vec()),
                Value::Str(b"\xff\xfe\xfd".to_vec()),
                Value::UInt(0xe9),
            ],
            &mut out,
        );
        assert_eq!(out, b"a\xffb|   \xc3\xa9|\xc3   |\xff\xfe|\xe9");
        assert_eq!(
            render(
                &parse("%s").expect("valid"),
                &[Value::Str(b"\xff".to_vec())]
            ),
            "\u{fffd}"
        );
    }
}

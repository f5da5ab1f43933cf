//! Decoding of integer and string literals, with errors that say exactly what is wrong and
//! where (offsets are relative to the literal's text). The one integer parser of rbt: the
//! grammar's literals, `#define` values, the preprocessor's `#if` operands, program options
//! and positional parameters (also those a compiled script reads when it runs, without the
//! front end) are all read by [`decode_int`].

/// A literal problem: the message and the byte range inside the literal it is about.
#[derive(Debug, PartialEq)]
pub struct LitError {
    pub message: String,
    pub start: usize,
    pub end: usize,
    pub help: Option<&'static str>,
}

fn err(message: impl Into<String>, start: usize, end: usize) -> LitError {
    LitError {
        message: message.into(),
        start,
        end,
        help: None,
    }
}

/// Decodes an integer literal as bpftrace 0.17 and later accept it: decimal, `0x` hex, `0b`
/// binary, leading-zero octal, `_` separators, `NeM` exponents, and C suffixes (`U`, `L`,
/// `UL`, `LL`, `ULL`) which are ignored. The value must fit in 64 bits.
pub fn decode_int(text: &str) -> Result<u64, LitError> {
    if let Some((number, scale)) = duration(text) {
        let value = decode_int(number)?;
        return value.checked_mul(scale).ok_or_else(|| LitError {
            message: format!("duration `{text}` does not fit in 64 bits of nanoseconds"),
            start: 0,
            end: text.len(),
            help: None,
        });
    }
    let whole = text.len();
    let (digits, suffix_start) = strip_suffix(text);
    if suffix_start < whole && !valid_suffix(&text[suffix_start..]) {
        return Err(err(
            format!(
                "invalid suffix `{}` on integer literal",
                &text[suffix_start..]
            ),
            suffix_start,
            whole,
        ));
    }
    let overflow = || LitError {
        message: format!("integer literal `{text}` does not fit in 64 bits"),
        start: 0,
        end: whole,
        help: Some("the largest value is 18446744073709551615 (0xffffffffffffffff)"),
    };
    let (radix, body, body_start) = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, h, 2)
    } else if let Some(b) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, b, 2)
    } else if digits.len() > 1 && digits.starts_with('0') && !digits.contains(['e', 'E']) {
        (8, &digits[1..], 1)
    } else {
        (10, digits, 0)
    };
    if radix == 10 {
        if let Some(e) = digits.find(['e', 'E']) {
            let mantissa = parse_digits(&digits[..e], 10, 0)?;
            let exp = parse_digits(&digits[e + 1..], 10, e + 1)?;
            if digits[e + 1..].is_empty() {
                return Err(err("expected digits after the exponent `e`", e, e + 1));
            }
            let scale = u32::try_from(exp)
                .ok()
                .and_then(|x| 10u64.checked_pow(x))
                .ok_or_else(overflow)?;
            return mantissa.checked_mul(scale).ok_or_else(overflow);
        }
    }
    if body.is_empty() || body.bytes().all(|b| b == b'_') {
        return Err(err(
            format!("expected digits after `{}`", &digits[..body_start]),
            0,
            digits.len(),
        ));
    }
    parse_digits(body, radix, body_start)
        .map_err(|e| if e.message.is_empty() { overflow() } else { e })
}

/// A duration literal (bpftrace 0.24+): decimal digits and a unit, `5ms`, `1s`, `2us`, as
/// its number and the unit in nanoseconds. Hex and binary literals have no units (`0x1d`
/// is a number).
pub fn duration(text: &str) -> Option<(&str, u64)> {
    const UNITS: [(&str, u64); 7] = [
        ("ns", 1),
        ("us", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60 * 1_000_000_000),
        ("h", 3_600 * 1_000_000_000),
        ("d", 86_400 * 1_000_000_000),
    ];
    let (number, scale) = UNITS
        .iter()
        .find_map(|(unit, scale)| Some((text.strip_suffix(unit)?, *scale)))?;
    let decimal = number.starts_with(|c: char| c.is_ascii_digit())
        && number.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    decimal.then_some((number, scale))
}

/// An integer written outside the script grammar (a `#define` value, an `#if` operand, a
/// positional parameter), read as the parser reads an integer literal ([`decode_int`]),
/// after an optional sign and the parentheses and blanks macros wrap values in
/// (`#define MAX (-1)`). A value above `i64::MAX` wraps, as a literal's does when it is used
/// as an int64.
pub fn parse_int(text: &str) -> Option<i64> {
    let text = text
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = decode_int(digits).ok()? as i64;
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// Splits `text` into its digits and the start of a trailing `u`/`l` suffix. Hex digits never
/// include `u` or `l`, so the suffix is unambiguous.
fn strip_suffix(text: &str) -> (&str, usize) {
    let n = text
        .trim_end_matches(|c: char| c.is_ascii_alphabetic() && "uUlL".contains(c))
        .len();
    // A lone letter run that is the whole token is not a suffix (cannot happen: ints start with a digit).
    (&text[..n], n)
}

fn valid_suffix(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "u" | "l" | "ul" | "lu" | "ll" | "ull" | "llu"
    )
}

/// Parses digits with `_` separators. An empty message in the error means overflow.
fn parse_digits(body: &str, radix: u32, offset: usize) -> Result<u64, LitError> {
    let mut value: u64 = 0;
    for (i, c) in body.char_indices() {
        if c == '_' {
            continue;
        }
        let Some(d) = c.to_digit(radix) else {
            let what = match radix {
                16 => "hexadecimal",
                8 => "octal",
                2 => "binary",
                _ => "decimal",
            };
            let mut e = err(
                format!("invalid digit `{c}` in {what} literal"),
                offset + i,
                offset + i + c.len_utf8(),
            );
            if radix == 8 {
                e.help = Some("a leading `0` makes a number octal; remove it for decimal");
            }
            return Err(e);
        };
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or_else(|| err("", 0, 0))?;
    }
    Ok(value)
}

/// Decodes the body of a string literal (between the quotes): `\n \t \r \" \\ \NNN \xHH`,
/// plus `\0` as octal. Any other escape is an error.
pub fn decode_string(body: &str) -> Result<Vec<u8>, LitError> {
    let b = body.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let start = i;
        let Some(&c) = b.get(i + 1) else {
            return Err(err(
                "incomplete escape at the end of the string",
                start,
                start + 1,
            ));
        };
        i += 2;
        match c {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'0'..=b'7' => {
                let mut v: u32 = u32::from(c - b'0');
                let mut n = 1;
                while n < 3 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + u32::from(b[i] - b'0');
                    i += 1;
                    n += 1;
                }
                let byte = u8::try_from(v).map_err(|_| {
                    err(
                        format!("octal escape `{}` is larger than 255", &body[start..i]),
                        start,
                        i,
                    )
                })?;
                out.push(byte);
            }
            b'x' => {
                let n = b[i..]
                    .iter()
                    .take(2)
                    .take_while(|c| c.is_ascii_hexdigit())
                    .count();
                if n == 0 {
                    return Err(LitError {
                        message: "expected hexadecimal digits after `\\x`".into(),
                        start,
                        end: i,
                        help: Some("write a byte as `\\x41`"),
                    });
                }
                let v = u8::from_str_radix(&body[i..i + n], 16)
                    .map_err(|_| err("invalid hexadecimal escape", start, i + n))?;
                out.push(v);
                i += n;
            }
            _ => {
                let ch_len = body[start + 1..].chars().next().map_or(1, char::len_utf8);
                let shown = &body[start..start + 1 + ch_len];
                return Err(LitError {
                    message: format!("unknown escape sequence `{shown}`"),
                    start,
                    end: start + 1 + ch_len,
                    help: Some("valid escapes are \\n \\t \\r \\\" \\\\ \\NNN (octal) and \\xHH"),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(decode_int("0"), Ok(0));
        assert_eq!(decode_int("010"), Ok(8));
        assert_eq!(decode_int("0x1F"), Ok(31));
        assert_eq!(decode_int("0b101"), Ok(5));
        assert_eq!(decode_int("1_000"), Ok(1000));
        assert_eq!(decode_int("1e6"), Ok(1_000_000));
        assert_eq!(decode_int("10ULL"), Ok(10));
        assert_eq!(decode_int("18446744073709551615"), Ok(u64::MAX));
        assert!(decode_int("18446744073709551616").is_err());
        assert!(decode_int("09").is_err());
        assert!(decode_int("0x").is_err());
        assert!(decode_int("12abc").is_err());
        assert!(decode_int("1e30").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(decode_int("5ms"), Ok(5_000_000));
        assert_eq!(decode_int("1s"), Ok(1_000_000_000));
        assert_eq!(decode_int("2us"), Ok(2_000));
        assert_eq!(decode_int("3ns"), Ok(3));
        assert_eq!(decode_int("1m"), Ok(60_000_000_000));
        assert_eq!(decode_int("1h"), Ok(3_600_000_000_000));
        assert_eq!(decode_int("1_000d"), Ok(86_400_000_000_000_000));
        assert_eq!(decode_int("0x1d"), Ok(29));
        assert!(decode_int("1000000d").is_err());
        assert!(decode_int("5ks").is_err());
        assert_eq!(duration("100ms"), Some(("100", 1_000_000)));
        assert_eq!(duration("ms"), None);
        assert_eq!(duration("0b1s"), None);
    }

    #[test]
    fn integers_outside_the_grammar() {
        assert_eq!(parse_int(" (-0x10) "), Some(-16));
        assert_eq!(parse_int("+7"), Some(7));
        assert_eq!(parse_int("010"), Some(8));
        assert_eq!(parse_int("4096UL"), Some(4096));
        assert_eq!(parse_int("0xffffffffffffffff"), Some(-1));
        assert_eq!(parse_int("-"), None);
        assert_eq!(parse_int("\"abc\""), None);
        assert_eq!(parse_int("12abc"), None);
        assert_eq!(parse_int(""), None);
    }

    #[test]
    fn strings() {
        assert_eq!(
            decode_string(r#"a\n\t\"\\\101\x41\0"#).unwrap_or_default(),
            b"a\n\t\"\\AA\0".to_vec()
        );
        assert!(decode_string(r"\q").is_err());
        assert!(decode_string(r"\400").is_err());
        assert!(decode_string(r"\xZZ").is_err());
    }
}

//! Integer macros of the C headers a script `#include`s (`SIGINT` from `<signal.h>`,
//! `__NR_read` from `<syscall.h>`), which bpftrace's clang sees and scripts use as constants.
//!
//! The headers are preprocessed by the system's C preprocessor (`cpp -dM`, which prints every
//! macro once its conditionals, nested includes and predefined macros are worked out): no
//! crate preprocesses C, and a preprocessor of rbt's own would have to repeat the system
//! compiler's predefined macros to pick the same branches of the headers' `#if`s. What this
//! file does itself is small: evaluating each object-like macro whose body is an integer
//! constant expression (literals, other such macros, parentheses, unary `-`, `~`, `!` and the
//! binary arithmetic, shift and bit operators). Bodies with casts, strings or function-like
//! macros are left out. Without a preprocessor the headers give no macros.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// The integer macros the headers at `paths` define, after preprocessing them together.
/// An error says why there are none (no preprocessor, a header it refused).
pub fn integer_macros(paths: &[&Path]) -> Result<Vec<(String, i64)>, String> {
    let mut child = Command::new("cpp")
        .args(["-dM", "-x", "c", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run the C preprocessor (cpp): {e}"))?;
    let mut source = String::new();
    for p in paths {
        source.push_str(&format!("#include \"{}\"\n", p.display()));
    }
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(source.as_bytes())
            .map_err(|e| format!("cannot write to the C preprocessor: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("the C preprocessor failed: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "the C preprocessor refused the headers: {}",
            err.lines().next().unwrap_or("no message")
        ));
    }
    Ok(evaluate(&String::from_utf8_lossy(&out.stdout)))
}

/// The integer macros among `cpp -dM` output lines (`#define NAME BODY`), by name.
pub fn evaluate(defines: &str) -> Vec<(String, i64)> {
    let bodies: HashMap<&str, &str> = defines
        .lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .filter_map(|l| {
            let (name, body) = l.split_once(' ').unwrap_or((l, ""));
            // Function-like macros (`NAME(x)`) are not constants.
            (!name.contains('(')).then_some((name, body.trim()))
        })
        .collect();
    let mut out: Vec<(String, i64)> = bodies
        .keys()
        .filter_map(|name| value_of(name, &bodies, 0).map(|v| (name.to_string(), v)))
        .collect();
    out.sort();
    out
}

/// How deep macros may refer to macros (`SIGIOT` → `SIGABRT` → 6): more means a cycle.
const MAX_DEPTH: u32 = 16;

fn value_of(name: &str, bodies: &HashMap<&str, &str>, depth: u32) -> Option<i64> {
    if depth > MAX_DEPTH {
        return None;
    }
    let tokens = tokens(bodies.get(name)?)?;
    let mut p = Parser {
        tokens: &tokens,
        at: 0,
        bodies,
        depth,
    };
    let v = p.expr(0)?;
    (p.at == tokens.len()).then_some(v)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Int(i64),
    Ident(String),
    Op(&'static str),
}

/// The operators a body may use, longest first so that `<<` is not read as `<`.
const OPS: &[&str] = &[
    "<<", ">>", "(", ")", "+", "-", "*", "/", "%", "&", "|", "^", "~", "!",
];

fn tokens(body: &str) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut rest = body.trim_start();
    while !rest.is_empty() {
        let c = rest.chars().next()?;
        if c.is_ascii_digit() {
            let end = rest
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(rest.len());
            out.push(Token::Int(integer(&rest[..end])?));
            rest = &rest[end..];
        } else if c.is_ascii_alphabetic() || c == '_' {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push(Token::Ident(rest[..end].to_string()));
            rest = &rest[end..];
        } else {
            let op = OPS.iter().find(|op| rest.starts_with(**op))?;
            out.push(Token::Op(op));
            rest = &rest[op.len()..];
        }
        rest = rest.trim_start();
    }
    Some(out)
}

/// A C integer literal: decimal, `0x` hex or `0` octal, with any `u`/`l` suffix.
fn integer(text: &str) -> Option<i64> {
    let digits = text.trim_end_matches(['u', 'U', 'l', 'L']);
    let v = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<u64>().ok()?
    };
    Some(v as i64)
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    bodies: &'a HashMap<&'a str, &'a str>,
    depth: u32,
}

impl Parser<'_> {
    /// Binary operators by C's precedence (higher binds tighter).
    fn precedence(op: &str) -> Option<u8> {
        Some(match op {
            "*" | "/" | "%" => 5,
            "+" | "-" => 4,
            "<<" | ">>" => 3,
            "&" => 2,
            "^" => 1,
            "|" => 0,
            _ => return None,
        })
    }

    fn expr(&mut self, min: u8) -> Option<i64> {
        let mut lhs = self.unary()?;
        while let Some(Token::Op(op)) = self.tokens.get(self.at) {
            let Some(prec) = Self::precedence(op).filter(|p| *p >= min) else {
                break;
            };
            self.at += 1;
            let rhs = self.expr(prec + 1)?;
            lhs = match *op {
                "*" => lhs.wrapping_mul(rhs),
                "/" => lhs.checked_div(rhs)?,
                "%" => lhs.checked_rem(rhs)?,
                "+" => lhs.wrapping_add(rhs),
                "-" => lhs.wrapping_sub(rhs),
                "<<" => lhs.checked_shl(u32::try_from(rhs).ok()?)?,
                ">>" => lhs.checked_shr(u32::try_from(rhs).ok()?)?,
                "&" => lhs & rhs,
                "^" => lhs ^ rhs,
                _ => lhs | rhs,
            };
        }
        Some(lhs)
    }

    fn unary(&mut self) -> Option<i64> {
        let token = self.tokens.get(self.at)?.clone();
        self.at += 1;
        match token {
            Token::Int(v) => Some(v),
            Token::Ident(name) => value_of(&name, self.bodies, self.depth + 1),
            Token::Op("-") => self.unary().map(i64::wrapping_neg),
            Token::Op("~") => self.unary().map(|v| !v),
            Token::Op("!") => self.unary().map(|v| i64::from(v == 0)),
            Token::Op("(") => {
                let v = self.expr(0)?;
                (self.tokens.get(self.at) == Some(&Token::Op(")"))).then(|| {
                    self.at += 1;
                    v
                })
            }
            Token::Op(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_bodies_are_evaluated_and_others_left_out() {
        let defines = "#define SIGINT 2\n#define SIGABRT 6\n#define SIGIOT SIGABRT\n\
            #define O_CREAT 0100\n#define BIT (1UL << 3)\n#define MASK (~0x0fU & 0xff)\n\
            #define NEG (-1)\n#define MIX (BIT | 1) * 2\n#define STR \"x\"\n\
            #define CAST ((int) 1)\n#define F(x) (x)\n#define SELF SELF\n#define EMPTY\n\
            #define PREC 1 + 2 * 3\n";
        assert_eq!(
            evaluate(defines),
            [
                ("BIT", 8),
                ("MASK", 0xf0),
                ("MIX", 18),
                ("NEG", -1),
                ("O_CREAT", 0o100),
                ("PREC", 7),
                ("SIGABRT", 6),
                ("SIGINT", 2),
                ("SIGIOT", 6),
            ]
            .map(|(n, v)| (n.to_string(), v))
        );
    }
}

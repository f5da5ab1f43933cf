//! C integer constant expressions, as `#if` conditions and object-like macro bodies write
//! them: decimal, hex and octal literals with `u`/`l` suffixes, names, `defined NAME`, and
//! C's unary, binary and `?:` operators with C's precedence, evaluated in 64 bits. What a
//! name is worth is the caller's business ([`Names`]): the script preprocessor counts an
//! unknown name as 0, as cpp does in `#if`; the reader of a header's macros refuses it.

use crate::literal::parse_int;

/// What the names in an expression stand for.
pub trait Names {
    /// The value of `name`, or why it has none.
    fn value(&mut self, name: &str) -> Result<i64, String>;
    /// Whether `name` is a macro (`defined NAME`).
    fn defined(&self, name: &str) -> bool;
}

/// The value of expression `text`, all of it.
pub fn evaluate(text: &str, names: &mut dyn Names) -> Result<i64, String> {
    let tokens = tokenize(text)?;
    let mut ev = Eval {
        tokens: &tokens,
        pos: 0,
        names,
        depth: 0,
    };
    let v = ev.ternary()?;
    if ev.pos != tokens.len() {
        return Err("unexpected text after the expression".into());
    }
    Ok(v)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(i64),
    Name(String),
    Op(&'static str),
}

const OPS: &[&str] = &[
    "&&", "||", "==", "!=", "<=", ">=", "<<", ">>", "!", "<", ">", "(", ")", "+", "-", "*", "/",
    "%", "&", "|", "^", "~", "?", ":",
];

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let n = b[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            let word = &text[i..i + n];
            out.push(Tok::Num(
                parse_int(word).ok_or_else(|| format!("bad number `{word}`"))?,
            ));
            i += n;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let n = b[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count();
            out.push(Tok::Name(text[i..i + n].to_string()));
            i += n;
        } else if let Some(op) = OPS.iter().find(|op| b[i..].starts_with(op.as_bytes())) {
            out.push(Tok::Op(op));
            i += op.len();
        } else {
            let ch = text[i..].chars().next().unwrap_or('?');
            return Err(format!("unexpected `{ch}`"));
        }
    }
    Ok(out)
}

/// A small recursive-descent evaluator with C precedence.
struct Eval<'a> {
    tokens: &'a [Tok],
    pos: usize,
    names: &'a mut dyn Names,
    depth: u32,
}

type R = Result<i64, String>;

impl Eval<'_> {
    fn peek_op(&self) -> Option<&'static str> {
        match self.tokens.get(self.pos) {
            Some(Tok::Op(op)) => Some(op),
            _ => None,
        }
    }

    fn eat(&mut self, op: &str) -> bool {
        if self.peek_op() == Some(op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ternary(&mut self) -> R {
        let c = self.binary(0)?;
        if self.eat("?") {
            let a = self.ternary()?;
            if !self.eat(":") {
                return Err("expected `:` in `?:`".into());
            }
            let b = self.ternary()?;
            return Ok(if c != 0 { a } else { b });
        }
        Ok(c)
    }

    fn binary(&mut self, min_level: usize) -> R {
        const LEVELS: &[&[&str]] = &[
            &["||"],
            &["&&"],
            &["|"],
            &["^"],
            &["&"],
            &["==", "!="],
            &["<", "<=", ">", ">="],
            &["<<", ">>"],
            &["+", "-"],
            &["*", "/", "%"],
        ];
        if min_level == LEVELS.len() {
            return self.unary();
        }
        let mut lhs = self.binary(min_level + 1)?;
        while let Some(op) = self.peek_op().filter(|op| LEVELS[min_level].contains(op)) {
            self.pos += 1;
            let rhs = self.binary(min_level + 1)?;
            lhs = match op {
                "||" => i64::from(lhs != 0 || rhs != 0),
                "&&" => i64::from(lhs != 0 && rhs != 0),
                "|" => lhs | rhs,
                "^" => lhs ^ rhs,
                "&" => lhs & rhs,
                "==" => i64::from(lhs == rhs),
                "!=" => i64::from(lhs != rhs),
                "<" => i64::from(lhs < rhs),
                "<=" => i64::from(lhs <= rhs),
                ">" => i64::from(lhs > rhs),
                ">=" => i64::from(lhs >= rhs),
                "<<" => lhs.wrapping_shl(rhs as u32),
                ">>" => lhs.wrapping_shr(rhs as u32),
                "+" => lhs.wrapping_add(rhs),
                "-" => lhs.wrapping_sub(rhs),
                "*" => lhs.wrapping_mul(rhs),
                "/" | "%" if rhs == 0 => return Err("division by zero".into()),
                "/" => lhs.wrapping_div(rhs),
                _ => lhs.wrapping_rem(rhs),
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> R {
        self.depth += 1;
        if self.depth > 200 {
            return Err("expression nested too deeply".into());
        }
        let v = if self.eat("!") {
            i64::from(self.unary()? == 0)
        } else if self.eat("-") {
            self.unary()?.wrapping_neg()
        } else if self.eat("+") {
            self.unary()?
        } else if self.eat("~") {
            !self.unary()?
        } else {
            self.atom()?
        };
        self.depth -= 1;
        Ok(v)
    }

    fn atom(&mut self) -> R {
        let tok = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        match tok {
            Some(Tok::Num(n)) => Ok(n),
            Some(Tok::Op("(")) => {
                let v = self.ternary()?;
                if !self.eat(")") {
                    return Err("expected `)`".into());
                }
                Ok(v)
            }
            Some(Tok::Name(n)) if n == "defined" => {
                let paren = self.eat("(");
                let name = match self.tokens.get(self.pos) {
                    Some(Tok::Name(n)) => n.clone(),
                    _ => return Err("expected a macro name after `defined`".into()),
                };
                self.pos += 1;
                if paren && !self.eat(")") {
                    return Err("expected `)` after `defined(NAME`".into());
                }
                Ok(i64::from(self.names.defined(&name)))
            }
            Some(Tok::Name(n)) => self.names.value(&n),
            Some(Tok::Op(op)) => Err(format!("unexpected `{op}`")),
            None => Err("expected a value".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Table(HashMap<&'static str, i64>);

    impl Names for Table {
        fn value(&mut self, name: &str) -> Result<i64, String> {
            self.0
                .get(name)
                .copied()
                .ok_or_else(|| format!("`{name}` is unknown"))
        }
        fn defined(&self, name: &str) -> bool {
            self.0.contains_key(name)
        }
    }

    #[test]
    fn c_precedence_literals_and_names() {
        let mut t = Table(HashMap::from([("A", 2), ("B", 8)]));
        let mut ev = |s: &str| evaluate(s, &mut t);
        assert_eq!(ev("1 + 2 * 3"), Ok(7));
        assert_eq!(ev("(1UL << 3) | 0x10 | 010"), Ok(0x18 | 8));
        assert_eq!(ev("~0x0fU & 0xff"), Ok(0xf0));
        assert_eq!(ev("A * -B"), Ok(-16));
        assert_eq!(ev("defined(A) && !defined C ? 1 : 2"), Ok(1));
        assert_eq!(ev("A >= 2 && B % 3 == 2"), Ok(1));
        assert!(ev("C + 1").is_err());
        assert!(ev("1 / 0").is_err());
        assert!(ev("(1").is_err());
        assert!(ev("1 2").is_err());
        assert!(ev("\"x\"").is_err());
    }
}

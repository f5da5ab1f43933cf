//! Integer macros of the C headers a script `#include`s (`SIGINT` from `<signal.h>`,
//! `__NR_read` from `<syscall.h>`), which bpftrace's clang sees and scripts use as constants.
//!
//! The headers are preprocessed by the system's C preprocessor (`cpp -dM`, which prints every
//! macro once its conditionals, nested includes and predefined macros are worked out): no
//! crate preprocesses C, and a preprocessor of rbt's own would have to repeat the system
//! compiler's predefined macros to pick the same branches of the headers' `#if`s. What this
//! file does itself is small: evaluating each object-like macro whose body is an integer
//! constant expression ([`stdlib::cexpr`], with other such macros as names). Bodies with
//! casts, strings or function-like macros are left out. Without a preprocessor the headers give no macros.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use stdlib::cexpr;
use stdlib::diag::reason;

/// The integer macros the headers at `paths` define, after preprocessing them together.
/// An error says why there are none (no preprocessor, a header it refused).
pub fn integer_macros(paths: &[&Path]) -> Result<Vec<(String, i64)>, String> {
    let mut child = Command::new("cpp")
        .args(["-dM", "-x", "c", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run the C preprocessor (cpp): {}", reason(&e)))?;
    let mut source = String::new();
    for p in paths {
        source.push_str(&format!("#include \"{}\"\n", p.display()));
    }
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(source.as_bytes())
            .map_err(|e| format!("cannot write to the C preprocessor: {}", reason(&e)))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("the C preprocessor failed: {}", reason(&e)))?;
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
    let body = bodies.get(name)?;
    cexpr::evaluate(body, &mut Macros { bodies, depth }).ok()
}

/// Other macros as a macro body refers to them: each is its own value; a name that is no
/// integer macro makes the body no constant.
struct Macros<'a> {
    bodies: &'a HashMap<&'a str, &'a str>,
    depth: u32,
}

impl cexpr::Names for Macros<'_> {
    fn value(&mut self, name: &str) -> Result<i64, String> {
        value_of(name, self.bodies, self.depth + 1)
            .ok_or_else(|| format!("`{name}` is no constant"))
    }
    fn defined(&self, name: &str) -> bool {
        self.bodies.contains_key(name)
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

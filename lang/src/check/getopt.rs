//! Named program options: `getopt("name", default[, "description"])` reads `--name=value`
//! given after `--` on rbt's command line. Their values are known when the script is
//! checked, so each call becomes a constant of its default's type (an integer default that is
//! negative makes the option signed, any other unsigned; a string, a bool, or no default:
//! a flag that is true when given). The options a script declares are kept, so that options
//! it does not declare are refused and `-- --help` can list the declared ones.

use super::diagnostics;
use super::exprs::{mk, poisoned};
use super::Checker;
use crate::ast::{self, ExprKind as A, Span};
use crate::hir::{Expr, ExprKind as H};
use stdlib::diag::Diagnostic;
use stdlib::types::{Type, I64, U64};

pub use stdlib::manifest::OptionDefault;
use stdlib::manifest::{option_value, RunValue};

/// A program option a script declares with `getopt()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramOption {
    pub name: String,
    pub default: OptionDefault,
    pub description: Option<String>,
    /// The first `getopt()` call that reads it.
    pub span: Span,
}

/// The text `-- --help` prints: every declared option, the last declared first.
pub fn program_options_help(options: &[ProgramOption]) -> String {
    let mut out = String::from("HINT: expected program options:\n");
    for o in options.iter().rev() {
        match &o.description {
            Some(d) => out.push_str(&format!("--{}: {d}\n", o.name)),
            None => out.push_str(&format!("--{}\n", o.name)),
        }
    }
    out
}

impl Checker<'_> {
    /// `getopt("name"[, default[, "description"]])`: the option's value from the command line,
    /// or its default.
    pub(super) fn getopt_call(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        let Some(name) = self.literal_str(&args[0], "getopt", "option name") else {
            return poisoned(span);
        };
        let default = match args.get(1) {
            None => OptionDefault::Bool(false),
            Some(a) => match &a.kind {
                A::Bool(b) => OptionDefault::Bool(*b),
                A::Str(bytes) => OptionDefault::Str(String::from_utf8_lossy(bytes).into_owned()),
                _ => match self.const_int(a) {
                    Some(v) => OptionDefault::Int(v),
                    None => {
                        self.push(diagnostics::getopt_default(a.span));
                        return poisoned(span);
                    }
                },
            },
        };
        let description = match args.get(2) {
            Some(d) => match self.literal_str(d, "getopt", "description") {
                Some(d) => Some(d),
                None => return poisoned(span),
            },
            None => None,
        };
        match self.program_options.iter().find(|o| o.name == name) {
            Some(o) if o.default != default => {
                let d = diagnostics::getopt_default_differs(&name, &o.default.describe(), span);
                self.push(d);
                return poisoned(span);
            }
            Some(_) => {}
            None => self.program_options.push(ProgramOption {
                name: name.clone(),
                default: default.clone(),
                description,
                span,
            }),
        }
        // The last `--name` on the command line wins.
        let given = self
            .opts
            .named
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_deref());
        let int_ty = if matches!(default, OptionDefault::Int(d) if d < 0) {
            I64
        } else {
            U64
        };
        if self.opts.run_time_values {
            // A compiled file reads the option given to its run.
            let (ty, len) = match &default {
                OptionDefault::Int(_) => (int_ty, 8),
                OptionDefault::Bool(_) => (Type::Bool, 8),
                OptionDefault::Str(s) => {
                    let len = self.opts.config.strlen().max(s.len() as u32 + 1);
                    (Type::Str { len }, len)
                }
            };
            let v = RunValue::ProgramOption { name, default, len };
            return self.run_value(v, 0, ty, span);
        }
        match option_value(&default, given) {
            Ok(OptionDefault::Int(v)) => mk(H::Int(v), int_ty, span),
            Ok(OptionDefault::Bool(b)) => mk(H::Int(i64::from(b)), Type::Bool, span),
            Ok(OptionDefault::Str(s)) => {
                let len = s.len() as u32 + 1;
                mk(H::Str(s.into_bytes()), Type::Str { len }, span)
            }
            Err(problem) => {
                self.push(diagnostics::getopt_bad_value(&name, &problem, span));
                poisoned(span)
            }
        }
    }

    /// Options on the command line that no `getopt()` call declares: an error, since a
    /// misspelt option would otherwise be ignored silently. `--help` asks for the list.
    pub(super) fn unexpected_program_options(&mut self) -> Option<Diagnostic> {
        let declared = &self.program_options;
        let mut unexpected: Vec<String> = Vec::new();
        for (n, _) in &self.opts.named {
            let name = format!("--{n}");
            if n != "help" && !declared.iter().any(|o| o.name == *n) && !unexpected.contains(&name)
            {
                unexpected.push(name);
            }
        }
        if unexpected.is_empty() {
            return None;
        }
        let expected: Vec<String> = declared.iter().map(|o| format!("--{}", o.name)).collect();
        // The diagnostic points at the first option the script reads, or at its start.
        let span = declared.first().map_or(Span::new(0, 0), |o| o.span);
        Some(diagnostics::unexpected_program_options(
            &unexpected,
            &expected,
            span,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_the_last_declared_first() {
        let o = |name: &str, description: Option<&str>| ProgramOption {
            name: name.into(),
            default: OptionDefault::Bool(false),
            description: description.map(String::from),
            span: Span::new(0, 0),
        };
        let help = program_options_help(&[o("aa", Some("AA")), o("bb", None)]);
        assert_eq!(help, "HINT: expected program options:\n--bb\n--aa: AA\n");
    }
}

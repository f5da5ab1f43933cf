//! The preprocessor that runs before the pest grammar: it blanks comments, the shebang line,
//! every preprocessor directive and every region a false `#if` switches off, records the
//! surviving `#include`s and `#define`s as [`ast::Directive`]s, and reports problems.
//!
//! Blanking replaces each byte by a space and keeps newlines, so every byte offset in the
//! result is the offset of the same text in the original source and spans stay exact. What
//! was blanked is also listed as [`Trivia`], which the formatter (`lang::format`) puts back.

use crate::ast::{Directive, Ident, Span};
use std::collections::HashMap;
use stdlib::cexpr;
use stdlib::diag::Diagnostic;
use stdlib::literal::parse_int;

/// The preprocessed source and what the preprocessor learned on the way.
#[derive(Debug)]
pub struct Preprocessed {
    /// Same length as the input; comments, directives and inactive regions are spaces.
    pub text: String,
    pub directives: Vec<Directive>,
    pub diagnostics: Vec<Diagnostic>,
    /// Where an unterminated `/*` starts: the rest of the source was blanked.
    pub unterminated_comment: Option<usize>,
    /// Every blanked piece of text, in source order.
    pub trivia: Vec<Trivia>,
}

/// A piece of the source the grammar never sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trivia {
    pub span: Span,
    pub kind: TriviaKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriviaKind {
    /// A `//` or `/* */` comment.
    Comment,
    /// Whole lines kept as written: the shebang, a preprocessor directive (with its
    /// continuation lines), or a line a false `#if` switches off. Comments inside are part
    /// of the line.
    Lines,
}

/// Macros every script sees: bpftrace defines `BPFTRACE_HAVE_BTF` when the kernel has BTF,
/// and rbt only supports kernels with BTF.
const PREDEFINED: &[(&str, &str)] = &[("BPFTRACE_HAVE_BTF", "1")];

/// Directive names we know, for "did you mean" on a misspelt one.
const DIRECTIVES: &[&str] = &[
    "if", "ifdef", "ifndef", "elif", "else", "endif", "include", "define", "undef", "pragma",
    "error", "warning", "line",
];

pub fn preprocess(source: &str) -> Preprocessed {
    let mut diagnostics = Vec::new();
    let mut trivia = Vec::new();
    let mut bytes = source.as_bytes().to_vec();
    let unterminated_comment = blank_comments(&mut bytes, &mut diagnostics, &mut trivia);
    let shebang = blank_shebang(&mut bytes);
    let mut state = State {
        defines: PREDEFINED
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        stack: Vec::new(),
        directives: Vec::new(),
        diagnostics,
        lines: shebang.into_iter().collect(),
    };
    state.run(&mut bytes, source.as_bytes());
    // A comment that starts on a kept line is printed with the line, which then runs to the
    // comment's end (and takes in any kept line that starts before that). Both lists are in
    // source order, so one pass over them merges the two.
    let mut comments = std::mem::take(&mut trivia).into_iter().peekable();
    let mut kept: Vec<Span> = Vec::new();
    for mut line in std::mem::take(&mut state.lines) {
        while let Some(c) = comments.next_if(|c| c.span.start < line.start) {
            trivia.push(c);
        }
        while let Some(c) = comments.next_if(|c| c.span.start < line.end) {
            line.end = line.end.max(c.span.end);
        }
        match kept.last_mut() {
            Some(last) if line.start < last.end => last.end = last.end.max(line.end),
            _ => kept.push(line),
        }
    }
    trivia.extend(comments);
    trivia.extend(kept.into_iter().map(|span| Trivia {
        span,
        kind: TriviaKind::Lines,
    }));
    trivia.sort_by_key(|t| t.span.start);
    for frame in &state.stack {
        state.diagnostics.push(
            Diagnostic::error("unterminated conditional directive", frame.span)
                .with_label("this conditional has no matching `#endif`")
                .with_help("add `#endif` at the end of the conditional region"),
        );
    }
    // Only ASCII bytes were overwritten, and each whole character of a blanked region was
    // replaced byte by byte, so the text is still UTF-8; the lossy conversion never loses.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Preprocessed {
        text,
        directives: state.directives,
        diagnostics: state.diagnostics,
        unterminated_comment,
        trivia,
    }
}

/// Replaces `//` and `/* */` comments by spaces, leaving string literals alone. An
/// unterminated block comment is reported and blanked to the end of the source.
fn blank_comments(
    bytes: &mut [u8],
    diagnostics: &mut Vec<Diagnostic>,
    trivia: &mut Vec<Trivia>,
) -> Option<usize> {
    let mut comment = |start: usize, end: usize| {
        trivia.push(Trivia {
            span: Span::new(start, end),
            kind: TriviaKind::Comment,
        })
    };
    let mut unterminated = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let start = i;
                while i < bytes.len() && bytes[i] != b'\n' {
                    bytes[i] = b' ';
                    i += 1;
                }
                comment(start, i);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let start = i;
                let end = find(bytes, i + 2, b"*/").map(|e| e + 2);
                if end.is_none() {
                    unterminated = Some(start);
                    diagnostics.push(
                        Diagnostic::error(
                            "unterminated block comment",
                            Span::new(start, start + 2),
                        )
                        .with_label("this comment is never closed")
                        .with_help("close it with `*/`"),
                    );
                }
                let end = end.unwrap_or(bytes.len());
                blank(bytes, start, end);
                comment(start, end);
                i = end;
            }
            _ => i += 1,
        }
    }
    unterminated
}

/// The index just past the string literal starting at `start` (a `"`). A string that is not
/// closed on its line ends at the newline; the parser reports it.
pub fn skip_string(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Blanks `start..end`, keeping newlines so line numbers do not move.
fn blank(bytes: &mut [u8], start: usize, end: usize) {
    for b in &mut bytes[start..end] {
        if *b != b'\n' {
            *b = b' ';
        }
    }
}

/// Blanks a `#!` first line; returns where it was.
fn blank_shebang(bytes: &mut [u8]) -> Option<Span> {
    if !bytes.starts_with(b"#!") {
        return None;
    }
    let end = bytes
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(bytes.len());
    blank(bytes, 0, end);
    Some(Span::new(0, end))
}

/// One open `#if`/`#ifdef`/`#ifndef`.
struct Frame {
    /// Whether the region around this conditional is active at all.
    parent_active: bool,
    /// Whether some branch of this conditional has been taken already.
    taken: bool,
    /// Whether the current branch is active.
    active: bool,
    seen_else: bool,
    span: Span,
}

struct State {
    defines: HashMap<String, String>,
    stack: Vec<Frame>,
    directives: Vec<Directive>,
    diagnostics: Vec<Diagnostic>,
    /// The directive lines and the switched-off lines with text, as [`TriviaKind::Lines`].
    lines: Vec<Span>,
}

/// A directive line (with its continuations) as found in the source.
struct Line {
    start: usize,
    end: usize,
    /// The logical text with `\`-newline continuations removed.
    text: String,
}

impl State {
    fn active(&self) -> bool {
        !matches!(self.stack.last(), Some(f) if !f.active)
    }

    /// Evaluates the directives of `bytes` (the source with comments blanked), blanking them
    /// and every switched-off line; `source` is the text as written.
    fn run(&mut self, bytes: &mut [u8], source: &[u8]) {
        let mut pos = 0;
        while pos < bytes.len() {
            let line_end = bytes[pos..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(bytes.len(), |p| pos + p);
            let first = bytes[pos..line_end]
                .iter()
                .position(|b| !b.is_ascii_whitespace());
            let is_directive = first.is_some_and(|f| bytes[pos + f] == b'#');
            if is_directive {
                let line = logical_line(bytes, pos);
                let was_active = self.active();
                self.directive(&line, was_active);
                blank(bytes, line.start, line.end);
                self.lines.push(Span::new(line.start, line.end));
                pos = line.end;
            } else {
                if !self.active() {
                    // A switched-off line is kept as written, a comment alone on it too.
                    if source[pos..line_end]
                        .iter()
                        .any(|b| !b.is_ascii_whitespace())
                    {
                        self.lines.push(Span::new(pos, line_end));
                    }
                    blank(bytes, pos, line_end);
                }
                pos = line_end;
            }
            if pos < bytes.len() {
                pos += 1;
            }
        }
    }

    fn directive(&mut self, line: &Line, active: bool) {
        let body = line.text.trim_start().trim_start_matches('#');
        let lead = line.text.len() - body.len();
        let body_trimmed = body.trim_start();
        let name_off = line.start + lead + (body.len() - body_trimmed.len());
        let name_len = body_trimmed
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let name = &body_trimmed[..name_len];
        let rest = body_trimmed[name_len..].trim();
        let span = Span::new(line.start, line.end);
        let name_span = Span::new(name_off.min(line.end), (name_off + name_len).min(line.end));
        match name {
            "ifdef" | "ifndef" => {
                let value = if active {
                    let defined = self.defines.contains_key(first_word(rest));
                    if first_word(rest).is_empty() {
                        self.error(Diagnostic::error(format!("`#{name}` needs a macro name"), span));
                    }
                    defined == (name == "ifdef")
                } else {
                    false
                };
                self.push(active, value, span);
            }
            "if" => {
                let value = active && self.eval(rest, span);
                self.push(active, value, span);
            }
            "elif" => match self.stack.pop() {
                Some(mut f) => {
                    if f.seen_else {
                        self.error(Diagnostic::error("`#elif` after `#else`", span));
                    }
                    let value = f.parent_active && !f.taken && self.eval(rest, span);
                    f.active = value;
                    f.taken |= value;
                    self.stack.push(f);
                }
                None => self.unmatched(name, span),
            },
            "else" => match self.stack.last_mut() {
                Some(f) => {
                    let repeated = f.seen_else;
                    f.seen_else = true;
                    f.active = f.parent_active && !f.taken;
                    f.taken = true;
                    if repeated {
                        self.error(Diagnostic::error("a second `#else` in the same conditional", span));
                    }
                }
                None => self.unmatched(name, span),
            },
            "endif" => {
                if self.stack.pop().is_none() {
                    self.unmatched(name, span);
                }
            }
            _ if !active => {}
            "include" => self.include(rest, span),
            "define" => {
                // `rest` is a subslice of the line text; its offset locates the macro name.
                let off = rest.as_ptr() as usize - line.text.as_ptr() as usize;
                self.define(rest, span, (line.start + off).min(line.end));
            }
            "undef" => {
                self.defines.remove(first_word(rest));
            }
            "pragma" | "line" => {}
            "error" => self.error(Diagnostic::error(format!("#error {rest}"), span)),
            "warning" => self.diagnostics.push(Diagnostic::warning(format!("#warning {rest}"), span)),
            "" => self.error(
                Diagnostic::error("expected a preprocessor directive after `#`", span)
                    .with_help("directives are `#include`, `#define`, `#if`, `#ifdef`, `#ifndef`, `#else`, `#endif`"),
            ),
            _ => self.error(
                Diagnostic::error(format!("unknown preprocessor directive `#{name}`"), name_span)
                    .with_suggestion(name, DIRECTIVES.iter().copied()),
            ),
        }
    }

    fn push(&mut self, parent_active: bool, value: bool, span: Span) {
        self.stack.push(Frame {
            parent_active,
            taken: value,
            active: value,
            seen_else: false,
            span,
        });
    }

    fn unmatched(&mut self, name: &str, span: Span) {
        self.error(
            Diagnostic::error(format!("`#{name}` without a matching `#if`"), span)
                .with_label("no conditional is open here"),
        );
    }

    fn error(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    fn include(&mut self, rest: &str, span: Span) {
        let parsed = if let Some(inner) = rest.strip_prefix('<') {
            inner.find('>').map(|e| (inner[..e].to_string(), true))
        } else if let Some(inner) = rest.strip_prefix('"') {
            inner.find('"').map(|e| (inner[..e].to_string(), false))
        } else {
            None
        };
        match parsed {
            Some((path, system)) if !path.is_empty() => {
                self.directives
                    .push(Directive::Include { path, system, span });
            }
            _ => self.error(
                Diagnostic::error("expected `<file>` or `\"file\"` after `#include`", span)
                    .with_help("write it as `#include <linux/sched.h>`"),
            ),
        }
    }

    fn define(&mut self, rest: &str, span: Span, rest_start: usize) {
        let name = first_word(rest);
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            self.error(Diagnostic::error(
                "expected a macro name after `#define`",
                span,
            ));
            return;
        }
        let after = &rest[name.len()..];
        if after.starts_with('(') {
            self.error(
                Diagnostic::error(
                    format!("function-like macro `{name}` is not supported"),
                    span,
                )
                .with_note(
                    "only object-like macros (`#define NAME value`) can be used in a script",
                ),
            );
            return;
        }
        let value = after.trim().to_string();
        let name_span = Span::new(rest_start, (rest_start + name.len()).min(span.end));
        self.defines.insert(name.to_string(), value.clone());
        self.directives.push(Directive::Define {
            name: Ident {
                name: name.to_string(),
                span: name_span,
            },
            value,
            span,
        });
    }

    /// Evaluates a `#if`/`#elif` condition; errors are reported and count as false.
    fn eval(&mut self, text: &str, span: Span) -> bool {
        match cexpr::evaluate(text, &mut IfNames(&self.defines)) {
            Ok(v) => v != 0,
            Err(msg) => {
                self.error(Diagnostic::error(
                    format!("invalid `#if` condition: {msg}"),
                    span,
                ));
                false
            }
        }
    }
}

fn first_word(s: &str) -> &str {
    let n = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    &s[..n]
}

/// Reads the directive line at `start`, following `\`-newline continuations.
fn logical_line(bytes: &[u8], start: usize) -> Line {
    let mut text = Vec::new();
    let mut i = start;
    while i < bytes.len() && bytes[i] != b'\n' {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'\n') {
            i += 2;
            continue;
        }
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'\r') && bytes.get(i + 2) == Some(&b'\n')
        {
            i += 3;
            continue;
        }
        text.push(bytes[i]);
        i += 1;
    }
    Line {
        start,
        end: i,
        text: String::from_utf8_lossy(&text).into_owned(),
    }
}

/// The script's macros as a `#if` sees them: a macro is its value, an unknown name 0.
struct IfNames<'a>(&'a HashMap<String, String>);

impl cexpr::Names for IfNames<'_> {
    fn value(&mut self, name: &str) -> Result<i64, String> {
        Ok(self.0.get(name).and_then(|v| parse_int(v)).unwrap_or(0))
    }
    fn defined(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_offsets_and_evaluates_conditionals() {
        let src = "#!/usr/bin/env bpftrace\n#ifndef BPFTRACE_HAVE_BTF\n#include <a.h>\n#else\n#include \"b.h\"\n#endif\nBEGIN { } // hi\n";
        let p = preprocess(src);
        assert_eq!(p.text.len(), src.len());
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        assert_eq!(p.directives.len(), 1);
        assert!(
            matches!(&p.directives[0], Directive::Include { path, system: false, .. } if path == "b.h")
        );
        assert_eq!(p.text.trim(), "BEGIN { }");
    }

    #[test]
    fn if_expressions() {
        let src = "#define X 3\n#if defined(X) && X > 2 || 0\nyes\n#elif 1\nno\n#endif\n";
        let p = preprocess(src);
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        assert_eq!(p.text.trim(), "yes");
    }
}

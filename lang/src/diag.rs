//! Diagnostics as data: every error or warning the front end finds is a [`Diagnostic`] with
//! spans, rendered last (and only here) with codespan-reporting, like rustc does.

use crate::ast::Span;
use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a script: a message, the primary span it is about, optional secondary
/// spans, and notes/hints shown below the source excerpt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    /// Text under the primary underline (may be empty).
    pub label: String,
    pub secondary: Vec<(Span, String)>,
    /// Lines printed as `= help: ...` (did you mean …, how to fix it).
    pub help: Vec<String>,
    /// Lines printed as `= note: ...` (why).
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            label: String::new(),
            secondary: Vec::new(),
            help: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn warning(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message, span)
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push((span, label.into()));
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help.push(help.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Adds "did you mean `x`?" when `candidates` holds a name close to `wanted`.
    pub fn with_suggestion<'a>(
        self,
        wanted: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Diagnostic {
        match closest(wanted, candidates) {
            Some(best) => self.with_help(format!("did you mean `{best}`?")),
            None => self,
        }
    }

    /// In-place form of [`Diagnostic::with_suggestion`].
    pub fn suggest(&mut self, wanted: &str, candidates: &[&str]) -> &mut Diagnostic {
        if let Some(best) = closest(wanted, candidates.iter().copied()) {
            self.help.push(format!("did you mean `{best}`?"));
        }
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The candidate closest to `wanted` by edit distance, if it is close enough to be a likely
/// typo (at most a third of the longer name, and at least one character in common).
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (wanted.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != wanted)
        .map(|c| (strsim::levenshtein(wanted, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

/// The span of line `line` (1-based) of `source` without its surrounding whitespace, for
/// errors found where only a line number is known (the kernel verifier's).
pub fn line_span(source: &str, line: u32) -> Option<Span> {
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    let mut start = 0;
    for (i, text) in source.split('\n').enumerate() {
        if i == index {
            let lead = text.len() - text.trim_start().len();
            return Some(Span::new(start + lead, start + lead + text.trim().len()));
        }
        start += text.len() + 1;
    }
    None
}

/// Renders diagnostics against the source they refer to. `color` enables ANSI colours.
pub fn render(file_name: &str, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let file = SimpleFile::new(file_name, source);
    let mut buffer = if color {
        termcolor::Buffer::ansi()
    } else {
        termcolor::Buffer::no_color()
    };
    let config = term::Config::default();
    for d in diagnostics {
        let cs = to_codespan(d, source.len());
        // Writing into an in-memory buffer only fails on a span outside the file, which
        // to_codespan clamps away; fall back to the bare message rather than lose it.
        if term::emit(&mut buffer, &config, &file, &cs).is_err() {
            buffer_write(&mut buffer, &format!("error: {}\n", d.message));
        }
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

fn buffer_write(buffer: &mut termcolor::Buffer, text: &str) {
    use std::io::Write;
    let _ = buffer.write_all(text.as_bytes());
}

fn clamp(span: Span, len: usize) -> std::ops::Range<usize> {
    let start = span.start.min(len);
    let end = span.end.clamp(start, len);
    start..end
}

fn to_codespan(d: &Diagnostic, len: usize) -> CsDiagnostic<()> {
    let base = match d.severity {
        Severity::Error => CsDiagnostic::error(),
        Severity::Warning => CsDiagnostic::warning(),
    };
    let mut labels = vec![Label::primary((), clamp(d.span, len)).with_message(d.label.clone())];
    labels.extend(
        d.secondary
            .iter()
            .map(|(s, m)| Label::secondary((), clamp(*s, len)).with_message(m.clone())),
    );
    let notes = d
        .help
        .iter()
        .map(|h| format!("help: {h}"))
        .chain(d.notes.iter().map(|n| format!("note: {n}")))
        .collect();
    base.with_message(d.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_spans_skip_indentation() {
        let src = "BEGIN {\n    exit();  \n}";
        assert_eq!(line_span(src, 2), Some(Span::new(12, 19)));
        assert_eq!(&src[12..19], "exit();");
        assert_eq!(line_span(src, 0), None);
        assert_eq!(line_span(src, 4), None);
    }

    #[test]
    fn closest_finds_typos() {
        let names = ["sys_enter_openat", "sys_enter_open", "sys_exit_openat"];
        assert_eq!(closest("sys_enter_opnat", names), Some("sys_enter_openat"));
        assert_eq!(closest("zzz", names), None);
    }
}

//! Diagnostics as data: every error or warning the front end finds is a [`Diagnostic`] with
//! spans, rendered last (and only here) with codespan-reporting, like rustc does. It lives in
//! the shared contract because the runtime renders against the script too, without the front
//! end: a verifier refusal as a diagnostic on its line, and the run-time warnings (`-k`
//! helper failures, full maps, `warnf`/`errorf` locations) laid out as bpftrace prints them.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};

/// `eprint!` that lets a write fail: rbt's messages on stderr (diagnostics, "Attached N
/// probes", warnings) must not abort it when stderr is a closed pipe (`rbt ... 2>&1 | head`),
/// which `eprint!` would, by panicking.
#[macro_export]
macro_rules! stderr {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprintln!` that lets a write fail (see [`stderr!`]).
#[macro_export]
macro_rules! stderrln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor};
use serde::Serialize;

/// An error's text for a message, without the ` (os error N)` that Rust's `io::Error` adds
/// after the C library's text (`No such file or directory (os error 2)`), also where the
/// error wraps one: users read the system's words, as other tools print them.
pub fn reason(e: &impl std::fmt::Display) -> String {
    let mut text = e.to_string();
    while let Some(at) = text.find(" (os error ") {
        match text[at..].find(')') {
            Some(end) => text.replace_range(at..at + end + 1, ""),
            None => break,
        }
    }
    text
}

/// A half-open byte range `start..end` into the script source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

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
    /// The diagnostic with every span moved `by` bytes on: about a text that starts there in
    /// a longer one (an imported file after its script).
    pub fn shifted(mut self, by: usize) -> Diagnostic {
        let shift = |s: Span| Span::new(s.start + by, s.end + by);
        self.span = shift(self.span);
        for (s, _) in &mut self.secondary {
            *s = shift(*s);
        }
        self
    }

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

/// Where the lines of a script start: byte offsets to 1-based lines and columns, and line
/// numbers to line text. The one line index of rbt: diagnostics, codegen's BTF line info,
/// `-k` warnings and the verifier's annotations all count lines through it.
pub struct Lines<'s> {
    source: &'s str,
    /// Byte offset of the first byte of each line; `starts[0]` is 0.
    starts: Vec<usize>,
}

impl<'s> Lines<'s> {
    pub fn new(source: &'s str) -> Lines<'s> {
        let starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { source, starts }
    }

    /// The 1-based line and column (in bytes) of a byte offset. A line's newline belongs to
    /// it; an offset past the end counts on from the start of the last line.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        // At least 1, because starts[0] = 0 <= offset.
        let line = self.starts.partition_point(|s| *s <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        (line, offset.saturating_sub(start) + 1)
    }

    /// The byte range of line `line` (1-based), without its newline.
    pub fn range(&self, line: usize) -> Option<std::ops::Range<usize>> {
        let start = *self.starts.get(line.checked_sub(1)?)?;
        let end = self
            .starts
            .get(line)
            .map_or(self.source.len(), |next| next - 1);
        Some(start..end)
    }

    /// The text of line `line` (1-based), without its newline.
    pub fn text(&self, line: usize) -> Option<&'s str> {
        self.source.get(self.range(line)?)
    }
}

/// The span of line `line` (1-based) of `source` without its surrounding whitespace, for
/// errors found where only a line number is known (the kernel verifier's).
pub fn line_span(source: &str, line: u32) -> Option<Span> {
    let lines = Lines::new(source);
    let range = lines.range(usize::try_from(line).ok()?)?;
    let text = source.get(range.clone())?;
    let lead = text.len() - text.trim_start().len();
    let start = range.start + lead;
    Some(Span::new(start, start + text.trim().len()))
}

/// `-k`: the warning for a BPF helper call at `span` that returned `ret` (a negative errno),
/// worded and laid out as bpftrace prints it, not as other diagnostics are:
/// `file:line:col-endcol: WARNING: Failed to probe_read: Bad address (-14)`, then the line
/// with `~` under the text. Columns are 1-based bytes, the end one past the last character;
/// the underline stops at the end of the line.
pub fn helper_warning(file: &str, source: &str, span: Span, helper: &str, ret: i64) -> String {
    // A map read of a key that is not there is no failed call to bpftrace (it returns NULL,
    // not an errno), and it words it as a missing element.
    let message = if helper == "map_lookup_elem" {
        format!(
            "Can't lookup map element because it does not exist.\nAdditional Info - helper: {helper}, retcode: {ret}"
        )
    } else {
        format!(
            "Failed to {helper}: {} ({ret})",
            crate::value::strerror(-ret)
        )
    };
    runtime_warning(file, source, span, &message)
}

/// A warning about what the program did at `span` while it ran, laid out as bpftrace prints
/// those: `file:line:col-endcol: WARNING: message`, then the line with `~` under the text.
pub fn runtime_warning(file: &str, source: &str, span: Span, message: &str) -> String {
    runtime_message(file, source, span, "WARNING", message)
}

/// A message about what the program did at `span` while it ran, at `level` (`WARNING`,
/// `ERROR`), laid out as [`runtime_warning`] lays out a warning.
pub fn runtime_message(file: &str, source: &str, span: Span, level: &str, message: &str) -> String {
    let lines = Lines::new(source);
    let start = span.start.min(source.len());
    let (line, col) = lines.line_col(start);
    let range = lines.range(line).unwrap_or(start..start);
    let width = span.end.clamp(start + 1, range.end.max(start + 1)) - start;
    format!(
        "{file}:{line}:{col}-{}: {level}: {message}\n{}\n{}{}\n",
        col + width,
        source.get(range).unwrap_or_default(),
        " ".repeat(col - 1),
        "~".repeat(width)
    )
}

/// The 1-based line and column where `span` starts (the `line` and `col` of the JSON form of a
/// helper warning).
pub fn start_line_col(source: &str, span: Span) -> (usize, usize) {
    Lines::new(source).line_col(span.start.min(source.len()))
}

/// Where `span` is, as bpftrace prefixes the messages of `warnf`, `errorf` and `assert`:
/// `file:line:start-end`, columns 1-based and the end one past the span (cut at the line's
/// end).
pub fn location(file: &str, source: &str, span: Span) -> String {
    let lines = Lines::new(source);
    let start = span.start.min(source.len());
    let (line, col) = lines.line_col(start);
    let range = lines.range(line).unwrap_or(start..start);
    let width = span.end.clamp(start + 1, range.end.max(start + 1)) - start;
    format!("{file}:{line}:{col}-{}", col + width)
}

/// Renders diagnostics against the source they refer to. `color` enables ANSI colours.
pub fn render(file_name: &str, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    render_files(file_name, source, &[], diagnostics, color)
}

/// Where a span of a script with imported files is: the name and text of its file, and the
/// span within that text. `text` is the script's text with each imported file's appended
/// after a newline; `imports` names them and says where each starts, in order.
pub fn locate<'a>(
    name: &'a str,
    text: &'a str,
    imports: &'a [(String, usize)],
    span: Span,
) -> (&'a str, &'a str, Span) {
    let index = imports.partition_point(|(_, start)| *start <= span.start);
    let (name, start) = match index.checked_sub(1).and_then(|i| imports.get(i)) {
        Some((n, s)) => (n.as_str(), (*s).min(text.len())),
        None => (name, 0),
    };
    let end = imports.get(index).map_or(text.len(), |(_, next)| {
        next.saturating_sub(1).clamp(start, text.len())
    });
    let local = Span::new(span.start - start, span.end.saturating_sub(start));
    (name, text.get(start..end).unwrap_or_default(), local)
}

/// [`render`] for a script with imported files (see [`locate`]): each label is shown in the
/// file it points into.
pub fn render_files(
    name: &str,
    text: &str,
    imports: &[(String, usize)],
    diagnostics: &[Diagnostic],
    color: bool,
) -> String {
    let mut files = SimpleFiles::new();
    let mut ids: Vec<(String, usize)> = Vec::new();
    let mut file_of = |span: Span| -> (usize, std::ops::Range<usize>) {
        let (file, source, local) = locate(name, text, imports, span);
        let id = match ids.iter().find(|(n, _)| n == file) {
            Some((_, id)) => *id,
            None => {
                let id = files.add(file.to_string(), source.to_string());
                ids.push((file.to_string(), id));
                id
            }
        };
        (id, clamp(local, source.len()))
    };
    let mut buffer = if color {
        termcolor::Buffer::ansi()
    } else {
        termcolor::Buffer::no_color()
    };
    let config = term::Config::default();
    let mut rendered = Vec::new();
    for d in diagnostics {
        rendered.push(to_codespan(d, &mut file_of));
    }
    for (d, cs) in diagnostics.iter().zip(&rendered) {
        // Writing into an in-memory buffer only fails on a span outside the file, which
        // the clamping rules out; fall back to the bare message rather than lose it.
        if term::emit(&mut buffer, &config, &files, cs).is_err() {
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

fn to_codespan(
    d: &Diagnostic,
    file_of: &mut dyn FnMut(Span) -> (usize, std::ops::Range<usize>),
) -> CsDiagnostic<usize> {
    let base = match d.severity {
        Severity::Error => CsDiagnostic::error(),
        Severity::Warning => CsDiagnostic::warning(),
    };
    let (file, range) = file_of(d.span);
    let mut labels = vec![Label::primary(file, range).with_message(d.label.clone())];
    for (s, m) in &d.secondary {
        let (file, range) = file_of(*s);
        labels.push(Label::secondary(file, range).with_message(m.clone()));
    }
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
    fn reasons_drop_the_os_error_number() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(reason(&e), "No such file or directory");
        let wrapped = format!("cannot read x: {e}; and {e}");
        assert_eq!(
            reason(&wrapped),
            "cannot read x: No such file or directory; and No such file or directory"
        );
        assert_eq!(reason(&"plain (text)"), "plain (text)");
    }

    #[test]
    fn line_spans_skip_indentation() {
        let src = "BEGIN {\n    exit();  \n}";
        assert_eq!(line_span(src, 2), Some(Span::new(12, 19)));
        assert_eq!(&src[12..19], "exit();");
        assert_eq!(line_span(src, 0), None);
        assert_eq!(line_span(src, 4), None);
    }

    #[test]
    fn offsets_become_lines_and_columns() {
        let src = "BEGIN {\n  $x = 1;\n\n  exit();\n}";
        let lines = Lines::new(src);
        assert_eq!(lines.line_col(0), (1, 1));
        assert_eq!(lines.line_col(7), (1, 8));
        assert_eq!(lines.line_col(10), (2, 3));
        assert_eq!(lines.line_col(18), (3, 1));
        assert_eq!(lines.line_col(21), (4, 3));
        assert_eq!(lines.text(2), Some("  $x = 1;"));
        assert_eq!(lines.text(3), Some(""));
        assert_eq!(lines.text(5), Some("}"));
        assert_eq!(lines.text(0), None);
        assert_eq!(lines.text(6), None);
        // Past the end (an empty or shorter source): the last line, never a panic.
        assert_eq!(Lines::new("").line_col(5), (1, 6));
        assert_eq!(Lines::new("a\n").text(2), Some(""));
    }

    #[test]
    fn helper_warnings_read_as_bpftrace_prints_them() {
        let src = "BEGIN {\n  @x = *(uint64*)0; }";
        let w = helper_warning("stdin", src, Span::new(15, 26), "probe_read", -14);
        assert_eq!(
            w,
            "stdin:2:8-19: WARNING: Failed to probe_read: Bad address (-14)\n  @x = *(uint64*)0; }\n       ~~~~~~~~~~~\n"
        );
        // A span past its line is cut at the line's end; an empty one still gets a `~`.
        let w = helper_warning("f.bt", "ab\ncd", Span::new(1, 4), "probe_read", -14);
        assert!(
            w.starts_with("f.bt:1:2-3: ") && w.ends_with("ab\n ~\n"),
            "{w}"
        );
        let w = helper_warning("f.bt", "ab", Span::new(9, 9), "probe_read", -14);
        assert!(
            w.starts_with("f.bt:1:3-4: ") && w.ends_with("ab\n  ~\n"),
            "{w}"
        );
    }

    #[test]
    fn closest_finds_typos() {
        let names = ["sys_enter_openat", "sys_enter_open", "sys_exit_openat"];
        assert_eq!(closest("sys_enter_opnat", names), Some("sys_enter_openat"));
        assert_eq!(closest("zzz", names), None);
    }
}

//! `lang::parse`: source text → [`ast::Script`] plus every syntax error found.
//!
//! The pipeline is: [`preprocess`](crate::preprocess) blanks comments and directives, then
//! [`split_items`] cuts the script at top-level brace boundaries into C definitions, the
//! config block and probes, and each item is parsed by the pest grammar on its own. That is
//! the error recovery: a mistake in one probe does not hide a mistake in the next one.
//! pest's `Pair` and `Rule` stay inside this module.

mod build;
mod errors;
mod imports;

pub use imports::ImportFiles;

use crate::ast::{Provider, Script, Span};
use crate::preprocess::{preprocess, skip_string, Trivia};
use pest::Parser;
use std::sync::Mutex;
use stdlib::diag::Diagnostic;
use stdlib::manifest::Source;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct Grammar;

/// Brackets nested deeper than this are refused before parsing: real scripts stay far below
/// it, and it keeps the recursive parser and the tree it builds within the stack.
const MAX_NESTING: usize = 64;

/// Statements (or any run of tokens between `;`, `{` and `}`) longer than this are refused:
/// an expression's tree is at most as deep as its token count, and the tree is walked
/// recursively by every later pass.
const MAX_STATEMENT_TOKENS: usize = 2000;

/// `else` branches in one item beyond this are refused: each `else if` nests the tree.
const MAX_ELSE: usize = 256;

/// Parses a whole script. The script holds everything that parsed; the diagnostics hold
/// every error found, in source order.
pub fn parse(source: &str) -> (Script, Vec<Diagnostic>) {
    parse_with_params(source, &[])
}

/// [`parse`], with the script's positional parameters (`$1` is `params[0]`): one that
/// stands for part of an attach point's probe type (`BEG$1`, or a whole attach point `$1`)
/// is substituted while parsing, because the probe type decides how the rest is read.
pub fn parse_with_params(source: &str, params: &[String]) -> (Script, Vec<Diagnostic>) {
    let (script, _, diags) = parse_script("stdin", source, params, &imports::NoFiles);
    (script, diags)
}

/// [`parse_with_params`] of the script `name`, reading the files it imports through
/// `files`. The source returned holds the script's text with each imported file's
/// appended: the spans of the script point into it.
pub fn parse_script(
    name: &str,
    source: &str,
    params: &[String],
    files: &dyn ImportFiles,
) -> (Script, Source, Vec<Diagnostic>) {
    let (mut script, imports, _, mut diags) = parse_source(source, params);
    let mut sources = Source {
        name: name.to_string(),
        text: source.to_string(),
        imports: Vec::new(),
    };
    imports.read_into(&mut script, &mut sources, params, files, &mut diags);
    crate::macros::expand(&mut script, &mut diags);
    if script.probes.is_empty() && !diags.iter().any(Diagnostic::is_error) {
        let end = source.len();
        diags.push(
            Diagnostic::error("the script has no probes", Span::new(end, end))
                .with_help("a probe looks like `BEGIN { printf(\"hello\\n\"); }`"),
        );
    }
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    (script, sources, diags)
}

/// The script as written, for the formatter: nothing imported, no macro expanded, and
/// besides the tree, where each top-level item lies and the text the grammar never saw.
pub fn parse_for_format(source: &str) -> (Script, Layout, Vec<Diagnostic>) {
    let (script, _, layout, mut diags) = parse_source(source, &[]);
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    (script, layout, diags)
}

/// Where a script's parts lie in its source, beside its tree.
#[derive(Debug)]
pub struct Layout {
    /// Every top-level item, in source order.
    pub items: Vec<(ItemKind, Span)>,
    /// Comments, directives, the shebang and switched-off lines, in source order.
    pub trivia: Vec<Trivia>,
    /// The source with the trivia blanked, as the grammar saw it (same offsets).
    pub code: String,
}

/// Preprocesses and parses every item; what is left to do differs between running a script
/// and formatting it.
fn parse_source(
    source: &str,
    params: &[String],
) -> (Script, imports::Imports, Layout, Vec<Diagnostic>) {
    let pre = preprocess(source);
    let mut diags = pre.diagnostics;
    let mut script = Script {
        directives: pre.directives,
        ..Script::default()
    };
    let mut imports = imports::Imports::default();
    let mut layout = Layout {
        items: Vec::new(),
        trivia: pre.trivia,
        code: String::new(),
    };
    for item in split_items(&pre.text) {
        let mut item_diags = Vec::new();
        layout
            .items
            .push((item.kind, Span::new(item.start, item.end)));
        match item.kind {
            ItemKind::Import => imports.item(&pre.text, item, &mut item_diags),
            ItemKind::Macro | ItemKind::MapDecl | ItemKind::Probe => {
                imports.close(Span::new(item.start, item.end));
                parse_item(&pre.text, item, 0, params, &mut script, &mut item_diags);
            }
            ItemKind::CDefinition | ItemKind::Config => {
                parse_item(&pre.text, item, 0, params, &mut script, &mut item_diags)
            }
        }
        // After an unterminated comment everything is blanked; the parser's complaint about
        // the truncated item only repeats that error.
        item_diags.retain(|d| !matches!(pre.unterminated_comment, Some(c) if d.span.start >= c));
        diags.extend(item_diags);
    }
    layout.code = pre.text;
    (script, imports, layout, diags)
}

/// What a top-level item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    CDefinition,
    Config,
    Import,
    Macro,
    MapDecl,
    Probe,
}

#[derive(Debug, Clone, Copy)]
struct Item {
    kind: ItemKind,
    start: usize,
    end: usize,
}

/// Cuts the preprocessed text into top-level items. A probe or config block ends at the `}`
/// that closes its first top-level `{`; a C definition also takes a following `;` (and a
/// forward declaration `struct S;` ends at its `;`). String literals are skipped so braces
/// inside them do not count.
fn split_items(text: &str) -> Vec<Item> {
    let bytes = text.as_bytes();
    let mut items = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        let kind = classify(&text[start..]);
        if kind == ItemKind::Import {
            let end = imports::import_end(text, start);
            items.push(Item { kind, start, end });
            i = end;
            continue;
        }
        if kind == ItemKind::MapDecl {
            let end = map_decl_end(bytes, start);
            items.push(Item { kind, start, end });
            i = end;
            continue;
        }
        let mut depth = 0usize;
        let mut end = bytes.len();
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    i = skip_string(bytes, i);
                    continue;
                }
                b'{' => depth += 1,
                b'}' if depth <= 1 => {
                    // A stray `}` at depth 0 is an item of its own, which the grammar rejects.
                    end = i + 1;
                    if depth == 1 && kind == ItemKind::CDefinition {
                        end = skip_definition_tail(bytes, end);
                    }
                    break;
                }
                b'}' => depth -= 1,
                // Recovery for a missing `}`: a line that starts at column 0 with a probe
                // header cannot be inside a block, so the open item ends before it.
                b'\n' if depth > 0 && looks_like_probe_start(&text[i + 1..]) => {
                    end = i + 1;
                    break;
                }
                b';' if depth == 0 && kind != ItemKind::Probe => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        items.push(Item { kind, start, end });
        i = end;
    }
    items
}

/// Where the map declaration that starts at `start` ends: after the `)` that closes its
/// first `(`, and the `;` that may follow it (bpftrace does not require one); at the first
/// `;`, or before the attach point of a `{`, when the parentheses are not closed before it,
/// so that a broken declaration does not swallow the probe after it.
fn map_decl_end(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' if depth <= 1 => {
                let mut j = i + 1;
                while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                    j += 1;
                }
                return if bytes.get(j) == Some(&b';') {
                    j + 1
                } else {
                    i + 1
                };
            }
            b')' => depth -= 1,
            b';' => return i + 1,
            // Unclosed: the word before a `{` is the next probe's attach point.
            b'{' => {
                let mut j = i;
                while j > start && bytes[j - 1].is_ascii_whitespace() {
                    j -= 1;
                }
                while j > start && !bytes[j - 1].is_ascii_whitespace() {
                    j -= 1;
                }
                return if j > start { j } else { i };
            }
            b'}' => return i,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// Includes what may follow a C definition's closing brace in the item: GCC attributes
/// (`__attribute__((packed))`, several in a row) and a `;`.
fn skip_definition_tail(bytes: &[u8], end: usize) -> usize {
    const ATTRIBUTE: &[u8] = b"__attribute__";
    let skip_space = |mut j: usize| {
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        j
    };
    let mut end = end;
    loop {
        let j = skip_space(end);
        if !bytes[j..].starts_with(ATTRIBUTE) {
            break;
        }
        let mut k = skip_space(j + ATTRIBUTE.len());
        if bytes.get(k) != Some(&b'(') {
            break;
        }
        let mut depth = 0usize;
        while k < bytes.len() {
            match bytes[k] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            k += 1;
        }
        end = (k + 1).min(bytes.len());
    }
    let j = skip_space(end);
    if bytes.get(j) == Some(&b';') {
        j + 1
    } else {
        end
    }
}

/// Whether `line` (the text after a newline) starts with an attach point such as
/// `kprobe:f` or `BEGIN {`, which is never valid inside a block or a C definition.
fn looks_like_probe_start(line: &str) -> bool {
    let word: String = line
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if Provider::from_name(&word).is_none() {
        return false;
    }
    let after = &line[word.len()..];
    if after.starts_with(':') {
        return true;
    }
    let rest_of_line = after.split('\n').next().unwrap_or_default().trim();
    (word.eq_ignore_ascii_case("begin") || word.eq_ignore_ascii_case("end"))
        && (rest_of_line.is_empty() || rest_of_line.starts_with('{'))
}

/// Decides what an item is from its first words.
fn classify(rest: &str) -> ItemKind {
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let after = rest[word.len()..].trim_start();
    match word.as_str() {
        "struct" | "union" | "enum" => ItemKind::CDefinition,
        "config" if after.starts_with('=') => ItemKind::Config,
        "macro" if after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') => {
            ItemKind::Macro
        }
        "let" if after.starts_with('@') => ItemKind::MapDecl,
        "import" if !after.starts_with([':', ',', '{', '/']) => ItemKind::Import,
        _ => ItemKind::Probe,
    }
}

/// Parses one item of `text` into `script`; its spans are offsets into `text` plus `base`
/// (where `text` starts among the script's sources).
fn parse_item(
    text: &str,
    item: Item,
    base: usize,
    params: &[String],
    script: &mut Script,
    diags: &mut Vec<Diagnostic>,
) {
    let src = &text[item.start..item.end];
    let at = base + item.start;
    if let Some(d) = check_limits(src, at) {
        diags.push(d);
        return;
    }
    let rule = match item.kind {
        ItemKind::CDefinition => Rule::c_def_item,
        ItemKind::Config => Rule::config_item,
        ItemKind::Macro => Rule::macro_item,
        ItemKind::MapDecl => Rule::map_decl_item,
        ItemKind::Probe => Rule::probe_item,
        ItemKind::Import => Rule::import_item,
    };
    match Grammar::parse(rule, src) {
        Ok(pairs) => {
            let builder = build::Builder::new(at).with_params(params);
            for pair in pairs {
                builder.item(pair, script);
            }
            diags.extend(builder.finish());
        }
        Err(err) => {
            let err = reparse_with_detail(rule, src).unwrap_or(err);
            diags.push(errors::from_pest(src, at, item.kind, &err));
        }
    }
}

/// Serialises the re-parses that turn on pest's process-wide "error detail" switch.
static DETAIL: Mutex<()> = Mutex::new(());

/// Parses `src` again with pest's error detail (what was expected where) switched on.
/// Tracking it makes parsing several times slower, so only failed items pay for it. The
/// switch is global: it is only ever turned on under [`DETAIL`], so a concurrent parse at
/// worst runs slower, and never loses the detail it needs.
fn reparse_with_detail(rule: Rule, src: &str) -> Option<pest::error::Error<Rule>> {
    let _guard = DETAIL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    pest::set_error_detail(true);
    let result = Grammar::parse(rule, src).err();
    pest::set_error_detail(false);
    result
}

/// Refuses input whose nesting or statement length would make the recursive passes deep.
fn check_limits(src: &str, base: usize) -> Option<Diagnostic> {
    let bytes = src.as_bytes();
    let mut stack: Vec<usize> = Vec::new();
    let mut tokens = 0usize;
    let mut elses = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' => {
                i = skip_string(bytes, i);
                tokens += 1;
                continue;
            }
            b'(' | b'[' | b'{' => {
                stack.push(i);
                if stack.len() > MAX_NESTING {
                    return Some(
                        Diagnostic::error(
                            "brackets are nested too deeply",
                            Span::new(base + i, base + i + 1),
                        )
                        .with_note(format!(
                            "rbt accepts at most {MAX_NESTING} levels of nesting"
                        )),
                    );
                }
            }
            b')' | b']' | b'}' => {
                stack.pop();
            }
            _ => {}
        }
        if c == b';' || c == b'{' || c == b'}' {
            tokens = 0;
        } else if !c.is_ascii_whitespace() {
            tokens += 1;
        }
        if bytes[i..].starts_with(b"else") {
            elses += 1;
        }
        if elses > MAX_ELSE {
            return Some(
                Diagnostic::error(
                    "too many `else` branches",
                    Span::new(base + i, base + i + 4),
                )
                .with_note(format!(
                    "rbt accepts at most {MAX_ELSE} `else` branches in one probe"
                )),
            );
        }
        if tokens > MAX_STATEMENT_TOKENS {
            return Some(
                Diagnostic::error("statement is too long", Span::new(base + i, base + i + 1))
                    .with_note("split it into several statements"),
            );
        }
        i += 1;
    }
    None
}

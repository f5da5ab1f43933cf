//! Turns a pest parse failure into a diagnostic in words. pest reports the furthest position
//! it reached, the grammar rules it tried there and the literal tokens it wanted; the one
//! table [`EXPECTATIONS`] says what each rule means to a user, and [`from_pest`] picks the
//! most helpful sentence. A user never sees a rule name.

use super::{ItemKind, Rule};
use crate::ast::Span;
use crate::preprocess::skip_string;
use pest::error::{Error, InputLocation};
use std::collections::BTreeSet;
use stdlib::diag::Diagnostic;

/// What a user should read for each grammar rule pest may say it expected. Rules missing
/// here are described by their parent rule or by the literal tokens.
const EXPECTATIONS: &[(Rule, &str)] = &[
    (Rule::int, "an expression"),
    (Rule::string, "an expression"),
    (Rule::var, "a variable like `$x`"),
    (Rule::map, "an expression"),
    (Rule::map_name, "a map like `@name`"),
    (Rule::call, "an expression"),
    (Rule::paren, "an expression"),
    (Rule::record_lit, "an expression"),
    (Rule::record_field, "a record field like `name = value`"),
    (Rule::block_expr, "an expression"),
    (Rule::ident, "an expression"),
    (Rule::positional, "an expression"),
    (Rule::positional_count, "an expression"),
    (Rule::kw_true, "an expression"),
    (Rule::kw_false, "an expression"),
    (Rule::type_query, "an expression"),
    (Rule::offsetof_expr, "an expression"),
    (Rule::container_of_expr, "an expression"),
    (Rule::comptime, "an expression"),
    (Rule::pre_inc, "an expression"),
    (Rule::pre_dec, "an expression"),
    (Rule::neg, "an expression"),
    (Rule::not, "an expression"),
    (Rule::bitnot, "an expression"),
    (Rule::deref, "an expression"),
    (Rule::addr_of, "an expression"),
    (Rule::cast, "an expression"),
    (Rule::attach_point, "a probe like `kprobe:name`"),
    (Rule::ap_provider, "a probe like `kprobe:name`"),
    (Rule::ap_name, "a probe like `kprobe:name`"),
    (Rule::attach_list, "a probe like `kprobe:name`"),
    (Rule::probe, "a probe like `kprobe:name`"),
    (Rule::predicate, "a predicate `/.../` or a block `{`"),
    (Rule::pred_end, "`/` to end the predicate"),
    (Rule::block, "`{`"),
    (Rule::field_name, "a field name"),
    (Rule::tuple_digits, "a tuple index"),
    (Rule::type_expr, "a type"),
    (Rule::cast_type, "a type"),
    (Rule::type_ident, "a type"),
    (Rule::record_type, "a type"),
    (Rule::c_words, "a type"),
    (Rule::known_type, "a type"),
    (Rule::c_field, "a member declaration like `int x;`"),
    (Rule::c_field_type, "a member declaration like `int x;`"),
    (Rule::anon_record, "a member declaration like `int x;`"),
    (Rule::c_declarator, "a member name"),
    (Rule::c_attribute, "`__attribute__((...))`"),
    (Rule::c_attr, "an attribute like `packed`"),
    (Rule::enum_variant, "an enumerator name"),
    (Rule::assign_op, "an assignment operator"),
    (Rule::assign_eq, "`=`"),
    (Rule::bare_cond, "a condition"),
    (Rule::kw_if, "a statement"),
    (Rule::kw_unroll, "a statement"),
    (Rule::kw_while, "a statement"),
    (Rule::kw_for, "a statement"),
    (Rule::kw_break, "a statement"),
    (Rule::kw_continue, "a statement"),
    (Rule::kw_return, "a statement"),
    (Rule::kw_let, "a statement"),
    (Rule::kw_else, "`else`"),
    (Rule::kw_struct, "`struct`"),
    (Rule::kw_union, "`union`"),
    (Rule::kw_enum, "`enum`"),
    (Rule::kw_config, "`config`"),
    (Rule::kw_macro, "`macro`"),
    (Rule::macro_def, "a macro like `macro name($x) { ... }`"),
    (Rule::map_decl, "a map declaration"),
    (Rule::macro_params, MACRO_PARAM),
    (Rule::macro_param, MACRO_PARAM),
    (Rule::block_expr, "an expression"),
    (Rule::for_range, "a range `start..end` or a map"),
    (Rule::array_dim, "`[`"),
    (Rule::ptr, "`*`"),
];

const MACRO_PARAM: &str = "a parameter like `$x`, `@m` or `x`";

/// Rules that only say "an operator could continue the expression here"; they are dropped
/// from the list of expectations when something more telling was expected too.
const CONTINUATIONS: &[Rule] = &[
    Rule::op_ternary,
    Rule::op_or,
    Rule::op_and,
    Rule::op_bitor,
    Rule::op_bitxor,
    Rule::op_bitand,
    Rule::op_eq,
    Rule::op_ne,
    Rule::op_shl,
    Rule::op_shr,
    Rule::op_le,
    Rule::op_ge,
    Rule::op_lt,
    Rule::op_gt,
    Rule::op_add,
    Rule::op_sub,
    Rule::op_mul,
    Rule::op_div,
    Rule::op_mod,
    Rule::post_inc,
    Rule::post_dec,
    Rule::arrow,
    Rule::tuple_index,
    Rule::field,
    Rule::index,
    Rule::assign_op,
    Rule::array_dim,
    Rule::ptr,
];

/// Tokens that only continue an expression (operators, postfix), dropped like
/// [`CONTINUATIONS`].
const CONTINUATION_TOKENS: &[&str] = &[
    "?", "||", "&&", "|", "^", "&", "==", "!=", "<<", ">>", "<=", ">=", "<", ">", "+", "-", "*",
    "/", "%", "++", "--", "->", ".", "[", "(", "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
    "<<=", ">>=",
];

/// Words the grammar reserves; see `keyword` in grammar.pest.
const KEYWORDS: &[&str] = &[
    "if", "else", "unroll", "while", "for", "break", "continue", "return", "let", "true", "false",
    "sizeof", "offsetof", "struct", "union", "enum",
];

fn describe(rule: Rule) -> Option<&'static str> {
    EXPECTATIONS
        .iter()
        .find(|(r, _)| *r == rule)
        .map(|(_, w)| *w)
}

/// Builds the diagnostic for a failed parse of the item `src`, which starts at `base`.
pub fn from_pest(src: &str, base: usize, kind: ItemKind, err: &Error<Rule>) -> Diagnostic {
    let attempts = err.parse_attempts();
    // The furthest position pest tried a token at is where the user's text went wrong;
    // the error's own location can be the start of an enclosing rule.
    let pos = match (&attempts, &err.location) {
        (Some(a), _) => a.max_position,
        (None, InputLocation::Pos(p)) => *p,
        (None, InputLocation::Span((s, _))) => *s,
    }
    .min(src.len());
    if let Some(d) = unterminated_string(src, base, pos) {
        return d;
    }
    let (tok_start, tok_end, found) = token_at(src, pos);
    let prev = previous_token(src, tok_start);
    // At the end of the item, point just after the last thing written rather than at
    // whatever follows it (often the next probe).
    let span = match (&prev, found_is_end(src, tok_start)) {
        (Some((_, pe, _)), true) => Span::new(base + pe, base + pe),
        _ => Span::new(base + tok_start, base + tok_end),
    };
    let found_label = if found.is_empty() {
        "unexpected end of input".to_string()
    } else {
        format!("unexpected `{found}`")
    };

    let mut words: BTreeSet<&'static str> = BTreeSet::new();
    let mut tokens: BTreeSet<String> = BTreeSet::new();
    let mut continuation = false;
    let mut underscore = false;
    if let Some(attempts) = attempts {
        for stack in attempts.call_stacks() {
            let rule = stack.deepest.get_rule().copied().or(stack.parent);
            let Some(rule) = rule else { continue };
            if CONTINUATIONS.contains(&rule) {
                continuation = true;
            } else if let Some(w) = describe(rule).or_else(|| stack.parent.and_then(describe)) {
                words.insert(w);
            }
        }
        for t in attempts.expected_tokens() {
            // pest does not export its token type; its text form is the literal for the
            // tokens we care about, and character ranges (`a..z`) and built-ins are skipped.
            let token = t.to_string();
            let is_range = token.len() > 2 && token.contains("..") && token != "..";
            let is_space = token.chars().all(char::is_whitespace);
            if !is_range && !is_space && token != "BUILTIN_RULE" {
                if CONTINUATION_TOKENS.contains(&token.as_str()) && token != "(" && token != "=" {
                    // Tokens that may also start an operand (`-x`, `*p`, `&x`, `++x`) do not
                    // prove that an expression just ended.
                    continuation |= !["-", "*", "&", "++", "--"].contains(&token.as_str());
                } else if token == "_" {
                    // `_` could start an identifier, but also continues a number or a name,
                    // so it only means "a name" when nothing else was expected.
                    underscore = true;
                } else if token == "$" {
                    words.insert("a variable like `$x`");
                } else {
                    tokens.insert(token);
                }
            }
        }
    }

    // A macro parameter's sigils are part of what "a parameter like `$x`" says.
    if words.contains(MACRO_PARAM) {
        words.remove("a variable like `$x`");
        tokens.remove("@");
    }

    // A probe type may be a positional parameter (`$1 { }`), but "a probe" says enough.
    if words.contains("a probe like `kprobe:name`") {
        words.remove("a variable like `$x`");
    }

    // Only "more letters" expected right after a keyword means the keyword itself was not
    // allowed there (`$x = return;`): pest's furthest attempt is the keyword's end check.
    if underscore && tokens.is_empty() {
        if let Some((_, _, kw)) = prev
            .as_ref()
            .filter(|(_, _, p)| ["struct", "union", "enum"].contains(&p.as_str()))
        {
            return Diagnostic::error(
                format!("expected a name after `{kw}`, found {}", show(&found)),
                span,
            )
            .with_label(found_label)
            .with_help(format!("write the type as `{kw} name`"));
        }
        if let Some((ks, ke, kw)) = prev
            .as_ref()
            .filter(|(_, e, p)| *e == tok_start && KEYWORDS.contains(&p.as_str()))
        {
            return Diagnostic::error(
                format!("unexpected keyword `{kw}`"),
                Span::new(base + ks, base + ke),
            )
            .with_label(format!("`{kw}` is a keyword and cannot be used here"));
        }
    }
    // `let @m = hash(10);` inside a probe: map declarations are top-level items.
    if kind == ItemKind::Probe
        && found.starts_with('@')
        && matches!(&prev, Some((_, _, p)) if p == "let")
    {
        return Diagnostic::error("a map cannot be declared inside a probe", span)
            .with_label(found_label)
            .with_help("declare it before the probes: `let @m = hash(1000);`");
    }
    // `import "stdlib/test";` inside a probe: imports are top-level items.
    if kind == ItemKind::Probe
        && found.starts_with('"')
        && matches!(&prev, Some((_, _, p)) if p == "import")
    {
        let at = prev
            .as_ref()
            .map_or(span, |(ps, _, _)| Span::new(base + ps, span.end));
        return Diagnostic::error("an import cannot be inside a probe", at)
            .with_label("import inside a block")
            .with_help("import at the top of the script: `import \"stdlib/test\";`");
    }
    if kind == ItemKind::CDefinition && matches!(&prev, Some((_, _, p)) if p == ":") {
        return Diagnostic::error(
            format!(
                "expected a bit-field width after `:`, found {}",
                show(&found)
            ),
            span,
        )
        .with_label(found_label);
    }
    if underscore && words.is_empty() && tokens.is_empty() {
        words.insert("a name");
    }
    if !words.is_empty() {
        // Keywords that could start a type or a declaration are summed up by the words.
        tokens.retain(|t| !t.starts_with(|c: char| c.is_ascii_alphabetic()));
    }
    if words.contains("a field name") {
        words.remove("a name");
    }
    // `else` in statement position: pest's own location is the `else`, while its furthest
    // attempt is inside the keyword check that follows it.
    let loc = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    }
    .min(src.len());
    let (else_start, else_end, at_loc) = token_at(src, loc);
    if at_loc == "else" || found == "else" {
        let (s, e) = if at_loc == "else" {
            (else_start, else_end)
        } else {
            (tok_start, tok_end)
        };
        return Diagnostic::error(
            "`else` without a preceding `if`",
            Span::new(base + s, base + e),
        )
        .with_label("this `else` does not follow an `if` block")
        .with_help("write `if (condition) { ... } else { ... }`");
    }

    // An operand could start here: only operand-starting tokens are `!`, `~` and `"`
    // (an operator like `!=` is a different token).
    let operand_expected = ["!", "~", "\""].iter().any(|t| tokens.contains(*t));
    let in_header = kind == ItemKind::Probe && !src[..tok_start].contains('{');

    // Mistakes common enough to deserve their own sentence come first.
    if in_header && found == "{" && tokens.contains("/") {
        return Diagnostic::error(
            "unterminated predicate: expected `/` before the probe's `{`",
            span,
        )
        .with_label(found_label)
        .with_help("a predicate is written `/condition/` between the attach points and `{`");
    }
    if kind == ItemKind::Probe && tok_start == 0 {
        let mut d = Diagnostic::error(
            format!(
                "expected a probe like `kprobe:name {{ ... }}`, found {}",
                show(&found)
            ),
            span,
        )
        .with_label(found_label);
        if found == "}" {
            d = d.with_help("this `}` has no matching `{`");
        }
        return d;
    }
    if in_header && tokens.contains("{") && !operand_expected {
        let mut d = Diagnostic::error(
            format!(
                "expected a predicate `/.../` or `{{` after the attach points, found {}",
                show(&found)
            ),
            span,
        )
        .with_label(found_label);
        if found == "(" {
            d = d.with_help("probes take no arguments; write a predicate as `/condition/`");
        }
        return d;
    }
    // pest tried the block's `{` right after a condition written without parentheses, so
    // the condition went on past its one operand (`if $x > 0 {`).
    if words.contains("a condition") && tokens.contains("{") && !operand_expected {
        let operator = found.starts_with(|c: char| c.is_ascii_punctuation() && !"$@\"".contains(c));
        let help = if operator {
            "a condition without parentheses is one operand (`if $x {`, `while !$done {`); \
             write `if ($x > 0) {` for anything longer"
        } else {
            "the body is a block `{ ... }`; a condition without parentheses is one operand \
             (`if $x {`), so a cast needs them: `if ((int8)$x) {`"
        };
        return Diagnostic::error(
            format!("expected `{{` after the condition, found {}", show(&found)),
            span,
        )
        .with_label(found_label)
        .with_help(help);
    }
    if words.contains("a type") && !operand_expected {
        return Diagnostic::error(format!("expected a type, found {}", show(&found)), span)
            .with_label(found_label);
    }
    if kind == ItemKind::Probe && !in_header && tokens.contains(";") {
        if continuation {
            let mut d = Diagnostic::error("expected `;` or `}` after statement", span)
                .with_label(found_label);
            if let Some((ps, pe, _)) = prev {
                d = d.with_secondary(Span::new(base + ps, base + pe), "add `;` after this");
            }
            return unclosed_hint(d, src, base, &found);
        }
        let d = if found.is_empty() {
            Diagnostic::error(
                "expected `}` at the end of the block, found end of input",
                span,
            )
        } else {
            Diagnostic::error(
                format!("expected a statement or `}}`, found {}", show(&found)),
                span,
            )
        };
        return unclosed_hint(d.with_label(found_label), src, base, &found);
    }

    if operand_expected {
        let message = match &prev {
            Some((_, _, p)) if p != "(" && p != "{" && p != ";" => {
                format!("expected an expression after `{p}`")
            }
            _ => "expected an expression".to_string(),
        };
        return Diagnostic::error(message, span).with_label(found_label);
    }
    let mut expected: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    expected.extend(tokens.iter().map(|t| format!("`{t}`")));
    expected.dedup();
    let message = if expected.is_empty() {
        format!("unexpected {}", show(&found))
    } else {
        format!("expected {}, found {}", join_or(&expected), show(&found))
    };
    let mut d = Diagnostic::error(message, span).with_label(found_label);
    if tokens.contains("}") || found.is_empty() {
        d = unclosed_hint(d, src, base, &found);
    }
    d
}

fn found_is_end(src: &str, tok_start: usize) -> bool {
    tok_start >= src.len()
}

fn show(found: &str) -> String {
    if found.is_empty() {
        "end of input".to_string()
    } else {
        format!("`{found}`")
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {}", rest.join(", "), last),
    }
}

/// At the end of input, points at the `{` that was never closed.
fn unclosed_hint(d: Diagnostic, src: &str, base: usize, found: &str) -> Diagnostic {
    if !found.is_empty() {
        return d;
    }
    let bytes = src.as_bytes();
    let mut open = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = skip_string(bytes, i);
                continue;
            }
            b'{' => open.push(i),
            b'}' => {
                open.pop();
            }
            _ => {}
        }
        i += 1;
    }
    match open.last() {
        Some(&o) => d.with_secondary(
            Span::new(base + o, base + o + 1),
            "this `{` is never closed",
        ),
        None => d,
    }
}

/// An unterminated string literal (or quoted attach point) at or before `pos`, which is what
/// makes the grammar fail, reported as such.
fn unterminated_string(src: &str, base: usize, pos: usize) -> Option<Diagnostic> {
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < bytes.len() && i <= pos {
        if bytes[i] == b'"' {
            let end = skip_string(bytes, i);
            if end <= i + 1 || bytes[end - 1] != b'"' || end == i + 1 {
                let d = Diagnostic::error(
                    "unterminated string literal",
                    Span::new(base + i, base + end.max(i + 1)),
                )
                .with_label("this string is not closed before the end of the line")
                .with_help("add the closing `\"`");
                return Some(d);
            }
            i = end;
        } else {
            i += 1;
        }
    }
    None
}

const PUNCT: &[&str] = &[
    "<<=", ">>=", "...", "->", "++", "--", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "+=",
    "-=", "*=", "/=", "%=", "&=", "|=", "^=", "..",
];

/// The token starting at `pos` (after whitespace): its range and text. Empty at the end.
fn token_at(src: &str, pos: usize) -> (usize, usize, String) {
    let bytes = src.as_bytes();
    let mut start = pos;
    while start < bytes.len() && bytes[start].is_ascii_whitespace() {
        start += 1;
    }
    if start >= bytes.len() {
        return (src.len(), src.len(), String::new());
    }
    let word = |from: usize| {
        from + bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count()
    };
    let c = bytes[start];
    let end = if c == b'"' {
        skip_string(bytes, start)
    } else if c.is_ascii_alphanumeric() || c == b'_' {
        word(start)
    } else if (c == b'$' || c == b'@') && start + 1 < bytes.len() {
        if bytes[start + 1] == b'#' {
            start + 2
        } else {
            word(start + 1)
        }
    } else if let Some(p) = PUNCT
        .iter()
        .find(|p| bytes[start..].starts_with(p.as_bytes()))
    {
        start + p.len()
    } else {
        start + src[start..].chars().next().map_or(1, char::len_utf8)
    };
    let end = end.max(start + 1).min(src.len());
    // `end` always lands on a char boundary: it is after ASCII bytes or after a whole char.
    let text = src.get(start..end).unwrap_or_default().to_string();
    (start, end, text)
}

/// The token that ends right before `pos`, skipping whitespace.
fn previous_token(src: &str, pos: usize) -> Option<(usize, usize, String)> {
    let bytes = src.as_bytes();
    let mut end = pos.min(bytes.len());
    while end > 0 && bytes[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    if end == 0 {
        return None;
    }
    let c = bytes[end - 1];
    let start = if c.is_ascii_alphanumeric() || c == b'_' {
        let mut s = end;
        while s > 0 && (bytes[s - 1].is_ascii_alphanumeric() || bytes[s - 1] == b'_') {
            s -= 1;
        }
        if s > 0 && (bytes[s - 1] == b'$' || bytes[s - 1] == b'@') {
            s -= 1;
        }
        s
    } else if c == b'"' {
        // Walk back to the opening quote of the string that ends here.
        let mut s = end - 1;
        while s > 0 {
            s -= 1;
            if bytes[s] == b'"' && (s == 0 || bytes[s - 1] != b'\\') {
                break;
            }
        }
        s
    } else if let Some(p) = PUNCT.iter().find(|p| bytes[..end].ends_with(p.as_bytes())) {
        end - p.len()
    } else {
        let mut s = end - 1;
        while s > 0 && !src.is_char_boundary(s) {
            s -= 1;
        }
        s
    };
    Some((start, end, src.get(start..end)?.to_string()))
}

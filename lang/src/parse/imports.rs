//! `import "stdlib/NAME";`: reads the standard-library modules a script imports
//! ([`stdlib::modules`]) into the script, as bpftrace 0.27 does with its own.
//!
//! Imports come first in a script (after C definitions and the config block, before any
//! probe, macro or map declaration). A module defines macros whose bodies are values; they
//! are parsed from the module's built-in text and every span in them becomes the `import`
//! statement's span, so that anything reported about a module's code (a macro called with
//! the wrong arguments, say) points at the line that imported it; the module's text itself
//! is not part of the script. The script's own macros win over a module's of the same name,
//! as a script's functions do in bpftrace.
//!
//! rbt's modules are rbt source, so importing a C source, header or object file, which
//! bpftrace 0.27 compiles and links, is refused with a diagnostic, and so is importing a
//! script file: only standard-library modules are known.
//!
//! Its diagnostics are the named constructors at the end of this file.

use super::{parse_item, split_items, Grammar, Item, ItemKind, Rule};
use crate::ast::{Script, Span};
use pest::Parser;
use std::collections::HashSet;
use stdlib::diag::{closest, Diagnostic};
use stdlib::literal::decode_string;
use stdlib::modules::{self, Module};

/// The imports of one script, gathered while its items are parsed.
#[derive(Default)]
pub(super) struct Imports {
    /// The first item that ends the import section (a probe, macro or map declaration).
    closed_by: Option<Span>,
    /// The modules to read, in import order, each with the span of its first `import`.
    modules: Vec<(&'static Module, Span)>,
}

impl Imports {
    /// Notes an item after which imports are no longer allowed.
    pub(super) fn close(&mut self, at: Span) {
        self.closed_by.get_or_insert(at);
    }

    /// Reads one `import` item of the script's text.
    pub(super) fn item(&mut self, text: &str, item: Item, diags: &mut Vec<Diagnostic>) {
        let span = Span::new(item.start, item.end);
        let Some(name) = module_name(&text[item.start..item.end], item.start, diags) else {
            return;
        };
        if let Some(first) = self.closed_by {
            diags.push(import_too_late(span, first));
            return;
        }
        self.add(&name, span, diags);
    }

    fn add(&mut self, name: &str, span: Span, diags: &mut Vec<Diagnostic>) {
        match modules::find(name) {
            // A module imported twice is read once.
            Some(m) if self.modules.iter().any(|(seen, _)| seen.name == m.name) => {}
            Some(m) => self.modules.push((m, span)),
            None => diags.push(unknown_module(name, span)),
        }
    }

    /// Adds the items of every imported module to `script`; a module's imports are read
    /// too (each module once).
    pub(super) fn read_into(
        mut self,
        script: &mut Script,
        params: &[String],
        diags: &mut Vec<Diagnostic>,
    ) {
        let own_macros: HashSet<String> =
            script.macros.iter().map(|m| m.name.name.clone()).collect();
        let mut i = 0;
        while let Some(&(module, span)) = self.modules.get(i) {
            i += 1;
            let mut read = Script {
                directives: Vec::new(),
                c_definitions: Vec::new(),
                config: Vec::new(),
                macros: Vec::new(),
                map_decls: Vec::new(),
                probes: Vec::new(),
                expansions: Vec::new(),
            };
            let text = crate::preprocess::preprocess(module.source).text;
            let mut module_diags = Vec::new();
            for item in split_items(&text) {
                if item.kind == ItemKind::Import {
                    if let Some(name) =
                        module_name(&text[item.start..item.end], 0, &mut module_diags)
                    {
                        self.add(&name, span, &mut module_diags);
                    }
                } else {
                    parse_item(&text, item, params, &mut read, &mut module_diags);
                }
            }
            if !(read.c_definitions.is_empty()
                && read.config.is_empty()
                && read.map_decls.is_empty()
                && read.probes.is_empty()
                && read.macros.iter().all(|m| m.body.stmts.is_empty()))
            {
                module_diags.push(Diagnostic::error(
                    "a module may only define macros whose body is a value",
                    span,
                ));
            }
            // A module is rbt's own text, tested with it; should one still not parse, the
            // user learns where, at the import that brought it in.
            diags.extend(module_diags.into_iter().map(|d| in_module(module, span, d)));
            for mut def in read.macros {
                if !own_macros.contains(&def.name.name) {
                    crate::macros::pin_spans(&mut def, span);
                    script.macros.push(def);
                }
            }
        }
    }
}

/// The module name of an `import` item (`src` starts at `base` in its text), or `None`
/// after reporting why the item is not a well-formed import.
fn module_name(src: &str, base: usize, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let span = Span::new(base, base + src.len());
    let Ok(mut pairs) = Grammar::parse(Rule::import_item, src) else {
        diags.push(malformed_import(span, src));
        return None;
    };
    let body = pairs
        .next()
        .into_iter()
        .flat_map(|item| item.into_inner())
        .find(|p| p.as_rule() == Rule::string)
        .and_then(|s| s.into_inner().next())
        .map(|b| b.as_str())
        .unwrap_or_default();
    match decode_string(body) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(name) => Some(name),
            Err(_) => {
                diags.push(unknown_module(
                    &String::from_utf8_lossy(body.as_bytes()),
                    span,
                ));
                None
            }
        },
        Err(e) => {
            diags.push(Diagnostic::error(e.message, span));
            None
        }
    }
}

/// Where a split item of kind `Import` ends: after the quoted name and the `;` that
/// follows it; without a quoted name, at the end of the line or the first `;`, so that a
/// malformed import does not swallow the probe after it.
pub(super) fn import_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let skip_space = |mut j: usize| {
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        j
    };
    let mut j = skip_space(start + "import".len());
    if bytes.get(j) == Some(&b'"') {
        j = crate::preprocess::skip_string(bytes, j);
        let k = skip_space(j);
        return if bytes.get(k) == Some(&b';') {
            k + 1
        } else {
            j
        };
    }
    text[start..].find(['\n', ';']).map_or(text.len(), |k| {
        start + k + usize::from(bytes[start + k] == b';')
    })
}

// ------------------------------------------------------------------ diagnostics

fn malformed_import(span: Span, src: &str) -> Diagnostic {
    let rest = src["import".len()..].trim_start();
    if rest.starts_with('"') {
        Diagnostic::error("expected `;` after the import", span)
            .with_label("add `;` here")
            .with_help("write `import \"stdlib/test\";`")
    } else {
        Diagnostic::error("expected a quoted module name after `import`", span)
            .with_help("write `import \"stdlib/test\";`")
    }
}

fn import_too_late(span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        "an import must come before probes, macros and map declarations",
        span,
    )
    .with_label("import after the script's code")
    .with_secondary(first, "the script's code starts here")
    .with_help("move the import to the top of the script")
}

fn unknown_module(name: &str, span: Span) -> Diagnostic {
    let names = modules::MODULES.iter().map(|m| m.name);
    let mut d = Diagnostic::error(format!("cannot import \"{name}\": no such module"), span)
        .with_label("unknown module");
    if let Some(near) = closest(name, names.clone()) {
        d = d.with_help(format!("did you mean \"{near}\"?"));
    }
    let what = if [".c", ".h", ".o"].iter().any(|ext| name.ends_with(ext)) {
        "rbt does not compile C: it imports only its standard-library modules"
    } else {
        "rbt imports only its standard-library modules, not script files"
    };
    d.with_note(format!("{what}: {}", names.collect::<Vec<_>>().join(", ")))
}

fn in_module(module: &Module, span: Span, d: Diagnostic) -> Diagnostic {
    Diagnostic {
        message: format!("in module \"{}\": {}", module.name, d.message),
        span,
        secondary: Vec::new(),
        ..d
    }
}

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
//! Any other name is a script file, or a directory whose `.bt` files are all imported, read
//! through [`ImportFiles`] (the caller's file system: this crate does no I/O). As in
//! bpftrace, a relative path is taken from the main script's directory, also in an imported
//! file. An imported file's C definitions, map declarations, macros and probes join the
//! script's (its probes before the script's own, as bpftrace orders them); its text is
//! appended to the script's after a newline, so its spans point into it and a diagnostic
//! about its code shows its own file and line (`stdlib::diag::render_files`). It may import
//! too, but may not set `config`.
//!
//! rbt's modules are rbt source, so importing a C source, header or object file, which
//! bpftrace 0.27 compiles and links, is refused with a diagnostic.
//!
//! Its diagnostics are the named constructors at the end of this file.

use super::{parse_item, split_items, Grammar, Item, ItemKind, Rule};
use crate::ast::{Directive, Script, Span};
use pest::Parser;
use std::collections::HashSet;
use stdlib::diag::{closest, Diagnostic};
use stdlib::literal::decode_string;
use stdlib::manifest::Source;
use stdlib::modules::{self, Module};

/// Reads the files a script imports: the caller's file system.
pub trait ImportFiles {
    /// The files `import "path"` names, as (name shown in diagnostics, text): the file, or
    /// every `.bt` file of a directory in name order. `Err` says why there is none.
    fn read(&self, path: &str) -> Result<Vec<(String, String)>, String>;
}

/// No files to import: a script parsed without a file system.
pub(super) struct NoFiles;

impl ImportFiles for NoFiles {
    fn read(&self, _path: &str) -> Result<Vec<(String, String)>, String> {
        Err("this script is parsed without access to files".to_string())
    }
}

/// The imports of one script, gathered while its items are parsed.
#[derive(Default)]
pub(super) struct Imports {
    /// The first item that ends the import section (a probe, macro or map declaration).
    closed_by: Option<Span>,
    /// The modules to read, in import order, each with the span of its first `import`.
    modules: Vec<(&'static Module, Span)>,
    /// The files and directories to read, in import order, each with its `import`'s span.
    files: Vec<(String, Span)>,
    /// How many of `modules` are read already.
    modules_read: usize,
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
            None if name.starts_with("stdlib/") || is_c_file(name) => {
                diags.push(unknown_module(name, span))
            }
            None if self.files.iter().any(|(seen, _)| seen == name) => {}
            None => self.files.push((name.to_string(), span)),
        }
    }

    /// Adds the items of every imported module and file to `script`, and the files' texts
    /// to `sources`; their imports are read too (each module and file once).
    pub(super) fn read_into(
        mut self,
        script: &mut Script,
        sources: &mut Source,
        params: &[String],
        files: &dyn ImportFiles,
        diags: &mut Vec<Diagnostic>,
    ) {
        self.read_modules(script, params, diags);
        self.read_files(script, sources, params, files, diags);
        // A file may import a module.
        self.read_modules(script, params, diags);
    }

    fn read_modules(
        &mut self,
        script: &mut Script,
        params: &[String],
        diags: &mut Vec<Diagnostic>,
    ) {
        let own_macros: HashSet<String> =
            script.macros.iter().map(|m| m.name.name.clone()).collect();
        while let Some(&(module, span)) = self.modules.get(self.modules_read) {
            self.modules_read += 1;
            let mut read = Script::default();
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
                    parse_item(&text, item, 0, params, &mut read, &mut module_diags);
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

    /// Reads each imported file and the files they import, appending their texts to
    /// `sources` and their items to `script`.
    fn read_files(
        &mut self,
        script: &mut Script,
        sources: &mut Source,
        params: &[String],
        files: &dyn ImportFiles,
        diags: &mut Vec<Diagnostic>,
    ) {
        let mut read_names: Vec<String> = Vec::new();
        let mut probes = Vec::new();
        let mut c_definitions = Vec::new();
        let mut i = 0;
        while let Some((path, span)) = self.files.get(i).cloned() {
            i += 1;
            let found = match files.read(&path) {
                Ok(found) if found.is_empty() => Err("it holds no .bt file".to_string()),
                other => other,
            };
            let found = match found {
                Ok(found) => found,
                Err(why) => {
                    diags.push(import_not_found(&path, span, &why));
                    continue;
                }
            };
            for (name, text) in found {
                if read_names.contains(&name) {
                    continue;
                }
                read_names.push(name.clone());
                sources.text.push('\n');
                let start = sources.text.len();
                sources.text.push_str(&text);
                sources.imports.push((name, start));
                let mut read = Script::default();
                self.read_file(&text, start, params, &mut read, diags);
                script.directives.extend(read.directives);
                c_definitions.extend(read.c_definitions);
                script.map_decls.extend(read.map_decls);
                probes.extend(read.probes);
                let own: HashSet<String> =
                    script.macros.iter().map(|m| m.name.name.clone()).collect();
                script.macros.extend(
                    read.macros
                        .into_iter()
                        .filter(|m| !own.contains(&m.name.name)),
                );
            }
        }
        // Imported definitions and probes come first, as in bpftrace.
        script.c_definitions.splice(0..0, c_definitions);
        script.probes.splice(0..0, probes);
    }

    /// Parses one imported file whose text starts at `start` of the sources.
    fn read_file(
        &mut self,
        text: &str,
        start: usize,
        params: &[String],
        read: &mut Script,
        diags: &mut Vec<Diagnostic>,
    ) {
        let pre = crate::preprocess::preprocess(text);
        diags.extend(pre.diagnostics.into_iter().map(|d| d.shifted(start)));
        read.directives.extend(
            pre.directives
                .into_iter()
                .map(|d| shifted_directive(d, start)),
        );
        // The first item after which the file may not import any more.
        let mut closed: Option<Span> = None;
        for item in split_items(&pre.text) {
            let span = Span::new(start + item.start, start + item.end);
            match (item.kind, closed) {
                (ItemKind::Import, Some(first)) => diags.push(import_too_late(span, first)),
                (ItemKind::Import, None) => {
                    let src = &pre.text[item.start..item.end];
                    if let Some(name) = module_name(src, span.start, diags) {
                        self.add(&name, span, diags);
                    }
                }
                (ItemKind::Config, _) => diags.push(config_in_import(span)),
                (ItemKind::Macro | ItemKind::MapDecl | ItemKind::Probe, _) => {
                    closed.get_or_insert(span);
                    parse_item(&pre.text, item, start, params, read, diags);
                }
                (ItemKind::CDefinition, _) => {
                    parse_item(&pre.text, item, start, params, read, diags)
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

/// A C source, header or object file, which bpftrace compiles or links and rbt does not.
fn is_c_file(name: &str) -> bool {
    [".c", ".h", ".o"].iter().any(|ext| name.ends_with(ext))
}

/// A directive of an imported file, its spans moved to where the file's text starts.
fn shifted_directive(d: Directive, by: usize) -> Directive {
    let shift = |s: Span| Span::new(s.start + by, s.end + by);
    match d {
        Directive::Include { path, system, span } => Directive::Include {
            path,
            system,
            span: shift(span),
        },
        Directive::Define {
            mut name,
            value,
            span,
        } => {
            name.span = shift(name.span);
            Directive::Define {
                name,
                value,
                span: shift(span),
            }
        }
    }
}

fn import_not_found(path: &str, span: Span, why: &str) -> Diagnostic {
    Diagnostic::error(format!("cannot import \"{path}\": {why}"), span)
        .with_label("imported here")
        .with_note(
            "a relative path is taken from the main script's directory (for -e, the current directory); the standard library's modules are stdlib/NAME",
        )
}

fn config_in_import(span: Span) -> Diagnostic {
    Diagnostic::error("an imported file cannot set `config`", span)
        .with_label("config in an imported file")
        .with_help("set it in the main script")
}

fn unknown_module(name: &str, span: Span) -> Diagnostic {
    let names = modules::MODULES.iter().map(|m| m.name);
    let mut d = Diagnostic::error(format!("cannot import \"{name}\": no such module"), span)
        .with_label("unknown module");
    if let Some(near) = closest(name, names.clone()) {
        d = d.with_help(format!("did you mean \"{near}\"?"));
    }
    let what = if is_c_file(name) {
        "rbt does not compile C: it imports script files and its standard-library modules"
    } else {
        "the standard-library modules are"
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

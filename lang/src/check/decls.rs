//! Map declarations (`let @m = lruhash(100);`, bpftrace 0.27): the BPF kind and size a map
//! gets instead of the defaults (a hash, or a per-CPU hash for aggregations, with
//! `max_map_keys` entries). Declarations are read before the probes and applied to the
//! maps once every use has fixed their types.

use super::{diagnostics, Checker};
use crate::ast::{self, ExprKind, Span};
use stdlib::manifest::MapKind;
use stdlib::types::Type;

/// One valid declaration.
pub(super) struct Decl {
    kind: MapKind,
    max_entries: u32,
    span: Span,
}

/// The kinds a declaration may name, in the order a hint lists them.
const KINDS: &[(&str, MapKind)] = &[
    ("hash", MapKind::Hash),
    ("lruhash", MapKind::LruHash),
    ("percpuhash", MapKind::PerCpuHash),
    ("percpulruhash", MapKind::PerCpuLruHash),
];

/// The name a declaration uses for `kind`.
fn kind_name(kind: MapKind) -> &'static str {
    KINDS
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or("hash", |(name, _)| name)
}

/// Whether a map of `kind` keeps one value per CPU, as aggregations need.
fn per_cpu(kind: MapKind) -> bool {
    match kind {
        MapKind::PerCpuHash | MapKind::PerCpuLruHash | MapKind::PerCpuArray => true,
        MapKind::Hash
        | MapKind::LruHash
        | MapKind::Array
        | MapKind::StackTrace
        | MapKind::RingBuf
        | MapKind::PerfEventArray => false,
    }
}

impl Checker<'_> {
    /// Reads every declaration; the valid ones are kept for [`Checker::apply_declarations`].
    pub(super) fn declare_maps(&mut self, decls: &[ast::MapDecl]) {
        for d in decls {
            let name = format!("@{}", d.name.name);
            if let Some(first) = self.decls.get(&name) {
                let first = first.span;
                self.push(diagnostics::map_declared_twice(&name, first, d.span));
                continue;
            }
            let kind = KINDS
                .iter()
                .find(|(n, _)| *n == d.kind.name)
                .map(|(_, k)| *k);
            if kind.is_none() {
                let names: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
                self.push(diagnostics::unknown_map_kind(
                    &d.kind.name,
                    &names,
                    d.kind.span,
                ));
            }
            let size = self.declared_size(d);
            if let (Some(kind), Some(max_entries)) = (kind, size) {
                let decl = Decl {
                    kind,
                    max_entries,
                    span: d.span,
                };
                self.decls.insert(name, decl);
            }
        }
    }

    /// The one argument of a declaration: a positive integer literal that fits the kernel's
    /// 32-bit `max_entries`.
    fn declared_size(&mut self, d: &ast::MapDecl) -> Option<u32> {
        match d.args.as_slice() {
            [e] => match e.kind {
                ExprKind::Int(n) if n > 0 => match u32::try_from(n) {
                    Ok(n) => Some(n),
                    Err(_) => {
                        self.push(diagnostics::map_size_too_big(n, e.span));
                        None
                    }
                },
                _ => {
                    self.push(diagnostics::map_size_not_positive(e.span));
                    None
                }
            },
            [] => {
                self.push(diagnostics::map_size_not_positive(d.kind.span));
                None
            }
            [_, extra, ..] => {
                self.push(diagnostics::map_declaration_arguments(extra.span));
                None
            }
        }
    }

    /// Gives each declared map its kind and size, once the script's uses have fixed its
    /// value type: aggregations need a per-CPU kind, other values one that is not.
    pub(super) fn apply_declarations(&mut self) {
        let mut decls: Vec<(&String, &Decl)> = self.decls.iter().collect();
        decls.sort_by_key(|(_, d)| d.span.start);
        let mut diags = Vec::new();
        for (name, decl) in decls {
            let Some(info) = self.map_ids.get(name) else {
                diags.push(diagnostics::unused_map(name, decl.span));
                continue;
            };
            let spec = &mut self.maps[info.id as usize];
            let aggregation = matches!(spec.value, Type::Agg(_));
            if per_cpu(decl.kind) != aggregation {
                diags.push(diagnostics::map_kind_conflict(
                    name,
                    kind_name(decl.kind),
                    aggregation,
                    decl.span,
                    info.first,
                ));
                continue;
            }
            spec.kind = decl.kind;
            spec.max_entries = decl.max_entries;
        }
        self.diags.extend(diags);
    }
}

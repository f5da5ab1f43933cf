//! Checker tests over fixture files: every `fixtures/check_errors/*.bt` parses cleanly but
//! fails semantic analysis; the rendered diagnostics are snapshotted. Kernel and binary facts
//! come from a small fixture catalog, so these run without root or a kernel.

use lang::check::catalog::{
    Catalog, EmptyCatalog, LookupError, TracepointField, UserObject, UserSymbol,
};
use lang::check::{check, Options};
use lang::diag::render;
use stdlib::manifest::{UprobeTarget, UsdtTarget};
use stdlib::types::{Record, Type};

/// `EmptyCatalog`, plus one position-independent binary that every uprobe path names: two
/// functions (`main`, `work`), and the globals `counter` (8 bytes) and `flag` (1 byte).
struct Fixture;

const FUNCTIONS: [(&str, u64); 2] = [("main", 0x1100), ("work", 0x1200)];

impl Catalog for Fixture {
    fn tracepoints(&self, category: &str, event: &str) -> Vec<(String, String)> {
        EmptyCatalog.tracepoints(category, event)
    }
    fn tracepoint_fields(&self, c: &str, e: &str) -> Result<Vec<TracepointField>, LookupError> {
        EmptyCatalog.tracepoint_fields(c, e)
    }
    fn kernel_functions(&self, module: Option<&str>, pattern: &str) -> Vec<String> {
        EmptyCatalog.kernel_functions(module, pattern)
    }
    fn raw_tracepoints(&self, pattern: &str) -> Vec<String> {
        EmptyCatalog.raw_tracepoints(pattern)
    }
    fn record(&self, name: &str) -> Option<Record> {
        EmptyCatalog.record(name)
    }
    fn constant(&self, name: &str) -> Option<i64> {
        EmptyCatalog.constant(name)
    }
    fn uprobe_targets(
        &self,
        path: &str,
        pattern: &str,
        offset: u64,
    ) -> Result<Vec<UprobeTarget>, LookupError> {
        let glob = pattern.trim_end_matches('*');
        Ok(FUNCTIONS
            .iter()
            .filter(|(name, _)| {
                *name == pattern || (pattern.ends_with('*') && name.starts_with(glob))
            })
            .map(|(name, start)| UprobeTarget {
                path: path.to_string(),
                symbol: name.to_string(),
                offset: start + offset,
            })
            .collect())
    }
    fn usdt_targets(&self, p: &str, pr: &str, n: &str) -> Result<Vec<UsdtTarget>, LookupError> {
        EmptyCatalog.usdt_targets(p, pr, n)
    }
    fn suggestions(&self, provider: &str, fields: &[String]) -> Vec<String> {
        EmptyCatalog.suggestions(provider, fields)
    }
    fn cgroup_id(&self, path: &str) -> Option<u64> {
        EmptyCatalog.cgroup_id(path)
    }
    fn kernel_symbol(&self, name: &str) -> Option<u64> {
        EmptyCatalog.kernel_symbol(name)
    }
    fn user_object(&self, _: &str) -> Result<UserObject, LookupError> {
        let sym = |name: &str, address, size| UserSymbol {
            name: name.to_string(),
            address,
            size,
        };
        let mut symbols = vec![sym("counter", 0x4010, 8), sym("flag", 0x4018, 1)];
        symbols.extend(FUNCTIONS.iter().map(|(n, a)| sym(n, *a, 16)));
        Ok(UserObject {
            symbols,
            relocatable: true,
            segments: vec![(0, 0, 0x2000), (0x2df0, 0x3df0, 0x300)],
        })
    }
    fn kprobes_supported(&self) -> bool {
        EmptyCatalog.kprobes_supported()
    }
    fn kprobe_multi_supported(&self) -> bool {
        EmptyCatalog.kprobe_multi_supported()
    }
    fn function_signature(&self, name: &str) -> Option<(Vec<(String, Type)>, Type)> {
        EmptyCatalog.function_signature(name)
    }
}

fn name_of(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn check_error_fixtures() {
    insta::glob!("fixtures/check_errors/*.bt", |path| {
        let src = std::fs::read_to_string(path).expect("fixture is readable");
        let (script, parse_diags) = lang::parse(&src);
        assert!(
            parse_diags.is_empty(),
            "{} does not parse:\n{}",
            path.display(),
            render(&name_of(path), &src, &parse_diags, false)
        );
        let checked = check(&script, &Fixture, &Options::default());
        assert!(
            checked.diagnostics.iter().any(|d| d.is_error()),
            "{} checked without errors",
            path.display()
        );
        insta::assert_snapshot!(render(&name_of(path), &src, &checked.diagnostics, false));
    });
}

/// The features whose misuse the fixtures show do check when used right: `len`, `for` over
/// a map (reading and writing an outer variable), and `uaddr` sized by the symbol.
#[test]
fn map_loops_len_and_uaddr_check() {
    let src = r#"
        uprobe:/bin/fixture:main {
            @m[1, "a"] = 2;
            @c[comm] = count();
            $total = 0;
            for ($kv : @m) { $total += $kv.0.0 + $kv.1; if ($total > 10) { break; } }
            for ($kv2 : @c) { $total += $kv2.1; continue; }
            printf("%d %d %d %d\n", len(@m), len(@c), *uaddr("counter"), *uaddr("flag"));
        }
    "#;
    let (script, parse_diags) = lang::parse(src);
    assert!(parse_diags.is_empty(), "{parse_diags:?}");
    let checked = check(&script, &Fixture, &Options::default());
    assert!(
        checked.diagnostics.is_empty(),
        "{}",
        render("input", src, &checked.diagnostics, false)
    );
    let script = checked.script.expect("a checked script");
    let probe = &script.probes[0];
    let loops: Vec<_> = probe
        .body
        .iter()
        .filter_map(|s| match &s.kind {
            lang::hir::StmtKind::ForMap { var, captures, .. } => Some((*var, captures.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(loops.len(), 2);
    for (var, captures) in &loops {
        assert!(captures.contains(var), "the loop variable is captured");
        assert_eq!(
            captures.len(),
            2,
            "the loop variable and $total: {captures:?}"
        );
    }
    // $kv is ((int64, string), int64); $kv2 is (string[16], int64) with the count as int64.
    let kv = &probe.vars[loops[0].0 as usize];
    assert!(
        matches!(kv, Type::Tuple(items) if matches!(&items[0], Type::Tuple(k) if k.len() == 2)),
        "{kv:?}"
    );
}

/// A uprobe's `+offset` is parsed by the checker (decimal or hex) and reaches the catalog as
/// a number, which moves the target that far into the function.
#[test]
fn uprobe_offset_reaches_the_catalog() {
    for (field, want) in [("main+16", 0x1110), ("work+0x8", 0x1208), ("main", 0x1100)] {
        let src = format!("uprobe:/bin/fixture:{field} {{ @ = count(); }}");
        let (script, parse_diags) = lang::parse(&src);
        assert!(parse_diags.is_empty(), "{parse_diags:?}");
        let checked = check(&script, &Fixture, &Options::default());
        let script = checked.script.expect("a checked script");
        match &script.probes[0].attach {
            stdlib::manifest::Attach::Uprobe { targets, .. } => {
                let offsets: Vec<u64> = targets.iter().map(|t| t.offset).collect();
                assert_eq!(offsets, [want], "{field}");
            }
            other => panic!("{field}: attached as {other:?}"),
        }
    }
}

//! Tier 1: what `-k` puts in the manifest. Each checked read gets an event carrying the span
//! of the script text that made it, and the manifest carries the script so user space can
//! render the warning against it (`stdlib::diag::helper_warning`); without `-k` neither is there.

use lang::check;
use stdlib::catalog::EmptyCatalog;
use stdlib::manifest::{Event, Source};

const SCRIPT: &str = "BEGIN {\n  printf(\"%d\\n\", *(uint64*)0);\n}\n";

fn compile(helper_warnings: bool) -> stdlib::manifest::Manifest {
    let (ast, diags) = lang::parse(SCRIPT);
    assert!(diags.is_empty(), "{diags:?}");
    let checked = check::check(&ast, &EmptyCatalog, &check::Options::default());
    let hir = checked.script.expect("the script checks");
    let opts = codegen::Options {
        want_ir: false,
        file_name: "read.bt",
        helper_warnings,
        source: SCRIPT,
        ..Default::default()
    };
    codegen::compile(&hir, opts).expect("compiles").0.manifest
}

#[test]
fn failed_reads_point_at_the_script() {
    let manifest = compile(true);
    assert_eq!(
        manifest.source,
        Some(Source {
            name: "read.bt".into(),
            text: SCRIPT.into(),
            imports: Vec::new(),
        })
    );
    let sites: Vec<_> = manifest
        .events
        .iter()
        .filter_map(|e| match e {
            Event::HelperError { helper, start, end } => Some((helper.as_str(), *start, *end)),
            _ => None,
        })
        .collect();
    assert_eq!(sites.len(), 1, "{:?}", manifest.events);
    let (helper, start, end) = sites[0];
    assert_eq!(helper, "probe_read");
    assert_eq!(&SCRIPT[start..end], "*(uint64*)0");
    let warning = stdlib::diag::helper_warning(
        "read.bt",
        SCRIPT,
        stdlib::diag::Span::new(start, end),
        helper,
        -14,
    );
    assert_eq!(
        warning,
        "read.bt:2:18-29: WARNING: Failed to probe_read: Bad address (-14)\n  \
         printf(\"%d\\n\", *(uint64*)0);\n                 ~~~~~~~~~~~\n"
    );
}

#[test]
fn without_k_the_manifest_has_neither() {
    let manifest = compile(false);
    assert_eq!(manifest.source, None);
    assert!(!manifest
        .events
        .iter()
        .any(|e| matches!(e, Event::HelperError { .. })));
}

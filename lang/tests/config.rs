//! Config block tests over fixture files: every `fixtures/config/*.bt` parses cleanly and
//! its `config = { … }` block gives exactly one diagnostic from `lang::config` (an unknown
//! setting, a bad value, a value rbt cannot honour, a deprecated setting), rendered and
//! snapshotted; one fixture per diagnostic constructor and kind of bad value. How settings
//! reach the checker is in `check.rs`'s `config_block.bt` and `missing_probes_warn.bt`.

use stdlib::diag::render;

#[test]
fn config_fixtures() {
    insta::glob!("fixtures/config/*.bt", |path| {
        let src = std::fs::read_to_string(path).expect("fixture is readable");
        let (script, parse_diags) = lang::parse(&src);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            parse_diags.is_empty(),
            "{name} does not parse:\n{}",
            render(&name, &src, &parse_diags, false)
        );
        // The environment is empty: its precedence is `lang::config`'s unit tests'.
        let resolved = lang::config::resolve(&script.config, &|_| None);
        let rendered = render(&name, &src, &resolved.diagnostics, false);
        assert!(
            resolved.diagnostics.len() == 1,
            "{name} should give exactly one diagnostic:\n{rendered}"
        );
        insta::assert_snapshot!(rendered);
    });
}

//! Parser tests over fixture files: every `fixtures/parse/*.bt` parses without errors and its
//! AST is snapshotted; every `fixtures/errors/*.bt` yields at least one error, rendered and
//! snapshotted; Debian's bpftrace tools and the repo's scripts parse cleanly. To see the AST of
//! any script, run `rbt -d ast FILE` (or `-e PROGRAM`).

use std::path::Path;
use stdlib::diag::render;

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn parse_fixtures() {
    insta::glob!("fixtures/parse/*.bt", |path| {
        let src = std::fs::read_to_string(path).expect("fixture is readable");
        let (script, diags) = lang::parse(&src);
        assert!(
            diags.is_empty(),
            "{} has errors:\n{}",
            path.display(),
            render(&name_of(path), &src, &diags, false)
        );
        insta::assert_yaml_snapshot!(script);
    });
}

#[test]
fn error_fixtures() {
    insta::glob!("fixtures/errors/*.bt", |path| {
        let src = std::fs::read_to_string(path).expect("fixture is readable");
        let (_, diags) = lang::parse(&src);
        assert!(
            diags.iter().any(|d| d.is_error()),
            "{} parsed without errors",
            path.display()
        );
        insta::assert_snapshot!(render(&name_of(path), &src, &diags, false));
    });
}

/// Parses every `.bt` file in `dir`; returns how many there were.
fn parse_all_in(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "bt"))
        .collect();
    paths.sort();
    let mut failures = String::new();
    for path in &paths {
        let Ok(src) = std::fs::read_to_string(path) else {
            continue;
        };
        let (_, diags) = lang::parse(&src);
        if diags.iter().any(|d| d.is_error()) {
            failures.push_str(&render(&path.display().to_string(), &src, &diags, false));
        }
    }
    assert!(failures.is_empty(), "scripts failed to parse:\n{failures}");
    paths.len()
}

#[test]
fn debian_bpftrace_tools_parse() {
    let n = parse_all_in(Path::new("/usr/sbin"));
    if n == 0 {
        eprintln!(
            "skipping: no /usr/sbin/*.bt (install Debian's bpftrace package to run this test)"
        );
    }
}

#[test]
fn repo_scripts_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
    let n = parse_all_in(&dir);
    if n == 0 {
        eprintln!("skipping: no scripts/*.bt in the repository yet");
    }
}

/// The location users see for `rbt -e 'kprobe:f { $x = ; }'` must be the `;`, which bpftrace reports as 1:17.
#[test]
fn missing_expression_points_at_the_token() {
    let src = "kprobe:f { $x = ; }";
    let (_, diags) = lang::parse(src);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(
        diags[0].span.start, 16,
        "the `;` is byte 16 (line 1, column 17, as bpftrace reports it)"
    );
    assert_eq!(diags[0].span.end, 17);
    assert_eq!(diags[0].message, "expected an expression after `=`");
}

/// Deep nesting must give an error or a tree, never a stack overflow, even on the 2 MiB
/// stack of a test thread.
#[test]
fn deep_nesting_is_bounded() {
    for depth in [10, 63, 64, 65, 255, 257, 1000, 1999, 100_000] {
        for (open, close) in [("(", ")"), ("[", "]"), ("{", "}")] {
            let src = format!(
                "BEGIN {{ $x = {}1{}; }}",
                open.repeat(depth),
                close.repeat(depth)
            );
            let _ = lang::parse(&src);
        }
        let src = format!("BEGIN {{ $x = {}1; }}", "-".repeat(depth));
        let _ = lang::parse(&src);
        let src = format!("BEGIN {{ $x = 1{}; }}", " + 1".repeat(depth));
        let _ = lang::parse(&src);
        let src = format!(
            "BEGIN {{ if (1) {{ }}{} }}",
            " else if (1) { }".repeat(depth)
        );
        let _ = lang::parse(&src);
        let src = format!("BEGIN {{ $x = {}1; }}", "(uint8)".repeat(depth));
        let _ = lang::parse(&src);
    }
}

/// Macro fixtures: every `fixtures/macros/ok/*.bt` expands without errors and its AST after
/// expansion (definitions kept, probes holding no macro call or block expression) is
/// snapshotted; every `fixtures/macros/errors/*.bt` yields an error, rendered and snapshotted.
#[test]
fn macro_fixtures() {
    insta::glob!("fixtures/macros/ok/*.bt", |path| {
        let src = std::fs::read_to_string(path).expect("fixture is readable");
        let (script, diags) = lang::parse(&src);
        assert!(
            diags.is_empty(),
            "{} has errors:\n{}",
            path.display(),
            render(&name_of(path), &src, &diags, false)
        );
        insta::assert_yaml_snapshot!(script);
    });
}

#[test]
fn macro_error_fixtures() {
    insta::glob!("fixtures/macros/errors/*.bt", |path| {
        let src = std::fs::read_to_string(path).expect("fixture is readable");
        let (_, diags) = lang::parse(&src);
        assert!(
            diags.iter().any(|d| d.is_error()),
            "{} parsed without errors",
            path.display()
        );
        insta::assert_snapshot!(render(&name_of(path), &src, &diags, false));
    });
}

/// Every standard-library module imports cleanly, and defines only macros whose body is a
/// value, which is what `lang::parse` reads from a module (`parse::imports`).
#[test]
fn every_stdlib_module_imports_cleanly() {
    for module in stdlib::modules::MODULES {
        let src = format!("import \"{}\";\nBEGIN {{ exit(); }}\n", module.name);
        let (script, diags) = lang::parse(&src);
        assert!(
            diags.is_empty(),
            "{}:\n{}",
            module.name,
            render("stdin", &src, &diags, false)
        );
        // What a module defines is the macros of its text that start a line.
        let defined = module
            .source
            .lines()
            .filter(|l| l.starts_with("macro "))
            .count();
        assert_eq!(script.macros.len(), defined, "{}", module.name);
    }
    let (script, _) = lang::parse("import \"stdlib/test\"; BEGIN { exit(); }");
    let names: Vec<&str> = script.macros.iter().map(|m| m.name.name.as_str()).collect();
    assert_eq!(names, ["__always_true", "__test_get_current_task"]);
}

/// The script's own macro wins over a module's of the same name, and a module imported
/// twice is read once.
#[test]
fn script_macros_win_over_module_macros() {
    let src = "import \"stdlib/test\"; import \"stdlib/test\";\nmacro __always_true() { 2 }\nBEGIN { exit(); }";
    let (script, diags) = lang::parse(src);
    assert!(diags.is_empty(), "{diags:?}");
    let ours: Vec<_> = script
        .macros
        .iter()
        .filter(|m| m.name.name == "__always_true")
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].span.start, src.find("macro").unwrap_or_default());
    assert_eq!(script.macros.len(), 2);
}

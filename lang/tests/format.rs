//! `lang::format` (`rbt --fmt`): the layout of `fixtures/format/*.bt` is snapshotted, and
//! over every script rbt has (the repo's fixtures and scripts, and Debian's bpftrace tools
//! where installed), formatting keeps the tree the parser builds, keeps every word
//! (comments included), and is idempotent.

use std::path::{Path, PathBuf};
use stdlib::diag::render;

#[test]
fn format_fixtures() {
    insta::glob!("fixtures/format/*.bt", |path| {
        let src = std::fs::read_to_string(path).expect("fixture is readable");
        let formatted = lang::format::format(&src).unwrap_or_else(|diags| {
            panic!(
                "{} does not parse:\n{}",
                path.display(),
                render("fixture", &src, &diags, false)
            )
        });
        insta::assert_snapshot!(formatted);
    });
}

#[test]
fn a_script_that_does_not_parse_gets_its_errors() {
    let diags = lang::format::format("BEGIN { $x = ; }").expect_err("a syntax error");
    assert!(diags.iter().any(|d| d.is_error()));
}

/// The tree without positions, which formatting moves.
fn shape(src: &str) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("span");
                m.remove("expansions");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let (script, _) = lang::parse(src);
    let mut v = serde_json::to_value(&script).expect("the tree serializes");
    strip(&mut v);
    v
}

/// The script's words (names, numbers, the words of comments and strings), sorted.
fn words(src: &str) -> Vec<&str> {
    let mut w: Vec<&str> = src
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    w.sort_unstable();
    w
}

fn corpus() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() && p.file_name().is_some_and(|n| n != "target" && n != ".git") {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "bt") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")),
        &mut out,
    );
    walk(Path::new("/usr/sbin"), &mut out);
    out.sort();
    out
}

#[test]
fn formatting_keeps_the_tree_and_every_word_and_is_idempotent() {
    let mut formatted_count = 0;
    for path in corpus() {
        let Ok(src) = std::fs::read_to_string(&path) else {
            continue;
        };
        let (_, diags) = lang::parse(&src);
        if diags.iter().any(|d| d.is_error()) {
            continue;
        }
        let once = lang::format::format(&src).unwrap_or_else(|diags| {
            panic!(
                "{} parses but does not format:\n{}",
                path.display(),
                render("script", &src, &diags, false)
            )
        });
        let (_, again) = lang::parse(&once);
        assert!(
            !again.iter().any(|d| d.is_error()),
            "{} formats into a script that does not parse:\n{once}\n{}",
            path.display(),
            render("formatted", &once, &again, false)
        );
        assert_eq!(
            shape(&src),
            shape(&once),
            "{}: the tree changed:\n{once}",
            path.display()
        );
        assert_eq!(
            words(&src),
            words(&once),
            "{}: words changed:\n{once}",
            path.display()
        );
        let twice = lang::format::format(&once).expect("formatted text formats");
        assert_eq!(
            once,
            twice,
            "{}: formatting twice changes it",
            path.display()
        );
        formatted_count += 1;
    }
    // The repo alone has well over a hundred scripts that parse.
    assert!(
        formatted_count > 100,
        "only {formatted_count} scripts were formatted"
    );
}

/// Broken scripts never make the formatter panic, and what it does format parses and is
/// stable: each of the repo's scripts and Debian's tools, cut short and with a byte taken out,
/// at positions spread over the script.
#[test]
fn damaged_scripts_format_or_fail_cleanly() {
    let scripts: Vec<PathBuf> = corpus()
        .into_iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "fixtures"))
        .collect();
    assert!(!scripts.is_empty());
    let mut tried = 0;
    for path in scripts {
        let Ok(src) = std::fs::read_to_string(&path) else {
            continue;
        };
        let cuts: Vec<usize> = (1..12)
            .map(|i| i * src.len() / 12)
            .filter(|&i| src.is_char_boundary(i) && src.is_char_boundary(i + 1))
            .collect();
        for &at in &cuts {
            for damaged in [
                src[..at].to_string(),
                format!("{}{}", &src[..at], &src[at + 1..]),
            ] {
                tried += 1;
                let Ok(once) = lang::format::format(&damaged) else {
                    continue;
                };
                // What the formatter accepts, the parser reads as it read the original:
                // with the same tree, or with errors past parsing (a script without
                // probes) in both.
                let errors = |s: &str| lang::parse(s).1.iter().any(|d| d.is_error());
                assert_eq!(
                    errors(&damaged),
                    errors(&once),
                    "{} damaged at {at}:\n{once}",
                    path.display()
                );
                if !errors(&once) {
                    assert_eq!(
                        shape(&damaged),
                        shape(&once),
                        "{} damaged at {at}",
                        path.display()
                    );
                }
                let twice = lang::format::format(&once).expect("formatted text formats");
                assert_eq!(once, twice, "{} damaged at {at}", path.display());
            }
        }
    }
    assert!(tried > 100, "only {tried} damaged scripts");
}

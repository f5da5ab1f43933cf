//! `import "file.bt"` and `import "dir"`: files read through `lang::ImportFiles` (here from
//! memory) join the script, their probes first; their text follows the script's, so a
//! diagnostic about their code shows their own file and line.

use std::collections::HashMap;
use stdlib::diag::render_files;

struct Files(HashMap<&'static str, Vec<(&'static str, &'static str)>>);

impl lang::ImportFiles for Files {
    fn read(&self, path: &str) -> Result<Vec<(String, String)>, String> {
        self.0
            .get(path)
            .map(|found| {
                found
                    .iter()
                    .map(|(n, t)| (n.to_string(), t.to_string()))
                    .collect()
            })
            .ok_or_else(|| format!("there is no {path}"))
    }
}

fn files() -> Files {
    Files(HashMap::from([
        (
            "lib.bt",
            vec![(
                "lib.bt",
                "import \"more.bt\";\nstruct Pair { int a; int b; }\nmacro twice(x) { x * 2 }\nBEGIN { @from_lib = 1; }\n",
            )],
        ),
        ("more.bt", vec![("more.bt", "macro thrice(x) { x * 3 }\n")]),
        (
            "dir",
            vec![
                ("dir/a.bt", "macro a1(x) { x + 1 }\n"),
                ("dir/b.bt", "macro b1(x) { x + 2 }\n"),
            ],
        ),
        ("bad.bt", vec![("bad.bt", "macro bad(x) { x + }\n")]),
        ("config.bt", vec![("config.bt", "config = { max_map_keys = 10 }\n")]),
    ]))
}

/// Parses `src` with [`files`]; returns the probes' attach points and the rendered errors.
fn parse(src: &str) -> (lang::ast::Script, String) {
    let (script, sources, diags) = lang::parse_script("main.bt", src, &[], &files());
    let rendered = render_files("main.bt", &sources.text, &sources.imports, &diags, false);
    (script, rendered)
}

#[test]
fn an_imported_file_brings_its_definitions_macros_and_probes_first() {
    let (script, errors) = parse(
        "import \"lib.bt\";\nimport \"lib.bt\";\nimport \"dir\";\nBEGIN { @x = twice(thrice(a1(b1(1)))); $p = (struct Pair *)0; }\n",
    );
    assert_eq!(errors, "");
    assert_eq!(
        script.probes.len(),
        2,
        "the library's BEGIN and the script's"
    );
    // The library's probe comes first and points into the library's text, after the script.
    assert!(script.probes[0].span.start > script.probes[1].span.start);
    assert_eq!(script.c_definitions.len(), 1);
    let macros: Vec<&str> = script.macros.iter().map(|m| m.name.name.as_str()).collect();
    for m in ["twice", "thrice", "a1", "b1"] {
        assert!(macros.contains(&m), "{macros:?}");
    }
}

#[test]
fn an_error_in_an_imported_file_is_shown_in_that_file() {
    let (_, errors) = parse("import \"bad.bt\";\nBEGIN { exit(); }\n");
    assert!(errors.contains("┌─ bad.bt:1:20"), "{errors}");
    assert!(errors.contains("macro bad(x) { x + }"), "{errors}");
}

#[test]
fn a_missing_file_is_an_error_at_its_import() {
    let (_, errors) = parse("BEGIN { exit(); }\n");
    assert_eq!(errors, "");
    let (_, errors) = parse("import \"nope.bt\";\nBEGIN { exit(); }\n");
    assert!(
        errors.contains("cannot import \"nope.bt\": there is no nope.bt"),
        "{errors}"
    );
    assert!(errors.contains("┌─ main.bt:1:1"), "{errors}");
}

#[test]
fn an_imported_file_cannot_set_config() {
    let (_, errors) = parse("import \"config.bt\";\nBEGIN { exit(); }\n");
    assert!(
        errors.contains("an imported file cannot set `config`"),
        "{errors}"
    );
    assert!(errors.contains("┌─ config.bt:1:1"), "{errors}");
}

#[test]
fn without_files_an_import_of_a_file_says_so() {
    let (_, diags) = lang::parse("import \"lib.bt\";\nBEGIN { exit(); }\n");
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("parsed without access to files")),
        "{diags:?}"
    );
}

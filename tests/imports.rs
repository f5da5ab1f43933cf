//! Tier 2: `import "file.bt"` and `import "dir"` run for real: a script's imported macros
//! and probes run with it (the imported probes first, as in bpftrace), paths are taken from
//! the script's directory whatever the current one, an error in an imported file is shown in
//! that file, and such a script is never served from the compile cache, whose key does not
//! cover the imported files. Root only.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

// Only some of the shared helpers are used here.
#[allow(dead_code)]
mod common;

use common::require_root;

/// A directory of scripts for one test, removed when the test ends.
struct Scripts(PathBuf);

impl Scripts {
    fn new(name: &str, files: &[(&str, &str)]) -> Scripts {
        let dir = std::env::temp_dir().join(format!("rbt-imports-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, text) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().expect("a directory")).expect("mkdir");
            std::fs::write(path, text).expect("write a script");
        }
        Scripts(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Scripts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rbt(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(args)
        .current_dir(cwd)
        .env("XDG_CACHE_HOME", cwd.join("cache"))
        .env_remove(common::NOTIFY)
        .stdin(Stdio::null())
        .output()
        .expect("run rbt")
}

const LIBRARY: &[(&str, &str)] = &[
    (
        "lib/util.bt",
        "import \"lib/more.bt\";\nmacro twice(x) { x * 2 }\nBEGIN { printf(\"library\\n\"); }\n",
    ),
    ("lib/more.bt", "macro thrice(x) { x * 3 }\n"),
    ("macros/a.bt", "macro plus1(x) { x + 1 }\n"),
    ("macros/b.bt", "macro plus2(x) { x + 2 }\n"),
    (
        "main.bt",
        "import \"lib/util.bt\";\nimport \"macros\";\nBEGIN { printf(\"%d\\n\", twice(thrice(plus1(plus2(1))))); exit(); }\n",
    ),
];

#[test]
#[ignore = "needs root"]
fn a_script_runs_the_macros_and_probes_it_imports() {
    require_root();
    let s = Scripts::new("run", LIBRARY);
    // From another directory: the imports are found beside the script.
    let o = rbt(Path::new("/"), &["-q", &s.path("main.bt")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim_end(), "library\n24");
    // `-e` takes them from the current directory.
    let o = rbt(
        &s.0,
        &[
            "-q",
            "-e",
            "import \"macros/a.bt\"; BEGIN { printf(\"%d\\n\", plus1(41)); exit(); }",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim_end(), "42");
}

#[test]
#[ignore = "needs root"]
fn an_error_in_an_imported_file_is_shown_in_that_file() {
    require_root();
    let s = Scripts::new(
        "error",
        &[
            ("lib/bad.bt", "BEGIN { printf(\"%d\\n\", nosuch(1)); }\n"),
            ("main.bt", "import \"lib/bad.bt\";\nBEGIN { exit(); }\n"),
        ],
    );
    let o = rbt(&s.0, &[&s.path("main.bt")]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let at = format!("┌─ {}:1:24", s.path("lib/bad.bt"));
    assert!(
        stderr.contains("unknown function `nosuch`") && stderr.contains(&at),
        "{stderr}"
    );
    let o = rbt(&s.0, &["-e", "import \"lib/none.bt\"; BEGIN { exit(); }"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("cannot import \"lib/none.bt\": there is no lib/none.bt"),
        "{stderr}"
    );
    // A device is not read (it could block, or never end).
    let o = rbt(&s.0, &["-e", "import \"/dev/zero\"; BEGIN { exit(); }"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("/dev/zero is not a regular file"),
        "{stderr}"
    );
}

#[test]
#[ignore = "needs root"]
fn a_script_that_imports_files_is_not_cached() {
    require_root();
    let s = Scripts::new("cache", LIBRARY);
    for _ in 0..2 {
        let o = rbt(&s.0, &["-v", "-q", &s.path("main.bt")]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.contains("not stored: the script imports files"),
            "{stderr}"
        );
    }
    // What it imports is read again on each run.
    std::fs::write(s.0.join("macros/b.bt"), "macro plus2(x) { x + 20 }\n").expect("write");
    let o = rbt(&s.0, &["-q", &s.path("main.bt")]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim_end(),
        "library\n132"
    );
}

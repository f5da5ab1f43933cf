//! Tier 1: `rbt --man` and `rbt --completions SHELL` are written from the clap definition of
//! the flags (src/cli.rs), so each names every flag rbt has; the bash script parses.

use clap::CommandFactory;
use std::process::Command;

fn rbt(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_rbt"))
        .args(args)
        .output()
        .expect("run rbt");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("UTF-8")
}

/// Every long option of the command line, from the same definition rbt parses with.
fn long_flags() -> Vec<String> {
    let command = rbt::cli::Cli::command();
    let flags: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .chain(["help", "version"].map(String::from))
        .collect();
    assert!(flags.len() > 25, "{flags:?}");
    flags
}

#[test]
fn the_manual_page_names_every_flag() {
    let man = rbt(&["--man"]);
    assert!(man.contains(".TH rbt 1"), "{man}");
    // roff escapes each `-` of an option as `\-`.
    for flag in long_flags() {
        let roff = format!("\\-\\-{}", flag.replace('-', "\\-"));
        assert!(
            man.contains(&roff),
            "--{flag} missing from the man page:\n{man}"
        );
    }
    let shorts = rbt::cli::Cli::command()
        .get_arguments()
        .filter_map(|a| a.get_short())
        .collect::<Vec<_>>();
    for short in shorts {
        let roff = format!("\\fB\\-{short}");
        assert!(
            man.contains(&roff),
            "-{short} missing from the man page:\n{man}"
        );
    }
}

#[test]
fn completions_name_every_flag() {
    for shell in ["bash", "zsh", "fish"] {
        let script = rbt(&["--completions", shell]);
        for flag in long_flags() {
            assert!(
                script.contains(&flag),
                "--{flag} missing from the {shell} completions"
            );
        }
    }
    let bash = rbt(&["--completions", "bash"]);
    let check = Command::new("bash")
        .args(["-n", "-c", &bash])
        .output()
        .expect("run bash -n");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

//! Links rbt's binaries so that starting them touches few pages (the compiler,
//! `rbt-compile`, above all: it carries LLVM).
//!
//! - Non-PIE: LLVM is linked statically and carries hundreds of thousands of pointers in
//!   relocated data; in a PIE the loader rewrites them at every start, touching megabytes of
//!   pages.
//! - Startup order: the kernel maps file pages 64 KiB around each fault, and the LLVM code a
//!   run executes (static constructors, the BPF back end) is scattered over ~28 MiB of text,
//!   so nearly all of it ended up resident. `src/startup-order.txt` lists the C++ functions
//!   runs execute (recorded by `bench/startup-order.sh`); lld places them together at the
//!   start of `.text`, and peak memory drops by about 15 MiB (bench/RESULTS.md). Names that no
//!   longer exist are ignored, so a stale list only costs memory, never correctness.
//!   Only lld reads a symbol ordering file; Rust links x86_64 Linux binaries with its own lld
//!   since 1.90. With an older toolchain the order is skipped and a warning says so.
use std::process::Command;

/// The first Rust release that links x86_64-unknown-linux-gnu with its bundled lld.
const RUST_LLD_DEFAULT: u32 = 90;

fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rerun-if-changed=src/startup-order.txt");
    let target = std::env::var("TARGET").unwrap_or_default();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let minor = Command::new(rustc).arg("-V").output().ok().and_then(|o| {
        let v = String::from_utf8_lossy(&o.stdout).into_owned();
        v.split_whitespace()
            .nth(1)?
            .split('.')
            .nth(1)?
            .parse::<u32>()
            .ok()
    });
    if target != "x86_64-unknown-linux-gnu" || !matches!(minor, Some(m) if m >= RUST_LLD_DEFAULT) {
        println!(
            "cargo:warning=linking without src/startup-order.txt (needs rustc >= 1.{RUST_LLD_DEFAULT} on x86_64 Linux, which links with lld); start-up will use ~15 MiB more memory"
        );
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    println!("cargo:rustc-link-arg-bin=rbt-compile=-Wl,--symbol-ordering-file={dir}/src/startup-order.txt");
    println!("cargo:rustc-link-arg-bin=rbt-compile=-Wl,--no-warn-symbol-ordering");
}

//! What `rbt`'s two executables share. `rbt` (src/main.rs) is the front end: it reads the
//! command line, runs compiled files and compile-cache hits itself, and hands every other
//! command line, unchanged, to `rbt-compile` (src/compiler/main.rs) installed beside it: the
//! parser, checker and LLVM. The front end links no LLVM (`tests/front.rs` checks its
//! symbols), so a cached run starts as fast and as small as `rbt-run`.

pub mod cache;
pub mod cli;
pub mod input;

/// The name of the compiler executable, installed beside `rbt`.
pub const COMPILER: &str = "rbt-compile";

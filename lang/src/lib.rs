//! rbt's front end: source text → [`ast::Script`] (`parse`) → typed `hir::Script` (`check`),
//! with every problem reported as a [`stdlib::diag::Diagnostic`]. No I/O and no LLVM here:
//! kernel facts reach the checker through the [`stdlib::catalog::Catalog`] trait, which the
//! runtime implements. What the runtime shares with the front end (spans and diagnostic
//! rendering, literal decoding, the catalog trait) lives in `stdlib`, so that `runtime` and
//! `rbt-run` are built without this crate.

pub mod ast;
pub mod check;
pub mod config;
pub mod format;
pub mod hir;
mod macros;
mod parse;
mod preprocess;

pub use macros::annotate_expansions;
pub use parse::{parse, parse_script, parse_with_params, ImportFiles};

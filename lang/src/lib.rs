//! rbt's front end: source text → [`ast::Script`] (`parse`) → typed `hir::Script` (`check`),
//! with every problem reported as a [`diag::Diagnostic`]. No I/O and no LLVM here: kernel
//! facts reach the checker through a catalog trait implemented by the runtime.

pub mod ast;
pub mod check;
pub mod config;
pub mod diag;
pub mod hir;
mod macros;
mod parse;
mod preprocess;

pub use macros::annotate_expansions;
/// How a positional parameter reads as an integer (the runtime checks a compiled script's
/// run-time parameters with it).
pub use parse::literal::parse_int;
pub use parse::{parse, parse_with_params};

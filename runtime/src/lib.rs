//! rbt's runtime: kernel introspection (tracefs, BTF, kallsyms, ELF symbols and USDT notes),
//! probe listing, the system catalog the checker consults, and running a compiled object:
//! load and attach through libbpf (only in `sys`), the ring buffer event loop, map reading,
//! symbolization and bpftrace-compatible output. No LLVM is linked here.

mod attach;
pub mod catalog;
mod events;
pub mod features;
pub mod introspect;
pub mod launch;
pub mod listing;
mod maps;
pub mod run;
mod symbols;
mod sys;
pub mod verifier;

pub use events::{Buffering, OutputFormat};
pub use run::{run, RunError, RunMode, RunOptions};
pub use sys::{euid, GatedChild};
pub use verifier::{line_of_instruction, Rejection};

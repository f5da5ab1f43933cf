//! rbt's runtime: kernel introspection (tracefs, BTF, kallsyms, ELF symbols and USDT notes),
//! probe listing, the system catalog the checker consults, and running a compiled object:
//! load and attach through libbpf (only in `sys`), the ring buffer event loop, map reading,
//! symbolization and bpftrace-compatible output. No LLVM and no front end are linked here:
//! what this crate shares with the compiler (the `Catalog` trait it implements, spans and
//! diagnostic rendering, literal decoding) is in `stdlib`, so `rbt-run` is built from this
//! crate and `stdlib` alone.

mod attach;
pub mod catalog;
mod events;
pub mod features;
pub mod introspect;
pub mod launch;
pub mod listing;
mod maps;
mod pcap;
pub mod run;
mod source_frames;
mod symbols;
mod sys;
mod unwind;
pub mod verifier;

pub use events::{Buffering, OutputFormat};
pub use run::{run, RunError, RunMode, RunOptions};
pub use sys::{euid, GatedChild};
pub use verifier::{line_of_instruction, Rejection};

//! rbt's standard library: the one table of builtins and functions, the type vocabulary,
//! the printf format parser, the BPF→user event ABI (the Manifest, and `abi` for the
//! layouts both sides share), and the pure decoders and
//! renderers of bpftrace's output (values, maps, histograms, JSON, names of syscalls and
//! signals). Nothing here touches the
//! kernel or LLVM, so all of it is tested without root.

pub mod abi;
pub mod aot;
pub mod builtins;
pub mod decode;
pub mod format;
pub mod manifest;
pub mod names;
pub mod output;
pub mod probes;
pub mod timefmt;
pub mod tseries;
pub mod types;
pub mod value;

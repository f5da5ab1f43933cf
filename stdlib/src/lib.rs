//! rbt's standard library: the one table of builtins and functions, the type vocabulary,
//! the printf format parser, the BPF→user event ABI (the Manifest, and `abi` for the
//! layouts both sides share), and the pure decoders and
//! renderers of bpftrace's output (values, maps, histograms, JSON, names of syscalls and
//! signals, the pcap records of `skboutput`). It also holds what both the compiler (`lang`, `codegen`) and the runtime need
//! without either depending on the other: source spans and diagnostic rendering (`diag`),
//! the reading of integer and string literals (`literal`, which a compiled script's run-time
//! parameters go through too), and the trait through which the checker asks about the
//! kernel (`catalog`, implemented by the runtime). Nothing here touches the
//! kernel or LLVM, so all of it is tested without root.

pub mod abi;
pub mod aot;
pub mod builtins;
pub mod catalog;
pub mod cexpr;
pub mod decode;
pub mod diag;
pub mod format;
pub mod literal;
pub mod manifest;
pub mod modules;
pub mod names;
pub mod output;
pub mod pcap;
pub mod probes;
pub mod syscalls;
pub mod timefmt;
pub mod tseries;
pub mod types;
pub mod value;

//! Kernel and user-space introspection: what can be probed on this machine and with which
//! argument types. Everything here reads the system lazily and is cheap to skip, because rbt's
//! start-up budget (25 ms) leaves no room for reading sources a script does not use.
//!
//! - [`tracefs`]: tracepoint names and `format` files (mounts tracefs if needed).
//! - [`btf`]: a lazy BTF reader for vmlinux and module BTF (types, function prototypes).
//! - [`kallsyms`]: kernel function lists and compiler-renamed symbol resolution.
//! - [`elf`]: ELF function symbols, USDT notes, and uprobe target resolution.
//! - [`cgroup`]: cgroup ids to their paths in the mounted hierarchies.
//! - [`dwarf`]: DWARF debug info of user binaries (uprobe `args`, their types, source lines).
//! - [`frames`]: file, line and inlined functions of a code address (`show_debug_info`).
//! - [`zip`]: stored members of zip archives (`uprobe:app.zip!/lib/x.so:f`).
//! - [`cmacros`]: integer macros of the C headers a script includes (`SIGINT`).

pub mod btf;
pub mod cgroup;
pub mod cmacros;
pub mod dwarf;
pub mod elf;
pub mod frames;
pub mod insn;
pub mod kallsyms;
pub mod tracefs;
pub mod zip;

//! The contract between the BPF programs codegen emits and the user space that reads what
//! they write: the layout of a ring buffer record, the slots of the internal state map, how
//! deep a stack the stack-trace map holds, and the payloads of the values user space decodes
//! with help from the kernel or the traced process (`inet`, `usym`, `kstack`, `ustack`).
//! Codegen writes these layouts, `value::decode` and the runtime read them, and the checker
//! refuses what they cannot hold; each number is written here once.

/// A ring buffer record: the event id (a u64, the index into the manifest's events), then
/// the event's payload.
pub mod record {
    /// Bytes before the payload: the event id.
    pub const HEADER: u32 = 8;
}

/// The internal state map (`manifest::STATE_MAP`), an array of u64 user space fills in
/// before any probe runs.
pub mod state {
    /// How many u64 slots the map has (room for more than it uses today).
    pub const SLOTS: u32 = 4;
    /// The slot holding the monotonic time (ns) the session started, which `elapsed`
    /// subtracts from the time now.
    pub const START_NS: u32 = 0;
    /// The slot exit() sets to 1: probes of a script that calls exit() stop running then.
    pub const EXITED: u32 = 1;
    /// The slot holding CLOCK_TAI minus CLOCK_REALTIME in whole seconds (as ns): tseries()
    /// subtracts it from the TAI clock so that its intervals are wall-clock time.
    pub const TAI_OFFSET_NS: u32 = 2;
}

/// Stacks: the program stores a stack id of the stack-trace map (`manifest::STACKS_MAP`);
/// user space reads the frames from the map and symbolizes them.
pub mod stack {
    /// The most frames the stack-trace map holds of each stack (the kernel's default
    /// `perf_event_max_stack`), so the deepest `kstack(n)`/`ustack(n)` a script may ask for
    /// and the depth of a plain `kstack`/`ustack`.
    pub const MAX_DEPTH: u32 = 127;
    /// The value size of the stack-trace map: one u64 address per frame.
    pub const MAP_VALUE_BYTES: u32 = 8 * MAX_DEPTH;
    /// A `kstack` payload: the stack id, a u64.
    pub const KSTACK_SIZE: u32 = 8;
    /// A `ustack` payload: the stack id, then the pid of the process whose addresses the
    /// frames are (both u64).
    pub const USTACK_SIZE: u32 = 16;
    /// Offset of the stack id in either payload.
    pub const ID: u32 = 0;
    /// Offset of the pid in a `ustack` payload.
    pub const PID: u32 = 8;
}

/// `dw_ustack`: the program copies the user registers an unwinder starts from and the top of
/// the user stack; user space unwinds the copy with the DWARF CFI (`.eh_frame`,
/// `.debug_frame`) of the objects mapped in the process, as `perf record -g dwarf` does.
/// The header (all u64) is followed by the copied stack bytes, which start at `SP`.
pub mod dwstack {
    /// The pid (thread group id) of the process whose stack this is.
    pub const PID: u32 = 0;
    /// The user instruction pointer (`rip`) when the probe fired.
    pub const IP: u32 = 8;
    /// The user stack pointer (`rsp`).
    pub const SP: u32 = 16;
    /// The user frame pointer register (`rbp`), for frames whose CFA rule names it.
    pub const BP: u32 = 24;
    /// How many of the stack bytes that follow were copied (0 when the copy failed).
    pub const LEN: u32 = 32;
    /// Offset of the stack bytes, and the size of the header.
    pub const BYTES: u32 = 40;
    /// Stack bytes copied when the config does not say (`dw_ustack_bytes`): enough for the
    /// frames of ordinary C programs and their libc, small enough that a statement can hold
    /// several (a map key, a tuple, a printf record) in the default scratch area.
    pub const DEFAULT_STACK_BYTES: u32 = 2048;
    /// The most stack bytes a script may ask for: the capture lives in per-CPU scratch
    /// memory, which a statement shares with its other values.
    pub const MAX_STACK_BYTES: u32 = 16 * 1024;
}

/// A `usym` payload: a user-space address and the pid of the process it belongs to (both
/// u64), so user space can symbolize it through that process's mappings.
pub mod usym {
    pub const SIZE: u32 = 16;
    pub const ADDR: u32 = 0;
    pub const PID: u32 = 8;
}

/// An `inet` payload (`ntop`): the address family as a u64, then up to 16 bytes of address
/// in network byte order (4 for IPv4).
pub mod inet {
    pub const SIZE: u32 = 24;
    pub const FAMILY: u32 = 0;
    pub const ADDR: u32 = 8;
    /// Bytes of address room: an IPv6 address.
    pub const ADDR_LEN: u32 = 16;
    /// The IPv4 family, `AF_INET` in linux/socket.h.
    pub const AF_INET: u64 = 2;
    /// The IPv6 family, `AF_INET6` in linux/socket.h.
    pub const AF_INET6: u64 = 10;
}

/// The one-argument `ntop(addr)` family of an address `size` bytes long: IPv6 for 16 bytes,
/// IPv4 for anything else.
pub fn inet_family(size: u32) -> u64 {
    if size == inet::ADDR_LEN {
        inet::AF_INET6
    } else {
        inet::AF_INET
    }
}

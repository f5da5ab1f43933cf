//! The only module that names `libbpf_sys` and the only one with `unsafe` code in the
//! runtime: safe wrappers that own libbpf objects and kernel file descriptors and free them on
//! drop (objects close, links detach, ring and perf buffers free, fds close), plus the few raw syscalls
//! libbpf does not wrap. Every `unsafe` block says why it is sound.

mod btf_dump;
mod child;
mod dispatch;
mod fd;
mod map;
mod object;
mod perfbuf;
mod probe;
mod progs;
mod ringbuf;

pub use btf_dump::{KernelBtf, TypeKind};
pub use child::GatedChild;
pub use dispatch::SyscallDispatcher;
pub use fd::{boottime_ns, map_file, monotonic_ns, tai_ns, Epoll, Interest, PidFd, SignalFd};
pub use map::MapHandle;
pub use object::{Breakpoint, Link, Object, PerfEventAttr, Program};
pub use perfbuf::PerfBuffer;
pub use probe::{helper_supported, kfunc_callable, program_loads, Helper, ProgramKind};
pub use progs::{loaded_programs, program_btf, program_fd};
pub use ringbuf::RingBuffer;

use std::ffi::CString;
use std::os::raw::{c_char, c_int};

/// An error from libbpf or a syscall, with what was being done.
#[derive(Debug)]
pub struct SysError {
    pub what: String,
    pub errno: i32,
    /// The verifier's log when a program failed to load.
    pub log: Option<VerifierLog>,
}

/// What the verifier said about the program it refused.
#[derive(Debug)]
pub struct VerifierLog {
    /// The program's function name in the object (`BEGIN_0`).
    pub program: String,
    pub text: String,
}

impl std::fmt::Display for SysError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            self.what,
            stdlib::value::strerror(i64::from(self.errno))
        )
    }
}

pub(crate) fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

pub(crate) fn err(what: impl Into<String>, errno: i32) -> SysError {
    SysError {
        what: what.into(),
        errno: errno.abs(),
        log: None,
    }
}

pub(crate) fn cstring(s: &str) -> Result<CString, SysError> {
    CString::new(s).map_err(|_| err(format!("name {s:?} contains a NUL byte"), libc::EINVAL))
}

/// The size of a memory page in bytes (4096 when the system will not say).
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// The effective user id rbt runs as (the compile cache trusts only a directory it owns).
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether rbt runs as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// libbpf messages go to stderr only in verbose mode; otherwise they are dropped, because
/// rbt reports failures itself in words.
pub fn set_libbpf_verbose(verbose: bool) {
    unsafe extern "C" {
        fn vfprintf(
            stream: *mut libc::FILE,
            fmt: *const c_char,
            ap: *mut libbpf_sys::__va_list_tag,
        ) -> c_int;
        static mut stderr: *mut libc::FILE;
    }
    unsafe extern "C" fn print_verbose(
        _level: libbpf_sys::libbpf_print_level,
        fmt: *const c_char,
        ap: *mut libbpf_sys::__va_list_tag,
    ) -> c_int {
        // SAFETY: libbpf passes a valid format string and matching va_list; glibc's
        // vfprintf consumes exactly those, and stderr is glibc's own stream.
        unsafe { vfprintf(stderr, fmt, ap) }
    }
    unsafe extern "C" fn print_quiet(
        _level: libbpf_sys::libbpf_print_level,
        _fmt: *const c_char,
        _ap: *mut libbpf_sys::__va_list_tag,
    ) -> c_int {
        0
    }
    let f: libbpf_sys::libbpf_print_fn_t = Some(if verbose { print_verbose } else { print_quiet });
    // SAFETY: libbpf_set_print only stores the function pointer, which is 'static.
    unsafe {
        libbpf_sys::libbpf_set_print(f);
    }
}

/// The number of possible CPUs: per-CPU map values hold one slot for each.
pub fn possible_cpus() -> Result<usize, SysError> {
    // SAFETY: no arguments; returns a count or a negative error.
    let n = unsafe { libbpf_sys::libbpf_num_possible_cpus() };
    if n < 0 {
        Err(err("cannot count the possible CPUs", n))
    } else {
        Ok(n as usize)
    }
}

//! Kernel file descriptors the event loop waits on — a signalfd for SIGINT/SIGTERM, an epoll
//! instance, a pidfd for the `-c` command — each an [`OwnedFd`] closed on drop, plus the
//! monotonic clock and read-only file mappings.

use super::{err, last_errno, SysError};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::raw::c_int;

/// Takes ownership of a descriptor a syscall just returned, or reports its failure.
fn owned(fd: c_int, what: &str) -> Result<OwnedFd, SysError> {
    if fd < 0 {
        return Err(err(what, last_errno()));
    }
    // SAFETY: `fd` was just returned by a successful syscall that creates a descriptor, so
    // it is open and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// SIGINT and SIGTERM (and the signals a script handles), blocked for the process and
/// reported through a descriptor instead, so the event loop waits on signals and events
/// together.
pub struct SignalFd {
    fd: OwnedFd,
}

impl SignalFd {
    /// Blocks SIGINT, SIGTERM and `handled` (for good: an orderly exit follows the first
    /// two, the script's probes handle the others) and opens a signalfd that becomes
    /// readable when one is pending.
    pub fn term_signals(handled: &[c_int]) -> Result<SignalFd, SysError> {
        // SAFETY: sigset_t is a plain C bitmask for which all-zero is a valid (empty) value.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid, initialised sigset_t owned by this frame, and the null
        // old-set pointer tells sigprocmask not to report the previous mask.
        let fd = unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            for s in handled {
                libc::sigaddset(&mut set, *s);
            }
            if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) < 0 {
                return Err(err("cannot block SIGINT and SIGTERM", last_errno()));
            }
            libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK)
        };
        Ok(SignalFd {
            fd: owned(fd, "cannot open a signalfd")?,
        })
    }

    /// The signals pending now, in the order they arrived (each taken off the queue).
    pub fn pending(&self) -> Vec<c_int> {
        let mut signals = Vec::new();
        loop {
            // SAFETY: signalfd_siginfo is a plain C struct for which all-zero is valid.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: the buffer is `info`, owned by this frame and `size` bytes long; the
            // descriptor is non-blocking, so read returns at once when nothing is pending.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    std::ptr::addr_of_mut!(info).cast(),
                    size,
                )
            };
            if n != size as isize {
                return signals;
            }
            signals.push(info.ssi_signo as c_int);
        }
    }
}

impl AsFd for SignalFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A pidfd: readable once the process it names has exited.
pub struct PidFd {
    fd: OwnedFd,
}

impl PidFd {
    pub fn open(pid: u32) -> Result<PidFd, SysError> {
        let id = libc::pid_t::try_from(pid)
            .map_err(|_| err(format!("pid {pid} out of range"), libc::EINVAL))?;
        // SAFETY: pidfd_open takes a pid and flags by value and returns a new descriptor.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, id, 0) };
        let fd = c_int::try_from(fd).unwrap_or(-1);
        Ok(PidFd {
            fd: owned(fd, &format!("cannot watch process {pid}"))?,
        })
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// What an epoll registration waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Data to read (and errors).
    Readable,
    /// Only errors and hang-ups: the write end of a pipe reports one when its reader closes.
    ErrorsOnly,
}

/// An epoll instance; registered descriptors are reported by the tag given at registration.
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub fn new() -> Result<Epoll, SysError> {
        // SAFETY: epoll_create1 takes flags by value and returns a new descriptor.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        Ok(Epoll {
            fd: owned(fd, "cannot create an epoll instance")?,
        })
    }

    /// Watches `fd` (which the caller keeps open while it matters) under `tag`.
    pub fn add(&self, fd: BorrowedFd<'_>, interest: Interest, tag: u64) -> Result<(), SysError> {
        let events = match interest {
            Interest::Readable => libc::EPOLLIN as u32,
            Interest::ErrorsOnly => 0,
        };
        let mut ev = libc::epoll_event { events, u64: tag };
        // SAFETY: both descriptors are open (borrowed or owned) for the call, and `ev` is a
        // valid epoll_event that the kernel copies.
        let rc = unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut ev,
            )
        };
        if rc < 0 {
            Err(err("cannot watch a file descriptor", last_errno()))
        } else {
            Ok(())
        }
    }

    /// Waits up to `timeout_ms` and returns the tags of the descriptors that are ready (none
    /// on timeout or when a signal interrupted the wait).
    pub fn wait(&self, timeout_ms: i32) -> Result<Vec<u64>, SysError> {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 8];
        // SAFETY: `events` is writable for `events.len()` entries, the count passed.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as c_int,
                timeout_ms,
            )
        };
        if n < 0 {
            let errno = last_errno();
            return if errno == libc::EINTR {
                Ok(Vec::new())
            } else {
                Err(err("waiting for events failed", errno))
            };
        }
        Ok(events
            .iter()
            .take(n as usize)
            // A copy, not a reference: epoll_event is packed on x86-64.
            .map(|e| e.u64)
            .collect())
    }
}

/// CLOCK_MONOTONIC in nanoseconds, the clock `bpf_ktime_get_ns` reads.
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// CLOCK_BOOTTIME in nanoseconds, the clock `bpf_ktime_get_boot_ns` reads (`nsecs`).
pub fn boottime_ns() -> u64 {
    clock_ns(libc::CLOCK_BOOTTIME)
}

/// CLOCK_TAI in nanoseconds, the clock `bpf_ktime_get_tai_ns` reads.
pub fn tai_ns() -> u64 {
    clock_ns(libc::CLOCK_TAI)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into our timespec; the callers pass clocks Linux always has.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Maps `file` into memory, private and read-only.
///
/// Meant for files that do not change while rbt runs (the kernel's BTF): a file truncated
/// under the mapping would make reads of it fault.
pub fn map_file(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the mapping is private and read-only, and callers only map files that never
    // change while the system runs (see above); a regular file truncated under us would at
    // worst fault, which reading it into the heap cannot avoid either for a racing writer.
    unsafe { memmap2::MmapOptions::new().map_copy_read_only(file) }
}

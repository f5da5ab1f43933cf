//! The `-c` command, started before compiling and held until the probes are attached.

/// A `-c` command: forked before compiling (so `cpid` is known) and held before `exec` until
/// [`GatedChild::release`], so it cannot run past events before the probes are attached.
/// Dropped without being released (rbt failed), the child is killed instead of running.
pub struct GatedChild {
    pub pid: u32,
    gate: Option<std::fs::File>,
    /// Set once the child has been waited for.
    reaped: bool,
}

impl GatedChild {
    /// Starts `cmd` held at the gate. Its program is looked up in `PATH` first, as bpftrace
    /// does: one that does not exist or cannot be run is an error here, before any probe
    /// is attached, and the traced command execs once instead of once per `PATH` entry
    /// (each failed try would be an exec event the script sees).
    ///
    /// As bpftrace does, rbt forks and the child waits on a pipe, then execs the command
    /// directly: between the release and the exec the command's process makes no system
    /// call but the `read` that released it, and its `comm` is rbt's until the exec. (`std::process::Command` cannot hold a child before exec: its
    /// spawn waits for the exec to happen.) The command is split at each space, with no
    /// shell quoting or expansion (`echo 'A'` passes `'A'`).
    pub fn spawn(cmd: &str) -> std::io::Result<GatedChild> {
        use std::ffi::CString;
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        let mut words = cmd.split(' ');
        let program = resolve_program(words.next().unwrap_or_default())?;
        let invalid = |_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a NUL byte");
        let path = CString::new(program.as_os_str().as_bytes()).map_err(invalid)?;
        let mut argv = vec![path.clone()];
        for w in words {
            argv.push(CString::new(w).map_err(invalid)?);
        }
        // Everything the child uses is made before the fork: after it, the child calls only
        // async-signal-safe functions.
        let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        let (reader, writer) = std::io::pipe()?;
        let (rfd, wfd) = (reader.as_raw_fd(), writer.as_raw_fd());
        // SAFETY: fork(2) has no preconditions; the child runs only the block below, which
        // calls async-signal-safe functions on memory allocated before the fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: in the child, between fork and exec: close(2), sigprocmask(2),
            // signal(2), read(2), execv(3) and _exit(2) are async-signal-safe, and the
            // pointers are to the CStrings above, alive in this copy of the address space.
            unsafe {
                libc::close(wfd);
                // The command starts with no signal blocked and SIGPIPE at its default, as
                // std::process::Command starts one (rbt blocks the signals it reads from a
                // signalfd, and the Rust runtime ignores SIGPIPE; both would be inherited).
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                let mut byte = 0u8;
                loop {
                    let n = libc::read(rfd, (&mut byte as *mut u8).cast(), 1);
                    if n == 1 {
                        break;
                    }
                    // At EOF (rbt ended without releasing it) the command never runs.
                    if n == 0 || *libc::__errno_location() != libc::EINTR {
                        libc::_exit(127);
                    }
                }
                // The gate's read end is close-on-exec (std::io::pipe), so the exec drops it.
                libc::execv(path.as_ptr(), ptrs.as_ptr());
                libc::_exit(127);
            }
        }
        drop(reader);
        Ok(GatedChild {
            pid: pid as u32,
            gate: Some(std::fs::File::from(std::os::fd::OwnedFd::from(writer))),
            reaped: false,
        })
    }

    /// Lets the command run.
    pub fn release(&mut self) {
        use std::io::Write;
        if let Some(mut g) = self.gate.take() {
            let _ = g.write_all(b"g");
        }
    }

    /// Waits for the child (`WNOHANG` in `flags` to only look); whether it has been reaped.
    fn wait(&mut self, flags: libc::c_int) -> bool {
        if !self.reaped {
            let mut status = 0;
            // SAFETY: waitpid(2) on our own child; `status` is a valid out-pointer.
            let r = unsafe { libc::waitpid(self.pid as libc::pid_t, &mut status, flags) };
            // A pid that is not (or no longer) our child (ECHILD) has nothing to wait for.
            self.reaped = r == self.pid as libc::pid_t || r < 0;
        }
        self.reaped
    }

    /// Sends `signal` to the child unless it has been reaped (its pid could then be reused).
    fn signal(&self, signal: libc::c_int) {
        if !self.reaped {
            // SAFETY: kill(2) on our own child, not yet reaped, so its pid is still ours.
            unsafe {
                libc::kill(self.pid as libc::pid_t, signal);
            }
        }
    }
}

/// The file `program` runs: itself if it names a path (has a `/`), else the first
/// executable regular file of that name in a `PATH` directory.
fn resolve_program(program: &str) -> std::io::Result<std::path::PathBuf> {
    use crate::introspect::elf::{is_executable, search_path};
    let not_found =
        |why: &str| std::io::Error::new(std::io::ErrorKind::NotFound, format!("`{program}` {why}"));
    if program.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the command is empty",
        ));
    }
    if program.contains('/') {
        let path = std::path::PathBuf::from(program);
        return match is_executable(&path) {
            true => Ok(path),
            false => Err(not_found("does not exist or is not an executable file")),
        };
    }
    // The shell's default when PATH is unset.
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    search_path(program, &path)
        .ok_or_else(|| not_found("is not an executable file in any PATH directory"))
}

impl Drop for GatedChild {
    fn drop(&mut self) {
        if self.gate.is_some() {
            // Never released: rbt failed before tracing, so the command must not run.
            self.signal(libc::SIGKILL);
        } else if !self.wait(libc::WNOHANG) {
            // Tracing ended (exit(), a signal) while the command still runs: ask it to end,
            // as bpftrace does, rather than wait for a command that may never finish.
            self.signal(libc::SIGTERM);
        }
        self.wait(0);
    }
}

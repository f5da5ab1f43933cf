//! The `-c` command, started before compiling and held until the probes are attached.

/// A `-c` command: forked before compiling (so `cpid` is known) and held before `exec` until
/// [`GatedChild::release`], so it cannot run past events before the probes are attached.
/// Dropped without being released (rbt failed), the child is killed instead of running.
pub struct GatedChild {
    pub pid: u32,
    gate: Option<std::fs::File>,
    child: std::process::Child,
}

impl GatedChild {
    /// Starts `cmd` held at the gate. Its program is looked up in `PATH` first, as bpftrace
    /// does: one that does not exist or cannot be run is an error here, before any probe
    /// is attached, and the traced command execs once instead of once per `PATH` entry
    /// (each failed try would be an exec event the script sees).
    pub fn spawn(cmd: &str) -> std::io::Result<GatedChild> {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let mut words = cmd.split(' ');
        let program = resolve_program(words.next().unwrap_or_default())?;
        let (reader, writer) = std::io::pipe()?;
        let (rfd, wfd) = (reader.as_raw_fd(), writer.as_raw_fd());
        // The shell waits on the gate (fd 3) and execs the command once rbt writes to it;
        // at EOF (rbt died first) `read` fails and the command never runs. Waiting in the
        // shell rather than before exec matters: spawn() itself waits for the exec. The
        // command does not inherit the gate.
        // As bpftrace does, the command is split at each space, with no shell quoting or
        // expansion (`echo 'A'` passes `'A'`); the words reach `exec` as the shell's
        // positional parameters, so none of them is parsed again.
        let mut command = std::process::Command::new("/bin/sh");
        command
            .arg("-c")
            .arg("read -r _ <&3 && exec \"$@\" 3<&-")
            .arg("sh")
            .arg(program)
            .args(words);
        // SAFETY: between fork and exec the closure only calls dup2(2), fcntl(2) and close(2), which are
        // async-signal-safe: the read end becomes fd 3 and the child drops its write end.
        unsafe {
            command.pre_exec(move || {
                // dup2 onto itself keeps close-on-exec, so clear the flag explicitly.
                if libc::dup2(rfd, 3) < 0 || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(wfd);
                Ok(())
            });
        }
        let child = command.spawn()?;
        drop(reader);
        Ok(GatedChild {
            pid: child.id(),
            gate: Some(std::fs::File::from(std::os::fd::OwnedFd::from(writer))),
            child,
        })
    }

    /// Lets the command run.
    pub fn release(&mut self) {
        use std::io::Write;
        if let Some(mut g) = self.gate.take() {
            let _ = g.write_all(b"go\n");
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
            let _ = self.child.kill();
        } else if let Ok(None) = self.child.try_wait() {
            // Tracing ended (exit(), a signal) while the command still runs: ask it to end,
            // as bpftrace does, rather than wait for a command that may never finish.
            if let Ok(pid) = libc::pid_t::try_from(self.pid) {
                // SAFETY: kill(2) on our own child, which try_wait just saw unreaped, so
                // its pid cannot have been reused.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
        }
        let _ = self.child.wait();
    }
}

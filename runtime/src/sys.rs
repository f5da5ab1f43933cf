//! The only module that names `libbpf_sys`: safe wrappers that own libbpf objects and free
//! them on drop (objects close, links detach, ring buffers free), plus the few raw syscalls
//! libbpf does not wrap (perf_event_open). Every `unsafe` block says why it is sound.

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::ptr::NonNull;

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
        let msg = std::io::Error::from_raw_os_error(self.errno);
        write!(f, "{}: {}", self.what, msg)
    }
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

fn err(what: impl Into<String>, errno: i32) -> SysError {
    SysError {
        what: what.into(),
        errno: errno.abs(),
        log: None,
    }
}

fn cstring(s: &str) -> Result<CString, SysError> {
    CString::new(s).map_err(|_| err(format!("name {s:?} contains a NUL byte"), libc::EINVAL))
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

/// An opened (and later loaded) BPF object. Closing it unloads programs and maps.
pub struct Object {
    obj: NonNull<libbpf_sys::bpf_object>,
    /// Verifier log buffers, one per program, kept alive while libbpf may write to them.
    logs: Vec<(String, Box<[u8]>)>,
}

impl Object {
    /// Parses an ELF object held in memory.
    pub fn open(elf: &[u8], name: &str) -> Result<Object, SysError> {
        let cname = cstring(name)?;
        // SAFETY: bpf_object_open_opts is a plain C struct for which all-zero is the
        // documented default; `sz` tells libbpf which fields exist.
        let mut opts: libbpf_sys::bpf_object_open_opts = unsafe { std::mem::zeroed() };
        opts.sz = std::mem::size_of::<libbpf_sys::bpf_object_open_opts>() as _;
        opts.object_name = cname.as_ptr();
        // SAFETY: `elf` is valid for `elf.len()` bytes for the call; libbpf copies what it
        // keeps. `opts` and `cname` outlive the call.
        let obj = unsafe {
            libbpf_sys::bpf_object__open_mem(elf.as_ptr() as *const c_void, elf.len() as _, &opts)
        };
        match NonNull::new(obj) {
            Some(obj) => Ok(Object {
                obj,
                logs: Vec::new(),
            }),
            None => Err(err("cannot open the compiled BPF object", last_errno())),
        }
    }

    fn programs(&self) -> Vec<NonNull<libbpf_sys::bpf_program>> {
        let mut out = Vec::new();
        let mut prog = std::ptr::null_mut();
        loop {
            // SAFETY: iterating the object's own program list; `prog` is null or a program
            // returned by the previous call.
            prog = unsafe { libbpf_sys::bpf_object__next_program(self.obj.as_ptr(), prog) };
            match NonNull::new(prog) {
                Some(p) => out.push(p),
                None => return out,
            }
        }
    }

    fn prog_name(p: NonNull<libbpf_sys::bpf_program>) -> String {
        // SAFETY: libbpf returns a NUL-terminated name owned by the program.
        unsafe { CStr::from_ptr(libbpf_sys::bpf_program__name(p.as_ptr())) }
            .to_string_lossy()
            .into_owned()
    }

    /// Loads every program into the kernel (the verifier runs here). On failure the error
    /// carries the failing program's verifier log.
    pub fn load(&mut self) -> Result<(), SysError> {
        for p in self.programs() {
            let mut buf = vec![0u8; 1 << 20].into_boxed_slice();
            // SAFETY: the buffer lives in `self.logs` as long as the object, so libbpf may
            // write to it during load.
            unsafe {
                libbpf_sys::bpf_program__set_log_buf(
                    p.as_ptr(),
                    buf.as_mut_ptr() as *mut c_char,
                    buf.len() as _,
                );
            }
            self.logs.push((Self::prog_name(p), buf));
        }
        // SAFETY: the object is open and owned by self.
        let rc = unsafe { libbpf_sys::bpf_object__load(self.obj.as_ptr()) };
        if rc == 0 {
            return Ok(());
        }
        // Programs load in order and the first failure stops the load, so the refused
        // program is the last one that has a log.
        let log = self
            .logs
            .iter()
            .rev()
            .map(|(name, buf)| {
                let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
                VerifierLog {
                    program: name.clone(),
                    text: String::from_utf8_lossy(&buf[..end]).into_owned(),
                }
            })
            .find(|l| !l.text.trim().is_empty());
        Err(SysError {
            what: "the kernel refused to load the BPF program".into(),
            errno: rc.abs(),
            log,
        })
    }

    /// The program with this function name.
    pub fn program(&self, name: &str) -> Result<Program<'_>, SysError> {
        let cname = cstring(name)?;
        // SAFETY: lookup by name in the object's own tables.
        let p = unsafe {
            libbpf_sys::bpf_object__find_program_by_name(self.obj.as_ptr(), cname.as_ptr())
        };
        NonNull::new(p)
            .map(|prog| Program { prog, _obj: self })
            .ok_or_else(|| {
                err(
                    format!("program {name} missing from the object"),
                    libc::ENOENT,
                )
            })
    }

    /// The file descriptor of the map with this name (valid once loaded).
    pub fn map_fd(&self, name: &str) -> Result<c_int, SysError> {
        let cname = cstring(name)?;
        // SAFETY: lookup by name in the object's own tables.
        let m =
            unsafe { libbpf_sys::bpf_object__find_map_by_name(self.obj.as_ptr(), cname.as_ptr()) };
        let m = NonNull::new(m)
            .ok_or_else(|| err(format!("map {name} missing from the object"), libc::ENOENT))?;
        // SAFETY: `m` is a map of this object.
        let fd = unsafe { libbpf_sys::bpf_map__fd(m.as_ptr()) };
        if fd < 0 {
            Err(err(format!("map {name} has no file descriptor"), fd))
        } else {
            Ok(fd)
        }
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        // SAFETY: the object is owned by self and closed exactly once.
        unsafe { libbpf_sys::bpf_object__close(self.obj.as_ptr()) }
    }
}

/// A program of a loaded object.
pub struct Program<'a> {
    prog: NonNull<libbpf_sys::bpf_program>,
    _obj: &'a Object,
}

fn link(what: String, l: *mut libbpf_sys::bpf_link) -> Result<Link, SysError> {
    match NonNull::new(l) {
        Some(link) => Ok(Link { link }),
        None => Err(err(what, last_errno())),
    }
}

impl Program<'_> {
    pub fn fd(&self) -> c_int {
        // SAFETY: the program belongs to a live object.
        unsafe { libbpf_sys::bpf_program__fd(self.prog.as_ptr()) }
    }

    /// Runs the program once with an empty context (BEGIN/END probes).
    pub fn test_run(&self) -> Result<(), SysError> {
        // SAFETY: zeroed opts are the documented default; `sz` is set.
        let mut opts: libbpf_sys::bpf_test_run_opts = unsafe { std::mem::zeroed() };
        opts.sz = std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as _;
        // SAFETY: `opts` is valid for the call and references no buffers.
        let rc = unsafe { libbpf_sys::bpf_prog_test_run_opts(self.fd(), &mut opts) };
        if rc < 0 {
            Err(err("cannot run the BEGIN/END program", last_errno()))
        } else {
            Ok(())
        }
    }

    pub fn attach_tracepoint(&self, category: &str, name: &str) -> Result<Link, SysError> {
        let (c, n) = (cstring(category)?, cstring(name)?);
        // SAFETY: valid program and NUL-terminated names for the duration of the call.
        let l = unsafe {
            libbpf_sys::bpf_program__attach_tracepoint(self.prog.as_ptr(), c.as_ptr(), n.as_ptr())
        };
        link(format!("cannot attach to tracepoint {category}:{name}"), l)
    }

    pub fn attach_raw_tracepoint(&self, name: &str) -> Result<Link, SysError> {
        let n = cstring(name)?;
        // SAFETY: as above.
        let l = unsafe {
            libbpf_sys::bpf_program__attach_raw_tracepoint(self.prog.as_ptr(), n.as_ptr())
        };
        link(format!("cannot attach to raw tracepoint {name}"), l)
    }

    pub fn attach_kprobe(&self, ret: bool, symbol: &str, offset: u64) -> Result<Link, SysError> {
        let s = cstring(symbol)?;
        // SAFETY: zeroed opts are the documented default; `sz` is set.
        let mut opts: libbpf_sys::bpf_kprobe_opts = unsafe { std::mem::zeroed() };
        opts.sz = std::mem::size_of::<libbpf_sys::bpf_kprobe_opts>() as _;
        opts.retprobe = ret;
        opts.offset = offset as _;
        // SAFETY: valid program, name and opts for the duration of the call.
        let l = unsafe {
            libbpf_sys::bpf_program__attach_kprobe_opts(self.prog.as_ptr(), s.as_ptr(), &opts)
        };
        link(
            format!(
                "cannot attach {} to {symbol}",
                if ret { "kretprobe" } else { "kprobe" }
            ),
            l,
        )
    }

    /// One kprobe_multi link for all `symbols`.
    pub fn attach_kprobe_multi(&self, ret: bool, symbols: &[&str]) -> Result<Link, SysError> {
        let names: Vec<CString> = symbols
            .iter()
            .map(|s| cstring(s))
            .collect::<Result<_, _>>()?;
        let mut ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        // SAFETY: zeroed opts are the documented default; `sz` is set.
        let mut opts: libbpf_sys::bpf_kprobe_multi_opts = unsafe { std::mem::zeroed() };
        opts.sz = std::mem::size_of::<libbpf_sys::bpf_kprobe_multi_opts>() as _;
        opts.syms = ptrs.as_mut_ptr();
        opts.cnt = ptrs.len() as _;
        opts.retprobe = ret;
        // SAFETY: `names` and `ptrs` outlive the call; libbpf copies what the link keeps.
        let l = unsafe {
            libbpf_sys::bpf_program__attach_kprobe_multi_opts(
                self.prog.as_ptr(),
                std::ptr::null(),
                &opts,
            )
        };
        link(
            format!(
                "cannot attach a kprobe_multi link to {} functions",
                symbols.len()
            ),
            l,
        )
    }

    pub fn attach_uprobe(
        &self,
        ret: bool,
        pid: i32,
        path: &str,
        offset: u64,
        ref_ctr: u64,
    ) -> Result<Link, SysError> {
        let p = cstring(path)?;
        // SAFETY: zeroed opts are the documented default; `sz` is set.
        let mut opts: libbpf_sys::bpf_uprobe_opts = unsafe { std::mem::zeroed() };
        opts.sz = std::mem::size_of::<libbpf_sys::bpf_uprobe_opts>() as _;
        opts.retprobe = ret;
        opts.ref_ctr_offset = ref_ctr as _;
        // SAFETY: valid program, path and opts for the duration of the call.
        let l = unsafe {
            libbpf_sys::bpf_program__attach_uprobe_opts(
                self.prog.as_ptr(),
                pid,
                p.as_ptr(),
                offset as _,
                &opts,
            )
        };
        link(
            format!("cannot attach uprobe to {path} at offset {offset:#x}"),
            l,
        )
    }

    /// Attaches an fentry/fexit program to the function named in its section.
    pub fn attach_trace(&self) -> Result<Link, SysError> {
        // SAFETY: valid program; the target was resolved by libbpf at load time.
        let l = unsafe { libbpf_sys::bpf_program__attach_trace(self.prog.as_ptr()) };
        link("cannot attach fentry/fexit program".into(), l)
    }

    /// Opens a perf event and attaches the program to it; the link owns the event fd.
    pub fn attach_perf_event(&self, attr: &PerfEventAttr, cpu: i32) -> Result<Link, SysError> {
        let fd = perf_event_open(attr, -1, cpu)?;
        // SAFETY: `fd` is a perf event we just opened; libbpf takes ownership on success.
        let l = unsafe { libbpf_sys::bpf_program__attach_perf_event(self.prog.as_ptr(), fd) };
        if l.is_null() {
            let e = last_errno();
            // SAFETY: the fd is ours and unused after this point.
            unsafe { libc::close(fd) };
            return Err(err("cannot attach to a perf event", e));
        }
        link("perf event".into(), l)
    }
}

/// An attachment; dropping it detaches.
pub struct Link {
    link: NonNull<libbpf_sys::bpf_link>,
}

impl Drop for Link {
    fn drop(&mut self) {
        // SAFETY: the link is owned by self and destroyed exactly once.
        unsafe {
            libbpf_sys::bpf_link__destroy(self.link.as_ptr());
        }
    }
}

/// The subset of `struct perf_event_attr` rbt sets.
pub struct PerfEventAttr {
    pub type_: u32,
    pub config: u64,
    /// Sample period, or frequency when `freq` is set.
    pub sample: u64,
    pub freq: bool,
}

/// `PERF_FLAG_FD_CLOEXEC` from linux/perf_event.h (not exported by the libc crate).
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;

fn perf_event_open(attr: &PerfEventAttr, pid: i32, cpu: i32) -> Result<c_int, SysError> {
    // SAFETY: perf_event_attr is a plain C struct; zero is the default for every field.
    let mut a: libbpf_sys::perf_event_attr = unsafe { std::mem::zeroed() };
    a.type_ = attr.type_;
    a.size = std::mem::size_of::<libbpf_sys::perf_event_attr>() as u32;
    a.config = attr.config;
    a.__bindgen_anon_1.sample_period = attr.sample;
    if attr.freq {
        a.set_freq(1);
    }
    // SAFETY: a valid attr pointer for the syscall; the returned fd is owned by the caller.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &a as *const _,
            pid,
            cpu,
            -1 as c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        Err(err(
            format!(
                "perf_event_open (type {}, config {}) on CPU {cpu}",
                attr.type_, attr.config
            ),
            last_errno(),
        ))
    } else {
        Ok(fd as c_int)
    }
}

/// Raw map access by fd, for reading maps at exit and writing the start time.
pub mod map {
    use super::*;

    pub fn update(fd: c_int, key: &[u8], value: &[u8]) -> Result<(), SysError> {
        // SAFETY: key and value buffers are the sizes the map was created with (the caller
        // builds them from the manifest) and valid for the call.
        let rc = unsafe {
            libbpf_sys::bpf_map_update_elem(
                fd,
                key.as_ptr() as *const c_void,
                value.as_ptr() as *const c_void,
                0,
            )
        };
        if rc < 0 {
            Err(err("cannot update a map", last_errno()))
        } else {
            Ok(())
        }
    }

    /// Looks `key` up into `value`; `Ok(false)` when absent.
    pub fn lookup(fd: c_int, key: &[u8], value: &mut [u8]) -> Result<bool, SysError> {
        // SAFETY: as in `update`; `value` is large enough for every CPU's slot of per-CPU
        // maps (the caller sizes it with the number of possible CPUs).
        let rc = unsafe {
            libbpf_sys::bpf_map_lookup_elem(
                fd,
                key.as_ptr() as *const c_void,
                value.as_mut_ptr() as *mut c_void,
            )
        };
        if rc == 0 {
            Ok(true)
        } else if last_errno() == libc::ENOENT {
            Ok(false)
        } else {
            Err(err("cannot read a map", last_errno()))
        }
    }

    /// The key after `key` (the first key when `key` is `None`); `None` at the end.
    pub fn next_key(fd: c_int, key: Option<&[u8]>, next: &mut [u8]) -> Result<bool, SysError> {
        let kp = key.map_or(std::ptr::null(), |k| k.as_ptr() as *const c_void);
        // SAFETY: `next` has the map's key size; `kp` is null or a key of that size.
        let rc =
            unsafe { libbpf_sys::bpf_map_get_next_key(fd, kp, next.as_mut_ptr() as *mut c_void) };
        if rc == 0 {
            Ok(true)
        } else if last_errno() == libc::ENOENT {
            Ok(false)
        } else {
            Err(err("cannot iterate a map", last_errno()))
        }
    }

    pub fn delete(fd: c_int, key: &[u8]) -> Result<(), SysError> {
        // SAFETY: as in `update`.
        let rc = unsafe { libbpf_sys::bpf_map_delete_elem(fd, key.as_ptr() as *const c_void) };
        if rc < 0 && last_errno() != libc::ENOENT {
            Err(err("cannot delete from a map", last_errno()))
        } else {
            Ok(())
        }
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

/// What the ring buffer hands each record to; its return value goes back to libbpf.
pub type RecordCallback = Box<dyn FnMut(&[u8]) -> i32>;

/// A ring buffer reader; the callback receives each record's bytes.
pub struct RingBuffer {
    rb: NonNull<libbpf_sys::ring_buffer>,
    _callback: Box<RecordCallback>,
}

unsafe extern "C" fn ring_callback(
    ctx: *mut c_void,
    data: *mut c_void,
    size: libbpf_sys::size_t,
) -> c_int {
    // SAFETY: `ctx` is the boxed closure registered in RingBuffer::new, alive as long as the
    // ring buffer; libbpf passes a record of `size` readable bytes.
    let cb = unsafe { &mut *(ctx as *mut RecordCallback) };
    let bytes = unsafe { std::slice::from_raw_parts(data as *const u8, size as usize) };
    cb(bytes)
}

impl RingBuffer {
    pub fn new(map_fd: c_int, callback: RecordCallback) -> Result<RingBuffer, SysError> {
        let mut cb = Box::new(callback);
        let ctx = &mut *cb as *mut RecordCallback as *mut c_void;
        // SAFETY: `ctx` points into a heap box owned by the returned RingBuffer, which frees
        // the libbpf ring buffer before the box in Drop.
        let rb = unsafe {
            libbpf_sys::ring_buffer__new(map_fd, Some(ring_callback), ctx, std::ptr::null())
        };
        match NonNull::new(rb) {
            Some(rb) => Ok(RingBuffer { rb, _callback: cb }),
            None => Err(err("cannot open the event ring buffer", last_errno())),
        }
    }

    /// Handles every record already in the buffer without waiting.
    pub fn consume(&mut self) -> Result<i32, SysError> {
        // SAFETY: the ring buffer is owned by self.
        let n = unsafe { libbpf_sys::ring_buffer__consume(self.rb.as_ptr()) };
        if n < 0 {
            Err(err("reading events failed", -n))
        } else {
            Ok(n)
        }
    }

    pub fn epoll_fd(&self) -> c_int {
        // SAFETY: the ring buffer is owned by self.
        unsafe { libbpf_sys::ring_buffer__epoll_fd(self.rb.as_ptr()) }
    }
}

impl Drop for RingBuffer {
    fn drop(&mut self) {
        // SAFETY: owned by self, freed exactly once, before the callback box is dropped.
        unsafe { libbpf_sys::ring_buffer__free(self.rb.as_ptr()) }
    }
}

/// A `-c` command: forked before compiling (so `cpid` is known) and held before `exec` until
/// [`GatedChild::release`], so it cannot run past events before the probes are attached.
/// Dropped without being released (rbt failed), the child is killed instead of running.
pub struct GatedChild {
    pub pid: u32,
    gate: Option<std::fs::File>,
    child: std::process::Child,
}

impl GatedChild {
    pub fn spawn(cmd: &str) -> std::io::Result<GatedChild> {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let (reader, writer) = std::io::pipe()?;
        let (rfd, wfd) = (reader.as_raw_fd(), writer.as_raw_fd());
        // The shell waits on the gate (fd 3) and execs the command once rbt writes to it;
        // at EOF (rbt died first) `read` fails and the command never runs. Waiting in the
        // shell rather than before exec matters: spawn() itself waits for the exec.
        let mut command = std::process::Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(format!("read -r _ <&3 && exec {cmd}"));
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

impl Drop for GatedChild {
    fn drop(&mut self) {
        if self.gate.is_some() {
            // Never released: rbt failed before tracing, so the command must not run.
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

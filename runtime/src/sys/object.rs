//! A BPF object from ELF bytes to loaded programs, and attaching those programs: each attach
//! point type is one method returning a [`Link`] that detaches on drop.

use super::map::MapHandle;
use super::{cstring, err, last_errno, SysError, VerifierLog};
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::raw::{c_char, c_int, c_void};
use std::ptr::NonNull;

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

    /// Sets a map's size before the object is loaded (the ring buffer's `perf_rb_pages`).
    pub fn set_max_entries(&mut self, name: &str, entries: u32) -> Result<(), SysError> {
        let cname = cstring(name)?;
        // SAFETY: lookup by name in the object's own tables.
        let m =
            unsafe { libbpf_sys::bpf_object__find_map_by_name(self.obj.as_ptr(), cname.as_ptr()) };
        let m = NonNull::new(m)
            .ok_or_else(|| err(format!("map {name} missing from the object"), libc::ENOENT))?;
        // SAFETY: `m` is a map of this open, not yet loaded object.
        let rc = unsafe { libbpf_sys::bpf_map__set_max_entries(m.as_ptr(), entries) };
        if rc != 0 {
            return Err(err(
                format!("cannot size map {name} to {entries}"),
                rc.abs(),
            ));
        }
        Ok(())
    }

    /// Sets the contents a global-data map (`.rodata`) is created with, before the object
    /// is loaded; `bytes` must be the map's value size.
    pub fn set_initial_value(&mut self, name: &str, bytes: &[u8]) -> Result<(), SysError> {
        let cname = cstring(name)?;
        // SAFETY: lookup by name in the object's own tables (internal maps answer to their
        // section name).
        let m =
            unsafe { libbpf_sys::bpf_object__find_map_by_name(self.obj.as_ptr(), cname.as_ptr()) };
        let m = NonNull::new(m)
            .ok_or_else(|| err(format!("map {name} missing from the object"), libc::ENOENT))?;
        // SAFETY: `m` is a map of this open, not yet loaded object; libbpf copies `bytes`.
        let rc = unsafe {
            libbpf_sys::bpf_map__set_initial_value(
                m.as_ptr(),
                bytes.as_ptr() as *const c_void,
                bytes.len() as _,
            )
        };
        if rc != 0 {
            return Err(err(format!("cannot set the contents of {name}"), rc.abs()));
        }
        Ok(())
    }

    /// Makes program `name` an fentry/fexit program on function `func` of the loaded BPF
    /// program `target` (which must stay open until the object is loaded).
    pub fn set_attach_target(
        &mut self,
        name: &str,
        target: BorrowedFd<'_>,
        func: &str,
    ) -> Result<(), SysError> {
        let cname = cstring(name)?;
        let cfunc = cstring(func)?;
        // SAFETY: lookup by name in the object's own tables.
        let p = unsafe {
            libbpf_sys::bpf_object__find_program_by_name(self.obj.as_ptr(), cname.as_ptr())
        };
        let p = NonNull::new(p).ok_or_else(|| {
            err(
                format!("program {name} missing from the object"),
                libc::ENOENT,
            )
        })?;
        // SAFETY: `p` is a program of this open, not yet loaded object; libbpf reads the
        // target's BTF through the descriptor and copies the function's type id.
        let rc = unsafe {
            libbpf_sys::bpf_program__set_attach_target(
                p.as_ptr(),
                target.as_raw_fd(),
                cfunc.as_ptr(),
            )
        };
        if rc != 0 {
            return Err(err(
                format!("cannot find function {func} in the BPF program to attach to"),
                rc.abs(),
            ));
        }
        Ok(())
    }

    /// Loads every program into the kernel (the verifier runs here), keeping up to
    /// `log_size` bytes of each program's verifier log. On failure the error carries the
    /// failing program's verifier log.
    pub fn load(&mut self, log_size: usize) -> Result<(), SysError> {
        for p in self.programs() {
            let mut buf = vec![0u8; log_size.max(1)].into_boxed_slice();
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
        // The kernel asks for a log only once a program is refused (libbpf loads again
        // with one), and says ENOSPC when that log overflowed the buffer.
        let what = if rc.abs() == libc::ENOSPC {
            format!(
                "the kernel refused to load the BPF program, and its verifier log did not fit \
                 in {log_size} bytes (raise `log_size` in the script's config, or \
                 BPFTRACE_LOG_SIZE, to see why)"
            )
        } else {
            "the kernel refused to load the BPF program".into()
        };
        Err(SysError {
            what,
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

    /// A handle on the map with this name (once loaded), with its own descriptor.
    pub fn map(&self, name: &str) -> Result<MapHandle, SysError> {
        let cname = cstring(name)?;
        // SAFETY: lookup by name in the object's own tables.
        let m =
            unsafe { libbpf_sys::bpf_object__find_map_by_name(self.obj.as_ptr(), cname.as_ptr()) };
        let m = NonNull::new(m)
            .ok_or_else(|| err(format!("map {name} missing from the object"), libc::ENOENT))?;
        // SAFETY: `m` is a map of this object, alive as long as self (for the calls below).
        let (fd, key_size, value_size, map_type) = unsafe {
            (
                libbpf_sys::bpf_map__fd(m.as_ptr()),
                libbpf_sys::bpf_map__key_size(m.as_ptr()),
                libbpf_sys::bpf_map__value_size(m.as_ptr()),
                libbpf_sys::bpf_map__type(m.as_ptr()),
            )
        };
        if fd < 0 {
            return Err(err(format!("map {name} has no file descriptor"), fd));
        }
        // SAFETY: the object owns this open descriptor until it closes, after this call.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let own = borrowed.try_clone_to_owned().map_err(|e| {
            err(
                format!("cannot duplicate map {name}'s descriptor"),
                e.raw_os_error().unwrap_or(libc::EMFILE),
            )
        })?;
        MapHandle::new(name, own, key_size, value_size, map_type)
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
    /// Runs the program once (BPF_PROG_TEST_RUN) and returns what it returned.
    pub fn test_run(&self) -> Result<u32, SysError> {
        // SAFETY: zeroed opts are the documented default; `sz` is set.
        let mut opts: libbpf_sys::bpf_test_run_opts = unsafe { std::mem::zeroed() };
        opts.sz = std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as _;
        // SAFETY: `opts` is valid for the call and references no buffers.
        let rc = unsafe { libbpf_sys::bpf_prog_test_run_opts(self.fd(), &mut opts) };
        if rc < 0 {
            Err(err("cannot run the BEGIN/END program", last_errno()))
        } else {
            Ok(opts.retval)
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

    /// A kprobe (or kretprobe) at `offset` of `symbol`, with the attach cookie `cookie`.
    pub fn attach_kprobe(
        &self,
        ret: bool,
        symbol: &str,
        offset: u64,
        cookie: u64,
    ) -> Result<Link, SysError> {
        let s = cstring(symbol)?;
        // SAFETY: zeroed opts are the documented default; `sz` is set.
        let mut opts: libbpf_sys::bpf_kprobe_opts = unsafe { std::mem::zeroed() };
        opts.sz = std::mem::size_of::<libbpf_sys::bpf_kprobe_opts>() as _;
        opts.retprobe = ret;
        opts.offset = offset as _;
        opts.bpf_cookie = cookie;
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

    /// One kprobe_multi link for all `symbols`, each with its attach cookie (the kernel
    /// keeps each cookie with its symbol when it sorts them by address).
    pub fn attach_kprobe_multi(
        &self,
        ret: bool,
        symbols: &[(&str, u64)],
    ) -> Result<Link, SysError> {
        let names: Vec<CString> = symbols
            .iter()
            .map(|(s, _)| cstring(s))
            .collect::<Result<_, _>>()?;
        let mut ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        let cookies: Vec<u64> = symbols.iter().map(|(_, c)| *c).collect();
        // SAFETY: zeroed opts are the documented default; `sz` is set.
        let mut opts: libbpf_sys::bpf_kprobe_multi_opts = unsafe { std::mem::zeroed() };
        opts.sz = std::mem::size_of::<libbpf_sys::bpf_kprobe_multi_opts>() as _;
        opts.syms = ptrs.as_mut_ptr();
        opts.cookies = cookies.as_ptr();
        opts.cnt = ptrs.len() as _;
        opts.retprobe = ret;
        // SAFETY: `names`, `ptrs` and `cookies` outlive the call; libbpf copies what the
        // link keeps.
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

    /// A uprobe at file `offset` of `path` in process `pid` (-1: every process), with the
    /// USDT semaphore at `ref_ctr` (0: none) and the attach cookie `cookie`.
    pub fn attach_uprobe(
        &self,
        ret: bool,
        pid: i32,
        path: &str,
        offset: u64,
        ref_ctr: u64,
        cookie: u64,
    ) -> Result<Link, SysError> {
        let p = cstring(path)?;
        // SAFETY: zeroed opts are the documented default; `sz` is set.
        let mut opts: libbpf_sys::bpf_uprobe_opts = unsafe { std::mem::zeroed() };
        opts.sz = std::mem::size_of::<libbpf_sys::bpf_uprobe_opts>() as _;
        opts.retprobe = ret;
        opts.ref_ctr_offset = ref_ctr as _;
        opts.bpf_cookie = cookie;
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

    /// One uprobe_multi link for every (file offset, attach cookie) of `spots` in the
    /// binary at `path`, in process `pid` (-1: every process). The program must have been
    /// loaded as uprobe_multi.
    pub fn attach_uprobe_multi(
        &self,
        ret: bool,
        pid: i32,
        path: &str,
        spots: &[(u64, u64)],
    ) -> Result<Link, SysError> {
        let p = cstring(path)?;
        let offsets: Vec<std::os::raw::c_ulong> = spots.iter().map(|s| s.0 as _).collect();
        let cookies: Vec<u64> = spots.iter().map(|s| s.1).collect();
        // SAFETY: zeroed opts are the documented default; `sz` is set.
        let mut opts: libbpf_sys::bpf_uprobe_multi_opts = unsafe { std::mem::zeroed() };
        opts.sz = std::mem::size_of::<libbpf_sys::bpf_uprobe_multi_opts>() as _;
        opts.offsets = offsets.as_ptr();
        opts.cookies = cookies.as_ptr();
        opts.cnt = offsets.len() as _;
        opts.retprobe = ret;
        // SAFETY: `p`, `offsets` and `cookies` outlive the call, which copies them into the
        // kernel; a null pattern means the offsets are given.
        let l = unsafe {
            libbpf_sys::bpf_program__attach_uprobe_multi(
                self.prog.as_ptr(),
                pid,
                p.as_ptr(),
                std::ptr::null(),
                &opts,
            )
        };
        link(
            format!(
                "cannot attach a uprobe_multi link to {} functions of {path}",
                offsets.len()
            ),
            l,
        )
    }

    /// Attaches an fentry/fexit program to the function named in its section, or a
    /// BTF-typed raw tracepoint program (`tp_btf`) to the event named there.
    pub fn attach_trace(&self) -> Result<Link, SysError> {
        // SAFETY: valid program; the target was resolved by libbpf at load time.
        let l = unsafe { libbpf_sys::bpf_program__attach_trace(self.prog.as_ptr()) };
        // SAFETY: valid program; libbpf returns its section's name, a string the object
        // owns (null-checked), which is copied before the object can go.
        let section = unsafe {
            let name = libbpf_sys::bpf_program__section_name(self.prog.as_ptr());
            (!name.is_null()).then(|| {
                std::ffi::CStr::from_ptr(name)
                    .to_string_lossy()
                    .into_owned()
            })
        };
        link(format!("cannot attach {}", section.unwrap_or_default()), l)
    }

    /// Attaches an iterator program (`iter/task`) to the iterator named in its section; the
    /// iteration runs when [`Link::run_iterator`] reads it.
    pub fn attach_iter(&self) -> Result<Link, SysError> {
        // SAFETY: valid program; no options means the iterator's defaults (every object).
        let l =
            unsafe { libbpf_sys::bpf_program__attach_iter(self.prog.as_ptr(), std::ptr::null()) };
        link("cannot attach iterator program".into(), l)
    }

    /// Opens a perf event and attaches the program to it; the link owns the event fd.
    pub fn attach_perf_event(&self, attr: &PerfEventAttr, cpu: i32) -> Result<Link, SysError> {
        self.attach_perf_event_on(attr, -1, cpu)
    }

    /// Like [`Program::attach_perf_event`], counting only in thread `pid` (any CPU when
    /// `cpu` is -1) or, with `pid` -1, every thread on `cpu`.
    pub fn attach_perf_event_on(
        &self,
        attr: &PerfEventAttr,
        pid: i32,
        cpu: i32,
    ) -> Result<Link, SysError> {
        let fd = perf_event_open(attr, pid, cpu)?;
        // SAFETY: `fd` is a perf event we opened and still own (closed on drop on failure).
        let l = unsafe {
            libbpf_sys::bpf_program__attach_perf_event(self.prog.as_ptr(), fd.as_raw_fd())
        };
        if l.is_null() {
            return Err(err("cannot attach to a perf event", last_errno()));
        }
        // The link closes the event's descriptor when it is destroyed.
        let _ = fd.into_raw_fd();
        link("perf event".into(), l)
    }
}

/// An attachment; dropping it detaches.
pub struct Link {
    link: NonNull<libbpf_sys::bpf_link>,
}

impl Link {
    /// Runs an iterator link's iteration once: opens its iterator file and reads it to the
    /// end. rbt's programs send their output through the ring buffer, so the file's own
    /// text (empty) is dropped.
    pub fn run_iterator(&self) -> Result<(), SysError> {
        // SAFETY: the link is live; its fd stays owned by the link.
        let link_fd = unsafe { libbpf_sys::bpf_link__fd(self.link.as_ptr()) };
        // SAFETY: plain syscall wrapper on a valid link fd.
        let fd = unsafe { libbpf_sys::bpf_iter_create(link_fd) };
        if fd < 0 {
            return Err(err("cannot create the iterator", last_errno()));
        }
        // SAFETY: `fd` was just returned to us and nothing else owns it.
        let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let mut buf = vec![0u8; 4096];
        loop {
            use std::io::Read;
            match file.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(err(
                        "cannot read the iterator",
                        e.raw_os_error().unwrap_or(libc::EIO),
                    ))
                }
            }
        }
    }
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
    /// For `PERF_TYPE_BREAKPOINT`: the `HW_BREAKPOINT_*` kind, address and length.
    pub breakpoint: Option<Breakpoint>,
    /// Whether threads the watched thread creates later are watched too.
    pub inherit: bool,
}

/// A hardware breakpoint's part of `struct perf_event_attr`.
#[derive(Debug, Clone, Copy)]
pub struct Breakpoint {
    pub access: u32,
    pub addr: u64,
    pub len: u64,
}

/// `PERF_FLAG_FD_CLOEXEC` from linux/perf_event.h (not exported by the libc crate).
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;

fn perf_event_open(attr: &PerfEventAttr, pid: i32, cpu: i32) -> Result<OwnedFd, SysError> {
    // SAFETY: perf_event_attr is a plain C struct; zero is the default for every field.
    let mut a: libbpf_sys::perf_event_attr = unsafe { std::mem::zeroed() };
    a.type_ = attr.type_;
    a.size = std::mem::size_of::<libbpf_sys::perf_event_attr>() as u32;
    a.config = attr.config;
    a.__bindgen_anon_1.sample_period = attr.sample;
    if attr.freq {
        a.set_freq(1);
    }
    if attr.inherit {
        a.set_inherit(1);
    }
    if let Some(bp) = attr.breakpoint {
        a.bp_type = bp.access;
        a.__bindgen_anon_3.bp_addr = bp.addr;
        a.__bindgen_anon_4.bp_len = bp.len;
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
                "perf_event_open (type {}, config {}) on {}",
                attr.type_,
                attr.config,
                if pid >= 0 {
                    format!("thread {pid}")
                } else {
                    format!("CPU {cpu}")
                }
            ),
            last_errno(),
        ))
    } else {
        // SAFETY: a successful perf_event_open returns a new descriptor nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as c_int) })
    }
}

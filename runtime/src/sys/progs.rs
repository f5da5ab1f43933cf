//! The BPF programs already loaded in the kernel, which `fentry:bpf:…` probes attach to:
//! walking their ids, opening one by id, naming its functions (the main function and its
//! subprograms) from the program's BTF func info, and reading that BTF, which types their
//! arguments.

use super::{err, SysError};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A loaded program that fentry/fexit can attach to: one with BTF func info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedProgram {
    pub id: u32,
    /// Its functions as its BTF names them, the main function first.
    pub functions: Vec<String>,
}

/// Opens the loaded program with this id.
pub fn program_fd(id: u32) -> Result<OwnedFd, SysError> {
    // SAFETY: plain syscall wrapper; returns a new descriptor or a negative error.
    let fd = unsafe { libbpf_sys::bpf_prog_get_fd_by_id(id) };
    if fd < 0 {
        return Err(err(
            format!("cannot open the loaded BPF program {id}"),
            fd.abs(),
        ));
    }
    // SAFETY: `fd` was just returned by BPF_PROG_GET_FD_BY_ID, so it is open and ours.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Every loaded program with BTF func info, by id. Programs that go away while they are
/// walked, and programs without BTF (which fentry cannot attach to), are left out; an
/// error means the kernel would not let rbt walk the programs at all.
pub fn loaded_programs() -> Result<Vec<LoadedProgram>, SysError> {
    let mut out = Vec::new();
    let mut id = 0u32;
    loop {
        let mut next = 0u32;
        // SAFETY: `next` is a valid u32 the call writes the following id to.
        let rc = unsafe { libbpf_sys::bpf_prog_get_next_id(id, &mut next) };
        if rc != 0 {
            let errno = rc.abs();
            if errno == libc::ENOENT {
                return Ok(out);
            }
            return Err(err("cannot walk the loaded BPF programs", errno));
        }
        id = next;
        let Ok(fd) = program_fd(id) else { continue };
        let functions = functions(&fd);
        if !functions.is_empty() {
            out.push(LoadedProgram { id, functions });
        }
    }
}

/// The program's info: its BTF object's id and how many func info records it has.
fn info(fd: &OwnedFd) -> Option<libbpf_sys::bpf_prog_info> {
    // SAFETY: bpf_prog_info is a plain C struct for which all-zero asks for nothing extra.
    let mut info: libbpf_sys::bpf_prog_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: `info` is `len` bytes owned by this frame.
    let rc = unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len) };
    (rc == 0).then_some(info)
}

/// The raw BTF of the loaded program with this id (its own types and functions); `None`
/// when it is gone or has no BTF.
pub fn program_btf(id: u32) -> Option<Vec<u8>> {
    let info = info(&program_fd(id).ok()?)?;
    if info.btf_id == 0 {
        return None;
    }
    // SAFETY: plain call; returns an owned BTF object or NULL.
    let btf = unsafe { libbpf_sys::btf__load_from_kernel_by_id(info.btf_id) };
    if btf.is_null() {
        return None;
    }
    let mut size = 0u32;
    // SAFETY: `btf` is live; the call returns its raw data (owned by `btf`) and its size.
    let data = unsafe { libbpf_sys::btf__raw_data(btf, &mut size) };
    let bytes = (!data.is_null()).then(|| {
        // SAFETY: `data` points at `size` bytes owned by `btf`, copied before it is freed.
        unsafe { std::slice::from_raw_parts(data as *const u8, size as usize) }.to_vec()
    });
    // SAFETY: `btf` came from btf__load_from_kernel_by_id and is freed exactly once.
    unsafe { libbpf_sys::btf__free(btf) };
    bytes
}

/// The names of a program's functions from its func info and BTF; none when it has no BTF.
fn functions(fd: &OwnedFd) -> Vec<String> {
    let Some(info) = info(fd) else {
        return Vec::new();
    };
    if info.btf_id == 0 || info.nr_func_info == 0 {
        return Vec::new();
    }
    let count = info.nr_func_info;
    let mut records = vec![
        libbpf_sys::bpf_func_info {
            insn_off: 0,
            type_id: 0,
        };
        count as usize
    ];
    // SAFETY: as above; all-zero, then only the func info array is asked for.
    let mut again: libbpf_sys::bpf_prog_info = unsafe { std::mem::zeroed() };
    again.nr_func_info = count;
    again.func_info_rec_size = std::mem::size_of::<libbpf_sys::bpf_func_info>() as u32;
    again.func_info = records.as_mut_ptr() as u64;
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: `func_info` points at `count` records of the size given, owned by this frame;
    // the kernel writes at most `nr_func_info` of them.
    let rc = unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut again, &mut len) };
    if rc != 0 {
        return Vec::new();
    }
    records.truncate(again.nr_func_info.min(count) as usize);
    // SAFETY: plain call; returns an owned BTF object or NULL.
    let btf = unsafe { libbpf_sys::btf__load_from_kernel_by_id(info.btf_id) };
    if btf.is_null() {
        return Vec::new();
    }
    let names = records
        .iter()
        .filter_map(|r| {
            // SAFETY: `btf` is live until freed below; an id it lacks returns NULL.
            let t = unsafe { libbpf_sys::btf__type_by_id(btf, r.type_id) };
            if t.is_null() {
                return None;
            }
            // SAFETY: `t` points into `btf`; the name is NUL-terminated BTF string data,
            // copied before `btf` is freed.
            let name = unsafe { libbpf_sys::btf__name_by_offset(btf, (*t).name_off) };
            if name.is_null() {
                return None;
            }
            // SAFETY: as above.
            let name = unsafe { CStr::from_ptr(name) }
                .to_string_lossy()
                .into_owned();
            (!name.is_empty()).then_some(name)
        })
        .collect();
    // SAFETY: `btf` came from btf__load_from_kernel_by_id and is freed exactly once.
    unsafe { libbpf_sys::btf__free(btf) };
    names
}

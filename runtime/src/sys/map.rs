//! Raw map access by fd, for reading maps at exit and writing the start time.

use super::{err, last_errno, SysError};
use std::os::raw::{c_int, c_void};

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

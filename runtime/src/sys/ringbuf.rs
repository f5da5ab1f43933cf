//! The BPF ring buffer reader: libbpf's `ring_buffer` with a Rust closure per record.

use super::map::MapHandle;
use super::{err, last_errno, SysError};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::raw::{c_int, c_void};
use std::ptr::NonNull;

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
    pub fn new(map: &MapHandle, callback: RecordCallback) -> Result<RingBuffer, SysError> {
        let mut cb = Box::new(callback);
        let ctx = &mut *cb as *mut RecordCallback as *mut c_void;
        // SAFETY: `ctx` points into a heap box owned by the returned RingBuffer, which frees
        // the libbpf ring buffer before the box in Drop. The map's descriptor is open for the
        // call; afterwards libbpf uses only its memory mapping of the buffer and its epoll
        // registration, which the object's own descriptor of the map keeps alive.
        let rb = unsafe {
            libbpf_sys::ring_buffer__new(
                map.as_fd().as_raw_fd(),
                Some(ring_callback),
                ctx,
                std::ptr::null(),
            )
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

    /// Handles at most `n` of the records already in the buffer without waiting; returns how
    /// many it handled.
    pub fn consume_n(&mut self, n: usize) -> Result<usize, SysError> {
        // SAFETY: the ring buffer is owned by self.
        let got = unsafe { libbpf_sys::ring_buffer__consume_n(self.rb.as_ptr(), n as _) };
        usize::try_from(got).map_err(|_| err("reading events failed", -got))
    }

    /// The epoll descriptor libbpf waits on, readable when records arrive.
    pub fn epoll_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the ring buffer is owned by self.
        let fd = unsafe { libbpf_sys::ring_buffer__epoll_fd(self.rb.as_ptr()) };
        // SAFETY: libbpf creates this descriptor with the ring buffer and closes it only in
        // ring_buffer__free (our Drop), so it stays open for the borrow of self.
        unsafe { BorrowedFd::borrow_raw(fd) }
    }
}

impl Drop for RingBuffer {
    fn drop(&mut self) {
        // SAFETY: owned by self, freed exactly once, before the callback box is dropped.
        unsafe { libbpf_sys::ring_buffer__free(self.rb.as_ptr()) }
    }
}

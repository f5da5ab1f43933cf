//! The perf event buffer reader: libbpf's `perf_buffer` over a perf event array, one
//! buffer per CPU, with Rust closures for each sample and for lost samples. Only
//! `skboutput()` uses one: `bpf_skb_output` writes to perf buffers, not to the ring buffer.

use super::map::MapHandle;
use super::{err, last_errno, SysError};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::raw::{c_int, c_void};
use std::ptr::NonNull;

/// What the reader hands each sample's bytes to.
pub type SampleCallback = Box<dyn FnMut(&[u8])>;

/// What the reader tells of samples the kernel dropped because a CPU's buffer was full.
pub type LostCallback = Box<dyn FnMut(u64)>;

/// Both callbacks, behind the one context pointer libbpf passes back.
struct Callbacks {
    sample: SampleCallback,
    lost: LostCallback,
}

/// A perf event buffer reader.
pub struct PerfBuffer {
    pb: NonNull<libbpf_sys::perf_buffer>,
    _callbacks: Box<Callbacks>,
}

unsafe extern "C" fn sample_callback(ctx: *mut c_void, _cpu: c_int, data: *mut c_void, size: u32) {
    // SAFETY: `ctx` is the boxed callbacks registered in PerfBuffer::new, alive as long as
    // the reader; libbpf passes a sample of `size` readable bytes.
    let cbs = unsafe { &mut *(ctx as *mut Callbacks) };
    let bytes = unsafe { std::slice::from_raw_parts(data as *const u8, size as usize) };
    (cbs.sample)(bytes);
}

unsafe extern "C" fn lost_callback(ctx: *mut c_void, _cpu: c_int, count: u64) {
    // SAFETY: as in `sample_callback`.
    let cbs = unsafe { &mut *(ctx as *mut Callbacks) };
    (cbs.lost)(count);
}

impl PerfBuffer {
    /// A reader of the perf event array `map` with buffers of `pages` pages (a power of
    /// two) on each CPU.
    pub fn new(
        map: &MapHandle,
        pages: usize,
        sample: SampleCallback,
        lost: LostCallback,
    ) -> Result<PerfBuffer, SysError> {
        let mut cbs = Box::new(Callbacks { sample, lost });
        let ctx = &mut *cbs as *mut Callbacks as *mut c_void;
        // SAFETY: `ctx` points into a heap box owned by the returned PerfBuffer, which frees
        // the libbpf reader before the box in Drop. The map's descriptor is open for the
        // call; libbpf opens a perf event per CPU, stores it in the map and maps its buffer.
        let pb = unsafe {
            libbpf_sys::perf_buffer__new(
                map.as_fd().as_raw_fd(),
                pages as libbpf_sys::size_t,
                Some(sample_callback),
                Some(lost_callback),
                ctx,
                std::ptr::null(),
            )
        };
        match NonNull::new(pb) {
            Some(pb) => Ok(PerfBuffer {
                pb,
                _callbacks: cbs,
            }),
            None => Err(err("cannot open the skboutput perf buffers", last_errno())),
        }
    }

    /// Handles every sample already in the buffers without waiting.
    pub fn consume(&mut self) -> Result<(), SysError> {
        // SAFETY: the reader is owned by self.
        let n = unsafe { libbpf_sys::perf_buffer__consume(self.pb.as_ptr()) };
        if n < 0 {
            Err(err("reading skboutput packets failed", -n))
        } else {
            Ok(())
        }
    }

    /// The epoll descriptor libbpf waits on, readable when samples arrive.
    pub fn epoll_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the reader is owned by self.
        let fd = unsafe { libbpf_sys::perf_buffer__epoll_fd(self.pb.as_ptr()) };
        // SAFETY: libbpf creates this descriptor with the reader and closes it only in
        // perf_buffer__free (our Drop), so it stays open for the borrow of self.
        unsafe { BorrowedFd::borrow_raw(fd) }
    }
}

impl Drop for PerfBuffer {
    fn drop(&mut self) {
        // SAFETY: owned by self, freed exactly once, before the callbacks are dropped.
        unsafe { libbpf_sys::perf_buffer__free(self.pb.as_ptr()) }
    }
}

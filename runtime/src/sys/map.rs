//! Handles on the maps of a loaded object. A [`MapHandle`] knows its map's key size, value
//! size and per-CPU-ness (from libbpf) and checks every buffer it is given against them
//! before calling into libbpf, so a caller's mistake is an error, never memory corruption.

use super::{err, last_errno, SysError};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::raw::c_void;

/// One map of a loaded object. It holds its own duplicate of the map's descriptor, so it
/// stays valid (and the map alive) however long it is kept.
#[derive(Debug)]
pub struct MapHandle {
    name: String,
    fd: OwnedFd,
    key_size: usize,
    value_size: usize,
    /// The number of possible CPUs when the map is per-CPU (each CPU has its own value
    /// slot), `None` otherwise.
    cpus: Option<usize>,
}

/// A map's elements as read: each key's bytes and its value's (every CPU's slot, for a
/// per-CPU map).
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Whether values of this map type are per-CPU (user space reads one slot per possible CPU).
fn is_per_cpu(map_type: libbpf_sys::bpf_map_type) -> bool {
    matches!(
        map_type,
        libbpf_sys::BPF_MAP_TYPE_PERCPU_HASH
            | libbpf_sys::BPF_MAP_TYPE_PERCPU_ARRAY
            | libbpf_sys::BPF_MAP_TYPE_LRU_PERCPU_HASH
            | libbpf_sys::BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE
    )
}

impl MapHandle {
    /// Describes a map from what libbpf knows of it; `fd` is the handle's own descriptor.
    pub(super) fn new(
        name: &str,
        fd: OwnedFd,
        key_size: u32,
        value_size: u32,
        map_type: libbpf_sys::bpf_map_type,
    ) -> Result<MapHandle, SysError> {
        let cpus = if is_per_cpu(map_type) {
            Some(super::possible_cpus()?)
        } else {
            None
        };
        Ok(MapHandle {
            name: name.to_string(),
            fd,
            key_size: key_size as usize,
            value_size: value_size as usize,
            cpus,
        })
    }

    /// The number of values a lookup returns: one per possible CPU for a per-CPU map.
    pub fn value_slots(&self) -> usize {
        self.cpus.unwrap_or(1)
    }

    /// The distance between CPUs' values in a lookup buffer: the kernel rounds each per-CPU
    /// value up to 8 bytes.
    pub fn slot_size(&self) -> usize {
        match self.cpus {
            Some(_) => self.value_size.div_ceil(8) * 8,
            None => self.value_size,
        }
    }

    /// The size of the buffer [`MapHandle::lookup`] and [`MapHandle::update`] take.
    pub fn value_buffer_size(&self) -> usize {
        self.slot_size() * self.value_slots()
    }

    fn check(&self, what: &str, len: usize, want: usize) -> Result<(), SysError> {
        if len == want {
            Ok(())
        } else {
            Err(err(
                format!(
                    "map {}: {what} of {len} bytes where the map needs {want}",
                    self.name
                ),
                libc::EINVAL,
            ))
        }
    }

    fn check_key(&self, key: &[u8]) -> Result<(), SysError> {
        self.check("a key", key.len(), self.key_size)
    }

    fn check_value(&self, value: &[u8]) -> Result<(), SysError> {
        self.check("a value buffer", value.len(), self.value_buffer_size())
    }

    /// Writes `value` (every CPU's slot, for a per-CPU map) at `key`.
    pub fn update(&self, key: &[u8], value: &[u8]) -> Result<(), SysError> {
        self.check_key(key)?;
        self.check_value(value)?;
        // SAFETY: the key and value buffers have exactly the sizes the kernel reads for this
        // map (checked above) and are valid for the call; the fd is ours.
        let rc = unsafe {
            libbpf_sys::bpf_map_update_elem(
                self.fd.as_raw_fd(),
                key.as_ptr() as *const c_void,
                value.as_ptr() as *const c_void,
                0,
            )
        };
        if rc < 0 {
            Err(err(
                format!("cannot update map {}", self.name),
                last_errno(),
            ))
        } else {
            Ok(())
        }
    }

    /// Looks `key` up into `value` (sized [`MapHandle::value_buffer_size`]); `Ok(false)`
    /// when the key is absent.
    pub fn lookup(&self, key: &[u8], value: &mut [u8]) -> Result<bool, SysError> {
        self.check_key(key)?;
        self.check_value(value)?;
        // SAFETY: the key buffer has the map's key size and `value` the size the kernel
        // writes for this map, every CPU's slot included (checked above).
        let rc = unsafe {
            libbpf_sys::bpf_map_lookup_elem(
                self.fd.as_raw_fd(),
                key.as_ptr() as *const c_void,
                value.as_mut_ptr() as *mut c_void,
            )
        };
        if rc == 0 {
            Ok(true)
        } else if last_errno() == libc::ENOENT {
            Ok(false)
        } else {
            Err(err(format!("cannot read map {}", self.name), last_errno()))
        }
    }

    /// The value at `key` in a new buffer, `None` when the key is absent.
    pub fn lookup_vec(&self, key: &[u8]) -> Result<Option<Vec<u8>>, SysError> {
        let mut value = vec![0u8; self.value_buffer_size()];
        Ok(self.lookup(key, &mut value)?.then_some(value))
    }

    /// Writes the key after `key` (the first key when `key` is `None`) into `next`;
    /// `Ok(false)` at the end.
    pub fn next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<bool, SysError> {
        if let Some(k) = key {
            self.check_key(k)?;
        }
        self.check_key(next)?;
        let kp = key.map_or(std::ptr::null(), |k| k.as_ptr() as *const c_void);
        // SAFETY: `next` has the map's key size and `kp` is null or a key of that size
        // (checked above), both valid for the call.
        let rc = unsafe {
            libbpf_sys::bpf_map_get_next_key(
                self.fd.as_raw_fd(),
                kp,
                next.as_mut_ptr() as *mut c_void,
            )
        };
        if rc == 0 {
            Ok(true)
        } else if last_errno() == libc::ENOENT {
            Ok(false)
        } else {
            Err(err(
                format!("cannot iterate map {}", self.name),
                last_errno(),
            ))
        }
    }

    /// Every key of the map, in the kernel's order.
    pub fn keys(&self) -> Result<Vec<Vec<u8>>, SysError> {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut next = vec![0u8; self.key_size];
            if !self.next_key(keys.last().map(Vec::as_slice), &mut next)? {
                return Ok(keys);
            }
            keys.push(next);
        }
    }

    /// Every (key, value) of the map, read in batches of many elements per bpf(2) call
    /// (`BPF_MAP_LOOKUP_BATCH`, or `BPF_MAP_LOOKUP_AND_DELETE_BATCH` when `delete`, which
    /// empties the map as it reads it); per key, two calls an element, where the kernel has
    /// no batch operation for the map's type. Printing a map of 100,000 keys one element at
    /// a time took 200,000 system calls.
    pub fn entries(&self, delete: bool) -> Result<Entries, SysError> {
        match self.batch_entries(delete)? {
            Some(entries) => Ok(entries),
            None => {
                let mut out = Vec::new();
                for key in self.keys()? {
                    // A key deleted since it was listed is skipped.
                    if let Some(value) = self.lookup_vec(&key)? {
                        if delete {
                            self.delete(&key)?;
                        }
                        out.push((key, value));
                    }
                }
                Ok(out)
            }
        }
    }

    /// [`MapHandle::entries`] through the batch operations; `None` when the kernel has none
    /// for this map's type (before anything was read).
    fn batch_entries(&self, delete: bool) -> Result<Option<Entries>, SysError> {
        // The kernel's position between calls: a bucket number for hashes, a key for
        // arrays; at least the key's size and 8 bytes serves both.
        let token_size = self.key_size.max(8);
        let (mut token_in, mut token_out) = (vec![0u8; token_size], vec![0u8; token_size]);
        let value_size = self.value_buffer_size();
        let mut chunk: u32 = 4096;
        let mut out = Vec::new();
        let mut first = true;
        loop {
            let n = chunk as usize;
            let mut keys = vec![0u8; n * self.key_size];
            let mut values = vec![0u8; n * value_size];
            let mut count = chunk;
            let in_batch = if first {
                std::ptr::null_mut()
            } else {
                token_in.as_mut_ptr() as *mut c_void
            };
            let call = if delete {
                libbpf_sys::bpf_map_lookup_and_delete_batch
            } else {
                libbpf_sys::bpf_map_lookup_batch
            };
            // SAFETY: `keys` holds `count` keys and `values` `count` values of this map's
            // sizes (every CPU's slot included); both tokens are at least as large as the
            // kernel's position (a u32 bucket or a key); `in_batch` is null on the first
            // call; null options ask for the defaults. The kernel writes back at most
            // `count` elements and sets `count` to how many it wrote.
            let rc = unsafe {
                call(
                    self.fd.as_raw_fd(),
                    in_batch,
                    token_out.as_mut_ptr() as *mut c_void,
                    keys.as_mut_ptr() as *mut c_void,
                    values.as_mut_ptr() as *mut c_void,
                    &mut count,
                    std::ptr::null(),
                )
            };
            let errno = if rc < 0 { last_errno() } else { 0 };
            let got = (count as usize).min(n);
            if rc == 0 || errno == libc::ENOENT {
                out.extend(
                    keys.chunks_exact(self.key_size.max(1))
                        .zip(values.chunks_exact(value_size.max(1)))
                        .take(got)
                        .map(|(k, v)| (k.to_vec(), v.to_vec())),
                );
            }
            match errno {
                0 => {
                    first = false;
                    std::mem::swap(&mut token_in, &mut token_out);
                }
                // The end of the map.
                libc::ENOENT => return Ok(Some(out)),
                // A hash bucket holds more elements than asked for: ask for more.
                libc::ENOSPC if chunk < 1 << 20 => chunk *= 2,
                // No batch operation for this map type (ENOTSUPP is the kernel's 524),
                // or a kernel before 5.6.
                libc::EINVAL | libc::EOPNOTSUPP | libc::ENOSYS | 524 if first && out.is_empty() => {
                    return Ok(None);
                }
                e => {
                    return Err(err(format!("cannot read map {}", self.name), e));
                }
            }
        }
    }

    /// Removes `key`; an absent key is not an error.
    pub fn delete(&self, key: &[u8]) -> Result<(), SysError> {
        self.check_key(key)?;
        // SAFETY: the key buffer has the map's key size (checked above).
        let rc = unsafe {
            libbpf_sys::bpf_map_delete_elem(self.fd.as_raw_fd(), key.as_ptr() as *const c_void)
        };
        if rc < 0 && last_errno() != libc::ENOENT {
            Err(err(
                format!("cannot delete from map {}", self.name),
                last_errno(),
            ))
        } else {
            Ok(())
        }
    }
}

impl AsFd for MapHandle {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::FromRawFd;

    /// A new map straight from the kernel (root only), without an object around it.
    fn create(map_type: libbpf_sys::bpf_map_type, key: u32, value: u32) -> MapHandle {
        // SAFETY: a null name and null options are accepted by bpf_map_create, which returns
        // a new descriptor or a negative error.
        let fd = unsafe {
            libbpf_sys::bpf_map_create(map_type, std::ptr::null(), key, value, 4, std::ptr::null())
        };
        assert!(
            fd >= 0,
            "bpf_map_create: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: the descriptor was just created and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        MapHandle::new("test", fd, key, value, map_type).expect("handle")
    }

    #[test]
    #[ignore = "needs root"]
    fn buffers_of_the_wrong_size_are_refused() {
        let m = create(libbpf_sys::BPF_MAP_TYPE_HASH, 4, 12);
        assert_eq!(m.value_buffer_size(), 12);
        let e = m.update(&[0; 8], &[0; 12]).unwrap_err();
        assert_eq!(e.errno, libc::EINVAL);
        assert!(
            e.what.contains("a key of 8 bytes where the map needs 4"),
            "{e}"
        );
        assert!(m.update(&[0; 4], &[0; 8]).is_err());
        assert!(m.lookup(&[0; 4], &mut [0; 16]).is_err());
        assert!(m.next_key(None, &mut [0; 2]).is_err());
        assert!(m.delete(&[0; 3]).is_err());
        m.update(&1u32.to_ne_bytes(), &[7; 12]).expect("update");
        assert_eq!(
            m.lookup_vec(&1u32.to_ne_bytes()).expect("lookup"),
            Some(vec![7; 12])
        );
        assert_eq!(m.keys().expect("keys"), [1u32.to_ne_bytes().to_vec()]);
        m.delete(&1u32.to_ne_bytes()).expect("delete");
        assert_eq!(m.lookup_vec(&1u32.to_ne_bytes()).expect("lookup"), None);
    }

    #[test]
    #[ignore = "needs root"]
    fn per_cpu_values_have_a_slot_per_possible_cpu() {
        let m = create(libbpf_sys::BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4);
        let cpus = super::super::possible_cpus().expect("cpus");
        assert_eq!(m.value_slots(), cpus);
        // Each CPU's 4-byte value takes 8 bytes in user space.
        assert_eq!(m.slot_size(), 8);
        assert_eq!(m.value_buffer_size(), 8 * cpus);
        assert!(m.lookup(&0u32.to_ne_bytes(), &mut [0; 4]).is_err());
        let v = m.lookup_vec(&0u32.to_ne_bytes()).expect("lookup");
        assert_eq!(v.map(|v| v.len()), Some(8 * cpus));
    }

    #[test]
    #[ignore = "needs root"]
    fn entries_are_read_and_emptied_in_batches() {
        // More elements than one batch asks for, so the kernel's position is carried over.
        let n = 10_000u32;
        let m = {
            // SAFETY: as in `create`, with room for `n` elements.
            let fd = unsafe {
                libbpf_sys::bpf_map_create(
                    libbpf_sys::BPF_MAP_TYPE_PERCPU_HASH,
                    std::ptr::null(),
                    4,
                    8,
                    n,
                    std::ptr::null(),
                )
            };
            assert!(
                fd >= 0,
                "bpf_map_create: {}",
                std::io::Error::last_os_error()
            );
            // SAFETY: the descriptor was just created and nothing else owns it.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            MapHandle::new("test", fd, 4, 8, libbpf_sys::BPF_MAP_TYPE_PERCPU_HASH).expect("handle")
        };
        let value = |k: u32| -> Vec<u8> {
            (0..m.value_slots())
                .flat_map(|cpu| (u64::from(k) * 10 + cpu as u64).to_ne_bytes())
                .collect()
        };
        for k in 0..n {
            m.update(&k.to_ne_bytes(), &value(k)).expect("update");
        }
        let check = |mut got: Entries| {
            got.sort();
            got.dedup();
            assert_eq!(got.len(), n as usize);
            for (key, v) in got {
                let k = u32::from_ne_bytes(key.try_into().expect("4-byte key"));
                assert_eq!(v, value(k), "key {k}");
            }
        };
        check(m.entries(false).expect("read"));
        assert_eq!(
            m.keys().expect("keys").len(),
            n as usize,
            "reading keeps them"
        );
        check(m.entries(true).expect("read and delete"));
        assert!(
            m.keys().expect("keys").is_empty(),
            "reading and deleting empties it"
        );
        assert!(m.entries(false).expect("read").is_empty());
    }

    #[test]
    #[ignore = "needs root"]
    fn entries_of_a_map_without_batch_operations_are_read_per_key() {
        // The kernel has no batch operations for stack maps: the per-key path answers.
        let m = create(libbpf_sys::BPF_MAP_TYPE_STACK_TRACE, 4, 8 * 4);
        assert_eq!(m.batch_entries(false).expect("asked"), None);
        assert!(m.entries(false).expect("read").is_empty());
    }
}

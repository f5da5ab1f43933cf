//! Reading BPF maps back into user space: per-CPU slots summed, histogram buckets grouped
//! under their user key, values decoded into [`stdlib::output::MapDump`]s for printing.

use crate::sys::{MapHandle, SysError};
use stdlib::decode::{u64_at, RawEntry};
use stdlib::manifest::MapSpec;
use stdlib::output::MapDump;
use stdlib::value::Symbolizer;

/// Every (key bytes, value bytes per CPU) of a map; `delete` empties the map as it reads it.
fn entries(map: &MapHandle, delete: bool) -> Result<Vec<RawEntry>, SysError> {
    let slot = map.slot_size().max(1);
    Ok(map
        .entries(delete)?
        .into_iter()
        .map(|(key, value)| (key, value.chunks(slot).map(<[u8]>::to_vec).collect()))
        .collect())
}

/// Sums slot 0 of a one-entry per-CPU u64 array (the lost-events counter).
pub fn sum_percpu_u64(map: &MapHandle) -> Result<u64, SysError> {
    sum_percpu_u64_at(map, 0)
}

/// Sums slot `slot` of a per-CPU u64 array over the CPUs.
pub fn sum_percpu_u64_at(map: &MapHandle, slot: u32) -> Result<u64, SysError> {
    let Some(value) = map.lookup_vec(&slot.to_ne_bytes())? else {
        return Ok(0);
    };
    Ok(value
        .chunks(map.slot_size().max(1))
        .map(|c| u64_at(c, 0))
        .sum())
}

/// Reads a user map as a MapDump (the decoding is [`stdlib::decode::map_dump`]'s).
pub fn dump(map: &MapHandle, spec: &MapSpec, sym: &dyn Symbolizer) -> Result<MapDump, SysError> {
    Ok(stdlib::decode::map_dump(spec, entries(map, false)?, sym))
}

/// Reads a user map as a MapDump and empties it in the same pass (`print(@m); clear(@m);`),
/// so that no update lands between the read and the clear.
pub fn dump_and_clear(
    map: &MapHandle,
    spec: &MapSpec,
    sym: &dyn Symbolizer,
) -> Result<MapDump, SysError> {
    Ok(stdlib::decode::map_dump(spec, entries(map, true)?, sym))
}

/// `clear(@m)`: removes every key (in batches where the kernel can).
pub fn clear(map: &MapHandle) -> Result<(), SysError> {
    map.entries(true).map(drop)
}

/// `zero(@m)`: keeps the keys, zeroes the values.
pub fn zero(map: &MapHandle) -> Result<(), SysError> {
    let zeros = vec![0u8; map.value_buffer_size()];
    for k in map.keys()? {
        map.update(&k, &zeros)?;
    }
    Ok(())
}

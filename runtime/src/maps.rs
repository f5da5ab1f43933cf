//! Reading BPF maps back into user space: per-CPU slots summed, histogram buckets grouped
//! under their user key, values decoded into [`stdlib::output::MapDump`]s for printing.

use crate::sys::{MapHandle, SysError};
use stdlib::manifest::MapSpec;
use stdlib::output::{MapDump, MapValue};
use stdlib::tseries::Slot;
use stdlib::types::{Aggregation, Type};
use stdlib::value::{decode, Symbolizer, Value};

/// One map entry as read: the key's bytes and the value's bytes on each CPU (one slot for a
/// map that is not per-CPU).
type RawEntry = (Vec<u8>, Vec<Vec<u8>>);

/// Every (key bytes, value bytes per CPU) of a map; `delete` empties the map as it reads it.
fn entries(map: &MapHandle, delete: bool) -> Result<Vec<RawEntry>, SysError> {
    let slot = map.slot_size().max(1);
    Ok(map
        .entries(delete)?
        .into_iter()
        .map(|(key, value)| (key, value.chunks(slot).map(<[u8]>::to_vec).collect()))
        .collect())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        w.copy_from_slice(s);
    }
    u64::from_ne_bytes(w)
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

/// Reads a user map as a MapDump.
pub fn dump(map: &MapHandle, spec: &MapSpec, sym: &dyn Symbolizer) -> Result<MapDump, SysError> {
    dump_raw(entries(map, false)?, spec, sym)
}

/// Reads a user map as a MapDump and empties it in the same pass (`print(@m); clear(@m);`),
/// so that no update lands between the read and the clear.
pub fn dump_and_clear(
    map: &MapHandle,
    spec: &MapSpec,
    sym: &dyn Symbolizer,
) -> Result<MapDump, SysError> {
    dump_raw(entries(map, true)?, spec, sym)
}

fn dump_raw(raw: Vec<RawEntry>, spec: &MapSpec, sym: &dyn Symbolizer) -> Result<MapDump, SysError> {
    let user_key_size = spec.key.as_ref().map_or(8, Type::size) as usize;
    let decode_key = |k: &[u8]| spec.key.as_ref().map(|t| decode(t, k, sym));
    let mut entries: Vec<(Option<Value>, MapValue)> = Vec::new();
    match &spec.value {
        Type::Agg(agg @ (Aggregation::Hist { .. } | Aggregation::Lhist { .. })) => {
            let buckets = stdlib::types::agg_buckets(*agg) as usize;
            let mut groups: Vec<(Vec<u8>, Vec<u64>)> = Vec::new();
            for (k, slots) in raw {
                let user = k[..user_key_size.min(k.len())].to_vec();
                let bucket = u64_at(&k, user_key_size) as usize;
                let count: u64 = slots.iter().map(|s| u64_at(s, 0)).sum();
                let idx = match groups.iter().position(|(u, _)| *u == user) {
                    Some(i) => i,
                    None => {
                        groups.push((user, vec![0; buckets]));
                        groups.len() - 1
                    }
                };
                if let Some(b) = groups[idx].1.get_mut(bucket) {
                    *b += count;
                }
            }
            for (user, counts) in groups {
                entries.push((
                    decode_key(&user),
                    MapValue::Hist {
                        agg: *agg,
                        buckets: counts,
                    },
                ));
            }
        }
        Type::Agg(agg @ Aggregation::Tseries { reduce, signed, .. }) => {
            // Slots are grouped under their user key, as histogram buckets are.
            let mut groups: Vec<(Vec<u8>, Vec<Slot>)> = Vec::new();
            for (k, copies) in raw {
                let user = k[..user_key_size.min(k.len())].to_vec();
                let copies: Vec<Slot> = copies
                    .iter()
                    .map(|c| Slot {
                        epoch: u64_at(c, 0),
                        value: u64_at(c, 8) as i64,
                        count: u64_at(c, 16),
                    })
                    .collect();
                let slot = stdlib::tseries::merge_cpus(*reduce, *signed, &copies);
                match groups.iter_mut().find(|(u, _)| *u == user) {
                    Some((_, slots)) => slots.push(slot),
                    None => groups.push((user, vec![slot])),
                }
            }
            for (user, slots) in groups {
                entries.push((decode_key(&user), MapValue::Tseries { agg: *agg, slots }));
            }
        }
        Type::Agg(agg) => {
            for (k, slots) in raw {
                let firsts = slots.iter().map(|s| u64_at(s, 0));
                let v = match agg {
                    Aggregation::Count => MapValue::Count(firsts.sum()),
                    Aggregation::Sum => MapValue::Sum(firsts.map(|x| x as i64).sum()),
                    Aggregation::Min | Aggregation::Max => {
                        // Only CPUs that saw a value (flag in the second word) take part.
                        let seen = slots
                            .iter()
                            .filter(|s| u64_at(s, 8) != 0)
                            .map(|s| u64_at(s, 0) as i64);
                        if *agg == Aggregation::Min {
                            MapValue::Min(seen.min().unwrap_or(0))
                        } else {
                            MapValue::Max(seen.max().unwrap_or(0))
                        }
                    }
                    Aggregation::Avg | Aggregation::Stats => {
                        let count: u64 = slots.iter().map(|s| u64_at(s, 0)).sum();
                        let total: i64 = slots.iter().map(|s| u64_at(s, 8) as i64).sum();
                        if *agg == Aggregation::Avg {
                            MapValue::Avg { count, total }
                        } else {
                            MapValue::Stats { count, total }
                        }
                    }
                    Aggregation::Hist { .. }
                    | Aggregation::Lhist { .. }
                    | Aggregation::Tseries { .. } => continue,
                };
                entries.push((decode_key(&k), v));
            }
        }
        ty => {
            for (k, slots) in raw {
                let v = slots
                    .first()
                    .map(|s| decode(ty, s, sym))
                    .unwrap_or(Value::Int(0));
                entries.push((decode_key(&k), MapValue::Plain(v)));
            }
        }
    }
    Ok(MapDump {
        name: spec.script_name.clone().unwrap_or_default(),
        entries,
    })
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

//! Fuzz target for the map printer: arbitrary bytes as the keys and per-CPU values the kernel
//! returns for each user map of the Manifests of `fuzz/scripts` (count, sum, min, max, avg,
//! stats, hist, lhist, tseries; integers, strings, buffers, tuples, records, stacks, symbols
//! and the other value types as keys and values), decoded with `stdlib::decode::map_dump`
//! and printed by `stdlib::output` in text and JSON, with `print(@m, top, div)`'s arguments.
//! Any panic, hang or huge allocation is a bug, and so is JSON output that does not parse.
//!
//! Input: byte 0 picks the map (over all manifests), byte 1 the CPU count (1 to 4) and JSON,
//! byte 2 `top`, byte 3 `div`; the rest is cut into entries of the map's key size and the
//! CPUs' value slots (the last one may be short).
#![no_main]

mod manifests;

use libfuzzer_sys::fuzz_target;
use stdlib::decode::RawEntry;
use stdlib::manifest::MapSpec;
use stdlib::output;

fn user_maps() -> &'static [(usize, MapSpec)] {
    static MAPS: std::sync::OnceLock<Vec<(usize, MapSpec)>> = std::sync::OnceLock::new();
    MAPS.get_or_init(|| {
        manifests::all()
            .iter()
            .enumerate()
            .flat_map(|(i, m)| m.maps.iter().map(move |s| (i, s.clone())))
            .filter(|(_, s)| s.script_name.is_some())
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let [which, flags, top, div, rest @ ..] = data else {
        return;
    };
    let maps = user_maps();
    let (manifest, spec) = &maps[usize::from(*which) % maps.len()];
    let manifest = &manifests::all()[*manifest];
    let cpus = usize::from(flags & 3) + 1;
    let json = flags & 4 != 0;
    let key_size = spec.key_size() as usize;
    // Values are read in 8-byte slots per CPU, as the kernel rounds per-CPU values.
    let slot = (spec.value.size() as usize).div_ceil(8).max(1) * 8;
    let mut raw: Vec<RawEntry> = Vec::new();
    let mut at = rest;
    while !at.is_empty() {
        let (key, tail) = at.split_at(key_size.min(at.len()));
        let (values, tail) = tail.split_at((slot * cpus).min(tail.len()));
        raw.push((
            key.to_vec(),
            values.chunks(slot).map(<[u8]>::to_vec).collect(),
        ));
        at = tail;
    }
    let sym = manifests::FuzzSymbols { manifest };
    let dump = stdlib::decode::map_dump(spec, raw, &sym);
    let (top, div) = (u64::from(*top % 8), u64::from(*div % 8));
    if json {
        let out = if dump.entries.is_empty() {
            output::empty_map_json(&dump.name, &spec.value)
        } else {
            output::map_json(&dump, top, div)
        };
        for line in out.lines() {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(line) {
                panic!("invalid JSON ({e}): {line}");
            }
        }
    } else {
        let _ = output::map_text(&dump, top, div);
    }
    let _ = output::scalar_zero(&spec.value, &sym);
});

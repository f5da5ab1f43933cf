//! Decoding what the kernel sends, without the kernel: a ring buffer record's arguments and a
//! map's raw entries (key bytes, value bytes per CPU) into [`Value`]s and a [`MapDump`]. The
//! runtime reads the bytes (ring buffer, `bpf(2)` map lookups) and hands them here, so the
//! fuzzer (`fuzz/fuzz_targets/decode_event.rs`, `decode_map.rs`) can feed arbitrary bytes to the
//! same code. Bytes that do not fit the Manifest's layout (a short record, a short value, a
//! bucket index past the histogram) never panic: missing bytes read as zeros, surplus bytes
//! are ignored.

use crate::manifest::{Event, MapSpec};
use crate::output::{MapDump, MapValue, Word};
use crate::tseries::Slot;
use crate::types::{Aggregation, StackSource, Type};
use crate::value::{decode, Symbolizer, Value};

/// One map entry as read: the key's bytes and the value's bytes on each CPU (one slot for a
/// map that is not per-CPU).
pub type RawEntry = (Vec<u8>, Vec<Vec<u8>>);

/// The 8 bytes at `at` as a native-endian u64; bytes past the end read as zeros.
pub fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = at.checked_add(8).and_then(|end| b.get(at..end)) {
        w.copy_from_slice(s);
    }
    u64::from_ne_bytes(w)
}

/// A ring buffer record that does not fit the Manifest: a bug in the code generator (or a
/// compiled file that does not match its object), reported as a warning, never a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadRecord {
    /// Fewer bytes than the event id takes; the record is skipped.
    NoHeader { len: usize },
    /// An event id the Manifest has no event for; the record is skipped.
    UnknownEvent { id: u64 },
    /// Fewer argument bytes than the event's layout; the missing bytes read as zeros.
    Short { id: u64, len: usize, want: u32 },
}

impl BadRecord {
    /// What makes two reports the same, so each is warned about once.
    pub fn key(&self) -> (u8, u64) {
        match self {
            BadRecord::NoHeader { .. } => (0, 0),
            BadRecord::UnknownEvent { id } => (1, *id),
            BadRecord::Short { id, .. } => (2, *id),
        }
    }
}

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadRecord::NoHeader { len } => write!(
                f,
                "skipped a ring buffer record of {len} bytes, too short to hold an event id"
            ),
            BadRecord::UnknownEvent { id } => write!(
                f,
                "skipped a ring buffer record of event {id}, which the program does not define"
            ),
            BadRecord::Short { id, len, want } => write!(
                f,
                "a ring buffer record of event {id} carries {len} bytes of arguments instead of \
                 {want}; the missing bytes read as zeros"
            ),
        }
    }
}

/// An event with its arguments' types and byte offsets in the payload, worked out once at
/// start rather than for every record.
#[derive(Debug, Clone)]
pub struct EventLayout {
    pub event: Event,
    pub args: Vec<(Type, usize)>,
    /// The payload size the event's layout needs.
    pub size: usize,
}

impl EventLayout {
    pub fn new(event: &Event) -> EventLayout {
        let (offsets, size) = event.layout();
        let args = event
            .arg_types()
            .into_iter()
            .zip(offsets)
            .map(|(t, o)| (t, o as usize))
            .collect();
        EventLayout {
            event: event.clone(),
            args,
            size: size as usize,
        }
    }

    /// Decodes a record's arguments from its payload (the bytes after the event id) into
    /// `out`, reusing its allocation.
    pub fn args_into(&self, payload: &[u8], sym: &dyn Symbolizer, out: &mut Vec<Value>) {
        out.clear();
        out.extend(
            self.args
                .iter()
                .map(|(t, o)| decode(t, payload.get(*o..).unwrap_or_default(), sym)),
        );
    }
}

/// Splits a ring buffer record into its event and payload (the bytes after the event id).
/// `Ok` carries a [`BadRecord::Short`] when the payload is shorter than the event's layout:
/// the record is still decoded. `Err` is a record to skip.
pub fn record<'e, 'b>(
    events: &'e [EventLayout],
    bytes: &'b [u8],
) -> Result<(&'e EventLayout, &'b [u8], Option<BadRecord>), BadRecord> {
    let header = crate::abi::record::HEADER as usize;
    let (Some(id), Some(payload)) = (bytes.get(..header), bytes.get(header..)) else {
        return Err(BadRecord::NoHeader { len: bytes.len() });
    };
    let id = u64_at(id, 0);
    let ev = usize::try_from(id)
        .ok()
        .and_then(|i| events.get(i))
        .ok_or(BadRecord::UnknownEvent { id })?;
    let short = (payload.len() < ev.size).then_some(BadRecord::Short {
        id,
        len: payload.len(),
        want: ev.size as u32,
    });
    Ok((ev, payload, short))
}

/// Histogram counts as the BPF side keeps them, one map entry per (user key, bucket index),
/// grouped under their user key in the order the keys first appear: each key's `buckets`
/// counts. Counts of one bucket seen twice add up (wrapping, as the BPF side's own additions
/// do); a bucket index past the histogram is ignored.
pub fn group_buckets<K: PartialEq>(
    buckets: usize,
    counts: impl IntoIterator<Item = (K, usize, u64)>,
) -> Vec<(K, Vec<u64>)> {
    let mut groups: Vec<(K, Vec<u64>)> = Vec::new();
    for (key, bucket, count) in counts {
        let idx = match groups.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                groups.push((key, vec![0; buckets]));
                groups.len() - 1
            }
        };
        if let Some(b) = groups[idx].1.get_mut(bucket) {
            *b = b.wrapping_add(count);
        }
    }
    groups
}

/// A user map's entries as printing wants them: per-CPU slots summed (or merged), histogram
/// buckets and time-series slots grouped under their user key.
pub fn map_dump(spec: &MapSpec, raw: Vec<RawEntry>, sym: &dyn Symbolizer) -> MapDump {
    let user_key_size = spec.key.as_ref().map_or(8, Type::size) as usize;
    let decode_key = |k: &[u8]| spec.key.as_ref().map(|t| decode(t, k, sym));
    let mut entries: Vec<(Option<Value>, MapValue)> = Vec::new();
    match &spec.value {
        Type::Agg(agg @ (Aggregation::Hist { .. } | Aggregation::Lhist { .. })) => {
            let buckets = crate::types::agg_buckets(*agg) as usize;
            let counts = raw.into_iter().map(|(k, slots)| {
                let user = k[..user_key_size.min(k.len())].to_vec();
                let bucket = u64_at(&k, user_key_size) as usize;
                let count = slots
                    .iter()
                    .fold(0u64, |sum, s| sum.wrapping_add(u64_at(s, 0)));
                (user, bucket, count)
            });
            for (user, counts) in group_buckets(buckets, counts) {
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
                let slot = crate::tseries::merge_cpus(*reduce, *signed, &copies);
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
                // Sums wrap as the BPF side's own additions do.
                let firsts = slots.iter().map(|s| u64_at(s, 0));
                let v = match agg {
                    Aggregation::Count => MapValue::Count(firsts.fold(0, u64::wrapping_add)),
                    Aggregation::Sum { signed } => MapValue::Sum(Word {
                        bits: firsts.fold(0, u64::wrapping_add),
                        signed: *signed,
                    }),
                    Aggregation::Min { signed } | Aggregation::Max { signed } => {
                        // Only CPUs that saw a value (flag in the second word) take part.
                        let seen = slots.iter().filter(|s| u64_at(s, 8) != 0).map(|s| Word {
                            bits: u64_at(s, 0),
                            signed: *signed,
                        });
                        let zero = Word {
                            bits: 0,
                            signed: *signed,
                        };
                        if matches!(agg, Aggregation::Min { .. }) {
                            MapValue::Min(seen.min_by_key(|w| w.value()).unwrap_or(zero))
                        } else {
                            MapValue::Max(seen.max_by_key(|w| w.value()).unwrap_or(zero))
                        }
                    }
                    Aggregation::Avg { signed } | Aggregation::Stats { signed } => {
                        let count = firsts.fold(0, u64::wrapping_add);
                        let total = Word {
                            bits: slots.iter().fold(0, |s, c| s.wrapping_add(u64_at(c, 8))),
                            signed: *signed,
                        };
                        if matches!(agg, Aggregation::Avg { .. }) {
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
    if spec.key.as_ref().is_some_and(holds_dw_stack) {
        entries = merge_equal_keys(entries);
    }
    MapDump {
        name: spec.script_name.clone().unwrap_or_default(),
        entries,
    }
}

/// Whether values of `ty` hold a `dw_ustack` capture.
fn holds_dw_stack(ty: &Type) -> bool {
    ty.contains(&|t| {
        matches!(
            t,
            Type::Stack {
                source: StackSource::UserDwarf { .. },
                ..
            }
        )
    })
}

/// Entries whose keys decode to the same value, as one entry. A `dw_ustack` key is a copy of
/// the top of the stack, whose bytes differ between two captures of the same frames (locals,
/// padding), so BPF keeps them apart; once unwound they are one stack, as bpftrace (which
/// unwinds in BPF) counts them.
fn merge_equal_keys(entries: Vec<(Option<Value>, MapValue)>) -> Vec<(Option<Value>, MapValue)> {
    let mut out: Vec<(Option<Value>, MapValue)> = Vec::new();
    for (key, value) in entries {
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, into)) => merge_value(into, value),
            None => out.push((key, value)),
        }
    }
    out
}

/// Adds `value` into `into`, as the two were one key's value.
fn merge_value(into: &mut MapValue, value: MapValue) {
    match (into, value) {
        (MapValue::Count(a), MapValue::Count(b)) => *a = a.wrapping_add(b),
        (MapValue::Sum(a), MapValue::Sum(b)) => *a = a.wrapping_add(b),
        (MapValue::Min(a), MapValue::Min(b)) => *a = std::cmp::min_by_key(*a, b, |w| w.value()),
        (MapValue::Max(a), MapValue::Max(b)) => *a = std::cmp::max_by_key(*a, b, |w| w.value()),
        (
            MapValue::Avg { count, total } | MapValue::Stats { count, total },
            MapValue::Avg { count: c, total: t } | MapValue::Stats { count: c, total: t },
        ) => {
            *count = count.wrapping_add(c);
            *total = total.wrapping_add(t);
        }
        (MapValue::Hist { buckets, .. }, MapValue::Hist { buckets: b, .. }) => {
            for (x, y) in buckets.iter_mut().zip(b) {
                *x = x.wrapping_add(y);
            }
        }
        (MapValue::Tseries { agg, slots }, MapValue::Tseries { slots: more, .. }) => {
            let Aggregation::Tseries { reduce, signed, .. } = *agg else {
                return;
            };
            // Slots of one interval combine as the CPU copies of a slot do.
            let mut all = std::mem::take(slots);
            all.extend(more);
            all.sort_by_key(|s| s.epoch);
            *slots = all
                .chunk_by(|a, b| a.epoch == b.epoch)
                .map(|same| crate::tseries::merge_cpus(reduce, signed, same))
                .collect();
        }
        // A plain value is what the last update stored; which of the two was last is not
        // known, so the first one stays. Values of different kinds cannot share a map.
        (MapValue::Plain(_), _)
        | (MapValue::Count(_), _)
        | (MapValue::Sum(_), _)
        | (MapValue::Min(_), _)
        | (MapValue::Max(_), _)
        | (MapValue::Avg { .. } | MapValue::Stats { .. }, _)
        | (MapValue::Hist { .. }, _)
        | (MapValue::Tseries { .. }, _) => {}
    }
}

#[cfg(test)]
mod tests {
    //! Regression fixtures: bytes that do not fit the Manifest, each of which must decode to
    //! something (or a one-line warning) without a panic.
    use super::*;
    use crate::manifest::MapKind;
    use crate::types::{StackMode, I64};
    use crate::value::NoSymbols;

    /// Names a `dw_ustack` capture's one frame by its instruction pointer, as unwinding the
    /// same frames from different stack bytes would.
    struct IpFrames;

    impl Symbolizer for IpFrames {
        fn ksym(&self, _: u64, _: bool) -> String {
            String::new()
        }
        fn usym(&self, _: u32, _: u64, _: bool) -> String {
            String::new()
        }
        fn username(&self, _: u64) -> String {
            String::new()
        }
        fn probe_name(&self, _: u64) -> String {
            String::new()
        }
        fn kstack(&self, _: i64, _: u32, _: StackMode) -> Vec<String> {
            Vec::new()
        }
        fn ustack(&self, _: u32, _: i64, _: u32, _: StackMode) -> Vec<String> {
            Vec::new()
        }
        fn dw_ustack(&self, c: &crate::value::DwCapture<'_>, _: u32, _: StackMode) -> Vec<String> {
            vec![format!("{:x}", c.ip)]
        }
        fn cgroup_path(&self, _: u64, _: Option<&str>) -> String {
            String::new()
        }
        fn strftime(&self, _: u64, _: u64) -> String {
            String::new()
        }
    }

    /// A `dw_ustack` payload of 16 stack bytes: `ip`, and `fill` in every stack byte.
    fn capture(ip: u64, fill: u8) -> Vec<u8> {
        let mut b = vec![0u8; (crate::abi::dwstack::BYTES + 16) as usize];
        b[crate::abi::dwstack::IP as usize..][..8].copy_from_slice(&ip.to_ne_bytes());
        b[crate::abi::dwstack::LEN as usize..][..8].copy_from_slice(&16u64.to_ne_bytes());
        b[crate::abi::dwstack::BYTES as usize..].fill(fill);
        b
    }

    #[test]
    fn dw_ustack_keys_of_one_stack_merge() {
        let key = Type::Stack {
            source: StackSource::UserDwarf { bytes: 16 },
            mode: StackMode::Bpftrace,
            limit: 127,
        };
        let count = |n: u64| vec![n.to_ne_bytes().to_vec()];
        // Two captures of the stack at ip 0x10 whose bytes differ, one at 0x20.
        let raw = vec![
            (capture(0x10, 1), count(2)),
            (capture(0x20, 1), count(5)),
            (capture(0x10, 2), count(3)),
        ];
        let dump = map_dump(
            &spec(Some(key.clone()), Type::Agg(Aggregation::Count)),
            raw,
            &IpFrames,
        );
        let stack = |ip: &str| Some(Value::Stack(StackMode::Bpftrace, vec![ip.into()]));
        assert_eq!(
            dump.entries,
            [
                (stack("10"), MapValue::Count(5)),
                (stack("20"), MapValue::Count(5))
            ]
        );
        // Histograms add bucket by bucket; a key that is not a dw_ustack is never merged.
        let mut a = MapValue::Hist {
            agg: Aggregation::Hist { bits: 0 },
            buckets: vec![1, 2],
        };
        merge_value(
            &mut a,
            MapValue::Hist {
                agg: Aggregation::Hist { bits: 0 },
                buckets: vec![10, 20],
            },
        );
        assert_eq!(
            a,
            MapValue::Hist {
                agg: Aggregation::Hist { bits: 0 },
                buckets: vec![11, 22]
            }
        );
        assert!(!holds_dw_stack(&I64));
        assert!(holds_dw_stack(&Type::Tuple(vec![I64, key.clone()])));
        // The same walk decides which records must be read while their process lives.
        assert!(Type::Tuple(vec![I64, key]).reads_process());
        assert!(Type::Array {
            elem: Box::new(Type::Usym),
            len: 2
        }
        .reads_process());
        assert!(!Type::Tuple(vec![I64, Type::Ksym]).reads_process());
    }

    fn spec(key: Option<Type>, value: Type) -> MapSpec {
        MapSpec {
            elf_name: "m".into(),
            script_name: Some("@m".into()),
            kind: MapKind::PerCpuHash,
            key,
            value,
            max_entries: 1,
        }
    }

    fn printf(args: Vec<Type>) -> Event {
        Event::Printf {
            format: Vec::new(),
            args,
        }
    }

    #[test]
    fn records_that_do_not_fit_the_manifest_are_named() {
        let events = [EventLayout::new(&printf(vec![I64, I64]))];
        assert_eq!(
            record(&events, &[1, 2, 3]).err(),
            Some(BadRecord::NoHeader { len: 3 })
        );
        let unknown = 7u64.to_ne_bytes();
        assert_eq!(
            record(&events, &unknown).err(),
            Some(BadRecord::UnknownEvent { id: 7 })
        );
        // An id past usize on no machine, and past the events on this one.
        let huge = u64::MAX.to_ne_bytes();
        assert_eq!(
            record(&events, &huge).err(),
            Some(BadRecord::UnknownEvent { id: u64::MAX })
        );
        let mut short = 0u64.to_ne_bytes().to_vec();
        short.extend_from_slice(&5i64.to_ne_bytes());
        short.push(9);
        let (ev, payload, bad) = record(&events, &short).expect("a known event");
        assert_eq!(
            bad,
            Some(BadRecord::Short {
                id: 0,
                len: 9,
                want: 16
            })
        );
        let shown = bad.map(|b| b.to_string()).unwrap_or_default();
        assert!(
            shown.contains("9 bytes") && !shown.contains('\n'),
            "{shown}"
        );
        // What there is decodes; the missing bytes are zeros.
        let mut args = Vec::new();
        ev.args_into(payload, &NoSymbols, &mut args);
        assert_eq!(args, vec![Value::Int(5), Value::Int(0)]);
        let mut whole = short.clone();
        whole.extend_from_slice(&[0; 7]);
        assert_eq!(record(&events, &whole).map(|r| r.2), Ok(None));
    }

    /// Found by reasoning about what the fuzzer feeds: per-CPU counts whose sum passes
    /// `u64::MAX` panicked in a debug build ("attempt to add with overflow"); they wrap, as
    /// the BPF side's own additions do.
    #[test]
    fn per_cpu_sums_wrap_instead_of_panicking() {
        let big = (u64::MAX / 2 + 2).to_ne_bytes().to_vec();
        let key = 1u64.to_ne_bytes().to_vec();
        let two_cpus = |v: Vec<u8>| vec![(key.clone(), vec![v.clone(), v])];
        let count = map_dump(
            &spec(Some(I64), Type::Agg(Aggregation::Count)),
            two_cpus(big.clone()),
            &NoSymbols,
        );
        assert_eq!(count.entries[0].1, MapValue::Count(2));
        let mut avg_slot = big.clone();
        avg_slot.extend_from_slice(&i64::MAX.to_ne_bytes());
        let avg = map_dump(
            &spec(Some(I64), Type::Agg(Aggregation::Avg { signed: true })),
            two_cpus(avg_slot),
            &NoSymbols,
        );
        assert_eq!(
            avg.entries[0].1,
            MapValue::Avg {
                count: 2,
                total: Word::signed(-2)
            }
        );
        let hist = Aggregation::Hist { bits: 0 };
        let mut hkey = key.clone();
        hkey.extend_from_slice(&3u64.to_ne_bytes());
        let dump = map_dump(
            &spec(Some(I64), Type::Agg(hist)),
            vec![(hkey, vec![big.clone(), big])],
            &NoSymbols,
        );
        let MapValue::Hist { buckets, .. } = &dump.entries[0].1 else {
            panic!("not a histogram: {dump:?}");
        };
        assert_eq!(buckets[3], 2);
        // And the printers take such values.
        let _ = crate::output::map_text(&dump, 0, 0);
        let _ = crate::output::map_json(&dump, 0, 0);
    }

    #[test]
    fn short_keys_values_and_buckets_past_the_histogram_are_harmless() {
        let hist = Aggregation::Lhist {
            min: 0,
            max: 10,
            step: 5,
        };
        // A bucket index far past the 4 buckets, a key cut short, a value of 3 bytes.
        let mut past = 1u64.to_ne_bytes().to_vec();
        past.extend_from_slice(&u64::MAX.to_ne_bytes());
        let raw = vec![(past, vec![vec![1; 8]]), (vec![1, 2], vec![vec![1, 2, 3]])];
        let dump = map_dump(&spec(Some(I64), Type::Agg(hist)), raw, &NoSymbols);
        assert_eq!(dump.entries.len(), 2);
        let tuple = Type::Tuple(vec![I64, Type::Str { len: 16 }]);
        let raw = vec![
            (vec![0xff; 5], Vec::new()),
            (Vec::new(), vec![vec![0x41; 3]]),
        ];
        let dump = map_dump(&spec(Some(tuple.clone()), tuple), raw, &NoSymbols);
        assert_eq!(dump.entries[0].1, MapValue::Plain(Value::Int(0)));
        let _ = crate::output::map_text(&dump, 1, 1);
        let _ = crate::output::map_json(&dump, 1, 1);
    }
}

//! Map printing as bpftrace 0.27 prints it: text (`@x[k]: v`, hist/lhist art, avg, stats) and
//! JSON (`{"type": "map", ...}`), with bpftrace's sort order and `print(@m, top, div)`. It also
//! owns the histogram bucket index ([`hist_bucket`], [`lhist_bucket`]): the BPF side computes
//! the same index, so these functions are the reference the code generator mirrors.
//!
//! Everything here is pure: a [`MapDump`] in, the exact bytes to write out. The behaviour was
//! checked against bpftrace 0.27.1 (see `stdlib/tests/fixtures/maps.txt`); where it has a bug
//! (JSON escapes of non-ASCII bytes, lhist edges past `i32` in units, maps of signed integers
//! printed in hash order) we print the correct value, or a deterministic order, instead and say
//! so at the spot.

use crate::types::{Aggregation, Type};
use crate::value::Value;
use std::cmp::Ordering;
use std::fmt::Write as _;

/// The per-key value of a map, CPU slots already summed by the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum MapValue {
    /// A plain (non-aggregation) value.
    Plain(Value),
    /// count/sum: the running total.
    Count(u64),
    Sum(Word),
    Min(Word),
    Max(Word),
    Avg {
        count: u64,
        total: Word,
    },
    Stats {
        count: u64,
        total: Word,
    },
    /// hist/lhist: count per bucket index, indexed as the BPF side indexes them.
    Hist {
        agg: Aggregation,
        buckets: Vec<u64>,
    },
    /// tseries: the key's slots (any order), CPU copies merged by [`crate::tseries::merge_cpus`].
    Tseries {
        agg: Aggregation,
        slots: Vec<crate::tseries::Slot>,
    },
}

/// A 64-bit aggregation result (a sum, min, max or total) and the signedness of the values
/// aggregated, which decides the number its bits stand for: `-1` when they are signed,
/// `18446744073709551615` when not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word {
    pub bits: u64,
    pub signed: bool,
}

impl Word {
    /// A result of signed values.
    pub fn signed(value: i64) -> Word {
        Word {
            bits: value as u64,
            signed: true,
        }
    }

    /// A result of unsigned values.
    pub fn unsigned(value: u64) -> Word {
        Word {
            bits: value,
            signed: false,
        }
    }

    /// The number the bits stand for.
    pub fn value(self) -> i128 {
        if self.signed {
            i128::from(self.bits as i64)
        } else {
            i128::from(self.bits)
        }
    }

    /// The sum of two results, wrapping as the BPF side's own additions do.
    pub fn wrapping_add(self, other: Word) -> Word {
        Word {
            bits: self.bits.wrapping_add(other.bits),
            signed: self.signed,
        }
    }
}

/// One map's contents: its script name (`@x`) and entries; `key` is `None` for scalar maps.
/// A key that is a [`Value::Tuple`] is a multi-key (`@m[1, "x"]`), printed as `1, x`.
#[derive(Debug, Clone, PartialEq)]
pub struct MapDump {
    pub name: String,
    pub entries: Vec<(Option<Value>, MapValue)>,
}

/// Width of a histogram bar at the largest bucket.
pub const BAR_WIDTH: u64 = 52;

/// The largest `bits` of `hist(n, bits)` (bpftrace accepts 0..=5); larger values are treated as
/// this so no shift can overflow.
pub const MAX_HIST_BITS: u8 = 5;

// ---------------------------------------------------------------------------------------------
// Bucket indexing
// ---------------------------------------------------------------------------------------------

/// Inclusive bounds of a histogram bucket; `None` is unbounded on that side. Bounds are `i128`
/// so the top log2 bucket (`[2^63, 2^64)` in principle) and `i64` lhist edges never overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub min: Option<i128>,
    pub max: Option<i128>,
}

/// The bucket index of `value` in `hist(value, bits)`.
///
/// Index 0 holds negative values. For `value >= 0`, with `mask = 2^bits - 1`:
/// * `value <= mask`: index `value + 1` (one bucket per value: with bits = 0 that is just `[0]`);
/// * otherwise, with `msb = floor(log2(value))` and `l = msb - bits`, the `bits` bits below the
///   top bit select a linear sub-bucket `x = (value >> l) & mask`, and the index is
///   `((l + 1) << bits) + x + 1`.
///
/// With bits = 0 this is 0.17's log2 hist: 0 → 1 (`[0]`), 1 → 2 (`[1]`), 2..3 → 3 (`[2, 4)`),
/// 2^p..2^(p+1)-1 → p + 2. With bits = k it is the `hist(n, k)` of bpftrace 0.20. The largest
/// index (for `i64::MAX`) is `(64 - bits) << bits`, within [`crate::types::agg_buckets`].
/// 0.17 itself stops at `[2G, 4G)` (its log2 looks at 32 bits only); we do not copy that bug.
///
/// The code generator must compute exactly this: compare with 0, compare with the mask, then
/// count leading zeros (or a shift ladder 32/16/8/4/2/1) for `msb`.
pub fn hist_bucket(value: i64, bits: u8) -> u64 {
    let k = u32::from(bits.min(MAX_HIST_BITS));
    if value < 0 {
        return 0;
    }
    let n = value as u64;
    let mask = (1u64 << k) - 1;
    if n <= mask {
        return n + 1;
    }
    // n > mask >= 0, so n has a top bit and msb >= k.
    let msb = 63 - n.leading_zeros();
    let l = msb - k;
    let x = (n >> l) & mask;
    ((u64::from(l) + 1) << k) + x + 1
}

/// The values bucket `index` of `hist(_, bits)` holds (the inverse of [`hist_bucket`]).
pub fn hist_bounds(index: u64, bits: u8) -> Bounds {
    let k = u32::from(bits.min(MAX_HIST_BITS));
    if index == 0 {
        return Bounds {
            min: None,
            max: Some(-1),
        };
    }
    let j = u128::from(index - 1);
    if j < (1u128 << (k + 1)) {
        let v = j as i128;
        return Bounds {
            min: Some(v),
            max: Some(v),
        };
    }
    let l = (j >> k) - 1;
    let x = j & ((1u128 << k) - 1);
    // Indexes past the real range (l > 63 - k) cannot come from an i64; saturate instead of
    // overflowing so that a corrupt bucket array still prints.
    let l = u32::try_from(l).unwrap_or(u32::MAX).min(100);
    let lo = ((1u128 << k) + x) << l;
    let hi = lo + (1u128 << l) - 1;
    Bounds {
        min: Some(lo as i128),
        max: Some(hi as i128),
    }
}

/// The text label of bucket `index` of `hist(_, bits)`: `(..., 0)`, `[0]`, `[1]`, `[2, 4)`,
/// `[512, 1K)`, `[1M, 2M)`, `[896, 1024)`.
pub fn hist_label(index: u64, bits: u8) -> String {
    let b = hist_bounds(index, bits);
    match (b.min, b.max) {
        (Some(lo), Some(hi)) if lo == hi => format!("[{}]", hist_number(lo, bits)),
        (Some(lo), Some(hi)) => {
            format!("[{}, {})", hist_number(lo, bits), hist_number(hi + 1, bits))
        }
        _ => "(..., 0)".into(),
    }
}

/// Number of in-range buckets of `lhist(_, min, max, step)`: `(max - min) / step`, clamped
/// like [`crate::types::agg_buckets`] clamps it. A step below 1 counts as 1 so nothing divides
/// by zero (the checker rejects it anyway).
fn lhist_count(min: i64, max: i64, step: i64) -> i128 {
    ((i128::from(max) - i128::from(min)) / i128::from(step.max(1))).clamp(0, 100_000)
}

/// The bucket index of `value` in `lhist(value, min, max, step)`, with `n = (max - min) / step`:
/// 0 for `value < min`; `n + 1` for `value >= max`; otherwise `(value - min) / step + 1`,
/// capped at `n + 1`. The cap matters when `step` does not divide the range: bpftrace
/// puts 9 of `lhist(9, 0, 10, 3)` in the overflow bucket (labelled `[9, ...)`), and so do we.
pub fn lhist_bucket(value: i64, min: i64, max: i64, step: i64) -> u64 {
    let n = lhist_count(min, max, step);
    if value < min {
        return 0;
    }
    if value >= max {
        return (n + 1) as u64;
    }
    let i = (i128::from(value) - i128::from(min)) / i128::from(step.max(1)) + 1;
    i.min(n + 1) as u64
}

/// The values bucket `index` of `lhist(_, min, max, step)` holds. The overflow bucket starts
/// where the last whole step ends (`[9, ...)` for `lhist(_, 0, 10, 3)`), as 0.27 labels it.
pub fn lhist_bounds(index: u64, min: i64, max: i64, step: i64) -> Bounds {
    let n = lhist_count(min, max, step);
    let i = i128::from(index);
    if i == 0 {
        Bounds {
            min: None,
            max: Some(i128::from(min) - 1),
        }
    } else if i > n {
        Bounds {
            min: Some(i128::from(min) + n * i128::from(step.max(1))),
            max: None,
        }
    } else {
        let lo = i128::from(min) + (i - 1) * i128::from(step.max(1));
        Bounds {
            min: Some(lo),
            max: Some(lo + i128::from(step.max(1)) - 1),
        }
    }
}

/// The text label of bucket `index` of an lhist: `(..., 0)`, `[0, 2)`, `[3]` (a bucket of one
/// value), `[10, ...)`, `[1K, 2K)`.
pub fn lhist_label(index: u64, min: i64, max: i64, step: i64) -> String {
    let b = lhist_bounds(index, min, max, step);
    let unit = lhist_unit(min, step);
    let num = |n: i128| in_unit(n, unit);
    match (b.min, b.max) {
        (None, Some(hi)) => format!("(..., {})", num(hi + 1)),
        (Some(lo), None) => format!("[{}, ...)", num(lo)),
        (Some(lo), Some(hi)) if lo == hi => format!("[{}]", num(lo)),
        (Some(lo), Some(hi)) => format!("[{}, {})", num(lo), num(hi + 1)),
        (None, None) => "(..., ...)".into(),
    }
}

/// The unit suffixes of bucket edges, 1024 apart: K = 2^10 up to E = 2^60.
const UNITS: [char; 6] = ['K', 'M', 'G', 'T', 'P', 'E'];

/// A log2 bucket edge `n` (the lower edge of the bucket that starts at `n`) in the largest unit
/// that the width of that bucket is a multiple of: with `bits = 0` every edge from 1K up has a
/// unit (`[512, 1K)`, `[1M, 2M)`, `[4E, 8E)`), with linear sub-buckets only the edges of
/// buckets at least 1K wide do (`hist(1000, 2)` is in `[896, 1024)`, `hist(3000, 1)` in
/// `[2K, 3K)`). The edge is a multiple of its bucket's width, so the division is exact.
fn hist_number(n: i128, bits: u8) -> String {
    let Ok(u) = u128::try_from(n) else {
        return n.to_string();
    };
    if u == 0 {
        return "0".into();
    }
    let msb = 127 - u.leading_zeros();
    let width_log2 = msb.saturating_sub(u32::from(bits.min(MAX_HIST_BITS)));
    let unit = (width_log2 / 10).min(UNITS.len() as u32);
    in_unit(n, unit * 10)
}

/// The unit (as a power of two) of an lhist's edges: M when `min` and `step` are multiples of
/// 2^20, else K when they are multiples of 2^10, else none; every edge is then a multiple of it.
fn lhist_unit(min: i64, step: i64) -> u32 {
    let step = step.max(1);
    [20, 10]
        .into_iter()
        .find(|shift| min % (1i64 << shift) == 0 && step % (1i64 << shift) == 0)
        .unwrap_or(0)
}

/// `n` divided by `2^shift` with that unit's suffix (`shift` is a multiple of 10 up to 60).
fn in_unit(n: i128, shift: u32) -> String {
    match (shift / 10)
        .checked_sub(1)
        .and_then(|i| UNITS.get(i as usize))
    {
        Some(c) if n != 0 => format!("{}{c}", n >> shift),
        _ => n.to_string(),
    }
}

/// The count, average and total of a stats entry; `div` divides the average only, as in 0.27.
fn stats_fields(count: u64, total: Word, div: u64) -> (u64, i128, i128) {
    (count, average(count, total) / divisor(div), total.value())
}

/// Label and JSON bounds of one bucket of either histogram kind.
fn bucket_label(agg: Aggregation, index: u64) -> String {
    match agg {
        Aggregation::Lhist { min, max, step } => lhist_label(index, min, max, step),
        Aggregation::Hist { bits } => hist_label(index, bits),
        _ => hist_label(index, 0),
    }
}

fn bucket_bounds(agg: Aggregation, index: u64) -> Bounds {
    match agg {
        Aggregation::Lhist { min, max, step } => lhist_bounds(index, min, max, step),
        Aggregation::Hist { bits } => hist_bounds(index, bits),
        _ => hist_bounds(index, 0),
    }
}

// ---------------------------------------------------------------------------------------------
// Sorting, top and div
// ---------------------------------------------------------------------------------------------

/// Orders two keys as 0.27 does: integers as signed 64-bit (so `-1` sorts before `3`, and so
/// does a `uint64` key of `u64::MAX`), strings bytewise, multi-keys element by element from the
/// left.
fn cmp_key(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Int(_)
            | Value::UInt(_)
            | Value::Bool(_)
            | Value::Enum { .. }
            | Value::Pointer(_) => 0,
            Value::Str(_) | Value::Buffer(_) => 1,
            Value::Text(_) => 2,
            Value::Tuple(_) | Value::Array(_) => 3,
            Value::Stack(..) => 4,
            Value::Record(_) => 5,
            Value::Null => 6,
        }
    }
    match (a, b) {
        (
            Value::Int(_)
            | Value::UInt(_)
            | Value::Bool(_)
            | Value::Enum { .. }
            | Value::Pointer(_),
            Value::Int(_)
            | Value::UInt(_)
            | Value::Bool(_)
            | Value::Enum { .. }
            | Value::Pointer(_),
        ) => (a.as_u64() as i64).cmp(&(b.as_u64() as i64)),
        (Value::Str(x) | Value::Buffer(x), Value::Str(y) | Value::Buffer(y)) => x.cmp(y),
        (Value::Text(x), Value::Text(y)) => x.cmp(y),
        (Value::Tuple(x) | Value::Array(x), Value::Tuple(y) | Value::Array(y)) => cmp_seq(x, y),
        (Value::Stack(_, x), Value::Stack(_, y)) => x.cmp(y),
        (Value::Record(x), Value::Record(y)) => {
            let xs: Vec<&Value> = x.iter().map(|(_, v)| v).collect();
            let ys: Vec<&Value> = y.iter().map(|(_, v)| v).collect();
            for (p, q) in xs.iter().zip(&ys) {
                let o = cmp_key(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

fn cmp_seq(x: &[Value], y: &[Value]) -> Ordering {
    for (p, q) in x.iter().zip(y) {
        let o = cmp_key(p, q);
        if o != Ordering::Equal {
            return o;
        }
    }
    x.len().cmp(&y.len())
}

/// An integer value as a mathematical number, for sorting and dividing both signed and
/// unsigned values without overflow.
fn int_of(v: &Value) -> Option<i128> {
    match v {
        Value::Int(i) => Some(i128::from(*i)),
        Value::UInt(u) => Some(i128::from(*u)),
        Value::Bool(b) => Some(i128::from(*b)),
        Value::Enum { value, .. } => Some(i128::from(*value)),
        Value::Pointer(p) => Some(i128::from(*p)),
        _ => None,
    }
}

/// `total / count` truncated toward zero, as bpftrace prints it; 0 when nothing was counted.
fn average(count: u64, total: Word) -> i128 {
    if count == 0 {
        0
    } else {
        total.value() / i128::from(count)
    }
}

/// What an entry is sorted by when it is not sorted by key: the value for counters and plain
/// integers, the average for avg/stats, the total count for histograms. Sums and averages
/// compare signed (negative sums sort first), min and max as unsigned 64-bit (`3` before `-40`),
/// as in 0.27. (0.27 prints maps of signed plain integers in hash order; we sort them signed.)
fn sort_metric(v: &MapValue) -> Option<i128> {
    match v {
        MapValue::Plain(p) => int_of(p),
        MapValue::Count(c) => Some(i128::from(*c)),
        MapValue::Sum(x) => Some(x.value()),
        MapValue::Min(x) | MapValue::Max(x) => Some(i128::from(x.bits)),
        MapValue::Avg { count, total } | MapValue::Stats { count, total } => {
            Some(average(*count, *total))
        }
        MapValue::Hist { buckets, .. } => Some(buckets.iter().map(|c| i128::from(*c)).sum()),
        // Time series print in key order.
        MapValue::Tseries { .. } => None,
    }
}

/// The entries in print order, `top` applied. Ties in the value are broken by key so the
/// output is deterministic (bpftrace leaves them in hash order).
fn sorted(dump: &MapDump, top: u64) -> Vec<&(Option<Value>, MapValue)> {
    let by_key = |a: &(Option<Value>, MapValue), b: &(Option<Value>, MapValue)| match (&a.0, &b.0) {
        (Some(x), Some(y)) => cmp_key(x, y),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    // One stable sort by (metric, key): the order of a sort by key followed by a stable sort
    // by metric, in half the comparisons (it matters for maps of 100,000 keys). The metric is
    // worked out once per entry.
    let metrics: Option<Vec<i128>> = dump.entries.iter().map(|e| sort_metric(&e.1)).collect();
    let mut v: Vec<&(Option<Value>, MapValue)> = match metrics {
        Some(metrics) => {
            let mut pairs: Vec<(i128, &(Option<Value>, MapValue))> =
                metrics.into_iter().zip(&dump.entries).collect();
            pairs.sort_by(|(ma, a), (mb, b)| ma.cmp(mb).then_with(|| by_key(a, b)));
            pairs.into_iter().map(|(_, e)| e).collect()
        }
        None => {
            let mut v: Vec<&(Option<Value>, MapValue)> = dump.entries.iter().collect();
            v.sort_by(|a, b| by_key(a, b));
            v
        }
    };
    if top > 0 {
        let keep = usize::try_from(top).unwrap_or(usize::MAX);
        if keep < v.len() {
            v.drain(..v.len() - keep);
        }
    }
    v
}

/// The divisor of `print(@m, top, div)`: 0 means "do not divide".
fn divisor(div: u64) -> i128 {
    i128::from(div.max(1))
}

/// A scalar value after `div`, as text/JSON number text. Stats are not here (`div` divides only
/// their average, see [`stats_fields`]); strings and other non-integers cannot be divided and
/// are returned as `None`.
fn divided(v: &MapValue, div: u64) -> Option<i128> {
    let d = divisor(div);
    match v {
        // Booleans, enums and pointers print as themselves (`true`, a name, `0x36`), not as
        // numbers, so they are not divided.
        MapValue::Plain(Value::Bool(_) | Value::Enum { .. } | Value::Pointer(_)) => None,
        MapValue::Plain(p) => int_of(p).map(|x| x / d),
        MapValue::Count(c) => Some(i128::from(*c) / d),
        MapValue::Sum(x) | MapValue::Min(x) | MapValue::Max(x) => Some(x.value() / d),
        MapValue::Avg { count, total } => Some(average(*count, *total) / d),
        MapValue::Stats { .. } | MapValue::Hist { .. } | MapValue::Tseries { .. } => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

/// A map key element's JSON key text: as its text, but a nested tuple or record without
/// spaces (`(2,3)`, `{.a=1,.b=x}`) and a bpftrace-mode stack not indented, as bpftrace 0.27
/// writes them. (Text keys are the values' text: [`Value::write_text`].)
fn key_elem_json(v: &Value) -> String {
    match v {
        Value::Stack(mode, frames) => crate::value::stack_text(*mode, frames, ""),
        Value::Tuple(items) => {
            let inner: Vec<String> = items.iter().map(key_elem_json).collect();
            format!("({})", inner.join(","))
        }
        Value::Record(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|(n, v)| format!(".{n}={}", key_elem_json(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        other => other.to_text(),
    }
}

/// The key string of a JSON map: a multi-key's elements joined by `,`.
fn key_json(key: &Value) -> String {
    match key {
        Value::Tuple(items) => items
            .iter()
            .map(key_elem_json)
            .collect::<Vec<_>>()
            .join(","),
        other => key_elem_json(other),
    }
}

/// `@name[key]` appended to `out`, integer keys written without a string each (the common
/// keys of big maps: `@[tid, n]`).
fn push_entry_name(out: &mut Vec<u8>, name: &str, key: &Option<Value>) {
    fn push_elem(out: &mut Vec<u8>, v: &Value) {
        match v {
            Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
            Value::UInt(u) => out.extend_from_slice(itoa::Buffer::new().format(*u).as_bytes()),
            other => other.write_text(out),
        }
    }
    out.extend_from_slice(name.as_bytes());
    match key {
        Some(Value::Tuple(items)) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                push_elem(out, item);
            }
            out.push(b']');
        }
        Some(k) => {
            out.push(b'[');
            push_elem(out, k);
            out.push(b']');
        }
        None => {}
    }
}

/// The rows that are printed: from the first to the last non-zero bucket. This is decided on
/// the counts before `div`, so a bucket that divides down to 0 still prints (as in bpftrace).
fn hist_range(buckets: &[u64]) -> Option<(usize, usize)> {
    let first = buckets.iter().position(|c| *c != 0)?;
    let last = buckets.iter().rposition(|c| *c != 0)?;
    Some((first, last))
}

/// The rows of a hist/lhist: label left in 16 columns, count right in 8, and a bar of `@`
/// scaled to [`BAR_WIDTH`] at the largest bucket. The bar uses the counts after `div`, as 0.27
/// does (0.17 scaled bars by the raw counts).
pub fn hist_rows(agg: Aggregation, buckets: &[u64], div: u64) -> String {
    let mut out = String::new();
    let Some((first, last)) = hist_range(buckets) else {
        return out;
    };
    let d = u64::try_from(divisor(div)).unwrap_or(1);
    let max = buckets.iter().map(|c| c / d).max().unwrap_or(0);
    for (i, count) in buckets.iter().enumerate().take(last + 1).skip(first) {
        let shown = count / d;
        let bar = if max == 0 {
            0
        } else {
            (u128::from(shown) * u128::from(BAR_WIDTH) / u128::from(max)) as usize
        };
        let label = bucket_label(agg, i as u64);
        let _ = writeln!(out, "{label:<16}{shown:>8} |{:<52}|", "@".repeat(bar));
    }
    out
}

/// bpftrace (0.17 and 0.27) ignores `div` for lhist (but not for hist).
fn hist_div(agg: Aggregation, div: u64) -> u64 {
    match agg {
        Aggregation::Lhist { .. } => 1,
        _ => div,
    }
}

/// The value print() shows for a scalar map that holds none (after `clear`, or before the
/// first write): 0.27 prints the zero of the value type (`@c: 0`, `@s: ` for a string, a
/// stats line of zeros), except for hist and lhist, which print nothing. Plain values are
/// decoded from zero bytes so that every type gets its own zero. At exit an empty map prints
/// nothing instead (see [`empty_map_json`]).
pub fn scalar_zero(value: &Type, sym: &dyn crate::value::Symbolizer) -> Option<MapValue> {
    match value {
        Type::Agg(agg) => match agg {
            Aggregation::Count => Some(MapValue::Count(0)),
            Aggregation::Sum { signed } => Some(MapValue::Sum(zero(*signed))),
            Aggregation::Min { signed } => Some(MapValue::Min(zero(*signed))),
            Aggregation::Max { signed } => Some(MapValue::Max(zero(*signed))),
            Aggregation::Avg { signed } => Some(MapValue::Avg {
                count: 0,
                total: zero(*signed),
            }),
            Aggregation::Stats { signed } => Some(MapValue::Stats {
                count: 0,
                total: zero(*signed),
            }),
            Aggregation::Hist { .. } | Aggregation::Lhist { .. } | Aggregation::Tseries { .. } => {
                None
            }
        },
        other => {
            let zeros = vec![0u8; other.size() as usize];
            Some(MapValue::Plain(crate::value::decode(other, &zeros, sym)))
        }
    }
}

/// The zero result of values of signedness `signed`.
fn zero(signed: bool) -> Word {
    Word { bits: 0, signed }
}

/// The JSON line of a map without entries, given its declared value type (an empty dump cannot
/// tell it): 0.27 prints `{"type": "stats", "data": {"@m": {}}}` for avg and stats maps and
/// nothing for the others. In text an empty map prints nothing at all.
pub fn empty_map_json(name: &str, value: &Type) -> String {
    match value {
        Type::Agg(Aggregation::Avg { .. } | Aggregation::Stats { .. }) => {
            json_record("stats", &format!("{{{}: {{}}}}", json_str(name)))
        }
        _ => String::new(),
    }
}

/// bpftrace 0.27's text for a map, as `print(@m, top, div)` and exit print it (`top` 0 = all
/// entries, `div` 0 = no division), in bytes: strings in keys and values are written as they
/// are, UTF-8 or not. An empty dump prints nothing.
///
/// Layout, per value kind, one line per entry:
/// * plain, count, sum, min, max, avg: `@m[k]: v`;
/// * stats: `@m[k]: { .count = N, .average = A, .total = T }` (`div` divides the average);
/// * hist/lhist: `@m[k]:` then the rows, then an empty line (bpftrace ignores div for lhist).
pub fn map_text(dump: &MapDump, top: u64, div: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let last = tseries_last(dump);
    let entries = sorted(dump, top);
    for (key, value) in entries {
        push_entry_name(&mut out, &dump.name, key);
        match value {
            MapValue::Hist { agg, buckets } => {
                out.extend_from_slice(b":\n");
                out.extend_from_slice(hist_rows(*agg, buckets, hist_div(*agg, div)).as_bytes());
                out.push(b'\n');
            }
            MapValue::Tseries { agg, slots } => {
                out.extend_from_slice(b":\n");
                out.extend_from_slice(tseries_text(*agg, slots, last).as_bytes());
                out.push(b'\n');
            }
            MapValue::Stats { count, total } => {
                let (count, avg, total) = stats_fields(*count, *total, div);
                out.extend_from_slice(
                    format!(": {{ .count = {count}, .average = {avg}, .total = {total} }}\n")
                        .as_bytes(),
                );
            }
            MapValue::Plain(p) => {
                out.extend_from_slice(b": ");
                match divided(value, div) {
                    Some(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
                    None => p.write_text(&mut out),
                }
                out.push(b'\n');
            }
            MapValue::Avg { .. }
            | MapValue::Count(_)
            | MapValue::Sum(_)
            | MapValue::Min(_)
            | MapValue::Max(_) => {
                out.extend_from_slice(b": ");
                let n = divided(value, div).unwrap_or(0);
                out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
                out.push(b'\n');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

/// A JSON string literal. serde_json escapes exactly what 0.17 escapes for ASCII; bytes that
/// are not UTF-8 become U+FFFD (0.17 prints broken `\uffffffc3` escapes for them).
pub fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// One `-f json` output line, newline included: `{"type": KIND, "data": DATA}`, with 0.17's
/// spacing (`": "` between key and value, `", "` between members). `data` is JSON text
/// already. Every JSON line rbt prints, events and maps alike, is made here.
pub fn json_record(kind: &str, data: &str) -> String {
    json_record_with(kind, &[], data)
}

/// A JSON line with members between `type` and `data` (`extra` values are JSON text already).
fn json_record_with(kind: &str, extra: &[(&str, String)], data: &str) -> String {
    let mut line = format!("{{\"type\": {}", json_str(kind));
    for (key, value) in extra {
        line.push_str(&format!(", {}: {value}", json_str(key)));
    }
    line.push_str(&format!(", \"data\": {data}}}\n"));
    line
}

/// A JSON line whose data is a string (printf, time, cat, system and join output).
pub fn json_text_record(kind: &str, text: &str) -> String {
    json_record(kind, &json_str(text))
}

/// The line saying how many probes are attached (once they are), in text, as bpftrace 0.27
/// prints it on stderr. (0.17 printed "Attaching N probes..." on stdout before attaching.)
pub fn attached_text(probes: usize) -> String {
    let s = if probes == 1 { "" } else { "s" };
    format!("Attached {probes} probe{s}\n")
}

/// The line saying how many probes are attached, in JSON on stdout: 0.27 gives the count both
/// at the top level and in `data`, as 0.17 did.
pub fn attached_json(probes: usize) -> String {
    json_record_with(
        "attached_probes",
        &[("count", probes.to_string())],
        &format!("{{\"probes\": {probes}}}"),
    )
}

/// A failed helper in JSON, newline included, as 0.27 writes it on stdout (text mode warns on
/// stderr): `{"type": "helper_error", "msg": "Bad address", "helper": "probe_read",
/// "retcode": -14, "filename": "stdin", "line": 1, "col": 38}`, with no `data` member.
pub fn helper_error_json(
    helper: &str,
    retcode: i64,
    file: &str,
    line: usize,
    col: usize,
) -> String {
    format!(
        "{{\"type\": \"helper_error\", \"msg\": {}, \"helper\": {}, \"retcode\": {retcode}, \
         \"filename\": {}, \"line\": {line}, \"col\": {col}}}\n",
        json_str(&crate::value::strerror(-retcode)),
        json_str(helper),
        json_str(file)
    )
}

/// A warning about what the program did while it ran (a division by zero), in JSON.
pub fn runtime_error_json(message: &str, file: &str, line: usize, col: usize) -> String {
    format!(
        "{{\"type\": \"runtime_error\", \"msg\": {}, \"filename\": {}, \"line\": {line}, \
         \"col\": {col}}}\n",
        json_str(message),
        json_str(file)
    )
}

/// The line saying how many events the ring buffer dropped, in JSON (text mode reports
/// lost events on stderr instead).
pub fn lost_json(events: u64) -> String {
    json_record("lost_events", &format!("{{\"events\": {events}}}"))
}

/// An integer as JSON text: a number, or a string when a double cannot hold it exactly
/// (see [`crate::value::json_int`]).
fn json_num(n: i128) -> String {
    crate::value::json_int(n).to_string()
}

/// The array of bucket objects of one histogram, 0.27 spacing (none between the objects):
/// `[{"max": -1, "count": 1},{"min": 0, "max": 0, "count": 1},{"min": 10, "count": 1}]`.
fn hist_json(agg: Aggregation, buckets: &[u64], div: u64) -> String {
    let Some((first, last)) = hist_range(buckets) else {
        return "[]".into();
    };
    let d = u64::try_from(divisor(hist_div(agg, div))).unwrap_or(1);
    let items: Vec<String> = (first..=last)
        .map(|i| {
            let b = bucket_bounds(agg, i as u64);
            let mut parts = Vec::new();
            if let Some(min) = b.min {
                parts.push(format!("\"min\": {}", json_num(min)));
            }
            if let Some(max) = b.max {
                parts.push(format!("\"max\": {}", json_num(max)));
            }
            let count = buckets.get(i).copied().unwrap_or(0) / d;
            parts.push(format!("\"count\": {}", json_num(i128::from(count))));
            format!("{{{}}}", parts.join(", "))
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// The latest epoch of every tseries slot of a map, where each key's window ends.
fn tseries_last(dump: &MapDump) -> u64 {
    crate::tseries::last_epoch(dump.entries.iter().flat_map(|(_, v)| match v {
        MapValue::Tseries { slots, .. } => slots.as_slice(),
        MapValue::Plain(_)
        | MapValue::Count(_)
        | MapValue::Sum(_)
        | MapValue::Min(_)
        | MapValue::Max(_)
        | MapValue::Avg { .. }
        | MapValue::Stats { .. }
        | MapValue::Hist { .. } => &[],
    }))
}

/// The rows of one tseries key in a map whose latest epoch is `last`.
fn tseries_rows(
    agg: Aggregation,
    slots: &[crate::tseries::Slot],
    last: u64,
) -> (Vec<(u64, Option<i128>)>, u64, bool) {
    match agg {
        Aggregation::Tseries {
            interval_ns,
            intervals,
            reduce,
            signed,
        } => (
            crate::tseries::rows(slots, last, intervals, reduce, signed),
            interval_ns,
            signed,
        ),
        // Only tseries maps hold tseries values.
        Aggregation::Count
        | Aggregation::Sum { .. }
        | Aggregation::Avg { .. }
        | Aggregation::Min { .. }
        | Aggregation::Max { .. }
        | Aggregation::Stats { .. }
        | Aggregation::Hist { .. }
        | Aggregation::Lhist { .. } => (Vec::new(), 1, true),
    }
}

fn tseries_text(agg: Aggregation, slots: &[crate::tseries::Slot], last: u64) -> String {
    let (rows, interval, signed) = tseries_rows(agg, slots, last);
    crate::tseries::chart(&rows, interval, signed)
}

/// The JSON of one entry's value (`div` applied as in text; `last` is the map's latest
/// tseries epoch).
fn value_json(value: &MapValue, div: u64, last: u64) -> String {
    match value {
        MapValue::Tseries { agg, slots } => {
            let (rows, interval, _) = tseries_rows(*agg, slots, last);
            crate::tseries::json(&rows, interval)
        }
        MapValue::Hist { agg, buckets } => hist_json(*agg, buckets, div),
        MapValue::Stats { count, total } => {
            let (count, avg, total) = stats_fields(*count, *total, div);
            format!(
                "{{\"count\": {}, \"average\": {}, \"total\": {}}}",
                json_num(i128::from(count)),
                json_num(avg),
                json_num(total)
            )
        }
        MapValue::Plain(p) => match divided(value, div) {
            Some(n) => json_num(n),
            None => p.to_json(),
        },
        MapValue::Avg { .. }
        | MapValue::Count(_)
        | MapValue::Sum(_)
        | MapValue::Min(_)
        | MapValue::Max(_) => json_num(divided(value, div).unwrap_or(0)),
    }
}

fn record_type(value: &MapValue) -> &'static str {
    match value {
        MapValue::Hist { .. } => "hist",
        MapValue::Tseries { .. } => "tseries",
        MapValue::Avg { .. } | MapValue::Stats { .. } => "stats",
        MapValue::Plain(_)
        | MapValue::Count(_)
        | MapValue::Sum(_)
        | MapValue::Min(_)
        | MapValue::Max(_) => "map",
    }
}

/// bpftrace 0.27's `-f json` line for a map, newline included, or `""` for an empty map (see
/// [`empty_map_json`] for what the runtime prints then). Shapes: `{"type": "map", "data": {"@c": 2}}`; keyed maps give an
/// object keyed by the key text, multi-keys joined by `,`; avg and stats maps have type
/// `"stats"`; hist and lhist maps type `"hist"` with an array of bucket objects. Sorting, `top`
/// and `div` are as in [`map_text`].
pub fn map_json(dump: &MapDump, top: u64, div: u64) -> String {
    let entries = sorted(dump, top);
    let Some(first) = entries.first() else {
        return String::new();
    };
    let ty = record_type(&first.1);
    let last = tseries_last(dump);
    let scalar = entries.len() == 1 && first.0.is_none();
    let body = if scalar {
        value_json(&first.1, div, last)
    } else {
        let items: Vec<String> = entries
            .iter()
            .map(|(k, v)| {
                let key = k.as_ref().map(key_json).unwrap_or_default();
                format!("{}: {}", json_str(&key), value_json(v, div, last))
            })
            .collect();
        format!("{{{}}}", items.join(", "))
    };
    json_record(ty, &format!("{{{}: {body}}}", json_str(&dump.name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::StackMode;

    /// [`map_text`] of a dump whose text is UTF-8.
    fn text(d: &MapDump, top: u64, div: u64) -> String {
        String::from_utf8(map_text(d, top, div)).expect("UTF-8")
    }

    #[test]
    fn strings_keep_their_bytes_in_text_and_become_utf8_in_json() {
        let d = MapDump {
            name: "@s".into(),
            entries: vec![(
                Some(Value::Str(b"a\xffb".to_vec())),
                MapValue::Plain(Value::Str(b"\xc3".to_vec())),
            )],
        };
        assert_eq!(map_text(&d, 0, 0), b"@s[a\xffb]: \xc3\n");
        assert_eq!(
            map_json(&d, 0, 0),
            "{\"type\": \"map\", \"data\": {\"@s\": {\"a\u{fffd}b\": \"\u{fffd}\"}}}\n"
        );
    }

    #[test]
    fn json_records_have_0_17_spacing() {
        assert_eq!(
            attached_json(2),
            "{\"type\": \"attached_probes\", \"count\": 2, \"data\": {\"probes\": 2}}\n"
        );
        assert_eq!(
            lost_json(3),
            "{\"type\": \"lost_events\", \"data\": {\"events\": 3}}\n"
        );
        assert_eq!(
            json_text_record("printf", "a \"b\"\n"),
            "{\"type\": \"printf\", \"data\": \"a \\\"b\\\"\\n\"}\n"
        );
        assert_eq!(
            helper_error_json("probe_read", -14, "stdin", 1, 38),
            "{\"type\": \"helper_error\", \"msg\": \"Bad address\", \"helper\": \"probe_read\", \
             \"retcode\": -14, \"filename\": \"stdin\", \"line\": 1, \"col\": 38}\n"
        );
        assert_eq!(attached_text(1), "Attached 1 probe\n");
        assert_eq!(attached_text(3), "Attached 3 probes\n");
    }

    fn hist(bits: u8, values: &[i64]) -> MapValue {
        let agg = Aggregation::Hist { bits };
        let mut buckets = vec![0u64; crate::types::agg_buckets(agg) as usize];
        for v in values {
            buckets[hist_bucket(*v, bits) as usize] += 1;
        }
        MapValue::Hist { agg, buckets }
    }

    #[test]
    fn hist_index_classic() {
        assert_eq!(hist_bucket(-5, 0), 0);
        assert_eq!(hist_bucket(i64::MIN, 0), 0);
        assert_eq!(hist_bucket(0, 0), 1);
        assert_eq!(hist_bucket(1, 0), 2);
        assert_eq!(hist_bucket(2, 0), 3);
        assert_eq!(hist_bucket(3, 0), 3);
        assert_eq!(hist_bucket(4, 0), 4);
        assert_eq!(hist_bucket(1023, 0), 11);
        assert_eq!(hist_bucket(1024, 0), 12);
        assert_eq!(hist_bucket(i64::MAX, 0), 64);
        assert_eq!(hist_label(0, 0), "(..., 0)");
        assert_eq!(hist_label(1, 0), "[0]");
        assert_eq!(hist_label(2, 0), "[1]");
        assert_eq!(hist_label(3, 0), "[2, 4)");
        assert_eq!(hist_label(11, 0), "[512, 1K)");
        assert_eq!(hist_label(22, 0), "[1M, 2M)");
        assert_eq!(hist_label(33, 0), "[2G, 4G)");
        assert_eq!(hist_label(47, 0), "[32T, 64T)");
        assert_eq!(hist_label(52, 0), "[1P, 2P)");
        assert_eq!(hist_label(64, 0), "[4E, 8E)");
    }

    #[test]
    fn hist_index_with_sub_buckets() {
        // Sub-buckets narrower than 1K print in full, wider ones in units; an upper edge is
        // the lower edge of the next bucket and printed as that one is.
        assert_eq!(hist_label(hist_bucket(1000, 2), 2), "[896, 1024)");
        assert_eq!(hist_label(hist_bucket(1600, 1), 1), "[1536, 2K)");
        assert_eq!(hist_label(hist_bucket(3000, 1), 1), "[2K, 3K)");
        assert_eq!(hist_label(hist_bucket(1 << 20, 3), 3), "[1024K, 1152K)");
        // bpftrace 0.20's hist(n, 2): [0] .. [7] single values, then [8, 10), [10, 12), ...
        let labels: Vec<String> = (1..=14).map(|i| hist_label(i, 2)).collect();
        assert_eq!(
            labels,
            [
                "[0]", "[1]", "[2]", "[3]", "[4]", "[5]", "[6]", "[7]", "[8, 10)", "[10, 12)",
                "[12, 14)", "[14, 16)", "[16, 20)", "[20, 24)"
            ]
        );
        // Every value lands in the bucket whose bounds contain it, for every bits.
        for bits in 0..=MAX_HIST_BITS {
            let mut samples: Vec<i64> = (-3..300).collect();
            for p in 0..63 {
                let b = 1i64 << p;
                samples.extend([b - 1, b, b + 1, b + b / 3]);
            }
            samples.push(i64::MAX);
            samples.sort_unstable();
            let mut last = 0;
            for v in samples {
                let i = hist_bucket(v, bits);
                let b = hist_bounds(i, bits);
                let v = i128::from(v);
                let above_min = b.min.into_iter().all(|m| m <= v);
                let below_max = b.max.into_iter().all(|m| v <= m);
                assert!(above_min && below_max, "{v} in {i} bits {bits}");
                assert!(i < u64::from(crate::types::agg_buckets(Aggregation::Hist { bits })));
                if v >= 0 {
                    assert!(i >= last);
                    last = i;
                }
            }
            assert_eq!(hist_bucket(i64::MAX, bits), u64::from(64 - bits) << bits);
        }
        // Past the real range nothing panics.
        let _ = hist_label(u64::MAX, 5);
        let _ = hist_label(u64::MAX, 200);
        assert_eq!(hist_bucket(7, 200), hist_bucket(7, MAX_HIST_BITS));
    }

    #[test]
    fn lhist_index() {
        assert_eq!(lhist_bucket(-1, 0, 10, 2), 0);
        assert_eq!(lhist_bucket(0, 0, 10, 2), 1);
        assert_eq!(lhist_bucket(9, 0, 10, 2), 5);
        assert_eq!(lhist_bucket(10, 0, 10, 2), 6);
        // 0.17 puts 9 of lhist(_, 0, 10, 3) in the overflow bucket.
        assert_eq!(lhist_bucket(9, 0, 10, 3), 4);
        assert_eq!(lhist_label(4, 0, 10, 3), "[9, ...)");
        assert_eq!(lhist_label(0, 1024, 4096, 1024), "(..., 1K)");
        assert_eq!(lhist_label(1, 0, 3145728, 1048576), "[0, 1M)");
        // Units come from min and step together; one-value buckets print as `[v]`.
        assert_eq!(lhist_label(2, 1024, 3146752, 1048576), "[1025K, 2049K)");
        assert_eq!(lhist_label(2, 1024, 2048, 256), "[1280, 1536)");
        assert_eq!(lhist_label(4, 0, 10, 1), "[3]");
        assert_eq!(lhist_label(11, 0, 10, 1), "[10, ...)");
        assert_eq!(lhist_bucket(i64::MAX, i64::MIN, i64::MAX, 1), 100_001);
        assert_eq!(lhist_bucket(5, 0, 10, 0), 6);
        assert_eq!(lhist_bucket(5, 10, 0, 1), 0);
        assert_eq!(lhist_bucket(15, 10, 0, 1), 1);
        assert_eq!(lhist_label(1, 10, 0, 1), "[10, ...)");
    }

    #[test]
    fn text_layouts() {
        let d = MapDump {
            name: "@x".into(),
            entries: vec![(None, MapValue::Count(1))],
        };
        assert_eq!(text(&d, 0, 0), "@x: 1\n");
        assert_eq!(
            map_json(&d, 0, 0),
            "{\"type\": \"map\", \"data\": {\"@x\": 1}}\n"
        );
        let d = MapDump {
            name: "@h".into(),
            entries: vec![(None, hist(0, &[0, 1, 3, 1000, -5]))],
        };
        let hist_text = text(&d, 0, 0);
        assert!(hist_text.starts_with("@h:\n(..., 0)               1 |@@@@"));
        assert!(hist_text.ends_with(
            "[512, 1K)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n"
        ));
        let d = MapDump {
            name: "@s".into(),
            entries: vec![(
                None,
                MapValue::Stats {
                    count: 2,
                    total: Word::signed(-15),
                },
            )],
        };
        assert_eq!(
            text(&d, 0, 0),
            "@s: { .count = 2, .average = -7, .total = -15 }\n"
        );
        assert_eq!(
            text(&d, 0, 2),
            "@s: { .count = 2, .average = -3, .total = -15 }\n"
        );
        let d = MapDump {
            name: "@e".into(),
            entries: vec![],
        };
        assert_eq!(text(&d, 0, 0), "");
        assert_eq!(map_json(&d, 0, 0), "");
        assert_eq!(
            empty_map_json("@e", &Type::Agg(Aggregation::Avg { signed: true })),
            "{\"type\": \"stats\", \"data\": {\"@e\": {}}}\n"
        );
        assert_eq!(empty_map_json("@e", &Type::Agg(Aggregation::Count)), "");
    }

    /// Entries print by value, ties by key (integers signed, then tuples element by element),
    /// whatever order the kernel handed them over in; string keys and values print as text.
    #[test]
    fn order_by_value_then_key() {
        let key = |t: i64, n: u64| Some(Value::Tuple(vec![Value::Int(t), Value::UInt(n)]));
        let d = MapDump {
            name: "@".into(),
            entries: vec![
                (key(7, 2), MapValue::Count(5)),
                (key(-1, 9), MapValue::Count(5)),
                (key(7, 1), MapValue::Count(5)),
                (key(3, 0), MapValue::Count(1)),
                (key(2, u64::MAX), MapValue::Count(9)),
            ],
        };
        assert_eq!(
            text(&d, 0, 0),
            "@[3, 0]: 1\n@[-1, 9]: 5\n@[7, 1]: 5\n@[7, 2]: 5\n@[2, 18446744073709551615]: 9\n"
        );
        assert_eq!(
            text(&d, 2, 0),
            "@[7, 2]: 5\n@[2, 18446744073709551615]: 9\n"
        );
        let d = MapDump {
            name: "@s".into(),
            entries: vec![
                (
                    Some(Value::Str(b"b".to_vec())),
                    MapValue::Plain(Value::Str(b"y".to_vec())),
                ),
                (
                    Some(Value::Str(b"a".to_vec())),
                    MapValue::Plain(Value::Str(b"x".to_vec())),
                ),
            ],
        };
        assert_eq!(text(&d, 0, 0), "@s[a]: x\n@s[b]: y\n");
    }

    #[test]
    fn unsigned_results_print_unsigned() {
        let d = MapDump {
            name: "@m".into(),
            entries: vec![
                (Some(Value::Int(1)), MapValue::Max(Word::unsigned(u64::MAX))),
                (Some(Value::Int(2)), MapValue::Max(Word::unsigned(1 << 63))),
            ],
        };
        assert_eq!(
            text(&d, 0, 0),
            "@m[2]: 9223372036854775808\n@m[1]: 18446744073709551615\n"
        );
        assert_eq!(
            map_json(&d, 0, 0),
            "{\"type\": \"map\", \"data\": {\"@m\": {\"2\": 9223372036854775808, \
             \"1\": \"18446744073709551615\"}}}\n"
        );
        let total = Word::unsigned(u64::MAX - 1);
        let d = MapDump {
            name: "@s".into(),
            entries: vec![(None, MapValue::Stats { count: 2, total })],
        };
        assert_eq!(
            text(&d, 0, 0),
            "@s: { .count = 2, .average = 9223372036854775807, .total = 18446744073709551614 }\n"
        );
    }

    #[test]
    fn json_integers_beyond_doubles_are_strings() {
        let d = MapDump {
            name: "@x".into(),
            entries: vec![
                (
                    Some(Value::Int(1)),
                    MapValue::Sum(Word::signed(9_007_199_254_740_992)),
                ),
                (
                    Some(Value::Int(2)),
                    MapValue::Sum(Word::signed(9_007_199_254_740_993)),
                ),
                (Some(Value::Int(3)), MapValue::Sum(Word::signed(i64::MIN))),
                (Some(Value::Int(4)), MapValue::Plain(Value::UInt(u64::MAX))),
                (
                    Some(Value::Int(5)),
                    MapValue::Plain(Value::Pointer(0xffff_ffff_8100_0001)),
                ),
            ],
        };
        assert_eq!(
            map_json(&d, 0, 0),
            "{\"type\": \"map\", \"data\": {\"@x\": {\"3\": -9223372036854775808, \
             \"1\": 9007199254740992, \"2\": \"9007199254740993\", \
             \"5\": \"18446744071578845185\", \"4\": \"18446744073709551615\"}}}\n"
        );
    }

    #[test]
    fn stack_keys_and_values() {
        let stack = Value::Stack(StackMode::Bpftrace, vec!["f+1".into(), "g+2".into()]);
        let d = MapDump {
            name: "@u".into(),
            entries: vec![(
                Some(Value::Tuple(vec![stack.clone(), Value::Int(5)])),
                MapValue::Count(1),
            )],
        };
        assert_eq!(text(&d, 0, 0), "@u[\n        f+1\n        g+2\n, 5]: 1\n");
        assert_eq!(
            map_json(&d, 0, 0),
            "{\"type\": \"map\", \"data\": {\"@u\": {\"\\nf+1\\ng+2\\n,5\": 1}}}\n"
        );
        let d = MapDump {
            name: "@s".into(),
            entries: vec![(None, MapValue::Plain(stack))],
        };
        assert_eq!(text(&d, 0, 0), "@s: \n        f+1\n        g+2\n\n");
    }

    #[test]
    fn stack_modes_and_empty_stacks() {
        // perf mode indents by a tab as key and as value; an empty stack prints nothing.
        let perf = Value::Stack(StackMode::Perf, vec!["ffff1 f+1".into()]);
        let empty = Value::Stack(StackMode::Bpftrace, Vec::new());
        let d = MapDump {
            name: "@k".into(),
            entries: vec![
                (Some(perf.clone()), MapValue::Count(2)),
                (Some(empty.clone()), MapValue::Count(1)),
            ],
        };
        assert_eq!(text(&d, 0, 0), "@k[]: 1\n@k[\n\tffff1 f+1\n]: 2\n");
        assert_eq!(perf.to_text(), "\n\tffff1 f+1\n");
        assert_eq!(empty.to_text(), "");
        let raw = Value::Stack(StackMode::Raw, vec!["ffff1".into(), "ffff2".into()]);
        assert_eq!(raw.to_text(), "\nffff1\nffff2\n");
    }

    #[test]
    fn no_panics_on_extremes() {
        let agg = Aggregation::Hist { bits: 0 };
        let entries = vec![
            (
                Some(Value::Int(1)),
                MapValue::Hist {
                    agg,
                    buckets: vec![],
                },
            ),
            (
                Some(Value::Int(2)),
                MapValue::Hist {
                    agg,
                    buckets: vec![0; 3],
                },
            ),
            (
                Some(Value::Int(3)),
                MapValue::Hist {
                    agg,
                    buckets: vec![u64::MAX, u64::MAX, 1],
                },
            ),
        ];
        let d = MapDump {
            name: "@h".into(),
            entries,
        };
        let _ = text(&d, u64::MAX, u64::MAX);
        let _ = map_json(&d, 1, 0);
        let d = MapDump {
            name: "@a".into(),
            entries: vec![
                (
                    None,
                    MapValue::Avg {
                        count: 0,
                        total: Word::signed(i64::MIN),
                    },
                ),
                (
                    None,
                    MapValue::Avg {
                        count: u64::MAX,
                        total: Word::signed(i64::MIN),
                    },
                ),
                (None, MapValue::Sum(Word::signed(i64::MIN))),
                (None, MapValue::Plain(Value::UInt(u64::MAX))),
            ],
        };
        let _ = text(&d, 0, u64::MAX);
        let _ = map_json(&d, 0, 3);
    }
}

//! `tseries()` maps read back and printed as bpftrace 0.27 prints them: the window of
//! intervals a map shows, the text chart (one row per interval, a `*` placed between the
//! smallest and largest value) and the JSON array of `{"interval_start", "value"}` objects.
//!
//! The BPF side keeps one slot per (key, `epoch % intervals`), where the epoch is the
//! timestamp divided by the interval; a slot is a [`crate::types::TSERIES_SLOT`] of (epoch,
//! value, count). A map shows the `intervals` epochs that end at the latest epoch of any of its
//! keys; each key's chart starts at its first interval with a value there. As in 0.27, a map
//! whose latest epoch is below `intervals - 1` shows nothing (`<no data>`), and a value
//! written in epoch 0 (only a `BPFTRACE_DUMMY_TS_MAP` clock starts there) reads as 0.

use crate::types::TsReduce;
use std::fmt::Write as _;

/// One slot of a tseries map, its CPU copies merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Slot {
    pub epoch: u64,
    /// The reduced value; for avg the total of `count` values.
    pub value: i64,
    pub count: u64,
}

/// Columns of the chart between and including its two edges.
const GRAPH: usize = 53;
/// Columns the smallest value takes in the scale lines (left-aligned); the largest is
/// right-aligned in the rest.
const PAD: usize = 21;

/// Merges the per-CPU copies of one slot: the newest epoch wins; copies of that epoch that
/// hold values are reduced together. A copy without values (a CPU that never wrote the slot)
/// takes no part.
pub fn merge_cpus(reduce: TsReduce, signed: bool, copies: &[Slot]) -> Slot {
    let Some(epoch) = copies.iter().filter(|s| s.count > 0).map(|s| s.epoch).max() else {
        // Nothing written anywhere: the slot exists, with the zeros it was created with.
        let epoch = copies.iter().map(|s| s.epoch).max().unwrap_or(0);
        return Slot {
            epoch,
            value: 0,
            count: 0,
        };
    };
    let mut out: Option<Slot> = None;
    for s in copies.iter().filter(|s| s.count > 0 && s.epoch == epoch) {
        out = Some(match out {
            None => *s,
            Some(acc) => Slot {
                epoch,
                value: match reduce {
                    TsReduce::Sum | TsReduce::Avg => acc.value.wrapping_add(s.value),
                    TsReduce::Max => pick(signed, acc.value, s.value, true),
                    TsReduce::Min => pick(signed, acc.value, s.value, false),
                    TsReduce::Last => s.value,
                },
                count: acc.count.saturating_add(s.count),
            },
        });
    }
    out.unwrap_or_default()
}

/// The larger (`larger`) or smaller of two values, compared as the value type compares them.
fn pick(signed: bool, a: i64, b: i64, larger: bool) -> i64 {
    let a_less = if signed {
        a < b
    } else {
        (a as u64) < (b as u64)
    };
    if a_less == larger {
        b
    } else {
        a
    }
}

/// The latest epoch of any slot of a map: where every key's window ends.
pub fn last_epoch<'a>(slots: impl Iterator<Item = &'a Slot>) -> u64 {
    slots.map(|s| s.epoch).max().unwrap_or(0)
}

/// The rows one key shows: `(epoch, value)` from its first interval with a value in the
/// window of `intervals` epochs ending at `last`, up to `last`; an interval without a value is
/// `None`. No rows when the window would start before epoch 0; a key without a value in the
/// window shows `last` alone, empty.
pub fn rows(
    slots: &[Slot],
    last: u64,
    intervals: u32,
    reduce: TsReduce,
    signed: bool,
) -> Vec<(u64, Option<i128>)> {
    let Some(start) = last.checked_sub(u64::from(intervals.max(1)) - 1) else {
        return Vec::new();
    };
    let by_epoch: std::collections::HashMap<u64, &Slot> = slots
        .iter()
        .filter(|s| (start..=last).contains(&s.epoch))
        .map(|s| (s.epoch, s))
        .collect();
    let value_at = |epoch: u64| by_epoch.get(&epoch).map(|s| value_of(s, reduce, signed));
    let first = (start..=last).find(|e| value_at(*e).is_some());
    match first {
        Some(first) => (first..=last).map(|e| (e, value_at(e))).collect(),
        None => vec![(last, None)],
    }
}

/// The value a slot shows: avg divides its total (a slot without values shows 0).
fn value_of(s: &Slot, reduce: TsReduce, signed: bool) -> i128 {
    let whole = |v: i64| {
        if signed {
            i128::from(v)
        } else {
            i128::from(v as u64)
        }
    };
    match reduce {
        TsReduce::Avg if s.count > 0 => whole(s.value) / i128::from(s.count),
        TsReduce::Avg => 0,
        TsReduce::Last | TsReduce::Max | TsReduce::Min | TsReduce::Sum => whole(s.value),
    }
}

/// The unit the row times are shown in, from the spacing of the rows: seconds from one
/// second up, then ms, µs and ns (a single row counts as 0 ns apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    S,
    Ms,
    Us,
    Ns,
}

impl Unit {
    fn of(ns: u128) -> Unit {
        if ns >= 1_000_000_000 {
            Unit::S
        } else if ns >= 1_000_000 {
            Unit::Ms
        } else if ns >= 1_000 {
            Unit::Us
        } else {
            Unit::Ns
        }
    }

    /// The heading of the time column and its width in bytes (`µ` takes two, as in 0.27).
    fn heading(self) -> (&'static str, usize) {
        match self {
            Unit::S => ("hh:mm:ss", 8),
            Unit::Ms => ("hh:mm:ss.ms", 12),
            Unit::Us => ("hh:mm:ss.μs", 15),
            Unit::Ns => ("hh:mm:ss.ns", 18),
        }
    }

    /// The fraction of a second shown after the seconds.
    fn fraction(self, nanos: u32) -> String {
        match self {
            Unit::S => String::new(),
            Unit::Ms => format!(".{:03}", nanos / 1_000_000),
            Unit::Us => format!(".{:06}", nanos / 1_000),
            Unit::Ns => format!(".{nanos:09}"),
        }
    }
}

/// The (seconds, nanoseconds) since the Unix epoch where interval `epoch` starts.
fn start_of(epoch: u64, interval_ns: u64) -> (i64, u32) {
    let ns = u128::from(epoch) * u128::from(interval_ns);
    let secs = i64::try_from(ns / 1_000_000_000).unwrap_or(i64::MAX);
    (secs, (ns % 1_000_000_000) as u32)
}

/// The text chart of one key's rows, newline-terminated, or `<no data>` without a newline
/// for no rows (the map printer adds one newline after either).
pub fn chart(rows: &[(u64, Option<i128>)], interval_ns: u64, signed: bool) -> String {
    let (Some(front), Some(back)) = (rows.first(), rows.last()) else {
        return "<no data>".to_string();
    };
    let present = rows.iter().filter_map(|r| r.1);
    let (mut lo, mut hi) = (present.clone().min(), present.max());
    let (type_min, type_max) = if signed {
        (i128::from(i64::MIN), i128::from(i64::MAX))
    } else {
        (0, i128::from(u64::MAX))
    };
    if let (Some(l), Some(h)) = (lo, hi) {
        if l == h {
            // Room on both sides of a flat line, where the type allows it.
            lo = Some(if l > type_min { l - 1 } else { l });
            hi = Some(if h < type_max { h + 1 } else { h });
        }
    }
    let gaps = (rows.len() as u128).saturating_sub(1).max(1);
    let spacing = u128::from(back.0 - front.0) * u128::from(interval_ns) / gaps;
    let unit = Unit::of(spacing);
    let (heading, width) = unit.heading();
    let bound = |b: Option<i128>| b.map_or_else(|| "null".to_string(), |v| v.to_string());
    let scale = format!(
        "{:w$} {:<PAD$}{:>r$}\n",
        "",
        bound(lo),
        bound(hi),
        w = width,
        r = GRAPH - PAD
    );
    let mut out = scale.clone();
    // `µ` is two bytes: pad by bytes, as 0.27 does.
    let pad = (width + 1).saturating_sub(heading.len());
    let _ = writeln!(out, "{heading}{:pad$}|{}|", "", "_".repeat(GRAPH - 2));
    let zero = match (lo, hi) {
        (Some(l), Some(h)) if l < 0 && h > 0 => {
            (GRAPH as f32 * (-l) as f32 / (h - l) as f32) as usize
        }
        _ => 0,
    };
    for (epoch, value) in rows {
        let mut line = vec![b' '; GRAPH];
        line[0] = b'|';
        line[GRAPH - 1] = b'|';
        if zero > 0 && zero < GRAPH {
            line[zero] = b'.';
        }
        let (secs, nanos) = start_of(*epoch, interval_ns);
        let time = crate::timefmt::format_time("%H:%M:%S", secs, nanos, true)
            .unwrap_or_else(|| crate::timefmt::FAILED.to_string());
        let shown = match (value, lo, hi) {
            (Some(v), Some(l), Some(h)) => {
                let at = if l == h {
                    GRAPH / 2
                } else {
                    ((GRAPH - 1) as f32 * (v - l) as f32 / (h - l) as f32) as usize
                };
                line[at.min(GRAPH - 1)] = b'*';
                v.to_string()
            }
            _ => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "{time}{} {} {shown}",
            unit.fraction(nanos),
            String::from_utf8_lossy(&line)
        );
    }
    let mut bottom = vec![b'_'; GRAPH];
    bottom[0] = b'v';
    bottom[GRAPH - 1] = b'v';
    let _ = writeln!(
        out,
        "{:w$} {}",
        "",
        String::from_utf8_lossy(&bottom),
        w = width
    );
    out.push_str(&scale);
    out
}

/// The JSON array of one key's rows: `{"interval_start":"1970-01-01 00:00:00.500000000",
/// "value":9}` for each interval with a value (empty intervals are left out), as 0.27 writes
/// it (no spaces).
pub fn json(rows: &[(u64, Option<i128>)], interval_ns: u64) -> String {
    let items: Vec<String> = rows
        .iter()
        .filter_map(|(epoch, value)| {
            let v = (*value)?;
            let (secs, nanos) = start_of(*epoch, interval_ns);
            let date = crate::timefmt::format_time("%Y-%m-%d %H:%M:%S", secs, nanos, true)
                .unwrap_or_else(|| crate::timefmt::FAILED.to_string());
            Some(format!(
                "{{\"interval_start\":\"{date}.{nanos:09}\",\"value\":{v}}}"
            ))
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(epoch: u64, value: i64) -> Slot {
        Slot {
            epoch,
            value,
            count: 1,
        }
    }

    #[test]
    fn window_ends_at_the_latest_epoch() {
        let slots = [slot(1, 5), slot(2, 6)];
        // Latest epoch 9 of another key, 10 intervals: 1 and 2 show, then empty ones.
        let r = rows(&slots, 9, 10, TsReduce::Last, true);
        assert_eq!(r.len(), 9);
        assert_eq!(r[0], (1, Some(5)));
        assert_eq!(r[8], (9, None));
        // A window that would start before epoch 0 shows nothing.
        assert!(rows(&slots, 2, 10, TsReduce::Last, true).is_empty());
        // The last epoch a clock can give does not overflow.
        assert_eq!(
            rows(&[slot(u64::MAX, 1)], u64::MAX, 2, TsReduce::Last, true),
            vec![(u64::MAX, Some(1))]
        );
        // No value in the window: the latest epoch alone.
        assert_eq!(rows(&slots, 30, 10, TsReduce::Last, true), vec![(30, None)]);
    }

    #[test]
    fn cpu_copies_merge() {
        let a = Slot {
            epoch: 4,
            value: 3,
            count: 2,
        };
        let b = Slot {
            epoch: 4,
            value: -1,
            count: 1,
        };
        let stale = slot(3, 100);
        let empty = Slot::default();
        let m = merge_cpus(TsReduce::Avg, true, &[a, empty, b, stale]);
        assert_eq!((m.epoch, m.value, m.count), (4, 2, 3));
        assert_eq!(merge_cpus(TsReduce::Max, true, &[a, b]).value, 3);
        assert_eq!(merge_cpus(TsReduce::Max, false, &[a, b]).value, -1);
        assert_eq!(merge_cpus(TsReduce::Min, true, &[a, b]).value, -1);
    }

    #[test]
    fn chart_layout() {
        let rows = [(5, Some(9)), (6, None), (7, Some(9))];
        let text = chart(&rows, 100_000_000, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "             8                                                  10"
        );
        assert_eq!(
            lines[1],
            "hh:mm:ss.ms  |___________________________________________________|"
        );
        assert!(lines[2].ends_with("|                         *                         | 9"));
        assert!(lines[3].ends_with("|                                                   | -"));
        assert_eq!(chart(&[], 1, true), "<no data>");
        // Unsigned 0 cannot go below 0: the scale is 0 to 1.
        let zero = chart(&[(1, Some(0))], 1, false);
        assert!(zero
            .lines()
            .next()
            .is_some_and(|l| l.trim() == "0                                                   1"));
    }
}

//! Map printing as bpftrace prints it: text (`@x[k]: v`, hist/lhist art, avg, stats) and
//! JSON (`{"type": "map", ...}`), with bpftrace's sort order and `print(@m, top, div)`.

use crate::types::Aggregation;
use crate::value::Value;

/// The per-key value of a map, CPU slots already summed by the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum MapValue {
    /// A plain (non-aggregation) value.
    Plain(Value),
    /// count/sum: the running total.
    Count(u64),
    Sum(i64),
    Min(i64),
    Max(i64),
    Avg { count: u64, total: i64 },
    Stats { count: u64, total: i64 },
    /// hist/lhist: count per bucket index, indexed as the BPF side indexes them.
    Hist { agg: Aggregation, buckets: Vec<u64> },
}

/// One map's contents: its script name (`@x`) and entries; `key` is `None` for scalar maps.
#[derive(Debug, Clone, PartialEq)]
pub struct MapDump {
    pub name: String,
    pub entries: Vec<(Option<Value>, MapValue)>,
}

fn sort_key(v: &MapValue) -> i128 {
    match v {
        MapValue::Plain(Value::Int(i)) => i128::from(*i),
        MapValue::Plain(Value::UInt(u)) => i128::from(*u),
        MapValue::Plain(_) => 0,
        MapValue::Count(c) => i128::from(*c),
        MapValue::Sum(s) | MapValue::Min(s) | MapValue::Max(s) => i128::from(*s),
        MapValue::Avg { count, total } | MapValue::Stats { count, total } => {
            i128::from(*total) / i128::from((*count).max(1))
        }
        MapValue::Hist { buckets, .. } => buckets.iter().map(|b| i128::from(*b)).sum(),
    }
}

/// Entries in bpftrace's print order, `top` largest kept (0 keeps all).
fn ordered(dump: &MapDump, top: u64) -> Vec<&(Option<Value>, MapValue)> {
    let mut v: Vec<&(Option<Value>, MapValue)> = dump.entries.iter().collect();
    let by_value = v.iter().all(|(_, m)| !matches!(m, MapValue::Plain(Value::Str(_) | Value::Tuple(_) | Value::Text(_))));
    if by_value {
        v.sort_by_key(|(_, m)| sort_key(m));
    } else {
        v.sort_by_key(|(k, _)| k.as_ref().map(Value::to_text));
    }
    if top > 0 && (top as usize) < v.len() {
        v.drain(..v.len() - top as usize);
    }
    v
}

fn key_text(name: &str, key: &Option<Value>) -> String {
    match key {
        None => name.to_string(),
        Some(Value::Tuple(items)) => {
            format!("{name}[{}]", items.iter().map(Value::to_text).collect::<Vec<_>>().join(", "))
        }
        Some(k) => format!("{name}[{}]", k.to_text()),
    }
}

fn scaled(v: i128, div: u64) -> i128 {
    v / i128::from(div.max(1))
}

/// The `[lo, hi)` label of bucket `i`.
fn hist_label(agg: Aggregation, i: usize) -> String {
    fn num(n: i64) -> String {
        const UNITS: [(i64, &str); 4] = [(1 << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
        for (u, s) in UNITS {
            if n != 0 && n % u == 0 {
                return format!("{}{s}", n / u);
            }
        }
        n.to_string()
    }
    match agg {
        Aggregation::Hist { bits } => {
            let per = 1usize << bits;
            match i {
                0 => "(..., 0)".into(),
                1 => "[0]".into(),
                _ => {
                    let k = (i - 2) / per;
                    let sub = (i - 2) % per;
                    let base = 1i64 << k;
                    let width = (base / per as i64).max(1);
                    let lo = base + sub as i64 * width;
                    let hi = lo + width;
                    if hi - lo == 1 {
                        format!("[{}]", num(lo))
                    } else {
                        format!("[{}, {})", num(lo), num(hi))
                    }
                }
            }
        }
        Aggregation::Lhist { min, max, step } => {
            let n = ((max - min) / step) as usize;
            if i == 0 {
                format!("(..., {})", num(min))
            } else if i > n {
                format!("[{}, ...)", num(max))
            } else {
                let lo = min + (i as i64 - 1) * step;
                format!("[{}, {})", num(lo), num(lo + step))
            }
        }
        _ => String::new(),
    }
}

fn hist_art(agg: Aggregation, buckets: &[u64], div: u64) -> String {
    let div = if matches!(agg, Aggregation::Lhist { .. }) { 1 } else { div.max(1) };
    let counts: Vec<u64> = buckets.iter().map(|b| b / div).collect();
    let (Some(first), Some(last)) = (counts.iter().position(|c| *c > 0), counts.iter().rposition(|c| *c > 0)) else {
        return String::new();
    };
    let max = counts.iter().copied().max().unwrap_or(1).max(1);
    let mut out = String::new();
    for (i, c) in counts.iter().enumerate().take(last + 1).skip(first) {
        let bar = (*c as u128 * 52 / u128::from(max)) as usize;
        out.push_str(&format!("{:<16}{:>8} |{}{}|\n", hist_label(agg, i), c, "@".repeat(bar), " ".repeat(52 - bar)));
    }
    out
}

/// A map as bpftrace's text output prints it (used at exit and by `print(@m, top, div)`).
pub fn map_text(dump: &MapDump, top: u64, div: u64) -> String {
    let mut out = String::new();
    let entries = ordered(dump, top);
    let mut blank_after = false;
    for (k, v) in entries {
        let name = key_text(&dump.name, k);
        match v {
            MapValue::Hist { agg, buckets } => {
                out.push_str(&format!("{name}: \n{}\n", hist_art(*agg, buckets, div)));
            }
            MapValue::Stats { count, total } => {
                let avg = if *count == 0 { 0 } else { i128::from(*total) / i128::from(*count) };
                out.push_str(&format!("{name}: count {count}, average {avg}, total {total}\n"));
                blank_after = true;
            }
            MapValue::Avg { count, total } => {
                let avg = if *count == 0 { 0 } else { i128::from(*total) / i128::from(*count) };
                out.push_str(&format!("{name}: {}\n", scaled(avg, div)));
                blank_after = true;
            }
            MapValue::Plain(Value::Int(_) | Value::UInt(_)) | MapValue::Count(_) | MapValue::Sum(_) | MapValue::Min(_) | MapValue::Max(_) => {
                out.push_str(&format!("{name}: {}\n", scaled(sort_key(v), div)));
            }
            MapValue::Plain(val) => out.push_str(&format!("{name}: {}\n", val.to_text())),
        }
    }
    if !dump.entries.iter().any(|(_, v)| matches!(v, MapValue::Hist { .. })) || blank_after {
        out.push('\n');
    }
    out
}

/// A map as one `-f json` line.
pub fn map_json(dump: &MapDump, top: u64, div: u64) -> String {
    use serde_json::{json, Map, Value as J};
    let entries = ordered(dump, top);
    let kind = match entries.first().map(|(_, v)| v) {
        Some(MapValue::Hist { .. }) => "hist",
        Some(MapValue::Avg { .. } | MapValue::Stats { .. }) => "stats",
        _ => "map",
    };
    let value_json = |v: &MapValue| -> J {
        match v {
            MapValue::Plain(val) => val.to_json(),
            MapValue::Stats { count, total } => {
                json!({"count": count, "average": if *count == 0 { 0 } else { total / *count as i64 }, "total": total})
            }
            MapValue::Hist { agg, buckets } => J::Array(
                buckets
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .map(|(i, c)| json!({"bucket": hist_label(*agg, i), "count": c}))
                    .collect(),
            ),
            other => J::from(scaled(sort_key(other), div) as i64),
        }
    };
    let data = if entries.len() == 1 && entries[0].0.is_none() {
        value_json(&entries[0].1)
    } else {
        let mut m = Map::new();
        for (k, v) in &entries {
            let key = match k {
                Some(Value::Tuple(items)) => items.iter().map(Value::to_text).collect::<Vec<_>>().join(","),
                Some(k) => k.to_text(),
                None => String::new(),
            };
            m.insert(key, value_json(v));
        }
        J::Object(m)
    };
    let mut outer = Map::new();
    outer.insert(dump.name.clone(), data);
    format!("{{\"type\": \"{kind}\", \"data\": {}}}\n", J::Object(outer))
}

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

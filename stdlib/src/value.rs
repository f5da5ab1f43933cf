//! Values decoded from BPF memory (event payloads, map keys and values) and the pure
//! renderers that turn them into bpftrace's text: integers, strings, tuples, `ntop` addresses,
//! `macaddr`, symbols and stacks. Symbolization needs the kernel or a process, so it comes in
//! through the [`Symbolizer`] trait that the runtime implements.

use crate::abi;
use crate::names;
use crate::types::{tuple_layout, StackMode, StackSource, Type};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    UInt(u64),
    Bool(bool),
    /// String bytes up to (not including) the first NUL.
    Str(Vec<u8>),
    Buffer(Vec<u8>),
    Tuple(Vec<Value>),
    /// A C array (`int x[4]`, `int8[2][2]`), printed `[1,2,3,4]` as bpftrace 0.27 does.
    Array(Vec<Value>),
    /// A pointer: an address printed in hex (`0x36`) as a value or key, a number in JSON.
    Pointer(u64),
    /// A value already rendered to text (addresses, symbols, user names, probe names).
    Text(String),
    /// Stack frames, innermost first, already symbolized in the text of their mode
    /// (`sym+off`; perf: `addr sym+off` and, in user space, ` (path)`; raw: `addr`).
    Stack(StackMode, Vec<String>),
    /// `print()` of a struct: fields in order.
    Record(Vec<(String, Value)>),
    /// A value of an enum type that is one of its enumerators: text (`print`, map output,
    /// `%s`) shows the name, numbers (`%d`) and JSON the value, as in bpftrace 0.27.
    Enum {
        value: u64,
        name: String,
    },
    /// A value rbt cannot compute with (a `float` or `double` member of a struct): printed
    /// `null` in text and JSON, as bpftrace prints its "none" type.
    Null,
}

impl Value {
    /// The value as an unsigned 64-bit integer (two's complement for negatives).
    pub fn as_u64(&self) -> u64 {
        match self {
            Value::Int(i) => *i as u64,
            Value::UInt(u) => *u,
            Value::Bool(b) => u64::from(*b),
            Value::Enum { value, .. } => *value,
            Value::Pointer(p) => *p,
            Value::Str(_)
            | Value::Buffer(_)
            | Value::Tuple(_)
            | Value::Array(_)
            | Value::Text(_)
            | Value::Stack(..)
            | Value::Record(_)
            | Value::Null => 0,
        }
    }

    /// bpftrace's plain-text rendering (map values, `print`, `%s`), appended to `out` as
    /// bytes: a string's bytes go out as they are, UTF-8 or not, as bpftrace writes them.
    pub fn write_text(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
            Value::UInt(u) => out.extend_from_slice(itoa::Buffer::new().format(*u).as_bytes()),
            Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Enum { name, .. } => out.extend_from_slice(name.as_bytes()),
            Value::Str(s) => out.extend_from_slice(s),
            Value::Buffer(b) => {
                for c in b {
                    if c.is_ascii_graphic() || *c == b' ' {
                        out.push(*c);
                    } else {
                        out.extend_from_slice(format!("\\x{c:02x}").as_bytes());
                    }
                }
            }
            Value::Tuple(items) => {
                out.push(b'(');
                write_joined(items, b", ", out);
                out.push(b')');
            }
            Value::Array(items) => {
                out.push(b'[');
                write_joined(items, b",", out);
                out.push(b']');
            }
            Value::Pointer(p) => out.extend_from_slice(format!("{p:#x}").as_bytes()),
            Value::Null => out.extend_from_slice(b"null"),
            Value::Text(t) => out.extend_from_slice(t.as_bytes()),
            Value::Stack(mode, frames) => {
                out.extend_from_slice(stack_text(*mode, frames, "        ").as_bytes())
            }
            // bpftrace prints a record without fields (`struct lock_class_key` when lockdep
            // is off) as `{}`.
            Value::Record(fields) if fields.is_empty() => out.extend_from_slice(b"{}"),
            Value::Record(fields) => {
                out.extend_from_slice(b"{ ");
                for (i, (n, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    out.push(b'.');
                    out.extend_from_slice(n.as_bytes());
                    out.extend_from_slice(b" = ");
                    v.write_text(out);
                }
                out.extend_from_slice(b" }");
            }
        }
    }

    /// [`Value::write_text`] as a `String`, where bytes that are not UTF-8 become U+FFFD:
    /// for JSON, which must be UTF-8, and for rbt's own messages.
    pub fn to_text(&self) -> String {
        let mut out = Vec::new();
        self.write_text(&mut out);
        utf8_text(out)
    }

    /// The value as JSON text, as `-f json` prints it, with bpftrace's spacing: `", "` and
    /// `": "` inside objects (records, in field order), a bare `,` inside arrays
    /// (`{"a": [1,2], "b": "x"}`).
    pub fn to_json(&self) -> String {
        use serde_json::Value as J;
        match self {
            Value::Int(i) => json_int(i128::from(*i)).to_string(),
            Value::UInt(u) => json_int(i128::from(*u)).to_string(),
            Value::Bool(b) => b.to_string(),
            // bpftrace keeps JSON numeric for enums, so machine readers stay compatible.
            Value::Enum { value, .. } => json_int(i128::from(*value)).to_string(),
            Value::Pointer(p) => json_int(i128::from(*p)).to_string(),
            Value::Null => "null".into(),
            Value::Tuple(items) | Value::Array(items) => {
                let inner: Vec<String> = items.iter().map(Value::to_json).collect();
                format!("[{}]", inner.join(","))
            }
            Value::Record(fields) => {
                let inner: Vec<String> = fields
                    .iter()
                    .map(|(n, v)| format!("{}: {}", J::from(n.as_str()), v.to_json()))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
            // bpftrace 0.27 writes a buffer's bytes as an array of signed 8-bit numbers
            // (`buf("a\xff", 2)` is `[97,-1]`); as a map key it stays text.
            Value::Buffer(bytes) => {
                let inner: Vec<String> = bytes.iter().map(|b| (*b as i8).to_string()).collect();
                format!("[{}]", inner.join(","))
            }
            Value::Str(_) | Value::Text(_) | Value::Stack(..) => {
                J::String(self.to_text()).to_string()
            }
        }
    }
}

/// Text bytes as a `String`, bytes that are not UTF-8 turned into U+FFFD (without a copy when
/// they are all UTF-8).
pub fn utf8_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `items` in text, `sep` between them.
fn write_joined(items: &[Value], sep: &[u8], out: &mut Vec<u8>) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        item.write_text(out);
    }
}

/// An integer in JSON as bpftrace 0.27 writes it: a number when a double holds it exactly, a
/// string of its digits otherwise (`9007199254740993`, `u64::MAX`), so that readers that parse
/// numbers as doubles never see a rounded value.
pub fn json_int(n: i128) -> serde_json::Value {
    let exact = (n as f64) as i128 == n;
    match (exact, i64::try_from(n), u64::try_from(n)) {
        (true, Ok(i), _) => serde_json::Value::from(i),
        (true, Err(_), Ok(u)) => serde_json::Value::from(u),
        _ => serde_json::Value::String(n.to_string()),
    }
}

/// What decoding needs from the live system: symbol tables, user names, probe names.
pub trait Symbolizer {
    fn ksym(&self, addr: u64, with_offset: bool) -> String;
    fn usym(&self, pid: u32, addr: u64, with_offset: bool) -> String;
    fn username(&self, uid: u64) -> String;
    fn probe_name(&self, index: u64) -> String;
    /// The frames of a kernel stack as text of `mode` (see [`Value::Stack`]).
    fn kstack(&self, stack_id: i64, limit: u32, mode: StackMode) -> Vec<String>;
    /// The frames of a user stack of process `pid` as text of `mode`.
    fn ustack(&self, pid: u32, stack_id: i64, limit: u32, mode: StackMode) -> Vec<String>;
    /// The frames of a `dw_ustack` capture, unwound with the process's DWARF CFI, as text of
    /// `mode`.
    fn dw_ustack(&self, capture: &DwCapture<'_>, limit: u32, mode: StackMode) -> Vec<String>;
    /// The path of cgroup `id` in each hierarchy whose name `filter` matches (a wildcard;
    /// every hierarchy without one).
    fn cgroup_path(&self, id: u64, filter: Option<&str>) -> String;
    /// `strftime(fmt, ns)`: `ns` is nanoseconds since boot; `format` indexes the manifest.
    fn strftime(&self, format: u64, boot_ns: u64) -> String;
}

/// A symbolizer that names nothing (empty names, no frames): for decoding away from a live
/// system, as the decoder's tests and the map printer's oracle test do.
pub struct NoSymbols;

impl Symbolizer for NoSymbols {
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
    fn dw_ustack(&self, _: &DwCapture<'_>, _: u32, _: StackMode) -> Vec<String> {
        Vec::new()
    }
    fn cgroup_path(&self, _: u64, _: Option<&str>) -> String {
        String::new()
    }
    fn strftime(&self, _: u64, _: u64) -> String {
        String::new()
    }
}

/// A `dw_ustack` payload ([`abi::dwstack`]) as read from an event or a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DwCapture<'a> {
    pub pid: u32,
    pub ip: u64,
    pub sp: u64,
    pub bp: u64,
    /// The copied user stack: `stack[i]` is the byte at address `sp + i`.
    pub stack: &'a [u8],
}

impl<'a> DwCapture<'a> {
    /// Reads a payload; a short or inconsistent one gives a capture with fewer stack bytes.
    pub fn read(bytes: &'a [u8]) -> DwCapture<'a> {
        use abi::dwstack;
        let len = read_u64(bytes, dwstack::LEN as usize);
        let body = bytes.get(dwstack::BYTES as usize..).unwrap_or_default();
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(body.len());
        DwCapture {
            pid: read_u64(bytes, dwstack::PID as usize) as u32,
            ip: read_u64(bytes, dwstack::IP as usize),
            sp: read_u64(bytes, dwstack::SP as usize),
            bp: read_u64(bytes, dwstack::BP as usize),
            stack: &body[..len],
        }
    }
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(src) = bytes.get(at..at + 8) {
        b.copy_from_slice(src);
    }
    u64::from_ne_bytes(b)
}

fn read_uint(bytes: &[u8], at: usize, size: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(src) = bytes.get(at..at + size.min(8)) {
        b[..src.len()].copy_from_slice(src);
    }
    u64::from_ne_bytes(b)
}

/// The bits `bit..bit + width` of the bytes at the start of `at`, as the 8 bytes of an
/// unsigned integer (bpftrace prints bit-fields as unsigned, whatever their declared type).
fn bitfield_bytes(at: &[u8], bit: u8, width: u8) -> [u8; 8] {
    let mut b = [0u8; 16];
    let n = at.len().min(9);
    b[..n].copy_from_slice(&at[..n]);
    let raw = u128::from_le_bytes(b) >> bit;
    let mask = if width >= 64 {
        u128::from(u64::MAX)
    } else {
        (1u128 << width) - 1
    };
    ((raw & mask) as u64).to_ne_bytes()
}

/// Decodes a value of type `ty` stored at the start of `bytes`.
pub fn decode(ty: &Type, bytes: &[u8], sym: &dyn Symbolizer) -> Value {
    match ty {
        Type::None => Value::Text(String::new()),
        Type::Int { bits, signed } => {
            let size = usize::from(*bits / 8);
            let raw = read_uint(bytes, 0, size);
            if *signed {
                let shift = 64 - u32::from(*bits);
                Value::Int(((raw << shift) as i64) >> shift)
            } else {
                Value::UInt(raw)
            }
        }
        Type::Enum { bits, variants, .. } => {
            let value = read_uint(bytes, 0, usize::from(*bits / 8));
            match variants.iter().find(|(_, v)| *v == value) {
                Some((name, _)) => Value::Enum {
                    value,
                    name: name.clone(),
                },
                // A value no enumerator has prints as a number.
                None => Value::UInt(value),
            }
        }
        Type::Bool => Value::Bool(bytes.first().is_some_and(|b| *b != 0)),
        Type::Str { len } => {
            let area = &bytes[..bytes.len().min(*len as usize)];
            let end = area.iter().position(|b| *b == 0).unwrap_or(area.len());
            Value::Str(area[..end].to_vec())
        }
        Type::Buffer { len } => {
            let n = usize::from(bytes.first().copied().unwrap_or(0)).min(*len as usize);
            Value::Buffer(bytes.get(1..1 + n).unwrap_or_default().to_vec())
        }
        Type::Tuple(elems) => {
            let (offsets, _) = tuple_layout(elems);
            Value::Tuple(
                elems
                    .iter()
                    .zip(offsets)
                    .map(|(t, o)| decode(t, bytes.get(o as usize..).unwrap_or_default(), sym))
                    .collect(),
            )
        }
        Type::NamedTuple { names, elems } => {
            let (offsets, _) = tuple_layout(elems);
            Value::Record(
                names
                    .iter()
                    .zip(elems)
                    .zip(offsets)
                    .map(|((n, t), o)| {
                        let v = decode(t, bytes.get(o as usize..).unwrap_or_default(), sym);
                        (n.clone(), v)
                    })
                    .collect(),
            )
        }
        Type::Pointer { .. } => Value::Pointer(read_u64(bytes, 0)),
        Type::Float { .. } => Value::Null,
        Type::Array { elem, len } => {
            let size = elem.size() as usize;
            Value::Array(
                (0..*len as usize)
                    .map(|i| decode(elem, bytes.get(i * size..).unwrap_or_default(), sym))
                    .collect(),
            )
        }
        Type::Record(r) => Value::Record(
            r.fields
                .iter()
                .map(|f| {
                    let at = bytes.get(f.offset as usize..).unwrap_or_default();
                    let value = match f.bitfield {
                        Some((bit, width)) => decode(&f.ty, &bitfield_bytes(at, bit, width), sym),
                        None => decode(&f.ty, at, sym),
                    };
                    (f.name.clone(), value)
                })
                .collect(),
        ),
        Type::Stack {
            source,
            limit,
            mode,
        } => {
            let id = read_u64(bytes, abi::stack::ID as usize) as i64;
            let frames = match source {
                StackSource::Kernel => sym.kstack(id, *limit, *mode),
                StackSource::User => {
                    let pid = read_u64(bytes, abi::stack::PID as usize) as u32;
                    sym.ustack(pid, id, *limit, *mode)
                }
                StackSource::UserDwarf { .. } => {
                    sym.dw_ustack(&DwCapture::read(bytes), *limit, *mode)
                }
            };
            Value::Stack(*mode, frames)
        }
        Type::Inet => Value::Text(ntop(bytes)),
        Type::MacAddr => Value::Text(macaddr(bytes)),
        Type::Ksym => Value::Text(sym.ksym(read_u64(bytes, 0), false)),
        Type::Usym => Value::Text(sym.usym(
            read_u64(bytes, abi::usym::PID as usize) as u32,
            read_u64(bytes, abi::usym::ADDR as usize),
            false,
        )),
        Type::Username => Value::Text(sym.username(read_u64(bytes, 0))),
        Type::ProbeName => Value::Text(sym.probe_name(read_u64(bytes, 0))),
        Type::CgroupPath { filter } => {
            Value::Text(sym.cgroup_path(read_u64(bytes, 0), filter.as_deref()))
        }
        // bpftrace passes these numbers on as C ints.
        Type::Strerror => Value::Text(names::strerror(read_u64(bytes, 0) as i32)),
        Type::SyscallName => {
            Value::Text(names::syscall_name(read_u64(bytes, 0) as i32).to_string())
        }
        Type::SignalName => Value::Text(names::signal_name(read_u64(bytes, 0) as i32)),
        Type::Timestamp => Value::Text(sym.strftime(read_u64(bytes, 0), read_u64(bytes, 8))),
        Type::Agg(_) => Value::UInt(read_u64(bytes, 0)),
    }
}

/// A stack as bpftrace prints it: nothing when it has no frames, else a newline and each
/// frame on its own line, indented by `indent` in bpftrace mode (eight spaces in text, none in
/// a JSON map key), by a tab in perf mode, not at all in raw mode.
pub fn stack_text(mode: StackMode, frames: &[String], indent: &str) -> String {
    if frames.is_empty() {
        return String::new();
    }
    let indent = match mode {
        StackMode::Bpftrace => indent,
        StackMode::Perf => "\t",
        StackMode::Raw | StackMode::BuildId => "",
    };
    let mut s = String::from("\n");
    for f in frames {
        s.push_str(indent);
        s.push_str(f);
        s.push('\n');
    }
    s
}

/// An `inet` payload as text (its layout is [`abi::inet`]).
pub fn ntop(bytes: &[u8]) -> String {
    let af = read_u64(bytes, abi::inet::FAMILY as usize);
    let start = abi::inet::ADDR as usize;
    let addr = bytes
        .get(start..start + abi::inet::ADDR_LEN as usize)
        .unwrap_or_default();
    if af == abi::inet::AF_INET6 && addr.len() == 16 {
        let mut a = [0u8; 16];
        a.copy_from_slice(addr);
        std::net::Ipv6Addr::from(a).to_string()
    } else if addr.len() >= 4 {
        std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string()
    } else {
        String::new()
    }
}

/// `macaddr` payload: 6 bytes, printed upper-case colon-separated like bpftrace.
pub fn macaddr(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(6)
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The C library's message for an errno value, as `strerror()` gives it.
pub fn strerror(errno: i64) -> String {
    std::io::Error::from_raw_os_error(errno as i32)
        .to_string()
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let mut b = vec![2u8, 0, 0, 0, 0, 0, 0, 0, 10, 99, 0, 1];
        b.resize(24, 0);
        assert_eq!(ntop(&b), "10.99.0.1");
        assert_eq!(macaddr(&[0x02, 0xab, 0, 1, 2, 3]), "02:AB:00:01:02:03");
        assert_eq!(strerror(2), "No such file or directory");
    }

    #[test]
    fn records() {
        let load = Value::Record(vec![
            ("weight".into(), Value::UInt(1024)),
            ("flag".into(), Value::Bool(false)),
        ]);
        assert_eq!(load.to_text(), "{ .weight = 1024, .flag = false }");
        // A record without fields, as bpftrace prints one.
        let empty = Value::Record(Vec::new());
        assert_eq!(empty.to_text(), "{}");
        assert_eq!(empty.to_json(), "{}");
        let outer = Value::Record(vec![("stats".into(), empty), ("load".into(), load)]);
        assert_eq!(
            outer.to_text(),
            "{ .stats = {}, .load = { .weight = 1024, .flag = false } }"
        );
    }

    #[test]
    fn buffers_are_text_but_signed_bytes_in_json() {
        let b = Value::Buffer(vec![b'a', 0x01, 0xff]);
        assert_eq!(b.to_text(), "a\\x01\\xff");
        assert_eq!(b.to_json(), "[97,1,-1]");
        assert_eq!(Value::Buffer(Vec::new()).to_json(), "[]");
    }
}

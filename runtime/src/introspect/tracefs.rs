//! tracefs: finding (and if needed mounting) it, listing tracepoints, and parsing an event's
//! `format` file into typed fields that the checker uses for `args->field`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where tracefs lives on current kernels, and where it lived under debugfs before 4.1.
const CANDIDATES: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// Why tracefs could not be used.
#[derive(Debug, Clone)]
pub enum TracefsError {
    /// Not mounted, and mounting it failed (usually: not root).
    NotMounted { reason: String },
    /// A file under tracefs could not be read.
    Read { path: PathBuf, reason: String },
    /// The tracepoint does not exist.
    NoSuchEvent { category: String, event: String },
    /// A `format` file had a line this parser does not understand.
    BadFormat { path: PathBuf, line: String },
}

impl fmt::Display for TracefsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TracefsError::NotMounted { reason } => write!(
                f,
                "tracefs is not mounted and could not be mounted at /sys/kernel/tracing ({reason}); \
                 try `mount -t tracefs nodev /sys/kernel/tracing` as root"
            ),
            TracefsError::Read { path, reason } => {
                write!(f, "cannot read {}: {reason}", path.display())
            }
            TracefsError::NoSuchEvent { category, event } => {
                write!(f, "tracepoint {category}:{event} does not exist")
            }
            TracefsError::BadFormat { path, line } => {
                write!(f, "cannot parse {}: unexpected line `{line}`", path.display())
            }
        }
    }
}

impl std::error::Error for TracefsError {}

fn has_events(dir: &Path) -> bool {
    dir.join("events").is_dir()
}

/// The tracefs mount point, mounting tracefs at /sys/kernel/tracing if it is nowhere mounted.
/// The answer is cached for the life of the process.
pub fn root() -> Result<PathBuf, TracefsError> {
    static ROOT: OnceLock<Result<PathBuf, TracefsError>> = OnceLock::new();
    ROOT.get_or_init(find_or_mount).clone()
}

fn find_or_mount() -> Result<PathBuf, TracefsError> {
    if let Some(found) = find_mounted() {
        return Ok(found);
    }
    // Mounting goes through mount(8) rather than mount(2), which would need a raw syscall
    // wrapper in `runtime::sys` for something done once: it costs one fork, only when
    // tracefs is missing.
    let target = CANDIDATES[0];
    let status = Command::new("mount")
        .args(["-t", "tracefs", "nodev", target])
        .output();
    match status {
        Ok(out) if out.status.success() && has_events(Path::new(target)) => Ok(target.into()),
        Ok(out) => Err(TracefsError::NotMounted {
            reason: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }),
        Err(e) => Err(TracefsError::NotMounted {
            reason: format!("cannot run mount: {}", stdlib::diag::reason(&e)),
        }),
    }
}

/// A tracefs that is already mounted, without trying to mount one.
pub fn find_mounted() -> Option<PathBuf> {
    for c in CANDIDATES {
        if has_events(Path::new(c)) {
            return Some(c.into());
        }
    }
    // Someone may have mounted it elsewhere; /proc/mounts knows.
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        let (_, dir, fstype) = (it.next()?, it.next()?, it.next()?);
        (fstype == "tracefs" && has_events(Path::new(dir))).then(|| PathBuf::from(dir))
    })
}

fn read(path: &Path) -> Result<String, TracefsError> {
    std::fs::read_to_string(path).map_err(|e| TracefsError::Read {
        path: path.to_path_buf(),
        reason: stdlib::diag::reason(&e),
    })
}

/// Every tracepoint as `(category, event)`, sorted.
pub fn list_events() -> Result<Vec<(String, String)>, TracefsError> {
    let root = root()?;
    // available_events is one small read; walking events/ would be ~2300 directory reads.
    let mut events: Vec<(String, String)> = match read(&root.join("available_events")) {
        Ok(text) => text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(c, e)| (c.to_string(), e.to_string()))
            .collect(),
        Err(_) => walk_events(&root.join("events")),
    };
    events.sort();
    events.dedup();
    Ok(events)
}

fn walk_events(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(cats) = std::fs::read_dir(dir) else {
        return out;
    };
    for cat in cats.filter_map(|e| e.ok()) {
        let Ok(evs) = std::fs::read_dir(cat.path()) else {
            continue;
        };
        let cname = cat.file_name().to_string_lossy().into_owned();
        for ev in evs.filter_map(|e| e.ok()) {
            if ev.path().join("format").is_file() {
                out.push((cname.clone(), ev.file_name().to_string_lossy().into_owned()));
            }
        }
    }
    out
}

/// One field of a tracepoint record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// The C type without the name: `const char *`, `char[16]`, `char[]` for `__data_loc`.
    pub ty: String,
    /// The declaration as the kernel wrote it, e.g. `__data_loc char[] filename`; `-lv` prints it.
    pub decl: String,
    pub offset: u32,
    pub size: u32,
    pub signed: bool,
    /// `__data_loc`: the field holds `(len << 16) | offset` of dynamic data in the record.
    pub data_loc: bool,
    /// `__rel_loc`: like `__data_loc`, but the offset is relative to the end of this field.
    pub rel_loc: bool,
    /// For fixed arrays (`char comm[16]`), the element count.
    pub array_len: Option<u32>,
}

/// A parsed `format` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFormat {
    pub name: String,
    pub id: u32,
    /// `common_*` header fields, which bpftrace hides from `-lv` and `args`.
    pub common: Vec<Field>,
    /// The event's own fields, in record order.
    pub fields: Vec<Field>,
}

/// Read and parse `events/CATEGORY/EVENT/format`.
pub fn event_format(category: &str, event: &str) -> Result<EventFormat, TracefsError> {
    let path = root()?
        .join("events")
        .join(category)
        .join(event)
        .join("format");
    if !path.is_file() {
        return Err(TracefsError::NoSuchEvent {
            category: category.into(),
            event: event.into(),
        });
    }
    parse_format(&read(&path)?).map_err(|line| TracefsError::BadFormat { path, line })
}

/// Parse the text of a `format` file. On failure, returns the offending line.
pub fn parse_format(text: &str) -> Result<EventFormat, String> {
    let mut fmt = EventFormat {
        name: String::new(),
        id: 0,
        common: Vec::new(),
        fields: Vec::new(),
    };
    for line in text.lines() {
        let t = line.trim();
        if let Some(n) = t.strip_prefix("name:") {
            fmt.name = n.trim().to_string();
        } else if let Some(id) = t.strip_prefix("ID:") {
            fmt.id = id.trim().parse().map_err(|_| line.to_string())?;
        } else if t.starts_with("field:") {
            let f = parse_field(t).ok_or_else(|| line.to_string())?;
            if f.name.starts_with("common_") {
                fmt.common.push(f);
            } else {
                fmt.fields.push(f);
            }
        } else if t.starts_with("print fmt:") {
            break;
        }
    }
    Ok(fmt)
}

/// Parse `field:const char * filename;\toffset:24;\tsize:8;\tsigned:0;`.
fn parse_field(line: &str) -> Option<Field> {
    let mut decl = None;
    let (mut offset, mut size, mut signed) = (None, None, false);
    for part in line.split(';') {
        let part = part.trim();
        if let Some(d) = part.strip_prefix("field:") {
            decl = Some(d.trim().to_string());
        } else if let Some(v) = part.strip_prefix("offset:") {
            offset = v.trim().parse().ok();
        } else if let Some(v) = part.strip_prefix("size:") {
            size = v.trim().parse().ok();
        } else if let Some(v) = part.strip_prefix("signed:") {
            signed = v.trim() == "1";
        }
    }
    let decl = decl?;
    let (name, ty, array_len, data_loc, rel_loc) = split_decl(&decl)?;
    Some(Field {
        name,
        ty,
        decl,
        offset: offset?,
        size: size?,
        signed,
        data_loc,
        rel_loc,
        array_len,
    })
}

/// Split a C declaration into (name, type, array length, data_loc, rel_loc).
fn split_decl(decl: &str) -> Option<(String, String, Option<u32>, bool, bool)> {
    let (data_loc, rest) = match decl.strip_prefix("__data_loc ") {
        Some(r) => (true, r),
        None => (false, decl),
    };
    let (rel_loc, rest) = match rest.strip_prefix("__rel_loc ") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim();
    // A trailing `[N]` belongs to the name in C (`char comm[16]`) but to the type in our model.
    let (base, suffix) = match rest
        .strip_suffix(']')
        .and_then(|r| r.rfind('[').map(|i| (r, i)))
    {
        Some((r, i)) if !r[..i].ends_with(|c: char| c.is_whitespace()) => {
            let inner = &r[i + 1..];
            // `char[] filename` puts brackets on the type; there the name follows them.
            (&r[..i], Some(inner))
        }
        _ => (rest, None),
    };
    let name_start = base
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map(|i| i + 1)
        .unwrap_or(0);
    let name = base[name_start..].to_string();
    if name.is_empty() {
        return None;
    }
    let mut ty = base[..name_start].trim().to_string();
    let mut array_len = None;
    if let Some(n) = suffix {
        ty.push('[');
        ty.push_str(n);
        ty.push(']');
        array_len = n.trim().parse().ok();
    }
    Some((name, ty, array_len, data_loc, rel_loc))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAT: &str = "name: sys_enter_openat\nID: 782\nformat:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n\
\tfield:__data_loc char[] path;\toffset:32;\tsize:4;\tsigned:0;\n\
\tfield:char comm[16];\toffset:36;\tsize:16;\tsigned:1;\n\n\
print fmt: \"x\"\n";

    #[test]
    fn parses_fields() {
        let f = parse_format(OPENAT).expect("parses");
        assert_eq!(f.id, 782);
        assert_eq!(f.common.len(), 2);
        let names: Vec<_> = f.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["__syscall_nr", "filename", "path", "comm"]);
        assert_eq!(f.fields[1].ty, "const char *");
        assert_eq!(f.fields[1].offset, 24);
        assert!(f.fields[2].data_loc);
        assert_eq!(f.fields[2].ty, "char[]");
        assert_eq!(f.fields[2].decl, "__data_loc char[] path");
        assert_eq!(f.fields[3].ty, "char[16]");
        assert_eq!(f.fields[3].array_len, Some(16));
        assert!(f.fields[3].signed);
    }
}

//! Symbolization for output: kernel addresses through /proc/kallsyms, stacks through the
//! stack-trace map, uids through /etc/passwd, probe indices through the manifest. Tables are
//! loaded on first use, so scripts that print no symbols never read them.

use crate::introspect::elf;
use crate::introspect::kallsyms::{CodeSymbols, Kallsyms};
use crate::sys::{self, MapHandle};
use crate::unwind::{parse_maps, unwind, Mapping, ObjectCfi, Regs};
use std::cell::OnceCell;
use std::rc::Rc;
use stdlib::types::StackMode;
use stdlib::value::{DwCapture, Symbolizer};

/// A function symbol of an ELF file: (file offset, size, name).
type FileSymbol = (u64, u64, String);

/// How many processes' mappings the symbolizer keeps before it starts over.
const REMEMBERED_PROCESSES: usize = 4096;

pub struct SystemSymbolizer {
    probe_names: Vec<String>,
    time_formats: Vec<String>,
    stacks: Option<MapHandle>,
    kallsyms: OnceCell<Option<CodeSymbols>>,
    users: OnceCell<Vec<(u64, String)>>,
    /// Function symbols of each object a user address fell in, by path.
    elf_symbols: std::cell::RefCell<std::collections::HashMap<String, Vec<FileSymbol>>>,
    /// The build id of each object a `ustack(build_id)` frame fell in, by path.
    build_ids: std::cell::RefCell<std::collections::HashMap<String, Option<String>>>,
    /// `cgroup_path()` of each cgroup id printed so far.
    cgroup_paths: std::cell::RefCell<std::collections::HashMap<(u64, Option<String>), String>>,
    /// File, line and inlined functions of user frames (`show_debug_info`).
    source_frames: crate::source_frames::SourceFrameCache,
    /// The processes whose `dw_ustack` captures are unwound (`-p`, `-c`, `--dwarf-pid`).
    dwarf_pids: Vec<u32>,
    /// The call frame information of each object a `dw_ustack` frame fell in, by path.
    cfi: std::cell::RefCell<std::collections::HashMap<String, Option<Rc<ObjectCfi>>>>,
    /// Processes already warned about: their captures are not unwound.
    dwarf_warned: std::cell::RefCell<std::collections::HashSet<u32>>,
    /// The mappings of each process whose addresses were named, as last read: a process
    /// that has exited since (a uprobe's target often exits before its event is read) is
    /// still named through them.
    process_maps: std::cell::RefCell<std::collections::HashMap<u32, Rc<Vec<Mapping>>>>,
    /// The objects the script's uprobes and USDT probes attach to.
    probed_objects: Vec<String>,
    /// Where the probed objects that are not position-independent (ET_EXEC) sit in every
    /// process: their addresses are fixed, so a process that is gone before its first event
    /// is read is still named through them, as bpftrace names it through the probe's binary.
    fixed_maps: OnceCell<Vec<Mapping>>,
}

impl SystemSymbolizer {
    pub fn new(
        probe_names: Vec<String>,
        time_formats: Vec<String>,
        stacks: Option<MapHandle>,
        probed_objects: Vec<String>,
    ) -> SystemSymbolizer {
        SystemSymbolizer {
            probe_names,
            time_formats,
            stacks,
            kallsyms: OnceCell::new(),
            users: OnceCell::new(),
            elf_symbols: Default::default(),
            build_ids: Default::default(),
            cgroup_paths: Default::default(),
            source_frames: crate::source_frames::SourceFrameCache::new(false),
            dwarf_pids: Vec::new(),
            cfi: Default::default(),
            dwarf_warned: Default::default(),
            process_maps: Default::default(),
            probed_objects,
            fixed_maps: OnceCell::new(),
        }
    }

    /// Prints user frames with their file, line and inlined functions where the traced
    /// binaries have debug info (`show_debug_info`).
    pub fn with_debug_info(mut self, enabled: bool) -> SystemSymbolizer {
        self.source_frames = crate::source_frames::SourceFrameCache::new(enabled);
        self
    }

    /// The processes whose `dw_ustack` captures are unwound: reading every object's CFI
    /// is costly, so only targets named on the command line get it, as in bpftrace.
    pub fn set_dwarf_pids(&mut self, pids: Vec<u32>) {
        self.dwarf_pids = pids;
    }

    /// The CFI of the object `mapping` maps in process `pid`, read once per path. The
    /// process's own view of the file comes first (`map_files` holds even a deleted or
    /// replaced binary, `root` its mount namespace), then the path as this process sees it.
    fn object_cfi(&self, pid: u32, mapping: &Mapping) -> Option<Rc<ObjectCfi>> {
        self.cfi
            .borrow_mut()
            .entry(mapping.path.clone())
            .or_insert_with(|| {
                [
                    format!(
                        "/proc/{pid}/map_files/{:x}-{:x}",
                        mapping.start, mapping.end
                    ),
                    format!("/proc/{pid}/root{}", mapping.path),
                    mapping.path.clone(),
                ]
                .iter()
                .find_map(|p| ObjectCfi::load(std::path::Path::new(p)))
                .map(Rc::new)
            })
            .clone()
    }

    /// The mappings of process `pid` as they are now: the process may have loaded or
    /// unloaded objects since the probe fired, but not the ones its live frames run in.
    /// Once it has exited, the last ones read stand in.
    fn dwarf_maps(&self, pid: u32) -> Rc<Vec<Mapping>> {
        let read = std::fs::read_to_string(format!("/proc/{pid}/maps")).map(|t| parse_maps(&t));
        match read {
            Ok(m) if !m.is_empty() => {
                let m = Rc::new(m);
                self.process_maps.borrow_mut().insert(pid, m.clone());
                m
            }
            _ => self
                .process_maps
                .borrow()
                .get(&pid)
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// Reads the mappings of every `dw_ustack` target now, so that captures decoded after
    /// a target has exited (its maps printed at the end of the run) can still be unwound.
    pub fn remember_dwarf_maps(&self) {
        for pid in &self.dwarf_pids {
            self.dwarf_maps(*pid);
        }
    }

    /// User addresses of process `pid` as stack frames of `mode`, innermost first (the
    /// first is where the probe fired, the others return addresses or call sites), each
    /// with its file, line and inlined functions under `show_debug_info`.
    fn user_frames(&self, pid: u32, addrs: Vec<u64>, mode: StackMode) -> Vec<String> {
        addrs
            .into_iter()
            .enumerate()
            .flat_map(|(i, a)| {
                let plain = self.user_frame(pid, a, mode);
                match self.user_mapping(pid, a) {
                    Some((path, off)) => {
                        self.source_frames
                            .lines(pid, &path, off, i == 0, a, mode, plain)
                    }
                    None => vec![plain],
                }
            })
            .collect()
    }

    fn kallsyms(&self) -> Option<&CodeSymbols> {
        self.kallsyms
            .get_or_init(|| Kallsyms::read().ok().map(Kallsyms::code_symbols))
            .as_ref()
    }
}

/// Formats wall-clock `epoch_ns` in local time with bpftrace's strftime (`%f` included).
pub fn format_time(fmt: &str, epoch_ns: u64) -> String {
    let secs = (epoch_ns / 1_000_000_000) as i64;
    let nanos = (epoch_ns % 1_000_000_000) as u32;
    stdlib::timefmt::strftime(fmt, secs, nanos, true)
}

/// Wall-clock now in nanoseconds since the epoch.
pub fn realtime_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl SystemSymbolizer {
    /// The object file `addr` falls in for process `pid` (its path, from /proc/PID/maps) and
    /// `addr`'s offset in that file. Mappings read once are kept, so a process that has
    /// exited is still named; one never seen alive is named through the fixed-address
    /// objects the script probes. `None` for anonymous (JIT) memory and unknown addresses.
    fn user_mapping(&self, pid: u32, addr: u64) -> Option<(String, u64)> {
        let mut known = self.process_maps.borrow_mut();
        if let Some(found) = known.get(&pid).and_then(|m| Mapping::locate(m, addr)) {
            return Some(found);
        }
        // Not in the mappings read before (or none were): the process may have mapped more
        // since (dlopen), so read them again while it lives.
        // A process that has exited but is not yet reaped lists no mappings at all.
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
            .map(|text| parse_maps(&text))
            .unwrap_or_default();
        if !maps.is_empty() {
            let found = Mapping::locate(&maps, addr);
            // A long run names the addresses of many short-lived processes: forget them all
            // now and then, so memory stays flat; the living are read again when asked.
            if known.len() >= REMEMBERED_PROCESSES && !known.contains_key(&pid) {
                known.clear();
            }
            known.insert(pid, Rc::new(maps));
            return found;
        }
        Mapping::locate(self.fixed_maps(), addr)
    }

    fn fixed_maps(&self) -> &[Mapping] {
        self.fixed_maps.get_or_init(|| {
            self.probed_objects
                .iter()
                .filter_map(|path| {
                    let layout = elf::object_layout(std::path::Path::new(path)).ok()?;
                    (!layout.relocatable).then_some((path, layout.segments))
                })
                .flat_map(|(path, segments)| {
                    segments
                        .into_iter()
                        .map(move |(offset, vaddr, filesz)| Mapping {
                            start: vaddr,
                            end: vaddr.saturating_add(filesz),
                            offset,
                            path: path.clone(),
                        })
                })
                .collect()
        })
    }

    /// The build id of the object `addr` falls in for process `pid` and `addr`'s offset in
    /// that file, as the kernel's build-id stacks name a frame; `None` where there is no such
    /// object or it has no build id.
    fn user_build_id(&self, pid: u32, addr: u64) -> Option<(String, u64)> {
        let (path, file_off) = self.user_mapping(pid, addr)?;
        let mut cache = self.build_ids.borrow_mut();
        let id = cache.entry(path.clone()).or_insert_with(|| {
            let in_root = format!("/proc/{pid}/root{path}");
            elf::build_id(std::path::Path::new(&in_root))
                .or_else(|| elf::build_id(std::path::Path::new(&path)))
        });
        Some((id.clone()?, file_off))
    }

    /// The object `addr` falls in for process `pid` (its path, from /proc/PID/maps) and the
    /// function symbol there with `addr`'s offset into it, each when known.
    fn user_symbol(&self, pid: u32, addr: u64) -> (Option<String>, Option<(String, u64)>) {
        let Some((path, file_off)) = self.user_mapping(pid, addr) else {
            return (None, None);
        };
        let mut cache = self.elf_symbols.borrow_mut();
        let syms = cache.entry(path.clone()).or_insert_with(|| {
            let in_root = format!("/proc/{pid}/root{path}");
            let mut v: Vec<FileSymbol> = elf::function_symbols(std::path::Path::new(&in_root))
                .or_else(|_| elf::function_symbols(std::path::Path::new(&path)))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|s| Some((s.file_offset?, s.size, s.name)))
                .collect();
            v.sort();
            v
        });
        let i = syms.partition_point(|(o, _, _)| *o <= file_off);
        let symbol = i
            .checked_sub(1)
            .and_then(|i| syms.get(i))
            .filter(|(o, size, _)| file_off - o < (*size).max(1))
            .map(|(o, _, name)| (name.clone(), file_off - o));
        (Some(path), symbol)
    }

    /// One frame of a user stack, as `mode` prints it without debug info.
    fn user_frame(&self, pid: u32, a: u64, mode: StackMode) -> String {
        match mode {
            StackMode::Bpftrace => self.usym(pid, a, true),
            StackMode::Perf => {
                // perf's notation: address, symbol+offset, (object); [unknown] when the
                // process or its symbol is gone.
                let (path, symbol) = self.user_symbol(pid, a);
                let symbol = symbol.map_or("[unknown]".into(), |(n, o)| format!("{n}+{o}"));
                let path = path.unwrap_or_else(|| "[unknown]".into());
                format!("{a:x} {symbol} ({path})")
            }
            StackMode::Raw => format!("{a:x}"),
            StackMode::BuildId => match self.user_build_id(pid, a) {
                Some((id, offset)) => format!("{id} 0x{offset:x}"),
                None => format!("{a:x}"),
            },
        }
    }

    /// The return addresses of stack `stack_id` in the stack-trace map, innermost first.
    fn frames(&self, stack_id: i64, limit: u32) -> Vec<u64> {
        let (Some(stacks), Ok(id)) = (&self.stacks, u32::try_from(stack_id)) else {
            return Vec::new();
        };
        // The map's value is the deepest stack it holds; unused frames are zero.
        let Ok(Some(frames)) = stacks.lookup_vec(&id.to_ne_bytes()) else {
            return Vec::new();
        };
        frames
            .chunks(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
            .take_while(|a| *a != 0)
            .take(limit as usize)
            .collect()
    }
}

impl Symbolizer for SystemSymbolizer {
    fn ksym(&self, addr: u64, with_offset: bool) -> String {
        match self.kallsyms().and_then(|k| k.containing(addr)) {
            Some((name, a)) if with_offset => format!("{name}+{}", addr - a),
            Some((name, _)) => name.to_string(),
            None => stdlib::format::address(addr),
        }
    }

    fn usym(&self, pid: u32, addr: u64, with_offset: bool) -> String {
        match self.user_symbol(pid, addr).1 {
            Some((name, off)) if with_offset => format!("{name}+{off}"),
            Some((name, _)) => name,
            None => stdlib::format::address(addr),
        }
    }

    fn username(&self, uid: u64) -> String {
        let users = self.users.get_or_init(|| {
            std::fs::read_to_string("/etc/passwd")
                .unwrap_or_default()
                .lines()
                .filter_map(|l| {
                    let mut f = l.split(':');
                    let name = f.next()?;
                    let _pw = f.next()?;
                    Some((f.next()?.parse().ok()?, name.to_string()))
                })
                .collect()
        });
        users
            .iter()
            .find(|(u, _)| *u == uid)
            .map_or_else(|| uid.to_string(), |(_, n)| n.clone())
    }

    fn probe_name(&self, index: u64) -> String {
        self.probe_names
            .get(index as usize)
            .cloned()
            .unwrap_or_default()
    }

    fn kstack(&self, stack_id: i64, limit: u32, mode: StackMode) -> Vec<String> {
        self.frames(stack_id, limit)
            .into_iter()
            .map(|a| match mode {
                StackMode::Bpftrace => self.ksym(a, true),
                StackMode::Perf => format!("{a:x} {}", self.ksym(a, true)),
                // The checker allows build_id only for user stacks; a kernel frame has no
                // object with a build id, so it would print as its address, like raw.
                StackMode::Raw | StackMode::BuildId => format!("{a:x}"),
            })
            .collect()
    }

    fn ustack(&self, pid: u32, stack_id: i64, limit: u32, mode: StackMode) -> Vec<String> {
        self.user_frames(pid, self.frames(stack_id, limit), mode)
    }

    fn dw_ustack(&self, capture: &DwCapture<'_>, limit: u32, mode: StackMode) -> Vec<String> {
        let pid = capture.pid;
        // The idle task and kernel threads have no user stack to unwind.
        if pid == 0 || capture.ip == 0 {
            return Vec::new();
        }
        if !self.dwarf_pids.contains(&pid) {
            if self.dwarf_warned.borrow_mut().insert(pid) {
                stdlib::stderrln!(
                    "WARNING: No DWARF unwind data available for this process (pid {pid}): \
                     dw_ustack unwinds the stacks of the process given with -p, -c or \
                     --dwarf-pid only"
                );
            }
            return Vec::new();
        }
        let maps = self.dwarf_maps(pid);
        let regs = Regs {
            ip: capture.ip,
            sp: capture.sp,
            bp: capture.bp,
        };
        let frames = unwind(
            regs,
            capture.stack,
            &maps,
            &mut |m| self.object_cfi(pid, m),
            limit as usize,
        );
        self.user_frames(pid, frames, mode)
    }

    fn cgroup_path(&self, id: u64, filter: Option<&str>) -> String {
        // Each id is searched for once: a search walks every mounted cgroup hierarchy.
        self.cgroup_paths
            .borrow_mut()
            .entry((id, filter.map(str::to_string)))
            .or_insert_with(|| crate::introspect::cgroup::cgroup_path(id, filter))
            .clone()
    }

    fn strftime(&self, format: u64, boot_ns: u64) -> String {
        // Boot-relative ns to wall clock: now(realtime) - now(boottime) + ns. The offset is
        // taken once, so timestamps of one run differ exactly as their nanoseconds do, not by
        // the time between two pairs of clock reads.
        static BOOT_TO_WALL: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let offset = *BOOT_TO_WALL.get_or_init(|| realtime_ns().saturating_sub(sys::boottime_ns()));
        let epoch = offset.saturating_add(boot_ns);
        let fmt = self
            .time_formats
            .get(format as usize)
            .map_or("%H:%M:%S", String::as_str);
        format_time(fmt, epoch)
    }
}

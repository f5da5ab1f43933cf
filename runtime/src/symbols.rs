//! Symbolization for output: kernel addresses through /proc/kallsyms, stacks through the
//! stack-trace map, uids through /etc/passwd, probe indices through the manifest. Tables are
//! loaded on first use, so scripts that print no symbols never read them.

use crate::sys;
use std::cell::OnceCell;
use std::os::raw::c_int;
use stdlib::value::Symbolizer;

pub struct SystemSymbolizer {
    probe_names: Vec<String>,
    time_formats: Vec<String>,
    stacks_fd: Option<c_int>,
    kallsyms: OnceCell<Vec<(u64, String)>>,
    users: OnceCell<Vec<(u64, String)>>,
}

impl SystemSymbolizer {
    pub fn new(
        probe_names: Vec<String>,
        time_formats: Vec<String>,
        stacks_fd: Option<c_int>,
    ) -> SystemSymbolizer {
        SystemSymbolizer {
            probe_names,
            time_formats,
            stacks_fd,
            kallsyms: OnceCell::new(),
            users: OnceCell::new(),
        }
    }

    fn kallsyms(&self) -> &[(u64, String)] {
        self.kallsyms.get_or_init(|| {
            let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
            let mut v: Vec<(u64, String)> = text
                .lines()
                .filter_map(|l| {
                    let mut p = l.split_whitespace();
                    let addr = u64::from_str_radix(p.next()?, 16).ok()?;
                    let kind = p.next()?;
                    let name = p.next()?;
                    (addr != 0 && matches!(kind, "t" | "T" | "w" | "W"))
                        .then(|| (addr, name.to_string()))
                })
                .collect();
            v.sort();
            v
        })
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
    /// The return addresses of stack `stack_id` in the stack-trace map, innermost first.
    fn frames(&self, stack_id: i64, limit: u32) -> Vec<u64> {
        let (Some(fd), Ok(id)) = (self.stacks_fd, u32::try_from(stack_id)) else {
            return Vec::new();
        };
        let mut frames = vec![0u8; 8 * 127];
        if !sys::map::lookup(fd, &id.to_ne_bytes(), &mut frames).unwrap_or(false) {
            return Vec::new();
        }
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
        let syms = self.kallsyms();
        let i = syms.partition_point(|(a, _)| *a <= addr);
        match i.checked_sub(1).and_then(|i| syms.get(i)) {
            Some((a, name)) if with_offset => format!("{name}+{}", addr - a),
            Some((_, name)) => name.clone(),
            None => format!("0x{addr:x}"),
        }
    }

    fn usym(&self, _pid: u32, addr: u64, _with_offset: bool) -> String {
        format!("0x{addr:x}")
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

    fn kstack(&self, stack_id: i64, limit: u32) -> Vec<String> {
        self.frames(stack_id, limit)
            .into_iter()
            .map(|a| self.ksym(a, true))
            .collect()
    }

    fn ustack(&self, _pid: u32, stack_id: i64, limit: u32) -> Vec<String> {
        // User frames stay addresses until usym symbolization lands.
        self.frames(stack_id, limit)
            .into_iter()
            .map(|a| format!("0x{a:x}"))
            .collect()
    }

    fn cgroup_path(&self, id: u64) -> String {
        id.to_string()
    }

    fn strftime(&self, format: u64, boot_ns: u64) -> String {
        // Boot-relative ns to wall clock: now(realtime) - now(boottime) + ns.
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into our timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let mono = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        let epoch = realtime_ns().saturating_sub(mono).saturating_add(boot_ns);
        let fmt = self
            .time_formats
            .get(format as usize)
            .map_or("%H:%M:%S", String::as_str);
        format_time(fmt, epoch)
    }
}

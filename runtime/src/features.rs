//! What the running kernel and this build of rbt support, as `rbt --info` reports it: the
//! sections and keys of bpftrace 0.27's `--info` (System, Build, Kernel helpers, Kernel
//! features, Probe types), each answer found by probing the kernel, not from its version.

use std::fmt;
use std::path::Path;

use crate::introspect::btf::Kind;
use crate::listing::shared_vmlinux;
use crate::sys::{helper_supported, program_loads, Helper, ProgramKind};

/// The answers, in the order they are printed.
pub struct Features {
    sections: Vec<(&'static str, Vec<(&'static str, String)>)>,
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// Probes the kernel (loading a few two-instruction programs) and reads /proc and /sys.
pub fn detect() -> Features {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let kprobes = Path::new("/sys/bus/event_source/devices/kprobe").exists();
    let uprobes = Path::new("/sys/bus/event_source/devices/uprobe").exists();
    let btf = shared_vmlinux().ok();
    let module_btf = std::fs::read_dir("/sys/kernel/btf")
        .map(|d| d.flatten().any(|e| e.file_name() != "vmlinux"))
        .unwrap_or(false);
    let iter_id = btf
        .as_ref()
        .and_then(|b| b.find("bpf_iter_task", Kind::Func))
        .unwrap_or(0);
    let iter = iter_id != 0 && program_loads(ProgramKind::Iter { btf_id: iter_id });
    Features {
        sections: vec![
            (
                "System",
                vec![
                    ("OS", format!("Linux {}", release.trim())),
                    ("Arch", std::env::consts::ARCH.to_string()),
                ],
            ),
            (
                "Build",
                vec![
                    ("version", format!("v{}", env!("CARGO_PKG_VERSION"))),
                    ("LLVM", "19".to_string()),
                    ("DWARF support", "yes".to_string()),
                ],
            ),
            (
                "Kernel helpers",
                vec![
                    ("dpath", yes_no(helper_supported(Helper::DPath))),
                    ("get_tai_ns", yes_no(helper_supported(Helper::GetTaiNs))),
                    ("get_func_ip", yes_no(helper_supported(Helper::GetFuncIp))),
                    (
                        "lookup_percpu_elem",
                        yes_no(helper_supported(Helper::LookupPercpuElem)),
                    ),
                    ("loop", yes_no(helper_supported(Helper::Loop))),
                ],
            ),
            (
                "Kernel features",
                vec![
                    ("btf", yes_no(btf.is_some())),
                    ("module btf", yes_no(module_btf)),
                ],
            ),
            (
                "Probe types",
                vec![
                    ("kprobe", yes_no(kprobes)),
                    ("uprobe", yes_no(uprobes)),
                    (
                        "kprobe_multi",
                        yes_no(kprobes && program_loads(ProgramKind::KprobeMulti)),
                    ),
                    (
                        "uprobe_multi",
                        yes_no(uprobes && program_loads(ProgramKind::UprobeMulti)),
                    ),
                    (
                        "kprobe_session",
                        yes_no(kprobes && program_loads(ProgramKind::KprobeSession)),
                    ),
                    ("iter", yes_no(iter)),
                ],
            ),
        ],
    }
}

impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (title, items)) in self.sections.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{title}")?;
            for (key, value) in items {
                writeln!(f, "  {key}: {value}")?;
            }
        }
        Ok(())
    }
}

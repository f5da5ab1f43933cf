//! What the decoder fuzz targets share: the Manifests of `fuzz/scripts/*.bt` (compiled once, on
//! the empty catalog, as `rbt --dry-run` compiles them: every event kind, every map value
//! type), and a symbolizer that answers from the bytes alone, as the system one answers from
//! kallsyms and /proc.

use lang::check;
use stdlib::catalog::EmptyCatalog;
use std::sync::OnceLock;
use stdlib::manifest::Manifest;
use stdlib::types::StackMode;
use stdlib::value::{DwCapture, Symbolizer};

const SCRIPTS: &[(&str, &str)] = &[
    ("events.bt", include_str!("../scripts/events.bt")),
    ("maps.bt", include_str!("../scripts/maps.bt")),
];

/// Compiles a script that must compile: the fuzz targets are useless without it.
fn compile(name: &str, source: &str) -> Manifest {
    let (script, diags) = lang::parse(source);
    assert!(!diags.iter().any(|d| d.is_error()), "{name} does not parse");
    let opts = check::Options {
        allow_unsafe: true,
        load_only: true,
        ..Default::default()
    };
    let checked = check::check(&script, &EmptyCatalog, &opts);
    let hir = checked
        .script
        .unwrap_or_else(|| panic!("{name} does not check"));
    let opts = codegen::Options {
        want_ir: false,
        file_name: name,
        helper_warnings: false,
        source,
        ..Default::default()
    };
    match codegen::compile(&hir, opts) {
        Ok((compiled, _)) => compiled.manifest,
        Err(e) => panic!("{name} does not compile: {e}"),
    }
}

/// The Manifest of every script in [`SCRIPTS`].
pub fn all() -> &'static [Manifest] {
    static ALL: OnceLock<Vec<Manifest>> = OnceLock::new();
    ALL.get_or_init(|| SCRIPTS.iter().map(|(n, s)| compile(n, s)).collect())
}

/// Names symbols after their addresses, and gives a stack `id % 8` frames (at most `limit`).
pub struct FuzzSymbols<'a> {
    pub manifest: &'a Manifest,
}

impl Symbolizer for FuzzSymbols<'_> {
    fn ksym(&self, addr: u64, with_offset: bool) -> String {
        if with_offset {
            format!("k{addr:x}+{}", addr % 16)
        } else {
            format!("k{addr:x}")
        }
    }
    fn usym(&self, pid: u32, addr: u64, with_offset: bool) -> String {
        if with_offset {
            format!("u{pid}:{addr:x}+{}", addr % 16)
        } else {
            format!("u{pid}:{addr:x}")
        }
    }
    fn username(&self, uid: u64) -> String {
        uid.to_string()
    }
    fn probe_name(&self, index: u64) -> String {
        let names = &self.manifest.probe_names;
        names.get(index as usize).cloned().unwrap_or_default()
    }
    fn kstack(&self, stack_id: i64, limit: u32, mode: StackMode) -> Vec<String> {
        frames(stack_id, limit, mode)
    }
    fn ustack(&self, _pid: u32, stack_id: i64, limit: u32, mode: StackMode) -> Vec<String> {
        frames(stack_id, limit, mode)
    }
    fn dw_ustack(&self, capture: &DwCapture<'_>, limit: u32, mode: StackMode) -> Vec<String> {
        frames(i64::from(capture.pid), limit, mode)
    }
    fn cgroup_path(&self, id: u64) -> String {
        format!("/cg/{id}")
    }
    fn strftime(&self, format: u64, boot_ns: u64) -> String {
        let fmt = self
            .manifest
            .time_formats
            .get(format as usize)
            .map_or("%H:%M:%S", String::as_str);
        let secs = (boot_ns / 1_000_000_000) as i64;
        stdlib::timefmt::strftime(fmt, secs, (boot_ns % 1_000_000_000) as u32, false)
    }
}

fn frames(stack_id: i64, limit: u32, mode: StackMode) -> Vec<String> {
    (0..stack_id.rem_euclid(8).min(i64::from(limit)))
        .map(|i| match mode {
            StackMode::Bpftrace => format!("f{i}+{i}"),
            StackMode::Perf => format!("{i:x} f{i}+{i} (obj)"),
            StackMode::Raw | StackMode::BuildId => format!("{i:x}"),
        })
        .collect()
}

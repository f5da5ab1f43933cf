//! Tier 1: kernel functions and variables the object names for libbpf to resolve. `comm(pid)`
//! calls the `bpf_task_from_pid`/`bpf_task_release` kfuncs and `percpu_kaddr()` takes the
//! address of a per-CPU variable; each must reach the ELF as a `.ksyms` extern with its BTF,
//! or libbpf cannot find it in the kernel.

use lang::check;
use stdlib::catalog::{
    Catalog, EmptyCatalog, Host, LookupError, SymbolNames, TracepointField, UserObject, UserParam,
};
use stdlib::manifest::{BpfTarget, UprobeTarget, UsdtTarget};
use stdlib::probes::ProgramType;
use stdlib::types::{Field, Record, Type, U64};

/// The empty catalog plus a `struct task_struct` with `comm`, and the per-CPU variable
/// `process_counts`.
struct Kernel;

impl Catalog for Kernel {
    fn tracepoints(&self, c: &str, e: &str) -> Vec<(String, String)> {
        EmptyCatalog.tracepoints(c, e)
    }
    fn tracepoint_fields(&self, c: &str, e: &str) -> Result<Vec<TracepointField>, LookupError> {
        EmptyCatalog.tracepoint_fields(c, e)
    }
    fn kernel_functions(&self, m: Option<&str>, p: &str) -> Vec<String> {
        EmptyCatalog.kernel_functions(m, p)
    }
    fn kernel_function_untraceable(
        &self,
        m: Option<&str>,
        name: &str,
    ) -> Option<stdlib::catalog::Untraceable> {
        EmptyCatalog.kernel_function_untraceable(m, name)
    }
    fn raw_tracepoints(&self, p: &str) -> Vec<String> {
        EmptyCatalog.raw_tracepoints(p)
    }
    fn record(&self, name: &str) -> Option<Record> {
        (name == "struct task_struct").then(|| Record {
            name: name.to_string(),
            size: 64,
            fields: vec![Field {
                name: "comm".into(),
                offset: 8,
                ty: Type::Str { len: 16 },
                bitfield: None,
                data_loc: false,
                btf_enum: false,
            }],
        })
    }
    fn record_ambiguous(&self, n: &str) -> bool {
        EmptyCatalog.record_ambiguous(n)
    }
    fn constant(&self, n: &str) -> Option<(i64, Type)> {
        EmptyCatalog.constant(n)
    }
    fn enum_type(&self, n: &str) -> Option<Type> {
        EmptyCatalog.enum_type(n)
    }
    fn kernel_variable(&self, name: &str) -> Option<Type> {
        (name == "process_counts").then_some(U64)
    }
    fn uprobe_targets(
        &self,
        p: &str,
        f: &str,
        n: SymbolNames,
        o: u64,
        u: bool,
    ) -> Result<Vec<UprobeTarget>, LookupError> {
        EmptyCatalog.uprobe_targets(p, f, n, o, u)
    }
    fn usdt_targets(&self, p: &str, v: &str, n: &str) -> Result<Vec<UsdtTarget>, LookupError> {
        EmptyCatalog.usdt_targets(p, v, n)
    }
    fn suggestions(&self, p: &str, f: &[String]) -> Vec<String> {
        EmptyCatalog.suggestions(p, f)
    }
    fn cgroup_id(&self, p: &str) -> Option<u64> {
        EmptyCatalog.cgroup_id(p)
    }
    fn bpf_functions(&self, id: Option<u32>, p: &str) -> Vec<BpfTarget> {
        EmptyCatalog.bpf_functions(id, p)
    }
    fn kernel_symbol(&self, n: &str) -> Option<u64> {
        EmptyCatalog.kernel_symbol(n)
    }
    fn user_object(&self, p: &str) -> Result<UserObject, LookupError> {
        EmptyCatalog.user_object(p)
    }
    fn kprobes_supported(&self) -> bool {
        true
    }
    fn kprobe_multi_supported(&self) -> bool {
        false
    }
    fn uprobe_multi_supported(&self) -> bool {
        false
    }
    fn kfunc_allowed(&self, name: &str, program: ProgramType) -> bool {
        // As Linux 6.18 registers it: for tracing, tracepoint and perf event programs.
        name == "bpf_task_from_pid"
            && matches!(
                program,
                ProgramType::Tracing | ProgramType::Tracepoint | ProgramType::PerfEvent
            )
    }
    fn function_signature(&self, n: &str) -> Option<(Vec<(String, Type)>, Type)> {
        EmptyCatalog.function_signature(n)
    }
    fn bpf_function_signature(&self, id: u32, f: &str) -> Option<(Vec<(String, Type)>, Type)> {
        EmptyCatalog.bpf_function_signature(id, f)
    }
    fn host(&self) -> Host {
        Host::UNKNOWN
    }
    fn user_function_params(&self, p: &str, f: &str) -> Result<Vec<UserParam>, LookupError> {
        EmptyCatalog.user_function_params(p, f)
    }
    fn user_record(&self, p: &str, n: &str) -> Option<Record> {
        EmptyCatalog.user_record(p, n)
    }
    fn source_line_targets(
        &self,
        p: &str,
        f: &str,
        l: u64,
    ) -> Result<Vec<UprobeTarget>, LookupError> {
        EmptyCatalog.source_line_targets(p, f, l)
    }
}

fn elf(script: &str) -> Vec<u8> {
    let (ast, diags) = lang::parse(script);
    assert!(diags.is_empty(), "{diags:?}");
    let checked = check::check(&ast, &Kernel, &check::Options::default());
    let hir = checked.script.expect("the script checks");
    let opts = codegen::Options {
        want_ir: false,
        file_name: "ksyms.bt",
        source: script,
        ..Default::default()
    };
    codegen::compile(&hir, opts).expect("compiles").0.elf
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn kfuncs_and_per_cpu_variables_are_ksyms_externs() {
    let obj = elf(
        "interval:s:1 { printf(\"%s %d\\n\", comm(1), *percpu_kaddr(\"process_counts\", 0)); }",
    );
    for name in [
        ".ksyms",
        "bpf_task_from_pid",
        "bpf_task_release",
        "process_counts",
    ] {
        assert!(contains(&obj, name), "the object does not name {name}");
    }
}

#[test]
fn scripts_without_them_declare_none() {
    let obj = elf("interval:s:1 { printf(\"%s\\n\", comm); }");
    assert!(!contains(&obj, ".ksyms"));
}

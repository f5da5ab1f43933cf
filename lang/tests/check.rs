//! Checker tests over fixture files, the way `parse.rs` tests the parser:
//!
//! - every `fixtures/check_errors/*.bt` parses cleanly but fails semantic analysis with
//!   exactly one error, rendered and snapshotted (one fixture per diagnostic the checker can
//!   emit, named after what it exercises);
//! - every `fixtures/check_warnings/*.bt` checks with exactly one warning, also snapshotted;
//! - every `fixtures/check_ok/*.bt` checks without any diagnostic, and its HIR is snapshotted.
//!
//! Kernel and binary facts come from a small fixture catalog ([`Fixture`]), so these run
//! without root or a kernel. A fixture may start with a comment line
//! `// options: unsafe load-only no-kprobes cpid=N param=VALUE… opt=NAME[=VALUE]…` to check
//! it as `--unsafe`, `--dry-run`, on a kernel without kprobes, with `-c`, with positional
//! parameters (also substituted into attach points), or with program options (`-- --NAME`).
//!
//! Every diagnostic is a constructor in `lang/src/check/diagnostics.rs`. Those that no
//! fixture reaches, and why:
//!
//! - `no_probes`: the parser rejects a script without probes first.
//! - `aggregation_assigned`: `map_id` rejects such an assignment first ("holds count, but is
//!   assigned int64"), since only an aggregation is compatible with an aggregation and no
//!   expression has that type.
//! - `whole_map_not_a_map` and `whole_map_with_key` for `for`: the grammar accepts only a bare
//!   map after `for ($kv :`; `len()` reaches the second (`len_with_key.bt`) but checks for a
//!   map itself before the first.
//! - `block_expression_here`: `lang::parse` lowers every block expression (`lang::macros`)
//!   before the checker runs.
//! - `format_missing`: the builtin table's arity check rejects `printf()` without arguments
//!   first.
//! - `misplaced_call` and `no_value_to_store`: the position and `does not return a value`
//!   checks of the builtin table reject those calls first.
//! - `task_builtin_without_btf`: the fixture catalog always has `struct task_struct`.
//!
//! (Audited by logging each constructor a `cargo test -p lang` run calls: every other one of
//! the 143 is reached by a fixture.)

use lang::check::{check, Options};
use stdlib::catalog::{
    Catalog, Host, LookupError, SymbolNames, TracepointField, Untraceable, UserObject, UserParam,
    UserSymbol,
};
use stdlib::diag::render;
use stdlib::manifest::{BpfTarget, UprobeTarget, UsdtArg, UsdtTarget};
use stdlib::probes::ProgramType;
use stdlib::types::{AddrSpace, Field, Record, Type, I64, U64};

/// A small, made-up system:
///
/// - tracepoints `syscalls:sys_enter_openat`, `syscalls:sys_exit_openat`,
///   `sched:sched_switch`, `sched:sched_process_exec` (with a `__data_loc` string), and
///   `broken:no_format`, whose format cannot be read;
/// - kernel functions `vfs_read`, `vfs_write`, `vfs_open`, `do_sys_openat2`, `tcp_sendmsg`,
///   with BTF signatures for `vfs_read` and `vfs_write` only, and `security_file_open`,
///   which only exists renamed by the compiler (`security_file_open.isra.0`);
/// - raw tracepoints `sched_switch`, `sys_enter`, `sys_exit`;
/// - BTF records `struct task_struct`, `struct file`, `struct sock` and the iterator context
///   `struct bpf_iter__task`, the per-CPU variables `process_counts` (u64) and `runqueues`
///   (typed like a task), constants `TASK_RUNNING` and
///   `TASK_INTERRUPTIBLE`, the kernel symbol `jiffies`, the cgroup `/sys/fs/cgroup/system.slice`;
/// - user binaries: every path has the functions `main` and `work` except `/nonexistent`,
///   which cannot be opened. `/bin/fixture` is position-independent with the globals `counter`
///   (8 bytes) and `flag` (1 byte) and the USDT probes `app:request_start` (one argument in
///   `di`) and `app:request_done`; `/bin/static` has the same symbols at fixed addresses;
///   `/bin/nosegments` is position-independent with no loadable segments; the symbols of any
///   other binary cannot be read;
/// - every header except those under `missing/`.
struct Fixture {
    kprobes: bool,
}

const FUNCTIONS: [(&str, u64); 2] = [("main", 0x1100), ("work", 0x1200)];

const TRACEPOINTS: [(&str, &str); 5] = [
    ("syscalls", "sys_enter_openat"),
    ("syscalls", "sys_exit_openat"),
    ("sched", "sched_switch"),
    ("sched", "sched_process_exec"),
    ("broken", "no_format"),
];

const KERNEL_FUNCTIONS: [&str; 6] = [
    "vfs_read",
    "vfs_write",
    "vfs_open",
    "do_sys_openat2",
    "tcp_sendmsg",
    "security_file_open.isra.0",
];

/// Kernel functions that exist but are not in the fixture's list of traceable ones.
/// Functions the traceable list leaves out: the first by a `--traceable-functions` file,
/// the second by the kernel's own list.
const UNTRACEABLE_FUNCTIONS: [(&str, Untraceable); 2] = [
    ("__x64_sys_vfork", Untraceable::GivenList),
    ("blk_account_io_done", Untraceable::KernelList),
];

/// The raw tracepoints; only `consume_skb` is typed by BTF (see `raw_tracepoint_params`).
const RAW_TRACEPOINTS: [&str; 4] = ["consume_skb", "sched_switch", "sys_enter", "sys_exit"];

const USDT_PROBES: [(&str, &str); 2] = [("app", "request_start"), ("app", "request_done")];

/// Whether `text` matches the glob `pattern` (`*` any run, `?` any one character).
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some((b'?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

fn tp_field(name: &str, c_type: &str, offset: u32, size: u32, signed: bool) -> TracepointField {
    TracepointField {
        name: name.to_string(),
        c_type: c_type.to_string(),
        offset,
        size,
        signed,
        data_loc: false,
    }
}

fn field(name: &str, offset: u32, ty: Type) -> Field {
    Field {
        name: name.to_string(),
        offset,
        ty,
        bitfield: None,
        data_loc: false,
        btf_enum: false,
    }
}

/// A kernel pointer to a record known only by name (BTF gives its fields on lookup).
fn record_ptr(name: &str) -> Type {
    Type::Pointer {
        to: Box::new(Type::Record(Box::new(Record {
            name: name.to_string(),
            size: 0,
            fields: Vec::new(),
        }))),
        space: AddrSpace::Kernel,
    }
}

const I32: Type = Type::Int {
    bits: 32,
    signed: true,
};
const U32: Type = Type::Int {
    bits: 32,
    signed: false,
};

impl Catalog for Fixture {
    fn tracepoints(&self, category: &str, event: &str) -> Vec<(String, String)> {
        TRACEPOINTS
            .iter()
            .filter(|(c, e)| glob(category, c) && glob(event, e))
            .map(|(c, e)| (c.to_string(), e.to_string()))
            .collect()
    }
    fn tracepoint_fields(&self, c: &str, e: &str) -> Result<Vec<TracepointField>, LookupError> {
        Ok(match (c, e) {
            ("syscalls", "sys_enter_openat") => vec![
                tp_field("__syscall_nr", "int", 8, 4, true),
                tp_field("dfd", "int", 16, 8, true),
                tp_field("filename", "const char *", 24, 8, false),
                tp_field("flags", "int", 32, 8, true),
                tp_field("mode", "umode_t", 40, 8, false),
            ],
            ("syscalls", "sys_exit_openat") => vec![
                tp_field("__syscall_nr", "int", 8, 4, true),
                tp_field("ret", "long", 16, 8, true),
            ],
            ("sched", "sched_switch") => vec![
                tp_field("prev_comm", "char[16]", 8, 16, true),
                tp_field("prev_pid", "pid_t", 24, 4, true),
                tp_field("prev_prio", "int", 28, 4, true),
                tp_field("prev_state", "long", 32, 8, true),
                tp_field("next_comm", "char[16]", 40, 16, true),
                tp_field("next_pid", "pid_t", 56, 4, true),
                tp_field("next_prio", "int", 60, 4, true),
            ],
            ("sched", "sched_process_exec") => vec![
                TracepointField {
                    data_loc: true,
                    ..tp_field("filename", "__data_loc char[]", 8, 4, false)
                },
                tp_field("pid", "pid_t", 12, 4, true),
                tp_field("old_pid", "pid_t", 16, 4, true),
            ],
            _ => return Err(format!("cannot read the format of tracepoint {c}:{e}")),
        })
    }
    fn kernel_functions(&self, _module: Option<&str>, pattern: &str) -> Vec<String> {
        // A plain name also finds the copy the compiler renamed (`name.isra.0`), as kallsyms
        // lookups do.
        let renamed = format!("{pattern}.*");
        KERNEL_FUNCTIONS
            .iter()
            .filter(|f| glob(pattern, f) || glob(&renamed, f))
            .map(|f| f.to_string())
            .collect()
    }
    fn kernel_function_untraceable(
        &self,
        _module: Option<&str>,
        name: &str,
    ) -> Option<Untraceable> {
        UNTRACEABLE_FUNCTIONS
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, list)| *list)
    }
    fn raw_tracepoints(&self, pattern: &str) -> Vec<String> {
        RAW_TRACEPOINTS
            .iter()
            .filter(|f| glob(pattern, f))
            .map(|f| f.to_string())
            .collect()
    }
    fn record_ambiguous(&self, _: &str) -> bool {
        false
    }
    fn record(&self, name: &str) -> Option<Record> {
        let (size, fields) = match name {
            "struct task_struct" => (
                64,
                vec![
                    field("pid", 0, I32),
                    field("tgid", 4, I32),
                    field("comm", 8, Type::Str { len: 16 }),
                    field("real_parent", 24, record_ptr("struct task_struct")),
                    field("mm", 32, record_ptr("struct mm_struct")),
                    field(
                        "sched_stats",
                        40,
                        Type::Array {
                            elem: Box::new(U64),
                            len: 3,
                        },
                    ),
                ],
            ),
            "struct sock" => (8, vec![field("sk_family", 0, U32)]),
            "struct sk_buff" => (8, vec![field("len", 0, U32)]),
            // An iterator's context: `meta`, then the object iterated over.
            "struct bpf_iter__task" => (
                16,
                vec![
                    field("meta", 0, U64),
                    field("task", 8, record_ptr("struct task_struct")),
                ],
            ),
            "struct file" => (
                16,
                vec![
                    field("f_flags", 0, U32),
                    field("f_mode", 4, U32),
                    field("f_pos", 8, I64),
                ],
            ),
            _ => return None,
        };
        Some(Record {
            name: name.to_string(),
            size,
            fields,
        })
    }
    fn kernel_variable(&self, name: &str) -> Option<Type> {
        match name {
            "process_counts" => Some(U64),
            "runqueues" => self
                .record("struct task_struct")
                .map(|r| Type::Record(Box::new(r))),
            _ => None,
        }
    }
    fn enum_type(&self, _: &str) -> Option<Type> {
        None
    }
    fn constant(&self, name: &str) -> Option<(i64, Type)> {
        match name {
            "TASK_RUNNING" => Some((0, I64)),
            "TASK_INTERRUPTIBLE" => Some((1, I64)),
            _ => None,
        }
    }
    fn uprobe_targets(
        &self,
        path: &str,
        pattern: &str,
        _: SymbolNames,
        offset: u64,
        _: bool,
    ) -> Result<Vec<UprobeTarget>, LookupError> {
        if path == "/nonexistent" {
            return Err(format!("cannot open {path}: No such file or directory"));
        }
        Ok(FUNCTIONS
            .iter()
            .filter(|(name, _)| glob(pattern, name))
            .map(|(name, start)| UprobeTarget {
                path: path.to_string(),
                symbol: name.to_string(),
                offset: start + offset,
                cookie: 0,
            })
            .collect())
    }
    fn usdt_targets(
        &self,
        path: &str,
        provider: &str,
        name: &str,
    ) -> Result<Vec<UsdtTarget>, LookupError> {
        if path == "/nonexistent" {
            return Err(format!("cannot open {path}: No such file or directory"));
        }
        Ok(USDT_PROBES
            .iter()
            .enumerate()
            .filter(|(_, (p, n))| glob(provider, p) && glob(name, n))
            .map(|(i, (p, n))| UsdtTarget {
                path: path.to_string(),
                provider: p.to_string(),
                name: n.to_string(),
                offset: 0x1180 + 0x10 * i as u64,
                semaphore_offset: 0,
                args: if *n == "request_start" {
                    vec![UsdtArg::Reg {
                        size: 8,
                        reg: "di".to_string(),
                    }]
                } else {
                    Vec::new()
                },
            })
            .collect())
    }
    fn suggestions(&self, provider: &str, _fields: &[String]) -> Vec<String> {
        let names: Vec<&str> = match provider {
            "tracepoint" => TRACEPOINTS.iter().map(|(_, e)| *e).collect(),
            "kprobe" | "kretprobe" | "fentry" | "fexit" => KERNEL_FUNCTIONS.to_vec(),
            "rawtracepoint" => RAW_TRACEPOINTS.to_vec(),
            "uprobe" | "uretprobe" => FUNCTIONS.iter().map(|(n, _)| *n).collect(),
            "usdt" => USDT_PROBES.iter().map(|(_, n)| *n).collect(),
            _ => Vec::new(),
        };
        names.into_iter().map(String::from).collect()
    }
    fn cgroup_id(&self, path: &str) -> Option<u64> {
        (path == "/sys/fs/cgroup/system.slice").then_some(42)
    }
    /// Two loaded programs like those of an rbt running two intervals, and a subprogram.
    fn bpf_functions(&self, id: Option<u32>, pattern: &str) -> Vec<BpfTarget> {
        let loaded = [(7, "interval_0"), (7, "helper"), (8, "interval_1")];
        loaded
            .iter()
            .filter(|(i, f)| id.is_none_or(|id| id == *i) && glob(pattern, f))
            .map(|(i, f)| BpfTarget {
                id: *i,
                func: f.to_string(),
            })
            .collect()
    }
    fn bpf_function_signature(&self, id: u32, func: &str) -> Option<(Vec<(String, Type)>, Type)> {
        // The main functions take `void *ctx` and return an int; `helper`'s BTF says nothing.
        let ctx = Type::Pointer {
            to: Box::new(Type::Int {
                bits: 8,
                signed: false,
            }),
            space: AddrSpace::Kernel,
        };
        let int = Type::Int {
            bits: 32,
            signed: true,
        };
        matches!((id, func), (7, "interval_0") | (8, "interval_1"))
            .then(|| (vec![("ctx".to_string(), ctx)], int))
    }
    fn kernel_symbol(&self, name: &str) -> Option<u64> {
        (name == "jiffies").then_some(0xffff_ffff_82a0_5000)
    }
    fn user_object(&self, path: &str) -> Result<UserObject, LookupError> {
        let sym = |name: &str, address, size| UserSymbol {
            name: name.to_string(),
            address,
            size,
        };
        let mut symbols = vec![sym("counter", 0x4010, 8), sym("flag", 0x4018, 1)];
        symbols.extend(FUNCTIONS.iter().map(|(n, a)| sym(n, *a, 16)));
        match path {
            "/bin/fixture" => Ok(UserObject {
                symbols,
                relocatable: true,
                segments: vec![(0, 0, 0x2000), (0x2df0, 0x3df0, 0x300)],
            }),
            "/bin/static" => Ok(UserObject {
                symbols,
                relocatable: false,
                segments: vec![(0, 0x400000, 0x2000)],
            }),
            "/bin/nosegments" => Ok(UserObject {
                symbols,
                relocatable: true,
                segments: Vec::new(),
            }),
            _ => Err(format!(
                "cannot read the symbols of {path}: not an ELF file"
            )),
        }
    }
    fn kprobes_supported(&self) -> bool {
        self.kprobes
    }
    fn kprobe_multi_supported(&self) -> bool {
        true
    }
    fn uprobe_multi_supported(&self) -> bool {
        true
    }
    fn kfunc_allowed(&self, name: &str, program: ProgramType) -> bool {
        // As Linux 6.18 registers them: bpf_task_from_pid for tracing, tracepoint and perf
        // event programs, bpf_rcu_read_lock for every program type.
        match name {
            "bpf_task_from_pid" => matches!(
                program,
                ProgramType::Tracing | ProgramType::Tracepoint | ProgramType::PerfEvent
            ),
            "bpf_rcu_read_lock" => true,
            _ => false,
        }
    }
    fn function_signature(&self, name: &str) -> Option<(Vec<(String, Type)>, Type)> {
        let arg = |n: &str, t: Type| (n.to_string(), t);
        let ptr = |t: Type| Type::Pointer {
            to: Box::new(t),
            space: AddrSpace::Kernel,
        };
        let int8 = Type::Int {
            bits: 8,
            signed: true,
        };
        match name {
            "vfs_read" | "vfs_write" => Some((
                vec![
                    arg("file", record_ptr("struct file")),
                    arg("buf", ptr(int8)),
                    arg("count", U64),
                    arg("pos", ptr(I64)),
                ],
                I64,
            )),
            _ => None,
        }
    }
    fn raw_tracepoint_params(&self, event: &str) -> Option<Vec<(String, Type)>> {
        (event == "consume_skb").then(|| {
            vec![
                ("skb".to_string(), record_ptr("struct sk_buff")),
                ("location".to_string(), U64),
            ]
        })
    }
    fn host(&self) -> Host {
        Host::UNKNOWN
    }
    fn header_found(&self, path: &str, _: bool) -> bool {
        !path.starts_with("missing/")
    }
    fn user_function_params(
        &self,
        path: &str,
        function: &str,
    ) -> Result<Vec<UserParam>, LookupError> {
        // `/bin/fixture` has debug info for `work(int *n, char c, struct Foo *foo,
        // double d)`; `/bin/static` has none.
        let user_ptr = |t: Type| Type::Pointer {
            to: Box::new(t),
            space: AddrSpace::User,
        };
        let param = |name: &str, ty: Type, register: Option<u8>| UserParam {
            name: name.to_string(),
            ty,
            register,
        };
        let struct_foo = Type::Record(Box::new(Record {
            name: "struct Foo".to_string(),
            size: 0,
            fields: Vec::new(),
        }));
        let char_ty = Type::Int {
            bits: 8,
            signed: true,
        };
        match (path, function) {
            ("/bin/fixture", "work") => Ok(vec![
                param("n", user_ptr(I32), Some(0)),
                param("c", char_ty, Some(1)),
                param("foo", user_ptr(struct_foo), Some(2)),
                param("d", U64, None),
            ]),
            ("/bin/fixture", _) => Ok(Vec::new()),
            _ => Err(format!("{path} has no DWARF debug info")),
        }
    }
    fn user_record(&self, path: &str, name: &str) -> Option<Record> {
        (path == "/bin/fixture" && name == "struct Foo").then(|| Record {
            name: name.to_string(),
            size: 8,
            fields: vec![
                Field {
                    name: "a".to_string(),
                    offset: 0,
                    ty: I32,
                    bitfield: None,
                    data_loc: false,
                    btf_enum: false,
                },
                Field {
                    name: "b".to_string(),
                    offset: 4,
                    ty: Type::Str { len: 4 },
                    bitfield: None,
                    data_loc: false,
                    btf_enum: false,
                },
            ],
        })
    }
    fn source_line_targets(
        &self,
        path: &str,
        file: &str,
        line: u64,
    ) -> Result<Vec<UprobeTarget>, LookupError> {
        match (path, file, line) {
            ("/bin/fixture", "work.c", 12) => Ok(vec![UprobeTarget {
                path: path.to_string(),
                symbol: "4612".to_string(),
                offset: 0x1204,
                cookie: 0,
            }]),
            ("/bin/fixture", _, _) => Err(format!(
                "the line table of {path} has no code at {file}:{line}"
            )),
            _ => Err(format!("{path} has no DWARF debug info")),
        }
    }
}

fn name_of(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The catalog and options a fixture asks for in its `// options:` line, on top of `opts`.
fn setup(src: &str, mut opts: Options) -> (Fixture, Options) {
    let mut catalog = Fixture { kprobes: true };
    let words = src
        .lines()
        .take_while(|l| l.starts_with("//"))
        .filter_map(|l| l.strip_prefix("// options:"))
        .flat_map(str::split_whitespace);
    for word in words {
        match word.split_once('=') {
            None if word == "unsafe" => opts.allow_unsafe = true,
            None if word == "load-only" => opts.load_only = true,
            None if word == "no-kprobes" => catalog.kprobes = false,
            Some(("cpid", n)) => opts.cpid = Some(n.parse().expect("cpid=N")),
            Some(("param", p)) => opts.params.push(p.to_string()),
            Some(("opt", o)) => opts.named.push(match o.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (o.to_string(), None),
            }),
            Some(("unstable_tseries", "error")) => {
                opts.config.unstable_tseries = lang::config::Unstable::Error
            }
            _ => panic!("unknown fixture option `{word}`"),
        }
    }
    (catalog, opts)
}

/// Parses and checks a fixture, insisting that it parses cleanly.
fn check_fixture(path: &std::path::Path) -> (String, lang::check::Checked) {
    let src = std::fs::read_to_string(path).expect("fixture is readable");
    // Positional parameters are read before parsing (`$1` in an attach point).
    let (_, words) = setup(&src, Options::default());
    let (script, parse_diags) = lang::parse_with_params(&src, &words.params);
    assert!(
        parse_diags.is_empty(),
        "{} does not parse:\n{}",
        path.display(),
        render(&name_of(path), &src, &parse_diags, false)
    );
    // A config block sets the checker's options as `rbt` sets them (its own errors are
    // the `config.rs` fixtures'); the fixture's `// options:` line comes on top.
    let config = lang::config::resolve(&script.config, &|_| None);
    assert!(
        config.diagnostics.is_empty(),
        "{}: config errors",
        path.display()
    );
    let (catalog, opts) = setup(&src, Options::from_config(&config.config));
    let checked = check(&script, &catalog, &opts);
    (src, checked)
}

#[test]
fn check_error_fixtures() {
    insta::glob!("fixtures/check_errors/*.bt", |path| {
        let (src, checked) = check_fixture(path);
        let rendered = render(&name_of(path), &src, &checked.diagnostics, false);
        // One diagnostic per fixture: a second one is either a cascade from the first or a
        // mistake in the fixture, and either would hide which site the fixture is about.
        assert!(
            checked.diagnostics.len() == 1 && checked.diagnostics[0].is_error(),
            "{} should fail with exactly one error:\n{rendered}",
            path.display()
        );
        insta::assert_snapshot!(rendered);
    });
}

#[test]
fn check_warning_fixtures() {
    insta::glob!("fixtures/check_warnings/*.bt", |path| {
        let (src, checked) = check_fixture(path);
        let rendered = render(&name_of(path), &src, &checked.diagnostics, false);
        assert!(
            checked.diagnostics.len() == 1 && checked.script.is_some(),
            "{} should check with exactly one warning:\n{rendered}",
            path.display()
        );
        insta::assert_snapshot!(rendered);
    });
}

#[test]
fn check_ok_fixtures() {
    insta::glob!("fixtures/check_ok/*.bt", |path| {
        let (src, checked) = check_fixture(path);
        assert!(
            checked.diagnostics.is_empty(),
            "{} has diagnostics:\n{}",
            path.display(),
            render(&name_of(path), &src, &checked.diagnostics, false)
        );
        let script = checked
            .script
            .expect("a script without diagnostics is checked");
        insta::assert_yaml_snapshot!(script);
    });
}

/// The features whose misuse the fixtures show do check when used right: `len`, `for` over
/// a map (reading and writing an outer variable), and `uaddr` sized by the symbol.
#[test]
fn map_loops_len_and_uaddr_check() {
    let src = r#"
        uprobe:/bin/fixture:main {
            @m[1, "a"] = 2;
            @c[comm] = count();
            $total = 0;
            for ($kv : @m) { $total += $kv.0.0 + $kv.1; if ($total > 10) { break; } }
            for ($kv2 : @c) { $total += $kv2.1; continue; }
            printf("%d %d %d %d\n", len(@m), len(@c), *uaddr("counter"), *uaddr("flag"));
        }
    "#;
    let (script, parse_diags) = lang::parse(src);
    assert!(parse_diags.is_empty(), "{parse_diags:?}");
    let checked = check(&script, &Fixture { kprobes: true }, &Options::default());
    assert!(
        checked.diagnostics.is_empty(),
        "{}",
        render("input", src, &checked.diagnostics, false)
    );
    let script = checked.script.expect("a checked script");
    let probe = &script.probes[0];
    let loops: Vec<_> = probe
        .body
        .iter()
        .filter_map(|s| match &s.kind {
            lang::hir::StmtKind::ForMap { var, frame, .. } => Some((*var, *frame)),
            _ => None,
        })
        .collect();
    assert_eq!(loops.len(), 2);
    let total = probe.locals[0];
    for (var, frame) in &loops {
        let frame = &probe.frames[*frame as usize];
        assert_eq!(frame.locals, [*var], "the loop variable is the body's own");
        assert_eq!(frame.captures, [total], "$total is the probe's");
        assert!(!probe.locals.contains(var));
    }
    // $kv is ((int64, string), int64); $kv2 is (string[16], int64) with the count as int64.
    let kv = &probe.vars[loops[0].0 as usize];
    assert!(
        matches!(kv, Type::Tuple(items) if matches!(&items[0], Type::Tuple(k) if k.len() == 2)),
        "{kv:?}"
    );
}

/// A kprobe on a function the compiler renamed attaches to the renamed copy and says so in a
/// note (for stderr), not in a diagnostic.
#[test]
fn renamed_kernel_function_is_noted() {
    let src = "kprobe:security_file_open { @opens = count(); }";
    let (script, parse_diags) = lang::parse(src);
    assert!(parse_diags.is_empty(), "{parse_diags:?}");
    let checked = check(&script, &Fixture { kprobes: true }, &Options::default());
    assert!(
        checked.diagnostics.is_empty(),
        "{}",
        render("input", src, &checked.diagnostics, false)
    );
    assert_eq!(
        checked.notes,
        vec![
            "kprobe:security_file_open: attaching to `security_file_open.isra.0` (the compiler renamed security_file_open)"
                .to_string()
        ]
    );
    let script = checked.script.expect("a checked script");
    assert_eq!(
        script.probe_names,
        vec!["kprobe:security_file_open.isra.0".to_string()]
    );
}

/// A uprobe's `+offset` is parsed by the checker (decimal or hex) and reaches the catalog as
/// a number, which moves the target that far into the function.
#[test]
fn uprobe_offset_reaches_the_catalog() {
    for (field, want) in [("main+16", 0x1110), ("work+0x8", 0x1208), ("main", 0x1100)] {
        let src = format!("uprobe:/bin/fixture:{field} {{ @ = count(); }}");
        let (script, parse_diags) = lang::parse(&src);
        assert!(parse_diags.is_empty(), "{parse_diags:?}");
        let checked = check(&script, &Fixture { kprobes: true }, &Options::default());
        let script = checked.script.expect("a checked script");
        match &script.probes[0].attach {
            stdlib::manifest::Attach::Uprobe { targets, .. } => {
                let offsets: Vec<u64> = targets.iter().map(|t| t.offset).collect();
                assert_eq!(offsets, [want], "{field}");
            }
            other => panic!("{field}: attached as {other:?}"),
        }
    }
}

/// A uprobe wildcard with several matches attaches through uprobe_multi links, also when
/// the body reads `probe` (through the attach cookie); one match, or `probe` compared with
/// a string (compiled in: one program per match), attaches a uprobe each.
#[test]
fn uprobe_wildcards_use_uprobe_multi() {
    for (src, want) in [
        ("uprobe:/bin/fixture:* { @ = count(); }", vec![(2, true)]),
        ("uretprobe:/bin/fixture:* { @ = count(); }", vec![(2, true)]),
        (
            "uprobe:/bin/fixture:main { @ = count(); }",
            vec![(1, false)],
        ),
        // `probe` reads the attach cookie, which names each match: still one program.
        (
            "uprobe:/bin/fixture:* { @[probe] = count(); }",
            vec![(2, true)],
        ),
        // `probe` as a string is compiled in: a program per match.
        (
            "uprobe:/bin/fixture:* { if (probe == \"x\") { @ = count(); } }",
            vec![(1, false), (1, false)],
        ),
    ] {
        let (script, parse_diags) = lang::parse(src);
        assert!(parse_diags.is_empty(), "{parse_diags:?}");
        let checked = check(&script, &Fixture { kprobes: true }, &Options::default());
        let script = checked.script.expect("a checked script");
        let got: Vec<(usize, bool)> = script
            .probes
            .iter()
            .map(|p| match &p.attach {
                stdlib::manifest::Attach::Uprobe { targets, multi, .. } => (targets.len(), *multi),
                other => panic!("{src}: attached as {other:?}"),
            })
            .collect();
        assert_eq!(got, want, "{src}");
    }
}

/// `--probe-filter` keeps the expanded probes whose name matches, narrowing a wildcard's
/// targets, drops programs left with none, and keeps begin/end.
#[test]
fn probe_filter_narrows_wildcards_and_keeps_begin_end() {
    let src = "BEGIN { } tracepoint:syscalls:sys_*_openat { @ = count(); } tracepoint:sched:* { }";
    let (script, parse_diags) = lang::parse(src);
    assert!(parse_diags.is_empty(), "{parse_diags:?}");
    let checked = check(&script, &Fixture { kprobes: true }, &Options::default());
    let mut hir = checked.script.expect("a checked script");
    let left = lang::check::filter_probes(&mut hir, &|n| n.ends_with("sys_exit_openat"));
    assert_eq!(left, 2);
    let attaches: Vec<_> = hir.probes.iter().map(|p| &p.attach).collect();
    assert_eq!(
        attaches,
        vec![
            &stdlib::manifest::Attach::Begin,
            &stdlib::manifest::Attach::Tracepoint {
                targets: vec![("syscalls".into(), "sys_exit_openat".into())]
            },
        ]
    );
    assert_eq!(
        hir.probe_names[hir.probes[1].probe_index as usize],
        "tracepoint:syscalls:sys_exit_openat"
    );
    assert_eq!(lang::check::filter_probes(&mut hir, &|_| false), 1);
}

/// `unstable_tseries = warn` (bpftrace's default) notes the unstable feature once, without an
/// excerpt of the script; `enable` is silent.
#[test]
fn tseries_is_noted_as_unstable_once() {
    let src = "BEGIN { @t = tseries(1, 1s, 5); @u[1] = tseries(2, 1s, 5); }";
    let (script, parse_diags) = lang::parse(src);
    assert!(parse_diags.is_empty(), "{parse_diags:?}");
    let mut warn = Options::default();
    warn.config.unstable_tseries = lang::config::Unstable::Warn;
    let checked = check(&script, &Fixture { kprobes: true }, &warn);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    assert_eq!(
        checked.notes,
        vec![lang::check::diagnostics::unstable_note(
            "tseries()",
            "unstable_tseries"
        )]
    );
    let checked = check(&script, &Fixture { kprobes: true }, &Options::default());
    assert!(checked.notes.is_empty(), "{:?}", checked.notes);
}

/// `--aot`: `cpid`, `$#` and integer `$N` become run-time values (one slot each, shared by
/// every use), and a parameter whose text is compiled in (`str($1)`) is said to be.
#[test]
fn compiled_files_read_parameters_at_run_time() {
    use lang::hir::ExprKind;
    use stdlib::manifest::RunValue;
    let aot = |src: &str, params: &[&str]| {
        let (script, parse_diags) = lang::parse(src);
        assert!(parse_diags.is_empty(), "{parse_diags:?}");
        let opts = Options {
            params: params.iter().map(|p| p.to_string()).collect(),
            cpid: Some(0),
            run_time_values: true,
            ..Options::default()
        };
        check(&script, &Fixture { kprobes: true }, &opts)
    };
    let checked = aot(
        "BEGIN { @a = $1 + $1; @b = $#; @c = cpid; @d = $3; exit(); }",
        &["5"],
    );
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    assert!(!checked.params_compiled_in);
    let hir = checked.script.expect("checked");
    assert_eq!(
        hir.run_values,
        vec![
            RunValue::Param(1),
            RunValue::ParamCount,
            RunValue::Cpid,
            RunValue::Param(3)
        ]
    );
    let text = format!("{:?}", hir.probes[0].body);
    assert!(!text.contains("Int(5)"), "{text}");
    assert!(
        text.contains(&format!("{:?}", ExprKind::RunValue(3))),
        "{text}"
    );
    // A string parameter is a string of `strlen` bytes read at run time.
    let checked = aot("BEGIN { printf(\"%s\\n\", $1); exit(); }", &["x"]);
    assert!(!checked.params_compiled_in);
    assert_eq!(
        checked.script.expect("checked").run_values,
        vec![RunValue::ParamStr {
            index: 1,
            len: lang::config::Config::default().strlen()
        }]
    );
    for (src, params) in [
        ("BEGIN { printf(\"%s\\n\", str($1)); exit(); }", &["x"][..]),
        ("interval:ms:$1 { exit(); }", &["100"][..]),
    ] {
        let checked = aot(src, params);
        assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
        assert!(checked.params_compiled_in, "{src}");
    }
    // Without `--aot` nothing changes: parameters are constants.
    let (script, _) = lang::parse("BEGIN { @a = $1; exit(); }");
    let opts = Options {
        params: vec!["5".into()],
        ..Options::default()
    };
    let hir = check(&script, &Fixture { kprobes: true }, &opts)
        .script
        .expect("checked");
    assert!(hir.run_values.is_empty());
}

/// A syscall tracepoint becomes a raw tracepoint program dispatched by syscall number, one
/// per direction, unless its body reads what only the perf tracepoint has (`kstack`), or
/// it mixes `sys_enter` and `sys_exit`, or it traces something else too.
#[test]
fn syscall_tracepoints_dispatch_by_number_where_the_body_allows() {
    use stdlib::manifest::{Attach, SyscallTarget};
    let attach_of = |src: &str| {
        let (script, parse_diags) = lang::parse(src);
        assert!(parse_diags.is_empty(), "{parse_diags:?}");
        let checked = check(&script, &Fixture { kprobes: true }, &Options::default());
        let script = checked
            .script
            .unwrap_or_else(|| panic!("{src}: {:?}", checked.diagnostics));
        script.probes[0].attach.clone()
    };
    let openat = |exit| Attach::Syscall {
        targets: vec![SyscallTarget {
            name: "openat".into(),
            nr: 257,
        }],
        exit,
    };
    assert_eq!(
        attach_of("tracepoint:syscalls:sys_enter_openat { @[str(args.filename)] = count(); }"),
        openat(false)
    );
    assert_eq!(
        attach_of("tracepoint:syscalls:sys_exit_openat { @ = args.ret; }"),
        openat(true)
    );
    let perf = Attach::Tracepoint {
        targets: vec![("syscalls".into(), "sys_enter_openat".into())],
    };
    assert_eq!(
        attach_of("tracepoint:syscalls:sys_enter_openat { @[kstack] = count(); }"),
        perf
    );
    assert!(matches!(
        attach_of("tracepoint:syscalls:sys_*_openat { @ = count(); }"),
        Attach::Tracepoint { .. }
    ));
    assert!(matches!(
        attach_of("tracepoint:sched:sched_switch { @ = count(); }"),
        Attach::Tracepoint { .. }
    ));
}

/// The kernel's limit of 64 maps is per program: a probe may use 64 maps, another probe 64
/// others and all 128 together, and reads (`@m`, `has_key`, `len`), updates and loops over a
/// map all count it (`too_many_maps.bt` is the refused side, on an assignment).
#[test]
fn sixty_four_maps_per_probe_check() {
    let assign = |from: usize| -> String {
        (from..from + 64)
            .map(|i| format!("@m{i}[1] = 1; "))
            .collect()
    };
    let src = format!(
        "BEGIN {{ {} }} END {{ {} }} interval:s:1 {{ {} }}",
        assign(0),
        assign(64),
        (0..128)
            .map(|i| format!("@all = @m{i}[1]; "))
            .collect::<String>()
    );
    let (script, parse_diags) = lang::parse(&src);
    assert!(parse_diags.is_empty(), "{parse_diags:?}");
    let fixture = Fixture { kprobes: true };
    let checked = check(&script, &fixture, &Options::default());
    let errors: Vec<_> = checked.diagnostics.iter().map(|d| &d.message).collect();
    assert_eq!(errors, ["this probe uses more than 64 maps"], "{src}");
    for extra in [
        "$x = has_key(@m64, 1);",
        "$x = len(@m64);",
        "for ($kv : @m64) { }",
        "delete(@m64[1]);",
    ] {
        let src = format!("BEGIN {{ {} {extra} }} END {{ @m64[1] = 1; }}", assign(0));
        let (script, parse_diags) = lang::parse(&src);
        assert!(parse_diags.is_empty(), "{parse_diags:?}");
        let checked = check(&script, &fixture, &Options::default());
        assert_eq!(
            checked.diagnostics.len(),
            1,
            "{extra}: {:?}",
            checked.diagnostics
        );
        let src = format!("BEGIN {{ {} }} END {{ @m64[1] = 1; {extra} }}", assign(0));
        let (script, _) = lang::parse(&src);
        let checked = check(&script, &fixture, &Options::default());
        assert!(
            checked.diagnostics.is_empty(),
            "{extra}: {:?}",
            checked.diagnostics
        );
    }
}

/// Each variable lives in the innermost frame that holds all its uses: `$w` in the outer
/// `for` body (the inner body reaches it by reference), `$z` in the inner body alone, and
/// `$last`, read after its loop, in the probe's frame.
#[test]
fn variables_live_in_the_innermost_frame_of_their_uses() {
    let src = r#"
        BEGIN {
            $last = 0;
            for ($i : 0..3) {
                $w = 0;
                while ($w < 2) { $w++; }
                for ($j : 0..2) { $z = $j + $w; print($z); }
                $last = $i;
            }
            print($last);
        }
    "#;
    let (script, parse_diags) = lang::parse(src);
    assert!(parse_diags.is_empty(), "{parse_diags:?}");
    let checked = check(&script, &Fixture { kprobes: true }, &Options::default());
    let script = checked.script.expect("a checked script");
    let probe = &script.probes[0];
    let names = ["$last", "$i", "$w", "$j", "$z"];
    assert_eq!(probe.vars.len(), names.len(), "{:?}", probe.vars);
    // Variables are numbered in order of appearance.
    let (last, i, w, j, z) = (0, 1, 2, 3, 4);
    assert_eq!(probe.locals, [last]);
    assert_eq!(probe.frames.len(), 2);
    assert_eq!(probe.frames[0].captures, [last]);
    assert_eq!(probe.frames[0].locals, [i, w]);
    assert_eq!(probe.frames[1].captures, [w]);
    assert_eq!(probe.frames[1].locals, [j, z]);
}

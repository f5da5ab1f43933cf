//! What the checker needs to know about the running system, as a trait: the runtime
//! implements it from tracefs, BTF, kallsyms and ELF files; tests implement it with fixtures.
//! Keeping it a trait keeps `lang` free of I/O; keeping it here, in the contract both sides
//! share, lets the runtime implement it without depending on `lang`.

use crate::manifest::{BpfTarget, UprobeTarget, UsdtTarget};
use crate::probes::ProgramType;
use crate::types::{Record, Type};

/// One field of a tracepoint's `format` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracepointField {
    pub name: String,
    /// The C type as written in the format file (`const char *`, `int`, `char[16]`).
    pub c_type: String,
    pub offset: u32,
    pub size: u32,
    pub signed: bool,
    /// `__data_loc char[] name`: a string stored after the record.
    pub data_loc: bool,
}

/// The kernel BTF struct of a tracepoint's record ([`Catalog::tracepoint_record`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracepointRecord {
    /// The struct's name, without `struct ` (`trace_event_raw_sched_switch`).
    pub name: String,
    /// What BTF makes each field of the format file (in the format's order), typedefs
    /// resolved. A CO-RE relocation must describe a field as BTF has it: libbpf matches an
    /// integer only with an integer, an enum with an enum and a pointer with a pointer, and
    /// the format file names some enums and pointers by a typedef (`initcall_t`).
    pub kinds: Vec<MemberKind>,
}

/// The kind of a record member's BTF type, as far as relocating it cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    Enum,
    Pointer,
    /// An integer, an array or anything else described by its layout.
    Other,
}

/// A failure to look something up, in words the user can act on.
pub type LookupError = String;

/// A data or function symbol of a user binary (`uaddr()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSymbol {
    pub name: String,
    /// The address the ELF file gives it (st_value).
    pub address: u64,
    pub size: u64,
}

/// What `uaddr()` needs to know about a user binary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserObject {
    pub symbols: Vec<UserSymbol>,
    /// Position-independent (ET_DYN: a PIE executable or a library): every process maps it at
    /// its own base, so its addresses must be rebased at run time.
    pub relocatable: bool,
    /// Loadable segments as (file offset, address, bytes in the file): they map a uprobe's
    /// file offset back to the address the ELF file gives that code.
    pub segments: Vec<(u64, u64, u64)>,
}

impl UserObject {
    /// The ELF address of the byte at file offset `offset`.
    pub fn address_of_offset(&self, offset: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|(off, _, size)| offset >= *off && offset < off + size)
            .map(|(off, addr, _)| offset - off + addr)
    }

    /// The file offset of the ELF address `address`.
    pub fn offset_of_address(&self, address: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|(_, addr, size)| address >= *addr && address < addr + size)
            .map(|(off, addr, _)| address - addr + off)
    }
}

/// Which list of traceable kernel functions leaves out a function that kallsyms has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untraceable {
    /// The kernel's own (`available_filter_functions`), which leaves out functions ftrace
    /// cannot patch: `notrace` ones and out-of-line copies of inlined ones. A kprobe still
    /// attaches to most of them, and bpftrace 0.17 attached them (Debian 12's
    /// `biolatency.bt` on its 6.1 kernel needs `blk_account_io_done`), so rbt attaches them
    /// with a warning where bpftrace 0.27 wants `--unsafe`.
    KernelList,
    /// The file given with `--traceable-functions`: the user's word, kept as bpftrace 0.27
    /// keeps it (attached only with `--unsafe`).
    GivenList,
}

/// How a uprobe's function pattern names functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolNames {
    /// As the symbol table spells them (`uprobe:/bin/x:func`; C++ functions mangled).
    Plain,
    /// C++ names demangled, with or without their parameter list (`uprobe:/bin/x:cpp:ns::f`,
    /// `uprobe:/bin/x:cpp:"f(int)"`); a name that is not mangled stands as it is.
    Cpp,
}

impl SymbolNames {
    /// The names a uprobe's language field asks for (`uprobe:/bin/x:cpp:f`): `cpp` is the
    /// only language.
    pub fn from_language(field: &str) -> Option<SymbolNames> {
        (field == "cpp").then_some(SymbolNames::Cpp)
    }

    /// What a probe's name carries before its function: `cpp:` for C++ names.
    pub fn prefix(self) -> &'static str {
        match self {
            SymbolNames::Plain => "",
            SymbolNames::Cpp => "cpp:",
        }
    }
}

/// A parameter of a user function, from DWARF (uprobe `args`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserParam {
    pub name: String,
    pub ty: Type,
    /// The argument register (0 for the first, up to 5) that holds the whole value at the
    /// function's entry; `None` when it is passed on the stack, in floating-point registers
    /// or split over two registers.
    pub register: Option<u8>,
}

/// Facts about the machine and rbt's own process that builtins compile to constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// Online CPUs (`ncpus`).
    pub cpus: u64,
    /// rbt's pid namespace as the device (in the kernel's `dev_t` encoding) and inode of
    /// `/proc/self/ns/pid`; `None` in the initial namespace, where `pid(curr_ns)` and
    /// `pid(init)` count the same and the cheaper helper serves both.
    pub pid_ns: Option<(u64, u64)>,
    /// CLOCK_TAI minus CLOCK_BOOTTIME, read once (`nsecs(sw_tai)`).
    pub tai_offset_ns: i64,
}

impl Host {
    /// What a catalog that reads nothing says: one CPU, the initial pid namespace, no TAI
    /// offset.
    pub const UNKNOWN: Host = Host {
        cpus: 1,
        pid_ns: None,
        tai_offset_ns: 0,
    };
}

pub trait Catalog {
    /// Every `(category, event)` tracepoint matching the glob patterns.
    fn tracepoints(&self, category: &str, event: &str) -> Vec<(String, String)>;
    /// The fields of one tracepoint (without the common_ fields).
    fn tracepoint_fields(
        &self,
        category: &str,
        event: &str,
    ) -> Result<Vec<TracepointField>, LookupError>;
    /// Kernel functions matching a glob pattern (optionally within a module).
    fn kernel_functions(&self, module: Option<&str>, pattern: &str) -> Vec<String>;
    /// Whether `name` is a kernel function (in kallsyms, within `module` if given) that the
    /// list of traceable functions leaves out, and which list that is.
    fn kernel_function_untraceable(&self, module: Option<&str>, name: &str) -> Option<Untraceable>;
    /// The functions (main functions and subprograms) of the BPF programs loaded in the
    /// kernel whose name matches a glob pattern, in the program with this id if given, by
    /// program id then position (`fentry:bpf:…`). None where rbt cannot ask the kernel.
    fn bpf_functions(&self, id: Option<u32>, pattern: &str) -> Vec<BpfTarget>;
    /// Raw tracepoints matching a glob pattern.
    fn raw_tracepoints(&self, pattern: &str) -> Vec<String>;
    /// A struct or union by its C name (`struct task_struct`), from BTF.
    fn record(&self, name: &str) -> Option<Record>;
    /// Whether the kernel's BTF defines more than one struct or union of this C name
    /// (`struct walk_control`, of btrfs and of another file): libbpf cannot relocate a field
    /// of such a record, whose offset differs between them, so it is read where
    /// [`Catalog::record`]'s definition has it, as bpftrace reads every field.
    fn record_ambiguous(&self, name: &str) -> bool;
    /// An integer constant with its type: an enumerator of a BTF enum
    /// (`SKB_DROP_REASON_NOT_SPECIFIED`), typed as its enum (64 bits wide, as bpftrace 0.27
    /// types such constants) so that it prints by name, or a well-known macro (`TASK_RUNNING`,
    /// `AF_INET`) as an `int64`.
    fn constant(&self, name: &str) -> Option<(i64, Type)>;
    /// A kernel enum by its name without `enum ` (`skb_drop_reason`), from BTF, as a
    /// [`Type::Enum`] whose values print by name.
    fn enum_type(&self, name: &str) -> Option<Type>;
    /// The functions of a binary or library (`libc` style names resolved like bpftrace)
    /// matching a glob, read as `names` says, or the one `0x` file address `pattern` gives,
    /// each moved `offset` bytes further (`uprobe:/bin/x:func+16`; the checker has parsed the
    /// offset). A function named exactly is checked against its size: an offset past its end
    /// is an error, and so is a function of size 0 unless `allow_unsafe` (`--unsafe`).
    fn uprobe_targets(
        &self,
        path: &str,
        pattern: &str,
        names: SymbolNames,
        offset: u64,
        allow_unsafe: bool,
    ) -> Result<Vec<UprobeTarget>, LookupError>;
    /// USDT probes of a binary matching provider and name patterns.
    fn usdt_targets(
        &self,
        path: &str,
        provider: &str,
        name: &str,
    ) -> Result<Vec<UsdtTarget>, LookupError>;
    /// Names close to an attach point that matched nothing, for "did you mean".
    fn suggestions(&self, provider: &str, fields: &[String]) -> Vec<String>;
    /// The id of a cgroup v2 directory (`cgroupid("/sys/fs/cgroup/x")`): its inode number.
    fn cgroup_id(&self, path: &str) -> Option<u64>;
    /// Address of a kernel symbol (`kaddr`).
    fn kernel_symbol(&self, name: &str) -> Option<u64>;
    /// The symbols and layout of a user binary, by the path a uprobe target resolved to
    /// (`uaddr`).
    fn user_object(&self, path: &str) -> Result<UserObject, LookupError>;
    /// Whether the kernel can attach kprobes (false on kernels built without CONFIG_KPROBES).
    fn kprobes_supported(&self) -> bool;
    /// Whether the kernel has kprobe_multi links (one link for many functions).
    fn kprobe_multi_supported(&self) -> bool;
    /// Whether the kernel has uprobe_multi links (one link for many user functions).
    fn uprobe_multi_supported(&self) -> bool;
    /// Whether the kernel has the kfunc `name` (in vmlinux BTF) and lets programs of type
    /// `program` call it (`kfunc_allowed()`, and `comm(pid)`'s `bpf_task_from_pid`).
    fn kfunc_allowed(&self, name: &str, program: ProgramType) -> bool;
    /// A kernel function's parameters (name, type) and return type, from BTF, for the typed
    /// `args` and `retval` of kfunc/kretfunc probes.
    fn function_signature(&self, name: &str) -> Option<(Vec<(String, Type)>, Type)>;
    /// A function of a loaded BPF program: its parameters (name, type) and return type,
    /// from the program's BTF, for the typed `args` and `retval` of `fentry:bpf` probes.
    fn bpf_function_signature(&self, id: u32, func: &str) -> Option<(Vec<(String, Type)>, Type)>;
    /// A raw tracepoint's parameters (name, type) after its leading `void *`, from BTF, for
    /// the typed `args` of rawtracepoint probes.
    fn raw_tracepoint_params(&self, _event: &str) -> Option<Vec<(String, Type)>> {
        None
    }
    /// The machine's CPUs, rbt's pid namespace and clock offsets.
    fn host(&self) -> Host;
    /// The kernel BTF struct that describes the record of tracepoint `category:event` with
    /// `fields` at their offsets (`trace_event_raw_<event>`, or the event class's struct the
    /// event shares), so that its fields can be relocated when the compiled program is loaded
    /// on another kernel. `None` when no struct matches: the fields keep their offsets.
    fn tracepoint_record(
        &self,
        _category: &str,
        _event: &str,
        _fields: &[TracepointField],
    ) -> Option<TracepointRecord> {
        None
    }
    /// The BTF type of a kernel variable (a per-CPU one for `percpu_kaddr`), if the kernel's
    /// BTF describes it.
    fn kernel_variable(&self, _name: &str) -> Option<Type> {
        None
    }
    /// Whether `#include` finds `path` (`<path>` when `system`, else `"path"`) on this
    /// machine. Kernel headers are not asked about: BTF stands in for them.
    fn header_found(&self, _path: &str, _system: bool) -> bool {
        true
    }
    /// The integer macros (`SIGINT`, `__NR_read`) the headers `(path, system)` define
    /// together, as the script's `#include`s of them make them constants of the script.
    fn header_macros(&self, _headers: &[(String, bool)]) -> Vec<(String, i64)> {
        Vec::new()
    }
    /// A user function's parameters from the DWARF debug info of the binary at `path`,
    /// for the typed `args` of uprobes. An error says why there are none (no debug info, no
    /// such function).
    fn user_function_params(
        &self,
        path: &str,
        function: &str,
    ) -> Result<Vec<UserParam>, LookupError>;
    /// A struct or union by its C name (`struct Foo`) from the debug info of the binary at
    /// `path`: the types of a uprobe's own program.
    fn user_record(&self, path: &str, name: &str) -> Option<Record>;
    /// The uprobe targets of a source location (`uprobe:/bin/x@file.c:LINE`): the first
    /// statement of that line, from the binary's line table.
    fn source_line_targets(
        &self,
        path: &str,
        file: &str,
        line: u64,
    ) -> Result<Vec<UprobeTarget>, LookupError>;
}

/// A catalog that knows nothing: parsing-only tools (`-d ast`) and unit tests of rules that
/// need no kernel facts.
pub struct EmptyCatalog;

impl Catalog for EmptyCatalog {
    fn tracepoints(&self, category: &str, event: &str) -> Vec<(String, String)> {
        vec![(category.to_string(), event.to_string())]
    }
    fn tracepoint_fields(&self, _: &str, _: &str) -> Result<Vec<TracepointField>, LookupError> {
        Ok(Vec::new())
    }
    fn kernel_functions(&self, _: Option<&str>, pattern: &str) -> Vec<String> {
        vec![pattern.to_string()]
    }
    fn kernel_function_untraceable(&self, _: Option<&str>, _: &str) -> Option<Untraceable> {
        None
    }
    fn bpf_functions(&self, _: Option<u32>, _: &str) -> Vec<BpfTarget> {
        Vec::new()
    }
    fn raw_tracepoints(&self, pattern: &str) -> Vec<String> {
        vec![pattern.to_string()]
    }
    fn record(&self, _: &str) -> Option<Record> {
        None
    }
    fn record_ambiguous(&self, _: &str) -> bool {
        false
    }
    fn constant(&self, _: &str) -> Option<(i64, Type)> {
        None
    }
    fn enum_type(&self, _: &str) -> Option<Type> {
        None
    }
    fn uprobe_targets(
        &self,
        path: &str,
        pattern: &str,
        _: SymbolNames,
        offset: u64,
        _: bool,
    ) -> Result<Vec<UprobeTarget>, LookupError> {
        Ok(vec![UprobeTarget {
            path: path.to_string(),
            symbol: pattern.to_string(),
            offset,
            cookie: 0,
        }])
    }
    fn usdt_targets(
        &self,
        path: &str,
        provider: &str,
        name: &str,
    ) -> Result<Vec<UsdtTarget>, LookupError> {
        Ok(vec![UsdtTarget {
            path: path.to_string(),
            provider: provider.to_string(),
            name: name.to_string(),
            offset: 0,
            semaphore_offset: 0,
            args: Vec::new(),
        }])
    }
    fn suggestions(&self, _: &str, _: &[String]) -> Vec<String> {
        Vec::new()
    }
    fn kernel_symbol(&self, _: &str) -> Option<u64> {
        None
    }
    fn user_object(&self, path: &str) -> Result<UserObject, LookupError> {
        Err(format!(
            "cannot read the symbols of {path} without a system catalog"
        ))
    }
    fn cgroup_id(&self, _: &str) -> Option<u64> {
        None
    }
    fn kprobes_supported(&self) -> bool {
        true
    }
    fn uprobe_multi_supported(&self) -> bool {
        false
    }
    fn kprobe_multi_supported(&self) -> bool {
        false
    }
    fn kfunc_allowed(&self, _: &str, _: ProgramType) -> bool {
        false
    }
    fn function_signature(&self, _: &str) -> Option<(Vec<(String, Type)>, Type)> {
        None
    }
    fn bpf_function_signature(&self, _: u32, _: &str) -> Option<(Vec<(String, Type)>, Type)> {
        None
    }
    fn host(&self) -> Host {
        Host::UNKNOWN
    }
    fn user_function_params(&self, path: &str, _: &str) -> Result<Vec<UserParam>, LookupError> {
        Err(format!(
            "cannot read the debug info of {path} without a system catalog"
        ))
    }
    fn user_record(&self, _: &str, _: &str) -> Option<Record> {
        None
    }
    fn source_line_targets(
        &self,
        path: &str,
        file: &str,
        line: u64,
    ) -> Result<Vec<UprobeTarget>, LookupError> {
        Ok(vec![UprobeTarget {
            path: path.to_string(),
            symbol: format!("{file}:{line}"),
            offset: 0,
            cookie: 0,
        }])
    }
}

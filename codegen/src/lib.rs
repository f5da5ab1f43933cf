//! rbt's back end: lowers a typed `hir::Script` through LLVM (inkwell) to a BPF ELF object
//! that libbpf loads as it is (maps in `.maps` with BTF), plus the [`Manifest`] the runtime
//! needs to attach programs and decode events. User errors never reach here: anything that
//! fails in this crate is a bug in `lang`, reported as [`CodegenError::Internal`].

mod bigmem;
mod callbacks;
mod calls;
mod context;
mod core;
mod debug;
mod exited;
mod helpers;
mod hist;
mod ir;
mod kfuncs;
mod llvm;
mod lower;
mod maps;
mod records;
mod strings;
mod tseries;

use inkwell::context::Context;
use inkwell::debug_info::{DWARFEmissionKind, DWARFSourceLanguage};
use inkwell::module::{FlagBehavior, Linkage, Module};
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetTriple,
};
use inkwell::OptimizationLevel;
use lang::hir;
use maps::{DebugTypes, MapDef};
use stdlib::abi;
use stdlib::manifest::{
    Attach, Manifest, MapKind, Program, Source, LOST_MAP, MAP_FULL_MAP, RINGBUF_MAP, SCRATCH_MAP,
    SKB_MAP, STACKS_MAP, STATE_MAP,
};
use stdlib::probes::Section;

/// An object ready to load and what it takes to run it.
#[derive(Debug, Clone)]
pub struct CompiledScript {
    pub elf: Vec<u8>,
    pub manifest: Manifest,
}

#[derive(Debug)]
pub enum CodegenError {
    /// A bug: the checker let through something codegen cannot lower.
    Internal(String),
    Llvm(String),
}

impl std::fmt::Display for CodegenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodegenError::Internal(m) => write!(f, "internal compiler error (please report): {m}"),
            CodegenError::Llvm(m) => write!(f, "LLVM failed: {m}"),
        }
    }
}

impl std::error::Error for CodegenError {}

impl From<inkwell::builder::BuilderError> for CodegenError {
    fn from(e: inkwell::builder::BuilderError) -> Self {
        CodegenError::Internal(format!("IR builder: {e}"))
    }
}

/// The ring buffer's size in the object. It is a placeholder: the runtime sizes the map for
/// the machine it runs on (or for `perf_rb_pages`) before loading it, and records ask the
/// ring for its real size (`submit_flags`).
const RINGBUF_BYTES: u32 = 1 << 20;

/// What to produce besides the object, and where the script came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// Return the optimized LLVM IR text as well.
    pub want_ir: bool,
    /// The script's name in the line info: its path, or `stdin` for `-e` and `-`.
    pub file_name: &'a str,
    /// The script's text, which the spans of the HIR index (for line numbers), with the
    /// text of each file it imports appended (`stdlib::manifest::Source`).
    pub source: &'a str,
    /// Each imported file's name and where its text starts in `source`.
    pub imports: &'a [(String, usize)],
    /// `-k`: report failed reads of memory as warnings (the manifest then carries the
    /// script, which user space renders them against).
    pub helper_warnings: bool,
    /// The license the programs declare to the kernel (`license`); `None` is `GPL`.
    pub license: Option<&'a str>,
    /// What `str()` writes at the end of a string it cut short (`str_trunc_trailer`);
    /// empty for none.
    pub str_trailer: &'a str,
}

/// Compiles a checked script. Returns the object, its manifest, and the IR text if asked.
pub fn compile(
    script: &hir::Script,
    opts: Options,
) -> Result<(CompiledScript, Option<String>), CodegenError> {
    let context = Context::create();
    let llvm_errors = llvm::capture_diagnostics(&context);
    let module = context.create_module("rbt");
    Target::initialize_bpf(&InitializationConfig::default());
    let triple = TargetTriple::create("bpfel");
    let target = Target::from_triple(&triple).map_err(|e| CodegenError::Llvm(e.to_string()))?;
    let machine = target
        .create_target_machine(
            &triple,
            "v3",
            "",
            OptimizationLevel::Aggressive,
            RelocMode::Default,
            CodeModel::Default,
        )
        .ok_or_else(|| CodegenError::Llvm("no BPF target machine".into()))?;
    module.set_triple(&triple);
    module.set_data_layout(&machine.get_target_data().get_data_layout());

    // No directory: LLVM's BPF backend reads the named file for the line text the verifier
    // log shows; a script from a file gets its text, one from -e (`stdin`) just the line
    // numbers, which is all the runtime uses. A script from a pipe (`rbt <(...)`) or another
    // file that is not a regular one is named as one from -e: it was read already, and
    // LLVM's read of a pipe would wait for a writer forever.
    let debug_file = match std::fs::metadata(opts.file_name) {
        Ok(m) if !m.is_file() => "stdin",
        _ => opts.file_name,
    };
    let (dib, cu) = module.create_debug_info_builder(
        true,
        DWARFSourceLanguage::C,
        debug_file,
        "",
        "rbt",
        true,
        "",
        0,
        "",
        DWARFEmissionKind::Full,
        0,
        false,
        false,
        "",
        "",
    );
    let file = cu.get_file();
    let debug = DebugTypes { dib, cu, file };
    let i32t = context.i32_type();
    module.add_basic_value_flag(
        "Debug Info Version",
        FlagBehavior::Warning,
        i32t.const_int(3, false),
    );
    module.add_basic_value_flag(
        "Dwarf Version",
        FlagBehavior::Warning,
        i32t.const_int(5, false),
    );

    let declare = |def: MapDef| maps::declare(&context, &module, &debug, &def);
    let events = declare(MapDef {
        name: RINGBUF_MAP,
        kind: MapKind::RingBuf,
        max_entries: RINGBUF_BYTES,
        key_size: None,
        value_size: None,
    });
    let lost = declare(MapDef {
        name: LOST_MAP,
        kind: MapKind::PerCpuArray,
        max_entries: 1,
        key_size: Some(4),
        value_size: Some(8),
    });
    let map_full = declare(MapDef {
        name: MAP_FULL_MAP,
        kind: MapKind::PerCpuArray,
        max_entries: 1,
        key_size: Some(4),
        value_size: Some(8),
    });
    let state = declare(MapDef {
        name: STATE_MAP,
        kind: MapKind::Array,
        max_entries: abi::state::SLOTS,
        key_size: Some(4),
        value_size: Some(8),
    });
    let stacks = declare(MapDef {
        name: STACKS_MAP,
        kind: MapKind::StackTrace,
        max_entries: 4096,
        key_size: Some(4),
        value_size: Some(abi::stack::MAP_VALUE_BYTES),
    });
    // A script with long strings gets an array with one scratch area per CPU, which the
    // runtime sizes to the machine's CPUs (see `Manifest::scratch_by_cpu`).
    let scratch_by_cpu = script.scratch_bytes.is_some();
    let scratch_bytes = script.scratch_bytes.unwrap_or(ir::SCRATCH_BYTES);
    let scratch = declare(MapDef {
        name: SCRATCH_MAP,
        kind: if scratch_by_cpu {
            MapKind::Array
        } else {
            MapKind::PerCpuArray
        },
        max_entries: 1,
        key_size: Some(4),
        value_size: Some(scratch_bytes),
    });
    let user_maps = script
        .maps
        .iter()
        .map(|m| {
            declare(MapDef {
                name: &m.elf_name,
                kind: m.kind,
                max_entries: m.max_entries,
                key_size: Some(m.key_size()),
                value_size: Some(m.value.size().max(1)),
            })
        })
        .collect();
    // libbpf sizes a perf event array of no entries to the machine's CPUs.
    let skb_output = script
        .events
        .iter()
        .any(|e| matches!(e, stdlib::manifest::Event::SkbOutput { .. }))
        .then(|| {
            declare(MapDef {
                name: SKB_MAP,
                kind: MapKind::PerfEventArray,
                max_entries: 0,
                key_size: Some(4),
                value_size: Some(4),
            })
        });
    let globals = ir::Globals {
        events,
        lost,
        map_full,
        state,
        stacks,
        scratch,
        scratch_bytes,
        scratch_by_cpu,
        maps: user_maps,
        skb_output,
        helper_errors: opts.helper_warnings.then(|| ir::HelperErrors {
            first_id: script.events.len() as u32,
            events: Default::default(),
        }),
        str_trailer: opts.str_trailer.as_bytes().to_vec(),
        update_sites: Default::default(),
        run_values: (!script.run_values.is_empty()).then(|| {
            // A zeroed `const` array in `.rodata`: libbpf makes it a frozen map whose
            // contents the runtime sets before loading, and the verifier reads them as
            // constants.
            let (_, bytes) = stdlib::manifest::run_values_layout(&script.run_values);
            let ty = context.i64_type().array_type(bytes / 8);
            let g = module.add_global(ty, None, stdlib::manifest::RUN_VALUES_GLOBAL);
            g.set_initializer(&ty.const_zero());
            g.set_constant(true);
            g.set_section(Some(".rodata"));
            g
        }),
    };

    let license = context.const_string(opts.license.unwrap_or("GPL").as_bytes(), true);
    let lic = module.add_global(license.get_type(), None, "_license");
    lic.set_initializer(&license);
    lic.set_section(Some("license"));

    let lines = stdlib::diag::Lines::new(opts.source);
    let mut programs = Vec::new();
    for probe in &script.probes {
        let func = declare_program(&context, &module, probe)?;
        let locator =
            debug::Locator::new(&context, &debug, &lines, func, &["ctx"], false, probe.span);
        ir::Lowerer::new(&context, &module, func, &globals, script, probe, locator)
            .lower_probe()?;
        programs.push(Program {
            name: probe.name.clone(),
            attach: probe.attach.clone(),
            probe_index: probe.probe_index,
        });
    }
    debug.dib.finalize();
    module
        .verify()
        .map_err(|e| CodegenError::Internal(format!("invalid LLVM IR: {}", e.to_string())))?;
    module
        .run_passes("default<O2>", &machine, PassBuilderOptions::create())
        .map_err(|e| CodegenError::Llvm(e.to_string()))?;
    bigmem::split_big_mem_calls(&context, &module)?;
    let ir = opts.want_ir.then(|| module.print_to_string().to_string());
    let buffer = machine
        .write_to_memory_buffer(&module, FileType::Object)
        .map_err(|e| CodegenError::Llvm(e.to_string()))?;
    if let Some(first) = llvm_errors.borrow().first() {
        return Err(CodegenError::Llvm(first.clone()));
    }
    // `-k` warnings and warnf/errorf/assert messages name where in the script they come from.
    // So do the updates of a map that was full.
    let update_sites: Vec<(usize, usize)> = globals
        .update_sites
        .borrow()
        .iter()
        .map(|s| (s.start, s.end))
        .collect();
    let needs_source = opts.helper_warnings
        || !update_sites.is_empty()
        || script.events.iter().any(|e| {
            matches!(
                e,
                stdlib::manifest::Event::Message { .. }
                    | stdlib::manifest::Event::ZeroDivisor { .. }
            )
        });
    let manifest = Manifest {
        programs,
        maps: script.maps.clone(),
        events: script
            .events
            .iter()
            .cloned()
            .chain(
                globals
                    .helper_errors
                    .iter()
                    .flat_map(|h| h.events.borrow().clone()),
            )
            .collect(),
        probe_names: script.probe_names.clone(),
        time_formats: script.time_formats.clone(),
        map_update_sites: update_sites,
        source: needs_source.then(|| Source {
            name: opts.file_name.to_string(),
            text: opts.source.to_string(),
            imports: opts.imports.to_vec(),
        }),
        run_values: script.run_values.clone(),
        scratch_by_cpu,
        dw_ustack: script.dw_ustack,
    };
    Ok((
        CompiledScript {
            elf: buffer.as_slice().to_vec(),
            manifest,
        },
        ir,
    ))
}

/// The ELF section of a program, as its probe kind's record names it: it tells libbpf the
/// program type.
fn section(probe: &hir::Probe) -> String {
    // A syscall tracepoint dispatched by number is a raw tracepoint program.
    if let Attach::Syscall { .. } = probe.attach {
        return "raw_tp".into();
    }
    match probe.provider.kind().section {
        Section::Fixed(name) => name.into(),
        Section::Multi(name) => {
            if matches!(
                probe.attach,
                Attach::Kprobe { multi: true, .. } | Attach::Uprobe { multi: true, .. }
            ) {
                format!("{name}.multi")
            } else {
                name.into()
            }
        }
        Section::Target(prefix) => {
            // The checker gives each fentry/fexit program exactly one target.
            let target = match &probe.attach {
                Attach::Kfunc { targets, .. } => targets.first().map_or("", String::as_str),
                Attach::Iter { target } => target.as_str(),
                // A function of a loaded BPF program: the runtime names the program and
                // the function (`bpf_program__set_attach_target`) before loading, and a
                // bare `fentry` section makes libbpf refuse to load it if it did not.
                Attach::BpfFunc { .. } => return prefix.into(),
                Attach::Begin
                | Attach::End
                | Attach::Bench { .. }
                | Attach::Test { .. }
                | Attach::Signal { .. }
                | Attach::Tracepoint { .. }
                | Attach::Rawtracepoint { .. }
                | Attach::Syscall { .. }
                | Attach::Kprobe { .. }
                | Attach::Uprobe { .. }
                | Attach::Usdt { .. }
                | Attach::Profile { .. }
                | Attach::Interval { .. }
                | Attach::Software { .. }
                | Attach::Hardware { .. }
                | Attach::Watchpoint { .. } => "",
            };
            format!("{prefix}/{target}")
        }
        Section::Typed { plain, typed } => match &probe.attach {
            // The checker gives each BTF-typed raw tracepoint program exactly one target.
            Attach::Rawtracepoint { targets, btf: true } => {
                format!("{typed}/{}", targets.first().map_or("", String::as_str))
            }
            _ => plain.into(),
        },
    }
}

fn declare_program<'ctx>(
    context: &'ctx Context,
    module: &Module<'ctx>,
    probe: &hir::Probe,
) -> Result<inkwell::values::FunctionValue<'ctx>, CodegenError> {
    let ptr = context.ptr_type(inkwell::AddressSpace::default());
    let fn_ty = context.i64_type().fn_type(&[ptr.into()], false);
    let func = module.add_function(&probe.name, fn_ty, Some(Linkage::External));
    func.set_section(Some(&section(probe)));
    let nounwind = inkwell::attributes::Attribute::get_named_enum_kind_id("nounwind");
    func.add_attribute(
        inkwell::attributes::AttributeLoc::Function,
        context.create_enum_attribute(nounwind, 0),
    );
    Ok(func)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lang::ast::{Provider, Span};
    use stdlib::manifest::KprobeTarget;

    fn probe(provider: Provider, attach: Attach) -> hir::Probe {
        hir::Probe {
            name: "p".into(),
            provider,
            context: provider.kind().context,
            attach,
            probe_index: 0,
            vars: Vec::new(),
            locals: Vec::new(),
            frames: Vec::new(),
            predicate: None,
            body: Vec::new(),
            span: Span::new(0, 0),
        }
    }

    /// The sections whose name depends on the attach point: kprobe_multi links, the
    /// fentry/fexit target and the event of a BTF-typed raw tracepoint.
    #[test]
    fn sections_follow_the_probe_kind_table() {
        let kprobe = |ret, multi| Attach::Kprobe {
            targets: vec![KprobeTarget {
                symbol: "vfs_read".into(),
                offset: 0,
                cookie: 0,
            }],
            ret,
            multi,
        };
        let uprobe = |ret, multi| Attach::Uprobe {
            targets: vec![stdlib::manifest::UprobeTarget {
                path: "/bin/x".into(),
                symbol: "f".into(),
                offset: 16,
                cookie: 0,
            }],
            ret,
            multi,
        };
        let kfunc = |ret| Attach::Kfunc {
            targets: vec!["vfs_read".into()],
            ret,
        };
        let bpf_func = |ret| Attach::BpfFunc {
            targets: vec![stdlib::manifest::BpfTarget {
                id: 7,
                func: "interval_0".into(),
            }],
            ret,
        };
        let raw = |btf| Attach::Rawtracepoint {
            targets: vec!["consume_skb".into()],
            btf,
        };
        let cases = [
            (Provider::Kprobe, kprobe(false, false), "kprobe"),
            (Provider::Kprobe, kprobe(false, true), "kprobe.multi"),
            (Provider::Kretprobe, kprobe(true, false), "kretprobe"),
            (Provider::Kretprobe, kprobe(true, true), "kretprobe.multi"),
            (Provider::Uprobe, uprobe(false, false), "uprobe"),
            (Provider::Uprobe, uprobe(false, true), "uprobe.multi"),
            (Provider::Uretprobe, uprobe(true, false), "uretprobe"),
            (Provider::Uretprobe, uprobe(true, true), "uretprobe.multi"),
            (Provider::Kfunc, kfunc(false), "fentry/vfs_read"),
            (Provider::Kretfunc, kfunc(true), "fexit/vfs_read"),
            (Provider::Kfunc, bpf_func(false), "fentry"),
            (Provider::Kretfunc, bpf_func(true), "fexit"),
            (Provider::Begin, Attach::Begin, "raw_tp"),
            (Provider::Rawtracepoint, raw(false), "raw_tp"),
            (Provider::Rawtracepoint, raw(true), "tp_btf/consume_skb"),
        ];
        for (provider, attach, want) in cases {
            assert_eq!(section(&probe(provider, attach)), want, "{provider:?}");
        }
    }
}

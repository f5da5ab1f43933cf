//! Feature probes of the running kernel: whether a BPF helper is callable from a program type,
//! and whether a program of a type and attach type loads. Each probe loads a two-instruction
//! program (`r0 = 0; exit`) and closes it at once; `--info` reports the answers.

use std::os::raw::c_char;

/// BPF helpers whose presence changes what rbt can do.
#[derive(Clone, Copy, Debug)]
pub enum Helper {
    /// `bpf_d_path`, for `path()`; callable from tracing (fentry) programs only.
    DPath,
    GetTaiNs,
    GetFuncIp,
    LookupPercpuElem,
    Loop,
}

/// Whether programs that would use `helper` may call it (libbpf's own probe).
pub fn helper_supported(helper: Helper) -> bool {
    let (prog_type, id) = match helper {
        Helper::DPath => (
            libbpf_sys::BPF_PROG_TYPE_TRACING,
            libbpf_sys::BPF_FUNC_d_path,
        ),
        Helper::GetTaiNs => (
            libbpf_sys::BPF_PROG_TYPE_KPROBE,
            libbpf_sys::BPF_FUNC_ktime_get_tai_ns,
        ),
        Helper::GetFuncIp => (
            libbpf_sys::BPF_PROG_TYPE_KPROBE,
            libbpf_sys::BPF_FUNC_get_func_ip,
        ),
        Helper::LookupPercpuElem => (
            libbpf_sys::BPF_PROG_TYPE_KPROBE,
            libbpf_sys::BPF_FUNC_map_lookup_percpu_elem,
        ),
        Helper::Loop => (libbpf_sys::BPF_PROG_TYPE_KPROBE, libbpf_sys::BPF_FUNC_loop),
    };
    // SAFETY: plain values in; libbpf loads and closes its own probe program.
    unsafe { libbpf_sys::libbpf_probe_bpf_helper(prog_type, id, std::ptr::null()) == 1 }
}

/// Kinds of programs whose support depends on the kernel's version and configuration.
#[derive(Clone, Copy, Debug)]
pub enum ProgramKind {
    KprobeMulti,
    KprobeSession,
    UprobeMulti,
    /// A BPF iterator over the target whose `bpf_iter_*` function has this vmlinux BTF id.
    Iter {
        btf_id: u32,
    },
}

/// Whether a program of `kind` passes the kernel's load-time checks.
pub fn program_loads(kind: ProgramKind) -> bool {
    let (prog_type, attach_type, btf_id) = match kind {
        ProgramKind::KprobeMulti => (
            libbpf_sys::BPF_PROG_TYPE_KPROBE,
            libbpf_sys::BPF_TRACE_KPROBE_MULTI,
            0,
        ),
        ProgramKind::KprobeSession => (
            libbpf_sys::BPF_PROG_TYPE_KPROBE,
            libbpf_sys::BPF_TRACE_KPROBE_SESSION,
            0,
        ),
        ProgramKind::UprobeMulti => (
            libbpf_sys::BPF_PROG_TYPE_KPROBE,
            libbpf_sys::BPF_TRACE_UPROBE_MULTI,
            0,
        ),
        ProgramKind::Iter { btf_id } => (
            libbpf_sys::BPF_PROG_TYPE_TRACING,
            libbpf_sys::BPF_TRACE_ITER,
            btf_id,
        ),
    };
    loads_with(prog_type, attach_type, btf_id)
}

fn loads_with(prog_type: u32, attach_type: u32, attach_btf_id: u32) -> bool {
    // r0 = 0; exit: BPF_ALU64|BPF_MOV|BPF_K to r0, then BPF_JMP|BPF_EXIT.
    let insns = [
        libbpf_sys::bpf_insn {
            code: 0xb7,
            _bitfield_align_1: [],
            _bitfield_1: libbpf_sys::bpf_insn::new_bitfield_1(0, 0),
            off: 0,
            imm: 0,
        },
        libbpf_sys::bpf_insn {
            code: 0x95,
            _bitfield_align_1: [],
            _bitfield_1: libbpf_sys::bpf_insn::new_bitfield_1(0, 0),
            off: 0,
            imm: 0,
        },
    ];
    let mut opts = libbpf_sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
        expected_attach_type: attach_type,
        attach_btf_id,
        ..Default::default()
    };
    let license = c"GPL";
    // SAFETY: insns and opts live across the call and opts.sz is its real size; the returned
    // fd, when there is one, is ours and closed right away.
    unsafe {
        let fd = libbpf_sys::bpf_prog_load(
            prog_type,
            std::ptr::null::<c_char>(),
            license.as_ptr(),
            insns.as_ptr(),
            insns.len() as _,
            &mut opts,
        );
        if fd >= 0 {
            libc::close(fd);
            true
        } else {
            false
        }
    }
}

//! Feature probes of the running kernel: whether a BPF helper is callable from a program type,
//! whether a program of a type and attach type loads, and whether a program type may call a
//! kernel function (kfunc). Each probe loads a program of a few instructions (`r0 = 0; exit`,
//! after the call it asks about) and closes it at once; `--info` reports the answers.

use super::dispatch::{insn, CALL, EXIT, MOV64_IMM};
use std::os::raw::c_char;
use stdlib::probes::ProgramType;

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
    load(prog_type, attach_type, attach_btf_id, &return_zero(), None).is_ok()
}

/// `r0 = 0; exit`.
fn return_zero() -> [libbpf_sys::bpf_insn; 2] {
    [insn(MOV64_IMM, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]
}

/// `src_reg` of a call whose `imm` is a kernel function's vmlinux BTF id.
const PSEUDO_KFUNC_CALL: u8 = 2;

/// Where a probe program of `program`'s type is loaded: the program type, the attach type
/// and the BTF id a tracing program must name (`tracing_target`, the `btf_trace_*` typedef
/// of a raw tracepoint: a tracing program is asked about as a BTF-typed raw tracepoint).
fn load_attrs(program: ProgramType, tracing_target: u32) -> (u32, u32, u32) {
    match program {
        ProgramType::Kprobe => (libbpf_sys::BPF_PROG_TYPE_KPROBE, 0, 0),
        ProgramType::Tracepoint => (libbpf_sys::BPF_PROG_TYPE_TRACEPOINT, 0, 0),
        ProgramType::RawTracepoint => (libbpf_sys::BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0),
        ProgramType::PerfEvent => (libbpf_sys::BPF_PROG_TYPE_PERF_EVENT, 0, 0),
        ProgramType::Tracing => (
            libbpf_sys::BPF_PROG_TYPE_TRACING,
            libbpf_sys::BPF_TRACE_RAW_TP,
            tracing_target,
        ),
    }
}

/// Whether programs of type `program` may call the kernel function whose vmlinux BTF id is
/// `kfunc` (`tracing_target` as in [`load_attrs`]). The probe calls it with zeros for
/// arguments, so a kernel that allows the call may still refuse the program over them (or
/// over a reference the call returns and the probe never releases); a refusal of the call
/// itself, the verifier's EACCES naming the function (`calling kernel function NAME is not
/// allowed`, `… must be sleepable to call sleepable kfunc NAME`), means no, and so does a
/// refusal before the verifier ran (without the privilege to load programs).
pub fn kfunc_callable(program: ProgramType, kfunc: u32, name: &str, tracing_target: u32) -> bool {
    // r1..r5 = 0; call kfunc; r0 = 0; exit.
    let mut insns: Vec<libbpf_sys::bpf_insn> =
        (1..=5).map(|r| insn(MOV64_IMM, r, 0, 0, 0)).collect();
    insns.push(insn(CALL, 0, PSEUDO_KFUNC_CALL, 0, kfunc as i32));
    insns.extend(return_zero());
    let (prog_type, attach_type, btf_id) = load_attrs(program, tracing_target);
    let mut log = vec![0u8; 64 * 1024];
    match load(prog_type, attach_type, btf_id, &insns, Some(&mut log)) {
        Ok(()) => true,
        Err(errno) => {
            // The log also traces each instruction (`6: (85) call NAME#id`): the refusal is
            // a message line that names the function.
            let text = String::from_utf8_lossy(&log);
            let traced = |l: &str| {
                l.split_once(':')
                    .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
            };
            let refused =
                errno == libc::EACCES && text.lines().any(|l| l.contains(name) && !traced(l));
            // A program refused before the verifier ran (no privilege) tells nothing: no.
            !refused && !text.trim_matches('\0').trim().is_empty()
        }
    }
}

/// Loads `insns` as a GPL program of the given types and closes it; the errno of a refusal,
/// with the verifier's log in `log` when one is given.
fn load(
    prog_type: u32,
    attach_type: u32,
    attach_btf_id: u32,
    insns: &[libbpf_sys::bpf_insn],
    log: Option<&mut Vec<u8>>,
) -> Result<(), i32> {
    let mut opts = libbpf_sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
        expected_attach_type: attach_type,
        attach_btf_id,
        ..Default::default()
    };
    if let Some(buf) = log {
        opts.log_level = 1;
        opts.log_size = buf.len() as u32;
        opts.log_buf = buf.as_mut_ptr().cast();
    }
    let license = c"GPL";
    // SAFETY: insns, opts and the log buffer live across the call and opts.sz is its real
    // size; the returned fd, when there is one, is ours and closed right away.
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
            Ok(())
        } else {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        }
    }
}

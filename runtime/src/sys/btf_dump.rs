//! C definitions of kernel types, written by libbpf's BTF dumper: the text `-lv 'struct
//! task_struct'` shows. libbpf's dumper is the reference form (bpftrace's listing is the same
//! text: padding as `long: 64;`, anonymous members inline, function pointers spelled out), so
//! rbt uses it rather than a printer of its own.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::ptr::NonNull;

use super::{cstring, err, last_errno, SysError};

/// The kinds of named kernel types a listing can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeKind {
    Struct,
    Union,
    Enum,
}

impl TypeKind {
    /// The C keyword (`struct`).
    pub fn keyword(self) -> &'static str {
        match self {
            TypeKind::Struct => "struct",
            TypeKind::Union => "union",
            TypeKind::Enum => "enum",
        }
    }

    fn btf_kind(self) -> u32 {
        match self {
            TypeKind::Struct => libbpf_sys::BTF_KIND_STRUCT,
            TypeKind::Union => libbpf_sys::BTF_KIND_UNION,
            TypeKind::Enum => libbpf_sys::BTF_KIND_ENUM,
        }
    }
}

/// The running kernel's BTF as libbpf parsed it; freed on drop.
pub struct KernelBtf(NonNull<libbpf_sys::btf>);

impl KernelBtf {
    /// Loads `/sys/kernel/btf/vmlinux` (or wherever libbpf finds the kernel's BTF).
    pub fn load() -> Result<Self, SysError> {
        // SAFETY: no arguments; returns an owned object or NULL with errno set.
        let p = unsafe { libbpf_sys::btf__load_vmlinux_btf() };
        NonNull::new(p)
            .map(KernelBtf)
            .ok_or_else(|| err("cannot load the kernel's BTF", last_errno()))
    }

    /// The C definition of `kind name` as libbpf writes it (from `struct name {` to `};`),
    /// or None when the kernel has no such type.
    pub fn c_definition(&self, kind: TypeKind, name: &str) -> Result<Option<String>, SysError> {
        let cname = cstring(name)?;
        // SAFETY: the btf pointer is live for &self; the name is a NUL-terminated string.
        let id = unsafe {
            libbpf_sys::btf__find_by_name_kind(self.0.as_ptr(), cname.as_ptr(), kind.btf_kind())
        };
        if id <= 0 {
            return Ok(None);
        }
        let mut text = String::new();
        // SAFETY: `collect` matches btf_dump_printf_fn_t and casts ctx back to the String
        // passed here, which outlives the dumper (freed below, before `text` is read).
        let d = unsafe {
            libbpf_sys::btf_dump__new(
                self.0.as_ptr(),
                Some(collect),
                (&mut text as *mut String).cast::<c_void>(),
                std::ptr::null(),
            )
        };
        if d.is_null() {
            return Err(err("cannot start libbpf's BTF dumper", last_errno()));
        }
        // SAFETY: d is the live dumper made above and id a type of its BTF; it is freed once.
        let rc = unsafe {
            let rc = libbpf_sys::btf_dump__dump_type(d, id as u32);
            libbpf_sys::btf_dump__free(d);
            rc
        };
        if rc < 0 {
            return Err(err(
                format!("cannot write {} {name} as C", kind.keyword()),
                rc,
            ));
        }
        // The dumper writes the types the definition depends on first: keep only its own.
        let head = format!("{} {name} {{", kind.keyword());
        let mut lines = text.lines().skip_while(|l| *l != head);
        let mut out = String::new();
        for line in lines.by_ref() {
            out.push_str(line);
            out.push('\n');
            if line == "};" {
                return Ok(Some(out));
            }
        }
        Ok(None)
    }
}

impl Drop for KernelBtf {
    fn drop(&mut self) {
        // SAFETY: the pointer came from btf__load_vmlinux_btf and is freed exactly once.
        unsafe { libbpf_sys::btf__free(self.0.as_ptr()) }
    }
}

unsafe extern "C" {
    fn vsnprintf(
        s: *mut c_char,
        n: usize,
        fmt: *const c_char,
        ap: *mut libbpf_sys::__va_list_tag,
    ) -> c_int;
}

/// The dumper's printf: formats one fragment and appends it to the String behind `ctx`.
unsafe extern "C" fn collect(
    ctx: *mut c_void,
    fmt: *const c_char,
    ap: *mut libbpf_sys::__va_list_tag,
) {
    // The dumper's fragments are a name or a line at most; a va_list can be read only once,
    // so the buffer is sized for any of them rather than measured first.
    let mut buf = vec![0u8; 1 << 16];
    // SAFETY: libbpf passes a valid format and its matching va_list, consumed once here;
    // vsnprintf writes at most buf.len() bytes including the NUL.
    let n = unsafe { vsnprintf(buf.as_mut_ptr().cast::<c_char>(), buf.len(), fmt, ap) };
    if n < 0 {
        return;
    }
    // SAFETY: ctx is the &mut String c_definition passed to btf_dump__new, alive and not
    // otherwise borrowed while the dumper runs.
    let text = unsafe { &mut *ctx.cast::<String>() };
    if let Ok(s) = CStr::from_bytes_until_nul(&buf) {
        text.push_str(&s.to_string_lossy());
    }
}

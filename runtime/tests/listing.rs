//! Tests for probe listing and kernel/ELF introspection: differential against bpftrace 0.17,
//! and on a small USDT fixture program (tests/fixtures/usdt_fixture.c) built here with gcc.
//! Tests that need root (tracefs, kallsyms, bpftrace) are `#[ignore = "needs root"]` and fail
//! with a message when asked for without root; the others skip with a message when this
//! system lacks BTF, gcc or `<sys/sdt.h>`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use runtime::introspect::{btf, elf, kallsyms, tracefs};
use runtime::listing::{self, ListError};

fn is_root() -> bool {
    // /proc/self/status reports the effective uid without any unsafe call.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Fails, saying why, unless this runs as root: a root-only test that is asked for (with
/// `--include-ignored`) must test something or fail, never pass silently.
fn require_root(what: &str) {
    assert!(
        is_root(),
        "this test needs root ({what}): run it as root (run-tests.sh does), or leave out \
         --include-ignored"
    );
}

/// Reports a skipped test on the real stderr: `eprintln!` would be swallowed by the test
/// harness's output capture for a test that then passes.
fn skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
}

fn list_str(pattern: Option<&str>, verbose: bool, pid: Option<u32>) -> Result<String, ListError> {
    let mut out = Vec::new();
    listing::list(pattern, verbose, pid, &[], &mut out)?;
    Ok(String::from_utf8(out).expect("listing output is UTF-8"))
}

fn require_bpftrace() {
    assert!(
        Command::new("bpftrace")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "this test compares with Debian's bpftrace 0.17, which is not installed \
         (apt-get install bpftrace; ci-setup.sh does)"
    );
}

fn bpftrace_list(args: &[&str]) -> String {
    let out = Command::new("bpftrace")
        .args(args)
        .output()
        .expect("run bpftrace");
    String::from_utf8(out.stdout).expect("bpftrace output is UTF-8")
}

/// Root plus a usable tracefs (rbt mounts it when it is not mounted).
fn require_tracing() {
    require_root("tracefs");
    if let Err(e) = tracefs::root() {
        panic!("tracefs is not usable: {e}");
    }
}

#[test]
#[ignore = "needs root and bpftrace"]
fn differential_tracepoint_listing() {
    require_tracing();
    require_bpftrace();
    let ours = list_str(Some("tracepoint:syscalls:*"), false, None).expect("list");
    let theirs = bpftrace_list(&["-l", "tracepoint:syscalls:*"]);
    assert!(!ours.is_empty());
    assert_eq!(ours, theirs, "rbt -l differs from bpftrace -l");

    let ours = list_str(Some("tracepoint:syscalls:sys_enter_open*"), true, None).expect("list");
    let theirs = bpftrace_list(&["-lv", "tracepoint:syscalls:sys_enter_open*"]);
    assert!(ours.contains("\n    const char * filename\n"));
    assert_eq!(ours, theirs, "rbt -lv differs from bpftrace -lv");

    // Aliases and a bare event pattern expand the same way as in bpftrace.
    let ours = list_str(Some("t:syscalls:sys_enter_openat"), false, None).expect("list");
    assert_eq!(ours, "tracepoint:syscalls:sys_enter_openat\n");
    let ours = list_str(Some("tracepoint:*open*"), false, None).expect("list");
    assert_eq!(ours, bpftrace_list(&["-l", "tracepoint:*open*"]));
}

#[test]
#[ignore = "needs root"]
fn tracepoint_format_fields() {
    require_tracing();
    let fmt = tracefs::event_format("syscalls", "sys_enter_openat").expect("format");
    let filename = fmt
        .fields
        .iter()
        .find(|f| f.name == "filename")
        .expect("filename");
    assert_eq!(filename.ty, "const char *");
    assert_eq!(filename.size, 8);
    let exec = tracefs::event_format("sched", "sched_process_exec").expect("format");
    let f = exec
        .fields
        .iter()
        .find(|f| f.name == "filename")
        .expect("filename");
    assert!(f.data_loc, "sched_process_exec filename is __data_loc");
    assert!(matches!(
        tracefs::event_format("syscalls", "no_such_event"),
        Err(tracefs::TracefsError::NoSuchEvent { .. })
    ));
}

#[test]
#[ignore = "needs root"]
fn kprobe_listing_from_kallsyms() {
    require_root("kallsyms names and tracefs");
    let out = list_str(Some("kprobe:tcp_*"), false, None).expect("list");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"kprobe:tcp_connect"), "tcp_connect missing");
    assert!(lines.iter().all(|l| l.starts_with("kprobe:tcp_")));
    assert!(!out.contains("__pfx_"));
    let mut sorted = lines.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(lines, sorted, "output is sorted and unique");
    let kr = list_str(Some("kretprobe:tcp_connect"), false, None).expect("list");
    assert_eq!(kr, "kretprobe:tcp_connect\n");
}

#[test]
#[ignore = "needs root"]
fn renamed_symbol_resolution() {
    require_root("kallsyms names");
    let fns = kallsyms::probeable_functions().expect("kallsyms");
    // Pick any `.isra.`/`.constprop.` symbol this kernel has and resolve its plain name.
    let Some(renamed) = fns
        .names()
        .find(|n| n.contains(".isra.") || n.contains(".constprop."))
    else {
        return skip(
            "renamed_symbol_resolution",
            "this kernel has no renamed symbols",
        );
    };
    let plain = renamed.split('.').next().expect("has a prefix");
    if fns.names().any(|n| n == plain) {
        return; // The plain name exists too: resolution returns it, nothing to check here.
    }
    let got = kallsyms::resolve_renamed(plain, fns.names());
    assert!(
        got.contains(&renamed),
        "{plain} should resolve to {renamed}, got {got:?}"
    );
}

#[test]
fn btf_types_and_functions() {
    let name = "btf_types_and_functions";
    let b = match btf::Btf::vmlinux() {
        Ok(b) => b,
        Err(e) => return skip(name, &e.to_string()),
    };
    let task = b.find_struct("task_struct").expect("task_struct");
    let members = b.members(task).expect("members");
    let pid = members
        .iter()
        .find(|m| m.name == "pid")
        .expect("pid member");
    assert_eq!(b.type_to_string(pid.type_id), "pid_t");
    assert_eq!(b.size_of(pid.type_id), Some(4));
    let comm = members
        .iter()
        .find(|m| m.name == "comm")
        .expect("comm member");
    assert_eq!(b.type_to_string(comm.type_id), "char[16]");

    let sig = b.func("vfs_read").expect("vfs_read");
    let params: Vec<String> = sig
        .params
        .iter()
        .map(|p| format!("{} {}", b.type_to_string(p.type_id), p.name))
        .collect();
    assert_eq!(params[0], "struct file * file");
    assert_eq!(params[1], "char * buf");
    assert_eq!(b.type_to_string(sig.ret), "ssize_t");
    assert!(b.func_names().any(|n| n == "tcp_connect"));
    assert!(b.raw_tracepoints().any(|(n, _)| n == "sched_switch"));
    let (typedef, wrapper) = b.raw_tracepoint_index()["sched_switch"];
    let rt = b
        .raw_tracepoint_params_of(typedef, wrapper)
        .expect("sched_switch params");
    assert!(rt.iter().any(|p| p.name == "prev"));
    // The 0.17 spelling still lists, under 0.27's name.
    let kfunc = list_str(Some("kfunc:vfs_read"), true, None).expect("list");
    assert!(kfunc.starts_with("fentry:vmlinux:vfs_read\n    struct file * file\n"));
    assert!(kfunc.ends_with("    ssize_t retval\n"));
}

/// The fixture binary, built once per test process; `None` (with the reason) when gcc or
/// `<sys/sdt.h>` is missing.
fn fixture() -> Result<&'static Path, &'static str> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let r = BUILT.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/usdt_fixture.c");
        // Under cargo's temporary directory for tests, so that runs leave nothing in `/tmp`.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rbt-listing");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let bin = dir.join("usdt_fixture");
        let out = Command::new("gcc")
            .args(["-O1", "-o"])
            .arg(&bin)
            .arg(&src)
            .output()
            .map_err(|e| format!("gcc not runnable: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "gcc failed (is systemtap-sdt-dev installed?): {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(bin)
    });
    match r {
        Ok(p) => Ok(p.as_path()),
        Err(e) => Err(e.as_str()),
    }
}

#[test]
fn uprobe_and_usdt_listing_on_fixture() {
    let name = "uprobe_and_usdt_listing_on_fixture";
    let bin = match fixture() {
        Ok(b) => b,
        Err(why) => return skip(name, why),
    };
    let p = bin.display();
    let out = list_str(Some(&format!("uprobe:{p}:rbt_fixture_*")), false, None).expect("list");
    assert_eq!(
        out,
        format!("uprobe:{p}:rbt_fixture_compute\nuprobe:{p}:rbt_fixture_idle\n")
    );
    let out = list_str(Some(&format!("usdt:{p}:*")), false, None).expect("list");
    assert_eq!(
        out,
        format!("usdt:{p}:rbtfix:busy\nusdt:{p}:rbtfix:compute_start\n")
    );
    let out = list_str(Some(&format!("usdt:{p}:*:busy")), false, None).expect("list");
    assert_eq!(out, format!("usdt:{p}:rbtfix:busy\n"));

    let probes = elf::usdt_probes(bin).expect("notes");
    assert_eq!(probes.len(), 2);
    let cs = probes
        .iter()
        .find(|u| u.name == "compute_start")
        .expect("compute_start");
    assert_eq!(cs.provider, "rbtfix");
    assert_eq!(
        cs.args.split_whitespace().count(),
        2,
        "two operands: {}",
        cs.args
    );
    assert!(cs.args.contains('@'));
    assert!(cs.file_offset.is_some());
    assert_ne!(cs.semaphore, 0, "fixture defines semaphores");
    assert!(cs.semaphore_offset.is_some());
    let busy = probes.iter().find(|u| u.name == "busy").expect("busy");
    assert_eq!(
        busy.semaphore.abs_diff(cs.semaphore),
        2,
        "adjacent u16 semaphores"
    );

    let syms = elf::function_symbols(bin).expect("symbols");
    let compute = syms
        .iter()
        .find(|s| s.name == "rbt_fixture_compute")
        .expect("symbol");
    assert!(compute.file_offset.is_some());
}

#[test]
#[ignore = "needs root and bpftrace"]
fn uprobe_and_usdt_listing_matches_bpftrace() {
    require_root("bpftrace lists only as root");
    require_bpftrace();
    let bin = fixture().unwrap_or_else(|why| panic!("the fixture did not build: {why}"));
    let p = bin.display();
    for pat in [format!("uprobe:{p}:*"), format!("usdt:{p}:*")] {
        let ours = list_str(Some(&pat), false, None).expect("list");
        assert_eq!(ours, bpftrace_list(&["-l", &pat]), "differs for {pat}");
    }
}

/// What `uaddr()` reads through the catalog: data symbols with their sizes, whether the
/// binary is position-independent, and segments that map a uprobe's file offset back to the
/// address the ELF file gives that code (the base of the run-time rebasing).
#[test]
fn user_object_for_uaddr_on_fixture() {
    use stdlib::catalog::Catalog;
    let bin = match fixture() {
        Ok(b) => b,
        Err(why) => return skip("user_object_for_uaddr_on_fixture", why),
    };
    let path = bin.to_string_lossy();
    let obj = runtime::catalog::SystemCatalog::new(None)
        .user_object(&path)
        .expect("object");
    let sem = obj
        .symbols
        .iter()
        .find(|s| s.name == "rbtfix_busy_semaphore")
        .expect("data symbol");
    assert_eq!(sem.size, 2, "an unsigned short");
    let compute = elf::function_symbols(bin)
        .expect("symbols")
        .into_iter()
        .find(|s| s.name == "rbt_fixture_compute")
        .expect("function");
    let offset = compute.file_offset.expect("file offset");
    assert_eq!(obj.address_of_offset(offset), Some(compute.addr));
    let header = std::fs::read(bin).expect("read");
    // e_type at byte 16: ET_DYN = 3 (gcc's default PIE), ET_EXEC = 2.
    assert_eq!(obj.relocatable, header.get(16) == Some(&3));
}

#[test]
fn uprobe_library_name_resolution() {
    let name = "uprobe_library_name_resolution";
    let paths = match elf::resolve_target("libc", None) {
        Ok(p) => p,
        Err(e) => return skip(name, &e.to_string()),
    };
    assert!(paths[0].to_string_lossy().contains("libc.so"));
    assert_eq!(elf::resolve_target("c", None).ok(), Some(paths.clone()));
    // A full soname, as the ld.so cache lists it, finds the same library.
    assert_eq!(
        elf::resolve_target("libc.so.6", None).ok(),
        Some(paths.clone())
    );
    let out = list_str(Some("uprobe:libc:malloc"), false, None).expect("list");
    assert_eq!(out, format!("uprobe:{}:malloc\n", paths[0].display()));
    assert!(matches!(
        elf::resolve_target("no_such_library_rbt", None),
        Err(elf::ElfError::NotFound { .. })
    ));
}

#[test]
fn pid_listing_uses_process_mappings() {
    let name = "pid_listing_uses_process_mappings";
    let Ok(mut child) = Command::new("sleep").arg("5").spawn() else {
        return skip(name, "cannot spawn sleep");
    };
    let pid = child.id();
    // Wait until the dynamic loader has mapped libc.
    let mut out = String::new();
    for _ in 0..50 {
        out = list_str(Some("uprobe:*:malloc"), false, Some(pid)).unwrap_or_default();
        if !out.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // With -p, `*` and an empty target (`usdt::p:n`) stand for the process's ELF objects;
    // a path missing here is looked up in the process's mount namespace.
    let every = elf::resolve_target("*", Some(pid)).expect("objects of the process");
    assert!(every
        .iter()
        .any(|p| p.to_string_lossy().contains("libc.so")));
    let unnamed = elf::resolve_target("", Some(pid)).expect("objects of the process");
    assert_eq!(every, unnamed);
    let libc = elf::resolve_target("libc*", Some(pid)).expect("libc of the process");
    assert!(!libc.is_empty() && libc.len() < every.len(), "{libc:?}");
    let _ = child.kill();
    let _ = child.wait();
    let prefix = format!("uprobe:/proc/{pid}/root/");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&prefix) && l.ends_with(":malloc")),
        "no malloc in the process's objects: {out}"
    );
}

#[test]
fn did_you_mean_user_probes() {
    let bin = match fixture() {
        Ok(b) => b,
        Err(why) => return skip("did_you_mean_user_probes", why),
    };
    let p = bin.display();
    let s = listing::did_you_mean(&format!("uprobe:{p}:rbt_fixture_compte"), None);
    assert_eq!(s[0].name, "rbt_fixture_compute");
    assert_eq!(s[0].probe, format!("uprobe:{p}:rbt_fixture_compute"));
    let s = listing::did_you_mean(&format!("usdt:{p}:rbtfix:compute_strt"), None);
    assert_eq!(s[0].name, "compute_start");
    let s = listing::did_you_mean(&format!("usdt:{p}:rbtfx:busy"), None);
    assert_eq!(s[0].probe, format!("usdt:{p}:rbtfix:busy"));
}

/// A function missing from a library that one of its needed libraries defines is suggested
/// there in full: glibc 2.34+ keeps `libpthread.so.0` as a stub whose functions are in
/// `libc.so.6` (Debian's threadsnoop.bt probes `uprobe:libpthread:pthread_create`).
#[test]
fn did_you_mean_a_needed_library() {
    let Ok(libpthread) = elf::resolve_target("libpthread", None) else {
        return skip("did_you_mean_a_needed_library", "no libpthread here");
    };
    let defines = |lib: &Path, name: &str| {
        elf::function_symbols(lib).is_ok_and(|syms| syms.iter().any(|s| s.name == name))
    };
    if defines(&libpthread[0], "pthread_create") {
        return skip(
            "did_you_mean_a_needed_library",
            "libpthread defines pthread_create (glibc before 2.34)",
        );
    }
    assert!(elf::needed_libraries(&libpthread[0]).contains(&"libc.so.6".to_string()));
    let s = listing::did_you_mean("uprobe:libpthread:pthread_create", None);
    assert_eq!(s[0].probe, "uprobe:libc.so.6:pthread_create");
    assert_eq!(s[0].name, s[0].probe);
    let libc = elf::resolve_target("libc.so.6", None).expect("libc.so.6");
    assert!(defines(&libc[0], "pthread_create"));
}

#[test]
#[ignore = "needs root"]
fn did_you_mean_kernel_probes() {
    require_tracing();
    let s = listing::did_you_mean("tracepoint:syscalls:sys_enter_opnat", None);
    assert_eq!(s[0].name, "sys_enter_openat");
    assert_eq!(s[0].probe, "tracepoint:syscalls:sys_enter_openat");
    let s = listing::did_you_mean("kprobe:tcp_conect", None);
    assert_eq!(s[0].name, "tcp_connect");
    assert!(listing::did_you_mean("kprobe:zzzzzzzzzzzzzzzzzzzz", None).is_empty());
}

#[test]
fn listing_errors_have_words() {
    let e = list_str(Some("watchpoint:*"), false, None).expect_err("not listable");
    assert!(matches!(e, ListError::NotListable(_)));
    assert!(e.to_string().contains("cannot be listed"));
    // Every spelling the language accepts is a provider here too (`aw` is asyncwatchpoint).
    let e = list_str(Some("aw:*"), false, None).expect_err("not listable");
    assert!(matches!(e, ListError::NotListable(_)));
    let e = list_str(Some("nosuchprovider:*"), false, None).expect_err("unknown");
    assert_eq!(e.to_string(), "unknown probe type 'nosuchprovider'");
    let e = list_str(Some("tracepoint"), false, None).expect_err("a bare provider");
    assert_eq!(
        e.to_string(),
        "'tracepoint' is a probe type, not a probe: list its probes with -l 'tracepoint:*'"
    );
    for pattern in ["begin", "end:*"] {
        let e = list_str(Some(pattern), false, None).expect_err("nothing to list");
        assert!(e
            .to_string()
            .ends_with("probes have no names, so they cannot be listed"));
    }
    let e = list_str(Some("tracepoint:a:b:c"), false, None).expect_err("arity");
    assert_eq!(e.to_string(), "tracepoint probe type requires 2 arguments");
}

#[test]
fn software_and_hardware_listing() {
    let out = list_str(Some("software:cpu*"), false, None).expect("list");
    assert_eq!(
        out,
        "software:cpu-clock:\nsoftware:cpu-migrations:\nsoftware:cpu:\n"
    );
    let out = list_str(Some("h:cache-*"), false, None).expect("list");
    assert_eq!(out, "hardware:cache-misses:\nhardware:cache-references:\n");
    let out = list_str(Some("iter:*"), false, None).expect("list");
    assert_eq!(out, "iter:task\niter:task_file\niter:task_vma\n");
}

#[test]
fn interval_and_profile_list_their_units() {
    let out = list_str(Some("interval:*"), false, None).expect("list");
    assert_eq!(
        out,
        "interval:hz:\ninterval:ms:\ninterval:s:\ninterval:us:\n"
    );
    let out = list_str(Some("profile:s*"), false, None).expect("list");
    assert_eq!(out, "profile:s:\n");
}

/// A pattern of several fields matches a fixed table's line whole after the provider: the
/// field after a unit or perf event is its (unlisted) number, and `self`'s names have two
/// fields.
#[test]
fn fixed_tables_match_every_field() {
    let list = |p| list_str(Some(p), false, None).expect("list");
    assert_eq!(list("self:signal:*"), "self:signal:SIGUSR1\n");
    assert_eq!(list("self:*"), "self:signal:SIGUSR1\n");
    assert_eq!(list("self:signal:SIGUSR2"), "");
    assert_eq!(list("software:cpu-clock:*"), "software:cpu-clock:\n");
    assert_eq!(list("software:cpu-clock:100"), "");
    assert_eq!(list("interval:*:5"), "");
    assert_eq!(list("interval:s:"), "interval:s:\n");
    assert_eq!(list("iter:task:x"), "");
    let out = list("*:*:sched_switch");
    assert!(
        !out.contains("software:") && !out.contains("hardware:") && !out.contains("iter:"),
        "{out}"
    );
}

#[test]
fn program_probes_are_listed_as_bpftrace_lists_them() {
    let line = |n: &str| listing::program_line(n);
    assert_eq!(line("begin"), None);
    assert_eq!(line("end"), None);
    assert_eq!(line("interval:ms:100").as_deref(), Some("interval:ms:"));
    assert_eq!(line("software:cpu").as_deref(), Some("software:cpu:"));
    assert_eq!(
        line("hardware:cache-misses:10").as_deref(),
        Some("hardware:cache-misses:")
    );
    assert_eq!(
        line("tracepoint:syscalls:sys_enter_openat").as_deref(),
        Some("tracepoint:syscalls:sys_enter_openat")
    );
    // A probe at an offset into a function is listed as the function.
    assert_eq!(
        line("uprobe:/bin/x:f+4").as_deref(),
        Some("uprobe:/bin/x:f")
    );
    assert_eq!(
        line("kprobe:vfs_read+16").as_deref(),
        Some("kprobe:vfs_read")
    );
}

#!/bin/sh
# bench/uprobes.sh RBT: thousands of uprobes. Runs
#   config = { max_probes = 20000 } uprobe:LIBC:* { @ = count(); } interval:s:1 { exit(); }
# with rbt on the host's libc (every process maps it; with libc6-dbg's symbols: 7000+
# functions), and with rbt, bpftrace 0.17 (/usr/bin/bpftrace) and 0.27.1
# (../shared/oracle/bpftrace, or $RBT_ORACLE) on the Debian sid libc of the oracle's chroot,
# the one file all three see the same way (.dynsym only, 2725 functions; the oracle runs
# inside that chroot, where it is /lib/x86_64-linux-gnu/libc.so.6). For each: the wall time
# from exec until every probe is attached (the __BPFTRACE_NOTIFY_PROBES_ATTACHED line), from
# exec to exit, and the peak RSS (GNU time).
# One run each (bpftrace 0.17 attaches one uprobe at a time). Root only. Prints Markdown.
set -eu
rbt=$1
here=$(cd "$(dirname "$0")" && pwd)
oracle=${RBT_ORACLE:-$here/../../shared/oracle/bpftrace}
sid=${RBT_ORACLE_DIR:-/var/cache/rbt-oracle}/sid/usr/lib/x86_64-linux-gnu/libc.so.6
host=/lib/x86_64-linux-gnu/libc.so.6
body() {
    echo "uprobe:$1:* { @ = count(); } interval:s:1 { exit(); }"
}
# bpftrace 0.17 has no config block: it reads BPFTRACE_MAX_PROBES from the environment.
script() {
    echo "config = { max_probes = 20000 } $(body "$1")"
}
echo "| tool, libc | attached | until attached | start to exit | peak RSS (KiB) |"
echo "|---|---|---|---|---|"
measure() {
    python3 - "$@" <<'PY'
import os, re, subprocess, sys, tempfile, time
name, argv = sys.argv[1], sys.argv[2:]
with tempfile.NamedTemporaryFile() as out:
    start = time.monotonic()
    p = subprocess.Popen(["/usr/bin/time", "-o", out.name, "-f", "%M"] + argv,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=dict(os.environ, BPFTRACE_MAX_PROBES="20000",
                                  __BPFTRACE_NOTIFY_PROBES_ATTACHED="1"))
    attached, count = None, "-"
    for line in p.stdout:
        line = line.decode(errors="replace")
        # 0.17 says "Attaching N probes..." before it attaches; all three print the notify
        # line once every probe is attached.
        m = re.match(r"Attach(?:ed|ing) (\d+) probes", line)
        if m:
            count = m.group(1)
        if line.strip() == "__BPFTRACE_NOTIFY_PROBES_ATTACHED":
            attached = time.monotonic() - start
        if line.startswith("ERROR") or "error:" in line:
            print(line.strip()[:200], file=sys.stderr)
    p.wait()
    total = time.monotonic() - start
    peak = open(out.name).read().split()[-1]
at = f"{attached:.2f} s" if attached is not None else "failed"
print(f"| {name} | {count} | {at} | {total:.2f} s | {peak} |")
PY
}
measure "rbt, host libc" "$rbt" -e "$(script $host)"
measure "rbt, sid libc" "$rbt" -e "$(script "$sid")"
measure "bpftrace 0.27.1, sid libc" "$oracle" -e "$(script /lib/x86_64-linux-gnu/libc.so.6)"
measure "bpftrace 0.17, sid libc" /usr/bin/bpftrace -e "$(body "$sid")"

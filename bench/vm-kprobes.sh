#!/bin/sh
# bench/vm-kprobes.sh RBT: kprobe wildcards, which only the VM tier's kernel has (Debian's
# 6.1 under qemu TCG, tests/vm): how long rbt (without its compile cache and from it) and
# Debian's bpftrace 0.17 (the host's, which the guest sees) take from start to exit for
# `kprobe:PATTERN { @[func] = count(); }` with `-c /bin/true`, for a few patterns of growing
# size, and how many probes each attached. The 0.27.1 oracle lives in a chroot of the host
# that the guest cannot set up, so it is not in this table. One VM boot, root only, after
# `sh tests/vm/setup.sh`; figures are emulated-CPU times (TCG), to be compared within the
# table. Prints Markdown; the recorded figures live in bench/RESULTS.md.
set -eu
rbt=$(realpath "${1:-./target/release/rbt}")
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d /var/tmp/rbt-vm-bench-XXXXXX)
trap 'rm -rf "$out"' EXIT
cat > "$out/in-guest.py" <<'PY'
import statistics, subprocess, sys, time
rbt, runs = sys.argv[1], int(sys.argv[2])
env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "XDG_CACHE_HOME": "/tmp/rbt-cache",
       "BPFTRACE_MAX_PROBES": "100000"}
tools = [("rbt cold (--no-cache)", [rbt, "--no-cache"]), ("rbt cached", [rbt]),
         ("bpftrace 0.17", ["/usr/bin/bpftrace"])]
patterns = ["vfs_read*", "vfs_*", "tcp_*"]
print("| pattern | tool | attached | start to exit (median of %d) |" % runs)
print("|---|---|---|---|")
for pat in patterns:
    prog = "config = { max_probes = 100000 } kprobe:%s { @[func] = count(); }" % pat
    for name, tool in tools:
        # bpftrace 0.17 has no config block (BPFTRACE_MAX_PROBES sets its limit).
        script = prog.split("} ", 1)[1] if name.startswith("bpftrace") else prog
        cmd = tool + ["-e", script, "-c", "/bin/true"]
        # One untimed run first: it fills rbt's cache.
        subprocess.run(cmd, env=env, capture_output=True, timeout=600)
        times, attached = [], "?"
        for _ in range(runs):
            start = time.monotonic()
            p = subprocess.run(cmd, env=env, capture_output=True, timeout=600)
            times.append(time.monotonic() - start)
            text = (p.stdout + p.stderr).decode(errors="replace")
            attached = next((l for l in text.splitlines() if l.startswith("Attach")),
                            "failed: " + text.strip().splitlines()[-1] if text.strip() else "failed")
        print("| `%s` | %s | %s | %.0f ms |" % (pat, name, attached, statistics.median(times) * 1000),
              flush=True)
PY
python3 "$here/../tests/vm/run.py" --timeout 1800 --dir "$out" -- \
    python3 "$out/in-guest.py" "$rbt" "${RUNS:-3}"

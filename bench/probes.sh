#!/bin/sh
# bench/probes.sh [RBT] [RUNS]: the cost of many probes, for rbt, Debian's bpftrace 0.17
# and the bpftrace 0.27.1 oracle in the same run (root only; prints a Markdown table; the
# recorded figures live in bench/RESULTS.md, "many probes"):
#   - every sys_enter syscall tracepoint (`@[probe] = count()`), from start to exit, when
#     the run ends as soon as everything is attached (`-c /bin/true`);
#   - opensnoop (4 syscall tracepoints) the same way;
#   - opensnoop from SIGINT to exit, once its header line (printed after attaching) is out.
# Each figure is the median of RUNS runs (default 5; the 360-probe runs of bpftrace take
# half a minute each, so they run RUNS/2+1 times).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
rbt=${1:-$here/../target/release/rbt}
runs=${2:-5}
oracle=${RBT_ORACLE:-$here/../../shared/oracle/bpftrace}
python3 - "$rbt" /usr/bin/bpftrace "$oracle" "$runs" "$here/../scripts/opensnoop.bt" <<'PY'
import os, signal, statistics, subprocess, sys, time

rbt, debian, oracle, runs, opensnoop = sys.argv[1:6]
runs = int(runs)
tools = [("rbt", rbt), ("bpftrace 0.17", debian), ("bpftrace 0.27.1", oracle)]
many = "tracepoint:syscalls:sys_enter_* { @[probe] = count(); }"


def start_to_exit(cmd, n):
    """Median wall time of `cmd` from exec to exit, and the "Attached" line it printed."""
    times, attached = [], ""
    for _ in range(n):
        start = time.monotonic()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        times.append(time.monotonic() - start)
        out = (p.stdout + p.stderr).decode(errors="replace")
        attached = next((l for l in out.splitlines() if l.startswith("Attached")), "?")
    return statistics.median(times), attached


def sigint_to_exit(cmd, n):
    """Median time from SIGINT (sent once the header line is out) to the process's exit."""
    times = []
    for _ in range(n):
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for line in p.stdout:
            if line.startswith(b"PID"):
                break
        time.sleep(0.2)
        start = time.monotonic()
        p.send_signal(signal.SIGINT)
        os.waitpid(p.pid, 0)
        times.append(time.monotonic() - start)
        p.stdout.close()
    return statistics.median(times)


print("| tool | 360 syscall tracepoints, start to exit | opensnoop, start to exit | opensnoop, SIGINT to exit |")
print("|---|---|---|---|")
for name, tool in tools:
    n_many = runs if name == "rbt" else runs // 2 + 1
    t_many, attached = start_to_exit([tool, "-e", many, "-c", "/bin/true"], n_many)
    t_open, _ = start_to_exit([tool, opensnoop, "-c", "/bin/true"], runs)
    t_int = sigint_to_exit([tool, opensnoop], runs)
    print(f"| {name} | {t_many * 1000:.0f} ms ({attached}) | {t_open * 1000:.0f} ms | {t_int * 1000:.0f} ms |")
PY

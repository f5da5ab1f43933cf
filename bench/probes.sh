#!/bin/sh
# bench/probes.sh [RBT] [RUNS]: the cost of many probes, for rbt, Debian's bpftrace 0.17
# and the bpftrace 0.27.1 oracle in the same run (root only; prints a Markdown table; the
# recorded figures live in bench/RESULTS.md, "many probes"):
#   - every sys_enter syscall tracepoint (`@[probe] = count()`), from start to exit, when
#     the run ends as soon as everything is attached (`-c /bin/true`);
#   - opensnoop (Debian's /usr/sbin/opensnoop.bt, which all three run: 4 syscall
#     tracepoints) the same way;
#   - opensnoop from SIGINT to exit, once its header line (printed after attaching) is out;
#   - what a syscall tracepoint adds to each traced call (getppid() with
#     `sys_enter_getppid` traced) and to each untraced one (getppid() with only
#     `sys_enter_getpid` traced: rbt's dispatcher sees every syscall), in ns per call over
#     the untraced loop (bench/loop.c, N calls, default 2,000,000).
# rbt runs twice, without its compile cache and from it. Each figure is the median of RUNS
# runs (default 5; the 360-probe runs of bpftrace take
# half a minute each, so they run RUNS/2+1 times).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
rbt=${1:-$here/../target/release/rbt}
runs=${2:-5}
oracle=${RBT_ORACLE:-$here/../../shared/oracle/bpftrace}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -o "$work/loop" "$here/loop.c"
python3 - "$rbt" /usr/bin/bpftrace "$oracle" "$runs" /usr/sbin/opensnoop.bt "$work/loop" "${N:-2000000}" <<'PY'
import os, signal, statistics, subprocess, sys, time

rbt, debian, oracle, runs, opensnoop, loop, n = sys.argv[1:8]
runs = int(runs)
# rbt twice: compiling every time (`--no-cache`), and as a user's second and later runs
# are, from its compile cache (after one run that fills it).
tools = [("rbt cold (--no-cache)", [rbt, "--no-cache"]), ("rbt cached", [rbt]),
         ("bpftrace 0.17", [debian]), ("bpftrace 0.27.1", [oracle])]
many = "tracepoint:syscalls:sys_enter_* { @[probe] = count(); }"


def start_to_exit(cmd, n):
    """Median wall time of `cmd` from exec to exit, and the "Attached" line it printed,
    after one untimed run (which fills rbt's cache)."""
    times, attached = [], ""
    subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    for _ in range(n):
        start = time.monotonic()
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=300)
        times.append(time.monotonic() - start)
        out = (p.stdout + p.stderr).decode(errors="replace")
        attached = next((l for l in out.splitlines() if l.startswith("Attach")), "?")
    return statistics.median(times), attached


def sigint_to_exit(cmd, n):
    """Median time from SIGINT (sent once the header line is out) to the process's exit."""
    times = []
    for _ in range(n):
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
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
    n_many = runs if name.startswith("rbt") else runs // 2 + 1
    t_many, attached = start_to_exit(tool + ["-e", many, "-c", "/bin/true"], n_many)
    t_open, _ = start_to_exit(tool + [opensnoop, "-c", "/bin/true"], runs)
    t_int = sigint_to_exit(tool + [opensnoop], runs)
    print(f"| {name} | {t_many * 1000:.0f} ms ({attached}) | {t_open * 1000:.0f} ms | {t_int * 1000:.0f} ms |")


def loop_ns():
    return float(subprocess.run([loop, n], capture_output=True, text=True).stdout)


def traced_ns(cmd):
    """ns per getppid() while `cmd` traces, once it has attached."""
    # A file, not a pipe: bpftrace 0.17 buffers its "Attached" line when writing to a pipe.
    out = os.path.join(os.path.dirname(loop), "out")
    with open(out, "wb") as f:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        for _ in range(600):
            with open(out, "rb") as r:
                if b"Attach" in r.read():
                    break
            time.sleep(0.05)
        time.sleep(0.3)
        ns = loop_ns()
        p.send_signal(signal.SIGINT)
        p.wait()
    return ns


probe = "tracepoint:syscalls:sys_enter_%s { @[comm] = count(); }"
print()
print(f"ns added to each getppid() (medians of {runs} rounds, untraced loop re-measured each round):")
print()
print("| tool | getppid traced | getppid untraced, getpid traced |")
print("|---|---|---|")
added = {(name, what): [] for name, _ in tools for what in ("getppid", "getpid")}
for _ in range(runs):
    for name, tool in tools:
        for what in ("getppid", "getpid"):
            base = loop_ns()
            added[(name, what)].append(traced_ns(tool + ["-e", probe % what]) - base)
for name, _ in tools:
    t, u = (statistics.median(added[(name, w)]) for w in ("getppid", "getpid"))
    print(f"| {name} | {t:.0f} | {u:.0f} |")
PY

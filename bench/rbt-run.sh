#!/bin/sh
# bench/rbt-run.sh RBT RBT_RUN [RBT_RUN...]: the size of each rbt-run binary (stripped, as a
# copy) and its start-up on opensnoop compiled by RBT with --aot, next to bpftrace 0.17
# (/usr/bin/bpftrace) and 0.27.1 (../shared/oracle/bpftrace, or $RBT_ORACLE) running
# /usr/sbin/opensnoop.bt in the same run. Start-up is the wall time from exec until the
# header line BEGIN prints once every probe is attached, and the peak RSS (GNU time) of the
# whole run, stopped right then with SIGINT (END and the maps at exit included); medians of
# 10 runs. Root only. Prints Markdown tables.
set -eu
rbt=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
oracle=${RBT_ORACLE:-$here/../../shared/oracle/bpftrace}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$rbt" --aot "$tmp/opensnoop.rbt" "$here/../scripts/opensnoop.bt"

echo "| binary | size | stripped |"
echo "|---|---|---|"
for run in "$@"; do
    cp "$run" "$tmp/stripped"
    strip "$tmp/stripped"
    echo "| $run | $(stat -c %s "$run") | $(stat -c %s "$tmp/stripped") |"
done

echo
echo "| opensnoop until attached | median wall time | median peak RSS (KiB) |"
echo "|---|---|---|"
measure() {
    python3 - "$@" <<'PY'
import os, signal, statistics, subprocess, sys, tempfile, time
name, argv = sys.argv[1], sys.argv[2:]
times, peaks = [], []
for _ in range(10):
    with tempfile.NamedTemporaryFile() as out:
        # GNU time execs the tool from its own small process: the rusage of a child python
        # spawns itself counts python's memory from before the exec (about 14 MiB).
        start = time.monotonic()
        p = subprocess.Popen(["/usr/bin/time", "-o", out.name, "-f", "%M"] + argv,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        for line in p.stdout:
            if line.startswith(b"PID"):
                break
        times.append(time.monotonic() - start)
        # GNU time ignores SIGINT while it waits, so the signal to the group stops the tool.
        os.killpg(p.pid, signal.SIGINT)
        p.stdout.read()
        p.wait()
        peaks.append(int(open(out.name).read().split()[-1]))
print(f"| {name} | {statistics.median(times) * 1000:.1f} ms | {int(statistics.median(peaks))} |")
PY
}
for run in "$@"; do
    measure "$run" "$run" "$tmp/opensnoop.rbt"
done
measure "bpftrace 0.17" /usr/bin/bpftrace /usr/sbin/opensnoop.bt
measure "bpftrace 0.27.1" "$oracle" /usr/sbin/opensnoop.bt

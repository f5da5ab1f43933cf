#!/bin/sh
# bench/startup.sh RBT: start-up wall time and peak memory of `BEGIN { exit(); }` for rbt and
# Debian's bpftrace in the same run (hyperfine for time, GNU time's max RSS for memory).
# Root only. Prints a Markdown table; the recorded figures live in bench/RESULTS.md.
set -eu
rbt=${1:-./target/release/rbt}
here=$(cd "$(dirname "$0")" && pwd)
prog='BEGIN { exit(); }'
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
peak() { /usr/bin/time -f %M "$@" >/dev/null 2>/tmp/rbt-bench-time; tail -n1 /tmp/rbt-bench-time; }
echo "| tool | mean wall time | peak RSS (KiB) |"
echo "|---|---|---|"
for tool in "$rbt" bpftrace; do
    mean=$(hyperfine -N -w 3 -r 20 --export-json /tmp/rbt-bench.json "$tool -e '$prog'" >/dev/null 2>&1 &&
        python3 -c "import json;print('%.1f ms' % (json.load(open('/tmp/rbt-bench.json'))['results'][0]['mean']*1000))")
    echo "| $(basename "$tool") | $mean | $(peak "$tool" -e "$prog") |"
done

# opensnoop until attached: wall time from exec until BEGIN's header line appears (BEGIN runs
# once every probe is attached), and the peak RSS of the process stopped right then (SIGINT).
# Median of 10 runs each.
echo
echo "| opensnoop until attached | median wall time | median peak RSS (KiB) |"
echo "|---|---|---|"
for tool in "$rbt" bpftrace; do
    script=$here/../scripts/opensnoop.bt
    [ "$tool" = bpftrace ] && script=/usr/sbin/opensnoop.bt
    python3 - "$tool" "$script" <<'PY'
import os, signal, statistics, subprocess, sys, time
tool, script = sys.argv[1], sys.argv[2]
times, peaks = [], []
for _ in range(10):
    start = time.monotonic()
    p = subprocess.Popen([tool, script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for line in p.stdout:
        if line.startswith(b"PID"):
            break
    times.append(time.monotonic() - start)
    p.send_signal(signal.SIGINT)
    p.stdout.read()
    _, _, usage = os.wait4(p.pid, 0)
    peaks.append(usage.ru_maxrss)
name = os.path.basename(tool)
print(f"| {name} | {statistics.median(times) * 1000:.1f} ms | {int(statistics.median(peaks))} |")
PY
done

# Probe listing: everything, and every kprobe (bpftrace 0.17 lists no kprobes where
# available_filter_functions is unreadable, as on the development machines; rbt reads kallsyms).
echo
echo "| listing | tool | mean wall time | lines |"
echo "|---|---|---|---|"
for pattern in "" "kprobe:*"; do
    for tool in "$rbt" bpftrace; do
        hyperfine -N -w 1 -r 5 --export-json /tmp/rbt-bench.json "$tool -l $pattern" >/dev/null 2>&1 || true
        mean=$(python3 -c "import json;print('%.0f ms' % (json.load(open('/tmp/rbt-bench.json'))['results'][0]['mean']*1000))")
        lines=$($tool -l $pattern 2>/dev/null | wc -l)
        echo "| \`-l $pattern\` | $(basename "$tool") | $mean | $lines |"
    done
done

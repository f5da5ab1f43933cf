#!/bin/sh
# bench/startup.sh RBT: start-up wall time and peak memory of `BEGIN { exit(); }` for rbt and
# Debian's bpftrace in the same run (hyperfine for time, GNU time's max RSS for memory).
# Root only. Prints a Markdown table; the recorded figures live in bench/RESULTS.md.
set -eu
rbt=${1:-./target/release/rbt}
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

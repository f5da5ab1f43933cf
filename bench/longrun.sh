#!/bin/sh
# bench/longrun.sh RBT [SECONDS]: a long run at a high event rate with a map of many keys,
# for rbt, bpftrace 0.17 (/usr/bin/bpftrace) and 0.27.1 ($ORACLE) attached at the same time
# to the same events (one getppid() loop flat out), so every tool sees the same load. Each
# tool's RSS is sampled every 10 s; at the end each is stopped with SIGINT and the time to
# exit (which prints the 100,000-key map) and the lines printed are recorded. Root only;
# CI does not run it (ten minutes by default). Prints Markdown.
set -eu
rbt=${1:-./target/release/rbt}
secs=${2:-600}
oracle=${ORACLE:-$(dirname "$0")/../../shared/oracle/bpftrace}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
gcc -O2 -o "$work/loop" "$here/loop.c"

# 100,000 keys (one thread, rand % 100000) counted on every call, and a smaller map printed
# and cleared every 10 s, as a dashboard script does.
prog='tracepoint:syscalls:sys_enter_getppid { @[tid, rand % 100000] = count(); @s[rand % 1000] = count(); }
interval:s:10 { print(@s); clear(@s); }'
# The map size: 0.17 reads only the environment, 0.27 only the config block.
export BPFTRACE_MAP_KEYS_MAX=200000
config='config = { max_map_keys = 200000 }'

pids=""
for tool in rbt:"$rbt" b017:/usr/bin/bpftrace b027:"$oracle"; do
    name=${tool%%:*}; bin=${tool#*:}
    case $name in
        b017) text=$prog ;;
        *) text="$config $prog" ;;
    esac
    "$bin" -e "$text" > "$work/$name.out" 2> "$work/$name.err" & echo $! > "$work/$name.pid"
    pids="$pids $name"
done
# Attached: 0.17 says so on stdout, rbt and 0.27 on stderr.
for name in $pids; do
    for _ in $(seq 1 600); do
        grep -q Attach "$work/$name.out" "$work/$name.err" 2>/dev/null && break
        sleep 0.1
    done
done

"$work/loop" 100000000000 > /dev/null & loop=$!
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
echo "| t (s) | rbt RSS (KiB) | bpftrace 0.17 RSS (KiB) | bpftrace 0.27.1 RSS (KiB) |"
echo "|---|---|---|---|"
t=0
while [ "$t" -le "$secs" ]; do
    echo "| $t | $(rss "$(cat "$work/rbt.pid")") | $(rss "$(cat "$work/b017.pid")") | $(rss "$(cat "$work/b027.pid")") |"
    [ "$t" -eq "$secs" ] && break
    sleep 10
    t=$((t + 10))
done
kill "$loop"
wait "$loop" 2>/dev/null || true
echo
echo "| tool | SIGINT to exit (s) | keys of @ printed | events counted in @ | events/s | @s lines | Lost reports |"
echo "|---|---|---|---|---|---|---|"
for name in $pids; do
    pid=$(cat "$work/$name.pid")
    start=$(date +%s.%N)
    kill -INT "$pid"
    wait "$pid" 2>/dev/null || true
    end=$(date +%s.%N)
    keys=$(grep -c '^@\[' "$work/$name.out" || true)
    events=$(awk -F': ' '/^@\[/ {s += $2} END {printf "%d", s}' "$work/$name.out")
    prints=$(grep -c '^@s\[' "$work/$name.out" || true)
    lost=$(grep -c 'Lost' "$work/$name.err" "$work/$name.out" | awk -F: '{s += $2} END {print s}')
    echo "| $name | $(echo "$end - $start" | bc) | $keys | $events | $((events / secs)) | $prints | $lost |"
done
rm -rf "$work"

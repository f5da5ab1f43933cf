#!/bin/sh
# bench/events.sh RBT: per-event cost of map updates on a syscall tracepoint and printf
# throughput, for rbt, Debian's bpftrace and (for count()) a hand-written libbpf C program,
# all in the same run. Root only. Prints Markdown.
# Per-event cost = (ns per getppid() while traced) - (ns per getppid() untraced). The machine
# is noisy, so each figure is the median of ROUNDS rounds that alternate the tools.
set -eu
rbt=${1:-./target/release/rbt}
here=$(cd "$(dirname "$0")" && pwd)
n=${N:-2000000}
rounds=${ROUNDS:-5}
work=$(mktemp -d)
loop=$work/loop
gcc -O2 -o "$loop" "$here/loop.c"

# The hand-written baseline: clang for the BPF side, libbpf for the loader.
for p in clang-19 libbpf-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || apt-get install -y -qq "$p" >/dev/null
done
clang-19 -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu \
    -c "$here/baseline/count.bpf.c" -o "$work/count.bpf.o"
gcc -O2 -o "$work/count" "$here/baseline/count.c" -lbpf
baseline="$work/count $work/count.bpf.o"

# Starts CMD (a shell command line), waits until it prints "Attach", runs the loop, stops
# CMD with SIGINT; prints the loop's ns per call.
traced() {
    out=$work/out
    sh -c "exec $1" > "$out" 2>"$work/err" & pid=$!
    for _ in $(seq 1 200); do grep -q Attach "$out" 2>/dev/null && break; sleep 0.05; done
    sleep 0.5
    r=$("$loop" "$n")
    kill -INT $pid; wait $pid 2>/dev/null || true
    echo "$r"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

count='tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); }'
sumhist='tracepoint:syscalls:sys_enter_getppid { @c[tid] = sum(1); @h = hist(tid); }'
for r in $(seq 1 "$rounds"); do
    base=$("$loop" "$n")
    echo "$base" >> "$work/base"
    for name in count sumhist; do
        eval prog=\$$name
        echo "$(traced "$rbt -e '$prog'") - $base" | bc >> "$work/rbt.$name"
        echo "$(traced "bpftrace -e '$prog'") - $base" | bc >> "$work/bpftrace.$name"
    done
    echo "$(traced "$baseline") - $base" | bc >> "$work/c.count"
done
echo "untraced getppid(): $(median < "$work/base") ns/call (N=$n, median of $rounds rounds)"
echo
echo "| script | rbt ns/event | bpftrace ns/event | libbpf C ns/event |"
echo "|---|---|---|---|"
echo "| \`$count\` | $(median < "$work/rbt.count") | $(median < "$work/bpftrace.count") | $(median < "$work/c.count") |"
echo "| \`$sumhist\` | $(median < "$work/rbt.sumhist") | $(median < "$work/bpftrace.sumhist") | |"

# Voluntary context switches of all of PID's threads: each is a thread going to sleep, so
# for a tool reading events it counts the reader's wake-ups.
switches() {
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/^voluntary_ctxt_switches/ { s += $2 } END { print s + 0 }'
}

# printf: events written per second while the loop runs, what was lost, and how often the
# reader was woken (from the start of the loop until 1 s after its end). Flat out (N calls),
# and paced at most 10,000 a second (N/100 calls, 100 us apart), where a reader that keeps up
# would be woken for every event if records asked for it.
pf='tracepoint:syscalls:sys_enter_getppid { printf("%d %d\n", pid, tid); }'
echo
printf 'printf: `%s`\n\n' "$pf"
echo "| load | tool | events/s | lost | reader wake-ups | wake-ups per 1000 events |"
echo "|---|---|---|---|---|---|"
for load in "flat out:$n:0" "paced:$((n / 100)):100"; do
    name=${load%%:*}; calls=$(echo "$load" | cut -d: -f2); pause=${load##*:}
    for tool in "$rbt" bpftrace; do
        $tool -e "$pf" > "$work/pf" 2>"$work/pferr" & pid=$!
        for _ in $(seq 1 200); do grep -q Attach "$work/pf" 2>/dev/null && break; sleep 0.05; done
        sleep 0.5
        w0=$(switches $pid)
        start=$(date +%s.%N); "$loop" "$calls" "$pause" >/dev/null; end=$(date +%s.%N)
        sleep 1; w1=$(switches $pid)
        kill -INT $pid; wait $pid 2>/dev/null || true
        got=$(grep -c '^[0-9]' "$work/pf" || true)
        lost=$(grep -o 'Lost [0-9]*' "$work/pferr" "$work/pf" | grep -o '[0-9]*$' | head -1)
        wakes=$((w1 - w0))
        echo "| $name | $(basename "$tool") | $(echo "$got / ($end - $start)" | bc) | ${lost:-0} | $wakes | $(echo "scale=2; 1000 * $wakes / ($got + 1)" | bc) |"
    done
done
rm -rf "$work"

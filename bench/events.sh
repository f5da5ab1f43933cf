#!/bin/sh
# bench/events.sh RBT: per-event cost of map updates on a syscall tracepoint and printf
# throughput, for rbt and Debian's bpftrace in the same run. Root only. Prints Markdown.
# Per-event cost = (ns per getppid() while traced) - (ns per getppid() untraced).
set -eu
rbt=${1:-./target/release/rbt}
here=$(cd "$(dirname "$0")" && pwd)
n=${N:-2000000}
loop=/tmp/rbt-bench-loop
gcc -O2 -o $loop "$here/loop.c"

# Runs the loop while TOOL traces with PROG; prints the loop's ns per call.
traced() {
    tool=$1; prog=$2; out=/tmp/rbt-bench-out
    $tool -e "$prog" > $out 2>/tmp/rbt-bench-err & pid=$!
    # Wait until the tool says it attached (first line of output).
    for _ in $(seq 1 200); do grep -q Attach $out 2>/dev/null && break; sleep 0.05; done
    sleep 0.5
    r=$($loop $n)
    kill -INT $pid; wait $pid 2>/dev/null || true
    echo "$r"
}

base=$($loop $n)
count='tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); }'
sumhist='tracepoint:syscalls:sys_enter_getppid { @c[tid] = sum(1); @h = hist(tid); }'
echo "untraced getppid(): $base ns/call (N=$n)"
echo
echo "| script | rbt ns/event | bpftrace ns/event |"
echo "|---|---|---|"
for name in count sumhist; do
    eval prog=\$$name
    r=$(traced "$rbt" "$prog"); b=$(traced bpftrace "$prog")
    printf '| `%s` | %s | %s |\n' "$prog" "$(echo "$r - $base" | bc)" "$(echo "$b - $base" | bc)"
done

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
        $tool -e "$pf" > /tmp/rbt-bench-pf 2>/tmp/rbt-bench-pferr & pid=$!
        for _ in $(seq 1 200); do grep -q Attach /tmp/rbt-bench-pf 2>/dev/null && break; sleep 0.05; done
        sleep 0.5
        w0=$(switches $pid)
        start=$(date +%s.%N); $loop "$calls" "$pause" >/dev/null; end=$(date +%s.%N)
        sleep 1; w1=$(switches $pid)
        kill -INT $pid; wait $pid 2>/dev/null || true
        got=$(grep -c '^[0-9]' /tmp/rbt-bench-pf || true)
        lost=$(grep -o 'Lost [0-9]*' /tmp/rbt-bench-pferr /tmp/rbt-bench-pf | grep -o '[0-9]*$' | head -1)
        wakes=$((w1 - w0))
        echo "| $name | $(basename "$tool") | $(echo "$got / ($end - $start)" | bc) | ${lost:-0} | $wakes | $(echo "scale=2; 1000 * $wakes / ($got + 1)" | bc) |"
    done
done
